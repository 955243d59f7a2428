//! Presence profiles: what an appointment switches (Teams presence, status message, call
//! forwarding, automatic replies), and the built-in ones that need no configuration.

use super::InvalidPolicy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Teams availability, spelled as Graph spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub enum Availability {
    Available,
    Busy,
    DoNotDisturb,
    BeRightBack,
    Away,
    Offline,
}

/// Teams activity, spelled as Graph spells it (only those the API accepts for setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub enum Activity {
    Available,
    InACall,
    InAConferenceCall,
    Busy,
    DoNotDisturb,
    BeRightBack,
    Away,
    OffWork,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "Available",
            Availability::Busy => "Busy",
            Availability::DoNotDisturb => "DoNotDisturb",
            Availability::BeRightBack => "BeRightBack",
            Availability::Away => "Away",
            Availability::Offline => "Offline",
        }
    }
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Available => "Available",
            Activity::InACall => "InACall",
            Activity::InAConferenceCall => "InAConferenceCall",
            Activity::Busy => "Busy",
            Activity::DoNotDisturb => "DoNotDisturb",
            Activity::BeRightBack => "BeRightBack",
            Activity::Away => "Away",
            Activity::OffWork => "OffWork",
        }
    }
}

/// How the presence is set: as the app's own session (`setPresence`, renewed while
/// active, `clearPresence` at the end) or as the user's preferred presence
/// (`setUserPreferredPresence` with an expiration, cleared at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PresenceMode {
    Session,
    Preferred,
}

/// The availability/activity pairs `setPresence` accepts.
pub const SESSION_PAIRS: [(Availability, Activity); 4] = [
    (Availability::Available, Activity::Available),
    (Availability::Busy, Activity::InACall),
    (Availability::Busy, Activity::InAConferenceCall),
    (Availability::Away, Activity::Away),
];

/// The availability/activity pairs `setUserPreferredPresence` accepts.
pub const PREFERRED_PAIRS: [(Availability, Activity); 6] = [
    (Availability::Available, Activity::Available),
    (Availability::Busy, Activity::Busy),
    (Availability::DoNotDisturb, Activity::DoNotDisturb),
    (Availability::BeRightBack, Activity::BeRightBack),
    (Availability::Away, Activity::Away),
    (Availability::Offline, Activity::OffWork),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct TeamsPresence {
    pub availability: Availability,
    pub activity: Activity,
    pub mode: PresenceMode,
}

impl TeamsPresence {
    /// A checked presence: only the pairs the API accepts for `mode`.
    pub fn new(
        availability: Availability,
        activity: Activity,
        mode: PresenceMode,
    ) -> Result<Self, InvalidPolicy> {
        let presence = Self {
            availability,
            activity,
            mode,
        };
        presence
            .validate()
            .map_err(|reason| InvalidPolicy::new("presence.profiles.teams", reason))?;
        Ok(presence)
    }

    /// A preferred presence with the activity the API pairs with `availability`.
    pub fn preferred(availability: Availability) -> Self {
        let activity = PREFERRED_PAIRS
            .iter()
            .find(|(a, _)| *a == availability)
            .map(|(_, act)| *act)
            .unwrap_or(Activity::Available);
        Self {
            availability,
            activity,
            mode: PresenceMode::Preferred,
        }
    }

    /// Whether the API accepts this pair for this mode; the reason names the allowed pairs.
    pub fn validate(&self) -> Result<(), String> {
        let (pairs, call): (&[(Availability, Activity)], &str) = match self.mode {
            PresenceMode::Session => (&SESSION_PAIRS, "a session presence (setPresence)"),
            PresenceMode::Preferred => (
                &PREFERRED_PAIRS,
                "a preferred presence (setUserPreferredPresence)",
            ),
        };
        if pairs.contains(&(self.availability, self.activity)) {
            return Ok(());
        }
        let allowed: Vec<String> = pairs
            .iter()
            .map(|(a, b)| format!("{}/{}", a.as_str(), b.as_str()))
            .collect();
        Err(format!(
            "{}/{} cannot be set as {call}; allowed: {}",
            self.availability.as_str(),
            self.activity.as_str(),
            allowed.join(", ")
        ))
    }
}

impl fmt::Display for TeamsPresence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            PresenceMode::Session => "session",
            PresenceMode::Preferred => "preferred",
        };
        if self.availability.as_str() == self.activity.as_str() {
            write!(f, "{} ({mode})", self.availability.as_str())
        } else {
            write!(
                f,
                "{}/{} ({mode})",
                self.availability.as_str(),
                self.activity.as_str()
            )
        }
    }
}

