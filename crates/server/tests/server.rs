//! Server mode end to end: a real PostgreSQL (a throwaway cluster per test) and the
//! emulator on loopback.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use common::*;
use presently_emulator::Fault;
use presently_engine::{Clock, FixedClock, SystemClock};
use presently_server::store::Store;
use presently_server::ServerError;
use std::sync::Arc;

fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn event(subject: &str) -> serde_json::Value {
    let start = chrono::Utc::now() + chrono::Duration::hours(2);
    let end = start + chrono::Duration::minutes(30);
    serde_json::json!({
        "subject": subject,
        "start": {"dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
        "end": {"dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
    })
}

/// A migrated store holding the fixture's users, and the app's token source: what a test
/// that builds its own `SyncContext` starts from.
async fn store_and_tokens(
    f: &Fixture,
) -> (Arc<Store>, Arc<presently_server::auth::AppTokenSource>) {
    let store = Arc::new(
        Store::connect(&f.pg.url, None, system_clock())
            .await
            .unwrap(),
    );
    store.migrate().await.unwrap();
    store.set_users(&f.users).await.unwrap();
    let tokens = Arc::new(token_source(&f.emu, &f.cert, system_clock()).unwrap());
    (store, tokens)
}

#[tokio::test]
async fn migrations_are_versioned_and_applied_once() {
    let pg = Postgres::start();
    let store = Store::connect(&pg.url, None, system_clock()).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), 5);
    assert_eq!(store.migrate().await.unwrap(), 5);
    // A second worker connecting later finds the schema in place.
    let other = Store::connect(&pg.url, None, system_clock()).await.unwrap();
    assert_eq!(other.migrate().await.unwrap(), 5);
    assert_eq!(store.schema_versions().await.unwrap(), vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    // A port nothing listens on (bound and released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://presently@127.0.0.1:{port}/presently");
    let err = Store::connect(&url, None, system_clock())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "database_unreachable");
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}/presently")),
        "{text}"
    );
    assert!(text.contains("could not be reached"), "{text}");
}

#[tokio::test]
async fn a_certificate_gets_an_app_token_once_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let registered = make_certificate(dir.path(), "registered");
    let other = make_certificate(dir.path(), "other");
    let emu = emulator().await;
    emu.control()
        .register_confidential_app(
            CLIENT_ID,
            Some(&registered.cert_pem),
            &[],
            &["Calendars.Read"],
        )
        .unwrap();

    let tokens = token_source(&emu, &registered, system_clock()).unwrap();
    let first = tokens.token().await.unwrap();
    let second = tokens.token().await.unwrap();
    use secrecy::ExposeSecret as _;
    assert_eq!(
        first.expose_secret(),
        second.expose_secret(),
        "the token is cached"
    );
    let token_requests = emu
        .control()
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(token_requests, 1);

    // A certificate the app registration does not have.
    let err = token_source(&emu, &other, system_clock())
        .unwrap()
        .token()
        .await
        .unwrap_err();
    match &err {
        ServerError::TokenRefused { code, message } => {
            assert_eq!(code, "AADSTS700027");
            assert!(message.contains("not registered"), "{message}");
        }
        e => panic!("expected a refused token, got {e:?}"),
    }
    // The registered certificate named, but the assertion signed with another key.
    let forged = Certificate {
        cert_pem: registered.cert_pem.clone(),
        key_pem: other.key_pem.clone(),
        cert_path: registered.cert_path.clone(),
        key_path: other.key_path.clone(),
    };
    let err = token_source(&emu, &forged, system_clock())
        .unwrap()
        .token()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("AADSTS700027") && err.to_string().contains("signature"),
        "{err}"
    );
}

#[tokio::test]
async fn a_client_secret_file_must_be_private() {
    use presently_server::config::ServerConfig;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cr3t-value\n").unwrap();
    set_mode(&secret, 0o644);
    let emu = emulator().await;
    emu.control()
        .register_confidential_app(CLIENT_ID, None, &["s3cr3t-value"], &["Calendars.Read"])
        .unwrap();
    let text = format!(
        r#"
[database]
url = "postgresql://presently@127.0.0.1:1/presently"
[identity]
tenant = "{tenant}"
client_id = "{CLIENT_ID}"
authority = "{base}"
client_secret_file = "{secret}"
[graph]
endpoint = "{base}"
"#,
        tenant = presently_emulator::DEMO_TENANT_ID,
        base = emu.base_url(),
        secret = secret.display()
    );
    let config = ServerConfig::parse(&text, "server.toml").unwrap();
    let err = presently_server::token_source(&config, system_clock()).unwrap_err();
    assert_eq!(err.code(), "secret_unusable");
    assert!(err.to_string().contains("mode 0644"), "{err}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(
        !err.to_string().contains("s3cr3t"),
        "the secret is never shown"
    );

    set_mode(&secret, 0o600);
    let tokens = presently_server::token_source(&config, system_clock()).unwrap();
    assert!(!format!("{tokens:?}").contains("s3cr3t"));
    tokens.token().await.unwrap();

    // A wrong secret is refused by the identity platform, by its code.
    std::fs::write(&secret, "wrong").unwrap();
    let err = presently_server::token_source(&config, system_clock())
        .unwrap()
        .token()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AADSTS7000215"), "{err}");
}

