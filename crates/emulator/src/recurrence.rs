//! Recurring series: the Graph `patternedRecurrence` model and its expansion into the
//! local dates of occurrences (what the service does when it serves a calendarView).
//!
//! The expansion is the `rrule` crate's: the pattern becomes an RFC 5545 rule over the
//! series' local dates. As Graph documents it, the first occurrence is the first date on
//! or after `range.startDate` that fits the pattern (`rrule` likewise leaves out a start
//! that does not fit), a numbered range counts from there, and an end date is inclusive.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use rrule::{Frequency, NWeekday, RRule, RRuleSet, Unvalidated};
use serde_json::{json, Value};

/// `recurrencePattern.type` values the emulator expands (the yearly and relative ones with
/// what only they have: the month, the week of the month).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternType {
    Daily,
    Weekly,
    AbsoluteMonthly,
    RelativeMonthly { index: WeekIndex },
    AbsoluteYearly { month: u32 },
    RelativeYearly { month: u32, index: WeekIndex },
}

/// `recurrencePattern.index`: which of the month's `daysOfWeek`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeekIndex {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl WeekIndex {
    fn name(self) -> &'static str {
        match self {
            WeekIndex::First => "first",
            WeekIndex::Second => "second",
            WeekIndex::Third => "third",
            WeekIndex::Fourth => "fourth",
            WeekIndex::Last => "last",
        }
    }

    fn parse(text: &str) -> Option<WeekIndex> {
        Some(match text.to_ascii_lowercase().as_str() {
            "first" => WeekIndex::First,
            "second" => WeekIndex::Second,
            "third" => WeekIndex::Third,
            "fourth" => WeekIndex::Fourth,
            "last" => WeekIndex::Last,
            _ => return None,
        })
    }

    /// BYSETPOS.
    fn position(self) -> i32 {
        match self {
            WeekIndex::First => 1,
            WeekIndex::Second => 2,
            WeekIndex::Third => 3,
            WeekIndex::Fourth => 4,
            WeekIndex::Last => -1,
        }
    }
}

/// `recurrenceRange.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeType {
    EndDate,
    NoEnd,
    Numbered,
}

/// A Graph `patternedRecurrence`.
#[derive(Clone, Debug, PartialEq)]
pub struct Recurrence {
    pub pattern: PatternType,
    pub interval: u32,
    pub days_of_week: Vec<Weekday>,
    pub first_day_of_week: Weekday,
    pub day_of_month: u32,
    pub range: RangeType,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub number_of_occurrences: u32,
    /// Windows zone name, as the service reports it.
    pub recurrence_time_zone: String,
}

/// Upper bound on generated occurrences per expansion, a guard against absurd series.
const MAX_OCCURRENCES: usize = 20_000;

impl Recurrence {
    /// Local dates of the occurrences of the series on or before `until` (inclusive),
    /// in order. Dates before `from` are skipped but still count for numbered ranges.
    pub fn dates(&self, from: NaiveDate, until: NaiveDate) -> Vec<NaiveDate> {
        let Some(set) = self.rule_set() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for at in &set {
            let date = at.date_naive();
            if date > until || out.len() >= MAX_OCCURRENCES {
                break;
            }
            if date >= from {
                out.push(date);
            }
        }
        out
    }

