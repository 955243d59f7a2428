//! Restore-at-start-up benchmark (issue 16, bug 2): from the start of Presently on a store
//! whose journal holds a block that ended while it was not running, to the emulator
//! receiving the calls that give the user's own state back.
//!
//! `cargo bench -p presently-engine --bench presence_restart` runs, RUNS times, one
//! out-of-office block (Teams presence "Away", call forwarding through the HTTP provider to
//! the emulator's sink, scheduled automatic replies) with the system clock against the
//! emulator on loopback: the presence runtime applies it, is stopped mid-block (as by
//! SIGTERM: the journal keeps its holds), and once the block ended the engine is opened
//! again on the same store and the runtime started. Measured from just before
//! `Engine::open` (the store, the journal, a token refresh, as `presently run` does) to
//! - the first restoring call the emulator receives, and
//! - the last one (presence cleared, forwarding switched off, replies as they were).
//!
//! The floor, measured in the same run: one bare Graph round trip (`GET /me/presence` with
//! a plain reqwest client, a new connection each time, as a start-up makes them) to the
//! same emulator; the same on a kept-alive connection for comparison. A restore is the store and journal opened,
//! a token refreshed, a read before the clear and the clear itself: some three round trips
//! and some SQLite work above the floor. Takes about a minute and a half.
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, DurationRound, Utc};
use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::presence::forwarding::{
    ForwardingConfig, HttpConfig, HttpRequestConfig, MemorySecrets, ProviderKind,
};
use presently_engine::presence::runtime::RuntimeOptions;
use presently_engine::{Engine, EngineSetup, SystemClock};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

const RUNS: usize = 30;
/// Round trips measured for the floor.
const FLOOR_TRIPS: usize = 200;

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn summary(name: &str, mut ms: Vec<f64>, floor: f64) -> String {
    ms.sort_by(f64::total_cmp);
    let p50 = percentile(&ms, 0.50);
    format!(
        "| {name} | {} | {p50:.1} ms | {:.1} ms | {:.1} ms | {:.1}× |",
        ms.len(),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or_default(),
        p50 / floor
    )
}

fn config(emu: &Emulator) -> Config {
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emu.base_url();
    config.microsoft.graph_endpoint = emu.base_url();
    config.agenda.timezone = Some("Europe/Berlin".to_owned());
    config.features.presence = true;
    config.features.automatic_replies = true;
    let sink = emu.sink_url();
    config.presence.forwarding = ForwardingConfig {
        provider: ProviderKind::Http,
        timeout_secs: 5,
        http: Some(HttpConfig {
            extension: "1001".into(),
            voicemail: "voicemail".into(),
            on: HttpRequestConfig {
                method: "PUT".into(),
                url: format!("{sink}/forward/{{extension}}?to={{target}}"),
                headers: BTreeMap::new(),
                body: None,
            },
            off: HttpRequestConfig {
                method: "DELETE".into(),
                url: format!("{sink}/forward/{{extension}}"),
                headers: BTreeMap::new(),
                body: None,
            },
        }),
        ..ForwardingConfig::default()
    };
    config
}

/// The engine on `dir`, as a start of Presently opens it (credentials kept across starts).
fn open(dir: &std::path::Path, config: &Config, credentials: &Arc<MemoryStore>) -> Arc<Engine> {
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config: config.clone(),
            clock: Arc::new(SystemClock),
            demo: false,
        },
        credentials.clone(),
    )
    .expect("engine");
    engine.set_forwarding_secrets(Arc::new(MemorySecrets::default()));
    Arc::new(engine)
}