#[tokio::test]
async fn a_broken_config_names_the_problem() {
    use presently_server::config::ServerConfig;
    let err = ServerConfig::parse("[database]\nurl = 5\n", "server.toml").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("server.toml") && text.contains("line"),
        "{text}"
    );
    let err = ServerConfig::parse(
        "[database]\nurl = \"x\"\n[identity]\ntenant = \"t\"\nclient_id = \"c\"\n",
        "server.toml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs a credential"), "{err}");
    let err = ServerConfig::parse(
        "[database]\nurl = \"x\"\nport = 1\n[identity]\ntenant = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"S\"\n",
        "server.toml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("port"), "{err}");
}

#[tokio::test]
async fn each_users_calendar_is_synced_and_changes_follow_incrementally() {
    let f = Fixture::new(&["Calendars.Read"], 3).await;
    let (mut worker, store, pass) = f.claiming_worker(system_clock(), "w1", 60, 10).await;
    assert_eq!(pass.claimed, f.users);
    let results = worker.sync_due(true).await;
    let mut first_counts = Vec::new();
    for r in &results {
        let outcome = r.as_ref().unwrap();
        assert_eq!(outcome.kind, presently_engine::store::RoundKind::Full);
        assert!(outcome.pages > 1, "page size 10 spans several pages");
    }
    for user in &f.users {
        let stored = store.appointments(user).await.unwrap();
        assert!(stored.len() > 5, "{user}: {} appointments", stored.len());
        let state = store.sync_state(user).await.unwrap().unwrap();
        assert!(state
            .delta_link
            .unwrap()
            .contains(&format!("/users/{user}/")));
        assert!(state.next_link.is_none());
        first_counts.push(stored.len());
    }
    // The users' mailboxes are their own: a meeting added to one reaches only that one.
    f.control
        .add_user_event(&f.users[1], event("Budget review"))
        .unwrap();
    let results = worker.sync_due(true).await;
    for r in &results {
        let outcome = r.as_ref().unwrap();
        assert_eq!(
            outcome.kind,
            presently_engine::store::RoundKind::Incremental
        );
        let expected = usize::from(outcome.mailbox == f.users[1]);
        assert_eq!(outcome.upserted, expected, "{}", outcome.mailbox);
    }
    for (user, before) in f.users.iter().zip(&first_counts) {
        let stored = store.appointments(user).await.unwrap();
        let has = stored.iter().any(|a| a.subject == "Budget review");
        assert_eq!(has, user == &f.users[1]);
        assert_eq!(stored.len(), before + usize::from(user == &f.users[1]));
    }
    let history = store.history(Some(&f.users[1]), 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].round, "incremental");
    assert_eq!(history[1].round, "full");
}

#[tokio::test]
async fn the_sync_state_advances_only_with_the_data() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    let (mut worker, store, _) = f.claiming_worker(system_clock(), "w1", 60, 10).await;

    // The third page of the round fails (500 is not retried): two pages are committed,
    // staged, with the link to the third.
    f.control.push_fault(Fault::FailPage {
        page_index: 2,
        status: 500,
    });
    let results = worker.sync_due(true).await;
    assert!(results[0].is_err());
    let user = &f.users[0];
    let state = store.sync_state(user).await.unwrap().unwrap();
    assert_eq!(state.round, Some(presently_engine::store::RoundKind::Full));
    let next = state.next_link.unwrap();
    assert!(next.contains("skiptoken"), "{next}");
    assert!(state.delta_link.is_none());
    assert!(
        store.appointments(user).await.unwrap().is_empty(),
        "a full round shows nothing until it completes"
    );

    // The next round resumes at the failed page and completes.
    let results = worker.sync_due(true).await;
    let outcome = results[0].as_ref().unwrap();
    assert_eq!(outcome.kind, presently_engine::store::RoundKind::Full);
    let first_request_of_resume = f
        .control
        .request_log()
        .iter()
        .filter(|r| r.path.contains("/calendarView/delta"))
        .nth(3)
        .map(|r| r.query.clone().unwrap_or_default())
        .unwrap();
    assert!(first_request_of_resume.contains("skiptoken"));
    let state = store.sync_state(user).await.unwrap().unwrap();
    assert!(state.delta_link.is_some() && state.next_link.is_none());
    assert!(store.appointments(user).await.unwrap().len() > 5);
}

#[tokio::test]
async fn throttling_is_waited_out_as_graph_asks() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    let (mut worker, _, _) = f.claiming_worker(system_clock(), "w1", 60, 10).await;
    f.control.push_fault(Fault::Throttle {
        count: 1,
        retry_after_secs: 1,
    });
    let started = std::time::Instant::now();
    let results = worker.sync_due(true).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let log = f.control.request_log();
    let graph: Vec<_> = log
        .iter()
        .filter(|r| r.path.contains("/calendarView/delta"))
        .collect();
    assert_eq!(graph[0].status, 429);
    let waited = graph[1].at - graph[0].at;
    assert!(
        waited >= chrono::Duration::milliseconds(990),
        "the retry came {waited} after the 429"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn a_missing_permission_is_named_and_nothing_is_applied() {
    // Consented to nothing.
    let f = Fixture::new(&[], 1).await;
    let (mut worker, store, _) = f.claiming_worker(system_clock(), "w1", 60, 10).await;
    let results = worker.sync_due(true).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.code(), "permission_missing");
    let text = err.to_string();
    assert!(
        text.contains("403") && text.contains("Calendars.Read"),
        "{text}"
    );
    assert!(store.sync_state(&f.users[0]).await.unwrap().is_none());
    assert!(store.appointments(&f.users[0]).await.unwrap().is_empty());
}

