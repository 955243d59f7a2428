//! The mailbox: the signed-in user, calendars and events, with a versioned history so that
//! the state of any past change sequence number can be reconstructed (that is what makes
//! delta rounds exact: a round compares the view at its previous sequence with the view now).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::recurrence::Recurrence;
use crate::tz;

/// The signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub upn: String,
    pub mail: String,
    pub job_title: String,
}

impl User {
    pub fn to_json(&self) -> Value {
        json!({
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": self.job_title,
            "mail": self.mail,
            "mobilePhone": null,
            "officeLocation": null,
            "preferredLanguage": "en-US",
            "surname": self.surname,
            "userPrincipalName": self.upn,
            "id": self.id,
        })
    }
}

/// A calendar of the user.
#[derive(Clone, Debug)]
pub struct Calendar {
    pub id: String,
    pub name: String,
    pub color: String,
    pub hex_color: String,
    pub is_default: bool,
    pub can_edit: bool,
    pub change_key: String,
}

impl Calendar {
    pub fn to_json(&self, owner: &User) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "color": self.color,
            "hexColor": self.hex_color,
            "isDefaultCalendar": self.is_default,
            "changeKey": self.change_key,
            "canShare": self.is_default,
            "canViewPrivateItems": true,
            "canEdit": self.can_edit,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": self.is_default,
            "isRemovable": !self.is_default,
            "owner": { "name": owner.display_name, "address": owner.mail },
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EmailAddress {
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attendee {
    pub email: EmailAddress,
    /// required | optional | resource
    pub kind: String,
    /// none | organizer | tentativelyAccepted | accepted | declined | notResponded
    pub response: String,
}

/// An override of one occurrence of a series (keyed by its original local start date).
#[derive(Clone, Debug, PartialEq)]
pub enum Exception {
    /// The occurrence was cancelled or deleted: the service leaves it out of views.
    Cancelled,
    /// The occurrence was changed: it becomes `type: exception`.
    Modified(Box<OccurrenceOverride>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OccurrenceOverride {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub subject: Option<String>,
    pub location: Option<String>,
    pub show_as: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub change_count: u32,
}

/// A stored calendar item: a single instance or a series master.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub calendar_id: String,
    pub ical_uid: String,
    pub subject: String,
    pub body_html: String,
    /// Wall-clock start/end in `tz` (for all-day events, midnights).
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    /// The zone the event was created in (`originalStartTimeZone`).
    pub tz: Tz,
    pub is_all_day: bool,
    pub is_cancelled: bool,
    pub is_organizer: bool,
    pub show_as: String,
    pub sensitivity: String,
    pub importance: String,
    pub response: String,
    pub response_time: Option<DateTime<Utc>>,
    pub is_reminder_on: bool,
    pub reminder_minutes: i64,
    pub location: String,
    pub organizer: EmailAddress,
    pub attendees: Vec<Attendee>,
    pub join_url: Option<String>,
    pub online_meeting_provider: String,
    pub categories: Vec<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub change_count: u32,
    pub recurrence: Option<Recurrence>,
    pub exceptions: BTreeMap<NaiveDate, Exception>,
}

/// What a calendarView shows: a single instance, an occurrence or an exception.
#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub record: Arc<EventRecord>,
    /// Set for occurrences and exceptions: the original local start date.
    pub original_date: Option<NaiveDate>,
    pub override_: Option<OccurrenceOverride>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Instance {
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.start < to && self.end > from
    }

    pub fn kind(&self) -> &'static str {
        match (&self.original_date, &self.override_) {
            (None, _) => "singleInstance",
            (Some(_), None) => "occurrence",
            (Some(_), Some(_)) => "exception",
        }
    }

    pub fn subject(&self) -> &str {
        self.override_
            .as_ref()
            .and_then(|o| o.subject.as_deref())
            .unwrap_or(&self.record.subject)
    }

    /// The Graph JSON of this instance, with start/end in `out_tz` labelled `out_label`.
    pub fn to_json(&self, out_tz: Tz, out_label: &str) -> Value {
        serde_json::to_value(self.graph_event(out_tz, out_label)).unwrap_or(Value::Null)
    }

    /// The Graph form of this instance, ready to serialize (pages are serialized straight
    /// from it: building a `Value` per event first costs more than the rest of a page).
    pub fn graph_event<'a>(&'a self, out_tz: Tz, out_label: &'a str) -> GraphEvent<'a> {
        let r = &*self.record;
        let (last_modified, change_count) = match &self.override_ {
            Some(o) => (o.last_modified, r.change_count + o.change_count),
            None => (r.last_modified, r.change_count),
        };
        let location = self
            .override_
            .as_ref()
            .and_then(|o| o.location.as_deref())
            .unwrap_or(&r.location);
        let show_as = self
            .override_
            .as_ref()
            .and_then(|o| o.show_as.as_deref())
            .unwrap_or(&r.show_as);
        let ical_uid = match self.original_date {
            None => r.ical_uid.clone(),
            Some(d) => occurrence_ical_uid(&r.ical_uid, d),
        };
        let tz_name = tz::windows_name(r.tz);
        let response_time = r
            .response_time
            .map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339);
        // All-day events are midnight to midnight whatever zone the client prefers: the
        // service does not convert them (by design, per Microsoft's answers on the docs).
        let zone_for_dates = if r.is_all_day { r.tz } else { out_tz };
        let key = change_key(&self.id, change_count);
        let original_start = self.original_date.map(|d| {
            tz::local_to_utc(r.tz, d.and_time(r.start.time()))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        });
        GraphEvent {
            odata_type: None,
            etag: format!("W/\"{key}\""),
            id: &self.id,
            created_date_time: rfc3339(r.created),
            last_modified_date_time: rfc3339(last_modified),
            change_key: key,
            categories: &r.categories,
            transaction_id: None,
            original_start_time_zone: tz_name.clone(),
            original_end_time_zone: tz_name,
            uid: ical_uid.clone(),
            i_cal_u_id: ical_uid,
            reminder_minutes_before_start: r.reminder_minutes,
            is_reminder_on: r.is_reminder_on,
            has_attachments: false,
            subject: self.subject(),
            body_preview: preview(&r.body_html),
            importance: &r.importance,
            sensitivity: &r.sensitivity,
            is_all_day: r.is_all_day,
            is_cancelled: r.is_cancelled,
            is_organizer: r.is_organizer,
            response_requested: !r.is_organizer,
            series_master_id: self.original_date.map(|_| r.id.as_str()),
            show_as,
            kind: self.kind(),
            web_link: web_link(&self.id),
            online_meeting_url: None,
            is_online_meeting: r.join_url.is_some(),
            online_meeting_provider: &r.online_meeting_provider,
            allow_new_time_proposals: true,
            occurrence_id: None,
            is_draft: false,
            hide_attendees: false,
            response_status: ResponseStatusJson {
                response: &r.response,
                time: response_time,
            },
            body: BodyJson {
                content_type: "html",
                content: &r.body_html,
            },
            start: DateTimeTimeZoneJson {
                date_time: tz::graph_datetime(self.start, zone_for_dates),
                time_zone: out_label,
            },
            end: DateTimeTimeZoneJson {
                date_time: tz::graph_datetime(self.end, zone_for_dates),
                time_zone: out_label,
            },
            location: LocationJson::of(location),
            locations: if location.is_empty() {
                Vec::new()
            } else {
                vec![LocationJson::of(location)]
            },
            recurrence: None,
            attendees: r
                .attendees
                .iter()
                .map(|a| AttendeeJson {
                    kind: &a.kind,
                    status: ResponseStatusJson {
                        response: &a.response,
                        time: "0001-01-01T00:00:00Z".to_string(),
                    },
                    email_address: EmailJson::of(&a.email),
                })
                .collect(),
            organizer: OrganizerJson {
                email_address: EmailJson::of(&r.organizer),
            },
            online_meeting: r
                .join_url
                .as_deref()
                .map(|u| OnlineMeetingJson { join_url: u }),
            original_start,
        }
    }
}

