//! The tray host (`presently-tray`) as a desktop sees it, over a real session bus: its
//! StatusNotifierItem registers with the watcher, its D-Bus menu lists the next meetings and
//! acts when an item is clicked, its tooltip names the next meeting, a reminder arrives as a
//! notification whose Join button opens the meeting, privacy mode hides the subject, and Quit
//! ends it.
//!
//! The desktop's side is played by this test on the bus: a StatusNotifierWatcher (what a
//! panel's tray provides) and a notification server (what a desktop's notification daemon
//! provides); neither runs on this machine. Everything of Presently is real: the binaries,
//! the emulator on loopback, the keyring (gnome-keyring), the store. `xdg-open` is a script
//! on the host's PATH that records the URLs it is given. Run with scripts/test-e2e.sh.
#![allow(clippy::unwrap_used)]
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use presently_desktop::handoff;
use presently_e2e::{end_processes_using, target_dir};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};

const WAIT: Duration = Duration::from_secs(30);

/// What a panel's tray does: accepts items.
#[derive(Default, Clone)]
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String) {
        self.items.lock().unwrap().push(service);
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

#[derive(Debug, Clone)]
struct Shown {
    id: u32,
    summary: String,
    body: String,
    actions: Vec<String>,
}

/// What a desktop's notification daemon does: shows notifications, reports buttons.
#[derive(Default, Clone)]
struct NotificationServer {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        let id = u32::try_from(shown.len()).unwrap() + 1;
        shown.push(Shown {
            id,
            summary,
            body,
            actions,
        });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "test".into(),
            "presently-e2e".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

#[zbus::proxy(interface = "com.canonical.dbusmenu", default_path = "/MenuBar")]
trait DbusMenu {
    #[allow(clippy::type_complexity)]
    fn get_layout(
        &self,
        parent_id: i32,
        recursion_depth: i32,
        property_names: &[&str],
    ) -> zbus::Result<(u32, (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>))>;

    fn event(&self, id: i32, event_id: &str, data: &Value<'_>, timestamp: u32) -> zbus::Result<()>;
}

/// Width, height, ARGB32 bytes.
type Pixmap = (i32, i32, Vec<u8>);

#[zbus::proxy(
    interface = "org.kde.StatusNotifierItem",
    default_path = "/StatusNotifierItem"
)]
trait Item {
    #[zbus(property)]
    fn tool_tip(&self) -> zbus::Result<(String, Vec<Pixmap>, String, String)>;

    #[zbus(property)]
    fn icon_pixmap(&self) -> zbus::Result<Vec<Pixmap>>;
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn binary(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: cargo build -p presently-tray -p presently-cli",
        path.display()
    );
    path
}

/// The menu's clickable items by label, with the ids a panel would click (from
/// `GetLayout`, as panels read it).
async fn menu_items(menu: &DbusMenuProxy<'_>) -> HashMap<String, i32> {
    let (_revision, (_root, _props, children)) =
        menu.get_layout(0, 1, &["label", "enabled"]).await.unwrap();
    children
        .into_iter()
        .filter_map(|child| {
            let value = match Value::from(child) {
                Value::Value(inner) => *inner,
                other => other,
            };
            let mut fields = zbus::zvariant::Structure::try_from(value)
                .ok()?
                .into_fields();
            let id = i32::try_from(fields.first()?.try_clone().ok()?).ok()?;
            let props = HashMap::<String, OwnedValue>::try_from(fields.remove(1)).ok()?;
            let label = String::try_from(props.get("label")?.try_clone().ok()?).ok()?;
            let enabled = props
                .get("enabled")
                .and_then(|v| bool::try_from(v).ok())
                .unwrap_or(true);
            enabled.then_some((label, id))
        })
        .collect()
}

/// Ends the host (and anything else on the data directory) however the test ends, and
/// prints the host's log when it failed.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        end_processes_using(&self.0);
        if std::thread::panicking() {
            eprintln!("--- the host's log ---\n{}", logs(&self.0));
        }
    }
}

