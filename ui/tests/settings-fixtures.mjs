// Fixtures for the settings page tests (settings.test.mjs): a SettingsView in the shape of
// src/types.ts, and a mock of the settings commands layered over the shared IPC mock.
//
// test-entry.ts (shared) answers the agenda/sign-in commands; `withSettings(browser, scenario)`
// wraps the browser handed to harness.openApp so that each new context first runs
// `installSettingsMock`, which answers settings_get, settings_save, presence_preview, the account_* commands and
// forwarding_test and passes every other command on to test-entry.ts's mock.

export const CLIENT_ID = '7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b';
export const POLICY_PATH = '/etc/presently/policy.toml';

const ruleDefaults = { include_cancelled: false, include_declined: false, all_day: 'oof_only' };

export function builtinProfiles() {
  return [
    {
      name: 'In a meeting',
      priority: 10,
      teams: { availability: 'Busy', activity: 'Busy', mode: 'preferred' },
      status_message: 'In a meeting until {end}',
    },
    { name: 'Out of office', priority: 30, teams: { availability: 'Away', activity: 'Away', mode: 'preferred' } },
    { name: 'Focus', priority: 20, teams: { availability: 'DoNotDisturb', activity: 'DoNotDisturb', mode: 'preferred' } },
  ];
}

/** The configuration in force (serde of engine Config), as settings_get returns it. */
export function config() {
  return {
    microsoft: {
      client_id: CLIENT_ID,
      tenant: 'contoso.com',
      authority_host: 'https://login.microsoftonline.com',
      graph_endpoint: 'https://graph.microsoft.com',
      redirect_path: '/',
      outlook_web_host: 'outlook.office365.com',
    },
    sync: {
      calendars: [],
      window_days_back: 7,
      window_days_ahead: 60,
      interval_secs: 300,
      page_size: 50,
      request_timeout_secs: 30,
      write_batch: 500,
    },
    agenda: { days: 7, timezone: null },
    features: { calendar_sync: true, presence: true, automatic_replies: false, extended_scopes: false },
    presence: {
      profiles: [
        {
          name: 'Deep work',
          priority: 25,
          teams: { availability: 'DoNotDisturb', activity: 'DoNotDisturb', mode: 'preferred' },
          status_message: 'Focusing until {end}',
          forwarding: 'voicemail',
        },
      ],
      rules: [
        { category: 'Focus', profile: 'Deep work', ...ruleDefaults },
        { subject_contains: 'lunch', ...ruleDefaults },
      ],
      default_rules: true,
      restore_when_call_ends: 'ask',
      forwarding: { provider: 'none', timeout_secs: 10 },
    },
    reminders: { enabled: true },
    app: { start_at_login: false, language: 'system', join_shortcut: 'Ctrl+Alt+J', privacy: 'private_only' },
  };
}

export function settingsView(overrides = {}) {
  return {
    config: config(),
    locked: [],
    policy: null,
    config_error: null,
    sync_method: 'microsoft365',
    account: { signed_in: true, upn: 'dana@contoso.com', display_name: 'Dana Fischer' },
    application: {
      display_name: 'Presently for Contoso',
      client_id: CLIENT_ID,
      tenant: 'contoso.com',
      authority_host: 'https://login.microsoftonline.com',
      graph_endpoint: 'https://graph.microsoft.com',
      source: 'policy',
    },
    calendars: [
      { id: 'cal-work', name: 'Calendar', color: '#0078d4', primary: true },
      { id: 'cal-team', name: 'Team events', color: '#2e9e5b', primary: false },
    ],
    builtin_profiles: builtinProfiles(),
    config_path: '/home/dana/.config/presently/config.toml',
    join_shortcut: { registered: 'Ctrl+Alt+J', error: null, wayland: false },
    accounts: [{ name: 'default', upn: 'dana@contoso.com', signed_in: true }],
    accounts_addable: true,
    ...overrides,
  };
}

/** A policy file in force that locks a few keys. */
export function lockedView() {
  return settingsView({
    locked: ['sync.interval_secs', 'presence.forwarding', 'presence.rules', 'app.start_at_login'],
    policy: { path: POLICY_PATH, group: 'Sales', error: null },
  });
}

export const POLICY_ERROR = `${POLICY_PATH} line 7: key sync.interval_secs: invalid type: string "5m", expected an integer`;

/**
 * Init script (runs in the page before test-entry.ts): answers the settings commands from
 * `sc` and records them in `window.__settingsMock.calls`; everything else goes on to the
 * shared mock that test-entry.ts installs. Self-contained: Playwright serialises it.
 */
