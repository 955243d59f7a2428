//! Microsoft Graph v1.0: `/me`, calendars, calendarView (+ delta), events and
//! `translateExchangeIds` (in `translate`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{OriginalUri, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::faults::{shuffle_round, DeltaEntry, GraphAction, PageAction};
use crate::mailbox::{master_json, GraphEvent, Instance, Mailbox, Resolved};
use crate::paging::{self, DeltaOrder, Prefer, SyncState, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::state::{AppState, DeltaItem, Shared};
use crate::tz;

mod translate;

pub fn routes(state: AppState) -> Router<AppState> {
    let me = Router::new()
        .route("/me", get(me))
        .route("/me/calendars", get(list_calendars))
        .route("/me/calendars/{id}", get(get_calendar))
        .route("/me/calendar", get(primary_calendar))
        .route("/me/calendarView/delta", get(calendar_view_delta))
        .route("/me/calendarview/delta", get(calendar_view_delta))
        .route("/me/calendarView", get(primary_calendar_view))
        .route("/me/calendarview", get(primary_calendar_view))
        .route("/me/calendar/calendarView", get(primary_calendar_view))
        .route("/me/calendars/{id}/calendarView", get(calendar_view))
        .route("/me/calendars/{id}/calendarview", get(calendar_view))
        .route(
            "/me/calendars/{id}/calendarView/delta",
            get(calendar_view_delta_of),
        )
        .route(
            "/me/calendars/{id}/calendarview/delta",
            get(calendar_view_delta_of),
        )
        .route("/me/events/{id}", get(get_event))
        .route(
            "/users/{user}/calendarView/delta",
            get(user_calendar_view_delta),
        )
        .route(
            "/groups/{group}/transitiveMembers",
            get(group_transitive_members),
        )
        .route(
            "/groups/{group}/transitivemembers",
            get(group_transitive_members),
        )
        .route(
            "/users/{user}/calendarview/delta",
            get(user_calendar_view_delta),
        )
        .route(
            "/me/translateExchangeIds",
            post(translate::translate_exchange_ids),
        )
        .route(
            "/me/translateexchangeids",
            post(translate::translate_exchange_ids),
        )
        .merge(crate::presence::routes(state.clone()))
        .merge(crate::subscriptions::routes())
        .fallback(unknown_segment)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::variance::layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), graph_faults))
        // After authentication (a 401 consumes nothing), per request (inner ones of a batch too).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::throttling::layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        // Inside the in-flight count: a request waiting out its latency is in flight.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::latency::delay,
        ))
        .layer(middleware::from_fn_with_state(state, track_concurrency));
    Router::new().nest("/v1.0", me)
}

// ---- errors ------------------------------------------------------------------------------

/// A Graph error response: `{"error": {"code", "message", "innerError": {...}}}`.
pub fn graph_error(
    status: StatusCode,
    code: &str,
    message: &str,
    req_headers: &HeaderMap,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = client_request_id(req_headers);
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": client_request_id,
            }
        }
    });
    let mut resp = (status, odata_json(&body)).into_response();
    set_ids(resp.headers_mut(), &request_id, &client_request_id);
    resp
}

fn client_request_id(h: &HeaderMap) -> String {
    h.get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn set_ids(h: &mut HeaderMap, request_id: &str, client_request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(client_request_id) {
        h.insert("client-request-id", v);
    }
}

/// A JSON body with Graph's content type.
fn odata_json(v: &Value) -> impl IntoResponse {
    odata_body(v.to_string())
}

fn odata_body(body: String) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        )],
        body,
    )
}

fn ok_json(v: &Value, req_headers: &HeaderMap, applied: &[String]) -> Response {
    ok_body(v.to_string(), req_headers, applied)
}

/// A page of a collection, written straight from the events (no `Value` per event).
struct PageJson<'a> {
    context: String,
    next_link: Option<String>,
    delta_link: Option<String>,
    value: Vec<PageItem<'a>>,
}

enum PageItem<'a> {
    Event(Box<GraphEvent<'a>>),
    Removed(Value),
}

