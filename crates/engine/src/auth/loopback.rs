//! The loopback redirect listener (RFC 8252 §7.3), for one sign-in only. The redirect URI
//! says `http://localhost:PORT/` (what the app registration holds), and a browser may
//! resolve `localhost` to `127.0.0.1` or to `::1`: the listener binds the same port on both
//! (where IPv6 exists), so that no other local user can take the one Presently left free
//! and show their own page in the tab. When either address cannot be had on a port, it
//! tries another one.
//!
//! Connections are served concurrently (at most [`MAX_CONNECTIONS`] at once), each with its
//! own deadline ([`READ_TIMEOUT`]): a few idle connections cannot hold up the browser's. It
//! accepts exactly one request on the redirect path whose `state` matches (compared in
//! constant time); anything else gets 404/400 and is logged. Dropping the listener closes
//! the ports.

use super::entra::{AuthError, EntraError};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Longest request head read from the browser.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// How long one connection may take to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How many connections are served at once; more wait in the OS's backlog until one ends.
pub const MAX_CONNECTIONS: usize = 16;
/// How many ports are tried for one free on both loopback addresses.
const BIND_ATTEMPTS: usize = 32;

pub struct LoopbackListener {
    /// `127.0.0.1:port`, and `[::1]:port` where IPv6 exists.
    listeners: Vec<TcpListener>,
    port: u16,
    path: String,
    /// [`READ_TIMEOUT`], shorter in tests.
    read_timeout: Duration,
}

/// What the browser brought back.
pub enum Redirect {
    Code(SecretString),
    Error(EntraError),
}

/// What one request is, judged on its own (see [`judge`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Not a request target Presently can read.
    BadRequest,
    /// Another path than the redirect's.
    WrongPath,
    /// The redirect path with a missing or wrong `state`.
    WrongState,
    /// The identity platform's error (`error`, `error_description`).
    Error {
        error: String,
        description: Option<String>,
    },
    /// The authorization code.
    Code(String),
    /// The right state but neither a code nor an error.
    Empty,
}

/// Reads a request head (up to the blank line) and returns the target of a `GET` that
/// starts with `/`; `None` for anything else.
pub fn request_target(head: &[u8]) -> Option<String> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

/// Judges a request target against the redirect `path` and the sign-in's `state` (in
/// constant time).
pub fn judge(target: &str, path: &str, expected_state: &str) -> Judgement {
    let Ok(url) = url::Url::parse(&format!("http://localhost{target}")) else {
        return Judgement::BadRequest;
    };
    if url.path() != path {
        return Judgement::WrongPath;
    }
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let state_matches =
        param("state").is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_matches {
        return Judgement::WrongState;
    }
    if let Some(error) = param("error") {
        return Judgement::Error {
            error,
            description: param("error_description"),
        };
    }
    match param("code") {
        Some(code) => Judgement::Code(code),
        None => Judgement::Empty,
    }
}

/// Whether an error binding `::1` means this machine has no IPv6 loopback (rather than
/// the port being taken).
fn no_ipv6(e: &std::io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    matches!(
        e.kind(),
        std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::Unsupported
    ) || e.raw_os_error() == Some(EAFNOSUPPORT)
}

/// Binds `127.0.0.1:port` (0: the OS picks) and the same port on `::1`. `Ok(None)` when
/// `::1` has that port taken (or `127.0.0.1` had it): try another.
async fn bind_pair(port: u16) -> Result<Option<(u16, Vec<TcpListener>)>, AuthError> {
    let v4 = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) if port != 0 && e.kind() == std::io::ErrorKind::AddrInUse => return Ok(None),
        Err(e) => return Err(AuthError::Listener(e.to_string())),
    };
    let port = v4
        .local_addr()
        .map_err(|e| AuthError::Listener(e.to_string()))?
        .port();
    match TcpListener::bind(("::1", port)).await {
        Ok(v6) => Ok(Some((port, vec![v4, v6]))),
        Err(e) if no_ipv6(&e) => {
            tracing::debug!(error = %e, "no IPv6 loopback; listening on 127.0.0.1 only");
            Ok(Some((port, vec![v4])))
        }
        Err(e) => {
            tracing::info!(port, error = %e, "loopback port taken on ::1; trying another");
            Ok(None)
        }
    }
}

impl LoopbackListener {
    /// Binds a free port on 127.0.0.1 and on ::1. `path` is the registered redirect path
    /// (`/` by default).
    pub async fn bind(path: &str) -> Result<Self, AuthError> {
        for _ in 0..BIND_ATTEMPTS {
            if let Some((port, listeners)) = bind_pair(0).await? {
                return Ok(Self::new(listeners, port, path));
            }
        }
        Err(AuthError::Listener(format!(
            "no port was free on both 127.0.0.1 and ::1 after {BIND_ATTEMPTS} tries"
        )))
    }

