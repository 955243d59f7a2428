//! A fake of Microsoft Graph v1.0, written from the reference pages of
//! microsoftgraph/microsoft-graph-docs-contrib (`api-reference/v1.0/api/*.md`) and the
//! concept pages on delta query and throttling. It answers with Microsoft's published
//! examples (`fixtures/`), checks request bodies as the pages specify (a body the page
//! does not allow gets `400 BadRequest`, and the refusal is recorded), and records every
//! request for the scenarios' assertions.
//!
//! Served:
//! - `GET /me` (`user-get.md`), `GET /me/calendars` (`user-list-calendars.md`),
//!   `GET /me/calendar`, `GET /me/calendars/{id}` (`calendar-get.md`);
//! - `GET /me/calendarView/delta` (`event-delta.md`, `concepts/delta-query-events.md`):
//!   rounds of pages linked by `@odata.nextLink` (`$skiptoken`) and closed by
//!   `@odata.deltaLink` (`$deltatoken`), removals as `{"id", "@removed"}`;
//!   `GET /me/calendars/{id}/calendarView/delta` where the calendar allows it (else
//!   `400`, as for a segment the service does not know); `GET …/calendarView` windows
//!   (`user-list-calendarview.md`) paged with `$skip`;
//! - `GET /me/presence` (`presence-get.md`) and `POST /me/presence/setPresence`,
//!   `clearPresence`, `setUserPreferredPresence`, `clearUserPreferredPresence`,
//!   `setStatusMessage` (their pages), also under `/users/{id}/presence`;
//! - `GET|PATCH /me/mailboxSettings` (`user-get-mailboxsettings.md`,
//!   `user-update-mailboxsettings.md`).
//!
//! Scripted behaviour, as Graph is documented to behave: pages of another size than the
//! client asked for (`odata.maxpagesize` is a preference), items in no particular order
//! and repeated across pages, a `429` with `Retry-After` (`concepts/throttling.md`).

use crate::fixtures::{self, PRIMARY_CALENDAR_ID};
use crate::identity::{self, Identity};
use crate::server::{Call, Incoming, Journal, Listener};
use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// How the fake pages a round.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    /// Items per page whatever the client prefers; `None`: `odata.maxpagesize`, else 10.
    pub page_size: Option<usize>,
    /// Latest start first (Graph documents no order).
    pub reverse: bool,
    /// Each page after the first starts with the last item of the page before (the same
    /// item can appear more than once in a round).
    pub repeat_last: bool,
}

/// A `429` the fake answers once, to the next request on `path`.
#[derive(Debug, Clone)]
struct Throttle {
    path: String,
    retry_after: String,
}

/// One calendar and its events.
#[derive(Debug, Clone)]
pub struct CalendarData {
    /// The calendar as `/me/calendars` lists it.
    pub listing: Value,
    /// Whether `/me/calendars/{id}/calendarView/delta` answers for it.
    pub delta: bool,
    /// id → (version of the last change, the event as Graph returns it).
    events: BTreeMap<String, (u64, Value)>,
    /// id → version of the removal.
    removed: BTreeMap<String, u64>,
}

impl CalendarData {
    pub fn new(listing: Value, delta: bool) -> Self {
        Self {
            listing,
            delta,
            events: BTreeMap::new(),
            removed: BTreeMap::new(),
        }
    }

    pub fn id(&self) -> String {
        self.listing["id"].as_str().unwrap_or_default().to_owned()
    }
}

/// A preferred presence: the user's own (set in Teams) or the app's.
#[derive(Debug, Clone, PartialEq)]
pub struct Preferred {
    pub availability: String,
    pub activity: String,
    pub by_user: bool,
    pub expires: Option<DateTime<Utc>>,
}

/// The user's presence, as Teams aggregates it (`presence-setpresence.md`: "User-configured
/// > app-configured"; among sessions "DoNotDisturb > Busy > Available > Away").
#[derive(Debug, Clone)]
pub struct Presence {
    pub id: String,
    /// The user's Teams clients.
    pub clients: (String, String),
    /// The app's session presences: session id → (availability, activity, expiry).
    pub sessions: BTreeMap<String, (String, String, DateTime<Utc>)>,
    pub preferred: Option<Preferred>,
    /// `presenceStatusMessage` as set (with its `publishedDateTime`), if any.
    pub status_message: Option<Value>,
    /// `GET /me/presence` spells availability and activity in lower case (Graph's enum
    /// spelling is not fixed; `mailboxSettings` shows "Scheduled" beside "alwaysEnabled").
    pub report_lowercase: bool,
}

impl Presence {
    fn documented() -> Self {
        let p = fixtures::load("presence.json");
        let text = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
        Self {
            id: text("id"),
            clients: (text("availability"), text("activity")),
            sessions: BTreeMap::new(),
            preferred: None,
            status_message: None,
            report_lowercase: false,
        }
    }

