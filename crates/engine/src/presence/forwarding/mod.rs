//! Call forwarding through the user's telephony system. Microsoft Graph has no API to
//! change Teams call forwarding, so a profile's [`Forwarding`] goes through one configured
//! provider (`[presence.forwarding]`):
//!
//! - [`webex::WebexProvider`]: Webex Calling, `GET|PUT /people/{personId}/features/callForwarding`
//!   with a bearer token kept in the OS keyring (user `provider:webex`).
//! - [`ami::AmiProvider`]: Asterisk / FreePBX over the Asterisk Manager Interface (TCP),
//!   `DBPut` / `DBDel` / `DBGet` on `CF/<extension>`; the AMI secret in the keyring
//!   (user `provider:ami`).
//! - [`http::HttpProvider`]: one configured HTTP request for "on" and one for "off".
//! - [`command::CommandProvider`]: a configured program with arguments (no shell).
//!
//! Templates know two placeholders: `{target}` (the number, the configured voicemail
//! target, or empty when switching off) and `{extension}`; the HTTP provider's header
//! values also `{secret}` (the keyring entry `provider:http`).
//!
//! A provider's failure is an [`ForwardingError`] saying what failed; the presence driver
//! retries the write with backoff and shows the failure in its status and history.
//!
//! Every switch carries the presence journal's idempotency key: the same for every attempt
//! of one write. Webex and AMI can be read back, so a write whose outcome was lost is
//! checked by reading; the HTTP request (header `Idempotency-Key`) and the command
//! (environment variable `PRESENTLY_IDEMPOTENCY_KEY`) cannot, so such a write is sent again
//! with the same key and the receiver can tell it apart from a new one.

pub mod ami;
pub mod command;
pub mod http;
pub mod webex;

use super::profile::Forwarding;
use super::InvalidPolicy;
use crate::auth::credentials::KEYRING_SERVICE;
use futures::future::BoxFuture;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One way of switching the user's call forwarding.
pub trait ForwardingProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Applies `setting` (Off | Voicemail | Number(target)); errors are typed and say what
    /// failed. `key` is the write's idempotency key (the same for a repeated attempt).
    fn apply<'a>(
        &'a self,
        setting: &'a Forwarding,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), ForwardingError>>;
    /// Whether [`ForwardingProvider::current`] can read the setting in force.
    fn can_read(&self) -> bool;
    /// The setting in force now, when the provider can read it (to restore it later); None
    /// when it cannot.
    fn current<'a>(&'a self) -> BoxFuture<'a, Result<Option<Forwarding>, ForwardingError>>;
}

/// What went wrong switching call forwarding, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardingError {
    #[error("the forwarding provider is not usable: {0}")]
    Config(String),
    #[error("{provider}: {detail}")]
    Secret {
        provider: &'static str,
        detail: String,
    },
    #[error("{provider} refused the credentials: {detail}")]
    Unauthorized {
        provider: &'static str,
        detail: String,
    },
    #[error("cannot reach {provider}: {detail}")]
    Unreachable {
        provider: &'static str,
        detail: String,
    },
    #[error("{provider} did not answer within {secs} s")]
    Timeout { provider: &'static str, secs: u64 },
    #[error("{provider} refused the change{}: {detail}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Refused {
        provider: &'static str,
        status: Option<u16>,
        detail: String,
    },
    #[error("{provider} answered something Presently cannot use: {detail}")]
    Protocol {
        provider: &'static str,
        detail: String,
    },
    #[error("the forwarding command {program} failed: {detail}")]
    Command { program: String, detail: String },
}

// ---- configuration ---------------------------------------------------------------------

/// Which provider switches call forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    #[default]
    None,
    Webex,
    Ami,
    Http,
    Command,
}

pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The `[presence.forwarding]` section. Only the table of the chosen `provider` is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardingConfig {
    /// `none` (the default), `webex`, `ami`, `http` or `command`.
    pub provider: ProviderKind,
    /// Bound on one switch or read (1–120 s).
    pub timeout_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub webex: Option<WebexConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ami: Option<AmiConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub http: Option<HttpConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub command: Option<CommandConfig>,
}

