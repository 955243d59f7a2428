// The settings page: account, calendars to sync, presence automation (profiles, rules and a
// live preview of today's plan), call forwarding, reminders, start at login and language.
//
// It edits a draft of the configuration and applies it with Save (Revert drops the draft):
// profiles, rules and the forwarding tables only make sense together, so the half-typed
// states in between are never written; every save is validated here first and then by the
// engine, and the presence preview shows the effect of the draft before it is saved.
//
// This module is the page itself (loading, rendering, the draft, saving); the sections,
// the form controls, validation and the configuration's shapes live in settings-*.ts.
import { toIpcError, type Api } from './api';
import { h, icon, type Child } from './dom';
import type { Lang } from './i18n';
import { createAccountSection } from './settings-account';
import { createAccountsSection } from './settings-accounts';
import { calendarsSection } from './settings-calendars';
import { clone, stable } from './settings-config';
import { withControls, type ChangeKind, type Registered } from './settings-form';
import { createForwardingSection } from './settings-forwarding';
import { generalSection } from './settings-general';
import { settingsStrings } from './settings-i18n';
import { rememberLanguage } from './settings-language';
import { createPresenceSection } from './settings-presence';
import { createPreview } from './settings-preview';
import { validate } from './settings-validate';
import type { ConfigJson, IpcError, SettingsView } from './types';

// ---- the page --------------------------------------------------------------------------

export interface SettingsDeps {
  api: Api;
  lang: Lang;
  locale: string;
  /** Leave the page (Back). */
  back(): void;
  /** A view arrived (loaded, or saved): the app applies what it uses itself (language, agenda days). */
  applied(view: SettingsView, saved: boolean): void;
}

/** What the page carries into a re-mounted app (after the language changed). */
export interface SettingsResume {
  view: SettingsView;
  draft: ConfigJson;
  saved: boolean;
  open: boolean;
  focus: string | null;
}

export interface SettingsPage {
  readonly el: HTMLElement;
  /** Shows the page (loading it the first time, refreshing it when nothing is edited) and focuses its title. */
  show(): void;
  hide(): void;
  /** Loads the settings in the background (at start: the language, the agenda length). */
  prefetch(): void;
  snapshot(saved: boolean, open: boolean): SettingsResume | null;
}

type Notice = { kind: 'saved' } | { kind: 'error'; message: string } | { kind: 'invalid' };

