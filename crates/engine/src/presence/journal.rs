//! The presence driver's durable state: for each of the user's resources who holds it
//! (and what the user had before automation touched it), the journal of writes with their
//! idempotency keys, and the conversion to and from the store's rows — a version 6 store's
//! `pre_state` included, so a block under way at the upgrade is still given back.
//!
//! A write is journaled before it is sent (state `in_flight`) and again with its outcome,
//! each time in one transaction with the holds it changes ([`Persist`]).

use super::profile::Forwarding;
use super::scheduler::{Action, ProfileInForce};
use super::{AutoRepliesSetting, Presence, UserState};
use crate::store::{PresenceDriverRows, PresenceHistoryRow, PresenceJournalRow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the user's resources automation may change. Each is held, given back and given
/// up on its own.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Presence,
    StatusMessage,
    Forwarding,
    AutomaticReplies,
}

impl Resource {
    pub const ALL: [Resource; 4] = [
        Resource::Presence,
        Resource::StatusMessage,
        Resource::Forwarding,
        Resource::AutomaticReplies,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Presence => "presence",
            Resource::StatusMessage => "status_message",
            Resource::Forwarding => "forwarding",
            Resource::AutomaticReplies => "automatic_replies",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// As the status line and the history name it.
    pub fn label(self) -> &'static str {
        match self {
            Resource::Presence => "Presence",
            Resource::StatusMessage => "Status message",
            Resource::Forwarding => "Forwarding",
            Resource::AutomaticReplies => "Automatic replies",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user said they changed `resource` by hand at `at` (`presently presence take-over`):
/// kept in the store, so the runtime acts on it in whichever process it runs. It releases
/// the resource if automation held it before `at`, and is ignored otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeOver {
    pub resource: Resource,
    pub at: DateTime<Utc>,
}

/// What one resource holds, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    Presence(Presence),
    StatusMessage(Option<String>),
    Forwarding(Forwarding),
    AutomaticReplies(AutoRepliesSetting),
}

/// What automation knows it last wrote to a resource it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "written", rename_all = "snake_case")]
pub enum Written {
    /// Nothing yet: the resource still has the user's value.
    Nothing,
    Action {
        action: Action,
    },
    /// Something, but not known what: a write whose outcome was lost on a resource that
    /// cannot be read back, or a block begun before the journal existed.
    Unknown,
}

/// Who holds one resource.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "hold", rename_all = "snake_case")]
// Four of them per driver: boxing would only make the matches harder to read.
#[allow(clippy::large_enum_variant)]
pub enum Hold {
    /// Automation has nothing of it: it is the user's.
    #[default]
    Free,
    /// Automation changed it, or is about to. `prior` is what the user had before (None:
    /// it could not be read); `since` when automation took it.
    Owned {
        prior: Option<Value>,
        since: DateTime<Utc>,
        written: Written,
        /// When the presence automation set expires on the server (renewed before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<DateTime<Utc>>,
        /// Automation set the preferred presence, which replaced any the user had: what
        /// shows once automation's is gone may no longer be `prior`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        covered: bool,
    },
    /// The user changed it at `at` while automation held it: no more writes, and no
    /// restore, until the covering block containing `at` ends. `clear_session`: the app's
    /// own presence session is still to be cleared (it is under whatever the user picked,
    /// never theirs: clearing it overwrites nothing of theirs).
    Released {
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        clear_session: bool,
    },
}

/// Why a write is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Puts a profile's value in place.
    Apply,
    /// Gives the user's own value back.
    Restore,
    /// Sets a presence again before it expires.
    Renew,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Apply => "apply",
            Purpose::Restore => "restore",
            Purpose::Renew => "renew",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Purpose::Apply, Purpose::Restore, Purpose::Renew]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// Where one journaled write stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Decided; not sent yet, or sent and refused (tried again at `next_attempt`).
    Pending,
    /// Sent, its outcome not known yet. Found so at start-up, the outcome was lost: it is
    /// checked (read back where the resource can be read) and completed or given up.
    InFlight,
    Done,
    /// A newer write to the same resource replaced it.
    Superseded,
    /// The user took the resource over.
    Dropped,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::InFlight => "in_flight",
            EntryState::Done => "done",
            EntryState::Superseded => "superseded",
            EntryState::Dropped => "dropped",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            EntryState::Pending,
            EntryState::InFlight,
            EntryState::Done,
            EntryState::Superseded,
            EntryState::Dropped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the write still has to land.
    pub fn is_open(self) -> bool {
        matches!(self, EntryState::Pending | EntryState::InFlight)
    }
}

