//! Carrying out the scheduler's [`Action`]s through Microsoft Graph, and reading the
//! user's own state before automation takes over (the I/O half of presence automation;
//! the runtime decides when).
//!
//! Every call goes through the engine's [`crate::graph::GraphClient`] with the signed-in
//! account's token: 429/503/504 are waited out there, a 401 gets one refresh and one retry.
//! A call that still fails is returned to the runtime, which retries it with backoff.
//! Call forwarding goes through the configured [`super::forwarding`] provider instead,
//! and its failures take the same path.

use super::profile::{Forwarding, PresenceMode, TeamsPresence};
use super::{Action, AutoRepliesSetting, AutoRepliesStatus, Presence, UserState};
use crate::engine::Engine;
use crate::error::Error;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// Shortest expiration Graph accepts for a presence (`PT5M`).
pub const MIN_EXPIRATION: Duration = Duration::minutes(5);
/// Longest expiration `setPresence` accepts (`PT4H`); longer blocks are renewed. The same
/// bound is used for the preferred presence, whose limits are not documented.
pub const MAX_EXPIRATION: Duration = Duration::hours(4);
/// A presence is renewed this long before it would expire.
pub const RENEW_AHEAD: Duration = Duration::seconds(60);

const PRESENCE: &str = "/v1.0/me/presence";
const MAILBOX_SETTINGS: &str = "/v1.0/me/mailboxSettings";

/// A Teams presence the app set and keeps in force until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPresence {
    pub presence: TeamsPresence,
    pub until: DateTime<Utc>,
    /// When the presence set last expires on the server.
    pub expires_at: DateTime<Utc>,
}

impl SetPresence {
    /// When to set it again: shortly before it expires, if the block lasts longer.
    pub fn renew_at(&self) -> Option<DateTime<Utc>> {
        (self.expires_at < self.until).then_some(self.expires_at - RENEW_AHEAD)
    }
}

/// What one action did that the runtime must remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A presence is in force (to renew and to read back).
    Presence(SetPresence),
    /// The app's presence was cleared.
    PresenceCleared,
    Other,
}

/// ISO 8601 duration, as Graph's `expirationDuration` wants it: `PT1H30M`, `PT5M`, `PT45S`.
pub fn iso_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || (h == 0 && m == 0) {
        out.push_str(&format!("{s}S"));
    }
    out
}

/// The expiration to send at `now` for a presence that should hold until `until`: the
/// rest of the block in whole seconds, within [`MIN_EXPIRATION`]..[`MAX_EXPIRATION`].
pub fn expiration(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    let rest = until - now;
    let whole = Duration::seconds(rest.num_seconds() + i64::from(rest.subsec_nanos() > 0));
    whole.clamp(MIN_EXPIRATION, MAX_EXPIRATION)
}

/// `dateTimeTimeZone` in UTC.
fn date_time_time_zone(t: DateTime<Utc>) -> Value {
    json!({
        "dateTime": format!(
            "{}.{:07}",
            t.naive_utc().format("%Y-%m-%dT%H:%M:%S"),
            t.timestamp_subsec_nanos() / 100
        ),
        "timeZone": "UTC",
    })
}

