//! The AWS Lambda function: the same binary as the CLI (`audit-router` with no subcommand when
//! `AWS_LAMBDA_RUNTIME_API` is set, or the hidden `audit-router lambda`), over the same library.
//!
//! Cold start ([`Handler::init`]): the rules and every sink's templates are loaded and validated
//! once. An invalid rules file fails the init with exactly the lines `audit-router check` prints
//! (reported to the Runtime API's `/init/error` and logged), so a bad deploy is visible at once.
//!
//! Each invocation ([`Handler::handle`]): the event (S3 notification, EventBridge, SQS/SNS
//! wrapped, direct `{"bucket","key"}`) names reports; each goes through
//! [`crate::run::run_report`] (claim receipt → stream and route → deliver the sinks not yet
//! delivered → record → release) with the Lambda's remaining time minus a safety margin as the
//! deadline. What the invocation answers is built by [`crate::output`].
//!
//! What the invocation returns, so that Lambda's retries (two for an asynchronous invocation,
//! then the on-failure destination) do the right thing:
//!
//! | situation | result |
//! |---|---|
//! | every routed sink delivered (now, or a duplicate event) | `Ok` |
//! | a sink failed with a retryable error (5xx, timeout, throttling, deadline) | `Err`: Lambda retries; the retry sends to the failed sinks only |
//! | another invocation holds the receipt's claim | `Err`: the retry finds the report done |
//! | a sink failed for good (4xx, bad settings) and nothing retryable is left | `Err` (permanent): the retries re-try only that sink, then the event reaches the on-failure queue and its alarm; the receipt keeps the failure for `audit-router send --receipts` after a fix |
//! | S3 does not answer the report's GetObject (or its body) before the deadline | `Err`, nothing sent, the claim given back |
//! | the event is not understood, the report is missing or does not parse | `Err` (permanent, logged at ERROR): after the retries the event lands in the on-failure queue, so it is not lost |
//! | receipts unreadable / unwritable | `Err` |
//! | a sink or template panics (a bug) | `Err` (permanent), as for a sink that failed for good: `docs/reliability.md`, "A panic (a bug)" |
//! | an SQS event (S3 notifications buffered in a queue) | `Ok` with a partial batch response, `{"batchItemFailures": [{"itemIdentifier": …}]}`, naming the messages that are unreadable or whose report any row above fails; SQS delivers those again (the event source mapping needs `ReportBatchItemFailures`, `docs/deploy.md`) |
//!
//! Operating it: each report's metrics are CloudWatch embedded-metric-format lines on stdout
//! ([`crate::metrics`], [`Handler::metrics`]); every log line of an invocation carries the request
//! id and the report (spans `invocation` and `report`, under `span` in the JSON log), and one
//! `report summary` line per report says per sink delivered, failed or skipped.
//!
//! Configuration (environment):
//! - `AUDIT_ROUTER_RULES`: a path or `s3://bucket/key`. Unset: `$LAMBDA_TASK_ROOT/rules.toml`
//!   when that file exists, else the `rules.toml` compiled into the binary (SAM's
//!   `rust-cargolambda` build ships only `bootstrap`).
//! - `AUDIT_ROUTER_RECEIPTS=s3://bucket/prefix`, `AUDIT_ROUTER_RECEIPT_LEASE_SECS` (default 90):
//!   delivery receipts. Unset: no exactly-once (every event is sent).
//! - `AUDIT_ROUTER_STATE=s3://bucket/prefix` (or `off`): the reports' state (what changed since
//!   the previous report of the stream, `crate::state`). Unset: the `state/` folder of the
//!   receipts location; no receipts, no state.
//! - `AUDIT_ROUTER_REPORT_PREFIX`: the trigger's key prefix; the init refuses a receipts or
//!   state prefix inside it (each write would trigger the function again).
//! - `AUDIT_ROUTER_ENV`, `AUDIT_ROUTER_TODAY`: as for the CLI.
//! - `AUDIT_ROUTER_DEADLINE_MARGIN_MS` (default 2000): time kept back from the Lambda deadline
//!   for recording receipts and answering.
//! - `RUST_LOG` (default `info`): the JSON log's filter.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use crate::deliver::{DeliverOptions, RetryPolicy};
use crate::event::{self, ParsedEvent};
use crate::fetch;
use crate::location::ReportLocation;
use crate::metrics::{self, EmfOut};
use crate::output;
use crate::pipeline::{Engine, RouteOptions};
use crate::receipt::ReceiptStore;
use crate::rules::{LoadOptions, MAX_RULES_BYTES};
use crate::run::{self, Disposition, Processed, RunOptions};
use crate::state::StateStore;
use crate::validate::{self, Checked, Samples};

