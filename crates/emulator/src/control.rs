//! Test control: the Rust [`Control`] handle and the HTTP API under `/_emulator/`.
//! Every mailbox mutation bumps the change sequence, so the next delta round reports it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

use std::collections::BTreeMap;

use crate::automation::{
    self, CountedFailure, Preferred, PresenceCall, SinkRequest, StatusMessage,
};
use crate::faults::Fault;
use crate::latency::Latency;
use crate::mailbox::{self, EventRecord, Exception, Mailbox, OccurrenceOverride, Resolved};
use crate::paging::DeltaOrder;
use crate::state::{AppState, RequestRecord};
use crate::tokens::{AppRegistration, AuthState, DeviceStep, SignInAudience};
use crate::tz;

/// A certificate credential as the directory keeps it: the `x5t#S256` thumbprint
/// (base64url SHA-256 of the DER certificate) and the certificate as PEM (whose public key
/// `jsonwebtoken` reads to verify a client assertion).
fn certificate_credential(pem_text: &str) -> Result<(String, Vec<u8>), ControlError> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let cert =
        pem::parse(pem_text).map_err(|e| ControlError::Invalid(format!("certificate PEM: {e}")))?;
    if cert.tag() != "CERTIFICATE" {
        return Err(ControlError::Invalid(format!(
            "expected a CERTIFICATE PEM block, found {}",
            cert.tag()
        )));
    }
    jsonwebtoken::DecodingKey::from_rsa_pem(pem_text.as_bytes()).map_err(|e| {
        ControlError::Invalid(format!("the certificate holds no RSA public key: {e}"))
    })?;
    let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(cert.contents()));
    Ok((thumbprint, pem_text.as_bytes().to_vec()))
}

/// Why a control operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// No event (or calendar) with this id.
    NotFound(String),
    /// The input is not a valid event or patch.
    Invalid(String),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::NotFound(id) => {
                write!(f, "no event, calendar or app registration with id {id}")
            }
            ControlError::Invalid(why) => write!(f, "invalid input: {why}"),
        }
    }
}

impl std::error::Error for ControlError {}

/// A cheap, cloneable handle on a running emulator's state, for tests and the demo.
#[derive(Clone, Debug)]
pub struct Control {
    pub(crate) st: AppState,
}

impl Control {
    // ---- server mode: the tenant's users and confidential clients ----------------------

    /// Adds `count` tenant users (`user{n}@contoso.onmicrosoft.com`, numbered on from those
    /// already there), each with a mailbox seeded like the demo user's; returns their
    /// `(id, upn)`.
    pub fn add_users(&self, count: usize) -> Vec<(String, String)> {
        let mut users = self.st.users();
        let first = users.len() + 1;
        (first..first + count)
            .map(|n| {
                let id = format!("00000000-0000-4000-8000-{n:012}");
                let upn = format!("user{n}@{}", crate::DEMO_TENANT_DOMAIN);
                let user = mailbox::User {
                    id: id.clone(),
                    display_name: format!("User {n}"),
                    given_name: "User".into(),
                    surname: n.to_string(),
                    upn: upn.clone(),
                    mail: upn.clone(),
                    job_title: "Staff".into(),
                };
                let mailbox = crate::seed::build_for(
                    user,
                    self.st.today,
                    self.st.mailbox_tz,
                    crate::Seed::Demo,
                );
                users.insert(
                    id.to_ascii_lowercase(),
                    std::sync::Arc::new(crate::state::TenantUser {
                        id: id.clone(),
                        upn: upn.clone(),
                        mailbox: std::sync::Mutex::new(mailbox),
                    }),
                );
                (id, upn)
            })
            .collect()
    }

    /// Creates (or replaces) a group whose direct members are `members`: ids of tenant users
    /// or of other groups (nested groups make `transitiveMembers` reach their members too).
    pub fn set_group(&self, id: &str, display_name: &str, members: &[&str]) {
        self.st.groups().insert(
            id.to_ascii_lowercase(),
            crate::state::TenantGroup {
                id: id.to_string(),
                display_name: display_name.to_string(),
                members: members.iter().map(|m| (*m).to_string()).collect(),
            },
        );
    }

    /// Adds a Graph-shaped event (as [`Control::add_event`]) to a tenant user's mailbox.
    pub fn add_user_event(&self, user: &str, event: Value) -> Result<String, ControlError> {
        let user = self
            .st
            .user(user)
            .ok_or_else(|| ControlError::NotFound(user.to_string()))?;
        let mut mb = user.mailbox();
        let rec = new_record(&mb, &event)?;
        let id = rec.id.clone();
        mb.put(rec);
        drop(mb);
        crate::subscriptions::changed(&self.st, &user.id, &id, "created");
        Ok(id)
    }

    /// Deletes an event from a tenant user's mailbox (notifying subscribers).
    pub fn remove_user_event(&self, user: &str, id: &str) -> Result<(), ControlError> {
        let user = self
            .st
            .user(user)
            .ok_or_else(|| ControlError::NotFound(user.to_string()))?;
        if !user.mailbox().remove(id) {
            return Err(ControlError::NotFound(id.to_string()));
        }
        crate::subscriptions::changed(&self.st, &user.id, id, "deleted");
        Ok(())
    }

    /// The live change-notification subscriptions: `(id, resource, expiration)`.
    pub fn subscriptions(&self) -> Vec<(String, String, chrono::DateTime<Utc>)> {
        self.st
            .subscriptions()
            .subscriptions
            .values()
            .map(|s| (s.id.clone(), s.resource.clone(), s.expires))
            .collect()
    }

    /// How long after a change its notification is sent (default 200 ms).
    pub fn set_notification_delay(&self, delay: std::time::Duration) {
        self.st.subscriptions().delay = delay;
    }

    /// Drops the next `count` notifications, sending a `missed` lifecycle event instead (to
    /// subscriptions that have a lifecycle URL), as Graph does when it could not deliver.
    pub fn miss_notifications(&self, count: u32) {
        self.st.subscriptions().miss_next = count;
    }

    /// Sends lifecycle event `event` (`missed`, `reauthorizationRequired`,
    /// `subscriptionRemoved`; the last also removes the subscription). False when there is
    /// no such subscription or it has no lifecycle URL.
    pub fn send_lifecycle(&self, subscription_id: &str, event: &str) -> bool {
        crate::subscriptions::send_lifecycle(&self.st, subscription_id, event)
    }

    /// The notifications sent so far: `(url, body, the endpoint's status)`.
    pub fn notification_deliveries(&self) -> Vec<(String, Value, Option<u16>)> {
        self.st
            .subscriptions()
            .deliveries
            .iter()
            .map(|d| (d.url.clone(), d.body.clone(), d.status))
            .collect()
    }

