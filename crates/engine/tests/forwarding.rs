//! Call-forwarding providers against the emulator's fakes over real TCP and HTTP: Webex
//! Calling, Asterisk AMI, the HTTP sink, a local command; and the presence runtime
//! switching forwarding through a provider, retrying a failing one and restoring exactly.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;
mod presence_sim;

use chrono::{DateTime, Duration, Utc};
use presence_sim::{aggregate, appointment, calls, start, Sim};
use presently_emulator::{
    Emulator, EmulatorConfig, Seed, DEFAULT_AMI_SECRET, DEFAULT_AMI_USERNAME,
};
use presently_engine::config::Config;
use presently_engine::presence::forwarding::{
    self, AmiConfig, CommandConfig, ForwardingConfig, ForwardingError, ForwardingProvider,
    HttpConfig, HttpRequestConfig, MemorySecrets, ProviderKind, WebexConfig, AMI_SECRET,
    HTTP_SECRET, WEBEX_SECRET,
};
use presently_engine::presence::profile::Forwarding;
use presently_engine::{Engine, Error};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

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
    // The write's idempotency key: a repeated attempt carries the same.
    assert_eq!(reqs[0].header("idempotency-key"), Some("k4"));
    assert_eq!(reqs[2].header("idempotency-key"), Some("k3"));
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

// ---- through the presence runtime (simulated time) ---------------------------------------

/// An engine on `sim`'s clock with presence on and `forwarding` as its provider.
async fn engine(
    emu: &Emulator,
    sim: &Arc<Sim>,
    dir: &Path,
    forwarding: ForwardingConfig,
    secrets: MemorySecrets,
) -> Arc<Engine> {
    let engine = presence_sim::engine_with(emu, sim, dir, |config| {
        config.presence.forwarding = forwarding;
    })
    .await;
    engine.set_forwarding_secrets(Arc::new(secrets));
    engine
}

async fn webex_engine(emu: &Emulator, sim: &Arc<Sim>, dir: &Path) -> Arc<Engine> {
    let token = emu.control().webex_token();
    engine(
        emu,
        sim,
        dir,
        webex_config(emu),
        MemorySecrets::with(&[(WEBEX_SECRET, &token)]),
    )
    .await
}

/// A forwarding command that appends its arguments and idempotency key to `log`.
fn logging_command(dir: &Path, log: &Path, pause_secs: u32) -> ForwardingConfig {
    let program = script(
        dir,
        "fwd",
        &format!(
            "sleep {pause_secs}; echo \"$* key=$PRESENTLY_IDEMPOTENCY_KEY\" >> '{}'",
            log.display()
        ),
    );
    command_config(program, &["on", "{target}"], &["off"])
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn webex_calls(emu: &Emulator, kind: &str) -> Vec<presently_emulator::PresenceCall> {
    calls(emu, kind)
}

fn in_minutes(sim: &Sim, m: i64) -> DateTime<Utc> {
    sim.now() + Duration::minutes(m)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runtime_forwards_during_the_block_and_restores_the_prior_forwarding_exactly() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = webex_engine(&emu, &sim, dir.path()).await;
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
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin).await;
    assert_eq!(always(&emu)["destination"], VOICEMAIL);
    assert_eq!(always(&emu)["destinationVoicemailEnabled"], true);
    sim.run_until(end).await;
    running.stop().await;

    // Read before the block, voicemail at its start; read back (unchanged) and the mobile
    // again at its end.
    let gets = webex_calls(&emu, "webex.getCallForwarding");
    let puts = webex_calls(&emu, "webex.putCallForwarding");
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(puts.len(), 3, "{puts:?}");
    assert!(gets[0].at <= puts[1].at && puts[1].at <= gets[1].at);
    let a = always(&emu);
    assert_eq!(a["enabled"], true);
    assert_eq!(a["destination"], "+4917012345");
    assert_eq!(a["destinationVoicemailEnabled"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_forwarding_provider_is_retried_and_shows_in_status_and_history() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = webex_engine(&emu, &sim, dir.path()).await;
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin - Duration::minutes(1)).await;
    // The read before the block fails, and so do the first two switches off at its end.
    emu.control().fail_next_webex_calls(1, 500);
    sim.run_until(begin).await;
    let error = engine.presence_status().unwrap().error;
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("Forwarding") && e.contains("Webex Calling")),
        "{error:?}"
    );
    // The presence went through despite the failing provider.
    assert_eq!(webex_calls(&emu, "setUserPreferredPresence").len(), 1);
    sim.run_until(begin + Duration::seconds(2)).await;
    assert_eq!(always(&emu)["destination"], VOICEMAIL);
    assert!(engine.presence_status().unwrap().error.is_none());

    // At the end, the read-back before the restore fails twice: the restore waits for it
    // (it must not switch off a forwarding the user changed meanwhile), retrying.
    sim.run_until(end - Duration::seconds(1)).await;
    emu.control().fail_next_webex_calls(2, 500);
    sim.run_until(end + Duration::seconds(2)).await;
    let error = engine.presence_status().unwrap().error.unwrap_or_default();
    assert!(
        error.starts_with("Forwarding: reading it failed"),
        "{error}"
    );
    assert_eq!(always(&emu)["destination"], VOICEMAIL);
    // Another process (the CLI) sees the pending restore in the journal.
    let pending = engine.presence_pending().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].action, "forwarding back off");
    sim.run_until(end + Duration::minutes(1)).await;
    running.stop().await;
    assert_eq!(always(&emu)["enabled"], false);
    assert!(engine.presence_pending().unwrap().is_empty());
    let history: Vec<String> = engine
        .presence_history(30)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        history.iter().any(|l| l.contains("Webex Calling")),
        "{history:?}"
    );
}

