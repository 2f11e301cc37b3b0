//! Sample findings of every report template: `check` renders every sink template against them,
//! `send-test` sends them (clearly marked as a test), and snapshot tests pin the defaults.

use crate::digest::{Digest, DigestBuilder, SourceInfo};
use crate::model::{Change, Finding, RawItem, ReportTemplate};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn raw(pairs: &[(&str, Value)]) -> RawItem {
    let mut r = RawItem::with_capacity(pairs.len());
    for (k, v) in pairs {
        r.insert(*k, v.clone());
    }
    r
}

fn compliance(
    report: ReportTemplate,
    index: u64,
    framework: &str,
    control: &str,
    resource: Option<(&str, &str)>,
) -> Finding {
    let mut f = Finding::new(report);
    f.framework = Some(framework.into());
    f.control = Some(control.into());
    f.status = Some("NON_COMPLIANT".into());
    f.account = Some(ACCOUNT.into());
    f.region = Some(REGION.into());
    f.environment = "sample".into();
    f.index = index;
    let mut fields = vec![
        ("accountId", json!(ACCOUNT)),
        ("region", json!(REGION)),
        ("frameworkName", json!(framework)),
        ("frameworkDescription", json!("")),
        ("controlName", json!(control)),
    ];
    match resource {
        Some((rtype, rid)) => {
            f.resource_type = Some(rtype.into());
            f.resource = Some(rid.into());
            fields.extend([
                ("resourceId", json!(rid)),
                ("resourceType", json!(rtype)),
                ("resourceComplianceStatus", json!("NON_COMPLIANT")),
            ]);
        }
        None => fields.extend([
            ("controlComplianceStatus", json!("NON_COMPLIANT")),
            ("numResourcesCompliant", json!(12)),
            ("numResourcesNonCompliant", json!(3)),
        ]),
    }
    fields.push(("lastEvaluationTime", json!("2026-11-25T06:02:05.444Z")));
    f.fields = raw(&fields);
    f
}

fn job(
    report: ReportTemplate,
    index: u64,
    status: &str,
    id: &str,
    message: &str,
    arn: &str,
) -> Finding {
    let mut f = Finding::new(report);
    f.status = Some(status.into());
    f.account = Some(ACCOUNT.into());
    f.region = Some(REGION.into());
    f.environment = "sample".into();
    f.index = index;
    f.job_id = Some(id.into());
    f.resource = Some(arn.into());
    let rtype = if arn.contains(":rds:") { "RDS" } else { "EC2" };
    f.resource_type = Some(rtype.into());
    let id_key = match report {
        ReportTemplate::CopyJob => "copyJobId",
        ReportTemplate::RestoreJob => "restoreJobId",
        ReportTemplate::ScanJob => "scanJobId",
        _ => "backupJobId",
    };
    let name = arn.rsplit([':', '/']).next().unwrap_or(arn);
    let mut fields = vec![
        ("reportTimePeriodStart", json!("2026-11-25T00:00:00Z")),
        ("reportTimePeriodEnd", json!("2026-11-26T00:00:00Z")),
        ("accountId", json!(ACCOUNT)),
        ("region", json!(REGION)),
        (id_key, json!(id)),
        ("jobStatus", json!(status)),
    ];
    if report == ReportTemplate::ScanJob {
        fields.push(("scanResultStatus", json!(message)));
    } else {
        fields.push(("statusMessage", json!(message)));
    }
    let arn_key = if report == ReportTemplate::RestoreJob {
        "sourceResourceArn"
    } else {
        "resourceArn"
    };
    fields.extend([
        ("resourceType", json!(rtype)),
        (arn_key, json!(arn)),
        ("resourceName", json!(name)),
        ("backupVaultName", json!("Default")),
        ("creationDate", json!("2026-11-25T03:14:40.642Z")),
    ]);
    f.fields = raw(&fields);
    f
}

