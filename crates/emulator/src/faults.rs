//! Fault switches for tests and benchmarks: scripted failures of the identity platform and
//! of Microsoft Graph, shaped like the service's own (see [`Fault`]).
//!
//! Three kinds of faults:
//! - switches that act at once or stay on until cleared (`RevokeRefreshTokens`,
//!   `ConsentRequired`, `ConditionalAccessBlock`, `ExpireDeltaTokens`);
//! - counted faults, consumed in order by the next requests they apply to (token endpoint:
//!   `TokenServerError`; Graph: `Throttle`, `Unavailable`, `TruncatedJson`, `Slow`, `Hang`,
//!   `Oversized`). Each Graph request takes one unit of the first Graph fault in the queue;
//!   the next fault starts when its predecessor's count is used up;
//! - round faults (`FailPage`, `NextLinkLoop`, `RepeatPage`), in order as well: each binds to
//!   the next calendarView or calendarView/delta round that starts (a request without a
//!   `$skiptoken` / `$skip`), and acts on a page of that round only.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// A fault to inject (see the module documentation for when each one acts).
///
/// JSON form (`POST /_emulator/faults`): internally tagged by `kind`, camelCase names, e.g.
/// `{"kind":"throttle","count":2,"retryAfterSecs":3}`, `{"kind":"revokeRefreshTokens"}`,
/// `{"kind":"failPage","pageIndex":1,"status":503}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Fault {
    /// Revokes every refresh token issued so far: redeeming one answers 400 `invalid_grant`
    /// with AADSTS50173 (FreshTokenNeeded). Tokens issued later are not affected.
    RevokeRefreshTokens,
    /// Until cleared, the user's consent is missing: `/authorize` redirects back with
    /// `error=consent_required` (AADSTS65001) and the token endpoint answers the
    /// authorization_code and refresh_token grants with 400 `invalid_grant`, error code
    /// 65001, `suberror: consent_required`.
    ConsentRequired,
    /// Until cleared, a Conditional Access policy of the tenant blocks the user's sign-ins
    /// to the app: `/authorize` redirects back with `error=access_denied` and AADSTS53003
    /// (as when the user leaves the "You cannot access this right now" page for the app),
    /// and the token endpoint answers every grant (authorization code, refresh token, an
    /// approved device code) with 400 `invalid_grant`, error code 53003, `suberror:
    /// message_only`. With `managed_device_required` the policy asks for a managed device
    /// instead: AADSTS530003. JSON: `{"kind":"conditionalAccessBlock"}`,
    /// `{"kind":"conditionalAccessBlock","managedDeviceRequired":true}`.
    ConditionalAccessBlock {
        #[serde(default)]
        managed_device_required: bool,
    },
    /// The next `count` token requests fail: 503 `temporarily_unavailable` (AADSTS90006) by
    /// default, or 500 `server_error` with `status: 500`.
    TokenServerError {
        count: u32,
        #[serde(default = "default_token_status")]
        status: u16,
    },
    /// The next `count` Graph requests get 429 `ApplicationThrottled` with `Retry-After`.
    Throttle { count: u32, retry_after_secs: u64 },
    /// The next `count` Graph requests get 429 `ApplicationThrottled` with this `Retry-After`
    /// value, sent as it is: a fraction of seconds as Microsoft's throttling page shows
    /// (`"2.128"`), or an HTTP-date. JSON: `{"kind":"throttleWith","count":1,"retryAfter":"2.128"}`.
    ThrottleWith { count: u32, retry_after: String },
    /// The next `count` Graph requests get `status` (503 or 504), with `Retry-After` when
    /// `retry_after_secs` is set.
    Unavailable {
        count: u32,
        status: u16,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// In the next round, the request for page `page_index` (0 = the round's first request,
    /// +1 per nextLink) fails once with `status`; retrying the same link then works.
    FailPage { page_index: u32, status: u16 },
    /// Every `$deltatoken` issued before now is dead: using one answers 410 Gone
    /// (`SyncStateNotFound`, `Location` = a fresh initial request).
    ExpireDeltaTokens,
    /// The next `count` Graph responses are cut in the middle of their JSON (status kept,
    /// Content-Length of the truncated body).
    TruncatedJson { count: u32 },
    /// The next `count` Graph requests are answered after `delay_ms` more milliseconds.
    Slow { count: u32, delay_ms: u64 },
    /// The next `count` Graph requests never get an answer (an hour; released when the
    /// emulator shuts down), for client timeouts.
    Hang { count: u32 },
    /// In the next round, every page's nextLink points to that same page (the same
    /// `$skiptoken` each time): the round never ends.
    NextLinkLoop,
    /// In the next round, page `page_index` is served twice: its first nextLink points to
    /// itself, the second one goes on. Its items come twice.
    RepeatPage { page_index: u32 },
    /// The next `count` successful Graph responses are valid JSON padded (an ignored
    /// `@emulator.padding` annotation) to at least `bytes` bytes.
    Oversized { count: u32, bytes: u64 },
    /// Until cleared, `/me/calendars/{id}/calendarView/delta` is refused as Graph v1.0
    /// refuses a route it does not know: 400 `BadRequest`, "Resource not found for the
    /// segment 'delta'." (`/me/calendarView/delta` of the primary calendar still answers).
    RefuseCalendarDelta,
    /// Until cleared, `/me/calendars` leaves out `isDefaultCalendar`, as Microsoft's own
    /// example response of List calendars does (`GET /me/calendar` still names the primary).
    OmitIsDefaultCalendar,
    /// Until cleared, calendarView and delta pages hold `page_size` items whatever the
    /// client asked for (`odata.maxpagesize` is a preference, not a promise; pages of
    /// thousands of occurrences are seen for recurring series). Not capped at the usual
    /// largest page.
    OversizedPages { page_size: u32 },
    /// Until cleared, every delta round serves its items in an order drawn from `seed`
    /// (deterministic: the same round in the same mailbox comes the same way), with some
    /// items repeated on a later position and some preceded by a removal of the same id, as
    /// the service's delta pages come in no documented order. Applying the items in the
    /// order served still gives the round's state.
    ShuffleDelta { seed: u64 },
}

