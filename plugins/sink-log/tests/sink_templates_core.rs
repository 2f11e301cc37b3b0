//! Snapshots of the log sink's built-in template for every report template. Review changes with
//! `cargo insta review`.

use audit_router_sink_api::samples::{sample_digest, sample_digest_with_changes};
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

/// With state: the digest line carries the counts, each finding line its change, first-seen
/// date and days open, and each resolved finding a line of type `resolved`.
#[test]
fn log_lines_with_changes() {
    let s = sink("");
    let p = s
        .render(
            &sample_digest_with_changes(ReportTemplate::ResourceCompliance, "my-log"),
            &ctx(false),
        )
        .unwrap();
    let lines: Vec<serde_json::Value> = p
        .iter()
        .map(|p| serde_json::from_str(&p.body).unwrap())
        .collect();
    assert_eq!(
        (lines[0]["new"].as_u64(), lines[0]["resolved"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(lines[1]["change"], "new");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "resolved");
    assert_eq!(last["days_open"], 30);
    insta::assert_snapshot!(
        "log_changes_resource_compliance_report",
        p.iter()
            .map(|p| p.body.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