#[tokio::test]
async fn two_workers_share_the_mailboxes() {
    let f = Fixture::new(&["Calendars.Read"], 6).await;
    let (mut a, store) = f.worker(system_clock(), "a", 60, 3).await;
    let (mut b, _) = f.worker(system_clock(), "b", 60, 3).await;
    store.set_users(&f.users).await.unwrap();

    let (pa, pb) = tokio::join!(a.maintain_leases(), b.maintain_leases());
    let (pa, pb) = (pa.unwrap(), pb.unwrap());
    assert_eq!(pa.claimed.len(), 3);
    assert_eq!(pb.claimed.len(), 3);
    let mut all: Vec<String> = pa.claimed.iter().chain(&pb.claimed).cloned().collect();
    all.sort();
    assert_eq!(all, f.users, "each mailbox is held by exactly one worker");

    let (ra, rb) = tokio::join!(a.sync_due(true), b.sync_due(true));
    assert!(ra.iter().chain(&rb).all(|r| r.is_ok()));
    for m in store.mailboxes().await.unwrap() {
        assert!(m.appointments > 5, "{m:?}");
        let expected = if pa.claimed.contains(&m.id) { "a" } else { "b" };
        assert_eq!(m.owner.as_deref(), Some(expected));
        assert_eq!(m.fencing_token, 1);
    }
    // A worker at its share claims no more; the other's renewals keep theirs.
    assert!(a.maintain_leases().await.unwrap().claimed.is_empty());
    assert!(b.maintain_leases().await.unwrap().lost.is_empty());
}

#[tokio::test]
async fn a_paused_worker_cannot_write_after_its_lease() {
    let f = Fixture::new(&["Calendars.Read"], 4).await;
    let clock = Arc::new(FixedClock::new(real_now()));
    let (mut a, store) = f.worker(clock.clone(), "a", 30, 10).await;
    let (mut b, _) = f.worker(clock.clone(), "b", 30, 10).await;
    store.set_users(&f.users).await.unwrap();

    assert_eq!(a.maintain_leases().await.unwrap().claimed, f.users);
    assert!(
        b.maintain_leases().await.unwrap().claimed.is_empty(),
        "a holds them all"
    );
    assert!(a.sync_due(true).await.iter().all(|r| r.is_ok()));
    let before: Vec<usize> = {
        let mut v = Vec::new();
        for u in &f.users {
            v.push(store.appointments(u).await.unwrap().len());
        }
        v
    };

    // `a` stalls for longer than its lease (a GC pause, a partition); meanwhile a meeting
    // is added and `b` takes the mailboxes over.
    f.control
        .add_user_event(&f.users[0], event("After the pause"))
        .unwrap();
    clock.advance(chrono::Duration::seconds(31));
    assert_eq!(b.maintain_leases().await.unwrap().claimed, f.users);
    let stale = a.lease(&f.users[0]).unwrap().clone();

    // `a` wakes up and goes on as if it still held them: every write is refused.
    let results = a.sync_due(true).await;
    assert_eq!(results.len(), 4);
    for r in &results {
        match r {
            Err(ServerError::Fenced {
                token,
                current,
                owner,
                ..
            }) => {
                assert_eq!(*token, 1);
                assert_eq!(*current, Some(2));
                assert_eq!(owner.as_deref(), Some("b"));
            }
            other => panic!("expected a fenced write, got {other:?}"),
        }
    }
    assert!(a.held().is_empty(), "a fenced worker lets the mailboxes go");
    for (u, n) in f.users.iter().zip(&before) {
        let stored = store.appointments(u).await.unwrap();
        assert_eq!(stored.len(), *n, "nothing of a's was applied to {u}");
        assert!(!stored.iter().any(|x| x.subject == "After the pause"));
    }
    assert!(store
        .history(None, 100)
        .await
        .unwrap()
        .iter()
        .all(|r| r.worker == "a" && r.fencing_token == 1));
    // The same refusal for a direct write with the stale lease, and for its renewal.
    let err = store.reset_sync_state(&stale).await.unwrap_err();
    assert_eq!(err.code(), "fenced");
    assert!(store.sync_state(&f.users[0]).await.unwrap().is_some());
    let (kept, lost) = store
        .renew(&[stale], chrono::Duration::seconds(30))
        .await
        .unwrap();
    assert!(kept.is_empty() && lost.len() == 1);

    // `b` applies the change.
    assert!(b.sync_due(true).await.iter().all(|r| r.is_ok()));
    let stored = store.appointments(&f.users[0]).await.unwrap();
    assert!(stored.iter().any(|x| x.subject == "After the pause"));
}

#[tokio::test]
async fn a_dead_workers_mailboxes_are_taken_over_within_the_lease_time() {
    let f = Fixture::new(&["Calendars.Read"], 3).await;
    let clock = Arc::new(FixedClock::new(real_now()));
    let (mut a, store) = f.worker(clock.clone(), "a", 30, 10).await;
    let (mut b, _) = f.worker(clock.clone(), "b", 30, 10).await;
    store.set_users(&f.users).await.unwrap();
    a.maintain_leases().await.unwrap();
    drop(a); // dies without releasing anything

    clock.advance(chrono::Duration::seconds(29));
    assert!(
        b.maintain_leases().await.unwrap().claimed.is_empty(),
        "still a's"
    );
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(b.maintain_leases().await.unwrap().claimed, f.users);
    assert!(b.sync_due(true).await.iter().all(|r| r.is_ok()));
}

