//! The presence driver: a sans-IO state machine in the style of quinn-proto's `Connection`.
//! It decides what to read and what to write on each of the user's resources — Teams
//! presence, status message, call forwarding, automatic replies — so that whatever
//! automation changed for an appointment is the user's own again when the appointment
//! ends, and nothing the user changed by hand is ever overwritten.
//!
//! Inputs: the [`Plan`] (the scheduler's time line and covering blocks), the pause,
//! `now` ([`Driver::handle_timeout`]), what reads found ([`Driver::handle_observation`],
//! [`Driver::handle_read_failed`]), how writes went ([`Driver::handle_result`]) and the
//! user saying they took a resource over ([`Driver::user_took_over`]). A restart is
//! [`Driver::new`] from the [`Durable`] state the driver handed out last. Outputs:
//! [`Driver::poll_op`] (a read, or a write with its idempotency key), [`Driver::take_persist`]
//! (what to store: before each write is sent, and after its outcome) and
//! [`Driver::poll_timeout`] (when to call again). The runtime hands out one op at a time and
//! feeds its outcome back before asking for the next.
//!
//! Per resource ([`Hold`]): automation takes a resource when a profile wants to change it,
//! reading the user's value first where it must be given back exactly; it writes only what
//! differs, and gives the user's value back when no profile wants the resource any more —
//! never between overlapping or adjacent appointments of one covering block, where only
//! the resources the new profile does not touch go back. A read that shows a value
//! automation did not write is the user's change: that resource alone is released (not
//! written, not restored) until the covering block ends. Before every write to a resource
//! automation already changed, the resource is read back where it can be (a `GET
//! /me/presence` covers presence and status message), so a change made by hand a moment
//! earlier is never overwritten; while a block holds, `GET /me/presence` is repeated every
//! [`DriverOptions::read_back`] to notice one.
//!
//! A write whose outcome was lost (a crash between sending it and storing its outcome) is
//! read back and completed or given up; where the resource cannot be read (command and HTTP
//! forwarding providers) it is sent again with the same idempotency key. A failed write is
//! retried with backoff, across restarts, until it lands or is no longer wanted.

use super::apply::{expiration, EXPIRY_GRACE, RENEW_AHEAD};
use super::call_watch::{CallWatch, EndedEarly, Meeting};
use super::journal::{
    Durable, Entry, EntryState, Hold, Persist, Purpose, Resource, Value, Written,
};
use super::profile::{Forwarding, PresenceMode, Profile};
use super::scheduler::{Action, ProfileInForce, Scheduler};
use super::{AutoRepliesSetting, AutoRepliesStatus, Policy, Presence, UserState};
use crate::model::Appointment;
use crate::store::{HistoryKind, Pause, PresenceHistoryRow};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// What the driver's plan is made of: the scheduler's time line and covering blocks.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    timeline: Vec<(DateTime<Utc>, Option<ProfileInForce>)>,
    blocks: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    profiles: Vec<Profile>,
    /// The appointments with an online meeting, by id, with their own ends (for
    /// [`CallWatch`]).
    meetings: Vec<(String, DateTime<Utc>)>,
}

impl Plan {
    pub fn new(policy: &Policy, tz: Tz, appointments: &[Appointment]) -> Self {
        let mut s = Scheduler::new(policy.clone(), tz, UserState::default());
        s.set_appointments(appointments);
        let meetings = appointments
            .iter()
            .filter(|a| a.join_url.is_some() || a.online_provider.is_some())
            .map(|a| (a.id.clone(), super::scheduler::span(a, tz).1))
            .collect();
        Self {
            timeline: s.timeline().to_vec(),
            blocks: s.blocks().to_vec(),
            profiles: policy.profiles().to_vec(),
            meetings,
        }
    }

    /// When the appointment `id` ends, if it has an online meeting.
    fn meeting_end(&self, id: &str) -> Option<DateTime<Utc>> {
        self.meetings
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, end)| *end)
    }

    /// The profile that should hold at `t`.
    pub fn at(&self, t: DateTime<Utc>) -> Option<&ProfileInForce> {
        let i = self.timeline.partition_point(|(at, _)| *at <= t);
        self.timeline[..i].last().and_then(|(_, a)| a.as_ref())
    }

    /// The covering block containing `t` (start ≤ t < end).
    pub fn block_at(&self, t: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let i = self.blocks.partition_point(|(s, _)| *s <= t);
        let b = *self.blocks.get(i.checked_sub(1)?)?;
        (t < b.1).then_some(b)
    }

    fn next_change_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let i = self.timeline.partition_point(|(at, _)| *at <= t);
        self.timeline.get(i).map(|(at, _)| *at)
    }

    fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

/// How the configured call-forwarding provider can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardingAccess {
    /// No provider: forwarding is never touched.
    None,
    /// It can be switched but not read (command, HTTP): switched off at the end, and a lost
    /// outcome is sent again with the same idempotency key.
    WriteOnly,
    /// It can be read (Webex, AMI): restored exactly, checked before every write.
    ReadWrite,
}

/// How the driver paces itself and what it may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverOptions {
    pub forwarding: ForwardingAccess,
    /// `features.automatic_replies`.
    pub automatic_replies: bool,
    /// While a block holds, `GET /me/presence` this often to notice a change by hand.
    pub read_back: Duration,
    /// First wait before retrying a failed call; doubles per failure up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
}

impl Default for DriverOptions {
    fn default() -> Self {
        Self {
            forwarding: ForwardingAccess::None,
            automatic_replies: false,
            read_back: Duration::seconds(15),
            first_retry: Duration::seconds(2),
            max_retry: Duration::seconds(300),
        }
    }
}

/// A read the runtime makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Read {
    /// `GET /me/presence`: the presence and the status message.
    Presence,
    /// The provider's forwarding setting.
    Forwarding,
    /// `GET /me/mailboxSettings`: the automatic replies.
    AutomaticReplies,
}

impl Read {
    const ALL: [Read; 3] = [Read::Presence, Read::Forwarding, Read::AutomaticReplies];

    fn index(self) -> usize {
        self as usize
    }

    fn of(r: Resource) -> Self {
        match r {
            Resource::Presence | Resource::StatusMessage => Read::Presence,
            Resource::Forwarding => Read::Forwarding,
            Resource::AutomaticReplies => Read::AutomaticReplies,
        }
    }

    fn resources(self) -> &'static [Resource] {
        match self {
            Read::Presence => &[Resource::Presence, Resource::StatusMessage],
            Read::Forwarding => &[Resource::Forwarding],
            Read::AutomaticReplies => &[Resource::AutomaticReplies],
        }
    }
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Presence {
        presence: Presence,
        status_message: Option<String>,
    },
    /// None: the provider cannot read its setting.
    Forwarding(Option<Forwarding>),
    AutomaticReplies(AutoRepliesSetting),
}