fn parse_date_time_time_zone(v: &Value) -> Option<DateTime<Utc>> {
    let text = v.get("dateTime")?.as_str()?;
    let zone = v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    if zone.eq_ignore_ascii_case("UTC") {
        return Some(naive.and_utc());
    }
    let tz = crate::graph::timezone::resolve(zone)?;
    naive
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The app's session id for `setPresence` / `clearPresence`: its client id.
fn session_id(engine: &Engine) -> Result<String, Error> {
    engine
        .config()
        .microsoft
        .client_id
        .clone()
        .ok_or_else(|| Error::InvalidInput("no application (client) ID is configured".into()))
}

/// The body of `setPresence` / `setUserPreferredPresence`.
pub fn set_presence_body(
    presence: &TeamsPresence,
    session_id: &str,
    expiration: Duration,
) -> (&'static str, Value) {
    let mut body = json!({
        "availability": presence.availability.as_str(),
        "activity": presence.activity.as_str(),
        "expirationDuration": iso_duration(expiration),
    });
    match presence.mode {
        PresenceMode::Session => {
            body["sessionId"] = json!(session_id);
            ("setPresence", body)
        }
        PresenceMode::Preferred => ("setUserPreferredPresence", body),
    }
}

fn status_message_body(message: &str, until: Option<DateTime<Utc>>) -> Value {
    let mut status = json!({ "message": { "content": message, "contentType": "text" } });
    if let Some(until) = until {
        status["expiryDateTime"] = date_time_time_zone(until);
    }
    json!({ "statusMessage": status })
}

fn auto_replies_body(setting: &AutoRepliesSetting) -> Value {
    let status = match setting.status {
        AutoRepliesStatus::Disabled => "disabled",
        AutoRepliesStatus::AlwaysEnabled => "alwaysEnabled",
        AutoRepliesStatus::Scheduled => "scheduled",
    };
    let mut s = json!({
        "status": status,
        "internalReplyMessage": setting.internal,
        "externalReplyMessage": setting.external,
    });
    if let Some(t) = setting.scheduled_start {
        s["scheduledStartDateTime"] = date_time_time_zone(t);
    }
    if let Some(t) = setting.scheduled_end {
        s["scheduledEndDateTime"] = date_time_time_zone(t);
    }
    json!({ "automaticRepliesSetting": s })
}

/// Carries out one action at `now`.
pub async fn apply(engine: &Engine, action: &Action, now: DateTime<Utc>) -> Result<Applied, Error> {
    match action {
        Action::SetPresence { presence, until } => {
            let exp = expiration(now, *until);
            let (call, body) = set_presence_body(presence, &session_id(engine)?, exp);
            engine
                .presence_graph_post(&format!("{PRESENCE}/{call}"), &body)
                .await?;
            Ok(Applied::Presence(SetPresence {
                presence: *presence,
                until: *until,
                expires_at: now + exp,
            }))
        }
        Action::ClearPresence { mode, .. } => {
            let (call, body) = match mode {
                PresenceMode::Session => {
                    ("clearPresence", json!({ "sessionId": session_id(engine)? }))
                }
                PresenceMode::Preferred => ("clearUserPreferredPresence", json!({})),
            };
            engine
                .presence_graph_post(&format!("{PRESENCE}/{call}"), &body)
                .await?;
            Ok(Applied::PresenceCleared)
        }
        Action::SetStatusMessage { message, until } => {
            engine
                .presence_graph_post(
                    &format!("{PRESENCE}/setStatusMessage"),
                    &status_message_body(message, Some(*until)),
                )
                .await?;
            Ok(Applied::Other)
        }
        Action::RestoreStatusMessage { message } => {
            // An empty message clears it.
            engine
                .presence_graph_post(
                    &format!("{PRESENCE}/setStatusMessage"),
                    &status_message_body(message.as_deref().unwrap_or(""), None),
                )
                .await?;
            Ok(Applied::Other)
        }
        Action::SetAutomaticReplies {
            internal,
            external,
            start,
            end,
        } => {
            let setting = AutoRepliesSetting {
                status: AutoRepliesStatus::Scheduled,
                internal: internal.clone(),
                external: external.clone(),
                scheduled_start: Some(*start),
                scheduled_end: Some(*end),
            };
            engine
                .presence_graph_patch(MAILBOX_SETTINGS, &auto_replies_body(&setting))
                .await?;
            Ok(Applied::Other)
        }
        Action::RestoreAutomaticReplies { setting } => {
            // Not read before (cannot happen while the feature is on): turn them off.
            let setting = setting.clone().unwrap_or(AutoRepliesSetting {
                status: AutoRepliesStatus::Disabled,
                internal: String::new(),
                external: String::new(),
                scheduled_start: None,
                scheduled_end: None,
            });
            engine
                .presence_graph_patch(MAILBOX_SETTINGS, &auto_replies_body(&setting))
                .await?;
            Ok(Applied::Other)
        }
        Action::SetForwarding { forwarding } => {
            apply_forwarding(engine, forwarding).await?;
            Ok(Applied::Other)
        }
        Action::RestoreForwarding { forwarding } => {
            // Not read before (the provider cannot read it, or the read failed): off.
            let setting = forwarding.clone().unwrap_or(Forwarding::Off);
            apply_forwarding(engine, &setting).await?;
            Ok(Applied::Other)
        }
    }
}

/// Switches call forwarding through the configured provider. Without one (a configured
/// profile asks for forwarding, but no `[presence.forwarding]` provider is set) there is
/// nothing to call: that is logged, not retried.
async fn apply_forwarding(engine: &Engine, setting: &Forwarding) -> Result<(), Error> {
    match engine.forwarding_provider()? {
        Some(provider) => {
            provider.apply(setting).await?;
            tracing::info!(provider = provider.name(), forwarding = %setting, "call forwarding switched");
            Ok(())
        }
        None => {
            tracing::warn!(forwarding = %setting, "call forwarding needs a provider; none is configured ([presence.forwarding]), so it was not switched");
            Ok(())
        }
    }
}

/// The call forwarding in force, when the configured provider can read it.
pub async fn read_forwarding(engine: &Engine) -> Result<Option<Forwarding>, Error> {
    match engine.forwarding_provider()? {
        Some(provider) => Ok(provider.current().await?),
        None => Ok(None),
    }
}

#[derive(Deserialize)]
struct PresenceBody {
    availability: String,
    activity: String,
    #[serde(default, rename = "statusMessage")]
    status_message: Option<StatusMessageBody>,
}

#[derive(Deserialize)]
struct StatusMessageBody {
    #[serde(default)]
    message: Option<ItemBody>,
}

#[derive(Deserialize)]
struct ItemBody {
    #[serde(default)]
    content: Option<String>,
}

/// `GET /me/presence`: the aggregate presence and the status message.
pub async fn read_presence(engine: &Engine) -> Result<(Presence, Option<String>), Error> {
    let body = engine.presence_graph_get(PRESENCE).await?;
    let p: PresenceBody = serde_json::from_slice(&body)
        .map_err(|e| Error::MalformedResponse(format!("/me/presence: {e}")))?;
    let message = p
        .status_message
        .and_then(|s| s.message)
        .and_then(|m| m.content)
        .filter(|c| !c.is_empty());
    Ok((
        Presence {
            availability: p.availability,
            activity: p.activity,
        },
        message,
    ))
}

/// `GET /me/mailboxSettings`: the automatic replies as they are.
pub async fn read_auto_replies(engine: &Engine) -> Result<AutoRepliesSetting, Error> {
    let body = engine.presence_graph_get(MAILBOX_SETTINGS).await?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::MalformedResponse(format!("/me/mailboxSettings: {e}")))?;
    let s = v
        .get("automaticRepliesSetting")
        .cloned()
        .unwrap_or_default();
    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let status = match s
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("disabled")
    {
        "alwaysEnabled" => AutoRepliesStatus::AlwaysEnabled,
        "scheduled" => AutoRepliesStatus::Scheduled,
        _ => AutoRepliesStatus::Disabled,
    };
    Ok(AutoRepliesSetting {
        status,
        internal: text("internalReplyMessage"),
        external: text("externalReplyMessage"),
        scheduled_start: s
            .get("scheduledStartDateTime")
            .and_then(parse_date_time_time_zone),
        scheduled_end: s
            .get("scheduledEndDateTime")
            .and_then(parse_date_time_time_zone),
    })
}

