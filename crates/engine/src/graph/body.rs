//! What Presently reads from an event's body while parsing it, without keeping the body:
//! its text (for the meeting ID and passcode of an invitation), and the user's own text above
//! a Teams invitation in the body preview.
//!
//! Work is bounded: only the first [`MAX_BODY_SCAN_BYTES`] of a body are looked at.

use std::borrow::Cow;

/// How much of a body is looked at. Invitations put their block after the organizer's own
/// text, and Outlook's HTML carries a few kB of style first; a body longer than this is a
/// document pasted into an invitation, whose tail is not worth the work.
pub const MAX_BODY_SCAN_BYTES: usize = 256 * 1024;

/// Longest meeting ID kept (Teams: 12 to 15 digits in groups of three; Zoom: 9 to 11).
const MAX_MEETING_ID_DIGITS: usize = 20;
/// Fewest digits a meeting ID has (anything shorter is some other number).
const MIN_MEETING_ID_DIGITS: usize = 6;
/// Longest passcode kept (Teams writes 6 characters, Zoom at most 10).
const MAX_PASSCODE_CHARS: usize = 32;

/// `text` cut to at most `max` bytes, on a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where `needle` (ASCII) first occurs in `haystack`, ignoring ASCII case. Candidates are
/// found by their first byte in either case with `memchr` (vectorised): bodies are scanned
/// for several labels each, and a byte-by-byte compare was the parser's largest cost.
pub fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
    let (&first, _) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut from = 0;
    while from <= last_start {
        let at = from
            + memchr::memchr2(
                first.to_ascii_lowercase(),
                first.to_ascii_uppercase(),
                &hay[from..=last_start],
            )?;
        if hay[at..at + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Decodes the character references that matter in a body's text and links: `&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric ones (`&#39;`, `&#x2F;`).
/// Anything else is left as written.
pub fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // A reference is short: look for its `;` within the next few characters.
        let decoded = rest[1..]
            .char_indices()
            .take(10)
            .find(|&(_, c)| c == ';')
            .and_then(|(semi, _)| {
                let name = &rest[1..=semi];
                let ch = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => name.strip_prefix('#').and_then(|num| {
                        let code = match num.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => num.parse().ok(),
                        };
                        code.and_then(char::from_u32)
                    }),
                };
                ch.map(|c| (c, semi + 2))
            });
        match decoded {
            Some((ch, len)) => {
                out.push(ch);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Elements that start a new line of text.
fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "br" | "p"
            | "div"
            | "tr"
            | "li"
            | "ul"
            | "ol"
            | "table"
            | "hr"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "title"
    )
}

/// The text of an HTML body: tags become spaces (line breaks for block elements), comments,
/// `<style>`, `<script>` and `<head>`'s contents are dropped, character references decoded.
/// The caller bounds `html` ([`head`]).
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !closing && matches!(name.as_str(), "style" | "script" | "head") {
            // Their content is not text: skip to the closing tag.
            let close = format!("</{name}");
            rest = find_ignore_ascii_case(rest, &close).map_or("", |end| &rest[end..]);
            continue;
        }
        out.push(if is_block(&name) { '\n' } else { ' ' });
    }
    out.push_str(rest);
    decode_entities(&out).into_owned()
}

/// The meeting ID and passcode an invitation's text gives (Teams: "Meeting ID: 123 456 789
/// 012", "Passcode: abc123"; in German "Besprechungs-ID", "Kenncode"; Zoom writes the
/// same English labels, "Meeting-ID" in German).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeetingCodes {
    pub id: Option<String>,
    pub passcode: Option<String>,
}

const MEETING_ID_LABELS: &[&str] = &["Meeting ID", "Meeting-ID", "Besprechungs-ID"];
const PASSCODE_LABELS: &[&str] = &["Passcode", "Kenncode"];

/// Whether `text` (even HTML) names a meeting ID or passcode at all: the text of a body
/// is worked out only then.
pub fn may_hold_meeting_codes(text: &str) -> bool {
    MEETING_ID_LABELS
        .iter()
        .chain(PASSCODE_LABELS)
        .any(|label| find_ignore_ascii_case(text, label).is_some())
}