    /// Registers a confidential client (a daemon app) with application permissions that
    /// an administrator consented to (`roles`, e.g. `Calendars.Read`), a certificate
    /// (`certificate_pem`, an X.509 certificate whose public key verifies its client
    /// assertions) and/or client secrets. Replaces an earlier registration of the id.
    pub fn register_confidential_app(
        &self,
        client_id: &str,
        certificate_pem: Option<&str>,
        secrets: &[&str],
        roles: &[&str],
    ) -> Result<(), ControlError> {
        let certificates = match certificate_pem {
            None => Vec::new(),
            Some(pem_text) => vec![certificate_credential(pem_text)?],
        };
        self.st.auth().confidential.insert(
            client_id.to_ascii_lowercase(),
            crate::tokens::ConfidentialApp {
                client_id: client_id.to_string(),
                certificates,
                secrets: secrets.iter().map(|s| (*s).to_string()).collect(),
                roles: roles.iter().map(|s| (*s).to_string()).collect(),
            },
        );
        Ok(())
    }

    /// Adds a Graph-shaped event (`subject`, `start`/`end` `{dateTime, timeZone}`,
    /// `isAllDay`, `showAs`, `recurrence`, ...; an extra `calendarId` picks a non-primary
    /// calendar) and returns its id.
    pub fn add_event(&self, event: Value) -> Result<String, ControlError> {
        let mut mb = self.st.mailbox();
        let rec = new_record(&mb, &event)?;
        let id = rec.id.clone();
        mb.put(rec);
        tracing::debug!(%id, "control: event added");
        Ok(id)
    }

