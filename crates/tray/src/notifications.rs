//! Reminders as desktop notifications (org.freedesktop.Notifications over D-Bus), with
//! Join and Open buttons, and "Meeting over? Restore your status now" with a Restore now
//! button; a button or a click on the notification sends what it asks for to the host's
//! loop.

use presently_desktop::presence::RestoreOffer;
use presently_engine::config::Lang;
use presently_engine::i18n::Text;
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

    fn get_capabilities(&self) -> zbus::Result<Vec<String>>;

    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;
}

const JOIN: &str = "join";
const OPEN: &str = "open";
const RESTORE: &str = "restore";
/// The key of a click on the notification itself.
const DEFAULT: &str = "default";

/// The action keys and labels (flattened, as the protocol wants) for a reminder, labelled
/// in `lang`.
pub fn actions_for(reminder: &Reminder, lang: Lang) -> Vec<&'static str> {
    if reminder.join_url.is_some() {
        let (join, open) = (Text::Join.get(lang), Text::Open.get(lang));
        vec![DEFAULT, join, JOIN, join, OPEN, open]
    } else {
        let open = Text::OpenInOutlook.get(lang);
        vec![DEFAULT, open, OPEN, open]
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

/// What a button (or a click) on a shown notification asks the host for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoked {
    /// Open or join the appointment.
    Open(String, OpenKind),
    /// "Restore now" for the appointment whose meeting's call ended early.
    RestoreNow(String),
}

/// What a shown notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A reminder: the appointment and whether it has a meeting.
    Reminder(String, bool),
    /// A "Restore now" offer for the appointment.
    Offer(String),
}

/// What `action_key` on a notification about `target` asks for.
fn asked_for(target: &Target, action_key: &str) -> Option<Invoked> {
    match target {
        Target::Reminder(id, has_meeting) => {
            decide(action_key, *has_meeting).map(|kind| Invoked::Open(id.clone(), kind))
        }
        Target::Offer(id) => {
            matches!(action_key, RESTORE | DEFAULT).then(|| Invoked::RestoreNow(id.clone()))
        }
    }
}

/// The action keys and labels of a "Restore now" offer: the button, and a click.
fn offer_actions(offer: &RestoreOffer) -> Vec<&str> {
    vec![DEFAULT, &offer.action, RESTORE, &offer.action]
}

/// Shown notifications by their server id.
type Shown = Arc<Mutex<HashMap<u32, Target>>>;

/// The notification server, reached over the session bus.
#[derive(Clone)]
pub struct Notifier {
    proxy: NotificationsProxy<'static>,
    shown: Shown,
    /// The server renders markup in bodies (`body-markup`): text is escaped for it.
    body_markup: bool,
}

/// `body` as sent to a server that does (`body_markup`) or does not render markup: escaped
/// for the first (an invite's `<a href>` shows as text), as it is for the second (which
/// shows markup as text anyway; escaping would show `&amp;`).
pub fn body_for_server(body: &str, body_markup: bool) -> std::borrow::Cow<'_, str> {
    if body_markup {
        presently_desktop::reminders::escape_markup(body).into()
    } else {
        body.into()
    }
}

