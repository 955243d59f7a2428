//! The organization policy: a system-wide TOML file an administrator deploys
//! (`/etc/presently/policy.toml` on Linux, `/Library/Application Support/Presently/policy.toml`
//! on macOS, `%ProgramData%\Presently\policy.toml` on Windows; `PRESENTLY_POLICY` names
//! another file).
//!
//! It registers the Graph applications (app registrations) of the organization and sorts
//! users into configuration groups by their UPN: an explicit user list first, then the
//! UPN's domain, else the default group. A group says how calendars sync (`disabled`, or
//! `microsoft365` with one of the applications), gives default settings in the shape of the
//! user's `config.toml`, and locks keys the user cannot change.
//!
//! The configuration in force is layered, each layer over the one before:
//! built-in defaults < the group's `settings` < the user's own file < locked keys (the
//! policy's value). Layering works on the raw TOML tables, so a key the user did not write
//! never hides the group's value. An application chosen by the group sets and locks every
//! `microsoft.*` key; sync `disabled` sets and locks `features.calendar_sync = false`.
//!
//! A policy that cannot be used never stops the app: [`load`] returns the error (naming the
//! file, line and key) and no policy, and the caller runs on the built-in defaults. A valid
//! policy always resolves for a user with an empty configuration file (checked by [`load`]).

use crate::config::{self, Config, MicrosoftConfig};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The environment variable naming another policy file (tests, staged roll-outs).
pub const POLICY_ENV: &str = "PRESENTLY_POLICY";

/// The keys an application chosen by policy sets, and locks.
pub const APPLICATION_KEYS: [&str; 6] = [
    "microsoft.client_id",
    "microsoft.tenant",
    "microsoft.authority_host",
    "microsoft.graph_endpoint",
    "microsoft.redirect_path",
    "microsoft.outlook_web_host",
];

/// The key sync `disabled` sets to `false`, and locks.
pub const CALENDAR_SYNC_KEY: &str = "features.calendar_sync";

/// The features `allow_microsoft365 = false` sets to `false`, and locks: each talks to
/// Microsoft 365 (sign-in is refused as well; see [`crate::effective`]).
pub const MICROSOFT365_FEATURE_KEYS: [&str; 3] = [
    CALENDAR_SYNC_KEY,
    "features.presence",
    "features.automatic_replies",
];

/// The policy file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicy {
    /// The organization's app registrations (`[[applications]]`).
    #[serde(default)]
    pub applications: Vec<GraphApplication>,
    /// The configuration groups (`[[groups]]`), tried as described on [`OrgPolicy::find_group`].
    #[serde(default)]
    pub groups: Vec<PolicyGroup>,
}

/// An app registration in Microsoft Entra ID, and the cloud it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphApplication {
    /// What groups call it by (`application = "<key>"`).
    pub key: String,
    /// The name users see (settings, sign-in window).
    pub display_name: String,
    /// Application (client) ID: a GUID.
    pub client_id: String,
    /// Directory (tenant) ID, a verified domain, or `organizations`/`common`/`consumers`.
    pub tenant: String,
    /// The identity platform's host (national clouds); the global one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_host: Option<String>,
    /// Microsoft Graph's host (national clouds); the global one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_endpoint: Option<String>,
    /// The path of the registered loopback redirect URI; `/` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_path: Option<String>,
    /// Outlook on the web's host (national clouds); `outlook.office365.com` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlook_web_host: Option<String>,
}

impl GraphApplication {
    /// The `[microsoft]` section this application stands for.
    pub fn microsoft_config(&self) -> MicrosoftConfig {
        let d = MicrosoftConfig::default();
        MicrosoftConfig {
            client_id: Some(self.client_id.clone()),
            tenant: self.tenant.clone(),
            authority_host: self.authority_host.clone().unwrap_or(d.authority_host),
            graph_endpoint: self.graph_endpoint.clone().unwrap_or(d.graph_endpoint),
            redirect_path: self.redirect_path.clone().unwrap_or(d.redirect_path),
            outlook_web_host: self.outlook_web_host.clone().unwrap_or(d.outlook_web_host),
        }
    }
}

/// How a group's calendars sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
pub enum SyncMethod {
    /// No calendar sync (`features.calendar_sync = false`, locked).
    #[serde(rename = "disabled")]
    Disabled,
    /// Microsoft 365 through Microsoft Graph, with the group's application.
    #[default]
    #[serde(rename = "microsoft365")]
    Microsoft365,
}

impl SyncMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMethod::Disabled => "disabled",
            SyncMethod::Microsoft365 => "microsoft365",
        }
    }
}

