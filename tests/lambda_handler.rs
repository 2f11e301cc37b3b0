//! The Lambda handler called in-process (no emulator): receipts against a real `moto_server`
//! (S3 for the report and receipts, SNS → SQS), the strict Slack stand-in (`tools/test-support/src/slack.rs`). Covers duplicates, a partial
//! failure and its retry, a busy claim, a permanent sink failure, a bad report, init errors
//! (same lines as `check`), configuration and the panic hook.

mod common;
#[path = "handler_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use audit_router::deliver::RetryPolicy;
use audit_router::lambda::{
    Handler, InitError, LambdaConfig, RulesSource, deadline_of, install_panic_hook, panic_json,
};
use audit_router::receipt::{Claim, ReceiptStore};
use common::moto::Moto;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use support::*;

const BUCKET: &str = "reports";

struct Env {
    moto: Moto,
    slack: SlackStandIn,
    queue: String,
    handler: Handler,
    _dir: tempfile::TempDir,
}

fn config(vars: &[(&str, &str)]) -> Result<LambdaConfig, InitError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    LambdaConfig::from_vars(|name| map.get(name).cloned())
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_millis(20),
    }
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
    let receipts = format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/");
    let cfg = config(&[
        ("AUDIT_ROUTER_RULES", rules.to_str().expect("utf-8 path")),
        ("AUDIT_ROUTER_RECEIPTS", &receipts),
        ("AUDIT_ROUTER_REPORT_PREFIX", "audit reports/"),
    ])
    .expect("config");
    let mut handler = Handler::init(&cfg, moto.sdk_config().await)
        .await
        .expect("init");
    handler.retry = fast_retries();
    Env {
        moto,
        slack,
        queue,
        handler,
        _dir: dir,
    }
}

fn event(request_id: &str, payload: Value) -> LambdaEvent<Value> {
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = request_id.to_owned();
    // 30 s from now, in ms since the epoch, as the Runtime API sends it.
    ctx.deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    LambdaEvent::new(payload, ctx)
}

