//! The rules.toml schema, read from the spanned TOML tree (`toml::de::DeTable`) by hand so that
//! every value keeps its position and *all* problems are reported, not just the first.
//! `${env:…}` references are expanded as each string is read.

use super::interpolate::{self, Escapes, InterpolateError};
use super::notify::{MAX_MIN_FINDINGS, Notify, POLICY_KEYS, PolicyOverride, parse_days};
use super::{Diagnostic, LoadOptions, Severity};
use crate::sink_api::MATCH_FIELDS;
use crate::sink_api::text::suggest;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A value and the byte range it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

/// Byte offsets → 1-based line and column (columns count characters).
pub struct SourceMap<'a> {
    pub file: &'a str,
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceMap {
            file,
            text,
            line_starts,
        }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    pub fn diagnostic(&self, severity: Severity, offset: usize, message: String) -> Diagnostic {
        let (line, column) = self.position(offset);
        Diagnostic {
            severity,
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }
}

/// `[settings]`
#[derive(Debug, Default)]
pub struct RawSettings {
    pub default_environment: Option<Sp<String>>,
}

/// `[environments.NAME]`
#[derive(Debug)]
pub struct RawEnvironment {
    pub name: Sp<String>,
    pub accounts: Vec<Sp<String>>,
}

/// `[sinks.NAME]`
#[derive(Debug)]
pub struct RawSink {
    pub name: Sp<String>,
    pub kind: Sp<String>,
    /// `notify`, `repeat_after`, `resolved`, `min_findings`: the host's, not the plugin's.
    pub policy: PolicyOverride,
    pub settings: toml::Table,
    /// Where each setting's key is.
    pub key_spans: Vec<(String, Range<usize>)>,
}

/// One field of a `match` table: its patterns, each with its position.
#[derive(Debug)]
pub struct RawField {
    /// Index into [`MATCH_FIELDS`].
    pub field: usize,
    pub key_span: Range<usize>,
    pub patterns: Vec<Sp<String>>,
}

/// `[[rules]]`
#[derive(Debug)]
pub struct RawRule {
    /// 0-based position in the file.
    pub index: usize,
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub sinks: Option<Vec<Sp<String>>>,
    pub continue_: bool,
    pub fields: Vec<RawField>,
    /// `notify`, `repeat_after`, `resolved`, `min_findings` for the findings this rule routes.
    pub policy: PolicyOverride,
}

impl RawRule {
    /// `rule "NAME"`, or `rules[3]` when the name is missing.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("rule {:?}", n.value),
            None => format!("rules[{}]", self.index),
        }
    }
}

/// `[[silences]]`
#[derive(Debug)]
pub struct RawSilence {
    pub index: usize,
    pub fields: Option<Vec<RawField>>,
    /// Where `match` is, when it is an empty table (it silences everything).
    pub empty_match: Option<Range<usize>>,
    pub until: Option<Sp<chrono::NaiveDate>>,
    pub reason: Option<Sp<String>>,
}

/// The whole file, as read (not yet cross-checked).
#[derive(Debug, Default)]
pub struct RawConfig {
    pub settings: RawSettings,
    pub environments: Vec<RawEnvironment>,
    pub sinks: Vec<RawSink>,
    pub rules: Vec<RawRule>,
    pub silences: Vec<RawSilence>,
}

const TOP_KEYS: [&str; 5] = ["settings", "environments", "sinks", "rules", "silences"];
const SETTINGS_KEYS: [&str; 1] = ["default_environment"];
const ENVIRONMENT_KEYS: [&str; 1] = ["accounts"];
const RULE_KEYS: [&str; 8] = [
    "name",
    "sinks",
    "continue",
    "match",
    "notify",
    "repeat_after",
    "resolved",
    "min_findings",
];
const SILENCE_KEYS: [&str; 3] = ["match", "until", "reason"];

