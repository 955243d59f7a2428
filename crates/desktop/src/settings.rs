//! Settings in the shell: the organization policy, the user's own file, and what the
//! settings page shows and saves. The engine decides (`policy::resolve`, validation, the
//! diff written to the user's file); this module keeps the pieces together for the app.
//!
//! Precedence: built-in defaults < the policy group's settings < the user's file < locked
//! keys. An invalid policy or user file never stops the app: the error is kept for the UI
//! and the app runs on what is left (the defaults).

use presently_engine::config::{Config, MicrosoftConfig, Privacy};
use presently_engine::effective::{self, PolicyInForce, PolicyStatus};
use presently_engine::paths::Paths;
use presently_engine::policy::{self, GraphApplication, Layered, SyncMethod};
use presently_engine::{ApiError, Error};
use serde::Serialize;
use std::path::PathBuf;

/// The settings key of privacy mode.
pub const PRIVACY_KEY: &str = "app.privacy";

/// Where the app registration sign-in uses comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationSource {
    Policy,
    User,
    Demo,
}

/// The application sign-in uses (`SettingsView.application`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AppRegistration {
    pub display_name: Option<String>,
    pub client_id: String,
    pub tenant: String,
    pub authority_host: String,
    pub graph_endpoint: String,
    pub source: RegistrationSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PolicyInfo {
    pub path: String,
    pub group: Option<String>,
    pub error: Option<String>,
}

/// A change the settings page asks for that sends the user's data somewhere new or runs a
/// program: the page's word alone is not enough (a compromised webview could ask for it), so
/// the shell asks the user in a native dialog ([`Provisioning::changes_to_confirm`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitiveChange {
    /// The settings key, e.g. `microsoft.graph_endpoint`.
    pub key: &'static str,
    /// What it is, in the user's terms.
    pub what: &'static str,
    /// The new value as it will be used.
    pub value: String,
}

/// What in `edited` differs from `before` and needs the user's confirmation: the sign-in
/// and Microsoft Graph endpoints (the access token follows them) and the forwarding
/// command (a program Presently runs). Secrets of the other forwarding providers are tied to
/// their host instead (`presently_engine::presence::forwarding::BoundSecrets`).
pub fn sensitive_changes(before: &Config, edited: &Config) -> Vec<SensitiveChange> {
    use presently_engine::presence::forwarding::ProviderKind;
    let mut changes = Vec::new();
    let (b, e) = (&before.microsoft, &edited.microsoft);
    if b.authority_host != e.authority_host {
        changes.push(SensitiveChange {
            key: "microsoft.authority_host",
            what: "the sign-in address (your password and sign-in go there)",
            value: e.authority_host.clone(),
        });
    }
    if b.graph_endpoint != e.graph_endpoint {
        changes.push(SensitiveChange {
            key: "microsoft.graph_endpoint",
            what: "the Microsoft Graph address (your access token goes there)",
            value: e.graph_endpoint.clone(),
        });
    }
    let (bf, ef) = (&before.presence.forwarding, &edited.presence.forwarding);
    let command_of = |f: &presently_engine::presence::forwarding::ForwardingConfig| {
        (f.provider == ProviderKind::Command).then(|| f.command.clone())
    };
    if let (Some(new), true) = (command_of(ef), command_of(bf) != command_of(ef)) {
        let value = match new {
            Some(c) => format!(
                "{} (on: {}; off: {})",
                c.program,
                c.on_args.join(" "),
                c.off_args.join(" ")
            ),
            None => String::new(),
        };
        changes.push(SensitiveChange {
            key: "presence.forwarding.command",
            what: "the program that switches call forwarding (Presently runs it)",
            value,
        });
    }
    changes
}

/// The text of the native confirmation dialog for `changes`.
pub fn confirmation_text(changes: &[SensitiveChange]) -> String {
    let mut text = String::from("The settings page asks to change what only you should decide:\n");
    for c in changes {
        text.push_str(&format!("\n• {}:\n  {}\n", c.what, c.value));
    }
    text.push_str("\nAllow only if you made this change yourself.");
    text
}

