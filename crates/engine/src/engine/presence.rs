//! Presence over the local store: the plan (which transitions automation would make),
//! the runtime that makes them (the engine as its ports), pause and resume, the history and
//! the writes still pending, and the call-forwarding provider.

use super::Engine;
use crate::agenda::local_midnight;
use crate::error::Error;
use crate::presence::driver::{PendingWrite, Plan};
use crate::presence::forwarding::{
    self, ForwardingConfig, ForwardingError, ForwardingProvider, SecretStore, AMI_SECRET,
    HTTP_SECRET, WEBEX_SECRET,
};
use crate::presence::journal::{self, Durable, Hold, Persist, Resource, TakeOver};
use crate::presence::ports::{ForwardingSource, GraphPort, JournalStore, PlanInputs, PlanSource};
use crate::presence::profile::Capabilities;
use crate::presence::runtime::{
    self, HistoryLine, PresenceStatus, RuntimeOptions, SystemTimer, Timer, HISTORY_DAYS,
};
use crate::presence::{plan_skipping, PlannedTransition, Policy, PresenceConfig, UserState};
use crate::store::{Pause, PresenceDriverSave, PresenceHistoryRow};
use chrono::{DateTime, Days, Utc};
use secrecy::SecretString;
use std::sync::Arc;
use tokio::sync::Notify;

/// The store's `meta` key of the take-over requests ([`TakeOver`], JSON).
const TAKE_OVER_KEY: &str = "presence_take_over";
/// How long a take-over request is kept (a block holds for a few days at most).
const TAKE_OVER_DAYS: i64 = 7;
/// The store's `meta` key of the restores a notification was shown for (keys, JSON).
const ALERTED_KEY: &str = "presence_alerted";

/// What `presence_take_over` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeOverOutcome {
    /// Automation held it: it is the user's until the appointments under way end.
    Released,
    /// Automation had not changed it: nothing to take over.
    NotChanged,
    /// Already released to the user (they changed it, and a read showed it).
    AlreadyYours,
}

/// The stored take-over requests; a damaged value is none (it only ever held requests).
fn take_over_requests(json: Option<&str>) -> Vec<TakeOver> {
    json.and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// Longest window a plan covers.
const MAX_PLAN_DAYS: i64 = 366;

/// Appointments this far around the window are read too, so a covering block that begins
/// before the window or ends after it shows its true span.
const MARGIN_DAYS: u64 = 2;

/// What the tray says about presence automation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresenceSummary {
    /// The profile in force now, and until when.
    pub current: Option<(String, DateTime<Utc>)>,
    /// The next change: a profile's name, or None for "back to your own presence".
    pub next: Option<(Option<String>, DateTime<Utc>)>,
    /// Paused: `Some(None)` until resumed, `Some(Some(t))` until `t`.
    pub paused: Option<Option<DateTime<Utc>>>,
    /// What does not work: a write that keeps failing ("Forwarding still on — switching
    /// it off failed, retrying"), or why automation cannot run.
    pub error: Option<String>,
    /// What automation holds that the user may say they changed by hand
    /// ([`Engine::presence_take_over`]): forwarding it cannot read back (an HTTP or command
    /// provider), and whatever it keeps failing to give back.
    pub take_over: Vec<Resource>,
    /// The appointment automation switches for next (under way, else coming), and whether
    /// the user skipped it: the tray's "Don't switch for the next meeting" and its undo.
    pub next_switch: Option<crate::engine::NextSwitch>,
}

