//! Routing semantics of rules.toml: patterns, null fields, rule order, `continue`, sinks at most
//! once, silences, environments, `${env:…}` interpolation and `explain`.

use audit_router::rules::{Delivery, LoadOptions, Routing, Rules};
use audit_router::{Finding, ReportTemplate};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
}

fn opts() -> LoadOptions {
    LoadOptions {
        resolve_env: true,
        env_override: None,
        today: today(),
    }
}

fn load_with(text: &str, opts: &LoadOptions) -> Rules {
    match Rules::parse(text, "rules.toml", PathBuf::from("."), opts) {
        Ok((rules, _warnings)) => rules,
        Err(e) => panic!("rules did not load:\n{e}"),
    }
}

fn load(text: &str) -> Rules {
    load_with(text, &opts())
}

/// The reference semantics: every rule tried in file order (`explain`), the first match routes
/// unless it says `continue`, each sink at most once.
fn walk(rules: &Rules, f: &Finding) -> Vec<Delivery> {
    let mut expected: Vec<Delivery> = Vec::new();
    for (r, t) in rules.explain(f).iter().enumerate() {
        if !t.matched {
            continue;
        }
        for &sink in rules.rule_sinks(r) {
            if !expected.iter().any(|d| d.sink == sink) {
                expected.push(Delivery { sink, rule: r });
            }
        }
        if !rules.rule_continues(r) {
            break;
        }
    }
    expected
}

/// Sinks a..e and the given rules.
fn with_sinks(rules: &str) -> String {
    let mut s = String::new();
    for name in ["a", "b", "c", "d", "e"] {
        s.push_str(&format!("[sinks.{name}]\ntype = \"log\"\n"));
    }
    s.push_str(rules);
    s
}

/// The sink names a finding reaches.
fn sinks_of(rules: &Rules, f: &mut Finding) -> Vec<String> {
    let routing = rules.route(f);
    routing
        .deliveries
        .iter()
        .map(|d| rules.sinks()[d.sink].name.clone())
        .collect()
}

fn finding() -> Finding {
    let mut f = Finding::new(ReportTemplate::ResourceCompliance);
    f.framework = Some("prod-backup-policy".into());
    f.control = Some("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN".into());
    f.status = Some("NON_COMPLIANT".into());
    f.account = Some("111111111111".into());
    f.region = Some("us-east-1".into());
    f.resource_type = Some("AWS::EC2::Instance".into());
    f.resource = Some("AWS::EC2::Instance/i-0123".into());
    f
}

/// One rule to sink `a` matching `field = value` (a TOML value).
fn one_rule(field: &str, value: &str) -> Rules {
    load(&with_sinks(&format!(
        "[[rules]]\nname = \"r\"\nsinks = [\"a\"]\n[rules.match]\n{field} = {value}\n"
    )))
}

fn matches(field: &str, value: &str, f: &Finding) -> bool {
    let rules = one_rule(field, value);
    let mut f = f.clone();
    !rules.route(&mut f).deliveries.is_empty()
}