/// Call forwarding while the profile holds (through the configured provider).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Forwarding {
    Off,
    Voicemail,
    /// A phone number or a contact the provider understands.
    Number(String),
}

impl fmt::Display for Forwarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Forwarding::Off => f.write_str("off"),
            Forwarding::Voicemail => f.write_str("to voicemail"),
            Forwarding::Number(n) => write!(f, "to {n}"),
        }
    }
}

/// Automatic replies (out of office), scheduled for the profile's span.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct AutoReplies {
    pub internal: String,
    pub external: String,
}

/// Default priority of a configured profile that does not name one.
pub const DEFAULT_PRIORITY: u8 = 50;

fn default_priority() -> u8 {
    DEFAULT_PRIORITY
}

/// A named presence profile. Every part is optional: what a profile leaves out stays as
/// the user had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    /// Among overlapping appointments, the profile with the highest priority holds.
    #[serde(default = "default_priority")]
    pub priority: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<TeamsPresence>,
    /// A template: `{end}` is the end of the covering block (local HH:MM), `{subject}` the
    /// appointment's subject (a neutral text for private appointments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding: Option<Forwarding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_replies: Option<AutoReplies>,
}

pub const IN_A_MEETING: &str = "In a meeting";
pub const OUT_OF_OFFICE: &str = "Out of office";
pub const FOCUS: &str = "Focus";

/// What the built-in profiles depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The user turned automatic replies on (`features.automatic_replies`).
    pub automatic_replies: bool,
    /// A call-forwarding provider is configured.
    pub forwarding_provider: bool,
}

/// The subject shown in place of a private appointment's.
pub const PRIVATE_SUBJECT: &str = "Private appointment";

/// Longest status message Teams shows.
pub const MAX_STATUS_MESSAGE: usize = 280;

/// The profiles that need no configuration: "Out of office" (priority 30) > "Focus" (20) >
/// "In a meeting" (10).
pub fn builtin_profiles(caps: Capabilities) -> Vec<Profile> {
    builtin_profiles_in(caps, crate::config::Lang::En)
}

/// [`builtin_profiles`] whose texts (the status message and the automatic replies) are in
/// `lang`; their names stay English, as rules refer to them.
pub fn builtin_profiles_in(caps: Capabilities, lang: crate::config::Lang) -> Vec<Profile> {
    use crate::i18n::Text;
    vec![
        Profile {
            name: IN_A_MEETING.into(),
            priority: 10,
            teams: Some(TeamsPresence::preferred(Availability::Busy)),
            status_message: Some(Text::StatusInAMeeting.get(lang).into()),
            forwarding: None,
            automatic_replies: None,
        },
        Profile {
            name: OUT_OF_OFFICE.into(),
            priority: 30,
            teams: Some(TeamsPresence::preferred(Availability::Away)),
            status_message: None,
            forwarding: caps.forwarding_provider.then_some(Forwarding::Voicemail),
            automatic_replies: caps.automatic_replies.then(|| AutoReplies {
                internal: Text::AutoReplyOutOfOffice.get(lang).into(),
                external: Text::AutoReplyOutOfOffice.get(lang).into(),
            }),
        },
        Profile {
            name: FOCUS.into(),
            priority: 20,
            teams: Some(TeamsPresence::preferred(Availability::DoNotDisturb)),
            status_message: None,
            forwarding: None,
            automatic_replies: None,
        },
    ]
}

