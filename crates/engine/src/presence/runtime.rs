//! The presence runtime: the async loop around the sans-IO [`Driver`]. It only moves bytes
//! and sleeps: it reads the plan's inputs and the journal through the [`ports`], hands the
//! driver's reads and writes to Graph and the forwarding provider ([`apply`]), feeds the
//! outcomes back, stores what the driver says to store (the intent of a write before it is
//! sent, its outcome after), and sleeps until [`Driver::poll_timeout`], a notification
//! (store changed, pause/resume, stop) or [`RuntimeOptions::max_step`].
//!
//! - Time comes from a [`Timer`]: the system clock in the apps, a simulated one in tests.
//! - Sleep is in bounded steps: after a wake from suspend or a clock jump the state is
//!   evaluated again within `max_step`.
//! - Every history line the driver writes is also logged (target `presently::presence`),
//!   so `presently run`, the app and the tray host log the same history.
//!
//! [`ports`]: super::ports

use super::apply;
use super::call_watch::EndedEarly;
use super::driver::{Driver, DriverOptions, ForwardingAccess, Op, ResourceStatus};
use super::journal::{Persist, Resource, TakeOver};
use super::plan::HistoryEntry;
use super::ports::Ports;
use super::scheduler::Desired;
use super::CallEndedRestore;
use crate::agenda::local_midnight;
use crate::clock::Clock;
use crate::error::Error;
use crate::store::{Pause, PresenceHistoryRow};
use chrono::{DateTime, Days, Utc};
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How the runtime paces itself.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeOptions {
    /// While a block holds, the presence is read back this often to notice a change by
    /// the user (also before each write to a resource automation changed).
    pub check_interval: Duration,
    /// Longest single sleep: a wake from suspend, a clock jump or a pause set by another
    /// process is noticed within this.
    pub max_step: Duration,
    /// First wait before retrying a failed call; doubles per failure up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// How long the user must stay out of a meeting's call before it counts as ended
    /// early ([`super::call_watch::STAY_OUT`]: 2 minutes).
    pub call_stay_out: Duration,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(15),
            max_step: Duration::from_secs(10),
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(300),
            call_stay_out: Duration::from_secs(120),
        }
    }
}

/// History older than this is dropped.
pub const HISTORY_DAYS: i64 = 90;

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
    /// Why automation cannot work (no journal, an invalid policy), or the last failure.
    pub error: Option<String>,
    /// Each resource: who holds it, and a write that has not landed (with a line for the
    /// status: "Forwarding still on — switching it off failed, retrying").
    pub resources: Vec<ResourceStatus>,
    /// The meeting whose call ended early, while "Restore now" is on offer
    /// (`presence.restore_when_call_ends = "ask"`): until the user restores, or its profile
    /// is no longer in force.
    pub ended_early: Option<EndedEarly>,
}

impl Default for PresenceStatus {
    fn default() -> Self {
        Self {
            running: false,
            state: Desired::Idle,
            next_change: None,
            paused: None,
            error: None,
            resources: Vec::new(),
            ended_early: None,
        }
    }
}

/// What the engine shares with its running presence runtime.
#[derive(Debug, Default)]
pub struct Shared {
    /// Pause, resume or a manual change in the app: evaluate again now.
    pub wake: Notify,
    pub status: Mutex<PresenceStatus>,
    /// Sent whenever `status` changes: the tray, the app's status line and the
    /// notification of a restore that keeps failing follow it without polling.
    pub changed: tokio::sync::watch::Sender<()>,
}

impl Shared {
    pub fn status(&self) -> PresenceStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut PresenceStatus)) {
        let changed = {
            let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let before = status.clone();
            f(&mut status);
            *status != before
        };
        if changed {
            self.changed.send_replace(());
        }
    }
}

/// Where the runtime's time comes from.
pub trait Timer: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Sleeps until `at` (or less: the runtime evaluates again whenever it wakes).
    fn sleep_until(&self, at: DateTime<Utc>) -> impl Future<Output = ()> + Send;
}

/// The engine's clock and tokio's timer, in steps of at most `max_step`.
pub struct SystemTimer {
    pub clock: Arc<dyn Clock>,
    pub max_step: Duration,
}