/// A configuration group (`[[groups]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyGroup {
    /// Shown to users and administrators (`presently policy`, settings).
    pub name: String,
    /// The group of everyone no other group names (at most one).
    #[serde(default)]
    pub default: bool,
    /// UPN domains (`contoso.com`), compared without case; exact, subdomains not included.
    #[serde(default)]
    pub domains: Vec<String>,
    /// UPNs, compared without case; a user listed here belongs to this group whatever
    /// their domain.
    #[serde(default)]
    pub users: Vec<String>,
    /// `microsoft365` (the default) or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncMethod>,
    /// The key of the application sign-in and sync use; when absent the user's own
    /// `[microsoft]` settings (or first-launch registration) apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Whether Microsoft 365 may be used at all; `false` means sync is `disabled` and the
    /// user cannot turn it on.
    #[serde(default = "yes")]
    pub allow_microsoft365: bool,
    /// Dotted configuration keys the user cannot change; a table locks every key under it.
    #[serde(default)]
    pub locked: Vec<String>,
    /// Default settings, in the shape of the user's `config.toml`.
    #[serde(default)]
    pub settings: Table,
    /// Who automates the group's presence: the clients (the default) or `presently-server`
    /// (`"server"`), whose users' clients then never switch presence themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation: Option<Automation>,
}

/// Who runs presence automation for a group's users: never both, so a user is never
/// automated twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Automation {
    /// Each user's own client (app, tray host or `presently run`).
    #[default]
    Client,
    /// `presently-server`, with application permissions: the clients set
    /// `features.presence = false` (locked) and only give back what they still hold.
    Server,
}

/// The key a group automated by the server sets to `false`, and locks, on its clients.
pub const PRESENCE_KEY: &str = "features.presence";

fn yes() -> bool {
    true
}

/// Why a group applies to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMatch {
    /// The UPN is in the group's `users`.
    User,
    /// The UPN's domain is in the group's `domains`.
    Domain,
    /// No group names the user (or no UPN is known yet): the default group.
    Default,
}

