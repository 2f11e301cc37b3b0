use super::*;
use audit_router_sink_api::MATCH_FIELDS;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Read;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn gen_bytes(opts: &GenOptions) -> (Vec<u8>, GenSummary) {
    let mut out = Vec::new();
    let summary = generate(opts, &mut out).unwrap();
    (out, summary)
}

fn opts(t: ReportTemplate, f: Format, n: u64) -> GenOptions {
    GenOptions::new(t, f, Amount::Items(n))
}

fn json_items(bytes: &[u8]) -> Vec<serde_json::Map<String, Value>> {
    let doc: Value = serde_json::from_slice(bytes).expect("generated JSON parses");
    let obj = doc.as_object().expect("top level is an object");
    assert_eq!(obj.len(), 1, "only reportItems at the top level");
    obj["reportItems"]
        .as_array()
        .expect("reportItems is an array")
        .iter()
        .map(|v| v.as_object().expect("item is an object").clone())
        .collect()
}

fn csv_records(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let headers = r.headers().unwrap().iter().map(String::from).collect();
    let records = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (headers, records)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// Each item's keys in document order (serde_json's map does not keep order by default).
struct OrderedKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for OrderedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(OrderedKeys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct KeyDoc {
    #[serde(rename = "reportItems")]
    items: Vec<OrderedKeys>,
}

fn key_sequences(bytes: &[u8]) -> Vec<Vec<String>> {
    let doc: KeyDoc = serde_json::from_slice(bytes).unwrap();
    doc.items.into_iter().map(|k| k.0).collect()
}

#[test]
fn same_seed_gives_same_bytes_and_another_seed_other_bytes() {
    for t in ReportTemplate::ALL {
        for f in [Format::Json, Format::Csv] {
            for gzip in [false, true] {
                let mut o = opts(t, f, 300);
                o.gzip = gzip;
                let (a, sa) = gen_bytes(&o);
                let (b, sb) = gen_bytes(&o);
                assert_eq!(a, b, "{t} {f:?} gzip={gzip}");
                assert_eq!(sa, sb);
                o.seed = 43;
                let (c, _) = gen_bytes(&o);
                assert_ne!(a, c, "{t} {f:?} gzip={gzip}: seed ignored");
            }
        }
    }
}

#[test]
fn json_has_the_requested_items_with_the_samples_keys_in_their_order() {
    for t in ReportTemplate::ALL {
        let samples: HashSet<Vec<String>> =
            key_sequences(fixture(&format!("{}.json", t.name())).as_bytes())
                .into_iter()
                .collect();
        let (bytes, summary) = gen_bytes(&opts(t, Format::Json, 1000));
        assert_eq!(json_items(&bytes).len(), 1000, "{t}");
        assert_eq!(summary.items, 1000);
        assert_eq!(summary.bytes, bytes.len() as u64);
        assert_eq!(summary.output_bytes, bytes.len() as u64);
        let mut seen = HashSet::new();
        for (i, keys) in key_sequences(&bytes).into_iter().enumerate() {
            assert!(
                samples.contains(&keys),
                "{t} item {i}: keys {keys:?} are not those of any sample item, in order"
            );
            seen.insert(keys);
        }
        // Every variant the samples show (with/without controlFrequency, legacy period).
        assert_eq!(seen, samples, "{t}");
    }
}

#[test]
fn csv_header_is_the_samples_and_records_have_the_requested_count() {
    for t in ReportTemplate::ALL {
        let sample = fixture(&format!("{}.csv", t.name()));
        let (bytes, summary) = gen_bytes(&opts(t, Format::Csv, 1500));
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            text.lines().next(),
            sample.lines().next(),
            "{t}: header differs from the sample"
        );
        let (headers, records) = csv_records(&bytes);
        assert_eq!(records.len(), 1500, "{t}");
        assert_eq!(summary.items, 1500);
        assert!(records.iter().all(|r| r.len() == headers.len()));
    }
}

/// JSON and CSV of the same seed hold the same items: every CSV cell equals the JSON value
/// (strings as is, numbers/booleans/objects as JSON text, null and absent as empty).
#[test]
fn csv_and_json_of_one_seed_agree_cell_by_cell_including_quoted_text() {
    let mut quoted = [false; 3]; // comma, quote, non-ASCII seen in some CSV cell
    for t in ReportTemplate::ALL {
        let o = opts(t, Format::Json, 400);
        let items = json_items(&gen_bytes(&o).0);
        let (csv_bytes, _) = gen_bytes(&GenOptions {
            format: Format::Csv,
            ..o.clone()
        });
        let (headers, records) = csv_records(&csv_bytes);
        let keys: Vec<&str> = spec::spec(t).csv_columns.iter().map(|(_, k)| *k).collect();
        assert_eq!(headers.len(), keys.len());
        assert_eq!(records.len(), items.len());
        for (i, (item, rec)) in items.iter().zip(&records).enumerate() {
            for (col, key) in keys.iter().enumerate() {
                let want = match item.get(*key) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                };
                assert_eq!(rec[col], want, "{t} item {i} column {}", headers[col]);
                quoted[0] |= want.contains(',');
                quoted[1] |= want.contains('"');
                quoted[2] |= !want.is_ascii();
            }
        }
    }
    assert_eq!(
        quoted, [true; 3],
        "commas, quotes and unicode all exercised"
    );
}

