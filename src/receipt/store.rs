//! Where receipts live: `s3://<bucket>/<prefix>/<report bucket>/<report key>.json`, read and
//! written with S3 conditional requests (`If-None-Match: *` to create, `If-Match: <etag>` to
//! update). The store names its own objects (keys, URIs) and refuses a location inside the
//! function's trigger.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use sha2::Digest as _;

use super::ReceiptError;
use super::document::{self, Receipt};
use crate::location::{ReportLocation, S3Prefix};
use crate::s3_error::{GetWholeError, S3Error, S3ErrorKind, get_whole};

/// S3's limit on an object key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Receipts under `s3://<bucket>/<prefix>/`.
#[derive(Clone, Debug)]
pub struct ReceiptStore {
    client: Client,
    at: S3Prefix,
    pub(super) lease: Duration,
}

/// The condition of a write.
#[derive(Clone, Copy)]
pub(super) enum Precondition<'a> {
    /// `If-None-Match: *`
    Absent,
    /// `If-Match: <etag>`
    Matches(&'a str),
}

impl ReceiptStore {
    /// `prefix` may be empty; leading and trailing `/` are ignored.
    pub fn new(
        client: Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        lease: Duration,
    ) -> Self {
        ReceiptStore {
            client,
            at: S3Prefix::new(bucket, &prefix.into()),
            lease,
        }
    }

    /// From `s3://bucket/prefix` (the `AUDIT_ROUTER_RECEIPTS` / `--receipts` value).
    pub fn from_uri(client: Client, uri: &str, lease: Duration) -> Result<Self, ReceiptError> {
        // Leave room for the report bucket (<= 63 bytes) and a hashed report key.
        let at = S3Prefix::parse(uri, MAX_KEY_BYTES / 2).map_err(|reason| {
            ReceiptError::InvalidLocation {
                uri: uri.to_owned(),
                reason,
            }
        })?;
        Ok(ReceiptStore { client, at, lease })
    }

    pub fn bucket(&self) -> &str {
        &self.at.bucket
    }

    pub fn prefix(&self) -> &str {
        &self.at.prefix
    }

    /// `s3://bucket/prefix/`, as `--receipts` takes it.
    pub fn uri(&self) -> String {
        self.at.uri()
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
        if self
            .at
            .inside_trigger(trigger_bucket, trigger_prefix, trigger_suffix, ".json")
        {
            return Err(ReceiptError::InsideTrigger {
                bucket: self.at.bucket.clone(),
                prefix: self.at.root(),
                trigger_prefix: trigger_prefix.to_owned(),
                trigger_suffix: trigger_suffix.to_owned(),
            });
        }
        Ok(())
    }

    /// Whether `location` is one of this store's own objects (a trigger that overlaps the
    /// receipts prefix hands them to the function).
    pub fn holds(&self, location: &ReportLocation) -> bool {
        self.at.holds(location)
    }

