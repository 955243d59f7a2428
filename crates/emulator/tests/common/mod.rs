//! Shared helpers of the emulator's integration tests (real HTTP on loopback).
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDate;
use presently_emulator::{Emulator, EmulatorConfig, Seed};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A Tuesday; the demo week is Mon 2026-11-23 .. Fri 2026-11-27 (Europe/Berlin, UTC+1).
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

pub async fn start() -> Emulator {
    start_with(Seed::Demo).await
}

pub async fn start_with(seed: Seed) -> Emulator {
    let cfg = EmulatorConfig {
        today: today(),
        seed,
        ..EmulatorConfig::default()
    };
    Emulator::start(cfg).await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}-verifier-0123456789abcdefghijklmnop",
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// GET on Graph with a bearer token and optional Prefer headers; returns (status, headers, body).
pub async fn graph_get(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = c.get(url).bearer_auth(token);
    for p in prefer {
        req = req.header("Prefer", *p);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// All events of a non-delta calendarView (UTC), following nextLinks.
pub async fn calendar_view(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url.to_string());
    let mut guard = 0;
    while let Some(u) = next {
        guard += 1;
        assert!(guard < 200, "nextLink loop");
        let (status, _, body) = graph_get(c, &u, token, prefer).await;
        assert_eq!(status, 200, "{body}");
        out.extend(body["value"].as_array().unwrap().iter().cloned());
        next = body["@odata.nextLink"].as_str().map(str::to_string);
    }
    out
}

/// One delta round from `url` (an initial request or a deltaLink): (items, pages, deltaLink).
pub async fn delta_round(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> (Vec<Value>, usize, String) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next = url.to_string();
    loop {
        pages += 1;
        assert!(pages < 200, "nextLink loop");
        let (status, _, body) = graph_get(c, &next, token, prefer).await;
        assert_eq!(status, 200, "{body}");
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        if let Some(n) = body["@odata.nextLink"].as_str() {
            next = n.to_string();
        } else {
            let d = body["@odata.deltaLink"]
                .as_str()
                .expect("a page has a nextLink or a deltaLink");
            return (items, pages, d.to_string());
        }
    }
}

pub fn parse_graph_dt(v: &Value) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(v["dateTime"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap()
}

// ---- identity platform ------------------------------------------------------------------

/// The loopback redirect URI the demo application registers.
pub const REDIRECT: &str = "http://127.0.0.1:53117/";

/// The query pairs of a redirect's `Location`.
pub fn query_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The value of `key` in query pairs.
pub fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// GET /authorize with good parameters for `scope` and `challenge`: the redirect's query.
pub async fn authorize_query(
    c: &reqwest::Client,
    base: &str,
    scope: &str,
    challenge: &str,
) -> Vec<(String, String)> {
    let url = url::Url::parse_with_params(
        &format!("{base}/common/oauth2/v2.0/authorize"),
        &[
            ("client_id", presently_emulator::DEMO_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("response_mode", "query"),
            ("scope", scope),
            ("state", "st4te"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let resp = c.get(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    query_of(&loc)
}

/// POST /token with `form`: (status, body).
pub async fn token(c: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = c
        .post(format!("{base}/organizations/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Redeems an authorization code with its PKCE verifier.
pub async fn redeem(
    c: &reqwest::Client,
    base: &str,
    code: &str,
    verifier: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("client_id", presently_emulator::DEMO_CLIENT_ID),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token(c, base, &form).await
}

/// Redeems a refresh token.
pub async fn refresh(c: &reqwest::Client, base: &str, refresh_token: &str) -> (u16, Value) {
    token(
        c,
        base,
        &[
            ("client_id", presently_emulator::DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// The ids of Graph items.
pub fn ids(items: &[Value]) -> std::collections::BTreeSet<String> {
    items
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}
