//! `presently`: the headless command line over Presently's engine.

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use presently_engine::config::Config;
use presently_engine::engine::sync_loop;
use presently_engine::engine::SyncOptions;
use presently_engine::paths::{ConfigOrigin, Paths, DEFAULT_ACCOUNT};
use presently_engine::presence::journal::Resource;
use presently_engine::presence::runtime as presence_runtime;
use presently_engine::presence::PlannedTransition;
use presently_engine::{agenda, Engine, EngineSetup, SystemClock};
use presently_engine::{effective, policy};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Parser)]
#[command(
    name = "presently",
    version,
    about = "Your Microsoft 365 calendar, agenda and presence, from the command line",
    after_help = "Environment:\n  \
        PRESENTLY_ACCOUNT   the account to use (as --account)\n  \
        PRESENTLY_CONFIG    the default account's configuration file (as --config)\n  \
        PRESENTLY_DATA_DIR  where the local store and the logs are (a named account's in\n                      \
        accounts/NAME there)\n  \
        RUST_LOG            what is logged to stderr and to the log file, e.g. RUST_LOG=info or\n                      \
        RUST_LOG=presently_engine=debug (default: warnings on stderr, info in the file)\n  \
        NO_COLOR            any value turns colours off (they are off when stderr is not a terminal)"
)]
struct Cli {
    /// Configuration file (default: PRESENTLY_CONFIG, else the platform config directory);
    /// a file named here or by PRESENTLY_CONFIG must exist.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The account to use (default: PRESENTLY_ACCOUNT, else the default account). Each
    /// named account keeps its sign-in, store, settings and logs apart, in accounts/NAME of
    /// the data directory (settings: its config.toml there); `login` creates it.
    #[arg(long, global = true, value_name = "NAME", value_parser = parse_account)]
    account: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Microsoft 365 emulator (identity platform + Graph) with the demo mailbox until stopped.
    Emulator {
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0, value_parser = parse_port)]
        port: u16,
        /// Anchor date of the demo week (default: today in the mailbox's zone).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        today: Option<NaiveDate>,
        /// The demo mailbox's time zone, e.g. Europe/Berlin (default: the display zone: agenda.timezone, TZ, the system's).
        #[arg(long, value_name = "ZONE", value_parser = parse_zone)]
        timezone: Option<chrono_tz::Tz>,
        /// Answer as Microsoft Graph varies in the field, drawn from this seed (the same seed, the same answers): enums in any casing, occasional 429s, optional fields left out, join links outside onlineMeeting, oversized pages, delta rounds in no order.
        #[arg(long, value_name = "SEED", value_parser = parse_seed)]
        variance: Option<u64>,
        /// Answer each identity and Graph request this many milliseconds late, as over a WAN (e.g. 100).
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = parse_millis)]
        latency_ms: u64,
        /// Send identity and Graph response bodies at this many bytes per second (default: as fast as possible).
        #[arg(long, value_name = "N", value_parser = parse_bytes_per_sec)]
        bytes_per_sec: Option<u64>,
    },
    /// Sign in to Microsoft 365 (browser with a loopback redirect; --device for a code to enter elsewhere).
    Login {
        /// Use device-code sign-in (for machines without a browser).
        #[arg(long)]
        device: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300, value_parser = parse_seconds)]
        timeout: u64,
    },
    /// Sign out: delete the stored sign-in from the OS keyring.
    Logout {
        /// Also delete the local calendar store.
        #[arg(long)]
        forget: bool,
    },
    /// Show who is signed in.
    Whoami,
    /// Sync the chosen calendars into the local store now (incremental unless --full).
    Sync {
        /// Read the whole sync window again; the result replaces the stored data.
        #[arg(long)]
        full: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the account's calendars and which of them are synced; add and remove calendar
    /// subscriptions (iCalendar feeds).
    Calendars {
        #[command(subcommand)]
        command: Option<CalendarsCommand>,
    },
    /// List the accounts: the default one and each named one (`--account NAME login`), who
    /// is signed in to it and when it last synced.
    Accounts {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the appointments in the local store.
    Agenda {
        /// First day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Number of days, 1 to 366 (default: agenda.days of the configuration, 7).
        #[arg(long, value_parser = parse_days)]
        days: Option<u32>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The appointments of every account signed in, merged, each with its account.
        #[arg(long)]
        all_accounts: bool,
    },
    /// Run sync and presence automation headless until Ctrl-C or SIGTERM (the daemon).
    Run,
    /// Presence automation: what it would do, pause and resume, what it did.
    Presence {
        #[command(subcommand)]
        command: PresenceCommand,
    },
    /// Check the organization policy: its file, whether it is valid, and what it decides for a user.
    Policy {
        /// Policy file (default: PRESENTLY_POLICY, else the platform's, e.g. /etc/presently/policy.toml).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The user to look up (default: the account signed in on this machine, if any).
        #[arg(long, value_name = "UPN")]
        upn: Option<String>,
    },
}

#[derive(Subcommand)]
enum CalendarsCommand {
    /// Subscribe to an iCalendar feed (https://, webcal:// or a local .ics file) as a calendar of its own.
    AddIcs {
        /// The calendar's name.
        name: String,
        /// The feed: an https:// or webcal:// URL, or a file.
        url: String,
        /// The calendar's colour.
        #[arg(long, value_name = "#RRGGBB")]
        color: Option<String>,
    },
    /// Remove a calendar subscription and its appointments.
    Remove {
        /// The subscription's name.
        name: String,
    },
    /// Fetch the calendar subscriptions now (or the one named), each with one conditional request.
    RefreshIcs {
        /// Only this subscription.
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum PresenceCommand {
    /// Print the transitions presence automation would make over a window of the local calendar.
    Plan {
        /// Start of the window (default: now).
        #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
        from: Option<DateTime<Utc>>,
        /// End of the window (default: the agenda's number of days after the start).
        #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
        to: Option<DateTime<Utc>>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Pause presence automation (what it put in force is restored) until resumed, or for a while.
    Pause {
        /// How long: 1h, 30m, 1h30m, or "until tomorrow" (next local midnight).
        #[arg(long = "for", value_name = "DURATION", conflicts_with = "until")]
        duration: Option<String>,
        /// Until this instant.
        #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
        until: Option<DateTime<Utc>>,
    },
    /// Resume presence automation (an appointment under way applies at once).
    Resume,
    /// Say you changed something by hand that Presently switched for an appointment (call
    /// forwarding through an HTTP request or a command, which Presently cannot read back):
    /// it is left as you set it, not switched back when the appointments end.
    #[command(name = "take-over")]
    TakeOver {
        /// What you changed: forwarding, presence, status-message or automatic-replies.
        #[arg(value_enum)]
        resource: TakeOverResource,
    },
    /// Don't switch for this one: presence, status message, forwarding and automatic
    /// replies stay as they are for an appointment (or its whole series). Skipping the
    /// appointment under way gives your own state back now, as its end would.
    Skip {
        /// An appointment id (`presently agenda --json` shows them), or `next`: the
        /// appointment under way that automation switches for, else the next one.
        target: String,
        /// Every occurrence of the appointment's series.
        #[arg(long)]
        series: bool,
    },
    /// The meeting is over before its appointment ends (you left its call): give your own
    /// state back now, as its end would, and switch no more for this occurrence. `presently
    /// run` names the appointment when it sees the call end early
    /// (`presence.restore_when_call_ends = "ask"`).
    RestoreNow {
        /// The appointment id.
        appointment: String,
    },
    /// Take a skip back: automation switches for the appointment again (its own skip and
    /// its series' go).
    Unskip {
        /// An appointment id, or `next`.
        target: String,
    },
    /// Print what presence automation did, oldest first, then the writes it still has to
    /// make (a restore that keeps failing is retried until it lands).
    History {
        /// Number of lines.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What `presently presence take-over` names.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TakeOverResource {
    Forwarding,
    Presence,
    StatusMessage,
    AutomaticReplies,
}

impl TakeOverResource {
    fn resource(self) -> Resource {
        match self {
            TakeOverResource::Forwarding => Resource::Forwarding,
            TakeOverResource::Presence => Resource::Presence,
            TakeOverResource::StatusMessage => Resource::StatusMessage,
            TakeOverResource::AutomaticReplies => Resource::AutomaticReplies,
        }
    }
}

/// `--days`: a whole number from 1 to 366.
fn parse_days(text: &str) -> Result<u32, String> {
    match text.trim().parse::<i64>() {
        Ok(days) if (1..=366).contains(&days) => Ok(days as u32),
        Ok(_) => Err("the number of days must be from 1 to 366".to_owned()),
        Err(_) => Err("the number of days must be a whole number from 1 to 366".to_owned()),
    }
}

/// `--account NAME`: `default`, or 1 to 32 lowercase letters, digits and dashes.
fn parse_account(text: &str) -> Result<String, String> {
    presently_engine::paths::check_account_name(text)?;
    Ok(text.to_owned())
}

/// A calendar date, `2026-11-24`.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| "not a date; write it as year-month-day, such as 2026-11-24".to_owned())
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse()
        .map_err(|_| "a port is a whole number from 0 to 65535 (0 picks a free one)".to_owned())
}

fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| "a seed is a whole number, such as 7".to_owned())
}

fn parse_millis(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| "must be a whole number of milliseconds, such as 100".to_owned())
}

fn parse_bytes_per_sec(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "must be a whole number of bytes per second, such as 1000000".to_owned())
}

