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
//! max_body_bytes = 20000                       # the service's limit (default 262144)
//! json_limits = [{ path = "/text", max_chars = 4096 }]   # limits inside a JSON body
//! ```
//!
//! Secrets the *body* needs (PagerDuty's `routing_key`) go in `secrets = { NAME = "${ssm:…}" }`;
//! the template writes `{{secrets.NAME}}`, which renders as a per-process placeholder
//! (`${secret:NAME:…}`) — so dry-run output never holds the value — and is replaced by the
//! resolved, escaped value only when sending. Example templates for Teams, Discord, Google Chat
//! and PagerDuty are in `plugins/sink-webhook/templates/`, and complete example configurations
//! with each service's real limits in `plugins/sink-webhook/examples/`.
//!
//! `json_limits` ([`json_limits`]) holds a service's limits inside the body — Discord's 2 000
//! characters of `content`, Google Chat's 4 096 characters of `text` — as data: the renderer
//! lists fewer findings, or splits, until the body size and every such limit hold.
//!
//! Values from reports are escaped for the content type: inside JSON string literals for JSON
//! bodies (`"{{resource}}"` is always a valid string), HTML-escaped for HTML, as-is for text
//! (`escape = "json" | "html" | "slack" | "none"` overrides). The template sees the shared data
//! of [`audit_router_sink_api::render_data`] plus `part` and `parts` (1-based numbering when a
//! digest is split).

use audit_router_sink_http as http;
pub mod json_limits;

