//! Errors from the Microsoft identity platform, and what they mean for the user.
//!
//! Decisions branch on `error` and `error_codes`, never on the description text.

use serde::{Deserialize, Serialize};

/// The identity platform's error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_codes: Vec<u32>,
    #[serde(default)]
    pub error_uri: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

impl std::fmt::Display for EntraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.error_codes.first() {
            Some(code) => write!(f, "{} (AADSTS{code})", self.error),
            None => f.write_str(&self.error),
        }
    }
}

impl oauth2::ErrorResponse for EntraError {}

/// Codes that mean: the grant is gone, sign in interactively again.
const REAUTH_CODES: &[u32] = &[50173, 700082, 70008, 70043, 65001, 50076, 50079, 50078];

impl EntraError {
    /// Builds one from a redirect's query parameters (`error`, `error_description`).
    pub fn from_redirect(error: &str, description: Option<&str>) -> Self {
        // Redirects carry no error_codes field; the code is the "AADSTSnnnn:" prefix.
        let codes = description
            .and_then(|d| d.strip_prefix("AADSTS"))
            .and_then(|d| {
                let digits: String = d.chars().take_while(|c| c.is_ascii_digit()).collect();
                digits.parse().ok()
            })
            .into_iter()
            .collect();
        Self {
            error: error.to_owned(),
            error_description: description.map(str::to_owned),
            error_codes: codes,
            ..Default::default()
        }
    }

    pub fn has_code(&self, code: u32) -> bool {
        self.error_codes.contains(&code)
    }

    /// The user has to go through interactive sign-in (and consent) again.
    pub fn needs_reauth(&self) -> bool {
        matches!(
            self.error.as_str(),
            "invalid_grant" | "interaction_required" | "consent_required" | "login_required"
        ) || REAUTH_CODES.iter().any(|c| self.has_code(*c))
    }
}

/// Why sign-in or a token request failed, in terms the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{explanation}")]
    Refused {
        entra: Box<EntraError>,
        explanation: String,
        /// For consent errors: the URL an administrator opens to grant consent.
        admin_consent_url: Option<String>,
    },
    #[error("Presently needs you to sign in again: {explanation}")]
    ReauthRequired {
        entra: Box<EntraError>,
        explanation: String,
    },
    #[error("not signed in")]
    NotSignedIn,
    #[error("Presently needs your consent for more permissions ({}) for the features you turned on; sign in again to grant them", .0.join(", "))]
    ConsentNeeded(Vec<String>),
    #[error("sign-in timed out: the browser did not come back within {0} seconds")]
    Timeout(u64),
    #[error("sign-in was cancelled")]
    Cancelled,
    #[error("{0}")]
    KeyringUnavailable(String),
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    #[error("cannot reach the sign-in service: {0}")]
    Network(String),
    #[error("the sign-in service answered something Presently cannot use: {0}")]
    Protocol(String),
    #[error("the loopback redirect listener failed: {0}")]
    Listener(String),
}

impl AuthError {
    /// Maps a token-endpoint or redirect error to what the user should do.
    pub fn from_entra(entra: EntraError, authority: &str, tenant: &str, client_id: &str) -> Self {
        let code = entra
            .error_codes
            .first()
            .map(|c| format!("AADSTS{c}"))
            .unwrap_or_else(|| entra.error.clone());
        let admin_consent_url = format!("{authority}/{tenant}/adminconsent?client_id={client_id}");
        if matches!(
            entra.error.as_str(),
            "temporarily_unavailable" | "server_error"
        ) {
            return AuthError::Network(format!(
                "the sign-in service is temporarily unavailable ({code}); Presently will try again"
            ));
        }
        let consent = entra.has_code(65001)
            || entra.has_code(90094)
            || entra.has_code(90095)
            || entra.error == "consent_required";
        if consent {
            return AuthError::Refused {
                explanation: format!(
                    "{code}: your organization requires an administrator to approve Presently before you can use it. Send your administrator this link to grant consent: {admin_consent_url}"
                ),
                admin_consent_url: Some(admin_consent_url),
                entra: Box::new(entra),
            };
        }
        if entra.needs_reauth() {
            let why = if entra.has_code(50173) || entra.has_code(70008) {
                "your earlier sign-in was revoked or has expired"
            } else if entra.has_code(700082) {
                "your sign-in expired after a long time without use"
            } else if entra.has_code(70043) {
                "your organization requires you to sign in again periodically"
            } else {
                "your sign-in is no longer valid"
            };
            return AuthError::ReauthRequired {
                explanation: format!("{why} ({code})"),
                entra: Box::new(entra),
            };
        }
        let explanation = match entra.error_codes.first().copied() {
            Some(50011) => format!("{code}: the redirect URI is not registered for this application; an administrator must add it (Mobile and desktop applications: http://localhost)"),
            Some(50194) => format!("{code}: this application is registered for a single organization; set the tenant to your organization's directory ID instead of common"),
            Some(9002332) => format!("{code}: this application accepts work or school accounts only; use your work account or set the tenant to organizations"),
            Some(700016) => format!("{code}: the application ID {client_id} was not found in the directory; check the application ID and directory ID"),
            Some(7000112) => format!("{code}: the application has been disabled by an administrator"),
            Some(53003) | Some(530003) => format!("{code}: a Conditional Access policy of your organization blocked the sign-in; ask your IT department for access from this device"),
            Some(700025) => format!("{code}: the application is configured as confidential; Presently is a public client and sends no secret"),
            _ => match entra.error.as_str() {
                "access_denied" => format!("sign-in was declined ({code})"),
                _ => format!("sign-in failed: {code}"),
            },
        };
        AuthError::Refused {
            entra: Box::new(entra),
            explanation,
            admin_consent_url: None,
        }
    }

