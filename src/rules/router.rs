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
use crate::sink_api::MATCH_FIELDS;
use crate::sink_api::host::{StrMap, head_tail, same_bytes};
use crate::{Finding, FindingView};
use regex::RegexSet;
use std::collections::HashMap;

/// The value of match field `field` (index into [`MATCH_FIELDS`]).
#[inline]
pub fn field_value<'a>(f: &FindingView<'a>, field: usize) -> Option<&'a str> {
    f.field_at(field)
}

/// The fields a rule or silence constrains; every one must match.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    pub fields: Vec<FieldMatcher>,
}

impl Matcher {
    #[inline]
    pub fn is_match(&self, f: &FindingView<'_>) -> bool {
        self.fields
            .iter()
            .all(|m| m.is_match(field_value(f, m.field)))
    }

    pub fn reasons(&self, f: &FindingView<'_>) -> Vec<String> {
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
    pub policy: super::notify::PolicyOverride,
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
    /// Per rule, the match fields (bit `1 << field`) whose index bits say exactly whether the
    /// rule's patterns accept a value, once the field's set has run for it: positive literals,
    /// prefixes, suffixes and set patterns only, no `!` pattern. The memo path runs every
    /// repeating field's set, so its final check skips these fields.
    exact: Box<[u16]>,
}

impl PatternIndex {
    /// Sets in `allowed` the rules whose patterns in the set match `value`.
    #[inline]
    fn allow_matches(&self, value: &str, allowed: &mut [u64]) {
        // `is_match` stops early and uses the set's literal prefilter; `matches` must run the
        // overlapping search to the end.
        if self.set.is_match(value) {
            for i in self.set.matches(value).iter() {
                if let Some(&r) = self.pattern_rule.get(i) {
                    set_bit(allowed, r);
                }
            }
        }
    }
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
    /// Whether candidate sets are one word (up to 64 rules): the memo's fast path.
    pub fn one_word(&self) -> bool {
        self.words == 1
    }

