//! iCalendar feeds as real producers write them (`fixtures/ics/`: a Google Calendar export,
//! an Outlook published calendar, a public-holidays feed, a feed with overrides and
//! exceptions across the changes of daylight saving time), each checked against occurrence
//! lists worked out by hand below (in UTC, with the offsets reasoned in the comments), and
//! hostile feeds: each a clear error or a warning, never a panic or a hang.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use presently_engine::ics::{self, Feed, FeedError, Limits};
use presently_engine::model::{AppointmentType, Sensitivity, ShowAs, When};
use presently_engine::sync::Window;
use presently_engine::{ApiError, Error};
use std::time::{Duration, Instant};

const CALENDAR: &str = "ics-test";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/ics/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn window(from: &str, to: &str) -> Window {
    Window {
        start: utc(from),
        end: utc(to),
    }
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn parse(bytes: &[u8], window: Window, zone: Tz) -> Feed {
    ics::parse(bytes, CALENDAR, window, zone).unwrap()
}

/// The timed appointments of one UID: (start, end) in UTC, `Z`-terminated RFC 3339, sorted.
fn timed(feed: &Feed, uid: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = feed
        .appointments
        .iter()
        .filter(|a| a.ical_uid.as_deref() == Some(uid))
        .map(|a| match a.when {
            When::Timed { start, end } => (
                start.format("%Y-%m-%dT%H:%MZ").to_string(),
                end.format("%Y-%m-%dT%H:%MZ").to_string(),
            ),
            When::AllDay { .. } => panic!("{uid} is all-day"),
        })
        .collect();
    out.sort();
    out
}

fn starts(feed: &Feed, uid: &str) -> Vec<String> {
    timed(feed, uid).into_iter().map(|(s, _)| s).collect()
}

fn one<'f>(feed: &'f Feed, id: &str) -> &'f presently_engine::model::Appointment {
    feed.appointments
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no appointment {id}: {:?}", ids(feed)))
}

fn ids(feed: &Feed) -> Vec<&str> {
    feed.appointments.iter().map(|a| a.id.as_str()).collect()
}

#[test]
fn a_google_calendar_export() {
    let feed = parse(
        &fixture("google-export.ics"),
        window("2026-10-01T00:00:00Z", "2026-11-15T00:00:00Z"),
        chrono_tz::Europe::Berlin,
    );
    assert_eq!(feed.name.as_deref(), Some("Team NYC"));
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);

    // Standup: Mondays and Wednesdays 09:30–09:45 New York from Mon 5 October, until
    // 12 November 04:59:59 UTC, without Wed 14 October (EXDATE). New York is on EDT
    // (UTC−4) until Sun 1 November 02:00, then EST (UTC−5): 09:30 is 13:30Z, then 14:30Z.
    let standup = "4q1bq3j7v2mb0l1kq9tmq7tb3c@google.com";
    assert_eq!(
        timed(&feed, standup),
        [
            ("2026-10-05T13:30Z", "2026-10-05T13:45Z"),
            ("2026-10-07T13:30Z", "2026-10-07T13:45Z"),
            ("2026-10-12T13:30Z", "2026-10-12T13:45Z"),
            ("2026-10-19T13:30Z", "2026-10-19T13:45Z"),
            ("2026-10-21T13:30Z", "2026-10-21T13:45Z"),
            ("2026-10-26T13:30Z", "2026-10-26T13:45Z"),
            ("2026-10-28T13:30Z", "2026-10-28T13:45Z"),
            ("2026-11-02T14:30Z", "2026-11-02T14:45Z"),
            ("2026-11-04T14:30Z", "2026-11-04T14:45Z"),
            ("2026-11-09T14:30Z", "2026-11-09T14:45Z"),
            ("2026-11-11T14:30Z", "2026-11-11T14:45Z"),
        ]
        .map(|(s, e)| (s.to_owned(), e.to_owned()))
    );
    let first = one(&feed, &format!("{standup}/20261005T133000Z"));
    assert_eq!(first.subject, "Standup");
    assert_eq!(first.kind, AppointmentType::Occurrence);
    assert_eq!(first.series_master_id.as_deref(), Some(standup));
    assert_eq!(
        first.original_time_zone.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(
        first.body_preview.as_deref(),
        Some("Daily check-in. Bring blockers, not status.")
    );
    assert_eq!(
        (first.reminder_on, first.reminder_minutes),
        (true, Some(10))
    );
    assert_eq!(first.location, None);
    assert_eq!(first.show_as, ShowAs::Busy);
    assert_eq!(first.calendar_id, CALENDAR);

    // An all-day event: DTEND is exclusive, so 20–21 October; transparent is free.
    let offsite = one(&feed, "0c5v2m4f1o8r3j6k9n1p2q3r4s@google.com");
    assert_eq!(
        offsite.when,
        When::AllDay {
            start: day("2026-10-20"),
            end: day("2026-10-22")
        }
    );
    assert_eq!(offsite.show_as, ShowAs::Free);
    assert_eq!(offsite.kind, AppointmentType::SingleInstance);
    assert_eq!(offsite.location.as_deref(), Some("Bear Mountain Inn"));

    // A meeting with a Meet link, its organizer, two guests besides her and a room.
    let planning = one(&feed, "7h2k4m6n8p0r2t4v6x8z0b2d4f@google.com");
    assert_eq!(
        timed(&feed, "7h2k4m6n8p0r2t4v6x8z0b2d4f@google.com"),
        [(
            "2026-10-15T17:00Z".to_owned(),
            "2026-10-15T18:00Z".to_owned()
        )]
    );
    assert_eq!(
        planning.join_url.as_deref(),
        Some("https://meet.google.com/abc-defg-hij")
    );
    let organizer = planning.organizer.as_ref().unwrap();
    assert_eq!(organizer.name.as_deref(), Some("Ann Example"));
    assert_eq!(organizer.email.as_deref(), Some("ann@example.com"));
    assert_eq!(planning.attendees, Some(2));
    assert_eq!(planning.last_modified, Some(utc("2026-09-12T08:00:00Z")));

    // The kick-off on 1 September is before the window.
    assert!(feed
        .appointments
        .iter()
        .all(|a| a.ical_uid.as_deref() != Some("1a2b3c4d5e6f7g8h9i0j1k2l3m@google.com")));
    assert_eq!(feed.appointments.len(), 13);
}