fn parse_seconds(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| "must be a whole number of seconds, such as 300".to_owned())
}

fn parse_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.trim().parse().map_err(|_| {
        "not a time zone; use an IANA name such as Europe/Berlin or America/New_York".to_owned()
    })
}

/// `1 request`, `2 requests`.
fn plural(count: impl Into<u64>, one: &str, many: &str) -> String {
    let count = count.into();
    format!("{count} {}", if count == 1 { one } else { many })
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{text:?} is not an RFC 3339 instant such as 2026-11-24T08:00:00+01:00: {e}")
        })
}

fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
    // PRESENTLY_ACCOUNT when --account is not given; empty, it names none (as the other
    // PRESENTLY_ variables).
    if cli.account.is_none() {
        match std::env::var_os("PRESENTLY_ACCOUNT") {
            Some(value) if !value.is_empty() => {
                match value
                    .to_str()
                    .ok_or_else(|| "not text".to_owned())
                    .and_then(parse_account)
                {
                    Ok(name) => cli.account = Some(name),
                    Err(e) => {
                        eprintln!("presently: PRESENTLY_ACCOUNT: {e}");
                        return std::process::ExitCode::from(2);
                    }
                }
            }
            _ => {}
        }
    }
    let base = Paths::resolve(cli.config.clone());
    let paths = account_paths(&base, &cli);
    // The daemon's output is what it does: the presence history as it is written.
    let stderr = match cli.command {
        Command::Run => presently_engine::logging::DAEMON_STDERR_DEFAULT,
        _ => "warn",
    };
    // An account's log goes with its files; one that does not exist yet is not created by
    // logging (`login` creates it).
    let log_dir = if paths.data_dir.exists() {
        &paths.log_dir
    } else {
        &base.log_dir
    };
    let _log = presently_engine::logging::init_with(log_dir, "presently-cli", Some(stderr));
    match run(cli, base, paths) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if err.is::<Exit>() => {
            std::process::ExitCode::from(err.downcast_ref::<Exit>().map_or(1, |Exit(code)| *code))
        }
        Err(err) => {
            eprintln!("presently: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Writes a line (`outln!`) or text (`out!`) to stdout. A reader that went away (`presently
/// agenda | head`) ends the program quietly with success, as other tools do, instead of the
/// panic `println!` gives.
macro_rules! outln {
    ($($arg:tt)*) => { write_stdout(format_args!("{}\n", format_args!($($arg)*)))? };
}
macro_rules! out {
    ($($arg:tt)*) => { write_stdout(format_args!($($arg)*))? };
}

fn write_stdout(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_fmt(args) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit(0).into()),
        other => Ok(other?),
    }
}

/// Ends the program with this exit code, the output already printed.
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// The selected account's files: the default account's as resolved, or a named account's
/// in `accounts/NAME` of the data directory. `--config` names the configuration file of
/// the account selected; `PRESENTLY_CONFIG` and the platform's place are the default
/// account's (a named account reads the config.toml in its own directory).
fn account_paths(base: &Paths, cli: &Cli) -> Paths {
    match cli.account.as_deref() {
        Some(name) if name != DEFAULT_ACCOUNT => {
            // The name was checked by clap (`parse_account`).
            let mut paths = base.account(name).unwrap_or_else(|_| base.clone());
            if let Some(flag) = &cli.config {
                paths.config_file = flag.clone();
                paths.config_origin = ConfigOrigin::Flag;
            }
            paths
        }
        _ => base.clone(),
    }
}

