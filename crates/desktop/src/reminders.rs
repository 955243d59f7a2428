//! Reminders at their time, for whichever shell shows them (the window app through its
//! notification plugin, the tray host over D-Bus): the loop that sleeps until the next one
//! is due and the text under the subject.

use presently_engine::config::{Lang, Privacy};
use presently_engine::i18n::Text;
use presently_engine::reminders::Reminder;
use presently_engine::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest the loop sleeps without looking at the clock (tokio's timers do not count time
/// spent suspended, so a wake from sleep is noticed within this).
const MAX_SLEEP: Duration = Duration::from_secs(300);

/// The text under a reminder's subject: when, and where (in English, an appointment
/// marked private without its place; see [`words`]).
pub fn body(reminder: &Reminder, now: chrono::DateTime<chrono::Utc>) -> String {
    words(reminder, now, Lang::En, Privacy::PrivateOnly).1
}

/// A reminder's title and the text under it in `lang`: the subject, when, and where. An
/// appointment marked private, or any in privacy mode (`privacy`), shows as "Private
/// appointment" or "Appointment" with its time and no place.
pub fn words(
    reminder: &Reminder,
    now: chrono::DateTime<chrono::Utc>,
    lang: Lang,
    privacy: Privacy,
) -> (String, String) {
    let hidden = privacy.hides(reminder.private);
    let title = if reminder.private {
        Text::PrivateAppointment.get(lang).to_owned()
    } else if hidden {
        Text::Appointment.get(lang).to_owned()
    } else {
        reminder.subject.clone()
    };
    let when = if reminder.late {
        Text::ReminderStarted.get(lang).to_owned()
    } else {
        let minutes = (reminder.start - now).num_minutes().max(0);
        Text::ReminderInMinutes.fill(lang, &[("minutes", &minutes.to_string())])
    };
    let body = match reminder.location.as_deref().filter(|_| !hidden) {
        Some(place) => Text::ReminderWhere.fill(lang, &[("when", &when), ("place", place)]),
        None => when,
    };
    (title, body)
}

/// `reminder` as a notification may show it: the title of [`words`] for its subject, no
/// place when hidden; and the body.
pub fn for_display(
    mut reminder: Reminder,
    now: chrono::DateTime<chrono::Utc>,
    lang: Lang,
    privacy: Privacy,
) -> (Reminder, String) {
    let (title, body) = words(&reminder, now, lang, privacy);
    if privacy.hides(reminder.private) {
        reminder.location = None;
    }
    reminder.subject = title;
    (reminder, body)
}

/// `text` for the body of a freedesktop notification on a server that renders markup
/// (`body-markup`: Plasma, dunst, GNOME...): `&`, `<` and `>` escaped, so that text from the
/// server (an invite's subject or `location`) shows as written and never as a link or
/// formatting. The notification's summary is plain text by the specification.
pub fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A body as the window app's notification plugin needs it: on Linux the plugin hands it
/// as it is to the freedesktop server, which renders markup ([`escape_markup`]); Windows
/// and macOS show plain text.
pub fn plugin_body(text: &str) -> String {
    if cfg!(target_os = "linux") {
        escape_markup(text)
    } else {
        text.to_owned()
    }
}

/// Shows reminders at their time until `stop`: sleeps until the next one is due (or
/// `changed`, or at most 5 minutes), asks the engine which are due (it remembers what was
/// shown, so none shows twice) and hands each to `show` with its body, worded in the app's
/// language, subject and place hidden as `app.privacy` says ([`for_display`]). Reminders
/// turned off in the settings are taken but not shown, so turning them on brings no flood
/// of old ones.
pub async fn run<F, Shown>(engine: Arc<Engine>, changed: &Notify, stop: &Notify, mut show: F)
where
    F: FnMut(Reminder, String) -> Shown,
    Shown: std::future::Future<Output = ()>,
{
    loop {
        let next = match engine.take_due_reminders() {
            Ok((due, next)) => {
                for reminder in due {
                    let config = engine.config();
                    if config.reminders.enabled {
                        let (reminder, text) = for_display(
                            reminder,
                            engine.now(),
                            config.app.language.resolve(),
                            config.app.privacy,
                        );
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
            private: false,
            late,
        }
    }

    #[test]
    fn a_private_appointment_or_privacy_mode_hides_the_subject_and_the_place() {
        let now = "2026-11-24T09:03:00Z".parse().expect("time");
        let plain = reminder(false, Some("Room 4"));
        let (shown, body) = for_display(plain.clone(), now, Lang::En, Privacy::PrivateOnly);
        assert_eq!(
            (shown.subject.as_str(), body.as_str()),
            ("Stand-up", "in 12 min · Room 4")
        );
        assert_eq!(shown.location.as_deref(), Some("Room 4"));
        let (shown, body) = for_display(plain.clone(), now, Lang::En, Privacy::All);
        assert_eq!(
            (shown.subject.as_str(), body.as_str()),
            ("Appointment", "in 12 min")
        );
        assert_eq!(shown.location, None);
        // The id and link stay: Join and Open still work.
        assert_eq!(shown.appointment_id, plain.appointment_id);
        let private = Reminder {
            private: true,
            ..plain
        };
        for privacy in [Privacy::PrivateOnly, Privacy::All] {
            let (shown, body) = for_display(private.clone(), now, Lang::En, privacy);
            assert_eq!(
                (shown.subject.as_str(), body.as_str()),
                ("Private appointment", "in 12 min")
            );
            assert_eq!(shown.location, None);
        }
    }

    #[test]
    fn reminders_speak_german_when_the_app_does() {
        let now = "2026-11-24T09:03:00Z".parse().expect("time");
        let (title, body) = words(
            &reminder(false, Some("Raum 4")),
            now,
            Lang::De,
            Privacy::PrivateOnly,
        );
        assert_eq!(
            (title.as_str(), body.as_str()),
            ("Stand-up", "in 12 Min. · Raum 4")
        );
        let (_, body) = words(&reminder(true, None), now, Lang::De, Privacy::PrivateOnly);
        assert_eq!(body, "hat schon begonnen");
        let (title, _) = words(&reminder(false, None), now, Lang::De, Privacy::All);
        assert_eq!(title, "Termin");
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

    #[test]
    fn markup_in_server_text_is_escaped_for_the_body() {
        assert_eq!(
            escape_markup("<a href=\"https://evil.example/?a=1&b=2\">Room 4</a> & <b>"),
            "&lt;a href=\"https://evil.example/?a=1&amp;b=2\"&gt;Room 4&lt;/a&gt; &amp; &lt;b&gt;"
        );
        // Already-escaped text is escaped again: it shows as the server wrote it.
        assert_eq!(escape_markup("&amp;"), "&amp;amp;");
        assert_eq!(escape_markup("in 12 min · Raum 4"), "in 12 min · Raum 4");
    }

    #[test]
    fn the_window_app_escapes_where_the_plugin_talks_to_a_freedesktop_server() {
        let text = "in 2 min · <a href=\"x\">Room</a>";
        if cfg!(target_os = "linux") {
            assert_eq!(
                plugin_body(text),
                "in 2 min · &lt;a href=\"x\"&gt;Room&lt;/a&gt;"
            );
        } else {
            assert_eq!(plugin_body(text), text);
        }
    }
}
