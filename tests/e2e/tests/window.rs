//! The real Presently window, driven through tauri-driver and WebKitWebDriver: in demo mode,
//! and on a first launch that signs in to an emulator of Microsoft 365.
//!
//! Needs a display (Xvfb), a session bus, `tauri-driver` and a built `presently-app`; the
//! sign-in test also needs an unlocked Secret Service keyring (gnome-keyring) in that
//! session. Run them with `scripts/test-e2e.sh`. Missing prerequisites fail the test with a
//! message saying what is missing.
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use fantoccini::{Client, Locator};
use presently_e2e::{missing_for_window, workspace_root, POLICY_APP_NAME};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the demo week may take to appear.
const RENDER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long tauri-driver may take to accept connections.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(20);

fn app_binary() -> PathBuf {
    std::env::var_os("PRESENTLY_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| presently_e2e::target_dir().join("debug/presently-app"))
}

/// Everything the test needs, or a message naming each missing piece.
fn prerequisites() -> (PathBuf, PathBuf) {
    let app = app_binary();
    let (missing, driver) = missing_for_window(&app, "cargo build -p presently-app");
    assert!(
        missing.is_empty(),
        "the end-to-end test cannot run (use scripts/test-e2e.sh):\n  - {}",
        missing.join("\n  - ")
    );
    (driver.unwrap_or_default(), app)
}

/// tauri-driver for one test; `env` reaches the app through WebKitWebDriver.
struct Driver(presently_e2e::Driver);

impl Driver {
    fn spawn(binary: &Path, env: &[(&str, &std::ffi::OsStr)], log: &Path) -> Self {
        Driver(presently_e2e::Driver::spawn(binary, log, |command| {
            command
                .env_remove("PRESENTLY_DEMO")
                .env_remove("PRESENTLY_CONFIG")
                .env_remove("BROWSER");
            for (name, value) in env {
                command.env(name, value);
            }
            command
                .env("RUST_LOG", "info")
                // A fixed locale, so the page (and the screenshot) look the same everywhere.
                // It also keeps the POSIX "C" locale out, whose tag `Intl` rejects.
                .env("LANG", "en_US.UTF-8")
                .env("LANGUAGE", "en_US")
                .env_remove("LC_ALL");
        }))
    }

    async fn wait_until_ready(&mut self) {
        self.0.wait_until_ready(DRIVER_TIMEOUT).await;
    }
}

async fn connect(driver: &Driver, app: &Path, args: &[&str]) -> Client {
    driver.0.connect(app, args).await
}

async fn texts(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        if let Ok(text) = element.text().await {
            out.push(text);
        }
    }
    out
}

