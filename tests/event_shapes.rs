//! Every event shape the Lambda can receive, and malformed events, through
//! `event::locations_from_event`.

mod common;

use audit_router::event::{EventError, EventLocations, locations_from_event, locations_from_value};
use audit_router::location::ReportLocation;
use serde_json::{Value, json};

const BUCKET: &str = "backup-audit-reports";
const KEY: &str = "reports/Backup/111111111111/us-east-1/2026/11/26/daily_plan/\
CONTROL_COMPLIANCE_REPORT_daily_plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.json";

fn s3(bucket: &str, key: &str) -> ReportLocation {
    ReportLocation::S3 {
        bucket: bucket.into(),
        key: key.into(),
    }
}

fn parse_fixture(name: &str) -> EventLocations {
    let bytes = common::fixture_bytes(&format!("events/{name}"));
    locations_from_event(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fixture_value(name: &str) -> Value {
    serde_json::from_slice(&common::fixture_bytes(&format!("events/{name}"))).unwrap()
}

fn err_of(event: &Value) -> String {
    let bytes = serde_json::to_vec(event).unwrap();
    match locations_from_event(&bytes) {
        Ok(got) => panic!("expected an error, got {got:?} for {event}"),
        Err(e) => e.to_string(),
    }
}

/// Replaces the JSON string at `pointer` in an embedded-JSON field.
fn set_embedded(outer: &mut Value, field: &str, inner: &Value) {
    *outer.pointer_mut(field).unwrap() = Value::String(inner.to_string());
}

#[test]
fn s3_notification_key_is_form_decoded() {
    let got = parse_fixture("s3-object-created.json");
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
    assert!(got.skipped.is_empty(), "{:?}", got.skipped);
}

#[test]
fn eventbridge_object_created_raw_key() {
    let got = parse_fixture("eventbridge-object-created.json");
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
    assert!(got.skipped.is_empty());
}

#[test]
fn eventbridge_encoded_key_is_decoded_only_when_it_has_percent_3a() {
    let mut ev = fixture_value("eventbridge-object-created.json");
    let key = ev.pointer_mut("/detail/object/key").unwrap();
    *key = json!("reports/a+b/R_2026-11-25T00%3a00%3A00Z%2B1.json");
    let got = locations_from_value(&ev).unwrap();
    assert_eq!(
        got.locations,
        vec![s3(BUCKET, "reports/a b/R_2026-11-25T00:00:00Z+1.json")]
    );

    // A raw ':' means the key is raw: '+' and '%2B' stay as they are.
    *ev.pointer_mut("/detail/object/key").unwrap() = json!("r/a+b%2B/R_00:00.json");
    let got = locations_from_value(&ev).unwrap();
    assert_eq!(got.locations, vec![s3(BUCKET, "r/a+b%2B/R_00:00.json")]);
}

#[test]
fn eventbridge_other_detail_type_is_skipped() {
    let mut ev = fixture_value("eventbridge-object-created.json");
    ev["detail-type"] = json!("Object Deleted");
    let got = locations_from_value(&ev).unwrap();
    assert!(got.locations.is_empty());
    assert_eq!(got.skipped.len(), 1);
    assert!(
        got.skipped[0].contains("Object Deleted"),
        "{:?}",
        got.skipped
    );
    assert!(got.skipped[0].contains(&format!("s3://{BUCKET}/{KEY}")));
}

#[test]
fn sqs_wrapped_s3_notification() {
    let got = parse_fixture("sqs-s3.json");
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
    assert!(got.skipped.is_empty());
}

#[test]
fn sns_wrapped_s3_notification() {
    let got = parse_fixture("sns-s3.json");
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
    assert!(got.skipped.is_empty());
}

#[test]
fn sqs_wrapped_sns_wrapped_s3_notification() {
    let got = parse_fixture("sqs-sns-s3.json");
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
    assert!(got.skipped.is_empty());
}

#[test]
fn direct_event_key_is_raw() {
    let got = parse_fixture("direct.json");
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
    let got = locations_from_value(&json!({"bucket": "b", "key": "a+b%3A c"})).unwrap();
    assert_eq!(got.locations, vec![s3("b", "a+b%3A c")]);
}

#[test]
fn test_event_is_skipped_bare_and_wrapped() {
    for name in [
        "s3-test-event.json",
        "sqs-test-event.json",
        "sns-test-event.json",
    ] {
        let got = parse_fixture(name);
        assert!(got.locations.is_empty(), "{name}: {got:?}");
        assert_eq!(got.skipped.len(), 1, "{name}: {got:?}");
        assert!(got.skipped[0].contains("s3:TestEvent"), "{name}: {got:?}");
        assert!(got.skipped[0].contains(BUCKET), "{name}: {got:?}");
    }
    let got = parse_fixture("sqs-test-event.json");
    assert!(
        got.skipped[0].starts_with("Records[0].body"),
        "{:?}",
        got.skipped
    );
}

#[test]
fn sns_subscription_confirmation_in_sqs_is_skipped() {
    let mut ev = fixture_value("sqs-sns-s3.json");
    let body: Value = serde_json::from_str(ev["Records"][0]["body"].as_str().unwrap()).unwrap();
    let mut body = body;
    body["Type"] = json!("SubscriptionConfirmation");
    set_embedded(&mut ev, "/Records/0/body", &body);
    let got = locations_from_value(&ev).unwrap();
    assert!(got.locations.is_empty());
    assert!(
        got.skipped[0].contains("SubscriptionConfirmation"),
        "{:?}",
        got.skipped
    );
}

#[test]
fn multi_record_encodings_non_create_and_duplicates() {
    let got = parse_fixture("s3-multi.json");
    assert_eq!(
        got.locations,
        vec![
            s3(BUCKET, "reports/a b/REPORT_2026-11-25T00:00:00Z.csv"),
            s3(BUCKET, "reports/literal+plus/REPORT_x:y.json"),
            s3(BUCKET, "reports/café/Résumé:1.json"),
        ]
    );
    assert_eq!(got.skipped.len(), 2, "{:?}", got.skipped);
    assert!(
        got.skipped[0].starts_with("Records[2]: ObjectRemoved:Delete"),
        "{:?}",
        got.skipped
    );
    assert!(got.skipped[0].contains("s3://backup-audit-reports/reports/old/REPORT:1.csv"));
    assert!(
        got.skipped[1].starts_with("Records[3]: "),
        "{:?}",
        got.skipped
    );
    assert!(got.skipped[1].contains("duplicate"), "{:?}", got.skipped);
}

#[test]
fn duplicates_across_wrappers_are_removed_keeping_first() {
    let s3_event = fixture_value("s3-object-created.json");
    let mut ev = fixture_value("sqs-s3.json");
    let first = ev["Records"][0].clone();
    let mut second = first.clone();
    let mut other = s3_event.clone();
    other["Records"][0]["s3"]["object"]["key"] = json!("x/OTHER%3A1.csv");
    second["body"] = json!(other.to_string());
    ev["Records"] = json!([first.clone(), second, first]);
    let got = locations_from_value(&ev).unwrap();
    assert_eq!(
        got.locations,
        vec![s3(BUCKET, KEY), s3(BUCKET, "x/OTHER:1.csv")]
    );
    assert_eq!(got.skipped.len(), 1);
    assert!(
        got.skipped[0].starts_with("Records[2].body -> Records[0]"),
        "{:?}",
        got.skipped
    );
}

#[test]
fn empty_records_is_acknowledged() {
    let got = locations_from_value(&json!({"Records": []})).unwrap();
    assert!(got.locations.is_empty());
    assert_eq!(
        got.skipped,
        vec!["Records: empty, no records to process".to_string()]
    );
}

#[test]
fn not_json_is_an_error_with_line_and_column() {
    let err = locations_from_event(b"{\"Records\": [\n  oops]}").unwrap_err();
    assert!(matches!(err, EventError::Json(_)));
    let msg = err.to_string();
    assert!(
        msg.contains("not valid JSON") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn unknown_shapes_are_errors() {
    let msg = err_of(&json!({"hello": "world"}));
    assert!(msg.contains("unrecognized event shape"), "{msg}");
    assert!(msg.contains("[hello]"), "{msg}");
    let msg = err_of(&json!([1, 2]));
    assert!(
        msg.contains("expected a JSON object, found an array"),
        "{msg}"
    );
    let msg = err_of(&json!({"Event": "s3:Other", "Bucket": "b"}));
    assert!(msg.contains("unrecognized event shape"), "{msg}");
}

#[test]
fn malformed_s3_records_name_the_path() {
    let base = fixture_value("s3-multi.json");
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "missing key",
            |v| {
                v["Records"][2]["s3"]["object"]
                    .as_object_mut()
                    .unwrap()
                    .remove("key");
            },
            "Records[2].s3.object.key: missing",
        ),
        (
            "null key",
            |v| v["Records"][1]["s3"]["object"]["key"] = Value::Null,
            "Records[1].s3.object.key: missing",
        ),
        (
            "numeric key",
            |v| v["Records"][0]["s3"]["object"]["key"] = json!(5),
            "Records[0].s3.object.key: expected a string, found a number",
        ),
        (
            "bad percent",
            |v| v["Records"][4]["s3"]["object"]["key"] = json!("a%zzb"),
            "Records[4].s3.object.key: cannot URL-decode \"a%zzb\"",
        ),
        (
            "not UTF-8",
            |v| v["Records"][4]["s3"]["object"]["key"] = json!("a%FFb"),
            "not UTF-8",
        ),
        (
            "missing bucket",
            |v| {
                v["Records"][3]["s3"]
                    .as_object_mut()
                    .unwrap()
                    .remove("bucket");
            },
            "Records[3].s3.bucket: missing",
        ),
        (
            "empty bucket name",
            |v| v["Records"][0]["s3"]["bucket"]["name"] = json!(""),
            "Records[0].s3.bucket.name: empty",
        ),
        (
            "missing eventName",
            |v| {
                v["Records"][1].as_object_mut().unwrap().remove("eventName");
            },
            "Records[1].eventName: missing",
        ),
        (
            "record of unknown kind",
            |v| v["Records"][2] = json!({"eventSource": "aws:kinesis", "kinesis": {}}),
            "Records[2]: record with keys [eventSource, kinesis] has none of s3",
        ),
        (
            "record not an object",
            |v| v["Records"][1] = json!("s3://b/k"),
            "Records[1]: expected an object, found a string",
        ),
        (
            "Records not an array",
            |v| v["Records"] = json!({"s3": {}}),
            "Records: expected an array, found an object",
        ),
    ];
    for (what, mutate, want) in cases {
        let mut ev = base.clone();
        mutate(&mut ev);
        let msg = err_of(&ev);
        assert!(
            msg.contains(want),
            "{what}: {msg:?} does not contain {want:?}"
        );
    }
}

#[test]
fn malformed_wrapped_events_name_the_path_through_the_wrapper() {
    // SQS body that is not JSON.
    let mut ev = fixture_value("sqs-s3.json");
    ev["Records"][0]["body"] = json!("not json");
    let msg = err_of(&ev);
    assert!(
        msg.starts_with("Records[0].body: expected an embedded JSON event"),
        "{msg}"
    );

    // SQS body null.
    ev["Records"][0]["body"] = Value::Null;
    let msg = err_of(&ev);
    assert!(msg.starts_with("Records[0].body: missing"), "{msg}");

    // Key missing inside an SQS-wrapped SNS-wrapped notification.
    let mut ev = fixture_value("sqs-sns-s3.json");
    let mut env: Value = serde_json::from_str(ev["Records"][0]["body"].as_str().unwrap()).unwrap();
    let mut s3_event: Value = serde_json::from_str(env["Message"].as_str().unwrap()).unwrap();
    s3_event["Records"][0]["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    env["Message"] = json!(s3_event.to_string());
    set_embedded(&mut ev, "/Records/0/body", &env);
    let msg = err_of(&ev);
    assert_eq!(
        msg,
        "Records[0].body -> Message -> Records[0].s3.object.key: missing"
    );

    // SNS record without its Message.
    let mut ev = fixture_value("sns-s3.json");
    ev["Records"][0]["Sns"]
        .as_object_mut()
        .unwrap()
        .remove("Message");
    let msg = err_of(&ev);
    assert_eq!(msg, "Records[0].Sns.Message: missing");

    // SNS message that is plain text.
    let mut ev = fixture_value("sns-s3.json");
    ev["Records"][0]["Sns"]["Message"] = json!("hello");
    let msg = err_of(&ev);
    assert!(
        msg.starts_with("Records[0].Sns.Message: expected an embedded JSON event"),
        "{msg}"
    );
}

#[test]
fn malformed_eventbridge_and_direct() {
    let mut ev = fixture_value("eventbridge-object-created.json");
    ev["detail"].as_object_mut().unwrap().remove("bucket");
    assert_eq!(err_of(&ev), "detail.bucket: missing");

    let mut ev = fixture_value("eventbridge-object-created.json");
    ev["detail"]["object"]["key"] = json!("a%3Ab%G1");
    assert!(err_of(&ev).starts_with("detail.object.key: cannot URL-decode"));

    let mut ev = fixture_value("eventbridge-object-created.json");
    ev["source"] = json!("aws.ec2");
    assert_eq!(
        err_of(&ev),
        "source: expected \"aws.s3\", found \"aws.ec2\""
    );

    assert_eq!(
        err_of(&json!({"bucket": "", "key": "k"})),
        "bucket: empty, expected a non-empty string"
    );
    assert_eq!(err_of(&json!({"bucket": "b", "key": null})), "key: missing");
    assert_eq!(
        err_of(&json!({"bucket": 1, "key": "k"})),
        "bucket: expected a string, found a number"
    );
}

#[test]
fn nesting_is_bounded() {
    let mut ev = json!({"bucket": "b", "key": "k"});
    for _ in 0..6 {
        ev = json!({"Records": [{"body": ev.to_string()}]});
    }
    let msg = err_of(&ev);
    assert!(msg.contains("nested more than"), "{msg}");
}

#[test]
fn eventbridge_event_delivered_through_sqs() {
    let eb = fixture_value("eventbridge-object-created.json");
    let mut ev = fixture_value("sqs-s3.json");
    set_embedded(&mut ev, "/Records/0/body", &eb);
    let got = locations_from_value(&ev).unwrap();
    assert_eq!(got.locations, vec![s3(BUCKET, KEY)]);
}

/// Only the fields routing reads are required; the rest may be missing or of any shape.
#[test]
fn fields_routing_does_not_read_may_be_missing_or_malformed() {
    // S3 record: eventTime not a timestamp, no userIdentity/requestParameters, size a string.
    let mut ev = fixture_value("s3-object-created.json");
    let r = ev["Records"][0].as_object_mut().unwrap();
    r.insert("eventTime".into(), json!("yesterday"));
    r.remove("userIdentity");
    r.remove("requestParameters");
    r.remove("responseElements");
    ev["Records"][0]["s3"]["object"]["size"] = json!("big");
    ev["Records"][0]["s3"]["bucket"]
        .as_object_mut()
        .unwrap()
        .remove("arn");
    assert_eq!(locations_from_value(&ev).unwrap().locations.len(), 1);

    // An SNS envelope in an SQS body without SigningCertURL/UnsubscribeURL/Signature/Timestamp.
    let mut ev = fixture_value("sqs-sns-s3.json");
    let mut env: Value = serde_json::from_str(ev["Records"][0]["body"].as_str().unwrap()).unwrap();
    for k in [
        "SigningCertURL",
        "UnsubscribeURL",
        "Signature",
        "SignatureVersion",
        "Timestamp",
    ] {
        env.as_object_mut().unwrap().remove(k);
    }
    set_embedded(&mut ev, "/Records/0/body", &env);
    let want = parse_fixture("sqs-sns-s3.json").locations;
    assert_eq!(locations_from_value(&ev).unwrap().locations, want);
    // …and with only Message and Type.
    let bare = json!({"Type": "Notification", "Message": env["Message"]});
    set_embedded(&mut ev, "/Records/0/body", &bare);
    assert_eq!(locations_from_value(&ev).unwrap().locations, want);

    // An SQS record whose binary message attribute is not base64 (was "Invalid input length: 9"
    // for the whole event) and whose attributes are of unknown shapes.
    let mut ev = fixture_value("sqs-s3.json");
    ev["Records"][0]["messageAttributes"] = json!({
        "blob": {"binaryValue": "not-b64!!", "dataType": "Binary"},
        "odd": [1, 2, 3]
    });
    ev["Records"][0]["attributes"] = json!("whatever");
    ev["Records"][0]
        .as_object_mut()
        .unwrap()
        .remove("md5OfBody");
    assert_eq!(
        locations_from_value(&ev).unwrap().locations,
        parse_fixture("sqs-s3.json").locations
    );

    // EventBridge without source, account, time, resources.
    let mut ev = fixture_value("eventbridge-object-created.json");
    for k in [
        "source",
        "account",
        "time",
        "resources",
        "id",
        "version",
        "region",
    ] {
        ev.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(
        locations_from_value(&ev).unwrap().locations,
        parse_fixture("eventbridge-object-created.json").locations
    );
}

/// An SQS event is also read message by message, for the partial batch response.
#[test]
fn an_sqs_batch_is_read_message_by_message() {
    use audit_router::event::{ParsedEvent, parse_event};
    let good = fixture_value("sqs-s3.json");
    let mut ev = good.clone();
    let records = ev["Records"].as_array_mut().unwrap();
    let mut bad = records[0].clone();
    bad["messageId"] = json!("m-bad");
    bad["body"] = json!("{not json");
    let mut dup = records[0].clone();
    dup["messageId"] = json!("m-dup");
    records.push(bad);
    records.push(dup);
    let ParsedEvent::SqsBatch(messages) = parse_event(&ev) else {
        panic!("an SQS event is read as a batch")
    };
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let first = good["Records"][0]["messageId"].as_str().unwrap();
    assert_eq!(ids, [first, "m-bad", "m-dup"]);
    let want = parse_fixture("sqs-s3.json").locations;
    assert_eq!(messages[0].result.as_ref().unwrap().locations, want);
    let e = messages[1].result.as_ref().unwrap_err().to_string();
    assert!(
        e.starts_with("Records[1].body: expected an embedded JSON event"),
        "{e}"
    );
    assert_eq!(messages[1].path, "Records[1]");
    assert_eq!(messages[2].result.as_ref().unwrap().locations, want);
    // The strict reading fails at the bad message, naming it.
    assert!(
        err_of(&ev).starts_with("Records[1].body:"),
        "{}",
        err_of(&ev)
    );

    // Not a batch: S3 notifications, SNS records, records without a messageId.
    assert!(matches!(
        parse_event(&fixture_value("s3-multi.json")),
        ParsedEvent::Single(Ok(_))
    ));
    let mut no_id = good.clone();
    no_id["Records"][0]
        .as_object_mut()
        .unwrap()
        .remove("messageId");
    assert!(matches!(parse_event(&no_id), ParsedEvent::Single(Ok(_))));
}

/// A UTF-8 byte order mark before an event file's JSON, or before an SQS body's (the
/// aws-lambda-dotnet test events start with one), is allowed.
#[test]
fn a_byte_order_mark_is_allowed() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(common_bytes("s3-object-created.json"));
    assert_eq!(
        locations_from_event(&bytes).unwrap().locations,
        parse_fixture("s3-object-created.json").locations
    );
    let mut ev = fixture_value("sqs-s3.json");
    let body = ev["Records"][0]["body"].as_str().unwrap().to_owned();
    ev["Records"][0]["body"] = json!(format!("\u{feff}{body}"));
    assert_eq!(
        locations_from_value(&ev).unwrap().locations,
        parse_fixture("sqs-s3.json").locations
    );
}

fn common_bytes(name: &str) -> Vec<u8> {
    serde_json::to_vec(&fixture_value(name)).unwrap()
}

/// A Lambda on-failure destination record, as the on-failure queue holds it.
fn destination_record(event: &Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-26T06:01:02.345Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:audit-router-prod:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "AuditRouter.PermanentDelivery", "errorMessage": "…"}
    })
}

