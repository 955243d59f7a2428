//! Issue 16 end to end: `presently run` as a child process against the emulator, over real
//! HTTP and TCP, for each of the four call-forwarding providers (Webex Calling and Asterisk
//! AMI against the emulator's fakes, an HTTP request to its sink, a command). The rule:
//! whatever Presently changed for an appointment is the user's own again when the
//! appointment ends, and nothing the user changed by hand is overwritten.
//!
//! One `presently run` per provider meets two out-of-office blocks (Teams presence "Away",
//! forwarding to voicemail, scheduled automatic replies):
//! - block A, bug 1: mid-block the user picks "Available" in Teams. Presence stays as they
//!   set it (no clear at the end) and forwarding is still switched back at the block's end.
//! - block B, bug 2: `presently run` is stopped mid-block (SIGTERM, or SIGKILL) and started
//!   again after the block's end: forwarding is switched back and the automatic replies are
//!   as they were before, within a few seconds of the start.
//!
//! The sign-in (and the providers' secrets) live in a real Secret Service, one entry shared
//! by every test of this file (the emulator rotates refresh tokens), so the tests take turns.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use chrono::{DateTime, Duration, DurationRound, Utc};
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
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PERSON: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9tZWdhbg";
const EXTENSION: &str = "1001";

/// Seconds from the start of `presently run` to block A: its first sync fits in it.
const LEAD: i64 = 3;
/// Length of a block, and the gap between A and B (they must not touch: touching
/// appointments are one block).
const LENGTH: i64 = 3;
const GAP: i64 = 2;
/// How long after a block's end (or after a start) a restore may take.
const PROMPTLY: i64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Webex,
    Ami,
    Http,
    Command,
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Term,
    Kill,
}