impl Default for ForwardingConfig {
    fn default() -> Self {
        Self {
            provider: ProviderKind::None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            webex: None,
            ami: None,
            http: None,
            command: None,
        }
    }
}

/// The Webex Calling API's base URL, unless configured (also server mode's default).
pub fn default_webex_base() -> String {
    "https://webexapis.com/v1".into()
}

/// `[presence.forwarding.webex]`; the token is in the keyring (user `provider:webex`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct WebexConfig {
    /// The API base, `https://webexapis.com/v1`.
    #[serde(default = "default_webex_base")]
    pub base_url: String,
    /// The person whose forwarding is switched (`personId`).
    pub person_id: String,
    /// The destination that reaches the user's voicemail (sent with
    /// `destinationVoicemailEnabled`), for profiles forwarding to voicemail.
    pub voicemail: String,
}

// The AMI defaults, shared with server mode's `[forwarding]`.
pub fn default_ami_host() -> String {
    "127.0.0.1".into()
}
pub fn default_ami_port() -> u16 {
    5038
}
pub fn default_ami_voicemail() -> String {
    "vmu{extension}".into()
}
pub fn default_ami_family() -> String {
    "CF".into()
}

/// `[presence.forwarding.ami]`; the secret is in the keyring (user `provider:ami`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct AmiConfig {
    #[serde(default = "default_ami_host")]
    pub host: String,
    #[serde(default = "default_ami_port")]
    pub port: u16,
    pub username: String,
    /// The user's extension: the key in the Asterisk database.
    pub extension: String,
    /// The forwarding target meaning voicemail (`{extension}` allowed), e.g. `*97` or
    /// `vmu{extension}` (the default).
    #[serde(default = "default_ami_voicemail")]
    pub voicemail: String,
    /// `CF` unconditional (the default), `CFB` busy, `CFU` unavailable.
    #[serde(default = "default_ami_family")]
    pub family: String,
}

fn default_voicemail_word() -> String {
    "voicemail".into()
}

/// `[presence.forwarding.http]`: the request that switches forwarding on (`on`) and off
/// (`off`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `{extension}` in the templates.
    #[serde(default)]
    pub extension: String,
    /// `{target}` when forwarding to voicemail.
    #[serde(default = "default_voicemail_word")]
    pub voicemail: String,
    pub on: HttpRequestConfig,
    pub off: HttpRequestConfig,
}