    /// The receipt key of a report: `<prefix>/<bucket>/<key>.json`. Longer than S3's 1024-byte
    /// limit, the key's tail is replaced by `~<sha256 of the whole key>` so distinct reports
    /// keep distinct receipts. Receipts are for S3 reports only.
    pub fn key_for(&self, report: &ReportLocation) -> Result<String, ReceiptError> {
        let ReportLocation::S3 { bucket, key } = report else {
            return Err(ReceiptError::NotS3Report {
                report: report.to_string(),
            });
        };
        let head = format!("{}{bucket}/", self.at.root());
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

    /// `s3://<bucket>/<receipt key>` of a report's receipt.
    pub fn uri_for(&self, report: &ReportLocation) -> Result<String, ReceiptError> {
        Ok(format!("s3://{}/{}", self.at.bucket, self.key_for(report)?))
    }

    fn read_error(&self, key: &str, detail: String, permanent: bool) -> ReceiptError {
        ReceiptError::Read {
            bucket: self.at.bucket.clone(),
            key: key.to_owned(),
            detail,
            permanent,
        }
    }

    fn s3_error(&self, key: &str, e: &S3Error, write: bool) -> ReceiptError {
        let detail = format!("{}{}", e.detail, e.hint(&self.at.bucket, key));
        let permanent = !e.is_transient();
        if write {
            ReceiptError::Write {
                bucket: self.at.bucket.clone(),
                key: key.to_owned(),
                detail,
                permanent,
            }
        } else {
            self.read_error(key, detail, permanent)
        }
    }

    /// The receipt at `key` and its ETag; `None` when there is none yet. The stored receipt
    /// must be `report`'s (two reports whose receipt keys collide are refused).
    pub(super) async fn read(
        &self,
        key: &str,
        report: &str,
    ) -> Result<Option<(Receipt, String)>, ReceiptError> {
        let whole = match get_whole(&self.client, &self.at.bucket, key).await {
            Ok(Some(whole)) => whole,
            Ok(None) => return Ok(None),
            Err(GetWholeError::S3(e)) => return Err(self.s3_error(key, &e, false)),
            Err(GetWholeError::Body(detail)) => return Err(self.read_error(key, detail, false)),
        };
        let etag = whole.etag.ok_or_else(|| {
            self.read_error(
                key,
                "S3 returned the receipt without an ETag; conditional updates need it".into(),
                true,
            )
        })?;
        let body = whole.bytes;
        let receipt = document::decode(&self.at.bucket, key, &body)?;
        if receipt.report != report {
            return Err(ReceiptError::WrongReport {
                bucket: self.at.bucket.clone(),
                key: key.to_owned(),
                expected: report.to_owned(),
                found: receipt.report,
            });
        }
        Ok(Some((receipt, etag)))
    }

    /// Writes conditionally: `Ok(Some(etag))` on success, `Ok(None)` when the precondition
    /// failed (another writer won), `Err` for anything else.
    pub(super) async fn write(
        &self,
        key: &str,
        receipt: &Receipt,
        precondition: Precondition<'_>,
    ) -> Result<Option<String>, ReceiptError> {
        let body = serde_json::to_vec_pretty(receipt).map_err(|e| ReceiptError::Write {
            bucket: self.at.bucket.clone(),
            key: key.to_owned(),
            detail: format!("cannot encode the receipt: {e}"),
            permanent: true,
        })?;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.at.bucket)
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
                        bucket: self.at.bucket.clone(),
                        key: key.to_owned(),
                    })
            }
            Err(err) => {
                let e = S3Error::from_sdk("PutObject", &err);
                match e.kind {
                    S3ErrorKind::LostRace => Ok(None),
                    // If-Match on an object that vanished (deleted by hand mid-run): also a lost
                    // claim.
                    S3ErrorKind::NoSuchKey if matches!(precondition, Precondition::Matches(_)) => {
                        Ok(None)
                    }
                    _ => Err(self.s3_error(key, &e, true)),
                }
            }
        }
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

    fn s3(uri: &str) -> ReportLocation {
        ReportLocation::parse(uri).unwrap()
    }

    #[test]
    fn receipt_key_layout() {
        let s = store("/audit-router-receipts/");
        assert_eq!(
            s.key_for(&s3("s3://reports/a/b/REPORT.csv")).unwrap(),
            "audit-router-receipts/reports/a/b/REPORT.csv.json"
        );
        assert_eq!(
            s.uri_for(&s3("s3://reports/a/b/REPORT.csv")).unwrap(),
            "s3://receipts/audit-router-receipts/reports/a/b/REPORT.csv.json"
        );
        assert_eq!(
            store("").key_for(&s3("s3://reports/x.json")).unwrap(),
            "reports/x.json.json"
        );
        assert_eq!(s.uri(), "s3://receipts/audit-router-receipts/");
        assert_eq!(store("").uri(), "s3://receipts/");
    }

    #[test]
    fn long_keys_are_hashed_within_the_limit_and_stay_distinct() {
        let s = store("audit-router-receipts");
        let long_a = s3(&format!("s3://reports/{}a", "é".repeat(600)));
        let long_b = s3(&format!("s3://reports/{}b", "é".repeat(600)));
        let ka = s.key_for(&long_a).unwrap();
        let kb = s.key_for(&long_b).unwrap();
        assert!(ka.len() <= MAX_KEY_BYTES, "{}", ka.len());
        assert!(ka.len() > MAX_KEY_BYTES - 4, "uses the room it has");
        assert!(ka.ends_with(".json") && ka.contains('~'));
        assert_ne!(ka, kb);
        // Exactly at the limit: kept as is.
        let head = "audit-router-receipts/reports/";
        let exact = "k".repeat(MAX_KEY_BYTES - head.len() - ".json".len());
        let k = s.key_for(&s3(&format!("s3://reports/{exact}"))).unwrap();
        assert_eq!(k.len(), MAX_KEY_BYTES);
        assert!(!k.contains('~'));
    }

    #[test]
    fn non_s3_reports_and_bad_locations_are_named() {
        let s = store("p");
        let err = s
            .key_for(&ReportLocation::Local("./local/report.csv".into()))
            .unwrap_err();
        assert!(err.to_string().contains("./local/report.csv"), "{err}");
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
    fn trigger_overlap_is_refused_and_own_objects_are_known() {
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
        assert!(s.holds(&s3("s3://receipts/audit-router-receipts/r/k.json.json")));
        assert!(!s.holds(&s3("s3://receipts/reports/k.json")));
        assert!(!s.holds(&s3("s3://other/audit-router-receipts/k")));
        assert!(store("").holds(&s3("s3://receipts/anything")));
    }
}
