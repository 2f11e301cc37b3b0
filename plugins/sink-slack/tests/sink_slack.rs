//! The Slack sink against the strict Slack stand-in (`tools/test-support/src/slack.rs`, which checks every
//! body as Slack does and answers Slack's errors) and the official SDK's Block Kit models
//! (`slack_sdk`): Block Kit payloads, escaping of hostile report values, Slack's limits (50
//! blocks, 3 000 characters a section, the undocumented ~11 300 characters of block text a
//! message) with split and truncate, the fallback message when Slack still refuses one,
//! 429/5xx/4xx handling and secret redaction. Snapshots pin the default template per report
//! type.

use audit_router_sink_api::host::DigestBuilder;
use audit_router_sink_api::samples::{
    sample_digest, sample_digest_first_report, sample_digest_with_changes,
};
use audit_router_sink_api::{
    BuildContext, Digest, Finding, Payload, ReportTemplate, Retry, Sink, SinkError, SourceInfo,
    StaticSecrets,
};
use audit_router_sink_slack::SlackFactory;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use audit_router_test_support::slack::{Answer, SlackStandIn, assert_slack_accepts, check_body};

use audit_router_test_support::sinks::{ctx, fixed_ctx};

fn build(settings: &str, c: &BuildContext) -> Result<Arc<dyn Sink>, SinkError> {
    audit_router_test_support::sinks::build(&SlackFactory, "ops-slack", settings, c)
}

fn build_err(settings: &str, c: &BuildContext) -> SinkError {
    audit_router_test_support::sinks::build_err(&SlackFactory, "ops-slack", settings, c)
}

fn sink(settings: &str) -> Arc<dyn Sink> {
    build(settings, &ctx(Path::new("."), StaticSecrets::new())).expect("sink builds")
}

fn blocks_of(p: &Payload) -> Vec<Value> {
    let v: Value = serde_json::from_str(&p.body).expect("Slack body is JSON");
    v["blocks"].as_array().expect("blocks array").clone()
}

fn texts_of(p: &Payload) -> Vec<String> {
    blocks_of(p)
        .iter()
        .filter_map(|b| {
            b["text"]["text"]
                .as_str()
                .or(b["elements"][0]["text"].as_str())
                .map(String::from)
        })
        .collect()
}

fn resource_finding(i: usize, control: &str, resource: &str) -> Finding {
    let mut f = Finding::new(ReportTemplate::ResourceCompliance);
    f.framework = Some("prod-backup-policy".into());
    f.control = Some(control.into());
    f.status = Some("NON_COMPLIANT".into());
    f.account = Some("111122223333".into());
    f.region = Some("eu-west-1".into());
    f.environment = "prod".into();
    f.resource_type = Some("AWS::EC2::Instance".into());
    f.resource = Some(resource.into());
    f.index = i as u64;
    f
}

fn source() -> SourceInfo {
    SourceInfo {
        uri: "s3://reports/audit/RESOURCE_COMPLIANCE_REPORT_daily.json".into(),
        bucket: Some("reports".into()),
        key: Some("audit/RESOURCE_COMPLIANCE_REPORT_daily.json".into()),
        format: "json".into(),
    }
}

/// 3 000 non-compliant resources spread over 12 controls, every one kept by the group stage.
fn big_digest() -> Digest {
    let mut b = DigestBuilder::new(
        "ops-slack",
        ReportTemplate::ResourceCompliance,
        source(),
        100_000,
    );
    for i in 0..3000 {
        let control = format!("CONTROL_{:02}", i % 12);
        let f = resource_finding(
            i,
            &control,
            &format!("AWS::EC2::Instance/i-{i:017x}-with-a-fairly-long-name"),
        );
        b.push(&f, "all");
    }
    b.finish()
}

/// The number of resources a payload lists (one `•` line each).
fn listed(p: &Payload) -> usize {
    texts_of(p)
        .iter()
        .map(|t| t.lines().filter(|l| l.starts_with("• ")).count())
        .sum()
}

