//! Presence automation in server mode: a real PostgreSQL, the emulator on loopback serving
//! `/users/{id}/presence` for app-only tokens, the engine's driver stepped by the runner on
//! an injected clock.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use presently_emulator::Control;
use presently_engine::{Clock, FixedClock};
use presently_server::config::SyncConfig;
use presently_server::presence::{PresenceOptions, PresenceRunner};
use presently_server::store::{Lease, PresenceSummary, Store};
use presently_server::worker::Worker;
use presently_server::ServerError;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const SERVER_GROUP: &str = r#"
[[groups]]
name = "Everyone"
default = true
automation = "server"
"#;

const CLIENT_GROUP: &str = r#"
[[groups]]
name = "Everyone"
default = true
"#;

fn meeting(subject: &str, start: DateTime<Utc>, minutes: i64) -> serde_json::Value {
    let end = start + Duration::minutes(minutes);
    serde_json::json!({
        "subject": subject,
        "showAs": "busy",
        "start": {"dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
        "end": {"dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
    })
}

fn runner(
    store: &Arc<Store>,
    emu: &presently_emulator::Emulator,
    cert: &Certificate,
    clock: Arc<dyn Clock>,
    policy_text: &str,
    dir: &std::path::Path,
) -> PresenceRunner {
    runner_with(
        store,
        emu,
        cert,
        clock,
        policy_text,
        dir,
        PresenceOptions {
            check_interval: Duration::seconds(60),
            ..Default::default()
        },
    )
}

fn runner_with(
    store: &Arc<Store>,
    emu: &presently_emulator::Emulator,
    cert: &Certificate,
    clock: Arc<dyn Clock>,
    policy_text: &str,
    dir: &std::path::Path,
    options: PresenceOptions,
) -> PresenceRunner {
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy_text).unwrap();
    let policy = presently_server::policy::load(&path).unwrap();
    let tokens = Arc::new(token_source(emu, cert, clock.clone()).unwrap());
    PresenceRunner::new(
        store.clone(),
        tokens,
        &emu.base_url(),
        CLIENT_ID,
        clock,
        Some(Arc::new(policy)),
        SyncConfig::default(),
        options,
    )
}

fn leases(worker: &Worker) -> HashMap<String, Lease> {
    worker
        .held()
        .into_iter()
        .map(|m| (m.clone(), worker.lease(&m).unwrap().clone()))
        .collect()
}

/// The successful calls of `kind` to `user`.
fn calls(control: &Control, user: &str, kind: &str) -> usize {
    control
        .presence_calls()
        .iter()
        .filter(|c| c.kind == kind && c.user.as_deref() == Some(user) && c.status < 300)
        .count()
}

fn availability(control: &Control, user: &str) -> String {
    control.tenant_presence(user)["availability"]
        .as_str()
        .unwrap()
        .to_owned()
}

struct Setup {
    f: Fixture,
    user: String,
    clock: Arc<FixedClock>,
    start: DateTime<Utc>,
}

impl std::ops::Deref for Setup {
    type Target = Fixture;
    fn deref(&self) -> &Fixture {
        &self.f
    }
}

/// One user with a meeting an hour from now, on an injected clock.
async fn setup(roles: &[&str]) -> Setup {
    let f = Fixture::new(roles, 1).await;
    let user = f.users[0].clone();
    let clock = Arc::new(FixedClock::new(real_now()));
    let start = clock.now() + Duration::hours(1);
    f.control
        .add_user_event(&user, meeting("Design review", start, 30))
        .unwrap();
    Setup {
        f,
        user,
        clock,
        start,
    }
}

#[tokio::test]
async fn a_meeting_switches_the_users_presence_and_restores_it() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let (mut w, store, _) = s.claiming_worker(s.clock.clone(), "a", 7200, 10).await;
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    let r = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );

    let metrics = Arc::new(presently_server::metrics::Metrics::new());
    let mut r = r.with_metrics(metrics.clone());
    let applied = || {
        metrics
            .presence_events
            .get_or_create(&vec![("event".to_owned(), "applied".to_owned())])
            .get()
    };
    let summary = |holding, applied, restored| {
        vec![PresenceSummary {
            worker: Some("a".to_owned()),
            holding,
            open_writes: 0,
            applied,
            restored,
        }]
    };

    let none = HashSet::new();
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(r.automated(), vec![s.user.clone()]);
    assert_eq!(
        calls(&s.control, &s.user, "setPresence"),
        0,
        "before the meeting"
    );
    assert_eq!(availability(&s.control, &s.user), "Available");

    s.clock.set(s.start + Duration::seconds(1));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 1);
    let sessions = s.control.tenant_presence_sessions(&s.user);
    assert_eq!(sessions[0]["sessionId"], CLIENT_ID, "the app's own session");
    assert_eq!(availability(&s.control, &s.user), "Busy");
    // What `status` and `/metrics` show: a restore to come.
    assert_eq!(store.presence_summary().await.unwrap(), summary(1, 1, 0));
    assert_eq!((metrics.presence_holding.get(), applied()), (1, 1));
    let next = r.next_wake(s.clock.now()).unwrap();
    assert!(
        next <= s.start + Duration::minutes(30),
        "it wakes for the end"
    );

    s.clock
        .set(s.start + Duration::minutes(30) + Duration::seconds(1));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "clearPresence"), 1);
    assert_eq!(availability(&s.control, &s.user), "Available");
    assert_eq!(
        s.control.tenant_presence_sessions(&s.user),
        serde_json::json!([])
    );
    // Graph offers no app-only status message: none was set.
    assert_eq!(calls(&s.control, &s.user, "setStatusMessage"), 0);
    let history: Vec<String> = store
        .presence_history(&s.user)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert!(history.contains(&"applied".to_owned()), "{history:?}");
    assert!(history.contains(&"restored".to_owned()), "{history:?}");
    assert_eq!(store.presence_summary().await.unwrap(), summary(0, 1, 1));
    assert_eq!((metrics.presence_holding.get(), applied()), (0, 1));
    // Nothing more to do: another pass sends nothing.
    let before = s.control.presence_calls().len();
    r.pass(&leases(&w), &none).await;
    assert_eq!(
        s.control
            .presence_calls()
            .iter()
            .skip(before)
            .filter(|c| c.kind != "getPresence")
            .count(),
        0
    );
}