fn default_method() -> String {
    "POST".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestConfig {
    /// GET, POST, PUT, PATCH or DELETE (POST by default).
    #[serde(default = "default_method")]
    pub method: String,
    /// https, or http to a loopback host; placeholders are percent-encoded.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON template: placeholders are replaced inside its strings only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// `[presence.forwarding.command]`: a program run without a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// A path, or a name looked up in `PATH`.
    pub program: String,
    /// Arguments to switch forwarding on (`{target}`, `{extension}`).
    #[serde(default)]
    pub on_args: Vec<String>,
    /// Arguments to switch it off.
    #[serde(default)]
    pub off_args: Vec<String>,
    #[serde(default)]
    pub extension: String,
    #[serde(default = "default_voicemail_word")]
    pub voicemail: String,
}

const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn printable(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

impl ForwardingConfig {
    /// Whether a provider is chosen.
    pub fn is_configured(&self) -> bool {
        self.provider != ProviderKind::None
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Checks what parses but cannot work; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidPolicy> {
        const P: &str = "presence.forwarding";
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(InvalidPolicy::new(
                "presence.forwarding.timeout_secs",
                "must be 1 to 120 seconds",
            ));
        }
        let missing = |table: &str| {
            InvalidPolicy::new(
                "presence.forwarding.provider",
                format!("provider {table:?} needs a [{P}.{table}] table"),
            )
        };
        match self.provider {
            ProviderKind::None => Ok(()),
            ProviderKind::Webex => {
                let w = self.webex.as_ref().ok_or_else(|| missing("webex"))?;
                crate::config::check_endpoint(&w.base_url)
                    .map_err(|r| InvalidPolicy::new("presence.forwarding.webex.base_url", r))?;
                if !printable(&w.person_id, 512) || w.person_id.contains(['/', '?', '#']) {
                    return Err(InvalidPolicy::new(
                        "presence.forwarding.webex.person_id",
                        "must be the person's Webex id (printable, no / ? #)",
                    ));
                }
                if !printable(&w.voicemail, 100) {
                    return Err(InvalidPolicy::new(
                        "presence.forwarding.webex.voicemail",
                        "must be the destination reaching your voicemail (1 to 100 printable characters)",
                    ));
                }
                Ok(())
            }
            ProviderKind::Ami => {
                let a = self.ami.as_ref().ok_or_else(|| missing("ami"))?;
                let key = |k: &str| format!("{P}.ami.{k}");
                if !printable(&a.host, 253) || a.host.contains(char::is_whitespace) {
                    return Err(InvalidPolicy::new(
                        &key("host"),
                        "must be a host name or address",
                    ));
                }
                if a.port == 0 {
                    return Err(InvalidPolicy::new(&key("port"), "must be 1 to 65535"));
                }
                for (k, v) in [("username", &a.username), ("extension", &a.extension)] {
                    if !printable(v, 80) {
                        return Err(InvalidPolicy::new(
                            &key(k),
                            "must be 1 to 80 printable characters",
                        ));
                    }
                }
                check_placeholders(&a.voicemail, &["extension"])
                    .map_err(|r| InvalidPolicy::new(&key("voicemail"), r))?;
                if !printable(&a.voicemail, 100) {
                    return Err(InvalidPolicy::new(
                        &key("voicemail"),
                        "must be 1 to 100 printable characters",
                    ));
                }
                if !matches!(a.family.as_str(), "CF" | "CFB" | "CFU") {
                    return Err(InvalidPolicy::new(
                        &key("family"),
                        "must be CF (unconditional), CFB (busy) or CFU (unavailable)",
                    ));
                }
                Ok(())
            }
            ProviderKind::Http => {
                let h = self.http.as_ref().ok_or_else(|| missing("http"))?;
                for (part, r) in [("on", &h.on), ("off", &h.off)] {
                    let key = |k: &str| format!("{P}.http.{part}.{k}");
                    if !HTTP_METHODS.contains(&r.method.to_ascii_uppercase().as_str()) {
                        return Err(InvalidPolicy::new(
                            &key("method"),
                            format!("{:?} is not one of {}", r.method, HTTP_METHODS.join(", ")),
                        ));
                    }
                    check_placeholders(&r.url, &["target", "extension"])
                        .map_err(|e| InvalidPolicy::new(&key("url"), e))?;
                    let sample = http::render_url(&r.url, "x", "x");
                    crate::config::check_endpoint(&sample)
                        .map_err(|e| InvalidPolicy::new(&key("url"), e))?;
                    for (name, value) in &r.headers {
                        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                            return Err(InvalidPolicy::new(
                                &key("headers"),
                                format!("{name:?} is not a header name"),
                            ));
                        }
                        check_placeholders(value, &["target", "extension", "secret"])
                            .map_err(|e| InvalidPolicy::new(&key("headers"), e))?;
                        if value.chars().any(char::is_control) {
                            return Err(InvalidPolicy::new(
                                &key("headers"),
                                format!("header {name:?} has a control character"),
                            ));
                        }
                    }
                    if let Some(body) = &r.body {
                        serde_json::from_str::<serde_json::Value>(body).map_err(|e| {
                            InvalidPolicy::new(&key("body"), format!("is not JSON: {e}"))
                        })?;
                    }
                }
                Ok(())
            }
            ProviderKind::Command => {
                let c = self.command.as_ref().ok_or_else(|| missing("command"))?;
                let key = |k: &str| format!("{P}.command.{k}");
                if c.program.trim().is_empty() || c.program.contains('\0') {
                    return Err(InvalidPolicy::new(&key("program"), "must name a program"));
                }
                for (k, args) in [("on_args", &c.on_args), ("off_args", &c.off_args)] {
                    for a in args {
                        if a.contains('\0') {
                            return Err(InvalidPolicy::new(&key(k), "an argument holds a NUL"));
                        }
                        check_placeholders(a, &["target", "extension"])
                            .map_err(|e| InvalidPolicy::new(&key(k), e))?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Placeholders are `{name}` with a lower-case name; any other name is a mistake.
fn check_placeholders(template: &str, known: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('}') {
            let name = &after[..close];
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !known.contains(&name)
            {
                let known: Vec<String> = known.iter().map(|k| format!("{{{k}}}")).collect();
                return Err(format!(
                    "unknown placeholder {{{name}}}; known: {}",
                    known.join(", ")
                ));
            }
        }
        rest = after;
    }
    Ok(())
}

/// Replaces `{name}` by its value (each value through `encode`).
pub(crate) fn render(
    template: &str,
    vars: &[(&str, &str)],
    encode: impl Fn(&str) -> String,
) -> String {
    let mut out = template.to_owned();
    for (name, value) in vars {
        let token = format!("{{{name}}}");
        if out.contains(&token) {
            out = out.replace(&token, &encode(value));
        }
    }
    out
}

/// At most `max` characters of `text`, trimmed, with an ellipsis when cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let t = text.trim();
    match t.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_owned(),
    }
}

// ---- secrets ---------------------------------------------------------------------------

/// Keyring user of the Webex Calling bearer token.
pub const WEBEX_SECRET: &str = "provider:webex";
/// Keyring user of the AMI secret.
pub const AMI_SECRET: &str = "provider:ami";
/// Keyring user of the HTTP provider's `{secret}`.
pub const HTTP_SECRET: &str = "provider:http";

/// The keyring user holding the destination `user`'s secret was saved for.
pub fn binding_user(user: &str) -> String {
    format!("{user}:destination")
}

/// Where `config` would send the secret of keyring `user`: the Webex API's origin, the AMI
/// `host:port`, the HTTP provider's request origins (its headers carry `{secret}`). `None`
/// when that provider's table is missing or names no usable place.
pub fn secret_destination(config: &ForwardingConfig, user: &str) -> Option<String> {
    let origin = |url: &str| {
        url::Url::parse(url)
            .ok()
            .filter(|u| u.has_host())
            .map(|u| u.origin().ascii_serialization())
    };
    match user {
        WEBEX_SECRET => origin(&config.webex.as_ref()?.base_url),
        AMI_SECRET => {
            let ami = config.ami.as_ref()?;
            let host = ami.host.trim().to_ascii_lowercase();
            (!host.is_empty()).then(|| format!("{host}:{}", ami.port))
        }
        HTTP_SECRET => {
            let h = config.http.as_ref()?;
            let mut origins = Vec::new();
            for request in [&h.on, &h.off] {
                origins.push(origin(&http::render_url(&request.url, "x", "x"))?);
            }
            origins.sort();
            origins.dedup();
            Some(origins.join(" "))
        }
        _ => None,
    }
}

/// The secrets as a provider built from `config` may use them: each only where it was
/// saved for ([`secret_destination`] kept at [`binding_user`]), so that a configuration
/// naming another host (a draft on the settings page, an edited file) never carries it
/// there; the secret must be entered again for the new host. A secret saved before secrets
/// were tied to a destination is tied, when first read, to the one the saved settings
/// (`saved`) name: that is where it was being sent.
pub struct BoundSecrets {
    inner: Arc<dyn SecretStore>,
    config: ForwardingConfig,
    saved: ForwardingConfig,
}

impl BoundSecrets {
    pub fn new(
        inner: Arc<dyn SecretStore>,
        config: &ForwardingConfig,
        saved: &ForwardingConfig,
    ) -> Self {
        Self {
            inner,
            config: config.clone(),
            saved: saved.clone(),
        }
    }

    /// Where `user`'s secret was saved for; an untied one is tied to the saved settings'.
    fn bound(&self, user: &str) -> Result<Option<String>, String> {
        use secrecy::ExposeSecret;
        let binding = binding_user(user);
        if let Some(bound) = self.inner.get(&binding)? {
            return Ok(Some(bound.expose_secret().to_owned()));
        }
        let Some(destination) = secret_destination(&self.saved, user) else {
            return Ok(None);
        };
        self.inner
            .set(&binding, &SecretString::from(destination.clone()))?;
        tracing::info!(
            user,
            destination,
            "a forwarding secret is now tied to its destination"
        );
        Ok(Some(destination))
    }
}

impl SecretStore for BoundSecrets {
    fn get(&self, user: &str) -> Result<Option<SecretString>, String> {
        let Some(secret) = self.inner.get(user)? else {
            return Ok(None);
        };
        let wanted = secret_destination(&self.config, user)
            .ok_or_else(|| format!("the configuration names no destination for {user}"))?;
        match self.bound(user)? {
            Some(bound) if bound == wanted => Ok(Some(secret)),
            Some(bound) => Err(format!(
                "the secret was saved for {bound}, not {wanted}; enter it again to use it there"
            )),
            None => Err(format!(
                "the secret is not tied to a destination; enter it again to use it with {wanted}"
            )),
        }
    }

    fn set(&self, user: &str, secret: &SecretString) -> Result<(), String> {
        self.inner.set(user, secret)
    }

    fn delete(&self, user: &str) -> Result<(), String> {
        self.inner.delete(user)
    }
}

/// Where the providers' secrets live. Calls may block (the OS keyring does).
pub trait SecretStore: Send + Sync {
    fn get(&self, user: &str) -> Result<Option<SecretString>, String>;
    fn set(&self, user: &str, secret: &SecretString) -> Result<(), String>;
    fn delete(&self, user: &str) -> Result<(), String>;
}

/// The OS keyring, service [`KEYRING_SERVICE`].
#[derive(Debug, Default)]
pub struct KeyringSecrets;

fn keyring_message(err: keyring::Error) -> String {
    match err {
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => format!(
            "the OS keyring is not available ({e}); start and unlock a Secret Service, the Keychain or the Credential Manager"
        ),
        other => format!("keyring error: {other}"),
    }
}

impl SecretStore for KeyringSecrets {
    fn get(&self, user: &str) -> Result<Option<SecretString>, String> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, user).map_err(keyring_message)?;
        match entry.get_password() {
            Ok(s) => Ok(Some(SecretString::from(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_message(e)),
        }
    }

    fn set(&self, user: &str, secret: &SecretString) -> Result<(), String> {
        use secrecy::ExposeSecret;
        keyring::Entry::new(KEYRING_SERVICE, user)
            .and_then(|e| e.set_password(secret.expose_secret()))
            .map_err(keyring_message)
    }

    fn delete(&self, user: &str) -> Result<(), String> {
        match keyring::Entry::new(KEYRING_SERVICE, user).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_message(e)),
        }
    }
}

/// Secrets in memory, for tests and demo mode.
#[derive(Default)]
pub struct MemorySecrets(Mutex<HashMap<String, SecretString>>);

impl MemorySecrets {
    pub fn with(entries: &[(&str, &str)]) -> Self {
        let s = Self::default();
        for (user, secret) in entries {
            let _ = s.set(user, &SecretString::from((*secret).to_owned()));
        }
        s
    }
}

impl SecretStore for MemorySecrets {
    fn get(&self, user: &str) -> Result<Option<SecretString>, String> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .cloned())
    }

    fn set(&self, user: &str, secret: &SecretString) -> Result<(), String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_owned(), secret.clone());
        Ok(())
    }

    fn delete(&self, user: &str) -> Result<(), String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
        Ok(())
    }
}

