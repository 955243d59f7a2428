//! The user's settings file (`config.toml`): any text gives a configuration that passes its
//! own checks, or an error; never a panic. What parses survives a write and a read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presently_engine::config::Config;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("config.toml");
    let _ = Config::parse_user_table(path, text);
    if let Ok(config) = Config::parse(path, text) {
        assert!(config.check().is_ok(), "a parsed configuration fails its checks");
        let table = config.to_table().expect("a parsed configuration serializes");
        let again = Config::parse(path, &table.to_string()).expect("and parses back");
        assert_eq!(again, config);
    }
});