/// The Graph JSON of an event instance (see [`Instance::graph_event`]).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEvent<'a> {
    /// `#microsoft.graph.event` in delta pages.
    #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<&'static str>,
    #[serde(rename = "@odata.etag")]
    etag: String,
    id: &'a str,
    created_date_time: String,
    last_modified_date_time: String,
    change_key: String,
    categories: &'a [String],
    transaction_id: Option<&'a str>,
    original_start_time_zone: String,
    original_end_time_zone: String,
    #[serde(rename = "iCalUId")]
    i_cal_u_id: String,
    uid: String,
    reminder_minutes_before_start: i64,
    is_reminder_on: bool,
    has_attachments: bool,
    subject: &'a str,
    body_preview: String,
    importance: &'a str,
    sensitivity: &'a str,
    is_all_day: bool,
    is_cancelled: bool,
    is_organizer: bool,
    response_requested: bool,
    series_master_id: Option<&'a str>,
    show_as: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    web_link: String,
    online_meeting_url: Option<&'a str>,
    is_online_meeting: bool,
    online_meeting_provider: &'a str,
    allow_new_time_proposals: bool,
    occurrence_id: Option<&'a str>,
    is_draft: bool,
    hide_attendees: bool,
    response_status: ResponseStatusJson<'a>,
    body: BodyJson<'a>,
    start: DateTimeTimeZoneJson<'a>,
    end: DateTimeTimeZoneJson<'a>,
    location: LocationJson<'a>,
    locations: Vec<LocationJson<'a>>,
    recurrence: Option<()>,
    attendees: Vec<AttendeeJson<'a>>,
    organizer: OrganizerJson<'a>,
    online_meeting: Option<OnlineMeetingJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_start: Option<String>,
}

