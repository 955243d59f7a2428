//! Carrying out the driver's reads and writes through Microsoft Graph and the
//! call-forwarding provider (the I/O half of presence automation; the driver decides what
//! and when): the request bodies as Graph documents them, and the answers read without
//! trusting their spelling (Graph's enum values are not always camelCase).
//!
//! Graph calls go through the [`GraphPort`] (the engine's Graph client with the signed-in
//! account's token: 429/503/504 are waited out there, a 401 gets one refresh and one retry).
//! A call that still fails is returned to the driver, which retries it with backoff.

use super::driver::{Observation, Read};
use super::forwarding::ForwardingProvider;
use super::ports::{ForwardingSource, GraphPort};
use super::profile::{Forwarding, PresenceMode, TeamsPresence};
use super::{Action, AutoRepliesSetting, AutoRepliesStatus, Presence};
use crate::error::Error;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Shortest expiration Graph accepts for a presence (`PT5M`).
pub const MIN_EXPIRATION: Duration = Duration::minutes(5);
/// Longest expiration `setPresence` accepts (`PT4H`); longer blocks are renewed. The same
/// bound is used for the preferred presence, whose limits are not documented.
pub const MAX_EXPIRATION: Duration = Duration::hours(4);
/// A presence is renewed this long before it would expire.
pub const RENEW_AHEAD: Duration = Duration::seconds(60);
/// A presence and a status message are set to last this long past the block: Presently
/// gives the user's own back at the block's end, and a read then tells a change by hand
/// (something else there) from automation's value (still there). Should Presently not run
/// then, they still go by themselves.
pub const EXPIRY_GRACE: Duration = Duration::minutes(2);

const PRESENCE: &str = "/v1.0/me/presence";
const MAILBOX_SETTINGS: &str = "/v1.0/me/mailboxSettings";

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

/// The `PATCH /me/mailboxSettings` body that writes `setting`: the object exactly as it was
/// read when there is one (so the user's own values come back as they were, whatever Graph's
/// spelling), else the fields this version knows.
pub fn auto_replies_body(setting: &AutoRepliesSetting) -> Value {
    if let Some(raw) = &setting.raw {
        return json!({ "automaticRepliesSetting": raw });
    }
    let mut s = json!({
        "internalReplyMessage": setting.internal,
        "externalReplyMessage": setting.external,
    });
    if setting.status != AutoRepliesStatus::Unknown {
        s["status"] = json!(setting.status.as_str());
    }
    if let Some(t) = setting.scheduled_start {
        s["scheduledStartDateTime"] = date_time_time_zone(t);
    }
    if let Some(t) = setting.scheduled_end {
        s["scheduledEndDateTime"] = date_time_time_zone(t);
    }
    json!({ "automaticRepliesSetting": s })
}

/// The `PATCH /me/mailboxSettings` body of an automatic replies write.
pub fn automatic_replies_body(action: &Action) -> Value {
    match action {
        Action::SetAutomaticReplies {
            internal,
            external,
            start,
            end,
        } => auto_replies_body(&AutoRepliesSetting {
            status: AutoRepliesStatus::Scheduled,
            internal: internal.clone(),
            external: external.clone(),
            scheduled_start: Some(*start),
            scheduled_end: Some(*end),
            raw: None,
        }),
        Action::RestoreAutomaticReplies {
            setting: Some(setting),
        } => auto_replies_body(setting),
        _ => json!({}),
    }
}

fn session_id<P: GraphPort>(ports: &P) -> Result<String, Error> {
    ports.session_id()
}

