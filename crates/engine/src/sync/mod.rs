//! Calendar sync: the decisions, with no I/O.
//!
//! A calendar is synced in *rounds*. A full round reads the whole window (its pages are
//! staged and replace the calendar's data when the round completes); an incremental
//! round starts from the last round's delta link and applies only the changes. Every
//! page is committed together with the link to the next one, so a round interrupted at
//! any point resumes where it stopped. [`plan_round`] decides how the next round starts
//! and [`Round`] checks each page; the runner in `engine.rs` does the I/O.

use crate::graph::CalendarView;
use crate::store::{RoundKind, SyncState};
use chrono::{DateTime, Days, NaiveDate, SecondsFormat, Utc};
use std::collections::HashSet;
use url::Url;

pub mod cadence;

/// The span of time kept in sync: whole UTC days around today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// `days_back` days before `today` to `days_ahead` days after it (whole days, UTC).
    pub fn around(today: NaiveDate, days_back: u32, days_ahead: u32) -> Self {
        let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
        let start = today
            .checked_sub_days(Days::new(u64::from(days_back)))
            .unwrap_or(today);
        let end = today
            .checked_add_days(Days::new(u64::from(days_ahead) + 1))
            .unwrap_or(today);
        Self {
            start: midnight(start),
            end: midnight(end),
        }
    }

    fn matches(&self, state: &SyncState) -> bool {
        state.window_start == Some(self.start) && state.window_end == Some(self.end)
    }
}

/// How many days from today a first sync reads before the rest of the window: yesterday
/// to two weeks ahead, what the user is about to look at.
pub const PRIORITY_DAYS_BACK: u64 = 1;
pub const PRIORITY_DAYS_AHEAD: u64 = 14;
/// Sub-windows the rest of the window is read in, side by side: with the priority window
/// done, Outlook's 4 concurrent requests per mailbox.
pub const FILL_CHUNKS: usize = 4;

/// How a first sync (or one after the server forgot the sync state) fills a calendar: the
/// priority window first, then the rest in sub-windows read in parallel. Together they
/// cover the window exactly once: contiguous, no overlap (an appointment across a boundary
/// is read twice and stored once, by its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillPlan {
    pub priority: Window,
    pub rest: Vec<Window>,
}

impl FillPlan {
    /// The priority window is `[today_start - 1 day, today_start + 15 days)` where
    /// `today_start` is when the user's today began (their zone), cut to `window`; the rest
    /// of `window` is split into at most `chunks` sub-windows of whole hours, the later
    /// side (the future, read more often) first.
    pub fn new(window: Window, today_start: DateTime<Utc>, chunks: usize) -> Self {
        let day = chrono::Duration::days(1);
        let clamp = |t: DateTime<Utc>| t.clamp(window.start, window.end);
        let priority = Window {
            start: clamp(today_start - day * PRIORITY_DAYS_BACK as i32),
            end: clamp(today_start + day * (PRIORITY_DAYS_AHEAD as i32 + 1)),
        };
        let before = Window {
            start: window.start,
            end: priority.start,
        };
        let after = Window {
            start: priority.end,
            end: window.end,
        };
        let span = |w: &Window| (w.end - w.start).num_seconds().max(0);
        let total = span(&before) + span(&after);
        let mut rest = Vec::new();
        if total > 0 {
            let chunks = chunks.max(1) as i64;
            // Each side gets chunks in proportion to its length (at least one if it is not
            // empty), and the chunks of a side are equal, cut at whole hours.
            let after_chunks = if span(&after) == 0 {
                0
            } else if span(&before) == 0 {
                chunks
            } else {
                // Both sides need one (they do not touch), even when `chunks` is 1.
                ((chunks * span(&after) + total / 2) / total).clamp(1, (chunks - 1).max(1))
            };
            let before_chunks = if span(&before) == 0 {
                0
            } else {
                (chunks - after_chunks).max(1)
            };
            for (side, n) in [(after, after_chunks), (before, before_chunks)] {
                if n == 0 {
                    continue;
                }
                let hours = (span(&side) + 3599) / 3600;
                let step = ((hours + n - 1) / n).max(1);
                let mut start = side.start;
                while start < side.end {
                    let end = (start + chrono::Duration::hours(step)).min(side.end);
                    rest.push(Window { start, end });
                    start = end;
                }
            }
        }
        Self { priority, rest }
    }

