//! Routing: compiled rules, silences, and an index that keeps the cost per finding nearly flat
//! in the number of rules.
//!
//! The index: for each match field some rule constrains with positive patterns, a hash map from
//! literal value to the bit set of rules that list it, one `RegexSet` of every glob and `re:`
//! regex given for the field (with the rule of each pattern), and a bit set of the rules that
//! do not constrain the field that way (or accept anything with `*`). ANDing those per finding
//! leaves a (usually tiny) superset of the matching rules, walked in file order and checked in
//! full. A field's set runs only while a rule with patterns on it is still a candidate. No
//! regex compilation per finding, and no heap allocation up to 1 024 rules besides the set's
//! match list.

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

/// One match field's part of the index.
#[derive(Debug)]
struct IndexedField {
    field: usize,
    /// Literal value → the rules listing it among their positive patterns.
    by_value: HashMap<Box<str>, Box<[u64]>, FastBuild>,
    /// Every glob and `re:` regex of the rules' positive patterns for this field, as one set
    /// (one pass over the value, whatever the number of rules), with the rule of each pattern.
    patterns: Option<PatternIndex>,
    /// Rules this field's lookup cannot rule out.
    pass: Box<[u64]>,
}

/// The globs and regexes of one field, as one set.
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
/// patterns accept it (hash lookup for literals, one `RegexSet` pass for globs and regexes);
/// rules that do not constrain the field that way pass. ANDing those bit sets over the fields
/// leaves a small superset of the matching rules, checked in full in file order.
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

impl Index {
    pub fn build(rules: &[CompiledRule]) -> Index {
        let words = rules.len().div_ceil(64);
        let mut fields = Vec::new();
        for (field, field_name) in MATCH_FIELDS.iter().enumerate() {
            let mut by_value: HashMap<Box<str>, Box<[u64]>, FastBuild> = HashMap::default();
            let mut pass = vec![0u64; words].into_boxed_slice();
            let mut sources: Vec<String> = Vec::new();
            let mut source_rules: Vec<usize> = Vec::new();
            let mut narrowed = Vec::new();
            for (r, rule) in rules.iter().enumerate() {
                let parts = rule
                    .matcher
                    .get(field)
                    .and_then(FieldMatcher::positive_parts);
                match parts {
                    Some((literals, patterns)) => {
                        narrowed.push(r);
                        for l in literals {
                            let bits = by_value
                                .entry(l.into())
                                .or_insert_with(|| vec![0u64; words].into_boxed_slice());
                            set_bit(bits, r);
                        }
                        for p in patterns {
                            sources.push(p);
                            source_rules.push(r);
                        }
                    }
                    None => set_bit(&mut pass, r),
                }
            }
            if narrowed.is_empty() {
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

/// Candidate words kept on the stack: 64 × 16 = 1 024 rules without a heap allocation.
const STACK_WORDS: usize = 16;

/// Routes `finding` (environment already set) through `rules`, appending to `out`.
pub fn route_rules(index: &Index, rules: &[CompiledRule], finding: &Finding, out: &mut Routing) {
    let words = index.words;
    let (mut stack_c, mut stack_k) = ([0u64; STACK_WORDS], [0u64; STACK_WORDS]);
    let (mut heap_c, mut heap_k) = (Vec::new(), Vec::new());
    let (candidates, kept): (&mut [u64], &mut [u64]) = if words <= STACK_WORDS {
        (&mut stack_c[..words], &mut stack_k[..words])
    } else {
        heap_c.resize(words, 0);
        heap_k.resize(words, 0);
        (&mut heap_c, &mut heap_k)
    };
    for (w, c) in candidates.iter_mut().enumerate() {
        *c = index.mask(w);
    }
    for ix in &index.fields {
        let value = field_value(finding, ix.field);
        // Rules with globs/regexes on this field that are still candidates and whose pattern
        // accepts the value: one set pass, skipped when no such rule is left.
        let mut any_kept = false;
        if let (Some(v), Some(p)) = (value, &ix.patterns)
            && candidates.iter().zip(&p.rules).any(|(c, r)| c & r != 0)
        {
            kept.fill(0);
            for i in p.set.matches(v).iter() {
                if let Some(&r) = p.pattern_rule.get(i)
                    && candidates[r / 64] & (1 << (r % 64)) != 0
                {
                    kept[r / 64] |= 1 << (r % 64);
                    any_kept = true;
                }
            }
        }
        let literal = value.and_then(|v| ix.by_value.get(v));
        let mut any = 0u64;
        for (w, c) in candidates.iter_mut().enumerate() {
            let mut allowed = literal.map_or(0, |b| b[w]) | ix.pass[w];
            if any_kept {
                allowed |= kept[w];
            }
            *c &= allowed;
            any |= *c;
        }
        if any == 0 {
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
