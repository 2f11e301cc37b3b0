//! The shared Handlebars engine: strict mode, per-sink escaping, and the domain helpers every
//! sink template may use.
//!
//! Helpers (all usable as `{{helper …}}` or as sub-expressions `(helper …)`; their output is
//! escaped like any other value):
//!
//! | helper | example | result |
//! |---|---|---|
//! | `length` | `{{length findings}}` | length of a list/object/string (named so it never shadows a `count` field) |
//! | `pluralize` | `{{pluralize count "resource"}}` | `1 resource`, `3 resources` (optional 3rd arg: plural form) |
//! | `plural` | `{{plural count "resource"}}` | `resource` / `resources` (no number) |
//! | `group_by` | `{{#each (group_by findings "account")}}{{key}}: {{count}}{{/each}}` | `[{key, count, items}]`, sorted by key |
//! | `sort_by` | `(sort_by findings "resource")` | list sorted by a (dotted) field; `sort` sorts plain values |
//! | `take` | `{{#each (take findings 10)}}…{{/each}}` | the first N items |
//! | `rest_count` | `{{rest_count findings 10}}` | how many items `take` left out |
//! | `more` | `{{more omitted "resource"}}` | `…and 12 more resources`, or nothing for 0 |
//! | `truncate` | `{{truncate resource 60}}` | at most N characters, ending in `…` when cut |
//! | `date` | `{{date fields.creationDate "%Y-%m-%d"}}`, `{{date since "%-d %b"}}` | RFC 3339 or `YYYY-MM-DD` reformatted (default `%Y-%m-%d %H:%M UTC`) |
//! | `get` | `{{get fields "numResourcesNonCompliant"}}` | a (dotted) field, `null` when absent (no strict-mode error) |
//! | `default` | `{{default account "unknown"}}` | the fallback for null/empty |
//! | `join` | `{{join environments ", "}}` | list joined |
//! | `upper` / `lower` | `{{upper status}}` | case |
//! | `json` | `{{{json resource}}}` | the value as JSON text (for webhook bodies) |
//! | `console_framework_url` | `{{console_framework_url framework region}}` | AWS Backup console, framework |
//! | `console_resource_url` | `{{console_resource_url resource region}}` | AWS Backup console, resource |
//! | `console_job_url` | `{{console_job_url report job_id region}}` | AWS Backup console, job |
//! | `s3_console_url` | `{{s3_console_url source.bucket source.key}}` | S3 console, the report object |
//!
//! Built-in helpers (`if`, `each`, `with`, `eq`, `ne`, `gt`, `and`, `or`, `not`, `len`, …) work
//! as usual. Strict mode: a misspelt field is an error with line and column, not an empty string.

use crate::digest::Digest;
use crate::text::and_more;

/// Per-render inputs beyond the digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderContext {
    /// "Now" for templates (`generated_at`, relative dates); fixed in tests for stable snapshots.
    pub now: chrono::DateTime<chrono::Utc>,
    /// A `send-test` message: templates mark it clearly (`test` is true in the template data).
    pub test: bool,
}

impl RenderContext {
    pub fn now() -> Self {
        RenderContext {
            now: chrono::Utc::now(),
            test: false,
        }
    }
}
use handlebars::{Context, Handlebars, Helper, HelperDef, RenderErrorReason, ScopedJson};
use serde_json::{Map, Value, json};
use std::fmt;

/// How values are escaped when a template prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Plain text (SNS email, log): printed as is.
    None,
    /// Slack mrkdwn: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (no `<!channel>` pings).
    Slack,
    /// Inside a JSON string literal: quotes, backslashes and control characters escaped.
    Json,
    /// HTML.
    Html,
}

impl Escape {
    pub fn apply(self, s: &str) -> String {
        match self {
            Escape::None => s.to_string(),
            Escape::Slack => slack_escape(s),
            Escape::Json => json_escape(s),
            Escape::Html => handlebars::html_escape(s),
        }
    }
}

/// Slack's three control characters.
pub fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The content of a JSON string literal for `s` (without the quotes).
pub fn json_escape(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// A template problem, located when Handlebars can locate it (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    /// The template file, or `built-in NAME` for an embedded default.
    pub origin: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.origin, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.origin, self.message),
            _ => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// A Handlebars registry in strict mode with the domain helpers and one escaping rule.
