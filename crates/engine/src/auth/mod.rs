//! Sign-in to the Microsoft identity platform: authorization code + PKCE through a
//! loopback redirect (RFC 8252), device code (RFC 8628) as the fallback, tokens refreshed
//! ahead of expiry, the refresh token and account identity in the OS keyring.
//!
//! Secrets are `SecretString`s from the moment they arrive: they never reach `Debug`,
//! a log line, an error message or a plain file.

pub mod browser;
pub mod credentials;
pub mod entra;
pub mod loopback;
pub mod oauth;
pub mod tokens;

pub use credentials::{CredentialStore, KeyringStore, MemoryStore, StoredAccount};
pub use entra::{AuthError, EntraError};
pub use oauth::{AuthSettings, DeviceLogin, InteractiveLogin, SignedIn};
pub use tokens::{SignedInAccount, TokenManager};

use crate::config::FeaturesConfig;

/// The scopes Presently asks for, given what the user has turned on. Always
/// `openid profile offline_access User.Read` (an id_token naming the account, refresh
/// tokens, and the user's profile).
pub fn scopes_for(features: &FeaturesConfig) -> Vec<String> {
    let mut scopes: Vec<String> = ["openid", "profile", "offline_access", "User.Read"]
        .map(str::to_owned)
        .to_vec();
    let mut add = |on: bool, list: &[&str]| {
        if on {
            scopes.extend(list.iter().map(|s| (*s).to_owned()));
        }
    };
    add(features.calendar_sync, &["Calendars.ReadWrite"]);
    add(features.automatic_replies, &["MailboxSettings.ReadWrite"]);
    add(features.presence, &["Presence.ReadWrite"]);
    add(
        features.extended_scopes,
        &["Contacts.ReadWrite", "Mail.ReadWrite", "User.ReadBasic.All"],
    );
    scopes
}

/// Scopes in `wanted` that `granted` lacks (case-insensitive, as Entra compares them).
/// Non-empty means the app must ask for incremental consent.
pub fn missing_scopes(granted: &[String], wanted: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| {
            // Entra reports Graph scopes with or without the resource prefix.
            let bare = |s: &str| s.rsplit('/').next().unwrap_or(s).to_ascii_lowercase();
            !granted.iter().any(|g| bare(g) == bare(w))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_the_features() {
        let mut f = FeaturesConfig {
            calendar_sync: true,
            presence: false,
            automatic_replies: false,
            extended_scopes: false,
        };
        assert_eq!(
            scopes_for(&f),
            vec![
                "openid",
                "profile",
                "offline_access",
                "User.Read",
                "Calendars.ReadWrite"
            ]
        );
        f.presence = true;
        f.extended_scopes = true;
        let s = scopes_for(&f);
        assert!(s.contains(&"Presence.ReadWrite".to_owned()));
        assert!(s.contains(&"User.ReadBasic.All".to_owned()));
        assert!(!s.contains(&"MailboxSettings.ReadWrite".to_owned()));
    }

    #[test]
    fn a_newly_enabled_feature_needs_incremental_consent() {
        let granted = vec![
            "https://graph.microsoft.com/Calendars.ReadWrite".to_owned(),
            "https://graph.microsoft.com/User.Read".to_owned(),
            "offline_access".to_owned(),
        ];
        let wanted = vec![
            "offline_access".to_owned(),
            "User.Read".to_owned(),
            "calendars.readwrite".to_owned(),
            "Presence.ReadWrite".to_owned(),
        ];
        assert_eq!(
            missing_scopes(&granted, &wanted),
            vec!["Presence.ReadWrite"]
        );
    }
}
