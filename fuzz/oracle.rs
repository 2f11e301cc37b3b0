//! The checks behind every fuzz target and property test: one oracle, two drivers.
//!
//! `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`) feed it libFuzzer's bytes; the stable-toolchain
//! property tests (`tests/proptest_*.rs`) include this same file and feed it proptest's values.
//! Each `check_*` panics (a libFuzzer crash, a proptest failure) when an invariant breaks; an
//! error *returned* by audit-router for bad input is fine, as long as it says where and what.
//!
//! Only depends on what the root crate already depends on, so both drivers compile it.
#![allow(dead_code)]

use audit_router::event::{
    EventLocations, MAX_KEY_BYTES, locations_from_event, locations_from_value,
};
use audit_router::location::ReportLocation;
use audit_router::report::{
    ReadLimits, ReportError, ReportInfo, read_report, read_report_reference, read_report_with,
};
use audit_router::rules::{LoadOptions, Routing, Rules};
use audit_router::sink_api::samples::{sample_digest, sample_findings};
use audit_router::sink_api::{Escape, RenderContext, TemplateEngine, render_data};
use audit_router::{Finding, ReportTemplate};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;

pub const SOURCE: &str = "fuzz-report";

/// The template hint a selector byte stands for: none, or one of the six.
pub fn hint_of(selector: u8) -> Option<ReportTemplate> {
    match selector % 7 {
        0 => None,
        n => Some(ReportTemplate::ALL[n as usize - 1]),
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    e.write_all(data).expect("gzip into a Vec");
    e.finish().expect("gzip into a Vec")
}

pub type ReadResult = Result<(Vec<Finding>, ReportInfo), ReportError>;

pub fn read_all(data: &[u8], hint: Option<ReportTemplate>, limits: &ReadLimits) -> ReadResult {
    let mut out = Vec::new();
    let info = read_report_with(data, SOURCE, hint, limits, &mut |f| out.push(f))?;
    Ok((out, info))
}

/// [`read_all`] through the reference readers only (no fast path).
pub fn read_all_reference(
    data: &[u8],
    hint: Option<ReportTemplate>,
    limits: &ReadLimits,
) -> ReadResult {
    let mut out = Vec::new();
    let info = read_report_reference(data, SOURCE, hint, limits, &mut |f| out.push(f))?;
    Ok((out, info))
}

/// The fast readers' answer is the reference readers': the same findings (every raw field)
/// and info, or the same error, message and position included.
pub fn assert_same_read(fast: &ReadResult, reference: &ReadResult, what: &str) {
    match (fast, reference) {
        (Ok((ff, fi)), Ok((rf, ri))) => {
            assert_eq!(fi, ri, "{what}: report info differs");
            assert_eq!(ff.len(), rf.len(), "{what}: finding count differs");
            for (a, b) in ff.iter().zip(rf) {
                assert_eq!(a, b, "{what}: finding {} differs", b.index);
                // Equal values may still differ in how they are written (`1.0` vs `1`).
                assert_eq!(
                    serde_json::to_string(&a.fields).ok(),
                    serde_json::to_string(&b.fields).ok(),
                    "{what}: finding {} fields serialize differently",
                    b.index
                );
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "{what}: errors differ");
            assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "{what}: error kinds differ"
            );
        }
        (a, b) => panic!(
            "{what}: fast and reference readers disagree: fast {:?}, reference {:?}",
            a.as_ref().map(|r| r.1.items).map_err(|e| e.to_string()),
            b.as_ref().map(|r| r.1.items).map_err(|e| e.to_string())
        ),
    }
}

/// Invariants of one read, whatever the input.
pub fn check_read(result: &ReadResult, hint: Option<ReportTemplate>) {
    match result {
        Ok((findings, info)) => {
            assert_eq!(
                info.items,
                findings.len() as u64,
                "ReportInfo.items must count every finding handed over"
            );
            for (i, f) in findings.iter().enumerate() {
                assert_eq!(f.index, i as u64, "findings arrive in item order");
                assert_eq!(
                    Some(f.report),
                    info.template,
                    "every finding has the report's template"
                );
            }
            if !findings.is_empty() || hint.is_some() {
                assert!(
                    info.template.is_some(),
                    "a report with items has a template"
                );
            }
        }
        Err(e) => check_report_error(e),
    }
}

/// A report error names the report first and says something after it.
pub fn check_report_error(e: &ReportError) {
    let msg = e.to_string();
    let rest = msg
        .strip_prefix(SOURCE)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or_else(|| panic!("error does not start with the report's name: {msg}"));
    assert!(rest.trim().len() > 3, "error says nothing: {msg}");
    assert!(
        msg.len() < 4096,
        "error message of {} bytes: it must not echo the input",
        msg.len()
    );
}

