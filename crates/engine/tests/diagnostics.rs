#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
//! Sign-in diagnostics, proven against errors the emulator produces the way the identity
//! platform does: each known AADSTS code comes out of the real engine flow (authorization
//! code + PKCE through the loopback listener, a token refresh, or the device code flow) as
//! an `ApiError` whose `help` says what happened and what to do next — and never quotes the
//! server's `error_description`.
//!
//! Errors the platform shows on its own page instead of redirecting (AADSTS50011,
//! AADSTS700016, AADSTS7000112 at `/authorize`) never reach the loopback listener: the
//! sign-in ends as `login_timeout` (or `login_cancelled`), with a help that names those
//! codes and the exact redirect URI to register.

mod common;

use common::{clock, config_for};
use presently_emulator::{DeviceStep, Emulator, EmulatorConfig, Fault, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::entra::ErrorHelp;
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::{ApiError, Engine, EngineSetup, Error, ErrorCode, FixedClock};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Text the service puts in every `error_description`, and never in ours.
const DESCRIPTION_MARKERS: &[&str] = &["Trace ID", "Correlation ID", "Timestamp:"];

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        today: common::TODAY.parse().unwrap(),
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// An engine on `emu`, not signed in.
fn engine_with(dir: &Path, config: Config, clock: Arc<FixedClock>) -> Engine {
    Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock,
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What the fake browser saw.
#[derive(Debug)]
enum Browsed {
    /// The identity platform redirected to the loopback listener, which answered this.
    Redirected(u16),
    /// The identity platform showed its own page (status, body); nothing reached the
    /// listener.
    Page(u16, String),
}

/// Plays the browser: opens the authorize URL and follows a redirect to the loopback
/// listener (via 127.0.0.1, as a browser resolving localhost would reach it).
async fn browse(url: &url::Url) -> Browsed {
    let http = no_redirects();
    let answer = http.get(url.clone()).send().await.unwrap();
    if answer.status() != 302 {
        let status = answer.status().as_u16();
        return Browsed::Page(status, answer.text().await.unwrap());
    }
    let location = answer.headers()["location"].to_str().unwrap();
    let mut target = url::Url::parse(location).unwrap();
    target.set_host(Some("127.0.0.1")).unwrap();
    Browsed::Redirected(http.get(target).send().await.unwrap().status().as_u16())
}

/// An interactive sign-in through the engine: the browser plays its part while the engine
/// waits for the loopback redirect (at most `timeout`).
async fn interactive(engine: &Engine, timeout: Duration) -> (ApiError, Browsed, String) {
    let login = engine.start_sign_in().await.unwrap();
    let url = login.authorize_url().clone();
    let redirect_uri = login.redirect_uri().to_owned();
    let (result, browsed) = tokio::join!(
        engine.finish_sign_in(login, timeout, std::future::pending()),
        browse(&url)
    );
    (ApiError::from(result.unwrap_err()), browsed, redirect_uri)
}

/// A signed-in engine whose access token is due for a refresh: `access_token` goes to the
/// token endpoint with the refresh token.
async fn signed_in(emu: &Emulator, dir: &Path) -> (Engine, Arc<FixedClock>) {
    let clock = clock();
    let engine = common::engine(emu, dir, config_for(emu), clock.clone()).await;
    clock.advance(chrono::Duration::hours(2));
    (engine, clock)
}

async fn refresh_error(engine: &Engine) -> ApiError {
    ApiError::from(engine.access_token().await.unwrap_err())
}

/// The error's help, checked against the service's description text.
fn help_of<'a>(err: &'a ApiError, leaks: &[&str]) -> &'a ErrorHelp {
    let json = serde_json::to_string(err).unwrap();
    for text in DESCRIPTION_MARKERS.iter().chain(leaks) {
        assert!(!json.contains(text), "{text:?} leaked: {json}");
    }
    err.help
        .as_deref()
        .unwrap_or_else(|| panic!("no help: {err:?}"))
}

fn admin_consent_url(emu: &Emulator, tenant: &str) -> String {
    format!(
        "{}/{tenant}/adminconsent?client_id={DEMO_CLIENT_ID}",
        emu.base_url()
    )
}

