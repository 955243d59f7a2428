//! Fault switches and instrumentation, over real HTTP on loopback.
#![allow(clippy::unwrap_used)] // tests may unwrap (helpers outside #[test] fns too)

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use common::*;
use presently_emulator::{Emulator, Fault, Seed};
use serde_json::{json, Value};

const SCOPE: &str = "offline_access openid https://graph.microsoft.com/Calendars.Read User.Read";
const WINDOW: &str = "startDateTime=2026-11-16T00:00:00Z&endDateTime=2026-12-07T00:00:00Z";

/// A full sign-in: the token response.
async fn sign_in(c: &reqwest::Client, base: &str) -> Value {
    let (verifier, challenge) = pkce();
    let q = authorize_query(c, base, SCOPE, &challenge).await;
    let code = param(&q, "code").expect("code").to_string();
    let (status, body) = redeem(c, base, &code, &verifier, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn assert_aad_error(status: u16, body: &Value, want_status: u16, error: &str, code: i64) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(body["trace_id"].as_str().is_some() && body["correlation_id"].as_str().is_some());
}

fn assert_graph_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some(), "{body}");
    let inner = &body["error"]["innerError"];
    assert!(inner["date"].as_str().is_some() && inner["request-id"].as_str().is_some());
}

async fn post_fault(emu: &Emulator, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/_emulator/faults", emu.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn me_url(emu: &Emulator) -> String {
    format!("{}/v1.0/me", emu.base_url())
}

// ---- identity ------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_refresh_tokens() {
    let emu = start().await;
    let c = client();
    let base = emu.base_url();
    let first = sign_in(&c, &base).await;
    let rt = first["refresh_token"].as_str().unwrap();
    // Through the HTTP control API.
    let (status, _) = post_fault(&emu, json!({ "kind": "revokeRefreshTokens" })).await;
    assert_eq!(status, 200);
    let (status, body) = refresh(&c, &base, rt).await;
    assert_aad_error(status, &body, 400, "invalid_grant", 50173);
    // Access tokens are not revoked; a new sign-in gives a refresh token that works.
    let again = sign_in(&c, &base).await;
    let (status, body) = refresh(&c, &base, again["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // Clearing faults does not bring revoked tokens back.
    emu.control().clear_faults();
    let (status, body) = refresh(&c, &base, rt).await;
    assert_aad_error(status, &body, 400, "invalid_grant", 50173);
}

#[tokio::test]
async fn consent_required() {
    let emu = start().await;
    let c = client();
    let base = emu.base_url();
    let signed_in = sign_in(&c, &base).await;
    let rt = signed_in["refresh_token"].as_str().unwrap().to_string();
    // A code obtained before consent went missing.
    let (verifier, challenge) = pkce();
    let q = authorize_query(&c, &base, SCOPE, &challenge).await;
    let code = param(&q, "code").unwrap().to_string();

    emu.control().push_fault(Fault::ConsentRequired);
    let (_, challenge2) = pkce();
    let q = authorize_query(&c, &base, SCOPE, &challenge2).await;
    assert_eq!(param(&q, "error"), Some("consent_required"), "{q:?}");
    assert!(param(&q, "error_description")
        .unwrap()
        .starts_with("AADSTS65001: "));
    assert_eq!(param(&q, "state"), Some("st4te"));
    assert_eq!(param(&q, "code"), None);

    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, 400, "invalid_grant", 65001);
    assert_eq!(body["suberror"], "consent_required");
    let (status, body) = redeem(&c, &base, &code, &verifier, None).await;
    assert_aad_error(status, &body, 400, "invalid_grant", 65001);
    // It stays on until cleared; nothing was consumed meanwhile.
    let (status, _) = refresh(&c, &base, &rt).await;
    assert_eq!(status, 400);
    assert_eq!(emu.control().active_faults(), vec![Fault::ConsentRequired]);

    let resp = c
        .delete(format!("{base}/_emulator/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = redeem(&c, &base, &code, &verifier, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn token_server_error() {
    let emu = start().await;
    let c = client();
    let base = emu.base_url();
    let rt = sign_in(&c, &base).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    emu.control().push_fault(Fault::TokenServerError {
        count: 2,
        status: 503,
    });
    emu.control().push_fault(Fault::TokenServerError {
        count: 1,
        status: 500,
    });
    // Graph requests do not consume token faults.
    let token = emu.control().issue_access_token_for_tests();
    let (status, _, _) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, body) = refresh(&c, &base, &rt).await;
        assert_aad_error(status, &body, 503, "temporarily_unavailable", 90006);
    }
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, 500, "server_error", 90006);
    // The failed requests did not rotate the refresh token: it still works.
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_eq!(status, 200, "{body}");
}

