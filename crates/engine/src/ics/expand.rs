//! Events to appointments: when each event happens (RFC 5545 §3.6.1: `DTEND` exclusive, a
//! `DURATION`, or neither: one day for a date, no time for a date-time), its recurrences
//! expanded by `rrule` over the window, and `RECURRENCE-ID` overrides put in place of the
//! occurrences they replace — wherever they move them, into the window or out of it.

use super::map::{self, Identity};
use super::time::{place, Span, Value};
use super::zones::{self, Zones};
use super::{bounded, param, prop, props, FeedError, FeedWarnings, Limits, Warning};
use crate::model::{Appointment, AppointmentType, When};
use crate::sync::Window;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use icalendar::parser::{Component, Property};
use rrule::{RRule, RRuleSet, Unvalidated};
use std::collections::{BTreeMap, HashMap, HashSet};

/// When an event or occurrence starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    /// An all-day event's first day.
    Day(NaiveDate),
    At(DateTime<Tz>),
}

/// How long each occurrence lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Length {
    Days(i64),
    /// From `DTEND`: the same exact time for every occurrence.
    Exact(i64),
    /// From `DURATION`: days on the wall clock, then exact time.
    Nominal(Span),
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    start: Start,
    length: Length,
}

/// Which occurrence of a series: its original start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Day(NaiveDate),
    At(i64),
}

impl Key {
    fn of(start: Start) -> Key {
        match start {
            Start::Day(day) => Key::Day(day),
            Start::At(at) => Key::At(at.timestamp()),
        }
    }

    /// `20261225` or `20261225T090000Z`: the occurrence's part of its id.
    fn id_part(self) -> String {
        match self {
            Key::Day(day) => format!("{:04}{:02}{:02}", day.year(), day.month(), day.day()),
            Key::At(seconds) => DateTime::from_timestamp(seconds, 0)
                .map(|at| {
                    format!(
                        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                        at.year(),
                        at.month(),
                        at.day(),
                        at.hour(),
                        at.minute(),
                        at.second()
                    )
                })
                .unwrap_or_else(|| seconds.to_string()),
        }
    }
}

pub(super) struct Expander<'f, 'a, 'l> {
    calendar_id: &'l str,
    window: Window,
    zones: Zones<'f, 'a>,
    limits: &'l Limits,
    warnings: FeedWarnings,
    /// Recurrence dates generated so far, by all series.
    steps: u64,
    out: Vec<Appointment>,
    /// Hashes of the ids given so far.
    ids: HashSet<u64>,
    /// For an id given more than once: the next suffix to try.
    suffixes: HashMap<u64, u32>,
}

impl<'f, 'a, 'l> Expander<'f, 'a, 'l> {
    pub fn new(
        calendar_id: &'l str,
        window: Window,
        zones: Zones<'f, 'a>,
        limits: &'l Limits,
        warnings: FeedWarnings,
    ) -> Self {
        Self {
            calendar_id,
            window,
            zones,
            limits,
            warnings,
            steps: 0,
            out: Vec::new(),
            ids: HashSet::new(),
            suffixes: HashMap::new(),
        }
    }

    pub fn into_warnings(self) -> Vec<Warning> {
        self.warnings.finish()
    }

