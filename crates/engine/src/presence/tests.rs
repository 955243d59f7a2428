//! Tests of the scheduler and the plan.
use crate::model::*;

pub(crate) fn appt(id: &str, start: &str, end: &str) -> Appointment {
    base(
        id,
        When::Timed {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        },
    )
}

pub(crate) fn all_day(id: &str, start: &str, end: &str) -> Appointment {
    base(
        id,
        When::AllDay {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        },
    )
}

pub(crate) fn base(id: &str, when: When) -> Appointment {
    Appointment {
        subject: format!("Subject of {id}"),
        ..Appointment::new(id, "primary", when)
    }
}

use super::profile::*;
use super::rules::Rule;
use super::scheduler::{span, ProfileInForce};
use super::*;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn pre() -> UserState {
    UserState {
        presence: Some(Presence {
            availability: "Available".into(),
            activity: "Available".into(),
        }),
        status_message: Some("Back in the office".into()),
        forwarding: Some(Forwarding::Off),
        auto_replies: Some(AutoRepliesSetting {
            status: AutoRepliesStatus::Disabled,
            internal: "old internal".into(),
            external: "old external".into(),
            scheduled_start: None,
            scheduled_end: None,
            raw: None,
        }),
    }
}

fn caps() -> Capabilities {
    Capabilities {
        automatic_replies: true,
        forwarding_provider: true,
    }
}

fn deep_work(priority: u8) -> Profile {
    Profile {
        name: "Deep work".into(),
        priority,
        teams: Some(
            TeamsPresence::new(Availability::Busy, Activity::InACall, PresenceMode::Session)
                .unwrap(),
        ),
        status_message: Some("{subject} until {end}".into()),
        forwarding: Some(Forwarding::Number("+49 30 1234".into())),
        automatic_replies: None,
    }
}

/// Defaults, a "Deep work" profile, and rules for categories Focus and Deep.
pub(crate) fn policy_with(priority: u8, extra: Vec<Rule>) -> Policy {
    let mut profiles = builtin_profiles(caps());
    profiles.push(deep_work(priority));
    let mut rules = vec![
        Rule {
            profile: Some(FOCUS.into()),
            category: Some("Focus".into()),
            ..Rule::default()
        },
        Rule {
            profile: Some("Deep work".into()),
            category: Some("Deep".into()),
            ..Rule::default()
        },
    ];
    rules.extend(extra);
    rules.extend(rules::default_rules());
    Policy::new(profiles, rules).unwrap()
}

/// Carries out actions on a model of the user's state.
fn simulate(world: &mut UserState, actions: &[Action]) {
    for a in actions {
        match a {
            Action::SetPresence { presence, .. } => {
                world.presence = Some(Presence {
                    availability: presence.availability.as_str().into(),
                    activity: presence.activity.as_str().into(),
                })
            }
            Action::ClearPresence { restore_to, .. } => world.presence = restore_to.clone(),
            Action::SetStatusMessage { message, .. } => {
                world.status_message = Some(message.clone())
            }
            Action::RestoreStatusMessage { message } => world.status_message = message.clone(),
            Action::SetForwarding { forwarding } => world.forwarding = Some(forwarding.clone()),
            Action::RestoreForwarding { forwarding } => world.forwarding = forwarding.clone(),
            Action::SetAutomaticReplies {
                internal,
                external,
                start,
                end,
            } => {
                world.auto_replies = Some(AutoRepliesSetting {
                    status: AutoRepliesStatus::Scheduled,
                    internal: internal.clone(),
                    external: external.clone(),
                    scheduled_start: Some(*start),
                    scheduled_end: Some(*end),
                    raw: None,
                })
            }
            Action::RestoreAutomaticReplies { setting } => world.auto_replies = setting.clone(),
        }
    }
}

