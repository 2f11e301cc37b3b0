//! The webhook sink against a local HTTP listener (wiremock): rendered bodies, headers and
//! content types, escaping per content type, header injection, secret redaction and body
//! secrets, size limits with truncate and split, 429/5xx/4xx/redirect handling. Snapshots pin the
//! default template per report type; the example templates (Teams, Discord, Google Chat,
//! PagerDuty) are checked to render valid JSON, and the example configurations
//! (`plugins/sink-webhook/examples/`) to keep each service's real limits, against stand-ins of
//! those services (`tools/test-support/src/services.rs`).

use audit_router_sink_api::SinkFactory;
use audit_router_sink_api::host::DigestBuilder;
use audit_router_sink_api::samples::{sample_digest, sample_digest_with_changes};
use audit_router_sink_api::{
    BuildContext, Digest, Finding, Payload, ReportTemplate, Retry, Sink, SinkError, SourceInfo,
    StaticSecrets,
};
use audit_router_sink_webhook::WebhookFactory;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET_PATH: &str = "/hooks/xoxTESTSECRETPATH";

use audit_router_test_support::services::{Service, serve};
use audit_router_test_support::sinks::{ctx, fixed_ctx};

fn build(settings: &str, c: &BuildContext) -> Result<Arc<dyn Sink>, SinkError> {
    audit_router_test_support::sinks::build(&WebhookFactory, "hook", settings, c)
}

fn build_err(settings: &str, c: &BuildContext) -> SinkError {
    audit_router_test_support::sinks::build_err(&WebhookFactory, "hook", settings, c)
}

fn sink(settings: &str) -> Arc<dyn Sink> {
    build(settings, &ctx(Path::new("."), StaticSecrets::new())).expect("sink builds")
}

fn json(p: &Payload) -> Value {
    serde_json::from_str(&p.body).expect("body is JSON")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

fn source() -> SourceInfo {
    SourceInfo {
        uri: "s3://reports/audit/RESOURCE_COMPLIANCE_REPORT_daily.json".into(),
        bucket: Some("reports".into()),
        key: Some("audit/RESOURCE_COMPLIANCE_REPORT_daily.json".into()),
        format: "json".into(),
    }
}

fn finding(i: usize, control: &str, resource: &str) -> Finding {
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

fn big_digest() -> Digest {
    let mut b = DigestBuilder::new(
        "hook",
        ReportTemplate::ResourceCompliance,
        source(),
        100_000,
    );
    for i in 0..3000 {
        b.push(
            &finding(
                i,
                &format!("CONTROL_{:02}", i % 12),
                &format!("AWS::EC2::Instance/i-{i:017x}"),
            ),
            "all",
        );
    }
    b.finish()
}

/// Findings listed in a default-template body.
fn listed(v: &Value) -> u64 {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["findings"].as_array().unwrap().len() as u64)
        .sum()
}

#[test]
fn default_template_snapshots_for_every_report_type() {
    let s = sink("url = \"https://example.test/hook\"");
    for report in ReportTemplate::ALL {
        let payloads = s
            .render(&sample_digest(report, "hook"), &fixed_ctx())
            .unwrap();
        assert_eq!(payloads.len(), 1);
        let p = &payloads[0];
        assert_eq!(p.content_type, "application/json");
        assert_eq!(p.subject, None);
        let v = json(p);
        assert_eq!(
            v["total"], v["listed"],
            "{report}: samples are listed in full"
        );
        insta::assert_snapshot!(
            format!("webhook_default_{}", report.name().to_lowercase()),
            serde_json::to_string_pretty(&v).unwrap()
        );
    }
}

#[test]
fn json_values_are_escaped_inside_strings() {
    let mut b = DigestBuilder::new("hook", ReportTemplate::ResourceCompliance, source(), 10);
    let evil = "a\"}, \"injected\": true, {\"x\": \"\\\n<b>&";
    b.push(&finding(0, "CTRL\"\n", evil), "all");
    let d = b.finish();
    let v = json(
        &sink("url = \"https://example.test/hook\"")
            .render(&d, &fixed_ctx())
            .unwrap()[0],
    );
    assert_eq!(v["groups"][0]["findings"][0]["resource"], evil);
    assert_eq!(v["groups"][0]["control"], "CTRL\"\n");
    assert!(v.get("injected").is_none());
}

#[test]
fn plain_text_bodies_are_not_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plain.hbs"),
        "{{report_title}}\n{{#each groups}}{{#each findings}}{{resource}}\n{{/each}}{{/each}}",
    )
    .unwrap();
    let mut b = DigestBuilder::new("hook", ReportTemplate::ResourceCompliance, source(), 10);
    b.push(&finding(0, "C", "a & <b> \"c\""), "all");
    let s = build(
        "url = \"https://example.test/hook\"\ncontent_type = \"text/plain; charset=utf-8\"\ntemplate = \"plain.hbs\"",
        &ctx(dir.path(), StaticSecrets::new()),
    )
    .unwrap();
    let p = &s.render(&b.finish(), &fixed_ctx()).unwrap()[0];
    assert_eq!(p.body, "Resource compliance\na & <b> \"c\"\n");
    assert_eq!(p.content_type, "text/plain; charset=utf-8");
}

