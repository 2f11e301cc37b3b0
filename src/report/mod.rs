//! Report readers: one streaming pass over a report's bytes (JSON or CSV, optionally gzip),
//! one [`Finding`] per item.
//!
//! - [`input`]: gzip sniffing (magic bytes, not the name), BOM stripping, format sniffing.
//! - [`json_fast`]: a structural scan of `{"reportItems": [...]}` that reads only the fields
//!   routing needs; it hands over to [`json`], a serde visitor over the same shape (one item
//!   in memory at a time), for everything it does not handle itself, errors included.
//! - [`csv`](mod@csv): columns mapped by normalised header name, one reused record.
//! - [`schema`]: the field tables per template and item → [`Finding`] normalisation.
//! - `limit`: [`ReadLimits`], the size bounds (one item, the whole report) that turn a hostile
//!   report into [`ReportError::TooLarge`] instead of an out-of-memory kill.
//!
//! `docs/report-formats.md` documents the fields and their sources.

mod csv;
mod csv_records;

/// The most fields a report item may have: CSV columns (a record keeps the bounds of this many
/// fields and counts the rest) and JSON item keys. Audit Manager items have about 20; without a
/// bound a 16 MiB line of commas or JSON object of short keys (within the item limit) is
/// millions of fields — gigabytes of names, or a quadratic duplicate-key check.
pub(crate) const MAX_FIELDS: usize = 4096;
mod input;
mod json;
mod json_fast;
mod limit;
mod scan;
pub mod schema;

pub use limit::{MAX_ITEM_BYTES, MAX_TOTAL_BYTES, ReadLimits};

use crate::{Finding, FindingView, ReportTemplate};
use std::fmt;
use std::io::Read;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Csv => "CSV",
        })
    }
}

/// What a reader learnt about a report once it has read it all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportInfo {
    /// `None` only for a report with no items and no usable name hint.
    pub template: Option<ReportTemplate>,
    pub format: Format,
    pub gzip: bool,
    pub items: u64,
}

fn at_line(line: &Option<u64>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

fn at_column(column: &Option<u64>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

fn of_field(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!(", field `{f}`"))
        .unwrap_or_default()
}

/// Why a report could not be read. Every variant names the report (`source_name`) and says
/// where (line/column or item index, field) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    /// The report's byte source failed.
    #[error("{source_name}: read error: {error}")]
    Io {
        source_name: String,
        #[source]
        error: std::io::Error,
    },
    /// No bytes at all, or only whitespace (after gunzip, for a gzip report).
    #[error("{source_name}: empty report: no content{}", if *gzip { " after gunzip" } else { "" })]
    Empty { source_name: String, gzip: bool },
    /// The gzip layer failed: corrupt or truncated compressed data.
    #[error("{source_name}: corrupt or truncated gzip data: {error}")]
    Gzip {
        source_name: String,
        #[source]
        error: std::io::Error,
    },
    /// Malformed JSON or CSV (syntax, truncation, invalid UTF-8, wrong JSON type).
    #[error(
        "{source_name}: invalid {format} at line {line}{}: {message}",
        at_column(column)
    )]
    Parse {
        source_name: String,
        format: Format,
        line: u64,
        column: Option<u64>,
        message: String,
    },
    /// Well-formed, but not an Audit Manager report of a known template.
    #[error("{source_name}: unknown report shape: {message}")]
    UnknownShape {
        source_name: String,
        message: String,
    },
    /// The CSV header lacks a column a finding needs.
    #[error(
        "{source_name}: CSV header has no \"{header}\" column (field `{key}`), required for {template}"
    )]
    MissingColumn {
        source_name: String,
        template: ReportTemplate,
        key: &'static str,
        header: &'static str,
    },
    /// A JSON item lacks a key a finding needs.
    #[error("{source_name}: item {index}: missing required key `{key}` for {template}")]
    MissingKey {
        source_name: String,
        template: ReportTemplate,
        index: u64,
        key: &'static str,
    },
    /// One item (JSON array element, CSV record) is bad: wrong type, wrong field count,
    /// invalid UTF-8.
    #[error(
        "{source_name}: item {index}{}{}: {message}",
        at_line(line),
        of_field(field)
    )]
    Item {
        source_name: String,
        /// 0-based item index (CSV: record number after the header).
        index: u64,
        /// 1-based line where the item starts, when known (CSV).
        line: Option<u64>,
        field: Option<String>,
        message: String,
    },
    /// A [`ReadLimits`] bound was hit: one item (or the blank text before the content) is
    /// larger than `max_item_bytes`, or the report is larger than `max_total_bytes`.
    #[error("{source_name}: {what} is larger than the {} limit ({setting} = {limit}); {why}", limit::human(*limit))]
    TooLarge {
        source_name: String,
        /// `item 3`, `the report (decoded)`, `the blank text before the first item`.
        what: String,
        /// The [`ReadLimits`] field that was exceeded.
        setting: &'static str,
        limit: u64,
        why: &'static str,
    },
}

