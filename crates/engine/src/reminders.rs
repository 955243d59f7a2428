//! Reminders: which appointments want a notification now, and when the next one is due.
//! Pure; the store remembers what was shown so nothing shows twice, across restarts too.

use crate::agenda::local_midnight;
use crate::model::{Appointment, ResponseStatus, When};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use std::collections::HashSet;

/// A reminder to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reminder {
    pub appointment_id: String,
    /// The occurrence's start: with the id, what makes a reminder "the same".
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub subject: String,
    pub location: Option<String>,
    pub join_url: Option<String>,
    /// Marked private, personal or confidential in Outlook: shown without its subject and
    /// place outside the window.
    pub private: bool,
    /// Its time passed while nobody could show it (asleep, not running): shown late, once.
    pub late: bool,
}

impl Reminder {
    /// The key remembered in the store.
    pub fn key(&self) -> (String, i64) {
        (self.appointment_id.clone(), self.start.timestamp())
    }
}

/// How late a reminder may be and still count as on time (the loop wakes at its instant).
const ON_TIME: Duration = Duration::seconds(60);

/// Reminders due at `now` that were not shown yet, and when the next one falls due.
/// Declined and cancelled appointments get none; one whose time passed (the machine slept)
/// is shown once, late, while the meeting is still ahead or running.
pub fn due(
    appointments: &[Appointment],
    shown: &HashSet<(String, i64)>,
    tz: Tz,
    now: DateTime<Utc>,
) -> (Vec<Reminder>, Option<DateTime<Utc>>) {
    let mut out = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for a in appointments {
        let Some(minutes) = a.reminder_minutes.filter(|_| a.reminder_on) else {
            continue;
        };
        if a.cancelled || a.response == ResponseStatus::Declined {
            continue;
        }
        let (start, end) = match a.when {
            When::Timed { start, end } => (start, end),
            When::AllDay { start, end } => (local_midnight(tz, start), local_midnight(tz, end)),
        };
        if shown.contains(&(a.id.clone(), start.timestamp())) || end <= now {
            continue;
        }
        let due = start - Duration::minutes(i64::from(minutes));
        if due > now {
            next = Some(next.map_or(due, |n| n.min(due)));
            continue;
        }
        out.push(Reminder {
            appointment_id: a.id.clone(),
            start,
            end,
            due,
            subject: a.subject.clone(),
            location: a.location.clone(),
            join_url: a.join_url.clone(),
            private: a.sensitivity.is_private(),
            late: now - due > ON_TIME,
        });
    }
    out.sort_by_key(|r| r.due);
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn appt(id: &str, start: &str, minutes: Option<u32>) -> Appointment {
        let start: DateTime<Utc> = start.parse().unwrap();
        let when = When::Timed {
            start,
            end: start + Duration::minutes(30),
        };
        Appointment {
            reminder_on: minutes.is_some(),
            reminder_minutes: minutes,
            ..Appointment::new(id, "c", when)
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_reminder_says_whether_its_appointment_is_private() {
        let mut private = appt("p", "2026-11-24T10:00:00Z", Some(15));
        private.sensitivity = Sensitivity::Confidential;
        let list = vec![private, appt("n", "2026-11-24T10:00:00Z", Some(15))];
        let (due_now, _) = due(&list, &HashSet::new(), Tz::UTC, at("2026-11-24T09:45:00Z"));
        let flags: Vec<(&str, bool)> = due_now
            .iter()
            .map(|r| (r.appointment_id.as_str(), r.private))
            .collect();
        assert!(flags.contains(&("p", true)), "{flags:?}");
        assert!(flags.contains(&("n", false)), "{flags:?}");
    }

    #[test]
    fn a_reminder_falls_due_at_its_time_and_the_next_one_is_named() {
        let list = vec![
            appt("a", "2026-11-24T10:00:00Z", Some(15)),
            appt("b", "2026-11-24T11:00:00Z", Some(5)),
            appt("off", "2026-11-24T10:00:00Z", None),
        ];
        let (due_now, next) = due(&list, &HashSet::new(), Tz::UTC, at("2026-11-24T09:40:00Z"));
        assert!(due_now.is_empty());
        assert_eq!(next, Some(at("2026-11-24T09:45:00Z")));
        let (due_now, next) = due(&list, &HashSet::new(), Tz::UTC, at("2026-11-24T09:45:00Z"));
        assert_eq!(
            due_now
                .iter()
                .map(|r| r.appointment_id.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert!(!due_now[0].late);
        assert_eq!(next, Some(at("2026-11-24T10:55:00Z")));
    }

    #[test]
    fn never_twice_for_one_occurrence_but_again_when_it_moves() {
        let list = vec![appt("a", "2026-11-24T10:00:00Z", Some(15))];
        let now = at("2026-11-24T09:46:00Z");
        let (first, _) = due(&list, &HashSet::new(), Tz::UTC, now);
        let shown: HashSet<_> = first.iter().map(Reminder::key).collect();
        assert!(due(&list, &shown, Tz::UTC, now).0.is_empty());
        let moved = vec![appt("a", "2026-11-24T10:30:00Z", Some(15))];
        assert_eq!(
            due(&moved, &shown, Tz::UTC, at("2026-11-24T10:16:00Z"))
                .0
                .len(),
            1
        );
    }

    #[test]
    fn declined_and_cancelled_get_none_and_missed_ones_show_once_late() {
        let mut declined = appt("d", "2026-11-24T10:00:00Z", Some(15));
        declined.response = ResponseStatus::Declined;
        let mut cancelled = appt("c", "2026-11-24T10:00:00Z", Some(15));
        cancelled.cancelled = true;
        let missed = appt("m", "2026-11-24T10:00:00Z", Some(15));
        let over = appt("o", "2026-11-24T08:00:00Z", Some(15));
        // Woke at 10:10: "m" is running, so it shows (late); "o" is over, so it does not.
        let (due_now, _) = due(
            &[declined, cancelled, missed, over],
            &HashSet::new(),
            Tz::UTC,
            at("2026-11-24T10:10:00Z"),
        );
        assert_eq!(due_now.len(), 1);
        assert_eq!(due_now[0].appointment_id, "m");
        assert!(due_now[0].late);
    }
}
