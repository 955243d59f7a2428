//! What both fakes share: one background runtime (the scenarios are plain `#[test]`s
//! that run real processes; a fake must outlive the test that started it when it is
//! shared, so it cannot live on a per-test runtime), a loopback listener that can be
//! stopped, and the journal of every request a fake answered.

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use axum::Router;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The runtime every fake serves on.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fidelity-fake")
            .enable_all()
            .build()
            .expect("start the fakes' runtime")
    })
}

/// A router served on 127.0.0.1 until [`Listener::stop`] (or drop).
pub(crate) struct Listener {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Listener {
    /// Binds `127.0.0.1:port` (0: a free port) and serves `router` there.
    pub(crate) fn serve(router: Router, port: u16) -> Listener {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port} for a fake: {e}"));
        std_listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = std_listener.local_addr().expect("listener address");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("tokio listener");
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Listener {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and closes the port (a connection still open after 2 s is cut).
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            let finished = runtime().block_on(async {
                tokio::time::timeout(Duration::from_secs(2), task)
                    .await
                    .is_ok()
            });
            if !finished {
                abort.abort();
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Dropping from inside the runtime cannot block on it: just signal.
        if tokio::runtime::Handle::try_current().is_ok() {
            if let Some(tx) = self.shutdown.take() {
                let _ = tx.send(());
            }
            if let Some(task) = self.task.take() {
                task.abort();
            }
        } else {
            self.stop();
        }
    }
}

/// One request a fake answered.
#[derive(Debug, Clone)]
pub struct Call {
    /// When it arrived (wall clock).
    pub at: DateTime<Utc>,
    /// When it arrived (monotonic), for measuring gaps.
    pub instant: Instant,
    /// When the answer was ready (monotonic).
    pub answered: Instant,
    pub method: String,
    /// Percent-decoded per segment.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub status: u16,
    /// Why the fake refused it, for 4xx answers it chose to give.
    pub refused: Option<String>,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `METHOD path?query -> status`, for failure messages.
    pub fn line(&self) -> String {
        format!(
            "{} {} {}{}{} -> {}{}",
            self.at.format("%H:%M:%S%.3f"),
            self.method,
            self.path,
            if self.query.is_empty() { "" } else { "?" },
            self.query,
            self.status,
            self.refused
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    }
}

/// Every request a fake answered, in order; tests wait on it.
#[derive(Default)]
pub struct Journal {
    calls: Mutex<Vec<Call>>,
    changed: Condvar,
}

impl Journal {
    pub(crate) fn push(&self, call: Call) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call);
        self.changed.notify_all();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until `found` returns something for the calls so far, or `timeout` passes.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut found: impl FnMut(&[Call]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(t) = found(&calls) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            calls = self
                .changed
                .wait_timeout(calls, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// All calls, one per line.
    pub fn dump(&self) -> String {
        self.calls()
            .iter()
            .map(Call::line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The parts of a request the fakes look at, read whole.
pub(crate) struct Incoming {
    pub at: DateTime<Utc>,
    pub instant: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Incoming {
    pub(crate) async fn read(request: Request<Body>) -> Incoming {
        let at = Utc::now();
        let instant = Instant::now();
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, 8 * 1024 * 1024)
            .await
            .unwrap_or_default();
        Incoming {
            at,
            instant,
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Query parameters; names compared without case, as OData does.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.into_owned())
    }

    pub(crate) fn into_call(self, status: u16, refused: Option<String>) -> Call {
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Call {
            at: self.at,
            instant: self.instant,
            answered: Instant::now(),
            method: self.method,
            // As the service reads it: a client may percent-encode what a segment may also
            // carry plainly (an id's `=` as `%3D`, as Microsoft's SDKs do).
            path: self
                .path
                .split('/')
                .map(crate::graph::percent_decode)
                .collect::<Vec<_>>()
                .join("/"),
            query: self.query,
            headers,
            body: self.body,
            status,
            refused,
        }
    }
}
