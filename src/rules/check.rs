//! Cross-checks and compilation of a read rules file: sink references, duplicate names,
//! patterns, report and environment names, silences, shadowed rules, unused sinks.

use super::config::{RawConfig, RawField, SourceMap};
use super::interpolate;
use super::pattern::{FieldMatcher, PatternKind, PatternSpec, Single};
use super::router::{CompiledRule, CompiledSilence, Matcher};
use super::{Diagnostic, Environment, LoadOptions, Settings, Severity, Silence, SinkDecl};
use crate::ReportTemplate;
use crate::sink_api::MATCH_FIELDS;
use std::collections::{HashMap, HashSet};

const REPORT: usize = 0;
const ENVIRONMENT: usize = 6;

/// Everything [`super::Rules`] is made of.
pub struct Compiled {
    pub settings: Settings,
    pub environments: Vec<Environment>,
    pub account_env: HashMap<Box<str>, usize>,
    pub fallback_env: String,
    pub sinks: Vec<SinkDecl>,
    pub rules: Vec<CompiledRule>,
    pub silences: Vec<Silence>,
    pub compiled_silences: Vec<CompiledSilence>,
}

struct Checker<'a, 'b> {
    src: &'a SourceMap<'a>,
    diags: &'b mut Vec<Diagnostic>,
    known_envs: HashSet<String>,
}

impl Checker<'_, '_> {
    fn error(&mut self, offset: usize, message: String) {
        self.diags
            .push(self.src.diagnostic(Severity::Error, offset, message));
    }

    fn warn(&mut self, offset: usize, message: String) {
        self.diags
            .push(self.src.diagnostic(Severity::Warning, offset, message));
    }

    /// Compiles the patterns of one `match` table; `owner` names the rule or silence.
    fn matcher(&mut self, fields: &[RawField], owner: &str) -> Matcher {
        let mut out = Vec::new();
        for f in fields {
            let name = MATCH_FIELDS[f.field];
            let mut specs = Vec::new();
            for p in &f.patterns {
                let at = p.span.start;
                let spec = if interpolate::has_env_reference(&p.value) {
                    // `check --no-env`: the real value is unknown; keep the reference literally.
                    PatternSpec::literal(&p.value)
                } else {
                    match PatternSpec::parse(&p.value) {
                        Ok(s) => s,
                        Err(msg) => {
                            self.error(at, format!("{owner}: match.{name}: {msg}"));
                            continue;
                        }
                    }
                };
                let spec = match f.field {
                    REPORT => match self.report_pattern(spec, owner, at) {
                        Some(s) => s,
                        None => continue,
                    },
                    ENVIRONMENT => {
                        if let PatternKind::Literal(l) = &spec.kind
                            && !self.known_envs.contains(l)
                            && !interpolate::has_env_reference(l)
                        {
                            let mut known: Vec<_> = self.known_envs.iter().cloned().collect();
                            known.sort();
                            self.warn(
                                at,
                                format!(
                                    "{owner}: match.environment: unknown environment {l:?} (known: {})",
                                    known.join(", ")
                                ),
                            );
                        }
                        spec
                    }
                    _ => spec,
                };
                match Single::compile(&spec) {
                    Ok(single) => specs.push((spec, single)),
                    Err(msg) => self.error(
                        at,
                        format!(
                            "{owner}: match.{name}: invalid regex in pattern {:?}: {msg}",
                            spec.text
                        ),
                    ),
                }
            }
            if specs.is_empty() {
                continue;
            }
            match FieldMatcher::new(f.field, specs) {
                Ok(m) => out.push(m),
                Err(msg) => self.error(
                    f.key_span.start,
                    format!("{owner}: match.{name}: patterns too large to compile together: {msg}"),
                ),
            }
        }
        Matcher { fields: out }
    }

