//! User configuration: a TOML file in the platform config directory (or `--config FILE`,
//! or `PRESENTLY_CONFIG`). A broken file is an error naming its line and key; a missing
//! file means the defaults.
//!
//! With an organization policy ([`crate::policy`]) the user's file holds only what the user
//! changed: [`Config::read_user_table`] reads it as a raw table (the keys the user wrote)
//! for [`crate::policy::resolve`] to layer over the group's settings, and
//! [`Config::save_user_table`] writes it back atomically.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub microsoft: MicrosoftConfig,
    pub sync: SyncConfig,
    pub agenda: AgendaConfig,
    pub features: FeaturesConfig,
    pub presence: crate::presence::PresenceConfig,
    pub reminders: RemindersConfig,
    pub app: AppConfig,
    /// Calendar subscriptions (iCalendar feeds) kept beside Microsoft 365's calendars:
    /// `[[subscriptions]]` tables. An organization's policy provides them per group (and
    /// locks `subscriptions` so they stay); the user's own, added with `presently calendars
    /// add-ics`, live in the store.
    pub subscriptions: Vec<SubscriptionConfig>,
}

/// One `[[subscriptions]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// The calendar's name, as the agenda and presence rules name it.
    pub name: String,
    /// An https or webcal URL, or a local file.
    pub url: String,
    /// `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// `[reminders]`: desktop notifications before appointments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct RemindersConfig {
    /// Show reminders (at the time each appointment asks for).
    pub enabled: bool,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `[app]`: the desktop app itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// Start Presently when the user logs in.
    pub start_at_login: bool,
    /// The language of the user interface.
    pub language: Language,
    /// The global shortcut that joins the meeting under way or starting within 10 minutes
    /// (else shows the agenda), as modifiers and a key joined by `+` ("Ctrl+Alt+J", the
    /// default); empty: none. An organization turns it off by locking it to "".
    pub join_shortcut: String,
    /// What the tray (menu, tooltip, title) and reminders hide: the subjects and places
    /// of private appointments (the default), or of all of them (privacy mode). The window
    /// always shows them.
    pub privacy: Privacy,
}

/// `app.privacy`: which appointments the tray and the reminders show without their
/// subject and place. Appointments marked private, personal or confidential in Outlook
/// never show them there, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    /// Only private appointments are hidden.
    #[default]
    PrivateOnly,
    /// Privacy mode: every appointment is "Appointment" and its time.
    All,
}

impl Privacy {
    /// Whether an appointment (`private`: marked so in Outlook) shows as a neutral text.
    pub fn hides(self, private: bool) -> bool {
        private || self == Privacy::All
    }
}

/// The default of `app.join_shortcut`.
pub const DEFAULT_JOIN_SHORTCUT: &str = "Ctrl+Alt+J";

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            start_at_login: false,
            language: Language::default(),
            join_shortcut: DEFAULT_JOIN_SHORTCUT.to_owned(),
            privacy: Privacy::default(),
        }
    }
}

/// Checks a global shortcut as `app.join_shortcut` holds it: at least one of Ctrl, Alt,
/// Shift, Super (or CmdOrCtrl) and exactly one key — a letter, a digit or F1–F24 — joined
/// by `+`, without regard to case. Empty is "no shortcut". A shortcut without a modifier
/// would take a plain key away from every other program.
pub fn check_shortcut(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    const MODIFIERS: [&str; 11] = [
        "ctrl",
        "control",
        "alt",
        "option",
        "shift",
        "super",
        "meta",
        "cmd",
        "command",
        "cmdorctrl",
        "commandorcontrol",
    ];
    let parts: Vec<String> = text.split('+').map(|p| p.trim().to_lowercase()).collect();
    let Some((key, modifiers)) = parts.split_last() else {
        return Err("is empty".into());
    };
    if modifiers.is_empty() {
        return Err(format!(
            "{text:?} has no modifier; use one of Ctrl, Alt, Shift or Super with a key, such as Ctrl+Alt+J"
        ));
    }
    if let Some(m) = modifiers.iter().find(|m| !MODIFIERS.contains(&m.as_str())) {
        return Err(format!(
            "{m:?} in {text:?} is not a modifier (Ctrl, Alt, Shift, Super)"
        ));
    }
    let function_key = key
        .strip_prefix('f')
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=24).contains(&n));
    let single = key.len() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric());
    if !(single || function_key) {
        return Err(format!(
            "{key:?} in {text:?} is not a key; use a letter, a digit or F1 to F24"
        ));
    }
    Ok(())
}

/// The user interface language: the system's (the default), English or German.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    System,
    En,
    De,
}

