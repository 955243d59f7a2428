//! Presence over the local store: the plan (which transitions automation would make),
//! the runtime that makes them, pause and resume, and the history.

use super::Engine;
use crate::agenda::local_midnight;
use crate::error::Error;
use crate::presence::profile::Capabilities;
use crate::presence::runtime::{self, HistoryLine, PresenceStatus, RuntimeOptions, Shared};
use crate::presence::{plan, PlannedTransition, Policy, PresenceConfig, UserState};
use crate::store::{Pause, PresenceHistoryRow, Store};
use chrono::{DateTime, Days, Utc};
use std::sync::Arc;
use tokio::sync::Notify;

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
    /// The last failed call, until a retry succeeds.
    pub error: Option<String>,
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
                    TransitionKind::StandBack { .. } => None,
                });
        Ok(Some(PresenceSummary {
            current,
            next,
            paused: status.paused.map(|p| p.until),
            error: status.error,
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
        let policy =
            Policy::from_config(presence, caps).map_err(|e| Error::InvalidInput(e.to_string()))?;
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
        Ok(plan(
            &appointments,
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
        runtime::run(self, stop, store_changed, options).await
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
        {
            let mut store = self.store();
            store.set_presence_pause(Some(pause))?;
            store.add_presence_history(
                &PresenceHistoryRow {
                    at: now,
                    event: "paused".into(),
                    profile: None,
                    appointment_id: None,
                    subject: None,
                    presence: None,
                    until,
                    detail: None,
                },
                now - chrono::Duration::days(90),
            )?;
        }
        self.presence_shared.wake.notify_one();
        Ok(())
    }

    /// Resumes presence automation: an appointment under way applies at once.
    pub fn presence_resume(&self) -> Result<(), Error> {
        let now = self.clock.now();
        {
            let mut store = self.store();
            if store.presence_pause()?.is_none() {
                return Ok(());
            }
            store.set_presence_pause(None)?;
            store.add_presence_history(
                &PresenceHistoryRow {
                    at: now,
                    event: "resumed".into(),
                    profile: None,
                    appointment_id: None,
                    subject: None,
                    presence: None,
                    until: None,
                    detail: None,
                },
                now - chrono::Duration::days(90),
            )?;
        }
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

    /// What presence automation is doing in this process (and the stored pause).
    pub fn presence_status(&self) -> Result<PresenceStatus, Error> {
        let mut status = self.presence_shared.status();
        status.paused = self.presence_paused()?;
        Ok(status)
    }

    pub(crate) fn presence_shared(&self) -> &Shared {
        &self.presence_shared
    }

    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, Error>,
    ) -> Result<T, Error> {
        f(&mut self.store())
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