#[test]
fn invalid_json_from_a_template_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json.hbs"),
        "{\"text\": {{report_title}}}",
    )
    .unwrap();
    let s = build(
        "url = \"https://example.test/hook\"\ntemplate = \"bad.json.hbs\"",
        &ctx(dir.path(), StaticSecrets::new()),
    )
    .unwrap();
    let e = s
        .render(
            &sample_digest(ReportTemplate::BackupJob, "hook"),
            &fixed_ctx(),
        )
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("bad.json.hbs"), "{msg}");
    assert!(msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn example_templates_render_valid_json_for_every_report_type() {
    let secrets = StaticSecrets::new();
    let c = ctx(&examples_dir(), secrets);
    for (file, extra) in [
        ("teams.json.hbs", ""),
        ("discord.json.hbs", ""),
        ("google-chat.json.hbs", ""),
        (
            "pagerduty.json.hbs",
            "secrets = { routing_key = \"${ssm:/pd/key}\" }",
        ),
    ] {
        let s = build(
            &format!("url = \"https://example.test/x\"\ntemplate = \"{file}\"\n{extra}"),
            &c,
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        for report in ReportTemplate::ALL {
            let mut rc = fixed_ctx();
            rc.test = report == ReportTemplate::ScanJob;
            let p = s
                .render(&sample_digest(report, "hook"), &rc)
                .unwrap_or_else(|e| panic!("{file} {report}: {e}"));
            // With state too: valid JSON that names the resolved finding.
            let changed = s
                .render(&sample_digest_with_changes(report, "hook"), &rc)
                .unwrap_or_else(|e| panic!("{file} {report} with changes: {e}"));
            let cv = json(&changed[0]);
            let gone = &sample_digest_with_changes(report, "hook")
                .changes
                .unwrap()
                .resolved_findings[0];
            let resolved = gone.resource.clone().or(gone.control.clone()).unwrap();
            assert!(
                cv.to_string().contains(&resolved),
                "{file} {report}: {cv} lacks {resolved}"
            );
            let v = json(&p[0]);
            let text = p[0].body.as_str();
            assert!(text.contains(report.title()), "{file} {report}: {text}");
            match file {
                "pagerduty.json.hbs" => {
                    assert_eq!(v["event_action"], "trigger");
                    let key = v["routing_key"].as_str().unwrap();
                    assert!(key.starts_with("${secret:routing_key:"), "{key}");
                }
                "discord.json.hbs" => assert!(v["content"].as_str().unwrap().len() < 2000),
                "teams.json.hbs" => {
                    assert_eq!(v["attachments"][0]["content"]["type"], "AdaptiveCard")
                }
                _ => assert!(v["text"].is_string()),
            }
        }
    }
}

#[test]
fn truncate_fits_the_body_limit_and_counts_the_rest() {
    let d = big_digest();
    let s = sink("url = \"https://example.test/hook\"\nmax_body_bytes = 28000");
    let payloads = s.render(&d, &fixed_ctx()).unwrap();
    assert_eq!(payloads.len(), 1);
    let p = &payloads[0];
    assert!(p.body.len() <= 28000, "{}", p.body.len());
    let v = json(p);
    let shown = listed(&v);
    assert!(shown > 20, "{shown}");
    assert_eq!(v["omitted"].as_u64().unwrap() + shown, 3000);
    assert_eq!(
        v["groups"].as_array().unwrap().len(),
        12,
        "every control is named"
    );
    assert_eq!(v["total"], 3000);
}

#[test]
fn split_numbers_parts_within_the_limit() {
    let d = big_digest();
    let s = sink(
        "url = \"https://example.test/hook\"\nmax_body_bytes = 60000\noverflow = \"split\"\nmax_messages = 100",
    );
    let payloads = s.render(&d, &fixed_ctx()).unwrap();
    let n = payloads.len();
    assert!(n > 1, "{n}");
    let mut shown = 0;
    for (i, p) in payloads.iter().enumerate() {
        assert!(p.body.len() <= 60000);
        assert_eq!((p.part, p.parts), (i + 1, n));
        let v = json(p);
        assert_eq!(
            (v["part"].as_u64(), v["parts"].as_u64()),
            (Some(i as u64 + 1), Some(n as u64))
        );
        shown += listed(&v);
    }
    assert_eq!(shown, 3000, "all parts together list everything");
    // With fewer messages allowed, the last part counts what did not fit.
    let s = sink(
        "url = \"https://example.test/hook\"\nmax_body_bytes = 60000\noverflow = \"split\"\nmax_messages = 2",
    );
    let payloads = s.render(&d, &fixed_ctx()).unwrap();
    assert_eq!(payloads.len(), 2);
    let shown: u64 = payloads.iter().map(|p| listed(&json(p))).sum();
    let omitted = json(payloads.last().unwrap())["omitted"].as_u64().unwrap();
    assert_eq!(shown + omitted, 3000);
    assert!(payloads.iter().all(|p| p.body.len() <= 60000));
}

#[test]
fn settings_are_validated() {
    let c = ctx(Path::new("."), StaticSecrets::new());
    let e = build_err("url = \"http://example.test/hook-secret\"", &c);
    assert!(e.to_string().starts_with("sinks.hook.url:"), "{e}");
    assert!(!e.to_string().contains("hook-secret"), "{e}");
    let e = build_err(
        "url = \"https://example.test/x\"\nheaders = { X-Evil = \"a\\r\\nX-Injected: 1\" }",
        &c,
    );
    assert!(e.to_string().contains("sinks.hook.headers.X-Evil"), "{e}");
    assert!(e.to_string().contains("line break"), "{e}");
    let e = build_err(
        "url = \"https://example.test/x\"\nheaders = { Content-Type = \"text/plain\" }",
        &c,
    );
    assert!(e.to_string().contains("content_type"), "{e}");
    let e = build_err("url = \"https://example.test/x\"\nmethod = \"GET\"", &c);
    assert!(e.to_string().contains("sinks.hook.method"), "{e}");
    let e = build_err("url = \"https://example.test/x\"\nmax_body_bytes = 10", &c);
    assert!(e.to_string().contains("sinks.hook.max_body_bytes"), "{e}");
    let e = build_err("url = \"https://example.test/x\"\nheader = {}", &c);
    assert!(
        e.to_string().contains("sinks.hook.header: unknown setting"),
        "{e}"
    );
    // Checked even when it does not apply (overflow = "truncate", the default).
    for bad in [
        "max_messages = 0",
        "max_messages = true",
        "max_messages = 101",
    ] {
        let e = build_err(&format!("url = \"https://example.test/x\"\n{bad}"), &c);
        assert!(
            e.to_string().contains("sinks.hook.max_messages"),
            "{bad}: {e}"
        );
    }
    assert!(build("url = \"https://example.test/x\"\nmax_messages = 100", &c).is_ok());
}

async fn server_sink(server: &MockServer, extra: &str) -> Arc<dyn Sink> {
    let url = format!("{}{SECRET_PATH}", server.uri());
    let secrets = StaticSecrets::new()
        .with("${ssm:/hook/url}", &url)
        .with("${secretsmanager:hook-token}", "tok-TESTSECRET")
        .with("${ssm:/pd/key}", "pd\"KEY-TESTSECRET");
    build(
        &format!("url = \"${{ssm:/hook/url}}\"\nallow_insecure_http = true\n{extra}"),
        &ctx(Path::new("."), secrets),
    )
    .unwrap()
}

fn sample_payload(s: &Arc<dyn Sink>) -> Payload {
    s.render(
        &sample_digest(ReportTemplate::BackupJob, "hook"),
        &fixed_ctx(),
    )
    .unwrap()
    .remove(0)
}

#[tokio::test]
async fn posts_body_with_headers_and_content_type() {
    let server = MockServer::start().await;
    let s = server_sink(
        &server,
        "headers = { Authorization = \"Bearer ${secretsmanager:hook-token}\", X-Source = \"audit-router\" }",
    )
    .await;
    let p = sample_payload(&s);
    Mock::given(method("POST"))
        .and(path(SECRET_PATH))
        .and(header("content-type", "application/json"))
        .and(header("authorization", "Bearer tok-TESTSECRET"))
        .and(header("x-source", "audit-router"))
        .and(body_json(json(&p)))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    s.send(&p).await.expect("delivered");
    assert!(!p.body.contains("TESTSECRET"));
    assert_eq!(s.destination(), "${ssm:/hook/url}");
}

#[tokio::test]
async fn put_and_custom_content_type() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt.hbs"), "{{report}} {{total}}").unwrap();
    let s = build(
        &format!(
            "url = \"{}/put\"\nallow_insecure_http = true\nmethod = \"PUT\"\ncontent_type = \"text/plain\"\ntemplate = \"t.txt.hbs\"",
            server.uri()
        ),
        &ctx(dir.path(), StaticSecrets::new()),
    )
    .unwrap();
    Mock::given(method("PUT"))
        .and(path("/put"))
        .and(header("content-type", "text/plain"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let p = sample_payload(&s);
    assert_eq!(p.body, "BACKUP_JOB_REPORT 3");
    s.send(&p).await.unwrap();
}

#[tokio::test]
async fn body_secrets_are_filled_in_only_when_sending() {
    let server = MockServer::start().await;
    let s = server_sink(
        &server,
        &format!(
            "template = \"{}\"\nsecrets = {{ routing_key = \"${{ssm:/pd/key}}\" }}",
            examples_dir().join("pagerduty.json.hbs").display()
        ),
    )
    .await;
    let p = sample_payload(&s);
    assert!(!p.body.contains("TESTSECRET"), "dry-run shows no secret");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    s.send(&p).await.unwrap();
    let got = &server.received_requests().await.unwrap()[0];
    let v: Value = serde_json::from_slice(&got.body).expect("still valid JSON");
    assert_eq!(v["routing_key"], "pd\"KEY-TESTSECRET");
}

#[tokio::test]
async fn resolved_header_with_line_break_is_rejected_at_send() {
    let server = MockServer::start().await;
    let url = format!("{}/x", server.uri());
    let secrets = StaticSecrets::new().with("${ssm:/tok}", "a\r\nX-Injected: 1");
    let s = build(
        &format!("url = \"{url}\"\nallow_insecure_http = true\nheaders = {{ X-Token = \"${{ssm:/tok}}\" }}"),
        &ctx(Path::new("."), secrets),
    )
    .unwrap();
    let e = s.send(&sample_payload(&s)).await.unwrap_err();
    assert!(e.to_string().contains("sinks.hook.headers.X-Token"), "{e}");
    assert!(!e.to_string().contains("X-Injected"), "{e}");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn rate_limit_429_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let s = server_sink(&server, "").await;
    let p = sample_payload(&s);
    let e = s.send(&p).await.unwrap_err();
    assert_eq!(
        s.retry(&e),
        Retry::After(Some(Duration::from_secs(3))),
        "{e}"
    );
    s.send(&p).await.expect("second attempt delivers");
}

#[tokio::test]
async fn errors_are_classified_and_redacted() {
    for (status, retry) in [
        (500, Retry::After(None)),
        (503, Retry::After(None)),
        (408, Retry::After(None)),
        (400, Retry::Never),
        (401, Retry::Never),
        (404, Retry::Never),
        (302, Retry::Never),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Location", "https://elsewhere.test/")
                    .set_body_string(format!("error {status} details")),
            )
            .expect(1)
            .mount(&server)
            .await;
        let s = server_sink(&server, "").await;
        let e = s.send(&sample_payload(&s)).await.unwrap_err();
        let msg = e.to_string();
        assert_eq!(s.retry(&e), retry, "{status}: {msg}");
        assert!(msg.contains(&format!("HTTP {status}")), "{msg}");
        assert!(msg.contains("webhook sink `hook`"), "{msg}");
        assert!(!msg.contains("TESTSECRET"), "{msg}");
    }
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = build(
        &format!("url = \"http://127.0.0.1:{port}{SECRET_PATH}\"\nallow_insecure_http = true"),
        &ctx(Path::new("."), StaticSecrets::new()),
    )
    .unwrap();
    let e = s.send(&sample_payload(&s)).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(!e.to_string().contains("TESTSECRET"), "{e}");
}

#[tokio::test]
async fn slow_endpoint_times_out_as_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let s = server_sink(&server, "timeout_secs = 1").await;
    let e = s.send(&sample_payload(&s)).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
}

/// Every resource id of `big_digest` a body lists.
fn listed_ids(body: &str) -> usize {
    body.matches("AWS::EC2::Instance/i-").count()
}

/// The stand-ins are not accept-all: without the example's limits, the same digest renders into
/// a body the service refuses (from `template`, with only a 32 000-byte body limit), with its own
/// answer `want`.
fn without_the_examples_limits_the_service_refuses(template: &str, service: Service, want: &str) {
    let c = ctx(&examples_dir(), StaticSecrets::new());
    let s = build(
        &format!(
            "url = \"https://example.test/x\"\ntemplate = \"{template}\"\nmax_body_bytes = 32000"
        ),
        &c,
    )
    .unwrap();
    let p = &s.render(&big_digest(), &fixed_ctx()).unwrap()[0];
    let (_, answer) = service.check(p.body.as_bytes()).unwrap_err();
    assert!(answer.contains(want), "{template}: {answer}");
}

#[test]
fn without_its_limits_google_chat_refuses() {
    without_the_examples_limits_the_service_refuses(
        "google-chat.json.hbs",
        Service::GoogleChat,
        "Message is longer than 4096 characters",
    );
}

#[test]
fn without_its_limits_discord_refuses() {
    without_the_examples_limits_the_service_refuses(
        "discord.json.hbs",
        Service::Discord,
        "Invalid Form Body",
    );
}

#[test]
fn without_its_limits_teams_refuses() {
    without_the_examples_limits_the_service_refuses(
        "teams.json.hbs",
        Service::Teams,
        "Request Entity too large",
    );
}

/// The example configuration `file` keeps `service`'s real limits: a 3 000-finding digest and
/// the sample digest of every report type render into messages the service's stand-in takes,
/// and each is sent and taken.
async fn example_config_keeps_the_services_limits(file: &str, service: Service) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let more = regex::Regex::new(r"…and (\d+) more").unwrap();
    // The example is a rules file (`check` accepts every one: tests/rules_schema.rs); its one
    // `[sinks.NAME]` table, with the URL pointed at the stand-in.
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let (name, table) = doc["sinks"].as_table().unwrap().iter().next().unwrap();
    let mut settings = table.as_table().unwrap().clone();
    assert_eq!(settings.remove("type").unwrap().as_str(), Some("webhook"));
    let url = settings["url"].as_str().unwrap().to_owned();
    settings.insert("allow_insecure_http".into(), toml::Value::Boolean(true));
    let stand_in = serve(service).await;
    let secrets = StaticSecrets::new().with(&url, &stand_in.url());
    let sink = WebhookFactory
        .build(
            audit_router_sink_api::SinkConfig {
                name,
                kind: "webhook",
                settings: &settings,
                docs: WebhookFactory.settings(),
            },
            &ctx(&dir, secrets),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut digests = vec![big_digest()];
    digests.extend(ReportTemplate::ALL.map(|r| sample_digest(r, "hook")));
    for d in &digests {
        let payloads = sink
            .render(d, &fixed_ctx())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(payloads.len() <= 5, "{file}: max_messages = 5");
        for p in &payloads {
            if let Err(refusal) = service.check(p.body.as_bytes()) {
                panic!("{file}: {service:?} refuses {refusal:?}:\n{}", p.body);
            }
            sink.send(p).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        if d.total == 3000 {
            let shown: usize = payloads.iter().map(|p| listed_ids(&p.body)).sum();
            assert!(shown >= 5, "{file}: lists some resources ({shown})");
            // The last message counts what is not listed ("…and N more", per control).
            let last = &payloads.last().unwrap().body;
            let counted: usize = more
                .captures_iter(last)
                .map(|c| c[1].parse::<usize>().unwrap())
                .sum();
            assert_eq!(
                shown + counted,
                3000,
                "{file}: every finding listed or counted"
            );
        }
    }
    let log = stand_in.log();
    assert!(
        log.iter().all(|(status, _)| *status < 300),
        "{file}: {log:?}"
    );
    assert!(log.len() >= digests.len(), "{file}");
}

#[tokio::test]
async fn the_teams_example_keeps_teams_limits() {
    example_config_keeps_the_services_limits("teams.toml", Service::Teams).await;
}

#[tokio::test]
async fn the_discord_example_keeps_discords_limits() {
    example_config_keeps_the_services_limits("discord.toml", Service::Discord).await;
}

#[tokio::test]
async fn the_google_chat_example_keeps_google_chats_limits() {
    example_config_keeps_the_services_limits("google-chat.toml", Service::GoogleChat).await;
}
