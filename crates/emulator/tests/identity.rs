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

async fn authorize(c: &reqwest::Client, base: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let url = url::Url::parse_with_params(&format!("{base}/common/oauth2/v2.0/authorize"), params)
        .unwrap();
    c.get(url).send().await.unwrap()
}

/// Runs /authorize with good parameters and returns the code.
async fn get_code(c: &reqwest::Client, base: &str, challenge: &str) -> String {
    let q = authorize_query(c, base, SCOPE, challenge).await;
    assert_eq!(param(&q, "state"), Some("st4te"));
    assert!(param(&q, "session_state").is_some());
    param(&q, "code").expect("code").to_string()
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
        Some(SCOPE),
    )
    .await;
    assert_aad_error(status, &body, "invalid_grant", 501481);

    // Good verifier: tokens.
    let (status, body) = redeem(&c, &base, &code, &verifier, Some(SCOPE)).await;
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
    let (status, body) = redeem(&c, &base, &code, &verifier, Some(SCOPE)).await;
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
    let code = param(&q, "code").unwrap().to_string();
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
    assert_eq!(param(&q, "error"), Some("invalid_request"));
    assert!(param(&q, "error_description")
        .unwrap()
        .starts_with("AADSTS"));
    assert_eq!(param(&q, "state"), Some("xyz"));
    assert!(param(&q, "code").is_none());

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
    assert_eq!(param(&q, "error"), Some("unsupported_response_type"));
    assert_eq!(param(&q, "state"), Some("s2"));

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
    let (_, first) = redeem(&c, &base, &code, &verifier, Some(SCOPE)).await;
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

// ---- directory switches: app registration, tenant consent policy, Conditional Access ----

/// The parameters of a good authorization request (state "st").
fn good_authorize_params(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", DEMO_CLIENT_ID.to_string()),
        ("response_type", "code".to_string()),
        ("redirect_uri", REDIRECT.to_string()),
        ("response_mode", "query".to_string()),
        ("scope", SCOPE.to_string()),
        ("state", "st".to_string()),
        ("code_challenge", challenge.to_string()),
        ("code_challenge_method", "S256".to_string()),
    ]
}

async fn authorize_at(c: &reqwest::Client, base: &str, tenant: &str) -> reqwest::Response {
    let (_, challenge) = pkce();
    let params = good_authorize_params(&challenge);
    let url = url::Url::parse_with_params(
        &format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        params.iter().map(|(k, v)| (*k, v.as_str())),
    )
    .unwrap();
    c.get(url).send().await.unwrap()
}

/// `/authorize` showed its own error page with this code: no redirect.
async fn assert_error_page(resp: reqwest::Response, code: u32) {
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("location").is_none());
    let page = resp.text().await.unwrap();
    assert!(page.contains(&format!("AADSTS{code}: ")), "{page}");
}

/// `/authorize` redirected back to the app with this error and code, keeping the state.
fn assert_error_redirect(resp: &reqwest::Response, error: &str, code: u32) {
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query_of(location);
    assert_eq!(param(&q, "error"), Some(error), "{location}");
    assert!(
        param(&q, "error_description")
            .unwrap()
            .starts_with(&format!("AADSTS{code}: ")),
        "{location}"
    );
    assert_eq!(param(&q, "state"), Some("st"));
    assert!(param(&q, "code").is_none());
}

/// A fresh refresh token of the demo app.
async fn refresh_token(c: &reqwest::Client, base: &str) -> String {
    let (verifier, challenge) = pkce();
    let code = get_code(c, base, &challenge).await;
    let (_, body) = redeem(c, base, &code, &verifier, Some(SCOPE)).await;
    body["refresh_token"].as_str().unwrap().to_string()
}

