//! Secret references in sink settings: `${env:NAME}`, `${ssm:/path}` (SSM Parameter Store,
//! SecureString decrypted) and `${secretsmanager:ARN-or-name}` (optionally `name#json_key` to
//! pick one key of a JSON secret). Resolved lazily (on a sink's first send), once per process,
//! and cached; values are [`Secret`]s that never print.

use audit_router_sink_api::aws_error;
use audit_router_sink_api::reference::{self, Piece};
use audit_router_sink_api::{BoxFuture, Secret, SecretError, SecretRef, SecretSource};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::OnceCell;

type Slot = Arc<OnceCell<Secret>>;
type EnvFn = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process's secret resolver. Share one (`Arc`) through `BuildContext::secrets`.
pub struct SecretResolver {
    aws: Option<aws_config::SdkConfig>,
    ssm: OnceLock<aws_sdk_ssm::Client>,
    sm: OnceLock<aws_sdk_secretsmanager::Client>,
    cache: Mutex<HashMap<SecretRef, Slot>>,
    env: EnvFn,
}

impl std::fmt::Debug for SecretResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretResolver").finish_non_exhaustive()
    }
}

impl SecretResolver {
    /// `aws`: the process's AWS configuration (`None`: `${ssm:…}`/`${secretsmanager:…}` fail
    /// with a clear error). Environment variables come from the process environment.
    pub fn new(aws: Option<aws_config::SdkConfig>) -> Self {
        Self::with_env(aws, |name| std::env::var(name).ok())
    }

    /// As [`SecretResolver::new`] with another environment (tests).
    pub fn with_env(
        aws: Option<aws_config::SdkConfig>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        SecretResolver {
            aws,
            ssm: OnceLock::new(),
            sm: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            env: Box::new(env),
        }
    }

    fn slot(&self, r: &SecretRef) -> Slot {
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        cache.entry(r.clone()).or_default().clone()
    }

    /// Resolves one reference (cached: fetched at most once per process when it succeeds).
    pub async fn resolve_ref(&self, r: &SecretRef) -> Result<Secret, SecretError> {
        let slot = self.slot(r);
        slot.get_or_try_init(|| self.fetch(r)).await.cloned()
    }

    fn err(r: &SecretRef, message: impl Into<String>) -> SecretError {
        SecretError {
            reference: r.to_string(),
            message: message.into(),
        }
    }

    fn sdk(&self, r: &SecretRef) -> Result<&aws_config::SdkConfig, SecretError> {
        self.aws
            .as_ref()
            .ok_or_else(|| Self::err(r, "no AWS configuration in this process"))
    }