fn logs(data_dir: &Path) -> String {
    std::fs::read_dir(data_dir.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

fn opened(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a session bus and an unlocked keyring: run with scripts/test-e2e.sh"]
async fn the_tray_host_shows_the_next_meeting_reminds_joins_and_quits() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus (use scripts/test-e2e.sh)"
    );
    let tray_bin = binary("presently-tray");
    let cli = binary("presently");
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();

    let emulator = // The default configuration serves the demo week.
    presently_emulator::Emulator::start(Default::default())
        .await
    .expect("the emulator starts");
    let base = emulator.base_url();
    let control = emulator.control();
    // A meeting whose reminder is due now.
    let start = chrono::Utc::now() + chrono::Duration::minutes(3);
    let end = start + chrono::Duration::minutes(30);
    let join = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_tray-host-test";
    control
        .add_event(serde_json::json!({
            "subject": "Tray host check-in",
            "start": {"dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
            "end": {"dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
            "showAs": "busy",
            "isReminderOn": true,
            "reminderMinutesBeforeStart": 3,
            "isOnlineMeeting": true,
            "onlineMeetingProvider": "teamsForBusiness",
            "onlineMeeting": {"joinUrl": join}
        }))
        .expect("add the meeting");

    let config = scratch.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[microsoft]\nclient_id = \"{}\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n[features]\npresence = true\n",
            presently_emulator::DEMO_CLIENT_ID
        ),
    )
    .unwrap();
    let bin_dir = scratch.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let opened_file = scratch.path().join("opened.txt");
    let xdg_open = bin_dir.join("xdg-open");
    std::fs::write(
        &xdg_open,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened_file.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&xdg_open)
        .status()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = |command: &mut Command| {
        command
            .env("PRESENTLY_CONFIG", &config)
            .env("PRESENTLY_DATA_DIR", &data_dir)
            .env("PRESENTLY_POLICY", scratch.path().join("no-policy.toml"))
            .env("PATH", &path)
            .env_remove("PRESENTLY_DEMO");
    };

    // Signed in (the refresh token in the keyring), as after a first launch.
    let mut login = Command::new(&cli);
    env(&mut login);
    let status = login
        .args(["login", "--device", "--timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "presently login --device");

    // The desktop's side.
    let watcher = Watcher::default();
    let notifications = NotificationServer::default();
    let _watcher_conn = serve(
        "org.kde.StatusNotifierWatcher",
        "/StatusNotifierWatcher",
        watcher.clone(),
    )
    .await;
    let notify_conn = serve(
        "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications",
        notifications.clone(),
    )
    .await;

    let mut host = Command::new(&tray_bin);
    env(&mut host);
    let mut host = host
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let cleanup = Cleanup(data_dir.clone());

    let checks = async {
        let service = until("the tray registers with the watcher", async || {
            watcher.items.lock().unwrap().first().cloned()
        })
        .await;
        assert!(handoff::is_owned(&data_dir), "the host owns the work");
        let menu = DbusMenuProxy::builder(&notify_conn)
            .destination(service.clone())
            .unwrap()
            .build()
            .await
            .unwrap();
        let item = ItemProxy::builder(&notify_conn)
            .destination(service.clone())
            .unwrap()
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .unwrap();

        // After its first sync the menu lists the meeting, and the tooltip names it.
        until("the meeting in the tray menu", async || {
            menu_items(&menu)
                .await
                .into_keys()
                .find(|label| label.contains("Tray host check-in"))
        })
        .await;
        let tooltip = item.tool_tip().await.unwrap().2;
        assert!(
            tooltip.contains("Tray host check-in") && tooltip.contains("min"),
            "tooltip: {tooltip}"
        );
        let pixmaps = item.icon_pixmap().await.unwrap();
        assert!(
            pixmaps.first().is_some_and(
                |(w, h, data)| *w > 0 && data.len() == usize::try_from(w * h * 4).unwrap()
            ),
            "an ARGB icon"
        );

        // The reminder, with Join and Open; Join opens the meeting.
        let reminder = until("the reminder notification", async || {
            notifications
                .shown
                .lock()
                .unwrap()
                .iter()
                .find(|n| n.summary == "Tray host check-in")
                .cloned()
        })
        .await;
        assert!(reminder.body.contains("min"), "body: {}", reminder.body);
        assert!(
            reminder.actions.contains(&"join".to_owned())
                && reminder.actions.contains(&"open".to_owned()),
            "actions: {:?}",
            reminder.actions
        );
        let server = notify_conn
            .object_server()
            .interface::<_, NotificationServer>("/org/freedesktop/Notifications")
            .await
            .unwrap();
        NotificationServer::action_invoked(server.signal_emitter(), reminder.id, "join")
            .await
            .unwrap();
        until("xdg-open got the join link", async || {
            opened(&opened_file).iter().any(|u| u == join).then_some(())
        })
        .await;

        // The meeting's menu item joins too (ids as of now: the menu is rebuilt when the
        // model changes, and a panel reads it again each time it opens).
        let meeting = menu_items(&menu)
            .await
            .into_iter()
            // Not the presence items that name it ("Don't switch for the next meeting (…)").
            .find(|(label, _)| label.contains("Tray host check-in") && !label.contains("meeting ("))
            .expect("still in the menu");
        menu.event(meeting.1, "clicked", &Value::from(0i32), 0)
            .await
            .unwrap();
        until("the menu item joined", async || {
            (opened(&opened_file).iter().filter(|u| *u == join).count() == 2).then_some(())
        })
        .await;

        // Ctrl+Alt+J anywhere joins the meeting starting within 10 minutes.
        until("the join shortcut registered", async || {
            logs(&data_dir)
                .contains("global shortcut registered")
                .then_some(())
        })
        .await;
        presently_e2e::press_keys(&[
            presently_e2e::XK_CONTROL_L,
            presently_e2e::XK_ALT_L,
            presently_e2e::XK_J,
        ])
        .expect("press Ctrl+Alt+J");
        until("the shortcut joined", async || {
            (opened(&opened_file).iter().filter(|u| *u == join).count() == 3).then_some(())
        })
        .await;

        // Sync now reaches the server.
        let items = menu_items(&menu).await;
        let before = control.request_count();
        menu.event(items["Sync now"], "clicked", &Value::from(0i32), 0)
            .await
            .unwrap();
        until("Sync now made a request", async || {
            (control.request_count() > before).then_some(())
        })
        .await;

        // "Don't switch for the next meeting" skips it (presence automation is on): the
        // menu then offers the undo, the agenda marks it, and the undo takes it back.
        let skip = until("the skip item", async || {
            menu_items(&menu).await.into_iter().find(|(label, _)| {
                label == "Don't switch for the next meeting (Tray host check-in)"
            })
        })
        .await;
        menu.event(skip.1, "clicked", &Value::from(0i32), 0)
            .await
            .unwrap();
        let undo = until("the undo item", async || {
            menu_items(&menu).await.into_iter().find(|(label, _)| {
                label == "Switch for the next meeting again (Tray host check-in)"
            })
        })
        .await;
        let skipped = || {
            let mut agenda = Command::new(&cli);
            env(&mut agenda);
            let out = agenda.args(["agenda", "--json"]).output().unwrap();
            assert!(out.status.success(), "presently agenda --json");
            let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            items
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["subject"] == "Tray host check-in")
                .map(|i| i["skipped"] == true)
                .unwrap()
        };
        assert!(skipped(), "the agenda marks the skipped meeting");
        menu.event(undo.1, "clicked", &Value::from(0i32), 0)
            .await
            .unwrap();
        until("the skip item again", async || {
            menu_items(&menu)
                .await
                .into_keys()
                .find(|label| label.starts_with("Don't switch for the next meeting"))
        })
        .await;
        assert!(!skipped(), "unskipped");

        // Privacy mode from the menu: saved to the user's file, and the menu and tooltip
        // show "Appointment" instead of the subject; the menu turns it off again.
        let items = menu_items(&menu).await;
        menu.event(
            items["Hide subjects and places (privacy mode)"],
            "clicked",
            &Value::from(0i32),
            0,
        )
        .await
        .unwrap();
        let show_again = until("privacy mode on in the menu", async || {
            menu_items(&menu)
                .await
                .into_iter()
                .find(|(label, _)| label == "Show subjects and places again")
        })
        .await;
        let labels: Vec<String> = menu_items(&menu).await.into_keys().collect();
        assert!(
            !labels.iter().any(|l| l.contains("Tray host check-in")),
            "{labels:?}"
        );
        assert!(
            labels.iter().any(|l| l.contains("Appointment")),
            "{labels:?}"
        );
        let tooltip = item.tool_tip().await.unwrap().2;
        assert!(
            !tooltip.contains("Tray host check-in") && tooltip.contains("Appointment"),
            "tooltip: {tooltip}"
        );
        let saved = std::fs::read_to_string(&config).unwrap();
        assert!(saved.contains("privacy = \"all\""), "{saved}");
        menu.event(show_again.1, "clicked", &Value::from(0i32), 0)
            .await
            .unwrap();
        until("the subject back in the menu", async || {
            menu_items(&menu)
                .await
                .into_keys()
                .find(|label| label.contains("Tray host check-in"))
        })
        .await;

        // Quit ends the host and lets go of the work.
        let items = menu_items(&menu).await;
        menu.event(items["Quit Presently"], "clicked", &Value::from(0i32), 0)
            .await
            .unwrap();
    };
    let outcome = tokio::time::timeout(WAIT * 4, checks).await;
    let exited = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = host.try_wait() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let log = logs(&data_dir);
    drop(cleanup);
    emulator.shutdown().await;
    assert!(outcome.is_ok(), "timed out; the host's log:\n{log}");
    assert!(
        exited.is_some_and(|s| s.success()),
        "Quit did not end the host ({exited:?}); log:\n{log}"
    );
    assert!(!handoff::is_owned(&data_dir), "the lock is free after Quit");
}

/// Owns `name` on the session bus and serves `interface` at `path`.
async fn serve<I: zbus::object_server::Interface>(
    name: &'static str,
    path: &'static str,
    interface: I,
) -> zbus::Connection {
    zbus::connection::Builder::session()
        .unwrap()
        .name(name)
        .unwrap()
        .serve_at(path, interface)
        .unwrap()
        .build()
        .await
        .unwrap_or_else(|e| panic!("serve {name}: {e}"))
}
