//! The presence plan over the local store: which transitions automation would make.

use super::Engine;
use crate::agenda::local_midnight;
use crate::error::Error;
use crate::presence::profile::Capabilities;
use crate::presence::{plan, PlannedTransition, Policy, UserState};
use chrono::{DateTime, Days, Utc};

/// Longest window a plan covers.
const MAX_PLAN_DAYS: i64 = 366;

/// Appointments this far around the window are read too, so a covering block that begins
/// before the window or ends after it shows its true span.
const MARGIN_DAYS: u64 = 2;

impl Engine {
    /// The profiles and rules in force: the built-ins, the configured ones, calendar names
    /// resolved to ids.
    pub fn presence_policy(&self) -> Result<Policy, Error> {
        let caps = Capabilities {
            automatic_replies: self.config.features.automatic_replies,
            // No forwarding provider can be configured yet.
            forwarding_provider: false,
        };
        let policy = Policy::from_config(&self.config.presence, caps)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        Ok(policy.resolve_calendar_names(&self.store().calendars()?))
    }

    /// The transitions presence automation would make over `from..to`, from the local
    /// store, with an unread pre-automation state (restores show "as it was").
    pub fn presence_plan(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PlannedTransition>, Error> {
        if to <= from {
            return Err(Error::InvalidInput(
                "the plan's end must be after its start".into(),
            ));
        }
        if to - from > chrono::Duration::days(MAX_PLAN_DAYS) {
            return Err(Error::InvalidInput(format!(
                "a plan covers at most {MAX_PLAN_DAYS} days"
            )));
        }
        let policy = self.presence_policy()?;
        let tz = self.config.display_timezone();
        let out_of_range = || Error::InvalidInput("the plan's window is out of range".into());
        let from_date = from
            .with_timezone(&tz)
            .date_naive()
            .checked_sub_days(Days::new(MARGIN_DAYS))
            .ok_or_else(out_of_range)?;
        let to_date = to
            .with_timezone(&tz)
            .date_naive()
            .checked_add_days(Days::new(MARGIN_DAYS + 1))
            .ok_or_else(out_of_range)?;
        let appointments = self.store().appointments_overlapping(
            local_midnight(tz, from_date),
            local_midnight(tz, to_date),
            from_date,
            to_date,
        )?;
        Ok(plan(
            &appointments,
            &policy,
            tz,
            &UserState::default(),
            from,
            to,
        ))
    }
}
