//! Calendar subscriptions (issue 23): fetching an iCalendar feed and keeping its calendar.
//!
//! A fetch is one conditional request (`If-None-Match` with the last `ETag`,
//! `If-Modified-Since` with the last `Last-Modified`): 304 costs nothing more. The feed is
//! expanded over the sync window, which moves once a day, so a subscription whose stored
//! appointments were expanded for another window is fetched without conditions. Bodies
//! are bounded (`ics::Limits::max_bytes`), requests by a timeout, redirects to five, each
//! only to https (`ics::source::redirect_allowed`). A failed fetch is recorded with the
//! subscription and leaves its calendar as it was.

use super::Engine;
use crate::error::Error;
use crate::graph::client::network_error;
use crate::ics::source::{redirect_allowed, FeedSource};
use crate::ics::{self, FeedError, Limits};
use crate::model::{Appointment, Calendar};
use crate::store::{FeedValidators, Subscription, SUBSCRIPTION_ID_PREFIX};
use crate::sync::Window;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use url::Url;

/// A whole fetch, body included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 5;
/// The longest subscription name.
const MAX_NAME_CHARS: usize = 100;

/// What a fetch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedOutcome {
    /// The feed was read and its appointments stored.
    Updated,
    /// The server said it did not change (or the file did not): nothing to do.
    Unchanged,
}

/// One subscription's fetch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedReport {
    pub name: String,
    pub calendar_id: String,
    pub outcome: FeedOutcome,
    /// The appointments now stored in the window (`None` when unchanged).
    pub appointments: Option<usize>,
    /// What the feed's reading left out or read another way.
    pub warnings: Vec<String>,
}

/// `meta` key: the names of the subscriptions the configuration added (so one it no longer
/// names is removed, and the user's own are not).
const CONFIGURED_SUBSCRIPTIONS: &str = "configured_subscriptions";

/// How often a calendar subscription is fetched (a conditional request: the server answers
/// 304 when nothing changed).
pub const FEED_INTERVAL: chrono::Duration = chrono::Duration::hours(1);

/// An answer to a fetch.
enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: FeedValidators,
    },
}

