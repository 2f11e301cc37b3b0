//! The report readers against real-shaped fixtures (every template, JSON, CSV, gzip), small
//! hand-written reports with exact expected findings, and the bad-input list.

use audit_router::report::{Format, ReportError, ReportInfo, read_report, template_from_file_name};
use audit_router::{Finding, ReportTemplate};
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

fn fixture(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/tests/fixtures/reports/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn read(
    bytes: &[u8],
    name: &str,
    hint: Option<ReportTemplate>,
) -> Result<(ReportInfo, Vec<Finding>), ReportError> {
    let mut out = Vec::new();
    let info = read_report(bytes, name, hint, &mut |f| out.push(f))?;
    assert_eq!(info.items, out.len() as u64);
    Ok((info, out))
}

fn read_ok(bytes: &[u8], name: &str) -> (ReportInfo, Vec<Finding>) {
    read(bytes, name, template_from_file_name(name))
        .unwrap_or_else(|e| panic!("{name}: unexpected error: {e}"))
}

fn read_err(bytes: &[u8], name: &str) -> ReportError {
    match read(bytes, name, None) {
        Ok((info, _)) => panic!("{name}: expected an error, got {info:?}"),
        Err(e) => e,
    }
}

fn statuses(findings: &[Finding]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.status.clone().unwrap_or_default()).or_default() += 1;
    }
    m
}

