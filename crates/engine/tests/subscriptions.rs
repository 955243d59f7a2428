//! A calendar subscription (an iCalendar feed) beside the Microsoft 365 calendars: Graph
//! syncs neither read it from Graph nor remove it, and its appointments are in the store
//! the agenda reads.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use presently_engine::engine::{FeedOutcome, SyncOptions};

/// Daily at 12:00 UTC, 60 times from 1 November 2026.
const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:rota@feeds.example\r\nDTSTART:20261101T120000Z\r\nDTEND:20261101T123000Z\r\nRRULE:FREQ=DAILY;COUNT=60\r\nSUMMARY:Rota check\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_stays_through_graph_syncs_and_is_never_read_from_graph() {
    let emu = common::demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config_for(&emu);
    // Calendars chosen by name, the feed's among them.
    config.sync.calendars = vec!["Calendar".into(), "Rota".into()];
    let engine = common::engine(&emu, dir.path(), config, common::clock()).await;
    let file = dir.path().join("rota.ics");
    std::fs::write(&file, FEED).unwrap();

    let added = engine
        .add_subscription("Rota", file.to_str().unwrap(), Some("#2E8B57"))
        .await
        .unwrap();
    assert_eq!(added.outcome, FeedOutcome::Updated);
    // The window: 7 days back and 30 ahead of 24 November, whole UTC days, so from 17
    // November 00:00 to 25 December 00:00. The series runs from 1 November to 30 December:
    // 17 to 30 November (14) and 1 to 24 December (24).
    assert_eq!(added.appointments, Some(38));
    let id = added.calendar_id;

    // A full sync reads the calendar list from Graph (which does not have the feed), and
    // an incremental one the stored list: neither reads the feed from Graph nor drops it.
    for full in [true, false] {
        let report = engine.sync(SyncOptions { full }).await.unwrap();
        assert!(report.calendars.iter().all(|c| c.calendar_id != id));
        assert!(report.calendars.iter().any(|c| c.name == "Calendar"));
    }
    assert_eq!(engine.subscriptions().unwrap().len(), 1);
    let today = engine
        .appointment("rota@feeds.example/20261124T120000Z")
        .unwrap()
        .unwrap();
    assert_eq!(today.calendar_id, id);

    // The agenda shows it beside the mailbox's appointments, under its name and colour.
    let agenda = engine.agenda(None, Some(1)).unwrap();
    let items = &agenda.days[0].items;
    let rota = items.iter().find(|i| i.subject == "Rota check").unwrap();
    assert_eq!(rota.calendar_name.as_deref(), Some("Rota"));
    assert_eq!(rota.calendar_color.as_deref(), Some("#2e8b57"));
    assert!(items
        .iter()
        .any(|i| i.calendar_name.as_deref() == Some("Calendar")));
}

/// The sync cadence fetches a subscription when due: not again within the hour (the feed's
/// change waits), after an hour it does (the change arrives), and a feed that fails keeps
/// what it had and does not fail the sync.
#[tokio::test(flavor = "multi_thread")]
async fn syncs_fetch_a_subscription_hourly_and_a_failing_feed_keeps_its_appointments() {
    let emu = common::demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = common::config_for(&emu);
    let clock = common::clock();
    let engine = common::engine(&emu, dir.path(), config, clock.clone()).await;
    let file = dir.path().join("rota.ics");
    std::fs::write(&file, FEED).unwrap();
    engine
        .add_subscription("Rota", file.to_str().unwrap(), None)
        .await
        .unwrap();
    let moved = FEED.replace("SUMMARY:Rota check", "SUMMARY:Rota check (moved)");
    std::fs::write(&file, &moved).unwrap();
    let subject = |engine: &presently_engine::Engine| {
        engine
            .appointment("rota@feeds.example/20261124T120000Z")
            .unwrap()
            .unwrap()
            .subject
    };

    clock.advance(chrono::Duration::minutes(20));
    engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        subject(&engine),
        "Rota check",
        "fetched again within the hour"
    );

    clock.advance(chrono::Duration::minutes(41));
    let report = engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(
        subject(&engine),
        "Rota check (moved)",
        "not fetched after an hour"
    );
    assert!(report.changes >= 1, "{report:?}");

    // The feed breaks: the sync goes on, the appointments stay, the error is kept.
    std::fs::write(&file, "<html>gone</html>").unwrap();
    clock.advance(chrono::Duration::minutes(61));
    engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(subject(&engine), "Rota check (moved)");
    let stored = engine.subscriptions().unwrap();
    assert_eq!(
        stored[0].error_code.as_deref(),
        Some("not_icalendar"),
        "{stored:?}"
    );
}