    /// Adds many events (as [`Control::add_event`]) as ONE change: the change sequence is
    /// bumped once. All or nothing: on an invalid event nothing is added and the error names
    /// its index. Returns the ids in input order.
    pub fn add_events_bulk(&self, events: Vec<Value>) -> Result<Vec<String>, ControlError> {
        let mut mb = self.st.mailbox();
        let records = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                new_record(&mb, e).map_err(|err| match err {
                    ControlError::NotFound(id) => ControlError::NotFound(id),
                    ControlError::Invalid(why) => {
                        ControlError::Invalid(format!("event {i}: {why}"))
                    }
                })
            })
            .collect::<Result<Vec<EventRecord>, ControlError>>()?;
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        mb.put_many(records);
        tracing::debug!(count = ids.len(), "control: events added in bulk");
        Ok(ids)
    }

    /// Applies a Graph-shaped patch to an event. On an occurrence id it changes only that
    /// occurrence (it becomes an exception: `start`, `end`, `subject`, `location`, `showAs`).
    pub fn update_event(&self, id: &str, patch: Value) -> Result<(), ControlError> {
        let mut mb = self.st.mailbox();
        match mb
            .resolve(id)
            .ok_or_else(|| ControlError::NotFound(id.to_string()))?
        {
            Resolved::Item(r) => {
                let mut rec = (*r).clone();
                mailbox::apply_json(&mut rec, &patch).map_err(ControlError::Invalid)?;
                rec.change_count += 1;
                rec.last_modified = Utc::now();
                mb.put(rec);
            }
            Resolved::Occurrence(master, date) => {
                if patch.get("isCancelled").and_then(Value::as_bool) == Some(true) {
                    let mut rec = (*master).clone();
                    rec.exceptions.insert(date, Exception::Cancelled);
                    mb.put(rec);
                    return Ok(());
                }
                let inst = mb
                    .instance(id)
                    .ok_or_else(|| ControlError::NotFound(id.to_string()))?;
                let mut ov = inst
                    .override_
                    .clone()
                    .unwrap_or_else(|| OccurrenceOverride {
                        start: inst.start.with_timezone(&master.tz).naive_local(),
                        end: inst.end.with_timezone(&master.tz).naive_local(),
                        subject: None,
                        location: None,
                        show_as: None,
                        last_modified: master.last_modified,
                        change_count: 0,
                    });
                let duration = ov.end - ov.start;
                if let Some(s) = patch.get("start") {
                    let (local, zone) =
                        mailbox::parse_date_time_zone(s, "start").map_err(ControlError::Invalid)?;
                    ov.start = tz::local_to_utc(zone, local)
                        .with_timezone(&master.tz)
                        .naive_local();
                    ov.end = ov.start + duration;
                }
                if let Some(e) = patch.get("end") {
                    let (local, zone) =
                        mailbox::parse_date_time_zone(e, "end").map_err(ControlError::Invalid)?;
                    ov.end = tz::local_to_utc(zone, local)
                        .with_timezone(&master.tz)
                        .naive_local();
                }
                if ov.end < ov.start {
                    return Err(ControlError::Invalid(
                        "the end of an event cannot be before its start".into(),
                    ));
                }
                if let Some(s) = patch.get("subject").and_then(Value::as_str) {
                    ov.subject = Some(s.to_string());
                }
                if let Some(l) = patch
                    .get("location")
                    .and_then(|l| l.get("displayName"))
                    .and_then(Value::as_str)
                {
                    ov.location = Some(l.to_string());
                }
                if let Some(s) = patch.get("showAs").and_then(Value::as_str) {
                    ov.show_as = Some(s.to_string());
                }
                ov.change_count += 1;
                ov.last_modified = Utc::now();
                let mut rec = (*master).clone();
                rec.exceptions
                    .insert(date, Exception::Modified(Box::new(ov)));
                mb.put(rec);
            }
        }
        Ok(())
    }

    /// Deletes an event; on an occurrence id, deletes just that occurrence.
    pub fn delete_event(&self, id: &str) -> Result<(), ControlError> {
        let mut mb = self.st.mailbox();
        match mb
            .resolve(id)
            .ok_or_else(|| ControlError::NotFound(id.to_string()))?
        {
            Resolved::Item(_) => {
                mb.remove(id);
            }
            Resolved::Occurrence(master, date) => {
                mb.instance(id)
                    .ok_or_else(|| ControlError::NotFound(id.to_string()))?;
                let mut rec = (*master).clone();
                rec.exceptions.insert(date, Exception::Cancelled);
                mb.put(rec);
            }
        }
        Ok(())
    }

    /// The organizer cancels the meeting, as the attendee's mailbox sees it: the event stays
    /// with `isCancelled: true` and a "Canceled: " subject. A cancelled occurrence leaves the
    /// view, as the service does.
    pub fn cancel_event(&self, id: &str) -> Result<(), ControlError> {
        let mut mb = self.st.mailbox();
        match mb
            .resolve(id)
            .ok_or_else(|| ControlError::NotFound(id.to_string()))?
        {
            Resolved::Item(r) => {
                let mut rec = (*r).clone();
                rec.is_cancelled = true;
                if !rec.subject.starts_with("Canceled: ") {
                    rec.subject = format!("Canceled: {}", rec.subject);
                }
                rec.change_count += 1;
                rec.last_modified = Utc::now();
                mb.put(rec);
            }
            Resolved::Occurrence(master, date) => {
                mb.instance(id)
                    .ok_or_else(|| ControlError::NotFound(id.to_string()))?;
                let mut rec = (*master).clone();
                rec.exceptions.insert(date, Exception::Cancelled);
                mb.put(rec);
            }
        }
        Ok(())
    }

    /// The current Graph JSON of an event or occurrence (start/end in UTC).
    pub fn event(&self, id: &str) -> Option<Value> {
        let mb = self.st.mailbox();
        match mb.resolve(id)? {
            Resolved::Item(r) if r.recurrence.is_some() => {
                Some(mailbox::master_json(&r, chrono_tz::Tz::UTC, "UTC"))
            }
            _ => mb
                .instance(id)
                .map(|i| i.to_json(chrono_tz::Tz::UTC, "UTC")),
        }
    }

    /// Injects a fault (see [`Fault`]): counted and round faults queue up in order,
    /// `RevokeRefreshTokens` and `ExpireDeltaTokens` act at once, `ConsentRequired` stays on
    /// until [`Control::clear_faults`].
    pub fn push_fault(&self, fault: Fault) {
        tracing::debug!(?fault, "control: fault pushed");
        if fault == Fault::RevokeRefreshTokens {
            self.st.auth().revoke_refresh_tokens();
        }
        self.st.faults().push(fault);
    }

    /// Removes every queued fault and switches `ConsentRequired` and
    /// `ConditionalAccessBlock` off (app registrations and the tenant policy stay). What already happened
    /// stays: revoked refresh tokens and expired delta tokens remain dead.
    pub fn clear_faults(&self) {
        self.st.faults().clear();
    }

    /// The faults still queued or on, in order.
    pub fn active_faults(&self) -> Vec<Fault> {
        self.st.faults().active()
    }

    /// Every request served on the identity and Graph endpoints so far (not `/_emulator/`),
    /// in completion order. A request is recorded when its response is complete.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.st.log().clone()
    }

    /// The most Graph (`/v1.0/...`) requests in flight at once since the start or the last
    /// [`Control::reset_max_concurrency`].
    pub fn max_concurrent_graph_requests(&self) -> usize {
        self.st.graph_max_in_flight.load(Ordering::SeqCst)
    }

    /// Restarts [`Control::max_concurrent_graph_requests`] from the requests in flight now.
    pub fn reset_max_concurrency(&self) {
        let now = self.st.graph_in_flight.load(Ordering::SeqCst);
        self.st.graph_max_in_flight.store(now, Ordering::SeqCst);
    }

    /// Requests served on the identity and Graph endpoints (not `/_emulator/`): the length
    /// of [`Control::request_log`].
    pub fn request_count(&self) -> u64 {
        self.st.requests.load(Ordering::Relaxed)
    }

    /// Response body bytes sent on the identity and Graph endpoints: the sum of the
    /// `bytes` of [`Control::request_log`].
    pub fn bytes_sent(&self) -> u64 {
        self.st.bytes_sent.load(Ordering::Relaxed)
    }

    /// The mailbox's change sequence number (bumped by every mutation).
    pub fn change_sequence(&self) -> u64 {
        self.st.mailbox().seq()
    }

    /// A valid bearer token for Graph (demo client, default scopes), without a sign-in.
    pub fn issue_access_token_for_tests(&self) -> String {
        let scopes: Vec<String> = ["User.Read", "Calendars.Read"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        self.st.auth().issue_access(crate::DEMO_CLIENT_ID, &scopes)
    }

    /// Makes every access token issued so far expire now.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for t in self.st.auth().access.values_mut() {
            t.expires = now;
        }
    }

    /// Registers another public-client app (loopback redirect URIs, public client flows on,
    /// enabled, multi-tenant, no admin consent).
    pub fn register_app(&self, client_id: &str, redirect_uris: &[&str]) {
        let mut auth = self.st.auth();
        auth.remove_app(client_id);
        auth.apps.push(AppRegistration {
            client_id: client_id.to_string(),
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_string()).collect(),
            allow_public_client_flows: true,
        });
    }

    // ---- the directory: app registrations and the tenant's consent settings ------------
    //
    // These are the emulated tenant's state, not faults: `clear_faults` leaves them as set.

    /// An app registration as `GET /_emulator/apps/{clientId}` answers it: `{clientId,
    /// redirectUris, allowPublicClientFlows, enabled, signInAudience, adminConsented}`
    /// (`signInAudience`: `AzureADMyOrg`, `AzureADMultipleOrgs` or
    /// `AzureADandPersonalMicrosoftAccount`).
    pub fn app_registration(&self, client_id: &str) -> Option<Value> {
        let auth = self.st.auth();
        auth.app(client_id).map(|a| app_json(&auth, a))
    }

    /// Every app registration, as [`Control::app_registration`] shows them.
    pub fn app_registrations(&self) -> Vec<Value> {
        let auth = self.st.auth();
        auth.apps.iter().map(|a| app_json(&auth, a)).collect()
    }

    /// Changes an app registration with a JSON object holding any of the fields of
    /// [`Control::app_registration`] (`clientId`, if present, must name the same app). All
    /// or nothing; returns the registration as it is now.
    pub fn update_app_registration(
        &self,
        client_id: &str,
        patch: Value,
    ) -> Result<Value, ControlError> {
        let patch: AppPatch = serde_json::from_value(patch)
            .map_err(|e| ControlError::Invalid(format!("not an app registration patch: {e}")))?;
        if patch
            .client_id
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(client_id))
        {
            return Err(ControlError::Invalid("clientId cannot change".into()));
        }
        let audience = patch
            .sign_in_audience
            .as_deref()
            .map(|a| {
                SignInAudience::parse(a)
                    .ok_or_else(|| ControlError::Invalid(format!("unknown signInAudience {a:?}")))
            })
            .transpose()?;
        let mut auth = self.st.auth();
        let app = auth
            .apps
            .iter_mut()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
            .ok_or_else(|| ControlError::NotFound(client_id.to_string()))?;
        if let Some(uris) = patch.redirect_uris {
            app.redirect_uris = uris;
        }
        if let Some(on) = patch.allow_public_client_flows {
            app.allow_public_client_flows = on;
        }
        auth.update_properties(client_id, |p| {
            if let Some(on) = patch.enabled {
                p.enabled = on;
            }
            if let Some(a) = audience {
                p.sign_in_audience = a;
            }
            if let Some(on) = patch.admin_consented {
                p.admin_consented = on;
            }
        });
        tracing::debug!(client_id, "control: app registration changed");
        let app = auth
            .app(client_id)
            .ok_or_else(|| ControlError::NotFound(client_id.to_string()))?;
        Ok(app_json(&auth, app))
    }

    /// Turns the app's "Enabled for users to sign in" off (or on again). Off: `/authorize`
    /// shows AADSTS7000112 on its error page (no redirect), `/token` and `/devicecode`
    /// answer 400 `unauthorized_client` AADSTS7000112.
    pub fn set_app_enabled(&self, client_id: &str, enabled: bool) -> Result<(), ControlError> {
        self.update_app_registration(client_id, json!({ "enabled": enabled }))
            .map(|_| ())
    }

    /// Sets who may sign in to the app (`AzureADMyOrg`: single tenant, so `/common` and
    /// `/organizations` answer AADSTS50194 — redirected back from `/authorize`, JSON from
    /// `/token` and `/devicecode`; `AzureADMultipleOrgs`, the default: `/consumers` answers
    /// AADSTS9002332; `AzureADandPersonalMicrosoftAccount`).
    pub fn set_app_sign_in_audience(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<(), ControlError> {
        self.update_app_registration(client_id, json!({ "signInAudience": audience }))
            .map(|_| ())
    }

    /// Replaces the app's registered redirect URIs. A sign-in with another redirect URI
    /// gets AADSTS50011 on `/authorize`'s error page (no redirect).
    pub fn set_app_redirect_uris(
        &self,
        client_id: &str,
        redirect_uris: &[&str],
    ) -> Result<(), ControlError> {
        self.update_app_registration(client_id, json!({ "redirectUris": redirect_uris }))
            .map(|_| ())
    }

    /// An administrator grants (or revokes) tenant-wide consent to the app.
    pub fn set_app_admin_consent(
        &self,
        client_id: &str,
        granted: bool,
    ) -> Result<(), ControlError> {
        self.update_app_registration(client_id, json!({ "adminConsented": granted }))
            .map(|_| ())
    }

    /// Deletes an app registration: its client id then gets AADSTS700016 (error page on
    /// `/authorize`, 400 `unauthorized_client` on `/token` and `/devicecode`).
    pub fn remove_app(&self, client_id: &str) -> Result<(), ControlError> {
        if self.st.auth().remove_app(client_id) {
            Ok(())
        } else {
            Err(ControlError::NotFound(client_id.to_string()))
        }
    }

    /// The tenant's consent settings: `{userConsentAllowed, adminConsentWorkflow}`.
    pub fn tenant_policy(&self) -> Value {
        let t = self.st.auth().tenant;
        json!({
            "userConsentAllowed": t.user_consent_allowed,
            "adminConsentWorkflow": t.admin_consent_workflow,
        })
    }

    /// Changes the tenant's consent settings with a JSON object holding any of the fields
    /// of [`Control::tenant_policy`]; returns them as they are now.
    pub fn update_tenant_policy(&self, patch: Value) -> Result<Value, ControlError> {
        let patch: TenantPatch = serde_json::from_value(patch)
            .map_err(|e| ControlError::Invalid(format!("not a tenant policy patch: {e}")))?;
        {
            let mut auth = self.st.auth();
            if let Some(on) = patch.user_consent_allowed {
                auth.tenant.user_consent_allowed = on;
            }
            if let Some(on) = patch.admin_consent_workflow {
                auth.tenant.admin_consent_workflow = on;
            }
        }
        Ok(self.tenant_policy())
    }

    /// "Allow user consent for apps" (default on). Off: an app no administrator consented
    /// to ([`Control::set_app_admin_consent`]) is refused at `/authorize`, redirected back
    /// with `error=access_denied` and AADSTS90094 (AADSTS90095 with the admin consent
    /// workflow on).
    pub fn set_user_consent_allowed(&self, allowed: bool) {
        self.st.auth().tenant.user_consent_allowed = allowed;
    }

    /// The admin consent workflow (default off): with user consent off, the refusal is
    /// AADSTS90095 (the user can request approval) instead of AADSTS90094.
    pub fn set_admin_consent_workflow(&self, enabled: bool) {
        self.st.auth().tenant.admin_consent_workflow = enabled;
    }

    /// What successive token polls of device codes issued from now on answer (after the
    /// script runs out, the code is approved). Default: `[Pending, Approve]`.
    pub fn set_device_code_script(&self, steps: Vec<DeviceStep>) {
        self.st.auth().device_script = steps;
    }

    // ---- presence automation: Teams presence, mailbox settings, forwarding fakes -------

    /// Every call to the presence, status message, mailbox settings, Webex, AMI and sink
    /// endpoints so far, in arrival order (see [`PresenceCall`] for the kinds).
    pub fn presence_calls(&self) -> Vec<PresenceCall> {
        self.st.automation().calls.clone()
    }

    /// Forgets the calls recorded so far (presence calls and sink requests).
    pub fn clear_presence_calls(&self) {
        let mut a = self.st.automation();
        a.calls.clear();
        a.sink.clear();
    }

    /// What `GET /me/presence` would answer now: `{id, availability, activity,
    /// statusMessage: {message: {content, contentType}, expiryDateTime,
    /// publishedDateTime} | null, outOfOfficeSettings: {message, isOutOfOffice},
    /// sequenceNumber}`.
    pub fn presence(&self) -> Value {
        let user_id = self.st.mailbox().user.id.clone();
        self.st.automation().presence_json(&user_id)
    }

    /// The application presence sessions in force now: `[{sessionId, availability,
    /// activity, expirationDateTime}]`.
    pub fn presence_sessions(&self) -> Value {
        let mut a = self.st.automation();
        let now = a.now();
        a.presence.expire(now);
        Value::Array(
            a.presence
                .sessions
                .iter()
                .map(|s| {
                    json!({
                        "sessionId": s.id,
                        "availability": s.availability,
                        "activity": s.activity,
                        "expirationDateTime": s.expires,
                    })
                })
                .collect(),
        )
    }

    /// The user's preferred presence in force now: `{availability, activity,
    /// expirationDateTime | null}` or `null`.
    pub fn preferred_presence(&self) -> Value {
        let mut a = self.st.automation();
        let now = a.now();
        a.presence.expire(now);
        match &a.presence.preferred {
            None => Value::Null,
            Some(p) => json!({
                "availability": p.availability,
                "activity": p.activity,
                "expirationDateTime": p.expires,
            }),
        }
    }

    /// The user changes their own presence in Teams (any pair; e.g. "Busy"/"Busy",
    /// "DoNotDisturb"/"DoNotDisturb", "Offline"/"OffWork"): it becomes the preferred
    /// presence, with no expiry, replacing one an app set. Not recorded as a call.
    pub fn set_user_presence(&self, availability: &str, activity: &str) {
        let mut a = self.st.automation();
        a.presence.preferred = Some(Preferred {
            availability: availability.to_string(),
            activity: activity.to_string(),
            expires: None,
        });
        a.presence.sequence += 1;
    }

    /// The object id of tenant user `user` (id or UPN), if there is one.
    fn tenant_id(&self, user: &str) -> Option<String> {
        self.st.user(user).map(|u| u.id.clone())
    }

    /// What `GET /users/{user}/presence` would answer now for tenant user `user` (id or
    /// UPN); `null` for no such user.
    pub fn tenant_presence(&self, user: &str) -> Value {
        match self.tenant_id(user) {
            Some(id) => self.st.automation().tenant_presence_json(&id),
            None => Value::Null,
        }
    }

    /// The application presence sessions in force now for tenant user `user`:
    /// `[{sessionId, availability, activity}]`.
    pub fn tenant_presence_sessions(&self, user: &str) -> Value {
        let Some(id) = self.tenant_id(user) else {
            return Value::Null;
        };
        let mut a = self.st.automation();
        let now = a.now();
        let p = a.presence_of(Some(&id));
        p.expire(now);
        Value::Array(
            p.sessions
                .iter()
                .map(|s| json!({"sessionId": s.id, "availability": s.availability, "activity": s.activity}))
                .collect(),
        )
    }

    /// Tenant user `user` changes their own presence in Teams: it becomes their preferred
    /// presence, with no expiry (as [`Control::set_user_presence`]). Not recorded as a call.
    pub fn set_tenant_user_presence(&self, user: &str, availability: &str, activity: &str) {
        let Some(id) = self.tenant_id(user) else {
            return;
        };
        let mut a = self.st.automation();
        let p = a.presence_of(Some(&id));
        p.preferred = Some(Preferred {
            availability: availability.to_string(),
            activity: activity.to_string(),
            expires: None,
        });
        p.sequence += 1;
    }

    /// Tenant user `user`'s mailbox settings now (`null` for no such user).
    pub fn tenant_mailbox_settings(&self, user: &str) -> Value {
        match self.tenant_id(user) {
            Some(id) => self.st.automation().mailbox_settings_of(Some(&id)).clone(),
            None => Value::Null,
        }
    }

    /// Tenant user `user` changes their mailbox settings in Outlook (e.g. `{"timeZone":
    /// "Pacific Standard Time"}`), as `PATCH /users/{id}/mailboxSettings` would; not
    /// recorded as a call.
    pub fn update_tenant_mailbox_settings(
        &self,
        user: &str,
        patch: Value,
    ) -> Result<(), ControlError> {
        let id = self
            .tenant_id(user)
            .ok_or_else(|| ControlError::Invalid(format!("no tenant user {user}")))?;
        let mut a = self.st.automation();
        automation::patch_mailbox_settings(a.mailbox_settings_of(Some(&id)), &patch)
            .map(|_| ())
            .map_err(|(_, why)| ControlError::Invalid(why))
    }

    /// The user picks "Reset status" in Teams: the preferred presence is cleared.
    pub fn reset_user_presence(&self) {
        let mut a = self.st.automation();
        a.presence.preferred = None;
        a.presence.sequence += 1;
    }

    /// The state of the user's own Teams client session (default Available/Available);
    /// `None`: signed out of Teams everywhere, so only app sessions count.
    pub fn set_teams_client_presence(&self, state: Option<(&str, &str)>) {
        let mut a = self.st.automation();
        a.presence.teams_client = state.map(|(x, y)| (x.to_string(), y.to_string()));
        a.presence.sequence += 1;
    }

    /// The user joins a call or meeting in their Teams client (`Some(activity)`: the
    /// client's session reports `Busy` with `InACall`, `InAConferenceCall`, or
    /// `DoNotDisturb` with `Presenting`) or leaves it (`None`: `Available` again), as
    /// another session than the app's would. The aggregate shows it unless a preferred
    /// presence or a higher-ranked session hides it (see `PresenceState::aggregate`).
    pub fn set_teams_call(&self, activity: Option<&str>) {
        let state = match activity {
            Some(a) if a.eq_ignore_ascii_case("Presenting") => ("DoNotDisturb", a),
            Some(a) => ("Busy", a),
            None => ("Available", "Available"),
        };
        self.set_teams_client_presence(Some(state));
    }

    /// The user sets a status message in Teams (no expiry; empty clears it).
    pub fn set_user_status_message(&self, content: &str) {
        let mut a = self.st.automation();
        let now = a.now();
        a.presence.status_message = (!content.is_empty()).then(|| StatusMessage {
            content: content.to_string(),
            content_type: "text".into(),
            expiry: None,
            published: now,
        });
        a.presence.sequence += 1;
    }

    /// Moves the emulator clock (used for presence, preferred presence and status message
    /// expirations, and for scheduled automatic replies) forward by `by`.
    pub fn advance_clock(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut a = self.st.automation();
        a.clock_offset = a.clock_offset.checked_add(&by).unwrap_or(a.clock_offset);
    }

    /// The emulator clock: the real clock plus what [`Control::advance_clock`] added.
    pub fn clock(&self) -> chrono::DateTime<Utc> {
        self.st.automation().now()
    }

    /// Sets the emulator clock to `at` (back or forward); it runs on from there. For a
    /// client on a fixed clock: the emulator's HTTP-date `Retry-After`, expirations and
    /// scheduled automatic replies then agree with the client's time.
    pub fn set_clock(&self, at: chrono::DateTime<Utc>) {
        self.st.automation().clock_offset = at - Utc::now();
    }

    /// Turns Graph's real-world variance on with `seed` (`None`: off), as
    /// [`crate::EmulatorConfig::variance`] does at start: answers then vary as Graph's do in
    /// the field (enum casing, `Retry-After` forms, fields left out, join links outside
    /// `onlineMeeting`, oversized pages, delta rounds in no order), each a function of the
    /// seed. See [`crate::Variance`].
    pub fn set_variance(&self, seed: Option<u64>) {
        tracing::debug!(?seed, "control: variance");
        *self.st.variance() = seed.map(crate::variance::VarianceState::new);
    }

    /// The seed of the variance in force, if any.
    pub fn variance(&self) -> Option<u64> {
        self.st.variance_seed()
    }

    /// Sets the latency of the identity and Graph endpoints, as
    /// [`crate::EmulatorConfig::latency`] does at start ([`Latency::NONE`]: none). Requests
    /// that arrive from now on wait it out. See [`Latency`].
    pub fn set_latency(&self, latency: Latency) {
        tracing::debug!(?latency, "control: latency");
        self.st.set_latency(latency);
    }

    /// The latency in force.
    pub fn latency(&self) -> Latency {
        self.st.latency()
    }

    /// Sets the order of full delta rounds that start from now on, as
    /// [`crate::EmulatorConfig::delta_order`] does at start (a round already under way keeps
    /// its order). See [`DeltaOrder`].
    pub fn set_delta_order(&self, order: DeltaOrder) {
        tracing::debug!(?order, "control: delta order");
        self.st.set_delta_order(order);
    }

    /// Sets Graph's throttling by limits (per tenant and per mailbox, `Retry-After` on each
    /// 429; inner requests of a `$batch` each on their own). See [`crate::Throttling`];
    /// `Throttling::default()` turns it off. The counts start afresh.
    pub fn set_throttling(&self, limits: crate::Throttling) {
        tracing::debug!(?limits, "control: throttling");
        self.st.throttling().set_limits(limits);
    }

    /// Requests answered 429 by the limits of [`Control::set_throttling`] since the start.
    pub fn throttled_requests(&self) -> u64 {
        self.st.throttling().throttled
    }

    /// `$batch` requests served since the start, and the requests they carried in all.
    pub fn batch_requests(&self) -> (u64, u64) {
        (
            self.st.batches.load(Ordering::Relaxed),
            self.st.batch_inner.load(Ordering::Relaxed),
        )
    }

    /// Of [`Control::batch_requests`]' inner requests, the calendar delta reads.
    pub fn batched_delta_requests(&self) -> u64 {
        self.st.batch_inner_delta.load(Ordering::Relaxed)
    }

    /// The order of full delta rounds in force.
    pub fn delta_order(&self) -> DeltaOrder {
        self.st.delta_order()
    }

    /// The next `count` calls to the presence and mailbox settings endpoints (GET
    /// included) fail with `status`, shaped like Graph's (429 and 503 with `Retry-After:
    /// 1`). They are recorded with that status.
    pub fn fail_next_presence_calls(&self, count: u32, status: u16) {
        let retry = matches!(status, 429 | 503).then_some(1);
        self.fail_next_presence_calls_with_retry_after(count, status, retry);
    }

    /// Holds back the next `count` Graph presence calls of `kind` (`setPresence`,
    /// `clearPresence`, ..., as [`PresenceCall::kind`]) addressed to tenant user `user`
    /// (`None`: any user) before they are served, until [`Control::release_presence_calls`]
    /// (or the emulator stops): a call in flight for as long as a test needs. A gate already
    /// set is replaced (the calls it held go on).
    pub fn hold_presence_calls(&self, kind: &str, user: Option<&str>, count: u32) {
        let mut a = self.st.automation();
        if let Some(old) = a.presence_gate.take() {
            old.open();
        }
        a.presence_gate = Some(automation::PresenceGate::new(kind, user, count));
    }

    /// How many calls the gate of [`Control::hold_presence_calls`] has held back (0 once
    /// released).
    pub fn held_presence_calls(&self) -> u32 {
        self.st
            .automation()
            .presence_gate
            .as_ref()
            .map_or(0, |g| g.held)
    }

    /// Lets the calls held back by [`Control::hold_presence_calls`] go on, and holds back
    /// no more.
    pub fn release_presence_calls(&self) {
        if let Some(gate) = self.st.automation().presence_gate.take() {
            gate.open();
        }
    }

    /// As [`Control::fail_next_presence_calls`], with an explicit `Retry-After` (seconds).
    pub fn fail_next_presence_calls_with_retry_after(
        &self,
        count: u32,
        status: u16,
        retry_after_secs: Option<u64>,
    ) {
        if count > 0 {
            self.st
                .automation()
                .presence_failures
                .push_back(CountedFailure {
                    remaining: count,
                    status,
                    retry_after_secs,
                });
        }
    }

    /// The mailbox settings as `GET /me/mailboxSettings` answers them (without
    /// `@odata.context`).
    pub fn mailbox_settings(&self) -> Value {
        self.st.automation().mailbox_settings.clone()
    }

    /// Changes the mailbox settings as the user would in Outlook (same merge and checks as
    /// `PATCH /me/mailboxSettings`); not recorded as a call.
    pub fn update_mailbox_settings(&self, patch: Value) -> Result<(), ControlError> {
        let mut a = self.st.automation();
        automation::patch_mailbox_settings(&mut a.mailbox_settings, &patch)
            .map(|_| ())
            .map_err(|(_, why)| ControlError::Invalid(why))
    }

    /// Replaces the mailbox's `automaticRepliesSetting` with `setting` verbatim, spelled as
    /// given: Graph does not always answer its enum values in camelCase (Microsoft's own
    /// `mailboxSettings` example answers `"status": "Scheduled"`, `"externalAudience":
    /// "All"`), so tests can answer exactly that. Not recorded as a call.
    pub fn set_automatic_replies_verbatim(&self, setting: Value) {
        self.st.automation().mailbox_settings["automaticRepliesSetting"] = setting;
    }

    /// A new bearer token the Webex fake accepts.
    pub fn webex_token(&self) -> String {
        let t = format!("webex-{}", crate::tokens::random_token(48));
        self.st.automation().webex_tokens.insert(t.clone());
        t
    }

    /// A person's Webex call forwarding settings, as GET answers them.
    pub fn webex_forwarding(&self, person_id: &str) -> Value {
        self.st
            .automation()
            .webex
            .get(person_id)
            .cloned()
            .unwrap_or_else(automation::default_webex_forwarding)
    }

    /// A Webex person with the e-mail address `email` (found by `GET /people?email=`);
    /// returns their person id.
    pub fn add_webex_person(&self, email: &str) -> String {
        let id = format!(
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9{}",
            crate::tokens::random_token(16)
        );
        self.st
            .automation()
            .webex_people
            .insert(email.to_lowercase(), id.clone());
        id
    }

    /// Sets a person's `callForwarding.always` as the person would by hand (not recorded
    /// as a call): `None` switches it off, `Some(destination)` forwards there.
    pub fn set_webex_forwarding_always(&self, person_id: &str, destination: Option<&str>) {
        let mut a = self.st.automation();
        let current = a
            .webex
            .entry(person_id.to_owned())
            .or_insert_with(automation::default_webex_forwarding);
        current["callForwarding"]["always"] = match destination {
            Some(d) => serde_json::json!({
                "enabled": true, "destination": d, "destinationVoicemailEnabled": false,
                "ringReminderEnabled": false,
            }),
            None => serde_json::json!({
                "enabled": false, "destinationVoicemailEnabled": false, "ringReminderEnabled": false,
            }),
        };
    }

    /// The next `count` Webex calls fail with `status` (429 and 503 with `Retry-After: 1`).
    pub fn fail_next_webex_calls(&self, count: u32, status: u16) {
        if count > 0 {
            self.st
                .automation()
                .webex_failures
                .push_back(CountedFailure {
                    remaining: count,
                    status,
                    retry_after_secs: matches!(status, 429 | 503).then_some(1),
                });
        }
    }

    /// The credentials the AMI fake accepts at `Action: Login` (default
    /// [`crate::DEFAULT_AMI_USERNAME`] / [`crate::DEFAULT_AMI_SECRET`]).
    pub fn set_ami_credentials(&self, username: &str, secret: &str) {
        let mut a = self.st.automation();
        a.ami_username = username.to_string();
        a.ami_secret = secret.to_string();
    }

    /// The AMI fake's Asterisk database: "family/key" → value (e.g. "CF/1001" → "0301234").
    pub fn ami_db(&self) -> BTreeMap<String, String> {
        self.st.automation().ami_db.clone()
    }

    /// Puts an entry in the AMI fake's database (as if set on the phone), not recorded.
    pub fn set_ami_db_entry(&self, family: &str, key: &str, value: Option<&str>) {
        let mut a = self.st.automation();
        let k = format!("{family}/{key}");
        match value {
            Some(v) => {
                a.ami_db.insert(k, v.to_string());
            }
            None => {
                a.ami_db.remove(&k);
            }
        }
    }

    /// The next `count` `DBPut` / `DBDel` actions fail (`Response: Error`).
    pub fn fail_next_ami_actions(&self, count: u32) {
        self.st.automation().ami_failures += count;
    }

    /// Every request the HTTP sink received, in arrival order.
    pub fn sink_requests(&self) -> Vec<SinkRequest> {
        self.st.automation().sink.clone()
    }

    /// The status the sink answers from now on (default 200).
    pub fn set_sink_status(&self, status: u16) {
        self.st.automation().sink_status = status;
    }
}

