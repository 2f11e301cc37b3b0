//! The receipt document (format version [`RECEIPT_VERSION`]): per sink, delivered (when,
//! message ids) or failed (why, whether a retry can help, attempts), the routed sinks, the
//! claim. Its JSON shape is an interface (operators read receipts; `send --format json` prints
//! them): fields are added, never renamed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ReceiptError;

/// The receipt format this build writes and reads.
pub const RECEIPT_VERSION: u32 = 1;

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

/// What a delivery attempt reports to [`ReceiptStore::record`](super::ReceiptStore::record).
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
    pub(super) fn new(report: &str, report_etag: Option<&str>) -> Self {
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

/// Reads a stored receipt (`bucket`/`key` name it in errors): the version first, so a newer
/// format is refused as such rather than as a malformed document.
pub(super) fn decode(bucket: &str, key: &str, body: &[u8]) -> Result<Receipt, ReceiptError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u64,
    }
    let corrupt = |source| ReceiptError::Corrupt {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source,
    };
    let version = serde_json::from_slice::<VersionOnly>(body)
        .map_err(corrupt)?
        .version;
    if version != u64::from(RECEIPT_VERSION) {
        return Err(ReceiptError::UnsupportedVersion {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            found: version,
        });
    }
    serde_json::from_slice(body).map_err(corrupt)
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
        let err = decode("receipts", "p/r/k.json", b"{\"version\":2}").unwrap_err();
        assert!(matches!(
            err,
            ReceiptError::UnsupportedVersion { found: 2, .. }
        ));
        let err = decode(
            "receipts",
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