/// The policy, the user's file and the configuration they give together.
#[derive(Debug)]
pub struct Provisioning {
    /// The organization policy as it applies (its file, its last valid copy, or a refusal
    /// of Microsoft 365 when the file cannot be used; see `presently_engine::effective`).
    policy: PolicyInForce,
    config_path: PathBuf,
    /// The keys of the user's file as last read or written.
    user: toml::Table,
    config_error: Option<String>,
    /// Demo mode: the emulator's registration, in force whatever the files say.
    demo: Option<MicrosoftConfig>,
    /// The signed-in account picks the policy group (none: the default group).
    upn: Option<String>,
    layered: Layered,
}

impl Provisioning {
    /// The real account's: the organization policy (`policy::policy_path()`, its last valid
    /// copy kept in the data directory) and the user's file, as every surface reads them
    /// (`presently_engine::effective`).
    pub fn open(paths: &Paths) -> Self {
        let policy = PolicyInForce::load(&policy::policy_path(), Some(&paths.data_dir));
        Self::from_policy(policy, paths.config_file.clone(), None)
    }

    /// Reads the policy at `policy_path` (none in demo mode; no copy of it is kept) and
    /// the user's file.
    pub fn load(policy_path: PathBuf, config_path: PathBuf, demo: Option<MicrosoftConfig>) -> Self {
        let policy = if demo.is_some() {
            PolicyInForce::none(policy_path)
        } else {
            PolicyInForce::load(&policy_path, None)
        };
        Self::from_policy(policy, config_path, demo)
    }

    fn from_policy(
        policy: PolicyInForce,
        config_path: PathBuf,
        demo: Option<MicrosoftConfig>,
    ) -> Self {
        if let Some(problem) = policy.problem() {
            tracing::error!(problem, "organization policy");
        }
        let effective = effective::load(&config_path, policy, None);
        if let Some(e) = &effective.config_error {
            tracing::error!(error = %e, "configuration invalid; running with the defaults");
        }
        let mut out = Self {
            policy: effective.policy,
            config_path,
            user: effective.user,
            config_error: effective.config_error.map(|e| e.to_string()),
            demo,
            upn: None,
            layered: effective.layered,
        };
        if out.demo.is_some() {
            match out.resolve(&out.user.clone()) {
                Ok(layered) => out.layered = layered,
                Err(e) => out.config_error = Some(e.to_string()),
            }
        }
        out
    }

    fn resolve(&self, user: &toml::Table) -> Result<Layered, Error> {
        let mut layered = policy::resolve(self.policy.policy.as_ref(), user, self.upn.as_deref())?;
        if let Some(demo) = &self.demo {
            layered.config.microsoft = demo.clone();
            layered
                .locked
                .extend(policy::APPLICATION_KEYS.iter().map(|k| (*k).to_owned()));
        }
        Ok(layered)
    }

    /// `Some` when the organization does not allow Microsoft 365 for this account (or its
    /// policy file cannot be used and no valid copy was kept): sign-in is refused.
    pub fn microsoft365_refusal(&self) -> Option<Error> {
        effective::microsoft365_refusal(&self.policy, &self.layered)
    }

    pub fn config(&self) -> &Config {
        &self.layered.config
    }

    /// The engine's status with a broken policy or settings file on top: the engine runs on
    /// the defaults then, and the status says why.
    pub fn overlay_status(
        &self,
        mut status: presently_engine::StatusView,
    ) -> presently_engine::StatusView {
        if let Some(message) = self
            .policy_error()
            .or_else(|| self.config_error().map(str::to_owned))
        {
            status.sync.state = presently_engine::engine::SyncPhase::Error;
            status.sync.message = Some(message);
        }
        status
    }

    /// Why the policy file cannot be used and what applies meanwhile.
    pub fn policy_error(&self) -> Option<String> {
        self.policy.problem()
    }

    pub fn config_error(&self) -> Option<&str> {
        self.config_error.as_deref()
    }

    pub fn locked(&self) -> Vec<String> {
        self.layered.locked.iter().cloned().collect()
    }

    pub fn sync_method(&self) -> SyncMethod {
        self.layered.sync_method
    }

