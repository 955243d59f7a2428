//! The presence runtime: the async driver around the sans-IO [`Scheduler`].
//!
//! It feeds the scheduler the appointments in the store (re-read when a sync changed
//! them), sleeps until the next transition, a renewal, a read-back, a retry or a
//! notification (store changed, pause/resume, stop), carries out the transitions'
//! actions through [`super::apply`], and writes every transition to the history.
//!
//! - Sleep is in bounded steps measured against the [`Clock`]: after a wake from suspend
//!   or a clock jump the state is evaluated again at once.
//! - Before the first Apply of a block the user's own state is read (and kept in the
//!   store, so a restart in the middle of a block still restores it).
//! - A presence the app set is read back while it holds; if it differs, the user changed
//!   it (in Teams) and automation stands back until the block ends.
//! - A failed call is retried with backoff until it succeeds or is superseded; failures
//!   show in the status and the history, never silently dropped.
//! - Paused, the scheduler sees no appointments: what is in force is restored, nothing
//!   applies until the pause ends.

use super::apply::{self, Applied as Done, SetPresence};
use super::plan::HistoryEntry;
use super::scheduler::{Action, Desired, Scheduler, Transition, TransitionKind};
use super::UserState;
use crate::agenda::local_midnight;
use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::Error;
use crate::model::Appointment;
use crate::store::{Pause, PresenceHistoryRow};
use chrono::{DateTime, Days, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How the runtime paces itself.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeOptions {
    /// While the app's presence holds, it is read back this often to notice a change by
    /// the user (and before each renewal).
    pub check_interval: Duration,
    /// Longest single sleep: a wake from suspend, a clock jump or a pause set by another
    /// process is noticed within this.
    pub max_step: Duration,
    /// First wait before retrying a failed call; doubles per failure up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(60),
            max_step: Duration::from_secs(10),
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(300),
        }
    }
}

/// Days of appointments kept in memory around now (re-read when now leaves them).
const LOOK_BACK_DAYS: u64 = 2;
const LOOK_AHEAD_DAYS: u64 = 3;
/// History older than this is dropped.
const HISTORY_DAYS: i64 = 90;

/// What automation is doing, for the tray and `presently status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceStatus {
    /// Whether a runtime is running in this process.
    pub running: bool,
    /// What automation put in force.
    pub state: Desired,
    /// The next transition, if one is planned.
    pub next_change: Option<DateTime<Utc>>,
    pub paused: Option<Pause>,
    /// The last failed call, until a retry succeeds.
    pub error: Option<String>,
}

impl Default for PresenceStatus {
    fn default() -> Self {
        Self {
            running: false,
            state: Desired::Idle,
            next_change: None,
            paused: None,
            error: None,
        }
    }
}

/// What the engine shares with its running presence runtime.
#[derive(Debug, Default)]
pub struct Shared {
    /// Pause, resume or a manual change in the app: evaluate again now.
    pub wake: Notify,
    pub status: Mutex<PresenceStatus>,
}

impl Shared {
    pub fn status(&self) -> PresenceStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut PresenceStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// The pre-automation state kept in the store while a block is in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredPre {
    state: UserState,
    /// The end of the block it was read for (a stale record is ignored).
    until: DateTime<Utc>,
}

/// Which state an action touches: a newer action on the same state replaces a failed one.
fn same_target(old: &Action, new: &Action) -> bool {
    use Action::*;
    match (old, new) {
        (SetPresence { .. }, SetPresence { .. }) => true,
        (SetPresence { presence, .. }, ClearPresence { mode, .. }) => presence.mode == *mode,
        (ClearPresence { mode: a, .. }, ClearPresence { mode: b, .. }) => a == b,
        (ClearPresence { mode, .. }, SetPresence { presence, .. }) => presence.mode == *mode,
        (SetStatusMessage { .. } | RestoreStatusMessage { .. }, SetStatusMessage { .. })
        | (SetStatusMessage { .. } | RestoreStatusMessage { .. }, RestoreStatusMessage { .. }) => {
            true
        }
        (SetForwarding { .. } | RestoreForwarding { .. }, SetForwarding { .. })
        | (SetForwarding { .. } | RestoreForwarding { .. }, RestoreForwarding { .. }) => true,
        (
            SetAutomaticReplies { .. } | RestoreAutomaticReplies { .. },
            SetAutomaticReplies { .. } | RestoreAutomaticReplies { .. },
        ) => true,
        _ => false,
    }
}

