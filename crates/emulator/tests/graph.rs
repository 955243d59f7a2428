//! Microsoft Graph: authentication, calendars, calendarView (+ delta) and the demo mailbox.
#![allow(clippy::unwrap_used)] // tests may unwrap (helpers outside #[test] fns too)

mod common;

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use common::*;
use presently_emulator::{Seed, HOLIDAYS_CALENDAR_ID, PRIMARY_CALENDAR_ID};
use serde_json::{json, Value};

const WINDOW: &str = "startDateTime=2026-11-16T00:00:00Z&endDateTime=2026-12-07T00:00:00Z";

fn dt(d: (i32, u32, u32), h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(d.0, d.1, d.2)
        .unwrap()
        .and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

async fn week_view(emu: &presently_emulator::Emulator) -> Vec<Value> {
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}&$top=1000", emu.base_url());
    calendar_view(&client(), &url, &token, &[]).await
}

fn by_subject<'a>(events: &'a [Value], subject: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["subject"] == subject).collect()
}

#[tokio::test]
async fn graph_requires_a_valid_token() {
    let emu = start().await;
    let c = client();
    let url = format!("{}/v1.0/me", emu.base_url());
    let check = |status: u16, body: &Value| {
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        assert!(body["error"]["message"].as_str().is_some());
        let inner = &body["error"]["innerError"];
        assert!(inner["date"].as_str().is_some() && inner["request-id"].as_str().is_some());
        assert!(inner["client-request-id"].as_str().is_some());
    };
    let resp = c.get(&url).send().await.unwrap();
    assert!(resp.headers().get("www-authenticate").is_some());
    let status = resp.status().as_u16();
    check(status, &resp.json().await.unwrap());

    let (status, _, body) = graph_get(&c, &url, "garbage", &[]).await;
    check(status, &body);

    let token = emu.control().issue_access_token_for_tests();
    let (status, _, body) = graph_get(&c, &url, &token, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mail"], presently_emulator::DEMO_UPN);
    assert!(body["id"].as_str().is_some() && body["displayName"].as_str().is_some());

    emu.control().expire_access_tokens();
    let (status, _, body) = graph_get(&c, &url, &token, &[]).await;
    check(status, &body);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn calendars() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let (status, _, body) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendars", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let cals = body["value"].as_array().unwrap();
    assert!(cals.len() >= 2);
    let primary: Vec<_> = cals
        .iter()
        .filter(|c| c["isDefaultCalendar"] == true)
        .collect();
    assert_eq!(primary.len(), 1);
    assert_eq!(primary[0]["name"], "Calendar");
    assert_eq!(primary[0]["color"], "auto");
    assert_eq!(primary[0]["id"], PRIMARY_CALENDAR_ID);
    for cal in cals {
        for k in [
            "id",
            "name",
            "color",
            "hexColor",
            "isDefaultCalendar",
            "canEdit",
            "owner",
        ] {
            assert!(cal.get(k).is_some(), "calendar lacks {k}: {cal}");
        }
        assert!(cal["owner"]["address"].as_str().is_some());
    }
    let (status, _, one) = graph_get(
        &c,
        &format!(
            "{}/v1.0/me/calendars/{HOLIDAYS_CALENDAR_ID}",
            emu.base_url()
        ),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["name"], "Team holidays");
    assert_eq!(one["isDefaultCalendar"], false);
    let (status, _, err) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendars/AAMkAGnope", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "ErrorItemNotFound");
}

#[tokio::test]
async fn full_delta_round_pages_and_matches_the_view() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());

    // Preference-Applied echoes the page size.
    let (status, headers, body) = graph_get(&c, &first, &token, &["odata.maxpagesize=5"]).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 5);
    assert!(headers["preference-applied"]
        .to_str()
        .unwrap()
        .contains("odata.maxpagesize=5"));
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!(
        "{}/v1.0/me/calendarView/delta?$skiptoken=",
        emu.base_url()
    )));

    let (items, pages, delta_link) =
        delta_round(&c, &first, &token, &["odata.maxpagesize=5"]).await;
    assert!(pages >= 4, "only {pages} pages");
    assert!(delta_link.starts_with(&format!(
        "{}/v1.0/me/calendarView/delta?$deltatoken=",
        emu.base_url()
    )));
    let set = ids(&items);
    assert_eq!(set.len(), items.len(), "duplicates in the round");
    assert!(items.iter().all(|e| e["type"] != "seriesMaster"));
    assert!(items
        .iter()
        .all(|e| e["@odata.type"] == "#microsoft.graph.event"));
    let view = week_view(&emu).await;
    assert_eq!(set, ids(&view));
    // 10 + 5 stand-ups in the window (one cancelled) are there as occurrences/exceptions.
    assert_eq!(
        items
            .iter()
            .filter(|e| e["subject"] == "Daily stand-up")
            .count(),
        14
    );

    // Nothing changed: the next round is empty.
    let (again, _, _) = delta_round(&c, &delta_link, &token, &[]).await;
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn incremental_round_reports_exactly_the_changes() {
    let emu = start().await;
    let c = client();
    let ctl = emu.control();
    let token = ctl.issue_access_token_for_tests();
    let first = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let (items, _, delta_link) = delta_round(&c, &first, &token, &["odata.maxpagesize=7"]).await;

    let find = |s: &str| {
        items.iter().find(|e| e["subject"] == s).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let updated = find("Sprint demo");
    let deleted = find("Lunch & learn: async Rust");
    let moved_out = find("Quarterly business review");
    let standups: Vec<&Value> = items
        .iter()
        .filter(|e| e["subject"] == "Daily stand-up")
        .collect();
    let occurrence = standups[0]["id"].as_str().unwrap().to_string();

    let added = ctl
        .add_event(json!({
            "subject": "Ad-hoc: incident review",
            "start": { "dateTime": "2026-11-26T11:00:00", "timeZone": "W. Europe Standard Time" },
            "end": { "dateTime": "2026-11-26T11:30:00", "timeZone": "W. Europe Standard Time" },
            "isOnlineMeeting": true,
        }))
        .unwrap();
    // Outside the window: not reported.
    ctl.add_event(json!({
        "subject": "Far away",
        "start": { "dateTime": "2027-02-01T11:00:00", "timeZone": "UTC" },
        "end": { "dateTime": "2027-02-01T11:30:00", "timeZone": "UTC" },
    }))
    .unwrap();
    ctl.update_event(
        &updated,
        json!({ "subject": "Sprint demo (moved to big room)" }),
    )
    .unwrap();
    ctl.delete_event(&deleted).unwrap();
    ctl.update_event(
        &moved_out,
        json!({
            "start": { "dateTime": "2027-01-11T14:00:00", "timeZone": "W. Europe Standard Time" },
            "end": { "dateTime": "2027-01-11T15:30:00", "timeZone": "W. Europe Standard Time" },
        }),
    )
    .unwrap();
    ctl.cancel_event(&occurrence).unwrap();

    let (changes, _, next_link) =
        delta_round(&c, &delta_link, &token, &["odata.maxpagesize=2"]).await;
    let by_id: HashMap<String, &Value> = changes
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_string(), e))
        .collect();
    assert_eq!(changes.len(), 5, "{changes:#?}");
    assert_eq!(by_id[&added]["subject"], "Ad-hoc: incident review");
    assert!(by_id[&added]["onlineMeeting"]["joinUrl"]
        .as_str()
        .unwrap()
        .starts_with("https://teams.microsoft.com/l/meetup-join/"));
    assert_eq!(
        by_id[&updated]["subject"],
        "Sprint demo (moved to big room)"
    );
    for gone in [&deleted, &moved_out, &occurrence] {
        assert_eq!(by_id[gone]["@removed"]["reason"], "deleted", "{gone}");
        assert_eq!(by_id[gone]["@odata.type"], "#microsoft.graph.event");
    }

    // The HTTP control API works the same way.
    let resp = c
        .patch(format!("{}/_emulator/events/{added}", emu.base_url()))
        .json(&json!({ "subject": "Incident review" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (changes, _, _) = delta_round(&c, &next_link, &token, &[]).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["subject"], "Incident review");

    // A fresh full round sees the current state.
    let (all, _, _) = delta_round(&c, &first, &token, &[]).await;
    let all_ids = ids(&all);
    assert!(
        all_ids.contains(&added) && !all_ids.contains(&deleted) && !all_ids.contains(&occurrence)
    );
}

#[tokio::test]
async fn outlook_timezone_preference() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/calendarView/delta?{WINDOW}", emu.base_url());
    let (_, headers, body) = graph_get(
        &c,
        &url,
        &token,
        &[
            "outlook.timezone=\"Pacific Standard Time\"",
            "odata.maxpagesize=100",
        ],
    )
    .await;
    let applied = headers["preference-applied"].to_str().unwrap();
    assert!(
        applied.contains("outlook.timezone=\"Pacific Standard Time\""),
        "{applied}"
    );
    let seattle = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subject"] == "Sync with Seattle platform team")
        .unwrap();
    assert_eq!(seattle["start"]["timeZone"], "Pacific Standard Time");
    assert_eq!(parse_graph_dt(&seattle["start"]), dt((2026, 11, 24), 8, 0));

    // IANA names work too; default is UTC.
    let (_, _, body) = graph_get(
        &c,
        &url,
        &token,
        &[
            "outlook.timezone=\"Europe/Berlin\"",
            "odata.maxpagesize=100",
        ],
    )
    .await;
    let seattle = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subject"] == "Sync with Seattle platform team")
        .unwrap();
    assert_eq!(parse_graph_dt(&seattle["start"]), dt((2026, 11, 24), 17, 0));
    let (_, headers, body) = graph_get(&c, &url, &token, &["odata.maxpagesize=100"]).await;
    let seattle = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subject"] == "Sync with Seattle platform team")
        .unwrap();
    assert_eq!(seattle["start"]["timeZone"], "UTC");
    assert_eq!(parse_graph_dt(&seattle["start"]), dt((2026, 11, 24), 16, 0));
    assert!(!headers["preference-applied"]
        .to_str()
        .unwrap()
        .contains("timezone"));

    let (status, _, body) =
        graph_get(&c, &url, &token, &["outlook.timezone=\"Mars/Olympus\""]).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn delta_needs_a_window_and_valid_tokens() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let (status, _, body) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendarView/delta", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "ErrorInvalidParameter");
    let (status, _, _) = graph_get(
        &c,
        &format!(
            "{}/v1.0/me/calendarView/delta?$deltatoken=zzz",
            emu.base_url()
        ),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn secondary_calendar_view_pages_with_skip() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let url = format!(
        "{}/v1.0/me/calendars/{HOLIDAYS_CALENDAR_ID}/calendarView?{WINDOW}&$top=1",
        emu.base_url()
    );
    let (status, _, body) = graph_get(&c, &url, &token, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&emu.base_url()) && next.contains("$skip=1"),
        "{next}"
    );
    let all = calendar_view(&c, &url, &token, &[]).await;
    assert_eq!(all.len(), 3);
    assert_eq!(ids(&all).len(), 3);
    let subjects: BTreeSet<&str> = all.iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains("Anna – vacation"));
    // Default page size is 10 without $top.
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}", emu.base_url());
    let (_, _, body) = graph_get(&c, &url, &token, &[]).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn events_by_id_including_occurrences_and_masters() {
    let emu = start().await;
    let c = client();
    let token = emu.control().issue_access_token_for_tests();
    let view = week_view(&emu).await;
    let occ = by_subject(&view, "Daily stand-up")[0];
    let (status, _, got) = graph_get(
        &c,
        &format!(
            "{}/v1.0/me/events/{}",
            emu.base_url(),
            occ["id"].as_str().unwrap()
        ),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], occ["id"]);
    assert_eq!(got["start"], occ["start"]);
    let master_id = occ["seriesMasterId"].as_str().unwrap();
    let (status, _, master) = graph_get(
        &c,
        &format!("{}/v1.0/me/events/{master_id}", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(master["type"], "seriesMaster");
    assert_eq!(master["recurrence"]["pattern"]["type"], "weekly");
    assert_eq!(
        master["recurrence"]["range"]["recurrenceTimeZone"],
        "W. Europe Standard Time"
    );
    let (status, _, _) = graph_get(
        &c,
        &format!("{}/v1.0/me/events/AAMkAGnothing", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn empty_seed_has_calendars_but_no_events() {
    let emu = start_with(Seed::Empty).await;
    assert!(week_view(&emu).await.is_empty());
}

#[tokio::test]
async fn stats_count_service_requests_and_bytes() {
    let emu = start().await;
    let c = client();
    let ctl = emu.control();
    let token = ctl.issue_access_token_for_tests();
    assert_eq!(ctl.request_count(), 0);
    let (_, _, _) = graph_get(&c, &format!("{}/v1.0/me", emu.base_url()), &token, &[]).await;
    let (_, _, _) = graph_get(
        &c,
        &format!("{}/v1.0/me/calendars", emu.base_url()),
        &token,
        &[],
    )
    .await;
    assert_eq!(ctl.request_count(), 2);
    assert!(ctl.bytes_sent() > 200);
    let stats: Value = c
        .get(format!("{}/_emulator/stats", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requestCount"], 2);
    assert_eq!(stats["bytesSent"], ctl.bytes_sent());
}

// ---- the demo mailbox -------------------------------------------------------------------

#[tokio::test]
async fn seed_standup_has_a_moved_and_a_cancelled_occurrence() {
    let emu = start().await;
    let view = week_view(&emu).await;
    let standups = by_subject(&view, "Daily stand-up");
    let on = |d: u32| -> Vec<&&Value> {
        standups
            .iter()
            .filter(|e| {
                parse_graph_dt(&e["start"]).date() == NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
            })
            .collect()
    };
    // Monday: a plain occurrence at 09:15 Berlin = 08:15 UTC.
    let mon = on(23);
    assert_eq!(mon.len(), 1);
    assert_eq!(mon[0]["type"], "occurrence");
    assert_eq!(parse_graph_dt(&mon[0]["start"]), dt((2026, 11, 23), 8, 15));
    assert!(mon[0]["seriesMasterId"].as_str().is_some());
    // Wednesday: moved to 10:00 Berlin, an exception.
    let wed = on(25);
    assert_eq!(wed.len(), 1);
    assert_eq!(wed[0]["type"], "exception");
    assert_eq!(parse_graph_dt(&wed[0]["start"]), dt((2026, 11, 25), 9, 0));
    // Thursday: cancelled, absent from the view.
    assert!(on(26).is_empty());
    // Teams.
    assert_eq!(mon[0]["onlineMeetingProvider"], "teamsForBusiness");
    // Distinct iCalUIds per occurrence.
    let uids: BTreeSet<&str> = standups
        .iter()
        .map(|e| e["iCalUId"].as_str().unwrap())
        .collect();
    assert_eq!(uids.len(), standups.len());
}

#[tokio::test]
async fn seed_has_an_organizer_cancelled_meeting() {
    let view = week_view(&start().await).await;
    let c: Vec<_> = view.iter().filter(|e| e["isCancelled"] == true).collect();
    assert_eq!(c.len(), 1);
    assert!(c[0]["subject"].as_str().unwrap().starts_with("Canceled: "));
}

#[tokio::test]
async fn seed_has_an_all_day_event() {
    let emu = start().await;
    let token = emu.control().issue_access_token_for_tests();
    let url = format!("{}/v1.0/me/calendarView?{WINDOW}&$top=1000", emu.base_url());
    let view = calendar_view(
        &client(),
        &url,
        &token,
        &["outlook.timezone=\"W. Europe Standard Time\""],
    )
    .await;
    let all_day: Vec<_> = view.iter().filter(|e| e["isAllDay"] == true).collect();
    assert!(!all_day.is_empty());
    let e = all_day[0];
    let s = parse_graph_dt(&e["start"]);
    let en = parse_graph_dt(&e["end"]);
    assert_eq!(s.time(), NaiveTime::MIN);
    assert_eq!(en - s, Duration::days(1));
    // The service returns all-day events midnight to midnight in any preferred zone.
    let utc_view = calendar_view(&client(), &url, &token, &["outlook.timezone=\"UTC\""]).await;
    let same = utc_view.iter().find(|u| u["id"] == e["id"]).unwrap();
    assert_eq!(same["start"]["timeZone"], "UTC");
    assert_eq!(parse_graph_dt(&same["start"]), s);
    assert_eq!(parse_graph_dt(&same["end"]), en);
}

#[tokio::test]
async fn seed_has_out_of_office() {
    let view = week_view(&start().await).await;
    assert!(view.iter().any(|e| e["showAs"] == "oof"));
}

fn timed_busy(view: &[Value]) -> Vec<(NaiveDateTime, NaiveDateTime, &Value)> {
    view.iter()
        .filter(|e| e["isAllDay"] == false && e["isCancelled"] == false)
        .map(|e| (parse_graph_dt(&e["start"]), parse_graph_dt(&e["end"]), e))
        .collect()
}

#[tokio::test]
async fn seed_has_overlapping_meetings() {
    let view = week_view(&start().await).await;
    let t = timed_busy(&view);
    let overlapping = t.iter().enumerate().any(|(i, a)| {
        t.iter()
            .skip(i + 1)
            .any(|b| a.0 < b.1 && b.0 < a.1 && a.0 != b.0)
    });
    assert!(overlapping);
}

#[tokio::test]
async fn seed_has_back_to_back_meetings() {
    let view = week_view(&start().await).await;
    let t = timed_busy(&view);
    let chains = t.iter().filter(|a| t.iter().any(|b| a.1 == b.0)).count();
    assert!(chains >= 2, "expected a chain of back-to-back meetings");
}

#[tokio::test]
async fn seed_has_a_private_appointment() {
    let view = week_view(&start().await).await;
    assert!(view.iter().any(|e| e["sensitivity"] == "private"));
}

#[tokio::test]
async fn seed_has_teams_and_zoom_meetings() {
    let view = week_view(&start().await).await;
    let teams = view
        .iter()
        .filter(|e| {
            e["onlineMeeting"]["joinUrl"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://teams.microsoft.com/l/meetup-join/"))
                && e["isOnlineMeeting"] == true
        })
        .count();
    assert!(teams >= 4);
    let zoom: Vec<_> = view
        .iter()
        .filter(|e| {
            e["location"]["displayName"]
                .as_str()
                .unwrap_or("")
                .contains("zoom.us")
        })
        .collect();
    assert_eq!(zoom.len(), 1);
    assert!(zoom[0]["onlineMeeting"].is_null());
    assert_eq!(zoom[0]["onlineMeetingProvider"], "unknown");
    assert!(zoom[0]["body"]["content"]
        .as_str()
        .unwrap()
        .contains("zoom.us/j/"));
}

#[tokio::test]
async fn seed_has_each_response_state() {
    let view = week_view(&start().await).await;
    for r in [
        "tentativelyAccepted",
        "declined",
        "notResponded",
        "accepted",
        "organizer",
    ] {
        assert!(
            view.iter().any(|e| e["responseStatus"]["response"] == r),
            "no {r}"
        );
    }
}

#[tokio::test]
async fn seed_has_an_event_from_another_time_zone() {
    let view = week_view(&start().await).await;
    let e = view
        .iter()
        .find(|e| e["originalStartTimeZone"] == "Pacific Standard Time")
        .expect("a Pacific event");
    assert_eq!(e["isOrganizer"], false);
    assert!(!e["organizer"]["emailAddress"]["address"]
        .as_str()
        .unwrap()
        .ends_with("contoso.onmicrosoft.com"));
    assert!(view
        .iter()
        .any(|e| e["originalStartTimeZone"] == "W. Europe Standard Time"));
}

#[tokio::test]
async fn seed_has_an_event_across_the_next_dst_change() {
    let emu = start().await;
    let token = emu.control().issue_access_token_for_tests();
    // Europe/Berlin springs forward on 2027-03-28 at 01:00 UTC.
    let url = format!(
        "{}/v1.0/me/calendarView?startDateTime=2027-03-20T00:00:00Z&endDateTime=2027-04-05T00:00:00Z",
        emu.base_url()
    );
    let view = calendar_view(&client(), &url, &token, &[]).await;
    let spanning: Vec<_> = view
        .iter()
        .filter(|e| {
            parse_graph_dt(&e["start"]) < dt((2027, 3, 28), 1, 0)
                && parse_graph_dt(&e["end"]) > dt((2027, 3, 28), 1, 0)
        })
        .collect();
    assert_eq!(spanning.len(), 1, "{view:#?}");
    let e = spanning[0];
    // 22:00 to 06:00 local is 7 real hours across spring-forward.
    assert_eq!(
        parse_graph_dt(&e["end"]) - parse_graph_dt(&e["start"]),
        Duration::hours(7)
    );
    let berlin = calendar_view(
        &client(),
        &url,
        &token,
        &["outlook.timezone=\"Europe/Berlin\""],
    )
    .await;
    let b = berlin.iter().find(|x| x["id"] == e["id"]).unwrap();
    assert_eq!(
        parse_graph_dt(&b["start"]).time(),
        NaiveTime::from_hms_opt(22, 0, 0).unwrap()
    );
    assert_eq!(
        parse_graph_dt(&b["end"]).time(),
        NaiveTime::from_hms_opt(6, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn seed_is_deterministic() {
    let a = week_view(&start().await).await;
    let b = week_view(&start().await).await;
    assert_eq!(ids(&a), ids(&b));
    assert!(a.len() >= 25, "only {} events", a.len());
    for e in &a {
        let id = e["id"].as_str().unwrap();
        assert!(id.len() > 100 && id.starts_with("AAMkAG"));
        for k in [
            "iCalUId",
            "subject",
            "bodyPreview",
            "body",
            "start",
            "end",
            "isAllDay",
            "isCancelled",
            "isOrganizer",
            "showAs",
            "type",
            "sensitivity",
            "responseStatus",
            "isReminderOn",
            "reminderMinutesBeforeStart",
            "location",
            "locations",
            "organizer",
            "attendees",
            "onlineMeetingProvider",
            "categories",
            "webLink",
            "lastModifiedDateTime",
            "createdDateTime",
            "originalStartTimeZone",
            "originalEndTimeZone",
            "changeKey",
        ] {
            assert!(e.get(k).is_some(), "event lacks {k}: {e}");
        }
        assert!(e.get("onlineMeeting").is_some());
    }
}
