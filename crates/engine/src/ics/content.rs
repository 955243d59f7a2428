//! The first pass over a feed, before the parser sees it: the limits that need no parsing
//! (size, nesting, how many events), "is this iCalendar at all", and content lines made
//! regular for the parser.
//!
//! The parser (`icalendar`) takes the text whole and recursively, so what could make it
//! slow or deep is settled here, line by line: line endings become CRLF (its property
//! values end at the next CRLF, searched for from each line: with bare LFs every line
//! would search to the end of the feed), folded lines are joined, every `BEGIN` has its
//! `END` (in any case: names are upper-cased here, as the parser matches `END` exactly),
//! nesting is bounded, and a line that is no content line (no name, no colon) is dropped
//! with a warning rather than failing the feed.

use super::{FeedError, Limits};
use std::borrow::Cow;

/// The feed as the parser reads it, with the feed's own line number of each line.
pub(super) struct Normalized {
    /// Content lines, unfolded, each ending in CRLF.
    pub text: String,
    /// `lines[i]` is the line of the feed where line `i` of `text` starts (1-based).
    pub lines: Vec<u32>,
    /// What was dropped, for the feed's warnings.
    pub skipped_lines: usize,
    pub first_skipped_line: Option<u32>,
}

impl Normalized {
    /// The feed's line number of the byte at `offset` in `text`.
    pub fn line_at(&self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        let index = memchr::memchr_iter(b'\n', &self.text.as_bytes()[..offset]).count();
        self.lines
            .get(index)
            .or(self.lines.last())
            .copied()
            .unwrap_or(1)
    }
}

/// Checks the limits and shape of `bytes` and returns its content lines for the parser.
pub(super) fn normalize(bytes: &[u8], limits: &Limits) -> Result<Normalized, FeedError> {
    if bytes.len() > limits.max_bytes {
        return Err(FeedError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    // Feeds are UTF-8 by RFC 5545; a stray Latin-1 byte costs one character, not the feed.
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if let Some(found) = not_icalendar(text) {
        return Err(FeedError::NotICalendar { found });
    }

    let mut out = Normalized {
        text: String::with_capacity(text.len() + text.len() / 32),
        lines: Vec::new(),
        skipped_lines: 0,
        first_skipped_line: None,
    };
    // (component name, line it began on)
    let mut open: Vec<(String, u32)> = Vec::new();
    let mut events = 0usize;
    for (line_no, line) in logical_lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, rest)) = split_name(&line) else {
            out.skip(line_no);
            continue;
        };
        let name: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(name.to_ascii_uppercase())
        } else {
            Cow::Borrowed(name)
        };
        match name.as_ref() {
            "BEGIN" | "END" => {
                let Some(value) = rest.strip_prefix(':') else {
                    return Err(invalid(line_no, format!("{name} has parameters")));
                };
                let component = value.trim().to_ascii_uppercase();
                if !is_name(&component) {
                    return Err(invalid(
                        line_no,
                        format!("{name}:{} names no component", bounded(value)),
                    ));
                }
                if name == "BEGIN" {
                    if open.is_empty() && component != "VCALENDAR" {
                        return Err(invalid(
                            line_no,
                            format!("BEGIN:{component} outside a VCALENDAR"),
                        ));
                    }
                    if open.len() >= limits.max_depth {
                        return Err(invalid(
                            line_no,
                            format!("components are nested more than {} deep", limits.max_depth),
                        ));
                    }
                    if component == "VEVENT" {
                        events += 1;
                        if events > limits.max_events {
                            return Err(FeedError::TooManyEvents {
                                limit: limits.max_events,
                            });
                        }
                    }
                    open.push((component.clone(), line_no));
                } else {
                    match open.pop() {
                        Some((begun, _)) if begun == component => {}
                        Some((begun, at)) => {
                            return Err(invalid(
                                line_no,
                                format!(
                                    "END:{component} where BEGIN:{begun} (line {at}) is still open"
                                ),
                            ))
                        }
                        None => {
                            return Err(invalid(
                                line_no,
                                format!("END:{component} without its BEGIN"),
                            ))
                        }
                    }
                }
                out.push(line_no, &format!("{name}:{component}"));
            }
            _ if open.is_empty() => out.skip(line_no),
            _ => {
                out.text.push_str(&name);
                out.push(line_no, rest);
            }
        }
    }
    if let Some((component, at)) = open.pop() {
        return Err(FeedError::Invalid {
            line: at,
            reason: format!("BEGIN:{component} is never closed (the feed may be cut short)"),
        });
    }
    Ok(out)
}

impl Normalized {
    fn push(&mut self, line_no: u32, text: &str) {
        self.text.push_str(text);
        self.text.push_str("\r\n");
        self.lines.push(line_no);
    }

    fn skip(&mut self, line_no: u32) {
        self.skipped_lines += 1;
        self.first_skipped_line.get_or_insert(line_no);
    }
}