/// A change to an app registration (`PATCH /_emulator/apps/{clientId}`, and the body of
/// `POST /_emulator/apps`).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AppPatch {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    allow_public_client_flows: Option<bool>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    sign_in_audience: Option<String>,
    #[serde(default)]
    admin_consented: Option<bool>,
}

/// A change to the tenant's consent settings (`PATCH /_emulator/tenant`).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TenantPatch {
    #[serde(default)]
    user_consent_allowed: Option<bool>,
    #[serde(default)]
    admin_consent_workflow: Option<bool>,
}

fn app_json(auth: &AuthState, app: &AppRegistration) -> Value {
    let props = auth.properties(&app.client_id);
    json!({
        "clientId": app.client_id,
        "redirectUris": app.redirect_uris,
        "allowPublicClientFlows": app.allow_public_client_flows,
        "enabled": props.enabled,
        "signInAudience": props.sign_in_audience.as_str(),
        "adminConsented": props.admin_consented,
    })
}

/// A new record from a Graph-shaped event (`calendarId` picks a non-primary calendar).
fn new_record(mb: &Mailbox, event: &Value) -> Result<EventRecord, ControlError> {
    let calendar_id = match event.get("calendarId").and_then(Value::as_str) {
        Some(c) => c.to_string(),
        None => mb.primary_calendar_id(),
    };
    if mb.calendar(&calendar_id).is_none() {
        return Err(ControlError::NotFound(calendar_id));
    }
    if event.get("start").is_none() || event.get("end").is_none() {
        return Err(ControlError::Invalid("start and end are required".into()));
    }
    let id = mailbox::random_item_id();
    let mut rec = mailbox::blank_record(id, calendar_id, mb.tz, &mb.user, Utc::now());
    mailbox::apply_json(&mut rec, event).map_err(ControlError::Invalid)?;
    Ok(rec)
}