#[test]
fn an_outlook_published_calendar() {
    let feed = parse(
        &fixture("outlook-published.ics"),
        window("2026-10-01T00:00:00Z", "2026-11-15T00:00:00Z"),
        chrono_tz::America::New_York,
    );
    assert_eq!(feed.name.as_deref(), Some("Calendar"));

    // "W. Europe Standard Time" is Europe/Berlin (CLDR). Tuesdays and Thursdays 10:00–10:30
    // from Tue 6 October until 5 November 09:00 UTC. Berlin is on CEST (UTC+2) until Sun
    // 25 October 03:00, then CET (UTC+1): 10:00 is 08:00Z, then 09:00Z; the last, Thu 5
    // November 10:00 CET, is 09:00Z, exactly UNTIL, which is included.
    let sync = "040000008200E00074C5B7101A82E00800000000D0E1A2B3C4D5DC01000000000000000010000000A1B2C3D4E5F60718293A4B5C6D7E8F90";
    assert_eq!(
        starts(&feed, sync),
        [
            "2026-10-06T08:00Z",
            "2026-10-08T08:00Z",
            "2026-10-13T08:00Z",
            "2026-10-15T08:00Z",
            "2026-10-20T08:00Z",
            "2026-10-22T08:00Z",
            "2026-10-27T09:00Z",
            "2026-10-29T09:00Z",
            "2026-11-03T09:00Z",
            "2026-11-05T09:00Z",
        ]
    );
    let weekly = one(&feed, &format!("{sync}/20261027T090000Z"));
    assert_eq!(weekly.show_as, ShowAs::Busy);
    assert_eq!(
        weekly.original_time_zone.as_deref(),
        Some("W. Europe Standard Time")
    );
    // The folded description: the Teams link and codes of the invitation.
    assert_eq!(
        weekly.join_url.as_deref(),
        Some("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjA4ZjQ1%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf%22%7d")
    );
    assert_eq!(weekly.meeting_id.as_deref(), Some("334 567 890 123"));
    assert_eq!(weekly.meeting_passcode.as_deref(), Some("aB3cD4"));

    // Outlook's busy status: out of office, on its date only.
    let holiday = feed
        .appointments
        .iter()
        .find(|a| a.subject == "Holiday")
        .unwrap();
    assert_eq!(holiday.show_as, ShowAs::Oof);
    assert_eq!(
        holiday.when,
        When::AllDay {
            start: day("2026-10-26"),
            end: day("2026-10-27")
        }
    );

    // "Customized Time Zone" names no zone; its VTIMEZONE has Berlin's rules. 28 October
    // 12:00 is CET: 11:00Z.
    let lunch = feed
        .appointments
        .iter()
        .find(|a| a.subject == "Lunch with the Zurich office")
        .unwrap();
    assert_eq!(
        lunch.when,
        When::Timed {
            start: utc("2026-10-28T11:00:00Z"),
            end: utc("2026-10-28T12:00:00Z")
        }
    );
    assert_eq!(lunch.show_as, ShowAs::Free);
    assert_eq!(feed.warnings.len(), 1, "{:?}", feed.warnings);
    let warning = feed.warnings[0].to_string();
    assert!(warning.contains("Customized Time Zone"), "{warning}");
    assert!(warning.contains("Europe/Berlin"), "{warning}");

    // 9 October 14:00 CEST is 12:00Z; private stays private.
    let private = feed
        .appointments
        .iter()
        .find(|a| a.subject == "1:1 with manager")
        .unwrap();
    assert_eq!(private.sensitivity, Sensitivity::Private);
    assert_eq!(
        private.when,
        When::Timed {
            start: utc("2026-10-09T12:00:00Z"),
            end: utc("2026-10-09T12:30:00Z")
        }
    );
    assert_eq!(feed.appointments.len(), 13);
}