#[tokio::test]
async fn a_change_by_the_user_during_the_meeting_is_not_overwritten() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let (mut w, store, _) = s.claiming_worker(s.clock.clone(), "a", 7200, 10).await;
    w.sync_due(true).await;
    let mut r = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );
    let none = HashSet::new();
    s.clock.set(s.start + Duration::seconds(1));
    r.pass(&leases(&w), &none).await;
    assert_eq!(availability(&s.control, &s.user), "Busy");

    // The user picks Do not disturb in Teams; automation reads it back and stands back.
    s.control
        .set_tenant_user_presence(&s.user, "DoNotDisturb", "DoNotDisturb");
    for minutes in [5, 10, 20] {
        s.clock.set(s.start + Duration::minutes(minutes));
        assert!(r.pass(&leases(&w), &none).await.is_empty());
    }
    s.clock.set(s.start + Duration::minutes(31));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(availability(&s.control, &s.user), "DoNotDisturb");
    assert_eq!(
        calls(&s.control, &s.user, "setPresence"),
        1,
        "never set again"
    );
    assert_eq!(
        calls(&s.control, &s.user, "setUserPreferredPresence")
            + calls(&s.control, &s.user, "clearUserPreferredPresence"),
        0,
        "the user's own choice is never touched"
    );
    let history: Vec<String> = store
        .presence_history(&s.user)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert!(history.iter().any(|h| h == "stood_back"), "{history:?}");
}

#[tokio::test]
async fn a_worker_past_its_lease_applies_nothing_and_the_next_holder_restores_once() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let t0 = s.clock.now();
    let (mut a, store, _) = s.claiming_worker(s.clock.clone(), "a", 7200, 10).await;
    let (mut b, _) = s.worker(s.clock.clone(), "b", 7200, 10).await;
    assert!(b.maintain_leases().await.unwrap().claimed.is_empty());
    a.sync_due(true).await;
    let mut ra = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );
    let mut rb = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );
    let none = HashSet::new();
    s.clock.set(s.start + Duration::seconds(1));
    assert!(ra.pass(&leases(&a), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 1);
    let held_by_a = leases(&a);

    // `a` stalls past its lease (and past the meeting's end); `b` takes the mailbox over.
    s.clock.set(t0 + Duration::seconds(7201));
    assert_eq!(
        b.maintain_leases().await.unwrap().claimed,
        vec![s.user.clone()]
    );
    let sent_before = s.control.presence_calls().len();
    // `a` wakes up and goes on as if it still held it: nothing is sent.
    let errors = ra.pass(&held_by_a, &none).await;
    assert!(
        matches!(errors.as_slice(), [(_, ServerError::Fenced { .. })]),
        "{errors:?}"
    );
    assert_eq!(
        s.control.presence_calls().len(),
        sent_before,
        "a fenced worker sends nothing"
    );
    assert!(ra.automated().is_empty());
    // `b` loads the journal and gives back what `a` switched, once.
    assert!(rb.pass(&leases(&b), &none).await.is_empty());
    assert!(rb.pass(&leases(&b), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "clearPresence"), 1);
    assert_eq!(
        calls(&s.control, &s.user, "setPresence"),
        1,
        "nothing applied twice"
    );
    assert_eq!(availability(&s.control, &s.user), "Available");
    let history = store.presence_history(&s.user).await.unwrap();
    assert!(history
        .iter()
        .any(|h| h.0 == "restored" && h.2 == "b" && h.3 == 2));
    assert!(history.iter().all(|h| h.2 != "a" || h.3 == 1));
}

#[tokio::test]
async fn a_missing_presence_permission_is_named_and_nothing_is_applied() {
    let s = setup(&["Calendars.Read"]).await;
    let (mut w, store, _) = s.claiming_worker(s.clock.clone(), "a", 7200, 10).await;
    w.sync_due(true).await;
    let mut r = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );
    s.clock.set(s.start + Duration::seconds(1));
    let errors = r.pass(&leases(&w), &HashSet::new()).await;
    let [(mailbox, err)] = errors.as_slice() else {
        panic!("{errors:?}");
    };
    assert_eq!(mailbox, &s.user);
    assert_eq!(err.code(), "permission_missing");
    assert!(err.to_string().contains("Presence.ReadWrite.All"), "{err}");
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 0);
    assert_eq!(availability(&s.control, &s.user), "Available");
    assert!(r.automated().is_empty(), "stopped until claimed again");
    // It does not hammer Graph meanwhile.
    let before = s.control.presence_calls().len();
    s.clock.set(s.start + Duration::minutes(2));
    r.pass(&leases(&w), &HashSet::new()).await;
    assert_eq!(s.control.presence_calls().len(), before);
}

