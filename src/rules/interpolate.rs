//! `${scheme:name}` references in rules.toml string values.
//!
//! The rules stage resolves `${env:NAME}` from the process environment before validation; the
//! other schemes (`${ssm:/path}`, `${secretsmanager:name}`) are left as written for the sink layer
//! (`audit_router::secrets`). `$${` is an escaped, literal `${`. Both layers read strings with the
//! one parser, [`crate::sink_api::reference`].

use crate::sink_api::reference::{self, Piece};
use std::borrow::Cow;

pub use crate::sink_api::reference::{ReferenceError, SCHEMES};

/// A malformed or unresolvable reference; [`InterpolateError::offset`] is the byte offset of its
/// `${` in the string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    /// Not a well-formed reference (unclosed, malformed, unknown scheme).
    #[error(transparent)]
    Reference(#[from] ReferenceError),
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
            InterpolateError::Reference(e) => e.offset(),
            InterpolateError::MissingEnv { offset, .. }
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
    if reference::is_plain(s) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    for piece in reference::pieces(s) {
        match piece? {
            Piece::Text(t) => out.push_str(t),
            Piece::Escape => match escapes {
                Escapes::Unescape => {
                    out.push_str("${");
                    changed = true;
                }
                Escapes::Keep => out.push_str("$${"),
            },
            Piece::Reference(r) => {
                let (offset, scheme, name) = (r.offset, r.scheme, r.name);
                match resolve(scheme, name) {
                    Resolution::Replace(value) => {
                        out.push_str(&value);
                        changed = true;
                    }
                    Resolution::Keep => out.push_str(r.text),
                    Resolution::MissingEnv => {
                        let name = name.to_string();
                        return Err(InterpolateError::MissingEnv { offset, name });
                    }
                    Resolution::NotUnicode => {
                        let name = name.to_string();
                        return Err(InterpolateError::NotUnicode { offset, name });
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
            }
        }
    }
    Ok(if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    })
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
    reference::pieces(s).any(|p| matches!(p, Ok(Piece::Reference(r)) if r.scheme == "env"))
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
            InterpolateError::Reference(ReferenceError::Unclosed { offset: 2 })
        );
        assert_eq!(
            expand("${a ${env:A}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Reference(ReferenceError::Unclosed { offset: 0 })
        );
        assert!(matches!(
            expand("x${vault:a}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Reference(ReferenceError::UnknownScheme { offset: 1, ref scheme, .. }) if scheme == "vault"
        ));
        assert!(matches!(
            expand("${env}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Reference(ReferenceError::Malformed { offset: 0, .. })
        ));
        assert!(matches!(
            expand("${env:}", Escapes::Unescape, fixed).unwrap_err(),
            InterpolateError::Reference(ReferenceError::Malformed { offset: 0, .. })
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
