//! The CSV reader: columns are mapped to canonical keys once, from the header, by normalised
//! name (case, spacing and punctuation ignored), never by position; then one reused
//! `ByteRecord` per row.

use super::input::Prepared;
use super::limit::Region;
use super::schema::{self, ItemProblem, Kind};
use super::{Ctx, Format, ReportError};
use crate::{RawItem, ReportTemplate};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

const BUFFER: usize = 64 * 1024;

/// Counts `"` bytes as they stream past. In RFC 4180 CSV every quote is paired (opening and
/// closing, or doubled inside a field), so an odd count at the end means the input stopped
/// inside a quoted field: a truncated report, which the `csv` crate itself accepts silently.
struct QuoteCounter<R> {
    inner: R,
    quotes: u64,
}

impl<R: Read> Read for QuoteCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.quotes += buf[..n].iter().filter(|&&b| b == b'"').count() as u64;
        Ok(n)
    }
}

/// What to do with one column.
enum Column {
    Known(&'static str, Kind),
    Other(Arc<str>),
    /// A later column with the same key replaces this one.
    Skip,
}

pub(super) fn read(
    p: &mut Prepared<'_>,
    ctx: &mut Ctx<'_>,
) -> Result<Option<ReportTemplate>, ReportError> {
    let (origin, gzip) = (p.origin.clone(), p.gzip);
    let source_name = ctx.source_name;
    let csv_err = |e: csv::Error| csv_error(source_name, e, origin.of_error(gzip));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(BUFFER)
        .from_reader(QuoteCounter {
            inner: &mut p.reader,
            quotes: 0,
        });

    // Map the header to columns.
    ctx.meter.mark(Region::Header);
    let header = reader.byte_headers().map_err(csv_err)?.clone();
    let mut names = Vec::with_capacity(header.len());
    for (i, h) in header.iter().enumerate() {
        let name = std::str::from_utf8(h).map_err(|u| ReportError::Parse {
            source_name: source_name.to_string(),
            format: Format::Csv,
            line: 1,
            column: None,
            message: format!(
                "header column {} is not valid UTF-8 (invalid byte at offset {} of the name)",
                i + 1,
                u.valid_up_to()
            ),
        })?;
        names.push(name.to_string());
    }
    let mut columns = Vec::with_capacity(names.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let (key, column) = match schema::key_for_header(name) {
            Some(k) => {
                let kind = schema::field_by_key(k).map_or(Kind::Text, |f| f.kind);
                (k.to_string(), Column::Known(k, kind))
            }
            None => {
                let mut k = schema::camel_case(name);
                if k.is_empty() {
                    k = format!("column{}", i + 1);
                }
                (k.clone(), Column::Other(Arc::from(k)))
            }
        };
        if let Some(earlier) = seen.insert(key.clone(), i) {
            tracing::warn!(
                source = source_name,
                column = %name,
                key = %key,
                earlier = %names[earlier],
                "two CSV columns map to the same field; the later one wins"
            );
            columns[earlier] = Column::Skip;
        }
        columns.push(column);
    }

    let detected = schema::detect(|k| seen.contains_key(k));
    let Some(schema) = ctx.choose(detected) else {
        return Err(ctx.err_unknown_shape(format!(
            "the CSV header matches no report template: it has none of the columns {} (header: {})",
            schema::DETECT_ORDER
                .iter()
                .map(|s| format!(
                    "\"{}\"",
                    schema::field_by_key(s.marker).map_or(s.marker, |f| f.header)
                ))
                .collect::<Vec<_>>()
                .join(", "),
            names
                .iter()
                .take(8)
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(",")
                + if names.len() > 8 { ",…" } else { "" }
        )));
    };
    if let Some(key) = schema.first_missing(|k| seen.contains_key(k)) {
        return Err(ReportError::MissingColumn {
            source_name: source_name.to_string(),
            template: schema.template,
            key,
            header: schema::field_by_key(key).map_or(key, |f| f.header),
        });
    }

    // One reused record per row.
    let mut record = csv::ByteRecord::new();
    loop {
        ctx.meter.mark(Region::Item {
            line: Some(reader.position().line()),
        });
        if !reader.read_byte_record(&mut record).map_err(csv_err)? {
            break;
        }
        let index = ctx.items;
        let line = record.position().map(|p| p.line());
        let mut raw = RawItem::with_capacity(columns.len() + 2);
        for ((column, bytes), name) in columns.iter().zip(record.iter()).zip(&names) {
            let text = std::str::from_utf8(bytes).map_err(|u| ReportError::Item {
                source_name: source_name.to_string(),
                index,
                line,
                field: Some(name.clone()),
                message: format!(
                    "invalid UTF-8 at byte {} of the value (the record starts at byte {} of the report)",
                    u.valid_up_to(),
                    record.position().map_or(0, |p| p.byte())
                ),
            })?;
            match column {
                Column::Known(k, kind) => {
                    raw.push_distinct_static(k, schema::csv_value(*kind, text))
                }
                Column::Other(k) => {
                    raw.push_distinct_shared(k.clone(), Value::String(text.to_owned()))
                }
                Column::Skip => {}
            }
        }
        match schema.finding(raw, index, false) {
            Ok(finding) => {
                (ctx.each)(finding);
                ctx.items += 1;
            }
            Err(problem) => {
                let (field, message) = match problem {
                    ItemProblem::Missing(k) => (k, "missing".to_string()),
                    ItemProblem::WrongType { key, found } => {
                        (key, format!("expected a string, found {found}"))
                    }
                };
                return Err(ReportError::Item {
                    source_name: source_name.to_string(),
                    index,
                    line,
                    field: Some(field.to_string()),
                    message,
                });
            }
        }
    }
    if reader.get_ref().quotes % 2 == 1 {
        return Err(ReportError::Parse {
            source_name: source_name.to_string(),
            format: Format::Csv,
            line: reader.position().line(),
            column: None,
            message: "unterminated quoted field at end of input, the report is truncated".into(),
        });
    }
    Ok(Some(schema.template))
}

fn csv_error(source_name: &str, e: csv::Error, origin: super::input::ErrorOrigin) -> ReportError {
    let line = e.position().map(|p| p.line());
    let record = e.position().map(|p| p.record());
    let text = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(error) => super::io_error(source_name, origin, error),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ReportError::Item {
            source_name: source_name.to_string(),
            // The header is record 0.
            index: record.unwrap_or(1).saturating_sub(1),
            line,
            field: None,
            message: format!("expected {expected_len} fields (as in the header), found {len}"),
        },
        _ => ReportError::Parse {
            source_name: source_name.to_string(),
            format: Format::Csv,
            line: line.unwrap_or(0),
            column: None,
            message: text,
        },
    }
}