export function createSettings(deps: SettingsDeps, resume: SettingsResume | null = null): SettingsPage {
  const { api, locale } = deps;
  const s = settingsStrings(deps.lang);

  const el = h('main', {
    class: 'settings-host',
    id: 'settings-view',
    'data-testid': 'settings',
    'aria-labelledby': 'settings-title',
    hidden: true,
  });

  let view: SettingsView | null = resume?.view ?? null;
  let draft: ConfigJson | null = resume ? clone(resume.draft) : null;
  let loadError: IpcError | null = null;
  let loading: Promise<void> | null = null;
  let visible = false;
  let skipRefresh = !!resume;
  let notice: Notice | null = resume?.saved ? { kind: 'saved' } : null;
  let saving = false;
  let errors = new Map<string, string>();
  /** Parse errors of free-text lists (headers): the draft only holds the lines that parse. */
  const rawErrors = new Map<string, string>();
  let pendingFocus: string | null = resume?.focus ?? null;

  // Rebuilt with each full render.
  let fields = new Map<string, Registered>();

  // The save bar lives across renders so that its live regions announce.
  const dirtyEl = h('span', { class: 'settings-dirty', 'data-testid': 'settings-dirty', hidden: true }, h('span', { class: 'dirty-dot', 'aria-hidden': 'true' }), s.unsaved);
  const statusEl = h('p', { class: 'settings-saved', role: 'status', 'data-testid': 'settings-status' });
  const alertEl = h('p', { class: 'settings-save-error', role: 'alert', 'data-testid': 'settings-error' });
  const revertBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'settings-revert', 'data-focus': 'revert' }, s.revert);
  const saveBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'settings-save', 'data-focus': 'save' }, s.save);
  revertBtn.addEventListener('click', () => revert());
  saveBtn.addEventListener('click', () => void save());
  const footer = h(
    'div',
    { class: 'settings-footer', role: 'group', 'aria-label': s.save },
    h('div', { class: 'settings-footer-msgs' }, dirtyEl, statusEl, alertEl),
    h('div', { class: 'settings-footer-actions' }, revertBtn, saveBtn),
  );

  const ids = new WeakMap<object, number>();
  let objSeq = 0;
  const idOf = (o: object): number => {
    let i = ids.get(o);
    if (i === undefined) {
      i = ++objSeq;
      ids.set(o, i);
    }
    return i;
  };

  const isLocked = (key: string) => !!view && view.locked.some((l) => key === l || key.startsWith(`${l}.`));
  const isDirty = () => !!view && !!draft && stable(draft) !== stable(view.config);

  const kit = withControls({
    s,
    api,
    locale,
    el,
    rawErrors,
    draft: () => draft,
    errors: () => errors,
    control: (key) => fields.get(key)?.control,
    register: (key, field) => void fields.set(key, field),
    unregister(prefix) {
      for (const k of [...fields.keys()]) if (k.startsWith(prefix)) fields.delete(k);
    },
    isLocked,
    idOf,
    changed: (kind) => changed(kind),
    focusAfterRender(key, scroll = false) {
      pendingFocus = key;
      if (scroll) pendingScroll = true;
    },
  });
  const preview = createPreview(kit, () => visible);
  const accountSection = createAccountSection(kit, () => void load(true));
  const accountsSection = createAccountsSection(kit, () => void load(true));
  const presence = createPresenceSection(kit, preview);
  const forwarding = createForwardingSection(kit);

  // ---- loading ------------------------------------------------------------------------
  function load(quiet: boolean): Promise<void> {
    if (loading) return loading;
    if (!quiet) loadError = null;
    loading = api.settingsGet().then(
      (v) => {
        loading = null;
        const keep = !!draft && isDirty();
        view = v;
        if (!keep) draft = clone(v.config);
        loadError = null;
        rememberLanguage(v.config.app.language);
        if (visible) {
          render();
          preview.schedule(true);
        }
        deps.applied(v, false);
      },
      (e: unknown) => {
        loading = null;
        if (!view) {
          loadError = toIpcError(e);
          if (visible) render();
        }
      },
    );
    return loading;
  }

  // ---- rendering ----------------------------------------------------------------------
  function focusedKey(): string | null {
    const a = document.activeElement;
    return a instanceof HTMLElement && el.contains(a) ? (a.dataset['focus'] ?? null) : null;
  }

  function restoreFocus(key: string): boolean {
    const target = el.querySelector<HTMLElement>(`[data-focus="${CSS.escape(key)}"]`);
    if (!target || (target as HTMLButtonElement).disabled) return false;
    target.focus({ preventScroll: !pendingScroll });
    return document.activeElement === target;
  }
  let pendingScroll = false;

  function render(): void {
    const focusKey = pendingFocus ?? focusedKey();
    pendingFocus = null;
    const scroll = el.scrollTop;
    fields = new Map();
    rawErrors.clear();
    presence.detach();
    preview.detach();
    if (!view || !draft) {
      el.setAttribute('aria-busy', String(!loadError));
      el.replaceChildren(loadError ? errorState(loadError) : loadingState());
      if (focusKey) restoreFocus(focusKey);
      return;
    }
    el.setAttribute('aria-busy', 'false');
    el.replaceChildren(page(view, draft));
    errors = validate(draft, view, s);
    for (const [k, v] of rawErrors) if (!errors.has(k)) errors.set(k, v);
    updateErrors();
    updateFooter();
    preview.render();
    el.scrollTop = scroll;
    if (focusKey) restoreFocus(focusKey);
    pendingScroll = false;
  }

  function title(): HTMLElement {
    return h('h2', { class: 'settings-title', id: 'settings-title', tabindex: '-1', 'data-focus': 'title' }, s.settings);
  }

  function top(): HTMLElement {
    const back = h('button', { type: 'button', class: 'btn-back', 'data-testid': 'settings-back', 'data-focus': 'back' }, icon('back'), s.back);
    back.addEventListener('click', () => deps.back());
    return h('div', { class: 'settings-top' }, back, title());
  }

  function loadingState(): HTMLElement {
    return h(
      'div',
      { class: 'settings' },
      top(),
      h('p', { class: 'settings-loading', 'data-testid': 'settings-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), s.loading),
    );
  }

  function errorState(err: IpcError): HTMLElement {
    const retry = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'settings-retry', 'data-focus': 'retry' }, icon('sync'), s.retry);
    retry.addEventListener('click', () => {
      loadError = null;
      pendingFocus = 'title';
      render();
      void load(false);
    });
    return h(
      'div',
      { class: 'settings' },
      top(),
      h(
        'div',
        { class: 'settings-banner settings-banner-error', role: 'alert', 'data-testid': 'settings-load-error' },
        h('p', { class: 'settings-banner-title' }, icon('alert'), s.loadFailed),
        h('p', { class: 'settings-banner-text selectable' }, err.message),
        retry,
      ),
    );
  }

  function page(v: SettingsView, d: ConfigJson): HTMLElement {
    return h(
      'div',
      { class: 'settings' },
      top(),
      ...banners(v),
      accountSection(v),
      accountsSection(v),
      calendarsSection(kit, v, d),
      presence.render(v, d),
      forwarding.render(d),
      generalSection(kit, d, v.join_shortcut),
      h('p', { class: 'settings-path small muted selectable', 'data-testid': 'config-path' }, s.configFile(v.config_path)),
      footer,
    );
  }

  function banner(testid: string, heading: string, message: string): HTMLElement {
    return h(
      'div',
      { class: 'settings-banner', role: 'alert', 'data-testid': testid },
      h('p', { class: 'settings-banner-title' }, icon('alert'), heading),
      h('p', { class: 'settings-banner-text selectable' }, message),
    );
  }

  function banners(v: SettingsView): Child[] {
    const out: Child[] = [];
    if (v.policy?.error) out.push(banner('policy-error', s.policyErrorTitle, v.policy.error));
    if (v.config_error) out.push(banner('config-error', s.configErrorTitle, v.config_error));
    if (v.policy && !v.policy.error && v.locked.length > 0) {
      out.push(h('p', { class: 'settings-managed', 'data-testid': 'policy-note' }, icon('lock'), s.managed(v.policy.path, v.policy.group)));
    }
    return out;
  }

  // ---- changes, validation, saving ---------------------------------------------------------
  function updateErrors(): void {
    for (const [key, f] of fields) {
      const msg = errors.get(key) ?? '';
      f.error.hidden = !msg;
      f.error.textContent = msg;
      if (msg) f.control.setAttribute('aria-invalid', 'true');
      else f.control.removeAttribute('aria-invalid');
    }
  }

  function updateFooter(): void {
    const dirty = isDirty();
    dirtyEl.hidden = !dirty;
    for (const b of [saveBtn, revertBtn]) b.setAttribute('aria-disabled', String(!dirty || saving));
    saveBtn.setAttribute('aria-busy', String(saving));
    saveBtn.textContent = saving ? s.saving : s.save;
    const saved = notice?.kind === 'saved' && !dirty ? s.saved : '';
    if (statusEl.textContent !== saved) statusEl.textContent = saved;
    const alert =
      notice?.kind === 'error' ? `${s.notSaved} ${notice.message}` : notice?.kind === 'invalid' && errors.size ? s.fixFields(errors.size) : '';
    if (alertEl.textContent !== alert) alertEl.textContent = alert;
  }

  function changed(kind: ChangeKind = 'value'): void {
    if (notice?.kind === 'saved') notice = null;
    if (kind === 'all') {
      render();
    } else {
      if (kind === 'rules' && view && draft) presence.renderRules(view, draft);
      if (view && draft) {
        errors = validate(draft, view, s);
        for (const [k, v] of rawErrors) if (!errors.has(k)) errors.set(k, v);
      }
      updateErrors();
    }
    if (notice?.kind === 'invalid' && errors.size === 0) notice = null;
    updateFooter();
    preview.schedule(false);
  }

  function firstInvalid(): HTMLElement | null {
    return el.querySelector<HTMLElement>('[aria-invalid="true"]');
  }

  async function save(): Promise<void> {
    if (!view || !draft || saving || !isDirty()) return;
    errors = validate(draft, view, s);
    for (const [k, v] of rawErrors) if (!errors.has(k)) errors.set(k, v);
    updateErrors();
    if (errors.size) {
      notice = { kind: 'invalid' };
      updateFooter();
      firstInvalid()?.focus();
      return;
    }
    saving = true;
    notice = null;
    updateFooter();
    try {
      const next = await api.settingsSave(clone(draft));
      saving = false;
      view = next;
      draft = clone(next.config);
      notice = { kind: 'saved' };
      rememberLanguage(next.config.app.language);
      render();
      preview.schedule(true);
      deps.applied(next, true);
    } catch (e) {
      saving = false;
      notice = { kind: 'error', message: toIpcError(e).message };
      updateFooter();
    }
  }

  function revert(): void {
    if (!view || saving || !isDirty()) return;
    draft = clone(view.config);
    notice = null;
    forwarding.resetTest();
    render();
    preview.schedule(false);
  }

  return {
    el,
    show() {
      visible = true;
      el.hidden = false;
      const resumed = pendingFocus !== null;
      render();
      if (!resumed) el.querySelector<HTMLElement>('#settings-title')?.focus();
      if (!view) void load(false);
      else if (!skipRefresh) void load(true);
      skipRefresh = false;
      preview.forget();
      preview.schedule(true);
    },
    hide() {
      visible = false;
      el.hidden = true;
      preview.hide();
    },
    prefetch() {
      void load(true);
    },
    snapshot(saved, open) {
      return view && draft ? { view, draft: clone(draft), saved, open, focus: open ? focusedKey() : null } : null;
    },
  };
}
