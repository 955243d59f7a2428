// The IPC contract with the Rust side (src-tauri). Keep in sync with the Rust structs.

export type ShowAs = 'free' | 'tentative' | 'busy' | 'oof' | 'workingElsewhere' | 'unknown';
export type Response =
  | 'none'
  | 'organizer'
  | 'tentativelyAccepted'
  | 'accepted'
  | 'declined'
  | 'notResponded'
  | 'unknown';
export type Sensitivity = 'normal' | 'personal' | 'private' | 'confidential' | 'unknown';
export type EventType = 'singleInstance' | 'occurrence' | 'exception' | 'seriesMaster' | 'unknown';

export interface AgendaItem {
  id: string;
  calendar: string;
  calendar_name: string;
  calendar_color: string | null;
  subject: string;
  /** RFC 3339 with offset, or "YYYY-MM-DD" when all_day. */
  start: string;
  /** RFC 3339 with offset, or "YYYY-MM-DD" (exclusive) when all_day. */
  end: string;
  all_day: boolean;
  show_as: ShowAs;
  response: Response;
  sensitivity: Sensitivity;
  cancelled: boolean;
  location: string | null;
  organizer: string | null;
  organizer_email: string | null;
  join_url: string | null;
  online_provider: string | null;
  web_link: string | null;
  series_id: string | null;
  type: EventType;
  categories: string[];
  body_preview: string | null;
  reminder_minutes: number | null;
  /** The presence profile this appointment switches to, when automation is on. */
  presence?: string | null;
}

export interface AgendaDay {
  /** "YYYY-MM-DD" in the agenda's time zone. */
  date: string;
  items: AgendaItem[];
}

export interface AgendaView {
  /** IANA zone name, e.g. "Europe/Berlin". */
  timezone: string;
  generated_at: string;
  days: AgendaDay[];
}

export type SyncState = 'never' | 'idle' | 'syncing' | 'offline' | 'error';

export interface Status {
  account: {
    signed_in: boolean;
    upn: string | null;
    display_name: string | null;
    demo: boolean;
  };
  sync: {
    state: SyncState;
    last_synced_at: string | null;
    message: string | null;
  };
}

/** Error objects rejected by `invoke`. */
export interface IpcError {
  code: string;
  message: string;
}

/** `sign_in_info`: the app registration and authority sign-in uses. */
export interface SignInInfo {
  client_id: string | null;
  tenant: string;
  authority_host: string;
  /** False until an application (client) ID is configured. */
  configured: boolean;
}

/** `sign_in`: the URL the system browser was sent to. */
export interface BrowserSignIn {
  url: string;
  browser_opened: boolean;
}

/** `sign_in_device`: the code to enter at the verification URL, valid for `expires_in` seconds. */
export interface DeviceCode {
  verification_uri: string;
  user_code: string;
  expires_in: number;
}

/** Payload of the `sign-in-progress` event. */
export type SignInProgress =
  | { phase: 'waiting_for_browser'; url: string; browser_opened: boolean }
  | ({ phase: 'waiting_for_code' } & DeviceCode)
  | { phase: 'signed_in'; upn: string; display_name: string | null }
  | { phase: 'failed'; error: IpcError }
  | { phase: 'cancelled' };
