//! The tray icon. Its menu and tooltip are plain data ([`TrayMenu`]), built by a pure
//! function ([`build`]) from what the engine reports, compared with the last one shown and
//! only then turned into a platform menu: Tauri's in the window app, a D-Bus
//! StatusNotifierItem in the tray host (`presently-tray`). All of it is tested without either.

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use presently_engine::agenda::{AgendaItem, AgendaView};
use presently_engine::config::{Config, Lang, Privacy};
use presently_engine::engine::{PresenceSummary, SyncPhase};
use presently_engine::i18n::{self, Text};
use presently_engine::presence::journal::Resource;
use presently_engine::StatusView;

/// The tray icon's id.
pub const TRAY_ID: &str = "presently";

/// How many upcoming appointments the menu lists.
const UPCOMING: usize = 3;
/// Longest subject shown in a menu item, in characters.
const MAX_SUBJECT: usize = 40;
/// Longest problem shown in a menu item ("Forwarding still on — switching it off failed,
/// retrying" whole).
const MAX_PROBLEM: usize = 80;

/// Longest countdown the tooltip shows ("in 59 min"); later meetings show their time.
const COUNTDOWN_MINUTES: i64 = 60;

/// How the tray words what it shows and what it hides: the language, and privacy mode
/// (`app.privacy`; appointments marked private are hidden whatever it says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrayOptions {
    pub lang: Lang,
    pub privacy: Privacy,
    /// The organization locked `app.privacy`: the menu does not offer to change it.
    pub privacy_locked: bool,
}

impl TrayOptions {
    /// From the configuration in force; `privacy_locked` from the policy.
    pub fn of(config: &Config, privacy_locked: bool) -> Self {
        Self {
            lang: config.app.language.resolve(),
            privacy: config.app.privacy,
            privacy_locked,
        }
    }

    /// An appointment's subject as the tray shows it: "Appointment" in privacy mode,
    /// "Private appointment" for one marked private, else the subject, shortened.
    fn subject(&self, subject: &str, private: bool) -> String {
        if private {
            Text::PrivateAppointment.get(self.lang).to_owned()
        } else if self.privacy.hides(false) {
            Text::Appointment.get(self.lang).to_owned()
        } else {
            shorten_to(subject, MAX_SUBJECT, self.lang)
        }
    }
}

/// The tray's icon, menu, tooltip and title, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayMenu {
    pub icon: TrayIconKind,
    pub tooltip: String,
    /// Shown beside the icon where the platform has a title (macOS): the next meeting and
    /// its countdown, or nothing.
    pub title: Option<String>,
    pub items: Vec<TrayItem>,
}

/// What the icon says at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayIconKind {
    SignedOut,
    /// Signed in, synced, nothing to report.
    SignedIn,
    Syncing,
    Offline,
    Error,
    /// Presence automation is paused.
    Paused,
}

impl TrayIconKind {
    /// From the status and presence summary; the most pressing state wins: signed out, an
    /// error, offline, a sync under way, then paused automation.
    pub fn of(status: &StatusView, presence: Option<&PresenceSummary>) -> Self {
        if !status.account.signed_in {
            return TrayIconKind::SignedOut;
        }
        match status.sync.state {
            SyncPhase::Error => TrayIconKind::Error,
            SyncPhase::Offline => TrayIconKind::Offline,
            // Automation cannot give something back (or cannot run): never silently.
            _ if presence.is_some_and(|p| p.error.is_some()) => TrayIconKind::Error,
            SyncPhase::Syncing => TrayIconKind::Syncing,
            _ if presence.is_some_and(|p| p.paused.is_some()) => TrayIconKind::Paused,
            _ => TrayIconKind::SignedIn,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayItem {
    /// Greyed-out text.
    Label(String),
    /// A clickable item.
    Action {
        action: TrayAction,
        title: String,
    },
    Separator,
}

/// What a menu item does when chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    /// Opens the appointment in Outlook.
    OpenItem(String),
    /// Joins the appointment's online meeting.
    JoinItem(String),
    SyncNow,
    OpenWindow,
    /// Opens the window, which shows the sign-in screen while signed out.
    SignIn,
    /// Opens the window on the settings page.
    Settings,
    SignOut,
    /// Presence automation: pause for an hour, pause until tomorrow, resume.
    PausePresenceHour,
    PausePresenceUntilTomorrow,
    ResumePresence,
    /// The user changed this resource by hand: automation leaves it as they set it.
    TakeOver(Resource),
    /// "Don't switch for the next meeting": presence automation skips the appointment under
    /// way or next (by id, so a menu shown before the next one began skips what it named).
    SkipNext(String),
    /// "Switch for the next meeting again": the skip of that appointment is taken back.
    UnskipNext(String),
    /// Privacy mode on (`true`: `app.privacy = "all"`) or off (`"private_only"`).
    PrivacyMode(bool),
    Quit,
}

impl TrayAction {
    /// The menu item id that carries this action through Tauri.
    pub fn to_id(&self) -> String {
        match self {
            TrayAction::OpenItem(id) => format!("open-item:{id}"),
            TrayAction::JoinItem(id) => format!("join-item:{id}"),
            TrayAction::SyncNow => "sync-now".to_owned(),
            TrayAction::OpenWindow => "open-window".to_owned(),
            TrayAction::SignIn => "sign-in".to_owned(),
            TrayAction::Settings => "settings".to_owned(),
            TrayAction::SignOut => "sign-out".to_owned(),
            TrayAction::PausePresenceHour => "pause-presence-hour".to_owned(),
            TrayAction::PausePresenceUntilTomorrow => "pause-presence-tomorrow".to_owned(),
            TrayAction::ResumePresence => "resume-presence".to_owned(),
            TrayAction::TakeOver(r) => format!("take-over:{}", r.as_str()),
            TrayAction::SkipNext(id) => format!("skip:{id}"),
            TrayAction::UnskipNext(id) => format!("unskip:{id}"),
            TrayAction::PrivacyMode(true) => "privacy-on".to_owned(),
            TrayAction::PrivacyMode(false) => "privacy-off".to_owned(),
            TrayAction::Quit => "quit".to_owned(),
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "sync-now" => Some(TrayAction::SyncNow),
            "open-window" => Some(TrayAction::OpenWindow),
            "sign-in" => Some(TrayAction::SignIn),
            "settings" => Some(TrayAction::Settings),
            "sign-out" => Some(TrayAction::SignOut),
            "pause-presence-hour" => Some(TrayAction::PausePresenceHour),
            "pause-presence-tomorrow" => Some(TrayAction::PausePresenceUntilTomorrow),
            "resume-presence" => Some(TrayAction::ResumePresence),
            "privacy-on" => Some(TrayAction::PrivacyMode(true)),
            "privacy-off" => Some(TrayAction::PrivacyMode(false)),
            "quit" => Some(TrayAction::Quit),
            _ => {
                let item = |prefix: &str| {
                    id.strip_prefix(prefix)
                        .filter(|rest| !rest.is_empty())
                        .map(str::to_owned)
                };
                item("open-item:")
                    .map(TrayAction::OpenItem)
                    .or_else(|| item("join-item:").map(TrayAction::JoinItem))
                    .or_else(|| item("skip:").map(TrayAction::SkipNext))
                    .or_else(|| item("unskip:").map(TrayAction::UnskipNext))
                    .or_else(|| {
                        item("take-over:")
                            .and_then(|r| Resource::parse(&r))
                            .map(TrayAction::TakeOver)
                    })
            }
        }
    }
}

/// A timed appointment still to come (or under way), with its times parsed.
struct Upcoming<'a> {
    item: &'a AgendaItem,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
}

/// Timed appointments not yet over at `now`, not cancelled and not declined, in order.
fn upcoming(agenda: &AgendaView, now: DateTime<Utc>) -> Vec<Upcoming<'_>> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Upcoming<'_>> = agenda
        .days
        .iter()
        .flat_map(|d| d.items.iter())
        .filter(|i| {
            !i.all_day
                && !i.cancelled
                && i.response != presently_engine::model::ResponseStatus::Declined
        })
        .filter(|i| seen.insert((i.calendar.as_str(), i.id.as_str())))
        .filter_map(|item| {
            let start = DateTime::parse_from_rfc3339(&item.start).ok()?;
            let end = DateTime::parse_from_rfc3339(&item.end).ok()?;
            (end > now).then_some(Upcoming { item, start, end })
        })
        .collect();
    out.sort_by_key(|u| u.start);
    out
}