/// Sample findings for `report`: several controls / job states, more than one finding per group.
pub fn sample_findings(report: ReportTemplate) -> Vec<Finding> {
    let ec2 = |i: &str| format!("arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{i}");
    let rds = format!("arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-db");
    match report {
        ReportTemplate::ResourceCompliance => {
            let r = ReportTemplate::ResourceCompliance;
            vec![
                compliance(
                    r,
                    0,
                    "prod-backup-policy",
                    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
                    Some((
                        "AWS::EC2::Instance",
                        "AWS::EC2::Instance/i-0a1b2c3d4e5f60718",
                    )),
                ),
                compliance(
                    r,
                    1,
                    "prod-backup-policy",
                    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
                    Some(("AWS::DynamoDB::Table", "AWS::DynamoDB::Table/orders")),
                ),
                compliance(
                    r,
                    2,
                    "prod-backup-policy",
                    "BACKUP_LAST_RECOVERY_POINT_CREATED",
                    Some(("AWS::RDS::DBInstance", "AWS::RDS::DBInstance/orders-db")),
                ),
                compliance(
                    r,
                    3,
                    "pci-framework",
                    "BACKUP_RECOVERY_POINT_ENCRYPTED",
                    Some((
                        "AWS::EFS::FileSystem",
                        "AWS::EFS::FileSystem/fs-0123456789abcdef0",
                    )),
                ),
            ]
        }
        ReportTemplate::ControlCompliance => {
            let r = ReportTemplate::ControlCompliance;
            vec![
                compliance(
                    r,
                    0,
                    "prod-backup-policy",
                    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
                    None,
                ),
                compliance(
                    r,
                    1,
                    "prod-backup-policy",
                    "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
                    None,
                ),
                compliance(
                    r,
                    2,
                    "pci-framework",
                    "BACKUP_RECOVERY_POINT_ENCRYPTED",
                    None,
                ),
            ]
        }
        ReportTemplate::BackupJob => vec![
            job(
                report,
                0,
                "FAILED",
                "6F03675A-1600-A35A-0999-50D836F675CC",
                "Insufficient privileges to perform this action.",
                &ec2("i-0a1b2c3d4e5f60718"),
            ),
            job(
                report,
                1,
                "FAILED",
                "1E27A1C0-8A6A-63EC-24ED-E6A46B4CB242",
                "\"orders-db\" is not in a valid state for backup.",
                &rds,
            ),
            job(
                report,
                2,
                "EXPIRED",
                "8F6D0558-4EF8-AA38-9227-66581E27A1C0",
                "Backup job expired before it could start.",
                &ec2("i-095d9dc9f81818e81"),
            ),
        ],
        ReportTemplate::CopyJob => vec![
            job(
                report,
                0,
                "FAILED",
                "6B0D549B-6F03-675A-1600-A35A099950D8",
                "Access denied to the destination vault.",
                &ec2("i-0a1b2c3d4e5f60718"),
            ),
            job(
                report,
                1,
                "ABORTED",
                "4EF8AA38-9227-6658-1E27-A1C08A6A63EC",
                "Copy job aborted by user.",
                &rds,
            ),
        ],
        ReportTemplate::RestoreJob => vec![
            job(
                report,
                0,
                "FAILED",
                "11E20B8F-6B0D-549B-6F03-675A1600A35A",
                "Subnet subnet-0abc does not exist.",
                &ec2("i-0a1b2c3d4e5f60718"),
            ),
            job(
                report,
                1,
                "ABORTED",
                "24EDE6A4-6B4C-B242-4A23-D5968F6D0558",
                "Restore job aborted.",
                &rds,
            ),
        ],
        ReportTemplate::ScanJob => vec![
            job(
                report,
                0,
                "FAILED",
                "6f03675a-1600-a35a-0999-50d836f675cc",
                "THREATS_FOUND",
                &ec2("i-0a1b2c3d4e5f60718"),
            ),
            job(
                report,
                1,
                "FAILED",
                "4ef8aa38-9227-6658-1e27-a1c08a6a63ec",
                "NO_THREATS_FOUND",
                &ec2("i-095d9dc9f81818e81"),
            ),
        ],
    }
}

