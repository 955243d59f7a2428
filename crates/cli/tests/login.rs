//! `presently login / whoami / sync / logout` end to end: the loopback sign-in with a
//! scripted browser, the refresh token in a real Secret Service (gnome-keyring; run by
//! scripts/test.sh under dbus-run-session), the emulator over loopback HTTP.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID, DEMO_UPN};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// The tests here share the one keyring entry Presently keeps (a logout in one would sign
/// the other out mid-test): they take turns.
static KEYRING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session with gnome-keyring"]
async fn login_sync_whoami_logout() {
    let _turn = KEYRING.lock().await;
    let emu = Emulator::start(EmulatorConfig {
        today: "2026-11-24".parse().unwrap(),
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &emu, "");
    // The "browser": follows the authorize redirect to the loopback listener, as a person's would.
    install_browser(dir.path());

    let d = dir.path().to_owned();
    let run = move |args: &'static [&'static str]| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || presently(&d, args))
                .await
                .unwrap()
        }
    };
    let _ = run(&["logout"]).await;
    let out = run(&["login"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(DEMO_UPN), "{}", text(&out));
    let out = run(&["whoami"]).await;
    assert!(text(&out).contains(DEMO_UPN), "{}", text(&out));
    assert!(text(&out).contains("Calendars.ReadWrite"), "{}", text(&out));

    let out = run(&["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Synced 1 calendar:"), "{}", text(&out));
    assert!(text(&out).contains("full round"), "{}", text(&out));
    assert_private_to_the_user(dir.path());
    let out = run(&["sync"]).await;
    assert!(text(&out).contains("incremental round"), "{}", text(&out));
    assert!(
        text(&out).contains("0 changes applied, 1 request,"),
        "{}",
        text(&out)
    );
    let out = run(&["calendars"]).await;
    assert!(
        text(&out).contains("[synced] Calendar (primary)"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("    read: delta"), "{}", text(&out));

    // A second calendar where Graph refuses delta: read by window, and `calendars` says why.
    emu.control()
        .push_fault(presently_emulator::Fault::RefuseCalendarDelta);
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[microsoft]\nclient_id = \"{DEMO_CLIENT_ID}\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n[sync]\ncalendars = [\"Calendar\", \"{holidays}\"]\n",
            base = emu.base_url(),
            holidays = presently_emulator::HOLIDAYS_CALENDAR_ID
        ),
    )
    .unwrap();
    let out = run(&["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Synced 2 calendars"), "{}", text(&out));
    let out = run(&["calendars"]).await;
    let listing = text(&out);
    assert!(
        listing.contains(
            "    read: window (Graph refused delta: 400 BadRequest: Resource not found for the segment 'delta'.)"
        ),
        "{listing}"
    );
    assert_eq!(listing.matches("    read: delta").count(), 1, "{listing}");

    // The store deleted by hand: the keyring still holds the sign-in, and sync rebuilds it.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("presently.db{suffix}")));
    }
    let out = run(&["whoami"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("full round"), "{}", text(&out));

    let out = run(&["logout"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["whoami"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not signed in"), "{}", text(&out));
    // The local calendar stays on disk after a plain logout, but is not shown...
    let out = run(&["agenda", "--from", "2026-11-23", "--days", "5", "--json"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not signed in"), "{}", text(&out));
    assert!(dir.path().join("presently.db").exists());
    // ...and goes with --forget.
    let out = run(&["logout", "--forget"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!dir.path().join("presently.db").exists());
}

/// After a sign-in and a sync, what Presently wrote is the user's only, whatever the
/// umask: the data directory, the store with its write-ahead log and shared memory, the
/// log directory and its files (they name the user), the owner lock when there is one.
fn assert_private_to_the_user(dir: &Path) {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(dir), 0o700, "the data directory");
    let mut checked = Vec::new();
    for name in [
        "presently.db",
        "presently.db-wal",
        "presently.db-shm",
        "owner.lock",
    ] {
        let file = dir.join(name);
        if file.exists() {
            assert_eq!(mode(&file), 0o600, "{name}");
            checked.push(name);
        }
    }
    assert!(checked.contains(&"presently.db"), "{checked:?}");
    let logs = dir.join("logs");
    assert_eq!(mode(&logs), 0o700, "the log directory");
    let mut files = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{path:?}");
        files += 1;
    }
    assert!(files > 0, "a log was written");
}

/// `logout --forget` with a data directory whose name is not UTF-8: the store, its
/// write-ahead log and shared memory are deleted through the path itself (never its
/// printed form), and the command says so only once they are gone.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session with gnome-keyring"]
async fn logout_forget_deletes_the_store_in_a_non_utf8_directory() {
    let _turn = KEYRING.lock().await;
    use presently_engine::auth::MemoryStore;
    use presently_engine::{config::Config, paths::Paths, Engine, EngineSetup};
    use std::os::unix::ffi::OsStrExt;
    let emu = Emulator::start(EmulatorConfig {
        today: "2026-11-24".parse().unwrap(),
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root
        .path()
        .join(std::ffi::OsStr::from_bytes(b"data-\xff\xfe"));
    std::fs::create_dir(&dir).unwrap();
    write_config(&dir, &emu, "");
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(&dir),
            config: Config::load(&dir.join("config.toml")).unwrap(),
            clock: std::sync::Arc::new(presently_engine::SystemClock),
            demo: false,
        },
        std::sync::Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine.sync(Default::default()).await.unwrap();
    drop(engine);
    let store = dir.join("presently.db");
    // A -wal and -shm as a running store leaves them.
    for suffix in ["-wal", "-shm"] {
        let mut name = store.clone().into_os_string();
        name.push(suffix);
        std::fs::write(std::path::PathBuf::from(name), "x").unwrap();
    }
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || presently(&d, &["logout", "--forget"]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("was deleted"), "{}", text(&out));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.as_bytes().starts_with(b"presently.db"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The check of issue 17's "done when", from outside, with the umask most systems have
/// (022) and what an older version left open (a 0755 data directory, a 0644 lock): after a
/// sign-in and a sync through the CLI, and while `presently run` holds the store open, the
/// data directory, the store with its write-ahead log and shared memory, the logs and the
/// owner lock are the user's only. Then, under a policy that does not allow Microsoft 365,
/// `presently sync` exits non-zero naming the organization's policy, and the emulator
/// receives no request at all (so no calendar request).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session with gnome-keyring"]
async fn after_sign_in_and_sync_all_is_private_and_a_policy_without_microsoft365_refuses_sync() {
    let _turn = KEYRING.lock().await;
    let emu = Emulator::start(EmulatorConfig {
        today: chrono::Utc::now().date_naive(),
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("presently");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    write_config(&dir, &emu, "");
    std::fs::write(dir.join("owner.lock"), "").unwrap();
    std::fs::set_permissions(
        dir.join("owner.lock"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    install_browser(&dir);
    let policy = root.path().join("policy.toml");
    // `presently ARGS` under umask 022, with or without the policy.
    let cli = |args: &[&str], with_policy: bool| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("umask 022 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_presently"))
            .args(args)
            .env("PRESENTLY_DATA_DIR", &dir)
            .env("PRESENTLY_CONFIG", dir.join("config.toml"))
            .env("BROWSER", dir.join("browser.sh"))
            .env("RUST_LOG", "info");
        if with_policy {
            cmd.env("PRESENTLY_POLICY", &policy);
        } else {
            cmd.env_remove("PRESENTLY_POLICY");
        }
        cmd
    };
    let output = |mut cmd: Command| async move {
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };

    let _ = output(cli(&["logout"], false)).await;
    let out = output(cli(&["login"], false)).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = output(cli(&["sync"], false)).await;
    assert!(out.status.success(), "{}", text(&out));

    // `run` keeps the store open: its write-ahead log and shared memory exist meanwhile.
    let mut running = cli(&["run"], false)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (wal, shm) = (dir.join("presently.db-wal"), dir.join("presently.db-shm"));
    for _ in 0..100 {
        if wal.exists() && shm.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o700, "the data directory");
    for file in [dir.join("presently.db"), wal, shm, dir.join("owner.lock")] {
        assert_eq!(mode(&file), 0o600, "{file:?}");
    }
    let logs = dir.join("logs");
    assert_eq!(mode(&logs), 0o700, "the log directory");
    let mut log_files = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{path:?}");
        log_files += 1;
    }
    assert!(log_files > 0, "a log was written");
    running.kill().unwrap();
    let _ = running.wait();

    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Kiosk\"\ndefault = true\nallow_microsoft365 = false\n",
    )
    .unwrap();
    let before = emu.control().request_log().len();
    let out = output(cli(&["sync"], true)).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("organization's policy"), "{err}");
    let after = emu.control().request_log();
    assert_eq!(after.len(), before, "requests: {:?}", &after[before..]);
}

/// Two accounts signed in with the CLI, each to its own emulator: each keeps its own
/// keyring entry (profile = the account's name), so signing one out leaves the other
/// signed in, syncing, and in the merged agenda.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session with gnome-keyring"]
async fn two_accounts_sign_in_sync_and_sign_out_apart() {
    let _turn = KEYRING.lock().await;
    let start = |today: &str| {
        let today = today.parse().unwrap();
        async move {
            Emulator::start(EmulatorConfig {
                today,
                seed: Seed::Demo,
                ..EmulatorConfig::default()
            })
            .await
            .unwrap()
        }
    };
    // Two demo weeks apart, so each account's calendar is its own.
    let work_emu = start("2026-11-24").await;
    let customer_emu = start("2026-12-08").await;
    let dir = tempfile::tempdir().unwrap();
    // The default account's settings: `--account work login` starts from a copy of them.
    write_config(
        dir.path(),
        &work_emu,
        "[agenda]\ntimezone = \"Europe/Berlin\"\n",
    );
    let customer_dir = dir.path().join("accounts").join("customer");
    std::fs::create_dir_all(&customer_dir).unwrap();
    std::fs::write(
        customer_dir.join("config.toml"),
        config_for(&customer_emu, "[agenda]\ntimezone = \"Europe/Berlin\"\n"),
    )
    .unwrap();
    install_browser(dir.path());

    let d = dir.path().to_owned();
    let run = move |args: Vec<&'static str>| {
        let d = d.clone();
        async move {
            tokio::task::spawn_blocking(move || presently(&d, &args))
                .await
                .unwrap()
        }
    };
    for account in ["work", "customer"] {
        let _ = run(vec!["--account", account, "logout"]).await;
        let out = run(vec!["--account", account, "login"]).await;
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(DEMO_UPN), "{}", text(&out));
        let out = run(vec!["--account", account, "sync"]).await;
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("full round"), "{}", text(&out));
    }
    assert!(
        dir.path().join("accounts/work/config.toml").exists(),
        "login copied the default account's settings"
    );
    assert!(dir.path().join("accounts/work/presently.db").exists());
    assert!(customer_dir.join("presently.db").exists());
    assert!(
        !dir.path().join("presently.db").exists(),
        "the default account is untouched"
    );

    let out = run(vec!["accounts"]).await;
    let listing = stdout(&out);
    assert_eq!(listing.matches("  signed in ").count(), 2, "{listing}");
    assert!(listing.contains("not signed in"), "{listing}");

    // Each account's agenda is its own week; the merged one has both, labelled.
    let week = |from: &'static str| vec!["agenda", "--from", from, "--days", "5", "--json"];
    let agenda = |account: &'static str, from: &'static str| {
        let run = run.clone();
        async move {
            let mut args = vec!["--account", account];
            args.extend(week(from));
            let out = run(args).await;
            assert!(out.status.success(), "{}", text(&out));
            serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert!(agenda("work", "2026-11-23").await > 0);
    assert_eq!(agenda("work", "2026-12-07").await, 0);
    assert!(agenda("customer", "2026-12-07").await > 0);
    assert_eq!(agenda("customer", "2026-11-23").await, 0);
    let out = run(vec![
        "agenda",
        "--all-accounts",
        "--from",
        "2026-11-23",
        "--days",
        "19",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let merged = stdout(&out);
    assert!(merged.contains("  work      "), "{merged}");
    assert!(merged.contains("  customer  "), "{merged}");

    // Signing the work account out leaves the customer's sign-in, in its own keyring entry.
    let out = run(vec!["--account", "work", "logout"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(vec!["--account", "work", "whoami"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("not signed in — run `presently --account work login`"),
        "{}",
        text(&out)
    );
    let out = run(vec!["--account", "customer", "whoami"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(vec!["--account", "customer", "sync"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("incremental round"), "{}", text(&out));
    let out = run(vec![
        "agenda",
        "--all-accounts",
        "--from",
        "2026-11-23",
        "--days",
        "19",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let merged = stdout(&out);
    assert!(!merged.contains("  work  "), "{merged}");
    assert!(merged.contains("  customer  "), "{merged}");
    let out = run(vec!["accounts"]).await;
    assert!(stdout(&out).contains("signed out"), "{}", text(&out));
    let _ = run(vec!["--account", "customer", "logout"]).await;
}