/// A restore that keeps failing (the HTTP endpoint answers 500) is retried with backoff,
/// says so in the status line and the history, survives a restart, and lands once the
/// endpoint answers again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_restore_is_retried_across_a_restart_until_it_lands() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        http_config(&emu),
        MemorySecrets::with(&[(HTTP_SECRET, "s3cret")]),
    )
    .await;
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin).await;
    assert_eq!(emu.control().sink_requests().len(), 1);
    emu.control().set_sink_status(500);
    sim.run_until(end).await;
    let status = engine.presence_status().unwrap();
    assert_eq!(
        status.error.as_deref(),
        Some("Forwarding still on — switching it off failed, retrying"),
        "{status:?}"
    );
    // Backoff: 2 s, 4 s, 8 s ...
    sim.run_until(end + Duration::seconds(14)).await;
    let tries: Vec<_> = emu.control().sink_requests()[1..].to_vec();
    assert_eq!(tries.len(), 4, "{tries:?}");
    let key = tries[0].header("idempotency-key").unwrap().to_owned();
    assert!(tries
        .iter()
        .all(|r| r.header("idempotency-key") == Some(key.as_str())));
    running.stop().await;
    // Stopped and started again (the restore is in the journal): still retried.
    let pending = engine.presence_pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 4);
    assert!(pending[0]
        .message
        .as_deref()
        .unwrap()
        .starts_with("Forwarding still on"));
    emu.control().set_sink_status(200);
    sim.set(end + Duration::minutes(1));
    let running = start(&engine, &sim).await;
    running.stop().await;
    let requests = emu.control().sink_requests();
    assert_eq!(requests.len(), 6);
    assert_eq!(requests[5].method, "DELETE");
    assert_eq!(requests[5].header("idempotency-key"), Some(key.as_str()));
    assert!(engine.presence_pending().unwrap().is_empty());
    let history: Vec<String> = engine
        .presence_history(30)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        history
            .iter()
            .any(|l| l.contains("giving your own back failed, retrying: forwarding back as it was")),
        "{history:?}"
    );
    assert!(
        history.iter().any(|l| l.ends_with("retried successfully")),
        "{history:?}"
    );
}

/// Bug 1 (issue 16) with a provider that cannot read back: the user sets "Available" in
/// Teams while an out-of-office block forwards calls to voicemail. Presence is theirs;
/// forwarding is still switched off when the block ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_of_presence_by_hand_still_ends_forwarding_through_a_command() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fwd.log");
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        logging_command(dir.path(), &log, 0),
        MemorySecrets::default(),
    )
    .await;
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(20)).await;
    assert_eq!(log_lines(&log).len(), 1);
    assert!(
        log_lines(&log)[0].starts_with("on vm key="),
        "{:?}",
        log_lines(&log)
    );
    emu.control().set_user_presence("Available", "Available");
    sim.run_until(end).await;
    running.stop().await;
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("off key="), "{lines:?}");
    assert_ne!(lines[0], lines[1], "a new key for the restore");
    assert!(calls(&emu, "clearUserPreferredPresence").is_empty());
    assert_eq!(aggregate(&emu), "Available");
}

