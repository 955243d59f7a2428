//! Presence automation per mailbox, with the engine's sans-IO driver: when a user's
//! appointment begins, their group's profile is applied with app-only calls
//! (`POST /users/{id}/presence/setPresence` in the app's own session, `PATCH
//! /users/{id}/mailboxSettings` for automatic replies); when it ends, what automation
//! switched is given back, and nothing the user changed by hand is overwritten (the
//! driver reads the presence back and stands back).
//!
//! The driver's state and journal live in PostgreSQL ([`Store::save_presence`]): every
//! write of them checks the mailbox's lease (fencing token) in the same transaction, and a
//! call is sent only once its intent is stored. A worker that lost its lease therefore
//! sends nothing, and the worker that takes the mailbox over loads the journal and gives
//! back what the other one switched, once.
//!
//! Only users whose policy group says `automation = "server"` are automated (their
//! clients then never switch presence themselves). What Graph does not allow app-only is
//! left out of the group's profiles: the status message (`setStatusMessage` has no
//! application permission) and the user's preferred presence (the server uses its own
//! session, so a user's own choice in Teams always shows over it). Call forwarding goes
//! through the `[forwarding]` provider with the organization's credential
//! ([`crate::forwarding`]), for the users it has a mapping for; without the section, or for
//! a user without a mapping, the profiles' forwarding is left out.

use crate::auth::AppTokenSource;
use crate::config::SyncConfig;
use crate::error::ServerError;
use crate::store::{Lease, Store};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use futures::{FutureExt as _, StreamExt as _};
use presently_engine::graph::GraphClient;
use presently_engine::policy::{Automation, OrgPolicy};
use presently_engine::presence::driver::{Driver, DriverOptions, ForwardingAccess, Op, Plan};
use presently_engine::presence::forwarding::ForwardingProvider;
use presently_engine::presence::journal::Resource;
use presently_engine::presence::ports::{ForwardingSource, GraphPort};
use presently_engine::presence::profile::{
    Activity, Availability, Capabilities, PresenceMode, Profile, TeamsPresence,
};
use presently_engine::presence::{apply, runtime, InvalidPolicy, Policy, PresenceConfig};
use presently_engine::{Clock, Error};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How the runner paces itself.
#[derive(Debug, Clone, Copy)]
pub struct PresenceOptions {
    /// While automation holds a presence, it is read back this often to notice a change
    /// by the user.
    pub check_interval: chrono::Duration,
    pub first_retry: chrono::Duration,
    pub max_retry: chrono::Duration,
    /// Mailboxes stepped at once.
    pub concurrent_mailboxes: usize,
    /// Presence calls of the same instant go out in `$batch` requests (see `batching`);
    /// `None`: each call alone.
    pub batch: Option<crate::batching::BatchOptions>,
}

impl Default for PresenceOptions {
    fn default() -> Self {
        Self {
            check_interval: chrono::Duration::seconds(15),
            first_retry: chrono::Duration::seconds(2),
            max_retry: chrono::Duration::seconds(300),
            concurrent_mailboxes: 64,
            batch: Some(crate::batching::BatchOptions::default()),
        }
    }
}

/// The server's form of a profile: what Graph allows app-only. The presence goes into the
/// app's own session (the pair `setPresence` accepts nearest to the profile's), the status
/// message is left out, and the forwarding too unless a `[forwarding]` provider is
/// configured (`forwarding`).
pub fn server_profile(mut profile: Profile, forwarding: bool) -> Profile {
    profile.status_message = None;
    if !forwarding {
        profile.forwarding = None;
    }
    if let Some(teams) = profile.teams {
        if teams.mode == PresenceMode::Preferred {
            let (availability, activity) = match teams.availability {
                Availability::Available => (Availability::Available, Activity::Available),
                Availability::Busy | Availability::DoNotDisturb => {
                    (Availability::Busy, Activity::InAConferenceCall)
                }
                Availability::BeRightBack | Availability::Away | Availability::Offline => {
                    (Availability::Away, Activity::Away)
                }
            };
            profile.teams = TeamsPresence::new(availability, activity, PresenceMode::Session).ok();
        }
    }
    profile
}

