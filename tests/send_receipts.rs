//! `audit-router send --receipts s3://bucket/prefix`: the CLI uses the Lambda's receipts, so a
//! manual replay sends only what is not delivered yet. Real `moto_server` (S3, SNS → SQS) and
//! the strict Slack stand-in (`tools/test-support/src/slack.rs`); the binary runs as a child process.

mod common;
#[path = "handler_support/mod.rs"]
mod support;

use std::process::{Command, Output};

use common::moto::Moto;
use common::output_text;
use serde_json::Value;
use support::*;

const BUCKET: &str = "reports";

struct Env {
    moto: Moto,
    slack: SlackStandIn,
    queue: String,
    rules: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(name: &str) -> Env {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, REPORT_KEY, common::fixture_bytes(REPORT_FIXTURE))
        .await;
    let (topic, queue) = topic_with_queue(&moto, name).await;
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        rules_toml(
            &topic,
            &format!("{}/services/T0/B0/TESTSECRET-x", slack.uri()),
        ),
    )
    .expect("write rules");
    Env {
        moto,
        slack,
        queue,
        rules,
        _dir: dir,
    }
}

/// Runs `audit-router send --receipts … <extra>` against moto, off the async threads.
async fn send(env: &Env, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    env.moto.configure(&mut cmd);
    cmd.env_remove("AUDIT_ROUTER_RECEIPTS")
        .args(["send", "--timeout", "5", "--rules"])
        .arg(&env.rules)
        .args(["--receipts", &format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/")])
        .args(extra);
    tokio::task::spawn_blocking(move || cmd.output().expect("run audit-router"))
        .await
        .expect("join")
}

fn state(receipt: &Value, sink: &str) -> String {
    receipt["sinks"][sink]["state"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_records_receipts_and_a_second_send_sends_nothing() {
    let env = setup("cli-dup").await;
    let uri = format!("s3://{BUCKET}/{REPORT_KEY}");
    let out = send(&env, &[&uri]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("delivered: sink ops-sns") && stdout.contains("delivered: sink ops-slack"),
        "{}",
        output_text(&out)
    );
    let sns = drain(&env.moto, &env.queue).await;
    assert_eq!(sns.len(), 1);
    assert_names_all("SNS message", &sns[0]);
    assert_eq!(posts(&env.slack).len(), 1);
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-sns"), "delivered", "{receipt}");
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");
    assert!(receipt["claim"].is_null());

    // Again, with JSON output: a duplicate, nothing sent.
    let out = send(&env, &["--format", "json", &uri]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(doc["sources"][0]["status"], "duplicate", "{doc}");
    assert_eq!(doc["outcomes"], serde_json::json!([]));
    assert_eq!(
        doc["sources"][0]["receipt_uri"],
        format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/{BUCKET}/{REPORT_KEY}.json")
    );
    assert!(drain(&env.moto, &env.queue).await.is_empty());
    assert_eq!(posts(&env.slack).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_a_slack_outage_sends_slack_only() {
    let env = setup("cli-outage").await;
    let uri = format!("s3://{BUCKET}/{REPORT_KEY}");
    slack_status(&env.slack, 503);
    let out = send(&env, &[&uri]).await;
    assert!(!out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED: sink ops-slack") && stdout.contains("delivered: sink ops-sns"),
        "{}",
        output_text(&out)
    );
    assert_eq!(drain(&env.moto, &env.queue).await.len(), 1);
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-slack"), "failed", "{receipt}");

    slack_status(&env.slack, 200);
    let out = send(&env, &[&uri]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped: sink ops-sns: already delivered")
            && stdout.contains("delivered: sink ops-slack"),
        "{}",
        output_text(&out)
    );
    assert!(
        drain(&env.moto, &env.queue).await.is_empty(),
        "SNS not again"
    );
    let slack = posts(&env.slack);
    assert_eq!(slack.len(), 1);
    assert_names_all("Slack payload", &slack[0]);
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_need_s3_reports_and_a_valid_location() {
    let env = setup("cli-bad").await;
    let local = common::fixture(REPORT_FIXTURE);
    let out = send(&env, &[local.to_str().expect("utf-8")]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("receipts are kept for S3 reports only")
            && stderr.contains("RESOURCE_COMPLIANCE_REPORT.json"),
        "{}",
        output_text(&out)
    );

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    env.moto.configure(&mut cmd);
    cmd.args(["send", "--rules"]).arg(&env.rules).args([
        "--receipts",
        "reports/receipts",
        "s3://reports/x.json",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--receipts") && stderr.contains("reports/receipts"),
        "{}",
        output_text(&out)
    );
    assert!(drain(&env.moto, &env.queue).await.is_empty());
    assert!(posts(&env.slack).is_empty());
}

/// `send --metrics FILE` appends the run's EMF lines (valid EMF, the report's counts, one line
/// per sink) and leaves stdout to the command's output; `--metrics -` writes them to stderr; a
/// path that cannot be opened fails before anything is sent, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_metrics_writes_emf_lines_to_a_file_or_stderr() {
    let env = setup("cli-metrics").await;
    let uri = format!("s3://{BUCKET}/{REPORT_KEY}");
    let dir = tempfile::tempdir().expect("temp dir");

    let bad = dir.path().join("no/such/dir/metrics.jsonl");
    let out = send(&env, &["--metrics", bad.to_str().expect("utf-8"), &uri]).await;
    assert!(!out.status.success(), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--metrics") && stderr.contains(bad.to_str().expect("utf-8")),
        "{}",
        output_text(&out)
    );
    assert!(posts(&env.slack).is_empty(), "nothing sent");

    let file = dir.path().join("metrics.jsonl");
    let out = send(
        &env,
        &[
            "--format",
            "json",
            "--env",
            "staging",
            "--metrics",
            file.to_str().expect("utf-8"),
            &uri,
        ],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON output only");
    assert_eq!(doc["sources"][0]["status"], "delivered", "{doc}");
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .expect("metrics file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    common::emf::assert_valid(&lines);
    let fixture: Value =
        serde_json::from_slice(&common::fixture_bytes(REPORT_FIXTURE)).expect("fixture");
    let items = fixture["reportItems"].as_array().expect("items").len();
    let report: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("ReportItems").is_some())
        .collect();
    assert_eq!(report.len(), 1, "{lines:#?}");
    assert_eq!(report[0]["ReportItems"], items);
    assert_eq!(
        report[0]["Environment"], "staging",
        "--env is the run's environment"
    );
    assert_eq!(report[0]["reportUri"], uri);
    assert!(
        report[0].get("requestId").is_none(),
        "no request id outside Lambda"
    );
    let mut sinks: Vec<&str> = lines
        .iter()
        .filter(|l| l.get("Delivered").is_some())
        .map(|l| {
            assert_eq!(l["Delivered"], 1, "{l}");
            l["Sink"].as_str().expect("Sink")
        })
        .collect();
    sinks.sort();
    assert_eq!(sinks, ["ops-slack", "ops-sns"]);

    // Again, to stderr: a duplicate now, so no report was read and no line is written; a new
    // report's lines then appear on stderr, one JSON document each.
    let key2 = REPORT_KEY.replace(".json", "-2.json");
    env.moto
        .put_object(BUCKET, &key2, common::fixture_bytes(REPORT_FIXTURE))
        .await;
    let uri2 = format!("s3://{BUCKET}/{key2}");
    let out = send(&env, &["--quiet", "--metrics", "-", &uri, &uri2]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let emf: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    common::emf::assert_valid(&emf);
    assert!(emf.iter().all(|d| d["reportUri"] == uri2), "{emf:#?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("_aws"));
    // The file kept its lines (appended to, never truncated).
    let again = std::fs::read_to_string(&file).expect("metrics file");
    assert_eq!(again.lines().count(), lines.len());
}

/// A sink setting that references a missing SSM parameter fails that sink with one readable
/// line (the service, the operation, AWS's error code and message), the same text in the text
/// output, the JSON output and the receipt; never the SDK's `Debug` dump of the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ssm_parameter_is_one_readable_line_everywhere() {
    let env = setup("cli-ssm").await;
    let rules = std::fs::read_to_string(&env.rules).expect("rules");
    let slack_url = rules
        .lines()
        .find(|l| l.starts_with("url = "))
        .expect("the Slack sink's url");
    std::fs::write(
        &env.rules,
        rules.replace(slack_url, r#"url = "${ssm:/missing/param}""#),
    )
    .expect("write rules");
    let uri = format!("s3://{BUCKET}/{REPORT_KEY}");
    let debug_dump = [
        "ServiceError {",
        "raw: Response",
        "headers",
        "ErrorMetadata",
    ];

    let out = send(&env, &[&uri]).await;
    assert!(!out.status.success(), "{}", output_text(&out));
    for needle in debug_dump {
        assert!(
            !output_text(&out).contains(needle),
            "{needle:?} in {}",
            output_text(&out)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("SSM GetParameter"))
        .collect();
    assert_eq!(failed.len(), 1, "one line says why: {}", output_text(&out));
    assert!(
        failed[0].contains("FAILED: sink ops-slack")
            && failed[0].contains("${ssm:/missing/param}")
            && failed[0].contains("SSM GetParameter: ParameterNotFound"),
        "{}",
        output_text(&out)
    );
    assert!(
        stdout.contains("delivered: sink ops-sns"),
        "{}",
        output_text(&out)
    );
    assert!(posts(&env.slack).is_empty());

    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-slack"), "failed", "{receipt}");
    let recorded = receipt["sinks"]["ops-slack"]["error"]
        .as_str()
        .expect("the receipt says why");
    assert!(
        recorded.contains("SSM GetParameter: ParameterNotFound") && !recorded.contains('\n'),
        "{recorded}"
    );
    assert!(
        failed[0].contains(recorded),
        "{}\nreceipt: {recorded}",
        failed[0]
    );

    // The replay (Slack only: SNS is delivered) says the same in JSON.
    let out = send(&env, &["--format", "json", &uri]).await;
    assert!(!out.status.success(), "{}", output_text(&out));
    for needle in debug_dump {
        assert!(
            !output_text(&out).contains(needle),
            "{needle:?} in {}",
            output_text(&out)
        );
    }
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let outcomes = doc["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1, "{doc}");
    assert_eq!(outcomes[0]["sink"], "ops-slack", "{doc}");
    assert_eq!(outcomes[0]["error"], recorded, "{doc}");
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(
        receipt["sinks"]["ops-slack"]["error"], recorded,
        "{receipt}"
    );
    assert_eq!(drain(&env.moto, &env.queue).await.len(), 1, "SNS once");
}
