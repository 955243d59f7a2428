//! The organization policy: the documented example, group matching, precedence, locked
//! keys, what the app saves for the user, and invalid policies.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_engine::config::{Config, Language};
use presently_engine::policy::{
    self, check_locked, is_locked, resolve, resolve_file, user_table_for, GroupMatch, OrgPolicy,
    SyncMethod,
};
use presently_engine::presence::forwarding::ProviderKind;
use presently_engine::{Error, ErrorCode};
use std::path::{Path, PathBuf};
use toml::Table;

const COMMERCIAL_ID: &str = "8d3c5a4e-1f2b-4c6d-9e8f-0a1b2c3d4e5f";
const GOV_ID: &str = "2b7e9c1d-3a4f-4e5b-8c6d-7f8091a2b3c4";

/// The ```toml block of the "Deploying the policy file" section of docs/admin.md.
fn documented_example() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/admin.md"))
            .unwrap();
    let section = doc
        .split_once("Deploying the policy file")
        .expect("docs/admin.md has a section \"Deploying the policy file\"")
        .1;
    let block = section
        .split_once("```toml\n")
        .expect("the section has a ```toml block")
        .1;
    block.split_once("\n```").unwrap().0.to_owned() + "\n"
}

fn example() -> OrgPolicy {
    OrgPolicy::parse(Path::new("admin.md"), &documented_example()).unwrap()
}

fn table(text: &str) -> Table {
    toml::from_str(text).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_documented_example_parses_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.toml", &documented_example());
    let load = policy::load(&path);
    assert!(load.error.is_none(), "{:?}", load.error);
    assert_eq!(load.path, path);
    let p = load.policy.unwrap();
    assert_eq!(p.applications.len(), 2);
    assert_eq!(p.groups.len(), 4);

    // By domain: the commercial application, the group's settings, locked keys.
    let staff = resolve(Some(&p), &Table::new(), Some("alex@Contoso.com")).unwrap();
    assert_eq!(staff.group.as_deref(), Some("Contoso staff"));
    assert_eq!(staff.sync_method, SyncMethod::Microsoft365);
    let app = staff.application.as_ref().unwrap();
    assert_eq!(app.display_name, "Presently for Contoso");
    assert_eq!(
        staff.config.microsoft.client_id.as_deref(),
        Some(COMMERCIAL_ID)
    );
    assert_eq!(staff.config.microsoft.tenant, "contoso.onmicrosoft.com");
    assert_eq!(
        staff.config.microsoft.graph_endpoint,
        "https://graph.microsoft.com"
    );
    assert_eq!(staff.config.sync.interval_secs, 300);
    assert_eq!(staff.config.sync.window_days_ahead, 90);
    assert!(staff.config.features.presence);
    assert!(staff.config.features.calendar_sync);
    assert_eq!(staff.config.presence.rules.len(), 2);
    assert_eq!(staff.config.presence.profiles[0].name, "Customer call");
    assert_eq!(
        staff.config.presence.forwarding.provider,
        ProviderKind::Http
    );
    for key in [
        "sync.interval_secs",
        "presence.rules",
        "presence.forwarding.provider",
        "presence.forwarding.http.on.url",
        "microsoft.client_id",
        "microsoft.outlook_web_host",
    ] {
        assert!(staff.is_locked(key), "{key}");
    }
    assert!(!staff.is_locked("presence.forwarding.http.extension"));
    assert!(!staff.is_locked("sync.window_days_ahead"));
    assert!(!staff.is_locked("features.calendar_sync"));

    // The user completes what is theirs.
    let alex = resolve(
        Some(&p),
        &table("[presence.forwarding.http]\nextension = \"4711\"\n"),
        Some("alex@contoso.de"),
    )
    .unwrap();
    let http = alex.config.presence.forwarding.http.as_ref().unwrap();
    assert_eq!(http.extension, "4711");
    assert_eq!(http.on.method, "PUT");

    // By explicit list, beating the domain: sync disabled.
    let board = resolve(Some(&p), &Table::new(), Some("CEO@contoso.com")).unwrap();
    assert_eq!(board.group.as_deref(), Some("Board"));
    assert_eq!(board.sync_method, SyncMethod::Disabled);
    assert!(!board.config.features.calendar_sync);
    assert!(board.is_locked("features.calendar_sync"));
    assert_eq!(board.application, None);
    assert_eq!(board.config.microsoft.client_id, None);

    // The national cloud application.
    let fed = resolve(Some(&p), &Table::new(), Some("sam@contosofederal.us")).unwrap();
    assert_eq!(fed.group.as_deref(), Some("Contoso Federal"));
    let m = &fed.config.microsoft;
    assert_eq!(m.client_id.as_deref(), Some(GOV_ID));
    assert_eq!(m.authority_host, "https://login.microsoftonline.us");
    assert_eq!(m.graph_endpoint, "https://graph.microsoft.us");
    assert_eq!(m.outlook_web_host, "outlook.office365.us");
    assert_eq!(fed.config.agenda.days, 5);
    assert_eq!(
        fed.config.agenda.timezone.as_deref(),
        Some("America/New_York")
    );

    // Everyone else, and everyone before sign-in.
    for upn in [Some("pat@fabrikam.com"), None] {
        let other = resolve(Some(&p), &Table::new(), upn).unwrap();
        assert_eq!(other.group.as_deref(), Some("Everyone else"));
        assert_eq!(
            other.config.microsoft.client_id.as_deref(),
            Some(COMMERCIAL_ID)
        );
        assert_eq!(other.config.sync.interval_secs, 60);
    }
}