/// The account a command works on, for messages and the keyring.
struct Account {
    name: String,
    /// `presently login`, or `presently --account NAME login`.
    login: String,
}

impl Account {
    fn new(name: Option<&str>) -> Self {
        let name = name.unwrap_or(DEFAULT_ACCOUNT).to_owned();
        let login = if name == DEFAULT_ACCOUNT {
            "presently login".to_owned()
        } else {
            format!("presently --account {name} login")
        };
        Self { name, login }
    }

    fn is_default(&self) -> bool {
        self.name == DEFAULT_ACCOUNT
    }

    fn not_signed_in(&self) -> String {
        format!("not signed in — run `{}`", self.login)
    }

    fn expired(&self, why: &str) -> String {
        format!(
            "your sign-in no longer works ({why}) — run `{}` to sign in again",
            self.login
        )
    }
}

fn run(cli: Cli, base: Paths, paths: Paths) -> Result<()> {
    let account = Account::new(cli.account.as_deref());
    // A named account exists once `login` created its directory; the other commands do
    // not create it (a typo would otherwise make an empty account).
    let creates_account = matches!(
        cli.command,
        Command::Login { .. }
            | Command::Emulator { .. }
            | Command::Policy { .. }
            | Command::Accounts { .. }
    );
    if !account.is_default() && !creates_account && !paths.data_dir.exists() {
        anyhow::bail!(
            "no account {name}; sign in with `presently --account {name} login` (`presently accounts` lists them)",
            name = account.name
        );
    }
    if !account.is_default() && matches!(cli.command, Command::Login { .. }) {
        start_account(&base, &paths, &account)?;
    }
    if let Some((file, origin)) = paths.missing_named_config() {
        anyhow::bail!(
            "the configuration file {} does not exist (named by {}); create it, or name another",
            file.display(),
            match origin {
                ConfigOrigin::Flag => "--config",
                _ => "PRESENTLY_CONFIG",
            }
        );
    }
    // The configuration in force, as every surface reads it: the organization policy (or
    // its last valid copy), the user's file, the locked keys. The emulator and `policy`
    // read what they need themselves.
    let effective = match &cli.command {
        Command::Emulator { .. } | Command::Policy { .. } | Command::Accounts { .. } => None,
        _ => Some(effective_config(&paths)?),
    };
    if let Some(effective) = &effective {
        refuse_by_policy(&cli.command, effective)?;
    }
    let config = effective.map(|e| e.layered.config).unwrap_or_default();
    check_sign_in(&cli.command, &paths, &account)?;
    let open_engine = |paths: Paths| open_engine(paths, config.clone(), &account.name);
    match cli.command {
        Command::Emulator {
            port,
            today,
            timezone,
            variance,
            latency_ms,
            bytes_per_sec,
        } => {
            // The demo mailbox in the zone the agenda shows (the configured one, else TZ,
            // else the system's), so its week is anchored on today there and its meetings
            // fall in working hours; a broken configuration only costs the configured zone.
            let zone = timezone.unwrap_or_else(|| {
                Config::load(&paths.config_file).map_or_else(
                    |_| presently_engine::zone::environment_zone(),
                    |c| c.display_timezone(),
                )
            });
            let latency = presently_emulator::Latency::per_request_ms(latency_ms)
                .with_bytes_per_sec(bytes_per_sec.unwrap_or(0));
            run_emulator(port, today, zone, variance, latency)
        }
        Command::Policy { file, upn } => show_policy(&paths, file, upn),
        Command::Accounts { json } => list_accounts(&base, json),
        Command::Login { device, timeout } => {
            let engine = open_engine(paths)?;
            runtime()?.block_on(login(&engine, device, timeout))
        }
        Command::Logout { forget } => {
            let engine = open_engine(paths.clone())?;
            runtime()?.block_on(engine.sign_out(forget))?;
            drop(engine);
            if forget {
                forget_store(&paths)?;
                outln!(
                    "Signed out; the local store {} was deleted.",
                    paths.store_file().display()
                );
            } else {
                outln!("Signed out. The local calendar stays on this machine and shows again when you sign in; `presently logout --forget` deletes it.");
            }
            Ok(())
        }
        Command::Whoami => {
            let expired = match sign_in_state(&paths)? {
                SignIn::Expired(why) => Some(why),
                _ => None,
            };
            let engine = open_engine(paths)?;
            match runtime()?.block_on(engine.whoami())? {
                Some(who) => {
                    outln!("{}", who.upn.as_deref().unwrap_or("(unknown user)"));
                    outln!("  tenant:      {}", who.tenant_id.as_deref().unwrap_or("?"));
                    outln!("  application: {}", who.client_id);
                    outln!("  authority:   {}", who.authority);
                    outln!("  permissions: {}", who.scopes.join(" "));
                }
                None => anyhow::bail!(account.not_signed_in()),
            }
            match expired {
                // Who it was, and that the sign-in no longer works: not signed in for a script.
                Some(why) => {
                    eprintln!("presently: {}", account.expired(&why));
                    Err(Exit(1).into())
                }
                None => Ok(()),
            }
        }
        Command::Sync { full, json } => {
            let engine = open_engine(paths)?;
            let report = runtime()?.block_on(engine.sync(SyncOptions { full }))?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            for c in &report.calendars {
                outln!(
                    "{}: {} round{}, {}, {} written, {} removed{}",
                    c.name,
                    c.kind,
                    if c.resumed { " (resumed)" } else { "" },
                    plural(c.pages as u64, "page", "pages"),
                    c.upserted,
                    c.removed,
                    c.restarted
                        .as_deref()
                        .map(|r| format!(" (started over: {r})"))
                        .unwrap_or_default()
                );
            }
            outln!(
                "Synced {}: {} applied, {}, {:.1} kB{}.",
                plural(report.calendars.len() as u64, "calendar", "calendars"),
                plural(report.changes as u64, "change", "changes"),
                plural(report.requests as u64, "request", "requests"),
                report.bytes as f64 / 1024.0,
                if report.rejected > 0 {
                    format!(
                        ", {} skipped",
                        plural(report.rejected as u64, "unusable item", "unusable items")
                    )
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Calendars {
            command: Some(command),
        } => {
            let engine = open_engine(paths)?;
            calendars_command(&engine, command)
        }
        Command::Calendars { command: None } => {
            let engine = open_engine(paths)?;
            let calendars = runtime()?.block_on(engine.calendars_from_server())?;
            let chosen = &engine.config().sync.calendars;
            for c in calendars {
                let synced = if chosen.is_empty() {
                    c.is_default
                } else {
                    chosen
                        .iter()
                        .any(|id| id == &c.id || id.eq_ignore_ascii_case(&c.name))
                };
                outln!(
                    "{} {}{}\n    id: {}",
                    if synced { "[synced]" } else { "[      ]" },
                    c.name,
                    if c.is_default { " (primary)" } else { "" },
                    c.id
                );
                // How a synced calendar is read: delta, or a window where Graph refused it.
                if synced {
                    outln!("    read: {}", engine.calendar_read_mode(&c)?);
                }
            }
            for subscription in engine.subscriptions()? {
                print_subscription(&subscription)?;
            }
            Ok(())
        }
        Command::Agenda {
            from,
            days,
            json,
            all_accounts: true,
        } => merged_agenda(&base, &config, from, days, json),
        Command::Agenda {
            from,
            days,
            json,
            all_accounts: false,
        } => {
            let engine = open_engine(paths)?;
            let view = engine.agenda(from, days)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&agenda::flatten(&view))?);
            } else {
                out!("{}", format_agenda(&view));
            }
            Ok(())
        }
        Command::Run => {
            let engine = Arc::new(open_engine(paths)?);
            runtime()?.block_on(run_daemon(engine))
        }
        Command::Presence {
            command: PresenceCommand::Pause { duration, until },
        } => {
            let engine = open_engine(paths)?;
            let tz = engine.config().display_timezone();
            let until = match (duration, until) {
                (Some(d), _) => Some(presence_runtime::parse_pause(&d, engine.now(), tz)?),
                (None, until) => until,
            };
            engine.presence_pause(until)?;
            match until {
                Some(t) => outln!(
                    "Presence automation paused until {}.",
                    t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M")
                ),
                None => outln!("Presence automation paused until `presently presence resume`."),
            }
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::Resume,
        } => {
            let engine = open_engine(paths)?;
            engine.presence_resume()?;
            outln!("Presence automation resumed.");
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::TakeOver { resource },
        } => {
            use presently_engine::engine::TakeOverOutcome;
            let engine = open_engine(paths)?;
            let resource = resource.resource();
            let what = resource.label().to_lowercase();
            match engine.presence_take_over(resource)? {
                TakeOverOutcome::Released => outln!(
                    "Presently leaves {what} as you set it: it is not switched back when the appointments under way end."
                ),
                TakeOverOutcome::AlreadyYours => outln!(
                    "Presently already leaves {what} to you (it saw your change) until the appointments under way end."
                ),
                TakeOverOutcome::NotChanged => {
                    outln!("Presently has not changed {what}; there is nothing to take over.")
                }
            }
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::Skip { target, series },
        } => {
            let engine = open_engine(paths)?;
            let outcome =
                engine.presence_skip(&presently_engine::SkipTarget::parse(&target), series)?;
            let what = skip_what(&outcome);
            let scope = if series { " (the whole series)" } else { "" };
            if outcome.changed {
                outln!("Presently will not switch for {what}{scope}.");
            } else {
                outln!("Presently already does not switch for {what}{scope}.");
            }
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::RestoreNow { appointment },
        } => {
            let engine = open_engine(paths)?;
            let outcome = engine.presence_restore_call_ended(&appointment)?;
            let what = skip_what(&outcome);
            if outcome.changed {
                outln!("Presently gives your own state back for {what} now and switches no more for it.");
            } else {
                outln!("{what} has ended or is not switched for; nothing to restore.");
            }
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::Unskip { target },
        } => {
            let engine = open_engine(paths)?;
            let outcome = engine.presence_unskip(&presently_engine::SkipTarget::parse(&target))?;
            let what = skip_what(&outcome);
            if outcome.changed {
                outln!("Presently switches for {what} again.");
            } else {
                outln!("{what} was not skipped; nothing to take back.");
            }
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::History { limit, json },
        } => {
            let engine = open_engine(paths)?;
            let mut lines = engine.presence_history(limit)?;
            // The writes still to land (a restore that keeps failing), from the journal:
            // the same whichever process runs automation.
            let pending = engine.presence_pending()?;
            let tz = engine.config().display_timezone();
            if json {
                lines.extend(pending.iter().map(|p| pending_line(p, &engine)));
                outln!("{}", serde_json::to_string_pretty(&lines)?);
                return Ok(());
            }
            if lines.is_empty() && pending.is_empty() {
                outln!("Presence automation has not changed anything yet.");
            }
            let mut day = None;
            for line in &lines {
                let d = line.row.at.with_timezone(&tz).date_naive();
                if day != Some(d) {
                    outln!("{}", d.format("%A %Y-%m-%d"));
                    day = Some(d);
                }
                outln!("  {}", line.text);
            }
            if !pending.is_empty() {
                outln!("Pending");
                for p in &pending {
                    outln!("  {}", pending_line(p, &engine).text);
                }
            }
            Ok(())
        }
        Command::Presence {
            command: PresenceCommand::Plan { from, to, json },
        } => {
            let engine = open_engine(paths)?;
            let from = from.unwrap_or_else(|| engine.now());
            let to = to.unwrap_or_else(|| {
                from + chrono::Duration::days(i64::from(engine.config().agenda.days))
            });
            let plan = engine.presence_plan(from, to)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                out!("{}", format_plan(&plan));
            }
            Ok(())
        }
    }
}

