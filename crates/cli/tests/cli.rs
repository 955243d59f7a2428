//! The `presently` binary as a user runs it: real processes, a real store file, the
//! emulator over loopback HTTP.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed};
use std::path::Path;
use std::process::Command;

const TODAY: &str = "2026-11-24";
const BERLIN: &str = "[agenda]\ntimezone = \"Europe/Berlin\"\n";

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

/// Nobody ever signed in: the commands that need an account say so on stderr and fail,
/// instead of printing an empty week; no store is created to find out.
#[test]
fn signed_out_commands_say_so_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["agenda", "--from", "2026-03-28", "--days", "2"][..],
        &["agenda", "--json"],
        &["sync"],
        &["calendars"],
        &["whoami"],
        &["presence", "plan"],
    ] {
        let out = presently(dir.path(), args);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert_eq!(
            stderr(&out).trim(),
            "presently: not signed in — run `presently login`",
            "{args:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out));
    }
    assert!(!dir.path().join("presently.db").exists());
}

/// A store with the demo week, signed in through the engine (a memory keyring) at
/// 2026-11-24 08:00 Berlin; the clock is returned to move on.
async fn signed_in_store(
    dir: &Path,
    emu: &Emulator,
) -> (
    presently_engine::Engine,
    std::sync::Arc<presently_engine::FixedClock>,
) {
    use presently_engine::auth::MemoryStore;
    use presently_engine::{config::Config, paths::Paths, Engine, EngineSetup};
    write_config(dir, emu, BERLIN);
    let clock = std::sync::Arc::new(presently_engine::FixedClock::new(
        "2026-11-24T07:00:00Z".parse().unwrap(),
    ));
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config: Config::load(&dir.join("config.toml")).unwrap(),
            clock: clock.clone(),
            demo: false,
        },
        std::sync::Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine.sync(Default::default()).await.unwrap();
    (engine, clock)
}

/// `logout` is signed out too: the calendar stays on disk but is not shown.
#[tokio::test(flavor = "multi_thread")]
async fn after_logout_the_agenda_says_not_signed_in() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = signed_in_store(dir.path(), &emu).await;
    engine.sign_out(false).await.unwrap();
    drop(engine);
    let out = presently(dir.path(), &["agenda", "--from", "2026-11-24"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("not signed in — run `presently login`"));
    assert!(out.stdout.is_empty(), "{}", text(&out));
}

