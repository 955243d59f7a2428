//! Recurring series: the Graph `patternedRecurrence` model and its expansion into the
//! local dates of occurrences (what the service does when it serves a calendarView).

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde_json::{json, Value};

/// `recurrencePattern.type` values the emulator expands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternType {
    Daily,
    Weekly,
    AbsoluteMonthly,
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
        let mut out = Vec::new();
        let interval = i64::from(self.interval.max(1));
        let last = match self.range {
            RangeType::EndDate => self.end_date.map_or(until, |e| e.min(until)),
            RangeType::NoEnd | RangeType::Numbered => until,
        };
        let mut count: u32 = 0;
        let mut emit = |d: NaiveDate, out: &mut Vec<NaiveDate>| -> bool {
            if self.range == RangeType::Numbered && count >= self.number_of_occurrences {
                return false;
            }
            count += 1;
            if d >= from {
                out.push(d);
            }
            out.len() < MAX_OCCURRENCES
        };
        let mut d = self.start_date;
        match self.pattern {
            PatternType::Daily => {
                while d <= last {
                    if !emit(d, &mut out) {
                        break;
                    }
                    d += Duration::days(interval);
                }
            }
            PatternType::Weekly => {
                // Weeks start on first_day_of_week; every `interval`-th week is active.
                let week_start = |x: NaiveDate| {
                    let back = (7 + x.weekday().num_days_from_monday()
                        - self.first_day_of_week.num_days_from_monday())
                        % 7;
                    x - Duration::days(i64::from(back))
                };
                let first_week = week_start(self.start_date);
                while d <= last {
                    let weeks = (week_start(d) - first_week).num_days() / 7;
                    if weeks % interval == 0
                        && self.days_of_week.contains(&d.weekday())
                        && !emit(d, &mut out)
                    {
                        break;
                    }
                    d += Duration::days(1);
                }
            }
            PatternType::AbsoluteMonthly => {
                let mut months: u32 = 0;
                loop {
                    let total = self.start_date.month0() + months;
                    let year = self.start_date.year() + i32::try_from(total / 12).unwrap_or(0);
                    let month = total % 12 + 1;
                    months += self.interval.max(1);
                    let Some(candidate) = NaiveDate::from_ymd_opt(year, month, self.day_of_month)
                    else {
                        if year > until.year() + 1 {
                            break;
                        }
                        continue;
                    };
                    if candidate > last {
                        break;
                    }
                    if candidate >= self.start_date && !emit(candidate, &mut out) {
                        break;
                    }
                }
            }
        }
        out
    }

    /// The Graph JSON of this recurrence.
    pub fn to_json(&self) -> Value {
        let pattern_type = match self.pattern {
            PatternType::Daily => "daily",
            PatternType::Weekly => "weekly",
            PatternType::AbsoluteMonthly => "absoluteMonthly",
        };
        let range_type = match self.range {
            RangeType::EndDate => "endDate",
            RangeType::NoEnd => "noEnd",
            RangeType::Numbered => "numbered",
        };
        json!({
            "pattern": {
                "type": pattern_type,
                "interval": self.interval,
                "month": 0,
                "dayOfMonth": if self.pattern == PatternType::AbsoluteMonthly { self.day_of_month } else { 0 },
                "daysOfWeek": self.days_of_week.iter().map(|d| weekday_name(*d)).collect::<Vec<_>>(),
                "firstDayOfWeek": weekday_name(self.first_day_of_week),
                "index": "first",
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
        let ptype = match pattern.get("type").and_then(Value::as_str) {
            Some("daily") => PatternType::Daily,
            Some("weekly") => PatternType::Weekly,
            Some("absoluteMonthly") => PatternType::AbsoluteMonthly,
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
        if ptype == PatternType::Weekly && days_of_week.is_empty() {
            return Err("a weekly recurrence needs daysOfWeek".into());
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
}
