//! Operating the function: the Lambda handler, in-process, against a real `moto_server` (S3 for
//! the reports and receipts, SNS → SQS) and the strict Slack stand-in
//! (`tools/test-support/src/slack.rs`).
//!
//! - Its CloudWatch embedded-metric-format lines (`audit_router::metrics`) validate against AWS's
//!   published EMF JSON Schema with a real validator and the specification's other rules
//!   (`tests/common/emf.rs`), and carry the counts of the report they describe — counted here
//!   from the report itself and from what SNS and Slack received.
//! - Every line of the function's JSON log during an invocation carries the request id and the
//!   report (`span.requestId`, `span.report`; the invocation's own lines name the reports), and
//!   one `report summary` line per report says per sink delivered (ids), failed (why) or skipped.
//!
//! The log is captured with the function's own JSON format (`init_json_tracing_to`), one
//! subscriber for this test binary, so the tests here run one at a time.

mod common;
#[path = "handler_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_router::deliver::RetryPolicy;
use audit_router::lambda::{Handler, LambdaConfig, init_json_tracing_to};
use audit_router::metrics::EmfOut;
use common::moto::Moto;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use support::*;

const BUCKET: &str = "reports";

/// One test at a time: the log subscriber is process-wide.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Everything the function logged (JSON lines), since the last [`Log::take`].
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn take(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *lock(&self.0));
        String::from_utf8(bytes)
            .expect("the log is UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn log() -> &'static Log {
    static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        init_json_tracing_to(move || writer.clone());
        log
    })
}

struct Env {
    moto: Moto,
    slack: SlackStandIn,
    queue: String,
    handler: Handler,
    emf: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Env {
    /// The EMF lines written since the last call, parsed.
    fn emf(&self) -> Vec<Value> {
        std::mem::take(&mut *lock(&self.emf))
            .iter()
            .map(|l| serde_json::from_str(l).expect("an EMF line is JSON"))
            .collect()
    }

    async fn invoke(&self, request_id: &str, key: &str) -> Result<Value, String> {
        let mut ctx = lambda_runtime::Context::default();
        ctx.request_id = request_id.to_owned();
        ctx.deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as u64;
        self.handler
            .handle(LambdaEvent::new(s3_event(BUCKET, key), ctx))
            .await
            .map_err(|e| format!("{}: {}", e.error_type, e.message))
    }
}

async fn setup(name: &str) -> Env {
    setup_with(name, "").await
}

/// As [`setup`], with `more_rules` (e.g. `[[silences]]`) after the test rules.
async fn setup_with(name: &str, more_rules: &str) -> Env {
    log();
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, REPORT_KEY, common::fixture_bytes(REPORT_FIXTURE))
        .await;
    let (topic, queue) = topic_with_queue(&moto, name).await;
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.toml");
    let text = rules_toml(
        &topic,
        &format!("{}/services/T0/B0/TESTSECRET-x", slack.uri()),
    );
    std::fs::write(&rules, format!("{text}\n{more_rules}")).expect("write rules");
    let receipts = format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/");
    let vars: HashMap<&str, String> = HashMap::from([
        ("AUDIT_ROUTER_RULES", rules.display().to_string()),
        ("AUDIT_ROUTER_RECEIPTS", receipts),
        ("AUDIT_ROUTER_REPORT_PREFIX", "audit reports/".to_owned()),
    ]);
    let cfg = LambdaConfig::from_vars(|n| vars.get(n).cloned()).expect("config");
    let mut handler = Handler::init(&cfg, moto.sdk_config().await)
        .await
        .expect("init");
    handler.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_millis(20),
    };
    let emf = Arc::new(Mutex::new(Vec::new()));
    let sink = emf.clone();
    handler.metrics = EmfOut::new(move |line| lock(&sink).push(line.to_owned()));
    Env {
        moto,
        slack,
        queue,
        handler,
        emf,
        _dir: dir,
    }
}

/// What the report itself says: its items, and the findings per status.
fn report_counts(bytes: &[u8]) -> (u64, BTreeMap<String, u64>) {
    let doc: Value = serde_json::from_slice(bytes).expect("report JSON");
    let items = doc["reportItems"].as_array().expect("reportItems");
    let mut by_status = BTreeMap::new();
    for i in items {
        let s = i["resourceComplianceStatus"].as_str().expect("status");
        *by_status.entry(s.to_owned()).or_insert(0) += 1;
    }
    (items.len() as u64, by_status)
}

