//! `presently policy`: an administrator checks a policy file and what it decides for a user.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_engine::model::Account;
use presently_engine::store::Store;
use std::path::{Path, PathBuf};
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

/// A store signed in to the demo emulator and synced once (the engine with a memory
/// keyring), with the configuration pointing at the emulator. The emulator is returned to
/// count what the CLI asks of it.
async fn signed_in_store(dir: &Path) -> presently_emulator::Emulator {
    use presently_engine::auth::MemoryStore;
    use presently_engine::{config::Config, paths::Paths, Engine, EngineSetup};
    let emu = presently_emulator::Emulator::start(presently_emulator::EmulatorConfig {
        today: "2026-11-24".parse().unwrap(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: presently_emulator::Seed::Demo,
        ..Default::default()
    })
    .await
    .unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[microsoft]\nclient_id = \"{}\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n[agenda]\ntimezone = \"Europe/Berlin\"\n",
            presently_emulator::DEMO_CLIENT_ID,
            base = emu.base_url()
        ),
    )
    .unwrap();
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config: Config::load(&dir.join("config.toml")).unwrap(),
            clock: std::sync::Arc::new(presently_engine::FixedClock::new(
                "2026-11-24T07:00:00Z".parse().unwrap(),
            )),
            demo: false,
        },
        std::sync::Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine.sync(Default::default()).await.unwrap();
    emu
}

/// The CLI is bound by the organization's policy as the app is: under a group that does
/// not allow Microsoft 365, `sync`, `login`, `calendars` and `run` refuse, naming the
/// organization's policy and the group, exit non-zero, and send nothing to Microsoft.
#[tokio::test(flavor = "multi_thread")]
async fn microsoft365_not_allowed_refuses_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let emu = signed_in_store(dir.path()).await;
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[groups]]\nname = \"Board\"\nusers = [\"{}\"]\nallow_microsoft365 = false\n\n[[groups]]\nname = \"Everyone\"\ndefault = true\n",
            presently_emulator::DEMO_UPN
        ),
    )
    .unwrap();
    let before = emu.control().request_count();
    for args in [&["sync"][..], &["login"], &["calendars"], &["run"]] {
        let (d, p) = (dir.path().to_owned(), policy.clone());
        let out = tokio::task::spawn_blocking(move || presently(&d, args, Some(&p)))
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(err.contains("organization's policy"), "{args:?}: {err}");
        assert!(err.contains("\"Board\""), "{args:?}: {err}");
        assert!(err.contains("Microsoft 365"), "{args:?}: {err}");
    }
    assert_eq!(emu.control().request_count(), before, "nothing was sent");

    // Sync disabled (Microsoft 365 allowed): sync refuses the same way.
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"No sync\"\ndefault = true\nsync = \"disabled\"\n",
    )
    .unwrap();
    let (d, p) = (dir.path().to_owned(), policy.clone());
    let out = tokio::task::spawn_blocking(move || presently(&d, &["sync"], Some(&p)))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("organization's policy") && err.contains("calendar sync off"),
        "{err}"
    );
    assert_eq!(emu.control().request_count(), before, "nothing was sent");
}

/// Locked presence settings bind `presently presence plan` (and so `run`): the user's own
/// file turning the built-in rules on does not win over the organization's lock.
#[tokio::test(flavor = "multi_thread")]
async fn locked_presence_settings_bind_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let _emu = signed_in_store(dir.path()).await;
    let config = dir.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[presence]\ndefault_rules = true\n");
    std::fs::write(&config, text).unwrap();
    let plan = |policy: Option<PathBuf>| {
        let d = dir.path().to_owned();
        let args = [
            "presence",
            "plan",
            "--from",
            "2026-11-24T00:00:00Z",
            "--to",
            "2026-11-29T00:00:00Z",
        ];
        presently(&d, &args, policy.as_deref())
    };
    let out = plan(None);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("apply"), "{}", stdout(&out));
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Quiet\"\ndefault = true\nlocked = [\"presence.default_rules\"]\n\n[groups.settings.presence]\ndefault_rules = false\n",
    )
    .unwrap();
    let out = plan(Some(policy));
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(stdout(&out), "No presence changes in this window.\n");
}

/// A policy file that cannot be used and was never valid here: nothing is unlocked,
/// Microsoft 365 is refused until it is fixed. Once valid, a later breakage keeps the last
/// valid copy in force, with a warning.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_policy_never_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    let emu = signed_in_store(dir.path()).await;
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[[groups]\nname = \"x\"\n").unwrap();
    let before = emu.control().request_count();
    let (d, p) = (dir.path().to_owned(), policy.clone());
    let out = tokio::task::spawn_blocking(move || presently(&d, &["sync"], Some(&p)))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot be used"), "{err}");
    assert!(err.contains("policy.toml"), "{err}");
    assert_eq!(emu.control().request_count(), before);

    // Valid once (sync turned off and locked), then broken: still off, with a warning.
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"No sync\"\ndefault = true\nsync = \"disabled\"\n",
    )
    .unwrap();
    let out = presently(
        dir.path(),
        &["agenda", "--from", "2026-11-24"],
        Some(&policy),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&policy, "[[groups]\n").unwrap();
    let (d, p) = (dir.path().to_owned(), policy.clone());
    let out = tokio::task::spawn_blocking(move || presently(&d, &["sync"], Some(&p)))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("last valid copy"), "{err}");
    assert!(err.contains("calendar sync off"), "{err}");
    assert_eq!(emu.control().request_count(), before);
}
