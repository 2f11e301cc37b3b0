//! The delivery stage with the SNS sink and the process's secret resolver, against a real
//! `moto_server` (a topic with an SQS subscription; each test reads the delivered message back
//! from the queue): a dry run shows exactly what `send` sends, `${ssm:…}`/`${secretsmanager:…}`
//! references resolve, AWS errors read as one line, a permanent error is not retried. The
//! plugin's own publishing tests are in `plugins/sink-sns/tests/`.

use audit_router::deliver::{DeliverOptions, DeliveryJob, Status, deliver, dry_run};
use audit_router::rules::SinkDecl;
use audit_router::secrets::SecretResolver;
use audit_router::sink_api::samples::sample_digest;
use audit_router::sink_api::{BuildContext, Payload, RenderContext, ReportTemplate, Sink};
use audit_router::sinks::registry;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::moto::{Moto, REGION};

fn build_ctx(sdk: &aws_config::SdkConfig) -> BuildContext {
    BuildContext {
        base_dir: std::env::temp_dir(),
        aws: Some(sdk.clone()),
        secrets: Arc::new(SecretResolver::with_env(Some(sdk.clone()), |_| None)),
    }
}

fn sns_sink(ctx: &BuildContext, settings: &str) -> Arc<dyn Sink> {
    registry()
        .build(
            &SinkDecl::new("ops-email", "sns", settings.parse().unwrap()),
            ctx,
        )
        .unwrap()
}

fn opts() -> DeliverOptions {
    DeliverOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(60)),
        render: RenderContext {
            now: "2026-11-26T08:00:00Z".parse().unwrap(),
            test: false,
        },
        ..DeliverOptions::default()
    }
}

