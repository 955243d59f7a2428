//! Errors from the Microsoft identity platform, and what they mean for the user.
//!
//! Decisions branch on `error` and `error_codes`, never on the description text.

use crate::error::ErrorCode;
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

/// A known sign-in failure, explained: what happened and what the user (or their
/// administrator) does next. The UI shows it beside the error (`ErrorHelp` in
/// `ui/src/types.ts`). Built from the AADSTS code and the app registration, never from the
/// server's `error_description` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ErrorHelp {
    /// "AADSTS65001", "AADSTS50011", ...; `None` when the service named no code.
    pub aadsts: Option<String>,
    /// One line: what happened.
    pub title: String,
    /// What the user (or their administrator) does next.
    pub next_step: String,
    /// Admin approval needed: the URL to send to the administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub admin_consent_url: Option<String>,
    /// Redirect URI not registered: the exact URI to add to the app registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub redirect_uri: Option<String>,
}

impl ErrorHelp {
    fn new(aadsts: Option<String>, title: &str, next_step: impl Into<String>) -> Self {
        Self {
            aadsts,
            title: title.to_owned(),
            next_step: next_step.into(),
            admin_consent_url: None,
            redirect_uri: None,
        }
    }

    /// "Title (AADSTSnnnn). Next step."
    pub fn message(&self) -> String {
        match &self.aadsts {
            Some(code) => format!("{} ({code}). {}", self.title, self.next_step),
            None => format!("{}. {}", self.title, self.next_step),
        }
    }
}

/// The app registration and authority a sign-in used: what an explanation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInContext<'a> {
    /// `https://login.microsoftonline.com` (no trailing slash needed).
    pub authority_host: &'a str,
    /// `organizations`, `common`, `consumers`, a directory ID or domain.
    pub tenant: &'a str,
    pub client_id: &'a str,
    /// The loopback redirect URI to register, without its port (the identity platform
    /// ignores the port of loopback redirect URIs): `http://localhost/`.
    pub redirect_uri: &'a str,
}

impl SignInContext<'_> {
    /// `{authority}/{tenant}/adminconsent?client_id=…`: where an administrator grants
    /// consent for the whole organization.
    pub fn admin_consent_url(&self) -> String {
        format!(
            "{}/{}/adminconsent?client_id={}",
            self.authority_host.trim_end_matches('/'),
            self.tenant,
            self.client_id
        )
    }

    /// What to tell the user when the browser never came back to the loopback listener:
    /// the identity platform shows some errors on its own page and does not redirect
    /// (AADSTS50011, AADSTS700016, AADSTS7000112), so the code is only on that page.
    pub fn no_redirect_help(&self) -> ErrorHelp {
        ErrorHelp {
            redirect_uri: Some(self.redirect_uri.to_owned()),
            ..ErrorHelp::new(
                None,
                "Sign-in did not come back to Presently",
                format!(
                    "If the Microsoft sign-in page showed an error, its code says what to fix. AADSTS50011: an administrator adds the redirect URI {uri} to the app registration (Authentication, Mobile and desktop applications); the port does not matter for loopback addresses such as http://localhost and http://127.0.0.1. AADSTS700016: check the application ID {client} and the directory ID \"{tenant}\". AADSTS7000112: the application is disabled; ask your IT administrator to enable it. Otherwise, sign in again.",
                    uri = self.redirect_uri,
                    client = self.client_id,
                    tenant = self.tenant,
                ),
            )
        }
    }
}

