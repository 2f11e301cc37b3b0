//! What the tests of audit-router and of its sink plugins share: a `moto_server` of their own
//! ([`moto`]), the strict Slack stand-in and the official SDK's check of Block Kit payloads
//! ([`slack`]), stand-ins of the services the webhook examples target ([`services`]), and helpers
//! that build one sink by hand ([`sinks`]). Test code: panics are how it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod moto;
pub mod services;
pub mod sinks;
pub mod slack;
