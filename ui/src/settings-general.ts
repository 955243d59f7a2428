// The settings page's General section: reminders, start at login, the global shortcut
// "join the next meeting" (and whether this desktop lets it be registered), privacy mode (what
// the tray and reminders hide) and the UI language.
import type { JoinShortcutStatus } from './bindings/JoinShortcutStatus';
import { h } from './dom';
import type { Kit } from './settings-form';
import type { ConfigJson } from './types';

/** What the page says about the shortcut as registered: why it could not be, or that a
 *  Wayland desktop may not pass it on. Nothing when it works or none is set. */
function shortcutNote(kit: Kit, st: JoinShortcutStatus | undefined): HTMLElement | null {
  const { s } = kit;
  if (!st) return null;
  const text = st.error ? s.shortcutFailed(st.error) : st.registered && st.wayland ? s.shortcutWayland : null;
  return text ? h('p', { class: 'field-hint', role: 'status', 'data-testid': 'shortcut-status' }, text) : null;
}

export function generalSection(kit: Kit, d: ConfigJson, shortcut?: JoinShortcutStatus): HTMLElement {
  const { s, section, checkField, selectField, textField } = kit;
  return section(
    'general',
    s.general,
    checkField({ key: 'reminders.enabled', label: s.reminders, testid: 'reminders-enabled' }, () => d.reminders.enabled, (on) => (d.reminders.enabled = on)),
    checkField({ key: 'app.start_at_login', label: s.startAtLogin, testid: 'start-at-login' }, () => d.app.start_at_login, (on) => (d.app.start_at_login = on)),
    textField(
      { key: 'app.join_shortcut', label: s.joinShortcut, hint: s.joinShortcutHint, testid: 'join-shortcut', class: 'field-narrow' },
      () => d.app.join_shortcut,
      (v) => (d.app.join_shortcut = v),
    ),
    shortcutNote(kit, shortcut),
    checkField(
      { key: 'app.privacy', label: s.privacyMode, hint: s.privacyModeHint, testid: 'privacy-mode' },
      () => d.app.privacy === 'all',
      (on) => (d.app.privacy = on ? 'all' : 'private_only'),
    ),
    selectField(
      { key: 'app.language', label: s.language, testid: 'language', class: 'field-narrow' },
      (['system', 'en', 'de'] as const).map((l) => ({ value: l, label: s.languages[l] ?? l })),
      () => d.app.language,
      (v) => (d.app.language = v === 'en' || v === 'de' ? v : 'system'),
    ),
  );
}
