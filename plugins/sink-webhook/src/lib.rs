//! The `webhook` sink: POSTs a Handlebars-rendered body to any HTTP endpoint, with configurable
//! headers and content type — Microsoft Teams, Discord, Google Chat, PagerDuty Events v2 and
//! in-house services.
//!
//! ```toml
//! [sinks.teams]
//! type = "webhook"
//! url = "${ssm:/audit-router/teams-webhook}"   # secret: never printed, redacted to https://host/…
//! template = "templates/teams.json.hbs"        # relative to rules.toml; default: a generic JSON document
//! content_type = "application/json"            # default; JSON bodies are validated and sent compact
//! headers = { Authorization = "Bearer ${secretsmanager:teams-token}" }
//! overflow = "truncate"                        # or "split" into numbered messages
//! max_body_bytes = 28000                       # the service's limit (default 262144)
//! ```
//!
//! Values from reports are escaped for the content type: inside JSON string literals for JSON
//! bodies (`"{{resource}}"` is always a valid string), HTML-escaped for HTML, as-is for text
//! (`escape = "json" | "html" | "slack" | "none"` overrides). The template sees the shared data
//! of [`audit_router_sink_api::render_data`] plus `part` and `parts` (1-based numbering when a
//! digest is split).

pub mod http;

use audit_router_sink_api::text::fit_digest;
use audit_router_sink_api::{
    BoxFuture, BuildContext, Digest, Escape, LazySecret, Limits, Payload, RenderContext, Sent,
    SettingDoc, Settings, Sink, SinkConfig, SinkError, SinkFactory, TemplateEngine, TemplateError,
    render_data,
};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::Duration;

/// The built-in body template: a generic JSON document (summary `text` plus every group and
/// finding) that most JSON webhooks accept or a small transform can consume.
pub const DEFAULT_TEMPLATE: &str = include_str!("templates/default.json.hbs");

const TEMPLATE_NAME: &str = "webhook";
const DEFAULT_MAX_BODY_BYTES: u64 = 256 * 1024;
const DEFAULT_MAX_MESSAGES: u64 = 10;

static SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "url",
        required: true,
        secret: true,
        help: "Endpoint URL (https; may be a ${ssm:…}/${secretsmanager:…} reference). Redacted in all output.",
    },
    SettingDoc {
        key: "method",
        required: false,
        secret: false,
        help: "\"POST\" (default) or \"PUT\".",
    },
    SettingDoc {
        key: "content_type",
        required: false,
        secret: false,
        help: "Content-Type of the body (default \"application/json\"; JSON bodies are validated).",
    },
    SettingDoc {
        key: "headers",
        required: false,
        secret: true,
        help: "Extra request headers, e.g. { Authorization = \"Bearer ${ssm:/x}\" }; no line breaks.",
    },
    SettingDoc {
        key: "template",
        required: false,
        secret: false,
        help: "Handlebars body template, relative to rules.toml (default: a generic JSON document).",
    },
    SettingDoc {
        key: "escape",
        required: false,
        secret: false,
        help: "How report values are escaped: \"json\", \"html\", \"slack\" or \"none\" (default from content_type).",
    },
    SettingDoc {
        key: "overflow",
        required: false,
        secret: false,
        help: "\"truncate\" (default: one message, \"…and N more\") or \"split\" (numbered messages).",
    },
    SettingDoc {
        key: "max_body_bytes",
        required: false,
        secret: false,
        help: "Largest body the endpoint accepts, in bytes (default 262144; Teams ~28000, Google Chat 32000).",
    },
    SettingDoc {
        key: "max_messages",
        required: false,
        secret: false,
        help: "With overflow = \"split\": at most this many messages per digest (default 10).",
    },
    SettingDoc {
        key: "timeout_secs",
        required: false,
        secret: false,
        help: "Whole-request timeout in seconds (default 15).",
    },
    SettingDoc {
        key: "allow_insecure_http",
        required: false,
        secret: false,
        help: "Accept an http:// URL (local testing only; default false).",
    },
];

/// How a digest larger than the endpoint's limit is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// One message listing as many findings as fit, the rest counted ("…and N more").
    Truncate,
    /// Numbered messages (`part`/`parts`), at most `max_messages`; beyond that, truncated.
    Split,
}

/// The factory registered in `src/sinks.rs` for `type = "webhook"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebhookFactory;

impl SinkFactory for WebhookFactory {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn settings(&self) -> &'static [SettingDoc] {
        SETTINGS
    }

    fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: Some(DEFAULT_MAX_BODY_BYTES as usize),
            max_messages: Some(1),
            ..Limits::default()
        }
    }

    fn build(
        &self,
        config: SinkConfig<'_>,
        ctx: &BuildContext,
    ) -> Result<Arc<dyn Sink>, SinkError> {
        Ok(Arc::new(WebhookSink::build(config, ctx)?))
    }
}