/// The group's profiles and rules as the server applies them ([`server_profile`]).
pub fn server_policy(
    config: &PresenceConfig,
    automatic_replies: bool,
    forwarding: bool,
) -> Result<Policy, InvalidPolicy> {
    let caps = Capabilities {
        automatic_replies,
        forwarding_provider: forwarding,
    };
    let policy = Policy::from_config(config, caps)?;
    let profiles = policy
        .profiles()
        .iter()
        .cloned()
        .map(|p| server_profile(p, forwarding))
        .collect();
    Policy::new(profiles, policy.rules().to_vec())
}

/// Graph for one user, app-only: the driver's `/me/…` paths become `/users/{id}/…`.
#[derive(Clone)]
pub struct UserGraph {
    graph: GraphClient,
    tokens: Arc<AppTokenSource>,
    user: String,
    client_id: String,
    /// Calls go out in batches through this, when set.
    batcher: Option<crate::batching::Batcher>,
    /// The provider switching this user's call forwarding, when there is one for them.
    forwarding: Option<Arc<dyn ForwardingProvider>>,
}

impl UserGraph {
    /// A call through the batcher: `path` is the driver's `/v1.0/me/…`.
    async fn batched(
        &self,
        batcher: &crate::batching::Batcher,
        method: &'static str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, Error> {
        let user: String = url::form_urlencoded::byte_serialize(self.user.as_bytes()).collect();
        let rest = path
            .strip_prefix("/v1.0/me")
            .ok_or_else(|| Error::InvalidInput(format!("not a /me path: {path}")))?;
        batcher
            .call(
                &self.user,
                method,
                format!("/users/{user}{rest}"),
                body.cloned(),
            )
            .await
    }

    fn url(&self, path: &str) -> Result<url::Url, Error> {
        let user: String = url::form_urlencoded::byte_serialize(self.user.as_bytes()).collect();
        let rest = path
            .strip_prefix("/v1.0/me")
            .ok_or_else(|| Error::InvalidInput(format!("not a /me path: {path}")))?;
        self.graph.url(&format!("/v1.0/users/{user}{rest}"))
    }

    async fn token(&self) -> Result<secrecy::SecretString, Error> {
        self.tokens
            .token()
            .await
            .map_err(|e| Error::InvalidInput(format!("no app-only token: {e}")))
    }

    async fn after(&self, result: Result<Vec<u8>, Error>) -> Result<Vec<u8>, Error> {
        if matches!(result, Err(Error::Unauthorized)) {
            self.tokens.invalidate().await;
        }
        result
    }
}

impl GraphPort for UserGraph {
    async fn graph_get(&self, path: &str) -> Result<Vec<u8>, Error> {
        if let Some(b) = &self.batcher {
            return self.batched(b, "GET", path, None).await;
        }
        let url = self.url(path)?;
        let token = self.token().await?;
        let result = self.graph.get(url, &token, None).await;
        self.after(result).await
    }

    async fn graph_post(&self, path: &str, body: &serde_json::Value) -> Result<Vec<u8>, Error> {
        if let Some(b) = &self.batcher {
            return self.batched(b, "POST", path, Some(body)).await;
        }
        let url = self.url(path)?;
        let token = self.token().await?;
        let result = self.graph.post_json(url, &token, body).await;
        self.after(result).await
    }

    async fn graph_patch(&self, path: &str, body: &serde_json::Value) -> Result<Vec<u8>, Error> {
        if let Some(b) = &self.batcher {
            return self.batched(b, "PATCH", path, Some(body)).await;
        }
        let url = self.url(path)?;
        let token = self.token().await?;
        let result = self.graph.patch_json(url, &token, body).await;
        self.after(result).await
    }

    fn session_id(&self) -> Result<String, Error> {
        Ok(self.client_id.clone())
    }
}

impl ForwardingSource for UserGraph {
    fn forwarding(&self) -> Result<Option<Arc<dyn ForwardingProvider>>, Error> {
        Ok(self.forwarding.clone())
    }
}

