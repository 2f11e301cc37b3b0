//! The sink plugin API of audit-router: the data model a sink sees ([`Finding`], [`Digest`]),
//! the [`Sink`]/[`SinkFactory`] traits every plugin implements, the shared Handlebars
//! [`TemplateEngine`], settings ([`Settings`]), secrets ([`Secret`], [`LazySecret`]), sample data
//! for `check`/`send-test`, size helpers ([`text`]), AWS error lines ([`aws_error`]) and the one
//! reader of `${scheme:name}` references ([`reference`]).
//!
//! [`host`] is not part of the plugin contract: it is what the router itself (and tests that
//! build digests by hand) uses to build digests on the report's hot path.

use std::future::Future;
use std::pin::Pin;

/// Re-exported so plugins build [`RenderContext`]s without their own chrono dependency.
pub use chrono;

/// A boxed, sendable future: `async fn` in traits is not dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub mod aws_error;
mod digest;
pub mod host;
pub mod model;
pub mod recording;
pub mod reference;
pub mod samples;
pub mod secret;
pub mod settings;
pub mod sink;
mod strmap;
pub mod template;
pub mod text;

pub use digest::{Changes, Digest, Group, Seen, SourceInfo};
pub use model::{Change, Finding, FindingView, MATCH_FIELDS, RawItem, ReportTemplate};
pub use recording::RecordingSink;
pub use secret::{LazySecret, Secret, SecretError, SecretRef, SecretSource, StaticSecrets};
pub use settings::{OVERFLOW, Overflow, Settings};
pub use sink::{
    AttributeValue, BuildContext, Limits, Payload, Preview, Retry, Sent, SettingDoc, SettingValue,
    Sink, SinkConfig, SinkError, SinkFactory,
};
pub use template::{
    Escape, RenderContext, TemplateData, TemplateEngine, TemplateError, render_data,
};
