//! The presence scheduler: a pure state machine in the style of quinn-proto, and the plan
//! it computes. It is fed appointments ([`Scheduler::set_appointments`]) and the user's
//! state before automation ([`Scheduler::set_pre_automation_state`]); [`Scheduler::poll_timeout`]
//! says when the next transition is due and [`Scheduler::handle_timeout`] makes it. The plan
//! (`presently presence plan`, the settings preview) steps it through a window; the presence
//! driver ([`super::driver`]) reads its time line and covering blocks ([`Scheduler::timeline`],
//! [`Scheduler::blocks`]) and keeps track of each resource itself.
//!
//! What should be in force is a function of the instant alone (the appointments and rules
//! fixed): the time line is cut into segments at every start and end, and in each segment
//! the highest-priority profile among the active appointments holds. The machine only
//! remembers what it last applied, so it knows what to undo. Hence: a restore happens only
//! when no triggering appointment is active (no flapping between adjacent or overlapping
//! ones), waking up late applies the right state at once, and feeding a changed appointment
//! set takes effect at the next `handle_timeout`.

use super::profile::{AutoReplies, Forwarding, PresenceMode, Profile, TeamsPresence};
use super::{AutoRepliesSetting, Policy, Presence, UserState};
use crate::agenda::local_midnight;
use crate::model::{Appointment, When};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::fmt;

/// A profile in force, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInForce {
    pub profile: String,
    /// The appointment that holds the profile (of the active ones with this profile, the
    /// one that began first).
    pub appointment_id: String,
    /// None for private, personal and confidential appointments.
    pub subject_for_display: Option<String>,
    /// The covering block: the span this profile holds without a break (adjacent and
    /// overlapping appointments with the same profile joined).
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The rendered status message, if the profile has one.
    pub status_message: Option<String>,
}

/// The state that should be in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Desired {
    /// No automation: the user's own state, untouched.
    Idle,
    Apply(ProfileInForce),
    /// Automation ended: the state read before it took over is back.
    Restore(UserState),
}

