//! One report, end to end, with delivery receipts: claim → route → deliver the pending sinks →
//! record each outcome → release. The Lambda handler ([`crate::lambda`]) and
//! `audit-router send --receipts s3://bucket/prefix` both call [`process_report`].
//!
//! Order of the steps, and why:
//! 1. Open the report (S3 `GetObject`): this gives its ETag, so a report re-written with new
//!    content under the same key starts a fresh receipt ([`ReceiptStore::claim_version`]).
//! 2. Claim its receipt. A duplicate event for a delivered report stops here
//!    ([`Disposition::Duplicate`]); a live claim of another invocation too ([`Disposition::Busy`]).
//!    Nothing has been read or sent yet.
//! 3. Read and route the report (streaming, on a blocking thread). A report that does not parse is
//!    a permanent failure ([`ProcessError::is_permanent`]); the claim is released, nothing is sent.
//! 4. Send the digests of the routed sinks the receipt does not show as delivered, concurrently,
//!    with the caller's deadline, and record each outcome as soon as that sink finishes (so a crash
//!    later loses no record of a sink that was already served).
//! 5. Release the claim. [`Processed::retry_can_help`] then tells whether a retry has something to
//!    do (a routed sink undelivered for a reason that may go away).
//!
//! Without a receipt store the same function routes and delivers to every routed sink.

use chrono::{DateTime, Utc};

use crate::deliver::{self, DeliverOptions, DeliveryJob, Outcome, Status};
use crate::fetch::{self, FetchError};
use crate::location::ReportLocation;
use crate::pipeline::{Engine, PipelineError, ReportRun, RouteOptions};
use crate::receipt::{Claim, Receipt, ReceiptError, ReceiptStore, SinkOutcome};
use crate::report::ReportError;

/// How to process one report.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// Who claims the receipt: the Lambda request id, or [`cli_owner`].
    pub owner: String,
    /// Deadline, retry policy and render context of the deliveries.
    pub deliver: DeliverOptions,
    /// Receipt reads and writes give up at this instant ([`ReceiptError::Timeout`], transient):
    /// later than the deliveries' deadline, so a sink that finishes at that deadline can still
    /// be recorded, and before the caller's own end (the Lambda's timeout), so a receipt write S3
    /// never answers fails the invocation with a reason instead of letting Lambda kill it.
    pub receipt_deadline: Option<tokio::time::Instant>,
    pub route: RouteOptions,
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

/// The result of [`process_report`].
#[derive(Debug)]
pub struct Processed {
    pub location: ReportLocation,
    pub disposition: Disposition,
    /// The routing (counts, digests); `None` for a duplicate or busy report (not read).
    pub run: Option<ReportRun>,
    /// One per sink sent to in this run, in completion order.
    pub outcomes: Vec<Outcome>,
    /// Routed sinks skipped because the receipt shows them delivered already.
    pub already_delivered: Vec<String>,
    /// The receipt as stored after this run (`None` without receipts).
    pub receipt: Option<Receipt>,
}

impl Processed {
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
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
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
}

fn sent_note(sent: &[String]) -> String {
    if sent.is_empty() {
        String::new()
    } else {
        format!(" (already sent in this run: {})", sent.join(", "))
    }
}

impl ProcessError {
    /// A failure that will repeat on every retry (a report that does not parse, a missing object,
    /// access denied, a corrupt receipt), as opposed to a transient one (network, throttling, a
    /// lost claim race).
    pub fn is_permanent(&self) -> bool {
        match self {
            ProcessError::Pipeline(PipelineError::Fetch(e)) => !fetch_is_transient(e),
            // The byte stream broke (a connection cut or stalled midway): the next read may work.
            ProcessError::Pipeline(PipelineError::Report(ReportError::Io { .. })) => false,
            ProcessError::Pipeline(PipelineError::Report(_)) => true,
            // The reader thread died: a bug; retrying will hit it again.
            ProcessError::Pipeline(PipelineError::Worker { .. }) => true,
            ProcessError::Receipt { source, .. } => !source.is_transient(),
            ProcessError::Deadline { .. } => false,
        }
    }
}