/// Why sign-in or a token request failed, in terms the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}", .help.message())]
    Refused {
        entra: Box<EntraError>,
        /// What happened and what to do; for consent errors with the URL an administrator
        /// opens to grant consent.
        help: Box<ErrorHelp>,
    },
    #[error("Presently needs you to sign in again: {explanation}")]
    ReauthRequired {
        entra: Box<EntraError>,
        explanation: String,
        help: Box<ErrorHelp>,
    },
    /// The browser never came back to the loopback listener (`error` is the timeout or the
    /// cancellation): the identity platform may have shown an error page instead of
    /// redirecting, and `help` says what its codes mean.
    #[error("{error}")]
    NoRedirect {
        error: Box<AuthError>,
        help: Box<ErrorHelp>,
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

/// Why a grant is dead, by code.
fn reauth_reason(entra: &EntraError) -> &'static str {
    if entra.has_code(50173) || entra.has_code(70008) {
        "your earlier sign-in was revoked or has expired"
    } else if entra.has_code(700082) {
        "your sign-in expired after a long time without use"
    } else if entra.has_code(70043) {
        "your organization requires you to sign in again periodically"
    } else if entra.has_code(50076) || entra.has_code(50079) || entra.has_code(50078) {
        "your organization requires multi-factor authentication for this sign-in"
    } else {
        "your sign-in is no longer valid"
    }
}

impl AuthError {
    /// Maps a token-endpoint or redirect error to what the user should do. The
    /// explanation goes by `error` and `error_codes`; the description text is never
    /// quoted (it can hold anything).
    pub fn from_entra(entra: EntraError, ctx: &SignInContext<'_>) -> Self {
        let aadsts = entra.error_codes.first().map(|c| format!("AADSTS{c}"));
        let code = aadsts.clone().unwrap_or_else(|| entra.error.clone());
        if matches!(
            entra.error.as_str(),
            "temporarily_unavailable" | "server_error"
        ) {
            return AuthError::Network(format!(
                "the sign-in service is temporarily unavailable ({code}); Presently will try again"
            ));
        }
        if let Some(help) = known_help(&entra, aadsts.clone(), ctx) {
            return AuthError::refused(entra, help);
        }
        if entra.needs_reauth() {
            let why = reauth_reason(&entra);
            let help = ErrorHelp::new(
                aadsts,
                "You need to sign in again",
                format!("Presently cannot renew your sign-in: {why}. Sign in again; your calendar stays on this computer meanwhile."),
            );
            return AuthError::ReauthRequired {
                explanation: format!("{why} ({code})"),
                entra: Box::new(entra),
                help: Box::new(help),
            };
        }
        let help = match entra.error.as_str() {
            "access_denied" => ErrorHelp::new(
                aadsts,
                "Sign-in was declined",
                format!("Sign in again and accept the permissions Presently asks for. If it keeps failing, tell your IT department the code {code}."),
            ),
            _ => ErrorHelp::new(
                aadsts,
                "Sign-in failed",
                format!("Try again. If it keeps failing, tell your IT department the code {code}."),
            ),
        };
        AuthError::refused(entra, help)
    }

    /// A refusal explained by `help`.
    pub fn refused(entra: EntraError, help: ErrorHelp) -> Self {
        AuthError::Refused {
            entra: Box::new(entra),
            help: Box::new(help),
        }
    }

    /// A timeout or cancellation of the interactive sign-in, with what the sign-in page
    /// may have shown; any other error is returned as it is.
    pub fn no_redirect(self, help: ErrorHelp) -> Self {
        match self {
            AuthError::Timeout(_) | AuthError::Cancelled => AuthError::NoRedirect {
                error: Box::new(self),
                help: Box::new(help),
            },
            other => other,
        }
    }

    /// What happened and what to do next, for the failures Presently can explain.
    pub fn help(&self) -> Option<&ErrorHelp> {
        match self {
            AuthError::Refused { help, .. }
            | AuthError::ReauthRequired { help, .. }
            | AuthError::NoRedirect { help, .. } => Some(help),
            _ => None,
        }
    }

