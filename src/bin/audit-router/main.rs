//! The `audit-router` command: parse the arguments ([`args`]), call the library, print what it
//! returns, exit with the command's status. Under AWS Lambda it runs the function instead.

mod args;

use anyhow::{Context, Result};
use args::{CheckArgs, Cli, Command, DiffArgs, DiffFormat, DryRunArgs, OutputFormat, SendArgs};
use args::{SendTestArgs, SourceArgs, TestArgs, TestFormat};
use audit_router::location::ReportLocation;
use audit_router::metrics::{self, EmfOut};
use audit_router::receipt;
use audit_router::rules::LoadOptions;
use audit_router::run::{Batch, RunOptions, Stores};
use audit_router::validate::{self, Checked, Samples};
use audit_router::{deliver, lambda, state};
use audit_router::{output, pipeline, preview, routediff, ruletest, sinks, sources};
use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    audit_router::runtime::limit_malloc_arenas();
    let command = match Cli::parse().command {
        Some(command) => command,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    if matches!(command, Command::Lambda) {
        return audit_router::lambda::main(); // JSON logs of its own
    }
    audit_router::runtime::init_cli_tracing();
    let result = match command {
        Command::Check(a) => check(a),
        Command::DryRun(a) => run_async(dry_run(a)),
        Command::Send(a) => run_async(send(a)),
        Command::SendTest(a) => run_async(send_test(a)),
        Command::Test(a) => rules_test(a),
        Command::Diff(a) => run_async(diff(a)),
        Command::Schema => {
            print!("{}", audit_router::schema::rules_schema_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Lambda => unreachable!("handled above"),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

fn run_async(fut: impl std::future::Future<Output = Result<ExitCode>>) -> Result<ExitCode> {
    let rt = audit_router::runtime::tokio_runtime().context("starting the async runtime")?;
    rt.block_on(fut)
}

/// 0 when `ok`, else 1.
fn status(ok: bool) -> ExitCode {
    ExitCode::from(u8::from(!ok))
}

fn load_options(resolve_env: bool, env_override: Option<String>) -> Result<LoadOptions> {
    LoadOptions::from_env(resolve_env, env_override).map_err(anyhow::Error::msg)
}

/// Validates the rules (warnings printed); `None` when invalid (the lines printed).
fn validated(
    path: &std::path::Path,
    opts: &LoadOptions,
    aws: Option<aws_config::SdkConfig>,
    samples: Samples,
) -> Option<Checked> {
    match validate::validate_file(path, opts, aws, samples) {
        Ok(checked) => {
            checked.warnings.iter().for_each(|w| eprintln!("{w}"));
            Some(checked)
        }
        Err(invalid) => {
            invalid.lines.iter().for_each(|l| eprintln!("{l}"));
            None
        }
    }
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let opts = load_options(!args.no_env, None)?;
    let checked = validated(&args.rules.rules, &opts, None, Samples::Render);
    if let Some(c) = &checked {
        println!("{}", c.summary());
    }
    Ok(status(checked.is_some()))
}

/// The locations to run and the engine for them (AWS clients when a report is in S3 or `send`).
async fn prepare(
    src: &SourceArgs,
    batch: &mut Batch,
    aws: bool,
) -> Result<Option<(pipeline::Engine, Vec<ReportLocation>)>> {
    let locations = sources::collect(&src.sources, src.event.as_deref(), batch)?;
    let aws = if aws || sources::any_s3(&locations) {
        Some(pipeline::load_aws_config().await)
    } else {
        None
    };
    let opts = load_options(true, src.environment.clone())?;
    Ok(validated(&src.rules.rules, &opts, aws, Samples::Skip).map(|c| (c.engine, locations)))
}

async fn dry_run(args: DryRunArgs) -> Result<ExitCode> {
    let mut batch = Batch::default();
    let s3_state = args.state.is_some()
        || args
            .previous
            .as_deref()
            .is_some_and(|p| p.starts_with("s3://"));
    let Some((engine, locations)) = prepare(&args.src, &mut batch, s3_state).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let mut opts = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    if let Some(prev) = &args.previous {
        if locations.len() != 1 {
            anyhow::bail!(
                "--previous compares one report with an earlier one: give exactly one SOURCE ({} given)",
                locations.len()
            );
        }
        opts.previous = Some(ReportLocation::parse(prev).context("--previous")?);
    }
    let state =
        state::cli_store(args.state.as_deref(), None, engine.s3.as_ref()).context("--state")?;
    opts.route.listing = args.format != OutputFormat::Summary;
    opts.route.explain = args.explain;
    if let Some(now) = preview::render_time_from_env().map_err(anyhow::Error::msg)? {
        opts.deliver.render.now = now;
    }
    let quiet = args.src.quiet;
    let stores = Stores {
        receipts: None,
        state: state.as_ref(),
    };
    batch
        .run_with_progress(&engine, stores, locations, &opts, quiet)
        .await;
    if let Some(dir) = &args.out {
        let written = preview::write_batch(dir, &engine.rules, &batch)?;
        eprintln!(
            "wrote {} payload files to {}",
            written.files.len(),
            dir.display()
        );
    }
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&output::to_json(&batch, &engine.rules, args.explain))?
        ),
        OutputFormat::Text => print!("{}", output::to_text(&batch, &engine.rules, args.explain)),
        OutputFormat::Summary => print!("{}", output::to_summary(&batch)),
    }
    eprint!("{}", output::dry_run_errors(&batch));
    Ok(status(batch.ok()))
}

async fn send(args: SendArgs) -> Result<ExitCode> {
    let mut batch = Batch::default();
    let Some((engine, locations)) = prepare(&args.src, &mut batch, true).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let metrics = args.metrics.as_deref().map(EmfOut::open).transpose()?;
    let opts = RunOptions::for_send(Duration::from_secs(args.timeout));
    let store = match &args.receipts {
        Some(uri) => {
            let s3 = engine.s3.clone().context("--receipts: no S3 client")?;
            Some(receipt::store_for_send(s3, uri, args.timeout).context("--receipts")?)
        }
        None => None,
    };
    let state = state::cli_store(args.state.as_deref(), store.as_ref(), engine.s3.as_ref())
        .context("--state")?;
    lambda::warn_changes_without_state(&engine, state.is_some());
    let stores = Stores {
        receipts: store.as_ref(),
        state: state.as_ref(),
    };
    let quiet = args.src.quiet;
    batch
        .run_with_progress(&engine, stores, locations, &opts, quiet)
        .await;
    if let Some(out) = &metrics {
        metrics::emit_batch(out, &batch, engine.rules.environment_of(None));
    }
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&output::send_json(&batch, store.is_some()))?
        ),
        _ => print!("{}", output::send_text(&batch, store.is_some())),
    }
    batch
        .errors
        .iter()
        .for_each(|e| eprintln!("error: {}", e.error));
    Ok(status(batch.ok()))
}

