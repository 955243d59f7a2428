//! The organization policy (`policy.toml`): any text is a policy or an error, never a
//! panic; a policy that parses resolves (or refuses, naming the key) for any account.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presently_engine::policy::{self, OrgPolicy};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(org) = OrgPolicy::parse(Path::new("policy.toml"), text) else {
        return;
    };
    for upn in [None, Some("dana@contoso.com"), Some("")] {
        let _ = policy::resolve(Some(&org), &toml::Table::new(), upn);
    }
});
