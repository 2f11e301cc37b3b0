//! The binary's command line: options reach the library, bad options fail before any file is
//! written, with a message naming the option.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_audit-router-gen"))
}

/// A fresh directory per test, removed by the test when it passes.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ar-gen-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn writes_the_same_bytes_as_the_library() {
    let dir = temp_dir("same-bytes");
    let path = dir.join("r.csv");
    let out = bin()
        .args([
            "--template",
            "BACKUP_JOB_REPORT",
            "--format",
            "csv",
            "--gzip",
        ])
        .args([
            "--items",
            "50",
            "--seed",
            "9",
            "--failed",
            "0.5",
            "--accounts",
            "3",
        ])
        .args(["--regions", "eu-west-1,us-east-1", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("50 items"), "{stderr}");

    let mut opts = audit_router_gen::GenOptions::new(
        audit_router_gen::ReportTemplate::BackupJob,
        audit_router_gen::Format::Csv,
        audit_router_gen::Amount::Items(50),
    );
    opts.gzip = true;
    opts.seed = 9;
    opts.failed = 0.5;
    opts.accounts = audit_router_gen::account_ids(3);
    opts.regions = vec!["eu-west-1".into(), "us-east-1".into()];
    let mut want = Vec::new();
    audit_router_gen::generate(&opts, &mut want).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_fail_without_creating_the_output() {
    let cases: [(&[&str], &str); 4] = [
        (&["--regions", "eu-west-1,EU West"], "--regions: item 1"),
        (&["--non-compliant", "2"], "--non-compliant"),
        (&["--size", "12XB"], "unknown unit"),
        (&["--accounts", "0"], "--accounts"),
    ];
    let dir = temp_dir("bad-options");
    for (i, (args, want)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.json"));
        let mut cmd = bin();
        cmd.args([
            "--template",
            "RESOURCE_COMPLIANCE_REPORT",
            "--format",
            "json",
        ]);
        if !args.contains(&"--size") {
            cmd.args(["--items", "5"]);
        }
        let out = cmd.args(*args).arg("-o").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} succeeded");
        assert!(stderr.contains(want), "case {i}: {stderr}");
        assert!(!path.exists(), "case {i}: output created");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rules_mode_writes_toml_and_rejects_report_options() {
    let dir = temp_dir("rules");
    let path = dir.join("rules.toml");
    let out = bin()
        .args(["--rules", "25", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    assert_eq!(doc["rules"].as_array().unwrap().len(), 25);
    std::fs::remove_dir_all(&dir).unwrap();

    let out = bin()
        .args(["--rules", "5", "--template", "BACKUP_JOB_REPORT", "-o", "-"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
