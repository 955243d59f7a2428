//! A new user's first sync over a WAN: the emulator answers each request after 0, 50, 100
//! or 200 ms, with 3,000 events in the default window (30 days back, 180 ahead) and the
//! delta round's pages in no order (Graph promises none).
//!
//! `cargo bench -p presently-engine --bench first_sync` prints a Markdown table
//! (BENCHMARKS.md has the figures): from the start of the sync (its first request) until
//! the next 14 days are complete in the store and announced, until the whole window is,
//! and until the sync ends (the full round that brings the delta link); beside each, the
//! floor a single sequential read cannot beat (its pages fetched one after the other, no
//! processing); and the requests of the next sync when nothing changed.

use chrono::{DateTime, Duration as Span, Utc};
use presently_emulator::{DeltaOrder, Emulator, EmulatorConfig, Latency, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::engine::SyncOptions;
use presently_engine::paths::Paths;
use presently_engine::sync::{Window, FILL_CHUNKS};
use presently_engine::{Clock, Engine, EngineSetup, FixedClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: usize = 3_000;
const RUNS: usize = 3;
const TODAY: &str = "2026-11-24";

fn events(window: Window) -> Vec<serde_json::Value> {
    let span = (window.end - window.start).num_minutes();
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    (0..EVENTS)
        .map(|n| {
            let start = window.start + Span::minutes(span * n as i64 / EVENTS as i64);
            let end = start + Span::minutes(30 + (n as i64 % 4) * 15);
            serde_json::json!({
                "subject": format!("Benchmark meeting {n}"),
                "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(end), "timeZone": "UTC"},
                "location": {"displayName": "Room 4.12"},
                "showAs": "busy",
                "isReminderOn": true,
                "reminderMinutesBeforeStart": 15,
            })
        })
        .collect()
}

/// The time of fetching every page of `url` one after the other (the floor of any design
/// that reads it as one sequential round).
async fn sequential_floor(emu: &Emulator, url: String) -> (Duration, usize) {
    let token = emu.control().issue_access_token_for_tests();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut next = Some(url);
    let mut pages = 0;
    while let Some(url) = next {
        let body: serde_json::Value = http
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=1000")
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        pages += 1;
        next = body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    (started.elapsed(), pages)
}

struct Run {
    two_weeks: Duration,
    window: Duration,
    done: Duration,
    requests: u64,
    no_change_requests: u64,
}

async fn first_sync(latency_ms: u64, seed: u64) -> Run {
    let emu = Emulator::start(EmulatorConfig {
        today: TODAY.parse().expect("date"),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        delta_order: DeltaOrder::Unordered { seed },
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let clock = Arc::new(FixedClock::new(
        "2026-11-24T08:00:00Z".parse().expect("time"),
    ));
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emu.base_url();
    config.microsoft.graph_endpoint = emu.base_url();
    config.agenda.timezone = Some("Europe/Berlin".to_owned());
    let window = Window::around(
        clock.now().date_naive(),
        config.sync.window_days_back,
        config.sync.window_days_ahead,
    );
    emu.control()
        .add_events_bulk(events(window))
        .expect("events");
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir.path()),
            config,
            clock,
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .expect("engine");
    engine.sign_in_to_emulator().await.expect("sign in");
    emu.control()
        .set_latency(Latency::per_request_ms(latency_ms));
    let engine = Arc::new(engine);
    let mut fills = engine.sync_fills();
    let started = Instant::now();
    let syncing = tokio::spawn({
        let engine = engine.clone();
        async move { engine.sync(SyncOptions::default()).await }
    });
    fills.changed().await.expect("the next days");
    let two_weeks = started.elapsed();
    let mut seen = *fills.borrow_and_update();
    while seen < 1 + FILL_CHUNKS as u64 {
        fills.changed().await.expect("a part of the window");
        seen = *fills.borrow_and_update();
    }
    let whole = started.elapsed();
    let report = syncing.await.expect("task").expect("sync");
    let done = started.elapsed();
    let again = engine.sync(SyncOptions::default()).await.expect("sync");
    Run {
        two_weeks,
        window: whole,
        done,
        requests: report.requests,
        no_change_requests: again.requests,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("| latency per request | 14 days complete | (floor: their pages in sequence) | window complete | (floor: one sequential round) | sync ends | requests | next sync, no change |");
        println!("|---|---|---|---|---|---|---|---|");
        for latency_ms in [0u64, 50, 100, 200] {
            let mut runs = Vec::new();
            for seed in 0..RUNS as u64 {
                runs.push(first_sync(latency_ms, seed + 1).await);
            }
            // The floors, on an emulator with the same latency and data.
            let emu = Emulator::start(EmulatorConfig {
                today: TODAY.parse().expect("date"),
                seed: Seed::Empty,
                latency: Latency::per_request_ms(latency_ms),
                delta_order: DeltaOrder::Unordered { seed: 1 },
                ..EmulatorConfig::default()
            })
            .await
            .expect("emulator");
            let window = Window::around(TODAY.parse().expect("date"), 30, 180);
            emu.control()
                .add_events_bulk(events(window))
                .expect("events");
            let url = |start: DateTime<Utc>, end: DateTime<Utc>| {
                format!(
                    "{}/v1.0/me/calendarView/delta?startDateTime={}&endDateTime={}",
                    emu.base_url(),
                    start.format("%Y-%m-%dT%H:%M:%SZ"),
                    end.format("%Y-%m-%dT%H:%M:%SZ")
                )
            };
            let today: DateTime<Utc> = "2026-11-23T23:00:00Z".parse().expect("time");
            let (floor_14, pages_14) =
                sequential_floor(&emu, url(today - Span::days(1), today + Span::days(15))).await;
            let (floor_window, pages_window) =
                sequential_floor(&emu, url(window.start, window.end)).await;
            println!(
                "| {latency_ms} ms | {} | {} ({pages_14} pages) | {} | {} ({pages_window} pages) | {} | {} | {} |",
                ms(median(runs.iter().map(|r| r.two_weeks).collect())),
                ms(floor_14),
                ms(median(runs.iter().map(|r| r.window).collect())),
                ms(floor_window),
                ms(median(runs.iter().map(|r| r.done).collect())),
                runs[0].requests,
                runs.iter().map(|r| r.no_change_requests).max().unwrap_or(0),
            );
        }
    });
}