    /// Every sub-window, the priority window first.
    pub fn all(&self) -> impl Iterator<Item = &Window> {
        std::iter::once(&self.priority).chain(self.rest.iter())
    }
}

/// How a calendar is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `/me/calendarView/delta` (the primary calendar, documented on v1.0).
    PrimaryDelta,
    /// `/me/calendars/{id}/calendarView/delta`: delta on another calendar, with its own
    /// delta link.
    CalendarDelta { calendar_id: String },
    /// `/me/calendars/{id}/calendarView`: a paged window fetch, diffed against the store;
    /// for a calendar whose delta Graph refused.
    CalendarWindow { calendar_id: String },
}

/// How long a calendar whose delta Graph refused is read by window before delta is tried
/// again (one request).
pub const DELTA_RETRY_AFTER: chrono::Duration = chrono::Duration::days(7);

impl Source {
    /// How to read `calendar`: the primary by `/me/calendarView/delta`, others by their own
    /// delta, unless Graph refused that at `refused_at` (less than [`DELTA_RETRY_AFTER`] ago).
    pub fn for_calendar(
        calendar_id: &str,
        is_default: bool,
        refused_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        if is_default {
            return Source::PrimaryDelta;
        }
        match refused_at {
            Some(at) if now - at < DELTA_RETRY_AFTER => Source::CalendarWindow {
                calendar_id: calendar_id.to_owned(),
            },
            _ => Source::CalendarDelta {
                calendar_id: calendar_id.to_owned(),
            },
        }
    }

    /// The first request of a full round over `window`.
    pub fn initial_url(&self, graph: &Url, window: Window) -> Result<Url, url::ParseError> {
        let id = |calendar_id: &str| {
            url::form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect::<String>()
        };
        let path = match self {
            Source::PrimaryDelta => "/v1.0/me/calendarView/delta".to_owned(),
            Source::CalendarDelta { calendar_id } => {
                format!("/v1.0/me/calendars/{}/calendarView/delta", id(calendar_id))
            }
            Source::CalendarWindow { calendar_id } => {
                format!("/v1.0/me/calendars/{}/calendarView", id(calendar_id))
            }
        };
        let mut url = graph.join(&path)?;
        url.query_pairs_mut()
            .append_pair(
                "startDateTime",
                &window.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .append_pair(
                "endDateTime",
                &window.end.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        Ok(url)
    }

    pub fn has_delta(&self) -> bool {
        matches!(self, Source::PrimaryDelta | Source::CalendarDelta { .. })
    }
}

/// Whether Graph's answer to the first request of a calendar's delta round means "no delta
/// here" (rather than a passing fault or a lost sync state): what v1.0 answers for a route
/// it does not know or a function it does not support on that resource.
pub fn refuses_delta(status: u16, code: &str) -> bool {
    const CODES: [&str; 7] = [
        "BadRequest",
        "ErrorInvalidRequest",
        "ResourceNotFound",
        "NotImplemented",
        "NotSupported",
        "UnsupportedQuery",
        "ErrorNotSupported",
    ];
    matches!(status, 400 | 404 | 405 | 501) && CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
}

/// Whether a stored link can be followed against the configured Graph endpoint `graph`
/// (same scheme, host and port). A link to anywhere else is never followed with the user's
/// token; it means the endpoint changed since it was stored.
pub fn link_is_on(link: &str, graph: &Url) -> bool {
    Url::parse(link).is_ok_and(|url| crate::graph::client::same_origin(&url, graph))
}

/// How the next round starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundPlan {
    pub kind: RoundKind,
    pub first_link: String,
    /// Continues a round that was interrupted (its earlier pages are already committed).
    pub resumed: bool,
    /// The stored links pointed at this other origin (the Graph endpoint changed: another
    /// configuration, a national cloud, the demo emulator on a new port), so this is a
    /// fresh full round and the old delta link is dropped.
    pub moved_from: Option<String>,
}

/// Decides the next round: resume an interrupted one; else go incremental from the delta
/// link while the window is unchanged; else (first sync, new day, `force_full`, no delta
/// support) a full round over `window`. Stored links that no longer point at `graph` are
/// not used: the endpoint moved, so a full round starts (and says where the links pointed).
pub fn plan_round(
    state: Option<&SyncState>,
    source: &Source,
    graph: &Url,
    window: Window,
    force_full: bool,
) -> Result<RoundPlan, url::ParseError> {
    let mut moved_from = None;
    let mut elsewhere = |link: &str| {
        let on = link_is_on(link, graph);
        if !on && moved_from.is_none() {
            moved_from = Some(
                Url::parse(link)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_else(|_| "an unreadable link".to_owned()),
            );
        }
        !on
    };
    if let Some(state) = state.filter(|s| window.matches(s)) {
        if let (Some(kind), Some(next)) = (state.round, state.next_link.as_ref()) {
            let dropped = force_full && kind == RoundKind::Incremental;
            if !dropped && !elsewhere(next) {
                return Ok(RoundPlan {
                    kind,
                    first_link: next.clone(),
                    resumed: true,
                    moved_from: None,
                });
            }
        }
        if let (false, true, Some(delta)) =
            (force_full, source.has_delta(), state.delta_link.as_ref())
        {
            if !elsewhere(delta) {
                return Ok(RoundPlan {
                    kind: RoundKind::Incremental,
                    first_link: delta.clone(),
                    resumed: false,
                    moved_from,
                });
            }
        }
    }
    Ok(RoundPlan {
        kind: RoundKind::Full,
        first_link: source.initial_url(graph, window)?.to_string(),
        resumed: false,
        moved_from,
    })
}

/// Why a round cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    #[error("the server sent a next link it had sent before in this round (a paging loop)")]
    Loop,
    #[error("the round went past {0} pages")]
    TooManyPages(usize),
    #[error("a delta page carried neither a next link nor a delta link")]
    NoLink,
}