/// The S3 location a sample report appears to come from.
pub fn sample_source(report: ReportTemplate) -> SourceInfo {
    let key = format!(
        "audit/Backup/{ACCOUNT}/{REGION}/2026/11/26/daily/{}_daily_20261125T000000Z_20261126T000000Z.json",
        report.name()
    );
    SourceInfo {
        uri: format!("s3://sample-audit-reports/{key}"),
        bucket: Some("sample-audit-reports".into()),
        key: Some(key),
        format: "json".into(),
    }
}

/// A digest of [`sample_findings`] for `sink`, every finding kept.
pub fn sample_digest(report: ReportTemplate, sink: &str) -> Digest {
    let mut b = DigestBuilder::new(sink, report, sample_source(report), usize::MAX);
    for f in sample_findings(report) {
        b.push(&f, "sample-rule");
    }
    b.finish()
}

/// The date of the sample reports (their keys' period end).
fn sample_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default()
}

/// A digest of [`sample_findings`] pushed with the state stage's `seen(i)` for the `i`th.
fn digest_seen(report: ReportTemplate, sink: &str, seen: impl Fn(usize) -> crate::Seen) -> Digest {
    let mut b = DigestBuilder::new(sink, report, sample_source(report), usize::MAX);
    for (i, f) in sample_findings(report).iter().enumerate() {
        b.push_seen(
            &f.view(),
            &crate::digest::ValueIds::default(),
            "sample-rule",
            Some(&seen(i)),
            || f.clone(),
        );
    }
    b.finish()
}

/// A digest of [`sample_findings`] as the state stage makes it, next to the report of the day
/// before: the first finding new, the others ongoing (open 12 days), and one resolved finding
/// (open 30 days until it was fixed).
pub fn sample_digest_with_changes(report: ReportTemplate, sink: &str) -> Digest {
    let date = sample_date();
    let days = chrono::Days::new;
    let mut d = digest_seen(report, sink, |i| crate::Seen {
        change: if i == 0 { Change::New } else { Change::Ongoing },
        first_seen: if i == 0 { date } else { date - days(12) },
        days_open: if i == 0 { 0 } else { 12 },
        listed: true,
    });
    let mut resolved = sample_findings(report)
        .pop()
        .unwrap_or_else(|| Finding::new(report));
    resolved.fields = RawItem::new();
    resolved.job_id = None;
    resolved.index = 0;
    if let Some(r) = &mut resolved.resource {
        r.push_str("-fixed");
    }
    resolved.environment = "sample".into();
    resolved.change = Some(Change::Resolved);
    resolved.first_seen = Some(date - days(30));
    resolved.days_open = Some(30);
    d.set_previous(Some(date - days(1)), "changes", vec![resolved], 1);
    d
}

/// A digest of [`sample_findings`] from the first report of a stream with state: every
/// finding new.
pub fn sample_digest_first_report(report: ReportTemplate, sink: &str) -> Digest {
    let date = sample_date();
    let mut d = digest_seen(report, sink, |_| crate::Seen {
        change: Change::New,
        first_seen: date,
        days_open: 0,
        listed: true,
    });
    d.set_previous(None, "always", Vec::new(), 0);
    d
}

/// The sample digests `check` renders with every sink: per report template, one without state,
/// one with new, ongoing and resolved findings, and one from a stream's first report.
pub fn sample_digests(sink: &str) -> Vec<Digest> {
    ReportTemplate::ALL
        .iter()
        .flat_map(|r| {
            [
                sample_digest(*r, sink),
                sample_digest_with_changes(*r, sink),
                sample_digest_first_report(*r, sink),
            ]
        })
        .collect()
}
