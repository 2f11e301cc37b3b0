//! Helpers shared by the integration tests: `mod common;` in a test file, then
//! `common::moto::Moto::start()`. The stand-ins and moto live in `tools/test-support` (the sink
//! plugins' own tests use them too); this module adds the repository's fixtures.
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