    /// The presence `GET /me/presence` reports at `now`.
    pub fn aggregate(&self, now: DateTime<Utc>) -> (String, String) {
        if let Some(p) = self
            .preferred
            .as_ref()
            .filter(|p| p.expires.is_none_or(|e| e > now))
        {
            return (p.availability.clone(), p.activity.clone());
        }
        let rank = |a: &str| match a {
            "DoNotDisturb" => 4,
            "Busy" => 3,
            "Available" => 2,
            "Away" => 1,
            _ => 0,
        };
        self.sessions
            .values()
            .filter(|(_, _, exp)| *exp > now)
            .map(|(a, b, _)| (a.clone(), b.clone()))
            .chain(std::iter::once(self.clients.clone()))
            .max_by_key(|(a, _)| rank(a))
            .unwrap_or_else(|| self.clients.clone())
    }

    /// The user sets their presence in Teams (a preferred presence of their own, which
    /// replaces the app's).
    pub fn user_sets(&mut self, availability: &str, activity: &str) {
        self.preferred = Some(Preferred {
            availability: availability.into(),
            activity: activity.into(),
            by_user: true,
            expires: None,
        });
    }

    /// The user types a status message in Teams (shaped as `presence-setstatusmessage.md`'s
    /// Example 3 shows one, with this text).
    pub fn user_sets_status_message(&mut self, text: &str) {
        let mut message =
            fixtures::load("presence-with-status-message.json")["statusMessage"].clone();
        message["message"]["content"] = json!(text);
        message["publishedDateTime"] = json!(Utc::now().to_rfc3339());
        self.status_message = Some(message);
    }

    /// The status message's text, if one is set.
    pub fn status_text(&self) -> Option<String> {
        self.status_message
            .as_ref()
            .and_then(|m| m["message"]["content"].as_str())
            .map(str::to_owned)
    }
}

/// The signed-in user's mailbox: profile, calendars, presence, mailbox settings.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub me: Value,
    /// What `GET /me/calendar` answers (the user's default calendar).
    pub me_calendar: Value,
    pub calendars: Vec<CalendarData>,
    pub presence: Presence,
    /// `mailboxSettings`, without `@odata.context`.
    pub settings: Value,
    pub paging: Paging,
    throttles: Vec<Throttle>,
    version: u64,
    /// Enum values accepted back verbatim although undocumented: those the fake served.
    served_values: Vec<String>,
}

impl Mailbox {
    /// Microsoft's examples as published: `/me/calendars` lists one calendar and says
    /// nothing of which is the default (no `isDefaultCalendar`); `/me/calendar` answers the
    /// `calendar-get.md` example (same id, and `"isDefaultCalendar": false` as printed).
    /// The automatic replies of `user-get-mailboxsettings.md` ("Scheduled") keep their
    /// text, with the schedule moved from March 2016 to the coming two weeks: the service
    /// takes a schedule for a future date range only.
    pub fn documented() -> Self {
        let list = fixtures::load("calendars.json");
        let calendars = list["value"]
            .as_array()
            .expect("calendars fixture lists calendars")
            .iter()
            .map(|c| CalendarData::new(c.clone(), true))
            .collect();
        let mut settings = fixtures::load("mailboxsettings.json");
        if let Some(o) = settings.as_object_mut() {
            o.remove("@odata.context");
        }
        let today = Utc::now()
            .date_naive()
            .and_hms_opt(7, 0, 0)
            .expect("07:00")
            .and_utc();
        settings["automaticRepliesSetting"]["scheduledStartDateTime"] =
            fixtures::graph_date_time(today + chrono::Duration::days(7));
        settings["automaticRepliesSetting"]["scheduledEndDateTime"] =
            fixtures::graph_date_time(today + chrono::Duration::days(21));
        let mut mailbox = Self {
            me: fixtures::load("me.json"),
            me_calendar: fixtures::load("calendar.json"),
            calendars,
            presence: Presence::documented(),
            settings,
            paging: Paging::default(),
            throttles: Vec::new(),
            version: 0,
            served_values: Vec::new(),
        };
        mailbox.remember_served_values();
        mailbox
    }

    /// As [`Mailbox::documented`], with the primary calendar marked
    /// `"isDefaultCalendar": true` in the list (the property the v1.0 `calendar` resource
    /// documents): for scenarios about other matters than finding the primary calendar.
    pub fn with_primary_marked() -> Self {
        let mut m = Self::documented();
        for c in &mut m.calendars {
            let primary = c.id() == PRIMARY_CALENDAR_ID;
            c.listing["isDefaultCalendar"] = json!(primary);
        }
        m
    }

    /// Replaces the automatic replies (e.g. with `automaticrepliessetting.json`).
    pub fn set_automatic_replies(&mut self, setting: Value) {
        let mut s = setting;
        if let Some(o) = s.as_object_mut() {
            o.remove("@odata.context");
        }
        self.settings["automaticRepliesSetting"] = s;
        self.remember_served_values();
    }

