//! Realistic values for every template: one item at a time into a reusable [`Row`].

use crate::rng::Rng;
use audit_router_sink_api::ReportTemplate;
use std::fmt::Write as _;

/// How a slot's text is written: `Str` quoted in JSON, `Num`/`Bool`/`Raw` bare, `Null` as
/// `null`; CSV writes every present value as quoted text and `Null`/`Absent` as `""`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Absent,
    Str,
    Num,
    Bool,
    Null,
    /// A JSON object/array written as is (`backupOptions`).
    Raw,
}

#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub kind: Kind,
    pub text: String,
}

/// One item's values in JSON key order; the strings are reused from item to item so that
/// generating does not allocate per item.
#[derive(Debug, Default)]
pub(crate) struct Row {
    pub slots: Vec<Slot>,
    pub len: usize,
}

impl Row {
    fn reset(&mut self) {
        self.len = 0;
    }

    fn next(&mut self, kind: Kind) -> &mut String {
        if self.len == self.slots.len() {
            self.slots.push(Slot {
                kind,
                text: String::with_capacity(64),
            });
        }
        let slot = &mut self.slots[self.len];
        slot.kind = kind;
        slot.text.clear();
        self.len += 1;
        &mut slot.text
    }

    fn s(&mut self, v: &str) {
        self.next(Kind::Str).push_str(v);
    }

    fn text(&mut self) -> &mut String {
        self.next(Kind::Str)
    }

    fn num(&mut self, v: u64) {
        push_u64(self.next(Kind::Num), v);
    }

    fn boolean(&mut self, v: bool) {
        self.next(Kind::Bool)
            .push_str(if v { "true" } else { "false" });
    }

    fn null(&mut self) {
        self.next(Kind::Null);
    }

    fn absent(&mut self) {
        self.next(Kind::Absent);
    }

    fn raw(&mut self, v: &str) {
        self.next(Kind::Raw).push_str(v);
    }
}

/// What the generator draws from, besides the seed.
pub(crate) struct Ctx<'a> {
    pub rng: Rng,
    pub accounts: &'a [String],
    pub regions: &'a [String],
    pub non_compliant: f64,
    pub failed: f64,
}

pub(crate) const REPORT_DAY: &str = "2026-11-25";
const NEXT_DAY: &str = "2026-11-26";
const PERIOD_START: &str = "2026-11-25T00:00:00Z";
const PERIOD_END: &str = "2026-11-26T00:00:00Z";
const PERIOD_LEGACY: &str = "2026-11-25T00:00:00Z - 2026-11-26T00:00:00Z";

pub(crate) const FRAMEWORKS: [&str; 5] = [
    "AWS_Backup_Framework",
    "prod-backup-policy",
    "prod-dr-policy",
    "pci_framework",
    "dev-baseline",
];

/// One description per framework (a framework has a single description in a report). Free text
/// is where real reports carry commas, quotes and non-ASCII text, so CSV quoting is exercised.
const FRAMEWORK_DESCRIPTIONS: [&str; 5] = [
    "",
    "Production backups, 35-day retention, \"gold\" tier",
    "DR copies to eu-west-1 — Zürich & Tokyo (東京) sites ✓",
    "PCI DSS scope: cardholder data, \"CDE\" systems",
    "",
];

pub(crate) const CONTROLS: [&str; 11] = [
    "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
    "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
    "BACKUP_RECOVERY_POINT_ENCRYPTED",
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
    "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
    "BACKUP_LAST_RECOVERY_POINT_CREATED",
    "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET",
    "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
    "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT",
    "BACKUP_RESOURCES_PROTECTED_BY_AIR_GAPPED_VAULT",
];

const CONTROL_SCOPES: [&str; 2] = ["", "{ComplianceResourceTypes: [],}"];
const CONTROL_PARAMETERS: [&str; 2] = [
    "",
    "{\"requiredFrequencyValue\": \"1\", \"requiredRetentionDays\": \"35\", \"requiredFrequencyUnit\": \"hours\"}",
];

