//! Sync and agenda benchmark against the emulator on loopback.
//!
//! `cargo bench -p presently-engine --bench sync` prints a Markdown table (BENCHMARKS.md
//! has the figures). Engine processing time is the time spent parsing pages and writing
//! them to the store (summed over pages; the time waiting for the store's lock excluded).

use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID, HOLIDAYS_CALENDAR_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::engine::{SyncOptions, SyncReport};
use presently_engine::paths::Paths;
use presently_engine::{Engine, EngineSetup, FixedClock};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;

fn event(n: usize) -> serde_json::Value {
    // Spread over the default window (30 days back, 180 ahead), 8:00–18:00 UTC.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 26).expect("date")
        + chrono::Days::new((n % 208) as u64);
    let hour = 8 + (n / 208) % 10;
    let minute = (n * 7) % 4 * 15;
    json!({
        "subject": format!("Benchmark meeting {n}"),
        "start": {"dateTime": format!("{day}T{hour:02}:{minute:02}:00"), "timeZone": "UTC"},
        "end": {"dateTime": format!("{day}T{hour:02}:{:02}:00", minute + 14), "timeZone": "UTC"},
        "location": {"displayName": "Room 4.12"},
        "showAs": "busy",
        "isReminderOn": true,
        "reminderMinutesBeforeStart": 15,
    })
}

struct Measured {
    wall: Duration,
    report: SyncReport,
}

impl Measured {
    /// The engine's work: parsing and the store's writes. (Wall time minus waiting on the
    /// emulator no longer works: a first sync reads sub-windows side by side, so the waits
    /// overlap and add up to more than the wall time.)
    fn processing(&self) -> Duration {
        Duration::from_micros(self.report.parse_micros + self.report.store_micros)
    }
}