/// "Open" on a subscription's appointment never builds an Outlook link: a feed read from a
/// file opens nothing (it has no site to trust), and an event without a URL says so.
#[tokio::test(flavor = "multi_thread")]
async fn open_on_a_feeds_appointment_uses_only_the_events_own_link() {
    use presently_engine::OpenKind;
    let emu = common::demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine(&emu, dir.path(), common::config_for(&emu), common::clock()).await;
    let file = dir.path().join("rota.ics");
    std::fs::write(&file, FEED).unwrap();
    engine
        .add_subscription("Rota", file.to_str().unwrap(), None)
        .await
        .unwrap();
    let id = "rota@feeds.example/20261124T120000Z";
    let err = engine.open_target(id, OpenKind::Outlook).unwrap_err();
    assert!(err.to_string().contains("no link of its own"), "{err}");

    let with_url = FEED.replace(
        "SUMMARY:Rota check\r\n",
        "SUMMARY:Rota check\r\nURL:https://www.google.com/calendar/event?eid=abc\r\n",
    );
    std::fs::write(&file, with_url).unwrap();
    engine.refresh_subscriptions(None).await.unwrap();
    let err = engine.open_target(id, OpenKind::Outlook).unwrap_err();
    assert!(
        err.to_string().contains("only on the feed's own site"),
        "a feed from a file has no site: {err}"
    );
}

