//! Identity platform: authorization code + PKCE, refresh rotation, device code, errors.
#![allow(clippy::unwrap_used)] // tests may unwrap (helpers outside #[test] fns too)

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use presently_emulator::{DeviceStep, DEMO_CLIENT_ID, DEMO_TENANT_ID, DEMO_UPN};
use serde_json::Value;

const SCOPE: &str =
    "offline_access openid profile https://graph.microsoft.com/Calendars.Read User.Read";
const REDIRECT: &str = "http://127.0.0.1:53117/";

fn query_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

async fn authorize(c: &reqwest::Client, base: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let url = url::Url::parse_with_params(&format!("{base}/common/oauth2/v2.0/authorize"), params)
        .unwrap();
    c.get(url).send().await.unwrap()
}

/// Runs /authorize with good parameters and returns the code.
async fn get_code(c: &reqwest::Client, base: &str, challenge: &str) -> String {
    let resp = authorize(
        c,
        base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("response_mode", "query"),
            ("scope", SCOPE),
            ("state", "st4te"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 302);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let q = query_of(&loc);
    assert_eq!(get(&q, "state"), Some("st4te"));
    assert!(get(&q, "session_state").is_some());
    get(&q, "code").expect("code").to_string()
}

async fn token(c: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = c
        .post(format!("{base}/organizations/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn redeem(c: &reqwest::Client, base: &str, code: &str, verifier: &str) -> (u16, Value) {
    token(
        c,
        base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("scope", SCOPE),
        ],
    )
    .await
}

fn assert_aad_error(status: u16, body: &Value, error: &str, code: i64) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(
            body[k].as_str().is_some_and(|s| !s.is_empty()),
            "missing {k}: {body}"
        );
    }
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let (verifier, challenge) = pkce();
    let code = get_code(&c, &base, &challenge).await;

    // Wrong verifier: invalid_grant AADSTS501481.
    let (status, body) = redeem(
        &c,
        &base,
        &code,
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )
    .await;
    assert_aad_error(status, &body, "invalid_grant", 501481);

    // Good verifier: tokens.
    let (status, body) = redeem(&c, &base, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["scope"].as_str().unwrap().contains("Calendars.Read"));
    assert!(body["access_token"].as_str().unwrap().len() > 40);
    assert!(body["refresh_token"].as_str().is_some());
    let id_token = body["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["tid"], DEMO_TENANT_ID);
    assert_eq!(claims["preferred_username"], DEMO_UPN);
    assert!(claims["oid"].as_str().is_some() && claims["name"].as_str().is_some());

    // The access token works on Graph.
    let (status, _, me) = graph_get(
        &c,
        &format!("{base}/v1.0/me"),
        body["access_token"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["userPrincipalName"], DEMO_UPN);

    // A code redeems once.
    let (status, body) = redeem(&c, &base, &code, &verifier).await;
    assert_aad_error(status, &body, "invalid_grant", 54005);
    emu.shutdown().await;
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let (verifier, challenge) = pkce();
    let resp = authorize(
        &c,
        &base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "Calendars.Read"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    let code = get(&q, "code").unwrap().to_string();
    let (status, body) = token(
        &c,
        &base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
}

#[tokio::test]
async fn authorize_errors() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let (_, challenge) = pkce();

    // A redirect URI that is not registered: an error page, never a redirect.
    for bad in [
        "http://evil.example/cb",
        "http://127.0.0.1:5000/other-path",
        "https://localhost/",
    ] {
        let resp = authorize(
            &c,
            &base,
            &[
                ("client_id", DEMO_CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", bad),
                ("scope", SCOPE),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("AADSTS50011"));
    }

    // An unknown app: error page.
    let resp = authorize(
        &c,
        &base,
        &[
            ("client_id", "00000000-0000-0000-0000-000000000001"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPE),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().await.unwrap().contains("AADSTS700016"));

    // Missing PKCE: the error goes back to the app with the state.
    let resp = authorize(
        &c,
        &base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPE),
            ("state", "xyz"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 302);
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(get(&q, "error"), Some("invalid_request"));
    assert!(get(&q, "error_description").unwrap().starts_with("AADSTS"));
    assert_eq!(get(&q, "state"), Some("xyz"));
    assert!(get(&q, "code").is_none());

    // Wrong response type.
    let resp = authorize(
        &c,
        &base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("response_type", "token"),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPE),
            ("state", "s2"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(get(&q, "error"), Some("unsupported_response_type"));
    assert_eq!(get(&q, "state"), Some("s2"));

    // A loopback URI without a path comes back with a trailing '/'.
    let resp = authorize(
        &c,
        &base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:4711"),
            ("scope", SCOPE),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 302);
    assert!(resp.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("http://localhost:4711/?code="));
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let (verifier, challenge) = pkce();
    let code = get_code(&c, &base, &challenge).await;
    let (_, first) = redeem(&c, &base, &code, &verifier).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();

    let refresh = |rt: String| {
        let c = c.clone();
        let base = base.clone();
        async move {
            token(
                &c,
                &base,
                &[
                    ("client_id", DEMO_CLIENT_ID),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                    ("scope", SCOPE),
                ],
            )
            .await
        }
    };
    let (status, second) = refresh(rt1.clone()).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_ne!(first["access_token"], second["access_token"]);

    // The old one is revoked by the rotation.
    let (status, body) = refresh(rt1).await;
    assert_aad_error(status, &body, "invalid_grant", 70008);
    // The new one works (once).
    let (status, third) = refresh(rt2.clone()).await;
    assert_eq!(status, 200, "{third}");
    let (status, body) = refresh(rt2).await;
    assert_aad_error(status, &body, "invalid_grant", 70008);
    // Garbage.
    let (status, body) = refresh("not-a-token".into()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn token_endpoint_rejects_secrets_and_bad_requests() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let (status, body) = token(
        &c,
        &base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", "s3cret"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], serde_json::json!([700025]));

    let (status, body) = token(&c, &base, &[("client_id", DEMO_CLIENT_ID)]).await;
    assert_aad_error(status, &body, "invalid_request", 900144);

    let (status, body) = token(
        &c,
        &base,
        &[("client_id", DEMO_CLIENT_ID), ("grant_type", "password")],
    )
    .await;
    assert_aad_error(status, &body, "unsupported_grant_type", 70003);

    let resp = c
        .post(format!("{base}/not-a-tenant/oauth2/v2.0/token"))
        .form(&[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_codes"], serde_json::json!([90002]));
}

async fn device_start(c: &reqwest::Client, base: &str) -> Value {
    let resp = c
        .post(format!("{base}/{DEMO_TENANT_ID}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", DEMO_CLIENT_ID), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.unwrap()
}

async fn device_poll(c: &reqwest::Client, base: &str, dc: &str) -> (u16, Value) {
    token(
        c,
        base,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", dc),
        ],
    )
    .await
}

#[tokio::test]
async fn device_code_flow() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let d = device_start(&c, &base).await;
    assert_eq!(d["expires_in"], 900);
    assert_eq!(d["interval"], 5);
    assert_eq!(d["verification_uri"], format!("{base}/devicelogin"));
    let user_code = d["user_code"].as_str().unwrap();
    assert!(d["message"].as_str().unwrap().contains(user_code));
    assert!(d.get("verification_uri_complete").is_none());
    let dc = d["device_code"].as_str().unwrap();

    let (status, body) = device_poll(&c, &base, dc).await;
    assert_aad_error(status, &body, "authorization_pending", 70016);
    let (status, body) = device_poll(&c, &base, dc).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some() && body["refresh_token"].as_str().is_some());
    let (status, body) = device_poll(&c, &base, dc).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    // Scripted: slow_down, then declined for good.
    emu.control()
        .set_device_code_script(vec![DeviceStep::SlowDown, DeviceStep::Decline]);
    let d = device_start(&c, &base).await;
    let dc = d["device_code"].as_str().unwrap();
    let (_, body) = device_poll(&c, &base, dc).await;
    assert_eq!(body["error"], "slow_down");
    let (_, body) = device_poll(&c, &base, dc).await;
    assert_eq!(body["error"], "authorization_declined");
    let (_, body) = device_poll(&c, &base, dc).await;
    assert_eq!(body["error"], "authorization_declined");

    emu.control()
        .set_device_code_script(vec![DeviceStep::Pending, DeviceStep::Expire]);
    let d = device_start(&c, &base).await;
    let dc = d["device_code"].as_str().unwrap();
    let (_, body) = device_poll(&c, &base, dc).await;
    assert_eq!(body["error"], "authorization_pending");
    let (status, body) = device_poll(&c, &base, dc).await;
    assert_aad_error(status, &body, "expired_token", 70019);
}
