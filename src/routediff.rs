//! `audit-router diff`: what a change to the rules does to where findings go.
//!
//! Both rule files route the same reports, read once: every item goes through the base rules and
//! the new rules ([`Rules::route_view_memo`], the router a dry run uses), and a finding whose set
//! of sinks differs is listed under each sink it starts or stops going to, with the rule that
//! routes (new) or routed (base) it there. Beside the routing, the files' definitions are
//! compared: rules, sinks, environments and silences added, removed or changed, and settings.
//!
//! The base file may be `git:REV:path`: read with `git show REV:path` in the current directory
//! (the path is from the repository's top, or `./path` from the current directory).

use crate::ReportTemplate;
use crate::fetch;
use crate::location::ReportLocation;
use crate::output::finding_line;
use crate::pipeline::{FindingRow, PipelineError};
use crate::report::{self, ReportError};
use crate::rules::{Diagnostic, LoadOptions, RouteMemo, Routing, Rules, Severity};
use crate::run::SourceError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a rules file comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesSource {
    File(PathBuf),
    /// `git:REV:path`.
    Git {
        rev: String,
        path: String,
    },
}

impl RulesSource {
    /// `git:REV:path` (REV up to the next `:`), else a file path.
    pub fn parse(s: &str) -> RulesSource {
        if let Some(rest) = s.strip_prefix("git:")
            && let Some((rev, path)) = rest.split_once(':')
        {
            return RulesSource::Git {
                rev: rev.to_string(),
                path: path.to_string(),
            };
        }
        RulesSource::File(PathBuf::from(s))
    }

    /// How diagnostics name it.
    pub fn shown(&self) -> String {
        match self {
            RulesSource::File(p) => p.display().to_string(),
            RulesSource::Git { rev, path } => format!("git:{rev}:{path}"),
        }
    }

    /// The file's text and the directory its relative paths resolve against.
    fn read(&self) -> Result<(String, PathBuf), String> {
        let parent = |p: &Path| match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match self {
            RulesSource::File(p) => {
                let meta =
                    std::fs::metadata(p).map_err(|e| format!("cannot read the rules file: {e}"))?;
                if meta.len() > crate::rules::MAX_RULES_BYTES {
                    return Err(crate::rules::too_large(meta.len()));
                }
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read the rules file: {e}"))?;
                Ok((text, parent(p)))
            }
            RulesSource::Git { rev, path } => {
                if rev.is_empty() || path.is_empty() {
                    return Err("expected git:REV:path, e.g. git:origin/main:rules.toml".into());
                }
                let out = std::process::Command::new("git")
                    .arg("show")
                    .arg(format!("{rev}:{path}"))
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run git: {e}"))?;
                if !out.status.success() {
                    let err = String::from_utf8_lossy(&out.stderr);
                    return Err(format!(
                        "git show {rev}:{path} failed: {}",
                        err.trim().lines().next().unwrap_or("no message")
                    ));
                }
                if out.stdout.len() as u64 > crate::rules::MAX_RULES_BYTES {
                    return Err(crate::rules::too_large(out.stdout.len() as u64));
                }
                let text = String::from_utf8(out.stdout)
                    .map_err(|_| format!("git show {rev}:{path}: not UTF-8"))?;
                Ok((text, parent(Path::new(path))))
            }
        }
    }
}

/// A rules file that could not be loaded: every error, with file:line:column.
#[derive(Debug, thiserror::Error)]
#[error("{}", .diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct SetupError {
    pub diagnostics: Vec<Diagnostic>,
}

/// One side of the comparison.
#[derive(Debug)]
pub struct Side {
    /// As given (`rules.toml`, `git:HEAD:rules.toml`).
    pub shown: String,
    pub rules: Arc<Rules>,
    table: toml::Table,
}

/// Both sides of `diff` ([`load_side`]): the new rules and the base; on failure every
/// diagnostic of either side, the new side's first.
pub fn load_sides(
    new: &RulesSource,
    base: &RulesSource,
    opts: &LoadOptions,
) -> Result<(Side, Side), Vec<Diagnostic>> {
    match (load_side(new, opts), load_side(base, opts)) {
        (Ok(new), Ok(base)) => Ok((new, base)),
        (new, base) => Err([new.err(), base.err()]
            .into_iter()
            .flatten()
            .flat_map(|e| e.diagnostics)
            .collect()),
    }
}

