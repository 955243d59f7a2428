//! Presence automation: profiles (what to switch), rules (which appointment switches to
//! which profile), the sans-IO scheduler (when; the plan is the scheduler stepped through
//! a window), and the sans-IO driver (what to write to which of the user's resources, and
//! what to give back when the appointments end).
//!
//! Everything but [`runtime`] and [`apply`] does no I/O and reads no clock. The runtime
//! moves bytes between the [`driver::Driver`] and the ports ([`ports`]): the plan's inputs
//! and the journal in the store, Graph's presence and mailbox settings ([`apply`] builds
//! and reads their bodies), and the call-forwarding provider ([`forwarding`]).

pub mod apply;
pub mod call_watch;
pub mod driver;
#[cfg(test)]
mod driver_model;
pub mod forwarding;
pub mod journal;
pub mod plan;
pub mod ports;
pub mod profile;
pub mod rules;
pub mod runtime;
pub mod scheduler;
#[cfg(test)]
pub(crate) mod tests;

use crate::model::{Appointment, Calendar};
use chrono::{DateTime, Utc};
use profile::{builtin_profiles, Capabilities, Forwarding, Profile};
use rules::{default_rules, Rule};
use serde::{Deserialize, Serialize};

pub use plan::{plan, plan_skipping, HistoryEntry, PlannedTransition};
pub use scheduler::{Action, Desired, Scheduler, Transition, TransitionKind};

/// A profile or rule that cannot work; `key` is the configuration key it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct InvalidPolicy {
    pub key: String,
    pub reason: String,
}

impl InvalidPolicy {
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The `[presence]` configuration section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// Profiles added to the built-in ones; one with a built-in's name replaces it.
    pub profiles: Vec<Profile>,
    /// Rules tried in order before the default rules.
    pub rules: Vec<Rule>,
    /// Whether the default rules (busy → In a meeting, oof → Out of office) follow.
    pub default_rules: bool,
    /// The call-forwarding provider (`[presence.forwarding]`); none by default.
    pub forwarding: forwarding::ForwardingConfig,
    /// When the user leaves an online meeting's call and stays out for 2 minutes before
    /// the appointment ends: `ask` (a notification offers "Restore now"), `auto` (restore
    /// at once, as the appointment's end would), or `off` (wait for the end).
    pub restore_when_call_ends: CallEndedRestore,
}

/// What happens when a meeting's call ends before its appointment
/// (`presence.restore_when_call_ends`; see [`call_watch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum CallEndedRestore {
    /// A notification offers "Restore now".
    #[default]
    Ask,
    /// Restore at once.
    Auto,
    /// Nothing: the appointment's end restores.
    Off,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            profiles: Vec::new(),
            rules: Vec::new(),
            default_rules: true,
            forwarding: forwarding::ForwardingConfig::default(),
            restore_when_call_ends: CallEndedRestore::default(),
        }
    }
}

impl PresenceConfig {
    pub fn validate(&self) -> Result<(), InvalidPolicy> {
        self.forwarding.validate()?;
        Policy::from_config(self, Capabilities::default()).map(|_| ())
    }
}

/// Validated profiles and rules: every rule names an existing profile, every profile can
/// be applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    profiles: Vec<Profile>,
    rules: Vec<Rule>,
    /// The primary (default) calendar's id, once known: rules naming no calendar apply to
    /// its appointments only.
    primary_calendar: Option<String>,
    /// What a status message says in place of a private appointment's subject (in the
    /// app's language).
    private_subject: &'static str,
}

