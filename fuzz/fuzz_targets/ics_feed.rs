//! A calendar feed (ICS, webcal) as a hostile or broken server could send it: reading and
//! expanding it over a fixed window never panics and never runs away, and what it gives
//! keeps the model's rules: unique ids, ends not before starts, at most the limits.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use presently_engine::ics::{self, Limits};
use presently_engine::model::When;
use presently_engine::sync::Window;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("a fixed date")
            .with_timezone(&Utc)
    };
    // The product's default window (30 days back, 180 ahead) around a fixed day.
    let window = Window {
        start: at("2026-10-01T00:00:00Z"),
        end: at("2027-04-30T00:00:00Z"),
    };
    let limits = Limits::default();
    let Ok(feed) = ics::parse(data, "fuzz", window, chrono_tz::Europe::Berlin) else {
        return;
    };
    assert!(feed.appointments.len() <= limits.max_appointments);
    assert!(feed.warnings.len() <= limits.max_warnings + 1);
    let mut ids = HashSet::new();
    for a in &feed.appointments {
        assert!(ids.insert(a.id.as_str()), "duplicate id {}", a.id);
        match a.when {
            When::Timed { start, end } => assert!(end >= start, "{}", a.id),
            When::AllDay { start, end } => assert!(end > start, "{}", a.id),
        }
    }
});
