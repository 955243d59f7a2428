//! Which URL opens an appointment or joins its meeting, and which URLs Presently agrees
//! to hand to the system at all: `https` only, to Microsoft 365, the configured cloud and
//! known meeting hosts. Everything else is refused. On Windows, an appointment can also
//! open in classic desktop Outlook: [`outlook_desktop_command`] for the entry id that
//! `Engine::outlook_desktop_target` asks Graph for, with [`find_classic_outlook`].

use crate::graph::body::{self, MAX_BODY_SCAN_BYTES};
use crate::model::{Appointment, OnlineMeetingProvider};
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

/// Microsoft 365 hosts that may be opened (Outlook), by domain suffix. Teams is a meeting
/// service below.
const MICROSOFT_HOSTS: &[&str] = &[
    "outlook.office365.com",
    "outlook.office.com",
    "outlook.live.com",
    "outlook.office365.us",
    "outlook.office365.cn",
    "partner.outlook.cn",
];

/// How a meeting service's host is named in the allowlist.
#[derive(Debug, Clone, Copy)]
enum HostRule {
    /// This host only.
    Exact(&'static str),
    /// This domain and every host under it: `zoom.us` and `us02web.zoom.us`, never
    /// `zoom.us.evil.com` or `evilzoom.us`.
    Domain(&'static str),
}

impl HostRule {
    fn matches(self, host: &str) -> bool {
        match self {
            HostRule::Exact(name) => host == name,
            HostRule::Domain(domain) => host_matches(host, domain),
        }
    }
}

/// Which paths of a service's hosts join a meeting; its other pages (help, downloads,
/// meeting options) are not join links.
#[derive(Debug, Clone, Copy)]
enum JoinPaths {
    /// `/l/meetup-join/…`, `/meet/…`.
    Teams,
    /// `/j/…`, `/w/…` (webinar), `/my/…` (personal room), `/s/…`, `/wc/…` (web client).
    Zoom,
    /// `/abc-defg-hij`, `/lookup/…`.
    GoogleMeet,
    /// `…/j.php?MTID=…`, `/meet/…`, `/join/…`, `…/joinservice/…`.
    Webex,
    /// `meet.goto.com/123456789`, `global.gotomeeting.com/join/…`,
    /// `app.gotomeeting.com/?meetingId=…`, `gotomeet.me/name`.
    GoTo,
    /// Any path but the front page.
    NotTheFrontPage,
}

/// A meeting service whose join links Presently opens.
struct MeetingService {
    provider: Option<OnlineMeetingProvider>,
    hosts: &'static [HostRule],
    join_paths: JoinPaths,
}

/// Meeting services whose links may be opened, each host named on purpose.
const MEETING_SERVICES: &[MeetingService] = &[
    MeetingService {
        provider: Some(OnlineMeetingProvider::TeamsForBusiness),
        hosts: &[
            HostRule::Domain("teams.microsoft.com"),
            HostRule::Exact("teams.live.com"),
            // US Government clouds: gov.teams.microsoft.us, dod.teams.microsoft.us.
            HostRule::Domain("teams.microsoft.us"),
            HostRule::Exact("teams.microsoftonline.cn"),
        ],
        join_paths: JoinPaths::Teams,
    },
    MeetingService {
        provider: Some(OnlineMeetingProvider::Zoom),
        hosts: &[HostRule::Domain("zoom.us"), HostRule::Domain("zoomgov.com")],
        join_paths: JoinPaths::Zoom,
    },
    MeetingService {
        provider: Some(OnlineMeetingProvider::GoogleMeet),
        hosts: &[HostRule::Exact("meet.google.com")],
        join_paths: JoinPaths::GoogleMeet,
    },
    MeetingService {
        provider: Some(OnlineMeetingProvider::Webex),
        hosts: &[HostRule::Domain("webex.com")],
        join_paths: JoinPaths::Webex,
    },
    MeetingService {
        provider: Some(OnlineMeetingProvider::GoTo),
        hosts: &[
            HostRule::Exact("meet.goto.com"),
            HostRule::Exact("global.gotomeeting.com"),
            HostRule::Exact("app.gotomeeting.com"),
            HostRule::Domain("gotomeet.me"),
        ],
        join_paths: JoinPaths::GoTo,
    },
    MeetingService {
        provider: Some(OnlineMeetingProvider::SkypeForConsumer),
        hosts: &[HostRule::Exact("join.skype.com")],
        join_paths: JoinPaths::NotTheFrontPage,
    },
    // Opened when Graph names them as the meeting's link, and recognised in invitations,
    // without a provider of their own.
    MeetingService {
        provider: None,
        hosts: &[
            HostRule::Domain("whereby.com"),
            HostRule::Domain("bluejeans.com"),
            HostRule::Domain("chime.aws"),
            HostRule::Exact("meet.jit.si"),
            HostRule::Domain("ringcentral.com"),
        ],
        join_paths: JoinPaths::NotTheFrontPage,
    },
];

fn host_matches(host: &str, suffix: &str) -> bool {
    host == suffix
        || host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// The meeting service `url`'s host belongs to.
fn service_of(url: &Url) -> Option<&'static MeetingService> {
    let host = url.host_str()?.to_ascii_lowercase();
    MEETING_SERVICES
        .iter()
        .find(|s| s.hosts.iter().any(|rule| rule.matches(&host)))
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
        && (MICROSOFT_HOSTS
            .iter()
            .chain(extra_hosts)
            .any(|s| host_matches(&host, s))
            || service_of(url).is_some())
}

/// Whether a calendar subscription's event link may be opened: https, no credentials, on
/// the feed's own site — its host, or a host under the feed host's parent domain
/// (`calendar.google.com` serves `www.google.com/calendar/event?…`; `example.com` stays
/// itself, an IP address too). A feed read from a file has no site: nothing is opened.
pub fn feed_link_allowed(url: &Url, feed_host: Option<&str>) -> bool {
    let (Some(link), Some(feed)) = (url.host_str(), feed_host) else {
        return false;
    };
    let feed = feed.to_ascii_lowercase();
    let site = match feed.split_once('.') {
        Some((_, parent)) if parent.contains('.') && feed.parse::<std::net::IpAddr>().is_err() => {
            parent.to_owned()
        }
        _ => feed,
    };
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && host_matches(&link.to_ascii_lowercase(), &site)
}

impl JoinPaths {
    fn accept(self, url: &Url) -> bool {
        let path = url.path().to_ascii_lowercase();
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let first = segments.next().unwrap_or("");
        let has_more = segments.next().is_some();
        match self {
            JoinPaths::Teams => path.starts_with("/l/meetup-join/") || path.starts_with("/meet/"),
            JoinPaths::Zoom => matches!(first, "j" | "w" | "my" | "s" | "wc") && has_more,
            JoinPaths::GoogleMeet => {
                (first == "lookup" && has_more)
                    || (first.contains('-')
                        && first.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            }
            JoinPaths::Webex => {
                path.contains("/j.php")
                    || path.contains("/joinservice/")
                    || (matches!(first, "meet" | "join") && has_more)
            }
            JoinPaths::GoTo => match url.host_str().map(str::to_ascii_lowercase).as_deref() {
                Some("global.gotomeeting.com") => first == "join" && has_more,
                Some("app.gotomeeting.com") => url.query_pairs().any(|(k, _)| k == "meetingId"),
                _ => !first.is_empty() && first != "install",
            },
            JoinPaths::NotTheFrontPage => !first.is_empty(),
        }
    }
}

/// Whether the host of `link` (`https://host/…`, as written) is a meeting service's or a
/// SafeLink's: a cheap test before a link is decoded and parsed, since most links in a body
/// (Outlook, help pages, images) are neither.
fn may_be_meeting_host(link: &str) -> bool {
    let rest = &link["https://".len()..];
    let host = rest
        .split(['/', '?', '#', ':', '&'])
        .next()
        .unwrap_or(rest)
        .to_ascii_lowercase();
    host_matches(&host, "safelinks.protection.outlook.com")
        || MEETING_SERVICES
            .iter()
            .any(|s| s.hosts.iter().any(|rule| rule.matches(&host)))
}

/// A meeting's join link, and the service it belongs to when Presently knows it by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    pub url: Url,
    pub provider: Option<OnlineMeetingProvider>,
}

/// A join URL Graph gives for the meeting (`onlineMeeting.joinUrl`, `onlineMeetingUrl`):
/// kept when it is a link to a meeting service Presently opens (SafeLinks unwrapped).
pub fn meeting_join_link(text: &str) -> Option<JoinLink> {
    let url = unwrap_safelinks(Url::parse(text.trim()).ok()?);
    let service = service_of(&url)?;
    is_allowed(&url, &[]).then_some(JoinLink {
        url,
        provider: service.provider,
    })
}

/// The first meeting join link written in `text` — a location, a body in HTML or plain
/// text, a body preview: links of an allowed meeting service whose path joins a meeting
/// (not its help, download or options pages), Outlook SafeLinks unwrapped, character
/// references in HTML attributes decoded. Looks at no more than the first
/// [`MAX_BODY_SCAN_BYTES`] of `text`.
pub fn find_join_link(text: &str) -> Option<JoinLink> {
    let text = body::head(text, MAX_BODY_SCAN_BYTES);
    let mut at = 0;
    while let Some(found) = body::find_ignore_ascii_case(&text[at..], "https://") {
        at += found;
        // `at` is on an ASCII byte, hence a character boundary.
        let end = text[at..]
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']' | '`')
            })
            .map_or(text.len(), |n| at + n);
        let candidate = &text[at..end];
        at = end;
        if !may_be_meeting_host(candidate) {
            continue;
        }
        let decoded = body::decode_entities(candidate);
        // A decoded `&nbsp;` ends the link too.
        let candidate = decoded.split(char::is_whitespace).next().unwrap_or("");
        let Ok(url) = Url::parse(candidate.trim_end_matches(['.', ',', ';', ':', '!', '?'])) else {
            continue;
        };
        let url = unwrap_safelinks(url);
        if let Some(service) = service_of(&url) {
            if is_allowed(&url, &[]) && service.join_paths.accept(&url) {
                return Some(JoinLink {
                    url,
                    provider: service.provider,
                });
            }
        }
    }
    None
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

