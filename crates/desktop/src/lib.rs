//! Presently's desktop shell logic with no GUI toolkit: what the window app (`src-tauri`)
//! and the tray host (`crates/tray`, `presently-tray`) share.
//!
//! - [`accounts`]: the named accounts beside the default one, and the agenda merged
//!   across them.
//! - [`background`]: the background work (sync, presence automation, reminders, the tray)
//!   behind one [`background::Integration`] each shell implements.
//! - [`tray`]: the tray menu, icon and tooltip as plain data, built by a pure function.
//! - [`settings`]: the organization policy and the user's settings file, layered.
//! - [`sync`]: what follows a sync round.
//! - [`reminders`]: the loop that shows reminders at their time, and their text.
//! - [`presence`]: what presence automation keeps failing at, and when a restore that keeps
//!   failing is worth a notification.
//! - [`shortcut`]: which meeting the global shortcut "join the next meeting" joins.
//! - [`handoff`]: which process runs the background work (sync, presence, reminders, the
//!   tray) and how the window app and the tray host pass it between them.

pub mod accounts;
pub mod background;
pub mod handoff;
pub mod presence;
pub mod reminders;
pub mod settings;
pub mod shortcut;
pub mod sync;
pub mod tray;