/// One configured `type = "webhook"` sink.
pub struct WebhookSink {
    name: String,
    url: LazySecret,
    allow_insecure_http: bool,
    method: reqwest::Method,
    content_type: String,
    is_json: bool,
    headers: Vec<(String, LazySecret)>,
    engine: TemplateEngine,
    overflow: Overflow,
    max_body_bytes: usize,
    max_messages: usize,
    limits: Limits,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("name", &self.name)
            .field("destination", &self.destination())
            .field("content_type", &self.content_type)
            .field("overflow", &self.overflow)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    pub fn build(config: SinkConfig<'_>, ctx: &BuildContext) -> Result<WebhookSink, SinkError> {
        let s = Settings::new(config);
        let name = config.name.to_string();
        let raw_url = s.str("url")?;
        let allow_insecure_http = s.opt_bool("allow_insecure_http")?.unwrap_or(false);
        if !audit_router_sink_api::SecretRef::contains_reference(raw_url) {
            http::check_url(&name, "url", raw_url, allow_insecure_http)?;
        }
        let method = match s.opt_choice("method", &["POST", "PUT"])? {
            Some("PUT") => reqwest::Method::PUT,
            _ => reqwest::Method::POST,
        };
        let content_type = s
            .opt_str("content_type")?
            .unwrap_or("application/json")
            .trim()
            .to_string();
        let content_type_value = HeaderValue::from_str(&content_type).map_err(|_| {
            SinkError::config(
                &name,
                Some("content_type"),
                "not a valid header value (expected e.g. \"application/json\")",
            )
        })?;
        drop(content_type_value);
        let lower_ct = content_type.to_ascii_lowercase();
        let is_json = lower_ct.contains("json");
        let escape = match s.opt_choice("escape", &["json", "html", "slack", "none"])? {
            Some("json") => Escape::Json,
            Some("html") => Escape::Html,
            Some("slack") => Escape::Slack,
            Some(_) => Escape::None,
            None if is_json => Escape::Json,
            None if lower_ct.contains("html") => Escape::Html,
            None => Escape::None,
        };
        let mut headers = Vec::new();
        for (k, v) in s.opt_string_table("headers")?.unwrap_or_default() {
            // Literal values are checked now; references once resolved (at send).
            let probe = if audit_router_sink_api::SecretRef::contains_reference(&v) {
                "x"
            } else {
                v.as_str()
            };
            let (hname, _) = http::check_header(&name, &k, probe)?;
            if hname == CONTENT_TYPE {
                return Err(SinkError::config(
                    &name,
                    Some(&format!("headers.{k}")),
                    "set the content type with `content_type`, not in headers",
                ));
            }
            headers.push((k, LazySecret::new(v, ctx.secrets.clone())));
        }
        let overflow = match s.opt_choice("overflow", &["truncate", "split"])? {
            Some("split") => Overflow::Split,
            _ => Overflow::Truncate,
        };
        let max_body_bytes = s
            .opt_uint("max_body_bytes", 256, 64 * 1024 * 1024)?
            .unwrap_or(DEFAULT_MAX_BODY_BYTES) as usize;
        let max_messages = match overflow {
            Overflow::Truncate => {
                s.accept(&["max_messages"]);
                1
            }
            Overflow::Split => s
                .opt_uint("max_messages", 1, 100)?
                .unwrap_or(DEFAULT_MAX_MESSAGES) as usize,
        };
        let timeout = s
            .opt_uint("timeout_secs", 1, 300)?
            .map_or(http::DEFAULT_TIMEOUT, Duration::from_secs);
        let mut engine = TemplateEngine::new(escape);
        s.load_template(ctx, &mut engine, TEMPLATE_NAME, DEFAULT_TEMPLATE)?;
        s.finish()?;
        Ok(WebhookSink {
            url: LazySecret::new(raw_url, ctx.secrets.clone()),
            allow_insecure_http,
            method,
            is_json,
            content_type,
            headers,
            engine,
            overflow,
            max_body_bytes,
            max_messages,
            limits: Limits {
                max_message_bytes: Some(max_body_bytes),
                max_messages: Some(max_messages),
                ..Limits::default()
            },
            client: http::client(timeout)?,
            name,
        })
    }

    /// Renders one body for `digest` as part `part` of `parts`. JSON bodies are parsed (a
    /// template that produces invalid JSON is an error pointing into the rendered text) and
    /// re-serialized compactly.
    fn render_one(
        &self,
        digest: &Digest,
        ctx: &RenderContext,
        part: usize,
        parts: usize,
    ) -> Result<String, SinkError> {
        let mut data = render_data(digest, ctx);
        if let serde_json::Value::Object(m) = &mut data {
            m.insert("part".into(), part.into());
            m.insert("parts".into(), parts.into());
        }
        let body = self.engine.render(TEMPLATE_NAME, &data)?;
        if !self.is_json {
            return Ok(body);
        }
        match serde_json::from_str::<serde_json::Value>(&body) {
            Ok(v) => Ok(v.to_string()),
            Err(e) => Err(SinkError::Template(TemplateError {
                origin: self
                    .engine
                    .origin(TEMPLATE_NAME)
                    .unwrap_or(TEMPLATE_NAME)
                    .to_string(),
                line: None,
                column: None,
                message: format!(
                    "the rendered body is not valid JSON ({e} in the rendered output, near {:?}); \
                     check the template's quotes and commas, and use {{{{{{json value}}}}}} for \
                     non-string values",
                    near(&body, e.line(), e.column())
                ),
            })),
        }
    }

