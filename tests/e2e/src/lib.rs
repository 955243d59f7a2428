//! End-to-end tests of the Presently desktop app: the real window, driven over WebDriver.
//!
//! The tests live in `tests/` and are `#[ignore]`d, because they need a display (Xvfb),
//! `tauri-driver`, `WebKitWebDriver` and a built `presently-app`. Run them with
//! `scripts/test-e2e.sh`, which provides all of that.
