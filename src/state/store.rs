//! Where state documents live: `s3://<bucket>/<prefix>/<report bucket>/<stream key>/<time>_<id>.json.gz`
//! — one object per report, named by the report's time in its stream (`20261126T000000Z`) so
//! that listing the stream's folder gives them in order, and a short hash of the report's key
//! (two reports of one stream with the same time keep two documents). Written once, with
//! `If-None-Match: *`; read with GetObject and ListObjectsV2 on the stream's folder only.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use sha2::Digest as _;

use super::stream::{ReportTime, Stream};
use crate::location::{ReportLocation, S3Prefix};
use crate::receipt::{MAX_KEY_BYTES, ReceiptStore};
use crate::s3_error::{GetWholeError, S3Error, S3ErrorKind, get_whole};

/// The folder under the receipts prefix that holds the state when `AUDIT_ROUTER_STATE` /
/// `--state` is not given.
pub const BESIDE_RECEIPTS: &str = "state";

/// State documents under `s3://<bucket>/<prefix>/`.
#[derive(Clone, Debug)]
pub struct StateStore {
    client: Client,
    at: S3Prefix,
}

/// An S3 call on the state failed (or the location is unusable).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid state location {uri:?}: {reason} (expected s3://bucket/prefix)")]
    InvalidLocation { uri: String, reason: String },
    #[error("{}", .error.describe(.bucket, .key))]
    S3 {
        bucket: String,
        key: String,
        error: S3Error,
    },
    #[error("reading state s3://{bucket}/{key}: {detail}")]
    Body {
        bucket: String,
        key: String,
        detail: String,
    },
    #[error(
        "state prefix s3://{bucket}/{prefix} lies inside the trigger filter (prefix \
         {trigger_prefix:?}, suffix {trigger_suffix:?}): writing a state document would trigger \
         the function again; choose a prefix outside it"
    )]
    InsideTrigger {
        bucket: String,
        prefix: String,
        trigger_prefix: String,
        trigger_suffix: String,
    },
}

impl StoreError {
    /// Whether trying again later can succeed (throttling, 5xx, no answer, a body cut short).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::S3 { error, .. } => error.is_transient(),
            StoreError::Body { .. } => true,
            _ => false,
        }
    }
}

/// The previous state a report is compared with.
#[derive(Debug)]
pub struct Previous {
    /// `s3://…` of the previous document, and its bytes.
    pub found: Option<(String, Vec<u8>)>,
    /// This report's own document exists already (a retry, a duplicate, a replay): it is not
    /// written again, and `found` is the state it was compared with then.
    pub own_exists: bool,
}