fn hist(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

// ---------------------------------------------------------------- AWS-shaped fixtures

/// (template, JSON statuses, CSV statuses): what the fixtures hold.
type Histogram = BTreeMap<String, usize>;

fn fixture_expectations() -> Vec<(ReportTemplate, Histogram, Histogram)> {
    use ReportTemplate::*;
    vec![
        (
            ControlCompliance,
            hist(&[("COMPLIANT", 8), ("NON_COMPLIANT", 4)]),
            hist(&[("COMPLIANT", 8), ("NON_COMPLIANT", 4)]),
        ),
        (
            ResourceCompliance,
            hist(&[("COMPLIANT", 9), ("NON_COMPLIANT", 3)]),
            hist(&[("COMPLIANT", 11), ("NON_COMPLIANT", 1)]),
        ),
        (
            BackupJob,
            hist(&[
                ("COMPLETED", 3),
                ("EXPIRED", 2),
                ("FAILED", 1),
                ("PARTIAL", 2),
                ("PENDING", 1),
                ("RUNNING", 3),
            ]),
            hist(&[
                ("ABORTED", 1),
                ("COMPLETED", 6),
                ("EXPIRED", 2),
                ("FAILED", 1),
                ("RUNNING", 2),
            ]),
        ),
        (
            CopyJob,
            hist(&[
                ("COMPLETED", 7),
                ("CREATED", 1),
                ("PARTIAL", 1),
                ("RUNNING", 3),
            ]),
            hist(&[
                ("COMPLETED", 4),
                ("CREATED", 2),
                ("FAILED", 2),
                ("PARTIAL", 2),
                ("RUNNING", 2),
            ]),
        ),
        (
            RestoreJob,
            hist(&[
                ("ABORTED", 1),
                ("COMPLETED", 5),
                ("FAILED", 1),
                ("PENDING", 2),
                ("RUNNING", 3),
            ]),
            hist(&[
                ("ABORTED", 3),
                ("COMPLETED", 5),
                ("FAILED", 1),
                ("PENDING", 2),
                ("RUNNING", 1),
            ]),
        ),
        (
            ScanJob,
            hist(&[
                ("COMPLETED", 6),
                ("COMPLETED_WITH_ISSUES", 3),
                ("FAILED", 2),
                ("RUNNING", 1),
            ]),
            hist(&[("COMPLETED", 9), ("FAILED", 1), ("RUNNING", 2)]),
        ),
    ]
}

#[test]
fn every_template_in_json_csv_and_gzip() {
    for (template, json_statuses, csv_statuses) in fixture_expectations() {
        for (ext, format, expected) in [
            ("json", Format::Json, &json_statuses),
            ("csv", Format::Csv, &csv_statuses),
        ] {
            let name = format!("{}.{ext}", template.name());
            let bytes = fixture(&format!("aws/{name}"));
            let (info, findings) = read_ok(&bytes, &name);
            assert_eq!(
                info,
                ReportInfo {
                    template: Some(template),
                    format,
                    gzip: false,
                    items: 12
                },
                "{name}"
            );
            assert_eq!(&statuses(&findings), expected, "{name}");
            for (i, f) in findings.iter().enumerate() {
                assert_eq!(f.report, template, "{name}");
                assert_eq!(f.index, i as u64, "{name}");
                assert!(f.environment.is_empty());
                assert_eq!(f.account.as_ref().map(String::len), Some(12), "{name} #{i}");
                assert!(f.region.is_some(), "{name} #{i}");
                assert_eq!(f.framework.is_some(), !template.is_job(), "{name} #{i}");
                assert_eq!(f.control.is_some(), !template.is_job(), "{name} #{i}");
                assert_eq!(f.job_id.is_some(), template.is_job(), "{name} #{i}");
                assert_eq!(
                    f.resource.is_some(),
                    template != ReportTemplate::ControlCompliance,
                    "{name} #{i}"
                );
                // Derived fields: every job item ends up with a period start and end.
                if template.is_job() {
                    assert!(
                        f.fields.get_str("reportTimePeriodStart").is_some(),
                        "{name} #{i}"
                    );
                    assert!(
                        f.fields.get_str("reportTimePeriodEnd").is_some(),
                        "{name} #{i}"
                    );
                }
            }

            // gzip, sniffed from the bytes: a name without `.gz` and one with the wrong template.
            let (gz_info, gz_findings) = read(&gz(&bytes), "report.bin", None).unwrap();
            assert!(gz_info.gzip);
            assert_eq!(gz_info.template, Some(template));
            assert_eq!(gz_info.format, format);
            assert_eq!(gz_findings, findings, "{name}.gz");
        }
    }
}

#[test]
fn aws_fixture_items_normalise_exactly() {
    let (_, f) = read_ok(
        &fixture("aws/BACKUP_JOB_REPORT.json"),
        "BACKUP_JOB_REPORT.json",
    );
    let last = &f[11];
    assert_eq!(last.account, s("333333333333"));
    assert_eq!(last.region, s("eu-west-1"));
    assert_eq!(last.resource_type, s("EBS"));
    assert_eq!(
        last.resource,
        s("arn:aws:ec2:eu-west-1:333333333333:volume/vol-6d1dcec53212a8d9b")
    );
    assert_eq!(last.job_id, s("EB4ED2E3-895E-8B6B-263C-FA5E67EC326A"));
    // JSON values are kept with their JSON types.
    assert_eq!(
        f[0].fields.get("backupSizeInBytes"),
        Some(&json!(24404015764u64))
    );
    assert_eq!(f[0].fields.get("backupOptions"), Some(&json!({})));
    assert_eq!(f[0].fields.get("parentJobId"), Some(&Value::Null));

    let (_, f) = read_ok(
        &fixture("aws/RESOURCE_COMPLIANCE_REPORT.json"),
        "RESOURCE_COMPLIANCE_REPORT.json",
    );
    let last = &f[11];
    assert_eq!(last.framework, s("dev-baseline"));
    assert_eq!(
        last.control,
        s("BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED")
    );
    assert_eq!(last.resource, s("AWS::DynamoDB::Table/media-79-table"));
    assert_eq!(last.resource_type, s("AWS::DynamoDB::Table"));
    assert_eq!(last.job_id, None);

    let (_, f) = read_ok(
        &fixture("aws/RESTORE_JOB_REPORT.json"),
        "RESTORE_JOB_REPORT.json",
    );
    let last = &f[11];
    assert_eq!(
        last.resource,
        s("arn:aws:ec2:eu-central-1:222222222222:volume/vol-b9e7d6b377936d536")
    );
    assert_eq!(last.job_id, s("7B8444D1-8E31-7041-87DD-AEB784B28054"));
    assert_eq!(
        last.resource_type, None,
        "the restore sample has no resourceType"
    );
    // Item 0 has only the legacy period: split, original kept.
    assert_eq!(
        f[0].fields.get_str("reportTimePeriod"),
        Some("2026-11-25T00:00:00Z - 2026-11-26T00:00:00Z")
    );
    assert_eq!(
        f[0].fields.get_str("reportTimePeriodStart"),
        Some("2026-11-25T00:00:00Z")
    );
    assert_eq!(
        f[0].fields.get_str("reportTimePeriodEnd"),
        Some("2026-11-26T00:00:00Z")
    );

    let (_, f) = read_ok(&fixture("aws/CONTROL_COMPLIANCE_REPORT.json"), "x.json");
    assert_eq!(
        f[2].fields
            .get_str("controlParameters")
            .map(|p| p.starts_with('{')),
        Some(true)
    );
    assert_eq!(
        f[2].fields
            .get("controlParametersParsed")
            .and_then(|p| p.get("requiredRetentionDays")),
        Some(&json!("35"))
    );
    assert_eq!(
        f[0].fields.get("controlParametersParsed"),
        None,
        "empty string: not parsed"
    );
    assert_eq!(
        f[5].fields.get_str("controlScope"),
        Some("{ComplianceResourceTypes: [],}")
    );
}

#[test]
fn csv_values_use_json_keys_and_known_types() {
    let (_, csv) = read_ok(
        &fixture("aws/BACKUP_JOB_REPORT.csv"),
        "BACKUP_JOB_REPORT.csv",
    );
    let f = &csv[0];
    assert_eq!(f.account, s("222222222222"));
    assert_eq!(f.job_id, s("07C15471-A451-7D6C-6694-F229359B1548"));
    assert_eq!(
        f.fields.get("backupSizeInBytes"),
        Some(&json!(14504985605u64))
    );
    assert_eq!(f.fields.get("isEncrypted"), Some(&json!(true)));
    assert_eq!(f.fields.get("isParentJob"), Some(&json!(false)));
    assert_eq!(f.fields.get("deleteAfterDays"), Some(&json!(35)));
    assert_eq!(f.fields.get("parentJobId"), Some(&json!("")));
    assert_eq!(f.fields.get("backupOptions"), Some(&json!("{}")));
    assert_eq!(
        f.fields
            .get_str("iamRoleArn")
            .map(|a| a.starts_with("arn:aws:iam::")),
        Some(true)
    );
    assert_eq!(f.fields.len(), 36);
    // Same keys as the JSON report, in the same order.
    let (_, json) = read_ok(
        &fixture("aws/BACKUP_JOB_REPORT.json"),
        "BACKUP_JOB_REPORT.json",
    );
    assert_eq!(
        f.fields.keys().collect::<Vec<_>>(),
        json[0].fields.keys().collect::<Vec<_>>()
    );
}

#[test]
fn committed_gzip_fixture_reads_like_the_plain_csv() {
    let name = "aws/BACKUP_JOB_REPORT.csv.gz";
    let (info, gz_findings) = read_ok(&fixture(name), name);
    assert!(info.gzip);
    let (_, plain) = read_ok(
        &fixture("aws/BACKUP_JOB_REPORT.csv"),
        "BACKUP_JOB_REPORT.csv",
    );
    assert_eq!(gz_findings, plain);
}

// ---------------------------------------------------------------- hand-written reports

#[test]
fn control_compliance_json_exact() {
    let (info, f) = read_ok(&fixture("hand/control.json"), "control.json");
    assert_eq!(info.template, Some(ReportTemplate::ControlCompliance));
    assert_eq!(f.len(), 2);
    let a = &f[0];
    assert_eq!(a.report, ReportTemplate::ControlCompliance);
    assert_eq!(a.framework, s("prod-dr-policy"));
    assert_eq!(
        a.control,
        s("BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK")
    );
    assert_eq!(a.status, s("NON_COMPLIANT"));
    assert_eq!(a.account, s("012345678901"));
    assert_eq!(a.region, s("eu-west-1"));
    assert_eq!(
        (
            a.resource_type.as_ref(),
            a.resource.as_ref(),
            a.job_id.as_ref()
        ),
        (None, None, None)
    );
    assert_eq!(
        a.fields.get_str("frameworkDescription"),
        Some("DR, \"prod\"")
    );
    assert_eq!(
        a.fields.get_str("organizationPath"),
        Some("r-abcd/ou-1"),
        "unknown key kept"
    );
    assert_eq!(
        a.fields.get("controlParametersParsed"),
        Some(
            &json!({"requiredFrequencyValue": "1", "requiredRetentionDays": "35", "requiredFrequencyUnit": "hours"})
        )
    );
    assert_eq!(a.fields.get("numResourcesNonCompliant"), Some(&json!(25)));
    // Item 1 lacks the optional fields entirely.
    assert_eq!(f[1].index, 1);
    assert_eq!(f[1].status, s("COMPLIANT"));
    assert_eq!(f[1].fields.get("lastEvaluationTime"), None);
}

#[test]
fn control_compliance_csv_renamed_headers_extra_column_multiline_quotes() {
    let (info, f) = read_ok(&fixture("hand/control.csv"), "local-file.csv");
    assert_eq!(info.template, Some(ReportTemplate::ControlCompliance));
    assert_eq!(info.format, Format::Csv);
    assert_eq!(f.len(), 2);
    let a = &f[0];
    assert_eq!(a.framework, s("prod-dr-policy"));
    assert_eq!(
        a.control,
        s("BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK")
    );
    assert_eq!(a.status, s("NON_COMPLIANT"));
    assert_eq!(a.account, s("012345678901"), "leading zero kept");
    assert_eq!(a.region, s("eu-west-1"));
    assert_eq!(
        a.fields.get_str("frameworkDescription"),
        Some("DR, \"prod\"\r\nsecond line")
    );
    assert_eq!(a.fields.get("numResourcesNonCompliant"), Some(&json!(25)));
    assert_eq!(
        a.fields.get_str("controlScope"),
        Some("{ComplianceResourceTypes: [],}")
    );
    assert_eq!(
        a.fields.get_str("controlParameters"),
        Some("{\"requiredFrequencyValue\":\"1\"}")
    );
    assert_eq!(
        a.fields.get("controlParametersParsed"),
        Some(&json!({"requiredFrequencyValue": "1"}))
    );
    assert_eq!(a.fields.get_str("organizationPath"), Some("r-abcd/ou-1"));
    let b = &f[1];
    assert_eq!(b.index, 1);
    assert_eq!(b.account, s("210987654321"));
    assert_eq!(b.framework, s("AWS_Backup_Framework"));
    assert_eq!(b.fields.get("numResourcesNonCompliant"), Some(&json!("")));
    assert_eq!(b.fields.get("controlParametersParsed"), None);
}

#[test]
fn resource_compliance_json_and_csv_exact() {
    for name in ["hand/resource.json", "hand/resource.csv"] {
        let (info, f) = read_ok(&fixture(name), name);
        assert_eq!(
            info.template,
            Some(ReportTemplate::ResourceCompliance),
            "{name}"
        );
        let a = &f[0];
        assert_eq!(a.framework, s("MyTestFramework"));
        assert_eq!(a.control, s("BACKUP_LAST_RECOVERY_POINT_CREATED"));
        assert_eq!(a.status, s("NON_COMPLIANT"));
        assert_eq!(a.account, s("111111111111"));
        assert_eq!(a.region, s("us-west-2"));
        assert_eq!(a.resource_type, s("AWS::EFS::FileSystem"));
        assert_eq!(a.resource, s("AWS::EFS::FileSystem/fs-63c74e66"));
        assert_eq!(a.job_id, None);
        assert_eq!(
            a.fields.get_str("lastEvaluationTime"),
            Some("2021-07-07T18:55:40.963Z")
        );
    }
    let (_, f) = read_ok(&fixture("hand/resource.json"), "resource.json");
    assert_eq!(f[1].resource_type, None, "null counts as absent");
    let (_, f) = read_ok(&fixture("hand/resource.csv"), "resource.csv");
    assert_eq!(
        f[0].fields.get_str("organizationPath"),
        Some("r-abcd/ou-1,ou-2")
    );
}

#[test]
fn backup_job_csv_with_missing_optional_columns_and_quoted_newlines() {
    let (info, f) = read_ok(&fixture("hand/backup_job.csv"), "x.csv");
    assert_eq!(info.template, Some(ReportTemplate::BackupJob));
    assert_eq!(f.len(), 2);
    let a = &f[0];
    assert_eq!(a.status, s("FAILED"));
    assert_eq!(a.account, s("222222222222"));
    assert_eq!(a.region, s("eu-west-1"));
    assert_eq!(a.job_id, s("JOB-1"));
    assert_eq!(
        a.resource,
        s("arn:aws:ec2:eu-west-1:222222222222:volume/vol-1")
    );
    assert_eq!(a.resource_type, None, "no Resource Type column");
    assert_eq!(
        a.fields.get_str("statusMessage"),
        Some("Failed: the \"vault\" is locked,\nretry later")
    );
    assert_eq!(
        a.fields.get("backupSizeInBytes"),
        Some(&json!(14504985605u64))
    );
    assert_eq!(a.fields.get("isEncrypted"), Some(&json!(true)));
    let b = &f[1];
    assert_eq!(
        (b.index, b.job_id.as_deref(), b.resource.as_deref()),
        (1, Some("JOB-2"), None)
    );
    assert_eq!(b.fields.get("isEncrypted"), Some(&json!("")));
}

/// Headers as code that reads real reports sees them: a bracketed or parenthesised unit after the
/// name (`"Job Status [Status]"`, stripped by dfds/aws-backup-observability's reporter Lambda,
/// `backup-reporter-lambda/main.py`) and the organisation column of cross-account reports
/// (`path_to_root` in the same project's Athena table of cross-account backup job reports).
#[test]
fn csv_headers_with_unit_suffixes_and_an_organisation_column() {
    let (info, f) = read_ok(
        &fixture("hand/backup_job_cross_account_suffixed.csv"),
        "x.csv",
    );
    assert_eq!(info.template, Some(ReportTemplate::BackupJob));
    assert_eq!(f.len(), 2);
    let a = &f[0];
    assert_eq!(
        a.status,
        s("FAILED"),
        "the required Job Status column has a suffix"
    );
    assert_eq!(a.account, s("333333333333"));
    assert_eq!(a.job_id, s("JOB-X1"));
    assert_eq!(a.resource_type, s("EBS"));
    assert_eq!(
        a.fields.get("backupSizeInBytes"),
        Some(&json!(0)),
        "the JSON key, typed as in a JSON report"
    );
    assert_eq!(a.fields.get("backupSizeInBytesBytes"), None);
    assert_eq!(
        a.fields.get_str("creationDate"),
        Some("2026-11-29T02:00:00Z")
    );
    assert_eq!(a.fields.get_str("pathToRoot"), Some("r-ab12/ou-ab12-prod"));
    assert_eq!(
        f[1].fields.get("backupSizeInBytes"),
        Some(&json!(2147483648u64))
    );
}

#[test]
fn copy_job_json_exact() {
    let (info, f) = read_ok(&fixture("hand/copy_job.json"), "copy.json");
    assert_eq!(info.template, Some(ReportTemplate::CopyJob));
    let a = &f[0];
    assert_eq!(a.status, s("PARTIAL"));
    assert_eq!(a.account, s("333333333333"));
    assert_eq!(a.region, s("us-west-2"));
    assert_eq!(a.job_id, s("COPY-1"));
    assert_eq!(a.resource_type, s("EFS"));
    assert_eq!(
        a.resource,
        s("arn:aws:elasticfilesystem:us-west-2:333333333333:file-system/fs-1")
    );
    assert_eq!((a.framework.as_ref(), a.control.as_ref()), (None, None));
}

#[test]
fn restore_job_csv_with_legacy_period_only() {
    let (info, f) = read_ok(
        &fixture("hand/restore_job.csv"),
        "RESTORE_JOB_REPORT_p_a_b.csv",
    );
    assert_eq!(info.template, Some(ReportTemplate::RestoreJob));
    let a = &f[0];
    assert_eq!(a.status, s("ABORTED"));
    assert_eq!(a.account, s("444444444444"));
    assert_eq!(a.region, s("ap-northeast-1"));
    assert_eq!(a.job_id, s("RESTORE-1"));
    assert_eq!(
        a.resource,
        s("arn:aws:dynamodb:ap-northeast-1:444444444444:table/t")
    );
    assert_eq!(a.resource_type, None);
    assert_eq!(
        a.fields.get_str("reportTimePeriod"),
        Some("2021-07-14T00:00:00Z - 2021-07-15T00:00:00Z")
    );
    assert_eq!(
        a.fields.get_str("reportTimePeriodStart"),
        Some("2021-07-14T00:00:00Z")
    );
    assert_eq!(
        a.fields.get_str("reportTimePeriodEnd"),
        Some("2021-07-15T00:00:00Z")
    );
    assert_eq!(a.fields.get_str("percentDone"), Some("12.50%"));
}

#[test]
fn scan_job_json_and_csv_with_bom_exact() {
    let bytes = fixture("hand/scan_job.csv");
    assert!(
        bytes.starts_with(b"\xef\xbb\xbf"),
        "the fixture carries a BOM"
    );
    let (info, f) = read_ok(&bytes, "MALWARE_JOB_REPORT_plan.csv");
    assert_eq!(info.template, Some(ReportTemplate::ScanJob));
    let a = &f[0];
    assert_eq!(a.status, s("COMPLETED_WITH_ISSUES"));
    assert_eq!(a.account, s("555555555555"));
    assert_eq!(a.region, s("eu-central-1"));
    assert_eq!(a.job_id, s("scan-1"));
    assert_eq!(a.resource_type, s("EC2"));
    assert_eq!(
        a.resource,
        s("arn:aws:ec2:eu-central-1:555555555555:instance/i-9")
    );
    assert_eq!(a.fields.get_str("scanResultStatus"), Some("THREATS_FOUND"));
    assert_eq!(
        a.fields.keys().next(),
        Some("reportTimePeriodStart"),
        "BOM not in the first key"
    );

    let mut json = b"\xef\xbb\xbf".to_vec();
    json.extend(fixture("hand/scan_job.json"));
    let (info, f) = read_ok(&json, "scan.json");
    assert_eq!(info.template, Some(ReportTemplate::ScanJob));
    assert_eq!(f[0].status, s("FAILED"));
    assert_eq!(
        f[0].resource,
        s("arn:aws:ec2:eu-central-1:555555555555:volume/vol-9")
    );
    assert_eq!(
        f[0].fields.get_str("scanResultStatus"),
        None,
        "empty string is absent"
    );
}

// ---------------------------------------------------------------- templates and hints

#[test]
fn zero_items_take_the_hint_or_none() {
    let empty = br#"{"reportItems": []}"#;
    let (info, _) = read(empty, "x", Some(ReportTemplate::CopyJob)).unwrap();
    assert_eq!(
        (info.template, info.items),
        (Some(ReportTemplate::CopyJob), 0)
    );
    let (info, _) = read(empty, "x", None).unwrap();
    assert_eq!((info.template, info.format), (None, Format::Json));
    // A CSV with only a header knows its template from the header.
    let (info, _) = read(
        b"\"Account ID\",\"Region\",\"Scan Job ID\",\"Job Status\"\n",
        "x",
        None,
    )
    .unwrap();
    assert_eq!(
        (info.template, info.items),
        (Some(ReportTemplate::ScanJob), 0)
    );
}

#[test]
fn content_wins_over_the_hint() {
    let (info, f) = read(
        &fixture("aws/COPY_JOB_REPORT.csv"),
        "BACKUP_JOB_REPORT_x.csv",
        Some(ReportTemplate::BackupJob),
    )
    .unwrap();
    assert_eq!(info.template, Some(ReportTemplate::CopyJob));
    assert!(f.iter().all(|f| f.report == ReportTemplate::CopyJob));
}

#[test]
fn hint_is_used_when_content_has_no_marker_and_its_required_fields_are_checked() {
    let csv = b"\"Account ID\",\"Region\",\"Job Status\"\n\"1\",\"r\",\"FAILED\"\n";
    match read(csv, "r.csv", Some(ReportTemplate::BackupJob)).unwrap_err() {
        ReportError::MissingColumn {
            key,
            header,
            template,
            ..
        } => {
            assert_eq!(
                (key, header, template),
                ("backupJobId", "Backup Job ID", ReportTemplate::BackupJob)
            );
        }
        e => panic!("{e}"),
    }
    let json = br#"{"reportItems":[{"accountId":"1","region":"r","jobStatus":"FAILED"}]}"#;
    let e = read(json, "r.json", Some(ReportTemplate::RestoreJob)).unwrap_err();
    assert!(
        matches!(
            e,
            ReportError::MissingKey {
                index: 0,
                key: "restoreJobId",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "r.json: item 0: missing required key `restoreJobId` for RESTORE_JOB_REPORT"
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn malformed_json_names_line_and_column() {
    let e = read_err(
        b"{\"reportItems\": [\n  {\"accountId\": \"1\",, }\n]}",
        "bad.json",
    );
    match &e {
        ReportError::Parse {
            format: Format::Json,
            line: 2,
            column: Some(c),
            ..
        } => assert!(*c > 0),
        _ => panic!("{e}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("bad.json: invalid JSON at line 2, column"),
        "{msg}"
    );
    assert!(msg.contains("item 0"), "{msg}");
    // Trailing garbage after the report object.
    let e = read_err(br#"{"reportItems": []} x"#, "bad.json");
    assert!(
        matches!(
            e,
            ReportError::Parse {
                line: 1,
                column: Some(21),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn truncated_json_is_an_error_not_a_short_report() {
    let bytes = fixture("aws/BACKUP_JOB_REPORT.json");
    let cut = &bytes[..bytes.len() / 2];
    let e = read_err(cut, "cut.json");
    match &e {
        ReportError::Parse {
            format: Format::Json,
            line,
            message,
            ..
        } => {
            assert!(*line > 100, "{e}");
            assert!(message.contains("truncated"), "{e}");
        }
        _ => panic!("{e}"),
    }
}

#[test]
fn truncated_gzip_is_a_gzip_error() {
    for fixture_name in ["aws/BACKUP_JOB_REPORT.json", "aws/SCAN_JOB_REPORT.csv"] {
        let compressed = gz(&fixture(fixture_name));
        for cut in [compressed.len() / 2, compressed.len() - 4] {
            let e = read_err(&compressed[..cut], "cut.gz");
            assert!(
                matches!(e, ReportError::Gzip { .. }),
                "{fixture_name} cut at {cut}: {e}"
            );
            assert!(
                e.to_string()
                    .starts_with("cut.gz: corrupt or truncated gzip data"),
                "{e}"
            );
        }
    }
    let mut corrupt = gz(&fixture("aws/SCAN_JOB_REPORT.csv"));
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    corrupt[mid + 1] ^= 0xff;
    let e = read_err(&corrupt, "bad.gz");
    assert!(matches!(e, ReportError::Gzip { .. }), "{e}");
}

#[test]
fn truncated_csv_inside_a_quoted_field_or_mid_row() {
    let bytes = fixture("aws/SCAN_JOB_REPORT.csv");
    let text = std::str::from_utf8(&bytes).unwrap();
    // Inside a quoted value of the last record.
    let cut = text.rfind("GuardDutyScanner").unwrap();
    let e = read_err(&bytes[..cut], "cut.csv");
    assert!(
        matches!(
            &e,
            ReportError::Parse {
                format: Format::Csv,
                line: 13,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("truncated"), "{e}");
    // Between two fields of the last record: too few fields.
    let cut = text.rfind("\",\"").unwrap() + 1;
    let e = read_err(&bytes[..cut], "cut.csv");
    match &e {
        ReportError::Item {
            index: 11,
            line: Some(13),
            message,
            ..
        } => {
            assert_eq!(message, "expected 19 fields (as in the header), found 18")
        }
        _ => panic!("{e}"),
    }
}

#[test]
fn csv_literal_quote_in_an_unquoted_value_is_data_and_crlf_lines_are_the_records_own() {
    // A `"` inside an unquoted value is text (as the csv crate reads it), not the start of
    // an unterminated quoted field: the report is whole.
    let csv = "Account ID,Region,Copy Job ID,Job Status\r\n1,r,c\"1,FAILED\r\n";
    let (info, found) = read_ok(csv.as_bytes(), "q.csv");
    assert_eq!(info.items, 1);
    assert_eq!(found[0].fields.get_str("copyJobId"), Some("c\"1"));
    // On a CRLF file the line of a bad record is the record's own (line 4, after a blank
    // line), not line 2 where the csv crate placed it (before the previous LF).
    let csv = "Account ID,Region,Copy Job ID,Job Status\r\n1,r,c1,FAILED\r\n\r\n1,r\r\n";
    let mut seen = 0;
    let e = read_report(csv.as_bytes(), "w.csv", None, &mut |_| seen += 1).unwrap_err();
    assert_eq!(seen, 1);
    assert_eq!(
        e.to_string(),
        "w.csv: item 1 (line 4): expected 4 fields (as in the header), found 2"
    );
}

#[test]
fn csv_row_with_wrong_field_count_names_item_and_line() {
    let csv = "\"Account ID\",\"Region\",\"Copy Job ID\",\"Job Status\"\n\
               \"1\",\"r\",\"c1\",\"FAILED\"\n\
               \"1\",\"r\",\"c2\",\"FAILED\",\"extra\"\n";
    let mut seen = 0;
    let e = read_report(csv.as_bytes(), "w.csv", None, &mut |_| seen += 1).unwrap_err();
    assert_eq!(seen, 1, "the good row before it was delivered");
    assert_eq!(
        e.to_string(),
        "w.csv: item 1 (line 3): expected 4 fields (as in the header), found 5"
    );
}

#[test]
fn unknown_shapes() {
    for (input, needle) in [
        (&br#"{"foo": 1}"#[..], "no \"reportItems\""),
        (br#"[{"accountId": "1"}]"#, "array at top level"),
        (
            b"\"a\",\"b\",\"c\"\n\"1\",\"2\",\"3\"\n",
            "header matches no report template",
        ),
        (
            br#"{"reportItems": [{"accountId": "1", "region": "r"}]}"#,
            "item 0 has none of the keys",
        ),
        (b"hello", "header matches no report template"),
    ] {
        let e = read_err(input, "odd");
        assert!(matches!(e, ReportError::UnknownShape { .. }), "{e}");
        assert!(
            e.to_string().starts_with("odd: unknown report shape: "),
            "{e}"
        );
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn empty_reports() {
    for input in [&b""[..], b"   \n\t\r\n", b"\xef\xbb\xbf  "] {
        let e = read_err(input, "e.json");
        assert!(matches!(e, ReportError::Empty { gzip: false, .. }), "{e}");
        assert_eq!(e.to_string(), "e.json: empty report: no content");
    }
    let e = read_err(&gz(b""), "e.gz");
    assert!(matches!(e, ReportError::Empty { gzip: true, .. }), "{e}");
}

#[test]
fn wrong_field_types() {
    let e = read_err(
        br#"{"reportItems": [{"accountId": "1", "region": "r", "backupJobId": "j", "jobStatus": "OK"},
            {"accountId": {}, "region": "r", "backupJobId": "j", "jobStatus": "OK"}]}"#,
        "t.json",
    );
    assert_eq!(
        e.to_string(),
        "t.json: item 1, field `accountId`: expected a string (or null), found an object"
    );
    let e = read_err(
        br#"{"reportItems": [{"accountId": "1", "region": "r", "backupJobId": "j", "jobStatus": 3}]}"#,
        "t.json",
    );
    assert!(
        matches!(&e, ReportError::Item { index: 0, field: Some(f), .. } if f == "jobStatus"),
        "{e}"
    );
    let e = read_err(br#"{"reportItems": "x"}"#, "t.json");
    match &e {
        ReportError::Parse {
            line: 1,
            column: Some(19),
            message,
            ..
        } => {
            assert!(message.contains("expected an array of report items"), "{e}")
        }
        _ => panic!("{e}"),
    }
}

#[test]
fn missing_required_key_names_item_and_key() {
    let e = read_err(
        br#"{"reportItems": [
            {"accountId": "1", "region": "r", "frameworkName": "f", "controlName": "c", "resourceId": "x", "resourceComplianceStatus": "NON_COMPLIANT"},
            {"accountId": "1", "region": "r", "frameworkName": "f", "resourceId": "x", "resourceComplianceStatus": "NON_COMPLIANT"}]}"#,
        "m.json",
    );
    assert_eq!(
        e.to_string(),
        "m.json: item 1: missing required key `controlName` for RESOURCE_COMPLIANCE_REPORT"
    );
    let e = read_err(
        b"\"Account ID\",\"Framework Name\",\"Control Name\",\"Control Compliance Status\"\n",
        "m.csv",
    );
    assert_eq!(
        e.to_string(),
        "m.csv: CSV header has no \"Region\" column (field `region`), required for CONTROL_COMPLIANCE_REPORT"
    );
}

#[test]
fn non_utf8_bytes_are_positioned_errors() {
    let e = read_err(
        b"{\"reportItems\": [{\"accountId\": \"1\xff\", \"region\": \"r\"}]}",
        "u.json",
    );
    assert!(
        matches!(
            e,
            ReportError::Parse {
                format: Format::Json,
                line: 1,
                column: Some(_),
                ..
            }
        ),
        "{e}"
    );
    let e = read_err(
        b"\"Account ID\",\"Region\",\"Copy Job ID\",\"Job Status\"\n\"1\",\"r\xfe\",\"c\",\"OK\"\n",
        "u.csv",
    );
    match &e {
        ReportError::Item {
            index: 0,
            line: Some(2),
            field: Some(f),
            message,
            ..
        } => {
            assert_eq!(f, "Region");
            assert!(
                message.starts_with("invalid UTF-8 at byte 1 of the value"),
                "{e}"
            );
        }
        _ => panic!("{e}"),
    }
    let e = read_err(b"\"Account \xff ID\",\"Region\"\n", "u.csv");
    assert!(
        matches!(
            e,
            ReportError::Parse {
                format: Format::Csv,
                line: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("header column 1 is not valid UTF-8"),
        "{e}"
    );
}

// ---------------------------------------------------------------- streaming and I/O

/// A reader that fails after `ok` bytes.
struct FailAfter<'a> {
    data: &'a [u8],
    ok: usize,
}

impl Read for FailAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ok == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "peer went away",
            ));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn input_errors_are_io_errors_even_under_gzip() {
    let plain = fixture("aws/BACKUP_JOB_REPORT.json");
    let compressed = gz(&plain);
    for (data, format) in [(&plain, "plain"), (&compressed, "gzip")] {
        for ok in [0, 1, data.len() / 2] {
            let r = FailAfter { data, ok };
            let e = read_report(r, "s3://b/k", None, &mut |_| {}).unwrap_err();
            match &e {
                ReportError::Io { error, .. } => {
                    assert_eq!(
                        error.kind(),
                        io::ErrorKind::ConnectionReset,
                        "{format} {ok}"
                    )
                }
                _ => panic!("{format} after {ok} bytes: {e}"),
            }
            assert!(e.to_string().starts_with("s3://b/k: read error: "), "{e}");
        }
    }
}

/// Counts bytes handed out, one small chunk at a time.
struct Metered<'a> {
    data: &'a [u8],
    pos: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Read for Metered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.pos.get();
        let n = buf.len().min(7).min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        self.pos.set(start + n);
        Ok(n)
    }
}

#[test]
fn items_are_delivered_while_the_report_is_still_being_read() {
    for format in [Format::Json, Format::Csv] {
        let mut report = Vec::new();
        let n = 20_000;
        match format {
            Format::Json => {
                report.extend_from_slice(b"{\"reportItems\": [");
                for i in 0..n {
                    if i > 0 {
                        report.push(b',');
                    }
                    write!(
                        report,
                        r#"{{"accountId":"111111111111","region":"us-east-1","backupJobId":"job-{i}","jobStatus":"{}","resourceArn":"arn:{i}"}}"#,
                        if i % 3 == 0 { "FAILED" } else { "COMPLETED" }
                    )
                    .unwrap();
                }
                report.extend_from_slice(b"]}");
            }
            Format::Csv => {
                report.extend_from_slice(b"\"Account ID\",\"Region\",\"Backup Job ID\",\"Job Status\",\"Resource ARN\"\n");
                for i in 0..n {
                    writeln!(
                        report,
                        r#""111111111111","us-east-1","job-{i}","{}","arn:{i}""#,
                        if i % 3 == 0 { "FAILED" } else { "COMPLETED" }
                    )
                    .unwrap();
                }
            }
        }
        let pos = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut first_at = None;
        let mut failed = 0;
        let mut last_index = 0;
        let reader = Metered {
            data: &report,
            pos: pos.clone(),
        };
        let info = read_report(reader, "big", None, &mut |f| {
            first_at.get_or_insert(pos.get());
            failed += usize::from(f.status.as_deref() == Some("FAILED"));
            last_index = f.index;
        })
        .unwrap();
        assert_eq!(info.items, n);
        assert_eq!(failed, 6667);
        assert_eq!(last_index, n - 1);
        let first_at = first_at.unwrap();
        assert!(
            first_at < 200 * 1024 && first_at < report.len() / 4,
            "{format:?}: first item only after {first_at} of {} bytes",
            report.len()
        );
    }
}