impl Engine {
    /// The stored subscriptions.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        self.store().subscriptions()
    }

    /// Subscribes to the feed at `source` (an https or webcal URL, or a local file) as a
    /// calendar named `name`. The feed is fetched and read first: one that cannot be used
    /// is an error and nothing is stored.
    pub async fn add_subscription(
        &self,
        name: &str,
        source: &str,
        color: Option<&str>,
    ) -> Result<FeedReport, Error> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Error::InvalidInput(format!(
                "a calendar name is 1 to {MAX_NAME_CHARS} characters, not {name:?}"
            )));
        }
        if let Some(color) = color {
            let hex = color.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::InvalidInput(format!(
                    "a calendar colour is #rrggbb, not {color:?}"
                )));
            }
        }
        if self.store().subscription(name)?.is_some() {
            return Err(Error::InvalidInput(format!(
                "there is already a calendar subscription named {name:?}"
            )));
        }
        let source = FeedSource::parse(source)?;
        let calendar = Calendar {
            id: format!("{SUBSCRIPTION_ID_PREFIX}{:016x}", rand::random::<u64>()),
            name: name.to_owned(),
            color: color.map(str::to_ascii_lowercase),
            is_default: false,
            can_edit: false,
        };
        let Fetched::Body { bytes, validators } =
            fetch(&source, &FeedValidators::default()).await?
        else {
            return Err(Error::MalformedResponse(
                "the feed's server answered 304 Not Modified to an unconditional request".into(),
            ));
        };
        let window = self.subscription_window();
        let feed = self.read_feed(bytes, &calendar.id, window).await?;
        let at = self.now();
        self.store().add_subscription(
            &calendar,
            &source.to_text(),
            &validators,
            window,
            &feed.appointments,
            at,
        )?;
        tracing::info!(
            calendar = %calendar.id,
            appointments = feed.appointments.len(),
            warnings = feed.warnings.len(),
            "calendar subscription added"
        );
        Ok(FeedReport {
            name: calendar.name,
            calendar_id: calendar.id,
            outcome: FeedOutcome::Updated,
            appointments: Some(feed.appointments.len()),
            warnings: feed.warnings.iter().map(ToString::to_string).collect(),
        })
    }

    /// Removes the subscription named `name`, with its calendar and appointments. One the
    /// configuration provides (an organization's policy, or `[[subscriptions]]` in the
    /// user's file) is removed there, not here.
    pub fn remove_subscription(&self, name: &str) -> Result<Subscription, Error> {
        if self
            .config()
            .subscriptions
            .iter()
            .any(|s| s.name.trim().eq_ignore_ascii_case(name.trim()))
        {
            return Err(Error::InvalidInput(format!(
                "the calendar subscription {:?} is set in the configuration (by your organization, or [[subscriptions]] in your settings file): it is removed there",
                name.trim()
            )));
        }
        self.remove_subscription_unchecked(name)
    }

    fn remove_subscription_unchecked(&self, name: &str) -> Result<Subscription, Error> {
        let mut store = self.store();
        let Some(subscription) = store.subscription(name.trim())? else {
            return Err(Error::InvalidInput(format!(
                "there is no calendar subscription named {:?}",
                name.trim()
            )));
        };
        store.remove_subscription(&subscription.calendar.id)?;
        Ok(subscription)
    }

    /// Fetches every subscription (or the one named `only`), each with one conditional
    /// Brings the stored subscriptions in line with the configured ones (`[[subscriptions]]`,
    /// which an organization's policy provides): a configured feed not stored yet is added
    /// (fetched), one whose URL changed is replaced, and one the configuration no longer
    /// names, if the configuration added it, is removed. The user's own stay. Returns how
    /// many calendars changed; a feed that cannot be added is logged and tried next time.
    async fn reconcile_configured_subscriptions(&self) -> usize {
        let configured = self.config().subscriptions.clone();
        let managed: Vec<String> = self
            .store()
            .meta(CONFIGURED_SUBSCRIPTIONS)
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let mut changed = 0;
        for name in &managed {
            if !configured
                .iter()
                .any(|c| c.name.trim().eq_ignore_ascii_case(name))
            {
                match self.remove_subscription_unchecked(name) {
                    Ok(_) => {
                        tracing::info!(name = %name, "calendar subscription no longer configured; removed");
                        changed += 1;
                    }
                    Err(e) => {
                        tracing::warn!(name = %name, error = %e, "cannot remove a calendar subscription no longer configured")
                    }
                }
            }
        }
        for feed in &configured {
            let stored = self.store().subscription(feed.name.trim()).ok().flatten();
            if let Some(stored) = &stored {
                if stored.source.trim() == feed.url.trim() {
                    continue;
                }
                if let Err(e) = self.remove_subscription_unchecked(&feed.name) {
                    tracing::warn!(name = %feed.name, error = %e, "cannot replace a configured calendar subscription");
                    continue;
                }
            }
            match self
                .add_subscription(&feed.name, &feed.url, feed.color.as_deref())
                .await
            {
                Ok(_) => {
                    tracing::info!(name = %feed.name, "configured calendar subscription added");
                    changed += 1;
                }
                Err(e) => {
                    tracing::warn!(name = %feed.name, code = e.code().as_str(), "configured calendar subscription: {e}")
                }
            }
        }
        let names: Vec<String> = configured
            .iter()
            .map(|c| c.name.trim().to_owned())
            .collect();
        if names != managed {
            let stored = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
            if let Err(e) = self.store().set_meta(CONFIGURED_SUBSCRIPTIONS, &stored) {
                tracing::warn!(error = %e, "cannot remember the configured calendar subscriptions");
            }
        }
        changed
    }

    /// Logs a failed fetch and keeps it with the subscription (`presently calendars` shows
    /// it); the feed's appointments stay.
    fn record_feed_failure(&self, subscription: &Subscription, err: &Error) -> Result<(), Error> {
        let code = err.code().as_str();
        tracing::warn!(calendar = %subscription.calendar.id, code, "calendar feed: {err}");
        self.store().feed_failed(
            &subscription.calendar.id,
            code,
            &err.to_string(),
            self.now(),
        )
    }

    /// Fetches the subscriptions that are due: never fetched, last fetched
    /// [`FEED_INTERVAL`] ago or more, expanded for another window (the window moved: a new
    /// day), or all of them when `all`. A feed that fails keeps what it had and says why
    /// (`presently calendars`); it never fails the sync. Returns how many were updated.
    pub async fn refresh_due_subscriptions(&self, all: bool) -> usize {
        let mut updated = self.reconcile_configured_subscriptions().await;
        let subscriptions = match self.store().subscriptions() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the calendar subscriptions");
                return 0;
            }
        };
        let now = self.now();
        let window = self.subscription_window();
        for subscription in subscriptions {
            let due = all
                || subscription.window != Some((window.start, window.end))
                || subscription
                    .fetched_at
                    .is_none_or(|at| now - at >= FEED_INTERVAL);
            if !due {
                continue;
            }
            match self.refresh(&subscription).await {
                Ok(report) => {
                    if report.outcome == FeedOutcome::Updated {
                        updated += 1;
                    }
                }
                Err(err) => {
                    if let Err(e) = self.record_feed_failure(&subscription, &err) {
                        tracing::warn!(error = %e, "cannot record the feed's failure");
                    }
                }
            }
        }
        updated
    }

    /// request; a failure is recorded with its subscription and reported, the others go on.
    pub async fn refresh_subscriptions(
        &self,
        only: Option<&str>,
    ) -> Result<Vec<(String, Result<FeedReport, Error>)>, Error> {
        let subscriptions = self.store().subscriptions()?;
        if let Some(name) = only {
            if !subscriptions
                .iter()
                .any(|s| s.calendar.name.eq_ignore_ascii_case(name.trim()))
            {
                return Err(Error::InvalidInput(format!(
                    "there is no calendar subscription named {:?}",
                    name.trim()
                )));
            }
        }
        let mut out = Vec::new();
        for subscription in subscriptions {
            if only.is_some_and(|n| !subscription.calendar.name.eq_ignore_ascii_case(n.trim())) {
                continue;
            }
            let result = self.refresh(&subscription).await;
            if let Err(err) = &result {
                self.record_feed_failure(&subscription, err)?;
            }
            out.push((subscription.calendar.name.clone(), result));
        }
        Ok(out)
    }

    async fn refresh(&self, subscription: &Subscription) -> Result<FeedReport, Error> {
        let source = FeedSource::parse(&subscription.source)?;
        let window = self.subscription_window();
        // Appointments expanded for another window need the feed again.
        let validators = if subscription.window == Some((window.start, window.end)) {
            FeedValidators {
                etag: subscription.etag.clone(),
                last_modified: subscription.last_modified.clone(),
            }
        } else {
            FeedValidators::default()
        };
        let id = &subscription.calendar.id;
        let report = |outcome, appointments: Option<&[Appointment]>, warnings| FeedReport {
            name: subscription.calendar.name.clone(),
            calendar_id: id.clone(),
            outcome,
            appointments: appointments.map(<[Appointment]>::len),
            warnings,
        };
        match fetch(&source, &validators).await? {
            Fetched::NotModified => {
                self.store().feed_unchanged(id, self.now())?;
                Ok(report(FeedOutcome::Unchanged, None, Vec::new()))
            }
            Fetched::Body { bytes, validators } => {
                let feed = self.read_feed(bytes, id, window).await?;
                self.store()
                    .store_feed(id, &validators, window, &feed.appointments, self.now())?;
                Ok(report(
                    FeedOutcome::Updated,
                    Some(&feed.appointments),
                    feed.warnings.iter().map(ToString::to_string).collect(),
                ))
            }
        }
    }

    /// The sync window, as Graph calendars are read.
    fn subscription_window(&self) -> Window {
        let sync = &self.config().sync;
        Window::around(
            self.now().date_naive(),
            sync.window_days_back,
            sync.window_days_ahead,
        )
    }

    /// Reads a feed off the async threads (a large one takes tens of milliseconds).
    async fn read_feed(
        &self,
        bytes: Vec<u8>,
        calendar_id: &str,
        window: Window,
    ) -> Result<ics::Feed, Error> {
        let zone = self.config().display_timezone();
        let calendar_id = calendar_id.to_owned();
        tokio::task::spawn_blocking(move || ics::parse(&bytes, &calendar_id, window, zone))
            .await
            .map_err(|e| Error::InvalidInput(format!("reading the calendar feed stopped: {e}")))?
            .map_err(Error::from)
    }
}

