//! A fake of the Microsoft identity platform's v2.0 endpoints, written from
//! "Microsoft identity platform and OAuth 2.0 authorization code flow" and "... OAuth 2.0
//! device authorization grant flow" (MicrosoftDocs/entra-docs,
//! docs/identity-platform/v2-oauth2-auth-code-flow.md and v2-oauth2-device-code.md):
//!
//! - `GET /{tenant}/oauth2/v2.0/authorize`: a public client with PKCE (S256) and a
//!   loopback redirect URI; consents at once (the scripted browser follows the redirect)
//!   and answers `?code=…&state=…` on the redirect URI.
//! - `POST /{tenant}/oauth2/v2.0/devicecode`: a device and user code; `/token` answers
//!   `authorization_pending` until the test approves.
//! - `POST /{tenant}/oauth2/v2.0/token`: authorization code (redeemed once, PKCE verifier
//!   checked, no client secret from a public client), refresh token (every refresh token
//!   issued stays valid: "Refresh tokens aren't revoked when used to acquire new access
//!   tokens"), device code.
//!
//! Errors come in the documented shape (`error`, `error_description` starting with the
//! AADSTS code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`).

use crate::fixtures;
use crate::server::{Incoming, Journal, Listener};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The application (client) id the fake knows: the one in the device-code page's example.
pub const CLIENT_ID: &str = "535fb089-9ff3-47b6-9bfb-4f1264799865";
/// The directory (tenant) id the id_token names.
pub const TENANT_ID: &str = "1717622f-1d94-4d0c-9d74-709fad664b77";

struct CodeGrant {
    redirect_uri: String,
    challenge: Option<String>,
    scopes: Vec<String>,
    used: bool,
    /// Its entry in `State::authorizations`.
    seen: usize,
}

struct DeviceGrant {
    scopes: Vec<String>,
    approved: bool,
}

/// What the fake saw of one sign-in, for assertions.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeSeen {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scopes: Vec<String>,
    /// The code was redeemed with a verifier matching the challenge.
    pub pkce_verified: bool,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, CodeGrant>,
    devices: HashMap<String, DeviceGrant>,
    refresh_tokens: HashMap<String, Vec<String>>,
    access_tokens: HashSet<String>,
    authorizations: Vec<AuthorizeSeen>,
    /// Token endpoint polls for each device code, and what they were answered.
    polls: Vec<(Instant, String)>,
    device_interval: u64,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    journal: Journal,
    base: Mutex<String>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `token` is an access token this identity platform issued.
    pub(crate) fn valid_access_token(&self, token: &str) -> bool {
        self.lock().access_tokens.contains(token)
    }
}

/// The fake identity platform on a loopback port.
pub struct Identity {
    pub(crate) shared: Arc<Shared>,
    listener: Listener,
}

