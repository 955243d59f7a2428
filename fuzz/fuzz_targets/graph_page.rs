//! A page of `calendarView` / `calendarView/delta` as a hostile or broken Graph endpoint
//! could send it: parsing and mapping each event never panics, and every join link kept is
//! one Presently may open. Read again against the versions the first read found (as a full
//! round reads against the store), only items with a stored version come back unread.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presently_engine::graph::event::KnownVersions;
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
    let known: KnownVersions = view
        .changes
        .iter()
        .filter_map(|c| match c {
            EventChange::Upsert(a) => Some((a.id.clone(), a.change_key.clone()?)),
            _ => None,
        })
        .collect();
    let again = CalendarView::parse_known("AAMkAGI2TGuLAAA=", data, Some(&known))
        .expect("a page read once reads again");
    for change in &again.changes {
        match change {
            EventChange::Unchanged { id } => assert!(known.contains_key(id), "unread {id}"),
            EventChange::Upsert(a) => assert!(
                view.changes.contains(change),
                "read differently the second time: {}",
                a.id
            ),
            EventChange::Removed { .. } => {}
        }
    }
});
