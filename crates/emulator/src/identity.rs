//! The Microsoft identity platform (v2.0 endpoints) for a public desktop client:
//! `/{tenant}/oauth2/v2.0/authorize`, `/token`, `/devicecode`.
//!
//! Errors come where the platform gives them. `/authorize` shows problems with the client
//! or the redirect URI on its own error page (HTTP 400, the AADSTS code in the page) and
//! never redirects: unknown tenant (90002), unknown app (700016), unregistered redirect URI
//! (50011), disabled app (7000112). Everything found after that goes back to the verified
//! redirect URI as `?error=…&error_description=AADSTSnnnn: …&state=…`: the audience
//! (50194 single-tenant app via `/common` or `/organizations`, 9002332 work-only app via
//! `/consumers`), bad parameters, then — once the user signed in — admin consent required
//! (90094, or 90095 with the admin consent workflow), missing consent (65001) and a
//! Conditional Access block (53003 / 530003, `access_denied`). `/token` and `/devicecode`
//! answer JSON bodies with `error`, `error_description`, `error_codes`, `trace_id`,
//! `correlation_id`, `timestamp` (and `suberror` where the platform adds one).
//!
//! The tenant and app registration behind these are the emulator's directory state
//! (`Control::set_app_*`, `set_user_consent_allowed`, `/_emulator/apps`, `/_emulator/tenant`);
//! missing consent and Conditional Access are fault switches.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::state::AppState;
use crate::tokens::{
    self, AppProperties, AuthCode, DeviceCode, DeviceStep, SignInAudience, ACCESS_TOKEN_SECS,
    AUTH_CODE_SECS, DEVICE_CODE_SECS, DEVICE_INTERVAL_SECS,
};
use crate::{DEMO_TENANT_DOMAIN, DEMO_TENANT_ID};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/devicelogin", get(devicelogin))
}

/// Scopes whose grants carry no resource (OpenID Connect and offline_access).
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
/// What `.default` grants for Microsoft Graph in the demo tenant.
const DEFAULT_GRAPH_SCOPES: &[&str] = &[
    "User.Read",
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Presence.ReadWrite",
    "MailboxSettings.ReadWrite",
];

/// An identity-platform error: `error` + AADSTS code.
#[derive(Debug)]
pub struct AadError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
    /// The platform's `suberror` refinement (e.g. `consent_required`), when there is one.
    pub suberror: Option<&'static str>,
}

impl AadError {
    fn new(error: &'static str, code: u32, message: impl Into<String>) -> AadError {
        AadError {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            message: message.into(),
            suberror: None,
        }
    }

    /// AADSTS65001: the user (or an administrator) has not consented to the app.
    fn consent_missing(error: &'static str, client_id: &str) -> AadError {
        let mut e = AadError::new(
            error,
            65001,
            format!("The user or administrator has not consented to use the application with ID '{client_id}' named 'Presently'. Send an interactive authorization request for this user and resource."),
        );
        e.suberror = Some("consent_required");
        e
    }

    /// AADSTS700016: no app with this client id in the directory.
    fn app_not_found(client_id: &str, tenant: &str) -> AadError {
        AadError::new(
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
        )
    }

    /// AADSTS7000112: the app's service principal is disabled.
    fn app_disabled(client_id: &str) -> AadError {
        AadError::new(
            "unauthorized_client",
            7000112,
            format!("Application '{client_id}'(Presently) is disabled."),
        )
    }

    /// AADSTS53003 / AADSTS530003: a Conditional Access policy blocks token issuance.
    fn conditional_access(error: &'static str, code: u32) -> AadError {
        let message = if code == 530003 {
            "Your device is required to be managed to access this resource."
        } else {
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."
        };
        let mut e = AadError::new(error, code, message);
        e.suberror = Some("message_only");
        e
    }

    /// AADSTS90094 / AADSTS90095: users may not consent and no administrator has.
    fn admin_consent_required(client_id: &str, workflow: bool) -> AadError {
        if workflow {
            AadError::new(
                "access_denied",
                90095,
                format!("Admin consent is required for the permissions requested by the application '{client_id}'. An admin consent request may be sent to the admin."),
            )
        } else {
            AadError::new(
                "access_denied",
                90094,
                "The grant requires admin permission.",
            )
        }
    }