const APPS: [&str; 10] = [
    "billing",
    "auth",
    "payments",
    "media",
    "search",
    "users",
    "orders",
    "inventory",
    "reports",
    "audit",
];

const PLANS: [&str; 3] = ["dev-plan", "DailyBackups", "prod-plan"];

/// Resource kinds: (compliance `resourceType`, job `resourceType`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Res {
    Ec2,
    Ebs,
    Efs,
    Dynamo,
    S3,
    Rds,
}

const RESOURCES: [Res; 6] = [Res::Ec2, Res::Ebs, Res::Efs, Res::Dynamo, Res::S3, Res::Rds];

pub(crate) const COMPLIANCE_RESOURCE_TYPES: [&str; 6] = [
    "AWS::EC2::Instance",
    "AWS::EC2::Volume",
    "AWS::EFS::FileSystem",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::RDS::DBInstance",
];

pub(crate) const JOB_RESOURCE_TYPES: [&str; 6] = ["EC2", "EBS", "EFS", "DynamoDB", "S3", "RDS"];

impl Res {
    fn index(self) -> usize {
        self as usize
    }
}

/// Failure messages: long free text with commas, quotes, non-ASCII and (once) a line break, as
/// AWS writes them.
const FAILURE_MESSAGES: [&str; 6] = [
    "Backup job failed because the resource was not found, or access was denied",
    "Insufficient privileges to perform this action: \"backup:StartBackupJob\", check the IAM role",
    "The EBS snapshot limit was exceeded, please retry later",
    "Backup job expired before it could start; the start window (60 minutes) elapsed",
    "KMS key ‘alias/backup’ is disabled — the recovery point cannot be encrypted",
    "Backup job failed.\nCause: the role \"AWSBackupDefaultServiceRole\" could not be assumed",
];

const PARTIAL_MESSAGES: [&str; 2] = [
    "Some files could not be backed up, see the job's details",
    "Windows VSS failed, a crash-consistent backup was taken instead",
];

const SCAN_FAILURE_MESSAGES: [&str; 3] = [
    "Malware scan failed because GuardDuty could not access the recovery point, or it was deleted",
    "Scanner role \"GuardDutyScanner\" is missing permission kms:Decrypt",
    "Scan cancelled: recovery point ‘expired’ before the scan started",
];

pub(crate) fn fill(template: ReportTemplate, ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    row.reset();
    match template {
        ReportTemplate::ControlCompliance => control_compliance(ctx, row),
        ReportTemplate::ResourceCompliance => resource_compliance(ctx, row),
        ReportTemplate::BackupJob => backup_job(ctx, row),
        ReportTemplate::CopyJob => copy_job(ctx, row),
        ReportTemplate::RestoreJob => restore_job(ctx, row),
        ReportTemplate::ScanJob => scan_job(ctx, row),
    }
}

fn framework(ctx: &mut Ctx<'_>, row: &mut Row) {
    let f = ctx.rng.below(FRAMEWORKS.len() as u64) as usize;
    row.s(FRAMEWORKS[f]);
    row.s(FRAMEWORK_DESCRIPTIONS[f]);
}

fn control_compliance(ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    let account = ctx.rng.pick(ctx.accounts);
    let region = ctx.rng.pick(ctx.regions);
    row.s(account);
    row.s(region);
    framework(ctx, row);
    row.s(ctx.rng.pick_str(&CONTROLS));
    let non_compliant = ctx.rng.chance(ctx.non_compliant);
    row.s(if non_compliant {
        "NON_COMPLIANT"
    } else {
        "COMPLIANT"
    });
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    row.num(ctx.rng.range(0, 300));
    row.num(if non_compliant {
        ctx.rng.range(1, 150)
    } else {
        0
    });
    if ctx.rng.chance(0.35) {
        row.s("Twelve_Hours");
    } else {
        row.absent();
    }
    row.s(ctx.rng.pick_str(&CONTROL_SCOPES));
    row.s(ctx.rng.pick_str(&CONTROL_PARAMETERS));
    non_compliant
}

