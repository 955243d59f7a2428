//! A page of `calendarView` / `calendarView/delta` as a hostile or broken Graph endpoint
//! could send it: parsing and mapping each event never panics, and every join link kept is
//! one Presently may open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presently_engine::graph::{CalendarView, EventChange};
use presently_engine::links;

fuzz_target!(|data: &[u8]| {
    let Ok(view) = CalendarView::parse("AAMkAGI2TGuLAAA=", data) else {
        return;
    };
    for change in &view.changes {
        if let EventChange::Upsert(appointment) = change {
            if let Some(url) = links::join_url(appointment) {
                assert!(links::is_allowed(&url, &[]), "join link not allowed: {url}");
            }
            let _ = links::outlook_url(appointment, "outlook.office.com");
        }
    }
});