    /// The appointments of `events` in the window.
    pub fn run(
        &mut self,
        events: impl Iterator<Item = &'f Component<'a>>,
    ) -> Result<Vec<Appointment>, FeedError> {
        let mut masters: Vec<(&'f Component<'a>, String)> = Vec::new();
        let mut overrides: HashMap<String, Vec<&'f Component<'a>>> = HashMap::new();
        let mut override_order: Vec<String> = Vec::new();
        for event in events {
            let uid = uid_of(event);
            if prop(event, "RECURRENCE-ID").is_some() {
                let list = overrides.entry(uid.clone()).or_default();
                if list.is_empty() {
                    override_order.push(uid);
                }
                list.push(event);
            } else {
                masters.push((event, uid));
            }
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut repeated: HashSet<String> = HashSet::new();
        for (event, uid) in masters {
            let own = if seen.insert(uid.clone()) {
                overrides.remove(&uid).unwrap_or_default()
            } else {
                if repeated.insert(uid.clone()) {
                    self.warnings.push(
                        Some(&uid),
                        "the feed has more than one event with this UID; each is shown".into(),
                    );
                }
                Vec::new()
            };
            self.series(event, &uid, own)?;
        }
        // Overrides whose series the feed does not have (a single occurrence shared with
        // the calendar): shown as they are.
        for uid in override_order {
            if let Some(own) = overrides.remove(&uid) {
                self.overrides(None, None, &uid, own)?;
            }
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// A master event (no `RECURRENCE-ID`), its occurrences and its overrides.
    fn series(
        &mut self,
        event: &'f Component<'a>,
        uid: &str,
        overrides: Vec<&'f Component<'a>>,
    ) -> Result<(), FeedError> {
        let timing = match self.timing(event, None, None) {
            Ok(timing) => timing,
            Err(why) => {
                self.warnings
                    .push(Some(uid), format!("{why}; the event is left out"));
                return Ok(());
            }
        };
        let recurring =
            props(event, "RRULE").next().is_some() || props(event, "RDATE").next().is_some();
        let replaced = self.override_keys(Some(&timing), uid, &overrides);
        let original_tz = original_time_zone(event);
        if recurring {
            // The fields are the series', read once; each occurrence differs in id and time.
            let mut template: Option<Appointment> = None;
            for start in self.expand(event, &timing, uid)? {
                let key = Key::of(start);
                if replaced.contains_key(&key) {
                    continue;
                }
                let when = when(start, end_of(start, timing.length));
                let id = format!("{uid}/{}", key.id_part());
                let occurrence = match &template {
                    Some(template) => Appointment {
                        id,
                        when,
                        ..template.clone()
                    },
                    None => {
                        let who = Identity {
                            calendar_id: self.calendar_id,
                            id,
                            uid,
                            series: true,
                            kind: AppointmentType::Occurrence,
                            original_time_zone: original_tz.clone(),
                        };
                        let first = map::appointment(who, event, None, when);
                        template = Some(first.clone());
                        first
                    }
                };
                self.emit(occurrence)?;
            }
        } else if !replaced.contains_key(&Key::of(timing.start)) {
            let end = end_of(timing.start, timing.length);
            if self.overlaps(timing.start, end) {
                let who = Identity {
                    calendar_id: self.calendar_id,
                    id: uid.to_owned(),
                    uid,
                    series: false,
                    kind: AppointmentType::SingleInstance,
                    original_time_zone: original_tz,
                };
                self.emit(map::appointment(who, event, None, when(timing.start, end)))?;
            }
        }
        self.place_overrides(Some(event), Some(&timing), uid, replaced)
    }

    /// Overrides of a series (or of none the feed has).
    fn overrides(
        &mut self,
        master: Option<&'f Component<'a>>,
        timing: Option<&Timing>,
        uid: &str,
        overrides: Vec<&'f Component<'a>>,
    ) -> Result<(), FeedError> {
        let replaced = self.override_keys(timing, uid, &overrides);
        self.place_overrides(master, timing, uid, replaced)
    }

    /// Each override's occurrence; of two for one occurrence, the later `SEQUENCE` (else
    /// the later in the feed).
    fn override_keys(
        &mut self,
        timing: Option<&Timing>,
        uid: &str,
        overrides: &[&'f Component<'a>],
    ) -> BTreeMap<Key, (Start, &'f Component<'a>)> {
        let mut replaced: BTreeMap<Key, (Start, &'f Component<'a>)> = BTreeMap::new();
        for event in overrides {
            let Some(recurrence_id) = prop(event, "RECURRENCE-ID") else {
                continue;
            };
            if param(recurrence_id, "RANGE")
                .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"))
            {
                self.warnings.push(
                    Some(uid),
                    "an override for this and all later occurrences (RANGE=THISANDFUTURE) is applied to its own occurrence only".into(),
                );
            }
            let original = match self.start_of(recurrence_id) {
                Ok(start) => recurrence_start(start, timing.map(|t| t.start)),
                Err(why) => {
                    self.warnings.push(
                        Some(uid),
                        format!("an override's RECURRENCE-ID: {why}; the override is left out"),
                    );
                    continue;
                }
            };
            let key = Key::of(original);
            let newer = replaced
                .get(&key)
                .is_none_or(|(_, kept)| sequence(event) >= sequence(kept));
            if newer {
                replaced.insert(key, (original, event));
            }
        }
        replaced
    }

    fn place_overrides(
        &mut self,
        master: Option<&'f Component<'a>>,
        master_timing: Option<&Timing>,
        uid: &str,
        replaced: BTreeMap<Key, (Start, &'f Component<'a>)>,
    ) -> Result<(), FeedError> {
        for (key, (original, event)) in replaced {
            let timing = match self.timing(event, master_timing.map(|t| t.length), Some(original)) {
                Ok(timing) => timing,
                Err(why) => {
                    self.warnings.push(
                        Some(uid),
                        format!("an override: {why}; the occurrence keeps its series' time"),
                    );
                    match master_timing {
                        Some(t) => Timing {
                            start: original,
                            length: t.length,
                        },
                        None => continue,
                    }
                }
            };
            let end = end_of(timing.start, timing.length);
            if !self.overlaps(timing.start, end) {
                continue;
            }
            let who = Identity {
                calendar_id: self.calendar_id,
                id: format!("{uid}/{}", key.id_part()),
                uid,
                series: true,
                kind: AppointmentType::Exception,
                original_time_zone: original_time_zone(event)
                    .or_else(|| master.and_then(original_time_zone)),
            };
            self.emit(map::appointment(
                who,
                event,
                master,
                when(timing.start, end),
            ))?;
        }
        Ok(())
    }

    /// The starts of a recurring event's occurrences that overlap the window, in order.
    fn expand(
        &mut self,
        event: &'f Component<'a>,
        timing: &Timing,
        uid: &str,
    ) -> Result<Vec<Start>, FeedError> {
        let dt_start = to_rrule(timing.start);
        let mut set = RRuleSet::new(dt_start).limit();
        for property in props(event, "RRULE") {
            match self.rule(property.val.as_str(), timing, dt_start) {
                Ok(Some(rule)) => set = set.rrule(rule),
                Ok(None) => {}
                Err(why) => self.warnings.push(
                    Some(uid),
                    format!(
                        "its recurrence rule {:?} cannot be used ({}); only its other dates are shown",
                        bounded(property.val.as_str(), 120),
                        bounded(&why, 160)
                    ),
                ),
            }
        }
        for (name, exclude) in [("RDATE", false), ("EXDATE", true)] {
            for property in props(event, name) {
                for text in property.val.as_str().split(',') {
                    match self.date_of(property, text, timing) {
                        Ok(at) if exclude => set = set.exdate(at),
                        Ok(at) => set = set.rdate(at),
                        Err(why) => self
                            .warnings
                            .push(Some(uid), format!("{name}: {why}; that date is ignored")),
                    }
                }
            }
        }
        // DTSTART is always the first occurrence (RFC 5545 §3.8.5.3), even where the rule
        // does not produce it (`rrule` would leave it out).
        set = set.rdate(dt_start);

        // All-day dates are days of the display zone; a day more on either side covers any
        // offset.
        let stop = self
            .window
            .end
            .checked_add_signed(Duration::days(2))
            .unwrap_or(self.window.end);
        let mut found = Vec::new();
        let mut steps: u64 = 0;
        let mut previous = None;
        for at in &set {
            steps += 1;
            self.steps += 1;
            if self.steps > self.limits.max_steps {
                return Err(FeedError::TooComplex {
                    limit: self.limits.max_steps,
                });
            }
            if steps > self.limits.max_steps_per_series {
                self.warnings.push(
                    Some(uid),
                    format!(
                        "it recurs too often to expand (over {} times from its start); occurrences from {} on are left out",
                        self.limits.max_steps_per_series,
                        at.with_timezone(&Utc).format("%Y-%m-%d")
                    ),
                );
                break;
            }
            if at.with_timezone(&Utc) >= stop {
                break;
            }
            if previous == Some(at) {
                continue;
            }
            previous = Some(at);
            let start = match timing.start {
                Start::Day(_) => Start::Day(at.naive_utc().date()),
                Start::At(first) => Start::At(at.with_timezone(&first.timezone())),
            };
            if !self.overlaps(start, end_of(start, timing.length)) {
                continue;
            }
            if found.len() >= self.limits.max_occurrences_per_series {
                self.warnings.push(
                    Some(uid),
                    format!(
                        "it has more than {} occurrences in the sync window; the later ones are left out",
                        self.limits.max_occurrences_per_series
                    ),
                );
                break;
            }
            found.push(start);
        }
        Ok(found)
    }

    /// An `RRULE` for `rrule`: its `UNTIL` read here (a date, a floating time or a time in
    /// UTC, as producers write it; `rrule` would read a floating one in the machine's zone),
    /// the rest by `rrule`. `None`: it ends before it starts (only DTSTART happens).
    fn rule(
        &mut self,
        value: &str,
        timing: &Timing,
        dt_start: DateTime<rrule::Tz>,
    ) -> Result<Option<RRule>, String> {
        // RFC 5545 writes rules in ASCII; `rrule` slices them as such (and panics on a
        // character of several bytes).
        if !value.is_ascii() {
            return Err("it is not ASCII".into());
        }
        let until = zones::rule_part(value, "UNTIL");
        let rest: Vec<&str> = value
            .split(';')
            .map(str::trim)
            .filter(|part| {
                !part.is_empty()
                    && !part
                        .split_once('=')
                        .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("UNTIL"))
            })
            .collect();
        let mut rule: RRule<Unvalidated> = rest.join(";").parse().map_err(|e| format!("{e}"))?;
        if let Some(until) = until {
            let until = Value::parse(until, false)?;
            let until = match (timing.start, until) {
                (Start::Day(_), Value::Date(day)) => midnight_utc(day),
                (Start::Day(_), Value::Local(at)) => midnight_utc(at.date()),
                (Start::Day(_), Value::Utc(at)) => midnight_utc(
                    at.and_utc()
                        .with_timezone(&self.zones.display())
                        .date_naive(),
                ),
                (Start::At(_), Value::Utc(at)) => at.and_utc(),
                (Start::At(first), Value::Local(at)) => place(at, first.timezone())
                    .ok_or("UNTIL cannot be placed in its zone")?
                    .with_timezone(&Utc),
                (Start::At(first), Value::Date(day)) => {
                    place(
                        day.and_time(NaiveTime::MIN) + Duration::days(1),
                        first.timezone(),
                    )
                    .ok_or("UNTIL cannot be placed in its zone")?
                    .with_timezone(&Utc)
                        - Duration::seconds(1)
                }
            };
            if until < dt_start.with_timezone(&Utc) {
                return Ok(None);
            }
            rule = rule.until(until.with_timezone(&rrule::Tz::UTC));
        }
        rule.validate(dt_start)
            .map(Some)
            .map_err(|e| format!("{e}"))
    }

    /// One date of an `RDATE` or `EXDATE`, as a date of the series (a time of day for an
    /// all-day series is its date; a date for a timed series is the series' time that day).
    fn date_of(
        &mut self,
        property: &Property<'_>,
        text: &str,
        timing: &Timing,
    ) -> Result<DateTime<rrule::Tz>, String> {
        // A PERIOD (start/end or start/duration): its start.
        let text = text.split('/').next().unwrap_or(text);
        let date_only = param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        let value = Value::parse(text, date_only)?;
        let start = match (timing.start, value) {
            (Start::Day(_), Value::Date(day)) => Start::Day(day),
            (Start::Day(_), Value::Local(at)) => Start::Day(at.date()),
            (Start::Day(_), Value::Utc(at)) => Start::Day(
                at.and_utc()
                    .with_timezone(&self.zones.display())
                    .date_naive(),
            ),
            (Start::At(first), Value::Date(day)) => Start::At(
                place(day.and_time(first.time()), first.timezone())
                    .ok_or("the date cannot be placed in its zone")?,
            ),
            (Start::At(_), value) => self.instant(property, value)?,
        };
        Ok(to_rrule(start))
    }

    /// When `event` happens. `length`: the series' (for an override that says none);
    /// `start`: its original start (for an override without `DTSTART`).
    fn timing(
        &mut self,
        event: &Component<'_>,
        length: Option<Length>,
        start: Option<Start>,
    ) -> Result<Timing, String> {
        let start = match prop(event, "DTSTART") {
            Some(property) => self.start_of(property)?,
            None => start.ok_or("it has no start (DTSTART)")?,
        };
        let length = if let Some(end) = prop(event, "DTEND") {
            let end = self.start_of(end).map_err(|why| format!("DTEND: {why}"))?;
            length_between(start, end)
        } else if let Some(duration) = prop(event, "DURATION") {
            let span =
                Span::parse(duration.val.as_str()).map_err(|why| format!("DURATION: {why}"))?;
            match start {
                Start::Day(_) => Length::Days(span.whole_days().max(1)),
                Start::At(_) if span.days < 0 || span.seconds < 0 => Length::Exact(0),
                Start::At(_) => Length::Nominal(span),
            }
        } else {
            match (start, length) {
                (Start::Day(_), Some(Length::Days(days))) => Length::Days(days),
                (Start::Day(_), _) => Length::Days(1),
                (Start::At(_), Some(Length::Days(days))) => {
                    Length::Nominal(Span { days, seconds: 0 })
                }
                (Start::At(_), Some(length)) => length,
                (Start::At(_), None) => Length::Exact(0),
            }
        };
        Ok(Timing { start, length })
    }

    /// A `DTSTART`-like property: a date, or an instant in its `TZID`'s zone (the display
    /// zone for a floating time).
    fn start_of(&mut self, property: &Property<'_>) -> Result<Start, String> {
        let date_only = param(property, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        match Value::parse(property.val.as_str(), date_only)? {
            Value::Date(day) => Ok(Start::Day(day)),
            value => self.instant(property, value),
        }
    }

    fn instant(&mut self, property: &Property<'_>, value: Value) -> Result<Start, String> {
        match value {
            Value::Date(day) => Ok(Start::Day(day)),
            Value::Utc(at) => Ok(Start::At(Tz::UTC.from_utc_datetime(&at))),
            Value::Local(at) => {
                let zone = match zones::tzid(property) {
                    Some(tzid) => self.zones.resolve(tzid, &mut self.warnings),
                    None => self.zones.display(),
                };
                place(at, zone)
                    .map(Start::At)
                    .ok_or_else(|| format!("{at} cannot be placed in {}", zone.name()))
            }
        }
    }

    /// Whether an occurrence overlaps the window; an all-day one by the days of the
    /// display zone, a zero-length one when it starts in it.
    fn overlaps(&self, start: Start, end: Start) -> bool {
        let instant = |s: Start| match s {
            Start::At(at) => Some(at.with_timezone(&Utc)),
            Start::Day(day) => place(day.and_time(NaiveTime::MIN), self.zones.display())
                .map(|at| at.with_timezone(&Utc)),
        };
        let (Some(start), Some(end)) = (instant(start), instant(end)) else {
            return false;
        };
        start < self.window.end
            && (end > self.window.start || (end == start && start >= self.window.start))
    }

    fn emit(&mut self, mut appointment: Appointment) -> Result<(), FeedError> {
        if self.out.len() >= self.limits.max_appointments {
            return Err(FeedError::TooManyAppointments {
                limit: self.limits.max_appointments,
            });
        }
        // Ids are unique in a calendar: a UID the feed repeats gets `#2`, `#3`… in feed order.
        // The set holds hashes of the ids given (cheap for tens of thousands): an id whose
        // hash was seen is renamed, so no two ids are ever equal.
        let hash = fnv1a(appointment.id.as_bytes());
        if !self.ids.insert(hash) {
            let next = self.suffixes.entry(hash).or_insert(2);
            loop {
                let id = format!("{}#{next}", appointment.id);
                *next += 1;
                if self.ids.insert(fnv1a(id.as_bytes())) {
                    appointment.id = id;
                    break;
                }
            }
        }
        self.out.push(appointment);
        Ok(())
    }
}

/// The original start of an occurrence as the series counts them: a date for an all-day
/// series, the series' time of day for a date under a timed one.
fn recurrence_start(start: Start, series: Option<Start>) -> Start {
    match (series, start) {
        (Some(Start::Day(_)), Start::At(at)) => Start::Day(at.date_naive()),
        (Some(Start::At(first)), Start::Day(day)) => {
            place(day.and_time(first.time()), first.timezone()).map_or(start, Start::At)
        }
        _ => start,
    }
}

fn length_between(start: Start, end: Start) -> Length {
    match (start, end) {
        (Start::Day(s), Start::Day(e)) => Length::Days((e - s).num_days().max(1)),
        (Start::Day(s), Start::At(e)) => Length::Days((e.date_naive() - s).num_days().max(1)),
        (Start::At(s), Start::At(e)) => Length::Exact((e - s).num_seconds().max(0)),
        (Start::At(s), Start::Day(e)) => Length::Exact(
            place(e.and_time(NaiveTime::MIN), s.timezone())
                .map_or(0, |e| (e - s).num_seconds().max(0)),
        ),
    }
}

fn end_of(start: Start, length: Length) -> Start {
    match (start, length) {
        (Start::Day(day), Length::Days(days)) => {
            Start::Day(day.checked_add_signed(Duration::days(days)).unwrap_or(day))
        }
        (Start::Day(day), _) => Start::Day(day.succ_opt().unwrap_or(day)),
        (Start::At(at), Length::Exact(seconds)) => Start::At(
            at.checked_add_signed(Duration::seconds(seconds))
                .unwrap_or(at),
        ),
        (Start::At(at), Length::Nominal(span)) => Start::At(span.after(at).unwrap_or(at)),
        (Start::At(at), Length::Days(days)) => {
            Start::At(Span { days, seconds: 0 }.after(at).unwrap_or(at))
        }
    }
}

fn when(start: Start, end: Start) -> When {
    match (start, end) {
        (Start::Day(start), Start::Day(end)) => When::AllDay { start, end },
        (Start::At(start), Start::At(end)) => When::Timed {
            start: start.with_timezone(&Utc),
            end: end.with_timezone(&Utc),
        },
        // `end_of` keeps the kind of its start.
        (Start::Day(start), Start::At(_)) => When::AllDay {
            start,
            end: start.succ_opt().unwrap_or(start),
        },
        (Start::At(start), Start::Day(_)) => When::Timed {
            start: start.with_timezone(&Utc),
            end: start.with_timezone(&Utc),
        },
    }
}

fn midnight_utc(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// A start as `rrule` calculates: an all-day series at midnight UTC (days, no zone), a
/// timed one in its zone (so it keeps its wall-clock time across daylight saving time).
fn to_rrule(start: Start) -> DateTime<rrule::Tz> {
    match start {
        Start::Day(day) => midnight_utc(day).with_timezone(&rrule::Tz::UTC),
        Start::At(at) => at.with_timezone(&rrule::Tz::Tz(at.timezone())),
    }
}

fn sequence(event: &Component<'_>) -> i64 {
    prop(event, "SEQUENCE")
        .and_then(|p| p.val.as_str().trim().parse().ok())
        .unwrap_or(0)
}

fn original_time_zone(event: &Component<'_>) -> Option<String> {
    prop(event, "DTSTART")
        .and_then(zones::tzid)
        .map(|z| bounded(z, 100))
}

/// The event's UID, cleaned and bounded; a feed without one gets one from the event's
/// start and summary, the same at every fetch.
fn uid_of(event: &Component<'_>) -> String {
    let uid: String = prop(event, "UID")
        .map(|p| p.val.as_str())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let uid = uid.trim();
    if uid.is_empty() {
        let seed = format!(
            "{}\u{0}{}",
            prop(event, "DTSTART").map_or("", |p| p.val.as_str()),
            prop(event, "SUMMARY").map_or("", |p| p.val.as_str())
        );
        return format!("generated-{:016x}", fnv1a(seed.as_bytes()));
    }
    if uid.len() > 200 {
        let head: String = uid.chars().take(100).collect();
        return format!("{head}~{:016x}", fnv1a(uid.as_bytes()));
    }
    uid.to_owned()
}

/// FNV-1a: a stable hash for ids (not a secret, not a defence).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