// ---- HTTP --------------------------------------------------------------------------------

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/events", post(add))
        .route("/_emulator/events/bulk", post(add_bulk))
        .route(
            "/_emulator/faults",
            post(push_faults).delete(clear_faults).get(list_faults),
        )
        .route("/_emulator/requests", get(request_log))
        .route(
            "/_emulator/events/{id}",
            patch(update).delete(delete).get(get_event),
        )
        .route("/_emulator/events/{id}/cancel", post(cancel))
        .route("/_emulator/token", post(token))
        .route("/_emulator/automation", get(automation_state))
        .route("/_emulator/webex/token", post(webex_token))
        .route(
            "/_emulator/user-presence",
            post(user_presence).delete(reset_user_presence),
        )
        .route("/_emulator/clock/advance", post(advance_clock))
        .route("/_emulator/variance", get(get_variance).put(put_variance))
        .route("/_emulator/latency", get(get_latency).put(put_latency))
        .route(
            "/_emulator/delta-order",
            get(get_delta_order).put(put_delta_order),
        )
        .route("/_emulator/apps", get(list_apps).post(register_app))
        .route(
            "/_emulator/apps/{client_id}",
            get(get_app).patch(patch_app).delete(delete_app),
        )
        .route("/_emulator/tenant", get(get_tenant).patch(patch_tenant))
        .route("/_emulator/users", post(add_users_http))
        .route("/_emulator/users/{user}/events", post(add_user_event_http))
        .route(
            "/_emulator/confidential-apps",
            post(register_confidential_http),
        )
        .route("/_emulator/groups/{id}", axum::routing::put(put_group_http))
}