/// The template named by a report object's file name
/// (`<TEMPLATE>_<plan>_<start>_<end>.csv`), if any. Only the last path segment counts; case is
/// ignored; `MALWARE_JOB_REPORT` names the scan job report.
pub fn template_from_file_name(name: &str) -> Option<ReportTemplate> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let upper = file.to_ascii_uppercase();
    const NAMES: [(&str, ReportTemplate); 7] = [
        (
            "CONTROL_COMPLIANCE_REPORT",
            ReportTemplate::ControlCompliance,
        ),
        (
            "RESOURCE_COMPLIANCE_REPORT",
            ReportTemplate::ResourceCompliance,
        ),
        ("BACKUP_JOB_REPORT", ReportTemplate::BackupJob),
        ("COPY_JOB_REPORT", ReportTemplate::CopyJob),
        ("RESTORE_JOB_REPORT", ReportTemplate::RestoreJob),
        ("SCAN_JOB_REPORT", ReportTemplate::ScanJob),
        ("MALWARE_JOB_REPORT", ReportTemplate::ScanJob),
    ];
    NAMES.into_iter().find_map(|(prefix, t)| {
        let rest = upper.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with(['_', '.'])).then_some(t)
    })
}

/// Reads a report, calling `each` for every item in order. `source_name` names the report in
/// errors; `hint` is the template from the object's file name, if any.
///
/// The format (JSON or CSV) and gzip compression are sniffed from the content; the template is
/// detected from the content too (first JSON item's keys, CSV header), the hint serving when
/// the content cannot tell (no items, or no identifying key — then the hint's required fields
/// are checked). Content wins when the two disagree (logged as a warning).
pub fn read_report<R: Read>(
    input: R,
    source_name: &str,
    hint: Option<ReportTemplate>,
    each: &mut dyn FnMut(Finding),
) -> Result<ReportInfo, ReportError> {
    read_report_with(input, source_name, hint, &ReadLimits::default(), each)
}

/// As [`read_report`], with explicit size [`ReadLimits`] (`read_report` uses the defaults:
/// 16 MiB per item, 10 GiB per report).
pub fn read_report_with<R: Read>(
    input: R,
    source_name: &str,
    hint: Option<ReportTemplate>,
    limits: &ReadLimits,
    each: &mut dyn FnMut(Finding),
) -> Result<ReportInfo, ReportError> {
    read_report_items(input, source_name, hint, limits, &mut |item| {
        each(item.to_finding())
    })
}

/// One report item as a reader hands it on: its matchable fields borrowed from the reader's
/// buffers, valid for the call only. [`to_finding`](Self::to_finding) makes the owned
/// [`Finding`] (every raw field copied) for the few that are kept.
pub struct Item<'a> {
    /// Validated like a [`Finding`]'s fields (types checked, empty strings as `None`);
    /// `environment` is empty.
    pub view: FindingView<'a>,
    /// Builds the owned finding of the item whose view it is given.
    make: &'a dyn Fn(&FindingView<'_>) -> Finding,
}

impl Item<'_> {
    /// The owned finding (`environment` empty, as the reader knows none).
    pub fn to_finding(&self) -> Finding {
        (self.make)(&self.view)
    }
}

