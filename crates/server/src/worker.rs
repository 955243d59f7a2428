//! A worker: claims mailboxes, keeps their leases renewed, and syncs the mailboxes it holds.
//! Several workers (processes) share the mailboxes through the database.

use crate::error::ServerError;
use crate::notifications::{NotificationEvent, SubscriptionOp, Subscriptions};
use crate::store::{Lease, Wake};
use crate::sync::{RoundOutcome, SyncContext};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub worker_id: String,
    pub lease_for: chrono::Duration,
    pub max_mailboxes: i64,
    /// Time between two rounds of a mailbox.
    pub interval: chrono::Duration,
    pub concurrent_mailboxes: usize,
}

/// What one pass of leases did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeasePass {
    pub claimed: Vec<String>,
    pub lost: Vec<String>,
    /// Given up to make room for other workers (above this worker's fair share), released
    /// in this pass.
    pub released: Vec<String>,
    /// Given up, but still held (and renewed) until presence automation has let them go: a
    /// write on its way for one of them finishes under this worker's lease (see
    /// [`Worker::run`]).
    pub releasing: Vec<String>,
}

/// Where the list of users to sync comes from, asked at every lease pass: users join and
/// leave while the server runs.
pub type UsersSource = Arc<
    dyn Fn() -> futures::future::BoxFuture<'static, Result<Vec<String>, ServerError>> + Send + Sync,
>;

pub struct Worker {
    pub options: WorkerOptions,
    ctx: Arc<SyncContext>,
    leases: HashMap<String, Lease>,
    next_round: HashMap<String, DateTime<Utc>>,
    users_source: Option<UsersSource>,
    /// The list last written to the database.
    users: Option<Vec<String>>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// When each held mailbox last completed a round (or was claimed): the sync lag.
    fresh_since: HashMap<String, DateTime<Utc>>,
    /// Presence automation of the held mailboxes, run beside the sync by [`Worker::run`].
    presence: Option<crate::presence::PresenceRunner>,
    /// Mailboxes whose appointments a round changed since presence last looked.
    changed: Arc<Changed>,
    /// Change notifications, when on.
    notifying: Option<Notifying>,
    /// Leases given up (above the fair share) but held, renewed and neither synced nor
    /// automated, until presence automation has let them go: each with the generation of
    /// the leases published to it that left the mailbox out (`None`: not published yet).
    releasing: HashMap<String, Option<u64>>,
    /// The generation of the leases last published to presence automation.
    generation: u64,
    /// The generation of leases presence automation works with (while [`Worker::run`]
    /// runs it; without it, given-up leases are released at once).
    presence_acks: Option<tokio::sync::watch::Receiver<u64>>,
}

/// The leases presence automation is to work with, numbered. Presence acknowledges a
/// generation once it works with its leases only: no step of a mailbox left out is under
/// way any more, and none begins.
#[derive(Debug, Clone, Default)]
struct Published {
    generation: u64,
    leases: HashMap<String, Lease>,
}

/// Change notifications of the held mailboxes: their subscriptions, and the wake-ups the
/// `LISTEN` connection hands over.
struct Notifying {
    /// The URL Graph posts to (`[notifications] public_url`).
    url: String,
    book: Subscriptions,
    wakes: Option<tokio::sync::mpsc::UnboundedReceiver<Wake>>,
    /// Whether the `LISTEN` connection was in force before (a reconnection may have missed
    /// notifications).
    listened: bool,
    http: reqwest::Client,
}

/// Subscription calls of one turn sent side by side (each a Graph request, and for a
/// creation Graph's validation request to the webhook).
const SUBSCRIPTION_CALLS_AT_ONCE: usize = 16;

/// What a subscription call tells the book.
enum BookChange {
    /// The adopted subscription notifies another URL: made anew.
    Replace(String),
    /// A subscription the mailbox's previous holder left, to delete.
    DeleteLater(String),
    Subscribed {
        mailbox: String,
        id: String,
        expires: DateTime<Utc>,
    },
    Failed {
        mailbox: String,
        at: DateTime<Utc>,
        gone: bool,
    },
}

/// How a subscription call ended.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("Graph answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("{0}")]
    Other(String),
}

impl From<ServerError> for CallError {
    fn from(e: ServerError) -> Self {
        CallError::Other(e.to_string())
    }
}

/// The subscription Graph answered: its id and expiry.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphSubscription {
    id: String,
    expiration_date_time: DateTime<Utc>,
    #[serde(default)]
    notification_url: Option<String>,
}

/// Waits for presence automation's next acknowledgement, for ever when it does not run;
/// `None` once it has stopped.
async fn next_ack(acks: &mut Option<tokio::sync::watch::Receiver<u64>>) -> Option<()> {
    match acks {
        Some(rx) => rx.changed().await.ok(),
        None => std::future::pending().await,
    }
}

