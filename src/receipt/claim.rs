//! The claim protocol over the store's conditional writes (see the module docs of
//! [`crate::receipt`]): claim → record each sink's outcome → release, every write conditional
//! on the previous one's ETag, so of two invocations on one report exactly one sends.

use chrono::{DateTime, Utc};

use super::ReceiptError;
use super::document::{ClaimInfo, Receipt, SinkOutcome, SinkState};
use super::store::{Precondition, ReceiptStore};
use crate::location::ReportLocation;

/// How often [`ReceiptStore::claim`] re-reads after losing a conditional-write race before it gives
/// up. Each lost race means another invocation wrote in between; after a re-read that one's claim
/// is live and we answer `Busy`, so more than two rounds only happen under heavy churn.
const CLAIM_ROUNDS: usize = 5;

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

impl ReceiptStore {
    /// Claims the receipt of `report` for `owner` (see [`Claim`]). `report_etag` is the report
    /// object's current ETag: a receipt recorded for other content of the same key is started
    /// afresh (a re-written report is a new report); with `None` it is not compared.
    pub async fn claim(
        &self,
        report: &ReportLocation,
        report_etag: Option<&str>,
        owner: &str,
    ) -> Result<Claim, ReceiptError> {
        let key = self.key_for(report)?;
        let report_uri = report.to_string();
        let report_uri = report_uri.as_str();
        for _ in 0..CLAIM_ROUNDS {
            let now = Utc::now();
            let (mut receipt, read_etag, taken_over_from) =
                match self.read(&key, report_uri).await? {
                    None => (Receipt::new(report_uri, report_etag), None, None),
                    Some((receipt, etag)) => {
                        match take_existing(receipt, report_uri, report_etag, owner, now) {
                            Existing::Answer(claim) => return Ok(claim),
                            Existing::Take {
                                receipt,
                                taken_over_from,
                            } => (receipt, Some(etag), taken_over_from),
                        }
                    }
                };
            receipt.claim = Some(ClaimInfo {
                owner: owner.to_owned(),
                expires_at: now + self.lease_delta(),
            });
            let precondition = match &read_etag {
                None => Precondition::Absent,
                Some(etag) => Precondition::Matches(etag),
            };
            match self.write(&key, &receipt, precondition).await? {
                Some(etag) => {
                    return Ok(Claim::Acquired(HeldClaim {
                        key,
                        etag,
                        receipt,
                        taken_over_from,
                    }));
                }
                // A duplicate created it first, or another invocation wrote in between: re-read.
                None => continue,
            }
        }
        Err(ReceiptError::Contended {
            bucket: self.bucket().to_owned(),
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
                bucket: self.bucket().to_owned(),
                key: held.key.clone(),
                etag: held.etag.clone(),
            }),
        }
    }

    fn lease_delta(&self) -> chrono::TimeDelta {
        // A lease beyond chrono's range (~292 million years) is clamped; it means "never expires".
        chrono::TimeDelta::from_std(self.lease).unwrap_or(chrono::TimeDelta::MAX / 2)
    }
}

/// What [`ReceiptStore::claim`] does with a receipt it read.
enum Existing {
    /// Nothing to claim: done already, or another owner's claim is live.
    Answer(Claim),
    /// Claim it: `receipt` (started afresh when the report's content changed) is to be written
    /// with our claim, conditional on the ETag it was read with.
    Take {
        receipt: Receipt,
        taken_over_from: Option<String>,
    },
}

/// Decides on a receipt `claim` read for `report_uri` (whose object now has `report_etag`):
/// a receipt recorded for other content of the key is started afresh, a complete one is
/// [`Claim::AlreadyDone`], another owner's live claim is [`Claim::Busy`], else it is taken
/// (over an expired claim, whose owner is kept for the log).
fn take_existing(
    mut receipt: Receipt,
    report_uri: &str,
    report_etag: Option<&str>,
    owner: &str,
    now: DateTime<Utc>,
) -> Existing {
    let new_content = match (report_etag, receipt.report_etag.as_deref()) {
        (Some(now_etag), Some(then_etag)) => now_etag != then_etag,
        _ => false,
    };
    if !new_content && receipt.is_complete() {
        return Existing::Answer(Claim::AlreadyDone { receipt });
    }
    if let Some(live) = receipt.live_claim(now)
        && live.owner != owner
    {
        return Existing::Answer(Claim::Busy {
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
    Existing::Take {
        receipt,
        taken_over_from,
    }
}