fn fetch_is_transient(e: &FetchError) -> bool {
    match e {
        FetchError::Transport { .. } => true,
        FetchError::S3 { code, .. } => {
            code.starts_with("HTTP 5")
                || matches!(
                    code.as_str(),
                    "InternalError"
                        | "ServiceUnavailable"
                        | "SlowDown"
                        | "RequestTimeout"
                        | "Throttling"
                        | "ThrottlingException"
                        | "RequestTimeTooSkewed"
                )
        }
        _ => false,
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

/// Routes one report and delivers it; with `receipts`, exactly once per sink (see the module
/// docs). Sink failures are not errors: they are in [`Processed::outcomes`] and the receipt.
pub async fn process_report(
    engine: &Engine,
    receipts: Option<&ReceiptStore>,
    location: ReportLocation,
    opts: &ProcessOptions,
) -> Result<Processed, ProcessError> {
    let Some(store) = receipts else {
        let run = before_deadline(
            opts.deliver.deadline,
            &location.to_string(),
            "reading the report",
            async { Ok(engine.route(location.clone(), opts.route.clone()).await?) },
        )
        .await?;
        let jobs = engine.jobs(&run);
        let report = deliver::deliver(jobs, &opts.deliver).await;
        return Ok(Processed {
            location,
            disposition: Disposition::Routed,
            run: Some(run),
            outcomes: report.outcomes,
            already_delivered: Vec::new(),
            receipt: None,
        });
    };
    let uri = location.to_string();
    let receipt_err = |source: ReceiptError, sent: &[String]| ProcessError::Receipt {
        source,
        sent: sent.to_vec(),
    };
    // Receipts are for S3 reports; fail before touching anything else.
    let key = store.receipt_key(&uri).map_err(|e| receipt_err(e, &[]))?;

    // The deadline bounds the read as well as the sends: S3 answering nothing (the SDK sets no
    // read timeout) must fail the invocation in time, naming the report, not let Lambda kill it.
    let deadline = opts.deliver.deadline;
    let opened = before_deadline(deadline, &uri, "opening the report (S3 GetObject)", async {
        fetch::open(&location, engine.s3.as_ref())
            .await
            .map_err(|e| ProcessError::from(PipelineError::from(e)))
    })
    .await?;
    let in_time = |action: &'static str| ReceiptDeadline {
        at: opts.receipt_deadline,
        bucket: store.bucket(),
        key: &key,
        action,
    };
    let claim = in_time("claiming")
        .run(store.claim_version(&uri, opened.etag.as_deref(), &opts.owner))
        .await
        .map_err(|e| receipt_err(e, &[]))?;
    let mut held = match claim {
        Claim::AlreadyDone { receipt } => {
            tracing::info!(report = %uri, "every routed sink already delivered: duplicate event, nothing sent");
            return Ok(Processed {
                location,
                disposition: Disposition::Duplicate,
                run: None,
                outcomes: Vec::new(),
                already_delivered: receipt.routed.clone().unwrap_or_default(),
                receipt: Some(receipt),
            });
        }
        Claim::Busy { owner, until } => {
            tracing::warn!(report = %uri, %owner, %until, "receipt claimed by another invocation: nothing sent");
            return Ok(Processed {
                location,
                disposition: Disposition::Busy { owner, until },
                run: None,
                outcomes: Vec::new(),
                already_delivered: Vec::new(),
                receipt: None,
            });
        }
        Claim::Acquired(held) => held,
    };
    if let Some(previous) = held.taken_over_from() {
        tracing::warn!(report = %uri, previous, "took over an expired claim");
    }

    let routed = before_deadline(deadline, &uri, "reading the report", async {
        route_opened(engine, opened, &location, &opts.route)
            .await
            .map_err(ProcessError::from)
    })
    .await;
    let run = match routed {
        Ok(run) => run,
        Err(e) => {
            // Nothing was sent: give the claim back so a retry need not wait for the lease.
            if let Err(release) = in_time("releasing").run(store.release(held)).await {
                tracing::warn!(report = %uri, error = %release, "could not release the claim after a read error");
            }
            return Err(e);
        }
    };

    let routed: Vec<&str> = run.digests.iter().map(|d| d.sink.as_str()).collect();
    held.set_routed(&routed);
    let pending = held.receipt().pending(&routed);
    let already_delivered: Vec<String> = routed
        .iter()
        .filter(|s| !pending.iter().any(|p| p == *s))
        .map(|s| (*s).to_owned())
        .collect();
    if !already_delivered.is_empty() {
        tracing::info!(report = %uri, sinks = ?already_delivered, "skipping sinks delivered by an earlier run");
    }
    let jobs: Vec<DeliveryJob> = engine
        .jobs(&run)
        .into_iter()
        .filter(|j| pending.iter().any(|p| p == j.sink.name()))
        .collect();

    let mut set = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    for job in jobs {
        let deliver_opts = opts.deliver.clone();
        let name = job.sink.name().to_owned();
        let handle = set.spawn(async move { deliver::deliver_one(&job, &deliver_opts).await });
        names.insert(handle.id(), name);
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut sent: Vec<String> = Vec::new();
    while let Some(joined) = set.join_next_with_id().await {
        let (sink, outcome) = match joined {
            Ok((_, outcome)) => (outcome.sink.clone(), Some(outcome)),
            Err(e) => {
                let sink = names
                    .get(&e.id())
                    .cloned()
                    .unwrap_or_else(|| "?".to_owned());
                tracing::error!(report = %uri, %sink, error = %e, "sink task crashed");
                (sink, None)
            }
        };
        let record = match &outcome {
            Some(o) => match &o.status {
                Status::Delivered => SinkOutcome::Delivered {
                    message_ids: o.message_ids().into_iter().map(str::to_owned).collect(),
                    fallbacks: o.fallbacks().into_iter().map(str::to_owned).collect(),
                },
                Status::Failed { error, retryable } => SinkOutcome::Failed {
                    error: error.clone(),
                    retryable: *retryable,
                },
            },
            None => SinkOutcome::Failed {
                error: format!("sink {sink} crashed while delivering (a bug)"),
                retryable: false,
            },
        };
        if let Some(o) = outcome {
            if !o.sent.is_empty() {
                sent.push(o.sink.clone());
            }
            outcomes.push(o);
        }
        // Dropping `set` on error aborts the deliveries still running: this run lost its claim
        // (or cannot write it) and must stop sending.
        in_time("writing")
            .run(store.record(&mut held, &sink, record))
            .await
            .map_err(|e| receipt_err(e, &sent))?;
    }
    let receipt = in_time("releasing")
        .run(store.release(held))
        .await
        .map_err(|e| receipt_err(e, &sent))?;
    Ok(Processed {
        location,
        disposition: Disposition::Routed,
        run: Some(run),
        outcomes,
        already_delivered,
        receipt: Some(receipt),
    })
}

/// One receipt operation bounded by [`ProcessOptions::receipt_deadline`].
struct ReceiptDeadline<'a> {
    at: Option<tokio::time::Instant>,
    bucket: &'a str,
    key: &'a str,
    action: &'static str,
}

impl ReceiptDeadline<'_> {
    async fn run<T>(
        self,
        fut: impl std::future::Future<Output = Result<T, ReceiptError>>,
    ) -> Result<T, ReceiptError> {
        until(self.at, fut, || ReceiptError::Timeout {
            bucket: self.bucket.to_owned(),
            key: self.key.to_owned(),
            action: self.action,
        })
        .await
    }
}

/// Runs `fut` until `deadline` (if any); past it, [`ProcessError::Deadline`] naming `stage`. A
/// report read on a blocking thread is abandoned, not stopped: its thread ends when the stream
/// errors (the SDK's stalled-stream protection) or the process is frozen.
async fn before_deadline<T>(
    deadline: Option<tokio::time::Instant>,
    location: &str,
    stage: &'static str,
    fut: impl std::future::Future<Output = Result<T, ProcessError>>,
) -> Result<T, ProcessError> {
    until(deadline, fut, || ProcessError::Deadline {
        location: location.to_owned(),
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

/// Routes an already opened report on a blocking thread (as [`crate::pipeline::route_location`]).
async fn route_opened(
    engine: &Engine,
    opened: fetch::Opened,
    location: &ReportLocation,
    opts: &RouteOptions,
) -> Result<ReportRun, PipelineError> {
    let rules = engine.rules.clone();
    let loc = location.clone();
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || {
        crate::pipeline::route_report(&rules, opened.reader, &loc, &opts)
            .map_err(PipelineError::from)
    })
    .await
    .map_err(|e| PipelineError::Worker {
        location: location.to_string(),
        message: e.to_string(),
    })?
}