impl StateStore {
    /// `prefix` may be empty; leading and trailing `/` are ignored.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: &str) -> Self {
        StateStore {
            client,
            at: S3Prefix::new(bucket, prefix),
        }
    }

    /// From `s3://bucket/prefix` (`AUDIT_ROUTER_STATE`, `--state`).
    pub fn from_uri(client: Client, uri: &str) -> Result<Self, StoreError> {
        let at = S3Prefix::parse(uri, MAX_KEY_BYTES / 4).map_err(|reason| {
            StoreError::InvalidLocation {
                uri: uri.to_owned(),
                reason,
            }
        })?;
        Ok(StateStore { client, at })
    }

    /// The default: a `state/` folder in the receipts location.
    pub fn beside(receipts: &ReceiptStore, client: Client) -> Self {
        let prefix = match receipts.prefix() {
            "" => BESIDE_RECEIPTS.to_owned(),
            p => format!("{p}/{BESIDE_RECEIPTS}"),
        };
        StateStore::new(client, receipts.bucket(), &prefix)
    }

    pub fn bucket(&self) -> &str {
        &self.at.bucket
    }

    /// `s3://bucket/prefix/`.
    pub fn uri(&self) -> String {
        self.at.uri()
    }

    fn root(&self) -> String {
        self.at.root()
    }

    /// Whether `location` is one of this store's objects (a trigger that overlaps the state
    /// prefix hands them to the function).
    pub fn holds(&self, location: &ReportLocation) -> bool {
        self.at.holds(location)
    }

    /// Fails when state documents would land inside the trigger's filter (same bucket, key
    /// under `trigger_prefix` and ending in `trigger_suffix`).
    pub fn ensure_outside_trigger(
        &self,
        trigger_bucket: &str,
        trigger_prefix: &str,
        trigger_suffix: &str,
    ) -> Result<(), StoreError> {
        if self
            .at
            .inside_trigger(trigger_bucket, trigger_prefix, trigger_suffix, ".json.gz")
        {
            return Err(StoreError::InsideTrigger {
                bucket: self.at.bucket.clone(),
                prefix: self.root(),
                trigger_prefix: trigger_prefix.to_owned(),
                trigger_suffix: trigger_suffix.to_owned(),
            });
        }
        Ok(())
    }

    /// The folder of a stream's documents: `<prefix>/<bucket>/<stream key>/`; a stream key too
    /// long for S3's key limit is replaced by `~<sha256>`.
    pub fn folder(&self, stream: &Stream) -> String {
        let head = format!("{}{}/", self.root(), stream.bucket);
        // Room for `/<time>_<id>.json.gz` (41 bytes).
        if head.len() + stream.key.len() + 48 <= MAX_KEY_BYTES {
            format!("{head}{}/", stream.key)
        } else {
            format!(
                "{head}~{}/",
                hex(&sha2::Sha256::digest(stream.key.as_bytes()))
            )
        }
    }

    /// The key of the document of the report at `report_key`, at `time` in `stream`.
    pub fn key_for(&self, stream: &Stream, time: &ReportTime, report_key: &str) -> String {
        let id = &hex(&sha2::Sha256::digest(report_key.as_bytes()))[..12];
        format!("{}{}_{id}.json.gz", self.folder(stream), time.compact())
    }

    /// `s3://bucket/key` of a key of this store.
    pub fn uri_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.at.bucket)
    }

    /// The state the report whose document is `own_key` is compared with: the one its own
    /// document (written by an earlier run) names, else the latest document of the stream
    /// strictly before it in time.
    pub async fn previous(&self, stream: &Stream, own_key: &str) -> Result<Previous, StoreError> {
        if let Some(own) = self.get(own_key).await? {
            let named = super::document::Reader::open(&self.uri_of(own_key), own)
                .ok()
                .and_then(|r| r.header.previous)
                .and_then(|p| {
                    p.state
                        .strip_prefix(&format!("s3://{}/", self.at.bucket))
                        .map(str::to_owned)
                });
            let found = match named {
                Some(key) => self.get(&key).await?.map(|b| (self.uri_of(&key), b)),
                None => None,
            };
            return Ok(Previous {
                found,
                own_exists: true,
            });
        }
        let folder = self.folder(stream);
        let own_time = own_key
            .strip_prefix(&folder)
            .and_then(|n| n.split('_').next())
            .unwrap_or("");
        let mut latest: Option<String> = None;
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.at.bucket)
                .prefix(&folder)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|err| self.s3_error(&folder, S3Error::from_sdk("ListObjectsV2", &err)))?;
            for o in out.contents() {
                let Some(key) = o.key() else { continue };
                let Some(name) = key.strip_prefix(&folder) else {
                    continue;
                };
                let time = name.split('_').next().unwrap_or("");
                // Documents of this store only, strictly earlier; names sort as times do.
                if name.ends_with(".json.gz") && !name.contains('/') && time < own_time {
                    latest = Some(key.to_owned());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        let found = match latest {
            Some(key) => self.get(&key).await?.map(|b| (self.uri_of(&key), b)),
            None => None,
        };
        Ok(Previous {
            found,
            own_exists: false,
        })
    }

    fn s3_error(&self, key: &str, error: S3Error) -> StoreError {
        StoreError::S3 {
            bucket: self.at.bucket.clone(),
            key: key.to_owned(),
            error,
        }
    }

    /// The object at `key`; `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match get_whole(&self.client, &self.at.bucket, key).await {
            Ok(found) => Ok(found.map(|w| w.bytes)),
            Err(GetWholeError::S3(e)) => Err(self.s3_error(key, e)),
            Err(GetWholeError::Body(detail)) => Err(StoreError::Body {
                bucket: self.at.bucket.clone(),
                key: key.to_owned(),
                detail,
            }),
        }
    }

    /// Writes `bytes` at `key` unless an object is there: `true` when this call wrote it,
    /// `false` when another run had (its document stands: written once).
    pub async fn put_once(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.at.bucket)
            .key(key)
            .content_type("application/json")
            .content_encoding("gzip")
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(err) => {
                let e = S3Error::from_sdk("PutObject", &err);
                match e.kind {
                    S3ErrorKind::LostRace => Ok(false),
                    _ => Err(self.s3_error(key, e)),
                }
            }
        }
    }
}

