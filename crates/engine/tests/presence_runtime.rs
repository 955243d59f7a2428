//! Presence automation end to end on simulated time: the engine's runtime signed in to the
//! emulator over loopback HTTP, its clock and its sleeps driven by the test
//! (`presence_sim`), so hours of appointments take milliseconds and every instant is exact.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;
mod presence_sim;

use chrono::{DateTime, Duration, Utc};
use presence_sim::{
    aggregate, appointment, calls, empty_emulator, engine, engine_with, history, start, Sim,
};
use presently_emulator::HOLIDAYS_CALENDAR_ID;
use serde_json::json;

fn minutes(sim: &Sim, m: i64) -> DateTime<Utc> {
    sim.now() + Duration::minutes(m)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_appointment_switches_presence_at_its_start_and_restores_at_its_end() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let (begin, end) = appointment(&emu, "Weekly sync", "busy", minutes(&sim, 10), 30);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;

    sim.run_until(begin - Duration::seconds(1)).await;
    assert!(calls(&emu, "setUserPreferredPresence").is_empty());
    sim.run_until(begin).await;
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "set at the start: {set:?}");
    assert_eq!(set[0].status, 200);
    assert_eq!(set[0].body["availability"], "Busy");
    // Expires a little after the end: given back at the end, gone by itself if not.
    assert_eq!(set[0].body["expirationDuration"], "PT32M");
    assert_eq!(aggregate(&emu), "Busy");
    let status = calls(&emu, "setStatusMessage");
    assert!(status[0].body["statusMessage"]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("In a meeting until "));
    // The user's state was read first.
    let gets = calls(&emu, "getPresence");
    assert!(gets[0].at <= set[0].at);

    sim.run_until(end - Duration::seconds(1)).await;
    assert!(calls(&emu, "clearUserPreferredPresence").is_empty());
    sim.run_until(end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    assert_eq!(aggregate(&emu), "Available");
    // While the block held, the presence was read back every 15 s (and before the
    // restore): 30 minutes, about 120 reads, not one a second.
    let reads = calls(&emu, "getPresence").len();
    assert!((115..=125).contains(&reads), "{reads} reads");
    running.stop().await;

    let history = history(&engine);
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(
        history[0].ends_with("In a meeting (Weekly sync)"),
        "{history:?}"
    );
    assert!(history[1].ends_with("restored Available"), "{history:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_presence_call_is_waited_out() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let (begin, end) = appointment(&emu, "Throttled", "busy", minutes(&sim, 5), 5);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    // 503 with Retry-After: 1; the Graph client waits it out (real time).
    emu.control().fail_next_presence_calls(1, 503);
    sim.run_until(begin).await;
    let all = emu.control().presence_calls();
    assert_eq!(all[0].status, 503, "{all:?}");
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "{all:?}");
    assert_eq!(set[0].status, 200);
    sim.run_until(end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_presence_call_is_retried_until_it_lands_and_shows_in_the_history() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let (begin, end) = appointment(&emu, "Flaky", "busy", minutes(&sim, 5), 5);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    // The read and the first set fail with an error the client does not retry.
    emu.control().fail_next_presence_calls(2, 500);
    sim.run_until(begin).await;
    let status = engine.presence_status().unwrap();
    let presence = &status.resources[0];
    assert_eq!(presence.pending.as_ref().unwrap().attempts, 1);
    assert!(status.error.is_some(), "{status:?}");
    // Retried 2 s later.
    sim.run_until(begin + Duration::seconds(2)).await;
    let set = calls(&emu, "setUserPreferredPresence");
    let statuses: Vec<u16> = set.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![500, 200], "{set:?}");
    assert!(engine.presence_status().unwrap().error.is_none());
    sim.run_until(end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    running.stop().await;
    let history = history(&engine);
    assert!(
        history.iter().any(|l| l.contains("failed, retrying")),
        "{history:?}"
    );
    assert!(
        history.iter().any(|l| l.ends_with("retried successfully")),
        "{history:?}"
    );
}

/// The user picks "Available" in Teams during a meeting: automation notices within 15 s,
/// leaves their presence alone (no clear at the end), and still gives their status
/// message back.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_of_presence_by_hand_is_left_alone_and_the_rest_given_back() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    emu.control().set_user_status_message("Back at 3");
    let engine = engine(&emu, &sim, dir.path()).await;
    let (begin, end) = appointment(&emu, "Interrupted", "busy", minutes(&sim, 5), 30);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(10)).await;
    assert_eq!(aggregate(&emu), "Busy");
    let changed = sim.now();
    emu.control().set_user_presence("Available", "Available");
    sim.run_until(changed + Duration::seconds(15)).await;
    let status = engine.presence_status().unwrap();
    assert_eq!(status.resources[0].held, "released", "{status:?}");
    assert_eq!(status.resources[1].held, "automated");
    sim.run_until(end).await;
    running.stop().await;
    assert!(calls(&emu, "clearUserPreferredPresence").is_empty());
    assert_eq!(aggregate(&emu), "Available");
    let messages = calls(&emu, "setStatusMessage");
    assert_eq!(
        messages.last().unwrap().body["statusMessage"]["message"]["content"],
        "Back at 3"
    );
    let history = history(&engine);
    assert!(
        history
            .iter()
            .any(|l| l.contains("Presence changed by you; automation leaves it alone")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|l| l.contains("restored (presence left as you set it)")),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_nothing_switches_and_resuming_applies_at_once() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, &sim, dir.path()).await;
    let (begin, end) = appointment(&emu, "Paused", "busy", minutes(&sim, 5), 30);
    engine.sync_now().await.unwrap();
    engine.presence_pause(None).unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(5)).await;
    assert!(calls(&emu, "setUserPreferredPresence").is_empty());
    sim.after(|| engine.presence_resume().unwrap()).await;
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "{set:?}");
    // A pause for ten minutes gives everything back at once and applies again after.
    let paused = sim.now();
    sim.after(|| {
        engine
            .presence_pause(Some(paused + Duration::minutes(10)))
            .unwrap()
    })
    .await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    sim.run_until(paused + Duration::minutes(10)).await;
    assert_eq!(calls(&emu, "setUserPreferredPresence").len(), 2);
    assert_eq!(engine.presence_paused().unwrap(), None);
    sim.run_until(end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 2);
    running.stop().await;
    let history = history(&engine);
    assert!(
        history.iter().any(|l| l.ends_with("resumed")),
        "{history:?}"
    );
}