fn compliance_status_key(t: ReportTemplate) -> &'static str {
    match t {
        ReportTemplate::ControlCompliance => "controlComplianceStatus",
        _ => "resourceComplianceStatus",
    }
}

#[test]
fn non_compliant_fraction_is_within_tolerance_in_json_and_csv() {
    for t in [
        ReportTemplate::ResourceCompliance,
        ReportTemplate::ControlCompliance,
    ] {
        // Tolerance: 4 standard deviations of a binomial fraction over 5 000 items.
        for (p, tol) in [(0.3, 0.026), (0.05, 0.013), (0.0, 0.0), (1.0, 0.0)] {
            let mut o = opts(t, Format::Json, 5_000);
            o.non_compliant = p;
            o.seed = 7;
            let (bytes, summary) = gen_bytes(&o);
            let items = json_items(&bytes);
            let key = compliance_status_key(t);
            let nc = items.iter().filter(|it| it[key] == "NON_COMPLIANT").count() as u64;
            assert!(
                items
                    .iter()
                    .all(|it| it[key] == "NON_COMPLIANT" || it[key] == "COMPLIANT")
            );
            assert_eq!(nc, summary.flagged);
            let frac = nc as f64 / items.len() as f64;
            assert!((frac - p).abs() <= tol, "{t} p={p}: got {frac}");

            o.format = Format::Csv;
            let (bytes, _) = gen_bytes(&o);
            let (headers, records) = csv_records(&bytes);
            let col = headers
                .iter()
                .position(|h| h.ends_with("Compliance Status"));
            let col = col.unwrap();
            let nc_csv = records.iter().filter(|r| r[col] == "NON_COMPLIANT").count() as u64;
            assert_eq!(nc_csv, nc, "{t}: CSV and JSON disagree");
        }
    }
}

#[test]
fn control_compliance_counts_agree_with_status() {
    let (bytes, _) = gen_bytes(&opts(ReportTemplate::ControlCompliance, Format::Json, 2000));
    for it in json_items(&bytes) {
        let nc = it["numResourcesNonCompliant"].as_u64().unwrap();
        assert_eq!(it["controlComplianceStatus"] == "NON_COMPLIANT", nc > 0);
    }
}

#[test]
fn failed_jobs_fraction_and_status_messages() {
    let failures: [(ReportTemplate, &[&str], bool); 4] = [
        (
            ReportTemplate::BackupJob,
            &["FAILED", "ABORTED", "EXPIRED"],
            true,
        ),
        (ReportTemplate::CopyJob, &["FAILED"], false),
        (ReportTemplate::RestoreJob, &["FAILED", "ABORTED"], false),
        (ReportTemplate::ScanJob, &["FAILED", "CANCELED"], true),
    ];
    for (t, statuses, has_message) in failures {
        let mut o = opts(t, Format::Json, 4_000);
        o.failed = 0.2;
        let (bytes, summary) = gen_bytes(&o);
        let items = json_items(&bytes);
        let mut failed = 0u64;
        let mut kinds = HashSet::new();
        for it in &items {
            let status = it["jobStatus"].as_str().unwrap();
            if statuses.contains(&status) {
                failed += 1;
                kinds.insert(status.to_string());
                if has_message {
                    let msg = it["statusMessage"].as_str().unwrap();
                    assert!(!msg.is_empty(), "{t}: failed job without statusMessage");
                }
            }
        }
        assert_eq!(failed, summary.flagged, "{t}");
        assert_eq!(
            kinds.len(),
            statuses.len(),
            "{t}: every failure status used"
        );
        let frac = failed as f64 / items.len() as f64;
        // 4 standard deviations of a binomial fraction over 4 000 items.
        assert!((frac - 0.2).abs() < 0.026, "{t}: {frac}");
    }
}

