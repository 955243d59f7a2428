//! Change notifications (issue 21), sans-IO: which Graph subscriptions on the held mailboxes'
//! events to create, renew, re-create or delete, and what an incoming notification means.
//! The caller moves the bytes: it sends the [`SubscriptionOp`]s [`Subscriptions::poll_op`]
//! hands out, reports their outcome and sleeps until [`Subscriptions::poll_timeout`].
//!
//! In server mode a notification may reach any worker, not the holder of the mailbox: the
//! worker that receives it ([`crate::webhook`]) reads it with [`parse_notification`], checks
//! each item's `clientState` (a random secret per subscription, compared in constant time)
//! against the subscription recorded in PostgreSQL, and sends the holder the item's
//! [`NotificationEvent`] (as [`NotificationEvent::to_payload`]), which the holder's book
//! takes with [`Subscriptions::apply`]. [`Subscriptions::handle_notification`] does both at
//! once against the book's own subscriptions (one worker, or tests).
//!
//! A notification only says "look": the mailbox's incremental delta is what reads the
//! change, so a lost or duplicated notification costs at most a round trip, and the
//! low-frequency safety poll catches whatever never arrives.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use subtle::ConstantTimeEq;

/// How long a subscription is asked for (Outlook resources allow up to 10,080 minutes).
pub const LIFETIME: Duration = Duration::days(3);
/// Renewed when this little of it is left.
pub const RENEW_BEFORE: Duration = Duration::hours(24);
/// A failed create or renewal is tried again after this (doubling, up to an hour).
const FIRST_RETRY: Duration = Duration::seconds(30);
const MAX_RETRY: Duration = Duration::hours(1);

/// One mailbox's subscription as the worker knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Graph's id; `None` until created.
    pub id: Option<String>,
    pub client_state: String,
    pub expires: DateTime<Utc>,
    /// When to try again after a failure, and how long the last wait was.
    retry: Option<(DateTime<Utc>, Duration)>,
    /// Taken over from the mailbox's previous holder ([`Subscriptions::adopt`]): renewed
    /// at once, which also proves that it still exists.
    adopted: bool,
}

impl Subscription {
    /// Taken over from the mailbox's previous holder and not yet renewed by this worker.
    pub fn is_adopted(&self) -> bool {
        self.adopted
    }
}

/// A call to make.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionOp {
    /// `POST /subscriptions` on `users/{mailbox}/events` with this client state and expiry.
    Create {
        mailbox: String,
        client_state: String,
        expires: DateTime<Utc>,
    },
    /// `PATCH /subscriptions/{id}` to this expiry.
    Renew {
        mailbox: String,
        id: String,
        expires: DateTime<Utc>,
    },
    /// `DELETE /subscriptions/{id}`: the mailbox is no longer this worker's.
    Delete { id: String },
}

/// What a notification (or lifecycle event) asks of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationEvent {
    /// Something in the mailbox changed: run its incremental delta now.
    Changed { mailbox: String },
    /// Graph dropped notifications (`missed`): run the delta too, nothing else is lost.
    Missed { mailbox: String },
    /// `reauthorizationRequired`: renewed at once (a renewal reauthorizes).
    Reauthorize { mailbox: String },
    /// `subscriptionRemoved`: created again.
    Removed { mailbox: String },
}

/// Why a webhook body was refused (answered 202 all the same, as Graph expects, but acted
/// on in no part).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the notification is not Graph's JSON: {0}")]
    Malformed(String),
}

/// The subscriptions of the mailboxes this worker holds.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_mailbox: BTreeMap<String, Subscription>,
    /// Deletions still to send (mailboxes given up).
    deletions: Vec<String>,
    /// Create and renew calls handed out and not yet answered.
    in_flight: std::collections::BTreeSet<String>,
}

impl Subscriptions {
    /// The mailboxes now held: new ones get a subscription, given-up ones lose theirs.
    pub fn set_mailboxes(&mut self, held: &[String], now: DateTime<Utc>) {
        let held: std::collections::BTreeSet<&String> = held.iter().collect();
        let gone: Vec<String> = self
            .by_mailbox
            .keys()
            .filter(|m| !held.contains(m))
            .cloned()
            .collect();
        for mailbox in gone {
            if let Some(id) = self.by_mailbox.remove(&mailbox).and_then(|s| s.id) {
                self.deletions.push(id);
            }
            self.in_flight.remove(&mailbox);
        }
        for mailbox in held {
            self.by_mailbox
                .entry(mailbox.clone())
                .or_insert_with(|| Subscription {
                    id: None,
                    client_state: new_client_state(),
                    expires: now,
                    retry: None,
                    adopted: false,
                });
        }
    }