/// One automated mailbox.
struct MailboxAutomation {
    lease: Lease,
    driver: Driver,
    graph: UserGraph,
    /// The appointments read reach this far.
    loaded_until: DateTime<Utc>,
    /// When the driver next has something to do (`poll_timeout` after its last step).
    wake: DateTime<Utc>,
    /// Stopped on an error that retrying cannot fix (a missing permission) until the
    /// mailbox is claimed again.
    stopped: bool,
    /// The user's group no longer has the server automate presence: the plan stays empty
    /// (what is held is given back) until the mailbox is claimed again.
    leaving: bool,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// How long a user's time zone read from their mailbox settings is used before it is read
/// again (users who travel change it).
pub const TIME_ZONE_READ_AGAIN_HOURS: i64 = 24;

/// The application permission a refused presence or mailbox settings call needs.
fn permission_of(resource: Option<Resource>) -> &'static str {
    match resource {
        Some(Resource::AutomaticReplies) => "MailboxSettings.ReadWrite",
        _ => "Presence.ReadWrite.All",
    }
}

/// Runs presence automation for the mailboxes a worker holds.
pub struct PresenceRunner {
    store: Arc<Store>,
    tokens: Arc<AppTokenSource>,
    graph_endpoint: String,
    client_id: String,
    clock: Arc<dyn Clock>,
    /// The policy in force (replaced on SIGHUP).
    policy: crate::policy::SharedPolicy,
    /// The policy the automations were started or planned with: when the one in force is
    /// another, the next pass starts them again with it.
    planned_with: Option<Arc<OrgPolicy>>,
    sync_config: SyncConfig,
    pub options: PresenceOptions,
    mailboxes: HashMap<String, MailboxAutomation>,
    /// Held mailboxes (with their fencing token) whose group leaves automation to the
    /// clients: not looked at again while the lease lasts.
    not_automated: HashMap<String, i64>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The `$batch` sender of this worker's presence calls, when batching is on.
    batcher: Option<crate::batching::Batcher>,
    /// The `[forwarding]` provider, when one is configured.
    forwarding: Option<Arc<crate::forwarding::OrgForwarding>>,
}

impl std::fmt::Debug for PresenceRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceRunner")
            .field("mailboxes", &self.mailboxes.len())
            .finish_non_exhaustive()
    }
}

impl PresenceRunner {
    #[allow(clippy::too_many_arguments)] // what the sync context holds, and the options
    pub fn new(
        store: Arc<Store>,
        tokens: Arc<AppTokenSource>,
        graph_endpoint: &str,
        client_id: &str,
        clock: Arc<dyn Clock>,
        policy: impl Into<crate::policy::SharedPolicy>,
        sync_config: SyncConfig,
        options: PresenceOptions,
    ) -> Self {
        let policy: crate::policy::SharedPolicy = policy.into();
        let batcher = options.batch.and_then(|b| {
            crate::batching::Batcher::start(graph_endpoint, clock.clone(), tokens.clone(), b)
                .map_err(|e| tracing::warn!(error = %e, "presence calls not batched"))
                .ok()
        });
        Self {
            batcher,
            store,
            tokens,
            graph_endpoint: graph_endpoint.to_owned(),
            client_id: client_id.to_owned(),
            clock,
            planned_with: policy.current(),
            policy,
            sync_config,
            options,
            mailboxes: HashMap::new(),
            not_automated: HashMap::new(),
            metrics: None,
            forwarding: None,
        }
    }

    /// Switches the automated users' call forwarding through `forwarding` (`[forwarding]`).
    pub fn with_forwarding(
        mut self,
        forwarding: Option<Arc<crate::forwarding::OrgForwarding>>,
    ) -> Self {
        self.forwarding = forwarding;
        self
    }

    /// Counts the history's events and keeps the presence gauges up to date.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// What the batcher sent so far, when batching is on.
    pub fn batch_stats(&self) -> Option<Arc<crate::batching::BatchStats>> {
        self.batcher.as_ref().map(|b| b.stats.clone())
    }