export function installSettingsMock(sc) {
  const copy = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
  const state = {
    view: sc.view,
    getError: sc.getError ?? null,
    saveError: sc.saveError ?? null,
    previewError: sc.previewError ?? null,
    forwardingResult: sc.forwardingResult ?? { ok: true, message: 'call forwarding read: off' },
    forwardingError: null,
  };
  const calls = [];
  window.__settingsMock = { calls, state };

  // What the engine would plan today: the first rule's profile (or the default one) for the
  // 10:00 meeting and the private 12:00 lunch, then back to the user's own state at 13:00.
  const plan = (presence) => {
    const rule = (presence.rules ?? []).find((r) => r.profile);
    const profile = rule ? rule.profile : presence.default_rules ? 'In a meeting' : null;
    if (!profile) return [];
    const set = (until) => [
      { action: 'set_presence', presence: { availability: 'Busy', activity: 'Busy', mode: 'preferred' }, until },
      { action: 'set_status_message', message: 'In a meeting until 10:30', until },
    ];
    return [
      {
        local: '2026-11-24T10:00:00+01:00',
        at: '2026-11-24T09:00:00Z',
        kind: 'apply',
        profile,
        appointment_id: 'weekly-sync',
        subject_for_display: 'Weekly sync',
        until: '2026-11-24T09:30:00Z',
        actions: set('2026-11-24T09:30:00Z'),
      },
      {
        local: '2026-11-24T11:00:00+01:00',
        at: '2026-11-24T10:00:00Z',
        kind: 'skipped',
        profile,
        appointment_id: 'budget',
        subject_for_display: 'Budget review',
        until: '2026-11-24T10:30:00Z',
        actions: [],
      },
      {
        local: '2026-11-24T12:00:00+01:00',
        at: '2026-11-24T11:00:00Z',
        kind: 'apply',
        profile,
        appointment_id: 'lunch',
        subject_for_display: null,
        until: '2026-11-24T12:00:00Z',
        actions: [{ action: 'set_forwarding', forwarding: 'voicemail' }],
      },
      {
        local: '2026-11-24T13:00:00+01:00',
        at: '2026-11-24T12:00:00Z',
        kind: 'restore',
        state: { presence: null, status_message: null, forwarding: null, auto_replies: null },
        actions: [
          { action: 'clear_presence', mode: 'preferred', restore_to: null },
          { action: 'restore_status_message', message: null },
          { action: 'restore_forwarding', forwarding: 'off' },
        ],
      },
    ];
  };

  const handlers = {
    settings_get() {
      if (state.getError) throw state.getError;
      return copy(state.view);
    },
    settings_save(args) {
      if (state.saveError) throw state.saveError;
      state.view = { ...state.view, config: copy(args.config) };
      return copy(state.view);
    },
    presence_preview(args) {
      if (state.previewError) throw state.previewError;
      return plan(args.presence);
    },
    forwarding_test() {
      if (state.forwardingError) throw state.forwardingError;
      return copy(state.forwardingResult);
    },
    forwarding_secret_save() {
      return null;
    },
    // Accounts: the list lives in the view; signing in completes at once here.
    account_add(args) {
      state.view.accounts.push({ name: args.name, upn: `${args.name}@fabrikam.com`, signed_in: true });
      return { url: 'http://127.0.0.1:1/authorize', browser_opened: true };
    },
    account_sign_in(args) {
      const a = state.view.accounts.find((x) => x.name === args.name);
      if (a) a.signed_in = true;
      return { url: 'http://127.0.0.1:1/authorize', browser_opened: true };
    },
    account_sign_out(args) {
      const a = state.view.accounts.find((x) => x.name === args.name);
      if (a) a.signed_in = false;
      return null;
    },
    account_remove(args) {
      state.view.accounts = state.view.accounts.filter((x) => x.name !== args.name);
      return null;
    },
  };

  const internals = window.__TAURI_INTERNALS__ ?? {};
  let inner = null;
  Object.defineProperty(internals, 'invoke', {
    configurable: true,
    enumerable: true,
    get() {
      return async (cmd, args, options) => {
        const handler = handlers[cmd];
        if (!handler) return inner(cmd, args, options);
        calls.push({ cmd, args: copy(args ?? null) });
        return handler(args ?? {});
      };
    },
    set(fn) {
      inner = fn;
    },
  });
  window.__TAURI_INTERNALS__ = internals;
}

/** A browser whose new contexts carry the settings mock (for harness.openApp). */
export function withSettings(browser, scenario) {
  return {
    async newContext(options) {
      const context = await browser.newContext(options);
      await context.addInitScript(installSettingsMock, scenario);
      return context;
    },
  };
}
