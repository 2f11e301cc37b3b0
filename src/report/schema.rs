//! What the readers know about each report template: its fields (JSON key, CSV header, type), the
//! fields a finding needs, how a template is recognised, and how an item becomes a [`Finding`].
//! `docs/report-formats.md` is the human form of these tables; keep them in step.

use crate::sink_api::model::FieldRef;
use crate::{Finding, FindingView, RawItem, ReportTemplate};
use serde_json::Value;

/// How a CSV value of a known column is converted (JSON values are kept as the report had them):
/// `Text` kept as a string, `Int` a whole number when it parses as one, `Bool` `true`/`false` in
/// any case, else the string. The CSV reader keeps the text and converts only when a value is
/// asked for (see [`RawItem`]).
pub use crate::sink_api::model::TextKind as Kind;

/// One known field of a template.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    /// The camelCase JSON key (the canonical [`RawItem`] key).
    pub key: &'static str,
    /// The Title Case CSV header AWS writes for it.
    pub header: &'static str,
    pub kind: Kind,
}

const fn t(key: &'static str, header: &'static str) -> FieldDef {
    FieldDef {
        key,
        header,
        kind: Kind::Text,
    }
}
const fn i(key: &'static str, header: &'static str) -> FieldDef {
    FieldDef {
        key,
        header,
        kind: Kind::Int,
    }
}
const fn b(key: &'static str, header: &'static str) -> FieldDef {
    FieldDef {
        key,
        header,
        kind: Kind::Bool,
    }
}

/// Everything the readers know about one template.
#[derive(Debug)]
pub struct Schema {
    pub template: ReportTemplate,
    /// The key whose presence identifies the template (checked in [`DETECT_ORDER`]).
    pub marker: &'static str,
    pub status: &'static str,
    pub framework: Option<&'static str>,
    pub control: Option<&'static str>,
    pub resource_type: Option<&'static str>,
    pub resource: Option<&'static str>,
    pub job_id: Option<&'static str>,
    /// Keys an item (JSON) or the header (CSV) must carry.
    pub required: &'static [&'static str],
    pub fields: &'static [FieldDef],
}

const PERIOD: [FieldDef; 2] = [
    t("reportTimePeriodStart", "Report Time Period Start"),
    t("reportTimePeriodEnd", "Report Time Period End"),
];

pub static CONTROL: Schema = Schema {
    template: ReportTemplate::ControlCompliance,
    marker: "controlComplianceStatus",
    status: "controlComplianceStatus",
    framework: Some("frameworkName"),
    control: Some("controlName"),
    resource_type: None,
    resource: None,
    job_id: None,
    required: &[
        "controlComplianceStatus",
        "accountId",
        "region",
        "frameworkName",
        "controlName",
    ],
    fields: &[
        t("accountId", "Account ID"),
        t("region", "Region"),
        t("frameworkName", "Framework Name"),
        t("frameworkDescription", "Framework Description"),
        t("controlName", "Control Name"),
        t("controlComplianceStatus", "Control Compliance Status"),
        t("lastEvaluationTime", "Last Evaluation Time"),
        i("numResourcesCompliant", "Num Resources Compliant"),
        i("numResourcesNonCompliant", "Num Resources Non Compliant"),
        t("controlFrequency", "Control Frequency"),
        t("controlScope", "Control Scope"),
        t("controlParameters", "Control Parameters"),
    ],
};

pub static RESOURCE: Schema = Schema {
    template: ReportTemplate::ResourceCompliance,
    marker: "resourceComplianceStatus",
    status: "resourceComplianceStatus",
    framework: Some("frameworkName"),
    control: Some("controlName"),
    resource_type: Some("resourceType"),
    resource: Some("resourceId"),
    job_id: None,
    required: &[
        "resourceComplianceStatus",
        "accountId",
        "region",
        "frameworkName",
        "controlName",
        "resourceId",
    ],
    fields: &[
        t("accountId", "Account ID"),
        t("region", "Region"),
        t("frameworkName", "Framework Name"),
        t("frameworkDescription", "Framework Description"),
        t("controlName", "Control Name"),
        t("resourceName", "Resource Name"),
        t("resourceId", "Resource ID"),
        t("resourceType", "Resource Type"),
        t("resourceComplianceStatus", "Resource Compliance Status"),
        t("lastEvaluationTime", "Last Evaluation Time"),
    ],
};