/// Finds the meeting ID and passcode in `text` (the text of a body, or a body preview).
pub fn meeting_codes(text: &str) -> MeetingCodes {
    MeetingCodes {
        id: labelled_value(text, MEETING_ID_LABELS, meeting_id_at),
        passcode: labelled_value(text, PASSCODE_LABELS, passcode_at),
    }
}

/// The first value `read` accepts after one of `labels` and a colon.
fn labelled_value(text: &str, labels: &[&str], read: fn(&str) -> Option<String>) -> Option<String> {
    for label in labels {
        let mut from = 0;
        while let Some(at) = find_ignore_ascii_case(&text[from..], label) {
            let after = &text[from + at + label.len()..];
            from += at + label.len();
            let Some(value) = after
                .trim_start_matches(is_space)
                .strip_prefix(':')
                .map(|v| v.trim_start_matches(is_space))
            else {
                continue;
            };
            if let Some(found) = read(value) {
                return Some(found);
            }
        }
    }
    None
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{a0}'
}

/// Digits in groups separated by single spaces: "123 456 789 012".
fn meeting_id_at(text: &str) -> Option<String> {
    let mut id = String::new();
    let mut digits = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits += 1;
            if digits > MAX_MEETING_ID_DIGITS {
                return None;
            }
            id.push(c);
        } else if is_space(c) && chars.peek().is_some_and(char::is_ascii_digit) {
            id.push(' ');
        } else {
            break;
        }
    }
    (digits >= MIN_MEETING_ID_DIGITS).then_some(id)
}

/// A passcode: the characters up to the next space or line break.
fn passcode_at(text: &str) -> Option<String> {
    let code: String = text
        .chars()
        .take_while(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>'))
        .take(MAX_PASSCODE_CHARS + 1)
        .collect();
    (!code.is_empty() && code.chars().count() <= MAX_PASSCODE_CHARS).then_some(code)
}

/// The headings a Teams invitation block starts with (English, German; older and newer).
const TEAMS_HEADINGS: &[&str] = &[
    "Microsoft Teams meeting",
    "Microsoft Teams-Besprechung",
    "Microsoft Teams Need help",
    "Microsoft Teams Benötigen Sie Hilfe",
];

/// The user's own text above a Teams invitation in a body preview: Teams appends a line
/// of underscores, "Microsoft Teams meeting", "Join on your computer, mobile app or room
/// device", the meeting ID and passcode and links, which say nothing the detail pane does
/// not show better. Text that is not followed by such a block comes back whole.
pub fn without_teams_invitation(preview: &str) -> &str {
    let cut = underscore_rule_before_teams(preview).or_else(|| teams_heading_line(preview));
    match cut {
        Some(at) => preview[..at].trim_end(),
        None => preview,
    }
}

/// How the line under a Teams invitation's rule begins: "Microsoft Teams meeting",
/// "Microsoft Teams-Besprechung", "Microsoft Teams Need help?" and the older "Join
/// Microsoft Teams Meeting", "An Microsoft Teams-Besprechung teilnehmen".
const TEAMS_RULE_HEADINGS: &[&str] = &[
    "Microsoft Teams",
    "Join Microsoft Teams",
    "An Microsoft Teams-Besprechung",
];

/// Where a rule of underscores starts whose next line is a Teams invitation's heading.
fn underscore_rule_before_teams(text: &str) -> Option<usize> {
    const MIN_RULE: usize = 10;
    let mut from = 0;
    while let Some(at) = text[from..].find('_') {
        let start = from + at;
        let rule_len = text[start..].len() - text[start..].trim_start_matches('_').len();
        let after =
            text[start + rule_len..].trim_start_matches(|c: char| c.is_whitespace() || c == '_');
        if rule_len >= MIN_RULE
            && TEAMS_RULE_HEADINGS
                .iter()
                .any(|h| starts_with_ignore_ascii_case(after, h))
        {
            return Some(start);
        }
        from = start + rule_len;
    }
    None
}

/// Where a line that is a Teams invitation heading starts (a block without the rule).
fn teams_heading_line(text: &str) -> Option<usize> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if TEAMS_HEADINGS
            .iter()
            .any(|h| starts_with_ignore_ascii_case(trimmed, h))
        {
            return Some(line_start);
        }
        line_start += line.len();
    }
    None
}

