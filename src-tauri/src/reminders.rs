//! Reminder notifications' actions: "Join" (when the meeting has a join link) and "Open"
//! buttons, and a click on the notification itself, all open the appointment through the
//! same checked path as the agenda's buttons. Where the platform shows no buttons the click
//! still opens the appointment (or joins it when it has a meeting).

use presently_engine::OpenKind;
use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::{Action, ActionPerformed, ActionType, NotificationExt};

/// The action type of a reminder for an online meeting: Join and Open.
pub const WITH_JOIN: &str = "presently-reminder-join";
/// The action type of any other reminder: Open.
pub const OPEN_ONLY: &str = "presently-reminder";
/// The notification's `extra` key holding the appointment id.
pub const APPOINTMENT: &str = "appointment";

const JOIN: &str = "join";
const OPEN: &str = "open";
/// A click on the notification itself.
const TAP: &str = "tap";

/// What a performed action asks for: which appointment, opened how.
pub fn decide(
    action_id: &str,
    appointment: Option<&str>,
    action_type: Option<&str>,
) -> Option<(String, OpenKind)> {
    let id = appointment?.to_owned();
    match action_id {
        JOIN => Some((id, OpenKind::Join)),
        OPEN => Some((id, OpenKind::Outlook)),
        // A click joins when there is a meeting to join, else opens.
        TAP if action_type == Some(WITH_JOIN) => Some((id, OpenKind::Join)),
        TAP => Some((id, OpenKind::Outlook)),
        _ => None,
    }
}

/// Registers the buttons (labelled in `lang`) and what they do.
pub fn register<R: Runtime>(
    app: &AppHandle<R>,
    lang: presently_engine::config::Lang,
) -> tauri::Result<()> {
    use presently_engine::i18n::Text;
    let notifications = app.notification();
    let register = notifications.register_action_types(vec![
        ActionType::builder(WITH_JOIN)
            .actions(vec![
                Action::builder(JOIN, Text::Join.get(lang)).build(),
                Action::builder(OPEN, Text::Open.get(lang)).build(),
            ])
            .build(),
        ActionType::builder(OPEN_ONLY)
            .actions(vec![
                Action::builder(OPEN, Text::OpenInOutlook.get(lang)).build()
            ])
            .build(),
    ]);
    if let Err(e) = register {
        tracing::warn!(error = %e, "cannot register the reminder actions");
    }
    let handle = app.clone();
    let listen = notifications.on_action(move |performed: &ActionPerformed| {
        let notification = performed.notification();
        let appointment = notification
            .and_then(|n| n.extra().get(APPOINTMENT))
            .and_then(|v| v.as_str());
        let action_type = notification.and_then(|n| n.action_type_id());
        let Some((id, kind)) = decide(performed.action_id(), appointment, action_type) else {
            return;
        };
        crate::commands::spawn_open_or_join(&handle, id, kind);
    });
    if let Err(e) = listen {
        tracing::warn!(error = %e, "cannot listen to the reminder actions");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_and_clicks_open_or_join_the_appointment() {
        assert_eq!(
            decide(JOIN, Some("a1"), Some(WITH_JOIN)),
            Some(("a1".into(), OpenKind::Join))
        );
        assert_eq!(
            decide(OPEN, Some("a1"), Some(WITH_JOIN)),
            Some(("a1".into(), OpenKind::Outlook))
        );
        assert_eq!(
            decide(TAP, Some("a1"), Some(WITH_JOIN)),
            Some(("a1".into(), OpenKind::Join))
        );
        assert_eq!(
            decide(TAP, Some("a1"), Some(OPEN_ONLY)),
            Some(("a1".into(), OpenKind::Outlook))
        );
        assert_eq!(decide("dismiss", Some("a1"), Some(WITH_JOIN)), None);
        assert_eq!(decide(JOIN, None, Some(WITH_JOIN)), None);
    }
}
