//! Rules: which profile an appointment switches to. The first rule that matches wins; a
//! matching rule without a profile means "this appointment changes nothing".

use super::InvalidPolicy;
use crate::model::{Appointment, ResponseStatus, ShowAs};
use serde::{Deserialize, Serialize};

/// When an all-day appointment can match a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AllDay {
    /// Only when it shows as out of office (the default).
    #[default]
    OofOnly,
    Always,
    Never,
}

/// One rule. Every condition given must hold; a rule with no condition matches every
/// appointment that is not cancelled, declined or (unless shown as oof) all-day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct Rule {
    /// The profile to switch to; none means matching appointments change nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub profile: Option<String>,
    /// Any of these show-as values (empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<ShowAs>>", optional)]
    pub show_as: Vec<ShowAs>,
    /// One of the appointment's categories, compared without case.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub category: Option<String>,
    /// A word or phrase in the subject, compared without case.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subject_contains: Option<String>,
    /// The calendar's id (names are resolved to ids by the engine). A rule without one
    /// matches appointments of the primary calendar only, once the primary calendar is
    /// known ([`first_match`]): a colleague's holiday on a shared calendar must not switch
    /// the user's presence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub calendar: Option<String>,
    /// Whether the appointment has a Teams or Skype meeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub online_meeting: Option<bool>,
    pub include_cancelled: bool,
    pub include_declined: bool,
    pub all_day: AllDay,
}

impl Rule {
    /// A rule mapping these show-as values to `profile`.
    pub fn show_as(show_as: ShowAs, profile: &str) -> Self {
        Self {
            profile: Some(profile.to_owned()),
            show_as: vec![show_as],
            ..Self::default()
        }
    }

    /// Whether the rule matches `a`, whatever its calendar when the rule names none.
    pub fn matches(&self, a: &Appointment) -> bool {
        self.matches_on(a, None)
    }

    /// Whether the rule matches `a`; a rule naming no calendar matches only appointments
    /// of `primary` (any calendar when the primary one is not known).
    pub fn matches_on(&self, a: &Appointment, primary: Option<&str>) -> bool {
        if self.calendar.is_none() && primary.is_some_and(|p| p != a.calendar_id) {
            return false;
        }
        if a.cancelled && !self.include_cancelled {
            return false;
        }
        if a.response == ResponseStatus::Declined && !self.include_declined {
            return false;
        }
        if a.when.is_all_day() {
            let ok = match self.all_day {
                AllDay::OofOnly => a.show_as == ShowAs::Oof,
                AllDay::Always => true,
                AllDay::Never => false,
            };
            if !ok {
                return false;
            }
        }
        if !self.show_as.is_empty() && !self.show_as.contains(&a.show_as) {
            return false;
        }
        if let Some(category) = &self.category {
            let category = category.to_lowercase();
            if !a.categories.iter().any(|c| c.to_lowercase() == category) {
                return false;
            }
        }
        if let Some(word) = &self.subject_contains {
            if !a.subject.to_lowercase().contains(&word.to_lowercase()) {
                return false;
            }
        }
        if let Some(calendar) = &self.calendar {
            if &a.calendar_id != calendar {
                return false;
            }
        }
        if let Some(online) = self.online_meeting {
            if online != (a.join_url.is_some() || a.online_provider.is_some()) {
                return false;
            }
        }
        true
    }

    pub fn validate(&self, index: usize) -> Result<(), InvalidPolicy> {
        let invalid = |key: &str, reason: String| {
            InvalidPolicy::new(
                &format!("presence.rules.{key}"),
                format!("rule {}: {reason}", index + 1),
            )
        };
        if self.show_as.contains(&ShowAs::Unknown) {
            return Err(invalid(
                "show_as",
                "show_as takes free, tentative, busy, oof or workingElsewhere".into(),
            ));
        }
        for (key, value) in [
            ("category", &self.category),
            ("subject_contains", &self.subject_contains),
            ("calendar", &self.calendar),
            ("profile", &self.profile),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(invalid(key, format!("{key} must not be empty")));
            }
        }
        Ok(())
    }
}

/// busy → "In a meeting", oof → "Out of office"; tentative, free and workingElsewhere match
/// nothing.
pub fn default_rules() -> Vec<Rule> {
    vec![
        Rule::show_as(ShowAs::Busy, super::profile::IN_A_MEETING),
        Rule::show_as(ShowAs::Oof, super::profile::OUT_OF_OFFICE),
    ]
}

