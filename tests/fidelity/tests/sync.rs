//! Calendar sync against Graph as Microsoft documents it: `/me/calendars` without
//! `isDefaultCalendar`, pages of another size and in no particular order, `Retry-After`
//! with a fraction or as an HTTP-date, a delta link from another port, an unreachable
//! endpoint, secondary calendars with delta or a window read, and what `presently sync`
//! prints.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, NaiveDate, Utc};
use presently_fidelity::fixtures::{self, PRIMARY_CALENDAR_ID};
use presently_fidelity::{Call, Mailbox, Scenario};
use serde_json::Value;
use std::collections::BTreeMap;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn at(days: i64, h: u32, m: u32) -> DateTime<Utc> {
    (today() + Duration::days(days))
        .and_hms_opt(h, m, 0)
        .unwrap()
        .and_utc()
}

/// `n` meetings on the coming days, ids `AAMkAGS-<prefix>-<i>`.
fn meetings(mailbox: &mut Mailbox, calendar: &str, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let id = format!("AAMkAGS-{prefix}-{i}");
            let start = at(1 + (i as i64 % 6), 8 + (i as u32 % 9), 0);
            mailbox.put_event(
                calendar,
                fixtures::event(
                    &id,
                    &format!("{prefix} meeting {i}"),
                    start,
                    start + Duration::minutes(45),
                ),
            );
            id
        })
        .collect()
}

