//! The words Presently says outside its window, in English and German: the tray's menu,
//! tooltip and title, the reminders and other desktop notifications, and the texts the
//! built-in presence profiles write (the status message "In a meeting until 14:30", the
//! automatic replies). One table, one line per text with both languages, so none can be
//! missing one; [`tests`] checks each pair keeps the same placeholders.
//!
//! The window's own words live in the UI (`ui/src/i18n.ts`, `ui/src/settings-i18n.ts`).
//! What the user or their organization wrote (profile templates, profile names) stays as
//! written.

use crate::config::Lang;

macro_rules! catalogue {
    ($($(#[$doc:meta])* $key:ident => $en:literal, $de:literal;)*) => {
        /// A text of the catalogue; [`Text::get`] gives it in a language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text {
            $($(#[$doc])* $key,)*
        }

        impl Text {
            /// Every text, for the tests.
            pub const ALL: &'static [Text] = &[$(Text::$key,)*];

            fn en(self) -> &'static str {
                match self {
                    $(Text::$key => $en,)*
                }
            }

            fn de(self) -> &'static str {
                match self {
                    $(Text::$key => $de,)*
                }
            }
        }
    };
}

catalogue! {
    // The tray menu and tooltip.
    SignedOut => "Signed out", "Abgemeldet";
    SignIn => "Sign in…", "Anmelden…";
    Quit => "Quit Presently", "Presently beenden";
    TooltipSignedOut => "Presently — signed out", "Presently — abgemeldet";
    NothingElse => "Nothing else scheduled", "Nichts weiter geplant";
    TooltipNothingElse => "Presently — nothing else scheduled", "Presently — nichts weiter geplant";
    /// A menu item for the appointment under way.
    NowItem => "Now: {subject} (until {end})", "Jetzt: {subject} (bis {end})";
    /// The tooltip's appointment under way.
    NowUntil => "Now: {subject} until {end}", "Jetzt: {subject} bis {end}";
    /// The tooltip: what runs now, then what comes next.
    NowThenNext => "{now} · Next: {next}", "{now} · Danach: {next}";
    StartsInMinutes => "{subject} in {minutes} min", "{subject} in {minutes} Min.";
    StartsAt => "{subject} at {time}", "{subject} um {time}";
    Syncing => "Syncing…", "Synchronisiert…";
    SyncNow => "Sync now", "Jetzt synchronisieren";
    OpenPresently => "Open Presently", "Presently öffnen";
    Settings => "Settings…", "Einstellungen…";
    SignOut => "Sign out", "Abmelden";
    /// After the tooltip, in brackets.
    StateOffline => "offline", "keine Verbindung";
    StateSyncFailed => "sync failed", "Synchronisierung fehlgeschlagen";
    WithState => "{tooltip} ({state})", "{tooltip} ({state})";
    WithProblem => "{tooltip} · {problem}", "{tooltip} · {problem}";
    CannotOpen => "Presently cannot open its data", "Presently kann seine Daten nicht öffnen";
    TooltipCannotOpen => "Presently — {message}", "Presently — {message}";
    NoSubject => "(no subject)", "(kein Betreff)";
    /// In place of a subject in privacy mode.
    Appointment => "Appointment", "Termin";
    /// In place of the subject of an appointment marked private.
    PrivateAppointment => "Private appointment", "Privater Termin";
    // Privacy mode in the tray menu.
    PrivacyTurnOn => "Hide subjects and places (privacy mode)", "Betreff und Ort ausblenden (Privatsphäre-Modus)";
    PrivacyTurnOff => "Show subjects and places again", "Betreff und Ort wieder anzeigen";
    PrivacyLocked => "Privacy mode on (set by your organization)", "Privatsphäre-Modus an (von Ihrer Organisation festgelegt)";
    // Presence automation in the tray menu.
    AutomationPausedUntil => "Presence automation paused until {time}", "Präsenz-Automatik pausiert bis {time}";
    AutomationPaused => "Presence automation paused", "Präsenz-Automatik pausiert";
    ResumeAutomation => "Resume presence automation", "Präsenz-Automatik fortsetzen";
    PresenceUntil => "Presence: {profile} until {time}", "Präsenz: {profile} bis {time}";
    PresenceOwn => "Presence: your own", "Präsenz: Ihre eigene";
    NextProfile => "Next: {profile} at {time}", "Danach: {profile} um {time}";
    NextOwn => "Next: back to your own at {time}", "Danach: zurück zu Ihrer eigenen um {time}";
    SkipNext => "Don't switch for the next meeting ({subject})", "Für die nächste Besprechung nicht umschalten ({subject})";
    UnskipNext => "Switch for the next meeting again ({subject})", "Für die nächste Besprechung wieder umschalten ({subject})";
    LeaveAsSet => "Leave {resource} as I set it", "{resource} so lassen, wie ich es eingestellt habe";
    PauseHour => "Pause automation for 1 hour", "Automatik 1 Stunde pausieren";
    PauseUntilTomorrow => "Pause automation until tomorrow", "Automatik bis morgen pausieren";
    // What automation switches, as the tray and notifications name it.
    ResourcePresence => "Presence", "Präsenz";
    ResourceStatusMessage => "Status message", "Statusnachricht";
    ResourceForwarding => "Forwarding", "Rufumleitung";
    ResourceAutomaticReplies => "Automatic replies", "Automatische Antworten";
    // Reminders.
    ReminderInMinutes => "in {minutes} min", "in {minutes} Min.";
    ReminderStarted => "already started", "hat schon begonnen";
    ReminderWhere => "{when} · {place}", "{when} · {place}";
    Join => "Join", "Teilnehmen";
    Open => "Open", "Öffnen";
    OpenInOutlook => "Open in Outlook", "In Outlook öffnen";
    // A restore that keeps failing, as a notification.
    NotGivenBack => "{resource} not given back yet", "{resource} noch nicht zurückgegeben";
    RestoreTries => "{message} ({tries} tries so far{error}). Presently keeps trying until it lands.",
        "{message} (bisher {tries} Versuche{error}). Presently versucht es weiter, bis es gelingt.";
    LastError => "; last error: {error}", "; letzter Fehler: {error}";
    // A meeting's call ended before its appointment (presence.restore_when_call_ends = "ask").
    MeetingOver => "Meeting over? Restore your status now",
        "Besprechung vorbei? Status jetzt zurücksetzen";
    MeetingOverBody => "You left the call of {subject} 2 minutes ago; Presently keeps your meeting status until {end}.",
        "Sie haben den Anruf von {subject} vor 2 Minuten verlassen; Presently behält Ihren Besprechungsstatus bis {end} bei.";
    RestoreNow => "Restore now", "Jetzt zurücksetzen";
    // The built-in presence profiles: their names as shown (the configuration keeps the
    // English ones, which rules refer to) and the texts they write.
    ProfileInAMeeting => "In a meeting", "In einer Besprechung";
    ProfileOutOfOffice => "Out of office", "Abwesend";
    ProfileFocus => "Focus", "Konzentration";
    StatusInAMeeting => "In a meeting until {end}", "In einer Besprechung bis {end}";
    AutoReplyOutOfOffice => "I am out of the office and will reply when I am back.",
        "Ich bin nicht im Büro und antworte, sobald ich zurück bin.";
}

impl Text {
    /// The text in `lang`, placeholders (`{name}`) left in.
    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en(),
            Lang::De => self.de(),
        }
    }

    /// The text in `lang` with its placeholders filled from `args` (`("end", "14:30")`).
    /// A value is inserted as it is: a `{…}` in it is not looked at again.
    pub fn fill(self, lang: Lang, args: &[(&str, &str)]) -> String {
        let template = self.get(lang);
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let name = &after[..close];
                    match args.iter().find(|(k, _)| *k == name) {
                        Some((_, value)) => out.push_str(value),
                        None => {
                            out.push('{');
                            out.push_str(name);
                            out.push('}');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The abbreviated weekday, Monday first ("Tue 09:30", "Di 09:30").
pub fn weekday(lang: Lang, day: chrono::Weekday) -> &'static str {
    const EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const DE: [&str; 7] = ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"];
    let i = day.num_days_from_monday() as usize;
    match lang {
        Lang::En => EN[i],
        Lang::De => DE[i],
    }
}

/// A built-in profile's name in `lang`; any other name as it is.
pub fn profile_name(lang: Lang, name: &str) -> std::borrow::Cow<'_, str> {
    use crate::presence::profile::{FOCUS, IN_A_MEETING, OUT_OF_OFFICE};
    let text = match name {
        IN_A_MEETING => Text::ProfileInAMeeting,
        OUT_OF_OFFICE => Text::ProfileOutOfOffice,
        FOCUS => Text::ProfileFocus,
        other => return other.into(),
    };
    text.get(lang).into()
}

/// What presence automation switches, named in `lang`.
pub fn resource(lang: Lang, r: crate::presence::journal::Resource) -> &'static str {
    use crate::presence::journal::Resource;
    match r {
        Resource::Presence => Text::ResourcePresence,
        Resource::StatusMessage => Text::ResourceStatusMessage,
        Resource::Forwarding => Text::ResourceForwarding,
        Resource::AutomaticReplies => Text::ResourceAutomaticReplies,
    }
    .get(lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(text: &str) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .unwrap_or_else(|| panic!("unclosed {{ in {text:?}"));
            out.insert(&after[..close]);
            rest = &after[close + 1..];
        }
        out
    }

    /// Texts the same in both languages on purpose (punctuation around placeholders).
    const SAME_IN_BOTH: [Text; 4] = [
        Text::WithState,
        Text::WithProblem,
        Text::TooltipCannotOpen,
        Text::ReminderWhere,
    ];

    #[test]
    fn every_text_has_english_and_german_with_the_same_placeholders() {
        assert!(Text::ALL.len() > 50, "the whole catalogue is listed");
        for &text in Text::ALL {
            let (en, de) = (text.get(Lang::En), text.get(Lang::De));
            assert!(!en.trim().is_empty(), "{text:?} has no English");
            assert!(!de.trim().is_empty(), "{text:?} has no German");
            assert_eq!(
                placeholders(en),
                placeholders(de),
                "{text:?}: {en:?} and {de:?} differ in placeholders"
            );
            if !SAME_IN_BOTH.contains(&text) {
                assert_ne!(en, de, "{text:?} is not translated");
            }
            // Filled in, nothing of a placeholder is left.
            let names: Vec<&str> = placeholders(en).into_iter().collect();
            let args: Vec<(&str, &str)> = names.iter().map(|n| (*n, "x")).collect();
            for lang in [Lang::En, Lang::De] {
                let filled = text.fill(lang, &args);
                assert!(
                    !filled.contains('{') && !filled.contains('}'),
                    "{text:?}: {filled:?}"
                );
            }
        }
    }

    #[test]
    fn placeholders_are_filled_and_values_are_not_read_again() {
        assert_eq!(
            Text::StatusInAMeeting.fill(Lang::De, &[("end", "14:30")]),
            "In einer Besprechung bis 14:30"
        );
        assert_eq!(
            Text::StatusInAMeeting.fill(Lang::En, &[("end", "14:30")]),
            "In a meeting until 14:30"
        );
        assert_eq!(
            Text::StartsAt.fill(Lang::En, &[("subject", "{time}"), ("time", "09:30")]),
            "{time} at 09:30"
        );
        // A placeholder without a value stays visible rather than vanishing.
        assert_eq!(Text::StartsAt.fill(Lang::En, &[]), "{subject} at {time}");
    }

    #[test]
    fn weekdays_profiles_and_resources_have_both_languages() {
        use chrono::Weekday;
        assert_eq!(weekday(Lang::En, Weekday::Tue), "Tue");
        assert_eq!(weekday(Lang::De, Weekday::Tue), "Di");
        assert_eq!(weekday(Lang::De, Weekday::Sun), "So");
        assert_eq!(
            profile_name(Lang::De, "In a meeting"),
            "In einer Besprechung"
        );
        assert_eq!(profile_name(Lang::En, "In a meeting"), "In a meeting");
        assert_eq!(profile_name(Lang::De, "Kundentermin"), "Kundentermin");
        use crate::presence::journal::Resource;
        for r in [
            Resource::Presence,
            Resource::StatusMessage,
            Resource::Forwarding,
            Resource::AutomaticReplies,
        ] {
            assert_eq!(resource(Lang::En, r), r.label());
            assert_ne!(resource(Lang::De, r), r.label());
        }
    }
}