/// Fetches a feed: one request with the validators as conditions, or the file.
async fn fetch(source: &FeedSource, validators: &FeedValidators) -> Result<Fetched, Error> {
    let max = Limits::default().max_bytes;
    match source {
        FeedSource::File(path) => {
            let path = path.clone();
            let known = validators.last_modified.clone();
            tokio::task::spawn_blocking(move || read_file(&path, known.as_deref(), max))
                .await
                .map_err(|e| {
                    Error::InvalidInput(format!("reading the calendar file stopped: {e}"))
                })?
        }
        FeedSource::Url(url) => fetch_url(url, validators, max).await,
    }
}

fn read_file(
    path: &std::path::Path,
    known_modified: Option<&str>,
    max: usize,
) -> Result<Fetched, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    // Checked before opening: opening a named pipe would wait for a writer.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(Error::InvalidInput(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let modified = meta
        .modified()
        .ok()
        .map(|t| DateTime::<Utc>::from(t).to_rfc3339());
    if modified.is_some() && modified.as_deref() == known_modified {
        return Ok(Fetched::NotModified);
    }
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > max {
        return Err(FeedError::TooLarge {
            size: usize::try_from(meta.len()).unwrap_or(usize::MAX),
            limit: max,
        }
        .into());
    }
    Ok(Fetched::Body {
        bytes,
        validators: FeedValidators {
            etag: None,
            last_modified: modified,
        },
    })
}