/// The `rules.toml` at the crate root, compiled in.
pub const BUNDLED_RULES: &str = include_str!("../rules.toml");

/// The name bundled rules carry in diagnostics.
pub const BUNDLED_RULES_NAME: &str = "rules.toml (bundled)";

/// Default time kept back from the Lambda deadline.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(2);

/// A Lambda deadline (ms since the epoch) before this (2001-09-09) is not a real one.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_000_000_000_000;

/// Time kept back from Lambda's own deadline for answering after the last receipt write.
pub const ANSWER_RESERVE: Duration = Duration::from_millis(250);

/// Lambda's longest function timeout.
const MAX_LAMBDA_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Where the rules come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesSource {
    /// [`BUNDLED_RULES`].
    Bundled,
    Path(PathBuf),
    S3 {
        bucket: String,
        key: String,
    },
}

impl std::fmt::Display for RulesSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RulesSource::Bundled => f.write_str(BUNDLED_RULES_NAME),
            RulesSource::Path(p) => write!(f, "{}", p.display()),
            RulesSource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// The function's configuration, from the environment ([`LambdaConfig::from_env`]).
#[derive(Clone, Debug)]
pub struct LambdaConfig {
    pub rules: RulesSource,
    /// Relative template paths in the rules resolve against this (for S3 and bundled rules:
    /// `$LAMBDA_TASK_ROOT`, else `.`).
    pub task_root: PathBuf,
    pub receipts: Option<String>,
    /// `AUDIT_ROUTER_STATE`: `s3://bucket/prefix`, or `off`; unset: a `state/` folder of the
    /// receipts location (no receipts: no state).
    pub state: Option<String>,
    pub lease: Duration,
    pub report_prefix: Option<String>,
    pub load: LoadOptions,
    pub margin: Duration,
}

/// A cold start that cannot go on. The message is what the operator needs (for rules: the lines
/// `audit-router check` prints).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{var}={value:?}: {reason}")]
    Config {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot read the rules {source_name}: {detail}")]
    RulesRead { source_name: String, detail: String },
    /// The rules (or a sink, or a template) are invalid: one line per problem, then the summary
    /// line, as `audit-router check` prints them.
    #[error("{}", .lines.join("\n"))]
    Rules { lines: Vec<String> },
    #[error("AUDIT_ROUTER_RECEIPTS: {0}")]
    Receipts(#[from] crate::receipt::ReceiptError),
    #[error("not running under AWS Lambda: {0}")]
    NotLambda(String),
}

impl LambdaConfig {
    /// Whether the function keeps the reports' state: `AUDIT_ROUTER_STATE` unless `off`, else
    /// when it keeps receipts (the state goes beside them).
    pub fn keeps_state(&self) -> bool {
        match self.state.as_deref().map(str::trim) {
            Some("off" | "none" | "") => false,
            Some(_) => true,
            None => self.receipts.is_some(),
        }
    }

    pub fn from_env() -> Result<LambdaConfig, InitError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`LambdaConfig::from_env`] over any variable lookup (empty values count as unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<LambdaConfig, InitError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let task_root = var("LAMBDA_TASK_ROOT").map(PathBuf::from);
        let rules = rules_source(var("AUDIT_ROUTER_RULES"), task_root.as_deref())?;
        let lease_var = "AUDIT_ROUTER_RECEIPT_LEASE_SECS";
        let lease = duration_var(
            lease_var,
            var(lease_var),
            crate::receipt::DEFAULT_LEASE,
            false,
        )?;
        if lease.is_zero() {
            return Err(InitError::Config {
                var: lease_var,
                value: "0".into(),
                reason: "a lease must be longer than the function timeout".into(),
            });
        }
        let margin_var = "AUDIT_ROUTER_DEADLINE_MARGIN_MS";
        let margin = duration_var(margin_var, var(margin_var), DEFAULT_MARGIN, true)?;
        let today = match var("AUDIT_ROUTER_TODAY") {
            Some(s) => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|e| {
                InitError::Config {
                    var: "AUDIT_ROUTER_TODAY",
                    value: s.clone(),
                    reason: format!("expected YYYY-MM-DD: {e}"),
                }
            })?,
            None => chrono::Utc::now().date_naive(),
        };
        Ok(LambdaConfig {
            rules,
            task_root: task_root.unwrap_or_else(|| PathBuf::from(".")),
            receipts: var("AUDIT_ROUTER_RECEIPTS"),
            state: var("AUDIT_ROUTER_STATE"),
            lease,
            report_prefix: var("AUDIT_ROUTER_REPORT_PREFIX"),
            load: LoadOptions {
                resolve_env: true,
                env_override: var("AUDIT_ROUTER_ENV"),
                today,
            },
            margin,
        })
    }
}

