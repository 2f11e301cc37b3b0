//! The sink plugin contract: what a sink declares (type name, config, limits as data) and what it
//! does (render one digest into payloads, send one payload, classify its errors).
//!
//! A plugin crate exposes one [`SinkFactory`]; the root crate registers it with one line in
//! `src/sinks.rs`. The factory turns a `[sinks.NAME]` table into a [`Sink`].

use crate::digest::Digest;
use crate::secret::SecretSource;
use crate::template::TemplateError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::BoxFuture;
pub use crate::template::RenderContext;

/// A service's limits, as data (dry-run and `check` show them; renderers respect them).
/// `None` = no such limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Subject length in characters (SNS: fewer than 100).
    pub max_subject_chars: Option<usize>,
    /// Whole message size in bytes, UTF-8 (SNS: 262 144 including attributes).
    pub max_message_bytes: Option<usize>,
    /// Blocks per message (Slack: 50).
    pub max_blocks: Option<usize>,
    /// Characters per text section (Slack: 3 000).
    pub max_section_chars: Option<usize>,
    /// Characters of text in all blocks of one message together (Slack: `max_block_chars`,
    /// 10 000 by default, below the ~11 300 it refuses with `msg_blocks_too_long`).
    pub max_block_chars: Option<usize>,
    /// Messages one digest may be split into (`None`: unbounded).
    pub max_messages: Option<usize>,
}

impl Limits {
    /// The limits in words, for `check`: `subject ≤ 99 characters, message ≤ 262144 bytes, ≤ 5
    /// messages a digest`; empty when there are none.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.max_subject_chars {
            parts.push(format!("subject ≤ {n} characters"));
        }
        if let Some(n) = self.max_message_bytes {
            parts.push(format!("message ≤ {n} bytes"));
        }
        if let Some(n) = self.max_blocks {
            parts.push(format!("≤ {n} blocks"));
        }
        if let Some(n) = self.max_section_chars {
            parts.push(format!("≤ {n} characters a section"));
        }
        if let Some(n) = self.max_block_chars {
            parts.push(format!("≤ {n} characters of block text a message"));
        }
        if let Some(n) = self.max_messages {
            parts.push(format!(
                "≤ {n} message{} a digest",
                if n == 1 { "" } else { "s" }
            ));
        }
        parts.join(", ")
    }
}

/// A typed message attribute (SNS message attributes; other sinks may ignore them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value")]
pub enum AttributeValue {
    String(String),
    /// A number, kept as its decimal text (SNS sends numbers as text).
    Number(String),
    #[serde(rename = "String.Array")]
    StringArray(Vec<String>),
}

/// One message exactly as a sink will send it. Dry-run prints these; `send` sends them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payload {
    /// The subject/title line, for sinks that have one (SNS email subject).
    pub subject: Option<String>,
    /// The exact payload text (plain text, JSON, …).
    pub body: String,
    /// MIME type of `body`: `text/plain; charset=utf-8`, `application/json`, …
    pub content_type: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// 1-based number of this message among the messages of one digest.
    pub part: usize,
    /// How many messages the digest was rendered into.
    pub parts: usize,
    /// A minimal message (same content type) the sink sends once instead, should the service
    /// refuse this one as too large or malformed (Slack: `msg_blocks_too_long`,
    /// `invalid_blocks`), so the destination is never left with nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// How many of the digest's findings this message counts as not listed (its "…and N more"):
    /// over the messages of one rendering these add up to the findings none of them lists, for
    /// the service's limits or the digest's bound on kept findings ([`Payload::set_omitted`]).
    /// `None` when the sink does not say (the router then counts the digest's own `omitted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omitted: Option<u64>,
}

impl Payload {
    /// A single-part payload.
    pub fn new(subject: Option<String>, body: String, content_type: impl Into<String>) -> Self {
        Payload {
            subject,
            body,
            content_type: content_type.into(),
            attributes: BTreeMap::new(),
            part: 1,
            parts: 1,
            fallback: None,
            omitted: None,
        }
    }

