//! Two or more accounts in the shells (issue 22, item 4): the named accounts beside the
//! default one, each with its own store, settings and keyring entry (`Paths::account`,
//! `Engine::open_account`, as `presently --account NAME` opens them), and the agenda merged
//! across them (the engine's `agenda::merge`, as `presently agenda --all-accounts` shows
//! it).
//!
//! [`crate::background::Background`] runs the named accounts' sync and presence
//! automation beside the default account's; this module opens them and answers what the
//! shells ask across accounts.

use crate::settings::Provisioning;
use presently_engine::agenda::{self, AgendaView};
use presently_engine::effective;
use presently_engine::paths::{Paths, DEFAULT_ACCOUNT};
use presently_engine::{Clock, Engine, EngineSetup, Error};
use std::sync::Arc;

/// A named account's engine, opened for the shells.
pub struct NamedEngine {
    pub name: String,
    pub engine: Engine,
}

/// Opens one named account: its settings (its `config.toml` under the organization
/// policy, the group picked by the UPN signed in to it, as the CLI's `--account NAME`
/// reads them) and its store and keyring entry.
pub fn open_named(
    base: &Paths,
    name: &str,
    clock: Arc<dyn Clock>,
) -> Result<NamedEngine, AccountError> {
    if name == DEFAULT_ACCOUNT {
        return Err(AccountError::Name(format!(
            "{DEFAULT_ACCOUNT} is the default account, not a named one"
        )));
    }
    let paths = base.account(name).map_err(AccountError::Name)?;
    let mut provisioning = Provisioning::open(&paths);
    // The policy's groups apply per account, by the user signed in to it.
    provisioning.set_upn(effective::stored_upn(&paths));
    let engine = Engine::open_account(
        EngineSetup {
            paths,
            config: provisioning.config().clone(),
            clock,
            demo: false,
        },
        name,
    )?;
    Ok(NamedEngine {
        name: name.to_owned(),
        engine,
    })
}

/// Opens every named account that exists under `base` (the default account's paths). One
/// that cannot be opened (a store from a newer version, say) is logged and left out: the
/// others still run.
pub fn open_all_named(base: &Paths, clock: Arc<dyn Clock>) -> Vec<NamedEngine> {
    base.named_accounts()
        .into_iter()
        .filter_map(|name| match open_named(base, &name, clock.clone()) {
            Ok(engine) => Some(engine),
            Err(e) => {
                tracing::error!(account = %name, error = %e, "cannot open the account; it is left out");
                None
            }
        })
        .collect()
}

/// "Add account": starts named account `name` (its directory, a copy of the default
/// account's settings to begin with, as `presently --account NAME login` does) and opens
/// it; the caller signs it in. An account of that name that exists already is refused.
pub fn add(base: &Paths, name: &str, clock: Arc<dyn Clock>) -> Result<NamedEngine, AccountError> {
    presently_engine::paths::check_account_name(name).map_err(AccountError::Name)?;
    if name == DEFAULT_ACCOUNT || base.named_accounts().iter().any(|n| n == name) {
        return Err(AccountError::Exists(name.to_owned()));
    }
    let paths = base.account(name).map_err(AccountError::Name)?;
    base.start_account(&paths)
        .map_err(|source| AccountError::Io {
            path: paths.data_dir.clone(),
            source,
        })?;
    tracing::info!(account = %name, dir = %paths.data_dir.display(), "account added");
    open_named(base, name, clock)
}

/// "Remove": deletes named account `name`'s directory (its store, settings and logs).
/// Its keyring entry must be gone already (sign it out with `forget` first).
pub fn remove(base: &Paths, name: &str) -> Result<(), AccountError> {
    if name == DEFAULT_ACCOUNT {
        return Err(AccountError::Name(format!(
            "{DEFAULT_ACCOUNT} is the default account; it cannot be removed"
        )));
    }
    let paths = base.account(name).map_err(AccountError::Name)?;
    match std::fs::remove_dir_all(&paths.data_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(AccountError::Io {
                path: paths.data_dir,
                source,
            })
        }
    }
    tracing::info!(account = %name, "account removed");
    Ok(())
}

