//! `presently run` switching presence, automatic replies and call forwarding with the
//! calendar, as the issue "Automation you can trust" asks: what automation switched,
//! automation switches back, exactly as it was read; nothing the user changed by hand is
//! overwritten; a stop (SIGTERM or SIGKILL) in the middle of a block is made good at the
//! next start; an out-of-office item on a secondary calendar switches nothing by default.
//! The fake Graph checks every presence and mailboxSettings body against its page; a
//! shell script stands in for the telephony system (the `command` forwarding provider).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use presently_fidelity::fixtures::{self, PRIMARY_CALENDAR_ID};
use presently_fidelity::harness::{sleep_until, ForwardingLog};
use presently_fidelity::{Call, Mailbox, Running, Scenario};
use serde_json::{json, Value};
use std::time::Duration as StdDuration;

/// Seconds from now to the block's start: `presently sync` and the start of
/// `presently run` fit in it with room to spare (with all scenarios side by side on two
/// cores, the sync alone took up to 2.2 s).
const LEAD: i64 = 5;
/// Length of a block.
const LENGTH: i64 = 4;

struct Block {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn next_block() -> Block {
    let start = (Utc::now() + Duration::seconds(LEAD))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    Block {
        start,
        end: start + Duration::seconds(LENGTH),
    }
}

/// From now until `t` plus `slack` seconds.
fn until(t: DateTime<Utc>, slack: i64) -> StdDuration {
    (t + Duration::seconds(slack) - Utc::now())
        .to_std()
        .unwrap_or_default()
}

fn is_presence_write(c: &Call) -> bool {
    c.method == "POST"
        && [
            "/setPresence",
            "/clearPresence",
            "/setUserPreferredPresence",
            "/clearUserPreferredPresence",
        ]
        .iter()
        .any(|a| c.path.ends_with(a))
}

fn is_replies_patch(c: &Call) -> bool {
    c.method == "PATCH" && c.path == "/v1.0/me/mailboxSettings"
}

fn status_of(c: &Call) -> String {
    c.json()["automaticRepliesSetting"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits for a Graph call matching `what`.
fn wait_call(s: &Scenario, timeout: StdDuration, what: impl Fn(&Call) -> bool) -> Option<Call> {
    s.graph
        .journal()
        .wait_for(timeout, |calls| calls.iter().find(|c| what(c)).cloned())
}

/// Waits until the fake has had no request for `quiet` (at most `max`): the calls that
/// belong to a transition have all arrived.
fn settle(s: &Scenario, quiet: StdDuration, max: StdDuration) {
    let deadline = std::time::Instant::now() + max;
    let mut seen = s.graph.journal().calls().len();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(quiet);
        let now = s.graph.journal().calls().len();
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// Stops `presently run` with SIGTERM and waits for it.
fn stop(run: Running) -> String {
    run.terminate();
    let out = run.wait(StdDuration::from_secs(15));
    out.text()
}

fn refusals(s: &Scenario) -> Vec<String> {
    s.graph.refusals().iter().map(Call::line).collect()
}

/// A scenario with the event `make` gives for the next block in `calendar`, synced, and
/// `presently run` started. The block is chosen once the scenario stands (signed in,
/// configured), so its lead only has to cover the sync and the start of `presently run`.
fn started(
    mailbox: Mailbox,
    extra: &str,
    tz: &str,
    calendar: &str,
    make: impl FnOnce(&Block) -> Value,
) -> (Scenario, Running, Block) {
    let mut s = Scenario::new(mailbox, extra);
    s.home.tz = tz.to_owned();
    let block = next_block();
    s.graph.mailbox().put_event(calendar, make(&block));
    s.sync();
    let run = s.home.spawn(&["run"]);
    (s, run, block)
}

fn out_of_office(id: &str, block: &Block) -> Value {
    let mut e = fixtures::event(id, "Vacation", block.start, block.end);
    e["showAs"] = json!("oof");
    e["isOnlineMeeting"] = json!(false);
    e
}

fn dt(v: &Value) -> Option<(NaiveDateTime, String)> {
    let t = NaiveDateTime::parse_from_str(v["dateTime"].as_str()?, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some((t, v["timeZone"].as_str()?.to_owned()))
}

/// Where the automatic replies differ from `original` (enums without case; a value the
/// documentation does not list must come back verbatim; times as instants).
fn replies_differences(original: &Value, now: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["status", "externalAudience"] {
        let (a, b) = (original[key].as_str(), now[key].as_str());
        let documented = [
            "disabled",
            "alwaysEnabled",
            "scheduled",
            "none",
            "contactsOnly",
            "all",
        ];
        let same = match (a, b) {
            (Some(a), Some(b)) if documented.iter().any(|d| d.eq_ignore_ascii_case(a)) => {
                a.eq_ignore_ascii_case(b)
            }
            (a, b) => a == b,
        };
        if !same {
            out.push(format!("{key} was {:?}, is {:?}", a, b));
        }
    }
    for key in ["scheduledStartDateTime", "scheduledEndDateTime"] {
        let (a, b) = (dt(&original[key]), dt(&now[key]));
        let same = match (&a, &b) {
            (Some((ta, za)), Some((tb, zb))) => ta == tb && za.eq_ignore_ascii_case(zb),
            _ => original[key] == now[key],
        };
        if !same {
            out.push(format!("{key} was {}, is {}", original[key], now[key]));
        }
    }
    for key in ["internalReplyMessage", "externalReplyMessage"] {
        if original[key] != now[key] {
            out.push(format!("{key} was {}, is {}", original[key], now[key]));
        }
    }
    out
}

/// An out-of-office block with automatic replies on: they are set for the block and
/// restored afterwards to what was read, `mailbox`'s setting.
fn replies_round_trip(mailbox: Mailbox, tz: &str, what: &str) {
    let original = mailbox.automatic_replies();
    let (s, run, block) = started(mailbox, "", tz, PRIMARY_CALENDAR_ID, |b| {
        out_of_office("AAMkAGA-vacation", b)
    });
    let set = wait_call(&s, until(block.start, 5), |c| {
        is_replies_patch(c) && status_of(c).eq_ignore_ascii_case("scheduled")
    });
    let restored = set.as_ref().and_then(|_| {
        wait_call(&s, until(block.end, 6), |c| {
            is_replies_patch(c) && c.at >= block.end - Duration::milliseconds(500)
        })
    });
    settle(&s, StdDuration::from_millis(700), StdDuration::from_secs(3));
    let output = stop(run);
    let patches: Vec<String> = s
        .graph
        .journal()
        .calls()
        .iter()
        .filter(|c| is_replies_patch(c))
        .map(|c| format!("{} {}", c.at.format("%H:%M:%S%.3f"), c.body))
        .collect();
    let context = format!(
        "block {}–{}\nPATCHes:\n{}\npresently run:\n{output}",
        block.start.format("%H:%M:%S"),
        block.end.format("%H:%M:%S"),
        patches.join("\n")
    );
    assert!(
        set.is_some(),
        "{what}: automatic replies were not scheduled when the out-of-office block began\n{context}\nGraph saw:\n{}",
        s.graph.journal().dump()
    );
    let mut problems = Vec::new();
    if restored.is_none() {
        problems.push("nothing was written back at the block's end".to_owned());
    }
    let disabled: Vec<&String> = patches
        .iter()
        .filter(|p| p.to_lowercase().contains("\"disabled\""))
        .collect();
    if !disabled.is_empty() {
        problems.push(format!(
            "automatic replies were PATCHed to disabled: {disabled:?}"
        ));
    }
    let now = s.graph.mailbox().automatic_replies();
    for d in replies_differences(&original, &now) {
        problems.push(format!("after the block, {d}"));
    }
    let refused = refusals(&s);
    if !refused.is_empty() {
        problems.push(format!("Graph refused calls as invalid: {refused:?}"));
    }
    assert!(
        problems.is_empty(),
        "{what}:\n{}\n{context}",
        problems.join("\n")
    );
}

fn automatic_replies_read_as_scheduled_are_restored_exactly() {
    // user-get-mailboxsettings.md's Example 1: "status": "Scheduled", "externalAudience": "All".
    replies_round_trip(
        Mailbox::with_primary_marked(),
        "America/Los_Angeles",
        "automatic replies \"Scheduled\" (Microsoft's example)",
    );
}

fn automatic_replies_with_a_value_presently_does_not_know_are_restored_verbatim() {
    // user-get-mailboxsettings.md's Example 2 ("alwaysEnabled", "None"), with an
    // externalAudience value the documentation does not list (adapted here: Graph's
    // evolvable enums add members, and a client must hand back what it cannot interpret).
    let mut setting = fixtures::load("automaticrepliessetting.json");
    setting["externalAudience"] = json!("unknownFutureValue");
    let mut mailbox = Mailbox::with_primary_marked();
    mailbox.set_automatic_replies(setting);
    replies_round_trip(
        mailbox,
        "Europe/Berlin",
        "automatic replies \"alwaysEnabled\" with externalAudience \"unknownFutureValue\"",
    );
}

fn a_manual_presence_change_stands_automation_back_but_forwarding_still_ends_with_the_block() {
    let probe = presently_fidelity::Home::new();
    let forwarding = probe.forwarding();
    let extra = format!(
        "{}\n[[presence.profiles]]\nname = \"Customer call\"\npriority = 25\nstatus_message = \"With a customer until {{end}}\"\nteams = {{ availability = \"DoNotDisturb\", activity = \"DoNotDisturb\", mode = \"preferred\" }}\nforwarding = {{ number = \"+49 30 1234567\" }}\n\n[[presence.rules]]\nsubject_contains = \"customer\"\nprofile = \"Customer call\"\n",
        forwarding.config()
    );
    let (s, run, block) = started(
        Mailbox::with_primary_marked(),
        &extra,
        "Europe/Berlin",
        PRIMARY_CALENDAR_ID,
        |b| {
            fixtures::event(
                "AAMkAGA-customer",
                "Customer call with Contoso",
                b.start,
                b.end,
            )
        },
    );

    let set = wait_call(&s, until(block.start, 5), |c| {
        c.path.ends_with("/setUserPreferredPresence") && c.json()["availability"] == "DoNotDisturb"
    });
    let on = forwarding.wait_for(
        until(block.start, 5),
        block.start - Duration::seconds(1),
        |a| a.starts_with("on") && a.contains("+49 30 1234567"),
    );
    // The user sets themselves Available in Teams.
    let manual_at = Utc::now();
    s.graph
        .mailbox()
        .presence
        .user_sets("Available", "Available");
    let off = forwarding.wait_for(until(block.end, 6), block.start, |a| a.trim() == "off");
    settle(&s, StdDuration::from_millis(700), StdDuration::from_secs(3));
    let calls = s.graph.journal().calls();
    let output = stop(run);

    let context = format!(
        "block {}–{}, manual change at {}\nforwarding calls: {:?}\npresently run:\n{output}\nGraph saw:\n{}",
        block.start.format("%H:%M:%S"),
        block.end.format("%H:%M:%S"),
        manual_at.format("%H:%M:%S%.3f"),
        forwarding.calls(),
        s.graph.journal().dump()
    );
    assert!(
        set.is_some() && on.is_some(),
        "the block never applied (DoNotDisturb set: {}, forwarding on: {})\n{context}",
        set.is_some(),
        on.is_some()
    );
    let mut problems = Vec::new();
    let overwrote: Vec<String> = calls
        .iter()
        .filter(|c| is_presence_write(c) && c.at > manual_at)
        .map(Call::line)
        .collect();
    if !overwrote.is_empty() {
        problems.push(format!(
            "after the user set their own presence, automation still wrote presence: {overwrote:?}"
        ));
    }
    let presence = s.graph.mailbox().presence.clone();
    if !presence
        .preferred
        .as_ref()
        .is_some_and(|p| p.by_user && p.availability == "Available")
    {
        problems.push(format!(
            "the user's Available is gone: {:?}",
            presence.preferred
        ));
    }
    match off {
        None => problems.push("call forwarding was not switched off at the block's end".into()),
        Some(at) if at < block.end - Duration::milliseconds(500) => problems.push(format!(
            "call forwarding was switched off at {}, before the block's end {}",
            at.format("%H:%M:%S%.3f"),
            block.end.format("%H:%M:%S")
        )),
        Some(_) => {}
    }
    let refused = refusals(&s);
    if !refused.is_empty() {
        problems.push(format!("Graph refused calls as invalid: {refused:?}"));
    }
    assert!(problems.is_empty(), "{}\n{context}", problems.join("\n"));
}

fn a_status_message_the_user_set_mid_block_is_not_overwritten() {
    let mut mailbox = Mailbox::with_primary_marked();
    // GET /me/presence spells "busy" in lower case: that is not the user changing it.
    mailbox.presence.report_lowercase = true;
    let tz = "Asia/Tokyo";
    let (s, run, block) = started(mailbox, "", tz, PRIMARY_CALENDAR_ID, |b| {
        fixtures::event("AAMkAGA-review", "Design review", b.start, b.end)
    });

    let message = wait_call(&s, until(block.start, 5), |c| {
        c.path.ends_with("/setStatusMessage")
    });
    let user_at = Utc::now();
    let own = "Out for lunch, back at 2";
    s.graph.mailbox().presence.user_sets_status_message(own);
    let cleared = wait_call(&s, until(block.end, 6), |c| {
        c.path.ends_with("/clearUserPreferredPresence")
            && c.at >= block.end - Duration::milliseconds(500)
    });
    settle(&s, StdDuration::from_millis(700), StdDuration::from_secs(3));
    let calls = s.graph.journal().calls();
    let output = stop(run);

    let context = format!(
        "block {}–{} (UTC), the user's message at {}\npresently run:\n{output}\nGraph saw:\n{}",
        block.start.format("%H:%M:%S"),
        block.end.format("%H:%M:%S"),
        user_at.format("%H:%M:%S%.3f"),
        s.graph.journal().dump()
    );
    let Some(message) = message else {
        panic!("no status message was set when the meeting began\n{context}");
    };
    let mut problems = Vec::new();
    let local_end = block
        .end
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%H:%M")
        .to_string();
    let content = message.json()["statusMessage"]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !content.contains(&local_end) {
        problems.push(format!(
            "the status message {content:?} should name the end in TZ={tz} ({local_end})"
        ));
    }
    let overwrote: Vec<String> = calls
        .iter()
        .filter(|c| c.path.ends_with("/setStatusMessage") && c.at > user_at)
        .map(|c| format!("{} {}", c.line(), c.body))
        .collect();
    if !overwrote.is_empty() {
        problems.push(format!(
            "the status message the user set mid-block was overwritten: {overwrote:?}"
        ));
    }
    if s.graph.mailbox().presence.status_text().as_deref() != Some(own) {
        problems.push(format!(
            "the user's status message is now {:?}",
            s.graph.mailbox().presence.status_text()
        ));
    }
    if cleared.is_none() {
        problems.push(
            "the presence automation set was not cleared at the block's end (a lower-case \"busy\" from GET /me/presence is not a change by the user)".into(),
        );
    }
    let refused = refusals(&s);
    if !refused.is_empty() {
        problems.push(format!("Graph refused calls as invalid: {refused:?}"));
    }
    assert!(problems.is_empty(), "{}\n{context}", problems.join("\n"));
}

/// `presently run` stopped by `signal` in the middle of an out-of-office block with call
/// forwarding and automatic replies, started again after the block's end.
fn stopped_mid_block_then_restarted(signal: &str, tz: &str) {
    let probe = presently_fidelity::Home::new();
    let forwarding = probe.forwarding();
    let mailbox = Mailbox::with_primary_marked();
    let original = mailbox.automatic_replies();
    let (s, mut run, block) = started(
        mailbox,
        &forwarding.config(),
        tz,
        PRIMARY_CALENDAR_ID,
        |b| out_of_office("AAMkAGA-offsite", b),
    );
    let on = forwarding.wait_for(
        until(block.start, 5),
        block.start - Duration::seconds(1),
        |a| a.starts_with("on"),
    );
    let set = wait_call(&s, until(block.start, 5), |c| {
        is_replies_patch(c) && status_of(c).eq_ignore_ascii_case("scheduled")
    });
    let first_output = if signal == "KILL" {
        run.kill();
        run.wait(StdDuration::from_secs(10)).text()
    } else {
        stop(run)
    };
    assert!(
        on.is_some() && set.is_some(),
        "the out-of-office block never applied (forwarding on: {}, replies scheduled: {})\nforwarding calls: {:?}\npresently run:\n{first_output}\nGraph saw:\n{}",
        on.is_some(),
        set.is_some(),
        forwarding.calls(),
        s.graph.journal().dump()
    );
    let stopped_at = Utc::now();

    sleep_until(block.end + Duration::milliseconds(500));
    let again = s.home.spawn(&["run"]);
    let started_at = again.started_at;
    // Restored means: forwarding's last call is "off", and the replies are as they were.
    let restored = presently_fidelity::wait_until(StdDuration::from_secs(8), || {
        let calls = forwarding.calls();
        let off = calls
            .last()
            .filter(|(_, a)| a.trim() == "off")
            .map(|(at, _)| *at)?;
        replies_differences(&original, &s.graph.mailbox().automatic_replies())
            .is_empty()
            .then_some(off)
    });
    settle(&s, StdDuration::from_millis(700), StdDuration::from_secs(3));
    let second_output = stop(again);

    let last_patch = s
        .graph
        .journal()
        .calls()
        .iter()
        .rev()
        .find(|c| is_replies_patch(c))
        .map(|c| c.at);
    let after_start = |t: DateTime<Utc>| {
        if t < started_at {
            "before start-up (at the stop)".to_owned()
        } else {
            format!("{} ms after start-up", (t - started_at).num_milliseconds())
        }
    };
    let context = format!(
        "block {}–{}, stopped (SIG{signal}) at {}, started again at {}\nforwarding calls: {:?}\nfirst run:\n{first_output}\nsecond run:\n{second_output}\nGraph saw:\n{}",
        block.start.format("%H:%M:%S"),
        block.end.format("%H:%M:%S"),
        stopped_at.format("%H:%M:%S%.3f"),
        started_at.format("%H:%M:%S%.3f"),
        forwarding.calls(),
        s.graph.journal().dump()
    );
    let Some(off) = restored else {
        let mut problems = Vec::new();
        if forwarding
            .calls()
            .last()
            .is_none_or(|(_, a)| a.trim() != "off")
        {
            problems.push("call forwarding was never switched off".to_owned());
        }
        for d in replies_differences(&original, &s.graph.mailbox().automatic_replies()) {
            problems.push(format!("automatic replies: {d}"));
        }
        panic!(
            "SIG{signal} mid-block, started after the block's end: not restored within 8 s of start-up:\n{}\n{context}",
            problems.join("\n")
        );
    };
    println!(
        "SIG{signal} (TZ={tz}): forwarding off {}; automatic replies restored {}",
        after_start(off),
        last_patch
            .map(after_start)
            .unwrap_or_else(|| "(no PATCH)".into())
    );
    let mut problems = Vec::new();
    for t in [Some(off), last_patch].into_iter().flatten() {
        if t > started_at + Duration::seconds(5) {
            problems.push(format!(
                "restored only {} (promptly means within 5 s)",
                after_start(t)
            ));
        }
    }
    let disabled: Vec<String> = s
        .graph
        .journal()
        .calls()
        .iter()
        .filter(|c| is_replies_patch(c) && status_of(c).eq_ignore_ascii_case("disabled"))
        .map(|c| format!("{} {}", c.line(), c.body))
        .collect();
    if !disabled.is_empty() {
        problems.push(format!(
            "automatic replies were PATCHed to disabled: {disabled:?}"
        ));
    }
    let refused = refusals(&s);
    if !refused.is_empty() {
        problems.push(format!("Graph refused calls as invalid: {refused:?}"));
    }
    assert!(problems.is_empty(), "{}\n{context}", problems.join("\n"));
}

fn sigterm_mid_block_is_made_good_after_the_next_start() {
    stopped_mid_block_then_restarted("TERM", "America/Los_Angeles");
}

fn sigkill_mid_block_is_made_good_after_the_next_start() {
    stopped_mid_block_then_restarted("KILL", "Europe/Berlin");
}

fn out_of_office_on_a_secondary_calendar_switches_nothing() {
    const TEAM: &str = "AAMkAGA-team-calendar=";
    let probe = presently_fidelity::Home::new();
    let forwarding: ForwardingLog = probe.forwarding();
    let mut mailbox = Mailbox::with_primary_marked();
    mailbox.add_calendar(fixtures::calendar_listing(TEAM, "Team calendar"), true);
    let extra = format!(
        "[sync]\ncalendars = [\"{PRIMARY_CALENDAR_ID}\", \"{TEAM}\"]\n\n{}",
        forwarding.config()
    );
    let (s, run, block) = started(mailbox, &extra, "Asia/Tokyo", TEAM, |b| {
        let mut event = out_of_office("AAMkAGA-colleague-away", b);
        event["subject"] = json!("Colleague on leave");
        event
    });
    sleep_until(block.end + Duration::milliseconds(1500));
    let calls = s.graph.journal().calls();
    let output = stop(run);

    let items = s.agenda_json(
        "Asia/Tokyo",
        block.start.date_naive() - Duration::days(1),
        3,
    );
    let item = items.iter().find(|i| i["id"] == "AAMkAGA-colleague-away");
    assert!(
        item.is_some(),
        "the secondary calendar's out-of-office item was not synced, so this scenario proves nothing:\n{}",
        s.graph.journal().dump()
    );
    let mut problems = Vec::new();
    let switched: Vec<String> = calls
        .iter()
        .filter(|c| {
            is_presence_write(c) || c.path.ends_with("/setStatusMessage") || is_replies_patch(c)
        })
        .map(|c| format!("{} {}", c.line(), c.body))
        .collect();
    if !switched.is_empty() {
        problems.push(format!(
            "presence or automatic replies were switched: {switched:?}"
        ));
    }
    if !forwarding.calls().is_empty() {
        problems.push(format!(
            "call forwarding was switched: {:?}",
            forwarding.calls()
        ));
    }
    if let Some(profile) = item.and_then(|i| i["presence"].as_str()) {
        problems.push(format!("the agenda marks it as switching to {profile:?}"));
    }
    assert!(
        problems.is_empty(),
        "an out-of-office item on a secondary calendar (block {}–{}):\n{}\npresently run:\n{output}",
        block.start.format("%H:%M:%S"),
        block.end.format("%H:%M:%S"),
        problems.join("\n")
    );
}

fn main() -> std::process::ExitCode {
    use presently_fidelity::harness::{run_trials, Trial};
    macro_rules! trials {
        ($($f:ident),* $(,)?) => { [$(Trial { name: stringify!($f), run: $f }),*] };
    }
    run_trials(
        "needs a Secret Service: run under scripts/with-keyring.sh",
        &trials![
            automatic_replies_read_as_scheduled_are_restored_exactly,
            automatic_replies_with_a_value_presently_does_not_know_are_restored_verbatim,
            a_manual_presence_change_stands_automation_back_but_forwarding_still_ends_with_the_block,
            a_status_message_the_user_set_mid_block_is_not_overwritten,
            sigterm_mid_block_is_made_good_after_the_next_start,
            sigkill_mid_block_is_made_good_after_the_next_start,
            out_of_office_on_a_secondary_calendar_switches_nothing,
        ],
    )
}