/// Appends `new` to the failed actions still `pending`, dropping those it supersedes.
pub fn enqueue(pending: &mut Vec<Action>, new: Vec<Action>) {
    pending.retain(|old| !new.iter().any(|n| same_target(old, n)));
    pending.extend(new);
}

fn backoff(options: &RuntimeOptions, failures: u32) -> Duration {
    options
        .first_retry
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(options.max_retry)
}

fn history_row(t: &Transition) -> PresenceHistoryRow {
    let (event, profile, appointment_id, subject, presence, until) = match &t.kind {
        TransitionKind::Apply {
            profile,
            appointment_id,
            subject_for_display,
            until,
        } => (
            "applied",
            Some(profile.clone()),
            Some(appointment_id.clone()),
            subject_for_display.clone(),
            None,
            Some(*until),
        ),
        TransitionKind::Restore { state } => (
            "restored",
            None,
            None,
            None,
            state.presence.as_ref().map(|p| p.availability.clone()),
            None,
        ),
        TransitionKind::StandBack { until } => ("stood_back", None, None, None, None, Some(*until)),
    };
    PresenceHistoryRow {
        at: t.at,
        event: event.into(),
        profile,
        appointment_id,
        subject,
        presence,
        until,
        detail: None,
    }
}

/// One line of the history as the user reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryLine {
    #[serde(flatten)]
    pub row: PresenceHistoryRow,
    /// "10:00 In a meeting (Weekly sync)", "10:30 restored Available".
    pub text: String,
}

impl HistoryLine {
    pub fn new(row: PresenceHistoryRow, tz: chrono_tz::Tz) -> Self {
        use super::plan::HistoryEvent;
        let time = row.at.with_timezone(&tz).format("%H:%M").to_string();
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
        let entry = |event| HistoryEntry { at: row.at, event }.display(tz);
        let text = match row.event.as_str() {
            "applied" => entry(HistoryEvent::Applied {
                profile: row.profile.clone().unwrap_or_default(),
                subject: row.subject.clone(),
            }),
            "restored" => entry(HistoryEvent::Restored {
                presence: row.presence.clone(),
            }),
            "stood_back" => entry(HistoryEvent::StoodBack {
                until: row.until.unwrap_or(row.at),
            }),
            "failed" => format!(
                "{time} failed, retrying: {}",
                row.detail.as_deref().unwrap_or("?")
            ),
            "recovered" => format!("{time} retried successfully"),
            "paused" => match row.until {
                Some(until) => format!("{time} paused until {}", local(until)),
                None => format!("{time} paused"),
            },
            "resumed" => format!("{time} resumed"),
            other => format!("{time} {other}"),
        };
        Self { row, text }
    }
}

/// Parses a pause length: `1h`, `30m`, `90s`, `1h30m`, or `tomorrow` / `until tomorrow`
/// (the next local midnight); returns when the pause ends.
pub fn parse_pause(
    text: &str,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<DateTime<Utc>, Error> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_prefix("until ").unwrap_or(&t).trim();
    if t == "tomorrow" {
        let tomorrow = now
            .with_timezone(&tz)
            .date_naive()
            .checked_add_days(Days::new(1))
            .ok_or_else(|| Error::InvalidInput("out of range".into()))?;
        return Ok(local_midnight(tz, tomorrow));
    }
    let bad = || {
        Error::InvalidInput(format!(
            "{text:?} is not a duration such as 1h, 30m, 1h30m or \"until tomorrow\""
        ))
    };
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total <= 0 || total > 366 * 86_400 {
        return Err(bad());
    }
    Ok(now + chrono::Duration::seconds(total))
}

