//! The sync loop: runs [`Engine::sync`] on the cadence `crate::sync::cadence` decides
//! (start, jittered interval, backoff while failing, wake from sleep, on demand). The
//! decisions stay pure in `sync::cadence`; this loop only sleeps and calls the engine.

use crate::clock::Clock;
use crate::engine::{Engine, SyncOptions, SyncReport};
use crate::error::Error;
use crate::sync::cadence::{next_delay, woke_or_jumped, MAX_SLEEP};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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