/// A language Presently speaks: what [`Language`] comes to once the system's is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Language {
    /// The language to speak: the one chosen, else the system's (`LC_ALL`, `LC_MESSAGES`,
    /// `LANG`, the first that is set and not empty, as POSIX orders them); German for
    /// `de*`, English for anything else.
    pub fn resolve(self) -> Lang {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// [`Language::resolve`] with the environment given (tests).
    pub fn resolve_with(self, env: impl Fn(&str) -> Option<String>) -> Lang {
        match self {
            Language::En => Lang::En,
            Language::De => Lang::De,
            Language::System => {
                let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
                    .iter()
                    .filter_map(|name| env(name))
                    .find(|v| !v.trim().is_empty())
                    .unwrap_or_default();
                if locale.trim().to_ascii_lowercase().starts_with("de") {
                    Lang::De
                } else {
                    Lang::En
                }
            }
        }
    }
}

/// What the user has turned on; each feature brings the Graph permissions it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Calendars.ReadWrite
    pub calendar_sync: bool,
    /// Presence.ReadWrite
    pub presence: bool,
    /// MailboxSettings.ReadWrite
    pub automatic_replies: bool,
    /// Contacts.ReadWrite Mail.ReadWrite User.ReadBasic.All, where an organization wants them.
    pub extended_scopes: bool,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            calendar_sync: true,
            presence: false,
            automatic_replies: false,
            extended_scopes: false,
        }
    }
}

/// The app registration and the cloud it lives in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct MicrosoftConfig {
    /// Application (client) id of the app registration; none until provisioned.
    pub client_id: Option<String>,
    /// `common`, `organizations`, `consumers`, a tenant id or a verified domain.
    pub tenant: String,
    pub authority_host: String,
    pub graph_endpoint: String,
    /// Path of the loopback redirect URI registered for the app.
    pub redirect_path: String,
    /// Outlook on the web for work and school accounts (national clouds differ).
    pub outlook_web_host: String,
}

impl Default for MicrosoftConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            tenant: "organizations".to_owned(),
            authority_host: "https://login.microsoftonline.com".to_owned(),
            graph_endpoint: "https://graph.microsoft.com".to_owned(),
            redirect_path: "/".to_owned(),
            outlook_web_host: "outlook.office365.com".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Calendars to sync, by id or name; empty means the primary calendar.
    pub calendars: Vec<String>,
    pub window_days_back: u32,
    pub window_days_ahead: u32,
    pub interval_secs: u64,
    /// Items asked for per page (`Prefer: odata.maxpagesize`): by default the most Outlook
    /// gives, 1000, so a first sync takes as few round trips as it can.
    pub page_size: u32,
    /// Bound on one Graph request, body included.
    pub request_timeout_secs: u64,
    /// Changes written per store transaction during a round (with the link that follows
    /// them); a crash re-reads at most this many.
    pub write_batch: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            calendars: Vec::new(),
            window_days_back: 30,
            window_days_ahead: 180,
            interval_secs: 60,
            page_size: 1000,
            request_timeout_secs: 60,
            write_batch: 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields, default)]
pub struct AgendaConfig {
    /// How many days the agenda shows, today included (1–14).
    pub days: u32,
    /// IANA zone to show times in; the system's zone when unset (or `"system"`, which a
    /// user's file uses to override a zone their organization's policy set).
    #[serde(deserialize_with = "system_zone_is_none")]
    pub timezone: Option<String>,
}

/// The value that stands for "the system's zone" in a file (TOML has no null).
pub const SYSTEM_TIMEZONE: &str = "system";

fn system_zone_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let zone = Option::<String>::deserialize(deserializer)?;
    Ok(zone.filter(|z| !z.is_empty() && z != SYSTEM_TIMEZONE))
}

impl Default for AgendaConfig {
    fn default() -> Self {
        Self {
            days: 7,
            timezone: None,
        }
    }
}