async fn send_test(args: SendTestArgs) -> Result<ExitCode> {
    let opts = load_options(true, None)?;
    let aws = Some(pipeline::load_aws_config().await);
    let Some(checked) = validated(&args.rules.rules, &opts, aws, Samples::Skip) else {
        return Ok(ExitCode::FAILURE);
    };
    let job = sinks::test_job(&checked.engine, &args.sink)?;
    let mut opts = deliver::DeliverOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(args.timeout)),
        ..deliver::DeliverOptions::default()
    };
    opts.render.test = true;
    let report = deliver::deliver(vec![job], &opts).await;
    print!("{}", output::outcomes_text(&report.outcomes));
    Ok(status(report.all_delivered()))
}

/// `test`: exit 0 when every case passes, 1 when any fails, 2 when a test file (or the rules
/// file, or a case's report) is bad.
fn rules_test(args: TestArgs) -> Result<ExitCode> {
    let today = audit_router::rules::today_from_env().map_err(anyhow::Error::msg)?;
    let plan = ruletest::collect_test_files(&args.tests)
        .and_then(|files| ruletest::load(&args.rules.rules, &files, today));
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            e.diagnostics.iter().for_each(|d| eprintln!("{d}"));
            return Ok(ExitCode::from(2));
        }
    };
    let run = plan.run();
    match args.format {
        TestFormat::Text => print!("{}", ruletest::to_text(&run)),
        TestFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&ruletest::to_json(&run))?
        ),
        TestFormat::Junit => print!("{}", ruletest::to_junit(&run)),
    }
    Ok(ExitCode::from(run.exit_code()))
}

/// `diff`: exit 0, or 1 with `--exit-code` when routing differs; 2 when a rules file or a
/// source cannot be read.
async fn diff(args: DiffArgs) -> Result<ExitCode> {
    use routediff::RulesSource;
    let opts = load_options(!args.no_env, args.environment.clone())?;
    let sides = (
        RulesSource::File(args.rules.clone()),
        RulesSource::parse(&args.base),
    );
    let (new, base) = match routediff::load_sides(&sides.0, &sides.1, &opts) {
        Ok(sides) => sides,
        Err(diagnostics) => {
            diagnostics.iter().for_each(|d| eprintln!("{d}"));
            return Ok(ExitCode::from(2));
        }
    };
    let result = routediff::diff(&base, &new, &args.sources).await;
    match args.format {
        DiffFormat::Text => print!("{}", routediff::to_text(&result)),
        DiffFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&routediff::to_json(&result))?
        ),
    }
    result
        .errors
        .iter()
        .for_each(|e| eprintln!("error: {}", e.error));
    Ok(ExitCode::from(result.exit_code(args.exit_code)))
}
