//! Delivery receipts against a real S3 API (`moto_server`): conditional writes decide who sends.

use std::sync::Arc;
use std::time::Duration;

use audit_router::receipt::{Claim, HeldClaim, ReceiptError, ReceiptStore, SinkOutcome, SinkState};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

mod common;

use common::moto::Moto;

const REPORT: &str = "s3://reports-bucket/audit/Backup/111122223333/eu-west-1/2026/11/27/plan/BACKUP_JOB_REPORT_plan_2026-11-26T00:00:00Z.csv";

async fn setup(lease: Duration) -> Option<(Moto, Client, ReceiptStore)> {
    let moto = Moto::start();
    moto.create_bucket("receipts-bucket").await;
    let client = moto.s3_client().await;
    let store = ReceiptStore::from_uri(
        client.clone(),
        "s3://receipts-bucket/audit-router-receipts/",
        lease,
    )
    .unwrap();
    Some((moto, client, store))
}

fn acquired(claim: Claim) -> HeldClaim {
    match claim {
        Claim::Acquired(held) => held,
        other => panic!("expected Acquired, got {other:?}"),
    }
}

fn delivered(id: &str) -> SinkOutcome {
    SinkOutcome::Delivered {
        message_ids: vec![id.to_owned()],
        fallbacks: vec![],
    }
}

fn report() -> audit_router::location::ReportLocation {
    audit_router::location::ReportLocation::parse(REPORT).unwrap()
}

/// The receipt of [`REPORT`] as stored, and its ETag (read with the S3 client, not the store).
async fn load(client: &Client, store: &ReceiptStore) -> (audit_router::receipt::Receipt, String) {
    let key = store.key_for(&report()).unwrap();
    let out = client
        .get_object()
        .bucket(store.bucket())
        .key(&key)
        .send()
        .await
        .unwrap();
    let etag = out.e_tag().unwrap().to_owned();
    let body = out.body.collect().await.unwrap().into_bytes();
    (serde_json::from_slice(&body).unwrap(), etag)
}

async fn stored_json(client: &Client, key: &str) -> serde_json::Value {
    let out = client
        .get_object()
        .bucket("receipts-bucket")
        .key(key)
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap()
}

