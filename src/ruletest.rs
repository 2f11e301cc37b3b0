//! `audit-router test`: routing tests for a rules file, written as TOML cases and run without
//! sending anything (the `promtool test rules` of audit-router).
//!
//! A test file holds `[[case]]` tables of two kinds:
//!
//! - a **finding case** (`finding = { … }`) routes one hand-written finding and compares the sinks
//!   it reaches with `sinks` (the exact set), optionally the rule that routed it to each sink
//!   (`rule = { SINK = "RULE" }`) and whether a live silence swallowed it (`silenced`);
//! - a **report case** (`report = "path"`, relative to the test file) routes a whole report and
//!   compares the findings per sink with `expect = { SINK = N, unmatched = N, silenced = N }`.
//!   A declared sink left out of `expect` is expected to get nothing; `unmatched` and `silenced`
//!   are compared only when given.
//!
//! `env = { NAME = "…" }` gives `${env:NAME}` values and `today = YYYY-MM-DD` the date silences
//! are judged on, for the whole file (top level) or one case (in the case; merged over the file's).
//!
//! [`load`] reads and checks every test file against the rules (unknown keys, sink and rule
//! names, report paths: all errors with file:line:column, as [`SetupError`]); [`TestPlan::run`]
//! routes every case through [`Rules::route`] / [`pipeline::route_report`] — the same routing a
//! dry run does — and returns a [`TestRun`], printed by [`to_text`], [`to_json`] or [`to_junit`].

use crate::location::ReportLocation;
use crate::pipeline::{self, FindingRow, RouteOptions};
use crate::rules::{Diagnostic, LoadOptions, RuleTrace, Rules, Severity, SourceMap};
use crate::{Finding, ReportTemplate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The largest test file read (a test file is a few KiB).
pub const MAX_TEST_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The `expect` keys that are counters, not sinks.
const COUNTERS: [&str; 2] = ["unmatched", "silenced"];

const TOP_KEYS: [&str; 3] = ["case", "env", "today"];
const CASE_KEYS: [&str; 9] = [
    "name", "finding", "sinks", "rule", "silenced", "report", "expect", "env", "today",
];
/// The fields a test finding may give: a report item's matchable fields. `environment` is not
/// one: the rules derive it from `account`.
const FINDING_KEYS: [&str; 9] = [
    "report",
    "framework",
    "control",
    "status",
    "account",
    "region",
    "resource_type",
    "resource",
    "job_id",
];

/// The tests cannot run: a test file (or the rules file) is bad. Every problem found, each with
/// file:line:column; `audit-router test` prints them and exits 2.
#[derive(Debug, thiserror::Error)]
#[error("{}", .diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct SetupError {
    pub diagnostics: Vec<Diagnostic>,
}

impl SetupError {
    fn one(file: &str, message: String) -> Self {
        SetupError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                file: file.to_string(),
                line: 1,
                column: 1,
                message,
            }],
        }
    }
}

/// Expands the `TESTS…` arguments: a file is taken as is, a directory stands for every `*.toml`
/// file under it (recursively, sorted by path).
pub fn collect_test_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, SetupError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "toml") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for arg in args {
        let shown = arg.display().to_string();
        if arg.is_dir() {
            let before = files.len();
            if let Err(e) = walk(arg, &mut files) {
                diagnostics
                    .extend(SetupError::one(&shown, format!("cannot list: {e}")).diagnostics);
            } else if files.len() == before {
                diagnostics.extend(
                    SetupError::one(&shown, "a directory without any *.toml test file".into())
                        .diagnostics,
                );
            }
        } else {
            files.push(arg.clone());
        }
    }
    if files.is_empty() && diagnostics.is_empty() {
        diagnostics
            .extend(SetupError::one("audit-router test", "no test files given".into()).diagnostics);
    }
    if diagnostics.is_empty() {
        Ok(files)
    } else {
        Err(SetupError { diagnostics })
    }
}

/// A value and where it starts (byte offset in its test file).
#[derive(Clone, Debug)]
struct At<T> {
    value: T,
    at: usize,
}

/// What one finding case expects.
#[derive(Clone, Debug)]
struct FindingExpect {
    finding: Finding,
    /// `None` only with `silenced = true` (then no sink is expected).
    sinks: Option<Vec<At<String>>>,
    rule: Vec<(At<String>, At<String>)>,
    silenced: Option<bool>,
}

/// What one report case expects.
#[derive(Clone, Debug)]
struct ReportExpect {
    path: PathBuf,
    /// The path as written in the test file.
    written: At<String>,
    expect: Vec<(At<String>, u64)>,
}

#[derive(Clone, Debug)]
enum Expect {
    Finding(Box<FindingExpect>),
    Report(ReportExpect),
}

#[derive(Clone, Debug)]
struct ParsedCase {
    name: String,
    /// Where the case's table starts.
    at: usize,
    env: BTreeMap<String, String>,
    today: Option<chrono::NaiveDate>,
    expect: Expect,
}

/// Which rules a case routes with: the file's `env` and `today` merged with the case's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RulesKey {
    env: BTreeMap<String, String>,
    today: chrono::NaiveDate,
}

struct ParsedFile {
    shown: String,
    text: String,
    cases: Vec<(ParsedCase, usize)>,
}

