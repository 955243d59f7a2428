// Thin typed wrapper around Tauri's invoke/listen. The UI never opens URLs itself:
// open_item / join_meeting ask the Rust side to do it.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  AgendaView,
  BrowserSignIn,
  ConfigJson,
  DeviceCode,
  ForwardingConfigJson,
  ForwardingTestResult,
  IpcError,
  PlannedTransition,
  PresenceConfigJson,
  SettingsView,
  SignInInfo,
  SignInProgress,
  Status,
} from './types';

export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const code = typeof o['code'] === 'string' ? o['code'] : 'internal';
    const message =
      typeof o['message'] === 'string' ? o['message'] : e instanceof Error ? e.message : String(e);
    const help = o['help'] && typeof o['help'] === 'object' ? (o['help'] as IpcError['help']) : null;
    return help ? { code, message, help } : { code, message };
  }
  if (typeof e === 'string') return { code: 'internal', message: e };
  return { code: 'internal', message: String(e) };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export const api = {
  agenda: (from: string | null, days: number) => call<AgendaView>('agenda', { from, days }),
  status: () => call<Status>('status'),
  syncNow: () => call<null>('sync_now'),
  openItem: (id: string) => call<null>('open_item', { id }),
  joinMeeting: (id: string) => call<null>('join_meeting', { id }),
  signInInfo: () => call<SignInInfo>('sign_in_info'),
  /** Rust opens the system browser; the page never does. */
  signIn: () => call<BrowserSignIn>('sign_in'),
  signInDevice: () => call<DeviceCode>('sign_in_device'),
  cancelSignIn: () => call<null>('cancel_sign_in'),
  signOut: () => call<null>('sign_out'),
  /** Starts named account `name` and signs it in through the system browser (Rust opens it). */
  accountAdd: (name: string) => call<BrowserSignIn>('account_add', { name }),
  accountSignIn: (name: string) => call<BrowserSignIn>('account_sign_in', { name }),
  accountSignOut: (name: string) => call<null>('account_sign_out', { name }),
  accountRemove: (name: string) => call<null>('account_remove', { name }),
  settingsGet: () => call<SettingsView>('settings_get'),
  /** Validated, written atomically and applied at once; rejects with `invalid_settings` or `setting_locked`. */
  settingsSave: (config: ConfigJson) => call<SettingsView>('settings_save', { config }),
  /** The rest of today's presence plan with a draft presence configuration (live preview). */
  presencePreview: (presence: PresenceConfigJson) => call<PlannedTransition[]>('presence_preview', { presence }),
  forwardingTest: (forwarding: ForwardingConfigJson) => call<ForwardingTestResult>('forwarding_test', { forwarding }),
  /** Keeps a provider's secret in the OS keyring (never in the settings file), tied to
   *  where `forwarding` (the draft being edited) sends it. */
  forwardingSecretSave: (provider: 'webex' | 'ami' | 'http', secret: string, forwarding: ForwardingConfigJson) =>
    call<null>('forwarding_secret_save', { provider, secret, forwarding }),
  /** First launch without a provisioned application: the user enters the IDs their admin gave. */
  setRegistration: (clientId: string, tenant: string) =>
    call<SignInInfo>('set_registration', { clientId, tenant }),
  openAdminGuide: () => call<null>('open_admin_guide'),
  /** The agenda was painted for the first time (logged with the time since start). */
  uiPainted: (marks: Record<string, number>) => call<null>('ui_painted', { marks }),
  /** The first view is built: Rust shows the window (it is created hidden). */
  uiReady: () => call<null>('ui_ready'),
  closeWindow: () => call<null>('close_window'),
  copyJoinLink: (id: string) => call<string>('copy_join_link', { id }),
  /** Presence automation does not switch for appointment `id` (`series`: any of its
   *  series), or (`skip` false) switches for it again; answers whether anything changed. */
  presenceSkip: (id: string, series: boolean, skip: boolean) => call<boolean>('presence_skip', { id, series, skip }),
  onNavigate: (cb: (view: 'agenda' | 'settings') => void): Promise<UnlistenFn> =>
    listen<'agenda' | 'settings'>('navigate', (ev) => cb(ev.payload)),
  onAgendaChanged: (cb: () => void): Promise<UnlistenFn> => listen('agenda-changed', () => cb()),
  /** A named account signed in, out, failed to, or was removed (its name). */
  onAccountsChanged: (cb: (name: string) => void): Promise<UnlistenFn> =>
    listen<string>('accounts-changed', (ev) => cb(ev.payload)),
  onStatusChanged: (cb: (s: Status) => void): Promise<UnlistenFn> =>
    listen<Status>('status-changed', (ev) => cb(ev.payload)),
  onSignInProgress: (cb: (p: SignInProgress) => void): Promise<UnlistenFn> =>
    listen<SignInProgress>('sign-in-progress', (ev) => cb(ev.payload)),
};

export type Api = typeof api;

/**
 * `api` with every `on…` listener tied to `signal`: when it aborts, the listeners are
 * removed (the app re-mounts itself in another language without hearing events twice).
 */
export function scopedApi(api: Api, signal: AbortSignal): Api {
  const out: Record<string, unknown> = { ...api };
  for (const [name, fn] of Object.entries(api)) {
    if (!/^on[A-Z]/.test(name) || typeof fn !== 'function') continue;
    const on = fn as (...args: unknown[]) => Promise<UnlistenFn>;
    out[name] = async (...args: unknown[]): Promise<UnlistenFn> => {
      const unlisten = await on(...args);
      if (signal.aborted) unlisten();
      else signal.addEventListener('abort', () => unlisten(), { once: true });
      return unlisten;
    };
  }
  return out as Api;
}
