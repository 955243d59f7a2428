//! An emulator of the Microsoft identity platform and Microsoft Graph (calendar), for tests,
//! benchmarks, the CLI (`presently emulator --port N`) and the app's demo mode.
//!
//! One base URL serves both as the authority host (`{base}/{tenant}/oauth2/v2.0/...`) and as
//! the Graph endpoint (`{base}/v1.0/...`); `/_emulator/...` is the test control API.
//!
//! It models the service as documented, not any particular client: see `identity`, `graph`
//! and `mailbox` for the behaviours it reproduces.
//!
//! For tests and benchmarks, [`Fault`]s inject the service's documented failures (revoked
//! grants, missing consent, throttling, 5xx, lost sync state, broken pages) through
//! [`Control::push_fault`] or `POST /_emulator/faults`, and [`Control`] reports what clients
//! did: [`Control::request_log`], [`Control::max_concurrent_graph_requests`].
//!
//! [`Variance`] (`EmulatorConfig::variance`, [`Control::set_variance`]) makes Graph's answers
//! vary as they do in the field, seeded and reproducible: enum casings, `Retry-After` forms,
//! optional fields left out, join links outside `onlineMeeting`, oversized pages, delta
//! rounds in no order.
//!
//! For benchmarks and tests of the first sync as a new user meets it over a WAN, a
//! [`Latency`] (`EmulatorConfig::latency`, [`Control::set_latency`]) delays every request of
//! the identity platform and Graph on the server side and can throttle response bodies, and
//! [`DeltaOrder::Unordered`] (`EmulatorConfig::delta_order`, [`Control::set_delta_order`])
//! serves a full delta round in a seeded order instead of by start time. Pages hold at most
//! 1000 items (`Prefer: odata.maxpagesize` above that is capped, and `Preference-Applied`
//! says 1000).

// The emulator plays Microsoft's servers, which run on the wall clock (a test moves the
// emulator's own clock with `Control::set_clock` where it needs to): clippy.toml's rule
// that time enters through a `Clock` binds Presently, not this stand-in.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod ami;
mod automation;
mod batch;
mod control;
mod faults;
mod forwarding;
mod graph;
mod identity;
mod latency;
mod mailbox;
mod paging;
mod presence;
mod recurrence;
mod seed;
mod state;
mod subscriptions;
mod throttling;
mod tokens;
mod tz;
mod variance;

pub use automation::{PresenceCall, SinkRequest, DEFAULT_AMI_SECRET, DEFAULT_AMI_USERNAME};
pub use control::{Control, ControlError};
pub use faults::Fault;
pub use latency::Latency;
pub use paging::{DeltaOrder, MAX_PAGE_SIZE};
pub use seed::{DEMO_USER_ID, HOLIDAYS_CALENDAR_ID, PRIMARY_CALENDAR_ID};
pub use state::RequestRecord;
pub use throttling::Throttling;
pub use tokens::DeviceStep;
pub use variance::Variance;

use state::{AppState, Shared};

/// The app registration the demo uses (a public client: "Mobile and desktop applications"
/// with loopback redirect URIs, public client flows allowed).
pub const DEMO_CLIENT_ID: &str = "7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b";
/// The demo tenant.
pub const DEMO_TENANT_ID: &str = "3f9a1c2e-5b7d-4e6f-8a9b-0c1d2e3f4a5b";
/// The demo tenant's initial domain (also accepted as `{tenant}`).
pub const DEMO_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The demo user's sign-in name.
pub const DEMO_UPN: &str = "megan.bowen@contoso.onmicrosoft.com";
/// Redirect URIs registered for [`DEMO_CLIENT_ID`]. Loopback ports are ignored when
/// matching, paths are not.
pub const DEMO_REDIRECT_URIS: &[&str] = &[
    "http://localhost",
    "http://127.0.0.1",
    "http://localhost/callback",
    "http://127.0.0.1/callback",
];

/// Which mailbox the emulator starts with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Seed {
    /// A realistic work week around `today` (see `seed`).
    #[default]
    Demo,
    /// The user and calendars, no events.
    Empty,
}

#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to listen on (default 127.0.0.1:0, an OS-chosen port).
    pub bind: SocketAddr,
    /// Anchor date of the demo mailbox: the demo week is the Mon–Fri week containing it
    /// (on a Saturday or Sunday, the week after; see `seed::week_monday`).
    pub today: chrono::NaiveDate,
    /// The mailbox's time zone (default Europe/Berlin).
    pub mailbox_tz: chrono_tz::Tz,
    pub seed: Seed,
    /// Graph's real-world variance, seeded (default off: the emulator answers in its one
    /// tidy way). See [`Variance`]; [`Control::set_variance`] switches it later.
    pub variance: Option<Variance>,
    /// Latency of the identity and Graph endpoints (default none). See [`Latency`];
    /// [`Control::set_latency`] changes it later.
    pub latency: Latency,
    /// The order of a full delta round (default by start time). See [`DeltaOrder`];
    /// [`Control::set_delta_order`] changes it later.
    pub delta_order: DeltaOrder,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            today: chrono::Utc::now().date_naive(),
            mailbox_tz: chrono_tz::Europe::Berlin,
            seed: Seed::Demo,
            variance: None,
            latency: Latency::NONE,
            delta_order: DeltaOrder::ByStart,
        }
    }
}

