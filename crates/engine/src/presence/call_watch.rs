//! "Meeting ended early" (issue 22): a sans-IO tracker that notices the user left the
//! online meeting of the appointment automation switched for, before the appointment ends.
//!
//! What it relies on: `GET /me/presence` answers the user's *aggregated* presence. While
//! the user is in a Teams call or meeting, their Teams client's session reports the
//! activity `InACall`, `InAConferenceCall` or `Presenting`; after they leave it goes back
//! (`Available`, `Busy`, `InAMeeting`…). The driver already reads the presence every
//! [`super::driver::DriverOptions::read_back`] while a block holds (to notice changes by
//! hand); the tracker looks at those same reads.
//!
//! Rules, per appointment occurrence (the one whose profile is in force, if it has an
//! online meeting):
//! - the user must first be *seen* in a call: an activity of [`CALL_ACTIVITIES`] that is not
//!   the one Presently's own `setPresence` session sets (a profile in session mode with
//!   `InACall` shows exactly that in the aggregate, which proves nothing about the user);
//! - then every read for [`STAY_OUT`] in a row must show no such call activity (a read that
//!   shows the call again starts over: the user rejoined);
//! - it raises once per occurrence, and only while the appointment is still running.
//!
//! Limits: a preferred presence (what the built-in profiles set) overrides the sessions in
//! Microsoft's documented aggregation, so where the service applies that precedence the
//! call activity never shows and nothing is raised (never a false "ended"). A call the user
//! is in for another reason than this meeting counts as this meeting's call.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How long the user must stay out of the call before the meeting counts as over.
pub const STAY_OUT: Duration = Duration::minutes(2);

/// The activities the Teams client reports while the user is in a call or meeting.
pub const CALL_ACTIVITIES: [&str; 3] = ["InACall", "InAConferenceCall", "Presenting"];

/// Occurrences remembered as raised (a day's worth of meetings and more).
const REMEMBER: usize = 64;

/// Whether `activity` (as Graph spells it, compared without case) is a call's.
pub fn is_call_activity(activity: &str) -> bool {
    CALL_ACTIVITIES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(activity.trim()))
}

/// The appointment with an online meeting whose profile is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    pub appointment_id: String,
    /// None for private, personal and confidential appointments.
    pub subject: Option<String>,
    /// When the appointment itself ends (not its covering block).
    pub end: DateTime<Utc>,
}

/// The user left the meeting's call and stayed out: raised once per occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct EndedEarly {
    pub appointment_id: String,
    /// None for private, personal and confidential appointments.
    pub subject: Option<String>,
    /// When the appointment was to end.
    pub end: DateTime<Utc>,
    /// The first read that showed the user out of the call.
    pub left_at: DateTime<Utc>,
    /// When it was raised.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Watch {
    meeting: Meeting,
    /// The user was seen in a call during this meeting.
    seen_in_call: bool,
    /// The first of the reads in a row that showed no call since.
    out_since: Option<DateTime<Utc>>,
}

/// The tracker (see the module's documentation).
#[derive(Debug, Clone)]
pub struct CallWatch {
    watch: Option<Watch>,
    /// The occurrences raised already, oldest first.
    raised: Vec<String>,
    /// How long the user must stay out ([`STAY_OUT`]; shorter in tests on the wall clock).
    stay_out: Duration,
}

impl Default for CallWatch {
    fn default() -> Self {
        Self {
            watch: None,
            raised: Vec::new(),
            stay_out: STAY_OUT,
        }
    }
}

impl CallWatch {
    /// How long the user must stay out of the call ([`STAY_OUT`] unless told otherwise).
    pub fn set_stay_out(&mut self, stay_out: Duration) {
        self.stay_out = stay_out;
    }

    /// The meeting whose profile is in force now (None: none, or detection is off). Another
    /// meeting than the one watched starts over.
    pub fn set_meeting(&mut self, meeting: Option<Meeting>) {
        match (&mut self.watch, meeting) {
            (Some(w), Some(m)) if w.meeting.appointment_id == m.appointment_id => {
                // Moved or renamed: the same occurrence, what was seen stands.
                w.meeting = m;
            }
            (_, m) => {
                self.watch = m.map(|meeting| Watch {
                    meeting,
                    seen_in_call: false,
                    out_since: None,
                });
            }
        }
    }

    /// Whether presence reads are wanted: a meeting is watched that has not been raised.
    pub fn wants_reads(&self, now: DateTime<Utc>) -> bool {
        self.watch.as_ref().is_some_and(|w| {
            now < w.meeting.end && !self.raised.contains(&w.meeting.appointment_id)
        })
    }

