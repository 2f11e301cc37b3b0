//! The command line: subcommands, flags and their help (the `--help` text). Every flag is an
//! interface (users' scripts pass them): add, never rename or repurpose.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "audit-router",
    version,
    about = "Routes AWS Backup Audit Manager reports to notification sinks by rules"
)]
pub(crate) struct Cli {
    /// With no subcommand under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set), runs the function.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
pub(crate) struct RulesArgs {
    /// The rules file.
    #[arg(long, env = "AUDIT_ROUTER_RULES", default_value = "rules.toml")]
    pub(crate) rules: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) rules: RulesArgs,
    /// Leave `${env:NAME}` references unresolved (for CI without the deployment's variables).
    #[arg(long)]
    pub(crate) no_env: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people: findings grouped per sink, then the exact messages.
    Text,
    /// For CI: sources, deliveries (findings and messages), counts.
    Json,
    /// Counts and message sizes only, no per-finding listing (bounded memory).
    Summary,
}

#[derive(Args, Debug)]
pub(crate) struct SourceArgs {
    #[command(flatten)]
    pub(crate) rules: RulesArgs,
    /// Environment of findings whose account maps to no environment.
    #[arg(long = "env", env = "AUDIT_ROUTER_ENV")]
    pub(crate) environment: Option<String>,
    /// A Lambda event (S3, EventBridge, SQS/SNS-wrapped, or {"bucket","key"}) naming the reports.
    #[arg(long, value_name = "FILE")]
    pub(crate) event: Option<PathBuf>,
    /// Report files or s3://bucket/key URIs.
    #[arg(value_name = "SOURCE")]
    pub(crate) sources: Vec<String>,
    /// No progress line on stderr (drawn only on a terminal: source, bytes read, findings routed).
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
}

#[derive(Args, Debug)]
pub(crate) struct DryRunArgs {
    #[command(flatten)]
    pub(crate) src: SourceArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    /// For each finding, show every rule tried and why it matched or not.
    #[arg(long)]
    pub(crate) explain: bool,
    /// Also write every rendered payload to DIR/<sink>/<n>.json|.txt (for snapshot tests).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Compare the SOURCE with this earlier report (a file or s3://bucket/key), routed with the
    /// same rules: which findings are new, ongoing and resolved. One SOURCE only.
    #[arg(long, value_name = "FILE|s3://…", conflicts_with = "state")]
    pub(crate) previous: Option<String>,
    /// Compare each S3 SOURCE with the state the function keeps (read, never written):
    /// the same new / ongoing / resolved as the function would send.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub(crate) state: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestFormat {
    /// Like `cargo test`: a line per case, then each failure with every rule's verdict.
    Text,
    /// Every case with its expected and actual routing.
    Json,
    /// JUnit XML, for CI systems that render test reports.
    Junit,
}

#[derive(Args, Debug)]
pub(crate) struct TestArgs {
    #[command(flatten)]
    pub(crate) rules: RulesArgs,
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub(crate) format: TestFormat,
    /// Test files (TOML, `[[case]]` tables), or directories of them.
    #[arg(value_name = "TESTS", required = true)]
    pub(crate) tests: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiffFormat {
    /// Per sink, the findings that start or stop going there, grouped like the dry run.
    Text,
    /// The whole comparison.
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The new rules file.
    #[arg(long, env = "AUDIT_ROUTER_RULES", default_value = "rules.toml")]
    pub(crate) rules: PathBuf,
    /// The rules to compare with: a path, or git:REV:path (read with `git show REV:path`).
    #[arg(long, value_name = "OLD")]
    pub(crate) base: String,
    /// Environment of findings whose account maps to no environment (both files).
    #[arg(long = "env", env = "AUDIT_ROUTER_ENV")]
    pub(crate) environment: Option<String>,
    /// Leave `${env:NAME}` references unresolved in both files (as `check --no-env`).
    #[arg(long)]
    pub(crate) no_env: bool,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub(crate) format: DiffFormat,
    /// Exit 1 when the routing of any finding differs (0 when it does not).
    #[arg(long)]
    pub(crate) exit_code: bool,
    /// Report files or s3://bucket/key URIs.
    #[arg(value_name = "SOURCE", required = true)]
    pub(crate) sources: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) src: SourceArgs,
    /// Give up retrying after this many seconds (per run).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub(crate) timeout: u64,
    /// `text` prints one line per sink and report; `json` the full outcomes (with messages).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    /// Keep delivery receipts under this S3 location, as the Lambda function does: send each
    /// report only to the sinks its receipt does not show as delivered, and record the outcomes.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub(crate) receipts: Option<String>,
    /// Keep the reports' state (what changed since the previous report of each stream) under
    /// this S3 location, or `off`. Default with --receipts: its `state/` folder, as the function.
    #[arg(long, value_name = "s3://BUCKET/PREFIX|off")]
    pub(crate) state: Option<String>,
    /// Append CloudWatch embedded-metric-format lines (namespace AuditRouter, one JSON document
    /// a line: per report, per finding status, per sink) to FILE; `-` writes them to stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) metrics: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct SendTestArgs {
    #[command(flatten)]
    pub(crate) rules: RulesArgs,
    /// The `[sinks.NAME]` to send the test message to.
    #[arg(long)]
    pub(crate) sink: String,
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub(crate) timeout: u64,
}
