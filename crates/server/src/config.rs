//! `server.toml`: where the database is, how the app signs in, which users to sync.

use crate::error::ServerError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub database: DatabaseConfig,
    pub identity: IdentityConfig,
    #[serde(default)]
    pub graph: GraphConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub leases: LeaseConfig,
    #[serde(default)]
    pub users: UsersConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub presence: PresenceSection,
    /// Change notifications (issue 21); without the section, mailboxes are polled.
    pub notifications: Option<NotificationsConfig>,
    /// Call forwarding of the automated users (see `forwarding.rs`); off without it.
    #[serde(default)]
    pub forwarding: ForwardingSection,
}

/// Which telephony system switches the automated users' call forwarding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardingProviderKind {
    #[default]
    None,
    Webex,
    Ami,
}

/// `[forwarding]`: one provider with an organization-level credential switches the
/// forwarding of every automated user whose profiles ask for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardingSection {
    /// `none` (the default), `webex` or `ami`.
    pub provider: ForwardingProviderKind,
    /// Bound on one switch, read or look-up (1 to 120 s).
    pub timeout_secs: u64,
    pub webex: Option<WebexSection>,
    pub ami: Option<AmiSection>,
    /// AMI: each user's extension, by user principal name (compared without case).
    pub extensions: std::collections::BTreeMap<String, String>,
}

impl Default for ForwardingSection {
    fn default() -> Self {
        Self {
            provider: ForwardingProviderKind::None,
            timeout_secs: presently_engine::presence::forwarding::DEFAULT_TIMEOUT_SECS,
            webex: None,
            ami: None,
            extensions: Default::default(),
        }
    }
}

/// `[forwarding.webex]`: Webex Calling with an organization administrator's token (scopes
/// `spark-admin:people_read` and `spark-admin:telephony_config_write`); each user is found
/// by e-mail address (their user principal name).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebexSection {
    #[serde(default = "presently_engine::presence::forwarding::default_webex_base")]
    pub base_url: String,
    /// The token: a file (mode 0600) or an environment variable.
    pub token_file: Option<PathBuf>,
    pub token_env: Option<String>,
    /// The destination that reaches a user's voicemail (sent with
    /// `destinationVoicemailEnabled`), for profiles forwarding to voicemail.
    pub voicemail: String,
}

/// `[forwarding.ami]`: the Asterisk Manager Interface, with a manager account allowed to
/// change the Asterisk database of every extension.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmiSection {
    #[serde(default = "presently_engine::presence::forwarding::default_ami_host")]
    pub host: String,
    #[serde(default = "presently_engine::presence::forwarding::default_ami_port")]
    pub port: u16,
    pub username: String,
    /// The manager's secret: a file (mode 0600) or an environment variable.
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    /// The target meaning voicemail (`{extension}` allowed).
    #[serde(default = "presently_engine::presence::forwarding::default_ami_voicemail")]
    pub voicemail: String,
    /// `CF` unconditional (the default), `CFB` busy, `CFU` unavailable.
    #[serde(default = "presently_engine::presence::forwarding::default_ami_family")]
    pub family: String,
}

impl ForwardingSection {
    pub fn is_configured(&self) -> bool {
        self.provider != ForwardingProviderKind::None
    }

    /// The client's provider configuration for one user (`who`: the Webex person id or
    /// the extension), whose checks the server's section shares.
    pub fn engine_config(
        &self,
        who: &str,
    ) -> presently_engine::presence::forwarding::ForwardingConfig {
        use presently_engine::presence::forwarding as f;
        let mut c = f::ForwardingConfig {
            timeout_secs: self.timeout_secs,
            ..Default::default()
        };
        match self.provider {
            ForwardingProviderKind::None => {}
            ForwardingProviderKind::Webex => {
                c.provider = f::ProviderKind::Webex;
                c.webex = self.webex.as_ref().map(|w| f::WebexConfig {
                    base_url: w.base_url.clone(),
                    person_id: who.to_owned(),
                    voicemail: w.voicemail.clone(),
                });
            }
            ForwardingProviderKind::Ami => {
                c.provider = f::ProviderKind::Ami;
                c.ami = self.ami.as_ref().map(|a| f::AmiConfig {
                    host: a.host.clone(),
                    port: a.port,
                    username: a.username.clone(),
                    extension: who.to_owned(),
                    voicemail: a.voicemail.clone(),
                    family: a.family.clone(),
                });
            }
        }
        c
    }