impl Config {
    /// Reads `path`; a file that does not exist gives the defaults.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(Error::ConfigUnreadable {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses and validates configuration text read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let invalid = |line: usize, key: String, reason: String| Error::ConfigInvalid {
            path: path.to_owned(),
            line,
            key,
            reason,
        };
        let config: Config = match toml::from_str(text) {
            Ok(c) => c,
            Err(err) => {
                let (line, key) = locate_de_error::<Config>(text, &err);
                return Err(invalid(line, key, in_words(err.message())));
            }
        };
        if let Err((key, reason)) = config.validate() {
            let line = find_key_line(text, &key).unwrap_or(1);
            return Err(invalid(line, key, reason));
        }
        Ok(config)
    }

    /// Reads the user's file as the raw table of the keys the user wrote (a missing file
    /// is an empty table). Syntax errors, unknown keys and wrong types are errors naming
    /// the line and key; values are checked once the table is layered over the defaults
    /// and the organization's settings ([`crate::policy::resolve`]), since a partial
    /// table may rely on them (a rule naming a profile the organization defines).
    pub fn read_user_table(path: &Path) -> Result<toml::Table, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_user_table(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
            Err(source) => Err(Error::ConfigUnreadable {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// [`Config::read_user_table`] on text read from `path`.
    pub fn parse_user_table(path: &Path, text: &str) -> Result<toml::Table, Error> {
        let invalid = |line: usize, key: String, reason: String| Error::ConfigInvalid {
            path: path.to_owned(),
            line,
            key,
            reason,
        };
        let table: toml::Table = toml::from_str(text).map_err(|err| {
            let line = err
                .span()
                .map(|s| line_of_offset(text, s.start))
                .unwrap_or(1);
            invalid(line, key_on_line(text, line), in_words(err.message()))
        })?;
        // Each section on its own, so that a field another layer supplies (reported as
        // missing) does not hide a wrong type elsewhere.
        for (section, value) in &table {
            let mut one = toml::Table::new();
            one.insert(section.clone(), value.clone());
            let Err(err) = serde_path_to_error::deserialize::<_, Config>(one) else {
                continue;
            };
            let message = err.inner().message().to_owned();
            if message.starts_with("missing field") {
                continue;
            }
            let key = err.path().to_string();
            let key = if key == "." { section.clone() } else { key };
            let line = find_key_line(text, &strip_indices(&key))
                .or_else(|| find_key_line(text, section))
                .or_else(|| unknown_field(&message).and_then(|f| find_word_line(text, f)))
                .unwrap_or(1);
            return Err(invalid(line, key, in_words(&message)));
        }
        Ok(table)
    }

    /// Writes `table` (the user's own keys) to `path` atomically, like [`Config::save`].
    pub fn save_user_table(path: &Path, table: &toml::Table) -> Result<(), Error> {
        let text = toml::to_string_pretty(table)
            .map_err(|e| Error::InvalidInput(format!("cannot write the configuration: {e}")))?;
        write_atomic(path, &text)
    }

    /// This configuration as a TOML table (every key, defaults included).
    pub fn to_table(&self) -> Result<toml::Table, Error> {
        toml::Table::try_from(self)
            .map_err(|e| Error::InvalidInput(format!("cannot write the configuration: {e}")))
    }

    /// [`Config::validate`] as an [`Error::InvalidSettings`] naming the key.
    pub fn check(&self) -> Result<(), Error> {
        self.validate()
            .map_err(|(key, reason)| Error::InvalidSettings { key, reason })
    }

    /// Checks values that parse but make no sense; returns the key and the reason.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Err(reason) = check_shortcut(&self.app.join_shortcut) {
            return Err(("app.join_shortcut".into(), reason));
        }
        let mut names = std::collections::HashSet::new();
        for (i, feed) in self.subscriptions.iter().enumerate() {
            let key = format!("subscriptions[{i}]");
            if feed.name.trim().is_empty() {
                return Err((format!("{key}.name"), "must not be empty".into()));
            }
            if !names.insert(feed.name.trim().to_lowercase()) {
                return Err((
                    format!("{key}.name"),
                    format!("{:?} is named twice", feed.name),
                ));
            }
            if let Err(e) = crate::ics::source::FeedSource::parse(&feed.url) {
                return Err((format!("{key}.url"), e.to_string()));
            }
        }
        let m = &self.microsoft;
        if let Some(id) = &m.client_id {
            if !is_guid(id) {
                return Err((
                    "microsoft.client_id".into(),
                    format!("{id:?} is not an application (client) id; expected a GUID like 00000000-0000-0000-0000-000000000000"),
                ));
            }
        }
        if !is_tenant(&m.tenant) {
            return Err((
                "microsoft.tenant".into(),
                format!(
                    "{:?} is not common, organizations, consumers, a tenant id or a domain",
                    m.tenant
                ),
            ));
        }
        check_endpoint(&m.authority_host).map_err(|r| ("microsoft.authority_host".into(), r))?;
        check_endpoint(&m.graph_endpoint).map_err(|r| ("microsoft.graph_endpoint".into(), r))?;
        if !m.redirect_path.starts_with('/') {
            return Err(("microsoft.redirect_path".into(), "must start with /".into()));
        }
        let s = &self.sync;
        if s.window_days_back > 3650 || s.window_days_ahead == 0 || s.window_days_ahead > 3650 {
            return Err((
                "sync.window_days_ahead".into(),
                "the sync window must be 1 to 3650 days ahead and at most 3650 days back".into(),
            ));
        }
        if s.interval_secs < 15 {
            return Err((
                "sync.interval_secs".into(),
                "must be at least 15 seconds".into(),
            ));
        }
        if !(1..=600).contains(&s.request_timeout_secs) {
            return Err((
                "sync.request_timeout_secs".into(),
                "must be 1 to 600 seconds".into(),
            ));
        }
        if !(1..=10_000).contains(&s.write_batch) {
            return Err(("sync.write_batch".into(), "must be 1 to 10000".into()));
        }
        if !(1..=1000).contains(&s.page_size) {
            return Err(("sync.page_size".into(), "must be 1 to 1000".into()));
        }
        if !(1..=14).contains(&self.agenda.days) {
            return Err(("agenda.days".into(), "must be 1 to 14".into()));
        }
        self.presence
            .validate()
            .map_err(|invalid| (invalid.key, invalid.reason))?;
        if let Some(tz) = &self.agenda.timezone {
            if crate::zone::configured_zone(Some(tz)).is_none() {
                return Err((
                    "agenda.timezone".into(),
                    format!("{tz:?} is not an IANA time zone such as Europe/Berlin"),
                ));
            }
        }
        Ok(())
    }

    /// The zone every time is shown in (and "today", all-day days and DST follow): the
    /// configured one, else `TZ`, else the system's, else UTC ([`crate::zone`]; the
    /// environment's part is worked out once per process).
    pub fn display_timezone(&self) -> chrono_tz::Tz {
        crate::zone::display_zone(self.agenda.timezone.as_deref())
    }

    /// Writes the configuration atomically: a temporary file in the same directory,
    /// flushed, then renamed over the old one.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::InvalidInput(format!("cannot write the configuration: {e}")))?;
        write_atomic(path, &text)
    }
}

