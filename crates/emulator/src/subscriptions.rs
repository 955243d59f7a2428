//! Microsoft Graph change notifications for tenant users' events (`/users/{id}/events`), as
//! server mode subscribes to them: `POST /v1.0/subscriptions` with the validation handshake
//! (the notification URL, and the lifecycle URL when given, must echo `validationToken` as
//! text within 10 s), `GET`/`PATCH`/`DELETE /v1.0/subscriptions/{id}`, expiry on the emulator
//! clock (at most 10,080 minutes ahead, Outlook resources' limit), and, after a change to a
//! subscribed mailbox, a notification POSTed after a delay with the `clientState`. Lifecycle
//! notifications (`missed`, `reauthorizationRequired`, `subscriptionRemoved`) are sent on
//! request ([`crate::Control::send_lifecycle`]); [`crate::Control::miss_notifications`]
//! turns the next notifications into `missed` ones, as Graph does when it drops some.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::graph::graph_error;
use crate::state::AppState;

/// Outlook resources' longest subscription (minutes).
pub const MAX_MINUTES: i64 = 10_080;

/// One subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub resource: String,
    /// The subscribed user's id, lower case.
    pub user_id: String,
    pub change_types: Vec<String>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub client_state: Option<String>,
    pub expires: DateTime<Utc>,
}

impl Subscription {
    fn json(&self) -> Value {
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": crate::DEMO_CLIENT_ID,
            "changeType": self.change_types.join(","),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": self.expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "creatorId": crate::DEMO_CLIENT_ID,
            "latestSupportedTlsVersion": "v1_2",
            "notificationContentType": null,
            "includeResourceData": null,
        })
    }
}

/// A notification the emulator POSTed (for tests): to which URL, what, and the answer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub url: String,
    pub body: Value,
    pub status: Option<u16>,
}

#[derive(Debug)]
pub struct SubscriptionState {
    pub subscriptions: BTreeMap<String, Subscription>,
    /// How long after a change its notification is sent.
    pub delay: std::time::Duration,
    /// The next this many notifications are dropped and a `missed` lifecycle event sent.
    pub miss_next: u32,
    pub deliveries: Vec<Delivery>,
}

impl Default for SubscriptionState {
    fn default() -> Self {
        Self {
            subscriptions: BTreeMap::new(),
            delay: std::time::Duration::from_millis(200),
            miss_next: 0,
            deliveries: Vec::new(),
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", post(create).get(list))
        .route("/subscriptions/{id}", get(read).patch(renew).delete(remove))
}

fn bad(message: &str, headers: &HeaderMap) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "InvalidRequest", message, headers)
}

fn not_found(id: &str, headers: &HeaderMap) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("The object was not found: {id}"),
        headers,
    )
}

/// `users/{id}/events` (any case, leading slash or not) → the user's id.
fn subscribed_user(st: &AppState, resource: &str) -> Option<String> {
    let parts: Vec<&str> = resource.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [users, user, events]
            if users.eq_ignore_ascii_case("users") && events.eq_ignore_ascii_case("events") =>
        {
            st.user(user).map(|u| u.id.to_ascii_lowercase())
        }
        _ => None,
    }
}

fn may_read_calendars(st: &AppState, headers: &HeaderMap) -> bool {
    crate::graph::presented_token(st, headers).is_some_and(|t| {
        let has = |p: &str| t.scopes.iter().any(|s| s.eq_ignore_ascii_case(p));
        t.app_only && (has("Calendars.Read") || has("Calendars.ReadWrite"))
    })
}

/// The requested expiry, or why it is refused.
fn expiry(st: &AppState, body: &Value) -> Result<DateTime<Utc>, String> {
    let now = st.automation().now();
    let at = body["expirationDateTime"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or("expirationDateTime is required.")?;
    if at <= now {
        return Err("Subscription expiration can only be in the future.".into());
    }
    if at > now + Duration::minutes(MAX_MINUTES) {
        return Err(format!(
            "Subscription expiration can only be {MAX_MINUTES} minutes in the future."
        ));
    }
    Ok(at)
}

/// Sends the validation request; true when the endpoint echoed the token.
async fn validates(url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let client = reqwest::Client::new();
    let answer = client
        .post(url)
        .query(&[("validationToken", &token)])
        .header("content-type", "text/plain; charset=utf-8")
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|t| t == token),
        _ => false,
    }
}

fn url_allowed(url: &str) -> bool {
    // Graph calls only https endpoints; the emulator also calls loopback http (tests).
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "https"
            || (u.scheme() == "http"
                && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
    })
}