/// The documents whose directives publish `metric`.
fn with_metric<'a>(docs: &'a [Value], metric: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| {
            d["_aws"]["CloudWatchMetrics"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|m| m["Metrics"].as_array().into_iter().flatten())
                .any(|m| m["Name"] == metric)
        })
        .collect()
}

fn sink_doc<'a>(docs: &'a [Value], sink: &str) -> &'a Value {
    let found: Vec<&Value> = with_metric(docs, "Delivered")
        .into_iter()
        .filter(|d| d["Sink"] == sink)
        .collect();
    assert_eq!(found.len(), 1, "one line for sink {sink}: {docs:#?}");
    found[0]
}

/// The dimension sets of the directive publishing `metric` in `doc`.
fn dimension_sets(doc: &Value, metric: &str) -> Vec<Vec<String>> {
    doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            d["Metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["Name"] == metric)
        })
        .flat_map(|d| d["Dimensions"].as_array().cloned().unwrap_or_default())
        .map(|set| {
            set.as_array()
                .into_iter()
                .flatten()
                .map(|k| k.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect()
}

/// How many findings a message says the digest does not list: Slack's last block "…and N more
/// resources not listed here", SNS's closing "N of M not listed here" (0 when it says none).
fn said_omitted(body: &str) -> u64 {
    let re =
        regex::Regex::new(r"(?:…and (\d+) more \S+|(\d+) of \d+) not listed here").expect("regex");
    re.captures_iter(body)
        .map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map_or(0, |n| n.as_str().parse::<u64>().expect("a count"))
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emf_lines_of_an_invocation_validate_and_count_the_report() {
    let _one = SERIAL.lock().await;
    let env = setup("emf-counts").await;
    let started = std::time::Instant::now();
    let out = env
        .invoke("req-emf-1", REPORT_KEY)
        .await
        .expect("delivered");
    let wall_ms = started.elapsed().as_millis() as u64;
    assert_eq!(out["reports"][0]["status"], "delivered", "{out}");
    let docs = env.emf();
    common::emf::assert_valid(&docs);

    let fixture = common::fixture_bytes(REPORT_FIXTURE);
    let (items, by_status) = report_counts(&fixture);
    let non_compliant = by_status["NON_COMPLIANT"];
    let uri = format!("s3://{BUCKET}/{REPORT_KEY}");
    // One report line, one per status, one per sink; all in the namespace, all naming the
    // request and the report.
    assert_eq!(docs.len(), 1 + by_status.len() + 2, "{docs:#?}");
    for d in &docs {
        assert_eq!(d["requestId"], "req-emf-1", "{d}");
        assert_eq!(d["reportUri"], uri, "{d}");
        for m in d["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            assert_eq!(m["Namespace"], "AuditRouter");
        }
        let ts = d["_aws"]["Timestamp"].as_i64().expect("timestamp");
        let now = chrono::Utc::now().timestamp_millis();
        assert!(
            (now - 60_000..=now).contains(&ts),
            "timestamp {ts} is not now"
        );
    }

    // What the lines publish is what `metrics::published` (alarms, dashboard) says.
    let published = audit_router::metrics::published();
    for d in &docs {
        for dir in d["_aws"]["CloudWatchMetrics"]
            .as_array()
            .expect("directives")
        {
            let dims: Vec<Vec<String>> =
                serde_json::from_value(dir["Dimensions"].clone()).expect("dimension sets");
            for m in dir["Metrics"].as_array().expect("metrics") {
                let listed = published.iter().any(|(name, unit, sets)| {
                    m["Name"] == *name && m["Unit"] == *unit && dims == *sets
                });
                assert!(listed, "{m} by {dims:?} is not in metrics::published()");
            }
        }
    }

    let report = with_metric(&docs, "ReportItems");
    assert_eq!(report.len(), 1);
    let r = report[0];
    assert_eq!(r["Environment"], "prod", "the rules' default environment");
    assert_eq!(r["Report"], "RESOURCE_COMPLIANCE_REPORT");
    assert_eq!(r["ReportItems"], items);
    assert_eq!(
        r["Routed"], non_compliant,
        "the rules route NON_COMPLIANT only"
    );
    assert_eq!(r["Silenced"], 0);
    assert_eq!(r["Unmatched"], items - non_compliant);
    assert_eq!(r["ReportBytes"], fixture.len() as u64);
    assert!(r["DurationMs"].as_u64().expect("duration") <= wall_ms);
    // The dead man's switch alarms on ReportItems by Environment alone.
    assert!(dimension_sets(r, "ReportItems").contains(&vec!["Environment".to_owned()]));

    let mut findings: BTreeMap<String, u64> = BTreeMap::new();
    for d in with_metric(&docs, "Findings") {
        assert_eq!(d["Environment"], "prod");
        assert_eq!(d["Report"], "RESOURCE_COMPLIANCE_REPORT");
        let status = d["Status"].as_str().expect("Status").to_owned();
        let n = d["Findings"].as_u64().expect("Findings");
        assert!(findings.insert(status, n).is_none(), "one line per status");
    }
    assert_eq!(findings, by_status);

    let sns = drain(&env.moto, &env.queue).await;
    let slack = posts(&env.slack);
    for (sink, received) in [("ops-sns", &sns), ("ops-slack", &slack)] {
        let s = sink_doc(&docs, sink);
        assert_eq!(s["Environment"], "prod");
        assert_eq!(s["Report"], "RESOURCE_COMPLIANCE_REPORT");
        assert_eq!(s["Delivered"], 1, "{s}");
        assert_eq!(s["Failed"], 0, "{s}");
        assert_eq!(s["Messages"], received.len() as u64, "{sink}: {s}");
        assert_eq!(s["Routed"], non_compliant, "{s}");
        let omitted: u64 = received.iter().map(|b| said_omitted(b)).sum();
        assert_eq!(s["FindingsOmitted"], omitted, "{sink}: {s}");
        assert_eq!(s["Retries"], 0, "{s}");
        assert_eq!(s["Fallbacks"], 0, "{s}");
        assert_eq!(s["state"], "delivered");
        // The sink-failure alarm reads Failed by Environment alone.
        assert!(dimension_sets(s, "Failed").contains(&vec!["Environment".to_owned()]));
    }
    assert_eq!(sns.len(), 1);
    assert_eq!(slack.len(), 1);

    // A duplicate event reads no report: no lines (the dead man's switch counts reports read).
    let out = env
        .invoke("req-emf-2", REPORT_KEY)
        .await
        .expect("duplicate");
    assert_eq!(out["reports"][0]["status"], "duplicate");
    assert!(env.emf().is_empty());
}

/// A silence swallows some findings, compliant and not: `Silenced` counts them, `Routed` and the
/// sinks' lines count only the non-compliant findings left, `Unmatched` the rest; the findings
/// by status still count every item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_findings_are_counted_apart_from_routed_and_unmatched() {
    const SILENCED_CONTROLS: [&str; 2] = [
        "BACKUP_RECOVERY_POINT_ENCRYPTED",
        "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET",
    ];
    let _one = SERIAL.lock().await;
    let env = setup_with(
        "emf-silenced",
        &format!(
            "[[silences]]\nmatch = {{ control = {SILENCED_CONTROLS:?} }}\nuntil = \"2999-12-31\"\n\
             reason = \"test: a silence that swallows findings\"\n"
        ),
    )
    .await;
    env.invoke("req-silenced", REPORT_KEY)
        .await
        .expect("delivered");
    let docs = env.emf();
    common::emf::assert_valid(&docs);

    // Counted from the report itself.
    let fixture = common::fixture_bytes(REPORT_FIXTURE);
    let (items, by_status) = report_counts(&fixture);
    let doc: Value = serde_json::from_slice(&fixture).expect("report JSON");
    let item_list = doc["reportItems"].as_array().expect("reportItems");
    let silenced_items: Vec<&Value> = item_list
        .iter()
        .filter(|i| SILENCED_CONTROLS.contains(&i["controlName"].as_str().unwrap_or_default()))
        .collect();
    let silenced = silenced_items.len() as u64;
    let silenced_non_compliant = silenced_items
        .iter()
        .filter(|i| i["resourceComplianceStatus"] == "NON_COMPLIANT")
        .count() as u64;
    let routed = by_status["NON_COMPLIANT"] - silenced_non_compliant;
    assert!(
        silenced_non_compliant > 0 && silenced > silenced_non_compliant && routed > 0,
        "the silence swallows compliant and non-compliant findings, and leaves some to route"
    );

    let r = with_metric(&docs, "ReportItems")[0];
    assert_eq!(r["ReportItems"], items);
    assert_eq!(r["Silenced"], silenced, "{r}");
    assert_eq!(r["Routed"], routed, "{r}");
    assert_eq!(r["Unmatched"], items - silenced - routed, "{r}");
    let findings: BTreeMap<String, u64> = with_metric(&docs, "Findings")
        .iter()
        .map(|d| {
            (
                d["Status"].as_str().expect("Status").to_owned(),
                d["Findings"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(findings, by_status, "every item, silenced or not");

    let sns = drain(&env.moto, &env.queue).await;
    assert_eq!(sns.len(), 1);
    for (sink, received) in [("ops-sns", &sns[0]), ("ops-slack", &posts(&env.slack)[0])] {
        assert_eq!(sink_doc(&docs, sink)["Routed"], routed, "{sink}");
        for i in &silenced_items {
            let resource = i["resourceId"].as_str().expect("resourceId");
            assert!(
                !received.contains(resource),
                "{sink} names silenced {resource}"
            );
        }
    }
}

/// A report too large for one Slack message: the Slack line counts the findings the message
/// does not list (what its "…and N more" says); Slack failing counts a failure and the retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_failures_and_retries_are_counted() {
    use audit_router_gen::{Amount, Format, GenOptions, ReportTemplate, generate};
    let _one = SERIAL.lock().await;
    let env = setup("emf-big").await;
    let mut bytes = Vec::new();
    let opts = GenOptions::new(
        ReportTemplate::ResourceCompliance,
        Format::Json,
        Amount::Items(1500),
    );
    generate(&opts, &mut bytes).expect("generate a report");
    let key = REPORT_KEY.replace(".json", "-big.json");
    env.moto.put_object(BUCKET, &key, bytes.clone()).await;
    let (items, by_status) = report_counts(&bytes);
    let non_compliant = by_status["NON_COMPLIANT"];
    assert!(
        non_compliant > 200,
        "enough findings to truncate: {by_status:?}"
    );

    env.invoke("req-big", &key).await.expect("delivered");
    let docs = env.emf();
    common::emf::assert_valid(&docs);
    assert_eq!(with_metric(&docs, "ReportItems")[0]["ReportItems"], items);
    assert_eq!(
        with_metric(&docs, "ReportItems")[0]["ReportBytes"],
        bytes.len() as u64
    );
    let slack = posts(&env.slack);
    assert_eq!(slack.len(), 1, "truncated, not split");
    let said = said_omitted(&slack[0]);
    assert!(said > 0, "Slack's message says findings are left out");
    let s = sink_doc(&docs, "ops-slack");
    assert_eq!(s["FindingsOmitted"], said, "{s}");
    assert_eq!(s["Routed"], non_compliant);
    let sns = drain(&env.moto, &env.queue).await;
    let s = sink_doc(&docs, "ops-sns");
    let said: u64 = sns.iter().map(|b| said_omitted(b)).sum();
    assert_eq!(s["FindingsOmitted"], said, "{s}");

    // Slack answers 500 every time: a retryable failure, retried once within the invocation.
    slack_status(&env.slack, 500);
    env.moto
        .put_object(BUCKET, REPORT_KEY, common::fixture_bytes(REPORT_FIXTURE))
        .await;
    let err = env
        .invoke("req-fail", REPORT_KEY)
        .await
        .expect_err("Slack fails");
    assert!(err.starts_with("AuditRouter.RetryableDelivery"), "{err}");
    let docs = env.emf();
    common::emf::assert_valid(&docs);
    let s = sink_doc(&docs, "ops-slack");
    assert_eq!(s["Delivered"], 0, "{s}");
    assert_eq!(s["Failed"], 1, "{s}");
    assert_eq!(s["Messages"], 0, "{s}");
    // Every request after the first was a retry of the one message.
    assert_eq!(s["Retries"], env.slack.requests() as u64 - 1, "{s}");
    assert_eq!(s["Retries"], 1, "two attempts (the test's retry policy)");
    assert_eq!(s["state"], "failed");
    assert_eq!(s["retryable"], true);
    assert!(
        s["error"].as_str().is_some_and(|e| e.contains("500")),
        "{s}"
    );
    assert!(
        !s.to_string().contains("TESTSECRET"),
        "no secret in metrics: {s}"
    );
    assert_eq!(sink_doc(&docs, "ops-sns")["Delivered"], 1);
}

/// The checks of `tests/common/emf.rs` catch what breaks the specification.
#[test]
fn the_emf_checks_catch_broken_documents() {
    let good = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N",
        "Dimensions": [["D"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]}, "D": "d", "M": 1});
    let no_timestamp = json!({"_aws": {"CloudWatchMetrics": []}});
    let bad_unit = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N",
        "Dimensions": [["D"]], "Metrics": [{"Name": "M", "Unit": "Findings"}]}]}, "D": "d", "M": 1});
    let errors = common::emf::schema_errors(&[good.clone(), no_timestamp, bad_unit]);
    assert!(errors[0].is_empty(), "{errors:?}");
    assert!(
        errors[1].iter().any(|e| e.contains("Timestamp")),
        "{errors:?}"
    );
    assert!(
        errors[2].iter().any(|e| e.contains("Findings")),
        "{errors:?}"
    );
    assert!(common::emf::spec_violations(&good).is_empty());
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("D");
    missing["M"] = json!("1");
    let v = common::emf::spec_violations(&missing);
    assert_eq!(v.len(), 2, "{v:?}");
}