/// `POST /_emulator/users {"count": N}`: adds N tenant users with seeded mailboxes;
/// answers `{"users": [{"id", "userPrincipalName"}, ...]}`.
async fn add_users_http(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(count) = v["count"].as_u64().filter(|n| (1..=10_000).contains(n)) else {
        return err(&ControlError::Invalid(
            "count (1 to 10000) is required".into(),
        ));
    };
    let users = (Control { st }).add_users(count as usize);
    let users: Vec<Value> = users
        .into_iter()
        .map(|(id, upn)| json!({ "id": id, "userPrincipalName": upn }))
        .collect();
    (StatusCode::CREATED, Json(json!({ "users": users }))).into_response()
}

/// `POST /_emulator/users/{id}/events`: a Graph-shaped event into that user's mailbox.
async fn add_user_event_http(
    State(st): State<AppState>,
    Path(user): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match (Control { st }).add_user_event(&user, v) {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
        Err(e) => err(&e),
    }
}

/// `POST /_emulator/confidential-apps {"clientId", "certificatePem"?, "secrets"?: [..],
/// "roles"?: [..]}`: a daemon app with application permissions (see
/// [`Control::register_confidential_app`]).
async fn register_confidential_http(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(client_id) = v["clientId"].as_str().filter(|c| !c.trim().is_empty()) else {
        return err(&ControlError::Invalid("clientId is required".into()));
    };
    let strings = |key: &str| -> Vec<&str> {
        v[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let (secrets, roles) = (strings("secrets"), strings("roles"));
    match (Control { st }).register_confidential_app(
        client_id,
        v["certificatePem"].as_str(),
        &secrets,
        &roles,
    ) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(&e),
    }
}

/// `PUT /_emulator/groups/{id} {"displayName", "members": [user or group ids]}`.
async fn put_group_http(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let members: Vec<&str> = v["members"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let name = v["displayName"].as_str().unwrap_or(&id).to_owned();
    (Control { st }).set_group(&id, &name, &members);
    StatusCode::NO_CONTENT.into_response()
}

/// `{"apps": [registration, ...]}`.
async fn list_apps(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "apps": (Control { st }).app_registrations() }))
}

