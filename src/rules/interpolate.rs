//! `${scheme:name}` references in rules.toml string values.
//!
//! The rules stage resolves `${env:NAME}` from the process environment before validation; the
//! other schemes (`${ssm:/path}`, `${secretsmanager:name}`) are left as written for the sink layer,
//! which can resolve them with [`expand`] too. `$${` is an escaped, literal `${`.

use std::borrow::Cow;

/// The reference schemes rules.toml knows.
pub const SCHEMES: [&str; 3] = ["env", "ssm", "secretsmanager"];

/// A malformed reference; `offset` is the byte offset of its `${` in the string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    #[error("unclosed `${{`: expected `${{scheme:name}}` (write `$${{` for a literal `${{`)")]
    Unclosed { offset: usize },
    #[error("malformed reference `{text}`: expected `${{scheme:name}}` with scheme one of {schemes}", schemes = SCHEMES.join(", "))]
    Malformed { offset: usize, text: String },
    #[error("unknown reference scheme `{scheme}` in `{text}` (known schemes: {schemes})", schemes = SCHEMES.join(", "))]
    UnknownScheme {
        offset: usize,
        scheme: String,
        text: String,
    },
    #[error("environment variable `{name}` is not set (referenced as `${{env:{name}}}`)")]
    MissingEnv { offset: usize, name: String },
    #[error("environment variable `{name}` is not valid UTF-8")]
    NotUnicode { offset: usize, name: String },
    #[error("{scheme} reference `{name}` could not be resolved: {message}")]
    Unresolved {
        offset: usize,
        scheme: String,
        name: String,
        message: String,
    },
}

impl InterpolateError {
    /// Byte offset of the offending `${` in the string.
    pub fn offset(&self) -> usize {
        match self {
            InterpolateError::Unclosed { offset }
            | InterpolateError::Malformed { offset, .. }
            | InterpolateError::UnknownScheme { offset, .. }
            | InterpolateError::MissingEnv { offset, .. }
            | InterpolateError::NotUnicode { offset, .. }
            | InterpolateError::Unresolved { offset, .. } => *offset,
        }
    }
}

/// What a resolver does with one well-formed reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Replace the reference with this text.
    Replace(String),
    /// Leave the reference as written (`${scheme:name}`).
    Keep,
    /// `${env:NAME}` whose variable is not set.
    MissingEnv,
    /// `${env:NAME}` whose variable is not UTF-8.
    NotUnicode,
    /// Any other failure, with a message.
    Failed(String),
}

/// How [`expand`] treats `$${`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escapes {
    /// Turn `$${` into `${` (the value is final).
    Unescape,
    /// Keep `$${` as written (a later layer expands the value again).
    Keep,
}

/// Expands every `${scheme:name}` in `s` through `resolve(scheme, name)`. Borrows `s` when
/// nothing changed.
pub fn expand<'s, F>(
    s: &'s str,
    escapes: Escapes,
    mut resolve: F,
) -> Result<Cow<'s, str>, InterpolateError>
where
    F: FnMut(&str, &str) -> Resolution,
{
    if !s.contains("${") {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut rest_start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        // `$${` : escaped literal `${`.
        if s[i..].starts_with("$${") {
            match escapes {
                Escapes::Unescape => {
                    out.push_str(&s[rest_start..i]);
                    out.push_str("${");
                    changed = true;
                }
                Escapes::Keep => out.push_str(&s[rest_start..i + 3]),
            }
            i += 3;
            rest_start = i;
            continue;
        }
        if !s[i..].starts_with("${") {
            i += 1;
            continue;
        }
        let offset = i;
        let Some(close) = s[i + 2..].find('}') else {
            return Err(InterpolateError::Unclosed { offset });
        };
        let end = i + 2 + close + 1;
        let text = &s[i..end];
        let inner = &s[i + 2..end - 1];
        if inner.contains("${") {
            // `${a ${b}` — the first one is not closed.
            return Err(InterpolateError::Unclosed { offset });
        }
        let Some((scheme, name)) = inner.split_once(':') else {
            return Err(InterpolateError::Malformed {
                offset,
                text: text.to_string(),
            });
        };
        if scheme.is_empty() || name.is_empty() {
            return Err(InterpolateError::Malformed {
                offset,
                text: text.to_string(),
            });
        }
        if !SCHEMES.contains(&scheme) {
            return Err(InterpolateError::UnknownScheme {
                offset,
                scheme: scheme.to_string(),
                text: text.to_string(),
            });
        }
        match resolve(scheme, name) {
            Resolution::Replace(value) => {
                out.push_str(&s[rest_start..i]);
                out.push_str(&value);
                changed = true;
            }
            Resolution::Keep => out.push_str(&s[rest_start..end]),
            Resolution::MissingEnv => {
                return Err(InterpolateError::MissingEnv {
                    offset,
                    name: name.to_string(),
                });
            }
            Resolution::NotUnicode => {
                return Err(InterpolateError::NotUnicode {
                    offset,
                    name: name.to_string(),
                });
            }
            Resolution::Failed(message) => {
                return Err(InterpolateError::Unresolved {
                    offset,
                    scheme: scheme.to_string(),
                    name: name.to_string(),
                    message,
                });
            }
        }
        i = end;
        rest_start = end;
    }
    if !changed {
        return Ok(Cow::Borrowed(s));
    }
    out.push_str(&s[rest_start..]);
    Ok(Cow::Owned(out))
}

