//! The real window as a person with low vision runs it, once: GTK's high-contrast theme and
//! 200 % text (GDK_DPI_SCALE=2: WebKitGTK zooms the page by the font DPI's factor, so the
//! 420 × 640 window lays out in 210 × 320 CSS px). Nothing may be cut off or drawn over
//! other text (the probe the UI tests run in Chromium, `ui/tests/layout-probe.js`), keyboard
//! focus must be visible on every stop, and the window's accessible name and the agenda's
//! landmarks must reach AT-SPI on the session's accessibility bus.
//!
//! Run with `scripts/test-e2e.sh` (Xvfb, a session bus, tauri-driver, a built app).

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use presently_e2e::{missing_for_window, workspace_root};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

const RENDER_TIMEOUT: Duration = Duration::from_secs(60);
const DRIVER_TIMEOUT: Duration = Duration::from_secs(20);
/// The agenda's focus stops checked: the header's buttons, search, the filters and a
/// screenful of items and their Join buttons.
const TAB_STOPS: usize = 16;

const LAYOUT_PROBE: &str = include_str!("../../../ui/tests/layout-probe.js");

/// Reads the focused element: whether the browser shows keyboard focus on it (`:focus-visible`
/// with a 2 px or wider outline, or a box-shadow ring), and whether that ring is inside the
/// viewport and not clipped by an ancestor that hides its overflow.
const FOCUS_PROBE: &str = r#"
const el = document.activeElement;
if (!el || el === document.body) return { name: 'body', visible: false, why: 'nothing focused' };
const s = getComputedStyle(el);
const id = el.getAttribute('data-testid') || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30);
const name = `${el.tagName.toLowerCase()} ${id}`;
const ringWidth = s.outlineStyle !== 'none' ? parseFloat(s.outlineWidth) : 0;
const ring = ringWidth >= 2 || s.boxShadow !== 'none';
if (!el.matches(':focus-visible') || !ring) return { name, visible: false, why: `outline ${s.outlineStyle} ${s.outlineWidth}, box-shadow ${s.boxShadow}` };
const grow = ringWidth ? ringWidth + Math.max(0, parseFloat(s.outlineOffset) || 0) : 0;
const r = el.getBoundingClientRect();
const box = { left: r.left - grow, right: r.right + grow, top: r.top - grow, bottom: r.bottom + grow };
const vw = document.documentElement.clientWidth;
const vh = document.documentElement.clientHeight;
if (box.right < 0 || box.left > vw || box.bottom < 0 || box.top > vh) return { name, visible: false, why: 'scrolled out of view' };
for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
  const as = getComputedStyle(a);
  const hides = (v) => v !== 'visible';
  if (!hides(as.overflowX) && !hides(as.overflowY)) continue;
  const ab = a.getBoundingClientRect();
  // Half the ring cut off still shows where focus is; all of one side gone does not.
  const cut = (hides(as.overflowX) && (box.left < ab.left - 0.5 || box.right > ab.right + 0.5) && (r.left < ab.left || r.right > ab.right))
    || (hides(as.overflowY) && (r.top < ab.top - 0.5 || r.bottom > ab.bottom + 0.5) && (r.bottom < ab.top || r.top > ab.bottom));
  if (cut) return { name, visible: false, why: `clipped by ${a.tagName.toLowerCase()}.${[...a.classList].join('.')}` };
}
return { name, visible: true, why: '' };
"#;

