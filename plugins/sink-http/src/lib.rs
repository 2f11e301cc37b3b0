//! The HTTP parts every HTTP sink shares (the webhook and Slack sinks): the client (timeouts, no redirects),
//! URL and header checks, redaction, `Retry-After` and response classification.

use audit_router_sink_api::SinkError;
pub use audit_router_sink_api::secret::redact_url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// Default whole-request timeout; a sink may set `timeout_secs`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Connection timeout (DNS + TCP + TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an error response body goes into an error message.
const MAX_ERROR_BODY_CHARS: usize = 300;

/// Builds the HTTP client of one sink. Redirects are not followed: a webhook that redirects is
/// misconfigured, and following it could carry headers (tokens) to another host.
pub fn client(timeout: Duration) -> Result<reqwest::Client, SinkError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("audit-router/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            SinkError::permanent(format!("cannot build the HTTP client: {}", e.without_url()))
        })
}

/// Parses and checks a webhook URL. Only `https` is accepted unless `allow_insecure_http`. The
/// URL is a secret (it carries the webhook token): errors never contain it.
pub fn check_url(
    sink: &str,
    key: &str,
    url: &str,
    allow_insecure_http: bool,
) -> Result<Url, SinkError> {
    let parsed = Url::parse(url.trim()).map_err(|e| {
        SinkError::config(
            sink,
            Some(key),
            format!("not a valid URL ({e}); expected https://host/path"),
        )
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_insecure_http => {}
        "http" => {
            return Err(SinkError::config(
                sink,
                Some(key),
                "the URL uses http://; expected https:// (set allow_insecure_http = true only for \
                 local testing)",
            ));
        }
        other => {
            return Err(SinkError::config(
                sink,
                Some(key),
                format!("unsupported URL scheme `{other}`; expected https://"),
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(SinkError::config(
            sink,
            Some(key),
            "the URL has no host; expected https://host/path",
        ));
    }
    Ok(parsed)
}

/// Checks one configured header. CR, LF and NUL are rejected (header injection); so are names
/// that are not valid tokens and hop-by-hop/size headers the client sets itself.
pub fn check_header(
    sink: &str,
    name: &str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), SinkError> {
    let key = format!("headers.{name}");
    if value.contains(['\r', '\n', '\0']) || name.contains(['\r', '\n', '\0']) {
        return Err(SinkError::config(
            sink,
            Some(&key),
            "header contains a line break or NUL; expected a single-line value",
        ));
    }
    let hname = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        SinkError::config(
            sink,
            Some(&key),
            "not a valid HTTP header name (expected letters, digits, `-`)",
        )
    })?;
    if matches!(
        hname.as_str(),
        "content-length" | "host" | "transfer-encoding" | "connection"
    ) {
        return Err(SinkError::config(
            sink,
            Some(&key),
            "this header is set by the HTTP client and cannot be configured",
        ));
    }
    let mut hvalue = HeaderValue::from_str(value).map_err(|_| {
        SinkError::config(
            sink,
            Some(&key),
            "not a valid HTTP header value (expected visible ASCII)",
        )
    })?;
    hvalue.set_sensitive(true);
    Ok((hname, hvalue))
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (relative to `now`). Capped at
/// one hour so a bogus header cannot park a delivery forever (the deadline stops it anyway).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = v.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        Duration::from_secs_f64(secs)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(d.min(Duration::from_secs(3600)))
}

/// The `Retry-After` of a response, if any.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()))
}

/// A response body shortened for an error message (one line, at most 300 characters).
pub fn body_snippet(body: &str) -> String {
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > MAX_ERROR_BODY_CHARS {
        let cut: String = trimmed.chars().take(MAX_ERROR_BODY_CHARS).collect();
        format!("{cut}…")
    } else {
        trimmed.to_string()
    }
}

/// Classifies a non-success response of a generic webhook: 429 and 408 and 5xx are retryable
/// (with the server's `Retry-After` when it gave one), other statuses permanent.
pub fn classify_status(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> SinkError {
    let snippet = body_snippet(body);
    let detail = if snippet.is_empty() {
        String::new()
    } else {
        format!(": {snippet}")
    };
    let message = format!("{what} answered HTTP {}{detail}", status.as_u16());
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        SinkError::retryable(message, retry_after(headers))
    } else if status.is_redirection() {
        SinkError::permanent(format!(
            "{what} answered HTTP {} (a redirect, not followed: point the sink at the final URL)",
            status.as_u16()
        ))
    } else {
        SinkError::permanent(message)
    }
}

/// Classifies a transport error (the URL is stripped from the message: it is a secret).
/// Timeouts and connection failures are retryable; request-building errors are not.
pub fn classify_transport(what: &str, err: reqwest::Error) -> SinkError {
    let retryable = (err.is_timeout() || err.is_connect() || err.is_request() || err.is_body())
        && !err.is_builder();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let message = format!("{what}: {kind}: {}", error_chain(&err.without_url()));
    if retryable {
        SinkError::retryable(message, None)
    } else {
        SinkError::permanent(message)
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let t = e.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_required_unless_allowed() {
        assert!(check_url("s", "url", "https://example.test/hook", false).is_ok());
        let e = check_url("s", "url", "http://example.test/TESTSECRET-token", false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("sinks.s.url:"), "{msg}");
        assert!(msg.contains("https://"), "{msg}");
        assert!(!msg.contains("TESTSECRET-token"), "{msg}");
        assert!(check_url("s", "url", "http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("s", "url", "ftp://example.test/x", true).is_err());
        let e = check_url("s", "url", "not a url TESTSECRET", false).unwrap_err();
        assert!(!e.to_string().contains("TESTSECRET"), "{e}");
    }

    #[test]
    fn header_injection_rejected() {
        let e = check_header("s", "X-Token", "a\r\nX-Evil: 1").unwrap_err();
        assert!(e.to_string().contains("sinks.s.headers.X-Token"), "{e}");
        assert!(check_header("s", "Bad Name", "v").is_err());
        assert!(check_header("s", "Content-Length", "3").is_err());
        let (n, v) = check_header("s", "Authorization", "Bearer abc").unwrap();
        assert_eq!(n.as_str(), "authorization");
        assert!(v.is_sensitive());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("999999", now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn status_classification() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let e = classify_status("webhook", StatusCode::TOO_MANY_REQUESTS, &h, "slow down");
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = classify_status("webhook", StatusCode::BAD_GATEWAY, &HeaderMap::new(), "");
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), None);
        let e = classify_status(
            "webhook",
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            "nope\n",
        );
        assert!(!e.is_retryable());
        assert_eq!(e.to_string(), "webhook answered HTTP 403: nope");
        let e = classify_status("webhook", StatusCode::FOUND, &HeaderMap::new(), "");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("redirect"));
    }

    #[test]
    fn snippet_is_bounded_and_single_line() {
        let s = body_snippet(&format!("a\nb{}", "c".repeat(1000)));
        assert!(s.starts_with("a b"));
        assert!(s.chars().count() <= MAX_ERROR_BODY_CHARS + 1);
    }
}
