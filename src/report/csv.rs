//! The CSV reader: columns are mapped to canonical keys once, from the header, by normalised
//! name (case, spacing and punctuation ignored), never by position; then the rows, split by
//! [`super::csv_records`].
//!
//! Each row is read in place first (the fast path: fields as ranges of the reader's buffer,
//! UTF-8 checked once per buffer refill, the view's fields borrowed, nothing copied). A row the
//! fast path does not take as it is — another CSV form, the wrong field count, invalid UTF-8
//! — is read again by the reference path (the copying parser and the checks that name the
//! problem), so every error reads as before.

use super::csv_records::{InPlace, MAX_FIELDS, Record, Records, Spans, undouble};
use super::input::Prepared;
use super::limit::Region;
use super::schema::{self, Kind};
use super::{Ctx, Format, ReportError};
use crate::{FindingView, RawItem, ReportTemplate};
use std::collections::HashMap;
use std::sync::Arc;

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
    let io_err = |e: std::io::Error| super::io_error(source_name, origin.of_error(gzip), e);
    let mut reader = Records::new(&mut p.reader);

    // Map the header to columns.
    ctx.meter.mark(Region::Header);
    let mut header = Record::default();
    if reader.read(&mut header).map_err(io_err)? && reader.unterminated() {
        return Err(unterminated(source_name, reader.line()));
    }
    if header.len() > MAX_FIELDS {
        return Err(ReportError::Parse {
            source_name: source_name.to_string(),
            format: Format::Csv,
            line: header.line(),
            column: None,
            message: format!(
                "the CSV header has {} columns; at most {MAX_FIELDS} are read (an Audit Manager \
                 report has about 20)",
                header.len()
            ),
        });
    }
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

    // The columns of the matchable fields (the last column of a key wins, as for the item).
    let view_columns = schema
        .view_keys()
        .map(|k| k.and_then(|k| seen.get(k).copied()));

    // Column → its slot in `view_columns` (only the column that wins its key has one).
    let mut slot_of: Vec<Option<usize>> = vec![None; names.len()];
    for (slot, column) in view_columns.iter().enumerate() {
        if let Some(c) = column.and_then(|c| slot_of.get_mut(c)) {
            *c = Some(slot);
        }
    }

    // The view's columns, with the slot each fills.
    let view_cols: Vec<(usize, usize)> = view_columns
        .iter()
        .enumerate()
        .filter_map(|(slot, c)| c.map(|c| (c, slot)))
        .collect();

    // One reused record per row for the reference path; its UTF-8 is checked once for the
    // whole record, and its fields are copied into the item's one text buffer (values are
    // made only if asked for).
    let mut record = Record::default();
    let mut spans = Spans::default();
    let mut decoded = String::new();
    loop {
        ctx.meter.mark(Region::Item {
            line: Some(reader.line()),
        });
        if !ctx.reference {
            match reader.read_in_place(&mut spans).map_err(io_err)? {
                InPlace::End => break,
                InPlace::Record => {
                    if fast_row(
                        reader.text(&spans),
                        &spans,
                        header.len(),
                        &view_cols,
                        &columns,
                        schema,
                        ctx,
                        &mut decoded,
                    ) {
                        continue;
                    }
                    reader.rewind(&spans);
                }
                InPlace::Other => {}
            }
        }
        if !reader.read(&mut record).map_err(io_err)? {
            break;
        }
        let index = ctx.items;
        if reader.unterminated() {
            return Err(unterminated(source_name, reader.line()));
        }
        if record.len() != header.len() {
            return Err(ReportError::Item {
                source_name: source_name.to_string(),
                index,
                line: Some(record.line()),
                field: None,
                message: format!(
                    "expected {} fields (as in the header), found {}",
                    header.len(),
                    record.len()
                ),
            });
        }
        let line = Some(record.line());
        let bad_utf8 = |record: &Record| -> ReportError {
            let at = record.byte();
            let bad = record
                .iter()
                .enumerate()
                .find_map(|(i, bytes)| std::str::from_utf8(bytes).err().map(|e| (i, e)));
            let (field, message) = match bad {
                Some((i, e)) => (
                    names.get(i).cloned(),
                    format!(
                        "invalid UTF-8 at byte {} of the value (the record starts at byte {at} of the report)",
                        e.valid_up_to()
                    ),
                ),
                // Not reached: a record's bytes are its fields' bytes, end to end.
                None => (
                    None,
                    format!("invalid UTF-8 (the record starts at byte {at} of the report)"),
                ),
            };
            ReportError::Item {
                source_name: source_name.to_string(),
                index,
                line,
                field,
                message,
            }
        };
        // simdutf8: the whole record checked with SIMD, ~2× std's check on these records
        // (mostly ASCII); the error path finds the field with std's detailed error.
        let all = simdutf8::basic::from_utf8(record.as_slice()).map_err(|_| bad_utf8(&record))?;
        // One pass over the fields: the matchable ones borrowed from `all`, and each field
        // boundary checked — a field splitting a character between its neighbours is invalid
        // on its own, though the record is not (every record has the header's field count,
        // checked above).
        let mut slots: [Option<&str>; 8] = [None; 8];
        for (i, range) in record.ranges().enumerate() {
            if !all.is_char_boundary(range.start) {
                return Err(bad_utf8(&record));
            }
            if let Some(&Some(slot)) = slot_of.get(i)
                && !range.is_empty()
            {
                slots[slot] = all.get(range);
            }
        }
        let view = FindingView::from_fields(schema.template, slots, index);
        // Only for the findings that are kept: every field copied into the item's one text
        // buffer (values are made only if asked for).
        let make = |view: &FindingView<'_>| {
            let mut raw = RawItem::with_capacities(columns.len() + 2, all.len());
            for (i, column) in columns.iter().enumerate() {
                let text = record.range(i).and_then(|r| all.get(r)).unwrap_or_default();
                match column {
                    Column::Known(k, kind) => raw.push_text_static(k, text, *kind),
                    Column::Other(k) => raw.push_text_shared(k.clone(), text, Kind::Text),
                    Column::Skip => {}
                }
            }
            schema.finding_from(view, raw)
        };
        (ctx.each)(&super::Item { view, make: &make });
        ctx.items += 1;
    }
    Ok(Some(schema.template))
}

