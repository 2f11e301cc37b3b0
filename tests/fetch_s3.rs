//! `fetch::open` against a real moto_server.

mod common;

use std::io::Read;

use audit_router::fetch::{self, FetchError, Opened};
use audit_router::location::ReportLocation;
use common::moto::Moto;

const BUCKET: &str = "audit-reports";

fn s3(bucket: &str, key: &str) -> ReportLocation {
    ReportLocation::S3 {
        bucket: bucket.into(),
        key: key.into(),
    }
}

/// Reads the stream on a blocking thread, as the documented contract requires.
async fn read_all(opened: Opened) -> Vec<u8> {
    let mut reader = opened.reader;
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).map(|_| buf)
    })
    .await
    .expect("reader thread")
    .expect("reading the object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_stream_back_byte_for_byte() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let client = moto.s3_client().await;

    // A key with spaces, ':' and '+', given literally, as a ReportLocation parsed from a URI.
    let key = "reports/Backup/111111111111/us-east-1/2026/11/26/daily plan/\
               CONTROL_COMPLIANCE_REPORT_daily plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z+1.csv";
    let body: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("\"row {i}\",\"a:b\"\n").into_bytes())
        .collect();
    moto.put_object(BUCKET, key, body.clone()).await;
    let loc = ReportLocation::parse(&format!("s3://{BUCKET}/{key}")).unwrap();
    let opened = fetch::open(&loc, Some(&client)).await.unwrap();
    assert_eq!(opened.size, Some(body.len() as u64));
    let etag = opened.etag.clone().expect("S3 returns an ETag");
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    let got = read_all(opened).await;
    assert_eq!(got.len(), body.len());
    assert!(got == body, "bytes differ");

    // A gzip object comes back still compressed, even with Content-Encoding: gzip: the report
    // reader decides about decompression, not the transport.
    let gz_key = "reports/x/BACKUP_JOB_REPORT_p_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.json.gz";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, br#"{"reportItems": []}"#).unwrap();
    let gz = gz.finish().unwrap();
    client
        .put_object()
        .bucket(BUCKET)
        .key(gz_key)
        .content_encoding("gzip")
        .content_type("application/json")
        .body(gz.clone().into())
        .send()
        .await
        .unwrap();
    let opened = fetch::open(&s3(BUCKET, gz_key), Some(&client))
        .await
        .unwrap();
    assert_eq!(opened.size, Some(gz.len() as u64));
    assert_eq!(read_all(opened).await, gz);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_key_and_bucket_are_named() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let client = moto.s3_client().await;

    let loc = s3(BUCKET, "no/such key:here.csv");
    let err = fetch::open(&loc, Some(&client)).await.unwrap_err();
    assert!(matches!(err, FetchError::NoSuchKey { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "s3://audit-reports/no/such key:here.csv: no such object"
    );

    let loc = s3("no-such-bucket", "k.csv");
    let err = fetch::open(&loc, Some(&client)).await.unwrap_err();
    assert!(matches!(err, FetchError::NoSuchBucket { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "s3://no-such-bucket/k.csv: no such bucket \"no-such-bucket\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_a_transport_error() {
    // Nothing listens on a just-freed port: connection refused.
    let port = common::moto::free_port();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let client = fetch::s3_client_from_config(&config);
    let loc = s3("b", "k.csv");
    let err = fetch::open(&loc, Some(&client)).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        matches!(&err, FetchError::S3 { error, .. } if error.kind == audit_router::s3_error::S3ErrorKind::Transport),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("s3://b/k.csv: cannot get the object from S3: could not reach the service"),
        "{msg}"
    );
    assert!(!msg.contains("ConnectorError"), "no Debug dump: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_uses_path_style_with_an_endpoint() {
    // The application's client builder must use path-style addressing with an endpoint:
    // virtual-host style would address "dotted.bucket-name.127.0.0.1" and fail.
    let moto = Moto::start();
    moto.create_bucket("dotted.bucket-name").await;
    moto.put_object("dotted.bucket-name", "a b:c.json", b"{}".to_vec())
        .await;
    let client = fetch::s3_client_from_config(&moto.sdk_config().await);
    let opened = fetch::open(&s3("dotted.bucket-name", "a b:c.json"), Some(&client))
        .await
        .unwrap();
    assert_eq!(read_all(opened).await, b"{}");
}