#[test]
fn size_target_is_reached_within_one_item_and_gzip_holds_the_same_bytes() {
    for f in [Format::Json, Format::Csv] {
        let mut o = GenOptions::new(ReportTemplate::BackupJob, f, Amount::Bytes(300_000));
        let (plain, s) = gen_bytes(&o);
        assert!(plain.len() >= 300_000, "{f:?}: {}", plain.len());
        assert!(plain.len() < 300_000 + 3_000, "{f:?}: {}", plain.len());
        assert_eq!(s.bytes, plain.len() as u64);
        match f {
            Format::Json => assert_eq!(json_items(&plain).len() as u64, s.items),
            Format::Csv => assert_eq!(csv_records(&plain).1.len() as u64, s.items),
        }

        o.gzip = true;
        let (packed, sg) = gen_bytes(&o);
        assert_eq!(&packed[..2], &[0x1f, 0x8b]);
        assert_eq!(gunzip(&packed), plain, "{f:?}");
        assert_eq!(sg.bytes, s.bytes);
        assert_eq!(sg.items, s.items);
        assert_eq!(sg.output_bytes, packed.len() as u64);
        assert!(sg.output_bytes < sg.bytes / 2);
    }
}

#[test]
fn compact_json_holds_the_same_items_as_indented_json() {
    let o = opts(ReportTemplate::ScanJob, Format::Json, 200);
    let (pretty, _) = gen_bytes(&o);
    let (compact, _) = gen_bytes(&GenOptions {
        compact: true,
        ..o.clone()
    });
    assert!(compact.len() < pretty.len());
    assert!(!compact.contains(&b'\n'));
    assert_eq!(json_items(&compact), json_items(&pretty));
}

#[test]
fn empty_reports_are_valid() {
    for f in [Format::Json, Format::Csv] {
        for compact in [false, true] {
            let mut o = opts(ReportTemplate::ResourceCompliance, f, 0);
            o.compact = compact;
            let (bytes, s) = gen_bytes(&o);
            assert_eq!(s.items, 0);
            match f {
                Format::Json => assert!(json_items(&bytes).is_empty()),
                Format::Csv => assert!(csv_records(&bytes).1.is_empty()),
            }
        }
    }
}

#[test]
fn accounts_and_regions_options_are_used_and_validated() {
    let mut o = opts(ReportTemplate::ResourceCompliance, Format::Json, 3000);
    o.accounts = account_ids(12);
    o.regions = vec!["eu-west-3".into(), "sa-east-1".into()];
    let items = json_items(&gen_bytes(&o).0);
    let accounts: HashSet<&str> = items
        .iter()
        .map(|i| i["accountId"].as_str().unwrap())
        .collect();
    let regions: HashSet<&str> = items
        .iter()
        .map(|i| i["region"].as_str().unwrap())
        .collect();
    assert_eq!(accounts.len(), 12);
    assert_eq!(regions, HashSet::from(["eu-west-3", "sa-east-1"]));

    let ids = account_ids(20);
    assert_eq!(ids[0], "111111111111");
    assert_eq!(ids[8], "999999999999");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 20);
    assert!(
        ids.iter()
            .all(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
    );

    let err = |o: GenOptions| generate(&o, Vec::new()).unwrap_err().to_string();
    let base = opts(ReportTemplate::BackupJob, Format::Csv, 1);
    let e = err(GenOptions {
        non_compliant: 1.5,
        ..base.clone()
    });
    assert!(e.contains("--non-compliant") && e.contains("1.5"), "{e}");
    let e = err(GenOptions {
        failed: -0.1,
        ..base.clone()
    });
    assert!(e.contains("--failed"), "{e}");
    let e = err(GenOptions {
        regions: vec!["eu-west-1".into(), "EU West".into()],
        ..base.clone()
    });
    assert!(
        e.contains("--regions") && e.contains("item 1") && e.contains("EU West"),
        "{e}"
    );
    let e = err(GenOptions {
        regions: vec![],
        ..base.clone()
    });
    assert!(e.contains("at least one region"), "{e}");
    let e = err(GenOptions {
        accounts: vec!["12345".into()],
        ..base.clone()
    });
    assert!(e.contains("--accounts") && e.contains("item 0"), "{e}");
}

#[test]
fn json_strings_are_escaped() {
    let mut out = Vec::new();
    write_json_str(&mut out, "a\"b\\c\nd\u{1}é✓").unwrap();
    let back: String = serde_json::from_slice(&out).unwrap();
    assert_eq!(back, "a\"b\\c\nd\u{1}é✓");
    assert_eq!(out, b"\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\xe2\x9c\x93\"");
}