    /// Told when the policy in force is replaced (the runner's next pass applies it).
    pub fn policy_changes(&self) -> tokio::sync::watch::Receiver<Option<Arc<OrgPolicy>>> {
        self.policy.subscribe()
    }

    /// The mailboxes automated now, sorted.
    pub fn automated(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .mailboxes
            .iter()
            .filter(|(_, a)| !a.stopped)
            .map(|(m, _)| m.clone())
            .collect();
        v.sort();
        v
    }

    /// The policy's profiles for `mailbox`, if its group is automated by the server.
    fn user_policy(&self, mailbox: &str) -> Result<Option<(Policy, bool)>, ServerError> {
        let policy = self.policy.current();
        let rules = crate::policy::for_user(policy.as_deref(), mailbox, &self.sync_config)?;
        if rules.automation != Automation::Server {
            return Ok(None);
        }
        let policy = server_policy(
            &rules.presence,
            rules.automatic_replies,
            self.forwarding.is_some(),
        )
        .map_err(|e| ServerError::Config {
            path: "policy".into(),
            message: format!("group {:?}: {e}", rules.group),
        })?;
        Ok(Some((policy, rules.automatic_replies)))
    }

    /// The zone `mailbox`'s days are planned in (an all-day appointment runs from the
    /// user's midnight to midnight): the group's `agenda.timezone`, else the time zone of
    /// the user's mailbox settings (read again after [`TIME_ZONE_READ_AGAIN_HOURS`]), else
    /// UTC. A refused read (no MailboxSettings.Read) is noted and tried again a day later;
    /// another failure keeps what was read before and tries again at the next plan.
    async fn user_zone(&self, mailbox: &str, now: DateTime<Utc>) -> Result<Tz, ServerError> {
        let policy = self.policy.current();
        let rules = crate::policy::for_user(policy.as_deref(), mailbox, &self.sync_config)?;
        if let Some(zone) = rules.time_zone {
            return Ok(zone);
        }
        let (stored, read_at) = self.store.time_zone(mailbox).await?;
        let fresh = read_at.is_some_and(|t| now - t < Duration::hours(TIME_ZONE_READ_AGAIN_HOURS));
        let name = if fresh {
            stored
        } else {
            let graph = GraphClient::new(&self.graph_endpoint)?.with_clock(self.clock.clone());
            match crate::sync::read_user_time_zone(&graph, &self.tokens, mailbox).await {
                Ok(name) => {
                    self.store
                        .set_time_zone(mailbox, name.as_deref(), now)
                        .await?;
                    name
                }
                Err(e @ ServerError::PermissionMissing { .. }) => {
                    tracing::warn!(%mailbox, error = %e, "the user's time zone cannot be read; planning in UTC");
                    self.store.set_time_zone(mailbox, None, now).await?;
                    None
                }
                Err(e) => {
                    tracing::warn!(%mailbox, error = %e, "the user's time zone could not be read this time");
                    stored
                }
            }
        };
        let zone = name
            .as_deref()
            .and_then(presently_engine::graph::timezone::resolve);
        if zone.is_none() {
            if let Some(name) = &name {
                tracing::warn!(%mailbox, zone = %name, "the user's time zone is not one Presently knows; planning in UTC");
            }
        }
        Ok(zone.unwrap_or(chrono_tz::UTC))
    }

    /// The plan of `mailbox` around `now`, from its stored appointments.
    async fn plan(
        &self,
        mailbox: &str,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Plan, DateTime<Utc>), ServerError> {
        let tz = self.user_zone(mailbox, now).await?;
        let (start, end, _, _) = runtime::plan_window(now, tz)?;
        let appointments = self.store.appointments_between(mailbox, start, end).await?;
        Ok((Plan::new(policy, tz, &appointments), end))
    }

