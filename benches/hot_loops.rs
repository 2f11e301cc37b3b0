//! Criterion benchmarks of the hot loops: report parsing (JSON, CSV, gzip) beside the bare
//! serde_json / csv passes over the same bytes, rule matching (10 vs 1 000 generated rules),
//! grouping into digests, and rendering digest data with Handlebars.
//!
//! ```sh
//! cargo bench --bench hot_loops                  # all
//! cargo bench --bench hot_loops -- parse/        # one group
//! cargo bench --bench hot_loops --no-run         # build only (CI)
//! ```
//! Inputs come from `audit-router-gen` (resource compliance, seed 42, 30 % non-compliant), in
//! memory, so the numbers do not depend on the disk.

use audit_router::group::{DEFAULT_MAX_KEPT, Grouper};
use audit_router::report::read_report;
use audit_router::rules::{LoadOptions, Routing, Rules};
use audit_router::sink_api::SourceInfo;
use audit_router::{Finding, ReportTemplate};
use audit_router_gen::{Amount, Format, GenOptions, RulesOptions, generate, write_rules};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use std::hint::black_box;
use std::io::BufReader;
use std::time::Duration;

const ITEMS: u64 = 20_000;

fn report(format: Format, gzip: bool, items: u64) -> Vec<u8> {
    let mut opts = GenOptions::new(
        ReportTemplate::ResourceCompliance,
        format,
        Amount::Items(items),
    );
    opts.gzip = gzip;
    let mut out = Vec::new();
    generate(&opts, &mut out).expect("generating a report in memory");
    out
}

fn rules(count: usize) -> Rules {
    let mut text = Vec::new();
    write_rules(&RulesOptions::new(count), &mut text).expect("generating rules");
    let text = String::from_utf8(text).expect("generated rules are UTF-8");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).expect("a valid date");
    Rules::parse(&text, "rules.toml", ".".into(), &LoadOptions::new(today))
        .expect("generated rules load")
        .0
}

fn findings(items: u64) -> Vec<Finding> {
    let bytes = report(Format::Csv, false, items);
    let mut out = Vec::new();
    read_report(&bytes[..], "r.csv", None, &mut |f| out.push(f)).expect("reading");
    out
}

fn uncompressed_len(format: Format) -> u64 {
    report(format, false, ITEMS).len() as u64
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, format, gzip) in [
        ("json", Format::Json, false),
        ("csv", Format::Csv, false),
        ("json.gz", Format::Json, true),
        ("csv.gz", Format::Csv, true),
    ] {
        let bytes = report(format, gzip, ITEMS);
        // Throughput in uncompressed bytes, as BENCHMARKS.md counts them.
        g.throughput(Throughput::Bytes(uncompressed_len(format)));
        g.bench_with_input(
            BenchmarkId::new("audit-router", name),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let mut n = 0u64;
                    read_report(&bytes[..], "r", None, &mut |f| {
                        n += u64::from(f.status.is_some());
                    })
                    .expect("reading");
                    black_box(n)
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("baseline", name), &bytes, |b, bytes| {
            b.iter(|| baseline(format, gzip, bytes))
        });
    }
    g.finish();
}

/// The bare passes of `tools/baseline`: serde_json into `IgnoredAny`, csv `ByteRecord`s.
fn baseline(format: Format, gzip: bool, bytes: &[u8]) -> u64 {
    let input: Box<dyn std::io::Read + '_> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    match format {
        Format::Json => {
            let mut de =
                serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, input));
            serde::de::IgnoredAny::deserialize(&mut de).expect("valid JSON");
            de.end().expect("valid JSON");
            0
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .buffer_capacity(64 * 1024)
                .from_reader(input);
            let mut record = csv::ByteRecord::new();
            let mut n = 0;
            while reader.read_byte_record(&mut record).expect("valid CSV") {
                n += 1;
            }
            n
        }
    }
}

fn route(c: &mut Criterion) {
    let findings = findings(ITEMS);
    let mut g = c.benchmark_group("route");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(findings.len() as u64));
    for count in [10, 1000] {
        let rules = rules(count);
        let mut batch = findings.clone();
        g.bench_function(BenchmarkId::new("rules", count), |b| {
            let mut routing = Routing::default();
            b.iter(|| {
                let mut routed = 0usize;
                for f in batch.iter_mut() {
                    rules.route_into(f, &mut routing);
                    routed += routing.deliveries.len();
                }
                black_box(routed)
            })
        });
    }
    g.finish();
}

fn group(c: &mut Criterion) {
    let rules = rules(10);
    let mut findings = findings(ITEMS);
    let routed: Vec<(Finding, Routing)> = findings
        .iter_mut()
        .map(|f| {
            let r = rules.route(f);
            (f.clone(), r)
        })
        .filter(|(_, r)| !r.deliveries.is_empty())
        .collect();
    let sinks: Vec<String> = rules.sinks().iter().map(|s| s.name.clone()).collect();
    let mut g = c.benchmark_group("group");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(routed.len() as u64));
    g.bench_function("digests", |b| {
        b.iter(|| {
            let mut grouper = Grouper::new(sinks.clone(), SourceInfo::default(), DEFAULT_MAX_KEPT);
            for (f, r) in &routed {
                grouper.push(f, r, rules.rule_names());
            }
            black_box(grouper.finish())
        })
    });
    g.finish();
}

/// Rendering a digest: its data as a template sees it (`Serialize`, where kept findings' raw
/// fields are written from their text buffers) through a Handlebars template listing every kept
/// finding. A stand-in for the sinks' own templates until the render stage lands here.
fn render(c: &mut Criterion) {
    let rules = rules(10);
    let mut findings = findings(ITEMS);
    let sinks: Vec<String> = rules.sinks().iter().map(|s| s.name.clone()).collect();
    let mut grouper = Grouper::new(sinks, SourceInfo::default(), DEFAULT_MAX_KEPT);
    for f in findings.iter_mut() {
        let r = rules.route(f);
        grouper.push(f, &r, rules.rule_names());
    }
    let digests = grouper.finish();
    let digest = digests
        .iter()
        .max_by_key(|d| d.total)
        .expect("the generated rules route some findings");
    let kept: usize = digest.groups.iter().map(|g| g.findings.len()).sum();
    let mut hb = handlebars::Handlebars::new();
    hb.register_template_string(
        "digest",
        "{{report_title}}: {{total}} findings ({{omitted}} omitted)\n\
         {{#each groups}}{{framework}} / {{control}} — {{count}}\n\
         {{#each findings}}  {{account}} {{region}} {{resource}} {{fields.resourceName}} \
         {{fields.lastEvaluationTime}}\n{{/each}}{{/each}}",
    )
    .expect("a valid template");
    let mut g = c.benchmark_group("render");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(kept as u64));
    g.bench_function("digest_to_json", |b| {
        b.iter(|| black_box(serde_json::to_value(digest).expect("serializable")))
    });
    g.bench_function("handlebars", |b| {
        b.iter(|| black_box(hb.render("digest", digest).expect("renders")))
    });
    g.finish();
}

criterion_group!(benches, parse, route, group, render);
criterion_main!(benches);
