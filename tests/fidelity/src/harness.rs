//! Running the `presently` binary as a user would: its own data directory, configuration
//! and `TZ` per scenario, real processes, a scripted browser for the loopback sign-in, a
//! script standing in for the telephony system.

use crate::graph::{Graph, Mailbox};
use crate::identity::{Identity, CLIENT_ID};
use chrono::{DateTime, Utc};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// The binary under test: `PRESENTLY_BIN`, else the newest of
/// `<target>/{release,debug}/presently` (`CARGO_TARGET_DIR`, then `<workspace>/target`).
pub fn presently_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PRESENTLY_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "PRESENTLY_BIN names {}, which is not a file",
            bin.display()
        );
        return bin;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut targets = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        targets.push(PathBuf::from(dir));
    }
    targets.push(workspace.join("target"));
    let candidates: Vec<PathBuf> = targets
        .iter()
        .flat_map(|t| ["release", "debug"].map(|p| t.join(p).join("presently")))
        .collect();
    candidates
        .iter()
        .filter_map(|p| {
            let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok()?;
            Some((modified, p.clone()))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p)
        .unwrap_or_else(|| {
            panic!(
                "no presently binary: build it with `cargo build -p presently-cli` or set PRESENTLY_BIN (looked for {})",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// What a finished `presently` run printed.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit status, stdout and stderr, for failure messages.
    pub fn text(&self) -> String {
        format!(
            "[{}]\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.text()))
    }
}

/// A `presently` process still running (`presently run`, a device-code login).
pub struct Running {
    child: Option<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
}

fn collect(
    pipe: Option<impl Read + Send + 'static>,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut pipe) = pipe else { return };
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
}

impl Running {
    fn start(mut command: Command) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let started_at = Utc::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", command.get_program()));
        let (stdout, stderr) = (Arc::default(), Arc::default());
        let readers = vec![
            collect(child.stdout.take(), Arc::clone(&stdout)),
            collect(child.stderr.take(), Arc::clone(&stderr)),
        ];
        Running {
            child: Some(child),
            stdout,
            stderr,
            readers,
            started,
            started_at,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// What it printed so far.
    pub fn output_so_far(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.lock().unwrap_or_else(|p| p.into_inner()),
            self.stderr.lock().unwrap_or_else(|p| p.into_inner())
        )
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends SIGTERM (as a service manager stopping it would).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Sends SIGKILL (a crash, an OOM kill, a power cut of the process).
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
    }

    /// Waits for it to end (killing it after `timeout`) and returns what it printed.
    pub fn wait(mut self, timeout: Duration) -> Outcome {
        let mut child = self.child.take().expect("the process is still ours");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let status = child.wait().expect("wait for presently");
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                panic!(
                    "presently did not finish within {timeout:?} and was killed ({status})\n{}",
                    self.output_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let take = |s: &Arc<Mutex<String>>| {
            std::mem::take(&mut *s.lock().unwrap_or_else(|p| p.into_inner()))
        };
        Outcome {
            status,
            stdout: take(&self.stdout),
            stderr: take(&self.stderr),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed scenario must not leave a daemon behind.
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One scenario's home: data directory, configuration file, scripted browser, `TZ`.
pub struct Home {
    dir: tempfile::TempDir,
    /// `TZ` for the runs (the display zone comes from here, never from the config).
    pub tz: String,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod a script");
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("presently-fidelity-")
            .tempdir()
            .expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("data")).expect("data directory");
        // The "browser": follows the authorize redirect to the loopback listener, as a
        // person's browser would after they consent.
        write_script(
            &dir.path().join("browser.sh"),
            "#!/bin/sh\nexec curl -s -o /dev/null -L \"$1\"\n",
        );
        Home {
            dir,
            tz: "UTC".into(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).expect("write config.toml");
    }

    /// The command with a clean environment: only what a session needs, this home's
    /// paths, `TZ`, and no `RUST_LOG`, `NO_COLOR` or policy file from the machine.
    pub fn command(&self, tz: &str, args: &[&str]) -> Command {
        let mut c = Command::new(presently_bin());
        c.args(args).env_clear();
        for keep in [
            "PATH",
            "HOME",
            "USER",
            "LOGNAME",
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_RUNTIME_DIR",
            "XDG_DATA_HOME",
            "TMPDIR",
        ] {
            if let Some(v) = std::env::var_os(keep) {
                c.env(keep, v);
            }
        }
        c.env("PRESENTLY_DATA_DIR", self.data_dir())
            .env("PRESENTLY_CONFIG", self.config_path())
            .env("PRESENTLY_POLICY", self.path().join("no-policy.toml"))
            .env("BROWSER", self.path().join("browser.sh"))
            .env("TZ", tz);
        c
    }

    /// Runs `presently args` under this home's `TZ` (at most 60 s).
    pub fn run(&self, args: &[&str]) -> Outcome {
        self.run_in(&self.tz.clone(), args)
    }

    /// Runs `presently args` with `TZ=tz`.
    pub fn run_in(&self, tz: &str, args: &[&str]) -> Outcome {
        Running::start(self.command(tz, args)).wait(Duration::from_secs(60))
    }

    /// Runs a prepared command (at most 60 s).
    pub fn run_command(&self, command: Command) -> Outcome {
        Running::start(command).wait(Duration::from_secs(60))
    }

    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::start(self.command(&self.tz.clone(), args))
    }

    /// A stand-in for the telephony system: a program that appends the time and its
    /// arguments to a log, for the `command` forwarding provider.
    pub fn forwarding(&self) -> ForwardingLog {
        let program = self.path().join("forward.sh");
        let log = self.path().join("forwarding.log");
        write_script(
            &program,
            &format!(
                "#!/bin/sh\nprintf '%s %s\\n' \"$(date +%s.%N)\" \"$*\" >> '{}'\n",
                log.display()
            ),
        );
        ForwardingLog { program, log }
    }
}

/// The forwarding script and what it was called with.
pub struct ForwardingLog {
    pub program: PathBuf,
    pub log: PathBuf,
}

impl ForwardingLog {
    /// `[presence.forwarding]` for this script: `on <target>` and `off`.
    pub fn config(&self) -> String {
        format!(
            "[presence.forwarding]\nprovider = \"command\"\n\n[presence.forwarding.command]\nprogram = \"{}\"\non_args = [\"on\", \"{{target}}\"]\noff_args = [\"off\"]\nextension = \"1001\"\nvoicemail = \"voicemail\"\n",
            self.program.display()
        )
    }

    /// Each call: when, and its arguments.
    pub fn calls(&self) -> Vec<(DateTime<Utc>, String)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let (when, args) = line.split_once(' ')?;
                let secs: f64 = when.parse().ok()?;
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs);
                Some((DateTime::<Utc>::from(at), args.to_owned()))
            })
            .collect()
    }

    /// Waits (up to `timeout`) for a call whose arguments satisfy `matches`, made at or
    /// after `after`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        after: DateTime<Utc>,
        matches: impl Fn(&str) -> bool,
    ) -> Option<DateTime<Utc>> {
        wait_until(timeout, || {
            self.calls()
                .into_iter()
                .find(|(at, args)| *at >= after && matches(args))
                .map(|(at, _)| at)
        })
    }
}

/// Polls `found` (every 25 ms) until it gives something or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(t) = found() {
            return Some(t);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Sleeps until `t` (wall clock); returns at once if it has passed.
pub fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        std::thread::sleep(d);
    }
}

