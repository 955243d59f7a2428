//! The configuration in force, one way for every surface: the window app and the tray host
//! (through `presently_desktop::settings::Provisioning`), the CLI and `presently run`.
//! [`load`] reads the organization policy and the user's file and layers them
//! ([`crate::policy::resolve`]: defaults < the group's settings < the user's keys < locked
//! keys); [`Effective::microsoft365_refusal`] and [`Effective::sync_refusal`] are what each
//! surface asks before it talks to Microsoft.
//!
//! **A policy file that cannot be used never unlocks anything.** Each valid policy read is
//! copied to [`POLICY_COPY_FILE`] in the data directory (private to the user). When the
//! file later exists but cannot be read or parsed, that last valid copy stays in force and
//! every surface warns, naming the file, line and key. Without a copy (the file was never
//! valid on this machine), Presently refuses Microsoft 365 — sign-in, sync, presence and
//! automatic replies — until the file is fixed: what it locked is unknown, so nothing it
//! might have locked is let through. A missing file is no policy (the administrator
//! removed it).
//!
//! The policy is configuration management, not a sandbox against the user: they could run
//! another Microsoft 365 client, or name another policy file with `PRESENTLY_POLICY`. What
//! it guarantees is that Presently itself, on every surface, does what the organization
//! configured.

use crate::config::Config;
use crate::error::Error;
use crate::paths::Paths;
use crate::policy::{self, Layered, OrgPolicy, PolicyGroup};
use std::path::{Path, PathBuf};
use toml::Table;

/// The last valid policy's copy, in the data directory.
pub const POLICY_COPY_FILE: &str = "policy.last-valid.toml";

/// The first line of the copy names the file it copies (a copy of another policy file is
/// not used).
const COPY_HEADER: &str = "# Presently: the last valid copy of ";

/// How the organization policy stands.
#[derive(Debug)]
pub enum PolicyStatus {
    /// No policy file: the user's own settings apply.
    Absent,
    /// The policy file is in force.
    InForce,
    /// The file cannot be used (`error`: file, line and key); its last valid copy, kept
    /// at `copy`, is in force.
    LastValid { error: Error, copy: PathBuf },
    /// The file cannot be used and no valid copy of it was kept: Microsoft 365 is refused
    /// until it is fixed.
    Unusable { error: Error },
}

/// The organization policy as Presently applies it.
#[derive(Debug)]
pub struct PolicyInForce {
    pub path: PathBuf,
    /// The policy whose groups and locks apply: the file's, its last valid copy's, or for
    /// [`PolicyStatus::Unusable`] one that refuses Microsoft 365 to everyone. `None`: no
    /// policy.
    pub policy: Option<OrgPolicy>,
    pub status: PolicyStatus,
}

/// The name of the group that stands in for a policy file that cannot be used.
pub const UNUSABLE_GROUP: &str = "(policy file cannot be used)";

impl PolicyInForce {
    /// No policy at all (demo mode).
    pub fn none(path: PathBuf) -> Self {
        Self {
            path,
            policy: None,
            status: PolicyStatus::Absent,
        }
    }

    /// Reads the policy at `path`. A valid one is copied into `data_dir` (when given); one
    /// that cannot be used falls back on that copy, else refuses Microsoft 365 (see the
    /// module's documentation).
    pub fn load(path: &Path, data_dir: Option<&Path>) -> Self {
        let load = policy::load(path);
        let copy = data_dir.map(|d| d.join(POLICY_COPY_FILE));
        let (policy, status) = match (load.policy, load.error) {
            (Some(policy), _) => {
                if let Some(copy) = &copy {
                    keep_copy(path, copy);
                }
                (Some(policy), PolicyStatus::InForce)
            }
            (None, None) => (None, PolicyStatus::Absent),
            (None, Some(error)) => match copy.as_deref().and_then(|c| read_copy(path, c)) {
                Some(last) => {
                    tracing::warn!(path = %path.display(), error = %error, "the policy file cannot be used; its last valid copy stays in force");
                    let copy = copy.unwrap_or_default();
                    (Some(last), PolicyStatus::LastValid { error, copy })
                }
                None => {
                    tracing::error!(path = %path.display(), error = %error, "the policy file cannot be used and no valid copy was kept; Microsoft 365 is refused until it is fixed");
                    (Some(refuse_all()), PolicyStatus::Unusable { error })
                }
            },
        };
        Self {
            path: path.to_owned(),
            policy,
            status,
        }
    }

