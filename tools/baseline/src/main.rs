//! `audit-router-baseline`: the bare-parse passes the router's throughput is measured against.
//!
//! - `json FILE`: `serde_json::Deserializer::from_reader(BufReader::with_capacity(64 KiB))` into
//!   `serde::de::IgnoredAny` (the whole `{"reportItems":[…]}` document), then `end()`.
//! - `csv FILE`: a `csv::Reader` over the same 64 KiB buffered reader, iterating `ByteRecord`s
//!   with one reused record.
//!
//! A gzip file (detected by its magic bytes, whatever its name) is read through
//! `flate2::read::MultiGzDecoder`, as the router reads `.gz` reports. Prints one `key=value`
//! line: file and uncompressed bytes, items (CSV records; not counted for JSON, which would no
//! longer be a bare pass), seconds, and MB/s (10^6 bytes) of both.

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

const BUF: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Json,
    Csv,
}

#[derive(Parser, Debug)]
#[command(name = "audit-router-baseline", version)]
struct Cli {
    mode: Mode,
    file: PathBuf,
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

struct Outcome {
    uncompressed_bytes: u64,
    items: Option<u64>,
}

fn json_pass<R: Read>(input: R) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(BUF, input));
    IgnoredAny::deserialize(&mut de)?;
    de.end()
}

fn csv_pass<R: Read>(input: R) -> Result<u64, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(BUF)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let mut n = 0u64;
    while reader.read_byte_record(&mut record)? {
        n += 1;
    }
    Ok(n)
}

fn is_gzip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path)?;
    let mut got = 0;
    while got < 2 {
        let n = f.read(&mut magic[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

fn run(mode: Mode, path: &Path, gzip: bool) -> Result<Outcome> {
    let file = File::open(path)?;
    // With gzip the decoder reads the file through its own 32 KiB buffer; the 64 KiB buffer of
    // the pass sits on the decompressed side, as in the router.
    let mut counted = Counting {
        inner: if gzip {
            Box::new(MultiGzDecoder::new(file)) as Box<dyn Read>
        } else {
            Box::new(file)
        },
        count: 0,
    };
    let items = match mode {
        Mode::Json => {
            json_pass(&mut counted)?;
            None
        }
        Mode::Csv => Some(csv_pass(&mut counted)?),
    };
    Ok(Outcome {
        uncompressed_bytes: counted.count,
        items,
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let name = cli.file.display().to_string();
    let file_bytes = std::fs::metadata(&cli.file)
        .with_context(|| format!("{name}: cannot stat"))?
        .len();
    let gzip = is_gzip(&cli.file).with_context(|| format!("{name}: cannot read"))?;
    let started = Instant::now();
    let outcome = run(cli.mode, &cli.file, gzip).with_context(|| {
        format!(
            "{name}: not a valid {} report",
            match cli.mode {
                Mode::Json => "JSON",
                Mode::Csv => "CSV",
            }
        )
    })?;
    let secs = started.elapsed().as_secs_f64();
    if outcome.uncompressed_bytes == 0 {
        bail!("{name}: empty file");
    }
    let mbps = |b: u64| b as f64 / 1e6 / secs.max(1e-9);
    println!(
        "mode={} gzip={} file={} file_bytes={} uncompressed_bytes={} items={} seconds={:.4} \
         file_mb_per_s={:.1} mb_per_s={:.1}",
        match cli.mode {
            Mode::Json => "json",
            Mode::Csv => "csv",
        },
        gzip,
        name,
        file_bytes,
        outcome.uncompressed_bytes,
        outcome
            .items
            .map_or_else(|| "-".to_string(), |n| n.to_string()),
        secs,
        mbps(file_bytes),
        mbps(outcome.uncompressed_bytes),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    const JSON: &str =
        r#"{"reportItems":[{"accountId":"111111111111","n":1},{"a":[1,2,{"b":null}]}]}"#;
    const CSV: &str =
        "\"Account ID\",\"Region\"\n\"111111111111\",\"eu-west-1\"\n\"2\",\"a, \"\"b\"\"\"\n";

    fn gz(parts: &[&str]) -> Vec<u8> {
        // Several gzip members back to back: MultiGzDecoder must read them all.
        let mut out = Vec::new();
        for p in parts {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(p.as_bytes()).unwrap();
            out.extend(e.finish().unwrap());
        }
        out
    }

    #[test]
    fn json_pass_accepts_a_report_and_rejects_truncation_and_trailing_data() {
        json_pass(JSON.as_bytes()).unwrap();
        let err = json_pass(&JSON.as_bytes()[..JSON.len() - 3]).unwrap_err();
        assert!(err.is_eof(), "{err}");
        let err = json_pass(format!("{JSON} x").as_bytes()).unwrap_err();
        assert_eq!(err.line(), 1);
        assert!(err.to_string().contains("trailing"), "{err}");
    }

    #[test]
    fn csv_pass_counts_records_without_the_header() {
        assert_eq!(csv_pass(CSV.as_bytes()).unwrap(), 2);
        let err = csv_pass("\"a\",\"b\"\n\"1\"\n".as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("found record with 1 fields"),
            "{err}"
        );
    }

    #[test]
    fn run_detects_gzip_and_counts_uncompressed_bytes() {
        let dir = std::env::temp_dir().join(format!("ar-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("r.csv");
        std::fs::write(&plain, CSV).unwrap();
        let packed = dir.join("r.json.gz");
        let (a, b) = JSON.split_at(20);
        std::fs::write(&packed, gz(&[a, b])).unwrap();

        assert!(!is_gzip(&plain).unwrap());
        assert!(is_gzip(&packed).unwrap());
        let o = run(Mode::Csv, &plain, false).unwrap();
        assert_eq!((o.uncompressed_bytes, o.items), (CSV.len() as u64, Some(2)));
        let o = run(Mode::Json, &packed, true).unwrap();
        assert_eq!((o.uncompressed_bytes, o.items), (JSON.len() as u64, None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
