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

use audit_router_sink_api::aws_error;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use tokio_util::io::SyncIoBridge;

use crate::location::ReportLocation;

/// Where S3 is, from the environment (or the CLI). Everything else (credentials, retries,
/// profiles) comes from the standard AWS configuration chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// A custom endpoint (moto, MinIO, LocalStack); path-style addressing is used with it.
    pub endpoint_url: Option<String>,
    /// Overrides the region from the AWS configuration chain.
    pub region: Option<String>,
}

impl S3Settings {
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (both ignored when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, as the AWS SDKs do); `AWS_REGION`, else
    /// `AWS_DEFAULT_REGION`. Empty values count as unset.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`S3Settings::from_env`] over any variable lookup.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let ignore_endpoints = var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let endpoint_url = if ignore_endpoints {
            None
        } else {
            var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"))
        };
        S3Settings {
            endpoint_url,
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
        }
    }
}

/// An S3 client configured from the environment ([`S3Settings::from_env`]).
///
/// aws-config 1.x reads `AWS_ENDPOINT_URL` itself, but it does not switch S3 to path-style
/// addressing, which moto and most S3-compatible servers on `localhost` need; hence the explicit
/// settings.
pub async fn s3_client() -> aws_sdk_s3::Client {
    s3_client_with(&S3Settings::from_env()).await
}

/// An S3 client for explicit settings (the standard chain supplies credentials and the rest).
pub async fn s3_client_with(settings: &S3Settings) -> aws_sdk_s3::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    s3_client_from_config(&loader.load().await)
}

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
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("size", &self.size)
            .field("etag", &self.etag)
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
    #[error("{location}: access denied: {message}")]
    AccessDenied {
        location: ReportLocation,
        message: String,
    },
    /// Any other error answer from S3.
    #[error("{location}: S3 error {code}: {message}")]
    S3 {
        location: ReportLocation,
        code: String,
        message: String,
    },
    /// No answer from S3: DNS, connection, timeout, TLS, credentials lookup, an unreadable
    /// response.
    #[error("{location}: cannot get the object from S3: {cause}")]
    Transport {
        location: ReportLocation,
        cause: String,
    },
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

/// Opens a report. For S3, uses `s3` or, when `None`, a client from [`s3_client`].
///
/// Must be called inside a tokio runtime (the S3 reader keeps its handle); see the module docs
/// for where to read the returned stream.
pub async fn open(
    loc: &ReportLocation,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<Opened, FetchError> {
    match loc {
        ReportLocation::Local(path) => open_local(path).await,
        ReportLocation::S3 { bucket, key } => {
            let owned;
            let client = match s3 {
                Some(client) => client,
                None => {
                    owned = s3_client().await;
                    &owned
                }
            };
            open_s3(client, loc, bucket, key).await
        }
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
    Ok(Opened {
        reader: Box::new(file.into_std().await),
        size: Some(meta.len()),
        etag: None,
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
        .map_err(|e| classify(loc, bucket, e))?;
    let size = out.content_length().and_then(|n| u64::try_from(n).ok());
    let etag = out.e_tag().map(str::to_owned);
    let reader = SyncIoBridge::new(Box::pin(out.body.into_async_read()));
    Ok(Opened {
        reader: Box::new(reader),
        size,
        etag,
    })
}

fn classify(
    loc: &ReportLocation,
    bucket: &str,
    err: SdkError<GetObjectError, aws_sdk_s3::config::http::HttpResponse>,
) -> FetchError {
    let location = loc.clone();
    let SdkError::ServiceError(ctx) = &err else {
        return FetchError::Transport {
            location,
            cause: aws_error::parts(&err).detail(),
        };
    };
    let service = ctx.err();
    let status = ctx.raw().status().as_u16();
    let code = service.code().unwrap_or_default();
    let message = service
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"));
    if service.is_no_such_key() || code == "NoSuchKey" {
        FetchError::NoSuchKey { location }
    } else if code == "NoSuchBucket" {
        FetchError::NoSuchBucket {
            location,
            bucket: bucket.to_owned(),
        }
    } else if code == "AccessDenied" || status == 403 {
        FetchError::AccessDenied { location, message }
    } else {
        let code = if code.is_empty() {
            format!("HTTP {status}")
        } else {
            code.to_owned()
        };
        FetchError::S3 {
            location,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn settings(vars: &[(&str, &str)]) -> S3Settings {
        S3Settings::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn settings_from_vars() {
        assert_eq!(settings(&[]), S3Settings::default());
        let s = settings(&[
            ("AWS_ENDPOINT_URL", "http://generic"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        assert_eq!(s.endpoint_url.as_deref(), Some("http://generic"));
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        let s = settings(&[
            ("AWS_ENDPOINT_URL", "http://generic"),
            ("AWS_ENDPOINT_URL_S3", "http://s3-only"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        assert_eq!(s.endpoint_url.as_deref(), Some("http://s3-only"));
        assert_eq!(s.region.as_deref(), Some("us-east-2"));
        let s = settings(&[
            ("AWS_ENDPOINT_URL", "http://generic"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
            ("AWS_REGION", " "),
        ]);
        assert_eq!(s, S3Settings::default());
    }

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
