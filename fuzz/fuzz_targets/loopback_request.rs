//! What a local process may send to the sign-in listener: the request head parser and the
//! judgement of its target never panic, and only the exact state yields a code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presently_engine::auth::loopback::{judge, request_target, Judgement};

const STATE: &str = "Zm9vYmFyLXN0YXRl";

fuzz_target!(|data: &[u8]| {
    if let Some(target) = request_target(data) {
        assert!(target.starts_with('/'));
        match judge(&target, "/", STATE) {
            Judgement::Code(_) | Judgement::Error { .. } | Judgement::Empty => {
                let url = url::Url::parse(&format!("http://localhost{target}")).expect("judged");
                assert!(url.query_pairs().any(|(k, v)| k == "state" && v == STATE));
            }
            _ => {}
        }
    }
});
