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
