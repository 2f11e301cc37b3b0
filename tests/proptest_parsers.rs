//! Property tests for every parser entry point, on the stable toolchain (`cargo test --test
//! proptest_parsers`). The checks are the fuzz targets' own (`fuzz/oracle.rs`); here proptest
//! drives them, with bounded case counts so `cargo test` stays fast. Run longer by hand with
//! `PROPTEST_CASES=20000 cargo test --release --test proptest_parsers`.
//!
//! Beyond "no panic, a located error", three properties prove nothing is lost:
//! - reports generated from the templates' field tables come back item for item, field for
//!   field, from JSON and from CSV alike (hostile characters included);
//! - S3 keys survive form-URL-encoding in an event;
//! - the indexed router routes every finding exactly as a plain file-order walk does.

#[path = "../fuzz/oracle.rs"]
mod oracle;

use audit_router::event::{MAX_KEY_BYTES, locations_from_event};
use audit_router::location::ReportLocation;
use audit_router::report::schema::{self, Kind, Schema};
use audit_router::report::{ReadLimits, read_report};
use audit_router::rules::Rules;
use audit_router::{Finding, ReportTemplate};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Case count: `n`, or `PROPTEST_CASES` when set (to run longer by hand).
fn cases(n: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(n);
    ProptestConfig {
        cases,
        // Failures are turned into named regression tests (tests/regressions.rs) by hand.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const FIXTURES: [&[u8]; 5] = [
    include_bytes!("fixtures/reports/hand/control.json"),
    include_bytes!("fixtures/reports/hand/resource.csv"),
    include_bytes!("fixtures/reports/hand/scan_job.csv"),
    include_bytes!("fixtures/reports/hand/copy_job.json"),
    include_bytes!("fixtures/reports/aws/BACKUP_JOB_REPORT.csv.gz"),
];

/// A byte edit applied to a fixture.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop::sample::select(vec![
        b"\"".to_vec(),
        b",".to_vec(),
        b"\n".to_vec(),
        b"\r".to_vec(),
        b"{".to_vec(),
        b"]".to_vec(),
        b"null".to_vec(),
        b"\xff\xfe".to_vec(),
        b"\xef\xbb\xbf".to_vec(),
        b"\x1f\x8b".to_vec(),
        b"\"reportItems\":".to_vec(),
        b"\\u0000".to_vec(),
        vec![b' '; 300],
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if !data.is_empty() {
                    data[i % len] ^= b | 1;
                }
            }
            Edit::Insert(i, s) => {
                let at = i % (data.len() + 1);
                data.splice(at..at, s.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
            Edit::Truncate(i) => data.truncate(i % len),
        }
    }
    data
}

/// Strings with everything a CSV or JSON writer must get right, and what a template must escape.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 :/_.-]{0,20}",
        "[\"',\\n\\r\\t;<>&|!@\\\\{}\\[\\] ]{0,12}",
        any::<String>(),
        Just("<!channel>".to_string()),
        Just("=cmd|' /C calc'!A0".to_string()),
        Just("\u{feff}\u{202e}é漢字🙂".to_string()),
    ]
}

/// One generated value for a field: text fields get text, numeric ones numbers.
fn value_for(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Text => hostile_text().prop_map(Value::String).boxed(),
        Kind::Int => prop_oneof![any::<u64>().prop_map(Value::from), Just(Value::from(0))].boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
    }
}

fn template() -> impl Strategy<Value = ReportTemplate> {
    prop::sample::select(ReportTemplate::ALL.to_vec())
}

