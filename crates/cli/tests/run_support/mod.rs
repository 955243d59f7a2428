//! What the `presently run` end-to-end tests share: the emulator with a forwarding
//! provider configured and signed in (its secret in the real Secret Service), `presently
//! run` as a child process, and waits on conditions with deadlines.
#![allow(dead_code)] // each test file uses its part
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, Utc};
use presently_emulator::{Emulator, EmulatorConfig, Seed, DEFAULT_AMI_SECRET, DEMO_CLIENT_ID};
use presently_engine::presence::forwarding::{
    KeyringSecrets, SecretStore, AMI_SECRET, HTTP_SECRET, WEBEX_SECRET,
};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

/// The tests share the keyring's one sign-in entry: one at a time.
pub static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub const PERSON: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9tZWdhbg";
pub const EXTENSION: &str = "1001";

/// Seconds from the start of `presently run` to block A: its first sync fits in it.
pub const LEAD: i64 = 3;
/// Length of a block, and the gap between A and B (they must not touch: touching
/// appointments are one block).
pub const LENGTH: i64 = 3;
pub const GAP: i64 = 2;
/// How long after a block's end (or after a start) a restore may take.
pub const PROMPTLY: i64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Webex,
    Ami,
    Http,
    Command,
}

#[derive(Debug, Clone, Copy)]
pub enum Stop {
    Term,
    Kill,
}

#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One switch of forwarding as the provider's far end saw it: when, and on or off.
pub type Switch = (DateTime<Utc>, bool);

pub struct Home {
    pub dir: tempfile::TempDir,
    pub emu: Emulator,
    pub provider: Provider,
}