    async fn fetch(&self, r: &SecretRef) -> Result<Secret, SecretError> {
        match r.provider.as_str() {
            "env" => (self.env)(&r.key)
                .map(Secret::new)
                .ok_or_else(|| Self::err(r, "environment variable is not set")),
            "ssm" => {
                let sdk = self.sdk(r)?;
                let client = self.ssm.get_or_init(|| aws_sdk_ssm::Client::new(sdk));
                let out = client
                    .get_parameter()
                    .name(&r.key)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| Self::err(r, aws_error::describe("SSM", "GetParameter", &e)))?;
                out.parameter()
                    .and_then(|p| p.value())
                    .map(Secret::new)
                    .ok_or_else(|| Self::err(r, "parameter has no value"))
            }
            "secretsmanager" => {
                let sdk = self.sdk(r)?;
                let client = self
                    .sm
                    .get_or_init(|| aws_sdk_secretsmanager::Client::new(sdk));
                let (id, field) = match r.key.split_once('#') {
                    Some((id, field)) => (id, Some(field)),
                    None => (r.key.as_str(), None),
                };
                let out = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        Self::err(
                            r,
                            aws_error::describe("Secrets Manager", "GetSecretValue", &e),
                        )
                    })?;
                let text = out.secret_string().ok_or_else(|| {
                    Self::err(
                        r,
                        "secret has no string value (binary secrets are not supported)",
                    )
                })?;
                match field {
                    None => Ok(Secret::new(text)),
                    Some(field) => {
                        let json: serde_json::Value = serde_json::from_str(text).map_err(|_| {
                            Self::err(
                                r,
                                "secret is not a JSON object, so #key cannot select a key",
                            )
                        })?;
                        match json.get(field) {
                            Some(serde_json::Value::String(s)) => Ok(Secret::new(s.clone())),
                            Some(v) if !v.is_null() => Ok(Secret::new(v.to_string())),
                            _ => Err(Self::err(r, format!("secret JSON has no key {field:?}"))),
                        }
                    }
                }
            }
            other => Err(Self::err(r, format!("unknown secret provider {other:?}"))),
        }
    }

    /// Replaces every reference in `raw` (`Bearer ${ssm:/x}`) and turns each `$${` into a
    /// literal `${`; text without either comes back unchanged. An unclosed, malformed or
    /// unknown `${…}` is an error naming it, not passed through.
    pub async fn resolve_str(&self, raw: &str) -> Result<Secret, SecretError> {
        let mut out = String::with_capacity(raw.len());
        for piece in reference::pieces(raw) {
            match piece.map_err(|e| SecretError::malformed(raw, &e))? {
                Piece::Text(t) => out.push_str(t),
                Piece::Escape => out.push_str("${"),
                Piece::Reference(r) => {
                    let r = SecretRef {
                        provider: r.scheme.to_string(),
                        key: r.name.to_string(),
                    };
                    out.push_str(self.resolve_ref(&r).await?.expose());
                }
            }
        }
        Ok(Secret::new(out))
    }
}

impl SecretSource for SecretResolver {
    fn resolve<'a>(&'a self, raw: &'a str) -> BoxFuture<'a, Result<Secret, SecretError>> {
        Box::pin(self.resolve_str(raw))
    }
}

/// The resolver shared by the whole process, created on first use with `aws`.
pub fn process_resolver(aws: Option<aws_config::SdkConfig>) -> Arc<SecretResolver> {
    static RESOLVER: OnceLock<Arc<SecretResolver>> = OnceLock::new();
    RESOLVER
        .get_or_init(|| Arc::new(SecretResolver::new(aws)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn env_references_resolve_once_and_never_print() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let r = SecretResolver::with_env(None, move |n| {
            c.fetch_add(1, Ordering::SeqCst);
            (n == "TOKEN").then(|| "TESTSECRET-s3cr3t".to_string())
        });
        let v = r.resolve_str("Bearer ${env:TOKEN}!").await.unwrap();
        assert_eq!(v.expose(), "Bearer TESTSECRET-s3cr3t!");
        assert!(!format!("{v:?} {v}").contains("TESTSECRET-s3cr3t"));
        r.resolve_str("${env:TOKEN}").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "cached per process");
        assert_eq!(r.resolve_str("plain").await.unwrap().expose(), "plain");
    }

    #[tokio::test]
    async fn errors_name_the_reference_not_a_value() {
        let r = SecretResolver::with_env(None, |_| None);
        let e = r.resolve_str("x ${env:MISSING}").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret ${env:MISSING}: environment variable is not set"
        );
        let e = r.resolve_str("${ssm:/a/b}").await.unwrap_err();
        assert!(e.to_string().contains("no AWS configuration"), "{e}");
        let e = r.resolve_str("${vault:x}").await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("secret ${vault:x}: unknown reference scheme `vault`"),
            "{e}"
        );
        let e = r.resolve_str("${env:X").await.unwrap_err();
        assert!(
            e.to_string().starts_with("secret ${env:X: unclosed `${`"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn escapes_become_literal_text() {
        let r = SecretResolver::with_env(None, |n| (n == "A").then(|| "alpha".to_string()));
        let v = r.resolve_str("$${env:A} is ${env:A}").await.unwrap();
        assert_eq!(v.expose(), "${env:A} is alpha");
    }
}
