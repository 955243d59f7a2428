//! Presently's desktop shell: a thin Tauri layer over `presently-engine`. It wires commands,
//! events, the tray and the window; what the app knows and decides lives in the engine.
//!
//! - [`commands`]: what the UI invokes (`agenda`, `status`, `sync_now`, `open_item`,
//!   `join_meeting`, `sign_in_info`, `sign_in`, `sign_in_device`, `cancel_sign_in`, `sign_out`).
//! - [`state`]: the managed [`state::Shell`] (engine, demo emulator, sync loop wake-ups, the
//!   sign-in under way) and the events it emits (`agenda-changed`, `status-changed`,
//!   `sign-in-progress`).
//! - [`tray`]: the tray menu as data, and its translation to Tauri.
//! - [`demo`]: demo mode against the embedded emulator.
//!
//! Window lifecycle: closing the window destroys its webview. On Linux the app then hands
//! the background work to the tray host (`presently-tray`, no WebKit) and exits; elsewhere,
//! or without the host, it stays in the tray until Quit and "Open Presently" makes a new
//! window. See `presently_desktop::handoff`.

pub mod autostart;
pub mod boot;
pub mod commands;
pub mod demo;
pub mod reminders;
pub mod shortcut;
pub use presently_desktop::settings;
pub mod state;
pub mod tray;

use presently_desktop::handoff;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::{ApiError, Engine, EngineSetup, SystemClock};
use state::Shell;
use std::sync::Arc;
use std::time::Duration;
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{App, AppHandle, Manager, RunEvent, Runtime, WebviewWindowBuilder};

/// The label of the one window.
pub const MAIN_WINDOW: &str = "main";

/// How the app was asked to start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub demo: bool,
    /// Start in the tray without opening the window (`--background`, what the login item
    /// passes). Ignored while nobody is signed in: the consent window then opens by itself.
    pub background: bool,
    /// Open on the settings page (`--settings`: the tray host's Settings item).
    pub settings: bool,
    pub paths: Paths,
    /// The tray host that takes over when the window closes (see [`handoff`]), if any.
    pub tray_host: Option<std::path::PathBuf>,
}

impl Launch {
    /// From the command line and the environment.
    pub fn from_env() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let demo = demo::requested(&args, std::env::var("PRESENTLY_DEMO").ok().as_deref());
        let paths = if demo {
            demo::paths(&Paths::resolve(None))
        } else {
            Paths::resolve(None)
        };
        let background = args.iter().skip(1).any(|a| a == BACKGROUND_ARG);
        let settings = args.iter().skip(1).any(|a| a == SETTINGS_ARG);
        Self {
            demo,
            background,
            settings,
            paths,
            tray_host: handoff::tray_host_for(demo),
        }
    }
}

/// The argument that starts the app in the tray (the login item passes it).
pub const BACKGROUND_ARG: &str = "--background";
/// The argument that opens the window on the settings page.
pub const SETTINGS_ARG: &str = "--settings";

/// When `run` began (the start-up figure is measured from here, and from the wall clock).
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Runs the app; returns the exit code.
pub fn run() -> i32 {
    let _ = STARTED.set(std::time::Instant::now());
    let launch = Launch::from_env();
    // The log appender expects its directory; without one the app still runs, unlogged.
    let _ = std::fs::create_dir_all(&launch.paths.log_dir);
    let _log = presently_engine::logging::init(&launch.paths.log_dir, "presently-app", false);
    tracing::info!(demo = launch.demo, data_dir = %launch.paths.data_dir.display(), "Presently starting");
    if launch.background {
        if let Some(host) = &launch.tray_host {
            // A start at login needs no window: the tray host is the whole app then (it
            // opens the consent window itself when nobody is signed in).
            let e = exec(host);
            tracing::warn!(error = %e, host = %host.display(), "cannot start the tray host; staying in the app");
        }
    }
    match build(tauri::Builder::default(), launch) {
        Ok(app) => {
            tracing::debug!("start-up: event loop starting");
            app.run_return(on_run_event)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start Presently");
            eprintln!("presently-app: cannot start: {e}");
            1
        }
    }
}