/// Within the sink's own budget (default `max_block_chars`: 10 000) and accepted by the strict
/// stand-in; the fallback `text` is a short preview.
fn check_limits(p: &Payload) {
    let blocks = blocks_of(p);
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    let mut total = 0;
    for t in texts_of(p) {
        let n = t.chars().count();
        assert!(n <= 3000, "section of {n} chars");
        total += n;
    }
    assert!(total <= 10_000, "{total} characters of block text");
    let v: Value = serde_json::from_str(&p.body).unwrap();
    let fallback = v["text"].as_str().expect("fallback text");
    assert!(
        !fallback.is_empty() && fallback.chars().count() <= 150,
        "{fallback}"
    );
    if let Err(e) = check_body(p.body.as_bytes()) {
        panic!("the stand-in refuses it: {e:?}\n{}", p.body);
    }
}

fn bodies(payloads: &[Payload]) -> Vec<String> {
    payloads.iter().map(|p| p.body.clone()).collect()
}

/// "…and N more resources" in the payload's last block, as N.
fn and_more(p: &Payload) -> Option<u64> {
    let texts = texts_of(p);
    let last = texts.last()?;
    let rest = last.strip_prefix("…and ")?;
    rest.split(' ').next()?.parse().ok()
}

#[test]
fn default_template_snapshots_for_every_report_type() {
    let s = sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"");
    let mut all = Vec::new();
    for report in ReportTemplate::ALL {
        let payloads = s
            .render(&sample_digest(report, "ops-slack"), &fixed_ctx())
            .expect("renders");
        assert_eq!(payloads.len(), 1, "{report}");
        let p = &payloads[0];
        check_limits(p);
        assert_eq!(p.content_type, "application/json");
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&p.body).unwrap()).unwrap();
        insta::assert_snapshot!(
            format!("slack_default_{}", report.name().to_lowercase()),
            format!(
                "subject: {}\n\n{pretty}",
                p.subject.as_deref().unwrap_or("")
            )
        );
        all.push(p.body.clone());
        all.extend(p.fallback.clone());
    }
    // Every snapshot payload, and its fallback message, as the official SDK reads it.
    assert_slack_accepts(&all);
}

/// With state: the counts line, new findings marked, ongoing ones with their age, a resolved
/// section; every payload within Slack's limits and accepted by the official SDK.
#[test]
fn default_template_with_changes() {
    let s = sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"");
    let mut all = Vec::new();
    for report in ReportTemplate::ALL {
        for (kind, d) in [
            ("changes", sample_digest_with_changes(report, "ops-slack")),
            ("first", sample_digest_first_report(report, "ops-slack")),
        ] {
            let payloads = s.render(&d, &fixed_ctx()).expect("renders");
            assert_eq!(payloads.len(), 1, "{report}");
            let p = &payloads[0];
            check_limits(p);
            if kind == "changes" {
                assert!(p.body.contains("*1 new*"), "{}", p.body);
                assert!(p.body.contains("Resolved since 25 Nov"), "{}", p.body);
            } else {
                assert!(p.body.contains("First report of this stream"), "{}", p.body);
            }
            if report == ReportTemplate::ResourceCompliance || report == ReportTemplate::BackupJob {
                let pretty =
                    serde_json::to_string_pretty(&serde_json::from_str::<Value>(&p.body).unwrap())
                        .unwrap();
                insta::assert_snapshot!(
                    format!("slack_{kind}_{}", report.name().to_lowercase()),
                    pretty
                );
            }
            all.push(p.body.clone());
            all.extend(p.fallback.clone());
        }
    }
    assert_slack_accepts(&all);
}