pub static BACKUP_JOB: Schema = Schema {
    template: ReportTemplate::BackupJob,
    marker: "backupJobId",
    status: "jobStatus",
    framework: None,
    control: None,
    resource_type: Some("resourceType"),
    resource: Some("resourceArn"),
    job_id: Some("backupJobId"),
    required: &["jobStatus", "accountId", "region", "backupJobId"],
    fields: &[
        PERIOD[0],
        PERIOD[1],
        t("accountId", "Account ID"),
        t("region", "Region"),
        t("backupJobId", "Backup Job ID"),
        t("jobStatus", "Job Status"),
        t("statusMessage", "Status Message"),
        t("resourceType", "Resource Type"),
        t("resourceArn", "Resource ARN"),
        t("resourceName", "Resource Name"),
        t("backupPlanArn", "Backup Plan ARN"),
        t("backupRuleId", "Backup Rule ID"),
        t("initiationDate", "Initiation Date"),
        t("backupPlanName", "Backup Plan Name"),
        t("backupRuleName", "Backup Rule Name"),
        t("backupRuleSchedule", "Backup Rule Schedule"),
        t("backupRuleTimezone", "Backup Rule Timezone"),
        t("startWindowEnd", "Start Window End"),
        t("backupOptions", "Backup Options"),
        b("isParentJob", "Is Parent Job"),
        t("parentJobId", "Parent Job ID"),
        t("creationDate", "Creation Date"),
        t("completionDate", "Completion Date"),
        t("recoveryPointArn", "Recovery Point ARN"),
        t("jobRunTime", "Job Run Time"),
        i("backupSizeInBytes", "Backup Size in Bytes"),
        t("backupVaultName", "Backup Vault Name"),
        t("backupVaultArn", "Backup Vault ARN"),
        t("vaultType", "Vault Type"),
        t("vaultLockStatus", "Vault Lock Status"),
        b("isEncrypted", "Is Encrypted"),
        t("encryptionKeyArn", "Encryption Key ARN"),
        i("deleteAfterDays", "Delete After Days"),
        i("moveToColdAfterDays", "Move To Cold After Days"),
        b("enableArchive", "Enable Archive"),
        t("iamRoleArn", "IAM Role ARN"),
    ],
};

pub static COPY_JOB: Schema = Schema {
    template: ReportTemplate::CopyJob,
    marker: "copyJobId",
    status: "jobStatus",
    framework: None,
    control: None,
    resource_type: Some("resourceType"),
    resource: Some("resourceArn"),
    job_id: Some("copyJobId"),
    required: &["jobStatus", "accountId", "region", "copyJobId"],
    fields: &[
        PERIOD[0],
        PERIOD[1],
        t("accountId", "Account ID"),
        t("region", "Region"),
        t("copyJobId", "Copy Job ID"),
        t("jobStatus", "Job Status"),
        t("statusMessage", "Status Message"),
        t("jobRunTime", "Job Run Time"),
        t("resourceType", "Resource Type"),
        t("resourceArn", "Resource ARN"),
        t("resourceName", "Resource Name"),
        t("initiationDate", "Initiation Date"),
        t("backupPlanName", "Backup Plan Name"),
        t("backupRuleName", "Backup Rule Name"),
        t("backupRuleSchedule", "Backup Rule Schedule"),
        t("backupRuleTimezone", "Backup Rule Timezone"),
        t("startWindowEnd", "Start Window End"),
        t("backupOptions", "Backup Options"),
        b("isParentJob", "Is Parent Job"),
        t("parentJobId", "Parent Job ID"),
        t("creationDate", "Creation Date"),
        t("completionDate", "Completion Date"),
        i("backupSizeInBytes", "Backup Size in Bytes"),
        t("sourceRecoveryPointArn", "Source Recovery Point ARN"),
        t("sourceBackupVaultArn", "Source Backup Vault ARN"),
        t(
            "destinationRecoveryPointArn",
            "Destination Recovery Point ARN",
        ),
        t("destinationBackupVaultArn", "Destination Backup Vault ARN"),
        t("vaultType", "Vault Type"),
        t("vaultLockStatus", "Vault Lock Status"),
        b("isEncrypted", "Is Encrypted"),
        t("encryptionKeyArn", "Encryption Key ARN"),
        i("deleteAfterDays", "Delete After Days"),
        i("moveToColdAfterDays", "Move To Cold After Days"),
        b("enableArchive", "Enable Archive"),
        t("iamRoleArn", "IAM Role ARN"),
    ],
};