    /// Records on the messages of one rendering that `omitted` of the digest's findings are
    /// listed in none of them: the count on the last message, 0 on the others.
    pub fn set_omitted(payloads: &mut [Payload], omitted: u64) {
        let last = payloads.len().saturating_sub(1);
        for (i, p) in payloads.iter_mut().enumerate() {
            p.omitted = Some(if i == last { omitted } else { 0 });
        }
    }

    /// Numbers `payloads` 1..=n in place.
    pub fn number(payloads: &mut [Payload]) {
        let n = payloads.len();
        for (i, p) in payloads.iter_mut().enumerate() {
            p.part = i + 1;
            p.parts = n;
        }
    }
}

/// What a successful send returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// The service's message id, when it gives one (SNS MessageId); `None` for Slack/webhooks.
    pub message_id: Option<String>,
    /// Set when the service refused the message and the sink delivered its
    /// [`Payload::fallback`] instead: what was refused and why (no secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl Sent {
    /// Delivered as rendered, with the service's message id if it gives one.
    pub fn with_id(message_id: Option<String>) -> Self {
        Sent {
            message_id,
            fallback: None,
        }
    }
}

/// Everything a sink can fail with. Messages never contain secrets: sinks redact URLs and
/// tokens before building one.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Bad sink configuration; `sink` is the `[sinks.NAME]` name, `key` the setting.
    #[error("sinks.{sink}{}: {message}", key.as_ref().map(|k| format!(".{k}")).unwrap_or_default())]
    Config {
        sink: String,
        key: Option<String>,
        message: String,
    },
    /// A template failed to compile or render (located by file and line/column).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A secret reference could not be resolved.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// A send failed in a way worth retrying (throttling, 5xx, timeouts, connection errors).
    #[error("{message}")]
    Retryable {
        message: String,
        /// The service asked to wait this long (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// A send failed for good (4xx such as Slack's `invalid_blocks`, auth errors, not found).
    #[error("{message}")]
    Permanent { message: String },
}

