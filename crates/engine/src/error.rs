//! The engine's typed errors and the `{code, message}` form the UI branches on.

use serde::Serialize;
use std::path::PathBuf;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the configuration file {path} is invalid at line {line}, key `{key}`: {reason}")]
    ConfigInvalid {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
    #[error("cannot read the configuration file {path}: {source}")]
    ConfigUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the local store {path} was written by a newer version of Presently (schema {found}, this version knows up to {supported}); update Presently or use another data directory"
    )]
    StoreTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "the local store {path} is damaged and was left untouched ({detail}); move it aside to let Presently rebuild it from the server"
    )]
    StoreCorrupt { path: PathBuf, detail: String },
    #[error("local store error: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("the server sent an answer Presently cannot use: {0}")]
    MalformedResponse(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    InvalidInput(String),
    /// The server could not be reached. `host` is `host:port`; `detail` is the whole
    /// sentence, naming both ("cannot connect to 127.0.0.1:8400: connection refused"; see
    /// `graph::client::network_error`).
    #[error("{detail}")]
    Network { host: String, detail: String },
    #[error("the access token was refused; sign in again")]
    Unauthorized,
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error("call forwarding: {0}")]
    Forwarding(#[from] crate::presence::forwarding::ForwardingError),
    #[error("the server answered {status} ({code}): {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "the organization policy file {path} is invalid at line {line}, key `{key}`: {reason}"
    )]
    PolicyInvalid {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
    #[error("`{key}` is set by your organization and cannot be changed")]
    SettingLocked { key: String },
    #[error("the setting `{key}` is invalid: {reason}")]
    InvalidSettings { key: String, reason: String },
    #[error("calendar sync is turned off (by your organization, or features.calendar_sync)")]
    SyncDisabled,
    /// A sync found no calendar to read: `reason` says why, naming the calendars chosen
    /// and those the account has.
    #[error("no calendar to sync: {reason}")]
    NoCalendar { reason: String },
    /// The organization's policy does not allow this: `reason` says what and why, naming
    /// the policy file (and its group, or why the file cannot be used).
    #[error("{reason}")]
    DisabledByPolicy { reason: String },
    /// An iCalendar feed that cannot be used (`ics`).
    #[error(transparent)]
    Feed(#[from] crate::ics::FeedError),
}

/// Stable codes the UI and scripts branch on. Their string form is a contract,
/// pinned by a test; add new ones, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ConfigInvalid,
    StoreTooNew,
    StoreCorrupt,
    Store,
    MalformedResponse,
    Io,
    InvalidInput,
    NotSignedIn,
    Network,
    Server,
    ConsentRequired,
    ConsentNeeded,
    ReauthRequired,
    AuthRefused,
    AuthFailed,
    LoginTimeout,
    LoginCancelled,
    KeyringUnavailable,
    Keyring,
    Internal,
    Forwarding,
    PolicyInvalid,
    SettingLocked,
    InvalidSettings,
    SyncDisabled,
    NoCalendar,
    DisabledByPolicy,
    /// What a calendar subscription fetched is not iCalendar (an HTML page, JSON).
    #[serde(rename = "not_icalendar")]
    NotICalendar,
    /// A calendar feed breaks iCalendar's rules beyond use.
    FeedInvalid,
    /// A calendar feed is larger than Presently reads (bytes, events, recurrences).
    FeedTooLarge,
}