    fn remember_served_values(&mut self) {
        let s = &self.settings["automaticRepliesSetting"];
        for key in ["status", "externalAudience"] {
            if let Some(v) = s[key].as_str() {
                self.served_values.push(v.to_owned());
            }
        }
    }

    pub fn automatic_replies(&self) -> Value {
        self.settings["automaticRepliesSetting"].clone()
    }

    fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    pub fn add_calendar(&mut self, listing: Value, delta: bool) {
        self.calendars.push(CalendarData::new(listing, delta));
    }

    pub fn calendar_mut(&mut self, id: &str) -> &mut CalendarData {
        self.calendars
            .iter_mut()
            .find(|c| c.id() == id)
            .unwrap_or_else(|| panic!("no calendar {id} in the fake mailbox"))
    }

    /// Adds or changes an event (its `id` names it).
    pub fn put_event(&mut self, calendar_id: &str, event: Value) {
        let version = self.bump();
        let id = event["id"].as_str().expect("event has an id").to_owned();
        let cal = self.calendar_mut(calendar_id);
        cal.removed.remove(&id);
        cal.events.insert(id, (version, event));
    }

    pub fn remove_event(&mut self, calendar_id: &str, id: &str) {
        let version = self.bump();
        let cal = self.calendar_mut(calendar_id);
        cal.events.remove(id);
        cal.removed.insert(id.to_owned(), version);
    }

    /// The next request on `path` gets `429 Too Many Requests` with this `Retry-After`
    /// and the body of `concepts/throttling.md`'s sample response.
    pub fn throttle_once(&mut self, path: &str, retry_after: &str) {
        self.throttles.push(Throttle {
            path: path.to_owned(),
            retry_after: retry_after.to_owned(),
        });
    }

    fn primary_id(&self) -> String {
        self.me_calendar["id"]
            .as_str()
            .unwrap_or(PRIMARY_CALENDAR_ID)
            .to_owned()
    }

    fn calendar(&self, id: &str) -> Option<&CalendarData> {
        self.calendars.iter().find(|c| c.id() == id)
    }
}

pub(crate) struct Shared {
    identity: Arc<identity::Shared>,
    mailbox: Mutex<Mailbox>,
    journal: Journal,
    base: Mutex<String>,
}

/// The fake Graph on a loopback port.
pub struct Graph {
    shared: Arc<Shared>,
    listener: Mutex<Listener>,
}

impl Graph {
    /// Serves `mailbox` on a free port, accepting the access tokens `identity` issues.
    pub fn start(identity: &Identity, mailbox: Mailbox) -> Graph {
        let shared = Arc::new(Shared {
            identity: identity.shared.clone(),
            mailbox: Mutex::new(mailbox),
            journal: Journal::default(),
            base: Mutex::new(String::new()),
        });
        let listener = Self::listen(&shared, 0);
        Graph {
            shared,
            listener: Mutex::new(listener),
        }
    }

    fn listen(shared: &Arc<Shared>, port: u16) -> Listener {
        let s = shared.clone();
        let router = Router::new().fallback(move |request: Request<Body>| {
            let s = s.clone();
            async move { handle(s, request).await }
        });
        let listener = Listener::serve(router, port);
        *shared.base.lock().unwrap_or_else(|p| p.into_inner()) =
            format!("http://{}", listener.addr());
        listener
    }

    /// `http://127.0.0.1:PORT`: the `graph_endpoint` to configure.
    pub fn url(&self) -> String {
        self.shared
            .base
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn port(&self) -> u16 {
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .addr()
            .port()
    }

    pub fn journal(&self) -> &Journal {
        &self.shared.journal
    }

    /// The mailbox, to change or to inspect.
    pub fn mailbox(&self) -> MutexGuard<'_, Mailbox> {
        self.shared
            .mailbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the port: nothing answers there any more.
    pub fn stop(&self) {
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop();
    }

    /// Closes the port and serves the same mailbox on another one; returns the new URL.
    pub fn move_to_new_port(&self) -> String {
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        listener.stop();
        *listener = Self::listen(&self.shared, 0);
        drop(listener);
        self.url()
    }

    /// Requests the fake refused because the documentation does not allow them.
    pub fn refusals(&self) -> Vec<Call> {
        self.journal()
            .calls()
            .into_iter()
            .filter(|c| c.refused.is_some())
            .collect()
    }
}

// ---- answers --------------------------------------------------------------------------

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Graph's error body (`{"error": {"code", "message", "innerError"}}`).
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let now = Utc::now();
    json_response(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": format!("fidelity-{}", now.timestamp_nanos_opt().unwrap_or_default()),
                "client-request-id": format!("fidelity-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            }
        }}),
    )
}

type Answer = (Response, Option<String>);

fn refuse(code: &str, why: String) -> Answer {
    (graph_error(StatusCode::BAD_REQUEST, code, &why), Some(why))
}

fn ok(body: Value) -> Answer {
    (json_response(StatusCode::OK, body), None)
}