#[tokio::test]
async fn consent_revoked_after_sign_in_asks_for_consent_with_the_admin_consent_url() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = signed_in(&emu, dir.path()).await;
    emu.control().push_fault(Fault::ConsentRequired);

    let err = refresh_error(&engine).await;
    assert_eq!(err.code, ErrorCode::ConsentRequired, "{err:?}");
    let help = help_of(&err, &["has not consented to use the application"]);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS65001"));
    assert_eq!(
        help.title,
        "Presently has not been given permission to use your account"
    );
    let url = admin_consent_url(&emu, "organizations");
    assert_eq!(help.admin_consent_url.as_deref(), Some(url.as_str()));
    assert!(help.next_step.starts_with("Sign in again and accept"));
    assert!(help.next_step.ends_with(&url), "{}", help.next_step);
    assert!(err.message.contains(&url));
    assert_eq!(help.redirect_uri, None);

    // Signing in again goes through /authorize, which redirects the same error back.
    let (err, browsed, _) = interactive(&engine, Duration::from_secs(10)).await;
    assert!(matches!(browsed, Browsed::Redirected(200)), "{browsed:?}");
    assert_eq!(err.code, ErrorCode::ConsentRequired);
    let help = help_of(&err, &["has not consented to use the application"]);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS65001"));
    assert_eq!(help.admin_consent_url.as_deref(), Some(url.as_str()));
}

#[tokio::test]
async fn a_tenant_without_user_consent_needs_an_administrator() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    emu.control().set_user_consent_allowed(false);
    let engine = engine_with(dir.path(), config_for(&emu), clock());
    let url = admin_consent_url(&emu, "organizations");

    let (err, browsed, _) = interactive(&engine, Duration::from_secs(10)).await;
    assert!(matches!(browsed, Browsed::Redirected(200)), "{browsed:?}");
    assert_eq!(err.code, ErrorCode::ConsentRequired, "{err:?}");
    let help = help_of(&err, &["The grant requires admin permission"]);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS90094"));
    assert_eq!(
        help.title,
        "Your organization requires an administrator to approve Presently"
    );
    assert_eq!(help.admin_consent_url.as_deref(), Some(url.as_str()));
    assert!(help.next_step.contains(&url));

    // With the admin consent workflow the user can request approval: AADSTS90095.
    emu.control().set_admin_consent_workflow(true);
    let (err, _, _) = interactive(&engine, Duration::from_secs(10)).await;
    assert_eq!(err.code, ErrorCode::ConsentRequired);
    let help = help_of(&err, &["An admin consent request may be sent"]);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS90095"));
    assert_eq!(
        help.title,
        "Presently is waiting for an administrator's approval"
    );
    assert_eq!(help.admin_consent_url.as_deref(), Some(url.as_str()));

    // Once an administrator consented, sign-in works.
    emu.control()
        .set_app_admin_consent(DEMO_CLIENT_ID, true)
        .unwrap();
    let login = engine.start_sign_in().await.unwrap();
    let url = login.authorize_url().clone();
    let (result, browsed) = tokio::join!(
        engine.finish_sign_in(login, Duration::from_secs(10), std::future::pending()),
        browse(&url)
    );
    assert!(matches!(browsed, Browsed::Redirected(200)), "{browsed:?}");
    result.unwrap();
}

#[tokio::test]
async fn the_admin_consent_url_names_the_configured_directory() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    emu.control().set_user_consent_allowed(false);
    let mut config = config_for(&emu);
    config.microsoft.tenant = presently_emulator::DEMO_TENANT_DOMAIN.to_owned();
    let engine = engine_with(dir.path(), config, clock());
    let (err, _, _) = interactive(&engine, Duration::from_secs(10)).await;
    let help = help_of(&err, &[]);
    assert_eq!(
        help.admin_consent_url.as_deref(),
        Some(admin_consent_url(&emu, presently_emulator::DEMO_TENANT_DOMAIN).as_str())
    );
}