async fn devicecode_at(c: &reqwest::Client, base: &str, tenant: &str) -> (u16, Value) {
    let resp = c
        .post(format!("{base}/{tenant}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", DEMO_CLIENT_ID), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn patch_json(c: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let resp = c.patch(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_disabled_app_gets_aadsts7000112_everywhere() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let rt = refresh_token(&c, &base).await;
    let app_url = format!("{base}/_emulator/apps/{DEMO_CLIENT_ID}");

    let (status, app) = patch_json(&c, &app_url, serde_json::json!({ "enabled": false })).await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["enabled"], false);
    assert_eq!(app["clientId"], DEMO_CLIENT_ID);

    // The sign-in page shows the error; it does not redirect.
    assert_error_page(authorize_at(&c, &base, "organizations").await, 7000112).await;
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, "unauthorized_client", 7000112);
    let (status, body) = devicecode_at(&c, &base, "organizations").await;
    assert_aad_error(status, &body, "unauthorized_client", 7000112);

    // Enabled again: the same refresh token still works (the refusal did not spend it).
    emu.control().set_app_enabled(DEMO_CLIENT_ID, true).unwrap();
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn redirect_uris_and_deleted_apps_are_registration_properties() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let app_url = format!("{base}/_emulator/apps/{DEMO_CLIENT_ID}");

    // Only a /callback path registered: the loopback root is not, so AADSTS50011 on the page.
    let (status, app) = patch_json(
        &c,
        &app_url,
        serde_json::json!({ "redirectUris": ["http://127.0.0.1/callback"] }),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(
        app["redirectUris"],
        serde_json::json!(["http://127.0.0.1/callback"])
    );
    assert_error_page(authorize_at(&c, &base, "organizations").await, 50011).await;
    emu.control()
        .set_app_redirect_uris(DEMO_CLIENT_ID, &["http://127.0.0.1"])
        .unwrap();
    assert_eq!(authorize_at(&c, &base, "organizations").await.status(), 302);

    // A deleted registration: AADSTS700016 on the page, at /token and at /devicecode.
    let rt = refresh_token(&c, &base).await;
    let resp = c.delete(&app_url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_error_page(authorize_at(&c, &base, "organizations").await, 700016).await;
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, "unauthorized_client", 700016);
    let (status, body) = devicecode_at(&c, &base, "organizations").await;
    assert_aad_error(status, &body, "unauthorized_client", 700016);
    assert_eq!(c.get(&app_url).send().await.unwrap().status(), 404);
    assert_eq!(c.delete(&app_url).send().await.unwrap().status(), 404);
    assert_eq!(
        emu.control().remove_app(DEMO_CLIENT_ID),
        Err(presently_emulator::ControlError::NotFound(
            DEMO_CLIENT_ID.to_string()
        ))
    );

    // Registered again over HTTP (defaults: enabled, multi-tenant, no admin consent).
    let resp = c
        .post(format!("{base}/_emulator/apps"))
        .json(&serde_json::json!({
            "clientId": DEMO_CLIENT_ID,
            "redirectUris": ["http://127.0.0.1/"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let app: Value = resp.json().await.unwrap();
    assert_eq!(
        app,
        serde_json::json!({
            "clientId": DEMO_CLIENT_ID,
            "redirectUris": ["http://127.0.0.1/"],
            "allowPublicClientFlows": true,
            "enabled": true,
            "signInAudience": "AzureADMultipleOrgs",
            "adminConsented": false,
        })
    );
    assert_eq!(authorize_at(&c, &base, "organizations").await.status(), 302);
    let list: Value = c
        .get(format!("{base}/_emulator/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["apps"].as_array().unwrap().len(), 1, "{list}");

    // Bad input changes nothing.
    for bad in [
        serde_json::json!({ "signInAudience": "Everyone" }),
        serde_json::json!({ "nope": true }),
        serde_json::json!({ "clientId": "another" }),
        serde_json::json!({ "enabled": "no" }),
    ] {
        let (status, body) = patch_json(&c, &app_url, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(emu.control().app_registration(DEMO_CLIENT_ID).unwrap(), app);
    let resp = c
        .post(format!("{base}/_emulator/apps"))
        .json(&serde_json::json!({ "clientId": DEMO_CLIENT_ID }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400, "already registered");
}

#[tokio::test]
async fn a_single_tenant_app_refuses_the_multi_tenant_endpoints() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let rt = refresh_token(&c, &base).await;
    emu.control()
        .set_app_sign_in_audience(DEMO_CLIENT_ID, "AzureADMyOrg")
        .unwrap();
    assert_eq!(
        emu.control().app_registration(DEMO_CLIENT_ID).unwrap()["signInAudience"],
        "AzureADMyOrg"
    );

    // After the user signed in, /authorize redirects back with the error.
    for tenant in ["common", "organizations"] {
        let resp = authorize_at(&c, &base, tenant).await;
        assert_error_redirect(&resp, "invalid_request", 50194);
        let (status, body) = devicecode_at(&c, &base, tenant).await;
        assert_aad_error(status, &body, "invalid_request", 50194);
    }
    // The test helper's token endpoint is /organizations.
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, "invalid_request", 50194);

    // The tenant-specific endpoints work (by id and by domain).
    for tenant in [DEMO_TENANT_ID, presently_emulator::DEMO_TENANT_DOMAIN] {
        assert_eq!(authorize_at(&c, &base, tenant).await.status(), 302);
        assert_eq!(devicecode_at(&c, &base, tenant).await.0, 200);
    }

    // A work-only app (the default) via /consumers: AADSTS9002332, redirected back.
    emu.control()
        .set_app_sign_in_audience(DEMO_CLIENT_ID, "AzureADMultipleOrgs")
        .unwrap();
    assert_error_redirect(
        &authorize_at(&c, &base, "consumers").await,
        "invalid_request",
        9002332,
    );
    let (status, body) = devicecode_at(&c, &base, "consumers").await;
    assert_aad_error(status, &body, "invalid_request", 9002332);
    // An app for personal accounts too may use /consumers.
    emu.control()
        .set_app_sign_in_audience(DEMO_CLIENT_ID, "AzureADandPersonalMicrosoftAccount")
        .unwrap();
    assert_eq!(authorize_at(&c, &base, "consumers").await.status(), 302);
    assert_eq!(
        emu.control()
            .set_app_sign_in_audience(DEMO_CLIENT_ID, "Everyone"),
        Err(presently_emulator::ControlError::Invalid(
            "unknown signInAudience \"Everyone\"".into()
        ))
    );
}

#[tokio::test]
async fn a_tenant_without_user_consent_needs_admin_consent() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let tenant_url = format!("{base}/_emulator/tenant");
    let policy: Value = c
        .get(&tenant_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        policy,
        serde_json::json!({ "userConsentAllowed": true, "adminConsentWorkflow": false })
    );
    let rt = refresh_token(&c, &base).await;

    let (status, policy) = patch_json(
        &c,
        &tenant_url,
        serde_json::json!({ "userConsentAllowed": false }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(policy["userConsentAllowed"], false);
    assert_error_redirect(
        &authorize_at(&c, &base, "organizations").await,
        "access_denied",
        90094,
    );
    // Grants users consented to before stay valid.
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_eq!(status, 200, "{body}");

    // The admin consent workflow: the user may request approval.
    emu.control().set_admin_consent_workflow(true);
    assert_error_redirect(
        &authorize_at(&c, &base, "organizations").await,
        "access_denied",
        90095,
    );

    // An administrator consents: sign-in works.
    let (status, app) = patch_json(
        &c,
        &format!("{base}/_emulator/apps/{DEMO_CLIENT_ID}"),
        serde_json::json!({ "adminConsented": true }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app["adminConsented"], true);
    assert_eq!(authorize_at(&c, &base, "organizations").await.status(), 302);

    // Not a fault: clearing the faults leaves the tenant as configured.
    emu.control().clear_faults();
    assert_eq!(
        emu.control().tenant_policy(),
        serde_json::json!({ "userConsentAllowed": false, "adminConsentWorkflow": true })
    );
    let (status, _) = patch_json(&c, &tenant_url, serde_json::json!({ "other": 1 })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn missing_user_consent_answers_aadsts65001_at_the_token_endpoint() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let rt = refresh_token(&c, &base).await;
    emu.control()
        .push_fault(presently_emulator::Fault::ConsentRequired);
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, "invalid_grant", 65001);
    assert_eq!(body["suberror"], "consent_required");
    assert_error_redirect(
        &authorize_at(&c, &base, "organizations").await,
        "consent_required",
        65001,
    );
}

#[tokio::test]
async fn a_conditional_access_block_refuses_sign_in_and_tokens() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let rt = refresh_token(&c, &base).await;
    let faults_url = format!("{base}/_emulator/faults");
    let resp = c
        .post(&faults_url)
        .json(&serde_json::json!({ "kind": "conditionalAccessBlock" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let active: Value = resp.json().await.unwrap();
    assert_eq!(
        active["active"],
        serde_json::json!([{ "kind": "conditionalAccessBlock", "managedDeviceRequired": false }])
    );

    assert_error_redirect(
        &authorize_at(&c, &base, "organizations").await,
        "access_denied",
        53003,
    );
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, "invalid_grant", 53003);
    assert_eq!(body["suberror"], "message_only");
    // Device code: the block comes with the poll once the user signed in.
    emu.control()
        .set_device_code_script(vec![DeviceStep::Approve]);
    let d = device_start(&c, &base).await;
    let (status, body) = device_poll(&c, &base, d["device_code"].as_str().unwrap()).await;
    assert_aad_error(status, &body, "invalid_grant", 53003);

    // A policy that wants a managed device.
    emu.control().clear_faults();
    emu.control()
        .push_fault(presently_emulator::Fault::ConditionalAccessBlock {
            managed_device_required: true,
        });
    assert_error_redirect(
        &authorize_at(&c, &base, "organizations").await,
        "access_denied",
        530003,
    );
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_aad_error(status, &body, "invalid_grant", 530003);

    // Cleared over HTTP: the refresh token was not spent by the refusals.
    let resp = c.delete(&faults_url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(emu.control().active_faults().is_empty());
    let (status, body) = refresh(&c, &base, &rt).await;
    assert_eq!(status, 200, "{body}");
}