impl ErrorCode {
    /// The code's stable string form (the same as its JSON form, pinned by a test).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::StoreTooNew => "store_too_new",
            ErrorCode::StoreCorrupt => "store_corrupt",
            ErrorCode::Store => "store",
            ErrorCode::MalformedResponse => "malformed_response",
            ErrorCode::Io => "io",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotSignedIn => "not_signed_in",
            ErrorCode::Network => "network",
            ErrorCode::Server => "server",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::ConsentNeeded => "consent_needed",
            ErrorCode::ReauthRequired => "reauth_required",
            ErrorCode::AuthRefused => "auth_refused",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::LoginTimeout => "login_timeout",
            ErrorCode::LoginCancelled => "login_cancelled",
            ErrorCode::KeyringUnavailable => "keyring_unavailable",
            ErrorCode::Keyring => "keyring",
            ErrorCode::Internal => "internal",
            ErrorCode::Forwarding => "forwarding",
            ErrorCode::PolicyInvalid => "policy_invalid",
            ErrorCode::SettingLocked => "setting_locked",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::SyncDisabled => "sync_disabled",
            ErrorCode::NoCalendar => "no_calendar",
            ErrorCode::DisabledByPolicy => "disabled_by_policy",
            ErrorCode::NotICalendar => "not_icalendar",
            ErrorCode::FeedInvalid => "feed_invalid",
            ErrorCode::FeedTooLarge => "feed_too_large",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::ConfigInvalid { .. } | Error::ConfigUnreadable { .. } => {
                ErrorCode::ConfigInvalid
            }
            Error::StoreTooNew { .. } => ErrorCode::StoreTooNew,
            Error::StoreCorrupt { .. } => ErrorCode::StoreCorrupt,
            Error::Store(_) => ErrorCode::Store,
            Error::MalformedResponse(_) => ErrorCode::MalformedResponse,
            Error::Io { .. } => ErrorCode::Io,
            Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::Network { .. } => ErrorCode::Network,
            Error::Unauthorized => ErrorCode::NotSignedIn,
            Error::Server { .. } => ErrorCode::Server,
            Error::Forwarding(_) => ErrorCode::Forwarding,
            Error::PolicyInvalid { .. } => ErrorCode::PolicyInvalid,
            Error::SettingLocked { .. } => ErrorCode::SettingLocked,
            Error::InvalidSettings { .. } => ErrorCode::InvalidSettings,
            Error::SyncDisabled => ErrorCode::SyncDisabled,
            Error::NoCalendar { .. } => ErrorCode::NoCalendar,
            Error::DisabledByPolicy { .. } => ErrorCode::DisabledByPolicy,
            Error::Feed(e) => e.code(),
            Error::Auth(e) => e.code(),
        }
    }
}

/// The serializable error every UI-facing surface returns: `{"code": "...", "message": "..."}`,
/// plus `"help"` (what happened and what to do next) for sign-in failures Presently can
/// explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub help: Option<Box<crate::auth::entra::ErrorHelp>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            help: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let help = match &err {
            Error::Auth(auth) => auth.help().cloned().map(Box::new),
            _ => None,
        };
        Self {
            code: err.code(),
            message: err.to_string(),
            help,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are a contract with the UI: this pins their JSON form.
    #[test]
    fn error_codes_serialize_to_the_pinned_strings() {
        let pinned = [
            (ErrorCode::ConfigInvalid, "config_invalid"),
            (ErrorCode::StoreTooNew, "store_too_new"),
            (ErrorCode::StoreCorrupt, "store_corrupt"),
            (ErrorCode::Store, "store"),
            (ErrorCode::MalformedResponse, "malformed_response"),
            (ErrorCode::Io, "io"),
            (ErrorCode::InvalidInput, "invalid_input"),
            (ErrorCode::NotSignedIn, "not_signed_in"),
            (ErrorCode::Network, "network"),
            (ErrorCode::Server, "server"),
            (ErrorCode::ConsentRequired, "consent_required"),
            (ErrorCode::ConsentNeeded, "consent_needed"),
            (ErrorCode::ReauthRequired, "reauth_required"),
            (ErrorCode::AuthRefused, "auth_refused"),
            (ErrorCode::AuthFailed, "auth_failed"),
            (ErrorCode::LoginTimeout, "login_timeout"),
            (ErrorCode::LoginCancelled, "login_cancelled"),
            (ErrorCode::KeyringUnavailable, "keyring_unavailable"),
            (ErrorCode::Keyring, "keyring"),
            (ErrorCode::Internal, "internal"),
            (ErrorCode::Forwarding, "forwarding"),
            (ErrorCode::PolicyInvalid, "policy_invalid"),
            (ErrorCode::SettingLocked, "setting_locked"),
            (ErrorCode::InvalidSettings, "invalid_settings"),
            (ErrorCode::SyncDisabled, "sync_disabled"),
            (ErrorCode::NoCalendar, "no_calendar"),
            (ErrorCode::DisabledByPolicy, "disabled_by_policy"),
            (ErrorCode::NotICalendar, "not_icalendar"),
            (ErrorCode::FeedInvalid, "feed_invalid"),
            (ErrorCode::FeedTooLarge, "feed_too_large"),
        ];
        for (code, text) in pinned {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(text));
            assert_eq!(code.as_str(), text);
        }
    }

    #[test]
    fn api_error_json_shape_is_code_and_message() {
        let err = Error::StoreTooNew {
            path: "/tmp/x.db".into(),
            found: 9,
            supported: 2,
        };
        let json = serde_json::to_value(ApiError::from(err)).unwrap();
        assert_eq!(json["code"], "store_too_new");
        assert!(json["message"].as_str().unwrap().contains("schema 9"));
        assert_eq!(json.as_object().unwrap().len(), 2);
    }
}
