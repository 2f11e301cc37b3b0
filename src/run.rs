//! One run of one report, end to end — the only place the second half of the flow is written.
//! `audit-router send`, `send --receipts`, `dry-run`, the Lambda handler and the tests all call
//! [`run_report`]:
//!
//! 1. Open the report (S3 `GetObject`): this gives its ETag, so a report re-written with new
//!    content under the same key starts a fresh receipt.
//! 2. With receipts, claim its receipt. A duplicate event for a delivered report stops here
//!    ([`Disposition::Duplicate`]); a live claim of another invocation too
//!    ([`Disposition::Busy`]). Nothing has been read or sent yet.
//! 3. Read and route the report (streaming, on a blocking thread). A report that does not parse
//!    is a permanent failure ([`RunError::is_permanent`]); the claim is given back, nothing is
//!    sent. With a state store ([`Stores::state`]) or `--previous`, the state stage
//!    ([`crate::state`]) compares each finding with the stream's previous report as it is read;
//!    the report's own state document is then written, once, before anything is sent.
//! 4. Deliver the digests of the routed sinks the receipt does not show as delivered,
//!    concurrently ([`Fanout`]), with the caller's deadline; with receipts, record each outcome
//!    as soon as that sink finishes (so a crash later loses no record of a sink already served).
//!    A dry run delivers to recording sinks instead ([`crate::deliver::recorded`]): the exact
//!    payloads, nothing sent.
//! 5. Release the claim. [`Processed::retry_can_help`] then tells whether a retry has something
//!    to do (a routed sink undelivered for a reason that may go away).
//!
//! Every read and write is bounded: the report's open and read by the deliveries' deadline, the
//! receipt operations by [`RunOptions::receipt_deadline`] (later, so a sink finishing at the
//! deadline is still recorded).

use chrono::{DateTime, Utc};

use crate::deliver::{self, DeliverOptions, DeliveryJob, Fanout, Outcome, Status};
use crate::fetch;
use crate::location::ReportLocation;
use crate::pipeline::{Engine, PipelineError, ReportRun, RouteOptions, StateInput};
use crate::receipt::{Claim, HeldClaim, Receipt, ReceiptError, ReceiptStore, SinkOutcome};
use crate::report::ReportError;
use crate::state::StateStore;

/// What outlives a run: delivery receipts (each sink gets a report once) and the state of the
/// report streams (what changed since the previous report). Either may be absent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stores<'a> {
    pub receipts: Option<&'a ReceiptStore>,
    pub state: Option<&'a StateStore>,
}

/// How to run one report.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Who claims the receipt: the Lambda request id, or [`cli_owner`].
    pub owner: String,
    /// Deadline, retry policy and render context of the deliveries; the deadline bounds the
    /// report's read too.
    pub deliver: DeliverOptions,
    /// Receipt reads and writes give up at this instant ([`ReceiptError::Timeout`], transient):
    /// later than the deliveries' deadline, so a sink that finishes at that deadline can still
    /// be recorded, and before the caller's own end (the Lambda's timeout), so a receipt write S3
    /// never answers fails the invocation with a reason instead of letting Lambda kill it.
    pub receipt_deadline: Option<tokio::time::Instant>,
    pub route: RouteOptions,
    /// Deliver to recording sinks: render everything, send nothing (`dry-run`). The state is
    /// then read, never written.
    pub dry_run: bool,
    /// Compare with this report instead of the stored state (`dry-run --previous`): it is
    /// routed with the same rules first, as if it had been the stream's previous report.
    pub previous: Option<ReportLocation>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            owner: cli_owner(),
            deliver: DeliverOptions::default(),
            receipt_deadline: None,
            route: RouteOptions::default(),
            dry_run: false,
            previous: None,
        }
    }
}

impl RunOptions {
    /// `send --timeout`: deliveries stop at `timeout` from now; receipt writes get 15 s more.
    pub fn for_send(timeout: std::time::Duration) -> RunOptions {
        let now = tokio::time::Instant::now();
        let mut opts = RunOptions::default();
        opts.deliver.deadline = Some(now + timeout);
        opts.receipt_deadline = Some(now + timeout + std::time::Duration::from_secs(15));
        opts
    }
}

