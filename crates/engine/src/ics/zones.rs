//! Which zone a `TZID` means. In order: an IANA name, "UTC" or a Windows zone name (the
//! table Graph's names are read with, `graph::timezone`); an IANA name at the end of a
//! longer TZID (`/mozilla.org/20050126_1/Europe/Berlin`); the IANA zone whose rules match
//! the feed's own `VTIMEZONE` for it (Outlook's "Customized Time Zone"), else a zone of
//! its standard offset; else the display zone. The last three say so in a warning, once
//! per TZID. Recurrences are expanded by `rrule`, which calculates in IANA zones, so a
//! `VTIMEZONE` is used through the IANA zone it matches.

use super::{param, prop, FeedWarnings};
use crate::graph::timezone;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use icalendar::parser::Component;
use std::collections::HashMap;

pub(super) struct Zones<'f, 'a> {
    display: Tz,
    /// Compared over the years around it when a `VTIMEZONE` is matched to an IANA zone.
    around: DateTime<Utc>,
    definitions: HashMap<String, &'f Component<'a>>,
    resolved: HashMap<String, Tz>,
}

impl<'f, 'a> Zones<'f, 'a> {
    pub fn new(
        display: Tz,
        around: DateTime<Utc>,
        definitions: impl Iterator<Item = &'f Component<'a>>,
    ) -> Self {
        let definitions = definitions
            .filter_map(|c| Some((unquote(prop(c, "TZID")?.val.as_str()).to_owned(), c)))
            .collect();
        Self {
            display,
            around,
            definitions,
            resolved: HashMap::new(),
        }
    }

    /// The zone floating times are shown in.
    pub fn display(&self) -> Tz {
        self.display
    }

    /// The zone `tzid` means (see the module's documentation).
    pub fn resolve(&mut self, tzid: &str, warnings: &mut FeedWarnings) -> Tz {
        let tzid = unquote(tzid);
        if let Some(zone) = self.resolved.get(tzid) {
            return *zone;
        }
        let zone = self.find(tzid, warnings);
        if self.resolved.len() < 1000 {
            self.resolved.insert(tzid.to_owned(), zone);
        }
        zone
    }

    fn find(&self, tzid: &str, warnings: &mut FeedWarnings) -> Tz {
        if let Some(zone) = timezone::resolve(tzid).or_else(|| iana_suffix(tzid)) {
            return zone;
        }
        let shown = super::bounded(tzid, 80);
        let defined = self.definitions.get(tzid).and_then(|c| posix_rule(c));
        if let Some(rule) = &defined {
            if let Some(zone) = jiff::tz::TimeZone::posix(rule)
                .ok()
                .and_then(|rules| crate::zone::matching_zone(&rules, self.around))
            {
                warnings.push(
                    None,
                    format!(
                        "the time zone {shown:?} is not a known zone name; its VTIMEZONE has the rules of {}, which is used",
                        zone.name()
                    ),
                );
                return zone;
            }
        }
        if let Some(zone) = self
            .definitions
            .get(tzid)
            .and_then(|c| standard_offset(c))
            .and_then(fixed_zone)
        {
            warnings.push(
                None,
                format!(
                    "the time zone {shown:?} is not a known zone name and its VTIMEZONE matches no known zone; its standard offset ({}) is used",
                    zone.name()
                ),
            );
            return zone;
        }
        warnings.push(
            None,
            format!(
                "the time zone {shown:?} is not a known zone name{}; times in it are read in {}",
                if self.definitions.contains_key(tzid) {
                    " and its VTIMEZONE cannot be read"
                } else {
                    " and the feed does not define it"
                },
                self.display.name()
            ),
        );
        self.display
    }
}

