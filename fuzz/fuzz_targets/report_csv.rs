//! `read_report` on arbitrary bytes: byte 0 picks the template hint (none or one of six), the
//! rest is the report, read plain, gzipped and under tight size limits (see `oracle.rs`).
//! Same entry point as the other report target; the seed corpus differs (csv reports).
#![no_main]

#[path = "../oracle.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check_report(data));
