//! `presently presence plan` over the demo week synced from the emulator.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
use common::*;
use presently_emulator::{Emulator, EmulatorConfig, Seed};

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_of_the_demo_week_applies_and_restores_without_flapping() {
    let emu = Emulator::start(EmulatorConfig {
        today: "2026-11-24".parse().unwrap(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &emu, "[agenda]\ntimezone = \"Europe/Berlin\"\n");
    sign_in_and_sync(
        presently_engine::paths::Paths::under(dir.path()),
        std::sync::Arc::new(presently_engine::FixedClock::new(
            "2026-11-24T07:00:00Z".parse().unwrap(),
        )),
    )
    .await;
    let window = [
        "presence",
        "plan",
        "--from",
        "2026-11-23T00:00:00+01:00",
        "--to",
        "2026-11-28T00:00:00+01:00",
    ];
    let out = presently(dir.path(), &[&window[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = plan.as_array().unwrap();
    let kinds: Vec<&str> = plan.iter().map(|t| t["kind"].as_str().unwrap()).collect();
    let applies = kinds.iter().filter(|k| **k == "apply").count();
    let restores = kinds.iter().filter(|k| **k == "restore").count();
    assert!(applies >= 3, "{plan:#?}");
    assert!(restores >= 2, "{plan:#?}");
    // No flapping: strictly increasing instants (never a restore and an apply at the same
    // instant), a restore only after an apply, and every apply eventually restored.
    let mut open = false;
    for (i, t) in plan.iter().enumerate() {
        if i > 0 {
            assert!(
                plan[i - 1]["at"].as_str().unwrap() < t["at"].as_str().unwrap(),
                "{plan:#?}"
            );
        }
        match t["kind"].as_str().unwrap() {
            "restore" => {
                assert!(open, "restore without an apply: {t}");
                open = false;
            }
            "apply" => {
                open = true;
                assert!(
                    t["profile"].is_string() && t["appointment_id"].is_string(),
                    "{t}"
                );
                assert!(t["actions"].is_array(), "{t}");
                assert!(t["local"].as_str().unwrap().ends_with("+01:00"), "{t}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(!open, "the week ends restored: {plan:#?}");
    // A restore is never followed by an apply at the same minute: that would be a flap.
    for pair in plan.windows(2) {
        if pair[0]["kind"] == "restore" {
            assert_ne!(
                &pair[0]["at"].as_str().unwrap()[..16],
                &pair[1]["at"].as_str().unwrap()[..16]
            );
        }
    }

    // The demo has back-to-back meetings: the second follows the first with no restore.
    assert!(
        plan.windows(2)
            .any(|p| p[0]["kind"] == "apply" && p[1]["kind"] == "apply"),
        "{plan:#?}"
    );

    let out = presently(dir.path(), &window);
    assert!(out.status.success(), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("apply    In a meeting"), "{table}");
    assert!(table.contains("restore"), "{table}");
    assert!(
        table.contains("status message \"In a meeting until"),
        "{table}"
    );

    let out = presently(dir.path(), &["presence", "plan", "--from", "tomorrow"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("RFC 3339"), "{}", text(&out));
}