/// Hands on a row read in place, if it is one the fast path takes as it is: the header's
/// field count and valid UTF-8 (`false`: the reference path reads it again and names the
/// problem). The bytes of the record, quotes and delimiters included, are valid UTF-8
/// exactly when every field's content is valid on its own (those are ASCII), which is what
/// the reference path checks.
#[allow(clippy::too_many_arguments)]
fn fast_row(
    text: Option<&str>,
    spans: &Spans,
    fields: usize,
    view_cols: &[(usize, usize)],
    columns: &[Column],
    schema: &'static schema::Schema,
    ctx: &mut Ctx<'_>,
    decoded: &mut String,
) -> bool {
    if spans.len() != fields {
        return false;
    }
    let start = spans.raw().start;
    let Some(all) = text else {
        return false;
    };
    // Field `i`'s content, still with its doubled quotes if it has them (a field lies in its
    // record: `get` never fails, and costs no panic if it did).
    let content = |i: usize| -> Option<(&str, bool)> {
        let (s, e, doubled) = spans.field(i)?;
        // SAFETY: a field's content starts at the record's first byte or right after an ASCII
        // `"`, `,`, CR or LF, and ends at the record's end or right before one (the splitter's
        // spans, `csv_records::Records::read_in_place`); `all` is the record.
        let text = unsafe {
            super::scan::ascii_bounded(all, s.wrapping_sub(start)..e.wrapping_sub(start))
        }?;
        Some((text, doubled))
    };
    let mut slots: [Option<&str>; 8] = [None; 8];
    let mut doubled = false;
    for &(col, slot) in view_cols {
        match content(col) {
            Some(("", _)) | None => {}
            Some((text, false)) => slots[slot] = Some(text),
            Some((_, true)) => doubled = true,
        }
    }
    // A view field with doubled quotes (rare): decoded into one buffer, borrowed.
    if doubled {
        decoded.clear();
        let mut ranges = [const { None }; 8];
        for &(col, slot) in view_cols {
            if let Some((text, true)) = content(col) {
                let v = undouble(text);
                ranges[slot] = Some(decoded.len()..decoded.len() + v.len());
                decoded.push_str(&v);
            }
        }
        for (slot, range) in ranges.into_iter().enumerate() {
            if let Some(r) = range {
                slots[slot] = decoded.get(r);
            }
        }
    }
    // Only for the findings that are kept: every field copied into the item's one text
    // buffer (values are made only if asked for).
    let make = |view: &FindingView<'_>| {
        let mut raw = RawItem::with_capacities(columns.len() + 2, all.len());
        for (i, column) in columns.iter().enumerate() {
            let (text, doubled) = content(i).unwrap_or_default();
            let owned;
            let text = if doubled {
                owned = undouble(text);
                owned.as_str()
            } else {
                text
            };
            match column {
                Column::Known(k, kind) => raw.push_text_static(k, text, *kind),
                Column::Other(k) => raw.push_text_shared(k.clone(), text, Kind::Text),
                Column::Skip => {}
            }
        }
        schema.finding_from(view, raw)
    };
    let item = super::Item {
        view: FindingView::from_fields(schema.template, slots, ctx.items),
        make: &make,
    };
    (ctx.each)(&item);
    ctx.items += 1;
    true
}

