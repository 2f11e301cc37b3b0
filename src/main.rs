//! The `audit-router` command: a thin shell over the library's pipeline.

use anyhow::{Context, Result, bail};
use audit_router::event;
use audit_router::fetch;
use audit_router::location::ReportLocation;
use audit_router::output::{self, DryRun, SourceError};
use audit_router::pipeline::{self, RouteOptions};
use audit_router::rules::{LoadOptions, Rules, Severity};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "audit-router",
    version,
    about = "Routes AWS Backup Audit Manager reports to notification sinks by rules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and validate a rules file without touching the network.
    Check(CheckArgs),
    /// Show which rules match each finding and what each sink would receive; sends nothing.
    DryRun(DryRunArgs),
}

#[derive(Args, Debug)]
struct RulesArgs {
    /// The rules file.
    #[arg(long, env = "AUDIT_ROUTER_RULES", default_value = "rules.toml")]
    rules: PathBuf,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    rules: RulesArgs,
    /// Leave `${env:NAME}` references unresolved (for CI without the deployment's variables).
    #[arg(long)]
    no_env: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct DryRunArgs {
    #[command(flatten)]
    rules: RulesArgs,
    /// Environment of findings whose account maps to no environment.
    #[arg(long = "env", env = "AUDIT_ROUTER_ENV")]
    environment: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// For each finding, show every rule tried and why it matched or not.
    #[arg(long)]
    explain: bool,
    /// A Lambda event (S3, EventBridge, SQS/SNS-wrapped, or {"bucket","key"}) naming the reports.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// Report files or s3://bucket/key URIs.
    #[arg(value_name = "SOURCE")]
    sources: Vec<String>,
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::DryRun(args) => run_async(dry_run(args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run_async(fut: impl std::future::Future<Output = Result<ExitCode>>) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(fut)
}

/// The date silences are judged against: today (UTC), or `AUDIT_ROUTER_TODAY` (YYYY-MM-DD) for
/// reproducible runs.
fn today() -> Result<chrono::NaiveDate> {
    match std::env::var("AUDIT_ROUTER_TODAY") {
        Ok(s) if !s.is_empty() => chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .with_context(|| format!("AUDIT_ROUTER_TODAY={s:?}: expected YYYY-MM-DD")),
        _ => Ok(chrono::Utc::now().date_naive()),
    }
}

/// Loads the rules, printing every diagnostic to stderr; `None` when the file has errors.
fn load_rules(args: &RulesArgs, opts: &LoadOptions) -> Result<Option<Rules>> {
    match Rules::load(&args.rules, opts) {
        Ok((rules, warnings)) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            Ok(Some(rules))
        }
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            Ok(None)
        }
    }
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let opts = LoadOptions {
        resolve_env: !args.no_env,
        env_override: None,
        today: today()?,
    };
    match Rules::load(&args.rules.rules, &opts) {
        Ok((rules, warnings)) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            println!(
                "{}: ok ({} rules, {} sinks{})",
                args.rules.rules.display(),
                rules.rule_names().len(),
                rules.sinks().len(),
                match warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            let errors = e
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            eprintln!(
                "{}: invalid ({errors} error{})",
                args.rules.rules.display(),
                if errors == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn dry_run(args: DryRunArgs) -> Result<ExitCode> {
    if args.sources.is_empty() && args.event.is_none() {
        bail!("nothing to read: give report files or s3:// URIs, or --event FILE");
    }
    let opts = LoadOptions {
        resolve_env: true,
        env_override: args.environment.clone(),
        today: today()?,
    };
    let Some(rules) = load_rules(&args.rules, &opts)? else {
        eprintln!("{}: invalid rules file", args.rules.rules.display());
        return Ok(ExitCode::FAILURE);
    };
    let rules = Arc::new(rules);

    let mut dry = DryRun::default();
    let mut locations = Vec::new();
    for s in &args.sources {
        match ReportLocation::parse(s) {
            Ok(loc) => locations.push(loc),
            Err(e) => dry.errors.push(SourceError {
                source: s.clone(),
                error: e.to_string(),
            }),
        }
    }
    if let Some(path) = &args.event {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading event file {}", path.display()))?;
        let found = event::locations_from_event(&bytes)
            .with_context(|| format!("event file {}", path.display()))?;
        locations.extend(found.locations);
        dry.skipped.extend(found.skipped);
    }

    let s3 = if locations
        .iter()
        .any(|l| matches!(l, ReportLocation::S3 { .. }))
    {
        Some(fetch::s3_client().await)
    } else {
        None
    };
    let route_opts = RouteOptions {
        listing: true,
        explain: args.explain,
        ..RouteOptions::default()
    };
    for loc in locations {
        let name = loc.to_string();
        match pipeline::route_location(rules.clone(), loc, s3.as_ref(), route_opts.clone()).await {
            Ok(run) => dry.runs.push(run),
            Err(e) => dry.errors.push(SourceError {
                source: name,
                error: e.to_string(),
            }),
        }
    }

    match args.format {
        OutputFormat::Json => {
            let doc = output::to_json(&dry, &rules, args.explain);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OutputFormat::Text => print!("{}", output::to_text(&dry, &rules, args.explain)),
    }
    for e in &dry.errors {
        eprintln!("error: {}", e.error);
    }
    Ok(if dry.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
