//! The organization policy file (the clients' `policy.toml`, read by the engine) applied per
//! user as on clients: the user's group (by UPN: listed users, then domains, then the
//! default group) decides whether their calendar syncs and gives the sync window. The
//! server's own `[sync]` days play the part of a user's `config.toml`: they apply unless the
//! group locks the keys.

use crate::config::SyncConfig;
use crate::error::ServerError;
use presently_engine::policy::{self, OrgPolicy, SyncMethod};
use std::path::Path;

/// What the policy decides for one user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPolicy {
    /// The user's configuration group, if the policy has one for them.
    pub group: Option<String>,
    /// Whether their calendar syncs (the group's `sync`, `allow_microsoft365` and
    /// `features.calendar_sync`).
    pub sync: bool,
    pub days_back: u32,
    pub days_ahead: u32,
    /// Who automates the user's presence (the group's `automation`): the server only
    /// automates users whose group says `server`.
    pub automation: presently_engine::policy::Automation,
    /// The group's profiles and rules (`[presence]` of its settings).
    pub presence: presently_engine::presence::PresenceConfig,
    /// The group's `features.automatic_replies`.
    pub automatic_replies: bool,
    /// The group's `agenda.timezone`, when it names a zone: the users' zone, before their
    /// mailbox settings' (as a client's own setting comes before `TZ` and the system).
    pub time_zone: Option<chrono_tz::Tz>,
}

/// Reads the policy file at `path`; a file that cannot be used is an error naming the file,
/// line and key (a server refuses to start on it rather than sync with the wrong rules).
pub fn load(path: &Path) -> Result<OrgPolicy, ServerError> {
    let loaded = policy::load(path);
    if let Some(e) = loaded.error {
        return Err(ServerError::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        });
    }
    loaded.policy.ok_or_else(|| ServerError::Config {
        path: path.display().to_string(),
        message: "the policy file does not exist".into(),
    })
}

/// The policy for `user` (a UPN; an object id matches only the default group).
pub fn for_user(
    org: Option<&OrgPolicy>,
    user: &str,
    sync: &SyncConfig,
) -> Result<UserPolicy, ServerError> {
    let mut window = toml::Table::new();
    if let Some(days) = sync.days_back {
        window.insert("window_days_back".into(), toml::Value::Integer(days.into()));
    }
    if let Some(days) = sync.days_ahead {
        window.insert(
            "window_days_ahead".into(),
            toml::Value::Integer(days.into()),
        );
    }
    let mut table = toml::Table::new();
    if !window.is_empty() {
        table.insert("sync".into(), toml::Value::Table(window));
    }
    let upn = user.contains('@').then_some(user);
    let layered = policy::resolve(org, &table, upn)?;
    Ok(UserPolicy {
        group: layered.group.clone(),
        sync: layered.sync_method == SyncMethod::Microsoft365
            && layered.allow_microsoft365
            && layered.config.features.calendar_sync,
        days_back: layered.config.sync.window_days_back,
        days_ahead: layered.config.sync.window_days_ahead,
        automation: layered.automation,
        presence: layered.config.presence.clone(),
        automatic_replies: layered.config.features.automatic_replies,
        time_zone: presently_engine::zone::configured_zone(
            layered.config.agenda.timezone.as_deref(),
        ),
    })
}

/// The organization policy in force, shared by the sync, the users source and the presence
/// runner of one worker. `serve` replaces it as a whole when the file is read again
/// (SIGHUP, see [`reload`]); each reader takes the policy of the moment
/// ([`SharedPolicy::current`]), and the presence runner is woken by the change
/// ([`SharedPolicy::subscribe`]).
#[derive(Clone)]
pub struct SharedPolicy(
    std::sync::Arc<tokio::sync::watch::Sender<Option<std::sync::Arc<OrgPolicy>>>>,
);

impl SharedPolicy {
    pub fn new(policy: Option<std::sync::Arc<OrgPolicy>>) -> Self {
        Self(std::sync::Arc::new(tokio::sync::watch::Sender::new(policy)))
    }

    /// The policy in force now.
    pub fn current(&self) -> Option<std::sync::Arc<OrgPolicy>> {
        self.0.borrow().clone()
    }

    /// Puts `policy` in force.
    pub fn replace(&self, policy: Option<std::sync::Arc<OrgPolicy>>) {
        self.0.send_replace(policy);
    }

    /// Told of every replacement.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<std::sync::Arc<OrgPolicy>>> {
        self.0.subscribe()
    }
}

impl Default for SharedPolicy {
    fn default() -> Self {
        Self::new(None)
    }
}

impl From<Option<std::sync::Arc<OrgPolicy>>> for SharedPolicy {
    fn from(policy: Option<std::sync::Arc<OrgPolicy>>) -> Self {
        Self::new(policy)
    }
}

impl std::fmt::Debug for SharedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPolicy")
            .field("groups", &self.current().map(|p| p.groups.len()))
            .finish()
    }
}

/// Reads the policy file at `path` again and checks it whole before it is used: the file
/// itself ([`load`]), then every group as the server would apply it (its settings for a
/// user of the group, its profiles and rules in their server form). Any error names the
/// file and the group; the caller keeps the policy in force (nothing of a half-valid file
/// is applied).
pub fn reload(path: &Path, sync: &SyncConfig) -> Result<OrgPolicy, ServerError> {
    let org = load(path)?;
    for group in &org.groups {
        // A user the group matches: one of its users, one of its domains, or (the default
        // group) anybody; a group that matches nobody is not applied to anyone.
        let user = if let Some(u) = group.users.first() {
            u.clone()
        } else if let Some(d) = group.domains.first() {
            format!("someone@{}", d.trim_start_matches('@'))
        } else if group.default {
            "someone".to_owned()
        } else {
            continue;
        };
        let invalid = |message: String| ServerError::Config {
            path: path.display().to_string(),
            message: format!("group {:?}: {message}", group.name),
        };
        let rules = for_user(Some(&org), &user, sync).map_err(|e| invalid(e.to_string()))?;
        crate::presence::server_policy(&rules.presence, rules.automatic_replies, true)
            .map_err(|e| invalid(e.to_string()))?;
    }
    Ok(org)
}
