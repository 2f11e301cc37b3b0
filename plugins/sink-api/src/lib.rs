//! The sink plugin API of audit-router: the data model a sink sees ([`Finding`], [`Digest`]),
//! the [`Sink`]/[`SinkFactory`] traits every plugin implements, the shared Handlebars
//! [`TemplateEngine`], secrets ([`Secret`], [`LazySecret`]), sample data for `check`/`send-test`
//! and size helpers.

/// Re-exported so plugins build [`RenderContext`]s without their own chrono dependency.
pub use chrono;

pub mod digest;
pub mod model;
pub mod recording;
pub mod samples;
pub mod secret;
pub mod settings;
pub mod sink;
pub mod strmap;
pub mod template;
pub mod text;

pub use digest::{Digest, DigestBuilder, Group, SourceInfo, ValueIds};
pub use model::{Finding, FindingView, MATCH_FIELDS, RawItem, ReportTemplate};
pub use recording::RecordingSink;
pub use secret::{LazySecret, Secret, SecretError, SecretRef, SecretSource, StaticSecrets};
pub use settings::Settings;
pub use sink::{
    AttributeValue, BoxFuture, BuildContext, Limits, Payload, RenderContext, Retry, Sent,
    SettingDoc, Sink, SinkConfig, SinkError, SinkFactory,
};
pub use template::{Escape, TemplateData, TemplateEngine, TemplateError, render_data};
