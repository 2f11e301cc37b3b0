//! `audit-router-gen`: writes realistic AWS Backup Audit Manager reports of any size, in every
//! template and format, deterministically from a seed, streaming (one item in memory at a time);
//! and `rules.toml` files with any number of rules, for the rule-scale benchmark.
//!
//! The same options and seed always give the same bytes (the PRNG is this crate's own, so a
//! dependency upgrade cannot change benchmark inputs). Sizes count the *uncompressed* report
//! bytes, also with `gzip`: the router's work grows with the report, not with its compression.

mod content;
mod rng;
pub mod rules;
mod spec;

pub use audit_router_sink_api::ReportTemplate;
pub use rng::Rng;
pub use rules::{RulesOptions, RulesSummary, write_rules};

use content::{Ctx, Kind, Row};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{self, BufWriter, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// When to stop writing items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    /// Exactly this many items.
    Items(u64),
    /// Items until the uncompressed report reaches this many bytes (it ends within one item
    /// past it).
    Bytes(u64),
}

#[derive(Clone, Debug)]
pub struct GenOptions {
    pub template: ReportTemplate,
    pub format: Format,
    pub gzip: bool,
    pub amount: Amount,
    pub seed: u64,
    /// Compliance reports: the probability that an item is NON_COMPLIANT.
    pub non_compliant: f64,
    /// Job reports: the probability that a job failed (FAILED/ABORTED/EXPIRED, as the template
    /// allows) with a status message where the template has that column.
    pub failed: f64,
    /// Account IDs, see [`account_ids`].
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// JSON on one line instead of the samples' two-space indentation.
    pub compact: bool,
}

pub const DEFAULT_REGIONS: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
];

impl GenOptions {
    /// The defaults: 5 accounts, 5 regions, 30 % non-compliant, 10 % failed jobs, seed 42.
    pub fn new(template: ReportTemplate, format: Format, amount: Amount) -> Self {
        GenOptions {
            template,
            format,
            gzip: false,
            amount,
            seed: 42,
            non_compliant: 0.3,
            failed: 0.1,
            accounts: account_ids(5),
            regions: DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect(),
            compact: false,
        }
    }

    /// Checks the options, naming the offending one.
    pub fn validate(&self) -> Result<(), GenError> {
        check_fraction("non-compliant", self.non_compliant)?;
        check_fraction("failed", self.failed)?;
        if self.accounts.is_empty() {
            return Err(invalid("accounts", "expected at least one account"));
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    "accounts",
                    format!("item {i} ({a:?}): expected a 12-digit account ID"),
                ));
            }
        }
        validate_regions(&self.regions)
    }
}

pub(crate) fn validate_regions(regions: &[String]) -> Result<(), GenError> {
    if regions.is_empty() {
        return Err(invalid("regions", "expected at least one region"));
    }
    for (i, r) in regions.iter().enumerate() {
        let ok = !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && r.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        if !ok {
            return Err(invalid(
                "regions",
                format!("item {i} ({r:?}): expected a region name like \"eu-west-1\""),
            ));
        }
    }
    Ok(())
}

fn check_fraction(name: &'static str, v: f64) -> Result<(), GenError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("{v}: expected a fraction between 0 and 1"),
        ))
    }
}

fn invalid(option: &'static str, message: impl Into<String>) -> GenError {
    GenError::InvalidOption {
        option,
        message: message.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("--{option}: {message}")]
    InvalidOption {
        option: &'static str,
        message: String,
    },
    #[error("write error: {0}")]
    Io(#[from] io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSummary {
    pub items: u64,
    /// Uncompressed report bytes.
    pub bytes: u64,
    /// Bytes written to the output (the gzip stream's size with `gzip`, else `bytes`).
    pub output_bytes: u64,
    /// Items NON_COMPLIANT (compliance reports) or failed (job reports).
    pub flagged: u64,
}

/// `n` account IDs, independent of the seed so that generated rules and reports agree: the
/// samples' `111111111111` … `999999999999` first, then 12-digit IDs derived from the index.
pub fn account_ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i < 9 {
                char::from(b'1' + i as u8).to_string().repeat(12)
            } else {
                format!("{:012}", 210_000_000_000u64 + (i as u64) * 1_000_003)
            }
        })
        .collect()
}

/// Writes one report to `out`, streaming.
pub fn generate<W: Write>(opts: &GenOptions, out: W) -> Result<GenSummary, GenError> {
    opts.validate()?;
    let out = Counting::new(out);
    if opts.gzip {
        let gz = GzEncoder::new(out, Compression::default());
        let (mut summary, gz) = write_report(opts, gz)?;
        let mut out = gz.finish()?;
        out.flush()?;
        summary.output_bytes = out.count;
        Ok(summary)
    } else {
        let (mut summary, mut out) = write_report(opts, out)?;
        out.flush()?;
        summary.output_bytes = out.count;
        Ok(summary)
    }
}