/// The user's own state, read before automation takes over: presence and status message,
/// the automatic replies when that feature is on, and the call forwarding when the
/// provider can read it (restored exactly at the end; unread, it is switched off then).
pub async fn read_user_state(engine: &Engine, auto_replies: bool) -> Result<UserState, Error> {
    let (presence, status_message) = read_presence(engine).await?;
    let auto_replies = if auto_replies {
        Some(read_auto_replies(engine).await?)
    } else {
        None
    };
    // A failed read does not lose the presence read above: forwarding alone is unknown.
    let forwarding = match read_forwarding(engine).await {
        Ok(f) => f,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the call forwarding before automation; it will be switched off, not restored, at the end");
            None
        }
    };
    Ok(UserState {
        presence: Some(presence),
        status_message,
        forwarding,
        auto_replies,
    })
}

/// RFC 3339 for logs and history.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::profile::{Activity, Availability};

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(iso_duration(Duration::minutes(5)), "PT5M");
        assert_eq!(iso_duration(Duration::hours(4)), "PT4H");
        assert_eq!(iso_duration(Duration::seconds(5430)), "PT1H30M30S");
        assert_eq!(iso_duration(Duration::zero()), "PT0S");
    }

    #[test]
    fn expirations_stay_within_what_graph_accepts() {
        let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        assert_eq!(expiration(now, now + Duration::seconds(3)), MIN_EXPIRATION);
        assert_eq!(expiration(now, now + Duration::hours(9)), MAX_EXPIRATION);
        assert_eq!(
            expiration(now, now + Duration::milliseconds(3_600_500)),
            Duration::seconds(3601)
        );
        let set = SetPresence {
            presence: TeamsPresence::preferred(Availability::Busy),
            until: now + Duration::hours(9),
            expires_at: now + MAX_EXPIRATION,
        };
        assert_eq!(set.renew_at(), Some(now + MAX_EXPIRATION - RENEW_AHEAD));
    }

    #[test]
    fn bodies_are_as_documented() {
        let busy = TeamsPresence::new(Availability::Busy, Activity::InACall, PresenceMode::Session)
            .unwrap();
        let (call, body) = set_presence_body(&busy, "app", Duration::hours(1));
        assert_eq!(call, "setPresence");
        assert_eq!(
            body,
            json!({"sessionId": "app", "availability": "Busy", "activity": "InACall", "expirationDuration": "PT1H"})
        );
        let (call, body) = set_presence_body(
            &TeamsPresence::preferred(Availability::DoNotDisturb),
            "app",
            Duration::minutes(30),
        );
        assert_eq!(call, "setUserPreferredPresence");
        assert_eq!(
            body,
            json!({"availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT30M"})
        );
        let until: DateTime<Utc> = "2026-11-24T10:30:00Z".parse().unwrap();
        assert_eq!(
            status_message_body("In a meeting until 11:30", Some(until)),
            json!({"statusMessage": {"message": {"content": "In a meeting until 11:30", "contentType": "text"},
                "expiryDateTime": {"dateTime": "2026-11-24T10:30:00.0000000", "timeZone": "UTC"}}})
        );
        let v = date_time_time_zone(until);
        assert_eq!(parse_date_time_time_zone(&v), Some(until));
    }
}