/// The user's state while `applied` holds: `pre` with the profile's parts laid over it.
fn expected_under(pre: &UserState, profile: &Profile, applied: &ProfileInForce) -> UserState {
    let mut s = pre.clone();
    if let Some(tp) = profile.teams {
        s.presence = Some(Presence {
            availability: tp.availability.as_str().into(),
            activity: tp.activity.as_str().into(),
        });
    }
    if let Some(m) = &applied.status_message {
        s.status_message = Some(m.clone());
    }
    if let Some(f) = &profile.forwarding {
        s.forwarding = Some(f.clone());
    }
    if let Some(r) = &profile.automatic_replies {
        s.auto_replies = Some(AutoRepliesSetting {
            status: AutoRepliesStatus::Scheduled,
            internal: r.internal.clone(),
            external: r.external.clone(),
            scheduled_start: Some(applied.since),
            scheduled_end: Some(applied.until),
            raw: None,
        });
    }
    s
}

fn kinds(plan: &[PlannedTransition]) -> Vec<String> {
    plan.iter()
        .map(|p| {
            let at = p.transition.at.with_timezone(&BERLIN).format("%d %H:%M");
            match &p.transition.kind {
                TransitionKind::Apply {
                    profile,
                    appointment_id,
                    ..
                } => format!("{at} apply {profile} {appointment_id}"),
                TransitionKind::Restore { .. } => format!("{at} restore"),
                TransitionKind::Skipped { appointment_id, .. } => {
                    format!("{at} skipped {appointment_id}")
                }
            }
        })
        .collect()
}

fn with(mut a: Appointment, f: impl FnOnce(&mut Appointment)) -> Appointment {
    f(&mut a);
    a
}

