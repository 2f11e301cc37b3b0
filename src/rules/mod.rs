//! The rules stage: `rules.toml` (schema, `${env:…}` interpolation, validation with file:line:col
//! diagnostics) compiled into a [`Rules`] that routes each finding to sinks.
//!
//! - `config`: reads the spanned TOML tree by hand (every problem, with its position).
//! - [`interpolate`]: `${env:NAME}` / `${ssm:…}` / `${secretsmanager:…}` references, `$${`.
//! - [`pattern`]: globs, `re:` regexes and `!` negations, compiled once.
//! - `check`: cross-checks (sinks, names, reports, environments, silences, shadowing).
//! - `router`: the literal-value index and the first-match / `continue` walk.
//!
//! A typical caller:
//! ```no_run
//! # use audit_router::rules::{LoadOptions, Rules};
//! # fn f(mut finding: audit_router::Finding) -> Result<(), audit_router::rules::RulesError> {
//! let today = chrono::Utc::now().date_naive();
//! let (rules, warnings) = Rules::load("rules.toml".as_ref(), &LoadOptions::new(today))?;
//! for w in &warnings {
//!     eprintln!("{w}");
//! }
//! let routing = rules.route(&mut finding);
//! for d in &routing.deliveries {
//!     let sink = &rules.sinks()[d.sink];
//!     let rule = &rules.rule_names()[d.rule];
//!     println!("{} via {rule:?}", sink.name);
//! }
//! # Ok(()) }
//! ```

mod check;
mod config;
pub mod interpolate;
pub mod notify;
pub mod pattern;
mod router;

pub use config::SourceMap;

use crate::{Finding, FindingView};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The largest rules file read, from a file or S3 (a real one is a few KiB; ten thousand rules
/// fit in about 4 MiB). Larger is refused before it is parsed, quoting this limit.
pub const MAX_RULES_BYTES: u64 = 4 * 1024 * 1024;

/// Why a rules file of `size` bytes (or more) is refused, quoting [`MAX_RULES_BYTES`].
pub fn too_large(size: u64) -> String {
    format!(
        "{size} bytes or more; a rules file is at most {MAX_RULES_BYTES} bytes ({} MiB)",
        MAX_RULES_BYTES / (1024 * 1024)
    )
}

/// Reads a UTF-8 rules file of at most [`MAX_RULES_BYTES`]: a bigger one (a wrong path pointing
/// at a log, a device) is an error, not an unbounded read.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_RULES_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_RULES_BYTES {
        return Err(std::io::Error::other(too_large(text.len() as u64)));
    }
    Ok(text)
}

/// The date silences are judged against: today (UTC), or `AUDIT_ROUTER_TODAY` (YYYY-MM-DD) for
/// reproducible runs.
pub fn today_from_env() -> Result<chrono::NaiveDate, String> {
    match std::env::var("AUDIT_ROUTER_TODAY") {
        Ok(s) if !s.trim().is_empty() => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|e| format!("AUDIT_ROUTER_TODAY={s:?}: expected YYYY-MM-DD: {e}")),
        _ => Ok(chrono::Utc::now().date_naive()),
    }
}

/// How to load a rules file.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Replace `${env:NAME}` from the environment; a missing variable is an error. `false` is
    /// `check --no-env`: references are left as written and not checked.
    pub resolve_env: bool,
    /// `--env` / `AUDIT_ROUTER_ENV`: the environment of a finding whose account maps to none
    /// (takes precedence over `settings.default_environment`).
    pub env_override: Option<String>,
    /// The date silences are judged against (expired when `until` < today).
    pub today: chrono::NaiveDate,
}

impl LoadOptions {
    /// Resolve `${env:…}`, no `--env` override, silences judged against `today`.
    pub fn new(today: chrono::NaiveDate) -> Self {
        LoadOptions {
            resolve_env: true,
            env_override: None,
            today,
        }
    }