/// A write presence automation still has to make, as a history line (event `pending`):
/// "pending since 10:30: Forwarding still on — switching it off failed, retrying (3 tries,
/// next 10:34; last error: ...)".
fn pending_line(
    p: &presently_engine::presence::driver::PendingWrite,
    engine: &Engine,
) -> presence_runtime::HistoryLine {
    let tz = engine.config().display_timezone();
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M:%S").to_string();
    let what = p.message.clone().unwrap_or_else(|| p.action.clone());
    let mut detail = what;
    if p.attempts > 0 {
        detail.push_str(&format!(" ({} tries", p.attempts));
        if let Some(next) = p.next_attempt {
            detail.push_str(&format!(", next {}", local(next)));
        }
        if let Some(error) = &p.error {
            detail.push_str(&format!("; last error: {error}"));
        }
        detail.push(')');
    }
    presence_runtime::HistoryLine::new(
        presently_engine::store::PresenceHistoryRow {
            at: p.since,
            event: presently_engine::store::HistoryKind::Pending,
            profile: None,
            appointment_id: None,
            subject: None,
            presence: None,
            until: None,
            detail: Some(detail),
        },
        tz,
    )
}

/// "Weekly sync [AAMk…]", or "a private appointment [AAMk…]".
fn skip_what(outcome: &presently_engine::SkipOutcome) -> String {
    format!(
        "{} [{}]",
        outcome
            .subject
            .as_deref()
            .unwrap_or("a private appointment"),
        outcome.appointment_id
    )
}