#[test]
fn sizes_parse_with_units_and_reject_garbage() {
    assert_eq!(parse_size("250MB"), Ok(250_000_000));
    assert_eq!(parse_size("25mb"), Ok(25_000_000));
    assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
    assert_eq!(parse_size("64KiB"), Ok(65_536));
    assert_eq!(parse_size("2 MiB"), Ok(2 * 1024 * 1024));
    assert_eq!(parse_size("1000"), Ok(1000));
    assert!(parse_size("MB").unwrap_err().contains("expected a number"));
    assert!(
        parse_size("10XB")
            .unwrap_err()
            .contains("unknown unit \"xb\"")
    );
    assert!(parse_size("1e30").is_err());
}

// --- rules ---

fn rules_doc(n: usize, seed: u64) -> (String, toml::Table) {
    let mut o = RulesOptions::new(n);
    o.seed = seed;
    let mut out = Vec::new();
    let summary = write_rules(&o, &mut out).unwrap();
    assert_eq!(summary.rules, n);
    assert_eq!(summary.bytes, out.len() as u64);
    let text = String::from_utf8(out).unwrap();
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, doc)
}

#[test]
fn rules_file_follows_the_schema_with_n_unique_rules() {
    for n in [1, 10, 1000] {
        let (_, doc) = rules_doc(n, 42);
        assert_eq!(doc["settings"]["default_environment"].as_str(), Some("dev"));
        let envs = doc["environments"].as_table().unwrap();
        assert_eq!(envs["prod"]["accounts"].as_array().unwrap().len(), 3);
        let sinks = doc["sinks"].as_table().unwrap();
        for (name, s) in sinks {
            let kind = s["type"].as_str().unwrap();
            assert!(kind == "sns" || kind == "log", "{name}");
            if kind == "sns" {
                assert!(s["topic_arn"].as_str().unwrap().starts_with("arn:aws:sns:"));
            }
        }
        let rules = doc["rules"].as_array().unwrap();
        assert_eq!(rules.len(), n);
        let mut names = HashSet::new();
        for (i, r) in rules.iter().enumerate() {
            let name = r["name"].as_str().unwrap();
            assert!(
                names.insert(name.to_string()),
                "rule {i}: duplicate name {name}"
            );
            let rs = r["sinks"].as_array().unwrap();
            assert!(!rs.is_empty());
            for s in rs {
                assert!(
                    sinks.contains_key(s.as_str().unwrap()),
                    "rule {i}: unknown sink"
                );
            }
            assert!(r["continue"].is_bool());
            let m = r["match"].as_table().unwrap();
            assert!(!m.is_empty(), "rule {i}: empty match");
            for (field, v) in m {
                assert!(MATCH_FIELDS.contains(&field.as_str()), "rule {i}: {field}");
                let values: Vec<&str> = match v {
                    toml::Value::String(s) => vec![s.as_str()],
                    toml::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
                    other => panic!("rule {i}: {field} = {other:?}"),
                };
                for v in values {
                    if field == "report" {
                        assert!(ReportTemplate::from_name(v).is_some(), "rule {i}: {v}");
                    }
                    if let Some(re) = v.strip_prefix("re:") {
                        regex::Regex::new(re).unwrap_or_else(|e| panic!("rule {i}: {e}"));
                    }
                }
            }
        }
        assert_eq!(
            rules.last().unwrap()["name"].as_str(),
            Some("catch-all-flagged")
        );
    }
}

#[test]
fn rules_are_diverse_and_deterministic() {
    let (a, doc) = rules_doc(1000, 42);
    let (b, _) = rules_doc(1000, 42);
    let (c, _) = rules_doc(1000, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let rules = doc["rules"].as_array().unwrap();
    let text_of = |f: &str| {
        rules
            .iter()
            .filter_map(|r| r["match"].get(f))
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
    };
    assert!(text_of("resource").iter().any(|v| v.contains("re:")));
    assert!(text_of("account").iter().any(|v| v.contains('!')));
    assert!(text_of("control").iter().any(|v| v.contains('*')));
    assert!(text_of("region").iter().any(|v| v.contains('*')));
    let continues = rules
        .iter()
        .filter(|r| r["continue"].as_bool() == Some(true))
        .count();
    assert!(continues > 0 && continues < rules.len());
}

#[test]
fn rules_options_are_validated() {
    let e = write_rules(&RulesOptions::new(0), Vec::new()).unwrap_err();
    assert!(e.to_string().contains("--rules"), "{e}");
    let mut o = RulesOptions::new(5);
    o.regions = vec!["bad region".into()];
    let e = write_rules(&o, Vec::new()).unwrap_err();
    assert!(e.to_string().contains("--regions"), "{e}");
}