/// TZID parameter values may be quoted.
pub(super) fn unquote(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

/// An IANA name ending a longer TZID: the last two or three `/`-separated parts.
fn iana_suffix(tzid: &str) -> Option<Tz> {
    let parts: Vec<&str> = tzid.split('/').collect();
    (2..=3.min(parts.len()))
        .rev()
        .find_map(|n| parts[parts.len() - n..].join("/").parse().ok())
}

/// An observance (`STANDARD` or `DAYLIGHT`) of a `VTIMEZONE`.
struct Observance {
    daylight: bool,
    start: NaiveDateTime,
    /// Seconds east of UTC.
    offset_to: i32,
    name: Option<String>,
    /// `Mm.w.d/time`, when it recurs yearly in a way POSIX can say.
    rule: Option<String>,
    ended: bool,
}

fn observances(vtimezone: &Component<'_>) -> Vec<Observance> {
    vtimezone
        .components
        .iter()
        .filter_map(|c| {
            let daylight = match c.name.as_str() {
                "DAYLIGHT" => true,
                "STANDARD" => false,
                _ => return None,
            };
            let start =
                match super::time::Value::parse(prop(c, "DTSTART")?.val.as_str(), false).ok()? {
                    super::time::Value::Local(at) | super::time::Value::Utc(at) => at,
                    super::time::Value::Date(d) => d.and_time(chrono::NaiveTime::MIN),
                };
            let offset_to = parse_offset(prop(c, "TZOFFSETTO")?.val.as_str())?;
            let rrule = prop(c, "RRULE").map(|p| p.val.as_str());
            Some(Observance {
                daylight,
                start,
                offset_to,
                name: prop(c, "TZNAME").map(|p| p.val.as_str().to_owned()),
                rule: rrule.and_then(|r| posix_date_rule(r, start)),
                ended: rrule.is_some_and(|r| rule_part(r, "UNTIL").is_some()),
            })
        })
        .collect()
}

/// The `VTIMEZONE` as a POSIX TZ rule (`CET-1CEST,M3.5.0/2:00:00,M10.5.0/3:00:00`): its
/// latest standard and daylight observances, or its standard time alone when daylight
/// saving time has no yearly rule (or ended).
fn posix_rule(vtimezone: &Component<'_>) -> Option<String> {
    let all = observances(vtimezone);
    let latest = |daylight: bool| {
        all.iter()
            .filter(|o| o.daylight == daylight)
            .max_by_key(|o| o.start)
    };
    let standard = latest(false).or_else(|| latest(true))?;
    let std_part = format!(
        "{}{}",
        posix_name(standard.name.as_deref(), standard.offset_to),
        posix_offset(standard.offset_to)
    );
    let daylight = if standard.daylight {
        None
    } else {
        latest(true)
    };
    match (daylight, &standard.rule) {
        (Some(dst), Some(std_rule)) if !dst.ended && !standard.ended => {
            let dst_rule = dst.rule.as_ref()?;
            Some(format!(
                "{std_part}{}{},{dst_rule},{std_rule}",
                posix_name(dst.name.as_deref(), dst.offset_to),
                posix_offset(dst.offset_to)
            ))
        }
        _ => Some(std_part),
    }
}

/// The offset of the latest standard observance (else the latest of any).
fn standard_offset(vtimezone: &Component<'_>) -> Option<i32> {
    let all = observances(vtimezone);
    all.iter()
        .filter(|o| !o.daylight)
        .max_by_key(|o| o.start)
        .or_else(|| all.iter().max_by_key(|o| o.start))
        .map(|o| o.offset_to)
}

/// `Etc/GMT-1` for +01:00: only whole hours have such a zone.
fn fixed_zone(offset: i32) -> Option<Tz> {
    if offset % 3600 != 0 {
        return None;
    }
    let hours = offset / 3600;
    let name = match hours {
        0 => "Etc/GMT".to_owned(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    name.parse().ok()
}

/// `+0100`, `-0530`, `+013000` → seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &text[1..];
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[0..2].parse().ok()?;
    let minutes: i32 = digits[2..4].parse().ok()?;
    let seconds: i32 = digits.get(4..6).map_or(Some(0), |s| s.parse().ok())?;
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// A POSIX zone abbreviation: the TZNAME when POSIX can spell it, else `<+0100>`.
fn posix_name(name: Option<&str>, offset: i32) -> String {
    match name {
        Some(n) if (3..=6).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphabetic()) => {
            n.to_owned()
        }
        _ => {
            let sign = if offset < 0 { '-' } else { '+' };
            let offset = offset.abs();
            format!("<{sign}{:02}{:02}>", offset / 3600, offset % 3600 / 60)
        }
    }
}

/// POSIX writes offsets west of UTC as positive: +01:00 is `-1:00:00`.
fn posix_offset(offset: i32) -> String {
    let sign = if offset > 0 { "-" } else { "" };
    let offset = offset.abs();
    format!(
        "{sign}{}:{:02}:{:02}",
        offset / 3600,
        offset % 3600 / 60,
        offset % 60
    )
}

/// A part (`BYMONTH`) of an RRULE value.
pub(super) fn rule_part<'r>(rrule: &'r str, name: &str) -> Option<&'r str> {
    rrule.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// A yearly observance rule as POSIX's `Mm.w.d/hh:mm:ss` (the month's w-th weekday d, 5 for
/// the last), for the forms zones use: `BYMONTH=3;BYDAY=-1SU`, `BYDAY=2SU`, and the older
/// `BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14`.
fn posix_date_rule(rrule: &str, start: NaiveDateTime) -> Option<String> {
    if !rule_part(rrule, "FREQ")?.eq_ignore_ascii_case("YEARLY") {
        return None;
    }
    if rule_part(rrule, "INTERVAL").is_some_and(|i| i != "1") {
        return None;
    }
    let month: u32 = rule_part(rrule, "BYMONTH")?.parse().ok()?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let byday = rule_part(rrule, "BYDAY")?;
    if byday.contains(',') || byday.len() < 2 || !byday.is_ascii() {
        return None;
    }
    let (ordinal, day) = byday.split_at(byday.len() - 2);
    let weekday = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]
        .iter()
        .position(|d| d.eq_ignore_ascii_case(day))?;
    let week = match ordinal.trim_start_matches('+') {
        "" => {
            let days: Vec<u32> = rule_part(rrule, "BYMONTHDAY")?
                .split(',')
                .map(|d| d.trim().parse().ok())
                .collect::<Option<_>>()?;
            let first = *days.iter().min()?;
            if days.len() != 7 {
                return None;
            }
            if first + 7 > 28 {
                5
            } else {
                first.div_ceil(7)
            }
        }
        "-1" => 5,
        n => n.parse::<u32>().ok().filter(|w| (1..=4).contains(w))?,
    };
    let time = start.time();
    Some(format!(
        "M{month}.{week}.{weekday}/{}",
        time.format("%H:%M:%S")
    ))
}

