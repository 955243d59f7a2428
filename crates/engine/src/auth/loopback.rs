//! The loopback redirect listener (RFC 8252 §7.3): bound to 127.0.0.1 on a port the OS
//! picks, for one sign-in only. It accepts exactly one request on the redirect path whose
//! `state` matches (compared in constant time); anything else gets 404/400 and is logged.
//! Dropping the listener closes the port.

use super::entra::{AuthError, EntraError};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head read from the browser.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct LoopbackListener {
    listener: TcpListener,
    port: u16,
    path: String,
}

/// What the browser brought back.
pub enum Redirect {
    Code(SecretString),
    Error(EntraError),
}

impl LoopbackListener {
    /// Binds 127.0.0.1 on a free port. `path` is the registered redirect path (`/` by default).
    pub async fn bind(path: &str) -> Result<Self, AuthError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| AuthError::Listener(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| AuthError::Listener(e.to_string()))?
            .port();
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Self {
            listener,
            port,
            path,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The redirect URI sent to the identity platform. Entra ID ignores the port when it
    /// matches loopback URIs, but the path must be the registered one.
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}{}", self.port, self.path)
    }

    /// Serves requests until one on the redirect path carries the expected `state`, then
    /// answers it and closes the port. Gives up after `timeout` or when `cancel` completes.
    pub async fn wait(
        self,
        expected_state: &SecretString,
        timeout: Duration,
        cancel: impl Future<Output = ()>,
    ) -> Result<Redirect, AuthError> {
        tokio::select! {
            result = self.serve(expected_state) => result,
            _ = tokio::time::sleep(timeout) => Err(AuthError::Timeout(timeout.as_secs())),
            _ = cancel => Err(AuthError::Cancelled),
        }
    }

    async fn serve(&self, expected_state: &SecretString) -> Result<Redirect, AuthError> {
        loop {
            let (mut stream, peer) = self
                .listener
                .accept()
                .await
                .map_err(|e| AuthError::Listener(e.to_string()))?;
            let target = match tokio::time::timeout(READ_TIMEOUT, read_target(&mut stream)).await {
                Ok(Some(target)) => target,
                _ => {
                    tracing::warn!(%peer, "loopback listener: unreadable request ignored");
                    let _ = respond(&mut stream, 400, "Bad request").await;
                    continue;
                }
            };
            let Ok(url) = url::Url::parse(&format!("http://localhost{target}")) else {
                let _ = respond(&mut stream, 400, "Bad request").await;
                continue;
            };
            if url.path() != self.path {
                tracing::warn!(
                    path = url.path(),
                    "loopback listener: request on an unexpected path refused"
                );
                let _ = respond(&mut stream, 404, "Not found").await;
                continue;
            }
            let param = |name: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            };
            let state_matches = param("state").is_some_and(|s| {
                bool::from(
                    s.as_bytes()
                        .ct_eq(expected_state.expose_secret().as_bytes()),
                )
            });
            if !state_matches {
                tracing::warn!("loopback listener: redirect with a missing or wrong state refused");
                let _ = respond(
                    &mut stream,
                    400,
                    "This sign-in request does not belong to Presently's current sign-in.",
                )
                .await;
                continue;
            }
            if let Some(error) = param("error") {
                let entra =
                    EntraError::from_redirect(&error, param("error_description").as_deref());
                let _ = respond(
                    &mut stream,
                    200,
                    "Sign-in did not complete. You can close this tab and return to Presently.",
                )
                .await;
                return Ok(Redirect::Error(entra));
            }
            match param("code") {
                Some(code) => {
                    let _ = respond(
                        &mut stream,
                        200,
                        "Signed in — you can close this tab and return to Presently.",
                    )
                    .await;
                    return Ok(Redirect::Code(SecretString::from(code)));
                }
                None => {
                    let _ = respond(&mut stream, 400, "The sign-in answer had no code.").await;
                    return Err(AuthError::Protocol(
                        "the redirect carried neither a code nor an error".into(),
                    ));
                }
            }
        }
    }
}

/// Reads the request head and returns the request target of a GET.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = std::str::from_utf8(&buf).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, message: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Presently</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:3em\"><h1>Presently</h1><p>{message}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