/// Microsoft's own `mailboxSettings` example (user-get-mailboxsettings.md, example 1)
/// answers `"status": "Scheduled"`: the user's own scheduled replies are given back
/// exactly as read after an out-of-office block, not switched to disabled.
#[tokio::test(flavor = "multi_thread")]
async fn out_of_office_gives_the_users_own_automatic_replies_back_exactly() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let example: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/graph/mailbox-settings-get.json")).unwrap();
    let theirs = example["automaticRepliesSetting"].clone();
    emu.control().set_automatic_replies_verbatim(theirs.clone());
    let engine = engine_with(&emu, &sim, dir.path(), |c| {
        c.features.automatic_replies = true
    })
    .await;
    let (begin, end) = appointment(&emu, "Offsite", "oof", minutes(&sim, 5), 60);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin).await;
    let during = emu.control().mailbox_settings();
    assert_eq!(during["automaticRepliesSetting"]["status"], "scheduled");
    sim.run_until(end).await;
    running.stop().await;
    let updates = calls(&emu, "updateMailboxSettings");
    assert_eq!(updates.len(), 2, "{updates:?}");
    // The restore writes back exactly what was read: Graph's spelling, every field.
    assert_eq!(
        updates[1].body,
        json!({ "automaticRepliesSetting": theirs })
    );
    let after = emu.control().mailbox_settings();
    let replies = &after["automaticRepliesSetting"];
    assert_eq!(replies["status"], "scheduled", "{after}");
    assert_eq!(replies["externalAudience"], "all");
    assert_eq!(
        replies["scheduledStartDateTime"]["dateTime"],
        "2016-03-14T07:00:00.0000000"
    );
    assert_eq!(
        replies["internalReplyMessage"],
        theirs["internalReplyMessage"]
    );
    // And presence showed Away in between (the built-in Out of office profile).
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set[0].body["availability"], "Away", "{set:?}");
}