/// The input ended inside a quoted field: the report was cut off.
fn unterminated(source_name: &str, line: u64) -> ReportError {
    ReportError::Parse {
        source_name: source_name.to_string(),
        format: Format::Csv,
        line,
        column: None,
        message: "unterminated quoted field at end of input, the report is truncated".into(),
    }
}

#[cfg(test)]
mod tests {
    use crate::report::{ReportError, read_report};

    use crate::{Finding, ReportTemplate};

    fn read(bytes: &[u8]) -> Result<Vec<Finding>, ReportError> {
        let mut out = Vec::new();
        read_report(bytes, "t.csv", None, &mut |f| out.push(f))?;
        Ok(out)
    }

    #[test]
    fn a_character_split_between_two_fields_is_invalid_utf8_of_the_first() {
        // "\xc3" ends one field and "\xa9" starts the next: the record's bytes end to end are a
        // valid "é", but neither field is valid on its own.
        let e = read(
            b"\"Account ID\",\"Region\",\"Copy Job ID\",\"Job Status\"\n1,\"r\xc3\",\"\xa9c\",OK\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: item 0 (line 2), field `Region`: invalid UTF-8 at byte 1 of the value (the record starts at byte 49 of the report)"
        );
    }

    #[test]
    fn typed_columns_become_values_only_when_asked_and_text_stays_exact() {
        let f = read(
            b"Account ID,Region,Backup Job ID,Job Status,Backup Size in Bytes,Is Encrypted,Org Path\n\
              007,r,j,FAILED,0042,TRUE,\"a, \"\"b\"\"\"\n",
        )
        .unwrap();
        assert_eq!(f[0].report, ReportTemplate::BackupJob);
        assert_eq!(f[0].account.as_deref(), Some("007"));
        let raw = &f[0].fields;
        assert_eq!(raw.get("backupSizeInBytes"), Some(&serde_json::json!(42)));
        assert_eq!(raw.get("isEncrypted"), Some(&serde_json::json!(true)));
        assert_eq!(raw.get_str("orgPath"), Some("a, \"b\""));
        assert_eq!(
            serde_json::to_value(raw).unwrap(),
            serde_json::json!({"accountId": "007", "region": "r", "backupJobId": "j",
                "jobStatus": "FAILED", "backupSizeInBytes": 42, "isEncrypted": true,
                "orgPath": "a, \"b\""})
        );
    }
}