impl GraphEvent<'_> {
    /// Writes the same JSON as `serde_json::to_string(self)`, several times faster in debug
    /// builds (benchmarks page through 10,000 events; a test checks the two agree).
    pub fn write_json(&self, out: &mut String) {
        let mut o = Obj::new(out);
        if let Some(t) = self.odata_type {
            o.str("@odata.type", t);
        }
        o.str("@odata.etag", &self.etag);
        o.str("id", self.id);
        o.str("createdDateTime", &self.created_date_time);
        o.str("lastModifiedDateTime", &self.last_modified_date_time);
        o.str("changeKey", &self.change_key);
        o.with("categories", |out| {
            out.push('[');
            for (i, c) in self.categories.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, c);
            }
            out.push(']');
        });
        o.opt_str("transactionId", self.transaction_id);
        o.str("originalStartTimeZone", &self.original_start_time_zone);
        o.str("originalEndTimeZone", &self.original_end_time_zone);
        o.str("iCalUId", &self.i_cal_u_id);
        o.str("uid", &self.uid);
        o.raw(
            "reminderMinutesBeforeStart",
            &self.reminder_minutes_before_start.to_string(),
        );
        o.bool("isReminderOn", self.is_reminder_on);
        o.bool("hasAttachments", self.has_attachments);
        o.str("subject", self.subject);
        o.str("bodyPreview", &self.body_preview);
        o.str("importance", self.importance);
        o.str("sensitivity", self.sensitivity);
        o.bool("isAllDay", self.is_all_day);
        o.bool("isCancelled", self.is_cancelled);
        o.bool("isOrganizer", self.is_organizer);
        o.bool("responseRequested", self.response_requested);
        o.opt_str("seriesMasterId", self.series_master_id);
        o.str("showAs", self.show_as);
        o.str("type", self.kind);
        o.str("webLink", &self.web_link);
        o.opt_str("onlineMeetingUrl", self.online_meeting_url);
        o.bool("isOnlineMeeting", self.is_online_meeting);
        o.str("onlineMeetingProvider", self.online_meeting_provider);
        o.bool("allowNewTimeProposals", self.allow_new_time_proposals);
        o.opt_str("occurrenceId", self.occurrence_id);
        o.bool("isDraft", self.is_draft);
        o.bool("hideAttendees", self.hide_attendees);
        o.with("responseStatus", |out| self.response_status.write(out));
        o.with("body", |out| {
            let mut b = Obj::new(out);
            b.str("contentType", self.body.content_type);
            b.str("content", self.body.content);
            b.end();
        });
        o.with("start", |out| self.start.write(out));
        o.with("end", |out| self.end.write(out));
        o.with("location", |out| self.location.write(out));
        o.with("locations", |out| {
            out.push('[');
            for (i, l) in self.locations.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                l.write(out);
            }
            out.push(']');
        });
        o.raw("recurrence", "null");
        o.with("attendees", |out| {
            out.push('[');
            for (i, a) in self.attendees.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let mut ao = Obj::new(out);
                ao.str("type", a.kind);
                ao.with("status", |out| a.status.write(out));
                ao.with("emailAddress", |out| a.email_address.write(out));
                ao.end();
            }
            out.push(']');
        });
        o.with("organizer", |out| {
            let mut org = Obj::new(out);
            org.with("emailAddress", |out| {
                self.organizer.email_address.write(out)
            });
            org.end();
        });
        match &self.online_meeting {
            Some(m) => o.with("onlineMeeting", |out| {
                let mut mo = Obj::new(out);
                mo.str("joinUrl", m.join_url);
                mo.end();
            }),
            None => o.raw("onlineMeeting", "null"),
        }
        if let Some(s) = &self.original_start {
            o.str("originalStart", s);
        }
        o.end();
    }
}

/// A JSON object being written.
struct Obj<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Obj<'o> {
    fn new(out: &'o mut String) -> Obj<'o> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json_str(self.out, k);
        self.out.push(':');
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        json_str(self.out, v);
    }

    fn opt_str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.raw(k, if v { "true" } else { "false" });
    }

    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(v);
    }

    fn with(&mut self, k: &str, f: impl FnOnce(&mut String)) {
        self.key(k);
        f(self.out);
    }

    fn end(self) {
        self.out.push('}');
    }
}

