//! State of what presence automation drives, and the record of every call made to it:
//! Teams presence (sessions, preferred presence, status message), mailbox settings
//! (automatic replies), the Webex call-forwarding fake, the Asterisk AMI fake's database and
//! the HTTP sink. The Graph side lives in `presence`, the fakes in `forwarding` and `ami`.
//!
//! Expirations use the emulator clock: the real clock plus an offset that tests may advance
//! (`Control::advance_clock`). Records carry the real time a call arrived.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::tz;

/// One call to the presence, status message, mailbox settings, Webex, AMI or sink
/// endpoints (see `Control::presence_calls`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceCall {
    /// When the call arrived (real clock, not the emulator clock).
    pub at: DateTime<Utc>,
    /// Graph: `getPresence`, `setPresence`, `clearPresence`, `setUserPreferredPresence`,
    /// `clearUserPreferredPresence`, `setStatusMessage`, `getMailboxSettings`,
    /// `updateMailboxSettings`. Webex: `webex.getCallForwarding`, `webex.putCallForwarding`.
    /// AMI: `ami.<Action>` (`ami.Login`, `ami.DBPut`, ...). Sink: `sink`.
    pub kind: String,
    /// The request body as JSON (`null` when empty). Webex: `{personId, body}`. AMI: the
    /// action's headers as an object (`Secret` redacted). Sink: `{method, path, body}`.
    pub body: Value,
    /// The HTTP status answered. AMI: 200 for `Response: Success`, 400 for an error, 401
    /// for a failed login or an action before login.
    pub status: u16,
    /// The tenant user a `/users/{id}/…` call addressed, as the path named them (`None`:
    /// `/me`, or a call that is not Graph's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// One request received by the HTTP sink (see `Control::sink_requests`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinkRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    /// The full path, e.g. `/sink/forwarding/on`.
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case, in arrival order; `authorization` is `[redacted]`.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The status answered.
    pub status: u16,
}

impl SinkRequest {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A counted failure: the next `remaining` calls answer `status`.
#[derive(Clone, Copy, Debug)]
pub struct CountedFailure {
    pub remaining: u32,
    pub status: u16,
    pub retry_after_secs: Option<u64>,
}

/// Takes one unit of the first counted failure.
pub fn take_failure(q: &mut VecDeque<CountedFailure>) -> Option<CountedFailure> {
    let front = q.front_mut()?;
    let f = *front;
    front.remaining = front.remaining.saturating_sub(1);
    if front.remaining == 0 {
        q.pop_front();
    }
    Some(f)
}

// ---- presence --------------------------------------------------------------------------

/// An application's presence session (`setPresence`).
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub availability: String,
    pub activity: String,
    pub expires: DateTime<Utc>,
    pub set_at: DateTime<Utc>,
}