#[test]
fn default_template_names_every_control_and_resource() {
    let s = sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"");
    let d = sample_digest(ReportTemplate::ResourceCompliance, "ops-slack");
    let body = &s.render(&d, &fixed_ctx()).unwrap()[0].body;
    for g in &d.groups {
        assert!(
            body.contains(g.control.as_deref().unwrap()),
            "{:?}",
            g.control
        );
        assert!(body.contains(g.framework.as_deref().unwrap()));
        for f in &g.findings {
            assert!(body.contains(f.resource.as_deref().unwrap()));
            assert!(body.contains(f.resource_type.as_deref().unwrap()));
        }
    }
    let jobs = sample_digest(ReportTemplate::BackupJob, "ops-slack");
    let body = &s.render(&jobs, &fixed_ctx()).unwrap()[0].body;
    assert!(body.contains("*FAILED*: 2 jobs"), "{body}");
    assert!(body.contains("Insufficient privileges"));
    assert!(body.contains("6F03675A-1600-A35A-0999-50D836F675CC"));
}

#[test]
fn test_messages_are_marked() {
    let s = sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"");
    let mut c = fixed_ctx();
    c.test = true;
    let p = &s
        .render(&sample_digest(ReportTemplate::BackupJob, "ops-slack"), &c)
        .unwrap()[0];
    assert!(
        p.subject.as_deref().unwrap().contains("Test message"),
        "{p:?}"
    );
    assert!(texts_of(p)[0].contains("Test message from audit-router"));
}

#[test]
fn hostile_resource_names_are_escaped_everywhere() {
    let mut b = DigestBuilder::new(
        "ops-slack",
        ReportTemplate::ResourceCompliance,
        source(),
        10,
    );
    let mut f = resource_finding(
        0,
        "CONTROL_<!here>",
        "<!channel> & <@U123|boss> <https://evil.test|click>",
    );
    f.account = Some("<!everyone>".into());
    b.push(&f, "all");
    let d = b.finish();
    let p = &sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"")
        .render(&d, &fixed_ctx())
        .unwrap()[0];
    for needle in [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U123",
        "<https://evil.test",
    ] {
        assert!(!p.body.contains(needle), "{needle} leaked: {}", p.body);
        assert!(!p.subject.as_deref().unwrap_or("").contains(needle));
    }
    assert!(
        p.body.contains("&lt;!channel&gt; &amp; &lt;@U123|boss&gt;"),
        "{}",
        p.body
    );
    assert!(p.body.contains("&lt;!everyone&gt;"));
    // Links the sink itself makes stay links.
    assert!(
        p.body
            .contains("<https://console.aws.amazon.com/backup/home?region=eu-west-1")
    );
}

#[test]
fn truncate_fits_one_message_and_counts_the_rest() {
    let d = big_digest();
    let s =
        sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"\noverflow = \"truncate\"");
    let payloads = s.render(&d, &fixed_ctx()).unwrap();
    assert_eq!(payloads.len(), 1);
    let p = &payloads[0];
    check_limits(p);
    let shown = listed(p) as u64;
    // ~350 characters a resource line (console link included) in a 10 000-character message.
    assert!(shown > 20, "lists a useful number of resources ({shown})");
    let more = and_more(p).expect("ends with …and N more");
    assert_eq!(shown + more, 3000, "every resource is listed or counted");
    let last = texts_of(p).pop().unwrap();
    assert!(
        last.contains(&format!("…and {more} more resources not listed here")),
        "{last}"
    );
    assert!(
        last.contains("<https://s3.console.aws.amazon.com/s3/object/reports?prefix=audit%2FRESOURCE_COMPLIANCE_REPORT_daily.json|"),
        "{last}"
    );
    // Every control is still named, with its exact count.
    for c in 0..12 {
        assert!(
            p.body.contains(&format!("CONTROL_{c:02}")),
            "CONTROL_{c:02} missing"
        );
    }
    assert!(
        p.body.contains("250 resources"),
        "per-control counts stay exact"
    );
    assert_slack_accepts(&bodies(&payloads));
}