impl PageJson<'_> {
    fn render(&self) -> String {
        let lit = |s: &str| Value::String(s.to_string()).to_string();
        let mut out = String::with_capacity(512 + self.value.len() * 2500);
        out.push_str("{\"@odata.context\":");
        out.push_str(&lit(&self.context));
        if let Some(n) = &self.next_link {
            out.push_str(",\"@odata.nextLink\":");
            out.push_str(&lit(n));
        }
        if let Some(d) = &self.delta_link {
            out.push_str(",\"@odata.deltaLink\":");
            out.push_str(&lit(d));
        }
        out.push_str(",\"value\":[");
        for (i, item) in self.value.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match item {
                PageItem::Event(e) => e.write_json(&mut out),
                PageItem::Removed(v) => out.push_str(&v.to_string()),
            }
        }
        out.push_str("]}");
        out
    }
}

fn ok_page(page: &PageJson<'_>, req_headers: &HeaderMap, applied: &[String]) -> Response {
    ok_body(page.render(), req_headers, applied)
}

fn ok_body(body: String, req_headers: &HeaderMap, applied: &[String]) -> Response {
    let mut resp = (StatusCode::OK, odata_body(body)).into_response();
    set_ids(
        resp.headers_mut(),
        &uuid::Uuid::new_v4().to_string(),
        &client_request_id(req_headers),
    );
    if !applied.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&applied.join(",")) {
            resp.headers_mut().insert("preference-applied", v);
        }
    }
    resp
}

async fn unknown_segment(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let last = uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{last}'."),
        &headers,
    )
}

// ---- authentication ----------------------------------------------------------------------

/// `/me` and below (the router is nested under `/v1.0`, which the request's path keeps).
fn is_me_path(path: &str) -> bool {
    let path = path.strip_prefix("/v1.0").unwrap_or(path);
    path == "/me" || path.starts_with("/me/")
}

async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty());
    let problem = match bearer {
        None => Some("Access token is empty."),
        Some(token) => {
            let auth = st.auth();
            match auth.access.get(&token) {
                None => Some("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format."),
                Some(t) if t.expires <= Instant::now() => Some("Lifetime validation failed, the token is expired."),
                Some(t) if t.app_only && is_me_path(req.uri().path()) => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "/me request is only valid with delegated authentication flow.",
                        headers,
                    );
                }
                Some(_) => None,
            }
        }
    };
    if let Some(message) = problem {
        let mut resp = graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
            headers,
        );
        let www = format!(
            "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            st.base_url
        );
        if let Ok(v) = HeaderValue::from_str(&www) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return resp;
    }
    next.run(req).await
}

// ---- faults and instrumentation ----------------------------------------------------------

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the Graph requests in flight (across authentication, faults and handler; a
/// request dropped by its client leaves the count too) and keeps the highest count seen.
async fn track_concurrency(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let now = st.graph_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.graph_max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&st.graph_in_flight);
    next.run(req).await
}

/// The counted Graph faults (after authentication: a request without a valid token gets
/// its 401 and consumes nothing).
async fn graph_faults(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let action = st.faults().take_graph();
    let Some(action) = action else {
        return next.run(req).await;
    };
    let headers = req.headers().clone();
    tracing::debug!(?action, path = %req.uri().path(), "graph fault");
    match action {
        GraphAction::Throttle { retry_after_secs } => fault_status(
            StatusCode::TOO_MANY_REQUESTS,
            Some(retry_after_secs),
            &headers,
        ),
        GraphAction::ThrottleWith { retry_after } => {
            let mut resp = fault_status(StatusCode::TOO_MANY_REQUESTS, None, &headers);
            if let Ok(v) = HeaderValue::from_str(&retry_after) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        GraphAction::Unavailable {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            fault_status(status, retry_after_secs, &headers)
        }
        GraphAction::Slow { delay_ms } => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                () = st.stopped() => {}
            }
            next.run(req).await
        }
        GraphAction::Hang => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                () = st.stopped() => {}
            }
            fault_status(StatusCode::SERVICE_UNAVAILABLE, None, &headers)
        }
        GraphAction::Truncate => {
            let resp = next.run(req).await;
            let (mut parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(cut))
        }
        GraphAction::Oversize { bytes: target } => {
            let resp = next.run(req).await;
            if resp.status() != StatusCode::OK {
                return resp;
            }
            let (mut parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let padded = match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(mut obj)) => {
                    let target = usize::try_from(target).unwrap_or(usize::MAX);
                    let mut pad = 0usize;
                    loop {
                        obj.insert("@emulator.padding".into(), Value::String(" ".repeat(pad)));
                        let out = Value::Object(obj.clone()).to_string();
                        if out.len() >= target {
                            break out.into_bytes();
                        }
                        pad += target - out.len();
                    }
                }
                _ => bytes.to_vec(),
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(padded))
        }
    }
}