/// Reads `text`; pushes every problem found into `diags`. `None` when the TOML itself is broken.
pub fn read(
    src: &SourceMap<'_>,
    opts: &LoadOptions,
    vars: &BTreeMap<String, String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<RawConfig> {
    let (root, errors) = DeTable::parse_recoverable(src.text);
    if !errors.is_empty() {
        for e in errors {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_string();
            diags.push(src.diagnostic(Severity::Error, offset, format!("TOML syntax: {message}")));
        }
        return None;
    }
    let mut r = Reader {
        src,
        opts,
        vars,
        diags,
    };
    Some(r.document(root.get_ref()))
}

struct Reader<'a, 'b> {
    src: &'a SourceMap<'a>,
    opts: &'a LoadOptions,
    /// `${env:NAME}` values looked up before the process environment.
    vars: &'a BTreeMap<String, String>,
    diags: &'b mut Vec<Diagnostic>,
}

type Entry<'t, 'i> = (
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
);

/// A table's entries in file order (the map itself is sorted by key).
fn entries<'t, 'i>(t: &'t DeTable<'i>) -> Vec<Entry<'t, 'i>> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl Reader<'_, '_> {
    fn error(&mut self, offset: usize, message: String) {
        self.diags
            .push(self.src.diagnostic(Severity::Error, offset, message));
    }

    fn warn(&mut self, offset: usize, message: String) {
        self.diags
            .push(self.src.diagnostic(Severity::Warning, offset, message));
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        what: &str,
        known: &[&str],
    ) {
        let name = key.get_ref();
        let hint = match suggest(name, known) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        self.error(
            key.span().start,
            format!(
                "unknown key `{name}` in {what}{hint}; expected one of: {}",
                known.join(", ")
            ),
        );
    }

    fn expect_table<'t, 'i>(
        &mut self,
        v: &'t Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'t DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    v.span().start,
                    format!("{what}: expected a table, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// Byte offset in the source of byte `offset` of the decoded string at `span`.
    fn offset_in_string(&self, span: &Range<usize>, decoded: &str, offset: usize) -> usize {
        let raw = self.src.text.get(span.clone()).unwrap_or("");
        let delim = ["\"\"\"", "'''", "\"", "'"]
            .into_iter()
            .find(|d| raw.starts_with(d) && raw.ends_with(d) && raw.len() >= 2 * d.len());
        let Some(delim) = delim else {
            return span.start;
        };
        let inner = &raw[delim.len()..raw.len() - delim.len()];
        let inner_start = span.start + delim.len();
        if inner == decoded {
            return inner_start + offset;
        }
        // Escapes or line continuations moved things: look for the reference text itself.
        let tail = &decoded[offset..];
        let needle_end = tail.find('}').map_or(tail.len(), |i| i + 1);
        match inner.find(&tail[..needle_end]) {
            Some(i) => inner_start + i,
            None => span.start,
        }
    }

    fn interpolate(&mut self, v: &str, span: &Range<usize>, escapes: Escapes) -> Option<String> {
        let resolver = interpolate::env_resolver_with(self.opts.resolve_env, self.vars);
        match interpolate::expand(v, escapes, resolver) {
            Ok(s) => Some(s.into_owned()),
            Err(e) => {
                let at = self.offset_in_string(span, v, e.offset());
                let message = match &e {
                    InterpolateError::MissingEnv { .. } => {
                        format!("{e} (set it, or run `check --no-env` to skip)")
                    }
                    _ => e.to_string(),
                };
                self.error(at, message);
                None
            }
        }
    }

    /// A string value, `${env:…}` expanded and `$${` unescaped.
    fn string(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Sp<String>> {
        match v.get_ref() {
            DeValue::String(s) => {
                let value = self.interpolate(s, &v.span(), Escapes::Unescape)?;
                Some(Sp {
                    value,
                    span: v.span(),
                })
            }
            other => {
                self.error(
                    v.span().start,
                    format!("{what}: expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A list of strings (each checked; bad items reported by index).
    fn string_list(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Vec<Sp<String>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                v.span().start,
                format!(
                    "{what}: expected an array of strings, found {}",
                    type_name(v.get_ref())
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(item, &format!("{what}[{i}]")) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn document(&mut self, root: &DeTable<'_>) -> RawConfig {
        let mut cfg = RawConfig::default();
        for (key, value) in entries(root) {
            match key.get_ref().as_ref() {
                "settings" => {
                    if let Some(t) = self.expect_table(value, "[settings]") {
                        cfg.settings = self.settings(t);
                    }
                }
                "environments" => {
                    if let Some(t) = self.expect_table(value, "[environments]") {
                        cfg.environments = self.environments(t);
                    }
                }
                "sinks" => {
                    if let Some(t) = self.expect_table(value, "[sinks]") {
                        cfg.sinks = self.sinks(t);
                    }
                }
                "rules" => cfg.rules = self.array_of_tables(value, "rules", Self::rule),
                "silences" => cfg.silences = self.array_of_tables(value, "silences", Self::silence),
                _ => self.unknown_key(key, "the top level", &TOP_KEYS),
            }
        }
        cfg
    }

    fn array_of_tables<T>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
        mut each: impl FnMut(&mut Self, usize, Range<usize>, &DeTable<'_>) -> T,
    ) -> Vec<T> {
        let DeValue::Array(items) = value.get_ref() else {
            self.error(
                value.span().start,
                format!(
                    "`{what}`: expected an array of tables ([[{what}]]), found {}",
                    type_name(value.get_ref())
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(t) = self.expect_table(item, &format!("{what}[{i}]")) {
                out.push(each(self, i, item.span(), t));
            }
        }
        out
    }

    fn settings(&mut self, t: &DeTable<'_>) -> RawSettings {
        let mut s = RawSettings::default();
        for (key, value) in entries(t) {
            match key.get_ref().as_ref() {
                "default_environment" => {
                    s.default_environment = self.string(value, "settings.default_environment");
                    if let Some(d) = &s.default_environment
                        && d.value.is_empty()
                    {
                        let at = d.span.start;
                        self.error(at, "settings.default_environment: must not be empty".into());
                        s.default_environment = None;
                    }
                }
                _ => self.unknown_key(key, "[settings]", &SETTINGS_KEYS),
            }
        }
        s
    }

    fn environments(&mut self, t: &DeTable<'_>) -> Vec<RawEnvironment> {
        let mut out = Vec::new();
        for (key, value) in entries(t) {
            let name = key.get_ref().to_string();
            let what = format!("[environments.{name}]");
            let Some(env) = self.expect_table(value, &what) else {
                continue;
            };
            let mut accounts = None;
            for (k, v) in entries(env) {
                match k.get_ref().as_ref() {
                    "accounts" => {
                        accounts = self.string_list(v, &format!("environments.{name}.accounts"))
                    }
                    _ => self.unknown_key(k, &what, &ENVIRONMENT_KEYS),
                }
            }
            if !env.contains_key("accounts") {
                self.error(
                    value.span().start,
                    format!("{what}: missing required key `accounts` (a list of account IDs)"),
                );
            }
            let accounts = accounts.unwrap_or_default();
            for a in &accounts {
                if !interpolate::has_env_reference(&a.value)
                    && (a.value.len() != 12 || !a.value.bytes().all(|b| b.is_ascii_digit()))
                {
                    let at = a.span.start;
                    self.warn(
                        at,
                        format!(
                            "environments.{name}.accounts: {:?} is not a 12-digit AWS account ID",
                            a.value
                        ),
                    );
                }
            }
            out.push(RawEnvironment {
                name: Sp {
                    value: name,
                    span: key.span(),
                },
                accounts,
            });
        }
        out
    }

    /// One of [`POLICY_KEYS`] of `what` (`sinks.NAME`, `rules[3]`) into `policy`.
    fn policy_key(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        what: &str,
        policy: &mut PolicyOverride,
    ) {
        let path = format!("{what}.{key}");
        let at = v.span().start;
        match key {
            "notify" => {
                if let Some(s) = self.string(v, &path) {
                    match Notify::parse(&s.value) {
                        Some(n) => policy.notify = Some(n),
                        None => self.error(
                            s.span.start,
                            format!(
                                "{path}: expected \"always\" or \"changes\", found {:?}",
                                s.value
                            ),
                        ),
                    }
                }
            }
            "repeat_after" => {
                if let Some(s) = self.string(v, &path) {
                    match parse_days(&s.value) {
                        Ok(d) => policy.repeat_after = Some(d),
                        Err(e) => self.error(s.span.start, format!("{path}: {e}")),
                    }
                }
            }
            "resolved" => match v.get_ref() {
                DeValue::Boolean(b) => policy.resolved = Some(*b),
                other => self.error(
                    at,
                    format!("{path}: expected true or false, found {}", type_name(other)),
                ),
            },
            _ => match v.get_ref() {
                DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if (0..=MAX_MIN_FINDINGS as i64).contains(&n) => {
                        policy.min_findings = Some(n as u64)
                    }
                    _ => self.error(
                        at,
                        format!(
                            "{path}: expected a whole number from 0 to {MAX_MIN_FINDINGS}, found {i}"
                        ),
                    ),
                },
                other => self.error(
                    at,
                    format!(
                        "{path}: expected a whole number from 0 to {MAX_MIN_FINDINGS}, found {}",
                        type_name(other)
                    ),
                ),
            },
        }
    }

    fn sinks(&mut self, t: &DeTable<'_>) -> Vec<RawSink> {
        let mut out = Vec::new();
        for (key, value) in entries(t) {
            let name = key.get_ref().to_string();
            let what = format!("[sinks.{name}]");
            let Some(table) = self.expect_table(value, &what) else {
                continue;
            };
            let mut kind = None;
            let mut settings = toml::Table::new();
            let mut key_spans = Vec::new();
            let mut policy = PolicyOverride::default();
            for (k, v) in entries(table) {
                key_spans.push((k.get_ref().to_string(), k.span()));
                if k.get_ref() == "type" {
                    kind = self.string(v, &format!("sinks.{name}.type"));
                    continue;
                }
                if POLICY_KEYS.contains(&k.get_ref().as_ref()) {
                    self.policy_key(k.get_ref(), v, &format!("sinks.{name}"), &mut policy);
                    continue;
                }
                let path = format!("sinks.{name}.{}", k.get_ref());
                if let Some(v) = self.sink_value(v, &path) {
                    settings.insert(k.get_ref().to_string(), v);
                }
            }
            match kind {
                Some(kind) if kind.value.is_empty() => {
                    self.error(kind.span.start, format!("{what}: `type` must not be empty"))
                }
                Some(kind) => out.push(RawSink {
                    name: Sp {
                        value: name,
                        span: key.span(),
                    },
                    kind,
                    policy,
                    settings,
                    key_spans,
                }),
                None if !table.contains_key("type") => self.error(
                    value.span().start,
                    format!("{what}: missing required key `type` (sns, slack, log, webhook, …)"),
                ),
                None => {}
            }
        }
        out
    }

    /// A sink setting as a plain TOML value. Strings get `${env:…}` expanded; `$${` and other
    /// references stay for the sink layer.
    fn sink_value(&mut self, v: &Spanned<DeValue<'_>>, path: &str) -> Option<toml::Value> {
        Some(match v.get_ref() {
            DeValue::String(s) => {
                toml::Value::String(self.interpolate(s, &v.span(), Escapes::Keep)?)
            }
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => {
                    self.error(
                        v.span().start,
                        format!("{path}: integer {i} does not fit in 64 bits"),
                    );
                    return None;
                }
            },
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                Ok(n) => toml::Value::Float(n),
                Err(_) => {
                    self.error(v.span().start, format!("{path}: invalid float {f}"));
                    return None;
                }
            },
            DeValue::Boolean(b) => toml::Value::Boolean(*b),
            DeValue::Datetime(d) => toml::Value::Datetime(*d),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(self.sink_value(item, &format!("{path}[{i}]"))?);
                }
                toml::Value::Array(out)
            }
            DeValue::Table(t) => {
                let mut out = toml::Table::new();
                for (k, item) in entries(t) {
                    let p = format!("{path}.{}", k.get_ref());
                    out.insert(k.get_ref().to_string(), self.sink_value(item, &p)?);
                }
                toml::Value::Table(out)
            }
        })
    }

    fn match_table(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Vec<RawField>> {
        let t = self.expect_table(v, what)?;
        let mut fields = Vec::new();
        for (key, value) in entries(t) {
            let name = key.get_ref().as_ref();
            let Some(field) = MATCH_FIELDS.iter().position(|f| *f == name) else {
                self.unknown_key(key, what, &MATCH_FIELDS);
                continue;
            };
            let path = format!("{what}.{name}");
            let patterns = match value.get_ref() {
                DeValue::String(_) => self.string(value, &path).map(|s| vec![s]),
                DeValue::Array(items) if items.is_empty() => {
                    self.error(
                        value.span().start,
                        format!("{path}: empty list; give at least one pattern, or leave the field out to match everything"),
                    );
                    None
                }
                DeValue::Array(_) => self.string_list(value, &path),
                other => {
                    self.error(
                        value.span().start,
                        format!(
                            "{path}: expected a pattern string or a list of them, found {}",
                            type_name(other)
                        ),
                    );
                    None
                }
            };
            if let Some(patterns) = patterns {
                fields.push(RawField {
                    field,
                    key_span: key.span(),
                    patterns,
                });
            }
        }
        Some(fields)
    }

    fn rule(&mut self, index: usize, span: Range<usize>, t: &DeTable<'_>) -> RawRule {
        let mut rule = RawRule {
            index,
            span: span.clone(),
            name: None,
            sinks: None,
            continue_: false,
            fields: Vec::new(),
            policy: PolicyOverride::default(),
        };
        let what = format!("rules[{index}]");
        for (key, value) in entries(t) {
            match key.get_ref().as_ref() {
                "name" => {
                    rule.name = self.string(value, &format!("{what}.name"));
                    if let Some(n) = &rule.name
                        && n.value.trim().is_empty()
                    {
                        let at = n.span.start;
                        self.error(at, format!("{what}.name: must not be empty"));
                    }
                }
                "sinks" => rule.sinks = self.string_list(value, &format!("{what}.sinks")),
                "continue" => match value.get_ref() {
                    DeValue::Boolean(b) => rule.continue_ = *b,
                    other => self.error(
                        value.span().start,
                        format!(
                            "{what}.continue: expected true or false, found {}",
                            type_name(other)
                        ),
                    ),
                },
                "match" => {
                    rule.fields = self
                        .match_table(value, &format!("{what}.match"))
                        .unwrap_or_default()
                }
                k if POLICY_KEYS.contains(&k) => self.policy_key(k, value, &what, &mut rule.policy),
                _ => self.unknown_key(key, &format!("[[rules]] ({what})"), &RULE_KEYS),
            }
        }
        for required in ["name", "sinks"] {
            if !t.contains_key(required) {
                self.error(
                    span.start,
                    format!("{}: missing required key `{required}`", rule.label()),
                );
            }
        }
        rule
    }

    fn silence(&mut self, index: usize, span: Range<usize>, t: &DeTable<'_>) -> RawSilence {
        let what = format!("silences[{index}]");
        let mut s = RawSilence {
            index,
            fields: None,
            empty_match: None,
            until: None,
            reason: None,
        };
        for (key, value) in entries(t) {
            match key.get_ref().as_ref() {
                "match" => {
                    if let DeValue::Table(t) = value.get_ref()
                        && t.is_empty()
                    {
                        s.empty_match = Some(value.span());
                    }
                    s.fields = self.match_table(value, &format!("{what}.match"));
                }
                "until" => s.until = self.date(value, &format!("{what}.until")),
                "reason" => {
                    s.reason = self.string(value, &format!("{what}.reason"));
                    if let Some(r) = &s.reason
                        && r.value.trim().is_empty()
                    {
                        let at = r.span.start;
                        self.error(at, format!("{what}.reason: must not be empty: say why"));
                    }
                }
                _ => self.unknown_key(key, &format!("[[silences]] ({what})"), &SILENCE_KEYS),
            }
        }
        let needs = [
            ("match", "which findings it silences"),
            (
                "until",
                "a date (YYYY-MM-DD) after which it no longer applies",
            ),
            ("reason", "why the findings are silenced"),
        ];
        for (required, hint) in needs {
            if !t.contains_key(required) {
                self.error(
                    span.start,
                    format!("{what}: missing required key `{required}` ({hint})"),
                );
            }
        }
        s
    }

    fn date(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Sp<chrono::NaiveDate>> {
        let parsed = match v.get_ref() {
            DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => chrono::NaiveDate::from_ymd_opt(
                    i32::from(d.year),
                    u32::from(d.month),
                    u32::from(d.day),
                ),
                _ => None,
            },
            DeValue::String(_) => {
                let s = self.string(v, what)?;
                chrono::NaiveDate::parse_from_str(&s.value, "%Y-%m-%d").ok()
            }
            _ => None,
        };
        match parsed {
            Some(value) => Some(Sp {
                value,
                span: v.span(),
            }),
            None => {
                self.error(
                    v.span().start,
                    format!(
                        "{what}: expected a date like 2026-12-31 (a TOML date or a \"YYYY-MM-DD\" string), found {}",
                        match v.get_ref() {
                            DeValue::String(s) => format!("{s:?}"),
                            other => type_name(other).to_string(),
                        }
                    ),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let text = "ab\nçd\n\nx";
        let m = SourceMap::new("f", text);
        assert_eq!(m.position(0), (1, 1));
        assert_eq!(m.position(1), (1, 2));
        assert_eq!(m.position(3), (2, 1));
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(m.position(5), (2, 2));
        assert_eq!(m.position(7), (3, 1));
        assert_eq!(m.position(8), (4, 1));
        assert_eq!(m.position(999), (4, 2));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("contnue", &RULE_KEYS), Some("continue"));
        assert_eq!(suggest("stauts", &MATCH_FIELDS), Some("status"));
        assert_eq!(suggest("zzzzzz", &RULE_KEYS), None);
    }
}