/// Every line the function logs during an invocation names the request and the report; the
/// report's summary line says per sink what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_names_the_request_and_the_report() {
    let _one = SERIAL.lock().await;
    let env = setup("log-lines").await;
    let uri = format!("s3://{BUCKET}/{REPORT_KEY}");
    let log = log();
    let check = |lines: &[Value], request_id: &str| {
        assert!(lines.len() >= 4, "{lines:#?}");
        for l in lines {
            assert_eq!(l["span"]["requestId"], request_id, "{l}");
            let names_report = l["span"]["report"] == uri.as_str()
                || l["reports"]
                    .as_str()
                    .is_some_and(|r| r.contains(uri.as_str()));
            assert!(names_report, "a line without the report: {l}");
            assert!(!l.to_string().contains("TESTSECRET"), "{l}");
        }
        let summaries: Vec<&Value> = lines
            .iter()
            .filter(|l| l["message"] == "report summary")
            .collect();
        assert_eq!(summaries.len(), 1, "one summary per report: {lines:#?}");
        summaries[0].clone()
    };

    let _ = log.take(); // the cold start's lines
    env.invoke("req-log-1", REPORT_KEY)
        .await
        .expect("delivered");
    let lines = log.take();
    let s = check(&lines, "req-log-1");
    assert_eq!(s["status"], "delivered");
    assert_eq!(s["delivered_sinks"], 2);
    assert_eq!(s["failed_sinks"], 0);
    let receipt = read_receipt(&env.moto, BUCKET, REPORT_KEY).await;
    let sns_id = receipt["sinks"]["ops-sns"]["message_ids"][0]
        .as_str()
        .expect("SNS message id");
    let delivered = s["delivered"].as_str().expect("delivered");
    assert!(
        delivered.contains(&format!("ops-sns: 1 message, ids: {sns_id}"))
            && delivered.contains("ops-slack: 1 message"),
        "{s}"
    );
    assert_eq!(s["failed"], "");
    assert!(
        lines.iter().any(|l| l["message"] == "invocation done"),
        "{lines:#?}"
    );

    // The same event again: skipped, every sink delivered before.
    env.invoke("req-log-2", REPORT_KEY)
        .await
        .expect("duplicate");
    let s = check(&log.take(), "req-log-2");
    assert_eq!(s["status"], "duplicate");
    let skipped = s["skipped"].as_str().expect("skipped");
    for sink in ["ops-sns", "ops-slack"] {
        assert!(
            skipped.contains(&format!("{sink}: already delivered (duplicate event)")),
            "{s}"
        );
    }

    // A report Slack refuses for good (404): failed, why, permanent; SNS delivered.
    let key = REPORT_KEY.replace(".json", "-2.json");
    env.moto
        .put_object(BUCKET, &key, common::fixture_bytes(REPORT_FIXTURE))
        .await;
    slack_status(&env.slack, 404);
    let uri2 = format!("s3://{BUCKET}/{key}");
    env.invoke("req-log-3", &key)
        .await
        .expect_err("Slack fails");
    let lines = log.take();
    for l in &lines {
        assert_eq!(l["span"]["requestId"], "req-log-3", "{l}");
        let names = l["span"]["report"] == uri2.as_str()
            || l["reports"].as_str().is_some_and(|r| r.contains(&uri2));
        assert!(names, "{l}");
    }
    let s: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "report summary")
        .collect();
    assert_eq!(s.len(), 1);
    let s = s[0];
    assert_eq!(s["status"], "incomplete");
    assert_eq!(s["level"], "WARN");
    assert_eq!(s["failed_sinks"], 1);
    assert_eq!(s["error_type"], "AuditRouter.PermanentDelivery");
    let failed = s["failed"].as_str().expect("failed");
    assert!(
        failed.starts_with("ops-slack: ")
            && failed.contains("channel_not_found")
            && failed.contains("(permanent; 0 of 1 messages sent)"),
        "{s}"
    );
    assert!(
        s["delivered"]
            .as_str()
            .is_some_and(|d| d.starts_with("ops-sns: 1 message, ids: ")),
        "{s}"
    );
    let failed_line = lines
        .iter()
        .find(|l| l["message"] == "invocation failed; Lambda will retry")
        .expect("the invocation's last line");
    assert_eq!(failed_line["error_type"], "AuditRouter.PermanentDelivery");
}