/// A JSON string literal (escapes as serde_json does).
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
    {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{08}' => out.push_str("\\b"),
                '\u{0c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

#[derive(Serialize)]
struct ResponseStatusJson<'a> {
    response: &'a str,
    time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BodyJson<'a> {
    content_type: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DateTimeTimeZoneJson<'a> {
    date_time: String,
    time_zone: &'a str,
}

impl ResponseStatusJson<'_> {
    fn write(&self, out: &mut String) {
        let mut o = Obj::new(out);
        o.str("response", self.response);
        o.str("time", &self.time);
        o.end();
    }
}

impl DateTimeTimeZoneJson<'_> {
    fn write(&self, out: &mut String) {
        let mut o = Obj::new(out);
        o.str("dateTime", &self.date_time);
        o.str("timeZone", self.time_zone);
        o.end();
    }
}

impl EmailJson<'_> {
    fn write(&self, out: &mut String) {
        let mut o = Obj::new(out);
        o.str("name", self.name);
        o.str("address", self.address);
        o.end();
    }
}

impl LocationJson<'_> {
    fn write(&self, out: &mut String) {
        let mut o = Obj::new(out);
        o.str("displayName", self.display_name);
        o.str("locationType", self.location_type);
        if let Some(u) = self.unique_id {
            o.str("uniqueId", u);
        }
        o.str("uniqueIdType", self.unique_id_type);
        if self.address.is_some() {
            o.raw("address", "{}");
        }
        if self.coordinates.is_some() {
            o.raw("coordinates", "{}");
        }
        o.end();
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationJson<'a> {
    display_name: &'a str,
    location_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_id: Option<&'a str>,
    unique_id_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coordinates: Option<Empty>,
}