/// What became of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Routed; the pending sinks were sent to (see [`Processed::outcomes`]).
    Routed,
    /// Every routed sink was delivered by an earlier run: nothing was sent.
    Duplicate,
    /// Another invocation holds a live claim on the receipt: nothing was sent; try again later.
    Busy { owner: String, until: DateTime<Utc> },
}

/// The result of [`run_report`]: what every printed shape (CLI text and JSON, the Lambda's
/// answer and log) is made from (`crate::output`).
#[derive(Debug)]
pub struct Processed {
    pub location: ReportLocation,
    pub disposition: Disposition,
    /// The routing (counts, digests, listings); `None` for a duplicate or busy report (not read).
    pub run: Option<ReportRun>,
    /// One per sink delivered to in this run (dry run: recorded), in completion order.
    pub outcomes: Vec<Outcome>,
    /// Routed sinks skipped because the receipt shows them delivered already.
    pub already_delivered: Vec<String>,
    /// The receipt as stored after this run, and where (`None` without receipts).
    pub receipt: Option<Receipt>,
    pub receipt_uri: Option<String>,
    /// How long the run took: open, claim, read and route, deliver, record, release.
    pub elapsed: std::time::Duration,
}

impl Processed {
    fn unread(location: ReportLocation, disposition: Disposition) -> Processed {
        Processed {
            location,
            disposition,
            run: None,
            outcomes: Vec::new(),
            already_delivered: Vec::new(),
            receipt: None,
            receipt_uri: None,
            elapsed: std::time::Duration::ZERO,
        }
    }

    /// The sinks that failed in this run: (sink, error, retryable).
    pub fn failed(&self) -> Vec<(&str, &str, bool)> {
        self.outcomes
            .iter()
            .filter_map(|o| match &o.status {
                Status::Failed { error, retryable } => {
                    Some((o.sink.as_str(), error.as_str(), *retryable))
                }
                Status::Delivered => None,
            })
            .collect()
    }

    /// Whether running this report again can deliver something that is not delivered yet: a
    /// busy receipt, or a routed sink that failed with a retryable error. With receipts the
    /// receipt decides (it also knows about sinks never tried); a sink that failed for good does
    /// not keep the report retrying.
    pub fn retry_can_help(&self) -> bool {
        match (&self.disposition, &self.receipt) {
            (Disposition::Duplicate, _) => false,
            (Disposition::Busy { .. }, _) => true,
            (Disposition::Routed, Some(receipt)) => receipt.retry_can_help(),
            (Disposition::Routed, None) => self.failed().iter().any(|(_, _, retryable)| *retryable),
        }
    }

    /// Every routed sink has the digest (now or from an earlier run).
    pub fn complete(&self) -> bool {
        match (&self.disposition, &self.receipt) {
            (Disposition::Duplicate, _) => true,
            (Disposition::Busy { .. }, _) => false,
            (Disposition::Routed, Some(receipt)) => receipt.is_complete(),
            (Disposition::Routed, None) => self.failed().is_empty(),
        }
    }

    /// `delivered`, `incomplete`, `duplicate` or `busy`: the `status` of the JSON outputs.
    pub fn status(&self) -> &'static str {
        match &self.disposition {
            Disposition::Duplicate => "duplicate",
            Disposition::Busy { .. } => "busy",
            Disposition::Routed if self.complete() => "delivered",
            Disposition::Routed => "incomplete",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Opening or reading the report failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Opening or reading the report did not finish before the invocation's deadline (S3 slow or
    /// not answering). Nothing was sent; a retry can succeed.
    #[error(
        "{location}: {stage} did not finish before the invocation deadline (S3 slow or not \
         answering); nothing was sent"
    )]
    Deadline {
        location: String,
        stage: &'static str,
    },
    /// Reading or writing the receipt failed; `sent` names the sinks already sent to in this run
    /// (their outcome may be unrecorded, so a retry may send them again).
    #[error("{source}{}", sent_note(.sent))]
    Receipt {
        #[source]
        source: ReceiptError,
        sent: Vec<String>,
    },
    /// Reading or writing the stream's state failed (before anything was sent), or the report
    /// named by `--previous` could not be read.
    #[error("{location}: state: {detail}")]
    State {
        location: String,
        detail: String,
        permanent: bool,
    },
}

