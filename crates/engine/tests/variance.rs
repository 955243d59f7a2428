//! Graph as it varies in the field changes nothing Presently shows or does: a property test
//! over seeds of the emulator's real-world variance and generated mailboxes.
//!
//! Each case fills one emulator with a generated mailbox (single, recurring, all-day and
//! cancelled appointments; online meetings of Teams, Zoom, Google Meet and Webex, with
//! their links where each service puts them; out of office; on the primary calendar and
//! "Team holidays") and syncs it into two stores: one engine while the emulator answers in
//! its one tidy way, another while it answers with `Variance { seed }` (enums in any
//! casing, 429s with every form of `Retry-After`, optional fields left out, join links
//! outside `onlineMeeting`, oversized pages, delta rounds in no order, calendar delta
//! refused for some seeds). The two must agree on the stored appointments and calendars,
//! the agenda (Europe/Berlin) and the presence plan, after the first sync and after an
//! incremental one that follows random changes. Both engines read the very same mailbox
//! (the switch is turned on only while the second one syncs), so nothing may differ but
//! what Graph did not say: `originalStartTimeZone` (left out by the variance; kept only
//! for information) and, where the variance moved a join link into an otherwise empty
//! location, that location.
//!
//! The restore property runs presence automation through one out-of-office block on
//! simulated time against a tidy and a varied emulator: presence, the status message and
//! the automatic replies end exactly as they began, and the replies are written back
//! verbatim as the varied emulator spelled them (`"Scheduled"` stays `"Scheduled"`).
//!
//! 20 sync cases and 3 restore cases by default; `PROPTEST_CASES=n` runs n sync cases and
//! n/6 (at least 3) restore cases. A failure prints its seed and mailbox, and proptest keeps
//! it in `crates/engine/proptest-regressions/variance.txt` to run first next time.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;
mod presence_sim;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::{config_for, stored};
use presence_sim::{calls, start, Sim};
use presently_emulator::PRIMARY_CALENDAR_ID;
use presently_emulator::{Emulator, EmulatorConfig, Seed, HOLIDAYS_CALENDAR_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::model::Appointment;
use presently_engine::paths::Paths;
use presently_engine::{Clock, Engine, EngineSetup, FixedClock};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

// ---- generated mailboxes -------------------------------------------------------------------

/// Where an appointment's online meeting is, as each service's invitations put it.
#[derive(Clone, Debug)]
enum Meeting {
    None,
    /// A Teams meeting: `onlineMeeting.joinUrl` (the emulator makes the link).
    Teams,
    /// A Teams meeting whose invitation gives the meeting ID and passcode.
    TeamsInvitation,
    /// Zoom's add-in: the link is the location.
    ZoomInLocation,
    /// A Zoom invitation pasted into the body.
    ZoomInBody,
    GoogleMeetInBody,
    WebexInLocation,
}

#[derive(Clone, Debug)]
enum Shape {
    Single,
    AllDay { days: u32 },
    Daily { count: u32 },
    Weekly { count: u32 },
}

#[derive(Clone, Debug)]
struct Spec {
    secondary: bool,
    /// Days from the case's "today".
    day: i64,
    /// Start, in quarter hours after midnight (of `zone`).
    quarter: u32,
    minutes: i64,
    shape: Shape,
    show_as: &'static str,
    sensitivity: &'static str,
    /// `None`: the user organizes it.
    response: Option<&'static str>,
    cancelled: bool,
    meeting: Meeting,
    reminder: Option<i64>,
    categories: Vec<&'static str>,
    location: Option<&'static str>,
    attendees: usize,
    zone: &'static str,
    agenda: bool,
}

#[derive(Clone, Debug)]
enum Change {
    Rename(usize),
    ShowAs(usize, &'static str),
    /// Moves by hours (days for all-day appointments).
    Move(usize, i64),
    Delete(usize),
    Cancel(usize),
    GoOnline(usize),
    Add(Spec),
    /// The n-th occurrence (of those synced) moves by hours.
    MoveOccurrence(usize, i64),
    CancelOccurrence(usize),
}

fn meeting() -> impl Strategy<Value = Meeting> {
    prop_oneof![
        4 => Just(Meeting::None),
        3 => Just(Meeting::Teams),
        1 => Just(Meeting::TeamsInvitation),
        1 => Just(Meeting::ZoomInLocation),
        1 => Just(Meeting::ZoomInBody),
        1 => Just(Meeting::GoogleMeetInBody),
        1 => Just(Meeting::WebexInLocation),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        6 => Just(Shape::Single),
        1 => (1u32..4).prop_map(|days| Shape::AllDay { days }),
        1 => (2u32..6).prop_map(|count| Shape::Daily { count }),
        1 => (2u32..4).prop_map(|count| Shape::Weekly { count }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            prop::bool::weighted(0.25),
            -4i64..12,
            24u32..80,
            1i64..12,
            shape(),
            prop::sample::select(vec![
                "busy",
                "busy",
                "tentative",
                "free",
                "oof",
                "workingElsewhere",
            ]),
            prop::sample::select(vec![
                "normal",
                "normal",
                "private",
                "personal",
                "confidential",
            ]),
        ),
        (
            prop::option::of(prop::sample::select(vec![
                "accepted",
                "tentativelyAccepted",
                "declined",
                "notResponded",
                "none",
            ])),
            prop::bool::weighted(0.1),
            meeting(),
            prop::option::of(prop::sample::select(vec![0i64, 5, 15, 60])),
            prop::sample::subsequence(vec!["Red category", "Blue category", "Kunde"], 0..3),
            prop::option::of(prop::sample::select(vec!["Room 4.01", "Café Kranzler"])),
            0usize..4,
            prop::sample::select(vec![
                "UTC",
                "Europe/Berlin",
                "W. Europe Standard Time",
                "Pacific Standard Time",
                "Tokyo Standard Time",
            ]),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (secondary, day, quarter, quarters, shape, show_as, sensitivity),
                (
                    response,
                    cancelled,
                    meeting,
                    reminder,
                    categories,
                    location,
                    attendees,
                    zone,
                    agenda,
                ),
            )| Spec {
                secondary,
                day,
                quarter,
                minutes: quarters * 15,
                shape,
                show_as,
                sensitivity,
                response,
                cancelled,
                meeting,
                reminder,
                categories,
                location,
                attendees,
                zone,
                agenda,
            },
        )
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0usize..64).prop_map(Change::Rename),
        (
            0usize..64,
            prop::sample::select(vec!["free", "busy", "oof", "tentative"])
        )
            .prop_map(|(i, s)| Change::ShowAs(i, s)),
        (0usize..64, -30i64..30).prop_map(|(i, h)| Change::Move(i, h)),
        (0usize..64).prop_map(Change::Delete),
        (0usize..64).prop_map(Change::Cancel),
        (0usize..64).prop_map(Change::GoOnline),
        spec().prop_map(Change::Add),
        (0usize..64, -3i64..3).prop_map(|(i, h)| Change::MoveOccurrence(i, h)),
        (0usize..64).prop_map(Change::CancelOccurrence),
    ]
}

