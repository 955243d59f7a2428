//! Logging: `tracing` to a daily-rotated file in the log directory, and optionally to
//! stderr (the CLI). `RUST_LOG` sets the filter of both.
//!
//! Without `RUST_LOG` the file keeps `info` and stderr shows warnings and errors only: a
//! command's output is what it prints, not the engine's progress. Stderr is coloured only
//! when it is a terminal and `NO_COLOR` is unset or empty (<https://no-color.org>).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

/// The file's level when `RUST_LOG` is unset.
const FILE_DEFAULT: &str = "info";
/// Stderr's level when `RUST_LOG` is unset.
const STDERR_DEFAULT: &str = "warn";
/// Stderr's level for a daemon (`presently run`) when `RUST_LOG` is unset: warnings, and
/// each line of the presence history as it is written (target `presently::presence`), so
/// its output says what it did, as the store's history does.
pub const DAEMON_STDERR_DEFAULT: &str = "warn,presently::presence=info";

/// Keep this guard alive for as long as the program runs; dropping it flushes the file.
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// How the stderr layer writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StderrStyle {
    /// `EnvFilter` directives.
    pub filter: String,
    /// ANSI colours.
    pub ansi: bool,
}

impl StderrStyle {
    /// From `RUST_LOG`, `NO_COLOR` and whether stderr is a terminal.
    pub fn decide(rust_log: Option<&str>, no_color: Option<&str>, is_terminal: bool) -> Self {
        Self::decide_with(STDERR_DEFAULT, rust_log, no_color, is_terminal)
    }

    /// As [`StderrStyle::decide`], with `default` when `RUST_LOG` is unset.
    pub fn decide_with(
        default: &str,
        rust_log: Option<&str>,
        no_color: Option<&str>,
        is_terminal: bool,
    ) -> Self {
        let filter = rust_log
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
            .to_owned();
        Self {
            filter,
            ansi: is_terminal && no_color.is_none_or(str::is_empty),
        }
    }

    fn from_env(default: &str) -> Self {
        let var = |name: &str| std::env::var(name).ok();
        Self::decide_with(
            default,
            var("RUST_LOG").as_deref(),
            var("NO_COLOR").as_deref(),
            std::io::stderr().is_terminal(),
        )
    }
}

/// An `EnvFilter` from `directives`, or from `fallback` when they do not parse (a typo in
/// `RUST_LOG` must not silence the log).
fn filter(directives: &str, fallback: &str) -> EnvFilter {
    EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new(fallback))
}

/// Installs the global subscriber. `stderr` also writes human-readable logs to stderr.
/// A log directory that cannot be created only costs the file output, never the program.
pub fn init(log_dir: &Path, file_prefix: &str, stderr: bool) -> LogGuard {
    init_with(log_dir, file_prefix, stderr.then_some(STDERR_DEFAULT))
}

/// As [`init`], with stderr's level when `RUST_LOG` is unset (None: no stderr), such as
/// [`DAEMON_STDERR_DEFAULT`].
pub fn init_with(log_dir: &Path, file_prefix: &str, stderr: Option<&str>) -> LogGuard {
    let file_filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(FILE_DEFAULT));
    // The log names the user (UPN) and their calendars: the directory and its files are
    // private (the data directory above it too, which may not exist yet).
    let dirs = log_dir
        .parent()
        .map_or(Ok(()), crate::private::create_dir)
        .and_then(|()| crate::private::create_dir(log_dir));
    let file = dirs.ok().and_then(|()| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix(file_prefix)
            .filename_suffix("log")
            .max_log_files(7)
            .build(log_dir)
            .ok()
            .map(|inner| PrivateFiles::new(inner, log_dir, file_prefix))
    });
    let (file_layer, guard) = match file {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false)
                        .with_filter(file_filter()),
                ),
                Some(guard),
            )
        }
        None => (None, None),
    };
    let stderr_layer = stderr.map(|default| {
        let style = StderrStyle::from_env(default);
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(style.ansi)
            .with_filter(filter(&style.filter, default))
    });
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    LogGuard(guard)
}

/// The rolling appender, with each new day's file made private on its first write
/// (tracing-appender creates files with the process's umask and has no mode option).
struct PrivateFiles {
    inner: tracing_appender::rolling::RollingFileAppender,
    dir: PathBuf,
    prefix: String,
    /// The UTC day (the appender rotates on UTC days) whose file was last made private.
    checked_day: Option<i64>,
}

impl PrivateFiles {
    fn new(
        inner: tracing_appender::rolling::RollingFileAppender,
        dir: &Path,
        prefix: &str,
    ) -> Self {
        Self {
            inner,
            dir: dir.to_owned(),
            prefix: prefix.to_owned(),
            checked_day: None,
        }
    }
}

impl std::io::Write for PrivateFiles {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        let day = crate::clock::Clock::now(&crate::clock::SystemClock)
            .timestamp()
            .div_euclid(86_400);
        if self.checked_day != Some(day) {
            self.checked_day = Some(day);
            crate::private::tighten_dir_entries(&self.dir, &self.prefix);
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_shows_warnings_unless_rust_log_says_otherwise() {
        assert_eq!(StderrStyle::decide(None, None, false).filter, "warn");
        assert_eq!(StderrStyle::decide(Some(""), None, false).filter, "warn");
        assert_eq!(
            StderrStyle::decide(Some("presently_engine=debug"), None, false).filter,
            "presently_engine=debug"
        );
    }

    #[test]
    fn a_daemon_shows_the_presence_history_unless_rust_log_says_otherwise() {
        let style = StderrStyle::decide_with(DAEMON_STDERR_DEFAULT, None, None, false);
        assert_eq!(style.filter, "warn,presently::presence=info");
        assert!(filter(&style.filter, STDERR_DEFAULT)
            .to_string()
            .contains("presently::presence=info"));
        let style = StderrStyle::decide_with(DAEMON_STDERR_DEFAULT, Some("debug"), None, false);
        assert_eq!(style.filter, "debug");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(StderrStyle::decide(None, None, true).ansi);
        assert!(!StderrStyle::decide(None, None, false).ansi, "piped");
        assert!(
            !StderrStyle::decide(None, Some("1"), true).ansi,
            "NO_COLOR=1"
        );
        assert!(
            !StderrStyle::decide(None, Some("0"), true).ansi,
            "any value"
        );
        // An empty NO_COLOR is the same as none (no-color.org).
        assert!(StderrStyle::decide(None, Some(""), true).ansi);
    }

    #[cfg(unix)]
    #[test]
    fn log_files_are_private_to_the_user() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().join("data").join("logs");
        crate::private::create_dir(&log_dir).unwrap();
        let inner = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("presently-test")
            .filename_suffix("log")
            .build(&log_dir)
            .unwrap();
        let mut files = PrivateFiles::new(inner, &log_dir, "presently-test");
        files
            .write_all(b"signed in as megan@contoso.com\n")
            .unwrap();
        files.flush().unwrap();
        assert_eq!(crate::private::mode(&log_dir).unwrap(), 0o700);
        let mut logs = 0;
        for entry in std::fs::read_dir(&log_dir).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(crate::private::mode(&path).unwrap(), 0o600, "{path:?}");
            logs += 1;
        }
        assert_eq!(logs, 1);
    }

    #[test]
    fn a_bad_rust_log_falls_back_instead_of_silencing() {
        assert_eq!(
            filter("presently_engine=notalevel", STDERR_DEFAULT).to_string(),
            "warn"
        );
        assert_eq!(
            filter("presently_engine=debug", STDERR_DEFAULT).to_string(),
            "presently_engine=debug"
        );
    }
}