fn sent_note(sent: &[String]) -> String {
    if sent.is_empty() {
        String::new()
    } else {
        format!(" (already sent in this run: {})", sent.join(", "))
    }
}

impl RunError {
    /// A failure that will repeat on every retry (a report that does not parse, a missing object,
    /// access denied, a corrupt receipt), as opposed to a transient one (network, throttling, a
    /// lost claim race).
    pub fn is_permanent(&self) -> bool {
        match self {
            RunError::Pipeline(PipelineError::Fetch(e)) => !e.is_transient(),
            // The byte stream broke (a connection cut or stalled midway): the next read may work.
            RunError::Pipeline(PipelineError::Report(ReportError::Io { .. })) => false,
            RunError::Pipeline(PipelineError::Report(_)) => true,
            // The reader thread died: a bug; retrying will hit it again.
            RunError::Pipeline(PipelineError::Worker { .. }) => true,
            RunError::Receipt { source, .. } => !source.is_transient(),
            RunError::Deadline { .. } => false,
            RunError::Pipeline(PipelineError::State { .. }) => true,
            RunError::State { permanent, .. } => *permanent,
        }
    }

    /// The Lambda error type of this failure (pinned: users' alarms and queries use them).
    pub fn error_type(&self) -> &'static str {
        match self {
            RunError::Pipeline(PipelineError::State { .. }) | RunError::State { .. } => {
                "AuditRouter.State"
            }
            RunError::Pipeline(_) => "AuditRouter.BadReport",
            RunError::Receipt { .. } => "AuditRouter.Receipts",
            RunError::Deadline { .. } => "AuditRouter.Timeout",
        }
    }
}

/// The receipt owner of a CLI run: `cli:<host>:<pid>`.
pub fn cli_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("cli:{host}:{}", std::process::id())
}

/// Runs one report (see the module docs). Sink failures are not errors: they are in
/// [`Processed::outcomes`] and the receipt.
pub async fn run_report(
    engine: &Engine,
    stores: Stores<'_>,
    location: ReportLocation,
    opts: &RunOptions,
) -> Result<Processed, RunError> {
    let started = std::time::Instant::now();
    // Boxed: the run's future is large (open, claim, state, route, deliver, record), and the
    // Lambda's and the CLI's callers nest it further; on the heap it cannot overflow a worker
    // thread's stack.
    let mut p = Box::pin(run_report_inner(engine, stores, location, opts)).await?;
    p.elapsed = started.elapsed();
    Ok(p)
}

/// Opens the report (S3 GetObject or a file) within the run's deadline; a progress line learns
/// its size.
async fn open_report(
    engine: &Engine,
    location: &ReportLocation,
    opts: &RunOptions,
) -> Result<fetch::Opened, RunError> {
    let opened = until_deadline(
        opts.deliver.deadline,
        location,
        "opening the report (S3 GetObject)",
        async {
            fetch::open(location, engine.s3.as_ref())
                .await
                .map_err(|e| RunError::from(PipelineError::from(e)))
        },
    )
    .await?;
    if let Some(progress) = &opts.route.progress {
        progress.set_size(opened.size);
    }
    Ok(opened)
}

