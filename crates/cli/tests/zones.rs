//! The display zone comes from `TZ` when the configuration names none: `presently agenda`
//! (table and JSON) and `presently presence plan` run as real processes with only `TZ`
//! set, over appointments the emulator serves, in a zone west of UTC, one east of it, and
//! one whose clocks go back inside the window (Europe/Berlin, Sunday 25 October 2026).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

/// Runs `presently` with `TZ` = `tz` (the only place the zone can come from: the
/// configuration names none) and `TZDIR` unset.
fn presently_in(dir: &Path, tz: &str, args: &[&str]) -> Output {
    command(dir)
        .args(args)
        .env("TZ", tz)
        .env_remove("TZDIR")
        .output()
        .expect("run presently")
}

/// Standard output of a run that must succeed.
fn stdout_ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    stdout(out)
}

fn utc(at: &str) -> Value {
    json!({ "dateTime": at, "timeZone": "UTC" })
}

/// The emulator's mailbox: instants in UTC, so only the display zone decides how they show.
fn add_events(emu: &Emulator) {
    let ctl = emu.control();
    for event in [
        // Friday evening in Los Angeles, Saturday morning in Tokyo and Berlin.
        json!({ "subject": "Late call", "start": utc("2026-10-23T23:30:00"), "end": utc("2026-10-24T00:30:00") }),
        // Berlin: midnight to 01:00 on the change day, still summer time (+02:00).
        json!({ "subject": "Before the change", "start": utc("2026-10-24T22:00:00"), "end": utc("2026-10-24T23:00:00") }),
        // Berlin: 02:30 summer time to 02:30 winter time, across 03:00 → 02:00.
        json!({ "subject": "Across the change", "start": utc("2026-10-25T00:30:00"), "end": utc("2026-10-25T01:30:00") }),
        // Berlin: 10:00 winter time (+01:00).
        json!({ "subject": "After the change", "start": utc("2026-10-25T09:00:00"), "end": utc("2026-10-25T10:00:00") }),
        // All-day: midnight to midnight of its own dates, in every zone.
        json!({
            "subject": "Change day",
            "isAllDay": true,
            "showAs": "free",
            "start": { "dateTime": "2026-10-25T00:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2026-10-26T00:00:00", "timeZone": "Europe/Berlin" },
        }),
        json!({
            "subject": "Away",
            "isAllDay": true,
            "showAs": "oof",
            "start": { "dateTime": "2026-10-27T00:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2026-10-28T00:00:00", "timeZone": "Europe/Berlin" },
        }),
    ] {
        ctl.add_event(event).unwrap();
    }
}

