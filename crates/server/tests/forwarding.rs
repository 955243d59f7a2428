//! Call forwarding in server mode: the `[forwarding]` provider with the organization's
//! credential (the emulator's Webex Calling and Asterisk AMI fakes), applied per user by the
//! presence runner through the engine's driver, on a real PostgreSQL and an injected clock.

#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use presently_engine::{Clock, FixedClock};
use presently_server::config::{ForwardingSection, SyncConfig};
use presently_server::forwarding::{OrgForwarding, UserForwarding};
use presently_server::presence::{PresenceOptions, PresenceRunner};
use presently_server::store::{Lease, Store};
use presently_server::worker::Worker;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Meetings whose subject says "review" forward calls to voicemail while they last.
const POLICY: &str = r#"
[[groups]]
name = "Everyone"
default = true
automation = "server"

[groups.settings.presence]
default_rules = false

[[groups.settings.presence.profiles]]
name = "Review"
priority = 15
teams = { availability = "Busy", activity = "InAConferenceCall", mode = "session" }
forwarding = "voicemail"

[[groups.settings.presence.rules]]
subject_contains = "review"
profile = "Review"
"#;

const VOICEMAIL: &str = "+15550199";

fn meeting(subject: &str, start: DateTime<Utc>, minutes: i64) -> serde_json::Value {
    let end = start + Duration::minutes(minutes);
    serde_json::json!({
        "subject": subject,
        "showAs": "busy",
        "start": {"dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
        "end": {"dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
    })
}

fn leases(worker: &Worker) -> HashMap<String, Lease> {
    worker
        .held()
        .into_iter()
        .map(|m| (m.clone(), worker.lease(&m).unwrap().clone()))
        .collect()
}

/// `n` users, known by user principal name (as group members are), each with a review an
/// hour from now; a worker holding them, synced; an injected clock.
struct Setup {
    f: Fixture,
    users: Vec<String>,
    clock: Arc<FixedClock>,
    start: DateTime<Utc>,
    worker: Worker,
    store: Arc<Store>,
}

async fn setup(n: usize) -> Setup {
    let f = Fixture::new(&["Calendars.Read", "Presence.ReadWrite.All"], 0).await;
    let users: Vec<String> = f
        .control
        .add_users(n)
        .into_iter()
        .map(|(_, upn)| upn)
        .collect();
    let clock = Arc::new(FixedClock::new(real_now()));
    let start = clock.now() + Duration::hours(1);
    for user in &users {
        f.control
            .add_user_event(user, meeting("Design review", start, 30))
            .unwrap();
    }
    let (mut worker, store) = f.worker(clock.clone(), "a", 7200, 10).await;
    store.set_users(&users).await.unwrap();
    worker.maintain_leases().await.unwrap();
    assert!(worker.sync_due(true).await.iter().all(|r| r.is_ok()));
    Setup {
        f,
        users,
        clock,
        start,
        worker,
        store,
    }
}

fn webex_section(s: &Setup, token: &str) -> ForwardingSection {
    let path = s.f.dir.path().join("webex-token");
    std::fs::write(&path, token).unwrap();
    set_mode(&path, 0o600);
    let text = format!(
        "provider = \"webex\"\n[webex]\nbase_url = \"{}/webex/v1\"\ntoken_file = \"{}\"\nvoicemail = \"{VOICEMAIL}\"\n",
        s.f.emu.base_url(),
        path.display()
    );
    toml::from_str(&text).unwrap()
}

fn ami_section(s: &Setup, extensions: &[(&str, &str)]) -> ForwardingSection {
    let path = s.f.dir.path().join("ami-secret");
    std::fs::write(&path, presently_emulator::DEFAULT_AMI_SECRET).unwrap();
    set_mode(&path, 0o600);
    let mut text = format!(
        "provider = \"ami\"\n[ami]\nhost = \"{}\"\nport = {}\nusername = \"{}\"\nsecret_file = \"{}\"\n[extensions]\n",
        s.f.emu.ami_addr().ip(),
        s.f.emu.ami_addr().port(),
        presently_emulator::DEFAULT_AMI_USERNAME,
        path.display()
    );
    for (user, ext) in extensions {
        text.push_str(&format!("\"{user}\" = \"{ext}\"\n"));
    }
    toml::from_str(&text).unwrap()
}

fn runner(s: &Setup, section: &ForwardingSection) -> PresenceRunner {
    let path = s.f.dir.path().join("policy.toml");
    std::fs::write(&path, POLICY).unwrap();
    let policy = presently_server::policy::load(&path).unwrap();
    let tokens = Arc::new(token_source(&s.f.emu, &s.f.cert, s.clock.clone()).unwrap());
    PresenceRunner::new(
        s.store.clone(),
        tokens,
        &s.f.emu.base_url(),
        CLIENT_ID,
        s.clock.clone(),
        Some(Arc::new(policy)),
        SyncConfig::default(),
        PresenceOptions {
            check_interval: Duration::seconds(60),
            ..Default::default()
        },
    )
    .with_forwarding(OrgForwarding::load(section).unwrap())
}

fn webex_calls(s: &Setup, kind: &str) -> usize {
    s.f.control
        .presence_calls()
        .iter()
        .filter(|c| c.kind == kind && c.status < 300)
        .count()
}

fn always(s: &Setup, person: &str) -> serde_json::Value {
    s.f.control.webex_forwarding(person)["callForwarding"]["always"].clone()
}

async fn history(store: &Store, user: &str) -> Vec<String> {
    store
        .presence_history(user)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.0)
        .collect()
}

#[tokio::test]
async fn a_meeting_switches_a_users_webex_forwarding_and_restores_it() {
    let s = setup(1).await;
    let user = s.users[0].clone();
    let person = s.f.control.add_webex_person(&user);
    let token = s.f.control.webex_token();
    let mut r = runner(&s, &webex_section(&s, &token));
    let none = HashSet::new();

    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    assert_eq!(webex_calls(&s, "webex.putCallForwarding"), 0, "before");
    assert_eq!(webex_calls(&s, "webex.listPeople"), 1, "looked up once");

    s.clock.set(s.start + Duration::seconds(1));
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    let on = always(&s, &person);
    assert_eq!(on["enabled"], true, "{on}");
    assert_eq!(on["destination"], VOICEMAIL);
    assert_eq!(on["destinationVoicemailEnabled"], true);
    assert_eq!(
        s.f.control.tenant_presence(&user)["availability"],
        "Busy",
        "the presence too"
    );

    s.clock
        .set(s.start + Duration::minutes(30) + Duration::seconds(1));
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    assert_eq!(always(&s, &person)["enabled"], false, "given back");
    assert_eq!(webex_calls(&s, "webex.putCallForwarding"), 2);
    assert_eq!(webex_calls(&s, "webex.listPeople"), 1, "the id was kept");
    let h = history(&s.store, &user).await;
    assert!(h.iter().any(|e| e == "restored"), "{h:?}");
}

#[tokio::test]
async fn forwarding_changed_by_hand_during_the_meeting_is_not_overwritten() {
    let s = setup(1).await;
    let user = s.users[0].clone();
    let person = s.f.control.add_webex_person(&user);
    let token = s.f.control.webex_token();
    let mut r = runner(&s, &webex_section(&s, &token));
    let none = HashSet::new();
    s.clock.set(s.start + Duration::seconds(1));
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    assert_eq!(always(&s, &person)["enabled"], true);

    // The user forwards their calls to their mobile in Webex themselves.
    s.f.control
        .set_webex_forwarding_always(&person, Some("+15550123"));
    for minutes in [5, 10, 20] {
        s.clock.set(s.start + Duration::minutes(minutes));
        assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    }
    s.clock.set(s.start + Duration::minutes(31));
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    let now = always(&s, &person);
    assert_eq!(now["enabled"], true, "{now}");
    assert_eq!(
        now["destination"], "+15550123",
        "the user's own setting stays"
    );
    assert_eq!(
        webex_calls(&s, "webex.putCallForwarding"),
        1,
        "switched once, never restored over the user's"
    );
}

#[tokio::test]
async fn ami_forwarding_follows_the_extension_mapping_and_an_unmapped_user_is_left_alone() {
    let s = setup(2).await;
    let (mapped, unmapped) = (s.users[0].clone(), s.users[1].clone());
    let section = ami_section(&s, &[(&mapped.to_uppercase(), "1001")]);
    let org = OrgForwarding::load(&section).unwrap().unwrap();
    match org.for_user(&unmapped).await {
        UserForwarding::Unmapped(reason) => assert!(
            reason.contains(&unmapped) && reason.contains("[forwarding.extensions]"),
            "{reason}"
        ),
        UserForwarding::Provider(_) => panic!("{unmapped} has no extension"),
    }
    assert!(matches!(
        org.for_user(&mapped).await,
        UserForwarding::Provider(_)
    ));
    let mut r = runner(&s, &section);
    let none = HashSet::new();
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    assert_eq!(r.automated(), {
        let mut both = s.users.clone();
        both.sort();
        both
    });

    s.clock.set(s.start + Duration::seconds(1));
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    let db = s.f.control.ami_db();
    assert_eq!(db.get("CF/1001").map(String::as_str), Some("vmu1001"));
    assert_eq!(db.len(), 1, "nothing for the unmapped user: {db:?}");
    for user in [&mapped, &unmapped] {
        assert_eq!(
            s.f.control.tenant_presence(user)["availability"],
            "Busy",
            "{user}'s presence switches either way"
        );
    }

    s.clock
        .set(s.start + Duration::minutes(30) + Duration::seconds(1));
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    assert!(s.f.control.ami_db().is_empty(), "forwarding off again");
    for user in [&mapped, &unmapped] {
        assert_eq!(
            s.f.control.tenant_presence(user)["availability"],
            "Available"
        );
    }
}

#[tokio::test]
async fn a_worker_past_its_lease_switches_no_forwarding() {
    let s = setup(1).await;
    let user = s.users[0].clone();
    let person = s.f.control.add_webex_person(&user);
    let token = s.f.control.webex_token();
    let section = webex_section(&s, &token);
    let mut r = runner(&s, &section);
    let none = HashSet::new();
    assert!(r.pass(&leases(&s.worker), &none).await.is_empty());
    let held = leases(&s.worker);
    // Another worker takes the mailbox over while this one stalls.
    let (mut b, _) = s.f.worker(s.clock.clone(), "b", 7200, 10).await;
    s.clock.set(s.start + Duration::seconds(7201));
    assert_eq!(
        b.maintain_leases().await.unwrap().claimed,
        vec![user.clone()]
    );
    s.clock.set(s.start + Duration::seconds(1));
    let errors = r.pass(&held, &none).await;
    assert!(
        matches!(
            errors.as_slice(),
            [(_, presently_server::ServerError::Fenced { .. })]
        ),
        "{errors:?}"
    );
    assert_eq!(webex_calls(&s, "webex.putCallForwarding"), 0);
    assert_eq!(always(&s, &person)["enabled"], false);
}

/// `check` reads the credential and asks the provider with it: a wrong token, a token file
/// others can read, and a missing one are each named.
#[tokio::test(flavor = "multi_thread")]
async fn check_names_a_bad_forwarding_credential() {
    let s = setup(1).await;
    let user = s.users[0].clone();
    s.f.control.add_webex_person(&user);
    let policy = s.f.dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let token_path = s.f.dir.path().join("webex-token");
    let config = s.f.dir.path().join("server.toml");
    let write = |token: &str, mode: u32| {
        std::fs::write(&token_path, token).unwrap();
        set_mode(&token_path, mode);
        let text = format!(
            "{}\n[policy]\nfile = \"{}\"\n\n[forwarding]\nprovider = \"webex\"\n[forwarding.webex]\nbase_url = \"{}/webex/v1\"\ntoken_file = \"{}\"\nvoicemail = \"{VOICEMAIL}\"\n",
            config_text(&s.f.pg.url, &s.f.emu, &s.f.cert, &s.users, "w", 60),
            policy.display(),
            s.f.emu.base_url(),
            token_path.display()
        );
        std::fs::write(&config, text).unwrap();
    };

    let good = s.f.control.webex_token();
    write(&good, 0o600);
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "forwarding: Webex Calling answers; {user} was found"
        )),
        "{out}"
    );

    write("webex-not-a-token", 0o600);
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("[forwarding], Webex Calling")
            && err.contains("refused the credentials")
            && err.contains("401"),
        "{err}"
    );
    assert!(!err.contains("webex-not-a-token") && !out.contains("webex-not-a-token"));

    write(&good, 0o644);
    let (ok, _, err) = run_cli(&config, &["check"]);
    assert!(!ok);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(&good));
}

