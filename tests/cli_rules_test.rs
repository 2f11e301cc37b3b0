//! `audit-router test` end to end: the fixture test files under tests/fixtures/ruletest/ (finding
//! and report cases, passing and failing), bad test files written here, every exit code, the
//! text, JSON and JUnit outputs (JUnit parsed back with a real XML parser), and that nothing is
//! sent.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const RULES: &str = "tests/fixtures/ruletest/rules.toml";
const PASS: &str = "tests/fixtures/ruletest/pass";
const FAIL: &str = "tests/fixtures/ruletest/fail/mixed.toml";

fn audit_router(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(args)
        .current_dir(root())
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

/// The case names of a test file, in order, and the line of each `[[case]]` header.
fn cases(path: &str) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let names: Vec<String> = table["case"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[case]]")
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(names.len(), lines.len());
    names.into_iter().zip(lines).collect()
}

#[test]
fn passing_cases_of_both_kinds_exit_0() {
    let out = audit_router(&["test", "--rules", RULES, PASS]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    // A directory stands for its test files, sorted.
    let findings = format!("{PASS}/findings.toml");
    let reports = format!("{PASS}/reports.toml");
    let f = text.find(&format!("from {findings}")).expect(&text);
    let r = text.find(&format!("from {reports}")).expect(&text);
    assert!(f < r);
    let mut total = 0;
    for file in [&findings, &reports] {
        for (name, _) in cases(file) {
            assert!(
                text.contains(&format!("case {name} ... ok\n")),
                "{name}: {text}"
            );
            total += 1;
        }
    }
    assert_eq!(total, 10);
    assert!(
        text.ends_with(&format!(
            "result: ok. {total} passed; 0 failed; 0 errors (rules {RULES})\n"
        )),
        "{text}"
    );
    assert!(!text.contains("FAILED"));
}

#[test]
fn failing_cases_exit_1_with_expected_actual_and_every_rules_verdict() {
    let out = audit_router(&["test", "--rules", RULES, FAIL]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let cases = cases(FAIL);
    assert!(
        text.contains(&format!("case {} ... ok\n", cases[0].0)),
        "{text}"
    );
    for (name, line) in &cases[1..] {
        assert!(
            text.contains(&format!("case {name} ... FAILED\n")),
            "{text}"
        );
        // Each failure is headed by file:line:column and named again in the closing list.
        let label = format!("{FAIL}:{line}:1: {name}");
        assert!(
            text.contains(&format!("---- {label} ----\n")),
            "{label}: {text}"
        );
        assert!(
            text.contains(&format!("\n    {label}\n")),
            "{label}: {text}"
        );
    }
    let section = |name: &str| -> String {
        let start = text.find(&format!(": {name} ----\n")).unwrap();
        let rest = &text[start..];
        let end = rest[1..].find("\n---- ").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    };

    // Wrong sinks: both sets, and every rule's verdict in file order with its reasons.
    let s = section(&cases[1].0);
    assert!(
        s.contains(
            "sinks: expected [ops-email], got [audit-log, backup-slack]; missing [ops-email]; \
             unexpected [audit-log, backup-slack]\n"
        ),
        "{s}"
    );
    assert!(s.contains("expected sinks: [ops-email]\n"), "{s}");
    assert!(
        s.contains(
            "actual sinks:   [audit-log (rule \"audit trail\"), backup-slack (rule \"non-prod non-compliance\")]\n"
        ),
        "{s}"
    );
    let order: Vec<usize> = [
        "  rule \"audit trail\": matched\n    status \"NON_COMPLIANT\" matches \"NON_COMPLIANT\"\n",
        "  rule \"prod non-compliance\": no match\n",
        "    environment \"dev\" does not match \"prod\"\n",
        "  rule \"non-prod non-compliance\": matched\n",
        "  rule \"failed jobs\": no match (not reached: the walk stopped before it)\n",
        "  silences[0] until 2026-12-31 (legacy vault; OPS-123): no match\n",
    ]
    .iter()
    .map(|needle| {
        s.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {s}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}: {s}");

    // Wrong rule: the right sinks, the rule that routed it.
    let s = section(&cases[2].0);
    assert!(
        s.contains(
            "rule for backup-slack: expected \"non-prod non-compliance\", got \"prod non-compliance\"\n"
        ),
        "{s}"
    );
    assert!(!s.contains("sinks: expected"), "{s}");

    // Expected a silence: none matches, and it reached the log.
    let s = section(&cases[3].0);
    assert!(
        s.contains("silenced: expected a live silence to swallow it, but none matches\n"),
        "{s}"
    );

    // Report counts: the sinks that differ, and where the findings went, per rule.
    let s = section(&cases[4].0);
    assert!(s.contains("ops-email: expected 3, got 2\n"), "{s}");
    assert!(!s.contains("backup-slack: expected"), "{s}");
    assert!(s.contains("via rule \"prod non-compliance\""), "{s}");
    assert!(
        text.ends_with(&format!(
            "result: FAILED. 1 passed; 4 failed; 0 errors (rules {RULES})\n"
        )),
        "{text}"
    );
}

#[test]
fn json_output_has_every_case_with_expected_and_actual() {
    let out = audit_router(&["test", "--rules", RULES, "--format", "json", PASS, FAIL]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rules"], RULES);
    assert_eq!(doc["passed"], 11);
    assert_eq!(doc["failed"], 4);
    assert_eq!(doc["errors"], 0);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let fail = files.iter().find(|f| f["file"] == FAIL).unwrap();
    let c = &fail["cases"][1];
    assert_eq!(c["status"], "failed");
    assert_eq!(c["kind"], "finding");
    assert_eq!(c["line"], cases(FAIL)[1].1);
    assert_eq!(
        c["outcome"]["expected_sinks"],
        serde_json::json!(["ops-email"])
    );
    let actual: Vec<(&str, &str)> = c["outcome"]["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["sink"].as_str().unwrap(), s["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actual,
        [
            ("audit-log", "audit trail"),
            ("backup-slack", "non-prod non-compliance")
        ]
    );
    assert_eq!(c["outcome"]["finding"]["environment"], "dev");
    assert!(c["outcome"]["finding"]["framework"].is_null());
    let verdicts = c["outcome"]["rules"].as_array().unwrap();
    assert_eq!(verdicts.len(), 4);
    assert_eq!(verdicts[0]["matched"], true);
    assert_eq!(verdicts[3]["reached"], false);

    let report = &fail["cases"][4];
    assert_eq!(report["kind"], "report");
    assert_eq!(report["outcome"]["items"], 12);
    assert_eq!(report["outcome"]["template"], "RESOURCE_COMPLIANCE_REPORT");
    let email = report["outcome"]["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sink"] == "ops-email")
        .unwrap();
    assert_eq!(email["expected"], 3);
    assert_eq!(email["actual"], 2);
    assert_eq!(email["by_rule"]["prod non-compliance"], 2);
    // Left out of `expect`: not compared.
    assert!(report["outcome"]["silenced"]["expected"].is_null());
    assert_eq!(report["outcome"]["silenced"]["actual"], 1);
    // A passing finding case keeps no trace.
    let passing = &fail["cases"][0];
    assert_eq!(passing["status"], "passed");
    assert_eq!(passing["outcome"]["rules"], serde_json::json!([]));
}

#[test]
fn junit_output_parses_back_with_one_testcase_per_case() {
    let out = audit_router(&["test", "--rules", RULES, "--format", "junit", PASS, FAIL]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("15"));
    assert_eq!(suites.attribute("failures"), Some("4"));
    assert_eq!(suites.attribute("errors"), Some("0"));
    let suite_list: Vec<_> = suites
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<&str> = suite_list
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("{PASS}/findings.toml").as_str(),
            format!("{PASS}/reports.toml").as_str(),
            FAIL
        ]
    );
    for (suite, file) in suite_list.iter().zip([
        format!("{PASS}/findings.toml"),
        format!("{PASS}/reports.toml"),
        FAIL.to_string(),
    ]) {
        let testcases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        let expected = cases(&file);
        assert_eq!(
            suite.attribute("tests"),
            Some(expected.len().to_string().as_str())
        );
        assert_eq!(testcases.len(), expected.len());
        for (tc, (name, line)) in testcases.iter().zip(&expected) {
            // Names with <, >, & and quotes come back intact.
            assert_eq!(tc.attribute("name"), Some(name.as_str()));
            assert_eq!(tc.attribute("file"), Some(file.as_str()));
            assert_eq!(tc.attribute("line"), Some(line.to_string().as_str()));
            assert!(tc.attribute("time").unwrap().parse::<f64>().unwrap() >= 0.0);
        }
    }
    let fail_suite = suite_list[2];
    assert_eq!(fail_suite.attribute("failures"), Some("4"));
    let testcases: Vec<_> = fail_suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert!(!testcases[0].children().any(|n| n.is_element()));
    let failure = testcases[1]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some(
            "sinks: expected [ops-email], got [audit-log, backup-slack]; missing [ops-email]; \
             unexpected [audit-log, backup-slack]"
        )
    );
    let body = failure.text().unwrap();
    assert!(body.contains("rule \"audit trail\": matched"), "{body}");
    assert!(
        body.contains("environment \"dev\" does not match \"prod\""),
        "{body}"
    );
    assert!(testcases[4].children().any(|n| n.has_tag_name("failure")
        && n.attribute("message") == Some("ops-email: expected 3, got 2")));
}