#[test]
fn back_to_back_goes_straight_from_one_to_the_next() {
    let appts = vec![
        appt("a", "2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z"),
        appt("b", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
    ];
    let p = plan(
        &appts,
        &policy_with(25, vec![]),
        BERLIN,
        &pre(),
        t("2026-11-24T06:00:00Z"),
        t("2026-11-24T12:00:00Z"),
    );
    assert_eq!(
        kinds(&p),
        vec![
            "24 09:00 apply In a meeting a",
            "24 10:00 apply In a meeting b",
            "24 11:00 restore"
        ]
    );
    assert_eq!(
        p[0].transition.actions,
        vec![
            Action::SetPresence {
                presence: TeamsPresence::preferred(Availability::Busy),
                until: t("2026-11-24T10:00:00Z")
            },
            Action::SetStatusMessage {
                message: "In a meeting until 11:00".into(),
                until: t("2026-11-24T10:00:00Z")
            }
        ]
    );
    assert!(
        p[1].transition.actions.is_empty(),
        "nothing changes between them"
    );
    let mut world = pre();
    for step in &p {
        simulate(&mut world, &step.transition.actions);
    }
    assert_eq!(world, pre());
    assert_eq!(p[0].local, "2026-11-24T09:00:00+01:00");
}

#[test]
fn nested_overlap_returns_to_the_outer_profile_without_a_restore() {
    let appts = vec![
        appt("outer", "2026-11-24T08:00:00Z", "2026-11-24T11:00:00Z"),
        with(
            appt("focus", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
            |a| a.categories = vec!["focus".into()],
        ),
        appt("inner", "2026-11-24T09:30:00Z", "2026-11-24T09:45:00Z"),
    ];
    let pol = policy_with(25, vec![]);
    let p = plan(
        &appts,
        &pol,
        BERLIN,
        &pre(),
        t("2026-11-24T00:00:00Z"),
        t("2026-11-25T00:00:00Z"),
    );
    assert_eq!(
        kinds(&p),
        vec![
            "24 09:00 apply In a meeting outer",
            "24 10:00 apply Focus focus",
            "24 11:00 apply In a meeting outer",
            "24 12:00 restore"
        ]
    );
    let mut world = pre();
    simulate(&mut world, &p[0].transition.actions);
    assert_eq!(
        world.status_message.as_deref(),
        Some("In a meeting until 12:00")
    );
    simulate(&mut world, &p[1].transition.actions);
    assert_eq!(
        world.presence.as_ref().unwrap().availability,
        "DoNotDisturb"
    );
    assert_eq!(world.status_message, pre().status_message, "Focus has none");
    simulate(&mut world, &p[2].transition.actions);
    assert_eq!(
        world.status_message.as_deref(),
        Some("In a meeting until 12:00")
    );
    simulate(&mut world, &p[3].transition.actions);
    assert_eq!(world, pre());
}

#[test]
fn an_all_day_out_of_office_spans_a_meeting() {
    let appts = vec![
        with(all_day("oof", "2026-11-24", "2026-11-25"), |a| {
            a.show_as = ShowAs::Oof
        }),
        appt("meeting", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        // All-day and busy: does not trigger by default.
        all_day("offsite", "2026-11-26", "2026-11-27"),
    ];
    let p = plan(
        &appts,
        &policy_with(25, vec![]),
        BERLIN,
        &pre(),
        t("2026-11-23T00:00:00Z"),
        t("2026-11-28T00:00:00Z"),
    );
    assert_eq!(
        kinds(&p),
        vec!["24 00:00 apply Out of office oof", "25 00:00 restore"]
    );
    assert_eq!(p[0].transition.at, t("2026-11-23T23:00:00Z"));
    assert!(p[0].transition.actions.contains(&Action::SetForwarding {
        forwarding: Forwarding::Voicemail
    }));
    assert!(p[0].transition.actions.iter().any(|a| matches!(
        a,
        Action::SetAutomaticReplies { start, end, .. }
            if *start == t("2026-11-23T23:00:00Z") && *end == t("2026-11-24T23:00:00Z")
    )));
    let mut world = pre();
    for step in &p {
        simulate(&mut world, &step.transition.actions);
    }
    assert_eq!(world, pre());
}

#[test]
fn a_private_subject_leaks_nowhere() {
    let secret = "Salary talk with HR";
    let appts = vec![
        with(
            appt("p", "2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z"),
            |a| {
                a.subject = secret.into();
                a.sensitivity = Sensitivity::Private;
                a.categories = vec!["Deep".into()];
            },
        ),
        with(
            appt("q", "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z"),
            |a| {
                a.subject = "Open planning".into();
                a.categories = vec!["Deep".into()];
            },
        ),
    ];
    let p = plan(
        &appts,
        &policy_with(25, vec![]),
        BERLIN,
        &pre(),
        t("2026-11-24T00:00:00Z"),
        t("2026-11-25T00:00:00Z"),
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("Salary"), "{json}");
    assert!(json.contains("Private appointment until 10:00"), "{json}");
    assert!(json.contains("Open planning until 12:00"), "{json}");
    match &p[0].transition.kind {
        TransitionKind::Apply {
            subject_for_display,
            ..
        } => assert_eq!(subject_for_display, &None),
        other => panic!("{other:?}"),
    }
    let history = HistoryEntry::from_transition(&p[0].transition).display(BERLIN);
    assert_eq!(history, "09:00 Deep work");
    assert_eq!(
        HistoryEntry::from_transition(&p[2].transition).display(BERLIN),
        "11:00 Deep work (Open planning)"
    );
    assert_eq!(
        HistoryEntry::from_transition(&p[1].transition).display(BERLIN),
        "10:00 restored Available"
    );
}

#[test]
fn start_up_in_the_middle_of_a_meeting_applies_at_once() {
    let mut s = Scheduler::new(policy_with(25, vec![]), BERLIN, pre());
    s.set_appointments(&[appt("a", "2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z")]);
    assert_eq!(
        s.poll_timeout(),
        Some(DateTime::<Utc>::MIN_UTC),
        "due at once"
    );
    let now = t("2026-11-24T08:20:13Z");
    let out = s.handle_timeout(now);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].at, now);
    assert!(
        matches!(out[0].kind, TransitionKind::Apply { until, .. } if until == t("2026-11-24T09:00:00Z"))
    );
    assert_eq!(s.poll_timeout(), Some(t("2026-11-24T09:00:00Z")));
    // Waking long after the end restores at once.
    let out = s.handle_timeout(t("2026-11-24T15:00:00Z"));
    assert!(matches!(out[0].kind, TransitionKind::Restore { .. }));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn an_appointment_changed_or_deleted_while_active_takes_effect_at_once() {
    let a = appt("a", "2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z");
    let mut s = Scheduler::new(policy_with(25, vec![]), BERLIN, pre());
    s.set_appointments(std::slice::from_ref(&a));
    s.handle_timeout(t("2026-11-24T08:00:00Z"));
    // Shortened to 08:30: the status message and expiration follow at once.
    let shorter = with(a.clone(), |a| {
        a.when = When::Timed {
            start: t("2026-11-24T08:00:00Z"),
            end: t("2026-11-24T08:30:00Z"),
        }
    });
    s.set_appointments(std::slice::from_ref(&shorter));
    let now = t("2026-11-24T08:10:00Z");
    assert!(s.poll_timeout().unwrap() <= now);
    let out = s.handle_timeout(now);
    assert!(out[0].actions.contains(&Action::SetStatusMessage {
        message: "In a meeting until 09:30".into(),
        until: t("2026-11-24T08:30:00Z")
    }));
    assert_eq!(s.poll_timeout(), Some(t("2026-11-24T08:30:00Z")));
    // Deleted: restore now.
    s.set_appointments(&[]);
    let out = s.handle_timeout(t("2026-11-24T08:11:00Z"));
    assert!(matches!(&out[0].kind, TransitionKind::Restore { state } if *state == pre()));
    let mut world = pre();
    simulate(&mut world, &out[0].actions);
    assert_eq!(world, pre());
    // Feeding the same set again changes nothing.
    s.set_appointments(&[]);
    assert!(s.handle_timeout(t("2026-11-24T08:12:00Z")).is_empty());
}

fn step_minutes(
    appts: &[Appointment],
    pol: &Policy,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Transition> {
    let mut s = Scheduler::new(pol.clone(), tz, pre());
    s.set_appointments(appts);
    let mut out = Vec::new();
    let mut now = from;
    while now < to {
        out.extend(s.handle_timeout(now));
        now += Duration::minutes(1);
    }
    out
}

#[test]
fn dst_nights_in_berlin() {
    let pol = policy_with(25, vec![]);
    // Spring forward, 2026-03-29: 02:00 CET becomes 03:00 CEST; the day has 23 hours.
    let spring = vec![
        with(all_day("oof", "2026-03-29", "2026-03-30"), |a| {
            a.show_as = ShowAs::Oof;
            a.categories = vec![];
        }),
        // 01:30 CET to 03:30 CEST.
        appt("night", "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"),
        appt("before", "2026-03-28T22:00:00Z", "2026-03-28T23:30:00Z"),
    ];
    let (from, to) = (t("2026-03-28T12:00:00Z"), t("2026-03-30T12:00:00Z"));
    let p = plan(&spring, &pol, BERLIN, &pre(), from, to);
    assert_eq!(
        kinds(&p),
        vec![
            "28 23:00 apply In a meeting before",
            "29 00:00 apply Out of office oof",
            "30 00:00 restore"
        ]
    );
    assert_eq!(p[1].transition.at, t("2026-03-28T23:00:00Z"));
    assert_eq!(p[2].transition.at, t("2026-03-29T22:00:00Z"));
    assert_eq!(p[2].local, "2026-03-30T00:00:00+02:00");
    let stepped = step_minutes(&spring, &pol, BERLIN, from, to);
    assert_eq!(
        p.iter().map(|p| p.transition.clone()).collect::<Vec<_>>(),
        stepped
    );
    // The meeting alone: its end is shown in summer time.
    let p = plan(&spring[1..2], &pol, BERLIN, &pre(), from, to);
    assert!(p[0].transition.actions.contains(&Action::SetStatusMessage {
        message: "In a meeting until 03:30".into(),
        until: t("2026-03-29T01:30:00Z")
    }));

    // Fall back, 2026-10-25: 03:00 CEST becomes 02:00 CET; the day has 25 hours.
    let autumn = vec![
        with(all_day("oof", "2026-10-25", "2026-10-26"), |a| {
            a.show_as = ShowAs::Oof
        }),
        // 02:30 CEST to 02:30 CET.
        appt("twice", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
    ];
    let (from, to) = (t("2026-10-24T12:00:00Z"), t("2026-10-26T12:00:00Z"));
    let p = plan(&autumn, &pol, BERLIN, &pre(), from, to);
    assert_eq!(
        p.iter().map(|p| p.transition.at).collect::<Vec<_>>(),
        vec![t("2026-10-24T22:00:00Z"), t("2026-10-25T23:00:00Z")]
    );
    let stepped = step_minutes(&autumn, &pol, BERLIN, from, to);
    assert_eq!(
        p.iter().map(|p| p.transition.clone()).collect::<Vec<_>>(),
        stepped
    );
    let p = plan(&autumn[1..], &pol, BERLIN, &pre(), from, to);
    assert!(p[0].transition.actions.contains(&Action::SetStatusMessage {
        message: "In a meeting until 02:30".into(),
        until: t("2026-10-25T01:30:00Z")
    }));
}

#[test]
fn history_reads_like_the_issue() {
    let appts = vec![with(
        appt("a", "2026-11-24T09:00:00Z", "2026-11-24T09:30:00Z"),
        |a| a.subject = "Weekly sync".into(),
    )];
    let p = plan(
        &appts,
        &Policy::defaults(Capabilities::default()),
        BERLIN,
        &pre(),
        t("2026-11-24T00:00:00Z"),
        t("2026-11-25T00:00:00Z"),
    );
    let lines: Vec<String> = p
        .iter()
        .map(|p| HistoryEntry::from_transition(&p.transition).display(BERLIN))
        .collect();
    assert_eq!(
        lines,
        vec![
            "10:00 In a meeting (Weekly sync)",
            "10:30 restored Available"
        ]
    );
}

// ---- properties ----

const BASE: &str = "2026-03-28T00:00:00Z";

#[derive(Debug, Clone)]
struct Gen {
    start_min: i64,
    minutes: i64,
    show_as: usize,
    category: usize,
    private: bool,
    cancelled: bool,
    declined: bool,
    all_day: Option<(u64, u64)>,
    online: bool,
}

fn gen_appt() -> impl Strategy<Value = Gen> {
    (
        (
            0i64..(3 * 24 * 4),
            prop_oneof![Just(0i64), 1i64..16, 16i64..60],
        ),
        0usize..5,
        0usize..4,
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.12, (0u64..3, 1u64..3)),
        any::<bool>(),
    )
        .prop_map(
            |((q, len), show_as, category, private, cancelled, declined, all_day, online)| Gen {
                // Quarter hours, so boundaries touch and overlap often.
                start_min: q * 15,
                minutes: len * 15,
                show_as,
                category,
                private,
                cancelled,
                declined,
                all_day,
                online,
            },
        )
}

fn build(gens: &[Gen]) -> Vec<Appointment> {
    let base = t(BASE);
    let day0: chrono::NaiveDate = "2026-03-28".parse().unwrap();
    gens.iter()
        .enumerate()
        .map(|(i, g)| {
            let when = match g.all_day {
                Some((d, len)) => When::AllDay {
                    start: day0 + chrono::Days::new(d),
                    end: day0 + chrono::Days::new(d + len),
                },
                None => When::Timed {
                    start: base + Duration::minutes(g.start_min),
                    end: base + Duration::minutes(g.start_min + g.minutes),
                },
            };
            let mut a = base_appt(&format!("id{i}"), when);
            a.subject = format!("Secret{i}!");
            a.show_as = [
                ShowAs::Busy,
                ShowAs::Oof,
                ShowAs::Tentative,
                ShowAs::Free,
                ShowAs::WorkingElsewhere,
            ][g.show_as];
            a.categories = match g.category {
                1 => vec!["Focus".into()],
                2 => vec!["Deep".into()],
                _ => vec![],
            };
            if g.private {
                a.sensitivity = Sensitivity::Confidential;
            }
            a.cancelled = g.cancelled;
            if g.declined {
                a.response = ResponseStatus::Declined;
            }
            if g.online {
                a.join_url = Some("https://teams.microsoft.com/l/meetup-join/x".into());
            }
            a
        })
        .collect()
}

fn base_appt(id: &str, when: When) -> Appointment {
    base(id, when)
}

fn gen_policy() -> impl Strategy<Value = Policy> {
    (0u8..=40, any::<bool>(), any::<bool>()).prop_map(|(priority, online, tentative)| {
        let mut extra = Vec::new();
        if online {
            extra.push(Rule {
                profile: Some("Deep work".into()),
                online_meeting: Some(true),
                show_as: vec![ShowAs::WorkingElsewhere],
                ..Rule::default()
            });
        }
        if tentative {
            extra.push(Rule {
                profile: Some(IN_A_MEETING.into()),
                show_as: vec![ShowAs::Tentative],
                include_cancelled: true,
                include_declined: true,
                all_day: rules::AllDay::Always,
                ..Rule::default()
            });
        }
        policy_with(priority, extra)
    })
}

fn triggering_at(appts: &[Appointment], pol: &Policy, at: DateTime<Utc>) -> Option<u8> {
    appts
        .iter()
        .filter(|a| {
            let (s, e) = span(a, BERLIN);
            s <= at && at < e
        })
        .filter_map(|a| pol.profile_for(a).map(|p| p.priority))
        .max()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_scheduler_is_exact(gens in prop::collection::vec(gen_appt(), 0..14), pol in gen_policy()) {
        let appts = build(&gens);
        let (from, to) = (t(BASE) - Duration::hours(6), t(BASE) + Duration::days(4));
        let planned = plan(&appts, &pol, BERLIN, &pre(), from, to);
        let transitions: Vec<Transition> = planned.iter().map(|p| p.transition.clone()).collect();

        // Idempotence: the same input (in any order) gives the same plan.
        prop_assert_eq!(&plan(&appts, &pol, BERLIN, &pre(), from, to), &planned);
        let mut reversed = appts.clone();
        reversed.reverse();
        prop_assert_eq!(&plan(&reversed, &pol, BERLIN, &pre(), from, to), &planned);

        // The plan equals stepping a clock minute by minute, and at every minute the
        // state in force is the highest-priority profile of the active appointments, or
        // the user's own.
        let mut s = Scheduler::new(pol.clone(), BERLIN, pre());
        s.set_appointments(&appts);
        let mut stepped = Vec::new();
        let mut world = pre();
        let mut now = from;
        let mut minute = 0;
        while now < to {
            if minute % 97 == 0 {
                s.set_appointments(&appts);
            }
            let out = s.handle_timeout(now);
            prop_assert!(out.len() <= 1);
            for tr in &out {
                simulate(&mut world, &tr.actions);
            }
            stepped.extend(out);
            match (s.current(), triggering_at(&appts, &pol, now)) {
                (Desired::Apply(applied), Some(top)) => {
                    let profile = pol.profile(&applied.profile).unwrap();
                    prop_assert_eq!(profile.priority, top, "at {}", now);
                    prop_assert_eq!(&world, &expected_under(&pre(), profile, applied), "at {}", now);
                    prop_assert!(applied.since <= now && now < applied.until);
                }
                (Desired::Idle | Desired::Restore(_), None) => {
                    prop_assert_eq!(&world, &pre(), "at {}", now);
                }
                (state, top) => prop_assert!(false, "at {}: {:?} with {:?} active", now, state, top),
            }
            now += Duration::minutes(1);
            minute += 1;
        }
        prop_assert_eq!(&stepped, &transitions);

        // No flapping: a restore only when nothing triggering is active, never two
        // transitions at one instant, and a restore only after an apply.
        let mut applied = false;
        for (i, tr) in transitions.iter().enumerate() {
            if i > 0 {
                prop_assert!(transitions[i - 1].at < tr.at);
            }
            match &tr.kind {
                TransitionKind::Restore { state } => {
                    prop_assert!(applied);
                    prop_assert_eq!(state, &pre());
                    prop_assert_eq!(triggering_at(&appts, &pol, tr.at), None);
                    applied = false;
                }
                TransitionKind::Apply { .. } => applied = true,
                TransitionKind::Skipped { .. } => prop_assert!(false, "the scheduler never skips"),
            }
        }
        // The covering blocks are exactly the spans where some profile is wanted, joined
        // where appointments overlap or touch: inside one nothing is ever restored.
        let blocks = s.blocks().to_vec();
        for w in blocks.windows(2) {
            prop_assert!(w[0].1 < w[1].0, "blocks neither overlap nor touch: {:?}", blocks);
        }
        let mut now = from;
        while now < to {
            let in_block = blocks.iter().any(|(b, e)| *b <= now && now < *e);
            prop_assert_eq!(in_block, triggering_at(&appts, &pol, now).is_some(), "at {}", now);
            now += Duration::minutes(1);
        }
        // Nothing private leaves: no subject of a confidential appointment in any transition.
        let json = serde_json::to_string(&transitions).unwrap();
        for (a, g) in appts.iter().zip(&gens) {
            if g.private {
                prop_assert!(!json.contains(&a.subject), "{} leaked", a.subject);
            }
        }
    }
}