impl<'a> LocationJson<'a> {
    fn of(name: &'a str) -> LocationJson<'a> {
        if name.is_empty() {
            LocationJson {
                display_name: "",
                location_type: "default",
                unique_id: None,
                unique_id_type: "unknown",
                address: Some(Empty {}),
                coordinates: Some(Empty {}),
            }
        } else {
            LocationJson {
                display_name: name,
                location_type: "default",
                unique_id: Some(name),
                unique_id_type: "private",
                address: None,
                coordinates: None,
            }
        }
    }
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct EmailJson<'a> {
    name: &'a str,
    address: &'a str,
}

impl<'a> EmailJson<'a> {
    fn of(e: &'a EmailAddress) -> EmailJson<'a> {
        EmailJson {
            name: &e.name,
            address: &e.address,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttendeeJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    status: ResponseStatusJson<'a>,
    email_address: EmailJson<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrganizerJson<'a> {
    email_address: EmailJson<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OnlineMeetingJson<'a> {
    join_url: &'a str,
}

/// The Graph JSON of a series master (for `GET /me/events/{id}` on a master).
pub fn master_json(r: &Arc<EventRecord>, out_tz: Tz, out_label: &str) -> Value {
    let inst = Instance {
        id: r.id.clone(),
        record: r.clone(),
        original_date: None,
        override_: None,
        start: tz::local_to_utc(r.tz, r.start),
        end: tz::local_to_utc(r.tz, r.end),
    };
    let mut v = inst.to_json(out_tz, out_label);
    if let (Some(rec), Some(obj)) = (&r.recurrence, v.as_object_mut()) {
        obj.insert("type".into(), Value::String("seriesMaster".into()));
        obj.insert("recurrence".into(), rec.to_json());
    }
    v
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    // Seven fractional digits, as the service writes them. (Written field by field: a
    // strftime format string is parsed on every call, and pages format thousands.)
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() % 1_000_000_000 / 100
    )
}

fn web_link(id: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("https://outlook.office365.com/owa/?itemid={enc}&exvsurl=1&path=/calendar/item")
}

fn change_key(id: &str, n: u32) -> String {
    let h = Sha256::digest(format!("{id}/{n}").as_bytes());
    let mut bytes = vec![0x0f, 0, 0, 0, 0x16, 0, 0, 0];
    bytes.extend_from_slice(&h[..14]);
    STANDARD.encode(bytes)
}

fn preview(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(255).collect()
}

fn occurrence_ical_uid(master: &str, d: NaiveDate) -> String {
    // Exchange's per-occurrence UID embeds the date in bytes 16..20 of the global object id.
    if master.len() >= 40 {
        let (head, tail) = master.split_at(32);
        format!(
            "{head}{:04X}{:02X}{:02X}{}",
            d.year(),
            d.month(),
            d.day(),
            &tail[8..]
        )
    } else {
        format!("{master}-{}", d.format("%Y%m%d"))
    }
}

// ---- ids -------------------------------------------------------------------------------

const ID_PREFIX: &str = "AAMkAG";
const TAG_ITEM: u8 = b'E';
const TAG_OCCURRENCE: u8 = b'O';
/// Ids are `ID_PREFIX` + URL-safe base64 of [tag, key(16), date(4), filler]: long, opaque
/// and base64-looking like the service's REST ids, and an occurrence id can be traced back to
/// its master and original date the way the service's can.
const ID_FILLER_LEN: usize = 62;

fn filler() -> Vec<u8> {
    let h = Sha256::digest(b"presently-emulator mailbox");
    (0..ID_FILLER_LEN).map(|i| h[i % h.len()]).collect()
}

fn encode_id(tag: u8, key: &[u8; 16], date: Option<NaiveDate>) -> String {
    let mut bytes = Vec::with_capacity(1 + 16 + 4 + ID_FILLER_LEN);
    bytes.push(tag);
    bytes.extend_from_slice(key);
    let days = date.map_or(0, |d| d.num_days_from_ce());
    bytes.extend_from_slice(&days.to_be_bytes());
    bytes.extend_from_slice(&filler());
    format!("{ID_PREFIX}{}", URL_SAFE.encode(bytes))
}

/// A new item id derived from `seed` (deterministic: the demo mailbox has stable ids).
pub fn item_id(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&h[..16]);
    encode_id(TAG_ITEM, &key, None)
}

/// A fresh random item id.
pub fn random_item_id() -> String {
    item_id(&uuid::Uuid::new_v4().to_string())
}

fn decode_id(id: &str) -> Option<(u8, [u8; 16], i32)> {
    let raw = URL_SAFE.decode(id.strip_prefix(ID_PREFIX)?).ok()?;
    if raw.len() < 21 {
        return None;
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&raw[1..17]);
    let days = i32::from_be_bytes([raw[17], raw[18], raw[19], raw[20]]);
    Some((raw[0], key, days))
}

fn occurrence_id(master_id: &str, d: NaiveDate) -> String {
    match decode_id(master_id) {
        Some((_, key, _)) => encode_id(TAG_OCCURRENCE, &key, Some(d)),
        None => {
            let h = Sha256::digest(master_id.as_bytes());
            let mut key = [0u8; 16];
            key.copy_from_slice(&h[..16]);
            encode_id(TAG_OCCURRENCE, &key, Some(d))
        }
    }
}

/// A globally unique iCalUId in Exchange's hex format.
pub fn ical_uid(seed: &str) -> String {
    let h = Sha256::digest(format!("ical/{seed}").as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "040000008200E00074C5B7101A82E00800000000{hex}000000000000000010000000{}",
        &hex[..16]
    )
}

// ---- expansion -------------------------------------------------------------------------

/// Expands one stored record into the instances overlapping [from, to).
pub fn expand(r: &Arc<EventRecord>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Instance> {
    let Some(rec) = &r.recurrence else {
        let inst = Instance {
            id: r.id.clone(),
            record: r.clone(),
            original_date: None,
            override_: None,
            start: tz::local_to_utc(r.tz, r.start),
            end: tz::local_to_utc(r.tz, r.end),
        };
        return if inst.overlaps(from, to) {
            vec![inst]
        } else {
            Vec::new()
        };
    };
    let duration = r.end - r.start;
    // Exceptions may move an occurrence by days; look a little beyond the window.
    let margin = Duration::days(15) + duration;
    let from_local = (from - margin).with_timezone(&r.tz).date_naive();
    let to_local = (to + margin).with_timezone(&r.tz).date_naive();
    let mut out = Vec::new();
    for d in rec.dates(from_local, to_local) {
        let id = occurrence_id(&r.id, d);
        let (start_l, end_l, ov) = match r.exceptions.get(&d) {
            Some(Exception::Cancelled) => continue,
            Some(Exception::Modified(o)) => (o.start, o.end, Some((**o).clone())),
            None => {
                let s = d.and_time(r.start.time());
                (s, s + duration, None)
            }
        };
        let inst = Instance {
            id,
            record: r.clone(),
            original_date: Some(d),
            override_: ov,
            start: tz::local_to_utc(r.tz, start_l),
            end: tz::local_to_utc(r.tz, end_l),
        };
        if inst.overlaps(from, to) {
            out.push(inst);
        }
    }
    out
}

// ---- the mailbox -----------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Version {
    seq: u64,
    record: Option<Arc<EventRecord>>,
}

/// Where an id points.
pub enum Resolved {
    /// A stored item (single instance or series master).
    Item(Arc<EventRecord>),
    /// An occurrence of a stored series master.
    Occurrence(Arc<EventRecord>, NaiveDate),
}

#[derive(Debug)]
pub struct Mailbox {
    pub user: User,
    pub calendars: Vec<Calendar>,
    pub tz: Tz,
    items: BTreeMap<String, Vec<Version>>,
    seq: u64,
}

impl Mailbox {
    pub fn new(user: User, calendars: Vec<Calendar>, tz: Tz) -> Mailbox {
        Mailbox {
            user,
            calendars,
            tz,
            items: BTreeMap::new(),
            seq: 0,
        }
    }

