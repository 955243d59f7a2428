//! `presently-tray`: Presently in the tray with no window, on Linux.
//!
//! The window app (`presently-app`) links WebKitGTK, and a process that ever had a webview
//! keeps well over 100 MiB of it. So when the window closes, the app hands the background
//! work (sync, presence automation, reminders, the tray) to this small program and exits;
//! "Open Presently" starts the app again, which takes the work back
//! (`presently_desktop::handoff`). Here the tray is a D-Bus StatusNotifierItem and reminders
//! are D-Bus notifications: no GTK, no WebKit.
//!
//! Started by hand (or at login) it runs only if no other Presently process owns the work,
//! and opens the window instead while nobody is signed in.

#[cfg(target_os = "linux")]
mod host;
#[cfg(target_os = "linux")]
mod icons;
#[cfg(target_os = "linux")]
mod menu;
#[cfg(target_os = "linux")]
mod notifications;
#[cfg(target_os = "linux")]
mod shortcut;

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    {
        host::main()
    }
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("presently-tray runs on Linux; elsewhere presently-app keeps its own tray");
        std::process::ExitCode::from(2)
    }
}
