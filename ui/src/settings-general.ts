// The settings page's General section: reminders, start at login and the UI language.
import type { Kit } from './settings-form';
import type { ConfigJson } from './types';

export function generalSection(kit: Kit, d: ConfigJson): HTMLElement {
  const { s, section, checkField, selectField } = kit;
  return section(
    'general',
    s.general,
    checkField({ key: 'reminders.enabled', label: s.reminders, testid: 'reminders-enabled' }, () => d.reminders.enabled, (on) => (d.reminders.enabled = on)),
    checkField({ key: 'app.start_at_login', label: s.startAtLogin, testid: 'start-at-login' }, () => d.app.start_at_login, (on) => (d.app.start_at_login = on)),
    selectField(
      { key: 'app.language', label: s.language, testid: 'language', class: 'field-narrow' },
      (['system', 'en', 'de'] as const).map((l) => ({ value: l, label: s.languages[l] ?? l })),
      () => d.app.language,
      (v) => (d.app.language = v === 'en' || v === 'de' ? v : 'system'),
    ),
  );
}
