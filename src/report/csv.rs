//! The CSV reader: columns are mapped to canonical keys once, from the header, by normalised
//! name (case, spacing and punctuation ignored), never by position; then one reused
//! `ByteRecord` per row.

use super::input::Prepared;
use super::limit::Region;
use super::schema::{self, Kind};
use super::{Ctx, Format, ReportError};
use crate::{FindingView, RawItem, ReportTemplate};
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
        self.quotes += count_quotes(&buf[..n]);
        Ok(n)
    }
}

/// The `"` bytes in `bytes`. Summed in `u8` over blocks of 255 (a block's count cannot wrap),
/// which compiles to 16 or 32 byte comparisons per instruction; counting straight into a `u64`
/// widens every byte and cost more than the CSV parse itself.
fn count_quotes(bytes: &[u8]) -> u64 {
    bytes
        .chunks(255)
        .map(|block| {
            let n = block
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'"')));
            u64::from(n)
        })
        .sum()
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

    // One reused record per row; its UTF-8 is checked once for the whole record, and its
    // fields are copied into the item's one text buffer (values are made only if asked for).
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
        let bad_utf8 = |record: &csv::ByteRecord| -> ReportError {
            let at = record.position().map_or(0, |p| p.byte());
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
        // on its own, though the record is not (`flexible(false)`: every record has the
        // header's field count).
        let mut slots: [Option<&str>; 8] = [None; 8];
        let mut start = 0;
        for (i, bytes) in record.iter().enumerate() {
            if !all.is_char_boundary(start) {
                return Err(bad_utf8(&record));
            }
            let end = start + bytes.len();
            if let Some(&Some(slot)) = slot_of.get(i)
                && !bytes.is_empty()
            {
                slots[slot] = all.get(start..end);
            }
            start = end;
        }
        let [
            framework,
            control,
            status,
            account,
            region,
            resource_type,
            resource,
            job_id,
        ] = slots;
        let view = FindingView {
            report: schema.template,
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
        };
        // Only for the findings that are kept: every field copied into the item's one text
        // buffer (values are made only if asked for).
        let make = || {
            let mut raw = RawItem::with_capacities(columns.len() + 2, all.len());
            for (i, column) in columns.iter().enumerate() {
                let text = record.range(i).and_then(|r| all.get(r)).unwrap_or_default();
                match column {
                    Column::Known(k, kind) => raw.push_text_static(k, text, *kind),
                    Column::Other(k) => raw.push_text_shared(k.clone(), text, Kind::Text),
                    Column::Skip => {}
                }
            }
            schema.finding_from(&view, raw)
        };
        (ctx.each)(&super::Item { view, make: &make });
        ctx.items += 1;
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

#[cfg(test)]
mod tests {
    use crate::report::{ReportError, read_report};

    #[test]
    fn quote_count_is_exact_across_block_boundaries() {
        for len in [0, 1, 254, 255, 256, 510, 511, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'"' } else { b'a' })
                .collect();
            let expected = bytes.iter().filter(|&&b| b == b'"').count() as u64;
            assert_eq!(super::count_quotes(&bytes), expected, "{len}");
        }
        assert_eq!(super::count_quotes(&[b'"'; 1000]), 1000);
    }
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
