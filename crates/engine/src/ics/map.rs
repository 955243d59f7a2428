//! An event's fields as the model has them: what fits of `SUMMARY`, `LOCATION`,
//! `DESCRIPTION`, `URL`, `ORGANIZER`, `ATTENDEE`, `CLASS`, `TRANSP`, `STATUS`, `CATEGORIES`,
//! `VALARM` and Outlook's `X-MICROSOFT-CDO-BUSYSTATUS`, cleaned and bounded as Graph's are.

use super::time::{Span, Value};
use super::{param, prop, props};
use crate::graph::body;
use crate::graph::event::clean_text;
use crate::links;
use crate::model::{
    Appointment, AppointmentType, OnlineMeetingProvider, Organizer, ResponseStatus, Sensitivity,
    ShowAs, When,
};
use chrono::{DateTime, Utc};
use icalendar::parser::{Component, Property};

/// The longest URL kept.
const MAX_URL: usize = 2048;
/// How much of a description is searched for a join link and meeting codes.
const MAX_SCAN: usize = 64 * 1024;
/// The most categories kept.
const MAX_CATEGORIES: usize = 20;

/// What identifies one appointment of a feed.
pub(super) struct Identity<'s> {
    pub calendar_id: &'s str,
    pub id: String,
    pub uid: &'s str,
    pub series: bool,
    pub kind: AppointmentType,
    pub original_time_zone: Option<String>,
}

/// The appointment `event` describes at `when`. `master` is the series an override belongs
/// to: what the override does not say (a producer may write only what changed) is the
/// series'.
pub(super) fn appointment(
    who: Identity<'_>,
    event: &Component<'_>,
    master: Option<&Component<'_>>,
    when: When,
) -> Appointment {
    let get = |name: &str| prop(event, name).or_else(|| master.and_then(|m| prop(m, name)));
    let text = |name: &str| get(name).map(|p| p.val.as_str());
    let description = text("DESCRIPTION").unwrap_or("");
    let location = text("LOCATION").map(clean_text).filter(|l| !l.is_empty());
    let join = [
        text("LOCATION"),
        text("X-GOOGLE-CONFERENCE"),
        text("X-MICROSOFT-SKYPETEAMSMEETINGURL"),
        text("URL"),
        Some(description),
    ]
    .into_iter()
    .flatten()
    .find_map(|t| links::find_join_link(body::head(t, MAX_SCAN)));
    let codes = body::meeting_codes(body::head(description, MAX_SCAN));
    let organizer = get("ORGANIZER")
        .map(organizer)
        .filter(|o| o.name.is_some() || o.email.is_some());
    let reminder = reminder_minutes(event).or_else(|| master.and_then(reminder_minutes));
    Appointment {
        id: who.id,
        calendar_id: who.calendar_id.to_owned(),
        ical_uid: Some(who.uid.to_owned()),
        subject: clean_text(text("SUMMARY").unwrap_or("")),
        when,
        original_time_zone: who.original_time_zone,
        show_as: show_as(
            text("X-MICROSOFT-CDO-BUSYSTATUS"),
            text("TRANSP"),
            text("STATUS"),
        ),
        // A feed is read, not answered.
        response: ResponseStatus::None,
        sensitivity: match text("CLASS").map(str::trim) {
            Some(c) if c.eq_ignore_ascii_case("PRIVATE") => Sensitivity::Private,
            Some(c) if c.eq_ignore_ascii_case("CONFIDENTIAL") => Sensitivity::Confidential,
            _ => Sensitivity::Normal,
        },
        cancelled: text("STATUS").is_some_and(|s| s.trim().eq_ignore_ascii_case("CANCELLED")),
        location,
        attendees: attendees(event, organizer.as_ref()),
        organizer,
        online_provider: join
            .as_ref()
            .and_then(|j| j.provider)
            .filter(|p| *p != OnlineMeetingProvider::Unknown),
        join_url: join.map(|j| j.url.to_string()),
        meeting_id: codes.id.map(|c| clean_text(&c)),
        meeting_passcode: codes.passcode.map(|c| clean_text(&c)),
        web_link: text("URL").and_then(web_link),
        series_master_id: who.series.then(|| who.uid.to_owned()),
        kind: who.kind,
        categories: categories(event, master),
        reminder_on: reminder.is_some(),
        reminder_minutes: reminder,
        body_preview: Some(clean_text(description)).filter(|d| !d.is_empty()),
        last_modified: get("LAST-MODIFIED").and_then(utc),
        // Feeds are read whole and swapped in; no per-event version is compared.
        change_key: None,
    }
}

/// Outlook's busy status first (it says tentative and out of office too), then `TRANSP`
/// (transparent is free: holidays, birthdays), then a tentative `STATUS`; else busy.
fn show_as(busy_status: Option<&str>, transp: Option<&str>, status: Option<&str>) -> ShowAs {
    if let Some(status) = busy_status {
        let shown = match status.trim().to_ascii_uppercase().as_str() {
            "FREE" => Some(ShowAs::Free),
            "TENTATIVE" => Some(ShowAs::Tentative),
            "BUSY" => Some(ShowAs::Busy),
            "OOF" => Some(ShowAs::Oof),
            "WORKINGELSEWHERE" => Some(ShowAs::WorkingElsewhere),
            _ => None,
        };
        if let Some(shown) = shown {
            return shown;
        }
    }
    if transp.is_some_and(|t| t.trim().eq_ignore_ascii_case("TRANSPARENT")) {
        return ShowAs::Free;
    }
    if status.is_some_and(|s| s.trim().eq_ignore_ascii_case("TENTATIVE")) {
        return ShowAs::Tentative;
    }
    ShowAs::Busy
}

