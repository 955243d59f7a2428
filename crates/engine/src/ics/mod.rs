//! iCalendar feeds (ICS files, webcal subscriptions): a feed's bytes and the sync window in,
//! the appointments of the window out, with no I/O.
//!
//! Parsing is the `icalendar` crate's (`parser` feature): maintained, zero-copy over the
//! unfolded text, and it keeps unknown components and properties instead of failing on
//! them (the `ical` crate refuses a feed with an unknown component and is no longer
//! released). Recurrences are expanded by the `rrule` crate: `RRULE`, `RDATE`, `EXDATE`;
//! `RECURRENCE-ID` overrides replace their occurrence here. What a hostile feed could
//! make slow or large is bounded ([`Limits`]): its size, nesting and number of events are
//! checked before parsing (`content.rs`), and expansion is bounded per series and per feed.
//!
//! A feed that cannot be used at all is a [`FeedError`] (with the [`ErrorCode`] the UI
//! shows); an event that cannot be used (a broken date, a rule `rrule` refuses, a zone
//! nobody knows) costs only itself, or only its recurrence, and says so in the feed's
//! [`Warning`]s.
//!
//! Ids are stable across fetches: a single event is its `UID`, an occurrence
//! `UID/20261225T090000Z` (its original start in UTC, or `UID/20261225` for an all-day
//! series), and an override has the id of the occurrence it replaces.

mod content;
mod expand;
mod map;
pub mod source;
mod time;
mod zones;

use crate::error::ErrorCode;
use crate::model::Appointment;
use crate::sync::Window;
use chrono_tz::Tz;
use icalendar::parser::{Component, Property};

/// What a feed may cost. The defaults are the product's; tests may lower them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest feed read, in bytes.
    pub max_bytes: usize,
    /// The most `VEVENT`s a feed may have.
    pub max_events: usize,
    /// The deepest nesting of components (a calendar, an event, an alarm: 3).
    pub max_depth: usize,
    /// The most occurrences one series has in the window; the rest are left out, with a warning.
    pub max_occurrences_per_series: usize,
    /// The most appointments a feed may give in the window.
    pub max_appointments: usize,
    /// The most recurrence dates one series may generate from its start, in the window or
    /// before it (a rule recurring every second since 1970 stops here, with a warning).
    pub max_steps_per_series: u64,
    /// The most recurrence dates all series of a feed may generate together.
    pub max_steps: u64,
    /// The most warnings kept (a count of the others is the last).
    pub max_warnings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_events: 50_000,
            max_depth: 8,
            max_occurrences_per_series: 5_000,
            max_appointments: 100_000,
            max_steps_per_series: 100_000,
            max_steps: 1_000_000,
            max_warnings: 100,
        }
    }
}

/// A feed read over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The calendar's name as the feed gives it (`X-WR-CALNAME`, or RFC 7986's `NAME`).
    pub name: Option<String>,
    /// The appointments overlapping the window, in the feed's order (each series'
    /// occurrences in time order).
    pub appointments: Vec<Appointment>,
    /// What was left out or read in a way the user may want to know about.
    pub warnings: Vec<Warning>,
}

/// Something in a feed that was left out or read another way; the rest of the feed is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The event it is about, when it is about one.
    pub uid: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.uid {
            Some(uid) => write!(f, "event {uid:?}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a feed cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("the calendar feed is larger than the {limit} bytes a feed may have")]
    TooLarge { size: usize, limit: usize },
    #[error("not an iCalendar feed: {found}")]
    NotICalendar { found: String },
    #[error("the calendar feed is not valid iCalendar at line {line}: {reason}")]
    Invalid { line: u32, reason: String },
    #[error("the calendar feed has more than {limit} events")]
    TooManyEvents { limit: usize },
    #[error("the calendar feed's events make more than {limit} appointments in the sync window")]
    TooManyAppointments { limit: usize },
    #[error(
        "the calendar feed's recurring events take too long to expand (more than {limit} recurrences)"
    )]
    TooComplex { limit: u64 },
}

impl FeedError {
    pub fn code(&self) -> ErrorCode {
        match self {
            FeedError::NotICalendar { .. } => ErrorCode::NotICalendar,
            FeedError::Invalid { .. } => ErrorCode::FeedInvalid,
            FeedError::TooLarge { .. }
            | FeedError::TooManyEvents { .. }
            | FeedError::TooManyAppointments { .. }
            | FeedError::TooComplex { .. } => ErrorCode::FeedTooLarge,
        }
    }
}

