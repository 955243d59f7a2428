//! Shared fixtures: an engine signed in to a running emulator, and the emulator's truth.
#![allow(dead_code)]

use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::graph::{CalendarView, EventChange};
use presently_engine::model::Appointment;
use presently_engine::paths::Paths;
use presently_engine::store::Store;
use presently_engine::sync::Window;
use presently_engine::{Engine, EngineSetup, FixedClock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub const TODAY: &str = "2026-11-24";

pub fn config_for(emu: &Emulator) -> Config {
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emu.base_url();
    config.microsoft.graph_endpoint = emu.base_url();
    config.agenda.timezone = Some("Europe/Berlin".to_owned());
    config.sync.window_days_back = 7;
    config.sync.window_days_ahead = 30;
    config.sync.page_size = 5;
    config.sync.write_batch = 10;
    config
}

pub async fn demo_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        today: TODAY.parse().unwrap(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new("2026-11-24T08:00:00Z".parse().unwrap()))
}

/// An engine on a store in `dir`, signed in to `emu`.
pub async fn engine(_emu: &Emulator, dir: &Path, config: Config, clock: Arc<FixedClock>) -> Engine {
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock,
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine
}

pub fn window(config: &Config, clock: &FixedClock) -> Window {
    use presently_engine::Clock;
    Window::around(
        clock.now().date_naive(),
        config.sync.window_days_back,
        config.sync.window_days_ahead,
    )
}

/// What the server holds for the primary calendar over `window`, read with a plain
/// (non-delta) calendarView.
pub async fn truth(
    emu: &Emulator,
    calendar_id: &str,
    window: Window,
) -> BTreeMap<String, Appointment> {
    let token = emu.control().issue_access_token_for_tests();
    let http = reqwest::Client::new();
    let mut url = format!(
        "{}/v1.0/me/calendarView?startDateTime={}&endDateTime={}&$top=1000",
        emu.base_url(),
        window.start.format("%Y-%m-%dT%H:%M:%SZ"),
        window.end.format("%Y-%m-%dT%H:%M:%SZ"),
    );
    let mut out = BTreeMap::new();
    loop {
        let body = http
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", "outlook.timezone=\"UTC\"")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page = CalendarView::parse(calendar_id, &body).unwrap();
        for change in page.changes {
            if let EventChange::Upsert(a) = change {
                out.insert(a.id.clone(), *a);
            }
        }
        match page.next_link {
            Some(next) => url = next,
            None => return out,
        }
    }
}

/// What the store holds for `calendar_id` (opened beside the engine: WAL allows it).
pub fn stored(dir: &Path, calendar_id: &str) -> BTreeMap<String, Appointment> {
    let store = Store::open(&dir.join("presently.db")).unwrap();
    store
        .appointments_overlapping(
            "1900-01-01T00:00:00Z".parse().unwrap(),
            "2200-01-01T00:00:00Z".parse().unwrap(),
            "1900-01-01".parse().unwrap(),
            "2200-01-01".parse().unwrap(),
        )
        .unwrap()
        .into_iter()
        .filter(|a| a.calendar_id == calendar_id)
        .map(|a| (a.id.clone(), a))
        .collect()
}

pub fn assert_same(stored: &BTreeMap<String, Appointment>, truth: &BTreeMap<String, Appointment>) {
    let missing: Vec<_> = truth.keys().filter(|k| !stored.contains_key(*k)).collect();
    let extra: Vec<_> = stored.keys().filter(|k| !truth.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (id, t) in truth {
        assert_eq!(&stored[id], t, "appointment {id} differs");
    }
}

/// The store holds exactly what the server holds for the primary calendar over the window.
pub async fn assert_in_sync(emu: &Emulator, dir: &Path, config: &Config, clock: &FixedClock) {
    let calendar = presently_emulator::PRIMARY_CALENDAR_ID;
    assert_same(
        &stored(dir, calendar),
        &truth(emu, calendar, window(config, clock)).await,
    );
}