pub struct TemplateEngine {
    hb: Handlebars<'static>,
    escape: Escape,
    origins: std::collections::BTreeMap<String, String>,
}

impl fmt::Debug for TemplateEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateEngine")
            .field("escape", &self.escape)
            .field("templates", &self.origins)
            .finish()
    }
}

impl TemplateEngine {
    pub fn new(escape: Escape) -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(move |s| escape.apply(s));
        register_helpers(&mut hb);
        TemplateEngine {
            hb,
            escape,
            origins: Default::default(),
        }
    }

    pub fn escape(&self) -> Escape {
        self.escape
    }

    /// Compiles `source` under `name`; `origin` (a file path or `built-in …`) names it in errors.
    pub fn register(
        &mut self,
        name: &str,
        source: &str,
        origin: &str,
    ) -> Result<(), TemplateError> {
        // Compiled once: checked for partials, then registered as it is (the registry's
        // `register_template_string` would parse the source a second time; the parse is most
        // of a cold start's sink set-up). The engine keeps Handlebars' default indentation, as
        // `Template::compile` does.
        let mut compiled = handlebars::template::Template::compile(source).map_err(|e| {
            let (line, column) = e.pos().map_or((None, None), |(l, c)| (Some(l), Some(c)));
            TemplateError {
                origin: origin.to_string(),
                line,
                column,
                message: e.reason().to_string(),
            }
        })?;
        if let Some((line, column, what)) = find_partial(&compiled) {
            return Err(TemplateError {
                origin: origin.to_string(),
                line: Some(line),
                column: Some(column),
                message: format!(
                    "{what} is not supported: each sink template stands alone (templates that \
                     include each other can recurse without end)"
                ),
            });
        }
        compiled.name = Some(name.to_owned());
        self.hb.register_template(name, compiled);
        self.origins.insert(name.to_string(), origin.to_string());
        Ok(())
    }

    /// Reads and compiles a template file.
    pub fn register_file(
        &mut self,
        name: &str,
        path: &std::path::Path,
    ) -> Result<(), TemplateError> {
        let origin = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| TemplateError {
            origin: origin.clone(),
            line: None,
            column: None,
            message: format!("cannot read template: {e}"),
        })?;
        self.register(name, &source, &origin)
    }

    pub fn has(&self, name: &str) -> bool {
        self.origins.contains_key(name)
    }

    /// Where template `name` came from.
    pub fn origin(&self, name: &str) -> Option<&str> {
        self.origins.get(name).map(String::as_str)
    }

    /// Renders `name` over `data`. Handlebars copies `data` whole for each call: a digest's data
    /// (up to thousands of findings with every raw field) is better wrapped once in
    /// [`TemplateData`] and rendered with [`render_with`](Self::render_with).
    pub fn render(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        self.render_with(name, &TemplateData::new(data.clone()))
    }

    /// Renders `name` over `data` without copying it.
    pub fn render_with(&self, name: &str, data: &TemplateData) -> Result<String, TemplateError> {
        self.hb.render_with_context(name, &data.0).map_err(|e| {
            let origin = self
                .origins
                .get(name)
                .cloned()
                .unwrap_or_else(|| name.to_string());
            TemplateError {
                origin,
                line: e.line_no,
                column: e.column_no,
                message: e.reason().to_string(),
            }
        })
    }
}

/// The data templates render, owned once: [`TemplateEngine::render_with`] reads it in place
/// (Handlebars' `render` would serialize a copy of the whole value for every template, which for
/// a full digest costs as much memory as the digest's data again, per render).
pub struct TemplateData(handlebars::Context);

impl TemplateData {
    pub fn new(data: Value) -> Self {
        TemplateData(handlebars::Context::from(data))
    }

    pub fn value(&self) -> &Value {
        self.0.data()
    }
}