fn resource_compliance(ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    let account = ctx.rng.pick(ctx.accounts);
    let region = ctx.rng.pick(ctx.regions);
    row.s(account);
    row.s(region);
    framework(ctx, row);
    row.s(ctx.rng.pick_str(&CONTROLS));
    let res = *ctx.rng.pick(&RESOURCES);
    let ty = COMPLIANCE_RESOURCE_TYPES[res.index()];
    {
        let s = row.text();
        s.push_str(ty);
        s.push('/');
        resource_id(s, res, &mut ctx.rng);
    }
    row.s(ty);
    let non_compliant = ctx.rng.chance(ctx.non_compliant);
    row.s(if non_compliant {
        "NON_COMPLIANT"
    } else {
        "COMPLIANT"
    });
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    non_compliant
}

/// The short resource id of a compliance report's `resourceId` (after `TYPE/`).
fn resource_id(s: &mut String, res: Res, rng: &mut Rng) {
    match res {
        Res::Ec2 => {
            s.push_str("i-");
            hex(s, rng, 17, false);
        }
        Res::Ebs => {
            s.push_str("vol-");
            hex(s, rng, 17, false);
        }
        Res::Efs => {
            s.push_str("fs-");
            hex(s, rng, 8, false);
        }
        Res::Dynamo => {
            app_name(s, rng);
            s.push_str("-table");
        }
        Res::S3 => {
            app_name(s, rng);
            s.push_str("-bucket");
        }
        Res::Rds => {
            s.push_str("db-");
            app_name(s, rng);
        }
    }
}

fn app_name(s: &mut String, rng: &mut Rng) {
    s.push_str(rng.pick_str(&APPS));
    s.push('-');
    push_u64(s, rng.range(1, 99));
}

/// A job's resource: writes `resourceArn` and `resourceName` into `arn` and `name`.
fn job_resource(
    res: Res,
    account: &str,
    region: &str,
    rng: &mut Rng,
    name_is_arn_for_s3_rds: bool,
    arn: &mut String,
    name: &mut String,
) {
    arn.clear();
    name.clear();
    match res {
        Res::Ec2 => {
            name.push_str("i-");
            hex(name, rng, 17, false);
            arn_prefix(arn, "ec2", region, account);
            arn.push_str("instance/");
        }
        Res::Ebs => {
            name.push_str("vol-");
            hex(name, rng, 17, false);
            arn_prefix(arn, "ec2", region, account);
            arn.push_str("volume/");
        }
        Res::Efs => {
            name.push_str("fs-");
            hex(name, rng, 8, false);
            arn_prefix(arn, "elasticfilesystem", region, account);
            arn.push_str("file-system/");
        }
        Res::Dynamo => {
            app_name(name, rng);
            arn_prefix(arn, "dynamodb", region, account);
            arn.push_str("table/");
        }
        Res::S3 => {
            app_name(name, rng);
            name.push_str("-bucket");
            arn.push_str("arn:aws:s3:::");
        }
        Res::Rds => {
            app_name(name, rng);
            arn_prefix(arn, "rds", region, account);
            arn.push_str("db:");
        }
    }
    arn.push_str(name);
    if name_is_arn_for_s3_rds && matches!(res, Res::S3 | Res::Rds) {
        name.clear();
        name.push_str(arn);
    }
}

fn arn_prefix(s: &mut String, service: &str, region: &str, account: &str) {
    s.push_str("arn:aws:");
    s.push_str(service);
    s.push(':');
    s.push_str(region);
    s.push(':');
    s.push_str(account);
    s.push(':');
}

fn backup_arn(s: &mut String, region: &str, account: &str, what: &str) {
    arn_prefix(s, "backup", region, account);
    s.push_str(what);
    s.push(':');
}

fn vault_arn(s: &mut String, region: &str, account: &str) {
    backup_arn(s, region, account, "backup-vault");
    s.push_str("Default");
}

fn recovery_point_arn(s: &mut String, region: &str, account: &str, rng: &mut Rng) {
    backup_arn(s, region, account, "recovery-point");
    uuid(s, rng, true);
}

