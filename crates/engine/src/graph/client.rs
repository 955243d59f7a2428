//! A small Microsoft Graph HTTP client: bearer auth, the Prefer headers the product
//! relies on, bounded bodies and timeouts, and links followed only on the Graph host.

use crate::error::Error;
use crate::model::Account;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// Largest answer accepted for one page; a bigger one fails that page, nothing else.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Upper bound on pages in one round, against a server that never stops sending nextLinks.
pub const MAX_PAGES: usize = 10_000;

#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
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
        let base = Url::parse(graph_endpoint)
            .map_err(|e| Error::InvalidInput(format!("graph endpoint {graph_endpoint:?}: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("Presently/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network {
                host: base.host_str().unwrap_or("").to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self { http, base })
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

    /// GETs `url` and returns the body of a 2xx answer.
    pub async fn get(
        &self,
        url: Url,
        token: &SecretString,
        page_size: Option<u32>,
    ) -> Result<Vec<u8>, Error> {
        let host = url.host_str().unwrap_or("").to_owned();
        let net = |e: reqwest::Error| Error::Network {
            host: host.clone(),
            detail: e.to_string(),
        };
        let mut prefer = vec!["outlook.timezone=\"UTC\"".to_owned()];
        if let Some(n) = page_size {
            prefer.push(format!("odata.maxpagesize={n}"));
        }
        let mut response = self
            .http
            .get(url.clone())
            .bearer_auth(token.expose_secret())
            .header("Prefer", prefer.join(", "))
            .send()
            .await
            .map_err(net)?;
        let status = response.status();
        if let Some(len) = response.content_length() {
            if len as usize > MAX_BODY_BYTES {
                return Err(Error::MalformedResponse(format!(
                    "answer of {len} bytes exceeds the {MAX_BODY_BYTES}-byte limit"
                )));
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(net)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Error::MalformedResponse(format!(
                    "answer exceeds the {MAX_BODY_BYTES}-byte limit"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            tracing::debug!(path = url.path(), bytes = body.len(), "graph GET");
            return Ok(body);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized);
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                "unknown".to_owned(),
                String::from_utf8_lossy(&body).chars().take(200).collect(),
            ),
        };
        Err(Error::Server {
            status: status.as_u16(),
            code,
            message,
        })
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
