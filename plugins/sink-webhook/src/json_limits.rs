//! Limits on the parts of a JSON body, as data (`json_limits = [...]` in `[sinks.NAME]`): what a
//! service refuses beyond a body size, such as Discord's 2 000 characters of `content` and
//! 6 000 characters of embed text, or Google Chat's 4 096 characters of `text`.
//!
//! ```toml
//! json_limits = [
//!   { path = "/content", max_chars = 2000 },          # every string at the path
//!   { path = "/embeds", max_items = 10 },             # every array at the path
//!   { paths = ["/embeds/*/title", "/embeds/*/description"], max_total_chars = 6000 },
//! ]
//! ```
//!
//! A path is a JSON Pointer (RFC 6901: `/a/0/b`, `~1` for `/`, `~0` for `~`) in which a `*`
//! segment stands for every element of an array or every member of an object. A path that
//! matches nothing in a body limits nothing there. Characters are Unicode scalar values.
//! The renderer lists fewer findings (or splits) until every limit holds, as it does for
//! `max_body_bytes`.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Any,
    Name(String),
}

/// What a limit bounds: the characters of each string, the items of each array, or the
/// characters of all strings together.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Chars(usize),
    Items(usize),
    TotalChars(usize),
}

/// The keys of a `json_limits` entry.
pub const KEYS: &[&str] = &["path", "paths", "max_chars", "max_items", "max_total_chars"];

/// One `json_limits` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonLimit {
    paths: Vec<Vec<Seg>>,
    rule: Rule,
    /// The paths as written, for messages.
    label: String,
}

fn parse_pointer(p: &str) -> Result<Vec<Seg>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!(
            "{p:?} is not a JSON Pointer: it must start with '/'"
        ));
    };
    rest.split('/')
        .map(|s| {
            if s == "*" {
                return Ok(Seg::Any);
            }
            let mut out = String::with_capacity(s.len());
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("{p:?}: '~' must be followed by 0 or 1")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(Seg::Name(out))
        })
        .collect()
}

/// Every value at `path` below `v`.
fn select<'v>(v: &'v Value, path: &[Seg], out: &mut Vec<&'v Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match (first, v) {
        (Seg::Any, Value::Array(a)) => a.iter().for_each(|x| select(x, rest, out)),
        (Seg::Any, Value::Object(o)) => o.values().for_each(|x| select(x, rest, out)),
        (Seg::Name(n), Value::Array(a)) => {
            if let Some(x) = n.parse::<usize>().ok().and_then(|i| a.get(i)) {
                select(x, rest, out)
            }
        }
        (Seg::Name(n), Value::Object(o)) => {
            if let Some(x) = o.get(n) {
                select(x, rest, out)
            }
        }
        _ => {}
    }
}

