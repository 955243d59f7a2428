//! The command line without a sign-in: what a user sees before signing in, with a
//! configuration that cannot be read, and when the identity platform cannot be reached.
//! No Secret Service needed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use presently_fidelity::harness::config_toml;
use presently_fidelity::Home;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// stderr as a terminal-less caller sees it: no colour codes, no log lines at INFO.
fn assert_plain_stderr(stderr: &str) {
    assert!(
        !stderr.contains('\u{1b}'),
        "stderr piped to a file carries ANSI escape codes:\n{stderr:?}"
    );
    let info: Vec<&str> = stderr.lines().filter(|l| l.contains(" INFO ")).collect();
    assert!(
        info.is_empty(),
        "stderr carries INFO log lines by default:\n{}",
        info.join("\n")
    );
}

#[test]
fn agenda_before_any_sign_in_says_to_sign_in_and_fails() {
    let home = Home::new();
    let (idp, graph) = (closed_port(), closed_port());
    home.write_config(&config_toml(
        &format!("http://127.0.0.1:{idp}"),
        &format!("http://127.0.0.1:{graph}"),
        "",
    ));
    for args in [&["agenda"][..], &["agenda", "--json"][..]] {
        let out = home.run(args);
        assert!(
            !out.success(),
            "`presently {}` with nobody ever signed in succeeded (an empty agenda looks like a free week):\n{}",
            args.join(" "),
            out.text()
        );
        let text = lower(&out.text());
        assert!(
            text.contains("not signed in"),
            "`presently {}` does not say that nobody is signed in:\n{}",
            args.join(" "),
            out.text()
        );
        assert!(
            text.contains("presently login"),
            "`presently {}` does not name `presently login`:\n{}",
            args.join(" "),
            out.text()
        );
        assert_plain_stderr(&out.stderr);
    }
}

#[test]
fn a_config_flag_naming_a_missing_file_is_an_error() {
    let home = Home::new();
    // The default file (PRESENTLY_CONFIG) exists and is fine; the one asked for does not.
    home.write_config("[agenda]\ndays = 3\n");
    let missing = home.path().join("typo").join("config.toml");
    let mut command = home.command("UTC", &["--config", missing.to_str().unwrap(), "agenda"]);
    command.env_remove("PRESENTLY_CONFIG");
    let out = home.run_command(command);
    assert!(
        !out.success(),
        "--config naming a file that does not exist ran with the defaults instead:\n{}",
        out.text()
    );
    assert!(
        out.text().contains(missing.to_str().unwrap()) || out.text().contains("typo"),
        "the error does not name the missing file {}:\n{}",
        missing.display(),
        out.text()
    );
}

#[test]
fn an_unreachable_identity_platform_is_named_with_host_and_port() {
    let home = Home::new();
    let (idp, graph) = (closed_port(), closed_port());
    home.write_config(&config_toml(
        &format!("http://127.0.0.1:{idp}"),
        &format!("http://127.0.0.1:{graph}"),
        "",
    ));
    let out = home.run(&["login", "--device", "--timeout", "10"]);
    assert!(!out.success(), "{}", out.text());
    let text = lower(&out.text());
    assert!(
        ["cannot connect to", "cannot reach"]
            .iter()
            .any(|say| text.contains(&format!("{say} 127.0.0.1:{idp}"))),
        "the error should say it cannot connect to 127.0.0.1:{idp}:\n{}",
        out.text()
    );
    assert_plain_stderr(&out.stderr);
}