#[tokio::test]
async fn users_whose_group_leaves_automation_to_clients_are_not_automated() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let (mut w, store, _) = s.claiming_worker(s.clock.clone(), "a", 7200, 10).await;
    w.sync_due(true).await;
    let mut r = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        CLIENT_GROUP,
        s.dir.path(),
    );
    s.clock.set(s.start + Duration::seconds(1));
    assert!(r.pass(&leases(&w), &HashSet::new()).await.is_empty());
    assert!(r.automated().is_empty());
    assert!(s
        .control
        .presence_calls()
        .iter()
        .all(|c| c.user.as_deref() != Some(s.user.as_str())));
    assert_eq!(availability(&s.control, &s.user), "Available");
}

/// Backends of this database waiting for a lock, with their statements.
async fn lock_waits(db: &tokio_postgres::Client) -> Vec<String> {
    db.query(
        "SELECT query FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
          ORDER BY query_start",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Waits (up to `limit`) until `ready` says yes, looking again every 20 ms: the state it
/// waits for is in the database or the emulator, which notify nobody.
async fn wait_for<F, Fut>(limit: std::time::Duration, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !ready().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A worker of `s` (30 s leases, two connections) that claimed and synced the user's
/// mailbox two seconds before the meeting, running from a second before it with presence
/// automation on `presence_clock` until `shutdown`; returned once its first lease pass has
/// renewed the lease (to that second plus 30 s; its next pass comes a third of the lease
/// time, 10 s, later).
async fn running_worker(
    s: &Setup,
    presence_clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (Arc<Store>, tokio::task::JoinHandle<Result<(), ServerError>>) {
    s.clock.set(s.start - Duration::seconds(2));
    let (mut w, store) =
        worker_with_connections(&s.pg, &s.emu, &s.cert, s.clock.clone(), "a", 30, 10, 2).await;
    store
        .set_users(std::slice::from_ref(&s.user))
        .await
        .unwrap();
    w.maintain_leases().await.unwrap();
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    let r = runner(
        &store,
        &s.emu,
        &s.cert,
        presence_clock,
        SERVER_GROUP,
        s.dir.path(),
    );
    s.clock.set(s.start - Duration::seconds(1));
    let run = tokio::spawn(w.with_presence(r).run(shutdown));
    // (The database keeps microseconds.)
    let renewed = s.start + Duration::milliseconds(28_500);
    wait_for(
        std::time::Duration::from_secs(30),
        "the first lease pass",
        || async {
            store.mailboxes().await.unwrap()[0]
                .lease_expires_at
                .is_some_and(|e| e > renewed)
        },
    )
    .await;
    (store, run)
}

/// The benchmark's lost switch. A presence step waits inside its transaction (the mailbox
/// row `FOR SHARE`, behind another transaction's lock); meanwhile the worker's lease pass
/// begins and its renewal queues behind that step. When the way clears, the step must go
/// on: were it a future polled only while the worker's loop waits for its timer, it would
/// stay frozen holding the row, the renewal would wait for it for ever, and the worker
/// would hang (its other leases expiring to the other workers, whose claims skip the
/// locked row: that one mailbox never switched).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_step_waiting_inside_its_transaction_does_not_hang_the_worker() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    // Two seconds before the meeting, the worker claims and syncs the mailbox (its next
    // round an interval away), then runs.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (store, run) = running_worker(&s, s.clock.clone(), async {
        stopped.await.ok();
    })
    .await;
    let limit = std::time::Duration::from_secs(30);
    // Presence's first pass reads the user's time zone and stores it in the mailbox row:
    // taken before that, the row lock would hold that write instead of the save.
    wait_for(limit, "the user's time zone read", || async {
        store.time_zone(&s.user).await.unwrap().1.is_some()
    })
    .await;

    // Another transaction holds the mailbox row; the meeting begins, and presence's first
    // save waits for the row.
    let mut locker = connect(&s.pg.url).await;
    let tx = locker.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE",
        &[&s.user],
    )
    .await
    .unwrap();
    let watcher = connect(&s.pg.url).await;
    s.clock.set(s.start + Duration::seconds(1));
    wait_for(
        limit,
        "presence's save never waited for the row",
        || async {
            lock_waits(&watcher)
                .await
                .iter()
                .any(|q| q.contains("FOR SHARE"))
        },
    )
    .await;
    // The next lease pass renews behind it.
    wait_for(limit, "the lease pass never renewed", || async {
        lock_waits(&watcher)
            .await
            .iter()
            .any(|q| q.contains("SET lease_expires_at"))
    })
    .await;
    let waits = lock_waits(&watcher).await;
    assert!(
        waits[0].contains("FOR SHARE"),
        "presence waits first, the renewal behind it: {waits:?}"
    );
    tx.commit().await.unwrap();

    wait_for(
        std::time::Duration::from_secs(20),
        "the switch never happened: presence and the lease pass wait on each other",
        || async { calls(&s.control, &s.user, "setPresence") == 1 },
    )
    .await;
    wait_for(limit, "the lease pass stays stuck", || async {
        lock_waits(&watcher).await.is_empty()
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(limit, run)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
    assert_eq!(
        calls(&s.control, &s.user, "setPresence"),
        1,
        "switched exactly once"
    );
    assert_eq!(availability(&s.control, &s.user), "Busy");
    let m = store.mailboxes().await.unwrap();
    assert_eq!(m[0].owner, None, "released on stop");
}

/// A poll of `check` every 20 ms for `period`: it must hold throughout (what must not
/// happen within a time, which nothing notifies).
async fn holds_for<F, Fut>(period: std::time::Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = std::time::Instant::now() + period;
    while std::time::Instant::now() < deadline {
        if let Err(e) = check().await {
            panic!("{what}: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// docs/server.md §7's double write. A worker above its fair share (a second worker
/// joined) gives a mailbox up while its `setPresence` for that mailbox is on its way: the
/// lease row is released only once presence automation has let the mailbox go (the write
/// answered and its outcome stored under the old lease). Released at once, the new holder
/// would load the journal with the write's outcome unknown, read the presence back before
/// the write landed and send it again: Graph would get the same transition twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_rebalanced_away_moves_only_once_its_presence_write_is_done() {
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], 2).await;
    // A worker above its share gives up the greatest mailbox ids first: that user's.
    let user = f.users.iter().max().unwrap().clone();
    let clock = Arc::new(FixedClock::new(real_now()));
    let start = clock.now() + Duration::hours(1);
    f.control
        .add_user_event(&user, meeting("Design review", start, 30))
        .unwrap();
    // The clock stands still but for the test's steps (leases of 3 s, renewed every second
    // of real time, expire only when it moves past them).
    clock.set(start - Duration::seconds(2));
    let (mut a, store, first) = f.claiming_worker(clock.clone(), "a", 3, 10).await;
    assert_eq!(first.claimed.len(), 2);
    assert!(a.sync_due(true).await.iter().all(|r| r.is_ok()));
    let ra = runner(
        &store,
        &f.emu,
        &f.cert,
        clock.clone(),
        SERVER_GROUP,
        f.dir.path(),
    );

    // The meeting begins; `a`'s setPresence is held back at Graph, on its way.
    f.control.hold_presence_calls("setPresence", Some(&user), 1);
    clock.set(start + Duration::milliseconds(500));
    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let run_a = tokio::spawn(a.with_presence(ra).run(async {
        stopped_a.await.ok();
    }));
    let limit = std::time::Duration::from_secs(30);
    wait_for(limit, "a's setPresence never went out", || async {
        f.control.held_presence_calls() == 1
    })
    .await;

    // A second worker joins: `a`'s share is one mailbox now, and it gives up `user`'s.
    let (b, store_b) = f.worker(clock.clone(), "b", 3, 10).await;
    let rb = runner(
        &store_b,
        &f.emu,
        &f.cert,
        clock.clone(),
        SERVER_GROUP,
        f.dir.path(),
    );
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let run_b = tokio::spawn(b.with_presence(rb).run(async {
        stopped_b.await.ok();
    }));
    let db = connect(&f.pg.url).await;
    wait_for(limit, "b never made a lease pass", || async {
        db.query_one("SELECT COUNT(*) FROM workers WHERE id = 'b'", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1
    })
    .await;
    // Several of `a`'s lease passes (one a second) see `b`; while the write is on its way
    // the mailbox stays `a`'s, and nothing is sent again.
    let owner = || async {
        store
            .mailboxes()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.id == user)
            .unwrap()
            .owner
    };
    holds_for(
        std::time::Duration::from_secs(4),
        "the mailbox moved while its presence write was on its way",
        || async {
            let owner = owner().await;
            let sent = calls(&f.control, &user, "setPresence");
            if owner.as_deref() == Some("a") && sent == 0 {
                Ok(())
            } else {
                Err(format!("owner {owner:?}, {sent} setPresence answered"))
            }
        },
    )
    .await;

    // The write lands: then, and only then, the mailbox moves to `b`.
    f.control.release_presence_calls();
    wait_for(limit, "the mailbox never moved to b", || async {
        owner().await.as_deref() == Some("b")
    })
    .await;
    // `a` stored the write's outcome under its own lease before letting go.
    let history = store.presence_history(&user).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.0 == "applied" && h.2 == "a" && h.3 == 1),
        "{history:?}"
    );
    // `b` loaded a journal with nothing open, and (reading back) sends nothing again.
    holds_for(
        std::time::Duration::from_secs(2),
        "the transition was sent twice",
        || async {
            match calls(&f.control, &user, "setPresence") {
                1 => Ok(()),
                n => Err(format!("{n} setPresence")),
            }
        },
    )
    .await;
    stop_a.send(()).unwrap();
    stop_b.send(()).unwrap();
    for run in [run_a, run_b] {
        tokio::time::timeout(limit, run)
            .await
            .expect("the worker stops")
            .unwrap()
            .unwrap();
    }
    assert_eq!(availability(&f.control, &user), "Busy");
    let summary = store.presence_summary().await.unwrap();
    assert!(summary.iter().all(|s| s.open_writes == 0), "{summary:?}");

    // The meeting ends; whoever holds the mailbox next gives back what `a` switched, once.
    clock.set(start + Duration::minutes(30) + Duration::seconds(1));
    let (c, store_c, _) = f.claiming_worker(clock.clone(), "c", 7200, 10).await;
    assert!(c.held().contains(&user));
    let mut rc = runner(
        &store_c,
        &f.emu,
        &f.cert,
        clock.clone(),
        SERVER_GROUP,
        f.dir.path(),
    );
    let none = HashSet::new();
    rc.pass(&leases(&c), &none).await;
    rc.pass(&leases(&c), &none).await;
    assert_eq!(calls(&f.control, &user, "clearPresence"), 1);
    assert_eq!(
        calls(&f.control, &user, "setPresence"),
        1,
        "nothing applied twice"
    );
    assert_eq!(availability(&f.control, &user), "Available");
}

/// The clock of a presence runner that hits a bug: it panics once the time it would tell
/// reaches `at` (the worker's lease loop keeps the plain clock). A panic is what stops the
/// presence task: a failed step (Graph or the database refusing, a connection terminated)
/// is logged and tried again.
struct PanicsAt {
    inner: Arc<FixedClock>,
    at: DateTime<Utc>,
}

impl Clock for PanicsAt {
    fn now(&self) -> DateTime<Utc> {
        let now = self.inner.now();
        assert!(now < self.at, "presence automation hit a bug");
        now
    }
}

/// `presence_stopped`: a worker whose presence automation died stops rather than hold
/// mailboxes nobody automates, and releases its leases: another worker takes the mailbox
/// at its next pass and automates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_presence_automation_dies_stops_and_releases_its_leases() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let panics = Arc::new(PanicsAt {
        inner: s.clock.clone(),
        at: s.start,
    });
    let (store, run) = running_worker(&s, panics, std::future::pending()).await;
    let limit = std::time::Duration::from_secs(30);

    // The meeting begins: presence automation wakes for it (a second later) and panics.
    s.clock.set(s.start + Duration::seconds(1));
    let panicked = std::time::Instant::now();
    let err = tokio::time::timeout(limit, run)
        .await
        .expect("the worker stops")
        .unwrap()
        .expect_err("the worker reports that presence automation stopped");
    // At once, not at its next lease pass (10 s after the first).
    let took = panicked.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "stopped after {took:?}"
    );
    assert_eq!(err.code(), "presence_stopped", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("presence automation stopped")
            && message.contains("presence automation hit a bug")
            && message.contains("the leases were released"),
        "{message}"
    );
    // Released, and the worker left: another one takes the mailbox at once and automates it.
    let m = store.mailboxes().await.unwrap();
    assert_eq!(m[0].owner, None, "released");
    let db = connect(&s.pg.url).await;
    let workers: i64 = db
        .query_one("SELECT COUNT(*) FROM workers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(workers, 0, "it left");
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 0);
    let (mut b, store_b) = s.worker(s.clock.clone(), "b", 30, 10).await;
    assert_eq!(
        b.maintain_leases().await.unwrap().claimed,
        vec![s.user.clone()]
    );
    let mut rb = runner(
        &store_b,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );
    assert!(rb.pass(&leases(&b), &HashSet::new()).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 1);
    assert_eq!(availability(&s.control, &s.user), "Busy");
}

