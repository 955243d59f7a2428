//! Microsoft Graph v1.0: Teams presence (`/me/presence` and `/users/{id}/presence` with
//! `setPresence`, `clearPresence`, `setUserPreferredPresence`, `clearUserPreferredPresence`,
//! `setStatusMessage`) and `/me/mailboxSettings` (GET, PATCH), for the signed-in user.
//!
//! Aggregation follows Teams: the user's preferred presence (set by an app or by hand in
//! Teams) wins over sessions, but shows only while some session exists (the user's own
//! Teams client counts as one, Available by default); among sessions DoNotDisturb > Busy >
//! Available > Away. Sessions, the preferred presence and the status message expire on the
//! emulator clock. Every call is recorded (`Control::presence_calls`), and
//! `Control::fail_next_presence_calls` makes the next calls fail.

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::automation::{
    self, canonical_pair, parse_duration, Preferred, Session, StatusMessage, PREFERRED_PAIRS,
    SESSION_PAIRS,
};
use crate::graph::{fault_status, graph_error};
use crate::state::AppState;

pub fn routes(state: AppState) -> Router<AppState> {
    let mut r = Router::new();
    for base in ["/me", "/users/{user}"] {
        r = r
            .route(&format!("{base}/presence"), get(get_presence))
            .route(&format!("{base}/presence/setPresence"), post(set_presence))
            .route(
                &format!("{base}/presence/clearPresence"),
                post(clear_presence),
            )
            .route(
                &format!("{base}/presence/setUserPreferredPresence"),
                post(set_preferred),
            )
            .route(
                &format!("{base}/presence/clearUserPreferredPresence"),
                post(clear_preferred),
            )
            .route(
                &format!("{base}/presence/setStatusMessage"),
                post(set_status_message),
            );
        for name in ["mailboxSettings", "mailboxsettings"] {
            r = r.route(
                &format!("{base}/{name}"),
                get(get_mailbox_settings).patch(patch_mailbox_settings),
            );
        }
    }
    r.route_layer(middleware::from_fn_with_state(state, record_and_fail))
}

/// What a presence or mailbox settings request is, for the record.
fn kind_of(method: &Method, path: &str) -> &'static str {
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (last.as_str(), method.as_str()) {
        ("presence", _) => "getPresence",
        ("setpresence", _) => "setPresence",
        ("clearpresence", _) => "clearPresence",
        ("setuserpreferredpresence", _) => "setUserPreferredPresence",
        ("clearuserpreferredpresence", _) => "clearUserPreferredPresence",
        ("setstatusmessage", _) => "setStatusMessage",
        ("mailboxsettings", "PATCH") => "updateMailboxSettings",
        ("mailboxsettings", _) => "getMailboxSettings",
        _ => "unknown",
    }
}

