//! The `slack` sink: posts to a Slack incoming webhook with Block Kit and a text fallback.
//!
//! ```toml
//! [sinks.ops-slack]
//! type = "slack"
//! url = "${ssm:/audit-router/slack-webhook}"   # secret: never printed, redacted to https://host/…
//! overflow = "split"                           # or "truncate" (default): one message + "…and N more"
//! max_messages = 5                             # with "split": at most this many numbered messages
//! max_block_chars = 10000                      # text of all blocks of one message (default 10 000)
//! template = "templates/slack.hbs"             # optional, relative to rules.toml
//! ```
//!
//! Rendering: the template (Handlebars, strict mode, every value Slack-escaped so `<!channel>` in
//! a report never pings anyone) produces mrkdwn text; [`blocks::parse_blocks`] turns its
//! paragraphs into `section` blocks (a `---` paragraph into a `divider`), splitting sections over
//! 3 000 characters; blocks are packed into messages within every limit of
//! [`blocks::SlackLimits`]: 50 blocks, and at most `max_block_chars` characters of block text
//! (Slack refuses a message whose blocks carry more than about 11 300–13 300 characters with
//! `msg_blocks_too_long`, a limit it does not document). When the digest does not fit in the
//! allowed number of messages, fewer findings are listed (binary search) and a final context
//! block says "…and N more … not listed" with a link to the report in the S3 console. Split
//! messages start with a "part i/n" context line. The top-level `text` (the notification
//! preview) is the digest's title line, at most 150 characters.
//!
//! Should Slack still refuse a message (`msg_blocks_too_long`, `invalid_blocks`), the sink sends
//! once, in its place, a minimal message (title, counts, report link) so the channel is never
//! left without word of the report; the delivery is recorded with that fallback and why
//! ([`Sent::fallback`]).

pub mod blocks;
pub mod preview;

use audit_router_sink_api::template::pluralize_word;
use audit_router_sink_api::text::{and_more, fit_digest};
use audit_router_sink_api::{
    BoxFuture, BuildContext, Digest, Escape, LazySecret, Limits, OVERFLOW, Overflow, Payload,
    Preview, RenderContext, ReportTemplate, Sent, SettingDoc, SettingValue, Settings, Sink,
    SinkConfig, SinkError, SinkFactory, TemplateData, TemplateEngine, render_data,
};
use audit_router_sink_http as http;
use blocks::{Block, SlackLimits};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use std::sync::Arc;
use std::time::Duration;

/// The built-in template (mrkdwn; see the module docs for how it becomes blocks).
pub const DEFAULT_TEMPLATE: &str = include_str!("templates/default.hbs");

const TEMPLATE_NAME: &str = "slack";
const DEFAULT_MAX_MESSAGES: u64 = 5;

/// `max_messages`: (min, max).
const MAX_MESSAGES: (u64, u64) = (1, 50);
/// `timeout_secs`: (min, max).
const TIMEOUT_SECS: (u64, u64) = (1, 300);
/// The range of `max_block_chars`: Slack's documented 40 000 characters of `text` at most.
const MAX_BLOCK_CHARS: (u64, u64) = (1000, 40_000);

static SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "url",
        required: true,
        secret: true,
        help: "Incoming webhook URL (may be a ${ssm:…}/${secretsmanager:…} reference). Redacted in all output.",
        value: SettingValue::NonEmptyString,
    },
    SettingDoc {
        key: "template",
        required: false,
        secret: false,
        help: "Handlebars mrkdwn template, relative to rules.toml; blank lines separate blocks, `---` is a divider.",
        value: SettingValue::String,
    },
    SettingDoc {
        key: "overflow",
        required: false,
        secret: false,
        help: "\"truncate\" (default: one message ending \"…and N more\" + report link) or \"split\" (numbered messages).",
        value: SettingValue::OneOf { values: OVERFLOW },
    },
    SettingDoc {
        key: "max_messages",
        required: false,
        secret: false,
        help: "With overflow = \"split\": at most this many messages per digest (default 5), then truncated.",
        value: SettingValue::Integer {
            min: MAX_MESSAGES.0,
            max: MAX_MESSAGES.1,
        },
    },
    SettingDoc {
        key: "max_block_chars",
        required: false,
        secret: false,
        help: "Characters of text in all blocks of one message (default 10000; Slack refuses about 11300 and more with msg_blocks_too_long).",
        value: SettingValue::Integer {
            min: MAX_BLOCK_CHARS.0,
            max: MAX_BLOCK_CHARS.1,
        },
    },
    SettingDoc {
        key: "timeout_secs",
        required: false,
        secret: false,
        help: "Whole-request timeout in seconds (default 15).",
        value: SettingValue::Integer {
            min: TIMEOUT_SECS.0,
            max: TIMEOUT_SECS.1,
        },
    },
    SettingDoc {
        key: "allow_insecure_http",
        required: false,
        secret: false,
        help: "Accept an http:// URL (local testing only; default false).",
        value: SettingValue::Bool,
    },
];