pub static RESTORE_JOB: Schema = Schema {
    template: ReportTemplate::RestoreJob,
    marker: "restoreJobId",
    status: "jobStatus",
    framework: None,
    control: None,
    resource_type: Some("resourceType"),
    resource: Some("sourceResourceArn"),
    job_id: Some("restoreJobId"),
    required: &["jobStatus", "accountId", "region", "restoreJobId"],
    fields: &[
        t("reportTimePeriod", "Report Time Period"),
        PERIOD[0],
        PERIOD[1],
        t("accountId", "Account ID"),
        t("region", "Region"),
        t("restoreJobId", "Restore Job ID"),
        t("jobStatus", "Job Status"),
        t("statusMessage", "Status Message"),
        t("resourceType", "Resource Type"),
        t("recoveryPointArn", "Recovery Point ARN"),
        t("resourceName", "Resource Name"),
        t("initiationDate", "Initiation Date"),
        t("backupPlanName", "Backup Plan Name"),
        t("backupRuleName", "Backup Rule Name"),
        t("backupRuleSchedule", "Backup Rule Schedule"),
        t("backupRuleTimezone", "Backup Rule Timezone"),
        t("startWindowEnd", "Start Window End"),
        t("backupOptions", "Backup Options"),
        b("isParentJob", "Is Parent Job"),
        t("parentJobId", "Parent Job ID"),
        t("vaultType", "Vault Type"),
        t("vaultLockStatus", "Vault Lock Status"),
        b("isEncrypted", "Is Encrypted"),
        t("encryptionKeyArn", "Encryption Key ARN"),
        i("deleteAfterDays", "Delete After Days"),
        i("moveToColdAfterDays", "Move To Cold After Days"),
        b("enableArchive", "Enable Archive"),
        t("sourceResourceArn", "Source Resource ARN"),
        t("createdResourceArn", "Created Resource ARN"),
        t("backupVaultArn", "Backup Vault ARN"),
        t("creationDate", "Creation Date"),
        t("completionDate", "Completion Date"),
        i("backupSizeInBytes", "Backup Size in Bytes"),
        t("percentDone", "Percent Done"),
        t("iamRoleArn", "IAM Role ARN"),
    ],
};

pub static SCAN_JOB: Schema = Schema {
    template: ReportTemplate::ScanJob,
    marker: "scanJobId",
    status: "jobStatus",
    framework: None,
    control: None,
    resource_type: Some("resourceType"),
    resource: Some("resourceArn"),
    job_id: Some("scanJobId"),
    required: &["jobStatus", "accountId", "region", "scanJobId"],
    fields: &[
        PERIOD[0],
        PERIOD[1],
        t("accountId", "Account ID"),
        t("region", "Region"),
        t("scanJobId", "Scan Job ID"),
        t("scanId", "Scan ID"),
        t("malwareScanner", "Malware Scanner"),
        t("jobStatus", "Job Status"),
        t("scanResultStatus", "Scan Result Status"),
        t("statusMessage", "Status Message"),
        t("resourceType", "Resource Type"),
        t("resourceArn", "Resource ARN"),
        t("resourceName", "Resource Name"),
        t("backupPlanArn", "Backup Plan ARN"),
        t("creationDate", "Creation Date"),
        t("completionDate", "Completion Date"),
        t("recoveryPointArn", "Recovery Point ARN"),
        t("backupVaultName", "Backup Vault Name"),
        t("backupVaultArn", "Backup Vault ARN"),
        t("iamRoleArn", "IAM Role ARN"),
        t("scannerRoleArn", "Scanner Role ARN"),
    ],
};