/// Reads, validates and compiles one side.
pub fn load_side(source: &RulesSource, opts: &LoadOptions) -> Result<Side, SetupError> {
    let shown = source.shown();
    let (text, base_dir) = source.read().map_err(|message| SetupError {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            file: shown.clone(),
            line: 1,
            column: 1,
            message,
        }],
    })?;
    let (rules, _warnings) =
        Rules::parse(&text, &shown, base_dir, opts).map_err(|e| SetupError {
            diagnostics: e
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect(),
        })?;
    if !opts.resolve_env {
        let diagnostics = unresolved_match_references(&text, &shown);
        if !diagnostics.is_empty() {
            return Err(SetupError { diagnostics });
        }
    }
    // The rules parsed, so the TOML does too.
    let table = text.parse::<toml::Table>().unwrap_or_default();
    Ok(Side {
        shown,
        rules: Arc::new(rules),
        table,
    })
}

/// `--no-env` leaves `${env:…}` references as written; in a match pattern that would route as
/// the literal text (as `check --no-env` validates it), which is not what the deployment does.
/// Every such pattern is an error, at its position.
fn unresolved_match_references(text: &str, file: &str) -> Vec<Diagnostic> {
    use toml::de::{DeTable, DeValue};
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let src = crate::rules::SourceMap::new(file, text);
    let mut out = Vec::new();
    for section in ["rules", "silences"] {
        let Some(items) = root.get_ref().get(section) else {
            continue;
        };
        let DeValue::Array(items) = items.get_ref() else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let DeValue::Table(t) = item.get_ref() else {
                continue;
            };
            let Some(DeValue::Table(m)) = t.get("match").map(|m| m.get_ref()) else {
                continue;
            };
            for (field, value) in m.iter() {
                let strings: Vec<&toml::Spanned<DeValue<'_>>> = match value.get_ref() {
                    DeValue::Array(a) => a.iter().collect(),
                    _ => vec![value],
                };
                for v in strings {
                    if let DeValue::String(p) = v.get_ref()
                        && crate::rules::interpolate::has_env_reference(p)
                    {
                        out.push(src.diagnostic(
                            Severity::Error,
                            v.span().start,
                            format!(
                                "{section}[{i}].match.{}: pattern {p:?} references the \
                                 environment; --no-env would route it as that literal text: set \
                                 the variable and leave out --no-env",
                                field.get_ref()
                            ),
                        ));
                    }
                }
            }
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

// ---------------------------------------------------------------------------------------------
// Definitions

/// Named entries (rules, sinks, environments) added, removed or changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NamedChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<Changed>,
}

impl NamedChanges {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// One entry present in both files but different: the keys that differ (`match.status`,
/// `sinks`, …; `position` when a rule moved relative to the others).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub name: String,
    pub keys: Vec<String>,
}

/// Silences have no name: one added or removed is shown as `until DATE (reason)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SilenceChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// How the two files' definitions differ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Definitions {
    /// `[settings]` keys that differ.
    pub settings: Vec<String>,
    pub environments: NamedChanges,
    pub sinks: NamedChanges,
    pub rules: NamedChanges,
    pub silences: SilenceChanges,
}

impl Definitions {
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty()
            && self.environments.is_empty()
            && self.sinks.is_empty()
            && self.rules.is_empty()
            && self.silences.added.is_empty()
            && self.silences.removed.is_empty()
    }
}

/// The keys whose values differ between two tables (one level deep into `match`).
fn differing_keys(base: &toml::Table, new: &toml::Table, prefix: &str) -> Vec<String> {
    let mut keys: Vec<&String> = base.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (b, n) = (base.get(k), new.get(k));
        if b == n {
            continue;
        }
        match (b, n) {
            (Some(toml::Value::Table(b)), Some(toml::Value::Table(n))) if k == "match" => {
                out.extend(differing_keys(b, n, &format!("{prefix}{k}.")));
            }
            _ => out.push(format!("{prefix}{k}")),
        }
    }
    out
}