fn invalid(line: u32, reason: String) -> FeedError {
    FeedError::Invalid { line, reason }
}

/// At most 40 characters of a value, for an error message.
fn bounded(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

/// A name as RFC 5545 writes them (iana-token, x-name): letters, digits and dashes.
fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A content line's name and what follows it (parameters and value, from `;` or `:`);
/// `None` for a line that is not a content line.
fn split_name(line: &str) -> Option<(&str, &str)> {
    let end = line.find([';', ':'])?;
    let (name, rest) = line.split_at(end);
    // A value must follow somewhere (after the parameters).
    if !is_name(name) || !rest.contains(':') {
        return None;
    }
    Some((name, rest))
}

/// Why `text` is not an iCalendar feed, when it is not: its first line must be
/// `BEGIN:VCALENDAR`.
fn not_icalendar(text: &str) -> Option<String> {
    // Any line break: a feed with classic Mac line ends (CR alone) is a feed too.
    let first = text
        .split(['\r', '\n'])
        .map(str::trim)
        .find(|l| !l.is_empty());
    let Some(first) = first else {
        return Some("it is empty".into());
    };
    if first.eq_ignore_ascii_case("BEGIN:VCALENDAR") {
        return None;
    }
    let head: String = first.chars().take(64).collect();
    let lower = head.to_ascii_lowercase();
    let found = if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        "it is an HTML page (a sign-in or error page?)"
    } else if lower.starts_with('<') {
        "it is HTML or XML"
    } else if lower.starts_with('{') || lower.starts_with('[') {
        "it is JSON"
    } else if text
        .chars()
        .take(512)
        .any(|c| c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()))
    {
        "it is binary data"
    } else {
        "it does not begin with BEGIN:VCALENDAR"
    };
    Some(found.into())
}

/// The feed's logical lines (folded lines joined) with the line number each starts on.
/// Line breaks are CRLF, LF or a lone CR; a line beginning with a space or a tab continues
/// the one before (RFC 5545 §3.1).
fn logical_lines(text: &str) -> impl Iterator<Item = (u32, Cow<'_, str>)> + '_ {
    let mut physical = physical_lines(text).peekable();
    let mut number: u32 = 0;
    std::iter::from_fn(move || {
        let first = physical.next()?;
        number = number.saturating_add(1);
        let start = number;
        // Most lines are not folded: borrowed, not copied.
        let mut line = Cow::Borrowed(first);
        while let Some(next) = physical.next_if(|l| l.starts_with([' ', '\t'])) {
            number = number.saturating_add(1);
            line.to_mut().push_str(&next[1..]);
        }
        Some((start, line))
    })
}

fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr2(b'\r', b'\n', rest.as_bytes()) {
            None => Some(std::mem::take(&mut rest)),
            Some(at) => {
                let line = &rest[..at];
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[at + skip..];
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(u32, String)> {
        logical_lines(text)
            .map(|(n, l)| (n, l.into_owned()))
            .collect()
    }

    #[test]
    fn folded_lines_are_joined_with_their_line_numbers() {
        assert_eq!(
            lines("A:1\r\nB:two\r\n  halves\r\n\tand more\nC:3\rD:4"),
            vec![
                (1, "A:1".to_owned()),
                (2, "B:two halvesand more".to_owned()),
                (5, "C:3".to_owned()),
                (6, "D:4".to_owned()),
            ]
        );
    }

    #[test]
    fn names_are_upper_cased_and_junk_lines_skipped() {
        let feed = "begin:vcalendar\nsummary;lang=en:Hi\nthis is no content line\nend:VCalendar\n";
        let out = normalize(feed.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(
            out.text,
            "BEGIN:VCALENDAR\r\nSUMMARY;lang=en:Hi\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(out.lines, vec![1, 2, 4]);
        assert_eq!((out.skipped_lines, out.first_skipped_line), (1, Some(3)));
        assert_eq!(out.line_at(out.text.find("END:").unwrap()), 4);
    }

    #[test]
    fn what_is_not_icalendar_is_named() {
        let found = |text: &str| match normalize(text.as_bytes(), &Limits::default()) {
            Err(FeedError::NotICalendar { found }) => found,
            other => panic!("{:?}", other.map(|n| n.text)),
        };
        assert!(found("<!DOCTYPE html><html>").contains("HTML page"));
        assert!(found("{\"value\": []}").contains("JSON"));
        assert!(found("").contains("empty"));
        assert!(found("\u{1}\u{2}\u{3}binary").contains("binary"));
        assert!(found("BEGIN:VCARD\nEND:VCARD").contains("BEGIN:VCALENDAR"));
        // CR alone ends lines too.
        let mac = "BEGIN:VCALENDAR\rBEGIN:VEVENT\rUID:a\rEND:VEVENT\rEND:VCALENDAR\r";
        assert_eq!(
            normalize(mac.as_bytes(), &Limits::default()).unwrap().lines,
            vec![1, 2, 3, 4, 5]
        );
    }
}