    /// Checks what parses but cannot work; the message names the key.
    fn validate(&self) -> Result<(), String> {
        let credential = |file: bool, env: bool, table: &str, what: &str| match (file, env) {
            (true, false) | (false, true) => Ok(()),
            (true, true) => Err(format!(
                "[forwarding.{table}] names both {what}_file and {what}_env; keep one"
            )),
            (false, false) => Err(format!(
                "[forwarding.{table}] needs the {what}: {what}_file (mode 0600) or {what}_env"
            )),
        };
        match self.provider {
            ForwardingProviderKind::None => return Ok(()),
            ForwardingProviderKind::Webex => {
                let w = self.webex.as_ref().ok_or(
                    "forwarding.provider \"webex\" needs a [forwarding.webex] table".to_owned(),
                )?;
                credential(
                    w.token_file.is_some(),
                    w.token_env.is_some(),
                    "webex",
                    "token",
                )?;
            }
            ForwardingProviderKind::Ami => {
                let a = self.ami.as_ref().ok_or(
                    "forwarding.provider \"ami\" needs a [forwarding.ami] table".to_owned(),
                )?;
                credential(
                    a.secret_file.is_some(),
                    a.secret_env.is_some(),
                    "ami",
                    "secret",
                )?;
                for (user, extension) in &self.extensions {
                    if extension.trim().is_empty()
                        || extension.chars().count() > 80
                        || extension.chars().any(char::is_control)
                    {
                        return Err(format!(
                            "forwarding.extensions: the extension of {user:?} must be 1 to 80 printable characters"
                        ));
                    }
                }
            }
        }
        // The rest as the clients' `[presence.forwarding]` is checked (the key names the
        // client's table: `presence.forwarding.webex.voicemail` is `forwarding.webex.voicemail`).
        self.engine_config("placeholder")
            .validate()
            .map_err(|e| e.to_string().replace("presence.forwarding", "forwarding"))
    }
}

/// Change notifications (`[notifications]`): Graph posts to `public_url` (the organization's
/// reverse proxy), which forwards to `path` on the `[http] listen` address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// The HTTPS URL Graph posts notifications to (http is accepted on loopback only, for
    /// tests).
    pub public_url: String,
    /// The path served on the `[http] listen` address.
    #[serde(default = "default_notifications_path")]
    pub path: String,
    /// With notifications on, each mailbox is still synced this often (seconds), in case
    /// notifications were lost.
    #[serde(default = "default_safety_poll")]
    pub safety_poll_secs: u64,
}

fn default_notifications_path() -> String {
    "/notifications".into()
}
fn default_safety_poll() -> u64 {
    3600
}

/// True when `url` is one Graph may post to: https, or http on loopback (tests).
pub fn notification_url_allowed(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Presence automation (`[presence]`) of the users whose policy group says
/// `automation = "server"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceSection {
    /// While automation holds a user's presence, it is read back this often to notice a
    /// change by the user.
    pub check_interval_secs: u64,
    /// Presence calls of the same instant go out in `$batch` requests of up to 20.
    pub batch: bool,
    /// `$batch` requests in flight at once per worker (its share of the tenant's budget).
    pub concurrent_batches: usize,
    /// Mailboxes whose automation steps at once per worker.
    pub concurrent_mailboxes: usize,
}

impl Default for PresenceSection {
    fn default() -> Self {
        Self {
            check_interval_secs: 15,
            batch: true,
            concurrent_batches: 4,
            concurrent_mailboxes: 64,
        }
    }
}

/// The organization policy file of the clients, applied per user (see `policy.rs`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub file: Option<PathBuf>,
}

/// Health and metrics (`/healthz`, `/readyz`, `/metrics`), off unless `listen` is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// e.g. `127.0.0.1:9464`.
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A PostgreSQL connection string: `postgresql://user@host:port/db` or
    /// `host=... port=... user=... dbname=...`. A password belongs in `password_file`.
    pub url: String,
    /// A file (mode 0600) holding the database password.
    pub password_file: Option<PathBuf>,
    /// The certificate authorities (PEM) a TLS server's certificate is checked against,
    /// when `url` says `sslmode=require`; without it, the public ones.
    pub ca_file: Option<PathBuf>,
    /// Connections each worker opens (at least 1): presence writes of many users starting
    /// at once run side by side on them.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Of `connections`, how many are kept for presence automation: sync rounds, lease
    /// passes and the webhook hold at most the others at once, so a presence switch never
    /// waits behind them. Default: 1 (none with a single connection).
    pub reserved_for_presence: Option<usize>,
}