/// The user's preferred presence (`setUserPreferredPresence`, or set by hand in Teams).
#[derive(Clone, Debug)]
pub struct Preferred {
    pub availability: String,
    pub activity: String,
    /// `None`: until cleared (a status picked by hand in Teams).
    pub expires: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct StatusMessage {
    pub content: String,
    pub content_type: String,
    /// As given: `{dateTime, timeZone}`, and the instant it stands for.
    pub expiry: Option<(Value, DateTime<Utc>)>,
    pub published: DateTime<Utc>,
}

/// The pairs `setPresence` accepts (DoNotDisturb/Presenting is in the current v1.0 table).
pub const SESSION_PAIRS: &[(&str, &str)] = &[
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
];

/// The pairs `setUserPreferredPresence` accepts.
pub const PREFERRED_PAIRS: &[(&str, &str)] = &[
    ("Available", "Available"),
    ("Busy", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("BeRightBack", "BeRightBack"),
    ("Away", "Away"),
    ("Offline", "OffWork"),
];

/// The canonical spelling of an accepted pair (matching is case-insensitive).
pub fn canonical_pair(
    pairs: &[(&'static str, &'static str)],
    availability: &str,
    activity: &str,
) -> Option<(&'static str, &'static str)> {
    pairs.iter().copied().find(|(a, b)| {
        a.eq_ignore_ascii_case(availability.trim()) && b.eq_ignore_ascii_case(activity.trim())
    })
}

/// Precedence of an availability among sessions: DoNotDisturb > Busy > Available >
/// BeRightBack > Away > anything else.
fn rank(availability: &str) -> u8 {
    match availability.to_ascii_lowercase().as_str() {
        "donotdisturb" => 6,
        "busy" => 5,
        "available" => 4,
        "availableinactive" => 3,
        "berightback" => 2,
        "away" => 1,
        _ => 0,
    }
}

#[derive(Clone, Debug)]
pub struct PresenceState {
    pub sessions: Vec<Session>,
    pub preferred: Option<Preferred>,
    pub status_message: Option<StatusMessage>,
    /// The user's own Teams client session (None: not signed in anywhere).
    pub teams_client: Option<(String, String)>,
    /// Bumped by every change (`sequenceNumber`).
    pub sequence: u64,
}

impl Default for PresenceState {
    fn default() -> Self {
        PresenceState {
            sessions: Vec::new(),
            preferred: None,
            status_message: None,
            teams_client: Some(("Available".into(), "Available".into())),
            sequence: 1,
        }
    }
}

impl PresenceState {
    /// Drops what has expired at `now`.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        let before = (
            self.sessions.len(),
            self.preferred.is_some(),
            self.status_message.is_some(),
        );
        self.sessions.retain(|s| s.expires > now);
        if self
            .preferred
            .as_ref()
            .is_some_and(|p| p.expires.is_some_and(|e| e <= now))
        {
            self.preferred = None;
        }
        if self
            .status_message
            .as_ref()
            .is_some_and(|m| m.expiry.as_ref().is_some_and(|(_, e)| *e <= now))
        {
            self.status_message = None;
        }
        let after = (
            self.sessions.len(),
            self.preferred.is_some(),
            self.status_message.is_some(),
        );
        if before != after {
            self.sequence += 1;
        }
    }

    /// The aggregate (availability, activity) at `now`, after [`PresenceState::expire`]:
    /// no session at all → Offline/Offline; a preferred presence wins over sessions; among
    /// sessions the highest availability wins, the most recently set on a tie.
    pub fn aggregate(&self) -> (String, String) {
        let client = self
            .teams_client
            .as_ref()
            .map(|(a, b)| (a.as_str(), b.as_str(), DateTime::<Utc>::MIN_UTC));
        let sessions = self
            .sessions
            .iter()
            .map(|s| (s.availability.as_str(), s.activity.as_str(), s.set_at))
            .chain(client);
        let best = sessions.max_by(|x, y| rank(x.0).cmp(&rank(y.0)).then(x.2.cmp(&y.2)));
        let Some(best) = best else {
            return ("Offline".into(), "Offline".into());
        };
        if let Some(p) = &self.preferred {
            return (p.availability.clone(), p.activity.clone());
        }
        (best.0.to_string(), best.1.to_string())
    }

    pub fn status_message_json(&self) -> Value {
        match &self.status_message {
            None => Value::Null,
            Some(m) => json!({
                "message": { "content": m.content, "contentType": m.content_type },
                "expiryDateTime": m.expiry.as_ref().map(|(v, _)| v.clone()),
                "publishedDateTime": m.published.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            }),
        }
    }
}

// ---- mailbox settings ------------------------------------------------------------------

/// The mailbox settings a fresh mailbox has.
pub fn default_mailbox_settings(zone: Tz, now: DateTime<Utc>) -> Value {
    let day = now.date_naive();
    let at = |d: chrono::NaiveDate| {
        json!({
            "dateTime": tz::graph_datetime(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), Tz::UTC),
            "timeZone": "UTC",
        })
    };
    json!({
        "archiveFolder": crate::mailbox::item_id("archive-folder"),
        "timeZone": tz::windows_name(zone),
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "scheduledStartDateTime": at(day + Duration::days(1)),
            "scheduledEndDateTime": at(day + Duration::days(2)),
            "internalReplyMessage": "",
            "externalReplyMessage": "",
        },
        "language": { "locale": "en-US", "displayName": "English (United States)" },
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": { "name": tz::windows_name(zone) },
        },
        "dateFormat": "dd.MM.yyyy",
        "timeFormat": "HH:mm",
        "userPurpose": "user",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
    })
}