async fn run_report_inner(
    engine: &Engine,
    stores: Stores<'_>,
    location: ReportLocation,
    opts: &RunOptions,
) -> Result<Processed, RunError> {
    let receipts = stores.receipts;
    let receipt_err = |source: ReceiptError| RunError::Receipt {
        source,
        sent: Vec::new(),
    };
    // Receipts are for S3 reports: say so before touching anything.
    let receipt = match receipts {
        Some(store) => Some(Receipts {
            store,
            key: store.key_for(&location).map_err(receipt_err)?,
            deadline: opts.receipt_deadline,
        }),
        None => None,
    };
    let opened = open_report(engine, &location, opts).await?;
    let mut held = match &receipt {
        Some(r) => match r
            .claim(&location, opened.etag.as_deref(), &opts.owner)
            .await?
        {
            Claimed::Held(held) => Some(*held),
            Claimed::Stop(p) => return Ok(*p),
        },
        None => None,
    };
    let routed = Box::pin(route_and_keep_state(
        engine,
        stores.state,
        &location,
        opened,
        opts,
    ))
    .await;
    let run = match routed {
        Ok(run) => run,
        Err(e) => {
            // Nothing was sent: give the claim back so a retry need not wait for the lease.
            if let (Some(r), Some(h)) = (&receipt, held) {
                r.release_after_error(h, &location).await;
            }
            return Err(e);
        }
    };
    let (jobs, already_delivered) = pending_jobs(engine, &run, held.as_mut(), opts.dry_run);
    let outcomes = deliver_all(jobs, &opts.deliver, receipt.as_ref(), held.as_mut()).await?;
    let (receipt_doc, receipt_uri) = match (&receipt, held) {
        (Some(r), Some(h)) => {
            let sent = sent_sinks(&outcomes);
            let doc = r
                .release(h)
                .await
                .map_err(|source| RunError::Receipt { source, sent })?;
            (Some(doc), Some(r.uri()))
        }
        _ => (None, None),
    };
    Ok(Processed {
        location,
        disposition: Disposition::Routed,
        run: Some(run),
        outcomes,
        already_delivered,
        receipt: receipt_doc,
        receipt_uri,
        elapsed: std::time::Duration::ZERO,
    })
}

/// The delivery jobs of the routed sinks the receipt does not show as delivered (all of them
/// without receipts), and the routed sinks skipped as already delivered. Sets the receipt's
/// routed sinks.
fn pending_jobs(
    engine: &Engine,
    run: &ReportRun,
    held: Option<&mut HeldClaim>,
    dry_run: bool,
) -> (Vec<DeliveryJob>, Vec<String>) {
    let mut jobs = engine.jobs(run);
    let mut already = Vec::new();
    if let Some(held) = held {
        let routed: Vec<&str> = run.digests.iter().map(|d| d.sink.as_str()).collect();
        held.set_routed(&routed);
        let pending = held.receipt().pending(&routed);
        already = routed
            .iter()
            .filter(|s| !pending.iter().any(|p| p == *s))
            .map(|s| (*s).to_owned())
            .collect();
        if !already.is_empty() {
            tracing::info!(report = %run.location, sinks = ?already, "skipping sinks delivered by an earlier run");
        }
        jobs.retain(|j| pending.iter().any(|p| p == j.sink.name()));
    }
    if dry_run {
        jobs = deliver::recorded(jobs);
    }
    (jobs, already)
}

/// Delivers every job concurrently; with receipts, records each outcome as its sink finishes.
/// A record that fails stops the run: the deliveries still running are dropped (aborted), since
/// this run lost its claim or cannot write it.
async fn deliver_all(
    jobs: Vec<DeliveryJob>,
    opts: &DeliverOptions,
    receipt: Option<&Receipts<'_>>,
    mut held: Option<&mut HeldClaim>,
) -> Result<Vec<Outcome>, RunError> {
    let mut fanout = Fanout::start(jobs, opts);
    let mut outcomes: Vec<Outcome> = Vec::new();
    while let Some(outcome) = fanout.next().await {
        let record = sink_outcome(&outcome);
        let sink = outcome.sink.clone();
        outcomes.push(outcome);
        if let (Some(r), Some(h)) = (receipt, held.as_deref_mut()) {
            r.record(h, &sink, record)
                .await
                .map_err(|source| RunError::Receipt {
                    source,
                    sent: sent_sinks(&outcomes),
                })?;
        }
    }
    Ok(outcomes)
}

/// The sinks that were sent at least one message in this run.
fn sent_sinks(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| !o.sent.is_empty())
        .map(|o| o.sink.clone())
        .collect()
}

/// What the receipt records of an outcome.
fn sink_outcome(o: &Outcome) -> SinkOutcome {
    match &o.status {
        Status::Delivered => SinkOutcome::Delivered {
            message_ids: o.message_ids().into_iter().map(str::to_owned).collect(),
            fallbacks: o.fallbacks().into_iter().map(str::to_owned).collect(),
        },
        Status::Failed { error, retryable } => SinkOutcome::Failed {
            error: error.clone(),
            retryable: *retryable,
        },
    }
}