/// Templates in the order their marker keys are checked.
pub static DETECT_ORDER: [&Schema; 6] = [
    &CONTROL,
    &RESOURCE,
    &BACKUP_JOB,
    &COPY_JOB,
    &RESTORE_JOB,
    &SCAN_JOB,
];

/// Keys the reader derives (never read from a report).
pub const CONTROL_PARAMETERS_PARSED: &str = "controlParametersParsed";

pub fn schema(template: ReportTemplate) -> &'static Schema {
    match template {
        ReportTemplate::ControlCompliance => &CONTROL,
        ReportTemplate::ResourceCompliance => &RESOURCE,
        ReportTemplate::BackupJob => &BACKUP_JOB,
        ReportTemplate::CopyJob => &COPY_JOB,
        ReportTemplate::RestoreJob => &RESTORE_JOB,
        ReportTemplate::ScanJob => &SCAN_JOB,
    }
}

/// The template whose marker key `has` reports present, if any.
pub fn detect(has: impl Fn(&str) -> bool) -> Option<&'static Schema> {
    DETECT_ORDER.iter().copied().find(|s| has(s.marker))
}

/// The marker keys, for error messages.
pub fn markers() -> String {
    DETECT_ORDER
        .iter()
        .map(|s| s.marker)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The field definition for a known key, from any template.
pub fn field_by_key(key: &str) -> Option<&'static FieldDef> {
    DETECT_ORDER
        .iter()
        .flat_map(|s| s.fields.iter())
        .find(|f| f.key == key)
}

/// The interned `'static` form of a known key, so items need no allocation for it.
pub fn static_key(key: &str) -> Option<&'static str> {
    known_key(key).map(|(k, _)| k)
}

/// [`static_key`] with the key's index in the table of known keys (dense, from 0): readers use
/// it as a bit position to spot duplicate keys without comparing strings.
pub fn known_key(key: &str) -> Option<(&'static str, usize)> {
    let keys = known_keys();
    keys.binary_search(&key).ok().map(|i| (keys[i], i))
}

fn known_keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<&'static str> = DETECT_ORDER
            .iter()
            .flat_map(|s| s.fields.iter().map(|f| f.key))
            .chain([CONTROL_PARAMETERS_PARSED])
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    })
}

/// A header or key reduced for comparison: lowercase ASCII letters and digits only
/// (`"Account ID"`, `"account_id"` and `"accountId"` all become `accountid`).
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A CSV header without a trailing unit or note in brackets or parentheses
/// (`"Backup Size in Bytes [Bytes]"` → `"Backup Size in Bytes"`, `"Job Status (Status)"` →
/// `"Job Status"`); repeated suffixes are all removed. A header that is nothing but a bracketed
/// name (`"[x]"`) is kept whole. Code that reads real reports strips such suffixes
/// (`docs/report-formats.md`, "CSV headers").
pub fn strip_header_suffix(header: &str) -> &str {
    let mut name = header.trim();
    loop {
        let open = match name.as_bytes().last() {
            Some(b']') => '[',
            Some(b')') => '(',
            _ => return name,
        };
        let Some(at) = name.rfind(open) else {
            return name;
        };
        let head = name[..at].trim_end();
        if head.is_empty() {
            return name;
        }
        name = head;
    }
}

