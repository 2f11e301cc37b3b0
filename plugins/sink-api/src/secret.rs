//! Secrets: a [`Secret`] string that never prints itself, references (`${ssm:/path}`,
//! `${secretsmanager:name}`, `${env:NAME}`) resolved through a process-wide [`SecretSource`], and
//! [`LazySecret`], a sink setting resolved on first use.

use crate::BoxFuture;
use crate::reference::{self, Piece, ReferenceError};
use std::fmt;
use std::sync::Arc;

/// A secret value. `Debug` and `Display` print `[redacted]`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value. Never log it or put it in an error.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a reference could not be resolved. Names the reference, never the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("secret {reference}: {message}")]
pub struct SecretError {
    /// The reference as written (`${ssm:/prod/slack-url}`), which is not itself secret.
    pub reference: String,
    pub message: String,
}

impl SecretError {
    /// A `${` in `raw` that is not a well-formed reference: names the offending text.
    pub fn malformed(raw: &str, e: &ReferenceError) -> SecretError {
        SecretError {
            reference: e.text(raw).to_string(),
            message: e.to_string(),
        }
    }
}

/// One `${provider:key}` reference parsed from a setting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    /// `env`, `ssm` or `secretsmanager`.
    pub provider: String,
    pub key: String,
}

impl SecretRef {
    /// Parses a setting that is exactly one reference (`${ssm:/a/b}`, surrounding whitespace
    /// allowed); `None` for anything else.
    pub fn parse(raw: &str) -> Option<SecretRef> {
        let mut pieces = reference::pieces(raw.trim());
        match (pieces.next(), pieces.next()) {
            (Some(Ok(Piece::Reference(r))), None) => Some(SecretRef {
                provider: r.scheme.to_string(),
                key: r.name.to_string(),
            }),
            _ => None,
        }
    }

    /// Whether `raw` holds a well-formed reference anywhere (`Bearer ${ssm:/x}`): a setting
    /// whose text as written names where its value comes from, not the value.
    pub fn contains_reference(raw: &str) -> bool {
        reference::has_reference(raw)
    }

    /// Whether `raw` must go through a [`SecretSource`] to become its value: it holds a
    /// reference, a `$${` escape or a malformed `${` (which resolving reports). A setting for
    /// which this is false is final as written and can be checked at build time.
    pub fn needs_resolving(raw: &str) -> bool {
        !reference::is_plain(raw)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}:{}}}", self.provider, self.key)
    }
}

/// Resolves references. The root crate's implementation (`audit_router::secrets`) caches each
/// reference once per process; tests may use [`StaticSecrets`].
pub trait SecretSource: Send + Sync {
    /// Replaces every `${env:…}`, `${ssm:…}` and `${secretsmanager:…}` in `raw` with its value
    /// and each `$${` with a literal `${` (read with [`reference::pieces`]); other text comes back
    /// unchanged. A malformed `${` is an error naming it.
    fn resolve<'a>(&'a self, raw: &'a str) -> BoxFuture<'a, Result<Secret, SecretError>>;
}

/// A [`SecretSource`] that knows only the references given with [`StaticSecrets::with`]: any
/// other reference is an error, plain text passes, `$${` becomes `${`. For `check` and tests.
#[derive(Clone, Debug, Default)]
pub struct StaticSecrets {
    values: std::collections::BTreeMap<String, String>,
}

impl StaticSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `reference` (as written, e.g. `${ssm:/x}`) resolve to `value`.
    pub fn with(mut self, reference: &str, value: &str) -> Self {
        self.values.insert(reference.to_string(), value.to_string());
        self
    }
}

impl SecretSource for StaticSecrets {
    fn resolve<'a>(&'a self, raw: &'a str) -> BoxFuture<'a, Result<Secret, SecretError>> {
        Box::pin(async move {
            let mut out = String::with_capacity(raw.len());
            for piece in reference::pieces(raw) {
                match piece {
                    Ok(Piece::Text(t)) => out.push_str(t),
                    Ok(Piece::Escape) => out.push_str("${"),
                    Ok(Piece::Reference(r)) => match self.values.get(r.text) {
                        Some(v) => out.push_str(v),
                        None => {
                            return Err(SecretError {
                                reference: r.text.to_string(),
                                message: "no secret source configured for this reference".into(),
                            });
                        }
                    },
                    Err(e) => return Err(SecretError::malformed(raw, &e)),
                }
            }
            Ok(Secret::new(out))
        })
    }
}

