//! The driver on simulated time against the model of the user's resources
//! ([`crate::presence::driver_model`]); each scenario also passes the model's invariants.

use super::*;
use crate::model::ShowAs;
use crate::presence::driver_model::{model_options, user_replies, Harness, Who, World};
use crate::presence::journal::{Durable, Hold};
use crate::presence::tests::{appt, policy_with};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn oof(id: &str, start: &str, end: &str) -> Appointment {
    let mut a = appt(id, start, end);
    a.show_as = ShowAs::Oof;
    a
}

/// A harness at 09:00 with the user's own state: Available, "Back at 3", forwarding to
/// their mobile (or off where the provider cannot be read), their automatic replies.
fn harness(forwarding: ForwardingAccess) -> Harness {
    let mut world = World::new(t("2026-11-24T09:00:00Z"));
    world.forwarding_readable = forwarding == ForwardingAccess::ReadWrite;
    if world.forwarding_readable {
        world.forwarding = (Forwarding::Number("+4917012345".into()), Who::User);
    }
    world.replies = (user_replies(1), Who::User);
    let mut options = model_options(forwarding, true);
    options.read_back = Duration::seconds(15);
    Harness::new(world, options, policy_with(25, vec![]))
}

fn writes(h: &Harness) -> Vec<String> {
    h.world
        .executed
        .iter()
        .map(|e| format!("{} {}", e.at.format("%H:%M:%S"), e.action))
        .collect()
}

fn events(h: &Harness) -> Vec<String> {
    h.history
        .iter()
        .map(|r| {
            let detail = r
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            format!("{} {}{detail}", r.at.format("%H:%M:%S"), r.event)
        })
        .collect()
}

#[test]
fn a_block_sets_each_resource_once_and_gives_each_back_at_its_end() {
    let mut h = harness(ForwardingAccess::ReadWrite);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T12:00:00Z",
    )]);
    assert_eq!(
        h.driver().poll_timeout(h.now()),
        Some(t("2026-11-24T10:00:00Z"))
    );
    h.run_until(t("2026-11-24T10:00:00Z"));
    // Read first (what to give back), then only what the profile changes.
    assert_eq!(
        writes(&h),
        vec![
            "10:00:00 presence Away (preferred) until 2026-11-24T12:00:00+00:00",
            "10:00:00 forwarding to voicemail",
            "10:00:00 automatic replies until 2026-11-24T12:00:00+00:00",
        ]
    );
    assert_eq!(h.world.visible().0, "Away");
    h.run_until(t("2026-11-24T12:00:01Z"));
    let all = writes(&h);
    assert_eq!(
        all[3..],
        [
            "12:00:00 clear preferred presence (back to available)",
            "12:00:00 forwarding back to +4917012345",
            "12:00:00 automatic replies back",
        ]
    );
    // Exactly the user's own again: the replies as read, spelled as Graph spelled them.
    assert_eq!(h.world.visible(), ("Available".to_owned(), Who::User));
    assert_eq!(
        h.world.forwarding.0,
        Forwarding::Number("+4917012345".into())
    );
    assert_eq!(h.world.replies.0, user_replies(1));
    assert_eq!(h.world.replies.0["status"], "Scheduled");
    assert_eq!(
        events(&h),
        vec!["10:00:00 applied", "12:00:00 restored"],
        "{:?}",
        h.history
    );
    assert_eq!(h.history[1].presence.as_deref(), Some("available"));
    assert!(h.stored.holds.iter().all(|h| *h == Hold::Free));
    assert!(h.stored.open.is_empty());
}

/// Bug 1: the user sets "Available" in Teams during an out-of-office block whose profile
/// also forwards calls (through a command: forwarding cannot be read). Presence is theirs;
/// forwarding is still switched off at the end.
#[test]
fn a_change_of_presence_by_hand_releases_presence_only() {
    let mut h = harness(ForwardingAccess::WriteOnly);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:20:00Z"));
    assert!(h.manual(Resource::Presence, 0)); // BeRightBack
                                              // Noticed within 15 s, with one read of the presence.
    h.run_until(t("2026-11-24T10:20:15Z"));
    assert!(
        matches!(h.stored.holds[0], Hold::Released { .. }),
        "{:?}",
        h.stored.holds
    );
    assert!(matches!(h.stored.holds[2], Hold::Owned { .. }));
    h.run_until(t("2026-11-24T11:00:00Z"));
    let all = writes(&h);
    assert!(
        all.contains(&"11:00:00 forwarding back as it was".to_owned()),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|w| w.contains("clear preferred")),
        "the user's presence is not cleared: {all:?}"
    );
    assert_eq!(h.world.visible(), ("BeRightBack".to_owned(), Who::User));
    assert_eq!(h.world.forwarding, (Forwarding::Off, Who::User));
    let ev = events(&h);
    assert!(
        ev.contains(&"10:20:15 stood_back (presence)".to_owned()),
        "{ev:?}"
    );
    assert!(
        ev.contains(&"11:00:00 restored (presence left as you set it)".to_owned()),
        "{ev:?}"
    );
}

