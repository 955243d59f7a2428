//! The sync runner: the I/O around [`crate::sync`]'s decisions.

use super::{Engine, SyncPhase};
use crate::error::Error;
use crate::graph::{parse_calendar, CalendarView, EventChange};
use crate::model::Calendar;
use crate::store::{ApplyStats, RoundKind, SyncState};
use crate::sync::{
    link_is_on, plan_round, refuses_delta, FillPlan, PageStep, Round, RoundError, Source, Window,
    FILL_CHUNKS,
};
use secrecy::SecretString;
use serde::Serialize;
use std::sync::atomic::Ordering;

/// `meta` key: when `/me/calendars` was last read.
const CALENDARS_LISTED_AT: &str = "calendars_listed_at";
/// `meta` key: the Graph endpoint (origin) the calendar list was read from.
const CALENDARS_LISTED_FROM: &str = "calendars_listed_from";
/// Pages in one round before it is abandoned as runaway.
const MAX_PAGES: usize = 100_000;
/// Times a calendar's round may start over (dead delta token, paging loop) in one sync.
const MAX_RESTARTS: u32 = 2;

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Read every calendar's whole window again (the result replaces the stored data).
    pub full: bool,
}

/// How a round read its calendar: the whole window, or the changes since the last round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundRead {
    /// The whole window (a first sync, a window read, or a round that started over).
    Full,
    /// Only what changed, from the delta link.
    Incremental,
}

impl std::fmt::Display for RoundRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RoundRead::Full => "full",
            RoundRead::Incremental => "incremental",
        })
    }
}

/// What one calendar's round did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarReport {
    pub calendar_id: String,
    pub name: String,
    pub kind: RoundRead,
    pub resumed: bool,
    pub pages: usize,
    pub upserted: usize,
    pub removed: usize,
    /// Why the round had to start over, when it did.
    pub restarted: Option<String>,
    #[serde(skip)]
    pub parse_micros: u64,
    #[serde(skip)]
    pub store_micros: u64,
}

/// What a sync did, for `presently sync` and the benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncReport {
    pub calendars: Vec<CalendarReport>,
    /// Appointments written or removed.
    pub changes: usize,
    /// Items the server sent that could not be used (logged and skipped).
    pub rejected: usize,
    pub requests: u64,
    pub bytes: u64,
    /// Time spent waiting on the server, in microseconds.
    pub waiting_micros: u64,
    /// Time spent reading pages (JSON to appointments), in microseconds.
    pub parse_micros: u64,
    /// Time spent writing to the store, in microseconds.
    pub store_micros: u64,
}

/// How a calendar is read, as `presently calendars` says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ReadMode {
    /// Delta rounds (`calendarView/delta`) with the calendar's own delta link.
    Delta,
    /// A paged window read each sync, because Graph refused delta on this calendar.
    Window { refused: String },
}

impl std::fmt::Display for ReadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadMode::Delta => f.write_str("delta"),
            ReadMode::Window { refused } => write!(f, "window (Graph refused delta: {refused})"),
        }
    }
}

/// A delta or next link the server no longer knows: start a full round.
fn is_dead_link(err: &Error) -> bool {
    match err {
        Error::Server { status, code, .. } => {
            *status == 410
                || [
                    "syncStateNotFound",
                    "ErrorInvalidIdMalformed",
                    "resyncRequired",
                    "SyncStateInvalid",
                ]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(code))
        }
        _ => false,
    }
}

impl Engine {
    /// Syncs the chosen calendars into the store. Any failure leaves the store as the last
    /// committed page left it; the next sync resumes from there.
    pub async fn sync(&self, options: SyncOptions) -> Result<SyncReport, Error> {
        let result = self.sync_microsoft365(options).await;
        // Calendar subscriptions are other servers: they are fetched when due whatever
        // Microsoft 365 answered (or whether it is synced at all).
        let feeds = self.refresh_due_subscriptions(options.full).await;
        result.map(|mut report| {
            report.changes += feeds;
            report
        })
    }