/// As [`read_report_with`], handing each item on borrowed: the hot path of the pipeline, where
/// most items are matched and counted without ever being copied.
pub fn read_report_items<R: Read>(
    input: R,
    source_name: &str,
    hint: Option<ReportTemplate>,
    limits: &ReadLimits,
    each: &mut dyn FnMut(&Item<'_>),
) -> Result<ReportInfo, ReportError> {
    read_items(input, source_name, hint, limits, false, each)
}

/// [`read_report_with`] through the reference readers only: the serde JSON reader and the CSV
/// reader's field-at-a-time record parser, without the fast paths that read reports
/// normally. The differential tests and fuzz targets compare the two; not for other use.
#[doc(hidden)]
pub fn read_report_reference<R: Read>(
    input: R,
    source_name: &str,
    hint: Option<ReportTemplate>,
    limits: &ReadLimits,
    each: &mut dyn FnMut(Finding),
) -> Result<ReportInfo, ReportError> {
    read_items(input, source_name, hint, limits, true, &mut |item| {
        each(item.to_finding())
    })
}

fn read_items<R: Read>(
    input: R,
    source_name: &str,
    hint: Option<ReportTemplate>,
    limits: &ReadLimits,
    reference: bool,
    each: &mut dyn FnMut(&Item<'_>),
) -> Result<ReportInfo, ReportError> {
    let mut prepared = match input::prepare(input, limits.max_item_bytes) {
        Ok(p) => p,
        Err(input::PrepareError::Empty { gzip }) => {
            return Err(ReportError::Empty {
                source_name: source_name.to_string(),
                gzip,
            });
        }
        Err(input::PrepareError::TooMuchBlank { gzip }) => {
            return Err(ReportError::TooLarge {
                source_name: source_name.to_string(),
                what: format!(
                    "the blank text before the first item{}",
                    if gzip { " (after gunzip)" } else { "" }
                ),
                setting: "max_item_bytes",
                limit: limits.max_item_bytes,
                why: "the report is nothing but whitespace so far",
            });
        }
        Err(input::PrepareError::Io { origin, error }) => {
            return Err(io_error(source_name, origin, error));
        }
    };
    let meter = limit::Meter::default();
    let reader = std::mem::replace(&mut prepared.reader, Box::new(std::io::empty()));
    prepared.reader = Box::new(limit::Limited {
        inner: reader,
        meter: meter.clone(),
        limits: *limits,
    });
    let mut ctx = Ctx {
        source_name,
        hint,
        each,
        items: 0,
        meter,
        reference,
    };
    let (format, gzip) = (prepared.format, prepared.gzip);
    let result = match format {
        Format::Json => json::read(&mut prepared, &mut ctx),
        Format::Csv => csv::read(&mut prepared, &mut ctx),
    };
    if result.is_err()
        && let Some(exceeded) = ctx.meter.exceeded()
    {
        return Err(too_large(&ctx, format, exceeded, limits));
    }
    let template = match result {
        Ok(t) => t,
        Err(e) if gzip && !matches!(e, ReportError::Io { .. } | ReportError::Gzip { .. }) => {
            return Err(gzip_cause(&mut prepared, source_name).unwrap_or(e));
        }
        Err(e) => return Err(e),
    };
    Ok(ReportInfo {
        template,
        format,
        gzip,
        items: ctx.items,
    })
}

/// State shared by the format readers.
struct Ctx<'a> {
    source_name: &'a str,
    hint: Option<ReportTemplate>,
    each: &'a mut dyn FnMut(&Item<'_>),
    items: u64,
    /// Counts decoded bytes; the format readers mark where each item starts.
    meter: limit::Meter,
    /// Read with the reference readers only (see [`read_report_reference`]).
    reference: bool,
}

/// The error for a [`ReadLimits`] bound hit while reading item `ctx.items`.
fn too_large(
    ctx: &Ctx<'_>,
    format: Format,
    exceeded: limit::Exceeded,
    limits: &ReadLimits,
) -> ReportError {
    let source_name = ctx.source_name.to_string();
    match exceeded {
        limit::Exceeded::Item => ReportError::TooLarge {
            source_name,
            what: match ctx.meter.region() {
                limit::Region::Item { line: Some(line) } => {
                    format!("item {} (the {format} record at line {line})", ctx.items)
                }
                limit::Region::Item { line: None } => format!("item {}", ctx.items),
                limit::Region::Header => "the CSV header".to_string(),
                limit::Region::TopLevel => {
                    "a top-level JSON key or value outside \"reportItems\"".to_string()
                }
            },
            setting: "max_item_bytes",
            limit: limits.max_item_bytes,
            why: "an Audit Manager item is a few KiB; the report is corrupt or not a report",
        },
        limit::Exceeded::Total => ReportError::TooLarge {
            source_name,
            what: format!(
                "the report (decoded, {} items read before the limit)",
                ctx.items
            ),
            setting: "max_total_bytes",
            limit: limits.max_total_bytes.unwrap_or(0),
            why: "the whole report is rejected; raise the limit to read it",
        },
    }
}