/// Bug 2: Presently stops during a block and starts again after its end: everything it
/// changed is given back at once.
#[test]
fn a_block_that_ended_while_stopped_is_given_back_at_start() {
    let mut h = harness(ForwardingAccess::WriteOnly);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:30:00Z"));
    h.crash();
    h.run_until(t("2026-11-24T14:00:00Z"));
    let before = h.world.executed.len();
    h.start(t("2026-11-24T14:00:00Z"));
    let after: Vec<String> = writes(&h)[before..].to_vec();
    assert_eq!(
        after,
        vec![
            "14:00:00 forwarding back as it was",
            "14:00:00 automatic replies back"
        ],
        "the presence ran out by itself; the rest is given back at once"
    );
    assert_eq!(h.world.forwarding.0, Forwarding::Off);
    assert_eq!(h.world.replies.0, user_replies(1));
    let last = h.history.last().unwrap();
    assert_eq!(last.event, crate::store::HistoryKind::Restored);
    assert_eq!(
        last.until,
        Some(t("2026-11-24T11:00:00Z")),
        "given back late"
    );
    let line = crate::presence::runtime::HistoryLine::new(last.clone(), chrono_tz::Europe::Berlin);
    assert_eq!(
        line.text,
        "15:00 restored available (late: the appointments ended at 12:00)"
    );
    assert!(h.stored.holds.iter().all(|h| *h == Hold::Free));
}

#[test]
fn a_lost_write_that_landed_is_read_back_not_sent_again() {
    let mut h = harness(ForwardingAccess::ReadWrite);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T09:59:59Z"));
    h.world.now = t("2026-11-24T10:00:00Z");
    // The presence is set, and the process dies before storing that it was.
    assert!(h.crash_mid_write(true));
    assert_eq!(h.stored.open.len(), 1);
    assert_eq!(h.stored.open[0].state, EntryState::InFlight);
    let key = h.stored.open[0].key.clone();
    h.start(t("2026-11-24T10:00:05Z"));
    let sent: Vec<_> = h.world.executed.iter().filter(|e| e.key == key).collect();
    assert_eq!(sent.len(), 1, "{:?}", writes(&h));
    assert_eq!(h.journal[&key].state, EntryState::Done);
}

#[test]
fn a_lost_write_to_a_provider_that_cannot_be_read_is_sent_again_with_its_key() {
    let mut h = harness(ForwardingAccess::WriteOnly);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T09:59:59Z"));
    h.world.now = t("2026-11-24T10:00:00Z");
    // Presence first, then forwarding: die while the forwarding command runs (each time
    // after the write reached its service).
    while h.crash_mid_write(true) {
        if h.stored
            .open
            .iter()
            .any(|e| e.resource == Resource::Forwarding)
        {
            break;
        }
        h.revive(t("2026-11-24T10:00:00Z"));
    }
    let key = h
        .stored
        .open
        .iter()
        .find(|e| e.resource == Resource::Forwarding)
        .unwrap()
        .key
        .clone();
    h.start(t("2026-11-24T10:00:02Z"));
    assert_eq!(h.world.deduplicated, 1, "sent again with the same key");
    assert_eq!(h.journal[&key].state, EntryState::Done);
    assert_eq!(h.world.forwarding.0, Forwarding::Voicemail);
}

