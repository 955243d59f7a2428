//! Fakes of the call-forwarding providers reachable over HTTP:
//!
//! - Webex Calling: `GET|PUT /webex/v1/people/{personId}/features/callForwarding` (the
//!   service's `https://webexapis.com/v1/...`), with a bearer token issued by
//!   `Control::webex_token`; `GET /webex/v1/people?email=` finds the people added by
//!   `Control::add_webex_person` (an organization's admin token looks any person up). GET answers the person's settings (`callForwarding.always |
//!   busy | noAnswer`, `businessContinuity`); PUT merges the given fields and answers 204.
//! - An HTTP sink: `ANY /sink/{*path}` records the request (Authorization redacted) and
//!   answers 200, or the status set by `Control::set_sink_status`.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use crate::automation::{self, SinkRequest};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webex/v1/people/{person}/features/callForwarding",
            get(webex_get).put(webex_put),
        )
        .route("/webex/v1/people", get(webex_people))
        .route("/sink", any(sink))
        .route("/sink/", any(sink))
        .route("/sink/{*path}", any(sink))
}

// ---- Webex -----------------------------------------------------------------------------

fn webex_error(status: StatusCode, message: &str, error_code: Option<u32>) -> Response {
    let tracking = format!("ROUTER_{}", uuid::Uuid::new_v4().simple());
    let mut err = json!({ "description": message });
    if let Some(code) = error_code {
        err["errorCode"] = json!(code);
    }
    let mut resp = (
        status,
        Json(json!({ "message": message, "errors": [err], "trackingId": tracking })),
    )
        .into_response();
    if let Ok(v) = tracking.parse() {
        resp.headers_mut().insert("trackingid", v);
    }
    resp
}

fn webex_authorized(st: &AppState, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .filter(|t| !t.is_empty());
    token.is_some_and(|t| st.automation().webex_tokens.contains(&t))
}

const WEBEX_UNAUTHORIZED: &str =
    "The request requires a valid access token set in the Authorization request header.";

/// The common part of both Webex handlers: authentication, then the counted failures.
fn webex_gate(st: &AppState, headers: &HeaderMap, kind: &str, body: &Value) -> Option<Response> {
    let at = Utc::now();
    if !webex_authorized(st, headers) {
        st.automation().record(at, kind, body.clone(), 401);
        return Some(webex_error(
            StatusCode::UNAUTHORIZED,
            WEBEX_UNAUTHORIZED,
            None,
        ));
    }
    let failure = automation::take_failure(&mut st.automation().webex_failures)?;
    st.automation()
        .record(at, kind, body.clone(), failure.status);
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut resp = webex_error(
        status,
        "The server is temporarily unable to handle the request.",
        None,
    );
    if let Some(secs) = failure.retry_after_secs {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
    Some(resp)
}

async fn webex_get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Response {
    let kind = "webex.getCallForwarding";
    let rec = json!({ "personId": person, "body": null });
    if let Some(r) = webex_gate(&st, &headers, kind, &rec) {
        return r;
    }
    let mut a = st.automation();
    let v = a
        .webex
        .entry(person)
        .or_insert_with(automation::default_webex_forwarding)
        .clone();
    a.record(Utc::now(), kind, rec, 200);
    Json(v).into_response()
}

/// `GET /people?email=`: the person with exactly that e-mail address, in `items` (none
/// when nobody has it); without `email`, Webex's 400.
async fn webex_people(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let kind = "webex.listPeople";
    let email = query.get("email").cloned();
    let rec = json!({ "email": email, "body": null });
    if let Some(r) = webex_gate(&st, &headers, kind, &rec) {
        return r;
    }
    let mut a = st.automation();
    let Some(email) = email else {
        a.record(Utc::now(), kind, rec, 400);
        drop(a);
        return webex_error(
            StatusCode::BAD_REQUEST,
            "Either email or displayName or id are required.",
            None,
        );
    };
    let items: Vec<Value> = a
        .webex_people
        .get(&email.to_lowercase())
        .map(|id| json!({ "id": id, "emails": [email], "displayName": email, "type": "person" }))
        .into_iter()
        .collect();
    a.record(Utc::now(), kind, rec, 200);
    Json(json!({ "items": items })).into_response()
}

async fn webex_put(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(person): Path<String>,
    body: Bytes,
) -> Response {
    let kind = "webex.putCallForwarding";
    let parsed = serde_json::from_slice::<Value>(&body);
    let rec = json!({
        "personId": person,
        "body": parsed.as_ref().ok().cloned().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
    });
    if let Some(r) = webex_gate(&st, &headers, kind, &rec) {
        return r;
    }
    let at = Utc::now();
    let Ok(body) = parsed else {
        st.automation().record(at, kind, rec, 400);
        return webex_error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
            None,
        );
    };
    let mut a = st.automation();
    let current = a
        .webex
        .entry(person)
        .or_insert_with(automation::default_webex_forwarding);
    match automation::put_webex_forwarding(current, &body) {
        Ok(()) => {
            a.record(at, kind, rec, 204);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(why) => {
            a.record(at, kind, rec, 400);
            drop(a);
            webex_error(StatusCode::BAD_REQUEST, &why, Some(25008))
        }
    }
}

// ---- HTTP sink -------------------------------------------------------------------------

async fn sink(
    State(st): State<AppState>,
    method: Method,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let at = Utc::now();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = if name == "authorization" || name == "proxy-authorization" {
                "[redacted]".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect();
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut a = st.automation();
    let status = a.sink_status;
    let req = SinkRequest {
        at,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers,
        body: text,
        status,
    };
    let rec = json!({
        "method": req.method,
        "path": req.path,
        "body": req.json().unwrap_or_else(|| Value::String(req.body.clone())),
    });
    a.sink.push(req);
    a.record(at, "sink", rec, status);
    drop(a);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        status.into_response()
    } else if status.is_success() {
        (status, Json(json!({ "ok": true }))).into_response()
    } else {
        (
            status,
            Json(json!({ "ok": false, "error": "emulated failure" })),
        )
            .into_response()
    }
}