impl Identity {
    /// Starts it on a free port. Device codes are polled every `interval` seconds: 1 here,
    /// where the service says 5 (adapted so the device-code scenario takes 2 s, not 10).
    pub fn start() -> Identity {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                device_interval: 1,
                ..State::default()
            }),
            journal: Journal::default(),
            base: Mutex::new(String::new()),
        });
        let s = shared.clone();
        let router = Router::new().fallback(move |request: Request<Body>| {
            let s = s.clone();
            async move { handle(s, request).await }
        });
        let listener = Listener::serve(router, 0);
        *shared.base.lock().unwrap_or_else(|p| p.into_inner()) =
            format!("http://{}", listener.addr());
        Identity { shared, listener }
    }

    /// `http://127.0.0.1:PORT`: the `authority_host` to configure.
    pub fn url(&self) -> String {
        format!("http://{}", self.listener.addr())
    }

    pub fn journal(&self) -> &Journal {
        &self.shared.journal
    }

    /// The user consents on their other device: every device code issued so far is approved.
    pub fn approve_device_codes(&self) {
        for grant in self.shared.lock().devices.values_mut() {
            grant.approved = true;
        }
    }

    /// The authorize requests seen, in order.
    pub fn authorizations(&self) -> Vec<AuthorizeSeen> {
        self.shared.lock().authorizations.clone()
    }

    /// Token polls with a device code: when, and the `error` answered (`"issued"` for tokens).
    pub fn device_polls(&self) -> Vec<(Instant, String)> {
        self.shared.lock().polls.clone()
    }

    pub fn device_interval(&self) -> Duration {
        Duration::from_secs(self.shared.lock().device_interval)
    }

    /// An access token for the fakes' own tests, as if issued at sign-in.
    #[cfg(test)]
    pub(crate) fn issue_access_token(&self) -> String {
        let token = random_token("fidelity-at-");
        self.shared.lock().access_tokens.insert(token.clone());
        token
    }
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The documented error body, with the AADSTS code leading the description.
fn entra_error(status: StatusCode, error: &str, aadsts: u32, text: &str) -> Response {
    let mut body = fixtures::load("token-error.json");
    let now = Utc::now();
    let trace = random_token("");
    body["error"] = json!(error);
    body["error_description"] = json!(format!(
        "AADSTS{aadsts}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {}",
        now.format("%Y-%m-%d %H:%M:%SZ")
    ));
    body["error_codes"] = json!([aadsts]);
    body["timestamp"] = json!(now.format("%Y-%m-%d %H:%M:%SZ").to_string());
    body["trace_id"] = json!(trace);
    body["correlation_id"] = json!(trace);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An error page: what the identity platform shows in the browser instead of redirecting
/// (an unknown application, a redirect URI that is not registered).
fn error_page(aadsts: u32, text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html")],
        format!("<html><body>AADSTS{aadsts}: {text}</body></html>"),
    )
        .into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())], "").into_response()
}

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn scopes(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The id_token's claims name the user of `me.json` (the `user-get.md` example). The
/// signature is not a real one: the token endpoint's answer over TLS stands in for it
/// (OpenID Connect Core 3.1.3.7), and no client checks it here.
fn id_token(base: &str) -> String {
    let me = fixtures::load("me.json");
    let now = Utc::now().timestamp();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "fidelity-fake"});
    let claims = json!({
        "aud": CLIENT_ID,
        "iss": format!("{base}/{TENANT_ID}/v2.0"),
        "iat": now, "nbf": now, "exp": now + 3600,
        "name": me["displayName"],
        "oid": me["id"],
        "preferred_username": me["userPrincipalName"],
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": TENANT_ID,
        "ver": "2.0",
    });
    format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&claims))
}

/// Scopes named in the answer: the Graph permissions asked for, and `openid profile`
/// (`offline_access` is not echoed).
fn granted(requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| !s.eq_ignore_ascii_case("offline_access"))
        .cloned()
        .collect()
}

fn tokens(shared: &Shared, requested: &[String]) -> Response {
    let base = shared
        .base
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let access = random_token("fidelity-at-");
    let mut body = fixtures::load("token-response.json");
    body["access_token"] = json!(access);
    body["scope"] = json!(granted(requested).join(" "));
    body["id_token"] = json!(id_token(&base));
    let mut state = shared.lock();
    state.access_tokens.insert(access);
    if requested
        .iter()
        .any(|s| s.eq_ignore_ascii_case("offline_access"))
    {
        let refresh = random_token("fidelity-rt-");
        state
            .refresh_tokens
            .insert(refresh.clone(), requested.to_vec());
        body["refresh_token"] = json!(refresh);
    } else if let Some(obj) = body.as_object_mut() {
        obj.remove("refresh_token");
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn handle(shared: Arc<Shared>, request: Request<Body>) -> Response {
    let incoming = Incoming::read(request).await;
    let (response, refused) = answer(&shared, &incoming);
    let status = response.status().as_u16();
    shared.journal.push(incoming.into_call(status, refused));
    response
}

/// The endpoint named by `/{tenant}/oauth2/v2.0/{endpoint}`.
fn endpoint(path: &str) -> Option<&str> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [tenant, "oauth2", "v2.0", endpoint] if !tenant.is_empty() => Some(endpoint),
        _ => None,
    }
}