/// A failure status shaped like the service's: 429 is Outlook's per-mailbox throttling
/// (`ApplicationThrottled`), 5xx are Graph's transient errors; 410 is a lost sync state.
pub(crate) fn fault_status(
    status: StatusCode,
    retry_after_secs: Option<u64>,
    headers: &HeaderMap,
) -> Response {
    let (code, message) = match status.as_u16() {
        429 => (
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
        ),
        410 => (
            "SyncStateNotFound",
            "The sync state is not found. Start a new synchronization.",
        ),
        500 => ("generalException", "An unspecified error has occurred."),
        503 => (
            "serviceNotAvailable",
            "The service is temporarily unavailable for maintenance or is overloaded. Try the request again after a delay.",
        ),
        504 => ("UnknownError", "The gateway timed out waiting for the service."),
        _ => ("UnknownError", "The request failed."),
    };
    let mut resp = graph_error(status, code, message, headers);
    if let Some(secs) = retry_after_secs {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// 410 Gone for a sync state the service no longer has, with a `Location` that starts a
/// fresh round over the same window.
fn sync_state_gone(
    route: &str,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
    headers: &HeaderMap,
) -> Response {
    let fresh = format!(
        "{}?startDateTime={}&endDateTime={}",
        route,
        ws.format("%Y-%m-%dT%H:%M:%SZ"),
        we.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut resp = fault_status(StatusCode::GONE, None, headers);
    if let Ok(v) = HeaderValue::from_str(&fresh) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

// ---- views (cached: history is immutable, so a view at a sequence never changes) ---------

/// `scope`: whose mailbox (empty for the signed-in user's), part of the cache key.
fn cached_view(
    st: &Shared,
    mb: &Mailbox,
    scope: &str,
    calendar_id: &str,
    seq: u64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Arc<Vec<Instance>> {
    let key = (format!("{scope}{calendar_id}"), seq, from, to);
    if let Some(v) = st.views().get(&key) {
        return v;
    }
    let v = Arc::new(mb.view_at(calendar_id, seq, from, to));
    st.views().put(key, v.clone());
    v
}

/// Whether two versions of an instance look the same to a client.
fn same_instance(a: &Instance, b: &Instance) -> bool {
    if Arc::ptr_eq(&a.record, &b.record)
        && a.original_date == b.original_date
        && a.override_ == b.override_
        && a.start == b.start
        && a.end == b.end
    {
        return true;
    }
    a.to_json(Tz::UTC, "UTC") == b.to_json(Tz::UTC, "UTC")
}

/// The items of a delta round: everything in the window (initial round) or what changed
/// in it between two sequences, removals last.
#[allow(clippy::too_many_arguments)]
fn round_items(
    st: &Shared,
    mb: &Mailbox,
    scope: &str,
    calendar_id: &str,
    from_seq: Option<u64>,
    to_seq: u64,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
) -> Arc<Vec<DeltaItem>> {
    let key = (format!("{scope}{calendar_id}"), from_seq, to_seq, ws, we);
    if let Some(v) = st.rounds().get(&key) {
        return v;
    }
    let now = cached_view(st, mb, scope, calendar_id, to_seq, ws, we);
    let items: Vec<DeltaItem> = match from_seq {
        None => now.iter().cloned().map(DeltaItem::Present).collect(),
        Some(from_seq) => {
            let prior = cached_view(st, mb, scope, calendar_id, from_seq, ws, we);
            let prior_by_id: HashMap<&str, &Instance> =
                prior.iter().map(|i| (i.id.as_str(), i)).collect();
            let now_ids: HashSet<&str> = now.iter().map(|i| i.id.as_str()).collect();
            let mut out: Vec<DeltaItem> = now
                .iter()
                .filter(|i| {
                    prior_by_id
                        .get(i.id.as_str())
                        .is_none_or(|p| !same_instance(p, i))
                })
                .cloned()
                .map(DeltaItem::Present)
                .collect();
            let mut gone: Vec<&str> = prior_by_id
                .keys()
                .copied()
                .filter(|id| !now_ids.contains(id))
                .collect();
            gone.sort_unstable();
            out.extend(
                gone.into_iter()
                    .map(|id| DeltaItem::Removed(id.to_string())),
            );
            out
        }
    };
    let items = Arc::new(items);
    st.rounds().put(key, items.clone());
    items
}

// ---- helpers -----------------------------------------------------------------------------

fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// Parses a calendarView bound: ISO 8601 with offset; without an offset it is UTC.
fn parse_bound(s: &str) -> Option<DateTime<Utc>> {
    // A '+' of an offset arrives as a space when the client did not percent-encode it.
    let s = s.trim().replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(n.and_utc());
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M") {
        return Some(n.and_utc());
    }
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

// The error is a ready-made HTTP response, returned once per request.
#[allow(clippy::result_large_err)]
fn parse_window(
    q: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Response> {
    let missing = || {
        graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
            headers,
        )
    };
    let start = paging::query_param(q, "startDateTime").ok_or_else(missing)?;
    let end = paging::query_param(q, "endDateTime").ok_or_else(missing)?;
    let bad = |name: &str, v: &str| {
        graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            &format!("The value '{v}' of parameter '{name}' is invalid."),
            headers,
        )
    };
    let s = parse_bound(start).ok_or_else(|| bad("StartDateTime", start))?;
    let e = parse_bound(end).ok_or_else(|| bad("EndDateTime", end))?;
    Ok((s, e))
}

/// The output zone from `Prefer: outlook.timezone` (UTC by default) and the preference to
/// report in `Preference-Applied`.
// The error is a ready-made HTTP response, returned once per request.
#[allow(clippy::result_large_err)]
fn output_zone(
    prefer: &Prefer,
    headers: &HeaderMap,
) -> Result<(Tz, String, Option<String>), Response> {
    match &prefer.timezone {
        None => Ok((Tz::UTC, "UTC".into(), None)),
        Some(name) => match tz::resolve(name) {
            Some(zone) => Ok((zone, name.clone(), Some(format!("outlook.timezone=\"{name}\"")))),
            None => Err(graph_error(
                StatusCode::BAD_REQUEST,
                "TimeZoneNotSupportedException",
                &format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."),
                headers,
            )),
        },
    }
}

fn event_json(inst: &Instance, zone: Tz, label: &str) -> Value {
    inst.to_json(zone, label)
}

fn removed_json(id: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.event", "id": id, "@removed": { "reason": "deleted" } })
}

// ---- handlers ----------------------------------------------------------------------------

async fn me(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let user = st.mailbox().user.clone();
    let mut v = user.to_json();
    v["@odata.context"] = Value::String(format!("{}/v1.0/$metadata#users/$entity", st.base_url));
    ok_json(&v, &headers, &[])
}

async fn list_calendars(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let omit_default = st.faults().omit_is_default_calendar;
    let mb = st.mailbox();
    let value: Vec<Value> = mb
        .calendars
        .iter()
        .map(|c| {
            let mut v = c.to_json(&mb.user);
            if omit_default {
                if let Some(obj) = v.as_object_mut() {
                    obj.remove("isDefaultCalendar");
                }
            }
            v
        })
        .collect();
    let v = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/calendars", st.base_url, mb.user.id),
        "value": value,
    });
    ok_json(&v, &headers, &[])
}

async fn get_calendar(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mb = st.mailbox();
    match mb.calendar(&id) {
        Some(c) => {
            let mut v = c.to_json(&mb.user);
            v["@odata.context"] = Value::String(format!(
                "{}/v1.0/$metadata#users('{}')/calendars/$entity",
                st.base_url, mb.user.id
            ));
            ok_json(&v, &headers, &[])
        }
        None => not_found(&headers),
    }
}

async fn primary_calendar(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let id = st.mailbox().primary_calendar_id();
    get_calendar(State(st), headers, Path(id)).await
}

fn not_found(headers: &HeaderMap) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
        headers,
    )
}

