//! `presently policy`: an administrator checks a policy file and what it decides for a user.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_engine::model::Account;
use presently_engine::store::Store;
use std::path::Path;
use std::process::{Command, Output};

const POLICY: &str = r#"
[[applications]]
key = "contoso"
display_name = "Presently for Contoso"
client_id = "8d3c5a4e-1f2b-4c6d-9e8f-0a1b2c3d4e5f"
tenant = "contoso.onmicrosoft.com"

[[groups]]
name = "Contoso staff"
domains = ["contoso.com"]
application = "contoso"
locked = ["sync.interval_secs", "presence.rules"]

[groups.settings.sync]
interval_secs = 300

[[groups]]
name = "Board"
users = ["ceo@contoso.com"]
sync = "disabled"

[[groups]]
name = "Everyone else"
default = true
"#;

fn presently(dir: &Path, args: &[&str], policy_env: Option<&Path>) -> Output {
    // A configuration file named by PRESENTLY_CONFIG must exist; an empty one is the defaults.
    if !dir.join("config.toml").exists() {
        std::fs::write(dir.join("config.toml"), "").unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_presently"));
    cmd.args(args)
        .env("PRESENTLY_DATA_DIR", dir)
        .env("PRESENTLY_CONFIG", dir.join("config.toml"))
        .env("RUST_LOG", "error")
        .env_remove("PRESENTLY_POLICY");
    if let Some(p) = policy_env {
        cmd.env("PRESENTLY_POLICY", p);
    }
    cmd.output().expect("run presently")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_valid_policy_shows_the_group_application_sync_and_locks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let f = file.to_str().unwrap();

    let out = presently(
        dir.path(),
        &["policy", "--file", f, "--upn", "Alex@Contoso.com"],
        None,
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(f), "{text}");
    assert!(text.contains("valid"), "{text}");
    assert!(text.contains("Contoso staff (by domain)"), "{text}");
    assert!(text.contains("Presently for Contoso"), "{text}");
    assert!(
        text.contains("8d3c5a4e-1f2b-4c6d-9e8f-0a1b2c3d4e5f"),
        "{text}"
    );
    assert!(text.contains("Sync method: microsoft365"), "{text}");
    for key in [
        "sync.interval_secs",
        "presence.rules",
        "microsoft.client_id",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }

    let out = presently(
        dir.path(),
        &["policy", "--file", f, "--upn", "ceo@contoso.com"],
        None,
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Board (listed by name)"), "{text}");
    assert!(text.contains("Sync method: disabled"), "{text}");
    assert!(text.contains("features.calendar_sync"), "{text}");

    // PRESENTLY_POLICY names the file; no account on this machine: the default group.
    let out = presently(dir.path(), &["policy"], Some(&file));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(f), "{text}");
    assert!(text.contains("not signed in"), "{text}");
    assert!(text.contains("Everyone else (the default group)"), "{text}");
    assert!(text.contains("Locked:      none"), "{text}");
}

#[test]
fn the_account_on_this_machine_is_the_default_user() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let mut store = Store::open(&dir.path().join("presently.db")).unwrap();
    store
        .set_account(&Account {
            id: "1".into(),
            tenant_id: None,
            upn: "pat@contoso.com".into(),
            display_name: Some("Pat".into()),
        })
        .unwrap();
    drop(store);
    let out = presently(dir.path(), &["policy"], Some(&file));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("pat@contoso.com"), "{text}");
    assert!(text.contains("Contoso staff"), "{text}");
}

#[test]
fn an_invalid_policy_names_file_line_and_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(
        &file,
        POLICY.replace("application = \"contoso\"", "application = \"fabrikam\""),
    )
    .unwrap();
    let line = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .position(|l| l.contains("fabrikam"))
        .unwrap()
        + 1;
    let out = presently(
        dir.path(),
        &["policy", "--file", file.to_str().unwrap()],
        None,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("INVALID"), "{text}");
    assert!(text.contains(file.to_str().unwrap()), "{text}");
    assert!(text.contains(&format!("line {line}")), "{text}");
    assert!(text.contains("groups[0].application"), "{text}");
}

#[test]
fn no_policy_file_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.toml");
    let out = presently(
        dir.path(),
        &["policy", "--file", missing.to_str().unwrap()],
        None,
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no policy file"), "{text}");
}
