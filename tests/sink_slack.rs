//! The Slack sink against a local HTTP listener (wiremock): Block Kit payloads, escaping of
//! hostile report values, Slack's limits (50 blocks, 3 000 characters) with split and truncate,
//! 429/5xx/4xx handling and secret redaction. Snapshots pin the default template per report type.

mod common;

use audit_router::sink_api::samples::sample_digest;
use audit_router::sink_api::{
    BuildContext, Digest, DigestBuilder, Finding, Payload, ReportTemplate, Retry, Sink, SinkError,
    SourceInfo, StaticSecrets,
};
use audit_router_sink_slack::SlackFactory;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET_PATH: &str = "/services/T0SECRET/B0SECRET/xoxTESTSECRETTOKEN";

use common::sinks::{ctx, fixed_ctx};

fn build(settings: &str, c: &BuildContext) -> Result<Arc<dyn Sink>, SinkError> {
    common::sinks::build(&SlackFactory, "ops-slack", settings, c)
}

fn build_err(settings: &str, c: &BuildContext) -> SinkError {
    common::sinks::build_err(&SlackFactory, "ops-slack", settings, c)
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

fn check_limits(p: &Payload) {
    let blocks = blocks_of(p);
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    for t in texts_of(p) {
        assert!(
            t.chars().count() <= 3000,
            "section of {} chars",
            t.chars().count()
        );
    }
    let v: Value = serde_json::from_str(&p.body).unwrap();
    let fallback = v["text"].as_str().expect("fallback text");
    assert!(!fallback.is_empty() && fallback.chars().count() <= 3000);
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
    }
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
    assert!(shown > 50, "lists a useful number of resources ({shown})");
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
}

#[test]
fn split_numbers_messages_within_limits() {
    let d = big_digest();
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
    // 20 messages hold all 3 000: nothing is left out.
    assert_eq!(total, 3000);
    assert!(payloads.iter().all(|p| and_more(p).is_none()));
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
}

#[test]
fn overlong_values_are_split_into_sections_not_cut() {
    let mut b = DigestBuilder::new(
        "ops-slack",
        ReportTemplate::ResourceCompliance,
        source(),
        100,
    );
    for i in 0..30 {
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
    assert_eq!(listed(p), 30);
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

async fn server_sink(server: &MockServer) -> Arc<dyn Sink> {
    let url = format!("{}{SECRET_PATH}", server.uri());
    let secrets = StaticSecrets::new().with("${ssm:/ops/slack-url}", &url);
    build(
        "url = \"${ssm:/ops/slack-url}\"\nallow_insecure_http = true",
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
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SECRET_PATH))
        .and(header("content-type", "application/json; charset=utf-8"))
        .and(body_string_contains("\"blocks\""))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let s = server_sink(&server).await;
    let p = one_payload(&s);
    let sent = s.send(&p).await.expect("delivered");
    assert_eq!(sent.message_id, None);
    let got = &server.received_requests().await.unwrap()[0];
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        body,
        serde_json::from_str::<Value>(&p.body).unwrap(),
        "sent exactly the payload"
    );
}

#[tokio::test]
async fn rate_limit_429_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "2")
                .set_body_string("rate_limited"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let s = server_sink(&server).await;
    let p = one_payload(&s);
    let e = s.send(&p).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(s.retry(&e), Retry::After(Some(Duration::from_secs(2))));
    assert!(e.to_string().contains("429"), "{e}");
    s.send(&p).await.expect("second attempt delivers");
}

#[tokio::test]
async fn server_errors_are_retryable_with_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("service unavailable"))
        .mount(&server)
        .await;
    let s = server_sink(&server).await;
    let e = s.send(&one_payload(&s)).await.unwrap_err();
    assert_eq!(s.retry(&e), Retry::After(None), "{e}");
    assert!(e.to_string().contains("HTTP 503"), "{e}");
}

#[tokio::test]
async fn slack_4xx_errors_are_permanent_and_clear() {
    for (status, code, hint) in [
        (400, "invalid_blocks", "refused a block"),
        (400, "no_text", "no text"),
        (404, "channel_not_found", "no longer exists"),
        (403, "invalid_token", "revoked"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_string(code))
            .mount(&server)
            .await;
        let s = server_sink(&server).await;
        let e = s.send(&one_payload(&s)).await.unwrap_err();
        let msg = e.to_string();
        assert_eq!(s.retry(&e), Retry::Never, "{msg}");
        assert!(msg.contains(&format!("HTTP {status} {code}")), "{msg}");
        assert!(msg.contains(hint), "{msg}");
        assert!(msg.contains("slack sink `ops-slack`"), "{msg}");
        assert!(!msg.contains("TESTSECRET"), "secret in error: {msg}");
    }
}

#[tokio::test]
async fn connection_failures_are_retryable_and_redacted() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}{SECRET_PATH}");
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
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let s = server_sink(&server).await;
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

#[test]
fn registered_and_checked_with_every_example_template() {
    let decl = audit_router::rules::SinkDecl {
        name: "ops-slack".into(),
        kind: "slack".into(),
        settings: "url = \"${ssm:/x}\"\noverflow = \"split\""
            .parse()
            .expect("valid TOML"),
    };
    let s = audit_router::sinks::registry()
        .build(&decl, &ctx(Path::new("."), StaticSecrets::new()))
        .expect("slack is registered and builds without resolving secrets");
    assert_eq!(s.kind(), "slack");
    assert!(audit_router::sinks::check_sink(&*s).is_empty());
}
