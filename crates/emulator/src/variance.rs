//! Graph's real-world variance: one seeded switch under which the emulator answers the way
//! Microsoft Graph can answer, not in the one tidy way it answers otherwise.
//!
//! With a [`Variance`] on, each answer varies per item or per request, as a pure function
//! of the seed (the same seed and mailbox give the same answers):
//! - enum values come in any casing (`busy`, `Busy`, `BUSY`): an event's `showAs`,
//!   `responseStatus.response`, `sensitivity`, `type`, `importance`,
//!   `onlineMeetingProvider` and its attendees' `type` and `status.response`; presence
//!   `availability` and `activity`; `automaticRepliesSetting.status` and `externalAudience`
//!   (Microsoft's own `mailboxSettings` example answers `"Scheduled"` and `"All"`);
//! - now and then a request is throttled (429) with a short `Retry-After` in whole seconds,
//!   in decimals (`1.128`, as Microsoft's throttling page shows) or as an HTTP-date on the
//!   emulator clock; never twice in a row for the same request, never longer than 1.128 s;
//! - optional fields are left out or `null`, as Microsoft's own example responses leave
//!   them out: `isDefaultCalendar` on calendars, and on events only fields whose absence says
//!   the same as their value (an empty `categories`, a `normal` sensitivity, a reminder that
//!   is off, an empty body or preview, an `unknown` provider, a null `onlineMeeting`...) or
//!   that describe nothing the event means (`responseStatus.time`, `originalStartTimeZone`,
//!   `changeKey`, `isOnlineMeeting`...). `id`, `start`, `end`, `subject`, `showAs`, the
//!   organizer, attendees and links are always there;
//! - an online meeting's join link moves out of `onlineMeeting.joinUrl` (then `null` or
//!   absent) into `onlineMeetingUrl`, the location (its `displayName` when it has none, else
//!   its `locationUri`), an extra entry of `locations`, or the HTML body, sometimes wrapped
//!   in an Outlook SafeLink (only where no other link is in the location or body: there the
//!   link would no longer say which meeting is the event's);
//! - pages hold more items than `odata.maxpagesize` asked for; delta rounds come in no
//!   particular order, with repeats and early removals (the `ShuffleDelta` switch, seeded);
//!   a quarter of the seeds refuse `/me/calendars/{id}/calendarView/delta` (the
//!   `RefuseCalendarDelta` switch).
//!
//! The answers are rewritten after the handlers made them, so the emulator without variance
//! answers exactly as before.

use std::collections::{HashMap, HashSet};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::faults::SplitMix;
use crate::state::AppState;

/// The real-world variance switch: Graph's answers as they vary in the field, drawn from
/// `seed` (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variance {
    pub seed: u64,
}

/// The variance in force and what it remembers between requests (for throttling).
#[derive(Debug)]
pub struct VarianceState {
    pub seed: u64,
    /// How often each request (method, path and query) was seen.
    seen: HashMap<String, u32>,
    /// Requests whose last answer was a 429: the next one goes through.
    throttled: HashSet<String>,
}

impl VarianceState {
    pub fn new(seed: u64) -> VarianceState {
        VarianceState {
            seed,
            seen: HashMap::new(),
            throttled: HashSet::new(),
        }
    }

    /// Whether this request (`key`: method, path and query) is throttled, and with which
    /// `Retry-After`. About one request in sixteen; the request's own retry goes through.
    pub fn throttle(&mut self, key: &str, now: DateTime<Utc>) -> Option<String> {
        let n = self.seen.entry(key.to_owned()).or_default();
        let nth = *n;
        *n += 1;
        if self.throttled.remove(key) {
            return None;
        }
        let h = mix(self.seed, &["throttle", key, &nth.to_string()]);
        if !h.is_multiple_of(16) {
            return None;
        }
        self.throttled.insert(key.to_owned());
        Some(retry_after(h >> 8, now))
    }
}

/// A `Retry-After` value of at most about a second: whole seconds, decimals, an HTTP-date.
fn retry_after(pick: u64, now: DateTime<Utc>) -> String {
    match pick % 6 {
        0 => "1".to_owned(),
        1 => "0".to_owned(),
        2 => "0.25".to_owned(),
        3 => "1.128".to_owned(),
        4 => "0.064".to_owned(),
        // The next whole second: an HTTP-date has no fractions.
        _ => (now + Duration::seconds(1))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    }
}

/// A number drawn from the seed and `parts` (FNV-1a of the parts, then splitmix64).
pub fn mix(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    SplitMix(seed ^ h).next()
}

