//! Opening the system browser for the authorize URL.

use std::process::{Command, Stdio};

/// Opens `url` in the user's browser: `$BROWSER` when set (the freedesktop convention),
/// else `xdg-open` on Linux; the platform default on macOS and Windows.
pub fn open(url: &str) -> std::io::Result<()> {
    let mut command = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        // $BROWSER may hold a colon-separated list; the first entry is used.
        Some(browser) => {
            let first = browser.split(':').next().unwrap_or(&browser).to_owned();
            let mut c = Command::new(first);
            c.arg(url);
            c
        }
        None if cfg!(target_os = "macos") => {
            let mut c = Command::new("open");
            c.arg(url);
            c
        }
        None if cfg!(windows) => {
            let mut c = Command::new("rundll32");
            c.args(["url.dll,FileProtocolHandler", url]);
            c
        }
        None => {
            let mut c = Command::new("xdg-open");
            c.arg(url);
            c
        }
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Reap the launcher when it exits, so no zombie is left behind.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Demo mode's browser: the embedded emulator consents at once, so following its answer
/// to the loopback listener is all a person would do. Only loopback URLs are followed.
pub async fn follow_auto_consent(authorize_url: &url::Url) -> Result<(), super::AuthError> {
    use super::AuthError;
    let is_loopback = |u: &url::Url| matches!(u.host_str(), Some("127.0.0.1") | Some("localhost"));
    if !is_loopback(authorize_url) {
        return Err(AuthError::Protocol(
            "the in-process browser only signs in to the embedded emulator".into(),
        ));
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AuthError::Network(e.to_string()))?;
    // The Graph client's wording for an exchange that got no answer (host, port, why).
    let unreachable = |url: &url::Url, e: reqwest::Error| {
        let no_limit = std::time::Duration::ZERO;
        AuthError::Network(crate::graph::network_error(url, &e, no_limit, no_limit).to_string())
    };
    let answer = http
        .get(authorize_url.clone())
        .send()
        .await
        .map_err(|e| unreachable(authorize_url, e))?;
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| url::Url::parse(l).ok())
        .filter(is_loopback)
        .ok_or_else(|| {
            AuthError::Protocol(format!(
                "the emulator answered {} without a loopback redirect",
                answer.status()
            ))
        })?;
    let mut target = location;
    // The listener is bound to 127.0.0.1; "localhost" may resolve to ::1 first.
    let _ = target.set_host(Some("127.0.0.1"));
    http.get(target.clone())
        .send()
        .await
        .map_err(|e| unreachable(&target, e))?;
    Ok(())
}
