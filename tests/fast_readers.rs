//! The fast report readers against the reference readers (`read_report_reference`: the serde
//! JSON reader and the CSV reader's field-at-a-time record parser), differential: the same
//! findings (every raw field), the same `ReportInfo`, the same error message — on every
//! fixture, on generated reports of every template and format, on edited and cut reports, and
//! through readers that hand out a few bytes at a time (every buffer boundary). The mutation
//! and arbitrary-byte property tests (`proptest_parsers`, through `fuzz/oracle.rs`) and the
//! fuzz targets run the same comparison.

#[path = "../fuzz/oracle.rs"]
mod oracle;

use audit_router::ReportTemplate;
use audit_router::report::{ReadLimits, read_report_reference, read_report_with};
use audit_router_gen::{Amount, Format, GenOptions, generate};
use oracle::{ReadResult, assert_same_read};
use std::io::{self, Read};

/// Hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn fast(input: impl Read, hint: Option<ReportTemplate>, limits: &ReadLimits) -> ReadResult {
    let mut out = Vec::new();
    let info = read_report_with(input, oracle::SOURCE, hint, limits, &mut |f| out.push(f))?;
    Ok((out, info))
}

fn reference(input: impl Read, hint: Option<ReportTemplate>, limits: &ReadLimits) -> ReadResult {
    let mut out = Vec::new();
    let info = read_report_reference(input, oracle::SOURCE, hint, limits, &mut |f| out.push(f))?;
    Ok((out, info))
}