fn state(receipt: &Value, sink: &str) -> String {
    receipt["sinks"][sink]["state"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_once_then_a_duplicate_sends_nothing() {
    let env = setup("dup").await;
    let out = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect("first invocation succeeds");
    assert_eq!(out["reports"][0]["status"], "delivered", "{out}");
    assert_eq!(
        out["reports"][0]["report"],
        format!("s3://{BUCKET}/{REPORT_KEY}")
    );

    let sns = drain(&env.moto, &env.queue).await;
    assert_eq!(sns.len(), 1, "{sns:?}");
    assert_names_all("SNS message", &sns[0]);
    let slack = posts(&env.slack);
    assert_eq!(slack.len(), 1);
    assert_names_all("Slack payload", &slack[0]);

    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-sns"), "delivered", "{receipt}");
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");
    assert_eq!(receipt["routed"], json!(["ops-slack", "ops-sns"]));
    assert!(receipt["claim"].is_null(), "claim released: {receipt}");
    assert!(
        !receipt["sinks"]["ops-sns"]["message_ids"][0]
            .as_str()
            .unwrap_or("")
            .is_empty(),
        "SNS message id recorded: {receipt}"
    );

    // The same event again (S3 delivers at least once), and the EventBridge shape of it.
    for (id, payload) in [
        ("req-2", s3_event(BUCKET, REPORT_KEY)),
        ("req-3", eventbridge_event(BUCKET, REPORT_KEY)),
    ] {
        let out = env
            .handler
            .handle(event(id, payload))
            .await
            .expect("duplicate succeeds");
        assert_eq!(out["reports"][0]["status"], "duplicate", "{out}");
    }
    assert!(drain(&env.moto, &env.queue).await.is_empty());
    assert_eq!(posts(&env.slack).len(), 1, "no second Slack post");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_slack_outage_sends_slack_only() {
    let env = setup("outage").await;
    slack_status(&env.slack, 500);
    let err = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect_err("a retryable failure fails the invocation");
    assert_eq!(err.error_type, "AuditRouter.RetryableDelivery");
    assert!(
        err.message.contains(&format!("s3://{BUCKET}/{REPORT_KEY}"))
            && err.message.contains("ops-slack")
            && !err.message.contains("sink ops-sns"),
        "{err}"
    );
    assert_eq!(drain(&env.moto, &env.queue).await.len(), 1, "SNS sent once");
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-sns"), "delivered");
    assert_eq!(state(&receipt, "ops-slack"), "failed");
    assert_eq!(receipt["sinks"]["ops-slack"]["retryable"], true);

    // Lambda retries (same request id for an async retry); Slack is back.
    slack_status(&env.slack, 200);
    let out = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect("the retry succeeds");
    assert_eq!(out["reports"][0]["already_delivered"], json!(["ops-sns"]));
    assert!(
        drain(&env.moto, &env.queue).await.is_empty(),
        "SNS not sent again"
    );
    let slack = posts(&env.slack);
    assert_eq!(slack.len(), 1, "Slack sent once after the outage");
    assert_names_all("Slack payload", &slack[0]);
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_claim_of_another_invocation_sends_nothing_and_fails() {
    let env = setup("busy").await;
    let store = ReceiptStore::from_uri(
        env.moto.s3_client().await,
        &format!("s3://{BUCKET}/{RECEIPTS_PREFIX}"),
        Duration::from_secs(300),
    )
    .expect("store");
    let report = audit_router::location::ReportLocation::S3 {
        bucket: BUCKET.into(),
        key: REPORT_KEY.into(),
    };
    let Claim::Acquired(_held) = store
        .claim(&report, None, "other-invocation")
        .await
        .expect("claim")
    else {
        panic!("the first claim must be acquired");
    };
    let err = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect_err("busy must fail so Lambda retries");
    assert_eq!(err.error_type, "AuditRouter.Busy");
    assert!(err.message.contains("other-invocation"), "{err}");
    assert!(drain(&env.moto, &env.queue).await.is_empty());
    assert!(posts(&env.slack).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_sink_failure_is_recorded_and_fails_the_invocation() {
    let env = setup("permanent").await;
    slack_status(&env.slack, 404);
    // The invocation fails, so the event reaches the on-failure queue (and its alarm) once Lambda's
    // retries run out: a sink that lacks the report must not go unnoticed (docs/reliability.md).
    let err = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect_err("a sink that failed for good fails the invocation");
    assert_eq!(err.error_type, "AuditRouter.PermanentDelivery", "{err}");
    assert!(
        err.message.contains("ops-slack")
            && err.message.contains("permanent")
            && err
                .message
                .contains(&format!("--receipts s3://{BUCKET}/{RECEIPTS_PREFIX}/")),
        "{err}"
    );
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-slack"), "failed");
    assert_eq!(receipt["sinks"]["ops-slack"]["retryable"], false);
    assert_eq!(state(&receipt, "ops-sns"), "delivered");
    assert_eq!(
        posts(&env.slack).len(),
        1,
        "no retry of a 404 within the invocation"
    );
    // Lambda's retry re-tries Slack only.
    let err = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect_err("still permanent");
    assert_eq!(err.error_type, "AuditRouter.PermanentDelivery");
    assert_eq!(posts(&env.slack).len(), 2);
    assert_eq!(drain(&env.moto, &env.queue).await.len(), 1, "SNS sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reports_and_events_fail_permanently_and_send_nothing() {
    let env = setup("bad").await;
    let key = "audit reports/RESOURCE_COMPLIANCE_REPORT_broken.json";
    env.moto
        .put_object(
            BUCKET,
            key,
            b"{\"reportItems\": [{\"accountId\": 12".to_vec(),
        )
        .await;
    let err = env
        .handler
        .handle(event("req-1", s3_event(BUCKET, key)))
        .await
        .expect_err("an unparsable report fails the invocation");
    assert_eq!(err.error_type, "AuditRouter.BadReport");
    assert!(
        err.message.contains(key) && err.message.contains("permanent"),
        "{err}"
    );
    // The claim was given back: no receipt is left claimed.
    let receipt = read_receipt(&env.moto, BUCKET, key).await;
    assert!(receipt["claim"].is_null(), "{receipt}");

    let missing = "audit reports/RESOURCE_COMPLIANCE_REPORT_gone.json";
    let err = env
        .handler
        .handle(event("req-2", s3_event(BUCKET, missing)))
        .await
        .expect_err("a missing report fails");
    assert!(err.message.contains("no such object"), "{err}");

    let err = env
        .handler
        .handle(event("req-3", json!({"Records": [{"s3": {"bucket": {}}}]})))
        .await
        .expect_err("a malformed event fails");
    assert_eq!(err.error_type, "AuditRouter.BadEvent");
    assert!(err.message.contains("Records[0].s3"), "{err}");

    // A receipt object reaching the function (trigger overlapping the receipts) is not routed.
    let out = env
        .handler
        .handle(event(
            "req-4",
            s3_event(BUCKET, &format!("{RECEIPTS_PREFIX}/{BUCKET}/x.json.json")),
        ))
        .await
        .expect("skipped");
    assert!(
        out["skipped"][0]
            .as_str()
            .unwrap_or("")
            .contains("delivery receipt")
    );
    assert!(drain(&env.moto, &env.queue).await.is_empty());
    assert!(posts(&env.slack).is_empty());
}

/// An invalid rules file fails the init with the lines `audit-router check` prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rules_fail_init_with_the_check_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "syntax.toml",
            "[sinks.a]\ntype = \"log\"\n\n[[rules]]\nname = \"r\"\nsinks = [\"nope\"]\n",
        ),
        (
            "sink.toml",
            "[sinks.s]\ntype = \"slack\"\nurl = \"ftp://example.invalid/x\"\n\n[[rules]]\nname = \"r\"\nsinks = [\"s\"]\n",
        ),
    ];
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    for (file, text) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).expect("write");
        let cfg = config(&[("AUDIT_ROUTER_RULES", path.to_str().expect("utf-8"))]).expect("config");
        let err = Handler::init(&cfg, aws.clone())
            .await
            .expect_err("invalid rules fail the init");
        assert!(matches!(err, InitError::Rules { .. }), "{err}");
        let check = std::process::Command::new(env!("CARGO_BIN_EXE_audit-router"))
            .args(["check", "--rules"])
            .arg(&path)
            .output()
            .expect("run check");
        assert!(!check.status.success());
        assert_eq!(
            err.to_string(),
            String::from_utf8_lossy(&check.stderr).trim_end(),
            "init and check must say the same"
        );
    }
}

#[test]
fn configuration_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_str().expect("utf-8");
    // Nothing set, no rules.toml in the task root: the bundled rules.
    let c = config(&[("LAMBDA_TASK_ROOT", root)]).expect("config");
    assert_eq!(c.rules, RulesSource::Bundled);
    assert!(c.receipts.is_none());
    assert_eq!(c.lease, Duration::from_secs(90));
    // A rules.toml next to bootstrap wins over the bundled one.
    std::fs::write(dir.path().join("rules.toml"), "").expect("write");
    let c = config(&[("LAMBDA_TASK_ROOT", root)]).expect("config");
    assert_eq!(c.rules, RulesSource::Path(dir.path().join("rules.toml")));
    // AUDIT_ROUTER_RULES wins over both.
    let c = config(&[
        ("LAMBDA_TASK_ROOT", root),
        (
            "AUDIT_ROUTER_RULES",
            "s3://cfg-bucket/audit router/rules.toml",
        ),
        ("AUDIT_ROUTER_RECEIPTS", "s3://b/p"),
        ("AUDIT_ROUTER_RECEIPT_LEASE_SECS", "120"),
        ("AUDIT_ROUTER_ENV", "staging"),
    ])
    .expect("config");
    assert_eq!(
        c.rules,
        RulesSource::S3 {
            bucket: "cfg-bucket".into(),
            key: "audit router/rules.toml".into()
        }
    );
    assert_eq!(c.lease, Duration::from_secs(120));
    assert_eq!(c.receipts.as_deref(), Some("s3://b/p"));
    assert_eq!(c.load.env_override.as_deref(), Some("staging"));
    // Bad values name the variable.
    for (var, value) in [
        ("AUDIT_ROUTER_RECEIPT_LEASE_SECS", "ninety"),
        ("AUDIT_ROUTER_RECEIPT_LEASE_SECS", "0"),
        ("AUDIT_ROUTER_RULES", "s3://bucket-only"),
        ("AUDIT_ROUTER_TODAY", "26/11/2026"),
        ("AUDIT_ROUTER_DEADLINE_MARGIN_MS", "-1"),
    ] {
        let err = config(&[(var, value)]).expect_err(var).to_string();
        assert!(err.contains(var), "{err}");
    }
}

/// Rules from S3 (`AUDIT_ROUTER_RULES=s3://…`) are read with the S3 client at init; a missing
/// object names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_from_s3() {
    let moto = Moto::start();
    moto.create_bucket("cfg").await;
    moto.put_object(
        "cfg",
        "audit router/rules.toml",
        "[sinks.audit]\ntype = \"log\"\n\n[[rules]]\nname = \"all\"\nsinks = [\"audit\"]\n",
    )
    .await;
    let cfg =
        config(&[("AUDIT_ROUTER_RULES", "s3://cfg/audit router/rules.toml")]).expect("config");
    let h = Handler::init(&cfg, moto.sdk_config().await)
        .await
        .expect("init from S3 rules");
    assert_eq!(h.rules_name, "s3://cfg/audit router/rules.toml");
    assert_eq!(h.engine.sinks.len(), 1);

    let cfg = config(&[("AUDIT_ROUTER_RULES", "s3://cfg/missing.toml")]).expect("config");
    let err = Handler::init(&cfg, moto.sdk_config().await)
        .await
        .expect_err("missing rules object")
        .to_string();
    assert!(
        err.contains("s3://cfg/missing.toml") && err.contains("no such object"),
        "{err}"
    );
}

