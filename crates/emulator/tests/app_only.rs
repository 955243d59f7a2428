//! App-only access (server mode): the client-credentials grant and the `/users/{id}/…` and
//! `/groups/{id}/…` routes with application permissions. The certificate path is covered
//! end to end by presently-server's tests (they sign assertions with real keys).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use presently_emulator::DEMO_TENANT_ID;
use serde_json::Value;

const DAEMON: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";

async fn token_request(
    c: &reqwest::Client,
    base: &str,
    tenant: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let resp = c
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn app_token(c: &reqwest::Client, base: &str, secret: &str) -> (u16, Value) {
    let scope = format!("{base}/.default");
    token_request(
        c,
        base,
        DEMO_TENANT_ID,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", secret),
            ("scope", &scope),
        ],
    )
    .await
}

async fn get(c: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let resp = c.get(url).bearer_auth(token).send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn client_credentials_with_a_secret_and_their_errors() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    emu.control()
        .register_confidential_app(DAEMON, None, &["right"], &["Calendars.Read"])
        .unwrap();

    let (status, body) = app_token(&c, &base, "right").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for an app"
    );

    let (status, body) = app_token(&c, &base, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], serde_json::json!([7000215]));

    // A delegated scope instead of {resource}/.default.
    let (status, body) = token_request(
        &c,
        &base,
        DEMO_TENANT_ID,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "right"),
            ("scope", "Calendars.Read"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_codes"], serde_json::json!([1002012]));

    // The multi-tenant endpoints name no tenant for an app acting as itself.
    let scope = format!("{base}/.default");
    let (status, body) = token_request(
        &c,
        &base,
        "common",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "right"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_codes"], serde_json::json!([50059]));

    // An app nobody registered.
    let (status, body) = token_request(
        &c,
        &base,
        DEMO_TENANT_ID,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "11111111-2222-3333-4444-555555555555"),
            ("client_secret", "right"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_codes"], serde_json::json!([700016]));
}

#[tokio::test]
async fn users_routes_need_an_app_token_with_the_permission() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let control = emu.control();
    let users = control.add_users(2);
    control
        .register_confidential_app(DAEMON, None, &["s"], &["Calendars.Read"])
        .unwrap();
    let (_, body) = app_token(&c, &base, "s").await;
    let app = body["access_token"].as_str().unwrap().to_owned();
    let window = "startDateTime=2020-01-01T00:00:00Z&endDateTime=2100-01-01T00:00:00Z";

    // By id and by user principal name; each user's own mailbox.
    let (status, by_id) = get(
        &c,
        &format!(
            "{base}/v1.0/users/{}/calendarView/delta?{window}",
            users[0].0
        ),
        &app,
    )
    .await;
    assert_eq!(status, 200, "{by_id}");
    assert!(by_id["value"].as_array().is_some_and(|v| !v.is_empty()));
    let (status, by_upn) = get(
        &c,
        &format!(
            "{base}/v1.0/users/{}/calendarView/delta?{window}",
            users[0].1
        ),
        &app,
    )
    .await;
    assert_eq!(status, 200, "{by_upn}");
    let next = by_id["@odata.nextLink"]
        .as_str()
        .or(by_id["@odata.deltaLink"].as_str())
        .unwrap();
    assert!(
        next.contains(&format!("/v1.0/users/{}/calendarView/delta", users[0].0)),
        "{next}"
    );

    let (status, body) = get(
        &c,
        &format!("{base}/v1.0/users/nobody/calendarView/delta?{window}"),
        &app,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ErrorInvalidUser");

    // An app token has no /me.
    let (status, body) = get(&c, &format!("{base}/v1.0/me"), &app).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("delegated"));

    // A delegated token cannot read another user's calendar; an app without the
    // permission neither; nor read group membership.
    let delegated = control.issue_access_token_for_tests();
    let url = format!(
        "{base}/v1.0/users/{}/calendarView/delta?{window}",
        users[1].0
    );
    let (status, body) = get(&c, &url, &delegated).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "ErrorAccessDenied");
    control
        .register_confidential_app(DAEMON, None, &["s"], &[])
        .unwrap();
    let (_, body) = app_token(&c, &base, "s").await;
    let bare = body["access_token"].as_str().unwrap().to_owned();
    let (status, _) = get(&c, &url, &bare).await;
    assert_eq!(status, 403);
    control.set_group("g", "All", &[&users[0].0]);
    let (status, body) = get(&c, &format!("{base}/v1.0/groups/g/transitiveMembers"), &app).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
}