/// Reads the secret `user` for `provider` (off the async threads); a missing one is an
/// error naming the keyring entry to create.
pub(crate) async fn load_secret(
    secrets: &Arc<dyn SecretStore>,
    provider: &'static str,
    user: &'static str,
) -> Result<SecretString, ForwardingError> {
    let store = secrets.clone();
    let got = tokio::task::spawn_blocking(move || store.get(user))
        .await
        .map_err(|e| ForwardingError::Secret {
            provider,
            detail: format!("reading the keyring failed: {e}"),
        })?;
    match got {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(ForwardingError::Secret {
            provider,
            detail: format!(
                "no secret is stored in the keyring (service {KEYRING_SERVICE}, user {user}); store it first"
            ),
        }),
        Err(detail) => Err(ForwardingError::Secret { provider, detail }),
    }
}

/// Builds the configured provider; None when `provider = "none"`.
pub fn build(
    config: &ForwardingConfig,
    secrets: Arc<dyn SecretStore>,
) -> Result<Option<Arc<dyn ForwardingProvider>>, ForwardingError> {
    config
        .validate()
        .map_err(|e| ForwardingError::Config(e.to_string()))?;
    let timeout = config.timeout();
    let missing = || ForwardingError::Config("the provider's table is missing".into());
    Ok(match config.provider {
        ProviderKind::None => None,
        ProviderKind::Webex => Some(Arc::new(webex::WebexProvider::new(
            config.webex.clone().ok_or_else(missing)?,
            secrets,
            timeout,
        )?)),
        ProviderKind::Ami => Some(Arc::new(ami::AmiProvider::new(
            config.ami.clone().ok_or_else(missing)?,
            secrets,
            timeout,
        ))),
        ProviderKind::Http => Some(Arc::new(http::HttpProvider::new(
            config.http.clone().ok_or_else(missing)?,
            secrets,
            timeout,
        )?)),
        ProviderKind::Command => Some(Arc::new(command::CommandProvider::new(
            config.command.clone().ok_or_else(missing)?,
            timeout,
        ))),
    })
}

