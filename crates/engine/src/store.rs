//! The local store: one SQLite file (WAL) holding the account, calendars, appointments
//! and per-calendar sync state.
//!
//! Invariants: every write is one transaction; a calendar's sync state only advances in
//! the same transaction as the data it describes; a file this version does not
//! understand (newer schema, damaged) is reported and left exactly as it was.

use crate::error::Error;
use crate::graph::EventChange;
use crate::model::{
    Account, Appointment, AppointmentType, Calendar, OnlineMeetingProvider, Organizer,
    ResponseStatus, Sensitivity, ShowAs, When,
};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, ToSql, Transaction};
use std::path::{Path, PathBuf};

/// The schema this build writes. Each entry of [`MIGRATIONS`] moves the schema up by one.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Schema migrations, in order; `MIGRATIONS[n]` takes a store from version `n` to `n + 1`.
/// Never edit a released entry: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE account (
        id TEXT PRIMARY KEY,
        tenant_id TEXT,
        upn TEXT NOT NULL,
        display_name TEXT
     );
     CREATE TABLE calendars (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        color TEXT,
        is_default INTEGER NOT NULL,
        can_edit INTEGER NOT NULL
     );
     CREATE TABLE appointments (
        calendar_id TEXT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        ical_uid TEXT,
        subject TEXT NOT NULL,
        all_day INTEGER NOT NULL,
        start_utc INTEGER NOT NULL,
        end_utc INTEGER NOT NULL,
        start_date TEXT,
        end_date TEXT,
        original_tz TEXT,
        show_as TEXT NOT NULL,
        response TEXT NOT NULL,
        sensitivity TEXT NOT NULL,
        cancelled INTEGER NOT NULL,
        location TEXT,
        organizer_name TEXT,
        organizer_email TEXT,
        join_url TEXT,
        online_provider TEXT,
        web_link TEXT,
        series_master_id TEXT,
        kind TEXT NOT NULL,
        categories TEXT NOT NULL,
        reminder_on INTEGER NOT NULL,
        reminder_minutes INTEGER,
        last_modified TEXT,
        PRIMARY KEY (calendar_id, id),
        CHECK (end_utc >= start_utc)
     );
     CREATE INDEX appointments_by_start ON appointments(start_utc);
     CREATE TABLE sync_state (
        calendar_id TEXT PRIMARY KEY REFERENCES calendars(id) ON DELETE CASCADE,
        delta_link TEXT,
        next_link TEXT,
        window_start TEXT,
        window_end TEXT,
        last_synced_at TEXT
     );",
    // 2: body previews for the detail pane, and a key/value table for app state.
    "ALTER TABLE appointments ADD COLUMN body_preview TEXT;
     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 3: delta sync. Full rounds are staged in a table shaped like `appointments` and
    // swapped in when complete; timed appointments are found by (all_day, start).
    "ALTER TABLE sync_state ADD COLUMN round_kind TEXT;
     CREATE TABLE staged_appointments (
        calendar_id TEXT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        ical_uid TEXT,
        subject TEXT NOT NULL,
        all_day INTEGER NOT NULL,
        start_utc INTEGER NOT NULL,
        end_utc INTEGER NOT NULL,
        start_date TEXT,
        end_date TEXT,
        original_tz TEXT,
        show_as TEXT NOT NULL,
        response TEXT NOT NULL,
        sensitivity TEXT NOT NULL,
        cancelled INTEGER NOT NULL,
        location TEXT,
        organizer_name TEXT,
        organizer_email TEXT,
        join_url TEXT,
        online_provider TEXT,
        web_link TEXT,
        series_master_id TEXT,
        kind TEXT NOT NULL,
        categories TEXT NOT NULL,
        reminder_on INTEGER NOT NULL,
        reminder_minutes INTEGER,
        last_modified TEXT,
        body_preview TEXT,
        PRIMARY KEY (calendar_id, id)
     );
     DROP INDEX appointments_by_start;
     CREATE INDEX appointments_by_kind_and_start ON appointments(all_day, start_utc);
     CREATE INDEX appointments_by_kind_and_date ON appointments(all_day, start_date);",
    // 4: presence automation. The history of applied transitions (no private subject is
    // ever written here: `subject` is NULL for private, personal and confidential
    // appointments), and one row of automation state: pause, and the user's state read
    // before the block in force began (JSON), so a restart mid-block restores it.
    "CREATE TABLE presence_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_utc INTEGER NOT NULL,
        event TEXT NOT NULL,
        profile TEXT,
        appointment_id TEXT,
        subject TEXT,
        presence TEXT,
        until_utc INTEGER,
        detail TEXT
     );
     CREATE INDEX presence_history_by_at ON presence_history(at_utc);
     CREATE TABLE presence_automation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        paused INTEGER NOT NULL DEFAULT 0,
        paused_until INTEGER,
        pre_state TEXT
     );
     INSERT INTO presence_automation (id) VALUES (1);",
    // 5: reminders already shown, per occurrence (its id and start), so none shows twice,
    // across restarts too.
    "CREATE TABLE reminders_shown (
        appointment_id TEXT NOT NULL,
        start_utc INTEGER NOT NULL,
        shown_at_utc INTEGER NOT NULL,
        PRIMARY KEY (appointment_id, start_utc)
     );",
    // 6: how many people are invited besides the organizer (NULL: the server did not say),
    // live and staged. Every calendar's next sync reads its whole window again (the delta
    // link and any interrupted round are dropped), so the counts fill in at once rather than
    // as events happen to change; the data stays until the new round replaces it.
    "ALTER TABLE appointments ADD COLUMN attendees INTEGER;
     ALTER TABLE staged_appointments ADD COLUMN attendees INTEGER;
     DELETE FROM staged_appointments;
     UPDATE sync_state SET delta_link = NULL, next_link = NULL, round_kind = NULL;",
    // 7: the meeting ID and passcode of an online meeting's invitation, live and staged
    // (join links and providers found in the location or body use the existing columns).
    // Like 6, every calendar's next sync reads its whole window again, so links, codes and
    // previews without the Teams boilerplate fill in at once.
    "ALTER TABLE appointments ADD COLUMN meeting_id TEXT;
     ALTER TABLE appointments ADD COLUMN meeting_passcode TEXT;
     ALTER TABLE staged_appointments ADD COLUMN meeting_id TEXT;
     ALTER TABLE staged_appointments ADD COLUMN meeting_passcode TEXT;
     DELETE FROM staged_appointments;
     UPDATE sync_state SET delta_link = NULL, next_link = NULL, round_kind = NULL;",
    // 8: delta on calendars other than the primary. Where Graph refused it, why and when
    // (the calendar is read by window until delta is tried again).
    "ALTER TABLE sync_state ADD COLUMN delta_refused TEXT;
     ALTER TABLE sync_state ADD COLUMN delta_refused_at TEXT;",
    // 9: the presence driver's journal (presence/driver.rs, presence/journal.rs). Per
    // resource (presence, status_message, forwarding, automatic_replies) who holds it, as
    // JSON: free, owned by automation (with what the user had before and what automation
    // wrote), or released to the user. Every write, keyed by its idempotency key
    // (`{journal_id}-{seq}`), stored before it is sent and again with its outcome, in one
    // transaction with the holds it changes. The version 6 `pre_state` (a block under way)
    // is kept until the driver first stores its state, which takes it over.
    "CREATE TABLE presence_resources (
        resource TEXT PRIMARY KEY,
        hold TEXT NOT NULL
     );
     CREATE TABLE presence_journal (
        key TEXT PRIMARY KEY,
        resource TEXT NOT NULL,
        purpose TEXT NOT NULL,
        action TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_utc INTEGER,
        created_utc INTEGER NOT NULL,
        updated_utc INTEGER NOT NULL
     );
     CREATE INDEX presence_journal_by_state ON presence_journal(state, updated_utc);
     ALTER TABLE presence_automation ADD COLUMN journal_id TEXT;
     ALTER TABLE presence_automation ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE presence_automation ADD COLUMN headline TEXT;
     UPDATE presence_automation SET journal_id = lower(hex(randomblob(8)));",
    // 10: calendar subscriptions (iCalendar feeds, store/subscriptions.rs): each has a
    // calendar of its own (`calendars`, id `ics:…`) and here where its feed comes from, the
    // validators of the last answer for conditional requests, and how the last fetch went.
    "CREATE TABLE calendar_subscriptions (
        calendar_id TEXT PRIMARY KEY REFERENCES calendars(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        fetched_at TEXT,
        changed_at TEXT,
        error_code TEXT,
        error TEXT,
        window_start TEXT,
        window_end TEXT
     );",
    // 11: appointments found by a 64-bit key of their id (`id_key`, FNV-1a of the id's
    // bytes: [`id_key`]) instead of a (calendar_id, id) primary key. Graph's ids are long and
    // random, so that index cost most of a sync's writes: every batch rewrote most of its
    // pages. The key index is small, and the calendar index grows at its end. The key is not
    // unique (two ids may share one): every lookup also compares calendar_id and id, and the
    // store's writes keep (calendar_id, id) unique. Rows and staged rows are kept.
    "CREATE TABLE appointments_v11 (
        calendar_id TEXT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        id_key INTEGER NOT NULL,
        ical_uid TEXT,
        subject TEXT NOT NULL,
        all_day INTEGER NOT NULL,
        start_utc INTEGER NOT NULL,
        end_utc INTEGER NOT NULL,
        start_date TEXT,
        end_date TEXT,
        original_tz TEXT,
        show_as TEXT NOT NULL,
        response TEXT NOT NULL,
        sensitivity TEXT NOT NULL,
        cancelled INTEGER NOT NULL,
        location TEXT,
        organizer_name TEXT,
        organizer_email TEXT,
        join_url TEXT,
        online_provider TEXT,
        web_link TEXT,
        series_master_id TEXT,
        kind TEXT NOT NULL,
        categories TEXT NOT NULL,
        reminder_on INTEGER NOT NULL,
        reminder_minutes INTEGER,
        last_modified TEXT,
        body_preview TEXT,
        attendees INTEGER,
        meeting_id TEXT,
        meeting_passcode TEXT,
        CHECK (end_utc >= start_utc)
     );
     INSERT INTO appointments_v11 (calendar_id, id, id_key,
        ical_uid, subject, all_day, start_utc, end_utc, start_date, end_date,
        original_tz, show_as, response, sensitivity, cancelled, location,
        organizer_name, organizer_email, join_url, online_provider, web_link,
        series_master_id, kind, categories, reminder_on, reminder_minutes,
        last_modified, body_preview, attendees, meeting_id, meeting_passcode)
     SELECT calendar_id, id, presently_id_key(id),
        ical_uid, subject, all_day, start_utc, end_utc, start_date, end_date,
        original_tz, show_as, response, sensitivity, cancelled, location,
        organizer_name, organizer_email, join_url, online_provider, web_link,
        series_master_id, kind, categories, reminder_on, reminder_minutes,
        last_modified, body_preview, attendees, meeting_id, meeting_passcode
     FROM appointments;
     DROP TABLE appointments;
     ALTER TABLE appointments_v11 RENAME TO appointments;
     CREATE INDEX appointments_by_id_key ON appointments(id_key);
     CREATE INDEX appointments_by_calendar ON appointments(calendar_id);
     CREATE INDEX appointments_by_kind_and_start ON appointments(all_day, start_utc);
     CREATE INDEX appointments_by_kind_and_date ON appointments(all_day, start_date);
     CREATE TABLE staged_appointments_v11 (
        calendar_id TEXT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        id_key INTEGER NOT NULL,
        ical_uid TEXT,
        subject TEXT NOT NULL,
        all_day INTEGER NOT NULL,
        start_utc INTEGER NOT NULL,
        end_utc INTEGER NOT NULL,
        start_date TEXT,
        end_date TEXT,
        original_tz TEXT,
        show_as TEXT NOT NULL,
        response TEXT NOT NULL,
        sensitivity TEXT NOT NULL,
        cancelled INTEGER NOT NULL,
        location TEXT,
        organizer_name TEXT,
        organizer_email TEXT,
        join_url TEXT,
        online_provider TEXT,
        web_link TEXT,
        series_master_id TEXT,
        kind TEXT NOT NULL,
        categories TEXT NOT NULL,
        reminder_on INTEGER NOT NULL,
        reminder_minutes INTEGER,
        last_modified TEXT,
        body_preview TEXT,
        attendees INTEGER,
        meeting_id TEXT,
        meeting_passcode TEXT
     );
     INSERT INTO staged_appointments_v11 (calendar_id, id, id_key,
        ical_uid, subject, all_day, start_utc, end_utc, start_date, end_date,
        original_tz, show_as, response, sensitivity, cancelled, location,
        organizer_name, organizer_email, join_url, online_provider, web_link,
        series_master_id, kind, categories, reminder_on, reminder_minutes,
        last_modified, body_preview, attendees, meeting_id, meeting_passcode)
     SELECT calendar_id, id, presently_id_key(id),
        ical_uid, subject, all_day, start_utc, end_utc, start_date, end_date,
        original_tz, show_as, response, sensitivity, cancelled, location,
        organizer_name, organizer_email, join_url, online_provider, web_link,
        series_master_id, kind, categories, reminder_on, reminder_minutes,
        last_modified, body_preview, attendees, meeting_id, meeting_passcode
     FROM staged_appointments;
     DROP TABLE staged_appointments;
     ALTER TABLE staged_appointments_v11 RENAME TO staged_appointments;
     CREATE INDEX staged_appointments_by_id_key ON staged_appointments(id_key);",
    // 12: a full round's items that equal the live row are noted by key, not staged whole
    // (after a first sync's fill that is nearly all of them).
    "CREATE TABLE staged_seen (
        calendar_id TEXT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        id_key INTEGER NOT NULL
     );
     CREATE INDEX staged_seen_by_id_key ON staged_seen(id_key);",
    // 13: appointments presence automation does not switch for (issue 22): one occurrence
    // by its id, or a whole series by its master's id. A skip goes with its appointment:
    // an occurrence's when its row is deleted (sync removed it, or its calendar), a
    // series' when no occurrence of it is left. Updates never delete a row, so an edited
    // appointment keeps its skip.
    "CREATE TABLE presence_skips (
        scope TEXT NOT NULL CHECK (scope IN ('occurrence', 'series')),
        id TEXT NOT NULL,
        subject TEXT,
        created_utc INTEGER NOT NULL,
        PRIMARY KEY (scope, id)
     );
     CREATE TRIGGER presence_skips_drop_occurrence AFTER DELETE ON appointments
     WHEN EXISTS (SELECT 1 FROM presence_skips WHERE scope = 'occurrence' AND id = OLD.id)
     BEGIN
        DELETE FROM presence_skips WHERE scope = 'occurrence' AND id = OLD.id
            AND NOT EXISTS (SELECT 1 FROM appointments WHERE id_key = OLD.id_key AND id = OLD.id);
     END;
     CREATE TRIGGER presence_skips_drop_series AFTER DELETE ON appointments
     WHEN OLD.series_master_id IS NOT NULL AND EXISTS (SELECT 1 FROM presence_skips
        WHERE scope = 'series' AND id = OLD.series_master_id)
     BEGIN
        DELETE FROM presence_skips WHERE scope = 'series' AND id = OLD.series_master_id
            AND NOT EXISTS (SELECT 1 FROM appointments WHERE series_master_id = OLD.series_master_id);
     END;",
    // 14: the version Graph gave each event (its `changeKey`, under the mapping version that
    // read it): a full round skips reading an item whose version the store already holds.
    // Rows written before have none and are compared whole, as before.
    "ALTER TABLE appointments ADD COLUMN change_key TEXT;
     ALTER TABLE staged_appointments ADD COLUMN change_key TEXT;",
    // 15: a seen note is two integers, the calendar's key and the id's key, rather than
    // both ids as text (~300 bytes): after a first sync's fill a full round notes every
    // event, and those notes were most of its writes. Two ids of one calendar sharing a
    // 64-bit key would share a note; lookups of rows still compare the ids.
    "CREATE TABLE staged_seen_v15 (
        calendar_key INTEGER NOT NULL,
        id_key INTEGER NOT NULL,
        PRIMARY KEY (calendar_key, id_key)
     ) WITHOUT ROWID;
     INSERT OR IGNORE INTO staged_seen_v15 (calendar_key, id_key)
        SELECT presently_id_key(calendar_id), id_key FROM staged_seen;
     DROP TABLE staged_seen;
     ALTER TABLE staged_seen_v15 RENAME TO staged_seen;",
    // 16: two index entries per row instead of four. The start index holds timed rows only
    // and the date index all-day rows only (the agenda's two range scans name their kind),
    // and the calendar index goes: what reads a calendar's rows reads most of the table (one
    // calendar holds nearly all), and a scan costs less than keeping the index on every
    // insert. Inserts of a first sync got ~20 % faster (BENCHMARKS.md).
    "DROP INDEX appointments_by_calendar;
     DROP INDEX appointments_by_kind_and_start;
     DROP INDEX appointments_by_kind_and_date;
     CREATE INDEX appointments_timed_by_start ON appointments(start_utc) WHERE all_day = 0;
     CREATE INDEX appointments_all_day_by_date ON appointments(start_date) WHERE all_day = 1;",
];

