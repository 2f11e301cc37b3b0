//! What makes two findings of consecutive reports "the same": a finding's identity and its
//! in-memory fingerprint.
//!
//! - Compliance reports: template, framework, control, account, region, resource type and
//!   resource (the control report has no resource: framework, control, account, region).
//! - Job reports (backup, copy, restore, scan): template, account, region and resource — not
//!   the job: "backups of X failed three days in a row" is one ongoing finding, and "X backed up
//!   fine again" resolves it. A job without a resource is identified by its job id.
//!
//! The state documents store the identity's fields, not the fingerprint, so the fingerprint
//! (a 64-bit hash) only has to agree within one process.

use crate::sink_api::host::hash;
use crate::{FindingView, ReportTemplate};

/// The fields of a finding's identity (`None` where the template has no such field or the
/// report left it empty), also what a state entry stores to list it once resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    pub report: ReportTemplate,
    pub framework: Option<&'a str>,
    pub control: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl<'a> Identity<'a> {
    pub fn of(v: &FindingView<'a>) -> Identity<'a> {
        let nonempty = |s: Option<&'a str>| s.filter(|s| !s.is_empty());
        let job = v.report.is_job();
        Identity {
            report: v.report,
            framework: if job { None } else { nonempty(v.framework) },
            control: if job { None } else { nonempty(v.control) },
            account: nonempty(v.account),
            region: nonempty(v.region),
            resource_type: nonempty(v.resource_type),
            resource: nonempty(v.resource).or_else(|| if job { nonempty(v.job_id) } else { None }),
        }
    }

    /// The fingerprint: equal identities give equal numbers. For job reports the resource type
    /// is not part of the identity (it is kept for listing only).
    pub fn fingerprint(&self) -> u64 {
        const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
        let job = self.report.is_job();
        let fields = [
            self.framework,
            self.control,
            self.account,
            self.region,
            if job { None } else { self.resource_type },
            self.resource,
        ];
        let mut h = (self.report as u64 + 1).wrapping_mul(MUL);
        for (i, f) in fields.iter().enumerate() {
            // A missing field hashes apart from every present one, and apart per position.
            let x = f.map_or(0x5bd1_e995 ^ i as u64, hash);
            h = (h ^ x).wrapping_mul(MUL).rotate_left(29);
        }
        h ^ (h >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(report: ReportTemplate) -> FindingView<'static> {
        FindingView::from_fields(
            report,
            [
                Some("fw"),
                Some("ctl"),
                Some("FAILED"),
                Some("111111111111"),
                Some("us-east-1"),
                Some("EC2"),
                Some("arn:aws:ec2:us-east-1:111111111111:instance/i-1"),
                Some("job-1"),
            ],
            0,
        )
    }

    #[test]
    fn jobs_are_the_same_finding_across_job_ids_and_statuses() {
        let a = view(ReportTemplate::BackupJob);
        let mut b = a;
        b.job_id = Some("job-2");
        b.status = Some("EXPIRED");
        assert_eq!(
            Identity::of(&a).fingerprint(),
            Identity::of(&b).fingerprint()
        );
        let mut c = a;
        c.resource = Some("arn:aws:ec2:us-east-1:111111111111:instance/i-2");
        assert_ne!(
            Identity::of(&a).fingerprint(),
            Identity::of(&c).fingerprint()
        );
        // Another template is another finding.
        let d = view(ReportTemplate::CopyJob);
        assert_ne!(
            Identity::of(&a).fingerprint(),
            Identity::of(&d).fingerprint()
        );
        // No resource: the job id stands in.
        let mut e = a;
        e.resource = None;
        assert_eq!(Identity::of(&e).resource, Some("job-1"));
    }

    #[test]
    fn compliance_findings_differ_by_control_and_resource_but_not_status() {
        let a = view(ReportTemplate::ResourceCompliance);
        let mut b = a;
        b.status = Some("COMPLIANT");
        assert_eq!(
            Identity::of(&a).fingerprint(),
            Identity::of(&b).fingerprint()
        );
        let mut c = a;
        c.control = Some("other");
        assert_ne!(
            Identity::of(&a).fingerprint(),
            Identity::of(&c).fingerprint()
        );
        // A missing field is not the empty string of another field.
        let mut d = a;
        d.framework = None;
        let mut e = a;
        e.control = None;
        assert_ne!(
            Identity::of(&d).fingerprint(),
            Identity::of(&e).fingerprint()
        );
    }
}