/// The page size of one request under variance: `None` (as asked) for half the requests,
/// else more than asked.
pub fn page_size(seed: u64, asked: usize, request: &str) -> Option<usize> {
    let h = mix(seed, &["pageSize", request]);
    if h.is_multiple_of(2) {
        return None;
    }
    let asked = asked.max(1);
    Some(asked + 1 + ((h >> 1) % (2 * asked as u64 + 8)) as usize)
}

/// Whether the seed refuses delta on calendars other than the primary (a quarter of seeds).
pub fn refuses_calendar_delta(seed: u64) -> bool {
    mix(seed, &["refuseCalendarDelta"]).is_multiple_of(4)
}

/// `value` in one of the casings Graph is seen to use: as documented (camelCase), with a
/// capital first letter, all lower case, all upper case.
fn recase(value: &str, pick: u64) -> String {
    match pick % 4 {
        0 => value.to_owned(),
        1 => {
            let mut chars = value.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        }
        2 => value.to_ascii_lowercase(),
        _ => value.to_ascii_uppercase(),
    }
}

fn recase_field(seed: u64, scope: &str, obj: &mut Map<String, Value>, field: &str) {
    if let Some(Value::String(s)) = obj.get_mut(field) {
        *s = recase(s, mix(seed, &["case", scope, field, s]));
    }
}

/// What an answer is, as far as variance rewrites it (by the path after `/v1.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A page of calendarView or its delta.
    Page,
    Event,
    Calendars,
    Calendar,
    Presence,
    MailboxSettings,
}

impl Answer {
    pub fn of(path: &str) -> Option<Answer> {
        let path = path.to_ascii_lowercase();
        let path = path.strip_prefix("/v1.0").unwrap_or(&path);
        let path = path.trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [.., "calendarview"] | [.., "calendarview", "delta"] => Some(Answer::Page),
            ["me", "events", _] => Some(Answer::Event),
            ["me", "calendars"] => Some(Answer::Calendars),
            ["me", "calendar"] | ["me", "calendars", _] => Some(Answer::Calendar),
            [.., "presence"] => Some(Answer::Presence),
            [.., "mailboxsettings"] => Some(Answer::MailboxSettings),
            _ => None,
        }
    }
}

/// Rewrites a successful answer's JSON.
pub fn vary_answer(seed: u64, answer: Answer, v: &mut Value) {
    match answer {
        Answer::Page => {
            if let Some(items) = v.get_mut("value").and_then(Value::as_array_mut) {
                for item in items {
                    if let Some(obj) = item.as_object_mut() {
                        if !obj.contains_key("@removed") {
                            vary_event(seed, obj);
                        }
                    }
                }
            }
        }
        Answer::Event => {
            if let Some(obj) = v.as_object_mut() {
                vary_event(seed, obj);
            }
        }
        Answer::Calendars => {
            if let Some(items) = v.get_mut("value").and_then(Value::as_array_mut) {
                for item in items {
                    if let Some(obj) = item.as_object_mut() {
                        vary_calendar(seed, obj);
                    }
                }
            }
        }
        Answer::Calendar => {
            if let Some(obj) = v.as_object_mut() {
                vary_calendar(seed, obj);
            }
        }
        Answer::Presence => {
            if let Some(obj) = v.as_object_mut() {
                recase_field(seed, "presence", obj, "availability");
                recase_field(seed, "presence", obj, "activity");
            }
        }
        Answer::MailboxSettings => {
            if let Some(ar) = v
                .get_mut("automaticRepliesSetting")
                .and_then(Value::as_object_mut)
            {
                recase_field(seed, "automaticReplies", ar, "status");
                recase_field(seed, "automaticReplies", ar, "externalAudience");
            }
        }
    }
}

/// `isDefaultCalendar` left out of about half the calendars (Microsoft's own List calendars
/// example has none).
fn vary_calendar(seed: u64, obj: &mut Map<String, Value>) {
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    if mix(seed, &["isDefaultCalendar", id]).is_multiple_of(2) {
        obj.remove("isDefaultCalendar");
    }
}

/// Hosts of Outlook's SafeLinks, by region.
const SAFELINKS_HOSTS: &[&str] = &[
    "nam12.safelinks.protection.outlook.com",
    "eur01.safelinks.protection.outlook.com",
    "eur02.safelinks.protection.outlook.com",
    "gbr01.safelinks.protection.outlook.com",
    "apc01.safelinks.protection.outlook.com",
];