/// What a line of the presence history records; stored (and shown in `--json`) as its
/// snake_case name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryKind {
    /// A profile was applied for an appointment.
    Applied,
    /// The user's own state was given back.
    Restored,
    /// The user changed something by hand; automation leaves it alone.
    StoodBack,
    /// A write failed and is retried.
    Failed,
    /// Giving the user's own state back failed and is retried.
    RestoreFailed,
    /// A write that had failed went through.
    Recovered,
    /// A write still waiting (shown by `presence history`, never stored).
    Pending,
    Paused,
    Resumed,
    /// The user said automation should not switch for an appointment (or a series).
    Skipped,
    /// The user took a skip back.
    Unskipped,
    /// Written by another version of Presently: kept and shown as it is.
    Other(String),
}

impl HistoryKind {
    const NAMED: [(HistoryKind, &'static str); 11] = [
        (HistoryKind::Applied, "applied"),
        (HistoryKind::Restored, "restored"),
        (HistoryKind::StoodBack, "stood_back"),
        (HistoryKind::Failed, "failed"),
        (HistoryKind::RestoreFailed, "restore_failed"),
        (HistoryKind::Recovered, "recovered"),
        (HistoryKind::Pending, "pending"),
        (HistoryKind::Paused, "paused"),
        (HistoryKind::Resumed, "resumed"),
        (HistoryKind::Skipped, "skipped"),
        (HistoryKind::Unskipped, "unskipped"),
    ];

    pub fn as_str(&self) -> &str {
        match self {
            HistoryKind::Other(text) => text,
            named => Self::NAMED
                .iter()
                .find(|(kind, _)| kind == named)
                .map_or("unknown", |(_, text)| text),
        }
    }

    pub fn parse(text: &str) -> Self {
        Self::NAMED
            .iter()
            .find(|(_, name)| *name == text)
            .map_or_else(
                || HistoryKind::Other(text.to_owned()),
                |(kind, _)| kind.clone(),
            )
    }
}

impl std::fmt::Display for HistoryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for HistoryKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One stored line of the presence history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PresenceHistoryRow {
    pub at: DateTime<Utc>,
    pub event: HistoryKind,
    pub profile: Option<String>,
    pub appointment_id: Option<String>,
    /// None for private appointments (and for events that concern none).
    pub subject: Option<String>,
    /// The availability restored, when known.
    pub presence: Option<String>,
    pub until: Option<DateTime<Utc>>,
    /// What failed, for `failed`.
    pub detail: Option<String>,
}

/// One journaled presence write as stored (see `presence::journal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceJournalRow {
    pub key: String,
    pub resource: String,
    pub purpose: String,
    /// The write, as JSON.
    pub action: String,
    /// `pending`, `in_flight`, `done`, `superseded`, `dropped`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The presence driver's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceDriverRows {
    pub journal_id: String,
    pub next_seq: i64,
    /// The profile last reported in the history, as JSON.
    pub headline: Option<String>,
    /// (resource, hold as JSON).
    pub holds: Vec<(String, String)>,
    /// The journal entries still pending or in flight.
    pub open: Vec<PresenceJournalRow>,
    /// A version 6 store's pre-automation state (a block under way at the upgrade).
    pub legacy_pre_state: Option<String>,
}