/// What is not `presence_stopped`: the database connections terminated (an administrator's
/// `pg_terminate_backend`, a failover). The store opens a connection found closed again at
/// its next use, and a step caught by the termination mid-statement fails and is tried
/// again: presence automation and the worker go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_database_connection_does_not_stop_presence_automation() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_store, run) = running_worker(&s, s.clock.clone(), async {
        stopped.await.ok();
    })
    .await;
    let limit = std::time::Duration::from_secs(30);

    let db = connect(&s.pg.url).await;
    let terminated: i64 = db
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(terminated >= 1, "the worker's connections");
    // The meeting begins. A failed step would be tried again 5 s later on the clock: it
    // moves a second every 200 ms (up to 20 s, within the lease).
    s.clock.set(s.start + Duration::seconds(1));
    wait_for(limit, "the switch never happened", || async {
        if s.clock.now() < s.start + Duration::seconds(20) {
            s.clock.set(s.clock.now() + Duration::seconds(1));
        }
        tokio::time::sleep(std::time::Duration::from_millis(180)).await;
        calls(&s.control, &s.user, "setPresence") == 1
    })
    .await;
    assert!(!run.is_finished(), "the worker goes on");
    assert_eq!(availability(&s.control, &s.user), "Busy");
    stop.send(()).unwrap();
    tokio::time::timeout(limit, run)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 1);
}

