//! Access tokens in memory, refreshed ahead of expiry; the refresh token in the
//! [`CredentialStore`], re-read before each refresh and replaced at once on rotation.

use super::credentials::{CredentialStore, StoredAccount};
use super::entra::AuthError;
use super::oauth::{self, AuthSettings, SignedIn};
use crate::clock::Clock;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use std::sync::Arc;

/// Refresh this long before the access token expires.
pub const REFRESH_AHEAD: Duration = Duration::minutes(5);

struct CachedToken {
    token: SecretString,
    expires_at: DateTime<Utc>,
}

/// Who is signed in, without secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignedInAccount {
    pub upn: Option<String>,
    pub tenant_id: Option<String>,
    pub user_oid: Option<String>,
    pub client_id: String,
    pub authority: String,
    pub scopes: Vec<String>,
}

pub struct TokenManager {
    settings: AuthSettings,
    http: reqwest::Client,
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    // Held across a refresh, so concurrent callers share one refresh request.
    cached: tokio::sync::Mutex<Option<CachedToken>>,
    // The account as this process last read or wrote it in the keyring (`Some(None)`: none
    // there). A sync round checks the granted scopes; reading the keyring for that each time
    // cost a Secret Service session (a Diffie-Hellman key exchange) per round, the larger
    // part of an idle round's CPU.
    known_account: std::sync::Mutex<Option<Option<SignedInAccount>>>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Keyring(format!("keyring task failed: {e}")))?
}

impl TokenManager {
    pub fn new(
        settings: AuthSettings,
        store: Arc<dyn CredentialStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            settings,
            http: oauth::http_client()?,
            store,
            clock,
            cached: tokio::sync::Mutex::new(None),
            known_account: std::sync::Mutex::new(None),
        })
    }

    fn remember_account(&self, account: Option<SignedInAccount>) {
        *self.known_account.lock().unwrap_or_else(|p| p.into_inner()) = Some(account);
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The stored account, if any, read from the keyring now (no network): another process
    /// (the CLI beside the app) may have signed in or out.
    pub async fn account(&self) -> Result<Option<SignedInAccount>, AuthError> {
        let store = self.store.clone();
        let stored = blocking(move || store.load()).await?;
        let account = stored.as_ref().map(account_of);
        self.remember_account(account.clone());
        Ok(account)
    }

    /// The account as this process last saw it in the keyring (read once if never), for
    /// checks that run on every sync round; [`Self::account`] reads it again.
    pub async fn known_account(&self) -> Result<Option<SignedInAccount>, AuthError> {
        let known = self
            .known_account
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match known {
            Some(account) => Ok(account),
            None => self.account().await,
        }
    }

    /// Records a completed sign-in: the refresh token and identity go to the keyring, the
    /// access token stays in memory.
    pub async fn complete_login(&self, signed_in: SignedIn) -> Result<SignedInAccount, AuthError> {
        let refresh_token = signed_in.refresh_token.ok_or_else(|| {
            AuthError::Protocol(
                "the sign-in answer had no refresh token (offline_access missing)".into(),
            )
        })?;
        let claims = signed_in.claims.unwrap_or_default();
        let stored = StoredAccount {
            refresh_token,
            tenant_id: claims.tid,
            user_oid: claims.oid,
            upn: claims.preferred_username,
            authority: self.settings.authority(),
            client_id: self.settings.client_id.clone(),
            scopes: signed_in.scopes,
        };
        let account = SignedInAccount {
            upn: stored.upn.clone(),
            tenant_id: stored.tenant_id.clone(),
            user_oid: stored.user_oid.clone(),
            client_id: stored.client_id.clone(),
            authority: stored.authority.clone(),
            scopes: stored.scopes.clone(),
        };
        let store = self.store.clone();
        blocking(move || store.save(&stored)).await?;
        self.remember_account(Some(account.clone()));
        *self.cached.lock().await = Some(CachedToken {
            token: signed_in.access_token,
            expires_at: signed_in.expires_at,
        });
        tracing::info!(upn = ?account.upn, "signed in");
        Ok(account)
    }

    /// A valid access token: the cached one while it has more than [`REFRESH_AHEAD`] left,
    /// else a refreshed one. Concurrent callers wait for one shared refresh.
    pub async fn access_token(&self) -> Result<SecretString, AuthError> {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        if let Some(c) = cached.as_ref() {
            if c.expires_at - REFRESH_AHEAD > now {
                return Ok(c.token.clone());
            }
        }
        // Re-read: another process (the CLI beside the app) may have rotated the token.
        let store = self.store.clone();
        let stored = blocking(move || store.load()).await?;
        self.remember_account(stored.as_ref().map(account_of));
        let stored = stored.ok_or(AuthError::NotSignedIn)?;
        if stored.client_id != self.settings.client_id
            || stored.authority != self.settings.authority()
        {
            tracing::info!("the stored sign-in belongs to another app registration or authority");
            return Err(AuthError::NotSignedIn);
        }
        let result = oauth::refresh(
            &self.settings,
            &self.http,
            self.clock.as_ref(),
            &stored.refresh_token,
        )
        .await;
        let fresh = match result {
            Ok(fresh) => fresh,
            Err(err @ AuthError::ReauthRequired { .. }) | Err(err @ AuthError::Refused { .. }) => {
                tracing::warn!(
                    code = err.code().as_str(),
                    "refresh refused; interactive sign-in needed"
                );
                *cached = None;
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        if let Some(rotated) = fresh.refresh_token.clone() {
            let updated = StoredAccount {
                refresh_token: rotated,
                scopes: fresh.scopes.clone(),
                ..stored
            };
            let account = account_of(&updated);
            let store = self.store.clone();
            blocking(move || store.save(&updated)).await?;
            self.remember_account(Some(account));
        }
        let token = fresh.access_token.clone();
        *cached = Some(CachedToken {
            token: fresh.access_token,
            expires_at: fresh.expires_at,
        });
        Ok(token)
    }

    /// Forgets the in-memory access token (after a 401), so the next call refreshes.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// Signs out: the keyring entry and the in-memory token are deleted.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        *self.cached.lock().await = None;
        let store = self.store.clone();
        blocking(move || store.delete()).await?;
        self.remember_account(None);
        tracing::info!("signed out");
        Ok(())
    }
}

/// What a stored sign-in says about the account (never its refresh token).
fn account_of(stored: &StoredAccount) -> SignedInAccount {
    SignedInAccount {
        upn: stored.upn.clone(),
        tenant_id: stored.tenant_id.clone(),
        user_oid: stored.user_oid.clone(),
        client_id: stored.client_id.clone(),
        authority: stored.authority.clone(),
        scopes: stored.scopes.clone(),
    }
}