fn table_of<'t>(t: &'t toml::Table, key: &str) -> Vec<(String, &'t toml::Table)> {
    match t.get(key) {
        Some(toml::Value::Table(entries)) => entries
            .iter()
            .filter_map(|(k, v)| v.as_table().map(|t| (k.clone(), t)))
            .collect(),
        _ => Vec::new(),
    }
}

fn array_of<'t>(t: &'t toml::Table, key: &str) -> Vec<&'t toml::Table> {
    match t.get(key) {
        Some(toml::Value::Array(items)) => items.iter().filter_map(|v| v.as_table()).collect(),
        _ => Vec::new(),
    }
}

fn named_changes(base: &[(String, &toml::Table)], new: &[(String, &toml::Table)]) -> NamedChanges {
    let mut c = NamedChanges::default();
    for (name, t) in new {
        match base.iter().find(|(n, _)| n == name) {
            None => c.added.push(name.clone()),
            Some((_, b)) => {
                let keys = differing_keys(b, t, "");
                if !keys.is_empty() {
                    c.changed.push(Changed {
                        name: name.clone(),
                        keys,
                    });
                }
            }
        }
    }
    for (name, _) in base {
        if !new.iter().any(|(n, _)| n == name) {
            c.removed.push(name.clone());
        }
    }
    c
}

fn silence_label(t: &toml::Table) -> String {
    let until = t.get("until").map_or(String::new(), |v| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let reason = t.get("reason").and_then(|v| v.as_str()).unwrap_or("");
    format!("until {until} ({reason})")
}

/// Compares the two files' definitions.
pub fn definitions(base: &Side, new: &Side) -> Definitions {
    let (b, n) = (&base.table, &new.table);
    let empty = toml::Table::new();
    let settings = differing_keys(
        b.get("settings")
            .and_then(|v| v.as_table())
            .unwrap_or(&empty),
        n.get("settings")
            .and_then(|v| v.as_table())
            .unwrap_or(&empty),
        "",
    );
    let environments = named_changes(&table_of(b, "environments"), &table_of(n, "environments"));
    let sinks = named_changes(&table_of(b, "sinks"), &table_of(n, "sinks"));
    let named_rules = |t: &toml::Table| -> Vec<(String, toml::Table)> {
        array_of(t, "rules")
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let name = r
                    .get("name")
                    .and_then(|v| v.as_str())
                    .map_or_else(|| format!("rules[{i}]"), str::to_string);
                (name, r.clone())
            })
            .collect()
    };
    let (base_rules, new_rules) = (named_rules(b), named_rules(n));
    fn refs(v: &[(String, toml::Table)]) -> Vec<(String, &toml::Table)> {
        v.iter().map(|(k, t)| (k.clone(), t)).collect()
    }
    let mut rules = named_changes(&refs(&base_rules), &refs(&new_rules));
    // First match wins: a rule moved relative to the other rules both files have can route
    // differently even with the same definition.
    let common = |from: &[(String, toml::Table)], other: &[(String, toml::Table)]| -> Vec<String> {
        from.iter()
            .filter(|(name, _)| other.iter().any(|(o, _)| o == name))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let (order_base, order_new) = (
        common(&base_rules, &new_rules),
        common(&new_rules, &base_rules),
    );
    for (rank, name) in order_new.iter().enumerate() {
        if order_base.get(rank) != Some(name) {
            match rules.changed.iter_mut().find(|c| &c.name == name) {
                Some(c) => c.keys.push("position".to_string()),
                None => rules.changed.push(Changed {
                    name: name.clone(),
                    keys: vec!["position".to_string()],
                }),
            }
        }
    }
    // Keep `changed` in the new file's rule order.
    rules
        .changed
        .sort_by_key(|c| order_new.iter().position(|n| *n == c.name));
    let (bs, ns) = (array_of(b, "silences"), array_of(n, "silences"));
    let silences = SilenceChanges {
        added: ns
            .iter()
            .filter(|s| !bs.contains(s))
            .map(|s| silence_label(s))
            .collect(),
        removed: bs
            .iter()
            .filter(|s| !ns.contains(s))
            .map(|s| silence_label(s))
            .collect(),
    };
    Definitions {
        settings,
        environments,
        sinks,
        rules,
        silences,
    }
}

