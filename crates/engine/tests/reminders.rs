//! Reminders from the store: due at their time, never twice (across restarts too).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_engine::auth::MemoryStore;
use presently_engine::graph::EventChange;
use presently_engine::model::*;
use presently_engine::paths::Paths;
use presently_engine::store::{Store, SyncState};
use presently_engine::{Engine, EngineSetup, FixedClock};
use std::sync::Arc;

fn meeting(id: &str, start: &str) -> Appointment {
    let start: chrono::DateTime<chrono::Utc> = start.parse().unwrap();
    let when = When::Timed {
        start,
        end: start + chrono::Duration::minutes(30),
    };
    Appointment {
        subject: format!("Meeting {id}"),
        location: Some("Room 1".into()),
        reminder_on: true,
        reminder_minutes: Some(15),
        ..Appointment::new(id, "primary", when)
    }
}

fn open(dir: &std::path::Path, clock: Arc<FixedClock>) -> Engine {
    Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config: Default::default(),
            clock,
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap()
}

#[test]
fn reminders_fall_due_once_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(&dir.path().join("presently.db")).unwrap();
        store
            .set_calendars(&[Calendar {
                id: "primary".into(),
                name: "Calendar".into(),
                color: None,
                is_default: true,
                can_edit: true,
            }])
            .unwrap();
        let changes = vec![
            EventChange::Upsert(Box::new(meeting("a", "2026-11-24T10:00:00Z"))),
            EventChange::Upsert(Box::new(meeting("b", "2026-11-24T11:00:00Z"))),
        ];
        store
            .apply_changes("primary", &changes, &SyncState::default())
            .unwrap();
    }
    let clock = Arc::new(FixedClock::new("2026-11-24T09:30:00Z".parse().unwrap()));
    let engine = open(dir.path(), clock.clone());
    let (due, next) = engine.take_due_reminders().unwrap();
    assert!(due.is_empty());
    assert_eq!(next, Some("2026-11-24T09:45:00Z".parse().unwrap()));
    clock.set("2026-11-24T09:45:00Z".parse().unwrap());
    let (due, _) = engine.take_due_reminders().unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].subject, "Meeting a");
    assert!(
        engine.take_due_reminders().unwrap().0.is_empty(),
        "not twice"
    );
    drop(engine);
    // After a restart, still not twice; the next one comes at its time.
    let engine = open(dir.path(), clock.clone());
    assert!(engine.take_due_reminders().unwrap().0.is_empty());
    clock.set("2026-11-24T10:50:00Z".parse().unwrap());
    let (due, _) = engine.take_due_reminders().unwrap();
    assert_eq!(
        due.iter()
            .map(|r| r.appointment_id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
}
