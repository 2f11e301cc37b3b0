//! audit-router: routes AWS Backup Audit Manager reports to notification sinks by rules.
//!
//! Data flows one way, one module per stage:
//! event ([`event`]) → report location ([`location`]) → byte stream ([`fetch`]) → report reader
//! ([`report`], streaming) → findings → rules ([`rules`]) → groups ([`group`]) → what changed
//! since the stream's previous report ([`state`]) → render and deliver ([`deliver`], sinks in
//! `plugins/`, built by [`sinks`]) → receipt ([`receipt`]).
//! [`pipeline`] is the first half (open, read, route, group, compare: a report's digests);
//! [`run`] is the one run of a report end to end (claim, route, keep the state, deliver, record,
//! release), which `send`, `dry-run` (with recording sinks), the Lambda handler ([`lambda`]) and
//! the tests all call.
//! [`validate`] is `check` and the Lambda's cold start; [`output`] every printed shape;
//! [`s3_error`] what an S3 error is, for every S3 call.
//!
//! Operating it: [`metrics`] turns each run into CloudWatch embedded-metric-format lines (the
//! Lambda's log, `send --metrics`); [`progress`] is the CLI's progress line on a terminal.
//!
//! Rules as code, on top of the same routing and rendering: [`ruletest`] (`audit-router test`),
//! [`routediff`] (`audit-router diff`), [`schema`] (the JSON Schema of rules.toml) and
//! [`preview`] (`dry-run --out`; the preview links themselves are each sink type's own,
//! `SinkFactory::preview`).
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
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod preview;
pub mod progress;
pub mod receipt;
pub mod report;
pub mod routediff;
pub mod rules;
pub mod ruletest;
pub mod run;
pub mod runtime;
pub mod s3_error;
pub mod schema;
pub mod secrets;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod validate;

pub use audit_router_sink_api as sink_api;
pub use audit_router_sink_api::{Digest, Finding, FindingView, RawItem, ReportTemplate};