fn app_binary() -> PathBuf {
    std::env::var_os("PRESENTLY_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| presently_e2e::target_dir().join("debug/presently-app"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver + a session bus: run with scripts/test-e2e.sh"]
async fn high_contrast_and_200_percent_text_nothing_clipped_focus_visible_landmarks_on_atspi() {
    let app = app_binary();
    let (mut missing, driver_bin) = missing_for_window(&app, "cargo build -p presently-app");
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        missing.push("no session bus (the accessibility bus is found through it): run under dbus-run-session".to_owned());
    }
    assert!(
        missing.is_empty(),
        "the accessibility test cannot run (use scripts/test-e2e.sh):\n  - {}",
        missing.join("\n  - ")
    );
    let artifacts = workspace_root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("test-artifacts directory");
    let scratch = tempfile::tempdir().expect("temporary directory");
    let data_dir = scratch.path().join("data");
    let log = artifacts.join("tauri-driver-a11y.log");
    let mut driver =
        presently_e2e::Driver::spawn(&driver_bin.unwrap_or_default(), &log, |command| {
            command
                .env_remove("PRESENTLY_CONFIG")
                .env_remove("BROWSER")
                .env_remove("LC_ALL")
                .env_remove("NO_AT_BRIDGE")
                .env("PRESENTLY_DEMO", "1")
                .env("PRESENTLY_DATA_DIR", &data_dir)
                .env("GTK_THEME", "HighContrast")
                .env("GDK_DPI_SCALE", "2")
                .env("RUST_LOG", "info")
                .env("LANG", "en_US.UTF-8")
                .env("LANGUAGE", "en_US");
        });
    driver.wait_until_ready(DRIVER_TIMEOUT).await;
    let client = driver.connect(&app, &["--demo"]).await;

    // The checks run as a task so a failure still closes the session before the panic is
    // passed on; `driver` ends the processes when it drops either way.
    let checks = {
        let client = client.clone();
        let artifacts = artifacts.clone();
        tokio::spawn(async move {
            wait_for_agenda(&client, &artifacts).await;
            let looks = client
                .execute(
                    "return { width: innerWidth, height: innerHeight, contrast: matchMedia('(prefers-contrast: more)').matches }",
                    vec![],
                )
                .await
                .expect("read the window's viewport");
            println!("viewport and contrast preference: {looks}");
            assert_eq!(
                looks["width"], 210,
                "200 % text (GDK_DPI_SCALE=2) zooms the 420 px window to 210 CSS px: {looks}"
            );
            assert_eq!(
                looks["contrast"], true,
                "GTK's HighContrast theme reaches the page as prefers-contrast: more: {looks}"
            );
            shot(&client, &artifacts, "app-a11y-hc-200.png").await;

            let layout = client
                .execute(LAYOUT_PROBE, vec![])
                .await
                .expect("run the layout probe");
            println!("layout: {layout}");
            assert!(
                layout["texts"].as_u64().unwrap_or(0) > 20,
                "the probe saw the agenda's text: {layout}"
            );
            assert!(
                layout["horizontalScroll"].is_null(),
                "the page scrolls sideways: {layout}"
            );
            assert_eq!(
                layout["clipped"],
                serde_json::json!([]),
                "text cut off: {layout}"
            );
            assert_eq!(
                layout["overlaps"],
                serde_json::json!([]),
                "text drawn over text: {layout}"
            );

            focus_is_visible_on_every_stop(&client, &artifacts).await;
        })
    };
    let outcome = checks.await;
    // AT-SPI while the window is still open.
    let atspi = if outcome.is_ok() {
        Some(tokio::time::timeout(Duration::from_secs(60), window_and_landmarks_on_atspi()).await)
    } else {
        None
    };
    let _ = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("--- tauri-driver / app output ---\n{log_text}");
        std::panic::resume_unwind(e.into_panic());
    }
    match atspi {
        Some(Ok(Ok(()))) | None => {}
        Some(Ok(Err(e))) => panic!("AT-SPI: {e}"),
        Some(Err(_)) => panic!("AT-SPI: no answer within 60 s"),
    }
}

