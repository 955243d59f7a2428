//! The `presently` binary as a user runs it: real processes, a real store file, the
//! emulator over loopback HTTP.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use std::path::Path;
use std::process::{Command, Output};

const TODAY: &str = "2026-11-24";

fn presently(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presently"))
        .args(args)
        .env("PRESENTLY_DATA_DIR", dir)
        .env("PRESENTLY_CONFIG", dir.join("config.toml"))
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

async fn demo_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        today: TODAY.parse().unwrap(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn write_config(dir: &Path, emu: &Emulator) {
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[microsoft]\nclient_id = \"{DEMO_CLIENT_ID}\"\ntenant = \"organizations\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n[agenda]\ntimezone = \"Europe/Berlin\"\n",
            base = emu.base_url()
        ),
    )
    .unwrap();
}

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = presently(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out);
    for command in ["emulator", "agenda", "login", "logout", "whoami", "sync"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn a_broken_config_names_line_and_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[agenda]\ndays = \"seven\"\n",
    )
    .unwrap();
    let out = presently(dir.path(), &["agenda"]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("agenda.days"), "{message}");
}

#[test]
fn agenda_on_an_empty_store_shows_empty_days() {
    let dir = tempfile::tempdir().unwrap();
    let out = presently(
        dir.path(),
        &["agenda", "--from", "2026-03-28", "--days", "2"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Saturday 2026-03-28"), "{table}");
    assert!(table.contains("Sunday 2026-03-29"), "{table}");
    assert_eq!(table.matches("(nothing scheduled)").count(), 2);
    let out = presently(
        dir.path(),
        &["agenda", "--from", "2026-03-28", "--days", "2", "--json"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[tokio::test(flavor = "multi_thread")]
async fn agenda_prints_the_stored_week_as_table_and_json() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &emu);
    {
        use presently_engine::auth::MemoryStore;
        use presently_engine::{config::Config, paths::Paths, Engine, EngineSetup, SystemClock};
        let paths = Paths::under(dir.path());
        let config = Config::load(&dir.path().join("config.toml")).unwrap();
        let engine = Engine::open_with_credentials(
            EngineSetup {
                paths,
                config,
                clock: std::sync::Arc::new(presently_engine::FixedClock::new(
                    "2026-11-24T07:00:00Z".parse().unwrap(),
                )),
                demo: false,
            },
            std::sync::Arc::new(MemoryStore::default()),
        )
        .unwrap();
        let _ = SystemClock;
        engine.sign_in_to_emulator().await.unwrap();
        let report = engine.sync(Default::default()).await.unwrap();
        assert_eq!(report.calendars.len(), 1);
    }
    let out = presently(
        dir.path(),
        &["agenda", "--from", "2026-11-23", "--days", "5", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = items.as_array().unwrap();
    assert!(items.len() > 10, "{items:?}");
    for key in [
        "id",
        "calendar",
        "subject",
        "start",
        "end",
        "all_day",
        "show_as",
        "response",
        "sensitivity",
        "cancelled",
        "location",
        "organizer",
        "join_url",
        "online_provider",
        "meeting_id",
        "meeting_passcode",
        "web_link",
        "series_id",
        "type",
    ] {
        assert!(items[0].get(key).is_some(), "{key} missing");
    }
    // Timed items carry the local offset; all-day ones are plain dates.
    let timed = items.iter().find(|i| i["all_day"] == false).unwrap();
    assert!(
        timed["start"].as_str().unwrap().ends_with("+01:00"),
        "{timed}"
    );
    let all_day = items.iter().find(|i| i["all_day"] == true).unwrap();
    assert_eq!(all_day["start"].as_str().unwrap().len(), 10, "{all_day}");
    let standups = items
        .iter()
        .filter(|i| {
            i["subject"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("stand")
        })
        .count();
    assert!(standups >= 3, "daily stand-ups expected: {items:#?}");

    let out = presently(
        dir.path(),
        &["agenda", "--from", "2026-11-24", "--days", "1"],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("Tuesday 2026-11-24"), "{table}");
    assert!(table.lines().count() > 2, "{table}");
}

#[test]
fn the_emulator_command_serves_until_stopped() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_presently"))
        .args(["emulator", "--port", &port.to_string()])
        .env("PRESENTLY_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v1.0/me");
    let mut status = None;
    for _ in 0..100 {
        if let Ok(answer) = reqwest::blocking::get(&url) {
            status = Some(answer.status().as_u16());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        status,
        Some(401),
        "the emulator answers Graph requests without a token with 401"
    );
}