/// The configuration every keyring scenario starts from: the fakes' endpoints, the
/// application the fake identity platform knows, presence and automatic replies on (so
/// every scenario asks for the same permissions and one sign-in serves them all), and
/// no `agenda.timezone` (the zone comes from `TZ`). `extra` is appended as is.
pub fn config_toml(authority: &str, graph: &str, extra: &str) -> String {
    format!(
        "[microsoft]\nclient_id = \"{CLIENT_ID}\"\ntenant = \"organizations\"\nauthority_host = \"{authority}\"\ngraph_endpoint = \"{graph}\"\n\n[features]\npresence = true\nautomatic_replies = true\n\n{extra}"
    )
}

/// The identity platform all scenarios of a test binary share, and one sign-in to it.
///
/// Presently keeps one sign-in per machine in the OS keyring, so the scenarios of a test
/// binary (which run in parallel) share one: every refresh token the fake issued stays
/// valid, as the identity platform documents, so processes refreshing side by side do not
/// log each other out. Test binaries run one after another; a lock file serialises them
/// should a runner start them in parallel.
pub struct Session {
    pub identity: Identity,
    /// Serves `/me` for the sign-in.
    _graph: Graph,
    _home: Home,
}

fn keyring_lock() {
    static LOCK: OnceLock<std::fs::File> = OnceLock::new();
    LOCK.get_or_init(|| {
        let path = std::env::temp_dir().join("presently-fidelity-keyring.lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        file.lock()
            .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
        file
    });
}

/// Signs in once (browser flow) and returns the shared identity platform.
pub fn session() -> &'static Session {
    static SESSION: OnceLock<Session> = OnceLock::new();
    SESSION.get_or_init(|| {
        keyring_lock();
        let identity = Identity::start();
        let graph = Graph::start(&identity, Mailbox::with_primary_marked());
        let home = Home::new();
        home.write_config(&config_toml(&identity.url(), &graph.url(), ""));
        let out = home.run(&["login", "--timeout", "30"]);
        assert!(
            out.success(),
            "signing in to the fake identity platform failed (every keyring scenario needs it):\n{}\nidentity platform saw:\n{}",
            out.text(),
            identity.journal().dump()
        );
        Session {
            identity,
            _graph: graph,
            _home: home,
        }
    })
}

