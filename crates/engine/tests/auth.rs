//! Sign-in flows over real loopback HTTP against the emulator's identity platform.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_emulator::{DeviceStep, Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID, DEMO_UPN};
use presently_engine::auth::oauth::{self, AuthSettings};
use presently_engine::auth::{
    AuthError, CredentialStore, DeviceLogin, InteractiveLogin, MemoryStore, TokenManager,
};
use presently_engine::{Clock, FixedClock};
use secrecy::ExposeSecret;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn settings(emu: &Emulator) -> AuthSettings {
    AuthSettings {
        client_id: DEMO_CLIENT_ID.to_owned(),
        tenant: "organizations".to_owned(),
        authority_host: emu.base_url(),
        redirect_path: "/".to_owned(),
        scopes: vec![
            "openid".into(),
            "profile".into(),
            "offline_access".into(),
            "User.Read".into(),
            "Calendars.ReadWrite".into(),
        ],
    }
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new("2026-11-24T08:00:00Z".parse().unwrap()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Plays the browser: asks the emulator to authorize and returns where it redirects.
async fn authorize(login: &InteractiveLogin) -> url::Url {
    let answer = no_redirects()
        .get(login.authorize_url().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302, "authorize should redirect");
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    url::Url::parse(&location).unwrap()
}

/// Follows a redirect to the loopback listener (as the browser would, via 127.0.0.1).
async fn visit(url: &url::Url) -> (u16, String) {
    let mut url = url.clone();
    url.set_host(Some("127.0.0.1")).unwrap();
    let answer = no_redirects().get(url).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn sign_in(emu: &Emulator, clock: Arc<FixedClock>) -> (TokenManager, Arc<MemoryStore>) {
    let login = InteractiveLogin::start(settings(emu), None).await.unwrap();
    let redirect = authorize(&login).await;
    let http = oauth::http_client().unwrap();
    let finish = login.finish(
        &http,
        clock.clone(),
        Duration::from_secs(10),
        std::future::pending(),
    );
    let (signed_in, (status, page)) = tokio::join!(finish, visit(&redirect));
    assert_eq!(status, 200);
    assert!(page.contains("Signed in"), "{page}");
    let store = Arc::new(MemoryStore::default());
    let manager = TokenManager::new(settings(emu), store.clone(), clock).unwrap();
    manager.complete_login(signed_in.unwrap()).await.unwrap();
    (manager, store)
}

#[tokio::test]
async fn full_pkce_flow_stores_the_account_and_a_usable_token() {
    let emu = emulator().await;
    let login = InteractiveLogin::start(settings(&emu), None).await.unwrap();
    let url = login.authorize_url().clone();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["response_type"], "code");
    assert!(query["redirect_uri"].starts_with("http://localhost:"));
    assert!(query["scope"].contains("offline_access"));
    assert!(url.path().ends_with("/organizations/oauth2/v2.0/authorize"));
    drop(login);

    let (manager, store) = sign_in(&emu, clock()).await;
    let account = manager.account().await.unwrap().unwrap();
    assert_eq!(account.upn.as_deref(), Some(DEMO_UPN));
    assert!(account.tenant_id.is_some());
    assert!(store.load().unwrap().is_some());
    // The token works against Graph.
    let token = manager.access_token().await.unwrap();
    let me = reqwest::Client::new()
        .get(format!("{}/v1.0/me", emu.base_url()))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn wrong_state_and_wrong_path_are_refused_then_the_right_redirect_wins() {
    let emu = emulator().await;
    let login = InteractiveLogin::start(settings(&emu), None).await.unwrap();
    let redirect = authorize(&login).await;
    let http = oauth::http_client().unwrap();
    let finish = login.finish(
        &http,
        clock(),
        Duration::from_secs(10),
        std::future::pending(),
    );
    let probes = async {
        let mut forged = redirect.clone();
        let code = redirect
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        forged.set_query(Some(&format!("code={code}&state=forged")));
        assert_eq!(visit(&forged).await.0, 400, "a wrong state is refused");
        let mut no_state = redirect.clone();
        no_state.set_query(Some(&format!("code={code}")));
        assert_eq!(visit(&no_state).await.0, 400, "a missing state is refused");
        let mut wrong_path = redirect.clone();
        wrong_path.set_path("/favicon.ico");
        assert_eq!(visit(&wrong_path).await.0, 404, "other paths get 404");
        visit(&redirect).await
    };
    let (signed_in, (status, _)) = tokio::join!(finish, probes);
    assert_eq!(status, 200);
    assert!(signed_in.is_ok());
    // The listener is closed now: a second redirect finds nobody.
    let mut again = redirect.clone();
    again.set_host(Some("127.0.0.1")).unwrap();
    assert!(
        no_redirects().get(again).send().await.is_err(),
        "a second redirect must be refused"
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_fails_with_invalid_grant() {
    let emu = emulator().await;
    // Two logins: redeem the code of the first with the verifier of the second.
    let first = InteractiveLogin::start(settings(&emu), None).await.unwrap();
    let redirect = authorize(&first).await;
    let code = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", DEMO_CLIENT_ID),
        ("code", code.as_str()),
        ("redirect_uri", first.redirect_uri()),
        (
            "code_verifier",
            "this-is-not-the-verifier-this-is-not-the-verifier-123",
        ),
    ];
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/organizations/oauth2/v2.0/token",
            emu.base_url()
        ))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn the_listener_times_out_and_can_be_cancelled() {
    let emu = emulator().await;
    let http = oauth::http_client().unwrap();
    let login = InteractiveLogin::start(settings(&emu), None).await.unwrap();
    let err = login
        .finish(
            &http,
            clock(),
            Duration::from_millis(200),
            std::future::pending(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Timeout(_)), "{err}");
    let login = InteractiveLogin::start(settings(&emu), None).await.unwrap();
    let err = login
        .finish(&http, clock(), Duration::from_secs(30), async {})
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Cancelled), "{err}");
}

#[tokio::test]
async fn an_error_redirect_becomes_a_clear_message_with_the_admin_consent_url() {
    let emu = emulator().await;
    let login = InteractiveLogin::start(settings(&emu), None).await.unwrap();
    let mut redirect = url::Url::parse(login.redirect_uri()).unwrap();
    let state = login
        .authorize_url()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    redirect
        .query_pairs_mut()
        .append_pair("error", "consent_required")
        .append_pair(
            "error_description",
            "AADSTS65001: The user or administrator has not consented to use the application.",
        )
        .append_pair("state", &state);
    let http = oauth::http_client().unwrap();
    let (result, (status, _)) = tokio::join!(
        login.finish(
            &http,
            clock(),
            Duration::from_secs(10),
            std::future::pending()
        ),
        visit(&redirect)
    );
    assert_eq!(status, 200);
    let err = result.unwrap_err();
    assert_eq!(err.code(), presently_engine::ErrorCode::ConsentRequired);
    let text = err.to_string();
    assert!(text.contains("AADSTS65001"), "{text}");
    assert!(
        text.contains("/organizations/adminconsent?client_id="),
        "{text}"
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let emu = emulator().await;
    let clock = clock();
    let (manager, store) = sign_in(&emu, clock.clone()).await;
    let first_refresh = store.load().unwrap().unwrap().refresh_token;
    let first_access = manager.access_token().await.unwrap();
    // Still fresh: no refresh.
    assert_eq!(
        manager.access_token().await.unwrap().expose_secret(),
        first_access.expose_secret()
    );
    // Within five minutes of expiry: refreshed ahead of time.
    clock.advance(chrono::Duration::minutes(56));
    let second_access = manager.access_token().await.unwrap();
    assert_ne!(second_access.expose_secret(), first_access.expose_secret());
    let second_refresh = store.load().unwrap().unwrap().refresh_token;
    assert_ne!(
        second_refresh.expose_secret(),
        first_refresh.expose_secret(),
        "rotated token stored"
    );
    let http = oauth::http_client().unwrap();
    let err = oauth::refresh(&settings(&emu), &http, clock.as_ref(), &first_refresh)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        presently_engine::ErrorCode::ReauthRequired,
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let emu = emulator().await;
    let clock = clock();
    let (manager, _store) = sign_in(&emu, clock.clone()).await;
    clock.advance(chrono::Duration::hours(2));
    let before = emu.control().request_count();
    let (a, b, c) = tokio::join!(
        manager.access_token(),
        manager.access_token(),
        manager.access_token()
    );
    let requests = emu.control().request_count() - before;
    assert_eq!(requests, 1, "three callers, one refresh request");
    let a = a.unwrap();
    assert_eq!(a.expose_secret(), b.unwrap().expose_secret());
    assert_eq!(a.expose_secret(), c.unwrap().expose_secret());
}

#[tokio::test]
async fn a_token_rotated_by_another_process_is_picked_up() {
    let emu = emulator().await;
    let clock = clock();
    let (manager, store) = sign_in(&emu, clock.clone()).await;
    // Another process (sharing the keyring entry) refreshes first and stores the rotated token.
    let other = TokenManager::new(
        settings(&emu),
        store.clone(),
        clock.clone() as Arc<dyn Clock>,
    )
    .unwrap();
    clock.advance(chrono::Duration::hours(2));
    other.access_token().await.unwrap();
    // Ours re-reads the store before refreshing, so it uses the live token, not its stale one.
    manager.access_token().await.unwrap();
}

#[tokio::test]
async fn device_flow_pending_slow_down_then_success() {
    let emu = emulator().await;
    emu.control().set_device_code_script(vec![
        DeviceStep::Pending,
        DeviceStep::SlowDown,
        DeviceStep::Approve,
    ]);
    let http = oauth::http_client().unwrap();
    let login = DeviceLogin::start(settings(&emu), &http).await.unwrap();
    assert!(!login.user_code().is_empty());
    assert!(login.instructions().contains(login.user_code()));
    let waits = Arc::new(Mutex::new(Vec::new()));
    let recorded = waits.clone();
    let signed_in = login
        .finish(&http, clock(), move |d| {
            recorded.lock().unwrap().push(d.as_secs());
            async {}
        })
        .await
        .unwrap();
    assert!(signed_in.refresh_token.is_some());
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!(
        waits[1],
        waits[0] + 5,
        "slow_down adds five seconds: {waits:?}"
    );
}

#[tokio::test]
async fn device_flow_expired_and_declined_stop_with_a_message() {
    let emu = emulator().await;
    let http = oauth::http_client().unwrap();
    for (step, expected) in [
        (DeviceStep::Expire, "expired"),
        (DeviceStep::Decline, "declined"),
    ] {
        emu.control()
            .set_device_code_script(vec![DeviceStep::Pending, step]);
        let login = DeviceLogin::start(settings(&emu), &http).await.unwrap();
        let err = login
            .finish(&http, clock(), |_| async {})
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}
