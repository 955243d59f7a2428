//! Peak shaping of presence calls: the presence and mailbox-settings calls of a worker's
//! mailboxes that fall on the same instant go out as JSON batches (`POST /v1.0/$batch`, at
//! most [`MAX_BATCH`] requests each), several batches at once up to a limit (the worker's
//! share of the tenant's budget).
//!
//! A mailbox's automation makes one call at a time and waits for its answer (see
//! `presence::step`), so its calls keep their order; a batch still never carries two
//! requests for the same user (a second waits for the next batch). The calls that arrive
//! within [`BatchOptions::linger`] of the first one waiting share a batch; when every batch
//! slot is busy, what queued meanwhile goes out together as soon as a slot frees up.
//!
//! Each request of a batch is answered on its own: an inner 429 or 503 (or a request the
//! answer left out) is sent again alone, into a later batch, after its own `Retry-After`,
//! while the others of its batch are answered at once. A batch that fails as a whole (the
//! network, a 5xx of `$batch` itself after the client's retries) fails every call in it
//! with that error: to the presence driver an outcome unknown, handled as for a single
//! call (it reads the presence back before it writes again).

use crate::auth::AppTokenSource;
use presently_engine::graph::batch::{Batch, BatchOutcome, BatchRequest, MAX_BATCH};
use presently_engine::graph::GraphClient;
use presently_engine::{Clock, Error};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// How calls are batched.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Batches in flight at once (each up to 20 requests).
    pub concurrent_batches: usize,
    /// How long the first call waiting holds its batch open for others.
    pub linger: Duration,
    /// Sends of one call (its first included) while it is throttled (429/503).
    pub max_attempts: u32,
    /// A `Retry-After` longer than this is not waited out: the call fails (the driver
    /// tries again later, as for any failed call).
    pub max_retry_after: Duration,
    /// What the batches carry, for the log ("presence", "delta poll").
    pub purpose: &'static str,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            purpose: "presence",
            concurrent_batches: 4,
            linger: Duration::from_millis(10),
            max_attempts: 5,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// One call waiting for its batch.
struct Job {
    /// The mailbox it is for: at most one request per mailbox in a batch.
    user: String,
    method: &'static str,
    /// Relative to the version root: `/users/{id}/presence/setPresence`.
    url: String,
    body: Option<serde_json::Value>,
    headers: Vec<(String, String)>,
    attempts: u32,
    reply: oneshot::Sender<Result<Vec<u8>, Error>>,
}

/// Counts of what the batcher sent (for tests and the log).
#[derive(Debug, Default)]
pub struct BatchStats {
    pub batches: std::sync::atomic::AtomicU64,
    pub requests: std::sync::atomic::AtomicU64,
    pub retried: std::sync::atomic::AtomicU64,
}

/// A request budget the batches count against (the tenant's, `[sync] tenant_budget`): a
/// batch in flight holds one permit per request it carries, since Graph counts each inner
/// request against the tenant's and the mailbox's limits as if it were sent alone.
type Budget = Arc<Mutex<Option<Arc<Semaphore>>>>;