    async fn start(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Option<MailboxAutomation>, ServerError> {
        let Some((policy, automatic_replies)) = self.user_policy(&lease.mailbox)? else {
            return Ok(None);
        };
        let durable = self.store.load_presence(&lease.mailbox).await?;
        let forwarding = match &self.forwarding {
            Some(org) if uses_forwarding(&policy, &durable) => {
                match org.for_user(&lease.mailbox).await {
                    crate::forwarding::UserForwarding::Provider(p) => Some(p),
                    crate::forwarding::UserForwarding::Unmapped(reason) => {
                        tracing::warn!(mailbox = %lease.mailbox, provider = org.provider_name(), %reason, "call forwarding: no mapping for this user; their profiles' forwarding is not applied");
                        None
                    }
                }
            }
            _ => None,
        };
        let options = DriverOptions {
            forwarding: match &forwarding {
                Some(p) if p.can_read() => ForwardingAccess::ReadWrite,
                Some(_) => ForwardingAccess::WriteOnly,
                None => ForwardingAccess::None,
            },
            automatic_replies,
            read_back: self.options.check_interval,
            first_retry: self.options.first_retry,
            max_retry: self.options.max_retry,
        };
        let mut driver = Driver::new(options, durable, now);
        let (plan, loaded_until) = self.plan(&lease.mailbox, &policy, now).await?;
        driver.set_plan(plan);
        let graph = UserGraph {
            graph: GraphClient::new(&self.graph_endpoint)?.with_clock(self.clock.clone()),
            tokens: self.tokens.clone(),
            user: lease.mailbox.clone(),
            client_id: self.client_id.clone(),
            batcher: self.batcher.clone(),
            forwarding,
        };
        Ok(Some(MailboxAutomation {
            lease: lease.clone(),
            driver,
            graph,
            loaded_until,
            wake: now,
            stopped: false,
            leaving: false,
            metrics: self.metrics.clone(),
        }))
    }

    /// Brings the automations in line with the leases held (a new lease loads the
    /// mailbox's journal, a lost one drops it: the next holder gives back what is held),
    /// reads the plan again for the mailboxes in `changed` (a sync changed their
    /// appointments) or whose window ran out, then lets every automation do what is due.
    /// Returns the mailboxes that failed, with why.
    pub async fn pass(
        &mut self,
        leases: &HashMap<String, Lease>,
        changed: &HashSet<String>,
    ) -> Vec<(String, ServerError)> {
        let now = self.clock.now();
        let mut errors = Vec::new();
        self.apply_new_policy(now, &mut errors).await;
        self.mailboxes.retain(|m, a| {
            leases
                .get(m)
                .is_some_and(|l| l.token == a.lease.token && l.worker == a.lease.worker)
        });
        self.not_automated
            .retain(|m, token| leases.get(m).is_some_and(|l| l.token == *token));
        // The Webex people of the automations about to start are looked up side by side
        // (one at a time, a thousand claimed users would wait on each other).
        if let Some(org) = &self.forwarding {
            let new: Vec<String> = leases
                .keys()
                .filter(|m| !self.mailboxes.contains_key(*m) && !self.not_automated.contains_key(*m))
                .filter(|m| {
                    matches!(self.user_policy(m), Ok(Some((p, _))) if p.profiles().iter().any(|p| p.forwarding.is_some()))
                })
                .cloned()
                .collect();
            org.prefetch(&new).await;
        }
        for (mailbox, lease) in leases {
            if self.not_automated.contains_key(mailbox) {
                continue;
            }
            let reload = match self.mailboxes.get(mailbox) {
                None => {
                    match self.start(lease, now).await {
                        Ok(Some(a)) => {
                            self.mailboxes.insert(mailbox.clone(), a);
                        }
                        Ok(None) => {
                            self.not_automated.insert(mailbox.clone(), lease.token);
                        }
                        Err(e) => failed(&mut errors, mailbox, e),
                    }
                    false
                }
                Some(a) if a.leaving => false,
                Some(a) => {
                    changed.contains(mailbox) || now + chrono::Duration::days(1) > a.loaded_until
                }
            };
            if reload {
                match self.user_policy(mailbox) {
                    Ok(Some((policy, _))) => match self.plan(mailbox, &policy, now).await {
                        Ok((plan, until)) => {
                            if let Some(a) = self.mailboxes.get_mut(mailbox) {
                                a.driver.set_plan(plan);
                                a.loaded_until = until;
                                a.wake = now;
                            }
                        }
                        Err(e) => failed(&mut errors, mailbox, e),
                    },
                    Ok(None) => {}
                    Err(e) => failed(&mut errors, mailbox, e),
                }
            }
        }
        // Boxed before they are streamed: the task stays `Send` (closures over `&mut` inside
        // the stream's type trip the compiler's higher-ranked inference).
        let due: Vec<&mut MailboxAutomation> = self
            .mailboxes
            .values_mut()
            .filter(|a| !a.stopped && a.wake <= now)
            .collect();
        let steps: Vec<futures::future::BoxFuture<'_, (String, Result<(), ServerError>)>> = due
            .into_iter()
            .map(|a| step_due(self.store.clone(), self.clock.clone(), a).boxed())
            .collect();
        let results: Vec<(String, Result<(), ServerError>)> = futures::stream::iter(steps)
            .buffer_unordered(self.options.concurrent_mailboxes.max(1))
            .collect()
            .await;
        for (mailbox, result) in results {
            if let Err(e) = result {
                tracing::warn!(%mailbox, code = e.code(), error = %e, "presence automation");
                if matches!(e, ServerError::Fenced { .. }) {
                    self.mailboxes.remove(&mailbox);
                }
                errors.push((mailbox, e));
            }
        }
        if let Some(metrics) = &self.metrics {
            let (mut holding, mut open) = (0, 0);
            for a in self.mailboxes.values() {
                let durable = a.driver.durable();
                holding +=
                    i64::from(durable.holds.iter().any(|h| {
                        matches!(h, presently_engine::presence::journal::Hold::Owned { .. })
                    }));
                open += durable.open.len() as i64;
            }
            metrics.presence_holding.set(holding);
            metrics.presence_open_writes.set(open);
        }
        errors
    }

    /// When the policy in force is not the one the automations were started with (it was
    /// read again): the mailboxes left to the clients are looked at again, and each
    /// automation is started again from its stored journal with the new rules (the loop of
    /// the pass does that). A user whose group no longer has the server automate presence
    /// keeps its automation with an empty plan, so that what it holds is given back.
    async fn apply_new_policy(
        &mut self,
        now: DateTime<Utc>,
        errors: &mut Vec<(String, ServerError)>,
    ) {
        let current = self.policy.current();
        let same = match (&current, &self.planned_with) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        self.planned_with = current;
        self.not_automated.clear();
        let mailboxes: Vec<String> = self.mailboxes.keys().cloned().collect();
        tracing::info!(
            automated = mailboxes.len(),
            "the policy changed; presence automation follows the new rules"
        );
        for mailbox in mailboxes {
            match self.user_policy(&mailbox) {
                Ok(Some(_)) => {
                    if let Some(mut a) = self.mailboxes.remove(&mailbox) {
                        // Started again from what is stored: store what is not yet.
                        if let Err(e) = save(&self.store, &mut a).await {
                            failed(errors, &mailbox, e);
                        }
                    }
                }
                Ok(None) => {
                    if let Some(a) = self.mailboxes.get_mut(&mailbox) {
                        tracing::info!(%mailbox, "the user's group no longer has the server automate presence; giving back what it holds");
                        a.driver.set_plan(Plan::default());
                        a.leaving = true;
                        a.loaded_until = now + Duration::days(3650);
                        a.wake = now;
                    }
                }
                Err(e) => failed(errors, &mailbox, e),
            }
        }
    }

    /// When the next automation has something to do (a transition, a read back, a retry)
    /// or its plan must be read again.
    pub fn next_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.mailboxes
            .values()
            .filter(|a| !a.stopped)
            .map(|a| a.wake)
            .min()
            .map(|w| w.max(now))
    }
}

