//! The global shortcut "join the next meeting" (`app.join_shortcut`, Ctrl+Alt+J by
//! default; empty: none), registered through Tauri's global-shortcut plugin from Rust (the
//! page is granted none of the plugin's permissions). Pressed, it joins the meeting under
//! way or starting within 10 minutes, else shows the agenda
//! ([`presently_desktop::shortcut::join_next`] decides). Where the desktop gives no global
//! shortcuts (some Wayland compositors), or another program holds the combination, the
//! registration fails and the settings page says so ([`JoinShortcutStatus`]).

use crate::state::Shell;
use presently_desktop::shortcut::{join_next, JoinNext};
use serde::Serialize;
use std::sync::Mutex;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, ShortcutState};

/// What the settings page says about the shortcut.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct JoinShortcutStatus {
    /// The shortcut in force, as configured; None when none is registered.
    pub registered: Option<String>,
    /// Why the configured shortcut could not be registered.
    pub error: Option<String>,
    /// A Wayland session: many compositors pass no global shortcuts to applications, so
    /// even a registered one may never arrive.
    pub wayland: bool,
}

/// The managed state: the last registration's outcome.
#[derive(Default)]
pub struct JoinShortcut(Mutex<JoinShortcutStatus>);

/// Whether this is a Wayland session (from the environment the session set).
fn wayland_session() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var("XDG_SESSION_TYPE").is_ok_and(|v| v.eq_ignore_ascii_case("wayland"))
}

/// Registers `accelerator` (replacing the one before; empty: none) and remembers how it
/// went for the settings page.
pub fn apply<R: Runtime>(app: &AppHandle<R>, accelerator: &str) {
    let accelerator = accelerator.trim();
    let shortcuts = app.global_shortcut();
    if let Err(e) = shortcuts.unregister_all() {
        tracing::warn!(error = %e, "cannot unregister the global shortcut");
    }
    let mut status = JoinShortcutStatus {
        wayland: wayland_session(),
        ..JoinShortcutStatus::default()
    };
    if !accelerator.is_empty() {
        let registered = shortcuts.on_shortcut(accelerator, |app, _shortcut, event| {
            if event.state == ShortcutState::Pressed {
                pressed(app);
            }
        });
        match registered {
            Ok(()) => {
                tracing::info!(accelerator, "global shortcut registered");
                status.registered = Some(accelerator.to_owned());
            }
            Err(e) => {
                tracing::warn!(accelerator, error = %e, "cannot register the global shortcut");
                status.error = Some(e.to_string());
            }
        }
    }
    if let Some(state) = app.try_state::<JoinShortcut>() {
        *state.0.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }
}

/// The last registration's outcome.
pub fn status<R: Runtime>(app: &AppHandle<R>) -> JoinShortcutStatus {
    app.try_state::<JoinShortcut>()
        .map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .unwrap_or_default()
}

/// The shortcut was pressed: join the meeting under way or about to begin, else show the
/// agenda.
fn pressed<R: Runtime>(app: &AppHandle<R>) {
    let shell = app.state::<Shell>();
    let decision = match shell.engine() {
        // The next meeting of any account signed in.
        Ok(engine) => match shell.agenda(None, Some(2)) {
            Ok(view) => join_next(&view, engine.now()),
            Err(e) => {
                tracing::warn!(error = %e, "join shortcut: no agenda");
                JoinNext::ShowAgenda
            }
        },
        Err(_) => JoinNext::ShowAgenda,
    };
    tracing::info!(?decision, "join shortcut pressed");
    match decision {
        JoinNext::Join(id) => {
            crate::commands::spawn_open_or_join(app, id, presently_engine::OpenKind::Join)
        }
        JoinNext::ShowAgenda => {
            if let Err(e) = crate::show_main_window(app) {
                tracing::warn!(error = %e, "cannot open the window");
            }
        }
    }
}
