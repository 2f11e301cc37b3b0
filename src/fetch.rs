//! Opens a [`ReportLocation`] as a synchronous byte stream for the (sync, streaming) report
//! readers.
//!
//! An S3 object is never buffered: its body streams from the HTTP response through a
//! [`SyncIoBridge`]. The bridge blocks on the tokio runtime that was current when [`open`] was
//! called, so **read [`Opened::reader`] on a blocking thread** (`tokio::task::spawn_blocking`,
//! or a plain thread holding nothing async); reading it on a runtime worker thread panics
//! ("Cannot block the current thread from within a runtime"). Bytes are returned exactly as
//! stored: a gzip object stays gzip (the report reader detects and decompresses it).

use std::io::Read;
use std::path::PathBuf;

use aws_config::SdkConfig;
use tokio_util::io::SyncIoBridge;

use crate::location::ReportLocation;
use crate::s3_error::{S3Error, S3ErrorKind};

/// An S3 client from a loaded SDK config; path-style addressing when the config has an
/// endpoint URL (a local S3 look-alike has no per-bucket DNS names).
pub fn s3_client_from_config(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// An opened report: its bytes as a sync stream, plus what the store told about it.
pub struct Opened {
    /// The raw bytes. For S3, read it on a blocking thread (see the module docs).
    pub reader: Box<dyn Read + Send>,
    /// Size in bytes, when known (S3 `Content-Length`, local file metadata).
    pub size: Option<u64>,
    /// The S3 ETag (quoted, as S3 returns it); `None` for local files.
    pub etag: Option<String>,
    /// When the object (or file) was last written: a report's time in its stream when its key
    /// says nothing of it (`crate::state::stream`).
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("size", &self.size)
            .field("etag", &self.etag)
            .field("last_modified", &self.last_modified)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{location}: no such object")]
    NoSuchKey { location: ReportLocation },
    #[error("{location}: no such bucket {bucket:?}")]
    NoSuchBucket {
        location: ReportLocation,
        bucket: String,
    },
    /// `message` says which permission the role needs on the object.
    #[error("{location}: access denied: {message}")]
    AccessDenied {
        location: ReportLocation,
        message: String,
    },
    /// Any other answer of S3, or none ([`crate::s3_error`]).
    #[error("{location}: cannot get the object from S3: {}", .error.detail)]
    S3 {
        location: ReportLocation,
        error: S3Error,
    },
    /// An S3 report, and no S3 client in this process (a bug of the caller).
    #[error("{location}: an S3 report, but this run has no S3 client")]
    NoClient { location: ReportLocation },
    #[error("{}: no such file", path.display())]
    LocalNotFound { path: PathBuf },
    #[error("{}: is a directory, expected a report file", path.display())]
    LocalIsDirectory { path: PathBuf },
    #[error("{}: cannot open: {source}", path.display())]
    Local {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// Whether opening the report again later can work (S3 throttling, 5xx, no answer), as
    /// opposed to a missing object, bucket or permission, or a local file problem.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::S3 { error, .. } if error.is_transient())
    }
}

/// Opens a report; an S3 report needs `s3` (the process's client).
///
/// Must be called inside a tokio runtime (the S3 reader keeps its handle); see the module docs
/// for where to read the returned stream.
pub async fn open(
    loc: &ReportLocation,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<Opened, FetchError> {
    match loc {
        ReportLocation::Local(path) => open_local(path).await,
        ReportLocation::S3 { bucket, key } => match s3 {
            Some(client) => open_s3(client, loc, bucket, key).await,
            None => Err(FetchError::NoClient {
                location: loc.clone(),
            }),
        },
    }
}

async fn open_local(path: &std::path::Path) -> Result<Opened, FetchError> {
    let local_err = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            FetchError::LocalNotFound {
                path: path.to_owned(),
            }
        } else {
            FetchError::Local {
                path: path.to_owned(),
                source,
            }
        }
    };
    let file = tokio::fs::File::open(path).await.map_err(local_err)?;
    let meta = file.metadata().await.map_err(local_err)?;
    if meta.is_dir() {
        return Err(FetchError::LocalIsDirectory {
            path: path.to_owned(),
        });
    }
    let last_modified = meta
        .modified()
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from);
    Ok(Opened {
        reader: Box::new(file.into_std().await),
        size: Some(meta.len()),
        etag: None,
        last_modified,
    })
}

async fn open_s3(
    client: &aws_sdk_s3::Client,
    loc: &ReportLocation,
    bucket: &str,
    key: &str,
) -> Result<Opened, FetchError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| classify(loc, bucket, key, e))?;
    let size = out.content_length().and_then(|n| u64::try_from(n).ok());
    let etag = out.e_tag().map(str::to_owned);
    let last_modified = out
        .last_modified()
        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
    let reader = SyncIoBridge::new(Box::pin(out.body.into_async_read()));
    Ok(Opened {
        reader: Box::new(reader),
        size,
        etag,
        last_modified,
    })
}

fn classify(
    loc: &ReportLocation,
    bucket: &str,
    key: &str,
    err: aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::get_object::GetObjectError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
) -> FetchError {
    let location = loc.clone();
    let error = S3Error::from_sdk("GetObject", &err);
    match error.kind {
        S3ErrorKind::NoSuchKey => FetchError::NoSuchKey { location },
        S3ErrorKind::NoSuchBucket => FetchError::NoSuchBucket {
            location,
            bucket: bucket.to_owned(),
        },
        S3ErrorKind::AccessDenied => FetchError::AccessDenied {
            message: format!("{}{}", error.detail, error.hint(bucket, key)),
            location,
        },
        _ => FetchError::S3 { location, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn local_file_is_read_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("REPORT x:y.csv.gz");
        let bytes = b"\x1f\x8b\x08binary\x00\xffdata";
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        let mut opened = open(&ReportLocation::Local(path), None).await.unwrap();
        assert_eq!(opened.size, Some(bytes.len() as u64));
        assert_eq!(opened.etag, None);
        let mut got = Vec::new();
        opened.reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, bytes);
    }

    #[tokio::test]
    async fn missing_local_file_names_the_path() {
        let loc = ReportLocation::Local("no/such dir/report.json".into());
        let err = open(&loc, None).await.unwrap_err();
        assert!(matches!(err, FetchError::LocalNotFound { .. }), "{err:?}");
        assert_eq!(err.to_string(), "no/such dir/report.json: no such file");
    }

    #[tokio::test]
    async fn directory_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(&ReportLocation::Local(dir.path().into()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::LocalIsDirectory { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
