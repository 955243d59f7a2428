//! Which URL opens an appointment or joins its meeting, and which URLs Presently agrees
//! to hand to the system at all: `https` only, to Microsoft 365, the configured cloud and
//! known meeting hosts. Everything else is refused. On Windows, an appointment can also
//! open in classic desktop Outlook: [`outlook_desktop_command`] for the entry id that
//! `Engine::outlook_desktop_target` asks Graph for, with [`find_classic_outlook`].

use crate::model::Appointment;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use url::Url;

/// What the user asked to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// The appointment in Outlook on the web.
    Outlook,
    /// The online meeting.
    Join,
}

/// The consumer (personal Microsoft account) tenant.
pub const CONSUMER_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Microsoft 365 hosts that may be opened, by domain suffix.
const MICROSOFT_HOSTS: &[&str] = &[
    "outlook.office365.com",
    "outlook.office.com",
    "outlook.live.com",
    "outlook.office365.us",
    "outlook.office365.cn",
    "partner.outlook.cn",
    "teams.microsoft.com",
    "teams.live.com",
    "teams.microsoft.us",
    "gov.teams.microsoft.us",
    "dod.teams.microsoft.us",
    "teams.microsoftonline.cn",
];

/// Meeting services whose join links may be opened, by domain suffix.
const MEETING_HOSTS: &[&str] = &[
    "zoom.us",
    "zoomgov.com",
    "meet.google.com",
    "webex.com",
    "gotomeeting.com",
    "meet.goto.com",
    "whereby.com",
    "bluejeans.com",
    "chime.aws",
    "meet.jit.si",
    "ringcentral.com",
    "skype.com",
];

fn host_matches(host: &str, suffix: &str) -> bool {
    host == suffix || host.ends_with(&format!(".{suffix}"))
}

/// Whether Presently may open `url`: `https`, no credentials, and a known host (or one of
/// `extra_hosts`, e.g. a national cloud's Outlook host).
pub fn is_allowed(url: &Url, extra_hosts: &[&str]) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && MICROSOFT_HOSTS
            .iter()
            .chain(MEETING_HOSTS)
            .chain(extra_hosts)
            .any(|s| host_matches(&host, s))
}

/// Outlook on the web for an appointment: `https://{host}/calendar/item/{url-encoded id}`.
pub fn outlook_url(appointment: &Appointment, outlook_host: &str) -> Option<Url> {
    let id: String = url::form_urlencoded::byte_serialize(appointment.id.as_bytes()).collect();
    Url::parse(&format!("https://{outlook_host}/calendar/item/{id}"))
        .ok()
        .or_else(|| {
            appointment
                .web_link
                .as_deref()
                .and_then(|l| Url::parse(l).ok())
        })
}

/// The Outlook web host for an account: personal accounts use outlook.live.com.
pub fn outlook_host_for(tenant_id: Option<&str>, configured: &str) -> String {
    if tenant_id == Some(CONSUMER_TENANT_ID) {
        "outlook.live.com".to_owned()
    } else {
        configured.to_owned()
    }
}

/// The meeting's join link: the online meeting's URL, else the first meeting link found
/// in the location or the body preview. Outlook SafeLinks are unwrapped.
pub fn join_url(appointment: &Appointment) -> Option<Url> {
    let candidates = appointment
        .join_url
        .iter()
        .chain(appointment.location.iter())
        .chain(appointment.body_preview.iter());
    for text in candidates {
        for link in find_links(text) {
            let link = unwrap_safelinks(link);
            let is_meeting = link.host_str().is_some_and(|h| {
                let h = h.to_ascii_lowercase();
                MEETING_HOSTS.iter().any(|s| host_matches(&h, s))
                    || [
                        "teams.microsoft.com",
                        "teams.live.com",
                        "teams.microsoft.us",
                    ]
                    .iter()
                    .any(|s| host_matches(&h, s))
            });
            if is_meeting && link.scheme() == "https" {
                return Some(link);
            }
        }
    }
    None
}

