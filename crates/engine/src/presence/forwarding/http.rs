//! A configured HTTP request per direction: `on` (forward to `{target}`) and `off`.
//! Placeholders are percent-encoded in the URL, replaced inside the JSON body's strings
//! only (so a target cannot change the body's shape), and verbatim in header values
//! (`{secret}`: the keyring entry `provider:http`). Redirects are not followed; only https
//! or loopback http is allowed. The state in force cannot be read. Every request carries the
//! write's idempotency key in the header `Idempotency-Key` (the IETF httpapi draft's name):
//! a request with a key seen before repeats a write whose outcome Presently lost.

use super::{
    bounded, load_secret, render, ForwardingError, ForwardingProvider, HttpConfig,
    HttpRequestConfig, SecretStore, HTTP_SECRET,
};
use crate::presence::profile::Forwarding;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "HTTP forwarding";

/// The header carrying the write's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Percent-encodes all but the unreserved characters (RFC 3986).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL template with `{target}` and `{extension}` percent-encoded.
pub(crate) fn render_url(template: &str, target: &str, extension: &str) -> String {
    render(
        template,
        &[("target", target), ("extension", extension)],
        encode_component,
    )
}

/// Replaces the placeholders inside the strings (keys included) of a JSON value.
fn render_json(v: &Value, vars: &[(&str, &str)]) -> Value {
    match v {
        Value::String(s) => Value::String(render(s, vars, str::to_owned)),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_json(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (render(k, vars, str::to_owned), render_json(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub struct HttpProvider {
    config: HttpConfig,
    secrets: Arc<dyn SecretStore>,
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpProvider {
    pub fn new(
        config: HttpConfig,
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

    async fn send(
        &self,
        r: &HttpRequestConfig,
        target: &str,
        key: &str,
    ) -> Result<(), ForwardingError> {
        let ext = self.config.extension.as_str();
        let vars = [("target", target), ("extension", ext)];
        let url = render_url(&r.url, target, ext);
        // The endpoint rule again, on the URL as sent.
        crate::config::check_endpoint(&url).map_err(ForwardingError::Config)?;
        let method = reqwest::Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
            .map_err(|e| ForwardingError::Config(format!("{NAME}: method {:?}: {e}", r.method)))?;
        let mut req = self.client.request(method, &url);
        if !key.is_empty()
            && !r
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case(IDEMPOTENCY_KEY_HEADER))
        {
            req = req.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        let needs_secret = r.headers.values().any(|v| v.contains("{secret}"));
        let secret = if needs_secret {
            Some(load_secret(&self.secrets, NAME, HTTP_SECRET).await?)
        } else {
            None
        };
        for (name, value) in &r.headers {
            let mut value = render(value, &vars, str::to_owned);
            if let Some(s) = &secret {
                value = value.replace("{secret}", s.expose_secret());
            }
            let mut hv = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                ForwardingError::Config(format!(
                    "{NAME}: header {name:?} is not a valid header value once filled in"
                ))
            })?;
            hv.set_sensitive(secret.is_some());
            req = req.header(name.as_str(), hv);
        }
        if let Some(body) = &r.body {
            let template: Value = serde_json::from_str(body)
                .map_err(|e| ForwardingError::Config(format!("{NAME}: body is not JSON: {e}")))?;
            req = req.json(&render_json(&template, &vars));
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
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        let code = status.as_u16();
        Err(match code {
            401 | 403 => ForwardingError::Unauthorized {
                provider: NAME,
                detail: format!("HTTP {code}: {}", bounded(&text, 300)),
            },
            300..=399 => ForwardingError::Refused {
                provider: NAME,
                status: Some(code),
                detail: "redirects are not followed; check the URL".into(),
            },
            _ => ForwardingError::Refused {
                provider: NAME,
                status: Some(code),
                detail: bounded(&text, 300),
            },
        })
    }
}

impl ForwardingProvider for HttpProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply<'a>(
        &'a self,
        setting: &'a Forwarding,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), ForwardingError>> {
        Box::pin(async move {
            match setting {
                Forwarding::Off => self.send(&self.config.off, "", key).await,
                Forwarding::Voicemail => {
                    self.send(&self.config.on, &self.config.voicemail, key)
                        .await
                }
                Forwarding::Number(n) => self.send(&self.config.on, n, key).await,
            }
        })
    }

    fn can_read(&self) -> bool {
        false
    }

    fn current<'a>(&'a self) -> BoxFuture<'a, Result<Option<Forwarding>, ForwardingError>> {
        Box::pin(async { Ok(None) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_cannot_change_the_shape_of_the_body_or_the_url() {
        let body = json!({"to": "{target}", "ext": "{extension}", "n": 1});
        let vars = [("target", "\"},{\"evil\":1"), ("extension", "7")];
        assert_eq!(
            render_json(&body, &vars),
            json!({"to": "\"},{\"evil\":1", "ext": "7", "n": 1})
        );
        assert_eq!(
            render_url(
                "https://pbx.example.com/fwd/{extension}?to={target}",
                "+49 30/1&x",
                "7"
            ),
            "https://pbx.example.com/fwd/7?to=%2B49%2030%2F1%26x"
        );
    }
}