fn answer(shared: &Shared, req: &Incoming) -> (Response, Option<String>) {
    match (req.method.as_str(), endpoint(&req.path)) {
        ("GET", Some("authorize")) => authorize(shared, req),
        ("POST", Some("token")) => token(shared, req),
        ("POST", Some("devicecode")) => devicecode(shared, req),
        _ => (
            error_page(900561, "The endpoint only accepts POST, OPTIONS requests."),
            Some(format!("no such endpoint: {} {}", req.method, req.path)),
        ),
    }
}

fn authorize(shared: &Shared, req: &Incoming) -> (Response, Option<String>) {
    let p = |name: &str| req.param(name);
    if p("client_id").as_deref() != Some(CLIENT_ID) {
        let why = "Application with identifier was not found in the directory.";
        return (error_page(700016, why), Some(why.into()));
    }
    let Some(redirect_uri) = p("redirect_uri") else {
        let why = "The request must contain a redirect_uri.";
        return (error_page(900144, why), Some(why.into()));
    };
    // Registered: http://localhost (a public client's loopback URI). The port is ignored
    // for loopback; the path must match.
    let registered = url::Url::parse(&redirect_uri).ok().filter(|u| {
        u.scheme() == "http"
            && matches!(u.host_str(), Some("localhost") | Some("127.0.0.1"))
            && u.path() == "/"
    });
    let Some(mut back) = registered else {
        let why = "The redirect URI specified in the request does not match the redirect URIs configured for the application.";
        return (error_page(50011, why), Some(why.into()));
    };
    let seen = AuthorizeSeen {
        redirect_uri: redirect_uri.clone(),
        state: p("state"),
        code_challenge_method: p("code_challenge_method"),
        scopes: p("scope").map(|s| scopes(&s)).unwrap_or_default(),
        pkce_verified: false,
    };
    let refuse = |back: &mut url::Url, error: &str, why: &str, seen: AuthorizeSeen| {
        back.query_pairs_mut()
            .append_pair("error", error)
            .append_pair("error_description", why);
        if let Some(state) = &seen.state {
            back.query_pairs_mut().append_pair("state", state);
        }
        shared.lock().authorizations.push(seen);
        (redirect(back.as_str()), Some(why.to_owned()))
    };
    if p("response_type").as_deref() != Some("code") {
        return refuse(
            &mut back,
            "unsupported_response_type",
            "AADSTS700054: response_type 'code' is expected.",
            seen,
        );
    }
    if seen.scopes.is_empty() {
        return refuse(
            &mut back,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
            seen,
        );
    }
    // A native app sends PKCE with S256 (the page: "This SHOULD be S256").
    let challenge = p("code_challenge");
    if challenge.is_none() || seen.code_challenge_method.as_deref() != Some("S256") {
        return refuse(
            &mut back,
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange (S256) is required.",
            seen,
        );
    }
    let code = random_token("fidelity-code-");
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = &seen.state {
        back.query_pairs_mut().append_pair("state", state);
    }
    let mut state = shared.lock();
    let index = state.authorizations.len();
    state.codes.insert(
        code,
        CodeGrant {
            redirect_uri,
            challenge,
            scopes: seen.scopes.clone(),
            used: false,
            seen: index,
        },
    );
    state.authorizations.push(seen);
    (redirect(back.as_str()), None)
}

