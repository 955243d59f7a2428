//! Microsoft's published examples (`fixtures/*.json`, sources in README.md) and the few
//! adaptations the scenarios need, each done here in code so it stays visible.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The directory holding the fixtures.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fixture as JSON, verbatim.
pub fn load(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// Graph's `dateTimeTimeZone` for an instant in UTC, spelled as Graph spells it
/// (`2016-12-09T20:30:00.0000000`).
pub fn graph_date_time(t: DateTime<Utc>) -> Value {
    json!({
        "dateTime": format!("{}.{:07}", t.format("%Y-%m-%dT%H:%M:%S"), t.timestamp_subsec_nanos() / 100),
        "timeZone": "UTC",
    })
}

/// A timed event: the full event of `user-post-events.md` (Example 1's response) with
/// its id, subject and times replaced (moved to the scenario's days, in UTC as Graph
/// answers with `Prefer: outlook.timezone="UTC"`), and its iCalUId made unique.
pub fn event(id: &str, subject: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    let mut e = load("event.json");
    let obj = e.as_object_mut().expect("event fixture is an object");
    obj.remove("@odata.context");
    obj.insert("id".into(), json!(id));
    obj.insert("subject".into(), json!(subject));
    obj.insert("start".into(), graph_date_time(start));
    obj.insert("end".into(), graph_date_time(end));
    obj.insert("originalStartTimeZone".into(), json!("UTC"));
    obj.insert("originalEndTimeZone".into(), json!("UTC"));
    obj.insert("iCalUId".into(), json!(format!("fidelity-{id}")));
    obj.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        )),
    );
    e
}

/// An all-day event on `date` (one day): as Graph returns all-day events with
/// `Prefer: outlook.timezone="UTC"`, midnight to midnight.
pub fn all_day_event(id: &str, subject: &str, date: NaiveDate) -> Value {
    let start = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let mut e = event(id, subject, start, start + chrono::Duration::days(1));
    e["isAllDay"] = json!(true);
    e["showAs"] = json!("free");
    e
}

/// A calendar for the list: the one of `user-list-calendars.md` with another id and name.
pub fn calendar_listing(id: &str, name: &str) -> Value {
    let list = load("calendars.json");
    let mut c = list["value"][0].clone();
    c["id"] = json!(id);
    c["name"] = json!(name);
    c["@odata.id"] = json!(format!(
        "https://graph.microsoft.com/v1.0/users('ddfcd489-628b-40d7-b48b-57002df800e5@1717622f-1d94-4d0c-9d74-709fad664b77')/calendars('{id}')"
    ));
    c["isRemovable"] = json!(true);
    c
}

/// The id of the calendar in Microsoft's `/me/calendars` and `/me/calendar` examples.
pub const PRIMARY_CALENDAR_ID: &str = "AAMkAGI2TGuLAAA=";