fn kms_arn(s: &mut String, region: &str, account: &str, rng: &mut Rng) {
    arn_prefix(s, "kms", region, account);
    s.push_str("key/");
    uuid(s, rng, false);
}

fn role_arn(s: &mut String, account: &str, role: &str) {
    s.push_str("arn:aws:iam::");
    s.push_str(account);
    s.push_str(":role/");
    s.push_str(role);
}

const BACKUP_ROLE: &str = "service-role/AWSBackupDefaultServiceRole";

/// A job status: a `failed` fraction from `failures`, the rest mostly COMPLETED.
fn job_status(
    rng: &mut Rng,
    failed: f64,
    failures: &'static [&'static str],
    others: &'static [&'static str],
) -> (&'static str, bool) {
    if rng.chance(failed) {
        (rng.pick_str(failures), true)
    } else if rng.chance(0.85) {
        ("COMPLETED", false)
    } else {
        (rng.pick_str(others), false)
    }
}

/// The plan/rule/window block shared by backup, copy and restore jobs, from `backupPlanName`
/// to `parentJobId`.
fn plan_block(ctx: &mut Ctx<'_>, row: &mut Row, res: Res) {
    row.s(ctx.rng.pick_str(&PLANS));
    row.s("DailyRule");
    row.s("cron(0 5 ? * * *)");
    row.s("UTC");
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    if res == Res::Ec2 && ctx.rng.chance(0.3) {
        row.raw("{\"WindowsVSS\":\"enabled\"}");
    } else {
        row.raw("{}");
    }
    row.boolean(false);
    row.null();
}

/// The vault/encryption/lifecycle block shared by backup, copy and restore jobs.
fn vault_block(ctx: &mut Ctx<'_>, row: &mut Row, account: &str, region: &str) {
    row.s("BACKUP_VAULT");
    row.s("UNLOCKED");
    row.boolean(true);
    kms_arn(row.text(), region, account, &mut ctx.rng);
    row.num(35);
    row.num(7);
    row.boolean(false);
}

fn backup_job(ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    let account = ctx.rng.pick(ctx.accounts).as_str();
    let region = ctx.rng.pick(ctx.regions).as_str();
    row.s(PERIOD_START);
    row.s(PERIOD_END);
    row.s(account);
    row.s(region);
    uuid(row.text(), &mut ctx.rng, true);
    let (status, failed) = job_status(
        &mut ctx.rng,
        ctx.failed,
        &["FAILED", "ABORTED", "EXPIRED"],
        &["RUNNING", "PENDING", "CREATED", "PARTIAL"],
    );
    row.s(status);
    if failed {
        row.s(ctx.rng.pick_str(&FAILURE_MESSAGES));
    } else if status == "PARTIAL" {
        row.s(ctx.rng.pick_str(&PARTIAL_MESSAGES));
    } else {
        row.s("");
    }
    let res = *ctx.rng.pick(&RESOURCES);
    row.s(JOB_RESOURCE_TYPES[res.index()]);
    let (mut arn, mut name) = (String::new(), String::new());
    job_resource(
        res,
        account,
        region,
        &mut ctx.rng,
        false,
        &mut arn,
        &mut name,
    );
    row.s(&arn);
    row.s(&name);
    {
        let s = row.text();
        backup_arn(s, region, account, "backup-plan");
        uuid(s, &mut ctx.rng, false);
    }
    uuid(row.text(), &mut ctx.rng, false);
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    plan_block(ctx, row, res);
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    if status == "COMPLETED" || status == "PARTIAL" || failed {
        timestamp(row.text(), NEXT_DAY, &mut ctx.rng);
    } else {
        row.s("");
    }
    recovery_point_arn(row.text(), region, account, &mut ctx.rng);
    duration(row.text(), &mut ctx.rng);
    row.num(backup_size(&mut ctx.rng, failed));
    row.s("Default");
    vault_arn(row.text(), region, account);
    vault_block(ctx, row, account, region);
    role_arn(row.text(), account, BACKUP_ROLE);
    failed
}