// ---- Graph: counted faults -----------------------------------------------------------------

#[tokio::test]
async fn throttle() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    emu.control().push_fault(Fault::Throttle {
        count: 2,
        retry_after_secs: 7,
    });
    // A request without a valid token gets its 401 and consumes nothing.
    let (status, _, _) = graph_get(&c, &me_url(&emu), "garbage", &[]).await;
    assert_eq!(status, 401);
    for _ in 0..2 {
        let (status, headers, body) = graph_get(&c, &me_url(&emu), &token, &[]).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(headers["retry-after"], "7");
        assert_graph_error(&body, "ApplicationThrottled");
    }
    let (status, _, body) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(emu.control().active_faults().is_empty());
}

#[tokio::test]
async fn unavailable() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let (status, body) = post_fault(
        &emu,
        json!([
            { "kind": "unavailable", "count": 1, "status": 503, "retryAfterSecs": 2 },
            { "kind": "unavailable", "count": 1, "status": 504 },
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"].as_array().unwrap().len(), 2, "{body}");
    let (status, headers, body) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "2");
    assert_graph_error(&body, "serviceNotAvailable");
    let (status, headers, body) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 504);
    assert!(headers.get("retry-after").is_none());
    assert!(body["error"]["code"].as_str().is_some(), "{body}");
    let (status, _, _) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn truncated_json() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}", emu.base_url());
    emu.control().push_fault(Fault::TruncatedJson { count: 1 });
    let resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let declared: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = resp.bytes().await.unwrap();
    assert_eq!(declared, body.len());
    assert!(body.len() > 100);
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    // The next response is whole, and the cut one was a prefix of it.
    let full = c
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&full).unwrap();
    assert!(v["value"].as_array().is_some());
    assert!(full.len() > body.len());
}

#[tokio::test]
async fn oversized() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}", emu.base_url());
    let (_, _, normal) = graph_get(&c, &url, &token, &[]).await;
    emu.control().push_fault(Fault::Oversized {
        count: 1,
        bytes: 3_000_000,
    });
    let resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.bytes().await.unwrap();
    assert!(body.len() >= 3_000_000, "{}", body.len());
    assert!(body.len() < 3_000_100, "{}", body.len());
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["value"], normal["value"]);
    assert_eq!(v["@odata.nextLink"], normal["@odata.nextLink"]);
    assert!(emu.control().bytes_sent() >= 3_000_000);
}

#[tokio::test]
async fn slow() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    emu.control().push_fault(Fault::Slow {
        count: 1,
        delay_ms: 400,
    });
    let t = Instant::now();
    let (status, _, _) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let (status, _, _) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn hang() {
    let emu = start().await;
    let token = emu.control().issue_access_token_for_tests();
    emu.control().push_fault(Fault::Hang { count: 1 });
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = c
        .get(me_url(&emu))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let (status, _, _) = graph_get(&c, &me_url(&emu), &token, &[]).await;
    assert_eq!(status, 200);
    // A request still hanging does not hold up the shutdown.
    emu.control().push_fault(Fault::Hang { count: 1 });
    let url = me_url(&emu);
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::time::timeout(Duration::from_secs(5), emu.shutdown())
        .await
        .expect("shutdown with a hanging request");
    let released = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(released.unwrap(), 503);
}

// ---- Graph: round faults -------------------------------------------------------------------