/// One write to one of the user's resources. `restore_*` values are the pre-automation
/// state. The driver journals each with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `setPresence` (session, renewed until `until`) or `setUserPreferredPresence`
    /// (expiring at `until`).
    SetPresence {
        presence: TeamsPresence,
        until: DateTime<Utc>,
    },
    /// `clearPresence` / `clearUserPreferredPresence`: the user's own presence shows again.
    ClearPresence {
        mode: PresenceMode,
        restore_to: Option<Presence>,
    },
    SetStatusMessage {
        message: String,
        until: DateTime<Utc>,
    },
    RestoreStatusMessage {
        message: Option<String>,
    },
    SetForwarding {
        forwarding: Forwarding,
    },
    RestoreForwarding {
        forwarding: Option<Forwarding>,
    },
    /// Automatic replies scheduled for `start`..`end`.
    SetAutomaticReplies {
        internal: String,
        external: String,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    RestoreAutomaticReplies {
        setting: Option<AutoRepliesSetting>,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetPresence { presence, until } => {
                write!(f, "presence {presence} until {}", until.to_rfc3339())
            }
            Action::ClearPresence { mode, restore_to } => {
                let mode = match mode {
                    PresenceMode::Session => "session",
                    PresenceMode::Preferred => "preferred",
                };
                write!(f, "clear {mode} presence")?;
                match restore_to {
                    Some(p) => write!(f, " (back to {})", p.availability),
                    None => Ok(()),
                }
            }
            Action::SetStatusMessage { message, .. } => write!(f, "status message {message:?}"),
            Action::RestoreStatusMessage { message: Some(m) } => {
                write!(f, "status message back to {m:?}")
            }
            Action::RestoreStatusMessage { message: None } => f.write_str("clear status message"),
            Action::SetForwarding { forwarding } => write!(f, "forwarding {forwarding}"),
            Action::RestoreForwarding {
                forwarding: Some(fw),
            } => {
                write!(f, "forwarding back {fw}")
            }
            Action::RestoreForwarding { forwarding: None } => {
                f.write_str("forwarding back as it was")
            }
            Action::SetAutomaticReplies { end, .. } => {
                write!(f, "automatic replies until {}", end.to_rfc3339())
            }
            Action::RestoreAutomaticReplies { .. } => f.write_str("automatic replies back"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransitionKind {
    Apply {
        profile: String,
        appointment_id: String,
        /// None for private, personal and confidential appointments.
        subject_for_display: Option<String>,
        until: DateTime<Utc>,
    },
    /// Back to the state read before automation took over.
    Restore { state: UserState },
    /// An appointment automation would switch for, which the user skipped ("don't switch
    /// for this one"): nothing changes. Only the plan shows these; the scheduler never
    /// makes one.
    Skipped {
        profile: String,
        appointment_id: String,
        /// None for private, personal and confidential appointments.
        subject_for_display: Option<String>,
        until: DateTime<Utc>,
    },
}

/// A change of state, with the calls that make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Transition {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: TransitionKind,
    pub actions: Vec<Action>,
}

/// A triggering appointment.
#[derive(Debug, Clone)]
struct Slot {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    profile: usize,
    id: String,
    subject: Option<String>,
}

/// The span of an appointment in UTC; all-day dates are local days of `tz`.
pub fn span(a: &Appointment, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    match a.when {
        When::Timed { start, end } => (start, end),
        When::AllDay { start, end } => (local_midnight(tz, start), local_midnight(tz, end)),
    }
}

/// Joins sorted spans that overlap or touch.
fn merge(
    spans: impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The merged span containing `t` (start ≤ t < end).
fn containing(
    blocks: &[(DateTime<Utc>, DateTime<Utc>)],
    t: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let i = blocks.partition_point(|(s, _)| *s <= t);
    let b = *blocks.get(i.checked_sub(1)?)?;
    (t < b.1).then_some(b)
}

/// `{end}` in the status message: HH:MM in the display zone, with the day when the block
/// ends on a later day than it began.
pub fn format_end(since: DateTime<Utc>, until: DateTime<Utc>, tz: Tz) -> String {
    let (s, u) = (since.with_timezone(&tz), until.with_timezone(&tz));
    if s.date_naive() == u.date_naive() {
        u.format("%H:%M").to_string()
    } else {
        u.format("%a %-d %b %H:%M").to_string()
    }
}

/// What a profile changes while it holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Effect {
    teams: Option<(TeamsPresence, DateTime<Utc>)>,
    status: Option<(String, DateTime<Utc>)>,
    forwarding: Option<Forwarding>,
    replies: Option<(AutoReplies, DateTime<Utc>, DateTime<Utc>)>,
}

fn effect(profile: &Profile, applied: &ProfileInForce) -> Effect {
    Effect {
        teams: profile.teams.map(|t| (t, applied.until)),
        status: applied.status_message.clone().map(|m| (m, applied.until)),
        forwarding: profile.forwarding.clone(),
        replies: profile
            .automatic_replies
            .clone()
            .map(|r| (r, applied.since, applied.until)),
    }
}

/// The calls that take the user from `prev` (None: their own state) to `next` (None:
/// back to `pre`). Only what differs is touched.
fn diff(prev: Option<&Effect>, next: Option<&Effect>, pre: &UserState) -> Vec<Action> {
    let none = Effect::default();
    let (p, n) = (prev.unwrap_or(&none), next.unwrap_or(&none));
    let mut out = Vec::new();
    if p.teams != n.teams {
        if let Some((old, _)) = &p.teams {
            if n.teams.as_ref().is_none_or(|(new, _)| new.mode != old.mode) {
                out.push(Action::ClearPresence {
                    mode: old.mode,
                    restore_to: pre.presence.clone(),
                });
            }
        }
        if let Some((presence, until)) = n.teams {
            out.push(Action::SetPresence { presence, until });
        }
    }
    if p.status != n.status {
        out.push(match &n.status {
            Some((message, until)) => Action::SetStatusMessage {
                message: message.clone(),
                until: *until,
            },
            None => Action::RestoreStatusMessage {
                message: pre.status_message.clone(),
            },
        });
    }
    if p.forwarding != n.forwarding {
        out.push(match &n.forwarding {
            Some(forwarding) => Action::SetForwarding {
                forwarding: forwarding.clone(),
            },
            None => Action::RestoreForwarding {
                forwarding: pre.forwarding.clone(),
            },
        });
    }
    if p.replies != n.replies {
        out.push(match &n.replies {
            Some((r, start, end)) => Action::SetAutomaticReplies {
                internal: r.internal.clone(),
                external: r.external.clone(),
                start: *start,
                end: *end,
            },
            None => Action::RestoreAutomaticReplies {
                setting: pre.auto_replies.clone(),
            },
        });
    }
    out
}

/// The sans-IO presence scheduler.
#[derive(Debug, Clone)]
pub struct Scheduler {
    policy: Policy,
    tz: Tz,
    /// The state to restore for the next block (set by the runtime while idle).
    pre: UserState,
    /// The state to restore for the block in force (`pre` when it began).
    captured: UserState,
    slots: Vec<Slot>,
    /// From each instant on, the profile that should be in force (None: the user's own
    /// state); consecutive entries differ.
    timeline: Vec<(DateTime<Utc>, Option<ProfileInForce>)>,
    /// The covering blocks: the spans of triggering appointments, joined where they
    /// overlap or touch (whatever their profiles). Nothing is restored inside one.
    blocks: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    current: Desired,
    last: Option<DateTime<Utc>>,
}

impl Scheduler {
    pub fn new(policy: Policy, tz: Tz, pre: UserState) -> Self {
        Self {
            policy,
            tz,
            captured: pre.clone(),
            pre,
            slots: Vec::new(),
            timeline: Vec::new(),
            blocks: Vec::new(),
            current: Desired::Idle,
            last: None,
        }
    }

    /// Replaces the appointment set (after a sync, or a move, shortening or deletion);
    /// the change takes effect at the next [`Scheduler::handle_timeout`], which
    /// [`Scheduler::poll_timeout`] then asks for at once.
    pub fn set_appointments(&mut self, appointments: &[Appointment]) {
        let mut slots: Vec<Slot> = appointments
            .iter()
            .filter_map(|a| {
                let profile = self.policy.profile_index_for(a)?;
                let (start, end) = span(a, self.tz);
                (start < end).then(|| Slot {
                    start,
                    end,
                    profile,
                    id: a.id.clone(),
                    subject: (!a.sensitivity.is_private()).then(|| a.subject.clone()),
                })
            })
            .collect();
        slots.sort_by(|a, b| {
            (a.start, Reverse(a.end), &a.id, a.profile).cmp(&(
                b.start,
                Reverse(b.end),
                &b.id,
                b.profile,
            ))
        });
        self.slots = slots;
        self.rebuild();
    }

    /// The state read before automation takes over; used by the next block that begins
    /// (a block in force keeps restoring what was read before it).
    pub fn set_pre_automation_state(&mut self, state: UserState) {
        self.pre = state;
    }

    /// What automation last put in force.
    pub fn current(&self) -> &Desired {
        &self.current
    }

    /// From each instant on, the profile that should hold (None: the user's own state).
    pub fn timeline(&self) -> &[(DateTime<Utc>, Option<ProfileInForce>)] {
        &self.timeline
    }

    /// The covering blocks, sorted and disjoint (adjacent ones are joined).
    pub fn blocks(&self) -> &[(DateTime<Utc>, DateTime<Utc>)] {
        &self.blocks
    }

    /// What should be in force at `now` (without stepping the machine).
    pub fn desired(&self, now: DateTime<Utc>) -> Desired {
        match self.target_at(now) {
            Some(a) => Desired::Apply(a.clone()),
            None => match &self.current {
                Desired::Apply(_) => Desired::Restore(self.captured.clone()),
                Desired::Restore(s) => Desired::Restore(s.clone()),
                Desired::Idle => Desired::Idle,
            },
        }
    }

    /// When [`Scheduler::handle_timeout`] must next run: at once (an instant not after the
    /// last one handled) when the inputs changed what should be in force, else the next
    /// change; None when nothing will change.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        let Some(last) = self.last else {
            return Some(DateTime::<Utc>::MIN_UTC);
        };
        if !self.consistent(self.target_at(last)) {
            return Some(last);
        }
        let i = self.timeline.partition_point(|(t, _)| *t <= last);
        self.timeline.get(i).map(|(t, _)| *t)
    }

    /// Steps the machine to `now`: the transitions that bring the state in force to what
    /// should hold at `now` (at most one; none when nothing changes).
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) -> Vec<Transition> {
        self.last = Some(now);
        let target = self.target_at(now).cloned();
        if self.consistent(target.as_ref()) {
            return Vec::new();
        }
        let mut out = Vec::new();
        match target {
            Some(next) => {
                let prev = match &self.current {
                    Desired::Apply(cur) => self.effect_of(cur),
                    _ => {
                        self.captured = self.pre.clone();
                        None
                    }
                };
                let actions = diff(
                    prev.as_ref(),
                    self.effect_of(&next).as_ref(),
                    &self.captured,
                );
                out.push(Transition {
                    at: now,
                    kind: TransitionKind::Apply {
                        profile: next.profile.clone(),
                        appointment_id: next.appointment_id.clone(),
                        subject_for_display: next.subject_for_display.clone(),
                        until: next.until,
                    },
                    actions,
                });
                self.current = Desired::Apply(next);
            }
            None => match &self.current {
                Desired::Apply(cur) => {
                    let actions = diff(self.effect_of(cur).as_ref(), None, &self.captured);
                    out.push(Transition {
                        at: now,
                        kind: TransitionKind::Restore {
                            state: self.captured.clone(),
                        },
                        actions,
                    });
                    self.current = Desired::Restore(self.captured.clone());
                }
                _ => self.current = Desired::Idle,
            },
        }
        out
    }

    fn effect_of(&self, applied: &ProfileInForce) -> Option<Effect> {
        self.policy
            .profile(&applied.profile)
            .map(|p| effect(p, applied))
    }

    fn consistent(&self, target: Option<&ProfileInForce>) -> bool {
        match (&self.current, target) {
            (Desired::Apply(cur), Some(next)) => cur == next,
            (Desired::Idle | Desired::Restore(_), None) => true,
            _ => false,
        }
    }

    fn target_at(&self, t: DateTime<Utc>) -> Option<&ProfileInForce> {
        let i = self.timeline.partition_point(|(at, _)| *at <= t);
        self.timeline[..i].last().and_then(|(_, a)| a.as_ref())
    }

    /// Recomputes the time line and the covering blocks from the slots.
    fn rebuild(&mut self) {
        let slots = &self.slots;
        let profiles = self.policy.profiles();
        // The winner of each segment: a sweep over starts and ends, the active set ordered
        // by priority, then earliest start, latest end, id.
        let mut by_end: Vec<usize> = (0..slots.len()).collect();
        by_end.sort_by_key(|&i| slots[i].end);
        let mut bounds: Vec<DateTime<Utc>> = slots.iter().flat_map(|s| [s.start, s.end]).collect();
        bounds.sort_unstable();
        bounds.dedup();
        let priority = |i: usize| profiles.get(slots[i].profile).map_or(0, |p| p.priority);
        let mut active: BTreeSet<(Reverse<u8>, usize)> = BTreeSet::new();
        let (mut next_start, mut next_end) = (0, 0);
        let mut timeline: Vec<(DateTime<Utc>, Option<ProfileInForce>)> = Vec::new();
        // Covering blocks per profile (the span a profile's status message and automatic
        // replies name).
        let per_profile: Vec<Vec<(DateTime<Utc>, DateTime<Utc>)>> = (0..profiles.len())
            .map(|p| {
                merge(
                    slots
                        .iter()
                        .filter(|s| s.profile == p)
                        .map(|s| (s.start, s.end)),
                )
            })
            .collect();
        for &b in &bounds {
            while next_end < by_end.len() && slots[by_end[next_end]].end <= b {
                let i = by_end[next_end];
                active.remove(&(Reverse(priority(i)), i));
                next_end += 1;
            }
            while next_start < slots.len() && slots[next_start].start <= b {
                if slots[next_start].end > b {
                    active.insert((Reverse(priority(next_start)), next_start));
                }
                next_start += 1;
            }
            let target = active.first().map(|&(_, i)| {
                let slot = &slots[i];
                let (since, until) =
                    containing(&per_profile[slot.profile], b).unwrap_or((slot.start, slot.end));
                let profile = &profiles[slot.profile];
                ProfileInForce {
                    profile: profile.name.clone(),
                    appointment_id: slot.id.clone(),
                    subject_for_display: slot.subject.clone(),
                    since,
                    until,
                    status_message: profile.render_status_in(
                        &format_end(since, until, self.tz),
                        slot.subject.as_deref(),
                        self.policy.private_subject(),
                    ),
                }
            });
            let previous = timeline.last().and_then(|(_, t)| t.as_ref());
            if previous != target.as_ref() {
                timeline.push((b, target));
            }
        }
        self.blocks = merge(slots.iter().map(|s| (s.start, s.end)));
        self.timeline = timeline;
    }
}
