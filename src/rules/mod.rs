//! The rules stage: `rules.toml` (schema, `${env:…}` interpolation, validation with file:line:col
//! diagnostics) compiled into a [`Rules`] that routes each finding to sinks.

use crate::Finding;
use std::fmt;
use std::path::{Path, PathBuf};

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
    /// Every other key, with `${env:…}` resolved (other `${…}` references left for the sink).
    pub settings: toml::Table,
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
    /// Index of the live silence that swallowed the finding (then `deliveries` is empty).
    pub silenced: Option<usize>,
    /// Each sink at most once, in the order rules reached it.
    pub deliveries: Vec<Delivery>,
}

/// Why one rule did or did not match one finding (`dry-run --explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTrace {
    pub rule: String,
    pub matched: bool,
    /// One line per field the rule constrains, e.g. `status "NON_COMPLIANT" matches "NON_COMPLIANT"`
    /// or `account "999999999999" is excluded by "!999999999999"`.
    pub reasons: Vec<String>,
}

/// A loaded, validated and compiled rules file.
#[derive(Debug)]
pub struct Rules {
    _private: (),
}

impl Rules {
    /// Loads, validates and compiles `path`. On success returns the warnings too.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<(Rules, Vec<Diagnostic>), RulesError> {
        let _ = (path, opts);
        unimplemented!("Rules::load")
    }

    /// As [`Rules::load`], from text; `file` names it in diagnostics and relative paths resolve
    /// against `base_dir`.
    pub fn parse(
        text: &str,
        file: &str,
        base_dir: PathBuf,
        opts: &LoadOptions,
    ) -> Result<(Rules, Vec<Diagnostic>), RulesError> {
        let _ = (text, file, base_dir, opts);
        unimplemented!("Rules::parse")
    }

    pub fn sinks(&self) -> &[SinkDecl] {
        unimplemented!()
    }

    pub fn rule_names(&self) -> &[String] {
        unimplemented!()
    }

    /// The directory of the rules file (sink `template` paths are relative to it).
    pub fn base_dir(&self) -> &Path {
        unimplemented!()
    }

    /// Sets `finding.environment` and decides where it goes.
    pub fn route(&self, finding: &mut Finding) -> Routing {
        let _ = finding;
        unimplemented!()
    }

    /// Every rule tried for `finding` (environment already set), in file order.
    pub fn explain(&self, finding: &Finding) -> Vec<RuleTrace> {
        let _ = finding;
        unimplemented!()
    }
}