/// A colleague's holiday on the shared "Team holidays" calendar (synced, shown in the
/// agenda) does not switch the user's presence; a rule naming that calendar does.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_primary_calendar_drives_automation_unless_a_rule_names_another() {
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let begin = minutes(&sim, 5);
    emu.control()
        .add_event(json!({
            "calendarId": HOLIDAYS_CALENDAR_ID,
            "subject": "Kim on holiday",
            "start": {"dateTime": fmt(begin), "timeZone": "UTC"},
            "end": {"dateTime": fmt(begin + Duration::hours(2)), "timeZone": "UTC"},
            "showAs": "oof",
        }))
        .unwrap();
    let both = |c: &mut presently_engine::config::Config| {
        c.sync.calendars = vec!["Calendar".into(), "Team holidays".into()];
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(&emu, &sim, dir.path(), both).await;
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(30)).await;
    running.stop().await;
    assert!(
        calls(&emu, "setUserPreferredPresence").is_empty(),
        "a shared calendar's out-of-office switched the presence"
    );

    // With a rule for that calendar, its items switch presence.
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(&emu, &sim, dir.path(), |c| {
        both(c);
        c.presence.rules = vec![presently_engine::presence::rules::Rule {
            calendar: Some("Team holidays".into()),
            profile: Some("Focus".into()),
            ..Default::default()
        }];
    })
    .await;
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(sim.now() + Duration::seconds(1)).await;
    running.stop().await;
    let set = calls(&emu, "setUserPreferredPresence");
    assert_eq!(set.len(), 1, "{set:?}");
    assert_eq!(set[0].body["availability"], "DoNotDisturb");
}