/// Records every call with its outcome, and answers the counted failures of
/// `Control::fail_next_presence_calls` (the call is recorded with the failure's status).
/// A call `Control::hold_presence_calls` holds back waits first, until
/// `Control::release_presence_calls`.
async fn record_and_fail(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let at = Utc::now();
    let kind = kind_of(req.method(), req.uri().path());
    let user = path_user(req.uri().path());
    let gate = st
        .automation()
        .presence_gate
        .as_mut()
        .and_then(|g| g.admit(kind, user.as_deref()));
    if let Some(mut open) = gate {
        tracing::debug!(kind, "presence call held back");
        tokio::select! {
            _ = open.wait_for(|o| *o) => {}
            () = st.stopped() => {}
        }
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    let body_json = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let failure = automation::take_failure(&mut st.automation().presence_failures);
    if let Some(f) = failure {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let resp = fault_status(status, f.retry_after_secs, &parts.headers);
        st.automation()
            .record_as(at, kind, body_json, f.status, user);
        tracing::debug!(kind, status = f.status, "presence call failed (injected)");
        return resp;
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    st.automation()
        .record_as(at, kind, body_json, resp.status().as_u16(), user);
    resp
}

// ---- helpers ---------------------------------------------------------------------------

fn bad_request(message: &str, headers: &HeaderMap) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", message, headers)
}

/// The user a `/users/{id}/…` path names, decoded (`None`: `/me/…`).
fn path_user(path: &str) -> Option<String> {
    let mut segments = path.split('/');
    segments.any(|s| s == "users").then(|| {
        let raw = segments.next().unwrap_or_default();
        url::form_urlencoded::parse(format!("x={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    })
}

/// Whom a request addresses: `(user id, tenant)`. `tenant` is `Some(id)` for another user
/// of the tenant, which only an app-only token holding one of `roles` (application
/// permissions) may address; `roles` empty: the call has no application permission
/// (`setStatusMessage`). Without `/users/…`, or naming the signed-in user with a
/// delegated token, it is the signed-in user (`tenant` None).
// The error is a ready-made HTTP response, returned once per request.
#[allow(clippy::result_large_err)]
fn target_user(
    st: &AppState,
    path: &str,
    headers: &HeaderMap,
    roles: &[&str],
) -> Result<(String, Option<String>), Response> {
    let user = st.mailbox().user.clone();
    let token = presented_token(st, headers);
    let app_only = token.as_ref().is_some_and(|t| t.app_only);
    let Some(id) = path_user(path) else {
        if app_only {
            return Err(bad_request(
                "/me request is only valid with delegated authentication flow.",
                headers,
            ));
        }
        return Ok((user.id, None));
    };
    let me = [&user.id, &user.upn, &user.mail]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(&id));
    if me && !app_only {
        return Ok((user.id, None));
    }
    let Some(tenant_user) = st.user(&id).filter(|_| app_only) else {
        if me || st.user(&id).is_some() {
            return Err(graph_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Cannot access the presence or settings of another user with a delegated token.",
                headers,
            ));
        }
        return Err(graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
            headers,
        ));
    };
    let granted = token.is_some_and(|t| {
        roles
            .iter()
            .any(|r| t.scopes.iter().any(|s| s.eq_ignore_ascii_case(r)))
    });
    if !granted {
        let message = if roles.is_empty() {
            "This API does not support application permissions.".to_owned()
        } else {
            format!(
                "Access is denied: the application needs one of the permissions {}.",
                roles.join(", ")
            )
        };
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &message,
            headers,
        ));
    }
    Ok((tenant_user.id.clone(), Some(tenant_user.id.clone())))
}

/// The access token a request presented.
fn presented_token(st: &AppState, headers: &HeaderMap) -> Option<crate::tokens::AccessToken> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (_, token) = value.split_once(' ')?;
    st.auth().access.get(token.trim()).cloned()
}

/// Application permissions of each call on another user.
const READ_PRESENCE: &[&str] = &["Presence.Read.All", "Presence.ReadWrite.All"];
const WRITE_PRESENCE: &[&str] = &["Presence.ReadWrite.All"];
const READ_SETTINGS: &[&str] = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];
const WRITE_SETTINGS: &[&str] = &["MailboxSettings.ReadWrite"];

/// The common start of the presence actions: the addressed user (see [`target_user`]),
/// and the body a JSON object.
#[allow(clippy::result_large_err)] // the error is the finished HTTP answer
fn user_and_body(
    st: &AppState,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    roles: &[&str],
) -> Result<(Option<String>, serde_json::Map<String, Value>), Response> {
    let (_, tenant) = target_user(st, path, headers, roles)?;
    Ok((tenant, json_body(body, headers)?))
}

// The error is a ready-made HTTP response, returned once per request.
#[allow(clippy::result_large_err)]
fn json_body(
    body: &Bytes,
    headers: &HeaderMap,
) -> Result<serde_json::Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_request(
            "Empty Payload. JSON content expected.",
            headers,
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            headers,
        )),
    }
}

fn str_of<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// The caller's client id (from its access token).
fn caller_client_id(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?
        .1
        .trim()
        .to_string();
    st.auth().access.get(&token).map(|t| t.client_id.clone())
}

fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

fn ok_json(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        )],
        v.to_string(),
    )
        .into_response()
}