async fn wait_for_agenda(client: &Client, artifacts: &Path) {
    let deadline = Instant::now() + RENDER_TIMEOUT;
    loop {
        let items = client
            .find_all(Locator::Css(r#"[data-testid="item"]"#))
            .await
            .unwrap_or_default();
        let shown = match items.first() {
            Some(item) => item.is_displayed().await.unwrap_or(false),
            None => false,
        };
        if items.len() > 5 && shown {
            return;
        }
        if Instant::now() >= deadline {
            shot(client, artifacts, "app-a11y-timeout.png").await;
            panic!("the demo agenda did not render within {RENDER_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn shot(client: &Client, artifacts: &Path, name: &str) {
    if let Ok(png) = client.screenshot().await {
        let path = artifacts.join(name);
        let _ = std::fs::write(&path, png);
        println!("screenshot: {}", path.display());
    }
}

/// Tab through the agenda from the top: every stop shows a focus ring a person can see.
async fn focus_is_visible_on_every_stop(client: &Client, artifacts: &Path) {
    let mut stops = Vec::new();
    let mut hidden = Vec::new();
    for _ in 0..TAB_STOPS {
        let tab = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
        client.perform_actions(tab).await.expect("press Tab");
        let focus = client
            .execute(FOCUS_PROBE, vec![])
            .await
            .expect("read the focused element");
        let name = focus["name"].as_str().unwrap_or("?").to_owned();
        if focus["visible"] != true {
            hidden.push(format!("{name}: {}", focus["why"].as_str().unwrap_or("")));
        }
        stops.push(name);
    }
    println!("focus stops: {stops:?}");
    if !hidden.is_empty() {
        shot(client, artifacts, "app-a11y-focus.png").await;
    }
    assert!(
        stops.iter().filter(|s| s.as_str() != "body").count() >= TAB_STOPS - 1,
        "Tab moves focus through the window: {stops:?}"
    );
    assert!(
        hidden.is_empty(),
        "keyboard focus not visible on: {hidden:#?}"
    );
}

const ACCESSIBLE: &str = "org.a11y.atspi.Accessible";

/// One accessible object on the accessibility bus: (bus name, object path).
type Obj = (String, OwnedObjectPath);

async fn call<R: serde::de::DeserializeOwned + zbus::zvariant::Type>(
    bus: &zbus::Connection,
    (dest, path): &Obj,
    method: &str,
) -> zbus::Result<R> {
    let reply = bus
        .call_method(
            Some(dest.as_str()),
            path.as_str(),
            Some(ACCESSIBLE),
            method,
            &(),
        )
        .await?;
    reply.body().deserialize::<R>()
}

async fn property(
    bus: &zbus::Connection,
    (dest, path): &Obj,
    name: &str,
) -> zbus::Result<OwnedValue> {
    let reply = bus
        .call_method(
            Some(dest.as_str()),
            path.as_str(),
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(ACCESSIBLE, name),
        )
        .await?;
    reply.body().deserialize::<OwnedValue>()
}

async fn name_of(bus: &zbus::Connection, obj: &Obj) -> zbus::Result<String> {
    Ok(String::try_from(property(bus, obj, "Name").await?).unwrap_or_default())
}

/// The window's accessible name under the app in the desktop's tree, and the page's
/// landmarks (banner, search, main, the "Agenda" region) in the web process's tree, whose
/// parents lead up to that window.
async fn window_and_landmarks_on_atspi() -> Result<(), String> {
    let err = |what: &str| {
        let what = what.to_owned();
        move |e: zbus::Error| format!("{what}: {e}")
    };
    let session = zbus::Connection::session()
        .await
        .map_err(err("the session bus"))?;
    let address: String = session
        .call_method(
            Some("org.a11y.Bus"),
            "/org/a11y/bus",
            Some("org.a11y.Bus"),
            "GetAddress",
            &(),
        )
        .await
        .map_err(err("org.a11y.Bus.GetAddress"))?
        .body()
        .deserialize()
        .map_err(err("the accessibility bus address"))?;
    let bus = zbus::connection::Builder::address(address.as_str())
        .map_err(err("the accessibility bus address"))?
        .build()
        .await
        .map_err(err("connecting to the accessibility bus"))?;

    // The desktop: applications, each with its windows.
    let desktop: Obj = (
        "org.a11y.atspi.Registry".to_owned(),
        OwnedObjectPath::try_from("/org/a11y/atspi/accessible/root").map_err(|e| e.to_string())?,
    );
    let mut window = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while window.is_none() {
        for app in call::<Vec<Obj>>(&bus, &desktop, "GetChildren")
            .await
            .map_err(err("the desktop's applications"))?
        {
            if name_of(&bus, &app).await.unwrap_or_default() != "presently-app" {
                continue;
            }
            for w in call::<Vec<Obj>>(&bus, &app, "GetChildren")
                .await
                .map_err(err("the app's windows"))?
            {
                let role: String = call(&bus, &w, "GetRoleName")
                    .await
                    .map_err(err("a window's role"))?;
                let name = name_of(&bus, &w).await.map_err(err("a window's name"))?;
                println!("AT-SPI: presently-app has a {role} named {name:?}");
                if role == "frame" && name == "Presently" {
                    window = Some(w);
                }
            }
        }
        if window.is_none() {
            if Instant::now() >= deadline {
                return Err(
                    "no frame named \"Presently\" under an application named presently-app"
                        .to_owned(),
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let window = window.unwrap_or_else(|| unreachable!("the loop ends with a window"));

    // WebKit's web process serves the page's tree on the same bus, under /org/a11y/webkit.
    let names = zbus::fdo::DBusProxy::new(&bus)
        .await
        .map_err(err("the accessibility bus"))?
        .list_names()
        .await
        .map_err(|e| format!("listing the accessibility bus: {e}"))?;
    let mut roots = Vec::new();
    for name in names
        .iter()
        .map(|n| n.to_string())
        .filter(|n| n.contains("WebProcess"))
    {
        let xml: String = bus
            .call_method(
                Some(name.as_str()),
                "/org/a11y/webkit/accessible",
                Some("org.freedesktop.DBus.Introspectable"),
                "Introspect",
                &(),
            )
            .await
            .map_err(err("introspecting the web process"))?
            .body()
            .deserialize()
            .map_err(err("the web process's objects"))?;
        for node in xml.split("<node name=\"").skip(1) {
            let id = node.split('"').next().unwrap_or_default();
            let path = format!("/org/a11y/webkit/accessible/{id}");
            roots.push((
                name.clone(),
                OwnedObjectPath::try_from(path).map_err(|e| e.to_string())?,
            ));
        }
    }
    if roots.is_empty() {
        return Err(
            "no WebKit web process serves an accessible tree on the accessibility bus".to_owned(),
        );
    }
    let mut landmarks: Vec<(String, String)> = Vec::new();
    let mut reaches_window = false;
    for root in &roots {
        // Up: the page's root hangs under the window (its parents lead to the frame).
        let mut at = root.clone();
        for _ in 0..12 {
            let parent = property(&bus, &at, "Parent")
                .await
                .map_err(err("a parent"))?;
            let Ok((dest, path)) = <(String, OwnedObjectPath)>::try_from(parent) else {
                break;
            };
            if (dest.as_str(), path.as_str()) == (window.0.as_str(), window.1.as_str()) {
                reaches_window = true;
                break;
            }
            if path.as_str() == "/org/a11y/atspi/null" {
                break;
            }
            at = (dest, path);
        }
        // Down: ARIA landmarks carry their role in the xml-roles attribute.
        let mut todo = vec![(root.clone(), 0)];
        while let Some((obj, depth)) = todo.pop() {
            let attributes: HashMap<String, String> = call(&bus, &obj, "GetAttributes")
                .await
                .map_err(err("attributes"))?;
            if let Some(role) = attributes.get("xml-roles") {
                if [
                    "banner",
                    "search",
                    "main",
                    "region",
                    "navigation",
                    "complementary",
                    "contentinfo",
                ]
                .contains(&role.as_str())
                {
                    landmarks.push((role.clone(), name_of(&bus, &obj).await.unwrap_or_default()));
                }
            }
            // The landmarks sit near the top; the agenda's items below them need not be walked.
            if depth < 6 {
                for child in call::<Vec<Obj>>(&bus, &obj, "GetChildren")
                    .await
                    .map_err(err("children"))?
                {
                    todo.push((child, depth + 1));
                }
            }
        }
    }
    println!("AT-SPI landmarks: {landmarks:?}");
    let has = |role: &str, name: Option<&str>| {
        landmarks
            .iter()
            .any(|(r, n)| r == role && name.is_none_or(|name| n == name))
    };
    let mut missing = Vec::new();
    for (role, name) in [
        ("banner", None),
        ("search", None),
        ("main", None),
        ("region", Some("Agenda")),
    ] {
        if !has(role, name) {
            missing.push(format!(
                "{role}{}",
                name.map(|n| format!(" {n:?}")).unwrap_or_default()
            ));
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "landmarks missing from the page's accessible tree: {missing:?} (found {landmarks:?})"
        ));
    }
    if !reaches_window {
        return Err(
            "the page's accessible tree does not lead up to the window \"Presently\"".to_owned(),
        );
    }
    Ok(())
}
