//! The README's "Rules in CI" example, run exactly as printed: its test file is the committed
//! examples/rules-tests/routing.toml, and its job (the `sh` block) runs with bash in a git
//! repository laid out like this one (rules.toml, examples/, a main branch fetched as
//! origin/main) with `audit-router` on the PATH — unchanged (passes), with a routing change the
//! tests do not cover (the diff fails it), and with one they do (the tests fail it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fenced blocks (language, body) of the README's "## Rules in CI" section.
fn ci_blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Rules in CI\n")
        .expect("a Rules in CI section");
    let rest = &readme[start + 1..];
    let end = rest[1..].find("\n## ").map_or(rest.len(), |e| e + 1);
    let section = &rest[..end];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```")
            && !lang.is_empty()
        {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l == "```" {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            blocks.push((lang.to_string(), body));
        }
    }
    blocks
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "ci")
        .env("GIT_AUTHOR_EMAIL", "ci@example.invalid")
        .env("GIT_COMMITTER_NAME", "ci")
        .env("GIT_COMMITTER_EMAIL", "ci@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy(rel: &str, to: &Path) {
    let dest = to.join(rel);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(root().join(rel), dest).unwrap();
}

/// A repository like this one, its main branch at HEAD and fetched as origin/main.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "rules.toml",
        "rules.schema.json",
        "examples/rules-tests/routing.toml",
        "examples/reports/RESOURCE_COMPLIANCE_REPORT.json",
        "examples/reports/BACKUP_JOB_REPORT.csv",
    ] {
        copy(f, dir.path());
    }
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "rules"]);
    git(
        dir.path(),
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );
    dir
}

/// Runs the job as printed, with bash stopping at the first failing line (as CI does).
fn run_job(dir: &Path, job: &str) -> Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_audit-router"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", job])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("AUDIT_ROUTER_RULES")
        .env_remove("AUDIT_ROUTER_ENV")
        .env_remove("AUDIT_ROUTER_TODAY")
        .env_remove("ALARM_TOPIC_ARN")
        .env_remove("SLACK_WEBHOOK_URL")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn job() -> String {
    let blocks = ci_blocks();
    let sh: Vec<&(String, String)> = blocks.iter().filter(|(l, _)| l == "sh").collect();
    assert_eq!(sh.len(), 1, "one job block: {blocks:?}");
    let job = sh[0].1.clone();
    for command in [
        "audit-router check",
        "audit-router test",
        "audit-router diff",
    ] {
        assert!(job.contains(command), "{command} not in the job:\n{job}");
    }
    job
}

#[test]
fn the_readme_shows_the_committed_test_file() {
    let blocks = ci_blocks();
    let toml: Vec<&(String, String)> = blocks.iter().filter(|(l, _)| l == "toml").collect();
    assert_eq!(toml.len(), 1);
    let committed =
        std::fs::read_to_string(root().join("examples/rules-tests/routing.toml")).unwrap();
    assert_eq!(toml[0].1, committed);
    // And it is a test file the job runs.
    assert!(job().contains("examples/rules-tests/"));
    assert!(committed.contains("[[case]]") && committed.contains("report = "));
}

#[test]
fn the_readme_ci_job_passes_as_printed() {
    let dir = repo();
    let out = run_job(dir.path(), &job());
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("rules.toml: ok ("), "{all}");
    let cases = std::fs::read_to_string(dir.path().join("examples/rules-tests/routing.toml"))
        .unwrap()
        .matches("[[case]]")
        .count();
    assert!(
        all.contains(&format!("result: ok. {cases} passed; 0 failed; 0 errors")),
        "{all}"
    );
    assert!(all.contains("base: git:origin/main:rules.toml\n"), "{all}");
    assert!(
        all.contains("routing unchanged: 24 findings in 2 sources\n"),
        "{all}"
    );
}

#[test]
fn the_readme_ci_job_fails_on_a_routing_change() {
    // Outside the tests' cases: EXPIRED jobs outside prod no longer go to Slack. The tests
    // pass; the diff shows the two EXPIRED jobs of the sample backup report (dev 555555555555,
    // staging 222222222222) stop going to backup-slack, and --exit-code fails the job.
    let dir = repo();
    let rules = dir.path().join("rules.toml");
    let text_before = std::fs::read_to_string(&rules).unwrap();
    let changed = text_before.replace(
        "name = \"non-prod job failures\"\nsinks = [\"backup-slack\"]\n[rules.match]\nreport = \"*_JOB_REPORT\"\nstatus = [\"FAILED\", \"EXPIRED\", \"ABORTED\"]\n",
        "name = \"non-prod job failures\"\nsinks = [\"backup-slack\"]\n[rules.match]\nreport = \"*_JOB_REPORT\"\nstatus = [\"FAILED\", \"ABORTED\"]\n",
    );
    assert_ne!(changed, text_before);
    std::fs::write(&rules, changed).unwrap();
    let out = run_job(dir.path(), &job());
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("result: ok."), "the tests still pass: {all}");
    assert!(
        all.contains("  ~ rule \"non-prod job failures\": match.status\n"),
        "{all}"
    );
    assert!(
        all.contains("  sink backup-slack: 4 → 2 findings (+0 −2)\n    stops getting:\n      status EXPIRED (2)\n"),
        "{all}"
    );
    assert!(
        all.contains("routing differs: 2 findings change sinks"),
        "{all}"
    );
}

#[test]
fn the_readme_ci_job_fails_on_a_failing_routing_test() {
    // Prod non-compliance no longer e-mails: the first case fails, and the job stops there.
    let dir = repo();
    let rules = dir.path().join("rules.toml");
    let before = std::fs::read_to_string(&rules).unwrap();
    let changed = before.replace(
        "name = \"prod non-compliance\"\nsinks = [\"ops-email\"]\n",
        "name = \"prod non-compliance\"\nsinks = [\"audit-log\"]\n",
    );
    assert_ne!(changed, before);
    std::fs::write(&rules, changed).unwrap();
    let out = run_job(dir.path(), &job());
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("case prod unprotected table pages on-call ... FAILED\n"),
        "{all}"
    );
    assert!(all.contains("result: FAILED."), "{all}");
    assert!(
        !all.contains("base: git:origin/main"),
        "the diff did not run: {all}"
    );
}
