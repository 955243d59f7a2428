//! Reminders as desktop notifications (org.freedesktop.Notifications over D-Bus), with
//! Join and Open buttons; a button or a click on the notification sends what it asks for
//! to the host's loop.

use presently_engine::reminders::Reminder;
use presently_engine::OpenKind;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, zbus::zvariant::Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    fn get_server_information(&self) -> zbus::Result<(String, String, String, String)>;

    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;
}

const JOIN: &str = "join";
const OPEN: &str = "open";
/// The key of a click on the notification itself.
const DEFAULT: &str = "default";

/// The action keys and labels (flattened, as the protocol wants) for a reminder.
pub fn actions_for(reminder: &Reminder) -> Vec<&'static str> {
    if reminder.join_url.is_some() {
        vec![DEFAULT, "Join", JOIN, "Join", OPEN, "Open"]
    } else {
        vec![DEFAULT, "Open in Outlook", OPEN, "Open in Outlook"]
    }
}

/// What a button (or a click) asks for: joining when the meeting has a link, else opening.
pub fn decide(action_key: &str, has_meeting: bool) -> Option<OpenKind> {
    match action_key {
        JOIN => Some(OpenKind::Join),
        OPEN => Some(OpenKind::Outlook),
        DEFAULT if has_meeting => Some(OpenKind::Join),
        DEFAULT => Some(OpenKind::Outlook),
        _ => None,
    }
}

/// Shown notifications by their server id: the appointment and whether it has a meeting.
type Shown = Arc<Mutex<HashMap<u32, (String, bool)>>>;

/// The notification server, reached over the session bus.
#[derive(Clone)]
pub struct Notifier {
    proxy: NotificationsProxy<'static>,
    shown: Shown,
}

impl Notifier {
    /// Connects, and forwards the buttons pressed to `opens`.
    pub async fn connect(opens: UnboundedSender<(String, OpenKind)>) -> zbus::Result<Self> {
        use futures_util::StreamExt;
        let connection = zbus::Connection::session().await?;
        let proxy = NotificationsProxy::new(&connection).await?;
        // Fails when no server runs nor can be started: then reminders are not taken.
        let (server, ..) = proxy.get_server_information().await?;
        tracing::info!(server, "notification server");
        let shown: Shown = Arc::default();
        let mut invoked = proxy.receive_action_invoked().await?;
        let seen = shown.clone();
        tokio::spawn(async move {
            while let Some(signal) = invoked.next().await {
                let Ok(args) = signal.args() else { continue };
                let target = seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&args.id)
                    .cloned();
                let Some((appointment, has_meeting)) = target else {
                    continue;
                };
                if let Some(kind) = decide(&args.action_key, has_meeting) {
                    let _ = opens.send((appointment, kind));
                }
            }
        });
        Ok(Self { proxy, shown })
    }

    /// A notification with no buttons (a restore that keeps failing), which stays until
    /// dismissed: it is about something the user may have to act on.
    pub async fn alert(&self, summary: &str, body: &str) -> zbus::Result<()> {
        let mut hints = HashMap::new();
        hints.insert("desktop-entry", zbus::zvariant::Value::from("presently"));
        // 2: critical (the server keeps it until dismissed).
        hints.insert("urgency", zbus::zvariant::Value::from(2u8));
        self.proxy
            .notify("Presently", 0, "", summary, body, &[], hints, 0)
            .await?;
        Ok(())
    }

    pub async fn show(&self, reminder: &Reminder, body: &str) -> zbus::Result<()> {
        let mut hints = HashMap::new();
        hints.insert("desktop-entry", zbus::zvariant::Value::from("presently"));
        let id = self
            .proxy
            .notify(
                "Presently",
                0,
                "",
                &reminder.subject,
                body,
                &actions_for(reminder),
                hints,
                -1,
            )
            .await?;
        self.shown.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            (reminder.appointment_id.clone(), reminder.join_url.is_some()),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder(join: bool, late: bool) -> Reminder {
        let start = "2026-11-24T09:15:00Z".parse().expect("time");
        Reminder {
            appointment_id: "a1".into(),
            start,
            end: "2026-11-24T09:45:00Z".parse().expect("time"),
            due: "2026-11-24T09:00:00Z".parse().expect("time"),
            subject: "Stand-up".into(),
            location: Some("Room 4".into()),
            join_url: join.then(|| "https://teams.microsoft.com/l/meetup-join/x".into()),
            late,
        }
    }

    #[test]
    fn a_meeting_gets_join_and_open_and_a_click_joins_it() {
        let meeting = reminder(true, false);
        assert_eq!(
            actions_for(&meeting),
            vec!["default", "Join", "join", "Join", "open", "Open"]
        );
        assert_eq!(decide("default", true), Some(OpenKind::Join));
        assert_eq!(decide("join", true), Some(OpenKind::Join));
        assert_eq!(decide("open", true), Some(OpenKind::Outlook));
        assert_eq!(decide("dismissed", true), None);
    }

    #[test]
    fn an_appointment_without_a_meeting_opens_in_outlook() {
        let plain = reminder(false, false);
        assert_eq!(
            actions_for(&plain),
            vec!["default", "Open in Outlook", "open", "Open in Outlook"]
        );
        assert_eq!(decide("default", false), Some(OpenKind::Outlook));
    }
}