/// Makes one write. `key` is its idempotency key, sent where the receiver can use it (the
/// HTTP and command forwarding providers); Graph has none, the driver reads back instead.
pub async fn write<P: GraphPort + ForwardingSource>(
    ports: &P,
    key: &str,
    action: &Action,
    expiration: Option<Duration>,
) -> Result<(), Error> {
    match action {
        Action::SetPresence { presence, .. } => {
            let exp = expiration
                .unwrap_or(MIN_EXPIRATION)
                .clamp(MIN_EXPIRATION, MAX_EXPIRATION);
            let (call, body) = set_presence_body(presence, &session_id(ports)?, exp);
            ports
                .graph_post(&format!("{PRESENCE}/{call}"), &body)
                .await?;
        }
        Action::ClearPresence { mode, .. } => {
            let (call, body) = match mode {
                PresenceMode::Session => {
                    ("clearPresence", json!({ "sessionId": session_id(ports)? }))
                }
                PresenceMode::Preferred => ("clearUserPreferredPresence", json!({})),
            };
            match ports.graph_post(&format!("{PRESENCE}/{call}"), &body).await {
                // Nothing of automation's left to clear (it expired): that is the goal.
                Err(Error::Server { status: 404, .. }) => {}
                other => {
                    other?;
                }
            }
        }
        Action::SetStatusMessage { message, until } => {
            ports
                .graph_post(
                    &format!("{PRESENCE}/setStatusMessage"),
                    &status_message_body(message, Some(*until + EXPIRY_GRACE)),
                )
                .await?;
        }
        Action::RestoreStatusMessage { message } => {
            // An empty message clears it.
            ports
                .graph_post(
                    &format!("{PRESENCE}/setStatusMessage"),
                    &status_message_body(message.as_deref().unwrap_or(""), None),
                )
                .await?;
        }
        Action::SetAutomaticReplies { .. } => {
            ports
                .graph_patch(MAILBOX_SETTINGS, &automatic_replies_body(action))
                .await?;
        }
        Action::RestoreAutomaticReplies { setting } => {
            // The driver reads the setting before it changes it, so there always is one;
            // without, there is nothing to give back (never a default over the user's).
            let Some(setting) = setting else {
                tracing::warn!("no automatic replies were read before; nothing to restore");
                return Ok(());
            };
            ports
                .graph_patch(MAILBOX_SETTINGS, &auto_replies_body(setting))
                .await?;
        }
        Action::SetForwarding { forwarding } => {
            apply_forwarding(ports.forwarding()?, forwarding, key).await?;
        }
        Action::RestoreForwarding { forwarding } => {
            // Not read before (the provider cannot read it): off.
            let setting = forwarding.clone().unwrap_or(Forwarding::Off);
            apply_forwarding(ports.forwarding()?, &setting, key).await?;
        }
    }
    Ok(())
}

/// Switches call forwarding through the configured provider. Without one (a configured
/// profile asks for forwarding, but no `[presence.forwarding]` provider is set) there is
/// nothing to call: that is logged, not retried.
async fn apply_forwarding(
    provider: Option<Arc<dyn ForwardingProvider>>,
    setting: &Forwarding,
    key: &str,
) -> Result<(), Error> {
    match provider {
        Some(provider) => {
            provider.apply(setting, key).await?;
            tracing::info!(provider = provider.name(), forwarding = %setting, key, "call forwarding switched");
            Ok(())
        }
        None => {
            tracing::warn!(forwarding = %setting, "call forwarding needs a provider; none is configured ([presence.forwarding]), so it was not switched");
            Ok(())
        }
    }
}