/// The report target: `data[0]` selects the hint; the rest is the report.
///
/// Differential checks: gzip-wrapping the same text changes nothing but `info.gzip`; tighter
/// limits can only turn a success into a `TooLarge` error, never change the findings.
pub fn check_report(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let hint = hint_of(selector);
    let default = ReadLimits::default();
    let plain = read_all(body, hint, &default);
    check_read(&plain, hint);
    // The fast readers give the reference readers' answer, errors included.
    assert_same_read(
        &plain,
        &read_all_reference(body, hint, &default),
        "fast vs reference",
    );

    // Plain `read_report` is `read_report_with` the defaults.
    let mut count = 0u64;
    let again = read_report(body, SOURCE, hint, &mut |_| count += 1);
    assert_eq!(again.is_ok(), plain.is_ok());

    // The same text, gzipped (unless it already was: only one gzip layer is undone).
    if !body.starts_with(&[0x1f, 0x8b]) {
        let zipped = read_all(&gzip(body), hint, &default);
        check_read(&zipped, hint);
        match (&plain, &zipped) {
            (Ok((pf, pi)), Ok((zf, zi))) => {
                assert_eq!(pf, zf, "gzip changed the findings");
                assert_eq!(
                    (pi.template, pi.format, pi.items),
                    (zi.template, zi.format, zi.items)
                );
                assert!(zi.gzip && !pi.gzip);
            }
            (Err(_), Err(_)) => {}
            (p, z) => panic!(
                "plain and gzip disagree: plain {:?}, gzip {:?}",
                p.as_ref().map(|r| r.1.items),
                z.as_ref().map(|r| r.1.items)
            ),
        }
    }

    // Tight limits: success implies the same success without them.
    let tight = ReadLimits {
        max_item_bytes: 200 + u64::from(selector) * 4,
        max_total_bytes: Some(4096),
    };
    let limited = read_all(body, hint, &tight);
    check_read(&limited, hint);
    assert_same_read(
        &limited,
        &read_all_reference(body, hint, &tight),
        "fast vs reference, tight limits",
    );
    match (&limited, &plain) {
        (Ok((lf, _)), Ok((pf, _))) => assert_eq!(lf, pf, "limits changed the findings"),
        (Ok(_), Err(e)) => panic!("succeeds with tight limits, fails without: {e}"),
        (Err(e), Ok(_)) => assert!(
            matches!(e, ReportError::TooLarge { .. }),
            "tight limits may only add TooLarge errors, got: {e}"
        ),
        (Err(_), Err(_)) => {}
    }
}

/// The event target: `locations_from_event` on arbitrary bytes.
pub fn check_event(data: &[u8]) {
    let result = locations_from_event(data);
    match &result {
        Ok(EventLocations {
            locations, skipped, ..
        }) => {
            let mut seen = HashSet::new();
            for loc in locations {
                assert!(seen.insert(loc), "duplicate location {loc}");
                match loc {
                    ReportLocation::S3 { bucket, key } => {
                        assert!(!bucket.is_empty() && !key.is_empty(), "{loc}");
                        assert!(key.len() <= MAX_KEY_BYTES, "key of {} bytes", key.len());
                    }
                    ReportLocation::Local(p) => panic!("an event gave a local path {p:?}"),
                }
            }
            for s in skipped {
                assert!(!s.is_empty());
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.trim().is_empty());
        }
    }
    // The Lambda runtime hands over a parsed Value: same answer.
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let from_value = locations_from_value(&value);
        match (&result, &from_value) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("bytes and parsed value disagree"),
        }
    } else {
        assert!(result.is_err(), "invalid JSON accepted");
    }
}

pub fn load_options() -> LoadOptions {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
    LoadOptions {
        resolve_env: false,
        env_override: None,
        today,
    }
}

/// Quoted strings of a rules text, to build findings that rules can actually match.
fn quoted_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in text.split('"').enumerate() {
        if i % 2 == 1 && part.len() < 200 {
            let v = part.trim_start_matches('!').to_string();
            if !out.contains(&v) {
                out.push(v);
            }
            if out.len() >= 24 {
                break;
            }
        }
    }
    out
}