#[test]
fn a_public_holidays_feed() {
    let feed = parse(
        &fixture("holidays.ics"),
        window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        chrono_tz::Europe::Berlin,
    );
    assert_eq!(feed.name.as_deref(), Some("Holidays in Germany"));
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let mut days: Vec<(NaiveDate, NaiveDate, &str)> = feed
        .appointments
        .iter()
        .map(|a| match a.when {
            When::AllDay { start, end } => (start, end, a.subject.as_str()),
            When::Timed { .. } => panic!("{} is timed", a.subject),
        })
        .collect();
    days.sort();
    // Yearly from 2010 (and 1990): their 2026 dates. Mother's Day is the second Sunday of
    // May: 1 May 2026 is a Friday, so Sunday 10 May. Labour Day has no DTEND (one day);
    // Unity Day a DURATION of P1D. Easter Monday is a single date per year (2025's is
    // outside the window); the abolished holiday ended in 2012. All-day dates are days of
    // the display zone: 1 January 2027 begins in Berlin at 23:00 UTC on 31 December, inside
    // the window, as 1 January 2026 ends at 23:00 UTC on that day.
    assert_eq!(
        days,
        vec![
            (day("2026-01-01"), day("2026-01-02"), "New Year's Day"),
            (day("2026-04-06"), day("2026-04-07"), "Easter Monday"),
            (day("2026-05-01"), day("2026-05-02"), "Labour Day"),
            (day("2026-05-10"), day("2026-05-11"), "Mother's Day"),
            (day("2026-10-03"), day("2026-10-04"), "Day of German Unity"),
            (day("2026-12-25"), day("2026-12-26"), "Christmas Day"),
            (
                day("2026-12-26"),
                day("2026-12-27"),
                "Second Day of Christmas"
            ),
            (day("2027-01-01"), day("2027-01-02"), "New Year's Day"),
        ]
    );
    assert!(feed.appointments.iter().all(|a| a.show_as == ShowAs::Free));
    let christmas = one(&feed, "christmas-day@holidays.example/20261225");
    assert_eq!(christmas.categories, ["Holidays"]);
    assert_eq!(christmas.kind, AppointmentType::Occurrence);
}

