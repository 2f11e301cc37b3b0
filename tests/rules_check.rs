//! Validation of rules.toml: every error and warning, with its file:line:column.

use audit_router::rules::{Diagnostic, LoadOptions, Rules, Severity};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

fn opts() -> LoadOptions {
    LoadOptions {
        resolve_env: true,
        env_override: None,
        today: NaiveDate::from_ymd_opt(2026, 6, 15).unwrap(),
    }
}

fn check(text: &str) -> Vec<Diagnostic> {
    Rules::check_str(text, "rules.toml", &opts())
}

/// Asserts that exactly `expected` diagnostics come out, each given as
/// `(line, column, severity, a piece of the message)`, in position order.
#[track_caller]
fn expect(text: &str, expected: &[(usize, usize, Severity, &str)]) {
    let got = check(text);
    let shown: Vec<String> = got.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "diagnostics:\n{}",
        shown.join("\n")
    );
    for (d, (line, column, severity, piece)) in got.iter().zip(expected) {
        assert_eq!(
            (d.line, d.column, d.severity),
            (*line, *column, *severity),
            "{d}"
        );
        assert!(d.message.contains(piece), "{d}\n  should contain: {piece}");
        assert_eq!(d.file, "rules.toml");
    }
    // load agrees: errors fail it, warnings alone do not.
    let errors = expected.iter().any(|e| e.2 == Severity::Error);
    match Rules::parse(text, "rules.toml", PathBuf::from("."), &opts()) {
        Ok((_, warnings)) => {
            assert!(!errors, "load succeeded despite errors");
            assert_eq!(warnings, got);
        }
        Err(e) => {
            assert!(errors, "load failed without errors: {e}");
            assert_eq!(e.diagnostics, got);
        }
    }
}

use Severity::{Error as E, Warning as W};

const SINK: &str = "[sinks.a]\ntype = \"log\"\n";

#[test]
fn a_clean_file_has_no_diagnostics() {
    expect(
        &format!("{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\nmatch.status = \"FAILED\"\n"),
        &[],
    );
}

#[test]
fn diagnostics_display_as_file_line_column() {
    let d = &check("x = 1\n")[0];
    assert_eq!(
        d.to_string(),
        "rules.toml:1:1: error: unknown key `x` in the top level; expected one of: settings, environments, sinks, rules, silences"
    );
}

#[test]
fn toml_syntax_errors_carry_line_and_column() {
    expect(
        "[settings]\ndefault_environment = \"dev\n",
        &[(2, 27, E, "TOML syntax: invalid basic string")],
    );
    expect(
        "[[rules]]\nname = \"a\"\nname = \"b\"\n",
        &[(3, 1, E, "duplicate key")],
    );
}

#[test]
fn unknown_keys_are_denied_everywhere_but_in_sinks() {
    let text = r#"
colour = "blue"
[settings]
default_env = "dev"
[environments.prod]
accounts = ["111111111111"]
acounts = ["222222222222"]
[sinks.a]
type = "webhook"
anything = "goes"
headers = { X-Token = "TESTSECRET-t" }
[[rules]]
name = "r"
sinks = ["a"]
contnue = true
[rules.match]
stauts = "FAILED"
[[silences]]
match = { acount = "1" }
until = 2027-01-01
reason = "why"
why = "not"
"#;
    expect(
        text,
        &[
            (2, 1, E, "unknown key `colour` in the top level"),
            (4, 1, E, "unknown key `default_env` in [settings]"),
            (
                7,
                1,
                E,
                "unknown key `acounts` in [environments.prod] (did you mean `accounts`?)",
            ),
            (
                15,
                1,
                E,
                "unknown key `contnue` in [[rules]] (rules[0]) (did you mean `continue`?)",
            ),
            (
                17,
                1,
                E,
                "unknown key `stauts` in rules[0].match (did you mean `status`?)",
            ),
            (
                19,
                11,
                E,
                "unknown key `acount` in silences[0].match (did you mean `account`?)",
            ),
            (22, 1, E, "unknown key `why` in [[silences]] (silences[0])"),
        ],
    );
}

#[test]
fn missing_required_keys() {
    let text = r#"
[sinks.a]
topic_arn = "x"
[environments.prod]
[[rules]]
continue = true
[[rules]]
name = "no sinks"
"#;
    expect(
        text,
        &[
            (2, 1, E, "[sinks.a]: missing required key `type`"),
            (
                4,
                1,
                E,
                "[environments.prod]: missing required key `accounts`",
            ),
            (5, 1, E, "rules[0]: missing required key `name`"),
            (5, 1, E, "rules[0]: missing required key `sinks`"),
            (7, 1, E, "rule \"no sinks\": missing required key `sinks`"),
        ],
    );
}

