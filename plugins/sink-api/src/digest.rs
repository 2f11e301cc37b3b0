//! The group stage's product: what one sink gets for one report. A digest keeps every count but
//! only a bounded number of findings (`max_kept`), so its memory does not grow with the report.

use crate::model::{Finding, FindingView, ReportTemplate};
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
    /// Kept findings, in report order.
    pub findings: Vec<Finding>,
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

/// Builds a [`Digest`] one finding at a time.
#[derive(Debug)]
pub struct DigestBuilder {
    sink: String,
    report: ReportTemplate,
    source: SourceInfo,
    max_kept: usize,
    kept: usize,
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
            kept: 0,
            total: 0,
            values: Interner::default(),
            environments: IdSet::default(),
            rules: Interner::default(),
            groups: Vec::new(),
            group_sets: Vec::new(),
            lookup: HashMap::default(),
            last: None,
            last_rule: None,
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
        self.total += 1;
        // Most findings come from the same rule as the one before: skip the lookup then.
        let same = self
            .last_rule
            .and_then(|id| self.rules.names.get(id as usize))
            .is_some_and(|last| crate::strmap::same_bytes(last.as_bytes(), rule.as_bytes()));
        if !same {
            self.last_rule = self.rules.intern(rule);
        }
        // Ids instead of string sets: one hash lookup per value, then a bit. The digest's
        // accounts and regions are the union of its groups', taken in `finish`.
        if let Some(id) = self.values.id(Some(v.environment)) {
            self.environments.insert(id);
        }
        let account = self.values.id(v.account);
        let region = self.values.id(v.region);
        let g = self.group_of(v);
        let (accounts, regions) = &mut self.group_sets[g];
        if let Some(id) = account {
            accounts.insert(id);
        }
        if let Some(id) = region {
            regions.insert(id);
        }
        let group = &mut self.groups[g];
        group.count += 1;
        if self.kept < self.max_kept {
            self.kept += 1;
            group.findings.push(make());
        } else {
            group.omitted += 1;
        }
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
        let (mut accounts, mut regions) = (BTreeSet::new(), BTreeSet::new());
        for (g, (a, r)) in self.groups.iter_mut().zip(&self.group_sets) {
            g.accounts = self.values.strings(a);
            g.regions = self.values.strings(r);
            accounts.extend(g.accounts.iter().cloned());
            regions.extend(g.regions.iter().cloned());
        }
        Digest {
            sink: self.sink,
            report: self.report,
            report_title: self.report.title(),
            is_job_report: self.report.is_job(),
            source: self.source,
            total: self.total,
            omitted: self.total - self.kept as u64,
            environments: self.values.strings(&self.environments),
            accounts,
            regions,
            rules: self.rules.names.iter().map(|n| n.to_string()).collect(),
            groups: {
                let mut groups = self.groups;
                // Framework → control → status, `None` first (as a map keyed by them sorts).
                groups.sort_by(|a, b| {
                    (&a.framework, &a.control, &a.status).cmp(&(
                        &b.framework,
                        &b.control,
                        &b.status,
                    ))
                });
                groups
            },
        }
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