/// One journaled write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The idempotency key: the same for every attempt of this write, never reused.
    pub key: String,
    pub resource: Resource,
    pub action: Action,
    pub purpose: Purpose,
    pub state: EntryState,
    /// Failed attempts so far.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// Everything the driver needs to start again where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durable {
    /// A random id of this store: idempotency keys are `{journal_id}-{seq}`, so two
    /// installations never send the same key to a shared endpoint.
    pub journal_id: String,
    pub next_seq: u64,
    /// The profile last reported in the history ("applied"), so a restart neither repeats
    /// it nor misses the "restored" that follows.
    pub headline: Option<ProfileInForce>,
    pub holds: [Hold; 4],
    /// The writes still open (at most one per resource).
    pub open: Vec<Entry>,
}

impl Durable {
    pub fn new(journal_id: &str) -> Self {
        Self {
            journal_id: journal_id.to_owned(),
            next_seq: 1,
            headline: None,
            holds: Default::default(),
            open: Vec::new(),
        }
    }
}

/// What to write to the store, in one transaction: the holds, the journal entries that
/// changed, history lines, and a pause that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persist {
    pub durable: Durable,
    pub journal: Vec<Entry>,
    pub history: Vec<PresenceHistoryRow>,
    /// The stored pause ending at this instant is over (cleared only if still the same).
    pub end_pause: Option<DateTime<Utc>>,
}

/// A stored value that cannot be read back: the store was written by something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the presence journal in the store is damaged: {0}")]
pub struct Damaged(pub String);

/// The pre-automation state a version 6 store kept while a block was in force.
#[derive(Deserialize)]
struct LegacyPre {
    state: UserState,
    /// The end of the block it was read for.
    until: DateTime<Utc>,
}

/// The holds a version 6 store's `pre_state` stands for: every resource it read is held
/// by automation with an unknown value written (the driver reads each back and restores
/// what differs from the user's). `since` is an instant inside the block it was read for.
fn from_legacy(json: &str) -> Option<[Hold; 4]> {
    let pre: LegacyPre = serde_json::from_str(json).ok()?;
    let since = pre.until - chrono::Duration::seconds(1);
    let owned = |prior: Option<Value>| Hold::Owned {
        prior,
        since,
        written: Written::Unknown,
        expires: None,
        covered: false,
    };
    let s = pre.state;
    let mut holds: [Hold; 4] = Default::default();
    if let Some(p) = s.presence {
        holds[Resource::Presence.index()] = owned(Some(Value::Presence(p)));
        // The status message came with the presence: read, it is known (None: there was none).
        holds[Resource::StatusMessage.index()] =
            owned(Some(Value::StatusMessage(s.status_message)));
    }
    holds[Resource::Forwarding.index()] = owned(s.forwarding.map(Value::Forwarding));
    if let Some(r) = s.auto_replies {
        holds[Resource::AutomaticReplies.index()] = owned(Some(Value::AutomaticReplies(r)));
    }
    Some(holds)
}

/// A journal entry from the store's row.
pub fn entry_from_row(row: PresenceJournalRow) -> Result<Entry, Damaged> {
    let bad = |what: &str| Damaged(format!("journal entry {}: {what}", row.key));
    Ok(Entry {
        resource: Resource::parse(&row.resource).ok_or_else(|| bad("unknown resource"))?,
        action: serde_json::from_str(&row.action).map_err(|e| bad(&e.to_string()))?,
        purpose: Purpose::parse(&row.purpose).ok_or_else(|| bad("unknown purpose"))?,
        state: EntryState::parse(&row.state).ok_or_else(|| bad("unknown state"))?,
        attempts: row.attempts,
        last_error: row.last_error,
        next_attempt: row.next_attempt,
        created: row.created,
        updated: row.updated,
        key: row.key,
    })
}

impl Durable {
    /// The durable state from the store's rows. A version 6 `pre_state` (a block under way
    /// when the store was upgraded) becomes holds of unknown writes.
    pub fn from_rows(rows: PresenceDriverRows) -> Result<Self, Damaged> {
        let mut durable = Durable::new(&rows.journal_id);
        durable.next_seq = u64::try_from(rows.next_seq).unwrap_or(1).max(1);
        durable.headline = match rows.headline {
            Some(json) => {
                Some(serde_json::from_str(&json).map_err(|e| Damaged(format!("headline: {e}")))?)
            }
            None => None,
        };
        for (resource, json) in rows.holds {
            let r = Resource::parse(&resource)
                .ok_or_else(|| Damaged(format!("unknown resource {resource:?}")))?;
            durable.holds[r.index()] =
                serde_json::from_str(&json).map_err(|e| Damaged(format!("{resource}: {e}")))?;
        }
        if durable.holds.iter().all(|h| *h == Hold::Free) {
            if let Some(holds) = rows.legacy_pre_state.as_deref().and_then(from_legacy) {
                durable.holds = holds;
            }
        }
        durable.open = rows
            .open
            .into_iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()?;
        Ok(durable)
    }
}

