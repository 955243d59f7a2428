//! Call forwarding of the automated users (`[forwarding]` of `server.toml`), through the
//! clients' providers with an organization-level credential:
//!
//! - Webex Calling: an administrator's token sets any person's forwarding. Each user is
//!   found by e-mail address: their user principal name, looked up with
//!   `GET /people?email=` (needs `spark-admin:people_read`); the person id is kept in
//!   memory for the worker's lifetime. A user whose mailbox is known by object id only, or
//!   whom Webex does not know, has no forwarding.
//! - Asterisk AMI: a manager account changes any extension's `CF/<extension>`; each user's
//!   extension comes from `[forwarding.extensions]` (UPN → extension). A user not listed
//!   there has no forwarding.
//!
//! A user without a mapping is automated as before, without forwarding (the driver is told
//! there is no provider for them); that is logged when their automation starts and shown by
//! `presently-server plan`. The credential is read once at start (a file with mode 0600 or
//! an environment variable) and never logged.

use crate::config::{ForwardingProviderKind, ForwardingSection};
use crate::error::ServerError;
use futures::future::BoxFuture;
use presently_engine::presence::forwarding::{
    self as engine, ForwardingError, ForwardingProvider, SecretStore,
};
use presently_engine::presence::profile::Forwarding;
use secrecy::{ExposeSecret as _, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const WEBEX: &str = "Webex Calling";

/// The organization's credential, handed to the clients' providers as their "keyring".
struct OrgSecret {
    user: &'static str,
    secret: SecretString,
}

impl SecretStore for OrgSecret {
    fn get(&self, user: &str) -> Result<Option<SecretString>, String> {
        Ok((user == self.user).then(|| self.secret.clone()))
    }
    fn set(&self, _: &str, _: &SecretString) -> Result<(), String> {
        Err("the server's forwarding credential is read from server.toml's file or variable".into())
    }
    fn delete(&self, user: &str) -> Result<(), String> {
        self.set(user, &SecretString::from(String::new()))
    }
}

/// How one user's forwarding is switched.
pub enum UserForwarding {
    Provider(Arc<dyn ForwardingProvider>),
    /// No mapping: forwarding is not touched for this user; the reason says why.
    Unmapped(String),
}

/// The configured provider for the whole organization.
pub struct OrgForwarding {
    section: ForwardingSection,
    secrets: Arc<dyn SecretStore>,
    client: reqwest::Client,
    /// Webex person ids by lower-case e-mail address.
    people: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for OrgForwarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgForwarding")
            .field("provider", &self.section.provider)
            .finish_non_exhaustive()
    }
}

impl OrgForwarding {
    /// Reads the credential of the configured provider; `None` when there is none.
    pub fn load(section: &ForwardingSection) -> Result<Option<Arc<Self>>, ServerError> {
        let read =
            |file: &Option<std::path::PathBuf>, env: &Option<String>, what: &str| match (file, env)
            {
                (Some(path), _) => crate::secret::read_secret_file(path, what),
                (None, Some(name)) => crate::secret::read_secret_env(name, what),
                (None, None) => Err(ServerError::Secret(format!("no {what} is configured"))),
            };
        let missing = |table: &str| ServerError::Config {
            path: "server.toml".into(),
            message: format!("[forwarding.{table}] is missing"),
        };
        let secrets: Arc<dyn SecretStore> = match section.provider {
            ForwardingProviderKind::None => return Ok(None),
            ForwardingProviderKind::Webex => {
                let w = section.webex.as_ref().ok_or_else(|| missing("webex"))?;
                Arc::new(OrgSecret {
                    user: engine::WEBEX_SECRET,
                    secret: read(&w.token_file, &w.token_env, "Webex Calling token")?,
                })
            }
            ForwardingProviderKind::Ami => {
                let a = section.ami.as_ref().ok_or_else(|| missing("ami"))?;
                Arc::new(OrgSecret {
                    user: engine::AMI_SECRET,
                    secret: read(&a.secret_file, &a.secret_env, "AMI secret")?,
                })
            }
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(section.timeout_secs))
            .build()
            .map_err(|e| ServerError::Config {
                path: "server.toml".into(),
                message: format!("[forwarding]: {e}"),
            })?;
        Ok(Some(Arc::new(Self {
            section: section.clone(),
            secrets,
            client,
            people: Mutex::new(HashMap::new()),
        })))
    }