/// A running emulator (see [`Emulator::start`]).
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    ami_addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    ami_task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds, spawns the server task and returns once listening.
    pub async fn start(cfg: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(cfg.bind).await?;
        let addr = listener.local_addr()?;
        let ami_listener = TcpListener::bind(SocketAddr::new(cfg.bind.ip(), 0)).await?;
        let ami_addr = ami_listener.local_addr()?;
        let state = build_state(cfg, addr);
        let ami_task = tokio::spawn(ami::serve(ami_listener, state.clone()));
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "emulator server failed");
            }
        });
        tracing::debug!(base_url = %state.base_url, "emulator started");
        Ok(Emulator {
            addr,
            ami_addr,
            state,
            stop: Some(tx),
            task: Some(task),
            ami_task: Some(ami_task),
        })
    }

    /// "http://127.0.0.1:PORT": the authority host and the Graph endpoint.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Address of the fake Asterisk Manager Interface (same IP, its own port).
    pub fn ami_addr(&self) -> SocketAddr {
        self.ami_addr
    }

    /// "http://127.0.0.1:PORT/webex/v1": the base of the Webex Calling fake.
    pub fn webex_base_url(&self) -> String {
        format!("{}/webex/v1", self.state.base_url)
    }

    /// "http://127.0.0.1:PORT/sink": the HTTP sink (any method, any path below).
    pub fn sink_url(&self) -> String {
        format!("{}/sink", self.state.base_url)
    }

    pub fn control(&self) -> Control {
        Control {
            st: self.state.clone(),
        }
    }

    /// Stops accepting connections and waits for the server task to finish.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(task) = self.ami_task.take() {
            let _ = task.await;
        }
    }

    fn stop_now(&mut self) {
        // Release hanging and slow requests so that the graceful shutdown can finish.
        self.state.stopping.send_replace(true);
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn build_state(cfg: EmulatorConfig, addr: SocketAddr) -> AppState {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let base_url = format!("http://{host}:{}", addr.port());
    let mailbox = seed::build(&cfg);
    let variance = cfg.variance.map(|v| variance::VarianceState::new(v.seed));
    let automation = automation::AutomationState::new(cfg.mailbox_tz);
    let apps = vec![tokens::AppRegistration {
        client_id: DEMO_CLIENT_ID.to_string(),
        redirect_uris: DEMO_REDIRECT_URIS
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        allow_public_client_flows: true,
    }];
    Arc::new(Shared {
        base_url,
        mailbox: Mutex::new(mailbox),
        auth: Mutex::new(tokens::AuthState::new(apps)),
        faults: Mutex::new(faults::FaultState::default()),
        requests: AtomicU64::new(0),
        bytes_sent: AtomicU64::new(0),
        request_log: Mutex::new(Vec::new()),
        graph_in_flight: AtomicUsize::new(0),
        graph_max_in_flight: AtomicUsize::new(0),
        views: Mutex::new(state::Lru::new(16)),
        rounds: Mutex::new(state::Lru::new(16)),
        stopping: tokio::sync::watch::channel(false).0,
        automation: Mutex::new(automation),
        variance: Mutex::new(variance),
        latency: Mutex::new(cfg.latency),
        delta_order: Mutex::new(cfg.delta_order),
        users: Mutex::new(std::collections::BTreeMap::new()),
        groups: Mutex::new(std::collections::BTreeMap::new()),
        subscriptions: Mutex::new(subscriptions::SubscriptionState::default()),
        today: cfg.today,
        mailbox_tz: cfg.mailbox_tz,
        throttling: Mutex::new(crate::throttling::ThrottleState::default()),
        batches: AtomicU64::new(0),
        batch_inner: AtomicU64::new(0),
        batch_inner_delta: AtomicU64::new(0),
    })
}

fn router(state: AppState) -> Router {
    Router::new()
        .merge(identity::routes().layer(middleware::from_fn_with_state(
            state.clone(),
            latency::delay,
        )))
        .merge(graph::routes(state.clone()))
        .merge(batch::routes(state.clone()))
        .merge(forwarding::routes())
        .merge(control::routes())
        .layer(middleware::from_fn_with_state(state.clone(), count_and_log))
        // Outermost: a throttled body streams after the request log recorded it.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            latency::throttle,
        ))
        .with_state(state)
}

/// Counts and logs the requests of the service endpoints with their response bytes (the
/// control API is not counted), and logs each request at debug level. A request is
/// recorded once its response is complete.
async fn count_and_log(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let at = chrono::Utc::now();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let method = req.method().clone();
    let resp = next.run(req).await;
    if path.starts_with("/_emulator/") {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "emulator: could not buffer a response body");
            axum::body::Bytes::new()
        }
    };
    tracing::debug!(%method, %path, status = parts.status.as_u16(), bytes = bytes.len(), "emulator request");
    st.record_request(RequestRecord {
        at,
        method: method.to_string(),
        path,
        query,
        status: parts.status.as_u16(),
        bytes: bytes.len() as u64,
    });
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