    /// Takes over the subscription `id` that the previous holder of `mailbox` (a worker
    /// killed, or past its lease) recorded with `client_state`, rather than making one of
    /// its own: the notification URL is the organization's and the client state is the
    /// recorded one, which the webhooks check notifications against. It is renewed at once
    /// (a `Renew` from the next [`Subscriptions::poll_op`]); a 404 makes a new one
    /// ([`Subscriptions::handle_failed`] with `gone`). Only for a mailbox the book does not
    /// know yet and a subscription not yet expired; returns whether it was taken.
    pub fn adopt(
        &mut self,
        mailbox: &str,
        id: String,
        client_state: String,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        if self.by_mailbox.contains_key(mailbox) || expires <= now {
            return false;
        }
        self.by_mailbox.insert(
            mailbox.to_owned(),
            Subscription {
                id: Some(id),
                client_state,
                expires,
                retry: None,
                adopted: true,
            },
        );
        true
    }

    /// The subscription of `mailbox` cannot be kept (renewed, it turned out to notify
    /// another URL): it is deleted, and a new one made with a new client state.
    pub fn replace(&mut self, mailbox: &str) {
        self.in_flight.remove(mailbox);
        if let Some(sub) = self.by_mailbox.get_mut(mailbox) {
            if let Some(id) = sub.id.take() {
                self.deletions.push(id);
            }
            sub.client_state = new_client_state();
            sub.retry = None;
            sub.adopted = false;
        }
    }

    /// Subscription `id`, made by someone else (a worker that held the mailbox before), is
    /// to be deleted.
    pub fn delete_later(&mut self, id: String) {
        self.deletions.push(id);
    }

    pub fn get(&self, mailbox: &str) -> Option<&Subscription> {
        self.by_mailbox.get(mailbox)
    }

    /// The next call due at `now`, if any.
    pub fn poll_op(&mut self, now: DateTime<Utc>) -> Option<SubscriptionOp> {
        if let Some(id) = self.deletions.pop() {
            return Some(SubscriptionOp::Delete { id });
        }
        let (mailbox, sub) = self.by_mailbox.iter().find(|(m, s)| {
            !self.in_flight.contains(*m)
                && s.retry.is_none_or(|(at, _)| at <= now)
                && (s.id.is_none() || s.adopted || s.expires - RENEW_BEFORE <= now)
        })?;
        let mailbox = mailbox.clone();
        let expires = now + LIFETIME;
        let op = match &sub.id {
            // An expired subscription cannot be renewed: it is created anew.
            Some(id) if sub.expires > now => SubscriptionOp::Renew {
                mailbox: mailbox.clone(),
                id: id.clone(),
                expires,
            },
            _ => SubscriptionOp::Create {
                mailbox: mailbox.clone(),
                client_state: sub.client_state.clone(),
                expires,
            },
        };
        self.in_flight.insert(mailbox);
        Some(op)
    }