async fn get_event(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let prefer = paging::parse_prefer(&headers);
    let (zone, label, applied) = match output_zone(&prefer, &headers) {
        Ok(z) => z,
        Err(r) => return r,
    };
    let mb = st.mailbox();
    let mut v = match mb.resolve(&id) {
        Some(Resolved::Item(r)) if r.recurrence.is_some() => master_json(&r, zone, &label),
        Some(_) => match mb.instance(&id) {
            Some(inst) => event_json(&inst, zone, &label),
            None => return not_found(&headers),
        },
        None => {
            return graph_error(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
                &headers,
            )
        }
    };
    v["@odata.context"] = Value::String(format!(
        "{}/v1.0/$metadata#users('{}')/events/$entity",
        st.base_url, mb.user.id
    ));
    ok_json(&v, &headers, &applied.into_iter().collect::<Vec<_>>())
}

async fn primary_calendar_view(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: OriginalUri,
    raw: RawQuery,
) -> Response {
    let id = st.mailbox().primary_calendar_id();
    calendar_view(State(st), headers, uri, Path(id), raw).await
}

/// Query parameter carrying a fault-bound round through calendarView's `$skip` links (only
/// present while a round fault is active; nextLinks are opaque to clients).
const ROUND_PARAM: &str = "emulatorRound";

