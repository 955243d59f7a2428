//! App-only sign-in: the OAuth 2.0 client-credentials grant of the Microsoft identity
//! platform, with a certificate (a signed client assertion: RS256 JWT, `x5t#S256` header)
//! or, discouraged, a client secret. The token is kept in memory and renewed ahead of its
//! expiry; neither it nor the key is ever logged.

use crate::config::IdentityConfig;
use crate::error::ServerError;
use crate::secret::{read_secret_env, read_secret_file};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use presently_engine::Clock;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::sync::Arc;
use url::Url;

/// How long before its expiry a cached token is renewed.
pub const RENEW_AHEAD: chrono::Duration = chrono::Duration::minutes(5);
/// Lifetime of a client assertion (the platform accepts up to about 10 minutes).
const ASSERTION_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);

/// How the app proves who it is.
pub enum Credential {
    Certificate {
        key: jsonwebtoken::EncodingKey,
        /// base64url SHA-256 of the DER certificate.
        thumbprint_s256: String,
    },
    Secret(SecretString),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Certificate {
                thumbprint_s256, ..
            } => f
                .debug_struct("Certificate")
                .field("thumbprint_s256", thumbprint_s256)
                .finish_non_exhaustive(),
            Credential::Secret(_) => f.write_str("Secret(..)"),
        }
    }
}

/// The `x5t#S256` of a PEM certificate: base64url SHA-256 of its DER bytes.
pub fn certificate_thumbprint(certificate_pem: &str) -> Result<String, ServerError> {
    let cert = pem::parse(certificate_pem)
        .map_err(|e| ServerError::Secret(format!("the certificate is not PEM: {e}")))?;
    if cert.tag() != "CERTIFICATE" {
        return Err(ServerError::Secret(format!(
            "the certificate file holds a {} block, not a CERTIFICATE",
            cert.tag()
        )));
    }
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(cert.contents())))
}

impl Credential {
    /// Reads the credential `identity` names (the key or secret from a 0600 file or the
    /// environment).
    pub fn load(identity: &IdentityConfig) -> Result<Self, ServerError> {
        let key = match (&identity.private_key_file, &identity.private_key_env) {
            (Some(path), _) => Some(read_secret_file(path, "private key")?),
            (None, Some(var)) => Some(read_secret_env(var, "private key")?),
            (None, None) => None,
        };
        if let Some(key) = key {
            let cert_path = identity.certificate.as_ref().ok_or_else(|| {
                ServerError::Secret("a private key needs its `certificate`".into())
            })?;
            let cert = std::fs::read_to_string(cert_path).map_err(|e| {
                ServerError::Secret(format!(
                    "cannot read the certificate {}: {e}",
                    cert_path.display()
                ))
            })?;
            return Self::certificate(&cert, &key);
        }
        let secret = match (&identity.client_secret_file, &identity.client_secret_env) {
            (Some(path), _) => read_secret_file(path, "client secret")?,
            (None, Some(var)) => read_secret_env(var, "client secret")?,
            (None, None) => {
                return Err(ServerError::Secret(
                    "no credential configured (certificate and private key, or client secret)"
                        .into(),
                ))
            }
        };
        Ok(Credential::Secret(secret))
    }

