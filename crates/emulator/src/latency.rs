//! Network latency: Microsoft's endpoints as a client meets them over a WAN, not over a
//! zero-latency loopback.
//!
//! A [`Latency`] delays every request of the identity platform and of Graph on the server
//! side: the handler runs `per_request` after the request arrived (a real sleep, so
//! concurrent requests overlap as over a network: four parallel requests at 100 ms take
//! about 100 ms, not 400), and with `bytes_per_sec` the response body is then streamed at
//! that rate. The first byte of an answer thus comes `per_request` plus the server's own
//! time after the request, the last one `len / bytes_per_sec` later.
//!
//! Not delayed: the control API (`/_emulator/...`, tests need it at once) and the fakes of
//! the forwarding back ends (other services, not part of Microsoft's round trips).
//!
//! Two layers: [`delay`] sits on the identity and Graph routes (inside the Graph in-flight
//! count, so a request waiting out its latency is in flight) and marks a response to
//! throttle; [`throttle`] is the router's outermost layer and streams marked bodies at the
//! rate (outside the request log, which records a response once it is produced).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::state::AppState;

/// Latency of Microsoft's endpoints (default: none, the loopback as it is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Added before each request is answered (a network round trip: 50–200 ms over a WAN).
    pub per_request: Duration,
    /// Response bodies are sent at this many bytes per second (`None`: as fast as the
    /// loopback goes).
    pub bytes_per_sec: Option<u64>,
}

impl Latency {
    /// No latency: the emulator answers as fast as it can.
    pub const NONE: Latency = Latency {
        per_request: Duration::ZERO,
        bytes_per_sec: None,
    };

    /// `ms` milliseconds per request, bodies at full speed.
    pub fn per_request_ms(ms: u64) -> Latency {
        Latency {
            per_request: Duration::from_millis(ms),
            bytes_per_sec: None,
        }
    }

    /// This latency with bodies sent at `bytes_per_sec` (0 counts as no limit).
    pub fn with_bytes_per_sec(self, bytes_per_sec: u64) -> Latency {
        Latency {
            bytes_per_sec: (bytes_per_sec > 0).then_some(bytes_per_sec),
            ..self
        }
    }

    pub fn is_none(&self) -> bool {
        self.per_request.is_zero() && self.bytes_per_sec.is_none()
    }
}

/// Marks a response whose body [`throttle`] streams at this many bytes per second.
#[derive(Clone, Copy, Debug)]
struct ThrottleBody(u64);

/// Waits out the latency in force when the request arrived, then answers; marks the
/// response for [`throttle`] when bodies are rate-limited.
pub async fn delay(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let latency = st.latency();
    if !latency.per_request.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(latency.per_request) => {}
            // Shutting down: release the request, so the graceful shutdown can finish.
            () = st.stopped() => {}
        }
    }
    let mut resp = next.run(req).await;
    if let Some(rate) = latency.bytes_per_sec {
        resp.extensions_mut().insert(ThrottleBody(rate));
    }
    resp
}

/// Streams the body of a response [`delay`] marked at its rate, in slices of about 10 ms
/// each, on a fixed schedule from the first byte (a slow consumer does not earn a burst).
pub async fn throttle(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let Some(&ThrottleBody(rate)) = resp.extensions().get::<ThrottleBody>() else {
        return resp;
    };
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "emulator: could not buffer a response body to throttle");
            Bytes::new()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, v);
    }
    Response::from_parts(parts, throttled_body(bytes, rate, st))
}

/// `bytes` as a stream that delivers them at `rate` bytes per second: slice `n` is
/// released when the bytes up to its end would have crossed the link.
fn throttled_body(bytes: Bytes, rate: u64, st: AppState) -> Body {
    let rate = rate.max(1);
    let slice = usize::try_from(rate / 100)
        .unwrap_or(usize::MAX)
        .clamp(1, 64 * 1024);
    let start = Instant::now();
    let stream = futures::stream::unfold((bytes, 0usize), move |(bytes, sent)| {
        let st = st.clone();
        async move {
            if sent >= bytes.len() {
                return None;
            }
            let end = (sent + slice).min(bytes.len());
            let due = start + Duration::from_secs_f64(end as f64 / rate as f64);
            if !*st.stopping.borrow() {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = st.stopped() => {}
                }
            }
            let chunk = bytes.slice(sent..end);
            Some((Ok::<Bytes, Infallible>(chunk), (bytes, end)))
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_constructors() {
        assert!(Latency::default().is_none());
        assert_eq!(Latency::default(), Latency::NONE);
        let l = Latency::per_request_ms(100).with_bytes_per_sec(2_000);
        assert_eq!(l.per_request, Duration::from_millis(100));
        assert_eq!(l.bytes_per_sec, Some(2_000));
        assert!(!l.is_none());
        assert_eq!(l.with_bytes_per_sec(0).bytes_per_sec, None);
    }
}
