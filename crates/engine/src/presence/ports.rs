//! The narrow ports through which the presence runtime reaches the rest of the engine: the
//! plan's inputs, the journal in the store, Graph's presence and mailbox settings, and the
//! call-forwarding provider. `engine/presence.rs` implements them for `Engine`; nothing in
//! `presence/` knows the engine.

use super::call_watch::EndedEarly;
use super::driver::Plan;
use super::forwarding::ForwardingProvider;
use super::journal::{Durable, Persist, TakeOver};
use super::CallEndedRestore;
use crate::error::Error;
use crate::store::Pause;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;

/// What the driver plans with, read around `now`.
#[derive(Debug, Clone)]
pub struct PlanInputs {
    pub plan: Plan,
    pub pause: Option<Pause>,
    /// The appointments read reach this far: read again before it comes near.
    pub loaded_until: DateTime<Utc>,
    /// What the user said they took over by hand (from any process), newest last.
    pub take_over: Vec<TakeOver>,
    /// `presence.restore_when_call_ends`.
    pub call_ended: CallEndedRestore,
}

/// The appointments, policy and pause, as the store has them.
pub trait PlanSource: Send + Sync {
    fn plan_inputs(&self, now: DateTime<Utc>) -> Result<PlanInputs, Error>;
    /// Changes when another process committed to the store (a pause, a sync).
    fn store_version(&self) -> Result<i64, Error>;
    /// The meeting's call ended early and `presence.restore_when_call_ends` is `auto`:
    /// automation stops switching for that occurrence (a history line says why), so the
    /// next plan gives the user's own state back, as the appointment's end would. Whether
    /// it changed anything.
    fn restore_call_ended(&self, ended: &EndedEarly) -> Result<bool, Error>;
}

/// Where the driver's durable state lives.
pub trait JournalStore: Send + Sync {
    fn load_journal(&self) -> Result<Durable, Error>;
    /// Writes it all in one transaction.
    fn save_journal(&self, persist: &Persist) -> Result<(), Error>;
}

/// Microsoft Graph, signed in: presence and mailbox settings calls only.
pub trait GraphPort: Send + Sync {
    fn graph_get(&self, path: &str) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
    fn graph_post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
    fn graph_patch(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
    /// The application (client) id: `setPresence`'s session id.
    fn session_id(&self) -> Result<String, Error>;
}

/// The configured call-forwarding provider, if any.
pub trait ForwardingSource: Send + Sync {
    fn forwarding(&self) -> Result<Option<Arc<dyn ForwardingProvider>>, Error>;
}

/// Everything the runtime needs.
pub trait Ports: PlanSource + JournalStore + GraphPort + ForwardingSource {}

impl<T: PlanSource + JournalStore + GraphPort + ForwardingSource> Ports for T {}