#[tokio::test]
async fn users_join_and_leave_while_the_worker_runs() {
    let f = Fixture::new(&["Calendars.Read"], 3).await;
    let listed = Arc::new(std::sync::Mutex::new(vec![
        f.users[0].clone(),
        f.users[1].clone(),
    ]));
    let source_list = listed.clone();
    let source: presently_server::worker::UsersSource = Arc::new(move || {
        let list = source_list.lock().unwrap().clone();
        Box::pin(async move { Ok(list) })
    });
    let (worker, store) = f.worker(system_clock(), "w1", 60, 10).await;
    let mut worker = worker.with_users_source(source);
    let pass = worker.maintain_leases().await.unwrap();
    assert_eq!(pass.claimed, f.users[..2].to_vec());

    // users[0] leaves, users[2] joins.
    *listed.lock().unwrap() = vec![f.users[1].clone(), f.users[2].clone()];
    let pass = worker.maintain_leases().await.unwrap();
    assert_eq!(pass.lost, vec![f.users[0].clone()]);
    assert_eq!(pass.claimed, vec![f.users[2].clone()]);
    assert_eq!(worker.held(), f.users[1..].to_vec());
    let enabled: Vec<(String, bool)> = store
        .mailboxes()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.enabled))
        .collect();
    assert_eq!(
        enabled,
        vec![
            (f.users[0].clone(), false),
            (f.users[1].clone(), true),
            (f.users[2].clone(), true)
        ]
    );
}

#[tokio::test]
async fn a_groups_transitive_members_are_synced_and_the_permission_is_named() {
    use presently_server::config::ServerConfig;
    use presently_server::directory::configured_users;
    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path(), "app");
    let emu = emulator().await;
    let control = emu.control();
    control
        .register_confidential_app(
            CLIENT_ID,
            Some(&cert.cert_pem),
            &[],
            &["Calendars.Read", "GroupMember.Read.All"],
        )
        .unwrap();
    let added = control.add_users(4);
    let ids: Vec<String> = added.iter().map(|(id, _)| id.clone()).collect();
    let users: Vec<String> = added.iter().map(|(_, upn)| upn.clone()).collect();
    // Sales holds users 0 and 1, and the group EMEA, which holds user 2 (and, back, Sales).
    control.set_group("g-emea", "EMEA", &[&ids[2], "g-sales"]);
    control.set_group("g-sales", "Sales", &[&ids[0], &ids[1], "g-emea"]);
    let text = config_text(
        "postgresql://x@127.0.0.1:1/x",
        &emu,
        &cert,
        &[users[3].clone()],
        "w",
        60,
    )
    .replace("[users]\n", "[users]\ngroups = [\"g-sales\"]\n");
    let config = ServerConfig::parse(&text, "server.toml").unwrap();
    let graph = presently_engine::graph::GraphClient::new(&emu.base_url()).unwrap();
    let tokens = token_source(&emu, &cert, system_clock()).unwrap();
    let found = configured_users(&config, &graph, &tokens, None)
        .await
        .unwrap();
    assert_eq!(
        found, users,
        "the list, the members and the nested group's members, by user principal name"
    );

    // Without a permission that reads membership: Graph's 403, named.
    control
        .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], &["Calendars.Read"])
        .unwrap();
    let tokens = token_source(&emu, &cert, system_clock()).unwrap();
    let err = configured_users(&config, &graph, &tokens, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "permission_missing");
    assert!(err.to_string().contains("GroupMember.Read.All"), "{err}");
    assert!(
        err.to_string().contains("Authorization_RequestDenied"),
        "{err}"
    );
}

#[tokio::test]
async fn a_pass_longer_than_the_lease_keeps_its_leases() {
    use presently_server::sync::SyncContext;
    use presently_server::worker::{Worker, WorkerOptions};
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    let (store, tokens) = store_and_tokens(&f).await;
    tokens.token().await.unwrap();
    let mut ctx = SyncContext::new(store.clone(), tokens, &f.emu.base_url(), system_clock());
    ctx.page_size = 2;
    let lease = chrono::Duration::seconds(2);
    let mut worker = Worker::new(
        Arc::new(ctx),
        WorkerOptions {
            worker_id: "slow".into(),
            lease_for: lease,
            max_mailboxes: 10,
            interval: chrono::Duration::seconds(60),
            concurrent_mailboxes: 1,
        },
    );
    worker.maintain_leases().await.unwrap();
    // Each Graph request takes 250 ms: the round's pages take longer than the lease.
    f.control
        .set_latency(presently_emulator::Latency::per_request_ms(250));
    let started = std::time::Instant::now();
    let results = worker.sync_due(true).await;
    let took = started.elapsed();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        took > lease.to_std().unwrap(),
        "the pass took only {took:?}"
    );
    assert_eq!(worker.held(), f.users, "renewed while the round ran");
    let m = &store.mailboxes().await.unwrap()[0];
    assert_eq!((m.owner.as_deref(), m.fencing_token), (Some("slow"), 1));
    assert!(m.appointments > 5);
}

/// Forty users, two workers of twenty each: every calendar synced once, by its one holder.
/// Prints how long the first full sync took (a figure for the report, not a benchmark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_users_are_shared_and_synced() {
    let f = Fixture::new(&["Calendars.Read"], 40).await;
    let (mut a, store) = f.worker(system_clock(), "a", 60, 20).await;
    let (mut b, _) = f.worker(system_clock(), "b", 60, 20).await;
    store.set_users(&f.users).await.unwrap();
    let started = std::time::Instant::now();
    let (pa, pb) = tokio::join!(a.maintain_leases(), b.maintain_leases());
    assert_eq!(pa.unwrap().claimed.len() + pb.unwrap().claimed.len(), 40);
    let (ra, rb) = tokio::join!(a.sync_due(true), b.sync_due(true));
    let took = started.elapsed();
    let pages: usize = ra
        .iter()
        .chain(&rb)
        .map(|r| r.as_ref().unwrap().pages)
        .sum();
    let items: i64 = store
        .mailboxes()
        .await
        .unwrap()
        .iter()
        .map(|m| m.appointments)
        .sum();
    eprintln!(
        "40 users, 2 workers: first full sync in {took:?} ({pages} pages of 10, {items} appointments stored, {} Graph requests at most {} at once)",
        f.control.request_log().iter().filter(|r| r.path.contains("calendarView")).count(),
        f.control.max_concurrent_graph_requests()
    );
    assert_eq!(ra.len() + rb.len(), 40);
    let mailboxes = store.mailboxes().await.unwrap();
    assert!(mailboxes
        .iter()
        .all(|m| m.appointments > 5 && m.fencing_token == 1));
    assert_eq!(
        store.history(None, 100).await.unwrap().len(),
        40,
        "one round each"
    );
}