// ---- the engine's provider (its methods are in `engine/presence.rs`) ------------------

type Cached = Option<Option<Arc<dyn ForwardingProvider>>>;

/// The engine's forwarding provider: built from the configuration on first use, with the
/// secrets in the OS keyring (in memory in demo mode).
pub struct Slot {
    pub(crate) secrets: Mutex<Arc<dyn SecretStore>>,
    pub(crate) provider: Mutex<Cached>,
}

impl Slot {
    pub fn new(demo: bool) -> Self {
        let secrets: Arc<dyn SecretStore> = if demo {
            Arc::new(MemorySecrets::default())
        } else {
            Arc::new(KeyringSecrets)
        };
        Self {
            secrets: Mutex::new(secrets),
            provider: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_checked_and_rendered() {
        assert!(check_placeholders("{target} at {extension}", &["target", "extension"]).is_ok());
        assert!(check_placeholders("{\"a\": 1}", &["target"]).is_ok());
        let err = check_placeholders("to {numbr}", &["target"]).unwrap_err();
        assert!(err.contains("{numbr}") && err.contains("{target}"), "{err}");
        assert_eq!(
            render(
                "fwd {target} {extension} {target}",
                &[("target", "+1"), ("extension", "7")],
                str::to_owned
            ),
            "fwd +1 7 +1"
        );
        assert_eq!(bounded("  abcdef ", 3), "abc…");
        assert_eq!(bounded("ab", 3), "ab");
    }

    #[test]
    fn the_default_is_no_provider() {
        let c = ForwardingConfig::default();
        assert!(!c.is_configured());
        assert!(c.validate().is_ok());
        assert!(build(&c, Arc::new(MemorySecrets::default()))
            .unwrap()
            .is_none());
    }
}
