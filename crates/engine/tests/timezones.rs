//! Every Windows time zone in CLDR's windowsZones table (kept in `data/`, from Unicode
//! CLDR) maps to a valid IANA zone with the same offsets as CLDR's own choice.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use chrono::{Offset, TimeZone, Utc};
use presently_engine::graph::timezone::resolve;

fn cldr_table() -> Vec<(String, String)> {
    let xml = include_str!("../data/windowsZones.xml");
    xml.lines()
        .filter(|l| l.contains("<mapZone") && l.contains("territory=\"001\""))
        .map(|l| {
            let attr = |name: &str| {
                let start = l.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
                let end = start + l[start..].find('"').expect("closing quote");
                l[start..end].to_owned()
            };
            (attr("other"), attr("type"))
        })
        .collect()
}

#[test]
fn every_windows_zone_maps_to_an_iana_zone_with_cldrs_offsets() {
    let table = cldr_table();
    assert!(
        table.len() > 130,
        "the CLDR table has {} zones",
        table.len()
    );
    let instants = [
        Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 7, 15, 12, 0, 0).unwrap(),
    ];
    let mut problems = Vec::new();
    for (windows, iana) in &table {
        let Some(ours) = resolve(windows) else {
            problems.push(format!("{windows}: not mapped"));
            continue;
        };
        let Ok(cldr): Result<chrono_tz::Tz, _> = iana.parse() else {
            continue; // a zone chrono-tz has since renamed; ours was checked to exist above
        };
        for at in instants {
            let a = ours.offset_from_utc_datetime(&at.naive_utc()).fix();
            let b = cldr.offset_from_utc_datetime(&at.naive_utc()).fix();
            if a != b {
                problems.push(format!(
                    "{windows}: {ours} is {a} but CLDR's {iana} is {b} at {at}"
                ));
            }
        }
    }
    // Governments change zones; a zone or two may differ from a 2022 CLDR. More is a bug.
    assert!(problems.len() <= 4, "{problems:#?}");
}
