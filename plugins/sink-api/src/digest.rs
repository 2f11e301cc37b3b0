//! The group stage's product: what one sink gets for one report. A digest keeps every count but
//! only a bounded number of findings (`max_kept`), so its memory does not grow with the report.

use crate::model::{Change, Finding, FindingView, ReportTemplate};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// Where a report came from, for links and headings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// `s3://bucket/key` or the local path as given.
    pub uri: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// `json` or `csv`.
    pub format: String,
}

/// The findings of one report routed to one sink, grouped framework → control → status
/// (compliance reports) or by job status (job reports; framework and control are `None`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Digest {
    pub sink: String,
    pub report: ReportTemplate,
    pub report_title: &'static str,
    pub is_job_report: bool,
    pub source: SourceInfo,
    /// Every finding routed to this sink.
    pub total: u64,
    /// Findings counted but not kept (beyond `max_kept`): templates say "…and N more".
    pub omitted: u64,
    pub environments: BTreeSet<String>,
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    /// The rules that routed findings here.
    pub rules: BTreeSet<String>,
    pub groups: Vec<Group>,
    /// Next to the previous report of the stream: `None` when no state is kept. Templates see
    /// its fields at the top level (`new`, `ongoing`, `resolved`, `since`, …; see
    /// [`crate::render_data`]).
    #[serde(skip)]
    pub changes: Option<Changes>,
}

/// A digest next to the previous report of its stream (`docs/state.md` in the repository).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Changes {
    /// Findings not routed to this sink by the previous report.
    pub new: u64,
    /// Findings routed to this sink by the previous report too.
    pub ongoing: u64,
    /// Findings routed to this sink by the previous report (and listed in a message then) that
    /// this report does not route to it.
    pub resolved: u64,
    /// The previous report's date; `None` when this sink has no previous state in the stream.
    #[serde(serialize_with = "crate::model::serialize_date")]
    pub since: Option<chrono::NaiveDate>,
    /// No previous state for this sink: every finding is new.
    pub first_report: bool,
    /// The most days any finding of this digest has been open.
    pub oldest_days: Option<u32>,
    /// Ongoing findings not listed (`notify = "changes"`: counted, listed again when
    /// `repeat_after` says so).
    pub unlisted: u64,
    /// `always` or `changes`: the sink's (or its rules') `notify`.
    pub notify: &'static str,
    /// The resolved findings listed (at most the digest's `max_kept`), in the previous state's
    /// order, with `change = resolved`, `first_seen` and `days_open` (days until this report).
    pub resolved_findings: Vec<Finding>,
    /// Resolved findings counted but not listed.
    pub resolved_omitted: u64,
}

/// How one finding compares with the previous report of its stream, for the sink whose digest
/// it goes to ([`DigestBuilder::push_seen`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// [`Change::New`] or [`Change::Ongoing`].
    pub change: Change,
    pub first_seen: chrono::NaiveDate,
    pub days_open: u32,
    /// Whether the digest lists it: a finding not listed is counted only (an ongoing finding
    /// under `notify = "changes"` that is not due again). A new finding is always listed.
    pub listed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub framework: Option<String>,
    pub control: Option<String>,
    pub status: Option<String>,
    /// Findings in this group, kept or not.
    pub count: u64,
    /// Findings of this group that were not kept.
    pub omitted: u64,
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    /// Kept findings, in report order (with state: new ones first).
    pub findings: Vec<Finding>,
    /// With state: this group's new and ongoing findings, and the resolved findings of its
    /// framework, control and status; `None` without state.
    pub new: Option<u64>,
    pub ongoing: Option<u64>,
    pub resolved: Option<u64>,
}