/// Follows a round, retrying a failed page once; returns (items, statuses of all requests).
async fn round_with_retry(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> (Vec<Value>, Vec<u16>) {
    let mut items = Vec::new();
    let mut statuses = Vec::new();
    let mut next = url.to_string();
    loop {
        assert!(statuses.len() < 100, "nextLink loop");
        let (status, _, body) = graph_get(c, &next, token, prefer).await;
        statuses.push(status);
        if status != 200 {
            continue;
        }
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        match body["@odata.nextLink"].as_str() {
            Some(n) => next = n.to_string(),
            None => return (items, statuses),
        }
    }
}

#[tokio::test]
async fn fail_page_mid_round() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=5"];
    let (normal, _) = round_with_retry(&c, &first, &token, &prefer).await;
    assert!(normal.len() > 10);

    emu.control().push_fault(Fault::FailPage {
        page_index: 1,
        status: 503,
    });
    let (items, statuses) = round_with_retry(&c, &first, &token, &prefer).await;
    assert_eq!(&statuses[..3], &[200, 503, 200], "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s != 200).count(), 1);
    assert_eq!(ids(&items), ids(&normal));
    assert_eq!(items.len(), normal.len());

    // Page 2 of a non-delta calendarView round, with a 504.
    let view = format!("{}/v1.0/me/calendarView?{WINDOW}&$top=4", emu.base_url());
    let (normal, _) = round_with_retry(&c, &view, &token, &[]).await;
    emu.control().push_fault(Fault::FailPage {
        page_index: 2,
        status: 504,
    });
    let (items, statuses) = round_with_retry(&c, &view, &token, &[]).await;
    assert_eq!(&statuses[..4], &[200, 200, 504, 200], "{statuses:?}");
    assert_eq!(items, normal);
}

#[tokio::test]
async fn expire_delta_tokens() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let (_, _, delta_link) = delta_round(&c, &first, &token, &["odata.maxpagesize=50"]).await;
    // Still good before the fault.
    let (status, _, _) = graph_get(&c, &delta_link, &token, &[]).await;
    assert_eq!(status, 200);

    emu.control().push_fault(Fault::ExpireDeltaTokens);
    let (status, headers, body) = graph_get(&c, &delta_link, &token, &[]).await;
    assert_eq!(status, 410, "{body}");
    assert_graph_error(&body, "SyncStateNotFound");
    let location = headers["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/v1.0/me/calendarView/delta?", emu.base_url())),
        "{location}"
    );
    // The Location starts a full round over the same window; its deltaLink works.
    let (items, _, fresh) = delta_round(&c, &location, &token, &["odata.maxpagesize=50"]).await;
    assert!(!items.is_empty());
    let (status, _, body) = graph_get(&c, &fresh, &token, &[]).await;
    assert_eq!(status, 200, "{body}");
    // And the old one stays dead.
    let (status, _, _) = graph_get(&c, &delta_link, &token, &[]).await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn next_link_loop() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=5"];
    emu.control().push_fault(Fault::NextLinkLoop);
    let (status, _, body) = graph_get(&c, &first, &token, &prefer).await;
    assert_eq!(status, 200);
    let first_page = ids(body["value"].as_array().unwrap());
    let link = body["@odata.nextLink"].as_str().unwrap().to_string();
    for _ in 0..5 {
        let (status, _, body) = graph_get(&c, &link, &token, &prefer).await;
        assert_eq!(status, 200);
        assert_eq!(body["@odata.nextLink"].as_str(), Some(link.as_str()));
        assert!(body.get("@odata.deltaLink").is_none());
        assert_eq!(ids(body["value"].as_array().unwrap()), first_page);
    }
    // Only that round loops: a new one ends.
    let (items, _, _) = delta_round(&c, &first, &token, &prefer).await;
    assert!(items.len() > 5);
}

#[tokio::test]
async fn repeat_page() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=5"];
    let (normal, normal_pages, _) = delta_round(&c, &first, &token, &prefer).await;
    assert!(normal.len() > 10);

    emu.control()
        .push_fault(Fault::RepeatPage { page_index: 1 });
    let (status, _, page0) = graph_get(&c, &first, &token, &prefer).await;
    assert_eq!(status, 200);
    let link1 = page0["@odata.nextLink"].as_str().unwrap().to_string();
    let (_, _, page1) = graph_get(&c, &link1, &token, &prefer).await;
    assert_eq!(page1["@odata.nextLink"].as_str(), Some(link1.as_str()));
    let (_, _, again) = graph_get(&c, &link1, &token, &prefer).await;
    assert_eq!(again["value"], page1["value"]);
    let link2 = again["@odata.nextLink"].as_str().unwrap();
    assert_ne!(link2, link1);
    let (rest, rest_pages, _) = delta_round(&c, link2, &token, &prefer).await;
    let mut items: Vec<Value> = Vec::new();
    for page in [&page0, &page1, &again] {
        items.extend(page["value"].as_array().unwrap().iter().cloned());
    }
    items.extend(rest);
    assert_eq!(rest_pages + 3, normal_pages + 1);
    assert_eq!(items.len(), normal.len() + 5);
    assert_eq!(ids(&items), ids(&normal));
}

