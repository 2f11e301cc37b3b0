//! The sink registry: every sink plugin, one registration line each. Adding a sink = one crate in
//! `plugins/` + one line in [`registry`] (see `plugins/README.md`).

use crate::deliver::DeliveryJob;
use crate::rules::{Diagnostic, Severity, SinkDecl};
use audit_router_sink_api::samples::{sample_digest, sample_digest_with_changes, sample_digests};
use audit_router_sink_api::{
    BuildContext, Digest, Payload, Preview, RenderContext, ReportTemplate, Sink, SinkConfig,
    SinkError, SinkFactory,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every sink type this binary knows.
pub fn registry() -> Registry {
    let mut r = Registry::empty();
    r.register(audit_router_sink_log::factory());
    r.register(audit_router_sink_sns::factory());
    r.register(audit_router_sink_slack::factory());
    r.register(audit_router_sink_webhook::factory());
    r
}

/// Sink factories by type name.
pub struct Registry {
    factories: BTreeMap<&'static str, Box<dyn SinkFactory>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

/// A sink that failed to build or whose templates fail on sample data.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct SinkBuildError {
    pub sink: String,
    #[source]
    pub error: SinkError,
}

impl SinkBuildError {
    /// `sinks.NAME.KEY: what` (a settings error names its key itself; others get the sink).
    pub fn message(&self) -> String {
        match &self.error {
            SinkError::Config { .. } => self.error.to_string(),
            e => format!("sinks.{}: {e}", self.sink),
        }
    }

    /// This error as a diagnostic of `file`, at the offending key of `decl` (or its table):
    /// `rules.toml:12:1: error: sinks.chat.url: missing (required); …`.
    pub fn diagnostic(&self, file: &str, decl: Option<&SinkDecl>) -> Diagnostic {
        let key = match &self.error {
            SinkError::Config { key, .. } => key.as_deref(),
            SinkError::Template(_) => Some("template"),
            _ => None,
        };
        let (line, column) = decl.map_or((1, 1), |d| d.position_of(key));
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line,
            column,
            message: self.message(),
        }
    }
}

impl Registry {
    pub fn empty() -> Self {
        Registry {
            factories: BTreeMap::new(),
        }
    }

    /// Adds a factory; a later factory of the same type replaces the earlier one.
    pub fn register(&mut self, factory: impl SinkFactory + 'static) {
        self.factories.insert(factory.kind(), Box::new(factory));
    }

    pub fn get(&self, kind: &str) -> Option<&dyn SinkFactory> {
        self.factories.get(kind).map(|f| &**f)
    }

    /// The preview link of one message of sink type `kind` (its factory's
    /// [`SinkFactory::preview`]); none for an unregistered type.
    pub fn preview(&self, kind: &str, payload: &Payload) -> Option<Preview> {
        self.get(kind)?.preview(payload)
    }

    /// The registered type names, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.factories.keys().copied().collect()
    }

    /// Builds one declared sink (validates its settings, compiles its templates).
    pub fn build(&self, decl: &SinkDecl, ctx: &BuildContext) -> Result<Arc<dyn Sink>, SinkError> {
        let factory = self.get(&decl.kind).ok_or_else(|| {
            let kinds = self.kinds();
            let hint = audit_router_sink_api::text::suggest(&decl.kind, &kinds)
                .map(|k| format!("did you mean {k:?}? "))
                .unwrap_or_default();
            SinkError::config(
                &decl.name,
                Some("type"),
                format!(
                    "unknown sink type {:?} ({hint}known: {})",
                    decl.kind,
                    kinds.join(", ")
                ),
            )
        })?;
        factory.build(
            SinkConfig {
                name: &decl.name,
                kind: &decl.kind,
                settings: &decl.settings,
                docs: factory.settings(),
            },
            ctx,
        )
    }

    /// Builds every declared sink, in order; all errors, not just the first.
    pub fn build_all(
        &self,
        decls: &[SinkDecl],
        ctx: &BuildContext,
    ) -> Result<Vec<Arc<dyn Sink>>, Vec<SinkBuildError>> {
        let mut sinks = Vec::with_capacity(decls.len());
        let mut errors = Vec::new();
        for d in decls {
            match self.build(d, ctx) {
                Ok(s) => sinks.push(s),
                Err(error) => errors.push(SinkBuildError {
                    sink: d.name.clone(),
                    error,
                }),
            }
        }
        if errors.is_empty() {
            Ok(sinks)
        } else {
            Err(errors)
        }
    }
}

/// Which sample digests [`check_sink_shapes`] renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleShapes {
    /// Without state, with new / ongoing / resolved findings, and of a stream's first report.
    All,
    /// With new / ongoing / resolved findings only (a process that keeps state).
    WithState,
    /// Without state only.
    WithoutState,
    None,
}

