//! Webex Calling: `GET|PUT {base}/people/{personId}/features/callForwarding` with a bearer
//! token from the keyring (user `provider:webex`). Only the `always` rule is touched:
//! Off → `enabled: false`; Voicemail → `enabled`, `destination` = the configured voicemail
//! destination, `destinationVoicemailEnabled`; Number(x) → `enabled`, `destination: x`.

use super::{
    bounded, load_secret, ForwardingError, ForwardingProvider, SecretStore, WebexConfig,
    WEBEX_SECRET,
};
use crate::presence::profile::Forwarding;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "Webex Calling";

pub struct WebexProvider {
    config: WebexConfig,
    secrets: Arc<dyn SecretStore>,
    client: reqwest::Client,
    timeout: Duration,
}

impl WebexProvider {
    pub fn new(
        config: WebexConfig,
        secrets: Arc<dyn SecretStore>,
        timeout: Duration,
    ) -> Result<Self, ForwardingError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|e| ForwardingError::Config(format!("{NAME}: {e}")))?;
        Ok(Self {
            config,
            secrets,
            client,
            timeout,
        })
    }

    fn url(&self) -> String {
        format!(
            "{}/people/{}/features/callForwarding",
            self.config.base_url.trim_end_matches('/'),
            super::http::encode_component(&self.config.person_id)
        )
    }

    /// The `PUT` body for `setting`.
    pub fn body(&self, setting: &Forwarding) -> Value {
        let always = match setting {
            Forwarding::Off => json!({ "enabled": false }),
            Forwarding::Voicemail => json!({
                "enabled": true,
                "destination": self.config.voicemail,
                "destinationVoicemailEnabled": true,
            }),
            Forwarding::Number(n) => json!({
                "enabled": true,
                "destination": n,
                "destinationVoicemailEnabled": false,
            }),
        };
        json!({ "callForwarding": { "always": always } })
    }

    /// Reads `callForwarding.always` back as a [`Forwarding`].
    pub fn parse(&self, v: &Value) -> Result<Forwarding, ForwardingError> {
        let always = v
            .get("callForwarding")
            .and_then(|c| c.get("always"))
            .ok_or_else(|| ForwardingError::Protocol {
                provider: NAME,
                detail: "no callForwarding.always in the answer".into(),
            })?;
        if !always["enabled"].as_bool().unwrap_or(false) {
            return Ok(Forwarding::Off);
        }
        let dest = always["destination"].as_str().unwrap_or("").to_owned();
        let to_voicemail = always["destinationVoicemailEnabled"]
            .as_bool()
            .unwrap_or(false);
        Ok(if to_voicemail && dest == self.config.voicemail {
            Forwarding::Voicemail
        } else {
            Forwarding::Number(dest)
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        body: Option<Value>,
    ) -> Result<reqwest::Response, ForwardingError> {
        let token = load_secret(&self.secrets, NAME, WEBEX_SECRET).await?;
        let mut req = self
            .client
            .request(method, self.url())
            .bearer_auth(token.expose_secret());
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                ForwardingError::Timeout {
                    provider: NAME,
                    secs: self.timeout.as_secs(),
                }
            } else {
                ForwardingError::Unreachable {
                    provider: NAME,
                    detail: e.without_url().to_string(),
                }
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                let tracking = v["trackingId"].as_str().map(str::to_owned);
                v["message"].as_str().map(|m| match tracking {
                    Some(t) => format!("{m} (trackingId {t})"),
                    None => m.to_owned(),
                })
            })
            .unwrap_or_else(|| bounded(&text, 300));
        Err(match status.as_u16() {
            401 | 403 => ForwardingError::Unauthorized {
                provider: NAME,
                detail: format!("HTTP {}: {message}", status.as_u16()),
            },
            300..=399 => ForwardingError::Refused {
                provider: NAME,
                status: Some(status.as_u16()),
                detail: "redirects are not followed; check base_url".into(),
            },
            s => ForwardingError::Refused {
                provider: NAME,
                status: Some(s),
                detail: message,
            },
        })
    }
}

impl ForwardingProvider for WebexProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(
        &'a self,
        setting: &'a Forwarding,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<(), ForwardingError>> {
        // Webex documents no idempotency key; a lost outcome is checked by reading back.
        Box::pin(async move {
            self.send(reqwest::Method::PUT, Some(self.body(setting)))
                .await
                .map(|_| ())
        })
    }

    fn can_read(&self) -> bool {
        true
    }

    fn current<'a>(&'a self) -> BoxFuture<'a, Result<Option<Forwarding>, ForwardingError>> {
        Box::pin(async move {
            let resp = self.send(reqwest::Method::GET, None).await?;
            let v: Value = resp.json().await.map_err(|e| ForwardingError::Protocol {
                provider: NAME,
                detail: e.without_url().to_string(),
            })?;
            self.parse(&v).map(Some)
        })
    }
}
