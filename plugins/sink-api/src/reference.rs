//! The one reader of `${scheme:name}` references and the `$${` escape, shared by the rules
//! stage (which resolves `${env:…}` when rules.toml loads) and the secret resolvers (which
//! resolve what is left when a sink first sends).
//!
//! A string is a sequence of [`Piece`]s: text as written, `$${` (an escaped, literal `${`), and
//! well-formed references whose scheme is one of [`SCHEMES`]. A `${` that does not start a
//! well-formed reference is an error, never passed through as text.

use std::borrow::Cow;

/// The reference schemes rules.toml knows.
pub const SCHEMES: [&str; 3] = ["env", "ssm", "secretsmanager"];

/// One well-formed reference: `text` is `${scheme:name}` as written, `offset` the byte offset
/// of its `${` in the string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference<'s> {
    pub offset: usize,
    pub text: &'s str,
    pub scheme: &'s str,
    pub name: &'s str,
}

/// A part of a string, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'s> {
    /// Text as written (never empty).
    Text(&'s str),
    /// `$${`: a literal `${`.
    Escape,
    /// `${scheme:name}`.
    Reference(Reference<'s>),
}

/// A `${` that is not a well-formed reference; `offset` is the byte offset of its `${`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
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
}

impl ReferenceError {
    /// Byte offset of the offending `${` in the string.
    pub fn offset(&self) -> usize {
        match self {
            ReferenceError::Unclosed { offset }
            | ReferenceError::Malformed { offset, .. }
            | ReferenceError::UnknownScheme { offset, .. } => *offset,
        }
    }

    /// The offending text as written (at most 40 characters of an unclosed one), which is not
    /// itself secret: it is the part of the setting that failed to be a reference.
    pub fn text<'s>(&self, s: &'s str) -> &'s str {
        match self {
            ReferenceError::Unclosed { offset } => {
                let rest = &s[*offset..];
                let end = rest.char_indices().nth(40).map_or(rest.len(), |(i, _)| i);
                &rest[..end]
            }
            ReferenceError::Malformed { offset, text }
            | ReferenceError::UnknownScheme { offset, text, .. } => {
                &s[*offset..*offset + text.len()]
            }
        }
    }
}

/// The pieces of `s`, left to right; after an error, nothing more.
pub fn pieces(s: &str) -> Pieces<'_> {
    Pieces {
        s,
        pos: 0,
        done: false,
    }
}

/// Iterator of [`pieces`].
#[derive(Clone, Debug)]
pub struct Pieces<'s> {
    s: &'s str,
    pos: usize,
    done: bool,
}

impl<'s> Iterator for Pieces<'s> {
    type Item = Result<Piece<'s>, ReferenceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.s.len() {
            return None;
        }
        let rest = &self.s[self.pos..];
        let Some(d) = rest.find("${") else {
            self.pos = self.s.len();
            return Some(Ok(Piece::Text(rest)));
        };
        // `$${` is an escape; scanning left to right, the `$` before the first `${` is its
        // start (in `$$${`, the first `$` is text and `$${` the escape).
        let escaped = d > 0 && rest.as_bytes()[d - 1] == b'$';
        let start = if escaped { d - 1 } else { d };
        if start > 0 {
            self.pos += start;
            return Some(Ok(Piece::Text(&rest[..start])));
        }
        if escaped {
            self.pos += 3;
            return Some(Ok(Piece::Escape));
        }
        let offset = self.pos;
        let fail = |this: &mut Self, e| {
            this.done = true;
            Some(Err(e))
        };
        let Some(close) = rest[2..].find('}') else {
            return fail(self, ReferenceError::Unclosed { offset });
        };
        let end = 2 + close + 1;
        let text = &rest[..end];
        let inner = &rest[2..end - 1];
        if inner.contains("${") {
            // `${a ${b}`: the first one is not closed.
            return fail(self, ReferenceError::Unclosed { offset });
        }
        let (scheme, name) = match inner.split_once(':') {
            Some((scheme, name)) if !scheme.is_empty() && !name.is_empty() => (scheme, name),
            _ => {
                let text = text.to_string();
                return fail(self, ReferenceError::Malformed { offset, text });
            }
        };
        if !SCHEMES.contains(&scheme) {
            let (scheme, text) = (scheme.to_string(), text.to_string());
            return fail(
                self,
                ReferenceError::UnknownScheme {
                    offset,
                    scheme,
                    text,
                },
            );
        }
        self.pos += end;
        Some(Ok(Piece::Reference(Reference {
            offset,
            text,
            scheme,
            name,
        })))
    }
}