#[test]
fn groups_match_by_list_then_domain_then_default() {
    let p = example();
    let found = |upn: Option<&str>| {
        p.find_group(upn)
            .map(|(g, how)| (g.name.clone(), how))
            .unwrap()
    };
    assert_eq!(
        found(Some("ALEX@CONTOSO.COM")),
        ("Contoso staff".into(), GroupMatch::Domain)
    );
    assert_eq!(
        found(Some(" cfo@Contoso.COM ")),
        ("Board".into(), GroupMatch::User)
    );
    assert_eq!(
        found(Some("alex@sub.contoso.com")),
        ("Everyone else".into(), GroupMatch::Default)
    );
    assert_eq!(found(None), ("Everyone else".into(), GroupMatch::Default));

    // Without a default group, a user no group names gets no group.
    let no_default = OrgPolicy::parse(
        Path::new("p.toml"),
        "[[groups]]\nname = \"Staff\"\ndomains = [\"contoso.com\"]\n[groups.settings.agenda]\ndays = 3\n",
    )
    .unwrap();
    let l = resolve(Some(&no_default), &Table::new(), Some("x@fabrikam.com")).unwrap();
    assert_eq!(l.group, None);
    assert_eq!(l.config, Config::default());
    let l = resolve(Some(&no_default), &Table::new(), Some("x@contoso.com")).unwrap();
    assert_eq!(l.config.agenda.days, 3);
}

