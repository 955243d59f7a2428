// The agenda window's state, shared by app.ts and the controllers it delegates to
// (app-signin.ts): one object, mutated in place, rendered by app.ts.
import type { Filters } from './filter';
import type { JoinCopy } from './render';
import type { RegistrationForm, SignInState } from './render-signin';
import type { AgendaView, IpcError, SignInInfo, Status } from './types';

export type Phase = 'loading' | 'ready' | 'error' | 'signed-out' | 'first-sync';

export interface State {
  phase: Phase;
  view: AgendaView | null;
  error: IpcError | null;
  status: Status | null;
  /** Error from the last sync_now call, shown in the status line. */
  syncError: string | null;
  selectedId: string | null;
  /** The app registration sign-in uses (from `sign_in_info`). */
  info: SignInInfo | null;
  signIn: SignInState;
  /** The first-launch form (the IDs typed so far). */
  reg: RegistrationForm;
  /** Feedback of the last "Copy join link" in the detail pane. */
  joinCopy: JoinCopy | null;
  /** Remembered in localStorage. */
  filters: Filters;
  /** Search text; not remembered. */
  query: string;
}