/// A store synced from the emulator, with a configuration that names no zone.
async fn synced() -> (Emulator, tempfile::TempDir) {
    let emu = Emulator::start(EmulatorConfig {
        today: "2026-10-24".parse().unwrap(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    add_events(&emu);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &emu, "");
    {
        use presently_engine::auth::MemoryStore;
        use presently_engine::{config::Config, paths::Paths, Engine, EngineSetup, FixedClock};
        let engine = Engine::open_with_credentials(
            EngineSetup {
                paths: Paths::under(dir.path()),
                config: Config::load(&dir.path().join("config.toml")).unwrap(),
                clock: std::sync::Arc::new(FixedClock::new(
                    "2026-10-24T12:00:00Z".parse().unwrap(),
                )),
                demo: false,
            },
            std::sync::Arc::new(MemoryStore::default()),
        )
        .unwrap();
        engine.sign_in_to_emulator().await.unwrap();
        engine.sync(Default::default()).await.unwrap();
    }
    (emu, dir)
}

/// `presently agenda --json` over the days around the change: subject → (start, end).
fn agenda_json(dir: &Path, tz: &str) -> Vec<(String, String, String)> {
    let out = presently_in(
        dir,
        tz,
        &["agenda", "--from", "2026-10-23", "--days", "6", "--json"],
    );
    let items: Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["subject"].as_str().unwrap().to_owned(),
                i["start"].as_str().unwrap().to_owned(),
                i["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The agenda table as (day header, lines under it).
fn agenda_days(dir: &Path, tz: &str) -> Vec<(String, Vec<String>)> {
    let out = presently_in(dir, tz, &["agenda", "--from", "2026-10-23", "--days", "6"]);
    let mut days: Vec<(String, Vec<String>)> = Vec::new();
    for line in stdout_ok(&out).lines() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            days.last_mut().unwrap().1.push(line.trim().to_owned());
        } else {
            days.push((line.to_owned(), Vec::new()));
        }
    }
    days
}

/// The day header a subject appears under, and its line.
fn day_of(days: &[(String, Vec<String>)], subject: &str) -> Vec<(String, String)> {
    days.iter()
        .flat_map(|(day, lines)| {
            lines
                .iter()
                .filter(|l| l.contains(subject))
                .map(move |l| (day.clone(), l.clone()))
        })
        .collect()
}

fn expect_json(got: &[(String, String, String)], expected: &[(&str, &str, &str)]) {
    let got: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|(s, a, b)| (s.as_str(), a.as_str(), b.as_str()))
        .collect();
    assert_eq!(got, expected);
}

const BERLIN: &[(&str, &str, &str)] = &[
    (
        "Late call",
        "2026-10-24T01:30:00+02:00",
        "2026-10-24T02:30:00+02:00",
    ),
    ("Change day", "2026-10-25", "2026-10-26"),
    (
        "Before the change",
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T01:00:00+02:00",
    ),
    (
        "Across the change",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
    ),
    (
        "After the change",
        "2026-10-25T10:00:00+01:00",
        "2026-10-25T11:00:00+01:00",
    ),
    ("Away", "2026-10-27", "2026-10-28"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_agenda_follows_tz_west_east_and_across_a_dst_change() {
    let (_emu, dir) = synced().await;
    let dir = dir.path();

    // West of UTC: the late call is on Friday, the rest on Saturday and Sunday morning
    // (Los Angeles keeps summer time until 1 November).
    let west = [
        (
            "Late call",
            "2026-10-23T16:30:00-07:00",
            "2026-10-23T17:30:00-07:00",
        ),
        (
            "Before the change",
            "2026-10-24T15:00:00-07:00",
            "2026-10-24T16:00:00-07:00",
        ),
        (
            "Across the change",
            "2026-10-24T17:30:00-07:00",
            "2026-10-24T18:30:00-07:00",
        ),
        ("Change day", "2026-10-25", "2026-10-26"),
        (
            "After the change",
            "2026-10-25T02:00:00-07:00",
            "2026-10-25T03:00:00-07:00",
        ),
        ("Away", "2026-10-27", "2026-10-28"),
    ];
    for tz in ["America/Los_Angeles", ":America/Los_Angeles"] {
        expect_json(&agenda_json(dir, tz), &west);
    }
    let days = agenda_days(dir, "America/Los_Angeles");
    assert_eq!(
        day_of(&days, "Late call"),
        [("Friday 2026-10-23".into(), "16:30–17:30  Late call".into())],
        "{days:#?}"
    );
    assert_eq!(
        day_of(&days, "Across the change"),
        [(
            "Saturday 2026-10-24".into(),
            "17:30–18:30  Across the change".into()
        )]
    );

    // East of UTC: Saturday morning and Sunday.
    let east = [
        (
            "Late call",
            "2026-10-24T08:30:00+09:00",
            "2026-10-24T09:30:00+09:00",
        ),
        ("Change day", "2026-10-25", "2026-10-26"),
        (
            "Before the change",
            "2026-10-25T07:00:00+09:00",
            "2026-10-25T08:00:00+09:00",
        ),
        (
            "Across the change",
            "2026-10-25T09:30:00+09:00",
            "2026-10-25T10:30:00+09:00",
        ),
        (
            "After the change",
            "2026-10-25T18:00:00+09:00",
            "2026-10-25T19:00:00+09:00",
        ),
        ("Away", "2026-10-27", "2026-10-28"),
    ];
    for tz in ["Asia/Tokyo", ":/usr/share/zoneinfo/Asia/Tokyo", "JST-9"] {
        expect_json(&agenda_json(dir, tz), &east);
    }
    // A zone file copied out of the zoneinfo tree (as containers copy /etc/localtime):
    // read, and shown in the IANA zone with its rules.
    if let Ok(data) = std::fs::read("/usr/share/zoneinfo/Asia/Tokyo") {
        let copy = dir.join("my-zone");
        std::fs::write(&copy, data).unwrap();
        expect_json(&agenda_json(dir, copy.to_str().unwrap()), &east);
    }
    let days = agenda_days(dir, "Asia/Tokyo");
    assert_eq!(
        day_of(&days, "Late call"),
        [(
            "Saturday 2026-10-24".into(),
            "08:30–09:30  Late call".into()
        )],
        "{days:#?}"
    );

    // Across the change: offsets +02:00 before it and +01:00 after, the appointment that
    // spans it from 02:30 to 02:30; the same from the name, a zoneinfo path and the POSIX rule.
    for tz in [
        "Europe/Berlin",
        "/usr/share/zoneinfo/Europe/Berlin",
        "CET-1CEST,M3.5.0,M10.5.0/3",
    ] {
        expect_json(&agenda_json(dir, tz), BERLIN);
    }
    let days = agenda_days(dir, "CET-1CEST,M3.5.0,M10.5.0/3");
    assert_eq!(
        day_of(&days, "Late call"),
        [(
            "Saturday 2026-10-24".into(),
            "01:30–02:30  Late call".into()
        )],
        "{days:#?}"
    );
    let sunday: Vec<String> = days
        .iter()
        .find(|(day, _)| day == "Sunday 2026-10-25")
        .unwrap()
        .1
        .clone();
    assert_eq!(sunday.len(), 4, "{sunday:#?}");
    assert!(sunday[0].contains("Change day"), "{sunday:#?}");
    assert!(sunday[1].starts_with("00:00–01:00"), "{sunday:#?}");
    assert!(sunday[2].starts_with("02:30–02:30"), "{sunday:#?}");
    assert!(sunday[3].starts_with("10:00–11:00"), "{sunday:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn all_day_appointments_keep_their_dates_in_every_zone() {
    let (_emu, dir) = synced().await;
    // Per zone: what else falls on the change day (Sunday 25 October) beside the all-day
    // appointment, and the offset of local midnight when the all-day absence begins.
    for (tz, sunday, midnight) in [
        ("America/Los_Angeles", &["After the change"][..], "-07:00"),
        ("Pacific/Honolulu", &[][..], "-10:00"),
        (
            "Asia/Tokyo",
            &["Before the change", "Across the change", "After the change"][..],
            "+09:00",
        ),
        (
            "Pacific/Kiritimati",
            &["Before the change", "Across the change", "After the change"][..],
            "+14:00",
        ),
        (
            "Europe/Berlin",
            &["Before the change", "Across the change", "After the change"][..],
            "+01:00",
        ),
    ] {
        let days = agenda_days(dir.path(), tz);
        let change_day = day_of(&days, "Change day");
        assert_eq!(change_day.len(), 1, "{tz}: {days:#?}");
        assert_eq!(change_day[0].0, "Sunday 2026-10-25", "{tz}");
        assert!(
            change_day[0].1.starts_with("all day"),
            "{tz}: {change_day:?}"
        );
        let on_sunday: Vec<&str> = days
            .iter()
            .find(|(day, _)| day == "Sunday 2026-10-25")
            .unwrap()
            .1
            .iter()
            .skip(1)
            .map(|l| l.split("  ").nth(1).unwrap())
            .collect();
        assert_eq!(on_sunday, sunday, "{tz}: {days:#?}");
        let away = day_of(&days, "Away");
        assert_eq!(away.len(), 1, "{tz}: {days:#?}");
        assert_eq!(away[0].0, "Tuesday 2026-10-27", "{tz}");
        // The JSON says the same dates, never instants.
        let json = agenda_json(dir.path(), tz);
        assert!(
            json.contains(&(
                "Change day".into(),
                "2026-10-25".into(),
                "2026-10-26".into()
            )),
            "{tz}: {json:?}"
        );
        // Presence holds the absence from local midnight to local midnight of its date.
        let (steps, _) = plan(dir.path(), tz);
        let n = steps.len();
        assert_eq!(
            steps[n - 2..],
            pairs(&[
                (&format!("2026-10-27T00:00:00{midnight}"), "apply"),
                (&format!("2026-10-28T00:00:00{midnight}"), "restore"),
            ]),
            "{tz}: {steps:#?}"
        );
    }
}

/// The plan over the window, as (local instant, kind, subject) and the status messages.
fn plan(dir: &Path, tz: &str) -> (Vec<(String, String)>, Vec<String>) {
    let out = presently_in(
        dir,
        tz,
        &[
            "presence",
            "plan",
            "--from",
            "2026-10-23T00:00:00Z",
            "--to",
            "2026-10-29T00:00:00Z",
            "--json",
        ],
    );
    let plan: Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    let steps = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["local"].as_str().unwrap().to_owned(),
                t["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let text = stdout_ok(&presently_in(
        dir,
        tz,
        &[
            "presence",
            "plan",
            "--from",
            "2026-10-23T00:00:00Z",
            "--to",
            "2026-10-29T00:00:00Z",
        ],
    ));
    let messages = text
        .lines()
        .filter_map(|l| l.split("status message \"").nth(1))
        .map(|m| m.trim_end_matches('"').to_owned())
        .collect();
    (steps, messages)
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_presence_plan_follows_tz() {
    let (_emu, dir) = synced().await;
    let dir = dir.path();

    let (steps, messages) = plan(dir, "America/Los_Angeles");
    assert_eq!(
        steps,
        pairs(&[
            ("2026-10-23T16:30:00-07:00", "apply"),
            ("2026-10-23T17:30:00-07:00", "restore"),
            ("2026-10-24T15:00:00-07:00", "apply"),
            ("2026-10-24T16:00:00-07:00", "restore"),
            ("2026-10-24T17:30:00-07:00", "apply"),
            ("2026-10-24T18:30:00-07:00", "restore"),
            ("2026-10-25T02:00:00-07:00", "apply"),
            ("2026-10-25T03:00:00-07:00", "restore"),
            // The all-day absence: midnight to midnight of its own date, here.
            ("2026-10-27T00:00:00-07:00", "apply"),
            ("2026-10-28T00:00:00-07:00", "restore"),
        ])
    );
    assert!(
        messages.contains(&"In a meeting until 17:30".to_owned()),
        "{messages:#?}"
    );

    let (steps, messages) = plan(dir, "Asia/Tokyo");
    assert_eq!(
        steps[0],
        ("2026-10-24T08:30:00+09:00".into(), "apply".into())
    );
    assert_eq!(
        &steps[8..],
        pairs(&[
            ("2026-10-27T00:00:00+09:00", "apply"),
            ("2026-10-28T00:00:00+09:00", "restore"),
        ])
    );
    assert!(
        messages.contains(&"In a meeting until 09:30".to_owned()),
        "{messages:#?}"
    );

    // Across the change: {end} of the appointment that spans it is 02:30 winter time.
    for tz in ["Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"] {
        let (steps, messages) = plan(dir, tz);
        assert_eq!(
            steps,
            pairs(&[
                ("2026-10-24T01:30:00+02:00", "apply"),
                ("2026-10-24T02:30:00+02:00", "restore"),
                ("2026-10-25T00:00:00+02:00", "apply"),
                ("2026-10-25T01:00:00+02:00", "restore"),
                ("2026-10-25T02:30:00+02:00", "apply"),
                ("2026-10-25T02:30:00+01:00", "restore"),
                ("2026-10-25T10:00:00+01:00", "apply"),
                ("2026-10-25T11:00:00+01:00", "restore"),
                ("2026-10-27T00:00:00+01:00", "apply"),
                ("2026-10-28T00:00:00+01:00", "restore"),
            ]),
            "{tz}"
        );
        assert!(
            messages.contains(&"In a meeting until 02:30".to_owned())
                && messages.contains(&"In a meeting until 11:00".to_owned()),
            "{tz}: {messages:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_tz_is_named_in_a_warning_and_the_system_zone_is_used() {
    let (_emu, dir) = synced().await;
    let out = presently_in(
        dir.path(),
        "Mars/Olympus_Mons",
        &["agenda", "--from", "2026-10-23", "--days", "1"],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Mars/Olympus_Mons"), "{stderr}");
    assert_eq!(stderr.matches("WARN").count(), 1, "{stderr}");
    // A configured zone wins over TZ, without a word.
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "{}\n[agenda]\ntimezone = \"Asia/Tokyo\"\n",
            std::fs::read_to_string(dir.path().join("config.toml")).unwrap()
        ),
    )
    .unwrap();
    let out = presently_in(
        dir.path(),
        "America/Los_Angeles",
        &["agenda", "--from", "2026-10-23", "--days", "6", "--json"],
    );
    assert!(stdout_ok(&out).contains("2026-10-24T08:30:00+09:00"));
}