    /// The provider's name, as the clients show it.
    pub fn provider_name(&self) -> &'static str {
        match self.section.provider {
            ForwardingProviderKind::Webex => WEBEX,
            ForwardingProviderKind::Ami => "Asterisk AMI",
            ForwardingProviderKind::None => "none",
        }
    }

    /// The provider switching `mailbox`'s forwarding. For Webex the person is looked up
    /// (once; kept afterwards): a look-up that fails now (Webex unreachable) still gives a
    /// provider, which looks the person up again at its first call; a user Webex does not
    /// know is [`UserForwarding::Unmapped`].
    pub async fn for_user(self: &Arc<Self>, mailbox: &str) -> UserForwarding {
        match self.section.provider {
            ForwardingProviderKind::None => {
                UserForwarding::Unmapped("no [forwarding] provider is configured".into())
            }
            ForwardingProviderKind::Ami => {
                let extension = self
                    .section
                    .extensions
                    .iter()
                    .find(|(user, _)| user.eq_ignore_ascii_case(mailbox))
                    .map(|(_, ext)| ext.clone());
                match extension {
                    Some(ext) => match self.engine_provider(&ext) {
                        Ok(p) => UserForwarding::Provider(p),
                        Err(e) => UserForwarding::Unmapped(e.to_string()),
                    },
                    None => UserForwarding::Unmapped(format!(
                        "{mailbox} has no extension in [forwarding.extensions]"
                    )),
                }
            }
            ForwardingProviderKind::Webex => {
                if !mailbox.contains('@') {
                    return UserForwarding::Unmapped(format!(
                        "{mailbox} is known by object id only; Webex people are found by e-mail address (list the user by user principal name)"
                    ));
                }
                match self.webex_person(mailbox).await {
                    Ok(None) => UserForwarding::Unmapped(format!(
                        "Webex Calling has no person with the e-mail address {mailbox}"
                    )),
                    Ok(Some(_)) | Err(_) => UserForwarding::Provider(Arc::new(WebexUser {
                        org: self.clone(),
                        email: mailbox.to_owned(),
                        provider: tokio::sync::OnceCell::new(),
                    })),
                }
            }
        }
    }

    /// Looks the Webex people of `users` up (8 at a time) and keeps their ids, so that
    /// [`OrgForwarding::for_user`] finds them; failures are left for it to meet again. Does
    /// nothing for AMI.
    pub async fn prefetch(&self, users: &[String]) {
        use futures::StreamExt as _;
        if self.section.provider != ForwardingProviderKind::Webex {
            return;
        }
        let wanted: Vec<String> = {
            let people = self.people.lock().unwrap_or_else(|p| p.into_inner());
            users
                .iter()
                .filter(|u| u.contains('@') && !people.contains_key(&u.to_lowercase()))
                .cloned()
                .collect()
        };
        // Boxed before they are streamed: the caller's task stays `Send` (closures over
        // borrows inside the stream's type trip the compiler's higher-ranked inference).
        let lookups: Vec<BoxFuture<'_, ()>> = wanted
            .into_iter()
            .map(|u| -> BoxFuture<'_, ()> {
                Box::pin(async move {
                    let _ = self.webex_person(&u).await;
                })
            })
            .collect();
        futures::stream::iter(lookups)
            .buffer_unordered(8)
            .for_each(|()| futures::future::ready(()))
            .await;
    }

    /// The clients' provider for one person id or extension.
    fn engine_provider(&self, who: &str) -> Result<Arc<dyn ForwardingProvider>, ForwardingError> {
        engine::build(&self.section.engine_config(who), self.secrets.clone())?
            .ok_or_else(|| ForwardingError::Config("no provider is configured".into()))
    }

    /// The Webex person id of `email` (cached), `None` when Webex knows nobody with it.
    pub async fn webex_person(&self, email: &str) -> Result<Option<String>, ForwardingError> {
        let key = email.to_lowercase();
        if let Some(id) = self
            .people
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(id.clone()));
        }
        let webex = self
            .section
            .webex
            .as_ref()
            .ok_or_else(|| ForwardingError::Config("[forwarding.webex] is missing".into()))?;
        let token = self
            .secrets
            .get(engine::WEBEX_SECRET)
            .ok()
            .flatten()
            .ok_or_else(|| ForwardingError::Secret {
                provider: WEBEX,
                detail: "no token".into(),
            })?;
        let url = format!("{}/people", webex.base_url.trim_end_matches('/'));
        let resp = self
            .client
            .get(url)
            .query(&[("email", email)])
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    ForwardingError::Timeout {
                        provider: WEBEX,
                        secs: self.section.timeout_secs,
                    }
                } else {
                    ForwardingError::Unreachable {
                        provider: WEBEX,
                        detail: e.without_url().to_string(),
                    }
                }
            })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let text = resp.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(300).collect());
            let detail = format!("looking up a person by e-mail: HTTP {status}: {message}");
            return Err(match status {
                401 | 403 => ForwardingError::Unauthorized {
                    provider: WEBEX,
                    detail,
                },
                _ => ForwardingError::Refused {
                    provider: WEBEX,
                    status: Some(status),
                    detail,
                },
            });
        }
        let body: serde_json::Value = resp.json().await.map_err(|e| ForwardingError::Protocol {
            provider: WEBEX,
            detail: e.without_url().to_string(),
        })?;
        let id = body["items"]
            .as_array()
            .and_then(|items| items.first())
            .and_then(|p| p["id"].as_str())
            .map(str::to_owned);
        if let Some(id) = &id {
            self.people
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, id.clone());
        }
        Ok(id)
    }

    /// `check`: the credential works and the provider answers. Webex: `probe` (a user's
    /// e-mail address) is looked up; AMI: the manager logs in and reads `probe`'s
    /// extension. Returns what was found, for the output.
    pub async fn check(self: &Arc<Self>, probe: Option<&str>) -> Result<String, ServerError> {
        let failed = |error: ForwardingError| ServerError::Forwarding {
            provider: self.provider_name(),
            error,
        };
        match self.section.provider {
            ForwardingProviderKind::None => Ok("off".into()),
            ForwardingProviderKind::Webex => {
                let email = probe
                    .filter(|p| p.contains('@'))
                    .unwrap_or("nobody@example.invalid");
                let found = self.webex_person(email).await.map_err(failed)?;
                Ok(match found {
                    Some(_) => format!("Webex Calling answers; {email} was found"),
                    None => format!("Webex Calling answers; nobody has the e-mail address {email}"),
                })
            }
            ForwardingProviderKind::Ami => {
                let (who, ext) = match probe.and_then(|p| {
                    self.section
                        .extensions
                        .iter()
                        .find(|(u, _)| u.eq_ignore_ascii_case(p))
                }) {
                    Some((u, e)) => (u.clone(), e.clone()),
                    None => match self.section.extensions.iter().next() {
                        Some((u, e)) => (u.clone(), e.clone()),
                        None => {
                            // Nobody to read: the login alone (a read of a key nobody has).
                            let provider = self.engine_provider("0").map_err(failed)?;
                            provider.current().await.map_err(failed)?;
                            return Ok("Asterisk AMI answers; no user has an extension in [forwarding.extensions], so nobody's forwarding is switched".into());
                        }
                    },
                };
                let provider = self.engine_provider(&ext).map_err(failed)?;
                let now = provider.current().await.map_err(failed)?;
                Ok(format!(
                    "Asterisk AMI answers; {who}'s extension {ext} forwards: {}",
                    now.map_or("unknown".into(), |f| f.to_string())
                ))
            }
        }
    }
}

