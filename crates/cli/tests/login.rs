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