    /// The CLI's options: today from [`today_from_env`] (`AUDIT_ROUTER_TODAY` or the date).
    pub fn from_env(resolve_env: bool, env_override: Option<String>) -> Result<Self, String> {
        Ok(LoadOptions {
            resolve_env,
            env_override,
            today: today_from_env()?,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a rules file, located by line and column (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, sev, self.message
        )
    }
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A rules file that failed to load: every error found (and the warnings beside them).
#[derive(Debug, thiserror::Error)]
#[error("{}", .diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct RulesError {
    pub diagnostics: Vec<Diagnostic>,
}

/// A sink declared under `[sinks.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SinkDecl {
    pub name: String,
    /// The `type` key: `sns`, `slack`, `log`, `webhook`, …
    pub kind: String,
    /// Every other key, with `${env:…}` resolved (other `${…}` references and `$${` escapes left
    /// for the sink layer: expand them with [`interpolate::expand`]). With `resolve_env = false`
    /// the `${env:…}` references are left as written too.
    pub settings: toml::Table,
    /// Where the table and its keys are in the rules file, for diagnostics.
    pub positions: SinkPositions,
    /// `notify`, `repeat_after`, `resolved`, `min_findings` of the sink (defaults filled in).
    pub policy: notify::Policy,
}

/// 1-based (line, column) of a sink's `[sinks.NAME]` and of each of its keys; empty for a
/// sink not read from a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkPositions {
    pub table: Option<(usize, usize)>,
    pub keys: std::collections::BTreeMap<String, (usize, usize)>,
}

impl SinkDecl {
    /// A sink declared in code (no file positions).
    pub fn new(name: &str, kind: &str, settings: toml::Table) -> SinkDecl {
        SinkDecl {
            name: name.to_owned(),
            kind: kind.to_owned(),
            settings,
            positions: SinkPositions::default(),
            policy: notify::Policy::default(),
        }
    }

    /// Where a problem with setting `key` (`url`, `headers.X`, `json_limits[2].path`) is: its
    /// key's line and column, else the table's (a missing key), else the file's start.
    pub fn position_of(&self, key: Option<&str>) -> (usize, usize) {
        let top = key.map(|k| k.split(['.', '[']).next().unwrap_or(k));
        top.and_then(|k| self.positions.keys.get(k).copied())
            .or(self.positions.table)
            .unwrap_or((1, 1))
    }
}

/// One sink a finding is routed to, and the first rule that routed it there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Index into [`Rules::sinks`].
    pub sink: usize,
    /// Index into [`Rules::rule_names`].
    pub rule: usize,
}

/// Where one finding goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    /// Index (into [`Rules::silences`]) of the live silence that swallowed the finding (then
    /// `deliveries` is empty).
    pub silenced: Option<usize>,
    /// Each sink at most once, in the order rules reached it.
    pub deliveries: Vec<Delivery>,
}

pub use router::RouteMemo;

/// Why one rule did or did not match one finding (`dry-run --explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTrace {
    pub rule: String,
    pub matched: bool,
    /// One line per field the rule constrains, e.g. `status "NON_COMPLIANT" matches "NON_COMPLIANT"`
    /// or `account "999999999999" is excluded by "!999999999999"`.
    pub reasons: Vec<String>,
}

/// `[settings]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub default_environment: Option<String>,
}

/// `[environments.NAME]`: the accounts that make up one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub accounts: Vec<String>,
}

/// One `[[silences]]` entry, in file order ([`Routing::silenced`] indexes these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    pub until: chrono::NaiveDate,
    pub reason: String,
    /// `until` >= [`LoadOptions::today`]; an expired silence silences nothing.
    pub live: bool,
}

/// A loaded, validated and compiled rules file.
#[derive(Debug)]
pub struct Rules {
    file: String,
    base_dir: PathBuf,
    settings: Settings,
    environments: Vec<Environment>,
    account_env: crate::sink_api::host::StrMap<usize>,
    fallback_env: String,
    sinks: Vec<SinkDecl>,
    rule_names: Vec<String>,
    /// Per rule, the policy keys it sets over its sinks'.
    rule_policies: Vec<notify::PolicyOverride>,
    rules: Vec<router::CompiledRule>,
    index: router::Index,
    silences: Vec<Silence>,
    compiled_silences: Vec<router::CompiledSilence>,
}