/// Why a named account cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Not a valid account name (1 to 32 lowercase letters, digits and dashes).
    #[error("invalid account name: {0}")]
    Name(String),
    #[error("there is already an account named {0}")]
    Exists(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] Error),
}

impl From<AccountError> for presently_engine::ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Engine(e) => e.into(),
            AccountError::Name(_) | AccountError::Exists(_) => {
                Self::new(presently_engine::ErrorCode::InvalidInput, e.to_string())
            }
            AccountError::Io { .. } => {
                Self::new(presently_engine::ErrorCode::Internal, e.to_string())
            }
        }
    }
}

/// One account as the settings page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct AccountEntry {
    /// `default`, or the named account's name.
    pub name: String,
    /// The user signed in to it (or last signed in), if any.
    pub upn: Option<String>,
    pub signed_in: bool,
}

/// The agenda across `accounts` (the default account first), in zone `tz`. While no named
/// account is signed in it is the default account's as it always was, with no account on
/// the items, so a user with one account sees no change. Otherwise the agendas of the
/// accounts signed in are merged, each item with its account's name; a named account
/// whose agenda cannot be read is logged and left out.
pub fn merged_agenda(
    accounts: &[(String, Arc<Engine>)],
    tz: chrono_tz::Tz,
    from: Option<chrono::NaiveDate>,
    days: Option<u32>,
) -> Result<AgendaView, Error> {
    let Some(((default_name, default), named)) = accounts.split_first() else {
        return Err(Error::InvalidInput("no account".into()));
    };
    let named: Vec<_> = named.iter().filter(|(_, e)| is_signed_in(e)).collect();
    if named.is_empty() {
        return default.agenda_in(tz, from, days);
    }
    // Every account over the days of the one that shows them.
    let days = days.or(Some(default.config().agenda.days));
    let mut views = Vec::new();
    // Signed out, the default account has nothing to add (its store may still hold the
    // calendar of whoever signed out).
    if is_signed_in(default) {
        views.push((default_name.clone(), default.agenda_in(tz, from, days)?));
    }
    for (name, engine) in named {
        match engine.agenda_in(tz, from, days) {
            Ok(view) => views.push((name.clone(), view)),
            Err(e) => {
                tracing::warn!(account = %name, error = %e, "cannot read the account's agenda; left out")
            }
        }
    }
    if views.is_empty() {
        return default.agenda_in(tz, from, days);
    }
    Ok(agenda::merge(views))
}

/// Whether someone is signed in to `engine`'s account (an expired sign-in counts: its
/// calendar shows as last synced, as the CLI's merged agenda shows it).
pub fn is_signed_in(engine: &Engine) -> bool {
    engine.status().is_ok_and(|s| s.account.signed_in)
}

/// `accounts` as the settings page lists them.
pub fn entries(accounts: &[(String, Arc<Engine>)]) -> Vec<AccountEntry> {
    accounts
        .iter()
        .map(|(name, engine)| {
            let status = engine.status().ok();
            AccountEntry {
                name: name.clone(),
                upn: status.as_ref().and_then(|s| s.account.upn.clone()),
                signed_in: status.is_some_and(|s| s.account.signed_in),
            }
        })
        .collect()
}

/// The engine of the account whose store holds appointment `id` among `accounts` (the
/// default account first; it is the answer when none does, so the error is the one it
/// always was). Appointment ids are the service's, unique across mailboxes: a tray item, a
/// reminder or the join shortcut names an appointment without its account.
pub fn with_appointment(accounts: &[(String, Arc<Engine>)], id: &str) -> Option<Arc<Engine>> {
    let (_, default) = accounts.first()?;
    if accounts.len() == 1 || matches!(default.appointment(id), Ok(Some(_))) {
        return Some(default.clone());
    }
    let found = accounts[1..]
        .iter()
        .find(|(_, e)| matches!(e.appointment(id), Ok(Some(_))))
        .map(|(_, e)| e.clone());
    Some(found.unwrap_or_else(|| default.clone()))
}