/// What the presence driver stores in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct PresenceDriverSave<'a> {
    pub next_seq: i64,
    pub headline: Option<&'a str>,
    pub holds: &'a [(String, String)],
    /// Entries that changed (open or final).
    pub journal: &'a [PresenceJournalRow],
    /// The keys of the entries still open: any other stored as open is not any more.
    pub open_keys: &'a [String],
    pub history: &'a [PresenceHistoryRow],
    /// The stored pause that ended at this instant is over (cleared only if still stored).
    pub end_pause: Option<DateTime<Utc>>,
    /// History and final journal entries older than this go.
    pub keep_after: DateTime<Utc>,
}

/// Automation paused: until an instant, or (None) until resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pause {
    pub until: Option<DateTime<Utc>>,
}

/// Where a calendar's sync stands. Advances only together with the data it describes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncState {
    /// The link that starts the next incremental round (from the last completed round).
    pub delta_link: Option<String>,
    /// The next page of the round in progress, if one was interrupted.
    pub next_link: Option<String>,
    /// The kind of the round in progress.
    pub round: Option<RoundKind>,
    /// The sync window: of the stored data, or of the full round in progress.
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// A full round's pages are staged and replace the calendar's data only when complete;
/// an incremental round's pages apply directly, and so do those of an initial round (a
/// full read into a calendar that had nothing to show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundKind {
    Full,
    Incremental,
    Initial,
}