#[test]
fn the_panic_hook_logs_the_message_as_one_json_line() {
    let line = panic_json("boom", Some("src/x.rs:1:2".into()));
    let v: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(v["level"], "ERROR");
    assert_eq!(v["message"], "panic: boom");

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    install_panic_hook(move |l| {
        if let Ok(mut v) = sink.lock() {
            v.push(l.to_owned());
        }
    });
    let code = 42;
    let _ = std::panic::catch_unwind(|| panic!("handler blew up with {code}"));
    let _ = std::panic::take_hook();
    let lines = seen.lock().expect("lock").clone();
    let hit = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "panic: handler blew up with 42")
        .unwrap_or_else(|| panic!("no JSON line for the panic: {lines:?}"));
    assert!(
        hit["location"]
            .as_str()
            .unwrap_or("")
            .contains("lambda_handler.rs"),
        "{hit}"
    );
}

#[test]
fn the_deadline_keeps_a_margin_and_survives_odd_runtimes() {
    let epoch_ms = |d: Duration| {
        (std::time::SystemTime::now() + d)
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as u64
    };
    let mut ctx = lambda_runtime::Context::default();
    assert!(
        deadline_of(&ctx, Duration::from_secs(2)).is_none(),
        "no deadline given"
    );
    let left = |ctx: &lambda_runtime::Context| {
        deadline_of(ctx, Duration::from_secs(2))
            .expect("a deadline")
            .saturating_duration_since(tokio::time::Instant::now())
    };
    // 60 s left: 2 s margin.
    ctx.deadline = epoch_ms(Duration::from_secs(60));
    let l = left(&ctx);
    assert!(
        l > Duration::from_secs(57) && l <= Duration::from_secs(58),
        "{l:?}"
    );
    // 3 s left (Lambda's default timeout): the margin shrinks to a quarter.
    ctx.deadline = epoch_ms(Duration::from_secs(3));
    let l = left(&ctx);
    assert!(
        l > Duration::from_millis(2000) && l <= Duration::from_millis(2250),
        "{l:?}"
    );
    // Past: no time left.
    ctx.deadline = epoch_ms(Duration::ZERO) - 5_000;
    assert_eq!(left(&ctx), Duration::ZERO);
    // cargo-lambda's emulator sends the timeout (600000) instead of an epoch time.
    ctx.deadline = 600_000;
    let l = left(&ctx);
    assert!(
        l > Duration::from_secs(595) && l <= Duration::from_secs(598),
        "{l:?}"
    );
}

