//! What the end-to-end tests (`tests/window.rs`) and the footprint bench
//! (`benches/footprint.rs`) share: finding the app and tauri-driver, running tauri-driver in
//! a process group of its own, opening a WebDriver session on the app, and the "browser"
//! script that completes a sign-in against the emulator.

// Real processes on the real clock: the rule that time enters through a `Clock`
// (clippy.toml) binds Presently's code, not this suite.
#![allow(clippy::disallowed_methods)]

use fantoccini::{Client, ClientBuilder};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (tests/e2e sits two levels below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `tauri-driver` from `TAURI_DRIVER`, the PATH or `~/.cargo/bin`.
pub fn find_tauri_driver() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tauri-driver"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(cargo_home.join("bin/tauri-driver")).filter(|p| p.is_file())
    })
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// What is missing to drive the app's window (a display, tauri-driver, WebKitWebDriver,
/// the app binary), each with how to get it; `tauri-driver`'s path when present.
pub fn missing_for_window(app: &Path, build_hint: &str) -> (Vec<String>, Option<PathBuf>) {
    let mut missing = Vec::new();
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        missing.push("no DISPLAY: run under Xvfb (xvfb-run -a ...)".to_owned());
    }
    let driver = find_tauri_driver();
    if driver.is_none() {
        missing.push("tauri-driver not found: cargo install tauri-driver --locked".to_owned());
    }
    if !on_path("WebKitWebDriver") {
        missing.push("WebKitWebDriver not on PATH: apt-get install webkit2gtk-driver".to_owned());
    }
    if !app.is_file() {
        missing.push(format!(
            "{} does not exist: {build_hint} (or set PRESENTLY_APP_BIN)",
            app.display()
        ));
    }
    (missing, driver)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// The application's name in the test policy.
pub const POLICY_APP_NAME: &str = "Presently for Contoso";

/// An organization policy whose default group syncs through the emulator at `base` with
/// the application `client_id`, named [`POLICY_APP_NAME`].
pub fn policy_toml(base: &str, client_id: &str) -> String {
    format!(
        "[[applications]]\nkey = \"contoso\"\ndisplay_name = \"{POLICY_APP_NAME}\"\nclient_id = \"{}\"\ntenant = \"organizations\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n[[groups]]\nname = \"Everyone\"\ndefault = true\nsync = \"microsoft365\"\napplication = \"contoso\"\n",
        client_id
    )
}

/// The browser the app opens for sign-in: fetches the authorize URL and follows the
/// emulator's redirect to the app's loopback listener, as a person's browser would after
/// they consented. Logs to `browser.log` beside it.
pub fn write_browser_script(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("browser.sh");
    let log = dir.join("browser.log");
    let text = format!(
        "#!/bin/sh\ncurl -s -o /dev/null -L \"$1\"\necho \"curl exited $?\" >> '{}'\n",
        log.display()
    );
    std::fs::write(&script, text)
        .and_then(|()| std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
    script
}

/// tauri-driver in a process group of its own; dropping this ends the group (the driver,
/// WebKitWebDriver and the app), also when a test panics.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    /// Starts tauri-driver with its output in `log`; `configure` sets the environment that
    /// reaches the app through WebKitWebDriver, which passes its own on.
    pub fn spawn(binary: &Path, log: &Path, configure: impl FnOnce(&mut Command)) -> Self {
        let port = free_port();
        let native_port = free_port();
        let log_file = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err_file = log_file
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share {}: {e}", log.display()));
        let mut command = Command::new(binary);
        command.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ]);
        configure(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Driver { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until tauri-driver accepts connections.
    pub async fn wait_until_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tauri-driver exited early with {status}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on port {} within {timeout:?}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A WebDriver session on `app` started with `args`.
    pub async fn connect(&self, app: &Path, args: &[&str]) -> Client {
        connect_to(&self.url(), app, args).await
    }
}

/// How long a new WebDriver session may take (the app starting, under load).
const SESSION_TIMEOUT: Duration = Duration::from_secs(90);

/// A WebDriver session on `app` started with `args`, through the tauri-driver at `url`.
pub async fn connect_to(url: &str, app: &Path, args: &[&str]) -> Client {
    let caps = serde_json::json!({
        "tauri:options": { "application": app, "args": args }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("a JSON object")
    };
    // WebKitWebDriver waits for the app's automation connection without a limit of its own.
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(caps);
    tokio::time::timeout(SESSION_TIMEOUT, builder.connect(url))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no WebDriver session for {} within {SESSION_TIMEOUT:?}",
                app.display()
            )
        })
        .unwrap_or_else(|e| {
            panic!(
                "cannot create a WebDriver session for {}: {e}",
                app.display()
            )
        })
}

impl Drop for Driver {
    fn drop(&mut self) {
        end_group(&mut self.child);
    }
}

/// Ends the process group led by `child`: TERM, up to 5 s, then KILL.
pub fn end_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-TERM", "--", &group])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// The processes started with `PRESENTLY_DATA_DIR` set to `data_dir` (the app, the tray
/// host, WebKit's processes), as (pid, program name).
pub fn processes_using(data_dir: &Path) -> Vec<(u32, String)> {
    let wanted = format!("PRESENTLY_DATA_DIR={}", data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let uses = environ
                .split(|&b| b == 0)
                .any(|var| var == wanted.as_bytes());
            if !uses {
                return None;
            }
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            Some((pid, comm.trim().to_owned()))
        })
        .collect()
}