/// Bug 1 with a provider that can be read back: the user's forwarding comes back exactly.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_of_presence_by_hand_still_restores_webex_forwarding() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = webex_engine(&emu, &sim, dir.path()).await;
    engine
        .forwarding_provider()
        .unwrap()
        .unwrap()
        .apply(&Forwarding::Number("+4917012345".into()), "k0")
        .await
        .unwrap();
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(20)).await;
    emu.control().set_user_presence("Available", "Available");
    sim.run_until(end).await;
    running.stop().await;
    assert_eq!(always(&emu)["destination"], "+4917012345");
    assert!(calls(&emu, "clearUserPreferredPresence").is_empty());
}

/// Bug 2 (issue 16): Presently stops during a block and starts after its end; forwarding
/// (through a command) is switched off at once at the start.
#[tokio::test(flavor = "multi_thread")]
async fn a_block_that_ended_while_stopped_ends_forwarding_at_the_next_start() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fwd.log");
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        logging_command(dir.path(), &log, 0),
        MemorySecrets::default(),
    )
    .await;
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(10)).await;
    running.stop().await;
    assert_eq!(log_lines(&log).len(), 1);
    sim.set(end + Duration::hours(3));
    let running = start(&engine, &sim).await;
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("off key="), "{lines:?}");
    running.stop().await;
    let history: Vec<String> = engine
        .presence_history(10)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        history.last().unwrap().contains("restored") && history.last().unwrap().contains("late"),
        "{history:?}"
    );
}

/// Bug 2 with Asterisk: the entry the block put in the AMI database goes at the next start.
#[tokio::test(flavor = "multi_thread")]
async fn a_block_that_ended_while_stopped_ends_ami_forwarding_at_the_next_start() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        ami_config(&emu),
        MemorySecrets::with(&[(AMI_SECRET, DEFAULT_AMI_SECRET)]),
    )
    .await;
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin).await;
    assert_eq!(
        emu.control().ami_db().get("CF/1001").map(String::as_str),
        Some("vmu1001")
    );
    running.kill().await;
    sim.set(end + Duration::minutes(30));
    let running = start(&engine, &sim).await;
    running.stop().await;
    assert!(!emu.control().ami_db().contains_key("CF/1001"));
}

/// A forwarding command killed while it ran (Presently died with it): the same write is
/// sent again, with the same idempotency key, at the next start.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_command_whose_outcome_was_lost_runs_again_with_the_same_key() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fwd.log");
    let started = dir.path().join("started.log");
    let program = script(
        dir.path(),
        "slow",
        &format!(
            "echo \"$PRESENTLY_IDEMPOTENCY_KEY\" >> '{}'; sleep 2; echo \"$* key=$PRESENTLY_IDEMPOTENCY_KEY\" >> '{}'",
            started.display(),
            log.display()
        ),
    );
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        command_config(program, &["on", "{target}"], &["off"]),
        MemorySecrets::default(),
    )
    .await;
    let (begin, _) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.set(begin);
    // Wait (real time) until the command runs, then kill Presently.
    for _ in 0..100 {
        if started.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.kill().await;
    assert!(log_lines(&log).is_empty(), "killed before it finished");
    let first = log_lines(&started);
    assert_eq!(first.len(), 1);
    let running = start(&engine, &sim).await;
    running.stop().await;
    let runs = log_lines(&started);
    assert_eq!(runs, vec![first[0].clone(), first[0].clone()], "same key");
    assert_eq!(log_lines(&log), vec![format!("on vm key={}", first[0])]);
}

/// Where forwarding cannot be read back, the user can say they changed it themselves:
/// automation then leaves it as they set it (no "off" at the end).
#[tokio::test(flavor = "multi_thread")]
async fn a_user_who_says_they_took_forwarding_over_keeps_it() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fwd.log");
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        logging_command(dir.path(), &log, 0),
        MemorySecrets::default(),
    )
    .await;
    let (begin, end) = appointment(&emu, "Off site", "oof", in_minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(10)).await;
    sim.after(|| {
        let outcome = engine
            .presence_take_over(presently_engine::presence::journal::Resource::Forwarding)
            .unwrap();
        assert_eq!(outcome, presently_engine::engine::TakeOverOutcome::Released);
    })
    .await;
    sim.run_until(end + Duration::minutes(1)).await;
    running.stop().await;
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "only the switch on: {lines:?}");
    // The presence is still given back.
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
}