    /// A presence read at `now` showed `activity`; `own` is the activity Presently's own
    /// `setPresence` session shows, if it has one (seeing it proves nothing). Returns the
    /// event when the user has now stayed out of the call for [`STAY_OUT`] (or as set).
    pub fn observe(
        &mut self,
        now: DateTime<Utc>,
        activity: &str,
        own: Option<&str>,
    ) -> Option<EndedEarly> {
        if !self.wants_reads(now) {
            return None;
        }
        let w = self.watch.as_mut()?;
        let ours = own.is_some_and(|o| o.trim().eq_ignore_ascii_case(activity.trim()));
        if is_call_activity(activity) && !ours {
            if !w.seen_in_call {
                tracing::debug!(appointment = %w.meeting.appointment_id, %activity, "the user is in the meeting's call");
            }
            w.seen_in_call = true;
            w.out_since = None;
            return None;
        }
        if !w.seen_in_call {
            return None;
        }
        let left_at = *w.out_since.get_or_insert(now);
        if now - left_at < self.stay_out {
            return None;
        }
        let ended = EndedEarly {
            appointment_id: w.meeting.appointment_id.clone(),
            subject: w.meeting.subject.clone(),
            end: w.meeting.end,
            left_at,
            at: now,
        };
        self.raised.push(ended.appointment_id.clone());
        if self.raised.len() > REMEMBER {
            self.raised.remove(0);
        }
        tracing::info!(appointment = %ended.appointment_id, left_at = %left_at, "the meeting's call ended before the appointment");
        Some(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        format!("2026-11-24T{s}Z").parse().unwrap()
    }

    fn meeting(id: &str) -> Meeting {
        Meeting {
            appointment_id: id.into(),
            subject: Some("Design review".into()),
            end: t("11:00:00"),
        }
    }

    /// Feeds reads every 15 s from `from` to `to` (inclusive) showing `activity`; what
    /// they raised.
    fn reads(
        w: &mut CallWatch,
        from: &str,
        to: &str,
        activity: &str,
        own: Option<&str>,
    ) -> Vec<EndedEarly> {
        let (mut at, to) = (t(from), t(to));
        let mut out = Vec::new();
        while at <= to {
            out.extend(w.observe(at, activity, own));
            at += Duration::seconds(15);
        }
        out
    }

    #[test]
    fn join_leave_and_stay_out_two_minutes_raises_once() {
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m1")));
        assert!(reads(&mut w, "10:00:00", "10:20:00", "InAConferenceCall", None).is_empty());
        // Out from 10:20:15; 10:22:00 is 1 min 45 s after: not yet.
        assert!(reads(&mut w, "10:20:15", "10:22:00", "Available", None).is_empty());
        let raised = reads(&mut w, "10:22:15", "10:30:00", "Available", None);
        assert_eq!(
            raised,
            vec![EndedEarly {
                appointment_id: "m1".into(),
                subject: Some("Design review".into()),
                end: t("11:00:00"),
                left_at: t("10:20:15"),
                at: t("10:22:15"),
            }]
        );
        assert!(!w.wants_reads(t("10:30:00")), "raised: no more reads");
        // Rejoining and leaving again raises nothing more for this occurrence.
        assert!(reads(&mut w, "10:31:00", "10:32:00", "InACall", None).is_empty());
        assert!(reads(&mut w, "10:32:15", "10:40:00", "Busy", None).is_empty());
        // Nor does the same occurrence watched again.
        w.set_meeting(None);
        w.set_meeting(Some(meeting("m1")));
        assert!(reads(&mut w, "10:41:00", "10:42:00", "InACall", None).is_empty());
        assert!(reads(&mut w, "10:42:15", "10:50:00", "Available", None).is_empty());
    }

    #[test]
    fn rejoining_within_two_minutes_raises_nothing() {
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m1")));
        reads(&mut w, "10:00:00", "10:10:00", "InACall", None);
        assert!(reads(&mut w, "10:10:15", "10:12:00", "Available", None).is_empty());
        assert!(reads(&mut w, "10:12:15", "10:20:00", "Presenting", None).is_empty());
        // Out again from 10:20:15: the two minutes count from there.
        assert!(reads(&mut w, "10:20:15", "10:22:00", "Available", None).is_empty());
        assert_eq!(
            reads(&mut w, "10:22:15", "10:22:15", "Available", None)[0].left_at,
            t("10:20:15")
        );
    }

    #[test]
    fn never_joined_raises_nothing() {
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m1")));
        assert!(reads(&mut w, "10:00:00", "10:59:45", "Busy", None).is_empty());
        assert!(reads(&mut w, "10:00:00", "10:59:45", "InAMeeting", None).is_empty());
        assert!(w.wants_reads(t("10:59:45")));
        assert!(!w.wants_reads(t("11:00:00")), "the appointment ended");
    }

    #[test]
    fn the_activity_presently_sets_itself_proves_nothing() {
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m1")));
        // Presently's session shows InACall all along: never seen in the call.
        assert!(reads(&mut w, "10:00:00", "10:30:00", "InACall", Some("InACall")).is_empty());
        assert!(reads(&mut w, "10:30:15", "10:40:00", "Available", Some("InACall")).is_empty());
        // The user's own conference call does show; once they leave, Presently's InACall
        // is what shows, and that is out of the call.
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m2")));
        reads(
            &mut w,
            "10:00:00",
            "10:10:00",
            "InAConferenceCall",
            Some("inacall"),
        );
        let raised = reads(&mut w, "10:10:15", "10:13:00", "InACall", Some("InACall"));
        assert_eq!(raised.len(), 1, "{raised:?}");
        assert_eq!(raised[0].at, t("10:12:15"));
    }

    #[test]
    fn nothing_is_raised_at_or_after_the_appointments_end() {
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m1")));
        reads(&mut w, "10:50:00", "10:58:00", "InACall", None);
        // Out from 10:58:15: two minutes would be 11:00:15, after the end (which restores).
        assert!(reads(&mut w, "10:58:15", "11:05:00", "Available", None).is_empty());
    }

    #[test]
    fn another_meeting_starts_over() {
        let mut w = CallWatch::default();
        w.set_meeting(Some(meeting("m1")));
        reads(&mut w, "10:00:00", "10:10:00", "InACall", None);
        w.set_meeting(Some(meeting("m2")));
        assert!(
            reads(&mut w, "10:10:15", "10:20:00", "Available", None).is_empty(),
            "not seen in m2's call"
        );
        // The same meeting moved keeps what was seen.
        reads(&mut w, "10:20:15", "10:21:00", "InACall", None);
        let mut moved = meeting("m2");
        moved.end = t("11:30:00");
        w.set_meeting(Some(moved));
        let raised = reads(&mut w, "10:21:15", "10:24:00", "Available", None);
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].end, t("11:30:00"));
    }
}