/// A hash of a group's key (framework, control, status); `None` and `""` hash apart.
/// Deterministic (fixed seed): the strings come from one report. Each part is hashed one-shot
/// (foldhash's short-string path) and the three mixed by position; a byte-at-a-time FNV here
/// was ~70 serial multiplies per routed finding, foldhash's streaming hasher over the tuple
/// about twice this.
fn group_hash(v: &FindingView<'_>) -> u64 {
    let part = |s: Option<&str>, none: u64| s.map_or(none, crate::strmap::hash);
    let f = part(v.framework, 0x243f_6a88_85a3_08d3);
    let c = part(v.control, 0x1319_8a2e_0370_7344);
    let s = part(v.status, 0xa409_3822_299f_31d0);
    f ^ c.rotate_left(21) ^ s.rotate_left(42)
}

/// Numbers another component has already given a finding's values — the router's memo numbers
/// the values of each repeating field once per report — so a digest can look a value up by
/// its number instead of hashing its text again. Within one digest, equal numbers of one field
/// must stand for equal values. `None` where no number is known: the text is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValueIds {
    pub framework: Option<u32>,
    pub control: Option<u32>,
    pub status: Option<u32>,
    pub account: Option<u32>,
    pub region: Option<u32>,
    pub environment: Option<u32>,
}

/// Outside numbers past this are not cached (a caller numbering sparsely cannot make the
/// tables large); such values are looked up by their text.
const MAX_OUTSIDE_ID: u32 = 1 << 20;

/// A digest id not assigned yet, in the tables keyed by outside numbers.
const UNSET: u32 = u32::MAX;

/// The digest's own id for outside number `n`, from `table` or (once) from `intern`.
#[inline]
fn by_number(table: &mut Vec<u32>, n: u32, intern: impl FnOnce() -> Option<u32>) -> Option<u32> {
    if let Some(&id) = table.get(n as usize)
        && id != UNSET
    {
        return Some(id);
    }
    let id = intern()?;
    if n < MAX_OUTSIDE_ID {
        let n = n as usize;
        if table.len() <= n {
            table.resize(n + 1, UNSET);
        }
        table[n] = id;
    }
    Some(id)
}

/// The numbers of `v`'s framework, control and status packed in one key (21 bits each, a
/// missing value its own code), if each present value has a number that fits.
fn group_numbers(v: &FindingView<'_>, ids: &ValueIds) -> Option<u64> {
    const NONE: u64 = (1 << 21) - 1;
    let part = |value: Option<&str>, n: Option<u32>| match (value, n) {
        (None, _) => Some(NONE),
        (Some(_), Some(n)) if u64::from(n) < NONE => Some(u64::from(n)),
        (Some(_), _) => None,
    };
    let f = part(v.framework, ids.framework)?;
    let c = part(v.control, ids.control)?;
    let s = part(v.status, ids.status)?;
    Some(f << 42 | c << 21 | s)
}

/// Builds a [`Digest`] one finding at a time.
#[derive(Debug)]
pub struct DigestBuilder {
    sink: String,
    report: ReportTemplate,
    source: SourceInfo,
    max_kept: usize,
    /// The kept findings in push order, with their group; `None` where a new finding took the
    /// place of a listed ongoing one ([`DigestBuilder::push_seen`]). Moved into the groups in
    /// `finish`.
    kept: Vec<Option<(usize, Finding)>>,
    /// Live entries of `kept`.
    kept_count: usize,
    /// Indexes into `kept` of the listed ongoing findings, latest last: the first to give way
    /// to a new finding when the digest is full.
    yielding: Vec<usize>,
    /// With state: new, ongoing, unlisted counts and the most days open.
    seen: Option<SeenCounts>,
    total: u64,
    /// Environment, account and region values, each stored once; the sets below hold ids.
    values: Interner,
    environments: IdSet,
    /// The rules seen, each stored once (a tree of names cost ~10 string compares per
    /// delivery with 1 000 rules); made a sorted set in `finish`.
    rules: Interner,
    /// Groups in order of first appearance; sorted by key in `finish`.
    groups: Vec<Group>,
    /// Per group (same index), the ids of its accounts and regions; made strings in `finish`.
    group_sets: Vec<(IdSet, IdSet)>,
    /// Group key hash → indexes into `groups` (looked up with borrowed strings: no clone per
    /// finding).
    lookup: HashMap<u64, Vec<usize>, foldhash::fast::FixedState>,
    /// The group of the previous finding: reports often list one control's findings together.
    last: Option<usize>,
    /// The previous finding's rule: its id in `rules`.
    last_rule: Option<u32>,
    /// By [`ValueIds`] number: the digest's value ids of environments, accounts, regions.
    environment_of: Vec<u32>,
    account_of: Vec<u32>,
    region_of: Vec<u32>,
    /// Group index by the [`ValueIds`] numbers of framework, control and status (packed).
    group_by_numbers: HashMap<u64, usize, foldhash::fast::FixedState>,
    /// The previous finding's packed numbers and group.
    last_numbers: Option<(u64, usize)>,
}

