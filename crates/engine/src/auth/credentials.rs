//! Where the refresh token and the account identity live: the OS keyring (Secret Service
//! on Linux, Keychain on macOS, Credential Manager on Windows). Never a plain file: when no
//! keyring is available, that is an error naming what to install, not a fallback.

use super::entra::AuthError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// The keyring service name Presently's entries are filed under.
pub const KEYRING_SERVICE: &str = "com.presently.desktop";

/// What is kept between runs.
pub struct StoredAccount {
    pub refresh_token: SecretString,
    pub tenant_id: Option<String>,
    pub user_oid: Option<String>,
    pub upn: Option<String>,
    pub authority: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for StoredAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccount")
            .field("refresh_token", &"[redacted]")
            .field("tenant_id", &self.tenant_id)
            .field("upn", &self.upn)
            .field("authority", &self.authority)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The JSON kept in the keyring entry.
#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    refresh_token: String,
    tenant_id: Option<String>,
    user_oid: Option<String>,
    upn: Option<String>,
    authority: String,
    client_id: String,
    scopes: Vec<String>,
}

impl StoredAccount {
    fn to_secret_json(&self) -> SecretString {
        let wire = Wire {
            v: 1,
            refresh_token: self.refresh_token.expose_secret().to_owned(),
            tenant_id: self.tenant_id.clone(),
            user_oid: self.user_oid.clone(),
            upn: self.upn.clone(),
            authority: self.authority.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
        };
        SecretString::from(serde_json::to_string(&wire).unwrap_or_default())
    }

    fn from_secret_json(text: &SecretString) -> Result<Self, AuthError> {
        let wire: Wire = serde_json::from_str(text.expose_secret())
            // The serde message is not quoted: it may echo part of the secret.
            .map_err(|_| {
                AuthError::Keyring("the stored sign-in is unreadable; sign in again".into())
            })?;
        Ok(Self {
            refresh_token: SecretString::from(wire.refresh_token),
            tenant_id: wire.tenant_id,
            user_oid: wire.user_oid,
            upn: wire.upn,
            authority: wire.authority,
            client_id: wire.client_id,
            scopes: wire.scopes,
        })
    }
}

/// A place that keeps one [`StoredAccount`]. Calls may block (the OS keyring does).
pub trait CredentialStore: Send + Sync {
    fn load(&self) -> Result<Option<StoredAccount>, AuthError>;
    fn save(&self, account: &StoredAccount) -> Result<(), AuthError>;
    fn delete(&self) -> Result<(), AuthError>;
}

/// The OS keyring.
pub struct KeyringStore {
    user: String,
}

impl KeyringStore {
    /// One entry per profile name: the account's name (`default` for the default account
    /// of the app and the CLI; a named account of the CLI, `presently --account NAME`, its name).
    pub fn new(profile: &str) -> Self {
        Self {
            user: format!("account:{profile}"),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, AuthError> {
        keyring::Entry::new(KEYRING_SERVICE, &self.user).map_err(map_keyring_error)
    }
}

fn unavailable_hint() -> &'static str {
    if cfg!(target_os = "linux") {
        "no Secret Service is available to keep your sign-in safe. Install and start one (for example: apt install gnome-keyring, then log in to a desktop session, or run it under dbus-run-session), or enable the Secret Service integration of KeePassXC, and make sure the keyring is unlocked"
    } else if cfg!(target_os = "macos") {
        "the macOS Keychain is not available; unlock your login keychain"
    } else {
        "the Windows Credential Manager is not available"
    }
}

fn map_keyring_error(err: keyring::Error) -> AuthError {
    match err {
        keyring::Error::PlatformFailure(e) => {
            AuthError::KeyringUnavailable(format!("{} ({e})", unavailable_hint()))
        }
        keyring::Error::NoStorageAccess(e) => {
            AuthError::KeyringUnavailable(format!("{} ({e})", unavailable_hint()))
        }
        other => AuthError::Keyring(other.to_string()),
    }
}

impl CredentialStore for KeyringStore {
    fn load(&self) -> Result<Option<StoredAccount>, AuthError> {
        match self.entry()?.get_password() {
            Ok(text) => StoredAccount::from_secret_json(&SecretString::from(text)).map(Some),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(e)),
        }
    }

    fn save(&self, account: &StoredAccount) -> Result<(), AuthError> {
        self.entry()?
            .set_password(account.to_secret_json().expose_secret())
            .map_err(map_keyring_error)
    }

    fn delete(&self) -> Result<(), AuthError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring_error(e)),
        }
    }
}

/// An in-memory store for tests and demo mode (the emulator's tokens are worthless).
#[derive(Default)]
pub struct MemoryStore(Mutex<Option<SecretString>>);

impl CredentialStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredAccount>, AuthError> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .map(StoredAccount::from_secret_json)
            .transpose()
    }

    fn save(&self, account: &StoredAccount) -> Result<(), AuthError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(account.to_secret_json());
        Ok(())
    }

    fn delete(&self) -> Result<(), AuthError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_refresh_token() {
        let account = StoredAccount {
            refresh_token: SecretString::from("rt-very-secret-value".to_owned()),
            tenant_id: Some("t".into()),
            user_oid: None,
            upn: Some("dana@contoso.com".into()),
            authority: "https://login.microsoftonline.com/organizations".into(),
            client_id: "c".into(),
            scopes: vec![],
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("rt-very-secret-value"), "{shown}");
        let store = MemoryStore::default();
        store.save(&account).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back.refresh_token.expose_secret(), "rt-very-secret-value");
        assert_eq!(back.upn.as_deref(), Some("dana@contoso.com"));
        store.delete().unwrap();
        assert!(store.load().unwrap().is_none());
    }
}