fn shorten_to(text: &str, max: usize, lang: Lang) -> String {
    let text = text.trim();
    let text = if text.is_empty() {
        Text::NoSubject.get(lang)
    } else {
        text
    };
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// "09:30" today, "Tue 09:30" ("Di 09:30") on another day (both in the appointment's
/// display zone).
fn when(at: DateTime<FixedOffset>, now: DateTime<Utc>, lang: Lang) -> String {
    let today = now.with_timezone(at.offset()).date_naive();
    if at.date_naive() == today {
        at.format("%H:%M").to_string()
    } else {
        format!(
            "{} {}",
            i18n::weekday(lang, at.weekday()),
            at.format("%H:%M")
        )
    }
}

/// The next instant after `now` at which [`build`] could give another menu: an upcoming
/// appointment starts or ends, or the day changes (labels lose their weekday). The tray
/// sleeps until then instead of polling.
pub fn next_change(agenda: Option<&AgendaView>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let agenda = agenda?;
    let upcoming = upcoming(agenda, now);
    // While the next meeting is less than an hour away the tooltip counts down: it changes
    // when the whole minutes left change.
    let countdown = upcoming
        .iter()
        .find(|u| u.start > now)
        .and_then(|u| countdown_change(u.start.with_timezone(&Utc), now));
    let boundaries = upcoming
        .iter()
        .flat_map(|u| [u.start, u.end])
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t > now)
        .chain(countdown);
    let midnight = agenda
        .timezone
        .parse::<chrono_tz::Tz>()
        .ok()
        .and_then(|tz| {
            let tomorrow = now.with_timezone(&tz).date_naive().succ_opt()?;
            Some(presently_engine::agenda::local_midnight(tz, tomorrow))
        });
    boundaries.chain(midnight).min()
}

/// Minutes left until `start`, rounded up ("in 12 min" from 11:00:01 to 12:00 left).
fn minutes_until(start: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let secs = (start - now).num_seconds();
    (secs + 59).div_euclid(60)
}

/// When the countdown to `start` next shows another number, if it is shown at all.
fn countdown_change(start: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let secs = (start - now).num_seconds();
    if secs <= 0 {
        return None;
    }
    if minutes_until(start, now) > COUNTDOWN_MINUTES {
        // The countdown begins an hour before.
        return Some(start - chrono::Duration::minutes(COUNTDOWN_MINUTES));
    }
    // The number changes when the seconds left cross a multiple of 60.
    let whole = (secs - 1).div_euclid(60);
    Some(start - chrono::Duration::seconds(whole * 60))
}

/// "Stand-up in 12 min", "Stand-up at 14:30", "Stand-up Tue 09:30".
fn next_label(
    subject: &str,
    start: DateTime<FixedOffset>,
    now: DateTime<Utc>,
    lang: Lang,
) -> String {
    let minutes = minutes_until(start.with_timezone(&Utc), now);
    if minutes <= COUNTDOWN_MINUTES {
        Text::StartsInMinutes.fill(
            lang,
            &[("subject", subject), ("minutes", &minutes.to_string())],
        )
    } else if start.date_naive() == now.with_timezone(start.offset()).date_naive() {
        Text::StartsAt.fill(
            lang,
            &[("subject", subject), ("time", &when(start, now, lang))],
        )
    } else {
        format!("{subject} {}", when(start, now, lang))
    }
}

/// The tray menu for this status and agenda at `now`, in English, private appointments
/// hidden (the defaults; [`build_with`] takes the user's settings).
pub fn build(
    status: &StatusView,
    agenda: Option<&AgendaView>,
    presence: Option<&PresenceSummary>,
    now: DateTime<Utc>,
) -> TrayMenu {
    build_with(status, agenda, presence, now, &TrayOptions::default())
}

/// The tray menu for this status and agenda at `now`, worded in `opts.lang`, subjects
/// hidden as `opts.privacy` says.
pub fn build_with(
    status: &StatusView,
    agenda: Option<&AgendaView>,
    presence: Option<&PresenceSummary>,
    now: DateTime<Utc>,
    opts: &TrayOptions,
) -> TrayMenu {
    let lang = opts.lang;
    let t = |text: Text| text.get(lang).to_owned();
    let mut items = Vec::new();
    if !status.account.signed_in {
        items.push(TrayItem::Label(t(Text::SignedOut)));
        items.push(TrayItem::Separator);
        items.push(action(TrayAction::SignIn, t(Text::SignIn)));
        items.push(TrayItem::Separator);
        items.push(action(TrayAction::Quit, t(Text::Quit)));
        return TrayMenu {
            icon: TrayIconKind::SignedOut,
            tooltip: t(Text::TooltipSignedOut),
            title: None,
            items,
        };
    }

    let upcoming = agenda.map(|a| upcoming(a, now)).unwrap_or_default();
    let subject_of = |item: &AgendaItem| opts.subject(&item.subject, item.sensitivity.is_private());
    if upcoming.is_empty() {
        items.push(TrayItem::Label(t(Text::NothingElse)));
    }
    for u in upcoming.iter().take(UPCOMING) {
        let subject = subject_of(u.item);
        let title = if u.start <= now {
            Text::NowItem.fill(
                lang,
                &[("subject", &subject), ("end", &when(u.end, now, lang))],
            )
        } else {
            format!("{}  {subject}", when(u.start, now, lang))
        };
        // A click joins an online meeting (what one wants from the tray), else opens it.
        let click = if u.item.join_url.is_some() {
            TrayAction::JoinItem(u.item.id.clone())
        } else {
            TrayAction::OpenItem(u.item.id.clone())
        };
        items.push(action(click, title));
    }
    if let Some(p) = presence {
        items.push(TrayItem::Separator);
        presence_items(&mut items, p, agenda, now, opts);
    }
    items.push(TrayItem::Separator);
    if status.sync.state == SyncPhase::Syncing {
        items.push(TrayItem::Label(t(Text::Syncing)));
    } else {
        items.push(action(TrayAction::SyncNow, t(Text::SyncNow)));
    }
    items.push(action(TrayAction::OpenWindow, t(Text::OpenPresently)));
    items.push(action(TrayAction::Settings, t(Text::Settings)));
    items.extend(privacy_item(opts));
    items.push(TrayItem::Separator);
    // Demo mode signs in by itself; signing out of it would only strand the demo.
    if !status.account.demo {
        items.push(action(TrayAction::SignOut, t(Text::SignOut)));
    }
    items.push(action(TrayAction::Quit, t(Text::Quit)));

    let next = upcoming
        .iter()
        .find(|u| u.start > now)
        .map(|next| next_label(&subject_of(next.item), next.start, now, lang));
    let current = upcoming.iter().find(|u| u.start <= now).map(|u| {
        Text::NowUntil.fill(
            lang,
            &[
                ("subject", &subject_of(u.item)),
                ("end", &when(u.end, now, lang)),
            ],
        )
    });
    let tooltip = match (&current, &next) {
        (Some(current), Some(next)) => {
            Text::NowThenNext.fill(lang, &[("now", current), ("next", next)])
        }
        (Some(current), None) => current.clone(),
        (None, Some(next)) => next.clone(),
        (None, None) => t(Text::TooltipNothingElse),
    };
    let state = match status.sync.state {
        SyncPhase::Offline => Some(Text::StateOffline),
        SyncPhase::Error => Some(Text::StateSyncFailed),
        _ => None,
    };
    let tooltip = match state {
        Some(state) => {
            Text::WithState.fill(lang, &[("tooltip", &tooltip), ("state", state.get(lang))])
        }
        None => tooltip,
    };
    // What automation cannot give back shows without opening the menu.
    let tooltip = match presence.and_then(|p| p.error.as_deref()) {
        Some(problem) if presence.is_some_and(|p| p.paused.is_none()) => Text::WithProblem.fill(
            lang,
            &[
                ("tooltip", &tooltip),
                ("problem", &shorten_to(problem, MAX_PROBLEM, lang)),
            ],
        ),
        _ => tooltip,
    };
    TrayMenu {
        icon: TrayIconKind::of(status, presence),
        tooltip,
        title: next,
        items,
    }
}