/// The demo week: waits for the agenda, checks it and photographs it.
async fn demo_week_renders(client: &Client, artifacts: &Path) {
    let deadline = Instant::now() + RENDER_TIMEOUT;
    let items = loop {
        let items = client
            .find_all(Locator::Css(r#"[data-testid="item"]"#))
            .await
            .unwrap_or_default();
        // On screen, not only in the page: the window is shown once the page has built its
        // first view, and WebDriver reads no text from a hidden window.
        let shown = match items.first() {
            Some(item) => item.is_displayed().await.unwrap_or(false),
            None => false,
        };
        if items.len() > 5 && shown {
            break items;
        }
        if Instant::now() >= deadline {
            let body = match client.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if let Ok(png) = client.screenshot().await {
                let _ = std::fs::write(artifacts.join("app-agenda-timeout.png"), png);
            }
            panic!(
                "the demo agenda did not render within {RENDER_TIMEOUT:?}: {} items; page text:\n{body}",
                items.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // The page draws the agenda from the window's boot data, then fetches it again and may
    // redraw it: an element read across that redraw is stale, so read until every subject
    // was read in one pass.
    let subjects = loop {
        let subjects = texts(client, r#"[data-testid="item-subject"]"#).await;
        if subjects.len() == items.len() && subjects.iter().all(|s| !s.is_empty())
            || Instant::now() >= deadline
        {
            break subjects;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("{} items rendered; subjects: {subjects:?}", items.len());
    assert!(
        subjects
            .iter()
            .any(|s| s.to_lowercase().contains("stand-up")),
        "no stand-up in the demo week: {subjects:?}"
    );
    assert!(
        items.len() > 5,
        "expected more than 5 items, got {}",
        items.len()
    );
    // The window reports demo mode (the badge is shown once the status says demo).
    let demo_badge = client
        .find(Locator::Css(r#"[data-testid="demo"]"#))
        .await
        .expect("the demo badge exists");
    assert!(
        demo_badge.is_displayed().await.unwrap_or(false),
        "the demo badge is hidden"
    );
}

/// A stand-in for the user's browser, reached the way the app's opener reaches one: xdg-open
/// looks up the `https` handler in `$XDG_CONFIG_HOME/mimeapps.list` and runs the desktop
/// entry in `$XDG_DATA_HOME/applications`, which appends each URL it is given to `opened.log`.
struct FakeBrowser {
    config_home: PathBuf,
    data_home: PathBuf,
    log: PathBuf,
}

impl FakeBrowser {
    fn install(dir: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let config_home = dir.join("xdg-config");
        let data_home = dir.join("xdg-data");
        let apps = data_home.join("applications");
        std::fs::create_dir_all(&config_home).expect("config home");
        std::fs::create_dir_all(&apps).expect("applications dir");
        let log = dir.join("opened.log");
        let script = dir.join("fake-browser.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$1\" >> '{}'\n", log.display()),
        )
        .expect("write the fake browser");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("make the fake browser executable");
        std::fs::write(
            apps.join("presently-test-browser.desktop"),
            format!(
                "[Desktop Entry]\nType=Application\nName=Test browser\nExec={} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\n",
                script.display()
            ),
        )
        .expect("write the desktop entry");
        std::fs::write(
            config_home.join("mimeapps.list"),
            "[Default Applications]\nx-scheme-handler/https=presently-test-browser.desktop\nx-scheme-handler/http=presently-test-browser.desktop\n",
        )
        .expect("write mimeapps.list");
        FakeBrowser {
            config_home,
            data_home,
            log,
        }
    }

    /// The URLs opened so far, waiting up to 10 s for at least `min`.
    async fn opened(&self, min: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines: Vec<String> = std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect();
            if lines.len() >= min || Instant::now() >= deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Open in Outlook: the app's opener gets Outlook on the web's URL for the appointment.
async fn open_goes_to_outlook(client: &Client, browser: &FakeBrowser) {
    let item = client
        .find(Locator::Css(r#"[data-testid="item"]"#))
        .await
        .expect("an appointment");
    let id = item
        .attr("data-id")
        .await
        .expect("read data-id")
        .expect("the item has an id");
    item.click().await.expect("open the detail pane");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            r#"[data-testid="detail"] [data-testid="open"]"#,
        ))
        .await
        .expect("the Open in Outlook button")
        .click()
        .await
        .expect("click Open in Outlook");
    let opened = browser.opened(1).await;
    let expected = format!(
        "https://outlook.office365.com/calendar/item/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    assert_eq!(opened, vec![expected], "the opener got another URL");
    // Close the pane again (Escape), so the agenda is photographed whole.
    let _ = client
        .execute(
            "document.querySelector('[data-testid=\"detail-close\"]')?.click()",
            vec![],
        )
        .await;
}

/// Opens the settings page and waits for `ready` (a CSS selector) to be on it.
async fn open_settings(client: &Client, artifacts: &Path, ready: &str) {
    click(client, "open-settings").await;
    wait_for(
        client,
        ready,
        1,
        RENDER_TIMEOUT,
        artifacts,
        "app-settings-timeout.png",
    )
    .await;
}

/// Clicks the element with this `data-testid`.
async fn click(client: &Client, testid: &str) {
    client
        .find(Locator::Css(&format!(r#"[data-testid="{testid}"]"#)))
        .await
        .unwrap_or_else(|e| panic!("no {testid}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {testid}: {e}"));
}

/// Switches the UI language on the settings page and comes back to the agenda.
async fn switch_language(client: &Client, artifacts: &Path, language: &str) {
    open_settings(
        client,
        artifacts,
        r#"[data-testid="language"] select, select[data-testid="language"]"#,
    )
    .await;
    // Chosen as a keyboard user would (focus, then the value), which raises `change`; a
    // pointer click on the option is intercepted by WebKit's native popup. The element is
    // looked up in the page itself: the settings page re-renders once it has loaded.
    let chosen = client
        .execute(
            "const el = document.querySelector('[data-testid=\"language\"] select, select[data-testid=\"language\"]'); \
             el.focus(); el.value = arguments[0]; \
             el.dispatchEvent(new Event('input', {bubbles: true})); \
             el.dispatchEvent(new Event('change', {bubbles: true})); return el.value",
            vec![serde_json::json!(language)],
        )
        .await
        .expect("choose the language");
    assert_eq!(chosen.as_str(), Some(language));
    click(client, "settings-save").await;
    // The page re-renders in the new language, then Back returns to the agenda.
    let back = wait_for(
        client,
        r#"[data-testid="settings-back"]"#,
        1,
        RENDER_TIMEOUT,
        artifacts,
        "app-settings-timeout.png",
    )
    .await
    .remove(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lang = client
            .execute("return document.documentElement.lang", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if lang.starts_with(language) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not switch to {language} (lang={lang:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let back = match back.click().await {
        Ok(_) => return,
        Err(_) => back,
    };
    drop(back);
    client
        .find(Locator::Css(r#"[data-testid="settings-back"]"#))
        .await
        .expect("the Back button after the re-render")
        .click()
        .await
        .expect("back to the agenda");
}

async fn screenshot(client: &Client, artifacts: &Path, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let shot = artifacts.join(name);
    std::fs::write(&shot, png).expect("write the screenshot");
    println!("screenshot: {}", shot.display());
}

/// The demo in one theme: the week renders (English), Open in Outlook reaches the opener
/// with the right URL, the language switches to German on the settings page, and the
/// agenda is photographed in both languages.
/// The probe the UI tests run in Chromium (`ui/tests/layout-probe.js`), here in WebKitGTK at
/// the size the window opens at (420 × 640): times on one line, the row's hover tint across
/// the Join column, header and search staying while the agenda scrolls with no blank past
/// its end, tooltips inside the window, the account name whole beside a status.
const LAYOUT_PROBE: &str = include_str!("../../../ui/tests/layout-probe.js");

async fn layout_is_clean(client: &Client, language: &str) {
    let layout = client
        .execute(LAYOUT_PROBE, vec![])
        .await
        .expect("run the layout probe");
    assert!(
        layout["texts"].as_u64().unwrap_or(0) > 20,
        "the probe saw the agenda's text ({language}): {layout}"
    );
    assert_eq!(
        layout["problems"],
        serde_json::json!([]),
        "the agenda's layout in the real window ({language}): {layout}"
    );
}

async fn demo_in_theme(dark: bool) {
    let (driver_bin, app) = prerequisites();
    let artifacts = workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("test-artifacts directory");
    let scratch = tempfile::tempdir().expect("temporary directory");
    let data_dir = scratch.path().join("data");
    let browser = FakeBrowser::install(scratch.path());
    let theme = if dark { "dark" } else { "light" };
    let log = artifacts.join(format!("tauri-driver-demo-{theme}.log"));
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("PRESENTLY_DEMO", "1".as_ref()),
        ("PRESENTLY_DATA_DIR", data_dir.as_os_str()),
        ("XDG_CONFIG_HOME", browser.config_home.as_os_str()),
        ("XDG_DATA_HOME", browser.data_home.as_os_str()),
    ];
    if dark {
        // WebKitGTK answers prefers-color-scheme from the GTK theme.
        env.push(("GTK_THEME", "Adwaita:dark".as_ref()));
    }
    let mut driver = Driver::spawn(&driver_bin, &env, &log);
    driver.wait_until_ready().await;
    let client = connect(&driver, &app, &["--demo"]).await;

    // Run the checks as a task so a failure still closes the session before the panic
    // is passed on; `driver` ends the processes when it drops either way.
    let checks = {
        let client = client.clone();
        let artifacts = artifacts.clone();
        tokio::spawn(async move {
            demo_week_renders(&client, &artifacts).await;
            let scheme = client
                .execute(
                    "return matchMedia('(prefers-color-scheme: dark)').matches",
                    vec![],
                )
                .await
                .expect("read the colour scheme");
            assert_eq!(scheme.as_bool(), Some(dark), "the page's colour scheme");
            screenshot(&client, &artifacts, &format!("app-agenda-{theme}-en.png")).await;
            layout_is_clean(&client, "English").await;
            if !dark {
                open_goes_to_outlook(&client, &browser).await;
            }
            switch_language(&client, &artifacts, "de").await;
            wait_for(
                &client,
                r#"[data-testid="item"]"#,
                1,
                RENDER_TIMEOUT,
                &artifacts,
                "app-agenda-de-timeout.png",
            )
            .await;
            let page = client
                .find(Locator::Css("body"))
                .await
                .expect("the page")
                .text()
                .await
                .unwrap_or_default();
            assert!(
                page.contains("Heute"),
                "the agenda is not in German:\n{page}"
            );
            screenshot(&client, &artifacts, &format!("app-agenda-{theme}-de.png")).await;
            layout_is_clean(&client, "German").await;
        })
    };
    let outcome = checks.await;
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("--- tauri-driver / app output ---\n{log_text}");
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run with scripts/test-e2e.sh"]
async fn demo_week_renders_opens_outlook_and_speaks_german_light() {
    demo_in_theme(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run with scripts/test-e2e.sh"]
async fn demo_week_renders_in_the_dark_theme_in_english_and_german() {
    demo_in_theme(true).await;
}

/// Waits until `css` matches at least `min` elements; on timeout, photographs the window as
/// `timeout_shot` and fails with the page text.
async fn wait_for(
    client: &Client,
    css: &str,
    min: usize,
    timeout: Duration,
    artifacts: &Path,
    timeout_shot: &str,
) -> Vec<fantoccini::elements::Element> {
    let deadline = Instant::now() + timeout;
    loop {
        let found = client.find_all(Locator::Css(css)).await.unwrap_or_default();
        if found.len() >= min {
            return found;
        }
        if Instant::now() >= deadline {
            let body = match client.find(Locator::Css("body")).await {
                Ok(b) => b.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if let Ok(png) = client.screenshot().await {
                let _ = std::fs::write(artifacts.join(timeout_shot), png);
            }
            panic!(
                "{css} did not appear {min} time(s) within {timeout:?} (found {}); page text:\n{body}",
                found.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A first launch: the consent screen names the configured app registration; "Sign in with
/// Microsoft" sends the system browser (a script playing it) to the emulator, which consents
/// at once; the first sync fills the agenda.
async fn first_launch_signs_in(
    client: &Client,
    artifacts: &Path,
    provisioned: bool,
    emulator: &presently_emulator::Control,
    config_home: &Path,
) {
    let shot = |name: &str| {
        if provisioned {
            format!("app-{name}-provisioned.png")
        } else {
            format!("app-{name}.png")
        }
    };
    if provisioned {
        // The organization's policy names the application: no form, its name is shown.
        let note = wait_for(
            client,
            r#"[data-testid="sign-in-screen"] [data-testid="policy-note"]"#,
            1,
            RENDER_TIMEOUT,
            artifacts,
            "app-first-launch-timeout.png",
        )
        .await
        .remove(0)
        .text()
        .await
        .unwrap_or_default();
        assert!(note.contains(POLICY_APP_NAME), "{note}");
        assert!(client
            .find(Locator::Css(r#"[data-testid="registration-form"]"#))
            .await
            .is_err());
    } else {
        // Nothing provisioned: the consent window asks for the IDs the admin gave.
        wait_for(
            client,
            r#"[data-testid="registration-form"]"#,
            1,
            RENDER_TIMEOUT,
            artifacts,
            "app-first-launch-timeout.png",
        )
        .await;
        screenshot(client, artifacts, "app-registration.png").await;
        let field = |id: &'static str| async move {
            client
                .find(Locator::Css(&format!(r#"[data-testid="{id}"]"#)))
                .await
                .unwrap_or_else(|_| panic!("the {id} field"))
        };
        // A client ID that is not a GUID is refused before anything is saved.
        field("reg-client-id")
            .await
            .send_keys("not-a-guid")
            .await
            .expect("type");
        field("reg-tenant")
            .await
            .send_keys("organizations")
            .await
            .expect("type");
        field("reg-save").await.click().await.expect("save");
        wait_for(
            client,
            r#"[data-testid="reg-client-id-error"]:not([hidden])"#,
            1,
            Duration::from_secs(10),
            artifacts,
            "app-registration-timeout.png",
        )
        .await;
        field("reg-client-id").await.clear().await.expect("clear");
        field("reg-client-id")
            .await
            .send_keys(presently_emulator::DEMO_CLIENT_ID)
            .await
            .expect("type");
        field("reg-save").await.click().await.expect("save");
    }
    wait_for(
        client,
        r#"[data-testid="sign-in-screen"] [data-testid="client-id"]"#,
        1,
        RENDER_TIMEOUT,
        artifacts,
        "app-first-launch-timeout.png",
    )
    .await;
    // The app read the policy or the configuration named in its environment, which
    // reached it through tauri-driver and WebKitWebDriver.
    let client_id = client
        .find(Locator::Css(r#"[data-testid="client-id"]"#))
        .await
        .expect("the application ID is shown")
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(client_id, presently_emulator::DEMO_CLIENT_ID);
    let screen = client
        .find(Locator::Css(r#"[data-testid="sign-in-screen"]"#))
        .await
        .expect("the consent screen")
        .text()
        .await
        .unwrap_or_default();
    assert!(screen.contains("Use a code instead"), "{screen}");
    screenshot(client, artifacts, &shot("sign-in")).await;

    client
        .find(Locator::Css(r#"[data-testid="sign-in"]"#))
        .await
        .expect("the Sign in with Microsoft button")
        .click()
        .await
        .expect("click Sign in with Microsoft");

    let items = wait_for(
        client,
        r#"[data-testid="item"]"#,
        1,
        RENDER_TIMEOUT,
        artifacts,
        "app-first-launch-timeout.png",
    )
    .await;
    // The first sync fills the agenda in steps (the next two weeks first, then the rest),
    // each re-rendered: elements found just before a re-render are stale, and `texts` skips
    // them (a CI run read one subject of 18 that way). So the subjects are read until the
    // stand-up shows, within the render time; what was read on the way is printed.
    let started = std::time::Instant::now();
    let mut seen: Vec<Vec<String>> = Vec::new();
    let subjects = loop {
        let subjects = texts(client, r#"[data-testid="item-subject"]"#).await;
        if seen.last() != Some(&subjects) {
            seen.push(subjects.clone());
        }
        if subjects
            .iter()
            .any(|s| s.to_lowercase().contains("stand-up"))
            || started.elapsed() > RENDER_TIMEOUT
        {
            break subjects;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    println!("signed in; {} items rendered: {subjects:?}", items.len());
    if seen.len() > 1 {
        println!("the agenda changed while it was read: {seen:?}");
    }
    assert!(
        subjects
            .iter()
            .any(|s| s.to_lowercase().contains("stand-up")),
        "no stand-up in the agenda: {subjects:?}"
    );
    screenshot(client, artifacts, &shot("first-launch")).await;

    // The account came from the emulator's /me (WebDriver's visible-text rules skip the
    // faint name, so read the DOM).
    let who = client
        .execute(
            "return document.querySelector('[data-testid=\"status\"] .status-who')?.textContent ?? null",
            vec![],
        )
        .await
        .expect("read the status line");
    assert_eq!(
        who.as_str(),
        Some("Megan Bowen"),
        "the status line names the signed-in user"
    );
    let demo_badge = client
        .find(Locator::Css(r#"[data-testid="demo"]"#))
        .await
        .expect("the demo badge exists");
    assert!(
        !demo_badge.is_displayed().await.unwrap_or(true),
        "not demo mode"
    );

    // A meeting added on the server appears after Sync now, without a reload.
    let marker = client
        .execute("window.__notReloaded = true; return true", vec![])
        .await
        .expect("mark the page");
    assert_eq!(marker.as_bool(), Some(true));
    let start = chrono_like_in_an_hour();
    emulator
        .add_event(serde_json::json!({
            "subject": "Added on the server",
            "start": {"dateTime": start.0, "timeZone": "UTC"},
            "end": {"dateTime": start.1, "timeZone": "UTC"},
            "showAs": "busy"
        }))
        .expect("add an event in the emulator");
    client
        .find(Locator::Css(r#"[data-testid="sync-now"]"#))
        .await
        .expect("the Sync now button")
        .click()
        .await
        .expect("click Sync now");
    let deadline = Instant::now() + RENDER_TIMEOUT;
    loop {
        let subjects = texts(client, r#"[data-testid="item-subject"]"#).await;
        if subjects.iter().any(|s| s == "Added on the server") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new meeting did not appear after Sync now: {subjects:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let same_page = client
        .execute("return window.__notReloaded === true", vec![])
        .await
        .expect("read the mark");
    assert_eq!(same_page.as_bool(), Some(true), "the page was reloaded");

    // Start at login, turned on in the settings, registers the app with the desktop.
    let autostart = config_home.join("autostart");
    assert!(!autostart.exists(), "no login item before");
    open_settings(client, artifacts, r#"[data-testid="start-at-login"]"#).await;
    let checked = client
        .execute(
            "const el = document.querySelector('[data-testid=\"start-at-login\"] input, input[data-testid=\"start-at-login\"]'); \
             el.click(); return el.checked",
            vec![],
        )
        .await
        .expect("tick Start at login");
    assert_eq!(checked.as_bool(), Some(true));
    click(client, "settings-save").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let entry = loop {
        let found = std::fs::read_dir(&autostart)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "desktop"));
        if let Some(found) = found {
            break found;
        }
        if Instant::now() >= deadline {
            let page = client
                .find(Locator::Css("body"))
                .await
                .expect("the page")
                .text()
                .await
                .unwrap_or_default();
            screenshot(client, artifacts, "app-settings-timeout.png").await;
            panic!(
                "no login item in {} after saving; page:\n{page}",
                autostart.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text = std::fs::read_to_string(&entry).expect("read the login item");
    assert!(text.contains("presently-app"), "{text}");
    // At login the app starts in the tray, without the window.
    let exec = text
        .lines()
        .find(|l| l.starts_with("Exec="))
        .unwrap_or_default();
    assert!(exec.ends_with(" --background"), "{text}");
    screenshot(client, artifacts, "app-settings.png").await;
    if !provisioned {
        two_accounts_in_the_window(client, artifacts).await;
    }
}

/// Two accounts (issue 22): Settings → Accounts adds a named account, signed in through the
/// same browser flow as the first sign-in (here to the same emulator mailbox, with the
/// default account's settings copied); the agenda then merges both, each appointment
/// naming its account.
async fn two_accounts_in_the_window(client: &Client, artifacts: &Path) {
    let shot = "app-accounts-timeout.png";
    wait_for(
        client,
        r#"[data-testid="account-name"]"#,
        1,
        RENDER_TIMEOUT,
        artifacts,
        shot,
    )
    .await;
    client
        .find(Locator::Css(r#"[data-testid="account-name"]"#))
        .await
        .expect("the account name field")
        .send_keys("customer")
        .await
        .expect("type the account name");
    click(client, "account-add").await;
    // Signed in (the list shows Sign out for it once `accounts-changed` arrived).
    wait_for(
        client,
        r#"[data-account="customer"] [data-testid="account-sign-out"]"#,
        1,
        RENDER_TIMEOUT,
        artifacts,
        shot,
    )
    .await;
    screenshot(client, artifacts, "app-accounts.png").await;
    click(client, "settings-back").await;
    // The named account syncs into its own store; the agenda names both accounts.
    let deadline = Instant::now() + RENDER_TIMEOUT;
    loop {
        let names = client
            .execute(
                "return [...document.querySelectorAll('[data-testid=\"item-account\"] .truncate')].map(e => e.textContent)",
                vec![],
            )
            .await
            .expect("read the account labels");
        let names: Vec<String> = names
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if names.iter().any(|n| n == "customer") && names.iter().any(|n| n == "default") {
            println!("two accounts: {} appointments labelled", names.len());
            break;
        }
        if Instant::now() >= deadline {
            screenshot(client, artifacts, shot).await;
            panic!("the agenda did not name both accounts: {names:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    screenshot(client, artifacts, "app-two-accounts.png").await;
}

/// The program names of the processes using `data_dir` (the app, WebKit's, the tray host).
fn programs_using(data_dir: &Path) -> Vec<String> {
    presently_e2e::processes_using(data_dir)
        .into_iter()
        .map(|(_, name)| name)
        .filter(|name| name != "tauri-driver" && name != "WebKitWebDriver")
        .collect()
}

/// Waits until `ready` holds for what runs on `data_dir`, or fails with what ran.
async fn wait_for_processes(data_dir: &Path, what: &str, ready: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let programs = programs_using(data_dir);
        if ready(&programs) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: running {programs:?}; logs:\n{}",
            logs(data_dir, "presently-")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tray host's log so far.
fn tray_host_log(data_dir: &Path) -> String {
    logs(data_dir, "presently-tray")
}

/// The logs in `data_dir` whose names start with `prefix`, so far.
fn logs(data_dir: &Path, prefix: &str) -> String {
    std::fs::read_dir(data_dir.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

async fn closing_hands_the_tray_to_the_host_and_opening_takes_it_back(
    client: Client,
    driver_url: &str,
    app: &Path,
    artifacts: &Path,
    data_dir: &Path,
) {
    use presently_desktop::handoff;
    let owner_name = |data_dir: &Path| {
        let pid = handoff::owner_pid(data_dir)?;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        Some(name.trim().to_owned())
    };
    assert_eq!(owner_name(data_dir).as_deref(), Some("presently-app"));
    // Closing the window as a user does from the keyboard (Ctrl+W: the page's own handler,
    // then the window's close, as its close button; WebDriver's close would end the app, and
    // under Xvfb with no window manager GTK sometimes ignores a synthetic WM_DELETE_WINDOW):
    // the app and all of WebKit end, the tray host runs. The page answers first; the window
    // closes just after.
    let pressed = client
        .execute(
            "setTimeout(() => document.dispatchEvent(new KeyboardEvent('keydown', \
             { key: 'w', ctrlKey: true, bubbles: true })), 100); return true",
            vec![],
        )
        .await
        .expect("press Ctrl+W");
    assert_eq!(pressed.as_bool(), Some(true));
    wait_for_processes(data_dir, "the tray host did not replace the app", |p| {
        p.iter().any(|n| n == "presently-tray") && !p.iter().any(|n| n != "presently-tray")
    })
    .await;
    assert!(handoff::is_owned(data_dir), "the host holds the owner lock");
    assert_eq!(owner_name(data_dir).as_deref(), Some("presently-tray"));
    // The host that runs is the one installed beside the app (the package's /usr/bin).
    let host_pid = handoff::owner_pid(data_dir).expect("the tray host's pid");
    let host_exe =
        std::fs::canonicalize(format!("/proc/{host_pid}/exe")).expect("the tray host's executable");
    let beside_app = std::fs::canonicalize(app.with_file_name("presently-tray"))
        .expect("a tray host beside the app");
    assert_eq!(host_exe, beside_app);
    // It syncs on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tray_host_log(data_dir).contains("sync finished") {
        assert!(
            Instant::now() < deadline,
            "the tray host did not sync:\n{}",
            tray_host_log(data_dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pss_kib: u64 = presently_e2e::processes_using(data_dir)
        .iter()
        .filter_map(|(pid, _)| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.strip_prefix("Pss:"))
                .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum();
    println!("tray host alone: {:.1} MiB PSS", pss_kib as f64 / 1024.0);

    // Opening Presently again from the tray host: the new app takes the work back and the
    // host ends.
    let _ = client.close().await;
    // The host's Settings item starts the app with `--settings`: it opens on that page.
    let reopened = presently_e2e::connect_to(driver_url, app, &["--settings"]).await;
    wait_for(
        &reopened,
        r#"[data-testid="start-at-login"]"#,
        1,
        RENDER_TIMEOUT,
        artifacts,
        "app-reopen-timeout.png",
    )
    .await;
    wait_for_processes(data_dir, "the tray host did not hand over", |p| {
        p.iter().any(|n| n == "presently-app") && !p.iter().any(|n| n == "presently-tray")
    })
    .await;
    assert_eq!(owner_name(data_dir).as_deref(), Some("presently-app"));
    assert!(
        tray_host_log(data_dir).contains("handed the work to the window app"),
        "{}",
        tray_host_log(data_dir)
    );
    let _ = reopened.close().await;
}

/// An hour from now to two hours from now, as Graph's `dateTime` strings in UTC.
fn chrono_like_in_an_hour() -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let fmt = |secs: u64| {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:00",
            rem / 3600,
            (rem % 3600) / 60
        )
    };
    (fmt(now + 3600), fmt(now + 7200))
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver + an unlocked keyring: run with scripts/test-e2e.sh"]
async fn first_launch_asks_for_the_application_then_signs_in_and_syncs() {
    first_launch(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver + an unlocked keyring: run with scripts/test-e2e.sh"]
async fn first_launch_with_a_provisioned_application_signs_in_and_syncs() {
    first_launch(true).await;
}

/// A first launch against the Microsoft 365 emulator: with the application provisioned by
/// the organization's policy file, or entered by the user.
async fn first_launch(provisioned: bool) {
    let (driver_bin, app) = prerequisites();
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: the refresh token goes to the Secret Service keyring (use scripts/test-e2e.sh)"
    );
    let artifacts = workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("test-artifacts directory");
    let scratch = tempfile::tempdir().expect("temporary directory");
    let data_dir = scratch.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data directory");

    let emulator = // The default configuration serves the demo week.
    presently_emulator::Emulator::start(Default::default())
        .await
    .expect("the emulator starts");
    let base = emulator.base_url();
    let config = scratch.path().join("config.toml");
    let policy = scratch.path().join("policy.toml");
    if provisioned {
        std::fs::write(
            &policy,
            presently_e2e::policy_toml(&base, presently_emulator::DEMO_CLIENT_ID),
        )
        .expect("write policy.toml");
    } else {
        // Only the emulator's hosts; the application is entered on the consent screen.
        std::fs::write(
            &config,
            format!("[microsoft]\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n"),
        )
        .expect("write config.toml");
    }
    let browser = presently_e2e::write_browser_script(scratch.path());
    // The login item goes to $HOME/.config/autostart (the autostart plugin reads no
    // XDG_CONFIG_HOME), so the app gets a home of its own.
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).expect("home directory");
    let config_home = home.join(".config");
    let log = artifacts.join(if provisioned {
        "tauri-driver-first-launch-provisioned.log"
    } else {
        "tauri-driver-first-launch.log"
    });

    let mut driver = Driver::spawn(
        &driver_bin,
        &[
            ("PRESENTLY_CONFIG", config.as_os_str()),
            ("PRESENTLY_POLICY", policy.as_os_str()),
            ("PRESENTLY_DATA_DIR", data_dir.as_os_str()),
            ("BROWSER", browser.as_os_str()),
            ("HOME", home.as_os_str()),
            // WebKitWebDriver's synthesized typing never completes with accelerated
            // compositing off (the app's default on Linux), so the tests that type turn it
            // back on; the demo tests run the default.
            ("WEBKIT_DISABLE_COMPOSITING_MODE", "0".as_ref()),
            // The provisioned run hands the tray to the tray host when the window closes;
            // this one keeps the app in its own tray, as on a machine without the host.
            (
                presently_desktop::handoff::ENV_SWITCH,
                if provisioned { "1" } else { "0" }.as_ref(),
            ),
        ],
        &log,
    );
    driver.wait_until_ready().await;
    let client = connect(&driver, &app, &[]).await;

    let checks = {
        let client = client.clone();
        let artifacts = artifacts.clone();
        let control = emulator.control();
        let config_home = config_home.clone();
        tokio::spawn(async move {
            first_launch_signs_in(&client, &artifacts, provisioned, &control, &config_home).await
        })
    };
    let mut outcome = checks.await;
    if outcome.is_ok() && provisioned {
        // The window closes: the tray host takes over, and a new start takes it back.
        let handoff = {
            let driver_url = driver.0.url();
            let app = app.clone();
            let artifacts = artifacts.clone();
            let data_dir = data_dir.clone();
            let client = client.clone();
            tokio::spawn(async move {
                closing_hands_the_tray_to_the_host_and_opening_takes_it_back(
                    client,
                    &driver_url,
                    &app,
                    &artifacts,
                    &data_dir,
                )
                .await
            })
        };
        // Bounded: a session or a close that never answers fails here, not at CI's limit.
        outcome = match tokio::time::timeout(Duration::from_secs(180), handoff).await {
            Ok(done) => done,
            Err(_) => {
                let log_text = logs(&data_dir, "presently-");
                panic!("the hand-over checks did not finish in 180 s; logs:\n{log_text}");
            }
        };
    }
    let _ = client.close().await;
    drop(driver);
    // A tray host outlives the app by design.
    presently_e2e::end_processes_using(&data_dir);
    emulator.shutdown().await;
    if let Err(e) = outcome {
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("--- tauri-driver / app output ---\n{log_text}");
        let browser_log =
            std::fs::read_to_string(scratch.path().join("browser.log")).unwrap_or_default();
        eprintln!("--- browser script ---\n{browser_log}");
        std::panic::resume_unwind(e.into_panic());
    }
}
