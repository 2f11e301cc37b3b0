//! The `log` sink: writes one JSON line per finding and one per digest to stdout (or stderr),
//! the shape CloudWatch Logs Insights queries well. The worked example of `plugins/README.md`.
//!
//! ```toml
//! [sinks.audit-log]
//! type = "log"
//! stream = "stdout"        # or "stderr"
//! include_fields = false   # true: each finding line carries every raw report field
//! template = "log.hbs"     # optional: the digest line's "message" (Handlebars, plain text)
//! ```

use audit_router_sink_api::{
    BoxFuture, BuildContext, Digest, Escape, Limits, Payload, RenderContext, Sent, SettingDoc,
    SettingValue, Settings, Sink, SinkConfig, SinkError, SinkFactory, TemplateData, TemplateEngine,
    render_data,
};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// The type name in rules.toml.
pub const KIND: &str = "log";

/// The built-in template of the digest line's `message`.
pub const DEFAULT_TEMPLATE: &str = include_str!("../templates/log.hbs");

/// Where lines go; tests pass a buffer.
pub type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// The factory `src/sinks.rs` registers.
pub fn factory() -> LogFactory {
    LogFactory { writer: None }
}

pub struct LogFactory {
    writer: Option<SharedWriter>,
}

impl LogFactory {
    /// Every sink built by this factory writes to `writer` instead of stdout/stderr.
    pub fn with_writer(writer: SharedWriter) -> Self {
        LogFactory {
            writer: Some(writer),
        }
    }
}

/// The `stream` values.
const STREAMS: &[&str] = &["stdout", "stderr"];

const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "stream",
        required: false,
        secret: false,
        help: "\"stdout\" (default) or \"stderr\"",
        value: SettingValue::OneOf { values: STREAMS },
    },
    SettingDoc {
        key: "include_fields",
        required: false,
        secret: false,
        help: "include every raw report field in finding lines (default false)",
        value: SettingValue::Bool,
    },
    SettingDoc {
        key: "template",
        required: false,
        secret: false,
        help: "Handlebars file for the digest line's message, relative to rules.toml",
        value: SettingValue::String,
    },
];

impl SinkFactory for LogFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn settings(&self) -> &'static [SettingDoc] {
        SETTINGS
    }

    fn example(&self) -> &'static str {
        r#"stream = "stdout""#
    }

    fn build(
        &self,
        config: SinkConfig<'_>,
        ctx: &BuildContext,
    ) -> Result<Arc<dyn Sink>, SinkError> {
        let s = Settings::new(config);
        let stream = s.opt_choice("stream", STREAMS)?.unwrap_or("stdout");
        let include_fields = s.opt_bool("include_fields")?.unwrap_or(false);
        let mut engine = TemplateEngine::new(Escape::None);
        s.load_template(ctx, &mut engine, "message", DEFAULT_TEMPLATE)?;
        s.finish()?;
        let writer: SharedWriter = match (&self.writer, stream) {
            (Some(w), _) => w.clone(),
            (None, "stderr") => Arc::new(Mutex::new(std::io::stderr())),
            (None, _) => Arc::new(Mutex::new(std::io::stdout())),
        };
        Ok(Arc::new(LogSink {
            name: config.name.to_string(),
            stream,
            include_fields,
            engine,
            writer,
            limits: Limits::default(),
        }))
    }
}

pub struct LogSink {
    name: String,
    stream: &'static str,
    include_fields: bool,
    engine: TemplateEngine,
    writer: SharedWriter,
    limits: Limits,
}

impl LogSink {
    fn finding_line(&self, digest: &Digest, f: &audit_router_sink_api::Finding) -> Value {
        let message = ["statusMessage", "message", "scanResultStatus"]
            .iter()
            .find_map(|k| f.fields.get_text(k));
        let mut v = json!({
            "type": "finding",
            "sink": self.name,
            "report": f.report.name(),
            "index": f.index,
            "framework": f.framework,
            "control": f.control,
            "status": f.status,
            "account": f.account,
            "region": f.region,
            "environment": f.environment,
            "resource_type": f.resource_type,
            "resource": f.resource,
            "job_id": f.job_id,
            "message": message,
            "source": digest.source.uri,
        });
        if let (Some(change), Value::Object(m)) = (f.change, &mut v) {
            m.insert("change".into(), change.as_str().into());
            m.insert(
                "first_seen".into(),
                f.first_seen.map(|d| d.to_string()).into(),
            );
            m.insert("days_open".into(), f.days_open.into());
        }
        if self.include_fields
            && let Value::Object(m) = &mut v
        {
            m.insert(
                "fields".into(),
                serde_json::to_value(&f.fields).unwrap_or(Value::Null),
            );
        }
        v
    }

    /// A resolved finding (with state): the finding's line with `type = "resolved"`.
    fn resolved_line(&self, digest: &Digest, f: &audit_router_sink_api::Finding) -> Value {
        let mut v = self.finding_line(digest, f);
        if let Value::Object(m) = &mut v {
            m.insert("type".into(), "resolved".into());
            m.remove("index");
            m.remove("fields");
        }
        v
    }
}

