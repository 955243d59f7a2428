//! Where a subscription's feed comes from, as the user wrote it: an `https://` URL, a
//! `webcal://` (or `webcals://`) one, which is the same feed over https, or a local
//! `.ics` file (a path, or a `file://` URL). Plain `http://` is refused — a feed decides
//! what the agenda, reminders and presence see — except on this machine's loopback
//! (a feed a local tool serves, and the tests). A redirect may only lead to https (or,
//! from loopback, to loopback).

use crate::error::Error;
use std::path::PathBuf;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    Url(Url),
    File(PathBuf),
}

impl FeedSource {
    pub fn parse(text: &str) -> Result<FeedSource, Error> {
        let text = text.trim();
        let invalid = |why: &str| Error::InvalidInput(format!("calendar feed {text:?}: {why}"));
        if text.is_empty() {
            return Err(invalid("no URL or file given"));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            // No scheme: a file.
            return Ok(FeedSource::File(PathBuf::from(text)));
        };
        let url = match scheme.to_ascii_lowercase().as_str() {
            "webcal" | "webcals" | "https" => Url::parse(&format!("https://{rest}")),
            "http" => Url::parse(text),
            "file" => {
                let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                return url
                    .to_file_path()
                    .map(FeedSource::File)
                    .map_err(|()| invalid("is not a local file"));
            }
            _ => return Err(invalid("use an https:// or webcal:// URL, or a file")),
        }
        .map_err(|e| invalid(&e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("names no host"));
        }
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(invalid(
                "plain http:// is not accepted; use https:// (or webcal://)",
            ));
        }
        Ok(FeedSource::Url(url))
    }

    /// What is stored and shown.
    pub fn to_text(&self) -> String {
        match self {
            FeedSource::Url(url) => url.to_string(),
            FeedSource::File(path) => path.display().to_string(),
        }
    }
}

/// Whether a redirect from `from` may be followed to `to`: to https, or from loopback to
/// loopback.
pub fn redirect_allowed(from: &Url, to: &Url) -> bool {
    match to.scheme() {
        "https" => true,
        "http" => is_loopback(from) && is_loopback(to),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> String {
        match FeedSource::parse(text).unwrap() {
            FeedSource::Url(url) => url.to_string(),
            FeedSource::File(path) => panic!("a file: {}", path.display()),
        }
    }

    #[test]
    fn webcal_is_https_and_plain_http_only_on_loopback() {
        assert_eq!(
            url("webcal://calendar.google.com/calendar/ical/x/basic.ics"),
            "https://calendar.google.com/calendar/ical/x/basic.ics"
        );
        assert_eq!(
            url("WEBCALS://example.com/a.ics"),
            "https://example.com/a.ics"
        );
        assert_eq!(
            url("https://example.com/a.ics"),
            "https://example.com/a.ics"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/a.ics"),
            "http://127.0.0.1:8080/a.ics"
        );
        for refused in [
            "http://example.com/a.ics",
            "ftp://example.com/a.ics",
            "https://",
            "",
        ] {
            assert!(FeedSource::parse(refused).is_err(), "{refused}");
        }
        assert_eq!(
            FeedSource::parse("/home/me/holidays.ics").unwrap(),
            FeedSource::File("/home/me/holidays.ics".into())
        );
        assert_eq!(
            FeedSource::parse("file:///home/me/holidays.ics").unwrap(),
            FeedSource::File("/home/me/holidays.ics".into())
        );
    }

    #[test]
    fn redirects_lead_only_to_https() {
        let u = |t: &str| Url::parse(t).unwrap();
        let https = u("https://example.com/a.ics");
        assert!(redirect_allowed(
            &https,
            &u("https://cdn.example.net/a.ics")
        ));
        assert!(!redirect_allowed(
            &https,
            &u("http://cdn.example.net/a.ics")
        ));
        assert!(!redirect_allowed(&https, &u("http://127.0.0.1/a.ics")));
        let local = u("http://127.0.0.1:9/a.ics");
        assert!(redirect_allowed(&local, &u("http://localhost:9/b.ics")));
        assert!(!redirect_allowed(&local, &u("http://example.com/b.ics")));
        assert!(!redirect_allowed(&local, &u("file:///etc/passwd")));
    }
}
