//! The OAuth 2.0 flows against the identity platform, on the `oauth2` crate over reqwest
//! with redirects disabled (a token endpoint that redirects is never followed).

use super::entra::{AuthError, EntraError, ErrorHelp, SignInContext};
use super::loopback::{LoopbackListener, Redirect};
use crate::clock::Clock;
use crate::config::Config;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, StandardDeviceAuthorizationResponse, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The app registration and authority to sign in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    pub client_id: String,
    pub tenant: String,
    pub authority_host: String,
    pub redirect_path: String,
    pub scopes: Vec<String>,
}

impl AuthSettings {
    pub fn from_config(config: &Config) -> Result<Self, AuthError> {
        let m = &config.microsoft;
        let client_id = m.client_id.clone().ok_or_else(|| {
            AuthError::Protocol(
                "no application (client) ID is configured: set microsoft.client_id, or ask your administrator to provision Presently".into(),
            )
        })?;
        Ok(Self {
            client_id,
            tenant: m.tenant.clone(),
            authority_host: m.authority_host.trim_end_matches('/').to_owned(),
            redirect_path: m.redirect_path.clone(),
            scopes: super::scopes_for(&config.features),
        })
    }

    /// `{authority_host}/{tenant}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.authority_host, self.tenant)
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/oauth2/v2.0/{name}", self.authority())
    }

    /// The loopback redirect URI the app registration needs, without a port (the identity
    /// platform ignores the port of loopback redirect URIs): `http://localhost{redirect_path}`,
    /// as the loopback listener sends it.
    pub fn redirect_uri_to_register(&self) -> String {
        let path = if self.redirect_path.starts_with('/') {
            self.redirect_path.clone()
        } else {
            format!("/{}", self.redirect_path)
        };
        without_port(&format!("http://localhost{path}"))
    }

    /// What explanations name: this registration and authority, and `redirect_uri`.
    pub fn context<'a>(&'a self, redirect_uri: &'a str) -> SignInContext<'a> {
        SignInContext {
            authority_host: &self.authority_host,
            tenant: &self.tenant,
            client_id: &self.client_id,
            redirect_uri,
        }
    }

    fn refused(&self, entra: EntraError) -> AuthError {
        AuthError::from_entra(entra, &self.context(&self.redirect_uri_to_register()))
    }
}

/// `uri` without its port (unchanged if it does not parse).
fn without_port(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            let _ = url.set_port(None);
            url.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// Entra returns an `id_token` beside the access token; its claims name the account.
#[derive(Clone, Deserialize, Serialize, Default)]
pub struct IdTokenField {
    #[serde(default)]
    id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField([redacted])")
    }
}

impl ExtraTokenFields for IdTokenField {}

type EntraTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type EntraClient<HasAuth, HasDevice> = oauth2::Client<
    EntraError,
    EntraTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuth,
    HasDevice,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Who signed in, from the id_token's claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    #[serde(default)]
    pub tid: Option<String>,
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// The outcome of a sign-in or a refresh.
pub struct SignedIn {
    pub access_token: SecretString,
    pub expires_at: DateTime<Utc>,
    /// Rotated on every use: store it at once.
    pub refresh_token: Option<SecretString>,
    pub scopes: Vec<String>,
    pub claims: Option<IdClaims>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// The HTTP client for the identity platform: no redirects, bounded time.
pub fn http_client() -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| AuthError::Network(e.to_string()))
}

fn url_error(e: url::ParseError) -> AuthError {
    AuthError::Protocol(format!("bad authority URL: {e}"))
}

fn base_client(
    settings: &AuthSettings,
) -> Result<EntraClient<EndpointNotSet, EndpointNotSet>, AuthError> {
    Ok(
        oauth2::Client::new(ClientId::new(settings.client_id.clone()))
            .set_token_uri(TokenUrl::new(settings.endpoint("token")).map_err(url_error)?),
    )
}

/// A token request that never got an answer, in the words the Graph client uses
/// ("cannot connect to login.example:443: connection refused"): one mapper for both.
fn network(settings: &AuthSettings, err: &(dyn std::error::Error + 'static)) -> AuthError {
    let detail = match url::Url::parse(&settings.endpoint("token")) {
        Ok(url) => {
            crate::graph::network_error(&url, err, Duration::from_secs(10), Duration::from_secs(30))
                .to_string()
        }
        Err(_) => err.to_string(),
    };
    AuthError::Network(detail)
}

fn request_error<RE: std::error::Error + 'static>(
    settings: &AuthSettings,
    err: RequestTokenError<RE, EntraError>,
) -> AuthError {
    match err {
        RequestTokenError::ServerResponse(entra) => settings.refused(entra),
        RequestTokenError::Request(e) => network(settings, &e),
        // The body is not quoted: it might hold a token.
        RequestTokenError::Parse(e, _body) => {
            AuthError::Protocol(format!("token answer: {}", e.path()))
        }
        RequestTokenError::Other(e) => AuthError::Protocol(e),
    }
}

