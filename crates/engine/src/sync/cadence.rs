//! When to sync: at start, every `interval` (with jitter), sooner after a wake from sleep
//! or a clock jump, on demand, and with a growing backoff while offline. Between syncs the
//! loop sleeps; nothing polls.

//!
//! Only the decisions live here; the loop that sleeps and syncs is
//! `crate::engine::sync_loop` (so `sync` needs nothing from `engine`).

use std::time::Duration;

/// First retry after a failed sync; doubles per failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(15);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest single sleep: a wake from suspend is noticed within this (tokio's timers do
/// not count time spent suspended).
pub const MAX_SLEEP: Duration = Duration::from_secs(300);

/// The wait before the next sync. `jitter` in `[0, 1)` spreads clients over ±10% of the
/// interval so a fleet does not sync in lockstep.
pub fn next_delay(interval: Duration, consecutive_failures: u32, jitter: f64) -> Duration {
    if consecutive_failures == 0 {
        interval.mul_f64(0.9 + 0.2 * jitter.clamp(0.0, 1.0))
    } else {
        let backoff = FIRST_BACKOFF.saturating_mul(1 << (consecutive_failures - 1).min(10));
        backoff
            .min(MAX_BACKOFF)
            .min(interval.max(FIRST_BACKOFF))
            .max(FIRST_BACKOFF.min(interval))
    }
}

/// Whether more wall-clock time passed than the monotonic sleep measured: the machine was
/// suspended, or the clock jumped.
pub fn woke_or_jumped(wall_elapsed: chrono::Duration, slept: Duration) -> bool {
    let slept = chrono::Duration::from_std(slept).unwrap_or(chrono::Duration::MAX);
    wall_elapsed - slept > chrono::Duration::seconds(30) || wall_elapsed < chrono::Duration::zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_jittered_within_ten_percent() {
        let i = Duration::from_secs(60);
        assert_eq!(next_delay(i, 0, 0.0), Duration::from_secs(54));
        assert_eq!(next_delay(i, 0, 0.5), Duration::from_secs(60));
        assert!(next_delay(i, 0, 0.999) <= Duration::from_secs(66));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let i = Duration::from_secs(600);
        let delays: Vec<u64> = (1..=7).map(|n| next_delay(i, n, 0.5).as_secs()).collect();
        assert_eq!(delays, vec![15, 30, 60, 120, 240, 300, 300]);
        // Never slower than the normal cadence.
        assert_eq!(
            next_delay(Duration::from_secs(60), 5, 0.5),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_wake_from_suspend_is_noticed() {
        let slept = Duration::from_secs(300);
        assert!(!woke_or_jumped(chrono::Duration::seconds(301), slept));
        assert!(woke_or_jumped(chrono::Duration::hours(8), slept));
        assert!(
            woke_or_jumped(chrono::Duration::seconds(-3600), slept),
            "clock set back"
        );
    }
}