/// The presence writes (anything but reads) Graph answered for `user`.
fn switches(control: &Control, user: &str) -> usize {
    control
        .presence_calls()
        .iter()
        .filter(|c| c.user.as_deref() == Some(user) && c.status < 300)
        .filter(|c| !c.kind.starts_with("get"))
        .count()
}

/// An all-day absence two days from now for `user`, as Outlook stores one (midnight to
/// midnight, no zone of its own).
fn all_day_absence(control: &Control, user: &str) -> chrono::NaiveDate {
    let day = real_now().date_naive() + chrono::Days::new(2);
    let next = day + chrono::Days::new(1);
    control
        .add_user_event(
            user,
            serde_json::json!({
                "subject": "Vacation",
                "showAs": "oof",
                "isAllDay": true,
                "start": {"dateTime": format!("{day}T00:00:00"), "timeZone": "UTC"},
                "end": {"dateTime": format!("{next}T00:00:00"), "timeZone": "UTC"},
            }),
        )
        .unwrap();
    day
}

/// Issue 20: an all-day appointment runs from the user's own midnight, in the time zone of
/// their mailbox settings (read with MailboxSettings.Read), not from UTC's: a user in
/// California away tomorrow is not switched at 4 pm the day before. Without the permission
/// the day is UTC's, and the refusal is noted.
#[tokio::test]
async fn an_all_day_absence_begins_at_the_users_own_midnight() {
    let f = Fixture::new(
        &[
            "Calendars.Read",
            "Presence.ReadWrite.All",
            "MailboxSettings.Read",
        ],
        1,
    )
    .await;
    let user = f.users[0].clone();
    f.control
        .update_tenant_mailbox_settings(
            &user,
            serde_json::json!({"timeZone": "Pacific Standard Time"}),
        )
        .unwrap();
    let day = all_day_absence(&f.control, &user);
    let clock = Arc::new(FixedClock::new(real_now()));
    let (mut w, store, _) = f.claiming_worker(clock.clone(), "a", 7 * 86_400, 10).await;
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    let mut r = runner(
        &store,
        &f.emu,
        &f.cert,
        clock.clone(),
        SERVER_GROUP,
        f.dir.path(),
    );
    let none = HashSet::new();
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    let (zone, read_at) = store.time_zone(&user).await.unwrap();
    assert_eq!(zone.as_deref(), Some("Pacific Standard Time"));
    // PostgreSQL keeps microseconds.
    let at_now = |t: Option<DateTime<Utc>>, now: DateTime<Utc>| {
        t.is_some_and(|t| (t - now).num_microseconds().is_some_and(|us| us.abs() < 1))
    };
    assert!(at_now(read_at, clock.now()), "{read_at:?}");

    let reads = |c: &Control| {
        c.presence_calls()
            .iter()
            .filter(|c| c.kind == "getMailboxSettings")
            .count()
    };
    // Half past midnight UTC: 4:30 pm the day before in California.
    let midnight_utc = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    clock.set(midnight_utc + Duration::minutes(30));
    r.pass(&leases(&w), &none).await;
    assert_eq!(switches(&f.control, &user), 0, "not before the user's day");

    // The user's midnight (PST, UTC-8).
    clock.set(midnight_utc + Duration::hours(8) + Duration::seconds(30));
    r.pass(&leases(&w), &none).await;
    assert!(
        switches(&f.control, &user) >= 1,
        "switched at the user's midnight"
    );
    // Another runner (a restart, or the next holder) within the day plans from the stored
    // zone, without reading it again.
    let read = reads(&f.control);
    let mut again = runner(
        &store,
        &f.emu,
        &f.cert,
        clock.clone(),
        SERVER_GROUP,
        f.dir.path(),
    );
    assert!(again.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(reads(&f.control), read, "not read again within a day");

    // Without MailboxSettings.Read: the day is UTC's, and the refusal is remembered.
    let g = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], 1).await;
    let user = g.users[0].clone();
    g.control
        .update_tenant_mailbox_settings(
            &user,
            serde_json::json!({"timeZone": "Pacific Standard Time"}),
        )
        .unwrap();
    let day = all_day_absence(&g.control, &user);
    let clock = Arc::new(FixedClock::new(real_now()));
    let (mut w, store, _) = g.claiming_worker(clock.clone(), "a", 7 * 86_400, 10).await;
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    let mut r = runner(
        &store,
        &g.emu,
        &g.cert,
        clock.clone(),
        SERVER_GROUP,
        g.dir.path(),
    );
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    let (zone, read_at) = store.time_zone(&user).await.unwrap();
    assert_eq!(zone, None);
    assert!(at_now(read_at, clock.now()), "{read_at:?}");
    clock.set(day.and_hms_opt(0, 0, 30).unwrap().and_utc());
    r.pass(&leases(&w), &none).await;
    assert!(
        switches(&g.control, &user) >= 1,
        "UTC's midnight without the permission"
    );
}