#[test]
fn a_failing_restore_is_retried_with_backoff_and_shows_until_it_lands() {
    let mut h = harness(ForwardingAccess::WriteOnly);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:59:00Z"));
    h.outage(true, Duration::minutes(10));
    h.run_until(t("2026-11-24T11:00:00Z"));
    let status = h.driver().status(h.now());
    let fwd = status[Resource::Forwarding.index()]
        .pending
        .clone()
        .unwrap();
    assert_eq!(fwd.purpose, Purpose::Restore);
    assert_eq!(
        fwd.message.as_deref(),
        Some("Forwarding still on — switching it off failed, retrying")
    );
    assert_eq!(
        h.driver().poll_timeout(h.now()),
        Some(t("2026-11-24T11:00:02Z")),
        "backoff from 2 s"
    );
    let failing = status[Resource::Forwarding.index()]
        .failing
        .clone()
        .unwrap();
    assert!(!failing.read, "the write fails");
    assert_eq!(failing.failures, 1);
    h.run_until(t("2026-11-24T11:00:07Z"));
    let status = h.driver().status(h.now());
    let failing = status[Resource::Forwarding.index()]
        .failing
        .clone()
        .unwrap();
    assert_eq!(failing.failures, 3, "11:00, 11:00:02, 11:00:06");
    assert_eq!(
        status[Resource::Forwarding.index()]
            .pending
            .as_ref()
            .unwrap()
            .key,
        fwd.key,
        "one problem: the same write"
    );
    h.run_until(t("2026-11-24T11:09:00Z"));
    assert_eq!(h.world.forwarding.0, Forwarding::Voicemail, "still down");
    h.heal();
    h.run_until(t("2026-11-24T11:20:00Z"));
    assert_eq!(h.world.forwarding.0, Forwarding::Off);
    assert!(h.driver().status(h.now())[2].pending.is_none());
    assert!(h.driver().status(h.now())[2].failing.is_none());
    let ev = events(&h);
    assert!(
        ev.iter()
            .any(|e| e.starts_with("11:00:00 restore_failed (forwarding back as it was:")),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e.contains("recovered")), "{ev:?}");
}

#[test]
fn nothing_is_given_back_between_adjacent_or_overlapping_appointments() {
    let mut h = harness(ForwardingAccess::ReadWrite);
    h.set_appointments(vec![
        appt("a", "2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z"),
        appt("b", "2026-11-24T10:30:00Z", "2026-11-24T11:00:00Z"),
        oof("c", "2026-11-24T10:45:00Z", "2026-11-24T11:15:00Z"),
    ]);
    h.run_until(t("2026-11-24T12:00:00Z"));
    assert_eq!(
        writes(&h),
        vec![
            "10:00:00 presence Busy (preferred) until 2026-11-24T11:00:00+00:00",
            "10:00:00 status message \"In a meeting until 12:00\"",
            // The out-of-office profile takes over; the meeting's message goes.
            "10:45:00 presence Away (preferred) until 2026-11-24T11:15:00+00:00",
            "10:45:00 status message back to \"Back at 3\"",
            "10:45:00 forwarding to voicemail",
            "10:45:00 automatic replies until 2026-11-24T11:15:00+00:00",
            "11:15:00 clear preferred presence (back to available)",
            "11:15:00 forwarding back to +4917012345",
            "11:15:00 automatic replies back",
        ]
    );
}