/// Reads `bytes` as an iCalendar feed and returns its appointments overlapping `window`
/// (those of `calendar_id`); floating times are read in `display_zone`.
pub fn parse(
    bytes: &[u8],
    calendar_id: &str,
    window: Window,
    display_zone: Tz,
) -> Result<Feed, FeedError> {
    parse_with_limits(bytes, calendar_id, window, display_zone, &Limits::default())
}

/// [`parse`] with other limits than the product's.
pub fn parse_with_limits(
    bytes: &[u8],
    calendar_id: &str,
    window: Window,
    display_zone: Tz,
    limits: &Limits,
) -> Result<Feed, FeedError> {
    let normalized = content::normalize(bytes, limits)?;
    let roots = icalendar::parser::read_calendar_simple(&normalized.text).map_err(|e| {
        let offset = normalized.text.len().saturating_sub(e.input.len());
        FeedError::Invalid {
            line: normalized.line_at(offset),
            reason: "this line cannot be read as an iCalendar content line".into(),
        }
    })?;
    let mut warnings = FeedWarnings::new(limits.max_warnings);
    if normalized.skipped_lines > 0 {
        warnings.push(
            None,
            format!(
                "{} line(s) that are not iCalendar content lines were skipped (the first at line {})",
                normalized.skipped_lines,
                normalized.first_skipped_line.unwrap_or(0)
            ),
        );
    }
    let calendars: Vec<&Component<'_>> = roots
        .iter()
        .filter(|c| c.name.as_str() == "VCALENDAR")
        .collect();
    let name = calendars.iter().find_map(|c| {
        prop(c, "X-WR-CALNAME")
            .or_else(|| prop(c, "NAME"))
            .map(|p| crate::graph::event::clean_text(p.val.as_str()))
            .filter(|n| !n.is_empty())
    });
    let zones = zones::Zones::new(
        display_zone,
        window.start,
        calendars.iter().flat_map(|c| zones::definitions(c)),
    );
    let events = calendars
        .iter()
        .flat_map(|c| c.components.iter())
        .filter(|c| c.name.as_str() == "VEVENT");
    let mut expander = expand::Expander::new(calendar_id, window, zones, limits, warnings);
    let appointments = expander.run(events)?;
    let warnings = expander.into_warnings();
    Ok(Feed {
        name,
        appointments,
        warnings,
    })
}

/// The warnings of one feed, bounded.
pub(crate) struct FeedWarnings {
    list: Vec<Warning>,
    left_out: usize,
    max: usize,
}

impl FeedWarnings {
    fn new(max: usize) -> Self {
        Self {
            list: Vec::new(),
            left_out: 0,
            max,
        }
    }

    pub(crate) fn push(&mut self, uid: Option<&str>, message: String) {
        if self.list.len() < self.max {
            tracing::debug!(uid, "calendar feed: {message}");
            self.list.push(Warning {
                uid: uid.map(str::to_owned),
                message,
            });
        } else {
            self.left_out += 1;
        }
    }

    fn finish(mut self) -> Vec<Warning> {
        if self.left_out > 0 {
            self.list.push(Warning {
                uid: None,
                message: format!("and {} more warnings", self.left_out),
            });
        }
        self.list
    }
}

/// The first property `name` (upper case) of a component.
pub(crate) fn prop<'c, 'a>(component: &'c Component<'a>, name: &str) -> Option<&'c Property<'a>> {
    component
        .properties
        .iter()
        .find(|p| p.name.as_str() == name)
}

/// Every property `name` (upper case) of a component.
pub(crate) fn props<'c, 'a>(
    component: &'c Component<'a>,
    name: &'c str,
) -> impl Iterator<Item = &'c Property<'a>> + 'c {
    component
        .properties
        .iter()
        .filter(move |p| p.name.as_str() == name)
}

/// A parameter of a property, its name in any case.
pub(crate) fn param<'p>(property: &'p Property<'_>, key: &str) -> Option<&'p str> {
    property
        .params
        .iter()
        .find(|p| p.key.as_str().eq_ignore_ascii_case(key))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str())
}

/// At most `max` characters of `text`, for messages.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
