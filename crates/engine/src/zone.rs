//! The display zone: the zone every time Presently shows is in, and the zone that decides
//! "today", all-day days and DST. In order: `agenda.timezone` from the configuration, else
//! the `TZ` environment variable, else the system's setting (`/etc/localtime`), else UTC.
//!
//! [`resolve`] is the whole decision as a pure function of the configured value, the
//! environment (`TZ`, `TZDIR`) and what the [`Host`] answers; [`display_zone`] is what the
//! engine asks on every query: the configured value at once (so a settings change applies
//! immediately), else the environment's answer, worked out once per process.
//!
//! `TZ` may be an IANA name (`Europe/Berlin`, also `:Europe/Berlin`), a path to a zone file
//! under a zoneinfo directory (`/usr/share/zoneinfo/Europe/Berlin`, `$TZDIR/...`, or a link
//! to one), or a POSIX rule (`CET-1CEST,M3.5.0,M10.5.0/3`). A POSIX rule, or a zone file
//! outside every zoneinfo directory, is shown in the IANA zone whose offsets and
//! abbreviations match it over the three years around now. An empty `TZ` means UTC, as
//! POSIX and the C library say. A value none of these fit is ignored with a warning that
//! names it and the zone used instead.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetName, Tz};
use std::sync::OnceLock;

/// Where the display zone came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `agenda.timezone` in the configuration.
    Config,
    /// The `TZ` environment variable.
    Tz,
    /// The system's setting (`/etc/localtime` and the like).
    System,
    /// Nothing said anything usable: UTC.
    Default,
}

/// The display zone and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub zone: Tz,
    pub source: Source,
    /// Something was set but could not be used (each names the value and the zone used instead).
    pub warnings: Vec<String>,
    /// How an unusual but usable value was read (a POSIX rule mapped to an IANA zone, an empty `TZ`).
    pub notes: Vec<String>,
}

/// The environment variables that decide the zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Environment<'a> {
    /// `TZ`: `None` when unset (an empty value is set).
    pub tz: Option<&'a str>,
    /// `TZDIR`: where the C library looks for zone files instead of `/usr/share/zoneinfo`.
    pub tzdir: Option<&'a str>,
}

/// What the machine answers, asked only when a value needs it.
pub trait Host {
    /// The system's zone name, as `/etc/localtime` (or `/etc/timezone`, or the OS) names it.
    fn system_zone(&self) -> Option<String>;
    /// `path` with its symbolic links resolved.
    fn canonical_path(&self, path: &str) -> Option<String>;
    /// The contents of a zone file (TZif), when it can be read.
    fn read_zone_file(&self, path: &str) -> Option<Vec<u8>>;
}

/// The real machine.
pub struct OsHost;

impl Host for OsHost {
    fn system_zone(&self) -> Option<String> {
        iana_time_zone::get_timezone().ok()
    }

    fn canonical_path(&self, path: &str) -> Option<String> {
        std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.into_os_string().into_string().ok())
    }

    fn read_zone_file(&self, path: &str) -> Option<Vec<u8>> {
        use std::io::Read;
        // Zone files are a few kB; a bound keeps a TZ naming something else (a device, a
        // huge file) from costing anything.
        let mut data = Vec::new();
        std::fs::File::open(path)
            .ok()?
            .take(1 << 20)
            .read_to_end(&mut data)
            .ok()?;
        Some(data)
    }
}

/// Where zone files live, besides `$TZDIR`: Debian, Fedora and most others; older and
/// BSD-style systems; NixOS.
const ZONEINFO_ROOTS: &[&str] = &[
    "/usr/share/zoneinfo",
    "/usr/lib/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/etc/zoneinfo",
];

/// The system's zone file, read when the system names no zone (a copy rather than a link).
const LOCALTIME: &str = "/etc/localtime";

