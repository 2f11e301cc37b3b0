//! The SNS sink against a real `moto_server`: a topic with an SQS subscription; the message is
//! read back from the queue. SNS (and moto) enforce the 256 KB limit themselves.

use audit_router_sink_api::host::DigestBuilder;
use audit_router_sink_api::samples::sample_source;
use audit_router_sink_api::{
    BuildContext, Digest, Finding, Payload, ReportTemplate, Sink, StaticSecrets,
};
use audit_router_test_support::moto::{Moto, REGION};
use audit_router_test_support::sinks::{build, fixed_ctx};
use serde_json::Value;
use std::sync::Arc;

fn sns_sink(sdk: &aws_config::SdkConfig, settings: &str) -> Arc<dyn Sink> {
    let ctx = BuildContext {
        base_dir: std::env::temp_dir(),
        aws: Some(sdk.clone()),
        secrets: Arc::new(StaticSecrets::new()),
    };
    build(
        &audit_router_sink_sns::factory(),
        "ops-email",
        settings,
        &ctx,
    )
    .unwrap()
}

fn attr<'a>(envelope: &'a Value, name: &str) -> (&'a str, &'a str) {
    let a = &envelope["MessageAttributes"][name];
    (
        a["Type"].as_str().unwrap_or("?"),
        a["Value"].as_str().unwrap_or("?"),
    )
}

fn big_digest(n: usize) -> Digest {
    let mut b = DigestBuilder::new(
        "ops-email",
        ReportTemplate::ResourceCompliance,
        sample_source(ReportTemplate::ResourceCompliance),
        n,
    );
    for i in 0..n {
        let mut f = Finding::new(ReportTemplate::ResourceCompliance);
        f.framework = Some("prod-backup-policy".into());
        f.control = Some(format!("CONTROL_{}", i % 5));
        f.status = Some("NON_COMPLIANT".into());
        f.account = Some("111122223333".into());
        f.region = Some(REGION.into());
        f.environment = "prod".into();
        f.resource_type = Some("AWS::EC2::Instance".into());
        f.resource = Some(format!(
            "arn:aws:ec2:{REGION}:111122223333:instance/i-{i:017x}/{}",
            "n".repeat(60)
        ));
        b.push(&f, "r");
    }
    b.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_resources_arrive_within_256kb() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (topic, queue) = moto.topic_with_queue(&sdk, "big").await;
    let sink = sns_sink(&sdk, &format!("topic_arn = \"{topic}\""));

    // SNS (and moto) really reject an oversized message: the limit is not ours to invent.
    let mut huge = Payload::new(Some("too big".into()), "x".repeat(262_145), "text/plain");
    huge.attributes.clear();
    let e = sink.send(&huge).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("InvalidParameter"), "{e}");

    let payloads = sink.render(&big_digest(3000), &fixed_ctx()).unwrap();
    assert_eq!(payloads.len(), 1, "truncated into one message");
    sink.send(&payloads[0]).await.expect("SNS takes it");
    let got = moto.receive(&queue).await;
    assert_eq!(got.len(), 1);
    let body = got[0]["Message"].as_str().unwrap();
    assert!(
        body.len() <= 262_144 && body.len() > 200_000,
        "{}",
        body.len()
    );
    for c in 0..5 {
        assert!(body.contains(&format!("== CONTROL_{c} (NON_COMPLIANT)")));
    }
    let listed = body.matches("   - AWS::EC2::Instance").count();
    assert!(body.contains(&format!("{} of 3000 not listed here", 3000 - listed)));
    assert_eq!(attr(&got[0], "findings"), ("Number", "3000"));
}