#[test]
fn globs_are_whole_value_and_case_sensitive() {
    let f = finding();
    assert!(matches("framework", r#""prod-*""#, &f));
    assert!(matches("framework", r#""*-policy""#, &f));
    assert!(matches("framework", r#""*backup*""#, &f));
    assert!(matches("framework", r#""prod-backup-polic?""#, &f));
    assert!(matches("framework", r#""prod-backup-policy""#, &f));
    assert!(matches("framework", r#""*""#, &f));
    // Whole value: no substring matches.
    assert!(!matches("framework", r#""prod""#, &f));
    assert!(!matches("framework", r#""backup*""#, &f));
    assert!(!matches("framework", r#""prod-backup-polic""#, &f));
    // `?` is exactly one character.
    assert!(!matches("framework", r#""prod-backup-polic??""#, &f));
    // Case-sensitive.
    assert!(!matches("framework", r#""PROD-*""#, &f));
    // Regex metacharacters are literal in globs.
    assert!(!matches("framework", r#""prod.backup.policy""#, &f));
}

#[test]
fn regexes_match_the_whole_value() {
    let f = finding();
    assert!(matches("region", r#""re:us-.*""#, &f));
    assert!(matches("region", r#""re:^(us|eu)-.*$""#, &f));
    assert!(matches("region", r#""re:(?i)US-EAST-\\d""#, &f));
    assert!(!matches("region", r#""re:us""#, &f));
    assert!(!matches("region", r#""re:east""#, &f));
    assert!(!matches("region", r#""re:eu-.*""#, &f));
}

#[test]
fn lists_need_one_positive_and_no_negative() {
    let f = finding();
    assert!(matches(
        "account",
        r#"["222222222222", "111111111111"]"#,
        &f
    ));
    assert!(!matches(
        "account",
        r#"["222222222222", "333333333333"]"#,
        &f
    ));
    assert!(matches("region", r#"["eu-*", "re:us-.*"]"#, &f));
    // A negative in the list excludes even when a positive matches.
    assert!(!matches("region", r#"["us-*", "!us-east-1"]"#, &f));
    assert!(matches("region", r#"["us-*", "!us-west-*"]"#, &f));
    // Only negatives: everything not excluded.
    assert!(matches("account", r#""!999999999999""#, &f));
    assert!(!matches("account", r#""!111111111111""#, &f));
    assert!(!matches("account", r#"["!9*", "!1*"]"#, &f));
    assert!(!matches("region", r#""!re:us-.*""#, &f));
    assert!(matches("region", r#""!re:eu-.*""#, &f));
}

#[test]
fn null_fields_fail_positive_and_pass_negative_patterns() {
    let f = finding(); // job_id is null
    assert!(!matches("job_id", r#""*""#, &f));
    assert!(!matches("job_id", r#""re:.*""#, &f));
    assert!(!matches("job_id", r#"["x", "!y"]"#, &f));
    assert!(matches("job_id", r#""!*""#, &f));
    assert!(matches("job_id", r#""!re:.*""#, &f));
    let mut with_job = f.clone();
    with_job.job_id = Some("JOB-1".into());
    assert!(matches("job_id", r#""*""#, &with_job));
    assert!(!matches("job_id", r#""!*""#, &with_job));
}

#[test]
fn every_field_given_must_match() {
    let text = with_sinks(
        r#"
[[rules]]
name = "r"
sinks = ["a"]
[rules.match]
report = "RESOURCE_COMPLIANCE_REPORT"
framework = "prod-*"
control = "BACKUP_*"
status = "NON_COMPLIANT"
account = "1*"
region = "us-*"
environment = "default"
resource_type = "AWS::EC2::*"
resource = "*i-0123"
"#,
    );
    let rules = load(&text);
    let mut f = finding();
    assert_eq!(sinks_of(&rules, &mut f), ["a"]);
    let spoilers: [fn(&mut Finding); 9] = [
        |f| f.report = ReportTemplate::ControlCompliance,
        |f| f.framework = Some("dev".into()),
        |f| f.control = None,
        |f| f.status = Some("COMPLIANT".into()),
        |f| f.account = Some("2".into()),
        |f| f.region = Some("eu-west-1".into()),
        |f| f.account = Some("1".into()), // still 1*, environment stays "default": matches
        |f| f.resource_type = Some("AWS::S3::Bucket".into()),
        |f| f.resource = Some("i-0123x".into()),
    ];
    for (i, spoil) in spoilers.iter().enumerate() {
        let mut g = finding();
        spoil(&mut g);
        let expect_match = i == 6;
        assert_eq!(
            !rules.route(&mut g).deliveries.is_empty(),
            expect_match,
            "spoiler {i}"
        );
    }
}

#[test]
fn report_alias_and_globs() {
    let mut scan = Finding::new(ReportTemplate::ScanJob);
    scan.status = Some("FAILED".into());
    assert!(matches("report", r#""MALWARE_JOB_REPORT""#, &scan));
    assert!(matches("report", r#""SCAN_JOB_REPORT""#, &scan));
    assert!(matches("report", r#""*_JOB_REPORT""#, &scan));
    assert!(!matches("report", r#""!MALWARE_JOB_REPORT""#, &scan));
    assert!(!matches("report", r#""BACKUP_JOB_REPORT""#, &scan));
}

const ORDERED: &str = r#"
[[rules]]
name = "first, continues"
sinks = ["a", "b"]
continue = true
[rules.match]
status = "NON_COMPLIANT"

[[rules]]
name = "second, stops"
sinks = ["b", "c"]
[rules.match]
account = "111111111111"

[[rules]]
name = "third, never reached for 111111111111"
sinks = ["d"]

[[rules]]
name = "fourth"
sinks = ["e"]
"#;

#[test]
fn first_match_wins_continue_goes_on_and_sinks_are_reached_once() {
    let rules = load(&with_sinks(ORDERED));
    let mut f = finding();
    let routing = rules.route(&mut f);
    let sink = |n: &str| rules.sink(n).unwrap().0;
    assert_eq!(
        routing,
        Routing {
            silenced: None,
            deliveries: vec![
                Delivery {
                    sink: sink("a"),
                    rule: 0
                },
                Delivery {
                    sink: sink("b"),
                    rule: 0
                },
                // b again from rule 1: dropped, the first rule keeps it.
                Delivery {
                    sink: sink("c"),
                    rule: 1
                },
            ],
        }
    );
    // Not rule 1's account: rule 0 continues, rule 1 fails, rule 2 matches all and stops.
    let mut g = finding();
    g.account = Some("222222222222".into());
    assert_eq!(sinks_of(&rules, &mut g), ["a", "b", "d"]);
    // Compliant and another account: only the catch-all third rule.
    let mut h = g.clone();
    h.status = Some("COMPLIANT".into());
    assert_eq!(sinks_of(&rules, &mut h), ["d"]);
    assert_eq!(
        rules.rule_names(),
        [
            "first, continues",
            "second, stops",
            "third, never reached for 111111111111",
            "fourth"
        ]
    );
    assert!(rules.rule_continues(0));
    assert!(!rules.rule_continues(1));
    assert_eq!(rules.rule_sinks(1), [sink("b"), sink("c")]);
}

#[test]
fn a_finding_no_rule_matches_goes_nowhere() {
    let rules = one_rule("status", r#""FAILED""#);
    let mut f = finding();
    assert_eq!(rules.route(&mut f), Routing::default());
}

#[test]
fn an_empty_sink_list_drops_what_it_matches() {
    let rules = load(&with_sinks(
        r#"
[[rules]]
name = "ignore compliant"
sinks = []
[rules.match]
status = "COMPLIANT"

[[rules]]
name = "rest"
sinks = ["a"]
"#,
    ));
    let mut f = finding();
    assert_eq!(sinks_of(&rules, &mut f), ["a"]);
    f.status = Some("COMPLIANT".into());
    assert!(sinks_of(&rules, &mut f).is_empty());
}

const SILENCED: &str = r#"
[[rules]]
name = "all"
sinks = ["a"]

[[silences]]
match = { account = "111111111111", control = "BACKUP_*" }
until = 2026-06-14
reason = "expired yesterday"

[[silences]]
match = { account = "111111111111" }
until = "2026-06-15"
reason = "live through today"

[[silences]]
match = { region = "eu-*" }
until = 2027-01-01
reason = "live"
"#;

#[test]
fn live_silences_swallow_findings_and_expired_ones_do_not() {
    let rules = load(&with_sinks(SILENCED));
    let s = rules.silences();
    assert_eq!(s.len(), 3);
    assert!(!s[0].live);
    assert!(s[1].live);
    assert_eq!(s[1].until, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap());
    assert_eq!(s[1].reason, "live through today");

    let mut f = finding();
    assert_eq!(
        rules.route(&mut f),
        Routing {
            silenced: Some(1),
            deliveries: vec![]
        }
    );
    let mut g = finding();
    g.account = Some("222222222222".into());
    assert_eq!(sinks_of(&rules, &mut g), ["a"]);
    g.region = Some("eu-west-1".into());
    assert_eq!(rules.route(&mut g).silenced, Some(2));

    // A day later the second silence has expired too.
    let mut later = opts();
    later.today = NaiveDate::from_ymd_opt(2026, 6, 16).unwrap();
    let rules = load_with(&with_sinks(SILENCED), &later);
    let mut f = finding();
    assert_eq!(sinks_of(&rules, &mut f), ["a"]);

    let trace = rules.explain_silences(&f);
    assert_eq!(trace.len(), 3);
    assert!(!trace[0].matched);
    assert!(
        trace[0]
            .reasons
            .iter()
            .any(|r| r.contains("expired on 2026-06-14"))
    );
    assert!(!trace[1].matched);
    assert!(!trace[2].matched);
    assert_eq!(
        trace[2].reasons,
        [r#"region "us-east-1" does not match "eu-*""#]
    );
}

const ENVIRONMENTS: &str = r#"
[settings]
default_environment = "dev"

[environments.prod]
accounts = ["111111111111"]

[environments.staging]
accounts = ["444444444444"]

[[rules]]
name = "prod"
sinks = ["a"]
match.environment = "prod"

[[rules]]
name = "dev"
sinks = ["b"]
match.environment = "dev"

[[rules]]
name = "other"
sinks = ["c"]
"#;

#[test]
fn environments_come_from_accounts_then_override_then_default() {
    let rules = load(&with_sinks(ENVIRONMENTS));
    let mut f = finding();
    assert_eq!(sinks_of(&rules, &mut f), ["a"]);
    assert_eq!(f.environment, "prod");

    f.account = Some("444444444444".into());
    assert_eq!(sinks_of(&rules, &mut f), ["c"]);
    assert_eq!(f.environment, "staging");

    f.account = Some("999999999999".into());
    assert_eq!(sinks_of(&rules, &mut f), ["b"]);
    assert_eq!(f.environment, "dev");

    f.account = None;
    assert_eq!(sinks_of(&rules, &mut f), ["b"]);
    assert_eq!(f.environment, "dev");

    // --env wins over default_environment, but not over an account's own environment.
    let mut o = opts();
    o.env_override = Some("sandbox".into());
    let rules = load_with(&with_sinks(ENVIRONMENTS), &o);
    let mut f = finding();
    f.account = Some("999999999999".into());
    assert_eq!(sinks_of(&rules, &mut f), ["c"]);
    assert_eq!(f.environment, "sandbox");
    f.account = Some("111111111111".into());
    rules.route(&mut f);
    assert_eq!(f.environment, "prod");
    assert_eq!(rules.environment_of(Some("444444444444")), "staging");
    assert_eq!(rules.environments().len(), 2);
    assert_eq!(rules.settings().default_environment.as_deref(), Some("dev"));
}

#[test]
fn without_default_environment_the_environment_is_default() {
    let rules = load(&with_sinks(
        "[[rules]]\nname = \"r\"\nsinks = [\"a\"]\nmatch.environment = \"default\"\n",
    ));
    let mut f = finding();
    assert_eq!(sinks_of(&rules, &mut f), ["a"]);
    assert_eq!(f.environment, "default");
}

#[test]
fn env_references_are_resolved_everywhere() {
    // SAFETY: the variable names are unique to this test; no other thread reads them.
    unsafe {
        std::env::set_var("AR_RULES_TEST_MATCHING_TOPIC", "arn:aws:sns:us-east-1:1:t");
        std::env::set_var("AR_RULES_TEST_MATCHING_ACCOUNT", "111111111111");
        std::env::set_var("AR_RULES_TEST_MATCHING_ENV", "live");
    }
    let text = r#"
[settings]
default_environment = "${env:AR_RULES_TEST_MATCHING_ENV}"

[environments.prod]
accounts = ["${env:AR_RULES_TEST_MATCHING_ACCOUNT}"]

[sinks.ops]
type = "sns"
topic_arn = "${env:AR_RULES_TEST_MATCHING_TOPIC}"
role = "${ssm:/audit/role}"
literal = "$${env:NOT_RESOLVED}"
nested = { list = ["x-${env:AR_RULES_TEST_MATCHING_ENV}", 3] }

[[rules]]
name = "prod account"
sinks = ["ops"]
match.account = "${env:AR_RULES_TEST_MATCHING_ACCOUNT}"
match.resource = "!$${literal}"
"#;
    let rules = load(text);
    let sink = &rules.sinks()[0];
    assert_eq!(sink.name, "ops");
    assert_eq!(sink.kind, "sns");
    assert_eq!(
        sink.settings["topic_arn"].as_str(),
        Some("arn:aws:sns:us-east-1:1:t")
    );
    // Other schemes and escapes are left for the sink layer.
    assert_eq!(sink.settings["role"].as_str(), Some("${ssm:/audit/role}"));
    assert_eq!(
        sink.settings["literal"].as_str(),
        Some("$${env:NOT_RESOLVED}")
    );
    assert_eq!(sink.settings["nested"]["list"][0].as_str(), Some("x-live"));
    assert_eq!(sink.settings["nested"]["list"][1].as_integer(), Some(3));
    assert!(sink.settings.get("type").is_none());
    assert_eq!(
        rules.settings().default_environment.as_deref(),
        Some("live")
    );
    assert_eq!(rules.environments()[0].accounts, ["111111111111"]);

    let mut f = finding();
    assert_eq!(sinks_of(&rules, &mut f), ["ops"]);
    assert_eq!(f.environment, "prod");
    // In match values `$${` is unescaped: this resource is excluded literally.
    f.resource = Some("${literal}".into());
    assert!(sinks_of(&rules, &mut f).is_empty());
    f.account = Some("222222222222".into());
    f.resource = None;
    assert!(sinks_of(&rules, &mut f).is_empty());
    assert_eq!(f.environment, "live");
}

#[test]
fn without_env_resolution_references_stay_as_written() {
    let text = r#"
[sinks.ops]
type = "sns"
topic_arn = "${env:AR_RULES_TEST_SURELY_UNSET_VARIABLE}"

[[rules]]
name = "r"
sinks = ["ops"]
match.account = "${env:AR_RULES_TEST_SURELY_UNSET_VARIABLE}"
match.region = "re:${env:AR_RULES_TEST_SURELY_UNSET_VARIABLE}"
"#;
    let mut o = opts();
    o.resolve_env = false;
    let (rules, warnings) = Rules::parse(text, "rules.toml", PathBuf::from("."), &o).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        rules.sinks()[0].settings["topic_arn"].as_str(),
        Some("${env:AR_RULES_TEST_SURELY_UNSET_VARIABLE}")
    );
    // And with resolution, the same file fails.
    assert!(Rules::parse(text, "rules.toml", PathBuf::from("."), &opts()).is_err());
}

#[test]
fn explain_gives_one_reason_per_constrained_field() {
    let rules = load(&with_sinks(
        r#"
[[rules]]
name = "prod"
sinks = ["a"]
[rules.match]
status = "NON_COMPLIANT"
account = "!999999999999"
region = "re:^us-.*$"

[[rules]]
name = "sandbox"
sinks = ["b"]
[rules.match]
account = "!999999999999"
job_id = ["re:^us-.*$", "x*"]

[[rules]]
name = "everything"
sinks = ["c"]
"#,
    ));
    let mut f = finding();
    f.account = Some("999999999999".into());
    f.region = None;
    rules.route(&mut f);
    let trace = rules.explain(&f);
    assert_eq!(trace.len(), 3);
    assert_eq!(trace[0].rule, "prod");
    assert!(!trace[0].matched);
    assert_eq!(
        trace[0].reasons,
        [
            r#"status "NON_COMPLIANT" matches "NON_COMPLIANT""#,
            r#"account "999999999999" is excluded by "!999999999999""#,
            r#"region null does not match "re:^us-.*$""#,
        ]
    );
    assert_eq!(
        trace[1].reasons,
        [
            r#"account "999999999999" is excluded by "!999999999999""#,
            r#"job_id null does not match any of "re:^us-.*$", "x*""#,
        ]
    );
    assert!(trace[2].matched);
    assert!(trace[2].reasons.is_empty());
}

/// A tiny deterministic generator (xorshift) so the property test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// The indexed router must agree with a plain walk of `explain` (every rule checked in order).
#[test]
fn indexed_routing_agrees_with_a_plain_walk() {
    let accounts = [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
    ];
    let statuses = ["COMPLIANT", "NON_COMPLIANT", "FAILED"];
    let regions = ["us-east-1", "eu-west-1", "ap-south-1"];
    let account_pats = [
        "\"111111111111\"",
        "[\"222222222222\", \"333333333333\"]",
        "\"!111111111111\"",
        "\"1*\"",
        "[\"444444444444\", \"!444444444444\"]",
    ];
    let status_pats = [
        "\"NON_COMPLIANT\"",
        "[\"FAILED\", \"COMPLIANT\"]",
        "\"re:.*COMPLIANT\"",
        "\"!FAILED\"",
    ];
    let region_pats = [
        "\"us-*\"",
        "\"eu-west-1\"",
        "[\"ap-south-1\", \"us-east-1\"]",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut text = with_sinks("");
    // 150 rules: more than two 64-bit words of the index.
    for i in 0..150 {
        text.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nsinks = [\"{}\"]\ncontinue = {}\n[rules.match]\n",
            rng.pick(&["a", "b", "c", "d", "e"]),
            !rng.next().is_multiple_of(3)
        ));
        if rng.next().is_multiple_of(2) {
            text.push_str(&format!("account = {}\n", rng.pick(&account_pats)));
        }
        if rng.next().is_multiple_of(2) {
            text.push_str(&format!("status = {}\n", rng.pick(&status_pats)));
        }
        if rng.next().is_multiple_of(3) {
            text.push_str(&format!("region = {}\n", rng.pick(&region_pats)));
        }
    }
    let rules = load(&text);
    let mut nonempty = 0;
    for _ in 0..500 {
        let mut f = finding();
        f.account = (!rng.next().is_multiple_of(5)).then(|| rng.pick(&accounts).to_string());
        f.status = Some(rng.pick(&statuses).to_string());
        f.region = Some(rng.pick(&regions).to_string());
        let routing = rules.route(&mut f);
        let expected = walk(&rules, &f);
        nonempty += usize::from(!expected.is_empty());
        assert_eq!(routing.deliveries, expected, "finding {f:?}");
    }
    assert!(
        nonempty > 100,
        "the generated rules should route most findings"
    );
}

/// A finding from one item of a sample report, mapped the way the report reader maps it.
fn sample_finding(report: ReportTemplate, index: usize, item: &serde_json::Value) -> Finding {
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| item.get(*k).and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut f = Finding::new(report);
    f.index = index as u64;
    f.account = text(&["accountId"]);
    f.region = text(&["region"]);
    f.framework = text(&["frameworkName"]);
    f.control = text(&["controlName"]);
    f.status = text(&[
        "resourceComplianceStatus",
        "controlComplianceStatus",
        "jobStatus",
    ]);
    f.resource_type = text(&["resourceType"]);
    f.resource = text(&[
        "resourceId",
        "resourceArn",
        "sourceResourceArn",
        "resourceName",
    ]);
    f.job_id = text(&["backupJobId", "copyJobId", "restoreJobId", "scanJobId"]);
    f
}

/// The example rules.toml routes the sample reports as its comments say.
#[test]
fn the_example_rules_route_the_sample_reports() {
    let mut o = opts();
    o.resolve_env = false;
    o.today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.toml");
    let (rules, warnings) = Rules::load(&path, &o).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    let all = ["audit-log", "ops-email", "backup-slack"];
    let slack = ["audit-log", "backup-slack"];
    let log = ["audit-log"];
    use ReportTemplate::*;
    let expected: Vec<(ReportTemplate, usize, &[&str])> = vec![
        (ResourceCompliance, 1, &all),   // prod, us-east-1, protected-by-plan
        (ResourceCompliance, 9, &slack), // prod, but ap-northeast-1
        (ResourceCompliance, 10, &all),  // prod, recovery point encryption
        (ControlCompliance, 6, &slack),  // prod: control reports name no resource type
        (ControlCompliance, 8, &slack),
        (ControlCompliance, 11, &slack), // dev
        (BackupJob, 1, &log),            // PARTIAL: audit trail only
        (BackupJob, 4, &all),            // prod FAILED
        (BackupJob, 5, &slack),          // dev EXPIRED
        (BackupJob, 10, &log),
        (BackupJob, 11, &slack),
        (CopyJob, 8, &log),
        (RestoreJob, 3, &all),    // prod ABORTED
        (RestoreJob, 11, &slack), // staging FAILED
        (ScanJob, 4, &all),
        (ScanJob, 5, &all),
        (ScanJob, 6, &all),
        (ScanJob, 7, &all),
        (ScanJob, 8, &all),
    ];
    let mut seen = 0;
    let mut silenced = Vec::new();
    for report in ReportTemplate::ALL {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/rules")
            .join(format!("{}.json", report.name()));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let items = json["reportItems"].as_array().unwrap();
        for (i, item) in items.iter().enumerate() {
            let mut f = sample_finding(report, i, item);
            let routing = rules.route(&mut f);
            if let Some(s) = routing.silenced {
                silenced.push((report, i, s));
                continue;
            }
            let got: Vec<&str> = routing
                .deliveries
                .iter()
                .map(|d| rules.sinks()[d.sink].name.as_str())
                .collect();
            let want: &[&str] = expected
                .iter()
                .find(|(r, n, _)| *r == report && *n == i)
                .map_or(&[], |e| e.2);
            if !want.is_empty() {
                seen += 1;
            }
            assert_eq!(got, want, "{report} item {i}: {f:?}");
        }
    }
    assert_eq!(seen, expected.len());
    // The legacy vault's encryption finding is silenced.
    assert_eq!(silenced, [(ControlCompliance, 3, 0)]);
}

/// The hot path (`route_view_memo`: the per-field memo, the index, the final check that skips
/// fields the memo decided exactly) routes every finding as walking the rules in file order
/// does (`explain`), for generated rule files (globs, `!` negations, `re:` regexes,
/// `continue`, a catch-all; 1 100 rules is past the 1 024 kept on the stack) over generated
/// reports of every template.
#[test]
fn memoised_routing_equals_the_file_order_walk_on_generated_rules_and_reports() {
    use audit_router_gen::{Amount, Format, GenOptions, RulesOptions, generate, write_rules};
    for count in [10, 300, 1100] {
        let mut text = Vec::new();
        write_rules(&RulesOptions::new(count), &mut text).unwrap();
        let rules = load(std::str::from_utf8(&text).unwrap());
        let mut memo = audit_router::rules::RouteMemo::new();
        let (mut routed, mut findings) = (0, 0);
        for template in ReportTemplate::ALL {
            for format in [Format::Csv, Format::Json] {
                let mut bytes = Vec::new();
                let opts = GenOptions::new(template, format, Amount::Items(200));
                generate(&opts, &mut bytes).unwrap();
                let name = format!("r.{}", if format == Format::Csv { "csv" } else { "json" });
                audit_router::report::read_report(
                    &bytes[..],
                    &name,
                    Some(template),
                    &mut |mut f| {
                        let mut view = f.view();
                        let mut out = Routing::default();
                        rules.route_view_memo(&mut view, &mut out, &mut memo);
                        f.environment = view.environment.to_string();
                        if count > 300 {
                            // The plain index path (no memo), itself checked against `explain`
                            // in the router's unit tests; `explain` on 1 100 rules is slow.
                            let plain = rules.route(&mut f.clone()).deliveries;
                            assert_eq!(out.deliveries, plain, "{count} rules, {template:?}: {f:?}");
                            routed += usize::from(!plain.is_empty());
                            findings += 1;
                            return;
                        }
                        let expected = walk(&rules, &f);
                        assert_eq!(
                            out.deliveries, expected,
                            "{count} rules, {template:?}: {f:?}"
                        );
                        routed += usize::from(!expected.is_empty());
                        findings += 1;
                    },
                )
                .unwrap();
            }
        }
        // Both outcomes occur often enough for the comparison to mean something.
        assert!(
            routed > findings / 10 && routed < findings,
            "{count}: {routed}/{findings}"
        );
    }
}