    /// The stable code the UI branches on.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Refused { help, .. } if help.admin_consent_url.is_some() => {
                ErrorCode::ConsentRequired
            }
            AuthError::Refused { .. } => ErrorCode::AuthRefused,
            AuthError::ReauthRequired { .. } => ErrorCode::ReauthRequired,
            AuthError::NoRedirect { error, .. } => error.code(),
            AuthError::NotSignedIn => ErrorCode::NotSignedIn,
            AuthError::ConsentNeeded(_) => ErrorCode::ConsentNeeded,
            AuthError::Timeout(_) => ErrorCode::LoginTimeout,
            AuthError::Cancelled => ErrorCode::LoginCancelled,
            AuthError::KeyringUnavailable(_) => ErrorCode::KeyringUnavailable,
            AuthError::Keyring(_) => ErrorCode::Keyring,
            AuthError::Network(_) => ErrorCode::Network,
            AuthError::Protocol(_) | AuthError::Listener(_) => ErrorCode::AuthFailed,
        }
    }
}

/// The explanation of a known code (or of `consent_required`), if there is one.
fn known_help(
    entra: &EntraError,
    aadsts: Option<String>,
    ctx: &SignInContext<'_>,
) -> Option<ErrorHelp> {
    let consent_url = || Some(ctx.admin_consent_url());
    let tenant = ctx.tenant;
    let client = ctx.client_id;
    if entra.has_code(90094) {
        return Some(ErrorHelp {
            admin_consent_url: consent_url(),
            ..ErrorHelp::new(
                aadsts,
                "Your organization requires an administrator to approve Presently",
                format!("Send your IT administrator this link to approve Presently for your organization, then sign in again: {}", ctx.admin_consent_url()),
            )
        });
    }
    if entra.has_code(90095) {
        return Some(ErrorHelp {
            admin_consent_url: consent_url(),
            ..ErrorHelp::new(
                aadsts,
                "Presently is waiting for an administrator's approval",
                format!("Your organization's administrators review requests for new apps; if the sign-in page offered it, request approval there. Once an administrator approves Presently, sign in again. An administrator can also approve it directly with this link: {}", ctx.admin_consent_url()),
            )
        });
    }
    if entra.has_code(65001) || entra.error == "consent_required" {
        return Some(ErrorHelp {
            admin_consent_url: consent_url(),
            ..ErrorHelp::new(
                aadsts,
                "Presently has not been given permission to use your account",
                format!("Sign in again and accept the permissions Presently asks for. If your organization does not let you consent yourself, send your IT administrator this link to approve Presently for your organization: {}", ctx.admin_consent_url()),
            )
        });
    }
    let help = match entra.error_codes.first().copied()? {
        65004 => ErrorHelp::new(
            aadsts,
            "The permissions Presently asks for were declined",
            "Sign in again and accept the permissions; without them Presently cannot read your calendar.",
        ),
        7000112 => ErrorHelp::new(
            aadsts,
            "The application has been disabled in your organization",
            format!("Ask your IT administrator to enable the application {client} again (Microsoft Entra admin center: Enterprise applications, the application's Properties, \"Enabled for users to sign in\"), then sign in again."),
        ),
        50011 => ErrorHelp {
            redirect_uri: Some(ctx.redirect_uri.to_owned()),
            ..ErrorHelp::new(
                aadsts,
                "The redirect URI Presently uses is not registered for this application",
                format!("An administrator of the app registration adds the redirect URI {} under Authentication, Mobile and desktop applications. The port does not matter: the identity platform ignores it for loopback addresses such as http://localhost and http://127.0.0.1.", ctx.redirect_uri),
            )
        },
        50194 => ErrorHelp::new(
            aadsts,
            "This application is registered for a single organization",
            format!("Sign in through your organization's directory: set the directory (tenant) to your organization's directory ID or domain instead of \"{tenant}\"."),
        ),
        9002332 => {
            let directory = if tenant.eq_ignore_ascii_case("consumers") {
                " If the directory (tenant) is set to \"consumers\", set it to \"organizations\" or your organization's directory ID."
            } else {
                ""
            };
            ErrorHelp::new(
                aadsts,
                "This application accepts work or school accounts only",
                format!("Sign in with your work or school account; a personal Microsoft account cannot use this application.{directory}"),
            )
        }
        53003 => ErrorHelp::new(
            aadsts,
            "Your organization's Conditional Access policy blocked this sign-in",
            "Ask your IT department or administrator for access to Presently. Such policies usually depend on the device (a company-managed or compliant device) or on the location and network you sign in from; signing in from your work device or network may work.",
        ),
        530003 => ErrorHelp::new(
            aadsts,
            "Your organization allows this sign-in only from a managed device",
            "Ask your IT department or administrator to register this device with your organization (for example through Intune or Company Portal), or sign in from a device your organization manages.",
        ),
        700016 => ErrorHelp::new(
            aadsts,
            "The application was not found in the directory",
            format!("Check the application (client) ID {client} and the directory (tenant) ID \"{tenant}\": the application must be registered in that directory, or an administrator must have added it there."),
        ),
        7000218 => ErrorHelp::new(
            aadsts,
            "The application is registered as a web application",
            "An administrator of the app registration adds Presently's redirect URI under Mobile and desktop applications (not Web) and turns on \"Allow public client flows\".",
        ),
        700025 => ErrorHelp::new(
            aadsts,
            "The application registration does not match Presently",
            "Presently is a public client and sends no secret; an administrator checks that the app registration is set up for Mobile and desktop applications.",
        ),
        _ => return None,
    };
    Some(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "secret description text";

    fn err(error: &str, code: u32) -> EntraError {
        EntraError {
            error: error.into(),
            error_codes: vec![code],
            error_description: Some(format!("AADSTS{code}: {SECRET}")),
            ..Default::default()
        }
    }

    fn ctx(tenant: &str) -> SignInContext<'_> {
        SignInContext {
            authority_host: "https://login.microsoftonline.com",
            tenant,
            client_id: "cid",
            redirect_uri: "http://localhost/",
        }
    }

    fn explain(error: &str, code: u32, tenant: &str) -> AuthError {
        AuthError::from_entra(err(error, code), &ctx(tenant))
    }

    #[test]
    fn revoked_and_expired_grants_send_the_user_back_to_sign_in() {
        for code in [50173, 700082, 70008, 70043] {
            let e = explain("invalid_grant", code, "organizations");
            assert_eq!(e.code(), ErrorCode::ReauthRequired, "{code}");
            assert!(e.to_string().contains(&format!("AADSTS{code}")));
            let help = e.help().unwrap();
            assert_eq!(help.aadsts.as_deref(), Some(&*format!("AADSTS{code}")));
            assert_eq!(help.title, "You need to sign in again");
        }
    }

    #[test]
    fn consent_errors_carry_the_admin_consent_url() {
        for (error, code, title) in [
            ("invalid_grant", 65001, "not been given permission"),
            ("consent_required", 65001, "not been given permission"),
            (
                "access_denied",
                90094,
                "requires an administrator to approve",
            ),
            ("access_denied", 90095, "waiting for an administrator"),
        ] {
            let e = explain(error, code, "contoso.com");
            assert_eq!(e.code(), ErrorCode::ConsentRequired);
            let url = "https://login.microsoftonline.com/contoso.com/adminconsent?client_id=cid";
            assert!(e.to_string().contains(url), "{e}");
            let help = e.help().unwrap();
            assert_eq!(help.admin_consent_url.as_deref(), Some(url));
            assert!(help.next_step.contains(url));
            assert!(help.title.contains(title), "{help:?}");
        }
        // consent_required without a code is still a consent error.
        let e = AuthError::from_entra(
            EntraError {
                error: "consent_required".into(),
                ..Default::default()
            },
            &ctx("organizations"),
        );
        assert_eq!(e.code(), ErrorCode::ConsentRequired);
        assert_eq!(e.help().unwrap().aadsts, None);
    }

    #[test]
    fn a_busy_sign_in_service_is_transient_not_a_reason_to_sign_in_again() {
        let e = explain("temporarily_unavailable", 90006, "t");
        assert_eq!(e.code(), ErrorCode::Network);
        assert!(e.help().is_none());
    }

    #[test]
    fn configuration_errors_are_explained_by_code_not_description() {
        let e = explain("invalid_request", 50011, "t");
        assert!(e.to_string().contains("redirect URI"));
        assert_eq!(
            e.help().unwrap().redirect_uri.as_deref(),
            Some("http://localhost/")
        );
        let e = explain("invalid_request", 53003, "t");
        assert!(e.to_string().contains("Conditional Access"));
        for (error, code, title) in [
            ("invalid_request", 50011, "redirect URI"),
            ("invalid_request", 50194, "single organization"),
            ("invalid_request", 9002332, "work or school accounts only"),
            ("unauthorized_client", 700016, "not found in the directory"),
            ("unauthorized_client", 7000112, "disabled"),
            ("access_denied", 53003, "Conditional Access"),
            ("invalid_grant", 53003, "Conditional Access"),
            ("interaction_required", 53003, "Conditional Access"),
            ("invalid_grant", 530003, "managed device"),
            ("access_denied", 65004, "declined"),
            ("invalid_client", 7000218, "web application"),
        ] {
            let e = explain(error, code, "t");
            assert_eq!(e.code(), ErrorCode::AuthRefused, "{code}");
            let help = e.help().unwrap();
            assert_eq!(help.aadsts, Some(format!("AADSTS{code}")));
            assert!(help.title.contains(title), "{code}: {help:?}");
            assert!(!e.to_string().contains(SECRET), "{e}");
            assert!(!serde_json::to_string(help).unwrap().contains(SECRET));
            assert_eq!(help.admin_consent_url, None);
        }
    }

    #[test]
    fn the_context_names_the_app_and_directory() {
        let e = explain("unauthorized_client", 700016, "contoso.com");
        let step = &e.help().unwrap().next_step;
        assert!(
            step.contains("cid") && step.contains("\"contoso.com\""),
            "{step}"
        );
        let e = explain("invalid_request", 9002332, "consumers");
        assert!(e.help().unwrap().next_step.contains("\"organizations\""));
        let e = explain("invalid_request", 50194, "common");
        assert!(e.help().unwrap().next_step.contains("\"common\""));
    }

    #[test]
    fn unknown_errors_get_a_generic_help_with_the_code() {
        let e = explain("invalid_request", 12345, "t");
        assert_eq!(e.code(), ErrorCode::AuthRefused);
        let help = e.help().unwrap();
        assert_eq!(help.title, "Sign-in failed");
        assert!(help.next_step.contains("AADSTS12345"));
        let e = AuthError::from_entra(
            EntraError::from_redirect("access_denied", Some("the user said no")),
            &ctx("t"),
        );
        assert_eq!(e.help().unwrap().title, "Sign-in was declined");
        assert!(!e.to_string().contains("the user said no"));
    }

    #[test]
    fn a_sign_in_without_redirect_keeps_its_code_and_gains_help() {
        let help = ctx("organizations").no_redirect_help();
        let e = AuthError::Timeout(5).no_redirect(help.clone());
        assert_eq!(e.code(), ErrorCode::LoginTimeout);
        assert_eq!(e.to_string(), AuthError::Timeout(5).to_string());
        assert_eq!(e.help(), Some(&help));
        assert_eq!(help.redirect_uri.as_deref(), Some("http://localhost/"));
        assert!(help.next_step.contains("AADSTS50011"));
        assert!(help.next_step.contains("AADSTS700016"));
        let e = AuthError::Cancelled.no_redirect(help.clone());
        assert_eq!(e.code(), ErrorCode::LoginCancelled);
        let e = AuthError::Protocol("x".into()).no_redirect(help);
        assert!(e.help().is_none());
    }

    #[test]
    fn help_serializes_to_the_ui_contract() {
        let e = explain("access_denied", 90094, "organizations");
        let json = serde_json::to_value(e.help().unwrap()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            vec!["aadsts", "admin_consent_url", "next_step", "title"],
            "{json}"
        );
        let e = explain("invalid_request", 50011, "organizations");
        let json = serde_json::to_value(e.help().unwrap()).unwrap();
        assert_eq!(json["redirect_uri"], "http://localhost/");
        assert!(json.get("admin_consent_url").is_none());
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