/// Registers an app: `{clientId, redirectUris?, allowPublicClientFlows?, enabled?,
/// signInAudience?, adminConsented?}` (defaults: no redirect URIs, public client flows on,
/// enabled, `AzureADMultipleOrgs`, no admin consent). 201 with the registration.
async fn register_app(State(st): State<AppState>, body: Bytes) -> Response {
    let mut v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(client_id) = v["clientId"].as_str().map(str::to_string) else {
        return err(&ControlError::Invalid("clientId is required".into()));
    };
    if client_id.trim().is_empty() {
        return err(&ControlError::Invalid("clientId is required".into()));
    }
    let c = Control { st };
    if c.app_registration(&client_id).is_some() {
        return err(&ControlError::Invalid(format!(
            "an app with clientId {client_id} is already registered"
        )));
    }
    // Checked before anything is registered: all or nothing.
    if let Err(e) = serde_json::from_value::<AppPatch>(v.clone()) {
        return err(&ControlError::Invalid(format!(
            "not an app registration: {e}"
        )));
    }
    if let Some(a) = v["signInAudience"].as_str() {
        if SignInAudience::parse(a).is_none() {
            return err(&ControlError::Invalid(format!(
                "unknown signInAudience {a:?}"
            )));
        }
    }
    c.register_app(&client_id, &[]);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("clientId");
    }
    match c.update_app_registration(&client_id, v) {
        Ok(app) => (StatusCode::CREATED, Json(app)).into_response(),
        Err(e) => err(&e),
    }
}

async fn get_app(State(st): State<AppState>, Path(client_id): Path<String>) -> Response {
    match (Control { st }).app_registration(&client_id) {
        Some(app) => Json(app).into_response(),
        None => err(&ControlError::NotFound(client_id)),
    }
}

async fn patch_app(
    State(st): State<AppState>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match (Control { st }).update_app_registration(&client_id, v) {
        Ok(app) => Json(app).into_response(),
        Err(e) => err(&e),
    }
}

async fn delete_app(State(st): State<AppState>, Path(client_id): Path<String>) -> Response {
    match (Control { st }).remove_app(&client_id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(&e),
    }
}

async fn get_tenant(State(st): State<AppState>) -> Json<Value> {
    Json((Control { st }).tenant_policy())
}

async fn patch_tenant(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match (Control { st }).update_tenant_policy(v) {
        Ok(t) => Json(t).into_response(),
        Err(e) => err(&e),
    }
}