#[tokio::test]
async fn transitive_members_page_and_reach_nested_groups() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let control = emu.control();
    let users = control.add_users(5);
    control
        .register_confidential_app(DAEMON, None, &["s"], &["GroupMember.Read.All"])
        .unwrap();
    control.set_group("outer", "Outer", &[&users[0].0, &users[1].0, "inner"]);
    control.set_group("inner", "Inner", &[&users[2].0, &users[3].0, "outer"]);
    let (_, body) = app_token(&c, &base, "s").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let mut url = format!("{base}/v1.0/groups/outer/transitiveMembers?$top=2");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = get(&c, &url, &token).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for o in body["value"].as_array().unwrap() {
            seen.push((
                o["@odata.type"].as_str().unwrap().to_owned(),
                o["id"].as_str().unwrap().to_owned(),
            ));
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut user_ids: Vec<&str> = seen
        .iter()
        .filter(|(t, _)| t == "#microsoft.graph.user")
        .map(|(_, id)| id.as_str())
        .collect();
    user_ids.sort();
    let expected: Vec<&str> = users[..4].iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(user_ids, expected);
    assert!(seen.contains(&("#microsoft.graph.group".into(), "inner".into())));
    assert_eq!(
        seen.len(),
        5,
        "each member once, the cycle back to outer ignored"
    );
}

