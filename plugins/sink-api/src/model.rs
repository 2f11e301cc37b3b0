//! The data every stage after the report reader sees: one [`Finding`] per report item.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The AWS Backup Audit Manager report templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReportTemplate {
    #[serde(rename = "CONTROL_COMPLIANCE_REPORT")]
    ControlCompliance,
    #[serde(rename = "RESOURCE_COMPLIANCE_REPORT")]
    ResourceCompliance,
    #[serde(rename = "BACKUP_JOB_REPORT")]
    BackupJob,
    #[serde(rename = "COPY_JOB_REPORT")]
    CopyJob,
    #[serde(rename = "RESTORE_JOB_REPORT")]
    RestoreJob,
    /// Malware scan jobs; the docs also call it `MALWARE_JOB_REPORT`.
    #[serde(rename = "SCAN_JOB_REPORT", alias = "MALWARE_JOB_REPORT")]
    ScanJob,
}

impl ReportTemplate {
    pub const ALL: [ReportTemplate; 6] = [
        ReportTemplate::ControlCompliance,
        ReportTemplate::ResourceCompliance,
        ReportTemplate::BackupJob,
        ReportTemplate::CopyJob,
        ReportTemplate::RestoreJob,
        ReportTemplate::ScanJob,
    ];

    /// The template name as AWS writes it (`RESOURCE_COMPLIANCE_REPORT`).
    pub fn name(self) -> &'static str {
        match self {
            ReportTemplate::ControlCompliance => "CONTROL_COMPLIANCE_REPORT",
            ReportTemplate::ResourceCompliance => "RESOURCE_COMPLIANCE_REPORT",
            ReportTemplate::BackupJob => "BACKUP_JOB_REPORT",
            ReportTemplate::CopyJob => "COPY_JOB_REPORT",
            ReportTemplate::RestoreJob => "RESTORE_JOB_REPORT",
            ReportTemplate::ScanJob => "SCAN_JOB_REPORT",
        }
    }

    /// Parses a template name; `MALWARE_JOB_REPORT` is accepted for the scan job report.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "MALWARE_JOB_REPORT" => Some(ReportTemplate::ScanJob),
            _ => Self::ALL.into_iter().find(|t| t.name() == name),
        }
    }

    /// Job reports (backup, copy, restore, scan) as opposed to compliance reports.
    pub fn is_job(self) -> bool {
        !matches!(
            self,
            ReportTemplate::ControlCompliance | ReportTemplate::ResourceCompliance
        )
    }

    /// A human title: "Resource compliance", "Backup jobs".
    pub fn title(self) -> &'static str {
        match self {
            ReportTemplate::ControlCompliance => "Control compliance",
            ReportTemplate::ResourceCompliance => "Resource compliance",
            ReportTemplate::BackupJob => "Backup jobs",
            ReportTemplate::CopyJob => "Copy jobs",
            ReportTemplate::RestoreJob => "Restore jobs",
            ReportTemplate::ScanJob => "Scan jobs",
        }
    }
}

impl fmt::Display for ReportTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A [`RawItem`] key: a `'static` name for the fields the reader knows (no allocation per item),
/// or a shared name for fields it does not (one allocation per report column, not per item).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Static(s) => s,
            Key::Shared(s) => s,
        }
    }
}

/// Every field of one report item, as the report carried it, under the JSON (camelCase) key —
/// CSV columns are mapped to the same keys, so templates see one shape whatever the format.
/// Fields the reader does not know are kept too.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawItem {
    entries: Vec<(Key, serde_json::Value)>,
}

