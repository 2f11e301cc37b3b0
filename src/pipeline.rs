//! Drives the stages for one report: open → read (streaming) → route → group → (with state)
//! compare with the stream's previous report. Delivery and receipts come after, on the digests
//! this returns. The CLI's `dry-run` and `send` and the Lambda handler go through
//! [`Engine::route_opened_with_state`] (from `crate::run`); the benchmark and tests call
//! [`route_report`] / [`route_report_with_state`] directly.

use crate::group::Grouper;
use crate::location::ReportLocation;
use crate::report::{self, ReportError, ReportInfo};
use crate::rules::{RouteMemo, Routing};
use crate::rules::{RuleTrace, Rules};
use crate::sink_api::SourceInfo;
use crate::{Digest, Finding, FindingView, ReportTemplate, fetch};
use serde::Serialize;
use std::io::Read;
use std::sync::Arc;

/// What to keep beside the digests.
#[derive(Clone, Debug)]
pub struct RouteOptions {
    /// Keep a row per routed finding (dry-run listings). Grows with the report; the digest path
    /// (`false`) does not.
    pub listing: bool,
    /// Keep every rule's verdict for every finding (`dry-run --explain`).
    pub explain: bool,
    /// Findings kept per digest for rendering (counts stay exact).
    pub max_kept: usize,
    /// Counts bytes read and findings routed as the report is read, for the CLI's progress
    /// line ([`crate::progress`]).
    pub progress: Option<Arc<crate::progress::Progress>>,
}

impl Default for RouteOptions {
    fn default() -> Self {
        RouteOptions {
            listing: false,
            explain: false,
            max_kept: crate::group::DEFAULT_MAX_KEPT,
            progress: None,
        }
    }
}

/// A finding's routable fields, as `dry-run --format json` prints them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    pub report: ReportTemplate,
    pub framework: Option<String>,
    pub control: Option<String>,
    pub status: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub environment: String,
    pub resource_type: Option<String>,
    pub resource: Option<String>,
    pub job_id: Option<String>,
}

impl From<&FindingView<'_>> for FindingRow {
    fn from(f: &FindingView<'_>) -> Self {
        let own = |s: Option<&str>| s.map(str::to_owned);
        FindingRow {
            report: f.report,
            framework: own(f.framework),
            control: own(f.control),
            status: own(f.status),
            account: own(f.account),
            region: own(f.region),
            environment: f.environment.to_owned(),
            resource_type: own(f.resource_type),
            resource: own(f.resource),
            job_id: own(f.job_id),
        }
    }
}

impl From<&Finding> for FindingRow {
    fn from(f: &Finding) -> Self {
        FindingRow {
            report: f.report,
            framework: f.framework.clone(),
            control: f.control.clone(),
            status: f.status.clone(),
            account: f.account.clone(),
            region: f.region.clone(),
            environment: f.environment.clone(),
            resource_type: f.resource_type.clone(),
            resource: f.resource.clone(),
            job_id: f.job_id.clone(),
        }
    }
}

/// One routed finding in a sink's listing: indexes into [`ReportRun::rows`] and
/// [`Rules::rule_names`], and how it compares with the previous report (with state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    pub row: usize,
    pub rule: usize,
    pub change: Option<crate::sink_api::Change>,
}

/// Every rule's verdict for one finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    pub index: u64,
    pub row: FindingRow,
    /// The live silence that swallowed it (index into the rules' silences).
    pub silenced_by: Option<usize>,
    pub traces: Vec<RuleTrace>,
}

/// The result of routing one report.
#[derive(Debug)]
pub struct ReportRun {
    pub location: ReportLocation,
    pub info: ReportInfo,
    /// One digest per sink that got at least one finding, in sink declaration order.
    pub digests: Vec<Digest>,
    /// With `listing`: every finding routed somewhere.
    pub rows: Vec<FindingRow>,
    /// With `listing`: per declared sink (indexed like [`Rules::sinks`]), its findings in report
    /// order.
    pub per_sink: Vec<Vec<Listed>>,
    /// With `explain`: every finding of the report.
    pub explained: Vec<Explained>,
    /// Findings a live silence swallowed.
    pub silenced: u64,
    /// Findings no rule routed.
    pub unmatched: u64,
    /// Bytes of the report as stored (gzip: compressed), as the reader pulled them.
    pub bytes: u64,
    /// Every finding counted by environment and status ([`crate::metrics`]).
    pub findings: crate::metrics::StatusTally,
    /// With state: the comparison with the previous report and this report's state document.
    pub state: Option<RunState>,
}

