//! Presently's server mode: organization-wide calendar sync with app-only access to
//! Microsoft Graph, on PostgreSQL, shared by several worker processes through leases with
//! fencing tokens. It shares the engine's sync logic and Graph client with the desktop app.

pub mod auth;
pub mod batching;
pub mod config;
pub mod directory;
pub mod error;
pub mod forwarding;
pub mod metrics;
pub mod notifications;
pub mod policy;
pub mod presence;
pub mod secret;
pub mod store;
pub mod sync;
pub mod webhook;
pub mod worker;

pub use config::ServerConfig;
pub use error::ServerError;

use std::sync::Arc;

/// The default worker id: host name and process id.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// Connects to the configured database (reading its password file, if any).
pub async fn open_store(
    config: &ServerConfig,
    clock: Arc<dyn presently_engine::Clock>,
) -> Result<store::Store, ServerError> {
    let password = match &config.database.password_file {
        Some(path) => Some(secret::read_secret_file(path, "database password")?),
        None => None,
    };
    store::Store::connect_verified_by(
        &config.database.url,
        password.as_ref(),
        config.database.ca_file.as_deref(),
        clock,
    )
    .await?
    .with_connections(config.database.connections)
    .await
    .map(|store| store.reserve_for_presence(config.database.reserved_for_presence()))
}

/// The app-only token source the configuration describes.
pub fn token_source(
    config: &ServerConfig,
    clock: Arc<dyn presently_engine::Clock>,
) -> Result<auth::AppTokenSource, ServerError> {
    let credential = auth::Credential::load(&config.identity)?;
    auth::AppTokenSource::new(
        &config.identity.authority,
        &config.identity.tenant,
        &config.identity.client_id,
        &config.graph.endpoint,
        credential,
        clock,
    )
}

/// The organization policy the configuration names (`[policy] file`), read at start (`serve`
/// reads it again on SIGHUP, through [`policy::reload`]).
pub fn load_policy(
    config: &ServerConfig,
) -> Result<Option<Arc<presently_engine::policy::OrgPolicy>>, ServerError> {
    config
        .policy
        .file
        .as_deref()
        .map(|path| policy::load(path).map(Arc::new))
        .transpose()
}
