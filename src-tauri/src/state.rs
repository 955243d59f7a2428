//! [`Shell`]: what the app keeps in Tauri's managed state. It holds the engine, the demo
//! account (in demo mode) and the little the shell itself must remember: whether a sync is
//! running, the last sync error, the sign-in under way, the tray model last shown and
//! whether Quit was chosen.

use crate::demo::DemoAccount;
use crate::settings::{AppRegistration, PolicyInfo, Provisioning, RegistrationSource};
use crate::tray::{self, TrayMenu};
use presently_desktop::background::{Background, Integration, Loops, Shown};
use presently_desktop::presence::{RestoreAlert, RestoreOffer};
use presently_desktop::sync::RoundEnd;
use presently_engine::auth::AuthError;
use presently_engine::config::Config;
use presently_engine::engine::SyncReport;
use presently_engine::model::Account;
use presently_engine::policy::SyncMethod;
use presently_engine::reminders::Reminder;
use presently_engine::{ApiError, Engine, Error, ErrorCode, StatusView};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::oneshot;

/// Event: the store changed; the UI reloads the agenda. No payload.
pub const AGENDA_CHANGED: &str = "agenda-changed";
/// Event: the status changed; payload [`StatusView`].
pub const STATUS_CHANGED: &str = "status-changed";
/// Event: how a sign-in is going; payload [`SignInProgress`].
pub const SIGN_IN_PROGRESS: &str = "sign-in-progress";
/// A named account signed in or its sign-in failed (the settings page lists the accounts
/// again); the payload is the account's name. Not `sign-in-progress`, which is the
/// default account's first sign-in screen.
pub const ACCOUNTS_CHANGED: &str = "accounts-changed";

/// How long the browser may take to come back to the loopback listener.
pub const BROWSER_SIGN_IN_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Grace beyond a device code's own lifetime before the shell stops waiting for it.
const DEVICE_CODE_GRACE: Duration = Duration::from_secs(30);

/// The payload of [`SIGN_IN_PROGRESS`], tagged by `phase`:
/// `{"phase":"waiting_for_browser","url":"…","browser_opened":true}`,
/// `{"phase":"waiting_for_code","verification_uri":"…","user_code":"…","expires_in":900}`,
/// `{"phase":"signed_in","upn":"…","display_name":"…"}`,
/// `{"phase":"failed","error":{"code":"…","message":"…"}}`, `{"phase":"cancelled"}`.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum SignInProgress {
    /// The authorize URL went to the system browser (or could not be opened: then the user
    /// copies it).
    WaitingForBrowser {
        url: String,
        browser_opened: bool,
    },
    /// A device code is shown; the user enters it at `verification_uri`.
    WaitingForCode {
        #[serde(flatten)]
        code: DeviceCode,
    },
    SignedIn {
        upn: String,
        display_name: Option<String>,
    },
    Failed {
        error: ApiError,
    },
    /// `cancel_sign_in` ended the sign-in.
    Cancelled,
}

/// What `status` answers and `status-changed` carries: the engine's status, and what
/// presence automation keeps failing at (a restore first), which the status line words in
/// the user's language.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct AppStatus {
    #[serde(flatten)]
    pub view: StatusView,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(
        as = "Option<Vec<presently_desktop::presence::PresenceProblem>>",
        optional
    )]
    pub presence: Vec<presently_desktop::presence::PresenceProblem>,
}

/// What `sign_in` answers: the URL the browser was sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct BrowserSignIn {
    pub url: String,
    pub browser_opened: bool,
}

/// What `sign_in_device` answers: the code to enter, where, and for how many seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DeviceCode {
    pub verification_uri: String,
    pub user_code: String,
    pub expires_in: u64,
}

/// What `sign_in_info` answers: the app registration and authority sign-in uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SignInInfo {
    pub client_id: Option<String>,
    pub tenant: String,
    pub authority_host: String,
    /// Whether there is an application (client) ID to sign in with.
    pub configured: bool,
    /// The application's display name, when the organization's policy names it.
    pub application_name: Option<String>,
    /// Where the registration comes from (`policy` ones cannot be edited).
    pub source: Option<RegistrationSource>,
    /// The organization policy file cannot be used: why (file, line, key).
    pub policy_error: Option<String>,
}