/// What the state stage made of a report ([`crate::state`]).
#[derive(Debug)]
pub struct RunState {
    /// The report's state document (gzip), to be written once.
    pub document: Vec<u8>,
    pub trailer: crate::state::document::Trailer,
    /// Sinks whose digest is not sent (`notify = "changes"`, `min_findings`), and why.
    pub quiet: Vec<crate::state::Quiet>,
    /// The previous report's date; `None` for the first report of the stream.
    pub since: Option<chrono::NaiveDate>,
    /// Where the previous state came from (`s3://…`, or the report `dry-run --previous` named).
    pub previous: Option<String>,
    /// Why the previous state was not used (unreadable, a newer format): the report was then
    /// compared with nothing, as a stream's first report.
    pub previous_error: Option<String>,
}

/// What the state stage needs before a report is read: this report's header and the previous
/// state document, if any (read on the routing thread: decompressing and indexing it is work).
#[derive(Debug)]
pub struct StateInput {
    pub header: crate::state::document::Header,
    /// (`s3://…` or a description, the gzip bytes)
    pub previous: Option<(String, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{location}: the report reader stopped unexpectedly: {message}")]
    Worker { location: String, message: String },
    #[error("{location}: {source}")]
    State {
        location: String,
        #[source]
        source: crate::state::StateError,
    },
}

/// The [`SourceInfo`] digests carry for a location.
pub fn source_info(location: &ReportLocation) -> SourceInfo {
    let (bucket, key) = match location {
        ReportLocation::S3 { bucket, key } => (Some(bucket.clone()), Some(key.clone())),
        ReportLocation::Local(_) => (None, None),
    };
    SourceInfo {
        uri: location.to_string(),
        bucket,
        key,
        format: String::new(),
    }
}

/// Reads one report from `input` and routes every finding. Synchronous and streaming: run it on
/// a blocking thread when `input` is bridged from async I/O.
pub fn route_report<R: Read>(
    rules: &Rules,
    input: R,
    location: &ReportLocation,
    opts: &RouteOptions,
) -> Result<ReportRun, ReportError> {
    match route_report_with_state(rules, input, location, opts, None) {
        Ok(run) => Ok(run),
        Err(PipelineError::Report(e)) => Err(e),
        // Without state only the reader fails.
        Err(other) => Err(ReportError::Io {
            source_name: location.to_string(),
            error: std::io::Error::other(other.to_string()),
        }),
    }
}

/// The state stage's tracker for `input`, the name of the previous document it compares with,
/// and why a previous document could not be used (the report is then compared with nothing).
fn tracker(
    rules: &Rules,
    input: StateInput,
) -> (crate::state::Tracker<'_>, Option<String>, Option<String>) {
    use crate::state::{Tracker, document::Reader};
    let StateInput {
        mut header,
        previous,
    } = input;
    let mut error = None;
    let reader = previous.and_then(|(name, bytes)| match Reader::open(&name, bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            error = Some(e.to_string());
            None
        }
    });
    let name = reader.as_ref().map(|r| r.name.clone());
    if reader.is_none() {
        header.previous = None;
    }
    match Tracker::new(rules, header.clone(), reader) {
        Ok(t) => (t, name, error),
        Err(e) => {
            header.previous = None;
            (Tracker::fresh(rules, header), None, Some(e.to_string()))
        }
    }
}

/// [`route_report`] with the state stage: each routed finding compared with `state`'s previous
/// document, the digests given their changes (and those told nothing left out), and the
/// report's own state document made ([`ReportRun::state`]).
pub fn route_report_with_state<R: Read>(
    rules: &Rules,
    input: R,
    location: &ReportLocation,
    opts: &RouteOptions,
    state: Option<StateInput>,
) -> Result<ReportRun, PipelineError> {
    let hint = location
        .file_name()
        .and_then(report::template_from_file_name);
    let source_name = location.to_string();
    let input = crate::progress::CountingReader::new(input, opts.progress.clone());
    let bytes = input.count.clone();
    let mut walk = Walk::new(rules, location, opts, state);
    let info = report::read_report_items(
        input,
        &source_name,
        hint,
        &report::ReadLimits::default(),
        &mut |item| walk.item(item),
    )?;
    let bytes = bytes.load(std::sync::atomic::Ordering::Relaxed);
    walk.finish(location, info, bytes)
}

