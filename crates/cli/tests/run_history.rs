//! The presence history is logged as it is written, by whichever process writes it, with
//! one target and the same fields: the runtime's lines (in the app, the tray host and
//! `presently run`) and a pause or resume from the CLI or the tray alike. Needs no sign-in.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn presently(dir: &Path) -> Command {
    let mut cmd = command(dir);
    cmd.env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    cmd
}

#[test]
fn a_pause_and_a_resume_are_logged_as_the_history_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let run = |args: &[&str]| {
        let out = presently(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let paused = run(&["presence", "pause", "--for", "1h"]);
    let resumed = run(&["presence", "resume"]);
    let out = presently(dir.path())
        .args(["presence", "history"])
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = history
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(lines[0].contains("paused until"), "{history}");
    for (log, line, event) in [
        (&paused, lines[0], "paused"),
        (&resumed, lines[1], "resumed"),
    ] {
        let logged = log
            .lines()
            .find(|l| l.contains("presently::presence"))
            .unwrap_or_else(|| panic!("no history line logged for {event}:\n{log}"));
        assert!(
            logged.contains(&format!("presently::presence: {line} event={event}")),
            "{logged}\nexpected {line:?}"
        );
    }
}
