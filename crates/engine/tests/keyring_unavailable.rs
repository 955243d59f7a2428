//! Without a Secret Service, the keyring path fails with a message that names what to
//! install or start, and nothing falls back to a plain file. (Its own test binary: it
//! changes the process environment.)
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_engine::auth::{AuthError, CredentialStore, KeyringStore};

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_service_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY-free: this binary has one test, and it sets the environment before any thread reads it.
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/presently-test-bus",
    );
    std::env::set_var("HOME", home.path());
    std::env::set_var("XDG_DATA_HOME", home.path());
    let err = tokio::task::spawn_blocking(|| KeyringStore::new("unavailable-test").load())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, AuthError::KeyringUnavailable(_)), "{err:?}");
    assert_eq!(err.code(), presently_engine::ErrorCode::KeyringUnavailable);
    assert!(err.to_string().contains("gnome-keyring"), "{err}");
    // Nothing was written anywhere under the (empty) home directory.
    assert_eq!(walk(home.path()), 0);
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
