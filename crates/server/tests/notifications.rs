//! Change notifications end to end (issue 21): a real PostgreSQL, the emulator posting
//! Graph's notifications to the workers' webhooks on loopback, the holders woken through
//! LISTEN/NOTIFY. The safety poll is an hour away in every test: a change that reaches the
//! store in seconds came by notification.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use common::*;
use presently_engine::{Clock, SystemClock};
use presently_server::metrics::Metrics;
use presently_server::store::Store;
use std::sync::Arc;
use std::time::Duration;

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

/// Waits (up to `limit`) until `ready` says yes, looking again every 20 ms.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !ready().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ids of the subscriptions recorded in the store.
async fn recorded_ids(store: &Store) -> Vec<String> {
    store
        .subscriptions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

/// A worker's HTTP listener serving the webhook: its URL.
async fn serve_webhook(store: Arc<Store>, metrics: Arc<Metrics>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = presently_server::webhook::router("/notifications", store, metrics);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/notifications")
}

/// A running worker with notifications on.
struct Node {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Its own webhook.
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Starts worker `id`; Graph is told to post to `public_url` (its own webhook unless
    /// given: a load balancer may send everything elsewhere).
    async fn start(
        f: &Fixture,
        id: &str,
        lease_secs: i64,
        max_mailboxes: i64,
        public_url: Option<&str>,
    ) -> Node {
        let (mut worker, store) = worker_with_connections(
            &f.pg,
            &f.emu,
            &f.cert,
            system_clock(),
            id,
            lease_secs,
            max_mailboxes,
            3,
        )
        .await;
        store.set_users(&f.users).await.unwrap();
        worker.options.interval = chrono::Duration::hours(1);
        let metrics = Arc::new(Metrics::new());
        let url = serve_webhook(store.clone(), metrics.clone()).await;
        let wakes = store.listen();
        let worker = worker
            .with_notifications(public_url.unwrap_or(&url), wakes)
            .with_metrics(metrics.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Node {
            store,
            metrics,
            url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the worker as `kill -9` would: no release, no deletion; its leases run out.
    fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// The emulator's live subscriptions on `user`'s events.
fn live_subscriptions(f: &Fixture, user: &str) -> Vec<String> {
    f.control
        .subscriptions()
        .into_iter()
        .filter(|(_, resource, _)| resource == &format!("users/{user}/events"))
        .map(|(id, _, _)| id)
        .collect()
}

/// Waits until every user has one subscription on the emulator, recorded in the table, and
/// a first round done.
async fn wait_subscribed(f: &Fixture, store: &Store) {
    wait_for(
        Duration::from_secs(20),
        "every mailbox subscribed and synced",
        || async {
            let rows = store.subscriptions().await.unwrap();
            let mut ok = rows.len() == f.users.len();
            for user in &f.users {
                let live = live_subscriptions(f, user);
                ok &= live.len() == 1
                    && rows.iter().any(|r| &r.mailbox == user && r.id == live[0])
                    && store
                        .sync_state(user)
                        .await
                        .unwrap()
                        .is_some_and(|s| s.delta_link.is_some());
            }
            ok
        },
    )
    .await;
}

async fn has(store: &Store, user: &str, subject: &str) -> bool {
    store
        .appointments(user)
        .await
        .unwrap()
        .iter()
        .any(|a| a.subject == subject)
}

#[tokio::test]
async fn a_change_reaches_the_store_by_notification_in_a_second_or_two() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let node = Node::start(&f, "w1", 30, 10, None).await;
    wait_subscribed(&f, &node.store).await;
    assert_eq!(node.metrics.subscriptions_active.get(), 2);
    // The next lease pass is ten seconds away, the next round an hour.
    let added = std::time::Instant::now();
    f.control
        .add_user_event(&f.users[1], event("By notification"))
        .unwrap();
    wait_for(Duration::from_secs(3), "the change synced", || {
        has(&node.store, &f.users[1], "By notification")
    })
    .await;
    assert!(added.elapsed() < Duration::from_secs(3));
    assert!(!has(&node.store, &f.users[0], "By notification").await);
    assert!(node.metrics.notifications_accepted.get() >= 1);
    assert_eq!(node.metrics.notifications_rejected.get(), 0);
    // A deleted event goes the same way.
    let id = f
        .control
        .add_user_event(&f.users[0], event("Short-lived"))
        .unwrap();
    wait_for(Duration::from_secs(3), "the new event synced", || {
        has(&node.store, &f.users[0], "Short-lived")
    })
    .await;
    f.control.remove_user_event(&f.users[0], &id).unwrap();
    wait_for(Duration::from_secs(3), "the removal synced", || async {
        !has(&node.store, &f.users[0], "Short-lived").await
    })
    .await;
    // Shutdown deletes the subscriptions.
    node.shutdown().await;
    assert!(f.control.subscriptions().is_empty());
    assert!(Store::connect(&f.pg.url, None, system_clock())
        .await
        .unwrap()
        .subscriptions()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_notification_with_a_wrong_client_state_changes_nothing() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    let node = Node::start(&f, "w1", 30, 10, None).await;
    wait_subscribed(&f, &node.store).await;
    let user = &f.users[0];
    let sub = node.store.subscriptions().await.unwrap().remove(0);
    // Graph's own notification of this change is far off.
    f.control.set_notification_delay(Duration::from_secs(120));
    f.control
        .add_user_event(user, event("Forged wake-up"))
        .unwrap();
    let http = reqwest::Client::new();
    let forged = serde_json::json!({"value": [{
        "subscriptionId": sub.id, "clientState": "not-the-secret", "changeType": "created",
        "resource": format!("Users/{user}/Events/x"),
    }]});
    let answer = http.post(&node.url).json(&forged).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    wait_for(Duration::from_secs(3), "the forgery rejected", || async {
        node.metrics.notifications_rejected.get() == 1
    })
    .await;
    // Nothing is woken by it: the round it would have started would take well under this.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!has(&node.store, user, "Forged wake-up").await);
    assert_eq!(node.metrics.notifications_accepted.get(), 0);
    // The same with the subscription's secret is trusted.
    let genuine = serde_json::json!({"value": [{
        "subscriptionId": sub.id, "clientState": sub.client_state, "changeType": "created",
    }]});
    let answer = http.post(&node.url).json(&genuine).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    wait_for(Duration::from_secs(3), "the change synced", || {
        has(&node.store, user, "Forged wake-up")
    })
    .await;
    // The validation handshake is echoed as text.
    let answer = http
        .post(&node.url)
        .query(&[("validationToken", "Validation: abc 123")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(answer.text().await.unwrap(), "Validation: abc 123");
    node.shutdown().await;
}

#[tokio::test]
async fn missed_notifications_sync_the_mailbox() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let node = Node::start(&f, "w1", 30, 10, None).await;
    wait_subscribed(&f, &node.store).await;
    let user = &f.users[0];
    f.control.miss_notifications(1);
    f.control.add_user_event(user, event("Missed one")).unwrap();
    wait_for(Duration::from_secs(3), "the mailbox synced", || {
        has(&node.store, user, "Missed one")
    })
    .await;
    let missed = f
        .control
        .notification_deliveries()
        .into_iter()
        .filter(|(_, body, _)| body["value"][0]["lifecycleEvent"] == "missed")
        .count();
    assert_eq!(missed, 1);
    node.shutdown().await;
}

#[tokio::test]
async fn a_removed_subscription_is_made_again() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let node = Node::start(&f, "w1", 30, 10, None).await;
    wait_subscribed(&f, &node.store).await;
    let user = &f.users[0];
    let old = live_subscriptions(&f, user).remove(0);
    assert!(f.control.send_lifecycle(&old, "subscriptionRemoved"));
    wait_for(Duration::from_secs(5), "a new subscription", || async {
        let live = live_subscriptions(&f, user);
        let rows = node.store.subscriptions().await.unwrap();
        live.len() == 1 && live[0] != old && rows.len() == 1 && rows[0].id == live[0]
    })
    .await;
    // And it works.
    f.control
        .add_user_event(user, event("After re-creation"))
        .unwrap();
    wait_for(Duration::from_secs(3), "the change synced", || {
        has(&node.store, user, "After re-creation")
    })
    .await;
    // reauthorizationRequired renews it (a PATCH), the subscription stays.
    let current = live_subscriptions(&f, user).remove(0);
    let patches = || {
        f.control
            .request_log()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(&current))
            .count()
    };
    assert_eq!(patches(), 0);
    assert!(f
        .control
        .send_lifecycle(&current, "reauthorizationRequired"));
    wait_for(
        Duration::from_secs(3),
        "the subscription renewed",
        || async { patches() == 1 },
    )
    .await;
    assert_eq!(live_subscriptions(&f, user), vec![current]);
    node.shutdown().await;
}

#[tokio::test]
async fn a_mailbox_moving_to_another_worker_takes_its_subscription_along() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    // Short leases: passes every second.
    let a = Node::start(&f, "a", 3, 10, None).await;
    wait_subscribed(&f, &a.store).await;
    let before: Vec<(String, String)> = a
        .store
        .subscriptions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.mailbox, s.id))
        .collect();
    let b = Node::start(&f, "b", 3, 10, None).await;
    // One mailbox moves to b: its subscription is deleted by a and made again by b.
    wait_for(
        Duration::from_secs(20),
        "a mailbox moved with its subscription",
        || async {
            let rows = a.store.subscriptions().await.unwrap();
            let owners: Vec<Option<String>> = a
                .store
                .mailboxes()
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.owner)
                .collect();
            let split = owners.contains(&Some("a".into())) && owners.contains(&Some("b".into()));
            let live = f.control.subscriptions();
            let moved = rows
                .iter()
                .filter(|r| !before.contains(&(r.mailbox.clone(), r.id.clone())))
                .count();
            split
                && moved == 1
                && rows.len() == 2
                && live.len() == 2
                && rows
                    .iter()
                    .all(|r| live.iter().any(|(id, _, _)| id == &r.id))
        },
    )
    .await;
    // b's mailbox notifies b.
    let moved = a
        .store
        .mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.owner.as_deref() == Some("b"))
        .unwrap()
        .id;
    f.control
        .add_user_event(&moved, event("Moved along"))
        .unwrap();
    wait_for(Duration::from_secs(3), "the change synced", || {
        has(&b.store, &moved, "Moved along")
    })
    .await;
    assert!(b.metrics.notifications_accepted.get() >= 1);
    b.shutdown().await;
    a.shutdown().await;
}

