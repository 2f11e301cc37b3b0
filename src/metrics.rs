//! The router's own numbers, as CloudWatch embedded metric format (EMF) documents: JSON log lines
//! that CloudWatch Logs turns into metrics of the namespace [`NAMESPACE`], with no API call and
//! no `cloudwatch:PutMetricData` permission. The Lambda function writes them to stdout (its log);
//! `audit-router send --metrics FILE` writes them to a file (or `-`, stderr).
//!
//! For every report that was read and routed ([`documents`], from the [`Processed`] that
//! [`crate::run::run_report`] returns):
//!
//! | line | dimension sets | metrics |
//! |---|---|---|
//! | the report | `Environment, Report` and `Environment` | `ReportItems`, `Routed`, `Silenced`, `Unmatched` (Count), `ReportBytes` (Bytes), `DurationMs` (Milliseconds) |
//! | one per finding environment and status | `Environment, Report, Status` and `Environment, Status` | `Findings` (Count) |
//! | one per sink delivered to in this run | `Environment, Report, Sink` and `Environment, Sink` (`Failed` also `Environment`) | `Delivered`, `Failed` (0 or 1), `Messages` (sent), `Routed` (findings routed to the sink), `FindingsOmitted` (not listed in any message: service limits, kept-findings bound), `Retries` (sends repeated after a retryable error), `Fallbacks` (messages the service refused and the sink replaced by its minimal message) |
//!
//! An EMF document has one value per dimension, so the figures of each status and of each sink
//! are a line of their own; every line of a report carries `requestId` (Lambda) and `reportUri`
//! (not dimensions) to find them in the log. Dimensions stay low-cardinality: `Environment` is
//! the run's environment (`AUDIT_ROUTER_ENV` / `--env`, else the rules' default) on report and
//! sink lines and the finding's environment (from the rules' `[environments.*]`) on `Findings`
//! lines; `Report` a template name; `Sink` a `[sinks.NAME]`; `Status` an upper-case status word
//! of the report (anything else counts as `OTHER`, an empty one as `NONE`, and past
//! [`MAX_STATUS_KEYS`] distinct pairs the rest as `OTHER`). Never a resource, account or key.
//!
//! A duplicate event (every routed sink delivered by an earlier run) and a busy receipt read no
//! report and give no line; a report that cannot be read gives none either (the function's
//! `Errors` metric and alarm count it).

use std::io::Write;
use std::sync::{Arc, Mutex};

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use serde_json::{Map, Value, json};

use crate::deliver::{Outcome, Status};
use crate::pipeline::ReportRun;
use crate::run::Processed;
use crate::sink_api::host::{head_tail, same_bytes};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "AuditRouter";

/// Distinct (environment, status) pairs counted per report; findings of further pairs count
/// under the status `OTHER`.
pub const MAX_STATUS_KEYS: usize = 64;

/// The longest status word kept as a dimension value.
const MAX_STATUS_CHARS: usize = 48;

/// Findings per (environment, status) of one report, counted as the report is read: bounded
/// memory whatever the report holds.
#[derive(Clone, Debug, Default)]
pub struct StatusTally {
    /// (environment, status, findings), in order of first appearance.
    counts: Vec<(String, String, u64)>,
    /// Up to [`TALLY_RECENT`] entries of `counts` found last (indexes below 256; later
    /// entries are found through the cache), searched before the cache.
    recent: [u8; TALLY_RECENT],
    /// The recent entries' texts as first compared ([`PairKey`]).
    recent_keys: [PairKey; TALLY_RECENT],
    recent_len: usize,
    /// Where the next entry goes once `recent` is full (round robin).
    recent_next: usize,
    /// Where recently seen (environment, status as read) pairs are counted, by a hash of the
    /// two texts ([`TALLY_CACHE_SLOTS`] slots, a pair in one of [`TALLY_CACHE_PROBES`] from
    /// its own; statuses of at most `MAX_STATUS_CHARS` bytes): a report repeats a handful of
    /// pairs in any order, so a finding costs one short hash and a few short compares, and the
    /// status check and the search of `counts` run once per pair. A pair's entry never changes
    /// once found, so a cached index stays right.
    cache: Vec<Option<CachedPair>>,
}

/// A pair's texts as [`StatusTally`]'s recent entries compare them first: both lengths, the
/// environment's first 8 bytes and the status's first and last 8 ([`head_tail`]). Equal keys
/// are equal pairs when the environment has at most 8 bytes and the status at most 16; longer
/// texts are compared in full after the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PairKey {
    lens: u64,
    environment: u64,
    head: u64,
    tail: u64,
}