/// The first partial (`{{> name}}`, `{{#> name}}`) or decorator (`{{*inline}}`) in `t`, with its
/// line and column. Refused at registration: two templates including each other recurse until the
/// stack overflows and the process aborts, which Handlebars does not guard against.
fn find_partial(t: &handlebars::template::Template) -> Option<(usize, usize, &'static str)> {
    use handlebars::template::TemplateElement as E;
    for (i, element) in t.elements.iter().enumerate() {
        let found = match element {
            E::PartialExpression(_) | E::PartialBlock(_) => Some("a partial (`{{> name}}`)"),
            E::DecoratorExpression(_) | E::DecoratorBlock(_) => {
                Some("a decorator or inline partial (`{{* …}}`)")
            }
            E::HelperBlock(h) => {
                if let Some(inner) = [&h.template, &h.inverse]
                    .into_iter()
                    .flatten()
                    .find_map(find_partial)
                {
                    return Some(inner);
                }
                None
            }
            _ => None,
        };
        if let Some(what) = found {
            let (line, column) = t.mapping.get(i).map_or((1, 1), |m| (m.0, m.1));
            return Some((line, column, what));
        }
    }
    None
}

/// The data a template sees for one digest: the [`Digest`] fields (`sink`, `report`,
/// `report_title`, `is_job_report`, `source`, `total`, `omitted`, `environments`, `accounts`,
/// `regions`, `rules`, `groups[].{framework, control, status, count, omitted, accounts, regions,
/// findings[]}`) plus
/// - `environment` (the environments joined by `, `), `controls` (number of groups),
///   `kept` (findings listed), `unit` (`resource`, `evaluation` or `job`: what a finding is), `test`, `generated_at` (RFC 3339), `report_url` (S3 console link
///   to the report, or its uri), `console_url` (AWS Backup console home for the first region);
/// - on each group: `console_url` (the framework's page; `null` for job reports);
/// - on each finding: `name` (resourceName or the resource), `message` (statusMessage /
///   scanResultStatus, or `null`), `console_url` (job page for job reports, resource page else),
///   and `change` (`new`, `ongoing`; `null` without state), `first_seen`, `days_open`;
/// - next to the previous report of the stream (`null`, `false` or empty without state):
///   `state` (whether it is known), `new`, `ongoing`, `resolved` (counts), `since` (the previous
///   report's date), `first_report`, `oldest_days`, `unlisted` (ongoing findings counted, not
///   listed), `notify`, `resolved_findings` (listed, each like a finding with `change =
///   "resolved"`), `resolved_omitted`; on each group `new`, `ongoing`, `resolved`.
pub fn render_data(digest: &Digest, ctx: &RenderContext) -> Value {
    let mut v = match serde_json::to_value(digest) {
        Ok(v) => v,
        // A Digest is plain strings, numbers, sets and vectors: serializing it cannot fail.
        Err(_) => Value::Null,
    };
    let region = digest.regions.iter().next().cloned();
    let kept: usize = digest.groups.iter().map(|g| g.findings.len()).sum();
    if let Value::Object(m) = &mut v {
        m.insert(
            "environment".into(),
            Value::String(
                digest
                    .environments
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
        m.insert("controls".into(), json!(digest.groups.len()));
        let unit = match digest.report {
            crate::ReportTemplate::ResourceCompliance => "resource",
            crate::ReportTemplate::ControlCompliance => "evaluation",
            _ => "job",
        };
        m.insert("unit".into(), Value::String(unit.into()));
        m.insert("kept".into(), json!(kept));
        m.insert("test".into(), Value::Bool(ctx.test));
        m.insert(
            "generated_at".into(),
            Value::String(ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        let report_url = match (&digest.source.bucket, &digest.source.key) {
            (Some(b), Some(k)) => s3_console_url(b, k),
            _ => digest.source.uri.clone(),
        };
        m.insert("report_url".into(), Value::String(report_url));
        m.insert(
            "console_url".into(),
            Value::String(backup_console_home(region.as_deref())),
        );
        insert_changes(m, digest.changes.as_ref());
        if let Some(Value::Array(groups)) = m.get_mut("groups") {
            for (g, group) in groups.iter_mut().zip(&digest.groups) {
                let Value::Object(gm) = g else { continue };
                let g_region = group.regions.iter().next().or(region.as_ref());
                let url = group
                    .framework
                    .as_deref()
                    .map(|f| Value::String(console_framework_url(f, g_region.map(String::as_str))))
                    .unwrap_or(Value::Null);
                gm.insert("console_url".into(), url);
                if let Some(Value::Array(findings)) = gm.get_mut("findings") {
                    for (fv, f) in findings.iter_mut().zip(&group.findings) {
                        let Value::Object(fm) = fv else { continue };
                        enrich_finding(fm, f);
                    }
                }
            }
        }
    }
    v
}

/// The digest's [`crate::digest::Changes`] as top-level keys, each present (null, false, 0 or
/// empty) without state so strict templates can test them.
fn insert_changes(m: &mut Map<String, Value>, changes: Option<&crate::digest::Changes>) {
    let Some(c) = changes else {
        m.insert("state".into(), Value::Bool(false));
        for key in [
            "new",
            "ongoing",
            "resolved",
            "since",
            "oldest_days",
            "unlisted",
            "notify",
        ] {
            m.insert(key.into(), Value::Null);
        }
        m.insert("first_report".into(), Value::Bool(false));
        m.insert("resolved_findings".into(), Value::Array(Vec::new()));
        m.insert("resolved_omitted".into(), json!(0));
        return;
    };
    m.insert("state".into(), Value::Bool(true));
    if let Ok(Value::Object(fields)) = serde_json::to_value(c) {
        for (k, v) in fields {
            m.insert(k, v);
        }
    }
    if let Some(Value::Array(resolved)) = m.get_mut("resolved_findings") {
        for (fv, f) in resolved.iter_mut().zip(&c.resolved_findings) {
            if let Value::Object(fm) = fv {
                enrich_finding(fm, f);
            }
        }
    }
}

fn enrich_finding(fm: &mut Map<String, Value>, f: &crate::Finding) {
    let name = f
        .fields
        .get_text("resourceName")
        .or_else(|| f.resource.clone());
    fm.insert(
        "name".into(),
        name.map(Value::String).unwrap_or(Value::Null),
    );
    let message = ["statusMessage", "message", "scanResultStatus"]
        .iter()
        .find_map(|k| f.fields.get_text(k));
    fm.insert(
        "message".into(),
        message.map(Value::String).unwrap_or(Value::Null),
    );
    let region = f.region.as_deref();
    let url = if f.report.is_job() {
        f.job_id
            .as_deref()
            .map(|j| console_job_url(f.report.name(), j, region))
    } else {
        f.resource
            .as_deref()
            .map(|r| console_resource_url(r, region))
    };
    fm.insert(
        "console_url".into(),
        url.map(Value::String).unwrap_or(Value::Null),
    );
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The AWS Backup console home in `region` (or the default region when unknown).
pub fn backup_console_home(region: Option<&str>) -> String {
    match region {
        Some(r) => format!(
            "https://console.aws.amazon.com/backup/home?region={}",
            enc(r)
        ),
        None => "https://console.aws.amazon.com/backup/home".to_string(),
    }
}

/// The AWS Backup console page of an Audit Manager framework.
pub fn console_framework_url(framework: &str, region: Option<&str>) -> String {
    format!(
        "{}#/compliance/frameworks/details/{}",
        backup_console_home(region),
        enc(framework)
    )
}

/// The AWS Backup console page of a protected resource (ARN or id).
pub fn console_resource_url(resource: &str, region: Option<&str>) -> String {
    format!(
        "{}#/resources/{}",
        backup_console_home(region),
        enc(resource)
    )
}

/// The AWS Backup console page of a job; `report` is the template name
/// (`BACKUP_JOB_REPORT`, …) or the job kind (`backup`, `copy`, `restore`, `scan`).
pub fn console_job_url(report: &str, job_id: &str, region: Option<&str>) -> String {
    let kind = match report {
        "COPY_JOB_REPORT" | "copy" => "copy",
        "RESTORE_JOB_REPORT" | "restore" => "restore",
        "SCAN_JOB_REPORT" | "MALWARE_JOB_REPORT" | "scan" => "scan",
        _ => "backup",
    };
    format!(
        "{}#/jobs/{kind}/details/{}",
        backup_console_home(region),
        enc(job_id)
    )
}

/// The S3 console page of an object.
pub fn s3_console_url(bucket: &str, key: &str) -> String {
    format!(
        "https://s3.console.aws.amazon.com/s3/object/{}?prefix={}",
        enc(bucket),
        enc(key)
    )
}

// ---------------------------------------------------------------- helpers

type HelperFn = fn(&[Value]) -> Result<Value, String>;

/// A value helper: its result is escaped by the engine like any `{{value}}`.
struct FnHelper {
    min_args: usize,
    f: HelperFn,
}

impl HelperDef for FnHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut handlebars::RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, handlebars::RenderError> {
        let args: Vec<Value> = h.params().iter().map(|p| p.value().clone()).collect();
        if args.len() < self.min_args {
            return Err(RenderErrorReason::Other(format!(
                "helper `{}` needs {} argument(s), got {}",
                h.name(),
                self.min_args,
                args.len()
            ))
            .into());
        }
        (self.f)(&args)
            .map(ScopedJson::Derived)
            .map_err(|m| RenderErrorReason::Other(format!("helper `{}`: {m}", h.name())).into())
    }
}

fn register_helpers(hb: &mut Handlebars<'static>) {
    let helpers: [(&str, usize, HelperFn); 21] = [
        ("get", 2, h_get),
        ("length", 1, h_length),
        ("pluralize", 2, h_pluralize),
        ("plural", 2, h_plural),
        ("group_by", 2, h_group_by),
        ("sort_by", 2, h_sort_by),
        ("sort", 1, h_sort),
        ("take", 2, h_take),
        ("rest_count", 2, h_rest_count),
        ("more", 2, h_more),
        ("truncate", 2, h_truncate),
        ("date", 1, h_date),
        ("default", 2, h_default),
        ("join", 1, h_join),
        ("upper", 1, h_upper),
        ("lower", 1, h_lower),
        ("json", 1, h_json),
        ("console_framework_url", 1, h_console_framework),
        ("console_resource_url", 1, h_console_resource),
        ("console_job_url", 2, h_console_job),
        ("s3_console_url", 2, h_s3_console),
    ];
    for (name, min_args, f) in helpers {
        hb.register_helper(name, Box::new(FnHelper { min_args, f }));
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn opt_text(v: Option<&Value>) -> Option<String> {
    v.map(text).filter(|s| !s.is_empty())
}

fn num(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| format!("{what}: expected a non-negative number, got {n}")),
        Value::String(s) => s
            .parse()
            .map_err(|_| format!("{what}: expected a number, got {s:?}")),
        Value::Array(a) => Ok(a.len() as u64),
        other => Err(format!("{what}: expected a number, got {other}")),
    }
}

fn list<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], String> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(&[]),
        other => Err(format!("{what}: expected a list, got {}", kind_of(other))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A dotted path (`fields.jobStatus`) inside an item.
fn lookup<'a>(item: &'a Value, path: &str) -> &'a Value {
    let mut cur = item;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg).unwrap_or(&Value::Null),
            Value::Array(a) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    cur
}

fn h_get(a: &[Value]) -> Result<Value, String> {
    Ok(lookup(&a[0], &text(&a[1])).clone())
}

fn h_length(a: &[Value]) -> Result<Value, String> {
    Ok(json!(match &a[0] {
        Value::Array(x) => x.len(),
        Value::Object(x) => x.len(),
        Value::String(s) => s.chars().count(),
        Value::Null => 0,
        other => return num(other, "count").map(|n| json!(n)),
    }))
}

fn plural_word(n: u64, a: &[Value]) -> String {
    let singular = text(&a[1]);
    if n == 1 {
        singular
    } else {
        opt_text(a.get(2)).unwrap_or_else(|| pluralize_word(&singular))
    }
}

/// English plural of a noun, for the common cases (`policy` → `policies`, `status` → `statuses`).
pub fn pluralize_word(w: &str) -> String {
    if w.ends_with('y') && !w.ends_with("ay") && !w.ends_with("ey") && !w.ends_with("oy") {
        format!("{}ies", &w[..w.len() - 1])
    } else if w.ends_with('s') || w.ends_with('x') || w.ends_with("ch") || w.ends_with("sh") {
        format!("{w}es")
    } else {
        format!("{w}s")
    }
}

fn h_pluralize(a: &[Value]) -> Result<Value, String> {
    let n = num(&a[0], "count")?;
    Ok(Value::String(format!("{n} {}", plural_word(n, a))))
}

fn h_plural(a: &[Value]) -> Result<Value, String> {
    let n = num(&a[0], "count")?;
    Ok(Value::String(plural_word(n, a)))
}

fn h_group_by(a: &[Value]) -> Result<Value, String> {
    let items = list(&a[0], "group_by")?;
    let field = text(&a[1]);
    let mut groups: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for item in items {
        groups
            .entry(text(lookup(item, &field)))
            .or_default()
            .push(item.clone());
    }
    Ok(Value::Array(
        groups
            .into_iter()
            .map(|(key, items)| json!({"key": key, "count": items.len(), "items": items}))
            .collect(),
    ))
}

fn cmp_values(x: &Value, y: &Value) -> std::cmp::Ordering {
    match (x, y) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        _ => text(x).cmp(&text(y)),
    }
}

