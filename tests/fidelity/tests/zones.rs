//! The display zone: `presently agenda` (text and `--json`) and `presently presence plan`
//! show local times of the zone `TZ` names (an IANA name, with or without a leading `:`,
//! or a path under a zoneinfo directory; a POSIX rule string is accepted or ignored with a
//! warning, never a crash or a silent UTC), across a daylight-saving change; all-day
//! appointments stay on their date; `agenda.timezone` in the config comes before `TZ`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use presently_fidelity::fixtures::{self, PRIMARY_CALENDAR_ID};
use presently_fidelity::{Mailbox, Outcome, Scenario};

/// The first date after `from` (within 170 days) whose offset differs from the day before.
fn next_transition(tz: Tz, from: NaiveDate) -> Option<NaiveDate> {
    let offset = |d: NaiveDate| {
        tz.offset_from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .fix()
            .local_minus_utc()
    };
    (1..170)
        .map(|n| from + Duration::days(n))
        .find(|d| offset(*d) != offset(*d - Duration::days(1)))
}

struct Timed {
    id: &'static str,
    subject: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn at(d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    d.and_hms_opt(h, m, 0).unwrap().and_utc()
}

/// What one zone should show, checked against one `agenda --json` answer.
fn check_agenda_json(
    zone: &str,
    tz: Tz,
    items: &[serde_json::Value],
    timed: &[&Timed],
    problems: &mut Vec<String>,
) {
    for t in timed {
        let Some(item) = items.iter().find(|i| i["id"] == t.id) else {
            problems.push(format!(
                "TZ={zone}: {:?} missing from agenda --json",
                t.subject
            ));
            continue;
        };
        for (field, instant) in [("start", t.start), ("end", t.end)] {
            let text = item[field].as_str().unwrap_or_default();
            let expected = instant.with_timezone(&tz).fixed_offset();
            match DateTime::parse_from_rfc3339(text) {
                Ok(shown) if shown == expected && shown.offset() == expected.offset() => {}
                _ => problems.push(format!(
                    "TZ={zone}: {:?} {field} is {text:?}, expected {}",
                    t.subject,
                    expected.to_rfc3339()
                )),
            }
        }
    }
}

/// The day headings of the text agenda and the lines under each.
fn days_of(table: &str) -> Vec<(String, Vec<String>)> {
    let mut days: Vec<(String, Vec<String>)> = Vec::new();
    for line in table.lines() {
        if line.starts_with(' ') {
            if let Some(day) = days.last_mut() {
                day.1.push(line.to_owned());
            }
        } else if !line.trim().is_empty() {
            days.push((line.to_owned(), Vec::new()));
        }
    }
    days
}

fn check_agenda_text(
    zone: &str,
    tz: Tz,
    table: &str,
    timed: &[&Timed],
    problems: &mut Vec<String>,
) {
    let days = days_of(table);
    for t in timed {
        let local = t.start.with_timezone(&tz);
        let heading = local.format("%A %Y-%m-%d").to_string();
        let hhmm = local.format("%H:%M").to_string();
        let lines = days.iter().find(|(h, _)| *h == heading).map(|(_, l)| l);
        if !lines.is_some_and(|l| {
            l.iter()
                .any(|l| l.contains(&t.subject) && l.contains(&hhmm))
        }) {
            let shown: Vec<&String> = days
                .iter()
                .flat_map(|(h, l)| l.iter().filter(|l| l.contains(&t.subject)).map(move |_| h))
                .collect();
            problems.push(format!(
                "TZ={zone}: the text agenda does not show {:?} at {hhmm} under {heading:?} (it shows it under {shown:?})",
                t.subject
            ));
        }
    }
}

fn check_plan(zone: &str, tz: Tz, out: &Outcome, problems: &mut Vec<String>) {
    if !out.success() {
        problems.push(format!("TZ={zone}: presence plan failed:\n{}", out.text()));
        return;
    }
    let plan = out.json();
    let steps = plan.as_array().cloned().unwrap_or_default();
    if steps.len() < 4 {
        problems.push(format!(
            "TZ={zone}: presence plan has {} steps, expected the two busy appointments applied and restored:\n{}",
            steps.len(),
            out.stdout
        ));
    }
    for step in steps {
        let at = step["at"]
            .as_str()
            .and_then(|a| DateTime::parse_from_rfc3339(a).ok());
        let local = step["local"]
            .as_str()
            .and_then(|l| DateTime::parse_from_rfc3339(l).ok());
        match (at, local) {
            (Some(at), Some(local)) => {
                let expected = at.with_timezone(&tz).fixed_offset();
                if local != expected || local.offset() != expected.offset() {
                    problems.push(format!(
                        "TZ={zone}: presence plan shows {local} for {at}, expected {expected}"
                    ));
                }
            }
            _ => problems.push(format!("TZ={zone}: unreadable plan step {step}")),
        }
    }
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn agenda_and_plan_show_the_zone_tz_names() {
    let today = Utc::now().date_naive();
    let (d1, d2, d3) = (
        today + Duration::days(1),
        today + Duration::days(2),
        today + Duration::days(3),
    );
    let night = Timed {
        id: "AAMkAGZ-night-call",
        subject: "Night call with Sydney".into(),
        start: at(d1, 23, 30),
        end: at(d2, 0, 30),
    };
    let morning = Timed {
        id: "AAMkAGZ-morning-sync",
        subject: "Morning sync".into(),
        start: at(d2, 8, 0),
        end: at(d2, 9, 0),
    };
    // Around the next daylight-saving change of Berlin and of Los Angeles.
    let mut dst: Vec<(NaiveDate, Timed, Timed)> = Vec::new();
    for (name, tz) in [
        ("berlin", chrono_tz::Europe::Berlin),
        ("la", chrono_tz::America::Los_Angeles),
    ] {
        let change = next_transition(tz, d3).expect("a DST change within 170 days");
        dst.push((
            change,
            Timed {
                id: if name == "berlin" {
                    "AAMkAGZ-dst-berlin-before"
                } else {
                    "AAMkAGZ-dst-la-before"
                },
                subject: format!("Before the clocks change ({name})"),
                start: at(change - Duration::days(2), 9, 0),
                end: at(change - Duration::days(2), 10, 0),
            },
            Timed {
                id: if name == "berlin" {
                    "AAMkAGZ-dst-berlin-after"
                } else {
                    "AAMkAGZ-dst-la-after"
                },
                subject: format!("After the clocks change ({name})"),
                start: at(change + Duration::days(2), 9, 0),
                end: at(change + Duration::days(2), 10, 0),
            },
        ));
    }

    let mut mailbox = Mailbox::with_primary_marked();
    for t in [&night, &morning]
        .into_iter()
        .chain(dst.iter().flat_map(|(_, a, b)| [a, b]))
    {
        mailbox.put_event(
            PRIMARY_CALENDAR_ID,
            fixtures::event(t.id, &t.subject, t.start, t.end),
        );
    }
    mailbox.put_event(
        PRIMARY_CALENDAR_ID,
        fixtures::all_day_event("AAMkAGZ-holiday", "Company holiday", d3),
    );
    let s = Scenario::new(mailbox, "");
    s.sync();

    let mut zones: Vec<(String, Tz)> = vec![
        (
            "America/Los_Angeles".into(),
            chrono_tz::America::Los_Angeles,
        ),
        ("Europe/Berlin".into(), chrono_tz::Europe::Berlin),
        ("Asia/Tokyo".into(), chrono_tz::Asia::Tokyo),
        (":Europe/Berlin".into(), chrono_tz::Europe::Berlin),
    ];
    for dir in ["/usr/share/zoneinfo", "/usr/lib/zoneinfo"] {
        let path = format!("{dir}/Asia/Tokyo");
        if std::path::Path::new(&path).exists() {
            zones.push((path, chrono_tz::Asia::Tokyo));
            break;
        }
    }

    let mut problems = Vec::new();
    let plan_args = [
        "presence".to_owned(),
        "plan".into(),
        "--json".into(),
        "--from".into(),
        at(d1, 0, 0).to_rfc3339(),
        "--to".into(),
        at(d3, 0, 0).to_rfc3339(),
    ];
    let plan_args: Vec<&str> = plan_args.iter().map(String::as_str).collect();
    for (zone, tz) in &zones {
        let items = s.agenda_json(zone, today, 5);
        check_agenda_json(zone, *tz, &items, &[&night, &morning], &mut problems);
        match items.iter().find(|i| i["id"] == "AAMkAGZ-holiday") {
            Some(h) if h["all_day"] == true && h["start"] == d3.to_string() && h["end"] == (d3 + Duration::days(1)).to_string() => {}
            other => problems.push(format!(
                "TZ={zone}: the all-day holiday should stay on {d3} (start {d3}, end {}), got {other:?}",
                d3 + Duration::days(1)
            )),
        }
        let out = s.home.run_in(
            zone,
            &["agenda", "--from", &today.to_string(), "--days", "5"],
        );
        if out.success() {
            check_agenda_text(zone, *tz, &out.stdout, &[&night, &morning], &mut problems);
            let days = days_of(&out.stdout);
            let holiday_days: Vec<&String> = days
                .iter()
                .filter(|(_, lines)| lines.iter().any(|l| l.contains("Company holiday")))
                .map(|(h, _)| h)
                .collect();
            let expected = d3.format("%A %Y-%m-%d").to_string();
            if holiday_days != [&expected] {
                problems.push(format!(
                    "TZ={zone}: the holiday shows under {holiday_days:?}, expected only {expected:?}"
                ));
            }
        } else {
            problems.push(format!(
                "TZ={zone}: presently agenda failed:\n{}",
                out.text()
            ));
        }
        check_plan(zone, *tz, &s.home.run_in(zone, &plan_args), &mut problems);
        // Across the daylight-saving changes.
        for (change, before, after) in &dst {
            let items = s.agenda_json(zone, *change - Duration::days(3), 6);
            check_agenda_json(zone, *tz, &items, &[before, after], &mut problems);
        }
    }

    // A POSIX rule string: accepted (Berlin's offsets) or ignored with a warning naming
    // TZ; never a crash, never a silent fall back.
    let posix = "CET-1CEST,M3.5.0,M10.5.0/3";
    let out = s.home.run_in(
        posix,
        &[
            "agenda",
            "--json",
            "--from",
            &today.to_string(),
            "--days",
            "5",
        ],
    );
    if !out.success() || out.stderr.contains("panicked") {
        problems.push(format!(
            "TZ={posix}: presently agenda failed:\n{}",
            out.text()
        ));
    } else {
        let items = out.json().as_array().cloned().unwrap_or_default();
        let mut accepted = Vec::new();
        check_agenda_json(
            posix,
            chrono_tz::Europe::Berlin,
            &items,
            &[&night, &morning],
            &mut accepted,
        );
        if !accepted.is_empty() && !out.stderr.contains("TZ") {
            problems.push(format!(
                "TZ={posix}: neither shown in CET/CEST nor warned about (stderr does not mention TZ):\n{}\n{}",
                accepted.join("\n"),
                out.text()
            ));
        }
    }

    // agenda.timezone in the config comes before TZ.
    let config = std::fs::read_to_string(s.home.config_path()).unwrap();
    let other = s.home.path().join("tokyo.toml");
    std::fs::write(
        &other,
        format!("{config}\n[agenda]\ntimezone = \"Asia/Tokyo\"\n"),
    )
    .unwrap();
    let mut command = s.home.command(
        "America/Los_Angeles",
        &[
            "--config",
            other.to_str().unwrap(),
            "agenda",
            "--json",
            "--from",
            &today.to_string(),
            "--days",
            "5",
        ],
    );
    command.env_remove("PRESENTLY_CONFIG");
    let out = s.home.run_command(command);
    if out.success() {
        let items = out.json().as_array().cloned().unwrap_or_default();
        check_agenda_json(
            "America/Los_Angeles with agenda.timezone = Asia/Tokyo",
            chrono_tz::Asia::Tokyo,
            &items,
            &[&night],
            &mut problems,
        );
    } else {
        problems.push(format!(
            "agenda with agenda.timezone failed:\n{}",
            out.text()
        ));
    }

    assert!(
        problems.is_empty(),
        "{} problem(s) with the display zone:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
