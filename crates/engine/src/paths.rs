//! Where Presently keeps its files: the platform's directories, each overridable.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The files the engine reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    pub log_dir: PathBuf,
    /// Who chose `config_file`.
    pub config_origin: ConfigOrigin,
}

/// Who chose the configuration file. A file the user named must exist (a typo would
/// otherwise run silently on the defaults); the default one may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// The platform's default place (or the data directory's).
    Default,
    /// The CLI's `--config`.
    Flag,
    /// `PRESENTLY_CONFIG`.
    Environment,
}

/// The owner lock's file name in the data directory.
pub const LOCK_FILE: &str = "owner.lock";

/// The name of demo mode's directory inside the data directory in force.
pub const DEMO_DIR: &str = "demo";

/// The directory inside the data directory that holds one directory per named account.
pub const ACCOUNTS_DIR: &str = "accounts";

/// The account that keeps today's files: the data directory itself, the configuration in
/// its usual place, keyring profile `default`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// What [`Paths::start_account`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountStart {
    /// The account's directory did not exist.
    pub created: bool,
    /// It got a copy of the default account's settings.
    pub copied_settings: bool,
}

/// Checks an account name: 1 to 32 of `a-z`, `0-9` and `-`, not starting with `-`
/// (`default` names the default account). The name is a directory and a keyring profile,
/// so nothing else is let through.
pub fn check_account_name(name: &str) -> Result<(), String> {
    let ok = (1..=32).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an account name: use 1 to 32 lowercase letters, digits and dashes, such as work or customer-a"
        ))
    }
}

impl Paths {
    /// Platform defaults, overridden by `PRESENTLY_DATA_DIR` and `PRESENTLY_CONFIG`, and by
    /// an explicit config file (the CLI's `--config`).
    pub fn resolve(config_override: Option<PathBuf>) -> Self {
        Self::resolve_with(config_override, |name| std::env::var_os(name))
    }