    /// Why the file cannot be used, and what applies meanwhile; `None` when it is in force
    /// or absent.
    pub fn problem(&self) -> Option<String> {
        match &self.status {
            PolicyStatus::Absent | PolicyStatus::InForce => None,
            PolicyStatus::LastValid { error, .. } => Some(format!(
                "{error}; the last valid copy of the organization's policy stays in force until it is fixed"
            )),
            PolicyStatus::Unusable { error } => Some(format!(
                "{error}; Presently does not connect to Microsoft 365 until the organization's policy is fixed"
            )),
        }
    }

    /// The error of a file that cannot be used.
    pub fn error(&self) -> Option<&Error> {
        match &self.status {
            PolicyStatus::LastValid { error, .. } | PolicyStatus::Unusable { error } => Some(error),
            _ => None,
        }
    }
}

/// A policy whose one group refuses Microsoft 365 to everyone.
fn refuse_all() -> OrgPolicy {
    OrgPolicy {
        applications: Vec::new(),
        groups: vec![PolicyGroup {
            name: UNUSABLE_GROUP.to_owned(),
            default: true,
            domains: Vec::new(),
            users: Vec::new(),
            sync: None,
            application: None,
            allow_microsoft365: false,
            locked: Vec::new(),
            settings: Table::new(),
            automation: None,
        }],
    }
}

/// Copies the valid policy at `path` to `copy` (private to the user) unless the copy holds
/// it already. A failure only costs the fallback, and is logged.
fn keep_copy(path: &Path, copy: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let content = format!("{COPY_HEADER}{}\n{text}", path.display());
    if std::fs::read_to_string(copy).is_ok_and(|old| old == content) {
        return;
    }
    match crate::config::write_atomic(copy, &content) {
        Ok(()) => tracing::info!(copy = %copy.display(), "kept a copy of the valid policy"),
        Err(e) => tracing::warn!(error = %e, "cannot keep a copy of the valid policy"),
    }
}

/// The copy at `copy` of the policy at `path`, when it is one and still valid.
fn read_copy(path: &Path, copy: &Path) -> Option<OrgPolicy> {
    let text = std::fs::read_to_string(copy).ok()?;
    let (header, body) = text.split_once('\n')?;
    if header.strip_prefix(COPY_HEADER)? != path.display().to_string() {
        return None;
    }
    OrgPolicy::parse(copy, body).ok()
}

/// The configuration in force and what the organization decided about it.
#[derive(Debug)]
pub struct Effective {
    pub policy: PolicyInForce,
    /// The configuration with the policy's groups and locks, and what they decided.
    pub layered: Layered,
    /// The user's keys in force (empty when their file cannot be used).
    pub user: Table,
    /// Why the user's file cannot be used (file, line, key): the configuration in force
    /// is the policy's over the defaults then. The app runs on it and says why; the CLI
    /// stops and says why.
    pub config_error: Option<Error>,
}

/// The configuration in force for the files of `paths`: the policy at `policy_path` (a
/// valid one copied into the data directory) and the user's file, for the user `upn` (the
/// default group when `None`). What the CLI and `presently run` use; the shells go through
/// `Provisioning`, which calls [`PolicyInForce::load`] and [`load`] the same way.
pub fn for_paths(paths: &Paths, policy_path: &Path, upn: Option<&str>) -> Effective {
    let policy = PolicyInForce::load(policy_path, Some(&paths.data_dir));
    load(&paths.config_file, policy, upn)
}