    pub fn policy_info(&self) -> Option<PolicyInfo> {
        (!matches!(self.policy.status, PolicyStatus::Absent)).then(|| PolicyInfo {
            path: self.policy.path.display().to_string(),
            group: self.layered.group.clone(),
            error: self.policy_error(),
        })
    }

    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// The signed-in account changed: its policy group may differ. Answers the new
    /// configuration when it changed.
    pub fn set_upn(&mut self, upn: Option<String>) -> Option<Config> {
        if self.upn == upn {
            return None;
        }
        self.upn = upn;
        match self.resolve(&self.user.clone()) {
            Ok(layered) if layered.config != self.layered.config => {
                self.layered = layered;
                Some(self.layered.config.clone())
            }
            Ok(layered) => {
                self.layered = layered;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the settings for this account do not hold; keeping the current ones");
                None
            }
        }
    }

    /// The application sign-in uses, and where it comes from.
    pub fn application(&self) -> Option<AppRegistration> {
        let m = &self.layered.config.microsoft;
        let client_id = m.client_id.clone().filter(|c| !c.trim().is_empty())?;
        let (source, display_name) = if self.demo.is_some() {
            (RegistrationSource::Demo, Some("Presently demo".to_owned()))
        } else if let Some(app) = &self.layered.application {
            (RegistrationSource::Policy, Some(display_name(app)))
        } else {
            (RegistrationSource::User, None)
        };
        Some(AppRegistration {
            display_name,
            client_id,
            tenant: m.tenant.clone(),
            authority_host: m.authority_host.clone(),
            graph_endpoint: m.graph_endpoint.clone(),
            source,
        })
    }

    /// Whether the user may enter an app registration (none comes from the policy).
    pub fn registration_editable(&self) -> bool {
        self.demo.is_none() && !self.layered.is_locked("microsoft.client_id")
    }

    /// Validates `edited`, writes the user's keys atomically and makes it the configuration
    /// in force; answers it. Nothing is written when it fails.
    pub fn save(&mut self, edited: Config) -> Result<Config, Error> {
        edited.check()?;
        let table = self.layered.user_table(&edited)?;
        let layered = self.resolve(&table)?;
        Config::save_user_table(&self.config_path, &table)?;
        tracing::info!(path = %self.config_path.display(), "settings saved");
        self.user = table;
        self.layered = layered;
        self.config_error = None;
        Ok(self.layered.config.clone())
    }

    /// What saving `edited` from the settings page needs the user to confirm (see
    /// [`sensitive_changes`]); an invalid edit or one touching a locked key is refused here,
    /// before any dialog.
    pub fn changes_to_confirm(&self, edited: &Config) -> Result<Vec<SensitiveChange>, Error> {
        edited.check()?;
        self.layered.user_table(edited)?;
        Ok(sensitive_changes(&self.layered.config, edited))
    }

    /// [`Provisioning::save`] for the settings page: refused unless every change that needs
    /// the user's confirmation is among `confirmed` (what the native dialog showed and the
    /// user allowed).
    pub fn save_confirmed(
        &mut self,
        edited: Config,
        confirmed: &[SensitiveChange],
    ) -> Result<Config, Error> {
        let unconfirmed: Vec<&str> = self
            .changes_to_confirm(&edited)?
            .into_iter()
            .filter(|c| !confirmed.contains(c))
            .map(|c| c.key)
            .collect();
        if !unconfirmed.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the change to {} was not confirmed; nothing was saved",
                unconfirmed.join(", ")
            )));
        }
        self.save(edited)
    }

    /// A forwarding draft the settings page wants to try (its Test button): refused when
    /// it changes what the organization locked.
    pub fn check_forwarding_draft(
        &self,
        draft: &presently_engine::presence::forwarding::ForwardingConfig,
    ) -> Result<(), Error> {
        let mut edited = self.layered.config.clone();
        edited.presence.forwarding = draft.clone();
        policy::check_locked(&edited, &self.layered)
    }

    /// Whether the organization locked `app.privacy` (the tray then offers no toggle).
    pub fn privacy_locked(&self) -> bool {
        self.layered.is_locked(PRIVACY_KEY)
    }

    /// The tray's privacy mode toggle: `app.privacy` becomes `all` (`on`) or
    /// `private_only`, saved to the user's file like a change on the settings page; refused
    /// when the organization locked it. Answers the configuration in force.
    pub fn set_privacy(&mut self, on: bool) -> Result<Config, Error> {
        if self.privacy_locked() {
            return Err(Error::SettingLocked {
                key: PRIVACY_KEY.into(),
            });
        }
        let mut edited = self.layered.config.clone();
        edited.app.privacy = if on {
            Privacy::All
        } else {
            Privacy::PrivateOnly
        };
        self.save(edited)
    }

    /// First launch without a provisioned application: the IDs the user's administrator
    /// gave them.
    pub fn set_registration(&mut self, client_id: &str, tenant: &str) -> Result<Config, Error> {
        if !self.registration_editable() {
            return Err(Error::SettingLocked {
                key: "microsoft.client_id".into(),
            });
        }
        let mut edited = self.layered.config.clone();
        edited.microsoft.client_id = Some(client_id.trim().to_ascii_lowercase());
        edited.microsoft.tenant = tenant.trim().to_ascii_lowercase();
        self.save(edited)
    }
}