/// Replaces `path` by `text` so that a reader (or a crash at any moment) sees either the
/// old file or the new one, never a mix: a temporary file in the same directory, written
/// and flushed to disk, then renamed over the old one.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = write_temp(path, text)?;
    commit_temp(&tmp, path)
}

/// The first half of [`write_atomic`]: the new content, durable, next to `path`.
fn write_temp(path: &Path, text: &str) -> Result<PathBuf, Error> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Presently's own configuration directory, when it creates it, is private; an
    // existing one stays as it is.
    crate::private::create_dir(dir).map_err(io)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.toml");
    let tmp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        use std::io::Write;
        // Private to the user: the rename makes it the configuration file.
        let mut f = crate::private::open_options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io(e))
        }
    }
}

/// The second half of [`write_atomic`]: the rename, then the directory flushed so the
/// rename itself survives a power cut.
fn commit_temp(tmp: &Path, path: &Path) -> Result<(), Error> {
    if let Err(source) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(Error::Io {
            path: path.to_owned(),
            source,
        });
    }
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The line and key a deserialization error of `T` from `text` is about: the span's line,
/// and the key path from a second pass (`microsoft.client_id`) when the syntax is fine.
pub(crate) fn locate_de_error<T: serde::de::DeserializeOwned>(
    text: &str,
    err: &toml::de::Error,
) -> (usize, String) {
    let line = err
        .span()
        .map(|s| line_of_offset(text, s.start))
        .unwrap_or(1);
    let key = toml::Deserializer::parse(text)
        .ok()
        .and_then(|de| serde_path_to_error::deserialize::<_, T>(de).err())
        .map(|e| e.path().to_string())
        .filter(|p| p != ".")
        .unwrap_or_else(|| key_on_line(text, line));
    (line, key)
}

/// A deserializer's message about a value (serde's `invalid type: string "7", expected
/// u32`) in words a person who edits the file understands (`must be a whole number, not
/// the text "7" (write it without quotes)`). Other messages (TOML syntax, the checks'
/// own) are returned as they are.
pub(crate) fn in_words(message: &str) -> String {
    let message = message.trim();
    for (prefix, out_of_range) in [("invalid type: ", false), ("invalid value: ", true)] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            return wrong_value(found, expected, out_of_range);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, known)) = rest.split_once('`') {
            return format!(
                "`{field}` is not a setting here{}",
                known_names(known, "the settings here are")
            );
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((value, known)) = rest.split_once('`') {
            return format!(
                "{value:?} is not one of the values allowed here{}",
                known_names(known, "use one of")
            );
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return format!("`{}` must be set here", rest.trim_end_matches('`'));
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        return format!("`{}` is set twice", rest.trim_end_matches('`'));
    }
    message.to_owned()
}