// ---------------------------------------------------------------------------------------------
// Routing

/// A finding that starts or stops going to a sink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// 0-based index of the item in its report.
    pub index: u64,
    /// The finding, its environment as the side that routes it there decides it.
    #[serde(flatten)]
    pub finding: FindingRow,
    /// The rule that routes it there (new rules) or routed it there (base rules).
    pub rule: String,
}

/// One sink's change over one report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SinkDiff {
    pub sink: String,
    /// Findings it gets with the base rules (`0` when the base does not declare it).
    pub base: u64,
    /// Findings it gets with the new rules.
    pub new: u64,
    /// Findings it gets with the new rules but not with the base.
    pub started: Vec<Moved>,
    /// Findings it got with the base rules but not with the new.
    pub stopped: Vec<Moved>,
}

/// A report's findings that go nowhere, per side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub silenced: u64,
    pub unmatched: u64,
}

/// One report routed with both files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceDiff {
    pub source: String,
    pub report: Option<ReportTemplate>,
    pub items: u64,
    pub base: Counts,
    pub new: Counts,
    /// Findings whose set of sinks differs.
    pub changed: u64,
    /// Every sink either file declares: the new file's in order, then the base's others.
    pub sinks: Vec<SinkDiff>,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct RouteDiff {
    /// The new rules, as given.
    pub rules: String,
    /// The base rules, as given.
    pub base: String,
    /// Whether any finding's sinks differ (what `--exit-code` reports).
    pub differs: bool,
    pub definitions: Definitions,
    pub sources: Vec<SourceDiff>,
    pub errors: Vec<SourceError>,
}

impl RouteDiff {
    /// `--exit-code`: 1 when routing differs; 2 when a source could not be compared.
    pub fn exit_code(&self, exit_code_flag: bool) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if exit_code_flag && self.differs {
            1
        } else {
            0
        }
    }
}

/// Routes one report, read once, with both rule sets.
pub fn diff_report<R: Read>(
    base: &Rules,
    new: &Rules,
    input: R,
    location: &ReportLocation,
) -> Result<SourceDiff, ReportError> {
    // The union of sinks: the new file's, then the base's others.
    let mut names: Vec<String> = new.sinks().iter().map(|s| s.name.clone()).collect();
    for s in base.sinks() {
        if !names.contains(&s.name) {
            names.push(s.name.clone());
        }
    }
    let index_of = |name: &str| names.iter().position(|n| n == name).unwrap_or(0);
    let new_ix: Vec<usize> = new.sinks().iter().map(|s| index_of(&s.name)).collect();
    let base_ix: Vec<usize> = base.sinks().iter().map(|s| index_of(&s.name)).collect();
    let mut sinks: Vec<SinkDiff> = names
        .iter()
        .map(|n| SinkDiff {
            sink: n.clone(),
            base: 0,
            new: 0,
            started: Vec::new(),
            stopped: Vec::new(),
        })
        .collect();
    let (mut base_counts, mut new_counts) = (Counts::default(), Counts::default());
    let mut changed = 0u64;
    let (mut rb, mut rn) = (Routing::default(), Routing::default());
    let (mut mb, mut mn) = (RouteMemo::new(), RouteMemo::new());
    let count = |r: &Routing, c: &mut Counts| {
        if r.silenced.is_some() {
            c.silenced += 1;
        } else if r.deliveries.is_empty() {
            c.unmatched += 1;
        }
    };
    let mut each = |item: &report::Item<'_>| {
        let mut vb = item.view;
        base.route_view_memo(&mut vb, &mut rb, &mut mb);
        let mut vn = item.view;
        new.route_view_memo(&mut vn, &mut rn, &mut mn);
        count(&rb, &mut base_counts);
        count(&rn, &mut new_counts);
        let mut differs = false;
        for d in &rb.deliveries {
            let u = base_ix[d.sink];
            sinks[u].base += 1;
            if !rn.deliveries.iter().any(|n| new_ix[n.sink] == u) {
                differs = true;
                sinks[u].stopped.push(Moved {
                    index: vb.index,
                    finding: FindingRow::from(&vb),
                    rule: base.rule_names()[d.rule].clone(),
                });
            }
        }
        for d in &rn.deliveries {
            let u = new_ix[d.sink];
            sinks[u].new += 1;
            if !rb.deliveries.iter().any(|b| base_ix[b.sink] == u) {
                differs = true;
                sinks[u].started.push(Moved {
                    index: vn.index,
                    finding: FindingRow::from(&vn),
                    rule: new.rule_names()[d.rule].clone(),
                });
            }
        }
        changed += u64::from(differs);
    };
    let hint = location
        .file_name()
        .and_then(report::template_from_file_name);
    let info = report::read_report_items(
        input,
        &location.to_string(),
        hint,
        &report::ReadLimits::default(),
        &mut each,
    )?;
    Ok(SourceDiff {
        source: location.to_string(),
        report: info.template,
        items: info.items,
        base: base_counts,
        new: new_counts,
        changed,
        sinks,
    })
}