    fn new(listeners: Vec<TcpListener>, port: u16, path: &str) -> Self {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Self {
            listeners,
            port,
            path,
            read_timeout: READ_TIMEOUT,
        }
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
    /// answers it and closes the ports. Gives up after `timeout` or when `cancel` completes.
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
        let (done, mut results) = mpsc::channel::<Result<Redirect, AuthError>>(1);
        // Dropped with `serve`: every connection still open is closed.
        let mut connections = JoinSet::new();
        let state = SecretString::from(expected_state.expose_secret().to_owned());
        loop {
            // At the cap, nothing more is accepted until a connection ends (at the latest at
            // its deadline): the browser's waits in the backlog rather than being dropped.
            let accepted = tokio::select! {
                Some(result) = results.recv() => return result,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = accept_any(&self.listeners), if connections.len() < MAX_CONNECTIONS => accepted,
            };
            let (stream, peer) = accepted.map_err(|e| AuthError::Listener(e.to_string()))?;
            let (done, path, state) = (done.clone(), self.path.clone(), state.clone());
            let deadline = self.read_timeout;
            connections.spawn(async move {
                if let Some(result) = handle(stream, peer, &path, &state, deadline).await {
                    let _ = done.send(result).await;
                }
            });
        }
    }
}

/// The next connection on any of `listeners`.
async fn accept_any(
    listeners: &[TcpListener],
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
    futures::future::select_all(accepts).await.0
}

/// Serves one connection within `deadline`; `Some` when it brought the sign-in's answer.
async fn handle(
    mut stream: TcpStream,
    peer: std::net::SocketAddr,
    path: &str,
    expected_state: &SecretString,
    deadline: Duration,
) -> Option<Result<Redirect, AuthError>> {
    let target = match tokio::time::timeout(deadline, read_head(&mut stream)).await {
        Ok(Some(head)) => request_target(&head),
        _ => None,
    };
    let Some(target) = target else {
        tracing::warn!(%peer, "loopback listener: unreadable request ignored");
        let _ = respond(&mut stream, 400, "Bad request").await;
        return None;
    };
    match judge(&target, path, expected_state.expose_secret()) {
        Judgement::BadRequest => {
            let _ = respond(&mut stream, 400, "Bad request").await;
            None
        }
        Judgement::WrongPath => {
            tracing::warn!("loopback listener: request on an unexpected path refused");
            let _ = respond(&mut stream, 404, "Not found").await;
            None
        }
        Judgement::WrongState => {
            tracing::warn!("loopback listener: redirect with a missing or wrong state refused");
            let _ = respond(
                &mut stream,
                400,
                "This sign-in request does not belong to Presently's current sign-in.",
            )
            .await;
            None
        }
        Judgement::Error { error, description } => {
            let entra = EntraError::from_redirect(&error, description.as_deref());
            let _ = respond(
                &mut stream,
                200,
                "Sign-in did not complete. You can close this tab and return to Presently.",
            )
            .await;
            Some(Ok(Redirect::Error(entra)))
        }
        Judgement::Code(code) => {
            let _ = respond(
                &mut stream,
                200,
                "Signed in — you can close this tab and return to Presently.",
            )
            .await;
            Some(Ok(Redirect::Code(SecretString::from(code))))
        }
        Judgement::Empty => {
            let _ = respond(&mut stream, 400, "The sign-in answer had no code.").await;
            Some(Err(AuthError::Protocol(
                "the redirect carried neither a code nor an error".into(),
            )))
        }
    }
}