    async fn sync_microsoft365(&self, options: SyncOptions) -> Result<SyncReport, Error> {
        // Turned off (an organization's policy can): the local calendar stays as it is.
        if !self.config().features.calendar_sync {
            return Err(Error::SyncDisabled);
        }
        self.set_phase(SyncPhase::Syncing, None);
        let result = self.sync_inner(options).await;
        match &result {
            Ok(_) => self.set_phase(SyncPhase::Idle, None),
            Err(err) if err.code() == crate::error::ErrorCode::Network => {
                self.set_phase(SyncPhase::Offline, Some(err.to_string()))
            }
            Err(err) => self.set_phase(SyncPhase::Error, Some(err.to_string())),
        }
        result
    }

    async fn sync_inner(&self, options: SyncOptions) -> Result<SyncReport, Error> {
        self.check_granted_scopes().await?;
        let graph = self.graph();
        let stats = graph.stats();
        let (requests0, bytes0, waiting0) = (
            stats.requests.load(Ordering::Relaxed),
            stats.bytes.load(Ordering::Relaxed),
            stats.waiting_micros.load(Ordering::Relaxed),
        );
        let from_server = options.full || self.calendar_list_is_stale()?;
        let mut listed = if from_server {
            self.calendars_from_server().await?
        } else {
            self.store().calendars()?
        };
        // Calendar subscriptions (iCalendar feeds) are not read from Graph.
        listed.retain(|c| !c.id.starts_with(crate::store::SUBSCRIPTION_ID_PREFIX));
        if self.store().account()?.is_none() {
            let token = self.access_token().await?;
            let account = self.graph().me(&token).await?;
            self.store().set_account(&account)?;
        }
        let config = self.config();
        let chosen = &config.sync.calendars;
        let chooses = |c: &Calendar| {
            if chosen.is_empty() {
                c.is_default
            } else {
                chosen
                    .iter()
                    .any(|id| id == &c.id || id.eq_ignore_ascii_case(&c.name))
            }
        };
        // A stored list that matches nothing (a calendar added since, or a list stored
        // before the primary was looked up) is read again before giving up.
        if !from_server && !listed.iter().any(chooses) {
            listed = self.calendars_from_server().await?;
        }
        let selected: Vec<&Calendar> = listed.iter().filter(|c| chooses(c)).collect();
        // Nothing to read is an error that says why, before anything stored is dropped.
        if selected.is_empty() {
            return Err(Error::NoCalendar {
                reason: nothing_to_sync(chosen, &listed),
            });
        }
        // Calendars the user no longer syncs keep no appointments.
        for calendar in listed
            .iter()
            .filter(|c| !selected.iter().any(|s| s.id == c.id))
        {
            self.store()
                .replace_calendar(&calendar.id, &[], &SyncState::default())?;
        }
        let rounds = futures::future::join_all(
            selected
                .iter()
                .map(|c| self.sync_calendar_to_now(c, options.full)),
        )
        .await;
        let mut report = SyncReport::default();
        for round in rounds {
            let (calendar, rejected) = round?;
            report.changes += calendar.upserted + calendar.removed;
            report.parse_micros += calendar.parse_micros;
            report.store_micros += calendar.store_micros;
            report.rejected += rejected;
            report.calendars.push(calendar);
        }
        report.requests = stats.requests.load(Ordering::Relaxed) - requests0;
        report.bytes = stats.bytes.load(Ordering::Relaxed) - bytes0;
        report.waiting_micros = stats.waiting_micros.load(Ordering::Relaxed) - waiting0;
        tracing::info!(
            calendars = report.calendars.len(),
            changes = report.changes,
            requests = report.requests,
            "sync finished"
        );
        Ok(report)
    }

