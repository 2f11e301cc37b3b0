//! Match patterns: globs (`*`, `?`, whole value, case-sensitive), `re:` regexes (whole value) and
//! their `!` negations, compiled once per rule field so matching a finding never compiles a regex
//! nor allocates.

use regex::{Regex, RegexSet};
use std::collections::HashSet;

/// `HashMap`/`HashSet` hasher for the routing tables: foldhash's fixed-seed "fast" variant
/// (folded 64×64→128-bit multiplies, 16 bytes per round, short strings in one), already in the
/// build through hashbrown. Finding values are short (account IDs, control names), where
/// SipHash's per-call cost dominates a lookup; a hand-written FxHash-style hasher (8 bytes per
/// serial multiply, plus a round for `str`'s terminator) was the largest single cost of routing
/// a CSV row (BENCHMARKS.md). Keys from reports only reach the bounded routing memo, never an
/// unbounded table.
pub type FastBuild = foldhash::fast::FixedState;

/// The shape of one pattern, after its `!` and `re:` prefixes are taken off.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// No glob metacharacter: the value must equal it.
    Literal(String),
    /// A glob with `*` / `?`.
    Glob(String),
    /// The regex source after `re:` (anchored to the whole value when compiled).
    Regex(String),
}

/// One pattern as written in rules.toml.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PatternSpec {
    /// The text as written (after `${env:…}` interpolation), e.g. `!re:^us-.*$`.
    pub text: String,
    pub negative: bool,
    pub kind: PatternKind,
}

impl PatternSpec {
    /// Parses `text`. Errors (a message) for an empty pattern.
    pub fn parse(text: &str) -> Result<PatternSpec, String> {
        let (negative, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let kind = if let Some(re) = body.strip_prefix("re:") {
            if re.is_empty() {
                return Err(format!("empty regex in pattern \"{text}\""));
            }
            PatternKind::Regex(re.to_string())
        } else if body.is_empty() {
            return Err(if negative {
                "empty negative pattern \"!\": write `!` followed by a glob or `re:` regex"
                    .to_string()
            } else {
                "empty pattern: a null field matches no pattern, and report fields are never empty"
                    .to_string()
            });
        } else if body.contains(['*', '?']) {
            PatternKind::Glob(body.to_string())
        } else {
            PatternKind::Literal(body.to_string())
        };
        Ok(PatternSpec {
            text: text.to_string(),
            negative,
            kind,
        })
    }

    /// A pattern that matches exactly `value` (used when a value cannot be a pattern, e.g. an
    /// unresolved `${env:…}` reference in `check --no-env`).
    pub fn literal(value: &str) -> PatternSpec {
        PatternSpec {
            text: value.to_string(),
            negative: false,
            kind: PatternKind::Literal(value.to_string()),
        }
    }

    /// The regex source equivalent to this pattern (anchored), for globs and regexes.
    fn regex_source(&self) -> Option<String> {
        match &self.kind {
            PatternKind::Literal(_) => None,
            PatternKind::Glob(g) => Some(glob_to_regex(g)),
            PatternKind::Regex(r) => Some(format!("^(?:{r})$")),
        }
    }
}

/// `prod-*` → `^(?s:prod\-.*)$`.
pub fn glob_to_regex(glob: &str) -> String {
    let mut re = String::with_capacity(glob.len() + 10);
    re.push_str("^(?s:");
    let mut buf = [0u8; 4];
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    re.push_str(")$");
    re
}

/// One compiled pattern (used for explanations and set-inclusion checks).
#[derive(Clone, Debug)]
pub enum Single {
    Any,
    Literal(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Regex(Regex),
}

impl Single {
    /// Compiles `spec`; the error is the regex error, reduced to its message.
    pub fn compile(spec: &PatternSpec) -> Result<Single, String> {
        match &spec.kind {
            PatternKind::Literal(l) => Ok(Single::Literal(l.as_str().into())),
            PatternKind::Glob(g) => {
                if g == "*" {
                    return Ok(Single::Any);
                }
                let inner = &g[..g.len().saturating_sub(1)];
                if g.ends_with('*') && !inner.contains(['*', '?']) {
                    return Ok(Single::Prefix(inner.into()));
                }
                if let Some(rest) = g.strip_prefix('*')
                    && !rest.contains(['*', '?'])
                {
                    return Ok(Single::Suffix(rest.into()));
                }
                compile_regex(&glob_to_regex(g)).map(Single::Regex)
            }
            PatternKind::Regex(_) => {
                // regex_source is Some for every non-literal kind.
                let src = spec.regex_source().unwrap_or_default();
                compile_regex(&src).map(Single::Regex)
            }
        }
    }

