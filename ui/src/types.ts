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
  /** The link Join opens: the online meeting's, or one found in the location or body. */
  join_url: string | null;
  /** teamsForBusiness, zoom, googleMeet, webex, goTo, skypeForBusiness, skypeForConsumer. */
  online_provider: string | null;
  /** The invitation's meeting ID ("123 456 789 012") and passcode; absent when it gives none. */
  meeting_id?: string | null;
  meeting_passcode?: string | null;
  web_link: string | null;
  series_id: string | null;
  type: EventType;
  categories: string[];
  body_preview: string | null;
  reminder_minutes: number | null;
  /** The presence profile this appointment switches to, when automation is on. */
  presence?: string | null;
  /** How many attendees were invited, the organizer not counted; absent when unknown. */
  attendees?: number | null;
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
  /** The engine's display zone (IANA name): agenda.timezone, else TZ, else the system's. */
  timezone?: string;
  /** What presence automation keeps failing at, a restore first (absent: nothing). */
  presence?: PresenceProblem[];
}

/** src-tauri `AppStatus.presence`: presently_desktop::presence::PresenceProblem. */
export interface PresenceProblem {
  resource: 'presence' | 'status_message' | 'forwarding' | 'automatic_replies';
  /** What the failing write is for; null while a read before taking the resource fails. */
  purpose: 'apply' | 'restore' | 'renew' | null;
  /** A read fails (the write waits for it), not the write itself. */
  read: boolean;
  /** The write switches forwarding off. */
  switches_off: boolean;
  /** Failures in a row. */
  failures: number;
  error: string | null;
  /** The engine's words, in English. */
  message: string;
  key: string | null;
}

/** Error objects rejected by `invoke`. */
export interface IpcError {
  code: string;
  message: string;
  /** For sign-in failures the identity platform explained: what to do next. */
  help?: ErrorHelp | null;
}

/** A known sign-in failure, explained (engine `auth::entra::ErrorHelp`). */
export interface ErrorHelp {
  /** "AADSTS65001", "AADSTS50011", ... */
  aadsts: string | null;
  /** One line: what happened. */
  title: string;
  /** What the user (or their administrator) does next. */
  next_step: string;
  /** Admin approval needed: the URL to send to the administrator. */
  admin_consent_url?: string | null;
  /** Redirect URI not registered: the exact URI to add to the app registration. */
  redirect_uri?: string | null;
}