/// `GET .../calendarView?startDateTime&endDateTime[&$top&$skip]`: the expanded view, paged
/// with `$skip` in `@odata.nextLink` (not delta). The page size is `$top`, else
/// `Prefer: odata.maxpagesize`, else 10; `$top` is kept in nextLinks, a preference is not
/// (the client sends its `Prefer` header with every request).
async fn calendar_view(
    State(st): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(calendar_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = parse_query(raw.as_deref());
    let prefer = paging::parse_prefer(&headers);
    let (zone, label, tz_applied) = match output_zone(&prefer, &headers) {
        Ok(z) => z,
        Err(r) => return r,
    };
    let (from, to) = match parse_window(&q, &headers) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let explicit_top = paging::query_param(&q, "$top").and_then(|t| t.parse::<usize>().ok());
    let asked = explicit_top
        .or(prefer.max_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    // Real-world variance: a page larger than asked now and then.
    let varied = st
        .variance_seed()
        .and_then(|seed| crate::variance::page_size(seed, asked, &uri.to_string()));
    let oversized = st.faults().page_size_override.or(varied);
    let top = oversized.unwrap_or(asked);
    let skip = paging::query_param(&q, "$skip")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let mb = st.mailbox();
    if mb.calendar(&calendar_id).is_none() {
        return not_found(&headers);
    }
    // Round faults: a request without $skip starts a round; the page index is skip / top.
    let mut round = paging::query_param(&q, ROUND_PARAM).and_then(|r| r.parse::<u64>().ok());
    let action = {
        let mut faults = st.faults();
        if round.is_none() && skip == 0 {
            round = faults.start_round();
        }
        let page = u32::try_from(skip / top).unwrap_or(u32::MAX);
        faults.page_action(round, page)
    };
    if let PageAction::Fail(status) = action {
        drop(mb);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return fault_status(status, None, &headers);
    }
    let view = cached_view(&st, &mb, "", &calendar_id, mb.seq(), from, to);
    let user_id = mb.user.id.clone();
    drop(mb);
    let mut page = PageJson {
        context: format!(
            "{}/v1.0/$metadata#users('{}')/calendars('{}')/calendarView",
            st.base_url, user_id, calendar_id
        ),
        next_link: None,
        delta_link: None,
        value: view
            .iter()
            .skip(skip)
            .take(top)
            .map(|i| PageItem::Event(Box::new(i.graph_event(zone, &label))))
            .collect(),
    };
    let next_skip = match action {
        PageAction::LinkToSelf => Some(skip),
        _ if skip + top < view.len() => Some(skip + top),
        _ => None,
    };
    if let Some(next_skip) = next_skip {
        let start = paging::query_param(&q, "startDateTime").unwrap_or_default();
        let end = paging::query_param(&q, "endDateTime").unwrap_or_default();
        let enc = |x: &str| url::form_urlencoded::byte_serialize(x.as_bytes()).collect::<String>();
        let mut next = format!("startDateTime={}&endDateTime={}", enc(start), enc(end));
        if let Some(t) = explicit_top {
            next.push_str(&format!("&$top={t}"));
        }
        next.push_str(&format!("&$skip={next_skip}"));
        if let Some(r) = round {
            next.push_str(&format!("&{ROUND_PARAM}={r}"));
        }
        page.next_link = Some(format!("{}{}?{}", st.base_url, uri.path(), next));
    }
    let mut applied = Vec::new();
    if prefer.max_page_size.is_some() && explicit_top.is_none() && oversized.is_none() {
        applied.push(format!("odata.maxpagesize={top}"));
    }
    applied.extend(tz_applied);
    ok_page(&page, &headers, &applied)
}

/// The delta route of a calendar (`None`: the primary's `/me/calendarView/delta`).
/// `owner`: `me`, or `users/{id}` for a tenant user's mailbox read with an app-only token.
fn delta_route(base_url: &str, owner: &str, calendar: Option<&str>) -> String {
    match calendar {
        Some(id) => format!(
            "{base_url}/v1.0/{owner}/calendars/{}/calendarView/delta",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ),
        None => format!("{base_url}/v1.0/{owner}/calendarView/delta"),
    }
}

impl DeltaEntry for DeltaItem {
    fn id(&self) -> &str {
        match self {
            DeltaItem::Present(i) => &i.id,
            DeltaItem::Removed(id) => id,
        }
    }

    fn is_removal(&self) -> bool {
        matches!(self, DeltaItem::Removed(_))
    }

    fn removal_of(id: &str) -> Self {
        DeltaItem::Removed(id.to_owned())
    }
}

/// `GET /me/calendarView/delta`: the primary calendar's delta (see [`delta_round`]).
async fn calendar_view_delta(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    delta_round(st, headers, raw, None, None).await
}

/// `GET /groups/{id}/transitiveMembers`: the group's members, those of its nested groups
/// included (the nested groups listed too), paged by `$top` (default 100, at most 999) with
/// a `$skiptoken`. Needs an application permission that reads group membership
/// (`GroupMember.Read.All`, `Group.Read.All` or `Directory.Read.All`); else Graph's 403.
async fn group_transitive_members(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let allowed = presented_token(&st, &headers).is_some_and(|t| {
        let has = |p: &str| t.scopes.iter().any(|s| s.eq_ignore_ascii_case(p));
        has("GroupMember.Read.All") || has("Group.Read.All") || has("Directory.Read.All")
    });
    if !allowed {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            &headers,
        );
    }
    let members = {
        let groups = st.groups();
        if !groups.contains_key(&group_id.to_ascii_lowercase()) {
            drop(groups);
            return graph_error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!("Resource '{group_id}' does not exist or one of its queried reference-property objects are not present."),
                &headers,
            );
        }
        // Depth first, each member once (groups may nest in a cycle).
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut stack = vec![group_id.to_ascii_lowercase()];
        seen.insert(group_id.to_ascii_lowercase());
        while let Some(g) = stack.pop() {
            let Some(group) = groups.get(&g) else {
                continue;
            };
            for member in &group.members {
                let key = member.to_ascii_lowercase();
                if !seen.insert(key.clone()) {
                    continue;
                }
                if let Some(nested) = groups.get(&key) {
                    out.push(json!({
                        "@odata.type": "#microsoft.graph.group",
                        "id": nested.id,
                        "displayName": nested.display_name,
                    }));
                    stack.push(key);
                } else if let Some(user) = st.user(member) {
                    out.push(json!({
                        "@odata.type": "#microsoft.graph.user",
                        "id": user.id,
                        "userPrincipalName": user.upn,
                    }));
                }
            }
        }
        out
    };
    let q = parse_query(raw.as_deref());
    let top = paging::query_param(&q, "$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let skip = paging::query_param(&q, "$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0)
        .min(members.len());
    let end = (skip + top).min(members.len());
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#directoryObjects", st.base_url),
        "value": members[skip..end],
    });
    if end < members.len() {
        body["@odata.nextLink"] = Value::String(format!(
            "{}/v1.0/groups/{}/transitiveMembers?$top={top}&$skiptoken={end}",
            st.base_url,
            url::form_urlencoded::byte_serialize(group_id.as_bytes()).collect::<String>()
        ));
    }
    ok_json(&body, &headers, &[])
}