struct Runtime {
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    options: RuntimeOptions,
    scheduler: Scheduler,
    tz: chrono_tz::Tz,
    /// The appointments around now, and until when they reach.
    appointments: Vec<Appointment>,
    loaded: Option<(DateTime<Utc>, DateTime<Utc>)>,
    paused: Option<Pause>,
    /// Whether the scheduler was last fed the appointments (false: nothing, paused).
    fed: Option<bool>,
    data_version: Option<i64>,
    /// Calls not yet made (failed ones, retried with backoff).
    pending: Vec<Action>,
    failures: u32,
    retry_at: Option<DateTime<Utc>>,
    /// The app's presence in force.
    active: Option<SetPresence>,
    next_check: Option<DateTime<Utc>>,
    auto_replies: bool,
}

/// Runs presence automation until `stop` is notified. `store_changed` is notified after
/// a sync changed the store.
pub async fn run(
    engine: Arc<Engine>,
    stop: Arc<Notify>,
    store_changed: Arc<Notify>,
    options: RuntimeOptions,
) {
    let shared = engine.presence_shared();
    let policy = match engine.presence_policy() {
        Ok(p) => p,
        Err(err) => {
            tracing::error!(error = %err, "presence automation cannot start");
            shared.update(|s| s.error = Some(err.to_string()));
            stop.notified().await;
            return;
        }
    };
    if !engine.config().features.presence {
        tracing::info!("presence automation is off (features.presence)");
        stop.notified().await;
        return;
    }
    let tz = engine.config().display_timezone();
    let mut rt = Runtime {
        clock: engine.clock(),
        auto_replies: engine.config().features.automatic_replies,
        engine: engine.clone(),
        options,
        scheduler: Scheduler::new(policy, tz, UserState::default()),
        tz,
        appointments: Vec::new(),
        loaded: None,
        paused: None,
        fed: None,
        data_version: None,
        pending: Vec::new(),
        failures: 0,
        retry_at: None,
        active: None,
        next_check: None,
    };
    // A block interrupted by a stop: restore what was read before it, not our own state.
    if let Some(pre) = rt.stored_pre() {
        if pre.until > rt.clock.now() {
            rt.scheduler.set_pre_automation_state(pre.state);
        }
    }
    shared.update(|s| s.running = true);
    let mut reload = true;
    loop {
        if let Err(err) = rt.step(&mut reload).await {
            tracing::warn!(error = %err, "presence automation step failed");
            shared.update(|s| s.error = Some(err.to_string()));
        }
        let now = rt.clock.now();
        let wake = rt.next_wake(now);
        shared.update(|s| {
            s.state = rt.scheduler.current().clone();
            s.next_change = rt.scheduler.poll_timeout().filter(|t| *t > now);
            s.paused = rt.paused;
        });
        let step = wake
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(rt.options.max_step)
            .min(rt.options.max_step);
        let started = tokio::time::Instant::now();
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = store_changed.notified() => reload = true,
            _ = shared.wake.notified() => reload = true,
            _ = stop.notified() => break,
        }
        if crate::sync::cadence::woke_or_jumped(rt.clock.now() - now, started.elapsed()) {
            tracing::info!("woke from sleep or the clock jumped; evaluating presence now");
            reload = true;
        }
    }
    shared.update(|s| s.running = false);
}

impl Runtime {
    fn stored_pre(&self) -> Option<StoredPre> {
        let json = self.engine.with_store(|s| s.presence_pre_state()).ok()??;
        serde_json::from_str(&json).ok()
    }

