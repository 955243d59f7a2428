//! The desktop shells' presence follower against the real presence runtime and the
//! emulator: a restore that keeps failing (the HTTP forwarding endpoint answers 500) wakes
//! the shell's redraw at each change and is notified once, at its third failure; a
//! restarted shell (a hand-over between the app and the tray host) does not notify it again.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, DurationRound, Utc};
use presently_desktop::presence::{follow, RestoreAlert};
use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::presence::forwarding::{
    ForwardingConfig, HttpConfig, HttpRequestConfig, MemorySecrets, ProviderKind,
};
use presently_engine::presence::runtime::RuntimeOptions;
use presently_engine::{Engine, EngineSetup, SystemClock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

fn config(emu: &Emulator) -> Config {
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emu.base_url();
    config.microsoft.graph_endpoint = emu.base_url();
    config.features.presence = true;
    let sink = emu.sink_url();
    let request = |method: &str| HttpRequestConfig {
        method: method.into(),
        url: format!("{sink}/forward/{{extension}}"),
        headers: BTreeMap::new(),
        body: None,
    };
    config.presence.forwarding = ForwardingConfig {
        provider: ProviderKind::Http,
        timeout_secs: 5,
        http: Some(HttpConfig {
            extension: "1001".into(),
            voicemail: "voicemail".into(),
            on: request("PUT"),
            off: request("DELETE"),
        }),
        ..ForwardingConfig::default()
    };
    config
}

async fn wait_until(what: &str, deadline: DateTime<Utc>, mut done: impl FnMut() -> bool) {
    while !done() {
        assert!(Utc::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_that_keeps_failing_is_notified_once_at_its_third_failure() {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir.path()),
            config: config(&emu),
            clock: Arc::new(SystemClock),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.set_forwarding_secrets(Arc::new(MemorySecrets::default()));
    engine.sign_in_to_emulator().await.unwrap();
    let engine = Arc::new(engine);
    let start = Utc::now().duration_trunc(Duration::seconds(1)).unwrap() + Duration::seconds(2);
    let end = start + Duration::seconds(1);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    emu.control()
        .add_event(serde_json::json!({
            "subject": "Off site",
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": "oof",
        }))
        .unwrap();
    engine.sync_now().await.unwrap();

    // The shell's follower: counts redraws, collects notifications.
    let redraws = Arc::new(AtomicUsize::new(0));
    let shown: Arc<Mutex<Vec<RestoreAlert>>> = Arc::default();
    let follower = |stop: Arc<Notify>| {
        let (engine, redraws, shown) = (engine.clone(), redraws.clone(), shown.clone());
        tokio::spawn(async move {
            follow(
                engine,
                &stop,
                || {
                    redraws.fetch_add(1, Ordering::SeqCst);
                },
                |alert| {
                    shown.lock().unwrap().push(alert);
                    std::future::ready(())
                },
                |_offer| std::future::ready(()),
            )
            .await
        })
    };
    let follow_stop = Arc::new(Notify::new());
    let following = follower(follow_stop.clone());
    let stop = Arc::new(Notify::new());
    // Retries 100 ms, 200 ms, then 400 ms apart.
    let options = RuntimeOptions {
        first_retry: std::time::Duration::from_millis(100),
        max_retry: std::time::Duration::from_millis(400),
        ..RuntimeOptions::default()
    };
    let running = tokio::spawn(engine.clone().run_presence_with(
        stop.clone(),
        Arc::new(Notify::new()),
        options,
    ));
    wait_until("forwarding on", start + Duration::seconds(3), || {
        emu.control()
            .sink_requests()
            .iter()
            .any(|r| r.method == "PUT")
    })
    .await;
    // The forwarding fake hears the write before the runtime publishes its status: the
    // redraw follows shortly after, not necessarily before.
    wait_until(
        "the shell redraws as automation applies",
        start + Duration::seconds(4),
        || redraws.load(Ordering::SeqCst) > 0,
    )
    .await;
    let before = redraws.load(Ordering::SeqCst);
    emu.control().set_sink_status(500);
    let failures = || {
        emu.control()
            .sink_requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.status == 500)
            .count()
    };
    wait_until("five failed restores", end + Duration::seconds(5), || {
        failures() >= 5
    })
    .await;
    // Give the follower a moment to see the last change.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let alerts = shown.lock().unwrap().clone();
    assert_eq!(alerts.len(), 1, "once, not at every retry: {alerts:?}");
    assert_eq!(alerts[0].summary, "Forwarding not given back yet");
    assert!(
        alerts[0]
            .body
            .starts_with("Forwarding still on — switching it off failed, retrying (3 tries so far"),
        "{}",
        alerts[0].body
    );
    assert!(
        redraws.load(Ordering::SeqCst) > before,
        "each failure redraws"
    );
    let status = engine.presence_status().unwrap();
    assert!(status.error.is_some());

    // The shell restarts (a hand-over): the same restore is not notified again.
    follow_stop.notify_one();
    following.await.unwrap();
    let follow_stop = Arc::new(Notify::new());
    let following = follower(follow_stop.clone());
    let seen = failures();
    wait_until(
        "two more failures",
        Utc::now() + Duration::seconds(10),
        || failures() >= seen + 2,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        shown.lock().unwrap().len(),
        1,
        "remembered across a restart"
    );

    // It lands: the problem goes, and nothing more is notified.
    emu.control().set_sink_status(200);
    wait_until(
        "the restore to land",
        Utc::now() + Duration::seconds(15),
        || engine.presence_pending().unwrap().is_empty(),
    )
    .await;
    stop.notify_one();
    running.await.unwrap();
    follow_stop.notify_one();
    following.await.unwrap();
    assert_eq!(shown.lock().unwrap().len(), 1);
    assert!(
        engine.presence_alerted().unwrap().is_empty(),
        "forgotten once it landed"
    );
}