/// The handle calls are made through; the batches are sent by a task of their own, which
/// ends once every handle is dropped and what was queued is answered.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Job>,
    pub stats: Arc<BatchStats>,
    budget: Budget,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl Batcher {
    /// Starts the batching task (on the current tokio runtime).
    pub fn start(
        graph_endpoint: &str,
        clock: Arc<dyn Clock>,
        tokens: Arc<AppTokenSource>,
        options: BatchOptions,
    ) -> Result<Self, Error> {
        let slots = options.concurrent_batches.max(1);
        // One client per slot: a client allows a few requests at once (Outlook's limit per
        // mailbox), while a batch carries many mailboxes.
        let clients = (0..slots)
            .map(|_| Ok(GraphClient::new(graph_endpoint)?.with_clock(clock.clone())))
            .collect::<Result<Vec<_>, Error>>()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(BatchStats::default());
        let budget: Budget = Arc::default();
        let shared = Arc::new(Shared {
            budget: budget.clone(),
            clients: Mutex::new(clients),
            slots: Arc::new(Semaphore::new(slots)),
            tokens,
            retry: tx.downgrade(),
            options,
            stats: stats.clone(),
        });
        tokio::spawn(run(rx, shared));
        Ok(Self { tx, stats, budget })
    }

    /// Counts the batches against `permits` from now on: a batch goes out once it holds a
    /// permit for each request it carries (it carries fewer requests rather than wait for
    /// more permits than are free: at least one, as many more as are free at once, up to
    /// [`MAX_BATCH`]), and gives them back when it is answered. The permits are shared with
    /// the requests sent alone (the sync's tenant budget).
    pub fn count_against(&self, permits: Arc<Semaphore>) {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner()) = Some(permits);
    }

    /// Makes one call through a batch: `url` relative to the version root. The answer's
    /// body as a single call would have it (empty for none), or the error a single call
    /// would have had.
    pub async fn call(
        &self,
        user: &str,
        method: &'static str,
        url: String,
        body: Option<serde_json::Value>,
    ) -> Result<Vec<u8>, Error> {
        self.call_with_headers(user, method, url, body, Vec::new())
            .await
    }

    /// [`Batcher::call`] with request headers of the call's own (`Prefer`).
    pub async fn call_with_headers(
        &self,
        user: &str,
        method: &'static str,
        url: String,
        body: Option<serde_json::Value>,
        headers: Vec<(String, String)>,
    ) -> Result<Vec<u8>, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                user: user.to_lowercase(),
                method,
                url,
                body,
                headers,
                attempts: 0,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> Error {
    Error::InvalidInput("the batcher has stopped".into())
}

struct Shared {
    budget: Budget,
    clients: Mutex<Vec<GraphClient>>,
    slots: Arc<Semaphore>,
    tokens: Arc<AppTokenSource>,
    /// Throttled calls come back through here (weak: the handles' drop ends the task).
    retry: mpsc::WeakUnboundedSender<Job>,
    options: BatchOptions,
    stats: Arc<BatchStats>,
}

async fn run(mut rx: mpsc::UnboundedReceiver<Job>, shared: Arc<Shared>) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    let mut open = true;
    while open || !pending.is_empty() {
        if pending.is_empty() {
            match rx.recv().await {
                Some(job) => pending.push_back(job),
                None => break,
            }
        }
        // Hold the batch open a little for the calls of the same instant.
        let deadline = tokio::time::Instant::now() + shared.options.linger;
        while open && pending.len() < MAX_BATCH {
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => pending.push_back(job),
                    None => open = false,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        let Ok(permit) = shared.slots.clone().acquire_owned().await else {
            break;
        };
        // What queued while every slot was busy joins this batch.
        while let Ok(job) = rx.try_recv() {
            pending.push_back(job);
        }
        // With a budget, one permit per request: the batch carries as many as it holds.
        let budget = shared
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (counted, limit) = match budget {
            None => (None, MAX_BATCH),
            Some(budget) => {
                let wanted = pending
                    .iter()
                    .map(|j| j.user.as_str())
                    .collect::<HashSet<_>>()
                    .len()
                    .clamp(1, MAX_BATCH);
                let Ok(mut held) = budget.clone().acquire_owned().await else {
                    break;
                };
                while held.num_permits() < wanted {
                    match budget.clone().try_acquire_owned() {
                        Ok(more) => held.merge(more),
                        Err(_) => break,
                    }
                }
                let limit = held.num_permits();
                if limit < wanted {
                    tracing::debug!(
                        wanted,
                        limit,
                        purpose = shared.options.purpose,
                        "the tenant budget holds this batch to fewer requests"
                    );
                }
                (Some(held), limit)
            }
        };
        let mut batch = Vec::new();
        let mut users = HashSet::new();
        let mut rest = VecDeque::new();
        for job in pending.drain(..) {
            if batch.len() < limit && users.insert(job.user.clone()) {
                batch.push(job);
            } else {
                rest.push_back(job);
            }
        }
        pending = rest;
        let shared = shared.clone();
        tokio::spawn(async move {
            send(&shared, batch).await;
            drop(counted);
            drop(permit);
        });
    }
}

