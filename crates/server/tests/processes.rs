//! `presently-server` as processes: `check`, and two `serve` workers of which one is killed
//! with SIGKILL while the other takes its mailboxes over.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use common::*;
use presently_engine::SystemClock;
use presently_server::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `check` reads the config and the key, gets a token and reaches the database; each
/// broken piece is named.
#[tokio::test(flavor = "multi_thread")]
async fn check_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path(), "app");
    let other = make_certificate(dir.path(), "other");
    let pg = Postgres::start();
    let emu = emulator().await;
    emu.control()
        .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], &["Calendars.Read"])
        .unwrap();
    let config = dir.path().join("server.toml");

    let users: Vec<String> = emu
        .control()
        .add_users(1)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    std::fs::write(&config, config_text(&pg.url, &emu, &cert, &users, "w", 60)).unwrap();
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("token: issued"), "{out}");
    assert!(
        out.contains(&format!("calendars: {}'s is readable", users[0])),
        "{out}"
    );
    assert!(
        out.contains("database: reachable (not encrypted), schema version 5"),
        "{out}"
    );
    assert!(!out.contains("PRIVATE KEY") && !err.contains("PRIVATE KEY"));
    assert!(
        out.contains("presence: no user's group has the server automate it"),
        "{out}"
    );

    // The server automates presence: the permission it needs is checked, and named.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Everyone\"\ndefault = true\nautomation = \"server\"\n",
    )
    .unwrap();
    let with_policy = format!(
        "{}\n[policy]\nfile = \"{}\"\n",
        config_text(&pg.url, &emu, &cert, &users, "w", 60),
        policy.display()
    );
    std::fs::write(&config, &with_policy).unwrap();
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok, "no presence permission yet");
    assert!(
        err.contains("403") && err.contains("Presence.ReadWrite.All"),
        "{err}"
    );
    emu.control()
        .register_confidential_app(
            CLIENT_ID,
            Some(&cert.cert_pem),
            &[],
            &["Calendars.Read", "Presence.ReadWrite.All"],
        )
        .unwrap();
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "presence: automated for 1 users; {}'s can be read",
            users[0]
        )),
        "{out}"
    );

    std::fs::write(&config, config_text(&pg.url, &emu, &other, &[], "w", 60)).unwrap();
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok);
    assert!(err.contains("AADSTS700027"), "{err}");

    // Consent withdrawn: the permission is named.
    std::fs::write(&config, config_text(&pg.url, &emu, &cert, &users, "w", 60)).unwrap();
    emu.control()
        .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], &[])
        .unwrap();
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok);
    assert!(
        err.contains("403") && err.contains("Calendars.Read"),
        "{err}"
    );
    emu.control()
        .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], &["Calendars.Read"])
        .unwrap();

    set_mode(&cert.key_path, 0o640);
    std::fs::write(&config, config_text(&pg.url, &emu, &cert, &[], "w", 60)).unwrap();
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok);
    assert!(
        err.contains("mode 0640") && err.contains("chmod 600"),
        "{err}"
    );
    set_mode(&cert.key_path, 0o600);

    let dead = "postgresql://presently@127.0.0.1:1/presently";
    std::fs::write(&config, config_text(dead, &emu, &cert, &[], "w", 60)).unwrap();
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok);
    assert!(
        err.contains("127.0.0.1:1/presently could not be reached"),
        "{err}"
    );

    std::fs::write(&config, "[database]\nurl = \"x\"\n[identity]\n").unwrap();
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok);
    assert!(err.contains("server.toml is invalid"), "{err}");
}

async fn owners(store: &Store) -> Vec<Option<String>> {
    store
        .mailboxes()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.owner)
        .collect()
}