/// The resolver the rules stage uses: `${env:NAME}` from the process environment when
/// `resolve_env`, every other reference (and `${env:…}` when not `resolve_env`) kept.
pub fn env_resolver(resolve_env: bool) -> impl FnMut(&str, &str) -> Resolution {
    move |scheme, name| {
        if scheme != "env" || !resolve_env {
            return Resolution::Keep;
        }
        match std::env::var(name) {
            Ok(v) => Resolution::Replace(v),
            Err(std::env::VarError::NotPresent) => Resolution::MissingEnv,
            Err(std::env::VarError::NotUnicode(_)) => Resolution::NotUnicode,
        }
    }
}

/// As [`env_resolver`], looking `${env:NAME}` up in `vars` first and in the process environment
/// after (`audit-router test` files give values with `env = { NAME = "…" }`).
pub fn env_resolver_with(
    resolve_env: bool,
    vars: &std::collections::BTreeMap<String, String>,
) -> impl FnMut(&str, &str) -> Resolution + '_ {
    let mut process = env_resolver(resolve_env);
    move |scheme, name| match vars.get(name) {
        Some(v) if scheme == "env" && resolve_env => Resolution::Replace(v.clone()),
        _ => process(scheme, name),
    }
}

/// True when `s` still holds an `${env:…}` reference (only after a `resolve_env = false` load).
pub fn has_env_reference(s: &str) -> bool {
    let mut found = false;
    let _ = expand(s, Escapes::Keep, |scheme, _| {
        found |= scheme == "env";
        Resolution::Keep
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(scheme: &str, name: &str) -> Resolution {
        match (scheme, name) {
            ("env", "A") => Resolution::Replace("alpha".into()),
            ("env", _) => Resolution::MissingEnv,
            _ => Resolution::Keep,
        }
    }

    #[test]
    fn plain_strings_are_borrowed() {
        assert!(matches!(
            expand("no refs $ here {}", Escapes::Unescape, fixed),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn env_is_replaced_and_others_kept() {
        let got = expand(
            "x-${env:A}-${ssm:/p/q}-${secretsmanager:s}",
            Escapes::Unescape,
            fixed,
        );
        assert_eq!(got.unwrap(), "x-alpha-${ssm:/p/q}-${secretsmanager:s}");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            expand("a$${env:A}b", Escapes::Unescape, fixed).unwrap(),
            "a${env:A}b"
        );
        assert_eq!(
            expand("a$${env:A}b${env:A}", Escapes::Keep, fixed).unwrap(),
            "a$${env:A}balpha"
        );
        assert_eq!(expand("$$x", Escapes::Unescape, fixed).unwrap(), "$$x");
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(
            expand("abc ${env:B}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::MissingEnv {
                offset: 4,
                name: "B".into()
            }
        );
        assert_eq!(
            expand("ab${env:A", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Unclosed { offset: 2 }
        );
        assert_eq!(
            expand("${a ${env:A}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Unclosed { offset: 0 }
        );
        assert!(matches!(
            expand("x${vault:a}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::UnknownScheme { offset: 1, ref scheme, .. } if scheme == "vault"
        ));
        assert!(matches!(
            expand("${env}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Malformed { offset: 0, .. }
        ));
        assert!(matches!(
            expand("${env:}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Malformed { offset: 0, .. }
        ));
    }

    #[test]
    fn given_variables_come_before_the_process_environment() {
        let mut vars = std::collections::BTreeMap::new();
        vars.insert(
            "AUDIT_ROUTER_INTERPOLATE_TEST_GIVEN".to_string(),
            "given".to_string(),
        );
        let got = expand(
            "${env:AUDIT_ROUTER_INTERPOLATE_TEST_GIVEN} ${ssm:/x}",
            Escapes::Unescape,
            env_resolver_with(true, &vars),
        );
        assert_eq!(got.unwrap(), "given ${ssm:/x}");
        // Not given, not set: missing, as without `vars`.
        let missing = expand(
            "${env:AUDIT_ROUTER_INTERPOLATE_TEST_UNSET}",
            Escapes::Unescape,
            env_resolver_with(true, &vars),
        );
        assert!(matches!(missing, Err(InterpolateError::MissingEnv { .. })));
        // `check --no-env` keeps every reference, given or not.
        let kept = expand(
            "${env:AUDIT_ROUTER_INTERPOLATE_TEST_GIVEN}",
            Escapes::Unescape,
            env_resolver_with(false, &vars),
        );
        assert_eq!(kept.unwrap(), "${env:AUDIT_ROUTER_INTERPOLATE_TEST_GIVEN}");
    }

    #[test]
    fn detects_leftover_env_references() {
        assert!(has_env_reference("${env:X}"));
        assert!(!has_env_reference("$${env:X} ${ssm:/a}"));
    }
}
