//! [`Engine`]: the one handle the app shell and the CLI hold. It owns the store, the
//! configuration and the clock, and answers the questions the surfaces ask.

use crate::agenda::{self, AgendaView};
use crate::auth::oauth::AuthSettings;
use crate::auth::tokens::SignedInAccount;
use crate::auth::{
    AuthError, CredentialStore, DeviceLogin, InteractiveLogin, KeyringStore, MemoryStore, SignedIn,
    TokenManager,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, ErrorCode};
use crate::graph::GraphClient;
use crate::links::{self, OpenKind};
use crate::model::{Account, Appointment};
use crate::paths::Paths;
use crate::store::Store;
use chrono::{DateTime, NaiveDate, Utc};
use secrecy::SecretString;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Everything [`Engine::open`] needs.
pub struct EngineSetup {
    pub paths: Paths,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Signed in to the embedded emulator rather than Microsoft 365.
    pub demo: bool,
}

pub struct Engine {
    paths: Paths,
    /// Swapped whole by [`Engine::reconfigure`] (settings applied without a restart); readers
    /// take a snapshot with [`Engine::config`].
    config: RwLock<Arc<Config>>,
    clock: Arc<dyn Clock>,
    demo: bool,
    store: Mutex<Store>,
    credentials: Arc<dyn CredentialStore>,
    tokens: RwLock<Option<Arc<TokenManager>>>,
    graph: RwLock<Arc<GraphClient>>,
    /// What the running sync is doing (the store knows only completed syncs).
    phase: Mutex<(SyncPhase, Option<String>)>,
    /// Shared with the running presence runtime: its status and its wake-up.
    presence_shared: crate::presence::runtime::Shared,
    /// The call-forwarding provider and where its secrets are.
    pub(crate) forwarding: crate::presence::forwarding::Slot,
    /// Bumped when a sync under way made part of the window visible (a first sync's next
    /// days, then each further part): the shells show it before the sync ends.
    filled: tokio::sync::watch::Sender<u64>,
}

mod outlook;
mod presence;
mod run_sync;
mod skip;
mod subscriptions;
pub mod sync_loop;
pub use presence::{PresenceSummary, TakeOverOutcome};
pub use run_sync::{CalendarReport, ReadMode, RoundRead, SyncOptions, SyncReport};
pub use skip::{NextSwitch, SkipOutcome, SkipTarget, CALL_ENDED};
pub use subscriptions::{FeedOutcome, FeedReport};

/// `meta` key recording why the user is not signed in although an account is stored:
/// `signed_out`, or `<error code>: <message>` when the sign-in stopped working.
pub const SESSION_KEY: &str = "session";

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct AccountStatus {
    pub signed_in: bool,
    pub upn: Option<String>,
    pub display_name: Option<String>,
    pub demo: bool,
}