fn h_sort_by(a: &[Value]) -> Result<Value, String> {
    let mut items = list(&a[0], "sort_by")?.to_vec();
    let field = text(&a[1]);
    items.sort_by(|x, y| cmp_values(lookup(x, &field), lookup(y, &field)));
    if opt_text(a.get(2)).as_deref() == Some("desc") {
        items.reverse();
    }
    Ok(Value::Array(items))
}

fn h_sort(a: &[Value]) -> Result<Value, String> {
    let mut items = list(&a[0], "sort")?.to_vec();
    items.sort_by(cmp_values);
    Ok(Value::Array(items))
}

fn h_take(a: &[Value]) -> Result<Value, String> {
    let items = list(&a[0], "take")?;
    let n = num(&a[1], "take")? as usize;
    Ok(Value::Array(items.iter().take(n).cloned().collect()))
}

fn h_rest_count(a: &[Value]) -> Result<Value, String> {
    let len = list(&a[0], "rest_count")?.len() as u64;
    let n = num(&a[1], "rest_count")?;
    Ok(json!(len.saturating_sub(n)))
}

fn h_more(a: &[Value]) -> Result<Value, String> {
    let n = num(&a[0], "more")?;
    let noun = plural_word(n, a);
    Ok(Value::String(if n == 0 {
        String::new()
    } else {
        and_more(n, &noun)
    }))
}

