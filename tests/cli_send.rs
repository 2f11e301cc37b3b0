//! `audit-router send` and `send-test` end to end: the binary delivers to a real SNS topic
//! (`moto_server`, read back from a subscribed SQS queue) and to the strict Slack stand-in
//! (`tools/test-support/src/slack.rs`).

mod common;

use common::moto::Moto;
use common::slack::{Answer, SlackStandIn, assert_slack_accepts};
use serde_json::Value;
use std::process::{Command, Output};

const NON_COMPLIANT: [(&str, &str); 3] = [
    (
        "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
        "AWS::DynamoDB::Table/auth-15-table",
    ),
    (
        "BACKUP_LAST_RECOVERY_POINT_CREATED",
        "AWS::EFS::FileSystem/fs-8cdb305f",
    ),
    (
        "BACKUP_RECOVERY_POINT_ENCRYPTED",
        "AWS::EC2::Volume/vol-9d4c28c2e7c26847f",
    ),
];

struct Setup {
    moto: Moto,
    slack: SlackStandIn,
    queue_url: String,
    rules: tempfile::TempDir,
}

async fn setup(name: &str) -> Setup {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (topic, queue_url) = moto.topic_with_queue(&sdk, name).await;
    let slack = SlackStandIn::start().await;
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("rules.toml"),
        format!(
            r#"
[sinks.email]
type = "sns"
topic_arn = "{topic}"

[sinks.chat]
type = "slack"
url = "{}"
allow_insecure_http = true

[[rules]]
name = "non-compliant"
sinks = ["email", "chat"]
[rules.match]
status = "NON_COMPLIANT"
"#,
            slack.url()
        ),
    )
    .unwrap();
    Setup {
        moto,
        slack,
        queue_url,
        rules,
    }
}

async fn run(s: &Setup, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    s.moto.configure(&mut cmd);
    cmd.args(args)
        .arg("--rules")
        .arg(s.rules.path().join("rules.toml"));
    tokio::task::spawn_blocking(move || cmd.output().expect("run audit-router"))
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn send_delivers_every_non_compliant_resource_to_sns_and_slack() {
    let s = setup("send-ok").await;
    let report = common::fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let out = run(&s, &["send", report.to_str().unwrap()]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    assert!(stdout.contains("delivered: sink email (sns)"), "{stdout}");
    assert!(stdout.contains("delivered: sink chat (slack)"), "{stdout}");
    assert!(
        !stdout.contains("TESTSECRET") && !text(&out.stderr).contains("TESTSECRET"),
        "the webhook path is a secret: {stdout}"
    );

    let envelopes = s.moto.receive(&s.queue_url).await;
    assert_eq!(envelopes.len(), 1, "one SNS message per report");
    let message = envelopes[0]["Message"].as_str().unwrap();
    let subject = envelopes[0]["Subject"].as_str().unwrap();
    assert!(subject.len() < 100 && !subject.contains('\n'), "{subject}");
    for (control, resource) in NON_COMPLIANT {
        assert!(message.contains(control), "SNS names {control}:\n{message}");
        assert!(
            message.contains(resource),
            "SNS names {resource}:\n{message}"
        );
    }

    let posted = s.slack.delivered();
    assert_eq!(posted.len(), 1, "{:?}", s.slack.refused());
    let payload: Value = serde_json::from_str(&posted[0]).unwrap();
    let blocks = payload["blocks"].to_string();
    for (control, resource) in NON_COMPLIANT {
        assert!(blocks.contains(control), "Slack names {control}");
        assert!(blocks.contains(resource), "Slack names {resource}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_slack_does_not_stop_sns_and_the_exit_code_says_so() {
    let s = setup("send-slack-down").await;
    s.slack.always(Some(Answer::status(500, "rollup_error")));
    let report = common::fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let out = run(&s, &["send", "--timeout", "4", report.to_str().unwrap()]).await;
    let stdout = text(&out.stdout);
    assert!(
        !out.status.success(),
        "a failed sink fails the run: {stdout}"
    );
    assert!(stdout.contains("delivered: sink email (sns)"), "{stdout}");
    assert!(stdout.contains("FAILED: sink chat (slack)"), "{stdout}");
    assert!(!stdout.contains("TESTSECRET"), "{stdout}");
    // SNS got the digest although Slack was down; Slack was retried.
    assert_eq!(s.moto.receive(&s.queue_url).await.len(), 1);
    assert!(s.slack.requests() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn send_test_sends_one_marked_message_to_one_sink() {
    let s = setup("send-test").await;
    let out = run(&s, &["send-test", "--sink", "email"]).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    let envelopes = s.moto.receive(&s.queue_url).await;
    assert_eq!(envelopes.len(), 1);
    let subject = envelopes[0]["Subject"].as_str().unwrap();
    assert!(subject.to_lowercase().contains("test"), "{subject}");
    // Slack was not touched.
    assert_eq!(s.slack.requests(), 0);

    let out = run(&s, &["send-test", "--sink", "nope"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no sink \"nope\""),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn send_test_to_a_slack_sink_posts_one_marked_message_slack_accepts() {
    let s = setup("send-test-slack").await;
    let out = run(&s, &["send-test", "--sink", "chat"]).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains("TESTSECRET") && !text(&out.stderr).contains("TESTSECRET"),
        "the webhook path is a secret"
    );
    // The strict stand-in took it (Block Kit limits, the webhook path), as does slack_sdk.
    let posted = s.slack.delivered();
    assert_eq!(posted.len(), 1, "refused: {:?}", s.slack.refused());
    assert_slack_accepts(&posted);
    let payload: Value = serde_json::from_str(&posted[0]).unwrap();
    let blocks = payload["blocks"].to_string();
    assert!(
        blocks.contains("Test message from audit-router"),
        "marked as a test: {blocks}"
    );
    // SNS was not touched.
    assert!(s.moto.receive(&s.queue_url).await.is_empty());
}