/// `plan --user` says whether a server-automated user's forwarding is switched, and why not.
#[tokio::test(flavor = "multi_thread")]
async fn plan_says_which_users_forwarding_is_switched() {
    let s = setup(2).await;
    let (mapped, unmapped) = (s.users[0].clone(), s.users[1].clone());
    let policy = s.f.dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let secret = s.f.dir.path().join("ami-secret");
    std::fs::write(&secret, presently_emulator::DEFAULT_AMI_SECRET).unwrap();
    set_mode(&secret, 0o600);
    let config = s.f.dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[policy]\nfile = \"{}\"\n\n[forwarding]\nprovider = \"ami\"\n[forwarding.ami]\nhost = \"{}\"\nport = {}\nusername = \"{}\"\nsecret_file = \"{}\"\n[forwarding.extensions]\n\"{mapped}\" = \"1001\"\n",
            config_text(&s.f.pg.url, &s.f.emu, &s.f.cert, &s.users, "w", 60),
            policy.display(),
            s.f.emu.ami_addr().ip(),
            s.f.emu.ami_addr().port(),
            presently_emulator::DEFAULT_AMI_USERNAME,
            secret.display()
        ),
    )
    .unwrap();
    let (ok, out, err) = run_cli(&config, &["plan", "--user", &mapped]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("forwarding: through Asterisk AMI"), "{out}");
    let (ok, out, err) = run_cli(&config, &["plan", "--user", &unmapped]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "forwarding: not switched for this user: {unmapped} has no extension in [forwarding.extensions]"
        )),
        "{out}"
    );
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "forwarding: Asterisk AMI answers; {mapped}'s extension 1001 forwards: off"
        )),
        "{out}"
    );
    assert!(!out.contains(presently_emulator::DEFAULT_AMI_SECRET));

    // A wrong AMI secret: the manager's login is refused, and named.
    std::fs::write(&secret, "not-the-secret").unwrap();
    let (ok, out, err) = run_cli(&config, &["check"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("[forwarding], Asterisk AMI") && err.contains("refused the credentials"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret") && !out.contains("not-the-secret"));
}
