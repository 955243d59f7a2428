//! Graph's throttling by limits, off by default ([`Throttling`],
//! [`crate::Control::set_throttling`]): requests per second for the whole tenant, and per
//! mailbox both requests per second and requests at once. A request over a limit is
//! answered 429 with `Retry-After` (the configured seconds), as Graph does, and consumes
//! nothing. The limits apply to every Graph request under `/v1.0` and to each request
//! inside a `$batch` on its own (Graph throttles the inner requests one by one: the batch
//! answers 200 with an inner 429), not to the `$batch` envelope itself.
//!
//! The mailbox is the `{user}` of `/users/{user}/…` (lower case), `me` for `/me/…`;
//! requests to neither (groups, subscriptions) count only for the tenant. Windows are whole
//! wall-clock seconds.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Limits; `None` is no limit. The default is no limit at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttling {
    /// Requests per second across the tenant.
    pub tenant_per_sec: Option<u32>,
    /// Requests per second to one mailbox.
    pub mailbox_per_sec: Option<u32>,
    /// Requests to one mailbox in flight at once.
    pub mailbox_concurrent: Option<u32>,
    /// The `Retry-After` of a throttled answer, in seconds.
    pub retry_after_secs: u64,
}

impl Default for Throttling {
    fn default() -> Self {
        Self {
            tenant_per_sec: None,
            mailbox_per_sec: None,
            mailbox_concurrent: None,
            retry_after_secs: 1,
        }
    }
}

impl Throttling {
    pub fn is_off(&self) -> bool {
        self.tenant_per_sec.is_none()
            && self.mailbox_per_sec.is_none()
            && self.mailbox_concurrent.is_none()
    }
}

/// The counts the limits are checked against.
#[derive(Debug, Default)]
pub struct ThrottleState {
    pub limits: Throttling,
    /// The second the counts below are of.
    second: i64,
    tenant_count: u32,
    mailbox_counts: HashMap<String, u32>,
    in_flight: HashMap<String, u32>,
    /// Requests answered 429 by these limits, since the start.
    pub throttled: u64,
}

impl ThrottleState {
    /// New limits, counted afresh from now (requests in flight stay counted).
    pub fn set_limits(&mut self, limits: Throttling) {
        self.limits = limits;
        self.second = 0;
        self.tenant_count = 0;
        self.mailbox_counts.clear();
    }

    /// Admits a request to `mailbox` at `second`, or says it is throttled.
    fn admit(&mut self, mailbox: Option<&str>, second: i64) -> bool {
        if self.second != second {
            self.second = second;
            self.tenant_count = 0;
            self.mailbox_counts.clear();
        }
        let limits = self.limits;
        if limits
            .tenant_per_sec
            .is_some_and(|l| self.tenant_count >= l)
        {
            return false;
        }
        if let Some(m) = mailbox {
            if limits
                .mailbox_per_sec
                .is_some_and(|l| self.mailbox_counts.get(m).copied().unwrap_or(0) >= l)
            {
                return false;
            }
            if limits
                .mailbox_concurrent
                .is_some_and(|l| self.in_flight.get(m).copied().unwrap_or(0) >= l)
            {
                return false;
            }
            *self.mailbox_counts.entry(m.to_owned()).or_default() += 1;
            *self.in_flight.entry(m.to_owned()).or_default() += 1;
        }
        self.tenant_count += 1;
        true
    }

    fn done(&mut self, mailbox: &str) {
        if let Some(n) = self.in_flight.get_mut(mailbox) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(mailbox);
            }
        }
    }
}

/// The mailbox a Graph path addresses.
fn mailbox_of(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("/v1.0/")
        .unwrap_or(path.trim_start_matches('/'));
    let mut parts = rest.split('/');
    match parts.next()? {
        "me" => Some("me".into()),
        "users" => parts.next().map(|u| percent_decode(u).to_lowercase()),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Releases a mailbox's in-flight count when its request is answered (or dropped).
struct Admitted {
    st: AppState,
    mailbox: Option<String>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(m) = &self.mailbox {
            self.st.throttling().done(m);
        }
    }
}

/// The layer: 429 with `Retry-After` over a limit.
pub async fn layer(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mailbox = mailbox_of(req.uri().path());
    let second = chrono::Utc::now().timestamp();
    let (throttled, counted) = {
        let mut t = st.throttling();
        if t.limits.is_off() {
            (None, false)
        } else if t.admit(mailbox.as_deref(), second) {
            (None, true)
        } else {
            t.throttled += 1;
            (Some(t.limits.retry_after_secs), false)
        }
    };
    if let Some(retry) = throttled {
        tracing::debug!(path = %req.uri().path(), "throttled by the limits");
        return crate::graph::fault_status(
            StatusCode::TOO_MANY_REQUESTS,
            Some(retry),
            req.headers(),
        );
    }
    // Admitted: the mailbox's in-flight count is released when answered (or dropped).
    let _admitted = Admitted {
        st: st.clone(),
        mailbox: mailbox.filter(|_| counted),
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_of_paths() {
        assert_eq!(mailbox_of("/v1.0/me/presence").as_deref(), Some("me"));
        assert_eq!(
            mailbox_of("/v1.0/users/A%40b.com/presence/setPresence").as_deref(),
            Some("a@b.com")
        );
        assert_eq!(mailbox_of("/v1.0/groups/x/transitiveMembers"), None);
    }

    #[test]
    fn limits_per_second_and_at_once() {
        let mut t = ThrottleState {
            limits: Throttling {
                tenant_per_sec: Some(3),
                mailbox_per_sec: Some(2),
                mailbox_concurrent: Some(1),
                retry_after_secs: 1,
            },
            ..Default::default()
        };
        assert!(t.admit(Some("a"), 10));
        assert!(!t.admit(Some("a"), 10), "one at once");
        t.done("a");
        assert!(t.admit(Some("a"), 10));
        t.done("a");
        assert!(!t.admit(Some("a"), 10), "two per second");
        assert!(t.admit(Some("b"), 10));
        assert!(!t.admit(Some("c"), 10), "three per second for the tenant");
        t.done("b");
        assert!(t.admit(Some("a"), 11), "a new second");
    }
}