/// Ends what [`processes_using`] finds: TERM, up to 5 s, then KILL. A tray host outlives
/// the window app by design, so a test that closed the window ends it this way.
pub fn end_processes_using(data_dir: &Path) {
    let signal = |name: &str, pids: &[(u32, String)]| {
        for (pid, _) in pids {
            let _ = Command::new("kill")
                .args([name, &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    };
    signal("-TERM", &processes_using(data_dir));
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !processes_using(data_dir).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal("-KILL", &processes_using(data_dir));
}

/// Sends `WM_DELETE_WINDOW` to every viewable top-level window of `pid`; returns their titles.
pub fn close_windows_of(pid: u32) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask};
    let (conn, root) = display()?;
    let wm_protocols = conn.intern_atom(false, b"WM_PROTOCOLS")?.reply()?.atom;
    let wm_delete = conn.intern_atom(false, b"WM_DELETE_WINDOW")?.reply()?.atom;
    let mut closed = Vec::new();
    for window in viewable_windows(&conn, root, pid)? {
        let protocols = conn
            .get_property(false, window, wm_protocols, AtomEnum::ATOM, 0, 64)?
            .reply()?;
        if !protocols
            .value32()
            .is_some_and(|mut v| v.any(|a| a == wm_delete))
        {
            continue;
        }
        let title = conn
            .get_property(false, window, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 256)?
            .reply()?;
        let event = ClientMessageEvent::new(
            32,
            window,
            wm_protocols,
            [wm_delete, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        conn.send_event(false, window, EventMask::NO_EVENT, event)?;
        closed.push(String::from_utf8_lossy(&title.value).into_owned());
    }
    conn.flush()?;
    Ok(closed)
}

/// Presses the keys of `keysyms` together and lets them go, as a user would (through
/// XTEST): e.g. `[XK_CONTROL_L, XK_ALT_L, 0x6a]` is Ctrl+Alt+J.
pub fn press_keys(keysyms: &[u32]) -> Result<(), Box<dyn std::error::Error>> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt as _, KEY_PRESS_EVENT, KEY_RELEASE_EVENT};
    use x11rb::protocol::xtest::ConnectionExt as _;
    let (conn, root) = display()?;
    let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
    let mapping = conn.get_keyboard_mapping(min, max - min + 1)?.reply()?;
    let per = usize::from(mapping.keysyms_per_keycode.max(1));
    let keycode = |keysym: u32| -> Result<u8, Box<dyn std::error::Error>> {
        let index = mapping
            .keysyms
            .chunks(per)
            .position(|syms| syms.contains(&keysym))
            .ok_or_else(|| format!("no key gives keysym {keysym:#x}"))?;
        Ok(min + u8::try_from(index)?)
    };
    let codes = keysyms
        .iter()
        .map(|k| keycode(*k))
        .collect::<Result<Vec<_>, _>>()?;
    for code in &codes {
        conn.xtest_fake_input(KEY_PRESS_EVENT, *code, x11rb::CURRENT_TIME, root, 0, 0, 0)?;
    }
    for code in codes.iter().rev() {
        conn.xtest_fake_input(KEY_RELEASE_EVENT, *code, x11rb::CURRENT_TIME, root, 0, 0, 0)?;
    }
    // A round trip: the server has handled the fake input when it answers.
    conn.get_input_focus()?.reply()?;
    Ok(())
}

/// Keysyms [`press_keys`] takes.
pub const XK_CONTROL_L: u32 = 0xffe3;
pub const XK_ALT_L: u32 = 0xffe9;
pub const XK_J: u32 = 0x006a;

/// Viewable top-level windows of `pid`.
pub fn viewable_windows_of(pid: u32) -> Result<usize, Box<dyn std::error::Error>> {
    let (conn, root) = display()?;
    Ok(viewable_windows(&conn, root, pid)?.len())
}

/// The X display of `DISPLAY` and its first screen's root window.
fn display() -> Result<(x11rb::rust_connection::RustConnection, u32), Box<dyn std::error::Error>> {
    use x11rb::connection::Connection;
    let (conn, screen) = x11rb::connect(None)?;
    let root = conn.setup().roots[screen].root;
    Ok((conn, root))
}

/// The mapped top-level windows whose `_NET_WM_PID` is `pid`.
fn viewable_windows(
    conn: &impl x11rb::connection::Connection,
    root: u32,
    pid: u32,
) -> Result<Vec<u32>, Box<dyn std::error::Error>> {
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, MapState};
    let net_wm_pid = conn.intern_atom(false, b"_NET_WM_PID")?.reply()?.atom;
    let mut found = Vec::new();
    for window in conn.query_tree(root)?.reply()?.children {
        if conn.get_window_attributes(window)?.reply()?.map_state != MapState::VIEWABLE {
            continue;
        }
        let owner = conn
            .get_property(false, window, net_wm_pid, AtomEnum::CARDINAL, 0, 1)?
            .reply()?;
        if owner.value32().and_then(|mut v| v.next()) == Some(pid) {
            found.push(window);
        }
    }
    Ok(found)
}