    /// A certificate credential from the certificate and its private key (both PEM).
    pub fn certificate(certificate_pem: &str, key_pem: &SecretString) -> Result<Self, ServerError> {
        let thumbprint_s256 = certificate_thumbprint(certificate_pem)?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose_secret().as_bytes())
            .map_err(|e| {
                ServerError::Secret(format!(
                    "the private key is not an RSA key in PEM (PKCS#1 or PKCS#8): {e}"
                ))
            })?;
        Ok(Credential::Certificate {
            key,
            thumbprint_s256,
        })
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: i64,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// App-only tokens for Microsoft Graph, cached and renewed [`RENEW_AHEAD`] of expiry.
pub struct AppTokenSource {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    scope: String,
    credential: Credential,
    clock: Arc<dyn Clock>,
    cached: tokio::sync::Mutex<Option<(SecretString, DateTime<Utc>)>>,
}

impl std::fmt::Debug for AppTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokenSource")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl AppTokenSource {
    /// `authority` like `https://login.microsoftonline.com`; `graph_endpoint` like
    /// `https://graph.microsoft.com` (the token is for `{graph_endpoint}/.default`).
    pub fn new(
        authority: &str,
        tenant: &str,
        client_id: &str,
        graph_endpoint: &str,
        credential: Credential,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServerError> {
        let bad = |what: &str, e: url::ParseError| ServerError::Config {
            path: "identity".into(),
            message: format!("{what}: {e}"),
        };
        let token_url = Url::parse(authority)
            .and_then(|a| a.join(&format!("/{tenant}/oauth2/v2.0/token")))
            .map_err(|e| bad("authority", e))?;
        let scope = format!("{}/.default", graph_endpoint.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("presently-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServerError::Secret(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            token_url,
            client_id: client_id.to_owned(),
            scope,
            credential,
            clock,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// A token valid for at least [`RENEW_AHEAD`]: the cached one, or a new one.
    pub async fn token(&self) -> Result<SecretString, ServerError> {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        if let Some((token, expires)) = cached.as_ref() {
            if *expires - RENEW_AHEAD > now {
                return Ok(token.clone());
            }
        }
        let (token, expires) = self.request(now).await?;
        tracing::info!(expires_at = %expires, "app-only token issued");
        *cached = Some((token.clone(), expires));
        Ok(token)
    }

    /// Forgets the cached token (Graph answered 401 to it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    fn assertion(
        &self,
        key: &jsonwebtoken::EncodingKey,
        thumbprint: &str,
        now: DateTime<Utc>,
    ) -> Result<String, ServerError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.x5t_s256 = Some(thumbprint.to_owned());
        let claims = AssertionClaims {
            aud: self.token_url.as_str(),
            iss: &self.client_id,
            sub: &self.client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            exp: (now + ASSERTION_LIFETIME).timestamp(),
        };
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| ServerError::Secret(format!("cannot sign the client assertion: {e}")))
    }

    async fn request(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(SecretString, DateTime<Utc>), ServerError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.credential {
            Credential::Certificate {
                key,
                thumbprint_s256,
            } => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion",
                    self.assertion(key, thumbprint_s256, now)?,
                ));
            }
            Credential::Secret(secret) => {
                form.push(("client_secret", secret.expose_secret().to_owned()));
            }
        }
        let unreachable = |e: reqwest::Error| ServerError::TokenRefused {
            code: "unreachable".into(),
            message: format!("cannot reach {}: {e}", self.token_url),
        };
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            let answer: TokenAnswer =
                serde_json::from_slice(&body).map_err(|e| ServerError::TokenRefused {
                    code: "malformed".into(),
                    message: format!("the token answer is unreadable: {e}"),
                })?;
            let expires = now + chrono::Duration::seconds(answer.expires_in.max(0));
            return Ok((SecretString::from(answer.access_token), expires));
        }
        match serde_json::from_slice::<TokenError>(&body) {
            Ok(e) => {
                let code = e
                    .error_codes
                    .first()
                    .map_or(e.error.clone(), |c| format!("AADSTS{c}"));
                // The first line (the rest is trace and correlation ids), without the code
                // it starts with.
                let first = e.error_description.lines().next().unwrap_or(&e.error);
                let message = first
                    .strip_prefix(&format!("{code}: "))
                    .unwrap_or(first)
                    .to_owned();
                Err(ServerError::TokenRefused { code, message })
            }
            Err(_) => Err(ServerError::TokenRefused {
                code: format!("http_{}", status.as_u16()),
                message: String::from_utf8_lossy(&body).chars().take(200).collect(),
            }),
        }
    }
}