impl ParsedFile {
    fn position(&self, offset: usize) -> (usize, usize) {
        SourceMap::new(&self.shown, &self.text).position(offset)
    }
}

/// Every test file read and checked against the rules, ready to run.
pub struct TestPlan {
    rules_file: String,
    /// Rules loaded once per distinct (`env`, `today`).
    rules: Vec<Rules>,
    files: Vec<ParsedFile>,
}

/// Reads the test files, loads the rules once for each distinct `env` / `today` the cases need,
/// and checks every sink, rule and report a case names. `today` is the date silences are judged
/// on where a test file does not say.
pub fn load(
    rules_path: &Path,
    test_files: &[PathBuf],
    today: chrono::NaiveDate,
) -> Result<TestPlan, SetupError> {
    let mut diagnostics = Vec::new();
    let mut parsed = Vec::new();
    for path in test_files {
        let shown = path.display().to_string();
        let text = match read_bounded(path) {
            Ok(t) => t,
            Err(e) => {
                diagnostics.extend(
                    SetupError::one(&shown, format!("cannot read the test file: {e}")).diagnostics,
                );
                continue;
            }
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let src = SourceMap::new(&shown, &text);
        let mut reader = CaseReader {
            src: &src,
            dir: &dir,
            diags: &mut diagnostics,
        };
        let cases = reader.file();
        parsed.push((shown.clone(), text.clone(), cases));
    }

    // Load the rules once per (env, today) the cases ask for.
    let rules_file = rules_path.display().to_string();
    let mut keys: Vec<RulesKey> = Vec::new();
    let mut files = Vec::new();
    for (shown, text, cases) in parsed {
        let mut keyed = Vec::new();
        for case in cases {
            let key = RulesKey {
                env: case.env.clone(),
                today: case.today.unwrap_or(today),
            };
            let k = match keys.iter().position(|k| *k == key) {
                Some(k) => k,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            keyed.push((case, k));
        }
        files.push(ParsedFile {
            shown,
            text,
            cases: keyed,
        });
    }
    let mut rules = Vec::new();
    let mut rules_failed = false;
    for key in &keys {
        let opts = LoadOptions::new(key.today);
        match Rules::load_with_env(rules_path, &opts, &key.env) {
            Ok((r, _warnings)) => rules.push(Some(r)),
            Err(e) => {
                for d in e.diagnostics.into_iter().filter(Diagnostic::is_error) {
                    if !diagnostics.contains(&d) {
                        diagnostics.push(d);
                    }
                }
                rules_failed = true;
                rules.push(None);
            }
        }
    }
    if rules_failed {
        // Name the cases whose env/today made the rules fail (the rules' own errors come first).
        for f in &files {
            for (case, k) in &f.cases {
                if rules[*k].is_none() {
                    let (line, column) = f.position(case.at);
                    diagnostics.push(Diagnostic {
                        severity: Severity::Error,
                        file: f.shown.clone(),
                        line,
                        column,
                        message: format!(
                            "case {:?}: the rules file {rules_file} does not load with this case's \
                             env and today (see its errors; a missing `${{env:NAME}}` can be given \
                             with `env = {{ NAME = \"…\" }}` in the test file)",
                            case.name
                        ),
                    });
                }
            }
        }
    }

    // Sink and rule names, report paths.
    if !rules_failed {
        for f in &files {
            let src = SourceMap::new(&f.shown, &f.text);
            for (case, k) in &f.cases {
                if let Some(r) = &rules[*k] {
                    check_names(&src, case, r, &mut diagnostics);
                }
            }
        }
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        return Err(SetupError { diagnostics });
    }
    Ok(TestPlan {
        rules_file,
        rules: rules.into_iter().flatten().collect(),
        files,
    })
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_TEST_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_TEST_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB; a test file is a few KiB",
            MAX_TEST_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(text)
}

fn declared(rules: &Rules) -> String {
    let names: Vec<&str> = rules.sinks().iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Unknown sink and rule names, contradictions, missing reports: errors at their position.
fn check_names(src: &SourceMap<'_>, case: &ParsedCase, rules: &Rules, diags: &mut Vec<Diagnostic>) {
    let mut error = |at: usize, message: String| {
        diags.push(src.diagnostic(
            Severity::Error,
            at,
            format!("case {:?}: {message}", case.name),
        ));
    };
    match &case.expect {
        Expect::Finding(f) => {
            for s in f.sinks.iter().flatten() {
                if rules.sink(&s.value).is_none() {
                    error(
                        s.at,
                        format!(
                            "sinks: unknown sink {:?} (declared sinks: {})",
                            s.value,
                            declared(rules)
                        ),
                    );
                }
            }
            for (sink, rule) in &f.rule {
                if rules.sink(&sink.value).is_none() {
                    error(
                        sink.at,
                        format!(
                            "rule: unknown sink {:?} (declared sinks: {})",
                            sink.value,
                            declared(rules)
                        ),
                    );
                } else if let Some(sinks) = &f.sinks
                    && !sinks.iter().any(|s| s.value == sink.value)
                {
                    error(
                        sink.at,
                        format!(
                            "rule: sink {:?} is not in this case's `sinks`; a rule can only be \
                             expected for a sink the finding is expected to reach",
                            sink.value
                        ),
                    );
                }
                if !rules.rule_names().contains(&rule.value) {
                    error(
                        rule.at,
                        format!(
                            "rule: unknown rule {:?} (rules: {})",
                            rule.value,
                            rules
                                .rule_names()
                                .iter()
                                .map(|n| format!("{n:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
        Expect::Report(r) => {
            for (key, _) in &r.expect {
                let is_counter = COUNTERS.contains(&key.value.as_str());
                let is_sink = rules.sink(&key.value).is_some();
                if is_counter && is_sink {
                    error(
                        key.at,
                        format!(
                            "expect: {:?} is both a counter and a declared sink; rename the sink \
                             to test it",
                            key.value
                        ),
                    );
                } else if !is_counter && !is_sink {
                    error(
                        key.at,
                        format!(
                            "expect: unknown sink {:?} (declared sinks: {}; counters: unmatched, \
                             silenced)",
                            key.value,
                            declared(rules)
                        ),
                    );
                }
            }
            if !r.path.is_file() {
                error(
                    r.written.at,
                    format!(
                        "report: no such file {} (resolved to {}; paths are relative to the test \
                         file)",
                        r.written.value,
                        r.path.display()
                    ),
                );
            }
        }
    }
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

type Entry<'t, 'i> = (
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
);

/// A table's entries in file order.
fn entries<'t, 'i>(t: &'t DeTable<'i>) -> Vec<Entry<'t, 'i>> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// Reads one test file's spanned TOML tree; every problem goes to `diags`.
struct CaseReader<'a, 'b> {
    src: &'a SourceMap<'a>,
    dir: &'a Path,
    diags: &'b mut Vec<Diagnostic>,
}

impl CaseReader<'_, '_> {
    fn error(&mut self, at: usize, message: String) {
        self.diags
            .push(self.src.diagnostic(Severity::Error, at, message));
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        what: &str,
        known: &[&str],
    ) {
        self.error(
            key.span().start,
            format!(
                "unknown key `{}` in {what}; expected one of: {}",
                key.get_ref(),
                known.join(", ")
            ),
        );
    }

    fn string(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<At<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(At {
                value: s.to_string(),
                at: v.span().start,
            }),
            other => {
                self.error(
                    v.span().start,
                    format!("{what}: expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn table<'t, 'i>(
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

    fn string_table(
        &mut self,
        v: &Spanned<DeValue<'_>>,
        what: &str,
    ) -> Vec<(At<String>, At<String>)> {
        let Some(t) = self.table(v, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, value) in entries(t) {
            let key = At {
                value: k.get_ref().to_string(),
                at: k.span().start,
            };
            if let Some(s) = self.string(value, &format!("{what}.{}", key.value)) {
                out.push((key, s));
            }
        }
        out
    }

    fn date(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<chrono::NaiveDate> {
        let parsed = match v.get_ref() {
            DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => chrono::NaiveDate::from_ymd_opt(
                    i32::from(d.year),
                    u32::from(d.month),
                    u32::from(d.day),
                ),
                _ => None,
            },
            DeValue::String(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                v.span().start,
                format!(
                    "{what}: expected a date like 2027-01-15 (a TOML date or a \"YYYY-MM-DD\" \
                     string), found {}",
                    match v.get_ref() {
                        DeValue::String(s) => format!("{s:?}"),
                        other => type_name(other).to_string(),
                    }
                ),
            );
        }
        parsed
    }

    fn env(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> BTreeMap<String, String> {
        self.string_table(v, what)
            .into_iter()
            .map(|(k, v)| (k.value, v.value))
            .collect()
    }

    /// The whole file: its cases, `env` and `today` merged into each.
    fn file(&mut self) -> Vec<ParsedCase> {
        let (root, errors) = DeTable::parse_recoverable(self.src.text);
        if !errors.is_empty() {
            for e in errors {
                let at = e.span().map_or(0, |s| s.start);
                self.error(at, format!("TOML syntax: {}", e.message().trim()));
            }
            return Vec::new();
        }
        let root = root.get_ref();
        let mut env = BTreeMap::new();
        let mut today = None;
        let mut case_items = None;
        for (key, value) in entries(root) {
            match key.get_ref().as_ref() {
                "env" => env = self.env(value, "env"),
                "today" => today = self.date(value, "today"),
                "case" => case_items = Some(value),
                _ => self.unknown_key(key, "the top level of a test file", &TOP_KEYS),
            }
        }
        let Some(items) = case_items else {
            self.error(
                0,
                "no [[case]] in this test file; every case is a [[case]] table with a `name` \
                 and either `finding` + `sinks` or `report` + `expect`"
                    .to_string(),
            );
            return Vec::new();
        };
        let DeValue::Array(items) = items.get_ref() else {
            self.error(
                items.span().start,
                format!(
                    "`case`: expected an array of tables ([[case]]), found {}",
                    type_name(items.get_ref())
                ),
            );
            return Vec::new();
        };
        let mut cases: Vec<ParsedCase> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(t) = self.table(item, &format!("case[{i}]")) else {
                continue;
            };
            if let Some(mut case) = self.case(i, item.span(), t) {
                if let Some(first) = cases.iter().find(|c| c.name == case.name) {
                    let (line, _) = self.src.position(first.at);
                    self.error(
                        case.at,
                        format!(
                            "duplicate case name {:?} (first used at line {line}); case names \
                             must be unique in a file",
                            case.name
                        ),
                    );
                    continue;
                }
                let mut merged = env.clone();
                merged.append(&mut case.env);
                case.env = merged;
                case.today = case.today.or(today);
                cases.push(case);
            }
        }
        cases
    }

    fn case(&mut self, index: usize, span: Range<usize>, t: &DeTable<'_>) -> Option<ParsedCase> {
        let what = format!("case[{index}]");
        let mut name = None;
        let mut finding = None;
        let mut sinks = None;
        let mut rule = Vec::new();
        let mut silenced = None;
        let mut report = None;
        let mut expect = None;
        let mut env = BTreeMap::new();
        let mut today = None;
        let mut seen = BTreeMap::new();
        let mut ok = true;
        for (key, value) in entries(t) {
            let k = key.get_ref().as_ref();
            seen.insert(k.to_string(), key.span().start);
            match k {
                "name" => {
                    name = self.string(value, &format!("{what}.name"));
                    if name.as_ref().is_some_and(|n| n.value.trim().is_empty()) {
                        self.error(
                            value.span().start,
                            format!("{what}.name: must not be empty"),
                        );
                        name = None;
                    }
                }
                "finding" => finding = self.finding(value, &format!("{what}.finding")),
                "sinks" => sinks = self.sink_list(value, &format!("{what}.sinks")),
                "rule" => rule = self.string_table(value, &format!("{what}.rule")),
                "silenced" => match value.get_ref() {
                    DeValue::Boolean(b) => silenced = Some(*b),
                    other => {
                        ok = false;
                        self.error(
                            value.span().start,
                            format!(
                                "{what}.silenced: expected true or false, found {}",
                                type_name(other)
                            ),
                        );
                    }
                },
                "report" => report = self.string(value, &format!("{what}.report")),
                "expect" => expect = self.expect(value, &format!("{what}.expect")),
                "env" => env = self.env(value, &format!("{what}.env")),
                "today" => today = self.date(value, &format!("{what}.today")),
                _ => {
                    ok = false;
                    self.unknown_key(key, &format!("[[case]] ({what})"), &CASE_KEYS);
                }
            }
        }
        let Some(name) = name else {
            if !seen.contains_key("name") {
                self.error(span.start, format!("{what}: missing required key `name`"));
            }
            return None;
        };
        let label = format!("case {:?}", name.value);
        let misplaced = |this: &mut Self, keys: &[&str], kind: &str| {
            for k in keys {
                if let Some(&at) = seen.get(*k) {
                    this.error(
                        at,
                        format!("{label}: `{k}` does not belong in a {kind} case"),
                    );
                }
            }
        };
        let expect = match (seen.contains_key("finding"), seen.contains_key("report")) {
            (true, true) => {
                self.error(
                    span.start,
                    format!(
                        "{label}: give either `finding` (one finding) or `report` (a whole \
                         report), not both"
                    ),
                );
                return None;
            }
            (false, false) => {
                self.error(
                    span.start,
                    format!(
                        "{label}: missing `finding = {{ … }}` (with `sinks`) or `report = \"path\"` \
                         (with `expect`)"
                    ),
                );
                return None;
            }
            (true, false) => {
                misplaced(self, &["expect"], "finding");
                let finding = finding?;
                if silenced == Some(true) {
                    if let Some(s) = sinks.as_ref().and_then(|s: &Vec<At<String>>| s.first()) {
                        self.error(
                            s.at,
                            format!(
                                "{label}: a silenced finding reaches no sink; leave `sinks` out \
                                 or write `sinks = []`"
                            ),
                        );
                        return None;
                    }
                    if let Some((sink, _)) = rule.first() {
                        self.error(
                            sink.at,
                            format!("{label}: a silenced finding is routed by no rule"),
                        );
                        return None;
                    }
                } else if !seen.contains_key("sinks") {
                    self.error(
                        span.start,
                        format!(
                            "{label}: missing `sinks`: the exact set of sinks the finding must \
                             reach (`sinks = []` for nowhere)"
                        ),
                    );
                    return None;
                }
                if seen.contains_key("sinks") && sinks.is_none() {
                    return None;
                }
                Expect::Finding(Box::new(FindingExpect {
                    finding,
                    sinks,
                    rule,
                    silenced,
                }))
            }
            (false, true) => {
                misplaced(self, &["sinks", "rule", "silenced"], "report");
                let written = report?;
                if !seen.contains_key("expect") {
                    self.error(
                        span.start,
                        format!(
                            "{label}: missing `expect = {{ SINK = N, unmatched = N, silenced = N }}`"
                        ),
                    );
                    return None;
                }
                let expect = expect?;
                let path = self.dir.join(&written.value);
                Expect::Report(ReportExpect {
                    path,
                    written,
                    expect,
                })
            }
        };
        if !ok {
            return None;
        }
        Some(ParsedCase {
            name: name.value,
            at: span.start,
            env,
            today,
            expect,
        })
    }

    fn sink_list(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Vec<At<String>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                v.span().start,
                format!(
                    "{what}: expected a list of sink names (`[]` for none), found {}",
                    type_name(v.get_ref())
                ),
            );
            return None;
        };
        let mut out: Vec<At<String>> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(item, &format!("{what}[{i}]")) {
                Some(s) if out.iter().any(|o| o.value == s.value) => {
                    ok = false;
                    self.error(s.at, format!("{what}: sink {:?} is listed twice", s.value));
                }
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn expect(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Vec<(At<String>, u64)>> {
        let t = self.table(v, what)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (k, value) in entries(t) {
            let key = At {
                value: k.get_ref().to_string(),
                at: k.span().start,
            };
            let n = match value.get_ref() {
                DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
                _ => None,
            };
            match n {
                Some(n) => out.push((key, n)),
                None => {
                    ok = false;
                    self.error(
                        value.span().start,
                        format!(
                            "{what}.{}: expected a count (an integer 0 or more), found {}",
                            key.value,
                            type_name(value.get_ref())
                        ),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    fn finding(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<Finding> {
        let t = self.table(v, what)?;
        let mut report = None;
        let mut fields: BTreeMap<&str, Option<String>> = BTreeMap::new();
        let mut ok = true;
        for (key, value) in entries(t) {
            let k = key.get_ref().as_ref();
            let Some(&field) = FINDING_KEYS.iter().find(|f| **f == k) else {
                ok = false;
                if k == "environment" {
                    self.error(
                        key.span().start,
                        format!(
                            "{what}: `environment` is not a report field: the rules derive it \
                             from `account` ([environments.NAME] accounts, else \
                             settings.default_environment); give the account instead"
                        ),
                    );
                } else {
                    self.unknown_key(key, what, &FINDING_KEYS);
                }
                continue;
            };
            let Some(s) = self.string(value, &format!("{what}.{field}")) else {
                ok = false;
                continue;
            };
            if field == "report" {
                match ReportTemplate::from_name(&s.value) {
                    Some(t) => report = Some(t),
                    None => {
                        ok = false;
                        self.error(
                            s.at,
                            format!(
                                "{what}.report: unknown report template {:?}; expected one of: \
                                 {}, MALWARE_JOB_REPORT",
                                s.value,
                                ReportTemplate::ALL
                                    .iter()
                                    .map(|t| t.name())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                }
            } else {
                // As a report reader does: an empty value is null.
                fields.insert(field, (!s.value.is_empty()).then_some(s.value));
            }
        }
        if !t.contains_key("report") {
            self.error(
                v.span().start,
                format!(
                    "{what}: missing `report` (the template, e.g. \"RESOURCE_COMPLIANCE_REPORT\")"
                ),
            );
            return None;
        }
        let report = report?;
        if !ok {
            return None;
        }
        let mut f = Finding::new(report);
        let take = |name: &str| fields.get(name).cloned().flatten();
        f.framework = take("framework");
        f.control = take("control");
        f.status = take("status");
        f.account = take("account");
        f.region = take("region");
        f.resource_type = take("resource_type");
        f.resource = take("resource");
        f.job_id = take("job_id");
        Some(f)
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// What a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Finding,
    Report,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// The case could not be evaluated (its report is unreadable or malformed).
    Error,
}

/// One sink a finding reached, and the first rule that routed it there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reached {
    pub sink: String,
    pub rule: String,
}

/// One rule's (or silence's) verdict for the finding, as `dry-run --explain` gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub rule: String,
    pub matched: bool,
    pub reasons: Vec<String>,
    /// Whether the walk got to this rule: not after a silence swallowed the finding, nor after
    /// an earlier matching rule without `continue = true` (silences: always).
    pub reached: bool,
}

impl From<RuleTrace> for Verdict {
    fn from(t: RuleTrace) -> Self {
        Verdict {
            rule: t.rule,
            matched: t.matched,
            reasons: t.reasons,
            reached: true,
        }
    }
}

/// Every rule's verdict, with where the first-match walk stopped.
fn rule_verdicts(rules: &Rules, finding: &Finding, silenced: bool) -> Vec<Verdict> {
    let mut reached = !silenced;
    rules
        .explain(finding)
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let mut v = Verdict::from(t);
            v.reached = reached;
            if v.matched && !rules.rule_continues(i) {
                reached = false;
            }
            v
        })
        .collect()
}

/// A finding case: what was expected and what the rules did.
#[derive(Clone, Debug, Serialize)]
pub struct FindingOutcome {
    /// The finding, its environment as the rules decided it.
    pub finding: FindingRow,
    /// The sinks the case expects (none for a silenced case without `sinks`).
    pub expected_sinks: Vec<String>,
    pub expected_rules: BTreeMap<String, String>,
    pub expected_silenced: Option<bool>,
    pub sinks: Vec<Reached>,
    /// The live silence that swallowed it: `silences[i] until DATE (reason)`.
    pub silenced_by: Option<String>,
    /// Every rule's verdict, in file order (kept for failures).
    pub rules: Vec<Verdict>,
    /// Every silence's verdict, in file order (kept for failures).
    pub silences: Vec<Verdict>,
}

/// One sink's count in a report case, split by the rule that routed the findings there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SinkCount {
    pub sink: String,
    /// `None` where the case does not say (`unmatched`, `silenced` left out).
    pub expected: Option<u64>,
    pub actual: u64,
    /// Findings per routing rule (rule name → count), for sinks only.
    pub by_rule: BTreeMap<String, u64>,
}

/// A report case: counts per sink (every declared sink) and the counters.
#[derive(Clone, Debug, Serialize)]
pub struct ReportOutcome {
    pub report: String,
    pub template: Option<ReportTemplate>,
    pub items: u64,
    pub sinks: Vec<SinkCount>,
    pub unmatched: SinkCount,
    pub silenced: SinkCount,
}

#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Finding(Box<FindingOutcome>),
    Report(ReportOutcome),
    /// The case errored: nothing to compare.
    None {},
}

/// One case's result.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: CaseKind,
    pub status: Status,
    /// One line per mismatch (failures) or the error (errors); empty when passed.
    pub problems: Vec<String>,
    #[serde(skip)]
    pub seconds: f64,
    pub outcome: Outcome,
}

/// One test file's results, in case order.
#[derive(Clone, Debug, Serialize)]
pub struct FileResult {
    pub file: String,
    pub cases: Vec<CaseResult>,
}

/// A whole `audit-router test` run.
#[derive(Clone, Debug, Serialize)]
pub struct TestRun {
    pub rules: String,
    pub files: Vec<FileResult>,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

impl TestRun {
    /// 0 when every case passed, 1 when any failed, 2 when any could not be evaluated.
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 {
            2
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }

    fn cases(&self) -> impl Iterator<Item = &CaseResult> {
        self.files.iter().flat_map(|f| &f.cases)
    }
}

impl TestPlan {
    /// Runs every case. Nothing is sent: no sink is even built.
    pub fn run(&self) -> TestRun {
        let mut files = Vec::new();
        for f in &self.files {
            let mut cases = Vec::new();
            for (case, k) in &f.cases {
                let started = Instant::now();
                let (line, column) = f.position(case.at);
                let rules = &self.rules[*k];
                let (kind, status, problems, outcome) = match &case.expect {
                    Expect::Finding(e) => {
                        let (problems, outcome) = run_finding(rules, e);
                        let status = if problems.is_empty() {
                            Status::Passed
                        } else {
                            Status::Failed
                        };
                        (CaseKind::Finding, status, problems, outcome)
                    }
                    Expect::Report(e) => match run_report(rules, e) {
                        Ok((problems, outcome)) => {
                            let status = if problems.is_empty() {
                                Status::Passed
                            } else {
                                Status::Failed
                            };
                            (CaseKind::Report, status, problems, outcome)
                        }
                        Err(error) => (
                            CaseKind::Report,
                            Status::Error,
                            vec![error],
                            Outcome::None {},
                        ),
                    },
                };
                cases.push(CaseResult {
                    name: case.name.clone(),
                    file: f.shown.clone(),
                    line,
                    column,
                    kind,
                    status,
                    problems,
                    seconds: started.elapsed().as_secs_f64(),
                    outcome,
                });
            }
            files.push(FileResult {
                file: f.shown.clone(),
                cases,
            });
        }
        let count = |s: Status| {
            files
                .iter()
                .flat_map(|f| &f.cases)
                .filter(|c| c.status == s)
                .count()
        };
        TestRun {
            rules: self.rules_file.clone(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            errors: count(Status::Error),
            files,
        }
    }
}

fn list(names: &[String]) -> String {
    format!("[{}]", names.join(", "))
}

fn run_finding(rules: &Rules, e: &FindingExpect) -> (Vec<String>, Outcome) {
    let mut finding = e.finding.clone();
    let routing = rules.route(&mut finding);
    let sinks: Vec<Reached> = routing
        .deliveries
        .iter()
        .map(|d| Reached {
            sink: rules.sinks()[d.sink].name.clone(),
            rule: rules.rule_names()[d.rule].clone(),
        })
        .collect();
    let silenced_by = routing.silenced.and_then(|i| {
        rules
            .silences()
            .get(i)
            .map(|s| format!("silences[{i}] until {} ({})", s.until, s.reason))
    });
    let expected_sinks: Vec<String> = e.sinks.iter().flatten().map(|s| s.value.clone()).collect();
    let expected_rules: BTreeMap<String, String> = e
        .rule
        .iter()
        .map(|(s, r)| (s.value.clone(), r.value.clone()))
        .collect();

    let mut problems = Vec::new();
    let actual_names: Vec<String> = sinks.iter().map(|r| r.sink.clone()).collect();
    let mut want = expected_sinks.clone();
    let mut got = actual_names.clone();
    want.sort();
    got.sort();
    if want != got {
        let missing: Vec<String> = want.iter().filter(|s| !got.contains(s)).cloned().collect();
        let extra: Vec<String> = got.iter().filter(|s| !want.contains(s)).cloned().collect();
        let mut line = format!(
            "sinks: expected {}, got {}",
            list(&expected_sinks),
            list(&actual_names)
        );
        if !missing.is_empty() {
            let _ = write!(line, "; missing {}", list(&missing));
        }
        if !extra.is_empty() {
            let _ = write!(line, "; unexpected {}", list(&extra));
        }
        problems.push(line);
    }
    for (sink, rule) in &expected_rules {
        match sinks.iter().find(|r| &r.sink == sink) {
            Some(r) if &r.rule == rule => {}
            Some(r) => problems.push(format!(
                "rule for {sink}: expected {rule:?}, got {:?}",
                r.rule
            )),
            // Already reported as a missing sink.
            None => {}
        }
    }
    if let Some(want) = e.silenced {
        match (&silenced_by, want) {
            (Some(_), true) | (None, false) => {}
            (None, true) => problems.push(
                "silenced: expected a live silence to swallow it, but none matches".to_string(),
            ),
            (Some(by), false) => problems.push(format!("silenced: expected not, but {by} matches")),
        }
    }
    if e.silenced.is_none()
        && let Some(by) = &silenced_by
        && !expected_sinks.is_empty()
    {
        problems.push(format!("silenced by {by}"));
    }
    let failed = !problems.is_empty();
    let outcome = FindingOutcome {
        finding: FindingRow::from(&finding),
        expected_sinks,
        expected_rules,
        expected_silenced: e.silenced,
        sinks,
        silenced_by,
        rules: if failed {
            rule_verdicts(rules, &finding, routing.silenced.is_some())
        } else {
            Vec::new()
        },
        silences: if failed {
            rules
                .explain_silences(&finding)
                .into_iter()
                .map(Verdict::from)
                .collect()
        } else {
            Vec::new()
        },
    };
    (problems, Outcome::Finding(Box::new(outcome)))
}

fn run_report(rules: &Rules, e: &ReportExpect) -> Result<(Vec<String>, Outcome), String> {
    let file = std::fs::File::open(&e.path)
        .map_err(|err| format!("report {}: cannot open: {err}", e.path.display()))?;
    let location = ReportLocation::Local(e.path.clone());
    let opts = RouteOptions {
        listing: true,
        ..RouteOptions::default()
    };
    let run = pipeline::route_report(rules, std::io::BufReader::new(file), &location, &opts)
        .map_err(|err| err.to_string())?;
    let expected = |name: &str| {
        e.expect
            .iter()
            .find(|(k, _)| k.value == name)
            .map(|(_, n)| *n)
    };
    let mut sinks = Vec::new();
    for (i, decl) in rules.sinks().iter().enumerate() {
        let listed = run.per_sink.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
        for l in listed {
            let rule = rules
                .rule_names()
                .get(l.rule)
                .cloned()
                .unwrap_or_else(|| "?".into());
            *by_rule.entry(rule).or_default() += 1;
        }
        sinks.push(SinkCount {
            sink: decl.name.clone(),
            expected: Some(expected(&decl.name).unwrap_or(0)),
            actual: listed.len() as u64,
            by_rule,
        });
    }
    let counter = |name: &str, actual: u64| SinkCount {
        sink: name.to_string(),
        expected: expected(name),
        actual,
        by_rule: BTreeMap::new(),
    };
    let outcome = ReportOutcome {
        report: e.written.value.clone(),
        template: run.info.template,
        items: run.info.items,
        unmatched: counter("unmatched", run.unmatched),
        silenced: counter("silenced", run.silenced),
        sinks,
    };
    let mut problems = Vec::new();
    for c in outcome
        .sinks
        .iter()
        .chain([&outcome.unmatched, &outcome.silenced])
    {
        if let Some(want) = c.expected
            && want != c.actual
        {
            problems.push(format!("{}: expected {want}, got {}", c.sink, c.actual));
        }
    }
    Ok((problems, Outcome::Report(outcome)))
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("null")
}

/// The detail of a failed or errored case, as text (also the body of a JUnit `<failure>`).
pub fn case_detail(c: &CaseResult) -> String {
    let mut out = String::new();
    for p in &c.problems {
        let _ = writeln!(out, "{p}");
    }
    match &c.outcome {
        Outcome::Finding(f) => {
            let r = &f.finding;
            let _ = writeln!(
                out,
                "finding: report {}, framework {}, control {}, status {}, account {}, region {}, \
                 resource_type {}, resource {}, job_id {} (environment {})",
                r.report,
                opt(&r.framework),
                opt(&r.control),
                opt(&r.status),
                opt(&r.account),
                opt(&r.region),
                opt(&r.resource_type),
                opt(&r.resource),
                opt(&r.job_id),
                r.environment
            );
            let _ = writeln!(out, "expected sinks: {}", list(&f.expected_sinks));
            let actual: Vec<String> = f
                .sinks
                .iter()
                .map(|s| format!("{} (rule {:?})", s.sink, s.rule))
                .collect();
            let _ = writeln!(out, "actual sinks:   {}", list(&actual));
            if !f.expected_rules.is_empty() {
                let rules: Vec<String> = f
                    .expected_rules
                    .iter()
                    .map(|(s, r)| format!("{s} (rule {r:?})"))
                    .collect();
                let _ = writeln!(out, "expected rules: {}", list(&rules));
            }
            if let Some(by) = &f.silenced_by {
                let _ = writeln!(out, "silenced by {by}");
            }
            if !f.rules.is_empty() {
                let _ = writeln!(out, "rules tried, in file order:");
                write_verdicts(&mut out, &f.rules, "rule");
            }
            if !f.silences.is_empty() {
                let _ = writeln!(out, "silences:");
                write_verdicts(&mut out, &f.silences, "");
            }
        }
        Outcome::Report(r) => {
            let _ = writeln!(
                out,
                "report {} ({}, {} items):",
                r.report,
                r.template.map_or("unknown template", |t| t.name()),
                r.items
            );
            let width = r
                .sinks
                .iter()
                .map(|s| s.sink.len())
                .chain([9])
                .max()
                .unwrap_or(9);
            let _ = writeln!(out, "  {:width$}  expected  actual", "");
            for s in r.sinks.iter().chain([&r.unmatched, &r.silenced]) {
                let expected = s.expected.map_or("-".to_string(), |n| n.to_string());
                let mark = if s.expected.is_some_and(|n| n != s.actual) {
                    "  <- differs"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {:width$}  {expected:>8}  {:>6}{mark}",
                    s.sink, s.actual
                );
                for (rule, n) in &s.by_rule {
                    let _ = writeln!(out, "  {:width$}            {n:>6}  via rule {rule:?}", "");
                }
            }
        }
        Outcome::None {} => {}
    }
    out
}

fn write_verdicts(out: &mut String, verdicts: &[Verdict], prefix: &str) {
    for v in verdicts {
        let name = if prefix.is_empty() {
            v.rule.clone()
        } else {
            format!("{prefix} {:?}", v.rule)
        };
        let _ = writeln!(
            out,
            "  {name}: {}{}",
            if v.matched { "matched" } else { "no match" },
            if v.reached {
                ""
            } else {
                " (not reached: the walk stopped before it)"
            }
        );
        for reason in &v.reasons {
            let _ = writeln!(out, "    {reason}");
        }
    }
}

fn case_label(c: &CaseResult) -> String {
    format!("{}:{}:{}: {}", c.file, c.line, c.column, c.name)
}

/// `--format text`: like `cargo test`: one line per case, then each failure's detail.
pub fn to_text(run: &TestRun) -> String {
    let mut out = String::new();
    for f in &run.files {
        let n = f.cases.len();
        let _ = writeln!(
            out,
            "running {n} case{} from {}",
            if n == 1 { "" } else { "s" },
            f.file
        );
        for c in &f.cases {
            let verdict = match c.status {
                Status::Passed => "ok",
                Status::Failed => "FAILED",
                Status::Error => "ERROR",
            };
            let _ = writeln!(out, "case {} ... {verdict}", c.name);
        }
        out.push('\n');
    }
    let bad: Vec<&CaseResult> = run.cases().filter(|c| c.status != Status::Passed).collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "failures:\n");
        for c in &bad {
            let _ = writeln!(out, "---- {} ----", case_label(c));
            out.push_str(&case_detail(c));
            out.push('\n');
        }
        let _ = writeln!(out, "failures:");
        for c in &bad {
            let _ = writeln!(out, "    {}", case_label(c));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "result: {}. {} passed; {} failed; {} errors (rules {})",
        if bad.is_empty() { "ok" } else { "FAILED" },
        run.passed,
        run.failed,
        run.errors,
        run.rules
    );
    out
}

/// `--format json`: the whole [`TestRun`].
pub fn to_json(run: &TestRun) -> serde_json::Value {
    serde_json::to_value(run).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// Escapes text for XML 1.0 content and attribute values; characters XML cannot carry
/// (control characters other than tab and line breaks) become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `--format junit`: JUnit XML, one `<testsuite>` per test file and one `<testcase>` per case
/// (`<failure>` for a failed case, `<error>` for one that could not run), for CI systems that
/// render test reports.
pub fn to_junit(run: &TestRun) -> String {
    let total_time: f64 = run.cases().map(|c| c.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"audit-router test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total_time:.6}\">",
        run.passed + run.failed + run.errors,
        run.failed,
        run.errors
    );
    for f in &run.files {
        let count = |s: Status| f.cases.iter().filter(|c| c.status == s).count();
        let time: f64 = f.cases.iter().map(|c| c.seconds).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{time:.6}\">",
            xml_escape(&f.file),
            f.cases.len(),
            count(Status::Failed),
            count(Status::Error)
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"rules\" value=\"{}\"/>\n    </properties>",
            xml_escape(&run.rules)
        );
        let classname = f.file.strip_suffix(".toml").unwrap_or(&f.file);
        for c in &f.cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.6}\"",
                xml_escape(&c.name),
                xml_escape(classname),
                xml_escape(&c.file),
                c.line,
                c.seconds
            );
            match c.status {
                Status::Passed => out.push_str("/>\n"),
                Status::Failed | Status::Error => {
                    let (tag, kind) = if c.status == Status::Failed {
                        ("failure", "routing")
                    } else {
                        ("error", "unreadable report")
                    };
                    let _ = writeln!(
                        out,
                        ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>\n    </testcase>",
                        xml_escape(&c.problems.join("; ")),
                        xml_escape(&case_detail(c))
                    );
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_keeps_text_and_drops_what_xml_cannot_carry() {
        assert_eq!(
            xml_escape("a<b>&\"c\" 'd'\tl\n\u{1}\u{7}\u{FFFF}é"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;\tl\n\u{FFFD}\u{FFFD}\u{FFFD}é"
        );
    }
}