#[test]
fn wrong_types_name_what_was_expected() {
    let text = r#"
[sinks.a]
type = 5
[[rules]]
name = "r"
sinks = "a"
continue = "yes"
match.status = 3
match.region = []
match.account = ["1", 2]
"#;
    expect(
        text,
        &[
            (3, 8, E, "sinks.a.type: expected a string, found an integer"),
            (
                6,
                9,
                E,
                "rules[0].sinks: expected an array of strings, found a string",
            ),
            (
                7,
                12,
                E,
                "rules[0].continue: expected true or false, found a string",
            ),
            (
                8,
                16,
                E,
                "rules[0].match.status: expected a pattern string or a list of them, found an integer",
            ),
            (9, 16, E, "rules[0].match.region: empty list"),
            (
                10,
                23,
                E,
                "rules[0].match.account[1]: expected a string, found an integer",
            ),
        ],
    );
}

#[test]
fn unknown_sinks_name_the_rule() {
    let text = format!("{SINK}[[rules]]\nname = \"prod\"\nsinks = [\"a\", \"ops-mail\"]\n");
    expect(
        &text,
        &[(
            5,
            15,
            E,
            "rule \"prod\": unknown sink \"ops-mail\" (declared sinks: a)",
        )],
    );
}

#[test]
fn duplicate_rule_names() {
    let text = format!(
        "{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\nmatch.status = \"X\"\n[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n"
    );
    expect(
        &text,
        &[(
            8,
            8,
            E,
            "duplicate rule name \"r\" (first used by rules[0] at line 3)",
        )],
    );
}

#[test]
fn invalid_patterns_carry_the_regex_error() {
    let text = format!(
        "{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n[rules.match]\nregion = \"re:(us\"\naccount = [\"1\", \"!re:[z-a]\"]\ncontrol = \"\"\nstatus = \"!\"\n"
    );
    expect(
        &text,
        &[
            (
                7,
                10,
                E,
                "rule \"r\": match.region: invalid regex in pattern \"re:(us\": unclosed group",
            ),
            (
                8,
                17,
                E,
                "invalid regex in pattern \"!re:[z-a]\": invalid character class range",
            ),
            (9, 11, E, "match.control: empty pattern"),
            (10, 10, E, "match.status: empty negative pattern"),
        ],
    );
}

#[test]
fn report_names_must_be_templates() {
    let text = format!(
        "{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n[rules.match]\nreport = [\"RESOURCE_COMPLIANCE\", \"MALWARE_JOB_REPORT\", \"!BACKUP_JOB_REPORT\", \"*_JOBS\", \"re:.*COPY.*\"]\n"
    );
    expect(
        &text,
        &[
            (7, 11, E, "unknown report template \"RESOURCE_COMPLIANCE\""),
            (7, 78, W, "pattern \"*_JOBS\" matches no report template"),
        ],
    );
}

#[test]
fn unknown_environment_literals_warn() {
    let text = format!(
        "[settings]\ndefault_environment = \"dev\"\n[environments.prod]\naccounts = [\"111111111111\"]\n{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\nmatch.environment = [\"prod\", \"dev\", \"!prd\", \"stage*\"]\n"
    );
    expect(
        &text,
        &[(
            10,
            37,
            W,
            "match.environment: unknown environment \"prd\" (known: dev, prod)",
        )],
    );
}

#[test]
fn accounts_belong_to_one_environment() {
    let text = r#"
[environments.prod]
accounts = ["111111111111", "222222222222"]
[environments.dev]
accounts = ["333333333333", "111111111111", "12345", "333333333333"]
[sinks.a]
type = "log"
[[rules]]
name = "r"
sinks = ["a"]
"#;
    expect(
        text,
        &[
            (
                5,
                29,
                E,
                "account \"111111111111\" is listed in two environments, \"prod\" and \"dev\"",
            ),
            (5, 45, W, "\"12345\" is not a 12-digit AWS account ID"),
            (5, 54, W, "account \"333333333333\" is listed twice"),
        ],
    );
}

#[test]
fn silences_need_until_and_reason_and_expire() {
    let text = format!(
        r#"{SINK}[[rules]]
name = "r"
sinks = ["a"]
[[silences]]
match = {{ account = "1" }}
[[silences]]
match = {{ account = "2" }}
until = 2026-06-14
reason = "old"
[[silences]]
match = {{ account = "3" }}
until = "31/12/2026"
reason = ""
[[silences]]
match = {{}}
until = 2026-06-15
reason = "everything today"
[[silences]]
until = 2026-06-15T10:00:00
reason = "no match"
"#
    );
    expect(
        &text,
        &[
            (6, 1, E, "silences[0]: missing required key `until`"),
            (6, 1, E, "silences[0]: missing required key `reason`"),
            (
                10,
                9,
                W,
                "silences[1]: expired on 2026-06-14 (today is 2026-06-15)",
            ),
            (
                14,
                9,
                E,
                "silences[2].until: expected a date like 2026-12-31",
            ),
            (15, 10, E, "silences[2].reason: must not be empty"),
            (
                17,
                9,
                W,
                "silences[3]: empty `match`: it silences every finding",
            ),
            (20, 1, E, "silences[4]: missing required key `match`"),
            (21, 9, E, "silences[4].until: expected a date"),
        ],
    );
}

