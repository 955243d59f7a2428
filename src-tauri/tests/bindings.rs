//! The UI's TypeScript types are generated from the Rust types the commands take, answer
//! and emit (ts-rs), into `ui/src/bindings/`; this test fails when the checked-in files
//! differ from what the Rust types generate now, so the two cannot drift apart again.
//!
//! After changing such a type: `bash scripts/gen-types.sh` (it runs this test with
//! `PRESENTLY_UPDATE_BINDINGS=1`), then commit `ui/src/bindings/`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Every type crossing the boundary to the webview: each command's arguments and results
/// and each event's payload (their dependencies follow).
fn export_all(dir: &Path) -> Result<(), ts_rs::ExportError> {
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        // Counts and seconds: JSON numbers, never beyond 2^53.
        .with_large_int("number");
    use presently_app::commands::ForwardingTest;
    use presently_app::state::{
        AppStatus, BrowserSignIn, DeviceCode, SettingsView, SignInInfo, SignInProgress,
    };
    use presently_engine::agenda::AgendaView;
    use presently_engine::config::Config;
    use presently_engine::presence::PlannedTransition;
    use presently_engine::ApiError;
    AgendaView::export_all(&cfg)?;
    AppStatus::export_all(&cfg)?;
    ApiError::export_all(&cfg)?;
    BrowserSignIn::export_all(&cfg)?;
    Config::export_all(&cfg)?;
    DeviceCode::export_all(&cfg)?;
    ForwardingTest::export_all(&cfg)?;
    PlannedTransition::export_all(&cfg)?;
    SettingsView::export_all(&cfg)?;
    SignInInfo::export_all(&cfg)?;
    SignInProgress::export_all(&cfg)?;
    Ok(())
}

fn files(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), text);
            }
        }
    }
    out
}

#[test]
fn the_ui_bindings_are_generated_from_the_rust_types() {
    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    if std::env::var_os("PRESENTLY_UPDATE_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&checked_in);
        export_all(&checked_in).unwrap();
        return;
    }
    let fresh = tempfile::tempdir().unwrap();
    export_all(fresh.path()).unwrap();
    let (want, have) = (files(fresh.path()), files(&checked_in));
    let stale: Vec<_> = want
        .iter()
        .filter(|(path, text)| have.get(*path) != Some(*text))
        .map(|(path, _)| path.display().to_string())
        .chain(
            have.keys()
                .filter(|path| !want.contains_key(*path))
                .map(|path| format!("{} (no longer generated)", path.display())),
        )
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/bindings is not what the Rust types generate: {stale:?}\n\
         run `bash scripts/gen-types.sh` and commit ui/src/bindings"
    );
    assert!(want.contains_key(Path::new("AgendaItem.ts")), "{want:?}");
}