/// The new holder notifies another URL than the killed worker did (each node its own
/// webhook here): the old subscriptions cannot be adopted, so they are replaced (made
/// anew, the old ones deleted).
#[tokio::test]
async fn a_killed_workers_subscriptions_are_deleted_by_the_mailboxes_new_holder() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let a = Node::start(&f, "a", 3, 10, None).await;
    wait_subscribed(&f, &a.store).await;
    let left = recorded_ids(&a.store).await;
    assert_eq!(left.len(), 2);
    let store = a.store.clone();
    a.kill();
    // b takes both mailboxes over once a's leases run out (3 s), subscribes to each, and
    // deletes what a left on Graph: two live subscriptions, both b's and recorded.
    let b = Node::start(&f, "b", 3, 10, None).await;
    wait_for(
        Duration::from_secs(20),
        "the killed worker's subscriptions replaced and deleted",
        || async {
            let rows = store.subscriptions().await.unwrap();
            let live = f.control.subscriptions();
            rows.len() == 2
                && rows.iter().all(|r| !left.contains(&r.id))
                && live.len() == 2
                && rows
                    .iter()
                    .all(|r| live.iter().any(|(id, _, _)| id == &r.id))
        },
    )
    .await;
    assert!(f
        .control
        .subscriptions()
        .iter()
        .all(|(id, _, _)| !left.contains(id)));
    b.shutdown().await;
}