/// The factory for `type = "slack"`: `src/sinks.rs` registers it with one line.
pub fn factory() -> SlackFactory {
    SlackFactory
}

/// The factory registered in `src/sinks.rs` for `type = "slack"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SlackFactory;

impl SinkFactory for SlackFactory {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn settings(&self) -> &'static [SettingDoc] {
        SETTINGS
    }

    fn example(&self) -> &'static str {
        r#"url = "${ssm:/audit-router/slack-webhook}"
overflow = "split""#
    }

    fn build(
        &self,
        config: SinkConfig<'_>,
        ctx: &BuildContext,
    ) -> Result<Arc<dyn Sink>, SinkError> {
        Ok(Arc::new(SlackSink::build(config, ctx)?))
    }

    fn preview(&self, payload: &Payload) -> Option<Preview> {
        Some(Preview {
            label: "Slack Block Kit Builder",
            url: preview::block_kit_builder_url(payload)?,
        })
    }
}

fn limits_of(l: &SlackLimits, max_messages: usize) -> Limits {
    Limits {
        max_blocks: Some(l.max_blocks),
        max_section_chars: Some(l.max_section_chars),
        max_block_chars: Some(l.max_block_chars),
        max_messages: Some(max_messages),
        ..Limits::default()
    }
}

/// One configured `type = "slack"` sink.
pub struct SlackSink {
    name: String,
    url: LazySecret,
    allow_insecure_http: bool,
    engine: TemplateEngine,
    overflow: Overflow,
    max_messages: usize,
    slack: SlackLimits,
    limits: Limits,
    client: reqwest::Client,
}

impl std::fmt::Debug for SlackSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSink")
            .field("name", &self.name)
            .field("destination", &self.destination())
            .field("overflow", &self.overflow)
            .field("max_messages", &self.max_messages)
            .finish_non_exhaustive()
    }
}

/// One digest rendered into messages (before numbering).
#[derive(Debug)]
struct Rendered {
    title: String,
    messages: Vec<Vec<Block>>,
    /// The body of the minimal fallback message (title, counts, report link).
    summary: String,
    /// Findings of the digest no message lists (the tail block's "…and N more").
    omitted: u64,
}

impl SlackSink {
    pub fn build(config: SinkConfig<'_>, ctx: &BuildContext) -> Result<SlackSink, SinkError> {
        let s = Settings::new(config);
        let name = config.name.to_string();
        let raw_url = s.str("url")?;
        let allow_insecure_http = s.opt_bool("allow_insecure_http")?.unwrap_or(false);
        if !audit_router_sink_api::SecretRef::needs_resolving(raw_url) {
            http::check_url(&name, "url", raw_url, allow_insecure_http)?;
        }
        let (overflow, max_messages) =
            s.overflow_and_max_messages(DEFAULT_MAX_MESSAGES, MAX_MESSAGES)?;
        let max_block_chars = s
            .opt_uint("max_block_chars", MAX_BLOCK_CHARS.0, MAX_BLOCK_CHARS.1)?
            .map_or(blocks::DEFAULT_MAX_BLOCK_CHARS, |n| n as usize);
        let timeout = s
            .opt_uint("timeout_secs", TIMEOUT_SECS.0, TIMEOUT_SECS.1)?
            .map_or(http::DEFAULT_TIMEOUT, Duration::from_secs);
        let mut engine = TemplateEngine::new(Escape::Slack);
        s.load_template(ctx, &mut engine, TEMPLATE_NAME, DEFAULT_TEMPLATE)?;
        s.finish()?;
        let slack = SlackLimits {
            max_block_chars,
            ..SlackLimits::default()
        };
        Ok(SlackSink {
            url: LazySecret::new(raw_url, ctx.secrets.clone()),
            allow_insecure_http,
            engine,
            overflow,
            max_messages,
            limits: limits_of(&slack, max_messages),
            slack,
            client: http::client(timeout)?,
            name,
        })
    }

