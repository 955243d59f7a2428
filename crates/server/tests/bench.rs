//! Server mode figures (ignored by default; BENCHMARKS.md, "Server mode"): `presently-server`
//! processes against a throwaway PostgreSQL and the emulator on loopback.
//!
//! ```sh
//! BENCH_USERS=1000 BENCH_WORKERS=1 cargo test --release -p presently-server --test bench -- --ignored --nocapture
//! ```
//!
//! Prints the initial sync time of BENCH_USERS mailboxes on BENCH_WORKERS workers, the
//! workers' resident memory per mailbox, and, with BENCH_MEETINGS meetings (300) starting in
//! the same second, the latency from the start to each `setPresence` reaching the emulator
//! (p50, p99, max).

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use common::*;
use presently_engine::SystemClock;
use presently_server::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn server_mode_figures() {
    let users_n = env_or("BENCH_USERS", 1000);
    let workers_n = env_or("BENCH_WORKERS", 1);
    let meetings_n = env_or("BENCH_MEETINGS", 300).min(users_n);
    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path(), "app");
    let pg = Postgres::start();
    let emu = emulator().await;
    let control = emu.control();
    control
        .register_confidential_app(
            CLIENT_ID,
            Some(&cert.cert_pem),
            &[],
            &["Calendars.Read", "Presence.ReadWrite.All"],
        )
        .unwrap();
    let users: Vec<String> = control
        .add_users(users_n)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Everyone\"\ndefault = true\nautomation = \"server\"\n",
    )
    .unwrap();
    let store = Store::connect(&pg.url, None, Arc::new(SystemClock))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut workers = Vec::new();
    let started = Instant::now();
    for w in 0..workers_n {
        let id = format!("w{w}");
        let text = config_text(&pg.url, &emu, &cert, &users, &id, 30)
            .replace("interval_secs = 1\n", "interval_secs = 10\n")
            .replace("page_size = 25\n", "page_size = 100\n")
            .replace(
                "[leases]\n",
                &format!("[leases]\nmax_mailboxes = {users_n}\n"),
            )
            + &format!(
                "\n[policy]\nfile = \"{}\"\n\n[presence]\ncheck_interval_secs = 15\n",
                policy.display()
            );
        let path = dir.path().join(format!("{id}.toml"));
        std::fs::write(&path, text).unwrap();
        workers.push(ServerProcess::serve(&path));
    }
    // The initial sync: every mailbox has completed a round.
    loop {
        let mailboxes = store.mailboxes().await.unwrap();
        let synced = mailboxes
            .iter()
            .filter(|m| m.last_synced_at.is_some())
            .count();
        if synced == users_n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "{synced} of {users_n} synced"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let initial = started.elapsed();
    let appointments: i64 = store
        .mailboxes()
        .await
        .unwrap()
        .iter()
        .map(|m| m.appointments)
        .sum();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss: Vec<u64> = workers.iter().map(|w| rss_kib(w.0.id())).collect();
    let total: u64 = rss.iter().sum();
    println!(
        "users {users_n}, workers {workers_n}: initial sync {:.1} s ({appointments} appointments); RSS {rss:?} KiB, {:.1} KiB per mailbox",
        initial.as_secs_f64(),
        total as f64 / users_n as f64
    );

    // `meetings_n` meetings starting in the same second.
    let start =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0) + chrono::Duration::seconds(30);
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    for user in users.iter().take(meetings_n) {
        control
            .add_user_event(
                user,
                serde_json::json!({
                    "subject": "All hands", "showAs": "busy",
                    "start": {"dateTime": at(start), "timeZone": "UTC"},
                    "end": {"dateTime": at(start + chrono::Duration::minutes(30)), "timeZone": "UTC"},
                }),
            )
            .unwrap();
    }
    let set_calls = || {
        control
            .presence_calls()
            .into_iter()
            .filter(|c| c.kind == "setPresence" && c.status < 300)
            .collect::<Vec<_>>()
    };
    loop {
        let n = set_calls().len();
        if n >= meetings_n {
            break;
        }
        if chrono::Utc::now() >= start + chrono::Duration::seconds(120) {
            let switched: std::collections::HashSet<String> =
                set_calls().into_iter().filter_map(|c| c.user).collect();
            let mailboxes = store.mailboxes().await.unwrap();
            for user in users.iter().take(meetings_n) {
                if !switched.contains(user) {
                    let m = mailboxes.iter().find(|m| &m.id == user);
                    let history = store.presence_history(user).await.unwrap();
                    let calls: Vec<_> = control
                        .presence_calls()
                        .into_iter()
                        .filter(|c| c.user.as_deref() == Some(user.as_str()))
                        .map(|c| (c.kind, c.status))
                        .collect();
                    println!("not switched: {user}: {m:?}; history {history:?}; calls {calls:?}");
                }
            }
        }
        assert!(
            chrono::Utc::now() < start + chrono::Duration::seconds(120),
            "{n} of {meetings_n} switched"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut latencies: Vec<i64> = set_calls()
        .iter()
        .map(|c| (c.at - start).num_milliseconds())
        .collect();
    latencies.sort();
    let rss: Vec<u64> = workers.iter().map(|w| rss_kib(w.0.id())).collect();
    println!(
        "{meetings_n} meetings at one second: start to setPresence p50 {} ms, p99 {} ms, max {} ms, min {} ms; RSS then {rss:?} KiB",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        latencies[0],
    );
    assert!(latencies[0] >= -1000, "not before the start");
}
