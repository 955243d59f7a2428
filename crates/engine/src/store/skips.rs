//! Presence skips (issue 22, "don't switch for this one"): appointments presence
//! automation leaves alone — one occurrence by its id, or a whole series by its master's id.
//! Kept across restarts; a skip goes with its appointment (migration 13's triggers).

use super::{PresenceHistoryRow, Store};
use crate::error::Error;
use crate::model::Appointment;
use chrono::{DateTime, Utc};
use rusqlite::params;
use std::collections::BTreeSet;

/// What a skip covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipScope {
    /// One occurrence (or a single appointment), by the appointment's id.
    Occurrence,
    /// Every occurrence of a series, by its series master's id.
    Series,
}

impl SkipScope {
    fn as_str(self) -> &'static str {
        match self {
            SkipScope::Occurrence => "occurrence",
            SkipScope::Series => "series",
        }
    }
}

/// One stored skip.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresenceSkip {
    pub scope: SkipScope,
    pub id: String,
    /// None for private, personal and confidential appointments.
    pub subject: Option<String>,
    pub created: DateTime<Utc>,
}

/// The skips in force, to test appointments against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceSkips {
    occurrences: BTreeSet<String>,
    series: BTreeSet<String>,
}

impl PresenceSkips {
    pub fn new(skips: &[PresenceSkip]) -> Self {
        let mut out = Self::default();
        for s in skips {
            match s.scope {
                SkipScope::Occurrence => out.occurrences.insert(s.id.clone()),
                SkipScope::Series => out.series.insert(s.id.clone()),
            };
        }
        out
    }

    /// Whether automation leaves `a` alone: the occurrence or its series is skipped.
    pub fn covers(&self, a: &Appointment) -> bool {
        self.occurrences.contains(&a.id)
            || a.series_master_id
                .as_ref()
                .is_some_and(|s| self.series.contains(s))
    }

    pub fn is_empty(&self) -> bool {
        self.occurrences.is_empty() && self.series.is_empty()
    }
}

impl Store {
    /// Every stored skip, oldest first.
    pub fn presence_skips(&self) -> Result<Vec<PresenceSkip>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT scope, id, subject, created_utc FROM presence_skips
             ORDER BY created_utc, scope, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let scope: String = r.get(0)?;
            let created: i64 = r.get(3)?;
            Ok((scope, r.get::<_, String>(1)?, r.get(2)?, created))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (scope, id, subject, created) = row?;
            let scope = match scope.as_str() {
                "series" => SkipScope::Series,
                _ => SkipScope::Occurrence,
            };
            out.push(PresenceSkip {
                scope,
                id,
                subject,
                created: DateTime::from_timestamp(created, 0).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Adds (`skip` Some) or removes (None: `scope`/`id` named by `remove`) a skip and writes
    /// its history line, in one transaction. Returns whether anything changed.
    pub fn set_presence_skip(
        &mut self,
        change: SkipChange<'_>,
        history: &PresenceHistoryRow,
        keep_history_after: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let tx = self.conn.transaction()?;
        let changed = match change {
            SkipChange::Add(skip) => tx.execute(
                "INSERT OR IGNORE INTO presence_skips (scope, id, subject, created_utc)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    skip.scope.as_str(),
                    skip.id,
                    skip.subject,
                    skip.created.timestamp()
                ],
            )?,
            SkipChange::Remove { scope, id } => tx.execute(
                "DELETE FROM presence_skips WHERE scope = ?1 AND id = ?2",
                params![scope.as_str(), id],
            )?,
        } > 0;
        if changed {
            super::insert_history(&tx, history, keep_history_after)?;
        }
        tx.commit()?;
        Ok(changed)
    }
}

/// A change [`Store::set_presence_skip`] makes.
#[derive(Debug, Clone, Copy)]
pub enum SkipChange<'a> {
    Add(&'a PresenceSkip),
    Remove { scope: SkipScope, id: &'a str },
}
