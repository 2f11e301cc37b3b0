//! The `audit-router` command: a thin shell over the library's pipeline.

use anyhow::{Context, Result, bail};
use audit_router::deliver::{self, DeliverOptions};
use audit_router::event;
use audit_router::location::ReportLocation;
use audit_router::output::{self, DryRun, SourceError};
use audit_router::pipeline::{self, Engine, RouteOptions};
use audit_router::preview;
use audit_router::process::{self, Disposition, ProcessOptions, Processed};
use audit_router::receipt::ReceiptStore;
use audit_router::rules::{LoadOptions, Rules, Severity};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "audit-router",
    version,
    about = "Routes AWS Backup Audit Manager reports to notification sinks by rules"
)]
struct Cli {
    /// With no subcommand under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set), runs the function.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and validate a rules file without touching the network.
    Check(CheckArgs),
    /// Show which rules match each finding and what each sink would receive; sends nothing.
    DryRun(DryRunArgs),
    /// Route reports and deliver the digests to the sinks for real (manual send / replay).
    Send(SendArgs),
    /// Send a clearly marked test message, built from sample findings, to one sink.
    SendTest(SendTestArgs),
    /// Run routing tests (TOML test files) against a rules file; sends nothing.
    Test(TestArgs),
    /// Route the same reports with two rule files and show what would change.
    Diff(DiffArgs),
    /// Print the JSON Schema of rules.toml (for editors; committed as rules.schema.json).
    Schema,
    /// Run as the AWS Lambda function (the default under Lambda; see `audit_router::lambda`).
    #[command(hide = true)]
    Lambda,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// For people: findings grouped per sink, then the exact messages.
    Text,
    /// For CI: sources, deliveries (findings and messages), counts.
    Json,
    /// Counts and message sizes only, no per-finding listing (bounded memory).
    Summary,
}

#[derive(Args, Debug)]
struct SourceArgs {
    #[command(flatten)]
    rules: RulesArgs,
    /// Environment of findings whose account maps to no environment.
    #[arg(long = "env", env = "AUDIT_ROUTER_ENV")]
    environment: Option<String>,
    /// A Lambda event (S3, EventBridge, SQS/SNS-wrapped, or {"bucket","key"}) naming the reports.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// Report files or s3://bucket/key URIs.
    #[arg(value_name = "SOURCE")]
    sources: Vec<String>,
}

#[derive(Args, Debug)]
struct DryRunArgs {
    #[command(flatten)]
    src: SourceArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// For each finding, show every rule tried and why it matched or not.
    #[arg(long)]
    explain: bool,
    /// Also write every rendered payload to DIR/<sink>/<n>.json|.txt (for snapshot tests).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TestFormat {
    /// Like `cargo test`: a line per case, then each failure with every rule's verdict.
    Text,
    /// Every case with its expected and actual routing.
    Json,
    /// JUnit XML, for CI systems that render test reports.
    Junit,
}

#[derive(Args, Debug)]
struct TestArgs {
    #[command(flatten)]
    rules: RulesArgs,
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    format: TestFormat,
    /// Test files (TOML, `[[case]]` tables), or directories of them.
    #[arg(value_name = "TESTS", required = true)]
    tests: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    /// Per sink, the findings that start or stop going there, grouped like the dry run.
    Text,
    /// The whole comparison.
    Json,
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// The new rules file.
    #[arg(long, env = "AUDIT_ROUTER_RULES", default_value = "rules.toml")]
    rules: PathBuf,
    /// The rules to compare with: a path, or git:REV:path (read with `git show REV:path`).
    #[arg(long, value_name = "OLD")]
    base: String,
    /// Environment of findings whose account maps to no environment (both files).
    #[arg(long = "env", env = "AUDIT_ROUTER_ENV")]
    environment: Option<String>,
    /// Leave `${env:NAME}` references unresolved in both files (as `check --no-env`).
    #[arg(long)]
    no_env: bool,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Exit 1 when the routing of any finding differs (0 when it does not).
    #[arg(long)]
    exit_code: bool,
    /// Report files or s3://bucket/key URIs.
    #[arg(value_name = "SOURCE", required = true)]
    sources: Vec<String>,
}

