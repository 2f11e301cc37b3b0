//! Snapshots of the SNS sink's built-in templates (body and subject) for every report template,
//! and a send-test message. Review changes with `cargo insta review`.

use audit_router_sink_api::samples::{
    sample_digest, sample_digest_first_report, sample_digest_with_changes,
};
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
    build(&audit_router_sink_sns::factory(), "my-sns", settings, &c).unwrap()
}

fn sns_text(s: &dyn Sink, r: ReportTemplate, test: bool) -> String {
    let p = s.render(&sample_digest(r, s.name()), &ctx(test)).unwrap();
    assert_eq!(p.len(), 1);
    format!(
        "SUBJECT: {}\nATTRIBUTES: {}\n\n{}",
        p[0].subject.as_deref().unwrap(),
        serde_json::to_string(&p[0].attributes).unwrap(),
        p[0].body
    )
}

#[test]
fn sns_default_templates() {
    let s = sink("topic_arn = \"arn:aws:sns:eu-west-1:111122223333:audit\"");
    for r in ReportTemplate::ALL {
        insta::assert_snapshot!(
            format!("sns_default_{}", r.name().to_lowercase()),
            sns_text(&*s, r, false)
        );
    }
    insta::assert_snapshot!(
        "sns_send_test",
        sns_text(&*s, ReportTemplate::ResourceCompliance, true)
    );
}

/// A local report (a dry run or `send` of a file) has no S3 console link: the e-mail names it
/// once, on its `Report:` line.
#[test]
fn sns_body_of_a_local_report_names_it_once() {
    let s = sink("topic_arn = \"arn:aws:sns:eu-west-1:111122223333:audit\"");
    let mut d = sample_digest(ReportTemplate::BackupJob, s.name());
    d.source.uri = "./reports/BACKUP_JOB_REPORT.csv".into();
    d.source.bucket = None;
    d.source.key = None;
    let body = &s.render(&d, &ctx(false)).unwrap()[0].body;
    assert_eq!(
        body.matches("./reports/BACKUP_JOB_REPORT.csv").count(),
        1,
        "{body}"
    );
    assert_eq!(body.matches("Report:").count(), 1, "{body}");
    // An S3 report has the URI and, below it, the console link.
    let d = sample_digest(ReportTemplate::BackupJob, s.name());
    let body = &s.render(&d, &ctx(false)).unwrap()[0].body;
    assert!(
        body.contains("https://s3.console.aws.amazon.com/s3/object/"),
        "{body}"
    );
}

/// The rules stage leaves `$${` in sink settings for the sink layer; in a plain setting such as
/// `subject` it is a literal `${` (the one reference parser, `sink_api::reference`).
#[test]
fn an_escaped_reference_in_the_subject_is_literal_text() {
    let s = sink(
        "topic_arn = \"arn:aws:sns:eu-west-1:111122223333:audit\"\n\
         subject = \"$${env:NOT_RESOLVED} {{total}}\"",
    );
    let p = s
        .render(
            &sample_digest(ReportTemplate::BackupJob, s.name()),
            &ctx(false),
        )
        .unwrap();
    let subject = p[0].subject.as_deref().unwrap();
    assert!(subject.starts_with("${env:NOT_RESOLVED} "), "{subject}");
}

/// With state: the counts line, new findings first and marked, ongoing ones with their age,
/// the resolved ones listed; the first report of a stream says every finding is new.
#[test]
fn sns_templates_with_changes() {
    let s = sink("topic_arn = \"arn:aws:sns:eu-west-1:111122223333:audit\"");
    for r in [
        ReportTemplate::ResourceCompliance,
        ReportTemplate::BackupJob,
    ] {
        let p = s
            .render(&sample_digest_with_changes(r, s.name()), &ctx(false))
            .unwrap();
        let text = format!(
            "SUBJECT: {}\n\n{}",
            p[0].subject.as_deref().unwrap(),
            p[0].body
        );
        assert!(text.contains("1 new, "), "{text}");
        assert!(text.contains("1 resolved since 25 Nov 2026"), "{text}");
        insta::assert_snapshot!(format!("sns_changes_{}", r.name().to_lowercase()), text);
    }
    let p = s
        .render(
            &sample_digest_first_report(ReportTemplate::ControlCompliance, s.name()),
            &ctx(false),
        )
        .unwrap();
    assert!(
        p[0].body.contains("First report of this stream"),
        "{}",
        p[0].body
    );
    insta::assert_snapshot!("sns_first_report", p[0].body.clone());
}
