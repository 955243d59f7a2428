//! Where Presently keeps its files: the platform's directories, each overridable.

use std::path::PathBuf;

/// The files the engine reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    pub log_dir: PathBuf,
}

impl Paths {
    /// Platform defaults, overridden by `PRESENTLY_DATA_DIR` and `PRESENTLY_CONFIG`, and by
    /// an explicit config file (the CLI's `--config`).
    pub fn resolve(config_override: Option<PathBuf>) -> Self {
        let dirs = directories::ProjectDirs::from("com", "Presently", "Presently");
        let env_path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let data_dir = env_path("PRESENTLY_DATA_DIR")
            .or_else(|| dirs.as_ref().map(|d| d.data_local_dir().to_owned()))
            .unwrap_or_else(|| PathBuf::from(".presently"));
        let config_file = config_override
            .or_else(|| env_path("PRESENTLY_CONFIG"))
            .or_else(|| dirs.as_ref().map(|d| d.config_dir().join("config.toml")))
            .unwrap_or_else(|| data_dir.join("config.toml"));
        let log_dir = data_dir.join("logs");
        Self {
            data_dir,
            config_file,
            log_dir,
        }
    }

    /// Everything under one directory (tests, demo mode).
    pub fn under(dir: impl Into<PathBuf>) -> Self {
        let data_dir = dir.into();
        Self {
            config_file: data_dir.join("config.toml"),
            log_dir: data_dir.join("logs"),
            data_dir,
        }
    }

    pub fn store_file(&self) -> PathBuf {
        self.data_dir.join("presently.db")
    }
}