#[test]
fn shadowed_rules_warn() {
    let text = r#"
[sinks.a]
type = "log"
[[rules]]
name = "all failures"
sinks = ["a"]
match.status = ["FAILED", "EXPIRED"]
match.region = "*"

[[rules]]
name = "prod failures"
sinks = ["a"]
match.status = "FAILED"
match.region = ["us-east-1", "eu-west-1"]
match.account = "111111111111"

[[rules]]
name = "failures or aborts"
sinks = ["a"]
match.status = ["FAILED", "ABORTED"]
match.region = "us-*"

[[rules]]
name = "anything in prod accounts"
sinks = ["a"]
continue = true
match.account = "1*"

[[rules]]
name = "a prod account"
sinks = ["a"]
match.account = ["111111111111", "!3"]
match.region = "re:.*"

[[rules]]
name = "regions, same list"
sinks = ["a"]
match.region = ["eu-*", "re:us-.*"]
match.job_id = "!x"

[[rules]]
name = "regions, narrower"
sinks = ["a"]
match.region = "re:us-.*"
match.job_id = ["!x", "!y"]
match.status = "COMPLIANT"

[[rules]]
name = "catch-all"
sinks = ["a"]

[[rules]]
name = "after the catch-all"
sinks = ["a"]
match.status = "COMPLIANT"
"#;
    expect(
        text,
        &[
            (
                11,
                8,
                W,
                "rule \"prod failures\" is shadowed by rule \"all failures\" (line 4)",
            ),
            (
                42,
                8,
                W,
                "rule \"regions, narrower\" is shadowed by rule \"regions, same list\" (line 35)",
            ),
            (
                53,
                8,
                W,
                "rule \"after the catch-all\" is shadowed by rule \"catch-all\" (line 48)",
            ),
        ],
    );
}

#[test]
fn empty_files_and_unused_sinks_warn() {
    expect("", &[(1, 1, W, "no [[rules]]")]);
    let text = format!(
        "{SINK}[sinks.b]\ntype = \"carrier-pigeon\"\n[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n"
    );
    expect(
        &text,
        &[(3, 8, W, "sink \"b\" is declared but no rule uses it")],
    );
}

/// Sink types are the registry's (no second list in the rules reader; every registered type
/// passing `check` is `tests/sinks_registry.rs`): an unknown one is an error at its `type` key
/// with a hint and the registered types.
#[test]
fn unknown_sink_types_name_the_registered_ones() {
    let text = "[sinks.s]\ntype = \"slak\"\n[[rules]]\nname = \"r\"\nsinks = [\"s\"]\n";
    let (rules, _) = Rules::parse(text, "rules.toml", PathBuf::from("."), &opts()).unwrap();
    let e = audit_router::pipeline::Engine::new(rules, None).unwrap_err();
    let known = audit_router::sinks::registry().kinds().join(", ");
    assert_eq!(
        e.diagnostics[0].to_string(),
        format!(
            "rules.toml:2:1: error: sinks.s.type: unknown sink type \"slak\" (did you mean \
             \"slack\"? known: {known})"
        )
    );
}

#[test]
fn env_interpolation_errors_point_at_the_reference() {
    let text = r#"
[sinks.ops]
type = "sns"
topic_arn = "arn:${env:AR_RULES_TEST_CHECK_SURELY_UNSET}"
other = "${vault:x} ${ssm:/fine}"
[[rules]]
name = "r"
sinks = ["ops"]
match.account = "${env:AR_RULES_TEST_CHECK_ALSO_UNSET"
match.region = 'x ${env:AR_RULES_TEST_CHECK_SURELY_UNSET}'
match.status = "\t${env:AR_RULES_TEST_CHECK_SURELY_UNSET}"
"#;
    expect(
        text,
        &[
            (
                4,
                18,
                E,
                "environment variable `AR_RULES_TEST_CHECK_SURELY_UNSET` is not set",
            ),
            (5, 10, E, "unknown reference scheme `vault`"),
            (9, 18, E, "unclosed `${`"),
            (
                10,
                19,
                E,
                "environment variable `AR_RULES_TEST_CHECK_SURELY_UNSET` is not set",
            ),
            // After an escape the raw text is searched for the reference.
            (
                11,
                19,
                E,
                "environment variable `AR_RULES_TEST_CHECK_SURELY_UNSET` is not set",
            ),
        ],
    );
    // --no-env: the unset variables are fine, malformed references still are not.
    let mut o = opts();
    o.resolve_env = false;
    let got: Vec<String> = Rules::check_str(text, "rules.toml", &o)
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("rules.toml:5:10: error: unknown reference scheme"));
    assert!(got[1].starts_with("rules.toml:9:18: error: unclosed"));
}