/// Findings to route: every sample, plus findings whose fields take the rules' own values.
pub fn findings_for(text: &str) -> Vec<Finding> {
    let mut findings: Vec<Finding> = ReportTemplate::ALL
        .iter()
        .flat_map(|&t| sample_findings(t).into_iter().take(4))
        .collect();
    let values = quoted_values(text);
    if values.is_empty() {
        return findings;
    }
    for shift in 0..values.len().min(8) {
        let v = |i: usize| Some(values[(i + shift) % values.len()].clone());
        let template = ReportTemplate::from_name(&values[shift % values.len()])
            .unwrap_or(ReportTemplate::ALL[shift % 6]);
        let mut f = Finding::new(template);
        f.framework = v(0);
        f.control = v(1);
        f.status = v(2);
        f.account = v(3);
        f.region = v(4);
        f.resource_type = v(5);
        f.resource = v(6);
        f.job_id = v(7);
        findings.push(f);
    }
    findings
}

/// The rules target: parse arbitrary text; when it loads, route findings and check the indexed
/// router against the plain file-order walk of `explain`.
pub fn check_rules(text: &str) {
    let opts = load_options();
    let result = Rules::parse(text, "fuzz.toml", ".".into(), &opts);
    let line_count = text.split('\n').count();
    match &result {
        Err(e) => {
            assert!(
                e.diagnostics.iter().any(|d| d.is_error()),
                "a rules file was rejected without an error diagnostic"
            );
            for d in &e.diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{d}");
                assert!(
                    d.line <= line_count + 1,
                    "{d} is past the end ({line_count} lines)"
                );
                assert!(!d.message.trim().is_empty(), "{d}");
            }
        }
        Ok((rules, warnings)) => {
            assert!(warnings.iter().all(|w| !w.is_error()));
            for mut f in findings_for(text) {
                let routing = rules.route(&mut f);
                check_routing(rules, &f, &routing);
            }
        }
    }
}

/// `route` (index, bit sets) must agree with `explain` + `explain_silences` (a plain walk).
pub fn check_routing(rules: &Rules, f: &Finding, routing: &Routing) {
    let silences = rules.explain_silences(f);
    let first_silence = silences.iter().position(|t| t.matched);
    assert_eq!(
        routing.silenced, first_silence,
        "silence disagrees with explain"
    );
    if routing.silenced.is_some() {
        assert!(routing.deliveries.is_empty());
        return;
    }
    let traces = rules.explain(f);
    assert_eq!(traces.len(), rules.rule_names().len());
    let mut expected = Vec::new();
    for (i, t) in traces.iter().enumerate() {
        if !t.matched {
            continue;
        }
        for &sink in rules.rule_sinks(i) {
            assert!(sink < rules.sinks().len());
            if !expected.iter().any(|&(s, _)| s == sink) {
                expected.push((sink, i));
            }
        }
        if !rules.rule_continues(i) {
            break;
        }
    }
    let got: Vec<(usize, usize)> = routing
        .deliveries
        .iter()
        .map(|d| (d.sink, d.rule))
        .collect();
    assert_eq!(
        got, expected,
        "indexed routing disagrees with the file-order walk"
    );
}

/// Splits fuzz bytes into up to `n` text parts at NUL bytes.
pub fn parts(data: &[u8], n: usize) -> Vec<String> {
    let mut v: Vec<String> = data
        .splitn(n, |&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    v.resize(n, String::new());
    v
}

/// Single pass, so `&amp;lt;` becomes `&lt;`, not `<`.
fn slack_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (c, len) = if rest.starts_with("&lt;") {
            ('<', 4)
        } else if rest.starts_with("&gt;") {
            ('>', 4)
        } else if rest.starts_with("&amp;") {
            ('&', 5)
        } else {
            panic!("a bare '&' in slack-escaped text: {s:?}")
        };
        out.push(c);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

fn escape_index(escape: Escape) -> usize {
    match escape {
        Escape::None => 0,
        Escape::Slack => 1,
        Escape::Json => 2,
        Escape::Html => 3,
    }
}

thread_local! {
    /// Engines for the oracle's own fixed templates (a small, bounded set), compiled once.
    static FIXED: std::cell::RefCell<std::collections::HashMap<(usize, String), TemplateEngine>> =
        Default::default();
    /// One engine per escaping rule for arbitrary sources, re-registered each time.
    static SCRATCH: std::cell::RefCell<Vec<TemplateEngine>> = std::cell::RefCell::new(
        [Escape::None, Escape::Slack, Escape::Json, Escape::Html]
            .into_iter()
            .map(TemplateEngine::new)
            .collect(),
    );
}

/// Renders one of the oracle's fixed templates.
fn render(escape: Escape, src: &str, data: &Value) -> Result<String, String> {
    FIXED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (escape_index(escape), src.to_string());
        if !cache.contains_key(&key) {
            let mut e = TemplateEngine::new(escape);
            e.register("t", src, "t.hbs").map_err(|e| e.to_string())?;
            cache.insert(key.clone(), e);
        }
        cache[&key].render("t", data).map_err(|e| e.to_string())
    })
}

