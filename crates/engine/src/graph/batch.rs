//! JSON batching (`POST /v1.0/$batch`): up to 20 Graph requests in one round trip, each
//! answered on its own. Sans-IO: [`Batch`] builds the body from requests and reads the
//! answer back into one [`BatchOutcome`] per request, matched by id (Graph answers in any
//! order, ids without case). A request the answer leaves out, or answers with 429/503 and a
//! `Retry-After`, comes back as [`BatchOutcome::Retry`] so that the caller retries it alone
//! without holding up the others.

use super::client::parse_retry_after;
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// Graph's limit of requests in one batch.
pub const MAX_BATCH: usize = 20;

/// How long a throttled request waits when its answer gives no usable `Retry-After`.
const DEFAULT_RETRY: Duration = Duration::from_secs(5);

/// One request of a batch. `url` is relative to the version root (`/users/{id}/presence`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    pub id: String,
    pub method: String,
    pub url: String,
    pub body: Option<Value>,
    /// Request headers besides the content type (`Prefer: odata.maxpagesize=…`).
    pub headers: Vec<(String, String)>,
}

impl BatchRequest {
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            method: "GET".into(),
            url: url.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn post(id: impl Into<String>, url: impl Into<String>, body: Value) -> Self {
        Self {
            id: id.into(),
            method: "POST".into(),
            url: url.into(),
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// The same request with header `name: value` added.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What became of one request of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// Answered (any status but a throttling one): its status and JSON body (`Null` for none).
    Answered {
        id: String,
        status: u16,
        body: Value,
    },
    /// Throttled (429, 503) or not answered at all: send it again after `after`.
    Retry { id: String, after: Duration },
}

impl BatchOutcome {
    pub fn id(&self) -> &str {
        match self {
            BatchOutcome::Answered { id, .. } | BatchOutcome::Retry { id, .. } => id,
        }
    }
}

/// Up to [`MAX_BATCH`] requests with distinct ids.
#[derive(Debug, Clone)]
pub struct Batch {
    requests: Vec<BatchRequest>,
}

impl Batch {
    /// A batch of `requests`: at most [`MAX_BATCH`], ids distinct without regard to case,
    /// urls relative (a full URL would name a host the token is not for).
    pub fn new(requests: Vec<BatchRequest>) -> Result<Self, Error> {
        if requests.is_empty() || requests.len() > MAX_BATCH {
            return Err(Error::InvalidInput(format!(
                "a batch holds 1 to {MAX_BATCH} requests, not {}",
                requests.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for r in &requests {
            if !seen.insert(r.id.to_lowercase()) {
                return Err(Error::InvalidInput(format!(
                    "request id {:?} twice in one batch",
                    r.id
                )));
            }
            if r.url.contains("://") {
                return Err(Error::InvalidInput(format!(
                    "a batched request's url must be relative: {}",
                    r.url
                )));
            }
        }
        Ok(Self { requests })
    }

    /// Splits `requests` into batches of at most [`MAX_BATCH`], in order.
    pub fn chunks(requests: Vec<BatchRequest>) -> Result<Vec<Self>, Error> {
        let mut batches = Vec::new();
        let mut rest = requests.into_iter().peekable();
        while rest.peek().is_some() {
            batches.push(Self::new(rest.by_ref().take(MAX_BATCH).collect())?);
        }
        Ok(batches)
    }

    pub fn requests(&self) -> &[BatchRequest] {
        &self.requests
    }

    /// The body of `POST /$batch`.
    pub fn body(&self) -> Value {
        let requests: Vec<Value> = self
            .requests
            .iter()
            .map(|r| {
                let url = if r.url.starts_with('/') {
                    r.url.clone()
                } else {
                    format!("/{}", r.url)
                };
                let mut v = json!({"id": r.id, "method": r.method, "url": url});
                let mut headers = serde_json::Map::new();
                for (name, value) in &r.headers {
                    headers.insert(name.clone(), Value::String(value.clone()));
                }
                if let Some(body) = &r.body {
                    // Graph requires the content type whenever there is a body.
                    v["body"] = body.clone();
                    headers.insert("Content-Type".into(), json!("application/json"));
                }
                if !headers.is_empty() {
                    v["headers"] = Value::Object(headers);
                }
                v
            })
            .collect();
        json!({ "requests": requests })
    }

    /// Reads the answer to [`Batch::body`]: one outcome per request, in the order sent.
    /// An answer that is no batch answer at all is an error (the caller retries the whole
    /// batch); answers to ids that were not sent are ignored, with a warning.
    pub fn outcomes(&self, answer: &[u8], now: DateTime<Utc>) -> Result<Vec<BatchOutcome>, Error> {
        #[derive(Deserialize)]
        struct Answer {
            responses: Vec<Response>,
        }
        #[derive(Deserialize)]
        struct Response {
            id: String,
            status: u16,
            #[serde(default)]
            headers: HashMap<String, Value>,
            #[serde(default)]
            body: Value,
        }
        let answer: Answer = serde_json::from_slice(answer)
            .map_err(|e| Error::MalformedResponse(format!("batch answer: {e}")))?;
        let mut by_id: HashMap<String, Response> = HashMap::new();
        for response in answer.responses {
            let known = self
                .requests
                .iter()
                .any(|r| r.id.eq_ignore_ascii_case(&response.id));
            if known {
                by_id.insert(response.id.to_lowercase(), response);
            } else {
                tracing::warn!(id = %response.id, "the batch answer names a request that was not sent");
            }
        }
        Ok(self
            .requests
            .iter()
            .map(|r| match by_id.remove(&r.id.to_lowercase()) {
                None => BatchOutcome::Retry {
                    id: r.id.clone(),
                    after: Duration::ZERO,
                },
                Some(response) if matches!(response.status, 429 | 503) => BatchOutcome::Retry {
                    id: r.id.clone(),
                    after: retry_after(&response.headers, now).unwrap_or(DEFAULT_RETRY),
                },
                Some(response) => BatchOutcome::Answered {
                    id: r.id.clone(),
                    status: response.status,
                    body: response.body,
                },
            })
            .collect())
    }
}

/// An inner answer's `Retry-After` (any case of the name; a number or text), read by the
/// one parser every caller uses.
fn retry_after(headers: &HashMap<String, Value>, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v)?;
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    parse_retry_after(&text, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence_reads(n: usize) -> Vec<BatchRequest> {
        (0..n)
            .map(|i| BatchRequest::get(format!("u{i}"), format!("users/user-{i}/presence")))
            .collect()
    }

    #[test]
    fn the_body_is_graphs_shape_with_relative_urls_and_a_content_type_beside_a_body() {
        let batch = Batch::new(vec![
            BatchRequest::get("1", "me/memberOf"),
            BatchRequest::post(
                "2",
                "/users/abc/presence/setPresence",
                json!({"sessionId": "s", "availability": "Busy"}),
            ),
        ])
        .unwrap();
        assert_eq!(
            batch.body(),
            json!({"requests": [
                {"id": "1", "method": "GET", "url": "/me/memberOf"},
                {"id": "2", "method": "POST", "url": "/users/abc/presence/setPresence",
                 "body": {"sessionId": "s", "availability": "Busy"},
                 "headers": {"Content-Type": "application/json"}},
            ]})
        );
        // A header of the request's own goes beside it (a delta poll's page size).
        let poll = Batch::new(vec![BatchRequest::get(
            "1",
            "/users/abc/calendarView/delta?$deltatoken=x",
        )
        .with_header("Prefer", "odata.maxpagesize=100")])
        .unwrap();
        assert_eq!(
            poll.body()["requests"][0]["headers"],
            json!({"Prefer": "odata.maxpagesize=100"})
        );
    }

    #[test]
    fn batches_hold_twenty_distinct_relative_requests() {
        assert!(Batch::new(presence_reads(20)).is_ok());
        assert!(Batch::new(presence_reads(21)).is_err());
        assert!(Batch::new(Vec::new()).is_err());
        let twice = vec![BatchRequest::get("a", "/me"), BatchRequest::get("A", "/me")];
        assert!(Batch::new(twice).is_err(), "ids are not case-sensitive");
        let absolute = vec![BatchRequest::get(
            "a",
            "https://graph.microsoft.com/v1.0/me",
        )];
        assert!(Batch::new(absolute).is_err());
        let chunks = Batch::chunks(presence_reads(45)).unwrap();
        let sizes: Vec<usize> = chunks.iter().map(|b| b.requests().len()).collect();
        assert_eq!(sizes, [20, 20, 5]);
        assert_eq!(chunks[2].requests()[0].id, "u40");
    }

    /// Microsoft's example answer (concepts/json-batching.md): out of order, per-request
    /// statuses and headers; plus a throttled request and one the answer leaves out.
    #[test]
    fn answers_are_matched_by_id_and_throttled_ones_retried_alone() {
        let now: DateTime<Utc> = "2026-12-09T10:00:00Z".parse().unwrap();
        let batch = Batch::new(vec![
            BatchRequest::get("1", "/me/memberOf"),
            BatchRequest::get("2", "/me/planner/tasks"),
            BatchRequest::get("3", "/users/a/presence"),
            BatchRequest::get("4", "/users/b/presence"),
            BatchRequest::get("5", "/users/c/presence"),
            BatchRequest::get("6", "/users/d/presence"),
            BatchRequest::get("7", "/users/e/presence"),
        ])
        .unwrap();
        let answer = json!({"responses": [
            {"id": "2", "status": 403,
             "headers": {"Cache-Control": "no-cache", "Content-Type": "application/json"},
             "body": {"error": {"code": "", "message": "You do not have the required permissions to access this item."}}},
            {"id": "1", "status": 200,
             "headers": {"Cache-Control": "no-cache", "OData-Version": "4.0"},
             "body": {"@odata.context": "https://graph.microsoft.com/beta/$metadata#directoryObjects", "value": []}},
            {"id": "3", "status": 429, "headers": {"Retry-After": "2.5"},
             "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}},
            {"id": "4", "status": 503, "headers": {"retry-after": 7}},
            {"id": "5", "status": 429, "headers": {}},
            {"id": "6", "status": 429, "headers": {"Retry-After": "Wed, 09 Dec 2026 10:00:03 GMT"}},
            {"id": "99", "status": 200, "body": {}},
        ]});
        let outcomes = batch
            .outcomes(&serde_json::to_vec(&answer).unwrap(), now)
            .unwrap();
        let summary: Vec<String> = outcomes
            .iter()
            .map(|o| match o {
                BatchOutcome::Answered { id, status, body } => {
                    format!("{id} {status} {}", body.is_object())
                }
                BatchOutcome::Retry { id, after } => format!("{id} retry {after:?}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "1 200 true",
                "2 403 true",
                "3 retry 2.5s",
                "4 retry 7s",
                "5 retry 5s",
                "6 retry 3s",
                "7 retry 0ns",
            ]
        );
        assert!(batch.outcomes(b"{\"error\": {}}", now).is_err());
        assert!(batch.outcomes(b"not json", now).is_err());
    }
}