fn token(shared: &Shared, req: &Incoming) -> (Response, Option<String>) {
    let bad = |status, error: &str, code: u32, why: &str| {
        (entra_error(status, error, code, why), Some(why.to_owned()))
    };
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded.",
        );
    }
    let f = form(&req.body);
    if f.contains_key("client_secret") || f.contains_key("client_assertion") {
        return bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        );
    }
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return bad(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application with identifier was not found in the directory.",
        );
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let mut state = shared.lock();
            let Some(grant) = state.codes.get_mut(&code) else {
                drop(state);
                return bad(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70000,
                    "The provided authorization code is invalid.",
                );
            };
            if grant.used {
                drop(state);
                return bad(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                );
            }
            if f.get("redirect_uri") != Some(&grant.redirect_uri) {
                drop(state);
                return bad(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50148,
                    "The redirect_uri must match the one used to obtain the authorization code.",
                );
            }
            if let Some(challenge) = &grant.challenge {
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()));
                if &digest != challenge {
                    drop(state);
                    return bad(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        501481,
                        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                    );
                }
            }
            grant.used = true;
            let (scopes, seen) = (grant.scopes.clone(), grant.seen);
            if let Some(seen) = state.authorizations.get_mut(seen) {
                seen.pkce_verified = grant_had_challenge(seen);
            }
            drop(state);
            (tokens(shared, &scopes), None)
        }
        Some("refresh_token") => {
            let refresh = f.get("refresh_token").cloned().unwrap_or_default();
            let known = shared.lock().refresh_tokens.get(&refresh).cloned();
            match known {
                Some(consented) => {
                    let asked = f.get("scope").map(|s| scopes(s)).unwrap_or_default();
                    let mut scopes = if asked.is_empty() { consented } else { asked };
                    if !scopes
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case("offline_access"))
                    {
                        scopes.push("offline_access".into());
                    }
                    (tokens(shared, &scopes), None)
                }
                None => bad(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                ),
            }
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let device_code = f.get("device_code").cloned().unwrap_or_default();
            let mut state = shared.lock();
            let now = Instant::now();
            let outcome = match state.devices.get(&device_code) {
                None => None,
                Some(g) if !g.approved => Some(Err(())),
                Some(g) => Some(Ok(g.scopes.clone())),
            };
            match outcome {
                None => {
                    state.polls.push((now, "bad_verification_code".into()));
                    drop(state);
                    bad(
                        StatusCode::BAD_REQUEST,
                        "bad_verification_code",
                        70019,
                        "Verification code expired or not recognized.",
                    )
                }
                Some(Err(())) => {
                    state.polls.push((now, "authorization_pending".into()));
                    drop(state);
                    // Pending is part of the flow, not a refusal of the client.
                    (
                        entra_error(
                            StatusCode::BAD_REQUEST,
                            "authorization_pending",
                            70016,
                            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                        ),
                        None,
                    )
                }
                Some(Ok(scopes)) => {
                    state.polls.push((now, "issued".into()));
                    state.devices.remove(&device_code);
                    drop(state);
                    (tokens(shared, &scopes), None)
                }
            }
        }
        other => bad(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type {other:?}."),
        ),
    }
}

/// PKCE was sent with S256 (the only way a code is issued here), and its verifier just
/// matched.
fn grant_had_challenge(seen: &AuthorizeSeen) -> bool {
    seen.code_challenge_method.as_deref() == Some("S256")
}

fn devicecode(shared: &Shared, req: &Incoming) -> (Response, Option<String>) {
    let f = form(&req.body);
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        let why = "Application with identifier was not found in the directory.";
        return (
            entra_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, why),
            Some(why.into()),
        );
    }
    let requested = f.get("scope").map(|s| scopes(s)).unwrap_or_default();
    if requested.is_empty() {
        let why = "The request body must contain the following parameter: 'scope'.";
        return (
            entra_error(StatusCode::BAD_REQUEST, "invalid_request", 900144, why),
            Some(why.into()),
        );
    }
    let device_code = random_token("fidelity-dc-");
    let user_code: String = random_token("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    let mut state = shared.lock();
    state.devices.insert(
        device_code.clone(),
        DeviceGrant {
            scopes: requested,
            approved: false,
        },
    );
    let interval = state.device_interval;
    drop(state);
    let mut body = fixtures::load("device-code-response.json");
    body["device_code"] = json!(device_code);
    body["user_code"] = json!(user_code);
    body["interval"] = json!(interval);
    body["message"] = json!(format!(
        "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."
    ));
    (
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        None,
    )
}