    /// Renders `shown` (a possibly reduced copy of `original`) into packed messages; when
    /// findings are left out, a last context block says how many and links the full report.
    fn render_blocks(
        &self,
        shown: &Digest,
        original: &Digest,
        ctx: &RenderContext,
    ) -> Result<Rendered, SinkError> {
        let mut data = render_data(shown, ctx);
        let hidden_controls = original.groups.len().saturating_sub(shown.groups.len());
        if let serde_json::Value::Object(m) = &mut data {
            // Groups hidden to fit are still counted.
            m.insert("controls".into(), original.groups.len().into());
            m.insert("hidden_controls".into(), hidden_controls.into());
        }
        let text = self
            .engine
            .render_with(TEMPLATE_NAME, &TemplateData::new(data))?;
        let mut blocks = blocks::parse_blocks(&text, self.slack.max_section_chars);
        if shown.omitted > 0 {
            blocks.push(Block::Context(blocks::truncate_chars(
                &tail_text(shown, hidden_controls),
                self.slack.max_section_chars,
            )));
        }
        let title = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("audit-router")
            .to_string();
        let messages = if blocks.is_empty() {
            Vec::new()
        } else {
            // Room for the "part i/n" line should the digest need several messages.
            let split = self.max_messages > 1;
            let reserve_chars = if split {
                self.part_line(&title, self.max_messages, self.max_messages)
                    .chars()
            } else {
                0
            };
            blocks::pack(
                &blocks,
                self.slack.max_blocks,
                self.slack.max_block_chars,
                usize::from(split),
                reserve_chars,
            )
        };
        let summary = summary_text(&title, original);
        Ok(Rendered {
            title,
            messages,
            summary,
            omitted: shown.omitted,
        })
    }

    /// The context block that starts message `part` of `parts`.
    fn part_line(&self, title: &str, part: usize, parts: usize) -> Block {
        Block::Context(blocks::truncate_chars(
            &format!("{title} · part {part} of {parts}"),
            self.slack.max_section_chars,
        ))
    }