impl Observation {
    fn read(&self) -> Read {
        match self {
            Observation::Presence { .. } => Read::Presence,
            Observation::Forwarding(_) => Read::Forwarding,
            Observation::AutomaticReplies(_) => Read::AutomaticReplies,
        }
    }

    fn values(self) -> Vec<(Resource, Option<Value>)> {
        match self {
            Observation::Presence {
                presence,
                status_message,
            } => vec![
                (Resource::Presence, Some(Value::Presence(presence))),
                (
                    Resource::StatusMessage,
                    Some(Value::StatusMessage(status_message)),
                ),
            ],
            Observation::Forwarding(f) => vec![(Resource::Forwarding, f.map(Value::Forwarding))],
            Observation::AutomaticReplies(s) => {
                vec![(Resource::AutomaticReplies, Some(Value::AutomaticReplies(s)))]
            }
        }
    }
}

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Read(Read),
    /// Write `action`; `key` is its idempotency key (the same on every attempt). A presence
    /// is set for `expiration`.
    Write {
        key: String,
        resource: Resource,
        action: Action,
        expiration: Option<Duration>,
    },
}

/// A write that has not landed, as the status line and `presence history` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingWrite {
    /// Its idempotency key: the same for every attempt, never reused (one problem).
    pub key: String,
    pub resource: Resource,
    pub purpose: Purpose,
    /// What it does ("forwarding back off").
    pub action: String,
    pub since: DateTime<Utc>,
    pub attempts: u32,
    pub error: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
    /// For the status line once it failed: "Forwarding still on — switching it off
    /// failed, retrying".
    pub message: Option<String>,
    /// It switches forwarding off (a surface words it in its own language: "still on").
    pub switches_off: bool,
}

impl PendingWrite {
    pub fn of(e: &Entry) -> Self {
        Self {
            key: e.key.clone(),
            resource: e.resource,
            purpose: e.purpose,
            action: e.action.to_string(),
            since: e.created,
            attempts: e.attempts,
            error: e.last_error.clone(),
            next_attempt: e.next_attempt,
            message: (e.attempts > 0).then(|| failing_message(e)),
            switches_off: matches!(
                &e.action,
                Action::RestoreForwarding {
                    forwarding: None | Some(Forwarding::Off)
                } | Action::SetForwarding {
                    forwarding: Forwarding::Off
                }
            ),
        }
    }
}

fn failing_message(e: &Entry) -> String {
    match (e.purpose, &e.action) {
        (Purpose::Restore, Action::RestoreForwarding { forwarding }) => {
            match forwarding.as_ref().unwrap_or(&Forwarding::Off) {
                Forwarding::Off => {
                    "Forwarding still on — switching it off failed, retrying".to_owned()
                }
                back => format!("Forwarding not back {back} yet — switching it failed, retrying"),
            }
        }
        (Purpose::Restore, _) => format!(
            "{} still set by Presently — giving yours back failed, retrying",
            e.resource.label()
        ),
        (_, action) => format!(
            "{} not switched yet ({action}) — it failed, retrying",
            e.resource.label()
        ),
    }
}

/// One resource as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceStatus {
    pub resource: Resource,
    /// `yours`, `automated`, or `released` (you changed it: automation leaves it alone
    /// until the appointments end).
    pub held: &'static str,
    pub pending: Option<PendingWrite>,
    /// What keeps failing, for the status line ("Forwarding still on — switching it off
    /// failed, retrying"); None while nothing does.
    pub problem: Option<String>,
    /// What `problem` is about, for a surface that words it itself (the app, in the user's
    /// language) or decides when to tell the user more loudly (a notification).
    pub failing: Option<Failing>,
}

/// What keeps failing on one resource: its open write, or the read that write (or taking
/// the resource) waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failing {
    /// A read fails (the write waits for it), rather than the write itself.
    pub read: bool,
    /// Failures in a row.
    pub failures: u32,
    pub error: Option<String>,
}

/// What the plan wants of one resource now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// The user took it over: hands off.
    HandsOff,
    /// The user's own value.
    Own,
    Apply(Action),
}

/// Whether a resource's value must be read before automation changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// It cannot be restored exactly otherwise: wait for the read.
    Required,
    /// Useful (the history names it) but not needed to restore: go on if the read fails.
    Wanted,
    /// It cannot be read.
    None,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    hold: Hold,
    /// The write under way (pending or in flight), at most one.
    entry: Option<Entry>,
    /// Whether `entry` was checked against a read taken after it was decided.
    verified: bool,
    /// A read of this resource taken during the current burst of work, for the prior
    /// value when automation takes it (Some(None): the read failed or cannot be made).
    fresh: Option<Option<Value>>,
}

#[derive(Debug, Clone, Default)]
struct ReadState {
    failures: u32,
    retry_at: Option<DateTime<Utc>>,
    last_ok: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outstanding {
    Read(Read),
    Write(String),
}

/// The sans-IO presence driver.
#[derive(Debug, Clone)]
pub struct Driver {
    options: DriverOptions,
    plan: Plan,
    pause: Option<Pause>,
    journal_id: String,
    next_seq: u64,
    headline: Option<ProfileInForce>,
    slots: [Slot; 4],
    reads: [ReadState; 3],
    outstanding: Option<Outstanding>,
    /// The latest instant seen: a clock set back does not end a covering block early.
    latest: DateTime<Utc>,
    journal: Vec<Entry>,
    history: Vec<PresenceHistoryRow>,
    end_pause: Option<DateTime<Utc>>,
    dirty: bool,
    /// Whether to watch for a meeting's call ending early ([`Driver::set_watch_calls`]).
    watch_calls: bool,
    calls: CallWatch,
    /// Meetings whose call ended early, for [`Driver::poll_ended_early`].
    ended_early: Vec<EndedEarly>,
}

fn backoff(options: &DriverOptions, failures: u32) -> Duration {
    let factor = 1i32 << failures.saturating_sub(1).min(16);
    (options.first_retry * factor).min(options.max_retry)
}

fn history(at: DateTime<Utc>, event: HistoryKind) -> PresenceHistoryRow {
    PresenceHistoryRow {
        at,
        event,
        profile: None,
        appointment_id: None,
        subject: None,
        presence: None,
        until: None,
        detail: None,
    }
}

/// Exchange keeps automatic replies as HTML and may wrap the text it was given: compare
/// the words only.
fn same_text(a: &str, b: &str) -> bool {
    fn words(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut in_tag = false;
        for c in s.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    out.push(' ');
                }
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        let out = out
            .replace("&nbsp;", " ")
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
    words(a) == words(b)
}

fn same_replies(a: &AutoRepliesSetting, b: &AutoRepliesSetting) -> bool {
    a.status == b.status
        && (a.status != AutoRepliesStatus::Scheduled
            || (a.scheduled_start == b.scheduled_start && a.scheduled_end == b.scheduled_end))
        && same_text(&a.internal, &b.internal)
        && same_text(&a.external, &b.external)
}

fn message_of(m: &Option<String>) -> &str {
    m.as_deref().map(str::trim).unwrap_or("")
}

/// Whether `seen` is the user's value `prior`.
fn same_value(prior: &Value, seen: &Value) -> bool {
    match (prior, seen) {
        (Value::Presence(a), Value::Presence(b)) => {
            a.availability.eq_ignore_ascii_case(&b.availability)
        }
        (Value::StatusMessage(a), Value::StatusMessage(b)) => message_of(a) == message_of(b),
        (Value::Forwarding(a), Value::Forwarding(b)) => a == b,
        (Value::AutomaticReplies(a), Value::AutomaticReplies(b)) => same_replies(a, b),
        _ => false,
    }
}

/// What a read says about a value automation wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// It is there.
    Ours,
    /// It expired on the server by itself (values are set to last [`EXPIRY_GRACE`] past
    /// the block, so this is only seen when the restore comes that late).
    Expired,
    /// Something else is there: the user changed it.
    Theirs,
}

