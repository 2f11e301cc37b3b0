//! The data every stage after the report reader sees: one [`Finding`] per report item.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, OnceLock};

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

/// How a field kept as text becomes a JSON value when one is asked for (CSV columns of a known
/// type; JSON strings are always [`TextKind::Text`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// Kept as a string.
    Text,
    /// A whole number: converted when it parses as one, else kept as the string.
    Int,
    /// `true`/`false` (any case): converted, else kept as the string.
    Bool,
}

impl TextKind {
    /// The JSON value of `text` read as this kind; the empty string stays `""`.
    pub fn value(self, text: &str) -> serde_json::Value {
        use serde_json::Value;
        match self {
            TextKind::Text => Value::String(text.to_owned()),
            TextKind::Int => {
                if let Ok(n) = text.parse::<u64>() {
                    Value::from(n)
                } else if let Ok(n) = text.parse::<i64>() {
                    Value::from(n)
                } else {
                    Value::String(text.to_owned())
                }
            }
            TextKind::Bool => {
                if text.eq_ignore_ascii_case("true") {
                    Value::Bool(true)
                } else if text.eq_ignore_ascii_case("false") {
                    Value::Bool(false)
                } else {
                    Value::String(text.to_owned())
                }
            }
        }
    }
}

/// One field's value: a JSON value, or a range of the item's text buffer that becomes one only
/// when asked for.
#[derive(Clone, Debug)]
enum Slot {
    Value(serde_json::Value),
    Text {
        start: u32,
        end: u32,
        kind: TextKind,
    },
}