fn default_token_status() -> u16 {
    503
}

/// What a Graph request gets from the counted faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphAction {
    Throttle {
        retry_after_secs: u64,
    },
    /// 429 with this `Retry-After` header value.
    ThrottleWith {
        retry_after: String,
    },
    Unavailable {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    Truncate,
    Slow {
        delay_ms: u64,
    },
    Hang,
    Oversize {
        bytes: u64,
    },
}

/// A fault bound to one paging round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RoundFault {
    FailPage { page: u32, status: u16 },
    Loop,
    Repeat { page: u32, served_once: bool },
}

/// What the page handler does with one page of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageAction {
    Normal,
    /// Fail with this status instead of serving the page.
    Fail(u16),
    /// Serve the page, with a nextLink to this same page.
    LinkToSelf,
}

#[derive(Debug, Default)]
pub struct FaultState {
    /// Counted faults of the token endpoint, in order.
    token: VecDeque<Fault>,
    /// Counted faults of Graph, in order.
    graph: VecDeque<Fault>,
    /// Round faults not yet bound to a round, in order.
    pending_rounds: VecDeque<RoundFault>,
    /// Round faults bound to a round id (carried in the round's links).
    bound: HashMap<u64, RoundFault>,
    next_round: u64,
    pub consent_required: bool,
    /// The AADSTS code of the Conditional Access block in force (53003 or 530003).
    pub conditional_access: Option<u32>,
    /// Delta tokens carry the epoch they were issued in; older ones are dead.
    pub delta_epoch: u64,
    /// `RefuseCalendarDelta` is on.
    pub refuse_calendar_delta: bool,
    /// `OmitIsDefaultCalendar` is on.
    pub omit_is_default_calendar: bool,
    /// `OversizedPages`: every page holds this many items.
    pub page_size_override: Option<usize>,
    /// `ShuffleDelta`: the seed delta rounds are shuffled with.
    pub delta_shuffle: Option<u64>,
}