impl Profile {
    /// Checks the parts that parse but that the services would refuse.
    pub fn validate(&self) -> Result<(), InvalidPolicy> {
        let name = &self.name;
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control)
        {
            return Err(InvalidPolicy::new(
                "presence.profiles.name",
                format!("profile name {name:?} must be 1 to 64 printable characters"),
            ));
        }
        if let Some(teams) = &self.teams {
            teams.validate().map_err(|reason| {
                InvalidPolicy::new(
                    "presence.profiles.teams",
                    format!("profile {name:?}: {reason}"),
                )
            })?;
        }
        if let Some(template) = &self.status_message {
            check_template(template).map_err(|reason| {
                InvalidPolicy::new(
                    "presence.profiles.status_message",
                    format!("profile {name:?}: {reason}"),
                )
            })?;
        }
        if let Some(Forwarding::Number(number)) = &self.forwarding {
            let n = number.trim();
            if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
                return Err(InvalidPolicy::new(
                    "presence.profiles.forwarding",
                    format!(
                        "profile {name:?}: forwarding needs a number or contact of 1 to 100 printable characters"
                    ),
                ));
            }
        }
        if let Some(replies) = &self.automatic_replies {
            for text in [&replies.internal, &replies.external] {
                if text.len() > 8000 {
                    return Err(InvalidPolicy::new(
                        "presence.profiles.automatic_replies",
                        format!("profile {name:?}: automatic replies are limited to 8000 bytes"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The status message for an appointment: `{end}` and `{subject}` filled in. A private
    /// appointment's subject is replaced by a neutral text.
    pub fn render_status(&self, end_local: &str, subject: Option<&str>) -> Option<String> {
        self.render_status_in(end_local, subject, PRIVATE_SUBJECT)
    }

    /// [`Profile::render_status`] with `private_subject` in place of a private
    /// appointment's subject ("Privater Termin").
    pub fn render_status_in(
        &self,
        end_local: &str,
        subject: Option<&str>,
        private_subject: &str,
    ) -> Option<String> {
        self.status_message.as_ref().map(|t| {
            t.replace("{end}", end_local)
                .replace("{subject}", subject.unwrap_or(private_subject))
        })
    }
}

/// Status message templates know `{end}` and `{subject}` and nothing else.
fn check_template(template: &str) -> Result<(), String> {
    if template.chars().count() > MAX_STATUS_MESSAGE {
        return Err(format!(
            "the status message is longer than {MAX_STATUS_MESSAGE} characters"
        ));
    }
    if template.chars().any(char::is_control) {
        return Err("the status message contains control characters".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "the status message has a '{' without '}'".to_owned())?;
        let name = &after[..close];
        if name != "end" && name != "subject" {
            return Err(format!(
                "unknown placeholder {{{name}}} in the status message; use {{end}} or {{subject}}"
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pairs_the_api_accepts_validate() {
        assert!(
            TeamsPresence::new(Availability::Busy, Activity::InACall, PresenceMode::Session)
                .is_ok()
        );
        let err = TeamsPresence::new(
            Availability::DoNotDisturb,
            Activity::DoNotDisturb,
            PresenceMode::Session,
        )
        .unwrap_err();
        assert!(err.reason.contains("setPresence"), "{err}");
        assert!(err.reason.contains("Busy/InACall"), "{err}");
        let err = TeamsPresence::new(
            Availability::Busy,
            Activity::InACall,
            PresenceMode::Preferred,
        )
        .unwrap_err();
        assert!(err.reason.contains("Busy/Busy"), "{err}");
        assert!(TeamsPresence::new(
            Availability::Offline,
            Activity::OffWork,
            PresenceMode::Preferred
        )
        .is_ok());
        for (a, b) in PREFERRED_PAIRS {
            assert_eq!(TeamsPresence::preferred(a).activity, b);
        }
    }

    #[test]
    fn builtins_follow_the_capabilities_and_priorities() {
        let plain = builtin_profiles(Capabilities::default());
        let oof = plain.iter().find(|p| p.name == OUT_OF_OFFICE).unwrap();
        assert_eq!(oof.forwarding, None);
        assert_eq!(oof.automatic_replies, None);
        let full = builtin_profiles(Capabilities {
            automatic_replies: true,
            forwarding_provider: true,
        });
        let oof = full.iter().find(|p| p.name == OUT_OF_OFFICE).unwrap();
        assert_eq!(oof.forwarding, Some(Forwarding::Voicemail));
        assert!(oof.automatic_replies.is_some());
        let prio = |n: &str| plain.iter().find(|p| p.name == n).unwrap().priority;
        assert!(prio(OUT_OF_OFFICE) > prio(FOCUS) && prio(FOCUS) > prio(IN_A_MEETING));
        for p in full.iter().chain(&plain) {
            p.validate().unwrap();
        }
    }

    #[test]
    fn the_builtin_texts_follow_the_language_and_user_templates_stay_as_written() {
        use crate::config::Lang;
        let german = builtin_profiles_in(
            Capabilities {
                automatic_replies: true,
                forwarding_provider: false,
            },
            Lang::De,
        );
        let meeting = german.iter().find(|p| p.name == IN_A_MEETING).unwrap();
        assert_eq!(
            meeting.render_status("14:30", Some("Sync")).as_deref(),
            Some("In einer Besprechung bis 14:30")
        );
        let oof = german.iter().find(|p| p.name == OUT_OF_OFFICE).unwrap();
        let replies = oof.automatic_replies.as_ref().unwrap();
        assert!(
            replies.internal.starts_with("Ich bin nicht im Büro"),
            "{replies:?}"
        );
        assert_eq!(replies.internal, replies.external);
        let english = builtin_profiles(Capabilities::default());
        let meeting = english.iter().find(|p| p.name == IN_A_MEETING).unwrap();
        assert_eq!(
            meeting.render_status("14:30", None).as_deref(),
            Some("In a meeting until 14:30")
        );
        // A profile the user wrote is used as written, whatever the language.
        let config = crate::presence::PresenceConfig {
            profiles: vec![Profile {
                name: IN_A_MEETING.into(),
                status_message: Some("Busy till {end}".into()),
                ..meeting.clone()
            }],
            ..crate::presence::PresenceConfig::default()
        };
        let policy =
            crate::presence::Policy::from_config_in(&config, Capabilities::default(), Lang::De)
                .unwrap();
        let p = policy.profile(IN_A_MEETING).unwrap();
        assert_eq!(
            p.render_status("14:30", None).as_deref(),
            Some("Busy till 14:30")
        );
        // The neutral text for a private appointment's subject is ours: in the language.
        let p = Profile {
            status_message: Some("{subject} bis {end}".into()),
            ..p.clone()
        };
        assert_eq!(
            p.render_status_in("14:30", None, policy.private_subject())
                .as_deref(),
            Some("Privater Termin bis 14:30")
        );
    }

    #[test]
    fn templates_know_end_and_subject_only() {
        assert!(check_template("In a meeting until {end}").is_ok());
        assert!(check_template("{subject} until {end}").is_ok());
        assert!(check_template("until {ende}")
            .unwrap_err()
            .contains("{ende}"));
        assert!(check_template("until {end").is_err());
        let p = Profile {
            status_message: Some("{subject} until {end}".into()),
            ..builtin_profiles(Capabilities::default())[0].clone()
        };
        assert_eq!(
            p.render_status("10:30", None).unwrap(),
            "Private appointment until 10:30"
        );
        assert_eq!(
            p.render_status("10:30", Some("Sync")).unwrap(),
            "Sync until 10:30"
        );
    }
}