    fn missing(param: &str) -> AadError {
        AadError::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// The JSON body the token endpoint answers with.
    fn to_json(&self, base_url: &str) -> Value {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{base_url}/error?code={}", self.code),
        })
    }

    fn into_json_response(self, base_url: &str) -> Response {
        let mut body = self.to_json(base_url);
        if let Some(sub) = self.suberror {
            body["suberror"] = Value::String(sub.to_string());
        }
        (self.status, no_store(), Json(body)).into_response()
    }
}

fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store, no-cache"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// Checks the `{tenant}` path segment.
fn check_tenant(tenant: &str) -> Result<(), AadError> {
    let t = tenant.to_ascii_lowercase();
    if ["common", "organizations", "consumers"].contains(&t.as_str())
        || t == DEMO_TENANT_ID.to_ascii_lowercase()
        || t == DEMO_TENANT_DOMAIN
    {
        Ok(())
    } else {
        Err(AadError::new(
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        ))
    }
}

/// Checks the `{tenant}` path segment against the app's sign-in audience: a single-tenant
/// app cannot use the multi-tenant endpoints (AADSTS50194), an app for work and school
/// accounts cannot use `/consumers` (AADSTS9002332). The demo tenant holds work accounts
/// only.
fn check_audience(tenant: &str, client_id: &str, props: &AppProperties) -> Result<(), AadError> {
    let t = tenant.to_ascii_lowercase();
    let audience = props.sign_in_audience;
    if t == "consumers" && audience != SignInAudience::MultipleOrgsAndPersonal {
        return Err(AadError::new(
            "invalid_request",
            9002332,
            format!("Application '{client_id}'(Presently) is configured for use by Azure Active Directory users only. Please do not use the /consumers endpoint to serve this request."),
        ));
    }
    if (t == "common" || t == "organizations") && audience == SignInAudience::MyOrg {
        return Err(AadError::new(
            "invalid_request",
            50194,
            format!("Application '{client_id}'(Presently) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant."),
        ));
    }
    Ok(())
}

/// Normalised scope names: "https://graph.microsoft.com/Calendars.Read" -> "Calendars.Read",
/// ".default" -> what the app was granted.
fn parse_scopes(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split_whitespace() {
        let name = match s.find("://") {
            Some(i) => s[i + 3..].split_once('/').map_or(s, |(_, rest)| rest),
            None => s,
        };
        if name == ".default" {
            out.extend(DEFAULT_GRAPH_SCOPES.iter().map(|x| (*x).to_string()));
        } else if !name.is_empty() {
            out.push(name.to_string());
        }
    }
    out.dedup();
    out
}