// ---- presence --------------------------------------------------------------------------

async fn get_presence(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (user_id, tenant) = match target_user(&st, uri.path(), &headers, READ_PRESENCE) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut v = match &tenant {
        Some(id) => st.automation().tenant_presence_json(id),
        None => st.automation().presence_json(&user_id),
    };
    v["@odata.context"] = Value::String(format!(
        "{}/v1.0/$metadata#users('{}')/presence/$entity",
        st.base_url, user_id
    ));
    ok_json(&v)
}

async fn set_presence(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (tenant, b) = match user_and_body(&st, uri.path(), &headers, &body, WRITE_PRESENCE) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(session_id) = str_of(&b, "sessionId").filter(|s| !s.trim().is_empty()) else {
        return bad_request("The sessionId is required.", &headers);
    };
    if let Some(client_id) = caller_client_id(&st, &headers) {
        if !session_id.trim().eq_ignore_ascii_case(&client_id) {
            return bad_request(
                "The sessionId must be the application (client) ID of the caller.",
                &headers,
            );
        }
    }
    let (Some(availability), Some(activity)) = (str_of(&b, "availability"), str_of(&b, "activity"))
    else {
        return bad_request("Both availability and activity are required.", &headers);
    };
    let Some((availability, activity)) = canonical_pair(SESSION_PAIRS, availability, activity)
    else {
        return bad_request(
            &format!("The combination of availability '{availability}' and activity '{activity}' is not supported."),
            &headers,
        );
    };
    let expiration = match b.get("expirationDuration") {
        None | Some(Value::Null) => Duration::minutes(5),
        Some(v) => match v.as_str().and_then(parse_duration) {
            Some(d) if d >= Duration::minutes(5) && d <= Duration::hours(4) => d,
            _ => {
                return bad_request(
                    &format!("The expirationDuration '{}' is not valid: it must be an ISO 8601 duration between PT5M and PT4H.", v.as_str().unwrap_or(&v.to_string())),
                    &headers,
                )
            }
        },
    };
    let mut a = st.automation();
    let now = a.now();
    let p = a.presence_of(tenant.as_deref());
    let id = session_id.trim().to_string();
    p.sessions.retain(|s| !s.id.eq_ignore_ascii_case(&id));
    p.sessions.push(Session {
        id,
        availability: availability.into(),
        activity: activity.into(),
        expires: now + expiration,
        set_at: now,
    });
    p.sequence += 1;
    ok_empty()
}

async fn clear_presence(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (tenant, b) = match user_and_body(&st, uri.path(), &headers, &body, WRITE_PRESENCE) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(session_id) = str_of(&b, "sessionId").filter(|s| !s.trim().is_empty()) else {
        return bad_request("The sessionId is required.", &headers);
    };
    let mut a = st.automation();
    let p = a.presence_of(tenant.as_deref());
    let before = p.sessions.len();
    p.sessions
        .retain(|s| !s.id.eq_ignore_ascii_case(session_id.trim()));
    if p.sessions.len() != before {
        p.sequence += 1;
    }
    ok_empty()
}

async fn set_preferred(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (tenant, b) = match user_and_body(&st, uri.path(), &headers, &body, WRITE_PRESENCE) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(availability), Some(activity)) = (str_of(&b, "availability"), str_of(&b, "activity"))
    else {
        return bad_request("Both availability and activity are required.", &headers);
    };
    let Some((availability, activity)) = canonical_pair(PREFERRED_PAIRS, availability, activity)
    else {
        return bad_request(
            &format!("The combination of availability '{availability}' and activity '{activity}' is not supported."),
            &headers,
        );
    };
    let expiration = match b.get("expirationDuration") {
        // Documented defaults: DoNotDisturb or Busy 1 day, all others 7 days.
        None | Some(Value::Null) => match availability {
            "DoNotDisturb" | "Busy" => Duration::days(1),
            _ => Duration::days(7),
        },
        Some(v) => match v.as_str().and_then(parse_duration) {
            Some(d) if d > Duration::zero() => d,
            _ => {
                return bad_request(
                    &format!(
                        "The expirationDuration '{}' is not a valid ISO 8601 duration.",
                        v.as_str().unwrap_or(&v.to_string())
                    ),
                    &headers,
                )
            }
        },
    };
    let mut a = st.automation();
    let now = a.now();
    let p = a.presence_of(tenant.as_deref());
    p.preferred = Some(Preferred {
        availability: availability.into(),
        activity: activity.into(),
        expires: Some(now + expiration),
    });
    p.sequence += 1;
    ok_empty()
}

