//! Call-forwarding providers against the emulator's fakes over real TCP and HTTP: Webex
//! Calling, Asterisk AMI, the HTTP sink, a local command; and the presence runtime
//! switching forwarding through a provider, retrying a failing one and restoring exactly.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::config_for;
use presently_emulator::{
    Emulator, EmulatorConfig, Seed, DEFAULT_AMI_SECRET, DEFAULT_AMI_USERNAME,
};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::presence::forwarding::{
    self, AmiConfig, CommandConfig, ForwardingConfig, ForwardingError, ForwardingProvider,
    HttpConfig, HttpRequestConfig, MemorySecrets, ProviderKind, WebexConfig, AMI_SECRET,
    HTTP_SECRET, WEBEX_SECRET,
};
use presently_engine::presence::profile::Forwarding;
use presently_engine::presence::runtime::RuntimeOptions;
use presently_engine::{Engine, EngineSetup, Error, SystemClock};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;

const PERSON: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9kYW5h";
const VOICEMAIL: &str = "+4930555000";

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn webex_config(emu: &Emulator) -> ForwardingConfig {
    ForwardingConfig {
        provider: ProviderKind::Webex,
        timeout_secs: 5,
        webex: Some(WebexConfig {
            base_url: emu.webex_base_url(),
            person_id: PERSON.into(),
            voicemail: VOICEMAIL.into(),
        }),
        ..ForwardingConfig::default()
    }
}

fn provider(config: &ForwardingConfig, secrets: MemorySecrets) -> Arc<dyn ForwardingProvider> {
    forwarding::build(config, Arc::new(secrets))
        .unwrap()
        .unwrap()
}