impl OrgPolicy {
    /// Parses and checks policy text read from `path`; errors name the file, line and key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let invalid = |line: usize, key: String, reason: String| Error::PolicyInvalid {
            path: path.to_owned(),
            line,
            key,
            reason,
        };
        let policy: OrgPolicy = match toml::from_str(text) {
            Ok(p) => p,
            Err(err) => {
                let (line, key) = config::locate_de_error::<OrgPolicy>(text, &err);
                return Err(invalid(line, key, err.message().to_owned()));
            }
        };
        if let Err((key, reason)) = policy.validate() {
            let line = line_of_key(text, &key).unwrap_or(1);
            return Err(invalid(line, key, reason));
        }
        Ok(policy)
    }

    /// Checks what parses but cannot work; the key names the place in the file
    /// (`groups[1].settings.sync.interval_secs`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let mut keys = BTreeSet::new();
        for (i, app) in self.applications.iter().enumerate() {
            let at = |k: &str| format!("applications[{i}].{k}");
            if app.key.trim().is_empty()
                || !app
                    .key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err((
                    at("key"),
                    format!("{:?} is not a key; use letters, digits, - and _", app.key),
                ));
            }
            if !keys.insert(app.key.as_str()) {
                return Err((
                    at("key"),
                    format!("there are two applications with the key {:?}", app.key),
                ));
            }
            if app.display_name.trim().is_empty()
                || app.display_name.chars().count() > 100
                || app.display_name.chars().any(char::is_control)
            {
                return Err((
                    at("display_name"),
                    "must be 1 to 100 printable characters".into(),
                ));
            }
            if !config::is_guid(&app.client_id) {
                return Err((
                    at("client_id"),
                    format!("{:?} is not an application (client) id; expected a GUID like 00000000-0000-0000-0000-000000000000", app.client_id),
                ));
            }
            if !config::is_tenant(&app.tenant) {
                return Err((
                    at("tenant"),
                    format!(
                        "{:?} is not a directory (tenant) id, a verified domain, organizations, common or consumers",
                        app.tenant
                    ),
                ));
            }
            for (k, v) in [
                ("authority_host", &app.authority_host),
                ("graph_endpoint", &app.graph_endpoint),
            ] {
                if let Some(v) = v {
                    config::check_endpoint(v).map_err(|r| (at(k), r))?;
                }
            }
            if let Some(p) = &app.redirect_path {
                if !p.starts_with('/') {
                    return Err((at("redirect_path"), "must start with /".into()));
                }
            }
            if let Some(h) = &app.outlook_web_host {
                if !is_host(h) {
                    return Err((
                        at("outlook_web_host"),
                        format!("{h:?} is not a host name such as outlook.office365.com (no https://, no path)"),
                    ));
                }
            }
        }

        let mut names = BTreeSet::new();
        let mut default = None;
        let mut domains: Vec<(String, &str)> = Vec::new();
        let mut users: Vec<(String, &str)> = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            let at = |k: &str| format!("groups[{i}].{k}");
            if g.name.trim().is_empty() || g.name.chars().any(char::is_control) {
                return Err((at("name"), "a group needs a name".into()));
            }
            if !names.insert(g.name.as_str()) {
                return Err((
                    at("name"),
                    format!("there are two groups named {:?}", g.name),
                ));
            }
            if g.default {
                if let Some(other) = default.replace(g.name.as_str()) {
                    return Err((
                        at("default"),
                        format!("{other:?} is already the default group; there can be only one"),
                    ));
                }
            } else if g.domains.is_empty() && g.users.is_empty() {
                return Err((
                    at("name"),
                    format!(
                        "group {:?} names no domains and no users, and is not the default group",
                        g.name
                    ),
                ));
            }
            for d in &g.domains {
                let d = d.trim();
                if !is_domain(d) {
                    return Err((
                        at("domains"),
                        format!("{d:?} is not a domain such as contoso.com"),
                    ));
                }
                let lower = d.to_lowercase();
                if let Some((_, other)) = domains.iter().find(|(x, _)| *x == lower) {
                    return Err((
                        at("domains"),
                        format!("the domain {d:?} is in group {other:?} already"),
                    ));
                }
                domains.push((lower, g.name.as_str()));
            }
            for u in &g.users {
                let u = u.trim();
                let ok = u
                    .split_once('@')
                    .is_some_and(|(name, domain)| !name.is_empty() && is_domain(domain));
                if !ok || u.chars().any(char::is_whitespace) {
                    return Err((
                        at("users"),
                        format!("{u:?} is not a user principal name such as alex@contoso.com"),
                    ));
                }
                let lower = u.to_lowercase();
                if let Some((_, other)) = users.iter().find(|(x, _)| *x == lower) {
                    return Err((at("users"), format!("{u:?} is in group {other:?} already")));
                }
                users.push((lower, g.name.as_str()));
            }
            let enabled = g.allow_microsoft365 && g.sync != Some(SyncMethod::Disabled);
            if !g.allow_microsoft365 && g.sync == Some(SyncMethod::Microsoft365) {
                return Err((
                    at("sync"),
                    "is microsoft365, but allow_microsoft365 is false".into(),
                ));
            }
            if let Some(key) = &g.application {
                if !enabled {
                    return Err((
                        at("application"),
                        format!(
                            "group {:?} does not sync with Microsoft 365, so it uses no application",
                            g.name
                        ),
                    ));
                }
                if self.application(key).is_none() {
                    let known: Vec<&str> =
                        self.applications.iter().map(|a| a.key.as_str()).collect();
                    return Err((
                        at("application"),
                        format!(
                            "there is no application {key:?}; known: {}",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
                if g.settings.contains_key("microsoft") {
                    return Err((
                        at("settings.microsoft"),
                        format!(
                            "the application {key:?} sets the [microsoft] settings of group {:?}",
                            g.name
                        ),
                    ));
                }
            }
            for key in &g.locked {
                check_config_key(key).map_err(|reason| (at("locked"), reason))?;
            }
            // The group must work for a user who wrote nothing.
            if let Err(err) = resolve_group(Some(self), Some(g), &Table::new()) {
                let (key, reason) = match err {
                    Error::InvalidSettings { key, reason } => (key, reason),
                    other => (String::new(), other.to_string()),
                };
                let key = if key.is_empty() {
                    at("settings")
                } else {
                    at(&format!("settings.{key}"))
                };
                return Err((key, format!("group {:?}: {reason}", g.name)));
            }
        }
        Ok(())
    }

    /// The application with this key.
    pub fn application(&self, key: &str) -> Option<&GraphApplication> {
        self.applications.iter().find(|a| a.key == key)
    }

    /// The default group, if there is one.
    pub fn default_group(&self) -> Option<&PolicyGroup> {
        self.groups.iter().find(|g| g.default)
    }

    /// The group for a user: the first group listing the UPN in `users`, else the first
    /// listing its domain in `domains` (both without case), else the default group (also
    /// when no UPN is known, before sign-in).
    pub fn find_group(&self, upn: Option<&str>) -> Option<(&PolicyGroup, GroupMatch)> {
        if let Some(upn) = upn.map(str::trim).filter(|u| !u.is_empty()) {
            let upn = upn.to_lowercase();
            if let Some(g) = self
                .groups
                .iter()
                .find(|g| g.users.iter().any(|u| u.trim().to_lowercase() == upn))
            {
                return Some((g, GroupMatch::User));
            }
            if let Some((_, domain)) = upn.rsplit_once('@') {
                if let Some(g) = self
                    .groups
                    .iter()
                    .find(|g| g.domains.iter().any(|d| d.trim().to_lowercase() == domain))
                {
                    return Some((g, GroupMatch::Domain));
                }
            }
        }
        self.default_group().map(|g| (g, GroupMatch::Default))
    }

    /// [`OrgPolicy::find_group`] without the reason.
    pub fn group_for(&self, upn: Option<&str>) -> Option<&PolicyGroup> {
        self.find_group(upn).map(|(g, _)| g)
    }
}

/// Where the policy file is: `PRESENTLY_POLICY`, else the platform's place.
pub fn policy_path() -> PathBuf {
    std::env::var_os(POLICY_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(platform_policy_path)
}

#[cfg(windows)]
fn platform_policy_path() -> PathBuf {
    std::env::var_os("ProgramData")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
        .join("Presently")
        .join("policy.toml")
}

#[cfg(target_os = "macos")]
fn platform_policy_path() -> PathBuf {
    PathBuf::from("/Library/Application Support/Presently/policy.toml")
}

#[cfg(not(any(windows, target_os = "macos")))]
fn platform_policy_path() -> PathBuf {
    PathBuf::from("/etc/presently/policy.toml")
}

/// What [`load`] found.
#[derive(Debug)]
pub struct PolicyLoad {
    pub path: PathBuf,
    /// The policy in force; `None` when there is no file or it cannot be used.
    pub policy: Option<OrgPolicy>,
    /// Why the file cannot be used ([`Error::PolicyInvalid`] naming file, line and key, or
    /// [`Error::Io`]); the caller runs on the built-in defaults.
    pub error: Option<Error>,
}

/// Reads and checks the policy file. A missing file is no policy and no error.
pub fn load(path: &Path) -> PolicyLoad {
    let (policy, error) = match std::fs::read_to_string(path) {
        Ok(text) => match OrgPolicy::parse(path, &text) {
            Ok(policy) => (Some(policy), None),
            Err(err) => (None, Some(err)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(source) => (
            None,
            Some(Error::Io {
                path: path.to_owned(),
                source,
            }),
        ),
    };
    PolicyLoad {
        path: path.to_owned(),
        policy,
        error,
    }
}

/// The configuration in force for one user, and what the policy decided about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Layered {
    /// defaults < group settings < the user's file < locked keys.
    pub config: Config,
    /// The dotted keys the user cannot change (see [`is_locked`]).
    pub locked: BTreeSet<String>,
    /// The name of the user's group.
    pub group: Option<String>,
    /// The application the group uses; it set the `microsoft.*` keys.
    pub application: Option<GraphApplication>,
    pub sync_method: SyncMethod,
    /// Whether the user may use Microsoft 365 at all.
    pub allow_microsoft365: bool,
    /// Who automates the user's presence (the group's `automation`).
    pub automation: Automation,
    base: Config,
}

impl Layered {
    /// What the user's file is compared with: the defaults with the group's settings (and
    /// the application's and the sync method's values). See [`user_table_for`].
    pub fn base(&self) -> &Config {
        &self.base
    }

    /// Whether `key` is locked (itself or a table above it).
    pub fn is_locked(&self, key: &str) -> bool {
        is_locked(&self.locked, key)
    }

    /// The user's file content to save for `edited`: [`check_locked`], then
    /// [`user_table_for`] against [`Layered::base`].
    pub fn user_table(&self, edited: &Config) -> Result<Table, Error> {
        check_locked(edited, self)?;
        Ok(user_table_for(edited, &self.base, &self.locked))
    }
}

/// The configuration in force: the built-in defaults, the settings of the user's group
/// (by `upn`; the default group when `None`), the user's own `user` table (the keys of
/// their file, from [`Config::read_user_table`]), and the locked keys at the policy's
/// values. A result that does not validate is [`Error::InvalidSettings`] naming the key.
pub fn resolve(
    policy: Option<&OrgPolicy>,
    user: &Table,
    upn: Option<&str>,
) -> Result<Layered, Error> {
    resolve_group(policy, policy.and_then(|p| p.group_for(upn)), user)
}

/// [`resolve`] with the user's file at `path`: a file that does not validate is
/// [`Error::ConfigInvalid`] naming the file, the line (where the key is in the file) and
/// the key. A missing file is an empty one.
pub fn resolve_file(
    policy: Option<&OrgPolicy>,
    path: &Path,
    upn: Option<&str>,
) -> Result<Layered, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::ConfigUnreadable {
                path: path.to_owned(),
                source,
            })
        }
    };
    let user = Config::parse_user_table(path, &text)?;
    resolve(policy, &user, upn).map_err(|err| match err {
        Error::InvalidSettings { key, reason } => Error::ConfigInvalid {
            path: path.to_owned(),
            line: config::find_key_line(&text, &config::strip_indices(&key)).unwrap_or(1),
            key,
            reason,
        },
        other => other,
    })
}

