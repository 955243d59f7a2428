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

// ---- the real-world variance switch ------------------------------------------------------

/// GET through the variance's occasional 429s (waited out as asked: they are short):
/// (body, the Retry-After values met).
async fn get_through(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> (Value, Vec<String>) {
    let mut retry_afters = Vec::new();
    loop {
        let (status, headers, body) = graph_get(c, url, token, prefer).await;
        if status == 429 {
            assert_eq!(body["error"]["code"], "ApplicationThrottled");
            let value = headers
                .get("retry-after")
                .expect("a 429 says when to retry")
                .to_str()
                .unwrap()
                .to_string();
            retry_afters.push(value);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(status, 200, "{body}");
        return (body, retry_afters);
    }
}

/// A delta round through the variance's 429s: (items, page sizes, Retry-After values).
async fn varied_round(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    prefer: &[&str],
) -> (Vec<Value>, Vec<usize>, Vec<String>) {
    let (mut items, mut sizes, mut waits) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = url.to_string();
    loop {
        let (body, w) = get_through(c, &next, token, prefer).await;
        waits.extend(w);
        let page = body["value"].as_array().unwrap();
        sizes.push(page.len());
        items.extend(page.iter().cloned());
        match body["@odata.nextLink"].as_str() {
            Some(n) => next = n.to_string(),
            None => {
                assert!(body["@odata.deltaLink"].is_string(), "{body}");
                return (items, sizes, waits);
            }
        }
    }
}

/// Online meetings of every kind, added to the demo mailbox (Teams meetings have their link
/// in `onlineMeeting.joinUrl` without variance).
fn add_teams_meetings(emu: &presently_emulator::Emulator, n: usize) -> Vec<String> {
    let events: Vec<Value> = (0..n)
        .map(|k| {
            json!({
                "subject": format!("Sync {k}"),
                "isOnlineMeeting": true,
                "start": {"dateTime": format!("2026-11-{:02}T{:02}:00:00", 17 + k % 14, 7 + k % 10), "timeZone": "UTC"},
                "end": {"dateTime": format!("2026-11-{:02}T{:02}:30:00", 17 + k % 14, 7 + k % 10), "timeZone": "UTC"},
            })
        })
        .collect();
    emu.control().add_events_bulk(events).unwrap()
}

#[tokio::test]
async fn variance_answers_as_graph_varies_in_the_field() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let ids = add_teams_meetings(&emu, 60);
    let join_urls: BTreeMap<String, String> = ids
        .iter()
        .map(|id| {
            let e = emu.control().event(id).unwrap();
            (
                id.clone(),
                e["onlineMeeting"]["joinUrl"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let url = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let prefer = ["odata.maxpagesize=5"];
    let (plain, plain_sizes, _) = varied_round(&c, &url, &token, &prefer).await;
    assert!(plain_sizes.iter().all(|&s| s <= 5));

    emu.control().set_variance(Some(11));
    assert_eq!(emu.control().variance(), Some(11));
    let (varied, sizes, waits) = varied_round(&c, &url, &token, &prefer).await;
    // Pages larger than asked, and a round in another order with repeats and removals.
    assert!(sizes.iter().any(|&s| s > 5), "{sizes:?}");
    assert_ne!(
        varied.iter().map(|e| &e["id"]).collect::<Vec<_>>(),
        plain.iter().map(|e| &e["id"]).collect::<Vec<_>>()
    );
    assert!(varied.iter().any(|e| e.get("@removed").is_some()));
    let mut state = BTreeMap::new();
    apply(&varied, &mut state);
    let mut truth = BTreeMap::new();
    apply(&plain, &mut truth);
    assert_eq!(
        state, truth,
        "the round still applies to the mailbox's state"
    );

    // Every event keeps what says what it is.
    let events: Vec<&Value> = varied
        .iter()
        .filter(|e| e.get("@removed").is_none())
        .collect();
    for e in &events {
        for field in [
            "id",
            "start",
            "end",
            "subject",
            "showAs",
            "organizer",
            "attendees",
        ] {
            assert!(e.get(field).is_some_and(|v| !v.is_null()), "{field} in {e}");
        }
    }
    // Enums in several casings.
    let show_as: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["showAs"].as_str()).collect();
    for spelling in ["busy", "Busy", "BUSY"] {
        assert!(show_as.contains(spelling), "{show_as:?}");
    }
    // Optional fields left out.
    let missing = |field: &str| events.iter().filter(|e| e.get(field).is_none()).count();
    for field in [
        "categories",
        "sensitivity",
        "originalStartTimeZone",
        "changeKey",
    ] {
        assert!(missing(field) > 0, "{field} is never left out");
        assert!(missing(field) < events.len(), "{field} is always left out");
    }
    // Join links where other clients put them, the link itself unchanged.
    let mut places = BTreeMap::<&str, usize>::new();
    for (id, join_url) in &join_urls {
        let e = events.iter().find(|e| e["id"] == id.as_str()).unwrap();
        let text = e.to_string();
        let encoded: String = url::form_urlencoded::byte_serialize(join_url.as_bytes()).collect();
        let place = if e["onlineMeeting"]["joinUrl"] == join_url.as_str() {
            "onlineMeeting"
        } else if e["onlineMeetingUrl"] == join_url.as_str() {
            "onlineMeetingUrl"
        } else if e["location"]["displayName"] == join_url.as_str()
            || e["location"]["locationUri"] == join_url.as_str()
        {
            "location"
        } else if e["locations"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["displayName"] == join_url.as_str()))
        {
            "locations"
        } else if text.contains("safelinks.protection.outlook.com") && text.contains(&encoded) {
            "safelink"
        } else if e["body"]["content"]
            .as_str()
            .is_some_and(|b| b.contains(join_url.as_str()))
        {
            "body"
        } else {
            panic!("the join link of {id} is gone: {e}");
        };
        if place != "onlineMeeting" {
            assert!(
                e.get("onlineMeeting").is_none_or(Value::is_null),
                "the link moved, onlineMeeting is null: {e}"
            );
        }
        *places.entry(place).or_default() += 1;
    }
    assert_eq!(places.len(), 6, "{places:?}");

    // Now and then a 429, with Retry-After in every form Graph uses.
    let mut waits = waits;
    for n in 0..150 {
        let (_, w) = get_through(
            &c,
            &format!("{}/v1.0/me/calendars?n={n}", emu.base_url()),
            &token,
            &[],
        )
        .await;
        waits.extend(w);
    }
    assert!(waits.iter().any(|w| w.parse::<u64>().is_ok()), "{waits:?}");
    assert!(
        waits
            .iter()
            .any(|w| w.contains('.') && w.parse::<f64>().is_ok()),
        "{waits:?}"
    );
    assert!(waits.iter().any(|w| w.ends_with(" GMT")), "{waits:?}");

    // Off again: the tidy answers of before.
    emu.control().set_variance(None);
    let (again, _, _) = varied_round(&c, &url, &token, &prefer).await;
    assert_eq!(again, plain);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_answers() {
    let answers = |seed: u64| async move {
        let emu = start().await;
        emu.control().set_variance(Some(seed));
        let c = client();
        let token = emu.control().issue_access_token_for_tests();
        let mut out = Vec::new();
        for path in [
            format!("me/calendarView/delta?{WINDOW}"),
            format!("me/calendars/{HOLIDAYS_CALENDAR_ID}/calendarView?{WINDOW}"),
            "me/calendars".to_string(),
            "me/presence".to_string(),
            "me/mailboxSettings".to_string(),
        ] {
            let url = format!("{}/v1.0/{path}", emu.base_url());
            let (mut body, waits) = get_through(&c, &url, &token, &["odata.maxpagesize=4"]).await;
            // Links name the emulator's port; the rest is a function of seed and mailbox.
            let text = body.to_string().replace(&emu.base_url(), "BASE");
            body = serde_json::from_str(&text).unwrap();
            if let Some(obj) = body.as_object_mut() {
                // Answered at different instants.
                obj.remove("statusMessage");
                obj.remove("automaticRepliesSetting").map(|mut ar| {
                    let ar = ar.as_object_mut().unwrap();
                    ar.remove("scheduledStartDateTime");
                    ar.remove("scheduledEndDateTime");
                    obj.insert("automaticRepliesSetting".into(), Value::Object(ar.clone()))
                });
            }
            out.push((body, waits));
        }
        out
    };
    let a = answers(5).await;
    assert_eq!(a, answers(5).await);
    assert_ne!(a, answers(6).await);
}

#[tokio::test]
async fn presence_and_automatic_replies_come_in_graphs_casings() {
    let c = client();
    let mut statuses = std::collections::BTreeSet::new();
    let mut availabilities = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let emu = start().await;
        emu.control().set_variance(Some(seed));
        emu.control()
            .update_mailbox_settings(json!({"automaticRepliesSetting": {
                "status": "scheduled",
                "scheduledStartDateTime": {"dateTime": "2026-12-01T08:00:00", "timeZone": "UTC"},
                "scheduledEndDateTime": {"dateTime": "2026-12-02T08:00:00", "timeZone": "UTC"},
            }}))
            .unwrap();
        let token = emu.control().issue_access_token_for_tests();
        let settings = format!("{}/v1.0/me/mailboxSettings", emu.base_url());
        let (first, _) = get_through(&c, &settings, &token, &[]).await;
        let (second, _) = get_through(&c, &settings, &token, &[]).await;
        let status = first["automaticRepliesSetting"]["status"].as_str().unwrap();
        assert!(status.eq_ignore_ascii_case("scheduled"), "{first}");
        assert_eq!(
            status, second["automaticRepliesSetting"]["status"],
            "stable per seed"
        );
        statuses.insert(status.to_owned());
        let (presence, _) = get_through(
            &c,
            &format!("{}/v1.0/me/presence", emu.base_url()),
            &token,
            &[],
        )
        .await;
        let availability = presence["availability"].as_str().unwrap();
        assert!(availability.eq_ignore_ascii_case("available"), "{presence}");
        availabilities.insert(availability.to_owned());
        // What the emulator stores stays canonical: a write in any casing is read as Graph reads it.
        assert_eq!(
            emu.control().mailbox_settings()["automaticRepliesSetting"]["status"],
            "scheduled"
        );
    }
    assert!(statuses.contains("Scheduled"), "{statuses:?}");
    assert!(statuses.len() >= 3, "{statuses:?}");
    assert!(availabilities.len() >= 3, "{availabilities:?}");
}

#[tokio::test]
async fn variance_is_switched_over_http_too() {
    let emu = start().await;
    let c = client();
    let url = format!("{}/_emulator/variance", emu.base_url());
    let body: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({"seed": null}));
    let resp = c.put(&url).json(&json!({"seed": 42})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(emu.control().variance(), Some(42));
    let resp = c
        .put(&url)
        .json(&json!({"seed": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(emu.control().variance(), Some(42));
    c.put(&url)
        .json(&json!({"seed": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(emu.control().variance(), None);
}

#[tokio::test]
async fn an_emulator_can_start_with_variance_on() {
    let emu = presently_emulator::Emulator::start(presently_emulator::EmulatorConfig {
        today: today(),
        variance: Some(presently_emulator::Variance { seed: 3 }),
        ..presently_emulator::EmulatorConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(emu.control().variance(), Some(3));
}

/// A Teams meeting whose location is a Zoom link has two meeting links: Graph's
/// `onlineMeeting` is what says which is the Teams meeting's, so variance never moves it.
#[tokio::test]
async fn a_join_link_stays_in_online_meeting_where_another_link_is() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let events: Vec<Value> = (0..40)
        .map(|k| {
            json!({
                "subject": format!("Two links {k}"),
                "isOnlineMeeting": true,
                "location": {"displayName": "https://contoso.zoom.us/j/84512937761"},
                "start": {"dateTime": format!("2026-11-{:02}T{:02}:00:00", 17 + k % 14, 7 + k % 10), "timeZone": "UTC"},
                "end": {"dateTime": format!("2026-11-{:02}T{:02}:30:00", 17 + k % 14, 7 + k % 10), "timeZone": "UTC"},
            })
        })
        .collect();
    let ids = emu.control().add_events_bulk(events).unwrap();
    // The demo's Teams invitations hold their own join link in the body: one link, which
    // may move.
    let mut moved = 0;
    for seed in 0..4 {
        emu.control().set_variance(Some(seed));
        let url = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
        let (items, _, _) = varied_round(&c, &url, &token, &["odata.maxpagesize=50"]).await;
        for id in &ids {
            let e = items
                .iter()
                .find(|e| e["id"] == id.as_str() && e.get("@removed").is_none())
                .unwrap();
            assert!(
                e["onlineMeeting"]["joinUrl"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("https://teams.microsoft.com/")),
                "seed {seed}: {e}"
            );
        }
        moved += items
            .iter()
            .filter(|e| e.get("@removed").is_none() && !ids.iter().any(|id| e["id"] == id.as_str()))
            .filter(|e| e.get("onlineMeeting").is_none_or(Value::is_null))
            .filter(|e| {
                e["body"]["content"]
                    .as_str()
                    .is_some_and(|b| b.contains("<b>Microsoft Teams</b>"))
            })
            .count();
    }
    assert!(moved > 0, "no demo invitation's link ever moved");
}