/// Opens `location` (a file, or S3 with `s3`) and compares its routing on a blocking thread.
pub async fn diff_location(
    base: Arc<Rules>,
    new: Arc<Rules>,
    location: ReportLocation,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<SourceDiff, PipelineError> {
    let opened = fetch::open(&location, s3).await?;
    let name = location.to_string();
    tokio::task::spawn_blocking(move || {
        diff_report(&base, &new, opened.reader, &location).map_err(PipelineError::from)
    })
    .await
    .map_err(|e| PipelineError::Worker {
        location: name,
        message: e.to_string(),
    })?
}

/// Compares `new` with `base` over every source (report files or `s3://` URIs). A source that
/// cannot be read is an error in the result; the others are still compared.
pub async fn diff(base: &Side, new: &Side, sources: &[String]) -> RouteDiff {
    let mut errors = Vec::new();
    let mut locations = Vec::new();
    for s in sources {
        match ReportLocation::parse(s) {
            Ok(l) => locations.push(l),
            Err(e) => errors.push(SourceError {
                source: s.clone(),
                error: e.to_string(),
            }),
        }
    }
    let s3 = if locations
        .iter()
        .any(|l| matches!(l, ReportLocation::S3 { .. }))
    {
        let config = crate::pipeline::load_aws_config().await;
        Some(fetch::s3_client_from_config(&config))
    } else {
        None
    };
    let mut out = Vec::new();
    for loc in locations {
        let name = loc.to_string();
        match diff_location(base.rules.clone(), new.rules.clone(), loc, s3.as_ref()).await {
            Ok(d) => out.push(d),
            Err(e) => errors.push(SourceError {
                source: name,
                error: e.to_string(),
            }),
        }
    }
    RouteDiff {
        rules: new.shown.clone(),
        base: base.shown.clone(),
        differs: out.iter().any(|s| s.changed > 0),
        definitions: definitions(base, new),
        sources: out,
        errors,
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Findings grouped framework → control → status (job reports: by status), as the dry run
/// groups them, each with its rule.
fn write_grouped(out: &mut String, indent: &str, moved: &[Moved]) {
    type Key<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let mut groups: BTreeMap<Key, Vec<&Moved>> = BTreeMap::new();
    for m in moved {
        let r = &m.finding;
        groups
            .entry((
                r.framework.as_deref(),
                r.control.as_deref(),
                r.status.as_deref(),
            ))
            .or_default()
            .push(m);
    }
    let mut last_framework: Option<Option<&str>> = None;
    for ((framework, control, status), items) in &groups {
        let inner = if framework.is_some() || control.is_some() {
            if last_framework != Some(*framework) {
                let _ = writeln!(out, "{indent}framework {}", framework.unwrap_or("-"));
                last_framework = Some(*framework);
            }
            let _ = writeln!(
                out,
                "{indent}  control {} — {} ({})",
                control.unwrap_or("-"),
                status.unwrap_or("-"),
                items.len()
            );
            format!("{indent}    ")
        } else {
            let _ = writeln!(
                out,
                "{indent}status {} ({})",
                status.unwrap_or("-"),
                items.len()
            );
            format!("{indent}  ")
        };
        for m in items {
            let _ = writeln!(
                out,
                "{inner}{}  [rule: {}]",
                finding_line(&m.finding),
                m.rule
            );
        }
    }
}

fn write_named(out: &mut String, what: &str, c: &NamedChanges) {
    for n in &c.added {
        let _ = writeln!(out, "  + {what} {n:?}");
    }
    for n in &c.removed {
        let _ = writeln!(out, "  - {what} {n:?}");
    }
    for ch in &c.changed {
        let _ = writeln!(out, "  ~ {what} {:?}: {}", ch.name, ch.keys.join(", "));
    }
}

/// `--format text`.
pub fn to_text(d: &RouteDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {}\nnew:  {}\n", d.base, d.rules);
    let defs = &d.definitions;
    if defs.is_empty() {
        let _ = writeln!(out, "definitions: unchanged\n");
    } else {
        let _ = writeln!(out, "definitions:");
        write_named(&mut out, "rule", &defs.rules);
        write_named(&mut out, "sink", &defs.sinks);
        write_named(&mut out, "environment", &defs.environments);
        for s in &defs.silences.added {
            let _ = writeln!(out, "  + silence {s}");
        }
        for s in &defs.silences.removed {
            let _ = writeln!(out, "  - silence {s}");
        }
        if !defs.settings.is_empty() {
            let _ = writeln!(out, "  ~ settings: {}", defs.settings.join(", "));
        }
        out.push('\n');
    }
    for s in &d.sources {
        let _ = writeln!(
            out,
            "{}: {}, {}",
            s.source,
            s.report.map_or("unknown template", |t| t.name()),
            plural(s.items, "item", "items")
        );
        if s.changed == 0 {
            let _ = writeln!(out, "  routing unchanged");
        }
        for sink in &s.sinks {
            if sink.started.is_empty() && sink.stopped.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n  sink {}: {} → {} (+{} −{})",
                sink.sink,
                sink.base,
                plural(sink.new, "finding", "findings"),
                sink.started.len(),
                sink.stopped.len()
            );
            if !sink.started.is_empty() {
                let _ = writeln!(out, "    starts getting:");
                write_grouped(&mut out, "      ", &sink.started);
            }
            if !sink.stopped.is_empty() {
                let _ = writeln!(out, "    stops getting:");
                write_grouped(&mut out, "      ", &sink.stopped);
            }
        }
        let _ = writeln!(
            out,
            "\n  silenced: {} → {}, unmatched: {} → {}\n",
            s.base.silenced, s.new.silenced, s.base.unmatched, s.new.unmatched
        );
    }
    for e in &d.errors {
        let _ = writeln!(out, "error: {}", e.error);
    }
    let changed: u64 = d.sources.iter().map(|s| s.changed).sum();
    let (started, stopped): (usize, usize) = d
        .sources
        .iter()
        .flat_map(|s| &s.sinks)
        .fold((0, 0), |(a, b), s| {
            (a + s.started.len(), b + s.stopped.len())
        });
    if d.differs {
        let _ = writeln!(
            out,
            "routing differs: {} change sinks ({started} start going to a sink, {stopped} stop), in {} of {}",
            plural(changed, "finding", "findings"),
            d.sources.iter().filter(|s| s.changed > 0).count(),
            plural(d.sources.len() as u64, "source", "sources"),
        );
    } else {
        let _ = writeln!(
            out,
            "routing unchanged: {} in {}",
            plural(
                d.sources.iter().map(|s| s.items).sum(),
                "finding",
                "findings"
            ),
            plural(d.sources.len() as u64, "source", "sources")
        );
    }
    out
}

/// `--format json`: the whole [`RouteDiff`].
pub fn to_json(d: &RouteDiff) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}