/// What `seen` says about `action`, written by automation, at `now`. `expires` is when
/// the presence it set runs out (sooner than planned when Presently was not running to
/// renew it); `prior` what the user had before: what shows once it ran out.
fn check(
    action: &Action,
    seen: &Value,
    now: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
    prior: Option<&Value>,
    covered: bool,
    restoring: bool,
) -> Seen {
    let expired = |until: &DateTime<Utc>| now >= *until + EXPIRY_GRACE;
    let was_theirs = prior.is_some_and(|p| same_value(p, seen));
    // What shows without automation's presence is not known.
    let unknown = prior.is_none() || covered;
    match (action, seen) {
        (Action::SetPresence { presence, until }, Value::Presence(_)) => {
            if shows(action, seen) {
                return Seen::Ours;
            }
            // Once automation's presence ran out (at the end, or unrenewed while Presently
            // was not running), what the user had before shows again. Before that, a
            // session does not show under a preferred presence the user had: their own
            // showing is no change. Anything that cannot be placed so is taken for the
            // user's choice: automation stands back rather than risk writing over it (when
            // giving back, nothing of automation's is left to clear either way).
            let ran_out = expired(until) || expires.is_some_and(|e| now >= e);
            let theirs_again = was_theirs && !unknown;
            match presence.mode {
                _ if ran_out && (theirs_again || restoring) => Seen::Expired,
                PresenceMode::Session if !ran_out && theirs_again => Seen::Ours,
                _ => Seen::Theirs,
            }
        }
        (Action::SetStatusMessage { message, until }, Value::StatusMessage(m)) => {
            if message_of(m) == message.trim() {
                Seen::Ours
            } else if m.is_none() && expired(until) {
                Seen::Expired
            } else {
                Seen::Theirs
            }
        }
        // What a cleared presence leaves is the user's.
        (Action::ClearPresence { .. }, Value::Presence(_)) => Seen::Ours,
        _ if shows(action, seen) => Seen::Ours,
        _ => Seen::Theirs,
    }
}

/// Whether `seen` shows exactly what `action` writes (a cleared presence never does: what
/// it leaves is the user's, so it is sent to be sure).
pub(crate) fn shows(action: &Action, seen: &Value) -> bool {
    match (action, seen) {
        (Action::SetPresence { presence, .. }, Value::Presence(p)) => {
            let ours = presence.availability.as_str();
            p.availability
                .get(..ours.len())
                .is_some_and(|a| a.eq_ignore_ascii_case(ours))
        }
        (Action::SetStatusMessage { message, .. }, Value::StatusMessage(m)) => {
            message_of(m) == message.trim()
        }
        (Action::RestoreStatusMessage { message }, Value::StatusMessage(m)) => {
            message_of(m) == message_of(message)
        }
        (Action::SetForwarding { forwarding }, Value::Forwarding(f)) => f == forwarding,
        (Action::RestoreForwarding { forwarding }, Value::Forwarding(f)) => {
            f == forwarding.as_ref().unwrap_or(&Forwarding::Off)
        }
        (
            Action::SetAutomaticReplies {
                internal,
                external,
                start,
                end,
            },
            Value::AutomaticReplies(s),
        ) => {
            s.status == AutoRepliesStatus::Scheduled
                && s.scheduled_start == Some(*start)
                && s.scheduled_end == Some(*end)
                && same_text(internal, &s.internal)
                && same_text(external, &s.external)
        }
        (Action::RestoreAutomaticReplies { setting }, Value::AutomaticReplies(s)) => {
            match setting {
                Some(prior) => same_replies(prior, s),
                None => s.status == AutoRepliesStatus::Disabled,
            }
        }
        _ => false,
    }
}

/// The write that gives `r` back to the user, or None when nothing of automation's is there.
fn restore_action(r: Resource, prior: Option<&Value>, written: &Written) -> Option<Action> {
    let restore_to = match prior {
        Some(Value::Presence(p)) => Some(p.clone()),
        _ => None,
    };
    match (r, written) {
        (_, Written::Nothing) => None,
        (Resource::Presence, Written::Action { action }) => match action {
            Action::SetPresence { presence, .. } => Some(Action::ClearPresence {
                mode: presence.mode,
                restore_to,
            }),
            _ => None,
        },
        // Built-in profiles set the preferred presence; so did a version 6 block.
        (Resource::Presence, Written::Unknown) => Some(Action::ClearPresence {
            mode: PresenceMode::Preferred,
            restore_to,
        }),
        (Resource::StatusMessage, _) => Some(Action::RestoreStatusMessage {
            message: match prior {
                Some(Value::StatusMessage(m)) => m.clone(),
                _ => None,
            },
        }),
        (Resource::Forwarding, _) => Some(Action::RestoreForwarding {
            forwarding: match prior {
                Some(Value::Forwarding(f)) => Some(f.clone()),
                _ => None,
            },
        }),
        (Resource::AutomaticReplies, _) => Some(Action::RestoreAutomaticReplies {
            setting: match prior {
                Some(Value::AutomaticReplies(s)) => Some(s.clone()),
                _ => None,
            },
        }),
    }
}