/// What to do after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStep {
    /// Commit the page with `state`, then fetch `state.next_link`.
    Continue { state: SyncState },
    /// Commit the page with `state`; the round is complete.
    Complete { state: SyncState },
}

/// Tracks one round's pages: guards against loops and runaway paging, and says which
/// sync state to commit with each page.
#[derive(Debug)]
pub struct Round {
    pub kind: RoundKind,
    window: Window,
    delta: bool,
    previous_delta_link: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    max_pages: usize,
}

impl Round {
    /// `empty`: the calendar holds nothing yet, so a full round can write straight into it
    /// (an [`RoundKind::Initial`] round) instead of staging.
    pub fn new(
        plan: &RoundPlan,
        source: &Source,
        window: Window,
        previous_delta_link: Option<String>,
        max_pages: usize,
    ) -> Self {
        Self {
            kind: plan.kind,
            window,
            delta: source.has_delta(),
            previous_delta_link,
            seen: HashSet::from([plan.first_link.clone()]),
            pages: 0,
            max_pages,
        }
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The state to commit before the first page of a fresh full round.
    pub fn start_state(&self, first_link: &str) -> SyncState {
        SyncState {
            delta_link: self.previous_delta_link.clone(),
            next_link: Some(first_link.to_owned()),
            round: Some(self.kind),
            window_start: Some(self.window.start),
            window_end: Some(self.window.end),
            last_synced_at: None,
        }
    }

    /// Checks a parsed page and says what to commit with it.
    pub fn on_page(
        &mut self,
        page: &CalendarView,
        now: DateTime<Utc>,
        last_synced_at: Option<DateTime<Utc>>,
    ) -> Result<PageStep, RoundError> {
        self.pages += 1;
        if self.pages > self.max_pages {
            return Err(RoundError::TooManyPages(self.max_pages));
        }
        let base = SyncState {
            delta_link: self.previous_delta_link.clone(),
            next_link: None,
            round: None,
            window_start: Some(self.window.start),
            window_end: Some(self.window.end),
            last_synced_at,
        };
        if let Some(next) = &page.next_link {
            if !self.seen.insert(next.clone()) {
                return Err(RoundError::Loop);
            }
            return Ok(PageStep::Continue {
                state: SyncState {
                    next_link: Some(next.clone()),
                    round: Some(self.kind),
                    ..base
                },
            });
        }
        match (&page.delta_link, self.delta) {
            (Some(delta), _) => Ok(PageStep::Complete {
                state: SyncState {
                    delta_link: Some(delta.clone()),
                    last_synced_at: Some(now),
                    ..base
                },
            }),
            (None, false) => Ok(PageStep::Complete {
                state: SyncState {
                    delta_link: None,
                    last_synced_at: Some(now),
                    ..base
                },
            }),
            (None, true) => Err(RoundError::NoLink),
        }
    }
}

#[cfg(test)]
mod tests;