/// 300 resources over 12 controls, each kept.
fn digest_of(n: usize) -> Digest {
    let mut b = DigestBuilder::new(
        "ops-slack",
        ReportTemplate::ResourceCompliance,
        source(),
        100_000,
    );
    for i in 0..n {
        let control = format!("CONTROL_{:02}", i % 12);
        let f = resource_finding(
            i,
            &control,
            &format!("AWS::EC2::Instance/i-{i:017x}-with-a-fairly-long-name"),
        );
        b.push(&f, "all");
    }
    b.finish()
}

#[test]
fn split_numbers_messages_within_limits() {
    let d = digest_of(300);
    let s = sink(
        "url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"\noverflow = \"split\"\nmax_messages = 20",
    );
    let payloads = s.render(&d, &fixed_ctx()).unwrap();
    let n = payloads.len();
    assert!(n > 1 && n <= 20, "{n} messages");
    let mut total = 0;
    for (i, p) in payloads.iter().enumerate() {
        check_limits(p);
        assert_eq!((p.part, p.parts), (i + 1, n));
        let first = &texts_of(p)[0];
        assert!(
            first.ends_with(&format!("part {} of {n}", i + 1)),
            "{first}"
        );
        assert!(
            p.subject
                .as_deref()
                .unwrap()
                .ends_with(&format!("(part {} of {n})", i + 1))
        );
        total += listed(p);
    }
    // These messages hold all 300: nothing is left out.
    assert_eq!(total, 300);
    assert!(payloads.iter().all(|p| and_more(p).is_none()));
    assert_slack_accepts(&bodies(&payloads));
}

/// The case: 3 000 findings render under both modes into messages the strict stand-in
/// and slack_sdk accept, and the stand-in takes every one of them as sent.
#[tokio::test]
async fn a_digest_of_3000_findings_reaches_slack_in_both_modes() {
    let d = big_digest();
    for mode in ["truncate", "split"] {
        let slack = SlackStandIn::start().await;
        let s = build(
            &format!(
                "url = \"{}\"\nallow_insecure_http = true\noverflow = \"{mode}\"\nmax_messages = 50",
                slack.url()
            ),
            &ctx(Path::new("."), StaticSecrets::new()),
        )
        .unwrap();
        let payloads = s.render(&d, &fixed_ctx()).unwrap();
        payloads.iter().for_each(check_limits);
        assert_slack_accepts(&bodies(&payloads));
        let shown: usize = payloads.iter().map(listed).sum();
        let more = and_more(payloads.last().unwrap()).unwrap_or(0);
        assert_eq!(
            shown as u64 + more,
            3000,
            "{mode}: every finding listed or counted"
        );
        for p in &payloads {
            let sent = s.send(p).await.unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert_eq!(sent.fallback, None, "{mode}: sent as rendered");
        }
        assert_eq!(slack.delivered(), bodies(&payloads), "{mode}");
        assert!(slack.refused().is_empty(), "{mode}: {:?}", slack.refused());
        if mode == "truncate" {
            assert_eq!(payloads.len(), 1);
        } else {
            assert!(payloads.len() > 10, "{} messages", payloads.len());
        }
    }
}

#[test]
fn split_beyond_max_messages_truncates_the_last() {
    let d = big_digest();
    let s = sink(
        "url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"\noverflow = \"split\"\nmax_messages = 3",
    );
    let payloads = s.render(&d, &fixed_ctx()).unwrap();
    assert_eq!(payloads.len(), 3);
    payloads.iter().for_each(check_limits);
    let shown: usize = payloads.iter().map(listed).sum();
    let more = and_more(payloads.last().unwrap()).expect("last message counts the rest");
    assert_eq!(shown as u64 + more, 3000);
    assert_slack_accepts(&bodies(&payloads));
}

#[test]
fn overlong_values_are_split_into_sections_not_cut() {
    let mut b = DigestBuilder::new(
        "ops-slack",
        ReportTemplate::ResourceCompliance,
        source(),
        100,
    );
    for i in 0..20 {
        b.push(
            &resource_finding(i, "ONE_CONTROL", &format!("r{i}-{}", "x".repeat(140))),
            "all",
        );
    }
    let p = &sink("url = \"https://hooks.slack.com/services/T/B/TESTSECRET\"")
        .render(&b.finish(), &fixed_ctx())
        .unwrap()[0];
    check_limits(p);
    assert!(blocks_of(p).len() >= 4, "the control's section was split");
    assert_eq!(listed(p), 20);
}