/// The meeting's join link: the one stored for the appointment, found when it was read
/// from Graph (the online meeting's URL, else a meeting link in its location or body).
/// Every surface (agenda, detail pane, tray, reminders, `agenda --json`) shows a Join for
/// exactly this link.
pub fn join_url(appointment: &Appointment) -> Option<Url> {
    appointment
        .join_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn appt() -> Appointment {
        Appointment {
            subject: "s".into(),
            ..Appointment::new(
                "AAMkAGI1/AAA+t9=",
                "c",
                When::AllDay {
                    start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    end: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
                },
            )
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
    fn the_join_link_opened_is_the_stored_one() {
        let mut a = appt();
        // Text in the location or preview is no join link by itself: parsing found none.
        a.location = Some("https://meet.google.com/abc-defg-hij".into());
        a.body_preview = Some("Join: https://contoso.zoom.us/j/123".into());
        assert_eq!(join_url(&a), None);
        a.join_url = Some("https://contoso.zoom.us/j/123?pwd=x".into());
        assert_eq!(
            join_url(&a).unwrap().as_str(),
            "https://contoso.zoom.us/j/123?pwd=x"
        );
    }

    fn found(text: &str) -> Option<(String, Option<OnlineMeetingProvider>)> {
        find_join_link(text).map(|l| (l.url.to_string(), l.provider))
    }

    #[test]
    fn join_links_of_each_service_are_found_in_text_and_html() {
        use OnlineMeetingProvider as P;
        let cases = [
            ("Join: https://contoso.zoom.us/j/123?pwd=x. Thanks", "https://contoso.zoom.us/j/123?pwd=x", Some(P::Zoom)),
            ("https://zoom.us/my/dana", "https://zoom.us/my/dana", Some(P::Zoom)),
            ("https://contoso.zoomgov.com/j/1601234567", "https://contoso.zoomgov.com/j/1601234567", Some(P::Zoom)),
            ("Meet: https://meet.google.com/abc-defg-hij", "https://meet.google.com/abc-defg-hij", Some(P::GoogleMeet)),
            ("https://contoso.webex.com/meet/dana", "https://contoso.webex.com/meet/dana", Some(P::Webex)),
            ("https://contoso.webex.com/contoso/j.php?MTID=m1a2b3", "https://contoso.webex.com/contoso/j.php?MTID=m1a2b3", Some(P::Webex)),
            ("https://meet.goto.com/123456789", "https://meet.goto.com/123456789", Some(P::GoTo)),
            ("https://global.gotomeeting.com/join/123456789", "https://global.gotomeeting.com/join/123456789", Some(P::GoTo)),
            ("https://app.gotomeeting.com/?meetingId=123456789", "https://app.gotomeeting.com/?meetingId=123456789", Some(P::GoTo)),
            ("<https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d>", "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d", Some(P::TeamsForBusiness)),
            ("Click to join<https://teams.live.com/meet/9385551482824?p=Nqcc5j3c06vlEOa23P>", "https://teams.live.com/meet/9385551482824?p=Nqcc5j3c06vlEOa23P", Some(P::TeamsForBusiness)),
            ("https://whereby.com/contoso-room", "https://whereby.com/contoso-room", None),
            // Followed by a non-breaking space written as a reference.
            ("https://contoso.zoom.us/j/123&nbsp;(Zoom)", "https://contoso.zoom.us/j/123", Some(P::Zoom)),
            // In an HTML attribute, with its character references.
            ("<a href=\"https://us02web.zoom.us/j/812?pwd=a&amp;uname=b\">Join</a>", "https://us02web.zoom.us/j/812?pwd=a&uname=b", Some(P::Zoom)),
        ];
        for (text, url, provider) in cases {
            assert_eq!(found(text), Some((url.to_owned(), provider)), "{text}");
        }
    }

    #[test]
    fn pages_of_a_service_that_join_nothing_are_skipped() {
        // A Teams invitation's other links come before or after the join link.
        let text = "Download Teams<https://www.microsoft.com/microsoft-teams/download-app> \
            Learn More<https://aka.ms/JoinTeamsMeeting> \
            Meeting options<https://teams.microsoft.com/meetingOptions/?organizerId=1> \
            Help<https://support.zoom.us/hc/en-us> https://zoom.us/download https://meet.google.com/ \
            https://help.webex.com/en-us/article/x https://global.gotomeeting.com/install/123 \
            Join<https://teams.microsoft.com/l/meetup-join/19%3a1/0>";
        assert_eq!(
            found(text).unwrap().0,
            "https://teams.microsoft.com/l/meetup-join/19%3a1/0"
        );
        assert_eq!(found("https://teams.microsoft.com/meetingOptions/"), None);
        assert_eq!(
            found("no link here, only https:// and http://zoom.us/j/1"),
            None
        );
    }

    #[test]
    fn safelinks_are_unwrapped() {
        assert_eq!(
            found("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fcontoso.webex.com%2Fmeet%2Fdana&data=05"),
            Some(("https://contoso.webex.com/meet/dana".to_owned(), Some(OnlineMeetingProvider::Webex)))
        );
        // In HTML, the `&` before `data` is written `&amp;`.
        let html = "<a href=\"https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus02web.zoom.us%2Fj%2F8123%3Fpwd%3Dabc&amp;data=05%7C01&amp;sdata=x&amp;reserved=0\">Join</a>";
        assert_eq!(
            found(html).unwrap().0,
            "https://us02web.zoom.us/j/8123?pwd=abc"
        );
        // A SafeLink to a look-alike stays refused.
        assert_eq!(
            found("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us.evil.com%2Fj%2F1&data=05"),
            None
        );
    }

    #[test]
    fn look_alike_hosts_are_no_meeting_links() {
        for text in [
            "https://zoom.us.evil.com/j/1",
            "https://evilzoom.us/j/1",
            "https://meet.google.com.evil.com/abc-defg-hij",
            "https://evil.meet.google.com/abc-defg-hij",
            "https://teams.microsoft.com.evil.com/l/meetup-join/1",
            "https://webex.com.evil.io/meet/dana",
            "https://meet.goto.com.evil.com/123456789",
            "https://www.gotomeeting.com.evil.com/join/1",
            "https://user:pw@contoso.zoom.us/j/1",
        ] {
            assert_eq!(found(text), None, "{text}");
            assert_eq!(meeting_join_link(text), None, "{text}");
        }
    }

    #[test]
    fn only_the_head_of_a_long_body_is_searched() {
        let mut body = "x".repeat(MAX_BODY_SCAN_BYTES - 40);
        body.push_str(" https://contoso.zoom.us/j/1");
        assert!(found(&body).is_some());
        let mut body = "é".repeat(MAX_BODY_SCAN_BYTES / 2);
        body.push_str(" https://contoso.zoom.us/j/1");
        assert_eq!(found(&body), None);
    }

    #[test]
    fn a_join_url_graph_gives_is_kept_when_it_would_be_opened() {
        let link = meeting_join_link("https://teams.microsoft.com/l/meetup-join/19%3a1").unwrap();
        assert_eq!(link.provider, Some(OnlineMeetingProvider::TeamsForBusiness));
        // Graph's URL is trusted for its path, not for its host.
        assert!(meeting_join_link("https://contoso.zoom.us/anything").is_some());
        assert_eq!(
            meeting_join_link("https://outlook.office365.com/owa/"),
            None
        );
        assert_eq!(
            meeting_join_link("http://teams.microsoft.com/l/meetup-join/1"),
            None
        );
        assert_eq!(meeting_join_link("not a url"), None);
    }

    #[test]
    fn only_https_to_known_hosts_is_allowed() {
        let ok = |s: &str| is_allowed(&Url::parse(s).unwrap(), &[]);
        assert!(ok("https://teams.microsoft.com/l/meetup-join/1"));
        assert!(ok("https://gov.teams.microsoft.us/l/meetup-join/1"));
        assert!(ok("https://us02web.zoom.us/j/1"));
        assert!(ok("https://zoom.us/j/1"));
        assert!(ok("https://meet.google.com/abc-defg-hij"));
        assert!(ok("https://contoso.webex.com/meet/dana"));
        assert!(ok("https://meet.goto.com/123"));
        assert!(ok("https://global.gotomeeting.com/join/123"));
        assert!(ok("https://app.gotomeeting.com/?meetingId=1"));
        assert!(ok("https://teams.live.com/meet/1"));
        assert!(ok("https://outlook.office365.com/calendar/item/1"));
        assert!(!ok("http://teams.microsoft.com/l/meetup-join/1"));
        assert!(!ok("https://zoom.us.evil.example/j/1"));
        assert!(!ok("https://evilzoom.us/j/1"));
        assert!(!ok("https://x.meet.google.com/abc-defg-hij"));
        assert!(!ok("https://evil-gotomeeting.com/join/1"));
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

    #[test]
    fn a_feeds_links_open_only_on_its_own_site_over_https() {
        let ok =
            |link: &str, feed: Option<&str>| feed_link_allowed(&Url::parse(link).unwrap(), feed);
        let google = Some("calendar.google.com");
        assert!(ok("https://www.google.com/calendar/event?eid=abc", google));
        assert!(ok("https://calendar.google.com/event?eid=abc", google));
        assert!(
            !ok("http://www.google.com/calendar/event?eid=abc", google),
            "http"
        );
        assert!(!ok("https://evil.example/calendar", google), "another site");
        assert!(
            !ok("https://google.com.evil.example/", google),
            "a look-alike"
        );
        assert!(
            !ok("https://user:pw@www.google.com/", google),
            "credentials"
        );
        assert!(!ok("https://www.google.com/", None), "a feed from a file");
        let bare = Some("example.com");
        assert!(ok("https://example.com/e/1", bare));
        assert!(ok("https://www.example.com/e/1", bare));
        assert!(!ok("https://other.com/e/1", bare));
        assert!(
            !ok("https://0.0.1/", Some("127.0.0.1")),
            "an IP keeps all its labels"
        );
        assert!(ok("https://127.0.0.1/e", Some("127.0.0.1")));
    }
}