/// Waits for the next wake-up, for ever when there is no `LISTEN` connection.
async fn next_wake(wakes: &mut Option<tokio::sync::mpsc::UnboundedReceiver<Wake>>) -> Option<Wake> {
    match wakes {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The mailboxes whose appointments changed, and a wake-up for presence automation.
#[derive(Debug, Default)]
pub struct Changed {
    mailboxes: std::sync::Mutex<std::collections::HashSet<String>>,
    notify: tokio::sync::Notify,
}

impl Changed {
    fn mark(&self, mailbox: &str) {
        self.mailboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mailbox.to_owned());
        self.notify.notify_one();
    }

    fn take(&self) -> std::collections::HashSet<String> {
        std::mem::take(&mut *self.mailboxes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Longest sleep of the presence loop: a clock jump is noticed within it.
const PRESENCE_MAX_STEP: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs presence automation for the leases `leases` says are held, until dropped: a pass
/// whenever the leases change, a round changed appointments, the policy was replaced, or
/// the next automation is due;
/// in between it sleeps. Before each pass, `acks` says which generation of the leases it
/// works with: a mailbox left out of it is no longer automated (the pass before, which may
/// have stepped it, is over), so the worker may release it.
async fn run_presence(
    mut runner: crate::presence::PresenceRunner,
    mut leases: tokio::sync::watch::Receiver<Published>,
    acks: tokio::sync::watch::Sender<u64>,
    changed: Arc<Changed>,
    clock: Arc<dyn presently_engine::Clock>,
) {
    // A policy read again (SIGHUP) is applied at the next pass, at once.
    let mut policy = runner.policy_changes();
    loop {
        let (generation, held) = {
            let published = leases.borrow_and_update();
            (published.generation, published.leases.clone())
        };
        // The pass drops the automations of the mailboxes left out before it steps any.
        acks.send_if_modified(|acked| {
            let new = *acked != generation;
            *acked = generation;
            new
        });
        let dirty = changed.take();
        runner.pass(&held, &dirty).await;
        let now = clock.now();
        let wait = runner
            .next_wake(now)
            .map(|t| (t - now).to_std().unwrap_or(std::time::Duration::ZERO))
            .unwrap_or(PRESENCE_MAX_STEP)
            .min(PRESENCE_MAX_STEP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = leases.changed() => if r.is_err() { return },
            _ = changed.notify.notified() => {}
            r = policy.changed() => if r.is_err() { return },
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("options", &self.options)
            .field("held", &self.held())
            .finish_non_exhaustive()
    }
}

impl Worker {
    pub fn new(ctx: Arc<SyncContext>, options: WorkerOptions) -> Self {
        Self {
            options,
            ctx,
            leases: HashMap::new(),
            next_round: HashMap::new(),
            users_source: None,
            users: None,
            metrics: None,
            fresh_since: HashMap::new(),
            presence: None,
            changed: Arc::new(Changed::default()),
            notifying: None,
            releasing: HashMap::new(),
            generation: 0,
            presence_acks: None,
        }
    }

    /// Subscribes to change notifications of the held mailboxes, Graph posting to
    /// `notification_url` (served by [`crate::webhook`]), and syncs a mailbox when `wakes`
    /// (from [`crate::store::Store::listen`]) says one of its notifications arrived. The
    /// regular rounds (`interval`) become a safety poll.
    pub fn with_notifications(
        mut self,
        notification_url: &str,
        wakes: tokio::sync::mpsc::UnboundedReceiver<Wake>,
    ) -> Self {
        self.notifying = Some(Notifying {
            url: notification_url.to_owned(),
            book: Subscriptions::default(),
            wakes: Some(wakes),
            listened: false,
            http: reqwest::Client::new(),
        });
        self
    }

    /// Makes the subscriptions match the held mailboxes and sends the calls due now:
    /// creations, renewals, deletions of mailboxes given up. The calls go out
    /// [`SUBSCRIPTION_CALLS_AT_ONCE`] side by side, and the loop stops sending once half a
    /// lease-renewal period has passed: a worker that has just claimed thousands of
    /// mailboxes must still renew its leases on time (the rest stay due and go out at the
    /// next turn). Sent one after the other inside the loop, 10,000 creations took minutes,
    /// the leases expired meanwhile and the mailboxes went round the workers.
    pub async fn drive_subscriptions(&mut self) {
        let held = self.serving();
        let Some(mut n) = self.notifying.take() else {
            return;
        };
        let deadline = tokio::time::Instant::now() + self.renew_every() / 2;
        // A mailbox new to this worker whose previous holder (killed, or past its lease)
        // left a live subscription: taken over, not made anew.
        let now = self.ctx.clock.now();
        let new: Vec<&str> = held
            .iter()
            .filter(|m| n.book.get(m).is_none())
            .map(String::as_str)
            .collect();
        match self.ctx.store.subscriptions_of(&new).await {
            Ok(recorded) => {
                for recorded in recorded {
                    let (mailbox, id) = (recorded.mailbox.clone(), recorded.id.clone());
                    if n.book.adopt(
                        &mailbox,
                        recorded.id,
                        recorded.client_state,
                        recorded.expires_at,
                        now,
                    ) {
                        tracing::info!(%mailbox, subscription = %id, "adopting the subscription the mailbox's previous holder left");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(mailboxes = new.len(), code = e.code(), error = %e, "cannot read the new mailboxes' recorded subscriptions; making new ones");
            }
        }
        n.book.set_mailboxes(&held, now);
        loop {
            let now = self.ctx.clock.now();
            let mut calls = Vec::new();
            while calls.len() < SUBSCRIPTION_CALLS_AT_ONCE {
                let Some(op) = n.book.poll_op(now) else {
                    break;
                };
                let (adopted, client_state) = match &op {
                    SubscriptionOp::Renew { mailbox, .. } => n
                        .book
                        .get(mailbox)
                        .map(|s| (s.is_adopted(), s.client_state.clone()))
                        .unwrap_or_default(),
                    _ => (false, String::new()),
                };
                calls.push(self.run_op(&n.http, &n.url, op, adopted, client_state));
            }
            if calls.is_empty() {
                break;
            }
            for outcome in futures::future::join_all(calls).await.into_iter().flatten() {
                match outcome {
                    BookChange::Replace(mailbox) => n.book.replace(&mailbox),
                    BookChange::DeleteLater(id) => n.book.delete_later(id),
                    BookChange::Subscribed {
                        mailbox,
                        id,
                        expires,
                    } => n.book.handle_subscribed(&mailbox, id, expires),
                    BookChange::Failed { mailbox, at, gone } => {
                        n.book.handle_failed(&mailbox, at, gone)
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.subscriptions_active.set(n.book.active() as i64);
        }
        self.notifying = Some(n);
    }

    /// Sends one subscription call; what the book learns from it, applied by the caller
    /// (the calls of one turn run side by side).
    async fn run_op(
        &self,
        http: &reqwest::Client,
        url: &str,
        op: SubscriptionOp,
        adopted: bool,
        renew_client_state: String,
    ) -> Vec<BookChange> {
        let now = self.ctx.clock.now();
        let (mailbox, client_state, answer) = match op {
            SubscriptionOp::Create {
                mailbox,
                client_state,
                expires,
            } => {
                let body = serde_json::json!({
                    "changeType": "created,updated,deleted",
                    "notificationUrl": url,
                    "lifecycleNotificationUrl": url,
                    "resource": format!("users/{mailbox}/events"),
                    "expirationDateTime": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "clientState": client_state,
                });
                let answer = call(
                    &self.ctx,
                    http,
                    reqwest::Method::POST,
                    "/v1.0/subscriptions",
                    Some(body),
                )
                .await;
                (mailbox, client_state, answer)
            }
            SubscriptionOp::Renew {
                mailbox,
                id,
                expires,
            } => {
                let body = serde_json::json!({
                    "expirationDateTime": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                });
                let answer = call(
                    &self.ctx,
                    http,
                    reqwest::Method::PATCH,
                    &format!("/v1.0/subscriptions/{id}"),
                    Some(body),
                )
                .await;
                (mailbox, renew_client_state, answer)
            }
            SubscriptionOp::Delete { id } => {
                // A lease lost (not given up) leaves the subscription to the mailbox's new
                // holder, which may have adopted it already: then it stays.
                match self.ctx.store.subscription_keeper(&id).await {
                    Ok(Some(keeper)) if keeper != self.options.worker_id => {
                        tracing::info!(subscription = %id, %keeper, "not deleted: the mailbox's new holder has adopted it");
                        return Vec::new();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(subscription = %id, code = e.code(), error = %e, "cannot tell whether another worker adopted a subscription; deleting it");
                    }
                }
                match call(
                    &self.ctx,
                    http,
                    reqwest::Method::DELETE,
                    &format!("/v1.0/subscriptions/{id}"),
                    None,
                )
                .await
                {
                    Ok(_) | Err(CallError::Status { status: 404, .. }) => {
                        tracing::info!(subscription = %id, "subscription deleted");
                    }
                    // It expires on its own; its notifications no longer match a record.
                    Err(e) => {
                        tracing::warn!(subscription = %id, error = %e, "cannot delete a subscription")
                    }
                }
                if let Err(e) = self.ctx.store.delete_subscription(&id).await {
                    tracing::warn!(code = e.code(), error = %e, "cannot forget a subscription");
                }
                return Vec::new();
            }
        };
        let sub = answer.and_then(|v| {
            serde_json::from_value::<GraphSubscription>(v)
                .map_err(|e| CallError::Other(format!("not a subscription: {e}")))
        });
        match sub {
            Ok(sub)
                if adopted
                    && !sub
                        .notification_url
                        .as_deref()
                        .is_some_and(|u| same_url(u, url)) =>
            {
                // Made by a worker with another public_url: it cannot be kept.
                tracing::warn!(%mailbox, subscription = %sub.id, notification_url = ?sub.notification_url, ours = %url, "the adopted subscription notifies another URL; replacing it");
                vec![BookChange::Replace(mailbox)]
            }
            Ok(sub) => {
                let saved = match self.leases.get(&mailbox) {
                    Some(lease) => {
                        self.ctx
                            .store
                            .save_subscription(
                                lease,
                                &sub.id,
                                &client_state,
                                sub.expiration_date_time,
                            )
                            .await
                    }
                    None => Ok(None),
                };
                match saved {
                    Ok(replaced) => {
                        tracing::info!(%mailbox, subscription = %sub.id, expires = %sub.expiration_date_time, "subscribed to change notifications");
                        let mut changes = Vec::new();
                        if let Some(old) = replaced {
                            tracing::info!(%mailbox, subscription = %old, "deleting the subscription the mailbox's previous holder left");
                            changes.push(BookChange::DeleteLater(old));
                        }
                        changes.push(BookChange::Subscribed {
                            mailbox,
                            id: sub.id,
                            expires: sub.expiration_date_time,
                        });
                        changes
                    }
                    Err(e) => {
                        // Unrecorded, its notifications would be refused: it goes, and is
                        // made again later (or by the mailbox's new holder).
                        tracing::warn!(%mailbox, code = e.code(), error = %e, "cannot record a subscription; deleting it");
                        let _ = call(
                            &self.ctx,
                            http,
                            reqwest::Method::DELETE,
                            &format!("/v1.0/subscriptions/{}", sub.id),
                            None,
                        )
                        .await;
                        vec![
                            BookChange::Subscribed {
                                mailbox: mailbox.clone(),
                                id: sub.id,
                                expires: sub.expiration_date_time,
                            },
                            BookChange::Failed {
                                mailbox,
                                at: now,
                                gone: false,
                            },
                        ]
                    }
                }
            }
            Err(CallError::Status { status: 404, .. }) => {
                tracing::info!(%mailbox, "the subscription is gone; creating it again");
                vec![BookChange::Failed {
                    mailbox,
                    at: now,
                    gone: true,
                }]
            }
            Err(e) => {
                tracing::warn!(%mailbox, error = %e, "a subscription call failed; trying again later");
                vec![BookChange::Failed {
                    mailbox,
                    at: now,
                    gone: false,
                }]
            }
        }
    }

    /// What a wake-up from the `LISTEN` connection asks: true when a held mailbox is now due
    /// for a round.
    fn on_wake(&mut self, wake: Wake) -> bool {
        let now = self.ctx.clock.now();
        match wake {
            Wake::Reconnected => {
                let Some(n) = self.notifying.as_mut() else {
                    return false;
                };
                if !n.listened {
                    // The first LISTEN: nothing was missed that the first rounds do not read.
                    n.listened = true;
                    return false;
                }
                // Notifications sent while nobody listened are lost: every held mailbox is
                // looked at.
                tracing::info!("listening for wake-ups again; syncing every held mailbox");
                self.next_round.clear();
                true
            }
            Wake::Payload(payload) => {
                let Some(event) = NotificationEvent::from_payload(&payload) else {
                    tracing::warn!("an unknown wake-up payload was ignored");
                    return false;
                };
                if !self.leases.contains_key(event.mailbox())
                    || self.releasing.contains_key(event.mailbox())
                {
                    return false;
                }
                if let Some(n) = self.notifying.as_mut() {
                    n.book.apply(&event, now);
                }
                match event {
                    NotificationEvent::Changed { mailbox }
                    | NotificationEvent::Missed { mailbox } => {
                        tracing::debug!(%mailbox, "a change notification: syncing now");
                        self.next_round.remove(&mailbox);
                        true
                    }
                    NotificationEvent::Reauthorize { mailbox }
                    | NotificationEvent::Removed { mailbox } => {
                        tracing::info!(%mailbox, "a lifecycle notification: the subscription is renewed or made again");
                        false
                    }
                }
            }
        }
    }

    /// Sends the deletions of subscriptions at shutdown (the book was emptied).
    async fn delete_subscriptions_at_shutdown(&mut self) {
        let Some(mut n) = self.notifying.take() else {
            return;
        };
        // Only deletions are left, sent side by side like the calls of a turn.
        loop {
            let now = self.ctx.clock.now();
            let calls: Vec<_> = std::iter::from_fn(|| n.book.poll_op(now))
                .take(SUBSCRIPTION_CALLS_AT_ONCE)
                .map(|op| self.run_op(&n.http, &n.url, op, false, String::new()))
                .collect();
            if calls.is_empty() {
                break;
            }
            futures::future::join_all(calls).await;
        }
        self.notifying = Some(n);
    }

    /// When the next subscription call falls due, if notifications are on.
    fn subscriptions_due(&self) -> Option<std::time::Duration> {
        let at = self.notifying.as_ref()?.book.poll_timeout()?;
        let now = self.ctx.clock.now();
        Some((at - now).to_std().unwrap_or(std::time::Duration::ZERO))
    }

    /// Runs presence automation for the held mailboxes beside the sync ([`Worker::run`]).
    pub fn with_presence(mut self, runner: crate::presence::PresenceRunner) -> Self {
        self.presence = Some(runner);
        self
    }

    /// The leases to tell presence automation about, if they changed (not their renewals):
    /// those held but for the ones being released, as a new generation.
    fn publish(&mut self, tx: &tokio::sync::watch::Sender<Published>) {
        let serving: HashMap<String, Lease> = self
            .leases
            .iter()
            .filter(|(m, _)| !self.releasing.contains_key(*m))
            .map(|(m, l)| (m.clone(), l.clone()))
            .collect();
        let generation = self.generation + 1;
        let sent = tx.send_if_modified(|shown| {
            let same = shown.leases.len() == serving.len()
                && serving
                    .iter()
                    .all(|(m, l)| shown.leases.get(m).is_some_and(|s| s.token == l.token));
            if !same {
                *shown = Published {
                    generation,
                    leases: serving,
                };
            }
            !same
        });
        if sent {
            self.generation = generation;
        }
        // The generation in force leaves out every mailbox being released.
        for g in self.releasing.values_mut() {
            g.get_or_insert(self.generation);
        }
    }

    /// Releases the leases given up whose mailboxes presence automation has let go (all of
    /// them when it does not run); returns their mailboxes.
    async fn release_let_go(&mut self) -> Result<Vec<String>, ServerError> {
        let acked = self.presence_acks.as_ref().map(|rx| *rx.borrow());
        let let_go: Vec<Lease> = self
            .releasing
            .iter()
            .filter(|(_, g)| match (acked, g) {
                (None, _) => true,
                (Some(acked), Some(g)) => *g <= acked,
                (Some(_), None) => false,
            })
            .filter_map(|(m, _)| self.leases.get(m).cloned())
            .collect();
        if let_go.is_empty() {
            return Ok(Vec::new());
        }
        self.ctx.store.release(&let_go).await?;
        let mut released = Vec::new();
        for lease in let_go {
            tracing::info!(mailbox = %lease.mailbox, "released for another worker: presence automation has let it go");
            self.forget(&lease.mailbox);
            released.push(lease.mailbox);
        }
        released.sort();
        self.update_gauges();
        Ok(released)
    }

    /// Forgets a lease lost or released.
    fn forget(&mut self, mailbox: &str) {
        self.leases.remove(mailbox);
        self.next_round.remove(mailbox);
        self.releasing.remove(mailbox);
    }

    /// Keeps `metrics` up to date.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn update_gauges(&mut self) {
        let now = self.ctx.clock.now();
        self.fresh_since.retain(|m, _| self.leases.contains_key(m));
        for mailbox in self.leases.keys() {
            self.fresh_since.entry(mailbox.clone()).or_insert(now);
        }
        if let Some(metrics) = &self.metrics {
            metrics.mailboxes_owned.set(self.leases.len() as i64);
            let lag = self
                .fresh_since
                .values()
                .map(|t| (now - *t).num_milliseconds().max(0) as f64 / 1000.0)
                .fold(0.0, f64::max);
            metrics.sync_lag_seconds.set(lag);
        }
    }

    /// Asks `source` for the users at every lease pass and writes a changed list to the
    /// database (new users are added, users no longer listed disabled).
    pub fn with_users_source(mut self, source: UsersSource) -> Self {
        self.users_source = Some(source);
        self
    }

    /// Brings the database's list of users up to date with the source, if there is one; a
    /// source that fails leaves the list as it was.
    async fn refresh_users(&mut self) -> Result<(), ServerError> {
        let Some(source) = &self.users_source else {
            return Ok(());
        };
        match source().await {
            Ok(mut users) => {
                users.sort();
                users.dedup();
                if self.users.as_ref() != Some(&users) {
                    self.ctx.store.set_users(&users).await?;
                    tracing::info!(users = users.len(), "the list of users changed");
                    self.users = Some(users);
                }
            }
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "cannot read the list of users; keeping the last one");
            }
        }
        Ok(())
    }

    /// The mailboxes this worker believes it holds, sorted (those given up but not yet
    /// released included).
    pub fn held(&self) -> Vec<String> {
        let mut held: Vec<String> = self.leases.keys().cloned().collect();
        held.sort();
        held
    }

    /// The mailboxes held and not given up, sorted: those synced and automated.
    pub fn serving(&self) -> Vec<String> {
        let mut serving: Vec<String> = self
            .leases
            .keys()
            .filter(|m| !self.releasing.contains_key(*m))
            .cloned()
            .collect();
        serving.sort();
        serving
    }

    /// The lease this worker believes it holds on `mailbox`.
    pub fn lease(&self, mailbox: &str) -> Option<&Lease> {
        self.leases.get(mailbox)
    }

    /// Brings the users up to date, renews the leases held and forgets the lost ones, then
    /// gives up what is above this worker's fair share or claims free and expired mailboxes
    /// up to it. Leases given up are released at once, but while [`Worker::run`] runs
    /// presence automation: then they are held (renewed, not synced) until it has let their
    /// mailboxes go, and released by the pass or wake-up that sees it.
    #[tracing::instrument(skip_all, fields(worker = %self.options.worker_id))]
    pub async fn maintain_leases(&mut self) -> Result<LeasePass, ServerError> {
        self.refresh_users().await?;
        let store = self.ctx.store.clone();
        let held: Vec<Lease> = self.leases.values().cloned().collect();
        let (kept, lost) = store.renew(&held, self.options.lease_for).await?;
        let mut pass = LeasePass::default();
        for lease in lost {
            tracing::warn!(mailbox = %lease.mailbox, token = lease.token, "lease lost");
            self.forget(&lease.mailbox);
            pass.lost.push(lease.mailbox);
        }
        for lease in kept {
            self.leases.insert(lease.mailbox.clone(), lease);
        }
        // The fair share: the enabled mailboxes divided among the live workers (rounded
        // up), at most `max_mailboxes`. Above it, the excess is released for the others
        // to claim; below it, free and expired mailboxes are claimed.
        let (live, enabled) = store
            .heartbeat(&self.options.worker_id, self.options.lease_for)
            .await?;
        // The tenant's request budget, shared the same way (with `[sync] tenant_budget`).
        self.ctx.share_tenant_budget(live);
        let share = ((enabled + live - 1) / live).min(self.options.max_mailboxes);
        let excess = self.leases.len().saturating_sub(self.releasing.len()) as i64 - share;
        if excess > 0 {
            let mut held: Vec<Lease> = self
                .leases
                .values()
                .filter(|l| !self.releasing.contains_key(&l.mailbox))
                .cloned()
                .collect();
            held.sort_by(|a, b| b.mailbox.cmp(&a.mailbox));
            let give_up: Vec<Lease> = held.into_iter().take(excess as usize).collect();
            if self.presence_acks.is_some() {
                // Presence automation may have a write on its way for one: released once
                // it has let them go, a new holder never sends that write again.
                for lease in give_up {
                    tracing::info!(mailbox = %lease.mailbox, live, share, "giving up for another worker once presence automation lets it go");
                    self.next_round.remove(&lease.mailbox);
                    self.releasing.insert(lease.mailbox.clone(), None);
                    pass.releasing.push(lease.mailbox);
                }
            } else {
                store.release(&give_up).await?;
                for lease in give_up {
                    tracing::info!(mailbox = %lease.mailbox, live, share, "released for another worker");
                    self.forget(&lease.mailbox);
                    pass.released.push(lease.mailbox);
                }
            }
        }
        pass.released.extend(self.release_let_go().await?);
        // Leases being released still count: the worker never holds more than its share.
        let room = share - self.leases.len() as i64;
        let claimed = store
            .claim(&self.options.worker_id, room, self.options.lease_for)
            .await?;
        for lease in claimed {
            tracing::info!(mailbox = %lease.mailbox, token = lease.token, "mailbox claimed");
            pass.claimed.push(lease.mailbox.clone());
            self.leases.insert(lease.mailbox.clone(), lease);
        }
        pass.claimed.sort();
        pass.lost.sort();
        pass.released.sort();
        pass.releasing.sort();
        if let Some(metrics) = &self.metrics {
            metrics.leases_lost.inc_by(pass.lost.len() as u64);
            metrics.lease_pass_succeeded(self.ctx.clock.now());
        }
        self.update_gauges();
        Ok(pass)
    }

    /// Syncs every held mailbox whose next round is due (all of them when `force`), up to
    /// `concurrent_mailboxes` at once. A mailbox whose write was fenced is dropped: its lease
    /// belongs to another worker now.
    #[tracing::instrument(skip_all, fields(worker = %self.options.worker_id))]
    pub async fn sync_due(&mut self, force: bool) -> Vec<Result<RoundOutcome, ServerError>> {
        let now = self.ctx.clock.now();
        let due: Vec<Lease> = self
            .leases
            .values()
            .filter(|l| !self.releasing.contains_key(&l.mailbox))
            .filter(|l| force || self.next_round.get(&l.mailbox).is_none_or(|t| *t <= now))
            .cloned()
            .collect();
        let ctx = self.ctx.clone();
        let syncs = futures::stream::iter(due.into_iter().map(|lease| {
            let ctx = ctx.clone();
            async move {
                let result = ctx.sync_mailbox(&lease).await;
                (lease, result)
            }
        }))
        .buffer_unordered(self.options.concurrent_mailboxes.max(1))
        .collect::<Vec<(Lease, Result<RoundOutcome, ServerError>)>>();
        // The leases are renewed while the rounds run, so that a pass longer than the lease
        // keeps them; one lost meanwhile fences its round's next write.
        let held: Vec<Lease> = self.leases.values().cloned().collect();
        let lost = std::sync::Mutex::new(Vec::<String>::new());
        let renewing = async {
            loop {
                tokio::time::sleep(self.renew_every()).await;
                match self.ctx.store.renew(&held, self.options.lease_for).await {
                    Ok((_, gone)) => {
                        let mut lost = lost.lock().unwrap_or_else(|p| p.into_inner());
                        lost.extend(gone.into_iter().map(|l| l.mailbox));
                    }
                    Err(e) => tracing::warn!(code = e.code(), error = %e, "lease renewal failed"),
                }
            }
        };
        let results = tokio::select! {
            results = syncs => results,
            never = renewing => never,
        };
        for mailbox in lost.into_inner().unwrap_or_else(|p| p.into_inner()) {
            tracing::warn!(%mailbox, "lease lost during the pass");
            self.forget(&mailbox);
        }
        let finished = self.ctx.clock.now();
        let next = finished + self.options.interval;
        let results = results
            .into_iter()
            .map(|(lease, result)| {
                let outcome = match &result {
                    Err(ServerError::Fenced { .. }) => {
                        self.forget(&lease.mailbox);
                        "fenced"
                    }
                    Err(e) => {
                        tracing::warn!(mailbox = %lease.mailbox, code = e.code(), error = %e, "round failed");
                        self.next_round.insert(lease.mailbox.clone(), next);
                        "failed"
                    }
                    Ok(outcome) => {
                        self.next_round.insert(lease.mailbox.clone(), next);
                        self.fresh_since.insert(lease.mailbox.clone(), finished);
                        if outcome.upserted + outcome.removed > 0 {
                            self.changed.mark(&lease.mailbox);
                        }
                        "ok"
                    }
                };
                if let Some(metrics) = &self.metrics {
                    metrics.round(outcome);
                }
                result
            })
            .collect();
        self.update_gauges();
        results
    }

    /// How often leases are renewed: a third of their time, so two renewals can fail before
    /// one is lost.
    fn renew_every(&self) -> std::time::Duration {
        (self.options.lease_for / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1))
            .max(std::time::Duration::from_millis(200))
    }

    /// Gives every lease up and leaves the workers (shutdown), so the others take the
    /// mailboxes at their next pass.
    pub async fn release_all(&mut self) -> Result<(), ServerError> {
        let held: Vec<Lease> = self.leases.drain().map(|(_, l)| l).collect();
        self.next_round.clear();
        self.releasing.clear();
        self.ctx.store.release(&held).await?;
        self.ctx.store.leave(&self.options.worker_id).await
    }

    /// Runs until `shutdown` resolves: leases are maintained every third of the lease time,
    /// due mailboxes synced in between; then the leases are released. A lease given up to
    /// another worker (above the fair share) is released only once presence automation has
    /// let its mailbox go: a write on its way for it is answered and its outcome stored
    /// under this worker's lease first, so the next holder never sends it again. Until then
    /// the lease is renewed, and the mailbox neither synced nor automated. With notifications
    /// on, the subscriptions follow each lease pass, and between passes the loop sleeps
    /// until a wake-up (a held mailbox's notification: its round runs at once) or the next
    /// subscription call is due; at shutdown the subscriptions are deleted.
    ///
    /// If the presence task dies (a panic), the worker notices at once, stops as at
    /// shutdown (subscriptions deleted, leases released) and returns `presence_stopped`.
    ///
    /// Presence automation runs as a task of its own, never as a future polled only while
    /// this loop waits: a step frozen between two statements of its transaction (holding a
    /// connection and the mailbox row `FOR SHARE`) while the loop renews or releases leases
    /// would wait on the loop, and the loop on it, for ever (the worker hung, and another
    /// worker's claim skipped the locked row, so its mailbox was never automated again).
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServerError> {
        tokio::pin!(shutdown);
        let tick = self.renew_every();
        let (leases_tx, leases_rx) = tokio::sync::watch::channel(Published::default());
        let (acks_tx, acks_rx) = tokio::sync::watch::channel(0);
        let mut presence = self.presence.take().map(|runner| {
            let changed = self.changed.clone();
            let clock = self.ctx.clock.clone();
            tokio::spawn(run_presence(runner, leases_rx, acks_tx, changed, clock))
        });
        if presence.is_some() {
            self.presence_acks = Some(acks_rx);
        }
        let mut acks = self.presence_acks.clone();
        // The presence task's channel of acknowledgements closed: it ended.
        let mut presence_gone = false;
        // Why presence automation stopped, if it did.
        let mut stopped = None;
        let mut wakes = self.notifying.as_mut().and_then(|n| n.wakes.take());
        'serving: loop {
            match self.maintain_leases().await {
                Ok(pass)
                    if !pass.claimed.is_empty()
                        || !pass.lost.is_empty()
                        || !pass.released.is_empty()
                        || !pass.releasing.is_empty() =>
                {
                    tracing::info!(claimed = ?pass.claimed, lost = ?pass.lost, released = ?pass.released, releasing = ?pass.releasing, held = self.leases.len(), "leases");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code(), error = %e, "lease maintenance failed"),
            }
            if let Some(task) = presence.take_if(|p| presence_gone || p.is_finished()) {
                // It ends only when told to: this is a panic. The worker stops (its leases
                // released, for workers that automate them) rather than hold mailboxes it no
                // longer automates.
                let detail = match task.await {
                    Err(e) => e.to_string(),
                    Ok(()) => "it ended".to_owned(),
                };
                tracing::error!(code = "presence_stopped", error = %detail, "presence automation stopped; stopping");
                stopped = Some(detail);
                break 'serving;
            }
            self.publish(&leases_tx);
            // Subscriptions follow the leases: new mailboxes subscribed, given-up ones not.
            self.drive_subscriptions().await;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.sync_due(false) => {}
            }
            self.publish(&leases_tx);
            // Until the next lease pass: asleep, but for a notification (a wake-up from the
            // LISTEN connection) or a subscription call falling due.
            let next_pass = tokio::time::Instant::now() + tick;
            loop {
                let book = self
                    .subscriptions_due()
                    .map(|d| tokio::time::Instant::now() + d)
                    .unwrap_or(next_pass)
                    .min(next_pass);
                tokio::select! {
                    _ = &mut shutdown => break 'serving,
                    _ = tokio::time::sleep_until(next_pass) => break,
                    _ = tokio::time::sleep_until(book), if book < next_pass => {
                        self.drive_subscriptions().await;
                    }
                    ack = next_ack(&mut acks) => {
                        if ack.is_none() {
                            // Presence automation stopped: the worker stops at once.
                            acks = None;
                            presence_gone = true;
                            break;
                        }
                        match self.release_let_go().await {
                            Ok(released) if !released.is_empty() => {
                                tracing::info!(?released, held = self.leases.len(), "leases");
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(code = e.code(), error = %e, "cannot release the leases given up; trying again at the next lease pass"),
                        }
                    }
                    wake = next_wake(&mut wakes) => {
                        let Some(wake) = wake else {
                            tracing::warn!("the LISTEN connection is gone; the safety poll remains");
                            wakes = None;
                            continue;
                        };
                        let mut due = self.on_wake(wake);
                        // Several notifications at once make one pass.
                        while let Some(Ok(more)) = wakes.as_mut().map(|w| w.try_recv()) {
                            due |= self.on_wake(more);
                        }
                        self.drive_subscriptions().await;
                        if due {
                            tokio::select! {
                                _ = &mut shutdown => break 'serving,
                                _ = self.sync_due(false) => {}
                            }
                            self.publish(&leases_tx);
                        }
                    }
                }
            }
        }
        // Subscriptions of the mailboxes given up go with them.
        if let Some(n) = self.notifying.as_mut() {
            n.book.set_mailboxes(&[], self.ctx.clock.now());
        }
        self.delete_subscriptions_at_shutdown().await;
        // Presence stops after the pass under way (the closed channel ends it), before the
        // leases it works under are given up; one stuck past a lease time is aborted (its
        // writes are fenced, and a write whose outcome is lost is read back by the next
        // holder).
        drop(leases_tx);
        if let Some(task) = presence {
            let wait = self
                .options
                .lease_for
                .to_std()
                .unwrap_or(std::time::Duration::from_secs(30));
            let abort = task.abort_handle();
            if tokio::time::timeout(wait, task).await.is_err() {
                tracing::warn!("presence automation did not stop in time; aborted");
                abort.abort();
            }
        }
        tracing::info!(held = self.leases.len(), "shutting down; releasing leases");
        self.release_all().await?;
        match stopped {
            Some(detail) => Err(ServerError::PresenceStopped(detail)),
            None => Ok(()),
        }
    }
}

/// Whether two notification URLs name the same endpoint (parsed: Graph may spell the host
/// or an empty path differently).
fn same_url(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A subscription call to Graph (`path` under the endpoint) with the app-only token.
async fn call(
    ctx: &SyncContext,
    http: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, CallError> {
    use secrecy::ExposeSecret as _;
    let url = url::Url::parse(&ctx.graph_endpoint)
        .and_then(|u| u.join(path))
        .map_err(|e| CallError::Other(format!("cannot build the subscription URL: {e}")))?;
    let token = ctx.tokens.token().await?;
    let mut request = http
        .request(method, url)
        .bearer_auth(token.expose_secret())
        .timeout(std::time::Duration::from_secs(30));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| CallError::Other(e.to_string()))?;
    let status = answer.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        ctx.tokens.invalidate().await;
    }
    if !status.is_success() {
        let text = answer.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(CallError::Status {
            status: status.as_u16(),
            message,
        });
    }
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(serde_json::Value::Null);
    }
    answer
        .json()
        .await
        .map_err(|e| CallError::Other(format!("an unreadable answer: {e}")))
}
