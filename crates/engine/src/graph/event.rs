//! Graph `event` and `calendar` resources.

use crate::error::Error;
use crate::graph::timezone;
use crate::model::{
    Appointment, AppointmentType, Calendar, OnlineMeetingProvider, Organizer, ResponseStatus,
    Sensitivity, ShowAs, When,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use std::borrow::Cow;

/// Longest subject, location or preview kept; longer values are cut, never rejected.
pub const MAX_TEXT_CHARS: usize = 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphDateTime {
    date_time: String,
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphEmailAddress {
    name: Option<String>,
    address: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphRecipient {
    email_address: Option<GraphEmailAddress>,
}

/// An attendee, read only as far as counting needs: its type and address, borrowed from
/// the page (no allocation unless the address holds a JSON escape).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphAttendee<'a> {
    #[serde(rename = "type")]
    kind: Option<AttendeeType>,
    #[serde(borrow)]
    email_address: Option<GraphAttendeeAddress<'a>>,
}

#[derive(Debug, Deserialize)]
struct GraphAttendeeAddress<'a> {
    #[serde(borrow)]
    address: Option<Cow<'a, str>>,
}

/// `required`, `optional` or `resource` (a room or equipment, not a person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum AttendeeType {
    Resource,
    #[serde(other)]
    Person,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphLocation {
    display_name: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphResponse {
    response: Option<ResponseStatus>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphOnlineMeeting {
    join_url: Option<String>,
}

/// The subset of Graph's `event` the product uses. Everything optional that Graph
/// may leave out is optional here; unknown fields are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphEvent<'a> {
    id: String,
    /// Set on removals in delta answers (`{"id": …, "@removed": {"reason": …}}`).
    #[serde(rename = "@removed")]
    removed: Option<serde::de::IgnoredAny>,
    #[serde(rename = "iCalUId")]
    ical_uid: Option<String>,
    subject: Option<String>,
    body_preview: Option<String>,
    start: Option<GraphDateTime>,
    end: Option<GraphDateTime>,
    #[serde(default)]
    is_all_day: bool,
    #[serde(default)]
    is_cancelled: bool,
    show_as: Option<ShowAs>,
    #[serde(rename = "type")]
    kind: Option<AppointmentType>,
    series_master_id: Option<String>,
    sensitivity: Option<Sensitivity>,
    response_status: Option<GraphResponse>,
    #[serde(default)]
    is_reminder_on: bool,
    reminder_minutes_before_start: Option<i64>,
    location: Option<GraphLocation>,
    organizer: Option<GraphRecipient>,
    #[serde(borrow)]
    attendees: Option<Vec<GraphAttendee<'a>>>,
    online_meeting: Option<GraphOnlineMeeting>,
    online_meeting_provider: Option<OnlineMeetingProvider>,
    online_meeting_url: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    web_link: Option<String>,
    last_modified_date_time: Option<DateTime<Utc>>,
    original_start_time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphCalendar {
    id: String,
    name: Option<String>,
    hex_color: Option<String>,
    /// Absent in Microsoft's own `/me/calendars` example: unknown, not "not the default"
    /// (the sync asks `GET /me/calendar` when no calendar says it is the default).
    is_default_calendar: Option<bool>,
    #[serde(default)]
    can_edit: bool,
}

/// One entry of a calendarView (delta) page: an event, or a removal.
#[derive(Debug, Clone, PartialEq)]
pub enum EventChange {
    Upsert(Box<Appointment>),
    Removed { id: String },
}

/// A page of a calendarView or calendarView delta answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CalendarView {
    pub changes: Vec<EventChange>,
    /// Items on the page that could not be mapped, with the reason; the rest of the page stands.
    pub rejected: Vec<(Option<String>, String)>,
    pub next_link: Option<String>,
    pub delta_link: Option<String>,
}

impl CalendarView {
    /// Parses a page of `calendarView` or `calendarView/delta` for the calendar `calendar_id`.
    pub fn parse(calendar_id: &str, body: &[u8]) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Page<'a> {
            // Items stay raw until mapped one by one: a bad item is rejected alone.
            #[serde(borrow, default)]
            value: Vec<&'a serde_json::value::RawValue>,
            #[serde(rename = "@odata.nextLink")]
            next_link: Option<String>,
            #[serde(rename = "@odata.deltaLink")]
            delta_link: Option<String>,
        }
        let page: Page<'_> = serde_json::from_slice(body)
            .map_err(|e| Error::MalformedResponse(format!("calendar page: {e}")))?;
        let mut view = CalendarView {
            changes: Vec::with_capacity(page.value.len()),
            next_link: page.next_link,
            delta_link: page.delta_link,
            ..Default::default()
        };
        for raw in page.value {
            match serde_json::from_str::<GraphEvent>(raw.get()) {
                Ok(ev) if ev.removed.is_some() => {
                    view.changes.push(EventChange::Removed { id: ev.id })
                }
                Ok(ev) => {
                    let id = ev.id.clone();
                    match map_event(calendar_id, ev) {
                        Ok(appt) => view.changes.push(EventChange::Upsert(Box::new(appt))),
                        Err(e) => view.rejected.push((Some(id), e.to_string())),
                    }
                }
                Err(e) => {
                    // Name the item if its id can still be read.
                    #[derive(Deserialize)]
                    struct Id {
                        id: Option<String>,
                    }
                    let id = serde_json::from_str::<Id>(raw.get())
                        .ok()
                        .and_then(|i| i.id);
                    view.rejected.push((id, format!("event: {e}")));
                }
            }
        }
        Ok(view)
    }
}

