//! `presently run` end to end: the daemon as a child process against the emulator; an
//! appointment that starts 2 s after the first sync switches presence within 1 s of its
//! start and restores it at its end; SIGTERM stops it cleanly. The sign-in is kept in a
//! real Secret Service (scripts/test.sh runs this under dbus-run-session).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;
use chrono::{DateTime, Duration, DurationRound, Utc};
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed};
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn run_switches_presence_with_the_calendar_until_stopped() {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &emu, "[features]\npresence = true\n");
    install_browser(dir.path());
    let d = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        command(&d)
            .env("RUST_LOG", "info")
            .arg("login")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let start = (Utc::now() + Duration::seconds(3))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let end = start + Duration::seconds(3);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    emu.control()
        .add_event(serde_json::json!({
            "subject": "Daemon check",
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": "busy",
        }))
        .unwrap();
    let child = command(dir.path())
        .env("RUST_LOG", "info")
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    tokio::time::sleep(
        (end + Duration::milliseconds(1500) - Utc::now())
            .to_std()
            .unwrap(),
    )
    .await;
    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let calls = emu.control().presence_calls();
    let set: Vec<_> = calls
        .iter()
        .filter(|c| c.kind == "setUserPreferredPresence")
        .collect();
    assert_eq!(set.len(), 1, "{calls:?}\n{}", text(&out));
    assert!(
        set[0].at >= start && set[0].at - start <= Duration::seconds(1),
        "set at {} for {start}",
        set[0].at
    );
    let clear: Vec<_> = calls
        .iter()
        .filter(|c| c.kind == "clearUserPreferredPresence")
        .collect();
    assert_eq!(clear.len(), 1, "{calls:?}");
    assert!(clear[0].at >= end && clear[0].at - end <= Duration::seconds(1));

    let d = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        command(&d)
            .env("RUST_LOG", "info")
            .args(["presence", "history"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        text(&out).contains("In a meeting (Daemon check)"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("restored Available"), "{}", text(&out));
}

/// pause / resume / history need no sign-in.
#[test]
fn pause_resume_and_history_work_offline() {
    let dir = tempfile::tempdir().unwrap();
    // A configuration file named by PRESENTLY_CONFIG must exist; an empty one is the defaults.
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let run = |args: &[&str]| {
        command(dir.path())
            .env("RUST_LOG", "info")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["presence", "history"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("has not changed anything"),
        "{}",
        text(&out)
    );
    let out = run(&["presence", "pause", "--for", "1h30m"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("paused until"), "{}", text(&out));
    let out = run(&["presence", "pause", "--for", "soon"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not a duration"), "{}", text(&out));
    let out = run(&["presence", "resume"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["presence", "history", "--json"]);
    let lines: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["paused", "resumed"]);
}

/// A restore that keeps failing shows under "Pending" in `presence history`, read from the
/// journal the running automation (the app, the tray host or `presently run`) keeps.
#[test]
fn history_shows_the_restores_still_pending() {
    use presently_engine::store::{PresenceDriverSave, PresenceJournalRow, Store};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    {
        let path = presently_engine::paths::Paths::under(dir.path()).store_file();
        let mut store = Store::open(&path).unwrap();
        let entry = PresenceJournalRow {
            key: "abc-7".into(),
            resource: "forwarding".into(),
            purpose: "restore".into(),
            action: r#"{"action":"restore_forwarding","forwarding":null}"#.into(),
            state: "pending".into(),
            attempts: 3,
            last_error: Some("HTTP forwarding refused the change (HTTP 500): down".into()),
            next_attempt: Some(at("2026-11-24T10:34:00Z")),
            created: at("2026-11-24T10:30:00Z"),
            updated: at("2026-11-24T10:33:52Z"),
        };
        store
            .save_presence_driver(&PresenceDriverSave {
                next_seq: 8,
                headline: None,
                holds: &[],
                journal: std::slice::from_ref(&entry),
                open_keys: std::slice::from_ref(&entry.key),
                history: &[],
                end_pause: None,
                keep_after: at("2026-01-01T00:00:00Z"),
            })
            .unwrap();
    }
    let out = command(dir.path())
        .env("RUST_LOG", "info")
        .env("TZ", "UTC")
        .args(["presence", "history"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    assert!(printed.contains("Pending"), "{printed}");
    assert!(
        printed.contains("Forwarding still on — switching it off failed, retrying (3 tries, next"),
        "{printed}"
    );
    assert!(
        printed.contains("last error: HTTP forwarding refused"),
        "{printed}"
    );
    let out = command(dir.path())
        .env("RUST_LOG", "info")
        .args(["presence", "history", "--json"])
        .output()
        .unwrap();
    let lines: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(lines[0]["event"], "pending", "{lines}");
}