/// What `settings_get` and `settings_save` answer (see `ui/src/types.ts`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SettingsView {
    pub config: Config,
    pub locked: Vec<String>,
    pub policy: Option<PolicyInfo>,
    pub config_error: Option<String>,
    pub sync_method: SyncMethod,
    pub account: SettingsAccount,
    pub application: Option<AppRegistration>,
    pub calendars: Vec<CalendarChoice>,
    pub builtin_profiles: Vec<presently_engine::presence::profile::Profile>,
    pub config_path: String,
    /// Whether the global shortcut "join the next meeting" is registered, or why not.
    pub join_shortcut: crate::shortcut::JoinShortcutStatus,
    /// Every account, the default one first (the settings page's Accounts section).
    pub accounts: Vec<presently_desktop::accounts::AccountEntry>,
    /// Whether accounts can be added here (not in demo mode).
    pub accounts_addable: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SettingsAccount {
    pub signed_in: bool,
    pub upn: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct CalendarChoice {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub primary: bool,
}

impl SignInInfo {
    pub fn from_config(config: &presently_engine::config::Config) -> Self {
        let m = &config.microsoft;
        let client_id = m
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Self {
            configured: client_id.is_some(),
            client_id,
            tenant: m.tenant.clone(),
            authority_host: m.authority_host.clone(),
            application_name: None,
            source: None,
            policy_error: None,
        }
    }
}

/// The sign-in under way: its number and the way to cancel it.
struct PendingSignIn {
    id: u64,
    cancel: oneshot::Sender<()>,
}

pub struct Shell {
    /// The engine, or why it could not be opened (a store from a newer version, say):
    /// every command then answers with that error and the UI shows it.
    engine: Result<Arc<Engine>, ApiError>,
    /// The organization policy and the user's settings file (a broken one: the engine runs
    /// on the defaults and the status says why).
    provisioning: Mutex<Provisioning>,
    /// Keeps the embedded emulator running in demo mode.
    demo: Option<DemoAccount>,
    /// The background work (sync, presence automation, reminders, the tray), started by the
    /// app's setup; None when the engine could not be opened.
    background: Option<Background>,
    tray_shown: Mutex<Option<TrayMenu>>,
    quitting: AtomicBool,
    /// At most one sign-in runs; a new one cancels the one before.
    sign_in: Mutex<Option<PendingSignIn>>,
    sign_in_ids: AtomicU64,
}

/// Asks the user, in a native dialog (not the webview), whether `changes` may be made.
async fn confirm_natively<R: Runtime>(
    app: &AppHandle<R>,
    changes: &[presently_desktop::settings::SensitiveChange],
) -> bool {
    use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
    let (tx, rx) = oneshot::channel();
    app.dialog()
        .message(presently_desktop::settings::confirmation_text(changes))
        .title("Presently: allow this change?")
        .kind(MessageDialogKind::Warning)
        .buttons(MessageDialogButtons::OkCancelCustom(
            "Allow".into(),
            "Cancel".into(),
        ))
        .show(move |allowed| {
            let _ = tx.send(allowed);
        });
    let allowed = rx.await.unwrap_or(false);
    let keys: Vec<_> = changes.iter().map(|c| c.key).collect();
    tracing::info!(
        ?keys,
        allowed,
        "sensitive settings change asked for by the settings page"
    );
    allowed
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shell {
    pub fn new(
        engine: Result<Engine, ApiError>,
        demo: Option<DemoAccount>,
        provisioning: Provisioning,
    ) -> Self {
        let engine = engine.map(Arc::new);
        Self {
            background: engine.as_ref().ok().cloned().map(Background::new),
            engine,
            provisioning: Mutex::new(provisioning),
            demo,
            tray_shown: Mutex::new(None),
            quitting: AtomicBool::new(false),
            sign_in: Mutex::new(None),
            sign_in_ids: AtomicU64::new(0),
        }
    }

    /// Running on the embedded emulator.
    pub fn is_demo(&self) -> bool {
        self.demo.is_some()
    }

    pub fn engine(&self) -> Result<&Arc<Engine>, ApiError> {
        self.engine.as_ref().map_err(Clone::clone)
    }

    /// Runs the named accounts (`accounts/NAME` of the data directory, signed in with
    /// `presently --account NAME login` or the settings page) beside the default one: each
    /// syncs and automates presence with its own settings, and the agenda and the tray
    /// merge them. Not in demo mode, whose data directory is its own.
    pub fn open_named_accounts(&self) {
        let (Ok(engine), Some(background)) = (self.engine(), &self.background) else {
            return;
        };
        if self.is_demo() {
            return;
        }
        for named in presently_desktop::accounts::open_all_named(engine.paths(), engine.clock()) {
            background.add_account(&named.name, Arc::new(named.engine));
        }
    }

    /// The agenda the window shows: merged across the accounts signed in (the default
    /// account's alone, as always, while it is the only one).
    pub fn agenda(
        &self,
        from: Option<chrono::NaiveDate>,
        days: Option<u32>,
    ) -> Result<presently_engine::agenda::AgendaView, ApiError> {
        match &self.background {
            Some(background) => Ok(background.agenda(from, days)?),
            None => Ok(self.engine()?.agenda(from, days)?),
        }
    }

    fn background(&self) -> Result<&Background, ApiError> {
        self.background.as_ref().ok_or_else(|| {
            self.engine().err().unwrap_or_else(|| {
                ApiError::new(ErrorCode::Internal, "the background work is not running")
            })
        })
    }

    /// The settings page's "Add account": starts named account `name` (a copy of the
    /// default account's settings to begin with), runs its background work, and signs it
    /// in through the system browser as a first sign-in does. The outcome arrives as
    /// `accounts-changed`.
    pub async fn add_account<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        name: &str,
    ) -> Result<BrowserSignIn, ApiError> {
        if self.is_demo() {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "accounts cannot be added in demo mode",
            ));
        }
        let engine = self.engine()?;
        let named = presently_desktop::accounts::add(engine.paths(), name, engine.clock())?;
        let named_engine = Arc::new(named.engine);
        self.background()?.add_account(name, named_engine.clone());
        self.start_named_sign_in(app, name.to_owned(), named_engine)
            .await
    }

    /// Signs named account `name` in again (its sign-in expired, or it was signed out).
    pub async fn sign_in_account<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        name: &str,
    ) -> Result<BrowserSignIn, ApiError> {
        let engine = self.named_engine(name)?;
        self.start_named_sign_in(app, name.to_owned(), engine).await
    }

    /// Signs named account `name` out: its keyring entry goes, its calendar leaves the
    /// agenda; the other accounts stay signed in.
    pub async fn sign_out_account<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        name: &str,
    ) -> Result<(), ApiError> {
        self.named_engine(name)?.sign_out(false).await?;
        tracing::info!(account = %name, "account signed out");
        self.accounts_changed(app, name);
        Ok(())
    }

    /// Removes named account `name`: signed out, its background work stopped, its
    /// directory (store, settings, logs) deleted.
    pub async fn remove_account<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        name: &str,
    ) -> Result<(), ApiError> {
        let engine = self.named_engine(name)?;
        if let Err(e) = engine.sign_out(true).await {
            // Its files go anyway; a keyring entry left behind is harmless without them.
            tracing::warn!(account = %name, error = %e, "cannot sign the account out before removing it");
        }
        self.background()?
            .remove_account(name, std::time::Duration::from_secs(5))
            .await;
        drop(engine);
        presently_desktop::accounts::remove(self.engine()?.paths(), name)?;
        self.accounts_changed(app, name);
        Ok(())
    }

    fn named_engine(&self, name: &str) -> Result<Arc<Engine>, ApiError> {
        if name == presently_engine::paths::DEFAULT_ACCOUNT {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the default account is signed in and out in the Account section",
            ));
        }
        self.background()?
            .engine_for(Some(name))
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidInput, format!("no account {name}")))
    }

    /// A named account's browser sign-in (one at a time with the default account's: a new
    /// one cancels the one before).
    async fn start_named_sign_in<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        name: String,
        engine: Arc<Engine>,
    ) -> Result<BrowserSignIn, ApiError> {
        // The organization's policy for this account: its group is known once signed in,
        // so here the rule for everyone (the default group) decides.
        if let Some(refusal) =
            presently_desktop::settings::Provisioning::open(engine.paths()).microsoft365_refusal()
        {
            return Err(ApiError::from(refusal));
        }
        let login = engine.start_sign_in().await?;
        let url = login.authorize_url().to_string();
        let browser_opened = match presently_engine::auth::browser::open(&url) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the browser for sign-in");
                false
            }
        };
        let (id, cancel) = self.begin_sign_in();
        tracing::info!(account = %name, browser_opened, "sign-in: waiting for the browser");
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let result = engine
                .finish_sign_in(login, BROWSER_SIGN_IN_TIMEOUT, cancel)
                .await;
            let shell = app.state::<Shell>();
            shell.end_sign_in(id);
            match result {
                Ok(_) => {
                    tracing::info!(account = %name, "account signed in");
                    // Opened again now that its user is known: the policy group by its UPN.
                    let reopened = shell.engine().map_err(|e| e.message).and_then(|default| {
                        presently_desktop::accounts::open_named(
                            default.paths(),
                            &name,
                            engine.clock(),
                        )
                        .map_err(|e| e.to_string())
                    });
                    match reopened {
                        Ok(named) => {
                            if let Some(background) = &shell.background {
                                background.add_account(&name, Arc::new(named.engine));
                                background.sync_now();
                            }
                        }
                        Err(e) => {
                            tracing::warn!(account = %name, error = %e, "cannot apply the account's policy group")
                        }
                    }
                }
                Err(e) => {
                    let error = ApiError::from(e);
                    tracing::warn!(account = %name, code = ?error.code, message = %error.message, "account sign-in ended");
                }
            }
            shell.accounts_changed(&app, &name);
        });
        Ok(BrowserSignIn {
            url,
            browser_opened,
        })
    }

    /// A named account changed: the settings page lists the accounts again, the agenda and
    /// the tray follow.
    fn accounts_changed<R: Runtime>(&self, app: &AppHandle<R>, name: &str) {
        if let Err(e) = app.emit(ACCOUNTS_CHANGED, name) {
            tracing::warn!(error = %e, "cannot emit {ACCOUNTS_CHANGED}");
        }
        emit_agenda_changed(app);
        if let Some(background) = &self.background {
            background.tray_changed();
        }
        self.refresh_tray(app);
    }

    /// The engine of the account whose store holds appointment `id` (Open, Join, Copy link
    /// and skip work for an appointment of any account).
    pub fn engine_with_appointment(&self, id: &str) -> Result<Arc<Engine>, ApiError> {
        match &self.background {
            Some(background) => Ok(background.engine_with_appointment(id)),
            None => Ok(self.engine()?.clone()),
        }
    }

    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
        if let Some(background) = &self.background {
            background.stop_now();
        }
    }

    /// Starts the background work (once), showing through this app.
    pub fn start_background<R: Runtime>(&self, app: &AppHandle<R>) {
        if let Some(background) = &self.background {
            background.start(
                tauri::async_runtime::handle().inner(),
                Arc::new(AppIntegration { app: app.clone() }),
                Loops::default(),
            );
        }
    }

    /// The user changed `resource` by hand: automation leaves it as they set it (see
    /// [`Engine::presence_take_over`]); the status line and the tray follow.
    pub fn take_over<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        resource: presently_engine::presence::journal::Resource,
    ) -> Result<presently_engine::engine::TakeOverOutcome, ApiError> {
        let outcome = self.engine()?.presence_take_over(resource)?;
        tracing::info!(%resource, ?outcome, "the user took it over");
        self.publish_status(app);
        Ok(outcome)
    }

    /// "Don't switch for this one" (`skip`), or its undo, for `target` (with `series`, the
    /// whole series); the runtime looks again at once (skipping the appointment under way
    /// gives the user's own state back now), and the agenda's badge and the tray follow.
    pub fn skip_presence<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        target: &presently_engine::SkipTarget,
        series: bool,
        skip: bool,
    ) -> Result<presently_engine::SkipOutcome, ApiError> {
        // An appointment is skipped in its own account ("next" is the default account's).
        let engine = match target {
            presently_engine::SkipTarget::Appointment(id) => self.engine_with_appointment(id)?,
            presently_engine::SkipTarget::Next => self.engine()?.clone(),
        };
        let outcome = if skip {
            engine.presence_skip(target, series)?
        } else {
            engine.presence_unskip(target)?
        };
        tracing::info!(skip, changed = outcome.changed, "presence skip");
        if let Some(background) = &self.background {
            background.presence_changed();
        }
        emit_agenda_changed(app);
        self.refresh_tray(app);
        Ok(outcome)
    }

    /// Pauses presence automation until `until` (None: until resumed), or resumes it; the
    /// runtime is woken at once and the tray updated.
    pub fn pause_presence<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        pause: Option<Option<chrono::DateTime<chrono::Utc>>>,
    ) -> Result<(), ApiError> {
        let engine = self.engine()?;
        match pause {
            Some(until) => engine.presence_pause(until)?,
            None => engine.presence_resume()?,
        }
        if let Some(background) = &self.background {
            background.presence_changed();
        }
        self.refresh_tray(app);
        Ok(())
    }

    /// The settings presence automation depends on changed: it starts again with them.
    fn restart_presence(&self) {
        if let Some(background) = &self.background {
            background.restart_presence();
        }
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    /// The engine's status (it knows whether a sync runs, failed, or is offline), with a
    /// configuration error on top.
    pub fn status(&self) -> Result<StatusView, ApiError> {
        let status = self.engine()?.status()?;
        Ok(lock(&self.provisioning).overlay_status(status))
    }

    /// The status with what presence automation keeps failing at (the UI's status line).
    pub fn app_status(&self) -> Result<AppStatus, ApiError> {
        let view = self.status()?;
        let presence = self
            .engine()?
            .presence_status()
            .map(|s| presently_desktop::presence::problems(&s))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the presence status");
                Vec::new()
            });
        Ok(AppStatus { view, presence })
    }

    /// Asks the sync loop for a sync now; `not_signed_in` when nobody is.
    pub fn request_sync(&self) -> Result<(), ApiError> {
        if !self.status()?.account.signed_in {
            return Err(ApiError::new(
                ErrorCode::NotSignedIn,
                "Not signed in: sign in to Microsoft 365 to sync your calendar.",
            ));
        }
        self.sync_now();
        Ok(())
    }

    /// The app registration and authority from the configuration, and where it comes from.
    pub fn sign_in_info(&self) -> Result<SignInInfo, ApiError> {
        let mut info = SignInInfo::from_config(&self.engine()?.config());
        let provisioning = lock(&self.provisioning);
        let application = provisioning.application();
        info.application_name = application.as_ref().and_then(|a| a.display_name.clone());
        info.source = application.map(|a| a.source);
        info.policy_error = provisioning.policy_error();
        Ok(info)
    }

    /// What the settings page shows.
    pub fn settings_view(&self) -> Result<SettingsView, ApiError> {
        let engine = self.engine()?;
        let status = engine.status()?;
        let config = engine.config();
        let calendars = engine
            .stored_calendars()?
            .into_iter()
            // Calendar subscriptions are not chosen for sync: the page lists them apart.
            .filter(|c| {
                !c.id
                    .starts_with(presently_engine::store::SUBSCRIPTION_ID_PREFIX)
            })
            .map(|c| CalendarChoice {
                id: c.id,
                name: c.name,
                color: c.color,
                primary: c.is_default,
            })
            .collect();
        let p = lock(&self.provisioning);
        Ok(SettingsView {
            config: p.config().clone(),
            locked: p.locked(),
            policy: p.policy_info(),
            config_error: p.config_error().map(str::to_owned),
            sync_method: p.sync_method(),
            account: SettingsAccount {
                signed_in: status.account.signed_in,
                upn: status.account.upn,
                display_name: status.account.display_name,
            },
            application: p.application(),
            calendars,
            builtin_profiles: presently_engine::presence::profile::builtin_profiles_in(
                presently_engine::presence::profile::Capabilities {
                    automatic_replies: config.features.automatic_replies,
                    forwarding_provider: config.presence.forwarding.is_configured(),
                },
                config.app.language.resolve(),
            ),
            config_path: p.config_path().display().to_string(),
            join_shortcut: crate::shortcut::JoinShortcutStatus::default(),
            accounts: match &self.background {
                Some(background) => presently_desktop::accounts::entries(&background.accounts()),
                None => Vec::new(),
            },
            accounts_addable: !self.is_demo() && self.background.is_some(),
        })
    }

    /// Validates and saves the settings (atomically), then applies them: the engine gets
    /// the new configuration, the loops wake, the UI and tray hear about it.
    /// A change that would send the user's token elsewhere or run a program is saved only
    /// once the user allowed it in a native dialog, outside the webview
    /// ([`Provisioning::changes_to_confirm`]).
    pub async fn save_settings<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        config: Config,
    ) -> Result<Config, ApiError> {
        let engine = self.engine()?.clone();
        let changes = lock(&self.provisioning).changes_to_confirm(&config)?;
        if !changes.is_empty() && !confirm_natively(app, &changes).await {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the change was not allowed; nothing was saved",
            ));
        }
        let before = engine.config();
        let applied = lock(&self.provisioning).save_confirmed(config, &changes)?;
        engine.reconfigure(applied.clone())?;
        if presence_inputs_changed(&before, &applied) {
            self.restart_presence();
        }
        self.after_reconfigure(app);
        Ok(applied)
    }

    /// A forwarding draft from the settings page's Test button: refused when it changes
    /// what the organization locked.
    pub fn check_forwarding_draft(
        &self,
        draft: &presently_engine::presence::forwarding::ForwardingConfig,
    ) -> Result<(), ApiError> {
        Ok(lock(&self.provisioning).check_forwarding_draft(draft)?)
    }

    /// First launch without a provisioned application: the IDs the user entered.
    pub fn set_registration<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        client_id: &str,
        tenant: &str,
    ) -> Result<SignInInfo, ApiError> {
        let engine = self.engine()?;
        let applied = lock(&self.provisioning).set_registration(client_id, tenant)?;
        engine.reconfigure(applied)?;
        self.after_reconfigure(app);
        self.sign_in_info()
    }

    /// At start: the account signed in earlier picks its policy group.
    pub fn apply_signed_in_account(&self) {
        let Ok(engine) = self.engine() else {
            return;
        };
        let upn = engine.status().ok().and_then(|s| s.account.upn);
        let changed = lock(&self.provisioning).set_upn(upn);
        if let Some(config) = changed {
            if let Err(e) = engine.reconfigure(config) {
                tracing::warn!(error = %e, "cannot apply the settings of this account's group");
            }
        }
    }

    /// The account signed in: its policy group may bring other settings.
    fn account_changed<R: Runtime>(&self, app: &AppHandle<R>, upn: Option<String>) {
        let Ok(engine) = self.engine() else {
            return;
        };
        let changed = lock(&self.provisioning).set_upn(upn);
        if let Some(config) = changed {
            let before = engine.config();
            match engine.reconfigure(config.clone()) {
                Ok(()) => {
                    if presence_inputs_changed(&before, &config) {
                        self.restart_presence();
                    }
                    self.after_reconfigure(app)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot apply the settings of this account's group")
                }
            }
        }
    }

    /// Wakes everything that reads the configuration.
    fn after_reconfigure<R: Runtime>(&self, app: &AppHandle<R>) {
        self.sync_now();
        if let Some(background) = &self.background {
            background.store_changed();
        }
        if let Err(e) = app.emit(AGENDA_CHANGED, ()) {
            tracing::warn!(error = %e, "cannot emit {AGENDA_CHANGED}");
        }
        self.publish_status(app);
    }

    /// Registers a new sign-in, cancelling the one before; returns its number and what
    /// completes when it is cancelled.
    fn begin_sign_in(&self) -> (u64, impl std::future::Future<Output = ()> + Send + 'static) {
        let id = self.sign_in_ids.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = oneshot::channel();
        if let Some(previous) = lock(&self.sign_in).replace(PendingSignIn { id, cancel: tx }) {
            let _ = previous.cancel.send(());
        }
        // A dropped sender (the app going away) cancels too.
        (id, async move {
            let _ = rx.await;
        })
    }

    /// Forgets sign-in `id`; whether it was still the current one.
    fn end_sign_in(&self, id: u64) -> bool {
        let mut current = lock(&self.sign_in);
        if current.as_ref().is_some_and(|p| p.id == id) {
            *current = None;
            true
        } else {
            false
        }
    }

    /// Cancels the sign-in under way, if any; whether there was one.
    pub fn cancel_sign_in(&self) -> bool {
        match lock(&self.sign_in).take() {
            Some(pending) => {
                let _ = pending.cancel.send(());
                true
            }
            None => false,
        }
    }

    /// `disabled_by_policy` when the organization does not allow Microsoft 365 for this
    /// account: checked before any request to Microsoft (as the CLI does).
    fn refuse_if_disallowed(&self) -> Result<(), ApiError> {
        match lock(&self.provisioning).microsoft365_refusal() {
            Some(refusal) => Err(ApiError::from(refusal)),
            None => Ok(()),
        }
    }

    /// Interactive sign-in: binds the loopback listener, sends the system browser to the
    /// authorize URL and waits for it in the background (at most
    /// [`BROWSER_SIGN_IN_TIMEOUT`]), reporting through [`SIGN_IN_PROGRESS`].
    pub async fn start_browser_sign_in<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<BrowserSignIn, ApiError> {
        self.refuse_if_disallowed()?;
        let engine = Arc::clone(self.engine()?);
        let login = engine.start_sign_in().await?;
        let url = login.authorize_url().to_string();
        // The URL carries the sign-in's state: it goes to the browser and the page, not the log.
        let browser_opened = match presently_engine::auth::browser::open(&url) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the browser for sign-in");
                false
            }
        };
        let (id, cancel) = self.begin_sign_in();
        tracing::info!(browser_opened, "sign-in: waiting for the browser");
        emit_progress(
            app,
            &SignInProgress::WaitingForBrowser {
                url: url.clone(),
                browser_opened,
            },
        );
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let result = engine
                .finish_sign_in(login, BROWSER_SIGN_IN_TIMEOUT, cancel)
                .await;
            app.state::<Shell>().finish_sign_in(&app, id, result);
        });
        Ok(BrowserSignIn {
            url,
            browser_opened,
        })
    }

    /// Device-code sign-in: answers the code at once and polls in the background until the
    /// user finished, the code expired or the sign-in was cancelled.
    pub async fn start_device_sign_in<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<DeviceCode, ApiError> {
        self.refuse_if_disallowed()?;
        let engine = Arc::clone(self.engine()?);
        let login = engine.start_device_sign_in().await?;
        let lifetime = login.expires_in();
        let code = DeviceCode {
            verification_uri: login.verification_uri().to_owned(),
            user_code: login.user_code().to_owned(),
            expires_in: lifetime.as_secs(),
        };
        let (id, cancel) = self.begin_sign_in();
        tracing::info!(
            expires_in = code.expires_in,
            "sign-in: waiting for the device code"
        );
        emit_progress(app, &SignInProgress::WaitingForCode { code: code.clone() });
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let result = tokio::select! {
                result = engine.finish_device_sign_in(login) => result,
                _ = cancel => Err(Error::Auth(AuthError::Cancelled)),
                _ = tokio::time::sleep(lifetime + DEVICE_CODE_GRACE) => {
                    Err(Error::Auth(AuthError::Timeout(lifetime.as_secs())))
                }
            };
            app.state::<Shell>().finish_sign_in(&app, id, result);
        });
        Ok(code)
    }

    /// The end of a sign-in: on success the UI hears `signed_in` and the new status, and the
    /// sync loop wakes for the first sync. A sign-in replaced by a newer one stays quiet
    /// unless it succeeded.
    fn finish_sign_in<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        id: u64,
        result: Result<Account, Error>,
    ) {
        let current = self.end_sign_in(id);
        match result {
            Ok(account) => {
                tracing::info!("signed in");
                self.account_changed(app, Some(account.upn.clone()));
                emit_progress(
                    app,
                    &SignInProgress::SignedIn {
                        upn: account.upn,
                        display_name: account.display_name,
                    },
                );
                self.publish_status(app);
                self.sync_now();
            }
            Err(e) => {
                let error = ApiError::from(e);
                if error.code == ErrorCode::LoginCancelled || !current {
                    tracing::info!(code = ?error.code, "sign-in ended");
                } else {
                    tracing::warn!(code = ?error.code, message = %error.message, "sign-in failed");
                    emit_progress(app, &SignInProgress::Failed { error });
                }
            }
        }
    }

    /// Signs out (the local calendar stays) and tells the UI and the tray.
    pub async fn sign_out<R: Runtime>(&self, app: &AppHandle<R>) -> Result<(), ApiError> {
        self.cancel_sign_in();
        self.engine()?.sign_out(false).await?;
        tracing::info!("signed out");
        self.publish_status(app);
        Ok(())
    }

    /// Demo mode: sign in to the embedded emulator through the real loopback flow, then a
    /// first sync, so the window opens on the demo week.
    pub async fn demo_sign_in_and_sync<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<(), ApiError> {
        let engine = Arc::clone(self.engine()?);
        engine.sign_in_to_emulator().await?;
        let result = engine.sync_now().await;
        self.after_sync(app, &result);
        result.map(|_| ()).map_err(ApiError::from)
    }

    /// Wakes the sync loop.
    fn sync_now(&self) {
        if let Some(background) = &self.background {
            background.sync_now();
        }
    }

    fn after_sync<R: Runtime>(&self, app: &AppHandle<R>, result: &Result<SyncReport, Error>) {
        if presently_desktop::sync::changed_the_store(result) {
            emit_agenda_changed(app);
            if let Some(background) = &self.background {
                background.store_changed();
            }
        }
        self.publish_status(app);
    }

    /// Sends `status-changed` and brings the tray up to date.
    pub fn publish_status<R: Runtime>(&self, app: &AppHandle<R>) {
        match self.app_status() {
            Ok(status) => {
                if let Err(e) = app.emit(STATUS_CHANGED, &status) {
                    tracing::warn!(error = %e, "cannot emit {STATUS_CHANGED}");
                }
            }
            Err(e) => tracing::warn!(message = %e.message, "no status to publish"),
        }
        self.refresh_tray(app);
    }

    /// Rebuilds the tray menu if what it should show changed.
    /// The tray icon was just created: the next [`Shell::refresh_tray`] applies the model
    /// even if a refresh before (with no icon to apply it to) saw the same one.
    pub fn tray_created(&self) {
        *lock(&self.tray_shown) = None;
    }

    pub fn refresh_tray<R: Runtime>(&self, app: &AppHandle<R>) {
        let model = self.tray_model();
        {
            let mut shown = lock(&self.tray_shown);
            if shown.as_ref() == Some(&model) {
                return;
            }
            *shown = Some(model.clone());
        }
        let handle = app.clone();
        let result = app.run_on_main_thread(move || {
            let Some(icon) = handle.tray_by_id(tray::TRAY_ID) else {
                return;
            };
            let started = std::time::Instant::now();
            let applied = tray::apply(&handle, &icon, &model);
            tracing::debug!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "tray updated on the main thread"
            );
            if let Err(e) = applied {
                tracing::warn!(error = %e, "cannot update the tray menu");
                // Try again next time.
                if let Some(shell) = handle.try_state::<Shell>() {
                    *lock(&shell.tray_shown) = None;
                }
            }
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot reach the main thread to update the tray");
        }
    }

    /// The tray model for now: the status and the next appointments, in the app's
    /// language, hidden as privacy mode says.
    pub fn tray_model(&self) -> TrayMenu {
        let (lang, privacy_locked) = {
            let p = lock(&self.provisioning);
            (p.config().app.language.resolve(), p.privacy_locked())
        };
        let status = match self.status() {
            Ok(s) => s,
            Err(e) => return tray::cannot_open(&e.message, lang),
        };
        match (self.engine(), &self.background) {
            // Its next meeting is taken from every account signed in.
            (Ok(_), Some(background)) => background.tray_menu(&status, privacy_locked),
            (Ok(engine), None) => tray::for_engine(engine, &status, privacy_locked),
            (Err(e), _) => tray::cannot_open(&e.message, lang),
        }
    }

    /// The tray's privacy mode toggle: saved like a change on the settings page (refused
    /// when the organization locked it), then applied everywhere.
    pub fn set_privacy<R: Runtime>(&self, app: &AppHandle<R>, on: bool) -> Result<(), ApiError> {
        let engine = self.engine()?.clone();
        let applied = lock(&self.provisioning).set_privacy(on)?;
        engine.reconfigure(applied)?;
        self.after_reconfigure(app);
        Ok(())
    }
}

