//! Change notifications for tenant users' events: the validation handshake, notifications
//! with the client state after a change, renewal within Outlook's limit, expiry on the
//! emulator clock, and the lifecycle events (`missed`, `reauthorizationRequired`,
//! `subscriptionRemoved`), against a webhook served on loopback as server mode serves one.
#![allow(clippy::unwrap_used)]

mod common;

use axum::extract::{Query, State};
use axum::routing::post;
use axum::Router;
use common::*;
use presently_emulator::DEMO_TENANT_ID;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

const DAEMON: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";

/// A webhook on loopback: echoes `validationToken` (unless `echo` is false) and hands every
/// notification to the returned receiver. Returns its base URL.
async fn webhook(echo: bool) -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/{kind}",
            post(
                move |State(tx): State<mpsc::UnboundedSender<(String, Value)>>,
                      axum::extract::Path(kind): axum::extract::Path<String>,
                      Query(q): Query<HashMap<String, String>>,
                      body: axum::body::Bytes| async move {
                    if let Some(token) = q.get("validationToken") {
                        return if echo { token.clone() } else { "no".into() };
                    }
                    tx.send((kind, serde_json::from_slice(&body).unwrap()))
                        .unwrap();
                    String::new()
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), rx)
}

async fn app_token(c: &reqwest::Client, base: &str) -> String {
    let scope = format!("{base}/.default");
    let resp = c
        .post(format!("{base}/{DEMO_TENANT_ID}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "s3cret"),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = c.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification within 10 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_validate_notify_renew_expire_and_tell_their_lifecycle() {
    let emu = start().await;
    let base = emu.base_url();
    let control = emu.control();
    control
        .register_confidential_app(DAEMON, None, &["s3cret"], &["Calendars.Read"])
        .unwrap();
    let users = control.add_users(2);
    let (user, other) = (&users[0].0, &users[1].0);
    control.set_notification_delay(Duration::from_millis(50));
    let c = client();
    let token = app_token(&c, &base).await;
    let (hook, mut rx) = webhook(true).await;
    let in_hours = |h: i64| {
        (control.clock() + chrono::Duration::hours(h))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let subscription = |resource: String, expires: String| {
        json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": format!("{hook}/notify"),
            "lifecycleNotificationUrl": format!("{hook}/lifecycle"),
            "resource": resource,
            "expirationDateTime": expires,
            "clientState": "secretClientValue",
        })
    };
    let url = format!("{base}/v1.0/subscriptions");

    let (status, created) = send(
        &c,
        reqwest::Method::POST,
        &url,
        &token,
        Some(subscription(format!("/users/{user}/events"), in_hours(48))),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["clientState"], "secretClientValue");

    // A change to the subscribed mailbox is notified; one to another mailbox is not.
    control
        .add_user_event(other, json!({"subject": "Not theirs", "start": {"dateTime": "2026-11-24T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-11-24T11:00:00", "timeZone": "UTC"}}))
        .unwrap();
    let event = control
        .add_user_event(user, json!({"subject": "Planning", "start": {"dateTime": "2026-11-24T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-11-24T11:00:00", "timeZone": "UTC"}}))
        .unwrap();
    let (kind, body) = next(&mut rx).await;
    assert_eq!(kind, "notify");
    let n = &body["value"][0];
    assert_eq!(n["subscriptionId"], id.as_str());
    assert_eq!(n["clientState"], "secretClientValue");
    assert_eq!(n["changeType"], "created");
    assert_eq!(n["resourceData"]["id"], event.as_str());
    assert_eq!(n["tenantId"], DEMO_TENANT_ID);
    control.remove_user_event(user, &event).unwrap();
    let (_, body) = next(&mut rx).await;
    assert_eq!(body["value"][0]["changeType"], "deleted");

    // Dropped notifications become a `missed` lifecycle event.
    control.miss_notifications(1);
    control
        .add_user_event(user, json!({"subject": "Lost", "start": {"dateTime": "2026-11-24T12:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-11-24T13:00:00", "timeZone": "UTC"}}))
        .unwrap();
    let (kind, body) = next(&mut rx).await;
    assert_eq!(kind, "lifecycle");
    assert_eq!(body["value"][0]["lifecycleEvent"], "missed");

    // Renewal: within 10,080 minutes only.
    let sub_url = format!("{url}/{id}");
    let (status, _) = send(
        &c,
        reqwest::Method::PATCH,
        &sub_url,
        &token,
        Some(json!({"expirationDateTime": in_hours(200)})),
    )
    .await;
    assert_eq!(status, 400, "beyond Outlook's limit");
    let (status, renewed) = send(
        &c,
        reqwest::Method::PATCH,
        &sub_url,
        &token,
        Some(json!({"expirationDateTime": in_hours(72)})),
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(
        renewed["expirationDateTime"].as_str().unwrap()[..19],
        in_hours(72)[..19]
    );

    // Lifecycle on request; `subscriptionRemoved` ends the subscription.
    assert!(control.send_lifecycle(&id, "reauthorizationRequired"));
    let (_, body) = next(&mut rx).await;
    assert_eq!(
        body["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );
    assert!(control.send_lifecycle(&id, "subscriptionRemoved"));
    let (_, body) = next(&mut rx).await;
    assert_eq!(body["value"][0]["lifecycleEvent"], "subscriptionRemoved");
    let (status, _) = send(&c, reqwest::Method::GET, &sub_url, &token, None).await;
    assert_eq!(status, 404);

    // Expiry on the emulator clock: an expired subscription is gone and notifies nothing.
    let (status, created) = send(
        &c,
        reqwest::Method::POST,
        &url,
        &token,
        Some(subscription(format!("users/{user}/events"), in_hours(1))),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    control.advance_clock(Duration::from_secs(2 * 3600));
    let (status, _) = send(
        &c,
        reqwest::Method::GET,
        &format!("{url}/{}", created["id"].as_str().unwrap()),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404, "expired");
    control
        .add_user_event(user, json!({"subject": "After expiry", "start": {"dateTime": "2026-11-24T14:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-11-24T15:00:00", "timeZone": "UTC"}}))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "nothing after expiry");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_needs_a_webhook_that_answers_and_the_permission() {
    let emu = start().await;
    let base = emu.base_url();
    let control = emu.control();
    control
        .register_confidential_app(DAEMON, None, &["s3cret"], &[])
        .unwrap();
    let users = control.add_users(1);
    let c = client();
    let url = format!("{base}/v1.0/subscriptions");
    let expires = (control.clock() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (silent, _rx) = webhook(false).await;
    let body = |hook: &str| {
        json!({"changeType": "created", "notificationUrl": format!("{hook}/notify"),
               "resource": format!("/users/{}/events", users[0].0), "expirationDateTime": expires})
    };
    let token = app_token(&c, &base).await;
    let (status, answer) = send(&c, reqwest::Method::POST, &url, &token, Some(body(&silent))).await;
    assert_eq!(status, 403, "no Calendars.Read: {answer}");
    control
        .register_confidential_app(DAEMON, None, &["s3cret"], &["Calendars.Read"])
        .unwrap();
    let token = app_token(&c, &base).await;
    let (status, answer) = send(&c, reqwest::Method::POST, &url, &token, Some(body(&silent))).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("validation"),
        "{answer}"
    );
    let (status, _) = send(
        &c,
        reqwest::Method::POST,
        &url,
        &token,
        Some(body("http://example.com")),
    )
    .await;
    assert_eq!(status, 400, "plain http off loopback");
    assert!(control.subscriptions().is_empty());
}