// ---- secrets go only where they were saved for --------------------------------------------

/// A listener that keeps the bytes of every request it gets (and answers 404).
async fn decoy() -> (String, Arc<std::sync::Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!(
        "http://127.0.0.1:{}/v1",
        listener.local_addr().unwrap().port()
    );
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            keep.lock().unwrap().extend_from_slice(&buf[..n]);
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
    });
    (base, seen)
}

/// The settings page's Test button with a draft naming another host does not carry the
/// saved Webex token there; the token saved again for that host does go, and no longer to
/// the first one.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_goes_only_to_the_host_it_was_saved_for() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let token = emu.control().webex_token();
    // Saved (by an older version) without a destination: tied to the saved settings' host.
    let engine = webex_engine(&emu, &sim, dir.path()).await;
    let (elsewhere, seen) = decoy().await;
    let mut draft = webex_config(&emu);
    draft.webex.as_mut().unwrap().base_url = elsewhere.clone();

    let refused = engine.forwarding_test(&draft).await.unwrap_err();
    assert!(refused.to_string().contains("enter it again"), "{refused}");
    let sent = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        !sent.contains(&token),
        "the token went to {elsewhere}: {sent}"
    );
    assert!(sent.is_empty(), "no request without the secret: {sent}");
    // The saved host still gets it.
    let saved = engine.forwarding_test(&webex_config(&emu)).await.unwrap();
    assert!(saved.contains("answered"), "{saved}");

    // Entered again for the new host: it goes there, and not back to the old one.
    engine
        .save_forwarding_secret(
            WEBEX_SECRET,
            &secrecy::SecretString::from("token-for-elsewhere".to_owned()),
            &draft,
        )
        .unwrap();
    let _ = engine.forwarding_test(&draft).await;
    let sent = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(sent.contains("Bearer token-for-elsewhere"), "{sent}");
    let refused = engine
        .forwarding_test(&webex_config(&emu))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("enter it again"), "{refused}");
}

/// A secret is saved only for a destination: with the provider's host not filled in, the
/// save is refused and nothing is kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_without_a_destination_is_refused() {
    let emu = emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(
        &emu,
        &sim,
        dir.path(),
        ForwardingConfig::default(),
        MemorySecrets::default(),
    )
    .await;
    let err = engine
        .save_forwarding_secret(
            AMI_SECRET,
            &secrecy::SecretString::from("s".to_owned()),
            &ForwardingConfig::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
}

#[test]
fn each_secret_names_where_it_goes() {
    let mut c = ForwardingConfig {
        webex: Some(WebexConfig {
            base_url: "https://WebexAPIs.com:443/v1".into(),
            person_id: PERSON.into(),
            voicemail: VOICEMAIL.into(),
        }),
        ami: Some(AmiConfig {
            host: "PBX.example".into(),
            port: 5038,
            username: "u".into(),
            extension: "100".into(),
            voicemail: "vmu{extension}".into(),
            family: "CF".into(),
        }),
        ..ForwardingConfig::default()
    };
    assert_eq!(
        forwarding::secret_destination(&c, WEBEX_SECRET).as_deref(),
        Some("https://webexapis.com")
    );
    assert_eq!(
        forwarding::secret_destination(&c, AMI_SECRET).as_deref(),
        Some("pbx.example:5038")
    );
    assert_eq!(forwarding::secret_destination(&c, HTTP_SECRET), None);
    let request = |url: &str| HttpRequestConfig {
        method: "POST".into(),
        url: url.into(),
        headers: BTreeMap::new(),
        body: None,
    };
    c.http = Some(HttpConfig {
        extension: String::new(),
        voicemail: "voicemail".into(),
        on: request("https://pbx.example/fwd/{extension}?to={target}"),
        off: request("https://other.example/fwd"),
    });
    assert_eq!(
        forwarding::secret_destination(&c, HTTP_SECRET).as_deref(),
        Some("https://other.example https://pbx.example")
    );
}