fn emit_agenda_changed<R: Runtime>(app: &AppHandle<R>) {
    if let Err(e) = app.emit(AGENDA_CHANGED, ()) {
        tracing::warn!(error = %e, "cannot emit {AGENDA_CHANGED}");
    }
}

/// How the window app shows what the background work produces: events to the webview,
/// the Tauri tray and the notification plugin.
struct AppIntegration<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> AppIntegration<R> {
    fn shell(&self) -> tauri::State<'_, Shell> {
        self.app.state::<Shell>()
    }

    fn notify(
        &self,
        builder: impl FnOnce(
            tauri_plugin_notification::NotificationBuilder<R>,
        ) -> tauri_plugin_notification::NotificationBuilder<R>,
    ) {
        use tauri_plugin_notification::NotificationExt;
        if let Err(e) = builder(self.app.notification().builder()).show() {
            tracing::warn!(error = %e, "cannot show the notification");
        }
    }
}

impl<R: Runtime> Integration for AppIntegration<R> {
    fn sync_still_running(&self) {
        self.shell().publish_status(&self.app);
    }

    /// Every round, not only those `end.redraw` names: the status line says when the last
    /// sync was (the tray is rebuilt only when its model changed).
    fn sync_round_ended(&self, end: RoundEnd) {
        if end.store_changed {
            emit_agenda_changed(&self.app);
        }
        self.shell().publish_status(&self.app);
    }