/// What routing one report gathers, item by item ([`route_report_with_state`]).
struct Walk<'r> {
    rules: &'r Rules,
    opts: &'r RouteOptions,
    grouper: Grouper,
    /// The state stage, the previous document's name and why it was not used.
    tracked: Option<(crate::state::Tracker<'r>, Option<String>, Option<String>)>,
    rows: Vec<FindingRow>,
    per_sink: Vec<Vec<Listed>>,
    explained: Vec<Explained>,
    silenced: u64,
    unmatched: u64,
    findings: crate::metrics::StatusTally,
    /// Routed findings not yet added to the progress counters (added in batches: one atomic
    /// add per finding would be wasted work without a terminal).
    unreported: u64,
    routing: Routing,
    memo: RouteMemo,
}

impl<'r> Walk<'r> {
    fn new(
        rules: &'r Rules,
        location: &ReportLocation,
        opts: &'r RouteOptions,
        state: Option<StateInput>,
    ) -> Walk<'r> {
        let sink_names: Vec<String> = rules.sinks().iter().map(|s| s.name.clone()).collect();
        let sink_count = sink_names.len();
        Walk {
            rules,
            opts,
            grouper: Grouper::new(sink_names, source_info(location), opts.max_kept),
            tracked: state.map(|s| tracker(rules, s)),
            rows: Vec::new(),
            per_sink: vec![Vec::new(); sink_count],
            explained: Vec::new(),
            silenced: 0,
            unmatched: 0,
            findings: crate::metrics::StatusTally::default(),
            unreported: 0,
            routing: Routing::default(),
            memo: RouteMemo::new(),
        }
    }

    /// Routes one report item and hands it to every stage that keeps something of it.
    fn item(&mut self, item: &report::Item<'_>) {
        let (rules, opts) = (self.rules, self.opts);
        let mut view = item.view;
        rules.route_view_memo(&mut view, &mut self.routing, &mut self.memo);
        self.findings.add(view.environment, view.status);
        // The owned finding, only where one is kept (digests, `--explain`).
        let make = || {
            let mut f = item.to_finding();
            f.environment = view.environment.to_owned();
            f
        };
        if opts.explain {
            self.explained.push(Explained {
                index: view.index,
                row: FindingRow::from(&view),
                silenced_by: self.routing.silenced,
                traces: rules.explain(&make()),
            });
        }
        if self.routing.silenced.is_some() {
            self.silenced += 1;
            return;
        }
        if self.routing.deliveries.is_empty() {
            self.unmatched += 1;
            return;
        }
        let seen: &[Option<crate::sink_api::Seen>] = match &mut self.tracked {
            Some((t, _, _)) => t.observe(&view, &self.routing),
            None => &[],
        };
        if opts.listing {
            let row = self.rows.len();
            self.rows.push(FindingRow::from(&view));
            for (j, d) in self.routing.deliveries.iter().enumerate() {
                if let Some(list) = self.per_sink.get_mut(d.sink) {
                    let change = seen.get(j).copied().flatten().map(|s| s.change);
                    list.push(Listed {
                        row,
                        rule: d.rule,
                        change,
                    });
                }
            }
        }
        let ids = self.memo.value_ids();
        self.grouper
            .push_view_seen(&view, &ids, &make, &self.routing, rules.rule_names(), seen);
        if let Some(p) = &opts.progress {
            self.unreported += 1;
            if self.unreported == PROGRESS_BATCH {
                p.add_routed(self.unreported);
                self.unreported = 0;
            }
        }
    }

    /// The report routed: its digests (with the state stage's changes), listings and counts.
    fn finish(
        self,
        location: &ReportLocation,
        info: ReportInfo,
        bytes: u64,
    ) -> Result<ReportRun, PipelineError> {
        if let Some(p) = &self.opts.progress {
            p.add_routed(self.unreported);
        }
        let mut source = source_info(location);
        source.format = match info.format {
            report::Format::Json => "json",
            report::Format::Csv => "csv",
        }
        .to_owned();
        let mut digests = self.grouper.finish();
        for d in &mut digests {
            d.source.format.clone_from(&source.format);
        }
        let state = match self.tracked {
            Some((tracker, previous, previous_error)) => {
                let finished = tracker
                    .finish(digests, info.template, &source, self.opts.max_kept)
                    .map_err(|source| PipelineError::State {
                        location: location.to_string(),
                        source,
                    })?;
                digests = finished.digests;
                Some(RunState {
                    document: finished.document,
                    trailer: finished.trailer,
                    quiet: finished.quiet,
                    since: finished.since,
                    previous,
                    previous_error,
                })
            }
            None => None,
        };
        Ok(ReportRun {
            location: location.clone(),
            info,
            digests,
            rows: self.rows,
            per_sink: self.per_sink,
            explained: self.explained,
            silenced: self.silenced,
            unmatched: self.unmatched,
            bytes,
            findings: self.findings,
            state,
        })
    }
}

