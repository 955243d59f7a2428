//! Token and grant store of the identity side: app registrations, authorization codes,
//! access tokens, refresh tokens (rotated on use) and device codes.
//!
//! Access tokens are opaque random strings that only this emulator can check; expiry uses
//! the server's real clock (`Instant`), which is fine for an emulator.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;

/// Lifetime of an access token (the platform answers `expires_in: 3599`).
pub const ACCESS_TOKEN_SECS: u64 = 3599;
/// Lifetime of an authorization code (~10 minutes on the platform).
pub const AUTH_CODE_SECS: u64 = 600;
/// Inactivity lifetime of a refresh token (90 days).
pub const REFRESH_TOKEN_SECS: u64 = 90 * 24 * 3600;
/// Lifetime of a device code (`expires_in: 900`).
pub const DEVICE_CODE_SECS: u64 = 900;
/// Polling interval of the device code flow.
pub const DEVICE_INTERVAL_SECS: u64 = 5;

/// An app registration.
#[derive(Clone, Debug)]
pub struct AppRegistration {
    pub client_id: String,
    /// Registered public-client (mobile and desktop) redirect URIs.
    pub redirect_uris: Vec<String>,
    /// "Allow public client flows" (needed for the device code flow).
    pub allow_public_client_flows: bool,
}

/// Who may sign in to an app: the application object's `signInAudience`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignInAudience {
    /// "Accounts in this organizational directory only": the `/common` and
    /// `/organizations` endpoints answer AADSTS50194.
    MyOrg,
    /// "Accounts in any organizational directory": `/consumers` answers AADSTS9002332.
    #[default]
    MultipleOrgs,
    /// Work, school and personal Microsoft accounts.
    MultipleOrgsAndPersonal,
}

impl SignInAudience {
    /// The Graph name (`AzureADMyOrg`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SignInAudience::MyOrg => "AzureADMyOrg",
            SignInAudience::MultipleOrgs => "AzureADMultipleOrgs",
            SignInAudience::MultipleOrgsAndPersonal => "AzureADandPersonalMicrosoftAccount",
        }
    }

    /// Parses the Graph name (case-insensitive).
    pub fn parse(s: &str) -> Option<SignInAudience> {
        [
            SignInAudience::MyOrg,
            SignInAudience::MultipleOrgs,
            SignInAudience::MultipleOrgsAndPersonal,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

/// The rest of an app's registration in the emulated tenant: its service principal and
/// the consent granted to it. Apps without an entry have the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppProperties {
    /// The service principal's "Enabled for users to sign in" (off: AADSTS7000112).
    pub enabled: bool,
    pub sign_in_audience: SignInAudience,
    /// An administrator consented for the whole tenant (needed when users may not consent).
    pub admin_consented: bool,
}

impl Default for AppProperties {
    fn default() -> AppProperties {
        AppProperties {
            enabled: true,
            sign_in_audience: SignInAudience::default(),
            admin_consented: false,
        }
    }
}

/// The tenant's consent settings (Enterprise applications → Consent and permissions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantPolicy {
    /// "Allow user consent for apps". Off: an app no administrator consented to gets
    /// AADSTS90094 at `/authorize`.
    pub user_consent_allowed: bool,
    /// The admin consent workflow is on: users may request approval (AADSTS90095).
    pub admin_consent_workflow: bool,
}

