//! Reminder notifications' actions: "Join" (when the meeting has a join link) and "Open"
//! buttons, and a click on the notification itself, all open the appointment through the
//! same checked path as the agenda's buttons. Where the platform shows no buttons the click
//! still opens the appointment (or joins it when it has a meeting).
//!
//! "Meeting over? Restore your status now" (a meeting's call ended early) has a "Restore
//! now" button; it, or a click, gives the user's own status back now.

use presently_engine::OpenKind;
use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::{Action, ActionPerformed, ActionType, NotificationExt};

/// The action type of a reminder for an online meeting: Join and Open.
pub const WITH_JOIN: &str = "presently-reminder-join";
/// The action type of any other reminder: Open.
pub const OPEN_ONLY: &str = "presently-reminder";
/// The action type of the "Meeting over? Restore your status now" offer: Restore now.
pub const RESTORE_NOW: &str = "presently-restore-now";
/// The notification's `extra` key holding the appointment id.
pub const APPOINTMENT: &str = "appointment";

const JOIN: &str = "join";
const OPEN: &str = "open";
const RESTORE: &str = "restore";
/// A click on the notification itself.
const TAP: &str = "tap";

/// Whether a performed action is "Restore now" on an offer: the appointment to restore for.
pub fn restore_asked(
    action_id: &str,
    appointment: Option<&str>,
    action_type: Option<&str>,
) -> Option<String> {
    (action_type == Some(RESTORE_NOW) && matches!(action_id, RESTORE | TAP))
        .then(|| appointment.map(str::to_owned))
        .flatten()
}

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
        ActionType::builder(RESTORE_NOW)
            .actions(vec![
                Action::builder(RESTORE, Text::RestoreNow.get(lang)).build()
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
        if action_type == Some(RESTORE_NOW) {
            if let Some(id) = restore_asked(performed.action_id(), appointment, action_type) {
                spawn_restore_now(&handle, id);
            }
            return;
        }
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

/// "Restore now": the engine gives the user's own state back for the appointment now.
fn spawn_restore_now<R: Runtime>(app: &AppHandle<R>, id: String) {
    use tauri::Manager;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<crate::state::Shell>();
        match shell.engine() {
            Ok(engine) => {
                presently_desktop::presence::restore_now(engine, &id);
            }
            Err(e) => tracing::warn!(message = %e.message, "cannot restore now: no engine"),
        }
    });
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

    #[test]
    fn restore_now_and_a_click_on_the_offer_restore_and_nothing_else_does() {
        assert_eq!(
            restore_asked(RESTORE, Some("m1"), Some(RESTORE_NOW)),
            Some("m1".into())
        );
        assert_eq!(
            restore_asked(TAP, Some("m1"), Some(RESTORE_NOW)),
            Some("m1".into())
        );
        assert_eq!(
            restore_asked("dismiss", Some("m1"), Some(RESTORE_NOW)),
            None
        );
        assert_eq!(restore_asked(RESTORE, None, Some(RESTORE_NOW)), None);
        // A reminder's click never restores.
        assert_eq!(restore_asked(TAP, Some("a1"), Some(WITH_JOIN)), None);
    }
}