const ZOOM: &str = "https://contoso.zoom.us/j/84512937761?pwd=dGhpc2lzbm90YXJlYWw";
const ZOOM_BODY: &str = "https://us02web.zoom.us/j/81234567890?pwd=b3RoZXJwYXNz";
const MEET: &str = "https://meet.google.com/abc-defg-hij";
const WEBEX: &str = "https://contoso.webex.com/meet/dana.ivanova";

/// The Graph-shaped event the control API adds for `spec` (`shift`: hours, or days for
/// all-day appointments, after the spec's own time).
fn event_json(spec: &Spec, n: usize, today: NaiveDate, shift: i64) -> Value {
    let fmt = |d: chrono::NaiveDateTime| d.format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut e = json!({
        "subject": format!("Appointment {n}"),
        "showAs": spec.show_as,
        "sensitivity": spec.sensitivity,
        "isCancelled": spec.cancelled,
        "isReminderOn": spec.reminder.is_some(),
        "reminderMinutesBeforeStart": spec.reminder.unwrap_or(15),
        "categories": spec.categories,
    });
    let first_day = match spec.shape {
        Shape::AllDay { .. } => today + Duration::days(spec.day + shift),
        _ => today + Duration::days(spec.day),
    };
    match spec.shape {
        Shape::AllDay { days } => {
            let start = first_day.and_hms_opt(0, 0, 0).unwrap();
            e["isAllDay"] = json!(true);
            e["start"] = json!({"dateTime": fmt(start), "timeZone": spec.zone});
            e["end"] = json!({"dateTime": fmt(start + Duration::days(i64::from(days))), "timeZone": spec.zone});
        }
        _ => {
            let start = first_day.and_hms_opt(0, 0, 0).unwrap()
                + Duration::minutes(i64::from(spec.quarter) * 15)
                + Duration::hours(shift);
            e["start"] = json!({"dateTime": fmt(start), "timeZone": spec.zone});
            e["end"] = json!({"dateTime": fmt(start + Duration::minutes(spec.minutes)), "timeZone": spec.zone});
        }
    }
    let start_date = e["start"]["dateTime"].as_str().unwrap()[..10].to_owned();
    match spec.shape {
        Shape::Daily { count } => {
            e["recurrence"] = json!({
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": start_date, "numberOfOccurrences": count},
            });
        }
        Shape::Weekly { count } => {
            let weekday = NaiveDate::parse_from_str(&start_date, "%Y-%m-%d")
                .unwrap()
                .weekday()
                .to_string()
                .to_lowercase();
            let weekday = match weekday.as_str() {
                "mon" => "monday",
                "tue" => "tuesday",
                "wed" => "wednesday",
                "thu" => "thursday",
                "fri" => "friday",
                "sat" => "saturday",
                _ => "sunday",
            };
            e["recurrence"] = json!({
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [weekday]},
                "range": {"type": "numbered", "startDate": start_date, "numberOfOccurrences": count},
            });
        }
        _ => {}
    }
    if spec.secondary {
        e["calendarId"] = json!(HOLIDAYS_CALENDAR_ID);
    }
    if let Some(response) = spec.response {
        e["isOrganizer"] = json!(false);
        e["responseStatus"] = json!({"response": response, "time": "2026-11-20T10:00:00Z"});
        e["organizer"] = json!({"emailAddress": {"name": "Dana Ivanova", "address": "dana@contoso.onmicrosoft.com"}});
    }
    let people = ["Alex Wilber", "Lee Gu", "Nestor Wilke"];
    e["attendees"] = Value::Array(
        people[..spec.attendees.min(3)]
            .iter()
            .map(|name| {
                json!({
                    "type": "required",
                    "status": {"response": "accepted"},
                    "emailAddress": {"name": name, "address": format!("{}@contoso.onmicrosoft.com", name.to_lowercase().replace(' ', "."))},
                })
            })
            .chain((spec.attendees > 3).then(|| {
                json!({
                    "type": "resource",
                    "status": {"response": "accepted"},
                    "emailAddress": {"name": "Room 4.01", "address": "room401@contoso.onmicrosoft.com"},
                })
            }))
            .collect(),
    );
    let mut location = spec.location.map(str::to_owned);
    let mut body = spec
        .agenda
        .then(|| "<p>Agenda: figures, risks &amp; next steps.</p>".to_owned());
    match spec.meeting {
        Meeting::None => {}
        Meeting::Teams => e["isOnlineMeeting"] = json!(true),
        Meeting::TeamsInvitation => {
            e["isOnlineMeeting"] = json!(true);
            body = Some(format!(
                "{}<div>________________________________________________________________________________</div><div><span style=\"font-size:24px\">Microsoft Teams meeting</span></div><div>Join on your computer, mobile app or room device</div><div>Meeting ID: 123 456 789 012<br>Passcode: aB3cD4</div><div>________________________________________________________________________________</div>",
                body.unwrap_or_default()
            ));
        }
        Meeting::ZoomInLocation => location = Some(ZOOM.to_owned()),
        Meeting::ZoomInBody => {
            body = Some(format!(
                "{}<p>Join Zoom Meeting<br><a href=\"{ZOOM_BODY}\">{ZOOM_BODY}</a></p><p>Meeting ID: 812 3456 7890</p>",
                body.unwrap_or_default()
            ));
        }
        Meeting::GoogleMeetInBody => {
            body = Some(format!(
                "{}<p>Join with Google Meet: <a href=\"{MEET}\">{MEET}</a></p>",
                body.unwrap_or_default()
            ));
        }
        Meeting::WebexInLocation => location = Some(WEBEX.to_owned()),
    }
    if let Some(location) = location {
        e["location"] = json!({"displayName": location});
    }
    if let Some(body) = body {
        e["body"] =
            json!({"contentType": "html", "content": format!("<html><body>{body}</body></html>")});
    }
    e
}