impl Rules {
    /// Loads, validates and compiles `path`. On success returns the warnings too.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<(Rules, Vec<Diagnostic>), RulesError> {
        Self::load_with_env(path, opts, &BTreeMap::new())
    }

    /// As [`Rules::load`], `${env:NAME}` looked up in `vars` before the process environment
    /// (`audit-router test` files give values with `env = { NAME = "…" }`).
    pub fn load_with_env(
        path: &Path,
        opts: &LoadOptions,
        vars: &BTreeMap<String, String>,
    ) -> Result<(Rules, Vec<Diagnostic>), RulesError> {
        let file = path.display().to_string();
        let fail = |message: String| RulesError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                file: file.clone(),
                line: 1,
                column: 1,
                message,
            }],
        };
        let text =
            read_bounded(path).map_err(|e| fail(format!("cannot read the rules file: {e}")))?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse_with_env(&text, &file, base_dir, opts, vars)
    }

    /// As [`Rules::load`], from text; `file` names it in diagnostics and relative paths resolve
    /// against `base_dir`.
    pub fn parse(
        text: &str,
        file: &str,
        base_dir: PathBuf,
        opts: &LoadOptions,
    ) -> Result<(Rules, Vec<Diagnostic>), RulesError> {
        Self::parse_with_env(text, file, base_dir, opts, &BTreeMap::new())
    }

    /// As [`Rules::parse`], `${env:NAME}` looked up in `vars` before the process environment.
    pub fn parse_with_env(
        text: &str,
        file: &str,
        base_dir: PathBuf,
        opts: &LoadOptions,
        vars: &BTreeMap<String, String>,
    ) -> Result<(Rules, Vec<Diagnostic>), RulesError> {
        let src = config::SourceMap::new(file, text);
        let mut diags = Vec::new();
        let compiled = config::read(&src, opts, vars, &mut diags)
            .map(|raw| check::compile(raw, &src, opts, &mut diags));
        // Stable: diagnostics at one position keep the order they were found in.
        diags.sort_by_key(|d| (d.line, d.column));
        let compiled = match compiled {
            Some(c) if !diags.iter().any(Diagnostic::is_error) => c,
            _ => return Err(RulesError { diagnostics: diags }),
        };
        let index = router::Index::build(&compiled.rules);
        let rules = Rules {
            file: file.to_string(),
            base_dir,
            settings: compiled.settings,
            environments: compiled.environments,
            account_env: compiled.account_env.into_iter().collect(),
            fallback_env: compiled.fallback_env,
            sinks: compiled.sinks,
            rule_names: compiled.rules.iter().map(|r| r.name.clone()).collect(),
            rule_policies: compiled.rules.iter().map(|r| r.policy).collect(),
            rules: compiled.rules,
            index,
            silences: compiled.silences,
            compiled_silences: compiled.compiled_silences,
        };
        Ok((rules, diags))
    }

    /// Every diagnostic (errors and warnings) for `path`, sorted by position: `audit-router check`.
    pub fn check(path: &Path, opts: &LoadOptions) -> Vec<Diagnostic> {
        match Self::load(path, opts) {
            Ok((_, warnings)) => warnings,
            Err(e) => e.diagnostics,
        }
    }

    /// As [`Rules::check`], from text.
    pub fn check_str(text: &str, file: &str, opts: &LoadOptions) -> Vec<Diagnostic> {
        match Self::parse(text, file, PathBuf::from("."), opts) {
            Ok((_, warnings)) => warnings,
            Err(e) => e.diagnostics,
        }
    }

    /// The name the rules file was loaded under (as in diagnostics).
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn sinks(&self) -> &[SinkDecl] {
        &self.sinks
    }

    /// The sink declared as `name`, with its index into [`Rules::sinks`].
    pub fn sink(&self, name: &str) -> Option<(usize, &SinkDecl)> {
        self.sinks.iter().enumerate().find(|(_, s)| s.name == name)
    }

    pub fn rule_names(&self) -> &[String] {
        &self.rule_names
    }

    /// The sinks (indexes into [`Rules::sinks`]) rule `rule` routes to, in the order written.
    pub fn rule_sinks(&self, rule: usize) -> &[usize] {
        self.rules.get(rule).map_or(&[], |r| &r.sinks)
    }

    /// Whether rule `rule` has `continue = true`.
    pub fn rule_continues(&self, rule: usize) -> bool {
        self.rules.get(rule).is_some_and(|r| r.continue_)
    }

    /// The directory of the rules file (sink `template` paths are relative to it).
    /// What sink `sink` is told about the findings rule `rule` routes to it: the sink's
    /// `notify`, `repeat_after`, `resolved`, `min_findings` with the rule's own over them.
    /// `rule = None` (a resolved finding whose rule is gone): the sink's.
    pub fn policy(&self, sink: usize, rule: Option<usize>) -> notify::Policy {
        let base = self.sinks.get(sink).map(|s| s.policy).unwrap_or_default();
        match rule.and_then(|r| self.rule_policies.get(r)) {
            Some(o) => o.over(base),
            None => base,
        }
    }

    /// Whether rule `rule` sets any policy key of its own.
    pub fn rule_sets_policy(&self, rule: usize) -> bool {
        self.rule_policies.get(rule).is_some_and(|o| !o.is_empty())
    }

    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn environments(&self) -> &[Environment] {
        &self.environments
    }

    pub fn silences(&self) -> &[Silence] {
        &self.silences
    }

    /// The environment of a finding from `account`: the environment listing it, else
    /// `env_override`, else `settings.default_environment`, else `"default"`.
    pub fn environment_of(&self, account: Option<&str>) -> &str {
        account
            .and_then(|a| self.account_env.get(a))
            .map_or(&self.fallback_env, |&i| &self.environments[i].name)
    }

    /// Sets `finding.environment` and decides where it goes.
    pub fn route(&self, finding: &mut Finding) -> Routing {
        let mut routing = Routing::default();
        self.route_into(finding, &mut routing);
        routing
    }

    /// As [`Rules::route`], reusing `out` (cleared first) so a hot loop allocates nothing.
    pub fn route_into(&self, finding: &mut Finding, out: &mut Routing) {
        let env = self.environment_of(finding.account.as_deref());
        if finding.environment != env {
            finding.environment.clear();
            finding.environment.push_str(env);
        }
        self.route_view(&finding.view(), out);
    }

    /// Routes a borrowed finding whose `environment` is already set (to
    /// [`environment_of`](Self::environment_of) its account) into `out` (cleared first): the
    /// readers' hot path, no allocation.
    pub fn route_view(&self, finding: &FindingView<'_>, out: &mut Routing) {
        if self.silence(finding, out) {
            return;
        }
        router::route_rules(&self.index, &self.rules, finding, out);
    }

    /// Clears `out` and sets `out.silenced` to the first live silence matching `finding`;
    /// true when there is one (nothing is routed then).
    fn silence(&self, finding: &FindingView<'_>, out: &mut Routing) -> bool {
        out.deliveries.clear();
        out.silenced = self
            .compiled_silences
            .iter()
            .position(|s| s.live && s.matcher.is_match(finding));
        out.silenced.is_some()
    }

    /// Sets `finding.environment` and routes it into `out` (cleared first), as
    /// [`route_view`](Self::route_view) does, with `memo` remembering, per field that repeats
    /// across a report (all but the resource and job ids), which rules each value lets through:
    /// one lookup per field instead of the index's literal, prefix and suffix lookups. A memo
    /// serves one `Rules`.
    pub fn route_view_memo<'s: 'v, 'v>(
        &'s self,
        finding: &mut FindingView<'v>,
        out: &mut Routing,
        memo: &mut RouteMemo,
    ) {
        // The account's memo entry: its environment, and (one-word path) its fields' bits for
        // the router.
        let env = memo.environment(finding.account, &self.account_env);
        finding.environment = self
            .environments
            .get(env as usize)
            .map_or(&self.fallback_env, |e| &e.name);
        if self.silence(finding, out) {
            return;
        }
        router::route_rules_memo(&self.index, &self.rules, finding, out, memo);
    }

    /// Every rule tried for `finding` (environment already set), in file order.
    pub fn explain(&self, finding: &Finding) -> Vec<RuleTrace> {
        router::explain_rules(&self.rules, finding)
    }

    /// Every silence for `finding` (environment already set), in file order: `rule` reads
    /// `silences[0] until 2026-12-31 (reason)`; an expired silence never matches and says so.
    pub fn explain_silences(&self, finding: &Finding) -> Vec<RuleTrace> {
        self.silences
            .iter()
            .zip(&self.compiled_silences)
            .enumerate()
            .map(|(i, (s, c))| {
                let mut reasons = c.matcher.reasons(&finding.view());
                if !s.live {
                    reasons.push(format!("expired on {}: no longer applies", s.until));
                }
                RuleTrace {
                    rule: format!("silences[{i}] until {} ({})", s.until, s.reason),
                    matched: s.live && c.matcher.is_match(&finding.view()),
                    reasons,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Rules>();
        shareable::<RulesError>();
    }

    #[test]
    fn load_options_new_resolves_env() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap_or_default();
        let o = LoadOptions::new(today);
        assert!(o.resolve_env);
        assert_eq!(o.env_override, None);
        assert_eq!(o.today, today);
    }
}
