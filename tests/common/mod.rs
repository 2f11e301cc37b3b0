//! Helpers shared by the integration tests: `mod common;` in a test file, then
//! `common::moto::Moto::start()`. The stand-ins and moto live in `tools/test-support` (the sink
//! plugins' own tests use them too); this module adds the repository's fixtures and helpers for
//! reading the binary's output.
//!
//! Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod emf;
pub use audit_router_test_support::{moto, services, sinks, slack};

use std::path::PathBuf;

/// A file under `tests/fixtures/` (the repo's own copies; tests never read /work/shared).
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The bytes of a file under `tests/fixtures/`, with a clear panic naming it.
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    let path = fixture(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// The delivery of `sink` in a `dry-run --format json` document.
pub fn delivery<'a>(doc: &'a serde_json::Value, sink: &str) -> Option<&'a serde_json::Value> {
    doc["deliveries"]
        .as_array()
        .expect("deliveries array")
        .iter()
        .find(|d| d["sink"] == sink)
}

/// A finished command's status, stdout and stderr, for assertion messages.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