/// A field as stored, without making a JSON value of a text field: what the readers use to fill
/// [`Finding`]'s own fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldRef<'a> {
    /// A string field (also a CSV text column), borrowed.
    Text(&'a str),
    /// Any other value (numbers, booleans, objects, converted CSV columns).
    Value(&'a serde_json::Value),
}

/// Every field of one report item, as the report carried it, under the JSON (camelCase) key —
/// CSV columns are mapped to the same keys, so templates see one shape whatever the format.
/// Fields the reader does not know are kept too.
///
/// Memory and speed: string fields live in one text buffer per item and become
/// `serde_json::Value`s only when [`get`](Self::get), [`iter`](Self::iter) or a comparison asks
/// (they are then made once, for all fields, and cached). Most findings of a large report are
/// counted and dropped, never rendered, so most never pay for the values; [`Serialize`] writes
/// text fields straight from the buffer.
#[derive(Clone, Default)]
pub struct RawItem {
    entries: Vec<(Key, Slot)>,
    /// Key → its first entry, once the item has [`INDEX_FROM`] entries: a hostile item with
    /// thousands of keys would otherwise cost a scan of all earlier keys per key (quadratic).
    index: Option<Box<crate::strmap::StrMap<usize>>>,
    text: String,
    /// The value of every entry (text slots converted; `Null` for `Slot::Value` ones, which are
    /// read in place), made on first need. Cleared by every change.
    values: OnceLock<Box<[serde_json::Value]>>,
}

/// Entries from which [`RawItem`] looks keys up in an index instead of scanning (real items
/// have about 20).
const INDEX_FROM: usize = 48;

impl RawItem {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// [`with_capacity`](Self::with_capacity), also reserving `text` bytes for text fields.
    pub fn with_capacities(fields: usize, text: usize) -> Self {
        Self {
            entries: Vec::with_capacity(fields),
            text: String::with_capacity(text),
            values: OnceLock::new(),
            index: None,
        }
    }

    /// Adds a field; a later value for the same key replaces the earlier one.
    pub fn insert(&mut self, key: impl Into<Box<str>>, value: serde_json::Value) {
        let key: Box<str> = key.into();
        self.insert_key(Key::Shared(Arc::from(key)), Slot::Value(value));
    }

    /// [`insert`](Self::insert) for a `'static` key: no allocation for the key.
    pub fn insert_static(&mut self, key: &'static str, value: serde_json::Value) {
        self.insert_key(Key::Static(key), Slot::Value(value));
    }

    /// [`insert`](Self::insert) for a key shared between items (e.g. an unknown CSV column):
    /// cloning the `Arc` is all it costs per item.
    pub fn insert_shared(&mut self, key: Arc<str>, value: serde_json::Value) {
        self.insert_key(Key::Shared(key), Slot::Value(value));
    }

    /// [`insert`](Self::insert) of a string value, kept as text until a value is asked for.
    pub fn insert_text(&mut self, key: impl Into<Box<str>>, text: &str) {
        let key: Box<str> = key.into();
        let slot = self.text_slot(text, TextKind::Text);
        self.insert_key(Key::Shared(Arc::from(key)), slot);
    }

    /// [`insert_text`](Self::insert_text) for a `'static` key.
    pub fn insert_text_static(&mut self, key: &'static str, text: &str) {
        let slot = self.text_slot(text, TextKind::Text);
        self.insert_key(Key::Static(key), slot);
    }

    fn insert_key(&mut self, key: Key, slot: Slot) {
        self.values.take();
        match self.position(key.as_str()) {
            Some(i) => self.entries[i].1 = slot,
            None => self.push_entry(key, slot),
        }
    }

    /// Appends an entry, keeping the index (which points at a key's first entry) up to date.
    fn push_entry(&mut self, key: Key, slot: Slot) {
        self.entries.push((key, slot));
        let n = self.entries.len();
        // The new entry, or all of them when this one crosses the threshold.
        let first = match self.index {
            Some(_) => n - 1,
            None if n < INDEX_FROM => return,
            None => 0,
        };
        let index = self.index.get_or_insert_with(Box::default);
        for (i, (k, _)) in self.entries.iter().enumerate().skip(first) {
            if index.get(k.as_str()).is_none() {
                index.insert(k.as_str(), i);
            }
        }
    }

    /// Appends `text` to the buffer: a text slot, or (past 4 GiB of text, which no report item
    /// reaches) the converted value.
    fn text_slot(&mut self, text: &str, kind: TextKind) -> Slot {
        let start = self.text.len();
        let end = start + text.len();
        match (u32::try_from(start), u32::try_from(end)) {
            (Ok(start), Ok(end)) => {
                self.text.push_str(text);
                Slot::Text { start, end, kind }
            }
            _ => Slot::Value(kind.value(text)),
        }
    }

    /// Appends a field whose key the caller knows is not present yet (the CSV reader maps each
    /// column to a distinct key once, from the header), skipping the duplicate check. Should the
    /// key be present after all, [`get`](Self::get) sees the earlier value.
    #[doc(hidden)]
    pub fn push_distinct_static(&mut self, key: &'static str, value: serde_json::Value) {
        self.values.take();
        self.push_entry(Key::Static(key), Slot::Value(value));
    }

    /// [`push_distinct_static`](Self::push_distinct_static) for a shared key.
    #[doc(hidden)]
    pub fn push_distinct_shared(&mut self, key: Arc<str>, value: serde_json::Value) {
        self.values.take();
        self.push_entry(Key::Shared(key), Slot::Value(value));
    }

    /// [`push_distinct_static`](Self::push_distinct_static) of a field kept as text, converted
    /// by `kind` when a value is asked for.
    #[doc(hidden)]
    pub fn push_text_static(&mut self, key: &'static str, text: &str, kind: TextKind) {
        self.values.take();
        let slot = self.text_slot(text, kind);
        self.push_entry(Key::Static(key), slot);
    }

    /// [`push_text_static`](Self::push_text_static) for a shared key.
    #[doc(hidden)]
    pub fn push_text_shared(&mut self, key: Arc<str>, text: &str, kind: TextKind) {
        self.values.take();
        let slot = self.text_slot(text, kind);
        self.push_entry(Key::Shared(key), slot);
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k.as_str() == key),
        }
    }

    #[inline]
    fn slice(&self, start: u32, end: u32) -> &str {
        // Slots only ever hold ranges of whole strings pushed into `text`.
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    fn values(&self) -> &[serde_json::Value] {
        self.values.get_or_init(|| {
            self.entries
                .iter()
                .map(|(_, slot)| match slot {
                    Slot::Value(_) => serde_json::Value::Null,
                    Slot::Text { start, end, kind } => kind.value(self.slice(*start, *end)),
                })
                .collect()
        })
    }

    fn value_at(&self, i: usize) -> &serde_json::Value {
        match &self.entries[i].1 {
            Slot::Value(v) => v,
            Slot::Text { .. } => &self.values()[i],
        }
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.position(key).map(|i| self.value_at(i))
    }

    /// The field as stored: text fields borrowed from the buffer with no value made.
    pub fn get_ref(&self, key: &str) -> Option<FieldRef<'_>> {
        let i = self.position(key)?;
        Some(match &self.entries[i].1 {
            Slot::Text {
                start,
                end,
                kind: TextKind::Text,
            } => FieldRef::Text(self.slice(*start, *end)),
            _ => FieldRef::Value(self.value_at(i)),
        })
    }

    /// The field if it is a non-empty string (no copy).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get_ref(key)? {
            FieldRef::Text(s) if !s.is_empty() => Some(s),
            FieldRef::Value(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// Whether the item carries the key at all (even as `null` or `""`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The field as text: strings as they are, numbers and booleans printed, `null`/absent and
    /// the empty string as `None`.
    pub fn get_text(&self, key: &str) -> Option<String> {
        match self.get_ref(key)? {
            FieldRef::Text("") => None,
            FieldRef::Text(s) => Some(s.to_owned()),
            FieldRef::Value(serde_json::Value::Null) => None,
            FieldRef::Value(serde_json::Value::String(s)) if s.is_empty() => None,
            FieldRef::Value(serde_json::Value::String(s)) => Some(s.clone()),
            FieldRef::Value(other) => Some(other.to_string()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        (0..self.entries.len()).map(|i| (self.entries[i].0.as_str(), self.value_at(i)))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Empties the item, keeping its buffers: readers reuse one item for a whole report.
    #[doc(hidden)]
    pub fn clear(&mut self) {
        self.values.take();
        self.entries.clear();
        self.text.clear();
        self.index = None;
    }

    /// Bytes in the text buffer (readers size the next item's buffer by it).
    #[doc(hidden)]
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl PartialEq for RawItem {
    /// The same keys with the same values in the same order, however they are stored.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for RawItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for RawItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (i, (k, slot)) in self.entries.iter().enumerate() {
            match slot {
                Slot::Text {
                    start,
                    end,
                    kind: TextKind::Text,
                } => map.serialize_entry(k.as_str(), self.slice(*start, *end))?,
                _ => map.serialize_entry(k.as_str(), self.value_at(i))?,
            }
        }
        map.end()
    }
}

/// What a finding is, for one sink, next to the previous report of its stream (the state the
/// router keeps, `notify`; `docs/state.md` in the repository).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Not routed to this sink by the previous report (or the stream's first report).
    New,
    /// Routed to this sink by the previous report too.
    Ongoing,
    /// Routed to this sink by the previous report and not by this one: fixed (or, for a job
    /// report, no job of the resource was routed this time).
    Resolved,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Ongoing => "ongoing",
            Change::Resolved => "resolved",
        }
    }
}

