//! One line about a failed AWS SDK call, for the CLI output, the logs and the receipts:
//! `SSM GetParameter: ParameterNotFound: Parameter /x not found`.
//!
//! The SDK's own `Display` of an [`SdkError`] says only "service error" or "dispatch failure",
//! and its `Debug` is a dump of the whole HTTP response (headers included, ~1 500 characters):
//! neither belongs in a message a person reads. [`describe`] names the service and operation,
//! then the error code and message the service sent, or — when no answer came — the cause chain
//! of the transport error, each cause's `Display` once.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::error::Error;

/// What kind of failure an SDK error is, for callers that classify (retry or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with an error (`code`, HTTP status).
    Service,
    /// The request did not finish in time.
    Timeout,
    /// No answer: connection refused or reset, DNS, TLS.
    Dispatch,
    /// An answer came but could not be read (cut off, not the protocol).
    Response,
    /// The request could not be built (a bug or bad input, never sent).
    Construction,
}

/// The parts of an SDK error a message is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub failure: Failure,
    /// The service's error code (`ParameterNotFound`, `NoSuchBucket`, `Throttling`).
    pub code: Option<String>,
    /// The service's error message, or the transport's cause chain.
    pub message: Option<String>,
    /// The HTTP status of the answer, when one came.
    pub status: Option<u16>,
}

impl Described {
    /// `code: message`, `code (HTTP 404)`, `timed out`, `could not reach the service: …`.
    pub fn detail(&self) -> String {
        let status = self.status.map(|s| format!(" (HTTP {s})"));
        match (self.failure, &self.code, &self.message) {
            (Failure::Service, Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Failure::Service, Some(code), None) => {
                format!("{code}{}", status.unwrap_or_default())
            }
            (Failure::Service, None, msg) => format!(
                "HTTP {}{}",
                self.status
                    .map_or_else(|| "error".to_owned(), |s| s.to_string()),
                msg.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
            ),
            (Failure::Timeout, _, msg) => with_cause("timed out", msg),
            (Failure::Dispatch, _, msg) => with_cause("could not reach the service", msg),
            (Failure::Response, _, msg) => {
                with_cause("the service's answer could not be read", msg)
            }
            (Failure::Construction, _, msg) => with_cause("the request could not be built", msg),
        }
    }
}

fn with_cause(what: &str, cause: &Option<String>) -> String {
    match cause {
        Some(c) => format!("{what}: {c}"),
        None => what.to_owned(),
    }
}

/// Takes an SDK error apart (see [`Described`]).
pub fn parts<E>(err: &SdkError<E, HttpResponse>) -> Described
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let failure = match err {
        SdkError::ServiceError(_) => Failure::Service,
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(_) => Failure::Dispatch,
        SdkError::ResponseError(_) => Failure::Response,
        _ => Failure::Construction,
    };
    match failure {
        Failure::Service => Described {
            failure,
            code: err.code().map(str::to_owned),
            message: err
                .message()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            status,
        },
        _ => Described {
            failure,
            code: None,
            message: cause_chain(err as &(dyn Error + 'static)),
            status,
        },
    }
}

/// `Service Operation: detail` (see [`Described::detail`]).
pub fn describe<E>(service: &str, operation: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    format!("{service} {operation}: {}", parts(err).detail())
}

/// The `Display` of every cause below `err`, joined by `: `, each once (a cause whose text the
/// previous one already contains is skipped); `None` when there is none.
pub fn cause_chain(err: &(dyn Error + 'static)) -> Option<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let t = e.to_string();
        let t = t.trim();
        if !t.is_empty() && !texts.last().is_some_and(|prev| prev.contains(t)) {
            texts.push(t.to_owned());
        }
        cur = e.source();
    }
    (!texts.is_empty()).then(|| texts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::ErrorMetadata;

    #[derive(Debug)]
    struct OpError(ErrorMetadata);

    impl std::fmt::Display for OpError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("unhandled error")
        }
    }
    impl Error for OpError {}
    impl ProvideErrorMetadata for OpError {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from("<Error>…long XML…</Error>"),
        )
    }

    #[test]
    fn a_service_error_is_service_operation_code_and_message() {
        let meta = ErrorMetadata::builder()
            .code("ParameterNotFound")
            .message("Parameter /x not found")
            .build();
        let err: SdkError<OpError, HttpResponse> =
            SdkError::service_error(OpError(meta), response(400));
        let line = describe("SSM", "GetParameter", &err);
        assert_eq!(
            line,
            "SSM GetParameter: ParameterNotFound: Parameter /x not found"
        );
        let no_msg: SdkError<OpError, HttpResponse> = SdkError::service_error(
            OpError(ErrorMetadata::builder().code("NoSuchBucket").build()),
            response(404),
        );
        assert_eq!(
            describe("S3", "GetObject", &no_msg),
            "S3 GetObject: NoSuchBucket (HTTP 404)"
        );
        let bare: SdkError<OpError, HttpResponse> =
            SdkError::service_error(OpError(ErrorMetadata::builder().build()), response(503));
        assert_eq!(describe("SNS", "Publish", &bare), "SNS Publish: HTTP 503");
    }

    #[test]
    fn transport_errors_give_their_causes_once_and_no_debug_dump() {
        #[derive(Debug)]
        struct Io(&'static str, Option<Box<Io>>);
        impl std::fmt::Display for Io {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl Error for Io {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                self.1.as_deref().map(|e| e as &(dyn Error + 'static))
            }
        }
        let cause = Io(
            "error trying to connect: tcp connect error",
            Some(Box::new(Io("Connection refused (os error 111)", None))),
        );
        let err: SdkError<OpError, HttpResponse> = SdkError::timeout_error(cause);
        let line = describe("Secrets Manager", "GetSecretValue", &err);
        assert_eq!(
            line,
            "Secrets Manager GetSecretValue: timed out: error trying to connect: tcp connect \
             error: Connection refused (os error 111)"
        );
        assert!(
            !line.contains("Response {") && !line.contains("headers"),
            "{line}"
        );
    }
}