/// The known key a CSV header names, whatever its case and spacing, with a trailing `[…]` or
/// `(…)` suffix ignored ([`strip_header_suffix`]).
pub fn key_for_header(header: &str) -> Option<&'static str> {
    let n = normalize(strip_header_suffix(header));
    if n.is_empty() {
        return None;
    }
    known_keys().iter().copied().find(|k| normalize(k) == n)
}

/// A camelCase key for a CSV header the reader does not know: a trailing `[…]`/`(…)` suffix
/// dropped ([`strip_header_suffix`]), words split at anything not a letter or digit, the first
/// lowercased, the others capitalised, all-caps words (`ID`, `ARN`) treated as one word
/// (`Organization Unit ID` → `organizationUnitId`, `path_to_root` → `pathToRoot`).
pub fn camel_case(header: &str) -> String {
    let header = strip_header_suffix(header);
    let mut out = String::with_capacity(header.len());
    for word in header
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let all_caps = !word.chars().any(char::is_lowercase);
        let mut chars = word.chars();
        let Some(first) = chars.next() else { continue };
        if out.is_empty() {
            out.extend(first.to_lowercase());
        } else {
            out.extend(first.to_uppercase());
        }
        if all_caps {
            out.extend(chars.flat_map(char::to_lowercase));
        } else {
            out.extend(chars);
        }
    }
    out
}

/// Converts a CSV value of a known column (see [`Kind`]); the empty string stays `""`.
pub fn csv_value(kind: Kind, text: &str) -> Value {
    kind.value(text)
}

/// Derived fields, the same for JSON and CSV: the legacy `reportTimePeriod` = `"<start> -
/// <end>"` split into `reportTimePeriodStart`/`End` (when those are absent or empty; the
/// original is kept), and `controlParameters` parsed into `controlParametersParsed` when it is
/// valid JSON (the string is kept as it is).
pub fn derive_fields(raw: &mut RawItem) {
    if let Some(period) = raw.get_str("reportTimePeriod")
        && raw.get_str("reportTimePeriodStart").is_none()
        && raw.get_str("reportTimePeriodEnd").is_none()
        && let Some((start, end)) = period.split_once(" - ")
    {
        let (start, end) = (start.trim().to_owned(), end.trim().to_owned());
        raw.insert_static("reportTimePeriodStart", Value::String(start));
        raw.insert_static("reportTimePeriodEnd", Value::String(end));
    }
    if let Some(params) = raw.get_str("controlParameters")
        && let Ok(parsed) = serde_json::from_str::<Value>(params)
    {
        raw.insert_static(CONTROL_PARAMETERS_PARSED, parsed);
    }
}

/// Why an item could not become a finding.
#[derive(Debug, PartialEq, Eq)]
pub enum ItemProblem {
    Missing(&'static str),
    WrongType {
        key: &'static str,
        found: &'static str,
    },
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The text of a finding field: a string, `None` for absent, `null` or `""`; anything else is
/// the wrong type (an account id as a number would already have lost its leading zeros).
fn text<'r>(raw: &'r RawItem, key: &'static str) -> Result<Option<&'r str>, ItemProblem> {
    match raw.get_ref(key) {
        None | Some(FieldRef::Value(Value::Null)) => Ok(None),
        Some(FieldRef::Text("")) => Ok(None),
        Some(FieldRef::Text(s)) => Ok(Some(s)),
        Some(FieldRef::Value(Value::String(s))) if s.is_empty() => Ok(None),
        Some(FieldRef::Value(Value::String(s))) => Ok(Some(s)),
        Some(FieldRef::Value(other)) => Err(ItemProblem::WrongType {
            key,
            found: type_name(other),
        }),
    }
}

fn opt_text<'r>(
    raw: &'r RawItem,
    key: Option<&'static str>,
) -> Result<Option<&'r str>, ItemProblem> {
    key.map_or(Ok(None), |k| text(raw, k))
}