/// Where the rules come from: `AUDIT_ROUTER_RULES` (a path or `s3://bucket/key`), else
/// `rules.toml` in the task root if there is one, else the file embedded at build time.
fn rules_source(value: Option<String>, task_root: Option<&Path>) -> Result<RulesSource, InitError> {
    match value {
        Some(v) => match ReportLocation::parse(v.trim()) {
            Ok(ReportLocation::S3 { bucket, key }) => Ok(RulesSource::S3 { bucket, key }),
            Ok(ReportLocation::Local(p)) => Ok(RulesSource::Path(p)),
            Err(e) => Err(InitError::Config {
                var: "AUDIT_ROUTER_RULES",
                value: v,
                reason: format!("{e} (expected a path or s3://bucket/key)"),
            }),
        },
        None => match task_root {
            Some(root) if root.join("rules.toml").is_file() => {
                Ok(RulesSource::Path(root.join("rules.toml")))
            }
            _ => Ok(RulesSource::Bundled),
        },
    }
}

/// A duration variable `name` holding a whole number of seconds (or, with `millis`,
/// milliseconds); `default` when unset.
fn duration_var(
    name: &'static str,
    value: Option<String>,
    default: Duration,
    millis: bool,
) -> Result<Duration, InitError> {
    let Some(v) = value else {
        return Ok(default);
    };
    match v.trim().parse::<u64>() {
        Ok(n) if millis => Ok(Duration::from_millis(n)),
        Ok(n) => Ok(Duration::from_secs(n)),
        Err(e) => Err(InitError::Config {
            var: name,
            reason: format!(
                "expected a whole number of {}: {e}",
                if millis { "milliseconds" } else { "seconds" }
            ),
            value: v,
        }),
    }
}

/// The state store of `config`: `AUDIT_ROUTER_STATE` (`off` for none), else a `state/` folder of
/// the receipts location; outside the trigger's prefix.
fn state_store(
    config: &LambdaConfig,
    receipts: Option<&ReceiptStore>,
    s3: aws_sdk_s3::Client,
) -> Result<Option<StateStore>, InitError> {
    let store = match config.state.as_deref().map(str::trim) {
        _ if !config.keeps_state() => None,
        Some(uri) => Some(
            StateStore::from_uri(s3, uri).map_err(|e| InitError::Config {
                var: "AUDIT_ROUTER_STATE",
                value: uri.to_owned(),
                reason: e.to_string(),
            })?,
        ),
        None => receipts.map(|r| StateStore::beside(r, s3)),
    };
    if let (Some(store), Some(prefix)) = (&store, &config.report_prefix) {
        store
            .ensure_outside_trigger(store.bucket(), prefix, "")
            .map_err(|e| InitError::Config {
                var: "AUDIT_ROUTER_STATE",
                value: store.uri(),
                reason: e.to_string(),
            })?;
    }
    Ok(store)
}

/// A sink (or rule) with `notify = "changes"` and no state to compare with: say so once, at
/// start-up (every report then goes out as with `"always"`).
pub fn warn_changes_without_state(engine: &Engine, has_state: bool) {
    if has_state {
        return;
    }
    let rules = &engine.rules;
    let changes: Vec<&str> = rules
        .sinks()
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            (0..rules.rule_names().len())
                .map(Some)
                .chain([None])
                .any(|r| rules.policy(*i, r).notify == crate::rules::notify::Notify::Changes)
        })
        .map(|(_, s)| s.name.as_str())
        .collect();
    if !changes.is_empty() {
        tracing::warn!(
            sinks = ?changes,
            "notify = \"changes\" but no state is kept (no receipts, or AUDIT_ROUTER_STATE=off): \
             every report is sent whole, as with \"always\""
        );
    }
}

