//! Issue 16 end to end: `presently run` as a child process against the emulator, over real
//! HTTP and TCP, for each of the four call-forwarding providers (Webex Calling and Asterisk
//! AMI against the emulator's fakes, an HTTP request to its sink, a command). The rule:
//! whatever Presently changed for an appointment is the user's own again when the
//! appointment ends, and nothing the user changed by hand is overwritten.
//!
//! One `presently run` per provider meets two out-of-office blocks (Teams presence "Away",
//! forwarding to voicemail, scheduled automatic replies):
//! - block A, bug 1: mid-block the user picks "Available" in Teams. Presence stays as they
//!   set it (no clear at the end) and forwarding is still switched back at the block's end.
//! - block B, bug 2: `presently run` is stopped mid-block (SIGTERM, or SIGKILL) and started
//!   again after the block's end: forwarding is switched back and the automatic replies are
//!   as they were before, within a few seconds of the start.
//!
//! The sign-in (and the providers' secrets) live in a real Secret Service, one entry shared
//! by every test of this file (the emulator rotates refresh tokens), so the tests take turns.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod run_support;

use chrono::{Duration, DurationRound, Utc};
use run_support::*;

/// Bug 1 and bug 2 through `provider`; `stop` is how the run is stopped in block B.
async fn restores_through(provider: Provider, stop: Stop) {
    let _turn = TURN.lock().await;
    let began = std::time::Instant::now();
    let home = Home::new(provider).await;
    let replies_before = home.replies();
    let start = (Utc::now() + Duration::seconds(LEAD))
        .duration_trunc(Duration::seconds(1))
        .unwrap()
        + Duration::seconds(1);
    let a = Block {
        start,
        end: start + Duration::seconds(LENGTH),
    };
    let b = Block {
        start: a.end + Duration::seconds(GAP),
        end: a.end + Duration::seconds(GAP + LENGTH),
    };
    home.add_block("Off site A", a);
    home.add_block("Off site B", b);
    let run = home.spawn_run("first");
    let context = |what: &str, run: &str| {
        format!(
            "{provider:?}: {what}\nblock A {}–{}, block B {}–{}\nforwarding switches: {:?}\npresently run:\n{run}",
            a.start.format("%H:%M:%S"),
            a.end.format("%H:%M:%S"),
            b.start.format("%H:%M:%S"),
            b.end.format("%H:%M:%S"),
            home.switches()
        )
    };

    // ---- bug 1: a change of presence by hand mid-block --------------------------------
    let on = wait_until(a.start + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), true, a.start - Duration::seconds(1))
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block A never switched forwarding on", &run.output())
        )
    });
    assert!(
        on >= a.start,
        "{}",
        context("forwarding on before block A", &run.output())
    );
    wait_until(a.start + Duration::seconds(PROMPTLY), || {
        (home.presence_calls("setUserPreferredPresence").len() == 1).then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block A never set the presence", &run.output())
        )
    });
    // The user picks "Available" in Teams.
    let by_hand = Utc::now();
    home.emu
        .control()
        .set_user_presence("Available", "Available");
    let off = wait_until(a.end + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), false, on)
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context(
                "bug 1: forwarding was not switched back at the end of block A",
                &run.output()
            )
        )
    });
    assert!(
        off >= a.end,
        "{}",
        context(
            "forwarding switched back before block A ended",
            &run.output()
        )
    );
    assert!(
        !home.forwarding_on(),
        "{}",
        context("forwarding still on", &run.output())
    );
    // The presence is the user's: nothing cleared it, nothing set it again.
    let cleared = home.presence_calls("clearUserPreferredPresence");
    assert!(
        cleared.iter().all(|t| *t < by_hand),
        "{}",
        context("the presence picked by hand was cleared", &run.output())
    );
    assert_eq!(
        home.emu.control().presence()["availability"],
        "Available",
        "{}",
        context("presence", &run.output())
    );
    wait_until(a.end + Duration::seconds(PROMPTLY), || {
        (home.replies() == replies_before).then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}\nreplies before {replies_before}\nnow {}",
            context("automatic replies not back after block A", &run.output()),
            home.replies()
        )
    });
    let bug1 = format!(
        "bug 1: forwarding on {} ms after A's start, back off {} ms after its end",
        ms(on - a.start),
        ms(off - a.end)
    );

    // ---- bug 2: stopped mid-block, started after its end -------------------------------
    let on = wait_until(b.start + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), true, b.start - Duration::seconds(1))
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block B never switched forwarding on", &run.output())
        )
    });
    wait_until(b.start + Duration::seconds(PROMPTLY), || {
        (home.replies()["status"] == "scheduled").then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "{}",
            context("block B never scheduled the replies", &run.output())
        )
    });
    let first = run.stop(stop).await;
    let stopped = Utc::now();
    assert!(
        stopped < b.end,
        "{}",
        context(
            "stopped only after block B ended: too slow a machine",
            &first
        )
    );
    sleep_until(b.end + Duration::milliseconds(300)).await;
    // Nobody gave anything back meanwhile.
    assert!(
        home.forwarding_on(),
        "{}",
        context("forwarding off while stopped", &first)
    );
    assert_eq!(home.replies()["status"], "scheduled");

    let again = home.spawn_run("second");
    let restarted = again.started;
    let restored = wait_until(again.started + Duration::seconds(PROMPTLY), || {
        let off = switched(&home.switches(), false, on)?;
        (home.replies() == replies_before).then_some(off)
    })
    .await;
    let second = again.stop(Stop::Term).await;
    let off = restored.unwrap_or_else(|()| {
        panic!(
            "{}\nsecond run:\n{second}\nreplies before {replies_before}\nnow {}",
            context(
                &format!(
                    "bug 2: not given back within {PROMPTLY} s of the start after {stop:?} mid-block"
                ),
                &first
            ),
            home.replies()
        )
    });
    assert!(
        off >= restarted,
        "{}",
        context("forwarding switched back before the second start", &first)
    );
    assert!(
        !home.forwarding_on(),
        "{}",
        context("forwarding still on", &second)
    );

    // The history says what happened: both blocks applied and given back (B by the second
    // run), the presence left to the user.
    let out = home
        .presently()
        .args(["presence", "history"])
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "Out of office (Off site A)",
        "Presence changed by you",
        "Out of office (Off site B)",
    ] {
        assert!(history.contains(line), "{provider:?}: {line}\n{history}");
    }
    assert_eq!(
        history.matches("restored").count(),
        2,
        "{provider:?}\n{history}"
    );
    assert!(!history.contains("Pending"), "{provider:?}\n{history}");
    println!(
        "{provider:?}: {bug1}; bug 2 ({stop:?}): forwarding back off {} ms after the start; {:.1} s in all",
        ms(off - restarted),
        began.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn webex_forwarding_is_given_back_after_a_change_by_hand_and_after_a_stop() {
    restores_through(Provider::Webex, Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn ami_forwarding_is_given_back_after_a_change_by_hand_and_after_a_kill() {
    restores_through(Provider::Ami, Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn http_forwarding_is_given_back_after_a_change_by_hand_and_after_a_stop() {
    restores_through(Provider::Http, Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn command_forwarding_is_given_back_after_a_change_by_hand_and_after_a_kill() {
    restores_through(Provider::Command, Stop::Kill).await;
}
