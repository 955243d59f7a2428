//! Paging and sync-state tokens, and the `Prefer` header.
//!
//! `$skiptoken` and `$deltatoken` are opaque to clients: URL-safe base64 of a small JSON
//! state (window, change sequence numbers, position), like the service's own state tokens
//! encode the window and options of the round.

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Page size of calendarView (and its delta) when the client states none.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// Largest page the emulator serves: Outlook's cap on `$top` (1 to 1000, as the List
/// messages reference states). A larger `odata.maxpagesize` gets pages of 1000, and
/// `Preference-Applied` says `odata.maxpagesize=1000`: the size applied, as OData services
/// answer a preference they honour in part.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The order in which a full (initial) calendarView delta round serves its items. Graph
/// promises none; [`DeltaOrder::Unordered`] makes a client meet that.
///
/// JSON form (`PUT /_emulator/delta-order`): `{"order":"byStart"}`,
/// `{"order":"unordered","seed":7}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "order",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum DeltaOrder {
    /// By start time (the emulator's tidy order).
    #[default]
    ByStart,
    /// A permutation drawn from `seed` (the same seed and round, the same order): the
    /// events of one week are spread over all the round's pages; every item still comes
    /// exactly once. Rounds from a deltaLink (incremental) keep their order.
    Unordered { seed: u64 },
}

impl DeltaOrder {
    /// The order of a full round of `len` items, as indices into the round's items
    /// (`None`: as they are).
    pub fn permutation(self, len: usize) -> Option<Vec<usize>> {
        let DeltaOrder::Unordered { seed } = self else {
            return None;
        };
        let mut rng = crate::faults::SplitMix(crate::variance::mix(
            seed,
            &["deltaOrder", &len.to_string()],
        ));
        let mut order: Vec<usize> = (0..len).collect();
        for i in (1..len).rev() {
            order.swap(i, rng.below(i + 1));
        }
        Some(order)
    }
}

/// State of a delta round, carried in `$skiptoken` (mid-round) and `$deltatoken`
/// (end of round: only `to` matters then, the sequence the next round diffs against).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncState {
    /// Window start/end, Unix seconds.
    pub ws: i64,
    pub we: i64,
    /// The round reports changes after this sequence (`None`: a full, initial round).
    pub from: Option<u64>,
    /// The round's snapshot sequence (pages of one round are stable).
    pub to: u64,
    /// Position of the next page.
    pub pos: usize,
    /// Page size from `Prefer: odata.maxpagesize` of an earlier request of the round (a
    /// later request's own `Prefer` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ps: Option<usize>,
    /// Index of the page within the round (0 = the round's first request).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pg: u32,
    /// The round a fault is bound to (see `faults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<u64>,
    /// Fault epoch a delta token was issued in (tokens of an older epoch are expired).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub e: u64,
    /// The calendar of a `/me/calendars/{id}/calendarView/delta` round (None: the primary
    /// calendar's `/me/calendarView/delta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
    /// The seed of an unordered full round (see [`DeltaOrder::Unordered`]), fixed when the
    /// round starts so that its pages keep one order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub o: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl SyncState {
    pub fn window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((
            DateTime::from_timestamp(self.ws, 0)?,
            DateTime::from_timestamp(self.we, 0)?,
        ))
    }
}

pub fn encode<T: Serialize>(state: &T) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

pub fn decode<T: for<'de> Deserialize<'de>>(token: &str) -> Option<T> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// The preferences of a request's `Prefer` header(s) the emulator understands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prefer {
    pub max_page_size: Option<usize>,
    pub timezone: Option<String>,
}

pub fn parse_prefer(headers: &HeaderMap) -> Prefer {
    let mut p = Prefer::default();
    for value in headers.get_all("prefer") {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let Some((k, v)) = item.split_once('=') else {
                continue;
            };
            let key = k.trim().to_ascii_lowercase();
            let val = v.trim().trim_matches('"').trim().to_string();
            match key.as_str() {
                "odata.maxpagesize" => p.max_page_size = val.parse().ok().filter(|n| *n > 0),
                "outlook.timezone" => p.timezone = Some(val),
                _ => {}
            }
        }
    }
    p
}

/// A query parameter by case-insensitive name, with or without the `$` of system options.
pub fn query_param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let bare = name.trim_start_matches('$');
    q.iter()
        .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(bare))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn sync_state_round_trips() {
        let s = SyncState {
            ws: 1,
            we: 2,
            from: Some(3),
            to: 4,
            pos: 5,
            ..SyncState::default()
        };
        assert_eq!(decode::<SyncState>(&encode(&s)), Some(s.clone()));
        let s = SyncState {
            ps: Some(500),
            pg: 3,
            r: Some(7),
            e: 2,
            ..s
        };
        assert_eq!(decode::<SyncState>(&encode(&s)), Some(s));
        assert_eq!(decode::<SyncState>("not a token"), None);
    }

    #[test]
    fn an_unordered_round_is_a_seeded_permutation() {
        assert_eq!(DeltaOrder::ByStart.permutation(5), None);
        let order = DeltaOrder::Unordered { seed: 3 }.permutation(500).unwrap();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..500).collect::<Vec<_>>(), "each item once");
        assert_ne!(order, sorted, "not in order");
        assert_eq!(
            DeltaOrder::Unordered { seed: 3 }.permutation(500),
            Some(order.clone())
        );
        assert_ne!(
            DeltaOrder::Unordered { seed: 4 }.permutation(500),
            Some(order)
        );
        assert_eq!(
            serde_json::to_value(DeltaOrder::Unordered { seed: 7 }).unwrap(),
            serde_json::json!({"order": "unordered", "seed": 7})
        );
        assert_eq!(
            serde_json::from_str::<DeltaOrder>(r#"{"order":"byStart"}"#).unwrap(),
            DeltaOrder::ByStart
        );
    }

    #[test]
    fn prefer_header_parses_both_preferences() {
        let mut h = HeaderMap::new();
        h.append(
            "prefer",
            HeaderValue::from_static("outlook.timezone=\"Pacific Standard Time\""),
        );
        h.append(
            "prefer",
            HeaderValue::from_static("odata.maxpagesize=5, IdType=\"ImmutableId\""),
        );
        let p = parse_prefer(&h);
        assert_eq!(p.max_page_size, Some(5));
        assert_eq!(p.timezone.as_deref(), Some("Pacific Standard Time"));
    }
}
