//! Graph as it behaves beyond its documentation: delta on any calendar (and a switch to
//! refuse it), calendar lists without `isDefaultCalendar`, pages larger than asked, and delta
//! rounds in no particular order.
#![allow(clippy::unwrap_used)] // tests may unwrap (helpers outside #[test] fns too)

mod common;

use std::collections::BTreeMap;

use common::*;
use presently_emulator::{Fault, HOLIDAYS_CALENDAR_ID, PRIMARY_CALENDAR_ID};
use serde_json::{json, Value};

const WINDOW: &str = "startDateTime=2026-11-16T00:00:00Z&endDateTime=2026-12-07T00:00:00Z";

/// Applies a delta round's items in order: id → subject.
fn apply(items: &[Value], state: &mut BTreeMap<String, String>) {
    for item in items {
        let id = item["id"].as_str().unwrap().to_string();
        if item.get("@removed").is_some() {
            state.remove(&id);
        } else {
            state.insert(id, item["subject"].as_str().unwrap_or_default().to_string());
        }
    }
}

#[tokio::test]
async fn any_calendar_has_its_own_delta_with_links_of_its_own() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let base = format!(
        "{}/v1.0/me/calendars/{HOLIDAYS_CALENDAR_ID}/calendarView/delta",
        emu.base_url()
    );
    let (items, pages, delta) = delta_round(
        &c,
        &format!("{base}?{WINDOW}"),
        &token,
        &["odata.maxpagesize=1"],
    )
    .await;
    assert!(!items.is_empty());
    assert_eq!(pages, items.len(), "one item a page");
    let encoded = HOLIDAYS_CALENDAR_ID.replace('=', "%3D");
    assert!(
        delta.starts_with(&format!(
            "{}/v1.0/me/calendars/{encoded}/calendarView/delta?$deltatoken=",
            emu.base_url()
        )),
        "{delta}"
    );
    let window_view = calendar_view(
        &c,
        &format!(
            "{}/v1.0/me/calendars/{HOLIDAYS_CALENDAR_ID}/calendarView?{WINDOW}&$top=100",
            emu.base_url()
        ),
        &token,
        &[],
    )
    .await;
    let mut state = BTreeMap::new();
    apply(&items, &mut state);
    assert_eq!(state.len(), window_view.len());

    // A change in this calendar comes through its delta link; one in the primary does not.
    let added = emu
        .control()
        .add_event(json!({
            "calendarId": HOLIDAYS_CALENDAR_ID,
            "subject": "Company day",
            "isAllDay": true,
            "start": {"dateTime": "2026-11-27T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-28T00:00:00", "timeZone": "UTC"},
        }))
        .unwrap();
    emu.control()
        .add_event(json!({
            "subject": "Primary only",
            "start": {"dateTime": "2026-11-27T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-27T10:00:00", "timeZone": "UTC"},
        }))
        .unwrap();
    let (changes, _, _) = delta_round(&c, &delta, &token, &[]).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], added.as_str());

    // A lost sync state sends the calendar's own route back to start over.
    emu.control().push_fault(Fault::ExpireDeltaTokens);
    let (status, headers, _) = graph_get(&c, &delta, &token, &[]).await;
    assert_eq!(status, 410);
    let location = headers.get("location").unwrap().to_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "{}/v1.0/me/calendars/{encoded}/calendarView/delta?startDateTime=",
            emu.base_url()
        )),
        "{location}"
    );

    let (status, _, body) = graph_get(
        &c,
        &format!(
            "{}/v1.0/me/calendars/nope/calendarView/delta?{WINDOW}",
            emu.base_url()
        ),
        &token,
        &[],
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("ErrorItemNotFound"))
    );
}

#[tokio::test]
async fn calendar_delta_can_be_refused_as_v1_refuses_an_unknown_segment() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    emu.control().push_fault(Fault::RefuseCalendarDelta);
    assert_eq!(
        emu.control().active_faults(),
        vec![Fault::RefuseCalendarDelta]
    );
    let (status, _, body) = graph_get(
        &c,
        &format!(
            "{}/v1.0/me/calendars/{HOLIDAYS_CALENDAR_ID}/calendarView/delta?{WINDOW}",
            emu.base_url()
        ),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(
        body["error"]["message"],
        "Resource not found for the segment 'delta'."
    );
    // The primary's own delta still answers.
    let (status, _, _) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    emu.control().clear_faults();
    let (status, _, _) = graph_get(
        &c,
        &format!(
            "{}/v1.0/me/calendars/{HOLIDAYS_CALENDAR_ID}/calendarView/delta?{WINDOW}",
            emu.base_url()
        ),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_calendar_list_can_leave_out_is_default_calendar_and_me_calendar_names_the_primary() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    emu.control().push_fault(Fault::OmitIsDefaultCalendar);
    let (status, _, body) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendars", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let calendars = body["value"].as_array().unwrap();
    assert!(calendars.len() >= 2);
    assert!(
        calendars
            .iter()
            .all(|c| c.get("isDefaultCalendar").is_none()),
        "{body}"
    );
    let (status, _, body) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendar", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], PRIMARY_CALENDAR_ID);
}

#[tokio::test]
async fn pages_can_be_larger_than_asked() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let events: Vec<Value> = (0..1500)
        .map(|n| {
            json!({
                "subject": format!("Bulk {n}"),
                "start": {"dateTime": format!("2026-11-{:02}T{:02}:00:00", 17 + n % 14, 6 + n % 12), "timeZone": "UTC"},
                "end": {"dateTime": format!("2026-11-{:02}T{:02}:30:00", 17 + n % 14, 6 + n % 12), "timeZone": "UTC"},
            })
        })
        .collect();
    emu.control().add_events_bulk(events).unwrap();
    emu.control()
        .push_fault(Fault::OversizedPages { page_size: 1200 });
    let url = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let (status, headers, body) = graph_get(&c, &url, &token, &["odata.maxpagesize=10"]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        1200,
        "past the usual largest page"
    );
    assert!(
        headers.get("preference-applied").is_none(),
        "the preference was not applied"
    );
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}", emu.base_url());
    let (_, _, body) = graph_get(&c, &url, &token, &["odata.maxpagesize=10"]).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1200);
}

#[tokio::test]
async fn shuffled_delta_rounds_are_deterministic_and_apply_to_the_same_state() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=4"];
    let (ordered, _, _) = delta_round(&c, &url, &token, &prefer).await;
    emu.control().push_fault(Fault::ShuffleDelta { seed: 7 });
    let (shuffled, _, delta) = delta_round(&c, &url, &token, &prefer).await;
    let (again, _, _) = delta_round(&c, &url, &token, &prefer).await;
    assert_eq!(shuffled, again, "the same seed serves the same order");
    assert_ne!(shuffled, ordered);
    assert!(shuffled.len() > ordered.len(), "repeats and early removals");
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    apply(&ordered, &mut a);
    apply(&shuffled, &mut b);
    assert_eq!(a, b);

    // An incremental round too.
    emu.control()
        .add_event(json!({
            "subject": "Later",
            "start": {"dateTime": "2026-11-26T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-26T10:00:00", "timeZone": "UTC"},
        }))
        .unwrap();
    let (changes, _, _) = delta_round(&c, &delta, &token, &prefer).await;
    apply(&changes, &mut b);
    let (fresh, _, _) = delta_round(&c, &url, &token, &prefer).await;
    let mut truth = BTreeMap::new();
    apply(&fresh, &mut truth);
    assert_eq!(b, truth);
    assert!(b.values().any(|s| s == "Later"));
}