/// Fast and reference agree on `data`, plain and gzipped, with and without a hint, read whole
/// and a few bytes at a time. Returns the reference result.
fn check(data: &[u8], what: &str) -> ReadResult {
    let limits = ReadLimits::default();
    let expected = reference(data, None, &limits);
    for hint in [None, Some(ReportTemplate::BackupJob)] {
        let want = reference(data, hint, &limits);
        assert_same_read(
            &fast(data, hint, &limits),
            &want,
            &format!("{what}, hint {hint:?}"),
        );
    }
    // Tiny reads on small reports only: the reference reader is slow in a debug build.
    let steps: &[usize] = if data.len() < 30_000 {
        &[1, 3, 64, 1000]
    } else {
        &[61, 4099]
    };
    for &step in steps {
        let got = fast(Trickle { data, step }, None, &limits);
        assert_same_read(&got, &expected, &format!("{what}, {step}-byte reads"));
    }
    let zipped = oracle::gzip(data);
    let want = reference(&zipped[..], None, &limits);
    assert_same_read(
        &fast(&zipped[..], None, &limits),
        &want,
        &format!("{what}, gzip"),
    );
    expected
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["aws", "hand"] {
        let path = format!(
            "{}/tests/fixtures/reports/{dir}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn every_fixture_reads_the_same() {
    let all = fixtures();
    assert!(all.len() >= 20, "{} fixtures", all.len());
    for (name, data) in &all {
        let r = check(data, name);
        assert!(
            r.is_ok(),
            "{name}: fixtures are valid reports: {:?}",
            r.err()
        );
    }
}

#[test]
fn every_fixture_cut_anywhere_reads_the_same() {
    for (name, data) in fixtures() {
        if data.starts_with(&[0x1f, 0x8b]) {
            continue;
        }
        let step = (data.len() / 97).max(1);
        for cut in (0..data.len()).step_by(step) {
            let limits = ReadLimits::default();
            let part = &data[..cut];
            let want = reference(part, None, &limits);
            assert_same_read(
                &fast(part, None, &limits),
                &want,
                &format!("{name} cut at {cut}"),
            );
        }
    }
}

fn generated(
    template: ReportTemplate,
    format: Format,
    items: u64,
    seed: u64,
    compact: bool,
) -> Vec<u8> {
    let mut opts = GenOptions::new(template, format, Amount::Items(items));
    opts.seed = seed;
    opts.compact = compact;
    let mut out = Vec::new();
    generate(&opts, &mut out).unwrap();
    out
}

#[test]
fn generated_reports_of_every_template_and_format_read_the_same() {
    for template in ReportTemplate::ALL {
        for (format, compact) in [
            (Format::Json, false),
            (Format::Json, true),
            (Format::Csv, false),
        ] {
            for (items, seed) in [(0, 1), (1, 2), (3, 3), (40, 4), (700, 5)] {
                let data = generated(template, format, items, seed, compact);
                let what = format!("{template} {format:?} compact={compact} {items} items");
                let r = check(&data, &what).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(r.0.len() as u64, items, "{what}");
            }
        }
    }
}

/// Edits that make the fast path stop at a chosen place in a long report: every error and
/// every hand-over to the reference reader keeps the reference reader's message and position.
#[test]
fn edited_generated_reports_read_the_same() {
    let edits: [(&str, &[u8]); 14] = [
        ("a syntax error", b"x"),
        ("a raw control character", b"\x01"),
        ("invalid UTF-8", b"\xff"),
        ("a line break", b"\n"),
        ("a quote", b"\""),
        ("a backslash", b"\\"),
        ("an escape", b"\\u00e9"),
        ("a lone surrogate", b"\\ud800"),
        ("a comma", b","),
        ("a brace", b"}"),
        ("a bracket", b"]"),
        ("a number", b"1.5e3"),
        ("null", b"null"),
        ("a nested value", b"{\"a\":[1,{}]}"),
    ];
    for template in [
        ReportTemplate::ResourceCompliance,
        ReportTemplate::BackupJob,
    ] {
        for (format, compact) in [
            (Format::Json, false),
            (Format::Json, true),
            (Format::Csv, false),
        ] {
            let data = generated(template, format, 150, 9, compact);
            for (k, (what, edit)) in edits.iter().enumerate() {
                for at in [data.len() / 3 + k * 31, data.len() - 40 - k, 40 + k * 7] {
                    let mut d = data.clone();
                    d.splice(at..at, edit.iter().copied());
                    let limits = ReadLimits::default();
                    let want = reference(&d[..], None, &limits);
                    let label = format!("{template} {format:?} compact={compact}: {what} at {at}");
                    assert_same_read(&fast(&d[..], None, &limits), &want, &label);
                    let got = fast(
                        Trickle {
                            data: &d,
                            step: 777,
                        },
                        None,
                        &limits,
                    );
                    assert_same_read(&got, &want, &format!("{label}, 777-byte reads"));
                }
            }
        }
    }
}

/// Shapes the fast path leaves to the reference reader, and the ones it must reject as it does.
#[test]
fn unusual_shapes_read_the_same() {
    let item = r#"{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"FAILED"}"#;
    let cases: Vec<String> = vec![
        format!(r#"{{"version":1,"reportItems":[{item}]}}"#),
        format!(r#"{{"reportItems":[{item}],"trailer":{{"a":[1,2]}}}}"#),
        format!(r#"{{"reportItems":[{item}],"reportItems":[{item}]}}"#),
        format!(r#"{{"reportItems":[{item},{item},]}}"#),
        format!(r#"{{"reportItems":[{item},{item}]}} x"#),
        format!(r#"{{"reportItems":[{item},1]}}"#),
        format!(r#"{{"reportItems":[{item},{item}"#),
        format!(r#"{{"report\u0049tems":[{item}]}}"#),
        format!(
            "{{\"reportItems\":[{item},\n{{\"account\\u0049d\":\"2\",\"region\":\"r\",\"backupJobId\":\"j\",\"jobStatus\":\"x\"}}]}}"
        ),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":"1","accountId":"2","region":"r","backupJobId":"j","jobStatus":"x"}}]}}"#
        ),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":7,"accountId":"2","region":"r","backupJobId":"j","jobStatus":"x"}}]}}"#
        ),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":"2","region":"r","backupJobId":"j","jobStatus":7}}]}}"#
        ),
        format!(r#"{{"reportItems":[{item},{{"region":"r","backupJobId":"j","jobStatus":"x"}}]}}"#),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":"a\"b","region":"\u00e9","backupJobId":"j","jobStatus":"x","n":-0,"f":1e400}}]}}"#
        ),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"x","n":12345678901234567890123}}]}}"#
        ),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"x","d":{}{}}}]}}"#,
            "[".repeat(40),
            "]".repeat(40)
        ),
        format!(
            r#"{{"reportItems":[{item},{{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"x","d":{}{}}}]}}"#,
            "[".repeat(130),
            "]".repeat(130)
        ),
        format!(r#"{{"reportItems":[{item},{{}}]}}"#),
        format!(
            r#"{{"reportItems":[{item},{{"scanJobId":"s","accountId":"1","region":"r","jobStatus":"x"}}]}}"#
        ),
        format!(r#"  {{ "reportItems" : [ {item} , {item} ] }}  "#),
        format!("\n\n{{\n\"reportItems\"\n:\n[\n{item}\n,\n{item}\n]\n}}\n"),
        r#"{"reportItems":[]}"#.to_string(),
        r#"{"reportItems":[1]}"#.to_string(),
        r#"{"reportItems":[{}]}"#.to_string(),
        r#"{"reportItems":{}}"#.to_string(),
        r#"{"reportItems":[{"a":1}]}"#.to_string(),
        r#"{"reportItems":"#.to_string(),
        r#"{}"#.to_string(),
    ];
    for (i, c) in cases.iter().enumerate() {
        let _ = check(c.as_bytes(), &format!("case {i}: {c:.120}"));
    }
    let header: &[u8] = b"\"Account ID\",\"Region\",\"Backup Job ID\",\"Job Status\",\"Note\"\r\n";
    let row: &[u8] = b"\"1\",\"r\",\"j\",\"FAILED\",\"n\"\r\n";
    let csv_rows: [&[u8]; 10] = [
        b"\"1\"\"2\",\"r\",\"j\"\"\",\"\"\"\",\"a \"\"q\"\" b\"\r\n",
        b"\"1\"x,\"r\",\"j\",\"FAILED\",\"n\"\r\n",
        b"1,r,j,FAILED,plain \"quote\"\n",
        b"\"1\",\"r\",\"j\",\"FAILED\"\n",
        b"\"1\",\"r\",\"j\",\"FAILED\",\"n\",\"extra\"\n",
        b"\"1\",\"r\xc3\",\"\xa9j\",\"FAILED\",\"n\"\n",
        b"\"1\",\"\xff\",\"j\",\"FAILED\",\"n\"\n",
        b"\"1\",\"r\",\"multi\nline\",\"FAILED\",\"n\"\n\n\r\n",
        b"\"1\",\"r\",\"j\",\"FAILED\",\"unterminated\n",
        b",,,,\n",
    ];
    for (i, r) in csv_rows.iter().enumerate() {
        let what = String::from_utf8_lossy(r);
        let _ = check(
            &[header, row, r, row].concat(),
            &format!("CSV case {i}: {what:?}"),
        );
        let _ = check(
            &[header, row, r].concat(),
            &format!("CSV case {i}, last: {what:?}"),
        );
    }
}

#[test]
fn size_limits_trip_at_the_same_item() {
    let data = generated(
        ReportTemplate::ResourceCompliance,
        Format::Json,
        3000,
        11,
        false,
    );
    let csv = generated(
        ReportTemplate::ResourceCompliance,
        Format::Csv,
        3000,
        11,
        false,
    );
    for d in [&data, &csv] {
        for (item, total) in [
            (70_000, None),
            (u64::MAX, Some(300_000)),
            (200_000, Some(1_000_000)),
        ] {
            let limits = ReadLimits {
                max_item_bytes: item,
                max_total_bytes: total,
            };
            let want = reference(&d[..], None, &limits);
            assert_same_read(
                &fast(&d[..], None, &limits),
                &want,
                &format!("limits {limits:?}"),
            );
        }
    }
}