fn copy_job(ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    let account = ctx.rng.pick(ctx.accounts).as_str();
    let region = ctx.rng.pick(ctx.regions).as_str();
    row.s(PERIOD_START);
    row.s(PERIOD_END);
    row.s(account);
    row.s(region);
    uuid(row.text(), &mut ctx.rng, true);
    // Copy jobs can only fail (no abort/expiry); the sample has no statusMessage column.
    let (status, failed) = job_status(
        &mut ctx.rng,
        ctx.failed,
        &["FAILED"],
        &["RUNNING", "CREATED", "PARTIAL"],
    );
    row.s(status);
    // The samples carry a timestamp in jobRunTime for copy jobs; mirror them.
    timestamp(row.text(), NEXT_DAY, &mut ctx.rng);
    let res = *ctx.rng.pick(&RESOURCES);
    row.s(JOB_RESOURCE_TYPES[res.index()]);
    let (mut arn, mut name) = (String::new(), String::new());
    job_resource(
        res,
        account,
        region,
        &mut ctx.rng,
        true,
        &mut arn,
        &mut name,
    );
    row.s(&arn);
    row.s(&name);
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    plan_block(ctx, row, res);
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    timestamp(row.text(), NEXT_DAY, &mut ctx.rng);
    row.num(backup_size(&mut ctx.rng, failed));
    recovery_point_arn(row.text(), region, account, &mut ctx.rng);
    vault_arn(row.text(), region, account);
    let dest = destination_region(ctx, region);
    recovery_point_arn(row.text(), dest, account, &mut ctx.rng);
    vault_arn(row.text(), dest, account);
    vault_block(ctx, row, account, region);
    role_arn(row.text(), account, BACKUP_ROLE);
    failed
}

fn destination_region<'a>(ctx: &mut Ctx<'a>, source: &str) -> &'a str {
    let regions = ctx.regions;
    let pick = ctx.rng.pick(regions).as_str();
    if pick != source || regions.len() == 1 {
        pick
    } else {
        // Any other region: the next one in the list.
        let i = regions.iter().position(|r| r == pick).unwrap_or(0);
        regions[(i + 1) % regions.len()].as_str()
    }
}

fn restore_job(ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    let account = ctx.rng.pick(ctx.accounts).as_str();
    let region = ctx.rng.pick(ctx.regions).as_str();
    if ctx.rng.chance(0.75) {
        row.s(PERIOD_LEGACY);
        row.absent();
        row.absent();
    } else {
        row.absent();
        row.s(PERIOD_START);
        row.s(PERIOD_END);
    }
    row.s(account);
    row.s(region);
    uuid(row.text(), &mut ctx.rng, true);
    // Restore jobs fail or are aborted; the sample has no statusMessage column.
    let (status, failed) = job_status(
        &mut ctx.rng,
        ctx.failed,
        &["FAILED", "ABORTED"],
        &["RUNNING", "PENDING"],
    );
    row.s(status);
    recovery_point_arn(row.text(), region, account, &mut ctx.rng);
    let res = *ctx.rng.pick(&RESOURCES);
    let (mut arn, mut name) = (String::new(), String::new());
    job_resource(
        res,
        account,
        region,
        &mut ctx.rng,
        true,
        &mut arn,
        &mut name,
    );
    row.s(&name);
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    plan_block(ctx, row, res);
    vault_block(ctx, row, account, region);
    row.s(&arn);
    vault_arn(row.text(), region, account);
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    row.num(backup_size(&mut ctx.rng, failed));
    if status == "COMPLETED" {
        row.s("100.00%");
    } else if status == "RUNNING" {
        let p = ctx.rng.range(0, 9999);
        let s = row.text();
        push_u64(s, p / 100);
        s.push('.');
        push_pad(s, p % 100, 2);
        s.push('%');
    } else {
        row.s("0.00%");
    }
    role_arn(row.text(), account, BACKUP_ROLE);
    failed
}