/// Reads and validates the rules ([`validate`]), as `audit-router check` does: the bundled file,
/// a path, or an S3 object of at most [`MAX_RULES_BYTES`].
async fn load_rules(
    config: &LambdaConfig,
    s3: &aws_sdk_s3::Client,
    aws: aws_config::SdkConfig,
) -> Result<Checked, InitError> {
    let name = config.rules.to_string();
    let rules_err = |e: validate::Invalid| InitError::Rules { lines: e.lines };
    // The cold start renders each template in the shape it will send (with state or without),
    // one sample per report template; `audit-router check` renders every shape.
    let samples = Samples::RenderAs {
        state: config.keeps_state(),
    };
    let text = match &config.rules {
        RulesSource::Path(path) => {
            return validate::validate_file(path, &config.load, Some(aws), samples)
                .map_err(rules_err);
        }
        RulesSource::Bundled => BUNDLED_RULES.to_owned(),
        RulesSource::S3 { bucket, key } => {
            let loc = ReportLocation::S3 {
                bucket: bucket.clone(),
                key: key.clone(),
            };
            let read_err = |detail: String| InitError::RulesRead {
                source_name: name.clone(),
                detail,
            };
            let opened = fetch::open(&loc, Some(s3))
                .await
                .map_err(|e| read_err(e.to_string()))?;
            if let Some(size) = opened.size
                && size > MAX_RULES_BYTES
            {
                return Err(read_err(crate::rules::too_large(size)));
            }
            let bytes = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut bytes = Vec::new();
                opened
                    .reader
                    .take(MAX_RULES_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map(|_| bytes)
            })
            .await
            .map_err(|e| read_err(format!("reader stopped: {e}")))?
            .map_err(|e| read_err(e.to_string()))?;
            if bytes.len() as u64 > MAX_RULES_BYTES {
                return Err(read_err(crate::rules::too_large(bytes.len() as u64)));
            }
            String::from_utf8(bytes).map_err(|e| read_err(format!("not UTF-8 text: {e}")))?
        }
    };
    validate::validate(
        &text,
        &name,
        config.task_root.clone(),
        &config.load,
        Some(aws),
        samples,
    )
    .map_err(rules_err)
}

/// An invocation that failed: Lambda retries it, then hands it to the on-failure destination.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    /// `AuditRouter.RetryableDelivery`, `AuditRouter.PermanentDelivery`, `AuditRouter.Busy`,
    /// `AuditRouter.BadEvent`, `AuditRouter.BadReport`, `AuditRouter.Receipts`,
    /// `AuditRouter.State`, `AuditRouter.Timeout`.
    pub error_type: &'static str,
    /// Names every report that failed and why (failed sinks with their errors).
    pub message: String,
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type.to_owned(),
            error_message: e.message,
        }
    }
}

/// What [`Handler::report`] did with one report.
#[derive(Debug, Default)]
struct ReportDone {
    report: Option<Value>,
    skipped: Vec<String>,
    failure: Option<(&'static str, String)>,
}

/// The function, initialised once per cold start.
#[derive(Debug)]
pub struct Handler {
    pub engine: Engine,
    pub receipts: Option<ReceiptStore>,
    /// The streams' state (what changed since the previous report); `None`: every report is
    /// read on its own.
    pub state: Option<StateStore>,
    /// Kept back from the Lambda deadline.
    pub margin: Duration,
    /// Retries of a sink's retryable errors within one invocation.
    pub retry: RetryPolicy,
    /// The rules in use (for the log).
    pub rules_name: String,
    /// Where the EMF metrics lines go ([`crate::metrics`]): stdout, the function's log.
    pub metrics: EmfOut,
    /// The `Environment` dimension of the report and sink metrics: `AUDIT_ROUTER_ENV`, else the
    /// rules' default environment.
    pub environment: String,
}

impl Handler {
    /// Loads and validates rules and templates, builds sinks and clients, checks the receipts
    /// location.
    pub async fn init(
        config: &LambdaConfig,
        aws: aws_config::SdkConfig,
    ) -> Result<Handler, InitError> {
        let s3 = fetch::s3_client_from_config(&aws);
        let name = config.rules.to_string();
        let Checked { engine, warnings } = load_rules(config, &s3, aws).await?;
        for w in &warnings {
            tracing::warn!(rules = %name, "{w}");
        }
        let receipts = match &config.receipts {
            Some(uri) => {
                let store = ReceiptStore::from_uri(s3.clone(), uri.trim(), config.lease)?;
                if let Some(prefix) = &config.report_prefix {
                    // The template keeps reports and receipts in one bucket.
                    store.ensure_outside_trigger(store.bucket(), prefix, "")?;
                }
                Some(store)
            }
            None => {
                tracing::warn!(
                    "AUDIT_ROUTER_RECEIPTS is not set: no delivery receipts, so a duplicate or \
                     retried event sends again"
                );
                None
            }
        };
        let state = state_store(config, receipts.as_ref(), s3)?;
        warn_changes_without_state(&engine, state.is_some());
        tracing::info!(
            rules = %name,
            sinks = ?engine.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            receipts = ?receipts.as_ref().map(ReceiptStore::uri),
            state = ?state.as_ref().map(StateStore::uri),
            "initialised"
        );
        let environment = engine.rules.environment_of(None).to_owned();
        Ok(Handler {
            engine,
            receipts,
            state,
            margin: config.margin,
            retry: RetryPolicy::default(),
            rules_name: name,
            metrics: EmfOut::stdout(),
            environment,
        })
    }