/// Everything presence automation touched: `{presence, sessions, preferredPresence,
/// mailboxSettings, amiDb, sinkRequests, calls, clock}`.
async fn automation_state(State(st): State<AppState>) -> Json<Value> {
    let c = Control { st };
    Json(json!({
        "presence": c.presence(),
        "sessions": c.presence_sessions(),
        "preferredPresence": c.preferred_presence(),
        "mailboxSettings": c.mailbox_settings(),
        "amiDb": c.ami_db(),
        "sinkRequests": c.sink_requests(),
        "calls": c.presence_calls(),
        "clock": c.clock(),
    }))
}

async fn webex_token(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "access_token": (Control { st }).webex_token(), "token_type": "Bearer" }))
}

/// `{availability, activity}`: the user changes their presence in Teams.
async fn user_presence(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(a), Some(b)) = (v["availability"].as_str(), v["activity"].as_str()) else {
        return err(&ControlError::Invalid(
            "availability and activity are required".into(),
        ));
    };
    (Control { st }).set_user_presence(a, b);
    StatusCode::NO_CONTENT.into_response()
}

async fn reset_user_presence(State(st): State<AppState>) -> StatusCode {
    (Control { st }).reset_user_presence();
    StatusCode::NO_CONTENT
}

/// `{seconds}`: moves the emulator clock forward.
async fn advance_clock(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(secs) = v["seconds"].as_u64() else {
        return err(&ControlError::Invalid("seconds is required".into()));
    };
    let c = Control { st };
    c.advance_clock(std::time::Duration::from_secs(secs));
    Json(json!({ "clock": c.clock() })).into_response()
}

/// `{"seed": n | null}`: the real-world variance in force.
async fn get_variance(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "seed": (Control { st }).variance() }))
}

/// `{"seed": n}` turns the real-world variance on with that seed, `{"seed": null}` off.
async fn put_variance(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let seed = match v.get("seed") {
        Some(Value::Null) => None,
        Some(n) if n.is_u64() => n.as_u64(),
        _ => {
            return err(&ControlError::Invalid(
                "seed is required: a whole number, or null to turn variance off".into(),
            ))
        }
    };
    let c = Control { st };
    c.set_variance(seed);
    Json(json!({ "seed": c.variance() })).into_response()
}

fn latency_json(l: Latency) -> Value {
    json!({
        "perRequestMs": u64::try_from(l.per_request.as_millis()).unwrap_or(u64::MAX),
        "bytesPerSec": l.bytes_per_sec,
    })
}

/// `{"perRequestMs": n, "bytesPerSec": n | null}`: the latency in force.
async fn get_latency(State(st): State<AppState>) -> Json<Value> {
    Json(latency_json((Control { st }).latency()))
}

/// `{"perRequestMs": n, "bytesPerSec": n | null}` sets the latency (a field left out is 0
/// or no limit): `{"perRequestMs": 0}` turns it off.
async fn put_latency(State(st): State<AppState>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct LatencyBody {
        #[serde(default)]
        per_request_ms: u64,
        #[serde(default)]
        bytes_per_sec: Option<u64>,
    }
    let v: LatencyBody = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return err(&ControlError::Invalid(format!(
                "not a latency ({{\"perRequestMs\": n, \"bytesPerSec\": n | null}}): {e}"
            )))
        }
    };
    let c = Control { st };
    c.set_latency(
        Latency::per_request_ms(v.per_request_ms).with_bytes_per_sec(v.bytes_per_sec.unwrap_or(0)),
    );
    Json(latency_json(c.latency())).into_response()
}

/// `{"order": "byStart"}` or `{"order": "unordered", "seed": n}`: the order of full delta
/// rounds in force.
async fn get_delta_order(State(st): State<AppState>) -> Json<Value> {
    Json(json!((Control { st }).delta_order()))
}

/// Sets the order of full delta rounds (the body as `GET` answers it).
async fn put_delta_order(State(st): State<AppState>, body: Bytes) -> Response {
    let order: DeltaOrder = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(e) => {
            return err(&ControlError::Invalid(format!(
                "not a delta order ({{\"order\": \"byStart\"}} or {{\"order\": \"unordered\", \"seed\": n}}): {e}"
            )))
        }
    };
    let c = Control { st };
    c.set_delta_order(order);
    Json(json!(c.delta_order())).into_response()
}

fn err(e: &ControlError) -> Response {
    let status = match e {
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

// The error is a ready-made HTTP response, returned once per request.
#[allow(clippy::result_large_err)]
fn parse_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|e| err(&ControlError::Invalid(format!("body is not JSON: {e}"))))
}

async fn stats(State(st): State<AppState>) -> Json<Value> {
    let c = Control { st };
    Json(json!({
        "requestCount": c.request_count(),
        "bytesSent": c.bytes_sent(),
        "changeSequence": c.change_sequence(),
        "maxConcurrentGraphRequests": c.max_concurrent_graph_requests(),
    }))
}

async fn add_bulk(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Value::Array(events) = v else {
        return err(&ControlError::Invalid(
            "the body must be a JSON array of events".into(),
        ));
    };
    match (Control { st }).add_events_bulk(events) {
        Ok(ids) => (StatusCode::CREATED, Json(json!({ "ids": ids }))).into_response(),
        Err(e) => err(&e),
    }
}

async fn push_faults(State(st): State<AppState>, body: Bytes) -> Response {
    // The body is one fault or a list of faults.
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let faults = match v {
        Value::Array(_) => serde_json::from_value::<Vec<Fault>>(v),
        _ => serde_json::from_value::<Fault>(v).map(|f| vec![f]),
    };
    let faults = match faults {
        Ok(f) => f,
        Err(e) => return err(&ControlError::Invalid(format!("not a fault: {e}"))),
    };
    let c = Control { st };
    for f in faults {
        c.push_fault(f);
    }
    (StatusCode::OK, Json(json!({ "active": c.active_faults() }))).into_response()
}

async fn clear_faults(State(st): State<AppState>) -> StatusCode {
    (Control { st }).clear_faults();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "active": (Control { st }).active_faults() }))
}

async fn request_log(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "requests": (Control { st }).request_log() }))
}

async fn add(State(st): State<AppState>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match (Control { st }).add_event(v) {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
        Err(e) => err(&e),
    }
}

async fn update(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match (Control { st }).update_event(&id, v) {
        Ok(()) => (StatusCode::OK, Json(json!({ "id": id }))).into_response(),
        Err(e) => err(&e),
    }
}

async fn delete(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match (Control { st }).delete_event(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(&e),
    }
}

async fn cancel(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match (Control { st }).cancel_event(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(&e),
    }
}

async fn get_event(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match (Control { st }).event(&id) {
        Some(v) => Json(v).into_response(),
        None => err(&ControlError::NotFound(id)),
    }
}

async fn token(State(st): State<AppState>) -> Json<Value> {
    let t = (Control { st }).issue_access_token_for_tests();
    Json(
        json!({ "access_token": t, "token_type": "Bearer", "expires_in": crate::tokens::ACCESS_TOKEN_SECS }),
    )
}