/// The next write that takes `r` from what automation wrote toward `target` (None: the
/// user's own value); None when it is there.
fn next_write(
    r: Resource,
    prior: Option<&Value>,
    written: &Written,
    target: Option<&Action>,
) -> Option<Action> {
    let Some(target) = target else {
        let restore = restore_action(r, prior, written)?;
        return match written {
            Written::Action { action } if *action == restore => None,
            _ => Some(restore),
        };
    };
    match (written, target) {
        (Written::Action { action }, _) if action == target => None,
        // A presence set in the other mode is cleared first.
        (
            Written::Action {
                action: Action::SetPresence { presence: old, .. },
            },
            Action::SetPresence { presence, .. },
        ) if old.mode != presence.mode => restore_action(r, prior, written),
        _ => Some(target.clone()),
    }
}

impl Driver {
    /// A driver starting from `durable` (a fresh one, or what the last run stored): writes
    /// left in flight have lost their outcome and are checked first; failed ones are tried
    /// again at once; holds of blocks that ended meanwhile are given back at once.
    pub fn new(options: DriverOptions, durable: Durable, now: DateTime<Utc>) -> Self {
        // The latest instant the stored state knows of: a clock set back while Presently
        // was not running must not end a covering block (and a release in it) early either.
        let known = durable
            .holds
            .iter()
            .filter_map(|h| match h {
                Hold::Released { at, .. } => Some(*at),
                Hold::Owned { since, .. } => Some(*since),
                Hold::Free => None,
            })
            .chain(durable.open.iter().map(|e| e.updated))
            .max();
        let mut slots: [Slot; 4] = Default::default();
        for (slot, hold) in slots.iter_mut().zip(durable.holds) {
            slot.hold = hold;
        }
        for mut e in durable.open {
            if e.state == EntryState::Pending {
                e.next_attempt = None;
            }
            let i = e.resource.index();
            slots[i].entry = Some(e);
        }
        Self {
            options,
            plan: Plan::default(),
            pause: None,
            journal_id: durable.journal_id,
            next_seq: durable.next_seq,
            headline: durable.headline,
            slots,
            reads: Default::default(),
            outstanding: None,
            latest: known.map_or(now, |k| k.max(now)),
            journal: Vec::new(),
            history: Vec::new(),
            end_pause: None,
            dirty: false,
            watch_calls: false,
            calls: CallWatch::default(),
            ended_early: Vec::new(),
        }
    }

    /// Whether to notice that the user left the call of the meeting automation switched
    /// for, and stayed out ([`super::call_watch`]): while such a meeting's profile is in
    /// force, the presence is read every [`DriverOptions::read_back`].
    pub fn set_watch_calls(&mut self, on: bool) {
        self.watch_calls = on;
        if !on {
            self.calls.set_meeting(None);
        }
    }

    /// How long the user must stay out of a meeting's call before it counts as ended
    /// ([`super::call_watch::STAY_OUT`] unless set).
    pub fn set_call_stay_out(&mut self, stay_out: Duration) {
        self.calls.set_stay_out(stay_out);
    }

    /// A meeting whose call ended before the appointment (raised once per occurrence).
    pub fn poll_ended_early(&mut self) -> Option<EndedEarly> {
        (!self.ended_early.is_empty()).then(|| self.ended_early.remove(0))
    }

    pub fn set_plan(&mut self, plan: Plan) {
        self.plan = plan;
    }

    /// The pause stored now (None: not paused).
    pub fn set_pause(&mut self, pause: Option<Pause>) {
        self.pause = pause;
    }

