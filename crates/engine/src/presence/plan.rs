//! The plan: the scheduler stepped through a window, transition by transition, as
//! `presently presence plan` and the settings preview show it; and the history entries
//! the runtime will keep of applied transitions.

use super::scheduler::{span, Scheduler, Transition, TransitionKind};
use super::{Policy, UserState};
use crate::model::Appointment;
use crate::store::PresenceSkips;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// A transition the scheduler would make, with its instant in the display zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PlannedTransition {
    /// RFC 3339 in the display zone.
    pub local: String,
    #[serde(flatten)]
    pub transition: Transition,
}

/// The transitions over `from..to` (`from` included: an appointment already under way
/// applies at `from`; `to` excluded), with `pre` as the state to restore.
pub fn plan(
    appointments: &[Appointment],
    policy: &Policy,
    tz: Tz,
    pre: &UserState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<PlannedTransition> {
    plan_skipping(
        appointments,
        &PresenceSkips::default(),
        policy,
        tz,
        pre,
        from,
        to,
    )
}

/// [`plan`] with the user's skips: a skipped appointment switches nothing (as if it were
/// not there) and shows as a [`TransitionKind::Skipped`] line at its start (at `from`
/// when under way), after the transitions of the same instant.
pub fn plan_skipping(
    appointments: &[Appointment],
    skips: &PresenceSkips,
    policy: &Policy,
    tz: Tz,
    pre: &UserState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<PlannedTransition> {
    let (skipped, kept): (Vec<&Appointment>, Vec<&Appointment>) =
        appointments.iter().partition(|a| skips.covers(a));
    let kept: Vec<Appointment> = kept.into_iter().cloned().collect();
    let mut scheduler = Scheduler::new(policy.clone(), tz, pre.clone());
    scheduler.set_appointments(&kept);
    let mut out: Vec<Transition> = Vec::new();
    if from < to {
        out.extend(scheduler.handle_timeout(from));
        let mut last = from;
        while let Some(at) = scheduler.poll_timeout() {
            if at >= to || at <= last {
                break;
            }
            out.extend(scheduler.handle_timeout(at));
            last = at;
        }
    }
    if from < to {
        for a in skipped {
            let Some(profile) = policy.profile_for(a) else {
                continue;
            };
            let (start, end) = span(a, tz);
            if start >= end || end <= from || start >= to {
                continue;
            }
            out.push(Transition {
                at: start.max(from),
                kind: TransitionKind::Skipped {
                    profile: profile.name.clone(),
                    appointment_id: a.id.clone(),
                    subject_for_display: (!a.sensitivity.is_private()).then(|| a.subject.clone()),
                    until: end,
                },
                actions: Vec::new(),
            });
        }
        // Stable: a skipped line comes after the transitions of its instant.
        out.sort_by_key(|t| t.at);
    }
    out.into_iter()
        .map(|transition| PlannedTransition {
            local: transition.at.with_timezone(&tz).to_rfc3339(),
            transition,
        })
        .collect()
}

/// One line of the presence history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: HistoryEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HistoryEvent {
    Applied {
        profile: String,
        subject: Option<String>,
    },
    Restored {
        presence: Option<String>,
    },
    /// A change by the user made automation stand back (history before per-resource
    /// holds; now one resource at a time, see `runtime::HistoryLine`).
    StoodBack {
        until: DateTime<Utc>,
    },
    /// The user skipped the appointment: automation did not switch for it.
    Skipped {
        subject: Option<String>,
    },
}

impl HistoryEntry {
    pub fn from_transition(t: &Transition) -> Self {
        let event = match &t.kind {
            TransitionKind::Apply {
                profile,
                subject_for_display,
                ..
            } => HistoryEvent::Applied {
                profile: profile.clone(),
                subject: subject_for_display.clone(),
            },
            TransitionKind::Restore { state } => HistoryEvent::Restored {
                presence: state.presence.as_ref().map(|p| p.availability.clone()),
            },
            TransitionKind::Skipped {
                subject_for_display,
                ..
            } => HistoryEvent::Skipped {
                subject: subject_for_display.clone(),
            },
        };
        Self { at: t.at, event }
    }

    /// "10:00 In a meeting (Weekly sync)", "10:30 restored Available".
    pub fn display(&self, tz: Tz) -> String {
        let time = self.at.with_timezone(&tz).format("%H:%M");
        match &self.event {
            HistoryEvent::Applied {
                profile,
                subject: Some(subject),
            } => format!("{time} {profile} ({subject})"),
            HistoryEvent::Applied {
                profile,
                subject: None,
            } => format!("{time} {profile}"),
            HistoryEvent::Restored {
                presence: Some(presence),
            } => format!("{time} restored {presence}"),
            HistoryEvent::Restored { presence: None } => format!("{time} restored"),
            HistoryEvent::Skipped {
                subject: Some(subject),
            } => format!("{time} skipped ({subject})"),
            HistoryEvent::Skipped { subject: None } => format!("{time} skipped"),
            HistoryEvent::StoodBack { until } => format!(
                "{time} changed by you; automation stands back until {}",
                until.with_timezone(&tz).format("%H:%M")
            ),
        }
    }
}