/// The display zone: `configured` (`agenda.timezone`) when it names a zone, else what `TZ`
/// and the system say ([`resolve_environment`]).
pub fn resolve(
    configured: Option<&str>,
    env: Environment<'_>,
    host: &dyn Host,
    now: DateTime<Utc>,
) -> Resolution {
    if let Some(zone) = configured_zone(configured) {
        return Resolution {
            zone,
            source: Source::Config,
            warnings: Vec::new(),
            notes: Vec::new(),
        };
    }
    let mut found = resolve_environment(env, host, now);
    if let Some(value) = configured {
        found.warnings.insert(
            0,
            format!(
                "agenda.timezone = {value:?} is not an IANA time zone; using {} instead",
                found.zone.name()
            ),
        );
    }
    found
}

/// The zone `agenda.timezone` names, if it names one.
pub fn configured_zone(configured: Option<&str>) -> Option<Tz> {
    configured.and_then(|name| name.parse().ok())
}

/// `TZ`, else the system's setting, else UTC.
pub fn resolve_environment(
    env: Environment<'_>,
    host: &dyn Host,
    now: DateTime<Utc>,
) -> Resolution {
    let mut notes = Vec::new();
    let tz_problem = match env.tz {
        None => None,
        Some(value) => match zone_from_tz(value, env.tzdir, host, now) {
            Ok((zone, note)) => {
                notes.extend(note);
                return Resolution {
                    zone,
                    source: Source::Tz,
                    warnings: Vec::new(),
                    notes,
                };
            }
            Err(why) => Some((value, why)),
        },
    };
    let (zone, source) = match system_zone(host, now) {
        Some((zone, note)) => {
            notes.extend(note);
            (zone, Source::System)
        }
        None => {
            notes.push("the system names no time zone: UTC".to_owned());
            (Tz::UTC, Source::Default)
        }
    };
    let warnings = tz_problem
        .map(|(value, why)| {
            format!(
                "TZ={value:?} {why}; ignored, times are shown in {} ({})",
                zone.name(),
                match source {
                    Source::System => "the system's zone",
                    _ => "the default",
                }
            )
        })
        .into_iter()
        .collect();
    Resolution {
        zone,
        source,
        warnings,
        notes,
    }
}

/// The display zone for a configuration whose `agenda.timezone` is `configured`: that zone
/// if it names one (read on every call, so a changed setting applies at once), else the
/// environment's, worked out on the first call and kept for the life of the process (the
/// engine asks on every agenda query and presence step).
pub fn display_zone(configured: Option<&str>) -> Tz {
    configured_zone(configured).unwrap_or_else(environment_zone)
}

/// `TZ`, else the system's zone, else UTC: resolved once per process, its warnings logged then.
pub fn environment_zone() -> Tz {
    static ENVIRONMENT: OnceLock<Tz> = OnceLock::new();
    *ENVIRONMENT.get_or_init(|| {
        let tz = std::env::var_os("TZ").map(|v| v.to_string_lossy().into_owned());
        let tzdir = std::env::var_os("TZDIR").map(|v| v.to_string_lossy().into_owned());
        let env = Environment {
            tz: tz.as_deref(),
            tzdir: tzdir.as_deref(),
        };
        // The edge that reads the environment: the real time only picks which years a POSIX
        // rule is compared over.
        let found = resolve_environment(
            env,
            &OsHost,
            crate::clock::Clock::now(&crate::clock::SystemClock),
        );
        for warning in &found.warnings {
            tracing::warn!(zone = found.zone.name(), "{warning}");
        }
        for note in &found.notes {
            tracing::info!(zone = found.zone.name(), "{note}");
        }
        tracing::debug!(zone = found.zone.name(), source = ?found.source, "display zone");
        found.zone
    })
}