#[tokio::test]
async fn a_disabled_application_is_explained_at_refresh_and_device_code() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = signed_in(&emu, dir.path()).await;
    emu.control()
        .set_app_enabled(DEMO_CLIENT_ID, false)
        .unwrap();
    let leaks = ["(Presently) is disabled"];

    let err = refresh_error(&engine).await;
    assert_eq!(err.code, ErrorCode::AuthRefused, "{err:?}");
    let help = help_of(&err, &leaks);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS7000112"));
    assert_eq!(
        help.title,
        "The application has been disabled in your organization"
    );
    assert!(help
        .next_step
        .starts_with("Ask your IT administrator to enable"));
    assert!(help.next_step.contains(DEMO_CLIENT_ID));
    assert_eq!(help.admin_consent_url, None);

    let err = ApiError::from(engine.start_device_sign_in().await.err().unwrap());
    assert_eq!(err.code, ErrorCode::AuthRefused);
    assert_eq!(
        help_of(&err, &leaks).aadsts.as_deref(),
        Some("AADSTS7000112")
    );

    // Interactively, the platform shows the code on its page and never redirects.
    let (err, browsed, redirect_uri) = interactive(&engine, Duration::from_millis(1500)).await;
    let Browsed::Page(status, page) = browsed else {
        panic!("{browsed:?}")
    };
    assert_eq!(status, 400);
    assert!(page.contains("AADSTS7000112"), "{page}");
    assert_eq!(err.code, ErrorCode::LoginTimeout);
    let help = help_of(&err, &leaks);
    assert_eq!(help.aadsts, None);
    assert!(help.next_step.contains("AADSTS7000112"));
    assert!(redirect_uri.starts_with("http://localhost:"));
}

#[tokio::test]
async fn an_unregistered_redirect_uri_times_out_with_the_exact_uri_to_add() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    // The registration has only a web-style path: Presently's loopback URI is missing.
    emu.control()
        .set_app_redirect_uris(DEMO_CLIENT_ID, &["http://localhost/callback"])
        .unwrap();
    let engine = engine_with(dir.path(), config_for(&emu), clock());

    let (err, browsed, sent) = interactive(&engine, Duration::from_millis(1500)).await;
    // The platform shows AADSTS50011 on its page; the loopback listener never hears of it.
    let Browsed::Page(status, page) = browsed else {
        panic!("{browsed:?}")
    };
    assert_eq!(status, 400);
    assert!(page.contains("AADSTS50011"), "{page}");
    assert!(
        sent.starts_with("http://localhost:") && sent.ends_with('/'),
        "{sent}"
    );
    assert!(
        emu.control()
            .request_log()
            .iter()
            .all(|r| !r.path.ends_with("/token")),
        "no code, no token request"
    );

    assert_eq!(err.code, ErrorCode::LoginTimeout, "{err:?}");
    let help = help_of(&err, &["specified in the request does not match"]);
    assert_eq!(help.redirect_uri.as_deref(), Some("http://localhost/"));
    assert_eq!(help.title, "Sign-in did not come back to Presently");
    assert!(help
        .next_step
        .contains("AADSTS50011: an administrator adds the redirect URI http://localhost/"));
    assert!(help.next_step.contains("the port does not matter"));
    assert!(help.next_step.contains("http://127.0.0.1"));
    assert!(help.next_step.contains("AADSTS700016"));

    // A custom redirect path is named exactly as Presently sends it.
    let mut config = config_for(&emu);
    config.microsoft.redirect_path = "/presently".to_owned();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(dir.path(), config, clock());
    let (err, _, _) = interactive(&engine, Duration::from_millis(1500)).await;
    assert_eq!(
        help_of(&err, &[]).redirect_uri.as_deref(),
        Some("http://localhost/presently")
    );

    // Registering the URI (any port) fixes it.
    emu.control()
        .set_app_redirect_uris(DEMO_CLIENT_ID, &["http://localhost/presently"])
        .unwrap();
    let login = engine.start_sign_in().await.unwrap();
    let url = login.authorize_url().clone();
    let (result, _) = tokio::join!(
        engine.finish_sign_in(login, Duration::from_secs(10), std::future::pending()),
        browse(&url)
    );
    result.unwrap();
}

