// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // A tray agenda needs no accelerated compositing: without it WebKitGTK starts the
    // window faster and holds less memory (BENCHMARKS.md, "Desktop app"). Set before GTK or
    // any thread starts; the user's own value wins.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
        // Without compositing nothing in the app draws with OpenGL, so GDK need not load
        // the GL driver at start (with Mesa's llvmpipe that is ~30 MiB resident for the
        // life of the tray). Only when compositing is ours to turn off, and the user's own
        // GDK_GL wins.
        if std::env::var_os("GDK_GL").is_none() {
            std::env::set_var("GDK_GL", "disable");
        }
    }
    std::process::exit(presently_app::run());
}
