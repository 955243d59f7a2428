//! What both shells do after a sync round.

use presently_engine::engine::SyncReport;
use presently_engine::Error;

/// True when a sync round changed the store, so the agenda, the tray, reminders and
/// presence automation look again (a full read counts even with no change: it may have
/// replaced the window). A failure is logged here (the engine logs a finished round).
pub fn changed_the_store(result: &Result<SyncReport, Error>) -> bool {
    match result {
        Ok(report) => {
            report.changes > 0
                || report
                    .calendars
                    .iter()
                    .any(|c| c.kind == presently_engine::engine::RoundRead::Full)
        }
        Err(e) => {
            tracing::warn!(error = %e, "sync failed");
            false
        }
    }
}

/// How long a round runs before the shells show "Syncing": a round that changes nothing
/// takes a few milliseconds, and flashing the tray icon for it twice a minute redraws the
/// tray (and wakes the panel) for nothing. A slow round still says so.
pub const SHOW_SYNCING_AFTER: std::time::Duration = std::time::Duration::from_millis(1500);

/// Which sync rounds need the shells to redraw: a round still running after
/// [`SHOW_SYNCING_AFTER`] (to show "Syncing"), and a round that changed the store or ended
/// otherwise than the one before it (ok after a failure, another error). A round that
/// changes nothing and ends as the last one did redraws nothing.
#[derive(Debug, Default)]
pub struct RoundRedraws {
    started: std::sync::atomic::AtomicU64,
    finished: std::sync::atomic::AtomicU64,
    // The last round's outcome as the status shows it (None: ok); unset before the first.
    last: std::sync::Mutex<Option<Option<String>>>,
}

impl RoundRedraws {
    /// A round starts; its number, for [`Self::still_running`].
    pub fn started(&self) -> u64 {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            .wrapping_add(1)
    }

    /// Round `round` has not ended yet.
    pub fn still_running(&self, round: u64) -> bool {
        self.finished.load(std::sync::atomic::Ordering::SeqCst) < round
    }

    /// A round ended with `result`: whether the store changed (see [`changed_the_store`])
    /// and whether the shells must redraw (the store changed, or the status the round leaves
    /// differs from the last one's).
    pub fn finished(&self, result: &Result<SyncReport, Error>) -> RoundEnd {
        let round = self.started.load(std::sync::atomic::Ordering::SeqCst);
        self.finished
            .store(round, std::sync::atomic::Ordering::SeqCst);
        let outcome = result.as_ref().err().map(|e| e.to_string());
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let same = last.as_ref() == Some(&outcome);
        *last = Some(outcome);
        let store_changed = changed_the_store(result);
        RoundEnd {
            store_changed,
            redraw: store_changed || !same,
        }
    }
}

/// What a finished round asks of the shells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundEnd {
    /// The store changed: the agenda, reminders and presence automation look again.
    pub store_changed: bool,
    /// The tray and the status line redraw.
    pub redraw: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use presently_engine::engine::{CalendarReport, RoundRead};

    fn ok(changes: usize, kind: RoundRead) -> Result<SyncReport, Error> {
        Ok(SyncReport {
            changes,
            requests: 1,
            calendars: vec![CalendarReport {
                calendar_id: "primary".into(),
                name: "Calendar".into(),
                kind,
                resumed: false,
                pages: 1,
                upserted: changes,
                removed: 0,
                restarted: None,
                parse_micros: 0,
                store_micros: 0,
            }],
            ..Default::default()
        })
    }

    #[test]
    fn a_round_that_changes_nothing_redraws_nothing() {
        let rounds = RoundRedraws::default();
        let first = rounds.started();
        assert!(rounds.still_running(first));
        // The first round always draws (the shells have not seen an outcome yet).
        assert!(rounds.finished(&ok(0, RoundRead::Incremental)).redraw);
        assert!(!rounds.still_running(first));
        for _ in 0..3 {
            let round = rounds.started();
            assert_eq!(
                rounds.finished(&ok(0, RoundRead::Incremental)),
                RoundEnd {
                    store_changed: false,
                    redraw: false
                },
                "a no-change round redrew"
            );
            assert!(!rounds.still_running(round));
        }
        rounds.started();
        assert_eq!(
            rounds.finished(&ok(2, RoundRead::Incremental)),
            RoundEnd {
                store_changed: true,
                redraw: true
            },
            "changes redraw"
        );
        rounds.started();
        assert!(
            rounds.finished(&ok(0, RoundRead::Full)).store_changed,
            "a full read"
        );
    }

    #[test]
    fn a_round_that_ends_otherwise_than_the_last_redraws() {
        let rounds = RoundRedraws::default();
        rounds.started();
        rounds.finished(&ok(0, RoundRead::Incremental));
        rounds.started();
        let offline = || Err(Error::InvalidInput("offline".into()));
        assert!(
            rounds.finished(&offline()).redraw,
            "a failure after success"
        );
        rounds.started();
        assert!(
            !rounds.finished(&offline()).redraw,
            "the same failure again"
        );
        rounds.started();
        assert!(
            rounds.finished(&ok(0, RoundRead::Incremental)).redraw,
            "back to normal"
        );
    }
}