/// `url` wrapped in an Outlook SafeLink, as Defender for Office 365 rewrites links in mail.
fn safelink(url: &str, rng: &mut SplitMix) -> String {
    let host = SAFELINKS_HOSTS[rng.below(SAFELINKS_HOSTS.len())];
    let target: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    format!(
        "https://{host}/?url={target}&data=05%7C02%7Cmegan.bowen%40contoso.onmicrosoft.com%7C{:016x}%7C72f988bf86f141af91ab2d7cd011db47%7C1%7C0%7C638{:015}%7CUnknown&sdata={:016x}%3D&reserved=0",
        rng.next(),
        rng.next() % 1_000_000_000_000_000,
        rng.next()
    )
}

/// `s` escaped for an HTML attribute or text.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Moves an online meeting's join link out of `onlineMeeting.joinUrl` to where Graph has
/// it for meetings made elsewhere or by other clients.
fn move_join_link(obj: &mut Map<String, Value>, rng: &mut SplitMix) {
    let Some(url) = obj
        .get("onlineMeeting")
        .and_then(|m| m.get("joinUrl"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    // Only where the link stays the one link to a meeting: an event with another link in
    // its location or body (a Zoom location on a Teams meeting) would otherwise have two,
    // and Graph's onlineMeeting is what tells the Teams meeting's apart. The same link
    // (a Teams invitation's "Join the meeting now") is no other.
    let escaped = html_escape(&url);
    let elsewhere = ["location", "locations", "body"].iter().any(|field| {
        obj.get(*field).is_some_and(|v| {
            v.to_string()
                .replace(&escaped, "")
                .replace(&url, "")
                .contains("://")
        })
    });
    if elsewhere {
        return;
    }
    match rng.below(6) {
        0 => return,
        1 => {
            obj.insert("onlineMeetingUrl".into(), Value::String(url));
        }
        2 => {
            let location = obj
                .entry("location")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(location) = location else {
                return;
            };
            let empty = location
                .get("displayName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                // As Zoom's and other add-ins write it: the link is the location.
                location.insert("displayName".into(), Value::String(url.clone()));
                location.insert("locationType".into(), json!("default"));
                location.insert("uniqueId".into(), Value::String(url));
                location.insert("uniqueIdType".into(), json!("private"));
                location.remove("address");
                location.remove("coordinates");
            } else {
                location.insert("locationUri".into(), Value::String(url));
            }
        }
        3 => {
            let entry = json!({
                "displayName": url,
                "locationType": "default",
                "uniqueId": url,
                "uniqueIdType": "private",
            });
            match obj.get_mut("locations").and_then(Value::as_array_mut) {
                Some(list) => list.push(entry),
                None => {
                    obj.insert("locations".into(), Value::Array(vec![entry]));
                }
            }
        }
        pick => {
            let href = if pick == 5 {
                safelink(&url, rng)
            } else {
                url.clone()
            };
            let link = format!(
                "<div><a href=\"{}\" target=\"_blank\">Join the meeting now</a></div>",
                html_escape(&href)
            );
            let body = obj
                .entry("body")
                .or_insert_with(|| json!({"contentType": "html", "content": ""}));
            if body.is_null() {
                *body = json!({"contentType": "html", "content": ""});
            }
            let content = body
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let content = match content.rfind("</body>") {
                Some(at) => format!("{}{link}{}", &content[..at], &content[at..]),
                None if content.is_empty() => format!("<html><body>{link}</body></html>"),
                None => format!("{content}{link}"),
            };
            body["content"] = Value::String(content);
            body["contentType"] = json!("html");
        }
    }
    // The link is not in onlineMeeting any more: Graph says null, or leaves it out.
    if rng.below(2) == 0 {
        obj.insert("onlineMeeting".into(), Value::Null);
    } else {
        obj.remove("onlineMeeting");
    }
}

fn is_str_ci(v: Option<&Value>, s: &str) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|x| x.eq_ignore_ascii_case(s))
}

/// Leaves `field` out (or sends it as null) half the time when `when` holds.
fn maybe_omit(obj: &mut Map<String, Value>, field: &str, when: bool, rng: &mut SplitMix) {
    if !when || !obj.contains_key(field) || rng.below(2) == 0 {
        return;
    }
    if rng.below(3) == 0 {
        obj.insert(field.to_owned(), Value::Null);
    } else {
        obj.remove(field);
    }
}