impl RawItem {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
        }
    }

    /// Adds a field; a later value for the same key replaces the earlier one.
    pub fn insert(&mut self, key: impl Into<Box<str>>, value: serde_json::Value) {
        let key: Box<str> = key.into();
        self.insert_key(Key::Shared(Arc::from(key)), value);
    }

    /// [`insert`](Self::insert) for a `'static` key: no allocation for the key.
    pub fn insert_static(&mut self, key: &'static str, value: serde_json::Value) {
        self.insert_key(Key::Static(key), value);
    }

    /// [`insert`](Self::insert) for a key shared between items (e.g. an unknown CSV column):
    /// cloning the `Arc` is all it costs per item.
    pub fn insert_shared(&mut self, key: Arc<str>, value: serde_json::Value) {
        self.insert_key(Key::Shared(key), value);
    }

    fn insert_key(&mut self, key: Key, value: serde_json::Value) {
        if let Some(slot) = self
            .entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == key.as_str())
        {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// Appends a field whose key the caller knows is not present yet (the CSV reader maps each
    /// column to a distinct key once, from the header), skipping the duplicate check. Should the
    /// key be present after all, [`get`](Self::get) sees the earlier value.
    #[doc(hidden)]
    pub fn push_distinct_static(&mut self, key: &'static str, value: serde_json::Value) {
        self.entries.push((Key::Static(key), value));
    }

    /// [`push_distinct_static`](Self::push_distinct_static) for a shared key.
    #[doc(hidden)]
    pub fn push_distinct_shared(&mut self, key: Arc<str>, value: serde_json::Value) {
        self.entries.push((Key::Shared(key), value));
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// The field if it is a non-empty string (no copy).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// Whether the item carries the key at all (even as `null` or `""`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.as_str() == key)
    }

    /// The field as text: strings as they are, numbers and booleans printed, `null`/absent and
    /// the empty string as `None`.
    pub fn get_text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) if s.is_empty() => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Serialize for RawItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

/// One report item, normalized. The names and their sources per template are pinned (see
/// `docs/report-formats.md` in the repository): `None` where a template has no such field or the
/// report left it empty.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub report: ReportTemplate,
    pub framework: Option<String>,
    pub control: Option<String>,
    pub status: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Filled in by the router: the environment the finding's account maps to.
    pub environment: String,
    pub resource_type: Option<String>,
    pub resource: Option<String>,
    pub job_id: Option<String>,
    /// The 0-based index of the item in its report (JSON array index, CSV record number).
    pub index: u64,
    /// Every raw field, for templates.
    pub fields: RawItem,
}

/// The names of the fields a rule can match on, in schema order.
pub const MATCH_FIELDS: [&str; 10] = [
    "report",
    "framework",
    "control",
    "status",
    "account",
    "region",
    "environment",
    "resource_type",
    "resource",
    "job_id",
];

impl Finding {
    /// A finding with only its template set, for building by hand.
    pub fn new(report: ReportTemplate) -> Self {
        Finding {
            report,
            framework: None,
            control: None,
            status: None,
            account: None,
            region: None,
            environment: String::new(),
            resource_type: None,
            resource: None,
            job_id: None,
            index: 0,
            fields: RawItem::new(),
        }
    }

    /// A matchable field by its rules.toml name (see [`MATCH_FIELDS`]); `None` for a null field
    /// or an unknown name.
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "report" => Some(self.report.name()),
            "framework" => self.framework.as_deref(),
            "control" => self.control.as_deref(),
            "status" => self.status.as_deref(),
            "account" => self.account.as_deref(),
            "region" => self.region.as_deref(),
            "environment" => Some(self.environment.as_str()),
            "resource_type" => self.resource_type.as_deref(),
            "resource" => self.resource.as_deref(),
            "job_id" => self.job_id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_item_keys_of_any_kind_replace_each_other_and_keep_order() {
        let mut raw = RawItem::with_capacity(4);
        raw.insert_static("accountId", json!("1"));
        raw.insert("region", json!("r"));
        let shared: Arc<str> = Arc::from("organizationPath");
        raw.insert_shared(shared.clone(), json!("ou"));
        raw.insert("accountId", json!("2"));
        raw.insert_static("region", json!(""));
        assert_eq!(raw.len(), 3);
        assert_eq!(
            raw.keys().collect::<Vec<_>>(),
            ["accountId", "region", "organizationPath"]
        );
        assert_eq!(raw.get_str("accountId"), Some("2"));
        assert_eq!(raw.get_str("region"), None);
        assert!(raw.contains_key("region"));
        assert_eq!(raw.get_text("region"), None);
        raw.push_distinct_static("backupSizeInBytes", json!(5));
        assert_eq!(raw.get_text("backupSizeInBytes").as_deref(), Some("5"));
        assert_eq!(
            serde_json::to_value(&raw).unwrap(),
            json!({"accountId": "2", "region": "", "organizationPath": "ou", "backupSizeInBytes": 5})
        );
    }
}
