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
//! match store.claim(&report_uri, request_id).await? {
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

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use audit_router_sink_api::aws_error;

/// The receipt format this build writes and reads.
pub const RECEIPT_VERSION: u32 = 1;

/// S3's limit on an object key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// How often [`ReceiptStore::claim`] re-reads after losing a conditional-write race before it gives
/// up. Each lost race means another invocation wrote in between; after a re-read that one's claim
/// is live and we answer `Busy`, so more than two rounds only happen under heavy churn.
const CLAIM_ROUNDS: usize = 5;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("invalid receipts location {uri:?}: {reason} (expected s3://bucket/prefix)")]
    InvalidLocation { uri: String, reason: &'static str },
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
    /// `detail` is the whole cause chain (the SDK's own Display says only "service error").
    #[error("reading receipt s3://{bucket}/{key}: {detail}")]
    Read {
        bucket: String,
        key: String,
        detail: String,
        #[source]
        source: BoxError,
    },
    #[error("writing receipt s3://{bucket}/{key}: {detail}")]
    Write {
        bucket: String,
        key: String,
        detail: String,
        #[source]
        source: BoxError,
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
    /// opposed to a setup or data error that will fail the same way.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ReceiptError::Read { .. }
                | ReceiptError::Write { .. }
                | ReceiptError::ClaimLost { .. }
                | ReceiptError::Contended { .. }
                | ReceiptError::Timeout { .. }
        )
    }
}

/// Who holds a receipt and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimInfo {
    /// The invocation that holds it (the Lambda request id, or `cli:<host>:<pid>` for the CLI).
    pub owner: String,
    #[serde(with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// What happened to one sink's digest, as stored in the receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SinkState {
    Delivered {
        #[serde(with = "rfc3339")]
        at: DateTime<Utc>,
        message_ids: Vec<String>,
        /// Messages the service refused, for which the sink delivered its minimal fallback
        /// message instead (what was refused, why); absent when there were none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fallbacks: Vec<String>,
    },
    Failed {
        #[serde(with = "rfc3339")]
        at: DateTime<Utc>,
        /// Already redacted by the sink layer.
        error: String,
        /// Whether another attempt can succeed (timeouts, 5xx, throttling) or not (4xx, bad config).
        retryable: bool,
        /// Failed attempts so far, across invocations.
        attempts: u32,
    },
}

impl SinkState {
    pub fn is_delivered(&self) -> bool {
        matches!(self, SinkState::Delivered { .. })
    }
}

/// What a delivery attempt reports to [`ReceiptStore::record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkOutcome {
    Delivered {
        message_ids: Vec<String>,
        /// See [`SinkState::Delivered`]'s `fallbacks`.
        fallbacks: Vec<String>,
    },
    Failed {
        /// Must already be redacted (no webhook URLs, tokens or signed query strings).
        error: String,
        retryable: bool,
    },
}

/// The receipt document (`version` 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub version: u32,
    /// `s3://bucket/key` of the report.
    pub report: String,
    /// The report object's ETag when the receipt was started, if known. A report overwritten with
    /// new content (another ETag) starts a fresh receipt.
    pub report_etag: Option<String>,
    pub claim: Option<ClaimInfo>,
    /// The sinks the report was routed to, once known; `None` until a run got that far.
    #[serde(default)]
    pub routed: Option<Vec<String>>,
    pub sinks: BTreeMap<String, SinkState>,
}

impl Receipt {
    fn new(report: &str, report_etag: Option<&str>) -> Self {
        Receipt {
            version: RECEIPT_VERSION,
            report: report.to_owned(),
            report_etag: report_etag.map(str::to_owned),
            claim: None,
            routed: None,
            sinks: BTreeMap::new(),
        }
    }