async fn handle(shared: Arc<Shared>, request: Request<Body>) -> Response {
    let incoming = Incoming::read(request).await;
    let (response, refused) = answer(&shared, &incoming);
    let status = response.status().as_u16();
    shared.journal.push(incoming.into_call(status, refused));
    response
}

pub(crate) fn percent_decode(segment: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn answer(shared: &Shared, req: &Incoming) -> Answer {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if !shared.identity.valid_access_token(token) {
        return (
            graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                if token.is_empty() {
                    "Access token is empty."
                } else {
                    "IDX14100: JWT is not well formed."
                },
            ),
            None,
        );
    }
    let base = shared
        .base
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut mailbox = shared.mailbox.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = mailbox.throttles.iter().position(|t| t.path == req.path) {
        let t = mailbox.throttles.remove(i);
        let mut response = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            fixtures::load("throttled-429.json"),
        );
        if let Ok(v) = HeaderValue::from_str(&t.retry_after) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return (response, None);
    }
    let Some(rest) = req.path.strip_prefix("/v1.0/") else {
        return refuse("BadRequest", format!("Invalid version: {}", req.path));
    };
    let mut segs: Vec<String> = rest.split('/').map(percent_decode).collect();
    // `/users/{id or UPN}/…` of the signed-in user is `/me/…`.
    if segs.len() >= 2 && segs[0].eq_ignore_ascii_case("users") {
        let me = &mailbox.me;
        let known = [
            &me["id"],
            &me["userPrincipalName"],
            &mailbox.presence.id.clone().into(),
        ]
        .iter()
        .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&segs[1])));
        if known {
            segs.splice(0..2, ["me".to_owned()]);
        }
    }
    let is = |s: &String, word: &str| s.eq_ignore_ascii_case(word);
    let method = req.method.as_str();
    let seg: Vec<&String> = segs.iter().collect();
    let mut response = match (method, seg.as_slice()) {
        ("GET", [me]) if is(me, "me") => ok(mailbox.me.clone()),
        ("GET", [me, cals]) if is(me, "me") && is(cals, "calendars") => ok(json!({
            "@odata.context": format!("{base}/v1.0/$metadata#me/calendars"),
            "value": mailbox.calendars.iter().map(|c| c.listing.clone()).collect::<Vec<_>>(),
        })),
        ("GET", [me, cal]) if is(me, "me") && is(cal, "calendar") => {
            ok(mailbox.me_calendar.clone())
        }
        ("GET", [me, cals, id]) if is(me, "me") && is(cals, "calendars") => {
            match mailbox.calendar(id) {
                Some(c) => ok(c.listing.clone()),
                None => not_found(),
            }
        }
        ("GET", [me, view, delta])
            if is(me, "me") && is(view, "calendarView") && is(delta, "delta") =>
        {
            let id = mailbox.primary_id();
            delta_page(&mailbox, &base, req, &id, "/v1.0/me/calendarView/delta")
        }
        ("GET", [me, cal, view, delta])
            if is(me, "me")
                && is(cal, "calendar")
                && is(view, "calendarView")
                && is(delta, "delta") =>
        {
            let id = mailbox.primary_id();
            delta_page(&mailbox, &base, req, &id, "/v1.0/me/calendarView/delta")
        }
        ("GET", [me, cals, id, view, delta])
            if is(me, "me")
                && is(cals, "calendars")
                && is(view, "calendarView")
                && is(delta, "delta") =>
        {
            match mailbox.calendar(id) {
                Some(c) if c.delta => {
                    let path = format!("/v1.0/me/calendars/{}/calendarView/delta", encode(id));
                    delta_page(&mailbox, &base, req, id, &path)
                }
                // What the service answers for a function it does not offer on this path.
                Some(_) => refuse(
                    "BadRequest",
                    "Resource not found for the segment 'delta'.".into(),
                ),
                None => not_found(),
            }
        }
        ("GET", [me, view]) if is(me, "me") && is(view, "calendarView") => {
            let id = mailbox.primary_id();
            window_page(&mailbox, &base, req, &id)
        }
        ("GET", [me, cal, view])
            if is(me, "me") && is(cal, "calendar") && is(view, "calendarView") =>
        {
            let id = mailbox.primary_id();
            window_page(&mailbox, &base, req, &id)
        }
        ("GET", [me, cals, id, view])
            if is(me, "me") && is(cals, "calendars") && is(view, "calendarView") =>
        {
            match mailbox.calendar(id) {
                Some(_) => window_page(&mailbox, &base, req, id),
                None => not_found(),
            }
        }
        ("GET", [me, events, id]) if is(me, "me") && is(events, "events") => {
            match mailbox
                .calendars
                .iter()
                .find_map(|c| c.events.get(id.as_str()))
            {
                Some((_, e)) => ok(e.clone()),
                None => not_found(),
            }
        }
        ("GET", [me, presence]) if is(me, "me") && is(presence, "presence") => {
            let p = &mailbox.presence;
            let (mut availability, mut activity) = p.aggregate(Utc::now());
            if p.report_lowercase {
                availability = availability.to_lowercase();
                activity = activity.to_lowercase();
            }
            let mut body = json!({
                "@odata.context": format!("{base}/v1.0/$metadata#users('{}')/presence/$entity", p.id),
                "id": p.id, "availability": availability, "activity": activity,
            });
            if let Some(m) = &p.status_message {
                body["statusMessage"] = m.clone();
            }
            ok(body)
        }
        ("POST", [me, presence, action]) if is(me, "me") && is(presence, "presence") => {
            presence_action(&mut mailbox, req, action)
        }
        ("GET", [me, settings]) if is(me, "me") && is(settings, "mailboxSettings") => {
            let mut body =
                json!({"@odata.context": format!("{base}/v1.0/$metadata#Me/mailboxSettings")});
            if let (Some(b), Some(s)) = (body.as_object_mut(), mailbox.settings.as_object()) {
                b.extend(s.clone());
            }
            ok(body)
        }
        ("GET", [me, settings, replies])
            if is(me, "me")
                && is(settings, "mailboxSettings")
                && is(replies, "automaticRepliesSetting") =>
        {
            let mut body = json!({"@odata.context": format!("{base}/v1.0/$metadata#Me/mailboxSettings/automaticRepliesSetting")});
            if let (Some(b), Some(s)) = (
                body.as_object_mut(),
                mailbox.automatic_replies().as_object(),
            ) {
                b.extend(s.clone());
            }
            ok(body)
        }
        ("PATCH", [me, settings]) if is(me, "me") && is(settings, "mailboxSettings") => {
            patch_mailbox_settings(&mut mailbox, req, &base)
        }
        _ => refuse(
            "BadRequest",
            format!(
                "Resource not found for the segment '{}'.",
                segs.last().cloned().unwrap_or_default()
            ),
        ),
    };
    if req
        .header("prefer")
        .is_some_and(|p| p.contains("outlook.timezone"))
        && response.0.status().is_success()
    {
        response.0.headers_mut().insert(
            "Preference-Applied",
            HeaderValue::from_static("outlook.timezone=\"UTC\""),
        );
    }
    response
}