fn scan_job(ctx: &mut Ctx<'_>, row: &mut Row) -> bool {
    let account = ctx.rng.pick(ctx.accounts).as_str();
    let region = ctx.rng.pick(ctx.regions).as_str();
    row.s(PERIOD_START);
    row.s(PERIOD_END);
    row.s(account);
    row.s(region);
    uuid(row.text(), &mut ctx.rng, false);
    hex(row.text(), &mut ctx.rng, 32, false);
    row.s("GUARDDUTY");
    // Scan jobs fail or are cancelled (they cannot be aborted or expire).
    let (status, failed) = job_status(
        &mut ctx.rng,
        ctx.failed,
        &["FAILED", "CANCELED"],
        &["RUNNING", "COMPLETED_WITH_ISSUES", "CREATED"],
    );
    row.s(status);
    match status {
        "COMPLETED" => row.s(if ctx.rng.chance(0.05) {
            "THREATS_FOUND"
        } else {
            "NO_THREATS_FOUND"
        }),
        "COMPLETED_WITH_ISSUES" => row.s(if ctx.rng.chance(0.5) {
            "THREATS_FOUND"
        } else {
            "NO_THREATS_FOUND"
        }),
        _ => row.s(""),
    }
    if failed {
        row.s(ctx.rng.pick_str(&SCAN_FAILURE_MESSAGES));
    } else {
        row.s("");
    }
    let res = *ctx.rng.pick(&RESOURCES);
    row.s(JOB_RESOURCE_TYPES[res.index()]);
    let (mut arn, mut name) = (String::new(), String::new());
    job_resource(
        res,
        account,
        region,
        &mut ctx.rng,
        false,
        &mut arn,
        &mut name,
    );
    row.s(&arn);
    {
        let s = row.text();
        backup_arn(s, region, account, "backup-plan");
        uuid(s, &mut ctx.rng, false);
    }
    timestamp(row.text(), REPORT_DAY, &mut ctx.rng);
    recovery_point_arn(row.text(), region, account, &mut ctx.rng);
    row.s("Default");
    vault_arn(row.text(), region, account);
    role_arn(row.text(), account, BACKUP_ROLE);
    role_arn(row.text(), account, "GuardDutyScanner");
    failed
}

fn backup_size(rng: &mut Rng, failed: bool) -> u64 {
    if failed {
        0
    } else {
        rng.range(1_000_000, 80_000_000_000)
    }
}

// --- small formatting helpers (no allocation) ---

pub(crate) fn push_u64(s: &mut String, v: u64) {
    // Writing into a String cannot fail.
    let _ = write!(s, "{v}");
}

fn push_pad(s: &mut String, v: u64, width: usize) {
    let _ = write!(s, "{v:0width$}");
}

fn hex(s: &mut String, rng: &mut Rng, digits: usize, upper: bool) {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut bits = 0u64;
    for i in 0..digits {
        if i % 16 == 0 {
            bits = rng.next_u64();
        }
        s.push(table[(bits & 0xF) as usize] as char);
        bits >>= 4;
    }
}

fn uuid(s: &mut String, rng: &mut Rng, upper: bool) {
    for (i, n) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        hex(s, rng, n, upper);
    }
}

/// `<day>T<hh>:<mm>:<ss>.<mmm>Z`, uniformly within the day.
fn timestamp(s: &mut String, day: &str, rng: &mut Rng) {
    let ms = rng.below(86_400_000);
    let (h, m, sec, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    s.push_str(day);
    s.push('T');
    push_pad(s, h, 2);
    s.push(':');
    push_pad(s, m, 2);
    s.push(':');
    push_pad(s, sec, 2);
    s.push('.');
    push_pad(s, milli, 3);
    s.push('Z');
}

/// `hh:mm:ss` under an hour, as the backup job samples show.
fn duration(s: &mut String, rng: &mut Rng) {
    let secs = rng.range(30, 3599);
    s.push_str("00:");
    push_pad(s, secs / 60, 2);
    s.push(':');
    push_pad(s, secs % 60, 2);
}
