//! Helpers of the handler, `send --receipts` and Lambda end-to-end tests: an SNS topic with an SQS
//! queue subscribed (in moto), a test rules file, the fixture report's expected names.
//! Included with `#[path = "handler_support/mod.rs"] mod support;` next to `mod common;`.
#![allow(dead_code)]

use serde_json::{Value, json};

use crate::common::moto::Moto;

/// The report all these tests route: a resource compliance report (controls and resources).
pub const REPORT_FIXTURE: &str = "reports/aws/RESOURCE_COMPLIANCE_REPORT.json";

/// A report key as Audit Manager writes it, with spaces and `:` (encoded in S3 events).
pub const REPORT_KEY: &str = "audit reports/Backup/444444444444/us-east-1/2026/11/26/daily plan/\
RESOURCE_COMPLIANCE_REPORT_daily plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.json";

pub const RECEIPTS_PREFIX: &str = "audit-router-receipts";

/// The non-compliant (control, resource) pairs of the fixture, read from the fixture itself.
pub fn non_compliant() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_slice(&crate::common::fixture_bytes(REPORT_FIXTURE))
        .expect("fixture is JSON");
    let items = doc["reportItems"].as_array().expect("reportItems");
    let out: Vec<(String, String)> = items
        .iter()
        .filter(|i| i["resourceComplianceStatus"] == "NON_COMPLIANT")
        .map(|i| {
            (
                i["controlName"].as_str().expect("controlName").to_owned(),
                i["resourceId"].as_str().expect("resourceId").to_owned(),
            )
        })
        .collect();
    assert!(
        out.len() >= 2,
        "the fixture must have several non-compliant items"
    );
    out
}

/// Every non-compliant control and resource of the fixture appears in `text`.
pub fn assert_names_all(what: &str, text: &str) {
    for (control, resource) in non_compliant() {
        assert!(
            text.contains(&control),
            "{what} lacks control {control}:\n{text}"
        );
        assert!(
            text.contains(&resource),
            "{what} lacks resource {resource}:\n{text}"
        );
    }
}

/// Rules routing every non-compliant finding to an SNS sink and a Slack sink.
pub fn rules_toml(topic_arn: &str, slack_url: &str) -> String {
    format!(
        r#"[settings]
default_environment = "prod"

[sinks.ops-sns]
type = "sns"
topic_arn = "{topic_arn}"

[sinks.ops-slack]
type = "slack"
url = "{slack_url}"
allow_insecure_http = true

[[rules]]
name = "non-compliant"
sinks = ["ops-sns", "ops-slack"]
[rules.match]
status = "NON_COMPLIANT"
"#
    )
}

/// The fixture S3 notification, pointed at `bucket`/`key` (the key form-URL-encoded as S3 does).
pub fn s3_event(bucket: &str, key: &str) -> Value {
    let mut v: Value = serde_json::from_slice(&crate::common::fixture_bytes(
        "events/s3-object-created.json",
    ))
    .expect("fixture event is JSON");
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    let s3 = &mut v["Records"][0]["s3"];
    s3["bucket"]["name"] = json!(bucket);
    s3["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    s3["object"]["key"] = json!(encoded);
    v
}

/// The fixture EventBridge "Object Created" event, pointed at `bucket`/`key` (not encoded).
pub fn eventbridge_event(bucket: &str, key: &str) -> Value {
    let mut v: Value = serde_json::from_slice(&crate::common::fixture_bytes(
        "events/eventbridge-object-created.json",
    ))
    .expect("fixture event is JSON");
    v["resources"] = json!([format!("arn:aws:s3:::{bucket}")]);
    v["detail"]["bucket"]["name"] = json!(bucket);
    v["detail"]["object"]["key"] = json!(key);
    v
}

/// One SQS JSON-protocol call against moto (the crate has no SQS SDK).
pub async fn sqs(moto: &Moto, action: &str, body: Value) -> Value {
    crate::common::moto::sqs_at(&moto.endpoint(), action, body).await
}

/// A topic with an SQS queue subscribed: (topic ARN, queue URL).
pub async fn topic_with_queue(moto: &Moto, name: &str) -> (String, String) {
    moto.topic_with_queue(&moto.sdk_config().await, name).await
}

/// The SNS messages (`Message` of each envelope) waiting in the queue, removed from it.
pub async fn drain(moto: &Moto, queue_url: &str) -> Vec<String> {
    moto.drain(queue_url).await
}

/// The receipt document of `s3://bucket/key`.
pub async fn read_receipt(moto: &Moto, bucket: &str, key: &str) -> Value {
    let body = moto
        .get_object(bucket, &format!("{RECEIPTS_PREFIX}/{bucket}/{key}.json"))
        .await;
    serde_json::from_slice(&body).expect("receipt is JSON")
}

pub use crate::common::slack::{Answer, SlackStandIn};

/// Every body the Slack stand-in received, accepted or refused, in order.
pub fn posts(slack: &SlackStandIn) -> Vec<String> {
    slack.log().into_iter().map(|l| l.body).collect()
}

/// Forgets what the stand-in received; then it answers as Slack does for `status`: 200 checks
/// every body (and refuses what Slack refuses), anything else is Slack's answer of that status
/// to every request (500 `rollup_error`, 404 `channel_not_found`, …).
pub fn slack_status(slack: &SlackStandIn, status: u16) {
    slack.reset();
    let code = match status {
        200 => return,
        400 => "invalid_payload",
        403 => "action_prohibited",
        404 => "channel_not_found",
        410 => "channel_is_archived",
        429 => "rate_limited",
        _ => "rollup_error",
    };
    slack.always(Some(Answer::status(status, code)));
}
