//! Sync against Graph as it behaves, not as it is documented to behave: fractional and
//! dated `Retry-After`, unreachable endpoints, endpoints that move, calendar lists without
//! `isDefaultCalendar`, delta on secondary calendars, oversized and unordered pages.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::*;
use presently_emulator::Fault;
use presently_engine::engine::SyncOptions;
use presently_engine::graph::client::{RetryPolicy, SleepFn};
use presently_engine::graph::GraphClient;
use presently_engine::{Clock, ErrorCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A sleep that records what it was asked to wait and returns at once.
fn recording_sleep() -> (SleepFn, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = waits.clone();
    let sleep: SleepFn = Arc::new(move |d| {
        seen.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (sleep, waits)
}

async fn me_through_throttling(retry_after: String) -> Vec<Duration> {
    let emu = demo_emulator().await;
    let clock = clock();
    let (sleep, waits) = recording_sleep();
    let client = GraphClient::with_options(
        &emu.base_url(),
        Duration::from_secs(10),
        RetryPolicy {
            max_attempts: 3,
            // A backoff far shorter than asked: only Retry-After can make the wait long.
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(10),
        },
    )
    .unwrap()
    .with_clock(clock)
    .with_sleep(sleep);
    emu.control().push_fault(Fault::ThrottleWith {
        count: 1,
        retry_after,
    });
    let token = secrecy::SecretString::from(emu.control().issue_access_token_for_tests());
    let account = client.me(&token).await.unwrap();
    assert!(!account.upn.is_empty());
    let log = emu.control().request_log();
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 1);
    let waits = waits.lock().unwrap().clone();
    waits
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fractional_retry_after_is_waited_out_in_full() {
    let waits = me_through_throttling("2.128".into()).await;
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0] >= Duration::from_millis(2128), "{waits:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_date_is_measured_on_the_engines_clock() {
    // The fixed clock reads 2026-11-24T08:00:00Z; Graph asks to come back 5 s later.
    let at: std::time::SystemTime = clock()
        .now()
        .checked_add_signed(chrono::Duration::seconds(5))
        .unwrap()
        .into();
    let waits = me_through_throttling(httpdate::fmt_http_date(at)).await;
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0] >= Duration::from_secs(5), "{waits:?}");
    assert!(waits[0] <= Duration::from_secs(6), "{waits:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_too_long_to_wait_in_a_request_holds_every_later_one_back() {
    let emu = demo_emulator().await;
    let (sleep, waits) = recording_sleep();
    let client = GraphClient::new(&emu.base_url())
        .unwrap()
        .with_clock(clock())
        .with_sleep(sleep);
    emu.control().push_fault(Fault::ThrottleWith {
        count: 1,
        retry_after: "3600".into(),
    });
    let token = secrecy::SecretString::from(emu.control().issue_access_token_for_tests());
    let err = client.me(&token).await.unwrap_err();
    assert!(err.to_string().contains("3600 s are left"), "{err}");
    // Later requests on this client fail at once, and send nothing before the hour is up.
    let sent = emu.control().request_log().len();
    let err = client.me(&token).await.unwrap_err();
    assert!(
        err.to_string().contains("nothing is sent before then"),
        "{err}"
    );
    assert_eq!(emu.control().request_log().len(), sent);
    assert!(waits.lock().unwrap().is_empty(), "no request hung waiting");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_names_host_and_port() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock()).await;
    // A port nobody listens on any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut moved = config;
    moved.microsoft.graph_endpoint = format!("http://127.0.0.1:{port}");
    engine.reconfigure(moved).unwrap();
    let err = engine.sync(SyncOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Network);
    assert_eq!(
        err.to_string(),
        format!("cannot connect to 127.0.0.1:{port}: connection refused")
    );
    let status = engine.status().unwrap();
    assert_eq!(
        status.sync.message.as_deref(),
        Some(format!("cannot connect to 127.0.0.1:{port}: connection refused").as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_is_said_to_time_out() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&emu);
    config.sync.request_timeout_secs = 1;
    let engine = engine(&emu, dir.path(), config, clock()).await;
    emu.control().push_fault(Fault::Hang { count: 1 });
    let err = engine.sync(SyncOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Network);
    let port = url::Url::parse(&emu.base_url()).unwrap().port().unwrap();
    assert_eq!(
        err.to_string(),
        format!("127.0.0.1:{port} did not answer within 1 s (request timed out)")
    );
}

/// What the server holds for any calendar over `window` (its plain calendarView).
async fn calendar_truth(
    emu: &presently_emulator::Emulator,
    calendar_id: &str,
    window: presently_engine::sync::Window,
) -> std::collections::BTreeMap<String, presently_engine::model::Appointment> {
    use presently_engine::graph::{CalendarView, EventChange};
    let token = emu.control().issue_access_token_for_tests();
    let http = reqwest::Client::new();
    let mut url = url::Url::parse(&format!(
        "{}/v1.0/me/calendars/{}/calendarView?$top=1000",
        emu.base_url(),
        url::form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect::<String>()
    ))
    .unwrap();
    url.query_pairs_mut()
        .append_pair(
            "startDateTime",
            &window.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
        .append_pair(
            "endDateTime",
            &window.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
    let mut url = url.to_string();
    let mut out = std::collections::BTreeMap::new();
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

// ---- endpoints that move -----------------------------------------------------------------

/// The same data directory synced against an emulator on one port, then against a new
/// emulator on another (the demo's second run; a changed configuration; a national cloud):
/// a full round over the new endpoint, the store matching it, no error.
async fn sync_then_move(interrupt_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let first = demo_emulator().await;
    let config = config_for(&first);
    let old = engine(&first, dir.path(), config, clock.clone()).await;
    if interrupt_first {
        // A full round (the first sync's fill gets past a failing page: its full round
        // reads what the fill could not), broken off at its third page.
        old.sync(SyncOptions::default()).await.unwrap();
        first.control().push_fault(Fault::FailPage {
            page_index: 2,
            status: 500,
        });
        old.sync(SyncOptions { full: true }).await.unwrap_err();
        let state = presently_engine::store::Store::open(&dir.path().join("presently.db"))
            .unwrap()
            .sync_state(presently_emulator::PRIMARY_CALENDAR_ID)
            .unwrap()
            .unwrap();
        assert!(state.next_link.is_some(), "the round was left half done");
    } else {
        old.sync(SyncOptions::default()).await.unwrap();
    }
    drop(old);
    drop(first);

    let second = demo_emulator().await;
    let config = config_for(&second);
    let engine = engine(&second, dir.path(), config.clone(), clock.clone()).await;
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(report.calendars.len(), 1, "{report:?}");
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Full,
        "{report:?}"
    );
    assert!(!report.calendars[0].resumed);
    assert!(
        report.calendars[0]
            .restarted
            .as_deref()
            .is_some_and(|r| r.contains("endpoint changed")),
        "{report:?}"
    );
    assert_in_sync(&second, dir.path(), &config, &clock).await;
    let agenda = engine
        .agenda(Some(TODAY.parse().unwrap()), Some(5))
        .unwrap();
    let shown: usize = agenda.days.iter().map(|d| d.items.len()).sum();
    assert!(shown > 5, "{agenda:?}");
    // And the next sync is incremental against the new endpoint.
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Incremental,
        "{report:?}"
    );
    assert_eq!(report.calendars[0].restarted, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delta_link_for_another_endpoint_starts_a_fresh_full_round() {
    sync_then_move(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_round_for_another_endpoint_starts_a_fresh_full_round() {
    sync_then_move(true).await;
}

// ---- the primary calendar when the list does not say ------------------------------------

/// Microsoft's own example of `GET /me/calendars` (api-reference/v1.0/api/user-list-calendars.md
/// in microsoftgraph/microsoft-graph-docs-contrib): no `isDefaultCalendar`.
const LIST_CALENDARS_EXAMPLE: &str = include_str!("fixtures/user-list-calendars.json");

#[test]
fn the_documented_calendar_list_parses_without_is_default_calendar() {
    let body: serde_json::Value = serde_json::from_str(LIST_CALENDARS_EXAMPLE).unwrap();
    let calendars: Vec<_> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(presently_engine::graph::parse_calendar)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(calendars.len(), 1);
    assert_eq!(calendars[0].id, "AAMkAGI2TGuLAAA=");
    assert_eq!(calendars[0].name, "Calendar");
    assert!(!calendars[0].is_default, "not said: not assumed");
    assert!(calendars[0].can_edit);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_is_default_calendar_the_primary_comes_from_me_calendar() {
    let emu = demo_emulator().await;
    emu.control().push_fault(Fault::OmitIsDefaultCalendar);
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(report.calendars.len(), 1, "{report:?}");
    assert_eq!(
        report.calendars[0].calendar_id,
        presently_emulator::PRIMARY_CALENDAR_ID
    );
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
    assert!(emu
        .control()
        .request_log()
        .iter()
        .any(|r| r.path == "/v1.0/me/calendar"));
    let stored = engine.stored_calendars().unwrap();
    assert_eq!(stored.iter().filter(|c| c.is_default).count(), 1);

    // A list stored by an older version (no calendar marked the primary, listed minutes
    // ago) is read again rather than syncing nothing.
    {
        let mut store =
            presently_engine::store::Store::open(&dir.path().join("presently.db")).unwrap();
        let unmarked: Vec<_> = stored
            .iter()
            .cloned()
            .map(|mut c| {
                c.is_default = false;
                c
            })
            .collect();
        store.set_calendars(&unmarked).unwrap();
    }
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(report.calendars.len(), 1, "{report:?}");
    assert_eq!(
        report.calendars[0].calendar_id,
        presently_emulator::PRIMARY_CALENDAR_ID
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_to_sync_is_an_error_naming_the_chosen_and_the_available_calendars() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let before = stored(dir.path(), presently_emulator::PRIMARY_CALENDAR_ID);
    assert!(!before.is_empty());
    config.sync.calendars = vec!["Team Offsite".into()];
    engine.reconfigure(config).unwrap();
    let err = engine.sync(SyncOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoCalendar);
    let text = err.to_string();
    assert!(text.starts_with("no calendar to sync: "), "{text}");
    assert!(text.contains("\"Team Offsite\""), "{text}");
    assert!(text.contains("\"Calendar\""), "{text}");
    // Nothing was dropped on the way.
    assert_eq!(
        stored(dir.path(), presently_emulator::PRIMARY_CALENDAR_ID),
        before
    );
}

// ---- delta on secondary calendars ---------------------------------------------------------

fn holidays_event(subject: &str, day: &str) -> serde_json::Value {
    serde_json::json!({
        "calendarId": presently_emulator::HOLIDAYS_CALENDAR_ID,
        "subject": subject,
        "isAllDay": true,
        "start": {"dateTime": format!("{day}T00:00:00"), "timeZone": "UTC"},
        "end": {"dateTime": format!("{day}T00:00:00"), "timeZone": "UTC"},
    })
}

/// Requests the sync sent to `path_part` (a route of the emulator's log).
fn requests_to(emu: &presently_emulator::Emulator, path_part: &str) -> usize {
    emu.control()
        .request_log()
        .iter()
        .filter(|r| r.path.contains(path_part))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn secondary_calendars_sync_by_their_own_delta() {
    use presently_emulator::HOLIDAYS_CALENDAR_ID;
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mut config = config_for(&emu);
    config.sync.calendars = vec!["Calendar".into(), HOLIDAYS_CALENDAR_ID.into()];
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    let window = window(&config, &clock);

    engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        stored(dir.path(), HOLIDAYS_CALENDAR_ID),
        calendar_truth(&emu, HOLIDAYS_CALENDAR_ID, window).await
    );
    let holidays = engine
        .stored_calendars()
        .unwrap()
        .into_iter()
        .find(|c| c.id == HOLIDAYS_CALENDAR_ID)
        .unwrap();
    assert_eq!(
        engine.calendar_read_mode(&holidays).unwrap().to_string(),
        "delta"
    );

    // A change comes through the calendar's delta link: one request, one change.
    let added = emu
        .control()
        .add_event(holidays_event("Company day", "2026-11-27"))
        .unwrap();
    let log_before = emu.control().request_log().len();
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    let round = report
        .calendars
        .iter()
        .find(|c| c.calendar_id == HOLIDAYS_CALENDAR_ID)
        .unwrap();
    assert_eq!(
        round.kind,
        presently_engine::engine::RoundRead::Incremental,
        "{report:?}"
    );
    assert_eq!((round.pages, round.upserted, round.removed), (1, 1, 0));
    let log = emu.control().request_log();
    assert!(
        log[log_before..]
            .iter()
            .all(|r| !r.path.ends_with("/calendarView")),
        "no window read: {:?}",
        &log[log_before..]
    );
    let now = stored(dir.path(), HOLIDAYS_CALENDAR_ID);
    assert_eq!(now[&added].subject, "Company day");
    assert_eq!(
        now,
        calendar_truth(&emu, HOLIDAYS_CALENDAR_ID, window).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn where_graph_refuses_delta_the_calendar_is_read_by_window_and_says_so() {
    use presently_emulator::HOLIDAYS_CALENDAR_ID;
    let emu = demo_emulator().await;
    emu.control().push_fault(Fault::RefuseCalendarDelta);
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mut config = config_for(&emu);
    config.sync.calendars = vec!["Calendar".into(), HOLIDAYS_CALENDAR_ID.into()];
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    let window = window(&config, &clock);

    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(report.calendars.len(), 2, "{report:?}");
    assert_eq!(
        stored(dir.path(), HOLIDAYS_CALENDAR_ID),
        calendar_truth(&emu, HOLIDAYS_CALENDAR_ID, window).await
    );
    let holidays = engine
        .stored_calendars()
        .unwrap()
        .into_iter()
        .find(|c| c.id == HOLIDAYS_CALENDAR_ID)
        .unwrap();
    let mode = engine.calendar_read_mode(&holidays).unwrap().to_string();
    assert!(
        mode.starts_with("window (Graph refused delta: 400 BadRequest: Resource not found"),
        "{mode}"
    );
    let calendar_delta = |emu: &presently_emulator::Emulator| {
        emu.control()
            .request_log()
            .iter()
            .filter(|r| r.path.contains("/me/calendars/") && r.path.ends_with("/delta"))
            .count()
    };
    assert_eq!(calendar_delta(&emu), 1, "one refused try");

    // Remembered: the next sync reads the window without asking for delta again, and
    // follows changes.
    let added = emu
        .control()
        .add_event(holidays_event("Company day", "2026-11-27"))
        .unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(calendar_delta(&emu), 1, "delta was not asked for again");
    assert!(requests_to(&emu, "/calendarView") > 2);
    let now = stored(dir.path(), HOLIDAYS_CALENDAR_ID);
    assert_eq!(now[&added].subject, "Company day");
    assert_eq!(
        now,
        calendar_truth(&emu, HOLIDAYS_CALENDAR_ID, window).await
    );

    // A week later delta is tried again; Graph answers it now.
    emu.control().clear_faults();
    clock.advance(chrono::Duration::days(8));
    let later = common::window(&config, &clock);
    engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        engine.calendar_read_mode(&holidays).unwrap().to_string(),
        "delta"
    );
    assert_eq!(
        stored(dir.path(), HOLIDAYS_CALENDAR_ID),
        calendar_truth(&emu, HOLIDAYS_CALENDAR_ID, later).await
    );
}

// ---- pages larger than asked, delta pages in any order -----------------------------------

fn bulk_events(count: usize) -> Vec<serde_json::Value> {
    (0..count)
        .map(|n| {
            let day = 17 + n % 14;
            let hour = 6 + (n / 14) % 12;
            let minute = (n / 168) % 4 * 15;
            serde_json::json!({
                "subject": format!("Series occurrence {n}"),
                "start": {"dateTime": format!("2026-11-{day:02}T{hour:02}:{minute:02}:00"), "timeZone": "UTC"},
                "end": {"dateTime": format!("2026-11-{day:02}T{hour:02}:{:02}:00", minute + 10), "timeZone": "UTC"},
                "location": {"displayName": "Room 4.12"},
                "showAs": "busy",
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_unordered_pages_give_the_same_store_as_ordered_ones() {
    let emu = demo_emulator().await;
    emu.control().add_events_bulk(bulk_events(5_200)).unwrap();
    let clock = clock();
    let config = config_for(&emu);

    // Ordered pages of the size asked for.
    let ordered_dir = tempfile::tempdir().unwrap();
    let mut ordered_config = config.clone();
    ordered_config.sync.page_size = 200;
    let ordered = engine(&emu, ordered_dir.path(), ordered_config, clock.clone()).await;
    ordered.sync(SyncOptions::default()).await.unwrap();

    // Pages of 10,000 items whatever was asked (5), shuffled, with repeats and early
    // removals; a full round staged over existing data, then an incremental one.
    emu.control()
        .push_fault(Fault::OversizedPages { page_size: 10_000 });
    emu.control().push_fault(Fault::ShuffleDelta { seed: 2026 });
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].pages,
        1 + 1 + presently_engine::sync::FILL_CHUNKS,
        "one page of everything for the full round, and for each part of the fill: {report:?}"
    );
    let calendar = presently_emulator::PRIMARY_CALENDAR_ID;
    let all = stored(ordered_dir.path(), calendar);
    assert!(all.len() > 5_200);
    assert_eq!(stored(dir.path(), calendar), all);
    assert_in_sync(&emu, dir.path(), &config, &clock).await;

    let report = engine.sync(SyncOptions { full: true }).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Full
    );
    assert_eq!(stored(dir.path(), calendar), all);

    let ids: Vec<String> = all
        .values()
        .filter(|a| a.subject.starts_with("Series occurrence"))
        .map(|a| a.id.clone())
        .take(40)
        .collect();
    for id in &ids[..20] {
        emu.control().delete_event(id).unwrap();
    }
    for id in &ids[20..] {
        emu.control()
            .update_event(id, serde_json::json!({"subject": "Moved on"}))
            .unwrap();
    }
    ordered.sync(SyncOptions::default()).await.unwrap();
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        report.calendars[0].kind,
        presently_engine::engine::RoundRead::Incremental
    );
    assert_eq!(
        stored(dir.path(), calendar),
        stored(ordered_dir.path(), calendar)
    );
    assert_in_sync(&emu, dir.path(), &config, &clock).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_past_the_body_bound_fails_clearly_and_loses_nothing() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let config = config_for(&emu);
    let engine = engine(&emu, dir.path(), config.clone(), clock.clone()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let before = stored(dir.path(), presently_emulator::PRIMARY_CALENDAR_ID);
    emu.control().push_fault(Fault::Oversized {
        count: 1,
        bytes: 33 * 1024 * 1024,
    });
    let err = engine.sync(SyncOptions { full: true }).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("larger than 32 MiB"), "{text}");
    assert!(text.contains("items per page asked for"), "{text}");
    assert_eq!(
        stored(dir.path(), presently_emulator::PRIMARY_CALENDAR_ID),
        before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_sign_in_service_names_host_and_port_too() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = config_for(&emu);
    config.microsoft.authority_host = format!("http://127.0.0.1:{port}");
    let engine = presently_engine::Engine::open_with_credentials(
        presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config,
            clock: clock(),
            demo: false,
        },
        Arc::new(presently_engine::auth::MemoryStore::default()),
    )
    .unwrap();
    let err = match engine.start_device_sign_in().await {
        Ok(_) => panic!("a sign-in service nobody runs answered"),
        Err(err) => err,
    };
    assert_eq!(err.code(), ErrorCode::Network);
    assert_eq!(
        err.to_string(),
        format!(
            "cannot reach the sign-in service: cannot connect to 127.0.0.1:{port}: connection refused"
        )
    );
}