/// Whether a user's automation needs their forwarding provider: a profile of theirs
/// forwards, or the stored journal holds their forwarding (to give it back).
fn uses_forwarding(
    policy: &Policy,
    durable: &presently_engine::presence::journal::Durable,
) -> bool {
    policy.profiles().iter().any(|p| p.forwarding.is_some())
        || durable.holds[Resource::Forwarding.index()]
            != presently_engine::presence::journal::Hold::Free
        || durable
            .open
            .iter()
            .any(|e| e.resource == Resource::Forwarding)
}

/// Notes a mailbox whose automation could not start or plan (tried again at the next pass).
fn failed(errors: &mut Vec<(String, ServerError)>, mailbox: &str, e: ServerError) {
    tracing::warn!(%mailbox, code = e.code(), error = %e, "presence automation");
    errors.push((mailbox.to_owned(), e));
}

/// Steps one due mailbox; an error sets when it is tried again (a missing permission stops
/// it until the mailbox is claimed again).
async fn step_due(
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    a: &mut MailboxAutomation,
) -> (String, Result<(), ServerError>) {
    let result = step(&store, clock.as_ref(), a).await;
    if let Err(e) = &result {
        a.stopped = matches!(e, ServerError::PermissionMissing { .. });
        // A database error: tried again a little later, not at once.
        a.wake = clock.now() + chrono::Duration::seconds(5);
    }
    (a.lease.mailbox.clone(), result)
}