/// The organization's one public URL: the new holder of a killed worker's mailboxes adopts
/// their live subscriptions (renews them by id, keeps the recorded client state) rather
/// than making new ones and deleting the old; one that Graph no longer knows (404) is made
/// anew. A change then reaches the new holder through the adopted subscription.
#[tokio::test]
async fn a_killed_workers_live_subscriptions_are_adopted_by_the_mailboxes_new_holder() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let a = Node::start(&f, "a", 3, 10, None).await;
    // The load balancer's URL: a's webhook, which stays up (any worker's webhook wakes the
    // holder through the database).
    let public = a.url.clone();
    wait_subscribed(&f, &a.store).await;
    let before = f.control.subscriptions();
    let left = recorded_ids(&a.store).await;
    let store = a.store.clone();
    a.kill();
    // The second mailbox's subscription is gone from Graph meanwhile.
    let (keep, gone) = (f.users[0].clone(), f.users[1].clone());
    let gone_id = live_subscriptions(&f, &gone)[0].clone();
    assert!(f.control.send_lifecycle(&gone_id, "subscriptionRemoved"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let creations_before = subscription_creations(&f);

    let b = Node::start(&f, "b", 3, 10, Some(&public)).await;
    let kept_id = live_subscriptions(&f, &keep)[0].clone();
    assert!(left.contains(&kept_id));
    wait_for(
        Duration::from_secs(20),
        "the live subscription adopted, the gone one made anew",
        || async {
            let rows = store.subscriptions().await.unwrap();
            let live = f.control.subscriptions();
            let renewed = live.iter().any(|(id, _, expires)| {
                id == &kept_id
                    && before
                        .iter()
                        .any(|(old, _, was)| old == &kept_id && expires > was)
            });
            rows.len() == 2
                && live.len() == 2
                && renewed
                && rows.iter().any(|r| r.mailbox == keep && r.id == kept_id)
                && rows
                    .iter()
                    .any(|r| r.mailbox == gone && !left.contains(&r.id))
                && rows
                    .iter()
                    .all(|r| live.iter().any(|(id, _, _)| id == &r.id))
        },
    )
    .await;
    assert_eq!(
        subscription_creations(&f) - creations_before,
        1,
        "only the gone one was made anew"
    );
    // The adopted subscription notifies b with the recorded client state (b's first round
    // done before the change: only a notification brings it in within the hour).
    wait_for(Duration::from_secs(10), "b's first round", || async {
        b.store
            .history(Some(&keep), 1)
            .await
            .unwrap()
            .first()
            .is_some_and(|r| r.worker == "b")
    })
    .await;
    f.control
        .add_user_event(&keep, event("Through the adopted subscription"))
        .unwrap();
    wait_for(Duration::from_secs(5), "the change synced", || {
        has(&b.store, &keep, "Through the adopted subscription")
    })
    .await;
    let last = b.store.history(Some(&keep), 1).await.unwrap().remove(0);
    assert_eq!(last.worker, "b");
    b.shutdown().await;
    // b gave it up at shutdown: deleted like its own.
    assert!(f.control.subscriptions().is_empty());
}

/// A worker that was paused past its lease (not killed) finds its leases lost when it
/// wakes; meanwhile the mailboxes' new holder adopted their subscriptions. The old holder
/// must not delete them on its way out: they are the new holder's now.
#[tokio::test]
async fn a_worker_that_lost_its_leases_leaves_the_adopted_subscriptions_alone() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let make = |id: &'static str| {
        let f = &f;
        async move {
            let (w, store) =
                worker_with_connections(&f.pg, &f.emu, &f.cert, system_clock(), id, 3, 10, 2).await;
            (w, store)
        }
    };
    let (a, store) = make("a").await;
    store.set_users(&f.users).await.unwrap();
    let public = serve_webhook(store.clone(), Arc::new(Metrics::new())).await;
    // No LISTEN needed: the workers are driven by hand.
    let (_keep_a, wakes_a) = tokio::sync::mpsc::unbounded_channel();
    let mut a = a.with_notifications(&public, wakes_a);
    a.maintain_leases().await.unwrap();
    a.drive_subscriptions().await;
    let made = recorded_ids(&store).await;
    assert_eq!(made.len(), 2);
    // a pauses past its lease; b claims the mailboxes and adopts their subscriptions.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let (b, _) = make("b").await;
    let (_keep_b, wakes_b) = tokio::sync::mpsc::unbounded_channel();
    let mut b = b.with_notifications(&public, wakes_b);
    assert_eq!(b.maintain_leases().await.unwrap().claimed.len(), 2);
    b.drive_subscriptions().await;
    let adopted = recorded_ids(&store).await;
    assert_eq!(
        {
            let mut v = adopted.clone();
            v.sort();
            v
        },
        {
            let mut v = made.clone();
            v.sort();
            v
        },
        "adopted, not replaced"
    );
    // a wakes: its leases are lost, and its book lets the mailboxes go.
    assert_eq!(a.maintain_leases().await.unwrap().lost.len(), 2);
    a.drive_subscriptions().await;
    let mut live: Vec<String> = f.control.subscriptions().into_iter().map(|s| s.0).collect();
    live.sort();
    let mut made = made;
    made.sort();
    assert_eq!(live, made, "b's adopted subscriptions stay on Graph");
    assert_eq!(
        store.subscriptions().await.unwrap().len(),
        2,
        "and recorded"
    );
}