fn default_connections() -> usize {
    4
}

impl DatabaseConfig {
    /// [`DatabaseConfig::reserved_for_presence`] in force.
    pub fn reserved_for_presence(&self) -> usize {
        self.reserved_for_presence
            .unwrap_or(if self.connections >= 2 { 1 } else { 0 })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The directory (tenant) id or its initial domain.
    pub tenant: String,
    /// The app registration's application (client) id.
    pub client_id: String,
    #[serde(default = "default_authority")]
    pub authority: String,
    /// The certificate registered on the app (PEM), whose SHA-256 thumbprint names the key
    /// in the client assertion's `x5t#S256` header.
    pub certificate: Option<PathBuf>,
    /// The certificate's private key (PEM, mode 0600), or `private_key_env`.
    pub private_key_file: Option<PathBuf>,
    pub private_key_env: Option<String>,
    /// Discouraged: a client secret (file with mode 0600, or an environment variable).
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphConfig {
    #[serde(default = "default_graph")]
    pub endpoint: String,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            endpoint: default_graph(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The sync window (whole days around today), as the clients' `sync.window_days_back`
    /// and `sync.window_days_ahead`: unset, the policy group's value or the clients'
    /// default applies; set, it applies unless the group locks the key.
    pub days_back: Option<u32>,
    pub days_ahead: Option<u32>,
    /// Seconds between two rounds of one mailbox.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Items per page asked of Graph (`Prefer: odata.maxpagesize`).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Mailboxes synced at once by one worker.
    #[serde(default = "default_concurrent_mailboxes")]
    pub concurrent_mailboxes: usize,
    /// Graph requests in flight at once from one worker across all mailboxes: its share
    /// of the tenant's limits (each mailbox has at most 4 besides).
    #[serde(default = "default_tenant_requests")]
    pub tenant_concurrent_requests: usize,
    /// The polls of mailboxes due together (an incremental round's first request: for a
    /// mailbox that did not change, its only one) go out in `$batch` requests of up to 20.
    #[serde(default = "default_sync_batch")]
    pub batch: bool,
    /// `$batch` requests of polls in flight at once per worker (beside
    /// `tenant_concurrent_requests`, which counts requests sent alone; within
    /// `tenant_budget`, which counts each request a batch carries).
    #[serde(default = "default_sync_batches")]
    pub concurrent_batches: usize,
    /// Graph requests in flight at once from all workers together: each worker's limit is
    /// this divided by the live workers (rounded up), renewed at every lease pass; it
    /// replaces `tenant_concurrent_requests` when set. A `$batch` of polls holds one
    /// permit per request it carries while it is in flight (Graph counts each inner
    /// request against the tenant's limits).
    pub tenant_budget: Option<usize>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            days_back: None,
            days_ahead: None,
            interval_secs: default_interval(),
            page_size: default_page_size(),
            concurrent_mailboxes: default_concurrent_mailboxes(),
            tenant_concurrent_requests: default_tenant_requests(),
            batch: default_sync_batch(),
            concurrent_batches: default_sync_batches(),
            tenant_budget: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseConfig {
    /// This worker's name in the leases (default: host name and process id).
    pub worker_id: Option<String>,
    /// How long a claim lasts without renewal: a dead worker's mailboxes are taken over
    /// within this time.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Most mailboxes one worker holds, so that several workers share the work.
    #[serde(default = "default_max_mailboxes")]
    pub max_mailboxes: i64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            worker_id: None,
            lease_secs: default_lease_secs(),
            max_mailboxes: default_max_mailboxes(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersConfig {
    /// Users to sync, by object id or user principal name.
    #[serde(default)]
    pub list: Vec<String>,
    /// Entra groups (object ids) whose members, transitively, are synced too (by object
    /// id; needs the application permission `GroupMember.Read.All`).
    #[serde(default)]
    pub groups: Vec<String>,
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_graph() -> String {
    "https://graph.microsoft.com".into()
}
fn default_interval() -> u64 {
    300
}
fn default_page_size() -> u32 {
    100
}
fn default_concurrent_mailboxes() -> usize {
    8
}
fn default_tenant_requests() -> usize {
    16
}
fn default_sync_batch() -> bool {
    true
}
fn default_sync_batches() -> usize {
    2
}
fn default_lease_secs() -> u64 {
    60
}
fn default_max_mailboxes() -> i64 {
    500
}

impl ServerConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::Config {
            path: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the text of a configuration (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Self, ServerError> {
        let invalid = |message: String| ServerError::Config {
            path: origin.to_owned(),
            message,
        };
        let config: ServerConfig = toml::from_str(text).map_err(|e| {
            // toml's message names the line, column and key.
            invalid(e.to_string().trim_end().replace('\n', " "))
        })?;
        let id = &config.identity;
        let key = id.private_key_file.is_some() || id.private_key_env.is_some();
        let secret = id.client_secret_file.is_some() || id.client_secret_env.is_some();
        match (key, secret, id.certificate.is_some()) {
            (true, true, _) => {
                return Err(invalid(
                    "[identity] names both a private key and a client secret; keep one (the certificate is preferred)".into(),
                ))
            }
            (false, false, _) => {
                return Err(invalid(
                    "[identity] needs a credential: certificate with private_key_file or private_key_env, or (discouraged) client_secret_file or client_secret_env".into(),
                ))
            }
            (true, false, false) => {
                return Err(invalid(
                    "[identity] has a private key but no `certificate`: the certificate's thumbprint names the key to Microsoft Entra".into(),
                ))
            }
            _ => {}
        }
        for (name, value) in [
            ("identity.authority", &id.authority),
            ("graph.endpoint", &config.graph.endpoint),
        ] {
            url::Url::parse(value).map_err(|e| invalid(format!("{name} {value:?}: {e}")))?;
        }
        if config.leases.lease_secs < 2 {
            return Err(invalid("leases.lease_secs must be at least 2".into()));
        }
        if let Some(reserved) = config.database.reserved_for_presence {
            if reserved >= config.database.connections.max(1) {
                return Err(invalid(format!(
                    "database.reserved_for_presence ({reserved}) must be less than database.connections ({}): sync needs at least one",
                    config.database.connections
                )));
            }
        }
        if config.sync.tenant_budget == Some(0) {
            return Err(invalid("sync.tenant_budget must be at least 1".into()));
        }
        if config.sync.concurrent_mailboxes == 0
            || config.sync.page_size == 0
            || config.sync.tenant_concurrent_requests == 0
        {
            return Err(invalid(
                "sync.concurrent_mailboxes, sync.tenant_concurrent_requests, sync.concurrent_batches and sync.page_size must be at least 1".into(),
            ));
        }
        config.forwarding.validate().map_err(invalid)?;
        if let Some(n) = &config.notifications {
            let public = url::Url::parse(&n.public_url).map_err(|e| {
                invalid(format!("notifications.public_url {:?}: {e}", n.public_url))
            })?;
            if !notification_url_allowed(&public) {
                return Err(invalid(format!(
                    "notifications.public_url {:?} must be https (http only on loopback, for tests)",
                    n.public_url
                )));
            }
            if !n.path.starts_with('/') || n.path.len() < 2 {
                return Err(invalid(format!(
                    "notifications.path {:?} must be a path such as \"/notifications\"",
                    n.path
                )));
            }
            if config.http.listen.is_none() {
                return Err(invalid(
                    "[notifications] needs [http] listen: the notifications are served there"
                        .into(),
                ));
            }
            if n.safety_poll_secs == 0 {
                return Err(invalid(
                    "notifications.safety_poll_secs must be at least 1".into(),
                ));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[database]\nurl = \"x\"\n[identity]\ntenant = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"S\"\n";

    #[test]
    fn forwarding_is_off_unless_configured_and_checked_when_it_is() {
        let config = ServerConfig::parse(BASE, "server.toml").expect("valid");
        assert!(!config.forwarding.is_configured());
        let ok = format!(
            "{BASE}[forwarding]\nprovider = \"ami\"\n[forwarding.ami]\nusername = \"p\"\nsecret_env = \"AMI\"\n[forwarding.extensions]\n\"a@contoso.com\" = \"1001\"\n"
        );
        let f = ServerConfig::parse(&ok, "server.toml")
            .expect("valid")
            .forwarding;
        assert_eq!(f.provider, ForwardingProviderKind::Ami);
        assert_eq!(f.extensions["a@contoso.com"], "1001");
        let refused = |extra: &str, needle: &str| {
            let text = format!("{BASE}{extra}");
            let err = ServerConfig::parse(&text, "server.toml")
                .expect_err(extra)
                .to_string();
            assert!(err.contains(needle), "{extra}: {err}");
        };
        refused(
            "[forwarding]\nprovider = \"webex\"\n",
            "needs a [forwarding.webex]",
        );
        refused(
            "[forwarding]\nprovider = \"webex\"\n[forwarding.webex]\nvoicemail = \"1\"\n",
            "token_file (mode 0600) or token_env",
        );
        refused(
            "[forwarding]\nprovider = \"webex\"\n[forwarding.webex]\nvoicemail = \"1\"\ntoken_env = \"T\"\nbase_url = \"http://webex.example.com\"\n",
            "forwarding.webex.base_url",
        );
        refused(
            "[forwarding]\nprovider = \"ami\"\n[forwarding.ami]\nusername = \"p\"\nsecret_env = \"S\"\nfamily = \"XX\"\n",
            "forwarding.ami.family",
        );
        refused(
            "[forwarding]\nprovider = \"ami\"\ntimeout_secs = 0\n[forwarding.ami]\nusername = \"p\"\nsecret_env = \"S\"\n",
            "forwarding.timeout_secs",
        );
        refused("[forwarding]\nprovider = \"sip\"\n", "unknown variant");
        refused("[sync]\ntenant_budget = 0\n", "sync.tenant_budget");
        assert_eq!(
            config.database.reserved_for_presence(),
            1,
            "of 4, by default"
        );
        let one = BASE.replace("url = \"x\"\n", "url = \"x\"\nconnections = 1\n");
        let one = ServerConfig::parse(&one, "server.toml").expect("valid");
        assert_eq!(
            one.database.reserved_for_presence(),
            0,
            "a single connection"
        );
        let two = BASE.replace(
            "url = \"x\"\n",
            "url = \"x\"\nconnections = 6\nreserved_for_presence = 2\n",
        );
        let two = ServerConfig::parse(&two, "server.toml").expect("valid");
        assert_eq!(two.database.reserved_for_presence(), 2);
        let all = BASE.replace(
            "url = \"x\"\n",
            "url = \"x\"\nconnections = 2\nreserved_for_presence = 2\n",
        );
        let err = ServerConfig::parse(&all, "server.toml")
            .expect_err("no connection left for sync")
            .to_string();
        assert!(
            err.contains(
                "database.reserved_for_presence (2) must be less than database.connections (2)"
            ),
            "{err}"
        );
    }

    #[test]
    fn notifications_are_off_unless_configured_and_checked_when_they_are() {
        let config = ServerConfig::parse(BASE, "server.toml").expect("valid");
        assert!(config.notifications.is_none(), "polling only");

        let on = format!(
            "{BASE}[http]\nlisten = \"127.0.0.1:9464\"\n[notifications]\npublic_url = \"https://presently.example.org/graph/notifications\"\n"
        );
        let n = ServerConfig::parse(&on, "server.toml")
            .expect("valid")
            .notifications
            .expect("on");
        assert_eq!(n.path, "/notifications");
        assert_eq!(n.safety_poll_secs, 3600);

        let refused = |extra: &str, needle: &str| {
            let text = format!("{BASE}{extra}");
            let err = ServerConfig::parse(&text, "server.toml")
                .expect_err(extra)
                .to_string();
            assert!(err.contains(needle), "{extra}: {err}");
        };
        refused(
            "[http]\nlisten = \"127.0.0.1:1\"\n[notifications]\npublic_url = \"http://presently.example.org/n\"\n",
            "must be https",
        );
        refused(
            "[notifications]\npublic_url = \"https://presently.example.org/n\"\n",
            "needs [http] listen",
        );
        refused(
            "[http]\nlisten = \"127.0.0.1:1\"\n[notifications]\npublic_url = \"https://p.example.org/n\"\npath = \"n\"\n",
            "notifications.path",
        );
        refused(
            "[http]\nlisten = \"127.0.0.1:1\"\n[notifications]\npublic_url = \"not a url\"\n",
            "notifications.public_url",
        );
        // Loopback http is for tests.
        let local = format!(
            "{BASE}[http]\nlisten = \"127.0.0.1:1\"\n[notifications]\npublic_url = \"http://127.0.0.1:1/notifications\"\nsafety_poll_secs = 60\n"
        );
        assert!(ServerConfig::parse(&local, "server.toml").is_ok());
    }
}
