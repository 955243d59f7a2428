//! "Don't switch for this one" (issue 22): the user skips an appointment — one occurrence,
//! or its whole series — and presence automation leaves presence, status message,
//! forwarding and automatic replies as they are for it. Skipping an appointment under
//! way ends what automation put in force for it now, as its end would (the runtime's next
//! plan no longer has it); the rest of a covering block still applies.

use super::Engine;
use crate::agenda::local_midnight;
use crate::error::Error;
use crate::model::Appointment;
use crate::presence::runtime::HISTORY_DAYS;
use crate::presence::scheduler::span;
use crate::store::{
    HistoryKind, PresenceHistoryRow, PresenceSkip, PresenceSkips, SkipChange, SkipScope,
};
use chrono::{DateTime, Days, Utc};
use serde::Serialize;

/// Which appointment a skip names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipTarget {
    /// The appointment automation switches for next: the one under way, else the next to
    /// begin (skipped or not, so that the same target can be unskipped).
    Next,
    /// An appointment (occurrence) by its id.
    Appointment(String),
}

impl SkipTarget {
    /// `next`, or an appointment id.
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("next") {
            SkipTarget::Next
        } else {
            SkipTarget::Appointment(text.to_owned())
        }
    }
}

/// The detail of the history line of a skip made because the meeting's call ended early.
pub const CALL_ENDED: &str = "call ended";

/// How far ahead "the next meeting" is looked for.
const NEXT_DAYS: u64 = 7;

/// The appointment automation switches for next (ignoring skips), and whether it is skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct NextSwitch {
    pub appointment_id: String,
    /// None for private, personal and confidential appointments.
    pub subject: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The profile it switches to.
    pub profile: String,
    pub series_id: Option<String>,
    pub skipped: bool,
}

/// What a skip or unskip did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipOutcome {
    pub appointment_id: String,
    pub subject: Option<String>,
    /// The scopes added (skip) or removed (unskip).
    pub scopes: Vec<SkipScope>,
    /// False when there was nothing to do (already skipped; not skipped).
    pub changed: bool,
}

impl Engine {
    /// The skips in force.
    pub fn presence_skip_set(&self) -> Result<PresenceSkips, Error> {
        Ok(PresenceSkips::new(&self.store().presence_skips()?))
    }

    /// The stored skips, oldest first.
    pub fn presence_skip_list(&self) -> Result<Vec<PresenceSkip>, Error> {
        self.store().presence_skips()
    }

    /// The appointment presence automation switches for next: under way now, else the
    /// first to begin in the next week (skips ignored; `skipped` says). None when presence
    /// automation is off or nothing is ahead.
    pub fn presence_next_switch(&self) -> Result<Option<NextSwitch>, Error> {
        if !self.config().features.presence {
            return Ok(None);
        }
        let now = self.clock.now();
        let policy = self.presence_policy()?;
        let tz = self.config().display_timezone();
        let out_of_range = || Error::InvalidInput("the date is out of range".into());
        let today = now.with_timezone(&tz).date_naive();
        let from = today
            .checked_sub_days(Days::new(2))
            .ok_or_else(out_of_range)?;
        let to = today
            .checked_add_days(Days::new(NEXT_DAYS + 1))
            .ok_or_else(out_of_range)?;
        let appointments = self.store().appointments_overlapping(
            local_midnight(tz, from),
            local_midnight(tz, to),
            from,
            to,
        )?;
        let skips = self.presence_skip_set()?;
        let next = appointments
            .iter()
            .filter_map(|a| {
                let profile = policy.profile_for(a)?;
                let (start, end) = span(a, tz);
                (start < end && end > now).then_some((start, end, a, profile))
            })
            .min_by(|x, y| (x.0, &x.2.id).cmp(&(y.0, &y.2.id)));
        Ok(next.map(|(start, end, a, profile)| NextSwitch {
            appointment_id: a.id.clone(),
            subject: (!a.sensitivity.is_private()).then(|| a.subject.clone()),
            start,
            end,
            profile: profile.name.clone(),
            series_id: a.series_master_id.clone(),
            skipped: skips.covers(a),
        }))
    }

    fn skip_target(&self, target: &SkipTarget) -> Result<Appointment, Error> {
        let id = match target {
            SkipTarget::Appointment(id) => id.clone(),
            SkipTarget::Next => {
                self.presence_next_switch()?
                    .ok_or_else(|| {
                        Error::InvalidInput(
                            "no appointment ahead that presence automation switches for".into(),
                        )
                    })?
                    .appointment_id
            }
        };
        self.store()
            .appointment(&id)?
            .ok_or_else(|| Error::InvalidInput(format!("no appointment with id {id}")))
    }

