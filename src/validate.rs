//! Validation of a rules file as a whole — what `audit-router check` prints and the Lambda
//! function's cold start refuses: the rules (syntax, keys, patterns, sinks used), every sink
//! built from its `[sinks.NAME]` table by its plugin (settings, templates compiled), and, with
//! [`Samples::Render`], every sink's template rendered against sample findings of every report
//! type. No network, no secret is resolved. `check`, `dry-run`, `send` and the Lambda init all
//! call [`validate`]; their messages are the same lines.

use std::path::{Path, PathBuf};

use crate::pipeline::Engine;
use crate::rules::{Diagnostic, LoadOptions, Rules, RulesError, Severity};

/// Whether to render every template against sample data (`check`, the Lambda init) or only
/// build the sinks (`dry-run` and `send`, which render the real digests anyway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Samples {
    /// Every shape a digest can have: without state, with new / ongoing / resolved findings,
    /// and of a stream's first report (`check`).
    Render,
    /// Only the shape this process will send: with state or without (the Lambda's cold start:
    /// one sample digest per report template, as before there was state; `check` in CI covers
    /// the rest).
    RenderAs {
        state: bool,
    },
    Skip,
}

/// A valid rules file: the engine built from it and its warnings.
#[derive(Debug)]
pub struct Checked {
    pub engine: Engine,
    pub warnings: Vec<Diagnostic>,
}

/// An invalid rules file: every line to show (warnings included, in order), then a summary line
/// (`rules.toml: invalid (2 errors)`).
#[derive(Debug, thiserror::Error)]
#[error("{}", .lines.join("\n"))]
pub struct Invalid {
    pub lines: Vec<String>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Validates rules text; `file` names it in messages, relative template paths resolve against
/// `base_dir`; `aws` is given to the sinks (none for `check`).
pub fn validate(
    text: &str,
    file: &str,
    base_dir: PathBuf,
    opts: &LoadOptions,
    aws: Option<aws_config::SdkConfig>,
    samples: Samples,
) -> Result<Checked, Invalid> {
    let (rules, warnings) =
        Rules::parse(text, file, base_dir, opts).map_err(|e| not_loaded(file, &e))?;
    finish(rules, warnings, aws, samples)
}

/// [`validate`] of a file (read with [`crate::rules::MAX_RULES_BYTES`] as the bound).
pub fn validate_file(
    path: &Path,
    opts: &LoadOptions,
    aws: Option<aws_config::SdkConfig>,
    samples: Samples,
) -> Result<Checked, Invalid> {
    let file = path.display().to_string();
    let (rules, warnings) = Rules::load(path, opts).map_err(|e| not_loaded(&file, &e))?;
    finish(rules, warnings, aws, samples)
}

/// A rules file that did not load: its diagnostics, then `FILE: invalid (N errors)`.
fn not_loaded(file: &str, e: &RulesError) -> Invalid {
    let errors = e.diagnostics.iter().filter(|d| d.is_error()).count();
    let mut lines: Vec<String> = e.diagnostics.iter().map(ToString::to_string).collect();
    lines.push(format!(
        "{file}: invalid ({})",
        plural(errors, "error", "errors")
    ));
    Invalid { lines }
}

/// Builds every sink and, unless [`Samples::Skip`], renders every template against sample data.
fn finish(
    rules: Rules,
    warnings: Vec<Diagnostic>,
    aws: Option<aws_config::SdkConfig>,
    samples: Samples,
) -> Result<Checked, Invalid> {
    let file = rules.file().to_owned();
    let invalid = |problems: Vec<Diagnostic>, what: &str| {
        let mut lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        lines.extend(problems.iter().map(ToString::to_string));
        lines.push(format!(
            "{file}: invalid ({})",
            plural(
                problems.len(),
                &format!("{what} error"),
                &format!("{what} errors")
            )
        ));
        Invalid { lines }
    };
    let engine = Engine::new(rules, aws).map_err(|e| invalid(e.diagnostics, "sink"))?;
    let shapes = match samples {
        Samples::Render => crate::sinks::SampleShapes::All,
        Samples::RenderAs { state: true } => crate::sinks::SampleShapes::WithState,
        Samples::RenderAs { state: false } => crate::sinks::SampleShapes::WithoutState,
        Samples::Skip => crate::sinks::SampleShapes::None,
    };
    if shapes != crate::sinks::SampleShapes::None {
        let mut problems = Vec::new();
        for (sink, decl) in engine.sinks.iter().zip(engine.rules.sinks()) {
            for (report, err) in crate::sinks::check_sink_shapes(sink.as_ref(), shapes) {
                let (line, column) = decl.position_of(Some("template"));
                problems.push(Diagnostic {
                    severity: Severity::Error,
                    file: file.clone(),
                    line,
                    column,
                    message: format!(
                        "sinks.{}: template fails on a sample {report}: {err}",
                        sink.name()
                    ),
                });
            }
        }
        if !problems.is_empty() {
            return Err(invalid(problems, "template"));
        }
    }
    Ok(Checked { engine, warnings })
}

impl Checked {
    /// `rules.toml: ok (3 rules, 2 sinks, 1 warning)`, then one line per sink with the limits
    /// its messages are kept within.
    pub fn summary(&self) -> String {
        let rules = &self.engine.rules;
        let mut out = format!(
            "{}: ok ({}, {}{})",
            rules.file(),
            plural(rules.rule_names().len(), "rule", "rules"),
            plural(rules.sinks().len(), "sink", "sinks"),
            match self.warnings.len() {
                0 => String::new(),
                n => format!(", {}", plural(n, "warning", "warnings")),
            }
        );
        for (i, sink) in self.engine.sinks.iter().enumerate() {
            let limits = sink.limits().describe();
            out.push_str(&format!(
                "\n  sink {} ({}): {}{}",
                sink.name(),
                sink.kind(),
                if limits.is_empty() {
                    "no size limits".to_owned()
                } else {
                    limits
                },
                policy_note(&rules.policy(i, None))
            ));
        }
        out
    }
}

/// `; notify = "changes", repeat_after = 7 days, …` for a sink that is not told every report
/// as it is (the defaults print nothing).
fn policy_note(p: &crate::rules::notify::Policy) -> String {
    let d = crate::rules::notify::Policy::default();
    let mut parts = Vec::new();
    if p.notify != d.notify {
        parts.push(format!("notify = {:?}", p.notify.as_str()));
    }
    if let Some(days) = p.repeat_after {
        parts.push(format!(
            "repeat_after = {}",
            plural(days as usize, "day", "days")
        ));
    }
    if p.resolved != d.resolved {
        parts.push("resolved = false".to_owned());
    }
    if p.min_findings != d.min_findings {
        parts.push(format!("min_findings = {}", p.min_findings));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join(", "))
    }
}

/// Where a rules file's relative paths resolve: its directory, or `.`.
pub fn base_dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