    /// The current change sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn primary_calendar_id(&self) -> String {
        self.calendars
            .iter()
            .find(|c| c.is_default)
            .map(|c| c.id.clone())
            .unwrap_or_default()
    }

    pub fn calendar(&self, id: &str) -> Option<&Calendar> {
        self.calendars.iter().find(|c| c.id == id)
    }

    fn record_at(versions: &[Version], seq: u64) -> Option<&Arc<EventRecord>> {
        versions
            .iter()
            .rev()
            .find(|v| v.seq <= seq)
            .and_then(|v| v.record.as_ref())
    }

    /// The stored items of `calendar_id` as they were at `seq`.
    pub fn records_at(&self, calendar_id: &str, seq: u64) -> Vec<Arc<EventRecord>> {
        self.items
            .values()
            .filter_map(|vs| Self::record_at(vs, seq))
            .filter(|r| r.calendar_id == calendar_id)
            .cloned()
            .collect()
    }

    /// The calendarView of `calendar_id` at `seq`: instances overlapping [from, to), sorted
    /// by start, then id.
    pub fn view_at(
        &self,
        calendar_id: &str,
        seq: u64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Instance> {
        let mut out: Vec<Instance> = self
            .records_at(calendar_id, seq)
            .iter()
            .flat_map(|r| expand(r, from, to))
            .collect();
        out.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        out
    }

    pub fn current(&self, id: &str) -> Option<Arc<EventRecord>> {
        self.items
            .get(id)
            .and_then(|vs| vs.last())
            .and_then(|v| v.record.clone())
    }

    /// Resolves an item or occurrence id against the current state.
    pub fn resolve(&self, id: &str) -> Option<Resolved> {
        if let Some(r) = self.current(id) {
            return Some(Resolved::Item(r));
        }
        let (tag, key, days) = decode_id(id)?;
        if tag != TAG_OCCURRENCE {
            return None;
        }
        let date = NaiveDate::from_num_days_from_ce_opt(days)?;
        let master = self
            .items
            .values()
            .filter_map(|vs| vs.last().and_then(|v| v.record.clone()))
            .find(|r| {
                r.recurrence.is_some() && decode_id(&r.id).is_some_and(|(_, k, _)| k == key)
            })?;
        Some(Resolved::Occurrence(master, date))
    }

    /// The instance with `id` now (occurrences included; cancelled occurrences are gone).
    pub fn instance(&self, id: &str) -> Option<Instance> {
        match self.resolve(id)? {
            Resolved::Item(r) => Some(Instance {
                id: r.id.clone(),
                start: tz::local_to_utc(r.tz, r.start),
                end: tz::local_to_utc(r.tz, r.end),
                record: r,
                original_date: None,
                override_: None,
            }),
            Resolved::Occurrence(master, date) => {
                let day = tz::local_to_utc(master.tz, date.and_time(master.start.time()));
                let window = Duration::days(16) + (master.end - master.start);
                expand(&master, day - window, day + window)
                    .into_iter()
                    .find(|i| i.id == id)
            }
        }
    }

    /// Stores a new or changed record; bumps the change sequence.
    pub fn put(&mut self, record: EventRecord) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        self.items
            .entry(record.id.clone())
            .or_default()
            .push(Version {
                seq,
                record: Some(Arc::new(record)),
            });
        seq
    }

    /// Stores many new or changed records as one change: bumps the change sequence once.
    pub fn put_many(&mut self, records: Vec<EventRecord>) -> u64 {
        if records.is_empty() {
            return self.seq;
        }
        self.seq += 1;
        let seq = self.seq;
        for record in records {
            self.items
                .entry(record.id.clone())
                .or_default()
                .push(Version {
                    seq,
                    record: Some(Arc::new(record)),
                });
        }
        seq
    }