/// Privacy mode: the item that turns it on or off, or, locked by the organization, a line
/// saying it is on (nothing when it is locked off: private appointments are hidden anyway).
fn privacy_item(opts: &TrayOptions) -> Option<TrayItem> {
    let on = opts.privacy == Privacy::All;
    match (opts.privacy_locked, on) {
        (true, true) => Some(TrayItem::Label(
            Text::PrivacyLocked.get(opts.lang).to_owned(),
        )),
        (true, false) => None,
        (false, true) => Some(action(
            TrayAction::PrivacyMode(false),
            Text::PrivacyTurnOff.get(opts.lang),
        )),
        (false, false) => Some(action(
            TrayAction::PrivacyMode(true),
            Text::PrivacyTurnOn.get(opts.lang),
        )),
    }
}

/// What presence automation does now and next, and how to pause or resume it.
fn presence_items(
    items: &mut Vec<TrayItem>,
    p: &PresenceSummary,
    agenda: Option<&AgendaView>,
    now: DateTime<Utc>,
    opts: &TrayOptions,
) {
    let lang = opts.lang;
    let zone: chrono_tz::Tz = agenda
        .and_then(|a| a.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let at = |t: DateTime<Utc>| when(t.with_timezone(&zone).fixed_offset(), now, lang);
    if let Some(paused) = p.paused {
        items.push(TrayItem::Label(match paused {
            Some(until) => Text::AutomationPausedUntil.fill(lang, &[("time", &at(until))]),
            None => Text::AutomationPaused.get(lang).to_owned(),
        }));
        items.push(action(
            TrayAction::ResumePresence,
            Text::ResumeAutomation.get(lang),
        ));
        return;
    }
    items.push(TrayItem::Label(match &p.current {
        Some((profile, until)) => Text::PresenceUntil.fill(
            lang,
            &[
                ("profile", &i18n::profile_name(lang, profile)),
                ("time", &at(*until)),
            ],
        ),
        None => Text::PresenceOwn.get(lang).to_owned(),
    }));
    if let Some((next, when_next)) = &p.next {
        items.push(TrayItem::Label(match next {
            Some(profile) => Text::NextProfile.fill(
                lang,
                &[
                    ("profile", &i18n::profile_name(lang, profile)),
                    ("time", &at(*when_next)),
                ],
            ),
            None => Text::NextOwn.fill(lang, &[("time", &at(*when_next))]),
        }));
    }
    if let Some(error) = &p.error {
        items.push(TrayItem::Label(shorten_to(error, MAX_PROBLEM, lang)));
    }
    if let Some(next) = &p.next_switch {
        // The engine gives no subject for a private appointment.
        let subject = match next.subject.as_deref() {
            Some(subject) => opts.subject(subject, false),
            None => opts.subject("", true),
        };
        let id = next.appointment_id.clone();
        items.push(if next.skipped {
            action(
                TrayAction::UnskipNext(id),
                Text::UnskipNext.fill(lang, &[("subject", &subject)]),
            )
        } else {
            action(
                TrayAction::SkipNext(id),
                Text::SkipNext.fill(lang, &[("subject", &subject)]),
            )
        });
    }
    for &r in &p.take_over {
        let resource = i18n::resource(lang, r);
        // "Leave forwarding as I set it"; German nouns keep their capital.
        let resource = match lang {
            Lang::En => resource.to_lowercase(),
            Lang::De => resource.to_owned(),
        };
        items.push(action(
            TrayAction::TakeOver(r),
            Text::LeaveAsSet.fill(lang, &[("resource", &resource)]),
        ));
    }
    items.push(action(
        TrayAction::PausePresenceHour,
        Text::PauseHour.get(lang),
    ));
    items.push(action(
        TrayAction::PausePresenceUntilTomorrow,
        Text::PauseUntilTomorrow.get(lang),
    ));
}

fn action(action: TrayAction, title: impl Into<String>) -> TrayItem {
    TrayItem::Action {
        action,
        title: title.into(),
    }
}

/// The tray for what the engine knows now: `status`, the coming appointments and what
/// presence automation does, in the language and with the privacy of the settings in
/// force (`privacy_locked`: the organization locked `app.privacy`).
pub fn for_engine(
    engine: &presently_engine::Engine,
    status: &StatusView,
    privacy_locked: bool,
) -> TrayMenu {
    for_agenda(
        engine,
        engine.agenda(None, None).ok(),
        status,
        privacy_locked,
    )
}

/// [`for_engine`] with the agenda given: merged across accounts, its next meeting may be
/// another account's (presence, language and privacy stay the default account's).
pub fn for_agenda(
    engine: &presently_engine::Engine,
    agenda: Option<AgendaView>,
    status: &StatusView,
    privacy_locked: bool,
) -> TrayMenu {
    let presence = engine.presence_summary().ok().flatten();
    let opts = TrayOptions::of(&engine.config(), privacy_locked);
    build_with(
        status,
        agenda.as_ref(),
        presence.as_ref(),
        engine.now(),
        &opts,
    )
}

/// When the tray for `engine` changes next (see [`next_change`]).
pub fn next_change_for(engine: &presently_engine::Engine) -> Option<DateTime<Utc>> {
    next_change(engine.agenda(None, None).ok().as_ref(), engine.now())
}

/// When a pause chosen in the tray ends: an hour from now, or the next local midnight.
/// `None` for any other action.
pub fn pause_until(
    action: &TrayAction,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    today: chrono::NaiveDate,
) -> Option<DateTime<Utc>> {
    match action {
        TrayAction::PausePresenceHour => Some(now + chrono::Duration::hours(1)),
        TrayAction::PausePresenceUntilTomorrow => {
            let tomorrow = today.succ_opt().unwrap_or(today);
            Some(presently_engine::agenda::local_midnight(zone, tomorrow))
        }
        _ => None,
    }
}

/// The tray when the app cannot open its data (a store from a newer version, say): the
/// reason in the tooltip, and the window (which shows it) or Quit.
pub fn cannot_open(message: &str, lang: Lang) -> TrayMenu {
    TrayMenu {
        icon: TrayIconKind::Error,
        tooltip: Text::TooltipCannotOpen.fill(lang, &[("message", message)]),
        title: None,
        items: vec![
            TrayItem::Label(Text::CannotOpen.get(lang).to_owned()),
            TrayItem::Separator,
            action(TrayAction::OpenWindow, Text::OpenPresently.get(lang)),
            action(TrayAction::Quit, Text::Quit.get(lang)),
        ],
    }
}

/// The PNG for an icon state (macOS uses the monochrome template throughout: the menu bar
/// tints it, and the state is in the tooltip and menu).
pub fn icon_bytes(kind: TrayIconKind) -> &'static [u8] {
    if cfg!(target_os = "macos") {
        return include_bytes!("../../../src-tauri/icons/tray-mono.png");
    }
    match kind {
        TrayIconKind::SignedOut => include_bytes!("../../../src-tauri/icons/tray-signed-out.png"),
        TrayIconKind::SignedIn => include_bytes!("../../../src-tauri/icons/tray.png"),
        TrayIconKind::Syncing => include_bytes!("../../../src-tauri/icons/tray-syncing.png"),
        TrayIconKind::Offline => include_bytes!("../../../src-tauri/icons/tray-offline.png"),
        TrayIconKind::Error => include_bytes!("../../../src-tauri/icons/tray-error.png"),
        TrayIconKind::Paused => include_bytes!("../../../src-tauri/icons/tray-paused.png"),
    }
}

