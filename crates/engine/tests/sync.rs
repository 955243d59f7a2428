//! Delta sync against the emulator over real HTTP: complete, incremental, idempotent,
//! and resilient to every fault the emulator can produce.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::*;
use presently_emulator::{Fault, PRIMARY_CALENDAR_ID};
use presently_engine::engine::SyncOptions;
use presently_engine::store::Store;
use presently_engine::Error;
use serde_json::json;

fn new_event(subject: &str, start: &str, end: &str) -> serde_json::Value {
    json!({
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": end, "timeZone": "W. Europe Standard Time"},
        "showAs": "busy",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_then_incremental_rounds_follow_every_kind_of_change() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let window = window(&config, &clock);
    let engine = engine(&emu, dir.path(), config, clock.clone()).await;

    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars.len(),
        1,
        "only the primary calendar by default"
    );
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Full
    );
    assert!(
        report.calendars[0].pages > 3,
        "page size 5 makes several pages"
    );
    let expected = truth(&emu, PRIMARY_CALENDAR_ID, window).await;
    assert!(expected.len() > 20);
    assert_same(&stored(dir.path(), PRIMARY_CALENDAR_ID), &expected);

    // Each kind of change, made on the server between syncs.
    let control = emu.control();
    let added = control
        .add_event(new_event(
            "Added later",
            "2026-11-26T13:00:00",
            "2026-11-26T13:30:00",
        ))
        .unwrap();
    let ids: Vec<String> = expected.keys().cloned().collect();
    let singles: Vec<&String> = ids
        .iter()
        .filter(|id| {
            expected[*id].kind == presently_engine::model::AppointmentType::SingleInstance
                && !expected[*id].when.is_all_day()
        })
        .collect();
    control
        .update_event(singles[0], json!({"subject": "Renamed meeting"}))
        .unwrap();
    control
        .update_event(
            singles[1],
            json!({
                "start": {"dateTime": "2026-11-27T15:00:00", "timeZone": "W. Europe Standard Time"},
                "end": {"dateTime": "2026-11-27T16:00:00", "timeZone": "W. Europe Standard Time"}
            }),
        )
        .unwrap();
    // Moved out of the window: it must disappear locally.
    control
        .update_event(
            singles[2],
            json!({
                "start": {"dateTime": "2027-06-01T09:00:00", "timeZone": "W. Europe Standard Time"},
                "end": {"dateTime": "2027-06-01T10:00:00", "timeZone": "W. Europe Standard Time"}
            }),
        )
        .unwrap();
    control.cancel_event(singles[3]).unwrap();
    control.delete_event(singles[4]).unwrap();

    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Incremental
    );
    let now = stored(dir.path(), PRIMARY_CALENDAR_ID);
    assert_same(&now, &truth(&emu, PRIMARY_CALENDAR_ID, window).await);
    assert_eq!(now[&added].subject, "Added later");
    assert_eq!(now[singles[0]].subject, "Renamed meeting");
    assert!(!now.contains_key(singles[2]), "moved out of the window");
    assert!(!now.contains_key(singles[4]), "deleted");
    assert!(report.changes >= 5, "{report:?}");

    // Nothing changed: one request, nothing written.
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!((report.requests, report.changes), (1, 0), "{report:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_a_round_changes_nothing() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock.clone()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let before_state = Store::open(&dir.path().join("presently.db"))
        .unwrap()
        .sync_state(PRIMARY_CALENDAR_ID)
        .unwrap()
        .unwrap();
    emu.control()
        .add_event(new_event(
            "Once",
            "2026-11-25T08:00:00",
            "2026-11-25T08:30:00",
        ))
        .unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    let after = stored(dir.path(), PRIMARY_CALENDAR_ID);
    // Wind the sync state back: the same changes come again and must change nothing.
    {
        let mut store = Store::open(&dir.path().join("presently.db")).unwrap();
        store
            .apply_changes(PRIMARY_CALENDAR_ID, &[], &before_state)
            .unwrap();
    }
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(report.changes, 0, "{report:?}");
    assert_eq!(stored(dir.path(), PRIMARY_CALENDAR_ID), after);
    // A page served twice by the server (duplicated items) is harmless too.
    emu.control()
        .push_fault(Fault::RepeatPage { page_index: 1 });
    let report = engine.sync(SyncOptions { full: true }).await.unwrap();
    assert_eq!(report.changes, 0, "{report:?}");
    assert_eq!(stored(dir.path(), PRIMARY_CALENDAR_ID), after);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_day_rolls_the_window() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let day0 = stored(dir.path(), PRIMARY_CALENDAR_ID);
    // Eight days later the first synced days have left the window and new ones entered.
    clock.advance(chrono::Duration::days(8));
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Full,
        "a moved window needs a full round"
    );
    let expected = truth(&emu, PRIMARY_CALENDAR_ID, window(&config, &clock)).await;
    let day8 = stored(dir.path(), PRIMARY_CALENDAR_ID);
    assert_same(&day8, &expected);
    assert!(
        day0.keys().any(|k| !day8.contains_key(k)),
        "something left the window"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_calendars_sync_by_window_when_chosen() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&emu);
    config.sync.calendars = vec![
        "Calendar".into(),
        presently_emulator::HOLIDAYS_CALENDAR_ID.into(),
    ];
    let engine = engine(&emu, dir.path(), config, clock()).await;
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(report.calendars.len(), 2);
    let holidays = stored(dir.path(), presently_emulator::HOLIDAYS_CALENDAR_ID);
    assert!(!holidays.is_empty());
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert!(
        report
            .calendars
            .iter()
            .all(|c| c.upserted == 0 && c.removed == 0),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_delta_token_means_a_full_round_that_replaces_the_data() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    emu.control().push_fault(Fault::ExpireDeltaTokens);
    emu.control()
        .add_event(new_event(
            "After expiry",
            "2026-11-25T08:00:00",
            "2026-11-25T08:30:00",
        ))
        .unwrap();
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Full
    );
    assert!(report.calendars[0].restarted.is_some());
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_waited_out_and_server_errors_retried() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    emu.control().push_fault(Fault::Throttle {
        count: 2,
        retry_after_secs: 1,
    });
    emu.control().push_fault(Fault::FailPage {
        page_index: 2,
        status: 503,
    });
    let started = std::time::Instant::now();
    engine.sync(SyncOptions::default()).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "Retry-After was honoured"
    );
    let log = emu.control().request_log();
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 2);
    assert_eq!(log.iter().filter(|r| r.status == 503).count(), 1);
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_page_fails_the_round_without_losing_anything_and_the_next_sync_resumes() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let before = stored(dir.path(), PRIMARY_CALENDAR_ID);
    // A full round whose third page arrives truncated.
    let control = emu.control();
    control.push_fault(Fault::Slow {
        count: 2,
        delay_ms: 1,
    });
    control.push_fault(Fault::TruncatedJson { count: 1 });
    let err = engine.sync(SyncOptions { full: true }).await.unwrap_err();
    assert!(matches!(err, Error::MalformedResponse(_)), "{err}");
    assert_eq!(
        stored(dir.path(), PRIMARY_CALENDAR_ID),
        before,
        "nothing lost, old data shown"
    );
    assert_eq!(
        engine.status().unwrap().sync.state,
        presently_engine::engine::SyncPhase::Error
    );
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Full
    );
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_next_link_loop_is_detected_and_the_round_restarted() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    emu.control().push_fault(Fault::NextLinkLoop);
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert!(
        report.calendars[0]
            .restarted
            .as_deref()
            .unwrap_or("")
            .contains("loop"),
        "{report:?}"
    );
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_gets_one_refresh_and_a_retry() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    emu.control().expire_access_tokens();
    engine.sync(SyncOptions::default()).await.unwrap();
    let log = emu.control().request_log();
    assert_eq!(log.iter().filter(|r| r.status == 401).count(), 1);
    assert!(log.iter().any(|r| r.path.ends_with("/token")));
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_consent_sends_the_user_back_to_sign_in_and_keeps_the_calendar() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let before = stored(dir.path(), PRIMARY_CALENDAR_ID);
    emu.control().push_fault(Fault::RevokeRefreshTokens);
    emu.control().expire_access_tokens();
    let err = engine.sync(SyncOptions::default()).await.unwrap_err();
    assert_eq!(
        presently_engine::ApiError::from(err).code,
        presently_engine::ErrorCode::ReauthRequired
    );
    let status = engine.status().unwrap();
    assert!(!status.account.signed_in);
    assert!(status
        .sync
        .message
        .unwrap_or_default()
        .contains("AADSTS50173"));
    assert_eq!(
        stored(dir.path(), PRIMARY_CALENDAR_ID),
        before,
        "the local calendar stays"
    );
    // Signing in again restores the session.
    emu.control().clear_faults();
    engine.sign_in_to_emulator().await.unwrap();
    assert!(engine.status().unwrap().account.signed_in);
    engine.sync(SyncOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_times_out_and_reports_offline() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mut config = config_for(&emu);
    config.sync.request_timeout_secs = 1;
    let engine = engine(&emu, dir.path(), config, clock).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    emu.control().push_fault(Fault::Hang { count: 1 });
    let started = std::time::Instant::now();
    let err = engine.sync(SyncOptions { full: true }).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(matches!(err, Error::Network { .. }), "{err}");
    let status = engine.status().unwrap();
    assert_eq!(
        status.sync.state,
        presently_engine::engine::SyncPhase::Offline
    );
    assert!(status.sync.last_synced_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn never_more_than_four_requests_in_flight() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&emu);
    config.sync.calendars = vec![
        "Calendar".into(),
        presently_emulator::HOLIDAYS_CALENDAR_ID.into(),
    ];
    let engine = engine(&emu, dir.path(), config, clock()).await;
    emu.control().push_fault(Fault::Slow {
        count: 1000,
        delay_ms: 20,
    });
    emu.control().reset_max_concurrency();
    // Several syncs at once on one engine (the tray's Sync now during a timed sync).
    let (a, b, c) = tokio::join!(
        engine.sync(SyncOptions::default()),
        engine.sync(SyncOptions { full: true }),
        engine.sync(SyncOptions { full: true })
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let max = emu.control().max_concurrent_graph_requests();
    assert!((2..=4).contains(&max), "max in flight: {max}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_and_oversized_values_are_stored_safely() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    let mut ev = new_event("x", "2026-11-25T08:00:00", "2026-11-25T08:30:00");
    ev["subject"] = json!(format!(
        "\u{202E}gnp.exe <script>alert(1)</script>\u{0000}{}",
        "A".repeat(300_000)
    ));
    ev["body"] = json!({"contentType": "html", "content": "<img src=x onerror=alert(1)><b>hi</b>"});
    let id = emu.control().add_event(ev).unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    let stored = stored(dir.path(), PRIMARY_CALENDAR_ID);
    let a = &stored[&id];
    assert!(a.subject.chars().count() <= 1025);
    assert!(!a.subject.contains('\u{202E}') && !a.subject.contains('\u{0000}'));
    assert!(
        a.subject.contains("<script>"),
        "markup is kept as text; the UI shows it as text"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newly_enabled_feature_asks_for_incremental_consent() {
    use presently_engine::auth::MemoryStore;
    use presently_engine::paths::Paths;
    use presently_engine::{Engine, EngineSetup};
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let credentials = std::sync::Arc::new(MemoryStore::default());
    let open = |config| {
        Engine::open_with_credentials(
            EngineSetup {
                paths: Paths::under(dir.path()),
                config,
                clock: clock(),
                demo: false,
            },
            credentials.clone(),
        )
        .unwrap()
    };
    let engine = open(config_for(&emu));
    engine.sign_in_to_emulator().await.unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    let before = stored(dir.path(), PRIMARY_CALENDAR_ID);
    drop(engine);
    // The user turns presence on: its permission was never granted.
    let mut config = config_for(&emu);
    config.features.presence = true;
    let engine = open(config);
    let err = engine.sync(SyncOptions::default()).await.unwrap_err();
    let api = presently_engine::ApiError::from(err);
    assert_eq!(api.code, presently_engine::ErrorCode::ConsentNeeded);
    assert!(
        api.message.contains("Presence.ReadWrite"),
        "{}",
        api.message
    );
    assert!(
        !engine.status().unwrap().account.signed_in,
        "the app shows its consent screen"
    );
    assert_eq!(
        stored(dir.path(), PRIMARY_CALENDAR_ID),
        before,
        "the local calendar stays"
    );
    // Signing in again asks for the new scope; then sync works.
    engine.sign_in_to_emulator().await.unwrap();
    assert!(engine
        .whoami()
        .await
        .unwrap()
        .unwrap()
        .scopes
        .iter()
        .any(|s| s.contains("Presence.ReadWrite")));
    engine.sync(SyncOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_token_endpoint_is_offline_for_now_not_a_sign_out() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    emu.control().expire_access_tokens();
    emu.control().push_fault(Fault::TokenServerError {
        count: 1,
        status: 503,
    });
    // The cached access token still looks valid to the engine: Graph says 401, the refresh
    // hits the busy token endpoint.
    let err = engine.sync(SyncOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err}");
    assert_eq!(
        presently_engine::ApiError::from(err).code,
        presently_engine::ErrorCode::Network
    );
    let status = engine.status().unwrap();
    assert!(status.account.signed_in, "still signed in");
    assert_eq!(
        status.sync.state,
        presently_engine::engine::SyncPhase::Offline
    );
    engine.sync(SyncOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_answer_fails_that_page_and_loses_nothing() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let before = stored(dir.path(), PRIMARY_CALENDAR_ID);
    let limit = presently_engine::graph::client::MAX_BODY_BYTES as u64;
    emu.control().push_fault(Fault::Oversized {
        count: 1,
        bytes: limit + 1024,
    });
    let err = engine.sync(SyncOptions { full: true }).await.unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(stored(dir.path(), PRIMARY_CALENDAR_ID), before);
    engine.sync(SyncOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_round_resumes_and_then_catches_up_with_later_changes() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    // A full round breaks off at its fifth page (a 500 is not retried)...
    emu.control().push_fault(Fault::FailPage {
        page_index: 4,
        status: 500,
    });
    engine.sync(SyncOptions { full: true }).await.unwrap_err();
    let state = Store::open(&dir.path().join("presently.db"))
        .unwrap()
        .sync_state(PRIMARY_CALENDAR_ID)
        .unwrap()
        .unwrap();
    assert!(
        state.next_link.is_some(),
        "the round stopped mid-way: {state:?}"
    );
    // ...the mailbox changes meanwhile...
    let added = emu
        .control()
        .add_event(new_event(
            "Added while interrupted",
            "2026-11-25T16:00:00",
            "2026-11-25T16:30:00",
        ))
        .unwrap();
    // ...and the next sync finishes the old round, then catches up.
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert!(report.calendars[0].resumed, "{report:?}");
    let now = stored(dir.path(), PRIMARY_CALENDAR_ID);
    assert!(now.contains_key(&added));
    assert_same(
        &now,
        &truth(&emu, PRIMARY_CALENDAR_ID, window(&config, &clock)).await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_attendee_count_reaches_the_agenda_and_follows_changes() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    let person = |name: &str, address: &str, kind: &str| {
        json!({"type": kind, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
               "emailAddress": {"name": name, "address": address}})
    };
    let mut counted = new_event(
        "Counted meeting",
        "2026-11-25T10:00:00",
        "2026-11-25T11:00:00",
    );
    counted["isOrganizer"] = json!(false);
    counted["organizer"] = json!({"emailAddress": {
        "name": "Lena Fischer", "address": "lena.fischer@contoso.onmicrosoft.com"}});
    counted["attendees"] = json!([
        // The organizer listed again (another spelling of the same address): not counted.
        person(
            "Lena Fischer",
            "Lena.Fischer@contoso.onmicrosoft.com",
            "required"
        ),
        person("Megan Bowen", presently_emulator::DEMO_UPN, "required"),
        person(
            "Tom Becker",
            "tom.becker@contoso.onmicrosoft.com",
            "optional"
        ),
        // A room is no attendee.
        person(
            "Room 4.12",
            "room412.berlin@contoso.onmicrosoft.com",
            "resource"
        ),
    ]);
    let id = emu.control().add_event(counted).unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();

    let week = || {
        engine
            .agenda(Some("2026-11-23".parse().unwrap()), Some(7))
            .unwrap()
    };
    let count = |view: &presently_engine::agenda::AgendaView, subject: &str| {
        view.days
            .iter()
            .flat_map(|d| &d.items)
            .find(|i| i.subject == subject)
            .unwrap_or_else(|| panic!("no {subject:?} in the agenda"))
            .attendees
    };
    let view = week();
    assert_eq!(count(&view, "Counted meeting"), Some(2));
    // The demo mailbox: invitees without the organizer, the room of a meeting the user
    // organised not counted, nobody at a private appointment.
    assert_eq!(count(&view, "Sprint planning"), Some(3));
    assert_eq!(count(&view, "Architecture review: sync engine"), Some(2));
    assert_eq!(count(&view, "Doctor appointment"), Some(0));
    // `presently agenda --json` shows it.
    let json = serde_json::to_value(presently_engine::agenda::flatten(&view)).unwrap();
    let item = json
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(id))
        .unwrap();
    assert_eq!(item["attendees"], 2);

    // A changed list arrives with the next incremental round.
    emu.control()
        .update_event(
            &id,
            json!({"attendees": [person("Tom Becker", "tom.becker@contoso.onmicrosoft.com", "required")]}),
        )
        .unwrap();
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Incremental
    );
    assert_eq!(report.changes, 1, "{report:?}");
    assert_eq!(count(&week(), "Counted meeting"), Some(1));
    assert_in_sync(&emu, dir.path(), &config_for(&emu), &clock()).await;
}

/// A credential store that counts its reads (each is a Secret Service round trip, with a key
/// exchange, in the real keyring).
struct CountingStore {
    inner: presently_engine::auth::MemoryStore,
    loads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl presently_engine::auth::CredentialStore for CountingStore {
    fn load(
        &self,
    ) -> Result<Option<presently_engine::auth::StoredAccount>, presently_engine::auth::AuthError>
    {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load()
    }
    fn save(
        &self,
        account: &presently_engine::auth::StoredAccount,
    ) -> Result<(), presently_engine::auth::AuthError> {
        self.inner.save(account)
    }
    fn delete(&self) -> Result<(), presently_engine::auth::AuthError> {
        self.inner.delete()
    }
}

/// Issue 25: a round that changes nothing is one request and no keyring read (the access
/// token and the account are in memory); a sign-in by another process is still seen where
/// it matters (`whoami` reads the keyring).
#[tokio::test(flavor = "multi_thread")]
async fn a_no_change_round_is_one_request_and_no_keyring_read() {
    use std::sync::atomic::Ordering;
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let loads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let engine = presently_engine::Engine::open_with_credentials(
        presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config: config_for(&emu),
            clock: clock(),
            demo: false,
        },
        std::sync::Arc::new(CountingStore {
            inner: Default::default(),
            loads: loads.clone(),
        }),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    let after_first = loads.load(Ordering::SeqCst);
    for round in 0..3 {
        let report = engine.sync(SyncOptions::default()).await.unwrap();
        assert_eq!(
            (report.changes, report.requests),
            (0, 1),
            "round {round}: {report:?}"
        );
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        after_first,
        "no-change rounds read the keyring"
    );
    assert!(engine.whoami().await.unwrap().is_some());
    assert_eq!(loads.load(Ordering::SeqCst), after_first + 1);
}