#[test]
fn settings_are_validated() {
    let c = ctx(Path::new("."), StaticSecrets::new());
    let e = build_err(
        "url = \"http://hooks.slack.com/services/T/B/TESTSECRET\"",
        &c,
    );
    assert!(e.to_string().starts_with("sinks.ops-slack.url:"), "{e}");
    assert!(!e.to_string().contains("services/T/B/TESTSECRET"), "{e}");
    let e = build_err("url = \"https://h.test/x\"\noverflow = \"wrap\"", &c);
    assert!(e.to_string().contains("sinks.ops-slack.overflow"), "{e}");
    assert!(e.to_string().contains("\"split\""), "{e}");
    let e = build_err("url = \"https://h.test/x\"\nchanel = \"#ops\"", &c);
    assert!(
        e.to_string()
            .contains("sinks.ops-slack.chanel: unknown setting"),
        "{e}"
    );
    let e = build_err("overflow = \"split\"", &c);
    assert!(
        e.to_string().contains("sinks.ops-slack.url: missing"),
        "{e}"
    );
    let e = build_err(
        "url = \"https://h.test/x\"\noverflow = \"split\"\nmax_messages = 0",
        &c,
    );
    assert!(
        e.to_string().contains("sinks.ops-slack.max_messages"),
        "{e}"
    );
    // Checked even when it does not apply (overflow = "truncate", the default): a bad value
    // is an error, as the rules.toml schema says, never silently ignored.
    for bad in [
        "max_messages = 0",
        "max_messages = \"5\"",
        "max_messages = 51",
    ] {
        let e = build_err(&format!("url = \"https://h.test/x\"\n{bad}"), &c);
        assert!(
            e.to_string().contains("sinks.ops-slack.max_messages"),
            "{bad}: {e}"
        );
    }
    assert!(build("url = \"https://h.test/x\"\nmax_messages = 50", &c).is_ok());
}

#[test]
fn custom_template_relative_to_rules_and_errors_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slack.hbs"),
        "*{{report_title}}* for {{environment}}\n\n{{#each groups}}{{control}}: {{this.count}}\n{{/each}}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.hbs"),
        "line one\n{{#each groups}}\n{{control}\n",
    )
    .unwrap();
    let c = ctx(dir.path(), StaticSecrets::new());
    let s = build("url = \"https://h.test/x\"\ntemplate = \"slack.hbs\"", &c).unwrap();
    let d = sample_digest(ReportTemplate::ResourceCompliance, "ops-slack");
    let p = &s.render(&d, &fixed_ctx()).unwrap()[0];
    assert_eq!(
        p.subject.as_deref(),
        Some("*Resource compliance* for sample")
    );
    assert!(texts_of(p)[1].contains("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN: 2"));
    let e = build_err("url = \"https://h.test/x\"\ntemplate = \"broken.hbs\"", &c);
    let msg = e.to_string();
    assert!(msg.contains("broken.hbs:3:"), "{msg}");
    // Strict mode: a misspelt field is an error, not an empty string.
    std::fs::write(dir.path().join("typo.hbs"), "{{report_titel}}").unwrap();
    let s = build("url = \"https://h.test/x\"\ntemplate = \"typo.hbs\"", &c).unwrap();
    let e = s.render(&d, &fixed_ctx()).unwrap_err();
    assert!(e.to_string().contains("typo.hbs:1:"), "{e}");
}

