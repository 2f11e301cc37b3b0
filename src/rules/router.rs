//! Routing: compiled rules, silences, and an index that keeps the cost per finding nearly flat
//! in the number of rules.
//!
//! The index: for each match field where some rule gives only literal positive patterns (the
//! common `account = "…"`, `control = [..]`, `report = "…"` case), a hash map from value to the
//! bit set of rules that list it, plus a bit set of the rules that do not constrain the field that
//! way. ANDing those per finding leaves a (usually tiny) superset of the matching rules, walked in
//! file order and checked in full. No allocation, no regex compilation per finding.

use super::pattern::FieldMatcher;
use super::{Delivery, Routing, RuleTrace};
use crate::Finding;
use crate::sink_api::MATCH_FIELDS;
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

#[derive(Debug)]
struct IndexedField {
    field: usize,
    by_value: HashMap<Box<str>, Box<[u64]>>,
    /// Rules this field's lookup cannot rule out.
    pass: Box<[u64]>,
}

#[derive(Debug, Default)]
pub struct Index {
    words: usize,
    rules: usize,
    fields: Vec<IndexedField>,
}

const FIELD_COUNT: usize = MATCH_FIELDS.len();

impl Index {
    pub fn build(rules: &[CompiledRule]) -> Index {
        let words = rules.len().div_ceil(64);
        let mut fields = Vec::new();
        for field in 0..FIELD_COUNT {
            let mut by_value: HashMap<Box<str>, Box<[u64]>> = HashMap::new();
            let mut pass = vec![0u64; words].into_boxed_slice();
            let mut any_literal = false;
            for (r, rule) in rules.iter().enumerate() {
                let lits = rule
                    .matcher
                    .get(field)
                    .and_then(FieldMatcher::positive_literals);
                match lits {
                    Some(lits) => {
                        any_literal = true;
                        for l in lits {
                            let bits = by_value
                                .entry(l.clone())
                                .or_insert_with(|| vec![0u64; words].into_boxed_slice());
                            bits[r / 64] |= 1 << (r % 64);
                        }
                    }
                    None => pass[r / 64] |= 1 << (r % 64),
                }
            }
            if any_literal {
                fields.push(IndexedField {
                    field,
                    by_value,
                    pass,
                });
            }
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

/// Routes `finding` (environment already set) through `rules`, appending to `out`.
pub fn route_rules(index: &Index, rules: &[CompiledRule], finding: &Finding, out: &mut Routing) {
    let mut lookups: [Option<&[u64]>; FIELD_COUNT] = [None; FIELD_COUNT];
    for (slot, ix) in lookups.iter_mut().zip(&index.fields) {
        *slot = field_value(finding, ix.field)
            .and_then(|v| ix.by_value.get(v))
            .map(|b| &**b);
    }
    for word in 0..index.words {
        let mut candidates = index.mask(word);
        for (lookup, ix) in lookups.iter().zip(&index.fields) {
            candidates &= lookup.map_or(0, |b| b[word]) | ix.pass[word];
            if candidates == 0 {
                break;
            }
        }
        while candidates != 0 {
            let r = word * 64 + candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
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
