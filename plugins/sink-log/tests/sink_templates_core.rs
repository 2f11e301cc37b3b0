//! Snapshots of the log sink's built-in template for every report template. Review changes with
//! `cargo insta review`.

use audit_router_sink_api::samples::sample_digest;
use audit_router_sink_api::{RenderContext, ReportTemplate, Sink, StaticSecrets};
use audit_router_test_support::sinks::{build, ctx as build_ctx};
use std::sync::Arc;

fn ctx(test: bool) -> RenderContext {
    RenderContext {
        now: "2026-11-26T08:00:00Z".parse().unwrap(),
        test,
    }
}

fn sink(settings: &str) -> Arc<dyn Sink> {
    let c = build_ctx(&std::env::temp_dir(), StaticSecrets::new());
    build(&audit_router_sink_log::factory(), "my-log", settings, &c).unwrap()
}

#[test]
fn log_default_templates() {
    let s = sink("");
    for r in ReportTemplate::ALL {
        let p = s.render(&sample_digest(r, "my-log"), &ctx(false)).unwrap();
        let lines: Vec<&str> = p.iter().map(|p| p.body.as_str()).collect();
        insta::assert_snapshot!(
            format!("log_default_{}", r.name().to_lowercase()),
            lines.join("\n")
        );
    }
}