/// Presence rules see a subscription's appointments only when they name its calendar: the
/// default rules never switch for a feed (a team's holiday list must not), a rule naming
/// "On call" does.
#[tokio::test(flavor = "multi_thread")]
async fn presence_follows_a_feed_only_where_a_rule_names_it() {
    use presently_engine::presence::rules::Rule;
    const ON_CALL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:shift-1@rota.example\r\nDTSTART:20261124T090000Z\r\nDTEND:20261124T110000Z\r\nSUMMARY:On call\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let emu = presently_emulator::Emulator::start(presently_emulator::EmulatorConfig {
        today: common::TODAY.parse().unwrap(),
        seed: presently_emulator::Seed::Empty,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config_for(&emu);
    config.features.presence = true;
    let engine = common::engine(&emu, dir.path(), config.clone(), common::clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let file = dir.path().join("on-call.ics");
    std::fs::write(&file, ON_CALL).unwrap();
    engine
        .add_subscription("On call", file.to_str().unwrap(), None)
        .await
        .unwrap();
    let from = "2026-11-24T08:00:00Z".parse().unwrap();
    let to = "2026-11-24T12:00:00Z".parse().unwrap();
    let applied = |engine: &presently_engine::Engine| {
        engine
            .presence_plan(from, to)
            .unwrap()
            .iter()
            .filter(|t| matches!(&t.transition.kind, presently_engine::presence::scheduler::TransitionKind::Apply { appointment_id, .. } if appointment_id.starts_with("shift-1")))
            .count()
    };
    assert_eq!(applied(&engine), 0, "the default rules switched for a feed");

    config.presence.rules = vec![Rule {
        calendar: Some("On call".into()),
        profile: Some("Focus".into()),
        ..Rule::default()
    }];
    engine.reconfigure(config).unwrap();
    assert_eq!(applied(&engine), 1, "a rule naming the feed did not switch");
}

/// A feed's VALARM is a reminder like any other: due at its time, shown once, with the
/// feed's subject; an event without one reminds nobody.
#[tokio::test(flavor = "multi_thread")]
async fn a_feeds_alarm_is_a_reminder_at_its_time() {
    const WITH_ALARM: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:dentist@feeds.example\r\nDTSTART:20261124T090000Z\r\nDTEND:20261124T093000Z\r\nSUMMARY:Dentist\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT30M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:quiet@feeds.example\r\nDTSTART:20261124T091000Z\r\nDTEND:20261124T092000Z\r\nSUMMARY:Quiet\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let emu = presently_emulator::Emulator::start(presently_emulator::EmulatorConfig {
        today: common::TODAY.parse().unwrap(),
        seed: presently_emulator::Seed::Empty,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 08:00 UTC: the alarm is due at 08:30.
    let clock = common::clock();
    let engine = common::engine(&emu, dir.path(), common::config_for(&emu), clock.clone()).await;
    let file = dir.path().join("personal.ics");
    std::fs::write(&file, WITH_ALARM).unwrap();
    engine
        .add_subscription("Personal", file.to_str().unwrap(), None)
        .await
        .unwrap();
    let (due, next) = engine.take_due_reminders().unwrap();
    assert!(due.is_empty(), "{due:?}");
    assert_eq!(next, Some("2026-11-24T08:30:00Z".parse().unwrap()));
    clock.advance(chrono::Duration::minutes(31));
    let (due, _) = engine.take_due_reminders().unwrap();
    let subjects: Vec<_> = due.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(subjects, ["Dentist"]);
    let (again, _) = engine.take_due_reminders().unwrap();
    assert!(again.is_empty(), "shown twice: {again:?}");
}

/// Subscriptions the configuration names (what an organization's policy provides per
/// group): the next sync adds them, the user cannot remove them, a changed URL replaces
/// one, and one no longer configured goes — the user's own stay.
#[tokio::test(flavor = "multi_thread")]
async fn configured_subscriptions_are_added_kept_and_removed_with_the_configuration() {
    use presently_engine::config::SubscriptionConfig;
    let emu = common::demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let rota = dir.path().join("rota.ics");
    std::fs::write(&rota, FEED).unwrap();
    let holidays = dir.path().join("holidays.ics");
    std::fs::write(&holidays, FEED.replace("Rota check", "Holiday")).unwrap();
    let mut config = common::config_for(&emu);
    config.subscriptions = vec![SubscriptionConfig {
        name: "Team rota".into(),
        url: rota.to_str().unwrap().into(),
        color: Some("#336699".into()),
    }];
    config.validate().unwrap();
    let engine = common::engine(&emu, dir.path(), config.clone(), common::clock()).await;
    // The user's own, beside it.
    engine
        .add_subscription("Mine", holidays.to_str().unwrap(), None)
        .await
        .unwrap();

    engine.sync(SyncOptions::default()).await.unwrap();
    let names = |engine: &presently_engine::Engine| {
        let mut names: Vec<String> = engine
            .subscriptions()
            .unwrap()
            .into_iter()
            .map(|s| s.calendar.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&engine), ["Mine", "Team rota"]);
    let err = engine.remove_subscription("team rota").unwrap_err();
    assert!(
        err.to_string().contains("set in the configuration"),
        "{err}"
    );

    // A new URL replaces it; dropped from the configuration, it goes and "Mine" stays.
    config.subscriptions[0].url = holidays.to_str().unwrap().into();
    engine.reconfigure(config.clone()).unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    let stored = engine.subscriptions().unwrap();
    let team = stored
        .iter()
        .find(|s| s.calendar.name == "Team rota")
        .unwrap();
    assert_eq!(team.source, holidays.to_str().unwrap());
    config.subscriptions.clear();
    engine.reconfigure(config).unwrap();
    engine.sync(SyncOptions::default()).await.unwrap();
    assert_eq!(names(&engine), ["Mine"]);
}

#[test]
fn a_configured_subscription_is_checked_like_any_setting() {
    use presently_engine::config::{Config, SubscriptionConfig};
    let feed = |name: &str, url: &str| SubscriptionConfig {
        name: name.into(),
        url: url.into(),
        color: None,
    };
    let mut config = Config {
        subscriptions: vec![feed("Rota", "ftp://example.com/rota.ics")],
        ..Config::default()
    };
    assert_eq!(config.validate().unwrap_err().0, "subscriptions[0].url");
    config.subscriptions = vec![
        feed("Rota", "https://example.com/a.ics"),
        feed("rota", "https://example.com/b.ics"),
    ];
    assert_eq!(config.validate().unwrap_err().0, "subscriptions[1].name");
    // As a policy group's settings write it.
    let parsed: Config = toml::from_str(
        "[[subscriptions]]\nname = \"Holidays\"\nurl = \"webcal://example.com/holidays.ics\"\ncolor = \"#aa0000\"\n",
    )
    .unwrap();
    parsed.validate().unwrap();
    assert_eq!(parsed.subscriptions[0].name, "Holidays");
}
