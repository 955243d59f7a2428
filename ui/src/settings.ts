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
import { append, h, icon, type Child } from './dom';
import { formatTime } from './format';
import type { Lang } from './i18n';
import { settingsStrings } from './settings-i18n';
import {
  AMI_FAMILIES,
  builtinsOf,
  clone,
  commandOf,
  ensureProviderTable,
  HTTP_METHODS,
  httpOf,
  pairKnown,
  PREFERRED_PAIRS,
  profileNames,
  profilesOf,
  PROVIDERS,
  SESSION_PAIRS,
  SHOW_AS,
  stable,
  webexOf,
  amiOf,
  type ProfileJson,
} from './settings-config';
import { downIcon, plusIcon, trashIcon, upIcon } from './settings-icons';
import { rememberLanguage } from './settings-language';
import { validate } from './settings-validate';
import type {
  Availability,
  ConfigJson,
  ForwardingConfigJson,
  HttpRequestJson,
  IpcError,
  PlannedTransition,
  PresenceRule,
  SettingsView,
  TeamsPresenceJson,
} from './types';

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

type ChangeKind = 'value' | 'rules' | 'all';
type Notice = { kind: 'saved' } | { kind: 'error'; message: string } | { kind: 'invalid' };
type PreviewState =
  | { state: 'idle' }
  | { state: 'invalid' }
  | { state: 'loading'; plan: PlannedTransition[] | null }
  | { state: 'ok'; plan: PlannedTransition[] }
  | { state: 'error'; message: string };

interface FieldOpts {
  /** Dotted key: errors, and the locked check unless `lock` names another. */
  key: string;
  lock?: string;
  /** A locked group (list or table) that shows the organization note once for all its fields. */
  group?: string;
  /** Stable focus key across re-renders (default: `key`). */
  focus?: string;
  label: string;
  hint?: string;
  testid?: string;
  class?: string;
}

interface Registered {
  control: HTMLElement;
  error: HTMLElement;
}

type SelectOption = { value: string; label: string } | { group: string; options: Array<{ value: string; label: string }> };

/** Replaces the children (null/false children are skipped). */
function fill(host: HTMLElement, ...children: Child[]): void {
  host.replaceChildren();
  append(host, children);
}

