//! What both shells do after a sync round.

use presently_engine::engine::SyncReport;
use presently_engine::Error;

/// Logs how a sync round went; true when it changed the store, so the agenda, the tray,
/// reminders and presence automation look again (a full read counts even with no change:
/// it may have replaced the window).
pub fn changed_the_store(result: &Result<SyncReport, Error>) -> bool {
    match result {
        Ok(report) => {
            tracing::info!(
                changes = report.changes,
                requests = report.requests,
                "sync finished"
            );
            report.changes > 0 || report.calendars.iter().any(|c| c.kind == "full")
        }
        Err(e) => {
            tracing::warn!(error = %e, "sync failed");
            false
        }
    }
}