impl Timer for SystemTimer {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let wait = (at - self.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(self.max_step);
        tokio::time::sleep(wait).await;
    }
}

/// Days of appointments the plan covers around now (read again when now leaves them).
pub const LOOK_BACK_DAYS: u64 = 2;
pub const LOOK_AHEAD_DAYS: u64 = 3;

/// The window of local days the plan reads around `now`: (start, end, first day, last day).
pub fn plan_window(
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<
    (
        DateTime<Utc>,
        DateTime<Utc>,
        chrono::NaiveDate,
        chrono::NaiveDate,
    ),
    Error,
> {
    let today = now.with_timezone(&tz).date_naive();
    let out = || Error::InvalidInput("the date is out of range".into());
    let from = today
        .checked_sub_days(Days::new(LOOK_BACK_DAYS))
        .ok_or_else(out)?;
    let to = today
        .checked_add_days(Days::new(LOOK_AHEAD_DAYS))
        .ok_or_else(out)?;
    Ok((local_midnight(tz, from), local_midnight(tz, to), from, to))
}

/// Logs history lines as they are stored: every process that writes the presence history
/// (the runtime in the app, the tray host or `presently run`; a pause or resume from any of
/// them or the CLI) logs each line it writes once, with this target and fields.
pub(crate) fn log_history(rows: &[PresenceHistoryRow], tz: chrono_tz::Tz) {
    for row in rows {
        let line = HistoryLine::new(row.clone(), tz);
        tracing::info!(target: "presently::presence", event = %row.event, "{}", line.text);
    }
}

/// The driver's options for what `ports` can reach.
pub fn driver_options<P: Ports>(
    ports: &P,
    options: &RuntimeOptions,
    automatic_replies: bool,
) -> DriverOptions {
    let forwarding = match ports.forwarding() {
        Ok(Some(p)) if p.can_read() => ForwardingAccess::ReadWrite,
        Ok(Some(_)) => ForwardingAccess::WriteOnly,
        Ok(None) => ForwardingAccess::None,
        Err(err) => {
            // Configured but not usable (a missing secret): writes fail and are retried,
            // and what cannot be read is switched off at the end.
            tracing::warn!(error = %err, "the call-forwarding provider is not usable");
            ForwardingAccess::WriteOnly
        }
    };
    let d = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    DriverOptions {
        forwarding,
        automatic_replies,
        read_back: d(options.check_interval),
        first_retry: d(options.first_retry),
        max_retry: d(options.max_retry),
    }
}

/// Runs presence automation until `stop` is notified. `store_changed` is notified after
/// a sync changed the store; `shared.wake` after a pause, resume or manual change.
#[allow(clippy::too_many_arguments)] // the ports, the timer, and the three notifications
pub async fn run<P: Ports, T: Timer>(
    ports: P,
    timer: T,
    shared: &Shared,
    stop: Arc<Notify>,
    store_changed: Arc<Notify>,
    options: RuntimeOptions,
    driver_options: DriverOptions,
    tz: chrono_tz::Tz,
) {
    let mut driver = match ports.load_journal() {
        Ok(durable) => {
            let mut driver = Driver::new(driver_options, durable, timer.now());
            driver.set_call_stay_out(
                chrono::Duration::from_std(options.call_stay_out)
                    .unwrap_or(super::call_watch::STAY_OUT),
            );
            driver
        }
        Err(err) => {
            tracing::error!(error = %err, "presence automation cannot start: its journal cannot be read");
            shared.update(|s| s.error = Some(err.to_string()));
            stop.notified().await;
            return;
        }
    };
    shared.update(|s| {
        s.running = true;
        s.error = None;
    });
    let mut reload = true;
    let mut loaded_until: Option<DateTime<Utc>> = None;
    let mut version: Option<i64> = None;
    let mut plan_error: Option<String> = None;
    let mut take_over: Vec<TakeOver> = Vec::new();
    let mut call_ended = CallEndedRestore::Off;
    loop {
        let now = timer.now();
        // Another process committed (the CLI's pause, its sync), or now left the window.
        if !reload {
            let v = ports.store_version().ok();
            reload = v != version
                || loaded_until.is_none_or(|end| now + chrono::Duration::days(1) > end);
        }
        if reload {
            version = ports.store_version().ok();
            match ports.plan_inputs(now) {
                Ok(inputs) => {
                    driver.set_plan(inputs.plan);
                    driver.set_pause(inputs.pause);
                    loaded_until = Some(inputs.loaded_until);
                    take_over = inputs.take_over;
                    call_ended = inputs.call_ended;
                    driver.set_watch_calls(call_ended != CallEndedRestore::Off);
                    plan_error = None;
                }
                Err(err) => {
                    // The driver keeps the plan it had: holds are still given back.
                    tracing::warn!(error = %err, "cannot read the presence plan's inputs");
                    plan_error = Some(err.to_string());
                }
            }
            reload = false;
        }
        driver.handle_timeout(now);
        for request in std::mem::take(&mut take_over) {
            if driver.take_over_requested(request.resource, request.at, now) {
                tracing::info!(resource = %request.resource, "taken over by the user, as they said");
            }
        }
        let stopped = tokio::select! {
            _ = drain(&ports, &timer, &mut driver, tz) => false,
            _ = stop.notified() => true,
        };
        // A failure is logged; the next save writes the whole state again.
        save(&ports, &mut driver, tz).ok();
        let now = timer.now();
        let mut offer = None;
        while let Some(ended) = driver.poll_ended_early() {
            match call_ended {
                CallEndedRestore::Auto => match ports.restore_call_ended(&ended) {
                    // The next plan leaves the occurrence out: its end comes now.
                    Ok(_) => reload = true,
                    Err(err) => {
                        tracing::warn!(error = %err, appointment = %ended.appointment_id, "cannot restore after the call ended")
                    }
                },
                CallEndedRestore::Ask => {
                    // Where no shell shows the offer (`presently run`), the log says how.
                    tracing::info!(appointment = %ended.appointment_id, "the meeting's call ended early; offering to restore now (`presently presence restore-now {}` does it)", ended.appointment_id);
                    offer = Some(ended);
                }
                CallEndedRestore::Off => {}
            }
        }
        shared.update(|s| {
            if offer.is_some() {
                s.ended_early = offer;
            }
            // The offer lasts while its appointment's profile is in force.
            let current = driver.current().map(|a| a.appointment_id.as_str());
            if s.ended_early.as_ref().is_some_and(|e| {
                call_ended != CallEndedRestore::Ask
                    || current != Some(e.appointment_id.as_str())
                    || now >= e.end
            }) {
                s.ended_early = None;
            }
            s.state = driver
                .current()
                .cloned()
                .map_or(Desired::Idle, Desired::Apply);
            s.next_change = driver.next_change(now);
            s.resources = driver.status(now);
            s.error = plan_error
                .clone()
                .or_else(|| s.resources.iter().find_map(|r| r.problem.clone()));
        });
        if stopped {
            break;
        }
        if reload {
            continue;
        }
        let wake = driver.poll_timeout(now);
        tokio::select! {
            _ = sleep(&timer, wake, now, &options) => {}
            _ = store_changed.notified() => reload = true,
            _ = shared.wake.notified() => reload = true,
            _ = stop.notified() => break,
        }
    }
    shared.update(|s| s.running = false);
}

async fn sleep<T: Timer>(
    timer: &T,
    wake: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    options: &RuntimeOptions,
) {
    let step = chrono::Duration::from_std(options.max_step).unwrap_or(chrono::Duration::MAX);
    let at = wake.map_or(now + step, |w| w.min(now + step));
    timer.sleep_until(at).await
}

/// Hands the driver's ops to the ports until it has nothing more to do now.
async fn drain<P: Ports, T: Timer>(ports: &P, timer: &T, driver: &mut Driver, tz: chrono_tz::Tz) {
    while let Some(op) = driver.poll_op(timer.now()) {
        // The intent is stored before the write is sent.
        let stored = save(ports, driver, tz);
        match op {
            Op::Read(read) => match apply::read(ports, read).await {
                Ok(observation) => driver.handle_observation(timer.now(), observation),
                Err(err) => {
                    tracing::warn!(error = %err, ?read, "a presence read failed; retrying");
                    driver.handle_read_failed(timer.now(), read, &err.to_string())
                }
            },
            Op::Write {
                key,
                resource,
                action,
                expiration,
            } => {
                let result = match stored {
                    Err(err) => Err(format!("the presence journal could not be written: {err}")),
                    Ok(()) => {
                        tracing::debug!(%resource, %action, %key, "presence write");
                        apply::write(ports, &key, &action, expiration)
                            .await
                            .map_err(|e| e.to_string())
                    }
                };
                driver.handle_result(timer.now(), &key, result);
            }
        }
        save(ports, driver, tz).ok();
    }
}

/// Stores what the driver says to store (history lines are logged too).
fn save<P: Ports>(ports: &P, driver: &mut Driver, tz: chrono_tz::Tz) -> Result<(), Error> {
    let Some(persist): Option<Persist> = driver.take_persist() else {
        return Ok(());
    };
    log_history(&persist.history, tz);
    ports.save_journal(&persist).inspect_err(|err| {
        tracing::warn!(error = %err, "could not write the presence journal");
    })
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
        use crate::store::HistoryKind;
        let time = row.at.with_timezone(&tz).format("%H:%M").to_string();
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
        let entry = |event| HistoryEntry { at: row.at, event }.display(tz);
        let text = match &row.event {
            HistoryKind::Applied => entry(HistoryEvent::Applied {
                profile: row.profile.clone().unwrap_or_default(),
                subject: row.subject.clone(),
            }),
            HistoryKind::Restored => {
                let line = entry(HistoryEvent::Restored {
                    presence: row.presence.clone(),
                });
                // `until`: given back late, the appointments having ended then.
                let late = row
                    .until
                    .map(|u| format!("late: the appointments ended at {}", local(u)));
                let notes: Vec<String> = late.into_iter().chain(row.detail.clone()).collect();
                if notes.is_empty() {
                    line
                } else {
                    format!("{line} ({})", notes.join("; "))
                }
            }
            // Before per-resource holds, a change by the user released everything.
            HistoryKind::StoodBack => match row.detail.as_deref().and_then(Resource::parse) {
                Some(r) => format!(
                    "{time} {} changed by you; automation leaves it alone until {}",
                    r.label(),
                    local(row.until.unwrap_or(row.at))
                ),
                None => entry(HistoryEvent::StoodBack {
                    until: row.until.unwrap_or(row.at),
                }),
            },
            HistoryKind::Failed => format!(
                "{time} failed, retrying: {}",
                row.detail.as_deref().unwrap_or("?")
            ),
            HistoryKind::RestoreFailed => format!(
                "{time} giving your own back failed, retrying: {}",
                row.detail.as_deref().unwrap_or("?")
            ),
            HistoryKind::Recovered => format!("{time} retried successfully"),
            HistoryKind::Pending => format!(
                "pending since {time}: {}",
                row.detail.as_deref().unwrap_or("?")
            ),
            HistoryKind::Paused => match row.until {
                Some(until) => format!("{time} paused until {}", local(until)),
                None => format!("{time} paused"),
            },
            HistoryKind::Resumed => format!("{time} resumed"),
            HistoryKind::Skipped if row.detail.as_deref() == Some(crate::engine::CALL_ENDED) => {
                let what = row.subject.as_deref().unwrap_or("a private appointment");
                format!("{time} the call of {what} ended early: giving your own status back now")
            }
            HistoryKind::Skipped | HistoryKind::Unskipped => {
                let what = row.subject.as_deref().unwrap_or("a private appointment");
                let series = if row.detail.as_deref() == Some("series") {
                    " (the whole series)"
                } else {
                    ""
                };
                if row.event == HistoryKind::Skipped {
                    format!("{time} skipped: no switching for {what}{series}")
                } else {
                    format!("{time} switching again for {what}{series}")
                }
            }
            HistoryKind::Other(other) => format!("{time} {other}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_change_of_status_is_signalled_and_an_unchanged_one_is_not() {
        let shared = Shared::default();
        let mut changes = shared.changed.subscribe();
        shared.update(|s| s.running = true);
        assert!(changes.has_changed().unwrap(), "running");
        changes.mark_unchanged();
        shared.update(|s| s.running = true);
        assert!(!changes.has_changed().unwrap(), "the same status again");
        shared.update(|s| s.error = Some("Forwarding still on".into()));
        assert!(changes.has_changed().unwrap(), "a problem");
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
}