/// A date as `YYYY-MM-DD` (templates and JSON output).
pub(crate) fn serialize_date<S: serde::Serializer>(
    d: &Option<chrono::NaiveDate>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(&d.format("%Y-%m-%d")),
        None => s.serialize_none(),
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
    /// Next to the previous report of the stream, for the sink whose digest holds it; `None`
    /// when no state is kept (each report read on its own).
    pub change: Option<Change>,
    /// The date of the stream's first report that routed it to the sink (with state).
    #[serde(serialize_with = "serialize_date")]
    pub first_seen: Option<chrono::NaiveDate>,
    /// Days from `first_seen` to this report's date (with state).
    pub days_open: Option<u32>,
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

/// A finding's matchable fields, borrowed: what the router and a digest's counters read. The
/// readers hand one out per report item without allocating (borrowed from the item being
/// read), so the findings that are counted and dropped — most of a large report — never become
/// owned [`Finding`]s; [`Finding::view`] gives one for an owned finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindingView<'a> {
    pub report: ReportTemplate,
    pub framework: Option<&'a str>,
    pub control: Option<&'a str>,
    pub status: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    /// Empty until the router sets it.
    pub environment: &'a str,
    pub resource_type: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub job_id: Option<&'a str>,
    pub index: u64,
}

impl<'a> FindingView<'a> {
    /// A view of an item's matchable fields given in the readers' order (the order of the
    /// report schema's `view_keys`): framework, control, status, account, region, resource
    /// type, resource, job id. The environment stays empty until the router sets it.
    #[inline]
    pub fn from_fields(report: ReportTemplate, fields: [Option<&'a str>; 8], index: u64) -> Self {
        let [
            framework,
            control,
            status,
            account,
            region,
            resource_type,
            resource,
            job_id,
        ] = fields;
        FindingView {
            report,
            framework,
            control,
            status,
            account,
            region,
            environment: "",
            resource_type,
            resource,
            job_id,
            index,
        }
    }

    /// Match field `i` (index into [`MATCH_FIELDS`]).
    #[inline]
    pub fn field_at(&self, i: usize) -> Option<&'a str> {
        match i {
            0 => Some(self.report.name()),
            1 => self.framework,
            2 => self.control,
            3 => self.status,
            4 => self.account,
            5 => self.region,
            6 => Some(self.environment),
            7 => self.resource_type,
            8 => self.resource,
            9 => self.job_id,
            _ => None,
        }
    }

    /// An owned finding with these fields and `fields` as its raw item.
    pub fn to_finding(&self, fields: RawItem) -> Finding {
        let own = |s: Option<&str>| s.map(str::to_owned);
        Finding {
            report: self.report,
            framework: own(self.framework),
            control: own(self.control),
            status: own(self.status),
            account: own(self.account),
            region: own(self.region),
            environment: self.environment.to_owned(),
            resource_type: own(self.resource_type),
            resource: own(self.resource),
            job_id: own(self.job_id),
            index: self.index,
            fields,
            change: None,
            first_seen: None,
            days_open: None,
        }
    }
}

