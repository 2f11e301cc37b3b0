//! Where a report is: a local file or an S3 object.

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReportLocation {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("invalid S3 URI {uri:?}: {reason}")]
    InvalidS3Uri { uri: String, reason: &'static str },
}

impl ReportLocation {
    /// `s3://bucket/key` (the key taken literally, not URL-decoded) or a local path.
    pub fn parse(s: &str) -> Result<Self, LocationError> {
        let _ = s;
        unimplemented!("location parsing")
    }

    /// The last path segment (the report file name), used as a template hint.
    pub fn file_name(&self) -> Option<&str> {
        unimplemented!("file_name")
    }
}

impl fmt::Display for ReportLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportLocation::Local(p) => write!(f, "{}", p.display()),
            ReportLocation::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}