/// A scenario against its own Graph fake (sharing the signed-in identity platform): a
/// home whose configuration points there, with `extra` appended.
pub struct Scenario {
    pub graph: Graph,
    pub home: Home,
    extra: String,
}

impl Scenario {
    pub fn new(mailbox: Mailbox, extra: &str) -> Scenario {
        let session = session();
        let graph = Graph::start(&session.identity, mailbox);
        let home = Home::new();
        let s = Scenario {
            graph,
            home,
            extra: extra.to_owned(),
        };
        s.write_config();
        s
    }

    /// Writes the configuration again (after the Graph fake moved, say).
    pub fn write_config(&self) {
        self.home.write_config(&config_toml(
            &session().identity.url(),
            &self.graph.url(),
            &self.extra,
        ));
    }

    /// `presently sync`, which must succeed.
    pub fn sync(&self) -> Outcome {
        let out = self.home.run(&["sync"]);
        assert!(
            out.success(),
            "presently sync failed:\n{}\nGraph saw:\n{}",
            out.text(),
            self.graph.journal().dump()
        );
        out
    }

    /// `presently agenda --json --from <from> --days <days>` under `TZ=tz`.
    pub fn agenda_json(
        &self,
        tz: &str,
        from: chrono::NaiveDate,
        days: u32,
    ) -> Vec<serde_json::Value> {
        let out = self.home.run_in(
            tz,
            &[
                "agenda",
                "--json",
                "--from",
                &from.to_string(),
                "--days",
                &days.to_string(),
            ],
        );
        assert!(
            out.success(),
            "presently agenda --json failed:\n{}",
            out.text()
        );
        out.json()
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("agenda --json is not an array:\n{}", out.text()))
    }
}

/// A scenario for [`run_trials`].
pub struct Trial {
    pub name: &'static str,
    pub run: fn(),
}

/// A test binary's `main` for scenarios that mostly wait on the clock (`presently run`
/// blocks of a few seconds): all of them run at once, whatever `--test-threads` says,
/// so the binary takes as long as its longest scenario. It speaks enough of libtest's
/// command line for `cargo test`: scenarios count as ignored (`ignored_because`) unless
/// `--ignored` or `--include-ignored` is given; name filters, `--exact` and `--list`
/// work; other flags are accepted and ignored. Each failure is reported with its panic
/// message, and the exit code is non-zero if any failed.
pub fn run_trials(ignored_because: &str, trials: &[Trial]) -> std::process::ExitCode {
    use std::collections::BTreeMap;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let mut filters = Vec::new();
    let mut skip_next = false;
    for a in &args {
        if skip_next {
            skip_next = false;
        } else if ["--test-threads", "--color", "--format", "-Z", "--skip"].contains(&a.as_str()) {
            skip_next = true;
        } else if !a.starts_with('-') {
            filters.push(a.clone());
        }
    }
    let exact = flag("--exact");
    let selected: Vec<&Trial> = trials
        .iter()
        .filter(|t| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        t.name == f
                    } else {
                        t.name.contains(f.as_str())
                    }
                })
        })
        .collect();
    let filtered_out = trials.len() - selected.len();
    if flag("--list") {
        for t in &selected {
            println!("{}: test", t.name);
        }
        return std::process::ExitCode::SUCCESS;
    }
    let run = flag("--ignored") || flag("--include-ignored");
    println!("\nrunning {} tests", selected.len());
    if !run {
        for t in &selected {
            println!("test {} ... ignored, {ignored_because}", t.name);
        }
        println!(
            "\ntest result: ok. 0 passed; 0 failed; {} ignored; 0 measured; {filtered_out} filtered out; finished in 0.00s\n",
            selected.len()
        );
        return std::process::ExitCode::SUCCESS;
    }
    // Panic messages, by the name of the thread that panicked.
    static PANICS: OnceLock<Mutex<BTreeMap<String, String>>> = OnceLock::new();
    let panics = PANICS.get_or_init(Mutex::default);
    std::panic::set_hook(Box::new(|info| {
        let name = std::thread::current().name().unwrap_or("main").to_owned();
        let text = format!("{info}");
        PANICS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name)
            .or_insert(text);
    }));
    let started = Instant::now();
    let handles: Vec<(&str, std::thread::JoinHandle<()>)> = selected
        .iter()
        .map(|t| {
            let run = t.run;
            let handle = std::thread::Builder::new()
                .name(t.name.to_owned())
                .spawn(run)
                .expect("start a scenario thread");
            (t.name, handle)
        })
        .collect();
    let mut failed = Vec::new();
    for (name, handle) in handles {
        let ok = handle.join().is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        println!("\nfailures:\n");
        let messages = panics.lock().unwrap_or_else(|p| p.into_inner());
        for name in &failed {
            println!(
                "---- {name} ----\n{}\n",
                messages
                    .get(*name)
                    .map(String::as_str)
                    .unwrap_or("(no panic message)")
            );
        }
        println!("failures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