    /// One invocation, as the Lambda runtime calls it.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let deadline = deadline_of(&event.context, self.margin);
        // Receipt writes may use the margin; they stop just before Lambda's own end, keeping
        // only the time to answer.
        let receipt_deadline = deadline_of(&event.context, ANSWER_RESERVE);
        self.handle_payload(
            &event.payload,
            &event.context.request_id,
            deadline,
            receipt_deadline,
        )
        .await
    }

    /// [`Handler::handle`] with the parts spelled out: `owner` claims receipts (the request id),
    /// `deadline` bounds the deliveries, `receipt_deadline` the receipt reads and writes
    /// ([`RunOptions::receipt_deadline`]).
    ///
    /// Every log line of the invocation is in a span carrying `requestId` (`invocation`; per
    /// report `report`, which adds the report's URI as `report`), so the JSON log has them under
    /// `span`; the last line (`invocation done` or `invocation failed`) names the reports.
    pub async fn handle_payload(
        &self,
        payload: &Value,
        owner: &str,
        deadline: Option<Instant>,
        receipt_deadline: Option<Instant>,
    ) -> Result<Value, HandlerError> {
        let started = std::time::Instant::now();
        let span = tracing::info_span!("invocation", requestId = %owner);
        let (result, reports) = self
            .handle_in_span(payload, owner, deadline, receipt_deadline)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(elapsed_ms, ?reports, "invocation done"),
            Err(e) => tracing::error!(
                elapsed_ms, ?reports, error_type = e.error_type, error = %e,
                "invocation failed; Lambda will retry"
            ),
        }
        result
    }

    /// [`Handler::handle_payload`] inside its span; also the URIs of the reports the event names.
    async fn handle_in_span(
        &self,
        payload: &Value,
        owner: &str,
        deadline: Option<Instant>,
        receipt_deadline: Option<Instant>,
    ) -> (Result<Value, HandlerError>, Vec<String>) {
        let remaining_ms =
            deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64);
        let opts = RunOptions {
            owner: owner.to_owned(),
            deliver: DeliverOptions {
                deadline,
                retry: self.retry.clone(),
                ..DeliverOptions::default()
            },
            receipt_deadline,
            route: RouteOptions::default(),
            dry_run: false,
            previous: None,
        };
        let found = match event::parse_event(payload) {
            ParsedEvent::SqsBatch(messages) => {
                let reports: Vec<String> = messages
                    .iter()
                    .filter_map(|m| m.result.as_ref().ok())
                    .flat_map(|f| f.locations.iter().map(ToString::to_string))
                    .collect();
                tracing::info!(
                    remaining_ms,
                    ?reports,
                    messages = messages.len(),
                    "invocation"
                );
                return (Ok(self.sqs_batch(messages, &opts).await), reports);
            }
            ParsedEvent::Single(Ok(found)) => found,
            ParsedEvent::Single(Err(e)) => {
                tracing::error!(remaining_ms, error = %e, permanent = true, "event not understood");
                let err = HandlerError {
                    error_type: "AuditRouter.BadEvent",
                    message: format!("event not understood (permanent): {e}"),
                };
                return (Err(err), Vec::new());
            }
        };
        let uris: Vec<String> = found.locations.iter().map(ToString::to_string).collect();
        tracing::info!(remaining_ms, reports = ?uris, "invocation");
        (self.handle_found(found, &opts).await, uris)
    }

    /// The reports of an event that is not an SQS batch, one after another.
    async fn handle_found(
        &self,
        found: event::EventLocations,
        opts: &RunOptions,
    ) -> Result<Value, HandlerError> {
        let mut skipped = found.skipped;
        for s in &skipped {
            tracing::info!(skipped = %s, "event record skipped");
        }
        let mut reports = Vec::new();
        let mut failures: Vec<(&'static str, String)> = Vec::new();
        for location in found.locations {
            let done = self.report(location, opts).await;
            skipped.extend(done.skipped);
            reports.extend(done.report);
            failures.extend(done.failure);
        }
        if failures.is_empty() {
            return Ok(output::lambda_answer(reports, &skipped));
        }
        let error_type = failures[0].0;
        let n = failures.len();
        let lines: Vec<String> = failures.into_iter().map(|(_, l)| l).collect();
        Err(HandlerError {
            error_type,
            message: format!(
                "{n} report{} not delivered to every sink: {}",
                if n == 1 { "" } else { "s" },
                lines.join("; ")
            ),
        })
    }

    /// An SQS event: each message on its own. The answer is a partial batch response naming
    /// the messages to deliver again (`ReportBatchItemFailures` on the event source mapping,
    /// `docs/deploy.md`): those whose body is unreadable and those naming a report that was not
    /// delivered to every sink (the same cases that fail a plain invocation). A report named by
    /// several messages is processed once; its outcome is every such message's.
    async fn sqs_batch(&self, messages: Vec<event::SqsMessage>, opts: &RunOptions) -> Value {
        let mut failed: Vec<String> = Vec::new();
        // Each report once, with the messages that name it, in event order.
        let mut by_report: Vec<(ReportLocation, Vec<String>)> = Vec::new();
        for m in messages {
            match m.result {
                Err(e) => {
                    tracing::error!(
                        message_id = %m.message_id, error = %e, permanent = true,
                        "SQS message not understood: SQS delivers it again, then to the queue's dead-letter queue"
                    );
                    failed.push(m.message_id);
                }
                Ok(found) => {
                    for s in &found.skipped {
                        tracing::info!(message_id = %m.message_id, skipped = %s, "event record skipped");
                    }
                    for loc in found.locations {
                        match by_report.iter_mut().find(|(l, _)| *l == loc) {
                            Some((_, ids)) => ids.push(m.message_id.clone()),
                            None => by_report.push((loc, vec![m.message_id.clone()])),
                        }
                    }
                }
            }
        }
        for (location, ids) in by_report {
            let uri = location.to_string();
            let done = self.report(location, opts).await;
            if let Some((error_type, line)) = done.failure {
                tracing::error!(
                    report = %uri, message_ids = ?ids, error_type, error = %line,
                    "report not delivered to every sink: its SQS messages will be delivered again"
                );
                for id in ids {
                    if !failed.contains(&id) {
                        failed.push(id);
                    }
                }
            }
        }
        output::sqs_batch_answer(&failed)
    }

    /// One report through [`run::run_report`], in a span carrying the request id and the
    /// report's URI: its line of the answer, or what was skipped, and the failure (error type,
    /// message) if it is not delivered to every sink. Writes the report's metrics
    /// ([`crate::metrics`]) and its summary line.
    async fn report(&self, location: ReportLocation, opts: &RunOptions) -> ReportDone {
        let span = tracing::info_span!("report", requestId = %opts.owner, report = %location);
        self.report_in_span(location, opts).instrument(span).await
    }

    async fn report_in_span(&self, location: ReportLocation, opts: &RunOptions) -> ReportDone {
        let mut done = ReportDone::default();
        let own = [
            self.receipts
                .as_ref()
                .filter(|r| r.holds(&location))
                .map(|r| ("a delivery receipt", r.uri(), "receipts")),
            self.state
                .as_ref()
                .filter(|s| s.holds(&location))
                .map(|s| ("a state document", s.uri(), "state")),
        ];
        if let Some((what, under, prefix)) = own.into_iter().flatten().next() {
            let why = format!(
                "is {what} under {under}, not a report: the trigger's filter overlaps the \
                 {prefix} prefix; skipped"
            );
            tracing::error!(report = %location, "{why}");
            done.skipped.push(format!("{location}: {why}"));
            return done;
        }
        let uri = location.to_string();
        let stores = run::Stores {
            receipts: self.receipts.as_ref(),
            state: self.state.as_ref(),
        };
        match run::run_report(&self.engine, stores, location, opts).await {
            Ok(p) => {
                log_processed(&p);
                let ctx = metrics::Context::now(&self.environment, Some(opts.owner.clone()));
                self.metrics.emit(&metrics::documents(&p, &ctx));
                done.failure = self.failure(&p);
                log_summary(&p, done.failure.as_ref().map(|(t, _)| *t));
                done.report = Some(output::lambda_report(&p));
            }
            Err(e) => {
                let permanent = e.is_permanent();
                // The report's summary line: nothing was sent.
                tracing::error!(
                    status = "error", error_type = e.error_type(), error = %e, permanent,
                    delivered_sinks = 0, failed_sinks = 0, delivered = "", failed = "",
                    skipped = "", "report summary"
                );
                done.failure = Some((
                    e.error_type(),
                    format!(
                        "{uri}: {e}{}",
                        if permanent {
                            " (permanent: retries will fail the same way)"
                        } else {
                            ""
                        }
                    ),
                ));
                done.report = Some(output::lambda_report_error(&uri, &e.to_string()));
            }
        }
        done
    }

    /// Why the invocation must fail for a report that ran, if it must: a retry can help (a
    /// busy receipt, a retryable sink failure), or only permanent failures are left — the
    /// invocation still fails so the retries re-try just those sinks (the receipt skips the
    /// others) and, when they run out, the event reaches the on-failure queue and its alarm.
    fn failure(&self, p: &Processed) -> Option<(&'static str, String)> {
        if p.retry_can_help() {
            return Some(match &p.disposition {
                Disposition::Busy { owner, until } => (
                    "AuditRouter.Busy",
                    format!(
                        "{}: another invocation ({owner}) is delivering it (claim until {until}); \
                         retry later",
                        p.location
                    ),
                ),
                _ => ("AuditRouter.RetryableDelivery", output::failure_line(p)),
            });
        }
        if p.complete() {
            return None;
        }
        let mut replay = self
            .receipts
            .as_ref()
            .map_or_else(String::new, |r| format!(" --receipts {}", r.uri()));
        if let Some(state) = &self.state {
            // The replay compares with the same state (the CLI's default is beside receipts).
            replay.push_str(&format!(" --state {}", state.uri()));
        }
        Some((
            "AuditRouter.PermanentDelivery",
            format!(
                "{} (permanent: fix the sink, then replay with `audit-router send {}{replay}`)",
                output::failure_line(p),
                p.location
            ),
        ))
    }
}