#[tokio::test]
async fn a_database_outage_is_named_and_the_worker_reconnects() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    let (mut worker, store, _) = f.claiming_worker(system_clock(), "w1", 60, 10).await;
    assert!(worker.sync_due(true).await.iter().all(|r| r.is_ok()));

    f.pg.stop();
    let err = worker.maintain_leases().await.unwrap_err();
    assert!(
        matches!(err.code(), "database" | "database_unreachable"),
        "{err:?}"
    );
    // Still down: the reconnection fails and says where it tried.
    let err = worker.maintain_leases().await.unwrap_err();
    assert_eq!(err.code(), "database_unreachable", "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");

    f.pg.start_again();
    f.control
        .add_user_event(&f.users[0], event("After the outage"))
        .unwrap();
    let pass = worker.maintain_leases().await.unwrap();
    assert!(pass.lost.is_empty() && pass.claimed.is_empty(), "{pass:?}");
    assert_eq!(worker.held(), f.users);
    assert!(worker.sync_due(true).await.iter().all(|r| r.is_ok()));
    let stored = store.appointments(&f.users[0]).await.unwrap();
    assert!(stored.iter().any(|a| a.subject == "After the outage"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_across_mailboxes_stay_within_the_tenant_share() {
    use presently_server::sync::SyncContext;
    use presently_server::worker::{Worker, WorkerOptions};
    let f = Fixture::new(&["Calendars.Read"], 8).await;
    let (store, tokens) = store_and_tokens(&f).await;
    let make = |limit: usize, id: &str| {
        let mut ctx = SyncContext::new(
            store.clone(),
            tokens.clone(),
            &f.emu.base_url(),
            system_clock(),
        )
        .with_tenant_limit(limit);
        ctx.page_size = 10;
        Worker::new(
            Arc::new(ctx),
            WorkerOptions {
                worker_id: id.into(),
                lease_for: chrono::Duration::seconds(60),
                max_mailboxes: 100,
                interval: chrono::Duration::seconds(60),
                concurrent_mailboxes: 8,
            },
        )
    };
    f.control
        .set_latency(presently_emulator::Latency::per_request_ms(100));

    let mut narrow = make(2, "narrow");
    narrow.maintain_leases().await.unwrap();
    f.control.reset_max_concurrency();
    assert!(narrow.sync_due(true).await.iter().all(|r| r.is_ok()));
    assert_eq!(
        f.control.max_concurrent_graph_requests(),
        2,
        "eight mailboxes, a share of 2"
    );
    narrow.release_all().await.unwrap();

    // The same mailboxes with a share of 6: more go at once (so the cap above is the share's).
    let mut wide = make(6, "wide");
    wide.maintain_leases().await.unwrap();
    f.control.reset_max_concurrency();
    assert!(wide.sync_due(true).await.iter().all(|r| r.is_ok()));
    let wide_max = f.control.max_concurrent_graph_requests();
    assert!((3..=6).contains(&wide_max), "{wide_max}");
}

/// `[sync] tenant_budget`: the workers share one budget of requests in flight, each its
/// part for the live workers, renewed at every lease pass; both syncing at once stay
/// within the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_share_one_tenant_request_budget() {
    use presently_server::sync::SyncContext;
    use presently_server::worker::{Worker, WorkerOptions};
    let f = Fixture::new(&["Calendars.Read"], 8).await;
    let (store, tokens) = store_and_tokens(&f).await;
    let make = |id: &str| {
        let mut ctx = SyncContext::new(
            store.clone(),
            tokens.clone(),
            &f.emu.base_url(),
            system_clock(),
        )
        .with_tenant_budget(4);
        ctx.page_size = 10;
        let ctx = Arc::new(ctx);
        let worker = Worker::new(
            ctx.clone(),
            WorkerOptions {
                worker_id: id.into(),
                lease_for: chrono::Duration::seconds(60),
                max_mailboxes: 100,
                interval: chrono::Duration::seconds(60),
                concurrent_mailboxes: 8,
            },
        );
        (worker, ctx)
    };
    let (mut a, ctx_a) = make("a");
    assert_eq!(ctx_a.tenant_share(), 4, "before any pass: the whole budget");
    a.maintain_leases().await.unwrap();
    assert_eq!(ctx_a.tenant_share(), 4, "alone: the whole budget");

    let (mut b, ctx_b) = make("b");
    b.maintain_leases().await.unwrap();
    a.maintain_leases().await.unwrap();
    b.maintain_leases().await.unwrap();
    assert_eq!((ctx_a.tenant_share(), ctx_b.tenant_share()), (2, 2));
    assert_eq!(a.held().len() + b.held().len(), 8);

    f.control
        .set_latency(presently_emulator::Latency::per_request_ms(100));
    f.control.reset_max_concurrency();
    let (ra, rb) = tokio::join!(a.sync_due(true), b.sync_due(true));
    assert!(ra.iter().chain(rb.iter()).all(|r| r.is_ok()));
    let max = f.control.max_concurrent_graph_requests();
    assert!((3..=4).contains(&max), "two workers, a budget of 4: {max}");

    // `b` leaves: `a` takes the whole budget back at its next pass.
    b.release_all().await.unwrap();
    a.maintain_leases().await.unwrap();
    assert_eq!(ctx_a.tenant_share(), 4);
}

/// `[sync] tenant_budget` covers batched polls: a `$batch` holds one of the budget's
/// permits for each request it carries (Graph counts each inner request against the
/// tenant's limits), so two workers polling their mailboxes in batches stay within the
/// budget, counted in requests, not batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_polls_count_against_the_tenant_budget_request_by_request() {
    use presently_server::batching::{BatchOptions, Batcher};
    use presently_server::sync::SyncContext;
    use presently_server::worker::{Worker, WorkerOptions};
    use std::sync::atomic::Ordering::Relaxed;
    let f = Fixture::new(&["Calendars.Read"], 16).await;
    let (store, tokens) = store_and_tokens(&f).await;
    let make = |id: &str| {
        let batcher = Batcher::start(
            &f.emu.base_url(),
            system_clock(),
            tokens.clone(),
            BatchOptions {
                purpose: "delta poll",
                concurrent_batches: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let mut ctx = SyncContext::new(
            store.clone(),
            tokens.clone(),
            &f.emu.base_url(),
            system_clock(),
        )
        .with_tenant_budget(4)
        .with_batcher(batcher);
        ctx.page_size = 10;
        let ctx = Arc::new(ctx);
        let worker = Worker::new(
            ctx.clone(),
            WorkerOptions {
                worker_id: id.into(),
                lease_for: chrono::Duration::seconds(60),
                max_mailboxes: 100,
                interval: chrono::Duration::seconds(60),
                // As serve runs batched polls: 20 x concurrent_batches rounds at once.
                concurrent_mailboxes: 40,
            },
        );
        (worker, ctx)
    };
    let (mut a, ctx_a) = make("a");
    a.maintain_leases().await.unwrap();
    let (mut b, ctx_b) = make("b");
    b.maintain_leases().await.unwrap();
    a.maintain_leases().await.unwrap();
    b.maintain_leases().await.unwrap();
    assert_eq!((ctx_a.tenant_share(), ctx_b.tenant_share()), (2, 2));
    assert_eq!((a.held().len(), b.held().len()), (8, 8));
    // The first rounds are full ones, read alone.
    let (ra, rb) = tokio::join!(a.sync_due(true), b.sync_due(true));
    assert!(ra.iter().chain(rb.iter()).all(|r| r.is_ok()));
    assert_eq!(f.control.batch_requests(), (0, 0));

    // The next ones are polls of the delta links, batched: 16 requests in all, each
    // waiting 100 ms at Graph, never more than the budget of 4 in flight.
    f.control
        .set_latency(presently_emulator::Latency::per_request_ms(100));
    f.control.reset_max_concurrency();
    let (ra, rb) = tokio::join!(a.sync_due(true), b.sync_due(true));
    assert!(ra.iter().chain(rb.iter()).all(|r| r.is_ok()));
    let batched = |ctx: &SyncContext| ctx.batcher().unwrap().stats.requests.load(Relaxed);
    assert_eq!(batched(&ctx_a) + batched(&ctx_b), 16, "every poll batched");
    assert_eq!(f.control.batch_requests().1, 16);
    let max = f.control.max_concurrent_graph_requests();
    assert!(
        (2..=4).contains(&max),
        "two workers, a budget of 4 requests in flight, batched: {max}"
    );
}

#[tokio::test]
async fn a_new_worker_gets_its_share_and_a_leaving_one_gives_it_back() {
    let f = Fixture::new(&["Calendars.Read"], 6).await;
    let clock = Arc::new(FixedClock::new(real_now()));
    let (mut a, store) = f.worker(clock.clone(), "a", 30, 100).await;
    let (mut b, _) = f.worker(clock.clone(), "b", 30, 100).await;
    store.set_users(&f.users).await.unwrap();

    // Alone, a takes everything.
    assert_eq!(a.maintain_leases().await.unwrap().claimed, f.users);
    // b arrives: nothing is free yet; a sees two workers and gives half back; b takes it.
    assert!(b.maintain_leases().await.unwrap().claimed.is_empty());
    clock.advance(chrono::Duration::seconds(5));
    let pass = a.maintain_leases().await.unwrap();
    assert_eq!(pass.released, f.users[3..].to_vec());
    assert_eq!(
        b.maintain_leases().await.unwrap().claimed,
        f.users[3..].to_vec()
    );
    assert_eq!(a.held(), f.users[..3].to_vec());
    // Steady: nobody moves.
    clock.advance(chrono::Duration::seconds(5));
    let (pa, pb) = (
        a.maintain_leases().await.unwrap(),
        b.maintain_leases().await.unwrap(),
    );
    assert!(
        pa == Default::default() && pb == Default::default(),
        "{pa:?} {pb:?}"
    );

    // b stops cleanly (releases, leaves): a takes everything back at its next pass.
    b.release_all().await.unwrap();
    clock.advance(chrono::Duration::seconds(5));
    let pass = a.maintain_leases().await.unwrap();
    assert_eq!(pass.claimed, f.users[3..].to_vec());
    assert_eq!(a.held(), f.users);
    let tokens: Vec<i64> = store
        .mailboxes()
        .await
        .unwrap()
        .iter()
        .map(|m| m.fencing_token)
        .collect();
    assert_eq!(
        tokens,
        vec![1, 1, 1, 3, 3, 3],
        "claimed by a, b, then a again"
    );
}

/// A round that fails at any page and is resumed ends with exactly what an uninterrupted
/// round stores (the five users' mailboxes are seeded alike).
#[tokio::test]
async fn a_round_failing_at_any_page_resumes_to_the_same_data() {
    use presently_server::sync::SyncContext;
    let f = Fixture::new(&["Calendars.Read"], 5).await;
    let (store, tokens) = store_and_tokens(&f).await;
    let mut ctx = SyncContext::new(store.clone(), tokens, &f.emu.base_url(), system_clock());
    ctx.page_size = 10;
    let leases = store
        .claim("w", 10, chrono::Duration::seconds(60))
        .await
        .unwrap();
    let summary = |a: Vec<presently_engine::model::Appointment>| -> Vec<(String, String)> {
        a.into_iter().map(|a| (a.id, a.subject)).collect()
    };

    let clean = ctx.sync_mailbox(&leases[0]).await.unwrap();
    assert!(clean.pages >= 4, "{clean:?}");
    let expected = summary(store.appointments(&f.users[0]).await.unwrap());
    for (page, lease) in leases.iter().enumerate().skip(1) {
        let failing = page as u32 - 1; // pages 0 to 3
        f.control.push_fault(Fault::FailPage {
            page_index: failing,
            status: 500,
        });
        assert!(ctx.sync_mailbox(lease).await.is_err(), "page {failing}");
        let resumed = ctx.sync_mailbox(lease).await.unwrap();
        assert_eq!(resumed.kind, presently_engine::store::RoundKind::Full);
        let stored = summary(store.appointments(&lease.mailbox).await.unwrap());
        assert_eq!(stored, expected, "failed at page {failing}");
        let state = store.sync_state(&lease.mailbox).await.unwrap().unwrap();
        assert!(state.next_link.is_none() && state.delta_link.is_some());
    }
}

#[tokio::test]
async fn the_organization_policy_applies_per_user() {
    use presently_server::config::ServerConfig;
    use presently_server::directory::configured_users;
    use presently_server::sync::SyncContext;
    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path(), "app");
    let pg = Postgres::start();
    let emu = emulator().await;
    let control = emu.control();
    control
        .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], &["Calendars.Read"])
        .unwrap();
    let users: Vec<String> = control
        .add_users(2)
        .into_iter()
        .map(|(_, upn)| upn)
        .collect();
    // The clients' policy file: user 2 is an intern, whose calendar does not sync; the
    // domain's staff sync three days ahead, locked.
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(
        &policy_path,
        format!(
            r#"
[[groups]]
name = "Interns"
users = ["{intern}"]
sync = "disabled"

[[groups]]
name = "Staff"
domains = ["contoso.onmicrosoft.com"]
locked = ["sync.window_days_ahead"]
[groups.settings.sync]
window_days_ahead = 3
"#,
            intern = users[1]
        ),
    )
    .unwrap();
    let text = config_text(&pg.url, &emu, &cert, &users, "w", 60)
        .replace("[sync]\n", "[sync]\ndays_ahead = 60\n")
        + &format!("\n[policy]\nfile = \"{}\"\n", policy_path.display());
    let config = ServerConfig::parse(&text, "server.toml").unwrap();
    let policy = presently_server::load_policy(&config).unwrap();
    let graph = presently_engine::graph::GraphClient::new(&emu.base_url()).unwrap();
    let tokens = Arc::new(token_source(&emu, &cert, system_clock()).unwrap());
    let found = configured_users(&config, &graph, &tokens, policy.as_deref())
        .await
        .unwrap();
    assert_eq!(found, vec![users[0].clone()], "the intern is left out");

    let store = Arc::new(Store::connect(&pg.url, None, system_clock()).await.unwrap());
    store.migrate().await.unwrap();
    store.set_users(&users).await.unwrap();
    let mut ctx = SyncContext::new(store.clone(), tokens, &emu.base_url(), system_clock());
    ctx.sync_config = config.sync.clone();
    ctx.policy = policy.into();
    let leases = store
        .claim("w", 10, chrono::Duration::seconds(60))
        .await
        .unwrap();
    ctx.sync_mailbox(&leases[0]).await.unwrap();
    let state = store.sync_state(&users[0]).await.unwrap().unwrap();
    let days = (state.window_end.unwrap() - state.window_start.unwrap()).num_days();
    assert_eq!(
        days,
        30 + 3 + 1,
        "the clients' 30 days back, the locked 3 ahead, today"
    );
    // Were the intern claimed anyway, nothing is read for them.
    let err = ctx.sync_mailbox(&leases[1]).await.unwrap_err();
    assert!(
        err.to_string().contains("policy") && err.to_string().contains("Interns"),
        "{err}"
    );
    assert!(store.sync_state(&users[1]).await.unwrap().is_none());

    // A policy file that cannot be used stops the server, naming it.
    std::fs::write(&policy_path, "[[groups]]\nname = 5\n").unwrap();
    let err = presently_server::load_policy(&config).unwrap_err();
    assert_eq!(err.code(), "config_invalid");
    assert!(err.to_string().contains("policy.toml"), "{err}");
}