#[derive(Args, Debug)]
struct SendArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Give up retrying after this many seconds (per run).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    /// `text` prints one line per sink and report; `json` the full outcomes (with messages).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Keep delivery receipts under this S3 location, as the Lambda function does: send each
    /// report only to the sinks its receipt does not show as delivered, and record the outcomes.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    receipts: Option<String>,
}

#[derive(Args, Debug)]
struct SendTestArgs {
    #[command(flatten)]
    rules: RulesArgs,
    /// The `[sinks.NAME]` to send the test message to.
    #[arg(long)]
    sink: String,
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
}

/// glibc gives every thread that allocates its own malloc arena (up to 8 per core), and memory
/// freed in one stays there: with the runtime's worker threads reading, rendering and sending,
/// peak RSS counted the same transient memory several times over (measured: ~25 MB of a
/// 100 MB dry-run peak on a 25 MB report). Two arenas serve one report at a time.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; it runs first thing in `main`, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let command = match cli.command {
        Some(command) => command,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    // Lambda mode sets up its own (JSON) logging.
    if !matches!(command, Command::Lambda) {
        init_tracing();
    }
    let result = match command {
        Command::Check(args) => check(args),
        Command::DryRun(args) => run_async(dry_run(args)),
        Command::Send(args) => run_async(send(args)),
        Command::SendTest(args) => run_async(send_test(args)),
        Command::Test(args) => rules_test(args),
        Command::Diff(args) => run_async(diff(args)),
        Command::Schema => {
            print!("{}", audit_router::schema::rules_schema_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Lambda => Ok(audit_router::lambda::main()),
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
            let (rule_count, sink_count) = (rules.rule_names().len(), rules.sinks().len());
            // Build every sink (settings, templates) and render each template against sample
            // data of every report type; no network, no secret is resolved.
            let path = args.rules.rules.display().to_string();
            let engine = match Engine::new(rules, None) {
                Ok(engine) => engine,
                Err(e) => {
                    for d in &e.diagnostics {
                        eprintln!("{d}");
                    }
                    eprintln!("{path}: invalid ({} sink errors)", e.diagnostics.len());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let mut template_errors = 0;
            for sink in &engine.sinks {
                for (report, err) in audit_router::sinks::check_sink(sink.as_ref()) {
                    template_errors += 1;
                    eprintln!(
                        "{path}: error: sinks.{}: template fails on a sample {report}: {err}",
                        sink.name()
                    );
                }
            }
            if template_errors > 0 {
                eprintln!("{path}: invalid ({template_errors} template errors)");
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "{path}: ok ({rule_count} rules, {sink_count} sinks{})",
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

/// Reads the sources and the event into locations; unparsable sources become errors.
fn collect_locations(src: &SourceArgs, dry: &mut DryRun) -> Result<Vec<ReportLocation>> {
    if src.sources.is_empty() && src.event.is_none() {
        bail!("nothing to read: give report files or s3:// URIs, or --event FILE");
    }
    let mut locations = Vec::new();
    for s in &src.sources {
        match ReportLocation::parse(s) {
            Ok(loc) => locations.push(loc),
            Err(e) => dry.errors.push(SourceError {
                source: s.clone(),
                error: e.to_string(),
            }),
        }
    }
    if let Some(path) = &src.event {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading event file {}", path.display()))?;
        let value =
            event::event_value(&bytes).with_context(|| format!("event file {}", path.display()))?;
        match event::parse_event(&value) {
            event::ParsedEvent::Single(found) => {
                let found = found.with_context(|| format!("event file {}", path.display()))?;
                locations.extend(found.locations);
                dry.skipped.extend(found.skipped);
            }
            // An SQS batch (e.g. messages taken from a queue): an unreadable message is an
            // error of its own; the others are still processed.
            event::ParsedEvent::SqsBatch(messages) => {
                for m in messages {
                    let source = format!(
                        "event file {} {} (SQS message {})",
                        path.display(),
                        m.path,
                        m.message_id
                    );
                    match m.result {
                        Ok(found) => {
                            dry.skipped.extend(found.skipped);
                            for loc in found.locations {
                                if locations.contains(&loc) {
                                    dry.skipped.push(format!(
                                        "{source}: {loc} is a duplicate of an earlier message"
                                    ));
                                } else {
                                    locations.push(loc);
                                }
                            }
                        }
                        Err(e) => dry.errors.push(SourceError {
                            error: format!("{source}: {e}"),
                            source,
                        }),
                    }
                }
            }
        }
    }
    Ok(locations)
}

/// Loads the rules and builds the sinks; `None` (diagnostics printed) when either fails.
/// `need_aws`: build AWS clients (S3 sources, real sends).
async fn engine(
    src_rules: &RulesArgs,
    env: Option<String>,
    need_aws: bool,
) -> Result<Option<Engine>> {
    let opts = LoadOptions {
        resolve_env: true,
        env_override: env,
        today: today()?,
    };
    let Some(rules) = load_rules(src_rules, &opts)? else {
        eprintln!("{}: invalid rules file", src_rules.rules.display());
        return Ok(None);
    };
    let aws = if need_aws {
        Some(pipeline::load_aws_config().await)
    } else {
        None
    };
    match Engine::new(rules, aws) {
        Ok(engine) => Ok(Some(engine)),
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            eprintln!("{}: invalid rules file", src_rules.rules.display());
            Ok(None)
        }
    }
}

/// Routes every location, collecting runs and per-source errors.
async fn route_all(
    engine: &Engine,
    locations: Vec<ReportLocation>,
    opts: &RouteOptions,
    dry: &mut DryRun,
) {
    for loc in locations {
        let name = loc.to_string();
        match engine.route(loc, opts.clone()).await {
            Ok(run) => dry.runs.push(run),
            Err(e) => dry.errors.push(SourceError {
                source: name,
                error: e.to_string(),
            }),
        }
    }
}

fn has_s3(locations: &[ReportLocation]) -> bool {
    locations
        .iter()
        .any(|l| matches!(l, ReportLocation::S3 { .. }))
}

async fn dry_run(args: DryRunArgs) -> Result<ExitCode> {
    let mut dry = DryRun::default();
    let locations = collect_locations(&args.src, &mut dry)?;
    let Some(engine) = engine(
        &args.src.rules,
        args.src.environment.clone(),
        has_s3(&locations),
    )
    .await?
    else {
        return Ok(ExitCode::FAILURE);
    };
    let route_opts = RouteOptions {
        listing: args.format != OutputFormat::Summary,
        explain: args.explain,
        ..RouteOptions::default()
    };
    route_all(&engine, locations, &route_opts, &mut dry).await;
    let jobs = dry.runs.iter().flat_map(|r| engine.jobs(r)).collect();
    // The same render path `send` takes, with a recording sink in place of each real one.
    let mut deliver_opts = DeliverOptions::default();
    if let Some(now) = preview::render_time_from_env().map_err(anyhow::Error::msg)? {
        deliver_opts.render.now = now;
    }
    let report = deliver::dry_run(jobs, &deliver_opts).await;
    let render_failed = !report.all_delivered();
    dry.outcomes = report.outcomes;
    if let Some(dir) = &args.out {
        let sinks: Vec<String> = engine
            .rules
            .sinks()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let written = preview::write_payloads(dir, &sinks, &dry.outcomes)?;
        eprintln!(
            "wrote {} payload files to {}",
            written.files.len(),
            dir.display()
        );
    }

    match args.format {
        OutputFormat::Json => {
            let doc = output::to_json(&dry, &engine.rules, args.explain);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OutputFormat::Text => print!("{}", output::to_text(&dry, &engine.rules, args.explain)),
        OutputFormat::Summary => print!("{}", output::to_summary(&dry)),
    }
    for e in &dry.errors {
        eprintln!("error: {}", e.error);
    }
    for o in dry.outcomes.iter().filter(|o| !o.delivered()) {
        if let deliver::Status::Failed { error, .. } = &o.status {
            eprintln!(
                "error: sink {}: rendering {} failed: {error}",
                o.sink, o.source
            );
        }
    }
    Ok(if dry.errors.is_empty() && !render_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn deadline(seconds: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(seconds)
}

async fn send(args: SendArgs) -> Result<ExitCode> {
    let mut dry = DryRun::default();
    let locations = collect_locations(&args.src, &mut dry)?;
    let Some(engine) = engine(&args.src.rules, args.src.environment.clone(), true).await? else {
        return Ok(ExitCode::FAILURE);
    };
    if let Some(uri) = &args.receipts {
        return send_with_receipts(&args, uri, engine, locations, dry).await;
    }
    let route_opts = RouteOptions::default();
    route_all(&engine, locations, &route_opts, &mut dry).await;
    let jobs = dry.runs.iter().flat_map(|r| engine.jobs(r)).collect();
    let opts = DeliverOptions {
        deadline: Some(deadline(args.timeout)),
        ..DeliverOptions::default()
    };
    let report = deliver::deliver(jobs, &opts).await;
    let ok = report.all_delivered() && dry.errors.is_empty();
    match args.format {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "sources": dry.runs.iter().map(|r| serde_json::json!({
                    "source": r.location.to_string(),
                    "report": r.info.template,
                    "format": r.info.format,
                    "items": r.info.items,
                    "silenced": r.silenced,
                    "unmatched": r.unmatched,
                })).collect::<Vec<_>>(),
                "outcomes": report.outcomes,
                "skipped": dry.skipped,
                "errors": dry.errors,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        _ => {
            for r in &dry.runs {
                println!(
                    "{}: {} items, {} silenced, {} unmatched",
                    r.location, r.info.items, r.silenced, r.unmatched
                );
            }
            if report.outcomes.is_empty() && !dry.runs.is_empty() {
                println!("no finding routed to any sink: nothing sent");
            }
            print!("{}", output::outcomes_text(&report.outcomes));
        }
    }
    for e in &dry.errors {
        eprintln!("error: {}", e.error);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `send --receipts`: each report through the same claim → route → deliver pending → record →
/// release flow as the Lambda function ([`process::process_report`]).
async fn send_with_receipts(
    args: &SendArgs,
    uri: &str,
    engine: Engine,
    locations: Vec<ReportLocation>,
    mut dry: DryRun,
) -> Result<ExitCode> {
    // The lease must outlast this run's deliveries (`--timeout`), like the Lambda's lease its
    // function timeout.
    let lease = audit_router::lambda::DEFAULT_LEASE.max(std::time::Duration::from_secs(
        args.timeout.saturating_add(30),
    ));
    let s3 = engine
        .s3
        .clone()
        .context("no S3 client for the receipts (a bug: send always builds AWS clients)")?;
    let store = ReceiptStore::from_uri(s3, uri, lease).with_context(|| "--receipts")?;
    let opts = ProcessOptions {
        owner: process::cli_owner(),
        deliver: DeliverOptions {
            deadline: Some(deadline(args.timeout)),
            ..DeliverOptions::default()
        },
        // Receipt writes get 15 s past `--timeout` (the lease is 30 s past it, at least).
        receipt_deadline: Some(deadline(args.timeout.saturating_add(15))),
        route: RouteOptions::default(),
    };
    let mut processed = Vec::new();
    for loc in locations {
        let name = loc.to_string();
        match process::process_report(&engine, Some(&store), loc, &opts).await {
            Ok(p) => processed.push(p),
            Err(e) => dry.errors.push(SourceError {
                source: name,
                error: e.to_string(),
            }),
        }
    }
    let ok = dry.errors.is_empty() && processed.iter().all(Processed::complete);
    let receipt_uri = |p: &Processed| {
        store
            .receipt_key(&p.location.to_string())
            .map(|k| format!("s3://{}/{k}", store.bucket()))
            .unwrap_or_default()
    };
    match args.format {
        OutputFormat::Json => {
            let reports: Vec<_> = processed
                .iter()
                .map(|p| {
                    let (status, claim) = match &p.disposition {
                        Disposition::Routed if p.complete() => ("delivered", None),
                        Disposition::Routed => ("incomplete", None),
                        Disposition::Duplicate => ("duplicate", None),
                        Disposition::Busy { owner, until } => (
                            "busy",
                            Some(serde_json::json!({"owner": owner, "until": until.to_rfc3339()})),
                        ),
                    };
                    serde_json::json!({
                        "source": p.location.to_string(),
                        "status": status,
                        "claim": claim,
                        "report": p.run.as_ref().map(|r| r.info.template),
                        "format": p.run.as_ref().map(|r| r.info.format),
                        "items": p.run.as_ref().map(|r| r.info.items),
                        "silenced": p.run.as_ref().map(|r| r.silenced),
                        "unmatched": p.run.as_ref().map(|r| r.unmatched),
                        "already_delivered": p.already_delivered,
                        "receipt_uri": receipt_uri(p),
                        "receipt": p.receipt,
                    })
                })
                .collect();
            let outcomes: Vec<_> = processed.iter().flat_map(|p| &p.outcomes).collect();
            let doc = serde_json::json!({
                "sources": reports,
                "outcomes": outcomes,
                "skipped": dry.skipped,
                "errors": dry.errors,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        _ => {
            for p in &processed {
                let source = &p.location;
                match &p.disposition {
                    Disposition::Duplicate => println!(
                        "{source}: already delivered to every routed sink ({}): nothing sent \
                         (receipt {})",
                        p.already_delivered.join(", "),
                        receipt_uri(p)
                    ),
                    Disposition::Busy { owner, until } => println!(
                        "{source}: another run ({owner}) holds the receipt until {until}: nothing \
                         sent; try again later"
                    ),
                    Disposition::Routed => {
                        if let Some(r) = &p.run {
                            println!(
                                "{source}: {} items, {} silenced, {} unmatched",
                                r.info.items, r.silenced, r.unmatched
                            );
                            if r.digests.is_empty() {
                                println!("no finding routed to any sink: nothing sent");
                            }
                        }
                        for sink in &p.already_delivered {
                            println!(
                                "skipped: sink {sink}: already delivered (receipt {})",
                                receipt_uri(p)
                            );
                        }
                        print!("{}", output::outcomes_text(&p.outcomes));
                    }
                }
            }
        }
    }
    for e in &dry.errors {
        eprintln!("error: {}", e.error);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn send_test(args: SendTestArgs) -> Result<ExitCode> {
    let Some(engine) = engine(&args.rules, None, true).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(sink) = engine.sinks.iter().find(|s| s.name() == args.sink) else {
        bail!(
            "no sink {:?} in {} (declared: {})",
            args.sink,
            args.rules.rules.display(),
            engine
                .sinks
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let job = deliver::DeliveryJob {
        sink: sink.clone(),
        digest: audit_router::sinks::test_digest(sink.name()),
    };
    let mut opts = DeliverOptions {
        deadline: Some(deadline(args.timeout)),
        ..DeliverOptions::default()
    };
    opts.render.test = true;
    let report = deliver::deliver(vec![job], &opts).await;
    print!("{}", output::outcomes_text(&report.outcomes));
    Ok(if report.all_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `test`: exit 0 when every case passes, 1 when any fails, 2 when a test file (or the rules
/// file, or a case's report) is bad.
fn rules_test(args: TestArgs) -> Result<ExitCode> {
    use audit_router::ruletest;
    let today = today()?;
    let plan = ruletest::collect_test_files(&args.tests)
        .and_then(|files| ruletest::load(&args.rules.rules, &files, today));
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
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
    use audit_router::routediff::{self, RulesSource};
    let opts = LoadOptions {
        resolve_env: !args.no_env,
        env_override: args.environment.clone(),
        today: today()?,
    };
    let new = routediff::load_side(&RulesSource::File(args.rules.clone()), &opts);
    let base = routediff::load_side(&RulesSource::parse(&args.base), &opts);
    let (new, base) = match (new, base) {
        (Ok(new), Ok(base)) => (new, base),
        (new, base) => {
            for e in [new.err(), base.err()].into_iter().flatten() {
                for d in &e.diagnostics {
                    eprintln!("{d}");
                }
            }
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
    for e in &result.errors {
        eprintln!("error: {}", e.error);
    }
    Ok(ExitCode::from(result.exit_code(args.exit_code)))
}