/// `context.deadline` (ms since the epoch) minus a margin, as a tokio instant; `None` when the
/// context carries none (0). The margin is `margin`, but at most a quarter of the time left, so
/// a short timeout (Lambda's default is 3 s) still leaves most of it for sending.
pub fn deadline_of(ctx: &lambda_runtime::Context, margin: Duration) -> Option<Instant> {
    if ctx.deadline == 0 {
        return None;
    }
    let left = if ctx.deadline < PLAUSIBLE_DEADLINE_MS {
        // Not an epoch time. The emulator of cargo-lambda 1.9 sends the timeout itself
        // (600000); take it as the time left, at most Lambda's 15-minute maximum.
        tracing::warn!(
            deadline = ctx.deadline,
            "the runtime sent a deadline that is no epoch time; taking it as milliseconds from now"
        );
        Duration::from_millis(ctx.deadline).min(MAX_LAMBDA_TIMEOUT)
    } else {
        ctx.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    let margin = margin.min(left / 4);
    tracing::debug!(
        left_ms = left.as_millis() as u64,
        margin_ms = margin.as_millis() as u64,
        "invocation deadline"
    );
    Some(Instant::now() + left.saturating_sub(margin))
}

fn log_processed(p: &Processed) {
    let uri = p.location.to_string();
    if let Some(run) = &p.run {
        tracing::info!(
            report = %uri,
            template = ?run.info.template,
            items = run.info.items,
            silenced = run.silenced,
            unmatched = run.unmatched,
            routed = ?run.digests.iter().map(|d| d.sink.as_str()).collect::<Vec<_>>(),
            already_delivered = ?p.already_delivered,
            "report routed"
        );
    }
    for o in &p.outcomes {
        match &o.status {
            crate::deliver::Status::Delivered => tracing::info!(
                report = %uri, sink = %o.sink, kind = o.kind, destination = %o.destination,
                messages = o.sent.len(), message_ids = ?o.message_ids(),
                fallbacks = ?o.fallbacks(), "delivered"
            ),
            crate::deliver::Status::Failed { error, retryable } => tracing::error!(
                report = %uri, sink = %o.sink, kind = o.kind, destination = %o.destination,
                %error, retryable, sent = o.sent.len(), of = o.messages.len(), "delivery failed"
            ),
        }
    }
}

/// The one line per report that answers "what happened to it": per sink `delivered` (message
/// ids, fallbacks), `failed` (why, retryable or permanent) and `skipped` (delivered by an earlier
/// run, a duplicate event, a busy claim, nothing routed), with counts to filter on. `error_type`
/// is the invocation's failure for this report, if any.
fn log_summary(p: &Processed, error_type: Option<&'static str>) {
    let summary = output::report_summary(p);
    let (delivered_sinks, failed_sinks) = (summary.delivered.len(), summary.failed.len());
    let (delivered, failed, skipped) = (
        summary.delivered.join("; "),
        summary.failed.join("; "),
        summary.skipped.join("; "),
    );
    let items = p.run.as_ref().map(|r| r.info.items);
    if failed_sinks > 0 || error_type.is_some() {
        tracing::warn!(
            status = p.status(), error_type, items, delivered_sinks, failed_sinks,
            %delivered, %failed, %skipped, "report summary"
        );
    } else {
        tracing::info!(
            status = p.status(), items, delivered_sinks, failed_sinks,
            %delivered, %failed, %skipped, "report summary"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// The process: JSON logs, panic hook, init, runtime loop.
// ------------------------------------------------------------------------------------------------

/// JSON logs to stdout (CloudWatch takes each line as one event), filtered by `RUST_LOG`
/// (default `info`).
pub fn init_json_tracing() {
    init_json_tracing_to(std::io::stdout);
}

/// The function's JSON log, to `writer`: one JSON object a line, the event's fields at the top
/// (`timestamp`, `level`, `message`, `target`, …) and the innermost span's under `span`
/// (`requestId`, `report`: [`Handler::handle_payload`]). Installed process-wide, once.
pub fn init_json_tracing_to<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
}

/// One JSON log line for a panic (what [`install_panic_hook`] writes).
pub fn panic_json(message: &str, location: Option<String>) -> String {
    json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": "ERROR",
        "target": "audit_router::panic",
        "message": format!("panic: {message}"),
        "location": location,
    })
    .to_string()
}

/// Installs a panic hook that hands [`panic_json`]'s line to `write` before the previous hook
/// runs, so a panic is one JSON log line with its message and location. What a panic does to
/// the invocation: `docs/reliability.md`, "A panic (a bug)".
pub fn install_panic_hook(write: impl Fn(&str) + Send + Sync + 'static) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a non-string panic payload)".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        write(&panic_json(&message, location));
        previous(info);
    }));
}