impl Notifier {
    /// Connects, and forwards the buttons pressed to `opens`.
    pub async fn connect(opens: UnboundedSender<Invoked>) -> zbus::Result<Self> {
        use futures_util::StreamExt;
        let connection = zbus::Connection::session().await?;
        let proxy = NotificationsProxy::new(&connection).await?;
        // Fails when no server runs nor can be started: then reminders are not taken.
        let (server, ..) = proxy.get_server_information().await?;
        // Unknown capabilities: assume markup, as every common server renders it.
        let body_markup = proxy
            .get_capabilities()
            .await
            .map(|caps| caps.iter().any(|c| c == "body-markup"))
            .unwrap_or(true);
        tracing::info!(server, body_markup, "notification server");
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
                if let Some(asked) = target.and_then(|t| asked_for(&t, &args.action_key)) {
                    let _ = opens.send(asked);
                }
            }
        });
        Ok(Self {
            proxy,
            shown,
            body_markup,
        })
    }

    /// A notification with no buttons (a restore that keeps failing), which stays until
    /// dismissed: it is about something the user may have to act on.
    pub async fn alert(&self, summary: &str, body: &str) -> zbus::Result<()> {
        let mut hints = HashMap::new();
        hints.insert("desktop-entry", zbus::zvariant::Value::from("presently"));
        // 2: critical (the server keeps it until dismissed).
        hints.insert("urgency", zbus::zvariant::Value::from(2u8));
        self.proxy
            .notify(
                "Presently",
                0,
                "",
                summary,
                &body_for_server(body, self.body_markup),
                &[],
                hints,
                0,
            )
            .await?;
        Ok(())
    }

    pub async fn show(&self, reminder: &Reminder, body: &str, lang: Lang) -> zbus::Result<()> {
        let mut hints = HashMap::new();
        hints.insert("desktop-entry", zbus::zvariant::Value::from("presently"));
        let id = self
            .proxy
            .notify(
                "Presently",
                0,
                "",
                &reminder.subject,
                &body_for_server(body, self.body_markup),
                &actions_for(reminder, lang),
                hints,
                -1,
            )
            .await?;
        self.shown.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            Target::Reminder(reminder.appointment_id.clone(), reminder.join_url.is_some()),
        );
        Ok(())
    }

    /// "Meeting over? Restore your status now" with its Restore now button (a click does
    /// the same); it stays until dismissed.
    pub async fn offer(&self, offer: &RestoreOffer) -> zbus::Result<()> {
        let mut hints = HashMap::new();
        hints.insert("desktop-entry", zbus::zvariant::Value::from("presently"));
        let id = self
            .proxy
            .notify(
                "Presently",
                0,
                "",
                &offer.summary,
                &body_for_server(&offer.body, self.body_markup),
                &offer_actions(offer),
                hints,
                0,
            )
            .await?;
        self.shown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Target::Offer(offer.appointment_id.clone()));
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
            private: false,
            late,
        }
    }

    #[test]
    fn a_meeting_gets_join_and_open_and_a_click_joins_it() {
        let meeting = reminder(true, false);
        assert_eq!(
            actions_for(&meeting, Lang::En),
            vec!["default", "Join", "join", "Join", "open", "Open"]
        );
        assert_eq!(
            actions_for(&meeting, Lang::De),
            vec![
                "default",
                "Teilnehmen",
                "join",
                "Teilnehmen",
                "open",
                "Öffnen"
            ]
        );
        assert_eq!(decide("default", true), Some(OpenKind::Join));
        assert_eq!(decide("join", true), Some(OpenKind::Join));
        assert_eq!(decide("open", true), Some(OpenKind::Outlook));
        assert_eq!(decide("dismissed", true), None);
    }

    /// A notification server on the session bus that records what it is asked to show.
    struct FakeServer {
        body_markup: Arc<std::sync::atomic::AtomicBool>,
        shown: Arc<Mutex<Vec<(String, String)>>>,
    }

    #[zbus::interface(name = "org.freedesktop.Notifications")]
    impl FakeServer {
        #[allow(clippy::too_many_arguments)]
        fn notify(
            &self,
            _app_name: &str,
            _replaces_id: u32,
            _app_icon: &str,
            summary: &str,
            body: &str,
            _actions: Vec<&str>,
            _hints: HashMap<&str, zbus::zvariant::Value<'_>>,
            _expire_timeout: i32,
        ) -> u32 {
            let mut shown = self.shown.lock().unwrap();
            shown.push((summary.to_owned(), body.to_owned()));
            shown.len() as u32
        }

        fn get_server_information(&self) -> (String, String, String, String) {
            ("fake".into(), "presently".into(), "1".into(), "1.2".into())
        }

        fn get_capabilities(&self) -> Vec<String> {
            let mut caps = vec!["actions".to_owned(), "body".to_owned()];
            if self.body_markup.load(std::sync::atomic::Ordering::SeqCst) {
                caps.push("body-markup".into());
            }
            caps
        }
    }

    /// An invite whose location carries a link: a server that renders markup gets it
    /// escaped (it shows as text), one that does not gets it as it is. Needs a session bus
    /// (`scripts/with-keyring.sh`).
    #[tokio::test]
    #[ignore = "needs a D-Bus session bus: scripts/with-keyring.sh"]
    async fn server_text_in_a_reminder_is_never_rendered_as_markup() {
        let body_markup = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let shown = Arc::new(Mutex::new(Vec::new()));
        let _server = zbus::connection::Builder::session()
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at(
                "/org/freedesktop/Notifications",
                FakeServer {
                    body_markup: body_markup.clone(),
                    shown: shown.clone(),
                },
            )
            .unwrap()
            .build()
            .await
            .unwrap();
        let mut invite = reminder(true, false);
        invite.subject = "Q3 <b>review</b>".into();
        invite.location = Some("<a href=\"https://evil.example/?a=1&b=2\">Room 4</a>".into());
        let now = "2026-11-24T09:03:00Z".parse().expect("time");
        let body = presently_desktop::reminders::body(&invite, now);
        let (opens, _) = tokio::sync::mpsc::unbounded_channel();

        let notifier = Notifier::connect(opens.clone()).await.unwrap();
        notifier.show(&invite, &body, Lang::En).await.unwrap();
        // A restore that keeps failing quotes the server's error, which is server text too.
        notifier
            .alert("Forwarding still on", "HTTP 500: <b>down</b> & out")
            .await
            .unwrap();
        body_markup.store(false, std::sync::atomic::Ordering::SeqCst);
        let plain = Notifier::connect(opens).await.unwrap();
        plain.show(&invite, &body, Lang::En).await.unwrap();

        let shown = shown.lock().unwrap().clone();
        assert_eq!(
            shown,
            vec![
                (
                    "Q3 <b>review</b>".to_owned(),
                    "in 12 min · &lt;a href=\"https://evil.example/?a=1&amp;b=2\"&gt;Room 4&lt;/a&gt;"
                        .to_owned()
                ),
                (
                    "Forwarding still on".to_owned(),
                    "HTTP 500: &lt;b&gt;down&lt;/b&gt; &amp; out".to_owned()
                ),
                (
                    "Q3 <b>review</b>".to_owned(),
                    "in 12 min · <a href=\"https://evil.example/?a=1&b=2\">Room 4</a>".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn restore_now_and_a_click_on_the_offer_restore_and_nothing_else_does() {
        let offer = RestoreOffer {
            key: "call-ended:m1".into(),
            appointment_id: "m1".into(),
            summary: "Meeting over? Restore your status now".into(),
            body: "You left the call of Design review 2 minutes ago".into(),
            action: "Restore now".into(),
        };
        assert_eq!(
            offer_actions(&offer),
            vec!["default", "Restore now", "restore", "Restore now"]
        );
        let target = Target::Offer("m1".into());
        assert_eq!(
            asked_for(&target, "restore"),
            Some(Invoked::RestoreNow("m1".into()))
        );
        assert_eq!(
            asked_for(&target, "default"),
            Some(Invoked::RestoreNow("m1".into()))
        );
        assert_eq!(asked_for(&target, "join"), None);
        // A reminder's buttons never restore.
        let reminder = Target::Reminder("a1".into(), true);
        assert_eq!(
            asked_for(&reminder, "default"),
            Some(Invoked::Open("a1".into(), OpenKind::Join))
        );
        assert_eq!(asked_for(&reminder, "restore"), None);
    }

    #[test]
    fn an_appointment_without_a_meeting_opens_in_outlook() {
        let plain = reminder(false, false);
        assert_eq!(
            actions_for(&plain, Lang::En),
            vec!["default", "Open in Outlook", "open", "Open in Outlook"]
        );
        assert_eq!(
            actions_for(&plain, Lang::De),
            vec!["default", "In Outlook öffnen", "open", "In Outlook öffnen"]
        );
        assert_eq!(decide("default", false), Some(OpenKind::Outlook));
    }
}
