//! "Don't switch for this one" (issue 22) end to end on simulated time: the engine's
//! runtime signed in to the emulator, skips made before and during an appointment, kept
//! across a reopen, and dropped when the appointment is deleted.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;
mod presence_sim;

use chrono::{DateTime, Duration, Utc};
use presence_sim::{aggregate, calls, empty_emulator, engine, history, start, Sim};
use presently_emulator::Emulator;
use presently_engine::presence::TransitionKind;
use presently_engine::{Engine, SkipTarget};
use serde_json::json;

/// Adds a busy appointment; returns its id and span.
fn busy(
    emu: &Emulator,
    subject: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> (String, DateTime<Utc>, DateTime<Utc>) {
    let end = start + Duration::minutes(minutes);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let id = emu
        .control()
        .add_event(json!({
            "subject": subject,
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": "busy",
        }))
        .unwrap();
    (id, start, end)
}

fn skipped_in_agenda(engine: &Engine, id: &str) -> bool {
    let view = engine.agenda(None, Some(2)).unwrap();
    view.days
        .iter()
        .flat_map(|d| &d.items)
        .find(|i| i.id == id)
        .map(|i| i.skipped)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_appointment_switches_nothing_and_the_next_one_still_does() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let now = sim.now();
    let (first, begin, end) = busy(&emu, "Skip me", now + Duration::minutes(10), 30);
    let (second, later, later_end) = busy(&emu, "Keep me", now + Duration::minutes(60), 30);
    engine.sync_now().await.unwrap();

    let next = engine.presence_next_switch().unwrap().unwrap();
    assert_eq!(
        (next.appointment_id.as_str(), next.skipped),
        (first.as_str(), false)
    );
    let outcome = engine.presence_skip(&SkipTarget::Next, false).unwrap();
    assert!(outcome.changed);
    assert_eq!(outcome.appointment_id, first);
    // Again: nothing to do.
    assert!(
        !engine
            .presence_skip(&SkipTarget::Next, false)
            .unwrap()
            .changed
    );
    // The tray's toggle still names the same appointment, now skipped.
    let next = engine.presence_next_switch().unwrap().unwrap();
    assert_eq!(
        (next.appointment_id.as_str(), next.skipped),
        (first.as_str(), true)
    );
    assert!(skipped_in_agenda(&engine, &first));
    assert!(!skipped_in_agenda(&engine, &second));

    // The plan shows it skipped, with no switch for it, and the next one applying.
    let plan = engine.presence_plan(now, now + Duration::hours(3)).unwrap();
    let kinds: Vec<(DateTime<Utc>, &str, Option<&str>)> = plan
        .iter()
        .map(|p| match &p.transition.kind {
            TransitionKind::Apply { appointment_id, .. } => {
                (p.transition.at, "apply", Some(appointment_id.as_str()))
            }
            TransitionKind::Restore { .. } => (p.transition.at, "restore", None),
            TransitionKind::Skipped { appointment_id, .. } => {
                (p.transition.at, "skipped", Some(appointment_id.as_str()))
            }
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (begin, "skipped", Some(first.as_str())),
            (later, "apply", Some(second.as_str())),
            (later_end, "restore", None),
        ]
    );

    // A restart keeps the skip.
    drop(engine);
    let engine = self::engine(&emu, &sim, dir.path()).await;
    assert!(skipped_in_agenda(&engine, &first));

    let running = start(&engine, &sim).await;
    sim.run_until(end).await;
    assert!(calls(&emu, "setUserPreferredPresence").is_empty());
    assert!(calls(&emu, "setStatusMessage").is_empty());
    sim.run_until(later).await;
    assert_eq!(calls(&emu, "setUserPreferredPresence").len(), 1);
    sim.run_until(later_end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    running.stop().await;
    let history = history(&engine);
    assert!(
        history[0].ends_with("skipped: no switching for Skip me"),
        "{history:?}"
    );
    assert!(
        history[1].ends_with("In a meeting (Keep me)"),
        "{history:?}"
    );
}

/// Skipping the appointment under way gives the user's own state back now, as its end
/// would; taking the skip back applies the profile again at once.
#[tokio::test(flavor = "multi_thread")]
async fn skipping_the_running_appointment_restores_now_and_unskipping_applies_again() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let (id, begin, end) = busy(&emu, "Under way", sim.now() + Duration::minutes(5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(10)).await;
    assert_eq!(calls(&emu, "setUserPreferredPresence").len(), 1);
    assert_eq!(aggregate(&emu), "Busy");

    sim.after(|| {
        engine
            .presence_skip(&SkipTarget::Appointment(id.clone()), false)
            .unwrap();
    })
    .await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    assert_eq!(aggregate(&emu), "Available");

    sim.after(|| {
        assert!(engine.presence_unskip(&SkipTarget::Next).unwrap().changed);
    })
    .await;
    assert_eq!(calls(&emu, "setUserPreferredPresence").len(), 2);
    assert_eq!(aggregate(&emu), "Busy");
    sim.run_until(end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 2);
    running.stop().await;
    let history = history(&engine);
    assert!(
        history
            .iter()
            .any(|l| l.ends_with("switching again for Under way")),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skip_goes_when_its_appointment_is_deleted() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let (gone, _, _) = busy(
        &emu,
        "Cancelled later",
        sim.now() + Duration::minutes(30),
        30,
    );
    let (kept, _, _) = busy(&emu, "Stays", sim.now() + Duration::minutes(90), 30);
    engine.sync_now().await.unwrap();
    engine
        .presence_skip(&SkipTarget::Appointment(gone.clone()), false)
        .unwrap();
    engine
        .presence_skip(&SkipTarget::Appointment(kept.clone()), false)
        .unwrap();
    // An edit keeps the skip.
    emu.control()
        .update_event(&kept, json!({"subject": "Stays, renamed"}))
        .unwrap();
    emu.control().delete_event(&gone).unwrap();
    engine.sync_now().await.unwrap();
    let ids: Vec<String> = engine
        .presence_skip_list()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![kept.clone()]);
    assert!(skipped_in_agenda(&engine, &kept));
    // An unknown id and a series skip of a single appointment are refused.
    assert!(engine
        .presence_skip(&SkipTarget::Appointment("nope".into()), false)
        .is_err());
    assert!(engine
        .presence_skip(&SkipTarget::Appointment(kept), true)
        .is_err());
}