/// Adds `spec` to the mailbox; a Teams invitation's body then gets its meeting's own join
/// link, as Teams writes it ("Join the meeting now").
fn add(control: &presently_emulator::Control, spec: &Spec, n: usize, today: NaiveDate) -> String {
    let e = event_json(spec, n, today, 0);
    let id = control.add_event(e.clone()).unwrap();
    if let Meeting::TeamsInvitation = spec.meeting {
        let join = control.event(&id).unwrap()["onlineMeeting"]["joinUrl"]
            .as_str()
            .unwrap()
            .replace('&', "&amp;");
        let body = e["body"]["content"].as_str().unwrap().replace(
            "<div>Join on your computer",
            &format!(
                "<div><a href=\"{join}\">Join the meeting now</a></div><div>Join on your computer"
            ),
        );
        control
            .update_event(
                &id,
                json!({"body": {"contentType": "html", "content": body}}),
            )
            .unwrap();
    }
    id
}

// ---- comparing what two engines hold --------------------------------------------------------

/// What an engine holds and shows after a sync.
#[derive(Debug)]
struct Outcome {
    appointments: BTreeMap<String, Appointment>,
    calendars: Value,
    agenda: Value,
    plan: Value,
}

const AGENDA_DAYS: u32 = 16;

fn agenda_from(today: NaiveDate) -> NaiveDate {
    today - Duration::days(5)
}