    /// A feature turned on since sign-in may need a permission not yet granted: then the
    /// user is asked for incremental consent (an interactive sign-in with the new scopes).
    async fn check_granted_scopes(&self) -> Result<(), Error> {
        let wanted = crate::auth::scopes_for(&self.config().features);
        let missing_for = |who: &crate::auth::SignedInAccount| -> Vec<String> {
            crate::auth::missing_scopes(&who.scopes, &wanted)
                .into_iter()
                // Entra does not echo these OpenID scopes among the granted Graph permissions.
                .filter(|s| !matches!(s.as_str(), "openid" | "profile" | "offline_access"))
                .collect()
        };
        // The account as last seen: no keyring round trip on a round that needs nothing new.
        let Some(who) = self.known_account().await? else {
            return Ok(());
        };
        if missing_for(&who).is_empty() {
            return Ok(());
        }
        // Something looks missing: the keyring may know better (the CLI beside the app may
        // have signed in again with the new permissions), so it is read before asking.
        let Some(who) = self.whoami().await? else {
            return Ok(());
        };
        let missing = missing_for(&who);
        if missing.is_empty() {
            return Ok(());
        }
        let err = crate::auth::AuthError::ConsentNeeded(missing);
        self.store()
            .set_meta(super::SESSION_KEY, &format!("{}: {err}", err.code()))?;
        Err(err.into())
    }

    /// `/me/calendars`, stored as the calendar list.
    pub async fn calendars_from_server(&self) -> Result<Vec<Calendar>, Error> {
        let json = self
            .authed(|token| async move { self.graph().calendars(&token).await })
            .await?;
        let mut calendars = json
            .into_iter()
            .map(parse_calendar)
            .collect::<Result<Vec<_>, _>>()?;
        // Microsoft's own `/me/calendars` example carries no `isDefaultCalendar`: when no
        // calendar says it is the default, `/me/calendar` names the primary.
        if !calendars.iter().any(|c| c.is_default) {
            let json = self
                .authed(|token| async move { self.graph().primary_calendar(&token).await })
                .await?;
            let primary = parse_calendar(json)?;
            tracing::info!(calendar = %primary.name, "no calendar in the list says it is the default; /me/calendar named the primary");
            match calendars.iter_mut().find(|c| c.id == primary.id) {
                Some(listed) => listed.is_default = true,
                None => calendars.insert(
                    0,
                    Calendar {
                        is_default: true,
                        ..primary
                    },
                ),
            }
        }
        let mut store = self.store();
        store.set_calendars(&calendars)?;
        store.set_meta(CALENDARS_LISTED_AT, &self.clock.now().to_rfc3339())?;
        store.set_meta(CALENDARS_LISTED_FROM, &self.graph_origin())?;
        Ok(calendars)
    }

    /// The configured Graph endpoint's origin (`https://graph.microsoft.com`).
    fn graph_origin(&self) -> String {
        self.graph().base().origin().ascii_serialization()
    }

    /// How `calendar` is read now: by delta, or by window where Graph refused delta.
    pub fn calendar_read_mode(&self, calendar: &Calendar) -> Result<ReadMode, Error> {
        let refusal = self.store().delta_refusal(&calendar.id)?;
        let source = Source::for_calendar(
            &calendar.id,
            calendar.is_default,
            refusal.as_ref().map(|r| r.1),
            self.clock.now(),
        );
        Ok(match (source, refusal) {
            (Source::CalendarWindow { .. }, Some((why, _))) => ReadMode::Window { refused: why },
            _ => ReadMode::Delta,
        })
    }

    /// The calendar list is re-read hourly (and on a full sync), so an incremental sync
    /// with no changes costs one request.
    fn calendar_list_is_stale(&self) -> Result<bool, Error> {
        let store = self.store();
        if store.calendars()?.is_empty() {
            return Ok(true);
        }
        // Another endpoint (a national cloud, the demo emulator on a new port) may be
        // another mailbox: read its list.
        if store.meta(CALENDARS_LISTED_FROM)?.as_deref() != Some(self.graph_origin().as_str()) {
            return Ok(true);
        }
        let listed = store
            .meta(CALENDARS_LISTED_AT)?
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
        Ok(listed.is_none_or(|t| {
            self.clock.now() - t.with_timezone(&chrono::Utc) > chrono::Duration::hours(1)
        }))
    }