    /// Literal report names must be templates (the alias is normalized); globs and regexes that
    /// match no template draw a warning.
    fn report_pattern(&mut self, spec: PatternSpec, owner: &str, at: usize) -> Option<PatternSpec> {
        let names: Vec<&str> = ReportTemplate::ALL.iter().map(|t| t.name()).collect();
        match &spec.kind {
            PatternKind::Literal(l) => match ReportTemplate::from_name(l) {
                // `text` stays as written (for explanations); the alias matches the canonical name.
                Some(t) => Some(PatternSpec {
                    kind: PatternKind::Literal(t.name().to_string()),
                    ..spec
                }),
                None => {
                    self.error(
                        at,
                        format!(
                            "{owner}: match.report: unknown report template {l:?}; expected one of: {}, MALWARE_JOB_REPORT",
                            names.join(", ")
                        ),
                    );
                    None
                }
            },
            _ => {
                if let Ok(single) = Single::compile(&spec)
                    && !names.iter().any(|n| single.is_match(n))
                {
                    self.warn(
                        at,
                        format!(
                            "{owner}: match.report: pattern {:?} matches no report template ({})",
                            spec.text,
                            names.join(", ")
                        ),
                    );
                }
                Some(spec)
            }
        }
    }
}

/// Checks and compiles `raw`; every problem goes to `diags`.
pub fn compile(
    raw: RawConfig,
    src: &SourceMap<'_>,
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Compiled {
    let mut c = Checker {
        src,
        diags,
        known_envs: HashSet::new(),
    };

    // Environments and the account → environment map.
    let mut account_env: HashMap<Box<str>, usize> = HashMap::new();
    let mut environments = Vec::new();
    for (i, env) in raw.environments.iter().enumerate() {
        for a in &env.accounts {
            match account_env.get(a.value.as_str()) {
                Some(&j) if j == i => c.warn(
                    a.span.start,
                    format!(
                        "environments.{}.accounts: account {:?} is listed twice",
                        env.name.value, a.value
                    ),
                ),
                Some(&j) => {
                    let first: &str = &raw.environments[j].name.value;
                    c.error(
                        a.span.start,
                        format!(
                            "account {:?} is listed in two environments, {first:?} and {:?}; an account belongs to one environment",
                            a.value, env.name.value
                        ),
                    );
                }
                None => {
                    account_env.insert(a.value.as_str().into(), i);
                }
            }
        }
        environments.push(Environment {
            name: env.name.value.clone(),
            accounts: env.accounts.iter().map(|a| a.value.clone()).collect(),
        });
        c.known_envs.insert(env.name.value.clone());
    }
    let default_environment = raw
        .settings
        .default_environment
        .as_ref()
        .map(|d| d.value.clone());
    let fallback_env = opts
        .env_override
        .clone()
        .or_else(|| default_environment.clone())
        .unwrap_or_else(|| "default".to_string());
    c.known_envs.insert(fallback_env.clone());
    if let Some(d) = &default_environment {
        c.known_envs.insert(d.clone());
    } else {
        c.known_envs.insert("default".to_string());
    }

    // Sinks.
    let mut sink_index: HashMap<&str, usize> = HashMap::new();
    let mut sinks = Vec::new();
    for s in &raw.sinks {
        sink_index.insert(&s.name.value, sinks.len());
        sinks.push(SinkDecl {
            name: s.name.value.clone(),
            kind: s.kind.value.clone(),
            settings: s.settings.clone(),
            policy: s.policy.over(super::notify::Policy::default()),
            positions: crate::rules::SinkPositions {
                table: Some(c.src.position(s.name.span.start)),
                keys: s
                    .key_spans
                    .iter()
                    .map(|(k, span)| (k.clone(), c.src.position(span.start)))
                    .collect(),
            },
        });
    }

    // Rules.
    let mut used_sinks = vec![false; sinks.len()];
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut rules = Vec::new();
    for (position, rule) in raw.rules.iter().enumerate() {
        let label = rule.label();
        if let Some(name) = &rule.name {
            if let Some(&first) = names.get(name.value.as_str()) {
                let first_rule = &raw.rules[first];
                let (line, _) = src.position(first_rule.span.start);
                c.error(
                    name.span.start,
                    format!(
                        "duplicate rule name {:?} (first used by rules[{}] at line {line}); rule names must be unique",
                        name.value, first_rule.index
                    ),
                );
            } else {
                names.insert(&name.value, position);
            }
        }
        let mut rule_sinks = Vec::new();
        for s in rule.sinks.iter().flatten() {
            match sink_index.get(s.value.as_str()) {
                Some(&i) if rule_sinks.contains(&i) => c.warn(
                    s.span.start,
                    format!("{label}: sink {:?} is listed twice", s.value),
                ),
                Some(&i) => {
                    used_sinks[i] = true;
                    rule_sinks.push(i);
                }
                None => {
                    let mut declared: Vec<&str> = sink_index.keys().copied().collect();
                    declared.sort_unstable();
                    let declared = if declared.is_empty() {
                        "none; declare it under [sinks.NAME]".to_string()
                    } else {
                        declared.join(", ")
                    };
                    c.error(
                        s.span.start,
                        format!(
                            "{label}: unknown sink {:?} (declared sinks: {declared})",
                            s.value
                        ),
                    );
                }
            }
        }
        let matcher = c.matcher(&rule.fields, &label);
        rules.push(CompiledRule {
            name: rule
                .name
                .as_ref()
                .map_or_else(|| format!("rules[{}]", rule.index), |n| n.value.clone()),
            sinks: rule_sinks,
            continue_: rule.continue_,
            matcher,
            policy: rule.policy,
        });
    }

    // Shadowed rules: an earlier rule that stops the walk and matches all a later one matches.
    for (j, later) in raw.rules.iter().enumerate() {
        for (i, earlier) in raw.rules[..j].iter().enumerate() {
            if earlier.continue_ {
                continue;
            }
            let (a, b) = (&rules[i].matcher, &rules[j].matcher);
            let covered = a
                .fields
                .iter()
                .all(|fa| b.get(fa.field).is_some_and(|fb| fa.covers(fb)));
            if covered {
                let at = later
                    .name
                    .as_ref()
                    .map_or(later.span.start, |n| n.span.start);
                let (line, _) = src.position(earlier.span.start);
                c.warn(
                    at,
                    format!(
                        "rule {:?} is shadowed by rule {:?} (line {line}): every finding it matches is routed by that earlier rule, which has no `continue = true`, so it never matches",
                        rules[j].name, rules[i].name
                    ),
                );
                break;
            }
        }
    }

    if raw.rules.is_empty() {
        c.warn(0, "no [[rules]]: every finding goes nowhere".to_string());
    }
    for (i, s) in raw.sinks.iter().enumerate() {
        if !used_sinks[i] {
            c.warn(
                s.name.span.start,
                format!("sink {:?} is declared but no rule uses it", s.name.value),
            );
        }
    }

    // Silences.
    let mut silences = Vec::new();
    let mut compiled_silences = Vec::new();
    for s in &raw.silences {
        let owner = format!("silences[{}]", s.index);
        let matcher = c.matcher(s.fields.as_deref().unwrap_or_default(), &owner);
        if let Some(span) = &s.empty_match {
            c.warn(
                span.start,
                format!("{owner}: empty `match`: it silences every finding"),
            );
        }
        let live = match &s.until {
            Some(until) if until.value < opts.today => {
                c.warn(
                    until.span.start,
                    format!(
                        "{owner}: expired on {} (today is {}); it no longer applies: remove it or extend `until`",
                        until.value, opts.today
                    ),
                );
                false
            }
            Some(_) => true,
            None => false,
        };
        silences.push(Silence {
            // A silence without `until` is an error, so these Rules are never handed out.
            until: s.until.as_ref().map_or(chrono::NaiveDate::MIN, |u| u.value),
            reason: s
                .reason
                .as_ref()
                .map(|r| r.value.clone())
                .unwrap_or_default(),
            live,
        });
        compiled_silences.push(CompiledSilence { live, matcher });
    }

    Compiled {
        settings: Settings {
            default_environment,
        },
        environments,
        account_env,
        fallback_env,
        sinks,
        rules,
        silences,
        compiled_silences,
    }
}