impl PairKey {
    #[inline]
    fn of(environment: &str, status: &str) -> PairKey {
        let (env, _) = head_tail(environment.as_bytes());
        let (head, tail) = head_tail(status.as_bytes());
        PairKey {
            lens: (environment.len() as u64) << 32 ^ status.len() as u64,
            environment: env,
            head,
            tail,
        }
    }
}

/// A [`StatusTally`] cache slot: environment, status as read, index in `counts`.
type CachedPair = (Box<str>, Box<str>, usize);

/// Entries [`StatusTally`] compares before hashing: a report's pairs are a handful (three
/// environments × two statuses in the benchmark).
const TALLY_RECENT: usize = 8;

/// Slots of [`StatusTally`]'s pair cache.
const TALLY_CACHE_SLOTS: usize = 64;

/// Slots a pair may take, from the one its hash names on (linear probing).
const TALLY_CACHE_PROBES: usize = 4;

/// Tallies are equal when they counted the same pairs the same number of times in the same
/// order (the caches are how, not what).
impl PartialEq for StatusTally {
    fn eq(&self, other: &Self) -> bool {
        self.counts == other.counts
    }
}

impl Eq for StatusTally {}

/// The dimension value of a report's status: itself when it is an upper-case word, `NONE` for
/// none, `OTHER` for anything else.
pub fn status_key(status: Option<&str>) -> &str {
    match status.map(str::trim) {
        None | Some("") => "NONE",
        Some(s)
            if s.len() <= MAX_STATUS_CHARS
                && s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
        {
            s
        }
        Some(_) => "OTHER",
    }
}

impl StatusTally {
    /// Counts one finding.
    pub fn add(&mut self, environment: &str, status: Option<&str>) {
        let text = status.unwrap_or("");
        // The last few pairs found, by their entries: a report's handful of valid statuses
        // per environment are counted here (an entry whose status equals the text as read is
        // that text's entry: `status_key` keeps a valid status as it is). Compared by their
        // keys (lengths and end words, no hash; the texts too where the key does not hold
        // them whole); a status that is normalised (or missing) goes on to the cache.
        let key = PairKey::of(environment, text);
        for k in 0..self.recent_len {
            if self.recent_keys[k] != key {
                continue;
            }
            let i = self.recent[k] as usize;
            if let Some(e) = self.counts.get_mut(i)
                && (environment.len() <= 8 || same_bytes(e.0.as_bytes(), environment.as_bytes()))
                && (text.len() <= 16 || same_bytes(e.1.as_bytes(), text.as_bytes()))
            {
                e.2 += 1;
                return;
            }
        }
        if self.cache.is_empty() {
            self.cache = vec![None; TALLY_CACHE_SLOTS];
        }
        let home =
            (FixedState::default().hash_one((environment, text)) as usize) % TALLY_CACHE_SLOTS;
        // Open addressing over a few slots: two pairs hashing to one slot must not evict each
        // other on every finding (each eviction allocated the pair's copy again).
        let mut free = None;
        for probe in 0..TALLY_CACHE_PROBES {
            let slot = (home + probe) % TALLY_CACHE_SLOTS;
            match &self.cache[slot] {
                Some((e, s, i)) if **e == *environment && **s == *text => {
                    let i = *i;
                    self.counts[i].2 += 1;
                    self.remember(i);
                    return;
                }
                Some(_) => {}
                None => {
                    free = Some(slot);
                    break;
                }
            }
        }
        let i = self.entry(environment, status);
        self.counts[i].2 += 1;
        self.remember(i);
        if text.len() <= MAX_STATUS_CHARS {
            self.cache[free.unwrap_or(home)] = Some((environment.into(), text.into(), i));
        }
    }

    /// Puts entry `i` among the recent ones (replacing the oldest when they are all taken).
    fn remember(&mut self, i: usize) {
        let Some(key) = self.counts.get(i).map(|(e, s, _)| PairKey::of(e, s)) else {
            return;
        };
        let Ok(i) = u8::try_from(i) else { return };
        if self.recent[..self.recent_len].contains(&i) {
            return;
        }
        let k = if self.recent_len < TALLY_RECENT {
            self.recent_len += 1;
            self.recent_len - 1
        } else {
            let k = self.recent_next;
            self.recent_next = (k + 1) % TALLY_RECENT;
            k
        };
        self.recent[k] = i;
        self.recent_keys[k] = key;
    }