    pub fn is_match(&self, value: &str) -> bool {
        match self {
            Single::Any => true,
            Single::Literal(l) => **l == *value,
            Single::Prefix(p) => value.starts_with(&**p),
            Single::Suffix(s) => value.ends_with(&**s),
            Single::Regex(r) => r.is_match(value),
        }
    }
}

fn compile_regex(src: &str) -> Result<Regex, String> {
    Regex::new(src).map_err(|e| regex_message(&e))
}

/// The regex crate's error, without its multi-line caret diagram.
fn regex_message(e: &regex::Error) -> String {
    let full = e.to_string();
    match full.lines().rev().find_map(|l| l.strip_prefix("error: ")) {
        Some(msg) => msg.to_string(),
        None => full.lines().map(str::trim).collect::<Vec<_>>().join(" "),
    }
}

/// The patterns of one polarity, grouped for fast matching.
#[derive(Clone, Debug, Default)]
struct PatternList {
    any: bool,
    literals: Vec<Box<str>>,
    literal_set: Option<HashSet<Box<str>, FastBuild>>,
    prefixes: Vec<Box<str>>,
    suffixes: Vec<Box<str>>,
    regexes: Vec<Regex>,
    regex_set: Option<RegexSet>,
    /// Texts every match of `regexes` starts with, when the regexes say so (a glob's text
    /// before its first wildcard; for `re:` see [`anchored_prefixes`]): a value starting with
    /// none of them is no match, decided without running a regex (a call costs hundreds of
    /// instructions, a prefix compare a few).
    regex_prefixes: Option<Vec<Box<[u8]>>>,
    len: usize,
}

/// Most literal prefixes kept for a list's regexes; past that the regexes run alone.
const MAX_REGEX_PREFIXES: usize = 16;

/// The literals one of which begins every match of `source`, when every match starts at the
/// start of the value (`^`, as [`PatternSpec::regex_source`] anchors it) and the regex's
/// prefixes form a short finite list of non-empty literals; `None` otherwise (nothing can be
/// decided without the regex).
fn anchored_prefixes(source: &str) -> Option<Vec<Box<[u8]>>> {
    use regex_syntax::hir::Look;
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::parse(source).ok()?;
    if !hir.properties().look_set_prefix().contains(Look::Start) {
        return None;
    }
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix);
    let seq = extractor.extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty()
        || literals.len() > MAX_REGEX_PREFIXES
        || literals.iter().any(|l| l.as_bytes().is_empty())
    {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().into()).collect())
}

/// Above this many literals a hash set beats comparing one by one.
const LITERAL_SET_MIN: usize = 8;