    fn fit(&self, digest: &Digest, ctx: &RenderContext) -> Result<Rendered, SinkError> {
        let max = self.max_messages;
        let fits = |r: &Rendered| r.messages.len() <= max;
        match fit_digest(digest, |d| self.render_blocks(d, digest, ctx), fits)? {
            Ok((r, _)) => Ok(r),
            Err(_) => {
                // Even with no finding listed the controls alone are too many: list only the
                // first `g` groups (largest that fits); the tail counts the rest.
                let zero = digest.limited(0);
                let with_groups = |g: usize| {
                    let mut d = zero.clone();
                    d.groups.truncate(g);
                    d
                };
                let first = self.render_blocks(&with_groups(0), digest, ctx)?;
                if !fits(&first) {
                    return Err(SinkError::config(
                        &self.name,
                        Some("template"),
                        format!(
                            "the template renders to {} messages even listing no control or \
                             finding, over the limit of {max}: shorten it",
                            first.messages.len()
                        ),
                    ));
                }
                let (mut lo, mut hi, mut best) = (0usize, digest.groups.len(), first);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    let r = self.render_blocks(&with_groups(mid), digest, ctx)?;
                    if fits(&r) {
                        lo = mid;
                        best = r;
                    } else {
                        hi = mid;
                    }
                }
                Ok(best)
            }
        }
    }

    fn to_payloads(&self, r: Rendered) -> Result<Vec<Payload>, SinkError> {
        let n = r.messages.len();
        let mut out = Vec::with_capacity(n);
        let preview = |s: &str| blocks::truncate_chars(s, self.slack.max_fallback_chars);
        for (i, mut msg) in r.messages.into_iter().enumerate() {
            let (subject, fallback, summary) = if n > 1 {
                let part = format!("part {} of {n}", i + 1);
                msg.insert(0, self.part_line(&r.title, i + 1, n));
                (
                    format!("{} ({part})", r.title),
                    preview(&format!("{} ({part})", r.title)),
                    format!("{} ({part})", r.summary),
                )
            } else {
                (r.title.clone(), preview(&r.title), r.summary.clone())
            };
            blocks::check_message(&msg, &self.slack).map_err(|why| {
                SinkError::config(
                    &self.name,
                    Some("template"),
                    format!("message {} of {n} breaks a Slack limit: {why}", i + 1),
                )
            })?;
            let body = blocks::message_json(&fallback, &msg);
            let mut payload = Payload::new(Some(subject), body.to_string(), "application/json");
            payload.fallback = Some(
                blocks::message_json(
                    &fallback,
                    &[Block::Section(blocks::truncate_chars(
                        &summary,
                        self.slack.max_section_chars,
                    ))],
                )
                .to_string(),
            );
            out.push(payload);
        }
        Payload::number(&mut out);
        Payload::set_omitted(&mut out, r.omitted);
        Ok(out)
    }

    fn what(&self) -> String {
        format!("slack sink `{}` ({})", self.name, self.destination())
    }

    /// Posts one body: `Ok(None)` when Slack took it, `Ok(Some(code))` when Slack refused it as
    /// too large or malformed (`msg_blocks_too_long`, `invalid_blocks`), `Err` otherwise.
    async fn post_body(&self, body: &str) -> Result<Option<(String, SinkError)>, SinkError> {
        let url = self.url.get().await?;
        let parsed = http::check_url(&self.name, "url", url.expose(), self.allow_insecure_http)?;
        let resp = self
            .client
            .post(parsed)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| http::classify_transport(&self.what(), e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let answer = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(None);
        }
        let error = classify_slack(&self.what(), status, &headers, &answer);
        let code = http::body_snippet(&answer);
        if status == StatusCode::BAD_REQUEST && FALLBACK_CODES.contains(&code.as_str()) {
            return Ok(Some((code, error)));
        }
        Err(error)
    }

    async fn post(&self, payload: &Payload) -> Result<Sent, SinkError> {
        let Some((code, refused)) = self.post_body(&payload.body).await? else {
            return Ok(Sent::with_id(None));
        };
        let what = format!(
            "Slack refused message {}/{} ({code})",
            payload.part, payload.parts
        );
        let Some(fallback) = &payload.fallback else {
            return Err(refused);
        };
        match self.post_body(fallback).await {
            Ok(None) => Ok(Sent {
                message_id: None,
                fallback: Some(format!(
                    "{what}; sent the minimal fallback message (title, counts, report link) \
                     instead"
                )),
            }),
            Ok(Some((again, _))) => Err(SinkError::permanent(format!(
                "{refused}; the minimal fallback message was refused too ({again})"
            ))),
            Err(e) => Err(SinkError::permanent(format!(
                "{refused}; sending the minimal fallback message failed: {e}"
            ))),
        }
    }
}

/// The answers after which the minimal fallback message is sent instead.
const FALLBACK_CODES: [&str; 3] = [
    "msg_blocks_too_long",
    "invalid_blocks",
    "invalid_blocks_format",
];

