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
            max_backoff: Duration::from_millis(10),
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