impl Finding {
    /// This finding's matchable fields, borrowed.
    pub fn view(&self) -> FindingView<'_> {
        FindingView {
            report: self.report,
            framework: self.framework.as_deref(),
            control: self.control.as_deref(),
            status: self.status.as_deref(),
            account: self.account.as_deref(),
            region: self.region.as_deref(),
            environment: &self.environment,
            resource_type: self.resource_type.as_deref(),
            resource: self.resource.as_deref(),
            job_id: self.job_id.as_deref(),
            index: self.index,
        }
    }

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
            change: None,
            first_seen: None,
            days_open: None,
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

    /// Past `INDEX_FROM` entries keys are found through an index: the same answers as the scan
    /// (a later insert replaces, a `push_*` duplicate leaves the first visible), across the
    /// switch and after `clear`.
    #[test]
    fn raw_item_index_agrees_with_a_scan_past_the_threshold() {
        let mut raw = RawItem::new();
        for round in 0..2 {
            let mut expected: Vec<(String, String)> = Vec::new();
            for i in 0..300u32 {
                // Keys repeat (every 7th is one seen before); some go in by `push_text_shared`.
                let key = if i % 7 == 3 {
                    format!("k{}", i / 2)
                } else {
                    format!("k{i}")
                };
                let value = format!("v{round}-{i}");
                let at = expected.iter().position(|(k, _)| *k == key);
                if i % 11 == 5 {
                    raw.push_text_shared(Arc::from(key.as_str()), &value, TextKind::Text);
                    if at.is_none() {
                        expected.push((key, value));
                    }
                } else {
                    raw.insert_text(key.clone(), &value);
                    match at {
                        Some(j) => expected[j].1 = value,
                        None => expected.push((key, value)),
                    }
                }
                if i % 37 == 0 || i == 299 {
                    for (k, v) in &expected {
                        assert_eq!(
                            raw.get_str(k),
                            Some(v.as_str()),
                            "round {round}, i {i}, {k}"
                        );
                    }
                    assert_eq!(raw.get_str("absent"), None);
                }
            }
            raw.clear();
            assert!(raw.is_empty() && raw.get_str("k1").is_none());
        }
    }

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

    #[test]
    fn text_fields_read_like_values_and_convert_by_kind() {
        let mut lazy = RawItem::with_capacities(6, 64);
        lazy.push_text_static("accountId", "007", TextKind::Text);
        lazy.push_text_static("backupSizeInBytes", "007", TextKind::Int);
        lazy.push_text_shared(Arc::from("isEncrypted"), "TRUE", TextKind::Bool);
        lazy.push_text_static("deleteAfterDays", "n/a", TextKind::Int);
        lazy.push_text_static("region", "", TextKind::Text);
        lazy.insert_text("odd", "é, \"quoted\"");
        let mut eager = RawItem::new();
        eager.insert("accountId", json!("007"));
        eager.insert("backupSizeInBytes", json!(7));
        eager.insert("isEncrypted", json!(true));
        eager.insert("deleteAfterDays", json!("n/a"));
        eager.insert("region", json!(""));
        eager.insert("odd", json!("é, \"quoted\""));
        assert_eq!(lazy, eager);
        assert_eq!(format!("{lazy:?}"), format!("{eager:?}"));
        assert_eq!(
            serde_json::to_string(&lazy).unwrap(),
            serde_json::to_string(&eager).unwrap()
        );
        assert_eq!(lazy.get_ref("accountId"), Some(FieldRef::Text("007")));
        assert_eq!(
            lazy.get_ref("backupSizeInBytes"),
            Some(FieldRef::Value(&json!(7)))
        );
        assert_eq!(lazy.get_text("backupSizeInBytes").as_deref(), Some("7"));
        assert_eq!(lazy.get_str("deleteAfterDays"), Some("n/a"));
        assert_eq!(lazy.get_str("region"), None);
        assert_eq!(lazy.get("isEncrypted"), Some(&json!(true)));

        // A change after values were made is seen; the text of a replaced field is not.
        let before = lazy.clone();
        lazy.insert_static("accountId", json!(null));
        lazy.insert_text_static("region", "eu-west-1");
        assert_eq!(lazy.get("accountId"), Some(&json!(null)));
        assert_eq!(lazy.get_text("accountId"), None);
        assert_eq!(lazy.get("region"), Some(&json!("eu-west-1")));
        assert_eq!(lazy.len(), 6);
        assert_ne!(lazy, before);
        assert_eq!(before.get_str("accountId"), Some("007"));
    }
}