/// Writes `files` (name, text) to a temporary directory and runs `test` on the first.
fn run_bad(files: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let rules = root().join(RULES);
    let out = Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(["test", "--rules"])
        .arg(&rules)
        .arg(files[0].0)
        .current_dir(dir.path())
        .env("AUDIT_ROUTER_TODAY", "2026-11-27")
        .output()
        .unwrap();
    (out, dir)
}

const ENV: &str = "env = { RULETEST_TOPIC_ARN = \"arn:aws:sns:us-east-1:111111111111:t\", RULETEST_SANDBOX_ACCOUNT = \"9\" }\n";

#[test]
fn bad_test_files_exit_2_naming_file_line_and_column() {
    let finding =
        "finding = { report = \"RESOURCE_COMPLIANCE_REPORT\", status = \"NON_COMPLIANT\" }";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = [\"ops-mail\"]\n"),
            "t.toml:5:10: error: case \"a\": sinks: unknown sink \"ops-mail\" (declared sinks: ops-email, backup-slack, audit-log)",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = [\"audit-log\"]\nrule = {{ audit-log = \"audit-trail\" }}\n"
            ),
            "t.toml:6:22: error: case \"a\": rule: unknown rule \"audit-trail\" (rules: \"audit trail\", \"prod non-compliance\", \"non-prod non-compliance\", \"failed jobs\")",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = [\"audit-log\"]\nrule = {{ audit = \"audit trail\" }}\n"
            ),
            "t.toml:6:10: error: case \"a\": rule: unknown sink \"audit\"",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = [\"audit-log\"]\nrule = {{ ops-email = \"audit trail\" }}\n"
            ),
            "t.toml:6:10: error: case \"a\": rule: sink \"ops-email\" is not in this case's `sinks`",
        ),
        (
            format!("{ENV}[[case]]\nname = \"a\"\n{finding}\nsink = [\"audit-log\"]\n"),
            "t.toml:5:1: error: unknown key `sink` in [[case]] (case[0]); expected one of: name, finding, sinks, rule, silenced, report, expect, env, today",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\nfinding = {{ report = \"RESOURCE_COMPLIANCE_REPORT\", environment = \"prod\" }}\nsinks = []\n"
            ),
            "t.toml:4:52: error: case[0].finding: `environment` is not a report field",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\nfinding = {{ report = \"RESOURCE_REPORT\" }}\nsinks = []\n"
            ),
            "t.toml:4:22: error: case[0].finding.report: unknown report template \"RESOURCE_REPORT\"",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\nfinding = {{ report = \"BACKUP_JOB_REPORT\", account = 111111111111 }}\nsinks = []\n"
            ),
            "t.toml:4:53: error: case[0].finding.account: expected a string, found an integer",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\nreport = \"missing.json\"\nexpect = {{ audit-log = 1 }}\n"
            ),
            "t.toml:4:10: error: case \"a\": report: no such file missing.json",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\nreport = \"t.toml\"\nexpect = {{ audit = 1, unmatched = -1 }}\n"
            ),
            "t.toml:5:35: error: case[0].expect.unmatched: expected a count (an integer 0 or more), found an integer",
        ),
        (
            format!("{ENV}[[case]]\nname = \"a\"\nreport = \"t.toml\"\nexpect = {{ audit = 1 }}\n"),
            "t.toml:5:12: error: case \"a\": expect: unknown sink \"audit\"",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = []\n[[case]]\nname = \"a\"\n{finding}\nsinks = []\n"
            ),
            "t.toml:6:1: error: duplicate case name \"a\" (first used at line 2)",
        ),
        (
            format!("{ENV}[[case]]\nname = \"a\"\n{finding}\n"),
            "t.toml:2:1: error: case \"a\": missing `sinks`",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\n{finding}\nsilenced = true\nsinks = [\"audit-log\"]\n"
            ),
            "t.toml:6:10: error: case \"a\": a silenced finding reaches no sink",
        ),
        (
            format!("{ENV}[[case]]\nname = \"a\"\n{finding}\nreport = \"x.json\"\n"),
            "t.toml:2:1: error: case \"a\": give either `finding` (one finding) or `report` (a whole report), not both",
        ),
        (
            format!("{ENV}[[case]]\n{finding}\nsinks = []\n"),
            "t.toml:2:1: error: case[0]: missing required key `name`",
        ),
        (
            format!(
                "{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = [\"audit-log\", \"audit-log\"]\n"
            ),
            "t.toml:5:23: error: case[0].sinks: sink \"audit-log\" is listed twice",
        ),
        (
            format!("{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = []\ntoday = \"soon\"\n"),
            "t.toml:6:9: error: case[0].today: expected a date like 2027-01-15",
        ),
        (
            format!("{ENV}[[cases]]\nname = \"a\"\n"),
            "t.toml:2:3: error: unknown key `cases` in the top level of a test file; expected one of: case, env, today",
        ),
        (
            ENV.to_string(),
            "t.toml:1:1: error: no [[case]] in this test file",
        ),
        (
            "[[case]]\nname = \"a\nsinks = []\n".to_string(),
            "t.toml:2:10: error: TOML syntax: invalid basic string",
        ),
    ];
    for (text, expected) in &cases {
        let (out, _dir) = run_bad(&[("t.toml", text)]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}\n{err}");
        assert!(
            err.contains(expected),
            "expected {expected:?} in:\n{err}\nfor:\n{text}"
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
    // Every problem of a file, not only the first.
    let (out, _dir) = run_bad(&[(
        "t.toml",
        &format!("{ENV}[[case]]\nname = \"a\"\n{finding}\nsinks = [\"x\", \"y\"]\n"),
    )]);
    let err = stderr(&out);
    assert!(
        err.contains("t.toml:5:10: error") && err.contains("t.toml:5:15: error"),
        "{err}"
    );
    // A missing test file.
    let out = audit_router(&["test", "--rules", RULES, "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("no/such/file.toml:1:1: error: cannot read the test file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rules_that_do_not_load_with_a_files_env_exit_2() {
    // No env table: the rules' ${env:RULETEST_TOPIC_ARN} is not set.
    let (out, _dir) = run_bad(&[(
        "t.toml",
        "[[case]]\nname = \"a\"\nfinding = { report = \"BACKUP_JOB_REPORT\" }\nsinks = []\n",
    )]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let rules = root().join(RULES).display().to_string();
    assert!(
        err.contains(&format!(
            "{rules}:11:14: error: environment variable `RULETEST_TOPIC_ARN` is not set"
        )),
        "{err}"
    );
    assert!(
        err.contains("t.toml:1:1: error: case \"a\": the rules file"),
        "{err}"
    );
}

#[test]
fn an_unreadable_report_is_an_error_exit_2() {
    let text = format!(
        "{ENV}[[case]]\nname = \"fine\"\nfinding = {{ report = \"BACKUP_JOB_REPORT\", status = \"FAILED\" }}\nsinks = [\"audit-log\", \"backup-slack\"]\n\
         [[case]]\nname = \"broken report\"\nreport = \"broken.json\"\nexpect = {{ audit-log = 0 }}\n"
    );
    let (out, dir) = run_bad(&[
        ("t.toml", &text),
        ("broken.json", "{\"reportItems\": [{\"accountId\": 5"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text_out = stdout(&out);
    assert!(text_out.contains("case fine ... ok\n"), "{text_out}");
    assert!(
        text_out.contains("case broken report ... ERROR\n"),
        "{text_out}"
    );
    assert!(text_out.contains("broken.json"), "{text_out}");
    assert!(
        text_out.contains("result: FAILED. 1 passed; 0 failed; 1 errors"),
        "{text_out}"
    );

    // JUnit: an <error>, not a <failure>.
    let rules = root().join(RULES);
    let out = Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(["test", "--format", "junit", "--rules"])
        .arg(&rules)
        .arg("t.toml")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().attribute("errors"), Some("1"));
    let errors: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].parent().unwrap().attribute("name"),
        Some("broken report")
    );
}

/// A rules file whose only sink is a webhook on a local listener: `test` must never connect.
#[test]
fn nothing_is_ever_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        format!(
            "[sinks.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nallow_insecure_http = true\n\
             [[rules]]\nname = \"all\"\nsinks = [\"hook\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t.toml"),
        "[[case]]\nname = \"routed\"\nfinding = { report = \"BACKUP_JOB_REPORT\", status = \"FAILED\" }\nsinks = [\"hook\"]\n\
         [[case]]\nname = \"whole report\"\nreport = \"report.csv\"\nexpect = { hook = 12 }\n",
    )
    .unwrap();
    std::fs::copy(
        root().join("tests/fixtures/reports/aws/BACKUP_JOB_REPORT.csv"),
        dir.path().join("report.csv"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(["test", "--rules", "rules.toml", "t.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("something connected to the sink: {other:?}"),
    }
}

#[test]
fn no_test_file_is_a_usage_error() {
    let out = audit_router(&["test", "--rules", RULES]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("TESTS"), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let out = audit_router(&["test", "--rules", RULES, dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("a directory without any *.toml test file"),
        "{}",
        stderr(&out)
    );
}