/// The receipt of the report being run: the store, its key, the deadline of its operations.
struct Receipts<'a> {
    store: &'a ReceiptStore,
    key: String,
    deadline: Option<tokio::time::Instant>,
}

/// What claiming decided.
enum Claimed {
    Held(Box<HeldClaim>),
    /// A duplicate or busy report: this run stops with this result.
    Stop(Box<Processed>),
}

impl Receipts<'_> {
    fn uri(&self) -> String {
        format!("s3://{}/{}", self.store.bucket(), self.key)
    }

    /// `fut`, bounded by the receipt deadline.
    async fn bounded<T>(
        &self,
        action: &'static str,
        fut: impl std::future::Future<Output = Result<T, ReceiptError>>,
    ) -> Result<T, ReceiptError> {
        until(self.deadline, fut, || ReceiptError::Timeout {
            bucket: self.store.bucket().to_owned(),
            key: self.key.clone(),
            action,
        })
        .await
    }

    async fn claim(
        &self,
        location: &ReportLocation,
        etag: Option<&str>,
        owner: &str,
    ) -> Result<Claimed, RunError> {
        let claim = self
            .bounded("claiming", self.store.claim(location, etag, owner))
            .await
            .map_err(|source| RunError::Receipt {
                source,
                sent: Vec::new(),
            })?;
        let uri = location.to_string();
        match claim {
            Claim::Acquired(held) => {
                if let Some(previous) = held.taken_over_from() {
                    tracing::warn!(report = %uri, previous, "took over an expired claim");
                }
                Ok(Claimed::Held(Box::new(held)))
            }
            Claim::AlreadyDone { receipt } => {
                tracing::info!(report = %uri, "every routed sink already delivered: duplicate event, nothing sent");
                let mut p = Processed::unread(location.clone(), Disposition::Duplicate);
                p.already_delivered = receipt.routed.clone().unwrap_or_default();
                p.receipt = Some(receipt);
                p.receipt_uri = Some(self.uri());
                Ok(Claimed::Stop(Box::new(p)))
            }
            Claim::Busy { owner, until } => {
                tracing::warn!(report = %uri, %owner, %until, "receipt claimed by another invocation: nothing sent");
                let mut p = Processed::unread(location.clone(), Disposition::Busy { owner, until });
                p.receipt_uri = Some(self.uri());
                Ok(Claimed::Stop(Box::new(p)))
            }
        }
    }

    async fn record(
        &self,
        held: &mut HeldClaim,
        sink: &str,
        outcome: SinkOutcome,
    ) -> Result<(), ReceiptError> {
        self.bounded("writing", self.store.record(held, sink, outcome))
            .await
    }

    async fn release(&self, held: HeldClaim) -> Result<Receipt, ReceiptError> {
        self.bounded("releasing", self.store.release(held)).await
    }

    /// Gives the claim back after a read error (nothing was sent); a failure is only logged:
    /// the lease runs out anyway.
    async fn release_after_error(&self, held: HeldClaim, location: &ReportLocation) {
        if let Err(e) = self.release(held).await {
            tracing::warn!(report = %location, error = %e, "could not release the claim after a read error");
        }
    }
}

/// Reads and routes the opened report (the state stage compares it with the stream's previous
/// state) within the deliveries' deadline, then writes its state document: before anything is
/// sent, so a run that sends has always left the state the next report compares with (written
/// once: a retry finds it and writes nothing).
async fn route_and_keep_state(
    engine: &Engine,
    store: Option<&StateStore>,
    location: &ReportLocation,
    opened: fetch::Opened,
    opts: &RunOptions,
) -> Result<ReportRun, RunError> {
    let (run, own) = until_deadline(
        opts.deliver.deadline,
        location,
        "reading the report",
        async {
            let state = Box::pin(state_input(engine, store, location, &opened, opts)).await?;
            let own = state.as_ref().and_then(|(_, own)| own.clone());
            let run = engine
                .route_opened_with_state(
                    opened,
                    location.clone(),
                    opts.route.clone(),
                    state.map(|(s, _)| s),
                )
                .await?;
            Ok((run, own))
        },
    )
    .await?;
    match (store, own) {
        (Some(store), Some(key)) if !opts.dry_run => {
            Box::pin(write_state(store, &key, &run, location)).await?;
        }
        _ => {}
    }
    Ok(run)
}

