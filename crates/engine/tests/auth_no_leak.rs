//! A full sign-in, refresh and Graph call with every log level on: no token, code or
//! verifier may appear in the captured logs. (Its own binary: it installs the global
//! subscriber.)
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::oauth::{self, AuthSettings};
use presently_engine::auth::{CredentialStore, InteractiveLogin, MemoryStore, TokenManager};
use presently_engine::graph::GraphClient;
use presently_engine::FixedClock;
use secrecy::ExposeSecret;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_at_trace_level() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    let emu = Emulator::start(EmulatorConfig {
        seed: Seed::Demo,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let settings = AuthSettings {
        client_id: DEMO_CLIENT_ID.to_owned(),
        tenant: "organizations".to_owned(),
        authority_host: emu.base_url(),
        redirect_path: "/".to_owned(),
        scopes: [
            "openid",
            "profile",
            "offline_access",
            "User.Read",
            "Calendars.ReadWrite",
        ]
        .map(str::to_owned)
        .to_vec(),
    };
    let clock = Arc::new(FixedClock::new("2026-11-24T08:00:00Z".parse().unwrap()));
    let login = InteractiveLogin::start(settings.clone(), None)
        .await
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser
        .get(login.authorize_url().clone())
        .send()
        .await
        .unwrap();
    let mut redirect = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    redirect.set_host(Some("127.0.0.1")).unwrap();
    let code = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let http = oauth::http_client().unwrap();
    let (signed_in, visited) = tokio::join!(
        login.finish(
            &http,
            clock.clone(),
            Duration::from_secs(10),
            std::future::pending()
        ),
        browser.get(redirect).send()
    );
    assert_eq!(visited.unwrap().status(), 200);
    let signed_in = signed_in.unwrap();
    let mut secrets = vec![code, signed_in.access_token.expose_secret().to_owned()];
    let store = Arc::new(MemoryStore::default());
    let manager = TokenManager::new(settings, store.clone(), clock.clone()).unwrap();
    manager.complete_login(signed_in).await.unwrap();
    secrets.push(
        store
            .load()
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret()
            .to_owned(),
    );

    clock.advance(chrono::Duration::hours(2));
    let refreshed = manager.access_token().await.unwrap();
    secrets.push(refreshed.expose_secret().to_owned());
    secrets.push(
        store
            .load()
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret()
            .to_owned(),
    );
    let graph = GraphClient::new(&emu.base_url()).unwrap();
    graph.me(&refreshed).await.unwrap();
    // Errors carry no secrets either.
    let err = graph
        .me(&secrecy::SecretString::from("not-a-token".to_owned()))
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("not-a-token"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.len() > 1000,
        "trace logging captured too little to mean anything:\n{logs}"
    );
    for secret in &secrets {
        assert!(secret.len() > 8);
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
    }
}
