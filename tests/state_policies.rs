//! The state stage's decisions through the library's route path (`route_report_with_state`),
//! report by report, without S3: `min_findings`, `resolved = false`, a rule's own `notify`, a
//! digest full of ongoing findings making room for new ones, an unreadable previous state, and
//! the rules keys' errors. The S3 store and the Lambda are `tests/state_e2e.rs`'s.

use audit_router::location::ReportLocation;
use audit_router::pipeline::{ReportRun, RouteOptions, StateInput, route_report_with_state};
use audit_router::rules::{LoadOptions, Rules};
use audit_router::sink_api::Change;
use audit_router::state::document::{Header, STATE_VERSION};
use chrono::NaiveDate;
use serde_json::json;

fn rules(text: &str) -> Rules {
    let opts = LoadOptions::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    Rules::parse(text, "rules.toml", ".".into(), &opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// A resource compliance report: each resource NON_COMPLIANT for `control`, account 1…1.
fn report(resources: &[(&str, &str)]) -> Vec<u8> {
    let items: Vec<_> = resources
        .iter()
        .map(|(control, r)| {
            json!({
                "accountId": "111111111111", "region": "us-east-1", "frameworkName": "fw",
                "controlName": control, "resourceId": r, "resourceType": "AWS::EC2::Volume",
                "resourceComplianceStatus": "NON_COMPLIANT",
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "reportItems": items })).unwrap()
}

/// One day of the stream: the report routed with the previous day's document; returns the run
/// (its `state.document` is the next day's previous).
fn day(
    rules: &Rules,
    date: u32,
    resources: &[(&str, &str)],
    previous: Option<&ReportRun>,
) -> ReportRun {
    day_with(rules, date, resources, previous, RouteOptions::default())
}

fn day_with(
    rules: &Rules,
    date: u32,
    resources: &[(&str, &str)],
    previous: Option<&ReportRun>,
    opts: RouteOptions,
) -> ReportRun {
    let date = NaiveDate::from_ymd_opt(2026, 11, date).unwrap();
    let header = Header {
        audit_router_state: STATE_VERSION,
        report: format!("r-{date}.json"),
        report_etag: None,
        template: audit_router::ReportTemplate::ResourceCompliance,
        report_time: format!("{date}T00:00:00Z"),
        date,
        stream: None,
        previous: None,
        created_at: "2026-12-01T00:00:00Z".into(),
    };
    let input = StateInput {
        header,
        previous: previous.map(|p| {
            (
                "previous".to_owned(),
                p.state.as_ref().unwrap().document.clone(),
            )
        }),
    };
    let location = ReportLocation::Local(format!("r-{date}.json").into());
    route_report_with_state(rules, &report(resources)[..], &location, &opts, Some(input)).unwrap()
}

fn quiet(run: &ReportRun) -> Vec<(String, String)> {
    run.state
        .as_ref()
        .unwrap()
        .quiet
        .iter()
        .map(|q| (q.sink.clone(), q.reason.clone()))
        .collect()
}

fn listed(run: &ReportRun, sink: &str) -> Vec<(String, Option<Change>)> {
    let d = run
        .digests
        .iter()
        .find(|d| d.sink == sink)
        .expect("a digest");
    let mut v: Vec<_> = d
        .groups
        .iter()
        .flat_map(|g| &g.findings)
        .map(|f| (f.resource.clone().unwrap(), f.change))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

const C: &str = "CTL";

#[test]
fn min_findings_holds_new_findings_back_until_enough_and_then_lists_them() {
    let r = rules(
        r#"
[sinks.s]
type = "log"
notify = "changes"
min_findings = 3
[[rules]]
name = "all"
sinks = ["s"]
"#,
    );
    let d1 = day(&r, 1, &[(C, "a"), (C, "b")], None);
    assert!(d1.digests.is_empty());
    assert_eq!(
        quiet(&d1),
        [("s".into(), "2 new (min_findings = 3), none resolved".into())]
    );
    // Day 2: a and b were never listed; with c that makes 3 to announce: sent, all three listed
    // (a and b ongoing, c new).
    let d2 = day(&r, 2, &[(C, "a"), (C, "b"), (C, "c")], Some(&d1));
    assert_eq!(
        listed(&d2, "s"),
        [
            ("a".into(), Some(Change::Ongoing)),
            ("b".into(), Some(Change::Ongoing)),
            ("c".into(), Some(Change::New))
        ]
    );
    // Day 3: nothing new, nothing resolved: quiet again.
    let d3 = day(&r, 3, &[(C, "a"), (C, "b"), (C, "c")], Some(&d2));
    assert!(d3.digests.is_empty(), "{:?}", d3.digests);
    assert!(
        quiet(&d3)[0].1.starts_with("nothing new since 2026-11-02"),
        "{:?}",
        quiet(&d3)
    );
}

#[test]
fn resolved_false_neither_lists_nor_sends_fixes() {
    let r = rules(
        r#"
[sinks.fixes]
type = "log"
notify = "changes"
[sinks.quiet]
type = "log"
notify = "changes"
resolved = false
[[rules]]
name = "all"
sinks = ["fixes", "quiet"]
"#,
    );
    let d1 = day(&r, 1, &[(C, "a"), (C, "b")], None);
    let d2 = day(&r, 2, &[(C, "a")], Some(&d1));
    // `fixes` is told b was resolved; `quiet` is told nothing.
    assert_eq!(d2.digests.len(), 1);
    let c = d2.digests[0].changes.as_ref().unwrap();
    assert_eq!((d2.digests[0].sink.as_str(), c.resolved), ("fixes", 1));
    assert_eq!(c.resolved_findings[0].resource.as_deref(), Some("b"));
    assert_eq!(c.resolved_findings[0].change, Some(Change::Resolved));
    assert_eq!(quiet(&d2)[0].0, "quiet");
}

#[test]
fn a_rules_own_notify_applies_to_the_findings_it_routes() {
    let r = rules(
        r#"
[sinks.s]
type = "log"
notify = "changes"
[[rules]]
name = "critical"
sinks = ["s"]
notify = "always"
[rules.match]
control = "CRIT"
[[rules]]
name = "rest"
sinks = ["s"]
"#,
    );
    let d1 = day(&r, 1, &[("CRIT", "a"), (C, "b")], None);
    // Day 2: nothing new. The critical finding is listed again (its rule says always), b is
    // counted only.
    let d2 = day(&r, 2, &[("CRIT", "a"), (C, "b")], Some(&d1));
    assert_eq!(listed(&d2, "s"), [("a".into(), Some(Change::Ongoing))]);
    let c = d2.digests[0].changes.as_ref().unwrap();
    assert_eq!((c.new, c.ongoing, c.unlisted), (0, 2, 1));
}

#[test]
fn a_full_digest_makes_room_for_new_findings() {
    let r = rules(
        r#"
[sinks.s]
type = "log"
[[rules]]
name = "all"
sinks = ["s"]
"#,
    );
    let opts = RouteOptions {
        max_kept: 2,
        ..RouteOptions::default()
    };
    let old = [(C, "a"), (C, "b"), (C, "c")];
    let d1 = day_with(&r, 1, &old, None, opts.clone());
    // Day 2: three ongoing first in the report, the new one last; only 2 kept: the new one is.
    let d2 = day_with(
        &r,
        2,
        &[(C, "a"), (C, "b"), (C, "c"), (C, "z")],
        Some(&d1),
        opts,
    );
    let l = listed(&d2, "s");
    assert_eq!(l.len(), 2);
    assert!(l.contains(&("z".into(), Some(Change::New))), "{l:?}");
    assert_eq!(d2.digests[0].omitted, 2);
}

#[test]
fn an_unreadable_previous_state_is_reported_and_everything_is_new() {
    let r = rules("[sinks.s]\ntype = \"log\"\n[[rules]]\nname = \"all\"\nsinks = [\"s\"]\n");
    let d1 = day(&r, 1, &[(C, "a")], None);
    let mut broken = d1;
    broken.state.as_mut().unwrap().document = b"not gzip".to_vec();
    let d2 = day(&r, 2, &[(C, "a")], Some(&broken));
    let s = d2.state.as_ref().unwrap();
    assert!(
        s.previous_error.as_deref().unwrap().contains("gzip"),
        "{s:?}"
    );
    assert_eq!(listed(&d2, "s"), [("a".into(), Some(Change::New))]);
    assert!(d2.digests[0].changes.as_ref().unwrap().first_report);
}

#[test]
fn policy_keys_are_checked_with_line_and_column() {
    let opts = LoadOptions::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    let text = r#"[sinks.s]
type = "log"
notify = "sometimes"
repeat_after = "12h"
min_findings = -1
[[rules]]
name = "r"
sinks = ["s"]
resolved = "yes"
"#;
    let err = Rules::parse(text, "rules.toml", ".".into(), &opts)
        .unwrap_err()
        .to_string();
    for want in [
        "rules.toml:3:10: error: sinks.s.notify: expected \"always\" or \"changes\", found \"sometimes\"",
        "rules.toml:4:16: error: sinks.s.repeat_after: expected a number of days or weeks",
        "rules.toml:5:16: error: sinks.s.min_findings: expected a whole number from 0 to 1000000000, found -1",
        "rules.toml:9:12: error: rules[0].resolved: expected true or false, found a string",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}