async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !may_read_calendars(&st, &headers) {
        return graph_error(
            StatusCode::FORBIDDEN,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check credentials and try again.]",
            &headers,
        );
    }
    let resource = body["resource"].as_str().unwrap_or_default().to_string();
    let Some(user_id) = subscribed_user(&st, &resource) else {
        return bad(
            &format!("The resource '{resource}' is not one the emulator notifies about (users/{{id}}/events)."),
            &headers,
        );
    };
    let change_types: Vec<String> = body["changeType"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if change_types.is_empty()
        || !change_types
            .iter()
            .all(|c| matches!(c.as_str(), "created" | "updated" | "deleted"))
    {
        return bad(
            "changeType must be created, updated and/or deleted.",
            &headers,
        );
    }
    let client_state = body["clientState"].as_str().map(str::to_string);
    if client_state.as_ref().is_some_and(|c| c.len() > 128) {
        return bad("clientState is longer than 128 characters.", &headers);
    }
    let expires = match expiry(&st, &body) {
        Ok(at) => at,
        Err(why) => return bad(&why, &headers),
    };
    let notification_url = body["notificationUrl"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let lifecycle_url = body["lifecycleNotificationUrl"]
        .as_str()
        .map(str::to_string);
    for url in std::iter::once(&notification_url).chain(lifecycle_url.as_ref()) {
        if !url_allowed(url) {
            return bad(
                &format!("The notification URL '{url}' must be https."),
                &headers,
            );
        }
        if !validates(url).await {
            return bad(
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                &headers,
            );
        }
    }
    let subscription = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        user_id,
        change_types,
        notification_url,
        lifecycle_url,
        client_state,
        expires,
    };
    let answer = subscription.json();
    st.subscriptions()
        .subscriptions
        .insert(subscription.id.clone(), subscription);
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// The subscription if it is there and not expired (an expired one is dropped).
fn live(st: &AppState, id: &str) -> Option<Subscription> {
    let now = st.automation().now();
    let mut state = st.subscriptions();
    state.subscriptions.retain(|_, s| s.expires > now);
    state.subscriptions.get(id).cloned()
}

async fn list(State(st): State<AppState>) -> Response {
    let now = st.automation().now();
    let mut state = st.subscriptions();
    state.subscriptions.retain(|_, s| s.expires > now);
    let value: Vec<Value> = state
        .subscriptions
        .values()
        .map(Subscription::json)
        .collect();
    Json(json!({ "value": value })).into_response()
}

async fn read(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match live(&st, &id) {
        Some(s) => Json(s.json()).into_response(),
        None => not_found(&id, &headers),
    }
}

async fn renew(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if live(&st, &id).is_none() {
        return not_found(&id, &headers);
    }
    let expires = match expiry(&st, &body) {
        Ok(at) => at,
        Err(why) => return bad(&why, &headers),
    };
    let mut state = st.subscriptions();
    match state.subscriptions.get_mut(&id) {
        Some(s) => {
            s.expires = expires;
            Json(s.json()).into_response()
        }
        None => not_found(&id, &headers),
    }
}

async fn remove(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match st.subscriptions().subscriptions.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(&id, &headers),
    }
}

/// A tenant user's event changed: notifies every live subscription on that user's events
/// that asked for `change_type`, after the configured delay (on a task of its own).
pub fn changed(st: &AppState, user_id: &str, event_id: &str, change_type: &str) {
    let now = st.automation().now();
    let user_id = user_id.to_ascii_lowercase();
    let mut state = st.subscriptions();
    state.subscriptions.retain(|_, s| s.expires > now);
    let targets: Vec<Subscription> = state
        .subscriptions
        .values()
        .filter(|s| s.user_id == user_id && s.change_types.iter().any(|c| c == change_type))
        .cloned()
        .collect();
    let delay = state.delay;
    let mut sends = Vec::new();
    for s in targets {
        if state.miss_next > 0 {
            state.miss_next -= 1;
            if let Some(url) = &s.lifecycle_url {
                sends.push((url.clone(), lifecycle_body(&s, "missed")));
            }
            continue;
        }
        let resource = format!("Users/{}/Events/{event_id}", s.user_id);
        sends.push((
            s.notification_url.clone(),
            json!({"value": [{
                "subscriptionId": s.id,
                "subscriptionExpirationDateTime": s.expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": format!("W/\"{}\"", uuid::Uuid::new_v4().simple()),
                    "id": event_id,
                },
                "clientState": s.client_state,
                "tenantId": crate::DEMO_TENANT_ID,
            }]}),
        ));
    }
    drop(state);
    for (url, body) in sends {
        deliver(st.clone(), url, body, delay);
    }
}

fn lifecycle_body(s: &Subscription, event: &str) -> Value {
    json!({"value": [{
        "subscriptionId": s.id,
        "subscriptionExpirationDateTime": s.expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "tenantId": crate::DEMO_TENANT_ID,
        "clientState": s.client_state,
        "lifecycleEvent": event,
    }]})
}

/// Sends a lifecycle event for subscription `id`; `subscriptionRemoved` also removes it.
/// False when there is no such subscription or it has no lifecycle URL.
pub fn send_lifecycle(st: &AppState, id: &str, event: &str) -> bool {
    let mut state = st.subscriptions();
    let Some(s) = state.subscriptions.get(id).cloned() else {
        return false;
    };
    if event == "subscriptionRemoved" {
        state.subscriptions.remove(id);
    }
    let delay = state.delay;
    drop(state);
    let Some(url) = s.lifecycle_url.clone() else {
        return false;
    };
    deliver(st.clone(), url, lifecycle_body(&s, event), delay);
    true
}

fn deliver(st: AppState, url: String, body: Value, delay: std::time::Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let status = reqwest::Client::new()
            .post(&url)
            .json(&body)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
        tracing::debug!(%url, ?status, "change notification sent");
        st.subscriptions()
            .deliveries
            .push(Delivery { url, body, status });
    });
}
