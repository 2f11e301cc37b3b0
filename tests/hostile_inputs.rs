//! Hostile input at the edges: sizes that would exhaust memory, nesting that would exhaust the
//! stack, keys longer than S3 allows. Each must end in a clear error naming where, never an
//! out-of-memory kill, a stack overflow or a silent truncation. `docs/bad-input.md` lists these
//! tests beside the message a user sees.

use audit_router::event::locations_from_event;
use audit_router::report::{
    MAX_ITEM_BYTES, MAX_TOTAL_BYTES, ReadLimits, ReportError, read_report, read_report_with,
};
use audit_router::rules::{LoadOptions, MAX_RULES_BYTES, Rules};
use audit_router::sink_api::{Escape, TemplateEngine};
use audit_router::{Finding, ReportTemplate};
use serde_json::{Value, json};
use std::io::{self, Read, Write};

const MIB: u64 = 1024 * 1024;

/// A reader that yields `head`, then `fill` repeated for `len` bytes, then `tail`, generated on
/// the fly: a "100 MB line" or a "10 GB report" without the memory. Counts what was read.
struct Lazy {
    head: Vec<u8>,
    fill: Vec<u8>,
    len: u64,
    tail: Vec<u8>,
    pos: u64,
}

impl Lazy {
    fn new(head: &[u8], fill: &[u8], len: u64, tail: &[u8]) -> Self {
        Lazy {
            head: head.to_vec(),
            fill: fill.to_vec(),
            len,
            tail: tail.to_vec(),
            pos: 0,
        }
    }
}

impl Read for Lazy {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (h, f) = (self.head.len() as u64, self.len);
        let p = self.pos;
        let n = if p < h {
            let src = &self.head[p as usize..];
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            n
        } else if p < h + f {
            let off = ((p - h) % self.fill.len() as u64) as usize;
            let left = (h + f - p).min(buf.len() as u64) as usize;
            let src = &self.fill[off..];
            let n = src.len().min(left);
            buf[..n].copy_from_slice(&src[..n]);
            n
        } else {
            let off = (p - h - f) as usize;
            let src = self.tail.get(off..).unwrap_or(&[]);
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            n
        };
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_err(input: impl Read, limits: &ReadLimits) -> (ReportError, Vec<Finding>) {
    let mut found = Vec::new();
    match read_report_with(input, "hostile", None, limits, &mut |f| found.push(f)) {
        Ok(info) => panic!("expected an error, read {info:?}"),
        Err(e) => (e, found),
    }
}

const BACKUP_HEADER: &[u8] =
    b"\"Account ID\",\"Region\",\"Backup Job ID\",\"Job Status\",\"Status Message\"\n";
const BACKUP_ROW: &[u8] = b"\"111111111111\",\"us-east-1\",\"job-1\",\"FAILED\",\"disk full\"\n";
const JSON_ITEM: &[u8] =
    br#"{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"FAILED"},"#;

#[test]
fn default_limits_are_16_mib_per_item_and_10_gib_per_report() {
    let d = ReadLimits::default();
    assert_eq!(d.max_item_bytes, 16 * MIB);
    assert_eq!(d.max_total_bytes, Some(10 * 1024 * MIB));
    assert_eq!(
        (MAX_ITEM_BYTES, MAX_TOTAL_BYTES),
        (16 * MIB, 10 * 1024 * MIB)
    );
}

#[test]
fn csv_line_of_100_mb_stops_at_the_item_limit() {
    let mut head = BACKUP_HEADER.to_vec();
    head.extend_from_slice(BACKUP_ROW);
    head.extend_from_slice(b"\"111111111111\",\"us-east-1\",\"job-2\",\"FAILED\",\"");
    let mut lazy = Lazy::new(&head, &[b'x'; 4096], 100 * MIB, b"\"\n");
    let mut found = Vec::new();
    let e = read_report(&mut lazy, "big.csv", None, &mut |f| found.push(f)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ReportError::TooLarge { .. }), "{msg}");
    assert_eq!(
        msg,
        "big.csv: item 1 (the CSV record at line 3) is larger than the 16 MiB limit \
         (max_item_bytes = 16777216); an Audit Manager item is a few KiB; the report is corrupt \
         or not a report"
    );
    assert_eq!(found.len(), 1, "the item before the big one was read");
    assert!(
        lazy.pos < 17 * MIB,
        "stopped after {} bytes, not at the limit",
        lazy.pos
    );
}