/// Reads the request head, up to the blank line and at most [`MAX_REQUEST_BYTES`].
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST_BYTES {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const STATE: &str = "s7a7e";

    fn state() -> SecretString {
        SecretString::from(STATE.to_owned())
    }

    async fn get(addr: (&str, u16), target: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// Whether this machine has an IPv6 loopback (a container may not); the IPv6 tests
    /// say so and pass without it, since there is then no `::1` for anyone to take.
    fn ipv6_loopback() -> bool {
        let present = std::net::TcpListener::bind(("::1", 0)).is_ok();
        if !present {
            eprintln!("no IPv6 loopback on this machine: the ::1 checks are skipped");
        }
        present
    }

    fn code(result: Result<Redirect, AuthError>) -> String {
        match result {
            Ok(Redirect::Code(c)) => c.expose_secret().to_owned(),
            Ok(Redirect::Error(e)) => panic!("error redirect: {e:?}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// Nobody else can take the redirect port on `::1`: it is Presently's on both loopback
    /// addresses, and a browser resolving `localhost` to `::1` reaches Presently.
    #[tokio::test]
    async fn the_port_is_bound_on_ipv4_and_ipv6() {
        if !ipv6_loopback() {
            return;
        }
        let listener = LoopbackListener::bind("/").await.unwrap();
        let port = listener.port();
        assert_eq!(listener.listeners.len(), 2, "::1 exists on this machine");
        let taken = std::net::TcpListener::bind(("::1", port)).unwrap_err();
        assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
        let waiting = tokio::spawn(async move {
            let s = state();
            listener
                .wait(&s, Duration::from_secs(10), std::future::pending())
                .await
        });
        let page = get(("::1", port), &format!("/?code=c0de&state={STATE}")).await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert_eq!(code(waiting.await.unwrap()), "c0de");
    }

    /// A port another user holds on `::1` is not used: the listener takes one free on both.
    #[tokio::test]
    async fn a_port_taken_on_ipv6_is_passed_over() {
        if !ipv6_loopback() {
            return;
        }
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let _squatter = std::net::TcpListener::bind(("::1", port)).unwrap();
        assert!(bind_pair(port).await.unwrap().is_none());
        for _ in 0..20 {
            let listener = LoopbackListener::bind("/").await.unwrap();
            assert_ne!(listener.port(), port);
        }
    }

    /// Idle connections (another process, a browser's pre-connect) are served side by side
    /// with the browser's redirect, which is answered at once.
    #[tokio::test]
    async fn idle_connections_do_not_hold_up_the_redirect() {
        let listener = LoopbackListener::bind("/").await.unwrap();
        let port = listener.port();
        let waiting = tokio::spawn(async move {
            let s = state();
            listener
                .wait(&s, Duration::from_secs(60), std::future::pending())
                .await
        });
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS - 1 {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(b"GET / HTT").await.unwrap();
            idle.push(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let page = get(("127.0.0.1", port), &format!("/?code=c0de&state={STATE}")).await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert_eq!(code(waiting.await.unwrap()), "c0de");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    /// With every slot held by a silent connection, the browser's redirect waits for the
    /// first deadline and is then answered, not dropped.
    #[tokio::test]
    async fn at_the_cap_the_redirect_waits_for_a_slot() {
        let mut listener = LoopbackListener::bind("/").await.unwrap();
        listener.read_timeout = Duration::from_millis(300);
        let port = listener.port();
        let waiting = tokio::spawn(async move {
            let s = state();
            listener
                .wait(&s, Duration::from_secs(60), std::future::pending())
                .await
        });
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let page = get(("127.0.0.1", port), &format!("/?code=c0de&state={STATE}")).await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert_eq!(code(waiting.await.unwrap()), "c0de");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    /// A connection that never finishes its request is closed at its deadline.
    #[tokio::test]
    async fn a_silent_connection_is_closed_at_its_deadline() {
        let mut listener = LoopbackListener::bind("/").await.unwrap();
        listener.read_timeout = Duration::from_millis(200);
        let port = listener.port();
        let _serving = tokio::spawn(async move {
            let s = state();
            listener
                .wait(&s, Duration::from_secs(600), std::future::pending())
                .await
        });
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut out = String::new();
        let read = tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut out)).await;
        assert!(read.is_ok(), "closed within its deadline");
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    }

    #[tokio::test]
    async fn wrong_paths_and_states_are_refused_and_the_right_one_is_taken() {
        let listener = LoopbackListener::bind("/cb").await.unwrap();
        let port = listener.port();
        assert_eq!(
            listener.redirect_uri(),
            format!("http://localhost:{port}/cb")
        );
        let waiting = tokio::spawn(async move {
            let s = state();
            listener
                .wait(&s, Duration::from_secs(10), std::future::pending())
                .await
        });
        let addr = ("127.0.0.1", port);
        assert!(get(addr, "/other?code=x&state=s7a7e")
            .await
            .starts_with("HTTP/1.1 404"));
        assert!(get(addr, "/cb?code=x&state=wrong")
            .await
            .starts_with("HTTP/1.1 400"));
        assert!(get(addr, "/cb?code=x").await.starts_with("HTTP/1.1 400"));
        assert!(get(addr, &format!("/cb?code=good&state={STATE}"))
            .await
            .starts_with("HTTP/1.1 200"));
        assert_eq!(code(waiting.await.unwrap()), "good");
    }

    #[test]
    fn request_heads_and_targets_are_judged_on_their_own() {
        assert_eq!(
            request_target(b"GET /?a=1 HTTP/1.1\r\nHost: x\r\n\r\n").as_deref(),
            Some("/?a=1")
        );
        for bad in [
            &b"POST / HTTP/1.1\r\n\r\n"[..],
            b"GET http://evil/ HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\n",
            b"\xff\xfe\r\n\r\n",
            b"",
        ] {
            assert_eq!(request_target(bad), None, "{bad:?}");
        }
        assert_eq!(judge("/x", "/", STATE), Judgement::WrongPath);
        assert_eq!(judge("/?code=1", "/", STATE), Judgement::WrongState);
        assert_eq!(judge("/?state=s7a7e", "/", STATE), Judgement::Empty);
        assert_eq!(
            judge("/?state=s7a7e&code=a%20b", "/", STATE),
            Judgement::Code("a b".into())
        );
        assert_eq!(
            judge("/?state=s7a7e&error=access_denied", "/", STATE),
            Judgement::Error {
                error: "access_denied".into(),
                description: None
            }
        );
    }
}