/// Why a mailbox settings patch was refused: (Graph error code, message).
pub type SettingsError = (&'static str, String);

const WRITABLE: &[&str] = &[
    "automaticRepliesSetting",
    "dateFormat",
    "delegateMeetingMessageDeliveryOptions",
    "language",
    "timeFormat",
    "timeZone",
    "workingHours",
];
/// Read-only properties a client may send back unchanged: ignored.
const READ_ONLY: &[&str] = &["archiveFolder", "userPurpose", "userPurposeV2"];

fn enum_value(v: &Value, allowed: &[&'static str]) -> Result<&'static str, SettingsError> {
    let s = v.as_str().ok_or_else(|| {
        (
            "RequestBodyRead",
            format!("Cannot convert the literal '{v}' to the expected type."),
        )
    })?;
    allowed
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            (
                "InvalidArguments",
                format!("Requested value '{s}' was not found."),
            )
        })
}

/// A `dateTimeTimeZone` normalised to UTC, and its instant.
fn utc_date_time(v: &Value, field: &str) -> Result<(Value, DateTime<Utc>), SettingsError> {
    if v.get("timeZone")
        .and_then(Value::as_str)
        .is_some_and(|z| tz::resolve(z).is_none())
    {
        return Err((
            "InvalidTimeZone",
            "Time Zone settings provided are invalid.".into(),
        ));
    }
    let (local, zone) =
        crate::mailbox::parse_date_time_zone(v, field).map_err(|e| ("RequestBodyRead", e))?;
    let t = tz::local_to_utc(zone, local);
    Ok((
        json!({ "dateTime": tz::graph_datetime(t, Tz::UTC), "timeZone": "UTC" }),
        t,
    ))
}

/// The instant of a stored `{dateTime, timeZone}`.
pub fn instant_of(v: &Value) -> Option<DateTime<Utc>> {
    let dt = v.get("dateTime")?.as_str()?;
    let zone = tz::resolve(v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC"))?;
    let naive = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(tz::local_to_utc(zone, naive))
}

/// Merges a PATCH body into `settings`. Returns the names of the properties updated.
pub fn patch_mailbox_settings(
    settings: &mut Value,
    patch: &Value,
) -> Result<Vec<String>, SettingsError> {
    let Value::Object(patch) = patch else {
        return Err((
            "RequestBodyRead",
            "The request body must be a JSON object.".into(),
        ));
    };
    let mut next = settings.clone();
    let mut updated = Vec::new();
    for (key, value) in patch {
        if key.starts_with('@') {
            continue;
        }
        let Some(name) = WRITABLE.iter().find(|w| w.eq_ignore_ascii_case(key)) else {
            if READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(key)) {
                continue;
            }
            return Err((
                "RequestBodyRead",
                format!("Could not find a property named '{key}' on type 'microsoft.graph.mailboxSettings'."),
            ));
        };
        match *name {
            "automaticRepliesSetting" => {
                let merged = merge_automatic_replies(&next[*name], value)?;
                next[*name] = merged;
            }
            "timeZone" => {
                let z = value.as_str().ok_or_else(|| {
                    (
                        "InvalidTimeZone",
                        "Time Zone settings provided are invalid.".to_string(),
                    )
                })?;
                if tz::resolve(z).is_none() {
                    return Err((
                        "InvalidTimeZone",
                        "Time Zone settings provided are invalid.".into(),
                    ));
                }
                next[*name] = Value::String(z.to_string());
            }
            "language" | "workingHours" => match (value, next[*name].as_object_mut()) {
                (Value::Object(v), Some(cur)) => {
                    for (k, x) in v {
                        cur.insert(k.clone(), x.clone());
                    }
                }
                (Value::Object(_), None) => next[*name] = value.clone(),
                _ => {
                    return Err((
                        "RequestBodyRead",
                        format!("The property '{name}' must be an object."),
                    ))
                }
            },
            _ => {
                if !value.is_string() {
                    return Err((
                        "RequestBodyRead",
                        format!("The property '{name}' must be a string."),
                    ));
                }
                next[*name] = value.clone();
            }
        }
        updated.push((*name).to_string());
    }
    *settings = next;
    Ok(updated)
}

fn merge_automatic_replies(current: &Value, patch: &Value) -> Result<Value, SettingsError> {
    let Value::Object(p) = patch else {
        return Err((
            "RequestBodyRead",
            "automaticRepliesSetting must be an object.".into(),
        ));
    };
    let mut out: Map<String, Value> = current.as_object().cloned().unwrap_or_default();
    for (key, value) in p {
        if key.starts_with('@') {
            continue;
        }
        match key.as_str() {
            "status" => {
                let s = enum_value(value, &["disabled", "alwaysEnabled", "scheduled"])?;
                out.insert("status".into(), Value::String(s.into()));
            }
            "externalAudience" => {
                let s = enum_value(value, &["none", "contactsOnly", "all"])?;
                out.insert("externalAudience".into(), Value::String(s.into()));
            }
            "scheduledStartDateTime" | "scheduledEndDateTime" => {
                let (v, _) = utc_date_time(value, key)?;
                out.insert(key.clone(), v);
            }
            "internalReplyMessage" | "externalReplyMessage" => {
                let s = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    _ => {
                        return Err((
                            "RequestBodyRead",
                            format!("The property '{key}' must be a string."),
                        ))
                    }
                };
                out.insert(key.clone(), Value::String(s));
            }
            _ => {
                return Err((
                    "RequestBodyRead",
                    format!("Could not find a property named '{key}' on type 'microsoft.graph.automaticRepliesSetting'."),
                ))
            }
        }
    }
    if out
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("scheduled"))
    {
        let start = out.get("scheduledStartDateTime").and_then(instant_of);
        let end = out.get("scheduledEndDateTime").and_then(instant_of);
        match (start, end) {
            (Some(s), Some(e)) if e > s => {}
            (Some(_), Some(_)) => {
                return Err((
                    "ErrorInvalidParameter",
                    "The scheduled end time must be after the scheduled start time.".into(),
                ))
            }
            _ => return Err((
                "ErrorInvalidParameter",
                "Scheduled automatic replies need scheduledStartDateTime and scheduledEndDateTime."
                    .into(),
            )),
        }
    }
    Ok(Value::Object(out))
}