    /// Runs a Graph call with the access token; a 401 gets one refresh and one retry.
    pub(crate) async fn authed<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let token = self.access_token().await?;
        match call(token).await {
            Err(Error::Unauthorized) => {
                tracing::info!("Graph refused the access token; refreshing once");
                self.tokens()?.invalidate().await;
                let token = self.access_token().await?;
                call(token).await
            }
            other => other,
        }
    }

    /// One page of a round or a fill: `link` checked against the Graph endpoint, asked for
    /// with the configured page size and the access token (refreshed once on a 401).
    async fn get_page(&self, link: &str) -> Result<Vec<u8>, Error> {
        let url = self.graph().checked_link(link)?;
        let page_size = self.config().sync.page_size;
        self.authed(|token| {
            let url = url.clone();
            async move { self.graph().get(url, &token, Some(page_size)).await }
        })
        .await
    }

    /// Syncs one calendar up to the server's state at the time of the call: a round that
    /// resumed an interrupted one ends at that round's older snapshot, so an incremental
    /// round follows it.
    async fn sync_calendar_to_now(
        &self,
        calendar: &Calendar,
        force_full: bool,
    ) -> Result<(CalendarReport, usize), Error> {
        let (mut report, mut rejected) = self.sync_calendar(calendar, force_full).await?;
        if report.resumed {
            let (more, more_rejected) = self.sync_calendar(calendar, false).await?;
            report.pages += more.pages;
            report.upserted += more.upserted;
            report.removed += more.removed;
            report.parse_micros += more.parse_micros;
            report.store_micros += more.store_micros;
            report.restarted = report.restarted.or(more.restarted);
            rejected += more_rejected;
        }
        Ok((report, rejected))
    }

    async fn sync_calendar(
        &self,
        calendar: &Calendar,
        force_full: bool,
    ) -> Result<(CalendarReport, usize), Error> {
        let refusal = self.store().delta_refusal(&calendar.id)?;
        let mut source = Source::for_calendar(
            &calendar.id,
            calendar.is_default,
            refusal.as_ref().map(|r| r.1),
            self.clock.now(),
        );
        let sync = &self.config().sync;
        let window = Window::around(
            self.clock.now().date_naive(),
            sync.window_days_back,
            sync.window_days_ahead,
        );
        let mut force = force_full;
        let (mut parse_micros, mut store_micros) = (0u64, 0u64);
        let mut restarted = None;
        let mut restarts = 0;
        let mut rejected = 0;
        let mut fill_pages = 0;
        'round: loop {
            let state = self.store().sync_state(&calendar.id)?;
            let plan = plan_round(state.as_ref(), &source, self.graph().base(), window, force)
                .map_err(|e| Error::InvalidInput(format!("bad Graph endpoint: {e}")))?;
            // A first sync, or one after the server forgot the sync state: the user looks
            // at the next days now, so those are read and shown first, and the rest of the
            // window side by side; the full round below then gets the one delta link that
            // keeps later syncs at one request. Resumed, it is that full round.
            let fill = plan.kind == RoundKind::Full
                && !plan.resumed
                && (restarts > 0 || self.store().calendar_is_empty(&calendar.id)?);
            if let Some(from) = &plan.moved_from {
                tracing::info!(calendar = %calendar.name, stored = %from, endpoint = %self.graph_origin(), "the Graph endpoint changed since the last sync; reading the whole window again");
                restarted = Some(format!(
                    "the Graph endpoint changed (the stored links pointed at {from}); the whole window was read again"
                ));
            }
            // A delta link for another endpoint is dropped with the round that replaces it.
            let previous_delta = state
                .as_ref()
                .and_then(|s| s.delta_link.clone())
                .filter(|l| source.has_delta() && link_is_on(l, self.graph().base()));
            let last_synced = state.as_ref().and_then(|s| s.last_synced_at);
            let mut round = Round::new(&plan, &source, window, previous_delta, MAX_PAGES);
            tracing::info!(calendar = %calendar.name, kind = ?plan.kind, resumed = plan.resumed, "sync round");
            if matches!(plan.kind, RoundKind::Full | RoundKind::Initial) && !plan.resumed {
                let mut start = round.start_state(&plan.first_link);
                start.last_synced_at = last_synced;
                self.store().begin_full_round(&calendar.id, &start)?;
            }
            let mut totals = ApplyStats::default();
            if fill {
                // Only a head start: what it could not read, the full round reads (and
                // restarts on what went wrong there, as any round does).
                match self.fill_calendar(calendar, window).await {
                    Ok(filled) => {
                        parse_micros += filled.parse_micros;
                        store_micros += filled.store_micros;
                        rejected += filled.rejected;
                        fill_pages += filled.pages;
                        totals += filled.stats;
                    }
                    Err(err) => {
                        tracing::warn!(calendar = %calendar.name, error = %err, "the next days could not be read first; reading the window in one round");
                        restarted = Some(format!("the first read of the next days failed ({err})"));
                    }
                }
            }
            // A full round brings every event again (after a fill, the ones just stored):
            // those whose version the store holds are not read further.
            let known = if round.kind == RoundKind::Full {
                Some(self.store().change_keys(&calendar.id)?)
            } else {
                None
            };
            let mut pending: Vec<EventChange> = Vec::new();
            let mut link = plan.first_link.clone();
            let mut current_state = state.unwrap_or_default();
            loop {
                let fetched = self.get_page(&link).await;
                // Graph refusing delta on this calendar (its first request): read it by
                // window from now on, and remember why.
                let refused = match (&fetched, &source) {
                    (
                        Err(Error::Server {
                            status,
                            code,
                            message,
                        }),
                        Source::CalendarDelta { calendar_id },
                    ) if round.pages() == 0
                        && !plan.resumed
                        && plan.kind != RoundKind::Incremental
                        && refuses_delta(*status, code) =>
                    {
                        // Server text, cleaned and bounded before it is stored and shown.
                        let why =
                            crate::graph::event::clean_text(&format!("{status} {code}: {message}"));
                        Some((
                            calendar_id.clone(),
                            why.chars().take(200).collect::<String>(),
                        ))
                    }
                    _ => None,
                };
                if let Some((calendar_id, why)) = refused {
                    tracing::info!(calendar = %calendar.name, reason = %why, "Graph refused delta on this calendar; reading its window instead");
                    let mut store = self.store();
                    store.set_delta_refusal(&calendar.id, Some((&why, self.clock.now())))?;
                    store.abandon_round(&calendar.id)?;
                    source = Source::CalendarWindow { calendar_id };
                    continue 'round;
                }
                let body = match fetched {
                    Err(err) if is_dead_link(&err) && restarts < MAX_RESTARTS => {
                        tracing::warn!(calendar = %calendar.name, error = %err, "the server no longer knows this sync state; starting a full round");
                        restarts += 1;
                        restarted = Some(format!("sync state expired ({err})"));
                        force = true;
                        self.store().abandon_round(&calendar.id)?;
                        continue 'round;
                    }
                    other => other?,
                };
                let parse_started = std::time::Instant::now();
                let page = CalendarView::parse_known(&calendar.id, &body, known.as_ref())
                    .inspect_err(|e| {
                    tracing::error!(calendar = %calendar.name, error = %e, "a page could not be read; the sync will retry from here");
                })?;
                for (id, reason) in &page.rejected {
                    tracing::warn!(calendar = %calendar.name, ?id, %reason, "skipped an item the server sent in a form Presently cannot use");
                }
                rejected += page.rejected.len();
                parse_micros += parse_started.elapsed().as_micros() as u64;
                let store_started = std::time::Instant::now();
                let step = match round.on_page(&page, self.clock.now(), last_synced) {
                    Ok(step) => step,
                    Err(err @ (RoundError::Loop | RoundError::NoLink))
                        if restarts < MAX_RESTARTS =>
                    {
                        tracing::warn!(calendar = %calendar.name, error = %err, "paging went wrong; starting the round over");
                        restarts += 1;
                        restarted = Some(err.to_string());
                        force = true;
                        self.store().abandon_round(&calendar.id)?;
                        continue 'round;
                    }
                    Err(err) => return Err(Error::MalformedResponse(err.to_string())),
                };
                // Pages are written in batches of about `sync.write_batch` changes (random ids
                // make small transactions rewrite the same index pages over and over), each
                // with the link that follows its last page: a crash re-reads one batch at most.
                pending.extend(page.changes);
                match step {
                    PageStep::Continue { state } => {
                        if pending.len() >= sync.write_batch {
                            let mut store = self.store();
                            if round.kind == RoundKind::Full {
                                store.stage_changes(&calendar.id, &pending, &state)?;
                            } else {
                                totals += store.apply_changes(&calendar.id, &pending, &state)?;
                            }
                            pending.clear();
                        }
                        store_micros += store_started.elapsed().as_micros() as u64;
                        link = state.next_link.clone().unwrap_or_default();
                        current_state = state;
                    }
                    PageStep::Complete { state } => {
                        let mut store = self.store();
                        let kind = if round.kind == RoundKind::Full {
                            // Staged under the last page's own link: a crash before the
                            // swap re-reads that page, which is harmless.
                            let mut staging = current_state.clone();
                            staging.next_link = Some(link.clone());
                            staging.round = Some(RoundKind::Full);
                            staging.window_start = Some(window.start);
                            staging.window_end = Some(window.end);
                            store.stage_changes(&calendar.id, &pending, &staging)?;
                            // Added to what a fill wrote (a first sync's changes are mostly there).
                            totals += store.commit_full_round(&calendar.id, &state)?;
                            RoundRead::Full
                        } else {
                            totals += store.apply_changes(&calendar.id, &pending, &state)?;
                            if round.kind == RoundKind::Initial {
                                RoundRead::Full
                            } else {
                                RoundRead::Incremental
                            }
                        };
                        if matches!(source, Source::CalendarDelta { .. }) && refusal.is_some() {
                            store.set_delta_refusal(&calendar.id, None)?;
                        }
                        store_micros += store_started.elapsed().as_micros() as u64;
                        break 'round Ok((
                            CalendarReport {
                                calendar_id: calendar.id.clone(),
                                name: calendar.name.clone(),
                                kind,
                                resumed: plan.resumed,
                                pages: round.pages() + fill_pages,
                                upserted: totals.upserted,
                                removed: totals.removed,
                                restarted,
                                parse_micros,
                                store_micros,
                            },
                            rejected,
                        ));
                    }
                }
            }
        }
    }
}