impl Sink for LogSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn destination(&self) -> String {
        self.stream.to_string()
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn render(&self, digest: &Digest, ctx: &RenderContext) -> Result<Vec<Payload>, SinkError> {
        let data = TemplateData::new(render_data(digest, ctx));
        let message = self.engine.render_with("message", &data)?;
        let groups: Vec<Value> = digest
            .groups
            .iter()
            .map(|g| {
                json!({
                    "framework": g.framework, "control": g.control, "status": g.status,
                    "count": g.count, "omitted": g.omitted,
                    "accounts": g.accounts, "regions": g.regions,
                })
            })
            .collect();
        let mut head = json!({
            "type": "digest",
            "sink": self.name,
            "report": digest.report.name(),
            "message": message.trim_end(),
            "test": ctx.test,
            "total": digest.total,
            "omitted": digest.omitted,
            "environments": digest.environments,
            "accounts": digest.accounts,
            "regions": digest.regions,
            "rules": digest.rules,
            "source": digest.source.uri,
            "groups": groups,
        });
        if let (Some(c), Value::Object(m)) = (&digest.changes, &mut head) {
            for (k, v) in [
                ("new", json!(c.new)),
                ("ongoing", json!(c.ongoing)),
                ("resolved", json!(c.resolved)),
                ("since", json!(c.since.map(|d| d.to_string()))),
                ("first_report", json!(c.first_report)),
                ("oldest_days", json!(c.oldest_days)),
                ("resolved_omitted", json!(c.resolved_omitted)),
            ] {
                m.insert(k.into(), v);
            }
        }
        let mut out = vec![Payload::new(None, head.to_string(), "application/json")];
        for g in &digest.groups {
            for f in &g.findings {
                out.push(Payload::new(
                    None,
                    self.finding_line(digest, f).to_string(),
                    "application/json",
                ));
            }
        }
        for f in digest.changes.iter().flat_map(|c| &c.resolved_findings) {
            out.push(Payload::new(
                None,
                self.resolved_line(digest, f).to_string(),
                "application/json",
            ));
        }
        Payload::number(&mut out);
        // Every kept finding has its line: only the digest's bound on kept findings omits any.
        for (i, p) in out.iter_mut().enumerate() {
            p.omitted = Some(if i == 0 { digest.omitted } else { 0 });
        }
        Ok(out)
    }

    fn send<'a>(&'a self, payload: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(async move {
            let mut w = match self.writer.lock() {
                Ok(w) => w,
                Err(poisoned) => poisoned.into_inner(),
            };
            // One write per line so concurrent sinks never interleave inside a line.
            let mut line = String::with_capacity(payload.body.len() + 1);
            line.push_str(&payload.body);
            line.push('\n');
            w.write_all(line.as_bytes())
                .and_then(|()| w.flush())
                .map_err(|e| {
                    SinkError::permanent(format!(
                        "log sink {}: cannot write to {}: {e}",
                        self.name, self.stream
                    ))
                })?;
            Ok(Sent::with_id(None))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_router_sink_api::samples::sample_digest;
    use audit_router_sink_api::{ReportTemplate, StaticSecrets};

    fn ctx() -> BuildContext {
        BuildContext {
            base_dir: std::env::temp_dir(),
            aws: None,
            secrets: Arc::new(StaticSecrets::new()),
        }
    }

    fn build(table: &str) -> Result<Arc<dyn Sink>, SinkError> {
        let settings: toml::Table = table
            .parse()
            .map_err(|e| SinkError::permanent(format!("{e}")))?;
        factory().build(
            SinkConfig {
                name: "audit-log",
                kind: KIND,
                settings: &settings,
                docs: SETTINGS,
            },
            &ctx(),
        )
    }

    #[test]
    fn one_line_per_finding_and_digest() {
        let sink = build("").unwrap();
        let d = sample_digest(ReportTemplate::ResourceCompliance, "audit-log");
        let p = sink.render(&d, &RenderContext::now()).unwrap();
        assert_eq!(p.len(), 1 + d.kept());
        let head: Value = serde_json::from_str(&p[0].body).unwrap();
        assert_eq!(head["type"], "digest");
        assert_eq!(head["total"], 4);
        for line in &p[1..] {
            assert!(!line.body.contains('\n'));
            let v: Value = serde_json::from_str(&line.body).unwrap();
            assert_eq!(v["type"], "finding");
            assert!(v.get("fields").is_none());
        }
    }

    #[test]
    fn unknown_setting_is_named() {
        let e = build("strem = \"stderr\"").err().unwrap().to_string();
        assert!(e.contains("sinks.audit-log.strem"), "{e}");
        let e = build("stream = \"syslog\"").err().unwrap().to_string();
        assert!(
            e.contains("sinks.audit-log.stream") && e.contains("stdout"),
            "{e}"
        );
    }
}