#[test]
fn precedence_is_defaults_group_user_locked() {
    let p = OrgPolicy::parse(
        Path::new("p.toml"),
        r#"
[[groups]]
name = "All"
default = true
locked = ["sync.interval_secs", "presence.forwarding"]

[groups.settings.sync]
interval_secs = 300
window_days_ahead = 90

[groups.settings.agenda]
days = 5

[groups.settings.presence.forwarding]
timeout_secs = 20
"#,
    )
    .unwrap();
    let user = table(
        r#"
[sync]
interval_secs = 30          # locked: ignored
window_days_back = 10       # not in the group: the user's

[agenda]
days = 3                    # over the group's 5

[presence.forwarding]
timeout_secs = 5            # under a locked table: ignored

[app]
language = "de"
"#,
    );
    let l = resolve(Some(&p), &user, Some("a@b.example")).unwrap();
    assert_eq!(l.config.sync.interval_secs, 300);
    assert_eq!(l.config.sync.window_days_ahead, 90);
    assert_eq!(l.config.sync.window_days_back, 10);
    assert_eq!(l.config.agenda.days, 3);
    assert_eq!(l.config.presence.forwarding.timeout_secs, 20);
    assert_eq!(l.config.app.language, Language::De);
    // Defaults the user's file does not mention never hide the group's values.
    assert_eq!(l.config.sync.page_size, Config::default().sync.page_size);
    assert_eq!(l.base().agenda.days, 5);
    assert_eq!(l.base().sync.window_days_back, 30);

    // A user's value that does not validate names the key.
    let err = resolve(Some(&p), &table("[agenda]\ndays = 40\n"), None).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSettings { key, .. } if key == "agenda.days"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidSettings);

    // ... and from a file, also its line.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "config.toml",
        "[sync]\nwindow_days_back = 10\n\n[agenda]\ndays = 40\n",
    );
    match resolve_file(Some(&p), &path, None).unwrap_err() {
        Error::ConfigInvalid {
            path: p, line, key, ..
        } => {
            assert_eq!(p, path);
            assert_eq!((line, key.as_str()), (5, "agenda.days"));
        }
        other => panic!("{other:?}"),
    }
    let path = write(dir.path(), "config.toml", "[agenda]\ndays = \"three\"\n");
    let err = resolve_file(Some(&p), &path, None).unwrap_err();
    assert!(
        matches!(&err, Error::ConfigInvalid { line: 2, key, .. } if key == "agenda.days"),
        "{err:?}"
    );
    let missing = dir.path().join("none.toml");
    assert_eq!(
        resolve_file(Some(&p), &missing, None)
            .unwrap()
            .config
            .agenda
            .days,
        5
    );
}

/// Issue 22: an organization turns the global shortcut "join the next meeting" off by
/// locking `app.join_shortcut` to "": the user's own combination is ignored, and a save
/// that changes it is refused.
#[test]
fn a_policy_turns_the_join_shortcut_off_by_locking_it_empty() {
    let p = OrgPolicy::parse(
        Path::new("p.toml"),
        r#"
[[groups]]
name = "All"
default = true
locked = ["app.join_shortcut"]

[groups.settings.app]
join_shortcut = ""
"#,
    )
    .unwrap();
    let user = table("[app]\njoin_shortcut = \"Ctrl+Shift+K\"\n");
    let l = resolve(Some(&p), &user, None).unwrap();
    assert_eq!(l.config.app.join_shortcut, "");
    assert!(l.is_locked("app.join_shortcut"));
    let mut edited = l.config.clone();
    edited.app.join_shortcut = "Ctrl+Alt+J".into();
    assert!(check_locked(&edited, &l).is_err());
    // Without a policy the default holds, and the user's own combination is theirs.
    assert_eq!(
        resolve(None, &table(""), None)
            .unwrap()
            .config
            .app
            .join_shortcut,
        "Ctrl+Alt+J"
    );
    assert_eq!(
        resolve(None, &user, None).unwrap().config.app.join_shortcut,
        "Ctrl+Shift+K"
    );
}

/// Issue 22, "Meeting ended early": `presence.restore_when_call_ends` is `ask` by default,
/// the user may pick `auto` or `off`, and an organization may lock it.
#[test]
fn a_policy_may_lock_what_happens_when_a_meetings_call_ends_early() {
    use presently_engine::presence::CallEndedRestore;
    let defaults = resolve(None, &table(""), None).unwrap();
    assert_eq!(
        defaults.config.presence.restore_when_call_ends,
        CallEndedRestore::Ask
    );
    let user = table("[presence]\nrestore_when_call_ends = \"auto\"\n");
    assert_eq!(
        resolve(None, &user, None)
            .unwrap()
            .config
            .presence
            .restore_when_call_ends,
        CallEndedRestore::Auto
    );
    assert!(resolve(
        None,
        &table("[presence]\nrestore_when_call_ends = \"sometimes\"\n"),
        None
    )
    .is_err());
    let p = OrgPolicy::parse(
        Path::new("p.toml"),
        r#"
[[groups]]
name = "All"
default = true
locked = ["presence.restore_when_call_ends"]

[groups.settings.presence]
restore_when_call_ends = "off"
"#,
    )
    .unwrap();
    let l = resolve(Some(&p), &user, None).unwrap();
    assert_eq!(
        l.config.presence.restore_when_call_ends,
        CallEndedRestore::Off
    );
    assert!(l.is_locked("presence.restore_when_call_ends"));
    let mut edited = l.config.clone();
    edited.presence.restore_when_call_ends = CallEndedRestore::Auto;
    assert!(check_locked(&edited, &l).is_err());
}