#[test]
fn all_errors_are_collected() {
    let text = r#"
[sinks.a]
type = "log"
[[rules]]
name = "one"
sinks = ["nope"]
[[rules]]
name = "one"
sinks = ["a"]
match.report = "NOPE"
[[silences]]
match.account = "1"
"#;
    let got = check(text);
    let errors: Vec<_> = got.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 5, "{got:?}");
}

#[test]
fn load_reads_files_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my-rules.toml");
    std::fs::write(
        &path,
        format!("{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n"),
    )
    .unwrap();
    let (rules, warnings) = Rules::load(&path, &opts()).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(rules.base_dir(), dir.path());
    assert_eq!(rules.file(), path.display().to_string());

    std::fs::write(&path, "[[rules]]\nname = 1\n").unwrap();
    let err = Rules::load(&path, &opts()).unwrap_err();
    let text = err.to_string();
    let shown = path.display();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            format!("{shown}:1:1: error: rules[0]: missing required key `sinks`"),
            format!("{shown}:2:8: error: rules[0].name: expected a string, found an integer"),
        ],
    );

    let missing = dir.path().join("missing.toml");
    let err = Rules::load(&missing, &opts()).unwrap_err();
    assert!(
        err.to_string().contains("cannot read the rules file"),
        "{err}"
    );

    let (rules, _) = Rules::parse(
        &format!("{SINK}[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n"),
        "x.toml",
        PathBuf::from("/etc/audit-router"),
        &opts(),
    )
    .unwrap();
    assert_eq!(rules.base_dir(), Path::new("/etc/audit-router"));
}

#[test]
fn the_example_rules_toml_is_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.toml");
    let mut o = opts();
    o.resolve_env = false;
    let got = Rules::check(&path, &o);
    assert!(got.is_empty(), "{got:#?}");
}

#[test]
fn non_table_rules_are_reported_by_index() {
    // (Before any table header, or `rules` would be a key of that table.)
    let text = "rules = [1, { name = \"r\", sinks = [\"a\"] }, { name = \"r\", sinks = [\"a\"] }]\n[sinks.a]\ntype = \"log\"\n";
    expect(
        text,
        &[
            (1, 10, E, "rules[0]: expected a table, found an integer"),
            (
                1,
                53,
                E,
                "duplicate rule name \"r\" (first used by rules[1] at line 1)",
            ),
            (1, 53, W, "rule \"r\" is shadowed by rule \"r\" (line 1)"),
        ],
    );
}

/// A sink's settings errors (found when the sink is built) are diagnostics like the rest: at
/// the key (or the `[sinks.NAME]` table of a missing one), naming it once, with a hint for a
/// misspelt key.
#[test]
fn sink_setting_errors_have_line_column_and_a_hint() {
    let text = "[sinks.chat]\ntype = \"slack\"\nwebhook_url = \"https://hooks.slack.com/services/T/B/X\"\n\n\
                [sinks.mail]\ntype = \"sns\"\ntopic_arn = \"arn:aws:sns:us-east-1:111122223333:t\"\noverflw = \"split\"\n\n\
                [[rules]]\nname = \"all\"\nsinks = [\"chat\", \"mail\"]\n";
    let (rules, _) = Rules::parse(text, "rules.toml", PathBuf::from("."), &opts()).unwrap();
    let err = audit_router::pipeline::Engine::new(rules, None).unwrap_err();
    let shown: Vec<String> = err.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        shown,
        [
            "rules.toml:1:8: error: sinks.chat.url: missing (required); `webhook_url` is not a \
             setting of slack sinks: did you mean `url`?",
            "rules.toml:8:1: error: sinks.mail.overflw: unknown setting; did you mean \
             `overflow`? (known: \"message_group_id\", \"overflow\", \
             \"subject\", \"template\", \"topic_arn\")",
        ],
        "{shown:#?}"
    );
    // The same lines from `check`, then the summary.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_audit-router"))
        .args(["check", "--rules"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{file}:1:8: error: sinks.chat.url: missing (required)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("sinks.chat: sinks.chat"), "{stderr}");
    assert!(
        stderr.contains(&format!("{file}: invalid (2 sink errors)")),
        "{stderr}"
    );
}
