//! Health and metrics over HTTP: `/healthz` (the process answers), `/readyz` (its last lease
//! pass reached the database recently) and Prometheus `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use presently_engine::Clock;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// A worker's metrics.
pub struct Metrics {
    registry: Registry,
    pub mailboxes_owned: Gauge,
    /// Rounds by outcome: `ok`, `failed`, `fenced`.
    pub rounds: Family<Vec<(String, String)>, Counter>,
    pub leases_lost: Counter,
    /// The longest time since a held mailbox last completed a round (or was claimed).
    pub sync_lag_seconds: Gauge<f64, AtomicU64>,
    /// Presence history events by kind (`applied`, `restored`, `stood_back`, `failed`, …).
    pub presence_events: Family<Vec<(String, String)>, Counter>,
    /// Automated mailboxes where automation holds something (a restore is to come).
    pub presence_holding: Gauge,
    /// Presence writes stored and not yet known to have landed.
    pub presence_open_writes: Gauge,
    /// Change-notification items the webhook received, accepted (a known subscription and
    /// its clientState) and rejected.
    pub notifications_received: Counter,
    pub notifications_accepted: Counter,
    pub notifications_rejected: Counter,
    /// Held mailboxes with a subscription on Graph.
    pub subscriptions_active: Gauge,
    /// When the last lease pass succeeded (Unix seconds; 0: never).
    last_lease_pass: AtomicI64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("presently_server");
        let mailboxes_owned = Gauge::default();
        let rounds = Family::<Vec<(String, String)>, Counter>::default();
        let leases_lost = Counter::default();
        let sync_lag_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "mailboxes_owned",
            "Mailboxes whose lease this worker holds",
            mailboxes_owned.clone(),
        );
        registry.register("rounds", "Sync rounds by outcome", rounds.clone());
        registry.register(
            "leases_lost",
            "Leases this worker lost (expired, taken over or user removed)",
            leases_lost.clone(),
        );
        registry.register(
            "sync_lag_seconds",
            "Longest time since a held mailbox last completed a round",
            sync_lag_seconds.clone(),
        );
        let presence_events = Family::<Vec<(String, String)>, Counter>::default();
        let presence_holding = Gauge::default();
        let presence_open_writes = Gauge::default();
        registry.register(
            "presence_events",
            "Presence automation history events by kind (applied, restored, stood_back, failed, ...)",
            presence_events.clone(),
        );
        registry.register(
            "presence_holding",
            "Automated mailboxes where automation holds something, to be given back",
            presence_holding.clone(),
        );
        registry.register(
            "presence_open_writes",
            "Presence writes stored and not yet known to have landed",
            presence_open_writes.clone(),
        );
        let notifications_received = Counter::default();
        let notifications_accepted = Counter::default();
        let notifications_rejected = Counter::default();
        let subscriptions_active = Gauge::default();
        registry.register(
            "notifications_received",
            "Change-notification items the webhook received",
            notifications_received.clone(),
        );
        registry.register(
            "notifications_accepted",
            "Change-notification items of a known subscription with its clientState",
            notifications_accepted.clone(),
        );
        registry.register(
            "notifications_rejected",
            "Change-notification items refused (unknown subscription, wrong clientState, malformed body)",
            notifications_rejected.clone(),
        );
        registry.register(
            "subscriptions_active",
            "Held mailboxes with a change-notification subscription on Graph",
            subscriptions_active.clone(),
        );
        Self {
            registry,
            notifications_received,
            notifications_accepted,
            notifications_rejected,
            subscriptions_active,
            mailboxes_owned,
            rounds,
            leases_lost,
            sync_lag_seconds,
            presence_events,
            presence_holding,
            presence_open_writes,
            last_lease_pass: AtomicI64::new(0),
        }
    }

    pub fn presence_event(&self, event: &str) {
        self.presence_events
            .get_or_create(&vec![("event".to_owned(), event.to_owned())])
            .inc();
    }

    pub fn round(&self, outcome: &str) {
        self.rounds
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
    }

    pub fn lease_pass_succeeded(&self, at: DateTime<Utc>) {
        self.last_lease_pass
            .store(at.timestamp(), Ordering::Relaxed);
    }

    /// Ready when the last lease pass succeeded within `within` of `now`.
    pub fn ready(&self, now: DateTime<Utc>, within: chrono::Duration) -> bool {
        let last = self.last_lease_pass.load(Ordering::Relaxed);
        last > 0 && now.timestamp() - last <= within.num_seconds()
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

#[derive(Clone)]
struct HttpState {
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    ready_within: chrono::Duration,
}

/// The router of `/healthz`, `/readyz` and `/metrics`.
pub fn router(
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    ready_within: chrono::Duration,
) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(HttpState {
            metrics,
            clock,
            ready_within,
        })
}

async fn readyz(State(st): State<HttpState>) -> impl IntoResponse {
    if st.metrics.ready(st.clock.now(), st.ready_within) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no recent lease pass reached the database\n",
        )
    }
}

async fn metrics_text(State(st): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ready_only_after_a_recent_lease_pass() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let within = chrono::Duration::seconds(60);
        let metrics = Metrics::new();
        assert!(!metrics.ready(t0, within), "no pass yet");
        metrics.lease_pass_succeeded(t0);
        assert!(metrics.ready(t0 + within, within));
        assert!(!metrics.ready(t0 + within + chrono::Duration::seconds(1), within));
    }

    #[test]
    fn the_text_names_each_metric() {
        let metrics = Metrics::new();
        metrics.mailboxes_owned.set(3);
        metrics.round("ok");
        metrics.round("fenced");
        let text = metrics.render();
        assert!(
            text.contains("presently_server_mailboxes_owned 3"),
            "{text}"
        );
        assert!(
            text.contains("presently_server_rounds_total{outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("presently_server_rounds_total{outcome=\"fenced\"} 1"),
            "{text}"
        );
        assert!(text.contains("presently_server_sync_lag_seconds"), "{text}");
    }
}
