//! Everything the router prints, from one result type ([`Batch`] of [`Processed`] reports):
//! `dry-run`'s text, JSON (the shape is pinned: users' CI reads it) and summary; `send`'s text
//! and JSON (with and without receipts); the Lambda function's answer and failure lines.

use crate::ReportTemplate;
use crate::deliver::{Outcome, Status};
use crate::pipeline::{Explained, FindingRow, Listed, ReportRun};
use crate::report::Format;
use crate::rules::Rules;
use crate::run::{Batch, Disposition, Processed, SourceError};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The outcome for one sink of a report, if rendering/delivery ran.
fn outcome_for<'a>(outcomes: &'a [Outcome], sink: &str) -> Option<&'a Outcome> {
    outcomes.iter().find(|o| o.sink == sink)
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    subject: Option<&'a str>,
    body: &'a str,
}

fn json_messages(o: Option<&Outcome>) -> Vec<JsonMessage<'_>> {
    o.map(|o| {
        o.messages
            .iter()
            .map(|m| JsonMessage {
                subject: m.subject.as_deref(),
                body: &m.body,
            })
            .collect()
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct JsonSource {
    source: String,
    report: Option<ReportTemplate>,
    format: Format,
    gzip: bool,
    items: u64,
    silenced: u64,
    unmatched: u64,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    #[serde(flatten)]
    row: &'a FindingRow,
    rule: &'a str,
    /// `new` or `ongoing`, with state (absent without).
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'static str>,
}

/// A resolved finding of a delivery (with state).
#[derive(Serialize)]
struct JsonResolved {
    #[serde(flatten)]
    row: FindingRow,
    first_seen: Option<String>,
    days_open: Option<u32>,
}

#[derive(Serialize)]
struct JsonDelivery<'a> {
    sink: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    source: String,
    count: usize,
    findings: Vec<JsonFinding<'a>>,
    messages: Vec<JsonMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// With state (absent without, so a run without state prints what it always did): how
    /// many findings are new, ongoing, resolved since `since` (the previous report's date; null
    /// for a stream's first report), the resolved findings listed, and why the digest is not
    /// sent when it is not (`notify`, `min_findings`).
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ongoing: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_findings: Option<Vec<JsonResolved>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_sent: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonTrace<'a> {
    rule: &'a str,
    matched: bool,
    reasons: &'a [String],
}

#[derive(Serialize)]
struct JsonExplained<'a> {
    source: String,
    index: u64,
    #[serde(flatten)]
    row: &'a FindingRow,
    silenced: bool,
    rules: Vec<JsonTrace<'a>>,
}

#[derive(Serialize)]
struct JsonDryRun<'a> {
    sources: Vec<JsonSource>,
    deliveries: Vec<JsonDelivery<'a>>,
    silenced: u64,
    unmatched: u64,
    skipped: &'a [String],
    errors: &'a [SourceError],
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Vec<JsonExplained<'a>>>,
}

