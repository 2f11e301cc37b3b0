//! The sinks' Handlebars engine with hostile values and arbitrary templates. The input is split
//! at NUL bytes: template source, value, value, date format, list items (see `oracle.rs`).
#![no_main]

#[path = "../oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check_template(&oracle::parts(data, 10)));
