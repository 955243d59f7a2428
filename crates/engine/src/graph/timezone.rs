//! Time zone names as Graph spells them: IANA ids, "UTC", or Windows names
//! ("W. Europe Standard Time"), mapped with CLDR's windowsZones table
//! (the `windows-timezones` crate is generated from it).

use chrono_tz::Tz;
use std::str::FromStr;

/// Resolves a Graph time zone name to an IANA zone, or `None` when nobody knows it.
pub fn resolve(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("tzone://Microsoft/Utc") {
        return Some(Tz::UTC);
    }
    if let Ok(tz) = Tz::from_str(name) {
        return Some(tz);
    }
    windows_timezones::WindowsTimezone::from_str(name)
        .ok()
        .map(Tz::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_windows_iana_and_utc_names() {
        assert_eq!(
            resolve("W. Europe Standard Time"),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            resolve("Pacific Standard Time"),
            Some(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(resolve("Europe/Berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(resolve("UTC"), Some(Tz::UTC));
        assert_eq!(resolve("Not A Zone"), None);
    }
}