/// The `--format json` document.
pub fn to_json(batch: &Batch, rules: &Rules, explain: bool) -> serde_json::Value {
    let rule_names = rules.rule_names();
    let mut sources = Vec::new();
    let mut deliveries = Vec::new();
    let mut explained = Vec::new();
    for p in &batch.results {
        let Some(run) = &p.run else { continue };
        sources.push(JsonSource {
            source: run.location.to_string(),
            report: run.info.template,
            format: run.info.format,
            gzip: run.info.gzip,
            items: run.info.items,
            silenced: run.silenced,
            unmatched: run.unmatched,
        });
        for (sink_idx, listed) in run.per_sink.iter().enumerate() {
            let sink = &rules.sinks()[sink_idx];
            let digest = run.digests.iter().find(|d| d.sink == sink.name);
            if listed.is_empty() && digest.is_none() {
                continue;
            }
            deliveries.push(json_delivery(p, run, sink, listed, rule_names));
        }
        if explain {
            for e in &run.explained {
                explained.push(JsonExplained {
                    source: run.location.to_string(),
                    index: e.index,
                    row: &e.row,
                    silenced: e.silenced_by.is_some(),
                    rules: e
                        .traces
                        .iter()
                        .map(|t| JsonTrace {
                            rule: &t.rule,
                            matched: t.matched,
                            reasons: &t.reasons,
                        })
                        .collect(),
                });
            }
        }
    }
    let doc = JsonDryRun {
        sources,
        deliveries,
        silenced: batch.runs().map(|r| r.silenced).sum(),
        unmatched: batch.runs().map(|r| r.unmatched).sum(),
        skipped: &batch.skipped,
        errors: &batch.errors,
        explain: explain.then_some(explained),
    };
    serde_json::to_value(&doc).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// One sink's delivery of one report in the `--format json` document.
fn json_delivery<'a>(
    p: &'a Processed,
    run: &'a ReportRun,
    sink: &'a crate::rules::SinkDecl,
    listed: &[Listed],
    rule_names: &'a [String],
) -> JsonDelivery<'a> {
    let outcome = outcome_for(&p.outcomes, &sink.name);
    let digest = run.digests.iter().find(|d| d.sink == sink.name);
    let counts = sink_state(run, &sink.name);
    let resolved_findings = digest
        .and_then(|d| d.changes.as_ref())
        .map(|c| {
            c.resolved_findings
                .iter()
                .map(|f| JsonResolved {
                    row: FindingRow::from(f),
                    first_seen: f.first_seen.map(|d| d.to_string()),
                    days_open: f.days_open,
                })
                .collect()
        })
        .unwrap_or_default();
    JsonDelivery {
        new: counts.map(|c| c.new),
        ongoing: counts.map(|c| c.ongoing),
        resolved: counts.map(|c| c.resolved),
        since: run.state.as_ref().map(|s| s.since.map(|d| d.to_string())),
        resolved_findings: counts.map(|_| resolved_findings),
        not_sent: quiet_reason(run, &sink.name),
        messages: json_messages(outcome),
        error: outcome.and_then(|o| match &o.status {
            Status::Failed { error, .. } => Some(error.as_str()),
            Status::Delivered => None,
        }),
        sink: &sink.name,
        kind: &sink.kind,
        source: run.location.to_string(),
        count: listed.len(),
        findings: listed
            .iter()
            .map(|l| JsonFinding {
                row: &run.rows[l.row],
                rule: rule_names.get(l.rule).map(String::as_str).unwrap_or("?"),
                change: l.change.map(crate::sink_api::Change::as_str),
            })
            .collect(),
    }
}

/// The state stage's counts for `sink` in `run` (with state).
fn sink_state<'a>(
    run: &'a ReportRun,
    sink: &str,
) -> Option<&'a crate::state::document::SinkSummary> {
    run.state.as_ref()?.trailer.sinks.get(sink)
}

/// Why `sink`'s digest of `run` is not sent (`notify = "changes"`, `min_findings`), if so.
fn quiet_reason<'a>(run: &'a ReportRun, sink: &str) -> Option<&'a str> {
    run.state
        .as_ref()?
        .quiet
        .iter()
        .find(|q| q.sink == sink)
        .map(|q| q.reason.as_str())
}

