//! Routing: compiled rules, silences, and an index that keeps the cost per finding nearly flat
//! in the number of rules.
//!
//! The index: for each match field some rule constrains with positive patterns, hash maps from
//! literal value, `prefix*` and `*suffix` (grouped by length) to the bit set of rules that give
//! them, one `RegexSet` of every other glob and `re:` regex for the field (with the rule of each
//! pattern), and a bit set of the rules that do not constrain the field that way (or accept
//! anything with `*`). ANDing those per finding leaves a (usually tiny) superset of the matching
//! rules, walked in file order and checked in full. The hash lookups narrow first; a field's set
//! runs only when more than a few rules with set patterns on it are still candidates (fewer are
//! checked one by one). No regex compilation per finding, and no heap allocation up to 1 024
//! rules besides the set's match list.

use super::pattern::{FastBuild, FieldMatcher};
use super::{Delivery, Routing, RuleTrace};
use crate::Finding;
use crate::sink_api::MATCH_FIELDS;
use regex::RegexSet;
use std::collections::HashMap;

/// The value of match field `field` (index into [`MATCH_FIELDS`]).
#[inline]
pub fn field_value(f: &Finding, field: usize) -> Option<&str> {
    match field {
        0 => Some(f.report.name()),
        1 => f.framework.as_deref(),
        2 => f.control.as_deref(),
        3 => f.status.as_deref(),
        4 => f.account.as_deref(),
        5 => f.region.as_deref(),
        6 => Some(f.environment.as_str()),
        7 => f.resource_type.as_deref(),
        8 => f.resource.as_deref(),
        9 => f.job_id.as_deref(),
        _ => None,
    }
}

/// The fields a rule or silence constrains; every one must match.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    pub fields: Vec<FieldMatcher>,
}

impl Matcher {
    #[inline]
    pub fn is_match(&self, f: &Finding) -> bool {
        self.fields
            .iter()
            .all(|m| m.is_match(field_value(f, m.field)))
    }

    pub fn reasons(&self, f: &Finding) -> Vec<String> {
        self.fields
            .iter()
            .map(|m| m.explain(MATCH_FIELDS[m.field], field_value(f, m.field)))
            .collect()
    }

    pub fn get(&self, field: usize) -> Option<&FieldMatcher> {
        self.fields.iter().find(|m| m.field == field)
    }
}

#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub name: String,
    pub sinks: Vec<usize>,
    pub continue_: bool,
    pub matcher: Matcher,
}

#[derive(Clone, Debug)]
pub struct CompiledSilence {
    pub live: bool,
    pub matcher: Matcher,
}

type Table = HashMap<Box<str>, Box<[u64]>, FastBuild>;

/// Strings of one length → the rules giving them (prefix or suffix tables).
#[derive(Debug)]
struct ByLength {
    len: usize,
    table: Table,
}

/// One match field's part of the index.
#[derive(Debug)]
struct IndexedField {
    field: usize,
    /// Literal value → the rules listing it among their positive patterns.
    by_value: Table,
    /// `prefix*` globs by prefix length: a value's first `len` bytes are looked up.
    prefixes: Vec<ByLength>,
    /// `*suffix` globs by suffix length: a value's last `len` bytes are looked up.
    suffixes: Vec<ByLength>,
    /// Every other glob and `re:` regex of the rules' positive patterns for this field, as one
    /// set (one pass over the value, whatever the number of rules).
    patterns: Option<PatternIndex>,
    /// Rules this field's lookup cannot rule out.
    pass: Box<[u64]>,
}

/// The general globs and regexes of one field, as one set.
#[derive(Debug)]
struct PatternIndex {
    set: RegexSet,
    /// The rule of each pattern in `set`.
    pattern_rule: Box<[usize]>,
    /// Bit set of the rules with a pattern in `set`.
    rules: Box<[u64]>,
}

/// The literal/pattern index over the rules, per match field. For each field some rule
/// constrains with positive patterns, a finding's value selects the rules whose positive
/// patterns accept it (hash lookups for literals, prefixes and suffixes; one `RegexSet` pass for
/// other globs and regexes); rules that do not constrain the field that way pass. ANDing those
/// bit sets over the fields leaves a small superset of the matching rules, checked in full in
/// file order.
#[derive(Debug, Default)]
pub struct Index {
    words: usize,
    rules: usize,
    fields: Vec<IndexedField>,
}

fn set_bit(bits: &mut [u64], r: usize) {
    if let Some(w) = bits.get_mut(r / 64) {
        *w |= 1 << (r % 64);
    }
}

fn add(table: &mut Table, key: &str, words: usize, r: usize) {
    let bits = table
        .entry(key.into())
        .or_insert_with(|| vec![0u64; words].into_boxed_slice());
    set_bit(bits, r);
}

fn add_by_length(groups: &mut Vec<ByLength>, key: &str, words: usize, r: usize) {
    let i = match groups.iter().position(|g| g.len == key.len()) {
        Some(i) => i,
        None => {
            groups.push(ByLength {
                len: key.len(),
                table: Table::default(),
            });
            groups.len() - 1
        }
    };
    add(&mut groups[i].table, key, words, r);
}

