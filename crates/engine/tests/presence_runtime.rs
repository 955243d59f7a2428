//! Presence automation end to end: the runtime with the system clock, the engine signed in
//! to the emulator over loopback HTTP, appointments a few seconds ahead.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::config_for;
use presently_emulator::{Emulator, EmulatorConfig, PresenceCall, Seed};
use presently_engine::auth::MemoryStore;
use presently_engine::paths::Paths;
use presently_engine::presence::runtime::RuntimeOptions;
use presently_engine::{Engine, EngineSetup, SystemClock};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn engine(emu: &Emulator, dir: &std::path::Path) -> Arc<Engine> {
    engine_with(emu, dir, |_| {}).await
}

/// An engine with presence on (and whatever `tweak` changes), signed in to `emu`.
async fn engine_with(
    emu: &Emulator,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut presently_engine::config::Config),
) -> Arc<Engine> {
    let mut config = config_for(emu);
    config.features.presence = true;
    tweak(&mut config);
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock: Arc::new(SystemClock),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    Arc::new(engine)
}

/// A busy appointment starting `ahead_ms` from now (on a whole second) lasting `secs`.
fn appointment(
    emu: &Emulator,
    subject: &str,
    ahead_ms: i64,
    secs: i64,
) -> (DateTime<Utc>, DateTime<Utc>) {
    appointment_as(emu, subject, "busy", ahead_ms, secs)
}

fn appointment_as(
    emu: &Emulator,
    subject: &str,
    show_as: &str,
    ahead_ms: i64,
    secs: i64,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = (Utc::now() + Duration::milliseconds(ahead_ms))
        .duration_trunc(Duration::seconds(1))
        .unwrap()
        + Duration::seconds(1);
    let end = start + Duration::seconds(secs);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    emu.control()
        .add_event(json!({
            "subject": subject,
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": show_as,
        }))
        .unwrap();
    (start, end)
}

fn options() -> RuntimeOptions {
    RuntimeOptions {
        check_interval: std::time::Duration::from_millis(500),
        first_retry: std::time::Duration::from_millis(200),
        ..RuntimeOptions::default()
    }
}

struct Running {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

fn start(engine: &Arc<Engine>) -> Running {
    let stop = Arc::new(Notify::new());
    let task = tokio::spawn(engine.clone().run_presence_with(
        stop.clone(),
        Arc::new(Notify::new()),
        options(),
    ));
    Running { stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.notify_one();
        self.task.await.unwrap();
    }
}

async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

fn calls(emu: &Emulator, kind: &str) -> Vec<PresenceCall> {
    emu.control()
        .presence_calls()
        .into_iter()
        .filter(|c| c.kind == kind)
        .collect()
}

fn within_a_second(call: &PresenceCall, instant: DateTime<Utc>) -> bool {
    call.at >= instant && call.at - instant <= Duration::seconds(1)
}

/// The aggregate presence, as `GET /me/presence` answers.
async fn aggregate(emu: &Emulator) -> (String, String) {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1.0/me/presence", emu.base_url()))
        .bearer_auth(emu.control().issue_access_token_for_tests())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        v["availability"].as_str().unwrap().to_owned(),
        v["activity"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_appointment_switches_presence_at_its_start_and_restores_at_its_end() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path()).await;
    let (start, end) = appointment(&emu, "Weekly sync", 2000, 3);
    engine.sync_now().await.unwrap();
    let running = start_runtime(&engine);
    sleep_until(start + Duration::milliseconds(1500)).await;
    assert_eq!(aggregate(&emu).await.0, "Busy");
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;

    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "{set:?}");
    assert_eq!(set[0].status, 200, "{set:?}");
    assert_eq!(set[0].body["availability"], "Busy");
    assert!(
        within_a_second(&set[0], start),
        "set at {} for a start at {start}",
        set[0].at
    );
    let status = calls(&emu, "setStatusMessage");
    assert!(status[0].body["statusMessage"]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("In a meeting until "));
    let clear = calls(&emu, "clearUserPreferredPresence");
    assert_eq!(clear.len(), 1, "{clear:?}");
    assert!(
        within_a_second(&clear[0], end),
        "cleared at {} for an end at {end}",
        clear[0].at
    );
    // The user's state was read before automation took over.
    assert!(calls(&emu, "getPresence")[0].at <= set[0].at);
    assert_eq!(aggregate(&emu).await.0, "Available");

    let history: Vec<String> = engine
        .presence_history(10)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        history[0].ends_with("In a meeting (Weekly sync)"),
        "{history:?}"
    );
    assert!(history[1].ends_with("restored Available"), "{history:?}");
}