    /// Time passed: pauses and releases that ended end, and the history notes the profile
    /// now in force.
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) {
        self.latest = self.latest.max(now);
        if let Some(Pause { until: Some(until) }) = self.pause {
            if until <= now {
                self.pause = None;
                self.end_pause = Some(until);
                self.history.push(history(until, HistoryKind::Resumed));
                self.dirty = true;
            }
        }
        // The history notes what ends before the releases that end with it.
        self.note_headline(now);
        self.watch_meeting();
        for r in Resource::ALL {
            if let Hold::Released {
                at,
                clear_session: false,
            } = self.slots[r.index()].hold
            {
                if !self.release_holds(at, now) {
                    self.slots[r.index()].hold = Hold::Free;
                    self.dirty = true;
                }
            }
        }
    }

    /// The next thing to do, if any. Call again after feeding its outcome back.
    pub fn poll_op(&mut self, now: DateTime<Utc>) -> Option<Op> {
        if self.outstanding.is_some() {
            return None;
        }
        self.handle_timeout(now);
        for r in Resource::ALL {
            if let Some(op) = self.op_for(r, now) {
                self.outstanding = Some(match &op {
                    Op::Read(read) => Outstanding::Read(*read),
                    Op::Write { key, .. } => Outstanding::Write(key.clone()),
                });
                return Some(op);
            }
        }
        if self.read_back_due(now) {
            self.outstanding = Some(Outstanding::Read(Read::Presence));
            return Some(Op::Read(Read::Presence));
        }
        // The burst of work is over: reads taken during it are no longer fresh.
        for slot in &mut self.slots {
            slot.fresh = None;
        }
        None
    }

    /// A read answered.
    pub fn handle_observation(&mut self, now: DateTime<Utc>, observation: Observation) {
        let read = observation.read();
        if self.outstanding == Some(Outstanding::Read(read)) {
            self.outstanding = None;
        }
        self.reads[read.index()] = ReadState {
            last_ok: Some(now),
            ..ReadState::default()
        };
        if let Observation::Presence { presence, .. } = &observation {
            let own = self.own_session_activity(now);
            if let Some(ended) = self.calls.observe(now, &presence.activity, own.as_deref()) {
                self.ended_early.push(ended);
            }
        }
        for (r, seen) in observation.values() {
            self.observed(r, seen, now);
        }
    }

    fn observed(&mut self, r: Resource, seen: Option<Value>, now: DateTime<Utc>) {
        let want = self.want(r, now);
        // Giving back after the covering block: nothing to protect from a write any more.
        let restoring = want == Want::Own && self.block_now(now).is_none();
        let wanted = match want {
            Want::Apply(a) => Some(a),
            _ => None,
        };
        let slot = &mut self.slots[r.index()];
        if slot.hold == Hold::Free {
            slot.fresh = Some(seen.clone());
        }
        let Some(seen) = seen else { return };
        // A write whose outcome was lost and that shows has landed; a lost clear of the
        // presence landed unless automation's presence still shows. (A write not sent yet
        // that shows was made by the user: that is a change by hand, below.)
        let done = slot.entry.as_ref().is_some_and(|e| {
            let lost = e.state == EntryState::InFlight;
            let cleared = matches!(e.action, Action::ClearPresence { .. })
                && !matches!(&slot.hold, Hold::Owned { written: Written::Action { action }, .. } if shows(action, &seen));
            lost && (cleared || shows(&e.action, &seen))
        });
        if done {
            self.landed(r, now);
            return;
        }
        // About to take the preferred presence over a session of automation's (or none):
        // what the user picked since (their preferred presence) must not be written over.
        let preferred = |a: &Action| matches!(a, Action::SetPresence { presence, .. } if presence.mode == PresenceMode::Preferred);
        let takes_preferred = slot.entry.as_ref().is_some_and(|e| preferred(&e.action))
            || wanted.as_ref().is_some_and(preferred);
        let ours = match &mut slot.hold {
            Hold::Owned {
                prior,
                written: Written::Action { action },
                ..
            } if takes_preferred && !preferred(action) => {
                shows(action, &seen) || prior.as_ref().is_some_and(|p| same_value(p, &seen))
            }
            Hold::Owned {
                prior,
                written,
                expires,
                covered,
                ..
            } => match written {
                Written::Action { action } => match check(
                    action,
                    &seen,
                    now,
                    *expires,
                    prior.as_ref(),
                    *covered,
                    restoring,
                ) {
                    Seen::Ours => true,
                    Seen::Expired => {
                        // An expired presence leaves nothing to clear; an expired status
                        // message leaves none, and the user's comes back unless that is none.
                        if r == Resource::Presence
                            || prior.as_ref().is_some_and(|p| same_value(p, &seen))
                        {
                            *written = Written::Nothing;
                        }
                        true
                    }
                    Seen::Theirs => false,
                },
                // The first write has not landed: the user's value should be there.
                Written::Nothing => {
                    r == Resource::Presence || prior.as_ref().is_none_or(|p| same_value(p, &seen))
                }
                // What a lost write left cannot be told apart from a change by hand: the
                // user's own value showing means nothing is left to give back.
                Written::Unknown => {
                    if prior.as_ref().is_some_and(|p| same_value(p, &seen)) {
                        *written = Written::Nothing;
                    }
                    true
                }
            },
            _ => return,
        };
        if !ours {
            self.user_took_over(r, now);
            return;
        }
        slot.verified = true;
        if let Some(e) = &mut slot.entry {
            // A lost outcome is known now: it did not land; it is sent again (same key).
            if e.state == EntryState::InFlight {
                e.state = EntryState::Pending;
            }
        }
    }

    /// A read failed; it is tried again with backoff (writes waiting for it wait).
    pub fn handle_read_failed(&mut self, now: DateTime<Utc>, read: Read, error: &str) {
        if self.outstanding == Some(Outstanding::Read(read)) {
            self.outstanding = None;
        }
        let rs = &mut self.reads[read.index()];
        rs.failures += 1;
        rs.retry_at = Some(now + backoff(&self.options, rs.failures));
        rs.last_error = Some(error.to_owned());
        let failures = rs.failures;
        for &r in read.resources() {
            if self.need(r) == Need::Wanted && self.slots[r.index()].hold == Hold::Free {
                self.slots[r.index()].fresh = Some(None);
            }
        }
        if failures.is_power_of_two() {
            let what = match read {
                Read::Presence => "reading the presence",
                Read::Forwarding => "reading the call forwarding",
                Read::AutomaticReplies => "reading the automatic replies",
            };
            let mut row = history(now, HistoryKind::Failed);
            row.detail = Some(format!("{what}: {error}"));
            self.history.push(row);
            self.dirty = true;
        }
    }

    /// A write answered: `Ok` landed, `Err` was refused or failed (tried again later).
    pub fn handle_result(&mut self, now: DateTime<Utc>, key: &str, result: Result<(), String>) {
        if self.outstanding == Some(Outstanding::Write(key.to_owned())) {
            self.outstanding = None;
        }
        let Some(r) = Resource::ALL.into_iter().find(|r| {
            self.slots[r.index()]
                .entry
                .as_ref()
                .is_some_and(|e| e.key == key)
        }) else {
            return;
        };
        match result {
            Ok(()) => self.landed(r, now),
            Err(error) => {
                let options = self.options;
                let slot = &mut self.slots[r.index()];
                let Some(e) = &mut slot.entry else { return };
                e.attempts += 1;
                e.state = EntryState::Pending;
                e.next_attempt = Some(now + backoff(&options, e.attempts));
                e.last_error = Some(error.clone());
                e.updated = now;
                // The next attempt is checked against a new read: the user may change the
                // resource meanwhile.
                slot.verified = false;
                tracing::warn!(resource = %r, action = %e.action, attempts = e.attempts, error = %error, "a presence write failed; retrying");
                if e.attempts.is_power_of_two() {
                    let event = match e.purpose {
                        Purpose::Restore => HistoryKind::RestoreFailed,
                        _ => HistoryKind::Failed,
                    };
                    let mut row = history(now, event);
                    row.detail = Some(format!("{}: {error}", e.action));
                    self.history.push(row);
                }
                self.journal.push(e.clone());
                self.dirty = true;
            }
        }
    }

    /// The user took `r` over (a read showed it, or they said so): automation leaves it
    /// alone — no writes, no restore — until the covering block ends.
    pub fn user_took_over(&mut self, r: Resource, now: DateTime<Utc>) {
        let block = self.block_now(now);
        let slot = &mut self.slots[r.index()];
        let Hold::Owned { written, .. } = &slot.hold else {
            return;
        };
        let session = matches!(written, Written::Action { action: Action::SetPresence { presence, .. } } if presence.mode == PresenceMode::Session);
        if let Some(mut e) = slot.entry.take() {
            e.state = EntryState::Dropped;
            e.updated = now;
            self.journal.push(e);
        }
        // When the change was made is not known, only that it was after automation last
        // saw its own value: inside a block, automation stands back until it ends (never
        // over the user).
        let at = now.max(self.latest);
        slot.hold = match block {
            _ if session => Hold::Released {
                at,
                clear_session: true,
            },
            Some(_) => Hold::Released {
                at,
                clear_session: false,
            },
            None => Hold::Free,
        };
        slot.verified = false;
        tracing::info!(resource = %r, "changed by the user; automation leaves it alone");
        let mut row = history(now, HistoryKind::StoodBack);
        row.until = Some(block.map_or(now, |(_, end)| end));
        row.detail = Some(r.as_str().to_owned());
        self.history.push(row);
        self.dirty = true;
    }

    /// The user said at `at` that they changed `r` by hand: released (see
    /// [`Driver::user_took_over`]) if automation took it before then; a request from
    /// before automation took it (an older block's) changes nothing. Whether it released.
    pub fn take_over_requested(
        &mut self,
        r: Resource,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        match &self.slots[r.index()].hold {
            Hold::Owned { since, .. } if *since <= at => {
                self.user_took_over(r, now);
                true
            }
            _ => false,
        }
    }

    /// What to store, if anything changed: before the write just handed out is sent, and
    /// after each outcome.
    pub fn take_persist(&mut self) -> Option<Persist> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        Some(Persist {
            durable: self.durable(),
            journal: std::mem::take(&mut self.journal),
            history: std::mem::take(&mut self.history),
            end_pause: self.end_pause.take(),
        })
    }

    /// The durable state as it stands.
    pub fn durable(&self) -> Durable {
        Durable {
            journal_id: self.journal_id.clone(),
            next_seq: self.next_seq,
            headline: self.headline.clone(),
            holds: std::array::from_fn(|i| self.slots[i].hold.clone()),
            open: self.slots.iter().filter_map(|s| s.entry.clone()).collect(),
        }
    }

    /// When to call [`Driver::handle_timeout`] and [`Driver::poll_op`] next: the next
    /// change of the plan, a pause's end, a retry, a read-back, a renewal. Only instants
    /// after `now`; what is due now was handed out by `poll_op` already.
    pub fn poll_timeout(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut next: Option<DateTime<Utc>> = None;
        let mut at = |t: Option<DateTime<Utc>>| {
            if let Some(t) = t.filter(|t| *t > now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        at(self.plan.next_change_after(now));
        at(self.pause.and_then(|p| p.until));
        for r in Resource::ALL {
            let slot = &self.slots[r.index()];
            at(slot.entry.as_ref().and_then(|e| e.next_attempt));
            if let Hold::Owned {
                expires: Some(exp),
                written:
                    Written::Action {
                        action: Action::SetPresence { until, .. },
                    },
                ..
            } = &slot.hold
            {
                if *exp < *until + EXPIRY_GRACE {
                    at(Some(*exp - RENEW_AHEAD));
                }
            }
        }
        for read in Read::ALL {
            at(self.reads[read.index()].retry_at);
        }
        if self.read_back_active(now) {
            let rs = &self.reads[Read::Presence.index()];
            at(rs.last_ok.map(|t| t + self.options.read_back));
        }
        next
    }

    /// Each resource: who holds it, the write under way, and what keeps failing.
    pub fn status(&self, now: DateTime<Utc>) -> Vec<ResourceStatus> {
        Resource::ALL
            .iter()
            .map(|&r| {
                let slot = &self.slots[r.index()];
                let pending = slot.entry.as_ref().map(PendingWrite::of);
                let rs = &self.reads[Read::of(r).index()];
                // A failing read holds up a write, or taking the resource.
                let waits = slot.entry.is_some()
                    || (slot.hold == Hold::Free && matches!(self.want(r, now), Want::Apply(_)));
                let read_problem = (rs.failures > 0 && waits).then(|| {
                    format!(
                        "{}: reading it failed, retrying: {}",
                        r.label(),
                        rs.last_error.as_deref().unwrap_or("?")
                    )
                });
                let failing = match &pending {
                    Some(p) if p.attempts > 0 => Some(Failing {
                        read: false,
                        failures: p.attempts,
                        error: p.error.clone(),
                    }),
                    _ => read_problem.as_ref().map(|_| Failing {
                        read: true,
                        failures: rs.failures,
                        error: rs.last_error.clone(),
                    }),
                };
                ResourceStatus {
                    resource: r,
                    held: match slot.hold {
                        Hold::Free => "yours",
                        Hold::Owned { .. } => "automated",
                        Hold::Released { .. } => "released",
                    },
                    problem: pending
                        .as_ref()
                        .and_then(|p| p.message.clone())
                        .or(read_problem),
                    failing,
                    pending,
                }
            })
            .collect()
    }

    /// The profile in force now (None: the user's own state, or paused).
    pub fn current(&self) -> Option<&ProfileInForce> {
        self.headline.as_ref()
    }

    /// When the profile in force changes next.
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.plan.next_change_after(now)
    }

    // ---- decisions ---------------------------------------------------------------------

    fn paused(&self, now: DateTime<Utc>) -> bool {
        self.pause
            .is_some_and(|p| p.until.is_none_or(|until| until > now))
    }

    /// A release at `at` lasts while `now` is in the covering block that contains `at`
    /// (as the appointments are now; a pause does not end it).
    fn release_holds(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        [now, self.latest]
            .iter()
            .any(|&t| self.plan.block_at(t).is_some_and(|(start, _)| start <= at))
    }

    /// The covering block in force at `now` (or at the latest instant seen, should the
    /// clock have been set back).
    fn block_now(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.plan.block_at(now).or(self.plan.block_at(self.latest))
    }

    fn readable(&self, r: Resource) -> bool {
        r != Resource::Forwarding || self.options.forwarding == ForwardingAccess::ReadWrite
    }

    fn need(&self, r: Resource) -> Need {
        match r {
            Resource::Presence => Need::Wanted,
            Resource::Forwarding if !self.readable(r) => Need::None,
            _ => Need::Required,
        }
    }

    fn want(&self, r: Resource, now: DateTime<Utc>) -> Want {
        if matches!(self.slots[r.index()].hold, Hold::Released { .. }) {
            return Want::HandsOff;
        }
        if self.paused(now) {
            return Want::Own;
        }
        let Some(applied) = self.plan.at(now) else {
            return Want::Own;
        };
        let Some(profile) = self.plan.profile(&applied.profile) else {
            return Want::Own;
        };
        let action = match r {
            Resource::Presence => profile.teams.map(|presence| Action::SetPresence {
                presence,
                until: applied.until,
            }),
            Resource::StatusMessage => {
                applied
                    .status_message
                    .clone()
                    .map(|message| Action::SetStatusMessage {
                        message,
                        until: applied.until,
                    })
            }
            Resource::Forwarding if self.options.forwarding != ForwardingAccess::None => profile
                .forwarding
                .clone()
                .map(|forwarding| Action::SetForwarding { forwarding }),
            Resource::AutomaticReplies if self.options.automatic_replies => profile
                .automatic_replies
                .as_ref()
                .map(|replies| Action::SetAutomaticReplies {
                    internal: replies.internal.clone(),
                    external: replies.external.clone(),
                    start: applied.since,
                    end: applied.until,
                }),
            _ => None,
        };
        action.map_or(Want::Own, Want::Apply)
    }

    /// Whether the profile of `applied` changes `r`.
    fn touches(&self, r: Resource, applied: &ProfileInForce) -> bool {
        let Some(p) = self.plan.profile(&applied.profile) else {
            return true;
        };
        match r {
            Resource::Presence => p.teams.is_some(),
            Resource::StatusMessage => applied.status_message.is_some(),
            Resource::Forwarding => p.forwarding.is_some(),
            Resource::AutomaticReplies => p.automatic_replies.is_some(),
        }
    }

    /// A read of `read`, unless it is waiting out a failure.
    fn read_op(&self, read: Read, now: DateTime<Utc>) -> Option<Op> {
        let rs = &self.reads[read.index()];
        rs.retry_at
            .is_none_or(|t| t <= now)
            .then_some(Op::Read(read))
    }

    fn op_for(&mut self, r: Resource, now: DateTime<Utc>) -> Option<Op> {
        let i = r.index();
        // No provider (any more): forwarding cannot be written, so nothing is held.
        if r == Resource::Forwarding
            && self.options.forwarding == ForwardingAccess::None
            && self.slots[i].hold != Hold::Free
        {
            self.give_back(r, now);
            return None;
        }
        // A write whose outcome was lost is checked before anything else is decided.
        let lost = self.slots[i]
            .entry
            .as_ref()
            .is_some_and(|e| e.state == EntryState::InFlight);
        if lost && self.readable(r) && matches!(self.slots[i].hold, Hold::Owned { .. }) {
            return self.read_op(Read::of(r), now);
        }
        // The app's own session under what the user picked goes (it is never theirs).
        if let Hold::Released {
            clear_session: true,
            ..
        } = self.slots[i].hold
        {
            let clear = Action::ClearPresence {
                mode: PresenceMode::Session,
                restore_to: None,
            };
            self.open_entry(r, clear, Purpose::Restore, now);
            return self.send(r, now);
        }
        let want = self.want(r, now);
        if self.slots[i].hold == Hold::Free {
            if !matches!(want, Want::Apply(_)) {
                return None;
            }
            if let Some(read) = self.take(r, now) {
                return Some(read);
            }
        }
        if matches!(want, Want::Apply(_)) {
            if let Some(read) = self.carry_over(r, now) {
                return Some(read);
            }
        }
        let Hold::Owned {
            prior,
            written,
            expires,
            since,
            ..
        } = &self.slots[i].hold
        else {
            return None;
        };
        // A value lost on a resource that cannot be read back is given back only if the
        // profile in force when automation took it changed it at all.
        let untouched = *written == Written::Unknown
            && !self.readable(r)
            && self.plan.at(*since).is_some_and(|a| !self.touches(r, a));
        let (action, purpose) = match &want {
            Want::HandsOff => return None,
            Want::Own if untouched => {
                self.give_back(r, now);
                return None;
            }
            Want::Own => match next_write(r, prior.as_ref(), written, None) {
                Some(a) => (a, Purpose::Restore),
                None => {
                    self.give_back(r, now);
                    return None;
                }
            },
            Want::Apply(target) => match next_write(r, prior.as_ref(), written, Some(target)) {
                Some(a) => {
                    let purpose = match a {
                        Action::ClearPresence { .. } => Purpose::Restore,
                        _ => Purpose::Apply,
                    };
                    (a, purpose)
                }
                None => {
                    let renew = match (target, expires) {
                        (Action::SetPresence { until, .. }, Some(exp)) => {
                            *exp < *until + EXPIRY_GRACE && *exp - RENEW_AHEAD <= now
                        }
                        _ => false,
                    };
                    if !renew {
                        self.settle(r, now);
                        return None;
                    }
                    (target.clone(), Purpose::Renew)
                }
            },
        };
        let must_verify = self.readable(r)
            && match written {
                Written::Nothing => r != Resource::Presence && prior.is_some(),
                Written::Action { .. } | Written::Unknown => true,
            };
        self.open_entry(r, action, purpose, now);
        let slot = &self.slots[i];
        let waiting = slot
            .entry
            .as_ref()
            .is_none_or(|e| e.next_attempt.is_some_and(|t| t > now));
        if waiting {
            return None;
        }
        if must_verify && !slot.verified {
            return self.read_op(Read::of(r), now);
        }
        self.send(r, now)
    }

    /// Hands out the open write of `r` (unless it waits for a retry); its intent is stored
    /// (take_persist) before the runtime sends it.
    fn send(&mut self, r: Resource, now: DateTime<Utc>) -> Option<Op> {
        let e = self.slots[r.index()].entry.as_mut()?;
        if e.next_attempt.is_some_and(|t| t > now) {
            return None;
        }
        e.state = EntryState::InFlight;
        e.updated = now;
        let op = Op::Write {
            key: e.key.clone(),
            resource: r,
            action: e.action.clone(),
            expiration: match &e.action {
                Action::SetPresence { until, .. } => Some(expiration(now, *until + EXPIRY_GRACE)),
                _ => None,
            },
        };
        self.journal.push(e.clone());
        self.dirty = true;
        Some(op)
    }

    /// Automation takes `r` (a profile wants it): with the user's value read just now
    /// where it is needed, else the read to make first.
    fn take(&mut self, r: Resource, now: DateTime<Utc>) -> Option<Op> {
        let slot = &mut self.slots[r.index()];
        let prior = match (slot.fresh.take(), self.need(r)) {
            (Some(value), _) => value,
            (None, Need::None) => None,
            (None, _) => return self.read_op(Read::of(r), now),
        };
        let slot = &mut self.slots[r.index()];
        slot.hold = Hold::Owned {
            prior,
            since: now,
            written: Written::Nothing,
            expires: None,
            covered: false,
        };
        // The read just taken is the check of the first write.
        slot.verified = true;
        self.dirty = true;
        None
    }

    /// A hold from before the covering block in force began (the block ended while
    /// Presently was not running, or the appointments moved) goes on in this block once a
    /// read shows automation's value still there (a change by hand releases it instead);
    /// else the read to make first.
    fn carry_over(&mut self, r: Resource, now: DateTime<Utc>) -> Option<Op> {
        let began = self.plan.block_at(now).map(|(start, _)| start);
        let readable = self.readable(r);
        let slot = &mut self.slots[r.index()];
        let Hold::Owned {
            since,
            written: Written::Action { .. },
            ..
        } = &mut slot.hold
        else {
            return None;
        };
        if began.is_none_or(|start| start <= *since) {
            return None;
        }
        if readable && !slot.verified {
            return self.read_op(Read::of(r), now);
        }
        *since = now;
        self.dirty = true;
        None
    }

    /// Makes sure the open write of `r` is `action`: a different one is superseded (an
    /// outcome lost on a resource that cannot be read back leaves the value unknown).
    fn open_entry(&mut self, r: Resource, action: Action, purpose: Purpose, now: DateTime<Utc>) {
        let slot = &mut self.slots[r.index()];
        if let Some(e) = &slot.entry {
            let same =
                e.action == action && (purpose != Purpose::Renew) == (e.purpose != Purpose::Renew);
            if same {
                return;
            }
        }
        if let Some(mut old) = slot.entry.take() {
            if old.state == EntryState::InFlight {
                if let Hold::Owned { written, .. } = &mut slot.hold {
                    *written = Written::Unknown;
                }
            }
            old.state = EntryState::Superseded;
            old.updated = now;
            self.journal.push(old);
        }
        let key = format!("{}-{}", self.journal_id, self.next_seq);
        self.next_seq += 1;
        let entry = Entry {
            key,
            resource: r,
            action,
            purpose,
            state: EntryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt: None,
            created: now,
            updated: now,
        };
        self.journal.push(entry.clone());
        let slot = &mut self.slots[r.index()];
        slot.entry = Some(entry);
        // A fresh read taken for the prior value is the check of the first write; any
        // later write is checked against a read taken after it was decided.
        slot.verified = matches!(
            slot.hold,
            Hold::Owned {
                written: Written::Nothing,
                ..
            }
        ) && slot.verified;
        self.dirty = true;
    }

    /// Nothing of automation's is left in `r`: it is the user's again.
    fn give_back(&mut self, r: Resource, now: DateTime<Utc>) {
        self.settle(r, now);
        self.slots[r.index()].hold = Hold::Free;
        self.dirty = true;
    }

    /// No write of `r` is needed any more: an open one is superseded.
    fn settle(&mut self, r: Resource, now: DateTime<Utc>) {
        if let Some(mut e) = self.slots[r.index()].entry.take() {
            e.state = EntryState::Superseded;
            e.updated = now;
            self.journal.push(e);
            self.dirty = true;
        }
    }

    /// The open write of `r` is on the server.
    fn landed(&mut self, r: Resource, now: DateTime<Utc>) {
        let slot = &mut self.slots[r.index()];
        let Some(mut e) = slot.entry.take() else {
            return;
        };
        let recovered = e.attempts > 0;
        e.state = EntryState::Done;
        e.updated = now;
        e.next_attempt = None;
        if let Hold::Released { clear_session, .. } = &mut slot.hold {
            *clear_session = false;
        }
        if let Hold::Owned {
            written,
            expires,
            covered,
            ..
        } = &mut slot.hold
        {
            if let Action::SetPresence { until, presence } = &e.action {
                // The expiration is measured from when it was sent (`updated` was set then).
                let sent = e.updated.min(now);
                *expires = Some(sent + expiration(sent, *until + EXPIRY_GRACE));
                *covered |= presence.mode == PresenceMode::Preferred;
            }
            *written = Written::Action {
                action: e.action.clone(),
            };
        }
        slot.verified = false;
        if recovered {
            let mut row = history(now, HistoryKind::Recovered);
            row.detail = Some(e.action.to_string());
            self.history.push(row);
        }
        self.journal.push(e);
        self.dirty = true;
    }

    fn read_back_active(&self, now: DateTime<Utc>) -> bool {
        if self.plan.block_at(now).is_none() {
            return false;
        }
        // A meeting's call is watched: the same read, made even where the profile leaves
        // the presence and the status message alone.
        if self.watch_calls && self.calls.wants_reads(now) {
            return true;
        }
        [Resource::Presence, Resource::StatusMessage]
            .iter()
            .any(|&r| {
                let slot = &self.slots[r.index()];
                slot.entry.is_none()
                    && matches!(
                        &slot.hold,
                        Hold::Owned {
                            written: Written::Action {
                                action: Action::SetPresence { .. }
                                    | Action::SetStatusMessage { .. }
                            },
                            ..
                        }
                    )
            })
    }

    fn read_back_due(&self, now: DateTime<Utc>) -> bool {
        let rs = &self.reads[Read::Presence.index()];
        self.read_back_active(now)
            && rs.retry_at.is_none_or(|t| t <= now)
            && rs.last_ok.is_none_or(|t| t + self.options.read_back <= now)
    }

    /// The meeting whose profile is in force goes to the call watch (when watching).
    fn watch_meeting(&mut self) {
        let meeting = self
            .headline
            .as_ref()
            .filter(|_| self.watch_calls)
            .and_then(|a| {
                let end = self.plan.meeting_end(&a.appointment_id)?;
                Some(Meeting {
                    appointment_id: a.appointment_id.clone(),
                    subject: a.subject_for_display.clone(),
                    end,
                })
            });
        self.calls.set_meeting(meeting);
    }

    /// The activity automation's own `setPresence` session shows (written, or about to
    /// be): seeing it in the aggregate says nothing about the user's call.
    fn own_session_activity(&self, now: DateTime<Utc>) -> Option<String> {
        let session = |a: &Action| match a {
            Action::SetPresence { presence, .. } if presence.mode == PresenceMode::Session => {
                Some(presence.activity.as_str().to_owned())
            }
            _ => None,
        };
        let slot = &self.slots[Resource::Presence.index()];
        let written = match &slot.hold {
            Hold::Owned {
                written: Written::Action { action },
                ..
            } => session(action),
            _ => None,
        };
        written
            .or_else(|| slot.entry.as_ref().and_then(|e| session(&e.action)))
            .or_else(|| match self.want(Resource::Presence, now) {
                Want::Apply(a) => session(&a),
                _ => None,
            })
    }

    /// Notes in the history the profile in force at `now`, when it changed: "applied" as
    /// a profile takes over, "restored" as the user's own state is given back.
    fn note_headline(&mut self, now: DateTime<Utc>) {
        let current = if self.paused(now) {
            None
        } else {
            self.plan.at(now).cloned()
        };
        if current == self.headline {
            return;
        }
        match (&self.headline, &current) {
            (_, Some(a)) => {
                let mut row = history(now, HistoryKind::Applied);
                row.profile = Some(a.profile.clone());
                row.appointment_id = Some(a.appointment_id.clone());
                row.subject = a.subject_for_display.clone();
                row.until = Some(a.until);
                self.history.push(row);
            }
            (Some(ended), None) => {
                let owned = |r: Resource| matches!(self.slots[r.index()].hold, Hold::Owned { .. });
                if Resource::ALL.iter().any(|&r| owned(r)) {
                    let mut row = history(now, HistoryKind::Restored);
                    if let Hold::Owned {
                        prior: Some(Value::Presence(p)),
                        ..
                    } = &self.slots[Resource::Presence.index()].hold
                    {
                        row.presence = Some(p.availability.clone());
                    }
                    if now - ended.until > Duration::minutes(1) {
                        // Presently was not running (or asleep) when the block ended.
                        row.until = Some(ended.until);
                    }
                    let mut notes = Vec::new();
                    for r in Resource::ALL {
                        if matches!(self.slots[r.index()].hold, Hold::Released { .. }) {
                            notes.push(format!("{} left as you set it", r.label().to_lowercase()));
                        }
                    }
                    row.detail = (!notes.is_empty()).then(|| notes.join("; "));
                    self.history.push(row);
                }
            }
            (None, None) => {}
        }
        self.headline = current;
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests;