impl DigestBuilder {
    /// `max_kept` bounds the findings kept across all groups (counts stay exact).
    pub fn new(
        sink: impl Into<String>,
        report: ReportTemplate,
        source: SourceInfo,
        max_kept: usize,
    ) -> Self {
        DigestBuilder {
            sink: sink.into(),
            report,
            source,
            max_kept,
            kept: Vec::new(),
            kept_count: 0,
            yielding: Vec::new(),
            seen: None,
            total: 0,
            values: Interner::default(),
            environments: IdSet::default(),
            rules: Interner::default(),
            groups: Vec::new(),
            group_sets: Vec::new(),
            lookup: HashMap::default(),
            last: None,
            last_rule: None,
            environment_of: Vec::new(),
            account_of: Vec::new(),
            region_of: Vec::new(),
            group_by_numbers: HashMap::default(),
            last_numbers: None,
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds a finding that `rule` routed to this sink.
    pub fn push(&mut self, finding: &Finding, rule: &str) {
        self.push_view(&finding.view(), rule, || finding.clone());
    }

    /// Adds a finding given by its borrowed fields; `make` builds the owned finding and is
    /// called only if the digest keeps it (at most `max_kept` times): the counters and sets
    /// read the borrowed strings and copy only values not seen before.
    pub fn push_view(&mut self, v: &FindingView<'_>, rule: &str, make: impl FnOnce() -> Finding) {
        self.push_view_ids(v, &ValueIds::default(), rule, make);
    }

    /// [`push_view`](Self::push_view) with numbers already given to the finding's values
    /// (see [`ValueIds`]): a value whose number the digest has seen is found by it, without
    /// hashing its text. The digest is the same either way.
    pub fn push_view_ids(
        &mut self,
        v: &FindingView<'_>,
        ids: &ValueIds,
        rule: &str,
        make: impl FnOnce() -> Finding,
    ) {
        self.push_seen(v, ids, rule, None, make);
    }

    /// [`push_view_ids`](Self::push_view_ids) for a sink that keeps state: `seen` says how the
    /// finding compares with the previous report. New findings are kept first: when the digest
    /// is full, a new finding takes the place of the latest listed ongoing one; a finding not
    /// `listed` is counted only.
    pub fn push_seen(
        &mut self,
        v: &FindingView<'_>,
        ids: &ValueIds,
        rule: &str,
        seen: Option<&Seen>,
        make: impl FnOnce() -> Finding,
    ) {
        self.total += 1;
        // Most findings come from the same rule as the one before: skip the lookup then.
        let same = self
            .last_rule
            .and_then(|id| self.rules.names.get(id as usize))
            .is_some_and(|last| crate::strmap::same_bytes(last.as_bytes(), rule.as_bytes()));
        if !same {
            self.last_rule = self.rules.intern(rule);
        }
        // Ids instead of string sets: one lookup per value (by number if there is one), then
        // a bit. The digest's accounts and regions are the union of its groups', taken in
        // `finish`.
        let values = &mut self.values;
        let environment = match ids.environment {
            Some(n) if !v.environment.is_empty() => by_number(&mut self.environment_of, n, || {
                values.id(Some(v.environment))
            }),
            _ => values.id(Some(v.environment)),
        };
        if let Some(id) = environment {
            self.environments.insert(id);
        }
        let account = match (v.account, ids.account) {
            (Some(a), Some(n)) if !a.is_empty() => {
                by_number(&mut self.account_of, n, || values.id(Some(a)))
            }
            (a, _) => values.id(a),
        };
        let region = match (v.region, ids.region) {
            (Some(r), Some(n)) if !r.is_empty() => {
                by_number(&mut self.region_of, n, || values.id(Some(r)))
            }
            (r, _) => values.id(r),
        };
        let g = match group_numbers(v, ids) {
            Some(key) => self.group_by_number(v, key),
            None => self.group_of(v),
        };
        let (accounts, regions) = &mut self.group_sets[g];
        if let Some(id) = account {
            accounts.insert(id);
        }
        if let Some(id) = region {
            regions.insert(id);
        }
        self.groups[g].count += 1;
        match seen {
            None => {
                if self.kept_count < self.max_kept {
                    self.keep(g, make());
                }
            }
            Some(seen) => self.push_change(g, seen, make),
        }
    }

    fn keep(&mut self, g: usize, finding: Finding) -> usize {
        self.kept_count += 1;
        self.kept.push(Some((g, finding)));
        self.kept.len() - 1
    }

    /// Counts a finding of group `g` by its change and keeps it by priority (see
    /// [`push_seen`](Self::push_seen)).
    fn push_change(&mut self, g: usize, seen: &Seen, make: impl FnOnce() -> Finding) {
        let counts = self.seen.get_or_insert_with(SeenCounts::default);
        counts.oldest = counts.oldest.max(Some(seen.days_open));
        let new = seen.change == Change::New;
        if new {
            counts.new += 1;
            counts.per_group(g).0 += 1;
        } else {
            counts.ongoing += 1;
            counts.per_group(g).1 += 1;
            if !seen.listed {
                counts.unlisted += 1;
                return;
            }
        }
        let finding = || {
            let mut f = make();
            f.change = Some(seen.change);
            f.first_seen = Some(seen.first_seen);
            f.days_open = Some(seen.days_open);
            f
        };
        if self.kept_count < self.max_kept {
            let i = self.keep(g, finding());
            if !new {
                self.yielding.push(i);
            }
        } else if new && let Some(i) = self.yielding.pop() {
            self.kept[i] = None;
            self.kept_count -= 1;
            self.keep(g, finding());
        }
    }

    /// The group of `v`, whose framework, control and status numbers pack into `key`.
    fn group_by_number(&mut self, v: &FindingView<'_>, key: u64) -> usize {
        if let Some((last, g)) = self.last_numbers
            && last == key
        {
            return g;
        }
        let g = match self.group_by_numbers.get(&key) {
            Some(&g) => g,
            None => {
                let g = self.group_of(v);
                self.group_by_numbers.insert(key, g);
                g
            }
        };
        self.last_numbers = Some((key, g));
        g
    }

    /// The index of `v`'s group, created on first sight.
    fn group_of(&mut self, v: &FindingView<'_>) -> usize {
        let eq = |a: &Option<String>, b: Option<&str>| match (a, b) {
            (Some(a), Some(b)) => crate::strmap::same_bytes(a.as_bytes(), b.as_bytes()),
            (None, None) => true,
            _ => false,
        };
        let same = |g: &Group| {
            eq(&g.framework, v.framework) && eq(&g.control, v.control) && eq(&g.status, v.status)
        };
        if let Some(i) = self.last
            && same(&self.groups[i])
        {
            return i;
        }
        let bucket = self.lookup.entry(group_hash(v)).or_default();
        let i = match bucket.iter().copied().find(|&i| same(&self.groups[i])) {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    framework: v.framework.map(str::to_owned),
                    control: v.control.map(str::to_owned),
                    status: v.status.map(str::to_owned),
                    count: 0,
                    omitted: 0,
                    accounts: BTreeSet::new(),
                    regions: BTreeSet::new(),
                    findings: Vec::new(),
                    new: None,
                    ongoing: None,
                    resolved: None,
                });
                self.group_sets.push(Default::default());
                bucket.push(self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        self.last = Some(i);
        i
    }

    pub fn finish(mut self) -> Digest {
        for (g, finding) in self.kept.into_iter().flatten() {
            self.groups[g].findings.push(finding);
        }
        let (mut accounts, mut regions) = (BTreeSet::new(), BTreeSet::new());
        for (i, (g, (a, r))) in self.groups.iter_mut().zip(&self.group_sets).enumerate() {
            g.accounts = self.values.strings(a);
            g.regions = self.values.strings(r);
            accounts.extend(g.accounts.iter().cloned());
            regions.extend(g.regions.iter().cloned());
            g.omitted = g.count - g.findings.len() as u64;
            if let Some(counts) = &self.seen {
                let (new, ongoing) = counts.groups.get(i).copied().unwrap_or_default();
                (g.new, g.ongoing, g.resolved) = (Some(new), Some(ongoing), Some(0));
                // New findings first, then in report order.
                g.findings.sort_by_key(|f| f.change != Some(Change::New));
            }
        }
        let changes = self.seen.as_ref().map(|c| Changes {
            new: c.new,
            ongoing: c.ongoing,
            oldest_days: c.oldest,
            unlisted: c.unlisted,
            ..Changes::default()
        });
        Digest {
            sink: self.sink,
            report: self.report,
            report_title: self.report.title(),
            is_job_report: self.report.is_job(),
            source: self.source,
            total: self.total,
            omitted: self.total - self.kept_count as u64,
            environments: self.values.strings(&self.environments),
            accounts,
            regions,
            rules: self.rules.names.iter().map(|n| n.to_string()).collect(),
            groups: {
                let mut groups = self.groups;
                // Framework → control → status, `None` first (as a map keyed by them sorts);
                // with state, the groups with new findings first.
                groups.sort_by(|a, b| {
                    let quiet = |g: &Group| g.new.is_some_and(|n| n == 0);
                    (quiet(a), &a.framework, &a.control, &a.status).cmp(&(
                        quiet(b),
                        &b.framework,
                        &b.control,
                        &b.status,
                    ))
                });
                groups
            },
            changes,
        }
    }
}

/// A state-keeping digest's counts while it is built.
#[derive(Debug, Default)]
struct SeenCounts {
    new: u64,
    ongoing: u64,
    unlisted: u64,
    oldest: Option<u32>,
    /// Per group index: (new, ongoing).
    groups: Vec<(u64, u64)>,
}

impl SeenCounts {
    fn per_group(&mut self, g: usize) -> &mut (u64, u64) {
        if self.groups.len() <= g {
            self.groups.resize(g + 1, (0, 0));
        }
        &mut self.groups[g]
    }
}

impl Changes {
    /// A copy of everything but the listed resolved findings.
    pub fn clone_counts(&self) -> Changes {
        Changes {
            resolved_findings: Vec::new(),
            ..*self
        }
    }
}

impl Digest {
    /// Records the resolved findings (at most `max_listed` of them kept, the rest counted in
    /// `resolved_omitted`), the previous report's date and the sink's `notify`. On a digest
    /// built without state ([`DigestBuilder::push_view_ids`]) this also starts its changes:
    /// every group then counts 0 new, 0 ongoing.
    pub fn set_previous(
        &mut self,
        since: Option<chrono::NaiveDate>,
        notify: &'static str,
        resolved: Vec<Finding>,
        resolved_total: u64,
    ) {
        let changes = self.changes.get_or_insert_with(|| Changes {
            new: 0,
            ongoing: 0,
            ..Changes::default()
        });
        changes.since = since;
        changes.first_report = since.is_none();
        changes.notify = notify;
        changes.resolved = resolved_total;
        changes.resolved_omitted = resolved_total.saturating_sub(resolved.len() as u64);
        for g in &mut self.groups {
            let same = |f: &&Finding| {
                f.framework == g.framework && f.control == g.control && f.status == g.status
            };
            g.new.get_or_insert(0);
            g.ongoing.get_or_insert(0);
            g.resolved = Some(resolved.iter().filter(same).count() as u64);
        }
        changes.resolved_findings = resolved;
    }
}

/// Strings of one digest, each stored once and numbered in order of first sight.
#[derive(Debug, Default)]
struct Interner {
    ids: crate::strmap::StrMap<u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// The id of `value`; `None` for a missing or empty value (not listed, as before).
    fn id(&mut self, value: Option<&str>) -> Option<u32> {
        self.intern(value.filter(|v| !v.is_empty())?)
    }

    /// The id of `v`, empty or not; `None` only past `u32::MAX` values.
    fn intern(&mut self, v: &str) -> Option<u32> {
        if let Some(&id) = self.ids.get(v) {
            return Some(id);
        }
        let id = u32::try_from(self.names.len()).ok()?;
        self.names.push(v.into());
        self.ids.insert(v, id);
        Some(id)
    }

    fn strings(&self, set: &IdSet) -> BTreeSet<String> {
        set.iter()
            .filter_map(|id| self.names.get(id as usize))
            .map(|s| s.to_string())
            .collect()
    }
}

/// A set of [`Interner`] ids: a bit set for the first [`IdSet::DENSE`] ids (accounts and
/// regions of a real report), a tree past them, so a report with very many distinct values
/// cannot make every group's set large.
#[derive(Debug, Default)]
struct IdSet {
    dense: Vec<u64>,
    sparse: BTreeSet<u32>,
}

impl IdSet {
    const DENSE: u32 = 4096;

    #[inline]
    fn insert(&mut self, id: u32) {
        if id >= Self::DENSE {
            self.sparse.insert(id);
            return;
        }
        let word = (id / 64) as usize;
        if self.dense.len() <= word {
            self.dense.resize(word + 1, 0);
        }
        self.dense[word] |= 1 << (id % 64);
    }

    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.dense
            .iter()
            .enumerate()
            .flat_map(|(w, &bits)| {
                (0..64u32)
                    .filter(move |b| bits & (1 << b) != 0)
                    .map(move |b| w as u32 * 64 + b)
            })
            .chain(self.sparse.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushed with numbers for their values ([`ValueIds`], some missing, some past the cached
    /// range) or without, the same findings make the same digest.
    #[test]
    fn numbered_values_make_the_same_digest() {
        let pool = |i: u64, n: u64, name: &str| -> Option<String> {
            let k = i % n;
            (k != 0).then(|| format!("{name}{k}"))
        };
        // Per field, a number for each value: its order of first sight, offset per field.
        let mut numbers: Vec<std::collections::HashMap<String, u32>> = vec![Default::default(); 6];
        let mut number = |field: usize, v: &Option<String>, skip: bool| -> Option<u32> {
            let v = v.as_ref()?;
            let table = &mut numbers[field];
            let next = table.len() as u32;
            let n = *table.entry(v.clone()).or_insert(next);
            // Sparse and huge numbers must work as well as dense ones.
            let n = if field == 3 { n * 1_000_003 } else { n };
            (!skip).then_some(n)
        };
        let mut plain = DigestBuilder::new(
            "s",
            ReportTemplate::ResourceCompliance,
            SourceInfo::default(),
            50,
        );
        let mut numbered = DigestBuilder::new(
            "s",
            ReportTemplate::ResourceCompliance,
            SourceInfo::default(),
            50,
        );
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..3000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut f = Finding::new(ReportTemplate::ResourceCompliance);
            f.framework = pool(x, 4, "fw");
            f.control = pool(x >> 8, 7, "ctl");
            f.status = pool(x >> 16, 3, "st");
            f.account = pool(x >> 24, 9, "acct");
            f.region = pool(x >> 32, 5, "reg");
            f.environment = pool(x >> 40, 4, "env").unwrap_or_default();
            f.index = i;
            let skip = |bit: u32| x >> (48 + bit) & 7 == 0;
            let ids = ValueIds {
                framework: number(0, &f.framework, skip(0)),
                control: number(1, &f.control, skip(1)),
                status: number(2, &f.status, skip(2)),
                account: number(3, &f.account, skip(3)),
                region: number(4, &f.region, skip(4)),
                environment: number(
                    5,
                    &Some(f.environment.clone()).filter(|e| !e.is_empty()),
                    skip(5),
                ),
            };
            let rule = if i % 5 == 0 { "r1" } else { "r2" };
            plain.push_view(&f.view(), rule, || f.clone());
            numbered.push_view_ids(&f.view(), &ids, rule, || f.clone());
        }
        assert_eq!(plain.finish(), numbered.finish());
    }

    /// Accounts, regions and environments come out as the same sorted string sets as before
    /// the ids, per group and for the digest, past the dense part of the id sets (ids ≥ 4 096)
    /// and without empty or missing values.
    #[test]
    fn account_region_and_environment_sets_survive_the_ids() {
        let mut b = DigestBuilder::new(
            "s",
            ReportTemplate::ResourceCompliance,
            SourceInfo::default(),
            10,
        );
        let mut expected_a: BTreeSet<String> = BTreeSet::new();
        for i in 0..5000u32 {
            let mut f = Finding::new(ReportTemplate::ResourceCompliance);
            f.control = Some(if i % 2 == 0 { "C0" } else { "C1" }.into());
            f.account = (i % 7 != 0).then(|| format!("{:012}", i));
            f.region = Some(if i % 3 == 0 {
                String::new()
            } else {
                "eu-west-1".into()
            });
            f.environment = if i % 5 == 0 { "prod" } else { "" }.into();
            if let Some(a) = &f.account {
                expected_a.insert(a.clone());
            }
            b.push(&f, "r");
        }
        let d = b.finish();
        assert_eq!(d.accounts, expected_a);
        assert_eq!(d.accounts.len(), 4285);
        assert_eq!(d.regions, BTreeSet::from(["eu-west-1".to_string()]));
        assert_eq!(d.environments, BTreeSet::from(["prod".to_string()]));
        let c1 = d
            .groups
            .iter()
            .find(|g| g.control.as_deref() == Some("C1"))
            .unwrap();
        assert!(
            c1.accounts
                .iter()
                .all(|a| a.parse::<u32>().unwrap() % 2 == 1)
        );
        assert_eq!(c1.accounts.len() + d.groups[0].accounts.len(), 4285);
    }

    fn finding(control: &str, resource: &str) -> Finding {
        let mut f = Finding::new(ReportTemplate::ResourceCompliance);
        f.framework = Some("fw".into());
        f.control = Some(control.into());
        f.status = Some("NON_COMPLIANT".into());
        f.account = Some("111111111111".into());
        f.region = Some("us-east-1".into());
        f.environment = "prod".into();
        f.resource = Some(resource.into());
        f
    }

    #[test]
    fn groups_by_control_and_bounds_kept_findings() {
        let mut b = DigestBuilder::new(
            "ops",
            ReportTemplate::ResourceCompliance,
            SourceInfo::default(),
            2,
        );
        b.push(&finding("B_CONTROL", "r1"), "rule-1");
        b.push(&finding("A_CONTROL", "r2"), "rule-1");
        b.push(&finding("B_CONTROL", "r3"), "rule-2");
        let d = b.finish();
        assert_eq!(d.total, 3);
        assert_eq!(d.omitted, 1);
        assert_eq!(d.groups.len(), 2);
        assert_eq!(d.groups[0].control.as_deref(), Some("A_CONTROL"));
        assert_eq!(d.groups[1].count, 2);
        assert_eq!(d.groups[1].findings.len(), 1);
        assert_eq!(d.groups[1].omitted, 1);
        assert_eq!(
            d.rules.iter().cloned().collect::<Vec<_>>(),
            vec!["rule-1", "rule-2"]
        );
        assert_eq!(d.environments.len(), 1);
    }
}