    /// The sinks among `sinks` that have not been delivered yet (never tried, or failed), in the
    /// order given. A retry sends to these only.
    pub fn pending(&self, sinks: &[&str]) -> Vec<String> {
        sinks
            .iter()
            .filter(|s| !self.sinks.get(**s).is_some_and(SinkState::is_delivered))
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// Every routed sink delivered (true for a report routed to no sink). False while the routed
    /// sinks are unknown.
    pub fn is_complete(&self) -> bool {
        match &self.routed {
            Some(routed) => routed
                .iter()
                .all(|s| self.sinks.get(s).is_some_and(SinkState::is_delivered)),
            None => false,
        }
    }

    /// Whether the invocation should fail so that Lambda retries it: some routed sink is not
    /// delivered and either was never tried or failed with a retryable error. A sink that failed
    /// for good (e.g. 404 webhook, rejected credentials) does not keep the report retrying; its
    /// failure stays in the receipt for `audit-router send` to replay after a fix.
    pub fn retry_can_help(&self) -> bool {
        let Some(routed) = &self.routed else {
            return true;
        };
        routed.iter().any(|s| match self.sinks.get(s) {
            None => true,
            Some(SinkState::Delivered { .. }) => false,
            Some(SinkState::Failed { retryable, .. }) => *retryable,
        })
    }

    /// The live claim's owner and expiry, if the receipt is claimed and the lease runs past `now`.
    pub fn live_claim(&self, now: DateTime<Utc>) -> Option<&ClaimInfo> {
        self.claim.as_ref().filter(|c| c.expires_at > now)
    }
}

/// The answer of [`ReceiptStore::claim`].
#[derive(Debug)]
pub enum Claim {
    /// This invocation holds the receipt: new, released by an earlier run, or taken over from an
    /// expired lease. Send to [`Receipt::pending`] sinks, [`ReceiptStore::record`] each outcome, then
    /// [`ReceiptStore::release`].
    Acquired(HeldClaim),
    /// Another invocation holds a live claim: send nothing now, fail with a retryable error.
    Busy { owner: String, until: DateTime<Utc> },
    /// Every routed sink was delivered: a duplicate event, send nothing.
    AlreadyDone { receipt: Receipt },
}

/// A receipt this invocation holds, with the ETag of its last write.
#[derive(Debug)]
pub struct HeldClaim {
    key: String,
    etag: String,
    receipt: Receipt,
    taken_over_from: Option<String>,
}

impl HeldClaim {
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }
    /// The receipt object's key in the receipts bucket.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// The ETag of this run's last write (the `If-Match` of the next one).
    pub fn etag(&self) -> &str {
        &self.etag
    }
    /// The owner of the expired claim this run took over, if any (for the log).
    pub fn taken_over_from(&self) -> Option<&str> {
        self.taken_over_from.as_deref()
    }
    /// Sets the sinks the report is routed to (written with the next `record`/`release`).
    pub fn set_routed(&mut self, sinks: &[&str]) {
        let mut routed: Vec<String> = sinks.iter().map(|s| (*s).to_owned()).collect();
        routed.sort();
        routed.dedup();
        self.receipt.routed = Some(routed);
    }
}

/// Receipts under `s3://<bucket>/<prefix>/`.
#[derive(Clone, Debug)]
pub struct ReceiptStore {
    client: Client,
    bucket: String,
    prefix: String,
    lease: Duration,
}

impl ReceiptStore {
    /// `prefix` may be empty; leading and trailing `/` are ignored.
    pub fn new(
        client: Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        lease: Duration,
    ) -> Self {
        let prefix: String = prefix.into();
        ReceiptStore {
            client,
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').to_owned(),
            lease,
        }
    }

