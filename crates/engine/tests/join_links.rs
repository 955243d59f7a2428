//! Join links that live outside `onlineMeeting` (in the body, the location), synced from the
//! emulator over real HTTP into a real store: the agenda (and so the UI and `agenda --json`),
//! the link Join opens, and reminders all use the one stored join URL.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::*;
use presently_engine::agenda;
use presently_engine::engine::SyncOptions;
use presently_engine::model::OnlineMeetingProvider;
use presently_engine::OpenKind;
use serde_json::{json, Value};

const ZOOM: &str = "https://us02web.zoom.us/j/81234567890?pwd=abc";

fn at(hm: &str) -> Value {
    json!({"dateTime": format!("2026-11-24T{hm}:00"), "timeZone": "W. Europe Standard Time"})
}

fn meeting(subject: &str, start: &str, end: &str, extra: Value) -> Value {
    let mut ev = json!({
        "subject": subject,
        "start": at(start),
        "end": at(end),
        "showAs": "busy",
        "isReminderOn": true,
        "reminderMinutesBeforeStart": 15,
    });
    for (k, v) in extra.as_object().unwrap() {
        ev[k] = v.clone();
    }
    ev
}

#[tokio::test(flavor = "multi_thread")]
async fn links_in_the_body_or_location_reach_every_surface() {
    let emu = demo_emulator().await;
    let control = emu.control();
    // An invitation from outside: the Zoom link only in the body, wrapped by SafeLinks.
    let zoom = control
        .add_event(meeting(
            "Vendor call",
            "09:10",
            "09:40",
            json!({"body": {"contentType": "html", "content": "<p>Agenda: pricing.</p><p>Join Zoom Meeting<br><a href=\"https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus02web.zoom.us%2Fj%2F81234567890%3Fpwd%3Dabc&amp;data=05%7C02%7C&amp;reserved=0\">Join</a></p><p>Meeting ID: 812 3456 7890<br>Passcode: 424242</p>"}}),
        ))
        .unwrap();
    let meet = control
        .add_event(meeting(
            "Design review",
            "11:00",
            "11:30",
            json!({"location": {"displayName": "Google Meet: https://meet.google.com/abc-defg-hij"}}),
        ))
        .unwrap();
    // A look-alike host is no meeting link.
    let evil = control
        .add_event(meeting(
            "Suspicious",
            "12:00",
            "12:30",
            json!({"body": {"contentType": "text", "content": "Join: https://zoom.us.evil.com/j/1"}}),
        ))
        .unwrap();
    // A Teams invitation whose body carries the meeting ID and passcode.
    let teams_html = {
        let page: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/tests/fixtures/graph/teams-invitations-current.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        page["value"][0]["body"].clone()
    };
    let teams = control
        .add_event(meeting(
            "Launch readiness",
            "14:00",
            "14:30",
            json!({"body": teams_html}),
        ))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();

    let view = engine
        .agenda(Some(TODAY.parse().unwrap()), Some(1))
        .unwrap();
    let items = agenda::flatten(&view);
    let item = |id: &str| *items.iter().find(|i| i.id == id).unwrap();

    assert_eq!(item(&zoom).join_url.as_deref(), Some(ZOOM));
    assert_eq!(
        item(&zoom).online_provider,
        Some(OnlineMeetingProvider::Zoom)
    );
    assert_eq!(item(&zoom).meeting_id.as_deref(), Some("812 3456 7890"));
    assert_eq!(item(&zoom).meeting_passcode.as_deref(), Some("424242"));
    assert_eq!(
        item(&meet).join_url.as_deref(),
        Some("https://meet.google.com/abc-defg-hij")
    );
    assert_eq!(
        item(&meet).online_provider,
        Some(OnlineMeetingProvider::GoogleMeet)
    );
    assert_eq!(
        (item(&evil).join_url.as_deref(), item(&evil).online_provider),
        (None, None)
    );
    let t = item(&teams);
    assert_eq!(
        t.online_provider,
        Some(OnlineMeetingProvider::TeamsForBusiness)
    );
    assert!(t
        .join_url
        .as_deref()
        .unwrap()
        .starts_with("https://teams.microsoft.com/l/meetup-join/"));
    assert_eq!(
        (t.meeting_id.as_deref(), t.meeting_passcode.as_deref()),
        (Some("312 456 789 012"), Some("Ab3dEf"))
    );
    // The emulator writes previews on one line, as some clients do: the block is cut too.
    assert_eq!(
        t.body_preview.as_deref(),
        Some("Let's go through the launch checklist.")
    );

    // `presently agenda --json` serialises these items.
    let json = serde_json::to_value(&items).unwrap();
    let zoom_json = json
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == zoom.as_str())
        .unwrap();
    assert_eq!(zoom_json["join_url"], ZOOM);
    assert_eq!(zoom_json["online_provider"], "zoom");
    assert_eq!(zoom_json["meeting_id"], "812 3456 7890");
    assert_eq!(zoom_json["meeting_passcode"], "424242");

    // Join opens the stored link; an appointment without one has nothing to join.
    assert_eq!(
        engine.open_target(&zoom, OpenKind::Join).unwrap().as_str(),
        ZOOM
    );
    assert_eq!(
        engine.open_target(&meet, OpenKind::Join).unwrap().as_str(),
        "https://meet.google.com/abc-defg-hij"
    );
    assert!(engine.open_target(&evil, OpenKind::Join).is_err());

    // The reminder (due 08:55, now 09:00) carries the join link its notification offers.
    let (due, _) = engine.take_due_reminders().unwrap();
    let reminder = due.iter().find(|r| r.appointment_id == zoom).unwrap();
    assert_eq!(reminder.join_url.as_deref(), Some(ZOOM));
}
