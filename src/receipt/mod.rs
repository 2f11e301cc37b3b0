//! Delivery receipts: each routed sink gets a report's digest once, even when S3 delivers the
//! event twice or Lambda retries a failed invocation.
//!
//! For every report one JSON object is kept in S3 under a prefix of its own
//! (`<prefix>/<report bucket>/<report key>.json`). It records, per sink, whether the digest was
//! delivered (when, message ids) or failed (why, whether a retry can help, how often it was tried).
//!
//! Concurrency uses S3 conditional writes only:
//! - [`ReceiptStore::claim`] creates the receipt with `If-None-Match: *`, or takes over an existing
//!   one with `If-Match: <etag>`; of two concurrent duplicates exactly one write succeeds (the
//!   other gets `412 PreconditionFailed` / `409 ConditionalRequestConflict`, re-reads and sees the
//!   winner's live claim: [`Claim::Busy`]).
//! - A claim carries a lease (`expires_at`). A run that crashed leaves its claim behind; once the
//!   lease has expired a retry takes it over. Pick a lease longer than the function timeout (a live
//!   run must never lose its claim) and shorter than Lambda's first async retry delay plus the
//!   timeout (so the retry finds it expired): for a 60 s timeout, 90 s.
//! - Every later write ([`ReceiptStore::record`], [`ReceiptStore::release`]) is `If-Match` on the
//!   ETag of the previous write and renews the lease; a mismatch means another invocation took the
//!   claim over, and this run must stop sending ([`ReceiptError::ClaimLost`]).
//!
//! Intended use (Lambda handler or `audit-router send --receipts s3://bucket/prefix`):
//!
//! ```text
//! match store.claim(&report, report_etag, request_id).await? {
//!     Claim::AlreadyDone { .. } => return Ok(()),             // duplicate event: send nothing
//!     Claim::Busy { until, .. } => return Err(retryable),     // a live duplicate is working
//!     Claim::Acquired(mut held) => {
//!         let routed = /* sinks that got a digest */;
//!         held.set_routed(&routed);
//!         for sink in held.receipt().pending(&routed) {
//!             let outcome = /* deliver, with the remaining time as deadline */;
//!             store.record(&mut held, &sink, outcome).await?;
//!         }
//!         let receipt = store.release(held).await?;
//!         if receipt.retry_can_help() { return Err(retryable) }  // Lambda retries the failed sinks
//!     }
//! }
//! ```
//!
//! Receipts never hold secrets: the error texts passed to [`SinkOutcome::Failed`] must already be
//! redacted by the sink layer, and this module adds no URLs of its own.

mod claim;
mod document;
mod store;

pub use claim::{Claim, HeldClaim};
pub use document::{ClaimInfo, RECEIPT_VERSION, Receipt, SinkOutcome, SinkState};
pub use store::{MAX_KEY_BYTES, ReceiptStore};

/// Default receipt lease: longer than the template's 60 s timeout, shorter than Lambda's first
/// retry delay plus the timeout (see the module docs).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(90);

/// A lease for a run whose deliveries stop after `timeout` (`send --receipts --timeout`): it
/// must outlast them, as the Lambda's outlasts its function timeout — 30 s past it, at least
/// [`DEFAULT_LEASE`].
pub fn lease_outlasting(timeout: std::time::Duration) -> std::time::Duration {
    DEFAULT_LEASE.max(timeout + std::time::Duration::from_secs(30))
}

/// The receipts of `send --receipts URI --timeout SECONDS`: a lease outlasting the deliveries
/// ([`lease_outlasting`]).
pub fn store_for_send(
    client: aws_sdk_s3::Client,
    uri: &str,
    timeout_secs: u64,
) -> Result<ReceiptStore, ReceiptError> {
    let lease = lease_outlasting(std::time::Duration::from_secs(timeout_secs));
    ReceiptStore::from_uri(client, uri, lease)
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("invalid receipts location {uri:?}: {reason} (expected s3://bucket/prefix)")]
    InvalidLocation { uri: String, reason: String },
    #[error("receipts are kept for S3 reports only: {report:?} is not an s3://bucket/key URI")]
    NotS3Report { report: String },
    #[error(
        "receipts prefix s3://{bucket}/{prefix} lies inside the trigger filter \
         (prefix {trigger_prefix:?}, suffix {trigger_suffix:?}): writing a receipt would trigger \
         the function again; choose a prefix outside it"
    )]
    InsideTrigger {
        bucket: String,
        prefix: String,
        trigger_prefix: String,
        trigger_suffix: String,
    },
    /// S3 answered an error or did not answer ([`crate::s3_error`]): `permanent` for what a
    /// retry cannot fix (access denied, no such bucket), else transient.
    #[error("reading receipt s3://{bucket}/{key}: {detail}")]
    Read {
        bucket: String,
        key: String,
        detail: String,
        permanent: bool,
    },
    #[error("writing receipt s3://{bucket}/{key}: {detail}")]
    Write {
        bucket: String,
        key: String,
        detail: String,
        permanent: bool,
    },
    #[error("receipt s3://{bucket}/{key} is not a valid receipt document: {source}")]
    Corrupt {
        bucket: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "receipt s3://{bucket}/{key} has format version {found}; this build reads version {RECEIPT_VERSION}"
    )]
    UnsupportedVersion {
        bucket: String,
        key: String,
        found: u64,
    },
    #[error(
        "receipt s3://{bucket}/{key} is for report {found:?}, not {expected:?} (receipt keys of two \
         reports collide; refusing to mix their records)"
    )]
    WrongReport {
        bucket: String,
        key: String,
        expected: String,
        found: String,
    },
    #[error(
        "S3 answered a write of receipt s3://{bucket}/{key} without an ETag; conditional updates need it"
    )]
    MissingEtag { bucket: String, key: String },
    #[error(
        "lost the claim on receipt s3://{bucket}/{key}: it changed since this run wrote ETag {etag} \
         (another invocation took it over after the lease ran out); stop sending for this report"
    )]
    ClaimLost {
        bucket: String,
        key: String,
        etag: String,
    },
    /// S3 did not answer a receipt read or write before the invocation's receipt deadline
    /// (`ProcessOptions::receipt_deadline`): the run stops instead of being killed silently.
    #[error(
        "{action} receipt s3://{bucket}/{key} did not finish before the invocation deadline (S3 \
         slow or not answering)"
    )]
    Timeout {
        bucket: String,
        key: String,
        action: &'static str,
    },
    #[error(
        "could not claim receipt s3://{bucket}/{key}: lost {rounds} conditional-write races in a row"
    )]
    Contended {
        bucket: String,
        key: String,
        rounds: usize,
    },
}

impl ReceiptError {
    /// Whether trying the whole invocation again later can succeed (S3 trouble, a lost race) as
    /// opposed to a setup or data error that will fail the same way (access denied, no such
    /// bucket, a corrupt receipt).
    pub fn is_transient(&self) -> bool {
        match self {
            ReceiptError::Read { permanent, .. } | ReceiptError::Write { permanent, .. } => {
                !permanent
            }
            ReceiptError::ClaimLost { .. }
            | ReceiptError::Contended { .. }
            | ReceiptError::Timeout { .. } => true,
            _ => false,
        }
    }
}