    /// When the next call falls due (a renewal or a retry); `None` when nothing is planned.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        if !self.deletions.is_empty() {
            return Some(DateTime::<Utc>::MIN_UTC);
        }
        self.by_mailbox
            .iter()
            .filter(|(m, _)| !self.in_flight.contains(*m))
            .map(|(_, s)| match (s.retry, &s.id) {
                (Some((at, _)), _) => at,
                (None, None) => DateTime::<Utc>::MIN_UTC,
                (None, Some(_)) if s.adopted => DateTime::<Utc>::MIN_UTC,
                (None, Some(_)) => s.expires - RENEW_BEFORE,
            })
            .min()
    }

    /// A create or renewal of `mailbox` succeeded: Graph's id and expiry.
    pub fn handle_subscribed(&mut self, mailbox: &str, id: String, expires: DateTime<Utc>) {
        self.in_flight.remove(mailbox);
        match self.by_mailbox.get_mut(mailbox) {
            Some(sub) => {
                sub.id = Some(id);
                sub.expires = expires;
                sub.retry = None;
                sub.adopted = false;
            }
            // Given up while the call ran: the new subscription goes too.
            None => self.deletions.push(id),
        }
    }

    /// A create or renewal of `mailbox` failed: tried again later, each wait twice the last.
    /// A renewal Graph answered 404 (the subscription is gone) creates anew.
    pub fn handle_failed(&mut self, mailbox: &str, now: DateTime<Utc>, gone: bool) {
        self.in_flight.remove(mailbox);
        if let Some(sub) = self.by_mailbox.get_mut(mailbox) {
            if gone {
                sub.id = None;
                sub.retry = None;
                if sub.adopted {
                    // The previous holder's secret goes with its subscription.
                    sub.adopted = false;
                    sub.client_state = new_client_state();
                }
                return;
            }
            let wait = sub
                .retry
                .map_or(FIRST_RETRY, |(_, last)| (last * 2).min(MAX_RETRY));
            sub.retry = Some((now + wait, wait));
        }
    }

    /// Reads a webhook body: the events of the items whose subscription is this worker's
    /// and whose `clientState` matches; the rest is ignored (logged), never trusted.
    pub fn handle_notification(
        &mut self,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<NotificationEvent>, NotificationError> {
        let items = parse_notification(body)?;
        let by_id: HashMap<&str, &str> = self
            .by_mailbox
            .iter()
            .filter_map(|(m, s)| s.id.as_deref().map(|id| (id, m.as_str())))
            .collect();
        let mut events = Vec::new();
        for item in items {
            let Some(mailbox) = by_id.get(item.subscription_id.as_str()).copied() else {
                tracing::debug!(subscription = %item.subscription_id, "a notification for a subscription this worker does not hold");
                continue;
            };
            if !client_state_matches(
                item.client_state.as_deref(),
                &self.by_mailbox[mailbox].client_state,
            ) {
                tracing::warn!(%mailbox, "a notification with the wrong clientState was ignored");
                continue;
            }
            let event = item.event(mailbox);
            if !events.contains(&event) {
                events.push(event);
            }
        }
        for event in &events {
            self.apply(event, now);
        }
        Ok(events)
    }

    /// What a trusted event changes in the book: `Reauthorize` makes the renewal due now,
    /// `Removed` forgets the subscription (created again, with a new secret, at the next
    /// poll). `Changed` and `Missed` change nothing here (the caller syncs the mailbox).
    pub fn apply(&mut self, event: &NotificationEvent, now: DateTime<Utc>) {
        match event {
            NotificationEvent::Reauthorize { mailbox } => {
                if let Some(sub) = self.by_mailbox.get_mut(mailbox) {
                    sub.expires = sub.expires.min(now + RENEW_BEFORE);
                    sub.retry = None;
                }
            }
            NotificationEvent::Removed { mailbox } => {
                if let Some(sub) = self.by_mailbox.get_mut(mailbox) {
                    sub.id = None;
                    sub.retry = None;
                    sub.client_state = new_client_state();
                }
            }
            NotificationEvent::Changed { .. } | NotificationEvent::Missed { .. } => {}
        }
    }

    /// How many held mailboxes have a subscription on Graph.
    pub fn active(&self) -> usize {
        self.by_mailbox.values().filter(|s| s.id.is_some()).count()
    }
}

/// One item of a webhook body, as far as it matters here.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationItem {
    pub subscription_id: String,
    client_state: Option<String>,
    pub lifecycle_event: Option<String>,
}

impl std::fmt::Debug for NotificationItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client state is a secret: never printed.
        f.debug_struct("NotificationItem")
            .field("subscription_id", &self.subscription_id)
            .field("lifecycle_event", &self.lifecycle_event)
            .finish_non_exhaustive()
    }
}

impl NotificationItem {
    /// True when the item carries `expected` as its `clientState` (constant time).
    pub fn client_state_is(&self, expected: &str) -> bool {
        client_state_matches(self.client_state.as_deref(), expected)
    }

    /// What the item asks of `mailbox`'s holder (an unknown lifecycle event: a sync).
    pub fn event(&self, mailbox: &str) -> NotificationEvent {
        let mailbox = mailbox.to_owned();
        match self.lifecycle_event.as_deref() {
            None => NotificationEvent::Changed { mailbox },
            Some("missed") => NotificationEvent::Missed { mailbox },
            Some("reauthorizationRequired") => NotificationEvent::Reauthorize { mailbox },
            Some("subscriptionRemoved") => NotificationEvent::Removed { mailbox },
            Some(other) => {
                tracing::info!(%mailbox, event = other, "an unknown lifecycle event; syncing the mailbox");
                NotificationEvent::Missed { mailbox }
            }
        }
    }
}