/// The minimal fallback message's text: the title, the counts and where the report is.
fn summary_text(title: &str, digest: &Digest) -> String {
    let (noun, groups) = match digest.report {
        ReportTemplate::ResourceCompliance => ("finding", "control"),
        ReportTemplate::ControlCompliance => ("evaluation", "control"),
        _ => ("job", "state"),
    };
    let count = |n: u64, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {}", pluralize_word(w))
        }
    };
    let changes = match &digest.changes {
        Some(c) if !c.first_report => format!(
            " {} new, {} still open, {} resolved{}.",
            c.new,
            c.ongoing,
            c.resolved,
            c.since.map_or_else(String::new, |d| format!(" since {d}"))
        ),
        _ => String::new(),
    };
    format!(
        "{title}\n{} in {}.{changes} The full digest did not fit in a Slack message. Full report: {}",
        count(digest.total, noun),
        count(digest.groups.len() as u64, groups),
        report_link(digest)
    )
}

/// A link to the report in the S3 console, or its URI.
fn report_link(d: &Digest) -> String {
    match (&d.source.bucket, &d.source.key) {
        (Some(b), Some(k)) => blocks::link(
            &audit_router_sink_api::template::s3_console_url(b, k),
            "open in the S3 console",
        ),
        _ => blocks::escape(&d.source.uri),
    }
}

/// "…and 2 950 more resources not listed here (3 more controls). Full report: <link>".
fn tail_text(shown: &Digest, hidden_controls: usize) -> String {
    let noun = match shown.report {
        ReportTemplate::ResourceCompliance => "resource",
        ReportTemplate::ControlCompliance => "evaluation",
        _ => "job",
    };
    let noun = if shown.omitted == 1 {
        noun.to_string()
    } else {
        pluralize_word(noun)
    };
    let mut s = and_more(shown.omitted, &noun);
    s.push_str(" not listed here");
    if hidden_controls > 0 {
        let c = if hidden_controls == 1 {
            "control"
        } else {
            "controls"
        };
        s.push_str(&format!(", in {hidden_controls} more {c}"));
    }
    s.push_str(". Full report: ");
    s.push_str(&report_link(shown));
    s
}

/// Slack's answer to a failed post: 429 (with `Retry-After`) and 5xx are retryable; 4xx carry an
/// error string (`invalid_blocks`, `no_text`, …) and are permanent.
pub fn classify_slack(
    what: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> SinkError {
    let code = http::body_snippet(body);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return SinkError::retryable(
            format!("{what}: rate limited by Slack (HTTP 429)"),
            http::retry_after(headers),
        );
    }
    if status.is_server_error() {
        return SinkError::retryable(
            format!("{what}: Slack answered HTTP {}: {code}", status.as_u16()),
            http::retry_after(headers),
        );
    }
    let hint = match code.as_str() {
        "invalid_payload" => "the body is not valid JSON for Slack",
        "invalid_blocks" | "invalid_blocks_format" => {
            "Slack refused a block (malformed, or over a Block Kit limit)"
        }
        "no_text" => "the message has no text",
        "too_many_attachments" => "too many attachments",
        "msg_too_long" => "the message is too long",
        "channel_not_found" => "the webhook's channel no longer exists",
        "channel_is_archived" => "the webhook's channel is archived",
        "action_prohibited" => "a workspace admin restricted posting to this channel",
        "posting_to_general_channel_denied" => "only admins may post to this channel",
        "user_not_found" => "the webhook's user no longer exists",
        "invalid_token" | "no_service" | "no_service_id" | "no_team" | "team_disabled" => {
            "the webhook URL is invalid or was revoked: create a new one"
        }
        _ => "Slack rejected the message",
    };
    let code = if code.is_empty() {
        "(no error string)".to_string()
    } else {
        code
    };
    SinkError::permanent(format!(
        "{what}: HTTP {} {code}: {hint} (not retried)",
        status.as_u16()
    ))
}

impl Sink for SlackSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "slack"
    }

    fn destination(&self) -> String {
        http::redact_url(self.url.raw())
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn render(&self, digest: &Digest, ctx: &RenderContext) -> Result<Vec<Payload>, SinkError> {
        let rendered = self.fit(digest, ctx)?;
        if rendered.messages.is_empty() {
            return Err(SinkError::config(
                &self.name,
                Some("template"),
                "the template rendered no text: Slack refuses empty messages (no_text)",
            ));
        }
        self.to_payloads(rendered)
    }

    fn send<'a>(&'a self, payload: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(self.post(payload))
    }
}