/// A sink whose URL (the stand-in's) comes from a secret reference.
fn stand_in_sink(slack: &SlackStandIn, extra: &str) -> Arc<dyn Sink> {
    let secrets = StaticSecrets::new().with("${ssm:/ops/slack-url}", &slack.url());
    build(
        &format!("url = \"${{ssm:/ops/slack-url}}\"\nallow_insecure_http = true\n{extra}"),
        &ctx(Path::new("."), secrets),
    )
    .unwrap()
}

fn one_payload(s: &Arc<dyn Sink>) -> Payload {
    let d = sample_digest(ReportTemplate::ResourceCompliance, "ops-slack");
    s.render(&d, &fixed_ctx()).unwrap().remove(0)
}

#[tokio::test]
async fn delivers_block_kit_json_to_the_webhook() {
    let slack = SlackStandIn::start().await;
    let s = stand_in_sink(&slack, "");
    let p = one_payload(&s);
    let sent = s.send(&p).await.expect("delivered");
    assert_eq!(sent, audit_router_sink_api::Sent::with_id(None));
    assert_eq!(
        slack.delivered(),
        std::slice::from_ref(&p.body),
        "sent exactly the payload"
    );
    let log = slack.log();
    assert_eq!(log[0].path, audit_router_test_support::slack::WEBHOOK_PATH);
}

#[tokio::test]
async fn rate_limit_429_then_success() {
    let slack = SlackStandIn::start().await;
    slack.push(Answer::rate_limited(2));
    let s = stand_in_sink(&slack, "");
    let p = one_payload(&s);
    let e = s.send(&p).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(s.retry(&e), Retry::After(Some(Duration::from_secs(2))));
    assert!(e.to_string().contains("429"), "{e}");
    s.send(&p).await.expect("second attempt delivers");
    assert_eq!(slack.delivered().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retryable_with_backoff() {
    let slack = SlackStandIn::start().await;
    slack.always(Some(Answer::status(500, "rollup_error")));
    let s = stand_in_sink(&slack, "");
    let e = s.send(&one_payload(&s)).await.unwrap_err();
    assert_eq!(s.retry(&e), Retry::After(None), "{e}");
    assert!(e.to_string().contains("HTTP 500"), "{e}");
}

#[tokio::test]
async fn slack_4xx_errors_are_permanent_and_clear() {
    for (status, code, hint) in [
        (400, "no_text", "no text"),
        (404, "channel_not_found", "no longer exists"),
        (410, "channel_is_archived", "archived"),
        (403, "action_prohibited", "restricted"),
        (403, "invalid_token", "revoked"),
        (404, "no_service", "revoked"),
    ] {
        let slack = SlackStandIn::start().await;
        slack.always(Some(Answer::status(status, code)));
        let s = stand_in_sink(&slack, "");
        let e = s.send(&one_payload(&s)).await.unwrap_err();
        let msg = e.to_string();
        assert_eq!(s.retry(&e), Retry::Never, "{msg}");
        assert!(msg.contains(&format!("HTTP {status} {code}")), "{msg}");
        assert!(msg.contains(hint), "{msg}");
        assert!(msg.contains("slack sink `ops-slack`"), "{msg}");
        assert!(!msg.contains("TESTSECRET"), "secret in error: {msg}");
    }
    // Not scripted: a webhook URL that names no webhook is the stand-in's own 404 no_service.
    let slack = SlackStandIn::start().await;
    let s = build(
        &format!(
            "url = \"{}/services/T0\"\nallow_insecure_http = true",
            slack.uri()
        ),
        &ctx(Path::new("."), StaticSecrets::new()),
    )
    .unwrap();
    let e = s.send(&one_payload(&s)).await.unwrap_err();
    assert!(e.to_string().contains("HTTP 404 no_service"), "{e}");
}

/// A message Slack still refuses (here: a user raised `max_block_chars` over what Slack takes)
/// is replaced, once, by the minimal fallback message, and the delivery says so.
#[tokio::test]
async fn a_refused_message_is_replaced_by_the_fallback_once() {
    let slack = SlackStandIn::start().await;
    let s = stand_in_sink(&slack, "max_block_chars = 20000");
    let payloads = s.render(&big_digest(), &fixed_ctx()).unwrap();
    assert_eq!(payloads.len(), 1);
    let p = &payloads[0];
    assert!(
        check_body(p.body.as_bytes()) == Err((400, "msg_blocks_too_long")),
        "20 000 characters of block text is over what Slack takes"
    );
    let sent = s.send(p).await.expect("the fallback was delivered");
    let why = sent.fallback.expect("the delivery names the fallback");
    assert!(
        why.contains("Slack refused message 1/1 (msg_blocks_too_long)"),
        "{why}"
    );
    assert_eq!(
        slack.refused(),
        [(400, "msg_blocks_too_long".to_owned())],
        "the full digest was tried once"
    );
    let delivered = slack.delivered();
    assert_eq!(delivered.len(), 1, "then the fallback, once");
    assert_eq!(Some(&delivered[0]), p.fallback.as_ref());
    assert_slack_accepts(&delivered);
    let text = &texts_of(&Payload::new(
        None,
        delivered[0].clone(),
        "application/json",
    ))[0];
    assert!(
        text.starts_with("*Resource compliance: 3000 findings in 12 controls*"),
        "{text}"
    );
    assert!(
        text.contains("3000 findings in 12 controls. The full digest did not fit"),
        "{text}"
    );
    assert!(
        text.contains("<https://s3.console.aws.amazon.com/s3/object/reports?prefix="),
        "{text}"
    );

    // If Slack refuses the fallback too, the send fails for good, naming both.
    slack.reset();
    slack.push(Answer::status(400, "invalid_blocks"));
    slack.push(Answer::status(400, "invalid_blocks"));
    let e = s.send(&one_payload(&s)).await.unwrap_err();
    assert_eq!(s.retry(&e), Retry::Never);
    assert!(
        e.to_string()
            .contains("fallback message was refused too (invalid_blocks)"),
        "{e}"
    );
    assert_eq!(slack.requests(), 2);
}

#[tokio::test]
async fn connection_failures_are_retryable_and_redacted() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "http://127.0.0.1:{port}{}",
        audit_router_test_support::slack::WEBHOOK_PATH
    );
    let s = build(
        &format!("url = \"{url}\"\nallow_insecure_http = true\ntimeout_secs = 5"),
        &ctx(Path::new("."), StaticSecrets::new()),
    )
    .unwrap();
    let e = s.send(&one_payload(&s)).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(!e.to_string().contains("TESTSECRET"), "{e}");
}

