//! The state stage from the command line: `dry-run --previous` (local files, nothing kept),
//! `send --receipts` keeping the state as the function does, `dry-run --state` reading it and
//! never writing. Real `moto_server` (S3, SNS → SQS); the binary runs as a child process.

mod common;
#[path = "handler_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use common::moto::Moto;
use common::output_text;
use serde_json::{Value, json};
use support::*;

const BUCKET: &str = "reports";

/// Day `day`'s key of one report plan (November 2026).
fn key(day: u32) -> String {
    format!(
        "audit/Backup/111111111111/us-east-1/2026/11/{day:02}/daily/\
         RESOURCE_COMPLIANCE_REPORT_daily_2026-11-{:02}T00:00:00Z_2026-11-{day:02}T00:00:00Z.json",
        day - 1
    )
}

/// A resource compliance report: `bad` non-compliant, the rest of a, b, c compliant.
fn report(bad: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|r| {
            json!({
                "accountId": "111111111111", "region": "us-east-1", "frameworkName": "fw",
                "controlName": "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
                "resourceId": format!("AWS::EC2::Volume/vol-{r}"),
                "resourceType": "AWS::EC2::Volume",
                "resourceComplianceStatus": if bad.contains(r) { "NON_COMPLIANT" } else { "COMPLIANT" },
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "reportItems": items })).unwrap()
}

fn rules(dir: &Path, topic: &str) -> std::path::PathBuf {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        format!(
            r#"[sinks.ops]
type = "sns"
topic_arn = "{topic}"
notify = "changes"

[sinks.trail]
type = "log"

[[rules]]
name = "non-compliant"
sinks = ["ops", "trail"]
[rules.match]
status = "NON_COMPLIANT"
"#
        ),
    )
    .unwrap();
    path
}

fn run(moto: Option<&Moto>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    if let Some(m) = moto {
        m.configure(&mut cmd);
    }
    cmd.env_remove("AUDIT_ROUTER_RECEIPTS")
        .env_remove("AUDIT_ROUTER_STATE")
        .env("AUDIT_ROUTER_NOW", "2026-12-01T08:00:00Z")
        .args(args);
    cmd.output().expect("run audit-router")
}

