//! Calendar feed benchmark (issue 23): read and expand a generated feed of 5,000 events, 200
//! of them recurring series, over the product's default sync window (30 days back, 180
//! ahead).
//!
//! `cargo bench -p presently-engine --bench ics` prints the median of 21 runs, wall and CPU
//! time (target under 100 ms).

use chrono::{Days, NaiveDate};
use presently_engine::ics;
use presently_engine::sync::Window;
use std::fmt::Write;
use std::time::{Duration, Instant};

const EVENTS: usize = 5_000;
const SERIES: usize = 200;

/// A feed shaped like the fixtures' producers: CRLF, a VTIMEZONE, zoned and UTC times,
/// descriptions, series with EXDATEs and overrides.
fn feed(today: NaiveDate) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Benchmark\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
    );
    let day = |offset: i64| {
        if offset >= 0 {
            today + Days::new(offset as u64)
        } else {
            today - Days::new(offset.unsigned_abs())
        }
    };
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "W. Europe Standard Time",
    ];
    let rules = [
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "FREQ=DAILY;INTERVAL=1",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "FREQ=MONTHLY;BYDAY=1TH",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20270101T000000Z",
    ];
    let mut overrides = 0;
    for n in 0..SERIES {
        // Series started up to a year before the window.
        let start = day(-30 - (n as i64 * 37) % 365);
        let zone = zones[n % zones.len()];
        let hour = 8 + n % 9;
        let exdate = day(5 + (n as i64 % 20));
        let _ = write!(
            out,
            "BEGIN:VEVENT\r\nUID:series-{n}@bench.example\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;TZID={zone}:{}T{hour:02}0000\r\nDTEND;TZID={zone}:{}T{hour:02}3000\r\nRRULE:{}\r\nEXDATE;TZID={zone}:{}T{hour:02}0000\r\nSUMMARY:Series {n}\r\nDESCRIPTION:A recurring meeting\\, number {n}.\\nJoin: https://meet.google.com/abc-defg-hij\r\nLOCATION:Room {n}\r\nTRANSP:OPAQUE\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
            start.format("%Y%m%d"),
            start.format("%Y%m%d"),
            rules[n % rules.len()],
            exdate.format("%Y%m%d"),
        );
        // Every fourth series has an occurrence moved by an hour.
        if n % 4 == 0 {
            let moved = day(10 + (n as i64 % 30));
            let _ = write!(
                out,
                "BEGIN:VEVENT\r\nUID:series-{n}@bench.example\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID;TZID={zone}:{}T{hour:02}0000\r\nDTSTART;TZID={zone}:{}T{:02}0000\r\nDTEND;TZID={zone}:{}T{:02}3000\r\nSUMMARY:Series {n} (moved)\r\nSEQUENCE:1\r\nEND:VEVENT\r\n",
                moved.format("%Y%m%d"),
                moved.format("%Y%m%d"),
                hour + 1,
                moved.format("%Y%m%d"),
                hour + 1,
            );
            overrides += 1;
        }
    }
    for n in 0..EVENTS - SERIES - overrides {
        // Single events spread over the window, a tenth of them all-day.
        let date = day(-30 + (n as i64 % 211));
        if n % 10 == 0 {
            let _ = write!(
                out,
                "BEGIN:VEVENT\r\nUID:single-{n}@bench.example\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:All day {n}\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",
                date.format("%Y%m%d"),
                (date + Days::new(1)).format("%Y%m%d"),
            );
        } else {
            let hour = 7 + n % 11;
            let _ = write!(
                out,
                "BEGIN:VEVENT\r\nUID:single-{n}@bench.example\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{date}T{hour:02}1500Z\r\nDTEND:{date}T{hour:02}4500Z\r\nSUMMARY:Meeting {n}\r\nDESCRIPTION:Agenda for meeting {n}: items one\\, two and three.\r\nLOCATION:Room 4.12\r\nORGANIZER;CN=Ann Example:mailto:ann@example.com\r\nATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\nSTATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\n",
                date = date.format("%Y%m%d"),
            );
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// The CPU time this thread has had (Linux: `/proc/thread-self/schedstat`, nanoseconds):
/// on a machine shared with other work, wall time also counts the waits for a core.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let window = Window::around(today, 30, 180);
    let text = feed(today);
    let bytes = text.as_bytes();
    let events = text.matches("BEGIN:VEVENT").count();
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut result = None;
    for _ in 0..21 {
        let cpu_before = thread_cpu();
        let started = Instant::now();
        let feed = ics::parse(bytes, "bench", window, chrono_tz::Europe::Berlin).expect("feed");
        times.push(started.elapsed());
        if let (Some(before), Some(after)) = (cpu_before, thread_cpu()) {
            cpu.push(after.saturating_sub(before));
        }
        result = Some(feed);
    }
    times.sort();
    cpu.sort();
    let feed = result.expect("ran");
    println!(
        "| feed | events | series | appointments in the window | warnings | median wall | min wall | max wall | median CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {:.2} MiB | {events} | {SERIES} | {} | {} | **{}** | {} | {} | {} |",
        bytes.len() as f64 / (1024.0 * 1024.0),
        feed.appointments.len(),
        feed.warnings.len(),
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        cpu.get(cpu.len() / 2).map_or("–".to_owned(), |d| ms(*d)),
    );
}