fn not_found() -> Answer {
    (
        graph_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        ),
        None,
    )
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

// ---- calendar views -------------------------------------------------------------------

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // Without an offset the value is UTC (user-list-calendarview.md).
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

fn event_span(e: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = parse_instant(e["start"]["dateTime"].as_str()?)?;
    let end = parse_instant(e["end"]["dateTime"].as_str()?)?;
    Some((start, end))
}

fn overlaps(e: &Value, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    event_span(e).is_some_and(|(s, en)| s < end && (en > start || (s == en && s >= start)))
}

fn removed_item(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}})
}

/// The window a first request asks for: `startDateTime` and `endDateTime`, both required.
fn window_of(req: &Incoming) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let get = |name: &str| {
        req.param(name)
            .ok_or_else(|| format!("This request requires a time window specified by the query string parameters StartDateTime and EndDateTime (missing {name})."))
            .and_then(|v| parse_instant(&v).ok_or_else(|| format!("{name} {v:?} is not an ISO 8601 date and time")))
    };
    let (start, end) = (get("startDateTime")?, get("endDateTime")?);
    if end <= start {
        return Err("endDateTime must be after startDateTime".into());
    }
    Ok((start, end))
}

/// `odata.maxpagesize` from the `Prefer` header(s).
fn preferred_page_size(req: &Incoming) -> Option<usize> {
    req.headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.trim().parse().ok())
}

fn page_size(mailbox: &Mailbox, req: &Incoming) -> usize {
    mailbox
        .paging
        .page_size
        .or_else(|| preferred_page_size(req))
        .unwrap_or(10)
        .max(1)
}

/// The state a delta or skip token carries (opaque to clients).
struct RoundToken {
    calendar: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Changes after this version (0: all of it, a first round).
    since: u64,
    /// Changes up to this version (the round's snapshot).
    upto: u64,
    offset: usize,
}

impl RoundToken {
    fn encode(&self) -> String {
        let v = json!({"c": self.calendar, "s": self.start.to_rfc3339(), "e": self.end.to_rfc3339(),
            "f": self.since, "u": self.upto, "o": self.offset});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some(Self {
            calendar: v["c"].as_str()?.to_owned(),
            start: parse_instant(v["s"].as_str()?)?,
            end: parse_instant(v["e"].as_str()?)?,
            since: v["f"].as_u64()?,
            upto: v["u"].as_u64()?,
            offset: usize::try_from(v["o"].as_u64()?).ok()?,
        })
    }
}