    fn sync_filled(&self) {
        emit_agenda_changed(&self.app);
    }

    fn presence_status_changed(&self) {
        self.shell().publish_status(&self.app);
    }

    fn show_reminder(&self, reminder: Reminder, body: String) -> Shown<'_> {
        let actions = if reminder.join_url.is_some() {
            crate::reminders::WITH_JOIN
        } else {
            crate::reminders::OPEN_ONLY
        };
        self.notify(|n| {
            n.title(&reminder.subject)
                .body(presently_desktop::reminders::plugin_body(&body))
                .action_type_id(actions)
                .extra(crate::reminders::APPOINTMENT, &reminder.appointment_id)
        });
        Box::pin(std::future::ready(()))
    }

    fn show_alert(&self, alert: RestoreAlert) -> Shown<'_> {
        self.notify(|n| {
            n.title(&alert.summary)
                .body(presently_desktop::reminders::plugin_body(&alert.body))
        });
        Box::pin(std::future::ready(()))
    }

    fn offer_restore(&self, offer: RestoreOffer) -> Shown<'_> {
        self.notify(|n| {
            n.title(&offer.summary)
                .body(presently_desktop::reminders::plugin_body(&offer.body))
                .action_type_id(crate::reminders::RESTORE_NOW)
                .extra(crate::reminders::APPOINTMENT, &offer.appointment_id)
        });
        Box::pin(std::future::ready(()))
    }

    fn refresh_tray(&self) -> Shown<'_> {
        self.shell().refresh_tray(&self.app);
        Box::pin(std::future::ready(()))
    }
}