    fn store_pre(&self, pre: Option<&StoredPre>) {
        let json = pre.and_then(|p| serde_json::to_string(p).ok());
        if let Err(err) = self
            .engine
            .with_store(|s| s.set_presence_pre_state(json.as_deref()))
        {
            tracing::warn!(error = %err, "could not keep the pre-automation state");
        }
    }

    fn record(&self, row: &PresenceHistoryRow) {
        let keep = self.clock.now() - chrono::Duration::days(HISTORY_DAYS);
        if let Err(err) = self
            .engine
            .with_store(|s| s.add_presence_history(row, keep))
        {
            tracing::warn!(error = %err, "could not write the presence history");
        }
    }

    /// Reads the appointments around now and the pause from the store.
    fn load(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        let tz = self.tz;
        let today = now.with_timezone(&tz).date_naive();
        let out = || Error::InvalidInput("the date is out of range".into());
        let from = today
            .checked_sub_days(Days::new(LOOK_BACK_DAYS))
            .ok_or_else(out)?;
        let to = today
            .checked_add_days(Days::new(LOOK_AHEAD_DAYS))
            .ok_or_else(out)?;
        let (start, end) = (local_midnight(tz, from), local_midnight(tz, to));
        let (appointments, paused, version) = self.engine.with_store(|s| {
            Ok((
                s.appointments_overlapping(start, end, from, to)?,
                s.presence_pause()?,
                s.data_version()?,
            ))
        })?;
        self.appointments = appointments;
        self.loaded = Some((start, end));
        self.paused = paused;
        self.data_version = Some(version);
        self.fed = None;
        Ok(())
    }

    fn is_paused(&self, now: DateTime<Utc>) -> bool {
        self.paused
            .is_some_and(|p| p.until.is_none_or(|until| until > now))
    }

    async fn step(&mut self, reload: &mut bool) -> Result<(), Error> {
        let now = self.clock.now();
        // Another process (the CLI's pause, another sync) committed: read again.
        if !*reload {
            let version = self.engine.with_store(|s| s.data_version())?;
            let window_left = self
                .loaded
                .is_none_or(|(_, end)| now + chrono::Duration::days(1) > end);
            *reload = self.data_version != Some(version) || window_left;
        }
        if *reload {
            self.load(now)?;
            *reload = false;
        }
        // An ended pause ends in the store too.
        if let Some(Pause { until: Some(until) }) = self.paused {
            if until <= now {
                self.engine.with_store(|s| s.set_presence_pause(None))?;
                self.record(&PresenceHistoryRow {
                    at: until,
                    event: "resumed".into(),
                    profile: None,
                    appointment_id: None,
                    subject: None,
                    presence: None,
                    until: None,
                    detail: None,
                });
                self.paused = None;
            }
        }
        let feed = !self.is_paused(now);
        if self.fed != Some(feed) {
            if feed {
                self.scheduler.set_appointments(&self.appointments);
            } else {
                self.scheduler.set_appointments(&[]);
            }
            self.fed = Some(feed);
        }
        // A change by the user while our presence holds: stand back.
        if self.next_check.is_some_and(|t| t <= now) || self.renew_due(now) {
            self.read_back(now).await;
        }
        if self.scheduler.poll_timeout().is_some_and(|t| t <= now) {
            self.transition(now).await;
        }
        if self.renew_due(now) {
            if let Some(active) = &self.active {
                enqueue(
                    &mut self.pending,
                    vec![Action::SetPresence {
                        presence: active.presence,
                        until: active.until,
                    }],
                );
                self.retry_at = Some(now);
            }
        }
        if !self.pending.is_empty() && self.retry_at.is_none_or(|t| t <= now) {
            self.execute().await;
        }
        // Back to the user's own state, nothing left to do: forget what was read.
        if self.pending.is_empty()
            && matches!(
                self.scheduler.current(),
                Desired::Idle | Desired::Restore(_)
            )
            && self.stored_pre().is_some()
        {
            self.store_pre(None);
        }
        Ok(())
    }

