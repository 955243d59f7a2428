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
//! (p50, p99, max); it fails unless every one of them is switched exactly once. Then, once
//! the mailboxes are evenly held, the Graph requests of a steady state without changes over
//! BENCH_STEADY_SECS (60), per mailbox and extrapolated per hour; and with two workers or
//! more, the failover: the first worker killed with SIGKILL, the time until the others hold
//! every mailbox it held (no switch applied again meanwhile).

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
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], users_n).await;
    let policy = f.dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Everyone\"\ndefault = true\nautomation = \"server\"\n",
    )
    .unwrap();
    let store = Store::connect(&f.pg.url, None, Arc::new(SystemClock))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut workers = Vec::new();
    let started = Instant::now();
    for w in 0..workers_n {
        let id = format!("w{w}");
        let text = config_text(&f.pg.url, &f.emu, &f.cert, &f.users, &id, 30)
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
        let path = f.dir.path().join(format!("{id}.toml"));
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
    for user in f.users.iter().take(meetings_n) {
        f.control
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
        f.control
            .presence_calls()
            .into_iter()
            .filter(|c| c.kind == "setPresence" && c.status < 300)
            .collect::<Vec<_>>()
    };
    // Successful `setPresence` calls per user: every meeting's user exactly once.
    let switches = || {
        let mut per_user = std::collections::HashMap::<String, usize>::new();
        for c in set_calls() {
            *per_user.entry(c.user.unwrap_or_default()).or_default() += 1;
        }
        per_user
    };
    loop {
        let per_user = switches();
        let n = f
            .users
            .iter()
            .take(meetings_n)
            .filter(|u| per_user.contains_key(*u))
            .count();
        if n >= meetings_n {
            break;
        }
        if chrono::Utc::now() >= start + chrono::Duration::seconds(120) {
            let mailboxes = store.mailboxes().await.unwrap();
            for user in f.users.iter().take(meetings_n) {
                if !per_user.contains_key(user) {
                    let m = mailboxes.iter().find(|m| &m.id == user);
                    let history = store.presence_history(user).await.unwrap();
                    let calls: Vec<_> = f
                        .control
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
    let twice = |per_user: &std::collections::HashMap<String, usize>| {
        per_user
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(u, n)| format!("{u} ({n})"))
            .collect::<Vec<_>>()
    };
    let doubled = twice(&switches());
    assert!(doubled.is_empty(), "switched more than once: {doubled:?}");
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

    // The steady state: every mailbox held, evenly, and no calendar changing.
    let share = users_n.div_ceil(workers_n);
    let balanced = Instant::now();
    loop {
        let mailboxes = store.mailboxes().await.unwrap();
        let mut held = std::collections::HashMap::<String, usize>::new();
        for m in &mailboxes {
            if let Some(owner) = &m.owner {
                *held.entry(owner.clone()).or_default() += 1;
            }
        }
        if held.len() == workers_n && held.values().all(|n| *n <= share) {
            let total: usize = held.values().sum();
            if total == users_n {
                break;
            }
        }
        assert!(
            balanced.elapsed() < Duration::from_secs(180),
            "not balanced: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let steady_secs = env_or("BENCH_STEADY_SECS", 60);
    let from = f.control.request_log().len();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(steady_secs as u64)).await;
    let secs = t0.elapsed().as_secs_f64();
    let log = f.control.request_log();
    let window = &log[from..];
    let count = |f: &dyn Fn(&str) -> bool| window.iter().filter(|r| f(&r.path)).count();
    let delta = count(&|p| p.contains("/calendarView/delta"));
    let presence = count(&|p| p.contains("/presence"));
    let tokens = count(&|p| p.contains("/oauth2/"));
    let other = window.len() - delta - presence - tokens;
    let per_hour = |n: usize, mailboxes: usize| n as f64 / mailboxes as f64 / secs * 3600.0;
    println!(
        "steady state over {secs:.0} s ({users_n} mailboxes, interval_secs = 10, {meetings_n} of them in a meeting): \
         {} requests: calendarView/delta {delta} = {:.0} per mailbox per hour; \
         presence {presence} = {:.0} per mailbox in a meeting per hour; token {tokens}; other {other}; \
         all Graph requests {:.0} per mailbox per hour",
        window.len(),
        per_hour(delta, users_n),
        per_hour(presence, meetings_n),
        per_hour(delta + presence + other, users_n),
    );

    // Failover: the first worker is killed; the others take over what it held.
    if workers_n >= 2 {
        let victim = "w0";
        let held: Vec<String> = store
            .mailboxes()
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.owner.as_deref() == Some(victim))
            .map(|m| m.id)
            .collect();
        let switched_before = set_calls().len();
        let killed = Instant::now();
        workers[0].kill();
        loop {
            let mailboxes = store.mailboxes().await.unwrap();
            let moved = mailboxes
                .iter()
                .filter(|m| held.contains(&m.id))
                .filter(|m| m.owner.as_deref().is_some_and(|o| o != victim))
                .count();
            if moved == held.len() {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(300),
                "{moved} of {} taken over",
                held.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let took = killed.elapsed();
        // The new holders load the journals: what was switched is not switched again.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let doubled = twice(&switches());
        assert!(
            doubled.is_empty(),
            "switched again after the failover: {doubled:?}"
        );
        println!(
            "failover: kill -9 of {victim} holding {} mailboxes; all of them held by the others {:.1} s later (lease_secs = 30); setPresence calls since: {}",
            held.len(),
            took.as_secs_f64(),
            set_calls().len() - switched_before,
        );
    }
}
