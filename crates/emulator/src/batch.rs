//! Microsoft Graph JSON batching: `POST /v1.0/$batch` with up to 20 requests, each run
//! through the same routes as if sent alone (with the batch's `Authorization`), side by
//! side, or one after the other when any request names `dependsOn`, which is honoured (a request whose dependency failed gets 424). The
//! answers come back in reverse order, as Graph allows ("might appear in a different order
//! than the requests"): a client must match them by id.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use tower::ServiceExt as _;

use crate::graph::graph_error;
use crate::state::AppState;

/// Graph's limit.
pub const MAX_REQUESTS: usize = 20;

pub fn routes(state: AppState) -> Router<AppState> {
    let inner: Router = crate::graph::routes(state.clone()).with_state(state.clone());
    Router::new().route(
        "/v1.0/$batch",
        post(move |headers: HeaderMap, body: Bytes| {
            run(inner.clone(), state.clone(), headers, body)
        }),
    )
}

#[derive(Deserialize)]
struct BatchBody {
    requests: Vec<Inner>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inner {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    headers: HashMap<String, String>,
    body: Option<Value>,
    #[serde(default)]
    depends_on: Vec<String>,
}

async fn run(inner: Router, st: AppState, headers: HeaderMap, body: Bytes) -> Response {
    let bad = |message: &str| graph_error(StatusCode::BAD_REQUEST, "BadRequest", message, &headers);
    if !headers.contains_key("authorization") {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
            &headers,
        );
    }
    let Ok(batch) = serde_json::from_slice::<BatchBody>(&body) else {
        return bad("Invalid batch payload format.");
    };
    if batch.requests.is_empty() || batch.requests.len() > MAX_REQUESTS {
        return bad(&format!(
            "Number of requests must be between 1 and {MAX_REQUESTS}, not {}.",
            batch.requests.len()
        ));
    }
    let mut ids = std::collections::HashSet::new();
    if !batch
        .requests
        .iter()
        .all(|r| ids.insert(r.id.to_lowercase()))
    {
        return bad("Batch request contains duplicate request ids.");
    }
    st.batches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    st.batch_inner.fetch_add(
        batch.requests.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    st.batch_inner_delta.fetch_add(
        batch
            .requests
            .iter()
            .filter(|r| r.url.contains("/calendarView/delta"))
            .count() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    // Without dependencies Graph runs the requests side by side: so does the emulator (a
    // request held or slow delays the batch's answer, not the others' handling).
    if batch.requests.iter().all(|r| r.depends_on.is_empty()) {
        let answered = futures::future::join_all(batch.requests.iter().map(|request| async {
            let (status, answer_headers, answer_body) = one(&inner, &headers, request).await;
            json!({
                "id": request.id,
                "status": status,
                "headers": answer_headers,
                "body": answer_body,
            })
        }))
        .await;
        let mut answers = answered;
        answers.reverse();
        return axum::Json(json!({ "responses": answers })).into_response();
    }
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut answers = Vec::with_capacity(batch.requests.len());
    for request in batch.requests {
        let failed_dependency = request.depends_on.iter().any(|d| {
            statuses
                .get(&d.to_lowercase())
                .is_none_or(|status| *status >= 400)
        });
        let (status, answer_headers, answer_body) = if failed_dependency {
            (
                424,
                json!({"Content-Type": "application/json"}),
                json!({"error": {"code": "FailedDependency", "message": "A request this one depends on failed."}}),
            )
        } else {
            one(&inner, &headers, &request).await
        };
        statuses.insert(request.id.to_lowercase(), status);
        answers.push(json!({
            "id": request.id,
            "status": status,
            "headers": answer_headers,
            "body": answer_body,
        }));
    }
    answers.reverse();
    axum::Json(json!({ "responses": answers })).into_response()
}

/// Runs one request of the batch through the Graph routes.
async fn one(inner: &Router, outer: &HeaderMap, request: &Inner) -> (u16, Value, Value) {
    let error = |status: u16, code: &str, message: &str| {
        (
            status,
            json!({"Content-Type": "application/json"}),
            json!({"error": {"code": code, "message": message}}),
        )
    };
    let Ok(method) = Method::from_bytes(request.method.to_uppercase().as_bytes()) else {
        return error(400, "BadRequest", "Invalid method.");
    };
    let has_content_type = request
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-type"));
    if request.body.is_some() && !has_content_type {
        return error(
            400,
            "BadRequest",
            "A Content-Type header is required when a request has a body.",
        );
    }
    let path = request.url.trim_start_matches('/');
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("/v1.0/{path}"));
    for (name, value) in outer {
        if name == "authorization" || name == "client-request-id" {
            builder = builder.header(name, value);
        }
    }
    for (name, value) in &request.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    let body = match &request.body {
        Some(v) => Body::from(serde_json::to_vec(v).unwrap_or_default()),
        None => Body::empty(),
    };
    let Ok(http_request) = builder.body(body) else {
        return error(400, "BadRequest", "Invalid request url or headers.");
    };
    let Ok(response) = inner.clone().oneshot(http_request).await;
    let status = response.status().as_u16();
    let mut headers = serde_json::Map::new();
    for name in ["content-type", "retry-after", "location", "etag"] {
        if let Some(v) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.insert(canonical(name), Value::String(v.to_owned()));
        }
    }
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, Value::Object(headers), body)
}

/// `retry-after` → `Retry-After`, as Graph writes header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
