//! What an S3 error is, for every S3 call the router makes (the report's GetObject, the
//! receipts' and the state's GetObject/PutObject, the state's ListObjectsV2; [`get_whole`]
//! reads their small objects): one classification — transient or permanent, a lost
//! conditional-write race, a missing key — and one readable line that says which bucket, key
//! and, for access errors, which permission is missing. Never the SDK's Debug dump.

use audit_router_sink_api::aws_error::{self, Failure};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// What went wrong, as far as a retry is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3ErrorKind {
    /// The key does not exist.
    NoSuchKey,
    /// The bucket does not exist (a setup error: permanent).
    NoSuchBucket,
    /// Access denied (403): the role lacks a permission, a bucket policy or a KMS key refuses.
    AccessDenied,
    /// 412 PreconditionFailed / 409 ConditionalRequestConflict: another writer won a
    /// conditional write.
    LostRace,
    /// Throttling, 5xx, clock skew: a retry can succeed.
    Transient,
    /// No answer: timeout, connection refused or reset, DNS, TLS, an unreadable answer.
    Transport,
    /// Any other answer (400 InvalidArgument, …): permanent.
    Other,
}

/// One failed S3 call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Error {
    /// `GetObject`, `PutObject`, …
    pub operation: &'static str,
    pub kind: S3ErrorKind,
    /// The error code S3 answered (`NoSuchBucket`, `SlowDown`), if it answered.
    pub code: Option<String>,
    /// `NoSuchBucket (HTTP 404): The specified bucket does not exist`, or for no answer what
    /// failed and its cause chain.
    pub detail: String,
}

/// The IAM action an operation needs, for "access denied" hints.
fn permission(operation: &str) -> &'static str {
    match operation {
        "PutObject" => "s3:PutObject",
        "ListObjectsV2" => "s3:ListBucket",
        "DeleteObject" => "s3:DeleteObject",
        _ => "s3:GetObject",
    }
}