fn resolve_group(
    policy: Option<&OrgPolicy>,
    group: Option<&PolicyGroup>,
    user: &Table,
) -> Result<Layered, Error> {
    let mut base_table = Config::default().to_table()?;
    let mut locked = BTreeSet::new();
    let mut sync_method = SyncMethod::Microsoft365;
    let mut allow_microsoft365 = true;
    let mut application = None;
    let automation = group.and_then(|g| g.automation).unwrap_or_default();
    if let Some(g) = group {
        merge(&mut base_table, &g.settings);
        if automation == Automation::Server {
            // The server automates these users: their clients must not as well.
            set_path(&mut base_table, PRESENCE_KEY, Value::Boolean(false));
            locked.insert(PRESENCE_KEY.to_owned());
        }
        allow_microsoft365 = g.allow_microsoft365;
        sync_method = if allow_microsoft365 {
            g.sync.unwrap_or_default()
        } else {
            SyncMethod::Disabled
        };
        match sync_method {
            SyncMethod::Microsoft365 => {
                if let Some(key) = &g.application {
                    let app = policy.and_then(|p| p.application(key)).ok_or_else(|| {
                        Error::InvalidSettings {
                            key: "microsoft".into(),
                            reason: format!(
                                "group {:?} names the application {key:?}, which the policy does not define",
                                g.name
                            ),
                        }
                    })?;
                    let microsoft = Value::try_from(app.microsoft_config()).map_err(|e| {
                        Error::InvalidInput(format!("cannot apply the application: {e}"))
                    })?;
                    base_table.insert("microsoft".into(), microsoft);
                    locked.extend(APPLICATION_KEYS.iter().map(|k| (*k).to_owned()));
                    application = Some(app.clone());
                }
            }
            SyncMethod::Disabled => {
                set_path(&mut base_table, CALENDAR_SYNC_KEY, Value::Boolean(false));
                locked.insert(CALENDAR_SYNC_KEY.to_owned());
            }
        }
        if !allow_microsoft365 {
            // No Microsoft 365 at all: nothing that talks to it stays on, on any surface.
            for key in MICROSOFT365_FEATURE_KEYS {
                set_path(&mut base_table, key, Value::Boolean(false));
                locked.insert(key.to_owned());
            }
        }
        locked.extend(g.locked.iter().map(|k| k.trim().to_owned()));
    }
    let base = config_from_table(base_table.clone())?;

    let mut merged = base_table.clone();
    merge(&mut merged, user);
    for key in &locked {
        match get_path(&base_table, key) {
            Some(value) => set_path(&mut merged, key, value.clone()),
            None => remove_path(&mut merged, key),
        }
    }
    let config = config_from_table(merged)?;
    Ok(Layered {
        config,
        locked,
        group: group.map(|g| g.name.clone()),
        application,
        sync_method,
        allow_microsoft365,
        automation,
        base,
    })
}