/// `ORGANIZER;CN=Name:mailto:someone@example.com`.
fn organizer(property: &Property<'_>) -> Organizer {
    Organizer {
        name: param(property, "CN")
            .map(|n| clean_text(super::zones::unquote(n)))
            .filter(|n| !n.is_empty()),
        email: address(property.val.as_str()),
    }
}

fn address(value: &str) -> Option<String> {
    let value = value.trim();
    let address = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &value[7..],
        _ => value,
    };
    Some(clean_text(address)).filter(|a| a.contains('@') && a.len() <= 320 && !a.contains(' '))
}

/// Attendees besides the organizer, rooms and resources not counted; `None` when the event
/// names none (public feeds leave them out).
fn attendees(event: &Component<'_>, organizer: Option<&Organizer>) -> Option<u32> {
    let organizer = organizer.and_then(|o| o.email.as_deref());
    let mut any = false;
    let mut count: u32 = 0;
    for attendee in props(event, "ATTENDEE") {
        any = true;
        let is_resource = param(attendee, "CUTYPE")
            .is_some_and(|t| t.eq_ignore_ascii_case("RESOURCE") || t.eq_ignore_ascii_case("ROOM"));
        let email = address(attendee.val.as_str());
        let is_organizer = organizer.is_some()
            && email
                .as_deref()
                .zip(organizer)
                .is_some_and(|(a, o)| a.eq_ignore_ascii_case(o));
        if !is_resource && !is_organizer {
            count = count.saturating_add(1);
        }
    }
    any.then_some(count)
}

/// The event's link: an http(s) URL, bounded.
fn web_link(value: &str) -> Option<String> {
    let value = value.trim();
    if value.len() > MAX_URL {
        return None;
    }
    let url = url::Url::parse(value).ok()?;
    matches!(url.scheme(), "https" | "http").then(|| url.to_string())
}

/// `CATEGORIES` (several properties, each a comma-separated list).
fn categories(event: &Component<'_>, master: Option<&Component<'_>>) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    let own = props(event, "CATEGORIES").next().is_some();
    let source = if own { Some(event) } else { master };
    for property in source.into_iter().flat_map(|c| props(c, "CATEGORIES")) {
        for item in split_list(property.val.as_str()) {
            let item = clean_text(&item);
            if !item.is_empty() && !list.contains(&item) && list.len() < MAX_CATEGORIES {
                list.push(item);
            }
        }
    }
    list
}

/// A comma-separated TEXT list, `\,` and the other escapes of RFC 5545 §3.3.11 undone.
fn split_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n' | 'N') => item.push(' '),
                Some(other) => item.push(other),
                None => {}
            },
            ',' => items.push(std::mem::take(&mut item)),
            c => item.push(c),
        }
    }
    items.push(item);
    items
}

/// Minutes before the start of the first alarm that is a duration before the start
/// (`TRIGGER:-PT15M`); alarms relative to the end or at a fixed time are not reminders here.
fn reminder_minutes(event: &Component<'_>) -> Option<u32> {
    event
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VALARM")
        .find_map(|alarm| {
            let trigger = prop(alarm, "TRIGGER")?;
            if param(trigger, "RELATED").is_some_and(|r| r.eq_ignore_ascii_case("END"))
                || param(trigger, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"))
            {
                return None;
            }
            let span = Span::parse(trigger.val.as_str()).ok()?;
            let seconds = span.days * 86_400 + span.seconds;
            if seconds > 0 {
                return None;
            }
            u32::try_from(-seconds / 60).ok()
        })
}

/// A UTC date-time value (`LAST-MODIFIED`).
fn utc(property: &Property<'_>) -> Option<DateTime<Utc>> {
    match Value::parse(property.val.as_str(), false).ok()? {
        Value::Utc(at) => Some(at.and_utc()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_as_reads_outlook_then_transparency_then_status() {
        assert_eq!(show_as(Some("OOF"), Some("OPAQUE"), None), ShowAs::Oof);
        assert_eq!(
            show_as(Some("odd"), Some("TRANSPARENT"), None),
            ShowAs::Free
        );
        assert_eq!(show_as(None, None, Some("TENTATIVE")), ShowAs::Tentative);
        assert_eq!(
            show_as(None, Some("OPAQUE"), Some("CONFIRMED")),
            ShowAs::Busy
        );
    }

    #[test]
    fn lists_and_addresses() {
        assert_eq!(split_list("a\\, b,c,,d\\nx"), vec!["a, b", "c", "", "d x"]);
        assert_eq!(
            address("MAILTO:Ann@Example.com"),
            Some("Ann@Example.com".into())
        );
        assert_eq!(address("urn:uuid:1234"), None);
        assert_eq!(web_link("javascript:alert(1)"), None);
        assert_eq!(
            web_link(" https://example.com/e/1 "),
            Some("https://example.com/e/1".into())
        );
    }
}
