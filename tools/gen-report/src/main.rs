//! `audit-router-gen`: realistic Audit Manager reports (or rules.toml files) for benchmarks.

use anyhow::{Context, Result, bail};
use audit_router_gen::{
    Amount, Format, GenOptions, ReportTemplate, RulesOptions, account_ids, generate, parse_size,
    write_rules,
};
use clap::{ArgGroup, Parser, ValueEnum};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Json,
    Csv,
}

/// Writes a realistic AWS Backup Audit Manager report, deterministically from a seed and
/// streaming (any size in constant memory); or, with --rules N, a rules.toml with N rules.
///
/// Examples:
///   audit-router-gen --template RESOURCE_COMPLIANCE_REPORT --format json --size 250MB -o r.json
///   audit-router-gen --template BACKUP_JOB_REPORT --format csv --gzip --items 100000 -o b.csv.gz
///   audit-router-gen --rules 1000 -o rules.toml
#[derive(Parser, Debug)]
#[command(name = "audit-router-gen", version, verbatim_doc_comment)]
#[command(group(ArgGroup::new("amount").args(["size", "items"])))]
struct Cli {
    /// Report template: CONTROL_COMPLIANCE_REPORT, RESOURCE_COMPLIANCE_REPORT, BACKUP_JOB_REPORT,
    /// COPY_JOB_REPORT, RESTORE_JOB_REPORT or SCAN_JOB_REPORT.
    #[arg(long, required_unless_present = "rules", value_parser = parse_template)]
    template: Option<ReportTemplate>,

    #[arg(long, value_enum, required_unless_present = "rules")]
    format: Option<FormatArg>,

    /// Gzip the output (--size still counts uncompressed bytes).
    #[arg(long)]
    gzip: bool,

    /// Uncompressed size to reach: 250MB, 25MB, 1.5GB, 64MiB, 1000 (bytes).
    #[arg(long, value_parser = parse_size, required_unless_present_any = ["items", "rules"])]
    size: Option<u64>,

    /// Exact number of report items.
    #[arg(long)]
    items: Option<u64>,

    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Fraction of compliance items that are NON_COMPLIANT.
    #[arg(long, default_value_t = 0.3)]
    non_compliant: f64,

    /// Fraction of jobs that failed (FAILED/ABORTED/EXPIRED/CANCELED as the template allows).
    #[arg(long, default_value_t = 0.1)]
    failed: f64,

    /// Number of distinct accounts (111111111111 … 999999999999, then derived IDs).
    #[arg(long, default_value_t = 5)]
    accounts: usize,

    /// Regions, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east-1,us-west-2,eu-west-1,eu-central-1,ap-northeast-1"
    )]
    regions: Vec<String>,

    /// JSON on one line instead of the samples' indentation.
    #[arg(long)]
    compact: bool,

    /// Write a rules.toml with this many rules instead of a report.
    #[arg(long, conflicts_with_all = ["template", "format", "gzip", "size", "items", "compact"])]
    rules: Option<usize>,

    /// Output file, `-` for stdout.
    #[arg(short, long)]
    output: PathBuf,
}

fn parse_template(s: &str) -> Result<ReportTemplate, String> {
    ReportTemplate::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = ReportTemplate::ALL.iter().map(|t| t.name()).collect();
        format!(
            "unknown template {s:?}, expected one of {}",
            names.join(", ")
        )
    })
}

/// The output file (created only once the options are known to be valid), or stdout for `-`.
fn open_output(path: &Path) -> Result<(String, Box<dyn Write>)> {
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        return Ok((name, Box::new(io::stdout().lock())));
    }
    let file = File::create(path).with_context(|| format!("creating {name}"))?;
    Ok((name, Box::new(file)))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.accounts == 0 || cli.accounts > 100_000 {
        bail!(
            "--accounts: {}: expected a number from 1 to 100000",
            cli.accounts
        );
    }
    if let Some(count) = cli.rules {
        let opts = RulesOptions {
            count,
            seed: cli.seed,
            accounts: account_ids(cli.accounts),
            regions: cli.regions,
        };
        opts.validate()?;
        let (out_name, out) = open_output(&cli.output)?;
        let summary = write_rules(&opts, out).with_context(|| format!("writing {out_name}"))?;
        eprintln!(
            "wrote {out_name}: {} rules, {} sinks, {} bytes",
            summary.rules, summary.sinks, summary.bytes
        );
        return Ok(());
    }

    // clap guarantees these with `required_unless_present`; the messages are for safety only.
    let template = cli.template.context("--template is required")?;
    let format = match cli.format.context("--format is required")? {
        FormatArg::Json => Format::Json,
        FormatArg::Csv => Format::Csv,
    };
    let amount = match (cli.items, cli.size) {
        (Some(n), _) => Amount::Items(n),
        (None, Some(b)) => Amount::Bytes(b),
        (None, None) => bail!("one of --size or --items is required"),
    };
    let mut opts = GenOptions::new(template, format, amount);
    opts.gzip = cli.gzip;
    opts.seed = cli.seed;
    opts.non_compliant = cli.non_compliant;
    opts.failed = cli.failed;
    opts.accounts = account_ids(cli.accounts);
    opts.regions = cli.regions;
    opts.compact = cli.compact;
    opts.validate()?;
    let (out_name, out) = open_output(&cli.output)?;
    let started = Instant::now();
    let summary = generate(&opts, out).with_context(|| format!("writing {out_name}"))?;
    let secs = started.elapsed().as_secs_f64();
    let what = if template.is_job() {
        "failed"
    } else {
        "non-compliant"
    };
    eprintln!(
        "wrote {out_name}: {} items, {} bytes{}, {} {what} ({:.1} %), {:.2} s, {:.1} MB/s",
        summary.items,
        summary.bytes,
        if opts.gzip {
            format!(" ({} gzipped)", summary.output_bytes)
        } else {
            String::new()
        },
        summary.flagged,
        if summary.items > 0 {
            100.0 * summary.flagged as f64 / summary.items as f64
        } else {
            0.0
        },
        secs,
        summary.bytes as f64 / 1e6 / secs.max(1e-9),
    );
    Ok(())
}
