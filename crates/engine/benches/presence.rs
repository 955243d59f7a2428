//! Presence planning benchmark: a 30-day window over 10,000 appointments.
//!
//! `cargo bench -p presently-engine --bench presence` prints the median of 21 runs
//! (target ≤ 10 ms).

use chrono::{DateTime, Duration, Utc};
use presently_engine::model::*;
use presently_engine::presence::profile::Capabilities;
use presently_engine::presence::{plan, Policy, UserState};
use std::time::{Duration as StdDuration, Instant};

const APPOINTMENTS: usize = 10_000;

fn appointment(n: usize, start: DateTime<Utc>) -> Appointment {
    // ~333 a day over 30 days, 15 to 90 minutes, overlapping and adjacent ones, some oof.
    let begin = start + Duration::minutes(((n * 37) % (30 * 24 * 60)) as i64 / 15 * 15);
    let end = begin + Duration::minutes(15 * (1 + (n % 6) as i64));
    Appointment {
        subject: format!("Meeting {n}"),
        show_as: match n % 10 {
            0 => ShowAs::Oof,
            1 => ShowAs::Tentative,
            _ => ShowAs::Busy,
        },
        sensitivity: if n.is_multiple_of(7) {
            Sensitivity::Private
        } else {
            Sensitivity::Normal
        },
        cancelled: n.is_multiple_of(50),
        ..Appointment::new(
            format!("appointment-{n}"),
            "primary",
            When::Timed { start: begin, end },
        )
    }
}

fn main() {
    let from: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().expect("instant");
    let to = from + Duration::days(30);
    let appointments: Vec<Appointment> = (0..APPOINTMENTS).map(|n| appointment(n, from)).collect();
    let policy = Policy::defaults(Capabilities {
        automatic_replies: true,
        forwarding_provider: true,
    });
    let tz = chrono_tz::Europe::Berlin;
    let mut times: Vec<StdDuration> = Vec::new();
    let mut transitions = 0;
    for _ in 0..21 {
        let started = Instant::now();
        let planned = plan(&appointments, &policy, tz, &UserState::default(), from, to);
        times.push(started.elapsed());
        transitions = planned.len();
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "| presence plan, 30 days, {APPOINTMENTS} appointments | {transitions} transitions | median {:.2} ms | target ≤ 10 ms |",
        median.as_secs_f64() * 1000.0
    );
}
