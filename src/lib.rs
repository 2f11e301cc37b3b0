//! audit-router: routes AWS Backup Audit Manager reports to notification sinks by rules.
//!
//! Data flows one way, one module per stage:
//! event ([`event`]) → report location ([`location`]) → byte stream ([`fetch`]) → report reader
//! ([`report`], streaming) → findings → rules ([`rules`]) → groups ([`group`]) → render → deliver
//! → receipt. [`pipeline`] drives the stages; the CLI, the Lambda handler and the tests all call it.
//!
//! Rules as code, on top of the same routing and rendering: [`ruletest`] (`audit-router test`),
//! [`routediff`] (`audit-router diff`), [`schema`] (the JSON Schema of rules.toml) and
//! [`preview`] (Block Kit Builder links and `dry-run --out`).
//!
//! Bad input is an error naming where and what, never a panic: `unwrap`/`expect` are denied
//! outside tests (`docs/bad-input.md`).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod deliver;
pub mod event;
pub mod fetch;
pub mod group;
pub mod lambda;
pub mod location;
pub mod output;
pub mod pipeline;
pub mod preview;
pub mod process;
pub mod receipt;
pub mod report;
pub mod routediff;
pub mod rules;
pub mod ruletest;
pub mod schema;
pub mod secrets;
pub mod sinks;

pub use audit_router_sink_api as sink_api;
pub use audit_router_sink_api::{Digest, Finding, FindingView, RawItem, ReportTemplate};
