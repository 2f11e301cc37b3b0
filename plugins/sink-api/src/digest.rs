//! The group stage's product: what one sink gets for one report. A digest keeps every count but
//! only a bounded number of findings (`max_kept`), so its memory does not grow with the report.

use crate::model::{Finding, ReportTemplate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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

type GroupKey = (Option<String>, Option<String>, Option<String>);

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
    groups: BTreeMap<GroupKey, Group>,
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
            groups: BTreeMap::new(),
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds a finding that `rule` routed to this sink.
    pub fn push(&mut self, finding: &Finding, rule: &str) {
        self.total += 1;
        if !self.rules.contains(rule) {
            self.rules.insert(rule.to_string());
        }
        insert_opt(&mut self.environments, Some(&finding.environment));
        insert_opt(&mut self.accounts, finding.account.as_ref());
        insert_opt(&mut self.regions, finding.region.as_ref());
        let key: GroupKey = (
            finding.framework.clone(),
            finding.control.clone(),
            finding.status.clone(),
        );
        let group = self.groups.entry(key).or_insert_with(|| Group {
            framework: finding.framework.clone(),
            control: finding.control.clone(),
            status: finding.status.clone(),
            count: 0,
            omitted: 0,
            accounts: BTreeSet::new(),
            regions: BTreeSet::new(),
            findings: Vec::new(),
        });
        group.count += 1;
        insert_opt(&mut group.accounts, finding.account.as_ref());
        insert_opt(&mut group.regions, finding.region.as_ref());
        if self.kept < self.max_kept {
            self.kept += 1;
            group.findings.push(finding.clone());
        } else {
            group.omitted += 1;
        }
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
            groups: self.groups.into_values().collect(),
        }
    }
}

fn insert_opt(set: &mut BTreeSet<String>, value: Option<&String>) {
    if let Some(v) = value
        && !v.is_empty()
        && !set.contains(v)
    {
        set.insert(v.clone());
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