/// Maps one Graph `event` JSON object to an [`Appointment`] of calendar `calendar_id`.
pub fn parse_event(calendar_id: &str, json: serde_json::Value) -> Result<Appointment, Error> {
    let ev = GraphEvent::deserialize(&json)
        .map_err(|e| Error::MalformedResponse(format!("event: {e}")))?;
    map_event(calendar_id, ev)
}

/// The attendees besides the organizer: resources (rooms, equipment) are not people, and
/// the organizer, when listed among the attendees, is not counted twice. `None` when the
/// event has no `attendees` at all.
fn count_attendees(
    attendees: Option<&[GraphAttendee<'_>]>,
    organizer: Option<&str>,
) -> Option<u32> {
    let organizer = organizer.map(str::trim).filter(|o| !o.is_empty());
    let count = attendees?
        .iter()
        .filter(|a| a.kind != Some(AttendeeType::Resource))
        .filter(|a| {
            let address = a
                .email_address
                .as_ref()
                .and_then(|e| e.address.as_deref())
                .map(str::trim);
            match (address, organizer) {
                (Some(address), Some(organizer)) => !address.eq_ignore_ascii_case(organizer),
                _ => true,
            }
        })
        .count();
    Some(u32::try_from(count).unwrap_or(u32::MAX))
}

fn map_event(calendar_id: &str, ev: GraphEvent<'_>) -> Result<Appointment, Error> {
    let (Some(start), Some(end)) = (&ev.start, &ev.end) else {
        return Err(Error::MalformedResponse(
            "event: missing start or end".into(),
        ));
    };
    let when = if ev.is_all_day {
        let start = parse_local(&start.date_time)?.date();
        let mut end = parse_local(&end.date_time)?.date();
        if end <= start {
            // A zero-length all-day event still occupies its day.
            end = start.succ_opt().unwrap_or(start);
        }
        When::AllDay { start, end }
    } else {
        let start = to_utc(start)?;
        let mut end = to_utc(end)?;
        if end < start {
            end = start;
        }
        When::Timed { start, end }
    };
    let join_url = ev
        .online_meeting
        .and_then(|m| m.join_url)
        .or(ev.online_meeting_url)
        .filter(|u| !u.is_empty());
    let attendees = count_attendees(
        ev.attendees.as_deref(),
        ev.organizer
            .as_ref()
            .and_then(|r| r.email_address.as_ref())
            .and_then(|a| a.address.as_deref()),
    );
    let organizer = ev
        .organizer
        .and_then(|r| r.email_address)
        .map(|a| Organizer {
            name: a.name.map(|n| clean_text(&n)),
            email: a.address,
        });
    Ok(Appointment {
        id: ev.id,
        calendar_id: calendar_id.to_owned(),
        ical_uid: ev.ical_uid,
        subject: clean_text(ev.subject.as_deref().unwrap_or("")),
        when,
        original_time_zone: ev.original_start_time_zone,
        show_as: ev.show_as.unwrap_or_default(),
        response: ev
            .response_status
            .and_then(|r| r.response)
            .unwrap_or_default(),
        sensitivity: ev.sensitivity.unwrap_or(Sensitivity::Normal),
        cancelled: ev.is_cancelled,
        location: ev
            .location
            .and_then(|l| l.display_name)
            .map(|l| clean_text(&l))
            .filter(|l| !l.is_empty()),
        organizer,
        attendees,
        join_url,
        online_provider: ev
            .online_meeting_provider
            .filter(|p| *p != OnlineMeetingProvider::Unknown),
        web_link: ev.web_link,
        series_master_id: ev.series_master_id,
        kind: ev.kind.unwrap_or(AppointmentType::SingleInstance),
        categories: ev.categories.iter().map(|c| clean_text(c)).collect(),
        reminder_on: ev.is_reminder_on,
        reminder_minutes: if ev.is_reminder_on {
            ev.reminder_minutes_before_start
                .and_then(|m| u32::try_from(m).ok())
        } else {
            None
        },
        body_preview: ev
            .body_preview
            .map(|b| clean_text(&b))
            .filter(|b| !b.is_empty()),
        last_modified: ev.last_modified_date_time,
    })
}

/// Maps a Graph `calendar`.
pub fn parse_calendar(json: serde_json::Value) -> Result<Calendar, Error> {
    let cal: GraphCalendar = serde_json::from_value(json)
        .map_err(|e| Error::MalformedResponse(format!("calendar: {e}")))?;
    Ok(Calendar {
        name: clean_text(cal.name.as_deref().unwrap_or("Calendar")),
        id: cal.id,
        color: cal.hex_color.filter(|c| is_hex_color(c)),
        is_default: cal.is_default_calendar.unwrap_or(false),
        can_edit: cal.can_edit,
    })
}

fn is_hex_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

/// Graph writes `2026-11-24T09:00:00.0000000` (seven fractional digits, no offset).
fn parse_local(text: &str) -> Result<NaiveDateTime, Error> {
    text.parse::<NaiveDateTime>()
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| Error::MalformedResponse(format!("unreadable dateTime {text:?}")))
}