async fn clear_preferred(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let tenant = match target_user(&st, uri.path(), &headers, WRITE_PRESENCE) {
        Ok((_, t)) => t,
        Err(r) => return r,
    };
    let mut a = st.automation();
    let p = a.presence_of(tenant.as_deref());
    if p.preferred.take().is_some() {
        p.sequence += 1;
    }
    ok_empty()
}

async fn set_status_message(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (tenant, b) = match user_and_body(&st, uri.path(), &headers, &body, &[]) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(Value::Object(sm)) = b.get("statusMessage") else {
        return bad_request("The statusMessage is required.", &headers);
    };
    let Some(Value::Object(message)) = sm.get("message") else {
        return bad_request("The statusMessage.message is required.", &headers);
    };
    let content = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return bad_request("statusMessage.message.content must be a string.", &headers),
    };
    let content_type = match message.get("contentType").and_then(Value::as_str) {
        None => "text".to_string(),
        Some(t) if t.eq_ignore_ascii_case("text") => "text".to_string(),
        Some(t) => {
            return bad_request(
                &format!(
                    "The contentType '{t}' is not supported: the only supported format is 'text'."
                ),
                &headers,
            )
        }
    };
    let expiry = match sm.get("expiryDateTime") {
        None | Some(Value::Null) => None,
        Some(v) => match crate::mailbox::parse_date_time_zone(v, "expiryDateTime") {
            Ok((local, zone)) => {
                let given = json!({
                    "dateTime": v.get("dateTime").cloned().unwrap_or(Value::Null),
                    "timeZone": v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC"),
                });
                Some((given, crate::tz::local_to_utc(zone, local)))
            }
            Err(e) => return bad_request(&e, &headers),
        },
    };
    let mut a = st.automation();
    let now = a.now();
    let p = a.presence_of(tenant.as_deref());
    p.status_message = (!content.is_empty()).then_some(StatusMessage {
        content,
        content_type,
        expiry,
        published: now,
    });
    p.sequence += 1;
    ok_empty()
}

// ---- mailbox settings ------------------------------------------------------------------

async fn get_mailbox_settings(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (user_id, tenant) = match target_user(&st, uri.path(), &headers, READ_SETTINGS) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut v = st
        .automation()
        .mailbox_settings_of(tenant.as_deref())
        .clone();
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{}/v1.0/$metadata#users('{}')/mailboxSettings",
                st.base_url, user_id
            )),
        );
    }
    ok_json(&v)
}

async fn patch_mailbox_settings(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (user_id, tenant) = match target_user(&st, uri.path(), &headers, WRITE_SETTINGS) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let b = match json_body(&body, &headers) {
        Ok(b) => Value::Object(b),
        Err(r) => return r,
    };
    let mut a = st.automation();
    let settings = a.mailbox_settings_of(tenant.as_deref());
    let updated = match automation::patch_mailbox_settings(settings, &b) {
        Ok(u) => u,
        Err((code, message)) => {
            drop(a);
            return graph_error(StatusCode::BAD_REQUEST, code, &message, &headers);
        }
    };
    // The answer carries the updated properties (whole), as the service does.
    let mut out = serde_json::Map::new();
    out.insert(
        "@odata.context".into(),
        Value::String(format!(
            "{}/v1.0/$metadata#users('{}')/mailboxSettings",
            st.base_url, user_id
        )),
    );
    for name in updated {
        out.insert(name.clone(), settings[&name].clone());
    }
    ok_json(&Value::Object(out))
}
