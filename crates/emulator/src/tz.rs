//! Time zone names: the service speaks Windows zone names ("W. Europe Standard Time") in
//! `originalStartTimeZone` and `recurrence`, and accepts Windows or IANA names in
//! `Prefer: outlook.timezone`. A small built-in table maps the common zones both ways
//! (CLDR windowsZones, territory "001").

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// (Windows name, IANA name) pairs, from CLDR's windowsZones.xml (territory 001).
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Calcutta"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Central Standard Time", "America/Chicago"),
    ("Eastern Standard Time", "America/New_York"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("Egypt Standard Time", "Africa/Cairo"),
];

/// Extra IANA aliases that map onto a Windows name above.
const IANA_ALIASES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Etc/GMT", "UTC"),
    ("GMT", "UTC"),
    ("Europe/Amsterdam", "W. Europe Standard Time"),
    ("Europe/Vienna", "W. Europe Standard Time"),
    ("Europe/Zurich", "W. Europe Standard Time"),
    ("Europe/Rome", "W. Europe Standard Time"),
    ("Europe/Stockholm", "W. Europe Standard Time"),
    ("Europe/Oslo", "W. Europe Standard Time"),
    ("Europe/Madrid", "Romance Standard Time"),
    ("Europe/Brussels", "Romance Standard Time"),
    ("Europe/Copenhagen", "Romance Standard Time"),
    ("Europe/Prague", "Central Europe Standard Time"),
    ("Europe/Kyiv", "FLE Standard Time"),
    ("Europe/Helsinki", "FLE Standard Time"),
    ("Europe/Dublin", "GMT Standard Time"),
    ("Europe/Lisbon", "GMT Standard Time"),
    ("Asia/Kolkata", "India Standard Time"),
    ("America/Vancouver", "Pacific Standard Time"),
    ("America/Toronto", "Eastern Standard Time"),
    ("America/Argentina/Buenos_Aires", "Argentina Standard Time"),
];

/// Resolves a zone name as the service accepts it: a Windows name, an IANA name, or "UTC".
pub fn resolve(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("Coordinated Universal Time") {
        return Some(Tz::UTC);
    }
    if let Some((_, iana)) = WINDOWS_ZONES
        .iter()
        .find(|(win, _)| win.eq_ignore_ascii_case(name))
    {
        return iana.parse().ok();
    }
    name.parse::<Tz>().ok()
}

/// The Windows name of a zone, as the service reports it in `originalStartTimeZone`;
/// zones missing from the table fall back to their IANA name.
pub fn windows_name(tz: Tz) -> String {
    let iana = tz.name();
    if let Some((win, _)) = WINDOWS_ZONES.iter().find(|(_, i)| *i == iana) {
        return (*win).to_string();
    }
    if let Some((_, win)) = IANA_ALIASES.iter().find(|(i, _)| *i == iana) {
        return (*win).to_string();
    }
    iana.to_string()
}

/// Wall-clock time in `tz` to an instant. In a DST gap the time is moved forward by the
/// gap (what Exchange does with a nonexistent local time); an ambiguous time takes the
/// earlier instant.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            match tz.from_local_datetime(&later) {
                LocalResult::Single(t) => t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
                LocalResult::None => Utc.from_utc_datetime(&local),
            }
        }
    }
}

/// Formats an instant as the service's `dateTime` string in `tz`: "2026-11-24T09:00:00.0000000".
pub fn graph_datetime(t: DateTime<Utc>, tz: Tz) -> String {
    use chrono::{Datelike, Timelike};
    // Field by field rather than strftime: pages format thousands of these.
    let n = t.with_timezone(&tz).naive_local();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.0000000",
        n.year(),
        n.month(),
        n.day(),
        n.hour(),
        n.minute(),
        n.second()
    )
}

/// The first instant after `from` at which the UTC offset of `tz` changes, searched up to
/// about 14 months ahead. `None` for zones without DST.
pub fn next_transition(tz: Tz, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Offset;
    let offset_at = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let start = offset_at(from);
    let mut day = from;
    for _ in 0..430 {
        let next = day + chrono::Duration::days(1);
        if offset_at(next) != start {
            // Narrow down to the hour (transitions happen on the hour or half hour).
            let mut t = day;
            while offset_at(t) == start {
                t += chrono::Duration::minutes(30);
            }
            return Some(t);
        }
        day = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_names_resolve_both_ways() {
        assert_eq!(
            resolve("W. Europe Standard Time"),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(resolve("Europe/Berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(resolve("UTC"), Some(Tz::UTC));
        assert_eq!(resolve("Mars/Olympus"), None);
        assert_eq!(
            windows_name(chrono_tz::Europe::Berlin),
            "W. Europe Standard Time"
        );
        assert_eq!(
            windows_name(chrono_tz::America::Los_Angeles),
            "Pacific Standard Time"
        );
    }

    #[test]
    fn finds_next_dst_transition_in_berlin() {
        let from = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let t = next_transition(chrono_tz::Europe::Berlin, from).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap());
        assert_eq!(next_transition(chrono_tz::Asia::Tokyo, from), None);
    }
}