/// An SQS event (an S3 notification buffered in a queue): the answer is a partial batch response
/// (as `aws_lambda_events`' `SqsBatchResponse` reads it) naming only the messages to deliver
/// again: an unreadable body and a report that cannot be read. A report two messages name is
/// sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_answers_which_messages_to_deliver_again() {
    use aws_lambda_events::event::sqs::SqsBatchResponse;
    let env = setup("sqs-batch").await;
    let template: Value =
        serde_json::from_slice(&common::fixture_bytes("events/sqs-s3.json")).unwrap();
    let record = |id: &str, body: String| {
        let mut r = template["Records"][0].clone();
        r["messageId"] = json!(id);
        r["body"] = json!(body);
        r
    };
    let good = s3_event(BUCKET, REPORT_KEY).to_string();
    let missing = s3_event(
        BUCKET,
        "audit reports/Backup/gone/RESOURCE_COMPLIANCE_REPORT.json",
    );
    let batch = json!({"Records": [
        record("m-good", good.clone()),
        record("m-missing", missing.to_string()),
        record("m-garbled", "{\"Records\": [".to_owned()),
        record("m-again", good),
    ]});
    let answer = |out: Value| -> Vec<String> {
        let response: SqsBatchResponse = serde_json::from_value(out.clone())
            .unwrap_or_else(|e| panic!("not a partial batch response: {e}: {out}"));
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    };
    let out = env
        .handler
        .handle(event("req-sqs-1", batch.clone()))
        .await
        .expect("an SQS batch is answered, not failed");
    assert_eq!(
        out.as_object().unwrap().len(),
        1,
        "only batchItemFailures: {out}"
    );
    assert_eq!(answer(out), ["m-garbled", "m-missing"]);
    let sns = drain(&env.moto, &env.queue).await;
    assert_eq!(
        sns.len(),
        1,
        "the report two messages name is sent once: {sns:?}"
    );
    assert_names_all("SNS message", &sns[0]);
    assert_eq!(posts(&env.slack).len(), 1);

    // SQS delivers the failed messages again (here: the whole batch): the delivered report is a
    // duplicate now, the others fail the same way.
    let out = env
        .handler
        .handle(event("req-sqs-2", batch))
        .await
        .expect("answered");
    assert_eq!(answer(out), ["m-garbled", "m-missing"]);
    assert!(
        drain(&env.moto, &env.queue).await.is_empty(),
        "nothing sent twice"
    );

    // Every message fine: an empty list, which SQS reads as the whole batch done.
    let out = env
        .handler
        .handle(event(
            "req-sqs-3",
            json!({"Records": [record("m-only", s3_event(BUCKET, REPORT_KEY).to_string())]}),
        ))
        .await
        .expect("answered");
    assert_eq!(out, json!({"batchItemFailures": []}));
}