    /// The index in `counts` of the pair's entry, added if new (or the environment's `OTHER`
    /// entry past [`MAX_STATUS_KEYS`]).
    fn entry(&mut self, environment: &str, status: Option<&str>) -> usize {
        let status = status_key(status);
        let same = |e: &(String, String, u64)| e.0 == environment && e.1 == status;
        if let Some(i) = self.counts.iter().position(same) {
            return i;
        }
        if self.counts.len() < MAX_STATUS_KEYS {
            self.counts
                .push((environment.to_owned(), status.to_owned(), 0));
            return self.counts.len() - 1;
        }
        let other = |e: &(String, String, u64)| e.0 == environment && e.1 == "OTHER";
        match self.counts.iter().position(other) {
            Some(i) => i,
            None => {
                self.counts
                    .push((environment.to_owned(), "OTHER".to_owned(), 0));
                self.counts.len() - 1
            }
        }
    }

    /// (environment, status, findings), in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, u64)> {
        self.counts
            .iter()
            .map(|(e, s, n)| (e.as_str(), s.as_str(), *n))
    }

    /// Every finding counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, _, n)| n).sum()
    }
}

/// What the documents of a run share.
#[derive(Clone, Debug)]
pub struct Context {
    /// The `Environment` of report and sink lines: the run's environment.
    pub environment: String,
    /// The Lambda request id (`requestId` member), if any.
    pub request_id: Option<String>,
    /// `_aws.Timestamp`: milliseconds since the epoch.
    pub timestamp_ms: i64,
}

