//! `presently presence take-over forwarding` against a running `presently run` (another
//! process): forwarding switched through a command cannot be read back, so a user who
//! changed it by hand says so, and the daemon leaves it as they set it — no "off" at the
//! end of the block — while the rest is still given back. The request goes through the
//! store; the daemon notices the change within its longest sleep (10 s). Started as a user
//! starts it (no RUST_LOG), the daemon's output is the history it writes, line for line as
//! `presently presence history` shows it.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod run_support;

use chrono::{Duration, DurationRound, Utc};
use run_support::*;

/// Long enough that the daemon must notice the request by itself (not only at the end).
const BLOCK: i64 = 14;

fn run_cli(home: &Home, args: &[&str]) -> String {
    let out = home.presently().args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn forwarding_taken_over_from_the_command_line_is_left_as_the_user_set_it() {
    let _turn = TURN.lock().await;
    let began = std::time::Instant::now();
    let home = Home::new(Provider::Command).await;
    let start = (Utc::now() + Duration::seconds(LEAD))
        .duration_trunc(Duration::seconds(1))
        .unwrap()
        + Duration::seconds(1);
    let block = Block {
        start,
        end: start + Duration::seconds(BLOCK),
    };
    home.add_block("Off site", block);
    // Nothing switched yet: nothing to take over.
    let said = run_cli(&home, &["presence", "take-over", "forwarding"]);
    assert!(said.contains("has not changed forwarding"), "{said}");
    let run = home.spawn_plain_run("daemon");
    let on = wait_until(block.start + Duration::seconds(PROMPTLY), || {
        switched(&home.switches(), true, block.start - Duration::seconds(1))
    })
    .await
    .unwrap_or_else(|()| panic!("forwarding never switched on\n{}", run.output()));

    let said = run_cli(&home, &["presence", "take-over", "forwarding"]);
    let asked = Utc::now();
    assert!(said.contains("leaves forwarding as you set it"), "{said}");
    // The daemon acts on it while the block still holds (it notices the store changed).
    let history = || run_cli(&home, &["presence", "history"]);
    wait_until(block.end - Duration::seconds(1), || {
        run.output()
            .contains("Forwarding changed by you")
            .then_some(())
    })
    .await
    .unwrap_or_else(|()| {
        panic!(
            "the daemon did not take the request before the block's end\n{}\n{}",
            history(),
            run.output()
        )
    });
    let noticed = Utc::now();
    let shown = history();
    assert!(
        shown.contains(&format!(
            "Forwarding changed by you; automation leaves it alone until {}",
            block.end.format("%H:%M")
        )),
        "{shown}"
    );
    let said = run_cli(&home, &["presence", "take-over", "forwarding"]);
    assert!(said.contains("already leaves forwarding to you"), "{said}");

    // The end of the block: presence is given back, forwarding is not touched.
    wait_until(block.end + Duration::seconds(PROMPTLY), || {
        home.presence_calls("clearUserPreferredPresence")
            .into_iter()
            .find(|t| *t >= block.end)
    })
    .await
    .unwrap_or_else(|()| panic!("the presence was not given back\n{}", run.output()));
    sleep_until(Utc::now() + Duration::milliseconds(500)).await;
    let output = run.stop(Stop::Term).await;
    let switches = home.switches();
    assert_eq!(
        switches.iter().filter(|s| !s.1).count(),
        0,
        "forwarding was switched off: {switches:?}\n{output}"
    );
    assert!(switches.iter().all(|s| s.0 <= on), "{switches:?}");
    let shown = history();
    assert!(!shown.contains("Pending"), "{shown}");
    // The daemon's output: each history line as it was written, target and event included.
    let lines: Vec<&str> = shown.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    assert_eq!(
        lines.len(),
        3,
        "applied, changed by you, restored:\n{shown}"
    );
    for (line, event) in lines.iter().zip(["applied", "stood_back", "restored"]) {
        let logged = output
            .lines()
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("{line:?} not in the output:\n{output}"));
        assert!(
            logged.contains(&format!("presently::presence: {line} event={event}")),
            "{logged}"
        );
    }
    println!(
        "taken over {} ms after the request; {:.1} s in all",
        ms(noticed - asked),
        began.elapsed().as_secs_f64()
    );
}