async fn fetch_url(url: &Url, validators: &FeedValidators, max: usize) -> Result<Fetched, Error> {
    let origin = url.clone();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if redirect_allowed(&origin, attempt.url()) {
            attempt.follow()
        } else {
            let to = attempt.url().clone();
            attempt.error(format!("a redirect to {to} (not https) was not followed"))
        }
    });
    let http = reqwest::Client::builder()
        .redirect(policy)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("Presently/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| network_error(url, &e, CONNECT_TIMEOUT, FETCH_TIMEOUT))?;
    let mut request = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "text/calendar, */*;q=0.5");
    if let Some(etag) = &validators.etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    if let Some(modified) = &validators.last_modified {
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| network_error(url, &e, CONNECT_TIMEOUT, FETCH_TIMEOUT))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(Error::Server {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: format!(
                "the calendar feed's server answered {status} for {}",
                response.url()
            ),
        });
    }
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 512)
            .map(str::to_owned)
    };
    let validators = FeedValidators {
        etag: header(reqwest::header::ETAG),
        last_modified: header(reqwest::header::LAST_MODIFIED),
    };
    if let Some(length) = response.content_length() {
        if length > max as u64 {
            return Err(FeedError::TooLarge {
                size: usize::try_from(length).unwrap_or(usize::MAX),
                limit: max,
            }
            .into());
        }
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| network_error(url, &e, CONNECT_TIMEOUT, FETCH_TIMEOUT))?
    {
        if bytes.len() + chunk.len() > max {
            return Err(FeedError::TooLarge {
                size: bytes.len() + chunk.len(),
                limit: max,
            }
            .into());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body { bytes, validators })
}