fn h_truncate(a: &[Value]) -> Result<Value, String> {
    let n = num(&a[1], "truncate")? as usize;
    Ok(Value::String(crate::text::truncate_chars(&text(&a[0]), n)))
}

fn h_date(a: &[Value]) -> Result<Value, String> {
    let raw = text(&a[0]);
    let fmt = opt_text(a.get(1)).unwrap_or_else(|| "%Y-%m-%d %H:%M UTC".to_string());
    // Check the format first: chrono panics on Display of an invalid format string otherwise.
    let items: Vec<_> = chrono::format::StrftimeItems::new(&fmt).collect();
    if items.contains(&chrono::format::Item::Error) {
        return Err(format!("invalid date format {fmt:?}"));
    }
    Ok(Value::String(
        match chrono::DateTime::parse_from_rfc3339(raw.trim()) {
            Ok(t) => t
                .with_timezone(&chrono::Utc)
                .format_with_items(items.iter())
                .to_string(),
            // A date (`since`, `first_seen`): its midnight UTC.
            Err(_) => match chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
                Ok(d) => d
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc().format_with_items(items.iter()).to_string())
                    .unwrap_or(raw),
                // Not a timestamp (empty, or a legacy period string): printed as it is.
                Err(_) => raw,
            },
        },
    ))
}

