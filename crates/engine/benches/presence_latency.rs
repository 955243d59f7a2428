//! Presence latency benchmark: from a transition's scheduled instant to the Graph call.
//!
//! `cargo bench -p presently-engine --bench presence_latency` runs the presence runtime
//! with the system clock against the emulator on loopback: 50 one-second busy
//! appointments separated by one-second gaps give 100 transitions (50 applies at the
//! starts, 50 restores at the ends). For each transition the latency is the time from its
//! instant (the appointment's start or end) to the arrival, as the emulator records it,
//! of the call that changes the presence (`setUserPreferredPresence` at a start,
//! `clearUserPreferredPresence` at an end; `setPresence` / `clearPresence` for a session
//! profile). It prints count, p50, p99 and max as a Markdown line (target p99 ≤ 1 s).
//! The floor, measured in the same run: one bare Graph round trip (`GET /me/presence`
//! with a plain reqwest client) to the same emulator; an apply is a read and a write, a
//! restore a read and a clear, so about two round trips above the timer's wake-up.
//! Takes about two minutes.
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, DurationRound, Utc};
use presently_emulator::{Emulator, EmulatorConfig, PresenceCall, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::presence::runtime::RuntimeOptions;
use presently_engine::{Engine, EngineSetup, SystemClock};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;

const APPOINTMENTS: i64 = 50;
/// Seconds from now (rounded up to a whole second) to the first appointment's start.
const LEAD_SECS: i64 = 5;

const SETS: [&str; 2] = ["setUserPreferredPresence", "setPresence"];
const CLEARS: [&str; 2] = ["clearUserPreferredPresence", "clearPresence"];

fn presence_changes(emu: &Emulator) -> Vec<PresenceCall> {
    emu.control()
        .presence_calls()
        .into_iter()
        .filter(|c| SETS.contains(&c.kind.as_str()) || CLEARS.contains(&c.kind.as_str()))
        .collect()
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(micros: i64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

/// Round trips measured for the floor.
const FLOOR_TRIPS: usize = 200;

/// One bare `GET /me/presence` to the emulator, `FLOOR_TRIPS` times: µs each.
async fn floor(emu: &Emulator) -> Vec<i64> {
    let client = reqwest::Client::new();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/presence", emu.base_url());
    let mut micros = Vec::with_capacity(FLOOR_TRIPS);
    for _ in 0..FLOOR_TRIPS {
        let started = std::time::Instant::now();
        let body = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET")
            .error_for_status()
            .expect("200")
            .bytes()
            .await
            .expect("body");
        micros.push(i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX));
        assert!(!body.is_empty());
    }
    micros
}

fn summary(name: &str, micros: Vec<i64>) -> String {
    summary_with(name, micros, ms)
}

fn summary_with(name: &str, mut micros: Vec<i64>, ms: impl Fn(i64) -> String) -> String {
    micros.sort_unstable();
    format!(
        "| {name} | {} | {} | {} | {} |",
        micros.len(),
        ms(percentile(&micros, 0.50)),
        ms(percentile(&micros, 0.99)),
        ms(micros.last().copied().unwrap_or_default())
    )
}

#[tokio::main]
async fn main() {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emu.base_url();
    config.microsoft.graph_endpoint = emu.base_url();
    config.agenda.timezone = Some("Europe/Berlin".to_owned());
    config.features.presence = true;
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir.path()),
            config,
            clock: Arc::new(SystemClock),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .expect("engine");
    engine.sign_in_to_emulator().await.expect("sign in");
    let engine = Arc::new(engine);

    // 50 one-second busy appointments, one second apart (the store keeps whole seconds).
    let first = Utc::now()
        .duration_trunc(Duration::seconds(1))
        .expect("truncate")
        + Duration::seconds(LEAD_SECS);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    // The transitions in order: (instant, whether it applies).
    let mut transitions: Vec<(DateTime<Utc>, bool)> = Vec::new();
    for n in 0..APPOINTMENTS {
        let start = first + Duration::seconds(2 * n);
        let end = start + Duration::seconds(1);
        emu.control()
            .add_event(json!({
                "subject": format!("Latency {n}"),
                "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(end), "timeZone": "UTC"},
                "showAs": "busy",
            }))
            .expect("add event");
        transitions.push((start, true));
        transitions.push((end, false));
    }
    engine.sync_now().await.expect("sync");
    assert!(
        Utc::now() < first,
        "the sync took longer than the lead time"
    );

    let stop = Arc::new(Notify::new());
    let task = tokio::spawn(engine.clone().run_presence_with(
        stop.clone(),
        Arc::new(Notify::new()),
        RuntimeOptions::default(),
    ));
    let last = transitions.last().map(|(t, _)| *t).expect("transitions");
    let deadline = last + Duration::seconds(10);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let done = presence_changes(&emu)
            .iter()
            .filter(|c| c.status < 300)
            .count()
            >= transitions.len();
        if done || Utc::now() > deadline {
            break;
        }
    }
    stop.notify_one();
    task.await.expect("runtime");

    let all = presence_changes(&emu);
    let failed = all.iter().filter(|c| c.status >= 300).count();
    let calls: Vec<&PresenceCall> = all.iter().filter(|c| c.status < 300).collect();
    assert_eq!(
        calls.len(),
        transitions.len(),
        "one presence call per transition: {calls:?}"
    );
    let mut applies = Vec::new();
    let mut restores = Vec::new();
    for ((at, apply), call) in transitions.iter().zip(&calls) {
        let expected: &[&str] = if *apply { &SETS } else { &CLEARS };
        assert!(
            expected.contains(&call.kind.as_str()),
            "{} at {at}, got {} at {}",
            if *apply { "an apply" } else { "a restore" },
            call.kind,
            call.at
        );
        let micros = (call.at - *at).num_microseconds().expect("latency");
        if *apply {
            applies.push(micros);
        } else {
            restores.push(micros);
        }
    }
    let latencies: Vec<i64> = applies.iter().chain(&restores).copied().collect();
    let (p50, p99) = {
        let mut v = latencies.clone();
        v.sort_unstable();
        (percentile(&v, 0.50), percentile(&v, 0.99))
    };
    let mut trips = floor(&emu).await;
    trips.sort_unstable();
    let floor_p50 = percentile(&trips, 0.50);

    println!(
        "{APPOINTMENTS} one-second busy appointments one second apart, system clock, release build, emulator in-process on loopback; {failed} failed calls\n"
    );
    println!("| transitions | count | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    println!("{}", summary("all", latencies));
    println!("{}", summary("apply (start → set)", applies));
    println!("{}", summary("restore (end → clear)", restores));
    let fine = |micros: i64| format!("{:.2} ms", micros as f64 / 1000.0);
    println!(
        "{}",
        summary_with("floor: one bare `GET /me/presence`", trips.clone(), fine)
    );
    println!(
        "\np50 / floor p50: {:.1}× ({} / {})",
        p50 as f64 / floor_p50.max(1) as f64,
        fine(p50),
        fine(floor_p50)
    );
    println!(
        "\ntarget p99 ≤ 1 s: {}",
        if p99 <= 1_000_000 { "met" } else { "not met" }
    );
}