impl PatternList {
    fn push(&mut self, spec: &PatternSpec, single: &Single) {
        self.len += 1;
        match single {
            Single::Any => self.any = true,
            Single::Literal(l) => self.literals.push(l.clone()),
            Single::Prefix(p) => self.prefixes.push(p.clone()),
            Single::Suffix(s) => self.suffixes.push(s.clone()),
            Single::Regex(r) => {
                // The texts this regex's matches start with, added to the list's (the first
                // regex starts it; one without any ends it for good).
                let mine = match &spec.kind {
                    // A glob's text before its first wildcard: no regex parse needed.
                    PatternKind::Glob(g) => {
                        let head = &g[..g.find(['*', '?']).unwrap_or(g.len())];
                        (!head.is_empty()).then(|| vec![head.as_bytes().into()])
                    }
                    _ => anchored_prefixes(r.as_str()),
                };
                self.regex_prefixes = match (self.regexes.is_empty(), self.regex_prefixes.take()) {
                    (true, _) => mine,
                    (false, Some(mut all)) => mine.and_then(|m| {
                        all.extend(m);
                        (all.len() <= MAX_REGEX_PREFIXES).then_some(all)
                    }),
                    (false, None) => None,
                };
                self.regexes.push(r.clone());
            }
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        if self.literals.len() >= LITERAL_SET_MIN {
            self.literal_set = Some(self.literals.iter().cloned().collect());
        }
        if self.regexes.len() > 1 {
            let set = RegexSet::new(self.regexes.iter().map(|r| r.as_str()))
                .map_err(|e| regex_message(&e))?;
            self.regex_set = Some(set);
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn is_match(&self, value: &str) -> bool {
        if self.any {
            return true;
        }
        let literal = match &self.literal_set {
            Some(set) => set.contains(value),
            None => self.literals.iter().any(|l| **l == *value),
        };
        if literal
            || self.prefixes.iter().any(|p| value.starts_with(&**p))
            || self.suffixes.iter().any(|s| value.ends_with(&**s))
        {
            return true;
        }
        if let Some(prefixes) = &self.regex_prefixes
            && !prefixes.iter().any(|p| value.as_bytes().starts_with(p))
        {
            return false;
        }
        match (&self.regex_set, self.regexes.first()) {
            (Some(set), _) => set.is_match(value),
            (None, Some(re)) => re.is_match(value),
            (None, None) => false,
        }
    }

    /// Literal-only lists: their literals (for the routing index).
    fn only_literals(&self) -> Option<&[Box<str>]> {
        (self.len > 0 && self.literals.len() == self.len).then_some(&self.literals[..])
    }
}

/// A field's positive patterns by shape, for the routing index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PositiveParts<'a> {
    /// The value equals one of these.
    pub literals: Vec<&'a str>,
    /// The value starts with one of these (`prefix*` globs).
    pub prefixes: Vec<&'a str>,
    /// The value ends with one of these (`*suffix` globs).
    pub suffixes: Vec<&'a str>,
    /// The value matches one of these anchored regex sources (other globs, `re:` regexes).
    pub sources: Vec<String>,
}

/// Every pattern a rule (or silence) gives for one field.
#[derive(Clone, Debug)]
pub struct FieldMatcher {
    /// Index into [`crate::sink_api::MATCH_FIELDS`].
    pub field: usize,
    specs: Vec<(PatternSpec, Single)>,
    pos: PatternList,
    neg: PatternList,
}

impl FieldMatcher {
    /// Builds a matcher from compiled patterns (each compiled with [`Single::compile`]).
    pub fn new(field: usize, specs: Vec<(PatternSpec, Single)>) -> Result<FieldMatcher, String> {
        let mut pos = PatternList::default();
        let mut neg = PatternList::default();
        for (spec, single) in &specs {
            if spec.negative {
                neg.push(spec, single);
            } else {
                pos.push(spec, single);
            }
        }
        pos.finish()?;
        neg.finish()?;
        Ok(FieldMatcher {
            field,
            specs,
            pos,
            neg,
        })
    }

    pub fn specs(&self) -> impl Iterator<Item = &PatternSpec> {
        self.specs.iter().map(|(s, _)| s)
    }

    /// At least one positive pattern (or none given) and no negative one; a null value fails
    /// any positive pattern and passes every negative one.
    #[inline]
    pub fn is_match(&self, value: Option<&str>) -> bool {
        match value {
            None => self.pos.is_empty(),
            Some(v) => (self.pos.is_empty() || self.pos.is_match(v)) && !self.neg.is_match(v),
        }
    }

    /// Whether the field has a `!` pattern.
    pub fn has_negatives(&self) -> bool {
        !self.neg.is_empty()
    }

    /// The literals when every positive pattern is a literal (there is at least one).
    pub fn positive_literals(&self) -> Option<&[Box<str>]> {
        self.pos.only_literals()
    }

    /// The positive patterns split for the routing index (a value passes the positive side
    /// iff it passes one of the parts). `None` when there is no positive pattern or one is `*`
    /// (then the field cannot narrow the rule down).
    pub fn positive_parts(&self) -> Option<PositiveParts<'_>> {
        if self.pos.is_empty() || self.pos.any {
            return None;
        }
        let mut parts = PositiveParts::default();
        for (spec, single) in self.specs.iter().filter(|(s, _)| !s.negative) {
            match single {
                Single::Any => return None,
                Single::Literal(l) => parts.literals.push(l),
                Single::Prefix(p) => parts.prefixes.push(p),
                Single::Suffix(x) => parts.suffixes.push(x),
                Single::Regex(_) => parts.sources.push(spec.regex_source()?),
            }
        }
        Some(parts)
    }

    /// One human line: why `value` does or does not pass this field.
    pub fn explain(&self, name: &str, value: Option<&str>) -> String {
        let shown = match value {
            Some(v) => format!("{v:?}"),
            None => "null".to_string(),
        };
        let quoted = |negative: bool| -> Vec<String> {
            self.specs
                .iter()
                .filter(|(s, _)| s.negative == negative)
                .map(|(s, _)| format!("{:?}", s.text))
                .collect()
        };
        let list = |items: &[String]| -> String {
            if items.len() == 1 {
                items[0].clone()
            } else {
                format!("any of {}", items.join(", "))
            }
        };
        let positives = quoted(false);
        let negatives = quoted(true);
        let positive_hit = value.and_then(|v| {
            self.specs
                .iter()
                .find(|(s, c)| !s.negative && c.is_match(v))
                .map(|(s, _)| s.text.as_str())
        });
        let negative_hit = value.and_then(|v| {
            self.specs
                .iter()
                .find(|(s, c)| s.negative && c.is_match(v))
                .map(|(s, _)| s.text.as_str())
        });
        if !positives.is_empty() && positive_hit.is_none() {
            return format!("{name} {shown} does not match {}", list(&positives));
        }
        if let Some(neg) = negative_hit {
            return format!("{name} {shown} is excluded by {neg:?}");
        }
        let mut line = match positive_hit {
            Some(pos) => format!("{name} {shown} matches {pos:?}"),
            None => format!("{name} {shown}"),
        };
        if !negatives.is_empty() {
            if positive_hit.is_some() {
                line.push_str(" and");
            }
            line.push_str(&format!(" is not excluded by {}", list(&negatives)));
        }
        line
    }

    /// Sound, conservative: true only when every value `later` accepts is accepted by `self`.
    pub fn covers(&self, later: &FieldMatcher) -> bool {
        // A later field limited to literals: try each literal against self.
        if let Some(lits) = later.pos.only_literals() {
            return lits.iter().all(|l| self.is_match(Some(l)));
        }
        let negatives_included = self
            .specs()
            .filter(|s| s.negative)
            .all(|s| later.specs().any(|l| l.negative && l.kind == s.kind));
        if !negatives_included {
            return false;
        }
        if self.pos.is_empty() {
            return true;
        }
        if later.pos.is_empty() {
            // later accepts null (and anything not excluded); self needs a positive: no.
            return false;
        }
        if self.pos.any {
            return true;
        }
        later
            .specs()
            .filter(|l| !l.negative)
            .all(|l| self.specs().any(|s| !s.negative && s.kind == l.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> FieldMatcher {
        let specs = patterns
            .iter()
            .map(|p| {
                let spec = PatternSpec::parse(p).unwrap();
                let single = Single::compile(&spec).unwrap();
                (spec, single)
            })
            .collect();
        FieldMatcher::new(0, specs).unwrap()
    }

    #[test]
    fn glob_shapes() {
        let m = matcher(&["prod-*"]);
        assert!(m.is_match(Some("prod-x")));
        assert!(m.is_match(Some("prod-")));
        assert!(!m.is_match(Some("xprod-x")));
        assert!(!m.is_match(Some("Prod-x")));
        let m = matcher(&["*-policy"]);
        assert!(m.is_match(Some("prod-backup-policy")));
        assert!(!m.is_match(Some("prod-backup-policy2")));
        let m = matcher(&["a?c*d"]);
        assert!(m.is_match(Some("abcxxd")));
        assert!(m.is_match(Some("abcd")));
        assert!(!m.is_match(Some("acd")));
        // Regex metacharacters in globs are literal; `.` in particular.
        let m = matcher(&["a.b*"]);
        assert!(m.is_match(Some("a.bc")));
        assert!(!m.is_match(Some("axbc")));
        // Globs span newlines too.
        assert!(matcher(&["a*b"]).is_match(Some("a\nb")));
    }

    #[test]
    fn literal_sets_and_regex_sets() {
        let many: Vec<String> = (0..20).map(|i| format!("acct{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let m = matcher(&refs);
        assert!(m.is_match(Some("acct19")));
        assert!(!m.is_match(Some("acct20")));
        assert_eq!(m.positive_literals().map(<[_]>::len), Some(20));
        let m = matcher(&["re:^a+$", "re:b+", "x*y*z"]);
        assert!(m.is_match(Some("aaa")));
        assert!(m.is_match(Some("bbb")));
        assert!(!m.is_match(Some("abb")));
        assert!(m.is_match(Some("x1y2z")));
        assert!(m.positive_literals().is_none());
    }

    /// The literal-prefix check in front of the regexes never changes a verdict: every
    /// pattern list below matches exactly the values its regexes match, run one by one on the
    /// anchored sources — alternations, optional and repeated starts, classes, case-insensitive
    /// and Unicode text, `(?m)`, and a source that escapes its anchoring group.
    #[test]
    fn regex_prefixes_decide_as_the_regexes_do() {
        let lists: &[&[&str]] = &[
            &["re:^AWS::EC2::Instance/i-91[0-9a-f]+$"],
            &["re:AWS::(EC2|RDS)::.*"],
            &["re:arn:aws:backup:us-.*", "re:arn:aws:rds:.*"],
            &["re:(?i)prod-[a-z]+"],
            &["re:(?i)ÉTÉ.*"],
            &["re:x?abc"],
            &["re:(ab)*c"],
            &["re:[a-c]x.*"],
            &["re:.*-prod"],
            &["re:a)|(?m:^b)|(?:c"],
            &["re:(?m)^b.*"],
            &["re:prod-*", "re:.*"],
            &["acct?-*", "x*y", "exact"],
        ];
        let values = [
            "",
            "AWS::EC2::Instance/i-91ab",
            "AWS::EC2::Instance/i-92ab",
            "AWS::RDS::DBInstance/db-1",
            "arn:aws:backup:us-east-1:1:x",
            "arn:aws:rds:eu-west-1:1:db",
            "PROD-abc",
            "prod-abc",
            "Prod-",
            "étéx",
            "ÉTÉ",
            "été",
            "abc",
            "xabc",
            "xxabc",
            "c",
            "ababc",
            "bx",
            "dx",
            "a-prod",
            "a",
            "b",
            "q\nb",
            "zz\nbq",
            "acct1-x",
            "xzy",
        ];
        for list in lists {
            let specs: Vec<PatternSpec> = list
                .iter()
                .filter_map(|p| PatternSpec::parse(p).ok())
                .collect();
            let regexes: Vec<Option<Regex>> = specs
                .iter()
                .map(|s| s.regex_source().map(|src| compile_regex(&src).unwrap()))
                .collect();
            let m = matcher(list);
            for v in values {
                let expected = specs.iter().zip(&regexes).any(|(s, r)| match (&s.kind, r) {
                    (PatternKind::Literal(l), _) => l == v,
                    (_, r) => r.as_ref().is_some_and(|r| r.is_match(v)),
                });
                assert_eq!(m.is_match(Some(v)), expected, "{list:?} on {v:?}");
            }
        }
        // The check is there for the shapes it serves, and absent where it cannot decide.
        let prefixes = |list: &[&str]| matcher(list).pos.regex_prefixes.clone();
        assert_eq!(
            prefixes(&["re:^AWS::EC2::Instance/i-91[0-9a-f]+$"]),
            Some(vec![b"AWS::EC2::Instance/i-91".to_vec().into_boxed_slice()])
        );
        assert_eq!(prefixes(&["re:.*-prod"]), None);
        assert_eq!(prefixes(&["re:a)|(?m:^b)|(?:c"]), None);
        assert_eq!(prefixes(&["re:x?abc"]).map(|p| p.len()), Some(2));
        assert_eq!(
            prefixes(&["acct?-*", "x*y"]),
            Some(vec![b"acct".to_vec().into(), b"x".to_vec().into()])
        );
        assert_eq!(prefixes(&["acct?-*", "*y?"]), None);
        assert_eq!(prefixes(&["acct?-*", "re:.*y"]), None);
    }

    #[test]
    fn regex_errors_are_one_line() {
        let spec = PatternSpec::parse("re:(unclosed").unwrap();
        let err = Single::compile(&spec).unwrap_err();
        assert_eq!(err, "unclosed group");
    }

    #[test]
    fn empty_patterns_are_errors() {
        assert!(PatternSpec::parse("").is_err());
        assert!(PatternSpec::parse("!").is_err());
        assert!(PatternSpec::parse("re:").is_err());
        assert!(PatternSpec::parse("!re:").is_err());
    }

    #[test]
    fn covers_is_sound_on_examples() {
        assert!(matcher(&["*"]).covers(&matcher(&["a", "b*"])));
        assert!(!matcher(&["*"]).covers(&matcher(&["!a"])));
        assert!(matcher(&["prod-*"]).covers(&matcher(&["prod-a", "prod-b"])));
        assert!(!matcher(&["prod-*"]).covers(&matcher(&["prod-a", "dev-b"])));
        assert!(matcher(&["a*", "b*"]).covers(&matcher(&["b*", "!bc"])));
        assert!(!matcher(&["a*", "!ab"]).covers(&matcher(&["a*"])));
        assert!(matcher(&["!x"]).covers(&matcher(&["!x", "!y"])));
        assert!(!matcher(&["!x", "!y"]).covers(&matcher(&["!x"])));
        assert!(!matcher(&["a*"]).covers(&matcher(&["!x"])));
        assert!(!matcher(&["a"]).covers(&matcher(&["a*"])));
    }

    #[test]
    fn explain_lines() {
        let m = matcher(&["NON_COMPLIANT"]);
        assert_eq!(
            m.explain("status", Some("NON_COMPLIANT")),
            r#"status "NON_COMPLIANT" matches "NON_COMPLIANT""#
        );
        let m = matcher(&["!999999999999"]);
        assert_eq!(
            m.explain("account", Some("999999999999")),
            r#"account "999999999999" is excluded by "!999999999999""#
        );
        assert_eq!(
            m.explain("account", None),
            r#"account null is not excluded by "!999999999999""#
        );
        let m = matcher(&["re:^us-.*$"]);
        assert_eq!(
            m.explain("region", None),
            r#"region null does not match "re:^us-.*$""#
        );
        let m = matcher(&["a", "b*", "!bad"]);
        assert_eq!(
            m.explain("f", Some("c")),
            r#"f "c" does not match any of "a", "b*""#
        );
        assert_eq!(
            m.explain("f", Some("bb")),
            r#"f "bb" matches "b*" and is not excluded by "!bad""#
        );
    }
}