/// `n` users, each with a meeting starting at the same instant an hour from now, synced by
/// one worker; a runner batching with `linger` (long enough here that the debug build's
/// saves, spread over the connection pool, still meet in one batch window).
async fn same_instant(
    n: usize,
    linger_ms: u64,
) -> (
    Fixture,
    Arc<FixedClock>,
    DateTime<Utc>,
    Worker,
    PresenceRunner,
) {
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], n).await;
    let clock = Arc::new(FixedClock::new(real_now()));
    let start = clock.now() + Duration::hours(1);
    for user in &f.users {
        f.control
            .add_user_event(user, meeting("All hands", start, 30))
            .unwrap();
    }
    let (mut w, store, _) = f.claiming_worker(clock.clone(), "a", 7200, n as i64).await;
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    let r = runner_with(
        &store,
        &f.emu,
        &f.cert,
        clock.clone(),
        SERVER_GROUP,
        f.dir.path(),
        PresenceOptions {
            check_interval: Duration::seconds(60),
            concurrent_mailboxes: 2 * n,
            batch: Some(presently_server::batching::BatchOptions {
                linger: std::time::Duration::from_millis(linger_ms),
                max_attempts: 10,
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    (f, clock, start, w, r)
}

/// Graph requests to a user's presence sent alone (not inside a `$batch`).
fn presence_requests_alone(control: &Control) -> usize {
    control
        .request_log()
        .iter()
        .filter(|r| r.path.starts_with("/v1.0/users/") && r.path.contains("/presence"))
        .count()
}

#[tokio::test]
async fn switches_of_the_same_instant_go_out_in_a_few_batches_each_user_once() {
    let n = 40;
    let (f, clock, start, w, mut r) = same_instant(n, 300).await;
    let none = HashSet::new();
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(r.automated().len(), n);
    let before = f.control.batch_requests();

    clock.set(start + Duration::seconds(1));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    for user in &f.users {
        assert_eq!(calls(&f.control, user, "setPresence"), 1, "{user}");
        assert_eq!(availability(&f.control, user), "Busy");
    }
    let (batches, inner) = f.control.batch_requests();
    let (batches, inner) = (batches - before.0, inner - before.1);
    // Each switch reads the presence, then sets it: 2 × 40 calls, in batches of at most 20
    // (at most one request per user in each), so at least 4 batches; no more than 6.
    assert_eq!(inner, 2 * n as u64, "every call inside a batch");
    assert!((4..=6).contains(&batches), "{batches} batches");
    assert_eq!(presence_requests_alone(&f.control), 0);
    let stats = r.batch_stats().unwrap();
    assert_eq!(
        stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        2 * n as u64
    );

    // Nothing is sent again at the next pass.
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    for user in &f.users {
        assert_eq!(calls(&f.control, user, "setPresence"), 1, "{user}");
    }
}

#[tokio::test]
async fn a_call_throttled_inside_a_batch_is_retried_alone_without_delaying_the_others() {
    let n = 40;
    let (f, clock, start, w, mut r) = same_instant(n, 300).await;
    let none = HashSet::new();
    assert!(r.pass(&leases(&w), &none).await.is_empty());

    // The next 5 presence calls (of the first batch: reads of the presence) answer 429
    // with Retry-After: 3.
    f.control
        .fail_next_presence_calls_with_retry_after(5, 429, Some(3));
    clock.set(start + Duration::seconds(1));
    let began = chrono::Utc::now();
    assert!(r.pass(&leases(&w), &none).await.is_empty());

    let all = f.control.presence_calls();
    let throttled: HashSet<String> = all
        .iter()
        .filter(|c| c.status == 429)
        .filter_map(|c| c.user.clone())
        .collect();
    assert_eq!(throttled.len(), 5, "{throttled:?}");
    let set_at = |user: &str| {
        all.iter()
            .find(|c| c.kind == "setPresence" && c.status < 300 && c.user.as_deref() == Some(user))
            .map(|c| c.at)
            .unwrap()
    };
    for user in &f.users {
        assert_eq!(calls(&f.control, user, "setPresence"), 1, "{user}");
        assert_eq!(availability(&f.control, user), "Busy");
        let after = (set_at(user) - began).num_milliseconds();
        if throttled.contains(user) {
            assert!(
                after >= 3000,
                "{user} retried after its Retry-After: {after} ms"
            );
        } else {
            assert!(
                after < 2500,
                "{user} not held back by the others' Retry-After: {after} ms"
            );
        }
    }
    assert!(
        r.batch_stats()
            .unwrap()
            .retried
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 5
    );
    assert_eq!(presence_requests_alone(&f.control), 0);
}

#[tokio::test]
async fn with_graph_throttling_per_mailbox_every_user_still_switches_once() {
    let n = 30;
    let (f, clock, start, w, mut r) = same_instant(n, 50).await;
    let none = HashSet::new();
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    // One request per second per mailbox and 20 per second for the tenant: the read and
    // the write of a switch cannot both pass in the same second, nor all users at once.
    f.control.set_throttling(presently_emulator::Throttling {
        mailbox_per_sec: Some(1),
        tenant_per_sec: Some(20),
        retry_after_secs: 1,
        ..Default::default()
    });
    clock.set(start + Duration::seconds(1));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert!(f.control.throttled_requests() > 0);
    for user in &f.users {
        assert_eq!(calls(&f.control, user, "setPresence"), 1, "{user}");
        assert_eq!(availability(&f.control, user), "Busy");
    }
}

/// A policy replaced while the runner runs (what SIGHUP does) is applied at its next pass:
/// a group that no longer has the server automate presence gets back what it holds, and one
/// that does again is automated again.
#[tokio::test]
async fn a_replaced_policy_applies_at_the_next_pass() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let (mut w, store, _) = s.claiming_worker(s.clock.clone(), "a", 7200, 10).await;
    w.sync_due(true).await;
    let load = |text: &str| {
        let path = s.dir.path().join("policy.toml");
        std::fs::write(&path, text).unwrap();
        Some(Arc::new(presently_server::policy::load(&path).unwrap()))
    };
    let shared = presently_server::policy::SharedPolicy::new(load(SERVER_GROUP));
    let tokens = Arc::new(token_source(&s.emu, &s.cert, s.clock.clone()).unwrap());
    let mut r = PresenceRunner::new(
        store.clone(),
        tokens,
        &s.emu.base_url(),
        CLIENT_ID,
        s.clock.clone(),
        shared.clone(),
        SyncConfig::default(),
        PresenceOptions {
            check_interval: Duration::seconds(60),
            ..Default::default()
        },
    );
    let mut changes = r.policy_changes();
    let none = HashSet::new();
    s.clock.set(s.start + Duration::seconds(1));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(availability(&s.control, &s.user), "Busy");

    // The clients take the group over: what the server holds is given back.
    shared.replace(load(CLIENT_GROUP));
    assert!(changes.has_changed().unwrap(), "the runner's task is woken");
    changes.mark_unchanged();
    s.clock.set(s.start + Duration::minutes(2));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "clearPresence"), 1);
    assert_eq!(availability(&s.control, &s.user), "Available");
    assert!(r.automated().contains(&s.user), "kept until given back");
    s.clock.set(s.start + Duration::minutes(3));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 1, "not again");

    // And back to the server: the meeting under way is switched again.
    shared.replace(load(SERVER_GROUP));
    s.clock.set(s.start + Duration::minutes(4));
    assert!(r.pass(&leases(&w), &none).await.is_empty());
    assert_eq!(calls(&s.control, &s.user, "setPresence"), 2);
    assert_eq!(availability(&s.control, &s.user), "Busy");
}

