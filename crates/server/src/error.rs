//! The server's typed errors: each has a stable code (for logs and `status`) and a message
//! that says what happened and what to do.

/// What went wrong in server mode.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the configuration {path} is invalid: {message}")]
    Config { path: String, message: String },
    /// A key or secret could not be used (never carries the secret itself).
    #[error("{0}")]
    Secret(String),
    #[error("the identity platform refused the token request ({code}): {message}")]
    TokenRefused { code: String, message: String },
    #[error("Graph refused {what} with 403 {code}: the app needs the application permission {permission} with an administrator's consent")]
    PermissionMissing {
        what: String,
        code: String,
        permission: &'static str,
    },
    #[error("the database {target} could not be reached: {detail}")]
    DatabaseUnreachable { target: String, detail: String },
    // Not a `#[source]`: the driver's message already ends with its cause, which an error
    // chain would print a second time.
    #[error("database error: {0}")]
    Database(tokio_postgres::Error),
    #[error("the database has schema version {found}, newer than this presently-server knows ({supported}); update presently-server")]
    SchemaTooNew { found: i32, supported: i32 },
    #[error("mailbox {mailbox}: the lease of fencing token {token} is no longer this worker's (now token {current:?}, held by {owner:?}); nothing was written")]
    Fenced {
        mailbox: String,
        token: i64,
        current: Option<i64>,
        owner: Option<String>,
    },
    #[error("sync of {mailbox}: {message}")]
    Sync { mailbox: String, message: String },
    /// The call-forwarding provider cannot be used (its credential, or it does not answer).
    #[error("call forwarding ([forwarding], {provider}): {error}")]
    Forwarding {
        provider: &'static str,
        error: presently_engine::presence::forwarding::ForwardingError,
    },
    /// `check`: Graph's validation handshake sent through `[notifications] public_url` did
    /// not come back from a presently-server webhook.
    #[error("the notification URL {url} does not reach a presently-server webhook: {detail} (Graph sends this validation request when a subscription is made, and gives up after 10 s)")]
    WebhookUnreachable { url: String, detail: String },
    #[error("presence automation stopped: {0}; the leases were released for the other workers")]
    PresenceStopped(String),
    #[error(transparent)]
    Engine(#[from] presently_engine::Error),
}

impl From<tokio_postgres::Error> for ServerError {
    fn from(e: tokio_postgres::Error) -> Self {
        ServerError::Database(e)
    }
}

impl ServerError {
    /// A stable identifier of the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            ServerError::Config { .. } => "config_invalid",
            ServerError::Secret(_) => "secret_unusable",
            ServerError::TokenRefused { .. } => "token_refused",
            ServerError::PermissionMissing { .. } => "permission_missing",
            ServerError::DatabaseUnreachable { .. } => "database_unreachable",
            ServerError::Database(_) => "database",
            ServerError::SchemaTooNew { .. } => "schema_too_new",
            ServerError::Fenced { .. } => "fenced",
            ServerError::Sync { .. } => "sync_failed",
            ServerError::Forwarding { .. } => "forwarding_unusable",
            ServerError::WebhookUnreachable { .. } => "webhook_unreachable",
            ServerError::PresenceStopped(_) => "presence_stopped",
            ServerError::Engine(e) => e.code().as_str(),
        }
    }
}