/// Whether automatic replies are on at `now`, and the internal message.
pub fn out_of_office(settings: &Value, now: DateTime<Utc>) -> (bool, Option<String>) {
    let ar = &settings["automaticRepliesSetting"];
    // As stored, or as a test set it verbatim in Graph's other spelling ("Scheduled").
    let status = ar["status"].as_str().map(str::to_ascii_lowercase);
    let on = match status.as_deref() {
        Some("alwaysenabled") => true,
        Some("scheduled") => {
            let s = instant_of(&ar["scheduledStartDateTime"]);
            let e = instant_of(&ar["scheduledEndDateTime"]);
            matches!((s, e), (Some(s), Some(e)) if s <= now && now < e)
        }
        _ => false,
    };
    let msg = ar["internalReplyMessage"]
        .as_str()
        .filter(|m| on && !m.is_empty())
        .map(str::to_string);
    (on, msg)
}

// ---- Webex -----------------------------------------------------------------------------

/// A person's call forwarding settings before any change.
pub fn default_webex_forwarding() -> Value {
    json!({
        "callForwarding": {
            "always": { "enabled": false, "ringReminderEnabled": false, "destinationVoicemailEnabled": false },
            "busy": { "enabled": false, "destinationVoicemailEnabled": false },
            "noAnswer": { "enabled": false, "numberOfRings": 3, "systemMaxNumberOfRings": 20, "destinationVoicemailEnabled": false },
        },
        "businessContinuity": { "enabled": false, "destinationVoicemailEnabled": false },
    })
}