/// Makes one read.
pub async fn read<P: GraphPort + ForwardingSource>(
    ports: &P,
    what: Read,
) -> Result<Observation, Error> {
    Ok(match what {
        Read::Presence => {
            let body = ports.graph_get(PRESENCE).await?;
            let (presence, status_message) = parse_presence(&body)?;
            Observation::Presence {
                presence,
                status_message,
            }
        }
        Read::Forwarding => Observation::Forwarding(match ports.forwarding()? {
            Some(provider) => provider.current().await?,
            None => None,
        }),
        Read::AutomaticReplies => {
            let body = ports.graph_get(MAILBOX_SETTINGS).await?;
            Observation::AutomaticReplies(parse_auto_replies(&body)?)
        }
    })
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

/// `GET /me/presence`: the aggregate presence (as Graph spells it: compare without case)
/// and the status message.
pub fn parse_presence(body: &[u8]) -> Result<(Presence, Option<String>), Error> {
    let p: PresenceBody = serde_json::from_slice(body)
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

/// `GET /me/mailboxSettings`: the automatic replies, enums compared without case, and the
/// object itself kept to be written back verbatim.
pub fn parse_auto_replies(body: &[u8]) -> Result<AutoRepliesSetting, Error> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::MalformedResponse(format!("/me/mailboxSettings: {e}")))?;
    let Some(Value::Object(s)) = v.get("automaticRepliesSetting") else {
        return Err(Error::MalformedResponse(
            "/me/mailboxSettings: no automaticRepliesSetting in the answer".into(),
        ));
    };
    let raw: Map<String, Value> = s
        .iter()
        .filter(|(k, _)| !k.starts_with('@'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    Ok(AutoRepliesSetting {
        status: AutoRepliesStatus::parse(s.get("status").and_then(Value::as_str).unwrap_or("")),
        internal: text("internalReplyMessage"),
        external: text("externalReplyMessage"),
        scheduled_start: s
            .get("scheduledStartDateTime")
            .and_then(parse_date_time_time_zone),
        scheduled_end: s
            .get("scheduledEndDateTime")
            .and_then(parse_date_time_time_zone),
        raw: Some(raw),
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

    /// Microsoft's own example (user-get-mailboxsettings.md, example 1) answers
    /// `"status": "Scheduled"`: it is scheduled, not disabled, and it is written back as read.
    #[test]
    fn automatic_replies_are_read_without_case_and_written_back_verbatim() {
        let body = include_bytes!("../../tests/fixtures/graph/mailbox-settings-get.json");
        let s = parse_auto_replies(body).unwrap();
        assert_eq!(s.status, AutoRepliesStatus::Scheduled);
        assert_eq!(
            s.scheduled_start,
            Some("2016-03-14T07:00:00Z".parse().unwrap())
        );
        assert!(s.internal.contains("worldwide reunion"));
        let original: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            auto_replies_body(&s),
            json!({ "automaticRepliesSetting": original["automaticRepliesSetting"] }),
            "the user's setting goes back exactly as read, externalAudience \"All\" included"
        );
        for (text, status) in [
            ("disabled", AutoRepliesStatus::Disabled),
            ("AlwaysEnabled", AutoRepliesStatus::AlwaysEnabled),
            ("SCHEDULED", AutoRepliesStatus::Scheduled),
            ("somethingNew", AutoRepliesStatus::Unknown),
        ] {
            assert_eq!(AutoRepliesStatus::parse(text), status, "{text}");
        }
        // An unknown status is kept verbatim, never replaced by a default.
        let s = parse_auto_replies(
            br#"{"automaticRepliesSetting": {"status": "somethingNew", "x": 1}}"#,
        )
        .unwrap();
        assert_eq!(
            auto_replies_body(&s),
            json!({"automaticRepliesSetting": {"status": "somethingNew", "x": 1}})
        );
    }

    #[test]
    fn presence_is_read_as_graph_answers_it() {
        let body = include_bytes!("../../tests/fixtures/graph/presence-get.json");
        let (p, message) = parse_presence(body).unwrap();
        assert_eq!(p.availability, "Available");
        assert_eq!(message, None);
        let (_, message) = parse_presence(
            br#"{"availability":"busy","activity":"inACall","statusMessage":{"message":{"content":"Back at 3","contentType":"text"}}}"#,
        )
        .unwrap();
        assert_eq!(message.as_deref(), Some("Back at 3"));
    }

    /// Graph answering 404 to a clear (the presence set expired meanwhile): the clear's goal
    /// is reached, it is not retried for ever.
    #[tokio::test]
    async fn clearing_what_is_no_longer_there_is_done() {
        struct Gone;
        impl GraphPort for Gone {
            async fn graph_get(&self, _: &str) -> Result<Vec<u8>, Error> {
                unreachable!()
            }
            async fn graph_post(&self, _: &str, _: &Value) -> Result<Vec<u8>, Error> {
                Err(Error::Server {
                    status: 404,
                    code: "NotFound".into(),
                    message: "no session".into(),
                })
            }
            async fn graph_patch(&self, _: &str, _: &Value) -> Result<Vec<u8>, Error> {
                unreachable!()
            }
            fn session_id(&self) -> Result<String, Error> {
                Ok("app".into())
            }
        }
        impl ForwardingSource for Gone {
            fn forwarding(&self) -> Result<Option<Arc<dyn ForwardingProvider>>, Error> {
                Ok(None)
            }
        }
        let clear = Action::ClearPresence {
            mode: PresenceMode::Session,
            restore_to: None,
        };
        write(&Gone, "k", &clear, None).await.unwrap();
        let set = Action::SetStatusMessage {
            message: "x".into(),
            until: "2026-11-24T10:30:00Z".parse().unwrap(),
        };
        assert!(write(&Gone, "k", &set, None).await.is_err(), "only a clear");
    }
}