    /// Presence automation does not switch for the target appointment (with `series`, for
    /// any occurrence of its series). Kept in the store across restarts; dropped when the
    /// appointment (the series' last occurrence) is deleted. Skipping one under way gives
    /// the user's own state back now, as its end would.
    pub fn presence_skip(&self, target: &SkipTarget, series: bool) -> Result<SkipOutcome, Error> {
        let a = self.skip_target(target)?;
        self.skip_appointment(&a, series, None)
    }

    /// "Meeting ended early" (issue 22): the call of the online meeting `appointment_id`
    /// ended before the appointment, and the user said "Restore now" (or
    /// `presence.restore_when_call_ends` is `auto`). Automation gives the user's own state
    /// back now, exactly as the appointment's end would (nothing changed by hand is
    /// written over), and does not switch again for this occurrence; the history says
    /// why. An appointment that already ended changes nothing.
    pub fn presence_restore_call_ended(&self, appointment_id: &str) -> Result<SkipOutcome, Error> {
        let a = self.skip_target(&SkipTarget::Appointment(appointment_id.to_owned()))?;
        let (_, end) = span(&a, self.config().display_timezone());
        if end <= self.clock.now() {
            return Ok(SkipOutcome {
                appointment_id: a.id,
                subject: (!a.sensitivity.is_private()).then(|| a.subject.clone()),
                scopes: Vec::new(),
                changed: false,
            });
        }
        self.skip_appointment(&a, false, Some(CALL_ENDED))
    }

    fn skip_appointment(
        &self,
        a: &Appointment,
        series: bool,
        reason: Option<&str>,
    ) -> Result<SkipOutcome, Error> {
        let (scope, id) = if series {
            let master = a.series_master_id.clone().ok_or_else(|| {
                Error::InvalidInput(format!("appointment {} is not part of a series", a.id))
            })?;
            (SkipScope::Series, master)
        } else {
            (SkipScope::Occurrence, a.id.clone())
        };
        let now = self.clock.now();
        let subject = (!a.sensitivity.is_private()).then(|| a.subject.clone());
        let skip = PresenceSkip {
            scope,
            id,
            subject: subject.clone(),
            created: now,
        };
        let mut row = history_row(now, HistoryKind::Skipped, a, subject.clone(), scope);
        if let Some(reason) = reason {
            row.detail = Some(reason.to_owned());
        }
        let changed = self.store().set_presence_skip(
            SkipChange::Add(&skip),
            &row,
            now - chrono::Duration::days(HISTORY_DAYS),
        )?;
        if changed {
            crate::presence::runtime::log_history(&[row], self.config().display_timezone());
            self.presence_shared.wake.notify_one();
        }
        Ok(SkipOutcome {
            appointment_id: a.id.clone(),
            subject,
            scopes: vec![scope],
            changed,
        })
    }

    /// Takes back every skip that covers the target appointment (its own and its
    /// series'): automation switches for it again (at once, when it is under way).
    pub fn presence_unskip(&self, target: &SkipTarget) -> Result<SkipOutcome, Error> {
        let a = self.skip_target(target)?;
        let now = self.clock.now();
        let subject = (!a.sensitivity.is_private()).then(|| a.subject.clone());
        let mut scopes = Vec::new();
        let keep_after = now - chrono::Duration::days(HISTORY_DAYS);
        let mut rows = Vec::new();
        {
            let mut store = self.store();
            let series = a.series_master_id.as_deref();
            for (scope, id) in [
                (SkipScope::Occurrence, Some(a.id.as_str())),
                (SkipScope::Series, series),
            ] {
                let Some(id) = id else { continue };
                let row = history_row(now, HistoryKind::Unskipped, &a, subject.clone(), scope);
                if store.set_presence_skip(SkipChange::Remove { scope, id }, &row, keep_after)? {
                    scopes.push(scope);
                    rows.push(row);
                }
            }
        }
        let changed = !scopes.is_empty();
        if changed {
            crate::presence::runtime::log_history(&rows, self.config().display_timezone());
            self.presence_shared.wake.notify_one();
        }
        Ok(SkipOutcome {
            appointment_id: a.id,
            subject,
            scopes,
            changed,
        })
    }
}

fn history_row(
    at: DateTime<Utc>,
    event: HistoryKind,
    a: &Appointment,
    subject: Option<String>,
    scope: SkipScope,
) -> PresenceHistoryRow {
    PresenceHistoryRow {
        at,
        event,
        profile: None,
        appointment_id: Some(a.id.clone()),
        subject,
        presence: None,
        until: None,
        detail: (scope == SkipScope::Series).then(|| "series".to_owned()),
    }
}