impl Policy {
    pub fn new(profiles: Vec<Profile>, rules: Vec<Rule>) -> Result<Self, InvalidPolicy> {
        for (i, p) in profiles.iter().enumerate() {
            p.validate()?;
            if profiles[..i].iter().any(|q| q.name == p.name) {
                return Err(InvalidPolicy::new(
                    "presence.profiles.name",
                    format!("there are two profiles named {:?}", p.name),
                ));
            }
        }
        for (i, r) in rules.iter().enumerate() {
            r.validate(i)?;
            if let Some(name) = &r.profile {
                if !profiles.iter().any(|p| &p.name == name) {
                    let known: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
                    return Err(InvalidPolicy::new(
                        "presence.rules.profile",
                        format!(
                            "rule {}: there is no profile {name:?}; known profiles: {}",
                            i + 1,
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            profiles,
            rules,
            primary_calendar: None,
            private_subject: profile::PRIVATE_SUBJECT,
        })
    }

    /// The built-in profiles and the default rules.
    pub fn defaults(caps: Capabilities) -> Self {
        Self {
            profiles: builtin_profiles(caps),
            rules: default_rules(),
            primary_calendar: None,
            private_subject: profile::PRIVATE_SUBJECT,
        }
    }

    pub fn from_config(config: &PresenceConfig, caps: Capabilities) -> Result<Self, InvalidPolicy> {
        Self::from_config_in(config, caps, crate::config::Lang::En)
    }

    /// [`Policy::from_config`] with the built-in profiles' texts in `lang` (what the user
    /// or the organization wrote stays as written).
    pub fn from_config_in(
        config: &PresenceConfig,
        caps: Capabilities,
        lang: crate::config::Lang,
    ) -> Result<Self, InvalidPolicy> {
        let mut profiles = profile::builtin_profiles_in(caps, lang);
        let builtins = profiles.len();
        let mut replaced = vec![false; builtins];
        for p in &config.profiles {
            match profiles[..builtins].iter().position(|q| q.name == p.name) {
                Some(i) if !replaced[i] => {
                    profiles[i] = p.clone();
                    replaced[i] = true;
                }
                // A second profile with the same name is reported by `Policy::new`.
                _ => profiles.push(p.clone()),
            }
        }
        let mut rules = config.rules.clone();
        if config.default_rules {
            rules.extend(default_rules());
        }
        let mut policy = Self::new(profiles, rules)?;
        policy.private_subject = crate::i18n::Text::PrivateAppointment.get(lang);
        Ok(policy)
    }

    /// What a status message says in place of a private appointment's subject.
    pub fn private_subject(&self) -> &'static str {
        self.private_subject
    }

    /// Rules naming a calendar by its name get its id, and the primary calendar (the one
    /// the store marks default) becomes the only one rules without a calendar apply to.
    pub fn resolve_calendar_names(mut self, calendars: &[Calendar]) -> Self {
        self.primary_calendar = calendars
            .iter()
            .find(|c| c.is_default)
            .map(|c| c.id.clone());
        for rule in &mut self.rules {
            if let Some(name) = &rule.calendar {
                if !calendars.iter().any(|c| &c.id == name) {
                    if let Some(c) = calendars.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                        rule.calendar = Some(c.id.clone());
                    }
                }
            }
        }
        self
    }

    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The index (in [`Policy::profiles`]) of the profile `a` switches to, if any.
    pub fn profile_index_for(&self, a: &Appointment) -> Option<usize> {
        let name = rules::first_match(&self.rules, a, self.primary_calendar.as_deref())?
            .profile
            .as_ref()?;
        self.profiles.iter().position(|p| &p.name == name)
    }

    pub fn profile_for(&self, a: &Appointment) -> Option<&Profile> {
        self.profile_index_for(a).map(|i| &self.profiles[i])
    }
}

/// The user's presence as read from `GET /me/presence`, spelled as Graph answered (compare
/// without case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub struct Presence {
    pub availability: String,
    pub activity: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum AutoRepliesStatus {
    Disabled,
    AlwaysEnabled,
    Scheduled,
    /// A value this version does not know (kept verbatim in [`AutoRepliesSetting::raw`]).
    #[serde(other)]
    Unknown,
}

impl AutoRepliesStatus {
    /// Graph's enum value, compared without case: Microsoft's own `mailboxSettings` example
    /// answers `"Scheduled"` next to `"alwaysEnabled"`.
    pub fn parse(text: &str) -> Self {
        [Self::Disabled, Self::AlwaysEnabled, Self::Scheduled]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
            .unwrap_or(Self::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::AlwaysEnabled => "alwaysEnabled",
            Self::Scheduled => "scheduled",
            Self::Unknown => "unknown",
        }
    }
}

/// `automaticRepliesSetting` as read from (and written back to) the mailbox settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AutoRepliesSetting {
    pub status: AutoRepliesStatus,
    pub internal: String,
    pub external: String,
    pub scheduled_start: Option<DateTime<Utc>>,
    pub scheduled_end: Option<DateTime<Utc>>,
    /// The object exactly as Graph answered it (OData annotations left out): a restore
    /// writes it back verbatim, so values this version does not know (or spells
    /// differently) survive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What the user had before automation took over; `None` where it was not read (the
/// feature is off, no provider is configured).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct UserState {
    pub presence: Option<Presence>,
    pub status_message: Option<String>,
    pub forwarding: Option<Forwarding>,
    pub auto_replies: Option<AutoRepliesSetting>,
}