/// A sign-in that stopped working (the refresh token revoked): the agenda still shows the
/// calendar as last synced, with a warning naming what to do.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_sign_in_still_shows_the_local_calendar_with_a_warning() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = signed_in_store(dir.path(), &emu).await;
    emu.control()
        .push_fault(presently_emulator::Fault::RevokeRefreshTokens);
    clock.advance(chrono::Duration::hours(2));
    let err = engine.sync(Default::default()).await.unwrap_err();
    assert_eq!(
        err.code(),
        presently_engine::ErrorCode::ReauthRequired,
        "{err}"
    );
    drop(engine);

    let out = presently(
        dir.path(),
        &["agenda", "--from", "2026-11-24", "--days", "1"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Daily stand-up"), "{table}");
    let warning = stderr(&out);
    assert!(warning.starts_with("presently: warning: "), "{warning}");
    assert!(warning.contains("run `presently login`"), "{warning}");
    assert!(warning.contains("as last synced"), "{warning}");

    let out = presently(
        dir.path(),
        &[
            "presence",
            "plan",
            "--from",
            "2026-11-24T00:00:00+01:00",
            "--to",
            "2026-11-25T00:00:00+01:00",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("presently: warning: "),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn agenda_prints_the_stored_week_as_table_and_json() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    drop(signed_in_store(dir.path(), &emu).await);
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

    // Into a reader that is gone (`presently agenda | head -0`): a quiet success, no panic.
    for args in [
        &["agenda", "--from", "2026-11-23", "--days", "5"][..],
        &["agenda", "--from", "2026-11-23", "--days", "5", "--json"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = command(dir.path())
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
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
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // It says where it listens and how to point Presently at it (stderr is quiet).
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let mut banner = String::new();
    while let Ok(line) = lines_rx.recv_timeout(std::time::Duration::from_secs(10)) {
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("graph_endpoint") {
            break;
        }
    }
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/v1.0/me");
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
    assert!(
        banner.starts_with(&format!("Microsoft 365 emulator listening on {base}")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("graph_endpoint = \"{base}\"")),
        "{banner}"
    );
    assert!(
        banner.contains(presently_emulator::DEMO_CLIENT_ID),
        "{banner}"
    );
    assert!(
        !banner.contains("Latency"),
        "no latency by default: {banner}"
    );
    assert_eq!(
        status,
        Some(401),
        "the emulator answers Graph requests without a token with 401"
    );
}

/// `presently emulator --variance SEED` answers as Graph varies in the field, from that seed.
#[test]
fn the_emulator_command_varies_its_answers_with_a_seed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_presently"))
        .args(["emulator", "--port", &port.to_string(), "--variance", "7"])
        .env("PRESENTLY_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/_emulator/variance");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(a) = reqwest::blocking::get(&url) {
            answer = Some(a.json::<serde_json::Value>().unwrap());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(answer, Some(serde_json::json!({"seed": 7})));
}

/// `presently emulator --latency-ms N --bytes-per-sec N` answers as over a WAN, and says so.
#[test]
fn the_emulator_command_adds_latency_and_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_presently"))
        .args([
            "emulator",
            "--port",
            &port.to_string(),
            "--latency-ms",
            "150",
            "--bytes-per-sec",
            "2000000",
        ])
        .env("PRESENTLY_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let mut banner = String::new();
    while let Ok(line) = lines_rx.recv_timeout(std::time::Duration::from_secs(10)) {
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("graph_endpoint") {
            break;
        }
    }
    let base = format!("http://127.0.0.1:{port}");
    let setting = reqwest::blocking::get(format!("{base}/_emulator/latency"))
        .and_then(|a| a.json::<serde_json::Value>());
    let started = std::time::Instant::now();
    let status = reqwest::blocking::get(format!("{base}/v1.0/me")).map(|a| a.status().as_u16());
    let took = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        banner.contains(
            "Latency on: 150 ms per identity and Graph request, bodies at 2000000 bytes/s"
        ),
        "{banner}"
    );
    assert_eq!(
        setting.unwrap(),
        serde_json::json!({"perRequestMs": 150, "bytesPerSec": 2000000})
    );
    assert_eq!(status.unwrap(), 401);
    assert!(took >= std::time::Duration::from_millis(150), "{took:?}");
}

/// Stderr carries warnings and errors only (no INFO lines, no colour codes when piped);
/// RUST_LOG still turns the log on; the log file keeps info.
#[test]
fn stderr_is_quiet_and_plain_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    // A first run creates the store (all its migrations).
    let out = command(dir.path())
        .args(["presence", "history"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stderr(&out), "", "nothing but warnings on stderr");
    let log: String = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(
        log.matches("migrating the store schema").count(),
        1,
        "one line in the log file:\n{log}"
    );

    let fresh = tempfile::tempdir().unwrap();
    let out = command(fresh.path())
        .args(["presence", "history"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        err.matches("migrating the store schema").count(),
        1,
        "{err}"
    );
    assert!(err.contains("INFO"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes into a pipe: {err:?}"
    );
}

#[test]
fn a_named_configuration_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.toml");
    let missing_text = missing.display().to_string();
    let out = presently(
        dir.path(),
        &["--config", &missing_text, "agenda", "--days", "1"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains(&missing_text), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("--config"), "{err}");

    let out = command(dir.path())
        .args(["presence", "history"])
        .env("PRESENTLY_CONFIG", &missing)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains(&missing_text), "{err}");
    assert!(err.contains("PRESENTLY_CONFIG"), "{err}");

    // The default place may be empty.
    let out = command(dir.path())
        .args(["presence", "history"])
        .env_remove("PRESENTLY_CONFIG")
        .env("XDG_CONFIG_HOME", dir.path().join("empty"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_wrong_value_in_the_configuration_is_told_in_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "[agenda]\ndays = \"7\"\n").unwrap();
    let out = presently(dir.path(), &["agenda"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("config.toml"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("agenda.days"), "{err}");
    assert!(
        err.contains("must be a whole number, not the text \"7\""),
        "{err}"
    );
    assert!(!err.contains("expected u32"), "{err}");
}

#[test]
fn bad_arguments_are_told_in_words() {
    let dir = tempfile::tempdir().unwrap();
    for (args, words) in [
        (
            &["agenda", "--days", "abc"][..],
            "whole number from 1 to 366",
        ),
        (&["agenda", "--days", "0"], "from 1 to 366"),
        (&["agenda", "--from", "24.11.2026"], "such as 2026-11-24"),
        (
            &["emulator", "--port", "http"],
            "whole number from 0 to 65535",
        ),
        (
            &["emulator", "--timezone", "Berlin"],
            "such as Europe/Berlin",
        ),
        (
            &["emulator", "--variance", "x7"],
            "a whole number, such as 7",
        ),
        (
            &["emulator", "--latency-ms", "0.1s"],
            "whole number of milliseconds",
        ),
        (
            &["emulator", "--bytes-per-sec", "0"],
            "whole number of bytes per second",
        ),
    ] {
        let out = presently(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(!err.contains("invalid digit"), "{args:?}: {err}");
        assert!(
            !err.contains("input contains invalid characters"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn help_tells_about_rust_log_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(&presently(dir.path(), &["--help"]));
    for word in [
        "RUST_LOG",
        "NO_COLOR",
        "PRESENTLY_CONFIG",
        "PRESENTLY_DATA_DIR",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}