impl FaultState {
    /// Queues a counted or round fault, or turns a switch on. `RevokeRefreshTokens` acts on
    /// the token store and is handled by the caller.
    pub fn push(&mut self, fault: Fault) {
        match fault {
            Fault::RevokeRefreshTokens => {}
            Fault::ConsentRequired => self.consent_required = true,
            Fault::ConditionalAccessBlock {
                managed_device_required,
            } => {
                self.conditional_access = Some(if managed_device_required {
                    530003
                } else {
                    53003
                });
            }
            Fault::ExpireDeltaTokens => self.delta_epoch += 1,
            Fault::RefuseCalendarDelta => self.refuse_calendar_delta = true,
            Fault::OmitIsDefaultCalendar => self.omit_is_default_calendar = true,
            Fault::OversizedPages { page_size } => {
                self.page_size_override = Some(usize::try_from(page_size.max(1)).unwrap_or(1));
            }
            Fault::ShuffleDelta { seed } => self.delta_shuffle = Some(seed),
            Fault::TokenServerError { count, .. } => {
                if count > 0 {
                    self.token.push_back(fault);
                }
            }
            Fault::Throttle { count, .. }
            | Fault::ThrottleWith { count, .. }
            | Fault::Unavailable { count, .. }
            | Fault::TruncatedJson { count }
            | Fault::Slow { count, .. }
            | Fault::Hang { count }
            | Fault::Oversized { count, .. } => {
                if count > 0 {
                    self.graph.push_back(fault);
                }
            }
            Fault::FailPage { page_index, status } => {
                self.pending_rounds.push_back(RoundFault::FailPage {
                    page: page_index,
                    status,
                });
            }
            Fault::NextLinkLoop => self.pending_rounds.push_back(RoundFault::Loop),
            Fault::RepeatPage { page_index } => {
                self.pending_rounds.push_back(RoundFault::Repeat {
                    page: page_index,
                    served_once: false,
                });
            }
        }
    }

    /// Clears every fault and switch. Delta tokens already expired stay dead.
    pub fn clear(&mut self) {
        let epoch = self.delta_epoch;
        let next_round = self.next_round;
        *self = FaultState {
            delta_epoch: epoch,
            next_round,
            ..FaultState::default()
        };
    }

    /// The faults still queued or on (for `GET /_emulator/faults`).
    pub fn active(&self) -> Vec<Fault> {
        let mut out: Vec<Fault> = Vec::new();
        if self.consent_required {
            out.push(Fault::ConsentRequired);
        }
        if let Some(code) = self.conditional_access {
            out.push(Fault::ConditionalAccessBlock {
                managed_device_required: code == 530003,
            });
        }
        if self.refuse_calendar_delta {
            out.push(Fault::RefuseCalendarDelta);
        }
        if self.omit_is_default_calendar {
            out.push(Fault::OmitIsDefaultCalendar);
        }
        if let Some(n) = self.page_size_override {
            out.push(Fault::OversizedPages {
                page_size: u32::try_from(n).unwrap_or(u32::MAX),
            });
        }
        if let Some(seed) = self.delta_shuffle {
            out.push(Fault::ShuffleDelta { seed });
        }
        out.extend(self.token.iter().cloned());
        out.extend(self.graph.iter().cloned());
        out.extend(self.pending_rounds.iter().map(|r| match *r {
            RoundFault::FailPage { page, status } => Fault::FailPage {
                page_index: page,
                status,
            },
            RoundFault::Loop => Fault::NextLinkLoop,
            RoundFault::Repeat { page, .. } => Fault::RepeatPage { page_index: page },
        }));
        out
    }