#[test]
fn a_users_rule_may_name_a_profile_the_group_defines() {
    let p = OrgPolicy::parse(
        Path::new("p.toml"),
        r#"
[[groups]]
name = "All"
default = true
[[groups.settings.presence.profiles]]
name = "Customer call"
status_message = "With a customer"
"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "config.toml",
        "[[presence.rules]]\ncategory = \"Customer\"\nprofile = \"Customer call\"\n",
    );
    let user = Config::read_user_table(&path).unwrap();
    let l = resolve(Some(&p), &user, None).unwrap();
    assert_eq!(l.config.presence.rules.len(), 1);
    assert_eq!(l.config.presence.profiles.len(), 1);
    // Without the policy the same file does not work, and says which key.
    assert!(matches!(
        resolve(None, &user, None),
        Err(Error::InvalidSettings { key, .. }) if key == "presence.rules.profile"
    ));
}

#[test]
fn an_application_sets_and_locks_the_microsoft_keys() {
    let p = example();
    let user = table(
        "[microsoft]\nclient_id = \"00000000-0000-0000-0000-000000000000\"\ntenant = \"common\"\n",
    );
    let l = resolve(Some(&p), &user, Some("sam@contosofederal.us")).unwrap();
    assert_eq!(
        l.config.microsoft,
        l.application.as_ref().unwrap().microsoft_config()
    );
    assert_eq!(
        l.config.microsoft.tenant,
        "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    );
    for key in policy::APPLICATION_KEYS {
        assert!(l.locked.contains(key), "{key}");
    }

    // Without an application the user's own registration stands.
    let open = OrgPolicy::parse(
        Path::new("p.toml"),
        "[[groups]]\nname = \"All\"\ndefault = true\n",
    )
    .unwrap();
    let l = resolve(Some(&open), &user, None).unwrap();
    assert_eq!(l.config.microsoft.tenant, "common");
    assert!(!l.is_locked("microsoft.client_id"));
}

#[test]
fn sync_disabled_turns_calendar_sync_off_for_good() {
    let p = example();
    let l = resolve(
        Some(&p),
        &table("[features]\ncalendar_sync = true\n"),
        Some("cfo@contoso.com"),
    )
    .unwrap();
    assert_eq!(l.sync_method, SyncMethod::Disabled);
    assert!(l.allow_microsoft365);
    assert!(!l.config.features.calendar_sync);
    let mut edited = l.config.clone();
    edited.features.calendar_sync = true;
    assert!(matches!(
        check_locked(&edited, &l),
        Err(Error::SettingLocked { key }) if key == "features.calendar_sync"
    ));
}

#[test]
fn saving_writes_only_the_users_changes_and_resolves_back() {
    let p = example();
    let upn = Some("alex@contoso.com");
    let l = resolve(Some(&p), &Table::new(), upn).unwrap();

    // Unchanged: nothing to save.
    assert!(user_table_for(&l.config, l.base(), &l.locked).is_empty());

    let mut edited = l.config.clone();
    edited.sync.window_days_ahead = 30;
    edited.agenda.days = 3;
    edited.reminders.enabled = false;
    edited.app.start_at_login = true;
    edited.presence.forwarding.http.as_mut().unwrap().extension = "4711".into();
    edited.presence.profiles[0].status_message = Some("Busy with a customer".into());
    check_locked(&edited, &l).unwrap();
    let t = user_table_for(&edited, l.base(), &l.locked);
    assert_eq!(
        t.keys().cloned().collect::<Vec<_>>(),
        ["agenda", "app", "presence", "reminders", "sync"]
    );
    assert_eq!(t["sync"].as_table().unwrap().len(), 1, "{t}");
    assert!(t["presence"].get("rules").is_none(), "locked: {t}");
    let forwarding = t["presence"]["forwarding"].as_table().unwrap();
    assert_eq!(
        forwarding.keys().collect::<Vec<_>>(),
        ["http"],
        "only the extension: {t}"
    );
    assert_eq!(forwarding["http"].as_table().unwrap().len(), 1);
    assert!(t.get("microsoft").is_none());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    Config::save_user_table(&path, &t).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.toml"], "no temporary file left behind");
    let read = Config::read_user_table(&path).unwrap();
    assert_eq!(read, t);
    let again = resolve(Some(&p), &read, upn).unwrap();
    assert_eq!(again.config, edited);
    assert_eq!(resolve_file(Some(&p), &path, upn).unwrap().config, edited);

    // The same through the helper, and a locked change refused.
    assert_eq!(l.user_table(&edited).unwrap(), t);
    edited.sync.interval_secs = 60;
    let err = check_locked(&edited, &l).unwrap_err();
    assert!(matches!(&err, Error::SettingLocked { key } if key == "sync.interval_secs"));
    assert_eq!(err.code(), ErrorCode::SettingLocked);
    edited.sync.interval_secs = 300;
    edited.presence.rules.pop();
    assert!(matches!(
        check_locked(&edited, &l),
        Err(Error::SettingLocked { key }) if key == "presence.rules"
    ));
}

#[test]
fn a_zone_the_group_set_can_be_changed_back_to_the_systems() {
    let p = example();
    let upn = Some("sam@contosofederal.us");
    let l = resolve(Some(&p), &Table::new(), upn).unwrap();
    let mut edited = l.config.clone();
    edited.agenda.timezone = None;
    let t = user_table_for(&edited, l.base(), &l.locked);
    assert_eq!(t, table("[agenda]\ntimezone = \"system\"\n"));
    assert_eq!(resolve(Some(&p), &t, upn).unwrap().config, edited);
}

#[test]
fn is_locked_covers_tables() {
    let locked = [
        "presence.forwarding".to_owned(),
        "sync.interval_secs".to_owned(),
    ]
    .into();
    assert!(is_locked(&locked, "presence.forwarding.http.on.url"));
    assert!(is_locked(&locked, "sync.interval_secs"));
    assert!(!is_locked(&locked, "sync"));
    assert!(!is_locked(&locked, "sync.interval"));
}

#[test]
fn an_invalid_policy_names_file_line_and_key_and_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let text = documented_example().replace(
        "client_id = \"2b7e9c1d-3a4f-4e5b-8c6d-7f8091a2b3c4\"",
        "client_id = \"contoso-federal\"",
    );
    let line = text
        .lines()
        .position(|l| l.contains("contoso-federal\""))
        .unwrap()
        + 1;
    let path = write(dir.path(), "policy.toml", &text);
    let load = policy::load(&path);
    assert!(load.policy.is_none());
    let err = load.error.unwrap();
    assert_eq!(err.code(), ErrorCode::PolicyInvalid);
    match &err {
        Error::PolicyInvalid {
            path: p,
            line: l,
            key,
            reason,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*l, line);
            assert_eq!(key, "applications[1].client_id");
            assert!(reason.contains("GUID"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("policy.toml"), "{message}");
    assert!(message.contains(&format!("line {line}")), "{message}");

    // The caller runs on the built-in defaults.
    let l = resolve(
        load.policy.as_ref(),
        &Table::new(),
        Some("alex@contoso.com"),
    )
    .unwrap();
    assert_eq!(l.config, Config::default());
    assert!(l.locked.is_empty());

    // A wrong type, a misspelt key, and group settings that do not validate.
    for (bad, want_key) in [
        ("[[groups]]\nname = \"A\"\ndefault = \"yes\"\n", "groups[0].default"),
        (
            "[[groups]]\nname = \"A\"\ndefault = true\nlocked = [\"sync.intervall\"]\n",
            "groups[0].locked",
        ),
        (
            "[[groups]]\nname = \"A\"\ndefault = true\n[groups.settings.presence.forwarding]\nprovider = \"webex\"\n",
            "groups[0].settings.presence.forwarding.provider",
        ),
    ] {
        let path = write(dir.path(), "bad.toml", bad);
        match policy::load(&path).error {
            Some(Error::PolicyInvalid { key, line, .. }) => {
                assert_eq!(key, want_key, "{bad}");
                assert!(line > 1, "{bad}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_missing_policy_is_no_policy_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let load = policy::load(&dir.path().join("policy.toml"));
    assert!(load.policy.is_none());
    assert!(load.error.is_none());
    // An empty file is a policy with nothing in it.
    let path = write(dir.path(), "empty.toml", "");
    let load = policy::load(&path);
    assert_eq!(load.policy, Some(OrgPolicy::default()));
}

#[test]
fn the_policy_path_is_the_platforms_unless_overridden() {
    let path = policy::policy_path();
    match std::env::var_os(policy::POLICY_ENV).filter(|v| !v.is_empty()) {
        Some(over) => assert_eq!(path, PathBuf::from(over)),
        None => {
            assert!(path.ends_with("policy.toml"));
            #[cfg(target_os = "linux")]
            assert_eq!(path, PathBuf::from("/etc/presently/policy.toml"));
        }
    }
}

#[test]
fn a_crash_before_the_rename_leaves_the_old_file_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    Config::save_user_table(&path, &table("[agenda]\ndays = 3\n")).unwrap();
    // What a save killed between writing its temporary file and renaming it leaves.
    std::fs::write(
        dir.path().join(".config.toml.999-0.tmp"),
        "[agenda]\ndays = 5\n",
    )
    .unwrap();
    assert_eq!(
        Config::read_user_table(&path).unwrap(),
        table("[agenda]\ndays = 3\n")
    );
    // Saving again replaces the file; the stray file does not disturb it.
    Config::save_user_table(&path, &table("[agenda]\ndays = 4\n")).unwrap();
    assert_eq!(
        Config::read_user_table(&path).unwrap(),
        table("[agenda]\ndays = 4\n")
    );
}

/// A group's calendar subscriptions, locked: its members get them whatever their own file
/// says (a user's `[[subscriptions]]` does not replace the organization's list).
#[test]
fn a_group_provides_locked_calendar_subscriptions() {
    let p = OrgPolicy::parse(
        Path::new("p.toml"),
        r##"
[[groups]]
name = "Support"
default = true
locked = ["subscriptions"]

[[groups.settings.subscriptions]]
name = "On-call rota"
url = "https://rota.contoso.com/support.ics"
color = "#aa3300"
"##,
    )
    .unwrap();
    let user = table(
        r#"
[[subscriptions]]
name = "My own"
url = "https://example.com/mine.ics"
"#,
    );
    let l = resolve(Some(&p), &user, Some("kim@contoso.com")).unwrap();
    let names: Vec<&str> = l
        .config
        .subscriptions
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["On-call rota"]);
    assert!(l.is_locked("subscriptions"));
    // Unlocked, the user's list is theirs.
    let open = OrgPolicy::parse(
        Path::new("p.toml"),
        "[[groups]]\nname = \"All\"\ndefault = true\n\n[[groups.settings.subscriptions]]\nname = \"Holidays\"\nurl = \"https://example.com/h.ics\"\n",
    )
    .unwrap();
    let l = resolve(Some(&open), &user, None).unwrap();
    let names: Vec<&str> = l
        .config
        .subscriptions
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["My own"]);
}