    fn too_big(&self, what: &str, bytes: usize) -> SinkError {
        SinkError::config(
            &self.name,
            Some("max_body_bytes"),
            format!(
                "{what} renders to {bytes} bytes even listing no finding, over the limit of {} \
                 bytes: shorten the template or raise max_body_bytes",
                self.max_body_bytes
            ),
        )
    }

    fn render_truncated(
        &self,
        digest: &Digest,
        ctx: &RenderContext,
    ) -> Result<Vec<Payload>, SinkError> {
        let fit = fit_digest(
            digest,
            |d| self.render_one(d, ctx, 1, 1),
            |b| b.len() <= self.max_body_bytes,
        )?;
        match fit {
            Ok((body, _)) => Ok(vec![self.payload(body)]),
            Err(body) => Err(self.too_big("the body", body.len())),
        }
    }

    fn render_split(
        &self,
        digest: &Digest,
        ctx: &RenderContext,
    ) -> Result<Vec<Payload>, SinkError> {
        let kept = digest.kept();
        // The largest part size (findings per message) whose every part fits; fewer findings per
        // part never makes a part larger, so binary search applies.
        let render_parts = |per_part: usize, d: &Digest| -> Result<Vec<String>, SinkError> {
            let chunks = d.chunks(per_part);
            let n = chunks.len();
            chunks
                .iter()
                .enumerate()
                .map(|(i, c)| self.render_one(c, ctx, i + 1, n))
                .collect()
        };
        let fits = |bodies: &[String]| bodies.iter().all(|b| b.len() <= self.max_body_bytes);
        let all = render_parts(kept.max(1), digest)?;
        if fits(&all) {
            return Ok(self.payloads(all));
        }
        let one = render_parts(1, digest)?;
        if !fits(&one) {
            // Even one finding per message is too big: fall back to a truncated single message.
            return self.render_truncated(digest, ctx);
        }
        let (mut lo, mut hi, mut best) = (1usize, kept.max(1), one);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let r = render_parts(mid, digest)?;
            if fits(&r) {
                lo = mid;
                best = r;
            } else {
                hi = mid;
            }
        }
        if best.len() <= self.max_messages {
            return Ok(self.payloads(best));
        }
        // Too many parts: list as many findings as `max_messages` parts of at most `lo` findings
        // hold; the rest is counted in the last part's `omitted` ("…and N more").
        let limited = digest.limited(lo.saturating_mul(self.max_messages));
        let fit = fit_digest(
            &limited,
            |d| render_parts(lo, d),
            |b| b.len() <= self.max_messages && fits(b),
        )?;
        match fit {
            Ok((bodies, _)) => Ok(self.payloads(bodies)),
            Err(_) => self.render_truncated(digest, ctx),
        }
    }

    fn payload(&self, body: String) -> Payload {
        Payload::new(None, body, self.content_type.clone())
    }

    fn payloads(&self, bodies: Vec<String>) -> Vec<Payload> {
        let mut out: Vec<Payload> = bodies.into_iter().map(|b| self.payload(b)).collect();
        Payload::number(&mut out);
        out
    }

    fn what(&self) -> String {
        format!("webhook sink `{}` ({})", self.name, self.destination())
    }

    async fn send_body(&self, payload: &Payload) -> Result<Sent, SinkError> {
        let url = self.url.get().await?;
        let parsed = http::check_url(&self.name, "url", url.expose(), self.allow_insecure_http)?;
        let mut req = self
            .client
            .request(self.method.clone(), parsed)
            .header(CONTENT_TYPE, payload.content_type.as_str());
        for (k, v) in &self.headers {
            let value = v.get().await?;
            let (hname, hvalue): (HeaderName, HeaderValue) =
                http::check_header(&self.name, k, value.expose())?;
            req = req.header(hname, hvalue);
        }
        let resp = req
            .body(payload.body.clone())
            .send()
            .await
            .map_err(|e| http::classify_transport(&self.what(), e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Sent { message_id: None });
        }
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        Err(http::classify_status(&self.what(), status, &headers, &body))
    }
}

/// A short excerpt of `text` around a 1-based line/column, for JSON errors.
fn near(text: &str, line: usize, column: usize) -> String {
    let l = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let chars: Vec<char> = l.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    let from = at.saturating_sub(30);
    let to = (at + 30).min(chars.len());
    chars[from..to].iter().collect()
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn destination(&self) -> String {
        http::redact_url(self.url.raw())
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn render(&self, digest: &Digest, ctx: &RenderContext) -> Result<Vec<Payload>, SinkError> {
        match self.overflow {
            Overflow::Truncate => self.render_truncated(digest, ctx),
            Overflow::Split => self.render_split(digest, ctx),
        }
    }

    fn send<'a>(&'a self, payload: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(self.send_body(payload))
    }
}