#[test]
fn overrides_and_exceptions_across_the_spring_change() {
    let feed = parse(
        &fixture("berlin-dst-overrides.ics"),
        window("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z"),
        chrono_tz::Europe::Berlin,
    );
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let uid = "jour-fixe-7F3A@example.org";
    // Fridays 10:00–11:00 Berlin, five from 13 March: 13, 20, 27 March, 3 and 10 April.
    // Berlin changes from CET (UTC+1) to CEST (UTC+2) on Sun 29 March: 10:00 is 09:00Z
    // before, 08:00Z after.
    // - 13 March: 09:00Z.
    // - 20 March: EXDATE, gone.
    // - 27 March (09:00Z originally): moved to Mon 30 March 15:00 CEST = 13:00Z.
    // - 3 April: cancelled by its override, still shown (cancelled) at 08:00Z.
    // - 10 April: 08:00Z.
    assert_eq!(
        timed(&feed, uid),
        [
            ("2026-03-13T09:00Z", "2026-03-13T10:00Z"),
            ("2026-03-30T13:00Z", "2026-03-30T14:00Z"),
            ("2026-04-03T08:00Z", "2026-04-03T09:00Z"),
            ("2026-04-10T08:00Z", "2026-04-10T09:00Z"),
        ]
        .map(|(s, e)| (s.to_owned(), e.to_owned()))
    );
    // An override keeps the id of the occurrence it replaces.
    let moved = one(&feed, &format!("{uid}/20260327T090000Z"));
    assert_eq!(moved.subject, "Jour fixe (moved to Monday)");
    assert_eq!(moved.kind, AppointmentType::Exception);
    assert!(!moved.cancelled);
    let cancelled = one(&feed, &format!("{uid}/20260403T080000Z"));
    assert!(cancelled.cancelled);
    assert_eq!(cancelled.kind, AppointmentType::Exception);
    let regular = one(&feed, &format!("{uid}/20260410T080000Z"));
    assert!(!regular.cancelled);
    assert_eq!(regular.location.as_deref(), Some("Room Spree"));
}

#[test]
fn overrides_and_exceptions_across_the_autumn_change() {
    let feed = parse(
        &fixture("berlin-dst-overrides.ics"),
        window("2026-09-01T00:00:00Z", "2026-11-01T00:00:00Z"),
        chrono_tz::Europe::Berlin,
    );
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    // Daily 07:30–08:00 Berlin from Thu 22 October until 27 October 06:30 UTC, without the
    // 24th and the 26th (one EXDATE with two dates). Berlin changes from CEST (UTC+2) to
    // CET (UTC+1) on Sun 25 October 03:00: 07:30 is 05:30Z on the 22nd and 23rd, 06:30Z
    // on the 25th and the 27th (exactly UNTIL, included).
    assert_eq!(
        starts(&feed, "rota-11C2@example.org"),
        [
            "2026-10-22T05:30Z",
            "2026-10-23T05:30Z",
            "2026-10-25T06:30Z",
            "2026-10-27T06:30Z",
        ]
    );
    // Mondays 09:00–09:30 Berlin, ten from 7 September (to 9 November), plus an RDATE on
    // Thu 1 October 17:00. CEST (UTC+2) until 25 October: 09:00 is 07:00Z, then 08:00Z.
    // - 14 September is moved to 25 August, out of the window: neither is shown.
    // - 2 November (08:00Z, named in UTC by its RECURRENCE-ID) is moved to Fri 30 October
    //   09:00 CET = 08:00Z, into the window.
    // - 1 October 17:00 CEST = 15:00Z.
    // - 9 November is after the window.
    let uid = "review-5D90@example.org";
    assert_eq!(
        starts(&feed, uid),
        [
            "2026-09-07T07:00Z",
            "2026-09-21T07:00Z",
            "2026-09-28T07:00Z",
            "2026-10-01T15:00Z",
            "2026-10-05T07:00Z",
            "2026-10-12T07:00Z",
            "2026-10-19T07:00Z",
            "2026-10-26T08:00Z",
            "2026-10-30T08:00Z",
        ]
    );
    let early = one(&feed, &format!("{uid}/20261102T080000Z"));
    assert_eq!(early.subject, "Review (early, before the holiday)");
    assert!(feed
        .appointments
        .iter()
        .all(|a| a.id != format!("{uid}/20260914T070000Z")));
    one(&feed, &format!("{uid}/20261001T150000Z"));
}

#[test]
fn ids_are_the_same_at_every_fetch_and_in_every_window() {
    let bytes = fixture("berlin-dst-overrides.ics");
    let wide = parse(
        &bytes,
        window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        chrono_tz::Europe::Berlin,
    );
    let narrow = parse(
        &bytes,
        window("2026-10-20T00:00:00Z", "2026-10-31T00:00:00Z"),
        chrono_tz::Asia::Tokyo,
    );
    assert!(!narrow.appointments.is_empty());
    for a in &narrow.appointments {
        let same = one(&wide, &a.id);
        assert_eq!(same.when, a.when);
    }
    let again = parse(
        &bytes,
        window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        chrono_tz::Europe::Berlin,
    );
    assert_eq!(again, wide);
}

fn calendar(body: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{body}END:VCALENDAR\n").into_bytes()
}

fn event(lines: &str) -> String {
    format!("BEGIN:VEVENT\n{lines}END:VEVENT\n")
}

