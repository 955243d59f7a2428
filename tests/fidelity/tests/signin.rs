//! Signing in as the identity platform documents it: the authorization code flow with
//! PKCE, `state` and a loopback redirect; the device authorization grant, polling through
//! `authorization_pending` no faster than `interval`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use presently_fidelity::harness::{config_toml, session};
use presently_fidelity::{Graph, Home, Mailbox};
use std::time::{Duration, Instant};

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn browser_sign_in_uses_pkce_and_state_and_lands_on_the_loopback_listener() {
    let session = session();
    let graph = Graph::start(&session.identity, Mailbox::with_primary_marked());
    let home = Home::new();
    home.write_config(&config_toml(&session.identity.url(), &graph.url(), ""));
    let before = session.identity.authorizations().len();

    let out = home.run(&["login", "--timeout", "30"]);
    assert!(out.success(), "presently login failed:\n{}", out.text());
    assert!(
        out.text().contains("AdeleV@contoso.com"),
        "login names the account of user-get.md's example:\n{}",
        out.text()
    );
    let seen = session.identity.authorizations();
    let mine = seen.get(before..).unwrap_or_default();
    assert_eq!(mine.len(), 1, "one authorize request: {mine:?}");
    let a = &mine[0];
    assert_eq!(a.code_challenge_method.as_deref(), Some("S256"), "{a:?}");
    assert!(
        a.pkce_verified,
        "the code was redeemed with the PKCE verifier: {a:?}"
    );
    assert!(
        a.state.as_deref().is_some_and(|s| s.len() >= 16),
        "a random state goes with the request: {a:?}"
    );
    assert!(
        a.redirect_uri.starts_with("http://localhost:")
            || a.redirect_uri.starts_with("http://127.0.0.1:"),
        "a loopback redirect URI: {a:?}"
    );
    for scope in [
        "openid",
        "offline_access",
        "User.Read",
        "Calendars.ReadWrite",
    ] {
        assert!(
            a.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope)),
            "asks for {scope}: {a:?}"
        );
    }

    let out = home.run(&["whoami"]);
    assert!(out.success(), "{}", out.text());
    assert!(out.stdout.contains("AdeleV@contoso.com"), "{}", out.text());
}

#[test]
#[ignore = "needs a Secret Service: run under scripts/with-keyring.sh"]
fn device_code_sign_in_polls_until_the_user_approves() {
    let session = session();
    let identity = &session.identity;
    let graph = Graph::start(identity, Mailbox::with_primary_marked());
    let home = Home::new();
    home.write_config(&config_toml(&identity.url(), &graph.url(), ""));
    let polls_before = identity.device_polls().len();

    let login = home.spawn(&["login", "--device", "--timeout", "60"]);
    // The user is slow: two polls are answered authorization_pending before they approve.
    let pending = presently_fidelity::wait_until(Duration::from_secs(15), || {
        let polls = identity.device_polls();
        let pending = polls[polls_before..]
            .iter()
            .filter(|(_, e)| e == "authorization_pending")
            .count();
        (pending >= 2).then_some(pending)
    });
    assert!(
        pending.is_some(),
        "presently polled the token endpoint fewer than twice in 15 s:\n{}\nidentity platform saw:\n{}",
        login.output_so_far(),
        identity.journal().dump()
    );
    let approved_at = Instant::now();
    identity.approve_device_codes();
    let out = login.wait(Duration::from_secs(20));
    assert!(
        out.success(),
        "presently login --device failed:\n{}",
        out.text()
    );
    assert!(out.text().contains("AdeleV@contoso.com"), "{}", out.text());
    assert!(
        out.stderr.contains("https://microsoft.com/devicelogin"),
        "the verification URI is shown:\n{}",
        out.text()
    );

    let polls: Vec<_> = identity.device_polls()[polls_before..].to_vec();
    let interval = identity.device_interval();
    for pair in polls.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap + Duration::from_millis(20) >= interval,
            "polled again after {gap:?}, sooner than the interval {interval:?}: {polls:?}"
        );
    }
    let issued = polls
        .iter()
        .find(|(_, e)| e == "issued")
        .expect("a poll got the tokens");
    assert!(
        issued.0 >= approved_at && issued.0 - approved_at <= interval + Duration::from_secs(2),
        "the tokens came {:?} after approval (interval {interval:?})",
        issued.0.saturating_duration_since(approved_at)
    );
}
