//! One round of one mailbox: `/users/{id}/calendarView/delta` into the store, with the
//! engine's sans-IO round logic (`plan_round`, `Round`) and Graph client (at most 4
//! requests in flight per mailbox, 429 `Retry-After` honoured), each page committed under
//! the mailbox's lease.

use crate::auth::AppTokenSource;
use crate::error::ServerError;
use crate::store::{Lease, Store};
use presently_engine::graph::client::MAX_PAGES;
use presently_engine::graph::{CalendarView, GraphClient};
use presently_engine::store::RoundKind;
use presently_engine::sync::{plan_round, PageStep, Round, RoundPlan, Source, Window};
use presently_engine::Clock;
use secrecy::ExposeSecret as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

/// The label stored appointments carry as their calendar: a user's primary calendar.
pub const PRIMARY_CALENDAR: &str = "primary";

/// How a round ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundOutcome {
    pub mailbox: String,
    pub kind: RoundKind,
    pub pages: usize,
    pub upserted: usize,
    pub removed: usize,
}

/// What every mailbox's sync shares.
pub struct SyncContext {
    pub store: Arc<Store>,
    pub tokens: Arc<AppTokenSource>,
    pub graph_endpoint: String,
    pub clock: Arc<dyn Clock>,
    pub page_size: u32,
    /// The server's `[sync]` section: its window days count as each user's own setting.
    pub sync_config: crate::config::SyncConfig,
    /// The organization policy, applied per user (`policy.rs`); the one in force at each
    /// round (`serve` reads the file again on SIGHUP).
    pub policy: crate::policy::SharedPolicy,
    /// One Graph client per mailbox: its 4 permits and throttling gate are the mailbox's.
    clients: Mutex<HashMap<String, GraphClient>>,
    /// Graph requests in flight across all mailboxes (the tenant's share of this worker).
    tenant_permits: Arc<tokio::sync::Semaphore>,
    /// When set, an incremental round's first request (the delta link: for a mailbox that
    /// did not change, its only one) goes out in a `$batch` with other mailboxes' polls.
    batcher: Option<Arc<crate::batching::Batcher>>,
    /// The tenant-wide budget shared by the workers (`[sync] tenant_budget`), and this
    /// worker's share of it now (the size of `tenant_permits`).
    tenant_budget: Option<usize>,
    tenant_share: Mutex<usize>,
}

impl std::fmt::Debug for SyncContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncContext")
            .field("graph_endpoint", &self.graph_endpoint)
            .finish_non_exhaustive()
    }
}

/// The first request of a full round of `user`'s primary calendar.
pub fn user_delta_url(graph: &Url, user: &str, window: Window) -> Result<Url, url::ParseError> {
    // The engine builds `/me/calendarView/delta` with the window's query; the same request
    // on the user's path.
    let me = Source::PrimaryDelta.initial_url(graph, window)?;
    let mut url = graph.join(&format!(
        "/v1.0/users/{}/calendarView/delta",
        url::form_urlencoded::byte_serialize(user.as_bytes()).collect::<String>()
    ))?;
    url.set_query(me.query());
    Ok(url)
}

/// The next round of `user`'s primary calendar (the engine's [`plan_round`], whose fresh
/// full round starts on the user's path rather than `/me`).
pub fn plan_user_round(
    state: Option<&presently_engine::store::SyncState>,
    graph: &Url,
    user: &str,
    window: Window,
) -> Result<RoundPlan, ServerError> {
    let sync_error = |message: String| ServerError::Sync {
        mailbox: user.to_owned(),
        message,
    };
    let mut plan = plan_round(state, &Source::PrimaryDelta, graph, window, false)
        .map_err(|e| sync_error(format!("cannot plan the round: {e}")))?;
    if plan.kind == RoundKind::Full && !plan.resumed {
        plan.first_link = user_delta_url(graph, user, window)
            .map_err(|e| sync_error(format!("cannot build the delta URL: {e}")))?
            .to_string();
    }
    Ok(plan)
}