const OCTOBER: (&str, &str) = ("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z");

fn october(bytes: &[u8], zone: Tz) -> Feed {
    parse(bytes, window(OCTOBER.0, OCTOBER.1), zone)
}

#[test]
fn floating_times_are_read_in_the_display_zone() {
    let bytes = calendar(&event(
        "UID:floating\nDTSTART:20261005T090000\nDTEND:20261005T100000\nSUMMARY:Floating\n",
    ));
    // 09:00 in New York (EDT, UTC−4) is 13:00Z; in Tokyo (UTC+9) 00:00Z.
    assert_eq!(
        timed(&october(&bytes, chrono_tz::America::New_York), "floating"),
        [(
            "2026-10-05T13:00Z".to_owned(),
            "2026-10-05T14:00Z".to_owned()
        )]
    );
    assert_eq!(
        timed(&october(&bytes, chrono_tz::Asia::Tokyo), "floating"),
        [(
            "2026-10-05T00:00Z".to_owned(),
            "2026-10-05T01:00Z".to_owned()
        )]
    );
}

#[test]
fn durations_and_missing_ends_follow_rfc_5545() {
    let bytes = calendar(
        &[
            // P1D is a calendar day: from Sat 24 October 10:00 CEST (08:00Z) to Sun 25 10:00
            // CET (09:00Z), 25 hours.
            event("UID:day\nDTSTART;TZID=Europe/Berlin:20261024T100000\nDURATION:P1D\n"),
            event("UID:exact\nDTSTART;TZID=Europe/Berlin:20261024T100000\nDURATION:PT1H30M\n"),
            // A date-time and nothing else: no time at all.
            event("UID:instant\nDTSTART:20261010T120000Z\n"),
            // A date and nothing else: that day.
            event("UID:date\nDTSTART;VALUE=DATE:20261012\n"),
            // An end before the start: the start.
            event("UID:backwards\nDTSTART:20261011T120000Z\nDTEND:20261011T110000Z\n"),
            // Days of an all-day DURATION.
            event("UID:days\nDTSTART;VALUE=DATE:20261013\nDURATION:P3D\n"),
        ]
        .concat(),
    );
    let feed = october(&bytes, chrono_tz::Europe::Berlin);
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    let pair = |s: &str, e: &str| vec![(s.to_owned(), e.to_owned())];
    assert_eq!(
        timed(&feed, "day"),
        pair("2026-10-24T08:00Z", "2026-10-25T09:00Z")
    );
    assert_eq!(
        timed(&feed, "exact"),
        pair("2026-10-24T08:00Z", "2026-10-24T09:30Z")
    );
    assert_eq!(
        timed(&feed, "instant"),
        pair("2026-10-10T12:00Z", "2026-10-10T12:00Z")
    );
    assert_eq!(
        timed(&feed, "backwards"),
        pair("2026-10-11T12:00Z", "2026-10-11T12:00Z")
    );
    assert_eq!(
        one(&feed, "date").when,
        When::AllDay {
            start: day("2026-10-12"),
            end: day("2026-10-13")
        }
    );
    assert_eq!(
        one(&feed, "days").when,
        When::AllDay {
            start: day("2026-10-13"),
            end: day("2026-10-16")
        }
    );
}

#[test]
fn a_daily_series_with_a_duration_keeps_its_wall_clock_time() {
    // Daily 23:30 Berlin for one hour (DURATION), around 25 October: CEST (+2) 21:30Z
    // before, CET (+1) 22:30Z from the 25th on; each lasts an hour.
    let bytes = calendar(&event(
        "UID:late\nDTSTART;TZID=Europe/Berlin:20261023T233000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=4\n",
    ));
    assert_eq!(
        timed(&october(&bytes, chrono_tz::UTC), "late"),
        [
            ("2026-10-23T21:30Z", "2026-10-23T22:30Z"),
            ("2026-10-24T21:30Z", "2026-10-24T22:30Z"),
            ("2026-10-25T22:30Z", "2026-10-25T23:30Z"),
            ("2026-10-26T22:30Z", "2026-10-26T23:30Z"),
        ]
        .map(|(s, e)| (s.to_owned(), e.to_owned()))
    );
}