    /// Takes one unit of the first token-endpoint fault: the status to fail with.
    pub fn take_token(&mut self) -> Option<u16> {
        let front = self.token.front_mut()?;
        let Fault::TokenServerError { count, status } = front else {
            self.token.pop_front();
            return None;
        };
        let status = *status;
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.token.pop_front();
        }
        Some(status)
    }

    /// Takes one unit of the first Graph fault.
    pub fn take_graph(&mut self) -> Option<GraphAction> {
        let front = self.graph.front_mut()?;
        let (count, action) = match front {
            Fault::Throttle {
                count,
                retry_after_secs,
            } => (
                count,
                GraphAction::Throttle {
                    retry_after_secs: *retry_after_secs,
                },
            ),
            Fault::Unavailable {
                count,
                status,
                retry_after_secs,
            } => (
                count,
                GraphAction::Unavailable {
                    status: *status,
                    retry_after_secs: *retry_after_secs,
                },
            ),
            Fault::ThrottleWith { count, retry_after } => (
                count,
                GraphAction::ThrottleWith {
                    retry_after: retry_after.clone(),
                },
            ),
            Fault::TruncatedJson { count } => (count, GraphAction::Truncate),
            Fault::Slow { count, delay_ms } => (
                count,
                GraphAction::Slow {
                    delay_ms: *delay_ms,
                },
            ),
            Fault::Hang { count } => (count, GraphAction::Hang),
            Fault::Oversized { count, bytes } => (count, GraphAction::Oversize { bytes: *bytes }),
            _ => {
                self.graph.pop_front();
                return None;
            }
        };
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.graph.pop_front();
        }
        Some(action)
    }

    /// A round starts: binds the next pending round fault to it and returns the round id
    /// to carry in the round's links (`None`: nothing bound, plain links).
    pub fn start_round(&mut self) -> Option<u64> {
        let fault = self.pending_rounds.pop_front()?;
        self.next_round += 1;
        let id = self.next_round;
        self.bound.insert(id, fault);
        Some(id)
    }

    /// What to do with page `page` of round `round`.
    pub fn page_action(&mut self, round: Option<u64>, page: u32) -> PageAction {
        let Some(id) = round else {
            return PageAction::Normal;
        };
        let Some(fault) = self.bound.get_mut(&id) else {
            return PageAction::Normal;
        };
        match *fault {
            RoundFault::FailPage { page: p, status } if p == page => {
                self.bound.remove(&id);
                PageAction::Fail(status)
            }
            RoundFault::Loop => PageAction::LinkToSelf,
            RoundFault::Repeat {
                page: p,
                served_once: false,
            } if p == page => {
                *fault = RoundFault::Repeat {
                    page: p,
                    served_once: true,
                };
                PageAction::LinkToSelf
            }
            RoundFault::Repeat {
                page: p,
                served_once: true,
            } if p == page => {
                self.bound.remove(&id);
                PageAction::Normal
            }
            _ => PageAction::Normal,
        }
    }
}

/// splitmix64: a tiny deterministic generator, so a seed gives the same order on every
/// platform and version.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

/// One item of a delta round, as the shuffle sees it: present (with its id) or removed.
pub trait DeltaEntry: Clone {
    fn id(&self) -> &str;
    fn is_removal(&self) -> bool;
    fn removal_of(id: &str) -> Self;
}

