//! iCalendar's date, date-time and duration values (RFC 5545 §3.3.4, §3.3.5, §3.3.6), and
//! local times placed in a zone.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Years a feed's dates may have: what is outside is a broken value, not a calendar entry
/// (and keeps recurrence expansion far from the limits of the date types).
const YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

/// A `DATE` or `DATE-TIME` value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value {
    Date(NaiveDate),
    /// Ends in `Z`.
    Utc(NaiveDateTime),
    /// No `Z`: in the zone its `TZID` names, or floating when it has none.
    Local(NaiveDateTime),
}

impl Value {
    /// Reads `text`; `date_only` when the property says `VALUE=DATE`. Also takes the
    /// variants producers write: a date without `VALUE=DATE`, a date-time without seconds,
    /// and a date-time under `VALUE=DATE` (its date).
    pub fn parse(text: &str, date_only: bool) -> Result<Value, String> {
        let text = text.trim();
        let bad = || format!("{:?} is not a date or date-time", bounded(text));
        let date_part = text.get(..8).ok_or_else(bad)?;
        if !date_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let date = NaiveDate::parse_from_str(date_part, "%Y%m%d").map_err(|_| bad())?;
        if !YEARS.contains(&chrono::Datelike::year(&date)) {
            return Err(format!("{text:?} is out of the years a calendar can hold"));
        }
        let rest = &text[8..];
        if rest.is_empty() || date_only {
            return Ok(Value::Date(date));
        }
        let rest = rest.strip_prefix(['T', 't']).ok_or_else(bad)?;
        let (clock, utc) = match rest.strip_suffix(['Z', 'z']) {
            Some(clock) => (clock, true),
            None => (rest, false),
        };
        if !clock.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let number =
            |range: std::ops::Range<usize>| clock.get(range).and_then(|d| d.parse::<u32>().ok());
        let (hour, minute, second) = match clock.len() {
            6 => (number(0..2), number(2..4), number(4..6)),
            4 => (number(0..2), number(2..4), Some(0)),
            _ => return Err(bad()),
        };
        let (Some(hour), Some(minute), Some(second)) = (hour, minute, second) else {
            return Err(bad());
        };
        // A leap second (60) is read as the last second of its minute.
        let time = NaiveTime::from_hms_opt(hour, minute, second.min(59)).ok_or_else(bad)?;
        let at = date.and_time(time);
        Ok(if utc {
            Value::Utc(at)
        } else {
            Value::Local(at)
        })
    }
}

/// The instant a local time names in `zone`. A time in a gap (the hour skipped when
/// daylight saving time begins) is moved forward by the gap, as RFC 5545 §3.3.5 says; a time
/// that happens twice (the hour repeated when it ends) is the first of the two.
pub(super) fn place(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Tz>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at),
        LocalResult::Ambiguous(first, _) => Some(first),
        LocalResult::None => {
            // The offset before the gap, applied to the wall time, lands after it.
            let before = zone
                .from_local_datetime(&(local - Duration::hours(3)))
                .earliest()?;
            let offset = chrono::Offset::fix(before.offset());
            let utc = local - Duration::seconds(i64::from(offset.local_minus_utc()));
            Some(zone.from_utc_datetime(&utc))
        }
    }
}

/// A `DURATION` (RFC 5545 §3.3.6): weeks and days are nominal (whole days on the calendar,
/// kept across a change of daylight saving time), hours, minutes and seconds exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Span {
    pub days: i64,
    pub seconds: i64,
}

/// Longest duration read: ten years. Longer is a broken value.
const MAX_SPAN_DAYS: i64 = 3660;