/// `POST /v1.0/subscriptions` requests the emulator served.
fn subscription_creations(f: &Fixture) -> usize {
    f.control
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1.0/subscriptions")
        .count()
}

#[tokio::test]
async fn a_notification_reaching_the_other_worker_wakes_the_holder() {
    let f = Fixture::new(&["Calendars.Read"], 2).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    // The load balancer sends every notification to b.
    let b = Node::start(&f, "b", 30, 1, None).await;
    let a = Node::start(&f, "a", 30, 1, Some(&b.url)).await;
    wait_subscribed(&f, &a.store).await;
    let held_by_a = a
        .store
        .mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.owner.as_deref() == Some("a"))
        .unwrap()
        .id;
    f.control
        .add_user_event(&held_by_a, event("Through the database"))
        .unwrap();
    wait_for(Duration::from_secs(3), "the change synced", || {
        has(&a.store, &held_by_a, "Through the database")
    })
    .await;
    assert!(b.metrics.notifications_accepted.get() >= 1);
    assert_eq!(a.metrics.notifications_received.get(), 0);
    let last = a
        .store
        .history(Some(&held_by_a), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(last.worker, "a", "the holder synced it");
    a.shutdown().await;
    b.shutdown().await;
}

/// `presently-server serve` with `[notifications]`: the webhook on the `[http]` listener,
/// subscriptions made, a change synced by notification; the regular interval (1 s in this
/// config) replaced by the safety poll.
#[tokio::test(flavor = "multi_thread")]
async fn serve_with_notifications_configured() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    f.control.set_notification_delay(Duration::from_millis(50));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = f.dir.path().join("server.toml");
    let text = format!(
        "{}\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[notifications]\npublic_url = \"http://127.0.0.1:{port}/notifications\"\nsafety_poll_secs = 3600\n",
        // Short leases: a lease pass every second, where the 1 s interval would poll.
        config_text(&f.pg.url, &f.emu, &f.cert, &f.users, "proc", 3)
    );
    std::fs::write(&config, text).unwrap();
    let _server = ServerProcess::serve(&config);
    let store = Store::connect(&f.pg.url, None, system_clock())
        .await
        .unwrap();
    let user = &f.users[0];
    wait_for(Duration::from_secs(30), "subscribed and synced", || async {
        store.migrate().await.is_ok()
            && live_subscriptions(&f, user).len() == 1
            && store.subscriptions().await.unwrap().len() == 1
            && store
                .sync_state(user)
                .await
                .unwrap()
                .is_some_and(|s| s.delta_link.is_some())
    })
    .await;
    // `status` tells how many held mailboxes have a live subscription.
    let (ok, out, err) = run_cli(&config, &["status"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("change notifications: 1 of 1 held mailboxes subscribed; next expiry 20"),
        "{out}"
    );
    assert!(!out.contains("without a subscription"), "{out}");
    let rounds_before = store.history(Some(user), 100).await.unwrap().len();
    f.control
        .add_user_event(user, event("Served by notification"))
        .unwrap();
    wait_for(Duration::from_secs(3), "the change synced", || {
        has(&store, user, "Served by notification")
    })
    .await;
    let metrics = || async {
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    wait_for(
        Duration::from_secs(3),
        "the notification counted",
        || async {
            metrics()
                .await
                .contains("presently_server_notifications_accepted_total 1")
        },
    )
    .await;
    assert!(metrics()
        .await
        .contains("presently_server_subscriptions_active 1"));
    // No polling every second: three lease passes on, only the notification's round was
    // added.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rounds_after = store.history(Some(user), 100).await.unwrap().len();
    assert_eq!(rounds_after, rounds_before + 1);
}

/// A loopback HTTP server that answers every request with `status` and `body`: something
/// else than a presently-server webhook behind the public URL. Its URL.
async fn other_server(status: u16, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    let app = axum::Router::new().fallback(move || async move { (status, body) });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/notifications")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `check` with `[notifications]` sends Graph's validation handshake through `public_url`:
/// it passes with no serve running (it serves the webhook on `[http] listen` itself for
/// the probe) and with a serve running (which answers), and fails with
/// `webhook_unreachable`, naming the URL and what came back, when something else answers
/// there or nothing does.
#[tokio::test(flavor = "multi_thread")]
async fn check_sends_the_validation_handshake_through_the_public_url() {
    let f = Fixture::new(&["Calendars.Read"], 1).await;
    let config = f.dir.path().join("server.toml");
    let port = free_port();
    let write = |public_url: &str| {
        let text = format!(
            "{}\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[notifications]\npublic_url = \"{public_url}\"\nsafety_poll_secs = 3600\n",
            config_text(&f.pg.url, &f.emu, &f.cert, &f.users, "proc", 3)
        );
        std::fs::write(&config, text).unwrap();
    };
    let own = format!("http://127.0.0.1:{port}/notifications");

    // No serve yet: check listens on [http] listen itself for the probe.
    write(&own);
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("notifications: {own} answers Graph's validation handshake (check served the webhook on 127.0.0.1:{port} itself")),
        "{out}"
    );
    // And let the address go again: serve can start on it.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());

    // A serve running: the address is taken, and serve's webhook answers.
    let _server = ServerProcess::serve(&config);
    wait_for(Duration::from_secs(30), "serve listening", || async {
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok()
    })
    .await;
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "notifications: {own} answers Graph's validation handshake (127.0.0.1:{port} is in use: the running serve answered)"
        )),
        "{out}"
    );
    drop(_server);

    // The public URL reaches something else: named, with what it answered.
    let not_found = other_server(404, "no such page").await;
    write(&not_found);
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(&format!(
            "the notification URL {not_found} does not reach a presently-server webhook: it answered 404 Not Found (body: \"no such page\")"
        )) && err.contains("[webhook_unreachable]"),
        "{err}"
    );
    let wrong_body = other_server(200, "hello").await;
    write(&wrong_body);
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(&wrong_body)
            && err.contains("it answered 200 but not with the validation token (body: \"hello\")")
            && err.contains("[webhook_unreachable]"),
        "{err}"
    );
    // Nothing listens there.
    let refused = format!("http://127.0.0.1:{}/notifications", free_port());
    write(&refused);
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(&refused)
            && err.contains("connection refused")
            && err.contains("[webhook_unreachable]"),
        "{err}"
    );
}

