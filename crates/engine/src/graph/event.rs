//! Graph `event` and `calendar` resources.

use crate::error::Error;
use crate::graph::{body, timezone};
use crate::links::{self, JoinLink};
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

/// `required`, `optional` or `resource` (a room or equipment, not a person), in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttendeeType {
    Resource,
    Person,
}

impl<'de> Deserialize<'de> for AttendeeType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(if text.eq_ignore_ascii_case("resource") {
            AttendeeType::Resource
        } else {
            AttendeeType::Person
        })
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphLocation {
    display_name: Option<String>,
    /// A URI for the place; an online meeting's link, sometimes.
    location_uri: Option<String>,
}

/// `itemBody`: read while parsing (the join link, the meeting ID and passcode), never kept.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphBody<'a> {
    #[serde(borrow)]
    content_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

impl GraphBody<'_> {
    /// HTML unless it says `text` (Graph's default is HTML).
    fn is_html(&self) -> bool {
        !self
            .content_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("text"))
    }

    /// The body as text when it may give a meeting ID or passcode, bounded: HTML stripped
    /// of its markup.
    fn text_with_meeting_codes(&self) -> Option<Cow<'_, str>> {
        let content = body::head(self.content.as_deref()?, body::MAX_BODY_SCAN_BYTES);
        if !body::may_hold_meeting_codes(content) {
            return None;
        }
        Some(if self.is_html() {
            Cow::Owned(body::html_to_text(content))
        } else {
            Cow::Borrowed(content)
        })
    }
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
/// may leave out is optional here, and `null` means the same as left out (Microsoft's own
/// examples leave out most fields); unknown fields are ignored.
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
    #[serde(borrow)]
    body: Option<GraphBody<'a>>,
    start: Option<GraphDateTime>,
    end: Option<GraphDateTime>,
    is_all_day: Option<bool>,
    is_cancelled: Option<bool>,
    show_as: Option<ShowAs>,
    #[serde(rename = "type")]
    kind: Option<AppointmentType>,
    series_master_id: Option<String>,
    sensitivity: Option<Sensitivity>,
    response_status: Option<GraphResponse>,
    is_reminder_on: Option<bool>,
    reminder_minutes_before_start: Option<i64>,
    location: Option<GraphLocation>,
    locations: Option<Vec<GraphLocation>>,
    organizer: Option<GraphRecipient>,
    #[serde(borrow)]
    attendees: Option<Vec<GraphAttendee<'a>>>,
    online_meeting: Option<GraphOnlineMeeting>,
    online_meeting_provider: Option<OnlineMeetingProvider>,
    online_meeting_url: Option<String>,
    categories: Option<Vec<String>>,
    web_link: Option<String>,
    /// Read as text: a value that is no instant means "not said", not a bad event.
    #[serde(borrow)]
    last_modified_date_time: Option<Cow<'a, str>>,
    original_start_time_zone: Option<String>,
    #[serde(borrow)]
    change_key: Option<Cow<'a, str>>,
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
    Removed {
        id: String,
    },
    /// An item whose version the store already holds (only from
    /// [`CalendarView::parse_known`]): its row stands as it is.
    Unchanged {
        id: String,
    },
}

/// Bumped whenever [`map_event`] reads an event differently (a field added, a link found
/// elsewhere): stored versions from an older mapping then no longer match, and a full round
/// reads those events again instead of keeping rows an older build made.
const MAPPING_VERSION: &str = "m1";

/// The version stored with an event read from Graph: its `changeKey` under
/// [`MAPPING_VERSION`]. `None` for a key too long to be one (it is compared, never shown).
pub fn versioned_change_key(change_key: &str) -> Option<String> {
    (!change_key.is_empty() && change_key.len() <= 256)
        .then(|| format!("{MAPPING_VERSION}:{change_key}"))
}