/// One event as Graph can send it (see the module documentation). The choices are drawn
/// per event and version (id and change key): the same event comes the same way until it
/// changes.
pub fn vary_event(seed: u64, obj: &mut Map<String, Value>) {
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let version = obj
        .get("changeKey")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut rng = SplitMix(mix(seed, &["event", &id, &version]));
    let scope = format!("{id}/{version}");

    move_join_link(obj, &mut rng);

    for field in [
        "showAs",
        "sensitivity",
        "type",
        "importance",
        "onlineMeetingProvider",
    ] {
        recase_field(seed, &scope, obj, field);
    }
    if let Some(rs) = obj.get_mut("responseStatus").and_then(Value::as_object_mut) {
        recase_field(seed, &scope, rs, "response");
        if rng.below(2) == 0 {
            rs.remove("time");
        }
    }
    if let Some(attendees) = obj.get_mut("attendees").and_then(Value::as_array_mut) {
        for (n, a) in attendees.iter_mut().enumerate() {
            let scope = format!("{scope}/attendee{n}");
            if let Some(a) = a.as_object_mut() {
                recase_field(seed, &scope, a, "type");
                if let Some(status) = a.get_mut("status").and_then(Value::as_object_mut) {
                    recase_field(seed, &scope, status, "response");
                    if rng.below(2) == 0 {
                        status.remove("time");
                    }
                }
            }
        }
    }

    // Fields whose absence says the same as their value.
    let categories_empty = obj
        .get("categories")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    maybe_omit(obj, "categories", categories_empty, &mut rng);
    let normal = is_str_ci(obj.get("sensitivity"), "normal");
    maybe_omit(obj, "sensitivity", normal, &mut rng);
    let reminder_off = obj.get("isReminderOn").and_then(Value::as_bool) == Some(false);
    maybe_omit(obj, "reminderMinutesBeforeStart", reminder_off, &mut rng);
    maybe_omit(obj, "isReminderOn", reminder_off, &mut rng);
    let preview_empty = obj
        .get("bodyPreview")
        .and_then(Value::as_str)
        .is_some_and(str::is_empty);
    maybe_omit(obj, "bodyPreview", preview_empty, &mut rng);
    let body_empty = obj
        .get("body")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .is_some_and(str::is_empty);
    maybe_omit(obj, "body", body_empty, &mut rng);
    let unknown_provider = is_str_ci(obj.get("onlineMeetingProvider"), "unknown");
    maybe_omit(obj, "onlineMeetingProvider", unknown_provider, &mut rng);
    let no_meeting = obj.get("onlineMeeting").is_some_and(Value::is_null);
    maybe_omit(obj, "onlineMeeting", no_meeting, &mut rng);
    let no_url = obj.get("onlineMeetingUrl").is_some_and(Value::is_null);
    maybe_omit(obj, "onlineMeetingUrl", no_url, &mut rng);
    let no_master = obj.get("seriesMasterId").is_some_and(Value::is_null);
    maybe_omit(obj, "seriesMasterId", no_master, &mut rng);
    let single = is_str_ci(obj.get("type"), "singleInstance");
    maybe_omit(obj, "type", single, &mut rng);
    for flag in ["isCancelled", "isAllDay"] {
        let off = obj.get(flag).and_then(Value::as_bool) == Some(false);
        maybe_omit(obj, flag, off, &mut rng);
    }
    let no_place = obj.get("location").is_some_and(|l| {
        l.get("displayName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && l.get("locationUri").is_none()
    });
    maybe_omit(obj, "location", no_place, &mut rng);
    // `locations` repeats `location` (the engine of a client reads links from it): left
    // out only while it holds nothing else.
    let location_only = match obj.get("locations").and_then(Value::as_array) {
        Some(list) => list.is_empty() || (list.len() == 1 && Some(&list[0]) == obj.get("location")),
        None => false,
    };
    maybe_omit(obj, "locations", location_only, &mut rng);
    // Fields that describe nothing the event means.
    for field in [
        "originalStartTimeZone",
        "originalEndTimeZone",
        "isOnlineMeeting",
        "hasAttachments",
        "allowNewTimeProposals",
        "isDraft",
        "hideAttendees",
        "occurrenceId",
        "transactionId",
        "responseRequested",
        "uid",
        "changeKey",
        "@odata.etag",
        "createdDateTime",
        "importance",
    ] {
        maybe_omit(obj, field, true, &mut rng);
    }
    // An instance's recurrence is null: null or absent say the same.
    let no_recurrence = obj.get("recurrence").is_some_and(Value::is_null);
    maybe_omit(obj, "recurrence", no_recurrence, &mut rng);
}

/// The variance layer on Graph's routes: throttles now and then, and rewrites successful
/// answers (see the module documentation). Without variance it passes everything through.
pub async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(seed) = st.variance_seed() else {
        return next.run(req).await;
    };
    let key = format!("{} {}", req.method(), req.uri());
    let now = st.automation().now();
    let throttle = st.variance().as_mut().and_then(|v| v.throttle(&key, now));
    if let Some(retry_after) = throttle {
        tracing::debug!(request = %key, retry_after, "variance: throttled");
        let mut resp =
            crate::graph::fault_status(StatusCode::TOO_MANY_REQUESTS, None, req.headers());
        if let Ok(v) = HeaderValue::from_str(&retry_after) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let answer = Answer::of(req.uri().path());
    let resp = next.run(req).await;
    let Some(answer) = answer.filter(|_| resp.status() == StatusCode::OK) else {
        return resp;
    };
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            vary_answer(seed, answer, &mut v);
            axum::body::Bytes::from(v.to_string())
        }
        Err(_) => bytes,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_path() {
        for (path, answer) in [
            ("/v1.0/me/calendarView/delta", Some(Answer::Page)),
            ("/me/calendarview", Some(Answer::Page)),
            ("/me/calendars/AAMk=/calendarView/delta", Some(Answer::Page)),
            ("/me/calendar/calendarView", Some(Answer::Page)),
            ("/me/events/AAMk", Some(Answer::Event)),
            ("/me/calendars", Some(Answer::Calendars)),
            ("/me/calendars/AAMk=", Some(Answer::Calendar)),
            ("/me/calendar", Some(Answer::Calendar)),
            ("/me/presence", Some(Answer::Presence)),
            ("/users/x/presence", Some(Answer::Presence)),
            ("/me/presence/setPresence", None),
            ("/me/mailboxSettings", Some(Answer::MailboxSettings)),
            ("/me", None),
            ("/me/translateExchangeIds", None),
        ] {
            assert_eq!(Answer::of(path), answer, "{path}");
        }
    }

    #[test]
    fn casings_are_graphs_and_stable_per_value() {
        let seen: HashSet<String> = (0..4).map(|n| recase("tentativelyAccepted", n)).collect();
        let expected: HashSet<String> = [
            "tentativelyAccepted",
            "TentativelyAccepted",
            "tentativelyaccepted",
            "TENTATIVELYACCEPTED",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(seen, expected);
        assert_eq!(mix(7, &["a", "b"]), mix(7, &["a", "b"]));
        assert_ne!(mix(7, &["a", "b"]), mix(8, &["a", "b"]));
        assert_ne!(mix(7, &["ab", ""]), mix(7, &["a", "b"]));
    }

    #[test]
    fn throttling_is_occasional_short_and_never_twice_in_a_row() {
        let now: DateTime<Utc> = "2026-11-24T08:00:00Z".parse().unwrap();
        let mut v = VarianceState::new(3);
        let mut throttled = 0;
        let mut values = HashSet::new();
        for n in 0..4000 {
            let key = format!("GET /v1.0/me/calendarView?page={}", n % 50);
            if let Some(r) = v.throttle(&key, now) {
                throttled += 1;
                // The same request's next attempt goes through.
                assert_eq!(v.throttle(&key, now), None);
                let wait = match r.parse::<f64>() {
                    Ok(secs) => secs,
                    Err(_) => {
                        let at = DateTime::parse_from_rfc2822(&r.replace("GMT", "+0000"))
                            .unwrap()
                            .with_timezone(&Utc);
                        (at - now).num_milliseconds() as f64 / 1000.0
                    }
                };
                assert!((0.0..=1.5).contains(&wait), "{r}");
                values.insert(r);
            }
        }
        assert!((150..=400).contains(&throttled), "{throttled} of 4000");
        assert_eq!(values.len(), 6, "{values:?}");
        assert!(
            values.contains("Tue, 24 Nov 2026 08:00:01 GMT"),
            "{values:?}"
        );
        // Deterministic: the same seed throttles the same requests.
        let run = |seed| {
            let mut v = VarianceState::new(seed);
            (0..200)
                .map(|n| v.throttle(&format!("GET /x?{n}"), now))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn pages_are_as_asked_or_larger() {
        let sizes: Vec<Option<usize>> = (0..200)
            .map(|n| page_size(9, 5, &format!("GET /x?{n}")))
            .collect();
        assert!(sizes.iter().any(Option::is_none));
        assert!(sizes.iter().flatten().all(|&s| s > 5));
        assert!(sizes.iter().flatten().any(|&s| s > 12));
    }
}
