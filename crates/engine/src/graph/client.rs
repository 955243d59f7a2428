//! A small Microsoft Graph HTTP client: bearer auth, the Prefer headers the product
//! relies on, bounded bodies and timeouts, and links followed only on the Graph host.

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::model::Account;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use url::Url;

/// One attempt's outcome: retry later, or give up with this error.
enum Attempt {
    Retry {
        status: u16,
        retry_after: Option<Duration>,
    },
    Failed(Error),
}

/// Largest answer accepted for one page; a bigger one fails that page, nothing else.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Upper bound on pages in one round, against a server that never stops sending nextLinks.
pub const MAX_PAGES: usize = 10_000;

/// How hard to retry throttling and transient server errors.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff when the server names no Retry-After.
    pub initial_backoff: Duration,
    /// No single wait is longer than this. A `Retry-After` above it is not waited out inside
    /// a request (a sync or a presence change would hang that long): the request fails and
    /// every later one on the client fails at once until at most this much is left, so
    /// nothing is sent sooner than Graph asked.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Outlook allows 4 concurrent requests per app and mailbox.
pub const MAX_CONCURRENT_REQUESTS: usize = 4;

/// Graph asked for a pause longer than a request waits: said with how long is left.
fn held_back(status: u16, left: Duration) -> Error {
    Error::Server {
        status,
        code: "retryAfterTooLong".into(),
        message: format!(
            "Graph asked Presently to wait before its next request; {} s are left, and nothing is sent before then",
            left.as_secs_f64().ceil() as u64
        ),
    }
}

/// How the client sleeps (tokio's timer by default; tests record the waits instead).
pub type SleepFn = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// Reads a `Retry-After` value (RFC 9110 §10.2.3) as a wait from `now`: whole seconds,
/// seconds with a fraction (Graph has been seen sending `2.128`), or an HTTP-date
/// (IMF-fixdate, and the obsolete RFC 850 and asctime forms). A fraction is rounded up,
/// never down; a date in the past is no wait. `None` for anything else.
///
/// The one parser for every caller that reads `Retry-After`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
            return None;
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        // Exact decimal arithmetic: 2.128 is 2 s 128 ms, not the float just below it.
        let mut nanos: u64 = 0;
        for (i, digit) in fraction.bytes().enumerate() {
            let digit = u64::from(digit - b'0');
            if i < 9 {
                nanos += digit * 10u64.pow(8 - i as u32);
            } else if digit > 0 {
                nanos += 1; // beyond nanoseconds: round up
                break;
            }
        }
        return Some(Duration::from_secs(secs) + Duration::from_nanos(nanos));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whether `link` points at the same scheme, host and port as `base` (a link anywhere else
/// is never followed with the user's token).
pub fn same_origin(link: &Url, base: &Url) -> bool {
    link.scheme() == base.scheme()
        && link.host_str() == base.host_str()
        && link.port_or_known_default() == base.port_or_known_default()
}

/// `host:port` of `url`, as a message names it.
fn host_and_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The one place a failed HTTP exchange becomes an [`Error::Network`]: what went wrong in
/// words, naming host and port ("cannot connect to 127.0.0.1:8400: connection refused"),
/// never reqwest's or hyper's own wording ("error sending request", "client error").
/// `err` is a `reqwest::Error` or anything wrapping one (its sources are read).
pub fn network_error(
    url: &Url,
    err: &(dyn std::error::Error + 'static),
    connect_timeout: Duration,
    timeout: Duration,
) -> Error {
    let at = host_and_port(url);
    let mut refused = false;
    let mut reset = false;
    let mut timed_out = false;
    let mut dns = false;
    let mut tls = false;
    let mut connecting = false;
    let mut innermost = err.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            timed_out |= r.is_timeout();
            connecting |= r.is_connect();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => refused = true,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    reset = true
                }
                std::io::ErrorKind::TimedOut => timed_out = true,
                _ => {}
            }
        }
        let text = e.to_string();
        // hyper-util names a failed lookup "dns error"; rustls' errors name the peer's
        // certificate or the handshake.
        dns |= text.starts_with("dns error");
        tls |= text.contains("certificate") || text.contains("handshake");
        innermost = text;
        source = e.source();
    }
    let secs = |d: Duration| d.as_secs_f64();
    let detail = if dns {
        format!(
            "cannot connect to {at}: the name {} was not found (DNS lookup failed: {innermost})",
            url.host_str().unwrap_or("?")
        )
    } else if refused {
        format!("cannot connect to {at}: connection refused")
    } else if timed_out && connecting {
        format!(
            "cannot connect to {at}: no answer within {} s (connection timed out)",
            secs(connect_timeout)
        )
    } else if timed_out {
        format!(
            "{at} did not answer within {} s (request timed out)",
            secs(timeout)
        )
    } else if tls {
        format!("cannot connect securely to {at}: {innermost}")
    } else if reset {
        format!("the connection to {at} was reset")
    } else if connecting {
        format!("cannot connect to {at}: {innermost}")
    } else {
        format!("the connection to {at} failed: {innermost}")
    };
    Error::Network { host: at, detail }
}