fn sorted_by_start(items: &mut [Value], reverse: bool) {
    items.sort_by(|a, b| {
        let key = |e: &Value| {
            (
                event_span(e).map(|(s, _)| s),
                e["id"].as_str().unwrap_or_default().to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
    if reverse {
        items.reverse();
    }
}

/// One page of a calendarView delta round (`event-delta.md`).
fn delta_page(
    mailbox: &Mailbox,
    base: &str,
    req: &Incoming,
    calendar_id: &str,
    path: &str,
) -> Answer {
    let token = match (req.param("$skiptoken"), req.param("$deltatoken")) {
        (Some(t), _) => match RoundToken::decode(&t) {
            Some(t) => t,
            None => {
                return refuse(
                    "ErrorInvalidUrlQuery",
                    "The skip token is not valid.".into(),
                )
            }
        },
        (None, Some(t)) => match RoundToken::decode(&t) {
            // A new round: the changes since the last one.
            Some(t) => RoundToken {
                since: t.upto,
                upto: mailbox.version,
                offset: 0,
                ..t
            },
            None => {
                return refuse(
                    "ErrorInvalidUrlQuery",
                    "The delta token is not valid.".into(),
                )
            }
        },
        (None, None) => match window_of(req) {
            Ok((start, end)) => RoundToken {
                calendar: calendar_id.to_owned(),
                start,
                end,
                since: 0,
                upto: mailbox.version,
                offset: 0,
            },
            Err(why) => return refuse("ErrorInvalidParameter", why),
        },
    };
    if token.calendar != calendar_id {
        return refuse(
            "ErrorInvalidUrlQuery",
            "The token belongs to another calendar view.".into(),
        );
    }
    let Some(cal) = mailbox.calendar(calendar_id) else {
        return not_found();
    };
    let in_round = |v: u64| v > token.since && v <= token.upto;
    let mut items: Vec<Value> = Vec::new();
    for (id, (version, e)) in &cal.events {
        if !in_round(*version) {
            continue;
        }
        if overlaps(e, token.start, token.end) {
            items.push(e.clone());
        } else if token.since > 0 {
            // Moved out of the window: reported as removed (event-delta.md).
            items.push(removed_item(id));
        }
    }
    if token.since > 0 {
        for (id, version) in &cal.removed {
            if in_round(*version) {
                items.push(removed_item(id));
            }
        }
    }
    sorted_by_start(&mut items, mailbox.paging.reverse);
    let size = page_size(mailbox, req);
    let from = token.offset.min(items.len());
    let to = (from + size).min(items.len());
    let mut value: Vec<Value> = Vec::new();
    if mailbox.paging.repeat_last && from > 0 {
        value.push(items[from - 1].clone());
    }
    value.extend_from_slice(&items[from..to]);
    let mut body = json!({
        "@odata.context": format!("{base}/v1.0/$metadata#Collection(event)"),
        "value": value,
    });
    if to < items.len() {
        let next = RoundToken {
            offset: to,
            ..token
        };
        body["@odata.nextLink"] = json!(format!("{base}{path}?$skiptoken={}", next.encode()));
    } else {
        let next = RoundToken {
            since: token.upto,
            offset: 0,
            ..token
        };
        body["@odata.deltaLink"] = json!(format!("{base}{path}?$deltatoken={}", next.encode()));
    }
    ok(body)
}

/// One page of a calendarView window (`user-list-calendarview.md`), paged with `$skip`.
fn window_page(mailbox: &Mailbox, base: &str, req: &Incoming, calendar_id: &str) -> Answer {
    let (start, end) = match window_of(req) {
        Ok(w) => w,
        Err(why) => return refuse("ErrorInvalidParameter", why),
    };
    let Some(cal) = mailbox.calendar(calendar_id) else {
        return not_found();
    };
    let mut items: Vec<Value> = cal
        .events
        .values()
        .map(|(_, e)| e)
        .filter(|e| overlaps(e, start, end))
        .cloned()
        .collect();
    sorted_by_start(&mut items, mailbox.paging.reverse);
    let skip: usize = req.param("$skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let size = page_size(mailbox, req);
    let from = skip.min(items.len());
    let to = (from + size).min(items.len());
    let mut body = json!({
        "@odata.context": format!("{base}/v1.0/$metadata#users('{}')/calendars('{}')/calendarView", mailbox.me["id"].as_str().unwrap_or(""), calendar_id),
        "value": items[from..to].to_vec(),
    });
    if to < items.len() {
        let mut next = url::Url::parse(&format!("{base}{}", req.path)).expect("own URL");
        next.query_pairs_mut()
            .append_pair("startDateTime", &start.to_rfc3339())
            .append_pair("endDateTime", &end.to_rfc3339())
            .append_pair("$skip", &to.to_string());
        body["@odata.nextLink"] = json!(next.to_string());
    }
    ok(body)
}

// ---- presence -------------------------------------------------------------------------

/// ISO 8601 duration (`PT1H30M`, `PT5M`, `P1D`) in seconds.
fn iso_duration(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0i64;
    let mut number = String::new();
    for (part, units) in [
        (days, &[('D', 86_400)][..]),
        (time, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c)?.1;
            let n: f64 = number.parse().ok()?;
            number.clear();
            total += (n * unit as f64) as i64;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (text != "P" && text != "PT").then_some(total)
}

fn object(body: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err("The request body must be a JSON object.".into()),
        Err(e) => Err(format!("The request body is not JSON: {e}")),
    }
}

fn only_keys(o: &Map<String, Value>, allowed: &[&str], of: &str) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("The property '{k}' does not exist on type '{of}'.")),
        None => Ok(()),
    }
}

fn text_field<'a>(o: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    o.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("'{key}' is required and must be a string."))
}

/// The pairs `presence-setpresence.md` lists.
const SESSION_PAIRS: [(&str, &str); 4] = [
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
];

/// The pairs `presence-setuserpreferredpresence.md` lists.
const PREFERRED_PAIRS: [(&str, &str); 6] = [
    ("Available", "Available"),
    ("Busy", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("BeRightBack", "BeRightBack"),
    ("Away", "Away"),
    ("Offline", "OffWork"),
];

fn check_pair(
    o: &Map<String, Value>,
    pairs: &[(&str, &str)],
    call: &str,
) -> Result<(String, String), String> {
    let availability = text_field(o, "availability")?;
    let activity = text_field(o, "activity")?;
    if pairs.contains(&(availability, activity)) {
        Ok((availability.to_owned(), activity.to_owned()))
    } else {
        Err(format!(
            "{availability}/{activity} is not a combination {call} supports."
        ))
    }
}

fn check_json_content_type(req: &Incoming) -> Result<(), String> {
    if req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        Ok(())
    } else {
        Err("Content-Type: application/json is required.".into())
    }
}

fn presence_action(mailbox: &mut Mailbox, req: &Incoming, action: &str) -> Answer {
    let result = check_json_content_type(req).and_then(|()| {
        let now = Utc::now();
        let p = &mut mailbox.presence;
        match action {
            "setPresence" => {
                let o = object(&req.body)?;
                only_keys(
                    &o,
                    &[
                        "sessionId",
                        "availability",
                        "activity",
                        "expirationDuration",
                    ],
                    "setPresence",
                )?;
                let session = text_field(&o, "sessionId")?;
                if session != identity::CLIENT_ID {
                    return Err(format!(
                        "sessionId must be the application's id, not {session:?}."
                    ));
                }
                let (a, b) = check_pair(&o, &SESSION_PAIRS, "setPresence")?;
                let secs = match o.get("expirationDuration") {
                    None => 300,
                    Some(v) => v.as_str().and_then(iso_duration).ok_or_else(|| {
                        format!("expirationDuration {v} is not an ISO 8601 duration.")
                    })?,
                };
                if !(300..=4 * 3600).contains(&secs) {
                    return Err(format!(
                        "expirationDuration must be PT5M to PT4H, not {secs} s."
                    ));
                }
                p.sessions.insert(
                    session.to_owned(),
                    (a, b, now + chrono::Duration::seconds(secs)),
                );
                Ok(())
            }
            "clearPresence" => {
                let o = object(&req.body)?;
                only_keys(&o, &["sessionId"], "clearPresence")?;
                let session = text_field(&o, "sessionId")?;
                if p.sessions.remove(session).is_none() {
                    // Documented: 404 when the session does not exist.
                    return Err("404".into());
                }
                Ok(())
            }
            "setUserPreferredPresence" => {
                let o = object(&req.body)?;
                only_keys(
                    &o,
                    &["availability", "activity", "expirationDuration"],
                    "setUserPreferredPresence",
                )?;
                let (a, b) = check_pair(&o, &PREFERRED_PAIRS, "setUserPreferredPresence")?;
                let expires = match o.get("expirationDuration") {
                    None => None,
                    Some(v) => Some(
                        now + chrono::Duration::seconds(
                            v.as_str()
                                .and_then(iso_duration)
                                .filter(|s| *s > 0)
                                .ok_or_else(|| {
                                    format!("expirationDuration {v} is not an ISO 8601 duration.")
                                })?,
                        ),
                    ),
                };
                p.preferred = Some(Preferred {
                    availability: a,
                    activity: b,
                    by_user: false,
                    expires,
                });
                Ok(())
            }
            "clearUserPreferredPresence" => {
                // "supply an empty JSON object {}"
                let o = object(&req.body)?;
                if !o.is_empty() {
                    return Err("clearUserPreferredPresence takes an empty JSON object {}.".into());
                }
                p.preferred = None;
                Ok(())
            }
            "setStatusMessage" => {
                let o = object(&req.body)?;
                only_keys(&o, &["statusMessage"], "setStatusMessage")?;
                let status = o
                    .get("statusMessage")
                    .and_then(Value::as_object)
                    .ok_or("'statusMessage' is required and must be a presenceStatusMessage.")?;
                only_keys(
                    status,
                    &["message", "expiryDateTime"],
                    "microsoft.graph.presenceStatusMessage",
                )?;
                let message = status
                    .get("message")
                    .and_then(Value::as_object)
                    .ok_or("'statusMessage.message' is required and must be an itemBody.")?;
                only_keys(
                    message,
                    &["content", "contentType"],
                    "microsoft.graph.itemBody",
                )?;
                let content = text_field(message, "content")?;
                let kind = text_field(message, "contentType")?;
                if !kind.eq_ignore_ascii_case("text") && !kind.eq_ignore_ascii_case("html") {
                    return Err(format!("contentType must be text or html, not {kind:?}."));
                }
                if let Some(expiry) = status.get("expiryDateTime") {
                    check_date_time_time_zone(expiry, "statusMessage.expiryDateTime")?;
                }
                if content.is_empty() {
                    p.status_message = None;
                } else {
                    let mut m = Value::Object(status.clone());
                    m["publishedDateTime"] = json!(now.to_rfc3339());
                    p.status_message = Some(m);
                }
                Ok(())
            }
            other => Err(format!("Resource not found for the segment '{other}'.")),
        }
    });
    match result {
        Ok(()) => (StatusCode::OK.into_response(), None),
        Err(why) if why == "404" => (
            graph_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The presence session does not exist.",
            ),
            Some("clearPresence for a session that does not exist".into()),
        ),
        Err(why) => refuse("BadRequest", why),
    }
}