/// The ids in the agenda of the coming three weeks (each counted), under `TZ=UTC`.
fn agenda_ids(s: &Scenario) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for item in s.agenda_json("UTC", today() - Duration::days(1), 22) {
        *ids.entry(item["id"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
    }
    ids
}

fn calls_to<'a>(calls: &'a [Call], path: &str) -> Vec<&'a Call> {
    calls.iter().filter(|c| c.path == path).collect()
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn the_primary_calendar_is_found_without_is_default_calendar() {
    // Microsoft's examples verbatim: the list names no default calendar.
    let mut mailbox = Mailbox::documented();
    let ids = meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 3);
    let s = Scenario::new(mailbox, "");
    let out = s.home.run(&["sync"]);
    let calls = s.graph.journal().calls();
    assert!(
        out.success(),
        "sync failed although /me/calendar names the primary calendar:\n{}\nGraph saw:\n{}",
        out.text(),
        s.graph.journal().dump()
    );
    let shown = agenda_ids(&s);
    let missing: Vec<&String> = ids.iter().filter(|id| !shown.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "sync printed success but the agenda lacks {missing:?}:\n{}\nGraph saw:\n{}",
        out.text(),
        s.graph.journal().dump()
    );
    assert!(
        calls.iter().any(|c| c.path == "/v1.0/me/calendar"),
        "the primary calendar was not asked for with GET /me/calendar (the /me/calendars example has no isDefaultCalendar):\n{}",
        s.graph.journal().dump()
    );
    let out = s.home.run(&["calendars"]);
    assert!(out.success(), "{}", out.text());
    let synced = out.stdout.lines().any(|l| {
        let lower = l.to_lowercase();
        l.contains("Calendar") && lower.contains("synced") && !lower.contains("not synced")
    });
    assert!(
        synced,
        "presently calendars does not show the primary calendar as synced:\n{}",
        out.text()
    );
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn a_sync_with_nothing_to_sync_is_an_error_that_says_why() {
    let mut mailbox = Mailbox::with_primary_marked();
    meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 1);
    let s = Scenario::new(mailbox, "[sync]\ncalendars = [\"Team Offsite Planning\"]\n");
    let out = s.home.run(&["sync"]);
    assert!(
        !out.success(),
        "a sync whose only configured calendar does not exist succeeded (it synced nothing):\n{}",
        out.text()
    );
    assert!(
        out.text().contains("Team Offsite Planning"),
        "the error does not say which configured calendar was not found:\n{}",
        out.text()
    );
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn pages_larger_than_asked_and_in_no_order_still_make_a_complete_agenda() {
    let mut mailbox = Mailbox::with_primary_marked();
    // The five events of concepts/delta-query-events.md (as sparse as printed there),
    // moved from December 2016 to the coming days at the same times of day.
    let round = fixtures::load("delta-query-events.json");
    let first_day = NaiveDate::from_ymd_opt(2016, 12, 9).unwrap();
    let shift = |v: &Value| -> Value {
        let t = chrono::NaiveDateTime::parse_from_str(
            v["dateTime"].as_str().unwrap(),
            "%Y-%m-%dT%H:%M:%S%.f",
        )
        .unwrap();
        let days = (t.date() - first_day).num_days() + 1;
        fixtures::graph_date_time(
            (today() + Duration::days(days))
                .and_time(t.time())
                .and_utc(),
        )
    };
    let mut documented = Vec::new();
    for page in round["round"].as_array().unwrap() {
        for e in page["value"].as_array().unwrap() {
            let mut e = e.clone();
            e["start"] = shift(&e["start"]);
            e["end"] = shift(&e["end"]);
            documented.push(e["id"].as_str().unwrap().to_owned());
            mailbox.put_event(PRIMARY_CALENDAR_ID, e);
        }
    }
    let mut ids = meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "bulk", 12);
    ids.extend(documented.iter().cloned());
    // Five items a page whatever the client prefers, latest first, each page repeating the
    // last item of the one before.
    mailbox.paging.page_size = Some(5);
    mailbox.paging.reverse = true;
    mailbox.paging.repeat_last = true;
    let s = Scenario::new(mailbox, "[sync]\npage_size = 2\n");
    s.sync();
    let calls = s.graph.journal().calls();
    let delta = calls_to(&calls, "/v1.0/me/calendarView/delta");
    assert!(
        delta.iter().any(|c| c
            .header("prefer")
            .is_some_and(|p| p.contains("odata.maxpagesize=2"))),
        "the scenario expects the client to ask for 2 items a page:\n{}",
        s.graph.journal().dump()
    );
    let shown = agenda_ids(&s);
    let missing: Vec<&String> = ids.iter().filter(|id| !shown.contains_key(*id)).collect();
    let twice: Vec<(&String, &usize)> = shown.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "after pages of 5 (asked: 2), latest first, each repeating an item: missing {missing:?}, shown more than once {twice:?}\nGraph saw:\n{}",
        s.graph.journal().dump()
    );

    // The next round, as the page prints it: a removal of an event this client never saw,
    // and a new event; plus a removal and a change of events it knows.
    {
        let mut m = s.graph.mailbox();
        let next = &round["next_round"][0]["value"];
        m.remove_event(PRIMARY_CALENDAR_ID, next[0]["id"].as_str().unwrap());
        let mut added = next[1].clone();
        added["start"] = fixtures::graph_date_time(at(17, 6, 0));
        added["end"] = fixtures::graph_date_time(at(17, 7, 30));
        m.put_event(PRIMARY_CALENDAR_ID, added);
        m.remove_event(PRIMARY_CALENDAR_ID, "AAMkADVxTAAA=");
        let mut changed = fixtures::event(
            "AAMkAGS-bulk-3",
            "bulk meeting 3 (moved)",
            at(5, 15, 0),
            at(5, 16, 0),
        );
        changed["showAs"] = Value::from("tentative");
        m.put_event(PRIMARY_CALENDAR_ID, changed);
    }
    s.sync();
    let items = s.agenda_json("UTC", today() - Duration::days(1), 22);
    let by_id = |id: &str| items.iter().find(|i| i["id"] == id);
    let mut problems = Vec::new();
    if by_id("AAMkADj1HvAAA=").is_none() {
        problems.push("the added \"Attend service\" is missing".to_owned());
    }
    if by_id("AAMkADVxTAAA=").is_some() {
        problems.push("the removed \"Get food\" is still shown".to_owned());
    }
    match by_id("AAMkAGS-bulk-3") {
        Some(i) if i["subject"] == "bulk meeting 3 (moved)" && i["show_as"] == "tentative" => {}
        other => problems.push(format!(
            "the changed bulk meeting 3 is not as changed: {other:?}"
        )),
    }
    assert!(
        problems.is_empty(),
        "after the incremental round: {}\nGraph saw:\n{}",
        problems.join("; "),
        s.graph.journal().dump()
    );
}