    /// From `s3://bucket/prefix` (the `AUDIT_ROUTER_RECEIPTS` / `--receipts` value).
    pub fn from_uri(client: Client, uri: &str, lease: Duration) -> Result<Self, ReceiptError> {
        let invalid = |reason| ReceiptError::InvalidLocation {
            uri: uri.to_owned(),
            reason,
        };
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("no bucket name"));
        }
        // Leave room for the report bucket (<= 63 bytes) and a hashed report key.
        if prefix.len() > MAX_KEY_BYTES / 2 {
            return Err(invalid("prefix longer than 512 bytes"));
        }
        Ok(ReceiptStore::new(client, bucket, prefix, lease))
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Fails when receipts would land inside the trigger's filter (same bucket, key under
    /// `trigger_prefix` and ending in `trigger_suffix`), which would make every receipt write start
    /// the function again.
    pub fn ensure_outside_trigger(
        &self,
        trigger_bucket: &str,
        trigger_prefix: &str,
        trigger_suffix: &str,
    ) -> Result<(), ReceiptError> {
        let receipt_root = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let overlaps_prefix =
            receipt_root.starts_with(trigger_prefix) || trigger_prefix.starts_with(&receipt_root);
        let suffix_matches = trigger_suffix.is_empty() || ".json".ends_with(trigger_suffix);
        if self.bucket == trigger_bucket && overlaps_prefix && suffix_matches {
            return Err(ReceiptError::InsideTrigger {
                bucket: self.bucket.clone(),
                prefix: receipt_root,
                trigger_prefix: trigger_prefix.to_owned(),
                trigger_suffix: trigger_suffix.to_owned(),
            });
        }
        Ok(())
    }

    /// The receipt key for `s3://bucket/key`: `<prefix>/<bucket>/<key>.json`. Longer than S3's
    /// 1024-byte limit, the key's tail is replaced by `~<sha256 of the whole key>` so distinct
    /// reports keep distinct receipts.
    pub fn receipt_key(&self, report_uri: &str) -> Result<String, ReceiptError> {
        let (bucket, key) = parse_report_uri(report_uri)?;
        let head = if self.prefix.is_empty() {
            format!("{bucket}/")
        } else {
            format!("{}/{bucket}/", self.prefix)
        };
        let full = format!("{head}{key}.json");
        if full.len() <= MAX_KEY_BYTES {
            return Ok(full);
        }
        let hash: String = sha2::Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let tail = format!("~{hash}.json");
        let mut keep = MAX_KEY_BYTES.saturating_sub(head.len() + tail.len());
        while !key.is_char_boundary(keep) {
            keep -= 1;
        }
        Ok(format!("{head}{}{tail}", &key[..keep]))
    }

    /// Reads the receipt of a report, if there is one, with its ETag.
    pub async fn load(&self, report_uri: &str) -> Result<Option<(Receipt, String)>, ReceiptError> {
        let key = self.receipt_key(report_uri)?;
        self.read(&key, report_uri).await
    }

    /// Claims the receipt of `report_uri` for `owner` (see [`Claim`]).
    pub async fn claim(&self, report_uri: &str, owner: &str) -> Result<Claim, ReceiptError> {
        self.claim_version(report_uri, None, owner).await
    }

    /// Like [`claim`](Self::claim), also given the report object's current ETag: a receipt
    /// recorded for other content of the same key is started afresh (a re-written report is a new
    /// report). With `None` the ETag is not compared.
    pub async fn claim_version(
        &self,
        report_uri: &str,
        report_etag: Option<&str>,
        owner: &str,
    ) -> Result<Claim, ReceiptError> {
        let key = self.receipt_key(report_uri)?;
        for _ in 0..CLAIM_ROUNDS {
            let now = Utc::now();
            let ours = ClaimInfo {
                owner: owner.to_owned(),
                expires_at: now + self.lease_delta(),
            };
            match self.read(&key, report_uri).await? {
                None => {
                    let mut receipt = Receipt::new(report_uri, report_etag);
                    receipt.claim = Some(ours);
                    match self.write(&key, &receipt, Precondition::Absent).await? {
                        Some(etag) => {
                            return Ok(Claim::Acquired(HeldClaim {
                                key,
                                etag,
                                receipt,
                                taken_over_from: None,
                            }));
                        }
                        None => continue, // a duplicate created it first: re-read
                    }
                }
                Some((mut receipt, etag)) => {
                    let new_content = match (report_etag, receipt.report_etag.as_deref()) {
                        (Some(now_etag), Some(then_etag)) => now_etag != then_etag,
                        _ => false,
                    };
                    if !new_content && receipt.is_complete() {
                        return Ok(Claim::AlreadyDone { receipt });
                    }
                    if let Some(live) = receipt.live_claim(now)
                        && live.owner != owner
                    {
                        return Ok(Claim::Busy {
                            owner: live.owner.clone(),
                            until: live.expires_at,
                        });
                    }
                    let taken_over_from = receipt
                        .claim
                        .as_ref()
                        .map(|c| c.owner.clone())
                        .filter(|o| o != owner);
                    if new_content {
                        receipt = Receipt::new(report_uri, report_etag);
                    } else if receipt.report_etag.is_none() {
                        receipt.report_etag = report_etag.map(str::to_owned);
                    }
                    receipt.claim = Some(ours);
                    match self
                        .write(&key, &receipt, Precondition::Matches(&etag))
                        .await?
                    {
                        Some(etag) => {
                            return Ok(Claim::Acquired(HeldClaim {
                                key,
                                etag,
                                receipt,
                                taken_over_from,
                            }));
                        }
                        None => continue, // another invocation wrote in between: re-read
                    }
                }
            }
        }
        Err(ReceiptError::Contended {
            bucket: self.bucket.clone(),
            key,
            rounds: CLAIM_ROUNDS,
        })
    }

    /// Records a sink's outcome (and renews the lease) with `If-Match` on the last ETag.
    pub async fn record(
        &self,
        held: &mut HeldClaim,
        sink: &str,
        outcome: SinkOutcome,
    ) -> Result<(), ReceiptError> {
        let at = Utc::now();
        let state = match outcome {
            SinkOutcome::Delivered {
                message_ids,
                fallbacks,
            } => SinkState::Delivered {
                at,
                message_ids,
                fallbacks,
            },
            SinkOutcome::Failed { error, retryable } => {
                let attempts = match held.receipt.sinks.get(sink) {
                    Some(SinkState::Failed { attempts, .. }) => attempts.saturating_add(1),
                    _ => 1,
                };
                SinkState::Failed {
                    at,
                    error,
                    retryable,
                    attempts,
                }
            }
        };
        let mut next = held.receipt.clone();
        next.sinks.insert(sink.to_owned(), state);
        if let Some(claim) = next.claim.as_mut() {
            claim.expires_at = at + self.lease_delta();
        }
        self.update(held, next).await
    }

    /// The final write: clears the claim (`If-Match` on the last ETag) and returns the receipt as
    /// stored, for [`Receipt::retry_can_help`].
    pub async fn release(&self, mut held: HeldClaim) -> Result<Receipt, ReceiptError> {
        let mut next = held.receipt.clone();
        next.claim = None;
        self.update(&mut held, next).await?;
        Ok(held.receipt)
    }

    async fn update(&self, held: &mut HeldClaim, next: Receipt) -> Result<(), ReceiptError> {
        match self
            .write(&held.key, &next, Precondition::Matches(&held.etag))
            .await?
        {
            Some(etag) => {
                held.etag = etag;
                held.receipt = next;
                Ok(())
            }
            None => Err(ReceiptError::ClaimLost {
                bucket: self.bucket.clone(),
                key: held.key.clone(),
                etag: held.etag.clone(),
            }),
        }
    }

    fn lease_delta(&self) -> chrono::TimeDelta {
        // A lease beyond chrono's range (~292 million years) is clamped; it means "never expires".
        chrono::TimeDelta::from_std(self.lease).unwrap_or(chrono::TimeDelta::MAX / 2)
    }

    async fn read(
        &self,
        key: &str,
        report_uri: &str,
    ) -> Result<Option<(Receipt, String)>, ReceiptError> {
        let read_err = |source: BoxError| ReceiptError::Read {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            detail: describe(source.as_ref()),
            source,
        };
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) => {
                // NoSuchKey only: a 404 NoSuchBucket is a setup error and must not look like
                // "no receipt yet" (which would send, then fail to record).
                let missing = err.as_service_error().is_some_and(|e| e.is_no_such_key())
                    || err.code() == Some("NoSuchKey");
                if missing {
                    return Ok(None);
                }
                return Err(read_err(Box::new(err)));
            }
        };
        let etag = out.e_tag().map(str::to_owned).ok_or_else(|| {
            read_err("S3 returned the receipt without an ETag; conditional updates need it".into())
        })?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| read_err(Box::new(e)))?
            .into_bytes();
        let receipt = self.decode(key, &body)?;
        if receipt.report != report_uri {
            return Err(ReceiptError::WrongReport {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                expected: report_uri.to_owned(),
                found: receipt.report,
            });
        }
        Ok(Some((receipt, etag)))
    }

    fn decode(&self, key: &str, body: &[u8]) -> Result<Receipt, ReceiptError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u64,
        }
        let corrupt = |source| ReceiptError::Corrupt {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source,
        };
        let version = serde_json::from_slice::<VersionOnly>(body)
            .map_err(corrupt)?
            .version;
        if version != u64::from(RECEIPT_VERSION) {
            return Err(ReceiptError::UnsupportedVersion {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                found: version,
            });
        }
        serde_json::from_slice(body).map_err(corrupt)
    }

    /// Writes conditionally. `Ok(Some(etag))` on success, `Ok(None)` when the precondition failed
    /// (someone else won), `Err` for anything else.
    async fn write(
        &self,
        key: &str,
        receipt: &Receipt,
        precondition: Precondition<'_>,
    ) -> Result<Option<String>, ReceiptError> {
        let write_err = |source: BoxError| ReceiptError::Write {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            detail: describe(source.as_ref()),
            source,
        };
        let body = serde_json::to_vec_pretty(receipt).map_err(|e| write_err(Box::new(e)))?;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        req = match precondition {
            Precondition::Absent => req.if_none_match("*"),
            Precondition::Matches(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(out) => {
                out.e_tag()
                    .map(|e| Some(e.to_owned()))
                    .ok_or_else(|| ReceiptError::MissingEtag {
                        bucket: self.bucket.clone(),
                        key: key.to_owned(),
                    })
            }
            Err(err) if lost_race(&err) => Ok(None),
            // If-Match on an object that vanished (deleted by hand mid-run): also a lost claim.
            Err(err)
                if matches!(precondition, Precondition::Matches(_))
                    && err.code() == Some("NoSuchKey") =>
            {
                Ok(None)
            }
            Err(err) => Err(write_err(Box::new(err))),
        }
    }
}