// ---- control API and instrumentation -------------------------------------------------------

#[tokio::test]
async fn faults_http_api() {
    let emu = start().await;
    let c = client();
    let base = emu.base_url();
    let (status, body) = post_fault(&emu, json!({ "kind": "throttle", "count": 1 })).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post_fault(&emu, json!({ "kind": "meteorStrike" })).await;
    assert_eq!(status, 400);
    let (status, body) = post_fault(
        &emu,
        json!([
            { "kind": "consentRequired" },
            { "kind": "slow", "count": 3, "delayMs": 10 },
            { "kind": "hang", "count": 1 },
            { "kind": "tokenServerError", "count": 1 },
            { "kind": "nextLinkLoop" },
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed: Value = c
        .get(format!("{base}/_emulator/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = listed["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "consentRequired",
            "tokenServerError",
            "slow",
            "hang",
            "nextLinkLoop"
        ]
    );
    assert_eq!(
        emu.control().active_faults()[1],
        Fault::TokenServerError {
            count: 1,
            status: 503
        }
    );
    c.delete(format!("{base}/_emulator/faults"))
        .send()
        .await
        .unwrap();
    assert!(emu.control().active_faults().is_empty());
}

#[tokio::test]
async fn request_log_matches_counters() {
    let emu = start().await;
    let c = client();
    let base = emu.base_url();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{base}/v1.0/me/calendarView?{WINDOW}&$top=3");
    let (status, _, _) = graph_get(&c, &url, &token, &[]).await;
    assert_eq!(status, 200);
    let (status, _, _) = graph_get(&c, &me_url(&emu), "bad", &[]).await;
    assert_eq!(status, 401);
    sign_in(&c, &base).await;
    // The control API is not logged.
    c.get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap();

    let log = emu.control().request_log();
    assert_eq!(log.len() as u64, emu.control().request_count());
    assert_eq!(
        log.iter().map(|r| r.bytes).sum::<u64>(),
        emu.control().bytes_sent()
    );
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/v1.0/me/calendarView");
    assert!(log[0].query.as_deref().unwrap().contains("$top=3"));
    assert_eq!(log[0].status, 200);
    assert!(log[0].bytes > 100);
    assert_eq!((log[1].path.as_str(), log[1].status), ("/v1.0/me", 401));
    assert_eq!(log[1].query, None);
    assert_eq!(log[2].path, "/common/oauth2/v2.0/authorize");
    assert_eq!(log[2].status, 302);
    assert_eq!(
        (log[3].method.as_str(), log[3].path.as_str(), log[3].status),
        ("POST", "/organizations/oauth2/v2.0/token", 200)
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));

    let over_http: Value = c
        .get(format!("{base}/_emulator/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["requests"].as_array().unwrap().len(), 4);
    assert_eq!(over_http["requests"][1]["path"], "/v1.0/me");
}

#[tokio::test]
async fn max_concurrency_counts_parallel_graph_requests() {
    let emu = start().await;
    let token = emu.control().issue_access_token_for_tests();
    let c = client();
    // Sequential requests: one at a time.
    for _ in 0..3 {
        graph_get(&c, &me_url(&emu), &token, &[]).await;
    }
    assert_eq!(emu.control().max_concurrent_graph_requests(), 1);
    emu.control().reset_max_concurrency();
    assert_eq!(emu.control().max_concurrent_graph_requests(), 0);

    emu.control().push_fault(Fault::Slow {
        count: 8,
        delay_ms: 600,
    });
    let url = me_url(&emu);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(emu.control().max_concurrent_graph_requests(), 8);
    // Identity requests do not count.
    emu.control().reset_max_concurrency();
    sign_in(&c, &emu.base_url()).await;
    assert_eq!(emu.control().max_concurrent_graph_requests(), 0);
}

// ---- large mailboxes -----------------------------------------------------------------------

/// A page, read as a client that keeps only what it needs (cheaper than a `Value` tree: the
/// timing below is meant to measure the emulator).
#[derive(serde::Deserialize)]
struct SlimPage {
    value: Vec<SlimItem>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

#[derive(serde::Deserialize)]
struct SlimItem {
    id: String,
    subject: Option<String>,
}

/// A delta round: (items, pages, deltaLink).
async fn slim_round(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &str,
) -> (Vec<SlimItem>, usize, String) {
    let mut items = Vec::new();
    let mut next = url.to_string();
    for pages in 1..100 {
        let resp = c
            .get(&next)
            .bearer_auth(token)
            .header("Prefer", prefer)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let page: SlimPage = resp.json().await.unwrap();
        items.extend(page.value);
        match (page.next_link, page.delta_link) {
            (Some(n), _) => next = n,
            (None, Some(d)) => return (items, pages, d),
            (None, None) => panic!("a page without nextLink or deltaLink"),
        }
    }
    panic!("nextLink loop");
}

// Server and client on their own threads: the timing is the emulator's, not the test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_insert_and_fast_paging_over_10k_events() {
    let emu = start_with(Seed::Empty).await;
    let control = emu.control();
    let base_time = NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let events: Vec<Value> = (0..10_000i64)
        .map(|i| {
            let start = base_time + TimeDelta::minutes(4 * i);
            let end = start + TimeDelta::minutes(30);
            json!({
                "subject": format!("Event {i}"),
                "start": { "dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" },
                "end": { "dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" },
            })
        })
        .collect();
    let seq = control.change_sequence();
    let t = Instant::now();
    let ids_added = control.add_events_bulk(events).unwrap();
    let insert = t.elapsed();
    assert_eq!(ids_added.len(), 10_000);
    assert_eq!(control.change_sequence(), seq + 1);
    // All or nothing.
    let bad = vec![json!({ "subject": "no times" })];
    assert!(control.add_events_bulk(bad).is_err());
    assert_eq!(control.change_sequence(), seq + 1);

    let c = client();
    let token = control.issue_access_token_for_tests();
    let first = format!(
        "{}/v1.0/me/calendarView/delta?startDateTime=2026-10-31T00:00:00Z&endDateTime=2026-12-01T00:00:00Z",
        emu.base_url()
    );
    let prefer = "odata.maxpagesize=500";
    let t = Instant::now();
    let (items, pages, delta_link) = slim_round(&c, &first, &token, prefer).await;
    let round = t.elapsed();
    assert_eq!(pages, 20);
    assert_eq!(items.len(), 10_000);
    let got: BTreeSet<String> = items.iter().map(|i| i.id.clone()).collect();
    assert_eq!(got.len(), 10_000);
    assert_eq!(got, ids_added.iter().cloned().collect::<BTreeSet<_>>());
    eprintln!("bulk insert of 10k: {insert:?}; initial delta round (20 pages of 500): {round:?}");
    // About 0.8 s in a debug build on an idle 2-core machine. The bound leaves room for a
    // loaded CI machine and still catches a page cost that grows with the mailbox (work
    // over all 10,000 events per page takes well over 10 s).
    assert!(
        round < Duration::from_secs(5),
        "initial round took {round:?}"
    );

    // An incremental round over the big mailbox reports just the change, quickly.
    control
        .update_event(&ids_added[1234], json!({ "subject": "Moved" }))
        .unwrap();
    let t = Instant::now();
    let (changes, _, _) = slim_round(&c, &delta_link, &token, prefer).await;
    let incremental = t.elapsed();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].subject.as_deref(), Some("Moved"));
    eprintln!("incremental round: {incremental:?}");
    assert!(incremental < Duration::from_secs(2), "{incremental:?}");

    // The non-delta view pages over the same mailbox too.
    let view = format!(
        "{}/v1.0/me/calendarView?startDateTime=2026-10-31T00:00:00Z&endDateTime=2026-12-01T00:00:00Z",
        emu.base_url()
    );
    let t = Instant::now();
    let all = calendar_view(&c, &view, &token, &[prefer]).await;
    eprintln!("calendarView (20 pages of 500): {:?}", t.elapsed());
    assert_eq!(all.len(), 10_000);
}