#[inline]
fn or_into(acc: &mut [u64], bits: &[u64]) {
    for (a, b) in acc.iter_mut().zip(bits) {
        *a |= b;
    }
}

impl Index {
    pub fn build(rules: &[CompiledRule]) -> Index {
        let words = rules.len().div_ceil(64);
        let mut fields = Vec::new();
        for (field, field_name) in MATCH_FIELDS.iter().enumerate() {
            let mut by_value = Table::default();
            let (mut prefixes, mut suffixes) = (Vec::new(), Vec::new());
            let mut pass = vec![0u64; words].into_boxed_slice();
            let mut sources: Vec<String> = Vec::new();
            let mut source_rules: Vec<usize> = Vec::new();
            let mut narrowed = false;
            for (r, rule) in rules.iter().enumerate() {
                let parts = rule
                    .matcher
                    .get(field)
                    .and_then(FieldMatcher::positive_parts);
                let Some(parts) = parts else {
                    set_bit(&mut pass, r);
                    continue;
                };
                narrowed = true;
                for l in parts.literals {
                    add(&mut by_value, l, words, r);
                }
                for p in parts.prefixes {
                    add_by_length(&mut prefixes, p, words, r);
                }
                for x in parts.suffixes {
                    add_by_length(&mut suffixes, x, words, r);
                }
                for src in parts.sources {
                    sources.push(src);
                    source_rules.push(r);
                }
            }
            if !narrowed {
                continue;
            }
            let patterns = if sources.is_empty() {
                None
            } else {
                match RegexSet::new(&sources) {
                    Ok(set) => {
                        let mut bits = vec![0u64; words].into_boxed_slice();
                        for &r in &source_rules {
                            set_bit(&mut bits, r);
                        }
                        Some(PatternIndex {
                            set,
                            pattern_rule: source_rules.into_boxed_slice(),
                            rules: bits,
                        })
                    }
                    Err(e) => {
                        // Too big for one set (size limits): those rules are not narrowed by
                        // this field; each is still checked with its own compiled patterns.
                        tracing::debug!(field = field_name, error = %e,
                            "rules index: patterns not combined into a set");
                        for &r in &source_rules {
                            set_bit(&mut pass, r);
                        }
                        None
                    }
                }
            };
            fields.push(IndexedField {
                field,
                by_value,
                prefixes,
                suffixes,
                patterns,
                pass,
            });
        }
        Index {
            words,
            rules: rules.len(),
            fields,
        }
    }

    #[inline]
    fn mask(&self, word: usize) -> u64 {
        let left = self.rules - word * 64;
        if left >= 64 {
            u64::MAX
        } else {
            (1u64 << left) - 1
        }
    }
}

impl IndexedField {
    /// Sets `allowed` to the rules this field lets through for `value`, by the hash tables and
    /// `pass`; rules with set patterns are not included.
    #[inline]
    fn allowed(&self, value: Option<&str>, allowed: &mut [u64]) {
        allowed.copy_from_slice(&self.pass);
        let Some(v) = value else { return };
        if let Some(b) = self.by_value.get(v) {
            or_into(allowed, b);
        }
        for g in &self.prefixes {
            if let Some(b) = v.get(..g.len).and_then(|p| g.table.get(p)) {
                or_into(allowed, b);
            }
        }
        for g in &self.suffixes {
            if let Some(b) = v
                .len()
                .checked_sub(g.len)
                .and_then(|start| v.get(start..))
                .and_then(|x| g.table.get(x))
            {
                or_into(allowed, b);
            }
        }
    }
}

/// Up to this many candidate rules with set patterns on a field are checked one by one rather
/// than through the field's set (an overlapping set pass costs about a microsecond).
const SET_MIN_ALIVE: u32 = 8;

/// Candidate words kept on the stack: 64 × 16 = 1 024 rules without a heap allocation.
const STACK_WORDS: usize = 16;

/// ANDs `allowed` into `candidates`; false when no candidate is left.
#[inline]
fn narrow(candidates: &mut [u64], allowed: &[u64]) -> bool {
    let mut any = 0;
    for (c, a) in candidates.iter_mut().zip(allowed) {
        *c &= a;
        any |= *c;
    }
    any != 0
}

