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

/// How a calendar is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `/me/calendarView/delta` (the primary calendar on v1.0).
    PrimaryDelta,
    /// `/me/calendars/{id}/calendarView`: a paged window fetch, diffed against the store.
    CalendarWindow { calendar_id: String },
}

impl Source {
    /// The first request of a full round over `window`.
    pub fn initial_url(&self, graph: &Url, window: Window) -> Result<Url, url::ParseError> {
        let path = match self {
            Source::PrimaryDelta => "/v1.0/me/calendarView/delta".to_owned(),
            Source::CalendarWindow { calendar_id } => format!(
                "/v1.0/me/calendars/{}/calendarView",
                url::form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect::<String>()
            ),
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

    fn has_delta(&self) -> bool {
        matches!(self, Source::PrimaryDelta)
    }
}

/// How the next round starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundPlan {
    pub kind: RoundKind,
    pub first_link: String,
    /// Continues a round that was interrupted (its earlier pages are already committed).
    pub resumed: bool,
}

/// Decides the next round: resume an interrupted one; else go incremental from the delta
/// link while the window is unchanged; else (first sync, new day, `force_full`, no delta
/// support) a full round over `window`.
pub fn plan_round(
    state: Option<&SyncState>,
    source: &Source,
    graph: &Url,
    window: Window,
    force_full: bool,
) -> Result<RoundPlan, url::ParseError> {
    if let Some(state) = state.filter(|s| window.matches(s)) {
        if let (Some(kind), Some(next)) = (state.round, state.next_link.as_ref()) {
            if !(force_full && kind == RoundKind::Incremental) {
                return Ok(RoundPlan {
                    kind,
                    first_link: next.clone(),
                    resumed: true,
                });
            }
        }
        if let (false, true, Some(delta)) =
            (force_full, source.has_delta(), state.delta_link.as_ref())
        {
            return Ok(RoundPlan {
                kind: RoundKind::Incremental,
                first_link: delta.clone(),
                resumed: false,
            });
        }
    }
    Ok(RoundPlan {
        kind: RoundKind::Full,
        first_link: source.initial_url(graph, window)?.to_string(),
        resumed: false,
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