/// `never` until a first sync completes; the running app reports `syncing`, `offline`
/// and `error` as they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    Never,
    Idle,
    Syncing,
    Offline,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct SyncStatus {
    pub state: SyncPhase,
    pub last_synced_at: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct StatusView {
    pub account: AccountStatus,
    pub sync: SyncStatus,
    /// The display zone (IANA name): the UI formats every time in it, never in the
    /// webview's own idea of the local zone.
    pub timezone: String,
}

impl Engine {
    /// Opens the engine with the default place for credentials: the OS keyring, or memory
    /// in demo mode (the emulator's tokens are worthless and must not clutter the keyring).
    pub fn open(setup: EngineSetup) -> Result<Self, Error> {
        Self::open_account(setup, crate::paths::DEFAULT_ACCOUNT)
    }

    /// [`Engine::open`] for a named account: its sign-in is the keyring entry of profile
    /// `account` (`default` for the default account), and `setup.paths` must be that
    /// account's ([`Paths::account`]), so that accounts share neither tokens nor a store.
    pub fn open_account(setup: EngineSetup, account: &str) -> Result<Self, Error> {
        let credentials: Arc<dyn CredentialStore> = if setup.demo {
            Arc::new(MemoryStore::default())
        } else {
            Arc::new(KeyringStore::new(account))
        };
        Self::open_with_credentials(setup, credentials)
    }

    pub fn open_with_credentials(
        setup: EngineSetup,
        credentials: Arc<dyn CredentialStore>,
    ) -> Result<Self, Error> {
        setup.paths.make_private().map_err(|source| Error::Io {
            path: setup.paths.data_dir.clone(),
            source,
        })?;
        let store = Store::open(&setup.paths.store_file())?;
        let tokens = token_manager(&setup.config, &credentials, &setup.clock)?;
        let graph = graph_client(&setup.config, &setup.clock)?;
        Ok(Self {
            paths: setup.paths,
            config: RwLock::new(Arc::new(setup.config)),
            clock: setup.clock,
            demo: setup.demo,
            store: Mutex::new(store),
            credentials,
            tokens: RwLock::new(tokens.map(Arc::new)),
            graph: RwLock::new(Arc::new(graph)),
            phase: Mutex::new((SyncPhase::Never, None)),
            presence_shared: Default::default(),
            forwarding: crate::presence::forwarding::Slot::new(setup.demo),
            filled: tokio::sync::watch::Sender::new(0),
        })
    }

    fn set_phase(&self, phase: SyncPhase, message: Option<String>) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = (phase, message);
    }

    /// Reminders due now that were not shown yet, marked shown before they are returned
    /// (so a crash cannot show one twice), and when the next one falls due.
    pub fn take_due_reminders(
        &self,
    ) -> Result<(Vec<crate::reminders::Reminder>, Option<DateTime<Utc>>), Error> {
        let now = self.clock.now();
        let tz = self.config().display_timezone();
        let mut store = self.store();
        // All-day appointments remind the day before (Outlook's default is 18 hours).
        let from = now - chrono::Duration::days(1);
        let to = now + chrono::Duration::days(3);
        let appointments =
            store.appointments_overlapping(from, to, from.date_naive(), to.date_naive())?;
        let shown = store.reminders_shown(now - chrono::Duration::days(2))?;
        let (due, next) = crate::reminders::due(&appointments, &shown, tz, now);
        if !due.is_empty() {
            let keys: Vec<(String, i64)> = due.iter().map(|r| r.key()).collect();
            store.mark_reminders_shown(&keys, now)?;
        }
        Ok((due, next))
    }

    /// The clock the engine was given.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The Graph client (its counters serve reports and benchmarks).
    pub fn graph(&self) -> Arc<GraphClient> {
        read(&self.graph).clone()
    }

    fn tokens(&self) -> Result<Arc<TokenManager>, Error> {
        read(&self.tokens).clone().ok_or_else(|| {
            Error::Auth(AuthError::Protocol(
                "no application (client) ID is configured: set microsoft.client_id, or ask your administrator to provision Presently".into(),
            ))
        })
    }

    /// Applies a new configuration at once (the settings page, a first-launch app
    /// registration): later reads see it whole. A changed app registration or authority
    /// gets a new token manager (its keyring entry stays where it is); a changed Graph host
    /// or timeout a new Graph client. Requests already under way finish with the old ones.
    pub fn reconfigure(&self, config: Config) -> Result<(), Error> {
        config.check()?;
        let old = self.config();
        if old.microsoft != config.microsoft {
            let tokens = token_manager(&config, &self.credentials, &self.clock)?;
            *write(&self.tokens) = tokens.map(Arc::new);
        }
        if old.microsoft.graph_endpoint != config.microsoft.graph_endpoint
            || old.sync.request_timeout_secs != config.sync.request_timeout_secs
        {
            *write(&self.graph) = Arc::new(graph_client(&config, &self.clock)?);
        }
        let forwarding_changed = old.presence.forwarding != config.presence.forwarding;
        tracing::info!("configuration applied");
        *write(&self.config) = Arc::new(config);
        if forwarding_changed {
            self.reset_forwarding_provider();
        }
        Ok(())
    }

    /// Begins an interactive sign-in: the loopback listener is bound; open
    /// [`InteractiveLogin::authorize_url`] in the browser, then call [`Engine::finish_sign_in`].
    pub async fn start_sign_in(&self) -> Result<InteractiveLogin, Error> {
        let settings = self.tokens()?.settings().clone();
        let hint = self.store().account()?.map(|a| a.upn);
        Ok(InteractiveLogin::start(settings, hint.as_deref()).await?)
    }

    /// Waits for the browser, redeems the code, keeps the refresh token in the keyring and
    /// records the account.
    pub async fn finish_sign_in(
        &self,
        login: InteractiveLogin,
        timeout: std::time::Duration,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<Account, Error> {
        let tokens = self.tokens()?;
        let signed_in = login
            .finish_explained(tokens.http(), self.clock.clone(), timeout, cancel)
            .await?;
        self.complete_sign_in(signed_in).await
    }

    /// Demo mode's sign-in: the same loopback flow, with the embedded emulator consenting
    /// at once and an in-process client playing the browser. Refused for any authority
    /// that is not on this machine.
    pub async fn sign_in_to_emulator(&self) -> Result<Account, Error> {
        let login = self.start_sign_in().await?;
        let url = login.authorize_url().clone();
        // If the in-process browser fails, the listener is cancelled rather than left waiting.
        let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
        let cancel = async move {
            if cancel_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let browse = async {
            let browsed = crate::auth::browser::follow_auto_consent(&url).await;
            if browsed.is_err() {
                let _ = cancel_tx.send(());
            }
            browsed
        };
        let finish = self.finish_sign_in(login, std::time::Duration::from_secs(30), cancel);
        let (browsed, account) = tokio::join!(browse, finish);
        browsed?;
        account
    }

    /// Begins a device-code sign-in; show [`DeviceLogin::instructions`], then call
    /// [`Engine::finish_device_sign_in`].
    pub async fn start_device_sign_in(&self) -> Result<DeviceLogin, Error> {
        let tokens = self.tokens()?;
        Ok(DeviceLogin::start(tokens.settings().clone(), tokens.http()).await?)
    }

    pub async fn finish_device_sign_in(&self, login: DeviceLogin) -> Result<Account, Error> {
        let tokens = self.tokens()?;
        let signed_in = login
            .finish(tokens.http(), self.clock.clone(), tokio::time::sleep)
            .await?;
        self.complete_sign_in(signed_in).await
    }

    async fn complete_sign_in(&self, signed_in: SignedIn) -> Result<Account, Error> {
        let tokens = self.tokens()?;
        let who = tokens.complete_login(signed_in).await?;
        let token = tokens.access_token().await?;
        let mut account = self.graph().me(&token).await?;
        account.tenant_id = who.tenant_id;
        let mut store = self.store();
        store.set_account(&account)?;
        store.delete_meta(SESSION_KEY)?;
        Ok(account)
    }

    /// Who is signed in, from the keyring (no network).
    pub async fn whoami(&self) -> Result<Option<SignedInAccount>, Error> {
        let tokens = read(&self.tokens).clone();
        match tokens {
            Some(tokens) => Ok(tokens.account().await?),
            None => Ok(None),
        }
    }

    /// The signed-in account as this process last saw it in the keyring (read once if
    /// never): for what runs every sync round. [`Self::whoami`] reads the keyring again.
    pub async fn known_account(&self) -> Result<Option<SignedInAccount>, Error> {
        let tokens = read(&self.tokens).clone();
        match tokens {
            Some(tokens) => Ok(tokens.known_account().await?),
            None => Ok(None),
        }
    }

    /// Signs out: the keyring entry goes; the local calendar stays unless `forget`.
    pub async fn sign_out(&self, forget: bool) -> Result<(), Error> {
        let tokens = read(&self.tokens).clone();
        if let Some(tokens) = tokens {
            tokens.sign_out().await?;
        }
        let mut store = self.store();
        if forget {
            store.forget_everything()?;
        } else {
            store.set_meta(SESSION_KEY, "signed_out")?;
        }
        Ok(())
    }

    /// A valid access token. When the grant is dead, the store remembers why, so the
    /// surfaces can send the user to sign in again; the local calendar stays.
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        match self.tokens()?.access_token().await {
            Ok(token) => Ok(token),
            Err(err) => {
                if matches!(
                    err.code(),
                    ErrorCode::ReauthRequired | ErrorCode::ConsentRequired | ErrorCode::NotSignedIn
                ) {
                    self.store()
                        .set_meta(SESSION_KEY, &format!("{}: {err}", err.code()))?;
                }
                Err(err.into())
            }
        }
    }

    /// Fetches the calendars into the store with the signed-in account's token; a 401
    /// gets one token refresh and one retry.
    /// An incremental sync now (the tray's and the CLI's "Sync now").
    pub async fn sync_now(&self) -> Result<SyncReport, Error> {
        self.sync(SyncOptions::default()).await
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The account's calendars as last listed by a sync (all of them, synced or not).
    pub fn stored_calendars(&self) -> Result<Vec<crate::model::Calendar>, Error> {
        self.store().calendars()
    }

    /// The configuration in force (a snapshot: [`Engine::reconfigure`] may replace it).
    pub fn config(&self) -> Arc<Config> {
        read(&self.config).clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a half-written store (every write is a
        // transaction), so a poisoned lock is safe to keep using.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Today in the display zone.
    /// Changes each time a sync under way made part of the window visible (see
    /// [`Engine::sync`]: a first sync shows the next two weeks first).
    pub fn sync_fills(&self) -> tokio::sync::watch::Receiver<u64> {
        self.filled.subscribe()
    }

    pub fn today(&self) -> NaiveDate {
        self.clock
            .now()
            .with_timezone(&self.config().display_timezone())
            .date_naive()
    }

    /// The agenda from `from` (default today) for `days` days (default from the config).
    pub fn agenda(&self, from: Option<NaiveDate>, days: Option<u32>) -> Result<AgendaView, Error> {
        let tz = self.config().display_timezone();
        self.agenda_in(tz, from, days)
    }

    /// [`Engine::agenda`] in zone `tz` rather than this account's display zone: an agenda
    /// merged across accounts reads each in the zone of the account that shows it.
    pub fn agenda_in(
        &self,
        tz: chrono_tz::Tz,
        from: Option<NaiveDate>,
        days: Option<u32>,
    ) -> Result<AgendaView, Error> {
        let days = days.unwrap_or(self.config().agenda.days);
        if !(1..=366).contains(&days) {
            return Err(Error::InvalidInput(format!(
                "days must be 1 to 366, not {days}"
            )));
        }
        let from = from.unwrap_or_else(|| self.now().with_timezone(&tz).date_naive());
        // Marks which appointments switch presence, when automation is on.
        let policy = if self.config().features.presence {
            self.presence_policy().ok()
        } else {
            None
        };
        let skips = self.presence_skip_set()?;
        agenda::agenda(
            &self.store(),
            tz,
            from,
            days,
            self.clock.now(),
            policy.as_ref(),
            Some(&skips),
        )
    }

    pub fn appointment(&self, id: &str) -> Result<Option<Appointment>, Error> {
        self.store().appointment(id)
    }

    /// The URL to open for appointment `id`: checked against the allowed hosts, so the
    /// shell can hand it to the system as it is.
    pub fn open_target(&self, id: &str, kind: OpenKind) -> Result<url::Url, Error> {
        let appointment = self
            .appointment(id)?
            .ok_or_else(|| Error::InvalidInput(format!("no appointment {id:?} in the store")))?;
        if kind == OpenKind::Outlook
            && appointment
                .calendar_id
                .starts_with(crate::store::SUBSCRIPTION_ID_PREFIX)
        {
            return self.feed_link(&appointment);
        }
        let tenant = self.store().account()?.and_then(|a| a.tenant_id);
        let outlook_host =
            links::outlook_host_for(tenant.as_deref(), &self.config().microsoft.outlook_web_host);
        let url = match kind {
            OpenKind::Outlook => links::outlook_url(&appointment, &outlook_host),
            OpenKind::Join => links::join_url(&appointment),
        }
        .ok_or_else(|| {
            Error::InvalidInput(format!("{:?} has no link to open", appointment.subject))
        })?;
        if !links::is_allowed(&url, &[outlook_host.as_str()]) {
            tracing::warn!(
                host = url.host_str().unwrap_or(""),
                scheme = url.scheme(),
                "refused to open a link"
            );
            return Err(Error::InvalidInput(format!(
                "refused to open {}: only https links to Microsoft 365 and known meeting services are opened",
                url.host_str().unwrap_or(url.scheme())
            )));
        }
        Ok(url)
    }

    /// "Open" on an appointment of a calendar subscription: the event's own URL (the feed's
    /// `URL` property), an https link on the feed's own site (its host, or a sibling of it:
    /// `calendar.google.com` serves `www.google.com/calendar/event?…`). Nothing else is
    /// opened: a feed is anyone's text.
    fn feed_link(&self, appointment: &Appointment) -> Result<url::Url, Error> {
        let no_link = || {
            Error::InvalidInput(format!(
                "{:?} comes from a calendar subscription and has no link of its own",
                appointment.subject
            ))
        };
        let url = appointment
            .web_link
            .as_deref()
            .and_then(|l| url::Url::parse(l).ok())
            .ok_or_else(no_link)?;
        let feed_host = self
            .store()
            .subscriptions()?
            .into_iter()
            .find(|s| s.calendar.id == appointment.calendar_id)
            .and_then(|s| match crate::ics::source::FeedSource::parse(&s.source) {
                Ok(crate::ics::source::FeedSource::Url(u)) => u.host_str().map(str::to_owned),
                _ => None,
            });
        let allowed = links::feed_link_allowed(&url, feed_host.as_deref());
        if !allowed {
            tracing::warn!(
                host = url.host_str().unwrap_or(""),
                scheme = url.scheme(),
                "refused to open a calendar feed's link"
            );
            return Err(Error::InvalidInput(format!(
                "refused to open {}: a calendar subscription's links are opened only on the feed's own site, over https",
                url.host_str().unwrap_or(url.scheme())
            )));
        }
        Ok(url)
    }

    pub fn status(&self) -> Result<StatusView, Error> {
        let store = self.store();
        let account = store.account()?;
        let session = store.meta(SESSION_KEY)?;
        let last = store.last_synced_at()?;
        let tz = self.config().display_timezone();
        Ok(StatusView {
            account: AccountStatus {
                signed_in: account.is_some() && session.is_none(),
                upn: account.as_ref().map(|a| a.upn.clone()),
                display_name: account.and_then(|a| a.display_name),
                demo: self.demo,
            },
            sync: {
                let (phase, phase_message) =
                    self.phase.lock().unwrap_or_else(|p| p.into_inner()).clone();
                SyncStatus {
                    state: match phase {
                        SyncPhase::Never if last.is_some() => SyncPhase::Idle,
                        other => other,
                    },
                    last_synced_at: last.map(|t| t.with_timezone(&tz).to_rfc3339()),
                    message: session.filter(|s| s != "signed_out").or(phase_message),
                }
            },
            timezone: tz.name().to_owned(),
        })
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Writers only swap a whole value in, so a poisoned lock still holds a consistent one.
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// The token manager for the configured app registration; none until one is provisioned.
fn token_manager(
    config: &Config,
    credentials: &Arc<dyn CredentialStore>,
    clock: &Arc<dyn Clock>,
) -> Result<Option<TokenManager>, Error> {
    match AuthSettings::from_config(config) {
        Ok(settings) => Ok(Some(TokenManager::new(
            settings,
            credentials.clone(),
            clock.clone(),
        )?)),
        Err(_) => Ok(None),
    }
}

fn graph_client(config: &Config, clock: &Arc<dyn Clock>) -> Result<GraphClient, Error> {
    Ok(GraphClient::with_options(
        &config.microsoft.graph_endpoint,
        std::time::Duration::from_secs(config.sync.request_timeout_secs),
        crate::graph::client::RetryPolicy::default(),
    )?
    .with_clock(clock.clone()))
}