async fn wait_for(
    store: &Store,
    within: Duration,
    what: &str,
    done: impl Fn(&[presently_server::store::MailboxStatus]) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let mailboxes = store.mailboxes().await.unwrap();
        if done(&mailboxes) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: not within {within:?}: {mailboxes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two workers; the one holding every mailbox is killed with SIGKILL; the other holds and
/// syncs them all within the lease time (plus one lease pass).
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_is_taken_over_within_the_lease_time() {
    const LEASE_SECS: u64 = 3;
    let f = Fixture::new(&["Calendars.Read"], 4).await;
    let config_a = f.dir.path().join("a.toml");
    let config_b = f.dir.path().join("b.toml");
    std::fs::write(
        &config_a,
        config_text(&f.pg.url, &f.emu, &f.cert, &f.users, "a", LEASE_SECS),
    )
    .unwrap();
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &config_b,
        config_text(&f.pg.url, &f.emu, &f.cert, &f.users, "b", LEASE_SECS)
            + &format!("\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n"),
    )
    .unwrap();
    let store = Store::connect(&f.pg.url, None, Arc::new(SystemClock))
        .await
        .unwrap();

    let mut a = ServerProcess::serve(&config_a);
    store.migrate().await.unwrap();
    wait_for(
        &store,
        Duration::from_secs(30),
        "a holds and synced all",
        |m| {
            m.len() == f.users.len()
                && m.iter()
                    .all(|m| m.owner.as_deref() == Some("a") && m.last_synced_at.is_some())
        },
    )
    .await;
    let b = ServerProcess::serve(&config_b);
    // a sees a second worker and gives half back; b takes it.
    let split = wait_for(&store, Duration::from_secs(20), "a and b share", |m| {
        let held_by = |w: &str| m.iter().filter(|m| m.owner.as_deref() == Some(w)).count();
        held_by("a") == f.users.len() / 2 && held_by("b") == f.users.len() / 2
    })
    .await;
    eprintln!("shared between a and b {split:?} after b started");
    assert!(owners(&store).await.iter().all(|o| o.is_some()));

    a.kill();
    let before_kill = chrono::Utc::now();
    let took = wait_for(&store, Duration::from_secs(20), "b takes over", |m| {
        m.iter().all(|m| {
            m.owner.as_deref() == Some("b") && m.last_synced_at.is_some_and(|t| t > before_kill)
        })
    })
    .await;
    let limit = Duration::from_secs(LEASE_SECS)
        + Duration::from_secs(LEASE_SECS) / 3
        + Duration::from_secs(2);
    eprintln!("takeover and first sync by b: {took:?} after the kill (lease {LEASE_SECS} s)");
    assert!(took <= limit, "took {took:?}, more than {limit:?}");
    for m in store.mailboxes().await.unwrap() {
        // Each mailbox was claimed twice: by a, then by b (the half a gave back, and the
        // half b took over after the kill).
        assert_eq!(m.fencing_token, 2, "claimed by a, then by b: {m:?}");
        assert!(m.appointments > 5);
    }

    // Health and metrics of b.
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("http://127.0.0.1:{http_port}{path}");
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "presently_server_mailboxes_owned {}",
            f.users.len()
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("presently_server_rounds_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("presently_server_sync_lag_seconds"),
        "{metrics}"
    );

    // The read-only surfaces, while b serves.
    let (ok, out, err) = run_cli(&config_b, &["status"]);
    assert!(ok, "{err}");
    for user in &f.users {
        let line = out.lines().find(|l| l.starts_with(user.as_str())).unwrap();
        assert!(line.contains(" b "), "{line}");
    }
    let (ok, out, err) = run_cli(&config_b, &["plan", "--user", &f.users[0]]);
    assert!(ok, "{err}");
    assert!(out.contains("lease: b (fencing token 2"), "{out}");
    assert!(out.contains("next round: Incremental"), "{out}");
    assert!(
        out.contains(&format!(
            "first request: /v1.0/users/{}/calendarView/delta",
            f.users[0]
        )),
        "{out}"
    );
    let (ok, out, err) = run_cli(&config_b, &["history", "--user", &f.users[0]]);
    assert!(ok, "{err}");
    assert!(
        out.contains("\tfull\t") && out.contains("worker=a\ttoken=1"),
        "{out}"
    );
    assert!(out.contains("worker=b\ttoken=2"), "{out}");
    let (ok, out, err) = run_cli(&config_b, &["users"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.matches("in the database").count(),
        f.users.len(),
        "{out}"
    );
    drop(b);
}

/// SIGTERM: the worker stops its rounds, releases its leases and exits 0, so another worker
/// needs no lease time to take over.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_releases_the_leases() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    let config = f.dir.path().join("a.toml");
    std::fs::write(
        &config,
        config_text(&f.pg.url, &f.emu, &f.cert, &f.users, "a", 600),
    )
    .unwrap();
    let store = Store::connect(&f.pg.url, None, Arc::new(SystemClock))
        .await
        .unwrap();
    let mut a = ServerProcess::serve(&config);
    store.migrate().await.unwrap();
    wait_for(&store, Duration::from_secs(30), "a holds all", |m| {
        m.len() == f.users.len() && m.iter().all(|m| m.owner.as_deref() == Some("a"))
    })
    .await;
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(a.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = a.0.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert!(owners(&store).await.iter().all(|o| o.is_none()), "released");
}

/// Presence automation across a SIGKILL: the worker that switched a user's presence is
/// killed mid-meeting; the other takes the mailbox over within the lease time, loads the
/// journal, and gives the presence back at the meeting's end, once. Nothing is applied
/// twice (the emulator counts the calls).
#[tokio::test(flavor = "multi_thread")]
async fn the_holder_killed_mid_meeting_the_other_restores_the_presence_once() {
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], 1).await;
    let user = f.users[0].clone();
    // Whole seconds: the event's times are written so.
    let start =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0) + chrono::Duration::seconds(8);
    let end = start + chrono::Duration::seconds(25);
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    f.control
        .add_user_event(
            &user,
            serde_json::json!({
                "subject": "Stand-up", "showAs": "busy",
                "start": {"dateTime": at(start), "timeZone": "UTC"},
                "end": {"dateTime": at(end), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    let policy = f.dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Everyone\"\ndefault = true\nautomation = \"server\"\n",
    )
    .unwrap();
    let extra = format!(
        "\n[policy]\nfile = \"{}\"\n\n[presence]\ncheck_interval_secs = 1\n",
        policy.display()
    );
    let lease_secs = 3;
    let config = |id: &str| {
        let path = f.dir.path().join(format!("{id}.toml"));
        let text = config_text(&f.pg.url, &f.emu, &f.cert, &f.users, id, lease_secs) + &extra;
        std::fs::write(&path, text).unwrap();
        path
    };
    let (config_a, config_b) = (config("a"), config("b"));
    let store = Store::connect(&f.pg.url, None, Arc::new(SystemClock))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let calls = |kind: &str| {
        f.control
            .presence_calls()
            .iter()
            .filter(|c| {
                c.kind == kind && c.user.as_deref() == Some(user.as_str()) && c.status < 300
            })
            .count()
    };

    let mut a = ServerProcess::serve(&config_a);
    wait_for(&store, Duration::from_secs(20), "a claims the user", |m| {
        m.len() == 1 && m[0].owner.as_deref() == Some("a")
    })
    .await;
    let _b = ServerProcess::serve(&config_b);
    let started = Instant::now();
    while calls("setPresence") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a never switched the presence: {:?}",
            f.control.presence_calls()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied_late = chrono::Utc::now() - start;
    assert_eq!(
        f.control.tenant_presence(&user)["availability"],
        "Busy",
        "a switched it"
    );
    a.kill();
    let took = wait_for(&store, Duration::from_secs(15), "b takes over", |m| {
        m[0].owner.as_deref() == Some("b")
    })
    .await;
    println!(
        "setPresence {} ms after the start; b took over {} ms after the kill (lease {lease_secs} s)",
        applied_late.num_milliseconds(),
        took.as_millis()
    );
    assert!(took <= Duration::from_secs(lease_secs + 2), "{took:?}");
    assert!(
        chrono::Utc::now() < end,
        "the takeover happened mid-meeting"
    );
    while calls("clearPresence") == 0 {
        assert!(
            chrono::Utc::now() < end + chrono::Duration::seconds(15),
            "b never gave the presence back: {:?}",
            f.control.presence_calls()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(chrono::Utc::now() >= end, "not before the meeting's end");
    // A little longer: nothing more comes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls("setPresence"), 1, "nothing applied twice");
    assert_eq!(calls("clearPresence"), 1, "restored exactly once");
    assert_eq!(
        f.control.tenant_presence(&user)["availability"],
        "Available"
    );
    let history = store.presence_history(&user).await.unwrap();
    assert!(
        history.iter().any(|h| h.0 == "applied" && h.2 == "a")
            && history.iter().any(|h| h.0 == "restored" && h.2 == "b"),
        "{history:?}"
    );
}

/// SIGHUP reads the policy file again: a user whose group now has the server automate
/// presence is switched in the meeting under way; a broken file is logged as an error and
/// the policy in force stays (the process goes on, automation holds).
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_policy_and_a_broken_file_keeps_the_old_one() {
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], 1).await;
    let user = f.users[0].clone();
    let start = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let end = start + chrono::Duration::seconds(120);
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    f.control
        .add_user_event(
            &user,
            serde_json::json!({
                "subject": "Planning", "showAs": "busy",
                "start": {"dateTime": at(start), "timeZone": "UTC"},
                "end": {"dateTime": at(end), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    // The clients automate everyone at first.
    let policy = f.dir.path().join("policy.toml");
    std::fs::write(&policy, "[[groups]]\nname = \"Everyone\"\ndefault = true\n").unwrap();
    let config = f.dir.path().join("a.toml");
    std::fs::write(
        &config,
        config_text(&f.pg.url, &f.emu, &f.cert, &f.users, "a", 30)
            + &format!(
                "\n[policy]\nfile = \"{}\"\n\n[presence]\ncheck_interval_secs = 1\n",
                policy.display()
            ),
    )
    .unwrap();
    let store = Store::connect(&f.pg.url, None, Arc::new(SystemClock))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let log = f.dir.path().join("a.log");
    let mut a = ServerProcess::serve_logging(&config, &log);
    wait_for(&store, Duration::from_secs(20), "a syncs the user", |m| {
        m.len() == 1 && m[0].owner.as_deref() == Some("a") && m[0].appointments > 0
    })
    .await;
    let set_presence = || {
        f.control
            .presence_calls()
            .iter()
            .filter(|c| {
                c.kind == "setPresence"
                    && c.user.as_deref() == Some(user.as_str())
                    && c.status < 300
            })
            .count()
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(set_presence(), 0, "the clients' group: not automated");

    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Everyone\"\ndefault = true\nautomation = \"server\"\n",
    )
    .unwrap();
    a.signal("HUP");
    let started = Instant::now();
    while set_presence() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the new policy was not applied: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(f.control.tenant_presence(&user)["availability"], "Busy");

    // A broken file: an error in the log, the policy in force stays.
    std::fs::write(&policy, "[[groups]]\nname = 5\n").unwrap();
    a.signal("HUP");
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("the policy file cannot be used; the policy in force stays") {
            assert!(text.contains("ERROR"), "{text}");
            assert!(text.contains("policy.toml"), "{text}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no error logged: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(a.running(), "a broken policy does not end serve");
    assert_eq!(
        f.control.tenant_presence(&user)["availability"],
        "Busy",
        "still automated under the policy in force"
    );
    let cleared = f
        .control
        .presence_calls()
        .iter()
        .filter(|c| c.kind == "clearPresence" && c.user.as_deref() == Some(user.as_str()))
        .count();
    assert_eq!(cleared, 0, "nothing given back: the old policy holds");
}