impl JsonLimit {
    /// Reads one `json_limits` entry (`at` names it in errors: `json_limits[2]`).
    pub fn from_toml(v: &toml::Value, at: &str) -> Result<JsonLimit, (String, String)> {
        let err = |key: &str, msg: String| (format!("{at}.{key}"), msg);
        let t = v.as_table().ok_or_else(|| {
            (
                at.to_owned(),
                format!(
                    "expected a table like {{ path = \"/text\", max_chars = 4096 }}, found {}",
                    v.type_str()
                ),
            )
        })?;
        for k in t.keys() {
            if !KEYS.contains(&k.as_str()) {
                return Err(err(
                    k,
                    "unknown key (known: \"path\", \"paths\", \"max_chars\", \"max_items\", \"max_total_chars\")".into(),
                ));
            }
        }
        let strings: Vec<String> = match (t.get("path"), t.get("paths")) {
            (Some(toml::Value::String(p)), None) => vec![p.clone()],
            (None, Some(toml::Value::Array(a))) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    p.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| err(&format!("paths[{i}]"), "expected a string".into()))
                })
                .collect::<Result<_, _>>()?,
            (Some(_), Some(_)) => {
                return Err(err("paths", "give `path` or `paths`, not both".into()));
            }
            (Some(_), None) => return Err(err("path", "expected a JSON Pointer string".into())),
            (None, Some(_)) => {
                return Err(err(
                    "paths",
                    "expected a non-empty list of JSON Pointers".into(),
                ));
            }
            (None, None) => return Err((at.to_owned(), "needs a `path` (or `paths`)".into())),
        };
        let key = if t.contains_key("path") {
            "path"
        } else {
            "paths"
        };
        let paths = strings
            .iter()
            .map(|p| parse_pointer(p).map_err(|e| err(key, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let num = |k: &str| -> Result<Option<usize>, (String, String)> {
            match t.get(k) {
                None => Ok(None),
                Some(toml::Value::Integer(n)) if *n >= 1 => Ok(Some(*n as usize)),
                Some(other) => Err(err(
                    k,
                    format!("expected a positive integer, found {other}"),
                )),
            }
        };
        let rules = [
            num("max_chars")?.map(Rule::Chars),
            num("max_items")?.map(Rule::Items),
            num("max_total_chars")?.map(Rule::TotalChars),
        ];
        let mut given = rules.into_iter().flatten();
        let (Some(rule), None) = (given.next(), given.next()) else {
            return Err((
                at.to_owned(),
                "needs exactly one of `max_chars`, `max_items`, `max_total_chars`".into(),
            ));
        };
        if paths.len() > 1 && !matches!(rule, Rule::TotalChars(_)) {
            return Err(err(
                "paths",
                "several paths go with `max_total_chars`; use `path` for the others".into(),
            ));
        }
        Ok(JsonLimit {
            paths,
            rule,
            label: strings.join(", "),
        })
    }

    /// Why `body` breaks this limit, if it does.
    pub fn check(&self, body: &Value) -> Result<(), String> {
        let mut found = Vec::new();
        for p in &self.paths {
            select(body, p, &mut found);
        }
        let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        match self.rule {
            Rule::Chars(max) => match found.iter().map(|v| chars(v)).max() {
                Some(n) if n > max => Err(format!("{} has {n} characters, over {max}", self.label)),
                _ => Ok(()),
            },
            Rule::Items(max) => {
                match found
                    .iter()
                    .filter_map(|v| v.as_array())
                    .map(Vec::len)
                    .max()
                {
                    Some(n) if n > max => Err(format!("{} has {n} items, over {max}", self.label)),
                    _ => Ok(()),
                }
            }
            Rule::TotalChars(max) => {
                let n: usize = found.iter().map(|v| chars(v)).sum();
                if n > max {
                    Err(format!(
                        "{} hold {n} characters in all, over {max}",
                        self.label
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The first limit `body` (JSON text) breaks.
pub fn check_all(limits: &[JsonLimit], body: &str) -> Result<(), String> {
    if limits.is_empty() {
        return Ok(());
    }
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    limits.iter().try_for_each(|l| l.check(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limit(s: &str) -> JsonLimit {
        let v: toml::Value =
            toml::from_str::<toml::Table>(&format!("x = {s}")).unwrap()["x"].clone();
        JsonLimit::from_toml(&v, "json_limits[0]").unwrap()
    }

    #[test]
    fn pointers_with_wildcards_select_every_match() {
        let body = json!({"content": "abcdé", "embeds": [
            {"title": "t1", "fields": [{"name": "n", "value": "vvv"}]},
            {"title": "title2", "fields": []}
        ], "a/b": {"~": "x"}});
        assert!(
            limit("{ path = \"/content\", max_chars = 5 }")
                .check(&body)
                .is_ok()
        );
        let e = limit("{ path = \"/content\", max_chars = 4 }")
            .check(&body)
            .unwrap_err();
        assert_eq!(e, "/content has 5 characters, over 4");
        assert!(
            limit("{ path = \"/embeds\", max_items = 2 }")
                .check(&body)
                .is_ok()
        );
        assert!(
            limit("{ path = \"/embeds\", max_items = 1 }")
                .check(&body)
                .is_err()
        );
        let total =
            "{ paths = [\"/embeds/*/title\", \"/embeds/*/fields/*/value\"], max_total_chars = 11 }";
        assert!(limit(total).check(&body).is_ok());
        let e = limit(&total.replace("11", "10")).check(&body).unwrap_err();
        assert!(e.contains("hold 11 characters in all, over 10"), "{e}");
        assert!(
            limit("{ path = \"/embeds/1/title\", max_chars = 6 }")
                .check(&body)
                .is_ok()
        );
        assert!(
            limit("{ path = \"/embeds/1/title\", max_chars = 5 }")
                .check(&body)
                .is_err()
        );
        assert!(
            limit("{ path = \"/a~1b/~0\", max_chars = 1 }")
                .check(&body)
                .is_ok()
        );
        assert!(
            limit("{ path = \"/nothing/here\", max_chars = 1 }")
                .check(&body)
                .is_ok()
        );
    }

    #[test]
    fn bad_entries_name_the_key() {
        let bad = |s: &str| {
            let v: toml::Value =
                toml::from_str::<toml::Table>(&format!("x = {s}")).unwrap()["x"].clone();
            JsonLimit::from_toml(&v, "json_limits[1]").unwrap_err()
        };
        assert_eq!(bad("{ max_chars = 3 }").0, "json_limits[1]");
        assert_eq!(
            bad("{ path = \"text\", max_chars = 3 }").0,
            "json_limits[1].path"
        );
        assert!(bad("{ path = \"/t\" }").1.contains("exactly one of"));
        assert!(
            bad("{ path = \"/t\", max_chars = 1, max_items = 2 }")
                .1
                .contains("exactly one of")
        );
        assert_eq!(
            bad("{ path = \"/t\", max_chars = 0 }").0,
            "json_limits[1].max_chars"
        );
        assert_eq!(bad("{ path = \"/t\", max = 3 }").0, "json_limits[1].max");
        assert_eq!(
            bad("{ paths = [\"/a\", \"/b\"], max_chars = 3 }").0,
            "json_limits[1].paths"
        );
        assert_eq!(bad("\"/text\"").0, "json_limits[1]");
    }
}