/// Replaces this process with `program`; returns only on failure.
#[cfg(unix)]
fn exec(program: &std::path::Path) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    tracing::info!(program = %program.display(), "started at login: the tray host runs instead");
    std::process::Command::new(program).exec()
}

#[cfg(not(unix))]
fn exec(program: &std::path::Path) -> std::io::Error {
    std::io::Error::other(format!("cannot exec {} here", program.display()))
}

/// Builds the app on any runtime (tests can pass `tauri::test::mock_builder()`).
pub fn build<R: Runtime>(builder: tauri::Builder<R>, launch: Launch) -> tauri::Result<App<R>> {
    let mut builder = builder;
    // A second launch focuses the first. Demo mode stays out of it, so a demo can run
    // next to the real app.
    if !launch.demo {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            let view = if args.iter().any(|a| a == SETTINGS_ARG) {
                View::Settings
            } else {
                View::Agenda
            };
            if let Err(e) = show_view(app, view) {
                tracing::warn!(error = %e, "cannot show the window for a second launch");
            }
        }));
    }
    builder
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_global_shortcut::Builder::new().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![BACKGROUND_ARG]),
        ))
        .invoke_handler(tauri::generate_handler![
            commands::agenda,
            commands::status,
            commands::sync_now,
            commands::open_item,
            commands::join_meeting,
            commands::sign_in_info,
            commands::sign_in,
            commands::sign_in_device,
            commands::cancel_sign_in,
            commands::sign_out,
            commands::account_add,
            commands::account_sign_in,
            commands::account_sign_out,
            commands::account_remove,
            commands::presence_plan,
            commands::presence_skip,
            commands::settings_get,
            commands::settings_save,
            commands::presence_preview,
            commands::forwarding_test,
            commands::set_registration,
            commands::open_admin_guide,
            commands::copy_join_link,
            commands::ui_painted,
            commands::ui_ready,
            commands::close_window,
            commands::forwarding_secret_save,
        ])
        .on_window_event(|window, event| match event {
            tauri::WindowEvent::CloseRequested { .. } => {
                tracing::info!(window = window.label(), "window close requested")
            }
            tauri::WindowEvent::Destroyed => {
                tracing::info!(window = window.label(), "window destroyed")
            }
            _ => {}
        })
        .setup(move |app| {
            setup(app, launch)?;
            Ok(())
        })
        .build(tauri::generate_context!())
}

fn setup<R: Runtime>(app: &mut App<R>, launch: Launch) -> anyhow::Result<()> {
    let handle = app.handle().clone();
    let data_dir = launch.paths.data_dir.clone();
    let shell = if launch.demo {
        tauri::async_runtime::block_on(open_demo(launch.paths))
    } else {
        open_real(launch.paths)
    };
    app.manage(shell);
    let shell = handle.state::<Shell>();
    if launch.demo {
        // Demo mode signs in to the emulator through the real loopback flow and has the demo
        // week in the store before the window asks for it.
        if let Err(e) = tauri::async_runtime::block_on(shell.demo_sign_in_and_sync(&handle)) {
            tracing::warn!(code = ?e.code, message = %e.message, "demo: first sync failed");
        }
    }
    app.manage(shortcut::JoinShortcut::default());
    app.manage(StartupRest::default());
    // The window first: WebKit's processes take a while to start. The main thread then has
    // to be free for them (the page's requests and IPC are served there): the tray, the
    // login item and the shortcut follow once the page has painted ([`finish_startup`]).
    let window = opens_window_at_start(
        launch.background,
        shell.status().is_ok_and(|s| s.account.signed_in),
    );
    if window {
        let view = if launch.settings {
            View::Settings
        } else {
            View::Agenda
        };
        show_view(&handle, view)?;
    } else {
        tracing::info!("started in the tray (--background)");
    }
    // The background work is this process's now (a tray host running hands it over).
    app.manage(Work {
        tray_host: launch.tray_host.clone(),
        _lock: (!launch.demo).then(|| take_over(&data_dir)).flatten(),
    });
    // The reminders' buttons before the first reminder; the background work (sync,
    // reminders, presence automation) at once, off the main thread: a refresh of the sign-in
    // it makes is done well before the window can be closed (a process killed between
    // Microsoft rotating the refresh token and the keyring keeping the new one would lose
    // the sign-in).
    let lang = shell
        .engine()
        .map(|e| e.config().app.language.resolve())
        .unwrap_or_default();
    if let Err(e) = reminders::register(&handle, lang) {
        tracing::error!(error = %e, "cannot set up the reminders' buttons");
    }
    shell.start_background(&handle);
    if window {
        let later = handle.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(STARTUP_REST_FALLBACK).await;
            finish_startup_soon(&later);
        });
    } else {
        finish_startup(&handle);
    }
    Ok(())
}