fn granted_scope_string(scopes: &[String]) -> String {
    // The platform lists the resource scopes, then the OIDC ones; offline_access is not
    // echoed.
    let mut resource: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
        .collect();
    if resource.is_empty() {
        resource.push("User.Read");
    }
    let oidc = scopes.iter().map(String::as_str).filter(|s| {
        ["openid", "profile", "email"]
            .iter()
            .any(|o| o.eq_ignore_ascii_case(s))
    });
    resource
        .into_iter()
        .chain(oidc)
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_scope(scopes: &[String], name: &str) -> bool {
    scopes.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Loopback redirect URI matching as Entra ID does it: http only, host `localhost` or
/// `127.0.0.1` as registered, any port, the path must match (an empty path is `/`).
fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
    let Ok(req) = url::Url::parse(requested) else {
        return false;
    };
    if req.scheme() != "http" || req.fragment().is_some() {
        return false;
    }
    let Some(host) = req.host_str() else {
        return false;
    };
    if host != "localhost" && host != "127.0.0.1" {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| url::Url::parse(r).ok())
        .any(|reg| {
            reg.scheme() == req.scheme() && reg.host_str() == Some(host) && reg.path() == req.path()
        })
}

// ---- /authorize --------------------------------------------------------------------------

async fn authorize(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // Errors about the client or redirect URI are shown on the sign-in page: the platform
    // never redirects to an unverified URI, and a disabled app gets no redirect either. The
    // client's redirect listener never hears of them.
    if let Err(e) = check_tenant(&tenant) {
        return error_page(&e);
    }
    let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
        return error_page(&AadError::missing("client_id"));
    };
    let (registered, props, policy) = {
        let auth = st.auth();
        let policy = auth.tenant;
        match auth.registration(client_id) {
            Some((app, props)) => (app.redirect_uris, props, policy),
            None => return error_page(&AadError::app_not_found(client_id, &tenant)),
        }
    };
    let Some(redirect_uri) = q.get("redirect_uri").filter(|r| !r.is_empty()) else {
        return error_page(&AadError::missing("redirect_uri"));
    };
    if !redirect_uri_matches(&registered, redirect_uri) {
        return error_page(&AadError::new(
            "invalid_request",
            50011,
            format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."),
        ));
    }
    if !props.enabled {
        return error_page(&AadError::app_disabled(client_id));
    }
    let Ok(mut target) = url::Url::parse(redirect_uri) else {
        return error_page(&AadError::missing("redirect_uri"));
    };
    let state = q.get("state").cloned();

    let result = (|| -> Result<String, AadError> {
        check_audience(&tenant, client_id, &props)?;
        match q.get("response_type").map(String::as_str) {
            Some("code") => {}
            None | Some("") => return Err(AadError::missing("response_type")),
            Some(other) => {
                return Err(AadError::new(
                    "unsupported_response_type",
                    70005,
                    format!("The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'. Received: '{other}'."),
                ))
            }
        }
        let scope = q
            .get("scope")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| AadError::missing("scope"))?;
        // PKCE is mandatory for this public client (the product's app registration policy,
        // the same error the platform gives where PKCE is required).
        let challenge = q.get("code_challenge").filter(|c| !c.is_empty()).ok_or_else(|| {
            AadError::new("invalid_request", 9002325, "Proof Key for Code Exchange is required for this public client authorization code redemption.")
        })?;
        match q.get("code_challenge_method").map(String::as_str) {
            Some("S256") => {}
            other => {
                return Err(AadError::new(
                    "invalid_request",
                    501491,
                    format!("Invalid code_challenge_method '{}': only 'S256' is supported for this application.", other.unwrap_or("")),
                ))
            }
        }
        if challenge.len() != 43
            || !challenge
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AadError::new(
                "invalid_request",
                501491,
                "Invalid size of Code_Challenge parameter.",
            ));
        }
        // The user signs in here. Then, in the order the platform evaluates them: consent
        // (the "Need admin approval" page, left with "Return to the application without
        // granting consent"), then Conditional Access.
        if !policy.user_consent_allowed && !props.admin_consented {
            return Err(AadError::admin_consent_required(
                client_id,
                policy.admin_consent_workflow,
            ));
        }
        let (consent_required, conditional_access) = {
            let faults = st.faults();
            (faults.consent_required, faults.conditional_access)
        };
        if consent_required {
            return Err(AadError::consent_missing("consent_required", client_id));
        }
        if let Some(code) = conditional_access {
            return Err(AadError::conditional_access("access_denied", code));
        }
        let code = format!("1.A{}", tokens::random_token(300));
        st.auth().codes.insert(
            code.clone(),
            AuthCode {
                client_id: client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                code_challenge: challenge.clone(),
                scopes: parse_scopes(scope),
                expires: Instant::now() + Duration::from_secs(AUTH_CODE_SECS),
                redeemed: false,
            },
        );
        Ok(code)
    })();

    {
        let mut pairs = target.query_pairs_mut();
        match &result {
            Ok(code) => {
                pairs.append_pair("code", code);
                if let Some(s) = &state {
                    pairs.append_pair("state", s);
                }
                pairs.append_pair("session_state", &uuid::Uuid::new_v4().to_string());
            }
            Err(e) => {
                let body = e.to_json(&st.base_url);
                pairs.append_pair("error", e.error);
                pairs.append_pair(
                    "error_description",
                    body.get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
                pairs.append_pair(
                    "error_uri",
                    &format!("{}/error?code={}", st.base_url, e.code),
                );
                if let Some(s) = &state {
                    pairs.append_pair("state", s);
                }
            }
        }
    }
    if let Err(e) = &result {
        tracing::info!(
            error = e.error,
            code = e.code,
            "authorize: error redirected to client"
        );
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, target.to_string())],
        no_store(),
    )
        .into_response()
}

fn error_page(e: &AadError) -> Response {
    tracing::info!(error = e.error, code = e.code, "authorize: error page");
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1><p id=\"error\">AADSTS{}: {}</p></body></html>",
        e.code,
        esc(&e.message)
    );
    (StatusCode::BAD_REQUEST, Html(html)).into_response()
}