/// A worker that claims many mailboxes at once subscribes to them without letting its
/// leases run out: the calls go out side by side and the loop goes back to renewing its
/// leases in time. With Graph taking 100 ms a request, 60 creations one after the other
/// took 6 s (each also waits for Graph's validation request to the webhook), twice the 3 s
/// lease: the leases expired and were claimed again (at 10,000 mailboxes, by the other
/// workers, and the mailboxes went round).
#[tokio::test(flavor = "multi_thread")]
async fn claiming_many_mailboxes_at_once_keeps_the_leases_while_subscribing() {
    let f = Fixture::new(&["Calendars.Read"], 60).await;
    f.control.set_notification_delay(Duration::from_millis(10));
    f.control
        .set_latency(presently_emulator::Latency::per_request_ms(100));
    let node = Node::start(&f, "w1", 3, 100, None).await;
    wait_for(
        Duration::from_secs(60),
        "every mailbox subscribed",
        || async { node.store.subscriptions().await.unwrap().len() == f.users.len() },
    )
    .await;
    let mailboxes = node.store.mailboxes().await.unwrap();
    let claimed_again: Vec<_> = mailboxes
        .iter()
        .filter(|m| m.fencing_token != 1)
        .map(|m| (&m.id, m.fencing_token))
        .collect();
    assert!(
        claimed_again.is_empty(),
        "leases that ran out and were claimed again: {claimed_again:?}"
    );
    assert_eq!(
        node.metrics.subscriptions_active.get(),
        f.users.len() as i64
    );
    node.shutdown().await;
}
