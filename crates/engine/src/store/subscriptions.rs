//! Calendar subscriptions (iCalendar feeds, issue 23): each is a calendar of its own (a row
//! of `calendars`, with the appointments of the sync window) and a row of
//! `calendar_subscriptions`: where the feed comes from, the validators of its last answer
//! (`ETag`, `Last-Modified`) for conditional requests, and how the last fetch went. The
//! Graph calendar list never removes one (`set_calendars`).

use super::{swap_in, ApplyStats, Store};
use crate::error::Error;
use crate::model::{Appointment, Calendar};
use crate::sync::Window;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

/// Ids of subscription calendars begin with this; Graph's never hold a colon.
pub const SUBSCRIPTION_ID_PREFIX: &str = "ics:";

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subscription {
    pub calendar: Calendar,
    /// An `https://` URL (a `webcal://` one as the user gave it), or a local file's path.
    pub source: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The last fetch, whatever its outcome.
    pub fetched_at: Option<DateTime<Utc>>,
    /// The last fetch that brought new data.
    pub changed_at: Option<DateTime<Utc>>,
    /// How the last fetch failed (`ErrorCode` and message); `None` after a success.
    pub error_code: Option<String>,
    pub error: Option<String>,
    /// The window the stored appointments were expanded over.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// What a successful fetch stores with the feed's appointments.
#[derive(Debug, Clone, Default)]
pub struct FeedValidators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Store {
    /// Adds a subscription, with the appointments of its first fetch, in one transaction.
    pub fn add_subscription(
        &mut self,
        calendar: &Calendar,
        source: &str,
        validators: &FeedValidators,
        window: Window,
        appointments: &[Appointment],
        at: DateTime<Utc>,
    ) -> Result<ApplyStats, Error> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO calendars (id, name, color, is_default, can_edit) VALUES (?1, ?2, ?3, 0, 0)",
            params![calendar.id, calendar.name, calendar.color],
        )?;
        tx.execute(
            "INSERT INTO calendar_subscriptions (calendar_id, source) VALUES (?1, ?2)",
            params![calendar.id, source],
        )?;
        let stats = swap_in(&tx, &calendar.id, appointments)?;
        record_success(&tx, &calendar.id, validators, window, at)?;
        tx.commit()?;
        Ok(stats)
    }

    pub fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.name, c.color, s.source, s.etag, s.last_modified, s.fetched_at,
                    s.changed_at, s.error_code, s.error, s.window_start, s.window_end
             FROM calendar_subscriptions s JOIN calendars c ON c.id = s.calendar_id
             ORDER BY c.name",
        )?;
        let rows = stmt.query_map([], |r| {
            let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
                Ok(r.get::<_, Option<String>>(i)?
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc)))
            };
            Ok(Subscription {
                calendar: Calendar {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    color: r.get(2)?,
                    is_default: false,
                    can_edit: false,
                },
                source: r.get(3)?,
                etag: r.get(4)?,
                last_modified: r.get(5)?,
                fetched_at: time(6)?,
                changed_at: time(7)?,
                error_code: r.get(8)?,
                error: r.get(9)?,
                window: time(10)?.zip(time(11)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The subscription named `name` (without regard to case).
    pub fn subscription(&self, name: &str) -> Result<Option<Subscription>, Error> {
        Ok(self
            .subscriptions()?
            .into_iter()
            .find(|s| s.calendar.name.eq_ignore_ascii_case(name)))
    }

    /// Removes a subscription with its calendar and appointments.
    pub fn remove_subscription(&mut self, calendar_id: &str) -> Result<bool, Error> {
        let tx = self.conn.transaction()?;
        let removed = tx
            .query_row(
                "SELECT calendar_id FROM calendar_subscriptions WHERE calendar_id = ?1",
                [calendar_id],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .is_some();
        if removed {
            tx.execute("DELETE FROM calendars WHERE id = ?1", [calendar_id])?;
        }
        tx.commit()?;
        Ok(removed)
    }

    /// A fetch that brought the feed: its appointments replace the calendar's, with the
    /// validators of the answer, in one transaction.
    pub fn store_feed(
        &mut self,
        calendar_id: &str,
        validators: &FeedValidators,
        window: Window,
        appointments: &[Appointment],
        at: DateTime<Utc>,
    ) -> Result<ApplyStats, Error> {
        let tx = self.conn.transaction()?;
        let stats = swap_in(&tx, calendar_id, appointments)?;
        record_success(&tx, calendar_id, validators, window, at)?;
        tx.commit()?;
        Ok(stats)
    }

    /// A fetch the server answered "not modified": nothing changes but when.
    pub fn feed_unchanged(&mut self, calendar_id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE calendar_subscriptions SET fetched_at = ?2, error_code = NULL, error = NULL
             WHERE calendar_id = ?1",
            params![calendar_id, at.to_rfc3339()],
        )?;
        Ok(())
    }

    /// A fetch that failed: the calendar keeps what it had.
    pub fn feed_failed(
        &mut self,
        calendar_id: &str,
        code: &str,
        message: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE calendar_subscriptions SET fetched_at = ?2, error_code = ?3, error = ?4
             WHERE calendar_id = ?1",
            params![calendar_id, at.to_rfc3339(), code, message],
        )?;
        Ok(())
    }
}

fn record_success(
    tx: &rusqlite::Transaction<'_>,
    calendar_id: &str,
    validators: &FeedValidators,
    window: Window,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE calendar_subscriptions SET etag = ?2, last_modified = ?3, fetched_at = ?4,
            changed_at = ?4, error_code = NULL, error = NULL, window_start = ?5, window_end = ?6
         WHERE calendar_id = ?1",
        params![
            calendar_id,
            validators.etag,
            validators.last_modified,
            at.to_rfc3339(),
            window.start.to_rfc3339(),
            window.end.to_rfc3339()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ics;

    const FEED: &str = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:daily\nDTSTART:20261101T120000Z\nRRULE:FREQ=DAILY;COUNT=3\nSUMMARY:Daily\nEND:VEVENT\nEND:VCALENDAR\n";

    fn window() -> Window {
        Window::around("2026-11-02".parse().unwrap(), 30, 180)
    }

    fn feed(calendar_id: &str) -> Vec<Appointment> {
        ics::parse(FEED.as_bytes(), calendar_id, window(), chrono_tz::UTC)
            .unwrap()
            .appointments
    }

    fn subscription_calendar() -> Calendar {
        Calendar {
            id: "ics:1".into(),
            name: "Rota".into(),
            color: None,
            is_default: false,
            can_edit: false,
        }
    }

    #[test]
    fn a_subscription_outlives_the_graph_calendar_list_and_goes_with_its_appointments() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let at: DateTime<Utc> = "2026-11-02T08:00:00Z".parse().unwrap();
        let validators = FeedValidators {
            etag: Some("\"v1\"".into()),
            last_modified: None,
        };
        let calendar = subscription_calendar();
        store
            .add_subscription(
                &calendar,
                "https://example.com/a.ics",
                &validators,
                window(),
                &feed("ics:1"),
                at,
            )
            .unwrap();
        // Graph's calendar list does not hold it, and does not remove it.
        let graph = Calendar {
            id: "AAMkAGI2".into(),
            name: "Calendar".into(),
            color: None,
            is_default: true,
            can_edit: true,
        };
        store.set_calendars(std::slice::from_ref(&graph)).unwrap();
        assert_eq!(store.calendars().unwrap(), vec![graph, calendar.clone()]);
        let stored = store.subscription("rota").unwrap().unwrap();
        assert_eq!(stored.etag.as_deref(), Some("\"v1\""));
        assert_eq!(stored.window, Some((window().start, window().end)));
        assert_eq!(stored.changed_at, Some(at));
        assert!(store
            .appointment("daily/20261103T120000Z")
            .unwrap()
            .is_some());

        // A failure keeps the data; a success clears the error.
        store
            .feed_failed("ics:1", "network", "cannot connect", at)
            .unwrap();
        let failed = store.subscription("Rota").unwrap().unwrap();
        assert_eq!(failed.error.as_deref(), Some("cannot connect"));
        assert!(store
            .appointment("daily/20261103T120000Z")
            .unwrap()
            .is_some());
        store
            .store_feed(
                "ics:1",
                &FeedValidators::default(),
                window(),
                &feed("ics:1")[..1],
                at,
            )
            .unwrap();
        let stored = store.subscription("Rota").unwrap().unwrap();
        assert_eq!((stored.error, stored.etag), (None, None));
        assert!(store
            .appointment("daily/20261103T120000Z")
            .unwrap()
            .is_none());

        assert!(store.remove_subscription("ics:1").unwrap());
        assert!(store.subscriptions().unwrap().is_empty());
        assert!(store
            .appointment("daily/20261102T120000Z")
            .unwrap()
            .is_none());
        assert!(!store.remove_subscription("ics:1").unwrap());
    }
}