/// `must be <expected>, not <found>` for serde's `Unexpected` and `Expected` texts; the
/// bounds of an integer type only when the number is outside them.
fn wrong_value(found: &str, expected: &str, out_of_range: bool) -> String {
    let range = |max: u64| {
        if out_of_range {
            format!("a whole number from 0 to {max}")
        } else {
            "a whole number".to_owned()
        }
    };
    let wanted = match expected {
        "u8" => range(u8::MAX.into()),
        "u16" => range(u16::MAX.into()),
        "u32" => range(u32::MAX.into()),
        "u64" | "usize" if out_of_range => "a whole number, 0 or more".to_owned(),
        "u64" | "usize" => "a whole number".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "an integer" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a string" | "a borrowed string" | "a character" => "text in quotes".to_owned(),
        "a sequence" => "a list".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "a table of settings".to_owned(),
        other => other.to_owned(),
    };
    let number_expected = wanted.contains("number");
    let (shown, hint) = if let Some(text) = found.strip_prefix("string ") {
        let unquoted = text.trim_matches('"');
        let hint = if (number_expected && unquoted.trim().parse::<f64>().is_ok())
            || (wanted == "true or false" && matches!(unquoted.trim(), "true" | "false"))
        {
            " (write it without quotes)"
        } else {
            ""
        };
        (format!("the text {text}"), hint)
    } else if let Some(n) = found
        .strip_prefix("integer `")
        .or_else(|| found.strip_prefix("floating point `"))
    {
        let n = n.trim_end_matches('`');
        let hint = if wanted == "text in quotes" {
            " (write it in quotes)"
        } else {
            ""
        };
        (n.to_owned(), hint)
    } else if let Some(b) = found.strip_prefix("boolean `") {
        (b.trim_end_matches('`').to_owned(), "")
    } else {
        let shown = match found {
            "sequence" => "a list",
            "map" => "a table",
            other => other,
        };
        (shown.to_owned(), "")
    };
    format!("must be {wanted}, not {shown}{hint}")
}

/// `, expected one of `a`, `b`` → `; <lead> a, b`.
fn known_names(rest: &str, lead: &str) -> String {
    let names: Vec<&str> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("; {lead} {}", names.join(", "))
    }
}

/// `presence.rules[0].profile` → `presence.rules.profile`.
pub(crate) fn strip_indices(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut depth = 0;
    for c in key.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The field an "unknown field `x`, expected ..." message names.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// The first line setting `word` (`word = ...`).
fn find_word_line(text: &str, word: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim()
                .split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == word)
        })
        .map(|i| i + 1)
}

pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

pub(crate) fn is_tenant(s: &str) -> bool {
    matches!(s, "common" | "organizations" | "consumers")
        || is_guid(s)
        || (s.contains('.')
            && !s.starts_with('.')
            && !s.ends_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
}

/// Endpoints must be https; plain http is allowed for loopback hosts only (the emulator).
pub(crate) fn check_endpoint(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => return Err(format!("{text:?} has no host")),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{text:?} must use https (plain http is accepted for 127.0.0.1 and localhost only)"
        )),
        other => Err(format!("{text:?}: unsupported scheme {other}")),
    }
}

pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

pub(crate) fn key_on_line(text: &str, line: usize) -> String {
    let raw = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    match raw.split_once('=') {
        Some((key, _)) => key.trim().to_owned(),
        None => raw.trim_matches(|c| c == '[' || c == ']').to_owned(),
    }
}