// ---- /token ------------------------------------------------------------------------------

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn token(State(st): State<AppState>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let failure = st.faults().take_token();
    if let Some(status) = failure {
        let e = if status == 500 {
            let mut e = AadError::new(
                "server_error",
                90006,
                "The server encountered an unexpected error. Retry the request.",
            );
            e.status = StatusCode::INTERNAL_SERVER_ERROR;
            e
        } else {
            let mut e = AadError::new("temporarily_unavailable", 90006, "ExternalServerRetryableError - The service is temporarily unavailable. Retry the request.");
            e.status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            e
        };
        tracing::info!(status, "token: injected server error");
        return e.into_json_response(&st.base_url);
    }
    let form = parse_form(&body);
    match token_inner(&st, &tenant, &form) {
        Ok(v) => (StatusCode::OK, no_store(), Json(v)).into_response(),
        Err(e) => {
            tracing::info!(error = e.error, code = e.code, grant_type = ?form.get("grant_type"), "token: error");
            e.into_json_response(&st.base_url)
        }
    }
}

fn token_inner(
    st: &AppState,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    check_tenant(tenant)?;
    let grant_type = form
        .get("grant_type")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| AadError::missing("grant_type"))?;
    if grant_type == "client_credentials" {
        return client_credentials(st, tenant, form);
    }
    let client_id = form
        .get("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("client_id"))?;
    let props = st
        .auth()
        .registration(client_id)
        .map(|(_, props)| props)
        .ok_or_else(|| AadError::app_not_found(client_id, tenant))?;
    if !props.enabled {
        return Err(AadError::app_disabled(client_id));
    }
    check_audience(tenant, client_id, &props)?;
    if form.contains_key("client_secret") || form.contains_key("client_assertion") {
        let mut e = AadError::new(
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        );
        e.status = StatusCode::UNAUTHORIZED;
        return Err(e);
    }
    match grant_type.as_str() {
        "authorization_code" => redeem_code(st, client_id, form),
        "refresh_token" => redeem_refresh(st, client_id, form),
        "urn:ietf:params:oauth:grant-type:device_code" => redeem_device_code(st, client_id, form),
        other => Err(AadError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// What a client assertion must claim (RFC 7523; the platform's "certificate credentials").
#[derive(serde::Deserialize)]
struct AssertionClaims {
    sub: String,
    jti: Option<String>,
}

fn invalid_client(code: u32, message: String) -> AadError {
    let mut e = AadError::new("invalid_client", code, message);
    e.status = StatusCode::UNAUTHORIZED;
    e
}

/// The client-credentials grant of a confidential client (a daemon acting as itself): a
/// client assertion (an RS256 JWT signed with the key of a registered certificate, which
/// its `x5t#S256` header names) or, discouraged, a client secret. The token carries the
/// application permissions an administrator consented to, as roles.
fn client_credentials(
    st: &AppState,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    let client_id = form
        .get("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("client_id"))?;
    if ["common", "organizations", "consumers"].contains(&tenant.to_ascii_lowercase().as_str()) {
        return Err(AadError::new(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        ));
    }
    let scope = form
        .get("scope")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AadError::missing("scope"))?;
    if !scope.ends_with("/.default") {
        return Err(AadError::new(
            "invalid_scope",
            1002012,
            format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        ));
    }
    let app = st
        .auth()
        .confidential
        .get(&client_id.to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| AadError::app_not_found(client_id, tenant))?;
    match (form.get("client_assertion"), form.get("client_secret")) {
        (Some(assertion), _) => {
            let assertion_type = form.get("client_assertion_type").map(String::as_str);
            if assertion_type != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
                return Err(AadError::new(
                    "invalid_request",
                    50027,
                    "JWT token is invalid or malformed: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                ));
            }
            let audience = format!("{}/{tenant}/oauth2/v2.0/token", st.base_url);
            let claims = verify_assertion(st, &app, assertion, &audience)?;
            if claims.sub != app.client_id {
                return Err(invalid_client(
                    50027,
                    "JWT token is invalid or malformed: the assertion's sub is not the client id."
                        .into(),
                ));
            }
        }
        (None, Some(secret)) => {
            let known = app
                .secrets
                .iter()
                .any(|s| subtle_eq(s.as_bytes(), secret.as_bytes()));
            if !known {
                return Err(invalid_client(
                    7000215,
                    format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
                ));
            }
        }
        (None, None) => {
            return Err(invalid_client(
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.".into(),
            ));
        }
    }
    let access = st.auth().issue_app_access(&app.client_id, &app.roles);
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECS,
        "ext_expires_in": ACCESS_TOKEN_SECS,
        "access_token": access,
    }))
}

/// Constant-time comparison of a presented secret (no timing hints, as on the platform).
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a client assertion: the certificate its `x5t#S256` names is registered on the
/// app, the RS256 signature verifies against that certificate's key, and it is addressed
/// to this token endpoint, issued by the app, current and not replayed.
fn verify_assertion(
    st: &AppState,
    app: &tokens::ConfidentialApp,
    assertion: &str,
    audience: &str,
) -> Result<AssertionClaims, AadError> {
    use jsonwebtoken::errors::ErrorKind;
    let malformed =
        |why: String| invalid_client(50027, format!("JWT token is invalid or malformed: {why}."));
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| malformed(e.to_string()))?;
    // RS256 (PKCS#1 v1.5) and PS256 (PSS): the platform accepts both for certificates.
    let accepted = [
        jsonwebtoken::Algorithm::RS256,
        jsonwebtoken::Algorithm::PS256,
    ];
    if !accepted.contains(&header.alg) {
        return Err(malformed(format!(
            "the algorithm {:?} is not accepted (RS256 or PS256 are)",
            header.alg
        )));
    }
    let thumbprint = header
        .x5t_s256
        .clone()
        .ok_or_else(|| malformed("the header names no certificate (x5t#S256)".into()))?;
    let Some((_, public_key)) = app.certificates.iter().find(|(t, _)| *t == thumbprint) else {
        return Err(invalid_client(
            700027,
            format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]", app.client_id),
        ));
    };
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_key)
        .map_err(|e| malformed(format!("the registered key is unusable: {e}")))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation).map_err(
        |e| match e.kind() {
            ErrorKind::InvalidSignature => invalid_client(
                700027,
                "Client assertion failed signature validation.".into(),
            ),
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => invalid_client(
                700024,
                "Client assertion is not within its valid time range.".into(),
            ),
            ErrorKind::InvalidAudience => invalid_client(
                700212,
                format!("The client assertion's audience is not this token endpoint ({audience})."),
            ),
            _ => malformed(e.to_string()),
        },
    )?;
    if let Some(jti) = &data.claims.jti {
        if !st
            .auth()
            .used_assertions
            .insert(format!("{}/{jti}", app.client_id))
        {
            return Err(malformed(
                "the assertion was already used (jti replayed)".into(),
            ));
        }
    }
    Ok(data.claims)
}