pub fn text_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Home {
    /// The emulator, a configuration with `provider`, its secret in the keyring, signed in.
    pub async fn new(provider: Provider) -> Self {
        let emu = Emulator::start(EmulatorConfig {
            today: Utc::now().date_naive(),
            seed: Seed::Empty,
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let home = Self {
            dir: tempfile::tempdir().unwrap(),
            emu,
            provider,
        };
        let base = home.emu.base_url();
        let config = format!(
            "[microsoft]\nclient_id = \"{DEMO_CLIENT_ID}\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n\
             [features]\npresence = true\nautomatic_replies = true\n\n{}",
            home.forwarding_config()
        );
        std::fs::write(home.path().join("config.toml"), config).unwrap();
        let browser = home.path().join("browser.sh");
        std::fs::write(&browser, "#!/bin/sh\nexec curl -s -o /dev/null -L \"$1\"\n").unwrap();
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret = match provider {
            Provider::Webex => Some((WEBEX_SECRET, home.emu.control().webex_token())),
            Provider::Ami => Some((AMI_SECRET, DEFAULT_AMI_SECRET.to_owned())),
            Provider::Http => Some((HTTP_SECRET, "s3cret".to_owned())),
            Provider::Command => None,
        };
        // The keyring is reached over D-Bus with blocking calls: off the async threads.
        let mut login = home.presently();
        login.arg("login");
        let out = tokio::task::spawn_blocking(move || {
            if let Some((user, secret)) = secret {
                KeyringSecrets
                    .set(user, &secrecy::SecretString::from(secret))
                    .unwrap();
            }
            login.output().unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn presently(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_presently"));
        cmd.env("PRESENTLY_DATA_DIR", self.path())
            .env("PRESENTLY_CONFIG", self.path().join("config.toml"))
            .env("BROWSER", self.path().join("browser.sh"))
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info");
        cmd
    }

    pub fn command_log(&self) -> PathBuf {
        self.path().join("forwarding.log")
    }

    pub fn forwarding_config(&self) -> String {
        match self.provider {
            Provider::Webex => format!(
                "[presence.forwarding]\nprovider = \"webex\"\ntimeout_secs = 5\n\n\
                 [presence.forwarding.webex]\nbase_url = \"{}\"\nperson_id = \"{PERSON}\"\nvoicemail = \"+4930555000\"\n",
                self.emu.webex_base_url()
            ),
            Provider::Ami => {
                let addr = self.emu.ami_addr();
                format!(
                    "[presence.forwarding]\nprovider = \"ami\"\ntimeout_secs = 5\n\n\
                     [presence.forwarding.ami]\nhost = \"{}\"\nport = {}\nusername = \"{}\"\nextension = \"{EXTENSION}\"\n",
                    addr.ip(),
                    addr.port(),
                    presently_emulator::DEFAULT_AMI_USERNAME
                )
            }
            Provider::Http => {
                let sink = self.emu.sink_url();
                format!(
                    "[presence.forwarding]\nprovider = \"http\"\ntimeout_secs = 5\n\n\
                     [presence.forwarding.http]\nextension = \"{EXTENSION}\"\n\n\
                     [presence.forwarding.http.on]\nmethod = \"PUT\"\nurl = \"{sink}/forward/{{extension}}?to={{target}}\"\nheaders = {{ Authorization = \"Bearer {{secret}}\" }}\n\n\
                     [presence.forwarding.http.off]\nmethod = \"DELETE\"\nurl = \"{sink}/forward/{{extension}}\"\n"
                )
            }
            Provider::Command => {
                // The telephony system: a script noting when it was asked what.
                let script = self.path().join("forward.sh");
                std::fs::write(
                    &script,
                    format!(
                        "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> '{}'\n",
                        self.command_log().display()
                    ),
                )
                .unwrap();
                std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                    .unwrap();
                format!(
                    "[presence.forwarding]\nprovider = \"command\"\ntimeout_secs = 5\n\n\
                     [presence.forwarding.command]\nprogram = \"{}\"\non_args = [\"on\", \"{{target}}\"]\noff_args = [\"off\"]\nextension = \"{EXTENSION}\"\n",
                    script.display()
                )
            }
        }
    }

    /// Every switch of forwarding that landed, in order, as the far end saw it.
    pub fn switches(&self) -> Vec<Switch> {
        let control = self.emu.control();
        let calls = || {
            control
                .presence_calls()
                .into_iter()
                .filter(|c| c.status < 300)
        };
        match self.provider {
            Provider::Webex => calls()
                .filter(|c| c.kind == "webex.putCallForwarding")
                .map(|c| {
                    let on = c.body["body"]["callForwarding"]["always"]["enabled"] == true;
                    (c.at, on)
                })
                .collect(),
            Provider::Ami => calls()
                .filter_map(|c| match c.kind.as_str() {
                    "ami.DBPut" => Some((c.at, true)),
                    "ami.DBDel" => Some((c.at, false)),
                    _ => None,
                })
                .collect(),
            Provider::Http => control
                .sink_requests()
                .into_iter()
                .filter(|r| r.status < 300)
                .map(|r| (r.at, r.method == "PUT"))
                .collect(),
            Provider::Command => text_of(&self.command_log())
                .lines()
                .filter_map(|line| {
                    let (at, args) = line.split_once(' ')?;
                    let secs: f64 = at.parse().ok()?;
                    let at = DateTime::from_timestamp_micros((secs * 1e6) as i64)?;
                    Some((at, args.starts_with("on")))
                })
                .collect(),
        }
    }

    /// Whether forwarding is on at the far end now (what a phone call would meet).
    pub fn forwarding_on(&self) -> bool {
        let control = self.emu.control();
        match self.provider {
            Provider::Webex => {
                control.webex_forwarding(PERSON)["callForwarding"]["always"]["enabled"] == true
            }
            Provider::Ami => control.ami_db().contains_key(&format!("CF/{EXTENSION}")),
            // Write-only far ends: the last switch tells.
            Provider::Http | Provider::Command => self.switches().last().is_some_and(|s| s.1),
        }
    }

    pub fn replies(&self) -> Value {
        self.emu.control().mailbox_settings()["automaticRepliesSetting"].clone()
    }

    pub fn presence_calls(&self, kind: &str) -> Vec<DateTime<Utc>> {
        self.emu
            .control()
            .presence_calls()
            .into_iter()
            .filter(|c| c.kind == kind && c.status < 300)
            .map(|c| c.at)
            .collect()
    }

    pub fn add_block(&self, subject: &str, block: Block) {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        self.emu
            .control()
            .add_event(serde_json::json!({
                "subject": subject,
                "start": {"dateTime": fmt(block.start), "timeZone": "UTC"},
                "end": {"dateTime": fmt(block.end), "timeZone": "UTC"},
                "showAs": "oof",
            }))
            .unwrap();
    }

    pub fn spawn_run(&self, name: &str) -> Run {
        self.spawn(name, self.presently())
    }

    /// `presently run` as a user starts it: no RUST_LOG.
    pub fn spawn_plain_run(&self, name: &str) -> Run {
        let mut cmd = self.presently();
        cmd.env_remove("RUST_LOG");
        self.spawn(name, cmd)
    }

    fn spawn(&self, name: &str, mut cmd: Command) -> Run {
        let log = self.path().join(format!("{name}.out"));
        let file = std::fs::File::create(&log).unwrap();
        let started = Utc::now();
        let child = cmd
            .arg("run")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Run {
            child,
            log,
            started,
        }
    }
}

pub struct Run {
    pub child: Child,
    pub log: PathBuf,
    pub started: DateTime<Utc>,
}

impl Run {
    pub fn output(&self) -> String {
        text_of(&self.log)
    }

    /// Stops it as `how` says and waits for it to exit; SIGTERM must end it cleanly.
    pub async fn stop(mut self, how: Stop) -> String {
        match how {
            Stop::Term => {
                let pid = self.child.id().to_string();
                assert!(Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success());
            }
            Stop::Kill => self.child.kill().unwrap(),
        }
        let status = tokio::task::spawn_blocking(move || {
            let status = self.child.wait().unwrap();
            (status, self)
        })
        .await
        .unwrap();
        let (status, run) = status;
        if matches!(how, Stop::Term) {
            assert!(status.success(), "{status}\n{}", run.output());
        }
        run.output()
    }
}

/// Waits until `check` answers, at most until `deadline`; `Err` says what was awaited.
pub async fn wait_until<T>(
    deadline: DateTime<Utc>,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, ()> {
    loop {
        if let Some(found) = check() {
            return Ok(found);
        }
        if Utc::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(StdDuration::from_millis(25)).await;
    }
}

pub async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(wait) = (t - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// The first switch to `on` at or after `since`.
pub fn switched(switches: &[Switch], on: bool, since: DateTime<Utc>) -> Option<DateTime<Utc>> {
    switches
        .iter()
        .find(|(at, o)| *o == on && *at >= since)
        .map(|(at, _)| *at)
}

pub fn ms(d: Duration) -> i64 {
    d.num_milliseconds()
}
