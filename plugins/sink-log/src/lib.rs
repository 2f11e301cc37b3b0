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
        let builtin_message = s.template_path(ctx)?.is_none();
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
            builtin_message,
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
    /// The message is the built-in template's, which names counts only: its data is built
    /// without the findings (each finding has its own line).
    builtin_message: bool,
    writer: SharedWriter,
    limits: Limits,
}

/// One finding's JSON line, serialized straight to text (a `serde_json::Value` per line cost
/// more to build and drop than to print). The fields are declared in sorted key order, the
/// order `serde_json`'s map (a `BTreeMap`) printed them in: the lines read as before.
#[derive(serde::Serialize)]
struct FindingLine<'a> {
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'static str>,
    control: Option<&'a str>,
    /// Present (maybe `null`) with `change`.
    #[serde(skip_serializing_if = "Option::is_none")]
    days_open: Option<Option<u32>>,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Value>,
    /// Present (maybe `null`) with `change`.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<Option<String>>,
    framework: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    job_id: Option<&'a str>,
    message: Option<&'a str>,
    region: Option<&'a str>,
    report: &'static str,
    resource: Option<&'a str>,
    resource_type: Option<&'a str>,
    sink: &'a str,
    source: &'a str,
    status: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl LogSink {
    /// A kept finding's line (`type = "finding"`), or with `resolved` a resolved finding's
    /// (`type = "resolved"`, without `index` and `fields`).
    fn finding_line(
        &self,
        digest: &Digest,
        f: &audit_router_sink_api::Finding,
        resolved: bool,
    ) -> String {
        let message = ["statusMessage", "message", "scanResultStatus"]
            .iter()
            .find_map(|k| f.fields.get_text(k));
        let line = FindingLine {
            account: f.account.as_deref(),
            change: f.change.map(|c| c.as_str()),
            control: f.control.as_deref(),
            days_open: f.change.map(|_| f.days_open),
            environment: &f.environment,
            fields: (self.include_fields && !resolved)
                .then(|| serde_json::to_value(&f.fields).unwrap_or(Value::Null)),
            first_seen: f.change.map(|_| f.first_seen.map(|d| d.to_string())),
            framework: f.framework.as_deref(),
            index: (!resolved).then_some(f.index),
            job_id: f.job_id.as_deref(),
            message: message.as_deref(),
            region: f.region.as_deref(),
            report: f.report.name(),
            resource: f.resource.as_deref(),
            resource_type: f.resource_type.as_deref(),
            sink: &self.name,
            source: &digest.source.uri,
            status: f.status.as_deref(),
            kind: if resolved { "resolved" } else { "finding" },
        };
        // Borrowed strings, numbers and a `Value`: serializing cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
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
        // A user's template may list findings; the built-in one names counts only, and turning
        // up to thousands of findings into template data for it was most of this sink's time.
        let data = if self.builtin_message {
            render_data(&digest.without_listed(), ctx)
        } else {
            render_data(digest, ctx)
        };
        let data = TemplateData::new(data);
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
                    self.finding_line(digest, f, false),
                    "application/json",
                ));
            }
        }
        for f in digest.changes.iter().flat_map(|c| &c.resolved_findings) {
            out.push(Payload::new(
                None,
                self.finding_line(digest, f, true),
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

    /// The sample digests `check` renders (each template without state, with changes and from
    /// a first report), and each of them again listing one finding (the rest omitted).
    fn digests() -> Vec<Digest> {
        let all = audit_router_sink_api::samples::sample_digests("audit-log");
        let limited: Vec<Digest> = all.iter().map(|d| d.limited(1)).collect();
        all.into_iter().chain(limited).collect()
    }

    #[test]
    fn the_builtin_message_reads_the_same_without_the_findings() {
        // The sink builds the built-in message's data without the findings: it must not use them.
        let mut engine = TemplateEngine::new(Escape::None);
        engine
            .register("message", DEFAULT_TEMPLATE, "built-in")
            .unwrap();
        let ctx = RenderContext::now();
        for d in digests() {
            let full = engine
                .render_with("message", &TemplateData::new(render_data(&d, &ctx)))
                .unwrap();
            let light = engine
                .render_with(
                    "message",
                    &TemplateData::new(render_data(&d.without_listed(), &ctx)),
                )
                .unwrap();
            assert_eq!(full, light);
            assert!(
                d.kept() > 0 || d.groups.is_empty(),
                "a sample lists findings"
            );
        }
    }

    #[test]
    fn finding_lines_are_sorted_json_objects_with_every_field() {
        for table in ["", "include_fields = true"] {
            let sink = build(table).unwrap();
            for d in digests() {
                let p = sink.render(&d, &RenderContext::now()).unwrap();
                let listed: Vec<&audit_router_sink_api::Finding> =
                    d.groups.iter().flat_map(|g| &g.findings).collect();
                let resolved: Vec<&audit_router_sink_api::Finding> = d
                    .changes
                    .iter()
                    .flat_map(|c| &c.resolved_findings)
                    .collect();
                assert_eq!(p.len(), 1 + listed.len() + resolved.len());
                let lines = p[1..].iter().map(|l| l.body.as_str());
                let findings = listed.iter().map(|f| (*f, false));
                let findings = findings.chain(resolved.iter().map(|f| (*f, true)));
                for (line, (f, is_resolved)) in lines.zip(findings) {
                    let v: Value = serde_json::from_str(line).unwrap();
                    // Keys in sorted order, formatted as serde_json prints a map.
                    assert_eq!(v.to_string(), line);
                    assert_eq!(v["type"], if is_resolved { "resolved" } else { "finding" });
                    assert_eq!(v["control"], json!(f.control));
                    assert_eq!(v["account"], json!(f.account));
                    assert_eq!(v["environment"], json!(f.environment));
                    assert_eq!(v["resource"], json!(f.resource));
                    assert_eq!(v["source"], json!(d.source.uri));
                    assert_eq!(v.get("index").is_some(), !is_resolved);
                    assert_eq!(v.get("change").is_some(), f.change.is_some());
                    assert_eq!(v.get("first_seen").is_some(), f.change.is_some());
                    assert_eq!(v.get("days_open").is_some(), f.change.is_some());
                    if f.change.is_some() {
                        assert_eq!(v["first_seen"], json!(f.first_seen.map(|d| d.to_string())));
                        assert_eq!(v["days_open"], json!(f.days_open));
                    }
                    let fields = (!table.is_empty() && !is_resolved)
                        .then(|| serde_json::to_value(&f.fields).unwrap());
                    assert_eq!(v.get("fields"), fields.as_ref());
                }
            }
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
