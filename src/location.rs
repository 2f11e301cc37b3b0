//! Where a report is: a local file or an S3 object.

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReportLocation {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

/// Where the router keeps objects of its own (delivery receipts, the reports' state):
/// `s3://bucket/prefix/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Prefix {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl S3Prefix {
    /// `prefix` may be empty; leading and trailing `/` are ignored.
    pub fn new(bucket: impl Into<String>, prefix: &str) -> S3Prefix {
        S3Prefix {
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// `s3://bucket/prefix` with a prefix of at most `max_prefix` bytes; `Err` says what is
    /// wrong with it.
    pub fn parse(uri: &str, max_prefix: usize) -> Result<S3Prefix, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| "does not start with s3://".to_owned())?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("no bucket name".into());
        }
        if prefix.len() > max_prefix {
            return Err(format!("prefix longer than {max_prefix} bytes"));
        }
        Ok(S3Prefix::new(bucket, prefix))
    }

    /// `prefix/`, or empty for the bucket's root.
    pub fn root(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// `s3://bucket/prefix/`.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.root())
    }

    /// Whether `location` is an object under this prefix.
    pub fn holds(&self, location: &ReportLocation) -> bool {
        match location {
            ReportLocation::S3 { bucket, key } => {
                bucket == &self.bucket && key.starts_with(&self.root())
            }
            ReportLocation::Local(_) => false,
        }
    }

    /// Whether objects written here with names ending in `object_suffix` would match a trigger
    /// on `trigger_bucket` filtered by `trigger_prefix` and `trigger_suffix` (writing one would
    /// start the function again).
    pub fn inside_trigger(
        &self,
        trigger_bucket: &str,
        trigger_prefix: &str,
        trigger_suffix: &str,
        object_suffix: &str,
    ) -> bool {
        let root = self.root();
        let overlaps = root.starts_with(trigger_prefix) || trigger_prefix.starts_with(&root);
        let suffix_matches = trigger_suffix.is_empty() || object_suffix.ends_with(trigger_suffix);
        self.bucket == trigger_bucket && overlaps && suffix_matches
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("invalid S3 URI {uri:?}: {reason}")]
    InvalidS3Uri { uri: String, reason: &'static str },
    #[error("empty report location: expected a local path or s3://bucket/key")]
    Empty,
}

impl ReportLocation {
    /// `s3://bucket/key` (the key taken literally, not URL-decoded) or a local path.
    ///
    /// The scheme is matched case-insensitively (`S3://` is an S3 URI too, not a local path
    /// that would later fail with a confusing "no such file"). Everything after the first `/`
    /// following the bucket is the key, byte for byte: spaces, `:`, `+`, `%` and even `//` are
    /// kept as written.
    pub fn parse(s: &str) -> Result<Self, LocationError> {
        if s.is_empty() {
            return Err(LocationError::Empty);
        }
        let Some(rest) = strip_prefix_ignore_case(s, "s3://") else {
            return Ok(ReportLocation::Local(PathBuf::from(s)));
        };
        let invalid = |reason| LocationError::InvalidS3Uri {
            uri: s.to_owned(),
            reason,
        };
        let (bucket, key) = match rest.split_once('/') {
            Some((bucket, key)) => (bucket, key),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(invalid("empty bucket name (expected s3://bucket/key)"));
        }
        if key.is_empty() {
            return Err(invalid("empty object key (expected s3://bucket/key)"));
        }
        Ok(ReportLocation::S3 {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The last path segment (the report file name), used as a template hint.
    ///
    /// `None` when the location ends in `/` (an S3 "folder" key) or has no file name.
    pub fn file_name(&self) -> Option<&str> {
        match self {
            ReportLocation::Local(path) => path.file_name().and_then(|n| n.to_str()),
            ReportLocation::S3 { key, .. } => {
                let name = key.rsplit('/').next().unwrap_or(key);
                (!name.is_empty()).then_some(name)
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl fmt::Display for ReportLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportLocation::Local(p) => write!(f, "{}", p.display()),
            ReportLocation::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, key: &str) -> ReportLocation {
        ReportLocation::S3 {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn s3_key_is_taken_literally() {
        let uri = "s3://bucket/key with spaces:and colons.csv";
        let loc = ReportLocation::parse(uri).unwrap();
        assert_eq!(loc, s3("bucket", "key with spaces:and colons.csv"));
        assert_eq!(loc.to_string(), uri);
    }

    #[test]
    fn s3_key_keeps_percent_plus_and_double_slashes() {
        let uri = "s3://b/a%3Ab+c//d/REPORT_x_2026-11-25T00%3A00%3A00Z.json";
        let loc = ReportLocation::parse(uri).unwrap();
        assert_eq!(
            loc,
            s3("b", "a%3Ab+c//d/REPORT_x_2026-11-25T00%3A00%3A00Z.json")
        );
        assert_eq!(
            loc.file_name(),
            Some("REPORT_x_2026-11-25T00%3A00%3A00Z.json")
        );
        assert_eq!(loc.to_string(), uri);
    }

    #[test]
    fn uppercase_scheme_is_s3() {
        assert_eq!(ReportLocation::parse("S3://b/k").unwrap(), s3("b", "k"));
    }

    #[test]
    fn s3_without_bucket_or_key_is_rejected() {
        for (uri, want) in [
            ("s3://", "empty bucket"),
            ("s3:///key", "empty bucket"),
            ("s3://bucket", "empty object key"),
            ("s3://bucket/", "empty object key"),
        ] {
            let err = ReportLocation::parse(uri).unwrap_err().to_string();
            assert!(err.contains(want), "{uri}: {err}");
            assert!(err.contains(&format!("{uri:?}")), "{uri}: {err}");
        }
    }

    #[test]
    fn anything_else_is_a_local_path() {
        for p in [
            "report.csv",
            "./a/b c:d.json",
            "/tmp/x.json.gz",
            "s3:/one-slash",
            "https://x/y",
        ] {
            let loc = ReportLocation::parse(p).unwrap();
            assert_eq!(loc, ReportLocation::Local(PathBuf::from(p)));
            assert_eq!(loc.to_string(), p);
        }
        assert!(matches!(
            ReportLocation::parse(""),
            Err(LocationError::Empty)
        ));
    }

    #[test]
    fn file_name_is_last_segment() {
        assert_eq!(s3("b", "a/b/c.csv").file_name(), Some("c.csv"));
        assert_eq!(s3("b", "c.csv").file_name(), Some("c.csv"));
        assert_eq!(s3("b", "prefix/").file_name(), None);
        let local = ReportLocation::parse("dir/sub/REPORT.json").unwrap();
        assert_eq!(local.file_name(), Some("REPORT.json"));
        assert_eq!(ReportLocation::parse("/").unwrap().file_name(), None);
    }
}