    fn renew_due(&self, now: DateTime<Utc>) -> bool {
        self.active
            .as_ref()
            .and_then(SetPresence::renew_at)
            .is_some_and(|t| t <= now)
    }

    fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wake: Option<DateTime<Utc>> = None;
        let mut at = |t: Option<DateTime<Utc>>| {
            if let Some(t) = t {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            }
        };
        at(self.scheduler.poll_timeout().map(|t| t.max(now)));
        if !self.pending.is_empty() {
            at(self.retry_at.or(Some(now)));
        }
        at(self.active.as_ref().and_then(SetPresence::renew_at));
        at(self.next_check);
        at(self.paused.and_then(|p| p.until));
        wake
    }

    /// Reads the presence back; a difference from what the app set is the user's change.
    async fn read_back(&mut self, now: DateTime<Utc>) {
        let Some(active) = self.active.clone() else {
            self.next_check = None;
            return;
        };
        self.next_check =
            Some(now + chrono::Duration::from_std(self.options.check_interval).unwrap_or_default());
        // What was set has not reached the server yet: nothing to compare.
        if self
            .pending
            .iter()
            .any(|a| matches!(a, Action::SetPresence { .. }))
        {
            return;
        }
        match apply::read_presence(&self.engine).await {
            Ok((read, _)) if read.availability != active.presence.availability.as_str() => {
                tracing::info!(
                    set = active.presence.availability.as_str(),
                    read = %read.availability,
                    "the presence was changed by the user; automation stands back"
                );
                self.scheduler.manual_override(now);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not read the presence back"),
        }
    }

    /// Carries out what the scheduler says is due at `now`.
    async fn transition(&mut self, now: DateTime<Utc>) {
        let begins = matches!(self.scheduler.desired(now), Desired::Apply(_))
            && !matches!(self.scheduler.current(), Desired::Apply(_));
        let mut block_pre = None;
        if begins {
            // The user's own state, unless a block interrupted by a stop already read it.
            let pre = match self.stored_pre().filter(|p| p.until > now) {
                Some(pre) => pre.state,
                None => match apply::read_user_state(&self.engine, self.auto_replies).await {
                    Ok(state) => state,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not read the presence before automation; it will be cleared, not restored, at the end");
                        UserState::default()
                    }
                },
            };
            self.scheduler.set_pre_automation_state(pre.clone());
            block_pre = Some(pre);
        }
        let now = self.clock.now().max(now);
        for t in self.scheduler.handle_timeout(now) {
            let row = history_row(&t);
            tracing::info!(
                transition = %HistoryLine::new(row.clone(), self.tz).text,
                actions = t.actions.len(),
                "presence transition"
            );
            self.record(&row);
            match &t.kind {
                TransitionKind::Apply { until, .. } => {
                    let state = block_pre
                        .clone()
                        .or_else(|| self.stored_pre().map(|p| p.state))
                        .unwrap_or_default();
                    self.store_pre(Some(&StoredPre {
                        state,
                        until: *until,
                    }));
                }
                TransitionKind::StandBack { .. } => {
                    // The user's choice holds: nothing of ours is pending or renewed.
                    self.pending.clear();
                    self.active = None;
                    self.next_check = None;
                }
                TransitionKind::Restore { .. } => {}
            }
            enqueue(&mut self.pending, t.actions);
            self.retry_at = Some(now);
        }
    }

    /// Makes the pending calls in order; stops at the first failure and retries later.
    async fn execute(&mut self) {
        let shared = self.engine.presence_shared();
        while let Some(action) = self.pending.first().cloned() {
            let now = self.clock.now();
            // A presence whose block is over needs no more setting.
            if let Action::SetPresence { until, .. } = &action {
                if *until <= now {
                    self.pending.remove(0);
                    continue;
                }
            }
            match apply::apply(&self.engine, &action, now).await {
                Ok(done) => {
                    self.pending.remove(0);
                    match done {
                        Done::Presence(set) => {
                            self.next_check = Some(
                                now + chrono::Duration::from_std(self.options.check_interval)
                                    .unwrap_or_default(),
                            );
                            self.active = Some(set);
                        }
                        Done::PresenceCleared => {
                            if let Action::ClearPresence { mode, .. } = &action {
                                if self
                                    .active
                                    .as_ref()
                                    .is_some_and(|a| a.presence.mode == *mode)
                                {
                                    self.active = None;
                                    self.next_check = None;
                                }
                            }
                        }
                        Done::Other => {}
                    }
                }
                Err(err) => {
                    self.failures += 1;
                    let wait = backoff(&self.options, self.failures);
                    tracing::warn!(error = %err, %action, failures = self.failures, wait_ms = wait.as_millis() as u64, "a presence call failed; retrying");
                    if self.failures.is_power_of_two() {
                        self.record(&PresenceHistoryRow {
                            at: now,
                            event: "failed".into(),
                            profile: None,
                            appointment_id: None,
                            subject: None,
                            presence: None,
                            until: None,
                            detail: Some(format!("{action}: {err}")),
                        });
                    }
                    shared.update(|s| s.error = Some(format!("{action}: {err}")));
                    self.retry_at =
                        Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
                    return;
                }
            }
        }
        if self.failures > 0 {
            self.record(&PresenceHistoryRow {
                at: self.clock.now(),
                event: "recovered".into(),
                profile: None,
                appointment_id: None,
                subject: None,
                presence: None,
                until: None,
                detail: None,
            });
            shared.update(|s| s.error = None);
        }
        self.failures = 0;
        self.retry_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::profile::{Availability, PresenceMode, TeamsPresence};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn pauses_parse() {
        let now = at("2026-11-24T10:15:00Z");
        let tz = chrono_tz::Europe::Berlin;
        assert_eq!(
            parse_pause("1h", now, tz).unwrap(),
            at("2026-11-24T11:15:00Z")
        );
        assert_eq!(
            parse_pause("1h30m", now, tz).unwrap(),
            at("2026-11-24T11:45:00Z")
        );
        assert_eq!(
            parse_pause("until tomorrow", now, tz).unwrap(),
            at("2026-11-24T23:00:00Z")
        );
        for bad in ["", "1", "h", "1x", "0m", "-1h"] {
            assert!(parse_pause(bad, now, tz).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_newer_action_replaces_a_failed_one_on_the_same_state() {
        let busy = TeamsPresence::preferred(Availability::Busy);
        let mut pending = vec![
            Action::SetPresence {
                presence: busy,
                until: at("2026-11-24T11:00:00Z"),
            },
            Action::SetStatusMessage {
                message: "In a meeting".into(),
                until: at("2026-11-24T11:00:00Z"),
            },
        ];
        enqueue(
            &mut pending,
            vec![
                Action::ClearPresence {
                    mode: PresenceMode::Preferred,
                    restore_to: None,
                },
                Action::RestoreStatusMessage { message: None },
            ],
        );
        assert_eq!(
            pending,
            vec![
                Action::ClearPresence {
                    mode: PresenceMode::Preferred,
                    restore_to: None,
                },
                Action::RestoreStatusMessage { message: None },
            ]
        );
        // A session cleared stays cleared when a preferred presence follows.
        let mut pending = vec![Action::ClearPresence {
            mode: PresenceMode::Session,
            restore_to: None,
        }];
        enqueue(
            &mut pending,
            vec![Action::SetPresence {
                presence: busy,
                until: at("2026-11-24T11:00:00Z"),
            }],
        );
        assert_eq!(pending.len(), 2);
    }

    #[test]
    fn retries_back_off() {
        let o = RuntimeOptions::default();
        let waits: Vec<u64> = (1..=10).map(|n| backoff(&o, n).as_secs()).collect();
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