#[test]
fn an_on_failure_destination_record_names_the_report_of_its_event() {
    for fixture in ["s3-object-created.json", "eventbridge-object-created.json"] {
        let record = destination_record(&fixture_value(fixture));
        let got = locations_from_value(&record).unwrap();
        assert_eq!(got.locations, vec![s3(BUCKET, KEY)], "{fixture}");
    }
    // In the queue's own shapes: a Lambda SQS event, and `aws sqs receive-message` output.
    let record = destination_record(&fixture_value("s3-object-created.json"));
    let sqs = json!({"Records": [{"messageId": "m-1", "body": record.to_string(),
                                  "eventSource": "aws:sqs"}]});
    assert_eq!(
        locations_from_value(&sqs).unwrap().locations,
        vec![s3(BUCKET, KEY)]
    );
    let received = json!({"Messages": [{"MessageId": "m-1", "ReceiptHandle": "AQEB…",
                                        "MD5OfBody": "0", "Body": record.to_string()}]});
    assert_eq!(
        locations_from_value(&received).unwrap().locations,
        vec![s3(BUCKET, KEY)]
    );
}

#[test]
fn bad_destination_records_and_received_messages_name_the_path() {
    let e = err_of(&json!({"requestContext": {}, "requestPayload": null}));
    assert!(
        e.contains("requestPayload: expected a JSON object, found null"),
        "{e}"
    );
    let broken = destination_record(&json!({"Records": [{"s3": {"bucket": {"name": "b"}},
        "eventName": "ObjectCreated:Put"}]}));
    let e = err_of(&broken);
    assert_eq!(e, "requestPayload.Records[0].s3.object: missing");
    let e = err_of(&json!({"Messages": [{"MessageId": "m", "Body": "{not json"}]}));
    assert!(
        e.starts_with("Messages[0].Body: expected an embedded JSON event"),
        "{e}"
    );
    let e = err_of(&json!({"Messages": [{"MessageId": "m"}]}));
    assert_eq!(e, "Messages[0].Body: missing");
    let e = err_of(&json!({"Messages": "x"}));
    assert_eq!(e, "Messages: expected an array, found a string");
    let inner = destination_record(&json!({"Records": [{"s3": {"bucket": {"name": "b"}},
        "eventName": "ObjectCreated:Put"}]}));
    let e = err_of(&json!({"Messages": [{"MessageId": "m", "Body": inner.to_string()}]}));
    assert_eq!(
        e,
        "Messages[0].Body -> requestPayload.Records[0].s3.object: missing"
    );
}

/// `aws sqs receive-message` output in an event file: message by message, so one bad message
/// is an error of its own and the others are read.
#[test]
fn received_messages_are_read_one_by_one_for_the_cli() {
    use audit_router::event::{ParsedEvent, parse_event_file};
    let good = destination_record(&fixture_value("s3-object-created.json"));
    let file = json!({"Messages": [
        {"MessageId": "m-1", "Body": good.to_string()},
        {"MessageId": "m-2", "Body": "{\"requestPayload\": 3}"},
    ]});
    let ParsedEvent::SqsBatch(messages) = parse_event_file(&file) else {
        panic!("read message by message");
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].message_id, "m-1");
    assert_eq!(
        messages[0].result.as_ref().unwrap().locations,
        vec![s3(BUCKET, KEY)]
    );
    assert_eq!(messages[1].path, "Messages[1]");
    let e = messages[1].result.as_ref().unwrap_err().to_string();
    assert!(
        e.contains("Messages[1].Body -> requestPayload: expected a JSON object, found a number"),
        "{e}"
    );
    // Anything else reads as parse_event does.
    assert!(matches!(
        parse_event_file(&good),
        ParsedEvent::Single(Ok(ref f)) if f.locations == vec![s3(BUCKET, KEY)]
    ));
}
