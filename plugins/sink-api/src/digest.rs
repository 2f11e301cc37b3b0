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

/// FNV-1a over a group's key (framework, control, status), with a marker byte per part so
/// `None`, `""` and part boundaries hash apart. Deterministic: no per-process seed needed, the
/// strings come from one report.
fn group_hash(v: &FindingView<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for part in [v.framework, v.control, v.status] {
        match part {
            None => eat(0),
            Some(s) => {
                eat(1);
                s.bytes().for_each(&mut eat);
                eat(0xff);
            }
        }
    }
    h
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
    environments: BTreeSet<String>,
    accounts: BTreeSet<String>,
    regions: BTreeSet<String>,
    rules: BTreeSet<String>,
    /// Groups in order of first appearance; sorted by key in `finish`.
    groups: Vec<Group>,
    /// Group key hash → indexes into `groups` (looked up with borrowed strings: no clone per
    /// finding).
    lookup: HashMap<u64, Vec<usize>>,
    /// The group of the previous finding: reports often list one control's findings together.
    last: Option<usize>,
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
            environments: BTreeSet::new(),
            accounts: BTreeSet::new(),
            regions: BTreeSet::new(),
            rules: BTreeSet::new(),
            groups: Vec::new(),
            lookup: HashMap::new(),
            last: None,
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
        if !self.rules.contains(rule) {
            self.rules.insert(rule.to_string());
        }
        insert_opt(&mut self.environments, Some(v.environment));
        insert_opt(&mut self.accounts, v.account);
        insert_opt(&mut self.regions, v.region);
        let g = self.group_of(v);
        let group = &mut self.groups[g];
        group.count += 1;
        insert_opt(&mut group.accounts, v.account);
        insert_opt(&mut group.regions, v.region);
        if self.kept < self.max_kept {
            self.kept += 1;
            group.findings.push(make());
        } else {
            group.omitted += 1;
        }
    }

    /// The index of `v`'s group, created on first sight.
    fn group_of(&mut self, v: &FindingView<'_>) -> usize {
        let same = |g: &Group| {
            g.framework.as_deref() == v.framework
                && g.control.as_deref() == v.control
                && g.status.as_deref() == v.status
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
                bucket.push(self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        self.last = Some(i);
        i
    }

    pub fn finish(self) -> Digest {
        Digest {
            sink: self.sink,
            report: self.report,
            report_title: self.report.title(),
            is_job_report: self.report.is_job(),
            source: self.source,
            total: self.total,
            omitted: self.total - self.kept as u64,
            environments: self.environments,
            accounts: self.accounts,
            regions: self.regions,
            rules: self.rules,
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

fn insert_opt(set: &mut BTreeSet<String>, value: Option<&str>) {
    if let Some(v) = value
        && !v.is_empty()
        && !set.contains(v)
    {
        set.insert(v.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