#[derive(Clone, Copy)]
enum Precondition<'a> {
    /// `If-None-Match: *`
    Absent,
    /// `If-Match: <etag>`
    Matches(&'a str),
}

fn http_status<E, R>(err: &SdkError<E, R>) -> Option<u16>
where
    R: HttpStatus,
{
    err.raw_response().map(HttpStatus::status_code)
}

/// The status code of a raw response (a trait so the helpers above stay generic over the
/// operation's error type).
trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// 412 PreconditionFailed or 409 ConditionalRequestConflict: another writer won.
fn lost_race<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        err.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(http_status(err), Some(412 | 409))
}

/// One line about an error. For an S3 service error: `NoSuchBucket (HTTP 404): The specified bucket
/// does not exist`; otherwise (timeouts, connection errors) what failed and its cause chain
/// ([`aws_error`]), never the SDK's Debug dump.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    if let Some(err) = err.downcast_ref::<SdkError<GetObjectError, HttpResponse>>() {
        return describe_sdk(err);
    }
    if let Some(err) = err.downcast_ref::<SdkError<PutObjectError, HttpResponse>>() {
        return describe_sdk(err);
    }
    let mut text = err.to_string();
    if let Some(cause) = aws_error::cause_chain(err) {
        text = format!("{text}: {cause}");
    }
    text
}