/// The state store of a CLI run: `--state URI` (`off`: none), else beside `--receipts`, else
/// none. A URI needs the process's S3 client.
pub fn cli_store(
    arg: Option<&str>,
    receipts: Option<&ReceiptStore>,
    s3: Option<&Client>,
) -> Result<Option<StateStore>, StoreError> {
    match (arg.map(str::trim), s3) {
        (Some("off"), _) | (None, None) => Ok(None),
        (Some(uri), None) => Err(StoreError::InvalidLocation {
            uri: uri.to_owned(),
            reason: "no S3 client in this run".into(),
        }),
        (Some(uri), Some(s3)) => StateStore::from_uri(s3.clone(), uri).map(Some),
        (None, Some(s3)) => Ok(receipts.map(|r| StateStore::beside(r, s3.clone()))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::stream::{report_time, stream_of};

    fn store(prefix: &str) -> StateStore {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        StateStore::new(Client::from_conf(conf), "receipts", prefix)
    }

    #[test]
    fn keys_sort_by_time_and_name_the_stream() {
        let s = store("/audit-router/state/");
        let loc = ReportLocation::parse(
            "s3://reports/Backup/111111111111/us-east-1/2026/11/26/p/BACKUP_JOB_REPORT_p_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.csv",
        )
        .unwrap();
        let stream = stream_of(&loc).unwrap();
        let key = s.key_for(&stream, &report_time(&loc, None).unwrap(), "k");
        assert!(
            key.starts_with(
                "audit-router/state/reports/Backup/111111111111/us-east-1/p/BACKUP_JOB_REPORT_p.csv/20261126T000000Z_"
            ),
            "{key}"
        );
        assert!(key.ends_with(".json.gz"));
        assert!(s.holds(&ReportLocation::parse(&s.uri_of(&key)).unwrap()));
        assert!(!s.holds(&loc));
        // Too long a stream key: hashed, within S3's limit.
        let long = Stream {
            bucket: "reports".into(),
            key: "k/".repeat(600),
        };
        let t = report_time(&loc, None).unwrap();
        let k = s.key_for(&long, &t, "x");
        assert!(k.len() <= MAX_KEY_BYTES && k.contains("/~"), "{k}");
    }

    #[test]
    fn beside_the_receipts_and_outside_the_trigger() {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        let client = Client::from_conf(conf);
        let r = ReceiptStore::new(
            client.clone(),
            "b",
            "receipts",
            std::time::Duration::from_secs(9),
        );
        assert_eq!(
            StateStore::beside(&r, client.clone()).uri(),
            "s3://b/receipts/state/"
        );
        let r = ReceiptStore::new(client.clone(), "b", "", std::time::Duration::from_secs(9));
        assert_eq!(
            StateStore::beside(&r, client.clone()).uri(),
            "s3://b/state/"
        );
        let s = store("receipts/state");
        s.ensure_outside_trigger("receipts", "reports/", "")
            .unwrap();
        s.ensure_outside_trigger("receipts", "", ".csv").unwrap();
        assert!(s.ensure_outside_trigger("receipts", "", "").is_err());
        assert!(
            s.ensure_outside_trigger("receipts", "receipts/", ".gz")
                .is_err()
        );
        for bad in ["http://x", "s3://", "s3:///p"] {
            assert!(StateStore::from_uri(client.clone(), bad).is_err(), "{bad}");
        }
    }
}