#[cfg(test)]
mod next_change_tests {
    use super::*;
    use presently_engine::agenda::AgendaDay;

    use super::tests::item;

    #[test]
    fn the_tray_wakes_at_the_next_start_or_end_or_midnight() {
        let view = AgendaView {
            timezone: "Europe/Berlin".into(),
            generated_at: String::new(),
            days: vec![AgendaDay {
                date: "2026-11-24".parse().unwrap(),
                items: vec![
                    item(
                        "a",
                        "a",
                        "2026-11-24T09:00:00+01:00",
                        "2026-11-24T10:00:00+01:00",
                    ),
                    item(
                        "b",
                        "b",
                        "2026-11-24T11:00:00+01:00",
                        "2026-11-24T11:30:00+01:00",
                    ),
                ],
            }],
        };
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // During a: its end.
        assert_eq!(
            next_change(Some(&view), at("2026-11-24T08:30:00Z")),
            Some(at("2026-11-24T09:00:00Z"))
        );
        // Before a, over an hour ahead: when its countdown begins.
        assert_eq!(
            next_change(Some(&view), at("2026-11-24T06:30:00Z")),
            Some(at("2026-11-24T07:00:00Z"))
        );
        // An hour before a: the countdown's next minute.
        assert_eq!(
            next_change(Some(&view), at("2026-11-24T07:00:00Z")),
            Some(at("2026-11-24T07:01:00Z"))
        );
        // After everything: local midnight.
        assert_eq!(
            next_change(Some(&view), at("2026-11-24T12:00:00Z")),
            Some(at("2026-11-24T23:00:00Z"))
        );
        assert_eq!(next_change(None, at("2026-11-24T12:00:00Z")), None);
    }
}

#[cfg(test)]
mod presence_tests {
    use super::*;
    use presently_engine::engine::{AccountStatus, SyncStatus};

    fn signed_in() -> StatusView {
        StatusView {
            account: AccountStatus {
                signed_in: true,
                upn: Some("dana@contoso.com".into()),
                display_name: None,
                demo: false,
            },
            sync: SyncStatus {
                state: SyncPhase::Idle,
                last_synced_at: None,
                message: None,
            },
            timezone: "Europe/Berlin".into(),
        }
    }

    fn labels(menu: &TrayMenu) -> Vec<String> {
        menu.items
            .iter()
            .filter_map(|i| match i {
                TrayItem::Label(t) => Some(t.clone()),
                TrayItem::Action { title, .. } => Some(title.clone()),
                TrayItem::Separator => None,
            })
            .collect()
    }

    #[test]
    fn the_tray_shows_what_presence_does_now_and_next_and_offers_pause() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let now = at("2026-11-24T09:10:00Z");
        let summary = PresenceSummary {
            current: Some(("In a meeting".into(), at("2026-11-24T09:30:00Z"))),
            next: Some((None, at("2026-11-24T09:30:00Z"))),
            paused: None,
            error: None,
            take_over: vec![],
            next_switch: None,
        };
        let menu = build(&signed_in(), None, Some(&summary), now);
        let shown = labels(&menu);
        assert!(
            shown.contains(&"Presence: In a meeting until 09:30".to_owned()),
            "{shown:?}"
        );
        assert!(
            shown.contains(&"Next: back to your own at 09:30".to_owned()),
            "{shown:?}"
        );
        assert!(menu.items.contains(&TrayItem::Action {
            action: TrayAction::PausePresenceHour,
            title: "Pause automation for 1 hour".into()
        }));
        // Paused: only the pause line and Resume.
        let paused = PresenceSummary {
            paused: Some(Some(at("2026-11-24T10:10:00Z"))),
            ..summary
        };
        let shown = labels(&build(&signed_in(), None, Some(&paused), now));
        assert!(
            shown.contains(&"Presence automation paused until 10:10".to_owned()),
            "{shown:?}"
        );
        assert!(shown.contains(&"Resume presence automation".to_owned()));
        assert!(!shown.iter().any(|l| l.starts_with("Pause automation")));
        // Off: nothing about presence.
        let shown = labels(&build(&signed_in(), None, None, now));
        assert!(!shown.iter().any(|l| l.contains("resence")), "{shown:?}");
        for action in [
            TrayAction::PausePresenceHour,
            TrayAction::PausePresenceUntilTomorrow,
            TrayAction::ResumePresence,
        ] {
            assert_eq!(TrayAction::from_id(&action.to_id()), Some(action));
        }
    }
}

#[cfg(test)]
mod skip_tests {
    use super::*;
    use presently_engine::engine::{AccountStatus, SyncStatus};
    use presently_engine::NextSwitch;

    /// The menu offers to skip the next meeting, names it, and once skipped offers the undo.
    #[test]
    fn the_tray_offers_to_skip_the_next_meeting_and_to_take_it_back() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let now = at("2026-11-24T09:10:00Z");
        let status = StatusView {
            account: AccountStatus {
                signed_in: true,
                upn: None,
                display_name: None,
                demo: false,
            },
            sync: SyncStatus {
                state: SyncPhase::Idle,
                last_synced_at: None,
                message: None,
            },
            timezone: "UTC".into(),
        };
        let next = NextSwitch {
            appointment_id: "AAMk1".into(),
            subject: Some("Weekly sync".into()),
            start: at("2026-11-24T10:00:00Z"),
            end: at("2026-11-24T10:30:00Z"),
            profile: "In a meeting".into(),
            series_id: None,
            skipped: false,
        };
        let summary = PresenceSummary {
            current: None,
            next: Some((Some("In a meeting".into()), next.start)),
            paused: None,
            error: None,
            take_over: vec![],
            next_switch: Some(next.clone()),
        };
        let menu = build(&status, None, Some(&summary), now);
        let skip = TrayItem::Action {
            action: TrayAction::SkipNext("AAMk1".into()),
            title: "Don't switch for the next meeting (Weekly sync)".into(),
        };
        assert!(menu.items.contains(&skip), "{:?}", menu.items);
        let skipped = PresenceSummary {
            next_switch: Some(NextSwitch {
                skipped: true,
                subject: None,
                ..next
            }),
            ..summary.clone()
        };
        let menu = build(&status, None, Some(&skipped), now);
        let undo = TrayItem::Action {
            action: TrayAction::UnskipNext("AAMk1".into()),
            title: "Switch for the next meeting again (Private appointment)".into(),
        };
        assert!(menu.items.contains(&undo), "{:?}", menu.items);
        assert!(!menu.items.contains(&skip));
        // Nothing ahead: neither item.
        let none = PresenceSummary {
            next_switch: None,
            ..summary
        };
        let menu = build(&status, None, Some(&none), now);
        assert!(!menu.items.iter().any(|i| matches!(
            i,
            TrayItem::Action {
                action: TrayAction::SkipNext(_) | TrayAction::UnskipNext(_),
                ..
            }
        )));
        for action in [
            TrayAction::SkipNext("AAMk1=".into()),
            TrayAction::UnskipNext("AAMk1=".into()),
        ] {
            assert_eq!(TrayAction::from_id(&action.to_id()), Some(action));
        }
        assert_eq!(TrayAction::from_id("skip:"), None);
    }
}