impl Engine {
    /// A summary for the tray; None while the presence feature is off.
    pub fn presence_summary(&self) -> Result<Option<PresenceSummary>, Error> {
        use crate::presence::TransitionKind;
        if !self.config().features.presence {
            return Ok(None);
        }
        let now = self.clock.now();
        let status = self.presence_status()?;
        let plan = self.presence_plan(now, now + chrono::Duration::hours(36))?;
        let current = plan
            .iter()
            .take_while(|p| p.transition.at <= now)
            .find_map(|p| match &p.transition.kind {
                TransitionKind::Apply { profile, until, .. } => Some((profile.clone(), *until)),
                _ => None,
            });
        let next =
            plan.iter()
                .filter(|p| p.transition.at > now)
                .find_map(|p| match &p.transition.kind {
                    TransitionKind::Apply { profile, .. } => {
                        Some((Some(profile.clone()), p.transition.at))
                    }
                    TransitionKind::Restore { .. } => Some((None, p.transition.at)),
                    TransitionKind::Skipped { .. } => None,
                });
        let failing = status.resources.iter().find_map(|r| r.problem.clone());
        let write_only = || {
            self.forwarding_provider()
                .ok()
                .flatten()
                .is_some_and(|p| !p.can_read())
        };
        let take_over = status
            .resources
            .iter()
            .filter(|r| r.held == "automated")
            .filter(|r| r.problem.is_some() || (r.resource == Resource::Forwarding && write_only()))
            .map(|r| r.resource)
            .collect();
        Ok(Some(PresenceSummary {
            current,
            next,
            paused: status.paused.map(|p| p.until),
            error: failing.or(status.error),
            take_over,
            next_switch: self.presence_next_switch()?,
        }))
    }

    /// The profiles and rules in force: the built-ins, the configured ones, calendar names
    /// resolved to ids.
    pub fn presence_policy(&self) -> Result<Policy, Error> {
        self.presence_policy_for(&self.config().presence)
    }

    /// The policy `presence` would give (a draft from the settings page, say).
    fn presence_policy_for(&self, presence: &PresenceConfig) -> Result<Policy, Error> {
        let caps = Capabilities {
            automatic_replies: self.config().features.automatic_replies,
            forwarding_provider: presence.forwarding.is_configured(),
        };
        let lang = self.config().app.language.resolve();
        let policy = Policy::from_config_in(presence, caps, lang)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        Ok(policy.resolve_calendar_names(&self.store().calendars()?))
    }