    /// The series as an RFC 5545 rule over local dates (each at midnight, in UTC: dates
    /// have no zone). `None` when it has no occurrence at all.
    fn rule_set(&self) -> Option<RRuleSet> {
        if self.range == RangeType::Numbered && self.number_of_occurrences == 0 {
            return None;
        }
        let midnight = |d: NaiveDate| {
            d.and_time(NaiveTime::MIN)
                .and_utc()
                .with_timezone(&rrule::Tz::UTC)
        };
        let start = midnight(self.start_date);
        let days = || {
            self.days_of_week
                .iter()
                .map(|d| NWeekday::Every(*d))
                .collect::<Vec<_>>()
        };
        let interval = u16::try_from(self.interval.clamp(1, 999)).unwrap_or(1);
        let mut rule: RRule<Unvalidated> = match self.pattern {
            PatternType::Daily => RRule::new(Frequency::Daily),
            PatternType::Weekly => RRule::new(Frequency::Weekly).by_weekday(days()),
            PatternType::AbsoluteMonthly => {
                let (days, last) = month_days(self.day_of_month);
                RRule::new(Frequency::Monthly)
                    .by_month_day(days)
                    .by_set_pos(last)
            }
            PatternType::RelativeMonthly { index } => RRule::new(Frequency::Monthly)
                .by_weekday(days())
                .by_set_pos(vec![index.position()]),
            PatternType::AbsoluteYearly { month } => {
                let (days, last) = month_days(self.day_of_month);
                RRule::new(Frequency::Yearly)
                    .by_month(&[chrono::Month::try_from(u8::try_from(month).ok()?).ok()?])
                    .by_month_day(days)
                    .by_set_pos(last)
            }
            PatternType::RelativeYearly { month, index } => RRule::new(Frequency::Yearly)
                .by_month(&[chrono::Month::try_from(u8::try_from(month).ok()?).ok()?])
                .by_weekday(days())
                .by_set_pos(vec![index.position()]),
        }
        .interval(interval)
        .week_start(self.first_day_of_week);
        match self.range {
            RangeType::EndDate => rule = rule.until(midnight(self.end_date?)),
            RangeType::Numbered => rule = rule.count(self.number_of_occurrences),
            RangeType::NoEnd => {}
        }
        // An end before the start (or a pattern rrule refuses) has no occurrence.
        let rule = rule.validate(start).ok()?;
        Some(RRuleSet::new(start).rrule(rule).limit())
    }

    /// The Graph JSON of this recurrence.
    pub fn to_json(&self) -> Value {
        let (pattern_type, month, index) = match self.pattern {
            PatternType::Daily => ("daily", 0, WeekIndex::First),
            PatternType::Weekly => ("weekly", 0, WeekIndex::First),
            PatternType::AbsoluteMonthly => ("absoluteMonthly", 0, WeekIndex::First),
            PatternType::RelativeMonthly { index } => ("relativeMonthly", 0, index),
            PatternType::AbsoluteYearly { month } => ("absoluteYearly", month, WeekIndex::First),
            PatternType::RelativeYearly { month, index } => ("relativeYearly", month, index),
        };
        let has_day_of_month = matches!(
            self.pattern,
            PatternType::AbsoluteMonthly | PatternType::AbsoluteYearly { .. }
        );
        let range_type = match self.range {
            RangeType::EndDate => "endDate",
            RangeType::NoEnd => "noEnd",
            RangeType::Numbered => "numbered",
        };
        json!({
            "pattern": {
                "type": pattern_type,
                "interval": self.interval,
                "month": month,
                "dayOfMonth": if has_day_of_month { self.day_of_month } else { 0 },
                "daysOfWeek": self.days_of_week.iter().map(|d| weekday_name(*d)).collect::<Vec<_>>(),
                "firstDayOfWeek": weekday_name(self.first_day_of_week),
                "index": index.name(),
            },
            "range": {
                "type": range_type,
                "startDate": self.start_date.format("%Y-%m-%d").to_string(),
                "endDate": self.end_date.map_or_else(|| "0001-01-01".to_string(), |d| d.format("%Y-%m-%d").to_string()),
                "recurrenceTimeZone": self.recurrence_time_zone,
                "numberOfOccurrences": self.number_of_occurrences,
            },
        })
    }