impl S3Error {
    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let parts = aws_error::parts(err);
        let code = parts.code.clone();
        let status = parts.status.unwrap_or(0);
        let kind = match (parts.failure, code.as_deref()) {
            (Failure::Service, Some("NoSuchKey")) => S3ErrorKind::NoSuchKey,
            (Failure::Service, Some("NoSuchBucket")) => S3ErrorKind::NoSuchBucket,
            (
                Failure::Service,
                Some("AccessDenied" | "AllAccessDisabled" | "InvalidAccessKeyId"),
            )
            | (Failure::Service, _)
                if status == 403 =>
            {
                S3ErrorKind::AccessDenied
            }
            (Failure::Service, Some("AccessDenied")) => S3ErrorKind::AccessDenied,
            (Failure::Service, Some("PreconditionFailed" | "ConditionalRequestConflict")) => {
                S3ErrorKind::LostRace
            }
            (Failure::Service, _) if status == 412 || status == 409 => S3ErrorKind::LostRace,
            (
                Failure::Service,
                Some(
                    "InternalError"
                    | "ServiceUnavailable"
                    | "SlowDown"
                    | "RequestTimeout"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestTimeTooSkewed",
                ),
            ) => S3ErrorKind::Transient,
            (Failure::Service, _) if status >= 500 || status == 429 => S3ErrorKind::Transient,
            (Failure::Service, _) if status == 404 && code.is_none() => S3ErrorKind::NoSuchKey,
            (Failure::Service | Failure::Construction, _) => S3ErrorKind::Other,
            (Failure::Timeout | Failure::Dispatch | Failure::Response, _) => S3ErrorKind::Transport,
        };
        let detail = match (&parts.code, &parts.message, parts.status) {
            (Some(c), Some(m), Some(s)) => format!("{c} (HTTP {s}): {m}"),
            _ => parts.detail(),
        };
        S3Error {
            operation,
            kind,
            code,
            detail,
        }
    }

    /// Whether the same call can succeed later (throttling, 5xx, no answer).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, S3ErrorKind::Transient | S3ErrorKind::Transport)
    }

    /// `S3 GetObject s3://bucket/key: NoSuchBucket (HTTP 404): The specified bucket does not
    /// exist (no bucket "bucket", or it is in another account or region)`; for access denied,
    /// the permission the role needs on the object.
    pub fn describe(&self, bucket: &str, key: &str) -> String {
        format!(
            "S3 {} s3://{bucket}/{key}: {}{}",
            self.operation,
            self.detail,
            self.hint(bucket, key)
        )
    }

    /// What to check, for the errors a person must fix (access denied, no such bucket): ` (…)`,
    /// else empty.
    pub fn hint(&self, bucket: &str, key: &str) -> String {
        match self.kind {
            S3ErrorKind::AccessDenied => format!(
                " (the function's role, or the credentials in use, need {} on \
                 arn:aws:s3:::{bucket}/{key}; check the bucket policy and any KMS key policy too)",
                permission(self.operation)
            ),
            S3ErrorKind::NoSuchBucket => {
                format!(" (no bucket {bucket:?}, or it is in another account or region)")
            }
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::error::ErrorMetadata;

    fn service(code: Option<&str>, status: u16) -> SdkError<GetObjectError, HttpResponse> {
        let mut meta = ErrorMetadata::builder();
        if let Some(c) = code {
            meta = meta.code(c).message("from S3");
        }
        SdkError::service_error(
            GetObjectError::generic(meta.build()),
            HttpResponse::new(
                status.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    #[test]
    fn kinds_and_transience() {
        let cases = [
            (Some("NoSuchKey"), 404, S3ErrorKind::NoSuchKey, false),
            (Some("NoSuchBucket"), 404, S3ErrorKind::NoSuchBucket, false),
            (Some("AccessDenied"), 403, S3ErrorKind::AccessDenied, false),
            (None, 403, S3ErrorKind::AccessDenied, false),
            (
                Some("PreconditionFailed"),
                412,
                S3ErrorKind::LostRace,
                false,
            ),
            (None, 409, S3ErrorKind::LostRace, false),
            (Some("SlowDown"), 503, S3ErrorKind::Transient, true),
            (None, 500, S3ErrorKind::Transient, true),
            (Some("InvalidArgument"), 400, S3ErrorKind::Other, false),
        ];
        for (code, status, kind, transient) in cases {
            let e = S3Error::from_sdk("GetObject", &service(code, status));
            assert_eq!(
                (e.kind, e.is_transient()),
                (kind, transient),
                "{code:?} {status}"
            );
        }
    }

    #[test]
    fn descriptions_name_the_object_and_the_permission() {
        let e = S3Error::from_sdk("PutObject", &service(Some("AccessDenied"), 403));
        let d = e.describe("receipts", "p/r.json");
        assert_eq!(
            d,
            "S3 PutObject s3://receipts/p/r.json: AccessDenied (HTTP 403): from S3 (the \
             function's role, or the credentials in use, need s3:PutObject on \
             arn:aws:s3:::receipts/p/r.json; check the bucket policy and any KMS key policy too)"
        );
        let e = S3Error::from_sdk("GetObject", &service(Some("NoSuchBucket"), 404));
        assert!(
            e.describe("gone", "k")
                .ends_with("(no bucket \"gone\", or it is in another account or region)")
        );
    }
}

/// A small object read whole (a receipt, a state document).
#[derive(Debug)]
pub struct Whole {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
}

/// Why [`get_whole`] failed.
#[derive(Debug)]
pub enum GetWholeError {
    /// S3 answered an error (or none) to the GetObject.
    S3(S3Error),
    /// The body broke off while read (transient): what failed and its causes.
    Body(String),
}

/// GetObject of `bucket`/`key`, its body read whole; `None` only for `NoSuchKey` (a 404
/// `NoSuchBucket` is a setup error and must not look like "nothing written yet").
pub async fn get_whole(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Whole>, GetWholeError> {
    let out = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(err) => {
            let e = S3Error::from_sdk("GetObject", &err);
            if e.kind == S3ErrorKind::NoSuchKey {
                return Ok(None);
            }
            return Err(GetWholeError::S3(e));
        }
    };
    let etag = out.e_tag().map(str::to_owned);
    let body = out.body.collect().await.map_err(|e| {
        let mut detail = format!("reading the body: {e}");
        if let Some(cause) = aws_error::cause_chain(&e) {
            detail = format!("{detail}: {cause}");
        }
        GetWholeError::Body(detail)
    })?;
    Ok(Some(Whole {
        bytes: body.into_bytes().to_vec(),
        etag,
    }))
}