/// Hands one mailbox's driver its time and carries out its reads and writes until it has
/// nothing more to do now. Every write's intent is stored (fenced) before it is sent.
#[tracing::instrument(skip_all, fields(mailbox = %a.lease.mailbox, token = a.lease.token))]
async fn step(
    store: &Store,
    clock: &dyn Clock,
    a: &mut MailboxAutomation,
) -> Result<(), ServerError> {
    a.driver.handle_timeout(clock.now());
    while let Some(op) = a.driver.poll_op(clock.now()) {
        save(store, a).await?;
        match op {
            Op::Read(read) => match apply::read(&a.graph, read).await {
                Ok(observation) => a.driver.handle_observation(clock.now(), observation),
                Err(Error::Server {
                    status: 403, code, ..
                }) => {
                    return Err(ServerError::PermissionMissing {
                        what: format!("reading the presence of {}", a.lease.mailbox),
                        code,
                        permission: permission_of(None),
                    });
                }
                Err(err) => {
                    tracing::warn!(error = %err, ?read, "a presence read failed; retrying");
                    a.driver
                        .handle_read_failed(clock.now(), read, &err.to_string());
                }
            },
            Op::Write {
                key,
                resource,
                action,
                expiration,
            } => {
                tracing::debug!(%resource, %action, %key, "presence write");
                let result = apply::write(&a.graph, &key, &action, expiration).await;
                if let Err(Error::Server {
                    status: 403, code, ..
                }) = &result
                {
                    let err = ServerError::PermissionMissing {
                        what: format!("{action} for {}", a.lease.mailbox),
                        code: code.clone(),
                        permission: permission_of(Some(resource)),
                    };
                    a.driver
                        .handle_result(clock.now(), &key, Err(err.to_string()));
                    save(store, a).await.ok();
                    return Err(err);
                }
                a.driver.handle_result(
                    clock.now(),
                    &key,
                    result.map(|_| ()).map_err(|e| e.to_string()),
                );
            }
        }
    }
    save(store, a).await?;
    let now = clock.now();
    a.wake = a
        .driver
        .poll_timeout(now)
        .unwrap_or(a.loaded_until - chrono::Duration::days(1))
        .min(a.loaded_until - chrono::Duration::days(1))
        .max(now);
    Ok(())
}

async fn save(store: &Store, a: &mut MailboxAutomation) -> Result<(), ServerError> {
    let Some(persist) = a.driver.take_persist() else {
        return Ok(());
    };
    store.save_presence(&a.lease, &persist).await?;
    for h in &persist.history {
        tracing::info!(target: "presently::presence", mailbox = %a.lease.mailbox, event = %h.event, profile = ?h.profile, "presence");
        if let Some(metrics) = &a.metrics {
            metrics.presence_event(&h.event.to_string());
        }
    }
    Ok(())
}