/// The items of a delta round in an order drawn from `seed`: shuffled; about one present
/// item in five preceded (somewhere earlier) by a removal of its id, about one in seven
/// served again later. Applied in order, the result is the round's state.
pub fn shuffle_round<T: DeltaEntry>(items: &[T], seed: u64) -> Vec<T> {
    let mut rng = SplitMix(seed ^ (items.len() as u64).rotate_left(17));
    let mut out: Vec<T> = items.to_vec();
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    let mut i = 0;
    while i < out.len() {
        if out[i].is_removal() {
            i += 1;
            continue;
        }
        if rng.below(5) == 0 {
            let removal = T::removal_of(out[i].id());
            let at = rng.below(i + 1);
            out.insert(at, removal);
            i += 1; // the present item moved one place on
        }
        if rng.below(7) == 0 {
            let again = out[i].clone();
            let at = i + 1 + rng.below(out.len() - i);
            out.insert(at, again);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    enum Item {
        Present(String, u32),
        Removed(String),
    }

    impl DeltaEntry for Item {
        fn id(&self) -> &str {
            match self {
                Item::Present(id, _) | Item::Removed(id) => id,
            }
        }
        fn is_removal(&self) -> bool {
            matches!(self, Item::Removed(_))
        }
        fn removal_of(id: &str) -> Self {
            Item::Removed(id.to_owned())
        }
    }

    fn apply(items: &[Item]) -> std::collections::BTreeMap<String, u32> {
        let mut state = std::collections::BTreeMap::new();
        for item in items {
            match item {
                Item::Present(id, v) => {
                    state.insert(id.clone(), *v);
                }
                Item::Removed(id) => {
                    state.remove(id);
                }
            }
        }
        state
    }

    #[test]
    fn a_shuffled_round_is_deterministic_unordered_and_applies_to_the_same_state() {
        let mut items: Vec<Item> = (0..200)
            .map(|n| Item::Present(format!("e{n}"), n))
            .collect();
        items.extend((0..20).map(|n| Item::Removed(format!("gone{n}"))));
        let a = shuffle_round(&items, 42);
        assert_eq!(a, shuffle_round(&items, 42), "same seed, same order");
        assert_ne!(a, shuffle_round(&items, 43));
        assert_ne!(a[..50], items[..50], "shuffled");
        assert!(
            a.len() > items.len(),
            "repeats and early removals were added"
        );
        // A removal of an id before that id is present, and an id served twice.
        let first_present = |id: &str| {
            a.iter()
                .position(|i| matches!(i, Item::Present(x, _) if x == id))
        };
        assert!(a.iter().enumerate().any(
            |(n, i)| matches!(i, Item::Removed(id) if first_present(id).is_some_and(|p| p > n))
        ));
        assert!(a.iter().filter(|i| matches!(i, Item::Present(..))).count() > 200);
        assert_eq!(apply(&a), apply(&items));
    }

    #[test]
    fn serde_shapes() {
        let f: Fault =
            serde_json::from_str(r#"{"kind":"throttle","count":2,"retryAfterSecs":3}"#).unwrap();
        assert_eq!(
            f,
            Fault::Throttle {
                count: 2,
                retry_after_secs: 3
            }
        );
        let f: Fault = serde_json::from_str(r#"{"kind":"tokenServerError","count":1}"#).unwrap();
        assert_eq!(
            f,
            Fault::TokenServerError {
                count: 1,
                status: 503
            }
        );
        assert_eq!(
            serde_json::to_value(Fault::FailPage {
                page_index: 1,
                status: 503
            })
            .unwrap(),
            serde_json::json!({"kind":"failPage","pageIndex":1,"status":503})
        );
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"nope"}"#).is_err());
        let f: Fault = serde_json::from_str(r#"{"kind":"conditionalAccessBlock"}"#).unwrap();
        assert_eq!(
            f,
            Fault::ConditionalAccessBlock {
                managed_device_required: false
            }
        );
        let f: Fault = serde_json::from_str(
            r#"{"kind":"conditionalAccessBlock","managedDeviceRequired":true}"#,
        )
        .unwrap();
        let mut s = FaultState::default();
        s.push(f.clone());
        assert_eq!(s.conditional_access, Some(530003));
        assert_eq!(s.active(), vec![f]);
        s.clear();
        assert_eq!(s.conditional_access, None);
    }

    #[test]
    fn counted_faults_are_consumed_in_order() {
        let mut s = FaultState::default();
        s.push(Fault::Throttle {
            count: 2,
            retry_after_secs: 1,
        });
        s.push(Fault::TruncatedJson { count: 1 });
        s.push(Fault::TokenServerError {
            count: 1,
            status: 500,
        });
        assert_eq!(
            s.take_graph(),
            Some(GraphAction::Throttle {
                retry_after_secs: 1
            })
        );
        assert_eq!(s.take_token(), Some(500));
        assert_eq!(s.take_token(), None);
        assert_eq!(
            s.take_graph(),
            Some(GraphAction::Throttle {
                retry_after_secs: 1
            })
        );
        assert_eq!(s.take_graph(), Some(GraphAction::Truncate));
        assert_eq!(s.take_graph(), None);
    }

    #[test]
    fn round_faults_bind_to_the_next_round() {
        let mut s = FaultState::default();
        assert_eq!(s.start_round(), None);
        s.push(Fault::RepeatPage { page_index: 1 });
        s.push(Fault::FailPage {
            page_index: 0,
            status: 503,
        });
        let r = s.start_round();
        assert!(r.is_some());
        assert_eq!(s.page_action(r, 0), PageAction::Normal);
        assert_eq!(s.page_action(r, 1), PageAction::LinkToSelf);
        assert_eq!(s.page_action(r, 1), PageAction::Normal);
        assert_eq!(s.page_action(r, 1), PageAction::Normal);
        let r2 = s.start_round();
        assert_eq!(s.page_action(r2, 0), PageAction::Fail(503));
        assert_eq!(s.page_action(r2, 0), PageAction::Normal);
    }
}
