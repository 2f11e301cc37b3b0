//! TODO: stage `group`.
