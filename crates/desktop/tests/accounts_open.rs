//! How the shells open, add and remove named accounts (issue 22, item 4): "Add account"
//! starts from the default account's settings and refuses a bad or taken name; a named
//! account runs on its own settings under the policy group of the user signed in to it;
//! Remove deletes its files. (Its own test binary: it sets `PRESENTLY_POLICY`.)
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use presently_desktop::accounts::{self, AccountError};
use presently_engine::model::Account;
use presently_engine::paths::Paths;
use presently_engine::store::Store;
use presently_engine::SystemClock;
use std::sync::Arc;

#[test]
fn add_open_and_remove_named_accounts_each_on_its_settings_and_policy_group() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        "[[groups]]\nname = \"Fabrikam guests\"\ndomains = [\"fabrikam.com\"]\nlocked = [\"agenda.days\"]\n[groups.settings.agenda]\ndays = 3\n",
    )
    .unwrap();
    // SAFETY of the test: this binary has this one test, so no other thread reads the
    // environment while it is set.
    std::env::set_var("PRESENTLY_POLICY", &policy);
    let base = Paths::under(d);
    std::fs::write(&base.config_file, "[agenda]\ndays = 9\n").unwrap();
    let clock = || Arc::new(SystemClock);

    // Bad and taken names are refused before anything is created.
    assert!(matches!(
        accounts::add(&base, "Customer A", clock()),
        Err(AccountError::Name(_))
    ));
    assert!(matches!(
        accounts::add(&base, "default", clock()),
        Err(AccountError::Exists(_))
    ));
    assert!(base.named_accounts().is_empty());

    // A new account starts from a copy of the default account's settings.
    let customer = accounts::add(&base, "customer", clock()).unwrap();
    let paths = base.account("customer").unwrap();
    assert!(paths.config_file.exists());
    assert_eq!(customer.engine.config().agenda.days, 9);
    assert_eq!(customer.engine.paths().data_dir, paths.data_dir);
    assert!(matches!(
        accounts::add(&base, "customer", clock()),
        Err(AccountError::Exists(_))
    ));
    drop(customer);

    // Signed in as a Fabrikam user (its store holds the UPN), it is opened under that
    // group's settings; the default account is not.
    Store::open(&paths.store_file())
        .unwrap()
        .set_account(&Account {
            id: "customer-oid".into(),
            tenant_id: None,
            upn: "alex@fabrikam.com".into(),
            display_name: None,
        })
        .unwrap();
    let opened = accounts::open_all_named(&base, clock());
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].name, "customer");
    assert_eq!(opened[0].engine.config().agenda.days, 3);
    drop(opened);

    // Remove deletes its files; the default account cannot be removed.
    assert!(accounts::remove(&base, "default").is_err());
    accounts::remove(&base, "customer").unwrap();
    assert!(!paths.data_dir.exists());
    assert!(base.named_accounts().is_empty());
    assert!(
        base.config_file.exists(),
        "the default account's settings stay"
    );
}