fn to_utc(dt: &GraphDateTime) -> Result<DateTime<Utc>, Error> {
    let local = parse_local(&dt.date_time)?;
    let zone_name = dt.time_zone.as_deref().unwrap_or("UTC");
    let tz = timezone::resolve(zone_name)
        .ok_or_else(|| Error::MalformedResponse(format!("unknown time zone {zone_name:?}")))?;
    // In a DST gap the wall time does not exist: take the instant just after the gap,
    // as Outlook does. In an overlap, take the earlier instant.
    let resolved = match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t,
        chrono::LocalResult::Ambiguous(a, _) => a,
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .ok_or_else(|| Error::MalformedResponse(format!("nonexistent time {local}")))?,
    };
    Ok(resolved.with_timezone(&Utc))
}

/// Makes a server-supplied string safe to store and show: control characters and bidi
/// overrides removed, whitespace collapsed, and cut past [`MAX_TEXT_CHARS`].
pub fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_CHARS * 4));
    let mut count = 0;
    let mut last_space = false;
    for ch in text.chars() {
        let is_bidi_control = matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
        if is_bidi_control {
            continue;
        }
        let ch = if ch.is_control() || ch.is_whitespace() {
            ' '
        } else {
            ch
        };
        if ch == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        if count == MAX_TEXT_CHARS {
            out.push('…');
            break;
        }
        out.push(ch);
        count += 1;
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "@odata.etag": "W/\"abc\"",
            "id": "AAMkAGI1AAAt9AHjAAA=",
            "iCalUId": "040000008200E00074C5B7101A82E008",
            "subject": "Weekly sync",
            "bodyPreview": "Agenda:\r\n1. Roadmap",
            "start": {"dateTime": "2026-11-24T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-24T09:30:00.0000000", "timeZone": "UTC"},
            "isAllDay": false,
            "isCancelled": false,
            "showAs": "busy",
            "type": "occurrence",
            "seriesMasterId": "AAMkSERIES",
            "sensitivity": "normal",
            "responseStatus": {"response": "accepted", "time": "2026-11-01T10:00:00Z"},
            "isReminderOn": true,
            "reminderMinutesBeforeStart": 15,
            "location": {"displayName": "Room 4.12"},
            "organizer": {"emailAddress": {"name": "Dana Fischer", "address": "dana@contoso.com"}},
            "onlineMeeting": {"joinUrl": "https://teams.microsoft.com/l/meetup-join/19%3a1"},
            "onlineMeetingProvider": "teamsForBusiness",
            "categories": ["Blue category"],
            "webLink": "https://outlook.office365.com/owa/?itemid=AAMk",
            "lastModifiedDateTime": "2026-11-20T08:00:00Z",
            "originalStartTimeZone": "W. Europe Standard Time",
            "someFieldFromTheFuture": {"x": 1}
        })
    }

    #[test]
    fn maps_every_field_of_a_graph_event() {
        let a = parse_event("cal1", sample()).unwrap();
        assert_eq!(a.id, "AAMkAGI1AAAt9AHjAAA=");
        assert_eq!(a.calendar_id, "cal1");
        assert_eq!(a.subject, "Weekly sync");
        assert_eq!(
            a.when,
            When::Timed {
                start: Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
                end: Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap(),
            }
        );
        assert_eq!(a.show_as, ShowAs::Busy);
        assert_eq!(a.kind, AppointmentType::Occurrence);
        assert_eq!(a.response, ResponseStatus::Accepted);
        assert_eq!(a.reminder_minutes, Some(15));
        assert_eq!(a.location.as_deref(), Some("Room 4.12"));
        assert_eq!(
            a.join_url.as_deref(),
            Some("https://teams.microsoft.com/l/meetup-join/19%3a1")
        );
        assert_eq!(
            a.online_provider,
            Some(OnlineMeetingProvider::TeamsForBusiness)
        );
        assert_eq!(a.series_master_id.as_deref(), Some("AAMkSERIES"));
        assert_eq!(
            a.organizer.unwrap().email.as_deref(),
            Some("dana@contoso.com")
        );
        assert_eq!(
            a.original_time_zone.as_deref(),
            Some("W. Europe Standard Time")
        );
        assert_eq!(a.body_preview.as_deref(), Some("Agenda: 1. Roadmap"));
        assert_eq!(a.categories, vec!["Blue category".to_owned()]);
    }

    #[test]
    fn unknown_enum_values_do_not_fail_the_event() {
        let mut ev = sample();
        ev["showAs"] = json!("quantumBusy");
        ev["type"] = json!("hologram");
        ev["sensitivity"] = json!("topSecret");
        ev["responseStatus"]["response"] = json!("maybe");
        ev["onlineMeetingProvider"] = json!("zoomPlus");
        let a = parse_event("cal1", ev).unwrap();
        assert_eq!(a.show_as, ShowAs::Unknown);
        assert_eq!(a.kind, AppointmentType::Unknown);
        assert_eq!(a.sensitivity, Sensitivity::Unknown);
        assert_eq!(a.response, ResponseStatus::Unknown);
        assert_eq!(a.online_provider, None);
    }

    #[test]
    fn all_day_event_keeps_its_local_dates() {
        let mut ev = sample();
        ev["isAllDay"] = json!(true);
        ev["start"] = json!({"dateTime": "2026-03-29T00:00:00.0000000", "timeZone": "UTC"});
        ev["end"] = json!({"dateTime": "2026-03-30T00:00:00.0000000", "timeZone": "UTC"});
        let a = parse_event("cal1", ev).unwrap();
        assert_eq!(
            a.when,
            When::AllDay {
                start: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
                end: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
            }
        );
    }

    #[test]
    fn non_utc_zones_are_converted_to_utc_instants() {
        let mut ev = sample();
        ev["start"] = json!({"dateTime": "2026-07-01T09:00:00.0000000", "timeZone": "W. Europe Standard Time"});
        ev["end"] = json!({"dateTime": "2026-07-01T10:00:00", "timeZone": "Europe/Berlin"});
        let a = parse_event("cal1", ev).unwrap();
        assert_eq!(
            a.when,
            When::Timed {
                start: Utc.with_ymd_and_hms(2026, 7, 1, 7, 0, 0).unwrap(),
                end: Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap(),
            }
        );
    }

    #[test]
    fn missing_required_fields_are_an_error_for_that_event_only() {
        let mut bad = sample();
        bad.as_object_mut().unwrap().remove("start");
        let body = json!({"value": [bad, sample(), {"id": "gone", "@removed": {"reason": "deleted"}}],
                          "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/calendarView/delta?$skiptoken=x"});
        let page = CalendarView::parse("cal1", body.to_string().as_bytes()).unwrap();
        assert_eq!(page.changes.len(), 2);
        assert_eq!(page.rejected.len(), 1);
        assert_eq!(page.rejected[0].0.as_deref(), Some("AAMkAGI1AAAt9AHjAAA="));
        assert!(matches!(&page.changes[1], EventChange::Removed { id } if id == "gone"));
        assert!(page.next_link.is_some() && page.delta_link.is_none());
    }

    fn attendee(kind: &str, name: &str, address: &str) -> serde_json::Value {
        json!({
            "type": kind,
            "status": {"response": "accepted", "time": "2026-11-01T10:00:00Z"},
            "emailAddress": {"name": name, "address": address}
        })
    }

    #[test]
    fn attendees_are_counted_without_the_organizer_and_resources() {
        let mut ev = sample();
        ev["attendees"] = json!([
            // The organizer listed among the attendees (in another case) is not counted.
            attendee("required", "Dana Fischer", "Dana@Contoso.com"),
            attendee("required", "Lee Park", "lee@contoso.com"),
            attendee("optional", "Sam Ito", "sam@contoso.com"),
            attendee("resource", "Room 4.12", "room412@contoso.com"),
            // Types Graph may add later are people; an attendee without address counts.
            attendee("spectator", "Kim", "kim@contoso.com"),
            {"type": "required", "emailAddress": {"name": "No address"}},
        ]);
        let a = parse_event("cal1", ev.clone()).unwrap();
        assert_eq!(a.attendees, Some(4));
        // Without an organizer every person counts.
        ev.as_object_mut().unwrap().remove("organizer");
        assert_eq!(parse_event("cal1", ev).unwrap().attendees, Some(5));
    }

    #[test]
    fn missing_attendees_are_unknown_and_an_empty_list_is_zero() {
        let a = parse_event("cal1", sample()).unwrap();
        assert_eq!(a.attendees, None);
        let mut ev = sample();
        ev["attendees"] = json!(null);
        assert_eq!(parse_event("cal1", ev.clone()).unwrap().attendees, None);
        ev["attendees"] = json!([]);
        assert_eq!(parse_event("cal1", ev.clone()).unwrap().attendees, Some(0));
        // Only the organizer and a room: nobody else.
        ev["attendees"] = json!([
            attendee("required", "Dana Fischer", "dana@contoso.com"),
            attendee("resource", "Room", "room@contoso.com"),
        ]);
        assert_eq!(parse_event("cal1", ev).unwrap().attendees, Some(0));
    }

    #[test]
    fn attendees_are_counted_on_pages_escaped_addresses_included() {
        // The organizer's address spelt with a JSON escape (read into an owned string).
        let mut event = sample().to_string();
        event.pop();
        event.push_str(
            r#","attendees":[
                {"type":"required","emailAddress":{"address":"dana\u0040contoso.com"}},
                {"type":"required","emailAddress":{"name":"Lee \"Q\" Park","address":"lee@contoso.com"}},
                {"type":null,"emailAddress":null}
            ]}"#,
        );
        let body = format!("{{\"value\":[{event}]}}");
        let page = CalendarView::parse("cal1", body.as_bytes()).unwrap();
        assert!(page.rejected.is_empty(), "{page:?}");
        let EventChange::Upsert(a) = &page.changes[0] else {
            panic!("{page:?}")
        };
        assert_eq!(a.attendees, Some(2));
    }

    #[test]
    fn truncated_json_is_a_clear_error() {
        let err = CalendarView::parse("cal1", b"{\"value\": [{\"id\": ").unwrap_err();
        assert!(matches!(err, Error::MalformedResponse(_)), "{err}");
    }

    #[test]
    fn hostile_text_is_cleaned_and_bounded() {
        let mut ev = sample();
        ev["subject"] = json!(format!("\u{202E}evil\u{0007}\n{}", "x".repeat(300_000)));
        let a = parse_event("cal1", ev).unwrap();
        assert!(a.subject.starts_with("evil x"));
        assert_eq!(a.subject.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(a.subject.ends_with('…'));
    }
}