/// Whether the start-up's rest ([`finish_startup`]) ran.
#[derive(Default)]
struct StartupRest(std::sync::OnceLock<()>);

/// The start-up work the first paint does not need, once, on the main thread: the tray,
/// the login item and the join shortcut. Done when the page has painted its first agenda
/// (`ui_painted`; after [`STARTUP_REST_FALLBACK`] at the latest), or at once when no window
/// opens. Measured: done before the page, these held the main thread ~85–95 ms (between
/// the webview's creation and the page's first requests, which WebKit serves there, or
/// between showing the window and its first frame; BENCHMARKS.md).
fn finish_startup<R: Runtime>(app: &AppHandle<R>) {
    let Some(rest) = app.try_state::<StartupRest>() else {
        return;
    };
    rest.0.get_or_init(|| {
        let Some(shell) = app.try_state::<Shell>() else {
            return;
        };
        if let Err(e) = create_tray(app) {
            tracing::error!(error = %e, "cannot create the tray icon");
        }
        // The background work may have refreshed the tray before it existed.
        shell.tray_created();
        tracing::debug!("start-up: tray created");
        autostart::reconcile(app, &shell);
        if let Ok(engine) = shell.engine() {
            shortcut::apply(app, &engine.config().app.join_shortcut);
        }
        shell.refresh_tray(app);
        tracing::debug!("start-up: tray menu and login item set");
    });
}

/// Who does the background work and who takes it when the window closes.
struct Work {
    tray_host: Option<std::path::PathBuf>,
    /// Held for the life of the process (not in demo mode, whose store is its own); the OS
    /// lets go of it when the process exits.
    _lock: Option<handoff::OwnerLock>,
}

/// How long the tray host may take to stop and let go of the work.
const HANDOVER_WAIT: Duration = Duration::from_secs(5);