/// The gap between the 429 and the next request on the same path.
fn retry_gap(s: &Scenario, path: &str) -> (Call, Call) {
    let calls = s.graph.journal().calls();
    let on_path = calls_to(&calls, path);
    let i = on_path
        .iter()
        .position(|c| c.status == 429)
        .unwrap_or_else(|| {
            panic!(
                "no 429 was answered on {path}:\n{}",
                s.graph.journal().dump()
            )
        });
    let retry = on_path.get(i + 1).unwrap_or_else(|| {
        panic!(
            "the request was never retried after the 429:\n{}",
            s.graph.journal().dump()
        )
    });
    (on_path[i].clone(), (*retry).clone())
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn retry_after_with_a_fraction_is_waited_out_in_full() {
    let mut mailbox = Mailbox::with_primary_marked();
    meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 2);
    // concepts/throttling.md's sample response: "Retry-After: 2.128".
    mailbox.throttle_once("/v1.0/me/calendarView/delta", "2.128");
    let s = Scenario::new(mailbox, "");
    let out = s.home.run(&["sync"]);
    let (throttled, retry) = retry_gap(&s, "/v1.0/me/calendarView/delta");
    let gap = retry.instant - throttled.answered;
    println!("Retry-After: 2.128 -> retried after {gap:?}");
    assert!(
        gap >= std::time::Duration::from_millis(2128),
        "retried {gap:?} after a 429 with Retry-After: 2.128 (sooner than asked)"
    );
    assert!(
        out.success(),
        "sync failed after the retry:\n{}",
        out.text()
    );
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn retry_after_as_an_http_date_is_waited_out() {
    let mut mailbox = Mailbox::with_primary_marked();
    meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 2);
    let s = Scenario::new(mailbox, "");
    // RFC 9110 allows an HTTP-date: about three seconds from now, in whole seconds.
    let not_before = DateTime::from_timestamp(Utc::now().timestamp() + 3, 0).unwrap();
    let header = not_before.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    s.graph
        .mailbox()
        .throttle_once("/v1.0/me/calendarView/delta", &header);
    let out = s.home.run(&["sync"]);
    let (throttled, retry) = retry_gap(&s, "/v1.0/me/calendarView/delta");
    println!(
        "Retry-After: {header} (answered at {}) -> retried at {}",
        throttled.at.format("%H:%M:%S%.3f"),
        retry.at.format("%H:%M:%S%.3f")
    );
    assert!(
        retry.at >= not_before,
        "retried at {} after a 429 asking to wait until {header}",
        retry.at.format("%H:%M:%S%.3f")
    );
    assert!(
        out.success(),
        "sync failed after the retry:\n{}",
        out.text()
    );
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn a_delta_link_to_another_port_starts_a_fresh_round() {
    let mut mailbox = Mailbox::with_primary_marked();
    let mut ids = meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 4);
    let s = Scenario::new(mailbox, "");
    s.sync();
    let old = s.graph.url();
    // Graph comes back on another port; the configuration follows it.
    let new = s.graph.move_to_new_port();
    s.write_config();
    {
        let mut m = s.graph.mailbox();
        m.put_event(
            PRIMARY_CALENDAR_ID,
            fixtures::event(
                "AAMkAGS-after-move",
                "Added after the move",
                at(2, 14, 0),
                at(2, 15, 0),
            ),
        );
    }
    ids.push("AAMkAGS-after-move".into());
    let before = s.graph.journal().calls().len();
    let out = s.home.run(&["sync"]);
    assert!(
        out.success(),
        "sync after the Graph endpoint moved from {old} to {new} failed (the stored delta link points at the old port):\n{}",
        out.text()
    );
    let calls = s.graph.journal().calls();
    assert!(
        calls[before..]
            .iter()
            .any(|c| c.path == "/v1.0/me/calendarView/delta"
                && c.query.to_ascii_lowercase().contains("startdatetime")
                && c.status == 200),
        "no fresh round was started on the new port:\n{}",
        s.graph.journal().dump()
    );
    let shown = agenda_ids(&s);
    let missing: Vec<&String> = ids.iter().filter(|id| !shown.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "after the move the agenda lacks {missing:?}"
    );
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn an_unreachable_graph_is_named_with_host_and_port() {
    let s = Scenario::new(Mailbox::with_primary_marked(), "");
    let port = s.graph.port();
    s.graph.stop();
    let out = s.home.run(&["sync"]);
    assert!(
        !out.success(),
        "sync against a closed port succeeded:\n{}",
        out.text()
    );
    let text = out.text().to_lowercase();
    assert!(
        ["cannot connect to", "cannot reach"]
            .iter()
            .any(|say| text.contains(&format!("{say} 127.0.0.1:{port}"))),
        "the error should say it cannot connect to 127.0.0.1:{port}:\n{}",
        out.text()
    );
}

/// The lines `presently calendars` prints for the calendar named `name`.
fn calendar_block(listing: &str, name: &str) -> String {
    let mut block = Vec::new();
    let mut inside = false;
    for line in listing.lines() {
        if line.starts_with('[') || (!line.starts_with(' ') && !line.is_empty()) {
            inside = line.contains(name);
        }
        if inside {
            block.push(line);
        }
    }
    block.join("\n")
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn secondary_calendars_sync_with_delta_and_fall_back_to_a_window_where_refused() {
    const TEAM: &str = "AAMkAGS-team-calendar=";
    const HOLIDAYS: &str = "AAMkAGS-holiday-calendar=";
    let mut mailbox = Mailbox::with_primary_marked();
    mailbox.add_calendar(fixtures::calendar_listing(TEAM, "Team calendar"), true);
    // Delta on this calendar is refused (400, as for a segment the service does not offer).
    mailbox.add_calendar(fixtures::calendar_listing(HOLIDAYS, "Holidays"), false);
    let mut ids = meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 2);
    ids.extend(meetings(&mut mailbox, TEAM, "team", 3));
    ids.extend(meetings(&mut mailbox, HOLIDAYS, "holiday", 2));
    let s = Scenario::new(
        mailbox,
        &format!("[sync]\ncalendars = [\"{PRIMARY_CALENDAR_ID}\", \"{TEAM}\", \"{HOLIDAYS}\"]\n"),
    );
    s.sync();
    let shown = agenda_ids(&s);
    let missing: Vec<&String> = ids.iter().filter(|id| !shown.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "the agenda lacks {missing:?}:\n{}",
        s.graph.journal().dump()
    );

    let calls = s.graph.journal().calls();
    let team_delta = format!("/v1.0/me/calendars/{TEAM}/calendarView/delta");
    let holiday_delta = format!("/v1.0/me/calendars/{HOLIDAYS}/calendarView/delta");
    let holiday_window = format!("/v1.0/me/calendars/{HOLIDAYS}/calendarView");
    assert!(
        calls
            .iter()
            .any(|c| c.path == team_delta && c.status == 200),
        "the secondary calendar was not synced with /me/calendars/{{id}}/calendarView/delta:\n{}",
        s.graph.journal().dump()
    );
    let refused = calls
        .iter()
        .position(|c| c.path == holiday_delta && c.status == 400);
    let window = calls
        .iter()
        .rposition(|c| c.path == holiday_window && c.status == 200);
    assert!(
        matches!((refused, window), (Some(r), Some(w)) if w > r),
        "where Graph refused delta, the calendar was not read as a window after the refusal:\n{}",
        s.graph.journal().dump()
    );

    // The next sync is incremental where delta works.
    s.graph.mailbox().put_event(
        TEAM,
        fixtures::event(
            "AAMkAGS-team-new",
            "New team meeting",
            at(3, 11, 0),
            at(3, 12, 0),
        ),
    );
    let before = s.graph.journal().calls().len();
    s.sync();
    let calls = s.graph.journal().calls();
    assert!(
        calls[before..]
            .iter()
            .any(|c| c.path == team_delta && c.query.contains("deltatoken")),
        "the second sync did not continue from the secondary calendar's delta link:\n{}",
        s.graph.journal().dump()
    );
    assert!(
        agenda_ids(&s).contains_key("AAMkAGS-team-new"),
        "the new team meeting is missing"
    );

    let out = s.home.run(&["calendars"]);
    assert!(out.success(), "{}", out.text());
    let said = |block: &str| {
        let b = block.to_lowercase();
        [
            "window",
            "refuse",
            "not support",
            "unsupported",
            "fallback",
            "fall back",
            "without delta",
            "no delta",
        ]
        .iter()
        .any(|w| b.contains(w))
    };
    let holidays = calendar_block(&out.stdout, "Holidays");
    let team = calendar_block(&out.stdout, "Team calendar");
    assert!(
        said(&holidays) && !said(&team),
        "presently calendars should say that Holidays is read as a window (Graph refused delta) and not say so of Team calendar:\n{}",
        out.stdout
    );
}

/// `1 requests`, `1 changes` and the like.
fn wrong_plurals(text: &str) -> Vec<String> {
    const PLURALS: [&str; 8] = [
        "requests",
        "changes",
        "calendars",
        "pages",
        "items",
        "rounds",
        "appointments",
        "events",
    ];
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0].trim_start_matches(|c: char| !c.is_ascii_digit()) == "1")
        .filter(|w| PLURALS.contains(&w[1].trim_end_matches(|c: char| !c.is_alphanumeric())))
        .map(|w| format!("{} {}", w[0], w[1]))
        .collect()
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn sync_prints_counts_with_the_right_plural_and_a_plain_stderr() {
    let mut mailbox = Mailbox::with_primary_marked();
    meetings(&mut mailbox, PRIMARY_CALENDAR_ID, "primary", 2);
    let s = Scenario::new(mailbox, "");
    let first = s.sync();
    s.graph.mailbox().put_event(
        PRIMARY_CALENDAR_ID,
        fixtures::event(
            "AAMkAGS-primary-0",
            "primary meeting 0 (renamed)",
            at(1, 8, 0),
            at(1, 9, 0),
        ),
    );
    let second = s.sync();
    let mut problems = Vec::new();
    for (which, out) in [("first", &first), ("second", &second)] {
        let wrong = wrong_plurals(&out.stdout);
        if !wrong.is_empty() {
            problems.push(format!("{which} sync prints {wrong:?}:\n{}", out.stdout));
        }
        if out.stderr.contains('\u{1b}') {
            problems.push(format!(
                "{which} sync: stderr piped to a file carries ANSI escape codes: {:?}",
                out.stderr
            ));
        }
        let info: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains(" INFO "))
            .collect();
        if !info.is_empty() {
            problems.push(format!(
                "{which} sync: stderr carries INFO log lines by default:\n{}",
                info.join("\n")
            ));
        }
    }
    if !second.stdout.contains("1 change") {
        problems.push(format!(
            "the incremental sync applied one change and should say \"1 change\":\n{}",
            second.stdout
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