/// The items of a webhook body (change and lifecycle notifications alike).
pub fn parse_notification(body: &[u8]) -> Result<Vec<NotificationItem>, NotificationError> {
    #[derive(Deserialize)]
    struct Body {
        value: Vec<NotificationItem>,
    }
    let body: Body =
        serde_json::from_slice(body).map_err(|e| NotificationError::Malformed(e.to_string()))?;
    Ok(body.value)
}

/// Compares a notification's `clientState` with the subscription's in constant time; a
/// missing one never matches.
pub fn client_state_matches(given: Option<&str>, expected: &str) -> bool {
    match given {
        Some(given) => bool::from(given.as_bytes().ct_eq(expected.as_bytes())),
        None => false,
    }
}

impl NotificationEvent {
    pub fn mailbox(&self) -> &str {
        match self {
            NotificationEvent::Changed { mailbox }
            | NotificationEvent::Missed { mailbox }
            | NotificationEvent::Reauthorize { mailbox }
            | NotificationEvent::Removed { mailbox } => mailbox,
        }
    }

    /// The `NOTIFY` payload that carries the event to the mailbox's holder: `kind:mailbox`.
    pub fn to_payload(&self) -> String {
        let kind = match self {
            NotificationEvent::Changed { .. } => "changed",
            NotificationEvent::Missed { .. } => "missed",
            NotificationEvent::Reauthorize { .. } => "reauthorize",
            NotificationEvent::Removed { .. } => "removed",
        };
        format!("{kind}:{}", self.mailbox())
    }

    /// Reads a payload of [`NotificationEvent::to_payload`].
    pub fn from_payload(payload: &str) -> Option<Self> {
        let (kind, mailbox) = payload.split_once(':')?;
        let mailbox = mailbox.to_owned();
        Some(match kind {
            "changed" => NotificationEvent::Changed { mailbox },
            "missed" => NotificationEvent::Missed { mailbox },
            "reauthorize" => NotificationEvent::Reauthorize { mailbox },
            "removed" => NotificationEvent::Removed { mailbox },
            _ => return None,
        })
    }
}

