//! The global shortcut "join the next meeting" (`app.join_shortcut`, Ctrl+Alt+J by
//! default; empty: none) while only the tray host runs: the window app registers it
//! through Tauri's plugin, which wraps the same `global-hotkey` crate used here directly
//! (an X11 key grab from a thread of its own; no GTK). Where there is no X display, or
//! another program holds the combination, the host goes on without it and says so in its
//! log; under Wayland only X11 applications see such a grab, and the window app's settings
//! page says so.

use global_hotkey::hotkey::HotKey;
use global_hotkey::{GlobalHotKeyEvent, GlobalHotKeyManager, HotKeyState};
use tokio::sync::mpsc::UnboundedSender;

/// A registered shortcut; dropping it unregisters it.
pub struct JoinShortcut {
    manager: GlobalHotKeyManager,
    hotkey: HotKey,
}

impl JoinShortcut {
    /// Registers `accelerator` (the settings' form, e.g. "Ctrl+Alt+J"); each press sends
    /// `()` to `presses`. `None` when there is nothing to register or it cannot be.
    pub fn register(accelerator: &str, presses: UnboundedSender<()>) -> Option<Self> {
        let accelerator = accelerator.trim();
        if accelerator.is_empty() {
            tracing::info!("no global shortcut configured");
            return None;
        }
        if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
            tracing::warn!(
                accelerator,
                "no X display: the global shortcut is not available"
            );
            return None;
        }
        let hotkey: HotKey = match accelerator.parse() {
            Ok(hotkey) => hotkey,
            Err(e) => {
                tracing::warn!(accelerator, error = %e, "cannot read the global shortcut");
                return None;
            }
        };
        let manager = match GlobalHotKeyManager::new() {
            Ok(manager) => manager,
            Err(e) => {
                tracing::warn!(error = %e, "global shortcuts are not available");
                return None;
            }
        };
        let id = hotkey.id();
        // Called on the crate's X11 thread: only hand the press over.
        GlobalHotKeyEvent::set_event_handler(Some(move |event: GlobalHotKeyEvent| {
            if event.id == id && event.state == HotKeyState::Pressed {
                let _ = presses.send(());
            }
        }));
        match manager.register(hotkey) {
            Ok(()) => {
                tracing::info!(accelerator, "global shortcut registered");
                Some(Self { manager, hotkey })
            }
            Err(e) => {
                tracing::warn!(accelerator, error = %e, "cannot register the global shortcut");
                None
            }
        }
    }
}

impl Drop for JoinShortcut {
    fn drop(&mut self) {
        if let Err(e) = self.manager.unregister(self.hotkey) {
            tracing::warn!(error = %e, "cannot unregister the global shortcut");
        }
    }
}
