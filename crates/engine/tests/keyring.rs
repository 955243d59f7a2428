//! The OS keyring path against a real Secret Service (gnome-keyring under
//! dbus-run-session; scripts/test.sh starts one).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_engine::auth::{AuthError, CredentialStore, KeyringStore, StoredAccount};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

fn account(token: &str) -> StoredAccount {
    StoredAccount {
        refresh_token: SecretString::from(token.to_owned()),
        tenant_id: Some("3f9a1c2e-5b7d-4e6f-8a9b-0c1d2e3f4a5b".into()),
        user_oid: Some("48d31887-5fad-4d73-a9f5-3c356e68a038".into()),
        upn: Some("dana@contoso.com".into()),
        authority: "https://login.microsoftonline.com/organizations".into(),
        client_id: "7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b".into(),
        scopes: vec!["Calendars.ReadWrite".into()],
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session with gnome-keyring"]
async fn round_trip_through_the_secret_service() {
    let store = Arc::new(KeyringStore::new(&format!("test-{}", std::process::id())));
    let s = store.clone();
    tokio::task::spawn_blocking(move || -> Result<(), AuthError> {
        s.delete()?;
        assert!(s.load()?.is_none());
        s.save(&account("rt-one"))?;
        let back = s.load()?.expect("stored");
        assert_eq!(back.refresh_token.expose_secret(), "rt-one");
        assert_eq!(back.upn.as_deref(), Some("dana@contoso.com"));
        // Rotation replaces the entry.
        s.save(&account("rt-two"))?;
        assert_eq!(
            s.load()?.expect("stored").refresh_token.expose_secret(),
            "rt-two"
        );
        s.delete()?;
        assert!(s.load()?.is_none());
        Ok(())
    })
    .await
    .unwrap()
    .unwrap();
}