/// Takes the owner lock, asking a running tray host to hand over first. A host that holds
/// the lock but does not listen yet (it is starting) is asked again until it does.
fn take_over(data_dir: &std::path::Path) -> Option<handoff::OwnerLock> {
    let started = std::time::Instant::now();
    let deadline = started + HANDOVER_WAIT;
    let mut asked = false;
    loop {
        match handoff::OwnerLock::try_acquire(data_dir) {
            Ok(Some(lock)) => {
                tracing::info!(
                    elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                    from_tray_host = asked,
                    "owner lock taken"
                );
                return Some(lock);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the owner lock");
                return None;
            }
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            tracing::warn!(
                owner = ?handoff::owner_pid(data_dir),
                "another process keeps the owner lock; running anyway"
            );
            return None;
        }
        match tauri::async_runtime::block_on(handoff::request_handover(data_dir, deadline - now)) {
            Ok(true) => asked = true,
            // Nobody listens (yet): a host starting up, or an owner on its way out.
            Ok(false) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                tracing::warn!(error = %e, "the tray host did not hand over");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The window closed: the tray host takes the work (and this process, with all of WebKit,
/// exits), or this process stays in the tray when there is no host or nobody is signed in
/// (the host would only open the consent window again).
fn hand_to_tray_host<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(work) = app.try_state::<Work>() else {
        return false;
    };
    let Some(host) = &work.tray_host else {
        return false;
    };
    let Some(shell) = app.try_state::<Shell>() else {
        return false;
    };
    if !shell.status().is_ok_and(|s| s.account.signed_in) {
        return false;
    }
    let mut command = std::process::Command::new(host);
    command.arg(handoff::WAIT_ARG);
    // A process group of its own: it outlives this app, and a terminal's hang-up or a
    // signal to this app's group is not for it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    match command.spawn() {
        Ok(child) => {
            tracing::info!(pid = child.id(), "window closed; the tray host takes over");
            // The loops stop; the lock goes with this process when it exits, so the host's
            // loops never overlap with these.
            shell.set_quitting();
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, host = %host.display(), "cannot start the tray host; staying in the tray");
            false
        }
    }
}

/// Whether the window opens at start: always, except a `--background` start (at login) of
/// a signed-in user. Nobody signed in means the consent window, which opens by itself.
pub fn opens_window_at_start(background: bool, signed_in: bool) -> bool {
    !background || !signed_in
}

/// The real account: the organization's policy, the user's settings and the store from
/// the platform directories.
fn open_real(paths: Paths) -> Shell {
    let provisioning = settings::Provisioning::open(&paths);
    let engine = Engine::open(EngineSetup {
        paths,
        config: provisioning.config().clone(),
        clock: Arc::new(SystemClock),
        demo: false,
    })
    .map_err(|e| {
        tracing::error!(error = %e, "cannot open the engine");
        ApiError::from(e)
    });
    let shell = Shell::new(engine, None, provisioning);
    shell.apply_signed_in_account();
    shell.open_named_accounts();
    shell
}

/// Demo mode: the emulator on a loopback port and a store of its own, new on each run.
async fn open_demo(paths: Paths) -> Shell {
    let clock = Arc::new(SystemClock);
    if let Err(e) = demo::prepare(&paths) {
        tracing::warn!(error = %e, dir = %paths.data_dir.display(), "demo: cannot clear the previous run's store");
    }
    // The zone the demo's agenda shows (its settings may name one): the demo week is
    // seeded in it, around today there.
    let zone = settings::Provisioning::load(
        paths.data_dir.join("no-policy"),
        paths.config_file.clone(),
        Some(Config::default().microsoft),
    )
    .config()
    .display_timezone();
    let today = {
        use presently_engine::Clock;
        clock.now().with_timezone(&zone).date_naive()
    };
    let account = match demo::DemoAccount::start(today, zone).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "demo: cannot start the emulator");
            let err = ApiError::new(
                presently_engine::ErrorCode::Internal,
                format!("cannot start the demo: {e}"),
            );
            let provisioning = settings::Provisioning::load(
                paths.data_dir.join("no-policy"),
                paths.config_file.clone(),
                Some(Config::default().microsoft),
            );
            return Shell::new(Err(err), None, provisioning);
        }
    };
    // Demo settings live beside the demo store; the emulator's registration is fixed.
    let provisioning = settings::Provisioning::load(
        paths.data_dir.join("no-policy"),
        paths.config_file.clone(),
        Some(demo::config(&account.base_url()).microsoft),
    );
    let engine = Engine::open(EngineSetup {
        paths,
        config: provisioning.config().clone(),
        clock,
        demo: true,
    })
    .map_err(ApiError::from);
    Shell::new(engine, Some(account), provisioning)
}

