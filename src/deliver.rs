//! Delivery: render each digest with its sink, send all sinks concurrently ([`Fanout`], the one
//! scheduler), retry retryable errors with exponential backoff and jitter (honouring
//! `Retry-After`), stop before a deadline, and report per sink: delivered (message ids) or failed
//! (why, retryable?). One failing sink never stops the others.
//!
//! Dry-run runs the same path with every sink wrapped in a [`RecordingSink`] ([`recorded`]), so
//! it shows exactly the payloads `send` would send.

use audit_router_sink_api::{
    Digest, Payload, RecordingSink, RenderContext, ReportTemplate, Retry, Sent, Sink, SinkError,
};
use serde::Serialize;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// How often and how long to retry a retryable send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per payload, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time (with jitter).
    pub base_delay: Duration,
    /// Backoff never exceeds this.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is capped.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// "Equal jitter": half the exponential delay fixed, half random, capped at `max_delay`.
    /// `retry` is 1 for the first retry.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter_ms = half.as_millis() as u64;
        let random = if jitter_ms == 0 {
            0
        } else {
            random_u64() % (jitter_ms + 1)
        };
        half + Duration::from_millis(random)
    }
}

/// A random number from the standard library's per-process random hash keys.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[derive(Clone, Debug)]
pub struct DeliverOptions {
    /// Stop retrying (and abandon sends in flight) at this instant: the Lambda's remaining time
    /// minus a margin, or the CLI's `--timeout`.
    pub deadline: Option<Instant>,
    pub retry: RetryPolicy,
    pub render: RenderContext,
}

impl Default for DeliverOptions {
    fn default() -> Self {
        DeliverOptions {
            deadline: None,
            retry: RetryPolicy::default(),
            render: RenderContext::now(),
        }
    }
}

/// One digest for one sink.
#[derive(Clone)]
pub struct DeliveryJob {
    pub sink: Arc<dyn Sink>,
    pub digest: Digest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Every message was sent.
    Delivered,
    /// Rendering or a send failed; messages before the failing one were sent.
    Failed {
        error: String,
        /// The last error was retryable (retries ran out or the deadline came).
        retryable: bool,
    },
}

/// What happened to one [`DeliveryJob`].
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub sink: String,
    pub kind: &'static str,
    /// Redacted destination (topic ARN, webhook host…).
    pub destination: String,
    pub report: ReportTemplate,
    pub source: String,
    /// Every rendered message, in order (`body` is the exact payload text).
    pub messages: Vec<Payload>,
    /// The messages sent, in order (`sent.len()` ≤ `messages.len()`), with their ids.
    pub sent: Vec<Sent>,
    /// Send attempts made, retries included.
    pub attempts: u32,
    /// Sends repeated after a retryable error (`attempts` less each message's first try).
    pub retries: u32,
    #[serde(flatten)]
    pub status: Status,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status == Status::Delivered
    }

    pub fn message_ids(&self) -> Vec<&str> {
        self.sent
            .iter()
            .filter_map(|s| s.message_id.as_deref())
            .collect()
    }

    /// The messages the service refused and the sink replaced by its minimal fallback message
    /// ([`Sent::fallback`]): what was refused and why.
    pub fn fallbacks(&self) -> Vec<&str> {
        self.sent
            .iter()
            .filter_map(|s| s.fallback.as_deref())
            .collect()
    }
}

/// Every outcome, in job order.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryReport {
    pub outcomes: Vec<Outcome>,
}

impl DeliveryReport {
    /// The process exits non-zero unless this holds.
    pub fn all_delivered(&self) -> bool {
        self.outcomes.iter().all(Outcome::delivered)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.delivered())
    }
}

/// The one delivery scheduler: every job runs as a task of its own, concurrently; outcomes come
/// back in completion order ([`Fanout::next`]), so a caller can record each as soon as its sink
/// is done. A job whose task panics still yields an outcome (`docs/reliability.md`, "A panic (a
/// bug)"). Dropping the fan-out aborts the jobs still running.
pub struct Fanout {
    set: tokio::task::JoinSet<Outcome>,
    /// Per task: the job's index in the order given, and what to report should it panic.
    placeholders: std::collections::HashMap<tokio::task::Id, (usize, Outcome)>,
}

impl Fanout {
    /// Starts every job now.
    pub fn start(jobs: Vec<DeliveryJob>, opts: &DeliverOptions) -> Fanout {
        let mut set = tokio::task::JoinSet::new();
        let mut placeholders = std::collections::HashMap::new();
        for (i, job) in jobs.into_iter().enumerate() {
            let base = outcome_base(&job);
            let opts = opts.clone();
            // The caller's span (the Lambda's request id and report) goes with the task, so the
            // sink's log lines carry it.
            let handle = set.spawn(
                async move { deliver_one(&job, &opts).await }.instrument(tracing::Span::current()),
            );
            placeholders.insert(handle.id(), (i, base));
        }
        Fanout { set, placeholders }
    }

    /// The next outcome to finish; `None` when every job has.
    pub async fn next(&mut self) -> Option<Outcome> {
        self.next_indexed().await.map(|(_, o)| o)
    }

    /// [`Fanout::next`] with the job's index in the order given.
    async fn next_indexed(&mut self) -> Option<(usize, Outcome)> {
        let joined = self.set.join_next_with_id().await?;
        Some(match joined {
            Ok((id, outcome)) => {
                let i = self.placeholders.remove(&id).map_or(usize::MAX, |(i, _)| i);
                (i, outcome)
            }
            Err(e) => {
                let (i, mut o) = self
                    .placeholders
                    .remove(&e.id())
                    .unwrap_or_else(|| (usize::MAX, crashed_placeholder(&e)));
                let error = format!("sink {} crashed while delivering (a bug)", o.sink);
                tracing::error!(sink = %o.sink, %error, cause = %e, "sink task crashed");
                o.status = Status::Failed {
                    error,
                    retryable: false,
                };
                (i, o)
            }
        })
    }