/// Finds the line where the dotted `key` (e.g. `microsoft.client_id`) is set.
pub(crate) fn find_key_line(text: &str, key: &str) -> Option<usize> {
    let (table, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            current = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            continue;
        }
        if let Some((k, _)) = line.split_once('=') {
            let k = k.trim();
            let full = if current.is_empty() {
                k.to_owned()
            } else {
                format!("{current}.{k}")
            };
            if (current == table && k == leaf) || full == key {
                return Some(index + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_shortcut_defaults_to_ctrl_alt_j_and_is_checked() {
        assert_eq!(Config::default().app.join_shortcut, "Ctrl+Alt+J");
        let off = parse("[app]\njoin_shortcut = \"\"\n").unwrap();
        assert_eq!(off.app.join_shortcut, "");
        for ok in [
            "Ctrl+Alt+J",
            "ctrl + shift + 5",
            "Super+F12",
            "CmdOrCtrl+Alt+M",
            "",
        ] {
            assert_eq!(check_shortcut(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("J", "has no modifier"),
            ("Ctrl+Alt", "\"alt\" in \"Ctrl+Alt\" is not a key"),
            (
                "Ctrl+Hyper+J",
                "\"hyper\" in \"Ctrl+Hyper+J\" is not a modifier",
            ),
            ("Ctrl+F25", "is not a key"),
            ("Ctrl+Enter", "is not a key"),
        ] {
            let e = check_shortcut(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let mut config = Config::default();
        config.app.join_shortcut = "J".into();
        assert_eq!(
            config.validate().unwrap_err().0,
            "app.join_shortcut".to_owned()
        );
    }

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(Path::new("/etc/presently/config.toml"), text)
    }

    fn expect_invalid(text: &str) -> (usize, String, String) {
        match parse(text).unwrap_err() {
            Error::ConfigInvalid {
                line, key, reason, ..
            } => (line, key, reason),
            other => panic!("expected ConfigInvalid, got {other}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let c = parse(
            r#"
[microsoft]
client_id = "00000000-0000-0000-0000-000000000000"
tenant = "organizations"                          # common | organizations | consumers | tenant id
authority_host = "https://login.microsoftonline.com"
graph_endpoint = "https://graph.microsoft.com"
"#,
        )
        .unwrap();
        assert_eq!(
            c.microsoft.client_id.as_deref(),
            Some("00000000-0000-0000-0000-000000000000")
        );
        assert_eq!(c.sync, SyncConfig::default());
    }

    #[test]
    fn a_wrong_type_names_line_and_key() {
        let (line, key, _) = expect_invalid(
            "[microsoft]\ntenant = \"common\"\n\n[sync]\ninterval_secs = \"often\"\n",
        );
        assert_eq!((line, key.as_str()), (5, "sync.interval_secs"));
    }

    #[test]
    fn an_unknown_key_is_named() {
        let (line, key, reason) = expect_invalid("[microsoft]\nclient_idd = \"x\"\n");
        assert_eq!(line, 2);
        assert!(
            key.contains("client_idd") || reason.contains("client_idd"),
            "{key} {reason}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let (line, key, _) =
            expect_invalid("[microsoft]\ntenant = \"common\"\ngraph_endpoint = \n");
        assert_eq!(line, 3);
        assert_eq!(key, "graph_endpoint");
    }

    #[test]
    fn invalid_values_name_line_and_key() {
        let (line, key, reason) = expect_invalid("[microsoft]\n\nclient_id = \"my-app\"\n");
        assert_eq!((line, key.as_str()), (3, "microsoft.client_id"));
        assert!(reason.contains("GUID"));
        let (line, key, _) =
            expect_invalid("[microsoft]\ngraph_endpoint = \"http://graph.example.com\"\n");
        assert_eq!((line, key.as_str()), (2, "microsoft.graph_endpoint"));
        let (_, key, _) = expect_invalid("[agenda]\ndays = 40\n");
        assert_eq!(key, "agenda.days");
    }

    #[test]
    fn loopback_http_is_accepted_for_the_emulator() {
        let c = parse("[microsoft]\nauthority_host = \"http://127.0.0.1:4321\"\ngraph_endpoint = \"http://localhost:4321\"\ntenant = \"contoso.onmicrosoft.com\"\n").unwrap();
        assert_eq!(c.microsoft.graph_endpoint, "http://localhost:4321");
    }

    #[test]
    fn presence_profiles_and_rules_parse_validate_and_round_trip() {
        let c = parse(
            r#"
[presence]
default_rules = true

[[presence.profiles]]
name = "Deep work"
priority = 25
status_message = "Focusing until {end}"
forwarding = { number = "+49 30 1234567" }
teams = { availability = "DoNotDisturb", activity = "DoNotDisturb", mode = "preferred" }

[[presence.rules]]
category = "Focus"
profile = "Deep work"

[[presence.rules]]
subject_contains = "lunch"
"#,
        )
        .unwrap();
        assert_eq!(c.presence.profiles.len(), 1);
        assert_eq!(c.presence.rules.len(), 2);
        assert_eq!(c.presence.rules[1].profile, None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        assert_eq!(
            Config::default().presence,
            crate::presence::PresenceConfig::default()
        );

        let (line, key, reason) = expect_invalid(
            "[[presence.profiles]]\nname = \"Call\"\nteams = { availability = \"DoNotDisturb\", activity = \"DoNotDisturb\", mode = \"session\" }\n",
        );
        assert_eq!((line, key.as_str()), (3, "presence.profiles.teams"));
        assert!(reason.contains("Busy/InACall"), "{reason}");
        let (_, key, reason) =
            expect_invalid("[[presence.rules]]\ncategory = \"x\"\nprofile = \"Nope\"\n");
        assert_eq!(key, "presence.rules.profile");
        assert!(reason.contains("In a meeting"), "{reason}");
        let (_, key, _) = expect_invalid(
            "[[presence.profiles]]\nname = \"X\"\nstatus_message = \"until {later}\"\n",
        );
        assert_eq!(key, "presence.profiles.status_message");
    }

    #[test]
    fn privacy_hides_private_appointments_always_and_all_in_privacy_mode() {
        assert!(Privacy::PrivateOnly.hides(true));
        assert!(!Privacy::PrivateOnly.hides(false));
        assert!(Privacy::All.hides(true));
        assert!(Privacy::All.hides(false));
    }

    #[test]
    fn the_system_language_comes_from_the_locale_variables_in_posix_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Language::System.resolve_with(env(&[])), Lang::En);
        assert_eq!(
            Language::System.resolve_with(env(&[("LANG", "de_DE.UTF-8")])),
            Lang::De
        );
        assert_eq!(
            Language::System.resolve_with(env(&[("LANG", "de_AT.UTF-8"), ("LC_ALL", "C")])),
            Lang::En,
            "LC_ALL wins over LANG"
        );
        assert_eq!(
            Language::System.resolve_with(env(&[
                ("LC_ALL", ""),
                ("LC_MESSAGES", "de_CH"),
                ("LANG", "en_US")
            ])),
            Lang::De,
            "an empty variable is skipped"
        );
        // A language chosen in the settings wins over the system's.
        assert_eq!(
            Language::En.resolve_with(env(&[("LANG", "de_DE.UTF-8")])),
            Lang::En
        );
        assert_eq!(Language::De.resolve_with(env(&[])), Lang::De);
    }

    #[test]
    fn reminders_and_app_sections_have_defaults_and_parse() {
        let c = Config::default();
        assert!(c.reminders.enabled);
        assert!(!c.app.start_at_login);
        assert_eq!(c.app.language, Language::System);
        let c = parse(
            "[reminders]\nenabled = false\n\n[app]\nstart_at_login = true\nlanguage = \"de\"\n",
        )
        .unwrap();
        assert!(!c.reminders.enabled);
        assert!(c.app.start_at_login);
        assert_eq!(c.app.language, Language::De);
        let (line, key, _) = expect_invalid("[app]\nlanguage = \"fr\"\n");
        assert_eq!((line, key.as_str()), (2, "app.language"));
        assert_eq!(c.app.privacy, Privacy::PrivateOnly);
        assert_eq!(Config::default().app.privacy, Privacy::PrivateOnly);
        let c = parse("[app]\nprivacy = \"all\"\n").unwrap();
        assert_eq!(c.app.privacy, Privacy::All);
        let (line, key, _) = expect_invalid("[app]\n\nprivacy = \"off\"\n");
        assert_eq!((line, key.as_str()), (3, "app.privacy"));
        let (line, _, reason) = expect_invalid("[reminders]\nenabled = true\nminutes = 5\n");
        assert_eq!(line, 3);
        assert!(reason.contains("minutes"), "{reason}");
    }

    #[test]
    fn system_stands_for_the_systems_zone() {
        assert_eq!(
            parse("[agenda]\ntimezone = \"system\"\n")
                .unwrap()
                .agenda
                .timezone,
            None
        );
        assert_eq!(
            parse("[agenda]\ntimezone = \"Europe/Berlin\"\n")
                .unwrap()
                .agenda
                .timezone
                .as_deref(),
            Some("Europe/Berlin")
        );
    }

    #[test]
    fn wrong_types_are_told_in_words_with_line_and_key() {
        let (line, key, reason) = expect_invalid("[agenda]\ndays = \"7\"\n");
        assert_eq!((line, key.as_str()), (2, "agenda.days"));
        assert_eq!(
            reason,
            "must be a whole number, not the text \"7\" (write it without quotes)"
        );
        let (_, _, reason) = expect_invalid("[agenda]\ndays = \"seven\"\n");
        assert!(!reason.contains("expected u32"), "{reason}");
        assert!(reason.contains("whole number"), "{reason}");
        assert!(reason.contains("\"seven\""), "{reason}");
        let (_, key, reason) = expect_invalid("[agenda]\ndays = -3\n");
        assert_eq!(key, "agenda.days");
        assert!(
            reason.starts_with("must be a whole number from 0"),
            "{reason}"
        );
        assert!(reason.ends_with("not -3"), "{reason}");
        let (_, key, reason) = expect_invalid("[microsoft]\ntenant = 7\n");
        assert_eq!(key, "microsoft.tenant");
        assert_eq!(reason, "must be text in quotes, not 7 (write it in quotes)");
        let (_, key, reason) = expect_invalid("[reminders]\nenabled = \"yes\"\n");
        assert_eq!(key, "reminders.enabled");
        assert_eq!(reason, "must be true or false, not the text \"yes\"");
        let (_, _, reason) = expect_invalid("[sync]\ncalendars = \"Work\"\n");
        assert!(reason.starts_with("must be a list"), "{reason}");
        let (_, _, reason) = expect_invalid("[sync]\nintervall = 3\n");
        assert!(
            reason.starts_with("`intervall` is not a setting here"),
            "{reason}"
        );
        assert!(reason.contains("interval_secs"), "{reason}");
        assert!(!reason.contains("expected"), "{reason}");
    }

    #[test]
    fn messages_in_words_leave_other_messages_alone() {
        assert_eq!(in_words("expected `=`"), "expected `=`");
        assert_eq!(
            in_words("unknown variant `weekly`, expected one of `daily`, `hourly`"),
            "\"weekly\" is not one of the values allowed here; use one of daily, hourly"
        );
        assert_eq!(in_words("missing field `name`"), "`name` must be set here");
    }

    #[test]
    fn the_user_table_holds_what_the_user_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert!(Config::read_user_table(&path).unwrap().is_empty());
        std::fs::write(&path, "[sync]\ninterval_secs = 120\n").unwrap();
        let t = Config::read_user_table(&path).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t["sync"]["interval_secs"].as_integer(), Some(120));

        // A table another layer completes is fine; values are checked after layering.
        let partial = "[presence.forwarding.http]\nextension = \"4711\"\n\n[agenda]\ndays = 40\n";
        Config::parse_user_table(&path, partial).unwrap();

        let user_error = |text: &str| match Config::parse_user_table(&path, text).unwrap_err() {
            Error::ConfigInvalid { line, key, .. } => (line, key),
            other => panic!("expected ConfigInvalid, got {other}"),
        };
        assert_eq!(
            user_error(
                "[presence.forwarding.http]\nextension = \"4711\"\n\n[agenda]\ndays = \"seven\"\n"
            ),
            (5, "agenda.days".to_owned())
        );
        match Config::parse_user_table(&path, "[agenda]\ndays = \"7\"\n").unwrap_err() {
            Error::ConfigInvalid { reason, .. } => {
                assert!(reason.starts_with("must be a whole number"), "{reason}")
            }
            other => panic!("expected ConfigInvalid, got {other}"),
        }
        let (line, key) = user_error("[sync]\ninterval_secs = 60\nintervall = 3\n");
        assert_eq!(line, 3);
        assert!(key.contains("sync"), "{key}");
        assert_eq!(user_error("[sync\n").0, 1);
    }

    #[test]
    fn a_crash_between_write_and_rename_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut old = toml::Table::new();
        old.insert(
            "agenda".into(),
            toml::Value::Table(toml::from_str("days = 3").unwrap()),
        );
        Config::save_user_table(&path, &old).unwrap();
        let before = std::fs::read(&path).unwrap();

        // The new content is written and flushed, then the process dies before the rename.
        let tmp = write_temp(&path, "[agenda]\ndays = 5\n").unwrap();
        assert!(tmp.exists());
        assert_eq!(
            tmp.parent(),
            path.parent(),
            "same directory, so the rename is atomic"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(Config::read_user_table(&path).unwrap(), old);
        assert_eq!(Config::load(&path).unwrap().agenda.days, 3);

        // The next save still works, and leaves only its own file behind.
        std::fs::remove_file(&tmp).unwrap();
        let mut new = toml::Table::new();
        new.insert(
            "agenda".into(),
            toml::Value::Table(toml::from_str("days = 5").unwrap()),
        );
        Config::save_user_table(&path, &new).unwrap();
        assert_eq!(Config::read_user_table(&path).unwrap(), new);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
    }

    #[cfg(unix)]
    #[test]
    fn the_saved_file_and_a_directory_made_for_it_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("presently").join("config.toml");
        Config::default().save(&path).unwrap();
        assert_eq!(crate::private::mode(&path).unwrap(), 0o600);
        assert_eq!(crate::private::mode(path.parent().unwrap()).unwrap(), 0o700);
        // A file an older version wrote 0644 is private after the next save.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Config::save_user_table(&path, &toml::Table::new()).unwrap();
        assert_eq!(crate::private::mode(&path).unwrap(), 0o600);
    }

    #[test]
    fn a_missing_file_means_defaults_and_save_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut c = Config::default();
        c.agenda.days = 3;
        c.microsoft.client_id = Some("11111111-2222-3333-4444-555555555555".into());
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left behind"
        );
    }
}