#[test]
fn json_item_over_the_limit_names_the_item() {
    let mut head = br#"{"reportItems":["#.to_vec();
    head.extend_from_slice(JSON_ITEM);
    head.extend_from_slice(br#"{"accountId":"1","region":"r","backupJobId":"j","jobStatus":""#);
    let lazy = Lazy::new(&head, &[b'A'; 4096], 40 * MIB, b"\"}]}");
    let (e, found) = read_err(lazy, &ReadLimits::default());
    let msg = e.to_string();
    assert!(
        msg.starts_with("hostile: item 1 is larger than the 16 MiB limit (max_item_bytes"),
        "{msg}"
    );
    assert_eq!(found.len(), 1);
}

#[test]
fn item_limit_is_per_item_not_per_report() {
    // 3 MiB of small items, three times a 1 MiB item limit in all: fine.
    let limits = ReadLimits {
        max_item_bytes: MIB,
        ..ReadLimits::default()
    };
    let head = br#"{"reportItems":["#;
    let tail = br#"{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"x"}]}"#;
    let items = 3 * MIB / JSON_ITEM.len() as u64;
    let lazy = Lazy::new(head, JSON_ITEM, items * JSON_ITEM.len() as u64, tail);
    let mut n = 0u64;
    let info = read_report_with(lazy, "many.json", None, &limits, &mut |_| n += 1).unwrap();
    assert_eq!(info.items, n);
    assert_eq!(n, items + 1);
}

#[test]
fn endless_report_stops_at_the_total_limit() {
    // The "10 GB report", scaled: an endless stream of valid items against an 8 MiB cap.
    let lazy = Lazy::new(br#"{"reportItems":["#, JSON_ITEM, u64::MAX / 2, b"");
    let limits = ReadLimits {
        max_total_bytes: Some(8 * MIB),
        ..ReadLimits::default()
    };
    let (e, found) = read_err(lazy, &limits);
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "hostile: the report (decoded, {} items read before the limit) is larger than the \
             8 MiB limit (max_total_bytes = 8388608)",
            found.len()
        )),
        "{msg}"
    );
    assert!(found.len() > 100_000);
}

#[test]
fn gzip_bomb_stops_at_the_total_limit() {
    let mut text = br#"{"reportItems":["#.to_vec();
    for _ in 0..(4 * MIB as usize / JSON_ITEM.len()) {
        text.extend_from_slice(JSON_ITEM);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 200 * 1024, "{} compressed bytes", gz.len());
    let limits = ReadLimits {
        max_total_bytes: Some(MIB),
        ..ReadLimits::default()
    };
    let (e, _) = read_err(&gz[..], &limits);
    assert!(e.to_string().contains("max_total_bytes = 1048576"), "{e}");
    // Unlimited, the same report reads (the limit, not the gzip, stopped it).
    let limits = ReadLimits {
        max_total_bytes: None,
        ..ReadLimits::default()
    };
    let (e, found) = read_err(&gz[..], &limits);
    assert!(e.to_string().contains("truncated"), "{e}");
    assert!(found.len() > 50_000);
}

#[test]
fn endless_whitespace_is_an_error_not_a_growing_buffer() {
    let lazy = Lazy::new(b"", &b" \n\t".repeat(1024), 1 << 40, b"");
    let start = std::time::Instant::now();
    let (e, _) = read_err(lazy, &ReadLimits::default());
    // Found while writing this test: the blank prefix was rescanned from its start on every
    // 8 KiB chunk (quadratic: 16 MiB took over 60 s). Linear, it is well under a second.
    let took = start.elapsed();
    assert!(took.as_secs() < 20, "16 MiB of blanks took {took:?}");
    assert_eq!(
        e.to_string(),
        "hostile: the blank text before the first item is larger than the 16 MiB limit \
         (max_item_bytes = 16777216); the report is nothing but whitespace so far"
    );
}

#[test]
fn huge_top_level_json_value_and_csv_header() {
    let lazy = Lazy::new(
        br#"{"version":""#,
        &[b'v'; 4096],
        20 * MIB,
        br#"","reportItems":[]}"#,
    );
    let (e, _) = read_err(lazy, &ReadLimits::default());
    assert!(
        e.to_string().starts_with(
            "hostile: a top-level JSON key or value outside \"reportItems\" is larger"
        ),
        "{e}"
    );
    let lazy = Lazy::new(b"\"Account ID\",\"", &[b'h'; 4096], 20 * MIB, b"\"\n");
    let (e, _) = read_err(lazy, &ReadLimits::default());
    assert!(
        e.to_string()
            .starts_with("hostile: the CSV header is larger"),
        "{e}"
    );
}