/// The versions the store holds for a calendar's events, by id (see
/// [`CalendarView::parse_known`]).
pub type KnownVersions = std::collections::HashMap<String, String>;

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
        Self::parse_known(calendar_id, body, None)
    }

    /// [`CalendarView::parse`], except that an item whose id and `changeKey` match `known`
    /// (what the store holds) is not read further and comes back as
    /// [`EventChange::Unchanged`]: a full round right after a first sync's fill brings back
    /// every event the fill just stored, and reading each again cost as much as storing it.
    pub fn parse_known(
        calendar_id: &str,
        body: &[u8],
        known: Option<&KnownVersions>,
    ) -> Result<Self, Error> {
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
            if let Some(id) = known.and_then(|known| unchanged(known, raw.get())) {
                view.changes.push(EventChange::Unchanged { id });
                continue;
            }
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

/// The item's id when it is an event (not a removal) whose version `known` holds.
fn unchanged(known: &KnownVersions, raw: &str) -> Option<String> {
    // Only these three fields are read; serde skips the rest of the item without building it.
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(rename = "changeKey", borrow)]
        change_key: Option<Cow<'a, str>>,
        #[serde(rename = "@removed")]
        removed: Option<serde::de::IgnoredAny>,
    }
    let head: Head<'_> = serde_json::from_str(raw).ok()?;
    if head.removed.is_some() {
        return None;
    }
    let stored = known.get(head.id.as_ref())?;
    let change_key = head.change_key?;
    // The stored form is `{MAPPING_VERSION}:{changeKey}`; compared without building it.
    let same = stored
        .strip_prefix(MAPPING_VERSION)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|key| key == change_key.as_ref());
    same.then(|| head.id.into_owned())
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
    let reminder_on = ev.is_reminder_on.unwrap_or(false);
    let (Some(start), Some(end)) = (&ev.start, &ev.end) else {
        return Err(Error::MalformedResponse(
            "event: missing start or end".into(),
        ));
    };
    let when = if ev.is_all_day.unwrap_or(false) {
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
    let join = join_link(&ev);
    // The invitation's codes: from the body, or the preview when the body was not sent.
    let codes = match &ev.body {
        Some(body) => body
            .text_with_meeting_codes()
            .map(|text| body::meeting_codes(&text))
            .unwrap_or_default(),
        None => body::meeting_codes(ev.body_preview.as_deref().unwrap_or("")),
    };
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
        cancelled: ev.is_cancelled.unwrap_or(false),
        location: ev
            .location
            .and_then(|l| l.display_name)
            .map(|l| clean_text(&l))
            .filter(|l| !l.is_empty()),
        organizer,
        attendees,
        // The link's own service first: Graph's provider describes its onlineMeeting, and
        // says `unknown` for a Zoom link in the body.
        online_provider: join
            .as_ref()
            .and_then(|j| j.provider)
            .or(ev.online_meeting_provider)
            .filter(|p| *p != OnlineMeetingProvider::Unknown),
        join_url: join.map(|j| j.url.to_string()),
        meeting_id: codes.id.map(|c| clean_text(&c)),
        meeting_passcode: codes.passcode.map(|c| clean_text(&c)),
        web_link: ev.web_link,
        change_key: ev.change_key.as_deref().and_then(versioned_change_key),
        series_master_id: ev.series_master_id,
        kind: ev.kind.unwrap_or(AppointmentType::SingleInstance),
        categories: ev
            .categories
            .unwrap_or_default()
            .iter()
            .map(|c| clean_text(c))
            .collect(),
        reminder_on,
        reminder_minutes: if reminder_on {
            ev.reminder_minutes_before_start
                .and_then(|m| u32::try_from(m).ok())
        } else {
            None
        },
        body_preview: ev
            .body_preview
            .map(|b| clean_text(body::without_teams_invitation(&b)))
            .filter(|b| !b.is_empty()),
        last_modified: ev
            .last_modified_date_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
    })
}