/// Reads the first page (one item) of `user`'s calendar delta, to learn whether the app
/// may read it: `check` runs it on the first configured user.
pub async fn probe_user_calendar(
    graph: &GraphClient,
    tokens: &AppTokenSource,
    user: &str,
    window: Window,
) -> Result<(), ServerError> {
    let url = user_delta_url(graph.base(), user, window).map_err(|e| ServerError::Sync {
        mailbox: user.to_owned(),
        message: format!("cannot build the delta URL: {e}"),
    })?;
    let token = tokens.token().await?;
    match graph.get(url, &token, Some(1)).await {
        Ok(_) => Ok(()),
        Err(presently_engine::Error::Server {
            status: 403, code, ..
        }) => Err(ServerError::PermissionMissing {
            what: format!("the calendar of {user}"),
            code,
            permission: "Calendars.Read",
        }),
        Err(presently_engine::Error::Server {
            status: 404,
            code,
            message,
        }) => Err(ServerError::Sync {
            mailbox: user.to_owned(),
            message: format!("Graph does not know this user ({code}: {message})"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Checks, without writing anything, that the app may automate `user`'s presence: the
/// token's `roles` (when it is a JWT, as the identity platform issues them) must hold
/// Presence.ReadWrite.All, and Graph must let it read the user's presence (an opaque token,
/// as the emulator issues, is judged by that read alone).
pub async fn probe_user_presence(
    graph: &GraphClient,
    tokens: &AppTokenSource,
    user: &str,
) -> Result<(), ServerError> {
    const PERMISSION: &str = "Presence.ReadWrite.All";
    let token = tokens.token().await?;
    if let Some(roles) = token_roles(token.expose_secret()) {
        if !roles.iter().any(|r| r.eq_ignore_ascii_case(PERMISSION)) {
            return Err(ServerError::PermissionMissing {
                what: format!(
                    "automating the presence of {user} (the token's roles are {})",
                    roles.join(", ")
                ),
                code: "roles".into(),
                permission: PERMISSION,
            });
        }
    }
    let url = graph
        .url(&format!("/v1.0/users/{}/presence", urlencoding_path(user)))
        .map_err(ServerError::from)?;
    match graph.get(url, &token, None).await {
        Ok(_) => Ok(()),
        Err(presently_engine::Error::Server {
            status: 403, code, ..
        }) => Err(ServerError::PermissionMissing {
            what: format!("the presence of {user}"),
            code,
            permission: PERMISSION,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The time zone of `user`'s mailbox settings (`timeZone`: a Windows or IANA name, as the
/// user chose it in Outlook); `None` when the settings name none. Needs MailboxSettings.Read
/// (or .ReadWrite); a refusal names it.
pub async fn read_user_time_zone(
    graph: &GraphClient,
    tokens: &AppTokenSource,
    user: &str,
) -> Result<Option<String>, ServerError> {
    let url = graph
        .url(&format!(
            "/v1.0/users/{}/mailboxSettings?$select=timeZone",
            urlencoding_path(user)
        ))
        .map_err(ServerError::from)?;
    let token = tokens.token().await?;
    match graph.get(url, &token, None).await {
        Ok(body) => {
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| ServerError::Sync {
                    mailbox: user.to_owned(),
                    message: format!("the mailbox settings are not JSON: {e}"),
                })?;
            Ok(value
                .get("timeZone")
                .and_then(|z| z.as_str())
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .map(|z| z.chars().take(100).collect()))
        }
        Err(presently_engine::Error::Server {
            status: 403, code, ..
        }) => Err(ServerError::PermissionMissing {
            what: format!("the mailbox settings (time zone) of {user}"),
            code,
            permission: "MailboxSettings.Read",
        }),
        Err(e) => Err(e.into()),
    }
}

/// `url` (on Graph's host) relative to its version root, as a `$batch` request names it:
/// `/users/u/calendarView/delta?$deltatoken=…` for `…/v1.0/users/u/…`.
fn version_relative(base: &Url, url: &Url) -> Option<String> {
    let root = base.join("/v1.0/").ok()?;
    let rest = url.path().strip_prefix(root.path())?;
    Some(match url.query() {
        Some(query) => format!("/{rest}?{query}"),
        None => format!("/{rest}"),
    })
}

/// A user id or UPN as one path segment.
fn urlencoding_path(user: &str) -> String {
    url::form_urlencoded::byte_serialize(user.as_bytes()).collect()
}

/// The `roles` claim of a JWT access token, read without verifying it (only to explain a
/// refusal before Graph gives one); `None` for a token that is no JWT.
fn token_roles(token: &str) -> Option<Vec<String>> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Vec<String>,
    }
    serde_json::from_slice::<Claims>(&bytes)
        .ok()
        .map(|c| c.roles)
}

impl SyncContext {
    pub fn new(
        store: Arc<Store>,
        tokens: Arc<AppTokenSource>,
        graph_endpoint: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            tokens,
            graph_endpoint: graph_endpoint.to_owned(),
            clock,
            page_size: 100,
            sync_config: crate::config::SyncConfig::default(),
            policy: crate::policy::SharedPolicy::default(),
            clients: Mutex::new(HashMap::new()),
            tenant_permits: Arc::new(tokio::sync::Semaphore::new(16)),
            batcher: None,
            tenant_budget: None,
            tenant_share: Mutex::new(16),
        }
    }

    /// Delta polls go out batched through `batcher` (see [`SyncContext::batcher`]). With a
    /// tenant budget ([`SyncContext::with_tenant_budget`], in either order), each request a
    /// batch carries counts against it as one sent alone would.
    pub fn with_batcher(mut self, batcher: crate::batching::Batcher) -> Self {
        if self.tenant_budget.is_some() {
            batcher.count_against(self.tenant_permits.clone());
        }
        self.batcher = Some(Arc::new(batcher));
        self
    }

    /// The batcher of delta polls, when they are batched (its counts, for tests and the log).
    pub fn batcher(&self) -> Option<&crate::batching::Batcher> {
        self.batcher.as_deref()
    }

    /// At most `n` Graph requests in flight at once across all mailboxes.
    pub fn with_tenant_limit(mut self, n: usize) -> Self {
        let n = n.max(1);
        self.tenant_permits = Arc::new(tokio::sync::Semaphore::new(n));
        self.tenant_share = Mutex::new(n);
        if let (Some(_), Some(batcher)) = (self.tenant_budget, &self.batcher) {
            batcher.count_against(self.tenant_permits.clone());
        }
        self
    }

    /// Shares `budget` Graph requests in flight among the live workers: this worker's
    /// limit becomes `budget` divided by the workers seen at each lease pass (rounded up,
    /// at least 1; see [`SyncContext::share_tenant_budget`]). Until the first pass it is the
    /// whole budget.
    pub fn with_tenant_budget(self, budget: usize) -> Self {
        let mut ctx = self.with_tenant_limit(budget);
        ctx.tenant_budget = Some(budget.max(1));
        if let Some(batcher) = &ctx.batcher {
            batcher.count_against(ctx.tenant_permits.clone());
        }
        ctx
    }

    /// This worker's limit of Graph requests in flight now.
    pub fn tenant_share(&self) -> usize {
        *self.tenant_share.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// With a tenant budget, sets this worker's share for `live` workers: permits are added
    /// at once; removed ones are taken back as the requests holding them finish.
    pub fn share_tenant_budget(&self, live: i64) {
        let Some(budget) = self.tenant_budget else {
            return;
        };
        let live = usize::try_from(live.max(1)).unwrap_or(1);
        let share = budget.div_ceil(live).max(1);
        let mut current = self.tenant_share.lock().unwrap_or_else(|p| p.into_inner());
        if share == *current {
            return;
        }
        tracing::info!(
            budget,
            workers = live,
            share,
            "this worker's share of the tenant's request budget"
        );
        if share > *current {
            self.tenant_permits.add_permits(share - *current);
        } else {
            let fewer = *current - share;
            let forgotten = self.tenant_permits.forget_permits(fewer);
            if forgotten < fewer {
                // The rest are in use: taken back (and forgotten) as they are returned.
                let permits = self.tenant_permits.clone();
                let rest = u32::try_from(fewer - forgotten).unwrap_or(u32::MAX);
                tokio::spawn(async move {
                    if let Ok(p) = permits.acquire_many_owned(rest).await {
                        p.forget();
                    }
                });
            }
        }
        *current = share;
    }

    fn client(&self, mailbox: &str) -> Result<GraphClient, ServerError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(mailbox) {
            return Ok(c.clone());
        }
        let client = GraphClient::new(&self.graph_endpoint)?.with_clock(self.clock.clone());
        clients.insert(mailbox.to_owned(), client.clone());
        Ok(client)
    }

    /// Runs one round of `lease`'s mailbox: resumes an interrupted round, else an
    /// incremental round from the delta link, else a full round over the window.
    #[tracing::instrument(skip_all, fields(mailbox = %lease.mailbox, token = lease.token))]
    pub async fn sync_mailbox(&self, lease: &Lease) -> Result<RoundOutcome, ServerError> {
        let mailbox = &lease.mailbox;
        let sync_error = |message: String| ServerError::Sync {
            mailbox: mailbox.clone(),
            message,
        };
        let graph = self.client(mailbox)?;
        let now = self.clock.now();
        let policy = self.policy.current();
        let rules = crate::policy::for_user(policy.as_deref(), mailbox, &self.sync_config)?;
        if !rules.sync {
            return Err(sync_error(format!(
                "the organization policy turns calendar sync off for this user (group {})",
                rules.group.as_deref().unwrap_or("none")
            )));
        }
        let window = Window::around(now.date_naive(), rules.days_back, rules.days_ahead);
        let state = self.store.sync_state(mailbox).await?;
        let source = Source::PrimaryDelta;
        let plan = plan_user_round(state.as_ref(), graph.base(), mailbox, window)?;
        let previous_delta = state.as_ref().and_then(|s| s.delta_link.clone());
        let last_synced = state.as_ref().and_then(|s| s.last_synced_at);
        let mut round = Round::new(&plan, &source, window, previous_delta, MAX_PAGES);
        tracing::debug!(kind = ?plan.kind, resumed = plan.resumed, "round starts");
        // A fresh full round empties the staging area with its first page, in the same
        // transaction: a round that fails before then has applied nothing.
        let mut first_of_full = plan.kind == RoundKind::Full && !plan.resumed;
        let mut outcome = RoundOutcome {
            mailbox: mailbox.clone(),
            kind: plan.kind,
            pages: 0,
            upserted: 0,
            removed: 0,
        };
        let mut link = plan.first_link.clone();
        // An incremental round's poll may share a batch; its further pages (the mailbox
        // changed a lot) and every full round are read alone.
        let mut batched = self
            .batcher
            .as_deref()
            .filter(|_| plan.kind == RoundKind::Incremental && !plan.resumed);
        loop {
            let url = graph.checked_link(&link)?;
            let answer = match batched.take() {
                Some(batcher) => {
                    let relative = version_relative(graph.base(), &url).ok_or_else(|| {
                        sync_error(format!("the delta link is not under Graph's v1.0: {url}"))
                    })?;
                    batcher
                        .call_with_headers(
                            mailbox,
                            "GET",
                            relative,
                            None,
                            vec![(
                                "Prefer".into(),
                                format!("odata.maxpagesize={}", self.page_size),
                            )],
                        )
                        .await
                }
                None => {
                    let token = self.tokens.token().await?;
                    let _permit = self
                        .tenant_permits
                        .acquire()
                        .await
                        .map_err(|_| sync_error("the worker is shutting down".into()))?;
                    graph.get(url, &token, Some(self.page_size)).await
                }
            };
            let body = match answer {
                Ok(body) => body,
                Err(presently_engine::Error::Server {
                    status: 403, code, ..
                }) => {
                    return Err(ServerError::PermissionMissing {
                        what: format!("the calendar of {mailbox}"),
                        code,
                        permission: "Calendars.Read",
                    })
                }
                Err(presently_engine::Error::Server {
                    status: 410, code, ..
                }) => {
                    // Graph forgot the sync state: start over with a full round next time.
                    self.store.reset_sync_state(lease).await?;
                    return Err(sync_error(format!(
                        "Graph no longer knows the sync state ({code}); the next round is a full one"
                    )));
                }
                Err(presently_engine::Error::Unauthorized) => {
                    self.tokens.invalidate().await;
                    return Err(sync_error(
                        "Graph refused the app-only token (401); a new one is asked for next time"
                            .into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let page = CalendarView::parse(PRIMARY_CALENDAR, &body)?;
            for (id, why) in &page.rejected {
                tracing::warn!(item = ?id, reason = %why, "an item was skipped");
            }
            let step = round
                .on_page(&page, self.clock.now(), last_synced)
                .map_err(|e| sync_error(e.to_string()))?;
            outcome.pages = round.pages();
            match step {
                PageStep::Continue { state } => {
                    let stats = self
                        .store
                        .apply_page(
                            lease,
                            round.kind,
                            &page.changes,
                            &state,
                            first_of_full,
                            None,
                        )
                        .await?;
                    outcome.upserted += stats.upserted;
                    outcome.removed += stats.removed;
                    first_of_full = false;
                    link = state
                        .next_link
                        .ok_or_else(|| sync_error("a page continued without a link".into()))?;
                }
                PageStep::Complete { state } => {
                    let stats = self
                        .store
                        .apply_page(
                            lease,
                            round.kind,
                            &page.changes,
                            &state,
                            first_of_full,
                            Some(round.pages()),
                        )
                        .await?;
                    outcome.upserted += stats.upserted;
                    outcome.removed += stats.removed;
                    tracing::info!(kind = ?outcome.kind, pages = outcome.pages, upserted = outcome.upserted, removed = outcome.removed, "round complete");
                    return Ok(outcome);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_roles_of_a_jwt_are_read_and_an_opaque_token_has_none() {
        let encode = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let jwt = format!(
            "{}.{}.signature",
            encode(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            encode(
                serde_json::json!({"aud": "https://graph.microsoft.com", "roles": ["Calendars.Read", "Presence.ReadWrite.All"]})
            )
        );
        assert_eq!(
            token_roles(&jwt),
            Some(vec![
                "Calendars.Read".into(),
                "Presence.ReadWrite.All".into()
            ])
        );
        let without = format!(
            "{}.{}.s",
            encode(serde_json::json!({})),
            encode(serde_json::json!({"aud": "x"}))
        );
        assert_eq!(token_roles(&without), Some(Vec::new()));
        assert_eq!(token_roles("opaque-emulator-token"), None);
        assert_eq!(token_roles("a.%%%.c"), None);
        assert_eq!(urlencoding_path("user1@contoso.com"), "user1%40contoso.com");
    }

    #[test]
    fn a_delta_link_is_named_relative_to_the_version_root_in_a_batch() {
        let base = Url::parse("https://graph.microsoft.com").unwrap();
        let link = Url::parse(
            "https://graph.microsoft.com/v1.0/users/a%40contoso.com/calendarView/delta?$deltatoken=R0u-x_1",
        )
        .unwrap();
        assert_eq!(
            version_relative(&base, &link).as_deref(),
            Some("/users/a%40contoso.com/calendarView/delta?$deltatoken=R0u-x_1")
        );
        // Another version, or none: not sent in a v1.0 batch.
        let beta = Url::parse("https://graph.microsoft.com/beta/users/a/events").unwrap();
        assert_eq!(version_relative(&base, &beta), None);
    }
}