async fn timed_sync(engine: &Engine, full: bool) -> Measured {
    let started = Instant::now();
    let report = engine.sync(SyncOptions { full }).await.expect("sync");
    Measured {
        wall: started.elapsed(),
        report,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn row(name: &str, m: &Measured, events: usize) {
    let processing = m.processing();
    let rate = if events > 0 {
        format!("{:.0}", events as f64 / processing.as_secs_f64())
    } else {
        "–".to_owned()
    };
    println!(
        "| {name} | {} | {} | {} | {:.1} KiB | {} | {} (parse {}, store {}) | {rate} |",
        ms(m.wall),
        m.report.requests,
        m.report.changes,
        m.report.bytes as f64 / 1024.0,
        ms(Duration::from_micros(m.report.waiting_micros)),
        ms(processing),
        ms(Duration::from_micros(m.report.parse_micros)),
        ms(Duration::from_micros(m.report.store_micros)),
    );
}

fn engine_calendars(engine: &Engine) -> Vec<presently_engine::model::Calendar> {
    let store = presently_engine::store::Store::open(&engine.paths().store_file()).expect("store");
    store.calendars().expect("calendars")
}

#[tokio::main]
async fn main() {
    let emulator = Emulator::start(EmulatorConfig {
        today: "2026-11-24".parse().expect("date"),
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let ids = emulator
        .control()
        .add_events_bulk((0..EVENTS).map(event).collect())
        .expect("seed");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emulator.base_url();
    config.microsoft.graph_endpoint = emulator.base_url();
    config.agenda.timezone = Some("Europe/Berlin".to_owned());
    let page_size = config.sync.page_size;
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir.path()),
            config,
            clock: Arc::new(FixedClock::new(
                "2026-11-24T08:00:00Z".parse().expect("now"),
            )),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .expect("engine");
    engine.sign_in_to_emulator().await.expect("sign in");

    println!(
        "{EVENTS} events, page size {page_size}, release build, emulator in-process on loopback\n"
    );
    println!("| scenario | wall | requests | changes | bytes | waiting on emulator | engine processing | events/s (processing) |");
    println!("|---|---|---|---|---|---|---|---|");
    // Initial sync: the first one, then two more full rounds over the same data (the swap
    // then writes nothing); the first is the figure that counts.
    let initial = timed_sync(&engine, false).await;
    assert!(initial.report.changes >= EVENTS, "{:?}", initial.report);
    row("initial sync (full round)", &initial, EVENTS);
    let again = timed_sync(&engine, true).await;
    row("full round, nothing changed", &again, EVENTS);

    let mut no_change = Vec::new();
    for _ in 0..20 {
        no_change.push(timed_sync(&engine, false).await);
    }
    no_change.sort_by_key(|m| m.wall);
    let typical = &no_change[no_change.len() / 2];
    assert_eq!(typical.report.requests, 1);
    row("no-change incremental (median of 20)", typical, 0);

    for (i, id) in ids.iter().take(100).enumerate() {
        emulator
            .control()
            .update_event(id, json!({"subject": format!("Changed {i}")}))
            .expect("update");
    }
    let hundred = timed_sync(&engine, false).await;
    assert_eq!(hundred.report.changes, 100, "{:?}", hundred.report);
    row("100-change incremental", &hundred, 100);

    // The store alone: the same 10,000 appointments written page by page (100 per
    // transaction, as a sync does) into a fresh file, with no HTTP and no parsing.
    {
        use presently_engine::graph::EventChange;
        use presently_engine::store::{RoundKind, Store, SyncState};
        let appointments: Vec<EventChange> = engine
            .agenda(Some("2026-10-20".parse().expect("date")), Some(220))
            .expect("agenda")
            .days
            .iter()
            .flat_map(|d| d.items.iter())
            .filter_map(|i| engine.appointment(&i.id).ok().flatten())
            .map(|a| EventChange::Upsert(Box::new(a)))
            .collect();
        let scratch = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&scratch.path().join("s.db")).expect("store");
        store
            .set_calendars(&engine_calendars(&engine))
            .expect("calendars");
        let calendar = appointments
            .first()
            .and_then(|c| match c {
                EventChange::Upsert(a) => Some(a.calendar_id.clone()),
                _ => None,
            })
            .expect("one");
        let state = SyncState {
            next_link: Some("x".repeat(300)),
            round: Some(RoundKind::Initial),
            ..Default::default()
        };
        let started = Instant::now();
        for page in appointments.chunks(100) {
            store.apply_changes(&calendar, page, &state).expect("apply");
        }
        println!(
            "\nstore only: {} appointments in {} transactions of 100: {}",
            appointments.len(),
            appointments.len().div_ceil(100),
            ms(started.elapsed())
        );
        // Then a full round over the same rows, as after a first sync's fill: staged in
        // batches of 500 (`sync.write_batch`) and swapped in.
        let started = Instant::now();
        store
            .begin_full_round(&calendar, &state)
            .expect("begin the round");
        for batch in appointments.chunks(500) {
            store
                .stage_changes(&calendar, batch, &state)
                .expect("stage");
        }
        let swapped = store
            .commit_full_round(&calendar, &SyncState::default())
            .expect("swap");
        assert_eq!(swapped.upserted + swapped.removed, 0, "nothing differs");
        println!(
            "store only: a full round over the same {} appointments (staged by 500, swapped): {}",
            appointments.len(),
            ms(started.elapsed())
        );
    }

    // The agenda: 14 days from today over the 10,000-event store.
    let from = "2026-11-24".parse().expect("date");
    let mut times = Vec::new();
    let mut items = 0;
    for _ in 0..200 {
        let started = Instant::now();
        let view = engine.agenda(Some(from), Some(14)).expect("agenda");
        times.push(started.elapsed());
        items = view.days.iter().map(|d| d.items.len()).sum();
    }
    let p99 = {
        let mut t = times.clone();
        t.sort();
        t[t.len() * 99 / 100]
    };
    println!(
        "\nagenda, 14 days ({items} items) over {EVENTS} events: median {}, p99 {} (200 runs)",
        ms(median(times)),
        ms(p99)
    );

    // Another calendar than the primary, 1,000 events, synced on its own: its first sync
    // and a sync with nothing changed (a delta round where Graph answers delta, else a
    // whole window read each time).
    let other_events: Vec<serde_json::Value> = (0..1_000)
        .map(|n| {
            let mut e = event(n);
            e["calendarId"] = json!(HOLIDAYS_CALENDAR_ID);
            e["subject"] = json!(format!("Team calendar entry {n}"));
            e
        })
        .collect();
    emulator
        .control()
        .add_events_bulk(other_events)
        .expect("seed other calendar");
    let other_dir = tempfile::tempdir().expect("tempdir");
    let mut other_config = Config::default();
    other_config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    other_config.microsoft.authority_host = emulator.base_url();
    other_config.microsoft.graph_endpoint = emulator.base_url();
    other_config.sync.calendars = vec![HOLIDAYS_CALENDAR_ID.to_owned()];
    let other = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(other_dir.path()),
            config: other_config,
            clock: Arc::new(FixedClock::new(
                "2026-11-24T08:00:00Z".parse().expect("now"),
            )),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .expect("engine");
    other.sign_in_to_emulator().await.expect("sign in");
    println!("
| other calendar (1,000 events) | wall | requests | changes | bytes | waiting on emulator | engine processing | events/s (processing) |");
    println!("|---|---|---|---|---|---|---|---|");
    let first = timed_sync(&other, false).await;
    assert!(first.report.changes >= 1_000, "{:?}", first.report);
    row("first sync", &first, 1_000);
    let mut unchanged = Vec::new();
    for _ in 0..20 {
        unchanged.push(timed_sync(&other, false).await);
    }
    unchanged.sort_by_key(|m| m.wall);
    row(
        "no-change sync (median of 20)",
        &unchanged[unchanged.len() / 2],
        0,
    );

    bodies_scenario().await;
}

/// What reading invitation bodies costs: the same 2,000 events synced twice into fresh
/// stores, once with no body and once with the HTML body of Microsoft's Teams invitation
/// example (about 3 kB, `onlineMeeting` left empty so the join link, meeting ID and passcode
/// come from the body). Real calendars carry bodies on most events; the ratio of the two
/// parse times is the figure that does not depend on the machine.
async fn bodies_scenario() {
    const N: usize = 2_000;
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../tests/fixtures/graph/teams-invitation-created.json"
    ))
    .expect("fixture");
    let body = fixture["body"].clone();
    println!("\n| {N} events, first sync | parse | store | parse per event |");
    println!("|---|---|---|---|");
    let mut parse = Vec::new();
    for (name, with_body) in [("no body", false), ("Teams invitation body", true)] {
        let emulator = Emulator::start(EmulatorConfig {
            today: "2026-11-24".parse().expect("date"),
            seed: Seed::Empty,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator");
        emulator
            .control()
            .add_events_bulk(
                (0..N)
                    .map(|n| {
                        let mut e = event(n);
                        if with_body {
                            e["body"] = body.clone();
                        }
                        e
                    })
                    .collect(),
            )
            .expect("seed");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
        config.microsoft.authority_host = emulator.base_url();
        config.microsoft.graph_endpoint = emulator.base_url();
        let engine = Engine::open_with_credentials(
            EngineSetup {
                paths: Paths::under(dir.path()),
                config,
                clock: Arc::new(FixedClock::new(
                    "2026-11-24T08:00:00Z".parse().expect("now"),
                )),
                demo: false,
            },
            Arc::new(MemoryStore::default()),
        )
        .expect("engine");
        engine.sign_in_to_emulator().await.expect("sign in");
        let m = timed_sync(&engine, false).await;
        assert!(m.report.changes >= N, "{:?}", m.report);
        if with_body {
            let found = engine
                .agenda(Some("2026-10-26".parse().expect("date")), Some(14))
                .expect("agenda");
            let item = found
                .days
                .iter()
                .flat_map(|d| d.items.iter())
                .next()
                .expect("an item");
            assert!(item.join_url.is_some(), "the body's join link was read");
        }
        let p = Duration::from_micros(m.report.parse_micros);
        println!(
            "| {name} | {} | {} | {:.1} µs |",
            ms(p),
            ms(Duration::from_micros(m.report.store_micros)),
            p.as_secs_f64() * 1e6 / N as f64
        );
        parse.push(p);
    }
    println!(
        "\nreading the bodies: parse time x{:.2} of the same events without one",
        parse[1].as_secs_f64() / parse[0].as_secs_f64()
    );
}