/// Counts the bytes written through it.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W> Counting<W> {
    fn new(inner: W) -> Self {
        Counting { inner, count: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_report<W: Write>(opts: &GenOptions, out: W) -> Result<(GenSummary, W), GenError> {
    let spec = spec::spec(opts.template);
    let mut w = Counting::new(BufWriter::with_capacity(256 * 1024, out));
    let mut ctx = Ctx {
        rng: Rng::new(opts.seed),
        accounts: &opts.accounts,
        regions: &opts.regions,
        non_compliant: opts.non_compliant,
        failed: opts.failed,
    };
    let mut row = Row::default();
    let mut items = 0u64;
    let mut flagged = 0u64;

    // CSV column → slot index, resolved once.
    let mut csv_slots = Vec::with_capacity(spec.csv_columns.len());
    for (header, key) in spec.csv_columns {
        let slot = spec
            .json_keys
            .iter()
            .position(|k| k == key)
            .ok_or_else(|| {
                GenError::Internal(format!("CSV column {header:?} maps to unknown key {key:?}"))
            })?;
        csv_slots.push(slot);
    }

    let (head, item_sep, tail): (&[u8], &[u8], &[u8]) = match (opts.format, opts.compact) {
        (Format::Json, false) => (b"{\n  \"reportItems\": [\n", b",\n", b"\n  ]\n}"),
        (Format::Json, true) => (b"{\"reportItems\":[", b",", b"]}"),
        (Format::Csv, _) => (b"", b"", b""),
    };
    w.write_all(head)?;
    if opts.format == Format::Csv {
        for (i, (header, _)) in spec.csv_columns.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write_csv_field(&mut w, header)?;
        }
        w.write_all(b"\n")?;
    }

    loop {
        match opts.amount {
            Amount::Items(n) if items >= n => break,
            Amount::Bytes(n) if w.count + tail.len() as u64 >= n => break,
            _ => {}
        }
        if content::fill(opts.template, &mut ctx, &mut row) {
            flagged += 1;
        }
        if row.len != spec.json_keys.len() {
            return Err(GenError::Internal(format!(
                "{}: item filled {} of {} fields",
                opts.template,
                row.len,
                spec.json_keys.len()
            )));
        }
        if items > 0 {
            w.write_all(item_sep)?;
        }
        match opts.format {
            Format::Json => write_json_item(&mut w, spec.json_keys, &row, opts.compact)?,
            Format::Csv => write_csv_row(&mut w, &csv_slots, &row)?,
        }
        items += 1;
    }
    w.write_all(tail)?;
    let bytes = w.count;
    let buf = w.inner;
    let out = buf.into_inner().map_err(|e| GenError::Io(e.into_error()))?;
    Ok((
        GenSummary {
            items,
            bytes,
            output_bytes: 0,
            flagged,
        },
        out,
    ))
}

fn write_json_item<W: Write>(w: &mut W, keys: &[&str], row: &Row, compact: bool) -> io::Result<()> {
    let (open, sep, colon, close): (&[u8], &[u8], &[u8], &[u8]) = if compact {
        (b"{", b",", b":", b"}")
    } else {
        (b"    {\n      ", b",\n      ", b": ", b"\n    }")
    };
    w.write_all(open)?;
    let mut first = true;
    for (key, slot) in keys.iter().zip(&row.slots[..row.len]) {
        if slot.kind == Kind::Absent {
            continue;
        }
        if !first {
            w.write_all(sep)?;
        }
        first = false;
        w.write_all(b"\"")?;
        w.write_all(key.as_bytes())?;
        w.write_all(b"\"")?;
        w.write_all(colon)?;
        match slot.kind {
            Kind::Str => write_json_str(w, &slot.text)?,
            Kind::Num | Kind::Bool | Kind::Raw => w.write_all(slot.text.as_bytes())?,
            Kind::Null | Kind::Absent => w.write_all(b"null")?,
        }
    }
    w.write_all(close)
}

/// A JSON string literal: `"` and `\` escaped, control characters as escapes, the rest as UTF-8.
fn write_json_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        w.write_all(&bytes[start..i])?;
        if short.is_empty() {
            write!(w, "\\u{b:04x}")?;
        } else {
            w.write_all(short)?;
        }
        start = i + 1;
    }
    w.write_all(&bytes[start..])?;
    w.write_all(b"\"")
}

fn write_csv_row<W: Write>(w: &mut W, csv_slots: &[usize], row: &Row) -> io::Result<()> {
    for (i, &slot) in csv_slots.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let slot = &row.slots[slot];
        match slot.kind {
            Kind::Absent | Kind::Null => w.write_all(b"\"\"")?,
            _ => write_csv_field(w, &slot.text)?,
        }
    }
    w.write_all(b"\n")
}

/// Always quoted, as the samples are; inner quotes doubled (RFC 4180).
fn write_csv_field<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let mut parts = s.split('"');
    if let Some(first) = parts.next() {
        w.write_all(first.as_bytes())?;
    }
    for part in parts {
        w.write_all(b"\"\"")?;
        w.write_all(part.as_bytes())?;
    }
    w.write_all(b"\"")
}

/// Parses a size: `250MB`, `25mb`, `1.5GB`, `64KiB`, `1000` (bytes). Decimal units are powers
/// of 1000, `KiB`/`MiB`/`GiB` powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with an optional unit, e.g. 250MB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?}, expected B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    let bytes = value * mult;
    if !(0.0..=1e15).contains(&bytes) {
        return Err(format!("{text:?}: size out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests;