/// Counters for reports and benchmarks.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    /// Time spent waiting for the server (request sent until body read), in microseconds.
    pub waiting_micros: AtomicU64,
    pub retries: AtomicU64,
}

#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
    /// Bounds requests in flight for the mailbox.
    permits: Arc<Semaphore>,
    /// When throttled, nobody on this connection sends before this instant.
    not_before: Arc<Mutex<Option<tokio::time::Instant>>>,
    stats: Arc<ClientStats>,
    /// "Now" for an HTTP-date `Retry-After`: the engine's clock.
    clock: Arc<dyn Clock>,
    sleep: SleepFn,
    connect_timeout: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

/// The Graph error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

impl GraphClient {
    /// `graph_endpoint` is e.g. `https://graph.microsoft.com` (national clouds and the
    /// emulator by configuration).
    pub fn new(graph_endpoint: &str) -> Result<Self, Error> {
        Self::with_options(
            graph_endpoint,
            Duration::from_secs(60),
            RetryPolicy::default(),
        )
    }

    /// `timeout` bounds each request, body included (a server that never finishes).
    pub fn with_options(
        graph_endpoint: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        let base = Url::parse(graph_endpoint)
            .map_err(|e| Error::InvalidInput(format!("graph endpoint {graph_endpoint:?}: {e}")))?;
        let connect_timeout = Duration::from_secs(10).min(timeout);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!("Presently/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| network_error(&base, &e, connect_timeout, timeout))?;
        Ok(Self {
            http,
            base,
            retry,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS)),
            not_before: Arc::new(Mutex::new(None)),
            stats: Arc::new(ClientStats::default()),
            clock: Arc::new(SystemClock),
            sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
            connect_timeout,
            timeout,
        })
    }

    /// Measures an HTTP-date `Retry-After` against `clock` (the engine's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Waits with `sleep` instead of tokio's timer (tests record the waits).
    pub fn with_sleep(mut self, sleep: SleepFn) -> Self {
        self.sleep = sleep;
        self
    }

    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// The configured Graph endpoint.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// A URL on the Graph host, from a path like `/v1.0/me`.
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path)
            .map_err(|e| Error::InvalidInput(format!("bad Graph path {path:?}: {e}")))
    }

    /// Accepts a link from a server answer only when it points at the configured Graph host.
    pub fn checked_link(&self, link: &str) -> Result<Url, Error> {
        let url = Url::parse(link)
            .map_err(|e| Error::MalformedResponse(format!("unreadable link {link:?}: {e}")))?;
        if !same_origin(&url, &self.base) {
            return Err(Error::MalformedResponse(format!(
                "the server sent a link to another host ({}); it was not followed",
                url.host_str().unwrap_or("?")
            )));
        }
        Ok(url)
    }

    /// GETs `url` and returns the body of a 2xx answer. 429, 503 and 504 are retried after
    /// `Retry-After` (or an exponential backoff with jitter), and the wait holds back every
    /// request on this client; at most [`MAX_CONCURRENT_REQUESTS`] are in flight.
    pub async fn get(
        &self,
        url: Url,
        token: &SecretString,
        page_size: Option<u32>,
    ) -> Result<Vec<u8>, Error> {
        self.send(reqwest::Method::GET, url, token, page_size, None)
            .await
    }

    /// POSTs a JSON body (presence calls); retried, throttled and bounded like [`Self::get`].
    /// Only for calls that are safe to repeat: a retry after a timeout may repeat one.
    pub async fn post_json(
        &self,
        url: Url,
        token: &SecretString,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>, Error> {
        self.send(reqwest::Method::POST, url, token, None, Some(body))
            .await
    }

    /// Sends `batch` as one `POST /v1.0/$batch` (retried, throttled and bounded like
    /// [`Self::get`] as a whole) and returns one outcome per request: a request throttled
    /// inside the batch comes back to be retried alone, after its own `Retry-After`.
    pub async fn batch(
        &self,
        token: &SecretString,
        batch: &super::batch::Batch,
    ) -> Result<Vec<super::batch::BatchOutcome>, Error> {
        let url = self.url("/v1.0/$batch")?;
        let answer = self.post_json(url, token, &batch.body()).await?;
        batch.outcomes(&answer, self.clock.now())
    }

    /// PATCHes a JSON body (mailbox settings); retried, throttled and bounded like [`Self::get`].
    pub async fn patch_json(
        &self,
        url: Url,
        token: &SecretString,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>, Error> {
        self.send(reqwest::Method::PATCH, url, token, None, Some(body))
            .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        token: &SecretString,
        page_size: Option<u32>,
        json: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, Error> {
        let mut attempt = 0;
        // After this request waited out its own Retry-After, only a later gate holds it.
        let mut waited_until = None;
        loop {
            attempt += 1;
            self.wait_for_gate(waited_until.take()).await?;
            let result = {
                let _permit =
                    self.permits.acquire().await.map_err(|_| {
                        Error::InvalidInput("the Graph client was shut down".into())
                    })?;
                let started = std::time::Instant::now();
                let result = self
                    .send_once(method.clone(), url.clone(), token, page_size, json)
                    .await;
                self.stats
                    .waiting_micros
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                result
            };
            match result {
                Err(Attempt::Retry {
                    status,
                    retry_after,
                }) if attempt < self.retry.max_attempts => {
                    // Graph's own Retry-After is waited out in full (never less than asked);
                    // without one, a jittered backoff.
                    let wait = match retry_after {
                        Some(asked) if asked > self.retry.max_backoff => {
                            self.hold_back(asked);
                            return Err(held_back(status, asked));
                        }
                        Some(asked) => asked,
                        None => self.backoff(attempt).min(self.retry.max_backoff),
                    };
                    tracing::warn!(
                        status,
                        wait_ms = wait.as_millis() as u64,
                        attempt,
                        path = url.path(),
                        "Graph asked to slow down; waiting"
                    );
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    waited_until = Some(self.hold_back(wait));
                    (self.sleep)(wait).await;
                }
                Err(Attempt::Retry {
                    status,
                    retry_after,
                }) => {
                    // Given up, but the pause Graph asked for still holds for what follows.
                    if let Some(asked) = retry_after {
                        self.hold_back(asked);
                    }
                    return Err(Error::Server {
                        status,
                        code: "retriesExhausted".into(),
                        message: format!("still failing after {attempt} attempts"),
                    });
                }
                Err(Attempt::Failed(e)) => return Err(e),
                Ok(body) => return Ok(body),
            }
        }
    }

    /// Exponential backoff with full jitter: a random wait up to `initial * 2^(attempt-1)`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .retry
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.retry.max_backoff);
        let jitter: f64 = rand::random();
        ceiling.mul_f64(0.5 + jitter / 2.0)
    }

    /// Holds back every request on this client for `wait`; returns until when.
    fn hold_back(&self, wait: Duration) -> tokio::time::Instant {
        let until = tokio::time::Instant::now() + wait;
        let mut gate = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if gate.is_none_or(|t| t < until) {
            *gate = Some(until);
        }
        until
    }

    /// Waits while the client is held back, unless the gate is no later than `waited_until`
    /// (this request already slept that long).
    /// A hold longer than [`RetryPolicy::max_backoff`] fails at once instead.
    async fn wait_for_gate(&self, waited_until: Option<tokio::time::Instant>) -> Result<(), Error> {
        let until = *self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until.filter(|u| waited_until.is_none_or(|w| *u > w)) {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left > self.retry.max_backoff {
                return Err(held_back(429, left));
            }
            if !left.is_zero() {
                (self.sleep)(left).await;
            }
        }
        Ok(())
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: Url,
        token: &SecretString,
        page_size: Option<u32>,
        json: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, Attempt> {
        let net = |e: reqwest::Error| {
            Attempt::Failed(network_error(&url, &e, self.connect_timeout, self.timeout))
        };
        let mut prefer = vec!["outlook.timezone=\"UTC\"".to_owned()];
        if let Some(n) = page_size {
            prefer.push(format!("odata.maxpagesize={n}"));
        }
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.expose_secret())
            .header("Prefer", prefer.join(", "));
        if let Some(json) = json {
            request = request.json(json);
        }
        let mut response = request.send().await.map_err(net)?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let status = response.status();
        let too_big = || {
            Attempt::Failed(Error::MalformedResponse(format!(
                "an answer from {} is larger than {} MiB, the limit for one answer (Graph may send more than the {} items per page asked for); it was not read",
                url.path(),
                MAX_BODY_BYTES / (1024 * 1024),
                page_size.map_or_else(|| "default".to_owned(), |n| n.to_string())
            )))
        };
        if response
            .content_length()
            .is_some_and(|len| len as usize > MAX_BODY_BYTES)
        {
            return Err(too_big());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.clock.now()));
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(net)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        self.stats
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        if status.is_success() {
            tracing::debug!(%method, path = url.path(), bytes = body.len(), "graph call");
            return Ok(body);
        }
        if matches!(status.as_u16(), 429 | 503 | 504) {
            return Err(Attempt::Retry {
                status: status.as_u16(),
                retry_after,
            });
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Attempt::Failed(Error::Unauthorized));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                "unknown".to_owned(),
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            ),
        };
        Err(Attempt::Failed(Error::Server {
            status: status.as_u16(),
            code,
            message,
        }))
    }

    pub async fn me(&self, token: &SecretString) -> Result<Account, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Me {
            id: String,
            user_principal_name: Option<String>,
            mail: Option<String>,
            display_name: Option<String>,
        }
        let body = self.get(self.url("/v1.0/me")?, token, None).await?;
        let me: Me = serde_json::from_slice(&body)
            .map_err(|e| Error::MalformedResponse(format!("/me: {e}")))?;
        Ok(Account {
            upn: me
                .user_principal_name
                .or(me.mail)
                .unwrap_or_else(|| me.id.clone()),
            id: me.id,
            tenant_id: None,
            display_name: me.display_name,
        })
    }

    /// The user's calendars, as Graph JSON objects.
    pub async fn calendars(&self, token: &SecretString) -> Result<Vec<serde_json::Value>, Error> {
        #[derive(Deserialize)]
        struct Page {
            value: Vec<serde_json::Value>,
            #[serde(rename = "@odata.nextLink")]
            next_link: Option<String>,
        }
        let mut out = Vec::new();
        let mut url = self.url("/v1.0/me/calendars")?;
        for _ in 0..MAX_PAGES {
            let body = self.get(url, token, None).await?;
            let page: Page = serde_json::from_slice(&body)
                .map_err(|e| Error::MalformedResponse(format!("/me/calendars: {e}")))?;
            out.extend(page.value);
            match page.next_link {
                Some(link) => url = self.checked_link(&link)?,
                None => return Ok(out),
            }
        }
        Err(Error::MalformedResponse(
            "too many pages of calendars".into(),
        ))
    }

    /// `GET /me/calendar`: the user's primary calendar, as a Graph JSON object (for
    /// calendar lists that do not say which one is the default).
    pub async fn primary_calendar(&self, token: &SecretString) -> Result<serde_json::Value, Error> {
        let body = self
            .get(self.url("/v1.0/me/calendar")?, token, None)
            .await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::MalformedResponse(format!("/me/calendar: {e}")))
    }

    /// All pages of a calendarView over `[start, end)` (`calendar_id` None = the primary
    /// calendar), as raw bodies for [`crate::graph::CalendarView::parse`].
    pub async fn calendar_view_pages(
        &self,
        token: &SecretString,
        calendar_id: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        page_size: u32,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let path = match calendar_id {
            Some(id) => format!("/v1.0/me/calendars/{}/calendarView", urlencode(id)),
            None => "/v1.0/me/calendarView".to_owned(),
        };
        let mut url = self.url(&path)?;
        url.query_pairs_mut()
            .append_pair(
                "startDateTime",
                &start.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .append_pair(
                "endDateTime",
                &end.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        let mut pages = Vec::new();
        for _ in 0..MAX_PAGES {
            let body = self.get(url, token, Some(page_size)).await?;
            let next = serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|e| Error::MalformedResponse(format!("calendarView page: {e}")))?
                .get("@odata.nextLink")
                .and_then(|l| l.as_str())
                .map(str::to_owned);
            pages.push(body);
            match next {
                Some(link) => url = self.checked_link(&link)?,
                None => return Ok(pages),
            }
        }
        Err(Error::MalformedResponse("calendarView never ended".into()))
    }
}

fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    #[test]
    fn retry_after_reads_seconds_fractions_and_http_dates() {
        let now = at("1994-11-06T08:49:30Z");
        let ms = Duration::from_millis;
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        // As Microsoft's throttling page shows it: never rounded down to 2 s.
        assert_eq!(parse_retry_after("2.128", now), Some(ms(2128)));
        assert_eq!(parse_retry_after(" 0.5 ", now), Some(ms(500)));
        assert_eq!(parse_retry_after(".25", now), Some(ms(250)));
        assert_eq!(parse_retry_after("3.", now), Some(Duration::from_secs(3)));
        // Digits past nanoseconds round up.
        assert_eq!(
            parse_retry_after("0.0000000001", now),
            Some(Duration::from_nanos(1))
        );
        // RFC 9110's three date forms, 7 s after `now`.
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(date, now),
                Some(Duration::from_secs(7)),
                "{date}"
            );
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date already past is no wait"
        );
        for bad in [
            "",
            "soon",
            "-1",
            "1.2.3",
            ".",
            "1e3",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    /// What hyper-util hands reqwest when a name does not resolve: "dns error" over the
    /// resolver's io::Error.
    #[derive(Debug)]
    struct DnsError(std::io::Error);
    impl std::fmt::Display for DnsError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dns error")
        }
    }
    impl std::error::Error for DnsError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn network_failures_are_said_in_words_with_host_and_port() {
        let url = Url::parse("https://graph.example.invalid/v1.0/me").expect("url");
        let dns = DnsError(std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        let err = network_error(&url, &dns, Duration::from_secs(10), Duration::from_secs(60));
        assert_eq!(err.code(), crate::error::ErrorCode::Network);
        let text = err.to_string();
        assert!(
            text.starts_with("cannot connect to graph.example.invalid:443: the name graph.example.invalid was not found (DNS lookup failed"),
            "{text}"
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let url = Url::parse("http://127.0.0.1:8400/v1.0/me").expect("url");
        let err = network_error(
            &url,
            &refused,
            Duration::from_secs(10),
            Duration::from_secs(60),
        );
        assert_eq!(
            err.to_string(),
            "cannot connect to 127.0.0.1:8400: connection refused"
        );
        let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
        let err = network_error(
            &url,
            &timed_out,
            Duration::from_secs(10),
            Duration::from_secs(60),
        );
        assert_eq!(
            err.to_string(),
            "127.0.0.1:8400 did not answer within 60 s (request timed out)"
        );
    }

    #[test]
    fn links_are_followed_only_on_the_same_scheme_host_and_port() {
        let base = Url::parse("http://127.0.0.1:8400").expect("url");
        let ok = Url::parse("http://127.0.0.1:8400/v1.0/me/calendarView/delta?$deltatoken=x")
            .expect("url");
        assert!(same_origin(&ok, &base));
        for other in [
            "http://127.0.0.1:8401/v1.0/x",
            "https://127.0.0.1:8400/v1.0/x",
            "http://localhost:8400/v1.0/x",
        ] {
            assert!(
                !same_origin(&Url::parse(other).expect("url"), &base),
                "{other}"
            );
        }
        let graph = Url::parse("https://graph.microsoft.com").expect("url");
        let explicit = Url::parse("https://graph.microsoft.com:443/v1.0/me").expect("url");
        assert!(same_origin(&explicit, &graph));
    }
}