/// Reads the user's file at `config_file` and layers it over `policy` for the user `upn`
/// (the default group when `None`). Never fails: what cannot be used is in
/// [`Effective::config_error`] and [`PolicyInForce::status`].
pub fn load(config_file: &Path, policy: PolicyInForce, upn: Option<&str>) -> Effective {
    let org = policy.policy.as_ref();
    let (user, mut config_error) = match Config::read_user_table(config_file) {
        Ok(table) => (table, None),
        Err(e) => (Table::new(), Some(e)),
    };
    let (layered, user) = match policy::resolve(org, &user, upn) {
        Ok(layered) => (layered, user),
        Err(e) => {
            // The file parses but its values do not hold (with this policy). Read it once
            // more for the error naming the file's line.
            let e = policy::resolve_file(org, config_file, upn)
                .err()
                .unwrap_or(e);
            config_error = Some(e);
            let layered = policy::resolve(org, &Table::new(), upn)
                .or_else(|_| policy::resolve(None, &Table::new(), None));
            match layered {
                Ok(layered) => (layered, Table::new()),
                // The built-in defaults always resolve (the engine's tests check it).
                Err(e) => return unresolvable(policy, e),
            }
        }
    };
    Effective {
        policy,
        layered,
        user,
        config_error,
    }
}

#[allow(clippy::panic)]
fn unresolvable(_policy: PolicyInForce, e: Error) -> Effective {
    panic!("the built-in defaults do not resolve: {e}")
}

impl Effective {
    pub fn config(&self) -> &Config {
        &self.layered.config
    }

    /// See [`microsoft365_refusal`].
    pub fn microsoft365_refusal(&self) -> Option<Error> {
        microsoft365_refusal(&self.policy, &self.layered)
    }

    /// See [`sync_refusal`].
    pub fn sync_refusal(&self) -> Option<Error> {
        sync_refusal(&self.policy, &self.layered)
    }
}

/// `Some` (an [`Error::DisabledByPolicy`] saying why) when the organization does not allow
/// Microsoft 365 for this user: sign-in, sync, presence and automatic replies are refused
/// before any request.
pub fn microsoft365_refusal(policy: &PolicyInForce, layered: &Layered) -> Option<Error> {
    if layered.allow_microsoft365 {
        return None;
    }
    let reason = match &policy.status {
        PolicyStatus::Unusable { error } => format!(
            "your organization's policy file cannot be used, so Presently does not connect to Microsoft 365 until it is fixed ({error})"
        ),
        _ => format!(
            "your organization's policy ({}{}) does not allow Microsoft 365 for this account",
            policy.path.display(),
            group_words(layered)
        ),
    };
    Some(Error::DisabledByPolicy { reason })
}

/// `Some` when calendar sync is refused: Microsoft 365 is ([`microsoft365_refusal`]), or
/// the organization locked calendar sync off. (Turned off by the user alone, the engine
/// says so itself.)
pub fn sync_refusal(policy: &PolicyInForce, layered: &Layered) -> Option<Error> {
    if let Some(refusal) = microsoft365_refusal(policy, layered) {
        return Some(refusal);
    }
    if !layered.config.features.calendar_sync && layered.is_locked(policy::CALENDAR_SYNC_KEY) {
        return Some(Error::DisabledByPolicy {
            reason: format!(
                "your organization's policy ({}{}) turned calendar sync off",
                policy.path.display(),
                group_words(layered)
            ),
        });
    }
    None
}

fn group_words(layered: &Layered) -> String {
    layered
        .group
        .as_deref()
        .map(|g| format!(", group {g:?}"))
        .unwrap_or_default()
}