/// A sink whose send panics (a bug in a plugin): the panic is that sink's failure, the other
/// sinks deliver, and the invocation answers an error naming it — the process lives on (panics
/// unwind; `src/lambda.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sink_fails_alone_and_the_invocation_answers() {
    use audit_router::sink_api::{
        BoxFuture, Digest, Limits, Payload, RenderContext, Sent, Sink, SinkError,
    };
    struct Panics(Limits);
    impl Sink for Panics {
        fn name(&self) -> &str {
            "ops-slack"
        }
        fn kind(&self) -> &'static str {
            "slack"
        }
        fn destination(&self) -> String {
            "a sink with a bug".into()
        }
        fn limits(&self) -> &Limits {
            &self.0
        }
        fn render(&self, _: &Digest, _: &RenderContext) -> Result<Vec<Payload>, SinkError> {
            Ok(vec![Payload::new(None, "x".into(), "text/plain")])
        }
        fn send<'a>(&'a self, _: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
            Box::pin(async { panic!("a bug in the sink") })
        }
    }
    let mut env = setup("panic").await;
    let slack = env
        .handler
        .engine
        .sinks
        .iter()
        .position(|s| s.name() == "ops-slack")
        .expect("ops-slack is declared");
    env.handler.engine.sinks[slack] = std::sync::Arc::new(Panics(Limits::default()));
    let err = env
        .handler
        .handle(event("req-panic", s3_event(BUCKET, REPORT_KEY)))
        .await
        .expect_err("the crashed sink fails the invocation");
    assert_eq!(err.error_type, "AuditRouter.PermanentDelivery", "{err}");
    assert!(
        err.message
            .contains("sink ops-slack failed: sink ops-slack crashed while delivering (a bug)"),
        "{err}"
    );
    // The other sink delivered, and the receipt says which did not.
    assert_eq!(drain(&env.moto, &env.queue).await.len(), 1);
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-sns"), "delivered");
    assert_eq!(state(&receipt, "ops-slack"), "failed");
    // The handler still answers the next invocation (a duplicate now for SNS, Slack retried).
    let again = env
        .handler
        .handle(event("req-panic-2", s3_event(BUCKET, REPORT_KEY)))
        .await;
    assert!(again.is_err(), "still failing for the crashed sink only");
    assert!(
        drain(&env.moto, &env.queue).await.is_empty(),
        "SNS not sent twice"
    );
}