struct Running {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

fn run_runtime(engine: &Arc<Engine>) -> Running {
    let stop = Arc::new(Notify::new());
    let task = tokio::spawn(engine.clone().run_presence_with(
        stop.clone(),
        Arc::new(Notify::new()),
        RuntimeOptions::default(),
    ));
    Running { stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.notify_one();
        self.task.await.expect("runtime");
    }
}

/// The times, after `since`, of the calls that give something back: the presence cleared,
/// forwarding switched off at the sink, the automatic replies written back.
fn restores(emu: &Emulator, since: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let control = emu.control();
    let mut at: Vec<DateTime<Utc>> = control
        .presence_calls()
        .into_iter()
        .filter(|c| c.at >= since && c.status < 300)
        .filter(|c| {
            let replies = &c.body["automaticRepliesSetting"]["status"];
            c.kind == "clearUserPreferredPresence"
                // The replies written back (the apply schedules them).
                || (c.kind == "updateMailboxSettings" && replies.is_string() && replies != "scheduled")
                || (c.kind == "sink" && c.body["method"] == "DELETE")
        })
        .map(|c| c.at)
        .collect();
    at.sort();
    at
}

async fn wait_for(what: &str, deadline: Instant, mut done: impl FnMut() -> bool) {
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// One bare `GET /me/presence`, `FLOOR_TRIPS` times: on one kept-alive connection, or
/// (`cold`) with a new client and connection each time, as a process starting up makes it.
async fn floor(emu: &Emulator, cold: bool) -> Vec<f64> {
    let warm = reqwest::Client::new();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/presence", emu.base_url());
    let mut ms = Vec::with_capacity(FLOOR_TRIPS);
    for _ in 0..FLOOR_TRIPS {
        let started = Instant::now();
        let client = if cold {
            reqwest::Client::new()
        } else {
            warm.clone()
        };
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
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(!body.is_empty());
    }
    ms
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
    let config = config(&emu);
    let credentials = Arc::new(MemoryStore::default());
    let mut engine = open(dir.path(), &config, &credentials);
    engine.sign_in_to_emulator().await.expect("sign in");
    let replies_before = emu.control().mailbox_settings()["automaticRepliesSetting"].clone();
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();

    let mut first = Vec::with_capacity(RUNS);
    let mut all = Vec::with_capacity(RUNS);
    let mut opened = Vec::with_capacity(RUNS);
    for n in 0..RUNS {
        // A one-second out-of-office block starting at the next whole second but one.
        let start = Utc::now()
            .duration_trunc(Duration::seconds(1))
            .expect("trunc")
            + Duration::seconds(2);
        let end = start + Duration::seconds(1);
        emu.control()
            .add_event(json!({
                "subject": format!("Off site {n}"),
                "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(end), "timeZone": "UTC"},
                "showAs": "oof",
            }))
            .expect("add event");
        engine.sync_now().await.expect("sync");
        let running = start_and_apply(&engine, &emu, start).await;
        // Stopped mid-block (the journal keeps its holds), and not running at its end.
        running.stop().await;
        drop(engine);
        let now = Utc::now();
        assert!(
            now < end,
            "run {n}: the block was applied only after its end"
        );
        tokio::time::sleep(
            (end - now).to_std().expect("wait") + std::time::Duration::from_millis(100),
        )
        .await;
        assert!(
            restores(&emu, start).is_empty(),
            "run {n}: given back while stopped"
        );

        // Start-up on that store: measured until the emulator receives the restoring calls
        // (as it records their arrival, on the same wall clock).
        let since = Utc::now();
        let opening = Instant::now();
        engine = open(dir.path(), &config, &credentials);
        opened.push(opening.elapsed().as_secs_f64() * 1000.0);
        let running = run_runtime(&engine);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        wait_for("the restores", deadline, || {
            restores(&emu, since).len() >= 3
        })
        .await;
        running.stop().await;
        let calls = restores(&emu, since);
        let to_ms = |t: DateTime<Utc>| (t - since).num_microseconds().expect("µs") as f64 / 1000.0;
        first.push(to_ms(calls[0]));
        all.push(to_ms(calls[calls.len() - 1]));
        assert_eq!(
            emu.control().mailbox_settings()["automaticRepliesSetting"],
            replies_before,
            "run {n}: automatic replies given back exactly"
        );
        assert!(
            engine.presence_pending().expect("pending").is_empty(),
            "run {n}: nothing left pending"
        );
    }

    let mut warm = floor(&emu, false).await;
    warm.sort_by(f64::total_cmp);
    let mut trips = floor(&emu, true).await;
    trips.sort_by(f64::total_cmp);
    let floor_p50 = percentile(&trips, 0.50);
    let runs = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("first restoring call, ms, run by run: {}", runs(&first));
    println!("everything given back, ms, run by run: {}\n", runs(&all));

    println!(
        "{RUNS} out-of-office blocks (presence, HTTP forwarding, automatic replies), each stopped mid-block and started again after its end; system clock, release build, emulator in-process on loopback\n"
    );
    println!("| from start-up to | runs | p50 | p99 | max | p50 / floor |");
    println!("|---|---|---|---|---|---|");
    println!("{}", summary("the first restoring call", first, floor_p50));
    println!("{}", summary("everything given back", all, floor_p50));
    println!(
        "{}",
        summary("(of which: `Engine::open`)", opened, floor_p50)
    );
    println!(
        "| floor: one bare `GET /me/presence`, new connection | {FLOOR_TRIPS} | {floor_p50:.2} ms | {:.2} ms | {:.2} ms | 1× |",
        percentile(&trips, 0.99),
        trips.last().copied().unwrap_or_default()
    );
    println!(
        "| one bare `GET /me/presence`, kept-alive connection | {FLOOR_TRIPS} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2}× |",
        percentile(&warm, 0.50),
        percentile(&warm, 0.99),
        warm.last().copied().unwrap_or_default(),
        percentile(&warm, 0.50) / floor_p50
    );
}

/// Starts the runtime and waits until the block at `start` applied: the presence set,
/// forwarding switched on, the replies scheduled.
async fn start_and_apply(engine: &Arc<Engine>, emu: &Emulator, start: DateTime<Utc>) -> Running {
    let running = run_runtime(engine);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    wait_for("the block to apply", deadline, || {
        let calls = emu.control().presence_calls();
        let after = |kind: &str| {
            calls
                .iter()
                .any(|c| c.at >= start && c.kind == kind && c.status < 300)
        };
        after("setUserPreferredPresence")
            && after("updateMailboxSettings")
            && calls
                .iter()
                .any(|c| c.at >= start && c.kind == "sink" && c.body["method"] == "PUT")
    })
    .await;
    running
}