    /// Deletes a stored item; bumps the change sequence. False if there was none.
    pub fn remove(&mut self, id: &str) -> bool {
        if self.current(id).is_none() {
            return false;
        }
        self.seq += 1;
        let seq = self.seq;
        self.items
            .entry(id.to_string())
            .or_default()
            .push(Version { seq, record: None });
        true
    }
}

// ---- building records from Graph-shaped JSON --------------------------------------------

/// A record with the defaults the service applies to a new event in `calendar_id`.
pub fn blank_record(
    id: String,
    calendar_id: String,
    tz: Tz,
    owner: &User,
    now: DateTime<Utc>,
) -> EventRecord {
    let start = now.with_timezone(&tz).naive_local();
    EventRecord {
        ical_uid: ical_uid(&id),
        id,
        calendar_id,
        subject: String::new(),
        body_html: String::new(),
        start,
        end: start + Duration::minutes(30),
        tz,
        is_all_day: false,
        is_cancelled: false,
        is_organizer: true,
        show_as: "busy".into(),
        sensitivity: "normal".into(),
        importance: "normal".into(),
        response: "organizer".into(),
        response_time: None,
        is_reminder_on: true,
        reminder_minutes: 15,
        location: String::new(),
        organizer: EmailAddress {
            name: owner.display_name.clone(),
            address: owner.mail.clone(),
        },
        attendees: Vec::new(),
        join_url: None,
        online_meeting_provider: "unknown".into(),
        categories: Vec::new(),
        created: now,
        last_modified: now,
        change_count: 0,
        recurrence: None,
        exceptions: BTreeMap::new(),
    }
}

/// Parses a Graph `dateTimeTimeZone` into (wall clock in its zone, zone).
pub fn parse_date_time_zone(v: &Value, field: &str) -> Result<(NaiveDateTime, Tz), String> {
    let dt = v
        .get("dateTime")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{field}.dateTime is required"))?;
    let zone_name = v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    let zone = tz::resolve(zone_name).ok_or_else(|| format!("unknown time zone '{zone_name}'"))?;
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(dt) {
        return Ok((with_offset.with_timezone(&zone).naive_local(), zone));
    }
    let naive = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("{field}.dateTime '{dt}' is not a valid date and time"))?;
    Ok((naive, zone))
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn bool_field(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{key} must be a boolean")),
    }
}