fn write_stdout_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Reports a failed init to the Runtime API (`/runtime/init/error`), so the invocation's error
/// says why; the process exits after this.
async fn report_init_error(api: &str, err: &InitError) {
    // `host:port` in Lambda; emulators may give a full URL (`http://127.0.0.1:9000/.rt`).
    let base = if api.contains("://") {
        api.trim_end_matches('/').to_owned()
    } else {
        format!("http://{api}")
    };
    let url = format!("{base}/2018-06-01/runtime/init/error");
    let body = json!({"errorType": "AuditRouter.InitError", "errorMessage": err.to_string()});
    let sent = reqwest::Client::new()
        .post(&url)
        .header(
            "Lambda-Runtime-Function-Error-Type",
            "AuditRouter.InitError",
        )
        .json(&body)
        .send()
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not report the init error to the Runtime API");
    }
}

/// The Lambda process: logs, panic hook, cold-start init, then the runtime loop. Returns when the
/// runtime stops (an error) or the init failed.
pub async fn run() -> Result<(), InitError> {
    let Some(api) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Err(InitError::NotLambda(
            "AWS_LAMBDA_RUNTIME_API is not set (use `cargo lambda watch` to run the function \
             locally, or the CLI subcommands)"
                .into(),
        ));
    };
    let started = std::time::Instant::now();
    let init = async {
        let config = LambdaConfig::from_env()?;
        let aws = crate::pipeline::load_aws_config().await;
        Handler::init(&config, aws).await
    };
    let handler = match init.await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "init failed");
            report_init_error(&api, &e).await;
            return Err(e);
        }
    };
    tracing::info!(
        init_ms = started.elapsed().as_millis() as u64,
        "ready for invocations"
    );
    let handler = &handler;
    // lambda_runtime's tracing layer wraps each invocation in a span carrying its request id;
    // the handler's own spans carry it too, with the report (`Handler::handle_payload`).
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    });
    if let Err(e) = lambda_runtime::run(service).await {
        tracing::error!(error = %e, "the Lambda runtime loop stopped");
        return Err(InitError::NotLambda(format!("runtime loop stopped: {e}")));
    }
    Ok(())
}

/// `main` for Lambda mode: JSON logs, the panic hook, a runtime, [`run`]. Exit code 1 on failure.
pub fn main() -> std::process::ExitCode {
    init_json_tracing();
    install_panic_hook(write_stdout_line);
    let rt = match crate::runtime::tokio_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