fn outcome(engine: &Engine, dir: &Path, today: NaiveDate) -> Outcome {
    let mut appointments = stored(dir, PRIMARY_CALENDAR_ID);
    appointments.extend(stored(dir, HOLIDAYS_CALENDAR_ID));
    let mut calendars = engine.stored_calendars().unwrap();
    calendars.sort_by(|a, b| a.id.cmp(&b.id));
    let agenda = engine
        .agenda(Some(agenda_from(today)), Some(AGENDA_DAYS))
        .unwrap();
    let from =
        presently_engine::agenda::local_midnight(chrono_tz::Europe::Berlin, agenda_from(today));
    let plan = engine
        .presence_plan(from, from + Duration::days(i64::from(AGENDA_DAYS)))
        .unwrap();
    Outcome {
        appointments,
        calendars: serde_json::to_value(calendars).unwrap(),
        agenda: serde_json::to_value(agenda).unwrap(),
        plan: serde_json::to_value(plan).unwrap(),
    }
}

/// A location that is nothing but the meeting's join link (where the variance moved the
/// link into an empty location, as Zoom's add-in writes it).
fn location_is_the_link(a: &Appointment) -> bool {
    let (Some(location), Some(join)) = (&a.location, &a.join_url) else {
        return false;
    };
    url::Url::parse(location.trim()).is_ok_and(|u| u.as_str() == join.as_str())
}

/// Requires the varied engine to hold and show what the tidy one does, but for what Graph
/// did not say (see the module documentation).
fn assert_agree(tidy: &Outcome, varied: &Outcome, context: &str) {
    let mut varied_appointments = varied.appointments.clone();
    let mut tidy_appointments = tidy.appointments.clone();
    // Locations the variance made of a join link.
    let mut link_locations = BTreeSet::new();
    for (id, v) in varied_appointments.iter_mut() {
        v.original_time_zone = None;
        // The event's version: Graph's examples often leave `changeKey` out.
        v.change_key = None;
        let tidy_has_none = tidy_appointments
            .get(id)
            .is_some_and(|t| t.location.is_none());
        if tidy_has_none && location_is_the_link(v) {
            v.location = None;
            link_locations.insert(id.clone());
        }
    }
    for t in tidy_appointments.values_mut() {
        t.original_time_zone = None;
        t.change_key = None;
    }
    let missing: Vec<&String> = tidy_appointments
        .keys()
        .filter(|k| !varied_appointments.contains_key(*k))
        .collect();
    let extra: Vec<&String> = varied_appointments
        .keys()
        .filter(|k| !tidy_appointments.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{context}: the varied store lacks {missing:?} and has {extra:?} more"
    );
    for (id, t) in &tidy_appointments {
        assert_eq!(
            &varied_appointments[id], t,
            "{context}: appointment {id} differs (left: varied, right: tidy)"
        );
    }
    assert_eq!(
        varied.calendars, tidy.calendars,
        "{context}: calendars differ"
    );
    let mut agenda = varied.agenda.clone();
    for day in agenda["days"].as_array_mut().unwrap() {
        for item in day["items"].as_array_mut().unwrap() {
            if item["id"]
                .as_str()
                .is_some_and(|id| link_locations.contains(id))
            {
                item["location"] = Value::Null;
            }
        }
    }
    assert_eq!(agenda, tidy.agenda, "{context}: the agendas differ");
    assert_eq!(
        varied.plan, tidy.plan,
        "{context}: the presence plans differ"
    );
}

