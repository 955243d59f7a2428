//! The change-notification webhook on the server's HTTP listener (`[notifications] path`).
//!
//! Graph posts to whichever worker the organization's load balancer picks, not only the one
//! holding the mailbox. The route answers the validation handshake (the `validationToken`
//! echoed as text, 200) and, for notifications, 202 at once; afterwards it checks each
//! item's `clientState` against the subscription the holder recorded in PostgreSQL and
//! wakes the holder with `NOTIFY presently_mailbox` (see [`crate::store::Store::wake`]),
//! which syncs the mailbox (or renews or re-creates its subscription).

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