/// Within the item limit, a line of commas is millions of fields: a header of 8 M columns used
/// to build a name and a column for each (1.8 GB and 15 s through the CLI: a 128 MB Lambda
/// would be killed), a row of them 8 bytes of field end each. The header is refused by its
/// column count; a row's extra fields are counted, not kept, and named in the error.
#[test]
fn csv_lines_of_millions_of_fields_are_errors_not_memory() {
    let lazy = Lazy::new(b"\"Account ID\",\"Region\"", &[b','; 4096], 2 * MIB, b"\n");
    let (e, _) = read_err(lazy, &ReadLimits::default());
    assert_eq!(
        e.to_string(),
        format!(
            "hostile: invalid CSV at line 1: the CSV header has {} columns; at most 4096 are \
             read (an Audit Manager report has about 20)",
            2 * MIB + 2
        )
    );
    let mut head = BACKUP_HEADER.to_vec();
    head.extend_from_slice(BACKUP_ROW);
    head.extend_from_slice(b"1,r,j,FAILED,m");
    let lazy = Lazy::new(&head, &[b','; 4096], 2 * MIB, b"\n");
    let (e, found) = read_err(lazy, &ReadLimits::default());
    assert_eq!(found.len(), 1, "the good row before it was delivered");
    assert_eq!(
        e.to_string(),
        format!(
            "hostile: item 1 (line 3): expected 5 fields (as in the header), found {}",
            2 * MIB + 5
        )
    );
}

/// A JSON item of a million short keys (within the item limit) checked each new key against
/// every earlier one: 1.5 M keys ran for over 10 minutes without finishing. Past 4 096 keys the
/// item is a positioned error; below, keys are found through an index (linear).
#[test]
fn json_item_of_a_million_keys_is_an_error_not_quadratic_time() {
    let mut head =
        br#"{"reportItems":[{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"FAILED""#
            .to_vec();
    head.extend_from_slice(b",");
    let keys: String = (0..60_000).map(|i| format!(r#""k{i}":1,"#)).collect();
    let lazy = Lazy::new(&head, keys.as_bytes(), keys.len() as u64, br#""z":1}]}"#);
    let (e, found) = read_err(lazy, &ReadLimits::default());
    assert!(found.is_empty());
    let text = e.to_string();
    assert!(
        text.starts_with("hostile: invalid JSON at line 1, column ")
            && text.contains(
                "the item has more than 4096 keys (an Audit Manager item has about 20) \
                 (while reading item 0)"
            ),
        "{text}"
    );
    // 4 000 keys (under the bound), each written twice: read, the later values win.
    let keys: String = (0..2)
        .flat_map(|pass| (0..2_000).map(move |i| format!(r#","k{i}":"{pass}""#)))
        .collect();
    let mut json =
        br#"{"reportItems":[{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"FAILED""#
            .to_vec();
    json.extend_from_slice(keys.as_bytes());
    json.extend_from_slice(b"}]}");
    let mut found = Vec::new();
    read_report(&json[..], "wide.json", None, &mut |f| found.push(f)).expect("reads");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].fields.len(), 4 + 2_000);
    assert_eq!(found[0].fields.get_str("k0"), Some("1"));
    assert_eq!(found[0].fields.get_str("k1999"), Some("1"));
}

#[test]
fn deep_json_nesting_is_a_parse_error_not_a_stack_overflow() {
    let mut data =
        br#"{"reportItems":[{"accountId":"1","region":"r","backupJobId":"j","jobStatus":"F","x":"#
            .to_vec();
    data.extend(std::iter::repeat_n(b'[', 100_000));
    let (e, _) = read_err(&data[..], &ReadLimits::default());
    let msg = e.to_string();
    assert!(
        msg.contains("recursion limit exceeded") && msg.contains("item 0"),
        "{msg}"
    );
    // The same in an event.
    let mut event = br#"{"Records":"#.to_vec();
    event.extend(std::iter::repeat_n(b'[', 100_000));
    let e = locations_from_event(&event).unwrap_err().to_string();
    assert!(e.contains("recursion limit exceeded"), "{e}");
}

fn direct_event(key: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"bucket": "b", "key": key})).unwrap()
}

fn s3_event(encoded_key: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(include_bytes!("fixtures/events/s3-object-created.json")).unwrap();
    v["Records"][0]["s3"]["object"]["key"] = json!(encoded_key);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn s3_keys_longer_than_1024_bytes_are_errors_naming_the_field() {
    let ok = "k".repeat(1024);
    assert_eq!(
        locations_from_event(&direct_event(&ok))
            .unwrap()
            .locations
            .len(),
        1
    );
    let e = locations_from_event(&direct_event(&format!("{ok}k")))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "key: object key is 1025 bytes, longer than S3 allows (1024 bytes once URL-decoded)"
        ),
        "{e}"
    );
    // URL-decoded length counts: 400 × "%C3%A9" is 2400 characters but 800 bytes.
    let encoded = "%C3%A9".repeat(400);
    assert!(locations_from_event(&s3_event(&encoded)).is_ok());
    let e = locations_from_event(&s3_event(&format!("{encoded}{}", "a".repeat(225))))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("Records[0].s3.object.key: object key is 1025 bytes,"),
        "{e}"
    );
    // Still encoded, it may take 3 characters a byte; beyond that it is rejected before decoding.
    let e = locations_from_event(&s3_event(&"%C3%A9".repeat(513)))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("Records[0].s3.object.key: object key is 3078 bytes URL-encoded, longer"),
        "{e}"
    );
}

