//! A small Microsoft Graph HTTP client: bearer auth, the Prefer headers the product
//! relies on, bounded bodies and timeouts, and links followed only on the Graph host.

use crate::error::Error;
use crate::model::Account;
use chrono::{DateTime, SecondsFormat, Utc};
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
    /// No single wait is longer than this.
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .timeout(timeout)
            .user_agent(concat!("Presently/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network {
                host: base.host_str().unwrap_or("").to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            base,
            retry,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS)),
            not_before: Arc::new(Mutex::new(None)),
            stats: Arc::new(ClientStats::default()),
        })
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
        if url.scheme() != self.base.scheme()
            || url.host_str() != self.base.host_str()
            || url.port_or_known_default() != self.base.port_or_known_default()
        {
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
        loop {
            attempt += 1;
            self.wait_for_gate().await;
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
                    let wait = retry_after
                        .unwrap_or_else(|| self.backoff(attempt))
                        .min(self.retry.max_backoff);
                    tracing::warn!(
                        status,
                        wait_ms = wait.as_millis() as u64,
                        attempt,
                        path = url.path(),
                        "Graph asked to slow down; waiting"
                    );
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    self.hold_back(wait);
                }
                Err(Attempt::Retry { status, .. }) => {
                    return Err(Error::Server {
                        status,
                        code: "retriesExhausted".into(),
                        message: format!("still failing after {attempt} attempts"),
                    })
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

    fn hold_back(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut gate = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if gate.is_none_or(|t| t < until) {
            *gate = Some(until);
        }
    }

    async fn wait_for_gate(&self) {
        let until = *self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: Url,
        token: &SecretString,
        page_size: Option<u32>,
        json: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, Attempt> {
        let host = url.host_str().unwrap_or("").to_owned();
        let net = |e: reqwest::Error| {
            Attempt::Failed(Error::Network {
                host: host.clone(),
                detail: if e.is_timeout() {
                    "the server did not answer in time".to_owned()
                } else {
                    e.to_string()
                },
            })
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
                "answer exceeds the {MAX_BODY_BYTES}-byte limit"
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
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
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