/// The bearer token of a request that passed `require_token`.
pub(crate) fn presented_token(
    st: &Shared,
    headers: &HeaderMap,
) -> Option<crate::tokens::AccessToken> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    st.auth().access.get(token.trim()).cloned()
}

/// `GET /users/{id}/calendarView/delta`: a tenant user's primary calendar, for an app-only
/// token with the application permission `Calendars.Read` (or `Calendars.ReadWrite`); any
/// other token gets Graph's 403.
async fn user_calendar_view_delta(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let allowed = presented_token(&st, &headers).is_some_and(|t| {
        // A delegated token reads other users' calendars only where they shared them,
        // which the emulator does not model.
        if !t.app_only {
            return false;
        }
        let has = |p: &str| t.scopes.iter().any(|s| s.eq_ignore_ascii_case(p));
        has("Calendars.Read") || has("Calendars.ReadWrite")
    });
    if !allowed {
        return graph_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
            &headers,
        );
    }
    let Some(user) = st.user(&user_id) else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "ErrorInvalidUser",
            &format!("The requested user '{user_id}' is invalid."),
            &headers,
        );
    };
    delta_round(st, headers, raw, None, Some(user)).await
}

/// `GET /me/calendars/{id}/calendarView/delta`: delta on any calendar, with links of its
/// own (refused while `RefuseCalendarDelta` is on).
async fn calendar_view_delta_of(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(calendar_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let refused_by_variance = st
        .variance_seed()
        .is_some_and(crate::variance::refuses_calendar_delta);
    if st.faults().refuse_calendar_delta || refused_by_variance {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Resource not found for the segment 'delta'.",
            &headers,
        );
    }
    if st.mailbox().calendar(&calendar_id).is_none() {
        return not_found(&headers);
    }
    delta_round(st, headers, raw, Some(calendar_id), None).await
}