#[test]
fn while_a_block_holds_the_presence_is_read_back_every_15_seconds() {
    let mut h = harness(ForwardingAccess::None);
    h.set_appointments(vec![appt(
        "a",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:00:00Z"));
    assert_eq!(
        h.driver().poll_timeout(h.now()),
        Some(t("2026-11-24T10:00:15Z"))
    );
    h.run_until(t("2026-11-24T10:00:15Z"));
    assert_eq!(
        h.driver().poll_timeout(h.now()),
        Some(t("2026-11-24T10:00:30Z"))
    );
    // "Reset status" in Teams: the user's own shows again; automation stands back. (The
    // model leaves this out of its random changes: after a sleep past automation's
    // expiry it cannot be told apart.)
    h.check = false;
    h.world.preferred = None;
    h.run_until(t("2026-11-24T10:00:45Z"));
    assert!(matches!(h.stored.holds[0], Hold::Released { .. }));
    // No more reads of the presence for it; the status message is still read back.
    h.run_until(t("2026-11-24T11:00:00Z"));
    assert!(!writes(&h).iter().any(|w| w.contains("clear preferred")));
    assert_eq!(h.world.status_value().as_deref(), Some("Back at 3"));
}

#[test]
fn a_restart_inside_a_block_writes_nothing_again() {
    let mut h = harness(ForwardingAccess::ReadWrite);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:10:00Z"));
    let (n, history) = (h.world.executed.len(), h.history.len());
    h.crash();
    h.start(t("2026-11-24T10:10:00Z"));
    h.run_until(t("2026-11-24T10:20:00Z"));
    assert_eq!(h.world.executed.len(), n, "{:?}", writes(&h));
    assert_eq!(h.history.len(), history, "no second \"applied\"");
}

/// A version 6 store kept only the pre-automation state of the block in force; after the
/// upgrade the block ends while Presently is stopped: what differs from it is given back.
#[test]
fn a_version_6_pre_state_is_given_back() {
    let mut world = World::new(t("2026-11-24T12:00:00Z"));
    // What version 6 left in force: its preferred presence and status message.
    world.preferred = Some(crate::presence::driver_model::Mark {
        value: "Busy".into(),
        expires: Some(t("2026-11-24T12:30:00Z")),
        by: Who::App,
    });
    world.status = Some(crate::presence::driver_model::Mark {
        value: "In a meeting until 12:00".into(),
        expires: Some(t("2026-11-24T13:00:00Z")),
        by: Who::App,
    });
    let mut h = Harness::with_checks(
        world,
        model_options(ForwardingAccess::None, false),
        policy_with(25, vec![]),
        false,
    );
    h.crash();
    let rows = crate::store::PresenceDriverRows {
        journal_id: "v6".into(),
        next_seq: 1,
        headline: None,
        holds: vec![],
        open: vec![],
        legacy_pre_state: Some(
            r#"{"state":{"presence":{"availability":"Available","activity":"Available"},
                "status_message":"Back at 3","forwarding":null,"auto_replies":null},
                "until":"2026-11-24T11:00:00Z"}"#
                .into(),
        ),
    };
    h.stored = Durable::from_rows(rows).unwrap();
    h.start(t("2026-11-24T12:00:00Z"));
    assert_eq!(
        writes(&h),
        vec![
            "12:00:00 clear preferred presence (back to Available)",
            "12:00:00 status message back to \"Back at 3\"",
        ]
    );
    assert_eq!(h.world.visible().0, "Available");
    assert_eq!(h.world.status_value().as_deref(), Some("Back at 3"));
    assert!(h.stored.holds.iter().all(|h| *h == Hold::Free));
}

#[test]
fn automatic_replies_a_user_changed_by_hand_are_left_as_they_are() {
    let mut h = harness(ForwardingAccess::ReadWrite);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:30:00Z"));
    assert!(h.manual(Resource::AutomaticReplies, 2));
    h.run_until(t("2026-11-24T11:00:00Z"));
    assert_eq!(h.world.replies.0, user_replies(2));
    assert!(!writes(&h)
        .iter()
        .any(|w| w.contains("automatic replies back")));
    // The rest was given back.
    assert_eq!(
        h.world.forwarding.0,
        Forwarding::Number("+4917012345".into())
    );
}

#[test]
fn a_restore_waiting_for_a_read_that_keeps_failing_says_the_read_fails() {
    let mut h = harness(ForwardingAccess::ReadWrite);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:59:00Z"));
    h.outage(true, Duration::minutes(10));
    h.run_until(t("2026-11-24T11:00:07Z"));
    let status = h.driver().status(h.now());
    let fwd = &status[Resource::Forwarding.index()];
    // Forwarding is read back before it is switched back: the read is what fails.
    assert_eq!(fwd.pending.as_ref().unwrap().purpose, Purpose::Restore);
    assert_eq!(fwd.pending.as_ref().unwrap().attempts, 0);
    let failing = fwd.failing.clone().unwrap();
    assert!(failing.read);
    assert_eq!(failing.failures, 3);
    assert!(
        fwd.problem
            .as_deref()
            .is_some_and(|p| p.starts_with("Forwarding: reading it failed")),
        "{fwd:?}"
    );
}

/// Found by the model's property test: the user changes their presence by hand during a
/// block, Presently stops, and the clock is set back (to before the block's start) when it
/// starts again. The release lasts until the block ends: it must not be forgotten with the
/// instant seen last, and the presence the user picked is not written over when the block
/// "starts" again.
#[test]
fn a_clock_set_back_across_a_restart_does_not_end_a_release_early() {
    let mut h = harness(ForwardingAccess::WriteOnly);
    h.set_appointments(vec![oof(
        "trip",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:20:00Z"));
    assert!(h.manual(Resource::Presence, 0)); // BeRightBack
    h.run_until(t("2026-11-24T10:20:15Z"));
    assert!(matches!(h.stored.holds[0], Hold::Released { .. }));
    h.crash();
    h.start(t("2026-11-24T09:59:59Z"));
    h.run_until(t("2026-11-24T10:00:30Z"));
    let all = writes(&h);
    assert_eq!(
        all.iter().filter(|w| w.contains("presence Away")).count(),
        1,
        "the presence is not set again over the user's: {all:?}"
    );
    assert_eq!(h.world.visible(), ("BeRightBack".to_owned(), Who::User));
    h.run_until(t("2026-11-24T11:00:00Z"));
    assert_eq!(h.world.visible(), ("BeRightBack".to_owned(), Who::User));
    assert_eq!(h.world.forwarding, (Forwarding::Off, Who::User));
}

/// A profile that only sends calls to voicemail (it leaves the presence alone), for every
/// appointment.
fn voicemail_only() -> Policy {
    let profile = Profile {
        name: "Voicemail".into(),
        priority: 10,
        teams: None,
        status_message: None,
        forwarding: Some(Forwarding::Voicemail),
        automatic_replies: None,
    };
    let rule = crate::presence::rules::Rule {
        profile: Some("Voicemail".into()),
        ..Default::default()
    };
    Policy::new(vec![profile], vec![rule]).unwrap()
}

fn online(id: &str, start: &str, end: &str) -> Appointment {
    let mut a = appt(id, start, end);
    a.join_url = Some("https://teams.microsoft.com/l/meetup-join/x".into());
    a
}

fn presence_reads(h: &Harness, from: &str, to: &str) -> Vec<DateTime<Utc>> {
    let (from, to) = (t(from), t(to));
    h.world
        .presence_reads
        .iter()
        .copied()
        .filter(|at| (from..to).contains(at))
        .collect()
}

#[test]
fn a_meeting_whose_call_ends_early_is_raised_once_from_reads_every_15_s() {
    let mut world = World::new(t("2026-11-24T09:00:00Z"));
    world.forwarding = (Forwarding::Number("+4917012345".into()), Who::User);
    let mut options = model_options(ForwardingAccess::ReadWrite, false);
    options.read_back = Duration::seconds(15);
    let mut h = Harness::new(world, options, voicemail_only());
    h.set_watch_calls(true);
    h.set_appointments(vec![
        online("m", "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z"),
        appt("plain", "2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z"),
    ]);
    h.run_until(t("2026-11-24T10:05:00Z"));
    h.world.call_activity = Some("InAConferenceCall".into());
    h.run_until(t("2026-11-24T10:20:00Z"));
    h.world.call_activity = None;
    h.run_until(t("2026-11-24T10:21:50Z"));
    assert!(h.ended_early().is_empty(), "out for less than 2 minutes");
    h.run_until(t("2026-11-24T10:23:00Z"));
    let raised = h.ended_early();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].appointment_id, "m");
    assert_eq!(raised[0].end, t("2026-11-24T11:00:00Z"));
    assert!(raised[0].at - raised[0].left_at >= Duration::minutes(2));
    assert!(raised[0].left_at <= t("2026-11-24T10:20:15Z"));
    // The watch read the presence (the profile leaves it alone) every 15 s while the
    // meeting's profile was in force, and not before it.
    let reads = presence_reads(&h, "2026-11-24T10:00:00Z", "2026-11-24T10:23:00Z");
    assert!(reads.len() >= 4 * 22, "{} reads", reads.len());
    assert!(reads
        .windows(2)
        .all(|w| w[1] - w[0] <= Duration::seconds(15)));
    assert!(presence_reads(&h, "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z").is_empty());
    // Raised: no more reads for it, and nothing more raised.
    h.world.call_activity = Some("InACall".into());
    h.run_until(t("2026-11-24T10:30:00Z"));
    h.world.call_activity = None;
    h.run_until(t("2026-11-24T13:30:00Z"));
    assert!(h.ended_early().is_empty());
    assert!(presence_reads(&h, "2026-11-24T10:23:30Z", "2026-11-24T13:30:00Z").is_empty());
    // The driver itself restored nothing early: that is the runtime's decision.
    assert!(
        writes(&h).iter().any(|w| w.starts_with("11:00:00")),
        "{:?}",
        writes(&h)
    );
}

#[test]
fn without_the_watch_a_profile_that_leaves_the_presence_alone_reads_none() {
    let mut world = World::new(t("2026-11-24T09:00:00Z"));
    world.forwarding = (Forwarding::Number("+4917012345".into()), Who::User);
    let mut options = model_options(ForwardingAccess::ReadWrite, false);
    options.read_back = Duration::seconds(15);
    let mut h = Harness::new(world, options, voicemail_only());
    h.set_appointments(vec![online(
        "m",
        "2026-11-24T10:00:00Z",
        "2026-11-24T11:00:00Z",
    )]);
    h.run_until(t("2026-11-24T10:05:00Z"));
    h.world.call_activity = Some("InAConferenceCall".into());
    h.run_until(t("2026-11-24T10:20:00Z"));
    h.world.call_activity = None;
    h.run_until(t("2026-11-24T10:40:00Z"));
    assert!(h.ended_early().is_empty());
    assert!(presence_reads(&h, "2026-11-24T09:00:00Z", "2026-11-24T10:40:00Z").is_empty());
}