/// The `VTIMEZONE` components of a calendar.
pub(super) fn definitions<'f, 'a>(
    calendar: &'f Component<'a>,
) -> impl Iterator<Item = &'f Component<'a>> {
    calendar
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VTIMEZONE")
}

/// The `TZID` parameter of a property, unquoted.
pub(super) fn tzid<'p>(property: &'p icalendar::parser::Property<'_>) -> Option<&'p str> {
    param(property, "TZID").map(unquote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vtimezone(text: &str) -> Component<'_> {
        icalendar::parser::read_calendar_simple(text)
            .unwrap()
            .into_iter()
            .next()
            .unwrap()
    }

    #[test]
    fn an_outlook_vtimezone_becomes_a_posix_rule() {
        // Outlook's definition of "W. Europe Standard Time" (its observances start in 1601).
        let text = "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
        let c = vtimezone(text);
        assert_eq!(
            posix_rule(&c).as_deref(),
            Some("<+0100>-1:00:00<+0200>-2:00:00,M3.5.0/02:00:00,M10.5.0/03:00:00")
        );
        assert_eq!(standard_offset(&c), Some(3600));
    }

    #[test]
    fn older_and_fixed_forms() {
        assert_eq!(
            posix_date_rule(
                "FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14",
                NaiveDateTime::parse_from_str("1970-03-08 02:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
            )
            .as_deref(),
            Some("M3.2.0/02:00:00")
        );
        assert_eq!(parse_offset("-0530"), Some(-19800));
        assert_eq!(parse_offset("0100"), None);
        assert_eq!(posix_offset(-19800), "5:30:00");
        assert_eq!(fixed_zone(3600), Some(chrono_tz::Etc::GMTMinus1));
        assert_eq!(fixed_zone(1800), None);
        assert_eq!(
            iana_suffix("/mozilla.org/20050126_1/Europe/Berlin"),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            iana_suffix("/citadel.org/20190914_1/America/Argentina/Buenos_Aires"),
            Some(chrono_tz::America::Argentina::Buenos_Aires)
        );
        assert_eq!(iana_suffix("Customized Time Zone"), None);
    }
}