/// Registers and renders an arbitrary template source.
fn render_once(escape: Escape, src: &str, data: &Value) -> Result<String, String> {
    SCRATCH.with(|engines| {
        let mut engines = engines.borrow_mut();
        let e = &mut engines[escape_index(escape)];
        e.register("t", src, "t.hbs").map_err(|e| e.to_string())?;
        e.render("t", data).map_err(|e| e.to_string())
    })
}

/// A value as a template sees it: a number when it reads as one.
fn loose(s: &str) -> Value {
    if let Ok(i) = s.trim().parse::<i64>() {
        json!(i)
    } else if let Ok(f) = s.trim().parse::<f64>()
        && f.is_finite()
    {
        json!(f)
    } else {
        Value::String(s.to_string())
    }
}

/// Hostile values through the escaping rules and the helpers, then an arbitrary template source
/// against realistic data.
///
/// `parts`: `[template source, value, another value, a date format, list items...]`.
pub fn check_template(parts: &[String]) {
    let (src, v, w, fmt) = (&parts[0], &parts[1], &parts[2], &parts[3]);
    let list: Vec<Value> = parts[4..]
        .iter()
        .chain([v, w])
        .map(|p| json!({"x": loose(p)}))
        .collect();
    let plain: Vec<Value> = list.iter().map(|o| o["x"].clone()).collect();
    let data = json!({"v": v, "w": w, "fmt": fmt, "l": list, "p": plain, "n": loose(w)});

    // Slack: a value can never open a `<!channel>`/link, and escaping loses nothing.
    let out = render(Escape::Slack, "{{v}}", &data).expect("plain value renders");
    assert!(
        !out.contains(['<', '>']),
        "slack escape let through: {out:?}"
    );
    assert_eq!(slack_unescape(&out), *v, "slack escape is not reversible");
    // Helper output is escaped too.
    let helpers = "{{truncate v 7}}|{{upper v}}|{{lower w}}|{{default v w}}|{{join p}}|{{json v}}|\
                   {{pluralize 2 v}}|{{more 3 w}}|{{get l v}}|{{s3_console_url v w}}";
    let out = render(Escape::Slack, helpers, &data).expect("helpers render");
    assert!(
        !out.contains(['<', '>']),
        "slack escape let through: {out:?}"
    );
    // JSON: a value stays inside its string literal.
    let out = render(
        Escape::Json,
        "{\"t\":\"{{v}}\",\"u\":\"{{upper w}}\"}",
        &data,
    )
    .expect("json body renders");
    let parsed: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("json escape broke the body: {e}: {out:?}"));
    assert_eq!(parsed["t"], Value::String(v.clone()));
    assert_eq!(
        parsed.as_object().map(|o| o.len()),
        Some(2),
        "a value added keys: {out}"
    );
    // HTML.
    let out = render(Escape::Html, "{{v}}{{w}}", &data).expect("html renders");
    assert!(
        !out.contains(['<', '>', '"']),
        "html escape let through: {out:?}"
    );

    // Helpers that take hostile arguments: errors are fine, panics are not.
    for t in [
        "{{date v fmt}}",
        "{{date w}}",
        "{{#each (sort_by l \"x\")}}{{x}},{{/each}}",
        "{{#each (sort_by l \"x\" \"desc\")}}{{x}},{{/each}}",
        "{{#each (sort p)}}{{this}},{{/each}}",
        "{{#each (group_by l \"x\")}}{{key}}={{count}};{{/each}}",
        "{{truncate v n}}|{{take p n}}|{{rest_count p n}}|{{pluralize n v w}}|{{more n v}}",
        "{{console_job_url v w fmt}}{{console_resource_url v w}}{{console_framework_url w}}",
        "{{length v}}{{length n}}{{plural n v}}",
    ] {
        for escape in [Escape::None, Escape::Slack, Escape::Json, Escape::Html] {
            let _ = render(escape, t, &data);
        }
    }

    // An arbitrary template against a real digest's data (plus the hostile values).
    let digest = sample_digest(ReportTemplate::ALL[src.len() % 6], "fuzz");
    let ctx = RenderContext {
        now: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
        test: false,
    };
    let mut real = render_data(&digest, &ctx);
    if let Value::Object(m) = &mut real {
        for k in ["v", "w", "fmt", "l", "p", "n"] {
            m.insert(k.to_string(), data[k].clone());
        }
    }
    for escape in [Escape::None, Escape::Slack, Escape::Json] {
        if let Err(e) = render_once(escape, src, &real) {
            assert!(
                e.starts_with("t.hbs"),
                "template error without its origin: {e}"
            );
        }
    }
}