/// The UPN of the account in the local store (it picks the policy group), when there is a
/// store with an account; no store is created to find out.
pub fn stored_upn(paths: &Paths) -> Option<String> {
    let file = paths.store_file();
    if !file.exists() {
        return None;
    }
    let store = crate::store::Store::open(&file).ok()?;
    store.account().ok().flatten().map(|a| a.upn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "[[groups]]\nname = \"everyone\"\ndefault = true\nlocked = [\"sync.interval_secs\"]\n\n[groups.settings.sync]\ninterval_secs = 300\n";
    const NO_M365: &str =
        "[[groups]]\nname = \"Board\"\ndefault = true\nallow_microsoft365 = false\n";

    fn setup(policy: &str, user: &str) -> (tempfile::TempDir, Paths, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path().join("data"));
        let policy_path = dir.path().join("policy.toml");
        std::fs::write(&policy_path, policy).unwrap();
        std::fs::create_dir_all(&paths.data_dir).unwrap();
        std::fs::write(&paths.config_file, user).unwrap();
        (dir, paths, policy_path)
    }

    fn effective(paths: &Paths, policy_path: &Path) -> Effective {
        for_paths(paths, policy_path, None)
    }

    #[test]
    fn locked_keys_win_over_the_users_file() {
        let (_dir, paths, policy_path) = setup(VALID, "[sync]\ninterval_secs = 60\n");
        let e = effective(&paths, &policy_path);
        assert!(matches!(e.policy.status, PolicyStatus::InForce));
        assert_eq!(e.config().sync.interval_secs, 300);
        assert!(e.config_error.is_none());
        assert!(e.microsoft365_refusal().is_none());
        assert!(e.sync_refusal().is_none());
    }

    #[test]
    fn a_broken_policy_keeps_the_last_valid_copy_in_force() {
        let (_dir, paths, policy_path) = setup(VALID, "[sync]\ninterval_secs = 60\n");
        effective(&paths, &policy_path);
        let copy = paths.data_dir.join(POLICY_COPY_FILE);
        #[cfg(unix)]
        assert_eq!(crate::private::mode(&copy).unwrap(), 0o600);
        std::fs::write(&policy_path, "[[groups]\nname = ").unwrap();
        let e = effective(&paths, &policy_path);
        assert!(
            matches!(e.policy.status, PolicyStatus::LastValid { .. }),
            "{:?}",
            e.policy.status
        );
        // Still locked: not the user's 60.
        assert_eq!(e.config().sync.interval_secs, 300);
        let problem = e.policy.problem().unwrap();
        assert!(problem.contains("policy.toml"), "{problem}");
        assert!(problem.contains("last valid copy"), "{problem}");
        // A copy of another policy file is not used.
        let other = policy_path.with_file_name("other.toml");
        std::fs::write(&other, "not toml [").unwrap();
        let e = effective(&paths, &other);
        assert!(matches!(e.policy.status, PolicyStatus::Unusable { .. }));
    }

    #[test]
    fn a_policy_never_valid_here_refuses_microsoft365_until_fixed() {
        let (_dir, paths, policy_path) = setup("[[groups]]\nname = 1\n", "");
        let e = effective(&paths, &policy_path);
        assert!(matches!(e.policy.status, PolicyStatus::Unusable { .. }));
        let refusal = e.microsoft365_refusal().unwrap().to_string();
        assert!(refusal.contains("policy file cannot be used"), "{refusal}");
        assert!(refusal.contains("policy.toml"), "{refusal}");
        assert!(e.sync_refusal().is_some());
        assert!(!e.config().features.calendar_sync);
        assert!(!e.config().features.presence);
        assert!(e.layered.is_locked("features.presence"));
        // Fixed: in force again.
        std::fs::write(&policy_path, VALID).unwrap();
        let e = effective(&paths, &policy_path);
        assert!(e.microsoft365_refusal().is_none());
    }

    #[test]
    fn no_microsoft365_turns_every_microsoft365_feature_off_and_locks_it() {
        let (_dir, paths, policy_path) = setup(
            NO_M365,
            "[features]\npresence = true\nautomatic_replies = true\n",
        );
        let e = effective(&paths, &policy_path);
        let f = &e.config().features;
        assert!(!f.calendar_sync && !f.presence && !f.automatic_replies);
        let refusal = e.microsoft365_refusal().unwrap();
        assert_eq!(
            crate::ErrorCode::DisabledByPolicy,
            refusal.code(),
            "{refusal}"
        );
        let text = refusal.to_string();
        assert!(text.contains("organization"), "{text}");
        assert!(text.contains("\"Board\""), "{text}");
    }

    #[test]
    fn a_broken_user_file_is_reported_and_the_policy_still_applies() {
        let (_dir, paths, policy_path) = setup(VALID, "[sync]\ninterval_secs = \"x\"\n");
        let e = effective(&paths, &policy_path);
        let error = e.config_error.as_ref().unwrap().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert_eq!(e.config().sync.interval_secs, 300);
    }

    #[test]
    fn no_policy_file_is_no_policy() {
        let (_dir, paths, policy_path) = setup("", "");
        std::fs::remove_file(&policy_path).unwrap();
        let e = effective(&paths, &policy_path);
        assert!(matches!(e.policy.status, PolicyStatus::Absent));
        assert_eq!(e.config(), &Config::default());
        assert!(e.microsoft365_refusal().is_none());
    }
}