#[test]
fn zones_nobody_knows_fall_back_and_say_so() {
    let bytes = calendar(&[
        // A Mozilla-style TZID ends in an IANA name: no warning.
        event("UID:mozilla\nDTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20261005T090000\nDTEND;TZID=/mozilla.org/20050126_1/Europe/Berlin:20261005T100000\n"),
        // No VTIMEZONE either: the display zone (New York, EDT: 09:00 is 13:00Z).
        event("UID:unknown\nDTSTART;TZID=Mars/Olympus_Mons:20261006T090000\nDTEND;TZID=Mars/Olympus_Mons:20261006T100000\n"),
    ]
    .concat());
    let feed = october(&bytes, chrono_tz::America::New_York);
    assert_eq!(starts(&feed, "mozilla"), ["2026-10-05T07:00Z"]);
    assert_eq!(starts(&feed, "unknown"), ["2026-10-06T13:00Z"]);
    assert_eq!(feed.warnings.len(), 1, "{:?}", feed.warnings);
    let warning = &feed.warnings[0].message;
    assert!(warning.contains("Mars/Olympus_Mons"), "{warning}");
    assert!(warning.contains("America/New_York"), "{warning}");
}

#[test]
fn a_vtimezone_no_zone_matches_gives_its_standard_offset() {
    // A zone of +03:00 with daylight time at +04:00 from the first Sunday of April to the
    // first Sunday of September: no IANA zone has these rules. Its standard offset is used:
    // 09:00 is 06:00Z.
    let bytes = calendar(&[
        "BEGIN:VTIMEZONE\nTZID:Invented\nBEGIN:STANDARD\nDTSTART:19700906T030000\nTZOFFSETFROM:+0400\nTZOFFSETTO:+0300\nRRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=1SU\nEND:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:19700405T020000\nTZOFFSETFROM:+0300\nTZOFFSETTO:+0400\nRRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU\nEND:DAYLIGHT\nEND:VTIMEZONE\n".to_owned(),
        event("UID:invented\nDTSTART;TZID=Invented:20261005T090000\n"),
    ]
    .concat());
    let feed = october(&bytes, chrono_tz::America::New_York);
    assert_eq!(starts(&feed, "invented"), ["2026-10-05T06:00Z"]);
    assert_eq!(feed.warnings.len(), 1, "{:?}", feed.warnings);
    assert!(
        feed.warnings[0].message.contains("Etc/GMT-3"),
        "{:?}",
        feed.warnings
    );
}

#[test]
fn a_broken_event_costs_only_itself() {
    let bytes = calendar(&[
        event("UID:bad-date\nDTSTART:20261345T100000Z\nSUMMARY:Month 13\n"),
        event("UID:no-start\nSUMMARY:Nothing\n"),
        event("UID:bad-duration\nDTSTART:20261005T100000Z\nDURATION:soon\n"),
        event("UID:bad-rule\nDTSTART:20261007T100000Z\nRRULE:FREQ=SOMETIMES\n"),
        event("UID:bad-exdate\nDTSTART:20261008T100000Z\nRRULE:FREQ=DAILY;COUNT=2\nEXDATE:tomorrow\n"),
        event("UID:fine\nDTSTART:20261009T100000Z\nSUMMARY:Fine\n"),
    ]
    .concat());
    let feed = october(&bytes, chrono_tz::UTC);
    // The rule that cannot be used leaves its first occurrence; the EXDATE that cannot be
    // read leaves both.
    assert_eq!(starts(&feed, "bad-rule"), ["2026-10-07T10:00Z"]);
    assert_eq!(
        starts(&feed, "bad-exdate"),
        ["2026-10-08T10:00Z", "2026-10-09T10:00Z"]
    );
    assert_eq!(starts(&feed, "fine"), ["2026-10-09T10:00Z"]);
    let warned: Vec<&str> = feed
        .warnings
        .iter()
        .filter_map(|w| w.uid.as_deref())
        .collect();
    assert_eq!(
        warned,
        [
            "bad-date",
            "no-start",
            "bad-duration",
            "bad-rule",
            "bad-exdate"
        ]
    );
    assert!(feed.warnings[0].message.contains("20261345T100000Z"));
    assert!(feed.warnings[0].message.contains("left out"));
}

#[test]
fn an_endless_rule_is_expanded_over_the_window_only() {
    // Daily since 2020, no COUNT nor UNTIL: the 31 days of October.
    let bytes = calendar(&event(
        "UID:endless\nDTSTART:20200101T080000Z\nDTEND:20200101T081500Z\nRRULE:FREQ=DAILY\n",
    ));
    let started = Instant::now();
    let feed = october(&bytes, chrono_tz::UTC);
    assert_eq!(feed.appointments.len(), 31);
    assert_eq!(starts(&feed, "endless")[0], "2026-10-01T08:00Z");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(feed.warnings.is_empty());
}