/// What a fill read and wrote.
#[derive(Debug, Default)]
struct Filled {
    pages: usize,
    rejected: usize,
    stats: ApplyStats,
    parse_micros: u64,
    store_micros: u64,
}

impl std::ops::AddAssign for Filled {
    fn add_assign(&mut self, other: Self) {
        self.pages += other.pages;
        self.rejected += other.rejected;
        self.stats += other.stats;
        self.parse_micros += other.parse_micros;
        self.store_micros += other.store_micros;
    }
}

impl Engine {
    /// Fills an empty (or forgotten) calendar: the priority window (yesterday to two weeks
    /// ahead, in the user's zone) first, shown as soon as it is in; then the rest of the
    /// window in sub-windows read side by side (within Outlook's 4 concurrent requests),
    /// each shown as it completes. Plain calendarView reads: no delta state to keep (the
    /// full round that follows brings the delta link), and any calendar has them.
    async fn fill_calendar(&self, calendar: &Calendar, window: Window) -> Result<Filled, Error> {
        let tz = self.config().display_timezone();
        let today_start = crate::agenda::local_midnight(tz, self.today());
        let plan = FillPlan::new(window, today_start, FILL_CHUNKS);
        let source = Source::CalendarWindow {
            calendar_id: calendar.id.clone(),
        };
        let started = std::time::Instant::now();
        let mut filled = self.fill_window(calendar, &source, plan.priority).await?;
        self.filled.send_modify(|n| *n += 1);
        tracing::info!(calendar = %calendar.name, items = filled.stats.upserted, elapsed_ms = started.elapsed().as_millis() as u64, "the next two weeks are in");
        let source = &source;
        let rest = futures::future::join_all(plan.rest.iter().map(|w| async move {
            let part = self.fill_window(calendar, source, *w).await;
            if part.is_ok() {
                self.filled.send_modify(|n| *n += 1);
            }
            part
        }))
        .await;
        for part in rest {
            filled += part?;
        }
        tracing::info!(calendar = %calendar.name, items = filled.stats.upserted, elapsed_ms = started.elapsed().as_millis() as u64, "the whole window is in; reading it once more for its delta link");
        Ok(filled)
    }