#[derive(Debug, Clone, Copy)]
struct Block {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// One switch of forwarding as the provider's far end saw it: when, and on or off.
type Switch = (DateTime<Utc>, bool);

struct Home {
    dir: tempfile::TempDir,
    emu: Emulator,
    provider: Provider,
}

fn text_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Home {
    /// The emulator, a configuration with `provider`, its secret in the keyring, signed in.
    async fn new(provider: Provider) -> Self {
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

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn presently(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_presently"));
        cmd.env("PRESENTLY_DATA_DIR", self.path())
            .env("PRESENTLY_CONFIG", self.path().join("config.toml"))
            .env("BROWSER", self.path().join("browser.sh"))
            .env("TZ", "UTC")
            .env("RUST_LOG", "info");
        cmd
    }

    fn command_log(&self) -> PathBuf {
        self.path().join("forwarding.log")
    }

    fn forwarding_config(&self) -> String {
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
    fn switches(&self) -> Vec<Switch> {
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
    fn forwarding_on(&self) -> bool {
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

    fn replies(&self) -> Value {
        self.emu.control().mailbox_settings()["automaticRepliesSetting"].clone()
    }

    fn presence_calls(&self, kind: &str) -> Vec<DateTime<Utc>> {
        self.emu
            .control()
            .presence_calls()
            .into_iter()
            .filter(|c| c.kind == kind && c.status < 300)
            .map(|c| c.at)
            .collect()
    }

    fn add_block(&self, subject: &str, block: Block) {
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

    fn spawn_run(&self, name: &str) -> Run {
        let log = self.path().join(format!("{name}.out"));
        let file = std::fs::File::create(&log).unwrap();
        let started = Utc::now();
        let child = self
            .presently()
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

struct Run {
    child: Child,
    log: PathBuf,
    started: DateTime<Utc>,
}

impl Run {
    fn output(&self) -> String {
        text_of(&self.log)
    }

    /// Stops it as `how` says and waits for it to exit; SIGTERM must end it cleanly.
    async fn stop(mut self, how: Stop) -> String {
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
async fn wait_until<T>(
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

async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(wait) = (t - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// The first switch to `on` at or after `since`.
fn switched(switches: &[Switch], on: bool, since: DateTime<Utc>) -> Option<DateTime<Utc>> {
    switches
        .iter()
        .find(|(at, o)| *o == on && *at >= since)
        .map(|(at, _)| *at)
}

fn ms(d: Duration) -> i64 {
    d.num_milliseconds()
}

/// Bug 1 and bug 2 through `provider`; `stop` is how the run is stopped in block B.
async fn restores_through(provider: Provider, stop: Stop) {
    let _turn = TURN.lock().await;
    let began = std::time::Instant::now();
    let home = Home::new(provider).await;
    let replies_before = home.replies();
    let start = (Utc::now() + Duration::seconds(LEAD))
        .duration_trunc(Duration::seconds(1))
        .unwrap()
        + Duration::seconds(1);
    let a = Block {
        start,
        end: start + Duration::seconds(LENGTH),
    };
    let b = Block {
        start: a.end + Duration::seconds(GAP),
        end: a.end + Duration::seconds(GAP + LENGTH),
    };
    home.add_block("Off site A", a);
    home.add_block("Off site B", b);
    let run = home.spawn_run("first");
    let context = |what: &str, run: &str| {
        format!(
            "{provider:?}: {what}\nblock A {}–{}, block B {}–{}\nforwarding switches: {:?}\npresently run:\n{run}",
            a.start.format("%H:%M:%S"),
            a.end.format("%H:%M:%S"),
            b.start.format("%H:%M:%S"),
            b.end.format("%H:%M:%S"),
            home.switches()
        )
    };

    // ---- bug 1: a change of presence by hand mid-block --------------------------------
    let on = wait_until(a.start + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), true, a.start - Duration::seconds(1))
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block A never switched forwarding on", &run.output())
        )
    });
    assert!(
        on >= a.start,
        "{}",
        context("forwarding on before block A", &run.output())
    );
    wait_until(a.start + Duration::seconds(PROMPTLY), || {
        (home.presence_calls("setUserPreferredPresence").len() == 1).then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block A never set the presence", &run.output())
        )
    });
    // The user picks "Available" in Teams.
    let by_hand = Utc::now();
    home.emu
        .control()
        .set_user_presence("Available", "Available");
    let off = wait_until(a.end + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), false, on)
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context(
                "bug 1: forwarding was not switched back at the end of block A",
                &run.output()
            )
        )
    });
    assert!(
        off >= a.end,
        "{}",
        context(
            "forwarding switched back before block A ended",
            &run.output()
        )
    );
    assert!(
        !home.forwarding_on(),
        "{}",
        context("forwarding still on", &run.output())
    );
    // The presence is the user's: nothing cleared it, nothing set it again.
    let cleared = home.presence_calls("clearUserPreferredPresence");
    assert!(
        cleared.iter().all(|t| *t < by_hand),
        "{}",
        context("the presence picked by hand was cleared", &run.output())
    );
    assert_eq!(
        home.emu.control().presence()["availability"],
        "Available",
        "{}",
        context("presence", &run.output())
    );
    wait_until(a.end + Duration::seconds(PROMPTLY), || {
        (home.replies() == replies_before).then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}\nreplies before {replies_before}\nnow {}",
            context("automatic replies not back after block A", &run.output()),
            home.replies()
        )
    });
    let bug1 = format!(
        "bug 1: forwarding on {} ms after A's start, back off {} ms after its end",
        ms(on - a.start),
        ms(off - a.end)
    );

    // ---- bug 2: stopped mid-block, started after its end -------------------------------
    let on = wait_until(b.start + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), true, b.start - Duration::seconds(1))
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block B never switched forwarding on", &run.output())
        )
    });
    wait_until(b.start + Duration::seconds(PROMPTLY), || {
        (home.replies()["status"] == "scheduled").then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block B never scheduled the replies", &run.output())
        )
    });
    let first = run.stop(stop).await;
    let stopped = Utc::now();
    assert!(
        stopped < b.end,
        "{}",
        context(
            "stopped only after block B ended: too slow a machine",
            &first
        )
    );
    sleep_until(b.end + Duration::milliseconds(300)).await;
    // Nobody gave anything back meanwhile.
    assert!(
        home.forwarding_on(),
        "{}",
        context("forwarding off while stopped", &first)
    );
    assert_eq!(home.replies()["status"], "scheduled");

    let again = home.spawn_run("second");
    let restarted = again.started;
    let restored = wait_until(again.started + Duration::seconds(PROMPTLY), || {
        let off = switched(&home.switches(), false, on)?;
        (home.replies() == replies_before).then_some(off)
    })
    .await;
    let second = again.stop(Stop::Term).await;
    let off = restored.unwrap_or_else(|()| {
        panic!(
            "{}\nsecond run:\n{second}\nreplies before {replies_before}\nnow {}",
            context(
                &format!(
                    "bug 2: not given back within {PROMPTLY} s of the start after {stop:?} mid-block"
                ),
                &first
            ),
            home.replies()
        )
    });
    assert!(
        off >= restarted,
        "{}",
        context("forwarding switched back before the second start", &first)
    );
    assert!(
        !home.forwarding_on(),
        "{}",
        context("forwarding still on", &second)
    );

    // The history says what happened: both blocks applied and given back (B by the second
    // run), the presence left to the user.
    let out = home
        .presently()
        .args(["presence", "history"])
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "Out of office (Off site A)",
        "Presence changed by you",
        "Out of office (Off site B)",
    ] {
        assert!(history.contains(line), "{provider:?}: {line}\n{history}");
    }
    assert_eq!(
        history.matches("restored").count(),
        2,
        "{provider:?}\n{history}"
    );
    assert!(!history.contains("Pending"), "{provider:?}\n{history}");
    println!(
        "{provider:?}: {bug1}; bug 2 ({stop:?}): forwarding back off {} ms after the start; {:.1} s in all",
        ms(off - restarted),
        began.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn webex_forwarding_is_given_back_after_a_change_by_hand_and_after_a_stop() {
    restores_through(Provider::Webex, Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn ami_forwarding_is_given_back_after_a_change_by_hand_and_after_a_kill() {
    restores_through(Provider::Ami, Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn http_forwarding_is_given_back_after_a_change_by_hand_and_after_a_stop() {
    restores_through(Provider::Http, Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn command_forwarding_is_given_back_after_a_change_by_hand_and_after_a_kill() {
    restores_through(Provider::Command, Stop::Kill).await;
}