#[cfg(test)]
mod presence_problem_tests {
    use super::*;
    use presently_engine::engine::{AccountStatus, SyncStatus};

    fn signed_in(state: SyncPhase) -> StatusView {
        StatusView {
            account: AccountStatus {
                signed_in: true,
                upn: Some("dana@contoso.com".into()),
                display_name: None,
                demo: false,
            },
            sync: SyncStatus {
                state,
                last_synced_at: None,
                message: None,
            },
            timezone: "Europe/Berlin".into(),
        }
    }

    /// A restore that keeps failing is never silent: the icon, the tooltip and the menu say
    /// it, and the menu offers to leave forwarding as the user set it.
    #[test]
    fn a_restore_that_keeps_failing_shows_in_the_icon_tooltip_and_menu() {
        let now: DateTime<Utc> = "2026-11-24T11:05:00Z".parse().unwrap();
        let problem = "Forwarding still on — switching it off failed, retrying";
        let summary = PresenceSummary {
            current: None,
            next: None,
            paused: None,
            error: Some(problem.into()),
            take_over: vec![Resource::Forwarding],
            next_switch: None,
        };
        let menu = build(&signed_in(SyncPhase::Idle), None, Some(&summary), now);
        assert_eq!(menu.icon, TrayIconKind::Error);
        assert_eq!(
            menu.tooltip,
            format!("Presently — nothing else scheduled · {problem}")
        );
        assert!(
            menu.items.contains(&TrayItem::Label(problem.into())),
            "{:?}",
            menu.items
        );
        let leave = TrayItem::Action {
            action: TrayAction::TakeOver(Resource::Forwarding),
            title: "Leave forwarding as I set it".into(),
        };
        assert!(menu.items.contains(&leave), "{:?}", menu.items);
        assert_eq!(
            TrayAction::from_id("take-over:forwarding"),
            Some(TrayAction::TakeOver(Resource::Forwarding))
        );
        assert_eq!(TrayAction::from_id("take-over:phone"), None);
        // Offline says more about why than the problem does.
        let offline = build(&signed_in(SyncPhase::Offline), None, Some(&summary), now);
        assert_eq!(offline.icon, TrayIconKind::Offline);
        // Once it landed, all of it goes.
        let fine = PresenceSummary {
            error: None,
            take_over: vec![],
            ..summary
        };
        let menu = build(&signed_in(SyncPhase::Idle), None, Some(&fine), now);
        assert_eq!(menu.icon, TrayIconKind::SignedIn);
        assert_eq!(menu.tooltip, "Presently — nothing else scheduled");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::NaiveDate;
    use presently_engine::agenda::AgendaDay;
    use presently_engine::engine::{AccountStatus, SyncStatus};

    fn status(signed_in: bool, state: SyncPhase) -> StatusView {
        StatusView {
            account: AccountStatus {
                signed_in,
                upn: signed_in.then(|| "megan@contoso.com".to_owned()),
                display_name: None,
                demo: false,
            },
            sync: SyncStatus {
                state,
                last_synced_at: None,
                message: None,
            },
            timezone: "Europe/Berlin".into(),
        }
    }

    /// An accepted, busy, timed appointment (the other test modules use it too).
    pub(crate) fn item(id: &str, subject: &str, start: &str, end: &str) -> AgendaItem {
        AgendaItem {
            id: id.into(),
            calendar: "primary".into(),
            calendar_name: None,
            calendar_color: None,
            subject: subject.into(),
            start: start.into(),
            end: end.into(),
            all_day: false,
            show_as: presently_engine::model::ShowAs::Busy,
            response: presently_engine::model::ResponseStatus::Accepted,
            sensitivity: presently_engine::model::Sensitivity::Normal,
            cancelled: false,
            location: None,
            organizer: None,
            organizer_email: None,
            join_url: None,
            online_provider: None,
            meeting_id: None,
            meeting_passcode: None,
            web_link: None,
            series_id: None,
            kind: presently_engine::model::AppointmentType::SingleInstance,
            categories: vec![],
            body_preview: None,
            reminder_minutes: None,
            presence: None,
            skipped: false,
            attendees: None,
            account: None,
        }
    }

    fn agenda(days: Vec<(&str, Vec<AgendaItem>)>) -> AgendaView {
        AgendaView {
            timezone: "Europe/Berlin".into(),
            generated_at: "2026-03-30T08:00:00+02:00".into(),
            days: days
                .into_iter()
                .map(|(d, items)| AgendaDay {
                    date: d.parse::<NaiveDate>().expect("date"),
                    items,
                })
                .collect(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_pause_lasts_an_hour_or_until_local_midnight() {
        let now = at("2026-03-28T22:30:00Z");
        let zone = chrono_tz::Europe::Berlin;
        // 23:30 in Berlin on the Saturday before the clocks go forward.
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 28).expect("date");
        assert_eq!(
            pause_until(&TrayAction::PausePresenceHour, now, zone, today),
            Some(at("2026-03-28T23:30:00Z"))
        );
        assert_eq!(
            pause_until(&TrayAction::PausePresenceUntilTomorrow, now, zone, today),
            Some(at("2026-03-28T23:00:00Z")),
            "midnight in Berlin, still winter time"
        );
        assert_eq!(
            pause_until(&TrayAction::ResumePresence, now, zone, today),
            None
        );
        assert_eq!(pause_until(&TrayAction::SyncNow, now, zone, today), None);
    }

    fn titles(menu: &TrayMenu) -> Vec<String> {
        menu.items
            .iter()
            .map(|i| match i {
                TrayItem::Label(t) => format!("[{t}]"),
                TrayItem::Action { title, .. } => title.clone(),
                TrayItem::Separator => "---".to_owned(),
            })
            .collect()
    }

    #[test]
    fn signed_out_offers_sign_in_and_quit() {
        let menu = build(
            &status(false, SyncPhase::Never),
            None,
            None,
            at("2026-03-30T08:00:00+02:00"),
        );
        assert_eq!(menu.tooltip, "Presently — signed out");
        assert_eq!(
            titles(&menu),
            ["[Signed out]", "---", "Sign in…", "---", "Quit Presently"]
        );
        assert_eq!(
            menu.items[2],
            TrayItem::Action {
                action: TrayAction::SignIn,
                title: "Sign in…".into()
            }
        );
        assert!(!menu.items.iter().any(|i| matches!(
            i,
            TrayItem::Action {
                action: TrayAction::SignOut,
                ..
            }
        )));
    }

    #[test]
    fn signed_in_offers_sign_out_except_in_demo_mode() {
        let now = at("2026-03-30T08:00:00+02:00");
        let menu = build(&status(true, SyncPhase::Idle), None, None, now);
        assert_eq!(
            titles(&menu),
            [
                "[Nothing else scheduled]",
                "---",
                "Sync now",
                "Open Presently",
                "Settings…",
                "Hide subjects and places (privacy mode)",
                "---",
                "Sign out",
                "Quit Presently"
            ]
        );
        assert!(menu.items.contains(&TrayItem::Action {
            action: TrayAction::SignOut,
            title: "Sign out".into()
        }));
        let mut demo = status(true, SyncPhase::Idle);
        demo.account.demo = true;
        assert!(!titles(&build(&demo, None, None, now)).contains(&"Sign out".to_owned()));
    }

    #[test]
    fn lists_the_next_appointments_in_order_and_names_the_next_in_the_tooltip() {
        let view = agenda(vec![
            (
                "2026-03-30",
                vec![
                    item(
                        "a",
                        "Early",
                        "2026-03-30T07:00:00+02:00",
                        "2026-03-30T07:30:00+02:00",
                    ),
                    item(
                        "c",
                        "Daily stand-up",
                        "2026-03-30T09:30:00+02:00",
                        "2026-03-30T09:45:00+02:00",
                    ),
                    item(
                        "b",
                        "Focus time",
                        "2026-03-30T07:45:00+02:00",
                        "2026-03-30T08:30:00+02:00",
                    ),
                ],
            ),
            (
                "2026-03-31",
                vec![
                    item(
                        "d",
                        "1:1 with Adele",
                        "2026-03-31T10:00:00+02:00",
                        "2026-03-31T10:30:00+02:00",
                    ),
                    item(
                        "e",
                        "Too far down",
                        "2026-03-31T11:00:00+02:00",
                        "2026-03-31T11:30:00+02:00",
                    ),
                ],
            ),
        ]);
        let menu = build(
            &status(true, SyncPhase::Idle),
            Some(&view),
            None,
            at("2026-03-30T08:00:00+02:00"),
        );
        assert_eq!(
            menu.tooltip,
            "Now: Focus time until 08:30 · Next: Daily stand-up at 09:30"
        );
        assert_eq!(menu.title.as_deref(), Some("Daily stand-up at 09:30"));
        assert_eq!(menu.icon, TrayIconKind::SignedIn);
        assert_eq!(
            titles(&menu),
            [
                "Now: Focus time (until 08:30)",
                "09:30  Daily stand-up",
                "Tue 10:00  1:1 with Adele",
                "---",
                "Sync now",
                "Open Presently",
                "Settings…",
                "Hide subjects and places (privacy mode)",
                "---",
                "Sign out",
                "Quit Presently"
            ]
        );
        assert_eq!(
            menu.items[1],
            TrayItem::Action {
                action: TrayAction::OpenItem("c".into()),
                title: "09:30  Daily stand-up".into()
            }
        );
    }

    #[test]
    fn skips_all_day_cancelled_and_declined_and_says_when_nothing_is_left() {
        let mut all_day = item("x", "Holiday", "2026-03-30", "2026-03-31");
        all_day.all_day = true;
        let mut cancelled = item(
            "y",
            "Cancelled",
            "2026-03-30T10:00:00+02:00",
            "2026-03-30T11:00:00+02:00",
        );
        cancelled.cancelled = true;
        let mut declined = item(
            "z",
            "Declined",
            "2026-03-30T12:00:00+02:00",
            "2026-03-30T13:00:00+02:00",
        );
        declined.response = presently_engine::model::ResponseStatus::Declined;
        let view = agenda(vec![("2026-03-30", vec![all_day, cancelled, declined])]);
        let menu = build(
            &status(true, SyncPhase::Idle),
            Some(&view),
            None,
            at("2026-03-30T08:00:00+02:00"),
        );
        assert_eq!(menu.tooltip, "Presently — nothing else scheduled");
        assert_eq!(
            menu.items[0],
            TrayItem::Label("Nothing else scheduled".into())
        );
    }

    #[test]
    fn shows_syncing_instead_of_sync_now_while_a_sync_runs() {
        let menu = build(
            &status(true, SyncPhase::Syncing),
            None,
            None,
            at("2026-03-30T08:00:00+02:00"),
        );
        assert!(menu.items.contains(&TrayItem::Label("Syncing…".into())));
        assert!(!titles(&menu).contains(&"Sync now".to_owned()));
    }

    #[test]
    fn the_model_is_equal_when_nothing_changed_so_the_menu_is_not_rebuilt() {
        let view = agenda(vec![(
            "2026-03-30",
            vec![item(
                "c",
                "Stand-up",
                "2026-03-30T09:30:00+02:00",
                "2026-03-30T09:45:00+02:00",
            )],
        )]);
        let s = status(true, SyncPhase::Idle);
        let a = build(&s, Some(&view), None, at("2026-03-30T08:00:00+02:00"));
        let b = build(&s, Some(&view), None, at("2026-03-30T08:01:00+02:00"));
        assert_eq!(a, b);
        let c = build(&s, Some(&view), None, at("2026-03-30T09:31:00+02:00"));
        assert_ne!(a, c);
    }

    #[test]
    fn long_subjects_are_shortened() {
        let long = "A very long meeting subject that goes on and on and on forever";
        let short = shorten_to(long, MAX_SUBJECT, Lang::En);
        assert_eq!(short.chars().count(), MAX_SUBJECT);
        assert!(short.ends_with('…'));
        assert_eq!(shorten_to("  ", MAX_SUBJECT, Lang::En), "(no subject)");
        assert_eq!(shorten_to("  ", MAX_SUBJECT, Lang::De), "(kein Betreff)");
    }

    #[test]
    fn action_ids_round_trip() {
        for a in [
            TrayAction::OpenItem("AAMk=/+x:y".into()),
            TrayAction::SyncNow,
            TrayAction::OpenWindow,
            TrayAction::SignIn,
            TrayAction::SignOut,
            TrayAction::Quit,
        ] {
            assert_eq!(TrayAction::from_id(&a.to_id()), Some(a));
        }
        assert_eq!(TrayAction::from_id("open-item:"), None);
        assert_eq!(TrayAction::from_id("nonsense"), None);
    }

    fn view_with(subject: &str, start: &str, end: &str) -> AgendaView {
        agenda(vec![(
            "2026-03-30",
            vec![item("standup", subject, start, end)],
        )])
    }

    #[test]
    fn the_icon_shows_the_most_pressing_state() {
        let running = PresenceSummary {
            current: None,
            next: None,
            paused: None,
            error: None,
            take_over: vec![],
            next_switch: None,
        };
        let paused = PresenceSummary {
            paused: Some(None),
            ..running.clone()
        };
        let cases = [
            (
                status(false, SyncPhase::Error),
                None,
                TrayIconKind::SignedOut,
            ),
            (
                status(true, SyncPhase::Error),
                Some(&paused),
                TrayIconKind::Error,
            ),
            (
                status(true, SyncPhase::Offline),
                Some(&paused),
                TrayIconKind::Offline,
            ),
            (
                status(true, SyncPhase::Syncing),
                Some(&paused),
                TrayIconKind::Syncing,
            ),
            (
                status(true, SyncPhase::Idle),
                Some(&paused),
                TrayIconKind::Paused,
            ),
            (
                status(true, SyncPhase::Idle),
                Some(&running),
                TrayIconKind::SignedIn,
            ),
            (status(true, SyncPhase::Never), None, TrayIconKind::SignedIn),
        ];
        for (status, presence, want) in cases {
            assert_eq!(TrayIconKind::of(&status, presence), want, "{status:?}");
            let menu = build(&status, None, presence, at("2026-03-30T08:00:00Z"));
            assert_eq!(menu.icon, want);
            assert!(!icon_bytes(want).is_empty());
        }
        let offline = build(
            &status(true, SyncPhase::Offline),
            None,
            None,
            at("2026-03-30T08:00:00Z"),
        );
        assert!(
            offline.tooltip.ends_with("(offline)"),
            "{}",
            offline.tooltip
        );
    }

    #[test]
    fn the_tooltip_counts_down_the_last_hour_in_whole_minutes() {
        let view = view_with(
            "Stand-up",
            "2026-03-30T09:30:00+02:00",
            "2026-03-30T09:45:00+02:00",
        );
        let tooltip =
            |now: &str| build(&status(true, SyncPhase::Idle), Some(&view), None, at(now)).tooltip;
        assert_eq!(tooltip("2026-03-30T09:18:00+02:00"), "Stand-up in 12 min");
        assert_eq!(tooltip("2026-03-30T09:17:59+02:00"), "Stand-up in 13 min");
        assert_eq!(tooltip("2026-03-30T09:29:30+02:00"), "Stand-up in 1 min");
        assert_eq!(tooltip("2026-03-30T08:30:00+02:00"), "Stand-up in 60 min");
        assert_eq!(tooltip("2026-03-30T08:29:00+02:00"), "Stand-up at 09:30");
        assert_eq!(
            tooltip("2026-03-30T09:31:00+02:00"),
            "Now: Stand-up until 09:45"
        );
    }

    #[test]
    fn the_tray_wakes_each_minute_only_while_counting_down() {
        let view = view_with(
            "Stand-up",
            "2026-03-30T09:30:00+02:00",
            "2026-03-30T09:45:00+02:00",
        );
        // Two hours ahead: no minute ticks; the next change is when the countdown begins.
        let far = next_change(Some(&view), at("2026-03-30T07:30:00+02:00")).expect("change");
        assert_eq!(far, at("2026-03-30T08:30:00+02:00"));
        // Counting down: the next whole minute boundary relative to the start.
        let near = next_change(Some(&view), at("2026-03-30T09:17:30+02:00")).expect("change");
        assert_eq!(near, at("2026-03-30T09:18:00+02:00"));
        let exact = next_change(Some(&view), at("2026-03-30T09:18:00+02:00")).expect("change");
        assert_eq!(exact, at("2026-03-30T09:19:00+02:00"));
        // The label at each change differs from the one before it.
        let before = build(
            &status(true, SyncPhase::Idle),
            Some(&view),
            None,
            at("2026-03-30T09:17:30+02:00"),
        );
        let after = build(&status(true, SyncPhase::Idle), Some(&view), None, near);
        assert_ne!(before.tooltip, after.tooltip);
    }

    #[test]
    fn an_online_meeting_in_the_menu_joins_and_others_open() {
        let mut online = item(
            "m1",
            "Sync with Teams",
            "2026-03-30T09:30:00+02:00",
            "2026-03-30T10:00:00+02:00",
        );
        online.join_url = Some("https://teams.microsoft.com/l/meetup-join/x".into());
        let room = item(
            "m2",
            "In the room",
            "2026-03-30T10:30:00+02:00",
            "2026-03-30T11:00:00+02:00",
        );
        let view = agenda(vec![("2026-03-30", vec![online, room])]);
        let menu = build(
            &status(true, SyncPhase::Idle),
            Some(&view),
            None,
            at("2026-03-30T08:00:00+02:00"),
        );
        assert!(
            matches!(&menu.items[0], TrayItem::Action { action: TrayAction::JoinItem(id), .. } if id == "m1")
        );
        assert!(
            matches!(&menu.items[1], TrayItem::Action { action: TrayAction::OpenItem(id), .. } if id == "m2")
        );
        let join = TrayAction::JoinItem("m1".into());
        assert_eq!(TrayAction::from_id(&join.to_id()), Some(join));
        assert_eq!(TrayAction::from_id("join-item:"), None);
    }

    #[test]
    fn a_meeting_whose_link_is_only_in_its_body_joins_from_the_menu() {
        use presently_engine::graph::{parse_event, EventChange};
        use presently_engine::model::Calendar;
        use presently_engine::store::{Store, SyncState};
        // As Graph sends an invitation from outside: no onlineMeeting, a Zoom link in the body.
        let event = serde_json::json!({
            "id": "AAMkZoom=",
            "subject": "Vendor call",
            "start": {"dateTime": "2026-03-30T07:30:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-30T08:00:00.0000000", "timeZone": "UTC"},
            "showAs": "Busy",
            "onlineMeetingProvider": "unknown",
            "body": {"contentType": "html", "content": "<p>Join Zoom Meeting <a href=\"https://us02web.zoom.us/j/812?pwd=a\">here</a></p>"}
        });
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("store");
        store
            .set_calendars(&[Calendar {
                id: "primary".into(),
                name: "Calendar".into(),
                color: None,
                is_default: true,
                can_edit: true,
            }])
            .expect("calendars");
        let appointment = parse_event("primary", event).expect("event");
        store
            .apply_changes(
                "primary",
                &[EventChange::Upsert(Box::new(appointment))],
                &SyncState::default(),
            )
            .expect("stored");
        let now = at("2026-03-30T08:00:00+02:00");
        let view = presently_engine::agenda::agenda(
            &store,
            chrono_tz::Europe::Berlin,
            "2026-03-30".parse().expect("date"),
            1,
            now,
            None,
            None,
        )
        .expect("agenda");
        let menu = build(&status(true, SyncPhase::Idle), Some(&view), None, now);
        assert!(
            matches!(&menu.items[0], TrayItem::Action { action: TrayAction::JoinItem(id), .. } if id == "AAMkZoom="),
            "{:?}",
            menu.items
        );
    }

    #[test]
    fn settings_round_trips_and_is_in_the_menu() {
        assert_eq!(
            TrayAction::from_id(&TrayAction::Settings.to_id()),
            Some(TrayAction::Settings)
        );
        let menu = build(
            &status(true, SyncPhase::Idle),
            None,
            None,
            at("2026-03-30T08:00:00Z"),
        );
        assert!(menu.items.contains(&TrayItem::Action {
            action: TrayAction::Settings,
            title: "Settings…".into()
        }));
    }
}

#[cfg(test)]
mod privacy_and_language_tests {
    use super::tests::item;
    use super::*;
    use presently_engine::agenda::AgendaDay;
    use presently_engine::engine::{AccountStatus, SyncStatus};
    use presently_engine::model::Sensitivity;
    use presently_engine::NextSwitch;

    fn signed_in() -> StatusView {
        StatusView {
            account: AccountStatus {
                signed_in: true,
                upn: Some("dana@contoso.com".into()),
                display_name: None,
                demo: false,
            },
            sync: SyncStatus {
                state: SyncPhase::Idle,
                last_synced_at: None,
                message: None,
            },
            timezone: "Europe/Berlin".into(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    /// Today: a stand-up under way and a private 1:1 next; tomorrow: a review.
    fn week() -> AgendaView {
        let mut private = item(
            "p",
            "Doctor's appointment",
            "2026-03-30T09:30:00+02:00",
            "2026-03-30T10:00:00+02:00",
        );
        private.sensitivity = Sensitivity::Private;
        private.location = Some("Praxis Dr. Weiss".into());
        let mut review = item(
            "r",
            "Q3 budget review",
            "2026-03-31T10:00:00+02:00",
            "2026-03-31T11:00:00+02:00",
        );
        review.location = Some("Board room".into());
        AgendaView {
            timezone: "Europe/Berlin".into(),
            generated_at: String::new(),
            days: vec![
                AgendaDay {
                    date: "2026-03-30".parse().expect("date"),
                    items: vec![
                        item(
                            "s",
                            "Stand-up",
                            "2026-03-30T09:00:00+02:00",
                            "2026-03-30T09:15:00+02:00",
                        ),
                        private,
                    ],
                },
                AgendaDay {
                    date: "2026-03-31".parse().expect("date"),
                    items: vec![review],
                },
            ],
        }
    }

    fn presence(subject: Option<&str>) -> PresenceSummary {
        PresenceSummary {
            current: Some(("In a meeting".into(), at("2026-03-30T07:15:00Z"))),
            next: Some((None, at("2026-03-30T07:15:00Z"))),
            paused: None,
            error: None,
            take_over: vec![Resource::Forwarding],
            next_switch: Some(NextSwitch {
                appointment_id: "r".into(),
                subject: subject.map(Into::into),
                start: at("2026-03-31T08:00:00Z"),
                end: at("2026-03-31T09:00:00Z"),
                profile: "In a meeting".into(),
                series_id: None,
                skipped: false,
            }),
        }
    }

    /// Every text the tray shows: tooltip, title and menu.
    fn all_text(menu: &TrayMenu) -> String {
        let mut out = vec![menu.tooltip.clone(), menu.title.clone().unwrap_or_default()];
        for i in &menu.items {
            match i {
                TrayItem::Label(t) | TrayItem::Action { title: t, .. } => out.push(t.clone()),
                TrayItem::Separator => {}
            }
        }
        out.join("\n")
    }

    const NOW: &str = "2026-03-30T07:05:00Z"; // 09:05 in Berlin

    #[test]
    fn a_private_appointment_never_shows_its_subject_even_with_privacy_mode_off() {
        let view = week();
        let menu = build(
            &signed_in(),
            Some(&view),
            Some(&presence(Some("Q3 budget review"))),
            at(NOW),
        );
        let text = all_text(&menu);
        assert!(!text.contains("Doctor"), "{text}");
        assert!(!text.contains("Weiss"), "{text}");
        assert!(text.contains("09:30  Private appointment"), "{text}");
        assert_eq!(menu.title.as_deref(), Some("Private appointment in 25 min"));
        // The others show as they are.
        assert!(text.contains("Now: Stand-up (until 09:15)"), "{text}");
        assert!(text.contains("Tue 10:00  Q3 budget review"), "{text}");
        assert!(
            text.contains("Don't switch for the next meeting (Q3 budget review)"),
            "{text}"
        );
    }

    #[test]
    fn privacy_mode_hides_every_subject_in_the_menu_tooltip_and_title() {
        let view = week();
        let opts = TrayOptions {
            privacy: Privacy::All,
            ..TrayOptions::default()
        };
        let menu = build_with(
            &signed_in(),
            Some(&view),
            Some(&presence(Some("Q3 budget review"))),
            at(NOW),
            &opts,
        );
        let text = all_text(&menu);
        for secret in ["Stand-up", "Doctor", "Q3 budget", "Board room", "Weiss"] {
            assert!(!text.contains(secret), "{secret:?} shows in:\n{text}");
        }
        assert_eq!(
            menu.tooltip,
            "Now: Appointment until 09:15 · Next: Private appointment in 25 min"
        );
        assert!(text.contains("Now: Appointment (until 09:15)"), "{text}");
        assert!(text.contains("Tue 10:00  Appointment"), "{text}");
        assert!(
            text.contains("Don't switch for the next meeting (Appointment)"),
            "{text}"
        );
        // The item that turns it off again.
        assert!(menu.items.contains(&TrayItem::Action {
            action: TrayAction::PrivacyMode(false),
            title: "Show subjects and places again".into()
        }));
    }

    #[test]
    fn the_menu_turns_privacy_mode_on_and_off_unless_the_organization_locked_it() {
        let menu = |privacy, privacy_locked| {
            build_with(
                &signed_in(),
                None,
                None,
                at(NOW),
                &TrayOptions {
                    privacy,
                    privacy_locked,
                    ..TrayOptions::default()
                },
            )
        };
        let is_toggle = |i: &TrayItem| {
            matches!(
                i,
                TrayItem::Action {
                    action: TrayAction::PrivacyMode(_),
                    ..
                }
            )
        };
        assert!(menu(Privacy::PrivateOnly, false)
            .items
            .contains(&TrayItem::Action {
                action: TrayAction::PrivacyMode(true),
                title: "Hide subjects and places (privacy mode)".into()
            }));
        let locked_on = menu(Privacy::All, true);
        assert!(!locked_on.items.iter().any(is_toggle));
        assert!(locked_on.items.contains(&TrayItem::Label(
            "Privacy mode on (set by your organization)".into()
        )));
        let locked_off = menu(Privacy::PrivateOnly, true);
        assert!(!locked_off.items.iter().any(is_toggle));
        assert!(!all_text(&locked_off).contains("rivacy"));
        // Signed out there is nothing to hide.
        let mut out = signed_in();
        out.account.signed_in = false;
        assert!(!build(&out, None, None, at(NOW)).items.iter().any(is_toggle));
        for a in [
            TrayAction::PrivacyMode(true),
            TrayAction::PrivacyMode(false),
        ] {
            assert_eq!(TrayAction::from_id(&a.to_id()), Some(a));
        }
    }

    #[test]
    fn the_tray_speaks_german_when_the_app_does() {
        let view = week();
        let opts = TrayOptions {
            lang: Lang::De,
            ..TrayOptions::default()
        };
        let mut summary = presence(Some("Q3 budget review"));
        summary.error = Some("Forwarding still on".into());
        let menu = build_with(&signed_in(), Some(&view), Some(&summary), at(NOW), &opts);
        assert_eq!(
            menu.tooltip,
            "Jetzt: Stand-up bis 09:15 · Danach: Privater Termin in 25 Min. · Forwarding still on"
        );
        let text = all_text(&menu);
        for want in [
            "Jetzt: Stand-up (bis 09:15)",
            "09:30  Privater Termin",
            "Di 10:00  Q3 budget review",
            "Präsenz: In einer Besprechung bis 09:15",
            "Danach: zurück zu Ihrer eigenen um 09:15",
            "Für die nächste Besprechung nicht umschalten (Q3 budget review)",
            "Rufumleitung so lassen, wie ich es eingestellt habe",
            "Automatik 1 Stunde pausieren",
            "Automatik bis morgen pausieren",
            "Jetzt synchronisieren",
            "Presently öffnen",
            "Einstellungen…",
            "Betreff und Ort ausblenden (Privatsphäre-Modus)",
            "Abmelden",
            "Presently beenden",
        ] {
            assert!(text.contains(want), "{want:?} missing in:\n{text}");
        }
        let mut out = signed_in();
        out.account.signed_in = false;
        let menu = build_with(&out, None, None, at(NOW), &opts);
        assert_eq!(menu.tooltip, "Presently — abgemeldet");
        assert_eq!(
            cannot_open("kaputt", Lang::De).items[0],
            TrayItem::Label("Presently kann seine Daten nicht öffnen".into())
        );
    }
}