/// One block per transition: the local instant, apply/restore, profile, appointment, then
/// the actions.
fn format_plan(plan: &[PlannedTransition]) -> String {
    use presently_engine::presence::TransitionKind;
    if plan.is_empty() {
        return "No presence changes in this window.\n".to_owned();
    }
    let mut out = String::new();
    for step in plan {
        let when = step
            .local
            .get(..16)
            .unwrap_or(&step.local)
            .replace('T', " ");
        let head = match &step.transition.kind {
            TransitionKind::Apply {
                profile,
                appointment_id,
                subject_for_display,
                ..
            } => format!(
                "apply    {profile} · {} [{appointment_id}]",
                subject_for_display
                    .as_deref()
                    .unwrap_or("(private appointment)")
            ),
            TransitionKind::Restore { .. } => "restore  the state before automation".to_owned(),
            TransitionKind::Skipped {
                profile,
                appointment_id,
                subject_for_display,
                ..
            } => {
                let subject = subject_for_display
                    .as_deref()
                    .unwrap_or("(private appointment)");
                out.push_str(&format!(
                    "{when}  skipped  {profile} · {subject} [{appointment_id}]\n    (skipped: nothing switches)\n"
                ));
                continue;
            }
        };
        out.push_str(&format!("{when}  {head}\n"));
        if step.transition.actions.is_empty() {
            out.push_str("    (no change)\n");
        }
        for action in &step.transition.actions {
            out.push_str(&format!("    {action}\n"));
        }
    }
    out
}