fn create_tray<R: Runtime>(app: &AppHandle<R>) -> anyhow::Result<()> {
    #[cfg(target_os = "macos")]
    let (icon, template) = (include_bytes!("../icons/tray-mono.png").as_slice(), true);
    #[cfg(not(target_os = "macos"))]
    let (icon, template) = (include_bytes!("../icons/tray.png").as_slice(), false);
    TrayIconBuilder::with_id(tray::TRAY_ID)
        .icon(tauri::image::Image::from_bytes(icon)?)
        .icon_as_template(template)
        .tooltip("Presently")
        // Left click opens the window, right click the menu (Windows, macOS). Linux tray
        // hosts only ever show the menu, which has "Open Presently".
        .show_menu_on_left_click(false)
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                if let Err(e) = show_main_window(tray.app_handle()) {
                    tracing::warn!(error = %e, "cannot open the window");
                }
            }
        })
        .on_menu_event(|app, event| on_tray_action(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

fn on_tray_action<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(action) = tray::TrayAction::from_id(id) else {
        tracing::warn!(id, "unknown tray menu item");
        return;
    };
    let shell = app.state::<Shell>();
    match action {
        tray::TrayAction::OpenWindow | tray::TrayAction::SignIn => {
            if let Err(e) = show_main_window(app) {
                tracing::warn!(error = %e, "cannot open the window");
            }
        }
        tray::TrayAction::Settings => {
            if let Err(e) = show_view(app, View::Settings) {
                tracing::warn!(error = %e, "cannot open the settings");
            }
        }
        tray::TrayAction::SyncNow => {
            // Failures are reported through `status-changed` and the log.
            if let Err(e) = shell.request_sync() {
                tracing::info!(message = %e.message, "sync not started");
            }
        }
        tray::TrayAction::OpenItem(id) => {
            commands::spawn_open_or_join(app, id, presently_engine::OpenKind::Outlook);
        }
        tray::TrayAction::JoinItem(id) => {
            commands::spawn_open_or_join(app, id, presently_engine::OpenKind::Join);
        }
        tray::TrayAction::SignOut => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = app.state::<Shell>().sign_out(&app).await {
                    tracing::warn!(code = ?e.code, message = %e.message, "cannot sign out");
                }
            });
        }
        tray::TrayAction::PausePresenceHour
        | tray::TrayAction::PausePresenceUntilTomorrow
        | tray::TrayAction::ResumePresence => {
            let pause = match (&action, shell.engine()) {
                (tray::TrayAction::ResumePresence, _) => None,
                (_, Ok(engine)) => Some(tray::pause_until(
                    &action,
                    engine.now(),
                    engine.config().display_timezone(),
                    engine.today(),
                )),
                (_, Err(_)) => return,
            };
            if let Err(e) = shell.pause_presence(app, pause) {
                tracing::warn!(code = ?e.code, message = %e.message, "cannot pause or resume presence automation");
            }
        }
        tray::TrayAction::TakeOver(resource) => {
            if let Err(e) = shell.take_over(app, resource) {
                tracing::warn!(code = ?e.code, message = %e.message, "cannot hand it to the user");
            }
        }
        tray::TrayAction::PrivacyMode(on) => {
            if let Err(e) = shell.set_privacy(app, on) {
                tracing::warn!(code = ?e.code, message = %e.message, "cannot change privacy mode");
            }
        }
        tray::TrayAction::SkipNext(id) => skip_from_tray(app, &shell, id, true),
        tray::TrayAction::UnskipNext(id) => skip_from_tray(app, &shell, id, false),
        tray::TrayAction::Quit => {
            shell.set_quitting();
            app.exit(0);
        }
    }
}

/// The tray's "Don't switch for the next meeting" (`skip`) and its undo.
fn skip_from_tray<R: Runtime>(app: &AppHandle<R>, shell: &Shell, id: String, skip: bool) {
    let target = presently_engine::SkipTarget::Appointment(id);
    if let Err(e) = shell.skip_presence(app, &target, false, skip) {
        tracing::warn!(code = ?e.code, message = %e.message, "cannot skip or unskip");
    }
}

