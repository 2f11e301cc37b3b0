//! TODO: stage `fetch`.