fn h_default(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Null => a[1].clone(),
        Value::String(s) if s.is_empty() => a[1].clone(),
        v => v.clone(),
    })
}

fn h_join(a: &[Value]) -> Result<Value, String> {
    let sep = opt_text(a.get(1)).unwrap_or_else(|| ", ".to_string());
    Ok(Value::String(
        list(&a[0], "join")?
            .iter()
            .map(text)
            .collect::<Vec<_>>()
            .join(&sep),
    ))
}

fn h_upper(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(&a[0]).to_uppercase()))
}

fn h_lower(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(&a[0]).to_lowercase()))
}

fn h_json(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(a[0].to_string()))
}

fn h_console_framework(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(console_framework_url(
        &text(&a[0]),
        opt_text(a.get(1)).as_deref(),
    )))
}

fn h_console_resource(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(console_resource_url(
        &text(&a[0]),
        opt_text(a.get(1)).as_deref(),
    )))
}

fn h_console_job(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(console_job_url(
        &text(&a[0]),
        &text(&a[1]),
        opt_text(a.get(2)).as_deref(),
    )))
}

fn h_s3_console(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(s3_console_url(&text(&a[0]), &text(&a[1]))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportTemplate;
    use crate::samples::sample_digest;

    fn render(escape: Escape, src: &str, data: &Value) -> Result<String, TemplateError> {
        let mut e = TemplateEngine::new(escape);
        e.register("t", src, "t.hbs")?;
        e.render("t", data)
    }

    #[test]
    fn slack_escaping_covers_values_and_helper_output() {
        let data = json!({"name": "<!channel> & <https://evil|click>"});
        let out = render(
            Escape::Slack,
            "{{name}} | {{truncate name 100}} | {{upper name}}",
            &data,
        )
        .unwrap();
        assert!(!out.contains('<') && !out.contains('>'), "{out}");
        assert!(out.starts_with("&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"));
        assert_eq!(
            render(Escape::None, "{{name}}", &data).unwrap(),
            "<!channel> & <https://evil|click>",
            "no HTML escaping of plain text"
        );
        assert_eq!(
            render(
                Escape::Json,
                "{\"t\":\"{{name}}\"}",
                &json!({"name": "a\"b\n"})
            )
            .unwrap(),
            "{\"t\":\"a\\\"b\\n\"}"
        );
    }

    #[test]
    fn strict_mode_errors_have_line_and_column() {
        let e = render(Escape::None, "line one\n  {{nmae}}", &json!({"name": 1})).unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e}");
        assert!(e.to_string().starts_with("t.hbs:2:3: "), "{e}");
        let e = render(Escape::None, "{{#each x}}\n{{/if}}", &json!({})).unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn domain_helpers() {
        let d = sample_digest(ReportTemplate::ResourceCompliance, "s");
        let data = render_data(&d, &RenderContext::now());
        let t = |src: &str| render(Escape::None, src, &data).unwrap();
        assert_eq!(
            t("{{pluralize 1 \"policy\"}}/{{pluralize 2 \"policy\"}}"),
            "1 policy/2 policies"
        );
        assert_eq!(t("{{length groups}}"), "3");
        assert_eq!(
            t("{{#each (group_by groups \"framework\")}}{{key}}={{count}};{{/each}}"),
            "pci-framework=1;prod-backup-policy=2;"
        );
        assert_eq!(
            t(
                "{{#each (take (sort_by groups \"count\" \"desc\") 1)}}{{control}}{{/each}}+{{rest_count groups 1}}"
            ),
            "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN+2"
        );
        assert_eq!(
            t("{{more 0 \"resource\"}}|{{more 3 \"resource\"}}"),
            "|…and 3 more resources"
        );
        assert_eq!(t("{{truncate \"abcdef\" 4}}"), "abc…");
        assert_eq!(
            t("{{date \"2026-11-25T06:02:05.444Z\" \"%d %b %Y\"}}"),
            "25 Nov 2026"
        );
        assert_eq!(t("{{date \"not a date\"}}"), "not a date");
        assert_eq!(
            t("{{default null \"-\"}}{{default \"\" \"-\"}}{{default \"x\" \"-\"}}"),
            "--x"
        );
        assert_eq!(t("{{get groups.0 \"nope.deeper\"}}"), "");
        assert!(
            t("{{console_job_url \"COPY_JOB_REPORT\" \"id 1\" \"eu-west-1\"}}")
                .ends_with("?region=eu-west-1#/jobs/copy/details/id+1")
        );
        assert!(
            t("{{console_resource_url \"arn:aws:ec2:x\"}}")
                .ends_with("#/resources/arn%3Aaws%3Aec2%3Ax")
        );
        assert!(
            render(
                Escape::None,
                "{{date x \"%Q\"}}",
                &json!({"x": "2026-01-01T00:00:00Z"})
            )
            .unwrap_err()
            .message
            .contains("invalid date format")
        );
        assert!(
            render(Escape::None, "{{take x}}", &json!({"x": []}))
                .unwrap_err()
                .message
                .contains("needs 2 argument")
        );
    }
}
