//! Two or more accounts through the CLI: `--account NAME` selects one, `presently accounts`
//! lists them, `agenda --all-accounts` merges them with the account shown, and each keeps
//! its store, settings and policy group apart. Two emulators stand for a work tenant and a
//! customer's; the accounts sign in and sync through the library with memory credentials
//! (the CLI's own sign-in needs a keyring: see `login.rs`'s two-account test).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // the CLI runs on the wall clock

mod common;
use chrono::{Duration, Utc};
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_UPN};
use presently_engine::paths::Paths;
use serde_json::{json, Value};
use std::path::Path;

fn json_of(dir: &Path, args: &[&str]) -> Value {
    let out = presently(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An empty mailbox in UTC with one busy appointment `subject` two hours from now.
async fn emulator_with(subject: &str) -> (Emulator, String) {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::UTC,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:00").to_string();
    let start = Utc::now() + Duration::hours(2);
    let id = emu
        .control()
        .add_event(json!({
            "subject": subject,
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(start + Duration::minutes(30)), "timeZone": "UTC"},
            "showAs": "busy",
        }))
        .unwrap();
    (emu, id)
}

/// Signs the account `name` of the data directory `dir` in to `emu` and syncs it, through
/// the library with memory credentials; its configuration is written to its own directory.
async fn sign_in_and_sync(dir: &Path, name: &str, emu: &Emulator, more: &str) {
    let paths = Paths::under(dir).account(name).unwrap();
    std::fs::create_dir_all(&paths.data_dir).unwrap();
    std::fs::write(
        &paths.config_file,
        config_for(
            emu,
            &format!("[agenda]\ntimezone = \"UTC\"\n[features]\npresence = true\n{more}"),
        ),
    )
    .unwrap();
    common::sign_in_and_sync(
        paths,
        std::sync::Arc::new(presently_engine::FixedClock::new(Utc::now())),
    )
    .await;
}

fn subjects(agenda: &Value) -> Vec<String> {
    agenda
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_accounts_each_with_its_own_calendar_listed_selected_and_merged() {
    let (work_emu, _) = emulator_with("Work standup").await;
    let (customer_emu, customer_id) = emulator_with("Customer review").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The default account's settings point nowhere useful: the named accounts must not
    // read them.
    std::fs::write(d.join("config.toml"), "[agenda]\ntimezone = \"UTC\"\n").unwrap();
    sign_in_and_sync(d, "work", &work_emu, "").await;
    // The customer account's own presence rule.
    sign_in_and_sync(
        d,
        "customer",
        &customer_emu,
        "[[presence.rules]]\nsubject_contains = \"review\"\nprofile = \"Focus\"\n",
    )
    .await;

    // `presently accounts`: the default one (nobody signed in), then the named ones.
    let out = presently(d, &["accounts"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = stdout(&out);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 4, "{listing}");
    assert!(lines[0].starts_with("ACCOUNT"), "{listing}");
    assert!(lines[1].starts_with("default "), "{listing}");
    assert!(lines[1].contains("not signed in"), "{listing}");
    assert!(lines[1].contains("never"), "{listing}");
    for (line, name) in [(lines[2], "customer"), (lines[3], "work")] {
        assert!(line.starts_with(name), "{listing}");
        assert!(line.contains(DEMO_UPN), "{listing}");
        assert!(line.contains("signed in"), "{listing}");
        assert!(!line.contains("never"), "{listing}");
    }
    let rows = json_of(d, &["accounts", "--json"]);
    let states: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["account"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("default", "none"),
            ("customer", "signed_in"),
            ("work", "signed_in")
        ]
    );
    assert_eq!(
        rows[2]["data_dir"].as_str().unwrap(),
        d.join("accounts").join("work").to_str().unwrap()
    );

    // --account selects one account's calendar; the default account has none.
    assert_eq!(
        subjects(&json_of(d, &["--account", "work", "agenda", "--json"])),
        ["Work standup"]
    );
    assert_eq!(
        subjects(&json_of(d, &["agenda", "--json", "--account", "customer"])),
        ["Customer review"]
    );
    let out = command(d)
        .env("PRESENTLY_ACCOUNT", "customer")
        .args(["agenda", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("Customer review"), "{}", text(&out));
    assert!(!stdout(&out).contains("Work standup"), "{}", text(&out));
    // An empty PRESENTLY_ACCOUNT names none; a bad one is refused.
    let out = command(d)
        .env("PRESENTLY_ACCOUNT", "")
        .args(["agenda"])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("not signed in — run `presently login`"),
        "{}",
        text(&out)
    );
    let out = command(d)
        .env("PRESENTLY_ACCOUNT", "Work")
        .args(["agenda"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("PRESENTLY_ACCOUNT: \"Work\" is not an account name"),
        "{}",
        text(&out)
    );
    let out = presently(d, &["agenda"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not signed in — run `presently login`"),
        "{}",
        text(&out)
    );

    // The merged agenda: both, each with its account.
    let out = presently(d, &["agenda", "--all-accounts"]);
    assert!(out.status.success(), "{}", text(&out));
    let merged = stdout(&out);
    let work_line = merged.lines().find(|l| l.contains("Work standup"));
    let customer_line = merged.lines().find(|l| l.contains("Customer review"));
    assert!(
        work_line.is_some_and(|l| l.contains("  work      Work standup")),
        "{merged}"
    );
    assert!(
        customer_line.is_some_and(|l| l.contains("  customer  Customer review")),
        "{merged}"
    );
    let merged = json_of(d, &["agenda", "--all-accounts", "--json"]);
    let mut labelled: Vec<(String, String)> = merged
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["account"].as_str().unwrap().to_owned(),
                i["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    labelled.sort();
    assert_eq!(
        labelled,
        [
            ("customer".to_owned(), "Customer review".to_owned()),
            ("work".to_owned(), "Work standup".to_owned())
        ]
    );

    // Presence automation plans per account, with the account's rules.
    let plan = |account: &str| {
        let out = presently(d, &["--account", account, "presence", "plan"]);
        assert!(out.status.success(), "{}", text(&out));
        stdout(&out)
    };
    let work_plan = plan("work");
    assert!(
        work_plan.contains("In a meeting · Work standup"),
        "{work_plan}"
    );
    assert!(!work_plan.contains("Customer review"), "{work_plan}");
    let customer_plan = plan("customer");
    assert!(
        customer_plan.contains("Focus · Customer review"),
        "{customer_plan}"
    );
    assert!(!customer_plan.contains("Work standup"), "{customer_plan}");

    // Presence skip is the selected account's: the customer's appointment is skipped, the
    // work one is not.
    let out = presently(d, &["--account", "customer", "presence", "skip", "next"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!(
            "will not switch for Customer review [{customer_id}]"
        )),
        "{}",
        text(&out)
    );
    let customer = json_of(d, &["--account", "customer", "agenda", "--json"]);
    assert_eq!(customer[0]["skipped"], true);
    let work = json_of(d, &["--account", "work", "agenda", "--json"]);
    assert_eq!(work[0]["skipped"], false);
    let out = presently(d, &["--account", "work", "presence", "history"]);
    assert!(!stdout(&out).contains("Customer review"), "{}", text(&out));

    // An account that does not exist is named, and not created by asking.
    let out = presently(d, &["--account", "partner", "agenda"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no account partner; sign in with `presently --account partner login`"),
        "{}",
        text(&out)
    );
    assert!(!d.join("accounts").join("partner").exists());
    // A store that cannot be read is listed as such; the others still are, and the
    // command fails.
    let broken = d.join("accounts").join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("presently.db"), "not a database").unwrap();
    let out = presently(d, &["accounts"]);
    assert!(!out.status.success(), "{}", text(&out));
    let listing = stdout(&out);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("broken") && l.contains("unreadable")),
        "{}",
        text(&out)
    );
    assert!(listing.lines().any(|l| l.starts_with("work ")), "{listing}");
    assert!(
        stderr(&out).contains("1 account's store could not be read"),
        "{}",
        text(&out)
    );
    std::fs::remove_dir_all(&broken).unwrap();

    // A name that cannot be a directory is refused.
    let out = presently(d, &["--account", "../work", "agenda"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not an account name"), "{}", text(&out));
}

/// The policy's groups apply per account's user: each account's store holds its UPN.
#[test]
fn the_policy_applies_per_account_by_its_user() {
    use presently_engine::model::Account;
    use presently_engine::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Contoso staff\"\ndomains = [\"contoso.com\"]\n[groups.settings.agenda]\ndays = 2\n\n\
         [[groups]]\nname = \"Fabrikam guests\"\ndomains = [\"fabrikam.com\"]\nsync = \"disabled\"\n[groups.settings.agenda]\ndays = 3\n",
    )
    .unwrap();
    for (name, upn) in [
        ("work", "alex@contoso.com"),
        ("customer", "alex@fabrikam.com"),
    ] {
        let paths = Paths::under(d).account(name).unwrap();
        std::fs::create_dir_all(&paths.data_dir).unwrap();
        let mut store = Store::open(&paths.store_file()).unwrap();
        store
            .set_account(&Account {
                id: format!("{name}-oid"),
                tenant_id: None,
                upn: upn.to_owned(),
                display_name: None,
            })
            .unwrap();
    }
    let run = |args: &[&str]| {
        command(d)
            .env("PRESENTLY_POLICY", &policy)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--account", "work", "policy"]);
    assert!(
        stdout(&out).contains("Group:       Contoso staff (by domain)"),
        "{}",
        text(&out)
    );
    let out = run(&["--account", "customer", "policy"]);
    assert!(
        stdout(&out).contains("Group:       Fabrikam guests (by domain)"),
        "{}",
        text(&out)
    );
    // Each account's agenda runs on its group's settings...
    let days = |account: &str| {
        let out = run(&["--account", account, "agenda"]);
        assert!(out.status.success(), "{}", text(&out));
        stdout(&out).lines().filter(|l| !l.starts_with(' ')).count()
    };
    assert_eq!(days("work"), 2);
    assert_eq!(days("customer"), 3);
    // ...and the customer's group may not sync, refused before anything is sent.
    let out = run(&["--account", "customer", "sync"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("turned calendar sync off"),
        "{}",
        text(&out)
    );
    let out = run(&["--account", "work", "sync"]);
    assert!(
        !text(&out).contains("turned calendar sync off"),
        "{}",
        text(&out)
    );
}