/// The first rule matching `a`, if any; rules naming no calendar match only appointments
/// of the `primary` calendar (when known).
pub fn first_match<'r>(
    rules: &'r [Rule],
    a: &Appointment,
    primary: Option<&str>,
) -> Option<&'r Rule> {
    rules.iter().find(|r| r.matches_on(a, primary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::tests::{all_day, appt};

    #[test]
    fn defaults_map_busy_and_oof_only() {
        let rules = default_rules();
        let profile =
            |a: &Appointment| first_match(&rules, a, None).and_then(|r| r.profile.clone());
        let mut a = appt("a", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
        assert_eq!(profile(&a).as_deref(), Some("In a meeting"));
        a.show_as = ShowAs::Oof;
        assert_eq!(profile(&a).as_deref(), Some("Out of office"));
        for s in [ShowAs::Tentative, ShowAs::Free, ShowAs::WorkingElsewhere] {
            a.show_as = s;
            assert_eq!(profile(&a), None);
        }
        a.show_as = ShowAs::Busy;
        a.cancelled = true;
        assert_eq!(profile(&a), None, "cancelled never triggers by default");
        a.cancelled = false;
        a.response = ResponseStatus::Declined;
        assert_eq!(profile(&a), None, "declined never triggers by default");
        let mut d = all_day("d", "2026-11-24", "2026-11-25");
        d.show_as = ShowAs::Busy;
        assert_eq!(profile(&d), None, "all-day busy does not trigger");
        d.show_as = ShowAs::Oof;
        assert_eq!(profile(&d).as_deref(), Some("Out of office"));
    }

    #[test]
    fn conditions_and_explicit_inclusions() {
        let mut a = appt("a", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
        a.categories = vec!["Deep Work".into()];
        a.subject = "Quarterly PLANNING".into();
        let rule = Rule {
            profile: Some("Focus".into()),
            category: Some("deep work".into()),
            subject_contains: Some("planning".into()),
            online_meeting: Some(false),
            ..Rule::default()
        };
        assert!(rule.matches(&a));
        a.join_url = Some("https://teams.microsoft.com/l/meetup-join/x".into());
        assert!(!rule.matches(&a));
        a.join_url = None;
        a.cancelled = true;
        assert!(!rule.matches(&a));
        let cancelled_too = Rule {
            include_cancelled: true,
            ..rule.clone()
        };
        assert!(cancelled_too.matches(&a));
        let by_calendar = Rule {
            calendar: Some("other".into()),
            ..Rule::default()
        };
        a.cancelled = false;
        assert!(!by_calendar.matches(&a));
        let mut d = all_day("d", "2026-11-24", "2026-11-25");
        d.show_as = ShowAs::Busy;
        let always = Rule {
            all_day: AllDay::Always,
            ..Rule::default()
        };
        assert!(always.matches(&d));
        assert!(!Rule::default().matches(&d));
    }

    #[test]
    fn rules_without_a_calendar_match_the_primary_calendar_only() {
        let rules = default_rules();
        let mut holiday = all_day("h", "2026-11-24", "2026-11-25");
        holiday.show_as = ShowAs::Oof;
        holiday.calendar_id = "team-holidays".into();
        let profile = |a: &Appointment, primary| {
            first_match(&rules, a, primary).and_then(|r| r.profile.clone())
        };
        // A colleague's holiday on a shared calendar switches nothing.
        assert_eq!(profile(&holiday, Some("primary")), None);
        // The same item on the primary calendar does, and so does any item while the
        // primary calendar is not known yet.
        assert_eq!(profile(&holiday, None).as_deref(), Some("Out of office"));
        holiday.calendar_id = "primary".into();
        assert_eq!(
            profile(&holiday, Some("primary")).as_deref(),
            Some("Out of office")
        );
        // A rule naming the shared calendar takes its items.
        let named = Rule {
            calendar: Some("team-holidays".into()),
            ..Rule::show_as(ShowAs::Oof, "Focus")
        };
        holiday.calendar_id = "team-holidays".into();
        assert!(named.matches_on(&holiday, Some("primary")));
    }

    #[test]
    fn an_unknown_show_as_is_refused() {
        let rule: Rule = toml::from_str("show_as = [\"bussy\"]\nprofile = \"Focus\"").unwrap();
        assert!(rule.validate(0).unwrap_err().reason.contains("show_as"));
    }
}