/// The zone a `TZ` value names, with a note when it was read in an unusual way; else why not.
fn zone_from_tz(
    value: &str,
    tzdir: Option<&str>,
    host: &dyn Host,
    now: DateTime<Utc>,
) -> Result<(Tz, Option<String>), String> {
    // A leading ':' says "implementation-defined": for the C library, a file name.
    let name = value.strip_prefix(':').unwrap_or(value).trim();
    if name.is_empty() {
        return Ok((
            Tz::UTC,
            Some(format!("TZ={value:?} is empty: UTC, as POSIX specifies")),
        ));
    }
    if let Some(zone) = known_name(name) {
        return Ok((zone, None));
    }
    // A POSIX rule may hold '/' too (M10.5.0/3), so it is tried before a relative path.
    let posix = if name.starts_with('/') {
        None
    } else {
        jiff::tz::TimeZone::posix(name).ok()
    };
    if let Some(rules) = posix {
        return match matching_zone(&rules, now) {
            Some(zone) => Ok((
                zone,
                Some(format!(
                    "TZ={value:?} is a POSIX rule: shown in {}, the IANA zone whose rules match",
                    zone.name()
                )),
            )),
            None => Err("is a POSIX rule that matches no IANA time zone".to_owned()),
        };
    }
    if !name.contains('/') {
        return Err("is neither an IANA time zone name, a zone file nor a POSIX rule".to_owned());
    }
    if let Some(zone) = zone_from_path(name, tzdir) {
        return Ok((zone, None));
    }
    let absolute = if name.starts_with('/') {
        name.to_owned()
    } else {
        format!(
            "{}/{name}",
            tzdir.unwrap_or(ZONEINFO_ROOTS[0]).trim_end_matches('/')
        )
    };
    // A link to a zone file (such as /etc/localtime): the name is in its target.
    if let Some(target) = host.canonical_path(&absolute) {
        if let Some(zone) = zone_from_path(&target, tzdir) {
            return Ok((zone, None));
        }
    }
    // A zone file of its own (a copy): the IANA zone with the same rules.
    let Some(data) = host.read_zone_file(&absolute) else {
        return Err("names no zone file that can be read".to_owned());
    };
    let Ok(rules) = jiff::tz::TimeZone::tzif(name, &data) else {
        return Err("is not a zone file".to_owned());
    };
    match matching_zone(&rules, now) {
        Some(zone) => Ok((
            zone,
            Some(format!(
                "TZ={value:?} is a zone file outside the zoneinfo directories: shown in {}, whose rules are the same",
                zone.name()
            )),
        )),
        None => Err("is a zone file whose rules match no IANA time zone".to_owned()),
    }
}

/// An IANA name, also as the `posix/` and `right/` copies of the zoneinfo tree name it.
fn known_name(name: &str) -> Option<Tz> {
    let bare = name
        .strip_prefix("posix/")
        .or_else(|| name.strip_prefix("right/"))
        .unwrap_or(name);
    bare.parse().ok()
}

/// The zone a path under a zoneinfo directory names: `$TZDIR` and the usual roots first,
/// then whatever follows a `zoneinfo` directory anywhere (a Nix store, a private copy).
fn zone_from_path(path: &str, tzdir: Option<&str>) -> Option<Tz> {
    let roots = tzdir.into_iter().chain(ZONEINFO_ROOTS.iter().copied());
    for root in roots {
        let root = root.trim_end_matches('/');
        if root.is_empty() {
            continue;
        }
        if let Some(rest) = path.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
            if let Some(zone) = known_name(rest) {
                return Some(zone);
            }
        }
    }
    path.rfind("/zoneinfo/")
        .and_then(|at| known_name(&path[at + "/zoneinfo/".len()..]))
}

/// The system's zone: the name it gives, else the IANA zone matching its zone file.
fn system_zone(host: &dyn Host, now: DateTime<Utc>) -> Option<(Tz, Option<String>)> {
    if let Some(name) = host.system_zone() {
        let name = name.trim();
        if let Some(zone) = known_name(name).or_else(|| zone_from_path(name, None)) {
            return Some((zone, None));
        }
    }
    let data = host.read_zone_file(LOCALTIME)?;
    let rules = jiff::tz::TimeZone::tzif("localtime", &data).ok()?;
    let zone = matching_zone(&rules, now)?;
    Some((
        zone,
        Some(format!(
            "{LOCALTIME} names no zone: shown in {}, whose rules are the same",
            zone.name()
        )),
    ))
}