/// Merges a Webex `PUT .../features/callForwarding` body; the error is the description.
pub fn put_webex_forwarding(current: &mut Value, body: &Value) -> Result<(), String> {
    let Value::Object(body) = body else {
        return Err("The request body must be a JSON object.".into());
    };
    let mut next = current.clone();
    let mut merge_rule = |path: (&str, Option<&str>), v: &Value| -> Result<(), String> {
        let Value::Object(fields) = v else {
            return Err(format!("{} must be an object", path.1.unwrap_or(path.0)));
        };
        let target = match path.1 {
            Some(rule) => &mut next[path.0][rule],
            None => &mut next[path.0],
        };
        for (k, x) in fields {
            match k.as_str() {
                "enabled" | "ringReminderEnabled" | "destinationVoicemailEnabled" => {
                    if !x.is_boolean() {
                        return Err(format!("Invalid field value: {k} must be a boolean"));
                    }
                }
                "destination" => {
                    if !x.is_string() {
                        return Err("Invalid field value: destination must be a string".into());
                    }
                }
                "numberOfRings" => {
                    let max = target["systemMaxNumberOfRings"].as_u64().unwrap_or(20);
                    if !x.as_u64().is_some_and(|n| (2..=max).contains(&n)) {
                        return Err(format!(
                            "Invalid field value: numberOfRings must be between 2 and {max}"
                        ));
                    }
                }
                "systemMaxNumberOfRings" => continue,
                _ => return Err(format!("Invalid field name: {k}")),
            }
            target[k] = x.clone();
        }
        let enabled = target["enabled"].as_bool().unwrap_or(false);
        let dest = target["destination"].as_str().unwrap_or("");
        if enabled && dest.trim().is_empty() {
            return Err("Missing Mandatory field name: destination".into());
        }
        Ok(())
    };
    for (k, v) in body {
        match k.as_str() {
            "callForwarding" => {
                let Value::Object(rules) = v else {
                    return Err("callForwarding must be an object".into());
                };
                for (rule, r) in rules {
                    match rule.as_str() {
                        "always" | "busy" | "noAnswer" => {
                            merge_rule(("callForwarding", Some(rule.as_str())), r)?;
                        }
                        _ => return Err(format!("Invalid field name: {rule}")),
                    }
                }
            }
            "businessContinuity" => merge_rule(("businessContinuity", None), v)?,
            _ => return Err(format!("Invalid field name: {k}")),
        }
    }
    *current = next;
    Ok(())
}

// ---- the whole state -------------------------------------------------------------------

/// Default AMI credentials (see `Control::set_ami_credentials`).
pub const DEFAULT_AMI_USERNAME: &str = "presently";
pub const DEFAULT_AMI_SECRET: &str = "presently-ami-secret";

#[derive(Debug)]
pub struct AutomationState {
    /// Added to the real clock for expirations.
    pub clock_offset: Duration,
    pub presence: PresenceState,
    pub mailbox_settings: Value,
    pub calls: Vec<PresenceCall>,
    /// Counted failures of the Graph presence and mailbox settings endpoints.
    pub presence_failures: VecDeque<CountedFailure>,
    /// Graph presence calls held back before they are served (`Control::hold_presence_calls`).
    pub presence_gate: Option<PresenceGate>,
    pub webex_failures: VecDeque<CountedFailure>,
    pub webex: BTreeMap<String, Value>,
    pub webex_tokens: HashSet<String>,
    /// Webex people by e-mail (lower case) → person id (`GET /people?email=`).
    pub webex_people: BTreeMap<String, String>,
    /// Asterisk database: "family/key" → value.
    pub ami_db: BTreeMap<String, String>,
    pub ami_username: String,
    pub ami_secret: String,
    /// AMI database actions still to fail.
    pub ami_failures: u32,
    pub sink: Vec<SinkRequest>,
    pub sink_status: u16,
    /// The presence and mailbox settings of the tenant's other users (server mode's
    /// `/users/{id}/…` calls with an app-only token), by object id.
    pub tenant: HashMap<String, TenantAutomation>,
}

/// Graph presence calls of one kind held back before they are served, until opened: a
/// call in flight for as long as a test needs.
#[derive(Debug)]
pub struct PresenceGate {
    kind: String,
    /// Only calls addressed to this tenant user (`None`: any).
    user: Option<String>,
    /// Calls still to hold back.
    remaining: u32,
    /// Calls held back so far.
    pub held: u32,
    open: tokio::sync::watch::Sender<bool>,
}

