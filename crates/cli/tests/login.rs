//! `presently login / whoami / sync / logout` end to end: the loopback sign-in with a
//! scripted browser, the refresh token in a real Secret Service (gnome-keyring; run by
//! scripts/test.sh under dbus-run-session), the emulator over loopback HTTP.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID, DEMO_UPN};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn presently(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presently"))
        .args(args)
        .env("PRESENTLY_DATA_DIR", dir)
        .env("PRESENTLY_CONFIG", dir.join("config.toml"))
        .env("BROWSER", dir.join("browser.sh"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run presently")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session with gnome-keyring"]
async fn login_sync_whoami_logout() {
    let emu = Emulator::start(EmulatorConfig {
        today: "2026-11-24".parse().unwrap(),
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[microsoft]\nclient_id = \"{DEMO_CLIENT_ID}\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n",
            base = emu.base_url()
        ),
    )
    .unwrap();
    // The "browser": follows the authorize redirect to the loopback listener, as a person's would.
    let browser = dir.path().join("browser.sh");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -s -o /dev/null -L \"$1\"\n").unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();

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
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[microsoft]\nclient_id = \"{DEMO_CLIENT_ID}\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n",
            base = emu.base_url()
        ),
    )
    .unwrap();
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