impl RoundKind {
    fn as_str(self) -> &'static str {
        match self {
            RoundKind::Full => "full",
            RoundKind::Incremental => "incremental",
            RoundKind::Initial => "initial",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "full" => Some(RoundKind::Full),
            "incremental" => Some(RoundKind::Incremental),
            "initial" => Some(RoundKind::Initial),
            _ => None,
        }
    }
}

/// What a write changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyStats {
    pub upserted: usize,
    pub removed: usize,
}

impl std::ops::AddAssign for ApplyStats {
    fn add_assign(&mut self, other: Self) {
        self.upserted += other.upserted;
        self.removed += other.removed;
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn is_corruption(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            crate::private::create_dir(dir).map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        // The store holds subjects and body previews: private to the user. SQLite gives
        // its -wal and -shm files the database's mode, so the database is made first.
        crate::private::create_file(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let corrupt = |e: rusqlite::Error| -> Error {
            if is_corruption(&e) {
                Error::StoreCorrupt {
                    path: path.to_owned(),
                    detail: e.to_string(),
                }
            } else {
                Error::Store(e)
            }
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(corrupt)?;
        // Read the version before anything writes: a damaged or newer file stays untouched.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if version > SCHEMA_VERSION {
            return Err(Error::StoreTooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version > 0 {
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(corrupt)?;
            if check != "ok" {
                return Err(Error::StoreCorrupt {
                    path: path.to_owned(),
                    detail: check,
                });
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A 10,000-appointment store is a few MB: keep it in the page cache and read it
        // through a memory map rather than a pread per page.
        conn.pragma_update(None, "cache_size", -16_384)?;
        conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // A full round writes tens of MB; checkpoint (and fsync) per 32 MB of WAL, not per
        // 4 MB, and keep the WAL file from staying large afterwards.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Migration 11 computes the stored keys of existing rows.
        conn.create_scalar_function(
            "presently_id_key",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(id_key(ctx.get_raw(0).as_str().unwrap_or_default())),
        )?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.migrate(version)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self, from: i64) -> Result<(), Error> {
        if from == SCHEMA_VERSION {
            return Ok(());
        }
        // One line per store, not per step: a new store runs every migration.
        tracing::info!(from, to = SCHEMA_VERSION, "migrating the store schema");
        let tx = self.conn.transaction()?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            tracing::debug!(to = index + 1, "store schema migration");
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// The store's schema version.
    pub fn schema_version(&self) -> Result<i64, Error> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    pub fn account(&self) -> Result<Option<Account>, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, tenant_id, upn, display_name FROM account LIMIT 1",
                [],
                |r| {
                    Ok(Account {
                        id: r.get(0)?,
                        tenant_id: r.get(1)?,
                        upn: r.get(2)?,
                        display_name: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records the signed-in account. A different account replaces the old one and its data.
    pub fn set_account(&mut self, account: &Account) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        let existing: Option<String> = tx
            .query_row("SELECT id FROM account LIMIT 1", [], |r| r.get(0))
            .optional()?;
        if existing.as_deref().is_some_and(|id| id != account.id) {
            tx.execute_batch("DELETE FROM calendars; DELETE FROM account;")?;
        }
        tx.execute(
            "INSERT INTO account (id, tenant_id, upn, display_name) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET tenant_id = ?2, upn = ?3, display_name = ?4",
            params![
                account.id,
                account.tenant_id,
                account.upn,
                account.display_name
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Makes the stored calendar list equal `calendars` (a calendar gone on the server goes
    /// here too, with its appointments).
    pub fn set_calendars(&mut self, calendars: &[Calendar]) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO calendars (id, name, color, is_default, can_edit) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET name = ?2, color = ?3, is_default = ?4, can_edit = ?5",
            )?;
            for c in calendars {
                upsert.execute(params![c.id, c.name, c.color, c.is_default, c.can_edit])?;
            }
            let keep: Vec<&str> = calendars.iter().map(|c| c.id.as_str()).collect();
            // Subscriptions are not the server's to remove.
            let existing: Vec<String> = tx
                .prepare(
                    "SELECT id FROM calendars
                     WHERE id NOT IN (SELECT calendar_id FROM calendar_subscriptions)",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in existing.iter().filter(|id| !keep.contains(&id.as_str())) {
                tx.execute("DELETE FROM calendars WHERE id = ?1", [id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn calendars(&self) -> Result<Vec<Calendar>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, color, is_default, can_edit FROM calendars ORDER BY is_default DESC, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Calendar {
                id: r.get(0)?,
                name: r.get(1)?,
                color: r.get(2)?,
                is_default: r.get(3)?,
                can_edit: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn sync_state(&self, calendar_id: &str) -> Result<Option<SyncState>, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT delta_link, next_link, window_start, window_end, last_synced_at, round_kind
                 FROM sync_state WHERE calendar_id = ?1",
                [calendar_id],
                |r| {
                    Ok(SyncState {
                        delta_link: r.get(0)?,
                        next_link: r.get(1)?,
                        window_start: r.get(2)?,
                        window_end: r.get(3)?,
                        last_synced_at: r.get(4)?,
                        round: r
                            .get::<_, Option<String>>(5)?
                            .and_then(|k| RoundKind::parse(&k)),
                    })
                },
            )
            .optional()?)
    }

    /// Why and when Graph refused delta on `calendar_id`, if it did.
    pub fn delta_refusal(
        &self,
        calendar_id: &str,
    ) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT delta_refused, delta_refused_at FROM sync_state
                 WHERE calendar_id = ?1 AND delta_refused IS NOT NULL AND delta_refused_at IS NOT NULL",
                [calendar_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Records that Graph refused delta on `calendar_id` (why, when), or (None) that it
    /// answered it. The rest of the calendar's sync state stays as it is.
    pub fn set_delta_refusal(
        &mut self,
        calendar_id: &str,
        refusal: Option<(&str, DateTime<Utc>)>,
    ) -> Result<(), Error> {
        let (why, at) = match refusal {
            Some((why, at)) => (Some(why), Some(at)),
            None => (None, None),
        };
        self.conn.execute(
            "INSERT INTO sync_state (calendar_id, delta_refused, delta_refused_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(calendar_id) DO UPDATE SET delta_refused = ?2, delta_refused_at = ?3",
            params![calendar_id, why, at],
        )?;
        Ok(())
    }

    /// The most recent completed sync of any calendar.
    pub fn last_synced_at(&self) -> Result<Option<DateTime<Utc>>, Error> {
        Ok(self
            .conn
            .query_row("SELECT MAX(last_synced_at) FROM sync_state", [], |r| {
                r.get::<_, Option<DateTime<Utc>>>(0)
            })?)
    }

    /// Applies one page of changes to `calendar_id` and records `state`, in one transaction:
    /// either all of it lands or none of it. Replaying a page changes nothing.
    pub fn apply_changes(
        &mut self,
        calendar_id: &str,
        changes: &[EventChange],
        state: &SyncState,
    ) -> Result<ApplyStats, Error> {
        let tx = self.conn.transaction()?;
        let stats = apply_in(&tx, Table::Live, calendar_id, changes)?;
        write_sync_state(&tx, calendar_id, state)?;
        tx.commit()?;
        Ok(stats)
    }

    /// Writes a page of a first sync's fill straight into the calendar's visible data, in
    /// one transaction, leaving the sync state alone: it says a full round is under way,
    /// which a crash resumes and whose completion replaces these rows with the
    /// authoritative ones. Replaying a page changes nothing.
    pub fn fill_changes(
        &mut self,
        calendar_id: &str,
        changes: &[EventChange],
    ) -> Result<ApplyStats, Error> {
        let tx = self.conn.transaction()?;
        let stats = apply_in(&tx, Table::Live, calendar_id, changes)?;
        tx.commit()?;
        Ok(stats)
    }

    /// Forgets the round in progress (its next link led nowhere good); the data and the
    /// last delta link stay.
    pub fn abandon_round(&mut self, calendar_id: &str) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE sync_state SET next_link = NULL, round_kind = NULL WHERE calendar_id = ?1",
            [calendar_id],
        )?;
        Ok(())
    }

    /// Starts a full round: clears what an earlier, abandoned full round staged.
    pub fn begin_full_round(&mut self, calendar_id: &str, state: &SyncState) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM staged_appointments WHERE calendar_id = ?1",
            [calendar_id],
        )?;
        tx.execute(
            "DELETE FROM staged_seen WHERE calendar_key = ?1",
            [id_key(calendar_id)],
        )?;
        write_sync_state(&tx, calendar_id, state)?;
        tx.commit()?;
        Ok(())
    }

    /// Stages one page of a full round and records `state`, in one transaction. The
    /// calendar's visible data does not change until [`Store::commit_full_round`].
    pub fn stage_changes(
        &mut self,
        calendar_id: &str,
        changes: &[EventChange],
        state: &SyncState,
    ) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        apply_in(&tx, Table::Staged, calendar_id, changes)?;
        write_sync_state(&tx, calendar_id, state)?;
        tx.commit()?;
        Ok(())
    }

    /// Completes a full round: the staged contents become the calendar's contents (only
    /// rows that differ are written), staging is cleared and `state` recorded, atomically.
    pub fn commit_full_round(
        &mut self,
        calendar_id: &str,
        state: &SyncState,
    ) -> Result<ApplyStats, Error> {
        let tx = self.conn.transaction()?;
        let sql = swap_sql();
        let removed = tx
            .prepare_cached(&sql.remove_unstaged)?
            .execute(params![calendar_id, id_key(calendar_id)])?;
        // Only rows that differ are written: after a first sync's fill, none.
        let updated = tx
            .prepare_cached(&sql.update_changed)?
            .execute([calendar_id])?;
        let inserted = tx.prepare_cached(&sql.insert_new)?.execute([calendar_id])?;
        // Seen notes carry the calendar's key; a calendar deleted mid-round leaves its own,
        // dropped here with the rest when no other round is staged.
        let calendar_key = id_key(calendar_id);
        let others: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM staged_appointments WHERE calendar_id <> ?1)
                OR EXISTS (SELECT 1 FROM staged_seen WHERE calendar_key <> ?2)",
            params![calendar_id, calendar_key],
            |r| r.get(0),
        )?;
        if others {
            tx.execute(
                "DELETE FROM staged_appointments WHERE calendar_id = ?1",
                [calendar_id],
            )?;
            tx.execute(
                "DELETE FROM staged_seen WHERE calendar_key = ?1",
                [calendar_key],
            )?;
        } else {
            // With no WHERE, SQLite drops the tables' pages at once (its truncate
            // optimization) rather than deleting row by row through the indexes.
            tx.execute("DELETE FROM staged_appointments", [])?;
            tx.execute("DELETE FROM staged_seen", [])?;
        }
        let upserted = updated + inserted;
        write_sync_state(&tx, calendar_id, state)?;
        tx.commit()?;
        Ok(ApplyStats { upserted, removed })
    }

    /// Replaces everything stored for `calendar_id` with `appointments` and records `state`,
    /// atomically: readers see the old contents until the new ones are complete.
    pub fn replace_calendar(
        &mut self,
        calendar_id: &str,
        appointments: &[Appointment],
        state: &SyncState,
    ) -> Result<ApplyStats, Error> {
        let tx = self.conn.transaction()?;
        let stats = swap_in(&tx, calendar_id, appointments)?;
        write_sync_state(&tx, calendar_id, state)?;
        tx.commit()?;
        Ok(stats)
    }

    /// Appointments that overlap `[from, to)`; all-day ones when their local dates overlap
    /// `[from_date, to_date)`. Ordered by start, all-day first within a day.
    pub fn appointments_overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        from_date: NaiveDate,
        to_date: NaiveDate,
    ) -> Result<Vec<Appointment>, Error> {
        let mut stmt = self.conn.prepare_cached(&overlapping_sql())?;
        let rows = stmt.query_map(
            params![
                to.timestamp(),
                from.timestamp(),
                to_date.to_string(),
                from_date.to_string()
            ],
            row_to_appointment,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn appointment(&self, id: &str) -> Result<Option<Appointment>, Error> {
        // Cached: the tray and the agenda's actions look appointments up one by one.
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM appointments WHERE id_key = ?1 AND id = ?2 LIMIT 1"
            ))?
            .query_row(params![id_key(id), id], row_to_appointment)
            .optional()?)
    }

    /// Reminders shown for occurrences starting at or after `since` (id, start).
    pub fn reminders_shown(
        &self,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashSet<(String, i64)>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT appointment_id, start_utc FROM reminders_shown WHERE start_utc >= ?1",
        )?;
        let rows = stmt.query_map([since.timestamp()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records reminders as shown (and forgets those of occurrences long past).
    pub fn mark_reminders_shown(
        &mut self,
        shown: &[(String, i64)],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO reminders_shown (appointment_id, start_utc, shown_at_utc)
                 VALUES (?1, ?2, ?3)",
            )?;
            for (id, start) in shown {
                insert.execute(params![id, start, now.timestamp()])?;
            }
        }
        tx.execute(
            "DELETE FROM reminders_shown WHERE start_utc < ?1",
            [(now - chrono::Duration::days(30)).timestamp()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The versions (`change_key`) of the calendar's stored events that have one, by id:
    /// what a full round may skip reading again.
    pub fn change_keys(
        &self,
        calendar_id: &str,
    ) -> Result<crate::graph::event::KnownVersions, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, change_key FROM appointments
             WHERE calendar_id = ?1 AND change_key IS NOT NULL",
        )?;
        let rows = stmt.query_map([calendar_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn calendar_is_empty(&self, calendar_id: &str) -> Result<bool, Error> {
        Ok(self.conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM appointments WHERE calendar_id = ?1)",
            [calendar_id],
            |r| r.get(0),
        )?)
    }

    pub fn appointment_count(&self) -> Result<usize, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM appointments", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn delete_meta(&mut self, key: &str) -> Result<(), Error> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Deletes the account and everything synced for it (`presently logout --forget`).
    pub fn forget_everything(&mut self) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM calendars; DELETE FROM account; DELETE FROM meta;
             DELETE FROM presence_history; DELETE FROM presence_journal;
             DELETE FROM presence_resources; DELETE FROM presence_skips;
             UPDATE presence_automation SET paused = 0, paused_until = NULL, pre_state = NULL,
                 headline = NULL;",
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Appends one line to the presence history; lines older than `keep_after` go.
    pub fn add_presence_history(
        &mut self,
        row: &PresenceHistoryRow,
        keep_after: DateTime<Utc>,
    ) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        insert_history(&tx, row, keep_after)?;
        tx.commit()?;
        Ok(())
    }

    /// The newest `limit` history lines, oldest first.
    pub fn presence_history(&self, limit: usize) -> Result<Vec<PresenceHistoryRow>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT at_utc, event, profile, appointment_id, subject, presence, until_utc, detail
             FROM (SELECT * FROM presence_history ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
        )?;
        let ts = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap_or_default();
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(PresenceHistoryRow {
                at: ts(r.get(0)?),
                event: HistoryKind::parse(&r.get::<_, String>(1)?),
                profile: r.get(2)?,
                appointment_id: r.get(3)?,
                subject: r.get(4)?,
                presence: r.get(5)?,
                until: r.get::<_, Option<i64>>(6)?.map(ts),
                detail: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether presence automation is paused (a pause whose end has passed still reads as
    /// stored; the caller compares with its clock).
    pub fn presence_pause(&self) -> Result<Option<Pause>, Error> {
        let (paused, until): (bool, Option<i64>) = self.conn.query_row(
            "SELECT paused, paused_until FROM presence_automation WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(paused.then(|| Pause {
            until: until.and_then(|s| DateTime::from_timestamp(s, 0)),
        }))
    }

    /// Pauses automation (`Some`) or resumes it (`None`).
    pub fn set_presence_pause(&mut self, pause: Option<Pause>) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE presence_automation SET paused = ?1, paused_until = ?2 WHERE id = 1",
            params![
                pause.is_some(),
                pause.and_then(|p| p.until).map(|t| t.timestamp())
            ],
        )?;
        Ok(())
    }

    /// The presence driver's state: its holds, open journal entries, and a version 6
    /// `pre_state` not taken over yet.
    pub fn presence_driver_rows(&self) -> Result<PresenceDriverRows, Error> {
        let (journal_id, next_seq, headline, legacy_pre_state): (
            Option<String>,
            i64,
            Option<String>,
            Option<String>,
        ) = self.conn.query_row(
            "SELECT journal_id, next_seq, headline, pre_state FROM presence_automation WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let holds = self
            .conn
            .prepare("SELECT resource, hold FROM presence_resources ORDER BY resource")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(PresenceDriverRows {
            journal_id: journal_id.unwrap_or_else(|| "presently".to_owned()),
            next_seq,
            headline,
            holds,
            open: self.presence_open_journal()?,
            legacy_pre_state,
        })
    }

    /// The presence writes still pending or in flight, oldest first.
    pub fn presence_open_journal(&self) -> Result<Vec<PresenceJournalRow>, Error> {
        let ts = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap_or_default();
        let mut stmt = self.conn.prepare(
            "SELECT key, resource, purpose, action, state, attempts, last_error,
                    next_attempt_utc, created_utc, updated_utc
             FROM presence_journal WHERE state IN ('pending', 'in_flight')
             ORDER BY created_utc, key",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PresenceJournalRow {
                key: r.get(0)?,
                resource: r.get(1)?,
                purpose: r.get(2)?,
                action: r.get(3)?,
                state: r.get(4)?,
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                next_attempt: r.get::<_, Option<i64>>(7)?.map(ts),
                created: ts(r.get(8)?),
                updated: ts(r.get(9)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores what the presence driver hands out, in one transaction: its holds, the
    /// journal entries that changed, history lines, a pause that ended. The version 6
    /// `pre_state` is taken over by the first save.
    pub fn save_presence_driver(&mut self, save: &PresenceDriverSave<'_>) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE presence_automation SET next_seq = ?1, headline = ?2, pre_state = NULL
             WHERE id = 1",
            params![save.next_seq, save.headline],
        )?;
        {
            let mut hold = tx.prepare(
                "INSERT INTO presence_resources (resource, hold) VALUES (?1, ?2)
                 ON CONFLICT(resource) DO UPDATE SET hold = ?2",
            )?;
            for (resource, json) in save.holds {
                hold.execute(params![resource, json])?;
            }
            let mut entry = tx.prepare(
                "INSERT INTO presence_journal (key, resource, purpose, action, state, attempts,
                     last_error, next_attempt_utc, created_utc, updated_utc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(key) DO UPDATE SET state = ?5, attempts = ?6, last_error = ?7,
                     next_attempt_utc = ?8, updated_utc = ?10",
            )?;
            for e in save.journal {
                entry.execute(params![
                    e.key,
                    e.resource,
                    e.purpose,
                    e.action,
                    e.state,
                    e.attempts,
                    e.last_error,
                    e.next_attempt.map(|t| t.timestamp()),
                    e.created.timestamp(),
                    e.updated.timestamp()
                ])?;
            }
            // The driver's open entries are the truth: one a failed save left open is not.
            let open: Vec<String> = tx
                .prepare(
                    "SELECT key FROM presence_journal WHERE state IN ('pending', 'in_flight')",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for key in open.iter().filter(|k| !save.open_keys.contains(k)) {
                tx.execute(
                    "UPDATE presence_journal SET state = 'superseded' WHERE key = ?1",
                    [key],
                )?;
            }
            for row in save.history {
                append_history(&tx, row)?;
            }
        }
        if let Some(until) = save.end_pause {
            tx.execute(
                "UPDATE presence_automation SET paused = 0, paused_until = NULL
                 WHERE id = 1 AND paused_until = ?1",
                [until.timestamp()],
            )?;
        }
        let keep = save.keep_after.timestamp();
        tx.execute("DELETE FROM presence_history WHERE at_utc < ?1", [keep])?;
        tx.execute(
            "DELETE FROM presence_journal
             WHERE state NOT IN ('pending', 'in_flight') AND updated_utc < ?1",
            [keep],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A counter that changes when another connection (another process) commits.
    pub fn data_version(&self) -> Result<i64, Error> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

/// The appointment columns, in the order [`row_to_appointment`] and [`apply_in`] use.
const COLUMNS: &str = "calendar_id, id, ical_uid, subject, all_day, start_utc, end_utc, \
    start_date, end_date, original_tz, show_as, response, sensitivity, cancelled, location, \
    organizer_name, organizer_email, join_url, online_provider, web_link, series_master_id, kind, \
    categories, reminder_on, reminder_minutes, last_modified, body_preview, attendees, \
    meeting_id, meeting_passcode, change_key";

/// The columns of [`COLUMNS`] after the key (calendar_id, id): what an update may change.
const DATA_COLUMNS: &str = "ical_uid, subject, all_day, start_utc, end_utc, start_date, \
    end_date, original_tz, show_as, response, sensitivity, cancelled, location, organizer_name, \
    organizer_email, join_url, online_provider, web_link, series_master_id, kind, categories, \
    reminder_on, reminder_minutes, last_modified, body_preview, attendees, meeting_id, \
    meeting_passcode, change_key";

/// The stored key appointments are looked up by: FNV-1a (64 bits) of the id's UTF-8 bytes.
/// Stored in every row, so it must never change. Not unique: every lookup also compares the
/// calendar and the id, so two ids with one key are two rows, never one.
pub(crate) fn id_key(id: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// `prefix.column` for each of [`DATA_COLUMNS`], comma-separated.
fn qualified(prefix: &str) -> String {
    DATA_COLUMNS
        .split(',')
        .map(|c| format!("{prefix}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statements that swap a staged full round in (built once). A `+` before a
/// calendar_id term keeps SQLite from choosing the calendar index (it has no statistics to
/// tell that the key index finds one row and the calendar index thousands).
struct SwapSql {
    remove_unstaged: String,
    update_changed: String,
    insert_new: String,
}

fn swap_sql() -> &'static SwapSql {
    static SQL: std::sync::OnceLock<SwapSql> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let (live, staged) = (qualified("appointments"), qualified("s"));
        let set = DATA_COLUMNS
            .split(',')
            .map(|c| format!("{0} = s.{0}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        SwapSql {
            remove_unstaged: "DELETE FROM appointments WHERE calendar_id = ?1 AND NOT EXISTS
                (SELECT 1 FROM staged_appointments AS s WHERE s.id_key = appointments.id_key
                    AND +s.calendar_id = ?1 AND s.id = appointments.id)
                AND NOT EXISTS
                (SELECT 1 FROM staged_seen AS v WHERE v.calendar_key = ?2
                    AND v.id_key = appointments.id_key)"
                .to_owned(),
            update_changed: format!(
                "UPDATE appointments SET {set} FROM staged_appointments AS s
                 WHERE s.calendar_id = ?1 AND +appointments.calendar_id = ?1
                    AND appointments.id_key = s.id_key AND appointments.id = s.id
                    AND ({live}) IS NOT ({staged})"
            ),
            insert_new: format!(
                "INSERT INTO appointments (id_key, {COLUMNS})
                 SELECT id_key, {COLUMNS} FROM staged_appointments AS s WHERE s.calendar_id = ?1
                    AND NOT EXISTS (SELECT 1 FROM appointments AS a WHERE a.id_key = s.id_key
                        AND +a.calendar_id = ?1 AND a.id = s.id)"
            ),
        }
    })
}

/// The agenda's query: two range scans, one on each kind's partial index (the literal
/// `all_day = 0` / `all_day = 1` is what lets SQLite use them), rather than a table scan.
fn overlapping_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM appointments
         WHERE all_day = 0 AND start_utc < ?1 AND (end_utc > ?2 OR start_utc >= ?2)
         UNION ALL
         SELECT {COLUMNS} FROM appointments
         WHERE all_day = 1 AND start_date < ?3 AND end_date > ?4
         ORDER BY start_utc, all_day DESC, subject"
    )
}

/// The live appointments, or a full round's staging area shaped the same.
#[derive(Clone, Copy)]
enum Table {
    Live,
    Staged,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Live => "appointments",
            Table::Staged => "staged_appointments",
        }
    }
}

fn apply_in(
    tx: &Transaction<'_>,
    table: Table,
    calendar_id: &str,
    changes: &[EventChange],
) -> Result<ApplyStats, Error> {
    let mut stats = ApplyStats::default();
    let name = table.name();
    const VALUES: &str = "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
        ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31";
    // ?32 is the id's key; a row is (calendar_id, id), found through the key's index (the
    // `+` keeps SQLite from walking the calendar's index instead).
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO {name} (id_key, {COLUMNS}) SELECT ?32, ?1, ?2, {VALUES}
         WHERE NOT EXISTS (SELECT 1 FROM {name} WHERE id_key = ?32 AND +calendar_id = ?1 AND id = ?2)"
    ))?;
    // Writes only when something differs: a replayed or unchanged item costs no write (and
    // is not counted as a change).
    let mut update = tx.prepare_cached(&format!(
        "UPDATE {name} SET ({DATA_COLUMNS}) = ({VALUES})
         WHERE id_key = ?32 AND +calendar_id = ?1 AND id = ?2 AND ({DATA_COLUMNS}) IS NOT ({VALUES})"
    ))?;
    let mut remove = tx.prepare_cached(&format!(
        "DELETE FROM {name} WHERE id_key = ?3 AND +calendar_id = ?1 AND id = ?2"
    ))?;
    // A full round's item equal to the live row (after a first sync's fill, nearly every
    // one) is noted as seen rather than staged whole: the swap then keeps the live row.
    // Seen and staged exclude each other, so a later page's newer version wins either way.
    // INDEXED BY: the row comparison's `all_day IS ? AND start_date IS ?` would otherwise
    // win the planner's choice (two equalities) and scan a day's rows (0.5 ms an item).
    let staging = matches!(table, Table::Staged);
    let mut same_as_live = if staging {
        Some(tx.prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM appointments INDEXED BY appointments_by_id_key
                WHERE id_key = ?32 AND +calendar_id = ?1 AND id = ?2
                AND ({DATA_COLUMNS}) IS ({VALUES}))"
        ))?)
    } else {
        None
    };
    let calendar_key = id_key(calendar_id);
    let mut see = tx.prepare_cached(
        "INSERT OR IGNORE INTO staged_seen (calendar_key, id_key) VALUES (?1, ?2)",
    )?;
    let mut unsee =
        tx.prepare_cached("DELETE FROM staged_seen WHERE calendar_key = ?1 AND id_key = ?2")?;
    for change in changes {
        match change {
            EventChange::Upsert(a) => {
                let (all_day, start_utc, end_utc, start_date, end_date) = match &a.when {
                    When::Timed { start, end } => {
                        (false, start.timestamp(), end.timestamp(), None, None)
                    }
                    When::AllDay { start, end } => (
                        true,
                        date_midnight_utc(*start),
                        date_midnight_utc(*end),
                        Some(start.to_string()),
                        Some(end.to_string()),
                    ),
                };
                let categories =
                    serde_json::to_string(&a.categories).unwrap_or_else(|_| "[]".to_owned());
                let organizer = a.organizer.as_ref();
                let last_modified = a
                    .last_modified
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                let key = id_key(&a.id);
                let values: [&dyn ToSql; 32] = [
                    &calendar_id,
                    &a.id,
                    &a.ical_uid,
                    &a.subject,
                    &all_day,
                    &start_utc,
                    &end_utc,
                    &start_date,
                    &end_date,
                    &a.original_time_zone,
                    &a.show_as.as_str(),
                    &a.response.as_str(),
                    &a.sensitivity.as_str(),
                    &a.cancelled,
                    &a.location,
                    &organizer.and_then(|o| o.name.as_deref()),
                    &organizer.and_then(|o| o.email.as_deref()),
                    &a.join_url,
                    &a.online_provider.map(|p| p.as_str()),
                    &a.web_link,
                    &a.series_master_id,
                    &a.kind.as_str(),
                    &categories,
                    &a.reminder_on,
                    &a.reminder_minutes,
                    // RFC 3339 by hand: rusqlite's chrono conversion parses a format string per row.
                    &last_modified,
                    &a.body_preview,
                    &a.attendees,
                    &a.meeting_id,
                    &a.meeting_passcode,
                    &a.change_key,
                    &key,
                ];
                if let Some(same) = same_as_live.as_mut() {
                    if same.query_row(&values[..], |r| r.get::<_, bool>(0))? {
                        see.execute(params![calendar_key, key])?;
                        remove.execute(params![calendar_id, a.id, key])?;
                        continue;
                    }
                    unsee.execute(params![calendar_key, key])?;
                }
                // Most writes of a sync are new rows: insert first, else update.
                let mut written = insert.execute(&values[..])?;
                if written == 0 {
                    // 0 rows when an identical row was already there (a replay).
                    written = update.execute(&values[..])?;
                }
                stats.upserted += written;
            }
            // The store holds this version (the caller read it from the live table before
            // the round): in a round it is seen, the live row kept; elsewhere nothing to do.
            EventChange::Unchanged { id } => {
                if staging {
                    let key = id_key(id);
                    see.execute(params![calendar_key, key])?;
                    remove.execute(params![calendar_id, id, key])?;
                }
            }
            EventChange::Removed { id } => {
                if staging {
                    unsee.execute(params![calendar_key, id_key(id)])?;
                }
                stats.removed += remove.execute(params![calendar_id, id, id_key(id)])?;
            }
        }
    }
    Ok(stats)
}

/// Makes the calendar's rows equal `appointments`, writing only what differs.
fn swap_in(
    tx: &Transaction<'_>,
    calendar_id: &str,
    appointments: &[Appointment],
) -> Result<ApplyStats, Error> {
    let keep: std::collections::HashSet<&str> =
        appointments.iter().map(|a| a.id.as_str()).collect();
    let existing: Vec<String> = tx
        .prepare_cached("SELECT id FROM appointments WHERE calendar_id = ?1")?
        .query_map([calendar_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let removals: Vec<EventChange> = existing
        .into_iter()
        .filter(|id| !keep.contains(id.as_str()))
        .map(|id| EventChange::Removed { id })
        .collect();
    let mut stats = apply_in(tx, Table::Live, calendar_id, &removals)?;
    let upserts: Vec<EventChange> = appointments
        .iter()
        .map(|a| EventChange::Upsert(Box::new(a.clone())))
        .collect();
    stats.upserted = apply_in(tx, Table::Live, calendar_id, &upserts)?.upserted;
    Ok(stats)
}

/// Appends one presence history line inside `tx`.
fn append_history(tx: &Transaction<'_>, row: &PresenceHistoryRow) -> Result<(), Error> {
    tx.prepare_cached(
        "INSERT INTO presence_history
            (at_utc, event, profile, appointment_id, subject, presence, until_utc, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        row.at.timestamp(),
        row.event.as_str(),
        row.profile,
        row.appointment_id,
        row.subject,
        row.presence,
        row.until.map(|t| t.timestamp()),
        row.detail
    ])?;
    Ok(())
}

/// Appends one presence history line inside `tx`; lines older than `keep_after` go.
fn insert_history(
    tx: &Transaction<'_>,
    row: &PresenceHistoryRow,
    keep_after: DateTime<Utc>,
) -> Result<(), Error> {
    append_history(tx, row)?;
    tx.execute(
        "DELETE FROM presence_history WHERE at_utc < ?1",
        [keep_after.timestamp()],
    )?;
    Ok(())
}

fn write_sync_state(tx: &Transaction<'_>, calendar_id: &str, s: &SyncState) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO sync_state (calendar_id, delta_link, next_link, window_start, window_end, last_synced_at, round_kind)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(calendar_id) DO UPDATE SET delta_link = ?2, next_link = ?3, window_start = ?4,
            window_end = ?5, last_synced_at = ?6, round_kind = ?7",
        params![
            calendar_id,
            s.delta_link,
            s.next_link,
            s.window_start,
            s.window_end,
            s.last_synced_at,
            s.round.map(RoundKind::as_str)
        ],
    )?;
    Ok(())
}

fn date_midnight_utc(d: NaiveDate) -> i64 {
    d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()
}

fn row_to_appointment(r: &rusqlite::Row<'_>) -> rusqlite::Result<Appointment> {
    let all_day: bool = r.get(4)?;
    let when = if all_day {
        let parse = |i: usize| -> rusqlite::Result<NaiveDate> {
            let text: String = r.get(i)?;
            text.parse().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        };
        When::AllDay {
            start: parse(7)?,
            end: parse(8)?,
        }
    } else {
        let ts = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
            let secs: i64 = r.get(i)?;
            DateTime::from_timestamp(secs, 0)
                .ok_or(rusqlite::Error::IntegralValueOutOfRange(i, secs))
        };
        When::Timed {
            start: ts(5)?,
            end: ts(6)?,
        }
    };
    let organizer_name: Option<String> = r.get(15)?;
    let organizer_email: Option<String> = r.get(16)?;
    let categories: String = r.get(22)?;
    Ok(Appointment {
        calendar_id: r.get(0)?,
        id: r.get(1)?,
        ical_uid: r.get(2)?,
        subject: r.get(3)?,
        when,
        original_time_zone: r.get(9)?,
        show_as: ShowAs::parse(&r.get::<_, String>(10)?),
        response: ResponseStatus::parse(&r.get::<_, String>(11)?),
        sensitivity: Sensitivity::parse(&r.get::<_, String>(12)?),
        cancelled: r.get(13)?,
        location: r.get(14)?,
        organizer: (organizer_name.is_some() || organizer_email.is_some()).then_some(Organizer {
            name: organizer_name,
            email: organizer_email,
        }),
        join_url: r.get(17)?,
        online_provider: r
            .get::<_, Option<String>>(18)?
            .map(|p| OnlineMeetingProvider::parse(&p)),
        web_link: r.get(19)?,
        series_master_id: r.get(20)?,
        kind: AppointmentType::parse(&r.get::<_, String>(21)?),
        categories: serde_json::from_str(&categories).unwrap_or_default(),
        reminder_on: r.get(23)?,
        reminder_minutes: r.get(24)?,
        last_modified: r
            .get::<_, Option<String>>(25)?
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        body_preview: r.get(26)?,
        attendees: r.get(27)?,
        meeting_id: r.get(28)?,
        meeting_passcode: r.get(29)?,
        change_key: r.get(30)?,
    })
}

mod skips;
mod subscriptions;
pub use skips::{PresenceSkip, PresenceSkips, SkipChange, SkipScope};
pub use subscriptions::{FeedValidators, Subscription, SUBSCRIPTION_ID_PREFIX};

#[cfg(test)]
mod tests;
