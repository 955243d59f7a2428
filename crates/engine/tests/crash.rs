//! Crash safety: a sync process killed with SIGKILL at random moments, over and over while
//! the mailbox changes, loses nothing and duplicates nothing — the store ends equal to the
//! server.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::*;
use presently_emulator::{Fault, PRIMARY_CALENDAR_ID};
use presently_engine::store::Store;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// The child: this same test binary, running only [`sync_child`].
fn child(dir: &std::path::Path, base: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "sync_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("PRESENTLY_CRASH_DIR", dir)
    .env("PRESENTLY_CRASH_BASE", base);
    c
}

/// One sync in its own process (started by the test below, which kills it).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the crash test's child process; runs only when started by it"]
async fn sync_child() {
    use presently_engine::auth::MemoryStore;
    use presently_engine::paths::Paths;
    use presently_engine::{Engine, EngineSetup};
    let (Ok(dir), Ok(base)) = (
        std::env::var("PRESENTLY_CRASH_DIR"),
        std::env::var("PRESENTLY_CRASH_BASE"),
    ) else {
        return;
    };
    let mut config = presently_engine::config::Config::default();
    config.microsoft.client_id = Some(presently_emulator::DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = base.clone();
    config.microsoft.graph_endpoint = base;
    config.sync.window_days_back = 7;
    config.sync.window_days_ahead = 30;
    config.sync.page_size = 5;
    config.sync.write_batch = 10;
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock: clock(),
            demo: false,
        },
        std::sync::Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine
        .sync(presently_engine::engine::SyncOptions::default())
        .await
        .unwrap();
}

fn event(n: usize) -> serde_json::Value {
    let day = 23 + (n % 12);
    let (month, day) = if day > 30 { (12, day - 30) } else { (11, day) };
    json!({
        "subject": format!("Bulk meeting {n}"),
        "start": {"dateTime": format!("2026-{month:02}-{day:02}T{:02}:00:00", 7 + n % 10), "timeZone": "UTC"},
        "end": {"dateTime": format!("2026-{month:02}-{day:02}T{:02}:30:00", 7 + n % 10), "timeZone": "UTC"},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_sync_at_random_moments_loses_and_duplicates_nothing() {
    let emu = demo_emulator().await;
    let control = emu.control();
    let ids = control
        .add_events_bulk((0..200).map(event).collect())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = emu.base_url();

    let mut killed_mid_round = 0;
    let mut delays = Vec::new();
    #[allow(clippy::needless_range_loop)] // `run` also picks the kind of change
    for run in 0..24 {
        // Slow pages make a round last long enough to be interrupted anywhere.
        control.clear_faults();
        control.push_fault(Fault::Slow {
            count: 10_000,
            delay_ms: 20,
        });
        if run % 3 == 0 {
            // A dead delta token: the next round is a full one, staged and swapped in.
            control.push_fault(Fault::ExpireDeltaTokens);
        }
        match run % 4 {
            1 => control
                .update_event(&ids[run], json!({"subject": format!("Renamed {run}")}))
                .unwrap(),
            2 => control.delete_event(&ids[run]).unwrap(),
            3 => {
                control.add_event(event(1000 + run)).unwrap();
            }
            _ => {}
        }
        let delay = rand::random::<u64>() % 1500;
        delays.push(delay);
        let mut process = child(dir.path(), &base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        process.kill().unwrap(); // SIGKILL
        process.wait().unwrap();
        if let Ok(store) = Store::open(&dir.path().join("presently.db")) {
            if store
                .sync_state(PRIMARY_CALENDAR_ID)
                .unwrap()
                .is_some_and(|s| s.next_link.is_some())
            {
                killed_mid_round += 1;
            }
        }
    }
    assert!(
        killed_mid_round >= 3,
        "too few kills landed mid-round ({killed_mid_round}); delays {delays:?}"
    );

    // Let one finish, then compare with the server.
    control.clear_faults();
    let out = child(dir.path(), &base).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = config_for(&emu);
    let expected = truth(&emu, PRIMARY_CALENDAR_ID, window(&config, &clock())).await;
    assert!(expected.len() > 200);
    assert_same(&stored(dir.path(), PRIMARY_CALENDAR_ID), &expected);
}