#[tokio::test]
async fn secrets_never_show() {
    let slack = SlackStandIn::start().await;
    let s = stand_in_sink(&slack, "");
    assert_eq!(s.destination(), "${ssm:/ops/slack-url}");
    let p = one_payload(&s);
    s.send(&p).await.unwrap();
    assert!(!p.body.contains("TESTSECRET"));
    // A literal URL is redacted to its host.
    let literal = sink("url = \"https://hooks.slack.com/services/T0/B0/xoxTESTSECRET\"");
    assert_eq!(literal.destination(), "https://hooks.slack.com/…");
    // An unresolvable reference names the reference, not a value.
    let unresolved = build(
        "url = \"${ssm:/missing}\"",
        &ctx(Path::new("."), StaticSecrets::new()),
    )
    .unwrap();
    let e = unresolved.send(&p).await.unwrap_err();
    assert!(e.to_string().contains("${ssm:/missing}"), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn resolved_url_must_be_https() {
    let secrets = StaticSecrets::new().with(
        "${ssm:/u}",
        "http://hooks.example.test/services/xoxTESTSECRET",
    );
    let s = build("url = \"${ssm:/u}\"", &ctx(Path::new("."), secrets)).unwrap();
    let e = s.send(&one_payload(&s)).await.unwrap_err();
    assert!(e.to_string().contains("https://"), "{e}");
    assert!(!e.to_string().contains("TESTSECRET"), "{e}");
    assert!(!e.is_retryable());
}
