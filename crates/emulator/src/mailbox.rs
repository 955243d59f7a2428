//! The mailbox: the signed-in user, calendars and events, with a versioned history so that
//! the state of any past change sequence number can be reconstructed (that is what makes
//! delta rounds exact: a round compares the view at its previous sequence with the view now).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
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
        let r = &self.record;
        let (last_modified, change_count) = match &self.override_ {
            Some(o) => (o.last_modified, r.change_count + o.change_count),
            None => (r.last_modified, r.change_count),
        };
        let location = self
            .override_
            .as_ref()
            .and_then(|o| o.location.clone())
            .unwrap_or_else(|| r.location.clone());
        let show_as = self
            .override_
            .as_ref()
            .and_then(|o| o.show_as.clone())
            .unwrap_or_else(|| r.show_as.clone());
        let ical_uid = match self.original_date {
            None => r.ical_uid.clone(),
            Some(d) => occurrence_ical_uid(&r.ical_uid, d),
        };
        let tz_name = tz::windows_name(r.tz);
        let body_preview = preview(&r.body_html);
        let attendees: Vec<Value> = r
            .attendees
            .iter()
            .map(|a| {
                json!({
                    "type": a.kind,
                    "status": { "response": a.response, "time": "0001-01-01T00:00:00Z" },
                    "emailAddress": { "name": a.email.name, "address": a.email.address },
                })
            })
            .collect();
        let locations = if location.is_empty() {
            json!([])
        } else {
            json!([location_json(&location)])
        };
        let response_time = r
            .response_time
            .map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339);
        // All-day events are midnight to midnight whatever zone the client prefers: the
        // service does not convert them (by design, per Microsoft's answers on the docs).
        let zone_for_dates = if r.is_all_day { r.tz } else { out_tz };
        let start = json!({ "dateTime": tz::graph_datetime(self.start, zone_for_dates), "timeZone": out_label });
        let end = json!({ "dateTime": tz::graph_datetime(self.end, zone_for_dates), "timeZone": out_label });
        let organizer =
            json!({ "emailAddress": { "name": r.organizer.name, "address": r.organizer.address } });
        let online_meeting = r.join_url.as_ref().map(|u| json!({ "joinUrl": u }));
        let mut v = json!({
            "@odata.etag": format!("W/\"{}\"", change_key(&self.id, change_count)),
            "id": self.id,
            "createdDateTime": rfc3339(r.created),
            "lastModifiedDateTime": rfc3339(last_modified),
            "changeKey": change_key(&self.id, change_count),
            "categories": r.categories,
            "transactionId": null,
            "originalStartTimeZone": tz_name,
            "originalEndTimeZone": tz_name,
            "iCalUId": ical_uid,
            "uid": ical_uid,
            "reminderMinutesBeforeStart": r.reminder_minutes,
            "isReminderOn": r.is_reminder_on,
            "hasAttachments": false,
            "subject": self.subject(),
            "bodyPreview": body_preview,
            "importance": r.importance,
            "sensitivity": r.sensitivity,
            "isAllDay": r.is_all_day,
            "isCancelled": r.is_cancelled,
            "isOrganizer": r.is_organizer,
            "responseRequested": !r.is_organizer,
            "seriesMasterId": null,
            "showAs": show_as,
            "type": self.kind(),
            "webLink": web_link(&self.id),
            "onlineMeetingUrl": null,
            "isOnlineMeeting": r.join_url.is_some(),
            "onlineMeetingProvider": r.online_meeting_provider,
            "allowNewTimeProposals": true,
            "occurrenceId": null,
            "isDraft": false,
            "hideAttendees": false,
        });
        let rest = json!({
            "responseStatus": { "response": r.response, "time": response_time },
            "body": { "contentType": "html", "content": r.body_html },
            "start": start,
            "end": end,
            "location": location_json(&location),
            "locations": locations,
            "recurrence": null,
            "attendees": attendees,
            "organizer": organizer,
            "onlineMeeting": online_meeting,
        });
        if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), rest) {
            obj.extend(more);
        }
        if let (Some(d), Some(obj)) = (self.original_date, v.as_object_mut()) {
            obj.insert("seriesMasterId".into(), Value::String(r.id.clone()));
            let original = tz::local_to_utc(r.tz, d.and_time(r.start.time()));
            obj.insert(
                "originalStart".into(),
                Value::String(original.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
        }
        v
    }
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

fn location_json(name: &str) -> Value {
    if name.is_empty() {
        json!({ "displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {} })
    } else {
        json!({ "displayName": name, "locationType": "default", "uniqueId": name, "uniqueIdType": "private" })
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    // Seven fractional digits, as the service writes them.
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
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
}
