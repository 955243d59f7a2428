// Test harness entry (test.html, built only with `vite build --mode test`).
// Installs @tauri-apps/api mocks from a scenario the test put on window before load,
// records every invoke, and exposes helpers to emit events and swap fixture data.
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import { start } from './app';
import type { AgendaView, IpcError, Status } from './types';

interface Scenario {
  agenda?: AgendaView;
  status?: Status;
  /** Errors returned by the first N `agenda` calls, in order. */
  agendaErrors?: IpcError[];
  /** Error for every `status` call. */
  statusError?: IpcError;
  /** Hold `agenda` calls until __presently.release() is called. */
  holdAgenda?: boolean;
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
        return null;
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
};

start();