fn describe_sdk<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let parts = aws_error::parts(err);
    match (&parts.code, &parts.message) {
        // The receipt's own wording keeps the status beside the code.
        (Some(code), Some(msg)) => match parts.status {
            Some(s) => format!("{code} (HTTP {s}): {msg}"),
            None => format!("{code}: {msg}"),
        },
        _ => parts.detail(),
    }
}

/// `s3://bucket/key` → (bucket, key), the key taken literally.
fn parse_report_uri(uri: &str) -> Result<(&str, &str), ReceiptError> {
    let not_s3 = || ReceiptError::NotS3Report {
        report: uri.to_owned(),
    };
    let rest = uri.strip_prefix("s3://").ok_or_else(not_s3)?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => Err(not_s3()),
    }
}

/// RFC 3339 timestamps with milliseconds, UTC (`2026-11-27T15:04:05.123Z`).
mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                serde::de::Error::custom(format!("expected an RFC 3339 timestamp, got {s:?}: {e}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(prefix: &str) -> ReceiptStore {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        ReceiptStore::new(
            Client::from_conf(conf),
            "receipts",
            prefix,
            Duration::from_secs(90),
        )
    }

    #[test]
    fn receipt_key_layout() {
        let s = store("/audit-router-receipts/");
        assert_eq!(
            s.receipt_key("s3://reports/a/b/REPORT.csv").unwrap(),
            "audit-router-receipts/reports/a/b/REPORT.csv.json"
        );
        assert_eq!(
            store("").receipt_key("s3://reports/x.json").unwrap(),
            "reports/x.json.json"
        );
    }

    #[test]
    fn long_keys_are_hashed_within_the_limit_and_stay_distinct() {
        let s = store("audit-router-receipts");
        let long_a = format!("s3://reports/{}a", "é".repeat(600));
        let long_b = format!("s3://reports/{}b", "é".repeat(600));
        let ka = s.receipt_key(&long_a).unwrap();
        let kb = s.receipt_key(&long_b).unwrap();
        assert!(ka.len() <= MAX_KEY_BYTES, "{}", ka.len());
        assert!(ka.len() > MAX_KEY_BYTES - 4, "uses the room it has");
        assert!(ka.ends_with(".json") && ka.contains('~'));
        assert_ne!(ka, kb);
        // Exactly at the limit: kept as is.
        let head = "audit-router-receipts/reports/";
        let exact = "k".repeat(MAX_KEY_BYTES - head.len() - ".json".len());
        let k = s.receipt_key(&format!("s3://reports/{exact}")).unwrap();
        assert_eq!(k.len(), MAX_KEY_BYTES);
        assert!(!k.contains('~'));
    }

    #[test]
    fn non_s3_reports_and_bad_locations_are_named() {
        let s = store("p");
        let err = s.receipt_key("./local/report.csv").unwrap_err();
        assert!(err.to_string().contains("./local/report.csv"), "{err}");
        assert!(s.receipt_key("s3://bucket-only").is_err());
        assert!(s.receipt_key("s3:///key").is_err());
        let client = s.client.clone();
        for bad in ["http://x/y", "s3://", "s3:///prefix"] {
            let err = ReceiptStore::from_uri(client.clone(), bad, Duration::from_secs(1))
                .unwrap_err()
                .to_string();
            assert!(err.contains(bad), "{err}");
        }
        let ok = ReceiptStore::from_uri(client, "s3://b/pre/fix/", Duration::from_secs(1)).unwrap();
        assert_eq!((ok.bucket(), ok.prefix()), ("b", "pre/fix"));
    }

    #[test]
    fn trigger_overlap_is_refused() {
        let s = store("audit-router-receipts");
        // Same bucket, outside the report prefix: fine.
        s.ensure_outside_trigger("receipts", "reports/", "")
            .unwrap();
        // Other bucket: fine whatever the filter.
        s.ensure_outside_trigger("other", "", "").unwrap();
        // Suffix filter that receipts don't match.
        s.ensure_outside_trigger("receipts", "", ".csv").unwrap();
        // Inside: no prefix filter, or a prefix that covers the receipts.
        assert!(s.ensure_outside_trigger("receipts", "", "").is_err());
        assert!(
            s.ensure_outside_trigger("receipts", "audit-", ".json")
                .is_err()
        );
        assert!(
            store("reports/receipts")
                .ensure_outside_trigger("receipts", "reports/", "")
                .is_err()
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn json_shape_round_trips() {
        let mut r = Receipt::new("s3://reports/k.csv", Some("\"abc\""));
        r.claim = Some(ClaimInfo {
            owner: "req-1".into(),
            expires_at: at("2026-11-27T15:04:05.123Z"),
        });
        r.sinks.insert(
            "slack".into(),
            SinkState::Delivered {
                at: at("2026-11-27T15:03:00Z"),
                message_ids: vec!["m1".into()],
                fallbacks: vec![],
            },
        );
        r.sinks.insert(
            "sns".into(),
            SinkState::Failed {
                at: at("2026-11-27T15:03:01Z"),
                error: "throttled".into(),
                retryable: true,
                attempts: 2,
            },
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "version": 1, "report": "s3://reports/k.csv", "report_etag": "\"abc\"",
                "claim": {"owner": "req-1", "expires_at": "2026-11-27T15:04:05.123Z"},
                "routed": null,
                "sinks": {
                    "slack": {"state": "delivered", "at": "2026-11-27T15:03:00.000Z", "message_ids": ["m1"]},
                    "sns": {"state": "failed", "at": "2026-11-27T15:03:01.000Z", "error": "throttled",
                            "retryable": true, "attempts": 2}
                }
            })
        );
        let back: Receipt = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bad_documents_name_the_key_and_the_problem() {
        let s = store("p");
        let err = s.decode("p/r/k.json", b"{\"version\":2}").unwrap_err();
        assert!(matches!(
            err,
            ReceiptError::UnsupportedVersion { found: 2, .. }
        ));
        let err = s
            .decode(
                "p/r/k.json",
                br#"{"version":1,"report":"s3://r/k","report_etag":null,"claim":null,
                    "sinks":{"x":{"state":"delivered","at":"yesterday","message_ids":[]}}}"#,
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s3://receipts/p/r/k.json")
                && err.contains("yesterday")
                && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn pending_completion_and_retry_decisions() {
        let mut r = Receipt::new("s3://r/k", None);
        assert!(!r.is_complete() && r.retry_can_help(), "routing unknown");
        r.routed = Some(vec!["a".into(), "b".into(), "c".into()]);
        let now = Utc::now();
        r.sinks.insert(
            "a".into(),
            SinkState::Delivered {
                at: now,
                message_ids: vec![],
                fallbacks: vec![],
            },
        );
        r.sinks.insert(
            "b".into(),
            SinkState::Failed {
                at: now,
                error: "HTTP 404".into(),
                retryable: false,
                attempts: 1,
            },
        );
        assert_eq!(r.pending(&["a", "b", "c"]), vec!["b", "c"]);
        assert!(!r.is_complete());
        assert!(r.retry_can_help(), "c was never tried");
        r.sinks.insert(
            "c".into(),
            SinkState::Delivered {
                at: now,
                message_ids: vec![],
                fallbacks: vec![],
            },
        );
        assert!(!r.retry_can_help(), "only a permanent failure is left");
        assert!(!r.is_complete());
        r.routed = Some(vec![]);
        assert!(r.is_complete() && !r.retry_can_help(), "routed nowhere");
    }
}
