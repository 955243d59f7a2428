//! When to sync: at start, every `interval` (with jitter), sooner after a wake from sleep
//! or a clock jump, on demand, and with a growing backoff while offline. Between syncs the
//! loop sleeps; nothing polls.

use crate::clock::Clock;
use crate::engine::{Engine, SyncOptions, SyncReport};
use crate::error::Error;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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

/// Runs syncs until `stop` is notified: at start, then on the cadence above, and whenever
/// `now` is notified (Sync now, a sign-in). While nobody is signed in it only waits for
/// `now`. `before` runs as each sync starts, `after` sees every result.
pub async fn run(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    now: Arc<Notify>,
    stop: Arc<Notify>,
    before: impl Fn(),
    after: impl Fn(&Result<SyncReport, Error>),
) {
    let mut failures: u32 = 0;
    loop {
        // Read each time: the settings page can change it while the loop runs.
        let interval = Duration::from_secs(engine.config().sync.interval_secs);
        let signed_in = engine
            .status()
            .map(|s| s.account.signed_in)
            .unwrap_or(false);
        // A sign-in kept in the keyring (by the CLI, say) counts too. Sync turned off waits
        // the same way (a settings change wakes the loop with `now`).
        let disabled = !engine.config().features.calendar_sync;
        if disabled || (!signed_in && !matches!(engine.whoami().await, Ok(Some(_)))) {
            tokio::select! {
                _ = now.notified() => continue,
                _ = stop.notified() => return,
            }
        }
        before();
        let result = engine.sync(SyncOptions::default()).await;
        failures = if result.is_ok() {
            0
        } else {
            failures.saturating_add(1)
        };
        after(&result);
        let mut remaining = next_delay(interval, failures, rand::random());
        // Sleep in bounded steps, checking the wall clock for a wake from suspend.
        loop {
            let step = remaining.min(MAX_SLEEP);
            let wall_before = clock.now();
            let started = tokio::time::Instant::now();
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                _ = now.notified() => break,
                _ = stop.notified() => return,
            }
            let slept = started.elapsed();
            if woke_or_jumped(clock.now() - wall_before, slept) {
                tracing::info!("woke from sleep or the clock jumped; syncing now");
                break;
            }
            remaining = remaining.saturating_sub(slept);
            if remaining.is_zero() {
                break;
            }
        }
    }
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

    #[tokio::test(start_paused = true)]
    async fn the_loop_sleeps_between_syncs_and_wakes_on_demand() {
        // Paused tokio time: the loop must not spin. A signed-in engine whose servers
        // refuse connections (offline) makes each sync fail at once.
        use crate::auth::{CredentialStore, MemoryStore, StoredAccount};
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(crate::FixedClock::new(
            "2026-11-24T08:00:00Z".parse().unwrap(),
        ));
        let mut config = crate::config::Config::default();
        config.microsoft.client_id = Some("7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b".into());
        config.microsoft.authority_host = "http://127.0.0.1:1".into();
        config.microsoft.graph_endpoint = "http://127.0.0.1:1".into();
        let credentials = Arc::new(MemoryStore::default());
        credentials
            .save(&StoredAccount {
                refresh_token: secrecy::SecretString::from("rt".to_owned()),
                tenant_id: None,
                user_oid: None,
                upn: Some("dana@contoso.com".into()),
                authority: "http://127.0.0.1:1/organizations".into(),
                client_id: "7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b".into(),
                scopes: vec![],
            })
            .unwrap();
        let engine = Arc::new(
            Engine::open_with_credentials(
                crate::EngineSetup {
                    paths: crate::paths::Paths::under(dir.path()),
                    config,
                    clock: clock.clone(),
                    demo: false,
                },
                credentials,
            )
            .unwrap(),
        );
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (now, stop) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let counter = runs.clone();
        let task = tokio::spawn(run(
            engine,
            clock,
            now.clone(),
            stop.clone(),
            || {},
            move |_| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "synced at start"
        );
        // Failing: retries after the first backoff, not before.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        now.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "Sync now"
        );
        stop.notify_one();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn signed_out_the_loop_waits_for_a_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(crate::FixedClock::new(
            "2026-11-24T08:00:00Z".parse().unwrap(),
        ));
        let engine = Arc::new(
            Engine::open_with_credentials(
                crate::EngineSetup {
                    paths: crate::paths::Paths::under(dir.path()),
                    config: crate::config::Config::default(),
                    clock: clock.clone(),
                    demo: false,
                },
                Arc::new(crate::auth::MemoryStore::default()),
            )
            .unwrap(),
        );
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (now, stop) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let counter = runs.clone();
        let task = tokio::spawn(run(
            engine,
            clock,
            now,
            stop.clone(),
            move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
            |_| {},
        ));
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 0);
        stop.notify_one();
        task.await.unwrap();
    }
}
