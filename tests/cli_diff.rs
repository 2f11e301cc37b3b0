//! `audit-router diff` end to end: two rule files over the bundled reports (examples/reports/
//! and two fixture reports), the base read from a git revision, `--exit-code`, JSON, errors.
//!
//! The base is tests/fixtures/ruletest/rules.toml; the new file changes it three ways, and the
//! expected moves were worked out by hand from the reports:
//! - the BACKUP_RECOVERY_POINT_ENCRYPTED silence is removed: in RESOURCE_COMPLIANCE_REPORT.json
//!   one NON_COMPLIANT finding (account 444444444444, prod, vol-9d4c28c2e7c26847f) starts going to
//!   audit-log, ops-email and backup-slack;
//! - "failed jobs" no longer matches ABORTED and a new rule sends ABORTED jobs to a new sink
//!   `pager`: the ABORTED backup job 94AB2589-… (BACKUP_JOB_REPORT.csv, item 4) and restore job
//!   58D5563D-… (RESTORE_JOB_REPORT.json, item 3) stop going to backup-slack and start going to
//!   pager (both still reach audit-log);
//! - COPY_JOB_REPORT.json has no failed job and no non-compliance: unchanged.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const BASE: &str = "tests/fixtures/ruletest/rules.toml";

const SOURCES: [&str; 4] = [
    "examples/reports/BACKUP_JOB_REPORT.csv",
    "examples/reports/RESOURCE_COMPLIANCE_REPORT.json",
    "tests/fixtures/reports/aws/RESTORE_JOB_REPORT.json",
    "tests/fixtures/reports/aws/COPY_JOB_REPORT.json",
];

/// The base rules with the three changes above.
fn new_rules() -> String {
    let base = std::fs::read_to_string(root().join(BASE)).unwrap();
    let mut text = base.replace(
        "[[rules]]\nname = \"failed jobs\"\nsinks = [\"backup-slack\"]\n[rules.match]\nreport = \"*_JOB_REPORT\"\nstatus = [\"FAILED\", \"ABORTED\", \"EXPIRED\"]\n",
        "[[rules]]\nname = \"failed jobs\"\nsinks = [\"backup-slack\"]\n[rules.match]\nreport = \"*_JOB_REPORT\"\nstatus = [\"FAILED\", \"EXPIRED\"]\n\n\
         [[rules]]\nname = \"aborted jobs page\"\nsinks = [\"pager\"]\n[rules.match]\nstatus = \"ABORTED\"\n",
    );
    let silence = text.find("[[silences]]").unwrap();
    text.truncate(silence);
    text.push_str("[sinks.pager]\ntype = \"log\"\n");
    assert_ne!(text, base);
    text
}

fn audit_router_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(args)
        .current_dir(dir)
        .env_remove("AUDIT_ROUTER_RULES")
        .env_remove("AUDIT_ROUTER_ENV")
        .env_remove("RULETEST_TOPIC_ARN")
        .env_remove("RULETEST_SANDBOX_ACCOUNT")
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

fn sources() -> Vec<String> {
    SOURCES
        .iter()
        .map(|s| root().join(s).display().to_string())
        .collect()
}

/// The variables the fixture rules reference (a sink setting and a match pattern).
const ENV: [(&str, &str); 2] = [
    (
        "RULETEST_TOPIC_ARN",
        "arn:aws:sns:us-east-1:111111111111:alarms",
    ),
    ("RULETEST_SANDBOX_ACCOUNT", "999999999999"),
];

fn with_env(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(args)
        .current_dir(dir)
        .env_remove("AUDIT_ROUTER_RULES")
        .env_remove("AUDIT_ROUTER_ENV")
        .envs(ENV)
        .env("AUDIT_ROUTER_TODAY", "2026-11-27")
        .output()
        .expect("run audit-router")
}

fn diff(new: &Path, base: &str, extra: &[&str]) -> Output {
    let new = new.display().to_string();
    let mut args = vec!["diff", "--rules", &new, "--base", base];
    args.extend_from_slice(extra);
    let sources = sources();
    args.extend(sources.iter().map(String::as_str));
    with_env(&root(), &args)
}

fn write_new(dir: &Path) -> PathBuf {
    let path = dir.join("new-rules.toml");
    std::fs::write(&path, new_rules()).unwrap();
    path
}

