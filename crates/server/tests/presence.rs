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
use presently_server::store::{Lease, Store};
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
        PresenceOptions {
            check_interval: Duration::seconds(60),
            ..Default::default()
        },
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
    dir: tempfile::TempDir,
    cert: Certificate,
    pg: Postgres,
    emu: presently_emulator::Emulator,
    control: Control,
    user: String,
    clock: Arc<FixedClock>,
    start: DateTime<Utc>,
}

async fn setup(roles: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let cert = make_certificate(dir.path(), "app");
    let pg = Postgres::start();
    let emu = emulator().await;
    let control = emu.control();
    control
        .register_confidential_app(CLIENT_ID, Some(&cert.cert_pem), &[], roles)
        .unwrap();
    let user = control.add_users(1).remove(0).0;
    let clock = Arc::new(FixedClock::new(real_now()));
    let start = clock.now() + Duration::hours(1);
    control
        .add_user_event(&user, meeting("Design review", start, 30))
        .unwrap();
    Setup {
        dir,
        cert,
        pg,
        emu,
        control,
        user,
        clock,
        start,
    }
}

#[tokio::test]
async fn a_meeting_switches_the_users_presence_and_restores_it() {
    let s = setup(&["Calendars.Read", "Presence.ReadWrite.All"]).await;
    let (mut w, store) = worker(&s.pg, &s.emu, &s.cert, s.clock.clone(), "a", 7200, 10).await;
    store
        .set_users(std::slice::from_ref(&s.user))
        .await
        .unwrap();
    w.maintain_leases().await.unwrap();
    assert!(w.sync_due(true).await.iter().all(|r| r.is_ok()));
    let mut r = runner(
        &store,
        &s.emu,
        &s.cert,
        s.clock.clone(),
        SERVER_GROUP,
        s.dir.path(),
    );

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
    let (mut w, store) = worker(&s.pg, &s.emu, &s.cert, s.clock.clone(), "a", 7200, 10).await;
    store
        .set_users(std::slice::from_ref(&s.user))
        .await
        .unwrap();
    w.maintain_leases().await.unwrap();
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
    let (mut a, store) = worker(&s.pg, &s.emu, &s.cert, s.clock.clone(), "a", 7200, 10).await;
    let (mut b, _) = worker(&s.pg, &s.emu, &s.cert, s.clock.clone(), "b", 7200, 10).await;
    store
        .set_users(std::slice::from_ref(&s.user))
        .await
        .unwrap();
    a.maintain_leases().await.unwrap();
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
    let (mut w, store) = worker(&s.pg, &s.emu, &s.cert, s.clock.clone(), "a", 7200, 10).await;
    store
        .set_users(std::slice::from_ref(&s.user))
        .await
        .unwrap();
    w.maintain_leases().await.unwrap();
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
    let (mut w, store) = worker(&s.pg, &s.emu, &s.cert, s.clock.clone(), "a", 7200, 10).await;
    store
        .set_users(std::slice::from_ref(&s.user))
        .await
        .unwrap();
    w.maintain_leases().await.unwrap();
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
