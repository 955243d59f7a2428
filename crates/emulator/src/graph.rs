//! Microsoft Graph v1.0: `/me`, calendars, calendarView (+ delta) and events.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{OriginalUri, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::mailbox::{master_json, Instance, Resolved};
use crate::paging::{self, Prefer, SyncState, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::state::AppState;
use crate::tz;

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
        .route("/me/events/{id}", get(get_event))
        .fallback(unknown_segment)
        .layer(middleware::from_fn_with_state(state, require_token));
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
    (
        [(
            header::CONTENT_TYPE,
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        )],
        v.to_string(),
    )
}

fn ok_json(v: &Value, req_headers: &HeaderMap, applied: &[String]) -> Response {
    let mut resp = (StatusCode::OK, odata_json(v)).into_response();
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
    let mb = st.mailbox();
    let value: Vec<Value> = mb.calendars.iter().map(|c| c.to_json(&mb.user)).collect();
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

/// `GET .../calendarView?startDateTime&endDateTime[&$top&$skip]`: the expanded view, paged
/// with `$skip` in `@odata.nextLink` (not delta).
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
    let top = paging::query_param(&q, "$top")
        .and_then(|t| t.parse::<usize>().ok())
        .or(prefer.max_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let skip = paging::query_param(&q, "$skip")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let mb = st.mailbox();
    if mb.calendar(&calendar_id).is_none() {
        return not_found(&headers);
    }
    let view = mb.view_at(&calendar_id, mb.seq(), from, to);
    let page: Vec<Value> = view
        .iter()
        .skip(skip)
        .take(top)
        .map(|i| event_json(i, zone, &label))
        .collect();
    let mut v = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{}')/calendars('{}')/calendarView", st.base_url, mb.user.id, calendar_id),
        "value": page,
    });
    if skip + top < view.len() {
        let start = paging::query_param(&q, "startDateTime").unwrap_or_default();
        let end = paging::query_param(&q, "endDateTime").unwrap_or_default();
        let enc = |x: &str| url::form_urlencoded::byte_serialize(x.as_bytes()).collect::<String>();
        let next = format!(
            "startDateTime={}&endDateTime={}&$top={top}&$skip={}",
            enc(start),
            enc(end),
            skip + top
        );
        v["@odata.nextLink"] = Value::String(format!("{}{}?{}", st.base_url, uri.path(), next));
    }
    let mut applied = Vec::new();
    if prefer.max_page_size.is_some() && paging::query_param(&q, "$top").is_none() {
        applied.push(format!("odata.maxpagesize={top}"));
    }
    applied.extend(tz_applied);
    ok_json(&v, &headers, &applied)
}

/// `GET /me/calendarView/delta`: rounds of pages ending in a deltaLink; a round started from
/// a deltaLink reports what changed in the window since the previous round.
async fn calendar_view_delta(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = parse_query(raw.as_deref());
    let prefer = paging::parse_prefer(&headers);
    let (zone, label, tz_applied) = match output_zone(&prefer, &headers) {
        Ok(z) => z,
        Err(r) => return r,
    };
    let page_size = prefer
        .max_page_size
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let mb = st.mailbox();
    let current = mb.seq();
    let malformed = || {
        graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
            &headers,
        )
    };
    let state = if let Some(tok) = paging::query_param(&q, "$skiptoken") {
        match paging::decode::<SyncState>(tok) {
            Some(s) => s,
            None => return malformed(),
        }
    } else if let Some(tok) = paging::query_param(&q, "$deltatoken") {
        match paging::decode::<SyncState>(tok) {
            Some(s) => SyncState {
                from: Some(s.to),
                to: current,
                pos: 0,
                ..s
            },
            None => return malformed(),
        }
    } else {
        let (from, to) = match parse_window(&q, &headers) {
            Ok(w) => w,
            Err(r) => return r,
        };
        SyncState {
            ws: from.timestamp(),
            we: to.timestamp(),
            from: None,
            to: current,
            pos: 0,
        }
    };
    let Some((ws, we)) = state.window() else {
        return malformed();
    };
    if state.to > current || state.from.is_some_and(|f| f > current) {
        // A state this mailbox never had (e.g. the emulator restarted): the sync state is gone.
        let fresh = format!(
            "{}/v1.0/me/calendarView/delta?startDateTime={}&endDateTime={}",
            st.base_url,
            ws.format("%Y-%m-%dT%H:%M:%SZ"),
            we.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut resp = graph_error(
            StatusCode::GONE,
            "SyncStateNotFound",
            "The sync state is not found. Start a new synchronization.",
            &headers,
        );
        if let Ok(v) = HeaderValue::from_str(&fresh) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        return resp;
    }

    let calendar_id = mb.primary_calendar_id();
    let items: Vec<Value> = match state.from {
        None => mb
            .view_at(&calendar_id, state.to, ws, we)
            .iter()
            .map(|i| event_json(i, zone, &label))
            .collect(),
        Some(from_seq) => {
            let prior: HashMap<String, Value> = mb
                .view_at(&calendar_id, from_seq, ws, we)
                .iter()
                .map(|i| (i.id.clone(), event_json(i, Tz::UTC, "UTC")))
                .collect();
            let now = mb.view_at(&calendar_id, state.to, ws, we);
            let mut out: Vec<Value> = now
                .iter()
                .filter(|i| prior.get(&i.id) != Some(&event_json(i, Tz::UTC, "UTC")))
                .map(|i| event_json(i, zone, &label))
                .collect();
            let mut gone: Vec<&String> = prior
                .keys()
                .filter(|id| !now.iter().any(|i| &i.id == *id))
                .collect();
            gone.sort();
            out.extend(gone.into_iter().map(|id| removed_json(id)));
            out
        }
    };
    drop(mb);

    let end = (state.pos + page_size).min(items.len());
    let page: Vec<Value> = items
        .get(state.pos..end)
        .unwrap_or_default()
        .iter()
        .cloned()
        .map(|mut v| {
            if v.get("@removed").is_none() {
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "@odata.type".into(),
                        Value::String("#microsoft.graph.event".into()),
                    );
                }
            }
            v
        })
        .collect();
    let mut v = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(event)", st.base_url),
        "value": page,
    });
    if end < items.len() {
        let next = SyncState { pos: end, ..state };
        v["@odata.nextLink"] = Value::String(format!(
            "{}/v1.0/me/calendarView/delta?$skiptoken={}",
            st.base_url,
            paging::encode(&next)
        ));
    } else {
        let delta = SyncState {
            from: None,
            pos: 0,
            ..state
        };
        v["@odata.deltaLink"] = Value::String(format!(
            "{}/v1.0/me/calendarView/delta?$deltatoken={}",
            st.base_url,
            paging::encode(&delta)
        ));
    }
    let mut applied = Vec::new();
    if let Some(n) = prefer.max_page_size {
        applied.push(format!("odata.maxpagesize={}", n.min(MAX_PAGE_SIZE)));
    }
    applied.extend(tz_applied);
    ok_json(&v, &headers, &applied)
}
