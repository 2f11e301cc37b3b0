//! TODO: stage `output`.