#[tokio::test]
async fn a_cancelled_sign_in_carries_the_same_help() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    emu.control()
        .set_app_redirect_uris(DEMO_CLIENT_ID, &["http://127.0.0.1/"])
        .unwrap();
    let engine = engine_with(dir.path(), config_for(&emu), clock());
    let login = engine.start_sign_in().await.unwrap();
    let url = login.authorize_url().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cancel = async move {
        let _ = rx.await;
    };
    let browser = async {
        let browsed = browse(&url).await;
        // The user read the page and cancels the sign-in in the app.
        tx.send(()).unwrap();
        browsed
    };
    let (result, browsed) = tokio::join!(
        engine.finish_sign_in(login, Duration::from_secs(30), cancel),
        browser
    );
    assert!(matches!(browsed, Browsed::Page(400, ref p) if p.contains("AADSTS50011")));
    let err = ApiError::from(result.unwrap_err());
    assert_eq!(err.code, ErrorCode::LoginCancelled);
    assert_eq!(
        help_of(&err, &[]).redirect_uri.as_deref(),
        Some("http://localhost/")
    );
}

#[tokio::test]
async fn a_single_tenant_application_via_a_multi_tenant_endpoint() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    emu.control()
        .set_app_sign_in_audience(DEMO_CLIENT_ID, "AzureADMyOrg")
        .unwrap();
    let leaks = ["is not configured as a multi-tenant application"];
    for tenant in ["organizations", "common"] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_for(&emu);
        config.microsoft.tenant = tenant.to_owned();
        let engine = engine_with(dir.path(), config, clock());

        // After the user signed in, /authorize redirects back with the error.
        let (err, browsed, _) = interactive(&engine, Duration::from_secs(10)).await;
        assert!(matches!(browsed, Browsed::Redirected(200)), "{browsed:?}");
        assert_eq!(err.code, ErrorCode::AuthRefused, "{err:?}");
        let help = help_of(&err, &leaks);
        assert_eq!(help.aadsts.as_deref(), Some("AADSTS50194"));
        assert_eq!(
            help.title,
            "This application is registered for a single organization"
        );
        assert!(help
            .next_step
            .contains(&format!("directory ID or domain instead of \"{tenant}\"")));

        let err = ApiError::from(engine.start_device_sign_in().await.err().unwrap());
        assert_eq!(help_of(&err, &leaks).aadsts.as_deref(), Some("AADSTS50194"));
    }

    // The tenant-specific endpoint works.
    let mut config = config_for(&emu);
    config.microsoft.tenant = presently_emulator::DEMO_TENANT_ID.to_owned();
    let engine = engine_with(dir.path(), config, clock());
    let login = engine.start_sign_in().await.unwrap();
    let url = login.authorize_url().clone();
    let (result, _) = tokio::join!(
        engine.finish_sign_in(login, Duration::from_secs(10), std::future::pending()),
        browse(&url)
    );
    result.unwrap();
}

#[tokio::test]
async fn a_work_only_application_via_the_consumers_endpoint() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&emu);
    config.microsoft.tenant = "consumers".to_owned();
    let engine = engine_with(dir.path(), config, clock());
    let leaks = ["is configured for use by Azure Active Directory users only"];

    let err = ApiError::from(engine.start_device_sign_in().await.err().unwrap());
    assert_eq!(err.code, ErrorCode::AuthRefused, "{err:?}");
    let help = help_of(&err, &leaks);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS9002332"));
    assert_eq!(
        help.title,
        "This application accepts work or school accounts only"
    );
    assert!(help.next_step.contains("set it to \"organizations\""));

    let (err, browsed, _) = interactive(&engine, Duration::from_secs(10)).await;
    assert!(matches!(browsed, Browsed::Redirected(200)), "{browsed:?}");
    assert_eq!(
        help_of(&err, &leaks).aadsts.as_deref(),
        Some("AADSTS9002332")
    );
}