fn signed_in(response: EntraTokenResponse, clock: &dyn Clock, requested: &[String]) -> SignedIn {
    let expires_in = response
        .expires_in()
        .unwrap_or(Duration::from_secs(3600))
        .min(Duration::from_secs(24 * 3600));
    SignedIn {
        access_token: SecretString::from(response.access_token().secret().clone()),
        expires_at: clock.now() + chrono::Duration::from_std(expires_in).unwrap_or_default(),
        refresh_token: response
            .refresh_token()
            .map(|t| SecretString::from(t.secret().clone())),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|x| x.to_string()).collect())
            .unwrap_or_else(|| requested.to_vec()),
        claims: response
            .extra_fields()
            .id_token
            .as_deref()
            .and_then(id_token_claims),
    }
}

/// Reads the claims of an id_token received straight from the token endpoint over TLS;
/// OpenID Connect Core §3.1.3.7 lets TLS stand in for the signature check there.
fn id_token_claims(token: &str) -> Option<IdClaims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An interactive sign-in in progress: the listener is bound and the URL is ready for
/// the browser.
pub struct InteractiveLogin {
    settings: AuthSettings,
    listener: LoopbackListener,
    authorize_url: url::Url,
    state: SecretString,
    pkce_verifier: oauth2::PkceCodeVerifier,
    redirect_uri: String,
}

impl InteractiveLogin {
    /// Binds the loopback listener and builds the authorize URL (PKCE S256, random state).
    pub async fn start(
        settings: AuthSettings,
        login_hint: Option<&str>,
    ) -> Result<Self, AuthError> {
        let listener = LoopbackListener::bind(&settings.redirect_path).await?;
        let redirect_uri = listener.redirect_uri();
        let client = base_client(&settings)?
            .set_auth_uri(AuthUrl::new(settings.endpoint("authorize")).map_err(url_error)?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).map_err(url_error)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_scopes(settings.scopes.iter().cloned().map(Scope::new))
            .add_extra_param("response_mode", "query")
            .add_extra_param("prompt", "select_account");
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (authorize_url, state) = request.url();
        Ok(Self {
            settings,
            listener,
            authorize_url,
            state: SecretString::from(state.secret().clone()),
            pkce_verifier: verifier,
            redirect_uri,
        })
    }

    /// The URL to open in the browser.
    pub fn authorize_url(&self) -> &url::Url {
        &self.authorize_url
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// What to tell the user if the browser never comes back: the identity platform shows
    /// some errors (AADSTS50011, AADSTS700016, AADSTS7000112) on its own page instead of
    /// redirecting, so only the user sees their code.
    pub fn no_redirect_help(&self) -> ErrorHelp {
        let registered = without_port(&self.redirect_uri);
        self.settings.context(&registered).no_redirect_help()
    }

    /// As [`InteractiveLogin::finish`], but a timeout or cancellation comes back as
    /// [`AuthError::NoRedirect`], carrying [`InteractiveLogin::no_redirect_help`]: the
    /// identity platform answers an unregistered redirect URI, an unknown or a disabled
    /// application with an error page, and the listener never hears of it.
    pub async fn finish_explained(
        self,
        http: &reqwest::Client,
        clock: Arc<dyn Clock>,
        timeout: Duration,
        cancel: impl Future<Output = ()>,
    ) -> Result<SignedIn, AuthError> {
        let help = self.no_redirect_help();
        self.finish(http, clock, timeout, cancel)
            .await
            .map_err(|e| e.no_redirect(help))
    }

    /// Waits for the browser to come back, then redeems the code.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        clock: Arc<dyn Clock>,
        timeout: Duration,
        cancel: impl Future<Output = ()>,
    ) -> Result<SignedIn, AuthError> {
        let redirect = self.listener.wait(&self.state, timeout, cancel).await?;
        let code = match redirect {
            Redirect::Code(code) => code,
            Redirect::Error(entra) => {
                let registered = without_port(&self.redirect_uri);
                return Err(AuthError::from_entra(
                    entra,
                    &self.settings.context(&registered),
                ));
            }
        };
        let client = base_client(&self.settings)?
            .set_redirect_uri(RedirectUrl::new(self.redirect_uri.clone()).map_err(url_error)?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()))
            .set_pkce_verifier(self.pkce_verifier)
            .add_extra_param("scope", self.settings.scopes.join(" "))
            .request_async(http)
            .await
            .map_err(|e| request_error(&self.settings, e))?;
        tracing::info!("interactive sign-in completed");
        Ok(signed_in(response, clock.as_ref(), &self.settings.scopes))
    }
}