/// Routes `finding` (environment already set) through `rules`, appending to `out`.
pub fn route_rules(index: &Index, rules: &[CompiledRule], finding: &Finding, out: &mut Routing) {
    let words = index.words;
    let (mut stack_c, mut stack_a) = ([0u64; STACK_WORDS], [0u64; STACK_WORDS]);
    let (mut heap_c, mut heap_a) = (Vec::new(), Vec::new());
    let (candidates, allowed): (&mut [u64], &mut [u64]) = if words <= STACK_WORDS {
        (&mut stack_c[..words], &mut stack_a[..words])
    } else {
        heap_c.resize(words, 0);
        heap_a.resize(words, 0);
        (&mut heap_c, &mut heap_a)
    };
    for (w, c) in candidates.iter_mut().enumerate() {
        *c = index.mask(w);
    }
    // Phase 1, every field: hash lookups; rules with set patterns on the field stay candidates
    // for now.
    for ix in &index.fields {
        let value = field_value(finding, ix.field);
        ix.allowed(value, allowed);
        if let (Some(_), Some(p)) = (value, &ix.patterns) {
            or_into(allowed, &p.rules);
        }
        if !narrow(candidates, allowed) {
            return;
        }
    }
    // Phase 2, fields with sets: once the lookups have narrowed the candidates, run a field's
    // set only if more than a few of its rules are left (fewer are checked one by one below).
    for ix in &index.fields {
        let (Some(v), Some(p)) = (field_value(finding, ix.field), &ix.patterns) else {
            continue;
        };
        let alive: u32 = candidates
            .iter()
            .zip(&p.rules)
            .map(|(c, r)| (c & r).count_ones())
            .sum();
        if alive <= SET_MIN_ALIVE {
            continue;
        }
        ix.allowed(Some(v), allowed);
        // `is_match` stops early and uses the set's literal prefilter; `matches` must run the
        // overlapping search to the end.
        if p.set.is_match(v) {
            for i in p.set.matches(v).iter() {
                if let Some(&r) = p.pattern_rule.get(i) {
                    set_bit(allowed, r);
                }
            }
        }
        if !narrow(candidates, allowed) {
            return;
        }
    }
    for (word, &bits) in candidates.iter().enumerate() {
        let mut bits = bits;
        while bits != 0 {
            let r = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let rule = &rules[r];
            if !rule.matcher.is_match(finding) {
                continue;
            }
            for &sink in &rule.sinks {
                if !out.deliveries.iter().any(|d| d.sink == sink) {
                    out.deliveries.push(Delivery { sink, rule: r });
                }
            }
            if !rule.continue_ {
                return;
            }
        }
    }
}

pub fn explain_rules(rules: &[CompiledRule], finding: &Finding) -> Vec<RuleTrace> {
    rules
        .iter()
        .map(|r| RuleTrace {
            rule: r.name.clone(),
            matched: r.matcher.is_match(finding),
            reasons: r.matcher.reasons(finding),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::rules::{Delivery, LoadOptions, Rules};
    use crate::{Finding, ReportTemplate};

    /// The index (literal tables, per-field pattern sets, heap-held candidate words past 1 024
    /// rules) routes exactly as trying every rule in file order.
    #[test]
    fn pattern_sets_agree_with_a_plain_walk_past_the_stack_words() {
        let mut text = String::from("[sinks.a]\ntype = \"log\"\n[sinks.b]\ntype = \"log\"\n");
        for i in 0..1100 {
            let resource = match i % 4 {
                0 => format!("\"re:^i-{:02x}[0-9a-f]*$\"", i % 256),
                1 => format!("[\"i-{:02x}*\", \"vol-{i}\"]", (i * 7) % 256),
                2 => "[\"*-x\", \"!i-00-x\"]".to_string(),
                _ => "\"*\"".to_string(),
            };
            let status = if i % 3 == 0 {
                "\"NON_COMPLIANT\""
            } else {
                "\"!COMPLIANT\""
            };
            text.push_str(&format!(
                "[[rules]]\nname = \"r{i}\"\nsinks = [\"{}\"]\ncontinue = {}\n[rules.match]\nresource = {resource}\nstatus = {status}\n",
                if i % 2 == 0 { "a" } else { "b" },
                i % 5 != 0
            ));
        }
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let (rules, _) =
            Rules::parse(&text, "t.toml", ".".into(), &LoadOptions::new(today)).unwrap();
        let resources = ["i-0a1", "i-ff", "i-00-x", "vol-12", "vol-13", "x", "i-7e-x"];
        let mut routed = 0;
        for (n, resource) in resources.iter().enumerate() {
            for status in ["COMPLIANT", "NON_COMPLIANT", "FAILED"] {
                let mut f = Finding::new(ReportTemplate::ResourceCompliance);
                f.resource = Some(resource.to_string());
                f.status = Some(status.to_string());
                f.index = n as u64;
                let got = rules.route(&mut f).deliveries;
                let mut expected: Vec<Delivery> = Vec::new();
                for (r, t) in rules.explain(&f).iter().enumerate() {
                    if !t.matched {
                        continue;
                    }
                    for &sink in rules.rule_sinks(r) {
                        if !expected.iter().any(|d| d.sink == sink) {
                            expected.push(Delivery { sink, rule: r });
                        }
                    }
                    if !rules.rule_continues(r) {
                        break;
                    }
                }
                routed += usize::from(!got.is_empty());
                assert_eq!(got, expected, "{resource} {status}");
            }
        }
        assert!(routed > 10, "{routed}");
    }
}