/// A journal entry as the store keeps it.
pub fn entry_row(e: &Entry) -> PresenceJournalRow {
    PresenceJournalRow {
        key: e.key.clone(),
        resource: e.resource.as_str().to_owned(),
        purpose: e.purpose.as_str().to_owned(),
        // An `Action` is plain data: serialising it cannot fail.
        action: serde_json::to_string(&e.action).unwrap_or_default(),
        state: e.state.as_str().to_owned(),
        attempts: e.attempts,
        last_error: e.last_error.clone(),
        next_attempt: e.next_attempt,
        created: e.created,
        updated: e.updated,
    }
}

impl Persist {
    /// The holds as the store keeps them: (resource, JSON).
    pub fn hold_rows(&self) -> Vec<(String, String)> {
        Resource::ALL
            .iter()
            .map(|r| {
                (
                    r.as_str().to_owned(),
                    serde_json::to_string(&self.durable.holds[r.index()]).unwrap_or_default(),
                )
            })
            .collect()
    }

    pub fn headline_json(&self) -> Option<String> {
        self.durable
            .headline
            .as_ref()
            .and_then(|h| serde_json::to_string(h).ok())
    }

    pub fn journal_rows(&self) -> Vec<PresenceJournalRow> {
        self.journal.iter().map(entry_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::profile::{Availability, TeamsPresence};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_version_6_pre_state_becomes_holds_of_unknown_writes() {
        // As the version 6 runtime wrote it (StoredPre), mid-block.
        let json = r#"{"state":{"presence":{"availability":"Available","activity":"Available"},
            "status_message":"Back at 3","forwarding":"off","auto_replies":null},
            "until":"2026-11-24T11:00:00Z"}"#;
        let holds = from_legacy(json).unwrap();
        let since = at("2026-11-24T10:59:59Z");
        assert_eq!(
            holds[Resource::StatusMessage.index()],
            Hold::Owned {
                prior: Some(Value::StatusMessage(Some("Back at 3".into()))),
                since,
                written: Written::Unknown,
                expires: None,
                covered: false
            }
        );
        assert_eq!(
            holds[Resource::Forwarding.index()],
            Hold::Owned {
                prior: Some(Value::Forwarding(Forwarding::Off)),
                since,
                written: Written::Unknown,
                expires: None,
                covered: false
            }
        );
        assert_eq!(holds[Resource::AutomaticReplies.index()], Hold::Free);
        assert!(from_legacy("not json").is_none());
    }

    #[test]
    fn entries_and_holds_round_trip_through_rows() {
        let entry = Entry {
            key: "abc-7".into(),
            resource: Resource::Presence,
            action: Action::SetPresence {
                presence: TeamsPresence::preferred(Availability::Busy),
                until: at("2026-11-24T11:00:00Z"),
            },
            purpose: Purpose::Apply,
            state: EntryState::InFlight,
            attempts: 2,
            last_error: Some("HTTP 500".into()),
            next_attempt: None,
            created: at("2026-11-24T10:00:00Z"),
            updated: at("2026-11-24T10:00:05Z"),
        };
        assert_eq!(entry_from_row(entry_row(&entry)).unwrap(), entry);
        let mut durable = Durable::new("abc");
        durable.holds[0] = Hold::Released {
            at: at("2026-11-24T10:10:00Z"),
            clear_session: true,
        };
        let persist = Persist {
            durable: durable.clone(),
            journal: vec![entry.clone()],
            history: vec![],
            end_pause: None,
        };
        let rows = PresenceDriverRows {
            journal_id: "abc".into(),
            next_seq: 1,
            headline: persist.headline_json(),
            holds: persist.hold_rows(),
            open: persist.journal_rows(),
            legacy_pre_state: None,
        };
        let back = Durable::from_rows(rows).unwrap();
        assert_eq!(back.holds, durable.holds);
        assert_eq!(back.open, vec![entry]);
    }
}