    /// Parses a Graph `patternedRecurrence`. `default_tz` fills a missing recurrenceTimeZone.
    pub fn from_json(v: &Value, default_tz: &str) -> Result<Recurrence, String> {
        let pattern = v.get("pattern").ok_or("recurrence.pattern is required")?;
        let range = v.get("range").ok_or("recurrence.range is required")?;
        let index = || {
            let text = pattern
                .get("index")
                .and_then(Value::as_str)
                .unwrap_or("first");
            WeekIndex::parse(text).ok_or_else(|| format!("unsupported recurrence index {text:?}"))
        };
        let month = || {
            pattern
                .get("month")
                .and_then(Value::as_u64)
                .and_then(|m| u32::try_from(m).ok())
                .filter(|m| (1..=12).contains(m))
                .ok_or("a yearly recurrence needs a month from 1 to 12")
        };
        let ptype = match pattern.get("type").and_then(Value::as_str) {
            Some("daily") => PatternType::Daily,
            Some("weekly") => PatternType::Weekly,
            Some("absoluteMonthly") => PatternType::AbsoluteMonthly,
            Some("relativeMonthly") => PatternType::RelativeMonthly { index: index()? },
            Some("absoluteYearly") => PatternType::AbsoluteYearly { month: month()? },
            Some("relativeYearly") => PatternType::RelativeYearly {
                month: month()?,
                index: index()?,
            },
            other => return Err(format!("unsupported recurrence pattern type {other:?}")),
        };
        let interval = pattern
            .get("interval")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(1)
            .max(1);
        let days_of_week = pattern
            .get("daysOfWeek")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter_map(parse_weekday)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let needs_days = matches!(
            ptype,
            PatternType::Weekly
                | PatternType::RelativeMonthly { .. }
                | PatternType::RelativeYearly { .. }
        );
        if needs_days && days_of_week.is_empty() {
            return Err(format!(
                "a {} recurrence needs daysOfWeek",
                pattern.get("type").and_then(Value::as_str).unwrap_or("")
            ));
        }
        let first_day_of_week = pattern
            .get("firstDayOfWeek")
            .and_then(Value::as_str)
            .and_then(parse_weekday)
            .unwrap_or(Weekday::Sun);
        let day_of_month = pattern
            .get("dayOfMonth")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(1);
        let rtype = match range.get("type").and_then(Value::as_str) {
            Some("endDate") => RangeType::EndDate,
            Some("noEnd") | None => RangeType::NoEnd,
            Some("numbered") => RangeType::Numbered,
            Some(other) => return Err(format!("unsupported recurrence range type {other:?}")),
        };
        let parse_date = |key: &str| -> Option<NaiveDate> {
            range
                .get(key)
                .and_then(Value::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .filter(|d| d.year() > 1)
        };
        let start_date = parse_date("startDate").ok_or("recurrence.range.startDate is required")?;
        let end_date = parse_date("endDate");
        if rtype == RangeType::EndDate && end_date.is_none() {
            return Err("recurrence.range.endDate is required for an endDate range".into());
        }
        let number_of_occurrences = range
            .get("numberOfOccurrences")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0);
        let recurrence_time_zone = range
            .get("recurrenceTimeZone")
            .and_then(Value::as_str)
            .unwrap_or(default_tz)
            .to_string();
        Ok(Recurrence {
            pattern: ptype,
            interval,
            days_of_week,
            first_day_of_week,
            day_of_month,
            range: rtype,
            start_date,
            end_date,
            number_of_occurrences,
            recurrence_time_zone,
        })
    }
}

/// BYMONTHDAY and BYSETPOS for Graph's `dayOfMonth`. Exchange documents it as "if for a
/// particular month this value is larger than the number of days in the month, the last
/// day of the month is assumed": for the 29th to the 31st, the last of the days from the
/// 28th to it that the month has.
fn month_days(day: u32) -> (Vec<i8>, Vec<i32>) {
    let day = i8::try_from(day.clamp(1, 31)).unwrap_or(1);
    if day <= 28 {
        (vec![day], Vec::new())
    } else {
        ((28..=day).collect(), vec![-1])
    }
}

pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn weekdays() -> Recurrence {
        Recurrence {
            pattern: PatternType::Weekly,
            interval: 1,
            days_of_week: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            first_day_of_week: Weekday::Mon,
            day_of_month: 0,
            range: RangeType::EndDate,
            start_date: d(2026, 11, 16),
            end_date: Some(d(2026, 12, 4)),
            number_of_occurrences: 0,
            recurrence_time_zone: "W. Europe Standard Time".into(),
        }
    }

    #[test]
    fn weekly_weekdays_skip_weekends_and_stop_at_end_date() {
        let dates = weekdays().dates(d(2026, 11, 20), d(2026, 12, 31));
        assert_eq!(dates.first(), Some(&d(2026, 11, 20)));
        assert_eq!(dates.last(), Some(&d(2026, 12, 4)));
        assert_eq!(dates.len(), 11);
        assert!(dates.iter().all(|x| x.weekday().num_days_from_monday() < 5));
    }

    #[test]
    fn numbered_ranges_count_from_the_start() {
        let mut r = weekdays();
        r.range = RangeType::Numbered;
        r.number_of_occurrences = 7;
        let dates = r.dates(d(2026, 11, 20), d(2026, 12, 31));
        // 16..20 (5) + 23, 24 => the 7th is the 24th; from the 20th: 20, 23, 24.
        assert_eq!(
            dates,
            vec![d(2026, 11, 20), d(2026, 11, 23), d(2026, 11, 24)]
        );
    }

    #[test]
    fn json_round_trip() {
        let r = weekdays();
        let back = Recurrence::from_json(&r.to_json(), "UTC").unwrap();
        assert_eq!(back, r);
    }

    fn monthly(pattern: PatternType, day_of_month: u32, days: Vec<Weekday>) -> Recurrence {
        Recurrence {
            pattern,
            interval: 1,
            days_of_week: days,
            first_day_of_week: Weekday::Sun,
            day_of_month,
            range: RangeType::NoEnd,
            start_date: d(2026, 1, 1),
            end_date: None,
            number_of_occurrences: 0,
            recurrence_time_zone: "UTC".into(),
        }
    }

    /// Exchange's `DayOfMonth`: "If for a particular month this value is larger than the
    /// number of days in the month, the last day of the month is assumed." The hand-written
    /// expansion skipped those months (no occurrence in February, April, June).
    #[test]
    fn a_day_the_month_lacks_is_its_last_day() {
        let mut r = monthly(PatternType::AbsoluteMonthly, 31, Vec::new());
        r.start_date = d(2026, 1, 31);
        r.range = RangeType::Numbered;
        r.number_of_occurrences = 6;
        assert_eq!(
            r.dates(d(2026, 1, 1), d(2026, 12, 31)),
            vec![
                d(2026, 1, 31),
                d(2026, 2, 28),
                d(2026, 3, 31),
                d(2026, 4, 30),
                d(2026, 5, 31),
                d(2026, 6, 30)
            ]
        );
        // The 29th of February, yearly: the 28th in common years.
        let mut leap = monthly(PatternType::AbsoluteYearly { month: 2 }, 29, Vec::new());
        leap.start_date = d(2024, 2, 29);
        assert_eq!(
            leap.dates(d(2024, 1, 1), d(2026, 12, 31)),
            vec![d(2024, 2, 29), d(2025, 2, 28), d(2026, 2, 28)]
        );
    }

    #[test]
    fn relative_patterns_pick_the_nth_or_last_weekday() {
        // Second Thursday: 1 October 2026 is a Thursday.
        let second = monthly(
            PatternType::RelativeMonthly {
                index: WeekIndex::Second,
            },
            0,
            vec![Weekday::Thu],
        );
        assert_eq!(
            second.dates(d(2026, 10, 1), d(2026, 12, 31)),
            vec![d(2026, 10, 8), d(2026, 11, 12), d(2026, 12, 10)]
        );
        let last = monthly(
            PatternType::RelativeMonthly {
                index: WeekIndex::Last,
            },
            0,
            vec![Weekday::Fri],
        );
        assert_eq!(
            last.dates(d(2026, 10, 1), d(2026, 12, 31)),
            vec![d(2026, 10, 30), d(2026, 11, 27), d(2026, 12, 25)]
        );
        // The fourth Thursday of November.
        let thanksgiving = monthly(
            PatternType::RelativeYearly {
                month: 11,
                index: WeekIndex::Fourth,
            },
            0,
            vec![Weekday::Thu],
        );
        assert_eq!(
            thanksgiving.dates(d(2026, 1, 1), d(2028, 12, 31)),
            vec![d(2026, 11, 26), d(2027, 11, 25), d(2028, 11, 23)]
        );
        let back = Recurrence::from_json(&thanksgiving.to_json(), "UTC").unwrap();
        assert_eq!(back, thanksgiving);
    }
}