    /// The stable code the UI branches on.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Refused {
                admin_consent_url: Some(_),
                ..
            } => "consent_required",
            AuthError::Refused { .. } => "auth_refused",
            AuthError::ReauthRequired { .. } => "reauth_required",
            AuthError::NotSignedIn => "not_signed_in",
            AuthError::ConsentNeeded(_) => "consent_needed",
            AuthError::Timeout(_) => "login_timeout",
            AuthError::Cancelled => "login_cancelled",
            AuthError::KeyringUnavailable(_) => "keyring_unavailable",
            AuthError::Keyring(_) => "keyring",
            AuthError::Network(_) => "network",
            AuthError::Protocol(_) | AuthError::Listener(_) => "auth_failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(error: &str, code: u32) -> EntraError {
        EntraError {
            error: error.into(),
            error_codes: vec![code],
            error_description: Some(format!("AADSTS{code}: secret description text")),
            ..Default::default()
        }
    }

    #[test]
    fn revoked_and_expired_grants_send_the_user_back_to_sign_in() {
        for code in [50173, 700082, 70008, 70043] {
            let e = AuthError::from_entra(
                err("invalid_grant", code),
                "https://login.microsoftonline.com",
                "organizations",
                "cid",
            );
            assert_eq!(e.code(), "reauth_required", "{code}");
            assert!(e.to_string().contains(&format!("AADSTS{code}")));
        }
    }

    #[test]
    fn consent_errors_carry_the_admin_consent_url() {
        for (error, code) in [
            ("invalid_grant", 65001),
            ("access_denied", 90094),
            ("access_denied", 90095),
        ] {
            let e = AuthError::from_entra(
                err(error, code),
                "https://login.microsoftonline.com",
                "contoso.com",
                "cid",
            );
            assert_eq!(e.code(), "consent_required");
            assert!(
                e.to_string().contains(
                    "https://login.microsoftonline.com/contoso.com/adminconsent?client_id=cid"
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn a_busy_sign_in_service_is_transient_not_a_reason_to_sign_in_again() {
        let e = AuthError::from_entra(err("temporarily_unavailable", 90006), "a", "t", "c");
        assert_eq!(e.code(), "network");
    }

    #[test]
    fn configuration_errors_are_explained_by_code_not_description() {
        let e = AuthError::from_entra(err("invalid_request", 50011), "a", "t", "c");
        assert!(e.to_string().contains("redirect URI"));
        assert!(!e.to_string().contains("secret description text"));
        let e = AuthError::from_entra(err("invalid_request", 53003), "a", "t", "c");
        assert!(e.to_string().contains("Conditional Access"));
    }

    #[test]
    fn redirect_errors_take_the_code_from_the_description_prefix() {
        let e = EntraError::from_redirect(
            "consent_required",
            Some("AADSTS65001: The user or administrator has not consented"),
        );
        assert_eq!(e.error_codes, vec![65001]);
        let e = EntraError::from_redirect("access_denied", Some("the user said no"));
        assert!(e.error_codes.is_empty());
    }
}