/// `https://eur01.safelinks.protection.outlook.com/?url=<target>&…` → `<target>`.
pub fn unwrap_safelinks(url: Url) -> Url {
    let is_safelink = url
        .host_str()
        .is_some_and(|h| host_matches(&h.to_ascii_lowercase(), "safelinks.protection.outlook.com"));
    if !is_safelink {
        return url;
    }
    url.query_pairs()
        .find(|(k, _)| k == "url")
        .and_then(|(_, v)| Url::parse(&v).ok())
        .unwrap_or(url)
}

/// An item as classic desktop Outlook knows it: its MAPI entry id, in uppercase hex.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesktopOutlook {
    pub entry_id_hex: String,
}

/// The program and arguments that open an item in classic desktop Outlook:
/// `OUTLOOK.EXE /select outlook:<EntryID>`. Only the hex digits of `entry_id_hex` reach
/// the command line (uppercased), so nothing else can be smuggled into Outlook's arguments.
pub fn outlook_desktop_command(outlook_exe: &Path, entry_id_hex: &str) -> (PathBuf, Vec<String>) {
    let hex: String = entry_id_hex
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (
        outlook_exe.to_path_buf(),
        vec!["/select".to_owned(), format!("outlook:{hex}")],
    )
}

/// Where classic desktop Outlook usually is, most likely first, given the environment
/// (`var` reads a variable): Microsoft 365 Click-to-Run
/// (`Microsoft Office\root\Office16`), then an MSI install (`Microsoft Office\Office16`),
/// under `%ProgramFiles%`, `%ProgramW6432%` (64-bit Office seen from a 32-bit process) and
/// `%ProgramFiles(x86)%`. No registry is read.
pub fn classic_outlook_candidates(var: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for root in ["ProgramFiles", "ProgramW6432", "ProgramFiles(x86)"] {
        let Some(dir) = var(root).filter(|d| !d.is_empty()) else {
            continue;
        };
        for office in [&["root", "Office16"][..], &["Office16"][..]] {
            let mut path = PathBuf::from(&dir).join("Microsoft Office");
            path.extend(office);
            path.push("OUTLOOK.EXE");
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Classic desktop Outlook's `OUTLOOK.EXE`, if it is installed in one of the usual places
/// ([`classic_outlook_candidates`]); always `None` off Windows.
pub fn find_classic_outlook() -> Option<PathBuf> {
    #[cfg(windows)]
    {
        classic_outlook_candidates(|name| std::env::var_os(name))
            .into_iter()
            .find(|p| p.is_file())
    }
    #[cfg(not(windows))]
    {
        None
    }
}

fn find_links(text: &str) -> impl Iterator<Item = Url> + '_ {
    text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '(' | ')'))
        .filter(|w| w.starts_with("https://") || w.starts_with("http://"))
        .filter_map(|w| Url::parse(w.trim_end_matches(['.', ',', ';'])).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn appt() -> Appointment {
        Appointment {
            id: "AAMkAGI1/AAA+t9=".into(),
            calendar_id: "c".into(),
            ical_uid: None,
            subject: "s".into(),
            when: When::AllDay {
                start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                end: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            },
            original_time_zone: None,
            show_as: ShowAs::Busy,
            response: ResponseStatus::Accepted,
            sensitivity: Sensitivity::Normal,
            cancelled: false,
            location: None,
            organizer: None,
            attendees: None,
            join_url: None,
            online_provider: None,
            web_link: None,
            series_master_id: None,
            kind: AppointmentType::SingleInstance,
            categories: vec![],
            reminder_on: false,
            reminder_minutes: None,
            body_preview: None,
            last_modified: None,
        }
    }

    #[test]
    fn outlook_url_encodes_the_id() {
        let url = outlook_url(&appt(), "outlook.office365.com").unwrap();
        assert_eq!(
            url.as_str(),
            "https://outlook.office365.com/calendar/item/AAMkAGI1%2FAAA%2Bt9%3D"
        );
        assert_eq!(
            outlook_host_for(Some(CONSUMER_TENANT_ID), "outlook.office365.com"),
            "outlook.live.com"
        );
    }

    #[test]
    fn join_link_comes_from_the_meeting_then_location_then_body() {
        let mut a = appt();
        a.body_preview = Some("Join: https://contoso.zoom.us/j/123?pwd=x. Thanks".into());
        assert_eq!(
            join_url(&a).unwrap().as_str(),
            "https://contoso.zoom.us/j/123?pwd=x"
        );
        a.location = Some("https://meet.google.com/abc-defg-hij".into());
        assert_eq!(join_url(&a).unwrap().host_str(), Some("meet.google.com"));
        a.join_url = Some("https://teams.microsoft.com/l/meetup-join/19%3ameeting".into());
        assert_eq!(
            join_url(&a).unwrap().host_str(),
            Some("teams.microsoft.com")
        );
    }

    #[test]
    fn safelinks_are_unwrapped() {
        let mut a = appt();
        a.body_preview = Some("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fcontoso.webex.com%2Fmeet%2Fdana&data=05".into());
        assert_eq!(
            join_url(&a).unwrap().as_str(),
            "https://contoso.webex.com/meet/dana"
        );
    }

    #[test]
    fn only_https_to_known_hosts_is_allowed() {
        let ok = |s: &str| is_allowed(&Url::parse(s).unwrap(), &[]);
        assert!(ok("https://teams.microsoft.com/l/meetup-join/1"));
        assert!(ok("https://us02web.zoom.us/j/1"));
        assert!(!ok("http://teams.microsoft.com/l/meetup-join/1"));
        assert!(!ok("https://zoom.us.evil.example/j/1"));
        assert!(!ok("https://evilzoom.us/j/1"));
        assert!(!ok("file:///etc/passwd"));
        assert!(!ok("javascript:alert(1)"));
        assert!(!ok("https://user:pw@teams.microsoft.com/"));
        assert!(is_allowed(
            &Url::parse("https://outlook.example.us/x").unwrap(),
            &["outlook.example.us"]
        ));
    }

    #[test]
    fn the_desktop_command_selects_the_entry_id() {
        let exe = Path::new(r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE");
        let (program, args) = outlook_desktop_command(exe, "00000000a1b2C3");
        assert_eq!(program, exe);
        assert_eq!(args, vec!["/select", "outlook:00000000A1B2C3"]);
        // Nothing but hex reaches Outlook's command line.
        let (_, args) = outlook_desktop_command(exe, "00FF\" /x outlook:evil");
        assert_eq!(args, vec!["/select", "outlook:00FFE"]);
    }

    #[test]
    fn classic_outlook_is_looked_for_under_the_program_files_folders() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let office = |root: &str, rest: &[&str]| {
            let mut p = PathBuf::from(root).join("Microsoft Office");
            p.extend(rest);
            p.join("OUTLOOK.EXE")
        };
        let found = classic_outlook_candidates(env(&[
            ("ProgramFiles", r"C:\Program Files"),
            ("ProgramW6432", r"C:\Program Files"),
            ("ProgramFiles(x86)", r"C:\Program Files (x86)"),
        ]));
        assert_eq!(
            found,
            vec![
                office(r"C:\Program Files", &["root", "Office16"]),
                office(r"C:\Program Files", &["Office16"]),
                office(r"C:\Program Files (x86)", &["root", "Office16"]),
                office(r"C:\Program Files (x86)", &["Office16"]),
            ]
        );
        assert!(classic_outlook_candidates(env(&[("ProgramFiles", "")])).is_empty());
        assert!(classic_outlook_candidates(env(&[])).is_empty());
        #[cfg(not(windows))]
        assert_eq!(find_classic_outlook(), None);
    }
}