/// Routed findings counted before the progress counters are updated.
const PROGRESS_BATCH: u64 = 1024;

/// Sinks that could not be built from their `[sinks.NAME]` tables: one diagnostic each, at the
/// offending key of the rules file (`rules.toml:12:1: error: sinks.chat.url: missing …`).
#[derive(Debug, thiserror::Error)]
#[error("{}", .diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct SinkSetupError {
    pub diagnostics: Vec<crate::rules::Diagnostic>,
}

/// Everything a process needs to run reports through the whole pipeline, built once (per CLI
/// run, per Lambda cold start): the rules, the sinks built from them, and the AWS clients.
#[derive(Clone)]
pub struct Engine {
    pub rules: Arc<Rules>,
    /// Indexed like [`Rules::sinks`].
    pub sinks: Vec<Arc<dyn crate::sink_api::Sink>>,
    pub aws: Option<aws_config::SdkConfig>,
    pub s3: Option<aws_sdk_s3::Client>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "sinks",
                &self.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("aws", &self.aws.is_some())
            .finish()
    }
}

/// The process's AWS configuration from the standard chain (honours `AWS_ENDPOINT_URL`,
/// `AWS_REGION`, …). Loading it makes no network call.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

impl Engine {
    /// Builds every declared sink (settings validated, templates compiled; secrets are resolved
    /// lazily on first send). `aws` is `None` where nothing AWS is touched (dry runs of local
    /// files): AWS sinks then fail on send, never on render.
    pub fn new(rules: Rules, aws: Option<aws_config::SdkConfig>) -> Result<Engine, SinkSetupError> {
        let ctx = crate::sink_api::BuildContext {
            base_dir: rules.base_dir().to_path_buf(),
            aws: aws.clone(),
            secrets: crate::secrets::process_resolver(aws.clone()),
        };
        let sinks = crate::sinks::registry()
            .build_all(rules.sinks(), &ctx)
            .map_err(|errors| SinkSetupError {
                diagnostics: errors
                    .iter()
                    .map(|e| {
                        let decl = rules.sinks().iter().find(|d| d.name == e.sink);
                        e.diagnostic(rules.file(), decl)
                    })
                    .collect(),
            })?;
        let s3 = aws.as_ref().map(fetch::s3_client_from_config);
        Ok(Engine {
            rules: Arc::new(rules),
            sinks,
            aws,
            s3,
        })
    }

    /// Opens and routes one report ([`Engine::route_opened`]).
    pub async fn route(
        &self,
        location: ReportLocation,
        opts: RouteOptions,
    ) -> Result<ReportRun, PipelineError> {
        let opened = fetch::open(&location, self.s3.as_ref()).await?;
        self.route_opened(opened, location, opts).await
    }

    /// Routes an opened report ([`route_report`]) on a blocking thread: the reader blocks on
    /// the S3 stream (see [`fetch`]).
    pub async fn route_opened(
        &self,
        opened: fetch::Opened,
        location: ReportLocation,
        opts: RouteOptions,
    ) -> Result<ReportRun, PipelineError> {
        self.route_opened_with_state(opened, location, opts, None)
            .await
    }

    /// [`Engine::route_opened`] with the state stage ([`route_report_with_state`]).
    pub async fn route_opened_with_state(
        &self,
        opened: fetch::Opened,
        location: ReportLocation,
        opts: RouteOptions,
        state: Option<StateInput>,
    ) -> Result<ReportRun, PipelineError> {
        let rules = self.rules.clone();
        let name = location.to_string();
        // The reader's log lines carry the caller's span (the Lambda's request id and report).
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                route_report_with_state(&rules, opened.reader, &location, &opts, state)
            })
        })
        .await
        .map_err(|e| PipelineError::Worker {
            location: name,
            message: e.to_string(),
        })?
    }

    /// One delivery job per digest of `run` (one per sink that got findings).
    pub fn jobs(&self, run: &ReportRun) -> Vec<crate::deliver::DeliveryJob> {
        run.digests
            .iter()
            .filter_map(|digest| {
                let sink = self.sinks.iter().find(|s| s.name() == digest.sink)?;
                Some(crate::deliver::DeliveryJob {
                    sink: sink.clone(),
                    digest: digest.clone(),
                })
            })
            .collect()
    }
}
