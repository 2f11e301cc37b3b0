//! `Rules::parse` on arbitrary text; when it loads, findings built from its own quoted values
//! are routed and the indexed router is checked against `explain` (see `oracle.rs`).
#![no_main]

#[path = "../oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // rules.toml is read with `read_to_string`: non-UTF-8 never reaches the parser.
    if let Ok(text) = std::str::from_utf8(data) {
        oracle::check_rules(text);
    }
});