impl PresenceGate {
    pub fn new(kind: &str, user: Option<&str>, count: u32) -> PresenceGate {
        PresenceGate {
            kind: kind.to_owned(),
            user: user.map(str::to_owned),
            remaining: count,
            held: 0,
            open: tokio::sync::watch::channel(false).0,
        }
    }

    /// Whether a call of `kind` to `user` is held back: what to wait on until the gate
    /// opens.
    pub fn admit(
        &mut self,
        kind: &str,
        user: Option<&str>,
    ) -> Option<tokio::sync::watch::Receiver<bool>> {
        let addressed = match (&self.user, user) {
            (None, _) => true,
            (Some(want), Some(user)) => want.eq_ignore_ascii_case(user),
            (Some(_), None) => false,
        };
        if self.remaining == 0 || kind != self.kind || !addressed {
            return None;
        }
        self.remaining -= 1;
        self.held += 1;
        Some(self.open.subscribe())
    }

    /// Lets the calls held back go on.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

/// One tenant user's presence and mailbox settings.
#[derive(Debug, Clone)]
pub struct TenantAutomation {
    pub presence: PresenceState,
    pub mailbox_settings: Value,
}

impl AutomationState {
    pub fn new(zone: Tz) -> AutomationState {
        AutomationState {
            clock_offset: Duration::zero(),
            presence: PresenceState::default(),
            mailbox_settings: default_mailbox_settings(zone, Utc::now()),
            calls: Vec::new(),
            presence_failures: VecDeque::new(),
            presence_gate: None,
            webex_failures: VecDeque::new(),
            webex: BTreeMap::new(),
            webex_tokens: HashSet::new(),
            webex_people: BTreeMap::new(),
            ami_db: BTreeMap::new(),
            ami_username: DEFAULT_AMI_USERNAME.into(),
            ami_secret: DEFAULT_AMI_SECRET.into(),
            ami_failures: 0,
            sink: Vec::new(),
            sink_status: 200,
            tenant: HashMap::new(),
        }
    }

    /// The state of tenant user `id` (made on first use: Available in Teams, automatic
    /// replies off).
    pub fn tenant_mut(&mut self, id: &str) -> &mut TenantAutomation {
        let now = self.now();
        self.tenant
            .entry(id.to_owned())
            .or_insert_with(|| TenantAutomation {
                presence: PresenceState::default(),
                mailbox_settings: default_mailbox_settings(Tz::UTC, now),
            })
    }

    /// The presence of `target` (`None`: the signed-in user).
    pub fn presence_of(&mut self, target: Option<&str>) -> &mut PresenceState {
        match target {
            Some(id) => &mut self.tenant_mut(id).presence,
            None => &mut self.presence,
        }
    }

    /// The mailbox settings of `target` (`None`: the signed-in user).
    pub fn mailbox_settings_of(&mut self, target: Option<&str>) -> &mut Value {
        match target {
            Some(id) => &mut self.tenant_mut(id).mailbox_settings,
            None => &mut self.mailbox_settings,
        }
    }

    /// [`AutomationState::presence_json`] of tenant user `id`.
    pub fn tenant_presence_json(&mut self, id: &str) -> Value {
        let now = self.now();
        let t = self.tenant_mut(id);
        t.presence.expire(now);
        let (availability, activity) = t.presence.aggregate();
        let (is_oof, message) = out_of_office(&t.mailbox_settings, now);
        json!({
            "id": id,
            "availability": availability,
            "activity": activity,
            "statusMessage": t.presence.status_message_json(),
            "outOfOfficeSettings": { "message": message, "isOutOfOffice": is_oof },
            "sequenceNumber": format!("C{:019}", t.presence.sequence),
        })
    }

    /// The emulator clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn record(&mut self, at: DateTime<Utc>, kind: &str, body: Value, status: u16) {
        self.record_as(at, kind, body, status, None);
    }

    /// [`AutomationState::record`] of a call addressed to tenant user `user`.
    pub fn record_as(
        &mut self,
        at: DateTime<Utc>,
        kind: &str,
        body: Value,
        status: u16,
        user: Option<String>,
    ) {
        self.calls.push(PresenceCall {
            at,
            kind: kind.to_string(),
            body,
            status,
            user,
        });
    }

