//! Message previews: `dry-run` prints a Slack Block Kit Builder link per Slack message, and
//! `dry-run --out DIR` writes every rendered payload to DIR/<sink>/<n>.json|.txt. Both are
//! checked against the messages `dry-run --format json` reports for the same run.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const REPORT: &str = "examples/reports/RESOURCE_COMPLIANCE_REPORT.json";

fn dry_run(rules: &Path, extra: &[&str], now: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    c.arg("dry-run")
        .arg("--rules")
        .arg(rules)
        .args(extra)
        .current_dir(root())
        .env_remove("AUDIT_ROUTER_RULES")
        .env_remove("AUDIT_ROUTER_ENV")
        .env_remove("AUDIT_ROUTER_NOW")
        .env("AUDIT_ROUTER_TODAY", "2026-11-27")
        .env(
            "ALARM_TOPIC_ARN",
            "arn:aws:sns:us-east-1:111111111111:alarms",
        )
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T000/B000/TESTSECRET",
        );
    if let Some(now) = now {
        c.env("AUDIT_ROUTER_NOW", now);
    }
    c.output().expect("run audit-router")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every message of the JSON dry run: (sink, type, subject, body), in order.
fn messages(doc: &Value) -> Vec<(String, String, Option<String>, String)> {
    let mut out = Vec::new();
    for d in doc["deliveries"].as_array().unwrap() {
        for m in d["messages"].as_array().unwrap() {
            out.push((
                d["sink"].as_str().unwrap().to_string(),
                d["type"].as_str().unwrap().to_string(),
                m["subject"].as_str().map(str::to_string),
                m["body"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

fn json_run(rules: &Path, now: Option<&str>) -> Value {
    let out = dry_run(rules, &["--format", "json", REPORT], now);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The example rules with Slack's overflow = "split" and a small max_messages, so one digest
/// becomes several messages.
fn split_rules(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("rules.toml"))
        .unwrap()
        .replace(
            "url = \"${env:SLACK_WEBHOOK_URL}\"\n",
            "url = \"${env:SLACK_WEBHOOK_URL}\"\noverflow = \"split\"\nmax_messages = 3\ntemplate = \"long.hbs\"\n",
        );
    // A template long enough to need more than one message: 15 000 characters per finding
    // (five 3 000-character sections), over Slack's 40 000-character budget for 3 findings.
    std::fs::write(
        dir.join("long.hbs"),
        format!(
            "*{{{{report_title}}}}*\n\n{{{{#each groups}}}}{{{{#each findings}}}}{{{{resource}}}} {}\n\n{{{{/each}}}}{{{{/each}}}}",
            "x".repeat(15_000)
        ),
    )
    .unwrap();
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_slack_message_has_a_block_kit_builder_link_to_its_blocks() {
    let rules = root().join("rules.toml");
    let doc = json_run(&rules, None);
    let slack: Vec<_> = messages(&doc)
        .into_iter()
        .filter(|m| m.1 == "slack")
        .collect();
    assert_eq!(slack.len(), 1);
    let out = dry_run(&rules, &[REPORT], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let prefix =
        "      preview (Slack Block Kit Builder): https://app.slack.com/block-kit-builder/#";
    let links: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .collect();
    assert_eq!(links.len(), slack.len(), "{text}");
    for (link, (_, _, _, body)) in links.iter().zip(&slack) {
        // Only characters encodeURIComponent leaves as they are.
        assert!(
            link.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()%".contains(&b)),
            "{link}"
        );
        let shown: Value = serde_json::from_str(&percent_decode(link)).unwrap();
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(shown, serde_json::json!({"blocks": sent["blocks"]}));
        assert!(!sent["blocks"].as_array().unwrap().is_empty());
        // The webhook URL (a secret) is nowhere in the link.
        assert!(!link.contains("TESTSECRET") && !percent_decode(link).contains("hooks.slack"));
    }
    // The link follows its message; no other sink gets one.
    let slack_block = text.find("sink backup-slack (slack)").unwrap();
    let email_block = text.find("sink ops-email (sns)").unwrap();
    let link_at = text.find(prefix).unwrap();
    assert!(link_at > slack_block, "{text}");
    assert!(email_block < slack_block);
    assert_eq!(text.matches("preview (").count(), slack.len());
}

#[test]
fn a_split_slack_digest_gets_one_link_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let rules = split_rules(dir.path());
    let doc = json_run(&rules, None);
    let slack: Vec<_> = messages(&doc)
        .into_iter()
        .filter(|m| m.1 == "slack")
        .collect();
    let out = dry_run(&rules, &[REPORT], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let links: Vec<Value> = stdout(&out)
        .lines()
        .filter_map(|l| {
            l.split_once("preview (Slack Block Kit Builder): ")
                .map(|(_, u)| u)
        })
        .map(|u| {
            let fragment = u
                .strip_prefix("https://app.slack.com/block-kit-builder/#")
                .unwrap();
            serde_json::from_str(&percent_decode(fragment)).unwrap()
        })
        .collect();
    assert_eq!(links.len(), slack.len());
    assert!(
        slack.len() >= 2,
        "the long template splits: {}",
        slack.len()
    );
    for (link, (_, _, _, body)) in links.iter().zip(&slack) {
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(link["blocks"], sent["blocks"]);
    }
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sink in std::fs::read_dir(dir).unwrap() {
        let sink = sink.unwrap().path();
        for f in std::fs::read_dir(&sink).unwrap() {
            let f = f.unwrap().path();
            out.push(f.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn out_writes_every_payload_per_sink_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let rules = split_rules(dir.path());
    let out_dir = dir.path().join("payloads");
    // Left from an earlier run: a stale payload (removed) and a file of the user's (kept).
    std::fs::create_dir_all(out_dir.join("ops-email")).unwrap();
    std::fs::write(out_dir.join("ops-email/7.txt"), "stale").unwrap();
    std::fs::write(out_dir.join("ops-email/README.md"), "mine").unwrap();

    let now = "2026-12-01T06:00:00Z";
    let doc = json_run(&rules, Some(now));
    let out_s = out_dir.display().to_string();
    let out = dry_run(&rules, &["--out", &out_s, REPORT], Some(now));
    assert!(out.status.success(), "{}", stderr(&out));

    let mut expected_files = vec!["ops-email/README.md".to_string()];
    let mut counters: std::collections::BTreeMap<String, usize> = Default::default();
    for (sink, _, subject, body) in messages(&doc) {
        let n = counters.entry(sink.clone()).or_insert(0);
        *n += 1;
        let ext = if serde_json::from_str::<Value>(&body).is_ok() {
            "json"
        } else {
            "txt"
        };
        let file = format!("{sink}/{n}.{ext}");
        assert_eq!(
            std::fs::read_to_string(out_dir.join(&file)).unwrap(),
            body,
            "{file}"
        );
        expected_files.push(file);
        if let Some(subject) = subject {
            let file = format!("{sink}/{n}.subject.txt");
            assert_eq!(
                std::fs::read_to_string(out_dir.join(&file)).unwrap(),
                subject
            );
            expected_files.push(file);
        }
    }
    expected_files.sort();
    assert_eq!(files_under(&out_dir), expected_files);
    assert!(counters["backup-slack"] >= 2, "{counters:?}");
    assert_eq!(counters["ops-email"], 1);
    assert!(
        stderr(&out).contains(&format!(
            "wrote {} payload files to {out_s}",
            expected_files.len() - 1
        )),
        "{}",
        stderr(&out)
    );
    // The e-mail says when it was generated: AUDIT_ROUTER_NOW, so snapshots stay put.
    let email = std::fs::read_to_string(out_dir.join("ops-email/1.txt")).unwrap();
    assert!(email.contains("2026-12-01T06:00:00Z"), "{email}");
    assert!(
        email.contains("AWS::DynamoDB::Table/auth-15-table"),
        "{email}"
    );

    // A second run with the same time writes the same bytes.
    let before: Vec<Vec<u8>> = expected_files
        .iter()
        .map(|f| std::fs::read(out_dir.join(f)).unwrap())
        .collect();
    let again = dry_run(&rules, &["--out", &out_s, REPORT], Some(now));
    assert!(again.status.success());
    let after: Vec<Vec<u8>> = expected_files
        .iter()
        .map(|f| std::fs::read(out_dir.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);

    // With a report that routes nothing to e-mail or Slack (one PARTIAL copy job: the audit
    // log only), their old payloads go.
    let jobs = "tests/fixtures/reports/aws/COPY_JOB_REPORT.json";
    let out = dry_run(&rules, &["--out", &out_s, jobs], Some(now));
    assert!(out.status.success(), "{}", stderr(&out));
    let left: Vec<String> = files_under(&out_dir)
        .into_iter()
        .filter(|f| !f.starts_with("audit-log/"))
        .collect();
    assert_eq!(left, ["ops-email/README.md"]);
    assert_eq!(
        files_under(&out_dir)
            .iter()
            .filter(|f| f.starts_with("audit-log/"))
            .count(),
        2,
        "the digest line and one finding line"
    );
}

#[test]
fn out_and_now_errors_are_clear() {
    let rules = root().join("rules.toml");
    let out = dry_run(&rules, &[REPORT], Some("tomorrow"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("AUDIT_ROUTER_NOW=\"tomorrow\": expected RFC 3339"),
        "{}",
        stderr(&out)
    );
    // A sink name that cannot be a directory name.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("rules.toml");
    std::fs::write(
        &bad,
        "[sinks.\"../up\"]\ntype = \"log\"\n[[rules]]\nname = \"all\"\nsinks = [\"../up\"]\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out").display().to_string();
    let out = dry_run(&bad, &["--out", &out_dir, REPORT], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--out: sink name \"../up\" cannot be a directory name"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("up").exists());
}
