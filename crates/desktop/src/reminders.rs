//! Reminders at their time, for whichever shell shows them (the window app through its
//! notification plugin, the tray host over D-Bus): the loop that sleeps until the next one
//! is due and the text under the subject.

use presently_engine::reminders::Reminder;
use presently_engine::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest the loop sleeps without looking at the clock (tokio's timers do not count time
/// spent suspended, so a wake from sleep is noticed within this).
const MAX_SLEEP: Duration = Duration::from_secs(300);

/// The text under a reminder's subject: when, and where.
pub fn body(reminder: &Reminder, now: chrono::DateTime<chrono::Utc>) -> String {
    let when = if reminder.late {
        "already started".to_owned()
    } else {
        let minutes = (reminder.start - now).num_minutes().max(0);
        format!("in {minutes} min")
    };
    match &reminder.location {
        Some(place) => format!("{when} · {place}"),
        None => when,
    }
}

/// Shows reminders at their time until `stop`: sleeps until the next one is due (or
/// `changed`, or at most 5 minutes), asks the engine which are due (it remembers what was
/// shown, so none shows twice) and hands each to `show` with its body. Reminders turned off
/// in the settings are taken but not shown, so turning them on brings no flood of old ones.
pub async fn run<F, Shown>(engine: Arc<Engine>, changed: &Notify, stop: &Notify, mut show: F)
where
    F: FnMut(Reminder, String) -> Shown,
    Shown: std::future::Future<Output = ()>,
{
    loop {
        let next = match engine.take_due_reminders() {
            Ok((due, next)) => {
                for reminder in due {
                    if engine.config().reminders.enabled {
                        let text = body(&reminder, engine.now());
                        show(reminder, text).await;
                    }
                }
                next
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read reminders");
                None
            }
        };
        let wait = next
            .and_then(|t| (t - engine.now()).to_std().ok())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = changed.notified() => {}
            _ = stop.notified() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder(late: bool, location: Option<&str>) -> Reminder {
        Reminder {
            appointment_id: "a1".into(),
            start: "2026-11-24T09:15:00Z".parse().expect("time"),
            end: "2026-11-24T09:45:00Z".parse().expect("time"),
            due: "2026-11-24T09:00:00Z".parse().expect("time"),
            subject: "Stand-up".into(),
            location: location.map(Into::into),
            join_url: None,
            late,
        }
    }

    #[test]
    fn the_body_says_when_and_where() {
        let now = "2026-11-24T09:03:00Z".parse().expect("time");
        assert_eq!(
            body(&reminder(false, Some("Room 4")), now),
            "in 12 min · Room 4"
        );
        assert_eq!(body(&reminder(false, None), now), "in 12 min");
        assert_eq!(
            body(&reminder(true, Some("Room 4")), now),
            "already started · Room 4"
        );
    }
}
