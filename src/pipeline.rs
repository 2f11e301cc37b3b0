//! TODO: stage `pipeline`.
