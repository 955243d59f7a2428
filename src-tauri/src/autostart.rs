//! Start at login (the autostart plugin: a LaunchAgent on macOS, the registry's Run key on
//! Windows, an XDG autostart entry on Linux). Demo mode never registers itself.

use crate::state::Shell;
use presently_engine::{ApiError, ErrorCode};
use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

/// Registers or removes the login item.
pub fn apply<R: Runtime>(app: &AppHandle<R>, shell: &Shell, enabled: bool) -> Result<(), ApiError> {
    if shell.is_demo() {
        tracing::info!(enabled, "demo mode: start at login is not registered");
        return Ok(());
    }
    let launcher = app.autolaunch();
    let result = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    result.map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("cannot change start at login: {e}"),
        )
    })?;
    tracing::info!(enabled, "start at login changed");
    Ok(())
}

/// At start: the login item follows the setting (it may have been removed by hand, or the
/// setting may come from the organization's policy).
pub fn reconcile<R: Runtime>(app: &AppHandle<R>, shell: &Shell) {
    let Ok(engine) = shell.engine() else {
        return;
    };
    let wanted = engine.config().app.start_at_login;
    if shell.is_demo() {
        return;
    }
    match app.autolaunch().is_enabled() {
        Ok(actual) if actual == wanted => {}
        Ok(_) => {
            if let Err(e) = apply(app, shell, wanted) {
                tracing::warn!(message = %e.message, "cannot make start at login follow the setting");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read whether Presently starts at login"),
    }
}