fn attr<'a>(envelope: &'a Value, name: &str) -> (&'a str, &'a str) {
    let a = &envelope["MessageAttributes"][name];
    (
        a["Type"].as_str().unwrap_or("?"),
        a["Value"].as_str().unwrap_or("?"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_delivers_the_exact_payload_to_subscribers() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (topic, queue) = moto.topic_with_queue(&sdk, "audit").await;
    let ctx = build_ctx(&sdk);
    let sink = sns_sink(&ctx, &format!("topic_arn = \"{topic}\""));
    let digest = sample_digest(ReportTemplate::ResourceCompliance, "ops-email");

    // What dry-run shows ...
    let dry = dry_run(
        vec![DeliveryJob {
            sink: sink.clone(),
            digest: digest.clone(),
        }],
        &opts(),
    )
    .await;
    assert!(dry.all_delivered());
    assert!(
        moto.receive(&queue).await.is_empty(),
        "dry-run sends nothing"
    );

    // ... is exactly what send sends.
    let report = deliver(vec![DeliveryJob { sink, digest }], &opts()).await;
    let o = &report.outcomes[0];
    assert_eq!(o.status, Status::Delivered, "{o:?}");
    assert_eq!(o.messages, dry.outcomes[0].messages);
    assert_eq!(o.message_ids().len(), 1);
    assert_eq!(o.destination, topic);

    let got = moto.receive(&queue).await;
    assert_eq!(got.len(), 1);
    let env = &got[0];
    let sent: &Payload = &o.messages[0];
    assert_eq!(env["Message"].as_str().unwrap(), sent.body);
    assert_eq!(env["Subject"].as_str(), sent.subject.as_deref());
    assert_eq!(env["MessageId"].as_str(), Some(o.message_ids()[0]));
    assert!(
        sent.body
            .contains("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN")
    );
    assert!(sent.body.contains("AWS::DynamoDB::Table/orders"));
    assert_eq!(
        attr(env, "report"),
        ("String", "RESOURCE_COMPLIANCE_REPORT")
    );
    assert_eq!(attr(env, "environment"), ("String.Array", "[\"sample\"]"));
    assert_eq!(attr(env, "findings"), ("Number", "4"));
    assert_eq!(attr(env, "controls"), ("Number", "3"));
    assert!(env["MessageAttributes"].get("test").is_none());
}

/// An AWS error as a person reads it: one line, no `Debug` of the SDK's error or HTTP response.
fn assert_readable(error: &str) {
    for dump in [
        "ServiceError",
        "raw:",
        "Response {",
        "headers",
        "ConnectorError",
        "Os {",
    ] {
        assert!(!error.contains(dump), "{dump:?} in {error}");
    }
    assert!(!error.contains('\n') && error.len() < 400, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_errors_name_service_operation_code_and_message() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ctx = build_ctx(&sdk);
    let no_secret = sns_sink(&ctx, "topic_arn = \"${secretsmanager:audit/none#topic}\"");
    let no_topic = sns_sink(
        &ctx,
        "topic_arn = \"arn:aws:sns:us-east-1:123456789012:no-such-topic\"",
    );
    // Nobody listens on this port: the SDK's dispatch failure, with its cause chain.
    let closed = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{}", common::moto::free_port()))
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .load()
        .await;
    let unreachable = sns_sink(
        &build_ctx(&closed),
        "topic_arn = \"arn:aws:sns:us-east-1:123456789012:t\"",
    );
    let jobs = [no_secret, no_topic, unreachable]
        .into_iter()
        .map(|sink| DeliveryJob {
            sink,
            digest: sample_digest(ReportTemplate::BackupJob, "ops-email"),
        })
        .collect();
    let mut o = opts();
    o.retry.max_attempts = 1;
    let report = deliver(jobs, &o).await;
    let errors: Vec<&str> = report
        .outcomes
        .iter()
        .map(|o| match &o.status {
            Status::Failed { error, .. } => error.as_str(),
            s => panic!("expected a failure, got {s:?}"),
        })
        .collect();
    assert!(
        errors[0].contains("Secrets Manager GetSecretValue: ResourceNotFoundException"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("SNS Publish: NotFound"), "{}", errors[1]);
    assert!(
        errors[2].contains("SNS Publish: could not reach the service: ")
            || errors[2].contains("SNS Publish: timed out"),
        "{}",
        errors[2]
    );
    for e in errors {
        eprintln!("{e}");
        assert_readable(e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_arn_by_reference_from_ssm_and_secrets_manager() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (topic, queue) = moto.topic_with_queue(&sdk, "secret-topic").await;
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name("/audit/topic")
        .value(&topic)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("audit/sinks")
        .secret_string(json!({"topic": topic}).to_string())
        .send()
        .await
        .unwrap();
    let ctx = build_ctx(&sdk);
    let by_ssm = sns_sink(&ctx, "topic_arn = \"${ssm:/audit/topic}\"");
    let by_sm = sns_sink(&ctx, "topic_arn = \"${secretsmanager:audit/sinks#topic}\"");
    let missing = sns_sink(&ctx, "topic_arn = \"${ssm:/audit/nope}\"");
    // The reference, never the value, is what dry-run and logs show.
    assert_eq!(by_ssm.destination(), "${ssm:/audit/topic}");
    let jobs = [by_ssm, by_sm, missing]
        .into_iter()
        .map(|sink| DeliveryJob {
            sink,
            digest: sample_digest(ReportTemplate::BackupJob, "ops-email"),
        })
        .collect();
    let report = deliver(jobs, &opts()).await;
    assert_eq!(report.outcomes[0].status, Status::Delivered, "{report:?}");
    assert_eq!(report.outcomes[1].status, Status::Delivered, "{report:?}");
    match &report.outcomes[2].status {
        Status::Failed { error, retryable } => {
            assert!(error.contains("secret ${ssm:/audit/nope}"), "{error}");
            // Service, operation, code and message; never the SDK's Debug dump.
            assert!(
                error.contains("SSM GetParameter: ParameterNotFound"),
                "{error}"
            );
            assert_readable(error);
            assert!(!retryable);
        }
        s => panic!("expected a failure, got {s:?}"),
    }
    assert!(!report.all_delivered());
    let text = serde_json::to_string(&report).unwrap();
    assert!(
        !text.contains(&topic),
        "resolved secret leaked into the report"
    );
    assert_eq!(moto.receive(&queue).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topic_is_a_permanent_failure_and_test_messages_are_marked() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (topic, queue) = moto.topic_with_queue(&sdk, "real").await;
    let ctx = build_ctx(&sdk);
    let gone = sns_sink(
        &ctx,
        &format!("topic_arn = \"arn:aws:sns:{REGION}:123456789012:does-not-exist\""),
    );
    let real = sns_sink(&ctx, &format!("topic_arn = \"{topic}\""));
    let mut o = opts();
    o.render.test = true;
    let digest = audit_router::sinks::test_digest("ops-email");
    let report = deliver(
        vec![
            DeliveryJob {
                sink: gone,
                digest: digest.clone(),
            },
            DeliveryJob { sink: real, digest },
        ],
        &o,
    )
    .await;
    let bad = &report.outcomes[0];
    assert_eq!(bad.attempts, 1, "permanent errors are not retried");
    match &bad.status {
        Status::Failed { error, retryable } => {
            assert!(error.contains("NotFound"), "{error}");
            assert!(!retryable);
        }
        s => panic!("expected failure, got {s:?}"),
    }
    assert_eq!(report.outcomes[1].status, Status::Delivered);
    let got = moto.receive(&queue).await;
    assert_eq!(got.len(), 1);
    assert!(got[0]["Subject"].as_str().unwrap().starts_with("[TEST] "));
    assert!(
        got[0]["Message"]
            .as_str()
            .unwrap()
            .contains("*** TEST MESSAGE")
    );
    assert_eq!(attr(&got[0], "test"), ("String", "true"));
}