impl Span {
    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let bad = || format!("{:?} is not a duration", bounded(text));
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let rest = rest.strip_prefix(['P', 'p']).ok_or_else(bad)?;
        let mut span = Span::default();
        let mut number: Option<i64> = None;
        let mut in_time = false;
        let mut any = false;
        for c in rest.chars() {
            match c.to_ascii_uppercase() {
                'T' if !in_time && number.is_none() => in_time = true,
                d @ '0'..='9' => {
                    let digit = i64::from(d as u8 - b'0');
                    let n = number
                        .unwrap_or(0)
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(digit))
                        .filter(|n| *n <= MAX_SPAN_DAYS * 86_400)
                        .ok_or_else(bad)?;
                    number = Some(n);
                }
                unit => {
                    let n = number.take().ok_or_else(bad)?;
                    match (unit, in_time) {
                        ('W', false) => span.days += n * 7,
                        ('D', false) => span.days += n,
                        ('H', true) => span.seconds += n * 3600,
                        ('M', true) => span.seconds += n * 60,
                        ('S', true) => span.seconds += n,
                        _ => return Err(bad()),
                    }
                    any = true;
                }
            }
        }
        if number.is_some() || !any {
            return Err(bad());
        }
        if span.days + span.seconds / 86_400 > MAX_SPAN_DAYS {
            return Err(format!("{text:?} is longer than ten years"));
        }
        if negative {
            span.days = -span.days;
            span.seconds = -span.seconds;
        }
        Ok(span)
    }

    /// Whole days, rounding any time part up (an all-day event lasts whole days).
    pub fn whole_days(self) -> i64 {
        self.days + (self.seconds + 86_399).div_euclid(86_400)
    }

    /// `at` moved by this span: days on the wall clock of `at`'s zone, then the exact part.
    pub fn after(self, at: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let local = at
            .naive_local()
            .checked_add_signed(Duration::days(self.days))?;
        let moved = place(local, at.timezone())?;
        moved.checked_add_signed(Duration::seconds(self.seconds))
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn values_as_producers_write_them() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(Value::parse("20260329", false), Ok(Value::Date(day)));
        assert_eq!(Value::parse("20260329T020000", true), Ok(Value::Date(day)));
        assert_eq!(
            Value::parse("20260329T013000Z", false),
            Ok(Value::Utc(at("2026-03-29 01:30:00")))
        );
        assert_eq!(
            Value::parse("20260329T0130", false),
            Ok(Value::Local(at("2026-03-29 01:30:00")))
        );
        for bad in [
            "2026032",
            "20261345",
            "20260229",
            "20260101T250000",
            "20260101X",
            "99990101T",
            "00010101",
        ] {
            assert!(Value::parse(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward_and_a_repeated_one_is_the_first() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-03-29 02:30 does not exist in Berlin (clocks go 02:00 CET → 03:00 CEST):
        // 02:30 at the offset before the gap (+01:00) is 01:30 UTC, i.e. 03:30 CEST.
        let gap = place(at("2026-03-29 02:30:00"), berlin).unwrap();
        assert_eq!(gap.naive_utc(), at("2026-03-29 01:30:00"));
        // 2026-10-25 02:30 happens twice: first at +02:00 (00:30 UTC).
        let twice = place(at("2026-10-25 02:30:00"), berlin).unwrap();
        assert_eq!(twice.naive_utc(), at("2026-10-25 00:30:00"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            Span::parse("P1DT2H30M"),
            Ok(Span {
                days: 1,
                seconds: 9000
            })
        );
        assert_eq!(
            Span::parse("PT15M"),
            Ok(Span {
                days: 0,
                seconds: 900
            })
        );
        assert_eq!(
            Span::parse("-PT15M"),
            Ok(Span {
                days: 0,
                seconds: -900
            })
        );
        assert_eq!(
            Span::parse("P2W"),
            Ok(Span {
                days: 14,
                seconds: 0
            })
        );
        assert_eq!(Span::parse("-P0DT0H10M0S").map(|s| s.seconds), Ok(-600));
        for bad in [
            "P",
            "PT",
            "1D",
            "P1H",
            "PT1D",
            "P99999999999999999999D",
            "P4000D",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Span {
                days: 1,
                seconds: 1
            }
            .whole_days(),
            2
        );
        // P1D over the autumn change is 25 hours; PT24H is 24.
        let berlin = chrono_tz::Europe::Berlin;
        let start = place(at("2026-10-24 10:00:00"), berlin).unwrap();
        let day = Span::parse("P1D").unwrap().after(start).unwrap();
        assert_eq!((day - start).num_hours(), 25);
        let hours = Span::parse("PT24H").unwrap().after(start).unwrap();
        assert_eq!((hours - start).num_hours(), 24);
    }
}