fn always(emu: &Emulator) -> serde_json::Value {
    emu.control().webex_forwarding(PERSON)["callForwarding"]["always"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn webex_switches_to_a_number_to_voicemail_and_off_and_reads_back() {
    let emu = emulator().await;
    let token = emu.control().webex_token();
    let p = provider(
        &webex_config(&emu),
        MemorySecrets::with(&[(WEBEX_SECRET, &token)]),
    );
    assert_eq!(p.name(), "Webex Calling");
    assert_eq!(p.current().await.unwrap(), Some(Forwarding::Off));

    let number = Forwarding::Number("+4930123456".into());
    p.apply(&number, "k1").await.unwrap();
    let a = always(&emu);
    assert_eq!(a["enabled"], true);
    assert_eq!(a["destination"], "+4930123456");
    assert_eq!(a["destinationVoicemailEnabled"], false);
    assert_eq!(p.current().await.unwrap(), Some(number));

    p.apply(&Forwarding::Voicemail, "k2").await.unwrap();
    let a = always(&emu);
    assert_eq!(a["enabled"], true);
    assert_eq!(a["destination"], VOICEMAIL);
    assert_eq!(a["destinationVoicemailEnabled"], true);
    assert_eq!(p.current().await.unwrap(), Some(Forwarding::Voicemail));

    p.apply(&Forwarding::Off, "k3").await.unwrap();
    assert_eq!(always(&emu)["enabled"], false);
    assert_eq!(p.current().await.unwrap(), Some(Forwarding::Off));

    // What went over the wire: bearer token accepted, PUT bodies touch `always` only.
    let puts: Vec<_> = emu
        .control()
        .presence_calls()
        .into_iter()
        .filter(|c| c.kind == "webex.putCallForwarding")
        .collect();
    assert_eq!(puts.len(), 3);
    assert!(puts.iter().all(|c| c.status == 204), "{puts:?}");
    assert_eq!(puts[0].body["personId"], PERSON);
    assert_eq!(
        puts[2].body["body"],
        json!({"callForwarding": {"always": {"enabled": false}}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webex_errors_say_what_failed() {
    let emu = emulator().await;
    let config = webex_config(&emu);
    // No token in the keyring.
    let p = provider(&config, MemorySecrets::default());
    match p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err() {
        ForwardingError::Secret { detail, .. } => {
            assert!(detail.contains("provider:webex"), "{detail}");
            assert!(detail.contains("com.presently.desktop"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // A token the service does not know.
    let p = provider(
        &config,
        MemorySecrets::with(&[(WEBEX_SECRET, "webex-stale")]),
    );
    let err = p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err();
    assert!(
        matches!(err, ForwardingError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("401"), "{err}");
    // A server failure.
    let token = emu.control().webex_token();
    let p = provider(&config, MemorySecrets::with(&[(WEBEX_SECRET, &token)]));
    emu.control().fail_next_webex_calls(1, 500);
    let err = p.apply(&Forwarding::Off, "k3").await.unwrap_err();
    assert!(
        matches!(
            err,
            ForwardingError::Refused {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Webex Calling"), "{err}");
    // The token never shows in an error.
    assert!(!err.to_string().contains(&token));
    p.apply(&Forwarding::Off, "k3").await.unwrap();
}

fn ami_config(emu: &Emulator) -> ForwardingConfig {
    let addr = emu.ami_addr();
    ForwardingConfig {
        provider: ProviderKind::Ami,
        timeout_secs: 5,
        ami: Some(AmiConfig {
            host: addr.ip().to_string(),
            port: addr.port(),
            username: DEFAULT_AMI_USERNAME.into(),
            extension: "1001".into(),
            voicemail: "vmu{extension}".into(),
            family: "CF".into(),
        }),
        ..ForwardingConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ami_logs_in_and_puts_gets_and_deletes_the_forwarding_entry() {
    let emu = emulator().await;
    let p = provider(
        &ami_config(&emu),
        MemorySecrets::with(&[(AMI_SECRET, DEFAULT_AMI_SECRET)]),
    );
    assert_eq!(p.name(), "Asterisk AMI");
    // No entry: off (DBGet answers "not found").
    assert_eq!(p.current().await.unwrap(), Some(Forwarding::Off));
    // Off while off: DBDel finds nothing, which is fine.
    p.apply(&Forwarding::Off, "k3").await.unwrap();

    p.apply(&Forwarding::Number("+4930123456".into()), "k4")
        .await
        .unwrap();
    assert_eq!(
        emu.control().ami_db().get("CF/1001").map(String::as_str),
        Some("+4930123456")
    );
    assert_eq!(
        p.current().await.unwrap(),
        Some(Forwarding::Number("+4930123456".into()))
    );

    p.apply(&Forwarding::Voicemail, "k2").await.unwrap();
    assert_eq!(
        emu.control().ami_db().get("CF/1001").map(String::as_str),
        Some("vmu1001")
    );
    assert_eq!(p.current().await.unwrap(), Some(Forwarding::Voicemail));

    p.apply(&Forwarding::Off, "k3").await.unwrap();
    assert!(!emu.control().ami_db().contains_key("CF/1001"));
    assert_eq!(p.current().await.unwrap(), Some(Forwarding::Off));

    let kinds: Vec<String> = emu
        .control()
        .presence_calls()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert!(kinds.contains(&"ami.Login".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"ami.DBPut".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"ami.DBDel".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"ami.DBGet".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"ami.Logoff".to_string()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ami_wrong_credentials_and_failed_actions_are_clear_errors() {
    let emu = emulator().await;
    let config = ami_config(&emu);
    let p = provider(&config, MemorySecrets::with(&[(AMI_SECRET, "wrong")]));
    let err = p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err();
    assert!(
        matches!(err, ForwardingError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Authentication failed"), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
    assert!(emu.control().ami_db().is_empty());

    let p = provider(
        &config,
        MemorySecrets::with(&[(AMI_SECRET, DEFAULT_AMI_SECRET)]),
    );
    emu.control().fail_next_ami_actions(1);
    let err = p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err();
    assert!(matches!(err, ForwardingError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("DBPut"), "{err}");
    p.apply(&Forwarding::Voicemail, "k2").await.unwrap();

    // Nothing listening: unreachable, quickly.
    let mut gone = config.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    gone.ami.as_mut().unwrap().port = listener.local_addr().unwrap().port();
    drop(listener);
    let p = provider(
        &gone,
        MemorySecrets::with(&[(AMI_SECRET, DEFAULT_AMI_SECRET)]),
    );
    let err = p.current().await.unwrap_err();
    assert!(
        matches!(err, ForwardingError::Unreachable { .. }),
        "{err:?}"
    );
}

fn http_config(emu: &Emulator) -> ForwardingConfig {
    let sink = emu.sink_url();
    ForwardingConfig {
        provider: ProviderKind::Http,
        timeout_secs: 5,
        http: Some(HttpConfig {
            extension: "1001".into(),
            voicemail: "voicemail".into(),
            on: HttpRequestConfig {
                method: "PUT".into(),
                url: format!("{sink}/forward/{{extension}}?to={{target}}"),
                headers: BTreeMap::from([
                    ("X-Extension".to_string(), "{extension}".to_string()),
                    ("Authorization".to_string(), "Bearer {secret}".to_string()),
                ]),
                body: Some(r#"{"enabled": true, "to": "{target}", "ext": "{extension}"}"#.into()),
            },
            off: HttpRequestConfig {
                method: "delete".into(),
                url: format!("{sink}/forward/{{extension}}"),
                headers: BTreeMap::new(),
                body: None,
            },
        }),
        ..ForwardingConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn http_sends_the_templated_requests() {
    let emu = emulator().await;
    let p = provider(
        &http_config(&emu),
        MemorySecrets::with(&[(HTTP_SECRET, "s3cret")]),
    );
    assert_eq!(p.current().await.unwrap(), None);
    p.apply(&Forwarding::Number("+49 30 \"1\"".into()), "k4")
        .await
        .unwrap();
    p.apply(&Forwarding::Voicemail, "k2").await.unwrap();
    p.apply(&Forwarding::Off, "k3").await.unwrap();
    let reqs = emu.control().sink_requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(reqs[0].method, "PUT");
    assert_eq!(reqs[0].path, "/sink/forward/1001");
    assert_eq!(reqs[0].query.as_deref(), Some("to=%2B49%2030%20%221%22"));
    assert_eq!(reqs[0].header("x-extension"), Some("1001"));
    assert_eq!(reqs[0].header("authorization"), Some("[redacted]"));
    assert_eq!(
        reqs[0].json().unwrap(),
        json!({"enabled": true, "to": "+49 30 \"1\"", "ext": "1001"})
    );
    assert_eq!(reqs[1].json().unwrap()["to"], "voicemail");
    assert_eq!(reqs[2].method, "DELETE");
    assert_eq!(reqs[2].body, "");

    emu.control().set_sink_status(500);
    let err = p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err();
    assert!(
        matches!(
            err,
            ForwardingError::Refused {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("emulated failure"), "{err}");
    emu.control().set_sink_status(403);
    let err = p.apply(&Forwarding::Off, "k3").await.unwrap_err();
    assert!(
        matches!(err, ForwardingError::Unauthorized { .. }),
        "{err:?}"
    );
    // `{secret}` with no secret stored: says which keyring entry is missing.
    let p = provider(&http_config(&emu), MemorySecrets::default());
    let err = p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err();
    assert!(err.to_string().contains("provider:http"), "{err}");
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

fn command_config(program: String, on: &[&str], off: &[&str]) -> ForwardingConfig {
    ForwardingConfig {
        provider: ProviderKind::Command,
        timeout_secs: 5,
        command: Some(CommandConfig {
            program,
            on_args: on.iter().map(|s| s.to_string()).collect(),
            off_args: off.iter().map(|s| s.to_string()).collect(),
            extension: "1001".into(),
            voicemail: "vm".into(),
        }),
        ..ForwardingConfig::default()
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_command_runs_without_a_shell_and_its_failures_carry_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let ok = script(
        dir.path(),
        "fwd",
        &format!(
            "printf '%s|' \"$@\" >> '{}'; echo >> '{}'",
            log.display(),
            log.display()
        ),
    );
    let p = provider(
        &command_config(
            ok,
            &["on", "{extension}", "{target}"],
            &["off", "{extension}"],
        ),
        MemorySecrets::default(),
    );
    assert_eq!(p.current().await.unwrap(), None);
    // A target with shell metacharacters stays one argument.
    p.apply(&Forwarding::Number("+49 30; rm -rf /".into()), "k4")
        .await
        .unwrap();
    p.apply(&Forwarding::Voicemail, "k2").await.unwrap();
    p.apply(&Forwarding::Off, "k3").await.unwrap();
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        vec!["on|1001|+49 30; rm -rf /|", "on|1001|vm|", "off|1001|"]
    );

    let fail = script(dir.path(), "fail", "echo 'PBX said no' >&2; exit 3");
    let p = provider(
        &command_config(fail, &["{target}"], &[]),
        MemorySecrets::default(),
    );
    let err = p.apply(&Forwarding::Voicemail, "k2").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ForwardingError::Command { .. }), "{err:?}");
    assert!(
        text.contains("status 3") && text.contains("PBX said no"),
        "{text}"
    );

    // /usr/bin/env true / false, no script at all.
    let p = provider(
        &command_config("/usr/bin/env".into(), &["true"], &["false"]),
        MemorySecrets::default(),
    );
    p.apply(&Forwarding::Voicemail, "k2").await.unwrap();
    assert!(p.apply(&Forwarding::Off, "k3").await.is_err());

    let p = provider(
        &command_config(
            dir.path().join("missing").to_string_lossy().into_owned(),
            &[],
            &[],
        ),
        MemorySecrets::default(),
    );
    let err = p.apply(&Forwarding::Off, "k3").await.unwrap_err();
    assert!(err.to_string().contains("cannot start"), "{err}");
}

#[test]
fn the_forwarding_section_parses_and_its_errors_name_line_and_key() {
    let path = Path::new("/etc/presently/config.toml");
    let c = Config::parse(
        path,
        r#"
[presence.forwarding]
provider = "webex"

[presence.forwarding.webex]
person_id = "Y2lz"
voicemail = "+4930555000"
"#,
    )
    .unwrap();
    assert_eq!(c.presence.forwarding.provider, ProviderKind::Webex);
    let w = c.presence.forwarding.webex.as_ref().unwrap();
    assert_eq!(w.base_url, "https://webexapis.com/v1");
    assert_eq!(
        Config::default().presence.forwarding.provider,
        ProviderKind::None
    );
    // Round trip through a saved file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let mut all = c.clone();
    all.presence.forwarding.ami = Some(AmiConfig {
        host: "pbx.example.com".into(),
        port: 5038,
        username: "presently".into(),
        extension: "1001".into(),
        voicemail: "*97".into(),
        family: "CF".into(),
    });
    let emu_free = http_config_for("https://hooks.example.com");
    all.presence.forwarding.http = emu_free.http;
    all.save(&file).unwrap();
    assert_eq!(Config::load(&file).unwrap(), all);

    let invalid = |text: &str| match Config::parse(path, text).unwrap_err() {
        Error::ConfigInvalid {
            line, key, reason, ..
        } => (line, key, reason),
        other => panic!("{other}"),
    };
    let (line, key, reason) = invalid("[presence.forwarding]\nprovider = \"ami\"\n");
    assert_eq!((line, key.as_str()), (2, "presence.forwarding.provider"));
    assert!(reason.contains("[presence.forwarding.ami]"), "{reason}");
    let (line, key, _) = invalid("[presence.forwarding]\nprovider = \"pigeon\"\n");
    assert_eq!((line, key.as_str()), (2, "presence.forwarding.provider"));
    let (line, key, reason) = invalid(
        "[presence.forwarding]\nprovider = \"http\"\n\n[presence.forwarding.http.on]\nurl = \"http://pbx.example.com/on?to={target}\"\n\n[presence.forwarding.http.off]\nurl = \"https://pbx.example.com/off\"\n",
    );
    assert_eq!((line, key.as_str()), (5, "presence.forwarding.http.on.url"));
    assert!(reason.contains("https"), "{reason}");
    let (line, key, reason) = invalid(
        "[presence.forwarding]\nprovider = \"command\"\n\n[presence.forwarding.command]\nprogram = \"/usr/local/bin/fwd\"\non_args = [\"{numbr}\"]\n",
    );
    assert_eq!(
        (line, key.as_str()),
        (6, "presence.forwarding.command.on_args")
    );
    assert!(reason.contains("{numbr}"), "{reason}");
    let (line, key, _) = invalid("[presence.forwarding]\ntimeout_secs = 0\n");
    assert_eq!(
        (line, key.as_str()),
        (2, "presence.forwarding.timeout_secs")
    );
    let (_, key, reason) = invalid(
        "[presence.forwarding]\nprovider = \"webex\"\n[presence.forwarding.webex]\nperson_id = \"x\"\n",
    );
    assert!(key.starts_with("presence.forwarding.webex"), "{key}");
    assert!(reason.contains("voicemail"), "{reason}");
}

fn http_config_for(base: &str) -> ForwardingConfig {
    ForwardingConfig {
        provider: ProviderKind::Http,
        http: Some(HttpConfig {
            extension: "1001".into(),
            voicemail: "voicemail".into(),
            on: HttpRequestConfig {
                method: "POST".into(),
                url: format!("{base}/on"),
                headers: BTreeMap::from([("X-Key".to_string(), "{secret}".to_string())]),
                body: Some(r#"{"to": "{target}"}"#.into()),
            },
            off: HttpRequestConfig {
                method: "POST".into(),
                url: format!("{base}/off"),
                headers: BTreeMap::new(),
                body: None,
            },
        }),
        ..ForwardingConfig::default()
    }
}

// ---- through the presence runtime --------------------------------------------------------

async fn engine(emu: &Emulator, dir: &Path, secrets: MemorySecrets) -> Arc<Engine> {
    let mut config = config_for(emu);
    config.features.presence = true;
    config.presence.forwarding = webex_config(emu);
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock: Arc::new(SystemClock),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.set_forwarding_secrets(Arc::new(secrets));
    engine.sign_in_to_emulator().await.unwrap();
    Arc::new(engine)
}

/// An out-of-office appointment starting about `ahead_ms` from now lasting `secs`: the
/// built-in "Out of office" profile forwards to voicemail once a provider is configured.
fn oof_appointment(emu: &Emulator, ahead_ms: i64, secs: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = (Utc::now() + Duration::milliseconds(ahead_ms))
        .duration_trunc(Duration::seconds(1))
        .unwrap()
        + Duration::seconds(1);
    let end = start + Duration::seconds(secs);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    emu.control()
        .add_event(json!({
            "subject": "Off site",
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": "oof",
        }))
        .unwrap();
    (start, end)
}

struct Running {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

fn start_runtime(engine: &Arc<Engine>) -> Running {
    let stop = Arc::new(Notify::new());
    let task = tokio::spawn(engine.clone().run_presence_with(
        stop.clone(),
        Arc::new(Notify::new()),
        RuntimeOptions {
            check_interval: std::time::Duration::from_millis(500),
            first_retry: std::time::Duration::from_millis(200),
            ..RuntimeOptions::default()
        },
    ));
    Running { stop, task }
}

impl Running {
    async fn stop(self) {
        self.stop.notify_one();
        self.task.await.unwrap();
    }
}

async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

fn webex_calls(emu: &Emulator, kind: &str) -> Vec<presently_emulator::PresenceCall> {
    emu.control()
        .presence_calls()
        .into_iter()
        .filter(|c| c.kind == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runtime_forwards_during_the_block_and_restores_the_prior_forwarding_exactly() {
    let emu = emulator().await;
    let token = emu.control().webex_token();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        &emu,
        dir.path(),
        MemorySecrets::with(&[(WEBEX_SECRET, &token)]),
    )
    .await;
    // The user forwards to their mobile already.
    let before = Forwarding::Number("+4917012345".into());
    engine
        .forwarding_provider()
        .unwrap()
        .unwrap()
        .apply(&before, "k0")
        .await
        .unwrap();
    let policy = engine.presence_policy().unwrap();
    assert_eq!(
        policy.profile("Out of office").unwrap().forwarding,
        Some(Forwarding::Voicemail)
    );
    let (start, end) = oof_appointment(&emu, 2000, 3);
    engine.sync_now().await.unwrap();
    let running = start_runtime(&engine);
    sleep_until(start + Duration::milliseconds(1200)).await;
    assert_eq!(always(&emu)["destination"], VOICEMAIL);
    assert_eq!(always(&emu)["destinationVoicemailEnabled"], true);
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;

    // Read before the block, voicemail at its start, the mobile again at its end.
    let gets = webex_calls(&emu, "webex.getCallForwarding");
    let puts = webex_calls(&emu, "webex.putCallForwarding");
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(puts.len(), 3, "{puts:?}");
    assert!(gets[0].at <= puts[1].at);
    assert!(
        puts[1].at >= start && puts[1].at - start <= Duration::seconds(1),
        "{puts:?}"
    );
    assert!(
        puts[2].at >= end && puts[2].at - end <= Duration::seconds(1),
        "{puts:?}"
    );
    let a = always(&emu);
    assert_eq!(a["enabled"], true);
    assert_eq!(a["destination"], "+4917012345");
    assert_eq!(a["destinationVoicemailEnabled"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_forwarding_provider_is_retried_and_shows_in_status_and_history() {
    let emu = emulator().await;
    let token = emu.control().webex_token();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        &emu,
        dir.path(),
        MemorySecrets::with(&[(WEBEX_SECRET, &token)]),
    )
    .await;
    let (start, end) = oof_appointment(&emu, 2000, 4);
    engine.sync_now().await.unwrap();
    // The pre-read and two switches fail.
    emu.control().fail_next_webex_calls(3, 500);
    let running = start_runtime(&engine);
    sleep_until(start + Duration::milliseconds(300)).await;
    let error = engine.presence_status().unwrap().error;
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("Webex Calling")),
        "{error:?}"
    );
    sleep_until(start + Duration::milliseconds(1500)).await;
    assert_eq!(always(&emu)["destination"], VOICEMAIL);
    assert!(engine.presence_status().unwrap().error.is_none());
    sleep_until(end + Duration::milliseconds(1500)).await;
    running.stop().await;

    let puts = webex_calls(&emu, "webex.putCallForwarding");
    let statuses: Vec<u16> = puts.iter().map(|c| c.status).collect();
    // Two failures, the switch, and (the prior state unread) off at the end.
    assert_eq!(statuses, vec![500, 500, 204, 204], "{puts:?}");
    assert!(puts[2].at - start <= Duration::seconds(1), "{puts:?}");
    assert_eq!(
        puts[3].body["body"],
        json!({"callForwarding": {"always": {"enabled": false}}})
    );
    assert_eq!(always(&emu)["enabled"], false);
    let history: Vec<String> = engine
        .presence_history(20)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        history
            .iter()
            .any(|l| l.contains("failed, retrying") && l.contains("Webex Calling")),
        "{history:?}"
    );
    assert!(
        history.iter().any(|l| l.ends_with("retried successfully")),
        "{history:?}"
    );
    // The presence went through despite the failing provider.
    assert!(webex_calls(&emu, "setUserPreferredPresence")
        .iter()
        .any(|c| c.status == 200));
}
