// The IPC contract with the Rust side: generated from the Rust types by ts-rs into
// ./bindings (`bash scripts/gen-types.sh`; src-tauri/tests/bindings.rs fails when they are
// stale). This module only gives them the names the UI uses; nothing here is written by hand
// except IpcError, which also carries errors raised in the webview itself.
import type { ApiError } from './bindings/ApiError';
import type { AppStatus } from './bindings/AppStatus';
import type { Config } from './bindings/Config';
import type { PresenceConfig } from './bindings/PresenceConfig';
import type { ForwardingConfig } from './bindings/ForwardingConfig';
import type { Profile } from './bindings/Profile';
import type { Rule } from './bindings/Rule';
import type { TeamsPresence } from './bindings/TeamsPresence';
import type { Forwarding } from './bindings/Forwarding';
import type { WebexConfig } from './bindings/WebexConfig';
import type { AmiConfig } from './bindings/AmiConfig';
import type { HttpConfig } from './bindings/HttpConfig';
import type { HttpRequestConfig } from './bindings/HttpRequestConfig';
import type { CommandConfig } from './bindings/CommandConfig';
import type { ForwardingTest } from './bindings/ForwardingTest';
import type { ResponseStatus } from './bindings/ResponseStatus';
import type { AppointmentType } from './bindings/AppointmentType';
import type { SyncPhase } from './bindings/SyncPhase';

export type { ShowAs } from './bindings/ShowAs';
export type { Sensitivity } from './bindings/Sensitivity';
export type { AgendaItem } from './bindings/AgendaItem';
export type { AgendaDay } from './bindings/AgendaDay';
export type { AgendaView } from './bindings/AgendaView';
export type { PresenceProblem } from './bindings/PresenceProblem';
export type { ErrorHelp } from './bindings/ErrorHelp';
export type { ErrorCode } from './bindings/ErrorCode';
export type { SignInInfo } from './bindings/SignInInfo';
export type { BrowserSignIn } from './bindings/BrowserSignIn';
export type { DeviceCode } from './bindings/DeviceCode';
export type { SignInProgress } from './bindings/SignInProgress';
export type { SettingsView } from './bindings/SettingsView';
export type { AccountEntry } from './bindings/AccountEntry';
export type { AppRegistration } from './bindings/AppRegistration';
export type { CalendarChoice } from './bindings/CalendarChoice';
export type { PlannedTransition } from './bindings/PlannedTransition';
export type { Availability } from './bindings/Availability';
export type { Activity } from './bindings/Activity';

export type Response = ResponseStatus;
export type EventType = AppointmentType;
export type SyncState = SyncPhase;
/** `status` and the `status-changed` event. */
export type Status = AppStatus;

/**
 * Error objects rejected by `invoke`: the Rust side's ApiError, or one the webview raised
 * itself (an IPC failure is `internal`).
 */
export type IpcError = Omit<ApiError, 'code'> & { code: ApiError['code'] | 'internal' | (string & {}) };

/** The configuration in force, in the shape of config.toml (engine `Config`). */
export type ConfigJson = Config;
export type PresenceConfigJson = PresenceConfig;
export type ForwardingConfigJson = ForwardingConfig;
export type PresenceProfile = Profile;
export type PresenceRule = Rule;
export type TeamsPresenceJson = TeamsPresence;
export type ProfileForwardingJson = Forwarding;
export type WebexConfigJson = WebexConfig;
export type AmiConfigJson = AmiConfig;
export type HttpConfigJson = HttpConfig;
export type HttpRequestJson = HttpRequestConfig;
export type CommandConfigJson = CommandConfig;
/** `forwarding_test` */
export type ForwardingTestResult = ForwardingTest;