fn moved<'a>(doc: &'a Value, source: &str, sink: &str, dir: &str) -> Vec<&'a Value> {
    let s = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"].as_str().unwrap().ends_with(source))
        .unwrap_or_else(|| panic!("no source {source}"));
    s["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["sink"] == sink)
        .unwrap_or_else(|| panic!("no sink {sink} in {source}"))[dir]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

#[test]
fn two_rule_files_over_the_bundled_reports() {
    let dir = tempfile::tempdir().unwrap();
    let new = write_new(dir.path());
    let base = root().join(BASE).display().to_string();
    let out = diff(&new, &base, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["differs"], true);
    assert_eq!(doc["base"], base);
    assert_eq!(doc["errors"], serde_json::json!([]));

    // Definitions.
    let defs = &doc["definitions"];
    assert_eq!(
        defs["rules"]["added"],
        serde_json::json!(["aborted jobs page"])
    );
    assert_eq!(defs["rules"]["removed"], serde_json::json!([]));
    assert_eq!(
        defs["rules"]["changed"],
        serde_json::json!([{"name": "failed jobs", "keys": ["match.status"]}])
    );
    assert_eq!(defs["sinks"]["added"], serde_json::json!(["pager"]));
    assert_eq!(
        defs["silences"]["removed"],
        serde_json::json!(["until 2026-12-31 (legacy vault; OPS-123)"])
    );
    assert_eq!(defs["silences"]["added"], serde_json::json!([]));

    // The silenced resource now reaches three sinks.
    let resource = "RESOURCE_COMPLIANCE_REPORT.json";
    for sink in ["audit-log", "ops-email", "backup-slack"] {
        let started = moved(&doc, resource, sink, "started");
        assert_eq!(started.len(), 1, "{sink}");
        assert_eq!(
            started[0]["resource"],
            "AWS::EC2::Volume/vol-9d4c28c2e7c26847f"
        );
        assert_eq!(started[0]["control"], "BACKUP_RECOVERY_POINT_ENCRYPTED");
        assert_eq!(started[0]["environment"], "prod");
        assert_eq!(started[0]["index"], 10);
        assert!(moved(&doc, resource, sink, "stopped").is_empty());
    }
    assert_eq!(
        moved(&doc, resource, "ops-email", "started")[0]["rule"],
        "prod non-compliance"
    );
    let r = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"].as_str().unwrap().ends_with(resource))
        .unwrap();
    assert_eq!(
        r["base"],
        serde_json::json!({"silenced": 1, "unmatched": 9})
    );
    assert_eq!(r["new"], serde_json::json!({"silenced": 0, "unmatched": 9}));
    assert_eq!(r["changed"], 1);
    let email = r["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sink"] == "ops-email")
        .unwrap();
    assert_eq!(
        (email["base"].as_u64(), email["new"].as_u64()),
        (Some(2), Some(3))
    );

    // ABORTED jobs move from backup-slack to pager, in both job reports.
    for (source, job, index) in [
        (
            "BACKUP_JOB_REPORT.csv",
            "94AB2589-1BC4-078E-1F3C-D5CC618EF7C4",
            4,
        ),
        (
            "RESTORE_JOB_REPORT.json",
            "58D5563D-AB2C-D31E-E315-128862C33A4F",
            3,
        ),
    ] {
        let stopped = moved(&doc, source, "backup-slack", "stopped");
        assert_eq!(stopped.len(), 1, "{source}");
        assert_eq!(stopped[0]["job_id"], job);
        assert_eq!(stopped[0]["index"], index);
        assert_eq!(stopped[0]["rule"], "failed jobs");
        let started = moved(&doc, source, "pager", "started");
        assert_eq!(started.len(), 1, "{source}");
        assert_eq!(started[0]["job_id"], job);
        assert_eq!(started[0]["rule"], "aborted jobs page");
        assert!(moved(&doc, source, "audit-log", "started").is_empty());
        assert!(moved(&doc, source, "audit-log", "stopped").is_empty());
    }
    let copy = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["source"]
                .as_str()
                .unwrap()
                .ends_with("COPY_JOB_REPORT.json")
        })
        .unwrap();
    assert_eq!(copy["changed"], 0);
    assert_eq!(copy["items"], 12);

    // The text output: per sink, grouped like the dry run, with the rules.
    let out = diff(&new, &base, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for needle in [
        "  + rule \"aborted jobs page\"\n",
        "  ~ rule \"failed jobs\": match.status\n",
        "  + sink \"pager\"\n",
        "  - silence until 2026-12-31 (legacy vault; OPS-123)\n",
        "  sink ops-email: 2 → 3 findings (+1 −0)\n    starts getting:\n      framework prod-dr-policy\n        control BACKUP_RECOVERY_POINT_ENCRYPTED — NON_COMPLIANT (1)\n          444444444444 us-west-2 AWS::EC2::Volume AWS::EC2::Volume/vol-9d4c28c2e7c26847f  [rule: prod non-compliance]\n",
        "  sink backup-slack: 4 → 3 findings (+0 −1)\n    stops getting:\n      status ABORTED (1)\n",
        "  sink pager: 0 → 1 finding (+1 −0)\n",
        "  silenced: 1 → 0, unmatched: 9 → 9\n",
        "COPY_JOB_REPORT.json: COPY_JOB_REPORT, 12 items\n  routing unchanged\n",
        "routing differs: 3 findings change sinks (5 start going to a sink, 2 stop), in 3 of 4 sources\n",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

#[test]
fn exit_code_says_whether_routing_differs() {
    let dir = tempfile::tempdir().unwrap();
    let new = write_new(dir.path());
    let base = root().join(BASE).display().to_string();
    let out = diff(&new, &base, &["--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The same file on both sides: nothing differs.
    let same = root().join(BASE);
    let out = diff(&same, &base, &["--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("definitions: unchanged\n"), "{text}");
    assert!(
        text.ends_with("routing unchanged: 48 findings in 4 sources\n"),
        "{text}"
    );
    // A definition change that moves no finding is listed but is not a routing difference.
    let cosmetic = dir.path().join("cosmetic.toml");
    std::fs::write(
        &cosmetic,
        std::fs::read_to_string(&same).unwrap().replace(
            "[sinks.audit-log]\ntype = \"log\"\n",
            "[sinks.audit-log]\ntype = \"log\"\nstream = \"stderr\"\n",
        ),
    )
    .unwrap();
    let out = diff(&cosmetic, &base, &["--exit-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("  ~ sink \"audit-log\": stream\n"),
        "{}",
        stdout(&out)
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

#[test]
fn the_base_can_be_a_git_revision() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    std::fs::create_dir(repo.join("config")).unwrap();
    std::fs::copy(root().join(BASE), repo.join("config/rules.toml")).unwrap();
    git(repo, &["add", "config/rules.toml"]);
    git(repo, &["commit", "-q", "-m", "rules"]);
    // The working copy changes; HEAD keeps the base.
    std::fs::write(repo.join("config/rules.toml"), new_rules()).unwrap();
    let sources = sources();
    let mut args = vec![
        "diff",
        "--rules",
        "config/rules.toml",
        "--base",
        "git:HEAD:config/rules.toml",
        "--format",
        "json",
        "--exit-code",
    ];
    args.extend(sources.iter().map(String::as_str));
    let out = with_env(repo, &args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["base"], "git:HEAD:config/rules.toml");
    assert_eq!(doc["differs"], true);
    assert_eq!(
        moved(&doc, "RESTORE_JOB_REPORT.json", "pager", "started").len(),
        1
    );
    // The path from the current directory (`./`), as git show reads it.
    std::fs::create_dir(repo.join("sub")).unwrap();
    let mut args2 = vec![
        "diff",
        "--rules",
        "../config/rules.toml",
        "--base",
        "git:HEAD:../config/rules.toml",
    ];
    args2.extend(sources.iter().map(String::as_str));
    let out = with_env(&repo.join("sub"), &args2);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("routing differs"), "{}", stdout(&out));

    // A revision or path git does not have: exit 2, naming it.
    for bad in ["git:no-such-rev:config/rules.toml", "git:HEAD:missing.toml"] {
        let mut args = vec!["diff", "--rules", "config/rules.toml", "--base", bad];
        args.extend(sources.iter().map(String::as_str));
        let out = with_env(repo, &args);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("{bad}:1:1: error: git show ")),
            "{bad}: {err}"
        );
    }
}

#[test]
fn bad_rules_and_unreadable_sources_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[rules]]\nname = \"x\"\nsinks = [\"nowhere\"]\n").unwrap();
    let base = root().join(BASE).display().to_string();
    let out = diff(&broken, &base, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "{}:3:10: error: rule \"x\": unknown sink \"nowhere\"",
            broken.display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());

    // Without --no-env the base's ${env:…} must be set.
    let new = write_new(dir.path());
    let new_s = new.display().to_string();
    let out = audit_router_in(
        &root(),
        &["diff", "--rules", &new_s, "--base", &base, SOURCES[0]],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("environment variable `RULETEST_TOPIC_ARN` is not set"),
        "{}",
        stderr(&out)
    );

    // One unreadable source: the others are still compared, and the run fails.
    // --no-env cannot route a pattern that references the environment: refused, at its place.
    let out = audit_router_in(
        &root(),
        &[
            "diff", "--no-env", "--rules", &new_s, "--base", &base, SOURCES[0],
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:33:11: error: rules[1].match.account: pattern \"!${{env:RULETEST_SANDBOX_ACCOUNT}}\" references the environment",
            new.display()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("{base}:33:11: error:")), "{err}");
    // Without such patterns --no-env is fine: sink settings need no value to route.
    let plain = dir.path().join("plain.toml");
    std::fs::write(
        &plain,
        new_rules().replace("account = \"!${env:RULETEST_SANDBOX_ACCOUNT}\"\n", ""),
    )
    .unwrap();
    let plain_s = plain.display().to_string();
    let out = audit_router_in(
        &root(),
        &[
            "diff", "--no-env", "--rules", &plain_s, "--base", &plain_s, SOURCES[0],
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // One unreadable source: the others are still compared, and the run fails.
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"reportItems\": [1, 2").unwrap();
    let g = garbage.display().to_string();
    let out = with_env(
        &root(),
        &[
            "diff", "--rules", &new_s, "--base", &base, "--format", "json", &g, SOURCES[0],
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sources"].as_array().unwrap().len(), 1);
    assert_eq!(doc["errors"][0]["source"], g);
    assert!(stderr(&out).contains("garbage.json"), "{}", stderr(&out));
}