#[tokio::test]
async fn conditional_access_blocks_say_whom_to_ask() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = signed_in(&emu, dir.path()).await;
    emu.control().push_fault(Fault::ConditionalAccessBlock {
        managed_device_required: false,
    });
    let leaks = ["The access policy does not allow token issuance"];

    // The refresh is refused with invalid_grant: explained as the block, not as a dead
    // sign-in (signing in again would not help).
    let err = refresh_error(&engine).await;
    assert_eq!(err.code, ErrorCode::AuthRefused, "{err:?}");
    let help = help_of(&err, &leaks);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS53003"));
    assert_eq!(
        help.title,
        "Your organization's Conditional Access policy blocked this sign-in"
    );
    assert!(help
        .next_step
        .starts_with("Ask your IT department or administrator"));
    assert!(help.next_step.contains("device") && help.next_step.contains("location"));
    assert_eq!(help.admin_consent_url, None);

    // Interactively: redirected back with access_denied.
    let (err, browsed, _) = interactive(&engine, Duration::from_secs(10)).await;
    assert!(matches!(browsed, Browsed::Redirected(200)), "{browsed:?}");
    assert_eq!(err.code, ErrorCode::AuthRefused);
    assert_eq!(help_of(&err, &leaks).aadsts.as_deref(), Some("AADSTS53003"));

    // Device code: the block comes with the poll after the user signed in.
    emu.control()
        .set_device_code_script(vec![DeviceStep::Approve]);
    let login = engine.start_device_sign_in().await.unwrap();
    let err = ApiError::from(engine.finish_device_sign_in(login).await.unwrap_err());
    assert_eq!(err.code, ErrorCode::AuthRefused, "{err:?}");
    assert_eq!(help_of(&err, &leaks).aadsts.as_deref(), Some("AADSTS53003"));

    // A policy that wants a managed device: AADSTS530003.
    emu.control().clear_faults();
    emu.control().push_fault(Fault::ConditionalAccessBlock {
        managed_device_required: true,
    });
    let err = refresh_error(&engine).await;
    let help = help_of(&err, &["Your device is required to be managed"]);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS530003"));
    assert_eq!(
        help.title,
        "Your organization allows this sign-in only from a managed device"
    );
    assert!(help.next_step.starts_with("Ask your IT department"));

    // Cleared: the same refresh token works again (it was not spent by the refusals).
    emu.control().clear_faults();
    engine.access_token().await.unwrap();
}

#[tokio::test]
async fn an_unknown_application_is_explained_with_its_ids() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&emu);
    let unknown = "00000000-0000-0000-0000-0000000000aa";
    config.microsoft.client_id = Some(unknown.to_owned());
    let engine = engine_with(dir.path(), config, clock());
    let leaks = ["This can happen if the application has not been installed"];

    let err = ApiError::from(engine.start_device_sign_in().await.err().unwrap());
    assert_eq!(err.code, ErrorCode::AuthRefused, "{err:?}");
    let help = help_of(&err, &leaks);
    assert_eq!(help.aadsts.as_deref(), Some("AADSTS700016"));
    assert_eq!(help.title, "The application was not found in the directory");
    assert!(help.next_step.starts_with(&format!(
        "Check the application (client) ID {unknown} and the directory (tenant) ID \"organizations\""
    )));

    // Interactively: the platform's page, then a timeout naming the code.
    let (err, browsed, _) = interactive(&engine, Duration::from_millis(1500)).await;
    assert!(
        matches!(browsed, Browsed::Page(400, ref p) if p.contains("AADSTS700016")),
        "{browsed:?}"
    );
    assert_eq!(err.code, ErrorCode::LoginTimeout);
    let help = help_of(&err, &leaks);
    assert!(help
        .next_step
        .contains(&format!("AADSTS700016: check the application ID {unknown}")));

    // The registration was deleted after sign-in: the refresh says the same.
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = signed_in(&emu, dir.path()).await;
    emu.control().remove_app(DEMO_CLIENT_ID).unwrap();
    let err = refresh_error(&engine).await;
    assert_eq!(err.code, ErrorCode::AuthRefused);
    assert_eq!(
        help_of(&err, &leaks).aadsts.as_deref(),
        Some("AADSTS700016")
    );
}

#[tokio::test]
async fn api_error_json_carries_help_in_the_ui_contract_shape() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    emu.control().set_user_consent_allowed(false);
    let engine = engine_with(dir.path(), config_for(&emu), clock());
    let (err, _, _) = interactive(&engine, Duration::from_secs(10)).await;
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["code"], "consent_required");
    let help = json["help"].as_object().unwrap();
    let mut keys: Vec<&str> = help.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["aadsts", "admin_consent_url", "next_step", "title"],
        "{json}"
    );
    assert_eq!(help["aadsts"], "AADSTS90094");
    assert_eq!(
        help["admin_consent_url"],
        admin_consent_url(&emu, "organizations")
    );

    // Errors without an explanation keep the two-field shape.
    let plain = ApiError::from(Error::InvalidInput("x".into()));
    assert_eq!(
        serde_json::to_value(plain)
            .unwrap()
            .as_object()
            .unwrap()
            .len(),
        2
    );
}