/// TLS to PostgreSQL: `sslmode=require` encrypts the connection and checks the server's
/// certificate (against `[database] ca_file`): an authority the worker was not given, or
/// none but the public ones, is a clear error naming the database, and nothing connects.
/// Without it the connection is plain, as before.
#[tokio::test]
async fn the_database_connection_is_encrypted_and_its_certificate_checked_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, server) = make_server_certificate(dir.path());
    let pg = Postgres::start_tls(&server.cert_path, &server.key_path);
    let separator = if pg.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}sslmode=require", pg.url);

    let store = Store::connect_verified_by(&url, None, Some(&ca.cert_path), system_clock())
        .await
        .unwrap();
    assert_eq!(store.migrate().await.unwrap(), 5);
    assert!(store.connection_encrypted().await.unwrap(), "TLS in force");
    let store = store.with_connections(2).await.unwrap();
    assert!(store.connection_encrypted().await.unwrap());

    let plain = Store::connect(&pg.url, None, system_clock()).await.unwrap();
    assert!(
        !plain.connection_encrypted().await.unwrap(),
        "no sslmode: plain"
    );

    let stranger = make_certificate(dir.path(), "stranger");
    for ca_file in [Some(stranger.cert_path.as_path()), None] {
        let err = Store::connect_verified_by(&url, None, ca_file, system_clock())
            .await
            .expect_err("an unverified server is refused");
        let text = err.to_string();
        assert!(
            matches!(err, ServerError::DatabaseUnreachable { .. }) && text.contains("certificate"),
            "{ca_file:?}: {text}"
        );
    }
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "no certificate here").unwrap();
    let err = Store::connect_verified_by(&url, None, Some(&not_pem), system_clock())
        .await
        .expect_err("a CA file without certificates is refused");
    assert!(err.to_string().contains("database.ca_file"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polls_of_mailboxes_due_together_go_out_in_a_few_batches() {
    use presently_server::batching::{BatchOptions, Batcher};
    use presently_server::sync::SyncContext;
    use presently_server::worker::{Worker, WorkerOptions};
    use std::sync::atomic::Ordering::Relaxed;
    let f = Fixture::new(&["Calendars.Read"], 30).await;
    let (store, tokens) = store_and_tokens(&f).await;
    let batcher = Batcher::start(
        &f.emu.base_url(),
        system_clock(),
        tokens.clone(),
        BatchOptions {
            purpose: "delta poll",
            concurrent_batches: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let ctx = Arc::new(
        SyncContext::new(store.clone(), tokens, &f.emu.base_url(), system_clock())
            .with_batcher(batcher),
    );
    let mut worker = Worker::new(
        ctx.clone(),
        WorkerOptions {
            worker_id: "w1".into(),
            lease_for: chrono::Duration::seconds(60),
            max_mailboxes: 100,
            interval: chrono::Duration::seconds(60),
            concurrent_mailboxes: 40,
        },
    );
    worker.maintain_leases().await.unwrap();
    let delta_alone = |from: usize| {
        f.control.request_log()[from..]
            .iter()
            .filter(|r| r.path.contains("/calendarView/delta"))
            .count()
    };
    let batched = || ctx.batcher().unwrap().stats.requests.load(Relaxed);

    // The first rounds are full ones, read alone (many pages each).
    assert!(worker.sync_due(true).await.iter().all(|r| r.is_ok()));
    assert_eq!(f.control.batch_requests(), (0, 0));
    assert!(delta_alone(0) >= 30);

    // The next pass polls the 30 mailboxes: 30 requests in a few batches (two at best; the
    // rounds reach the batcher over some milliseconds, each after its database read, so a
    // loaded machine makes a few more), none alone, and the one change among them arrives.
    f.control
        .add_user_event(&f.users[7], event("Added between two polls"))
        .unwrap();
    let from = f.control.request_log().len();
    let results = worker.sync_due(true).await;
    let outcomes: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    assert!(outcomes
        .iter()
        .all(|o| o.kind == presently_engine::store::RoundKind::Incremental));
    let (batches, inner) = f.control.batch_requests();
    assert_eq!(inner, 30, "one poll per mailbox");
    assert_eq!(f.control.batched_delta_requests(), 30);
    assert!((2..=8).contains(&batches), "{batches} batches");
    assert_eq!(batched(), 30);
    assert_eq!(delta_alone(from), 0, "no poll was sent alone");
    let changed: Vec<_> = outcomes.iter().filter(|o| o.upserted > 0).collect();
    assert_eq!(changed.len(), 1, "{outcomes:?}");
    assert_eq!(changed[0].mailbox, f.users[7]);
    assert!(store
        .appointments(&f.users[7])
        .await
        .unwrap()
        .iter()
        .any(|a| a.subject == "Added between two polls"));

    // Graph forgets the delta tokens: each batched poll answers 410 on its own, the
    // mailbox's state is reset, and the pass after reads each calendar whole, alone.
    f.control.push_fault(Fault::ExpireDeltaTokens);
    let results = worker.sync_due(true).await;
    assert!(results.iter().all(|r| r
        .as_ref()
        .is_err_and(|e| e.to_string().contains("no longer knows the sync state"))));
    assert_eq!(f.control.batch_requests().1, 60);
    let from = f.control.request_log().len();
    let results = worker.sync_due(true).await;
    assert!(results.iter().all(|r| r
        .as_ref()
        .is_ok_and(|o| o.kind == presently_engine::store::RoundKind::Full)));
    assert!(delta_alone(from) >= 30);
    assert_eq!(
        f.control.batch_requests().1,
        60,
        "full rounds are read alone"
    );
    assert!(store
        .appointments(&f.users[7])
        .await
        .unwrap()
        .iter()
        .any(|a| a.subject == "Added between two polls"));
}