/// A sink setting that may hold references, resolved on first use and then kept.
pub struct LazySecret {
    raw: String,
    source: Arc<dyn SecretSource>,
    cell: tokio::sync::OnceCell<Secret>,
}

impl LazySecret {
    pub fn new(raw: impl Into<String>, source: Arc<dyn SecretSource>) -> Self {
        LazySecret {
            raw: raw.into(),
            source,
            cell: tokio::sync::OnceCell::new(),
        }
    }

    /// The setting as written. Only safe to show when [`LazySecret::is_reference`] is true or
    /// the setting is known not to be secret.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether the setting as written holds a reference (and so is not itself the secret).
    pub fn is_reference(&self) -> bool {
        SecretRef::contains_reference(&self.raw)
    }

    /// Resolves (once) and returns the value.
    pub async fn get(&self) -> Result<&Secret, SecretError> {
        self.cell
            .get_or_try_init(|| self.source.resolve(&self.raw))
            .await
    }
}

impl fmt::Debug for LazySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LazySecret([redacted])")
    }
}

/// Redacts a URL for display: keeps scheme and host, drops path, query and credentials
/// (`https://hooks.slack.com/services/T/B/x` → `https://hooks.slack.com/…`).
pub fn redact_url(url: &str) -> String {
    if SecretRef::parse(url).is_some() {
        return url.to_string();
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return "[redacted]".to_string(),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if rest.len() > authority.len() || authority.contains('@') {
        format!("{scheme}://{host}/…")
    } else {
        format!("{scheme}://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn parses_references() {
        let r = SecretRef::parse("${ssm:/prod/slack}").unwrap();
        assert_eq!(
            (r.provider.as_str(), r.key.as_str()),
            ("ssm", "/prod/slack")
        );
        assert_eq!(r.to_string(), "${ssm:/prod/slack}");
        assert!(SecretRef::parse("${vault:x}").is_none());
        assert!(SecretRef::parse("plain").is_none());
        assert!(SecretRef::parse(" ${env:X} ").is_some());
        assert!(SecretRef::parse("${env:X}${env:Y}").is_none());
        assert!(SecretRef::parse("${env:X").is_none());
        assert!(SecretRef::contains_reference(
            "Bearer ${secretsmanager:tok}"
        ));
        assert!(!SecretRef::contains_reference("cost $${x}"));
        assert!(SecretRef::needs_resolving("cost $${x}"));
        assert!(!SecretRef::needs_resolving("https://h/p"));
    }

    #[tokio::test]
    async fn static_secrets_unescape_and_name_what_they_lack() {
        let src = StaticSecrets::new().with("${ssm:/x}", "v");
        let got = src.resolve("a $${ssm:/x} ${ssm:/x}").await.unwrap();
        assert_eq!(got.expose(), "a ${ssm:/x} v");
        let e = src.resolve("${ssm:/y}").await.unwrap_err();
        assert_eq!(e.reference, "${ssm:/y}");
        let e = src.resolve("k=${vault:z}").await.unwrap_err();
        assert_eq!(e.reference, "${vault:z}");
        assert!(e.message.contains("unknown reference scheme"), "{e}");
    }

    #[test]
    fn redacts_urls() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/TESTSECRETXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("https://user:pw@example.com?k=1"),
            "https://example.com/…"
        );
        assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(redact_url("not a url"), "[redacted]");
        assert_eq!(redact_url("${ssm:/x}"), "${ssm:/x}");
    }

    #[tokio::test]
    async fn lazy_secret_resolves_once() {
        let src: Arc<dyn SecretSource> = Arc::new(StaticSecrets::new().with("${ssm:/x}", "v"));
        let s = LazySecret::new("https://h/${ssm:/x}", src);
        assert_eq!(s.get().await.unwrap().expose(), "https://h/v");
        assert!(!format!("{s:?}").contains("ssm"));
    }
}