    /// Like [`Engine::presence_plan`], for a draft presence configuration that is not saved
    /// (the settings page's live preview).
    pub fn presence_plan_draft(
        &self,
        presence: &PresenceConfig,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PlannedTransition>, Error> {
        let policy = self.presence_policy_for(presence)?;
        self.plan_with_policy(&policy, from, to)
    }

    /// Checks a call-forwarding configuration by reading the setting in force through it
    /// (nothing is switched); answers what it found.
    pub async fn forwarding_test(
        &self,
        config: &crate::presence::forwarding::ForwardingConfig,
    ) -> Result<String, Error> {
        use crate::presence::profile::Forwarding;
        let Some(provider) = self.build_forwarding_provider(config)? else {
            return Err(Error::InvalidInput(
                "choose a call-forwarding provider to test".into(),
            ));
        };
        let found = provider.current().await?;
        Ok(match found {
            Some(Forwarding::Off) => format!("{} answered: forwarding is off", provider.name()),
            Some(Forwarding::Voicemail) => {
                format!("{} answered: calls go to voicemail", provider.name())
            }
            Some(Forwarding::Number(n)) => {
                format!("{} answered: calls are forwarded to {n}", provider.name())
            }
            None => format!(
                "{} is configured; it cannot report the setting in force, so it was not contacted",
                provider.name()
            ),
        })
    }

    /// The transitions presence automation would make over `from..to`, from the local
    /// store, with an unread pre-automation state (restores show "as it was").
    pub fn presence_plan(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PlannedTransition>, Error> {
        let policy = self.presence_policy()?;
        self.plan_with_policy(&policy, from, to)
    }

    fn plan_with_policy(
        &self,
        policy: &Policy,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PlannedTransition>, Error> {
        if to <= from {
            return Err(Error::InvalidInput(
                "the plan's end must be after its start".into(),
            ));
        }
        if to - from > chrono::Duration::days(MAX_PLAN_DAYS) {
            return Err(Error::InvalidInput(format!(
                "a plan covers at most {MAX_PLAN_DAYS} days"
            )));
        }
        let tz = self.config().display_timezone();
        let out_of_range = || Error::InvalidInput("the plan's window is out of range".into());
        let from_date = from
            .with_timezone(&tz)
            .date_naive()
            .checked_sub_days(Days::new(MARGIN_DAYS))
            .ok_or_else(out_of_range)?;
        let to_date = to
            .with_timezone(&tz)
            .date_naive()
            .checked_add_days(Days::new(MARGIN_DAYS + 1))
            .ok_or_else(out_of_range)?;
        let appointments = self.store().appointments_overlapping(
            local_midnight(tz, from_date),
            local_midnight(tz, to_date),
            from_date,
            to_date,
        )?;
        let skips = self.presence_skip_set()?;
        Ok(plan_skipping(
            &appointments,
            &skips,
            policy,
            tz,
            &UserState::default(),
            from,
            to,
        ))
    }
}

impl Engine {
    /// Runs presence automation until `stop` is notified (see [`crate::presence::runtime`]);
    /// notify `store_changed` after each sync that changed the store.
    pub async fn run_presence(self: Arc<Self>, stop: Arc<Notify>, store_changed: Arc<Notify>) {
        self.run_presence_with(stop, store_changed, RuntimeOptions::default())
            .await
    }

    pub async fn run_presence_with(
        self: Arc<Self>,
        stop: Arc<Notify>,
        store_changed: Arc<Notify>,
        options: RuntimeOptions,
    ) {
        let timer = SystemTimer {
            clock: self.clock(),
            max_step: options.max_step,
        };
        self.run_presence_on(timer, stop, store_changed, options)
            .await
    }

    /// Runs presence automation on `timer`'s time (a simulated one in tests).
    pub async fn run_presence_on<T: Timer>(
        self: Arc<Self>,
        timer: T,
        stop: Arc<Notify>,
        store_changed: Arc<Notify>,
        options: RuntimeOptions,
    ) {
        let config = self.config();
        if config.features.presence {
            if let Err(err) = self.presence_policy() {
                // Holds from before are still given back (the plan stays empty).
                tracing::error!(error = %err, "presence automation cannot plan");
            }
        } else {
            tracing::info!("presence automation is off (features.presence); only what it still holds is given back");
        }
        let ports = EnginePorts(self.clone());
        let driver_options =
            runtime::driver_options(&ports, &options, config.features.automatic_replies);
        let tz = config.display_timezone();
        runtime::run(
            ports,
            timer,
            &self.presence_shared,
            stop,
            store_changed,
            options,
            driver_options,
            tz,
        )
        .await
    }

    /// The user took `resource` over by hand (where Presently cannot read it back, as with
    /// a command or HTTP forwarding provider): automation leaves it alone, and does not
    /// restore it, until the appointments under way end. Kept in the store, so the runtime
    /// acts on it in whichever process it runs (this one at once; another, such as
    /// `presently run`, within [`RuntimeOptions::max_step`]), or at its next start.
    pub fn presence_take_over(&self, resource: Resource) -> Result<TakeOverOutcome, Error> {
        let now = self.clock.now();
        let outcome = {
            let mut store = self.store();
            let durable = Durable::from_rows(store.presence_driver_rows()?)
                .map_err(|e| self.damaged_journal(e))?;
            match &durable.holds[resource.index()] {
                Hold::Free => return Ok(TakeOverOutcome::NotChanged),
                Hold::Released { .. } => return Ok(TakeOverOutcome::AlreadyYours),
                Hold::Owned { .. } => {}
            }
            let mut requests = take_over_requests(store.meta(TAKE_OVER_KEY)?.as_deref());
            // A request only matters while the hold it was made in lasts: older ones go.
            requests.retain(|r| now - r.at < chrono::Duration::days(TAKE_OVER_DAYS));
            requests.push(TakeOver { resource, at: now });
            let json = serde_json::to_string(&requests)
                .map_err(|e| Error::InvalidInput(format!("cannot store the request: {e}")))?;
            store.set_meta(TAKE_OVER_KEY, &json)?;
            TakeOverOutcome::Released
        };
        self.presence_shared.wake.notify_one();
        Ok(outcome)
    }

    /// Changes whenever what presence automation running in this process reports changes
    /// ([`Engine::presence_status`]): the tray, the app's status line and the notification
    /// of a restore that keeps failing follow it.
    pub fn presence_changes(&self) -> tokio::sync::watch::Receiver<()> {
        self.presence_shared.changed.subscribe()
    }

    /// The restores the user was already told about by a notification (their idempotency
    /// keys), so a restart or a hand-over between the app and the tray host does not tell
    /// them again.
    pub fn presence_alerted(&self) -> Result<std::collections::BTreeSet<String>, Error> {
        Ok(self
            .store()
            .meta(ALERTED_KEY)?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }

    pub fn set_presence_alerted(
        &self,
        keys: &std::collections::BTreeSet<String>,
    ) -> Result<(), Error> {
        let json = serde_json::to_string(keys)
            .map_err(|e| Error::InvalidInput(format!("cannot store the keys: {e}")))?;
        self.store().set_meta(ALERTED_KEY, &json)
    }

    /// Pauses presence automation until `until` (None: until resumed). What automation put
    /// in force is restored at once by a running runtime; nothing applies until the pause
    /// ends. Kept in the store, so it holds across restarts and for a daemon in another
    /// process (which notices within [`RuntimeOptions::max_step`]).
    pub fn presence_pause(&self, until: Option<DateTime<Utc>>) -> Result<(), Error> {
        let now = self.clock.now();
        if until.is_some_and(|u| u <= now) {
            return Err(Error::InvalidInput(
                "the pause must end in the future".into(),
            ));
        }
        let pause = Pause { until };
        let row = PresenceHistoryRow {
            at: now,
            event: crate::store::HistoryKind::Paused,
            profile: None,
            appointment_id: None,
            subject: None,
            presence: None,
            until,
            detail: None,
        };
        {
            let mut store = self.store();
            store.set_presence_pause(Some(pause))?;
            store.add_presence_history(&row, now - chrono::Duration::days(HISTORY_DAYS))?;
        }
        runtime::log_history(&[row], self.config().display_timezone());
        self.presence_shared.wake.notify_one();
        Ok(())
    }

    /// Resumes presence automation: an appointment under way applies at once.
    pub fn presence_resume(&self) -> Result<(), Error> {
        let now = self.clock.now();
        let row = PresenceHistoryRow {
            at: now,
            event: crate::store::HistoryKind::Resumed,
            profile: None,
            appointment_id: None,
            subject: None,
            presence: None,
            until: None,
            detail: None,
        };
        {
            let mut store = self.store();
            if store.presence_pause()?.is_none() {
                return Ok(());
            }
            store.set_presence_pause(None)?;
            store.add_presence_history(&row, now - chrono::Duration::days(HISTORY_DAYS))?;
        }
        runtime::log_history(&[row], self.config().display_timezone());
        self.presence_shared.wake.notify_one();
        Ok(())
    }

    /// The pause in force, if any (one whose end has passed is none).
    pub fn presence_paused(&self) -> Result<Option<Pause>, Error> {
        let now = self.clock.now();
        Ok(self
            .store()
            .presence_pause()?
            .filter(|p| p.until.is_none_or(|u| u > now)))
    }

    /// The newest `limit` lines of the presence history, oldest first.
    pub fn presence_history(&self, limit: usize) -> Result<Vec<HistoryLine>, Error> {
        let tz = self.config().display_timezone();
        Ok(self
            .store()
            .presence_history(limit)?
            .into_iter()
            .map(|row| HistoryLine::new(row, tz))
            .collect())
    }

    /// The writes presence automation still has to make (a restore that keeps failing, a
    /// write whose outcome is being checked), as the journal in the store has them: the
    /// same in every process.
    pub fn presence_pending(&self) -> Result<Vec<PendingWrite>, Error> {
        let rows = self.store().presence_open_journal()?;
        rows.into_iter()
            .map(|row| {
                journal::entry_from_row(row)
                    .map(|e| PendingWrite::of(&e))
                    .map_err(|e| self.damaged_journal(e))
            })
            .collect()
    }

    /// What presence automation is doing in this process (and the stored pause); the
    /// writes still pending come from the store, so another process's show too.
    pub fn presence_status(&self) -> Result<PresenceStatus, Error> {
        let mut status = self.presence_shared.status();
        status.paused = self.presence_paused()?;
        if !status.running {
            let pending = self.presence_pending()?;
            status.resources = Resource::ALL
                .iter()
                .map(|&r| {
                    let pending = pending.iter().find(|p| p.resource == r).cloned();
                    crate::presence::driver::ResourceStatus {
                        resource: r,
                        held: "unknown",
                        problem: pending.as_ref().and_then(|p| p.message.clone()),
                        failing: pending.as_ref().filter(|p| p.attempts > 0).map(|p| {
                            crate::presence::driver::Failing {
                                read: false,
                                failures: p.attempts,
                                error: p.error.clone(),
                            }
                        }),
                        pending,
                    }
                })
                .collect();
        }
        Ok(status)
    }

    fn damaged_journal(&self, err: journal::Damaged) -> Error {
        Error::StoreCorrupt {
            path: self.paths.store_file(),
            detail: err.to_string(),
        }
    }

    pub(crate) async fn presence_graph_get(&self, path: &str) -> Result<Vec<u8>, Error> {
        let url = self.graph().url(path)?;
        self.authed(|token| {
            let url = url.clone();
            async move { self.graph().get(url, &token, None).await }
        })
        .await
    }

    pub(crate) async fn presence_graph_post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>, Error> {
        let url = self.graph().url(path)?;
        self.authed(|token| {
            let url = url.clone();
            async move { self.graph().post_json(url, &token, body).await }
        })
        .await
    }

    pub(crate) async fn presence_graph_patch(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>, Error> {
        let url = self.graph().url(path)?;
        self.authed(|token| {
            let url = url.clone();
            async move { self.graph().patch_json(url, &token, body).await }
        })
        .await
    }
}

/// The engine as the presence runtime's ports.
pub(crate) struct EnginePorts(pub(crate) Arc<Engine>);

impl PlanSource for EnginePorts {
    fn plan_inputs(&self, now: DateTime<Utc>) -> Result<PlanInputs, Error> {
        let engine = &self.0;
        let config = engine.config();
        let tz = config.display_timezone();
        let (start, end, from, to) = runtime::plan_window(now, tz)?;
        let pause = engine.store().presence_pause()?;
        let plan = if config.features.presence {
            let policy = engine.presence_policy()?;
            let mut appointments = engine
                .store()
                .appointments_overlapping(start, end, from, to)?;
            // A skipped appointment switches nothing: to the driver it is not there, so
            // skipping one under way ends its block now, as its end would.
            let skips = engine.presence_skip_set()?;
            appointments.retain(|a| !skips.covers(a));
            Plan::new(&policy, tz, &appointments)
        } else {
            Plan::default()
        };
        let take_over = take_over_requests(engine.store().meta(TAKE_OVER_KEY)?.as_deref());
        Ok(PlanInputs {
            plan,
            pause,
            loaded_until: end,
            take_over,
            call_ended: config.presence.restore_when_call_ends,
        })
    }

    fn store_version(&self) -> Result<i64, Error> {
        self.0.store().data_version()
    }

    fn restore_call_ended(
        &self,
        ended: &crate::presence::call_watch::EndedEarly,
    ) -> Result<bool, Error> {
        Ok(self
            .0
            .presence_restore_call_ended(&ended.appointment_id)?
            .changed)
    }
}

impl JournalStore for EnginePorts {
    fn load_journal(&self) -> Result<Durable, Error> {
        let rows = self.0.store().presence_driver_rows()?;
        Durable::from_rows(rows).map_err(|e| self.0.damaged_journal(e))
    }

    fn save_journal(&self, persist: &Persist) -> Result<(), Error> {
        let holds = persist.hold_rows();
        let journal = persist.journal_rows();
        let headline = persist.headline_json();
        let open_keys: Vec<String> = persist.durable.open.iter().map(|e| e.key.clone()).collect();
        let now = self.0.clock.now();
        self.0.store().save_presence_driver(&PresenceDriverSave {
            next_seq: i64::try_from(persist.durable.next_seq).unwrap_or(i64::MAX),
            headline: headline.as_deref(),
            holds: &holds,
            journal: &journal,
            open_keys: &open_keys,
            history: &persist.history,
            end_pause: persist.end_pause,
            keep_after: now - chrono::Duration::days(HISTORY_DAYS),
        })
    }
}

impl GraphPort for EnginePorts {
    async fn graph_get(&self, path: &str) -> Result<Vec<u8>, Error> {
        self.0.presence_graph_get(path).await
    }

    async fn graph_post(&self, path: &str, body: &serde_json::Value) -> Result<Vec<u8>, Error> {
        self.0.presence_graph_post(path, body).await
    }

    async fn graph_patch(&self, path: &str, body: &serde_json::Value) -> Result<Vec<u8>, Error> {
        self.0.presence_graph_patch(path, body).await
    }

    fn session_id(&self) -> Result<String, Error> {
        self.0
            .config()
            .microsoft
            .client_id
            .clone()
            .ok_or_else(|| Error::InvalidInput("no application (client) ID is configured".into()))
    }
}

impl ForwardingSource for EnginePorts {
    fn forwarding(&self) -> Result<Option<Arc<dyn ForwardingProvider>>, Error> {
        self.0.forwarding_provider()
    }
}

impl Engine {
    /// Where the providers' secrets are read from (the OS keyring unless in demo mode).
    pub fn set_forwarding_secrets(&self, secrets: Arc<dyn SecretStore>) {
        *self
            .forwarding
            .secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = secrets;
        *self
            .forwarding
            .provider
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Replaces the configured provider (None: no forwarding).
    pub fn set_forwarding_provider(&self, provider: Option<Arc<dyn ForwardingProvider>>) {
        *self
            .forwarding
            .provider
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(provider);
    }

    /// Where the providers' secrets are read from and kept.
    fn forwarding_secrets(&self) -> Arc<dyn SecretStore> {
        self.forwarding
            .secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Keeps a provider's secret (`provider:webex`, `provider:ami`, `provider:http`), tied
    /// to where `for_config` sends it (the settings page's draft, or the saved settings):
    /// it is never handed to a provider configured for another destination.
    pub fn save_forwarding_secret(
        &self,
        user: &str,
        secret: &SecretString,
        for_config: &ForwardingConfig,
    ) -> Result<(), Error> {
        if ![WEBEX_SECRET, AMI_SECRET, HTTP_SECRET].contains(&user) {
            return Err(Error::InvalidInput(format!(
                "{user:?} is not a forwarding secret; expected {WEBEX_SECRET}, {AMI_SECRET} or {HTTP_SECRET}"
            )));
        }
        let destination = forwarding::secret_destination(for_config, user).ok_or_else(|| {
            Error::InvalidInput(format!(
                "fill in where {user} is used (its host or URL) before saving its secret"
            ))
        })?;
        let secrets = self.forwarding_secrets();
        let keyring = |detail| {
            Error::Forwarding(ForwardingError::Secret {
                provider: "keyring",
                detail,
            })
        };
        secrets.set(user, secret).map_err(keyring)?;
        secrets
            .set(
                &forwarding::binding_user(user),
                &SecretString::from(destination),
            )
            .map_err(keyring)?;
        self.reset_forwarding_provider();
        Ok(())
    }

    /// The secrets as a provider for `config` may use them: only where they were saved for.
    fn bound_secrets(&self, config: &ForwardingConfig) -> Arc<dyn SecretStore> {
        Arc::new(forwarding::BoundSecrets::new(
            self.forwarding_secrets(),
            config,
            &self.config().presence.forwarding,
        ))
    }

    /// Builds a provider for `config` with the engine's secrets, without keeping it (the
    /// settings page's Test button): a secret goes only to the destination it was saved for.
    pub fn build_forwarding_provider(
        &self,
        config: &ForwardingConfig,
    ) -> Result<Option<Arc<dyn ForwardingProvider>>, Error> {
        Ok(forwarding::build(config, self.bound_secrets(config))?)
    }

    /// Forgets the provider built from the configuration (it changed).
    pub(crate) fn reset_forwarding_provider(&self) {
        *self
            .forwarding
            .provider
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether forwarding can be switched (a provider is configured or set).
    pub fn has_forwarding_provider(&self) -> bool {
        match &*self
            .forwarding
            .provider
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Some(p) => p.is_some(),
            None => self.config().presence.forwarding.is_configured(),
        }
    }

    /// The provider switching call forwarding, if one is configured.
    pub fn forwarding_provider(&self) -> Result<Option<Arc<dyn ForwardingProvider>>, Error> {
        let mut cached = self
            .forwarding
            .provider
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(p) = &*cached {
            return Ok(p.clone());
        }
        let config = self.config().presence.forwarding.clone();
        let built = forwarding::build(&config, self.bound_secrets(&config))?;
        *cached = Some(built.clone());
        Ok(built)
    }
}
