//! What the CLI's tests share: `presently` run as a user runs it, on a test's own directory
//! (its data there, its configuration `config.toml` there), and the pieces every test that
//! signs in to the emulator writes.
#![allow(dead_code)] // each test file uses some of these

use presently_emulator::{Emulator, DEMO_CLIENT_ID};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// `presently` on `dir`: its data there, its configuration `dir/config.toml` (an empty one
/// when the test wrote none: a file named by PRESENTLY_CONFIG must exist), a "browser"
/// `dir/browser.sh` (see [`install_browser`]), warnings only, colour as the terminal says.
pub fn command(dir: &Path) -> Command {
    let config = dir.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_presently"));
    cmd.env("PRESENTLY_DATA_DIR", dir)
        .env("PRESENTLY_CONFIG", config)
        .env("BROWSER", dir.join("browser.sh"))
        .env("RUST_LOG", "warn")
        .env_remove("NO_COLOR")
        .env_remove("PRESENTLY_ACCOUNT");
    cmd
}

/// Runs `presently ARGS` on `dir` to its end.
pub fn presently(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("run presently")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output then standard error.
pub fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// A configuration signing in to `emu` with the demo application, then `more` (further
/// TOML sections).
pub fn config_for(emu: &Emulator, more: &str) -> String {
    format!(
        "[microsoft]\nclient_id = \"{DEMO_CLIENT_ID}\"\ntenant = \"organizations\"\nauthority_host = \"{base}\"\ngraph_endpoint = \"{base}\"\n\n{more}",
        base = emu.base_url()
    )
}

/// Writes [`config_for`] to `dir/config.toml`.
pub fn write_config(dir: &Path, emu: &Emulator, more: &str) {
    std::fs::write(dir.join("config.toml"), config_for(emu, more)).unwrap();
}

/// The "browser" sign-in opens: follows the authorize redirect to the loopback listener, as
/// a person's browser would.
pub fn install_browser(dir: &Path) {
    let browser = dir.join("browser.sh");
    std::fs::write(&browser, "#!/bin/sh\nexec curl -s -o /dev/null -L \"$1\"\n").unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Signs in to the emulator and syncs once through the library (the CLI's own sign-in
/// needs a keyring), with the settings in `paths.config_file`, on `clock`.
pub async fn sign_in_and_sync(
    paths: presently_engine::paths::Paths,
    clock: std::sync::Arc<dyn presently_engine::Clock>,
) -> presently_engine::Engine {
    use presently_engine::{auth::MemoryStore, config::Config, Engine, EngineSetup};
    let engine = Engine::open_with_credentials(
        EngineSetup {
            config: Config::load(&paths.config_file).unwrap(),
            paths,
            clock,
            demo: false,
        },
        std::sync::Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    engine.sync(Default::default()).await.unwrap();
    engine
}
