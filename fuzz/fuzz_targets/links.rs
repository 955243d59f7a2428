//! Meeting links in text from invites (locations, bodies, join URLs): finding them never
//! panics, and a link found is always one the allow-list lets Presently open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presently_engine::links;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for found in [links::find_join_link(text), links::meeting_join_link(text)]
        .into_iter()
        .flatten()
    {
        assert_eq!(found.url.scheme(), "https", "{}", found.url);
        assert!(links::is_allowed(&found.url, &[]), "{}", found.url);
    }
    if let Ok(url) = url::Url::parse(text.trim()) {
        let unwrapped = links::unwrap_safelinks(url);
        let _ = links::is_allowed(&unwrapped, &["outlook.office365.us"]);
    }
});