let idSeq = 0;
const nextId = (p: string) => `set-${p}-${++idSeq}`;

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
  let accountNote: { text: string; tone: 'ok' | 'error' } | null = null;
  let fwTest: { state: 'running' } | { state: 'done'; ok: boolean; message: string } | null = null;
  let preview: PreviewState = { state: 'idle' };
  let previewKey = '';
  let previewTimer = 0;
  let previewSeq = 0;
  let pendingFocus: string | null = resume?.focus ?? null;

  // Rebuilt with each full render.
  let fields = new Map<string, Registered>();
  let rulesHost: HTMLElement | null = null;
  let builtinsHost: HTMLElement | null = null;
  let previewHost: HTMLElement | null = null;

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
          schedulePreview(true);
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
    rulesHost = builtinsHost = previewHost = null;
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
    renderPreview();
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
      calendarsSection(v, d),
      presenceSection(v, d),
      forwardingSection(d),
      generalSection(d),
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

  function section(id: string, heading: string, ...children: Child[]): HTMLElement {
    const hid = `settings-${id}-title`;
    return h(
      'section',
      { class: 'settings-section', 'data-testid': `section-${id}`, 'aria-labelledby': hid },
      h('h3', { class: 'settings-section-title', id: hid }, heading),
      ...children,
    );
  }

  function lockNote(id: string): HTMLElement {
    return h('p', { class: 'lock-note', id, 'data-testid': 'locked-note' }, icon('lock'), s.orgLocked);
  }

  /** One organization note for a locked list or table (its fields point at it). */
  function groupLockNote(group: string): HTMLElement | null {
    return isLocked(group) ? lockNote(groupNoteId(group)) : null;
  }
  const groupNoteId = (group: string) => `lock-${group.replace(/[^a-z0-9_-]/gi, '-')}`;

  // ---- fields ---------------------------------------------------------------------------
  function field(o: FieldOpts, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): HTMLElement {
    const id = nextId('f');
    control.id = id;
    control.dataset['focus'] = o.focus ?? o.key;
    if (o.testid) control.dataset['testid'] = o.testid;
    const groupLocked = !!o.group && isLocked(o.group);
    const locked = groupLocked || isLocked(o.lock ?? o.key);
    if (locked) control.disabled = true;
    const hint = o.hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, o.hint) : null;
    const lock = locked && !groupLocked ? lockNote(`${id}-lock`) : null;
    const err = h('p', { class: 'field-error', id: `${id}-err`, 'data-testid': 'field-error', hidden: true });
    const describedBy = [hint?.id, lock?.id, groupLocked && o.group ? groupNoteId(o.group) : null, err.id].filter(Boolean).join(' ');
    control.setAttribute('aria-describedby', describedBy);
    fields.set(o.key, { control, error: err });
    const check = control instanceof HTMLInputElement && control.type === 'checkbox';
    const label = h('label', { for: id, class: 'field-label' }, o.label);
    return h(
      'div',
      { class: `field${check ? ' field-check' : ''}${o.class ? ` ${o.class}` : ''}`, 'data-field': o.key },
      check ? h('div', { class: 'check-row' }, control, label) : label,
      check ? null : control,
      hint,
      lock,
      err,
    );
  }

  function numberField(
    o: FieldOpts & { min: number; max: number; step?: number | 'any' },
    get: () => number,
    set: (n: number) => void,
  ): HTMLElement {
    const input = h('input', {
      type: 'number',
      class: 'input input-number',
      min: o.min,
      max: o.max,
      step: o.step ?? 1,
      inputmode: o.step === 'any' ? 'decimal' : 'numeric',
    });
    const v = get();
    input.value = Number.isFinite(v) ? String(v) : '';
    input.addEventListener('input', () => {
      const raw = input.value.trim();
      set(raw === '' ? NaN : Number(raw));
      changed();
    });
    return field(o, input);
  }

  function textField(
    o: FieldOpts & { placeholder?: string; mono?: boolean },
    get: () => string,
    set: (v: string) => void,
    kind: ChangeKind = 'value',
  ): HTMLElement {
    const input = h('input', {
      type: 'text',
      class: `input${o.mono ? ' mono' : ''}`,
      placeholder: o.placeholder,
      autocomplete: 'off',
      spellcheck: 'false',
    });
    input.value = get();
    input.addEventListener('input', () => {
      set(input.value);
      changed(kind);
    });
    return field(o, input);
  }

  function areaField(o: FieldOpts & { rows?: number }, get: () => string, set: (v: string) => void): HTMLElement {
    const area = h('textarea', { class: 'input textarea mono', rows: o.rows ?? 3, spellcheck: 'false' });
    area.value = get();
    area.addEventListener('input', () => {
      set(area.value);
      changed();
    });
    return field(o, area);
  }

  function checkField(o: FieldOpts, get: () => boolean, set: (v: boolean) => void, kind: ChangeKind = 'value'): HTMLElement {
    const input = h('input', { type: 'checkbox', class: 'checkbox' });
    input.checked = get();
    input.addEventListener('change', () => {
      set(input.checked);
      changed(kind);
    });
    return field(o, input);
  }

  function selectField(
    o: FieldOpts,
    options: SelectOption[],
    get: () => string,
    set: (v: string) => void,
    kind: ChangeKind = 'value',
  ): HTMLElement {
    const sel = h('select', { class: 'input select' });
    const opt = (x: { value: string; label: string }) => h('option', { value: x.value }, x.label);
    for (const x of options) {
      sel.appendChild('group' in x ? h('optgroup', { label: x.group }, ...x.options.map(opt)) : opt(x));
    }
    sel.value = get();
    sel.addEventListener('change', () => {
      set(sel.value);
      changed(kind);
    });
    return field(o, sel);
  }

  function iconButton(label: string, focus: string, content: SVGSVGElement, onClick: () => void, opts: { disabled?: boolean; testid?: string } = {}): HTMLButtonElement {
    const b = h(
      'button',
      { type: 'button', class: 'icon-btn settings-icon-btn', 'aria-label': label, title: label, 'data-focus': focus, 'data-testid': opts.testid, disabled: !!opts.disabled },
      content,
    );
    b.addEventListener('click', onClick);
    return b;
  }

  // ---- account --------------------------------------------------------------------------
  function row(label: string, value: Child, testid?: string): HTMLElement[] {
    return [h('dt', {}, label), h('dd', { 'data-testid': testid }, value)];
  }

  function accountSection(v: SettingsView): HTMLElement {
    const a = v.account;
    const app = v.application;
    const who = a.signed_in
      ? h('span', { class: 'who' }, a.display_name ? h('span', { class: 'who-name' }, a.display_name) : null, a.upn ? h('span', { class: 'who-upn muted selectable' }, a.upn) : null)
      : h('span', { class: 'muted' }, s.notSignedIn);
    const appRows = app
      ? [
          ...(app.display_name ? row(s.applicationName, app.display_name, 'app-name') : []),
          ...row(s.clientId, h('span', { class: 'mono selectable' }, app.client_id), 'app-client-id'),
          ...row(s.tenant, h('span', { class: 'selectable' }, app.tenant), 'app-tenant'),
          ...row(
            s.source,
            app.source === 'policy' && v.policy ? `${s.sources[app.source] ?? app.source} (${v.policy.path})` : (s.sources[app.source] ?? app.source),
            'app-source',
          ),
        ]
      : [];
    const signOut = h('button', { type: 'button', class: 'btn', 'data-testid': 'settings-sign-out', 'data-focus': 'sign-out' }, s.signOut);
    signOut.addEventListener('click', () => doSignOut());
    const reconsent = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'settings-reconsent', 'data-focus': 'reconsent', 'aria-describedby': 'settings-reconsent-hint', disabled: !app },
      icon('signin'),
      s.reconsent,
    );
    reconsent.addEventListener('click', () => doReconsent());
    return section(
      'account',
      s.account,
      h('dl', { class: 'settings-dl' }, ...row(s.signedInAs, who, 'account-who')),
      h('h4', { class: 'settings-sub' }, s.application),
      app ? h('dl', { class: 'settings-dl' }, ...appRows) : h('p', { class: 'muted', 'data-testid': 'no-application' }, s.noApplication),
      h('div', { class: 'settings-actions' }, a.signed_in ? signOut : null, reconsent),
      h('p', { class: 'field-hint', id: 'settings-reconsent-hint' }, s.reconsentHint),
      h(
        'p',
        { class: `account-note${accountNote ? ` tone-${accountNote.tone}` : ''}`, role: 'status', 'data-testid': 'account-note' },
        accountNote?.text ?? '',
      ),
    );
  }

  function setAccountNote(text: string, tone: 'ok' | 'error'): void {
    accountNote = { text, tone };
    const note = el.querySelector('[data-testid="account-note"]');
    if (note) {
      note.className = `account-note tone-${tone}`;
      note.textContent = text;
    }
  }

  function doSignOut(): void {
    api.signOut().then(
      () => {
        setAccountNote(s.signedOut, 'ok');
        pendingFocus = 'reconsent';
        void load(true);
      },
      (e: unknown) => setAccountNote(toIpcError(e).message, 'error'),
    );
  }

  function doReconsent(): void {
    api.signIn().then(
      (r) => setAccountNote(r.browser_opened ? s.signInStarted : `${s.signInStarted} ${r.url}`, 'ok'),
      (e: unknown) => setAccountNote(toIpcError(e).message, 'error'),
    );
  }

  // ---- calendars ------------------------------------------------------------------------
  function calendarsSection(v: SettingsView, d: ConfigJson): HTMLElement {
    const off = v.sync_method === 'disabled';
    const chosen = () => d.sync.calendars;
    const lockedCals = isLocked('sync.calendars');
    const boxes: HTMLElement[] = [];
    const known = new Set<string>();
    for (const c of v.calendars) {
      known.add(c.id);
      known.add(c.name);
      const id = nextId('cal');
      const input = h('input', { type: 'checkbox', class: 'checkbox', id, 'data-focus': `cal:${c.id}`, 'data-testid': 'calendar-choice', 'data-calendar': c.id, disabled: lockedCals });
      input.checked = chosen().includes(c.id) || chosen().includes(c.name);
      input.addEventListener('change', () => {
        const rest = chosen().filter((x) => x !== c.id && x !== c.name);
        d.sync.calendars = input.checked ? [...rest, c.id] : rest;
        changed();
      });
      const dot = h('span', { class: 'cal-dot', 'aria-hidden': 'true' });
      if (c.color && /^#[0-9a-f]{3,8}$/i.test(c.color)) dot.style.setProperty('--cal', c.color);
      boxes.push(h('div', { class: 'check-row' }, input, h('label', { for: id }, dot, c.name, c.primary ? h('span', { class: 'muted' }, ` (${s.primary})`) : null)));
    }
    // Entries of the configuration that match no known calendar stay visible, to uncheck.
    for (const x of chosen().filter((x) => !known.has(x))) {
      const id = nextId('cal');
      const input = h('input', { type: 'checkbox', class: 'checkbox', id, 'data-focus': `cal:${x}`, 'data-testid': 'calendar-choice', 'data-calendar': x, disabled: lockedCals });
      input.checked = true;
      input.addEventListener('change', () => {
        d.sync.calendars = input.checked ? [...chosen().filter((y) => y !== x), x] : chosen().filter((y) => y !== x);
        changed();
      });
      boxes.push(h('div', { class: 'check-row' }, input, h('label', { for: id }, s.unknownCalendar(x))));
    }
    const primary = v.calendars.find((c) => c.primary)?.name ?? null;
    const calHint = h('p', { class: 'field-hint', id: 'settings-cal-hint' }, v.calendars.length ? s.primaryOnly(primary) : s.noCalendars);
    const cals = h(
      'fieldset',
      { class: 'settings-group', 'aria-describedby': lockedCals ? 'settings-cal-hint lock-sync-calendars' : 'settings-cal-hint' },
      h('legend', { class: 'field-label' }, s.calendarsLegend),
      ...boxes,
      calHint,
      lockedCals ? lockNote('lock-sync-calendars') : null,
    );
    const sync = h(
      'fieldset',
      { class: 'settings-plain', disabled: off, 'data-testid': 'sync-controls' },
      cals,
      h(
        'fieldset',
        { class: 'settings-group' },
        h('legend', { class: 'field-label' }, s.windowLegend),
        h(
          'div',
          { class: 'field-row' },
          numberField({ key: 'sync.window_days_back', label: s.windowBack, min: 0, max: 365, testid: 'window-days-back' }, () => d.sync.window_days_back, (n) => (d.sync.window_days_back = n)),
          numberField({ key: 'sync.window_days_ahead', label: s.windowAhead, min: 1, max: 730, testid: 'window-days-ahead' }, () => d.sync.window_days_ahead, (n) => (d.sync.window_days_ahead = n)),
        ),
      ),
      numberField(
        { key: 'sync.interval_secs', label: s.interval, hint: s.intervalHint, min: 0.5, max: 1440, step: 'any', testid: 'interval' },
        () => d.sync.interval_secs / 60,
        (m) => (d.sync.interval_secs = Number.isFinite(m) ? Math.round(m * 60) : NaN),
      ),
      numberField({ key: 'agenda.days', label: s.agendaDays, min: 1, max: 14, testid: 'agenda-days' }, () => d.agenda.days, (n) => (d.agenda.days = n)),
    );
    return section(
      'calendars',
      s.calendars,
      off ? h('p', { class: 'settings-managed', 'data-testid': 'sync-disabled', role: 'note' }, icon('lock'), s.syncOff) : null,
      sync,
    );
  }

  // ---- presence -------------------------------------------------------------------------
  function presenceLabel(availability: unknown, activity: unknown): string {
    const a = typeof availability === 'string' ? (s.availability[availability] ?? availability) : '';
    const act = typeof activity === 'string' ? s.activity[activity] : undefined;
    return act ? `${a} — ${act}` : a;
  }

  const teamsValue = (t: TeamsPresenceJson) => `${t.mode}:${t.availability}:${t.activity}`;

  function teamsOptions(current: TeamsPresenceJson | null | undefined): SelectOption[] {
    const pairs = (mode: TeamsPresenceJson['mode'], list: ReadonlyArray<readonly [Availability, string]>) =>
      list.map(([a, b]) => ({ value: `${mode}:${a}:${b}`, label: presenceLabel(a, b) }));
    const out: SelectOption[] = [
      { value: '', label: s.unchanged },
      { group: s.preferredGroup, options: pairs('preferred', PREFERRED_PAIRS) },
      { group: s.sessionGroup, options: pairs('session', SESSION_PAIRS) },
    ];
    if (current && !pairKnown(current)) out.push({ value: teamsValue(current), label: `${current.availability}/${current.activity} (${current.mode})` });
    return out;
  }

  function forwardingText(f: unknown): string {
    if (f === 'off') return s.forwardingOff;
    if (f === 'voicemail') return s.forwardingVoicemail;
    if (f && typeof f === 'object' && typeof (f as { number?: unknown }).number === 'string') return s.forwardingTo((f as { number: string }).number);
    return '';
  }

  function builtinList(v: SettingsView, d: ConfigJson): HTMLElement {
    const own = new Set(profilesOf(d).map((p) => p.name));
    return h(
      'ul',
      { class: 'builtin-list', 'data-testid': 'builtin-profiles' },
      ...builtinsOf(v).map((p) => {
        const parts = [
          p.teams ? presenceLabel(p.teams.availability, p.teams.activity) : null,
          p.status_message ? `“${p.status_message}”` : null,
          p.forwarding ? s.actSetForwarding(forwardingText(p.forwarding)) : null,
        ].filter((x): x is string => !!x);
        return h(
          'li',
          { class: `builtin${own.has(p.name) ? ' is-replaced' : ''}`, 'data-testid': 'builtin-profile' },
          h('span', { class: 'builtin-name' }, p.name),
          h('span', { class: 'builtin-priority muted' }, `${s.priority} ${p.priority}`),
          parts.length ? h('span', { class: 'builtin-what muted' }, parts.join(' · ')) : null,
          own.has(p.name) ? h('span', { class: 'chip' }, s.replaced) : null,
        );
      }),
    );
  }

  /**
   * Rules follow a profile that is being renamed: the rules naming it when the renaming
   * began stay linked to it while its name is typed (an empty name leaves them as they are).
   */
  const ruleLinks = new WeakMap<PresenceRule, ProfileJson>();
  function renameRuleRefs(d: ConfigJson, p: ProfileJson, from: string, to: string): void {
    const others = profilesOf(d).filter((q) => q !== p);
    for (const r of d.presence.rules) {
      const linked = ruleLinks.get(r) === p || (!!from && r.profile === from && !others.some((q) => q.name === from));
      if (!linked) continue;
      ruleLinks.set(r, p);
      if (to.trim() !== '') r.profile = to;
    }
  }

  function profileCard(d: ConfigJson, p: ProfileJson, i: number): HTMLElement {
    const pid = idOf(p);
    const key = (f: string) => `presence.profiles.${i}.${f}`;
    const focus = (f: string) => `profile:${pid}:${f}`;
    const group = 'presence.profiles';
    const titleId = nextId('profile');
    const legend = h('h5', { class: 'card-title', id: titleId }, s.profileN(i + 1, p.name));
    const name = textField(
      { key: key('name'), group, focus: focus('name'), label: s.profileName, testid: 'profile-name' },
      () => p.name,
      (v) => {
        const before = p.name;
        p.name = v;
        renameRuleRefs(d, p, before, v);
        legend.textContent = s.profileN(i + 1, v);
      },
      'rules',
    );
    const teams = selectField(
      { key: key('teams'), group, focus: focus('teams'), label: s.teams, testid: 'profile-teams' },
      teamsOptions(p.teams),
      () => (p.teams ? teamsValue(p.teams) : ''),
      (v) => {
        const [mode, availability, activity] = v.split(':');
        if (!v || !mode || !availability || !activity) delete p.teams;
        else p.teams = { mode: mode === 'session' ? 'session' : 'preferred', availability: availability as Availability, activity };
      },
    );
    const message = textField(
      { key: key('status_message'), group, focus: focus('status'), label: s.statusMessage, hint: s.statusHint, testid: 'profile-status' },
      () => p.status_message ?? '',
      (v) => {
        if (v.trim() === '') delete p.status_message;
        else p.status_message = v;
      },
    );
    const priority = numberField(
      { key: key('priority'), group, focus: focus('priority'), label: s.priority, hint: s.priorityHint, min: 0, max: 255, testid: 'profile-priority' },
      () => p.priority,
      (n) => (p.priority = n),
    );
    const fw = p.forwarding;
    const fwKind = fw === 'off' || fw === 'voicemail' ? fw : fw && typeof fw === 'object' ? 'number' : '';
    const forwarding = selectField(
      { key: key('forwarding_kind'), group, focus: focus('forwarding'), label: s.profileForwarding, testid: 'profile-forwarding' },
      [
        { value: '', label: s.unchanged },
        { value: 'off', label: s.fwOff },
        { value: 'voicemail', label: s.fwVoicemail },
        { value: 'number', label: s.fwNumber },
      ],
      () => fwKind,
      (v) => {
        if (v === 'off' || v === 'voicemail') p.forwarding = v;
        else if (v === 'number') p.forwarding = { number: fw && typeof fw === 'object' ? fw.number : '' };
        else delete p.forwarding;
      },
      'all',
    );
    const number =
      fw && typeof fw === 'object'
        ? textField(
            { key: key('forwarding'), group, focus: focus('number'), label: s.fwNumberLabel, testid: 'profile-forwarding-number' },
            () => fw.number ?? '',
            (v) => (fw.number = v),
          )
        : null;
    const remove = iconButton(
      s.removeProfile(p.name),
      focus('remove'),
      trashIcon(),
      () => {
        const list = profilesOf(d);
        list.splice(list.indexOf(p), 1);
        const next = list[Math.min(i, list.length - 1)];
        pendingFocus = next ? `profile:${idOf(next)}:remove` : 'add-profile';
        changed('all');
      },
      { disabled: isLocked(group), testid: 'profile-remove' },
    );
    return h(
      'li',
      { class: 'card', 'data-testid': 'profile' },
      h(
        'fieldset',
        { class: 'card-body', 'aria-labelledby': titleId },
        h('div', { class: 'card-head' }, legend, h('div', { class: 'card-actions' }, remove)),
        name,
        teams,
        message,
        h('div', { class: 'field-row' }, priority, forwarding),
        number,
        p.automatic_replies ? h('p', { class: 'field-hint' }, s.autoRepliesKept) : null,
      ),
    );
  }

  function ruleCard(d: ConfigJson, v: SettingsView, r: PresenceRule, i: number, count: number): HTMLElement {
    const rid = idOf(r);
    const n = i + 1;
    const titleId = nextId('rule');
    const group = 'presence.rules';
    const locked = isLocked(group);
    const focus = (f: string) => `rule:${rid}:${f}`;
    const move = (to: number) => {
      const rules = d.presence.rules;
      rules.splice(i, 1);
      rules.splice(to, 0, r);
      pendingFocus = to === 0 ? focus('down') : to === rules.length - 1 ? focus('up') : focus(to < i ? 'up' : 'down');
      changed('all');
    };
    const showAs = h(
      'fieldset',
      { class: 'settings-group show-as' },
      h('legend', { class: 'field-label' }, s.showAs),
      h(
        'div',
        { class: 'check-wrap' },
        ...SHOW_AS.map((value) => {
          const id = nextId('show');
          const input = h('input', { type: 'checkbox', class: 'checkbox', id, 'data-focus': focus(`show:${value}`), 'data-testid': `rule-show-${value}`, disabled: locked });
          input.checked = !!r.show_as?.includes(value);
          input.addEventListener('change', () => {
            const next = SHOW_AS.filter((x) => (x === value ? input.checked : !!r.show_as?.includes(x)));
            if (next.length) r.show_as = next;
            else delete r.show_as;
            changed();
          });
          return h('div', { class: 'check-row' }, input, h('label', { for: id }, s.showAsNames[value] ?? value));
        }),
      ),
    );
    const optional = (k: 'category' | 'subject_contains') => (val: string) => {
      if (val.trim() === '') delete r[k];
      else r[k] = val;
    };
    const names = profileNames(d, v);
    const options: SelectOption[] = [{ value: '', label: s.changeNothing }, ...names.map((x) => ({ value: x, label: x }))];
    if (typeof r.profile === 'string' && !names.includes(r.profile)) options.push({ value: r.profile, label: r.profile });
    // Conditions this page does not edit (calendar, online_meeting, …) stay as they are; the
    // engine writes include_cancelled/include_declined/all_day always, so their defaults do not count.
    const edited = new Set(['profile', 'show_as', 'category', 'subject_contains']);
    const defaults: Record<string, unknown> = { include_cancelled: false, include_declined: false, all_day: 'oof_only' };
    const more = Object.entries(r).some(
      ([k, val]) => !edited.has(k) && val !== null && val !== undefined && defaults[k] !== val && !(Array.isArray(val) && !val.length),
    );
    return h(
      'li',
      { class: 'card rule', 'data-testid': 'rule' },
      h(
        'fieldset',
        { class: 'card-body', 'aria-labelledby': titleId },
        h(
          'div',
          { class: 'card-head' },
          h('h5', { class: 'card-title', id: titleId }, s.ruleN(n)),
          h(
          'div',
          { class: 'card-actions' },
          iconButton(s.moveUp(n), focus('up'), upIcon(), () => move(i - 1), { disabled: locked || i === 0, testid: 'rule-up' }),
          iconButton(s.moveDown(n), focus('down'), downIcon(), () => move(i + 1), { disabled: locked || i === count - 1, testid: 'rule-down' }),
          iconButton(
            s.removeRule(n),
            focus('remove'),
            trashIcon(),
            () => {
              const rules = d.presence.rules;
              rules.splice(i, 1);
              const next = rules[Math.min(i, rules.length - 1)];
              pendingFocus = next ? `rule:${idOf(next)}:remove` : 'add-rule';
              changed('all');
            },
            { disabled: locked, testid: 'rule-remove' },
          ),
          ),
        ),
        showAs,
        h(
          'div',
          { class: 'field-row' },
          textField({ key: `presence.rules.${i}.category`, group, focus: focus('category'), label: s.category, testid: 'rule-category' }, () => r.category ?? '', optional('category')),
          textField(
            { key: `presence.rules.${i}.subject_contains`, group, focus: focus('subject'), label: s.subjectContains, testid: 'rule-subject' },
            () => r.subject_contains ?? '',
            optional('subject_contains'),
          ),
        ),
        selectField(
          { key: `presence.rules.${i}.profile`, group, focus: focus('profile'), label: s.thenProfile, testid: 'rule-profile' },
          options,
          () => (typeof r.profile === 'string' ? r.profile : ''),
          (val) => {
            ruleLinks.delete(r);
            if (val) r.profile = val;
            else delete r.profile;
          },
        ),
        more ? h('p', { class: 'field-hint' }, s.moreConditions) : null,
      ),
    );
  }

  function rulesList(d: ConfigJson, v: SettingsView): Child[] {
    const rules = d.presence.rules;
    if (!rules.length) return [h('p', { class: 'muted empty-list' }, s.noRules)];
    return [h('ol', { class: 'card-list', 'data-testid': 'rules' }, ...rules.map((r, i) => ruleCard(d, v, r, i, rules.length)))];
  }

  /** After a profile was renamed: the rules' profile choices and the built-in list follow. */
  function renderRules(): void {
    if (!view || !draft) return;
    for (const k of [...fields.keys()]) if (k.startsWith('presence.rules.')) fields.delete(k);
    if (rulesHost) fill(rulesHost, ...rulesList(draft, view));
    builtinsHost?.replaceChildren(builtinList(view, draft));
  }

  function presenceSection(v: SettingsView, d: ConfigJson): HTMLElement {
    const profiles = profilesOf(d);
    const addProfile = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'add-profile', 'data-focus': 'add-profile', disabled: isLocked('presence.profiles') },
      plusIcon(),
      s.addProfile,
    );
    addProfile.addEventListener('click', () => {
      const taken = new Set(profileNames(d, v));
      let name = s.newProfile;
      for (let n = 2; taken.has(name); n++) name = `${s.newProfile} ${n}`;
      const p: ProfileJson = { name, priority: 50, teams: { availability: 'Busy', activity: 'Busy', mode: 'preferred' } };
      profiles.push(p);
      pendingFocus = `profile:${idOf(p)}:name`;
      pendingScroll = true;
      changed('all');
    });
    const addRule = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'add-rule', 'data-focus': 'add-rule', disabled: isLocked('presence.rules') },
      plusIcon(),
      s.addRule,
    );
    addRule.addEventListener('click', () => {
      const names = profileNames(d, v);
      const r: PresenceRule = { show_as: ['busy'] };
      if (names[0]) r.profile = names[0];
      d.presence.rules.push(r);
      pendingFocus = `rule:${idOf(r)}:show:free`;
      pendingScroll = true;
      changed('all');
    });

    builtinsHost = h('div', { class: 'builtins-host' }, builtinList(v, d));
    rulesHost = h('div', { class: 'rules-host' }, ...rulesList(d, v));
    previewHost = h('div', { class: 'preview-body', 'data-testid': 'preview' });

    return section(
      'presence',
      s.presence,
      checkField(
        { key: 'features.presence', label: s.presenceOn, hint: s.presenceHint, testid: 'presence-enabled' },
        () => d.features.presence,
        (on) => (d.features.presence = on),
      ),
      h('h4', { class: 'settings-sub' }, s.builtinProfiles),
      h('p', { class: 'field-hint' }, s.builtinHint),
      builtinsHost,
      h('h4', { class: 'settings-sub' }, s.yourProfiles),
      groupLockNote('presence.profiles'),
      profiles.length
        ? h('ol', { class: 'card-list', 'data-testid': 'profiles' }, ...profiles.map((p, i) => profileCard(d, p, i)))
        : h('p', { class: 'muted empty-list' }, s.noProfiles),
      h('div', { class: 'settings-actions' }, addProfile),
      h('h4', { class: 'settings-sub' }, s.rules),
      h('p', { class: 'field-hint' }, s.rulesHint),
      groupLockNote('presence.rules'),
      rulesHost,
      h('div', { class: 'settings-actions' }, addRule),
      checkField(
        { key: 'presence.default_rules', label: s.defaultRules, hint: s.defaultRulesHint, testid: 'default-rules' },
        () => d.presence.default_rules,
        (on) => (d.presence.default_rules = on),
      ),
      h(
        'div',
        { class: 'preview', role: 'region', 'aria-labelledby': 'settings-preview-title' },
        h('h4', { class: 'settings-sub', id: 'settings-preview-title' }, s.preview),
        h('p', { class: 'field-hint' }, s.previewHint),
        previewHost,
      ),
    );
  }

  // ---- live preview -----------------------------------------------------------------------
  function presenceErrors(): boolean {
    for (const k of errors.keys()) if (k.startsWith('presence.')) return true;
    return false;
  }

  /** Asks for a new preview when the presence draft changed and is valid (debounced). */
  function schedulePreview(immediate: boolean): void {
    if (!draft || !visible) return;
    if (presenceErrors()) {
      window.clearTimeout(previewTimer);
      previewSeq++;
      previewKey = '';
      if (preview.state !== 'invalid') {
        preview = { state: 'invalid' };
        renderPreview();
      }
      return;
    }
    const key = stable(draft.presence);
    if (key === previewKey) return;
    previewKey = key;
    window.clearTimeout(previewTimer);
    const presence = clone(draft.presence);
    previewTimer = window.setTimeout(() => void runPreview(presence), immediate ? 0 : 300);
  }

  async function runPreview(presence: ConfigJson['presence']): Promise<void> {
    const seq = ++previewSeq;
    preview = { state: 'loading', plan: preview.state === 'ok' ? preview.plan : preview.state === 'loading' ? preview.plan : null };
    renderPreview();
    try {
      const plan = await api.presencePreview(presence);
      if (seq !== previewSeq) return;
      preview = { state: 'ok', plan: Array.isArray(plan) ? plan : [] };
    } catch (e) {
      if (seq !== previewSeq) return;
      preview = { state: 'error', message: toIpcError(e).message };
    }
    renderPreview();
  }

  /** "HH:MM" of an RFC 3339 local time, in the locale's clock, without converting zones. */
  function clockOf(local: string): string {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return local;
    return formatTime(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!), locale, 'UTC');
  }

  /** A UTC instant shown at the offset of `local` (the display zone's, that day). */
  function clockAt(utc: unknown, local: string): string | null {
    if (typeof utc !== 'string') return null;
    const ms = Date.parse(utc);
    if (!Number.isFinite(ms)) return null;
    const m = /([+-])(\d{2}):(\d{2})$/.exec(local);
    const offset = m ? (m[1] === '-' ? -1 : 1) * (+m[2]! * 60 + +m[3]!) : 0;
    return formatTime(ms + offset * 60_000, locale, 'UTC');
  }

  function describeAction(a: unknown): string | null {
    if (!a || typeof a !== 'object') return null;
    const o = a as Record<string, unknown>;
    switch (o['action']) {
      case 'set_presence': {
        const p = (o['presence'] ?? {}) as Record<string, unknown>;
        return s.actSetPresence(presenceLabel(p['availability'], p['activity']));
      }
      case 'clear_presence':
        return s.actClearPresence;
      case 'set_status_message':
        return s.actSetStatus(typeof o['message'] === 'string' ? o['message'] : '');
      case 'restore_status_message':
        return s.actRestoreStatus;
      case 'set_forwarding':
        return s.actSetForwarding(forwardingText(o['forwarding']));
      case 'restore_forwarding':
        return s.actRestoreForwarding;
      case 'set_automatic_replies':
        return s.actSetReplies;
      case 'restore_automatic_replies':
        return s.actRestoreReplies;
      default:
        return typeof o['action'] === 'string' ? o['action'] : null;
    }
  }

  function transitionItem(t: PlannedTransition): HTMLElement {
    const local = typeof t.local === 'string' ? t.local : '';
    let what: string;
    let detail: string | null = null;
    if (t.kind === 'apply') {
      what = s.planApply(typeof t['profile'] === 'string' ? t['profile'] : '');
      const subject = t['subject_for_display'];
      const until = clockAt(t['until'], local);
      detail = [typeof subject === 'string' ? s.planFor(subject) : s.planPrivate, until ? s.planUntil(until) : null].filter(Boolean).join(' ');
    } else if (t.kind === 'restore') {
      what = s.planRestore;
    } else if (t.kind === 'stand_back') {
      what = s.planStandBack(clockAt(t['until'], local) ?? '');
    } else {
      what = String(t.kind);
    }
    const actions = (Array.isArray(t['actions']) ? (t['actions'] as unknown[]) : []).map(describeAction).filter((x): x is string => !!x);
    return h(
      'li',
      { class: `plan-item kind-${String(t.kind).replace(/[^a-z_]/gi, '')}`, 'data-testid': 'plan-item' },
      h('time', { class: 'plan-time', datetime: typeof t.at === 'string' ? t.at : null }, clockOf(local)),
      h(
        'div',
        { class: 'plan-what' },
        h('p', { class: 'plan-title' }, what),
        detail ? h('p', { class: 'plan-detail muted' }, detail) : null,
        actions.length ? h('ul', { class: 'plan-actions' }, ...actions.map((x) => h('li', {}, x))) : null,
      ),
    );
  }

  function renderPreview(): void {
    if (!previewHost || !draft) return;
    const off = !draft.features.presence ? h('p', { class: 'field-hint', 'data-testid': 'preview-off' }, s.previewOff) : null;
    const summary = (text: string, cls = '') => h('p', { class: `preview-summary ${cls}`.trim(), role: 'status', 'data-testid': 'preview-summary' }, text);
    previewHost.setAttribute('aria-busy', String(preview.state === 'loading'));
    switch (preview.state) {
      case 'idle':
        fill(previewHost, off);
        break;
      case 'invalid':
        fill(previewHost, off, summary(s.previewInvalid, 'muted'));
        break;
      case 'error':
        fill(previewHost, off, h('p', { class: 'preview-error', role: 'status', 'data-testid': 'preview-error' }, icon('alert'), `${s.previewFailed} ${preview.message}`));
        break;
      case 'loading':
      case 'ok': {
        const plan = preview.plan;
        const list = plan && plan.length ? h('ol', { class: 'plan', 'data-testid': 'plan' }, ...plan.map(transitionItem)) : null;
        const text = preview.state === 'loading' && !plan ? s.previewLoading : plan && plan.length ? s.previewCount(plan.length) : s.previewEmpty;
        fill(previewHost, off, summary(text, plan && plan.length ? 'sr-only' : 'muted'), list);
        break;
      }
    }
  }

  // ---- call forwarding --------------------------------------------------------------------
  function linesOf(v: string): string[] {
    return v.split('\n').map((x) => x.replace(/\r$/, '')).filter((x) => x.trim() !== '');
  }

  function headersField(req: HttpRequestJson, key: string, focus: string): HTMLElement {
    const text = Object.entries(req.headers ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
    return areaField({ key, group: 'presence.forwarding', focus, label: s.headers, rows: 2 }, () => text, (v) => {
      const headers: Record<string, string> = {};
      let bad: string | null = null;
      for (const line of linesOf(v)) {
        const at = line.indexOf(':');
        const name = at > 0 ? line.slice(0, at).trim() : '';
        if (!name || /\s/.test(name)) {
          bad ??= line.trim();
          continue;
        }
        headers[name] = line.slice(at + 1).trim();
      }
      if (Object.keys(headers).length) req.headers = headers;
      else delete req.headers;
      if (bad) rawErrors.set(key, s.badHeader(bad));
      else rawErrors.delete(key);
    });
  }

  function httpRequestGroup(req: HttpRequestJson, part: 'on' | 'off'): HTMLElement {
    const F = `presence.forwarding.http.${part}`;
    const group = 'presence.forwarding';
    const methods = HTTP_METHODS.includes(req.method.toUpperCase()) ? HTTP_METHODS : [...HTTP_METHODS, req.method];
    return h(
      'fieldset',
      { class: 'settings-group' },
      h('legend', { class: 'field-label' }, part === 'on' ? s.httpOn : s.httpOff),
      h(
        'div',
        { class: 'field-row field-row-url' },
        selectField(
          { key: `${F}.method`, group, label: s.method, class: 'field-narrow' },
          methods.map((m) => ({ value: m, label: m })),
          () => (HTTP_METHODS.includes(req.method.toUpperCase()) ? req.method.toUpperCase() : req.method),
          (v) => (req.method = v),
        ),
        textField({ key: `${F}.url`, group, label: s.url, mono: true, placeholder: 'https://', testid: `http-${part}-url` }, () => req.url, (v) => (req.url = v)),
      ),
      headersField(req, `${F}.headers`, `${F}.headers`),
      areaField({ key: `${F}.body`, group, label: s.body, rows: 2 }, () => req.body ?? '', (v) => {
        if (v.trim() === '') delete req.body;
        else req.body = v;
      }),
    );
  }

  function providerFields(fw: ForwardingConfigJson): Child[] {
    const P = 'presence.forwarding';
    const group = P;
    switch (fw.provider) {
      case 'webex': {
        const w = webexOf(fw);
        if (!w) return [];
        return [
          textField({ key: `${P}.webex.base_url`, group, label: s.webexBase, mono: true, testid: 'webex-base-url' }, () => w.base_url, (v) => (w.base_url = v)),
          textField({ key: `${P}.webex.person_id`, group, label: s.personId, mono: true, testid: 'webex-person-id' }, () => w.person_id, (v) => (w.person_id = v)),
          textField({ key: `${P}.webex.voicemail`, group, label: s.voicemailDestination, testid: 'webex-voicemail' }, () => w.voicemail, (v) => (w.voicemail = v)),
        ];
      }
      case 'ami': {
        const a = amiOf(fw);
        if (!a) return [];
        return [
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.ami.host`, group, label: s.host, mono: true, testid: 'ami-host' }, () => a.host, (v) => (a.host = v)),
            numberField({ key: `${P}.ami.port`, group, label: s.port, min: 1, max: 65535, testid: 'ami-port', class: 'field-narrow' }, () => a.port, (n) => (a.port = n)),
          ),
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.ami.username`, group, label: s.username, testid: 'ami-username' }, () => a.username, (v) => (a.username = v)),
            textField({ key: `${P}.ami.extension`, group, label: s.extension, testid: 'ami-extension' }, () => a.extension, (v) => (a.extension = v)),
          ),
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.ami.voicemail`, group, label: s.voicemailTarget, mono: true, testid: 'ami-voicemail' }, () => a.voicemail, (v) => (a.voicemail = v)),
            selectField(
              { key: `${P}.ami.family`, group, label: s.family, testid: 'ami-family' },
              AMI_FAMILIES.map((f) => ({ value: f, label: `${s.families[f] ?? f} (${f})` })),
              () => a.family,
              (v) => (a.family = v),
            ),
          ),
        ];
      }
      case 'http': {
        const c = httpOf(fw);
        if (!c) return [];
        return [
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.http.extension`, group, label: s.extension }, () => c.extension, (v) => (c.extension = v)),
            textField({ key: `${P}.http.voicemail`, group, label: s.voicemailTarget }, () => c.voicemail, (v) => (c.voicemail = v)),
          ),
          httpRequestGroup(c.on, 'on'),
          httpRequestGroup(c.off, 'off'),
        ];
      }
      case 'command': {
        const c = commandOf(fw);
        if (!c) return [];
        return [
          textField({ key: `${P}.command.program`, group, label: s.program, mono: true, testid: 'command-program' }, () => c.program, (v) => (c.program = v)),
          areaField({ key: `${P}.command.on_args`, group, label: s.onArgs, rows: 2 }, () => (c.on_args ?? []).join('\n'), (v) => (c.on_args = linesOf(v))),
          areaField({ key: `${P}.command.off_args`, group, label: s.offArgs, rows: 2 }, () => (c.off_args ?? []).join('\n'), (v) => (c.off_args = linesOf(v))),
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.command.extension`, group, label: s.extension }, () => c.extension, (v) => (c.extension = v)),
            textField({ key: `${P}.command.voicemail`, group, label: s.voicemailTarget }, () => c.voicemail, (v) => (c.voicemail = v)),
          ),
        ];
      }
      case 'none':
        return [];
    }
  }

  function forwardingSection(d: ConfigJson): HTMLElement {
    const fw = d.presence.forwarding;
    const P = 'presence.forwarding';
    const on = fw.provider !== 'none';
    const result = h(
      'p',
      {
        class: `fw-result${fwTest?.state === 'done' ? (fwTest.ok ? ' tone-ok' : ' tone-error') : ''}`,
        role: 'status',
        'data-testid': 'forwarding-test-result',
      },
      fwTest?.state === 'running' ? s.testing : fwTest?.state === 'done' ? `${fwTest.ok ? s.testOk : s.testFailed}: ${fwTest.message}` : '',
    );
    const test = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'forwarding-test', 'data-focus': 'forwarding-test', 'aria-describedby': 'settings-fw-test-hint' },
      s.test,
    );
    test.addEventListener('click', () => void runForwardingTest(result));
    return section(
      'forwarding',
      s.forwarding,
      h('p', { class: 'field-hint' }, s.forwardingIntro),
      groupLockNote(P),
      selectField(
        { key: `${P}.provider`, group: P, label: s.provider, testid: 'forwarding-provider' },
        PROVIDERS.map((p) => ({ value: p, label: s.providers[p] ?? p })),
        () => fw.provider,
        (v) => {
          fw.provider = (PROVIDERS as readonly string[]).includes(v) ? (v as ForwardingConfigJson['provider']) : 'none';
          ensureProviderTable(fw);
          fwTest = null;
        },
        'all',
      ),
      on ? h('p', { class: 'keyring-note', 'data-testid': 'keyring-note' }, icon('lock'), s.keyring[fw.provider] ?? '') : null,
      on && (fw.provider === 'webex' || fw.provider === 'ami' || fw.provider === 'http') ? secretField(fw.provider) : null,
      ...(on ? providerFields(fw) : []),
      on && fw.provider !== 'webex' ? h('p', { class: 'field-hint' }, s.placeholders) : null,
      on
        ? numberField(
            { key: `${P}.timeout_secs`, group: P, label: s.timeout, min: 1, max: 120, testid: 'forwarding-timeout', class: 'field-narrow' },
            () => fw.timeout_secs,
            (n) => (fw.timeout_secs = n),
          )
        : null,
      on ? h('div', { class: 'settings-actions' }, test, result) : null,
      on ? h('p', { class: 'field-hint', id: 'settings-fw-test-hint' }, s.testHint) : null,
    );
  }

  async function runForwardingTest(result: HTMLElement): Promise<void> {
    if (!draft || fwTest?.state === 'running') return;
    const invalid = [...errors.keys()].find((k) => k.startsWith('presence.forwarding.'));
    if (invalid) {
      (fields.get(invalid)?.control as HTMLElement | undefined)?.focus();
      return;
    }
    const show = () => {
      result.className = `fw-result${fwTest?.state === 'done' ? (fwTest.ok ? ' tone-ok' : ' tone-error') : ''}`;
      result.textContent =
        fwTest?.state === 'running' ? s.testing : fwTest?.state === 'done' ? `${fwTest.ok ? s.testOk : s.testFailed}: ${fwTest.message}` : '';
    };
    fwTest = { state: 'running' };
    show();
    try {
      const r = await api.forwardingTest(clone(draft.presence.forwarding));
      fwTest = { state: 'done', ok: !!r.ok, message: r.message };
    } catch (e) {
      fwTest = { state: 'done', ok: false, message: toIpcError(e).message };
    }
    show();
  }

  /** The provider's secret goes straight to the keyring (not into the draft or the file). */
  function secretField(provider: 'webex' | 'ami' | 'http'): HTMLElement {
    const id = 'forwarding-secret';
    const input = h('input', {
      type: 'password',
      id,
      class: 'input',
      autocomplete: 'off',
      'data-testid': id,
    });
    const status = h('p', { class: 'field-hint', 'aria-live': 'polite', 'data-testid': 'forwarding-secret-status' });
    const save = h('button', { type: 'button', class: 'btn', 'data-testid': 'forwarding-secret-save' }, s.secretSave);
    save.addEventListener('click', async () => {
      if (!input.value.trim()) {
        status.textContent = s.secretEmpty;
        input.focus();
        return;
      }
      try {
        if (!draft) return;
        await api.forwardingSecretSave(provider, input.value, clone(draft.presence.forwarding));
        input.value = '';
        status.textContent = s.secretSaved;
      } catch (e) {
        status.textContent = toIpcError(e).message;
      }
    });
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, class: 'field-label' }, s.secretLabel),
      h('div', { class: 'field-row' }, input, save),
      status,
    );
  }

  // ---- general --------------------------------------------------------------------------
  function generalSection(d: ConfigJson): HTMLElement {
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
      if (kind === 'rules') renderRules();
      if (view && draft) {
        errors = validate(draft, view, s);
        for (const [k, v] of rawErrors) if (!errors.has(k)) errors.set(k, v);
      }
      updateErrors();
    }
    if (notice?.kind === 'invalid' && errors.size === 0) notice = null;
    updateFooter();
    schedulePreview(false);
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
      schedulePreview(true);
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
    fwTest = null;
    render();
    schedulePreview(false);
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
      previewKey = '';
      schedulePreview(true);
    },
    hide() {
      visible = false;
      el.hidden = true;
      window.clearTimeout(previewTimer);
      previewSeq++;
      if (preview.state === 'loading') preview = { state: 'idle' };
    },
    prefetch() {
      void load(true);
    },
    snapshot(saved, open) {
      return view && draft ? { view, draft: clone(draft), saved, open, focus: open ? focusedKey() : null } : null;
    },
  };
}