    /// [`Paths::resolve`] with the environment read through `env`.
    pub fn resolve_with(
        config_override: Option<PathBuf>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Self {
        let dirs = directories::ProjectDirs::from("com", "Presently", "Presently");
        let env_path = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let data_dir = env_path("PRESENTLY_DATA_DIR")
            .or_else(|| dirs.as_ref().map(|d| d.data_local_dir().to_owned()))
            .unwrap_or_else(|| PathBuf::from(".presently"));
        let (config_file, config_origin) = match (config_override, env_path("PRESENTLY_CONFIG")) {
            (Some(flag), _) => (flag, ConfigOrigin::Flag),
            (None, Some(named)) => (named, ConfigOrigin::Environment),
            (None, None) => (
                dirs.as_ref()
                    .map(|d| d.config_dir().join("config.toml"))
                    .unwrap_or_else(|| data_dir.join("config.toml")),
                ConfigOrigin::Default,
            ),
        };
        let log_dir = data_dir.join("logs");
        Self {
            data_dir,
            config_file,
            log_dir,
            config_origin,
        }
    }

    /// Everything under one directory (tests, demo mode).
    pub fn under(dir: impl Into<PathBuf>) -> Self {
        let data_dir = dir.into();
        Self {
            config_file: data_dir.join("config.toml"),
            log_dir: data_dir.join("logs"),
            data_dir,
            config_origin: ConfigOrigin::Default,
        }
    }

    /// Demo mode's files: everything in a `demo` directory inside this data directory, so
    /// that the demo's store, settings and logs never mix with the real ones, also when
    /// `PRESENTLY_DATA_DIR` names the data directory.
    pub fn demo(&self) -> Self {
        Self::under(self.data_dir.join(DEMO_DIR))
    }

    /// A named account's files: store, settings, logs and owner lock in
    /// `accounts/NAME` inside this data directory, so that no two accounts (nor an account
    /// and the demo) share a store. `default` is the default account: these paths as they
    /// are. The name must pass [`check_account_name`].
    pub fn account(&self, name: &str) -> Result<Self, String> {
        check_account_name(name)?;
        if name == DEFAULT_ACCOUNT {
            return Ok(self.clone());
        }
        Ok(Self::under(self.accounts_dir().join(name)))
    }

    /// Where the named accounts' directories are.
    pub fn accounts_dir(&self) -> PathBuf {
        self.data_dir.join(ACCOUNTS_DIR)
    }

    /// Every account: the default one (these paths) first, then the named ones by name,
    /// each with its files.
    pub fn all_accounts(&self) -> Vec<(String, Paths)> {
        let mut accounts = vec![(DEFAULT_ACCOUNT.to_owned(), self.clone())];
        for name in self.named_accounts() {
            if let Ok(paths) = self.account(&name) {
                accounts.push((name, paths));
            }
        }
        accounts
    }

    /// Starts named account `account` (its paths, [`Paths::account`] of these, the
    /// default account's): creates its private directory, and gives it a copy of the
    /// default account's settings to start from when it has none of its own (its settings
    /// in their usual place, not a file the user named). What `presently --account NAME
    /// login` and the app's "Add account" do first.
    pub fn start_account(&self, account: &Paths) -> std::io::Result<AccountStart> {
        let created = !account.data_dir.exists();
        account.make_private()?;
        let copied_settings = account.config_origin == ConfigOrigin::Default
            && !account.config_file.exists()
            && self.config_file.exists();
        if copied_settings {
            std::fs::copy(&self.config_file, &account.config_file)?;
            account.make_private()?;
        }
        Ok(AccountStart {
            created,
            copied_settings,
        })
    }

    /// The named accounts that exist (a directory under [`Paths::accounts_dir`] with a
    /// valid name), sorted; `default` is not among them.
    pub fn named_accounts(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.accounts_dir()) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n != DEFAULT_ACCOUNT && check_account_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    pub fn store_file(&self) -> PathBuf {
        self.data_dir.join("presently.db")
    }

    /// The store's files: the database and SQLite's write-ahead log and shared memory.
    pub fn store_files(&self) -> [PathBuf; 3] {
        let store = self.store_file();
        let with = |suffix: &str| {
            let mut name = store.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        [store.clone(), with("-wal"), with("-shm")]
    }

    /// Deletes the store's files (none there is fine). Nothing may have the store open.
    pub fn remove_store(&self) -> std::io::Result<()> {
        for file in self.store_files() {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("deleting {}: {e}", file.display()),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Creates the data and log directories private to the user and tightens what an older
    /// version left readable by others: the directories, the store with its write-ahead
    /// log and shared memory, the logs, the owner lock, the last valid policy copy and the
    /// configuration file in its default place (a file the user named may be shared on
    /// purpose: it is tightened only when Presently writes it). See [`crate::private`].
    pub fn make_private(&self) -> std::io::Result<()> {
        crate::private::create_dir(&self.data_dir)?;
        crate::private::tighten(&self.data_dir)?;
        crate::private::create_dir(&self.log_dir)?;
        crate::private::tighten_dir_entries(&self.log_dir, "");
        for file in self.store_files() {
            crate::private::tighten(&file)?;
        }
        for name in [LOCK_FILE, crate::effective::POLICY_COPY_FILE] {
            crate::private::tighten(&self.data_dir.join(name))?;
        }
        if self.config_origin == ConfigOrigin::Default {
            crate::private::tighten(&self.config_file)?;
        }
        Ok(())
    }

    /// The owner lock: which process does the background work for this data directory.
    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join(LOCK_FILE)
    }

    /// The configuration file the user named (`--config`, `PRESENTLY_CONFIG`) when it does
    /// not exist; `None` when it exists or is the default one.
    pub fn missing_named_config(&self) -> Option<(&Path, ConfigOrigin)> {
        match self.config_origin {
            ConfigOrigin::Default => None,
            origin => (!self.config_file.exists()).then_some((self.config_file.as_path(), origin)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a Path)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_os_str().to_owned())
        }
    }

    #[test]
    fn the_demo_never_shares_the_real_store_also_with_presently_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        for real in [
            Paths::resolve_with(None, env(&[])),
            Paths::resolve_with(None, env(&[("PRESENTLY_DATA_DIR", dir.path())])),
        ] {
            let demo = real.demo();
            assert_eq!(demo.data_dir, real.data_dir.join("demo"));
            assert_ne!(demo.store_file(), real.store_file());
            assert_ne!(demo.config_file, real.config_file);
            assert_ne!(demo.log_dir, real.log_dir);
            for file in demo.store_files() {
                assert!(file.starts_with(&demo.data_dir), "{file:?}");
            }
        }
        let real = Paths::resolve_with(None, env(&[("PRESENTLY_DATA_DIR", dir.path())]));
        assert_eq!(real.store_file(), dir.path().join("presently.db"));
        assert_eq!(
            real.demo().store_file(),
            dir.path().join("demo").join("presently.db")
        );
    }

    #[test]
    fn accounts_never_share_a_store_with_the_default_or_the_demo() {
        let dir = tempfile::tempdir().unwrap();
        let real = Paths::resolve_with(None, env(&[("PRESENTLY_DATA_DIR", dir.path())]));
        let work = real.account("work").unwrap();
        let customer = real.account("customer-a").unwrap();
        assert_eq!(work.data_dir, dir.path().join("accounts").join("work"));
        assert_eq!(work.config_file, work.data_dir.join("config.toml"));
        assert_eq!(work.config_origin, ConfigOrigin::Default);
        let demo = real.demo();
        let all = [&real, &work, &customer, &demo];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.store_file(), b.store_file());
                assert_ne!(a.config_file, b.config_file);
                assert_ne!(a.log_dir, b.log_dir);
                assert_ne!(a.lock_file(), b.lock_file());
            }
        }
        for file in work.store_files() {
            assert!(file.starts_with(&work.data_dir), "{file:?}");
        }
        // `default` is the default account, files and all.
        assert_eq!(real.account("default").unwrap(), real);
        // Only the named accounts' directories are listed, sorted.
        assert!(real.named_accounts().is_empty());
        for name in ["work", "customer-a", "Not Valid", "default"] {
            std::fs::create_dir_all(real.accounts_dir().join(name)).unwrap();
        }
        std::fs::write(real.accounts_dir().join("stray-file"), "").unwrap();
        assert_eq!(real.named_accounts(), ["customer-a", "work"]);
    }

    #[test]
    fn account_names_are_checked() {
        let real = Paths::under("/tmp/presently-test");
        for bad in [
            "",
            "Work",
            "a b",
            "../x",
            "x/y",
            "-work",
            "wörk",
            ".",
            "..",
            "work.",
            &"a".repeat(33),
        ] {
            let err = real.account(bad).unwrap_err();
            assert!(err.contains("not an account name"), "{bad:?}: {err}");
        }
        for good in ["work", "customer-a", "t2", &"a".repeat(32)] {
            assert!(real.account(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_named_config_file_must_exist_the_default_need_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let present = dir.path().join("config.toml");
        std::fs::write(&present, "").unwrap();

        let by_flag = Paths::resolve_with(Some(missing.clone()), env(&[]));
        assert_eq!(
            by_flag.missing_named_config(),
            Some((missing.as_path(), ConfigOrigin::Flag))
        );
        let by_env = Paths::resolve_with(None, env(&[("PRESENTLY_CONFIG", &missing)]));
        assert_eq!(
            by_env.missing_named_config(),
            Some((missing.as_path(), ConfigOrigin::Environment))
        );
        // The flag wins over the environment.
        let both = Paths::resolve_with(
            Some(present.clone()),
            env(&[("PRESENTLY_CONFIG", &missing)]),
        );
        assert_eq!(both.config_file, present);
        assert_eq!(both.missing_named_config(), None);
        // The default place may be empty.
        let default = Paths::resolve_with(None, env(&[("PRESENTLY_DATA_DIR", dir.path())]));
        assert_eq!(default.config_origin, ConfigOrigin::Default);
        assert_eq!(default.missing_named_config(), None);
        // An empty PRESENTLY_CONFIG names nothing.
        let empty = Paths::resolve_with(None, env(&[("PRESENTLY_CONFIG", Path::new(""))]));
        assert_eq!(empty.config_origin, ConfigOrigin::Default);
    }

    /// What an older version (or the default umask) left readable by others is the user's
    /// only after the next start.
    #[cfg(unix)]
    #[test]
    fn make_private_tightens_what_was_left_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path().join("data"));
        std::fs::create_dir_all(&paths.log_dir).unwrap();
        let mut files: Vec<PathBuf> = paths.store_files().into();
        files.push(paths.lock_file());
        files.push(paths.config_file.clone());
        files.push(paths.log_dir.join("presently-app.2026-11-24.log"));
        for file in &files {
            std::fs::write(file, "x").unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        for d in [&paths.data_dir, &paths.log_dir] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        paths.make_private().unwrap();
        for d in [&paths.data_dir, &paths.log_dir] {
            assert_eq!(crate::private::mode(d).unwrap(), 0o700, "{d:?}");
        }
        for file in &files {
            assert_eq!(crate::private::mode(file).unwrap(), 0o600, "{file:?}");
        }
        // A configuration file the user named elsewhere is theirs to share.
        let shared = dir.path().join("shared.toml");
        std::fs::write(&shared, "").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        let named = Paths {
            config_file: shared.clone(),
            config_origin: ConfigOrigin::Flag,
            ..paths.clone()
        };
        named.make_private().unwrap();
        assert_eq!(crate::private::mode(&shared).unwrap(), 0o644);
    }

    #[test]
    fn remove_store_deletes_the_database_and_its_journal_only() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        for file in paths.store_files() {
            std::fs::write(&file, "x").unwrap();
        }
        std::fs::write(&paths.config_file, "").unwrap();
        paths.remove_store().unwrap();
        for file in paths.store_files() {
            assert!(!file.exists(), "{file:?}");
        }
        assert!(paths.config_file.exists(), "settings stay");
        // Nothing to delete is fine.
        paths.remove_store().unwrap();
    }
}