impl Ctx<'_> {
    /// The schema to read with: the detected one (warning if the hint differs), else the hint's.
    fn choose(&self, detected: Option<&'static schema::Schema>) -> Option<&'static schema::Schema> {
        match (detected, self.hint) {
            (Some(d), Some(h)) if d.template != h => {
                tracing::warn!(
                    source = self.source_name,
                    file_name_says = %h,
                    content_says = %d.template,
                    "report content and file name disagree; using the content's template"
                );
                Some(d)
            }
            (Some(d), _) => Some(d),
            (None, Some(h)) => Some(schema::schema(h)),
            (None, None) => None,
        }
    }

    fn err_unknown_shape(&self, message: String) -> ReportError {
        ReportError::UnknownShape {
            source_name: self.source_name.to_string(),
            message,
        }
    }
}

/// How much of a gzip report is decompressed after a content error to look for the real cause.
const GZIP_CHECK_LIMIT: u64 = 64 * 1024 * 1024;

/// Corrupt deflate data can decode into garbage that the parser rejects before the gzip
/// checksum is reached. After a content error in a gzip report, decompress (up to
/// [`GZIP_CHECK_LIMIT`]) what is left: if the gzip layer fails, that is the real error.
fn gzip_cause(prepared: &mut input::Prepared<'_>, source_name: &str) -> Option<ReportError> {
    let mut rest = (&mut prepared.reader).take(GZIP_CHECK_LIMIT);
    match std::io::copy(&mut rest, &mut std::io::sink()) {
        Err(error) => Some(io_error(source_name, prepared.origin.of_error(true), error)),
        Ok(_) => None,
    }
}

fn io_error(source_name: &str, origin: input::ErrorOrigin, error: std::io::Error) -> ReportError {
    let source_name = source_name.to_string();
    match origin {
        input::ErrorOrigin::Gzip => ReportError::Gzip { source_name, error },
        input::ErrorOrigin::Input => ReportError::Io { source_name, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_from_file_names() {
        let t = template_from_file_name;
        assert_eq!(
            t(
                "reports/Backup/111111111111/us-east-1/2026/11/25/plan/BACKUP_JOB_REPORT_plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.csv"
            ),
            Some(ReportTemplate::BackupJob)
        );
        assert_eq!(
            t("RESOURCE_COMPLIANCE_REPORT.json"),
            Some(ReportTemplate::ResourceCompliance)
        );
        assert_eq!(
            t("malware_job_report_x.csv.gz"),
            Some(ReportTemplate::ScanJob)
        );
        assert_eq!(t("SCAN_JOB_REPORT"), Some(ReportTemplate::ScanJob));
        assert_eq!(t("CONTROL_COMPLIANCE_REPORTS.csv"), None);
        assert_eq!(t("BACKUP_JOB_REPORT_x/other.csv"), None);
        assert_eq!(t("report.csv"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn errors_name_source_and_position() {
        let e = ReportError::Item {
            source_name: "r.csv".into(),
            index: 3,
            line: Some(5),
            field: Some("Resource ARN".into()),
            message: "invalid UTF-8".into(),
        };
        assert_eq!(
            e.to_string(),
            "r.csv: item 3 (line 5), field `Resource ARN`: invalid UTF-8"
        );
        let e = ReportError::Parse {
            source_name: "r.json".into(),
            format: Format::Json,
            line: 2,
            column: Some(7),
            message: "expected value".into(),
        };
        assert_eq!(
            e.to_string(),
            "r.json: invalid JSON at line 2, column 7: expected value"
        );
    }
}