impl Default for TenantPolicy {
    fn default() -> TenantPolicy {
        TenantPolicy {
            user_consent_allowed: true,
            admin_consent_workflow: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub expires: Instant,
    pub redeemed: bool,
}

#[derive(Clone, Debug)]
pub struct AccessToken {
    #[allow(dead_code)] // for per-scope permission checks (403) once routes need them
    pub client_id: String,
    /// Delegated scopes (`scp`), or for an app-only token its application permissions
    /// (`roles`).
    pub scopes: Vec<String>,
    pub expires: Instant,
    /// Issued by the client-credentials grant: the app acts as itself, with `roles`.
    pub app_only: bool,
}

/// A confidential client (a daemon's app registration): its credentials and the
/// application permissions an administrator consented to.
#[derive(Clone, Debug)]
pub struct ConfidentialApp {
    pub client_id: String,
    /// Registered certificates: base64url SHA-256 thumbprint of the DER certificate
    /// (`x5t#S256`) and the certificate (PEM).
    pub certificates: Vec<(String, Vec<u8>)>,
    pub secrets: Vec<String>,
    /// Application permissions with admin consent (`Calendars.Read`, ...).
    pub roles: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RefreshToken {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires: Instant,
    /// Set once the token was used: a rotated-away token is revoked.
    pub superseded: bool,
    /// When the grant was issued.
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// Set when the user's tokens were revoked (sign-out everywhere, password reset).
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What one poll of the token endpoint with a device code answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStep {
    /// `authorization_pending`: the user has not finished signing in.
    Pending,
    /// `slow_down`: polled too fast.
    SlowDown,
    /// The user signed in: tokens are issued (and every later poll of this code fails, as
    /// the code is then redeemed).
    Approve,
    /// `authorization_declined`: the user declined.
    Decline,
    /// `expired_token`: the code expired.
    Expire,
}

#[derive(Clone, Debug)]
pub struct DeviceCode {
    pub client_id: String,
    pub scopes: Vec<String>,
    #[allow(dead_code)] // shown on the (future) scripted device login page
    pub user_code: String,
    pub expires: Instant,
    /// Steps still to play; once empty the last outcome repeats (Approve by default).
    pub script: VecDeque<DeviceStep>,
    pub finished: Option<DeviceStep>,
}

#[derive(Debug)]
pub struct AuthState {
    pub apps: Vec<AppRegistration>,
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshToken>,
    pub device: HashMap<String, DeviceCode>,
    /// The script given to new device codes (default: one pending poll, then approval).
    pub device_script: Vec<DeviceStep>,
    /// Properties of the registered apps, by lower-case client id (absent: defaults).
    pub app_properties: HashMap<String, AppProperties>,
    pub tenant: TenantPolicy,
    /// Confidential clients (client-credentials grant), by lower-case client id.
    pub confidential: HashMap<String, ConfidentialApp>,
    /// Client assertions already redeemed (`jti`): a replayed assertion is refused.
    pub used_assertions: std::collections::HashSet<String>,
}

impl AuthState {
    pub fn new(apps: Vec<AppRegistration>) -> AuthState {
        AuthState {
            apps,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            device: HashMap::new(),
            device_script: vec![DeviceStep::Pending, DeviceStep::Approve],
            app_properties: HashMap::new(),
            tenant: TenantPolicy::default(),
            confidential: HashMap::new(),
            used_assertions: std::collections::HashSet::new(),
        }
    }

    pub fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The app's registration and properties, if it is registered.
    pub fn registration(&self, client_id: &str) -> Option<(AppRegistration, AppProperties)> {
        let app = self.app(client_id)?.clone();
        Some((app, self.properties(client_id)))
    }

    pub fn properties(&self, client_id: &str) -> AppProperties {
        self.app_properties
            .get(&client_id.to_ascii_lowercase())
            .copied()
            .unwrap_or_default()
    }

    /// Changes a registered app's properties; `false` when no such app is registered.
    pub fn update_properties(
        &mut self,
        client_id: &str,
        change: impl FnOnce(&mut AppProperties),
    ) -> bool {
        if self.app(client_id).is_none() {
            return false;
        }
        let entry = self
            .app_properties
            .entry(client_id.to_ascii_lowercase())
            .or_default();
        change(entry);
        true
    }

    /// Deletes an app registration (and its properties); `false` when there was none.
    pub fn remove_app(&mut self, client_id: &str) -> bool {
        let before = self.apps.len();
        self.apps
            .retain(|a| !a.client_id.eq_ignore_ascii_case(client_id));
        self.app_properties.remove(&client_id.to_ascii_lowercase());
        self.apps.len() != before
    }

    pub fn issue_access(&mut self, client_id: &str, scopes: &[String]) -> String {
        self.issue(client_id, scopes, false)
    }

    /// An app-only token carrying the app's application permissions.
    pub fn issue_app_access(&mut self, client_id: &str, roles: &[String]) -> String {
        self.issue(client_id, roles, true)
    }

    fn issue(&mut self, client_id: &str, scopes: &[String], app_only: bool) -> String {
        self.access.retain(|_, t| t.expires > Instant::now());
        let token = random_token(96);
        self.access.insert(
            token.clone(),
            AccessToken {
                client_id: client_id.to_string(),
                scopes: scopes.to_vec(),
                expires: Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECS),
                app_only,
            },
        );
        token
    }

    pub fn issue_refresh(&mut self, client_id: &str, scopes: &[String]) -> String {
        let token = format!("1.A{}", random_token(180));
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                client_id: client_id.to_string(),
                scopes: scopes.to_vec(),
                expires: Instant::now() + Duration::from_secs(REFRESH_TOKEN_SECS),
                superseded: false,
                issued_at: chrono::Utc::now(),
                revoked_at: None,
            },
        );
        token
    }

    /// Revokes every refresh token issued so far (as `Revoke-MgUserSignInSession` does:
    /// the user's refresh tokens before now stop working).
    pub fn revoke_refresh_tokens(&mut self) {
        let now = chrono::Utc::now();
        for t in self.refresh.values_mut() {
            t.revoked_at.get_or_insert(now);
        }
    }
}

/// A random URL-safe token of about `len` characters.
pub fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len * 3 / 4 + 1];
    rand::rng().fill(&mut bytes[..]);
    let mut s = URL_SAFE_NO_PAD.encode(bytes);
    s.truncate(len);
    s
}

/// A user code as the platform shows it: 9 upper-case letters and digits.
pub fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..9)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