    /// Reads one sub-window's pages into the calendar's visible data.
    async fn fill_window(
        &self,
        calendar: &Calendar,
        source: &Source,
        part: Window,
    ) -> Result<Filled, Error> {
        let sync = &self.config().sync;
        let first = source
            .initial_url(self.graph().base(), part)
            .map_err(|e| Error::InvalidInput(format!("bad Graph endpoint: {e}")))?
            .to_string();
        let plan = crate::sync::RoundPlan {
            kind: RoundKind::Initial,
            first_link: first.clone(),
            resumed: false,
            moved_from: None,
        };
        let mut round = Round::new(&plan, source, part, None, MAX_PAGES);
        let mut filled = Filled::default();
        let mut pending: Vec<EventChange> = Vec::new();
        let mut link = first;
        loop {
            let body = self.get_page(&link).await?;
            let parse_started = std::time::Instant::now();
            let page = CalendarView::parse(&calendar.id, &body)?;
            filled.rejected += page.rejected.len();
            filled.parse_micros += parse_started.elapsed().as_micros() as u64;
            let step = round
                .on_page(&page, self.clock.now(), None)
                .map_err(|e| Error::MalformedResponse(e.to_string()))?;
            pending.extend(page.changes);
            let next = match step {
                PageStep::Continue { state } => state.next_link,
                PageStep::Complete { .. } => None,
            };
            if next.is_none() || pending.len() >= sync.write_batch {
                let mut store = self.store();
                // Timed once the store is ours: sub-windows read side by side wait for it
                // in turn, and that wait is not work.
                let store_started = std::time::Instant::now();
                filled.stats += store.fill_changes(&calendar.id, &pending)?;
                filled.store_micros += store_started.elapsed().as_micros() as u64;
                pending.clear();
            }
            match next {
                Some(next) => link = next,
                None => break,
            }
        }
        filled.pages = round.pages();
        Ok(filled)
    }
}

/// Why a sync has no calendar to read, naming the calendars chosen and those there are.
fn nothing_to_sync(chosen: &[String], listed: &[Calendar]) -> String {
    let quoted = |names: &mut dyn Iterator<Item = &str>| {
        names
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let available = quoted(&mut listed.iter().map(|c| c.name.as_str()));
    match (chosen.is_empty(), listed.is_empty()) {
        (_, true) => "the account has no calendars".to_owned(),
        (true, false) => format!(
            "no calendar is marked as the primary one and sync.calendars chooses none; the account's calendars: {available}"
        ),
        (false, false) => format!(
            "none of the calendars chosen in sync.calendars ({}) is among the account's calendars ({available})",
            quoted(&mut chosen.iter().map(String::as_str))
        ),
    }
}