#[tokio::test]
async fn first_claim_acquires_and_writes_the_documented_json() {
    let Some((_moto, client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let mut held = acquired(store.claim(&report(), None, "req-1").await.unwrap());
    assert_eq!(held.taken_over_from(), None);
    assert_eq!(
        held.key(),
        "audit-router-receipts/reports-bucket/audit/Backup/111122223333/eu-west-1/2026/11/27/plan/BACKUP_JOB_REPORT_plan_2026-11-26T00:00:00Z.csv.json"
    );
    let json = stored_json(&client, held.key()).await;
    assert_eq!(json["version"], 1);
    assert_eq!(json["report"], REPORT);
    assert_eq!(json["claim"]["owner"], "req-1");
    assert_eq!(json["sinks"], serde_json::json!({}));

    held.set_routed(&["slack", "sns"]);
    store
        .record(&mut held, "slack", delivered("ts-1"))
        .await
        .unwrap();
    let json = stored_json(&client, held.key()).await;
    assert_eq!(json["sinks"]["slack"]["state"], "delivered");
    assert_eq!(json["sinks"]["slack"]["message_ids"][0], "ts-1");
    assert_eq!(json["routed"], serde_json::json!(["slack", "sns"]));
}

#[tokio::test]
async fn concurrent_duplicates_exactly_one_wins() {
    let Some((_moto, client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim(&report(), None, &format!("req-{i}"))
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    let mut busy = 0;
    for t in tasks {
        match t.await.unwrap() {
            Claim::Acquired(held) => winners.push(held),
            Claim::Busy { owner, until } => {
                assert!(until > chrono::Utc::now());
                assert!(owner.starts_with("req-"));
                busy += 1;
            }
            Claim::AlreadyDone { .. } => panic!("nothing was delivered yet"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one duplicate may send");
    assert_eq!(busy, 5);
    // The losers saw the winner's claim.
    let (receipt, _) = load(&client, &store).await;
    assert_eq!(
        receipt.claim.unwrap().owner,
        winners[0].receipt().claim.as_ref().unwrap().owner
    );
}

#[tokio::test]
async fn after_release_with_all_delivered_a_duplicate_is_already_done() {
    let Some((_moto, _client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let mut held = acquired(store.claim(&report(), None, "req-1").await.unwrap());
    held.set_routed(&["slack", "sns"]);
    for sink in held.receipt().pending(&["slack", "sns"]) {
        store
            .record(&mut held, &sink, delivered(&format!("{sink}-id")))
            .await
            .unwrap();
    }
    let receipt = store.release(held).await.unwrap();
    assert!(receipt.claim.is_none());
    assert!(receipt.is_complete());
    assert!(!receipt.retry_can_help());

    match store.claim(&report(), None, "req-2").await.unwrap() {
        Claim::AlreadyDone { receipt } => {
            assert!(matches!(
                &receipt.sinks["sns"],
                SinkState::Delivered { message_ids, .. } if message_ids == &["sns-id"]
            ));
        }
        other => panic!("expected AlreadyDone, got {other:?}"),
    }
}

#[tokio::test]
async fn a_retry_after_partial_failure_sends_only_to_failed_sinks() {
    let Some((_moto, _client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let routed = ["log", "slack", "sns"];
    let mut held = acquired(store.claim(&report(), None, "req-1").await.unwrap());
    held.set_routed(&routed);
    store
        .record(&mut held, "log", delivered("l"))
        .await
        .unwrap();
    store
        .record(
            &mut held,
            "slack",
            SinkOutcome::Failed {
                error: "HTTP 503 from Slack".into(),
                retryable: true,
            },
        )
        .await
        .unwrap();
    store
        .record(&mut held, "sns", delivered("s"))
        .await
        .unwrap();
    let receipt = store.release(held).await.unwrap();
    assert!(!receipt.is_complete());
    assert!(
        receipt.retry_can_help(),
        "the invocation must fail so Lambda retries"
    );

    // Lambda's retry: a new invocation id, released claim → acquired, only slack pending.
    let mut held = acquired(store.claim(&report(), None, "req-1-retry").await.unwrap());
    assert_eq!(held.receipt().pending(&routed), vec!["slack"]);
    // It fails again: attempts count up across invocations.
    store
        .record(
            &mut held,
            "slack",
            SinkOutcome::Failed {
                error: "HTTP 503 from Slack".into(),
                retryable: true,
            },
        )
        .await
        .unwrap();
    let receipt = store.release(held).await.unwrap();
    assert!(matches!(
        receipt.sinks["slack"],
        SinkState::Failed { attempts: 2, .. }
    ));

    // A permanent failure stops the retrying but keeps the sink pending for a manual replay.
    let mut held = acquired(store.claim(&report(), None, "req-1-retry-2").await.unwrap());
    store
        .record(
            &mut held,
            "slack",
            SinkOutcome::Failed {
                error: "HTTP 404 from Slack (webhook removed)".into(),
                retryable: false,
            },
        )
        .await
        .unwrap();
    let receipt = store.release(held).await.unwrap();
    assert!(!receipt.retry_can_help());
    assert_eq!(receipt.pending(&routed), vec!["slack"]);
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_owner_loses() {
    // 2 s: long enough that a loaded machine still sees the lease live for the Busy check.
    let Some((_moto, _client, store)) = setup(Duration::from_secs(2)).await else {
        return;
    };
    // req-1 claims, delivers one sink, then "crashes" (never releases).
    let mut crashed = acquired(store.claim(&report(), None, "req-1").await.unwrap());
    crashed.set_routed(&["slack", "sns"]);
    store
        .record(&mut crashed, "slack", delivered("ts"))
        .await
        .unwrap();
    // While the lease runs, a duplicate is Busy until the lease's end.
    match store.claim(&report(), None, "req-2").await.unwrap() {
        Claim::Busy { owner, .. } => assert_eq!(owner, "req-1"),
        other => panic!("expected Busy, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;

    let mut retry = acquired(store.claim(&report(), None, "req-3").await.unwrap());
    assert_eq!(retry.taken_over_from(), Some("req-1"));
    assert_eq!(retry.receipt().pending(&["slack", "sns"]), vec!["sns"]);
    store
        .record(&mut retry, "sns", delivered("m"))
        .await
        .unwrap();

    // The crashed run wakes up: its next write must fail, so it does not keep sending.
    let err = store
        .record(&mut crashed, "sns", delivered("dup"))
        .await
        .unwrap_err();
    assert!(matches!(err, ReceiptError::ClaimLost { .. }), "{err}");
    assert!(err.is_transient());
    assert!(
        err.to_string()
            .contains("audit-router-receipts/reports-bucket/"),
        "{err}"
    );

    let receipt = store.release(retry).await.unwrap();
    assert!(receipt.is_complete());
    assert!(matches!(
        &receipt.sinks["sns"],
        SinkState::Delivered { message_ids, .. } if message_ids == &["m"]
    ));
}

#[tokio::test]
async fn an_etag_race_on_update_is_detected() {
    let Some((_moto, client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let mut held = acquired(store.claim(&report(), None, "req-1").await.unwrap());
    // Someone else rewrites the receipt behind our back (unconditionally).
    let (mut receipt, _) = load(&client, &store).await;
    receipt.claim.as_mut().unwrap().owner = "intruder".into();
    client
        .put_object()
        .bucket("receipts-bucket")
        .key(held.key())
        .body(ByteStream::from(serde_json::to_vec(&receipt).unwrap()))
        .send()
        .await
        .unwrap();
    let before = held.etag().to_owned();
    let err = store
        .record(&mut held, "slack", delivered("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReceiptError::ClaimLost { ref etag, .. } if *etag == before),
        "{err}"
    );
    // Nothing of ours was written over theirs.
    let (now, _) = load(&client, &store).await;
    assert_eq!(now.claim.unwrap().owner, "intruder");
    assert!(now.sinks.is_empty());
    // Release fails the same way.
    assert!(matches!(
        store.release(held).await.unwrap_err(),
        ReceiptError::ClaimLost { .. }
    ));
}

#[tokio::test]
async fn a_rewritten_report_starts_a_fresh_receipt() {
    let Some((_moto, _client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let mut held = acquired(
        store
            .claim(&report(), Some("\"etag-v1\""), "req-1")
            .await
            .unwrap(),
    );
    held.set_routed(&["slack"]);
    store
        .record(&mut held, "slack", delivered("a"))
        .await
        .unwrap();
    store.release(held).await.unwrap();

    // Same content: a duplicate.
    assert!(matches!(
        store
            .claim(&report(), Some("\"etag-v1\""), "req-2")
            .await
            .unwrap(),
        Claim::AlreadyDone { .. }
    ));
    // New content under the same key: everything is pending again.
    let held = acquired(
        store
            .claim(&report(), Some("\"etag-v2\""), "req-3")
            .await
            .unwrap(),
    );
    assert_eq!(held.receipt().report_etag.as_deref(), Some("\"etag-v2\""));
    assert_eq!(held.receipt().pending(&["slack"]), vec!["slack"]);
}

#[tokio::test]
async fn a_corrupt_receipt_is_an_error_naming_its_key() {
    let Some((_moto, client, store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let key = store.key_for(&report()).unwrap();
    client
        .put_object()
        .bucket("receipts-bucket")
        .key(&key)
        .body(ByteStream::from_static(b"{\"version\":1,\"report\":"))
        .send()
        .await
        .unwrap();
    let err = store.claim(&report(), None, "req-1").await.unwrap_err();
    assert!(matches!(err, ReceiptError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("s3://receipts-bucket/{key}")),
        "{msg}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_missing_receipts_bucket_is_a_read_error_naming_it() {
    let Some((moto, _client, _store)) = setup(Duration::from_secs(90)).await else {
        return;
    };
    let client = moto.s3_client().await;
    let store = ReceiptStore::new(client, "no-such-bucket", "r", Duration::from_secs(9));
    let err = store.claim(&report(), None, "req-1").await.unwrap_err();
    assert!(matches!(err, ReceiptError::Read { .. }), "{err}");
    // A setup error: permanent, so a retry is not expected to help.
    assert!(!err.is_transient(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("s3://no-such-bucket/r/"), "{msg}");
    assert!(
        msg.ends_with(
            ": NoSuchBucket (HTTP 404): The specified bucket does not exist (no bucket \
             \"no-such-bucket\", or it is in another account or region)"
        ),
        "{msg}"
    );
}