/// ` — 3 new, 40 ongoing, 5 resolved since 2026-11-30` (with state), else empty.
fn changes_note(run: &ReportRun, sink: &str) -> String {
    let Some(c) = sink_state(run, sink) else {
        return String::new();
    };
    match run.state.as_ref().and_then(|s| s.since) {
        Some(since) => format!(
            " — {} new, {} ongoing, {} resolved since {since}",
            c.new, c.ongoing, c.resolved
        ),
        None => format!(" — {} new (first report of the stream)", c.new),
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// One finding's line, as the dry run lists it (and `diff`, which groups findings the same way):
/// account, region, then the resource and the job when the report has them; `-` for a null.
pub(crate) fn finding_line(row: &FindingRow) -> String {
    let mut line = format!("{} {}", opt(&row.account), opt(&row.region));
    if row.resource_type.is_some() || row.resource.is_some() {
        let _ = write!(line, " {} {}", opt(&row.resource_type), opt(&row.resource));
    }
    if let Some(job) = &row.job_id {
        let _ = write!(line, " job {job}");
    }
    line
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The text a person reads: per source, per sink, findings grouped framework → control →
/// resources (job reports: by status), with the rule that routed each.
pub fn to_text(batch: &Batch, rules: &Rules, explain: bool) -> String {
    // Each sink type's factory knows its message previews (Slack: the Block Kit Builder).
    let sinks = crate::sinks::registry();
    let mut out = String::new();
    for p in &batch.results {
        if let Some(run) = &p.run {
            write_source(&mut out, p, run, rules, &sinks, explain);
        }
    }
    for s in &batch.skipped {
        let _ = writeln!(out, "skipped: {s}");
    }
    for e in &batch.errors {
        let _ = writeln!(out, "error: {}", e.error);
    }
    write_total(&mut out, batch);
    out
}

/// One source that was read: its header line, then per sink its findings and messages, its
/// silenced and unmatched counts and (with `--explain`) every finding's rule walk.
fn write_source(
    out: &mut String,
    p: &Processed,
    run: &ReportRun,
    rules: &Rules,
    sinks: &crate::sinks::Registry,
    explain: bool,
) {
    let template = run
        .info
        .template
        .map(|t| t.name())
        .unwrap_or("unknown template");
    let format = match run.info.format {
        Format::Json => "json",
        Format::Csv => "csv",
    };
    let _ = writeln!(
        out,
        "{}: {template}, {format}{}, {}",
        run.location,
        if run.info.gzip { " (gzip)" } else { "" },
        plural(run.info.items as usize, "item", "items")
    );
    if let Some(state) = &run.state {
        write_state_line(out, state);
    }
    let mut any = false;
    for (sink_idx, listed) in run.per_sink.iter().enumerate() {
        let sink = &rules.sinks()[sink_idx];
        let digest = run.digests.iter().find(|d| d.sink == sink.name);
        if listed.is_empty() && digest.is_none() {
            continue;
        }
        any = true;
        let _ = writeln!(
            out,
            "\n  sink {} ({}): {}{}",
            sink.name,
            sink.kind,
            plural(listed.len(), "finding", "findings"),
            changes_note(run, &sink.name)
        );
        write_listed(out, &run.rows, listed, rules.rule_names());
        if let Some(d) = digest {
            write_resolved(out, d);
        }
        if let Some(why) = quiet_reason(run, &sink.name) {
            let _ = writeln!(out, "    not sent: {why}");
        }
        if let Some(o) = outcome_for(&p.outcomes, &sink.name) {
            write_messages(out, o, sinks);
        }
    }
    if !any {
        let _ = writeln!(out, "\n  no finding routed to any sink");
    }
    let _ = writeln!(
        out,
        "\n  silenced: {}, unmatched: {}\n",
        run.silenced, run.unmatched
    );
    if explain {
        write_explain(out, &run.explained);
    }
}

/// The last line: findings routed, silenced and unmatched over every source, and the sources
/// that failed.
fn write_total(out: &mut String, batch: &Batch) {
    let total_silenced: u64 = batch.runs().map(|r| r.silenced).sum();
    let total_unmatched: u64 = batch.runs().map(|r| r.unmatched).sum();
    let _ = writeln!(
        out,
        "total: {} routed to sinks, {total_silenced} silenced, {total_unmatched} unmatched{}",
        plural(
            batch.runs().map(|r| r.rows.len()).sum(),
            "finding",
            "findings"
        ),
        if batch.errors.is_empty() {
            String::new()
        } else {
            format!(
                ", {}",
                plural(batch.errors.len(), "source failed", "sources failed")
            )
        }
    );
}

/// `  compared with s3://…/20261125T000000Z_….json.gz (report of 2026-11-25)`, or why not.
fn write_state_line(out: &mut String, state: &crate::pipeline::RunState) {
    match (&state.previous, state.since) {
        (Some(prev), Some(since)) => {
            let _ = writeln!(out, "  compared with {prev} (report of {since})");
        }
        _ => {
            let _ = writeln!(
                out,
                "  no previous state of this stream: every finding is new"
            );
        }
    }
    if let Some(e) = &state.previous_error {
        let _ = writeln!(out, "  previous state not used: {e}");
    }
}

/// The resolved findings a digest lists (with state).
fn write_resolved(out: &mut String, d: &crate::Digest) {
    let Some(c) = &d.changes else { return };
    if c.resolved == 0 {
        return;
    }
    let _ = writeln!(out, "    resolved ({})", c.resolved);
    for f in &c.resolved_findings {
        let _ = writeln!(
            out,
            "      {}{}  [was {} for {}]",
            f.control
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default(),
            finding_line(&FindingRow::from(f)),
            f.status.as_deref().unwrap_or("-"),
            plural(f.days_open.unwrap_or(0) as usize, "day", "days")
        );
    }
    if c.resolved_omitted > 0 {
        let _ = writeln!(out, "      …and {} more", c.resolved_omitted);
    }
}

/// The findings one sink gets, framework → control → status (job reports: by status), each
/// with the rule that routed it, in a stable order.
fn write_listed(out: &mut String, rows: &[FindingRow], listed: &[Listed], rule_names: &[String]) {
    // framework → control → status → findings, in a stable order.
    type Key<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let mut groups: BTreeMap<Key, Vec<(&FindingRow, &str, &str)>> = BTreeMap::new();
    for l in listed {
        let row = &rows[l.row];
        let rule = rule_names.get(l.rule).map(String::as_str).unwrap_or("?");
        let change = match l.change {
            Some(crate::sink_api::Change::New) => "[new] ",
            _ => "",
        };
        groups
            .entry((
                row.framework.as_deref(),
                row.control.as_deref(),
                row.status.as_deref(),
            ))
            .or_default()
            .push((row, rule, change));
    }
    let mut last_framework: Option<Option<&str>> = None;
    for ((framework, control, status), items) in &groups {
        let indent = if framework.is_some() || control.is_some() {
            if last_framework != Some(*framework) {
                let _ = writeln!(out, "    framework {}", framework.unwrap_or("-"));
                last_framework = Some(*framework);
            }
            let _ = writeln!(
                out,
                "      control {} — {} ({})",
                control.unwrap_or("-"),
                status.unwrap_or("-"),
                items.len()
            );
            "        "
        } else {
            let _ = writeln!(
                out,
                "    status {} ({})",
                status.unwrap_or("-"),
                items.len()
            );
            "      "
        };
        for (row, rule, change) in items {
            let _ = writeln!(out, "{indent}{change}{}  [rule: {rule}]", finding_line(row));
        }
    }
}

fn write_explain(out: &mut String, explained: &[Explained]) {
    for e in explained {
        let r = &e.row;
        let _ = writeln!(
            out,
            "  finding #{}: {} {}/{} {} {} {} {} (environment {})",
            e.index,
            r.report,
            opt(&r.framework),
            opt(&r.control),
            opt(&r.status),
            opt(&r.account),
            opt(&r.region),
            r.resource.as_deref().or(r.job_id.as_deref()).unwrap_or("-"),
            r.environment
        );
        if let Some(s) = e.silenced_by {
            let _ = writeln!(out, "    silenced by silence #{}", s + 1);
        }
        for t in &e.traces {
            let _ = writeln!(
                out,
                "    rule {:?}: {}",
                t.rule,
                if t.matched { "matched" } else { "no match" }
            );
            for reason in &t.reasons {
                let _ = writeln!(out, "      {reason}");
            }
        }
    }
    if !explained.is_empty() {
        out.push('\n');
    }
}

/// The rendered messages of one outcome, indented, exactly as they would be sent.
fn write_messages(out: &mut String, o: &Outcome, sinks: &crate::sinks::Registry) {
    if let Status::Failed { error, .. } = &o.status {
        let _ = writeln!(out, "    rendering failed: {error}");
    }
    let n = o.messages.len();
    for m in &o.messages {
        let _ = writeln!(
            out,
            "    message {}/{n} to {} ({}, {} bytes){}",
            m.part,
            o.destination,
            m.content_type,
            m.body.len(),
            m.subject
                .as_deref()
                .map(|s| format!("\n      subject: {s}"))
                .unwrap_or_default()
        );
        for line in m.body.lines() {
            let _ = writeln!(out, "      | {line}");
        }
        if let Some(p) = sinks.preview(o.kind, m) {
            let _ = writeln!(out, "      preview ({}): {}", p.label, p.url);
        }
    }
}

/// `--format summary`: per source its counts, per sink what it would get — no per-finding
/// listing, so memory stays bounded however large the report (the benchmark's mode).
pub fn to_summary(batch: &Batch) -> String {
    let mut out = String::new();
    for p in &batch.results {
        let Some(run) = &p.run else { continue };
        let _ = writeln!(
            out,
            "{}: {} {} items={} silenced={} unmatched={}",
            run.location,
            run.info.template.map(|t| t.name()).unwrap_or("unknown"),
            match run.info.format {
                Format::Json => "json",
                Format::Csv => "csv",
            },
            run.info.items,
            run.silenced,
            run.unmatched
        );
        for d in &run.digests {
            let o = outcome_for(&p.outcomes, &d.sink);
            let (messages, bytes) = o
                .map(|o| {
                    (
                        o.messages.len(),
                        o.messages.iter().map(|m| m.body.len()).sum::<usize>(),
                    )
                })
                .unwrap_or((0, 0));
            let _ = writeln!(
                out,
                "  sink {}: findings={} groups={} messages={messages} bytes={bytes}{}",
                d.sink,
                d.total,
                d.groups.len(),
                match o.map(|o| &o.status) {
                    Some(Status::Failed { error, .. }) => format!(" error={error}"),
                    _ => String::new(),
                }
            );
        }
    }
    for e in &batch.errors {
        let _ = writeln!(out, "error: {}", e.error);
    }
    out
}

/// What `send` prints: per sink and report, delivered (message ids) or failed (why).
pub fn outcomes_text(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        match &o.status {
            Status::Delivered => {
                let ids = o.message_ids();
                let _ = writeln!(
                    out,
                    "delivered: sink {} ({}) → {}: {} for {}{}",
                    o.sink,
                    o.kind,
                    o.destination,
                    plural(o.sent.len(), "message", "messages"),
                    o.source,
                    if ids.is_empty() {
                        String::new()
                    } else {
                        format!(" (ids: {})", ids.join(", "))
                    }
                );
                for why in o.fallbacks() {
                    let _ = writeln!(out, "  fallback: sink {}: {why}", o.sink);
                }
            }
            Status::Failed { error, retryable } => {
                let _ = writeln!(
                    out,
                    "FAILED: sink {} ({}) → {}: {} of {} messages sent for {}: {error}{}",
                    o.sink,
                    o.kind,
                    o.destination,
                    o.sent.len(),
                    o.messages.len(),
                    o.source,
                    if *retryable { " (retryable)" } else { "" }
                );
            }
        }
    }
    out
}

/// `send`'s text: per report its counts (or why nothing was sent), then per sink `delivered`
/// (message ids) or `FAILED` (why). `with_receipts`: the report lines of `send --receipts`.
pub fn send_text(batch: &Batch, with_receipts: bool) -> String {
    let mut out = String::new();
    for p in &batch.results {
        let source = &p.location;
        let receipt_uri = p.receipt_uri.as_deref().unwrap_or_default();
        match &p.disposition {
            Disposition::Duplicate => {
                let _ = writeln!(
                    out,
                    "{source}: already delivered to every routed sink ({}): nothing sent \
                     (receipt {receipt_uri})",
                    p.already_delivered.join(", ")
                );
            }
            Disposition::Busy { owner, until } => {
                let _ = writeln!(
                    out,
                    "{source}: another run ({owner}) holds the receipt until {until}: nothing \
                     sent; try again later"
                );
            }
            Disposition::Routed => {
                if let Some(r) = &p.run {
                    let _ = writeln!(
                        out,
                        "{source}: {} items, {} silenced, {} unmatched",
                        r.info.items, r.silenced, r.unmatched
                    );
                    let quiet = r.state.iter().flat_map(|s| &s.quiet);
                    if r.digests.is_empty() && quiet.clone().next().is_none() {
                        let _ = writeln!(out, "no finding routed to any sink: nothing sent");
                    }
                    for q in quiet {
                        let _ = writeln!(out, "skipped: sink {}: {}", q.sink, q.reason);
                    }
                }
                if with_receipts {
                    for sink in &p.already_delivered {
                        let _ = writeln!(
                            out,
                            "skipped: sink {sink}: already delivered (receipt {receipt_uri})"
                        );
                    }
                }
                out.push_str(&outcomes_text(&p.outcomes));
            }
        }
    }
    out
}

/// `send --format json`. Without receipts: `sources` (counts), `outcomes`, `skipped`, `errors`;
/// with receipts each source also has its `status`, `claim`, `already_delivered`,
/// `receipt_uri` and `receipt`. Both shapes are pinned; with state (only) each source also has
/// `since` and `not_sent`.
pub fn send_json(batch: &Batch, with_receipts: bool) -> Value {
    let sources: Vec<Value> = batch
        .results
        .iter()
        .map(|p| {
            let run = p.run.as_ref();
            let mut v = send_json_source(p, with_receipts);
            // With state only: since when, and the sinks told nothing (and why).
            if let Some(state) = run.and_then(|r| r.state.as_ref()) {
                v["since"] = json!(state.since.map(|d| d.to_string()));
                v["not_sent"] = json!(state.quiet);
            }
            v
        })
        .collect();
    let outcomes: Vec<&Outcome> = batch.results.iter().flat_map(|p| &p.outcomes).collect();
    json!({
        "sources": sources,
        "outcomes": outcomes,
        "skipped": batch.skipped,
        "errors": batch.errors,
    })
}

/// One source of `send --format json` (see [`send_json`]).
fn send_json_source(p: &Processed, with_receipts: bool) -> Value {
    let run = p.run.as_ref();
    if !with_receipts {
        return json!({
            "source": p.location.to_string(),
            "report": run.map(|r| r.info.template),
            "format": run.map(|r| r.info.format),
            "items": run.map(|r| r.info.items),
            "silenced": run.map(|r| r.silenced),
            "unmatched": run.map(|r| r.unmatched),
        });
    }
    let claim = match &p.disposition {
        Disposition::Busy { owner, until } => {
            Some(json!({"owner": owner, "until": until.to_rfc3339()}))
        }
        _ => None,
    };
    json!({
        "source": p.location.to_string(),
        "status": p.status(),
        "claim": claim,
        "report": run.map(|r| r.info.template),
        "format": run.map(|r| r.info.format),
        "items": run.map(|r| r.info.items),
        "silenced": run.map(|r| r.silenced),
        "unmatched": run.map(|r| r.unmatched),
        "already_delivered": p.already_delivered,
        "receipt_uri": p.receipt_uri.clone().unwrap_or_default(),
        "receipt": p.receipt,
    })
}

/// One report of the Lambda function's answer (`{"reports": [...], "skipped": [...]}`).
pub fn lambda_report(p: &Processed) -> Value {
    let outcomes: Vec<Value> = p
        .outcomes
        .iter()
        .map(|o| match &o.status {
            Status::Delivered => json!({
                "sink": o.sink, "status": "delivered", "message_ids": o.message_ids(),
            }),
            Status::Failed { error, retryable } => json!({
                "sink": o.sink, "status": "failed", "error": error, "retryable": retryable,
            }),
        })
        .collect();
    let mut v = json!({
        "report": p.location.to_string(),
        "status": p.status(),
        "sent": outcomes,
        "already_delivered": p.already_delivered,
    });
    if let Some(run) = &p.run {
        v["items"] = json!(run.info.items);
        v["silenced"] = json!(run.silenced);
        v["unmatched"] = json!(run.unmatched);
        if let Some(state) = &run.state {
            v["since"] = json!(state.since.map(|d| d.to_string()));
            v["not_sent"] = json!(state.quiet);
        }
    }
    v
}

/// A report that could not be run, in the Lambda function's answer.
pub fn lambda_report_error(report: &str, error: &str) -> Value {
    json!({"report": report, "status": "error", "error": error})
}

/// The Lambda function's answer to an invocation that succeeded.
pub fn lambda_answer(reports: Vec<Value>, skipped: &[String]) -> Value {
    json!({"reports": reports, "skipped": skipped})
}

/// The partial batch response of an SQS-triggered invocation: the messages to deliver again.
pub fn sqs_batch_answer(failed: &[String]) -> Value {
    let failures: Vec<Value> = failed
        .iter()
        .map(|id| json!({"itemIdentifier": id}))
        .collect();
    json!({"batchItemFailures": failures})
}

/// `s3://…: sink x failed: … (retryable), sink y not tried`: what failed of a report.
pub fn failure_line(p: &Processed) -> String {
    let mut parts: Vec<String> = p
        .failed()
        .iter()
        .map(|(sink, error, retryable)| {
            format!(
                "sink {sink} failed: {error}{}",
                if *retryable {
                    " (retryable)"
                } else {
                    " (permanent)"
                }
            )
        })
        .collect();
    if let Some(receipt) = &p.receipt {
        // Routed sinks never tried (e.g. a crashed sink task).
        for s in receipt.routed.iter().flatten() {
            if !receipt.sinks.contains_key(s) {
                parts.push(format!("sink {s} not tried"));
            }
        }
    }
    if parts.is_empty() {
        parts.push("not every routed sink was delivered".to_owned());
    }
    format!("{}: {}", p.location, parts.join(", "))
}

/// What a dry run prints on stderr: each source that failed, each message that did not render.
pub fn dry_run_errors(batch: &Batch) -> String {
    let mut out = String::new();
    for e in &batch.errors {
        let _ = writeln!(out, "error: {}", e.error);
    }
    for o in batch.results.iter().flat_map(|p| &p.outcomes) {
        if let Status::Failed { error, .. } = &o.status {
            let _ = writeln!(
                out,
                "error: sink {}: rendering {} failed: {error}",
                o.sink, o.source
            );
        }
    }
    out
}

/// Per sink, what became of one report: the parts of the Lambda's summary log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportSummary {
    /// `sink: N messages, ids: …` (and the fallbacks sent, why).
    pub delivered: Vec<String>,
    /// `sink: why (retryable|permanent)`, and routed sinks never tried.
    pub failed: Vec<String>,
    /// `sink: already delivered by an earlier run`, a duplicate event, a busy claim, nothing
    /// routed.
    pub skipped: Vec<String>,
}

/// What became of `p`, per sink (see [`ReportSummary`]).
pub fn report_summary(p: &Processed) -> ReportSummary {
    let mut s = ReportSummary::default();
    for o in &p.outcomes {
        match &o.status {
            Status::Delivered => {
                let ids = o.message_ids();
                let mut line = format!(
                    "{}: {}",
                    o.sink,
                    plural(o.sent.len(), "message", "messages")
                );
                if !ids.is_empty() {
                    let _ = write!(line, ", ids: {}", ids.join(", "));
                }
                for why in o.fallbacks() {
                    let _ = write!(line, ", fallback sent: {why}");
                }
                s.delivered.push(line);
            }
            Status::Failed { error, retryable } => s.failed.push(format!(
                "{}: {error} ({}; {} of {} messages sent)",
                o.sink,
                if *retryable { "retryable" } else { "permanent" },
                o.sent.len(),
                o.messages.len()
            )),
        }
    }
    if let Some(receipt) = &p.receipt {
        for sink in receipt.routed.iter().flatten() {
            let tried = p.outcomes.iter().any(|o| &o.sink == sink);
            if !tried && !receipt.sinks.contains_key(sink) {
                s.failed.push(format!("{sink}: not tried"));
            }
        }
    }
    match &p.disposition {
        Disposition::Duplicate => {
            for sink in &p.already_delivered {
                s.skipped
                    .push(format!("{sink}: already delivered (duplicate event)"));
            }
            if p.already_delivered.is_empty() {
                s.skipped
                    .push("duplicate event: nothing routed, nothing to send".to_owned());
            }
        }
        Disposition::Busy { owner, until } => s.skipped.push(format!(
            "every sink: another invocation ({owner}) holds the receipt until {until}"
        )),
        Disposition::Routed => {
            for sink in &p.already_delivered {
                s.skipped
                    .push(format!("{sink}: already delivered by an earlier run"));
            }
            let quiet: Vec<_> = p
                .run
                .iter()
                .flat_map(|r| &r.state)
                .flat_map(|st| &st.quiet)
                .collect();
            for q in &quiet {
                s.skipped.push(format!("{}: {}", q.sink, q.reason));
            }
            if quiet.is_empty() && p.run.as_ref().is_some_and(|r| r.digests.is_empty()) {
                s.skipped
                    .push("no finding routed to any sink: nothing to send".to_owned());
            }
        }
    }
    s
}
