//! A new user's first sync against Graph over a WAN (the emulator with 50 ms per request and
//! delta pages in no order): the next two weeks are complete in the store, and announced,
//! before the rest of the window is read; the rest follows in sub-windows side by side,
//! never more than Outlook's 4 requests at once; appointments across the sub-windows'
//! boundaries are stored once; the store ends equal to the server, and the next sync with
//! nothing changed is one request.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use presently_emulator::{
    DeltaOrder, Emulator, EmulatorConfig, Latency, Seed, PRIMARY_CALENDAR_ID,
};
use presently_engine::engine::SyncOptions;
use presently_engine::sync::Window;
use std::collections::BTreeMap;

const EVENTS: usize = 1_200;

/// `EVENTS` appointments spread over the window, one every ~18 hours, lasting 1 to 30 hours,
/// so many cross a sub-window's boundary (whole hours, midnights included).
fn events(window: Window) -> Vec<serde_json::Value> {
    let span = (window.end - window.start).num_minutes();
    (0..EVENTS)
        .map(|n| {
            let start = window.start + Duration::minutes(span * n as i64 / EVENTS as i64 + 7);
            let end = start + Duration::minutes(60 * (1 + (n as i64 * 7) % 30));
            let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
            serde_json::json!({
                "subject": format!("Appointment {n}"),
                "start": {"dateTime": fmt(start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(end), "timeZone": "UTC"},
                "showAs": "busy",
            })
        })
        .collect()
}

/// What the server holds over `part` of the window.
async fn truth_over(
    emu: &Emulator,
    part: Window,
) -> BTreeMap<String, presently_engine::model::Appointment> {
    truth(emu, PRIMARY_CALENDAR_ID, part).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_two_weeks_are_complete_and_shown_before_the_rest_of_the_window() {
    let emu = Emulator::start(EmulatorConfig {
        today: TODAY.parse().unwrap(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        latency: Latency::per_request_ms(50),
        delta_order: DeltaOrder::Unordered { seed: 19 },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let clock = clock();
    let mut config = config_for(&emu);
    config.sync.window_days_back = 30;
    config.sync.window_days_ahead = 180;
    config.sync.page_size = 100;
    config.sync.write_batch = 500;
    let window = window(&config, &clock);
    emu.control().add_events_bulk(events(window)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(engine(&emu, dir.path(), config.clone(), clock.clone()).await);
    emu.control().reset_max_concurrency();

    // The priority window as the user's zone sees it: yesterday to two weeks ahead.
    let today_start =
        presently_engine::agenda::local_midnight(chrono_tz::Europe::Berlin, engine.today());
    let priority = Window {
        start: today_start - Duration::days(1),
        end: today_start + Duration::days(15),
    };
    let want_priority = truth_over(&emu, priority).await;
    assert!(want_priority.len() > 50, "{}", want_priority.len());

    let mut fills = engine.sync_fills();
    let syncing = tokio::spawn({
        let engine = engine.clone();
        async move { engine.sync(SyncOptions::default()).await }
    });
    // The first announcement: the whole priority window is in the store, the rest is not.
    tokio::time::timeout(std::time::Duration::from_secs(20), fills.changed())
        .await
        .expect("the next days were announced")
        .unwrap();
    let at_first = stored(dir.path(), PRIMARY_CALENDAR_ID);
    let missing: Vec<_> = want_priority
        .keys()
        .filter(|id| !at_first.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "the next two weeks are incomplete: {missing:?}"
    );
    assert!(
        at_first.len() < EVENTS / 2,
        "{} of {EVENTS} already in: the priority window was not read first",
        at_first.len()
    );
    assert!(!syncing.is_finished(), "announced only at the end");

    let report = syncing.await.unwrap().unwrap();
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
    assert_eq!(
        stored(dir.path(), PRIMARY_CALENDAR_ID).len(),
        truth_over(&emu, window).await.len(),
        "each appointment stored once"
    );
    assert!(
        emu.control().max_concurrent_graph_requests() <= 4,
        "more than Outlook's 4 concurrent requests: {}",
        emu.control().max_concurrent_graph_requests()
    );
    assert!(
        emu.control().max_concurrent_graph_requests() >= 3,
        "the rest of the window was not read side by side: {report:?}"
    );

    // Steady state: one delta link, one request when nothing changed.
    let again = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(again.requests, 1, "{again:?}");
    assert_eq!(again.changes, 0, "{again:?}");
}
