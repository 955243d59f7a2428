//! Calendar subscriptions from the command line (issue 23): `presently calendars add-ics`,
//! `refresh-ics` and `remove` as a user runs them, against a small feed server on loopback
//! that records the conditions of each request.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // a file modified "later" on the wall clock the CLI reads

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use presently_engine::{config::Config, paths::Paths, Engine, EngineSetup, SystemClock};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Daily at 12:00 UTC since 2020, without end: every day of any sync window has one.
const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nX-WR-CALNAME:Team rota\r\nBEGIN:VEVENT\r\nUID:rota@feeds.example\r\nDTSTAMP:20200101T000000Z\r\nDTSTART:20200101T120000Z\r\nDTEND:20200101T123000Z\r\nRRULE:FREQ=DAILY\r\nSUMMARY:Rota check\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
const ETAG: &str = "\"rota-v1\"";
const LAST_MODIFIED: &str = "Wed, 01 Jan 2020 00:00:00 GMT";

/// Each request: its path and its `If-None-Match`, `If-Modified-Since`.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

fn record(seen: &Seen, path: &str, headers: &HeaderMap) {
    let get = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    seen.lock().unwrap().push((
        path.to_owned(),
        get(header::IF_NONE_MATCH),
        get(header::IF_MODIFIED_SINCE),
    ));
}

async fn feed(State(seen): State<Seen>, headers: HeaderMap) -> Response {
    record(&seen, "/rota.ics", &headers);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == ETAG.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::ETAG, ETAG),
            (header::LAST_MODIFIED, LAST_MODIFIED),
        ],
        FEED,
    )
        .into_response()
}

async fn serve() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/rota.ics", get(feed))
        // A feed URL that now answers with a sign-in page.
        .route(
            "/login.ics",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<!DOCTYPE html>\n<html><body>Sign in</body></html>",
                )
            }),
        )
        // A redirect away from https (to a host never contacted: the redirect is refused).
        .route(
            "/moved.ics",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "http://feeds.example.com/rota.ics")],
                )
            }),
        )
        .route("/huge.ics", get(|| async { vec![b'x'; 11 * 1024 * 1024] }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn presently(dir: &Path, args: &[&str]) -> Output {
    let config = dir.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_presently"))
        .args(args)
        .env("PRESENTLY_DATA_DIR", dir)
        .env("PRESENTLY_CONFIG", config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn engine(dir: &Path) -> Engine {
    Engine::open(EngineSetup {
        paths: Paths::under(dir),
        config: Config::load(&dir.join("config.toml")).unwrap(),
        clock: Arc::new(SystemClock),
        demo: false,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_is_added_refreshed_with_one_conditional_request_and_removed() {
    let (base, seen) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let url = format!("{base}/rota.ics");

    // No sign-in needed. The default window is 30 days back to 180 ahead: 211 days, one
    // occurrence each.
    let out = presently(
        dir,
        &["calendars", "add-ics", "Rota", &url, "--color", "#1E90FF"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("added \"Rota\" (ics:") && stdout(&out).contains("211 appointments"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [("/rota.ics".to_owned(), None, None)]
    );

    // Nothing changed: one request with the validators, answered 304.
    let out = presently(dir, &["calendars", "refresh-ics"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "\"Rota\": unchanged");
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(
        seen.lock().unwrap()[1],
        (
            "/rota.ics".to_owned(),
            Some(ETAG.to_owned()),
            Some(LAST_MODIFIED.to_owned())
        )
    );

    // The calendar of its own, with today's occurrence.
    {
        let engine = engine(dir);
        let subscriptions = engine.subscriptions().unwrap();
        assert_eq!(subscriptions.len(), 1);
        let rota = &subscriptions[0];
        assert_eq!(rota.calendar.name, "Rota");
        assert_eq!(rota.calendar.color.as_deref(), Some("#1e90ff"));
        assert_eq!(rota.source, url);
        assert_eq!(rota.etag.as_deref(), Some(ETAG));
        assert!(rota.error.is_none());
        let today = engine.now().date_naive().format("%Y%m%d");
        let occurrence = engine
            .appointment(&format!("rota@feeds.example/{today}T120000Z"))
            .unwrap()
            .unwrap();
        assert_eq!(occurrence.subject, "Rota check");
        assert_eq!(occurrence.calendar_id, rota.calendar.id);
    }

    // Feeds that cannot be used are refused with words, and nothing is stored.
    let refused = |path: &str, name: &str, expected: &str| {
        let out = presently(
            dir,
            &["calendars", "add-ics", name, &format!("{base}{path}")],
        );
        assert!(!out.status.success(), "{path}: {}", stdout(&out));
        assert!(stderr(&out).contains(expected), "{path}: {}", stderr(&out));
    };
    refused(
        "/login.ics",
        "Login",
        "not an iCalendar feed: it is an HTML page",
    );
    refused("/moved.ics", "Moved", "not https");
    refused("/huge.ics", "Huge", "larger than the 10485760 bytes");
    refused(
        "/rota.ics",
        "rota",
        "already a calendar subscription named \"rota\"",
    );
    let out = presently(
        dir,
        &[
            "calendars",
            "add-ics",
            "Plain",
            "http://feeds.example.com/a.ics",
        ],
    );
    assert!(
        stderr(&out).contains("plain http:// is not accepted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(engine(dir).subscriptions().unwrap().len(), 1);

    let out = presently(dir, &["calendars", "remove", "ROTA"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "removed \"Rota\" and its appointments");
    let engine = engine(dir);
    assert!(engine.subscriptions().unwrap().is_empty());
    let today = engine.now().date_naive().format("%Y%m%d");
    assert!(engine
        .appointment(&format!("rota@feeds.example/{today}T120000Z"))
        .unwrap()
        .is_none());
    let out = presently(dir, &["calendars", "remove", "Rota"]);
    assert!(stderr(&out).contains("no calendar subscription named \"Rota\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_keeps_the_calendar_and_says_why() {
    let (base, _) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let file = dir.join("rota.ics");
    std::fs::write(&file, FEED).unwrap();
    let out = presently(
        dir,
        &["calendars", "add-ics", "Local", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The file unchanged: nothing to do.
    let out = presently(dir, &["calendars", "refresh-ics", "local"]);
    assert_eq!(stdout(&out).trim(), "\"Local\": unchanged");
    // The file replaced by a sign-in page: the refresh fails, the calendar keeps its data.
    std::fs::write(&file, "<!DOCTYPE html><html></html>").unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let out = presently(dir, &["calendars", "refresh-ics"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("\"Local\": not an iCalendar feed"),
        "{}",
        stderr(&out)
    );
    let engine = engine(dir);
    let local = &engine.subscriptions().unwrap()[0];
    assert_eq!(local.error_code.as_deref(), Some("not_icalendar"));
    let today = engine.now().date_naive().format("%Y%m%d");
    assert!(engine
        .appointment(&format!("rota@feeds.example/{today}T120000Z"))
        .unwrap()
        .is_some());
    drop(base);
}