fn start_runtime(engine: &Arc<Engine>) -> Running {
    start(engine)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_presence_call_is_retried() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path()).await;
    let (start, end) = appointment(&emu, "Throttled", 2000, 3);
    engine.sync_now().await.unwrap();
    emu.control().fail_next_presence_calls(1, 503);
    let running = start_runtime(&engine);
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;
    let all = emu.control().presence_calls();
    assert_eq!(all[0].status, 503, "{all:?}");
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "{all:?}");
    assert_eq!(set[0].status, 200);
    // The client waited out the 503 (0.5 to 1 s) before the pre-read and the call.
    assert!(set[0].at - start <= Duration::milliseconds(2500), "{all:?}");
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_presence_call_is_retried_until_it_lands_and_shows_in_the_history() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path()).await;
    let (start, end) = appointment(&emu, "Flaky", 2000, 3);
    engine.sync_now().await.unwrap();
    // The pre-read and the first set fail with an error the client does not retry.
    emu.control().fail_next_presence_calls(2, 500);
    let running = start_runtime(&engine);
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;
    let set = calls(&emu, "setUserPreferredPresence");
    let statuses: Vec<u16> = set.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![500, 200], "{set:?}");
    assert!(set[1].at - start <= Duration::seconds(1), "{set:?}");
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    let history: Vec<String> = engine
        .presence_history(10)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        history.iter().any(|l| l.contains("failed, retrying")),
        "{history:?}"
    );
    assert!(
        history.iter().any(|l| l.ends_with("retried successfully")),
        "{history:?}"
    );
    assert!(engine.presence_status().unwrap().error.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_by_the_user_makes_automation_stand_back() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path()).await;
    let (start, end) = appointment(&emu, "Interrupted", 2000, 4);
    engine.sync_now().await.unwrap();
    let running = start_runtime(&engine);
    sleep_until(start + Duration::milliseconds(500)).await;
    assert_eq!(aggregate(&emu).await.0, "Busy");
    // The user picks "Available" in Teams (which sets their preferred presence).
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/v1.0/me/presence/setUserPreferredPresence",
            emu.base_url()
        ))
        .bearer_auth(emu.control().issue_access_token_for_tests())
        .json(&json!({"availability": "Available", "activity": "Available", "expirationDuration": "PT1H"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;
    // Automation did not restore over the user's choice.
    assert!(calls(&emu, "clearUserPreferredPresence").is_empty());
    assert_eq!(aggregate(&emu).await.0, "Available");
    let history: Vec<String> = engine
        .presence_history(10)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        history.iter().any(|l| l.contains("changed by you")),
        "{history:?}"
    );
    assert!(
        !history.iter().any(|l| l.contains("restored")),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_nothing_switches_and_resuming_applies_at_once() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path()).await;
    let (start, end) = appointment(&emu, "Paused", 1000, 4);
    engine.sync_now().await.unwrap();
    engine.presence_pause(None).unwrap();
    let running = start_runtime(&engine);
    sleep_until(start + Duration::milliseconds(1000)).await;
    assert!(calls(&emu, "setUserPreferredPresence").is_empty());
    engine.presence_resume().unwrap();
    let resumed = Utc::now();
    sleep_until(end + Duration::milliseconds(1200)).await;
    running.stop().await;
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(
        set[0].at - resumed <= Duration::milliseconds(500),
        "{set:?}"
    );
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_office_schedules_automatic_replies_and_restores_the_users_own() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    // The user already had automatic replies of their own (disabled, with a message).
    emu.control()
        .update_mailbox_settings(json!({"automaticRepliesSetting": {
            "status": "disabled",
            "internalReplyMessage": "My own internal note",
            "externalReplyMessage": "My own external note",
        }}))
        .unwrap();
    let engine = engine_with(&emu, dir.path(), |c| c.features.automatic_replies = true).await;
    let (start, end) = appointment_as(&emu, "Offsite", "oof", 2000, 3);
    engine.sync_now().await.unwrap();
    let running = start_runtime(&engine);
    sleep_until(start + Duration::milliseconds(1500)).await;
    let during = emu.control().mailbox_settings();
    assert_eq!(
        during["automaticRepliesSetting"]["status"], "scheduled",
        "{during}"
    );
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;

    let updates = calls(&emu, "updateMailboxSettings");
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert!(
        within_a_second(&updates[0], start),
        "set at {} for {start}",
        updates[0].at
    );
    assert!(
        within_a_second(&updates[1], end),
        "restored at {} for {end}",
        updates[1].at
    );
    // The user's own setting is back exactly.
    let after = emu.control().mailbox_settings();
    let replies = &after["automaticRepliesSetting"];
    assert_eq!(replies["status"], "disabled", "{after}");
    assert_eq!(replies["internalReplyMessage"], "My own internal note");
    assert_eq!(replies["externalReplyMessage"], "My own external note");
    // And presence showed Away in between (the built-in Out of office profile).
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set[0].body["availability"], "Away", "{set:?}");
}