/// A generated report: its template and items (every field of the template, in table order).
fn items_of(t: ReportTemplate) -> impl Strategy<Value = Vec<Vec<(&'static str, Value)>>> {
    let s: &'static Schema = schema::schema(t);
    let item: Vec<BoxedStrategy<(&'static str, Value)>> = s
        .fields
        .iter()
        .map(|f| value_for(f.kind).prop_map(move |v| (f.key, v)).boxed())
        .collect();
    prop::collection::vec(item, 0..12)
}

fn report() -> impl Strategy<Value = (ReportTemplate, Vec<Vec<(&'static str, Value)>>)> {
    template().prop_flat_map(|t| (Just(t), items_of(t)))
}

fn to_json(items: &[Vec<(&'static str, Value)>]) -> Vec<u8> {
    let items: Vec<Value> = items
        .iter()
        .map(|it| {
            Value::Object(
                it.iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<Map<_, _>>(),
            )
        })
        .collect();
    serde_json::to_vec_pretty(&json!({"reportItems": items})).unwrap()
}

fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn to_csv(t: ReportTemplate, items: &[Vec<(&'static str, Value)>]) -> Vec<u8> {
    let s = schema::schema(t);
    let mut out = s
        .fields
        .iter()
        .map(|f| format!("\"{}\"", f.header))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for it in items {
        out.push_str(
            &it.iter()
                .map(|(_, v)| csv_field(v))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn read(data: &[u8], hint: Option<ReportTemplate>) -> (Vec<Finding>, u64) {
    let mut out = Vec::new();
    let info = read_report(data, "gen", hint, &mut |f| out.push(f))
        .unwrap_or_else(|e| panic!("a generated report must read: {e}"));
    (out, info.items)
}

/// The text a finding field must carry: the generated string, `None` when empty.
fn expect_text(item: &[(&'static str, Value)], key: Option<&str>) -> Option<String> {
    let key = key?;
    let (_, v) = item.iter().find(|(k, _)| *k == key)?;
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn check_roundtrip(t: ReportTemplate, items: &[Vec<(&'static str, Value)>], found: &[Finding]) {
    let s = schema::schema(t);
    assert_eq!(found.len(), items.len(), "items lost or invented");
    for (f, item) in found.iter().zip(items) {
        assert_eq!(f.report, t);
        assert_eq!(f.status, expect_text(item, Some(s.status)));
        assert_eq!(f.account, expect_text(item, Some("accountId")));
        assert_eq!(f.region, expect_text(item, Some("region")));
        assert_eq!(f.framework, expect_text(item, s.framework));
        assert_eq!(f.control, expect_text(item, s.control));
        assert_eq!(f.resource, expect_text(item, s.resource));
        assert_eq!(f.resource_type, expect_text(item, s.resource_type));
        assert_eq!(f.job_id, expect_text(item, s.job_id));
        for (k, v) in item {
            assert_eq!(f.fields.get(k), Some(v), "field {k} changed");
        }
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn report_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        oracle::check_report(&data);
    }

    #[test]
    fn report_mutated_fixtures(
        which in 0..FIXTURES.len(),
        selector in any::<u8>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut data = vec![selector];
        data.extend(apply(FIXTURES[which].to_vec(), &edits));
        oracle::check_report(&data);
    }

}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn reports_lose_nothing_in_json_or_csv(
        (t, items) in report(),
        hint in prop::option::of(template()),
        gz in any::<bool>(),
    ) {
        let json = to_json(&items);
        let csv = to_csv(t, &items);
        let (json, csv) = if gz { (oracle::gzip(&json), oracle::gzip(&csv)) } else { (json, csv) };
        // A hint that disagrees with the content loses to the content, unless there are no items.
        let hint = if items.is_empty() { Some(t) } else { hint };
        let (from_json, n_json) = read(&json, hint);
        let (from_csv, n_csv) = read(&csv, hint);
        prop_assert_eq!(n_json, items.len() as u64);
        prop_assert_eq!(n_csv, items.len() as u64);
        check_roundtrip(t, &items, &from_json);
        check_roundtrip(t, &items, &from_csv);
        // Field order follows each file (serde_json writes keys sorted): compare as maps.
        let as_maps = |f: &[Finding]| serde_json::to_value(f).unwrap();
        prop_assert_eq!(as_maps(&from_json), as_maps(&from_csv), "JSON and CSV disagree");
    }

    #[test]
    fn report_items_over_the_limit_are_errors_not_truncations(
        (t, items) in report(),
        max in 64u64..2048,
    ) {
        let limits = ReadLimits { max_item_bytes: max, max_total_bytes: None };
        for data in [to_json(&items), to_csv(t, &items)] {
            let r = oracle::read_all(&data, Some(t), &limits);
            oracle::check_read(&r, Some(t));
            match r {
                Ok((found, _)) => check_roundtrip(t, &items, &found),
                Err(e) => prop_assert!(
                    e.to_string().contains("max_item_bytes"),
                    "only the limit may fail a valid report: {e}"
                ),
            }
        }
    }

}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn event_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
        oracle::check_event(&data);
    }

    #[test]
    fn event_json_shapes(v in json_value(4)) {
        oracle::check_event(&serde_json::to_vec(&v).unwrap());
        // Wrapped as an SQS body and an SNS message too.
        let inner = v.to_string();
        let sqs = json!({"Records": [{"body": inner, "messageId": "m"}]});
        oracle::check_event(&serde_json::to_vec(&sqs).unwrap());
        let sns = json!({"Type": "Notification", "TopicArn": "arn:t", "MessageId": "m",
                         "Message": inner, "Timestamp": "2026-01-01T00:00:00Z"});
        oracle::check_event(&serde_json::to_vec(&sns).unwrap());
    }

    #[test]
    fn s3_keys_survive_form_encoding(key in "[^\\x00]{1,300}", bucket in "[a-z0-9.-]{3,20}") {
        let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let mut event: Value =
            serde_json::from_slice(include_bytes!("fixtures/events/s3-object-created.json")).unwrap();
        event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
        event["Records"][0]["s3"]["object"]["key"] = json!(encoded);
        let r = locations_from_event(&serde_json::to_vec(&event).unwrap());
        if key.len() > MAX_KEY_BYTES {
            let e = r.unwrap_err().to_string();
            prop_assert!(e.contains("Records[0].s3.object.key") && e.contains("1024"), "{}", e);
        } else {
            let r = r.unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(r.locations, vec![ReportLocation::S3 { bucket, key }]);
        }
    }

    #[test]
    fn rules_arbitrary_text(text in "[\\[\\]a-z_=\"\\n .!*?:^$(){},0-9#-]{0,300}") {
        oracle::check_rules(&text);
    }

    #[test]
    fn rules_mutated_example(edits in prop::collection::vec(edit(), 1..5)) {
        let data = apply(include_bytes!("fixtures/cli/rules.toml").to_vec(), &edits);
        if let Ok(text) = std::str::from_utf8(&data) {
            oracle::check_rules(text);
        }
    }

}

proptest! {
    #![proptest_config(cases(40))]

    #[test]
    fn generated_rules_load_and_route_like_a_plain_walk(
        (text, findings) in generated_rules(),
    ) {
        let (rules, _) = Rules::parse(&text, "gen.toml", ".".into(), &oracle::load_options())
            .unwrap_or_else(|e| panic!("generated rules must load:\n{text}\n{e}"));
        for mut f in findings {
            let routing = rules.route(&mut f);
            oracle::check_routing(&rules, &f, &routing);
        }
    }

}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn templates_with_hostile_values(
        src in prop_oneof![
            Just("{{v}} {{#each l}}{{x}}{{/each}}".to_string()),
            "[{}a-z #/>!\"().0-9]{0,60}",
        ],
        values in prop::collection::vec(hostile_text(), 9),
    ) {
        let mut parts = vec![src];
        parts.extend(values);
        oracle::check_template(&parts);
    }
}

fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "Records",
        "s3",
        "bucket",
        "name",
        "object",
        "key",
        "eventName",
        "body",
        "Sns",
        "Message",
        "Type",
        "TopicArn",
        "detail-type",
        "detail",
        "source",
        "Event",
        "Bucket",
        "version",
        "id",
        "account",
        "time",
        "region",
        "resources",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "ObjectCreated:Put",
            "ObjectRemoved:Delete",
            "Object Created",
            "aws.s3",
            "s3:TestEvent",
            "Notification",
            "b",
            "k%3A",
            "%zz",
            "",
            "{}",
            "{\"bucket\":\"b\",\"key\":\"k\"}",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "[a-z%+:/]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

const VALUES: [&str; 8] = ["a", "b", "ab", "abc", "1", "12", "NON_COMPLIANT", "x-y"];

fn pattern() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "ab",
        "1",
        "12",
        "NON_COMPLIANT",
        "!a",
        "!1*",
        "a*",
        "?b",
        "*",
        "re:^a.*$",
        "re:^(1|12)$",
        "!re:b",
        "x-y",
    ])
    .prop_map(str::to_string)
}

/// A rules file with literal, glob, regex and negated patterns over every field (the index takes
/// the literal ones), `continue`, several sinks, environments and silences; and findings over the
/// same small value set so that rules do match.
fn generated_rules() -> impl Strategy<Value = (String, Vec<Finding>)> {
    let fields = [
        "framework",
        "control",
        "status",
        "account",
        "region",
        "resource",
        "job_id",
    ];
    let matcher = prop::collection::vec(
        (
            prop::sample::select(fields.to_vec()),
            prop::collection::vec(pattern(), 1..4),
        ),
        0..4,
    );
    let report = prop::option::of(prop::sample::select(
        ReportTemplate::ALL
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>(),
    ));
    let rule = (
        matcher,
        report,
        prop::collection::vec(0usize..3, 1..3),
        any::<bool>(),
    );
    let silence = (
        prop::sample::select(fields.to_vec()),
        pattern(),
        any::<bool>(),
    );
    let finding = (
        template(),
        prop::collection::vec(prop::option::of(prop::sample::select(VALUES.to_vec())), 8),
    );
    (
        prop::collection::vec(rule, 1..40),
        prop::collection::vec(silence, 0..3),
        prop::collection::vec(finding, 1..20),
    )
        .prop_map(|(rules, silences, findings)| {
            let mut text = String::from(
                "[environments.prod]\naccounts = [\"1\", \"12\"]\n\n\
                 [sinks.s0]\ntype = \"log\"\n[sinks.s1]\ntype = \"log\"\n[sinks.s2]\ntype = \"log\"\n",
            );
            for (i, (matcher, report, sinks, cont)) in rules.iter().enumerate() {
                let sinks: Vec<String> = {
                    let mut s: Vec<usize> = sinks.clone();
                    s.dedup();
                    s.iter().map(|s| format!("\"s{s}\"")).collect()
                };
                text.push_str(&format!(
                    "\n[[rules]]\nname = \"r{i}\"\nsinks = [{}]\ncontinue = {cont}\n[rules.match]\n",
                    sinks.join(", ")
                ));
                let mut seen = Vec::new();
                for (field, pats) in matcher {
                    if seen.contains(field) {
                        continue;
                    }
                    seen.push(*field);
                    let pats: Vec<String> = pats.iter().map(|p| format!("{p:?}")).collect();
                    text.push_str(&format!("{field} = [{}]\n", pats.join(", ")));
                }
                if let Some(r) = report {
                    text.push_str(&format!("report = \"{r}\"\n"));
                }
                if i % 5 == 4 {
                    text.push_str("environment = \"prod\"\n");
                }
            }
            for (field, pat, live) in silences {
                let until = if live { "2099-01-01" } else { "2020-01-01" };
                text.push_str(&format!(
                    "\n[[silences]]\nmatch = {{ {field} = {pat:?} }}\nuntil = \"{until}\"\nreason = \"r\"\n"
                ));
            }
            let findings = findings
                .into_iter()
                .map(|(t, v)| {
                    let mut f = Finding::new(t);
                    let s = |i: usize| v[i].map(str::to_string);
                    f.framework = s(0);
                    f.control = s(1);
                    f.status = s(2);
                    f.account = s(3);
                    f.region = s(4);
                    f.resource = s(5);
                    f.job_id = s(6);
                    f.resource_type = s(7);
                    f
                })
                .collect();
            (text, findings)
        })
}

proptest! {
    #![proptest_config(cases(128))]

    /// A secret never shows: not through `Secret`'s Display/Debug, not in a redacted URL, not in
    /// a resolution error.
    #[test]
    fn secrets_never_leak(
        secret in "[A-Z0-9]{12,40}",
        host in "[a-z]{3,12}\\.(com|net)",
        user in "[a-z]{0,8}",
    ) {
        use audit_router::secrets::SecretResolver;
        use audit_router::sink_api::Secret;
        use audit_router::sink_api::secret::redact_url;
        let s = Secret::new(secret.clone());
        let printed = format!("{s} {s:?}");
        prop_assert!(!printed.contains(&secret));
        for url in [
            format!("https://{host}/services/T0/B0/{secret}"),
            format!("https://{user}:{secret}@{host}/hook"),
            format!("https://{host}/hook?token={secret}"),
            format!("https://{host}#{secret}"),
            secret.clone(),
        ] {
            let shown = redact_url(&url);
            prop_assert!(!shown.contains(&secret), "{} shown as {}", url, shown);
        }
        let value = secret.clone();
        let resolver = SecretResolver::with_env(None, move |name| {
            (name == "SET").then(|| value.clone())
        });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(resolver.resolve_str("Bearer ${env:SET}")).unwrap();
        prop_assert_eq!(got.expose(), format!("Bearer {secret}"));
        let printed = format!("{got} {got:?}");
        prop_assert!(!printed.contains(&secret));
        for missing in ["${env:UNSET}", "${ssm:/prod/x}", "${env:SET"] {
            let e = rt
                .block_on(resolver.resolve_str(&format!("x ${{env:SET}} {missing}")))
                .unwrap_err()
                .to_string();
            prop_assert!(e.starts_with("secret "), "{}", e);
            prop_assert!(!e.contains(&secret[..12]), "error leaks the value: {}", e);
        }
    }
}