#[test]
fn dry_run_previous_compares_two_local_reports() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), "arn:aws:sns:us-east-1:111111111111:t");
    let day1 = dir
        .path()
        .join("RESOURCE_COMPLIANCE_REPORT_p_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.json");
    let day2 = dir
        .path()
        .join("RESOURCE_COMPLIANCE_REPORT_p_2026-11-26T00:00:00Z_2026-11-27T00:00:00Z.json");
    std::fs::write(&day1, report(&["a", "b"])).unwrap();
    std::fs::write(&day2, report(&["b", "c"])).unwrap();
    let (r, d1, d2) = (
        rules.to_str().unwrap(),
        day1.to_str().unwrap(),
        day2.to_str().unwrap(),
    );

    let out = run(
        None,
        &[
            "dry-run",
            "--rules",
            r,
            "--format",
            "json",
            "--previous",
            d1,
            d2,
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops = common::delivery(&v, "ops").expect("ops delivery");
    assert_eq!(
        (
            ops["new"].as_u64(),
            ops["ongoing"].as_u64(),
            ops["resolved"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(ops["since"], "2026-11-26");
    let changes: Vec<(&str, &str)> = ops["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["resource"].as_str().unwrap(),
                f["change"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("AWS::EC2::Volume/vol-b", "ongoing"),
            ("AWS::EC2::Volume/vol-c", "new")
        ]
    );
    assert_eq!(
        ops["resolved_findings"][0]["resource"],
        "AWS::EC2::Volume/vol-a"
    );
    assert_eq!(ops["resolved_findings"][0]["days_open"], 1);
    assert!(ops.get("not_sent").is_none(), "{ops}");

    // Text: the comparison line, the marks, the resolved finding.
    let out = run(None, &["dry-run", "--rules", r, "--previous", d1, d2]);
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        t.contains("sink ops (sns): 2 findings — 1 new, 1 ongoing, 1 resolved since 2026-11-26"),
        "{t}"
    );
    assert!(
        t.contains("[new] 111111111111 us-east-1 AWS::EC2::Volume AWS::EC2::Volume/vol-c"),
        "{t}"
    );
    assert!(t.contains("resolved (1)"), "{t}");

    // The same report as its own previous: nothing new for the `changes` sink, which is not sent.
    let out = run(
        None,
        &[
            "dry-run",
            "--rules",
            r,
            "--format",
            "json",
            "--previous",
            d2,
            d2,
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops = common::delivery(&v, "ops").expect("ops delivery");
    assert!(
        ops["not_sent"]
            .as_str()
            .unwrap()
            .starts_with("nothing new since 2026-11-27"),
        "{ops}"
    );
    assert_eq!(ops["messages"], json!([]));

    // Without --previous the JSON is what it always was: no state keys.
    let out = run(None, &["dry-run", "--rules", r, "--format", "json", d2]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops = &v["deliveries"][0];
    assert!(
        ops.get("new").is_none() && ops["findings"][0].get("change").is_none(),
        "{ops}"
    );

    // One report is compared with one earlier report.
    let out = run(None, &["dry-run", "--rules", r, "--previous", d1, d1, d2]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("give exactly one SOURCE (2 given)"),
        "{}",
        output_text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_keeps_the_state_and_dry_run_state_reads_it_without_writing() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let (topic, queue) = topic_with_queue(&moto, "cli-state").await;
    let dir = tempfile::tempdir().unwrap();
    let rules = rules(dir.path(), &topic);
    moto.put_object(BUCKET, &key(26), report(&["a", "b"])).await;
    moto.put_object(BUCKET, &key(27), report(&["a", "b"])).await;
    let receipts = format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/");
    let r = rules.to_str().unwrap().to_owned();
    let m = &moto;
    let send = |day: u32| {
        let (r, receipts, uri) = (
            r.clone(),
            receipts.clone(),
            format!("s3://{BUCKET}/{}", key(day)),
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
        m.configure(&mut cmd);
        cmd.env_remove("AUDIT_ROUTER_RECEIPTS").args([
            "send",
            "--timeout",
            "5",
            "--rules",
            &r,
            "--receipts",
            &receipts,
            &uri,
        ]);
        cmd
    };
    let out = tokio::task::spawn_blocking({
        let mut c = send(26);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(drain(&moto, &queue).await.len(), 1);
    let s3 = moto.s3_client().await;
    let count = || async {
        s3.list_objects_v2()
            .bucket(BUCKET)
            .prefix(format!("{RECEIPTS_PREFIX}/state/"))
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    };
    assert_eq!(
        count().await,
        1,
        "send --receipts keeps the state beside the receipts"
    );

    // A dry run of day 2 against the state: nothing new for `ops`; nothing written.
    let state = format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/state/");
    let day2 = format!("s3://{BUCKET}/{}", key(27));
    let out = tokio::task::spawn_blocking({
        let (r, state, day2) = (r.clone(), state.clone(), day2.clone());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
        moto.configure(&mut cmd);
        cmd.env_remove("AUDIT_ROUTER_RECEIPTS")
            .args(["dry-run", "--rules", &r, "--state", &state, &day2]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("not sent: nothing new since 2026-11-26: 2 still open, none resolved"),
        "{t}"
    );
    assert!(
        t.contains("compared with s3://reports/audit-router-receipts/state/"),
        "{t}"
    );
    assert_eq!(count().await, 1, "a dry run never writes the state");

    // send of day 2: the `changes` sink is skipped (and says why), the log sink gets its digest.
    let out = tokio::task::spawn_blocking({
        let mut c = send(27);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("skipped: sink ops: nothing new since 2026-11-26"),
        "{t}"
    );
    assert!(drain(&moto, &queue).await.is_empty());
    assert_eq!(count().await, 2);
}