/// A version 6 store in the middle of a block (its pre-automation state kept) is upgraded
/// after the block ended: what automation had changed is given back at the first start.
#[tokio::test(flavor = "multi_thread")]
async fn a_version_6_store_mid_block_is_given_back_after_the_upgrade() {
    use presently_engine::store::MIGRATIONS;
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    // What version 6 left: its presence and status message in force, its pre-state stored
    // for the block that ended ten minutes ago.
    let until = sim.now() - Duration::minutes(10);
    let token = emu.control().issue_access_token_for_tests();
    let http = reqwest::Client::new();
    for (call, body) in [
        (
            "setUserPreferredPresence",
            json!({"availability": "Busy", "activity": "Busy", "expirationDuration": "PT1H"}),
        ),
        (
            "setStatusMessage",
            json!({"statusMessage": {"message": {"content": "In a meeting until 10:00", "contentType": "text"}}}),
        ),
    ] {
        let answer = http
            .post(format!("{}/v1.0/me/presence/{call}", emu.base_url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    {
        let conn = rusqlite::Connection::open(dir.path().join("presently.db")).unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        let pre = json!({
            "state": {
                "presence": {"availability": "Available", "activity": "Available"},
                "status_message": "Back at 3",
                "forwarding": null,
                "auto_replies": null,
            },
            "until": until,
        });
        conn.execute(
            "UPDATE presence_automation SET pre_state = ?1 WHERE id = 1",
            [pre.to_string()],
        )
        .unwrap();
    }
    emu.control().clear_presence_calls();
    let engine = engine(&emu, &sim, dir.path()).await;
    let running = start(&engine, &sim).await;
    running.stop().await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    let messages = calls(&emu, "setStatusMessage");
    assert_eq!(
        messages[0].body["statusMessage"]["message"]["content"],
        "Back at 3"
    );
    assert_eq!(aggregate(&emu), "Available");
    assert!(engine.presence_pending().unwrap().is_empty());
}

/// A user whose policy group leaves presence to the server (`automation = "server"`): the
/// group turns `features.presence` off, locked, whatever the user's file says, and the
/// client's runtime then never switches their presence during a meeting (the server does).
#[tokio::test(flavor = "multi_thread")]
async fn a_user_automated_by_the_server_is_never_switched_by_the_client() {
    use presently_engine::policy::{self, Automation, OrgPolicy};
    let org = OrgPolicy::parse(
        std::path::Path::new("/etc/presently/policy.toml"),
        "[[groups]]\nname = \"Everyone\"\ndefault = true\nautomation = \"server\"\n",
    )
    .unwrap();
    let users_file: toml::Table = toml::from_str("[features]\npresence = true\n").unwrap();
    let layered = policy::resolve(Some(&org), &users_file, Some("adele@contoso.com")).unwrap();
    assert_eq!(layered.automation, Automation::Server);

    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(&emu, &sim, dir.path(), |c| {
        c.features.presence = layered.config.features.presence;
    })
    .await;
    let (begin, end) = appointment(&emu, "Weekly sync", "busy", minutes(&sim, 10), 30);
    engine.sync_now().await.unwrap();
    let running = start(&engine, &sim).await;
    sim.run_until(end + Duration::minutes(1)).await;
    assert!(begin < end);
    for kind in [
        "setUserPreferredPresence",
        "setPresence",
        "setStatusMessage",
        "updateMailboxSettings",
    ] {
        assert!(
            calls(&emu, kind).is_empty(),
            "{kind}: {:?}",
            calls(&emu, kind)
        );
    }
    running.stop().await;
}

/// "Meeting ended early" (issue 22): the engine and emulator with a profile that sets only a
/// status message (so the Teams client's call activity shows in the aggregate), an online
/// meeting, and `presence.restore_when_call_ends = mode`.
async fn call_ended_setup(
    mode: presently_engine::presence::CallEndedRestore,
    profile_sets_presence: bool,
) -> (
    presently_emulator::Emulator,
    std::sync::Arc<Sim>,
    tempfile::TempDir,
    std::sync::Arc<presently_engine::Engine>,
    DateTime<Utc>,
    DateTime<Utc>,
) {
    use presently_engine::presence::profile::Profile;
    let emu = empty_emulator().await;
    let sim = Sim::new(&emu);
    let dir = tempfile::tempdir().unwrap();
    emu.control().set_user_status_message("Back at 3");
    let engine = engine_with(&emu, &sim, dir.path(), |c| {
        c.presence.restore_when_call_ends = mode;
        if !profile_sets_presence {
            c.presence.profiles = vec![Profile {
                name: "In a meeting".into(),
                priority: 10,
                teams: None,
                status_message: Some("In a meeting until {end}".into()),
                forwarding: None,
                automatic_replies: None,
            }];
        }
    })
    .await;
    let begin = minutes(&sim, 10);
    let end = begin + Duration::minutes(60);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    emu.control()
        .add_event(json!({
            "subject": "Design review",
            "start": {"dateTime": fmt(begin), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": "busy",
            "isOnlineMeeting": true,
            "onlineMeetingProvider": "teamsForBusiness",
        }))
        .unwrap();
    engine.sync_now().await.unwrap();
    (emu, sim, dir, engine, begin, end)
}

fn status_messages(emu: &presently_emulator::Emulator) -> Vec<String> {
    calls(emu, "setStatusMessage")
        .iter()
        .map(|c| {
            c.body["statusMessage"]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_meeting_left_early_restores_automatically_once_when_set_to_auto() {
    use presently_engine::presence::CallEndedRestore;
    let (emu, sim, _dir, engine, begin, end) =
        call_ended_setup(CallEndedRestore::Auto, false).await;
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(5)).await;
    assert_eq!(status_messages(&emu).len(), 1, "switched at the start");
    emu.control().set_teams_call(Some("InAConferenceCall"));
    sim.run_until(begin + Duration::minutes(20)).await;
    // The user leaves; a minute and 50 seconds later nothing was given back yet.
    emu.control().set_teams_call(None);
    sim.run_until(begin + Duration::minutes(21) + Duration::seconds(50))
        .await;
    assert_eq!(
        status_messages(&emu).len(),
        1,
        "{:?}",
        status_messages(&emu)
    );
    // Two minutes out (the next 15 s read): given back, well before the end.
    sim.run_until(begin + Duration::minutes(22) + Duration::seconds(30))
        .await;
    let messages = status_messages(&emu);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[1], "Back at 3");
    assert_eq!(
        emu.control().presence()["statusMessage"]["message"]["content"],
        "Back at 3"
    );
    // Nothing more for this occurrence: rejoining and leaving again switches nothing, and
    // its end gives nothing back twice.
    emu.control().set_teams_call(Some("InACall"));
    sim.run_until(begin + Duration::minutes(30)).await;
    emu.control().set_teams_call(None);
    sim.run_until(end + Duration::minutes(5)).await;
    assert_eq!(
        status_messages(&emu).len(),
        2,
        "{:?}",
        status_messages(&emu)
    );
    assert!(engine.presence_status().unwrap().ended_early.is_none());
    running.stop().await;
    let history = history(&engine);
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(
        history[0].ends_with("In a meeting (Design review)"),
        "{history:?}"
    );
    assert!(
        history[1]
            .ends_with("the call of Design review ended early: giving your own status back now"),
        "{history:?}"
    );
    assert!(history[2].ends_with("restored"), "{history:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn asked_the_offer_waits_for_restore_now_and_never_joined_offers_nothing() {
    use presently_engine::presence::CallEndedRestore;
    let (emu, sim, _dir, engine, begin, end) = call_ended_setup(CallEndedRestore::Ask, false).await;
    let running = start(&engine, &sim).await;
    // Not in the call for the first half hour: nothing on offer.
    sim.run_until(begin + Duration::minutes(30)).await;
    assert!(engine.presence_status().unwrap().ended_early.is_none());
    // Joins, leaves, rejoins within two minutes: still nothing.
    emu.control().set_teams_call(Some("InACall"));
    sim.run_until(begin + Duration::minutes(35)).await;
    emu.control().set_teams_call(None);
    sim.run_until(begin + Duration::minutes(36) + Duration::seconds(30))
        .await;
    emu.control().set_teams_call(Some("Presenting"));
    sim.run_until(begin + Duration::minutes(40)).await;
    assert!(engine.presence_status().unwrap().ended_early.is_none());
    // Leaves for good: offered (not restored) two minutes later.
    emu.control().set_teams_call(None);
    sim.run_until(begin + Duration::minutes(42) + Duration::seconds(30))
        .await;
    let offer = engine.presence_status().unwrap().ended_early.unwrap();
    assert_eq!(offer.subject.as_deref(), Some("Design review"));
    assert_eq!(offer.end, end);
    assert_eq!(status_messages(&emu).len(), 1, "asked, not restored");
    // "Restore now".
    let mut outcome = None;
    sim.after(|| outcome = Some(engine.presence_restore_call_ended(&offer.appointment_id)))
        .await;
    assert!(outcome.unwrap().unwrap().changed);
    sim.run_until(begin + Duration::minutes(43)).await;
    assert_eq!(
        status_messages(&emu),
        vec![status_messages(&emu)[0].clone(), "Back at 3".to_owned()]
    );
    assert!(
        engine.presence_status().unwrap().ended_early.is_none(),
        "the offer is gone"
    );
    sim.run_until(end + Duration::minutes(1)).await;
    assert_eq!(status_messages(&emu).len(), 2);
    running.stop().await;
}

/// The limit the detection documents: a preferred presence (the built-in profiles') wins
/// over every session in the aggregate, so the call never shows and nothing is raised.
#[tokio::test(flavor = "multi_thread")]
async fn under_a_preferred_presence_the_call_does_not_show_and_nothing_restores_early() {
    use presently_engine::presence::CallEndedRestore;
    let (emu, sim, _dir, engine, begin, end) = call_ended_setup(CallEndedRestore::Auto, true).await;
    let running = start(&engine, &sim).await;
    sim.run_until(begin + Duration::minutes(5)).await;
    emu.control().set_teams_call(Some("InAConferenceCall"));
    assert_eq!(emu.control().presence()["activity"], "Busy");
    sim.run_until(begin + Duration::minutes(10)).await;
    emu.control().set_teams_call(None);
    sim.run_until(end - Duration::seconds(1)).await;
    assert!(calls(&emu, "clearUserPreferredPresence").is_empty());
    sim.run_until(end).await;
    assert_eq!(calls(&emu, "clearUserPreferredPresence").len(), 1);
    running.stop().await;
}
