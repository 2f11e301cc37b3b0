//! The state stage: what changed since the previous report of the stream.
//!
//! Consecutive reports of one report plan and scope form a *stream* ([`stream`]). For each
//! report the router keeps, per sink, which findings it routed there ([`identity`]) with when
//! each was first seen and last listed in a message — one document per report
//! ([`document`]), written once, in S3 beside the receipts ([`store`]). The next report of the
//! stream is compared with it ([`track`]): each finding is new, ongoing or (gone since)
//! resolved, and `notify` / `repeat_after` / `resolved` / `min_findings`
//! ([`crate::rules::notify`]) decide what each sink is told. `docs/state.md` has the rules, the
//! key layout and what happens with missing, late and replayed reports.

pub mod document;
pub mod identity;
pub mod store;
pub mod stream;
pub mod track;

pub use store::{Previous, StateStore, StoreError, cli_store};
pub use track::{Finished, Quiet, Tracker};

/// A state document or store that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state {name}, line {line}: {why}")]
    Corrupt {
        name: String,
        line: usize,
        why: String,
    },
    #[error(
        "state {name} has format version {found}; this build reads version {}",
        document::STATE_VERSION
    )]
    Version { name: String, found: u64 },
    #[error("writing the state document: {0}")]
    Encode(String),
}