/// What the state stage needs to read `location`, and the key its own document goes to: with
/// `--previous`, that report routed first (its document made in memory, nothing written);
/// with a store, the stream's previous document. `None`: no state for this run (no store, or
/// a local report, which has no stream).
async fn state_input(
    engine: &Engine,
    store: Option<&StateStore>,
    location: &ReportLocation,
    opened: &fetch::Opened,
    opts: &RunOptions,
) -> Result<Option<(StateInput, Option<String>)>, RunError> {
    use crate::state::{document, stream};
    let state_err = |detail: String, permanent: bool| RunError::State {
        location: location.to_string(),
        detail,
        permanent,
    };
    let time = stream::report_time(location, opened.last_modified).ok_or_else(|| {
        state_err(
            "cannot tell the report's date: its key has no date and the object no \
             last-modified time"
                .into(),
            true,
        )
    })?;
    let header = |previous: Option<document::PreviousRef>| document::Header {
        audit_router_state: document::STATE_VERSION,
        report: location.to_string(),
        report_etag: opened.etag.clone(),
        // Set from the report's first finding.
        template: crate::ReportTemplate::ResourceCompliance,
        report_time: time.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        date: time.date(),
        stream: stream::stream_of(location).map(|s| s.to_string()),
        previous,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    if let Some(prev) = &opts.previous {
        let (bytes, date) = Box::pin(previous_document(engine, prev)).await?;
        let previous = document::PreviousRef {
            report: prev.to_string(),
            date,
            state: format!("--previous {prev}"),
        };
        let input = StateInput {
            header: header(Some(previous)),
            previous: Some((format!("the state of --previous {prev}"), bytes)),
        };
        return Ok(Some((input, None)));
    }
    let Some(store) = store else { return Ok(None) };
    let (Some(s), crate::location::ReportLocation::S3 { key, .. }) =
        (stream::stream_of(location), location)
    else {
        tracing::warn!(report = %location, "no state for a local report (it has no stream); dry-run --previous names the report to compare with");
        return Ok(None);
    };
    let own = store.key_for(&s, &time, key);
    let found = store
        .previous(&s, &own)
        .await
        .map_err(|e| state_err(e.to_string(), !e.is_transient()))?;
    let previous = match &found.found {
        Some((name, bytes)) => {
            document::Reader::open(name, bytes.clone())
                .ok()
                .map(|r| document::PreviousRef {
                    report: r.header.report.clone(),
                    date: r.header.date,
                    state: name.clone(),
                })
        }
        None => None,
    };
    let input = StateInput {
        header: header(previous),
        previous: found.found,
    };
    // A document written by an earlier run stands: this run compares with what it names and
    // writes nothing.
    Ok(Some((input, (!found.own_exists).then_some(own))))
}

/// The state document of the report `--previous` names: routed with the run's rules, compared
/// with nothing, kept in memory.
async fn previous_document(
    engine: &Engine,
    prev: &ReportLocation,
) -> Result<(Vec<u8>, chrono::NaiveDate), RunError> {
    use crate::state::{document, stream};
    let fail = |detail: String| RunError::State {
        location: prev.to_string(),
        detail: format!("--previous: {detail}"),
        permanent: true,
    };
    let opened = fetch::open(prev, engine.s3.as_ref())
        .await
        .map_err(|e| fail(e.to_string()))?;
    let time = stream::report_time(prev, opened.last_modified)
        .ok_or_else(|| fail("cannot tell the report's date".into()))?;
    let header = document::Header {
        audit_router_state: document::STATE_VERSION,
        report: prev.to_string(),
        report_etag: opened.etag.clone(),
        template: crate::ReportTemplate::ResourceCompliance,
        report_time: time.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        date: time.date(),
        stream: stream::stream_of(prev).map(|s| s.to_string()),
        previous: None,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let input = StateInput {
        header,
        previous: None,
    };
    let run = engine
        .route_opened_with_state(opened, prev.clone(), RouteOptions::default(), Some(input))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let state = run
        .state
        .ok_or_else(|| fail("the previous report made no state".into()))?;
    Ok((state.document, time.date()))
}

/// Writes the report's state document once (a document already there stands).
async fn write_state(
    store: &StateStore,
    key: &str,
    run: &ReportRun,
    location: &ReportLocation,
) -> Result<(), RunError> {
    let Some(state) = &run.state else {
        return Ok(());
    };
    match store.put_once(key, state.document.clone()).await {
        Ok(true) => {
            tracing::info!(report = %location, state = %store.uri_of(key), "state written");
            Ok(())
        }
        Ok(false) => {
            tracing::info!(report = %location, state = %store.uri_of(key), "state already written by another run");
            Ok(())
        }
        Err(e) => Err(RunError::State {
            location: location.to_string(),
            detail: e.to_string(),
            permanent: !e.is_transient(),
        }),
    }
}

/// Runs `fut` until `deadline` (if any); past it, [`RunError::Deadline`] naming `stage`. A
/// report read on a blocking thread is abandoned, not stopped: its thread ends when the stream
/// errors (the SDK's stalled-stream protection) or the process is frozen.
async fn until_deadline<T>(
    deadline: Option<tokio::time::Instant>,
    location: &ReportLocation,
    stage: &'static str,
    fut: impl std::future::Future<Output = Result<T, RunError>>,
) -> Result<T, RunError> {
    until(deadline, fut, || RunError::Deadline {
        location: location.to_string(),
        stage,
    })
    .await
}

/// Runs `fut` until `deadline` (if any); past it, the error `late` makes.
async fn until<T, E>(
    deadline: Option<tokio::time::Instant>,
    fut: impl std::future::Future<Output = Result<T, E>>,
    late: impl FnOnce() -> E,
) -> Result<T, E> {
    match deadline {
        None => fut.await,
        Some(at) => tokio::time::timeout_at(at, fut)
            .await
            .unwrap_or_else(|_elapsed| Err(late())),
    }
}

/// Reports run one after another, each through [`run_report`]: what a CLI invocation (`send`,
/// `dry-run`) produced, for [`crate::output`].
#[derive(Debug, Default)]
pub struct Batch {
    pub results: Vec<Processed>,
    /// Event records acknowledged and skipped (`s3:TestEvent`, …).
    pub skipped: Vec<String>,
    pub errors: Vec<SourceError>,
}

/// A source that could not be processed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceError {
    pub source: String,
    pub error: String,
}

impl Batch {
    /// Runs every location in turn; a report that fails is an error of its own and the others
    /// still run.
    pub async fn run(
        &mut self,
        engine: &Engine,
        stores: Stores<'_>,
        locations: Vec<ReportLocation>,
        opts: &RunOptions,
    ) {
        let count = locations.len();
        for (i, location) in locations.into_iter().enumerate() {
            let source = location.to_string();
            if let Some(progress) = &opts.route.progress {
                progress.begin_source(i + 1, count, &source);
            }
            match run_report(engine, stores, location, opts).await {
                Ok(p) => self.results.push(p),
                Err(e) => self.errors.push(SourceError {
                    source,
                    error: e.to_string(),
                }),
            }
            if let Some(progress) = &opts.route.progress {
                progress.end_source();
            }
        }
    }

    /// [`Batch::run`] with the CLI's progress line ([`crate::progress::Display`]) on stderr
    /// when it is a terminal and not `quiet`; the line is erased when the run is done.
    pub async fn run_with_progress(
        &mut self,
        engine: &Engine,
        stores: Stores<'_>,
        locations: Vec<ReportLocation>,
        opts: &RunOptions,
        quiet: bool,
    ) {
        let display = crate::progress::Display::start(quiet);
        let mut opts = opts.clone();
        opts.route.progress = Some(display.progress());
        self.run(engine, stores, locations, &opts).await;
    }

    /// Every report routed and every routed sink delivered (the exit status of `send`; for a
    /// dry run: every message rendered).
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.results.iter().all(Processed::complete)
    }

    /// The routings, in order (dry-run listings).
    pub fn runs(&self) -> impl Iterator<Item = &ReportRun> {
        self.results.iter().filter_map(|p| p.run.as_ref())
    }
}