impl Schema {
    /// The first required key `has` reports absent.
    pub fn first_missing(&self, has: impl Fn(&str) -> bool) -> Option<&'static str> {
        self.required.iter().copied().find(|k| !has(k))
    }

    /// Normalises one item into a finding. `check_required` is false when the CSV header has
    /// already been checked (every row then carries every column).
    pub fn finding(
        &self,
        mut raw: RawItem,
        index: u64,
        check_required: bool,
    ) -> Result<Finding, ItemProblem> {
        let mut finding = self
            .view(&raw, index, check_required)?
            .to_finding(RawItem::new());
        derive_fields(&mut raw);
        finding.fields = raw;
        Ok(finding)
    }

    /// An item's matchable fields, borrowed from it (what [`finding`](Self::finding) checks
    /// and copies).
    pub fn view<'r>(
        &self,
        raw: &'r RawItem,
        index: u64,
        check_required: bool,
    ) -> Result<FindingView<'r>, ItemProblem> {
        if check_required && let Some(k) = self.first_missing(|k| raw.contains_key(k)) {
            return Err(ItemProblem::Missing(k));
        }
        Ok(FindingView {
            report: self.template,
            framework: opt_text(raw, self.framework)?,
            control: opt_text(raw, self.control)?,
            status: text(raw, self.status)?,
            account: text(raw, "accountId")?,
            region: text(raw, "region")?,
            environment: "",
            resource_type: opt_text(raw, self.resource_type)?,
            resource: opt_text(raw, self.resource)?,
            job_id: opt_text(raw, self.job_id)?,
            index,
        })
    }

    /// The owned finding of a view taken from `raw` (derived fields added to `raw`).
    pub fn finding_from(&self, view: &FindingView<'_>, mut raw: RawItem) -> Finding {
        derive_fields(&mut raw);
        view.to_finding(raw)
    }

    /// The keys of the matchable fields, as [`view`](Self::view) reads them: framework,
    /// control, status, account, region, resource type, resource, job id.
    pub fn view_keys(&self) -> [Option<&'static str>; 8] {
        [
            self.framework,
            self.control,
            Some(self.status),
            Some("accountId"),
            Some("region"),
            self.resource_type,
            self.resource,
            self.job_id,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_normalizes_to_its_key_and_camel_cases_back() {
        for s in DETECT_ORDER {
            for f in s.fields {
                assert_eq!(normalize(f.header), normalize(f.key), "{}", f.header);
                assert_eq!(camel_case(f.header), f.key, "{}", f.header);
                assert_eq!(key_for_header(f.header), Some(f.key));
            }
            for r in s.required {
                assert!(s.fields.iter().any(|f| f.key == *r), "{r}");
            }
            assert!(s.required.contains(&s.marker));
            assert!(s.required.contains(&s.status));
        }
    }

    #[test]
    fn headers_match_whatever_their_case_and_spacing() {
        assert_eq!(key_for_header("ACCOUNT_ID"), Some("accountId"));
        assert_eq!(key_for_header("  job status "), Some("jobStatus"));
        assert_eq!(
            key_for_header("backup-size-in-bytes"),
            Some("backupSizeInBytes")
        );
        assert_eq!(key_for_header("Organization Path"), None);
        assert_eq!(key_for_header(""), None);
        assert_eq!(camel_case("Organization Path"), "organizationPath");
        assert_eq!(camel_case("OU ID"), "ouId");
        assert_eq!(camel_case("fooBar"), "fooBar");
    }

    #[test]
    fn bracketed_suffixes_are_ignored_in_headers() {
        assert_eq!(
            key_for_header("Backup Size in Bytes [Bytes]"),
            Some("backupSizeInBytes")
        );
        assert_eq!(
            key_for_header("\"Job Status [Status]\""),
            None,
            "quotes are the CSV's"
        );
        assert_eq!(key_for_header("Job Status [Status]"), Some("jobStatus"));
        assert_eq!(key_for_header("job status (status) [x]"), Some("jobStatus"));
        assert_eq!(
            key_for_header("  Account ID  (12 digits) "),
            Some("accountId")
        );
        assert_eq!(strip_header_suffix("[x]"), "[x]");
        assert_eq!(strip_header_suffix("Region ]"), "Region ]");
        assert_eq!(
            strip_header_suffix("Creation Date [UTC"),
            "Creation Date [UTC"
        );
        assert_eq!(camel_case("Path To Root [OU path]"), "pathToRoot");
        assert_eq!(camel_case("path_to_root"), "pathToRoot");
        assert_eq!(camel_case("[x]"), "x");
    }

    #[test]
    fn known_keys_fit_the_json_readers_duplicate_bitmask() {
        // Keys past 128 still work (slow path), but every key AWS writes should be fast.
        assert!(known_keys().len() <= 128, "{}", known_keys().len());
    }

    #[test]
    fn static_keys_are_interned() {
        assert_eq!(static_key("jobStatus"), Some("jobStatus"));
        assert_eq!(
            static_key("controlParametersParsed"),
            Some("controlParametersParsed")
        );
        assert_eq!(static_key("organizationPath"), None);
    }

    #[test]
    fn csv_values_convert_known_types_only_when_they_parse() {
        assert_eq!(csv_value(Kind::Int, "42"), Value::from(42u64));
        assert_eq!(csv_value(Kind::Int, "-1"), Value::from(-1i64));
        assert_eq!(csv_value(Kind::Int, ""), Value::from(""));
        assert_eq!(csv_value(Kind::Int, "n/a"), Value::from("n/a"));
        assert_eq!(csv_value(Kind::Bool, "TRUE"), Value::Bool(true));
        assert_eq!(csv_value(Kind::Bool, "false"), Value::Bool(false));
        assert_eq!(csv_value(Kind::Bool, "yes"), Value::from("yes"));
        assert_eq!(csv_value(Kind::Text, "7"), Value::from("7"));
    }

    #[test]
    fn legacy_period_is_split_and_kept() {
        let mut raw = RawItem::new();
        raw.insert(
            "reportTimePeriod",
            Value::from("2021-07-14T00:00:00Z - 2021-07-15T00:00:00Z"),
        );
        raw.insert("reportTimePeriodStart", Value::from(""));
        derive_fields(&mut raw);
        assert_eq!(
            raw.get_str("reportTimePeriodStart"),
            Some("2021-07-14T00:00:00Z")
        );
        assert_eq!(
            raw.get_str("reportTimePeriodEnd"),
            Some("2021-07-15T00:00:00Z")
        );
        assert!(raw.get_str("reportTimePeriod").is_some());
    }

    #[test]
    fn control_parameters_are_parsed_when_valid_and_kept_as_text() {
        let mut raw = RawItem::new();
        raw.insert("controlParameters", Value::from(r#"{"a":"1"}"#));
        derive_fields(&mut raw);
        assert_eq!(
            raw.get(CONTROL_PARAMETERS_PARSED),
            Some(&serde_json::json!({"a":"1"}))
        );
        let mut raw = RawItem::new();
        raw.insert(
            "controlParameters",
            Value::from("{ComplianceResourceTypes: [],}"),
        );
        derive_fields(&mut raw);
        assert_eq!(raw.get(CONTROL_PARAMETERS_PARSED), None);
    }

    #[test]
    fn finding_rejects_wrong_types_and_missing_keys() {
        let mut raw = RawItem::new();
        raw.insert("jobStatus", Value::from("FAILED"));
        raw.insert("accountId", serde_json::json!({}));
        raw.insert("region", Value::from("us-east-1"));
        raw.insert("backupJobId", Value::from("j1"));
        assert_eq!(
            BACKUP_JOB.finding(raw.clone(), 0, true),
            Err(ItemProblem::WrongType {
                key: "accountId",
                found: "an object"
            })
        );
        assert_eq!(
            COPY_JOB.finding(raw, 0, true),
            Err(ItemProblem::Missing("copyJobId"))
        );
    }
}