fn display_name(app: &GraphApplication) -> String {
    if app.display_name.trim().is_empty() {
        app.key.clone()
    } else {
        app.display_name.clone()
    }
}

/// For the UI: the error as `{code, message}`.
pub fn api(e: Error) -> ApiError {
    ApiError::from(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    fn policy_file(dir: &std::path::Path, text: &str) -> PathBuf {
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).expect("policy");
        path
    }

    /// A policy file that cannot be used never unlocks: with no valid copy of it kept,
    /// Microsoft 365 is refused until it is fixed (the app runs, and says why).
    #[test]
    fn an_invalid_policy_refuses_microsoft365_and_says_why() {
        let dir = tempfile::tempdir().expect("dir");
        let policy = policy_file(dir.path(), "[[applications]]\nkey = 1\n");
        let p = Provisioning::load(policy, dir.path().join("config.toml"), None);
        assert!(!p.config().features.calendar_sync);
        assert!(!p.config().features.presence);
        let error = p.policy_error().expect("error");
        assert!(error.contains("policy.toml"), "{error}");
        assert!(error.contains("line"), "{error}");
        assert!(p.policy_info().expect("info").error.is_some());
        let refusal = p.microsoft365_refusal().expect("refused");
        assert_eq!(
            api(refusal).code,
            presently_engine::ErrorCode::DisabledByPolicy
        );
        assert!(!dir.path().join("config.toml").exists(), "nothing written");
    }

    fn command_forwarding(
        program: &str,
    ) -> presently_engine::presence::forwarding::ForwardingConfig {
        use presently_engine::presence::forwarding::{
            CommandConfig, ForwardingConfig, ProviderKind,
        };
        ForwardingConfig {
            provider: ProviderKind::Command,
            command: Some(CommandConfig {
                program: program.into(),
                on_args: vec!["on".into(), "{target}".into()],
                off_args: vec!["off".into()],
                extension: String::new(),
                voicemail: "voicemail".into(),
            }),
            ..Default::default()
        }
    }

    /// The settings page cannot repoint Microsoft Graph (the access token follows) or set
    /// a forwarding command on its own word: nothing is saved unless the user confirmed
    /// exactly those changes; other changes need no confirmation.
    #[test]
    fn endpoint_and_command_changes_need_the_users_confirmation() {
        let dir = tempfile::tempdir().expect("dir");
        let config_path = dir.path().join("config.toml");
        let mut p = Provisioning::load(dir.path().join("policy.toml"), config_path.clone(), None);

        let mut plain = p.config().clone();
        plain.sync.interval_secs = 600;
        assert_eq!(p.changes_to_confirm(&plain).expect("valid"), vec![]);
        p.save_confirmed(plain, &[])
            .expect("no confirmation needed");

        let mut hostile = p.config().clone();
        hostile.microsoft.graph_endpoint = "https://graph.evil.example".into();
        hostile.presence.forwarding = command_forwarding("/tmp/x");
        let changes = p.changes_to_confirm(&hostile).expect("valid");
        let keys: Vec<_> = changes.iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            vec!["microsoft.graph_endpoint", "presence.forwarding.command"]
        );
        let text = confirmation_text(&changes);
        assert!(text.contains("https://graph.evil.example"), "{text}");
        assert!(
            text.contains("/tmp/x (on: on {target}; off: off)"),
            "{text}"
        );

        let before = std::fs::read_to_string(&config_path).expect("saved once");
        let err = p
            .save_confirmed(hostile.clone(), &[])
            .expect_err("not confirmed");
        assert!(
            err.to_string().contains("microsoft.graph_endpoint"),
            "{err}"
        );
        // Confirming one change does not confirm another.
        let err = p
            .save_confirmed(hostile.clone(), &changes[..1])
            .expect_err("half confirmed");
        assert!(
            err.to_string().contains("presence.forwarding.command"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&config_path).expect("file"), before);
        assert_eq!(
            p.config().microsoft.graph_endpoint,
            "https://graph.microsoft.com"
        );

        let applied = p.save_confirmed(hostile, &changes).expect("confirmed");
        assert_eq!(
            applied.microsoft.graph_endpoint,
            "https://graph.evil.example"
        );
        // Another program is another confirmation; the same one again is none.
        let mut again = applied.clone();
        assert_eq!(p.changes_to_confirm(&again).expect("valid"), vec![]);
        again.presence.forwarding = command_forwarding("/tmp/y");
        assert_eq!(p.changes_to_confirm(&again).expect("valid").len(), 1);
    }

    /// What the organization locked cannot be changed through the settings page, nor tried
    /// with its forwarding Test button; a locked key refuses before any dialog.
    #[test]
    fn locked_keys_bind_the_save_and_the_forwarding_test() {
        let dir = tempfile::tempdir().expect("dir");
        let policy = policy_file(
            dir.path(),
            "[[groups]]\nname = \"all\"\ndefault = true\nlocked = [\"microsoft.graph_endpoint\", \"presence.forwarding\"]\n",
        );
        let p = Provisioning::load(policy, dir.path().join("config.toml"), None);
        let mut edited = p.config().clone();
        edited.microsoft.graph_endpoint = "https://graph.evil.example".into();
        let err = p.changes_to_confirm(&edited).expect_err("locked");
        assert_eq!(api(err).code, presently_engine::ErrorCode::SettingLocked);

        let err = p
            .check_forwarding_draft(&command_forwarding("/tmp/x"))
            .expect_err("locked");
        assert_eq!(api(err).code, presently_engine::ErrorCode::SettingLocked);
        p.check_forwarding_draft(&p.config().presence.forwarding.clone())
            .expect("the settings in force can be tried");
    }

    /// The window app and the tray host read the policy as the CLI does: the last valid
    /// copy in the data directory stands in for a file that broke.
    #[test]
    fn open_keeps_the_last_valid_policy_when_the_file_breaks() {
        let dir = tempfile::tempdir().expect("dir");
        let paths = Paths::under(dir.path().join("data"));
        let policy = policy_file(
            dir.path(),
            "[[groups]]\nname = \"all\"\ndefault = true\nlocked = [\"features.presence\"]\n",
        );
        let load = || {
            Provisioning::from_policy(
                PolicyInForce::load(&policy, Some(&paths.data_dir)),
                paths.config_file.clone(),
                None,
            )
        };
        assert!(load().policy_error().is_none());
        std::fs::write(&policy, "[[groups]\n").expect("break");
        let p = load();
        assert_eq!(p.locked(), vec!["features.presence".to_owned()]);
        assert!(p.microsoft365_refusal().is_none());
        assert!(p
            .policy_error()
            .expect("warned")
            .contains("last valid copy"));
    }

    #[test]
    fn saving_writes_only_what_the_user_changed_and_applies_it() {
        let dir = tempfile::tempdir().expect("dir");
        let config_path = dir.path().join("config.toml");
        let mut p = Provisioning::load(dir.path().join("none.toml"), config_path.clone(), None);
        let mut edited = p.config().clone();
        edited.agenda.days = 3;
        let applied = p.save(edited).expect("saved");
        assert_eq!(applied.agenda.days, 3);
        let written = std::fs::read_to_string(&config_path).expect("file");
        assert!(written.contains("days = 3"), "{written}");
        assert!(!written.contains("interval_secs"), "{written}");
        // An invalid value is refused and the file stays as it was.
        let mut bad = p.config().clone();
        bad.agenda.days = 99;
        let err = p.save(bad).expect_err("invalid");
        assert_eq!(api(err).code, presently_engine::ErrorCode::InvalidSettings);
        assert_eq!(
            std::fs::read_to_string(&config_path).expect("file"),
            written
        );
    }

    #[test]
    fn a_policy_application_is_locked_and_the_registration_cannot_be_entered() {
        let dir = tempfile::tempdir().expect("dir");
        let policy = policy_file(
            dir.path(),
            &format!(
                "[[applications]]\nkey = \"contoso\"\ndisplay_name = \"Presently for Contoso\"\nclient_id = \"{APP}\"\ntenant = \"contoso.com\"\n\n[[groups]]\nname = \"everyone\"\ndefault = true\nsync = \"microsoft365\"\napplication = \"contoso\"\n"
            ),
        );
        let mut p = Provisioning::load(policy, dir.path().join("config.toml"), None);
        let app = p.application().expect("application");
        assert_eq!(app.source, RegistrationSource::Policy);
        assert_eq!(app.client_id, APP);
        assert_eq!(app.display_name.as_deref(), Some("Presently for Contoso"));
        assert!(!p.registration_editable());
        let err = p
            .set_registration("11111111-2222-3333-4444-555555555555", "fabrikam.com")
            .expect_err("locked");
        assert_eq!(api(err).code, presently_engine::ErrorCode::SettingLocked);
    }

    /// The tray's privacy toggle saves `app.privacy` like the settings page does, and an
    /// organization that locked it keeps it where it put it.
    #[test]
    fn the_privacy_toggle_saves_unless_the_organization_locked_it() {
        let dir = tempfile::tempdir().expect("dir");
        let config_path = dir.path().join("config.toml");
        let mut p = Provisioning::load(dir.path().join("none.toml"), config_path.clone(), None);
        assert!(!p.privacy_locked());
        assert_eq!(p.config().app.privacy, Privacy::PrivateOnly);
        let on = p.set_privacy(true).expect("saved");
        assert_eq!(on.app.privacy, Privacy::All);
        let written = std::fs::read_to_string(&config_path).expect("file");
        assert!(written.contains("privacy = \"all\""), "{written}");
        let again = Provisioning::load(dir.path().join("none.toml"), config_path.clone(), None);
        assert_eq!(again.config().app.privacy, Privacy::All);
        assert_eq!(
            p.set_privacy(false).expect("saved").app.privacy,
            Privacy::PrivateOnly
        );

        let policy = policy_file(
            dir.path(),
            "[[groups]]\nname = \"all\"\ndefault = true\nlocked = [\"app.privacy\"]\n[groups.settings.app]\nprivacy = \"all\"\n",
        );
        let mut locked = Provisioning::load(policy, config_path.clone(), None);
        assert!(locked.privacy_locked());
        assert_eq!(locked.config().app.privacy, Privacy::All);
        let before = std::fs::read_to_string(&config_path).expect("file");
        let err = locked.set_privacy(false).expect_err("locked");
        assert_eq!(api(err).code, presently_engine::ErrorCode::SettingLocked);
        assert_eq!(locked.config().app.privacy, Privacy::All);
        assert_eq!(std::fs::read_to_string(&config_path).expect("file"), before);
        // Nor through the settings page.
        let mut edited = locked.config().clone();
        edited.app.privacy = Privacy::PrivateOnly;
        assert!(locked.save(edited).is_err());
    }

    #[test]
    fn first_launch_registration_is_validated_then_saved() {
        let dir = tempfile::tempdir().expect("dir");
        let config_path = dir.path().join("config.toml");
        let mut p = Provisioning::load(dir.path().join("none.toml"), config_path.clone(), None);
        assert!(p.application().is_none());
        assert!(p.registration_editable());
        let err = p
            .set_registration("not-a-guid", "contoso.com")
            .expect_err("bad");
        assert_eq!(api(err).code, presently_engine::ErrorCode::InvalidSettings);
        assert!(!config_path.exists());
        let config = p
            .set_registration(&APP.to_uppercase(), "Contoso.onmicrosoft.com")
            .expect("saved");
        assert_eq!(config.microsoft.client_id.as_deref(), Some(APP));
        assert_eq!(config.microsoft.tenant, "contoso.onmicrosoft.com");
        assert_eq!(
            p.application().expect("app").source,
            RegistrationSource::User
        );
        // A restart reads the same.
        let again = Provisioning::load(dir.path().join("none.toml"), config_path, None);
        assert_eq!(again.config(), p.config());
    }
}