fn email_of(v: &Value) -> EmailAddress {
    let e = v.get("emailAddress").unwrap_or(v);
    EmailAddress {
        name: e
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        address: e
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// Applies the fields present in a Graph-shaped event JSON to `r` (used for creation and
/// for PATCH). Times are converted into the record's zone when the zone changes.
pub fn apply_json(r: &mut EventRecord, v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("the event must be a JSON object")?;
    if let Some(s) = str_field(obj, "subject")? {
        r.subject = s;
    }
    if let Some(body) = obj.get("body").filter(|b| !b.is_null()) {
        let content = body
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let is_text = body
            .get("contentType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("text"));
        r.body_html = if is_text {
            let escaped = content
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<html><body>{escaped}</body></html>")
        } else {
            content.to_string()
        };
    }
    let start = obj
        .get("start")
        .filter(|x| !x.is_null())
        .map(|x| parse_date_time_zone(x, "start"))
        .transpose()?;
    let end = obj
        .get("end")
        .filter(|x| !x.is_null())
        .map(|x| parse_date_time_zone(x, "end"))
        .transpose()?;
    if let Some((s, zone)) = start {
        let duration = r.end - r.start;
        r.tz = zone;
        r.start = s;
        if end.is_none() {
            r.end = s + duration;
        }
    }
    if let Some((e, zone)) = end {
        // Express the end in the start's zone.
        r.end = tz::local_to_utc(zone, e).with_timezone(&r.tz).naive_local();
    }
    if let Some(b) = bool_field(obj, "isAllDay")? {
        r.is_all_day = b;
    }
    if r.is_all_day {
        let midnight = |t: NaiveDateTime| t.date().and_hms_opt(0, 0, 0).unwrap_or(t);
        if r.start.time() != chrono::NaiveTime::MIN || r.end.time() != chrono::NaiveTime::MIN {
            return Err("an all-day event needs start and end at midnight".into());
        }
        r.start = midnight(r.start);
        r.end = midnight(r.end);
    }
    if r.end < r.start {
        return Err("the end of an event cannot be before its start".into());
    }
    for (key, slot) in [
        ("showAs", &mut r.show_as),
        ("sensitivity", &mut r.sensitivity),
        ("importance", &mut r.importance),
        ("onlineMeetingProvider", &mut r.online_meeting_provider),
    ] {
        if let Some(s) = str_field(obj, key)? {
            *slot = s;
        }
    }
    if let Some(b) = bool_field(obj, "isCancelled")? {
        r.is_cancelled = b;
    }
    if let Some(b) = bool_field(obj, "isOrganizer")? {
        r.is_organizer = b;
        if b {
            r.response = "organizer".into();
        } else if r.response == "organizer" {
            r.response = "notResponded".into();
        }
    }
    if let Some(b) = bool_field(obj, "isReminderOn")? {
        r.is_reminder_on = b;
    }
    if let Some(n) = obj
        .get("reminderMinutesBeforeStart")
        .and_then(Value::as_i64)
    {
        r.reminder_minutes = n;
    }
    if let Some(rs) = obj.get("responseStatus").filter(|x| !x.is_null()) {
        if let Some(resp) = rs.get("response").and_then(Value::as_str) {
            r.response = resp.to_string();
        }
        if let Some(t) = rs.get("time").and_then(Value::as_str) {
            r.response_time = DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| t.year() > 1);
        }
    }
    if let Some(loc) = obj.get("location").filter(|x| !x.is_null()) {
        r.location = loc
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    if let Some(org) = obj.get("organizer").filter(|x| !x.is_null()) {
        r.organizer = email_of(org);
    }
    if let Some(att) = obj.get("attendees").and_then(Value::as_array) {
        r.attendees = att
            .iter()
            .map(|a| Attendee {
                email: email_of(a),
                kind: a
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("required")
                    .to_string(),
                response: a
                    .get("status")
                    .and_then(|s| s.get("response"))
                    .and_then(Value::as_str)
                    .unwrap_or("none")
                    .to_string(),
            })
            .collect();
    }
    if let Some(cats) = obj.get("categories").and_then(Value::as_array) {
        r.categories = cats
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
    match obj.get("onlineMeeting") {
        Some(Value::Null) => r.join_url = None,
        Some(om) => {
            r.join_url = om
                .get("joinUrl")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        None => {}
    }
    if bool_field(obj, "isOnlineMeeting")? == Some(true) && r.join_url.is_none() {
        let meeting = Sha256::digest(r.id.as_bytes());
        let hex: String = meeting[..12].iter().map(|b| format!("{b:02x}")).collect();
        r.join_url = Some(format!(
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{hex}%40thread.v2/0"
        ));
        if r.online_meeting_provider == "unknown" {
            r.online_meeting_provider = "teamsForBusiness".into();
        }
    }
    match obj.get("recurrence") {
        Some(Value::Null) => r.recurrence = None,
        Some(rec) => r.recurrence = Some(Recurrence::from_json(rec, &tz::windows_name(r.tz))?),
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_opaque_and_occurrences_trace_back() {
        let id = item_id("x");
        assert!(id.len() > 100);
        let occ = occurrence_id(&id, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert_ne!(occ, id);
        let (tag, key, days) = decode_id(&occ).unwrap();
        assert_eq!(tag, TAG_OCCURRENCE);
        assert_eq!(decode_id(&id).unwrap().1, key);
        assert_eq!(
            NaiveDate::from_num_days_from_ce_opt(days),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
    }

    #[test]
    fn preview_strips_markup() {
        assert_eq!(
            preview("<html><body><p>Hi&nbsp;there</p>\r\n<p>x &amp; y</p></body></html>"),
            "Hi there x & y"
        );
    }

    #[test]
    fn the_fast_event_writer_agrees_with_serde() {
        let cfg = crate::EmulatorConfig {
            today: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            ..Default::default()
        };
        let mut mb = crate::seed::build(&cfg);
        // Characters that need escaping, and a moved occurrence.
        let mut odd = blank_record(
            item_id("odd"),
            mb.primary_calendar_id(),
            mb.tz,
            &mb.user,
            Utc::now(),
        );
        odd.subject = "Tab\there \"quoted\" back\\slash \u{1} ünïcödé \u{7f}".into();
        odd.body_html = "<p>line\r\nbreak</p>".into();
        odd.categories = vec!["Red \"category\"".into(), "Blue".into()];
        mb.put(odd);
        let from = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2027-02-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut n = 0;
        for cal in mb.calendars.clone() {
            for i in mb.view_at(&cal.id, mb.seq(), from, to) {
                for (z, l) in [
                    (Tz::UTC, "UTC"),
                    (chrono_tz::America::Los_Angeles, "Pacific Standard Time"),
                ] {
                    let mut e = i.graph_event(z, l);
                    if n % 2 == 0 {
                        e.odata_type = Some("#microsoft.graph.event");
                    }
                    let mut fast = String::new();
                    e.write_json(&mut fast);
                    let parsed: Value = serde_json::from_str(&fast).unwrap();
                    assert_eq!(parsed, serde_json::to_value(&e).unwrap(), "{fast}");
                    n += 1;
                }
            }
        }
        assert!(n > 50);
    }
}
