//! Presently's desktop shell logic with no GUI toolkit: what the window app (`src-tauri`)
//! and the tray host (`crates/tray`, `presently-tray`) share.
//!
//! - [`tray`]: the tray menu, icon and tooltip as plain data, built by a pure function.
//! - [`settings`]: the organization policy and the user's settings file, layered.
//! - [`handoff`]: which process runs the background work (sync, presence, reminders, the
//!   tray) and how the window app and the tray host pass it between them.

pub mod handoff;
pub mod settings;
pub mod tray;
