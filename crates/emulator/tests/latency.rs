//! Graph as a new user meets it over a WAN: per-request latency, throttled bodies, delta
//! rounds in no order, and the largest page Outlook serves.
#![allow(clippy::unwrap_used)] // tests may unwrap (helpers outside #[test] fns too)

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use common::*;
use presently_emulator::{DeltaOrder, Emulator, EmulatorConfig, Latency, Seed, MAX_PAGE_SIZE};
use serde_json::{json, Value};

/// 30 weeks (210 days) from Monday 2026-10-26, the window of these tests.
const WINDOW: &str = "startDateTime=2026-10-26T00:00:00Z&endDateTime=2027-05-24T00:00:00Z";
const WEEKS: usize = 30;

async fn start_with_latency(latency: Latency) -> Emulator {
    Emulator::start(EmulatorConfig {
        today: today(),
        latency,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// Event `n` of `per_week * WEEKS`: week `n % WEEKS`, so that by start time one week's
/// events are neighbours.
fn event(n: usize, per_week: usize) -> Value {
    let week = n % WEEKS;
    let k = n / WEEKS;
    let day = NaiveDate::from_ymd_opt(2026, 10, 26).unwrap() + Days::new((week * 7 + k % 5) as u64);
    let hour = 8 + (k / 5) % 10;
    let minute = (k / 50) % 4 * 15;
    assert!(k < per_week);
    json!({
        "subject": format!("Meeting {n} (week {week})"),
        "start": {"dateTime": format!("{day}T{hour:02}:{minute:02}:00"), "timeZone": "UTC"},
        "end": {"dateTime": format!("{day}T{hour:02}:{:02}:00", minute + 14), "timeZone": "UTC"},
        "location": {"displayName": "Room 4.12"},
        "showAs": "busy",
    })
}

/// An empty mailbox with `per_week` events in each of the window's weeks; their ids by week.
async fn mailbox_of_weeks(per_week: usize) -> (Emulator, Vec<String>, HashMap<String, usize>) {
    let emu = start_with(Seed::Empty).await;
    let ids = emu
        .control()
        .add_events_bulk((0..per_week * WEEKS).map(|n| event(n, per_week)).collect())
        .unwrap();
    let week_of = ids
        .iter()
        .enumerate()
        .map(|(n, id)| (id.clone(), n % WEEKS))
        .collect();
    (emu, ids, week_of)
}

/// The pages of one delta round, as lists of item ids.
async fn round_pages(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> (Vec<Vec<String>>, String) {
    let mut pages = Vec::new();
    let mut next = url.to_owned();
    loop {
        assert!(pages.len() < 200, "nextLink loop");
        let (status, _, body) = graph_get(c, &next, token, prefer).await;
        assert_eq!(status, 200, "{body}");
        pages.push(ids_of(&body));
        match body["@odata.nextLink"].as_str() {
            Some(n) => next = n.to_owned(),
            None => return (pages, body["@odata.deltaLink"].as_str().unwrap().to_owned()),
        }
    }
}

fn ids_of(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

// ---- latency ------------------------------------------------------------------------------

#[tokio::test]
async fn each_request_waits_out_the_latency_and_concurrent_ones_overlap() {
    let emu = start_with_latency(Latency::per_request_ms(100)).await;
    let token = emu.control().issue_access_token_for_tests();
    let c = client();
    let me = format!("{}/v1.0/me", emu.base_url());
    // Warm the connection pool: the timings below are the server's, not a TCP handshake's.
    graph_get(&c, &me, &token, &[]).await;

    let t = Instant::now();
    let (status, _, _) = graph_get(&c, &me, &token, &[]).await;
    let one = t.elapsed();
    assert_eq!(status, 200);
    assert!(one >= Duration::from_millis(100), "{one:?}");

    // Four at once overlap as over a network: about 100 ms, not 400.
    let t = Instant::now();
    let answers = futures::future::join_all((0..4).map(|_| graph_get(&c, &me, &token, &[]))).await;
    let four = t.elapsed();
    assert!(answers.iter().all(|(s, _, _)| *s == 200));
    assert!(four >= Duration::from_millis(100), "{four:?}");
    assert!(four < Duration::from_millis(200), "{four:?}");
    assert_eq!(
        emu.control().max_concurrent_graph_requests(),
        4,
        "in flight while waiting"
    );

    // A request without a token waits too (the network does not know), and so does the
    // identity platform.
    let t = Instant::now();
    let (status, _, _) = graph_get(&c, &me, "nope", &[]).await;
    assert_eq!(status, 401);
    assert!(t.elapsed() >= Duration::from_millis(100));
    let t = Instant::now();
    let openid = format!(
        "{}/common/v2.0/.well-known/openid-configuration",
        emu.base_url()
    );
    assert_eq!(c.get(&openid).send().await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn latency_changes_at_run_time_and_the_control_api_is_never_delayed() {
    let emu = start().await;
    let control = emu.control();
    assert_eq!(control.latency(), Latency::NONE);
    let token = control.issue_access_token_for_tests();
    let c = client();
    let me = format!("{}/v1.0/me", emu.base_url());
    graph_get(&c, &me, &token, &[]).await;
    let t = Instant::now();
    graph_get(&c, &me, &token, &[]).await;
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "no latency by default"
    );

    control.set_latency(Latency::per_request_ms(300));
    assert_eq!(control.latency(), Latency::per_request_ms(300));
    let t = Instant::now();
    graph_get(&c, &me, &token, &[]).await;
    assert!(t.elapsed() >= Duration::from_millis(300));

    // The HTTP control API sets it too, and answers at once.
    let url = format!("{}/_emulator/latency", emu.base_url());
    let t = Instant::now();
    let answer: Value = c
        .put(&url)
        .json(&json!({"perRequestMs": 0, "bytesPerSec": 5000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "control is not delayed"
    );
    assert_eq!(answer, json!({"perRequestMs": 0, "bytesPerSec": 5000}));
    assert_eq!(
        control.latency(),
        Latency::per_request_ms(0).with_bytes_per_sec(5000)
    );
    let got: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, answer);
    let bad = c
        .put(&url)
        .json(&json!({"perRequestMs": "fast"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        control.latency(),
        Latency::per_request_ms(0).with_bytes_per_sec(5000),
        "a bad request changes nothing"
    );
}

#[tokio::test]
async fn bytes_per_sec_streams_a_large_page_at_that_rate() {
    let (emu, _, _) = mailbox_of_weeks(10).await;
    let token = emu.control().issue_access_token_for_tests();
    let c = client();
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}&$top=300", emu.base_url());
    graph_get(&c, &url, &token, &[]).await;
    let t = Instant::now();
    let plain = c.get(&url).bearer_auth(&token).send().await.unwrap();
    let plain = plain.bytes().await.unwrap();
    let fast = t.elapsed();
    assert!(plain.len() > 100_000, "a large page: {} bytes", plain.len());

    // A rate at which the page takes 400 ms.
    let rate = plain.len() as u64 * 1000 / 400;
    emu.control()
        .set_latency(Latency::NONE.with_bytes_per_sec(rate));
    let t = Instant::now();
    let mut resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(plain.len() as u64));
    let mut body = Vec::new();
    let mut first_chunk = None;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        first_chunk.get_or_insert_with(|| t.elapsed());
        body.extend_from_slice(&chunk);
    }
    let slow = t.elapsed();
    assert_eq!(body, plain.to_vec(), "the same page, only slower");
    assert!(
        slow >= Duration::from_millis(380),
        "{slow:?} (unthrottled {fast:?})"
    );
    assert!(slow < Duration::from_millis(2000), "{slow:?}");
    // Streamed as it crosses the link, not held back and sent at the end.
    let first_chunk = first_chunk.unwrap();
    assert!(
        first_chunk < slow / 2,
        "first bytes at {first_chunk:?} of {slow:?}"
    );
}

// ---- unordered delta rounds ---------------------------------------------------------------

#[tokio::test]
async fn an_unordered_full_round_spreads_a_week_over_the_pages_and_loses_nothing() {
    let (emu, ids, week_of) = mailbox_of_weeks(20).await;
    let control = emu.control();
    let token = control.issue_access_token_for_tests();
    let c = client();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=50"];
    let all: BTreeSet<String> = ids.iter().cloned().collect();
    // Pages holding week 10's events, and weeks seen on the first page.
    let spread = |pages: &[Vec<String>]| {
        let week = pages
            .iter()
            .filter(|p| p.iter().any(|id| week_of[id] == 10))
            .count();
        let first: BTreeSet<usize> = pages[0].iter().map(|id| week_of[id]).collect();
        (week, first.len())
    };

    // By start time, as before: one week sits on one or two pages.
    assert_eq!(control.delta_order(), DeltaOrder::ByStart);
    let (tidy, _) = round_pages(&c, &first, &token, &prefer).await;
    assert_eq!(tidy.len(), 12);
    let (week_pages, first_weeks) = spread(&tidy);
    assert!(week_pages <= 2, "{week_pages}");
    assert!(first_weeks <= 3, "{first_weeks}");

    control.set_delta_order(DeltaOrder::Unordered { seed: 7 });
    let (pages, delta_link) = round_pages(&c, &first, &token, &prefer).await;
    assert_eq!(pages.len(), 12);
    let (week_pages, first_weeks) = spread(&pages);
    assert!(week_pages >= 6, "week 10 on {week_pages} of 12 pages");
    assert!(
        first_weeks >= 15,
        "the first page holds {first_weeks} weeks"
    );
    // Exactly the window's events: none lost, none twice.
    let served: Vec<String> = pages.concat();
    assert_eq!(served.len(), all.len(), "no item twice");
    assert_eq!(served.iter().cloned().collect::<BTreeSet<_>>(), all);
    assert!(served != tidy.concat(), "still by start");

    // The same seed gives the same pages; another seed another order.
    let (again, _) = round_pages(&c, &first, &token, &prefer).await;
    assert!(again == pages, "the same seed, another order");
    control.set_delta_order(DeltaOrder::Unordered { seed: 8 });
    let (other, _) = round_pages(&c, &first, &token, &prefer).await;
    assert!(other != pages, "another seed, the same order");
    assert_eq!(other.concat().into_iter().collect::<BTreeSet<_>>(), all);

    // A round keeps the order it started with, whatever is set meanwhile.
    control.set_delta_order(DeltaOrder::Unordered { seed: 7 });
    let (status, _, page) = graph_get(&c, &first, &token, &prefer).await;
    assert_eq!(status, 200);
    assert!(ids_of(&page) == pages[0]);
    control.set_delta_order(DeltaOrder::ByStart);
    let (rest, _) = round_pages(
        &c,
        page["@odata.nextLink"].as_str().unwrap(),
        &token,
        &prefer,
    )
    .await;
    assert!(rest == pages[1..], "the round changed its order mid-way");

    // Incremental rounds stay as they are: what changed, by start, removals last.
    control.set_delta_order(DeltaOrder::Unordered { seed: 7 });
    for n in [250, 10, 70] {
        control
            .update_event(&ids[n], json!({"subject": format!("Moved {n}")}))
            .unwrap();
    }
    control.delete_event(&ids[3]).unwrap();
    let (items, _, _) = delta_round(&c, &delta_link, &token, &prefer).await;
    let order: Vec<(String, bool)> = items
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i.get("@removed").is_some(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            (ids[10].clone(), false),
            (ids[70].clone(), false),
            (ids[250].clone(), false),
            (ids[3].clone(), true),
        ]
    );
}

#[tokio::test]
async fn the_delta_order_is_set_over_http() {
    let emu = start().await;
    let c = client();
    let url = format!("{}/_emulator/delta-order", emu.base_url());
    let got: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, json!({"order": "byStart"}));
    let set: Value = c
        .put(&url)
        .json(&json!({"order": "unordered", "seed": 7}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set, json!({"order": "unordered", "seed": 7}));
    assert_eq!(
        emu.control().delta_order(),
        DeltaOrder::Unordered { seed: 7 }
    );
    let bad = c
        .put(&url)
        .json(&json!({"order": "random"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        emu.control().delta_order(),
        DeltaOrder::Unordered { seed: 7 }
    );
}

// ---- the largest page ---------------------------------------------------------------------

#[tokio::test]
async fn pages_hold_at_most_1000_items_and_say_so() {
    let (emu, ids, _) = mailbox_of_weeks(50).await;
    assert_eq!(ids.len(), 1500);
    assert_eq!(MAX_PAGE_SIZE, 1000);
    let token = emu.control().issue_access_token_for_tests();
    let c = client();
    let applied = |h: &reqwest::header::HeaderMap| {
        h.get("preference-applied")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // Delta: a larger preference gets 1000, and Preference-Applied says 1000.
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=5000"];
    let (status, headers, page) = graph_get(&c, &first, &token, &prefer).await;
    assert_eq!(status, 200);
    assert_eq!(page["value"].as_array().unwrap().len(), 1000);
    assert_eq!(applied(&headers).as_deref(), Some("odata.maxpagesize=1000"));
    let next = page["@odata.nextLink"].as_str().unwrap();
    let (_, headers, page) = graph_get(&c, next, &token, &prefer).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 500);
    assert!(page["@odata.deltaLink"].is_string());
    assert_eq!(applied(&headers).as_deref(), Some("odata.maxpagesize=1000"));
    // 1000 itself is honoured as asked.
    let (_, headers, page) = graph_get(&c, &first, &token, &["odata.maxpagesize=1000"]).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1000);
    assert_eq!(applied(&headers).as_deref(), Some("odata.maxpagesize=1000"));

    // calendarView: the same cap on the preference and on $top.
    let view = format!("{}/v1.0/me/calendarView?{WINDOW}", emu.base_url());
    let (_, headers, page) = graph_get(&c, &view, &token, &prefer).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1000);
    assert_eq!(applied(&headers).as_deref(), Some("odata.maxpagesize=1000"));
    let (_, _, page) = graph_get(&c, &format!("{view}&$top=5000"), &token, &[]).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1000);
    assert!(page["@odata.nextLink"].is_string());
}