#[test]
fn a_rule_recurring_every_second_stops_with_a_warning() {
    let bytes = calendar(
        &[
            event("UID:every-second\nDTSTART:20260101T000000Z\nRRULE:FREQ=SECONDLY\n"),
            event("UID:fine\nDTSTART:20261009T100000Z\n"),
        ]
        .concat(),
    );
    let started = Instant::now();
    let feed = october(&bytes, chrono_tz::UTC);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(starts(&feed, "every-second").is_empty());
    assert_eq!(starts(&feed, "fine"), ["2026-10-09T10:00Z"]);
    assert_eq!(feed.warnings.len(), 1);
    assert!(
        feed.warnings[0].message.contains("recurs too often"),
        "{:?}",
        feed.warnings
    );
}

#[test]
fn a_series_with_too_many_occurrences_in_the_window_is_cut() {
    // Every 5 minutes through October: 8,928 occurrences; the first 5,000 are kept.
    let bytes = calendar(&event(
        "UID:often\nDTSTART:20261001T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=5\n",
    ));
    let feed = october(&bytes, chrono_tz::UTC);
    assert_eq!(feed.appointments.len(), 5_000);
    assert_eq!(
        starts(&feed, "often").last().map(String::as_str),
        Some("2026-10-18T08:35Z") // 4,999 × 5 min after the start: 17 d 8 h 35 min
    );
    assert!(feed.warnings[0]
        .message
        .contains("more than 5000 occurrences"));
}

#[test]
fn a_feed_whose_rules_take_too_long_is_an_error() {
    let limits = Limits {
        max_steps: 50_000,
        max_steps_per_series: 20_000,
        ..Limits::default()
    };
    let many: String = (0..5)
        .map(|n| {
            event(&format!(
                "UID:s{n}\nDTSTART:20260101T000000Z\nRRULE:FREQ=MINUTELY\n"
            ))
        })
        .collect();
    let err = ics::parse_with_limits(
        &calendar(&many),
        CALENDAR,
        window(OCTOBER.0, OCTOBER.1),
        chrono_tz::UTC,
        &limits,
    )
    .unwrap_err();
    assert_eq!(err, FeedError::TooComplex { limit: 50_000 });
}

#[test]
fn a_uid_repeated_thousands_of_times_keeps_every_event_with_its_own_id() {
    let body: String = (0..20_000)
        .map(|n| {
            event(&format!(
                "UID:same\nDTSTART:20261009T{:02}{:02}00Z\n",
                n / 60 % 24,
                n % 60
            ))
        })
        .collect();
    let started = Instant::now();
    let feed = october(&calendar(&body), chrono_tz::UTC);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(feed.appointments.len(), 20_000);
    let ids: std::collections::HashSet<&str> = ids(&feed).into_iter().collect();
    assert_eq!(ids.len(), 20_000);
    assert!(ids.contains("same") && ids.contains("same#2") && ids.contains("same#20000"));
    // Said once, not 19,999 times.
    assert_eq!(feed.warnings.len(), 1, "{:?}", &feed.warnings[..3]);
}

fn error(bytes: &[u8]) -> FeedError {
    ics::parse(
        bytes,
        CALENDAR,
        window(OCTOBER.0, OCTOBER.1),
        chrono_tz::UTC,
    )
    .unwrap_err()
}

#[test]
fn a_huge_feed_is_refused_before_it_is_read() {
    let mut bytes = calendar(&event("UID:x\nDTSTART:20261009T100000Z\n"));
    bytes.resize(10 * 1024 * 1024 + 1, b'\n');
    assert_eq!(
        error(&bytes),
        FeedError::TooLarge {
            size: 10 * 1024 * 1024 + 1,
            limit: 10 * 1024 * 1024
        }
    );
}

#[test]
fn too_many_events_are_refused() {
    let body: String = (0..50_001)
        .map(|n| format!("BEGIN:VEVENT\nUID:{n}\nDTSTART:20261009T100000Z\nEND:VEVENT\n"))
        .collect();
    assert_eq!(
        error(&calendar(&body)),
        FeedError::TooManyEvents { limit: 50_000 }
    );
}