/// Whether `key` is locked: listed itself, or under a listed table
/// (`presence.forwarding.provider` is locked by `presence.forwarding`).
pub fn is_locked(locked: &BTreeSet<String>, key: &str) -> bool {
    locked.iter().any(|l| {
        key == l
            || key
                .strip_prefix(l.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The user's file content to save for an edited config: only the keys whose value
/// differs from `base` (defaults ⊕ group settings), locked keys left out. Lists are
/// written whole. Resolving the result gives `edited` back (for an `edited` that keeps
/// the locked values), except for what a file cannot say: an optional table the group
/// set and the user removed (the agenda's zone can: it is written as `"system"`).
pub fn user_table_for(edited: &Config, base: &Config, locked: &BTreeSet<String>) -> Table {
    match (edited.to_table(), base.to_table()) {
        (Ok(e), Ok(b)) => diff(&e, &b, "", locked),
        _ => Table::new(),
    }
}

/// `Err(Error::SettingLocked { key })` when `edited` changes a locked key's value relative
/// to `layered.config`.
pub fn check_locked(edited: &Config, layered: &Layered) -> Result<(), Error> {
    let e = edited.to_table()?;
    let c = layered.config.to_table()?;
    for key in &layered.locked {
        if get_path(&e, key) != get_path(&c, key) {
            return Err(Error::SettingLocked { key: key.clone() });
        }
    }
    Ok(())
}

fn diff(edited: &Table, base: &Table, prefix: &str, locked: &BTreeSet<String>) -> Table {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    let empty = Table::new();
    let mut out = Table::new();
    for (k, v) in edited {
        let path = join(k);
        if is_locked(locked, &path) {
            continue;
        }
        match (v, base.get(k)) {
            (Value::Table(e), Some(Value::Table(b))) => {
                let d = diff(e, b, &path, locked);
                if !d.is_empty() {
                    out.insert(k.clone(), Value::Table(d));
                }
            }
            (Value::Table(e), None) => {
                let d = diff(e, &empty, &path, locked);
                if !d.is_empty() {
                    out.insert(k.clone(), Value::Table(d));
                }
            }
            (v, Some(b)) if v == b => {}
            (v, _) => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    for k in base.keys() {
        let path = join(k);
        if !edited.contains_key(k) && path == "agenda.timezone" && !is_locked(locked, &path) {
            out.insert(k.clone(), Value::String(config::SYSTEM_TIMEZONE.to_owned()));
        }
    }
    out
}

/// Deserializes and validates a full or partial configuration table.
fn config_from_table(table: Table) -> Result<Config, Error> {
    let config: Config = serde_path_to_error::deserialize(table).map_err(|err| {
        let key = err.path().to_string();
        Error::InvalidSettings {
            key: if key == "." { String::new() } else { key },
            reason: err.inner().message().to_owned(),
        }
    })?;
    config.check()?;
    Ok(config)
}

/// Tables merge key by key; any other value (lists included) replaces.
fn merge(into: &mut Table, over: &Table) {
    for (k, v) in over {
        match (into.get_mut(k), v) {
            (Some(Value::Table(a)), Value::Table(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn get_path<'a>(table: &'a Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn set_path(table: &mut Table, key: &str, value: Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        current = next;
    }
    current.insert(last.to_owned(), value);
}

fn remove_path(table: &mut Table, key: &str) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        match current.get_mut(part) {
            Some(Value::Table(next)) => current = next,
            _ => return,
        }
    }
    current.remove(last);
}

/// Whether `key` names a configuration key or table (`sync.interval_secs`,
/// `presence.forwarding`, `agenda.timezone`); keys inside a list are not (lock the list).
pub fn check_config_key(key: &str) -> Result<(), String> {
    let not_a_key = || format!("{key:?} is not a configuration key");
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(not_a_key());
    }
    let defaults = Config::default().to_table().map_err(|e| e.to_string())?;
    let mut table = &defaults;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match table.get(*part) {
            Some(Value::Table(t)) => table = t,
            Some(Value::Array(_)) if !last => {
                return Err(format!(
                    "{key:?} is inside the list {:?}; lock the whole list",
                    parts[..=i].join(".")
                ))
            }
            Some(_) if !last => return Err(not_a_key()),
            Some(_) => return Ok(()),
            // Optional keys have no default to find: ask the deserializer.
            None => return probe_key(&parts).then_some(()).ok_or_else(not_a_key),
        }
    }
    Ok(())
}

/// Whether `parts` is a key the configuration knows, for keys without a default value: a
/// table holding just that key (with a value of the wrong type) fails for another reason
/// than an unknown field.
fn probe_key(parts: &[&str]) -> bool {
    let mut value = Value::Array(Vec::new());
    for part in parts.iter().rev() {
        let mut t = Table::new();
        t.insert((*part).to_owned(), value);
        value = Value::Table(t);
    }
    let Value::Table(table) = value else {
        return false;
    };
    match Config::deserialize(table) {
        Ok(_) => true,
        Err(e) => {
            let m = e.message();
            !m.contains("unknown field") && !m.contains("invalid type: map")
        }
    }
}

fn is_domain(s: &str) -> bool {
    s.contains('.')
        && !s.starts_with(['.', '-'])
        && !s.ends_with(['.', '-'])
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

fn is_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    (is_domain(host) || host == "localhost")
        && port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

/// A key path as the validation names it: `groups[1].settings.presence.rules.profile`.
#[derive(Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn parse_key_path(key: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in key.split('.').filter(|p| !p.is_empty()) {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            segs.push(Seg::Key(name.to_owned()));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(i) = rest[1..close].parse() {
                segs.push(Seg::Index(i));
            }
            rest = &rest[close + 1..];
        }
    }
    segs
}

/// The line in `text` of the deepest part of `key` that is in the file.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    use toml::Spanned;

    fn in_table(table: &DeTable<'_>, segs: &[Seg], best: &mut Option<usize>) {
        let Some(Seg::Key(k)) = segs.first() else {
            return;
        };
        if let Some((key, value)) = table.iter().find(|(key, _)| key.get_ref() == k) {
            *best = Some(key.span().start);
            in_value(value, &segs[1..], best);
        }
    }
    fn in_value(value: &Spanned<DeValue<'_>>, segs: &[Seg], best: &mut Option<usize>) {
        match (value.get_ref(), segs.first()) {
            (DeValue::Table(t), _) => in_table(t, segs, best),
            (DeValue::Array(a), Some(Seg::Index(i))) => {
                if let Some(item) = a.get(*i) {
                    *best = Some(item.span().start);
                    in_value(item, &segs[1..], best);
                }
            }
            // A key without an index in a list: the first element that has it.
            (DeValue::Array(a), Some(Seg::Key(k))) => {
                if let Some(item) = a.iter().find(|item| match item.get_ref() {
                    DeValue::Table(t) => t.iter().any(|(key, _)| key.get_ref() == k),
                    _ => false,
                }) {
                    in_value(item, segs, best);
                }
            }
            _ => {}
        }
    }

    let doc = DeTable::parse(text).ok()?;
    let mut best = None;
    in_table(doc.get_ref(), &parse_key_path(key), &mut best);
    best.map(|offset| config::line_of_offset(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "11111111-2222-3333-4444-555555555555";

    fn policy(text: &str) -> Result<OrgPolicy, Error> {
        OrgPolicy::parse(Path::new("/etc/presently/policy.toml"), text)
    }

    fn invalid(text: &str) -> (usize, String, String) {
        match policy(text) {
            Err(Error::PolicyInvalid {
                line, key, reason, ..
            }) => (line, key, reason),
            other => panic!("expected PolicyInvalid, got {other:?}"),
        }
    }

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn key_paths_parse() {
        assert_eq!(
            parse_key_path("groups[1].settings.rules[0][2].x"),
            vec![
                Seg::Key("groups".into()),
                Seg::Index(1),
                Seg::Key("settings".into()),
                Seg::Key("rules".into()),
                Seg::Index(0),
                Seg::Index(2),
                Seg::Key("x".into()),
            ]
        );
    }

    #[test]
    fn config_keys_are_checked() {
        for ok in [
            "sync.interval_secs",
            "sync",
            "presence.rules",
            "presence.forwarding",
            "presence.forwarding.provider",
            "presence.forwarding.http.on",
            "presence.forwarding.webex.person_id",
            "microsoft.client_id",
            "agenda.timezone",
            "reminders.enabled",
            "app.language",
        ] {
            assert_eq!(check_config_key(ok), Ok(()), "{ok}");
        }
        for bad in [
            "sync.intervall_secs",
            "nonsense",
            "presence.rules.profile",
            "agenda.days.x",
            "agenda.timezone.x",
            "presence.forwarding.webex.nope",
            "sync..interval_secs",
            "",
        ] {
            assert!(check_config_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locking_a_table_locks_what_is_under_it() {
        let locked: BTreeSet<String> = ["presence.forwarding".to_owned()].into();
        assert!(is_locked(&locked, "presence.forwarding"));
        assert!(is_locked(&locked, "presence.forwarding.provider"));
        assert!(!is_locked(&locked, "presence.forwarding_extra"));
        assert!(!is_locked(&locked, "presence"));
        assert!(!is_locked(&locked, "presence.rules"));
    }

    #[test]
    fn no_policy_means_defaults_and_the_users_file() {
        let l = resolve(None, &table("[sync]\ninterval_secs = 90\n"), None).unwrap();
        assert_eq!(l.config.sync.interval_secs, 90);
        assert_eq!(l.config.agenda, Config::default().agenda);
        assert!(l.locked.is_empty());
        assert_eq!((&l.group, &l.application), (&None, &None));
        assert_eq!(l.sync_method, SyncMethod::Microsoft365);
        assert!(l.allow_microsoft365);
        assert_eq!(l.base(), &Config::default());
    }

    #[test]
    fn allow_microsoft365_false_disables_sync() {
        let p =
            policy("[[groups]]\nname = \"Kiosk\"\ndefault = true\nallow_microsoft365 = false\n")
                .unwrap();
        let l = resolve(Some(&p), &table("[features]\ncalendar_sync = true\n"), None).unwrap();
        assert_eq!(l.sync_method, SyncMethod::Disabled);
        assert!(!l.allow_microsoft365);
        assert!(!l.config.features.calendar_sync);
        assert!(l.is_locked("features.calendar_sync"));

        let (_, key, _) = invalid(
            "[[groups]]\nname = \"Kiosk\"\ndefault = true\nallow_microsoft365 = false\nsync = \"microsoft365\"\n",
        );
        assert_eq!(key, "groups[0].sync");
    }

    #[test]
    fn validation_errors_name_line_and_key() {
        let app = |extra: &str| {
            format!("[[applications]]\nkey = \"main\"\ndisplay_name = \"Main\"\nclient_id = \"{APP}\"\ntenant = \"contoso.com\"\n{extra}")
        };
        let (line, key, reason) = invalid(&app("graph_endpoint = \"http://graph.example\"\n"));
        assert_eq!((line, key.as_str()), (6, "applications[0].graph_endpoint"));
        assert!(reason.contains("https"), "{reason}");

        let (line, key, _) = invalid(
            "[[applications]]\nkey = \"main\"\ndisplay_name = \"Main\"\nclient_id = \"nope\"\ntenant = \"contoso.com\"\n",
        );
        assert_eq!((line, key.as_str()), (4, "applications[0].client_id"));

        let (line, key, _) = invalid(&format!(
            "{}\n[[groups]]\nname = \"A\"\ndomains = [\"contoso.com\"]\napplication = \"other\"\n",
            app("")
        ));
        assert_eq!((line, key.as_str()), (10, "groups[0].application"));

        let (_, key, reason) = invalid(
            "[[groups]]\nname = \"A\"\ndefault = true\n[[groups]]\nname = \"B\"\ndefault = true\n",
        );
        assert_eq!(key, "groups[1].default");
        assert!(reason.contains("\"A\""), "{reason}");

        let (line, key, _) = invalid(
            "[[groups]]\nname = \"A\"\ndefault = true\nlocked = [\n  \"sync.interval_secs\",\n  \"sync.often\",\n]\n",
        );
        assert_eq!((line, key.as_str()), (4, "groups[0].locked"));

        let (line, key, reason) = invalid(
            "[[groups]]\nname = \"A\"\ndefault = true\n\n[groups.settings.sync]\ninterval_secs = 5\n",
        );
        assert_eq!(
            (line, key.as_str()),
            (6, "groups[0].settings.sync.interval_secs")
        );
        assert!(reason.contains("15 seconds"), "{reason}");

        let (line, key, _) = invalid(
            "[[groups]]\nname = \"A\"\ndefault = true\n\n[groups.settings.agenda]\ndays = \"many\"\n",
        );
        assert_eq!((line, key.as_str()), (6, "groups[0].settings.agenda.days"));

        let (line, key, _) =
            invalid("[[groups]]\nname = \"A\"\ndefault = true\nsync = \"carrier pigeon\"\n");
        assert_eq!((line, key.as_str()), (4, "groups[0].sync"));

        let (line, key, _) =
            invalid("[[groups]]\nname = \"A\"\ndefault = true\ncolour = \"red\"\n");
        assert_eq!(line, 4);
        assert!(key.contains("groups"), "{key}");

        let (_, key, _) = invalid(
            "[[groups]]\nname = \"A\"\ndomains = [\"contoso.com\"]\n[[groups]]\nname = \"B\"\ndomains = [\"CONTOSO.com\"]\n",
        );
        assert_eq!(key, "groups[1].domains");

        let (_, key, _) = invalid("[[groups]]\nname = \"Nobody\"\n");
        assert_eq!(key, "groups[0].name");

        let (line, _, _) = invalid("[[groups]\nname = \"A\"\n");
        assert_eq!(line, 1);
    }

    #[test]
    fn an_application_named_by_a_group_may_not_meet_group_microsoft_settings() {
        let (_, key, _) = invalid(&format!(
            "[[applications]]\nkey = \"main\"\ndisplay_name = \"Main\"\nclient_id = \"{APP}\"\ntenant = \"organizations\"\n\n[[groups]]\nname = \"A\"\ndefault = true\napplication = \"main\"\n[groups.settings.microsoft]\ntenant = \"common\"\n"
        ));
        assert_eq!(key, "groups[0].settings.microsoft");
    }

    #[test]
    fn the_diff_leaves_out_what_equals_the_base_and_what_is_locked() {
        let p = policy(
            "[[groups]]\nname = \"A\"\ndefault = true\nlocked = [\"sync.interval_secs\"]\n[groups.settings.sync]\ninterval_secs = 300\nwindow_days_back = 7\n[groups.settings.agenda]\ntimezone = \"Europe/Berlin\"\n",
        )
        .unwrap();
        let l = resolve(Some(&p), &Table::new(), None).unwrap();
        let mut edited = l.config.clone();
        edited.sync.window_days_ahead = 30;
        edited.agenda.timezone = None;
        let t = user_table_for(&edited, l.base(), &l.locked);
        assert_eq!(
            t,
            table("[sync]\nwindow_days_ahead = 30\n[agenda]\ntimezone = \"system\"\n")
        );
        let again = resolve(Some(&p), &t, None).unwrap();
        assert_eq!(again.config, edited);

        edited.sync.interval_secs = 60;
        assert!(matches!(
            l.user_table(&edited),
            Err(Error::SettingLocked { key }) if key == "sync.interval_secs"
        ));
    }

    /// A group automated by the server turns presence off on its clients, locked (a user
    /// is never automated twice); other groups leave it to the clients.
    #[test]
    fn a_group_automated_by_the_server_turns_presence_off_on_its_clients() {
        let p = policy(
            r#"
[[groups]]
name = "Sales"
domains = ["sales.example"]
automation = "server"
[groups.settings.features]
presence = true

[[groups]]
name = "Everyone"
default = true
"#,
        )
        .unwrap();
        let user = table("[features]\npresence = true\n");
        let l = resolve(Some(&p), &user, Some("ann@sales.example")).unwrap();
        assert_eq!(l.automation, Automation::Server);
        assert!(
            !l.config.features.presence,
            "the user's own file cannot turn it on"
        );
        assert!(l.is_locked(PRESENCE_KEY));
        let l = resolve(Some(&p), &user, Some("bob@other.example")).unwrap();
        assert_eq!(l.automation, Automation::Client);
        assert!(l.config.features.presence);
        assert!(!l.is_locked(PRESENCE_KEY));
        assert!(
            policy("[[groups]]\nname = \"x\"\ndefault = true\nautomation = \"both\"\n").is_err()
        );
    }
}