/// Whether presence automation must start again to follow a configuration change (it builds
/// its policy and zone when it starts).
pub fn presence_inputs_changed(before: &Config, after: &Config) -> bool {
    before.features.presence != after.features.presence
        || before.features.automatic_replies != after.features.automatic_replies
        || before.presence != after.presence
        || before.display_timezone() != after.display_timezone()
        // The built-in profiles write their texts in the app's language.
        || before.app.language != after.app.language
}

fn emit_progress<R: Runtime>(app: &AppHandle<R>, progress: &SignInProgress) {
    if let Err(e) = app.emit(SIGN_IN_PROGRESS, progress) {
        tracing::warn!(error = %e, "cannot emit {SIGN_IN_PROGRESS}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_outside_demo_mode_is_not_signed_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config: Default::default(),
            clock: Arc::new(presently_engine::SystemClock),
            demo: false,
        })
        .expect("engine");
        let shell = Shell::new(Ok(engine), None, no_policy(dir.path()));
        assert!(!shell.status().expect("status").account.signed_in);
        let menu = shell.tray_model();
        assert_eq!(menu.tooltip, "Presently — signed out");
    }

    fn no_policy(dir: &std::path::Path) -> Provisioning {
        Provisioning::load(dir.join("no-policy.toml"), dir.join("config.toml"), None)
    }

    fn shell() -> (tempfile::TempDir, Shell) {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config: Default::default(),
            clock: Arc::new(presently_engine::SystemClock),
            demo: false,
        })
        .expect("engine");
        let provisioning = no_policy(dir.path());
        (dir, Shell::new(Ok(engine), None, provisioning))
    }

    /// The window app refuses a sign-in the organization does not allow, as the CLI does,
    /// before the loopback listener or the browser.
    #[test]
    fn a_sign_in_the_policy_does_not_allow_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            "[[groups]]\nname = \"Board\"\ndefault = true\nallow_microsoft365 = false\n",
        )
        .expect("policy");
        let engine = Engine::open(presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config: Default::default(),
            clock: Arc::new(presently_engine::SystemClock),
            demo: false,
        })
        .expect("engine");
        let provisioning = Provisioning::load(policy, dir.path().join("config.toml"), None);
        let refused = Shell::new(Ok(engine), None, provisioning);
        let err = refused.refuse_if_disallowed().expect_err("refused");
        assert_eq!(err.code, ErrorCode::DisabledByPolicy);
        assert!(err.message.contains("Board"), "{}", err.message);
        let (_dir, allowed) = shell();
        assert!(allowed.refuse_if_disallowed().is_ok());
    }

    #[test]
    fn presence_restarts_only_for_what_it_depends_on() {
        let before = Config::default();
        let mut after = before.clone();
        after.sync.interval_secs = 300;
        after.agenda.days = 3;
        assert!(!presence_inputs_changed(&before, &after));
        let mut on = before.clone();
        on.features.presence = true;
        assert!(presence_inputs_changed(&before, &on));
        let mut rules = before.clone();
        rules.presence.default_rules = false;
        assert!(presence_inputs_changed(&before, &rules));
        let mut zone = before.clone();
        zone.agenda.timezone = Some("Pacific/Auckland".into());
        assert!(presence_inputs_changed(&before, &zone));
    }

    #[test]
    fn sign_in_progress_payloads_are_tagged_by_phase() {
        let json = |p: &SignInProgress| serde_json::to_value(p).expect("json");
        assert_eq!(
            json(&SignInProgress::WaitingForBrowser {
                url: "http://127.0.0.1:1/organizations/oauth2/v2.0/authorize?x=1".into(),
                browser_opened: true,
            }),
            serde_json::json!({
                "phase": "waiting_for_browser",
                "url": "http://127.0.0.1:1/organizations/oauth2/v2.0/authorize?x=1",
                "browser_opened": true
            })
        );
        assert_eq!(
            json(&SignInProgress::WaitingForCode {
                code: DeviceCode {
                    verification_uri: "https://microsoft.com/devicelogin".into(),
                    user_code: "ABCD-EFGH".into(),
                    expires_in: 900,
                }
            }),
            serde_json::json!({
                "phase": "waiting_for_code",
                "verification_uri": "https://microsoft.com/devicelogin",
                "user_code": "ABCD-EFGH",
                "expires_in": 900
            })
        );
        assert_eq!(
            json(&SignInProgress::SignedIn {
                upn: "megan@contoso.com".into(),
                display_name: None
            }),
            serde_json::json!({"phase": "signed_in", "upn": "megan@contoso.com", "display_name": null})
        );
        assert_eq!(
            json(&SignInProgress::Failed {
                error: ApiError::new(ErrorCode::ConsentRequired, "AADSTS65001: ask")
            }),
            serde_json::json!({
                "phase": "failed",
                "error": {"code": "consent_required", "message": "AADSTS65001: ask"}
            })
        );
        assert_eq!(
            json(&SignInProgress::Cancelled),
            serde_json::json!({"phase": "cancelled"})
        );
    }

    #[test]
    fn sign_in_info_says_whether_an_application_is_configured() {
        let mut config = presently_engine::config::Config::default();
        let info = SignInInfo::from_config(&config);
        assert_eq!(
            info,
            SignInInfo {
                client_id: None,
                tenant: "organizations".into(),
                authority_host: "https://login.microsoftonline.com".into(),
                configured: false,
                application_name: None,
                source: None,
                policy_error: None,
            }
        );
        config.microsoft.client_id = Some("  ".into());
        assert!(!SignInInfo::from_config(&config).configured);
        config.microsoft.client_id = Some("7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b".into());
        config.microsoft.tenant = "contoso.com".into();
        let info = SignInInfo::from_config(&config);
        assert!(info.configured);
        assert_eq!(
            info.client_id.as_deref(),
            Some("7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b")
        );
        assert_eq!(info.tenant, "contoso.com");
        let (_dir, shell) = shell();
        assert!(!shell.sign_in_info().expect("info").configured);
    }

    #[tokio::test]
    async fn a_new_sign_in_cancels_the_one_before_and_cancel_ends_the_current() {
        let (_dir, shell) = shell();
        let (first, first_cancelled) = shell.begin_sign_in();
        let (second, second_cancelled) = shell.begin_sign_in();
        assert_ne!(first, second);
        tokio::time::timeout(Duration::from_secs(1), first_cancelled)
            .await
            .expect("the first sign-in is cancelled by the second");
        assert!(!shell.end_sign_in(first), "the first is no longer current");
        assert!(shell.cancel_sign_in());
        tokio::time::timeout(Duration::from_secs(1), second_cancelled)
            .await
            .expect("cancel_sign_in cancels the current sign-in");
        assert!(!shell.cancel_sign_in(), "nothing left to cancel");
        assert!(!shell.end_sign_in(second));
        let (third, _cancel) = shell.begin_sign_in();
        assert!(shell.end_sign_in(third));
    }
}