/// Shows and focuses the main window, creating it (from `tauri.conf.json`) if it was closed.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    show_view(app, View::Agenda)
}

/// What the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Agenda,
    Settings,
}

/// Event: the UI switches to this view; payload `"agenda"` or `"settings"`.
pub const NAVIGATE: &str = "navigate";

/// Shows the window (creating it if it was closed) on `view`: an open window is told
/// through [`NAVIGATE`] (the agenda view leaves it where it is); a new one starts there.
pub fn show_view<R: Runtime>(app: &AppHandle<R>, view: View) -> tauri::Result<()> {
    use tauri::Emitter;
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        window.unminimize()?;
        window.show()?;
        if view == View::Settings {
            window.emit(NAVIGATE, "settings")?;
        }
        return window.set_focus();
    }
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    if view == View::Settings {
        config.url = tauri::WebviewUrl::App("index.html#settings".into());
    }
    // Hidden until the page has built its first view (`ui_ready`, or the fallback below):
    // GTK drawing the webview before WebKit's web process is up makes the two wait on each
    // other for up to 500 ms (seen in about half the launches).
    config.visible = false;
    let mut builder = WebviewWindowBuilder::from_config(app, &config)?;
    // The agenda from the store goes into the page with it (see `boot`).
    if let Some(shell) = app.try_state::<Shell>() {
        let started = std::time::Instant::now();
        match boot::Boot::from_shell(&shell).map(|b| b.script()) {
            Some(Ok(script)) => {
                tracing::info!(
                    elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                    bytes = script.len(),
                    "window opening with the first-paint data"
                );
                builder = builder.initialization_script(script);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "cannot serialize the first-paint data"),
            None => {}
        }
    }
    let window = builder.build()?;
    tracing::debug!("start-up: window built");
    let fallback = window.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(REVEAL_FALLBACK).await;
        reveal(&fallback, "the page did not report ready in time");
    });
    Ok(())
}

/// Longest a new window stays hidden waiting for its page.
const REVEAL_FALLBACK: Duration = Duration::from_millis(1500);

/// Shows and focuses a window created hidden, once (later calls leave it as it is).
pub fn reveal<R: Runtime>(window: &tauri::WebviewWindow<R>, why: &str) {
    if window.is_visible().unwrap_or(true) {
        return;
    }
    tracing::info!(why, "showing the window");
    if let Err(e) = window.show().and_then(|()| window.set_focus()) {
        tracing::warn!(error = %e, "cannot show the window");
    }
}

/// Runs [`finish_startup`] on the main thread (from any thread), once.
pub fn finish_startup_soon<R: Runtime>(app: &AppHandle<R>) {
    let on_main = app.clone();
    if let Err(e) = app.run_on_main_thread(move || finish_startup(&on_main)) {
        tracing::error!(error = %e, "cannot finish the start-up");
    }
}

/// Longest the start-up's rest waits for the page's first paint (a page that shows the
/// settings, or never reports).
const STARTUP_REST_FALLBACK: Duration = Duration::from_secs(2);

fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::ExitRequested { code, api, .. } = event {
        // The last window closing asks to exit with no code: stay in the tray. Quit (or an
        // explicit exit) carries a code and goes through.
        let quitting = app.try_state::<Shell>().is_some_and(|s| s.is_quitting());
        if code.is_none() && !quitting && !hand_to_tray_host(app) {
            tracing::debug!("window closed; staying in the tray");
            api.prevent_exit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_start_opens_no_window_unless_nobody_is_signed_in() {
        assert!(!opens_window_at_start(true, true));
        assert!(opens_window_at_start(true, false), "the consent window");
        assert!(opens_window_at_start(false, true));
        assert!(opens_window_at_start(false, false));
    }
}