fn malformed() -> AadError {
    AadError::new(
        "invalid_grant",
        9002313,
        "Invalid request. Request is malformed or invalid.",
    )
}

fn redeem_code(
    st: &AppState,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    let code = form
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("code"))?;
    let scopes = {
        let mut auth = st.auth();
        let entry = auth.codes.get_mut(code).ok_or_else(malformed)?;
        if entry.redeemed {
            return Err(AadError::new(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        }
        if entry.expires < Instant::now() {
            return Err(AadError::new(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        if !entry.client_id.eq_ignore_ascii_case(client_id) {
            return Err(AadError::new(
                "invalid_grant",
                70000,
                "The provided authorization code was issued to another client.",
            ));
        }
        if form.get("redirect_uri") != Some(&entry.redirect_uri) {
            return Err(AadError::new(
                "invalid_grant",
                70000,
                "The provided value for the input parameter 'redirect_uri' is not valid. The reply address does not match the one used to obtain the authorization code.",
            ));
        }
        let verifier = form
            .get("code_verifier")
            .map(String::as_str)
            .unwrap_or_default();
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if verifier.is_empty() || computed != entry.code_challenge {
            return Err(AadError::new(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
        check_grant_faults(st, client_id)?;
        entry.redeemed = true;
        entry.scopes.clone()
    };
    Ok(issue_tokens(st, client_id, &scopes))
}

/// Missing consent and a Conditional Access block, checked when a valid grant is redeemed.
fn check_grant_faults(st: &AppState, client_id: &str) -> Result<(), AadError> {
    let faults = st.faults();
    if faults.consent_required {
        return Err(AadError::consent_missing("invalid_grant", client_id));
    }
    if let Some(code) = faults.conditional_access {
        return Err(AadError::conditional_access("invalid_grant", code));
    }
    Ok(())
}

fn redeem_refresh(
    st: &AppState,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    let rt = form
        .get("refresh_token")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("refresh_token"))?;
    let scopes = {
        let mut auth = st.auth();
        let entry = auth.refresh.get_mut(rt).ok_or_else(malformed)?;
        if let Some(revoked) = entry.revoked_at {
            return Err(AadError::new(
                "invalid_grant",
                50173,
                format!(
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                    crate::mailbox::rfc3339(entry.issued_at),
                    crate::mailbox::rfc3339(revoked),
                ),
            ));
        }
        if entry.superseded {
            // Rotated away: every use returns a new refresh token and revokes the old one.
            return Err(AadError::new(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        if entry.expires < Instant::now() {
            return Err(AadError::new(
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued on an earlier date and was inactive for 90.00:00:00.",
            ));
        }
        if !entry.client_id.eq_ignore_ascii_case(client_id) {
            return Err(AadError::new(
                "invalid_grant",
                70000,
                "The refresh token was issued to a different client.",
            ));
        }
        check_grant_faults(st, client_id)?;
        entry.superseded = true;
        let mut scopes = entry.scopes.clone();
        if let Some(requested) = form.get("scope").filter(|s| !s.trim().is_empty()) {
            let requested = parse_scopes(requested);
            scopes = requested;
            if !has_scope(&scopes, "offline_access") {
                scopes.push("offline_access".into());
            }
        }
        scopes
    };
    Ok(issue_tokens(st, client_id, &scopes))
}

fn redeem_device_code(
    st: &AppState,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    let dc = form
        .get("device_code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("device_code"))?;
    let scopes = {
        let mut auth = st.auth();
        let entry = auth.device.get_mut(dc).ok_or_else(|| {
            AadError::new(
                "bad_verification_code",
                70000,
                "The provided value for the input parameter 'device_code' is not valid.",
            )
        })?;
        if !entry.client_id.eq_ignore_ascii_case(client_id) {
            return Err(AadError::new(
                "invalid_grant",
                70000,
                "The device code was issued to a different client.",
            ));
        }
        let step = match entry.finished {
            Some(DeviceStep::Approve) => {
                return Err(AadError::new("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."));
            }
            Some(done) => done,
            None if entry.expires < Instant::now() => DeviceStep::Expire,
            None => entry.script.pop_front().unwrap_or(DeviceStep::Approve),
        };
        if matches!(
            step,
            DeviceStep::Approve | DeviceStep::Decline | DeviceStep::Expire
        ) {
            entry.finished = Some(step);
        }
        match step {
            DeviceStep::Pending => {
                return Err(AadError::new(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ));
            }
            DeviceStep::SlowDown => {
                return Err(AadError::new("slow_down", 70016, "OAuth 2.0 device flow error. Polling too frequently: add 5 seconds to the interval and keep polling."));
            }
            DeviceStep::Decline => {
                return Err(AadError::new(
                    "authorization_declined",
                    70000,
                    "The end user denied the authorization request.",
                ));
            }
            DeviceStep::Expire => {
                return Err(AadError::new(
                    "expired_token",
                    70019,
                    "Verification code expired.",
                ));
            }
            DeviceStep::Approve => {
                // The user signed in on the other device; Conditional Access applies there.
                if let Some(code) = st.faults().conditional_access {
                    return Err(AadError::conditional_access("invalid_grant", code));
                }
                entry.scopes.clone()
            }
        }
    };
    Ok(issue_tokens(st, client_id, &scopes))
}

fn issue_tokens(st: &AppState, client_id: &str, scopes: &[String]) -> Value {
    let mut auth = st.auth();
    let access = auth.issue_access(client_id, scopes);
    let mut v = json!({
        "token_type": "Bearer",
        "scope": granted_scope_string(scopes),
        "expires_in": ACCESS_TOKEN_SECS,
        "ext_expires_in": ACCESS_TOKEN_SECS,
        "access_token": access,
    });
    if has_scope(scopes, "offline_access") {
        let rt = auth.issue_refresh(client_id, scopes);
        v["refresh_token"] = Value::String(rt);
    }
    drop(auth);
    if has_scope(scopes, "openid") {
        v["id_token"] = Value::String(id_token(st, client_id));
    }
    v
}

/// An id token shaped like the platform's, but unsigned (`alg: none`, empty signature):
/// the emulator has no keys, and clients only read claims from it.
fn id_token(st: &AppState, client_id: &str) -> String {
    let user = st.mailbox().user.clone();
    let now = Utc::now().timestamp();
    let header = json!({ "typ": "JWT", "alg": "none" });
    let claims = json!({
        "aud": client_id,
        "iss": format!("{}/{}/v2.0", st.base_url, DEMO_TENANT_ID),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": user.display_name,
        "oid": user.id,
        "preferred_username": user.upn,
        "sub": URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{}{}", user.id, client_id).as_bytes())),
        "tid": DEMO_TENANT_ID,
        "ver": "2.0",
    });
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string().as_bytes());
    format!("{}.{}.", enc(&header), enc(&claims))
}

// ---- /devicecode -------------------------------------------------------------------------

async fn devicecode(
    State(st): State<AppState>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    match devicecode_inner(&st, &tenant, &form) {
        Ok(v) => (StatusCode::OK, no_store(), Json(v)).into_response(),
        Err(e) => e.into_json_response(&st.base_url),
    }
}

fn devicecode_inner(
    st: &AppState,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<Value, AadError> {
    check_tenant(tenant)?;
    let client_id = form
        .get("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AadError::missing("client_id"))?;
    let scope = form
        .get("scope")
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| AadError::missing("scope"))?;
    let mut auth = st.auth();
    let Some((app, props)) = auth.registration(client_id) else {
        return Err(AadError::app_not_found(client_id, tenant));
    };
    if !props.enabled {
        return Err(AadError::app_disabled(client_id));
    }
    if !app.allow_public_client_flows {
        let mut e = AadError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
        e.status = StatusCode::UNAUTHORIZED;
        return Err(e);
    }
    check_audience(tenant, client_id, &props)?;
    let device_code = format!("DAQABIQEAAAB{}", tokens::random_token(200));
    let user_code = tokens::user_code();
    let script = auth.device_script.iter().copied().collect();
    auth.device.insert(
        device_code.clone(),
        DeviceCode {
            client_id: client_id.clone(),
            scopes: parse_scopes(scope),
            user_code: user_code.clone(),
            expires: Instant::now() + Duration::from_secs(DEVICE_CODE_SECS),
            script,
            finished: None,
        },
    );
    let verification_uri = format!("{}/devicelogin", st.base_url);
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": DEVICE_CODE_SECS,
        "interval": DEVICE_INTERVAL_SECS,
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
    }))
}

async fn devicelogin() -> Html<&'static str> {
    Html("<!DOCTYPE html><html><head><title>Enter code</title></head><body><h1>Enter code</h1><p>Presently emulator: device codes are approved automatically.</p></body></html>")
}

async fn openid_configuration(State(st): State<AppState>, Path(tenant): Path<String>) -> Response {
    let b = &st.base_url;
    Json(json!({
        "token_endpoint": format!("{b}/{tenant}/oauth2/v2.0/token"),
        "authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/devicecode"),
        "issuer": format!("{b}/{DEMO_TENANT_ID}/v2.0"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_ignore_the_port_but_not_the_path() {
        let reg = vec![
            "http://localhost".to_string(),
            "http://127.0.0.1/callback".to_string(),
        ];
        assert!(redirect_uri_matches(&reg, "http://localhost:53100/"));
        assert!(redirect_uri_matches(&reg, "http://localhost:53100"));
        assert!(redirect_uri_matches(&reg, "http://127.0.0.1:9/callback"));
        assert!(!redirect_uri_matches(&reg, "http://127.0.0.1:9/"));
        assert!(!redirect_uri_matches(&reg, "http://localhost:1/callback"));
        assert!(!redirect_uri_matches(&reg, "https://localhost/"));
        assert!(!redirect_uri_matches(&reg, "http://[::1]:80/"));
        assert!(!redirect_uri_matches(&reg, "http://evil.example/"));
    }

    #[test]
    fn scopes_normalise() {
        let s = parse_scopes(
            "offline_access https://graph.microsoft.com/Calendars.Read User.Read openid",
        );
        assert_eq!(
            s,
            vec!["offline_access", "Calendars.Read", "User.Read", "openid"]
        );
        assert_eq!(granted_scope_string(&s), "Calendars.Read User.Read openid");
    }
}