impl SinkError {
    pub fn config(sink: &str, key: Option<&str>, message: impl Into<String>) -> Self {
        SinkError::Config {
            sink: sink.to_string(),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn retryable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        SinkError::Retryable {
            message: message.into(),
            retry_after,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SinkError::Permanent {
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SinkError::Retryable { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SinkError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether and when to try a failed send again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Permanent failure.
    Never,
    /// Retry after the given delay, or after the delivery stage's backoff when `None`.
    After(Option<Duration>),
}

/// A configured sink (one `[sinks.NAME]` table).
pub trait Sink: Send + Sync {
    /// The `[sinks.NAME]` name.
    fn name(&self) -> &str;

    /// The type name (`sns`, `slack`, `log`, `webhook`).
    fn kind(&self) -> &'static str;

    /// Where it sends, redacted for logs and dry-run output (e.g. the topic ARN, or
    /// `https://hooks.slack.com/…` with the secret path removed).
    fn destination(&self) -> String;

    fn limits(&self) -> &Limits;

    /// Renders one digest into the payloads that `send` will send, each within [`Sink::limits`].
    /// Pure (no I/O, no secrets resolved): dry-run shows exactly these.
    fn render(&self, digest: &Digest, ctx: &RenderContext) -> Result<Vec<Payload>, SinkError>;

    /// Sends one payload once (no retries: the delivery stage retries per [`Sink::retry`]).
    fn send<'a>(&'a self, payload: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>>;

    /// Whether `error` (from [`Sink::send`]) is worth retrying, and after how long.
    fn retry(&self, error: &SinkError) -> Retry {
        match error {
            SinkError::Retryable { retry_after, .. } => Retry::After(*retry_after),
            _ => Retry::Never,
        }
    }
}

/// The `[sinks.NAME]` table a factory builds a sink from.
#[derive(Clone, Copy, Debug)]
pub struct SinkConfig<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    /// Every key but `type`; `${env:…}` already substituted, `${ssm:…}`/`${secretsmanager:…}`
    /// left as written (resolve them lazily through [`BuildContext::secrets`]).
    pub settings: &'a toml::Table,
    /// The settings the factory documents ([`SinkFactory::settings`]): [`crate::Settings`]
    /// suggests the closest one for a misspelt key.
    pub docs: &'static [SettingDoc],
}

/// What the process gives every factory.
#[derive(Clone)]
pub struct BuildContext {
    /// The directory of rules.toml: `template = "x.hbs"` is relative to it.
    pub base_dir: PathBuf,
    /// The process's AWS configuration (one per process; honours `AWS_ENDPOINT_URL`). `None`
    /// where no AWS access is wanted (`check`); AWS sinks then fail on send, not on build.
    pub aws: Option<aws_types::SdkConfig>,
    /// Resolves `${ssm:…}`, `${secretsmanager:…}` and `${env:…}` references, once per process.
    pub secrets: Arc<dyn SecretSource>,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("base_dir", &self.base_dir)
            .field("aws", &self.aws.is_some())
            .finish_non_exhaustive()
    }
}

/// Documentation of one setting, for `plugins/README.md`-style help, `check` and the rules.toml
/// JSON Schema (`audit-router schema`, built from every factory's [`SinkFactory::settings`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SettingDoc {
    pub key: &'static str,
    pub required: bool,
    /// May be a `${ssm:…}` / `${secretsmanager:…}` reference.
    pub secret: bool,
    pub help: &'static str,
    /// What the value is. The factory's `build` must accept exactly this (use the same
    /// constants for choices and bounds): the schema promises that what it rejects, `check`
    /// rejects too (`tests/rules_schema.rs`).
    pub value: SettingValue,
}

/// The type of a setting's value, as rules.toml writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SettingValue {
    /// Any string (`${…}` references included).
    String,
    /// A string that must not be empty or blank (a required text such as a URL or an ARN).
    NonEmptyString,
    /// `true` or `false`.
    Bool,
    /// An integer from `min` to `max`, both included.
    Integer { min: u64, max: u64 },
    /// One of `values` (or an `${env:NAME}` reference, resolved before the sink sees it).
    OneOf { values: &'static [&'static str] },
    /// A table of strings, e.g. `{ Authorization = "Bearer ${ssm:/x}" }`.
    StringTable,
    /// A list of strings.
    StringList,
    /// A list of tables with only these keys (their values as the setting's help describes,
    /// e.g. `json_limits`).
    TableList { keys: &'static [&'static str] },
}

/// A link that shows one rendered message as its service would draw it. `dry-run` prints it
/// under the message (`preview (LABEL): URL`); audit-router never fetches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// What the link opens, e.g. `Slack Block Kit Builder`.
    pub label: &'static str,
    pub url: String,
}

/// One sink type. Plugins export one; `src/sinks.rs` registers it.
pub trait SinkFactory: Send + Sync {
    /// The `type = "…"` value this factory builds.
    fn kind(&self) -> &'static str;

    /// The settings it understands (unknown keys are an error at build).
    fn settings(&self) -> &'static [SettingDoc];

    /// A minimal working `[sinks.NAME]` table for this type, as TOML without `type`
    /// (`topic_arn = "arn:aws:sns:…"`): `build` must accept it and its templates must pass
    /// `check`. The JSON Schema gives it as the type's example; the host's tests build every
    /// registered type from it.
    fn example(&self) -> &'static str;

    /// Validates the settings and builds the sink; compiles its templates. Must not do
    /// network I/O or resolve secrets (that happens lazily on first send).
    fn build(&self, config: SinkConfig<'_>, ctx: &BuildContext)
    -> Result<Arc<dyn Sink>, SinkError>;

    /// A preview link for one message this type rendered (`dry-run` prints it); none by
    /// default.
    fn preview(&self, _payload: &Payload) -> Option<Preview> {
        None
    }
}