#[test]
fn a_megabyte_key_is_rejected_without_echoing_it() {
    let key = "a%zz".repeat(256 * 1024);
    for event in [s3_event(&key), direct_event(&key)] {
        let e = locations_from_event(&event).unwrap_err().to_string();
        assert!(
            e.contains("longer than S3 allows"),
            "{}",
            &e[..200.min(e.len())]
        );
        assert!(
            e.len() < 300,
            "an error of {} bytes echoes the key",
            e.len()
        );
    }
}

fn today() -> LoadOptions {
    LoadOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap())
}

#[test]
fn rules_file_over_the_limit_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    let line = format!("# {}\n", "x".repeat(1022));
    for _ in 0..=(MAX_RULES_BYTES / 1024) {
        f.write_all(line.as_bytes()).unwrap();
    }
    drop(f);
    let e = Rules::load(&path, &today()).unwrap_err().to_string();
    assert!(
        e.ends_with(&format!(
            "rules.toml:1:1: error: cannot read the rules file: {} bytes or more; a rules file \
             is at most {MAX_RULES_BYTES} bytes (4 MiB)",
            MAX_RULES_BYTES + 1
        )),
        "{e}"
    );
}

#[test]
fn deeply_nested_toml_is_an_error_not_a_stack_overflow() {
    for depth in [1_000, 100_000] {
        for open in ["[", "{a="] {
            let text = format!("x = {}", open.repeat(depth));
            let e = Rules::parse(&text, "deep.toml", ".".into(), &today()).unwrap_err();
            assert!(e.diagnostics.iter().any(|d| d.is_error()), "{e}");
        }
    }
}

#[test]
fn template_sort_of_mixed_numbers_and_strings_does_not_panic() {
    // Numbers compare as numbers and strings as text: not a total order across the two, which
    // Rust's sort may detect and panic on for long slices.
    let mut l = Vec::new();
    for i in 0..500 {
        l.push(json!({"x": i * 7 % 101}));
        l.push(json!({"x": format!("{}", i * 13 % 97)}));
    }
    let p: Vec<Value> = l.iter().map(|o| o["x"].clone()).collect();
    for t in [
        "{{#each (sort_by l \"x\")}}{{x}},{{/each}}",
        "{{#each (sort p)}}{{this}},{{/each}}",
    ] {
        let mut e = TemplateEngine::new(Escape::None);
        e.register("t", t, "t.hbs").unwrap();
        let out = e.render("t", &json!({"l": l, "p": p})).unwrap();
        assert_eq!(out.matches(',').count(), 1000);
    }
}

#[test]
fn report_template_hint_never_overrides_content() {
    // A BACKUP_JOB file name on a scan job report: the content wins, nothing is dropped.
    let data =
        br#"{"reportItems":[{"accountId":"1","region":"r","scanJobId":"s","jobStatus":"FAILED"}]}"#;
    let mut found = Vec::new();
    let info = read_report(&data[..], "x", Some(ReportTemplate::BackupJob), &mut |f| {
        found.push(f)
    })
    .unwrap();
    assert_eq!(info.template, Some(ReportTemplate::ScanJob));
    assert_eq!(found.len(), 1);
}
