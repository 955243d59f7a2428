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
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
}