fn starts_with_ignore_ascii_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_decoded_and_unknown_ones_left() {
        assert_eq!(
            decode_entities("a&amp;b &lt;x&gt; &#39;q&#x27; &nbsp;&copy; & &amp"),
            "a&b <x> 'q' \u{a0}&copy; & &amp"
        );
        assert!(matches!(decode_entities("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn html_becomes_text_without_styles_comments_or_tags() {
        let html = "<html><head><style>p{color:red}</style></head><body><!-- x > y --><p>Hi&nbsp;there</p><div><span>Meeting ID: </span><span>355 132 640 047</span></div><div>Passcode: <b>xgUo7v</b></div></body></html>";
        let text = html_to_text(html);
        assert!(!text.contains("color"), "{text:?}");
        assert!(!text.contains("x > y"), "{text:?}");
        assert!(text.contains("Hi\u{a0}there"), "{text:?}");
        assert_eq!(
            meeting_codes(&text),
            MeetingCodes {
                id: Some("355 132 640 047".into()),
                passcode: Some("xgUo7v".into())
            }
        );
    }

    #[test]
    fn head_cuts_on_a_character_boundary() {
        assert_eq!(head("äbc", 1), "");
        assert_eq!(head("äbc", 2), "ä");
        assert_eq!(head("abc", 10), "abc");
    }

    #[test]
    fn meeting_codes_in_english_and_german_and_nothing_else() {
        let de = "Besprechungs-ID: 312 456 789 012\nKenncode: Ab3dEf\nTeams herunterladen";
        assert_eq!(
            meeting_codes(de),
            MeetingCodes {
                id: Some("312 456 789 012".into()),
                passcode: Some("Ab3dEf".into())
            }
        );
        // A phone conference ID is no meeting ID; a number too short is none either.
        let none = "Phone Conference ID: 123 456 789#\nMeeting ID: 42\nPasscode:";
        assert_eq!(meeting_codes(none), MeetingCodes::default());
        // A label without a colon is prose.
        assert_eq!(meeting_codes("the meeting id is 123456789").id, None);
        let long = format!("Passcode: {}", "x".repeat(40));
        assert_eq!(meeting_codes(&long).passcode, None);
    }

    #[test]
    fn the_teams_block_is_cut_from_a_preview_and_the_users_text_kept() {
        let preview = "Let's go through the launch checklist.\r\n\r\n________________________________________________________________________________\r\nMicrosoft Teams meeting\r\nJoin on your computer, mobile app or room device\r\nClick here to join the meeting\r\nMeeting ID: 355 132 640 047\r\nPasscode: xgUo7v";
        assert_eq!(
            without_teams_invitation(preview),
            "Let's go through the launch checklist."
        );
        // The older layout (Microsoft's example in "Create or set an event as an online
        // meeting in an Outlook calendar").
        assert_eq!(
            without_teams_invitation("Does this time work for you?\r\n________________________________________________________________________________\r\nJoin Microsoft Teams Meeting\r\n+1 323-555-0166   United States, Los Angeles (Toll)\r\nConference ID: 291 633 251#\r\nLocal numbers | Reset PIN | Lea"),
            "Does this time work for you?"
        );
        // Whitespace collapsed into one line, German, and nothing of the user's own.
        assert_eq!(
            without_teams_invitation(
                "Agenda ______________ Microsoft Teams-Besprechung Nehmen Sie teil"
            ),
            "Agenda"
        );
        assert_eq!(
            without_teams_invitation("Microsoft Teams meeting\r\nJoin on your computer"),
            ""
        );
        // A rule that is the user's own, and prose that names Teams, stay.
        let own = "Notes\n__________________\nBring the budget. We discuss the Microsoft Teams meeting policy.";
        assert_eq!(without_teams_invitation(own), own);
    }
}
