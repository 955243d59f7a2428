// Test harness entry (test.html, built only with `vite build --mode test`).
// Installs @tauri-apps/api mocks from a scenario the test put on window before load,
// records every invoke, and exposes helpers to emit events and swap fixture data.
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import { start } from './app';
import { checkFont } from './font';
import type { AgendaView, BrowserSignIn, DeviceCode, IpcError, SignInInfo, Status } from './types';

interface Scenario {
  agenda?: AgendaView;
  status?: Status;
  /** Errors returned by the first N `agenda` calls, in order. */
  agendaErrors?: IpcError[];
  /** Error for every `status` call. */
  statusError?: IpcError;
  /** Hold `agenda` calls until __presently.release() is called. */
  holdAgenda?: boolean;
  /** Answer of `sign_in_info` (default: a configured app registration). */
  signInInfo?: SignInInfo;
  /** Answer of `sign_in` (default: an emulator URL, browser opened). */
  signIn?: BrowserSignIn;
  /** Error for `sign_in`. */
  signInError?: IpcError;
  /** Answer of `sign_in_device`. */
  deviceCode?: DeviceCode;
  /** Error for `sign_in_device`. */
  deviceCodeError?: IpcError;
  /** Answer of `set_registration` (default: the IDs sent, configured, source "user"). */
  registration?: SignInInfo;
  /** Error for `set_registration`. */
  registrationError?: IpcError;
  /** Error for `copy_join_link`. */
  copyJoinLinkError?: IpcError;
  /** Error for `open_admin_guide`. */
  adminGuideError?: IpcError;
}

interface Call {
  cmd: string;
  args: unknown;
}

declare global {
  interface Window {
    __PRESENTLY_SCENARIO__?: Scenario;
    __presently: {
      calls: Call[];
      scenario: Scenario;
      emit(event: string, payload?: unknown): Promise<void>;
      release(): void;
      /** The page's font check with another family in place of system-ui. */
      checkFont(family: string): void;
    };
  }
}

const scenario: Scenario = window.__PRESENTLY_SCENARIO__ ?? {};
const calls: Call[] = [];
const errors = [...(scenario.agendaErrors ?? [])];
let held: Array<() => void> = [];

mockIPC(
  async (cmd, args) => {
    calls.push({ cmd, args: args ?? null });
    switch (cmd) {
      case 'agenda': {
        if (scenario.holdAgenda) await new Promise<void>((r) => held.push(r));
        const err = errors.shift();
        if (err) throw err;
        if (!scenario.agenda) throw { code: 'internal', message: 'no agenda fixture' };
        return structuredClone(scenario.agenda);
      }
      case 'status':
        if (scenario.statusError) throw scenario.statusError;
        return structuredClone(scenario.status ?? null);
      case 'sync_now':
      case 'open_item':
      case 'join_meeting':
      case 'cancel_sign_in':
      case 'sign_out':
        return null;
      case 'sign_in_info':
        return structuredClone(
          scenario.signInInfo ?? {
            client_id: '7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b',
            tenant: 'organizations',
            authority_host: 'https://login.microsoftonline.com',
            configured: true,
          },
        );
      case 'sign_in':
        if (scenario.signInError) throw scenario.signInError;
        return structuredClone(
          scenario.signIn ?? {
            url: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?client_id=7e1c4b6a&state=s',
            browser_opened: true,
          },
        );
      case 'set_registration': {
        if (scenario.registrationError) throw scenario.registrationError;
        const a = (args ?? {}) as { clientId?: string; tenant?: string };
        const info: SignInInfo = scenario.registration ?? {
          client_id: a.clientId ?? null,
          tenant: a.tenant ?? 'organizations',
          authority_host: 'https://login.microsoftonline.com',
          configured: true,
          application_name: null,
          source: 'user',
          policy_error: null,
        };
        // Later sign_in_info calls answer what was saved.
        scenario.signInInfo = info;
        return structuredClone(info);
      }
      case 'ui_painted':
      case 'ui_ready':
      case 'close_window':
        return null;
      case 'open_admin_guide':
        if (scenario.adminGuideError) throw scenario.adminGuideError;
        return null;
      case 'copy_join_link': {
        if (scenario.copyJoinLinkError) throw scenario.copyJoinLinkError;
        const id = (args as { id?: string } | undefined)?.id;
        const found = scenario.agenda?.days.flatMap((d) => d.items).find((i) => i.id === id);
        if (!found?.join_url) throw { code: 'not_found', message: `no join link for ${String(id)}` };
        return found.join_url;
      }
      case 'presence_skip': {
        const a = (args ?? {}) as { id?: string; series?: boolean; skip?: boolean };
        const items = scenario.agenda?.days.flatMap((d) => d.items) ?? [];
        const found = items.find((i) => i.id === a.id);
        if (!found) throw { code: 'invalid_input', message: `no appointment with id ${String(a.id)}` };
        const covered = items.filter((i) => i.id === a.id || (a.series && found.series_id !== null && i.series_id === found.series_id));
        const changed = covered.some((i) => i.skipped !== Boolean(a.skip));
        for (const i of covered) i.skipped = Boolean(a.skip);
        return changed;
      }
      case 'sign_in_device':
        if (scenario.deviceCodeError) throw scenario.deviceCodeError;
        return structuredClone(
          scenario.deviceCode ?? { verification_uri: 'https://microsoft.com/devicelogin', user_code: 'F7KQ-9XRT', expires_in: 900 },
        );
      default:
        throw { code: 'internal', message: `unknown command ${cmd}` };
    }
  },
  { shouldMockEvents: true },
);

window.__presently = {
  calls,
  scenario,
  emit: (event, payload) => emit(event, payload),
  release() {
    scenario.holdAgenda = false;
    const h = held;
    held = [];
    h.forEach((r) => r());
  },
  checkFont,
};

start();
