//! Shared server state.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::automation::AutomationState;
use crate::faults::FaultState;
use crate::latency::Latency;
use crate::mailbox::{Instance, Mailbox};
use crate::paging::DeltaOrder;
use crate::tokens::AuthState;
use crate::variance::VarianceState;

/// One request served on the identity or Graph endpoints (see `Control::request_log`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// When the request arrived.
    pub at: DateTime<Utc>,
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    pub status: u16,
    /// Response body bytes sent.
    pub bytes: u64,
}

/// One item of a delta round: a changed (or, in an initial round, present) instance, or a
/// removal.
#[derive(Clone, Debug)]
pub enum DeltaItem {
    Present(Instance),
    Removed(String),
}

/// A small least-recently-used cache.
#[derive(Debug)]
pub struct Lru<K, V> {
    cap: usize,
    entries: VecDeque<(K, V)>,
}

impl<K: PartialEq, V: Clone> Lru<K, V> {
    pub fn new(cap: usize) -> Lru<K, V> {
        Lru {
            cap,
            entries: VecDeque::new(),
        }
    }

    pub fn get(&mut self, key: &K) -> Option<V> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(i)?;
        let v = entry.1.clone();
        self.entries.push_front(entry);
        Some(v)
    }

    pub fn put(&mut self, key: K, value: V) {
        self.entries.retain(|(k, _)| k != &key);
        self.entries.push_front((key, value));
        self.entries.truncate(self.cap);
    }
}

/// Key of a cached view: calendar, sequence, window.
pub type ViewKey = (String, u64, DateTime<Utc>, DateTime<Utc>);
/// Key of a cached delta round: calendar, from sequence, to sequence, window.
pub type RoundKey = (String, Option<u64>, u64, DateTime<Utc>, DateTime<Utc>);

/// One of the tenant's other users (server mode syncs them with app-only tokens through
/// `/users/{id}/...`), with a mailbox of their own.
#[derive(Debug)]
pub struct TenantUser {
    pub id: String,
    pub upn: String,
    pub mailbox: Mutex<Mailbox>,
}

impl TenantUser {
    pub fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        lock(&self.mailbox)
    }
}

/// A group of the tenant's directory: its direct members, users or groups, by id.
#[derive(Debug, Clone)]
pub struct TenantGroup {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

#[derive(Debug)]
pub struct Shared {
    pub base_url: String,
    pub mailbox: Mutex<Mailbox>,
    pub auth: Mutex<AuthState>,
    pub faults: Mutex<FaultState>,
    pub requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub request_log: Mutex<Vec<RequestRecord>>,
    /// Graph requests in flight now, and the most seen at once.
    pub graph_in_flight: AtomicUsize,
    pub graph_max_in_flight: AtomicUsize,
    /// Views and delta rounds already computed. History is immutable (every change is a
    /// new version), so an entry never goes stale.
    pub views: Mutex<Lru<ViewKey, Arc<Vec<Instance>>>>,
    pub rounds: Mutex<Lru<RoundKey, Arc<Vec<DeltaItem>>>>,
    /// Flips to true when the emulator stops: releases hanging and slow requests.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Presence, mailbox settings, forwarding fakes and the record of their calls.
    pub automation: Mutex<AutomationState>,
    /// Graph's real-world variance, when on (see `variance`).
    pub variance: Mutex<Option<VarianceState>>,
    /// The latency of the identity and Graph endpoints (see `latency`).
    pub latency: Mutex<Latency>,
    /// The order of a full delta round's items (see [`DeltaOrder`]).
    pub delta_order: Mutex<DeltaOrder>,
    /// The tenant's users besides the demo user, by lower-case id.
    pub users: Mutex<std::collections::BTreeMap<String, Arc<TenantUser>>>,
    /// The tenant's groups, by lower-case id.
    pub groups: Mutex<std::collections::BTreeMap<String, TenantGroup>>,
    /// Change-notification subscriptions and their deliveries (see `subscriptions`).
    pub subscriptions: Mutex<crate::subscriptions::SubscriptionState>,
    /// The anchor date and zone new users' mailboxes are seeded with.
    pub today: chrono::NaiveDate,
    pub mailbox_tz: chrono_tz::Tz,
    /// Throttling by limits (see `throttling`), off by default.
    pub throttling: Mutex<crate::throttling::ThrottleState>,
    /// `$batch` requests served, and the requests they carried.
    pub batches: AtomicU64,
    pub batch_inner: AtomicU64,
    /// Of those, the calendar delta reads (a server's batched polls).
    pub batch_inner_delta: AtomicU64,
}

pub type AppState = Arc<Shared>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Locks the mailbox. A poisoned lock (a panic while holding it) is taken over: the
    /// emulator keeps serving whatever state there is.
    pub fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        lock(&self.mailbox)
    }

    pub fn auth(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.auth)
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }

    pub fn throttling(&self) -> MutexGuard<'_, crate::throttling::ThrottleState> {
        lock(&self.throttling)
    }

    pub fn automation(&self) -> MutexGuard<'_, AutomationState> {
        lock(&self.automation)
    }

    pub fn variance(&self) -> MutexGuard<'_, Option<VarianceState>> {
        lock(&self.variance)
    }

    /// A tenant user by object id or user principal name (Graph accepts either).
    pub fn user(&self, id_or_upn: &str) -> Option<Arc<TenantUser>> {
        let users = lock(&self.users);
        if let Some(u) = users.get(&id_or_upn.to_ascii_lowercase()) {
            return Some(u.clone());
        }
        users
            .values()
            .find(|u| u.upn.eq_ignore_ascii_case(id_or_upn))
            .cloned()
    }

    pub fn users(&self) -> MutexGuard<'_, std::collections::BTreeMap<String, Arc<TenantUser>>> {
        lock(&self.users)
    }

    pub fn subscriptions(&self) -> MutexGuard<'_, crate::subscriptions::SubscriptionState> {
        lock(&self.subscriptions)
    }

    pub fn groups(&self) -> MutexGuard<'_, std::collections::BTreeMap<String, TenantGroup>> {
        lock(&self.groups)
    }

    /// The latency in force.
    pub fn latency(&self) -> Latency {
        *lock(&self.latency)
    }

    pub fn set_latency(&self, latency: Latency) {
        *lock(&self.latency) = latency;
    }

    /// The order of full delta rounds in force.
    pub fn delta_order(&self) -> DeltaOrder {
        *lock(&self.delta_order)
    }

    pub fn set_delta_order(&self, order: DeltaOrder) {
        *lock(&self.delta_order) = order;
    }

    /// The seed of the variance in force, if any.
    pub fn variance_seed(&self) -> Option<u64> {
        self.variance().as_ref().map(|v| v.seed)
    }

    pub fn log(&self) -> MutexGuard<'_, Vec<RequestRecord>> {
        lock(&self.request_log)
    }

    pub fn views(&self) -> MutexGuard<'_, Lru<ViewKey, Arc<Vec<Instance>>>> {
        lock(&self.views)
    }

    pub fn rounds(&self) -> MutexGuard<'_, Lru<RoundKey, Arc<Vec<DeltaItem>>>> {
        lock(&self.rounds)
    }

    /// Records a served request (counters and log together, so they stay consistent).
    pub fn record_request(&self, record: RequestRecord) {
        let mut log = self.log();
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(record.bytes, Ordering::Relaxed);
        log.push(record);
    }

    /// Resolves once the emulator is stopping.
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}