impl Context {
    /// A context stamped now.
    pub fn now(environment: impl Into<String>, request_id: Option<String>) -> Context {
        Context {
            environment: environment.into(),
            request_id,
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// One metric of a directive: name and unit.
type Def = (&'static str, &'static str);

/// A directive's dimension sets.
type DimensionSets = &'static [&'static [&'static str]];

const REPORT_DIMENSIONS: DimensionSets = &[&["Environment", "Report"], &["Environment"]];
const FINDINGS_DIMENSIONS: DimensionSets = &[
    &["Environment", "Report", "Status"],
    &["Environment", "Status"],
];
const SINK_DIMENSIONS: DimensionSets =
    &[&["Environment", "Report", "Sink"], &["Environment", "Sink"]];
/// `Failed` also by `Environment` alone: the sink-failure alarm does not know the sinks.
const FAILED_DIMENSIONS: DimensionSets = &[
    &["Environment", "Report", "Sink"],
    &["Environment", "Sink"],
    &["Environment"],
];
const FINDINGS_METRICS: [Def; 1] = [("Findings", "Count")];
const FAILED_METRICS: [Def; 1] = [("Failed", "Count")];

/// Every metric the documents publish, with its unit and the dimension sets it is published
/// under: what alarms and dashboards may refer to.
pub fn published() -> Vec<(&'static str, &'static str, DimensionSets)> {
    let of = |defs: &[Def], dims: DimensionSets| {
        defs.iter().map(|(n, u)| (*n, *u, dims)).collect::<Vec<_>>()
    };
    [
        of(&REPORT_METRICS, REPORT_DIMENSIONS),
        of(&FINDINGS_METRICS, FINDINGS_DIMENSIONS),
        of(&SINK_METRICS, SINK_DIMENSIONS),
        of(&FAILED_METRICS, FAILED_DIMENSIONS),
    ]
    .concat()
}

const REPORT_METRICS: [Def; 6] = [
    ("ReportItems", "Count"),
    ("Routed", "Count"),
    ("Silenced", "Count"),
    ("Unmatched", "Count"),
    ("ReportBytes", "Bytes"),
    ("DurationMs", "Milliseconds"),
];

const SINK_METRICS: [Def; 6] = [
    ("Delivered", "Count"),
    ("Messages", "Count"),
    ("Routed", "Count"),
    ("FindingsOmitted", "Count"),
    ("Retries", "Count"),
    ("Fallbacks", "Count"),
];

fn directive(dimensions: DimensionSets, metrics: &[Def]) -> Value {
    json!({
        "Namespace": NAMESPACE,
        "Dimensions": dimensions,
        "Metrics": metrics
            .iter()
            .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
            .collect::<Vec<_>>(),
    })
}

/// A document: `_aws` with `directives`, then `members` (dimension values, metric values and
/// the identifying members every line carries).
fn document(ctx: &Context, p: &Processed, directives: Vec<Value>, members: Value) -> Value {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({"Timestamp": ctx.timestamp_ms, "CloudWatchMetrics": directives}),
    );
    if let Value::Object(m) = members {
        root.extend(m);
    }
    if let Some(id) = &ctx.request_id {
        root.insert("requestId".into(), json!(id));
    }
    root.insert("reportUri".into(), json!(p.location.to_string()));
    Value::Object(root)
}

/// Every EMF document of one processed report (none when it was not read: a duplicate or busy
/// receipt).
pub fn documents(p: &Processed, ctx: &Context) -> Vec<Value> {
    let Some(run) = &p.run else {
        return Vec::new();
    };
    let report = run.info.template.map_or("UNKNOWN", |t| t.name());
    let mut docs = vec![report_document(p, run, ctx, report)];
    for (finding_env, status, n) in run.findings.iter() {
        docs.push(document(
            ctx,
            p,
            vec![directive(FINDINGS_DIMENSIONS, &FINDINGS_METRICS)],
            json!({"Environment": finding_env, "Report": report, "Status": status, "Findings": n}),
        ));
    }
    for o in &p.outcomes {
        docs.push(sink_document(p, run, o, ctx, report));
    }
    docs
}

/// The report's line: items read, routed, silenced, unmatched, bytes and duration.
fn report_document(p: &Processed, run: &ReportRun, ctx: &Context, report: &str) -> Value {
    let routed = run
        .info
        .items
        .saturating_sub(run.silenced)
        .saturating_sub(run.unmatched);
    document(
        ctx,
        p,
        vec![directive(REPORT_DIMENSIONS, &REPORT_METRICS)],
        json!({
            "Environment": ctx.environment.as_str(),
            "Report": report,
            "ReportItems": run.info.items,
            "Routed": routed,
            "Silenced": run.silenced,
            "Unmatched": run.unmatched,
            "ReportBytes": run.bytes,
            "DurationMs": p.elapsed.as_millis() as u64,
            "status": p.status(),
        }),
    )
}

/// One sink's line: delivered or failed (with why), messages, findings routed and omitted,
/// retries and fallbacks.
fn sink_document(
    p: &Processed,
    run: &ReportRun,
    o: &Outcome,
    ctx: &Context,
    report: &str,
) -> Value {
    let digest = run.digests.iter().find(|d| d.sink == o.sink);
    // What the sink says its messages leave out; a sink that does not say (or a rendering
    // that failed) leaves the digest's own count: the findings beyond the kept bound.
    let omitted = if !o.messages.is_empty() && o.messages.iter().all(|m| m.omitted.is_some()) {
        o.messages.iter().filter_map(|m| m.omitted).sum()
    } else {
        digest.map_or(0, |d| d.omitted)
    };
    let sent = o.sent.len() as u64;
    let (state, failed, error, retryable) = match &o.status {
        Status::Delivered => ("delivered", 0u64, None, None),
        Status::Failed { error, retryable } => {
            ("failed", 1, Some(error.as_str()), Some(*retryable))
        }
    };
    let mut members = json!({
        "Environment": ctx.environment.as_str(),
        "Report": report,
        "Sink": o.sink,
        "Delivered": 1 - failed,
        "Failed": failed,
        "Messages": sent,
        "Routed": digest.map_or(0, |d| d.total),
        "FindingsOmitted": omitted,
        "Retries": o.retries,
        "Fallbacks": o.fallbacks().len() as u64,
        "sinkType": o.kind,
        "state": state,
    });
    if let (Some(error), Some(retryable)) = (error, retryable) {
        members["error"] = json!(error);
        members["retryable"] = json!(retryable);
    }
    document(
        ctx,
        p,
        vec![
            directive(SINK_DIMENSIONS, &SINK_METRICS),
            directive(FAILED_DIMENSIONS, &FAILED_METRICS),
        ],
        members,
    )
}

/// Writes the documents of every report of a CLI run (`send --metrics`), the run's
/// environment being `environment`.
pub fn emit_batch(out: &EmfOut, batch: &crate::run::Batch, environment: &str) {
    let ctx = Context::now(environment, None);
    for p in &batch.results {
        out.emit(&documents(p, &ctx));
    }
}

/// Where EMF lines go: each document is written as one line, in one write.
#[derive(Clone)]
pub struct EmfOut(Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for EmfOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmfOut")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("--metrics {path}: cannot open for appending: {source}")]
pub struct MetricsOpenError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

impl EmfOut {
    /// Every line to `write`.
    pub fn new(write: impl Fn(&str) + Send + Sync + 'static) -> EmfOut {
        EmfOut(Arc::new(write))
    }

    /// Standard output: the Lambda function's log, where CloudWatch finds EMF documents.
    pub fn stdout() -> EmfOut {
        EmfOut::new(|line| write_line(&mut std::io::stdout().lock(), line))
    }

    /// `send --metrics PATH`: appended to the file `PATH` (created if missing), or stderr for
    /// `-`, so stdout keeps only the command's output.
    pub fn open(path: &std::path::Path) -> Result<EmfOut, MetricsOpenError> {
        if path.as_os_str() == "-" {
            return Ok(EmfOut::new(|line| {
                write_line(&mut std::io::stderr().lock(), line)
            }));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| MetricsOpenError {
                path: path.display().to_string(),
                source,
            })?;
        let file = Mutex::new(file);
        Ok(EmfOut::new(move |line| {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            write_line(&mut *f, line);
        }))
    }

    /// Writes every document, one line each.
    pub fn emit(&self, docs: &[Value]) {
        for d in docs {
            (self.0)(&d.to_string());
        }
    }
}

/// `line` and a newline in one write (lines of concurrent writers never interleave), flushed.
fn write_line(w: &mut dyn Write, line: &str) {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    if let Err(e) = w.write_all(buf.as_bytes()).and_then(|()| w.flush()) {
        tracing::warn!(error = %e, "could not write a metrics line");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keys_stay_enumerable() {
        assert_eq!(status_key(Some("NON_COMPLIANT")), "NON_COMPLIANT");
        assert_eq!(status_key(Some(" FAILED ")), "FAILED");
        assert_eq!(status_key(None), "NONE");
        assert_eq!(status_key(Some("")), "NONE");
        assert_eq!(status_key(Some("arn:aws:s3:::bucket")), "OTHER");
        assert_eq!(status_key(Some("Completed")), "OTHER");
        assert_eq!(status_key(Some(&"A".repeat(49))), "OTHER");
    }

    #[test]
    fn the_tally_caches_never_change_what_is_counted() {
        // The same findings counted with the caches (add) and by the plain search alone
        // (entry), over more pairs than the cache has slots and MAX_STATUS_KEYS allows, with
        // statuses that normalise alike (" FAILED ", "FAILED"), invalid and missing ones.
        let envs = ["prod", "dev", "stage", ""];
        let mut statuses: Vec<Option<String>> = vec![
            Some("NON_COMPLIANT".into()),
            Some("COMPLIANT".into()),
            Some(" FAILED ".into()),
            Some("FAILED".into()),
            Some("Completed".into()),
            Some(String::new()),
            None,
            Some("A".repeat(60)),
            // The texts of the entries that normalising makes: found as themselves.
            Some("NONE".into()),
            Some("OTHER".into()),
        ];
        statuses.extend((0..30).map(|i| Some(format!("S{i}"))));
        let (mut cached, mut plain) = (StatusTally::default(), StatusTally::default());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let e = envs[(x % envs.len() as u64) as usize];
            let s = statuses[((x >> 8) % statuses.len() as u64) as usize].as_deref();
            cached.add(e, s);
            let i = plain.entry(e, s);
            plain.counts[i].2 += 1;
        }
        assert_eq!(cached.counts, plain.counts);
        assert_eq!(cached.total(), 20_000);
        assert!(cached.iter().any(|(_, s, _)| s == "OTHER"));
        // And a report's usual handful of pairs, through the recent entries alone.
        let (mut cached, mut plain) = (StatusTally::default(), StatusTally::default());
        for n in 0..1_000usize {
            let e = envs[n % 3];
            let s = [Some("COMPLIANT"), Some("NON_COMPLIANT"), None][n % 7 % 3];
            cached.add(e, s);
            let i = plain.entry(e, s);
            plain.counts[i].2 += 1;
        }
        assert_eq!(cached.counts, plain.counts);
    }

    #[test]
    fn the_tally_counts_and_stays_bounded() {
        let mut t = StatusTally::default();
        for _ in 0..3 {
            t.add("prod", Some("NON_COMPLIANT"));
        }
        t.add("dev", Some("NON_COMPLIANT"));
        t.add("prod", Some("COMPLIANT"));
        t.add("prod", Some("NON_COMPLIANT"));
        let got: Vec<_> = t.iter().collect();
        assert_eq!(
            got,
            [
                ("prod", "NON_COMPLIANT", 4),
                ("dev", "NON_COMPLIANT", 1),
                ("prod", "COMPLIANT", 1)
            ]
        );
        let mut t = StatusTally::default();
        for i in 0..1000 {
            t.add("prod", Some(&format!("S{i}")));
        }
        assert!(t.iter().count() <= MAX_STATUS_KEYS + 1);
        assert_eq!(t.total(), 1000);
        let other = t.iter().find(|(_, s, _)| *s == "OTHER").map(|(_, _, n)| n);
        assert_eq!(other, Some(1000 - MAX_STATUS_KEYS as u64));
    }
}
