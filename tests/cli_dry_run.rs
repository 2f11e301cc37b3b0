//! The `audit-router` binary end to end on local reports: `check` and `dry-run` (text and JSON).
//! Expected counts were computed from the fixture reports independently (Python's json/csv).

mod common;

use common::delivery;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn audit_router(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(args)
        .current_dir(root())
        .env_remove("AUDIT_ROUTER_RULES")
        .env_remove("AUDIT_ROUTER_ENV")
        .env("AUDIT_ROUTER_TODAY", "2026-11-27")
        .output()
        .expect("run audit-router")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dry_run_json(extra: &[&str]) -> Value {
    let rules = fixture("cli/rules.toml");
    let mut args = vec!["dry-run", "--rules", &rules, "--format", "json"];
    args.extend_from_slice(extra);
    let out = audit_router(&args);
    assert!(
        out.status.success(),
        "dry-run failed: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    serde_json::from_slice(&out.stdout).expect("dry-run --format json prints JSON")
}

#[test]
fn dry_run_json_routes_resource_compliance_findings() {
    let report = fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let doc = dry_run_json(&[&report]);

    let sources = doc["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["report"], "RESOURCE_COMPLIANCE_REPORT");
    assert_eq!(sources[0]["format"], "json");
    assert_eq!(sources[0]["items"], 12);
    // 3 NON_COMPLIANT, one of them silenced (live silence), the other 9 are COMPLIANT.
    assert_eq!(doc["silenced"], 1);
    assert_eq!(doc["unmatched"], 9);

    let email = delivery(&doc, "email").expect("email delivery");
    assert_eq!(email["type"], "sns");
    let findings = email["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    let mut resources: Vec<&str> = findings
        .iter()
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        [
            "AWS::DynamoDB::Table/auth-15-table",
            "AWS::EFS::FileSystem/fs-8cdb305f"
        ]
    );
    for f in findings {
        assert_eq!(f["rule"], "prod non-compliance");
        assert_eq!(f["environment"], "prod");
        assert_eq!(f["account"], "444444444444");
        assert_eq!(f["framework"], "AWS_Backup_Framework");
        assert_eq!(f["status"], "NON_COMPLIANT");
        assert_eq!(f["report"], "RESOURCE_COMPLIANCE_REPORT");
        assert!(f["job_id"].is_null(), "resource report has no job id: {f}");
    }
    let audit = delivery(&doc, "audit").expect("audit delivery");
    assert_eq!(audit["type"], "log");
    let audit_findings = audit["findings"].as_array().unwrap();
    assert_eq!(audit_findings.len(), 2);
    assert!(
        audit_findings
            .iter()
            .all(|f| f["rule"] == "problems to audit")
    );
}

#[test]
fn dry_run_json_routes_failed_backup_jobs_from_csv() {
    let report = fixture("reports/aws/BACKUP_JOB_REPORT.csv");
    let doc = dry_run_json(&[&report]);
    assert_eq!(doc["sources"][0]["report"], "BACKUP_JOB_REPORT");
    assert_eq!(doc["sources"][0]["format"], "csv");
    assert_eq!(doc["sources"][0]["items"], 12);
    assert_eq!(doc["silenced"], 0);
    // FAILED 1 + ABORTED 1 + EXPIRED 2 go to audit; email skips account 222222222222.
    assert_eq!(doc["unmatched"], 8);
    let audit = delivery(&doc, "audit").unwrap()["findings"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(audit, 4);
    let email = delivery(&doc, "email").unwrap()["findings"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(email.len(), 3);
    let mut jobs: Vec<&str> = email
        .iter()
        .map(|f| f["job_id"].as_str().unwrap())
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        [
            "2BB38014-A799-DEA1-158F-B20463501249",
            "94AB2589-1BC4-078E-1F3C-D5CC618EF7C4",
            "95CB4238-9ADD-28AA-AD0F-8FDDD227F468"
        ]
    );
    assert!(email.iter().all(|f| f["rule"] == "failed jobs"));
    assert!(email.iter().all(|f| f["framework"].is_null()));
}

#[test]
fn dry_run_reads_several_sources_and_env_override() {
    let a = fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.csv");
    let b = fixture("reports/aws/CONTROL_COMPLIANCE_REPORT.json");
    // Every account outside [environments.prod] becomes "staging" with --env.
    let doc = dry_run_json(&["--env", "staging", &a, &b]);
    assert_eq!(doc["sources"].as_array().unwrap().len(), 2);
    let envs: Vec<&str> = doc["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["findings"].as_array().unwrap())
        .map(|f| f["environment"].as_str().unwrap())
        .collect();
    assert!(!envs.is_empty());
    assert!(
        envs.iter().all(|e| *e == "prod" || *e == "staging"),
        "{envs:?}"
    );
    assert!(envs.contains(&"staging"), "{envs:?}");
}

#[test]
fn dry_run_text_groups_by_sink_framework_and_control() {
    let rules = fixture("cli/rules.toml");
    let report = fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let out = audit_router(&["dry-run", "--rules", &rules, &report]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("sink email (sns): 2 findings"), "{text}");
    assert!(text.contains("framework AWS_Backup_Framework"), "{text}");
    assert!(
        text.contains("control BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN — NON_COMPLIANT (1)"),
        "{text}"
    );
    assert!(
        text.contains("AWS::DynamoDB::Table/auth-15-table  [rule: prod non-compliance]"),
        "{text}"
    );
    assert!(text.contains("silenced: 1, unmatched: 9"), "{text}");
}

#[test]
fn dry_run_explain_shows_every_rule_tried() {
    let report = fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let doc = dry_run_json(&["--explain", &report]);
    let explain = doc["explain"].as_array().expect("explain array");
    assert_eq!(explain.len(), 12);
    let dynamo = explain
        .iter()
        .find(|e| e["resource"] == "AWS::DynamoDB::Table/auth-15-table")
        .unwrap();
    let rules = dynamo["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0]["rule"], "problems to audit");
    assert_eq!(rules[0]["matched"], true);
    assert_eq!(rules[1]["matched"], true);
    let silenced = explain
        .iter()
        .find(|e| e["resource"] == "AWS::EC2::Volume/vol-9d4c28c2e7c26847f")
        .unwrap();
    assert_eq!(silenced["silenced"], true);

    let rules_path = fixture("cli/rules.toml");
    let out = audit_router(&["dry-run", "--rules", &rules_path, "--explain", &report]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("rule \"prod non-compliance\": matched"),
        "{text}"
    );
    assert!(text.contains("no match"), "{text}");
}

#[test]
fn dry_run_bad_report_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, br#"{"reportItems": [{"accountId": "1""#).unwrap();
    let rules = fixture("cli/rules.toml");
    let good = fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let out = audit_router(&[
        "dry-run",
        "--rules",
        &rules,
        "--format",
        "json",
        bad.to_str().unwrap(),
        &good,
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("broken.json"), "{}", stderr(&out));
    // The good source is still processed and reported.
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sources"].as_array().unwrap().len(), 1);
    assert_eq!(doc["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn dry_run_missing_file_and_no_sources_are_errors() {
    let rules = fixture("cli/rules.toml");
    let out = audit_router(&["dry-run", "--rules", &rules, "/nonexistent/report.json"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/report.json"),
        "{}",
        stderr(&out)
    );
    let out = audit_router(&["dry-run", "--rules", &rules]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nothing to read"), "{}", stderr(&out));
}

#[test]
fn check_accepts_the_test_rules_and_warns_on_expired_silence() {
    let rules = fixture("cli/rules.toml");
    let out = audit_router(&["check", "--rules", &rules]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok (3 rules, 2 sinks"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("warning"), "{err}");
    assert!(err.contains("rules.toml:"), "{err}");
}

#[test]
fn check_rejects_an_invalid_file_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        "[[rules]]\nname = \"a\"\nsinks = [\"nowhere\"]\n[rules.match]\nstatus = \"re:(\"\n",
    )
    .unwrap();
    let out = audit_router(&["check", "--rules", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("nowhere"), "{err}");
    assert!(
        err.contains(&format!("{}:3:", path.display())),
        "unknown sink located on line 3: {err}"
    );
    assert!(
        err.contains(&format!("{}:5:", path.display())),
        "bad regex located on line 5: {err}"
    );
}

#[test]
fn check_uses_audit_router_rules_and_no_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.toml");
    std::fs::write(
        &path,
        "[sinks.x]\ntype = \"sns\"\ntopic_arn = \"${env:AUDIT_ROUTER_TEST_UNSET_VARIABLE}\"\n\
         [[rules]]\nname = \"a\"\nsinks = [\"x\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .arg("check")
        .env("AUDIT_ROUTER_RULES", &path)
        .env_remove("AUDIT_ROUTER_TEST_UNSET_VARIABLE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("AUDIT_ROUTER_TEST_UNSET_VARIABLE"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(["check", "--no-env"])
        .env("AUDIT_ROUTER_RULES", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn dry_run_reads_gzip_whatever_the_name() {
    let dir = tempfile::tempdir().unwrap();
    // Named .csv but gzip-compressed: the reader sniffs the bytes.
    let gz = dir.path().join("report.csv");
    let raw = std::fs::read(fixture("reports/aws/BACKUP_JOB_REPORT.csv")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let doc = dry_run_json(&[gz.to_str().unwrap()]);
    assert_eq!(doc["sources"][0]["report"], "BACKUP_JOB_REPORT");
    assert_eq!(doc["sources"][0]["gzip"], true);
    assert_eq!(doc["sources"][0]["items"], 12);
    assert_eq!(doc["unmatched"], 8);
}