/// Zones tried first when mapping rules to a name, so a rule shared by many zones gets the
/// name most people know it by (CET-1CEST → Europe/Berlin, not Africa/Ceuta).
const PREFERRED: &[Tz] = {
    use chrono_tz::*;
    &[
        UTC,
        Europe::London,
        Europe::Dublin,
        Europe::Lisbon,
        Europe::Berlin,
        Europe::Paris,
        Europe::Helsinki,
        Europe::Athens,
        Europe::Istanbul,
        Europe::Moscow,
        America::New_York,
        America::Chicago,
        America::Denver,
        America::Phoenix,
        America::Los_Angeles,
        America::Anchorage,
        Pacific::Honolulu,
        America::Halifax,
        America::St_Johns,
        America::Mexico_City,
        America::Bogota,
        America::Sao_Paulo,
        America::Argentina::Buenos_Aires,
        America::Santiago,
        Africa::Johannesburg,
        Africa::Lagos,
        Africa::Cairo,
        Africa::Nairobi,
        Asia::Dubai,
        Asia::Karachi,
        Asia::Kolkata,
        Asia::Dhaka,
        Asia::Bangkok,
        Asia::Shanghai,
        Asia::Singapore,
        Asia::Tokyo,
        Asia::Seoul,
        Australia::Perth,
        Australia::Adelaide,
        Australia::Darwin,
        Australia::Brisbane,
        Australia::Sydney,
        Pacific::Auckland,
    ]
};