/// True when `s` is only text: no reference, no `$${`, no `${` at all. Such a value is final
/// as written.
pub fn is_plain(s: &str) -> bool {
    !s.contains("${")
}

/// True when `s` holds at least one well-formed reference.
pub fn has_reference(s: &str) -> bool {
    pieces(s).any(|p| matches!(p, Ok(Piece::Reference(_))))
}

/// `s` with each `$${` turned into `${` and references kept as written: the final text of a
/// setting that is never resolved (a subject, a content type). Borrows `s` when nothing changed.
pub fn unescape(s: &str) -> Result<Cow<'_, str>, ReferenceError> {
    if is_plain(s) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    for piece in pieces(s) {
        match piece? {
            Piece::Text(t) => out.push_str(t),
            Piece::Escape => out.push_str("${"),
            Piece::Reference(r) => out.push_str(r.text),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<Result<Piece<'_>, ReferenceError>> {
        pieces(s).collect()
    }

    #[test]
    fn splits_text_escapes_and_references() {
        assert_eq!(all(""), []);
        assert_eq!(all("plain $ {x}"), [Ok(Piece::Text("plain $ {x}"))]);
        assert_eq!(
            all("a$${env:A}b${ssm:/p}"),
            [
                Ok(Piece::Text("a")),
                Ok(Piece::Escape),
                Ok(Piece::Text("env:A}b")),
                Ok(Piece::Reference(Reference {
                    offset: 11,
                    text: "${ssm:/p}",
                    scheme: "ssm",
                    name: "/p"
                })),
            ]
        );
        // `$$${x}`: a `$`, then the escape, then text.
        assert_eq!(
            all("$$${x}"),
            [
                Ok(Piece::Text("$")),
                Ok(Piece::Escape),
                Ok(Piece::Text("x}"))
            ]
        );
    }

    #[test]
    fn errors_carry_offsets_and_stop() {
        assert_eq!(
            all("ab${env:A"),
            [
                Ok(Piece::Text("ab")),
                Err(ReferenceError::Unclosed { offset: 2 })
            ]
        );
        assert_eq!(
            all("${a ${env:A}"),
            [Err(ReferenceError::Unclosed { offset: 0 })]
        );
        let e = all("x${vault:a}${env:B}").pop().unwrap().unwrap_err();
        assert!(
            matches!(e, ReferenceError::UnknownScheme { offset: 1, ref scheme, .. } if scheme == "vault")
        );
        assert_eq!(e.text("x${vault:a}${env:B}"), "${vault:a}");
        for bad in ["${env}", "${env:}", "${:x}"] {
            assert!(
                matches!(
                    all(bad)[..],
                    [Err(ReferenceError::Malformed { offset: 0, .. })]
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn unescapes_and_detects() {
        assert!(matches!(unescape("plain"), Ok(Cow::Borrowed("plain"))));
        assert_eq!(
            unescape("cost $${x} ${ssm:/a}").unwrap(),
            "cost ${x} ${ssm:/a}"
        );
        assert!(unescape("${nope").is_err());
        assert!(has_reference("Bearer ${secretsmanager:tok}"));
        assert!(!has_reference("$${env:X}"));
        assert!(!is_plain("$${env:X}"));
        assert!(is_plain("$ {}"));
    }
}