/// Connections `presence_switches_on_time_while_sync_rounds_hold_their_connections` keeps
/// for presence automation (0: the store before `[database] reserved_for_presence`).
const RESERVED_FOR_PRESENCE: usize = 1;

/// `[database] reserved_for_presence`: sync rounds holding every connection their lane may
/// (each round's page waits inside its transaction for its mailbox row, which another
/// transaction holds: a slow database) leave the reserved one to presence automation, and
/// a meeting that starts meanwhile is switched on time. Without the reserve the switch
/// waits for a connection until the rounds are done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_switches_on_time_while_sync_rounds_hold_their_connections() {
    use presently_server::sync::SyncContext;
    use presently_server::worker::WorkerOptions;
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], 0).await;
    // By user principal name: the policy's groups list users so.
    let users: Vec<String> = f
        .control
        .add_users(9)
        .into_iter()
        .map(|(_, upn)| upn)
        .collect();
    let automated = users[0].clone();
    let syncing = users[1..].to_vec();
    let clock = Arc::new(FixedClock::new(real_now()));
    let start = clock.now() + Duration::hours(1);
    f.control
        .add_user_event(&automated, meeting("Stand-up", start, 30))
        .unwrap();
    // Four connections (the default), one kept for presence (the default).
    let store = Arc::new(
        Store::connect(&f.pg.url, None, clock.clone())
            .await
            .unwrap()
            .with_connections(4)
            .await
            .unwrap()
            .reserve_for_presence(RESERVED_FOR_PRESENCE),
    );
    store.migrate().await.unwrap();
    store.set_users(&users).await.unwrap();
    let tokens = Arc::new(token_source(&f.emu, &f.cert, clock.clone()).unwrap());
    let mut ctx = SyncContext::new(store.clone(), tokens, &f.emu.base_url(), clock.clone());
    ctx.page_size = 10;
    let mut w = Worker::new(
        Arc::new(ctx),
        WorkerOptions {
            worker_id: "a".into(),
            lease_for: chrono::Duration::seconds(7200),
            max_mailboxes: 20,
            interval: chrono::Duration::seconds(60),
            concurrent_mailboxes: 8,
        },
    );
    w.maintain_leases().await.unwrap();
    assert_eq!(w.held().len(), 9);
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    // Only the first user's group has the server automate presence.
    let policy = format!(
        "[[groups]]\nname = \"Automated\"\nusers = [\"{automated}\"]\nautomation = \"server\"\n\n[[groups]]\nname = \"Everyone\"\ndefault = true\n"
    );
    let presence_store = Arc::new(store.presence_lane());
    let mut r = runner(
        &presence_store,
        &f.emu,
        &f.cert,
        clock.clone(),
        &policy,
        f.dir.path(),
    );
    let held = leases(&w);
    let none = HashSet::new();
    assert!(r.pass(&held, &none).await.is_empty());
    assert_eq!(r.automated(), vec![automated.clone()]);

    // The other mailboxes' rows are held: their rounds' pages wait inside their
    // transactions, each on a connection.
    let mut locker = connect(&f.pg.url).await;
    let tx = locker.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM mailboxes WHERE id = ANY($1) FOR UPDATE",
        &[&syncing],
    )
    .await
    .unwrap();
    let watcher = connect(&f.pg.url).await;
    let sync = tokio::spawn(async move {
        let results = w.sync_due(true).await;
        (w, results)
    });
    wait_for(
        std::time::Duration::from_secs(30),
        "the sync rounds never held their connections",
        || async { lock_waits(&watcher).await.len() >= 3 },
    )
    .await;
    // Time for a fourth round to take the last connection, were it not reserved.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let waiting = lock_waits(&watcher).await.len();
    assert!(waiting >= 3, "{waiting}");

    // The meeting begins: the switch goes out while the rounds still wait.
    clock.set(start + Duration::seconds(1));
    let began = std::time::Instant::now();
    let errors = tokio::time::timeout(std::time::Duration::from_secs(10), r.pass(&held, &none))
        .await
        .unwrap_or_else(|_| {
            panic!("the presence pass waited for a connection the sync rounds held ({waiting} rounds waiting)")
        });
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(calls(&f.control, &automated, "setPresence"), 1);
    assert_eq!(availability(&f.control, &automated), "Busy");
    assert!(
        !lock_waits(&watcher).await.is_empty(),
        "the rounds were still waiting"
    );
    let took = began.elapsed();

    // The rows let go, the rounds finish.
    tx.commit().await.unwrap();
    let (_w, results) = tokio::time::timeout(std::time::Duration::from_secs(60), sync)
        .await
        .expect("the rounds finish")
        .unwrap();
    assert_eq!(results.len(), 9);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}