#[test]
fn deep_and_unbalanced_nesting_is_refused_with_its_line() {
    let deep = format!("BEGIN:VCALENDAR\n{}", "BEGIN:X-NEST\n".repeat(100_000));
    match error(deep.as_bytes()) {
        FeedError::Invalid { line, reason } => {
            assert_eq!(line, 9);
            assert!(reason.contains("nested more than 8 deep"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let crossed = calendar("BEGIN:VEVENT\nUID:a\nBEGIN:VALARM\nEND:VEVENT\nEND:VALARM\n");
    assert_eq!(
        error(&crossed),
        FeedError::Invalid {
            line: 7,
            reason: "END:VEVENT where BEGIN:VALARM (line 6) is still open".into()
        }
    );
    let cut_short = b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20261009T100000Z\n";
    assert_eq!(
        error(cut_short),
        FeedError::Invalid {
            line: 2,
            reason: "BEGIN:VEVENT is never closed (the feed may be cut short)".into()
        }
    );
    let stray_end = b"BEGIN:VCALENDAR\nEND:VCALENDAR\nEND:VEVENT\n";
    assert!(matches!(
        error(stray_end),
        FeedError::Invalid { line: 3, .. }
    ));
}

#[test]
fn what_is_not_icalendar_is_said_so() {
    let html = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>";
    let err = error(html);
    assert_eq!(
        err.to_string(),
        "not an iCalendar feed: it is an HTML page (a sign-in or error page?)"
    );
    assert!(error(br#"{"error": {"code": "NotFound"}}"#)
        .to_string()
        .contains("JSON"));
    let junk: Vec<u8> = (0..4096u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(error(&junk), FeedError::NotICalendar { .. }));

    // The codes the UI shows.
    let api = ApiError::from(Error::from(err));
    assert_eq!(serde_json::to_value(&api).unwrap()["code"], "not_icalendar");
    let api = ApiError::from(Error::from(FeedError::TooManyEvents { limit: 1 }));
    assert_eq!(
        serde_json::to_value(&api).unwrap()["code"],
        "feed_too_large"
    );
    let api = ApiError::from(Error::from(FeedError::Invalid {
        line: 1,
        reason: "x".into(),
    }));
    assert_eq!(serde_json::to_value(&api).unwrap()["code"], "feed_invalid");
}

/// Found by the `ics_feed` fuzz target: a BYDAY ending in bytes that are not UTF-8 (read as
/// U+FFFD, three bytes) made `rrule` slice inside a character and panic; the same in a
/// VTIMEZONE's rule made the zone reading do so.
#[test]
fn a_rule_that_is_not_ascii_is_a_warning_not_a_panic() {
    let mut bytes = b"BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Odd\r\nBEGIN:DAYLIGHT\r\nDTSTART:19810329T020000\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1S".to_vec();
    bytes.extend_from_slice(&[0xfe]);
    bytes.extend_from_slice(b"\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nDTSTART:19961027T030000\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:odd\r\nDTSTART;TZID=Odd:20261009T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=FR");
    bytes.extend_from_slice(&[0xfe, 0xfe]);
    bytes.extend_from_slice(b";COUNT=5\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
    let feed = october(&bytes, chrono_tz::UTC);
    // The zone's daylight rule cannot be read: its standard offset (+01:00); the event's
    // rule cannot be used: its first occurrence only.
    assert_eq!(starts(&feed, "odd"), ["2026-10-09T09:00Z"]);
    assert!(
        feed.warnings
            .iter()
            .any(|w| w.message.contains("not ASCII")),
        "{:?}",
        feed.warnings
    );
}

#[test]
fn binary_junk_inside_a_calendar_is_skipped_or_refused_never_a_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..200 {
        let mut bytes =
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261009T100000Z\r\n".to_vec();
        for _ in 0..(round * 7 % 500) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push((seed >> 24) as u8);
        }
        bytes.extend_from_slice(b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        // Either outcome is fine; a panic or a hang is not.
        let _ = ics::parse(
            &bytes,
            CALENDAR,
            window(OCTOBER.0, OCTOBER.1),
            chrono_tz::UTC,
        );
    }
    // A line of junk between good lines is dropped with a warning.
    let bytes = calendar(&event(
        "UID:x\n\u{1}\u{2}junk without a colon\nDTSTART:20261009T100000Z\n",
    ));
    let feed = october(&bytes, chrono_tz::UTC);
    assert_eq!(starts(&feed, "x"), ["2026-10-09T10:00Z"]);
    assert!(
        feed.warnings[0].message.contains("line 6"),
        "{:?}",
        feed.warnings
    );
}