/// The meeting's join link: Graph's `onlineMeeting.joinUrl` first, then `onlineMeetingUrl`,
/// then a meeting link in the location, the other locations, the body, the body preview.
fn join_link(ev: &GraphEvent<'_>) -> Option<JoinLink> {
    let from_graph = ev
        .online_meeting
        .as_ref()
        .and_then(|m| m.join_url.as_deref())
        .into_iter()
        .chain(ev.online_meeting_url.as_deref())
        .find_map(links::meeting_join_link);
    if from_graph.is_some() {
        return from_graph;
    }
    let places = ev
        .location
        .iter()
        .chain(ev.locations.iter().flatten())
        .flat_map(|l| [l.location_uri.as_deref(), l.display_name.as_deref()])
        .flatten();
    // The body as sent (in HTML, links live in attributes its text drops; links written
    // out as text are there too), then the preview.
    let raw_body = ev.body.as_ref().and_then(|b| b.content.as_deref());
    places
        .chain(raw_body)
        .chain(ev.body_preview.as_deref())
        .find_map(links::find_join_link)
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
    fn a_full_round_reads_only_events_whose_version_the_store_lacks() {
        let event = |id: &str, change_key: Option<&str>, subject: &str| {
            let mut ev = sample();
            ev["id"] = json!(id);
            ev["subject"] = json!(subject);
            match change_key {
                Some(k) => ev["changeKey"] = json!(k),
                None => drop(ev.as_object_mut().unwrap().remove("changeKey")),
            }
            ev
        };
        let page = json!({"value": [
            event("same", Some("K1"), "Kept"),
            event("edited", Some("K3"), "Edited"),
            event("new", Some("K1"), "New"),
            event("no-version", None, "Read"),
            event("old-mapping", Some("K1"), "Read again"),
            {"id": "same-removed", "@removed": {"reason": "deleted"}},
            {"id": "bad", "changeKey": "K9", "start": "not an object"},
        ]});
        let known: KnownVersions = [
            ("same", "m1:K1"),
            ("edited", "m1:K2"),
            ("no-version", "m1:K1"),
            ("old-mapping", "m0:K1"),
            ("same-removed", "m1:K1"),
            ("bad", "m1:K9"),
        ]
        .into_iter()
        .map(|(id, v)| (id.to_owned(), v.to_owned()))
        .collect();
        let body = serde_json::to_vec(&page).unwrap();
        let view = CalendarView::parse_known("cal1", &body, Some(&known)).unwrap();
        let summary: Vec<String> = view
            .changes
            .iter()
            .map(|c| match c {
                EventChange::Upsert(a) => {
                    format!("upsert {} {} {:?}", a.id, a.subject, a.change_key)
                }
                EventChange::Removed { id } => format!("removed {id}"),
                EventChange::Unchanged { id } => format!("unchanged {id}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "unchanged same",
                "upsert edited Edited Some(\"m1:K3\")",
                "upsert new New Some(\"m1:K1\")",
                "upsert no-version Read None",
                "upsert old-mapping Read again Some(\"m1:K1\")",
                "removed same-removed",
                // Its version is the stored one: the event did not change, so the stored
                // row stands (read whole, this copy would be rejected and the row lost).
                "unchanged bad",
            ]
        );
        // Without the stored versions every item is read, the bad one rejected.
        let plain = CalendarView::parse("cal1", &body).unwrap();
        assert!(plain
            .changes
            .iter()
            .all(|c| !matches!(c, EventChange::Unchanged { .. })));
        assert_eq!(plain.rejected.len(), 1);
        // A version that cannot be one is not stored.
        assert_eq!(versioned_change_key(&"x".repeat(300)), None);
        assert_eq!(versioned_change_key(""), None);
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
        // (Without a join link, whose own service would name the provider.)
        ev.as_object_mut().unwrap().remove("onlineMeeting");
        let a = parse_event("cal1", ev).unwrap();
        assert_eq!(a.show_as, ShowAs::Unknown);
        assert_eq!(a.kind, AppointmentType::Unknown);
        assert_eq!(a.sensitivity, Sensitivity::Unknown);
        assert_eq!(a.response, ResponseStatus::Unknown);
        assert_eq!(a.online_provider, None);
    }

    #[test]
    fn enum_values_in_another_case_are_understood() {
        // Graph does not always write camelCase (its own examples show "Scheduled" beside
        // "alwaysEnabled"): every enum of an event is matched without case.
        let mut ev = sample();
        ev["showAs"] = json!("Busy");
        ev["type"] = json!("Occurrence");
        ev["sensitivity"] = json!("PRIVATE");
        ev["responseStatus"]["response"] = json!("TentativelyAccepted");
        ev["onlineMeetingProvider"] = json!("TeamsForBusiness");
        ev["attendees"] = json!([
            attendee("Required", "Lee Park", "lee@contoso.com"),
            attendee("Resource", "Room 4.12", "room412@contoso.com"),
        ]);
        let a = parse_event("cal1", ev).unwrap();
        assert_eq!(a.show_as, ShowAs::Busy);
        assert_eq!(a.kind, AppointmentType::Occurrence);
        assert_eq!(a.sensitivity, Sensitivity::Private);
        assert_eq!(a.response, ResponseStatus::TentativelyAccepted);
        assert_eq!(
            a.online_provider,
            Some(OnlineMeetingProvider::TeamsForBusiness)
        );
        assert_eq!(a.attendees, Some(1), "a room in another case is no person");
        // What is kept is the canonical spelling.
        assert_eq!(a.show_as.as_str(), "busy");
        assert_eq!(a.response.as_str(), "tentativelyAccepted");
    }

    /// The sample without Graph's own join link: links elsewhere must be found.
    fn without_online_meeting() -> serde_json::Value {
        let mut ev = sample();
        let obj = ev.as_object_mut().unwrap();
        obj.remove("onlineMeeting");
        obj.insert("onlineMeetingProvider".into(), json!("unknown"));
        ev
    }

    fn join_of(ev: serde_json::Value) -> (Option<String>, Option<OnlineMeetingProvider>) {
        let a = parse_event("cal1", ev).unwrap();
        (a.join_url, a.online_provider)
    }

    #[test]
    fn join_links_outside_the_online_meeting_are_found() {
        use OnlineMeetingProvider as P;
        let zoom = "https://us02web.zoom.us/j/81234567890?pwd=abc";
        let expect = |url: &str, p: P| (Some(url.to_owned()), Some(p));

        let mut ev = without_online_meeting();
        ev["onlineMeetingUrl"] = json!(zoom);
        assert_eq!(join_of(ev), expect(zoom, P::Zoom), "onlineMeetingUrl");

        let mut ev = without_online_meeting();
        ev["location"] = json!({"displayName": format!("Zoom: {zoom}")});
        assert_eq!(join_of(ev), expect(zoom, P::Zoom), "location.displayName");

        let mut ev = without_online_meeting();
        ev["location"] = json!({"displayName": "Google Meet", "locationUri": "https://meet.google.com/abc-defg-hij"});
        assert_eq!(
            join_of(ev),
            expect("https://meet.google.com/abc-defg-hij", P::GoogleMeet),
            "location.locationUri"
        );

        let mut ev = without_online_meeting();
        ev["locations"] = json!([
            {"displayName": "Room 4.12", "locationType": "conferenceRoom"},
            {"displayName": "https://contoso.webex.com/meet/dana", "locationType": "default"}
        ]);
        assert_eq!(
            join_of(ev),
            expect("https://contoso.webex.com/meet/dana", P::Webex),
            "locations[]"
        );

        let mut ev = without_online_meeting();
        ev["body"] = json!({"contentType": "html", "content": "<html><body><p>Dial in or join:</p><p><a href=\"https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fmeet.goto.com%2F123456789&amp;data=05%7C02&amp;reserved=0\">GoTo Meeting</a></p></body></html>"});
        assert_eq!(
            join_of(ev),
            expect("https://meet.goto.com/123456789", P::GoTo),
            "HTML body, SafeLinks-wrapped"
        );

        let mut ev = without_online_meeting();
        ev["body"] = json!({"contentType": "Text", "content": format!("Join Zoom Meeting\r\n{zoom}\r\n\r\nMeeting ID: 812 3456 7890\r\nPasscode: 424242")});
        let a = parse_event("cal1", ev).unwrap();
        assert_eq!(
            (a.join_url.clone(), a.online_provider),
            expect(zoom, P::Zoom),
            "text body"
        );
        assert_eq!(a.meeting_id.as_deref(), Some("812 3456 7890"));
        assert_eq!(a.meeting_passcode.as_deref(), Some("424242"));

        // Only the preview (a $select without the body).
        let mut ev = without_online_meeting();
        ev["bodyPreview"] =
            json!("Agenda first. Join: https://teams.microsoft.com/l/meetup-join/19%3ax/0");
        assert_eq!(
            join_of(ev),
            expect(
                "https://teams.microsoft.com/l/meetup-join/19%3ax/0",
                P::TeamsForBusiness
            ),
            "bodyPreview"
        );
    }

    #[test]
    fn the_online_meetings_own_link_comes_first() {
        let mut ev = sample();
        ev["location"] = json!({"displayName": "https://contoso.zoom.us/j/1"});
        ev["body"] = json!({"contentType": "html", "content": "<a href=\"https://meet.google.com/abc-defg-hij\">x</a>"});
        assert_eq!(
            join_of(ev),
            (
                Some("https://teams.microsoft.com/l/meetup-join/19%3a1".to_owned()),
                Some(OnlineMeetingProvider::TeamsForBusiness)
            )
        );
    }

    #[test]
    fn links_that_would_not_be_opened_are_no_join_links() {
        let mut ev = without_online_meeting();
        ev["onlineMeeting"] = json!({"joinUrl": "https://zoom.us.evil.com/j/1"});
        ev["onlineMeetingUrl"] = json!("http://contoso.zoom.us/j/1");
        ev["location"] = json!({"displayName": "https://evilzoom.us/j/1"});
        ev["body"] = json!({"contentType": "html", "content": "<a href=\"https://meet.google.com.evil.com/abc-defg-hij\">Meet</a> <a href=\"https://teams.microsoft.com/meetingOptions/\">Options</a>"});
        assert_eq!(join_of(ev), (None, None));
        // Graph's provider still says it is an online meeting when no link is usable.
        let mut ev = without_online_meeting();
        ev["onlineMeetingProvider"] = json!("teamsForBusiness");
        assert_eq!(
            join_of(ev),
            (None, Some(OnlineMeetingProvider::TeamsForBusiness))
        );
    }

    #[test]
    fn null_and_unreadable_optional_fields_mean_not_said() {
        let mut ev = sample();
        for key in [
            "isAllDay",
            "isCancelled",
            "isReminderOn",
            "categories",
            "locations",
            "body",
            "location",
        ] {
            ev[key] = json!(null);
        }
        ev["lastModifiedDateTime"] = json!("datetime-value");
        let a = parse_event("cal1", ev).unwrap();
        assert!(!a.cancelled && !a.reminder_on && !a.when.is_all_day());
        assert_eq!(a.reminder_minutes, None);
        assert!(a.categories.is_empty());
        assert_eq!(a.last_modified, None);
        assert_eq!(a.location, None);
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
