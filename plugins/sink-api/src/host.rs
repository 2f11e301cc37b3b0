//! For the router itself, not for plugins: building digests on the report's hot path (one
//! [`DigestBuilder`] per sink, fed one finding at a time) and the byte-string map it and the
//! router's indexes use. Tests that need a digest of their own build it here too.

pub use crate::digest::{DigestBuilder, ValueIds};
pub use crate::strmap::{StrMap, hash, head_tail, same_bytes};