/// `check`: renders sample data of every report template with `sink` (each without state, with
/// new, ongoing and resolved findings, and as a stream's first report); one error per template
/// that fails (template errors carry file:line:column).
pub fn check_sink(sink: &dyn Sink) -> Vec<(ReportTemplate, SinkError)> {
    check_sink_shapes(sink, SampleShapes::All)
}

/// [`check_sink`] with only the digests of `shapes`.
pub fn check_sink_shapes(
    sink: &dyn Sink,
    shapes: SampleShapes,
) -> Vec<(ReportTemplate, SinkError)> {
    let ctx = RenderContext::now();
    let mut errors = Vec::new();
    let digests: Vec<Digest> = match shapes {
        SampleShapes::All => sample_digests(sink.name()),
        SampleShapes::WithState => ReportTemplate::ALL
            .iter()
            .map(|r| sample_digest_with_changes(*r, sink.name()))
            .collect(),
        SampleShapes::WithoutState => ReportTemplate::ALL
            .iter()
            .map(|r| sample_digest(*r, sink.name()))
            .collect(),
        SampleShapes::None => Vec::new(),
    };
    for d in digests {
        // Each template is rendered with and without state; its first failure says enough.
        if errors.iter().any(|(r, _)| *r == d.report) {
            continue;
        }
        if let Err(e) = sink.render(&d, &ctx) {
            errors.push((d.report, e));
        }
    }
    errors
}

/// `send-test`: the sample digest a test message is built from (render it with
/// `RenderContext { test: true, .. }` so templates mark it as a test).
pub fn test_digest(sink: &str) -> Digest {
    sample_digest(ReportTemplate::ResourceCompliance, sink)
}

/// A sink `send-test` was asked for that the rules do not declare.
#[derive(Debug, thiserror::Error)]
#[error("no sink {name:?} in {file} (declared: {declared})")]
pub struct UnknownSink {
    pub name: String,
    pub file: String,
    pub declared: String,
}

/// `send-test`: the job that sends sink `name` its test message ([`test_digest`]).
pub fn test_job(engine: &crate::pipeline::Engine, name: &str) -> Result<DeliveryJob, UnknownSink> {
    let sink = engine
        .sinks
        .iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| UnknownSink {
            name: name.to_owned(),
            file: engine.rules.file().to_owned(),
            declared: engine
                .sinks
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    Ok(DeliveryJob {
        sink: sink.clone(),
        digest: test_digest(sink.name()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_router_sink_api::StaticSecrets;

    fn ctx() -> BuildContext {
        BuildContext {
            base_dir: std::env::temp_dir(),
            aws: None,
            secrets: Arc::new(StaticSecrets::new()),
        }
    }

    fn decl(name: &str, kind: &str, settings: &str) -> SinkDecl {
        SinkDecl::new(name, kind, settings.parse().unwrap())
    }

    #[test]
    fn registry_knows_core_sinks_and_names_unknown_types() {
        let r = registry();
        assert!(r.kinds().contains(&"log") && r.kinds().contains(&"sns"));
        let e = r
            .build(&decl("pager", "carrier-pigeon", ""), &ctx())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("sinks.pager.type: unknown sink type \"carrier-pigeon\""),
            "{e}"
        );
    }

    #[test]
    fn build_all_reports_every_error() {
        let r = registry();
        let errs = r
            .build_all(
                &[
                    decl("a", "sns", ""),
                    decl("b", "log", ""),
                    decl("c", "log", "bogus = 1"),
                ],
                &ctx(),
            )
            .err()
            .unwrap();
        let names: Vec<&str> = errs.iter().map(|e| e.sink.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert!(errs[0].to_string().contains("sinks.a.topic_arn: missing"));
    }

    #[test]
    fn check_reports_template_errors_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.hbs"),
            "ok line\n{{#each groups}}{{controll}}{{/each}}\n",
        )
        .unwrap();
        let ctx = BuildContext {
            base_dir: dir.path().to_path_buf(),
            ..ctx()
        };
        let sink = registry()
            .build(
                &decl(
                    "ops",
                    "sns",
                    "topic_arn = \"arn:aws:sns:eu-west-1:111122223333:t\"\ntemplate = \"bad.hbs\"",
                ),
                &ctx,
            )
            .unwrap();
        let errs = check_sink(&*sink);
        assert_eq!(errs.len(), ReportTemplate::ALL.len());
        let msg = errs[0].1.to_string();
        assert!(msg.contains("bad.hbs:2:17:"), "{msg}");
        assert!(msg.contains("controll"), "{msg}");
        // The built-in templates pass on every report type.
        let good = registry()
            .build(
                &decl(
                    "ops",
                    "sns",
                    "topic_arn = \"arn:aws:sns:eu-west-1:111122223333:t\"",
                ),
                &ctx,
            )
            .unwrap();
        assert!(check_sink(&*good).is_empty());
    }
}