#[tokio::test]
async fn the_http_control_api_sets_up_server_mode() {
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let resp = c
        .post(format!("{base}/_emulator/users"))
        .json(&serde_json::json!({ "count": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let id = body["users"][1]["id"].as_str().unwrap().to_owned();
    assert!(body["users"][1]["userPrincipalName"]
        .as_str()
        .unwrap()
        .starts_with("user2@"));
    let resp = c
        .post(format!("{base}/_emulator/confidential-apps"))
        .json(&serde_json::json!({ "clientId": DAEMON, "secrets": ["s"], "roles": ["Calendars.Read", "GroupMember.Read.All"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = c
        .put(format!("{base}/_emulator/groups/g1"))
        .json(&serde_json::json!({ "displayName": "Team", "members": [id] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = c
        .post(format!("{base}/_emulator/users/{id}/events"))
        .json(&serde_json::json!({
            "subject": "Planning",
            "start": {"dateTime": "2030-01-07T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-07T10:00:00", "timeZone": "UTC"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let (_, body) = app_token(&c, &base, "s").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, body) = get(
        &c,
        &format!("{base}/v1.0/groups/g1/transitiveMembers"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"][0]["id"], Value::String(id.clone()));
    let url = format!("{base}/v1.0/users/{id}/calendarView/delta?startDateTime=2030-01-07T00:00:00Z&endDateTime=2030-01-08T00:00:00Z");
    let (status, body) = get(&c, &url, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"][0]["subject"], "Planning");
}

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let resp = c
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// `/users/{id}/presence` and `/users/{id}/mailboxSettings` for app-only tokens: each
/// user's own state, 403 without the application permission, and `setStatusMessage`
/// refused app-only (Graph offers no application permission for it).
#[tokio::test]
async fn users_presence_and_mailbox_settings_need_their_application_permissions() {
    use reqwest::Method;
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let control = emu.control();
    let users = control.add_users(2);
    let set = serde_json::json!({"sessionId": DAEMON, "availability": "Busy",
        "activity": "InAConferenceCall", "expirationDuration": "PT1H"});
    let presence_url = |u: &str, call: &str| format!("{base}/v1.0/users/{u}/presence{call}");

    // Without the permissions: 403, nothing changes.
    control
        .register_confidential_app(DAEMON, None, &["s"], &["Calendars.Read"])
        .unwrap();
    let (_, body) = app_token(&c, &base, "s").await;
    let bare = body["access_token"].as_str().unwrap().to_owned();
    let url = presence_url(&users[0].0, "/setPresence");
    let (status, body) = send(&c, Method::POST, &url, &bare, set.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Presence.ReadWrite.All"));
    let (status, _) = get(&c, &presence_url(&users[0].0, ""), &bare).await;
    assert_eq!(status, 403);
    let settings = format!("{base}/v1.0/users/{}/mailboxSettings", users[0].0);
    let (status, _) = get(&c, &settings, &bare).await;
    assert_eq!(status, 403);
    assert_eq!(
        control.tenant_presence(&users[0].0)["availability"],
        "Available"
    );

    control
        .register_confidential_app(
            DAEMON,
            None,
            &["s"],
            &["Presence.ReadWrite.All", "MailboxSettings.ReadWrite"],
        )
        .unwrap();
    let (_, body) = app_token(&c, &base, "s").await;
    let app = body["access_token"].as_str().unwrap().to_owned();
    let (status, body) = send(&c, Method::POST, &url, &app, set.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, p) = get(&c, &presence_url(&users[0].1, ""), &app).await;
    assert_eq!(status, 200, "by user principal name too");
    assert_eq!(p["availability"], "Busy");
    // Each user's own presence; the signed-in (delegated) user's is untouched.
    assert_eq!(
        control.tenant_presence(&users[1].0)["availability"],
        "Available"
    );
    assert_eq!(control.presence()["availability"], "Available");
    let (status, body) = send(
        &c,
        Method::POST,
        &presence_url(&users[0].0, "/setStatusMessage"),
        &app,
        serde_json::json!({"statusMessage": {"message": {"content": "x", "contentType": "text"}}}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("application permissions"));
    let (status, body) = send(
        &c,
        Method::PATCH,
        &settings,
        &app,
        serde_json::json!({"automaticRepliesSetting": {"status": "alwaysEnabled"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        control.tenant_mailbox_settings(&users[0].0)["automaticRepliesSetting"]["status"],
        "alwaysEnabled"
    );
    let (status, _) = send(
        &c,
        Method::POST,
        &presence_url(&users[0].0, "/clearPresence"),
        &app,
        serde_json::json!({"sessionId": DAEMON}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        control.tenant_presence(&users[0].0)["availability"],
        "Available"
    );
    let calls = control.presence_calls();
    assert!(calls
        .iter()
        .filter(|c| c.kind == "setPresence")
        .all(|c| c.user.as_deref() == Some(users[0].0.as_str())));
    let (status, _) = send(
        &c,
        Method::POST,
        &presence_url("nobody", "/setPresence"),
        &app,
        set,
    )
    .await;
    assert_eq!(status, 404);
}

/// Throttling by limits (off by default): per mailbox and per tenant, a 429 with
/// `Retry-After` over the limit, for requests sent alone and for each inner request of a
/// `$batch` on its own (the batch itself answers 200). Windows are whole wall-clock
/// seconds, so the assertions allow for a second starting mid-batch.
#[tokio::test]
async fn throttling_by_limits_alone_and_inside_a_batch() {
    use presently_emulator::Throttling;
    use reqwest::Method;
    let emu = start().await;
    let base = emu.base_url();
    let c = client();
    let control = emu.control();
    let users = control.add_users(5);
    control
        .register_confidential_app(DAEMON, None, &["s"], &["Presence.ReadWrite.All"])
        .unwrap();
    let (_, body) = app_token(&c, &base, "s").await;
    let app = body["access_token"].as_str().unwrap().to_owned();
    let batch_url = format!("{base}/v1.0/$batch");
    let batch_of = |users: &[&str]| {
        let requests: Vec<Value> = users
            .iter()
            .enumerate()
            .map(|(i, u)| serde_json::json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{u}/presence")}))
            .collect();
        serde_json::json!({ "requests": requests })
    };
    let statuses = |answer: &Value| -> Vec<(u16, Option<String>)> {
        let mut v: Vec<(usize, u16, Option<String>)> = answer["responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().parse().unwrap(),
                    r["status"].as_u64().unwrap() as u16,
                    r["headers"]["Retry-After"].as_str().map(str::to_owned),
                )
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, s, r)| (s, r)).collect()
    };
    let u0 = users[0].0.as_str();

    // Off: nothing throttled.
    let (status, answer) = send(&c, Method::POST, &batch_url, &app, batch_of(&[u0, u0, u0])).await;
    assert_eq!(status, 200);
    assert!(statuses(&answer).iter().all(|(s, _)| *s == 200));

    // One request per second per mailbox: of three to the same mailbox in one batch at
    // least one is throttled (two seconds at most), with the configured Retry-After; the
    // other mailbox's request is served.
    control.set_throttling(Throttling {
        mailbox_per_sec: Some(1),
        retry_after_secs: 7,
        ..Throttling::default()
    });
    let (status, answer) = send(
        &c,
        Method::POST,
        &batch_url,
        &app,
        batch_of(&[u0, u0, u0, &users[1].0]),
    )
    .await;
    assert_eq!(status, 200, "the batch itself is not throttled");
    let s = statuses(&answer);
    assert_eq!(s[3].0, 200, "another mailbox: {s:?}");
    let throttled: Vec<_> = s[..3].iter().filter(|(st, _)| *st == 429).collect();
    assert!(!throttled.is_empty(), "{s:?}");
    assert!(throttled.iter().all(|(_, r)| r.as_deref() == Some("7")));
    assert!(control.throttled_requests() >= 1);
    assert_eq!(control.batch_requests(), (2, 7));

    // Alone too.
    let url = format!("{base}/v1.0/users/{u0}/presence");
    let mut alone = Vec::new();
    for _ in 0..3 {
        let resp = c.get(&url).bearer_auth(&app).send().await.unwrap();
        alone.push((
            resp.status().as_u16(),
            resp.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
        ));
    }
    assert!(
        alone
            .iter()
            .any(|(s, r)| *s == 429 && r.as_deref() == Some("7")),
        "{alone:?}"
    );

    // Two per second for the tenant: of five requests to five mailboxes, at least one.
    control.set_throttling(Throttling {
        tenant_per_sec: Some(2),
        ..Throttling::default()
    });
    let all: Vec<&str> = users.iter().map(|u| u.0.as_str()).collect();
    let (_, answer) = send(&c, Method::POST, &batch_url, &app, batch_of(&all)).await;
    let s = statuses(&answer);
    assert!(
        s.iter().filter(|(st, _)| *st == 429).count() >= 1
            && s.iter().filter(|(st, _)| *st == 200).count() >= 2,
        "{s:?}"
    );

    // Off again.
    control.set_throttling(Throttling::default());
    let (_, answer) = send(&c, Method::POST, &batch_url, &app, batch_of(&all)).await;
    assert!(statuses(&answer).iter().all(|(s, _)| *s == 200));
}