/// One Webex user: the person is looked up (again) at the first call when it was not found
/// before, then the clients' provider switches their forwarding.
struct WebexUser {
    org: Arc<OrgForwarding>,
    email: String,
    /// The clients' provider for the person, once found.
    provider: tokio::sync::OnceCell<Arc<dyn ForwardingProvider>>,
}

impl WebexUser {
    async fn provider(&self) -> Result<Arc<dyn ForwardingProvider>, ForwardingError> {
        self.provider
            .get_or_try_init(|| async {
                let person = self.org.webex_person(&self.email).await?.ok_or_else(|| {
                    ForwardingError::Refused {
                        provider: WEBEX,
                        status: None,
                        detail: format!("no person has the e-mail address {}", self.email),
                    }
                })?;
                self.org.engine_provider(&person)
            })
            .await
            .cloned()
    }
}

impl ForwardingProvider for WebexUser {
    fn name(&self) -> &'static str {
        WEBEX
    }

    fn apply<'a>(
        &'a self,
        setting: &'a Forwarding,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), ForwardingError>> {
        Box::pin(async move { self.provider().await?.apply(setting, key).await })
    }

    fn can_read(&self) -> bool {
        true
    }

    fn current<'a>(&'a self) -> BoxFuture<'a, Result<Option<Forwarding>, ForwardingError>> {
        Box::pin(async move { self.provider().await?.current().await })
    }
}