/// A random secret Graph echoes in every notification of one subscription (at most 128
/// characters): 244 random bits.
fn new_client_state() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn held(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Creates every held mailbox's subscription at `now`, as Graph would answer.
    fn subscribe_all(subs: &mut Subscriptions, now: DateTime<Utc>) {
        while let Some(op) = subs.poll_op(now) {
            match op {
                SubscriptionOp::Create {
                    mailbox, expires, ..
                } => subs.handle_subscribed(&mailbox, format!("sub-{mailbox}"), expires),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn held_mailboxes_are_subscribed_renewed_before_expiry_and_dropped_when_given_up() {
        let now = t("2026-12-07T09:00:00Z");
        let mut subs = Subscriptions::default();
        subs.set_mailboxes(&held(&["a", "b"]), now);
        assert_eq!(subs.poll_timeout(), Some(DateTime::<Utc>::MIN_UTC));
        subscribe_all(&mut subs, now);
        assert_eq!(subs.poll_op(now), None);
        let renew_at = now + LIFETIME - RENEW_BEFORE;
        assert_eq!(subs.poll_timeout(), Some(renew_at));
        assert_eq!(subs.poll_op(renew_at - Duration::seconds(1)), None);
        let Some(SubscriptionOp::Renew {
            mailbox,
            id,
            expires,
        }) = subs.poll_op(renew_at)
        else {
            panic!("a renewal is due");
        };
        assert_eq!((mailbox.as_str(), id.as_str()), ("a", "sub-a"));
        assert_eq!(expires, renew_at + LIFETIME);
        subs.handle_subscribed("a", id, expires);
        // b is given up: its subscription is deleted, before anything else.
        subs.set_mailboxes(&held(&["a"]), renew_at);
        assert_eq!(
            subs.poll_op(renew_at),
            Some(SubscriptionOp::Delete { id: "sub-b".into() })
        );
        assert_eq!(subs.get("b"), None);
    }

    #[test]
    fn failures_back_off_a_vanished_subscription_is_created_anew() {
        let now = t("2026-12-07T09:00:00Z");
        let mut subs = Subscriptions::default();
        subs.set_mailboxes(&held(&["a"]), now);
        assert!(matches!(
            subs.poll_op(now),
            Some(SubscriptionOp::Create { .. })
        ));
        assert_eq!(subs.poll_op(now), None, "one call at a time per mailbox");
        subs.handle_failed("a", now, false);
        assert_eq!(subs.poll_timeout(), Some(now + FIRST_RETRY));
        let later = now + FIRST_RETRY;
        assert!(matches!(
            subs.poll_op(later),
            Some(SubscriptionOp::Create { .. })
        ));
        subs.handle_failed("a", later, false);
        assert_eq!(subs.poll_timeout(), Some(later + FIRST_RETRY * 2));
        subscribe_all(&mut subs, later + FIRST_RETRY * 2);
        // The renewal finds it gone (404): created again, at once.
        let renew_at = subs.poll_timeout().unwrap();
        assert!(matches!(
            subs.poll_op(renew_at),
            Some(SubscriptionOp::Renew { .. })
        ));
        subs.handle_failed("a", renew_at, true);
        assert!(matches!(
            subs.poll_op(renew_at),
            Some(SubscriptionOp::Create { .. })
        ));
        // An expired one cannot be renewed either.
        subs.handle_subscribed("a", "sub-a2".into(), renew_at + Duration::minutes(1));
        assert!(matches!(
            subs.poll_op(renew_at + Duration::minutes(2)),
            Some(SubscriptionOp::Create { .. })
        ));
    }

    #[test]
    fn a_previous_holders_subscription_is_adopted_renewed_at_once_and_replaced_when_gone() {
        let now = t("2026-12-07T09:00:00Z");
        let left = now + Duration::hours(30);
        let mut subs = Subscriptions::default();
        // Only a live subscription of a mailbox the book does not know yet.
        assert!(!subs.adopt("a", "old-a".into(), "secret-a".into(), now, now));
        assert!(subs.adopt("a", "old-a".into(), "secret-a".into(), left, now));
        assert!(subs.adopt("b", "old-b".into(), "secret-b".into(), left, now));
        assert!(!subs.adopt("a", "other".into(), "x".into(), left, now));
        subs.set_mailboxes(&held(&["a", "b"]), now);
        assert_eq!(subs.get("a").unwrap().client_state, "secret-a", "kept");
        assert_eq!(subs.poll_timeout(), Some(DateTime::<Utc>::MIN_UTC));
        // Renewed at once, though a day is not yet left, by id: no new subscription.
        let Some(SubscriptionOp::Renew {
            mailbox,
            id,
            expires,
        }) = subs.poll_op(now)
        else {
            panic!("a renewal at once");
        };
        assert_eq!((mailbox.as_str(), id.as_str()), ("a", "old-a"));
        assert_eq!(expires, now + LIFETIME);
        subs.handle_subscribed("a", id, expires);
        assert_eq!(subs.get("a").unwrap().id.as_deref(), Some("old-a"));
        assert_eq!(subs.get("a").unwrap().client_state, "secret-a");
        // b's is gone on Graph (404): made anew, with a secret of its own.
        let Some(SubscriptionOp::Renew { mailbox, .. }) = subs.poll_op(now) else {
            panic!("b's renewal");
        };
        assert_eq!(mailbox, "b");
        subs.handle_failed("b", now, true);
        let Some(SubscriptionOp::Create { client_state, .. }) = subs.poll_op(now) else {
            panic!("b made anew");
        };
        assert_ne!(client_state, "secret-b");
        subs.handle_subscribed("b", "new-b".into(), now + LIFETIME);
        // Kept until a day before its new expiry.
        assert_eq!(subs.poll_op(now), None);
        assert_eq!(subs.poll_timeout(), Some(now + LIFETIME - RENEW_BEFORE));
        // One that cannot be kept (another notification URL) is deleted and made anew.
        subs.replace("a");
        assert_eq!(
            subs.poll_op(now),
            Some(SubscriptionOp::Delete { id: "old-a".into() })
        );
        let Some(SubscriptionOp::Create {
            mailbox,
            client_state,
            ..
        }) = subs.poll_op(now)
        else {
            panic!("a made anew");
        };
        assert_eq!(mailbox, "a");
        assert_ne!(client_state, "secret-a");
    }

    #[test]
    fn notifications_are_trusted_only_with_their_client_state() {
        let now = t("2026-12-07T09:00:00Z");
        let mut subs = Subscriptions::default();
        subs.set_mailboxes(&held(&["a", "b"]), now);
        subscribe_all(&mut subs, now);
        let state_a = subs.get("a").unwrap().client_state.clone();
        let state_b = subs.get("b").unwrap().client_state.clone();
        assert_ne!(state_a, state_b);
        assert!(state_a.len() <= 128);
        // Microsoft's example shape (change-notifications-delivery-webhooks.md), twice for
        // a, once with b's secret under a's id (ignored), once for a stranger.
        let body = json!({"value": [
            {"subscriptionId": "sub-a", "clientState": state_a, "changeType": "created",
             "resource": "Users/a/Events/1", "tenantId": "t",
             "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "1"}},
            {"subscriptionId": "sub-a", "clientState": state_a, "changeType": "updated",
             "resource": "Users/a/Events/2"},
            {"subscriptionId": "sub-a", "clientState": state_b, "changeType": "deleted"},
            {"subscriptionId": "sub-zz", "clientState": state_a, "changeType": "deleted"},
            {"subscriptionId": "sub-b", "changeType": "deleted"},
        ]});
        let events = subs
            .handle_notification(&serde_json::to_vec(&body).unwrap(), now)
            .unwrap();
        assert_eq!(
            events,
            [NotificationEvent::Changed {
                mailbox: "a".into()
            }]
        );
        assert!(subs.handle_notification(b"<xml/>", now).is_err());

        // Lifecycle: missed → a sync; reauthorization → renewed now; removed → created anew
        // with a new secret.
        let body = json!({"value": [
            {"subscriptionId": "sub-a", "clientState": state_a, "lifecycleEvent": "missed"},
            {"subscriptionId": "sub-a", "clientState": state_a, "lifecycleEvent": "reauthorizationRequired"},
            {"subscriptionId": "sub-b", "clientState": state_b, "lifecycleEvent": "subscriptionRemoved"},
        ]});
        let events = subs
            .handle_notification(&serde_json::to_vec(&body).unwrap(), now)
            .unwrap();
        assert_eq!(
            events,
            [
                NotificationEvent::Missed {
                    mailbox: "a".into()
                },
                NotificationEvent::Reauthorize {
                    mailbox: "a".into()
                },
                NotificationEvent::Removed {
                    mailbox: "b".into()
                },
            ]
        );
        let mut ops = Vec::new();
        while let Some(op) = subs.poll_op(now) {
            ops.push(op);
        }
        assert!(
            matches!(&ops[..], [SubscriptionOp::Renew { mailbox, .. }, SubscriptionOp::Create { mailbox: b, client_state, .. }]
            if mailbox == "a" && b == "b" && *client_state != state_b),
            "{ops:?}"
        );
    }

    #[test]
    fn wake_up_payloads_carry_the_event_and_the_mailbox() {
        for event in [
            NotificationEvent::Changed {
                mailbox: "a@contoso.example".into(),
            },
            NotificationEvent::Missed {
                mailbox: "b".into(),
            },
            NotificationEvent::Reauthorize {
                mailbox: "c".into(),
            },
            NotificationEvent::Removed {
                mailbox: "d:e".into(),
            },
        ] {
            assert_eq!(
                NotificationEvent::from_payload(&event.to_payload()),
                Some(event)
            );
        }
        assert_eq!(NotificationEvent::from_payload("renamed:a"), None);
        assert_eq!(NotificationEvent::from_payload("a"), None);
    }

    #[test]
    fn a_missing_client_state_never_matches() {
        assert!(client_state_matches(Some("s3cret"), "s3cret"));
        assert!(!client_state_matches(Some("s3cre"), "s3cret"));
        assert!(!client_state_matches(None, ""));
        let items = parse_notification(
            br#"{"value":[{"subscriptionId":"x","clientState":"SECRETVALUE"}]}"#,
        )
        .unwrap();
        assert!(items[0].client_state_is("SECRETVALUE"));
        // Never printed.
        assert!(!format!("{:?}", items[0]).contains("SECRETVALUE"));
    }
}
