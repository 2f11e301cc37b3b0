//! `dry-run` over S3 sources and Lambda events, against a real `moto_server`.

mod common;

use common::moto::Moto;
use serde_json::Value;
use std::process::Command;

const BUCKET: &str = "backup-audit-reports";
const KEY: &str = "reports/Backup/444444444444/us-east-1/2026/11/26/daily plan/RESOURCE_COMPLIANCE_REPORT_daily plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.json";

fn dry_run(moto: &Moto, args: &[&str]) -> std::process::Output {
    let rules = common::fixture("cli/rules.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    moto.configure(&mut cmd);
    cmd.args(["dry-run", "--format", "json", "--rules"])
        .arg(&rules)
        .args(args)
        .env("AUDIT_ROUTER_TODAY", "2026-11-27")
        .env_remove("AUDIT_ROUTER_ENV");
    cmd.output().expect("run audit-router")
}

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "dry-run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn setup() -> Moto {
    let moto = Moto::start();
    moto.create_bucket_blocking(BUCKET);
    moto.put_object_blocking(
        BUCKET,
        KEY,
        common::fixture_bytes("reports/aws/RESOURCE_COMPLIANCE_REPORT.json"),
    );
    moto
}

#[test]
fn dry_run_reads_an_s3_uri_and_lambda_events() {
    let moto = setup();

    let uri = format!("s3://{BUCKET}/{KEY}");
    let doc = json(&dry_run(&moto, &[&uri]));
    assert_eq!(doc["sources"][0]["source"], uri.as_str());
    assert_eq!(doc["sources"][0]["report"], "RESOURCE_COMPLIANCE_REPORT");
    assert_eq!(doc["sources"][0]["items"], 12);
    assert_eq!(doc["silenced"], 1);
    assert_eq!(doc["unmatched"], 9);

    // The S3 notification carries the key form-encoded: spaces as `+`, `:` as `%3A`.
    let encoded: String = form_urlencoded::byte_serialize(KEY.as_bytes()).collect();
    assert!(
        encoded.contains('+') && encoded.contains("%3A"),
        "{encoded}"
    );
    let dir = tempfile::tempdir().unwrap();
    let s3_event = dir.path().join("s3-event.json");
    let mut event: Value =
        serde_json::from_slice(&common::fixture_bytes("events/s3-object-created.json")).unwrap();
    event["Records"][0]["s3"]["bucket"]["name"] = BUCKET.into();
    event["Records"][0]["s3"]["object"]["key"] = encoded.into();
    std::fs::write(&s3_event, event.to_string()).unwrap();
    let doc = json(&dry_run(&moto, &["--event", s3_event.to_str().unwrap()]));
    assert_eq!(doc["sources"][0]["source"], uri.as_str());
    let email: Vec<&Value> = doc["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["sink"] == "email")
        .collect();
    assert_eq!(email[0]["findings"].as_array().unwrap().len(), 2);

    // EventBridge carries the key raw.
    let eb_event = dir.path().join("eb-event.json");
    std::fs::write(
        &eb_event,
        serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "111111111111", "time": "2026-11-26T03:12:52Z", "region": "us-east-1",
            "resources": [], "detail": {"version": "0", "bucket": {"name": BUCKET},
            "object": {"key": KEY, "size": 10}, "reason": "PutObject"}
        })
        .to_string(),
    )
    .unwrap();
    let doc = json(&dry_run(&moto, &["--event", eb_event.to_str().unwrap()]));
    assert_eq!(doc["sources"][0]["items"], 12);

    // The test event S3 sends when a notification is configured is acknowledged and skipped.
    let test_event = dir.path().join("test-event.json");
    std::fs::write(
        &test_event,
        common::fixture_bytes("events/s3-test-event.json"),
    )
    .unwrap();
    let doc = json(&dry_run(&moto, &["--event", test_event.to_str().unwrap()]));
    assert_eq!(doc["sources"].as_array().unwrap().len(), 0);
    assert_eq!(doc["skipped"].as_array().unwrap().len(), 1);
}

/// `--event` with SQS messages (taken from a queue, e.g. to replay them): a message that cannot
/// be read is an error of its own, the others are still read; a BOM before the JSON is allowed.
#[test]
fn dry_run_event_of_sqs_messages_reads_every_readable_message() {
    let moto = setup();
    let mut s3_event: Value =
        serde_json::from_slice(&common::fixture_bytes("events/s3-object-created.json")).unwrap();
    s3_event["Records"][0]["s3"]["bucket"]["name"] = BUCKET.into();
    s3_event["Records"][0]["s3"]["object"]["key"] = form_urlencoded::byte_serialize(KEY.as_bytes())
        .collect::<String>()
        .into();
    let mut sqs: Value =
        serde_json::from_slice(&common::fixture_bytes("events/sqs-s3.json")).unwrap();
    let mut bad = sqs["Records"][0].clone();
    bad["messageId"] = "m-bad".into();
    bad["body"] = "not json".into();
    sqs["Records"][0]["body"] = s3_event.to_string().into();
    sqs["Records"].as_array_mut().unwrap().push(bad);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messages.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(sqs.to_string().into_bytes());
    std::fs::write(&file, bytes).unwrap();
    let out = dry_run(&moto, &["--event", file.to_str().unwrap()]);
    assert!(!out.status.success(), "an unreadable message fails the run");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["sources"][0]["items"], 12,
        "the readable message was routed"
    );
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0]["error"].as_str().unwrap();
    assert!(
        e.contains("Records[1] (SQS message m-bad)")
            && e.contains("Records[1].body: expected an embedded JSON event"),
        "{e}"
    );
}

#[test]
fn dry_run_missing_s3_object_is_a_clear_error() {
    let moto = setup();
    let out = dry_run(&moto, &[&format!("s3://{BUCKET}/reports/missing.json")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("s3://{BUCKET}/reports/missing.json")) && err.contains("no such"),
        "{err}"
    );
}