    /// The presence resource as `GET /me/presence` answers it now (without
    /// `@odata.context`).
    pub fn presence_json(&mut self, user_id: &str) -> Value {
        let now = self.now();
        self.presence.expire(now);
        let (availability, activity) = self.presence.aggregate();
        let (is_oof, message) = out_of_office(&self.mailbox_settings, now);
        json!({
            "id": user_id,
            "availability": availability,
            "activity": activity,
            "statusMessage": self.presence.status_message_json(),
            "outOfOfficeSettings": { "message": message, "isOutOfOffice": is_oof },
            "sequenceNumber": format!("C{:019}", self.presence.sequence),
        })
    }
}

/// Parses an ISO 8601 duration (`PT5M`, `PT1H30M`, `P1D`, `P1DT2H`, `PT90S`, `P1W`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if !in_time && num.is_empty() => in_time = true,
            d if d.is_ascii_digit() || d == '.' => num.push(d),
            unit => {
                let n: f64 = num.parse().ok()?;
                num.clear();
                let secs = match (unit, in_time) {
                    ('W', false) => n * 7.0 * 86400.0,
                    ('D', false) => n * 86400.0,
                    ('H', true) => n * 3600.0,
                    ('M', true) => n * 60.0,
                    ('S', true) => n,
                    _ => return None,
                };
                total += Duration::milliseconds((secs * 1000.0).round() as i64);
                any = true;
            }
        }
    }
    (num.is_empty() && any).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT5M"), Some(Duration::minutes(5)));
        assert_eq!(parse_duration("PT4H"), Some(Duration::hours(4)));
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("P1DT1H"), Some(Duration::hours(25)));
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::milliseconds(500)));
        assert_eq!(parse_duration("P1W"), Some(Duration::days(7)));
        for bad in ["", "P", "PT", "5M", "PT5", "P5M5", "PTX", "P1H"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn aggregation_follows_teams_precedence() {
        let now = Utc::now();
        let session = |id: &str, a: &str, b: &str, secs: i64| Session {
            id: id.into(),
            availability: a.into(),
            activity: b.into(),
            expires: now + Duration::minutes(5),
            set_at: now + Duration::seconds(secs),
        };
        let mut p = PresenceState {
            teams_client: None,
            ..PresenceState::default()
        };
        assert_eq!(p.aggregate(), ("Offline".into(), "Offline".into()));
        p.preferred = Some(Preferred {
            availability: "Busy".into(),
            activity: "Busy".into(),
            expires: None,
        });
        // A preferred presence shows only while some session exists.
        assert_eq!(p.aggregate(), ("Offline".into(), "Offline".into()));
        p.preferred = None;
        p.sessions.push(session("a", "Away", "Away", 0));
        assert_eq!(p.aggregate().0, "Away");
        p.sessions.push(session("b", "Available", "Available", 1));
        assert_eq!(p.aggregate().0, "Available");
        p.sessions.push(session("c", "Busy", "InACall", 2));
        assert_eq!(p.aggregate(), ("Busy".into(), "InACall".into()));
        p.sessions
            .push(session("d", "DoNotDisturb", "Presenting", 3));
        assert_eq!(p.aggregate().0, "DoNotDisturb");
        p.preferred = Some(Preferred {
            availability: "Away".into(),
            activity: "Away".into(),
            expires: None,
        });
        assert_eq!(p.aggregate(), ("Away".into(), "Away".into()));
        p.expire(now + Duration::minutes(6));
        assert_eq!(p.aggregate(), ("Offline".into(), "Offline".into()));
    }

    #[test]
    fn webex_put_merges_and_validates() {
        let mut f = default_webex_forwarding();
        put_webex_forwarding(
            &mut f,
            &json!({"callForwarding": {"always": {"enabled": true, "destination": "+4930123"}}}),
        )
        .unwrap();
        assert_eq!(f["callForwarding"]["always"]["enabled"], true);
        assert_eq!(f["callForwarding"]["always"]["ringReminderEnabled"], false);
        let before = f.clone();
        assert!(put_webex_forwarding(
            &mut f,
            &json!({"callForwarding": {"busy": {"enabled": true}}})
        )
        .is_err());
        assert_eq!(f, before);
    }
}