/// Device-code sign-in (RFC 8628): show the code, then poll.
pub struct DeviceLogin {
    settings: AuthSettings,
    details: StandardDeviceAuthorizationResponse,
}

impl DeviceLogin {
    pub async fn start(settings: AuthSettings, http: &reqwest::Client) -> Result<Self, AuthError> {
        let client = base_client(&settings)?.set_device_authorization_url(
            DeviceAuthorizationUrl::new(settings.endpoint("devicecode")).map_err(url_error)?,
        );
        let details: StandardDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(settings.scopes.iter().cloned().map(Scope::new))
            .request_async(http)
            .await
            .map_err(|e| request_error(&settings, e))?;
        Ok(Self { settings, details })
    }

    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri().as_str()
    }

    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }

    pub fn expires_in(&self) -> Duration {
        self.details.expires_in()
    }

    /// What to tell the user.
    pub fn instructions(&self) -> String {
        format!(
            "To sign in, open {} and enter the code {}",
            self.verification_uri(),
            self.user_code()
        )
    }

    /// Polls at the server's interval (plus 5 s after each `slow_down`) until the user
    /// finishes, declines, or the code expires. `sleep` is injected so tests need no real time.
    pub async fn finish<S, F>(
        self,
        http: &reqwest::Client,
        clock: Arc<dyn Clock>,
        sleep: S,
    ) -> Result<SignedIn, AuthError>
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let client = base_client(&self.settings)?;
        let time_clock = clock.clone();
        let response = client
            .exchange_device_access_token(&self.details)
            .set_time_fn(move || time_clock.now())
            .request_async(http, sleep, None)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    // The device flow's error type drops `error_codes`; the code is the
                    // description's "AADSTSnnnn:" prefix. The text itself is not shown.
                    let entra = EntraError::from_redirect(
                        r.error().as_ref(),
                        r.error_description().map(String::as_str),
                    );
                    device_error(entra, &self.settings)
                }
                RequestTokenError::Request(e) => network(&self.settings, &e),
                RequestTokenError::Parse(e, _) => {
                    AuthError::Protocol(format!("token answer: {}", e.path()))
                }
                RequestTokenError::Other(e) => AuthError::Protocol(e),
            })?;
        tracing::info!("device-code sign-in completed");
        Ok(signed_in(response, clock.as_ref(), &self.settings.scopes))
    }
}

/// What a failed device-code poll means: the flow's own outcomes (expired, declined,
/// unknown code), else the identity platform's error explained by code.
fn device_error(entra: EntraError, settings: &AuthSettings) -> AuthError {
    let aadsts = entra.error_codes.first().map(|c| format!("AADSTS{c}"));
    let help = |title: &str, next_step: &str| ErrorHelp {
        aadsts: aadsts.clone(),
        title: title.to_owned(),
        next_step: next_step.to_owned(),
        admin_consent_url: None,
        redirect_uri: None,
    };
    let help = match entra.error.as_str() {
        "expired_token" => help(
            "The sign-in code expired before sign-in finished",
            "Start the sign-in again and enter the new code before it expires.",
        ),
        "authorization_declined" => help(
            "Sign-in was declined",
            "Start the sign-in again and accept the permissions Presently asks for.",
        ),
        "bad_verification_code" => help(
            "The sign-in code was not recognised",
            "Start the sign-in again.",
        ),
        _ => return settings.refused(entra),
    };
    AuthError::refused(entra, help)
}

/// Redeems a refresh token. The answer carries a new refresh token (rotation).
pub async fn refresh(
    settings: &AuthSettings,
    http: &reqwest::Client,
    clock: &dyn Clock,
    refresh_token: &SecretString,
) -> Result<SignedIn, AuthError> {
    let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let response = base_client(settings)?
        .exchange_refresh_token(&token)
        .add_scopes(settings.scopes.iter().cloned().map(Scope::new))
        .request_async(http)
        .await
        .map_err(|e| request_error(settings, e))?;
    tracing::debug!("access token refreshed");
    Ok(signed_in(response, clock, &settings.scopes))
}
