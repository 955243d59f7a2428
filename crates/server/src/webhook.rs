//! The change-notification webhook on the server's HTTP listener (`[notifications] path`).
//!
//! Graph posts to whichever worker the organization's load balancer picks, not only the one
//! holding the mailbox. The route answers the validation handshake (the `validationToken`
//! echoed as text, 200) and, for notifications, 202 at once; afterwards it checks each
//! item's `clientState` against the subscription the holder recorded in PostgreSQL and
//! wakes the holder with `NOTIFY presently_mailbox` (see [`crate::store::Store::wake`]),
//! which syncs the mailbox (or renews or re-creates its subscription).

use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::notifications::parse_notification;
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
struct WebhookState {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
}

/// The webhook route at `path`.
pub fn router(path: &str, store: Arc<Store>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(path, post(receive))
        .with_state(WebhookState { store, metrics })
}

async fn receive(
    State(st): State<WebhookState>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(token) = query.get("validationToken") {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            token.clone(),
        )
            .into_response();
    }
    // Graph wants an answer within seconds: the work is done afterwards.
    tokio::spawn(async move { handle(&st.store, &st.metrics, &body).await });
    StatusCode::ACCEPTED.into_response()
}

/// Checks a body's items against the recorded subscriptions and wakes the holders of the
/// trusted ones.
pub async fn handle(store: &Store, metrics: &Metrics, body: &[u8]) {
    let items = match parse_notification(body) {
        Ok(items) => items,
        Err(e) => {
            metrics.notifications_received.inc();
            metrics.notifications_rejected.inc();
            tracing::warn!(error = %e, "a notification body was refused");
            return;
        }
    };
    let mut payloads = Vec::new();
    for item in items {
        metrics.notifications_received.inc();
        let recorded = match store.subscription(&item.subscription_id).await {
            Ok(recorded) => recorded,
            Err(e) => {
                metrics.notifications_rejected.inc();
                tracing::warn!(code = e.code(), error = %e, "cannot read the subscription of a notification; the safety poll will catch up");
                continue;
            }
        };
        let Some(recorded) = recorded else {
            metrics.notifications_rejected.inc();
            tracing::info!(subscription = %item.subscription_id, "a notification for an unknown subscription was ignored");
            continue;
        };
        if !item.client_state_is(&recorded.client_state) {
            metrics.notifications_rejected.inc();
            tracing::warn!(subscription = %item.subscription_id, mailbox = %recorded.mailbox, "a notification with the wrong clientState was ignored");
            continue;
        }
        metrics.notifications_accepted.inc();
        let payload = item.event(&recorded.mailbox).to_payload();
        if !payloads.contains(&payload) {
            payloads.push(payload);
        }
    }
    for payload in payloads {
        if let Err(e) = store.wake(&payload).await {
            tracing::warn!(code = e.code(), error = %e, "cannot wake the mailbox's holder; the safety poll will catch up");
        }
    }
}

/// How long `check` waits for the validation handshake to come back: Graph's own limit
/// is 10 s.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends Graph's validation handshake through `public_url` (`POST
/// {public_url}?validationToken=<random>`, an empty body) and checks that a presently-server
/// webhook answered it: 200, `text/plain`, the token echoed, within `timeout`. The error
/// says what came back instead.
pub async fn probe(public_url: &str, timeout: std::time::Duration) -> Result<(), ServerError> {
    let unreachable = |detail: String| ServerError::WebhookUnreachable {
        url: public_url.to_owned(),
        detail,
    };
    let mut url =
        url::Url::parse(public_url).map_err(|e| unreachable(format!("not a URL: {e}")))?;
    let token = format!("presently-check-{}", uuid::Uuid::new_v4().simple());
    url.query_pairs_mut().append_pair("validationToken", &token);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        // The URL itself must answer: a redirect is reported, not followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| unreachable(format!("no HTTP client: {e}")))?;
    let response = client
        .post(url)
        .header(header::CONTENT_TYPE, "text/plain")
        .send()
        .await
        .map_err(|e| unreachable(describe_send_error(&e, timeout)))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = tokio::time::timeout(timeout, response.text())
        .await
        .map_err(|_| unreachable(format!("no whole answer within {} s", timeout.as_secs())))?
        .map_err(|e| unreachable(format!("the answer could not be read: {e}")))?;
    if status != StatusCode::OK {
        return Err(unreachable(format!(
            "it answered {status}{}",
            excerpt(&body)
        )));
    }
    if !content_type.to_ascii_lowercase().starts_with("text/plain") {
        return Err(unreachable(format!(
            "it answered 200 with Content-Type {:?}, not text/plain{}",
            content_type,
            excerpt(&body)
        )));
    }
    if body != token {
        return Err(unreachable(format!(
            "it answered 200 but not with the validation token{}",
            excerpt(&body)
        )));
    }
    Ok(())
}

/// The start of an unexpected answer's body, for the message.
fn excerpt(body: &str) -> String {
    let text: String = body.chars().filter(|c| !c.is_control()).take(80).collect();
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(" (body: {:?})", text.trim())
    }
}

/// What a failed send means: refused, timed out, or the error and its causes.
fn describe_send_error(e: &reqwest::Error, timeout: std::time::Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs());
    }
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    if chain.to_ascii_lowercase().contains("connection refused") {
        format!("connection refused ({chain})")
    } else if e.is_connect() {
        format!("cannot connect ({chain})")
    } else {
        chain
    }
}

/// Where `check` found the webhook it probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbedWebhook {
    /// `[http] listen` was free: `check` served the webhook there itself for the probe.
    OwnListener,
    /// `[http] listen` was in use (a running `serve`): the probe reached whatever answers.
    Running,
}

/// `check`'s test of `[notifications] public_url`: when `listen` is free (no `serve` runs
/// here), the webhook is served there for the duration of the probe, with the same handler
/// as `serve`'s, so that the proxy path is proven before the first start; when it is in
/// use, the running `serve` is probed through the public URL.
pub async fn check_public_url(
    public_url: &str,
    path: &str,
    listen: std::net::SocketAddr,
    store: Arc<Store>,
) -> Result<ProbedWebhook, ServerError> {
    match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => {
            let app = router(path, store, Arc::new(Metrics::new()));
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let result = probe(public_url, PROBE_TIMEOUT).await;
            server.abort();
            result.map(|()| ProbedWebhook::OwnListener)
        }
        Err(e) => {
            tracing::debug!(%listen, error = %e, "[http] listen is taken: probing the running serve");
            probe(public_url, PROBE_TIMEOUT)
                .await
                .map(|()| ProbedWebhook::Running)
                .map_err(|err| match err {
                    ServerError::WebhookUnreachable { url, detail }
                        if e.kind() != std::io::ErrorKind::AddrInUse =>
                    {
                        ServerError::WebhookUnreachable {
                            url,
                            detail: format!(
                                "{detail}; check could not listen on {listen} ([http] listen) itself: {e}"
                            ),
                        }
                    }
                    other => other,
                })
        }
    }
}