/// `presently run`: the sync cadence and presence automation side by side; each sync
/// that changed the store wakes presence automation. Stops on Ctrl-C or SIGTERM. Each line
/// presence automation adds to its history is logged (target `presently::presence`), as in
/// the app and the tray host; `presently presence history` shows the same.
async fn run_daemon(engine: Arc<Engine>) -> Result<()> {
    let clock = engine.clock();
    let (sync_now, sync_stop) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (presence_stop, store_changed) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let changed = store_changed.clone();
    let sync = tokio::spawn(sync_loop::run(
        engine.clone(),
        clock,
        sync_now,
        sync_stop.clone(),
        || {},
        move |result| match result {
            Ok(report) => {
                tracing::info!(changes = report.changes, "synced");
                if report.changes > 0 {
                    changed.notify_one();
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "sync failed");
                eprintln!("presently: sync failed: {err}");
            }
        },
    ));
    let presence = tokio::spawn(
        engine
            .clone()
            .run_presence(presence_stop.clone(), store_changed),
    );
    eprintln!("presently: running sync and presence automation; Ctrl-C to stop.");
    shutdown_signal().await;
    eprintln!("presently: stopping.");
    sync_stop.notify_one();
    presence_stop.notify_one();
    let (a, b) = tokio::join!(sync, presence);
    a.context("the sync loop failed")?;
    b.context("presence automation failed")?;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `presently policy`: the file, valid or not (exit code 2 when not), and for one user the
/// group, the application, the sync method and the locked keys.
fn show_policy(paths: &Paths, file: Option<PathBuf>, upn: Option<String>) -> Result<()> {
    use presently_engine::policy::GroupMatch;
    let path = file.unwrap_or_else(policy::policy_path);
    let load = policy::load(&path);
    outln!("Policy file: {}", path.display());
    let Some(org) = &load.policy else {
        match &load.error {
            Some(err) => {
                outln!("Status:      INVALID: {err}");
                outln!("             Presently runs with its built-in defaults and the user's own settings.");
                return Err(Exit(2).into());
            }
            None => {
                outln!("Status:      no policy file (users' own settings apply)");
                return Ok(());
            }
        }
    };
    outln!(
        "Status:      valid ({}, {})",
        plural(org.applications.len() as u64, "application", "applications"),
        plural(org.groups.len() as u64, "group", "groups")
    );

    let (upn, source) = match upn {
        Some(u) => (Some(u), "given"),
        None => match effective::stored_upn(paths) {
            Some(u) => (Some(u), "the account on this machine"),
            None => (None, "not signed in"),
        },
    };
    match &upn {
        Some(u) => outln!("User:        {u} ({source})"),
        None => outln!("User:        none ({source}; the default group applies)"),
    }
    match org.find_group(upn.as_deref()) {
        Some((group, how)) => outln!(
            "Group:       {} ({})",
            group.name,
            match how {
                GroupMatch::User => "listed by name",
                GroupMatch::Domain => "by domain",
                GroupMatch::Default => "the default group",
            }
        ),
        None => {
            outln!("Group:       none (no group names this user and there is no default group)")
        }
    }

    let layered = match policy::resolve_file(Some(org), &paths.config_file, upn.as_deref()) {
        Ok(layered) => layered,
        Err(err) => {
            outln!(
                "Note:        the user's configuration cannot be used ({err}); shown without it"
            );
            policy::resolve(Some(org), &Default::default(), upn.as_deref())?
        }
    };
    match &layered.application {
        Some(app) => {
            let m = &layered.config.microsoft;
            outln!("Application: {} [{}]", app.display_name, app.key);
            outln!("             client id {}", app.client_id);
            outln!("             tenant    {}", app.tenant);
            outln!("             authority {}", m.authority_host);
            outln!("             Graph     {}", m.graph_endpoint);
        }
        None => outln!("Application: none from the policy (the user's own registration)"),
    }
    outln!(
        "Sync method: {}{}",
        layered.sync_method.as_str(),
        if layered.allow_microsoft365 {
            ""
        } else {
            " (Microsoft 365 not allowed)"
        }
    );
    if layered.locked.is_empty() {
        outln!("Locked:      none");
    } else {
        outln!("Locked:");
        for key in &layered.locked {
            outln!("  {key}");
        }
    }
    Ok(())
}

/// Where the sign-in stands, from the local store (no keyring, no network).
#[derive(Debug, PartialEq)]
enum SignIn {
    /// Nobody ever signed in here (or `logout --forget`): no store, or no account in it.
    Nobody,
    /// `presently logout`: the account and its calendar stay in the store.
    SignedOut,
    /// The sign-in stopped working (expired, revoked, consent withdrawn): why.
    Expired(String),
    SignedIn,
}

fn sign_in_state(paths: &Paths) -> Result<SignIn> {
    let file = paths.store_file();
    if !file.exists() {
        return Ok(SignIn::Nobody);
    }
    let store = presently_engine::store::Store::open(&file)?;
    if store.account()?.is_none() {
        return Ok(SignIn::Nobody);
    }
    Ok(match store.meta(presently_engine::engine::SESSION_KEY)? {
        None => SignIn::SignedIn,
        Some(s) if s == "signed_out" => SignIn::SignedOut,
        // `<code>: <message>`: the message is for people.
        Some(s) => SignIn::Expired(s.split_once(": ").map_or(s.clone(), |(_, m)| m.to_owned())),
    })
}

/// Whether the OS keyring holds a sign-in for `account`; a keyring that cannot be read
/// holds none.
fn keyring_holds_a_sign_in(account: &str) -> bool {
    use presently_engine::auth::{CredentialStore, KeyringStore};
    matches!(KeyringStore::new(account).load(), Ok(Some(_)))
}

/// `calendars add-ics | remove | refresh-ics`: calendar subscriptions need no sign-in.
fn calendars_command(engine: &Engine, command: CalendarsCommand) -> Result<()> {
    match command {
        CalendarsCommand::AddIcs { name, url, color } => {
            let report =
                runtime()?.block_on(engine.add_subscription(&name, &url, color.as_deref()))?;
            outln!(
                "added {:?} ({}): {} in the sync window",
                report.name,
                report.calendar_id,
                plural(
                    report.appointments.unwrap_or(0) as u64,
                    "appointment",
                    "appointments"
                )
            );
            for warning in &report.warnings {
                eprintln!("presently: warning: {warning}");
            }
            Ok(())
        }
        CalendarsCommand::Remove { name } => {
            let removed = engine.remove_subscription(&name)?;
            outln!("removed {:?} and its appointments", removed.calendar.name);
            Ok(())
        }
        CalendarsCommand::RefreshIcs { name } => {
            let results = runtime()?.block_on(engine.refresh_subscriptions(name.as_deref()))?;
            let mut failed: u64 = 0;
            for (name, result) in results {
                match result {
                    Ok(report) => {
                        match report.appointments {
                            Some(n) => outln!(
                                "{name:?}: updated, {} in the sync window",
                                plural(n as u64, "appointment", "appointments")
                            ),
                            None => outln!("{name:?}: unchanged"),
                        }
                        for warning in &report.warnings {
                            eprintln!("presently: warning: {name:?}: {warning}");
                        }
                    }
                    Err(err) => {
                        failed += 1;
                        eprintln!("presently: {name:?}: {err}");
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!(
                    "{} could not be fetched; the calendars keep what they had",
                    plural(failed, "subscription", "subscriptions")
                );
            }
            Ok(())
        }
    }
}

fn print_subscription(subscription: &presently_engine::store::Subscription) -> Result<()> {
    outln!(
        "[feed  ] {}\n    id: {}\n    from: {}",
        subscription.calendar.name,
        subscription.calendar.id,
        subscription.source
    );
    match (&subscription.error, subscription.fetched_at) {
        (Some(error), _) => outln!("    last fetch failed: {error}"),
        (None, Some(at)) => outln!("    fetched: {}", at.format("%Y-%m-%d %H:%M UTC")),
        (None, None) => {}
    }
    Ok(())
}

/// The sign-in a command needs, checked before it runs. Nobody signed in, or signed out
/// with `logout`: the commands that read the account's calendar or talk to Microsoft 365
/// fail with "not signed in" instead of printing an empty result. A sign-in that stopped
/// working: the local calendar still shows (the agenda works offline), with a warning;
/// `sync` and `calendars` go on and report the service's answer; `whoami` deals with it
/// itself. `sync`, `calendars` and `whoami` without a store look in the keyring, which
/// they need anyway. The configuration was read before (`effective_config`), so a broken
/// file is what the user hears of.
fn check_sign_in(command: &Command, paths: &Paths, account: &Account) -> Result<()> {
    let local = match command {
        // The merged agenda checks each account itself.
        Command::Agenda {
            all_accounts: true, ..
        } => return Ok(()),
        Command::Agenda { .. }
        | Command::Presence {
            command: PresenceCommand::Plan { .. },
        } => true,
        Command::Sync { .. } | Command::Calendars { command: None } | Command::Whoami => false,
        _ => return Ok(()),
    };
    match sign_in_state(paths)? {
        // The store was deleted by hand but the keyring still holds the sign-in: sync
        // builds the store again.
        SignIn::Nobody if !local && keyring_holds_a_sign_in(&account.name) => Ok(()),
        SignIn::Nobody | SignIn::SignedOut => anyhow::bail!(account.not_signed_in()),
        SignIn::Expired(why) if local => {
            eprintln!(
                "presently: warning: {}; showing the calendar as last synced.",
                account.expired(&why)
            );
            Ok(())
        }
        SignIn::Expired(_) | SignIn::SignedIn => Ok(()),
    }
}

/// The configuration in force (`presently_engine::effective`): the policy at
/// `PRESENTLY_POLICY` or the platform's place, for the account in the local store. A user's
/// file that cannot be used stops the command (the app runs on the defaults instead); a
/// policy file that cannot be used is warned about (its last valid copy applies, or
/// Microsoft 365 is refused).
fn effective_config(paths: &Paths) -> Result<effective::Effective> {
    let upn = effective::stored_upn(paths);
    let effective = effective::for_paths(paths, &policy::policy_path(), upn.as_deref());
    if let Some(err) = effective.config_error {
        return Err(err.into());
    }
    if let Some(problem) = effective.policy.problem() {
        eprintln!("presently: warning: {problem}");
    }
    Ok(effective)
}

/// What the organization does not allow is refused before anything is sent to Microsoft:
/// sign-in, sync, the calendar list and `run` when Microsoft 365 is not allowed; sync also
/// when the policy turned calendar sync off.
fn refuse_by_policy(command: &Command, effective: &effective::Effective) -> Result<()> {
    let refusal = match command {
        Command::Sync { .. } => effective.sync_refusal(),
        Command::Login { .. } | Command::Calendars { command: None } | Command::Run => {
            effective.microsoft365_refusal()
        }
        _ => None,
    };
    match refusal {
        Some(refusal) => Err(refusal.into()),
        None => Ok(()),
    }
}

/// `logout --forget`: deletes the store with its write-ahead log and shared memory, then
/// checks that none of them is left (a path is never rebuilt from its printed form).
fn forget_store(paths: &Paths) -> Result<()> {
    paths.remove_store()?;
    let left: Vec<String> = paths
        .store_files()
        .iter()
        .filter(|f| f.symlink_metadata().is_ok())
        .map(|f| f.display().to_string())
        .collect();
    if !left.is_empty() {
        anyhow::bail!(
            "the local store was not deleted: {} still exist",
            left.join(", ")
        );
    }
    Ok(())
}

fn open_engine(paths: Paths, config: Config, account: &str) -> Result<Engine> {
    Ok(Engine::open_account(
        EngineSetup {
            paths,
            config,
            clock: Arc::new(SystemClock),
            demo: false,
        },
        account,
    )?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn login(engine: &Engine, device: bool, timeout: u64) -> Result<()> {
    let account = if device {
        let login = engine.start_device_sign_in().await?;
        eprintln!("{}", login.instructions());
        engine.finish_device_sign_in(login).await?
    } else {
        let login = engine.start_sign_in().await?;
        let url = login.authorize_url().to_string();
        eprintln!("Opening your browser to sign in. If it does not open, visit:\n\n  {url}\n");
        if let Err(e) = presently_engine::auth::browser::open(&url) {
            eprintln!("(could not start a browser: {e}; open the address above yourself, or use `presently login --device`)");
        }
        let cancel = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        engine
            .finish_sign_in(login, std::time::Duration::from_secs(timeout), cancel)
            .await?
    };
    outln!("Signed in as {}.", account.upn);
    Ok(())
}

fn run_emulator(
    port: u16,
    today: Option<NaiveDate>,
    zone: chrono_tz::Tz,
    variance: Option<u64>,
    latency: presently_emulator::Latency,
) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let config = presently_emulator::EmulatorConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        today: today.unwrap_or_else(|| {
            presently_engine::clock::Clock::now(&presently_engine::SystemClock)
                .with_timezone(&zone)
                .date_naive()
        }),
        mailbox_tz: zone,
        variance: variance.map(|seed| presently_emulator::Variance { seed }),
        latency,
        ..Default::default()
    };
    runtime.block_on(async move {
        let seed = config.variance.map(|v| v.seed);
        let emulator = presently_emulator::Emulator::start(config)
            .await
            .context("starting the emulator")?;
        // On stdout, not in the log: stderr shows warnings only, and this is the answer to
        // "where is it?" (with the port 0 default, nobody knows otherwise).
        out!("{}", emulator_banner(&emulator.base_url(), seed, latency));
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        emulator.shutdown().await;
        Ok(())
    })
}

/// What `presently emulator` prints once it listens: where, and the configuration that
/// points Presently at it.
fn emulator_banner(
    base_url: &str,
    variance: Option<u64>,
    latency: presently_emulator::Latency,
) -> String {
    let mut out = format!("Microsoft 365 emulator listening on {base_url} (Ctrl-C stops it)\n");
    if let Some(seed) = variance {
        out.push_str(&format!(
            "Real-world variance on (seed {seed}): Graph's answers vary as in the field\n"
        ));
    }
    if !latency.is_none() {
        let body = match latency.bytes_per_sec {
            Some(rate) => format!("bodies at {rate} bytes/s"),
            None => "bodies at full speed".to_owned(),
        };
        out.push_str(&format!(
            "Latency on: {} ms per identity and Graph request, {body}\n",
            latency.per_request.as_millis()
        ));
    }
    out.push_str(&format!(
        "To use it, put this in Presently's config.toml:\n\n[microsoft]\nclient_id = \"{}\"\nauthority_host = \"{base_url}\"\ngraph_endpoint = \"{base_url}\"\n",
        presently_emulator::DEMO_CLIENT_ID
    ));
    out
}

/// A plain table: one line per appointment, grouped under day headings.
fn format_agenda(view: &agenda::AgendaView) -> String {
    let mut out = String::new();
    for day in &view.days {
        out.push_str(&format!("{}\n", day.date.format("%A %Y-%m-%d")));
        if day.items.is_empty() {
            out.push_str("  (nothing scheduled)\n");
        }
        for item in &day.items {
            out.push_str(&agenda_line(item, ""));
        }
    }
    out
}

/// One appointment of the table: time, then `account` (empty, or the account's column),
/// subject, location and flags.
fn agenda_line(item: &agenda::AgendaItem, account: &str) -> String {
    let time = if item.all_day {
        "all day    ".to_owned()
    } else {
        format!("{}–{}", clock_time(&item.start), clock_time(&item.end))
    };
    let mut flags = Vec::new();
    if item.cancelled {
        flags.push("cancelled");
    }
    if item.show_as != presently_engine::model::ShowAs::Busy {
        flags.push(item.show_as.as_str());
    }
    if item.join_url.is_some() {
        flags.push("online");
    }
    format!(
        "  {time}  {account}{}{}{}\n",
        item.subject,
        item.location
            .as_deref()
            .map(|l| format!(" @ {l}"))
            .unwrap_or_default(),
        if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join(", "))
        }
    )
}

/// `presently --account NAME login` for a named account: creates its directory, and gives
/// it the default account's settings to start from when it has none of its own (edit its
/// config.toml to sign in to another tenant or with another application).
fn start_account(base: &Paths, paths: &Paths, account: &Account) -> Result<()> {
    let started = base.start_account(paths).with_context(|| {
        format!(
            "starting account {} in {}",
            account.name,
            paths.data_dir.display()
        )
    })?;
    if started.copied_settings {
        eprintln!(
            "presently: account {} starts with the settings of {} (its own: {})",
            account.name,
            base.config_file.display(),
            paths.config_file.display()
        );
    } else if started.created {
        eprintln!(
            "presently: account {} is in {}",
            account.name,
            paths.data_dir.display()
        );
    }
    Ok(())
}

/// One line of `presently accounts`.
struct AccountRow {
    account: String,
    upn: Option<String>,
    /// `signed_in`, `signed_out`, `expired`, `none`, or `unreadable` (the store).
    state: &'static str,
    last_synced_at: Option<DateTime<Utc>>,
    data_dir: PathBuf,
}

fn account_row(name: &str, paths: &Paths) -> Result<AccountRow> {
    let state = match sign_in_state(paths)? {
        SignIn::Nobody => "none",
        SignIn::SignedOut => "signed_out",
        SignIn::Expired(_) => "expired",
        SignIn::SignedIn => "signed_in",
    };
    let last_synced_at = if paths.store_file().exists() {
        presently_engine::store::Store::open(&paths.store_file())?.last_synced_at()?
    } else {
        None
    };
    Ok(AccountRow {
        account: name.to_owned(),
        upn: effective::stored_upn(paths),
        state,
        last_synced_at,
        data_dir: paths.data_dir.clone(),
    })
}

/// `presently accounts`: the default account and the named ones, from their stores (no
/// keyring, no network).
fn list_accounts(base: &Paths, json: bool) -> Result<()> {
    // An account whose store cannot be read is listed as such, after the others' lines the
    // command fails.
    let mut unreadable = 0u64;
    let rows: Vec<AccountRow> = base
        .all_accounts()
        .iter()
        .map(|(name, paths)| {
            account_row(name, paths).unwrap_or_else(|err| {
                eprintln!("presently: account {name}: {err:#}");
                unreadable += 1;
                AccountRow {
                    account: name.clone(),
                    upn: None,
                    state: "unreadable",
                    last_synced_at: None,
                    data_dir: paths.data_dir.clone(),
                }
            })
        })
        .collect();
    let result = if unreadable > 0 {
        Err(anyhow::anyhow!(
            "{} could not be read",
            plural(unreadable, "account's store", "accounts' stores")
        ))
    } else {
        Ok(())
    };
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "account": r.account,
                    "upn": r.upn,
                    "state": r.state,
                    "last_synced_at": r.last_synced_at.map(|t| t.to_rfc3339()),
                    "data_dir": r.data_dir.display().to_string(),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return result;
    }
    let name_width = rows
        .iter()
        .map(|r| r.account.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let upn_width = rows
        .iter()
        .map(|r| r.upn.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or(0)
        .max(4);
    outln!(
        "{:name_width$}  {:upn_width$}  {:15}  LAST SYNC",
        "ACCOUNT",
        "USER",
        "STATE"
    );
    for r in &rows {
        let state = match r.state {
            "signed_in" => "signed in",
            "signed_out" => "signed out",
            "expired" => "sign-in expired",
            "unreadable" => "unreadable",
            _ => "not signed in",
        };
        outln!(
            "{:name_width$}  {:upn_width$}  {state:15}  {}",
            r.account,
            r.upn.as_deref().unwrap_or("-"),
            r.last_synced_at.map_or("never".to_owned(), |t| t
                .format("%Y-%m-%d %H:%M UTC")
                .to_string())
        );
    }
    result
}

/// `presently agenda --all-accounts`: each signed-in account's agenda, read in the display
/// zone and over the days of the account selected (`config`), merged by time, each
/// appointment with its account. Accounts nobody is signed in to are left out; one whose
/// sign-in expired shows as last synced, with a warning.
fn merged_agenda(
    base: &Paths,
    config: &Config,
    from: Option<NaiveDate>,
    days: Option<u32>,
    json: bool,
) -> Result<()> {
    let tz = config.display_timezone();
    let days = days.unwrap_or(config.agenda.days);
    let mut views = Vec::new();
    for (name, paths) in base.all_accounts() {
        let account = Account::new(Some(&name));
        match sign_in_state(&paths).with_context(|| format!("account {name}"))? {
            SignIn::Nobody | SignIn::SignedOut => continue,
            SignIn::Expired(why) => eprintln!(
                "presently: warning: account {name}: {}; showing its calendar as last synced.",
                account.expired(&why)
            ),
            SignIn::SignedIn => {}
        }
        let account_config = effective_config(&paths)
            .with_context(|| format!("account {name}"))?
            .layered
            .config;
        let engine = open_engine(paths, account_config, &name)?;
        let view = engine
            .agenda_in(tz, from, Some(days))
            .with_context(|| format!("account {name}"))?;
        views.push((name, view));
    }
    if views.is_empty() {
        anyhow::bail!(
            "not signed in to any account — run `presently login` or `presently --account NAME login`"
        );
    }
    // By time across accounts, each appointment with its account (the engine's merge, as
    // the window and the tray show it).
    let merged = agenda::merge(views);
    if json {
        // As `agenda --json`: each appointment once (one spanning days is in each), with
        // its account.
        outln!(
            "{}",
            serde_json::to_string_pretty(&agenda::flatten(&merged))?
        );
        return Ok(());
    }
    let account_of = |item: &agenda::AgendaItem| item.account.clone().unwrap_or_default();
    let width = merged
        .days
        .iter()
        .flat_map(|d| &d.items)
        .map(|item| account_of(item).len())
        .max()
        .unwrap_or(0);
    for day in &merged.days {
        outln!("{}", day.date.format("%A %Y-%m-%d"));
        if day.items.is_empty() {
            outln!("  (nothing scheduled)");
        }
        for item in &day.items {
            let account = account_of(item);
            out!("{}", agenda_line(item, &format!("{account:width$}  ")));
        }
    }
    Ok(())
}

/// `2026-11-24T09:15:00+01:00` → `09:15`.
fn clock_time(rfc3339: &str) -> &str {
    rfc3339.get(11..16).unwrap_or(rfc3339)
}