    pub fn build(rules: &[CompiledRule]) -> Index {
        let words = rules.len().div_ceil(64);
        let mut fields = Vec::new();
        let mut exact = vec![0u16; rules.len()];
        for (field, field_name) in MATCH_FIELDS.iter().enumerate() {
            let mut by_value = Table::default();
            let (mut prefixes, mut suffixes) = (Vec::new(), Vec::new());
            let mut pass = vec![0u64; words].into_boxed_slice();
            let mut sources: Vec<String> = Vec::new();
            let mut source_rules: Vec<usize> = Vec::new();
            let mut narrowed = false;
            for (r, rule) in rules.iter().enumerate() {
                let matcher = rule.matcher.get(field);
                let parts = matcher.and_then(FieldMatcher::positive_parts);
                let Some(parts) = parts else {
                    set_bit(&mut pass, r);
                    continue;
                };
                narrowed = true;
                if !matcher.is_some_and(FieldMatcher::has_negatives) {
                    exact[r] |= 1 << field;
                }
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
                            exact[r] &= !(1 << field);
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
        // Most constraining fields first: the walk over a finding's fields stops as soon as no
        // candidate is left, so the field fewest rules let pass unconstrained is looked up first
        // (order does not change the result: the candidates are an AND over the fields).
        fields.sort_by_key(|f| (f.pass.iter().map(|w| w.count_ones()).sum::<u32>(), f.field));
        Index {
            words,
            rules: rules.len(),
            fields,
            exact: exact.into_boxed_slice(),
        }
    }

    /// Sets `candidates` to every rule.
    #[inline]
    fn all_candidates(&self, candidates: &mut [u64]) {
        for (w, x) in candidates.iter_mut().enumerate() {
            *x = self.mask(w);
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

/// Whether match field `field` repeats across a report's findings: every field but the resource
/// and job ids (the environment follows from the account). The routing memo is keyed by these.
#[inline]
pub const fn is_repeating(field: usize) -> bool {
    field != 8 && field != 9
}

/// What [`route_rules_memo`] remembers for one report: per indexed repeating field, the rules
/// each value seen lets through (hash lookups and pattern sets included). Bounded: past
/// [`RouteMemo::MAX_VALUES`] values in all, new values are looked up without being kept.
#[derive(Debug, Default)]
pub struct RouteMemo {
    /// Indexed like [`Index::fields`] (empty tables for the other fields): per value, its
    /// number (in order of first sight, per field).
    tables: Vec<StrMap<u32>>,
    /// Indexed like `tables`: the rules each value lets through, [`Index::words`] words per
    /// value number, end to end.
    sets: Vec<Vec<u64>>,
    values: usize,
    /// Per match field, the number of the last routed finding's value, where the memo looked
    /// it up (see [`RouteMemo::value_ids`]).
    ids: [Option<u32>; MATCH_FIELDS.len()],
    /// The `report` field's last template and its entry (a report's findings all share one
    /// template: no lookup per finding).
    report: Option<(crate::ReportTemplate, u32, u64)>,
    /// The candidate and allowed bit sets, reused from finding to finding.
    candidates: Vec<u64>,
    allowed: Vec<u64>,
    /// Per account value: its environment and, once the one-word path has looked them up,
    /// the account and environment fields' memo entries (the environment follows from the
    /// account, so one lookup per finding serves the environment and both fields).
    accounts: StrMap<AccountEntry>,
    /// The entry of the finding being routed ([`RouteMemo::environment`] sets it), and what
    /// the one-word path learned for it.
    current: AccountEntry,
    /// In front of `tables` (one-word path: each value's number and bits; past 64 rules, its
    /// number) and of `accounts`: a value seen lately is found without hashing its whole text.
    front: Vec<FrontCache<(u32, u64)>>,
    wide_front: Vec<FrontCache<u32>>,
    account_front: FrontCache<AccountEntry>,
}

/// Slots of a [`FrontCache`] (a power of two: the slot is the top bits of a mixed key).
const FRONT_SLOTS: usize = 64;
const _: () = assert!(FRONT_SLOTS.is_power_of_two() && FRONT_SLOTS > 1);

/// A direct-mapped cache in front of a memo table, keyed by a value's length and its first and
/// last 8 bytes (all of a value of up to 16 bytes; a longer one is also compared in full on a
/// hit). A slot holds the last value that mapped to it: a miss goes to the table, which
/// decides, and the slot takes the value. A report's fields repeat a handful of values in any
/// order; foldhash over the whole text (a control name is ~45 bytes) and the table's probe cost
/// more than the few compares here. Inputs crafted to collide only fall back to the table.
#[derive(Debug)]
struct FrontCache<T> {
    slots: Vec<Option<FrontSlot<T>>>,
}

#[derive(Debug)]
struct FrontSlot<T> {
    head: u64,
    tail: u64,
    /// The whole value (its buffer reused when the slot takes another).
    key: String,
    value: T,
}

impl<T> Default for FrontCache<T> {
    fn default() -> Self {
        FrontCache { slots: Vec::new() }
    }
}

impl<T: Copy> FrontCache<T> {
    #[inline]
    fn slot(head: u64, tail: u64, len: usize) -> usize {
        let mixed = (head ^ tail.rotate_left(29) ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> (64 - FRONT_SLOTS.trailing_zeros())) as usize
    }

    /// The value kept for `key`, if its slot holds `key`.
    #[inline]
    fn get(&self, key: &str) -> Option<T> {
        let b = key.as_bytes();
        let (head, tail) = head_tail(b);
        match self.slots.get(Self::slot(head, tail, b.len())) {
            Some(Some(s))
                if s.head == head
                    && s.tail == tail
                    && s.key.len() == b.len()
                    && (b.len() <= 16 || same_bytes(s.key.as_bytes(), b)) =>
            {
                Some(s.value)
            }
            _ => None,
        }
    }

    /// Keeps `value` for `key` in `key`'s slot (replacing what it held).
    fn put(&mut self, key: &str, value: T) {
        if self.slots.is_empty() {
            self.slots = (0..FRONT_SLOTS).map(|_| None).collect();
        }
        let b = key.as_bytes();
        let (head, tail) = head_tail(b);
        let Some(slot) = self.slots.get_mut(Self::slot(head, tail, b.len())) else {
            return;
        };
        match slot {
            Some(s) => {
                s.head = head;
                s.tail = tail;
                s.key.clear();
                s.key.push_str(key);
                s.value = value;
            }
            None => {
                *slot = Some(FrontSlot {
                    head,
                    tail,
                    key: key.to_owned(),
                    value,
                })
            }
        }
    }
}

/// What the memo keeps per account value (see [`RouteMemo::accounts`]).
#[derive(Clone, Copy, Debug, Default)]
struct AccountEntry {
    /// Index into the rules' environments; `u32::MAX` for the fallback environment.
    env: u32,
    /// The `account` field's memo id and one-word bits, once known.
    account: Option<(u32, u64)>,
    /// The `environment` field's memo id and one-word bits, once known.
    environment: Option<(u32, u64)>,
}

/// Match field numbers (indexes into [`MATCH_FIELDS`]) the account cache serves.
const ACCOUNT: usize = 4;
const ENVIRONMENT: usize = 6;
const _: () = assert!(
    matches!(MATCH_FIELDS[ACCOUNT].as_bytes(), b"account")
        && matches!(MATCH_FIELDS[ENVIRONMENT].as_bytes(), b"environment")
);

impl RouteMemo {
    /// Values kept across all fields (each one key and one bit set: well under 10 MB in all).
    pub const MAX_VALUES: usize = 1 << 15;

    pub fn new() -> Self {
        Self::default()
    }

    /// Values kept so far (the fields' values and the accounts' environments).
    pub fn len(&self) -> usize {
        self.values
    }

    /// The numbers of the values of the finding last routed, per field the memo looked up
    /// (the indexed repeating fields, all of them for a finding routed somewhere): within one
    /// memo, equal numbers of a field are equal values. Digests find values by these instead
    /// of hashing their text again.
    pub fn value_ids(&self) -> crate::sink_api::host::ValueIds {
        crate::sink_api::host::ValueIds {
            framework: self.ids[1],
            control: self.ids[2],
            status: self.ids[3],
            account: self.ids[4],
            region: self.ids[5],
            environment: self.ids[6],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values == 0
    }

    /// The environment index of `account` (`u32::MAX`: the fallback environment), looked up
    /// in `account_env` once per account value and kept (within [`RouteMemo::MAX_VALUES`]);
    /// the account's entry is remembered for the [`route_rules_memo`] call that follows. Both
    /// paths take the environment from here; only the one-word path ([`Index::one_word`])
    /// reads the entries' field bits.
    pub(super) fn environment(
        &mut self,
        account: Option<&str>,
        account_env: &StrMap<usize>,
    ) -> u32 {
        let Some(a) = account else {
            self.current = AccountEntry {
                env: u32::MAX,
                ..AccountEntry::default()
            };
            return u32::MAX;
        };
        if let Some(e) = self.account_front.get(a) {
            self.current = e;
            return e.env;
        }
        if let Some(&e) = self.accounts.get(a) {
            self.account_front.put(a, e);
            self.current = e;
            return e.env;
        }
        let env = account_env
            .get(a)
            .and_then(|&i| u32::try_from(i).ok())
            .unwrap_or(u32::MAX);
        self.current = AccountEntry {
            env,
            ..AccountEntry::default()
        };
        self.learn(account, self.current);
        env
    }

    /// Keeps `entry` for `account` (replacing what was kept; a new account only within
    /// [`RouteMemo::MAX_VALUES`]).
    fn learn(&mut self, account: Option<&str>, entry: AccountEntry) {
        let Some(a) = account else { return };
        if self.values < Self::MAX_VALUES || self.accounts.get(a).is_some() {
            if self.accounts.insert(a, entry).is_none() {
                self.values += 1;
            }
            // The front holds what the table holds (an entry it may hold already).
            self.account_front.put(a, entry);
        }
    }
}

/// As [`route_rules`], the repeating fields' verdicts taken from (or added to) `memo`.
/// [`RouteMemo::environment`] must have been called for this finding's account just before
/// (as [`Rules::route_view_memo`](super::Rules::route_view_memo) does): the one-word path reads
/// the account's entry it leaves.
pub fn route_rules_memo(
    index: &Index,
    rules: &[CompiledRule],
    finding: &FindingView<'_>,
    out: &mut Routing,
    memo: &mut RouteMemo,
) {
    if memo.tables.len() != index.fields.len() || memo.candidates.len() != index.words {
        memo.tables = index.fields.iter().map(|_| StrMap::new()).collect();
        memo.sets = index.fields.iter().map(|_| Vec::new()).collect();
        memo.front = index.fields.iter().map(|_| FrontCache::default()).collect();
        memo.wide_front = index.fields.iter().map(|_| FrontCache::default()).collect();
        memo.accounts = StrMap::new();
        memo.account_front = FrontCache::default();
        memo.current.account = None;
        memo.current.environment = None;
        memo.values = 0;
        memo.candidates = vec![0; index.words];
        memo.allowed = vec![0; index.words];
    }
    memo.ids = [None; MATCH_FIELDS.len()];
    if index.one_word() {
        // Up to 64 rules (most rule files): the sets are single words, ANDed in a register,
        // and the finding's fields read from an array (no per-field dispatch).
        let mut cur = memo.current;
        let known = (cur.account.is_some(), cur.environment.is_some());
        let left = one_word(index, finding, memo, &mut cur);
        if (cur.account.is_some(), cur.environment.is_some()) != known {
            memo.learn(finding.account, cur);
        }
        let Some(left) = left else { return };
        let (candidates, allowed) = (&mut memo.candidates[..], &mut memo.allowed[..]);
        candidates.fill(left);
        if narrow_by(index, finding, |f| !is_repeating(f), candidates, allowed) {
            finish(index, rules, finding, candidates, allowed, out, REPEATING);
        }
        return;
    }
    let (candidates, allowed) = (&mut memo.candidates[..], &mut memo.allowed[..]);
    index.all_candidates(candidates);
    let words = index.words;
    for (((ix, table), set), front) in index
        .fields
        .iter()
        .zip(memo.tables.iter_mut())
        .zip(memo.sets.iter_mut())
        .zip(memo.wide_front.iter_mut())
    {
        if !is_repeating(ix.field) {
            continue;
        }
        let id = match field_value(finding, ix.field) {
            Some(v) => {
                let id = match front.get(v) {
                    Some(id) => Some(id),
                    None => {
                        let id = match table.get(v) {
                            Some(&id) => Some(id),
                            None => first_sight(ix, table, set, &mut memo.values, v, allowed),
                        };
                        if let Some(id) = id {
                            front.put(v, id);
                        }
                        id
                    }
                };
                memo.ids[ix.field] = id;
                id
            }
            None => {
                ix.allowed(None, allowed);
                None
            }
        };
        // A value kept has its set in `set`; one not kept (the memo full) or no value, in
        // `allowed`.
        let bits: &[u64] = match id.map(|id| id as usize * words) {
            Some(at) => set.get(at..at + words).unwrap_or(allowed),
            None => allowed,
        };
        if !narrow(candidates, bits) {
            return;
        }
    }
    if narrow_by(index, finding, |f| !is_repeating(f), candidates, allowed) {
        finish(index, rules, finding, candidates, allowed, out, REPEATING);
    }
}

/// A value of field `ix` the memo has not seen: the rules it lets through, into `allowed`
/// (the index's lookups and the field's set at once: the set runs once per distinct value),
/// kept in `table` under a new number, its rules appended to `set`, while the memo has room
/// (`values` counts what it keeps). Returns that number.
fn first_sight(
    ix: &IndexedField,
    table: &mut StrMap<u32>,
    set: &mut Vec<u64>,
    values: &mut usize,
    v: &str,
    allowed: &mut [u64],
) -> Option<u32> {
    ix.allowed(Some(v), allowed);
    if let Some(p) = &ix.patterns {
        p.allow_matches(v, allowed);
    }
    if *values < RouteMemo::MAX_VALUES
        && let Ok(id) = u32::try_from(table.len())
    {
        table.insert(v, id);
        set.extend_from_slice(allowed);
        *values += 1;
        return Some(id);
    }
    None
}

/// The one-word path of [`route_rules_memo`] (up to 64 rules): the rules the finding's
/// repeating fields let through, `None` as soon as none is left. The account and environment
/// fields' entries come from (and are added to) `cur`, the finding's account entry.
#[inline]
fn one_word(
    index: &Index,
    finding: &FindingView<'_>,
    memo: &mut RouteMemo,
    cur: &mut AccountEntry,
) -> Option<u64> {
    let allowed = &mut memo.allowed[..];
    let values: [Option<&str>; MATCH_FIELDS.len()] = [
        Some(finding.report.name()),
        finding.framework,
        finding.control,
        finding.status,
        finding.account,
        finding.region,
        Some(finding.environment),
        finding.resource_type,
        finding.resource,
        finding.job_id,
    ];
    let mut left = index.mask(0);
    for (((ix, table), set), front) in index
        .fields
        .iter()
        .zip(memo.tables.iter_mut())
        .zip(memo.sets.iter_mut())
        .zip(memo.front.iter_mut())
    {
        let field = ix.field;
        if !is_repeating(field) {
            continue;
        }
        if field == 0
            && let Some((template, id, bits)) = memo.report
            && template == finding.report
        {
            memo.ids[0] = Some(id);
            left &= bits;
            if left == 0 {
                return None;
            }
            continue;
        }
        // The account's entry: the account and environment fields without a lookup.
        let cached = match field {
            ACCOUNT if finding.account.is_some() => cur.account,
            ENVIRONMENT if finding.account.is_some() => cur.environment,
            _ => None,
        };
        if let Some((id, bits)) = cached {
            memo.ids[field] = Some(id);
            left &= bits;
            if left == 0 {
                return None;
            }
            continue;
        }
        let bits = match values.get(field).copied().flatten() {
            Some(v) => {
                if let Some((id, bits)) = front.get(v) {
                    memo.ids[field] = Some(id);
                    bits
                } else {
                    // One word per value in `set`.
                    let (id, bits) = match table.get(v) {
                        Some(&id) => (Some(id), set.get(id as usize).copied().unwrap_or(0)),
                        None => (
                            first_sight(ix, table, set, &mut memo.values, v, allowed),
                            allowed.first().copied().unwrap_or(0),
                        ),
                    };
                    if let Some(id) = id {
                        front.put(v, (id, bits));
                    }
                    memo.ids[field] = id;
                    bits
                }
            }
            None => {
                ix.allowed(None, allowed);
                allowed.first().copied().unwrap_or(0)
            }
        };
        if let Some(id) = memo.ids[field] {
            match field {
                0 => memo.report = Some((finding.report, id, bits)),
                ACCOUNT if finding.account.is_some() => cur.account = Some((id, bits)),
                ENVIRONMENT if finding.account.is_some() => cur.environment = Some((id, bits)),
                _ => {}
            }
        }
        left &= bits;
        if left == 0 {
            return None;
        }
    }
    Some(left)
}

/// The repeating match fields as a bit mask (`1 << field`): what the memo decides exactly.
const REPEATING: u16 = {
    let mut mask = 0u16;
    let mut field = 0;
    while field < MATCH_FIELDS.len() {
        if is_repeating(field) {
            mask |= 1 << field;
        }
        field += 1;
    }
    mask
};

/// Candidate bit sets on the stack up to [`STACK_WORDS`] words, on the heap past that.
pub struct Scratch {
    stack: [[u64; STACK_WORDS]; 2],
    heap: [Vec<u64>; 2],
    words: usize,
}

impl Scratch {
    pub fn new(index: &Index) -> Self {
        let words = index.words;
        let mut s = Scratch {
            stack: [[0; STACK_WORDS]; 2],
            heap: [Vec::new(), Vec::new()],
            words,
        };
        if words > STACK_WORDS {
            s.heap = [vec![0; words], vec![0; words]];
        }
        s
    }

    /// (candidates, allowed); candidates set to every rule.
    fn split(&mut self, index: &Index) -> (&mut [u64], &mut [u64]) {
        let words = self.words;
        let (c, a) = if words <= STACK_WORDS {
            let [c, a] = &mut self.stack;
            (&mut c[..words], &mut a[..words])
        } else {
            let [c, a] = &mut self.heap;
            (&mut c[..], &mut a[..])
        };
        index.all_candidates(c);
        (c, a)
    }
}

/// Phase 1 over the indexed fields `which` accepts: hash lookups; rules with set patterns on a
/// field stay candidates for now. False when no candidate is left.
#[inline]
fn narrow_by(
    index: &Index,
    finding: &FindingView<'_>,
    which: impl Fn(usize) -> bool,
    candidates: &mut [u64],
    allowed: &mut [u64],
) -> bool {
    for ix in index.fields.iter().filter(|ix| which(ix.field)) {
        let value = field_value(finding, ix.field);
        ix.allowed(value, allowed);
        if let (Some(_), Some(p)) = (value, &ix.patterns) {
            or_into(allowed, &p.rules);
        }
        if !narrow(candidates, allowed) {
            return false;
        }
    }
    true
}

/// Routes `finding` (environment already set) through `rules`, appending to `out`.
pub fn route_rules(
    index: &Index,
    rules: &[CompiledRule],
    finding: &FindingView<'_>,
    out: &mut Routing,
) {
    let mut scratch = Scratch::new(index);
    let (candidates, allowed) = scratch.split(index);
    if narrow_by(index, finding, |_| true, candidates, allowed) {
        finish(index, rules, finding, candidates, allowed, out, 0);
    }
}

/// Phase 2 and the final walk. `decided`: the fields (bit `1 << field`) whose bits in
/// `candidates` already came from the field's full lookup, set included (the memo path's
/// repeating fields); their sets are not run again and the final check skips them for the
/// rules they decide exactly ([`Index::exact`]).
fn finish(
    index: &Index,
    rules: &[CompiledRule],
    finding: &FindingView<'_>,
    candidates: &mut [u64],
    allowed: &mut [u64],
    out: &mut Routing,
    decided: u16,
) {
    // Phase 2, fields with sets: once the lookups have narrowed the candidates, run a field's
    // set only if more than a few of its rules are left (fewer are checked one by one below).
    for ix in &index.fields {
        if decided & (1 << ix.field) != 0 {
            continue;
        }
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
        p.allow_matches(v, allowed);
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
            let skip = decided & index.exact.get(r).copied().unwrap_or(0);
            let matched =
                rule.matcher.fields.iter().all(|m| {
                    skip & (1 << m.field) != 0 || m.is_match(field_value(finding, m.field))
                });
            if !matched {
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
    let finding = &finding.view();
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
    use super::{FrontCache, head_tail};
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
        let mut memo = crate::rules::RouteMemo::new();
        for (n, resource) in resources.iter().enumerate() {
            for status in ["COMPLIANT", "NON_COMPLIANT", "FAILED"] {
                let mut f = Finding::new(ReportTemplate::ResourceCompliance);
                f.resource = Some(resource.to_string());
                f.status = Some(status.to_string());
                f.index = n as u64;
                let got = rules.route(&mut f).deliveries;
                // The memo (a miss, then a hit) routes the same.
                for _ in 0..2 {
                    let mut view = f.view();
                    view.environment = "";
                    let mut out = crate::rules::Routing::default();
                    rules.route_view_memo(&mut view, &mut out, &mut memo);
                    assert_eq!(out.deliveries, got, "memo: {resource} {status}");
                    assert_eq!(view.environment, f.environment);
                }
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
        assert!(!memo.is_empty());
    }

    /// The front cache keys a value by its length and first and last 8 bytes: longer values
    /// equal there (they share a slot) are still told apart, and a slot taken by another value
    /// is a miss, never its value.
    #[test]
    fn front_cache_tells_values_with_equal_ends_apart() {
        let (a, b) = (
            "BACKUP_PLAN_A_MIN_FREQUENCY_CHECK",
            "BACKUP_PLAN_B_MIN_FREQUENCY_CHECK",
        );
        assert_eq!(head_tail(a.as_bytes()), head_tail(b.as_bytes()));
        let mut front = FrontCache::default();
        assert_eq!(front.get(a), None);
        front.put(a, 1u32);
        assert_eq!(front.get(a), Some(1));
        assert_eq!(front.get(b), None);
        front.put(b, 2);
        assert_eq!((front.get(a), front.get(b)), (None, Some(2)));
        // Short values are whole in the key: one differing byte is another key.
        front.put("us-east-1", 3);
        assert_eq!(
            (front.get("us-east-1"), front.get("us-east-2")),
            (Some(3), None)
        );

        // Through the router: two rules on those controls, findings alternating between them
        // (each takes the other's slot), routed as afresh.
        let text = format!(
            r#"
[sinks.a]
type = "log"
[sinks.b]
type = "log"
[[rules]]
name = "a"
sinks = ["a"]
[rules.match]
control = "{a}"
[[rules]]
name = "b"
sinks = ["b"]
[rules.match]
control = "{b}"
"#
        );
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let (rules, _) =
            Rules::parse(&text, "t.toml", ".".into(), &LoadOptions::new(today)).unwrap();
        let mut memo = crate::rules::RouteMemo::new();
        let mut sinks = Vec::new();
        for n in 0..200 {
            let mut f = Finding::new(ReportTemplate::ResourceCompliance);
            f.control = Some([a, b][n % 3 % 2].into());
            f.account = Some(format!("{:012}", n % 5));
            let fresh = rules.route(&mut f);
            let mut view = f.view();
            let mut out = crate::rules::Routing::default();
            rules.route_view_memo(&mut view, &mut out, &mut memo);
            assert_eq!(out, fresh, "{n}: {f:?}");
            sinks.push(out.deliveries.first().map(|d| d.sink));
        }
        assert!(
            sinks.contains(&Some(0)) && sinks.contains(&Some(1)),
            "{sinks:?}"
        );
    }

    proptest::proptest! {
        /// The front cache answers a key with the value last put for that exact key, or not at
        /// all: never with another key's value. Keys are drawn to collide: equal lengths with
        /// equal first and last 8 bytes, short keys with zero bytes, many keys per slot.
        #[test]
        fn front_cache_answers_only_for_its_own_key(
            ops in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        "AAAAAAAA[xy]{0,3}BBBBBBBB",
                        "[ab\x00]{0,9}",
                        proptest::sample::select(vec![
                            "us-east-1".to_string(),
                            "us-east-2".to_string(),
                            "COMPLIANT".to_string(),
                            "NON_COMPLIANT".to_string(),
                            "111111111111".to_string(),
                        ]),
                    ],
                    proptest::prelude::any::<bool>(),
                    proptest::prelude::any::<u32>(),
                ),
                1..400,
            )
        ) {
            let mut front = FrontCache::default();
            let mut model = std::collections::HashMap::new();
            for (key, put, value) in ops {
                if put {
                    front.put(&key, value);
                    model.insert(key, value);
                } else if let Some(got) = front.get(&key) {
                    proptest::prop_assert_eq!(Some(&got), model.get(&key), "{:?}", key);
                }
            }
        }
    }

    /// Rules and silences on repeating fields only: the memo reuses whole decisions, which must
    /// equal routing each finding afresh — for every combination, in any order, hit or miss.
    #[test]
    fn memoised_decisions_equal_fresh_routing() {
        let text = r#"
[environments.prod]
accounts = ["111111111111"]
[sinks.a]
type = "log"
[sinks.b]
type = "log"
[[silences]]
until = "2099-01-01"
reason = "known"
[silences.match]
control = "C3"
account = "222222222222"
[[rules]]
name = "prod-nc"
sinks = ["a"]
continue = true
[rules.match]
environment = "prod"
status = "NON_COMPLIANT"
[[rules]]
name = "c1-or-c2-east"
sinks = ["b"]
[rules.match]
control = ["C1", "re:^C2$"]
region = "us-*"
[[rules]]
name = "by-resource"
sinks = ["a", "b"]
[rules.match]
resource = "*-special"
[[rules]]
name = "rest"
sinks = ["a"]
[rules.match]
status = "!COMPLIANT"
"#;
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let (rules, _) =
            Rules::parse(text, "t.toml", ".".into(), &LoadOptions::new(today)).unwrap();
        let mut memo = crate::rules::RouteMemo::new();
        let mut seen = std::collections::HashSet::new();
        let mut n = 0u64;
        for round in 0..2 {
            for control in ["C1", "C2", "C3", "C4"] {
                for account in [Some("111111111111"), Some("222222222222"), None] {
                    for region in ["us-east-1", "eu-west-1"] {
                        for status in ["COMPLIANT", "NON_COMPLIANT"] {
                            for resource in ["vol-1", "vol-special", ""] {
                                let mut f = Finding::new(ReportTemplate::ResourceCompliance);
                                f.control = Some(control.into());
                                f.account = account.map(str::to_string);
                                f.region = Some(region.into());
                                f.status = Some(status.into());
                                f.resource = (!resource.is_empty()).then(|| resource.into());
                                f.index = n;
                                n += 1;
                                let fresh = rules.route(&mut f);
                                let mut view = f.view();
                                view.environment = "";
                                let mut out = crate::rules::Routing::default();
                                rules.route_view_memo(&mut view, &mut out, &mut memo);
                                assert_eq!(out, fresh, "round {round}: {f:?}");
                                assert_eq!(view.environment, f.environment);
                                seen.insert(format!("{:?}", fresh));
                            }
                        }
                    }
                }
            }
        }
        // Silenced, unrouted, and each rule's sinks all occurred.
        assert!(seen.len() >= 5, "{seen:?}");
        // One entry per value of each indexed repeating field: 4 controls, 2 statuses, 2
        // regions, 1 report, 3 environments..., and per account its environment (the resource
        // is not memoised).
        let kept = memo.len();
        assert!((8..=20).contains(&kept), "{kept}");

        // Past its first table size (1 024 slots): the table grows and keeps every entry.
        for round in 0..2 {
            for a in 0..3000 {
                let mut f = Finding::new(ReportTemplate::ResourceCompliance);
                f.account = Some(format!("{a:012}"));
                f.status = Some(["COMPLIANT", "NON_COMPLIANT"][a % 2].into());
                f.control = Some(format!("C{a}"));
                f.region = Some("us-east-1".into());
                let fresh = rules.route(&mut f);
                let mut view = f.view();
                let mut out = crate::rules::Routing::default();
                rules.route_view_memo(&mut view, &mut out, &mut memo);
                assert_eq!(out, fresh, "round {round}: {f:?}");
            }
        }
        // C1…C4 were seen already; each new account is kept with its environment too.
        assert_eq!(memo.len(), kept + 2996 + 3000);
    }
}