use audit_router_sink_api::text::fit_digest;
use audit_router_sink_api::{
    BoxFuture, BuildContext, Digest, Escape, LazySecret, Limits, OVERFLOW, Overflow, Payload,
    RenderContext, Sent, SettingDoc, SettingValue, Settings, Sink, SinkConfig, SinkError,
    SinkFactory, TemplateData, TemplateEngine, TemplateError, render_data,
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

/// The `method` values.
const METHODS: &[&str] = &["POST", "PUT"];
/// The `escape` values.
const ESCAPES: &[&str] = &["json", "html", "slack", "none"];
/// `max_body_bytes`: (min, max).
const MAX_BODY_BYTES: (u64, u64) = (256, 64 * 1024 * 1024);
/// `max_messages`: (min, max).
const MAX_MESSAGES: (u64, u64) = (1, 100);
/// `timeout_secs`: (min, max).
const TIMEOUT_SECS: (u64, u64) = (1, 300);

static SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "url",
        required: true,
        secret: true,
        help: "Endpoint URL (https; may be a ${ssm:…}/${secretsmanager:…} reference). Redacted in all output.",
        value: SettingValue::NonEmptyString,
    },
    SettingDoc {
        key: "method",
        required: false,
        secret: false,
        help: "\"POST\" (default) or \"PUT\".",
        value: SettingValue::OneOf { values: METHODS },
    },
    SettingDoc {
        key: "content_type",
        required: false,
        secret: false,
        help: "Content-Type of the body (default \"application/json\"; JSON bodies are validated).",
        value: SettingValue::String,
    },
    SettingDoc {
        key: "headers",
        required: false,
        secret: true,
        help: "Extra request headers, e.g. { Authorization = \"Bearer ${ssm:/x}\" }; no line breaks.",
        value: SettingValue::StringTable,
    },
    SettingDoc {
        key: "secrets",
        required: false,
        secret: true,
        help: "Secrets the body needs, e.g. { routing_key = \"${ssm:/pd/key}\" }: the template writes {{secrets.routing_key}}, a placeholder replaced only when sending.",
        value: SettingValue::StringTable,
    },
    SettingDoc {
        key: "template",
        required: false,
        secret: false,
        help: "Handlebars body template, relative to rules.toml (default: a generic JSON document).",
        value: SettingValue::String,
    },
    SettingDoc {
        key: "escape",
        required: false,
        secret: false,
        help: "How report values are escaped: \"json\", \"html\", \"slack\" or \"none\" (default from content_type).",
        value: SettingValue::OneOf { values: ESCAPES },
    },
    SettingDoc {
        key: "overflow",
        required: false,
        secret: false,
        help: "\"truncate\" (default: one message, \"…and N more\") or \"split\" (numbered messages).",
        value: SettingValue::OneOf { values: OVERFLOW },
    },
    SettingDoc {
        key: "max_body_bytes",
        required: false,
        secret: false,
        help: "Largest body the endpoint accepts, in bytes (default 262144; Teams 28 KB documented, ~21 KB seen; Google Chat 32000).",
        value: SettingValue::Integer {
            min: MAX_BODY_BYTES.0,
            max: MAX_BODY_BYTES.1,
        },
    },
    SettingDoc {
        key: "json_limits",
        required: false,
        secret: false,
        help: "Limits inside a JSON body, e.g. [{ path = \"/content\", max_chars = 2000 }, { path = \"/embeds\", max_items = 10 }, { paths = [\"/embeds/*/title\", \"/embeds/*/description\"], max_total_chars = 6000 }] (JSON Pointers, * for every element).",
        value: SettingValue::TableList {
            keys: json_limits::KEYS,
        },
    },
    SettingDoc {
        key: "max_messages",
        required: false,
        secret: false,
        help: "With overflow = \"split\": at most this many messages per digest (default 10).",
        value: SettingValue::Integer {
            min: MAX_MESSAGES.0,
            max: MAX_MESSAGES.1,
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

/// The factory for `type = "webhook"`: `src/sinks.rs` registers it with one line.
pub fn factory() -> WebhookFactory {
    WebhookFactory
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

    fn example(&self) -> &'static str {
        r#"url = "https://events.example.com/audit"
headers = { Authorization = "Bearer ${secretsmanager:audit-router/webhook#token}" }"#
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
    /// `secrets = { NAME = "${ssm:…}" }`: (name, placeholder written in rendered bodies, value).
    body_secrets: Vec<(String, String, LazySecret)>,
    engine: TemplateEngine,
    overflow: Overflow,
    max_body_bytes: usize,
    json_limits: Vec<json_limits::JsonLimit>,
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
        if !audit_router_sink_api::SecretRef::needs_resolving(raw_url) {
            http::check_url(&name, "url", raw_url, allow_insecure_http)?;
        }
        let method = match s.opt_choice("method", METHODS)? {
            Some("PUT") => reqwest::Method::PUT,
            _ => reqwest::Method::POST,
        };
        let content_type = s
            .opt_text("content_type")?
            .as_deref()
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
        let escape = match s.opt_choice("escape", ESCAPES)? {
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
            let probe = if audit_router_sink_api::SecretRef::needs_resolving(&v) {
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
        // Per-process nonce: a report value cannot forge a placeholder and pull a secret in.
        let nonce = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        let mut body_secrets = Vec::new();
        for (k, v) in s.opt_string_table("secrets")?.unwrap_or_default() {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(SinkError::config(
                    &name,
                    Some(&format!("secrets.{k}")),
                    "secret names must be letters, digits and `_`",
                ));
            }
            let placeholder = format!("${{secret:{k}:{nonce:016x}}}");
            body_secrets.push((k, placeholder, LazySecret::new(v, ctx.secrets.clone())));
        }
        let (overflow, max_messages) =
            s.overflow_and_max_messages(DEFAULT_MAX_MESSAGES, MAX_MESSAGES)?;
        let max_body_bytes = s
            .opt_uint("max_body_bytes", MAX_BODY_BYTES.0, MAX_BODY_BYTES.1)?
            .unwrap_or(DEFAULT_MAX_BODY_BYTES) as usize;
        let json_limits = match s.opt_value("json_limits") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => {
                if !is_json {
                    return Err(s.error(
                        "json_limits",
                        format!("limits inside a JSON body, but content_type is {content_type:?}"),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        json_limits::JsonLimit::from_toml(v, &format!("json_limits[{i}]"))
                            .map_err(|(key, msg)| s.error(&key, msg))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            Some(other) => {
                return Err(s.error(
                    "json_limits",
                    format!("expected a list of tables, found {}", other.type_str()),
                ));
            }
        };
        // Checked whatever `overflow` is (a bad value is an error, not silently ignored);
        // only a split digest has more than one message.
        let timeout = s
            .opt_uint("timeout_secs", TIMEOUT_SECS.0, TIMEOUT_SECS.1)?
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
            body_secrets,
            engine,
            overflow,
            max_body_bytes,
            json_limits,
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
            let secrets: serde_json::Map<String, serde_json::Value> = self
                .body_secrets
                .iter()
                .map(|(k, placeholder, _)| (k.clone(), placeholder.clone().into()))
                .collect();
            m.insert("secrets".into(), secrets.into());
        }
        let body = self
            .engine
            .render_with(TEMPLATE_NAME, &TemplateData::new(data))?;
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

    /// The body is within `max_body_bytes` and every `json_limits` entry.
    fn fits(&self, body: &str) -> bool {
        body.len() <= self.max_body_bytes && json_limits::check_all(&self.json_limits, body).is_ok()
    }

    /// `body`, rendered with no finding listed, still breaks a limit: which, and what to do.
    fn too_big(&self, body: &str) -> SinkError {
        if body.len() > self.max_body_bytes {
            return SinkError::config(
                &self.name,
                Some("max_body_bytes"),
                format!(
                    "the body renders to {} bytes even listing no finding, over the limit of {} \
                     bytes: shorten the template or raise max_body_bytes",
                    body.len(),
                    self.max_body_bytes
                ),
            );
        }
        let why = json_limits::check_all(&self.json_limits, body)
            .err()
            .unwrap_or_default();
        SinkError::config(
            &self.name,
            Some("json_limits"),
            format!(
                "the body breaks a limit even listing no finding ({why}): shorten the template \
                 or change json_limits"
            ),
        )
    }

    fn render_truncated(
        &self,
        digest: &Digest,
        ctx: &RenderContext,
    ) -> Result<Vec<Payload>, SinkError> {
        let fit = fit_digest(digest, |d| self.render_one(d, ctx, 1, 1), |b| self.fits(b))?;
        match fit {
            Ok((body, listed)) => {
                let mut out = vec![self.payload(body)];
                Payload::set_omitted(&mut out, digest.total.saturating_sub(listed as u64));
                Ok(out)
            }
            Err(body) => Err(self.too_big(&body)),
        }
    }

    fn render_split(
        &self,
        digest: &Digest,
        ctx: &RenderContext,
    ) -> Result<Vec<Payload>, SinkError> {
        let max = self.max_body_bytes;
        let render_parts = |per_part: usize, d: &Digest| -> Result<Vec<String>, SinkError> {
            let chunks = d.chunks(per_part);
            let n = chunks.len();
            chunks
                .iter()
                .enumerate()
                .map(|(i, c)| self.render_one(c, ctx, i + 1, n))
                .collect()
        };
        let fits = |bodies: &[String]| bodies.iter().all(|b| self.fits(b));
        let kept = digest.kept();
        let full = self.render_one(digest, ctx, 1, 1)?;
        if self.fits(&full) || kept == 0 {
            return self.render_truncated(digest, ctx);
        }
        let base = self.render_one(&digest.limited(0), ctx, 1, 1)?;
        if base.len() >= max || !self.fits(&base) {
            return Err(self.too_big(&base));
        }
        // Bodies grow about linearly with the findings listed: start from the estimate and
        // shrink by a fifth until every part fits (a few renders, not a search over 1..kept).
        let per_finding = (full.len().saturating_sub(base.len()) / kept).max(1);
        let mut per_part = ((max - base.len()) / per_finding).clamp(1, kept);
        let mut bodies = render_parts(per_part, digest)?;
        while !fits(&bodies) {
            if per_part == 1 {
                // Even one finding per message is too big: one truncated message instead.
                return self.render_truncated(digest, ctx);
            }
            per_part = (per_part * 4 / 5).min(per_part - 1).max(1);
            bodies = render_parts(per_part, digest)?;
        }
        if bodies.len() <= self.max_messages {
            return Ok(self.payloads(bodies, digest.omitted));
        }
        // Too many parts: list what `max_messages` parts hold; the last part counts the rest
        // ("omitted"), which makes it a little longer, so shrink it until it fits.
        let mut keep = per_part.saturating_mul(self.max_messages);
        loop {
            let bodies = render_parts(per_part, &digest.limited(keep))?;
            if fits(&bodies) && bodies.len() <= self.max_messages {
                return Ok(self.payloads(bodies, digest.limited(keep).omitted));
            }
            if keep == 0 {
                return self.render_truncated(digest, ctx);
            }
            keep = keep.saturating_sub((per_part / 20).max(1));
        }
    }

    fn payload(&self, body: String) -> Payload {
        Payload::new(None, body, self.content_type.clone())
    }

    /// The numbered messages of one rendering that leaves `omitted` findings unlisted.
    fn payloads(&self, bodies: Vec<String>, omitted: u64) -> Vec<Payload> {
        let mut out: Vec<Payload> = bodies.into_iter().map(|b| self.payload(b)).collect();
        Payload::number(&mut out);
        Payload::set_omitted(&mut out, omitted);
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
        let mut body = payload.body.clone();
        for (_, placeholder, value) in &self.body_secrets {
            if body.contains(placeholder.as_str()) {
                let v = value.get().await?;
                let v = if self.is_json {
                    audit_router_sink_api::template::json_escape(v.expose())
                } else {
                    v.expose().to_string()
                };
                body = body.replace(placeholder.as_str(), &v);
            }
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| http::classify_transport(&self.what(), e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Sent::with_id(None));
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