/// Rounds of pages ending in a deltaLink; a round started from a deltaLink reports what
/// changed in the window since the previous round. `calendar`: the calendar of a
/// `/me/calendars/{id}/calendarView/delta` request (None: the primary's own route).
async fn delta_round(
    st: AppState,
    headers: HeaderMap,
    raw: Option<String>,
    calendar: Option<String>,
    user: Option<Arc<crate::state::TenantUser>>,
) -> Response {
    let q = parse_query(raw.as_deref());
    // Whose mailbox: the signed-in user's (`/me`) or a tenant user's (`/users/{id}`), whose
    // cached views are kept apart (the seeded calendars share their ids).
    let (owner, scope) = match &user {
        Some(u) => (
            format!(
                "users/{}",
                url::form_urlencoded::byte_serialize(u.id.as_bytes()).collect::<String>()
            ),
            format!("{}/", u.id),
        ),
        None => ("me".to_owned(), String::new()),
    };
    let prefer = paging::parse_prefer(&headers);
    let (zone, label, tz_applied) = match output_zone(&prefer, &headers) {
        Ok(z) => z,
        Err(r) => return r,
    };
    let mb = match &user {
        Some(u) => u.mailbox(),
        None => st.mailbox(),
    };
    let current = mb.seq();
    let epoch = st.faults().delta_epoch;
    let malformed = || {
        graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
            &headers,
        )
    };
    let (mut state, starts_round) = if let Some(tok) = paging::query_param(&q, "$skiptoken") {
        match paging::decode::<SyncState>(tok) {
            Some(s) => (s, false),
            None => return malformed(),
        }
    } else if let Some(tok) = paging::query_param(&q, "$deltatoken") {
        let Some(s) = paging::decode::<SyncState>(tok) else {
            return malformed();
        };
        let Some((ws, we)) = s.window() else {
            return malformed();
        };
        if s.e < epoch {
            // Expired (the ExpireDeltaTokens fault): the service dropped this sync state.
            drop(mb);
            return sync_state_gone(
                &delta_route(&st.base_url, &owner, s.c.as_deref()),
                ws,
                we,
                &headers,
            );
        }
        let next = SyncState {
            from: Some(s.to),
            to: current,
            pos: 0,
            pg: 0,
            r: None,
            e: 0,
            o: None,
            ..s
        };
        (next, true)
    } else {
        let (from, to) = match parse_window(&q, &headers) {
            Ok(w) => w,
            Err(r) => return r,
        };
        let s = SyncState {
            ws: from.timestamp(),
            we: to.timestamp(),
            from: None,
            to: current,
            c: calendar.clone(),
            ..SyncState::default()
        };
        (s, true)
    };
    // The calendar this round reads, and where its links point.
    let calendar_id = state.c.clone().unwrap_or_else(|| mb.primary_calendar_id());
    let route = delta_route(&st.base_url, &owner, state.c.as_deref());
    let Some((ws, we)) = state.window() else {
        return malformed();
    };
    if state.to > current || state.from.is_some_and(|f| f > current) {
        // A state this mailbox never had (e.g. the emulator restarted): the sync state is gone.
        drop(mb);
        return sync_state_gone(&route, ws, we, &headers);
    }
    if let Some(n) = prefer.max_page_size {
        state.ps = Some(n.min(MAX_PAGE_SIZE));
    }
    let asked = state
        .ps
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    // Real-world variance: pages larger than asked now and then, rounds in no order.
    let variance = st.variance_seed();
    let varied = variance
        .and_then(|seed| crate::variance::page_size(seed, asked, raw.as_deref().unwrap_or("")));
    let (oversized, shuffle) = {
        let faults = st.faults();
        (
            faults.page_size_override.or(varied),
            faults.delta_shuffle.or(variance),
        )
    };
    let page_size = oversized.unwrap_or(asked);
    let action = {
        let mut faults = st.faults();
        if starts_round {
            state.r = faults.start_round();
        }
        if starts_round && state.from.is_none() {
            state.o = match st.delta_order() {
                DeltaOrder::Unordered { seed } => Some(seed),
                DeltaOrder::ByStart => None,
            };
        }
        faults.page_action(state.r, state.pg)
    };
    if let PageAction::Fail(status) = action {
        drop(mb);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return if status == StatusCode::GONE {
            sync_state_gone(&route, ws, we, &headers)
        } else {
            fault_status(status, None, &headers)
        };
    }

    let items = round_items(&st, &mb, &scope, &calendar_id, state.from, state.to, ws, we);
    drop(mb);
    // Pages index into the same order on every request of the round (a function of the
    // seed and the round's items).
    let items: Arc<Vec<DeltaItem>> = match shuffle {
        Some(seed) => Arc::new(shuffle_round(&items, seed)),
        None => items,
    };
    // An unordered full round: its items by a seeded permutation, the seed fixed when the
    // round started (ShuffleDelta and variance, which shuffle every round, come first).
    let order = match (shuffle, state.o) {
        (None, Some(seed)) => DeltaOrder::Unordered { seed }.permutation(items.len()),
        _ => None,
    };

    let start = state.pos.min(items.len());
    let end = (start + page_size).min(items.len());
    let page_items: Vec<&DeltaItem> = match &order {
        Some(order) => order[start..end].iter().map(|&i| &items[i]).collect(),
        None => items[start..end].iter().collect(),
    };
    let mut page = PageJson {
        context: format!("{}/v1.0/$metadata#Collection(event)", st.base_url),
        next_link: None,
        delta_link: None,
        value: page_items
            .into_iter()
            .map(|item| match item {
                DeltaItem::Present(i) => {
                    let mut e = i.graph_event(zone, &label);
                    e.odata_type = Some("#microsoft.graph.event");
                    PageItem::Event(Box::new(e))
                }
                DeltaItem::Removed(id) => PageItem::Removed(removed_json(id)),
            })
            .collect(),
    };
    let next = match action {
        PageAction::LinkToSelf => Some(state.clone()),
        _ if end < items.len() => Some(SyncState {
            pos: end,
            pg: state.pg.saturating_add(1),
            ..state.clone()
        }),
        _ => None,
    };
    if let Some(next) = next {
        page.next_link = Some(format!("{route}?$skiptoken={}", paging::encode(&next)));
    } else {
        let delta = SyncState {
            from: None,
            pos: 0,
            pg: 0,
            r: None,
            o: None,
            e: st.faults().delta_epoch,
            ..state
        };
        page.delta_link = Some(format!("{route}?$deltatoken={}", paging::encode(&delta)));
    }
    let mut applied = Vec::new();
    if let (Some(n), None) = (prefer.max_page_size, oversized) {
        applied.push(format!("odata.maxpagesize={}", n.min(MAX_PAGE_SIZE)));
    }
    applied.extend(tz_applied);
    ok_page(&page, &headers, &applied)
}