    /// Every outcome, in the order the jobs were given.
    pub async fn collect(mut self) -> Vec<Outcome> {
        let mut out = Vec::new();
        while let Some(o) = self.next_indexed().await {
            out.push(o);
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, o)| o).collect()
    }
}

/// An outcome for a task the fan-out has no record of (cannot happen: every task is recorded
/// when spawned); kept so a panic never becomes a second panic.
fn crashed_placeholder(e: &tokio::task::JoinError) -> Outcome {
    Outcome {
        sink: format!("(task {})", e.id()),
        kind: "?",
        destination: String::new(),
        report: ReportTemplate::ResourceCompliance,
        source: String::new(),
        messages: Vec::new(),
        sent: Vec::new(),
        attempts: 0,
        retries: 0,
        status: Status::Delivered,
    }
}

/// Renders and sends every job ([`Fanout`]); the outcomes in job order. Never fails as a whole:
/// see [`DeliveryReport`].
pub async fn deliver(jobs: Vec<DeliveryJob>, opts: &DeliverOptions) -> DeliveryReport {
    DeliveryReport {
        outcomes: Fanout::start(jobs, opts).collect().await,
    }
}

/// Every job with its sink replaced by a recorder of what it would send: the dry run.
pub fn recorded(jobs: Vec<DeliveryJob>) -> Vec<DeliveryJob> {
    jobs.into_iter()
        .map(|j| DeliveryJob {
            sink: Arc::new(RecordingSink::new(j.sink)),
            digest: j.digest,
        })
        .collect()
}

/// Dry-run: exactly [`deliver`], with every sink replaced by a recorder of what it would send.
pub async fn dry_run(jobs: Vec<DeliveryJob>, opts: &DeliverOptions) -> DeliveryReport {
    deliver(recorded(jobs), opts).await
}

fn outcome_base(job: &DeliveryJob) -> Outcome {
    Outcome {
        sink: job.sink.name().to_string(),
        kind: job.sink.kind(),
        destination: job.sink.destination(),
        report: job.digest.report,
        source: job.digest.source.uri.clone(),
        messages: Vec::new(),
        sent: Vec::new(),
        attempts: 0,
        retries: 0,
        status: Status::Delivered,
    }
}

fn fail(mut o: Outcome, error: impl Into<String>, retryable: bool) -> Outcome {
    let error = error.into();
    tracing::warn!(sink = %o.sink, kind = o.kind, %error, retryable, "delivery failed");
    o.status = Status::Failed { error, retryable };
    o
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Renders and sends one job, retrying per the sink's classification.
pub async fn deliver_one(job: &DeliveryJob, opts: &DeliverOptions) -> Outcome {
    let mut o = outcome_base(job);
    let sink = &job.sink;
    o.messages = match sink.render(&job.digest, &opts.render) {
        Ok(m) => m,
        Err(e) => return fail(o, e.to_string(), false),
    };
    let total = o.messages.len();
    for idx in 0..total {
        let mut retry = 0u32;
        loop {
            let what = format!("message {}/{total}", idx + 1);
            if let Some(d) = opts.deadline
                && Instant::now() >= d
            {
                return fail(o, format!("deadline reached before sending {what}"), true);
            }
            o.attempts += 1;
            let payload = &o.messages[idx];
            let result: Result<Sent, SinkError> = match opts.deadline {
                Some(d) => match tokio::time::timeout_at(d, sink.send(payload)).await {
                    Ok(r) => r,
                    Err(_) => {
                        return fail(o, format!("deadline reached while sending {what}"), true);
                    }
                },
                None => sink.send(payload).await,
            };
            let error = match result {
                Ok(sent) => {
                    if let Some(why) = &sent.fallback {
                        tracing::error!(sink = %o.sink, kind = o.kind, fallback = %why, "the service refused the rendered message; its minimal fallback message was delivered");
                    }
                    o.sent.push(sent);
                    break;
                }
                Err(e) => e,
            };
            let after = match sink.retry(&error) {
                Retry::Never => return fail(o, format!("{what}: {error}"), false),
                Retry::After(after) => after,
            };
            retry += 1;
            if retry >= opts.retry.max_attempts {
                return fail(
                    o,
                    format!("{what}: {error} (gave up after {retry} attempts)"),
                    true,
                );
            }
            let delay = match after {
                Some(a) => a.min(opts.retry.max_retry_after),
                None => opts.retry.backoff(retry),
            };
            if let Some(d) = opts.deadline {
                let left = d.saturating_duration_since(Instant::now());
                if delay >= left {
                    return fail(
                        o,
                        format!(
                            "{what}: {error} (next retry in {} would pass the deadline, {} left)",
                            secs(delay),
                            secs(left)
                        ),
                        true,
                    );
                }
            }
            tracing::info!(sink = %o.sink, %error, delay_ms = delay.as_millis() as u64, retry, "retrying send");
            o.retries += 1;
            tokio::time::sleep(delay).await;
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d1 = p.backoff(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.backoff(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d9 = p.backoff(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000));
        }
        let distinct: std::collections::BTreeSet<_> = (0..20).map(|_| p.backoff(4)).collect();
        assert!(distinct.len() > 1, "jitter must vary");
    }
}