// ---- mailbox settings -----------------------------------------------------------------

fn check_date_time_time_zone(v: &Value, key: &str) -> Result<(), String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("{key} must be a dateTimeTimeZone object."))?;
    only_keys(
        o,
        &["dateTime", "timeZone"],
        "microsoft.graph.dateTimeTimeZone",
    )?;
    let text = text_field(o, "dateTime")?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| format!("{key}.dateTime {text:?} is not a date and time."))?;
    text_field(o, "timeZone")?;
    Ok(())
}

/// `user-update-mailboxsettings.md`: the writable properties; `automaticRepliesSetting`
/// as `automaticrepliessetting.md` describes it. Enum values are taken without case (the
/// service itself answers "Scheduled"), and a value the fake served is taken back
/// verbatim even when the documentation does not list it.
fn patch_mailbox_settings(mailbox: &mut Mailbox, req: &Incoming, base: &str) -> Answer {
    let checked = check_json_content_type(req)
        .and_then(|()| object(&req.body))
        .and_then(|o| {
            only_keys(
                &o,
                &[
                    "@odata.context",
                    "automaticRepliesSetting",
                    "dateFormat",
                    "delegateMeetingMessageDeliveryOptions",
                    "language",
                    "timeFormat",
                    "timeZone",
                    "workingHours",
                ],
                "microsoft.graph.mailboxSettings",
            )?;
            if let Some(r) = o.get("automaticRepliesSetting") {
                let r = r
                    .as_object()
                    .ok_or("automaticRepliesSetting must be an object.")?;
                only_keys(
                    r,
                    &[
                        "status",
                        "externalAudience",
                        "scheduledStartDateTime",
                        "scheduledEndDateTime",
                        "internalReplyMessage",
                        "externalReplyMessage",
                    ],
                    "microsoft.graph.automaticRepliesSetting",
                )?;
                let check_enum = |key: &str, documented: &[&str]| -> Result<(), String> {
                    match r.get(key) {
                        None => Ok(()),
                        Some(Value::String(v))
                            if documented.iter().any(|d| d.eq_ignore_ascii_case(v))
                                || mailbox.served_values.contains(v) =>
                        {
                            Ok(())
                        }
                        Some(v) => Err(format!(
                            "Requested value {v} was not found for {key} (one of {}).",
                            documented.join(", ")
                        )),
                    }
                };
                check_enum("status", &["disabled", "alwaysEnabled", "scheduled"])?;
                check_enum("externalAudience", &["none", "contactsOnly", "all"])?;
                for key in ["scheduledStartDateTime", "scheduledEndDateTime"] {
                    if let Some(v) = r.get(key) {
                        check_date_time_time_zone(v, key)?;
                    }
                }
                for key in ["internalReplyMessage", "externalReplyMessage"] {
                    if r.get(key).is_some_and(|v| !v.is_string()) {
                        return Err(format!("{key} must be a string."));
                    }
                }
            }
            Ok(o)
        });
    let o = match checked {
        Ok(o) => o,
        Err(why) => return refuse("RequestBodyRead", why),
    };
    let mut updated =
        json!({"@odata.context": format!("{base}/v1.0/$metadata#Me/mailboxSettings")});
    for (key, value) in o {
        if key == "@odata.context" {
            continue;
        }
        if key == "automaticRepliesSetting" {
            let current = &mut mailbox.settings["automaticRepliesSetting"];
            if let (Some(cur), Some(new)) = (current.as_object_mut(), value.as_object()) {
                for (k, v) in new {
                    cur.insert(k.clone(), v.clone());
                }
            }
            updated[&key] = mailbox.settings["automaticRepliesSetting"].clone();
        } else {
            mailbox.settings[&key] = value.clone();
            updated[&key] = value;
        }
    }
    ok(updated)
}