async fn send(shared: &Shared, jobs: Vec<Job>) {
    use std::sync::atomic::Ordering::Relaxed;
    let requests: Vec<BatchRequest> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| BatchRequest {
            id: (i + 1).to_string(),
            method: j.method.to_owned(),
            url: j.url.clone(),
            body: j.body.clone(),
            headers: j.headers.clone(),
        })
        .collect();
    shared.stats.batches.fetch_add(1, Relaxed);
    shared
        .stats
        .requests
        .fetch_add(requests.len() as u64, Relaxed);
    let client = shared
        .clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop();
    let result = match client.as_ref() {
        None => Err(Error::InvalidInput(
            "no Graph client free for a batch".into(),
        )),
        Some(client) => match Batch::new(requests) {
            Err(e) => Err(e),
            Ok(batch) => match shared.tokens.token().await {
                Err(e) => Err(Error::InvalidInput(format!("no app-only token: {e}"))),
                Ok(token) => client.batch(&token, &batch).await,
            },
        },
    };
    if let Some(client) = client {
        shared
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(client);
    }
    let outcomes = match result {
        Ok(outcomes) => outcomes,
        Err(e) => {
            if matches!(e, Error::Unauthorized) {
                shared.tokens.invalidate().await;
            }
            tracing::warn!(error = %e, requests = jobs.len(), purpose = shared.options.purpose, "a batch failed");
            for job in jobs {
                let _ = job.reply.send(Err(copy_error(&e)));
            }
            return;
        }
    };
    let mut unauthorized = false;
    for (mut job, outcome) in jobs.into_iter().zip(outcomes) {
        match outcome {
            BatchOutcome::Answered { status, body, .. } => {
                let answer = answer(status, body);
                unauthorized |= matches!(answer, Err(Error::Unauthorized));
                let _ = job.reply.send(answer);
            }
            BatchOutcome::Retry { after, .. } => {
                job.attempts += 1;
                if job.attempts >= shared.options.max_attempts
                    || after > shared.options.max_retry_after
                {
                    let _ = job.reply.send(Err(Error::Server {
                        status: 429,
                        code: "throttled".into(),
                        message: format!(
                            "throttled {} times (Retry-After {} s)",
                            job.attempts,
                            after.as_secs()
                        ),
                    }));
                    continue;
                }
                shared.stats.retried.fetch_add(1, Relaxed);
                tracing::debug!(user = %job.user, url = %job.url, ?after, "throttled inside a batch; sent again alone after its Retry-After");
                let retry = shared.retry.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    match retry.upgrade() {
                        Some(tx) => {
                            if let Err(mpsc::error::SendError(job)) = tx.send(job) {
                                let _ = job.reply.send(Err(stopped()));
                            }
                        }
                        None => {
                            let _ = job.reply.send(Err(stopped()));
                        }
                    }
                });
            }
        }
    }
    if unauthorized {
        shared.tokens.invalidate().await;
    }
}

/// An inner answer as a single call's result (as `GraphClient` reads one).
fn answer(status: u16, body: serde_json::Value) -> Result<Vec<u8>, Error> {
    if (200..300).contains(&status) {
        return Ok(if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap_or_default()
        });
    }
    if status == 401 {
        return Err(Error::Unauthorized);
    }
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string().chars().take(200).collect());
    Err(Error::Server {
        status,
        code,
        message,
    })
}

/// The same error for each call of a batch that failed as a whole.
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Unauthorized => Error::Unauthorized,
        Error::Server {
            status,
            code,
            message,
        } => Error::Server {
            status: *status,
            code: code.clone(),
            message: message.clone(),
        },
        Error::Network { host, detail } => Error::Network {
            host: host.clone(),
            detail: detail.clone(),
        },
        other => Error::MalformedResponse(format!("the batch failed: {other}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn inner_answers_read_as_single_calls() {
        assert_eq!(
            answer(204, serde_json::Value::Null).unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(
            answer(200, serde_json::json!({"a": 1})).unwrap(),
            br#"{"a":1}"#.to_vec()
        );
        assert!(matches!(
            answer(401, serde_json::Value::Null),
            Err(Error::Unauthorized)
        ));
        match answer(
            403,
            serde_json::json!({"error": {"code": "Forbidden", "message": "no"}}),
        ) {
            Err(Error::Server { status, code, .. }) => {
                assert_eq!((status, code.as_str()), (403, "Forbidden"));
            }
            other => panic!("{other:?}"),
        }
    }
}
