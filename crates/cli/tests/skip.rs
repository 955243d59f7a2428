//! `presently presence skip | unskip` against the emulator: the skip shows in the plan,
//! the agenda and the history, and survives between processes.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // the CLI runs on the wall clock

mod common;
use chrono::{Duration, Utc};
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed};
use serde_json::{json, Value};

fn json_of(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = presently(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_next_and_unskip_through_the_cli() {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::UTC,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:00").to_string();
    let start = Utc::now() + Duration::hours(2);
    let first = emu
        .control()
        .add_event(json!({
            "subject": "Board review",
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(start + Duration::minutes(30)), "timeZone": "UTC"},
            "showAs": "busy",
        }))
        .unwrap();
    let later = start + Duration::hours(2);
    emu.control()
        .add_event(json!({
            "subject": "Retro",
            "start": {"dateTime": fmt(later), "timeZone": "UTC"},
            "end": {"dateTime": fmt(later + Duration::minutes(30)), "timeZone": "UTC"},
            "showAs": "busy",
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &emu,
        "[agenda]\ntimezone = \"UTC\"\n[features]\npresence = true\n",
    );
    // Signed in and synced through the library (the CLI's own sign-in needs a keyring).
    sign_in_and_sync(
        presently_engine::paths::Paths::under(dir.path()),
        std::sync::Arc::new(presently_engine::FixedClock::new(Utc::now())),
    )
    .await;

    let out = presently(dir.path(), &["presence", "skip", "next"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!("will not switch for Board review [{first}]")),
        "{}",
        text(&out)
    );

    // The plan: the skipped one switches nothing; the later one still applies.
    let window = [
        "presence",
        "plan",
        "--to",
        &(Utc::now() + Duration::hours(6)).to_rfc3339(),
    ];
    let plan = json_of(dir.path(), &[&window[..], &["--json"]].concat());
    let kinds: Vec<(&str, &str)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap(),
                t["subject_for_display"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("skipped", "Board review"),
            ("apply", "Retro"),
            ("restore", "")
        ]
    );
    let out = presently(dir.path(), &window);
    assert!(
        stdout(&out).contains("skipped  In a meeting · Board review"),
        "{}",
        text(&out)
    );

    let agenda = json_of(dir.path(), &["agenda", "--json"]);
    let skipped: Vec<(&str, bool)> = agenda
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["subject"].as_str().unwrap(),
                i["skipped"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(skipped, vec![("Board review", true), ("Retro", false)]);

    let out = presently(dir.path(), &["presence", "history"]);
    assert!(
        stdout(&out).contains("skipped: no switching for Board review"),
        "{}",
        text(&out)
    );

    // `next` still names the skipped one (the tray's toggle), so unskip takes it back.
    let out = presently(dir.path(), &["presence", "unskip", "next"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("switches for Board review"),
        "{}",
        text(&out)
    );
    let agenda = json_of(dir.path(), &["agenda", "--json"]);
    assert_eq!(agenda[0]["skipped"], false);

    // A series skip of a single appointment and an unknown id fail, named.
    let out = presently(dir.path(), &["presence", "skip", &first, "--series"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not part of a series"),
        "{}",
        text(&out)
    );
    let out = presently(dir.path(), &["presence", "skip", "no-such-id"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no appointment with id no-such-id"),
        "{}",
        text(&out)
    );
}

/// `presently presence restore-now <id>` (issue 22, "Meeting ended early"): for the
/// appointment under way it stops switching for that occurrence with the history saying
/// why; for one that ended it changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn restore_now_through_the_cli() {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::UTC,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:00").to_string();
    let start = Utc::now() - Duration::minutes(10);
    let add = |subject: &str, start: chrono::DateTime<Utc>| {
        emu.control()
            .add_event(json!({
                "subject": subject,
                "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(start + Duration::minutes(60)), "timeZone": "UTC"},
                "showAs": "busy",
                "isOnlineMeeting": true,
                "onlineMeetingProvider": "teamsForBusiness",
            }))
            .unwrap()
    };
    let under_way = add("Design review", start);
    let ended = add("Yesterday's sync", start - Duration::hours(24));
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &emu,
        "[agenda]\ntimezone = \"UTC\"\n[features]\npresence = true\n",
    );
    sign_in_and_sync(
        presently_engine::paths::Paths::under(dir.path()),
        std::sync::Arc::new(presently_engine::FixedClock::new(Utc::now())),
    )
    .await;
    let out = presently(dir.path(), &["presence", "restore-now", &under_way]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!(
            "gives your own state back for Design review [{under_way}] now"
        )),
        "{}",
        text(&out)
    );
    let out = presently(dir.path(), &["presence", "history"]);
    assert!(
        stdout(&out)
            .contains("the call of Design review ended early: giving your own status back now"),
        "{}",
        text(&out)
    );
    let out = presently(dir.path(), &["presence", "restore-now", &ended]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("nothing to restore"),
        "{}",
        text(&out)
    );
    let out = presently(dir.path(), &["presence", "restore-now", "no-such-id"]);
    assert!(!out.status.success(), "{}", text(&out));
}