/** `sign_in_info`: the app registration and authority sign-in uses. */
export interface SignInInfo {
  client_id: string | null;
  tenant: string;
  authority_host: string;
  /** False until an application (client) ID is configured. */
  configured: boolean;
  /** The application's display name when the organization policy names it. */
  application_name?: string | null;
  /** Where the registration comes from; `policy` ones cannot be edited by the user. */
  source?: 'policy' | 'user' | 'demo' | null;
  /** An organization policy file could not be used: its error (file, line, key). */
  policy_error?: string | null;
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

// ---------------------------------------------------------------------------------------
// Settings, organization policy and first-launch registration (issue 7).
// The Rust side (src-tauri/src/settings.rs) serialises exactly these shapes.

/** The configuration in force, in the shape of config.toml (serde of engine `Config`). */
export interface ConfigJson {
  microsoft: {
    client_id: string | null;
    tenant: string;
    authority_host: string;
    graph_endpoint: string;
    redirect_path: string;
    outlook_web_host: string;
  };
  sync: {
    /** Calendar ids; empty means the primary calendar. */
    calendars: string[];
    window_days_back: number;
    window_days_ahead: number;
    interval_secs: number;
    page_size: number;
    request_timeout_secs: number;
    write_batch: number;
  };
  agenda: { days: number; timezone: string | null };
  features: {
    calendar_sync: boolean;
    presence: boolean;
    automatic_replies: boolean;
    extended_scopes: boolean;
  };
  presence: PresenceConfigJson;
  reminders: { enabled: boolean };
  app: { start_at_login: boolean; language: 'system' | 'en' | 'de' };
}

export type Availability = 'Available' | 'Busy' | 'DoNotDisturb' | 'BeRightBack' | 'Away' | 'Offline';

/** engine presence::Profile */
export interface PresenceProfile {
  name: string;
  priority: number;
  teams?: { availability: string; activity: string } | null;
  status_message?: string | null;
  forwarding?: { target?: string | null } | Record<string, unknown> | null;
  automatic_replies?: Record<string, unknown> | null;
}

/** engine presence::Rule; every condition given must hold. */
export interface PresenceRule {
  profile?: string | null;
  show_as?: ShowAs[];
  category?: string | null;
  subject_contains?: string | null;
  [other: string]: unknown;
}

export interface ForwardingConfigJson {
  provider: 'none' | 'webex' | 'ami' | 'http' | 'command';
  timeout_secs: number;
  webex?: Record<string, unknown> | null;
  ami?: Record<string, unknown> | null;
  http?: Record<string, unknown> | null;
  command?: Record<string, unknown> | null;
}

export interface PresenceConfigJson {
  profiles: PresenceProfile[];
  rules: PresenceRule[];
  default_rules: boolean;
  forwarding: ForwardingConfigJson;
}

/** The application (app registration) sign-in uses, and where it came from. */
export interface AppRegistration {
  display_name: string | null;
  client_id: string;
  tenant: string;
  authority_host: string;
  graph_endpoint: string;
  source: 'policy' | 'user' | 'demo';
}

export interface CalendarChoice {
  id: string;
  name: string;
  color: string | null;
  primary: boolean;
}

/** `settings_get` / `settings_save` */
export interface SettingsView {
  config: ConfigJson;
  /**
   * Dotted keys locked by the organization ("sync.interval_secs", "presence.rules", or a
   * whole section like "presence.forwarding": a locked section locks every key under it).
   */
  locked: string[];
  /** The organization policy in force, if a policy file exists. */
  policy: { path: string; group: string | null; error: string | null } | null;
  /** The user's config file could not be read (the app runs on the defaults). */
  config_error: string | null;
  /** `disabled`: the organization turned calendar sync off. */
  sync_method: 'disabled' | 'microsoft365';
  account: { signed_in: boolean; upn: string | null; display_name: string | null };
  application: AppRegistration | null;
  /** Calendars known from the last sync. */
  calendars: CalendarChoice[];
  /** The built-in profiles (read-only; a user profile with the same name replaces one). */
  builtin_profiles: PresenceProfile[];
  config_path: string;
}

/** `presence_preview`: today's remaining plan with a draft presence configuration. */
export interface PlannedTransition {
  local: string;
  at: string;
  kind: string;
  [other: string]: unknown;
}

/** `forwarding_test` */
export interface ForwardingTestResult {
  ok: boolean;
  message: string;
}

// ---------------------------------------------------------------------------------------
// Added for the settings page (src/settings.ts): the exact serde shapes of the engine types
// the looser declarations above leave open. The existing declarations are unchanged.

/** engine presence::TeamsPresence (`mode` is required: the engine denies a profile without it). */
export interface TeamsPresenceJson {
  availability: Availability;
  activity: string;
  mode: 'session' | 'preferred';
}

/** engine presence::Forwarding as serialised: `"off"`, `"voicemail"` or `{ "number": "…" }`. */
export type ProfileForwardingJson = 'off' | 'voicemail' | { number: string };

/** engine forwarding::WebexConfig (`[presence.forwarding.webex]`; the token is in the keyring). */
export interface WebexConfigJson {
  base_url: string;
  person_id: string;
  voicemail: string;
}

/** engine forwarding::AmiConfig (`[presence.forwarding.ami]`; the secret is in the keyring). */
export interface AmiConfigJson {
  host: string;
  port: number;
  username: string;
  extension: string;
  voicemail: string;
  family: 'CF' | 'CFB' | 'CFU' | string;
}

/** engine forwarding::HttpRequestConfig */
export interface HttpRequestJson {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | null;
}

/** engine forwarding::HttpConfig (`[presence.forwarding.http]`). */
export interface HttpConfigJson {
  extension: string;
  voicemail: string;
  on: HttpRequestJson;
  off: HttpRequestJson;
}

/** engine forwarding::CommandConfig (`[presence.forwarding.command]`). */
export interface CommandConfigJson {
  program: string;
  on_args: string[];
  off_args: string[];
  extension: string;
  voicemail: string;
}