// ---- the sync property -------------------------------------------------------------------

const TODAY: &str = "2026-11-24";

fn sync_config(emu: &Emulator) -> Config {
    let mut config = config_for(emu);
    config.sync.calendars = vec!["Calendar".into(), "Team holidays".into()];
    config.features.presence = true;
    config
}

async fn signed_in(emu: &Emulator, dir: &Path, config: Config, clock: Arc<FixedClock>) -> Engine {
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock,
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    let _ = emu;
    engine.sign_in_to_emulator().await.unwrap();
    engine
}

/// Syncs `engine` with the emulator answering tidily (`None`) or with variance.
async fn sync(
    emu: &Emulator,
    engine: &Engine,
    clock: &FixedClock,
    variance: Option<u64>,
    what: &str,
) {
    emu.control().set_variance(variance);
    // The emulator's clock is the engine's: an HTTP-date Retry-After means the same to both.
    emu.control().set_clock(clock.now());
    let report = engine.sync_now().await;
    emu.control().set_variance(None);
    let report = report.unwrap_or_else(|e| panic!("{what}: the sync failed: {e}"));
    assert_eq!(report.rejected, 0, "{what}: items rejected: {report:?}");
}

async fn sync_case(seed: u64, mailbox: Vec<Spec>, changes: Vec<Change>) {
    let today: NaiveDate = TODAY.parse().unwrap();
    let emu = Emulator::start(EmulatorConfig {
        today,
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let mut events: Vec<(String, Spec)> = Vec::new();
    for (n, spec) in mailbox.iter().enumerate() {
        let id = add(&emu.control(), spec, n, today);
        events.push((id, spec.clone()));
    }
    let clock = Arc::new(FixedClock::new("2026-11-24T08:00:00Z".parse().unwrap()));
    let (tidy_dir, varied_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tidy = signed_in(&emu, tidy_dir.path(), sync_config(&emu), clock.clone()).await;
    let varied = signed_in(&emu, varied_dir.path(), sync_config(&emu), clock.clone()).await;

    sync(&emu, &tidy, &clock, None, "first sync, tidy").await;
    sync(&emu, &varied, &clock, Some(seed), "first sync, varied").await;
    let first = outcome(&tidy, tidy_dir.path(), today);
    assert_agree(
        &first,
        &outcome(&varied, varied_dir.path(), today),
        &format!("seed {seed}, first sync"),
    );

    // Random changes, then an incremental sync of both.
    let occurrences: Vec<String> = first
        .appointments
        .values()
        .filter(|a| a.series_master_id.is_some())
        .map(|a| a.id.clone())
        .collect();
    let control = emu.control();
    for change in changes {
        let pick = |i: usize| (!events.is_empty()).then(|| events[i % events.len()].clone());
        let occurrence = |i: usize| {
            (!occurrences.is_empty()).then(|| occurrences[i % occurrences.len()].clone())
        };
        // A change may find its appointment gone already: the mailbox refuses, nothing changes.
        let _ = match change {
            Change::Rename(i) => pick(i).map(|(id, _)| {
                control.update_event(&id, json!({"subject": format!("Renamed {i}")}))
            }),
            Change::ShowAs(i, show_as) => {
                pick(i).map(|(id, _)| control.update_event(&id, json!({"showAs": show_as})))
            }
            Change::Move(i, hours) => pick(i).map(|(id, spec)| {
                let e = event_json(&spec, 0, today, hours);
                control.update_event(&id, json!({"start": e["start"], "end": e["end"]}))
            }),
            Change::Delete(i) => pick(i).map(|(id, _)| control.delete_event(&id)),
            Change::Cancel(i) => pick(i).map(|(id, _)| control.cancel_event(&id)),
            Change::GoOnline(i) => {
                pick(i).map(|(id, _)| control.update_event(&id, json!({"isOnlineMeeting": true})))
            }
            Change::Add(spec) => {
                let n = events.len();
                let id = add(&control, &spec, n, today);
                events.push((id, spec));
                None
            }
            Change::MoveOccurrence(i, hours) => occurrence(i).map(|id| {
                let a = &first.appointments[&id];
                match a.when {
                    presently_engine::model::When::Timed { start, end } => {
                        let fmt = |t: DateTime<Utc>| (t + Duration::hours(hours)).format("%Y-%m-%dT%H:%M:%S").to_string();
                        control.update_event(
                            &id,
                            json!({"start": {"dateTime": fmt(start), "timeZone": "UTC"}, "end": {"dateTime": fmt(end), "timeZone": "UTC"}}),
                        )
                    }
                    presently_engine::model::When::AllDay { .. } => Ok(()),
                }
            }),
            Change::CancelOccurrence(i) => occurrence(i).map(|id| control.cancel_event(&id)),
        };
    }
    sync(&emu, &tidy, &clock, None, "incremental sync, tidy").await;
    sync(
        &emu,
        &varied,
        &clock,
        Some(seed),
        "incremental sync, varied",
    )
    .await;
    assert_agree(
        &outcome(&tidy, tidy_dir.path(), today),
        &outcome(&varied, varied_dir.path(), today),
        &format!("seed {seed}, incremental sync"),
    );
    emu.shutdown().await;
}

/// Restore cases: a sixth of `PROPTEST_CASES`, at least 3 (each runs two emulators through
/// an out-of-office block).
fn restore_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(3, |n| (n / 6).max(3))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Each case runs emulators and engines: shrink a little, not for ever.
        max_shrink_iters: 24,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/variance.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    // PROPTEST_CASES overrides the 20.
    #![proptest_config(proptest_config(20))]

    #[test]
    fn sync_agenda_and_plan_agree_whatever_graphs_variance(
        seed in any::<u64>(),
        mailbox in prop::collection::vec(spec(), 1..24),
        changes in prop::collection::vec(change(), 0..8),
    ) {
        eprintln!("variance seed {seed}: {} appointments, {} changes", mailbox.len(), changes.len());
        runtime().block_on(sync_case(seed, mailbox, changes));
    }
}

// ---- the restore property ----------------------------------------------------------------

#[derive(Clone, Debug)]
struct RestoreSpec {
    lead_minutes: i64,
    block_minutes: i64,
    /// The user's own automatic replies: status, audience, and their message.
    replies: (&'static str, &'static str, &'static str),
    /// The user's own Teams client state.
    teams: (&'static str, &'static str),
    status_message: Option<&'static str>,
    /// Other appointments on "Team holidays" (synced, shown, not driving presence).
    others: Vec<Spec>,
}

fn restore_spec() -> impl Strategy<Value = RestoreSpec> {
    (
        1i64..6,
        5i64..16,
        (
            prop::sample::select(vec!["disabled", "alwaysEnabled", "scheduled"]),
            prop::sample::select(vec!["none", "contactsOnly", "all"]),
            prop::sample::select(vec![
                "",
                "Back on Monday.",
                "<html><body>Away until <b>Monday</b></body></html>",
            ]),
        ),
        prop::sample::select(vec![
            ("Available", "Available"),
            ("Busy", "InACall"),
            ("Away", "Away"),
            ("DoNotDisturb", "Presenting"),
        ]),
        prop::option::of(prop::sample::select(vec![
            "Back at 3",
            "Heads down on the report",
        ])),
        prop::collection::vec(spec(), 0..4),
    )
        .prop_map(
            |(lead_minutes, block_minutes, replies, teams, status_message, others)| RestoreSpec {
                lead_minutes,
                block_minutes,
                replies,
                teams,
                status_message,
                others,
            },
        )
}

/// What the user has, as the emulator stores it (statusMessage by its content: a message
/// given back is published anew).
fn user_state(emu: &Emulator) -> Value {
    let presence = emu.control().presence();
    json!({
        "availability": presence["availability"],
        "activity": presence["activity"],
        "statusMessage": presence["statusMessage"]["message"]["content"],
        "preferred": emu.control().preferred_presence(),
        "sessions": emu.control().presence_sessions(),
        "automaticReplies": emu.control().mailbox_settings()["automaticRepliesSetting"],
    })
}

/// `GET /me/mailboxSettings` as a client reads it (through the variance's 429s).
async fn read_mailbox_settings(emu: &Emulator) -> Value {
    let token = emu.control().issue_access_token_for_tests();
    let http = reqwest::Client::new();
    loop {
        let answer = http
            .get(format!("{}/v1.0/me/mailboxSettings", emu.base_url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if answer.status() == 429 {
            tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
            continue;
        }
        assert_eq!(answer.status(), 200);
        return answer.json().await.unwrap();
    }
}

/// One out-of-office block with presence automation on simulated time; returns the kinds
/// of the presence and mailbox settings calls made, in order.
async fn restore_run(spec: &RestoreSpec, variance: Option<u64>) -> Vec<String> {
    let what = match variance {
        Some(seed) => format!("varied (seed {seed})"),
        None => "tidy".to_owned(),
    };
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        variance: variance.map(|seed| presently_emulator::Variance { seed }),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let sim = Sim::new(&emu);
    let control = emu.control();
    let (status, audience, message) = spec.replies;
    let at = |t: DateTime<Utc>| json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    control
        .update_mailbox_settings(json!({"automaticRepliesSetting": {
            "status": status,
            "externalAudience": audience,
            "internalReplyMessage": message,
            "externalReplyMessage": message,
            "scheduledStartDateTime": at(sim.now() + Duration::days(3)),
            "scheduledEndDateTime": at(sim.now() + Duration::days(5)),
        }}))
        .unwrap();
    control.set_teams_client_presence(Some(spec.teams));
    if let Some(m) = spec.status_message {
        control.set_user_status_message(m);
    }
    let today = sim.now().date_naive();
    for (n, other) in spec.others.iter().enumerate() {
        let other = Spec {
            secondary: true,
            ..other.clone()
        };
        add(&control, &other, n, today);
    }
    let begin = sim.now() + Duration::minutes(spec.lead_minutes);
    let end = begin + Duration::minutes(spec.block_minutes);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    control
        .add_event(json!({
            "subject": "Offsite",
            "showAs": "oof",
            "start": {"dateTime": fmt(begin), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
        }))
        .unwrap();
    let before = user_state(&emu);
    // The replies as a client reads them: in the varied emulator's spelling.
    let read = read_mailbox_settings(&emu).await["automaticRepliesSetting"].clone();

    let dir = tempfile::tempdir().unwrap();
    let mut config = sync_config(&emu);
    config.features.automatic_replies = true;
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir.path()),
            config,
            clock: sim.clock.clone(),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    let engine = Arc::new(engine);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(spec.block_minutes / 2))
        .await;
    let during = emu.control().presence();
    assert!(
        during["availability"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("away"),
        "{what}: the out-of-office block did not switch presence: {during}"
    );
    sim.run_until(end + Duration::minutes(1)).await;
    running.stop().await;

    let after = user_state(&emu);
    assert_eq!(
        after, before,
        "{what}: the user's state did not end as it began"
    );
    // Every write of the user's own replies is what was read, verbatim.
    let updates = calls(&emu, "updateMailboxSettings");
    let restore = updates
        .last()
        .unwrap_or_else(|| panic!("{what}: automatic replies untouched"));
    assert_eq!(
        restore.body,
        json!({ "automaticRepliesSetting": read }),
        "{what}: the restore did not write back what was read"
    );
    let kinds = emu
        .control()
        .presence_calls()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    emu.shutdown().await;
    kinds
}

/// Run by hand rather than by `proptest!`, whose `PROPTEST_CASES` would apply as it is.
#[test]
fn a_restore_gives_back_exactly_what_was_read_whatever_graphs_variance() {
    let mut config = proptest_config(restore_cases());
    config.test_name = Some(concat!(module_path!(), "::a_restore"));
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&(any::<u64>(), restore_spec()), |(seed, spec)| {
        eprintln!("variance seed {seed}: {spec:?}");
        let rt = runtime();
        let tidy = rt.block_on(restore_run(&spec, None));
        let varied = rt.block_on(restore_run(&spec, Some(seed)));
        prop_assert_eq!(varied, tidy, "the same calls, in the same order");
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}\n{runner}");
    }
}
