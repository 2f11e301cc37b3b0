//! The sink plugin API of audit-router: the data model a sink sees ([`Finding`], [`Digest`]) and
//! (with the sink issue) the `Sink` trait every plugin implements.

pub mod digest;
pub mod model;

pub use digest::{Digest, DigestBuilder, Group, SourceInfo};
pub use model::{Finding, MATCH_FIELDS, RawItem, ReportTemplate};
