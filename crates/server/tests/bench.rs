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
//!
//! Knobs (issue 21, peak shaping): BENCH_WORKERS=3, BENCH_USERS up to 10,000,
//! BENCH_MEETINGS=3000; BENCH_LEAD_SECS (30) how long before the start the meetings are
//! added; BENCH_BATCH=0 sends each presence call alone (default: `$batch`),
//! BENCH_CONCURRENT_BATCHES (4) and BENCH_CONCURRENT_MAILBOXES (64) per worker;
//! BENCH_NOTIFICATIONS=1 syncs by change notifications (each worker's webhook on loopback,
//! BENCH_NOTIFICATION_DELAY_MS (1000) from a change to its notification, a safety poll every
//! BENCH_SAFETY_POLL_SECS (900)) instead of polling every 10 s; BENCH_LOG_DIR=DIR keeps each
//! worker's log (info) in DIR/w{N}.log;
//! BENCH_KILL_AT_PEAK=1 kills the first worker with SIGKILL at the start instant (then the
//! takeover time, and every user still switched exactly once; the steady state and the
//! later failover are skipped); BENCH_STEADY_SECS=0 skips the steady state. The Graph
//! requests of the peak are counted at the emulator: `$batch` requests and the requests
//! inside them, presence requests sent alone.
//!
//! ```sh
//! BENCH_USERS=10000 BENCH_WORKERS=3 BENCH_MEETINGS=3000 BENCH_KILL_AT_PEAK=1 cargo test --release -p presently-server --test bench -- --ignored --nocapture
//! ```

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
    let lead_secs = env_or("BENCH_LEAD_SECS", 30) as i64;
    let batch = env_or("BENCH_BATCH", 1) != 0;
    let concurrent_batches = env_or("BENCH_CONCURRENT_BATCHES", 4);
    let concurrent_mailboxes = env_or("BENCH_CONCURRENT_MAILBOXES", 64);
    let kill_at_peak = env_or("BENCH_KILL_AT_PEAK", 0) != 0 && workers_n >= 2;
    // Change notifications: each worker serves the webhook on a port of its own and Graph
    // posts there (after BENCH_NOTIFICATION_DELAY_MS, 1000); the interval poll becomes the
    // safety poll (BENCH_SAFETY_POLL_SECS, 900).
    let notifications = env_or("BENCH_NOTIFICATIONS", 0) != 0;
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], users_n).await;
    f.control
        .set_notification_delay(Duration::from_millis(
            env_or("BENCH_NOTIFICATION_DELAY_MS", 1000) as u64,
        ));
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
                "\n[policy]\nfile = \"{}\"\n\n[presence]\ncheck_interval_secs = 15\n\
                 batch = {batch}\nconcurrent_batches = {concurrent_batches}\n\
                 concurrent_mailboxes = {concurrent_mailboxes}\n",
                policy.display()
            )
            + &if notifications {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                format!(
                    "\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[notifications]\n\
                     public_url = \"http://127.0.0.1:{port}/notifications\"\nsafety_poll_secs = {}\n",
                    env_or("BENCH_SAFETY_POLL_SECS", 900)
                )
            } else {
                String::new()
            };
        let path = f.dir.path().join(format!("{id}.toml"));
        std::fs::write(&path, text).unwrap();
        // BENCH_LOG_DIR: each worker logs at info into w{N}.log there.
        workers.push(match std::env::var_os("BENCH_LOG_DIR") {
            Some(dir) => ServerProcess::serve_logging(
                &path,
                &std::path::Path::new(&dir).join(format!("{id}.log")),
            ),
            None => ServerProcess::serve(&path),
        });
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
    if notifications {
        // Every mailbox subscribed before the meetings are added.
        loop {
            let n = store.subscriptions().await.unwrap().len();
            if n >= users_n {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "{n} of {users_n} subscribed"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "all {users_n} mailboxes subscribed {:.1} s after the start",
            started.elapsed().as_secs_f64()
        );
    }
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
    let start = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0)
        + chrono::Duration::seconds(lead_secs);
    let log_from = f.control.request_log().len();
    let batches_from = f.control.batch_requests();
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    // The users in a meeting, spread over the directory (every k-th user) rather than its
    // first ones: the workers hold contiguous runs of mailboxes, so the first 3,000 users
    // sat nearly all with one worker and that worker alone made the peak's switches. An
    // organization's 09:00 meetings do not follow the order of the leases.
    let stride = (users_n / meetings_n.max(1)).max(1);
    let meeting_users: Vec<&String> = f.users.iter().step_by(stride).take(meetings_n).collect();
    let meetings_n = meeting_users.len();
    for user in meeting_users.iter().copied() {
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
    let mut killed_at_peak = None;
    let mut victim_held: Vec<String> = Vec::new();
    loop {
        if kill_at_peak && killed_at_peak.is_none() && chrono::Utc::now() >= start {
            victim_held = store
                .mailboxes()
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.owner.as_deref() == Some("w0"))
                .map(|m| m.id)
                .collect();
            workers[0].kill();
            killed_at_peak = Some(Instant::now());
            println!(
                "kill -9 of w0 at the start instant (+{} ms), holding {} mailboxes",
                (chrono::Utc::now() - start).num_milliseconds(),
                victim_held.len()
            );
        }
        let per_user = switches();
        let n = meeting_users
            .iter()
            .filter(|u| per_user.contains_key(u.as_str()))
            .count();
        if n >= meetings_n {
            break;
        }
        if chrono::Utc::now() >= start + chrono::Duration::seconds(180) {
            let mailboxes = store.mailboxes().await.unwrap();
            for user in meeting_users.iter().copied() {
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
            chrono::Utc::now() < start + chrono::Duration::seconds(180),
            "{n} of {meetings_n} switched"
        );
        tokio::time::sleep(Duration::from_millis(if kill_at_peak { 20 } else { 200 })).await;
    }
    let all_switched = chrono::Utc::now();
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
    // The Graph requests of the peak, counted at the emulator: from the meetings' creation
    // to the last switch.
    {
        let log = f.control.request_log();
        let window: Vec<_> = log[log_from..]
            .iter()
            .filter(|r| r.at <= all_switched)
            .collect();
        let (b1, i1) = f.control.batch_requests();
        let count = |f: &dyn Fn(&str) -> bool| window.iter().filter(|r| f(&r.path)).count();
        println!(
            "peak requests (meetings added {lead_secs} s ahead → last switch): $batch {} carrying {} requests; \
             presence requests alone {}; calendarView/delta {}; throttled (429) answers {}; all {}",
            b1 - batches_from.0,
            i1 - batches_from.1,
            count(&|p| p.contains("/presence")),
            count(&|p| p.contains("/calendarView/delta")),
            window.iter().filter(|r| r.status == 429).count(),
            window.len(),
        );
    }
    if let Some(killed) = killed_at_peak {
        // The victim's mailboxes: latency of their switches apart, the takeover time, and
        // nothing switched twice (checked above: each user exactly once).
        let others: Vec<i64> = {
            let mut v: Vec<i64> = set_calls()
                .iter()
                .filter(|c| !victim_held.contains(c.user.as_ref().unwrap()))
                .map(|c| (c.at - start).num_milliseconds())
                .collect();
            v.sort();
            v
        };
        if !others.is_empty() {
            println!(
                "users of the surviving workers ({}): p50 {} ms, p99 {} ms, max {} ms",
                others.len(),
                percentile(&others, 0.5),
                percentile(&others, 0.99),
                others.last().unwrap()
            );
        }
        loop {
            let mailboxes = store.mailboxes().await.unwrap();
            let moved = mailboxes
                .iter()
                .filter(|m| victim_held.contains(&m.id))
                .filter(|m| m.owner.as_deref().is_some_and(|o| o != "w0"))
                .count();
            if moved == victim_held.len() {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(300),
                "{moved} taken over"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let took = killed.elapsed();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let per_user = switches();
        let doubled = twice(&per_user);
        let missed = meeting_users
            .iter()
            .filter(|u| !per_user.contains_key(u.as_str()))
            .count();
        assert!(doubled.is_empty(), "switched twice: {doubled:?}");
        println!(
            "kill -9 at the peak: all {} mailboxes of w0 held by the others {:.1} s after the kill (lease_secs = 30); \
             {meetings_n} users switched, missed {missed}, twice {}",
            victim_held.len(),
            took.as_secs_f64(),
            doubled.len()
        );
        return;
    }

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
    if steady_secs == 0 {
        return;
    }
    let from = f.control.request_log().len();
    let steady_batches = f.control.batch_requests();
    let steady_batched_delta = f.control.batched_delta_requests();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(steady_secs as u64)).await;
    let secs = t0.elapsed().as_secs_f64();
    let log = f.control.request_log();
    let window = &log[from..];
    let count = |f: &dyn Fn(&str) -> bool| window.iter().filter(|r| f(&r.path)).count();
    let delta_alone = count(&|p| p.contains("/calendarView/delta"));
    let delta_batched = (f.control.batched_delta_requests() - steady_batched_delta) as usize;
    let delta = delta_alone + delta_batched;
    let batches = count(&|p| p.ends_with("/$batch"));
    let inner = (f.control.batch_requests().1 - steady_batches.1) as usize - delta_batched;
    // Presence calls alone, or inside `$batch` requests (the rest of those: delta polls
    // and presence calls are all the server batches).
    let presence = count(&|p| p.contains("/presence")) + inner;
    let tokens = count(&|p| p.contains("/oauth2/"));
    let other = window.len() - delta_alone - count(&|p| p.contains("/presence")) - batches - tokens;
    let per_hour = |n: usize, mailboxes: usize| n as f64 / mailboxes as f64 / secs * 3600.0;
    println!(
        "steady state over {secs:.0} s ({users_n} mailboxes, {}, {meetings_n} of them in a meeting): \
         {} requests: calendarView/delta {delta} ({delta_batched} of them inside $batch) = {:.0} per mailbox per hour; \
         presence calls {presence} ({inner} of them inside $batch) = {:.0} per mailbox in a meeting per hour; {batches} $batch requests; \
         token {tokens}; other {other}; all Graph requests {:.0} per mailbox per hour ($batch counted as one)",
        if notifications {
            "change notifications, safety poll"
        } else {
            "polling, interval_secs = 10"
        },
        window.len(),
        per_hour(delta, users_n),
        per_hour(presence, meetings_n),
        per_hour(window.len() - tokens, users_n),
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