/// The IANA zone whose offsets match `rules` from a year before `now` to two years after
/// (at every transition of `rules` and every week in between): first one whose
/// abbreviations match too, else one whose offsets do. Measured in a debug build: 0.3 ms for a
/// common rule (the preferred zones come first), 1.2 ms for a rule no zone matches.
pub(crate) fn matching_zone(rules: &jiff::tz::TimeZone, now: DateTime<Utc>) -> Option<Tz> {
    const WEEK: i64 = 7 * 86_400;
    let start = now.timestamp() - 366 * 86_400;
    let end = now.timestamp() + 2 * 366 * 86_400;
    let mut probes: Vec<i64> = (0..)
        .map(|w| start + w * WEEK)
        .take_while(|t| *t <= end)
        .collect();
    let begin = jiff::Timestamp::from_second(start).ok()?;
    for transition in rules.following(begin) {
        let at = transition.timestamp().as_second();
        if at > end {
            break;
        }
        probes.extend([at - 1, at]);
    }
    let observed: Vec<(i64, i32, String)> = probes
        .into_iter()
        .filter_map(|t| {
            let info = rules.to_offset_info(jiff::Timestamp::from_second(t).ok()?);
            Some((t, info.offset().seconds(), info.abbreviation().to_owned()))
        })
        .collect();
    // A fixed offset of whole hours has a zone of its own (Etc/GMT-9 is UTC+9).
    let fixed = observed
        .first()
        .map(|(_, offset, _)| *offset)
        .filter(|offset| offset % 3600 == 0 && observed.iter().all(|(_, o, _)| o == offset))
        .and_then(|offset| {
            let hours = offset / 3600;
            let name = match hours {
                0 => "Etc/GMT".to_owned(),
                h if h > 0 => format!("Etc/GMT-{h}"),
                h => format!("Etc/GMT+{}", -h),
            };
            name.parse::<Tz>().ok()
        });
    let candidates = || {
        fixed
            .into_iter()
            .chain(PREFERRED.iter().copied())
            .chain(chrono_tz::TZ_VARIANTS.iter().copied())
    };
    let same = |zone: Tz, abbreviations: bool| {
        observed.iter().all(|(t, offset, abbreviation)| {
            let Some(utc) = DateTime::from_timestamp(*t, 0) else {
                return false;
            };
            let theirs = zone.offset_from_utc_datetime(&utc.naive_utc());
            theirs.fix().local_minus_utc() == *offset
                && (!abbreviations || theirs.abbreviation() == Some(abbreviation.as_str()))
        })
    };
    candidates()
        .find(|zone| same(*zone, true))
        .or_else(|| candidates().find(|zone| same(*zone, false)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A machine whose answers the test sets.
    #[derive(Default)]
    struct FakeHost {
        system: Option<String>,
        links: HashMap<String, String>,
        files: HashMap<String, Vec<u8>>,
    }

    impl Host for FakeHost {
        fn system_zone(&self) -> Option<String> {
            self.system.clone()
        }
        fn canonical_path(&self, path: &str) -> Option<String> {
            self.links.get(path).cloned()
        }
        fn read_zone_file(&self, path: &str) -> Option<Vec<u8>> {
            self.files.get(path).cloned()
        }
    }

    fn host(system: Option<&str>) -> FakeHost {
        FakeHost {
            system: system.map(str::to_owned),
            ..FakeHost::default()
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T08:00:00Z".parse().unwrap()
    }

    fn with_tz(tz: &str, host: &FakeHost) -> Resolution {
        resolve(
            None,
            Environment {
                tz: Some(tz),
                tzdir: None,
            },
            host,
            now(),
        )
    }

    #[test]
    fn the_configured_zone_comes_first_then_tz_then_the_system_then_utc() {
        let system = host(Some("America/New_York"));
        let env = Environment {
            tz: Some("Asia/Tokyo"),
            tzdir: None,
        };
        let configured = resolve(Some("Europe/Berlin"), env, &system, now());
        assert_eq!(
            (configured.zone, configured.source),
            (chrono_tz::Europe::Berlin, Source::Config)
        );
        let from_tz = resolve(None, env, &system, now());
        assert_eq!(
            (from_tz.zone, from_tz.source),
            (chrono_tz::Asia::Tokyo, Source::Tz)
        );
        let from_system = resolve(None, Environment::default(), &system, now());
        assert_eq!(
            (from_system.zone, from_system.source),
            (chrono_tz::America::New_York, Source::System)
        );
        let nothing = resolve(None, Environment::default(), &host(None), now());
        assert_eq!((nothing.zone, nothing.source), (Tz::UTC, Source::Default));
        for r in [configured, from_tz, from_system] {
            assert!(r.warnings.is_empty() && r.notes.is_empty(), "{r:?}");
        }
    }

    #[test]
    fn a_configured_name_that_is_no_zone_falls_through_with_a_warning() {
        let r = resolve(
            Some("Mars/Olympus"),
            Environment {
                tz: Some("Asia/Tokyo"),
                tzdir: None,
            },
            &host(None),
            now(),
        );
        assert_eq!((r.zone, r.source), (chrono_tz::Asia::Tokyo, Source::Tz));
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("Mars/Olympus"), "{r:?}");
        assert!(r.warnings[0].contains("Asia/Tokyo"), "{r:?}");
    }

    #[test]
    fn tz_as_a_name_with_or_without_a_colon() {
        let system = host(Some("UTC"));
        for value in [
            "Europe/Berlin",
            ":Europe/Berlin",
            "posix/Europe/Berlin",
            ":right/Europe/Berlin",
        ] {
            let r = with_tz(value, &system);
            assert_eq!(
                (r.zone, r.source),
                (chrono_tz::Europe::Berlin, Source::Tz),
                "{value}"
            );
            assert!(r.warnings.is_empty(), "{r:?}");
        }
    }

    #[test]
    fn tz_as_a_path_under_any_zoneinfo_root() {
        let system = host(Some("UTC"));
        for value in [
            "/usr/share/zoneinfo/Europe/Berlin",
            ":/usr/share/zoneinfo/Europe/Berlin",
            "/usr/share/zoneinfo/posix/Europe/Berlin",
            "/usr/lib/zoneinfo/Europe/Berlin",
            "/usr/share/lib/zoneinfo/Europe/Berlin",
            "/etc/zoneinfo/Europe/Berlin",
            "/nix/store/0abc-tzdata-2025b/share/zoneinfo/Europe/Berlin",
        ] {
            let r = with_tz(value, &system);
            assert_eq!(
                (r.zone, r.source),
                (chrono_tz::Europe::Berlin, Source::Tz),
                "{value}"
            );
            assert!(r.warnings.is_empty(), "{r:?}");
        }
        let r = with_tz(":/usr/share/zoneinfo/America/New_York", &system);
        assert_eq!(r.zone, chrono_tz::America::New_York);
    }

    #[test]
    fn tz_under_tzdir_and_through_a_link() {
        let r = resolve(
            None,
            Environment {
                tz: Some("/opt/tz/db/America/Los_Angeles"),
                tzdir: Some("/opt/tz/db/"),
            },
            &host(None),
            now(),
        );
        assert_eq!(
            (r.zone, r.source),
            (chrono_tz::America::Los_Angeles, Source::Tz)
        );

        let mut linked = host(Some("UTC"));
        linked.links.insert(
            "/etc/localtime".into(),
            "/usr/share/zoneinfo/Asia/Tokyo".into(),
        );
        let r = with_tz(":/etc/localtime", &linked);
        assert_eq!((r.zone, r.source), (chrono_tz::Asia::Tokyo, Source::Tz));
    }

    #[test]
    fn tz_as_a_posix_rule_is_shown_in_the_iana_zone_with_the_same_rules() {
        let system = host(Some("UTC"));
        for (rule, zone) in [
            ("CET-1CEST,M3.5.0,M10.5.0/3", chrono_tz::Europe::Berlin),
            ("EST5EDT,M3.2.0,M11.1.0", chrono_tz::America::New_York),
            ("PST8PDT,M3.2.0,M11.1.0", chrono_tz::America::Los_Angeles),
            ("GMT0BST,M3.5.0/1,M10.5.0", chrono_tz::Europe::London),
            ("AEST-10AEDT,M10.1.0,M4.1.0/3", chrono_tz::Australia::Sydney),
            ("JST-9", chrono_tz::Asia::Tokyo),
            ("IST-5:30", chrono_tz::Asia::Kolkata),
            ("UTC0", Tz::UTC),
            ("<+04>-4", chrono_tz::Etc::GMTMinus4),
            (":<-03>3", chrono_tz::Etc::GMTPlus3),
        ] {
            let r = with_tz(rule, &system);
            assert_eq!((r.zone, r.source), (zone, Source::Tz), "{rule}: {r:?}");
            assert!(r.warnings.is_empty(), "{r:?}");
            assert!(r.notes[0].contains(zone.name()), "{r:?}");
        }
        // Rules no zone keeps today (Europe's DST ending on another Sunday) are matched by
        // offsets only when abbreviations differ, never to a zone whose switches differ.
        let r = with_tz("ABC-1DEF,M3.5.0,M10.5.0/3", &system);
        assert_eq!(r.source, Source::Tz, "{r:?}");
        assert_eq!(
            r.zone
                .offset_from_utc_datetime(&now().naive_utc())
                .fix()
                .local_minus_utc(),
            3600
        );
    }

    #[test]
    fn a_posix_rule_no_zone_keeps_is_ignored_with_a_warning_naming_it_and_the_zone_used() {
        let r = with_tz("XST-1XDT,M2.1.0,M12.1.0", &host(Some("Europe/Paris")));
        assert_eq!(
            (r.zone, r.source),
            (chrono_tz::Europe::Paris, Source::System)
        );
        assert_eq!(r.warnings.len(), 1, "{r:?}");
        assert!(r.warnings[0].contains("XST-1XDT,M2.1.0,M12.1.0"), "{r:?}");
        assert!(r.warnings[0].contains("Europe/Paris"), "{r:?}");
    }

    #[test]
    fn an_unknown_tz_falls_through_to_the_system_with_a_warning() {
        for value in [
            "Mars/Olympus",
            "Europe/Berlinn",
            "not a zone",
            "/nowhere/at/all",
        ] {
            let r = with_tz(value, &host(Some("America/Chicago")));
            assert_eq!(
                (r.zone, r.source),
                (chrono_tz::America::Chicago, Source::System),
                "{value}"
            );
            assert_eq!(r.warnings.len(), 1, "{r:?}");
            assert!(r.warnings[0].contains(value), "{r:?}");
            assert!(r.warnings[0].contains("America/Chicago"), "{r:?}");
        }
        // Nothing from the system either: UTC, and the warning says so.
        let r = with_tz("Mars/Olympus", &host(None));
        assert_eq!((r.zone, r.source), (Tz::UTC, Source::Default));
        assert!(r.warnings[0].contains("UTC"), "{r:?}");
    }

    #[test]
    fn an_empty_tz_is_utc_as_posix_says() {
        for value in ["", ":"] {
            let r = with_tz(value, &host(Some("Europe/Berlin")));
            assert_eq!((r.zone, r.source), (Tz::UTC, Source::Tz), "{value:?}");
            assert!(r.warnings.is_empty());
            assert_eq!(r.notes.len(), 1, "{r:?}");
        }
    }

    #[test]
    fn the_system_zone_by_name_by_path_or_by_its_zone_file() {
        let r = resolve(
            None,
            Environment::default(),
            &host(Some("Asia/Tokyo\n")),
            now(),
        );
        assert_eq!((r.zone, r.source), (chrono_tz::Asia::Tokyo, Source::System));
        let r = resolve(
            None,
            Environment::default(),
            &host(Some("/usr/share/zoneinfo/Europe/Berlin")),
            now(),
        );
        assert_eq!(r.zone, chrono_tz::Europe::Berlin);
        // /etc/localtime copied rather than linked: its rules (here a TZif file with no
        // transitions and the footer of Berlin) find the zone.
        let mut copied = host(None);
        copied.files.insert(
            LOCALTIME.into(),
            tzif_with_footer("CET-1CEST,M3.5.0,M10.5.0/3"),
        );
        let r = resolve(None, Environment::default(), &copied, now());
        assert_eq!(
            (r.zone, r.source),
            (chrono_tz::Europe::Berlin, Source::System),
            "{r:?}"
        );
        // And the same file named by TZ.
        let r = with_tz("/srv/zones/berlin.tzif", &{
            let mut h = host(Some("UTC"));
            h.files.insert(
                "/srv/zones/berlin.tzif".into(),
                tzif_with_footer("EST5EDT,M3.2.0,M11.1.0"),
            );
            h
        });
        assert_eq!(
            (r.zone, r.source),
            (chrono_tz::America::New_York, Source::Tz),
            "{r:?}"
        );
    }

    #[test]
    fn a_configured_zone_applies_on_the_next_call_the_environment_is_kept() {
        // What Engine::reconfigure relies on: the configuration is read on every call, only
        // the environment's answer is kept.
        assert_eq!(display_zone(Some("Asia/Tokyo")), chrono_tz::Asia::Tokyo);
        assert_eq!(display_zone(Some("America/Lima")), chrono_tz::America::Lima);
        assert_eq!(display_zone(None), environment_zone());
        assert_eq!(display_zone(Some("no such zone")), environment_zone());
    }

    /// A minimal version 2 TZif file (RFC 8536): no transitions, one local time type, and
    /// the POSIX rule `footer` for all times after, as zic writes for a slim file.
    fn tzif_with_footer(footer: &str) -> Vec<u8> {
        fn header(out: &mut Vec<u8>, typecnt: u32, charcnt: u32) {
            out.extend_from_slice(b"TZif2");
            out.extend_from_slice(&[0; 15]);
            // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
            for n in [0, 0, 0, 0, typecnt, charcnt] {
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        let mut out = Vec::new();
        // Version 1 block: empty except for one type (typecnt must be at least 1).
        header(&mut out, 1, 4);
        out.extend_from_slice(&3600i32.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(b"CET\0");
        header(&mut out, 1, 4);
        out.extend_from_slice(&3600i32.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(b"CET\0");
        out.push(b'\n');
        out.extend_from_slice(footer.as_bytes());
        out.push(b'\n');
        out
    }

    #[test]
    fn mapping_a_rule_is_cheap() {
        let started = std::time::Instant::now();
        let rules = jiff::tz::TimeZone::posix("XST-1XDT,M2.1.0,M12.1.0").unwrap();
        assert_eq!(matching_zone(&rules, now()), None);
        let common = std::time::Instant::now();
        let rules = jiff::tz::TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(
            matching_zone(&rules, now()),
            Some(chrono_tz::Europe::Berlin)
        );
        assert!(common.elapsed() < std::time::Duration::from_millis(100));
        // The worst case (every zone tried, twice) stays far below what a start-up notices.
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
}
