//! `route_file`: the Lambda's routing path through the library, for `scripts/bench.sh`.
//!
//! Loads a rules file and routes each report file with
//! `audit_router::pipeline::route_report` and `RouteOptions::default()` (no per-finding
//! listing: the digests keep only what they render plus counts), then prints one summary line
//! per report and per digest. Peak RSS and CPU time of this process are the "library route
//! path" figures in BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench route_file --no-run       # prints the executable's path
//! target/release/deps/route_file-… --rules rules.toml REPORT [REPORT…]
//! ```
//! Run by `cargo bench` itself (no report given) it only prints its usage. `--read-only`
//! reads every item and checks its matchable fields (`report::read_report_items`, as the
//! route path does) without routing or grouping, to split the route path's cost between the
//! reader and the rest; `--route-only` also routes every finding (`Rules::route_view_memo`) but
//! groups nothing, to split routing from grouping.
//!
//! `--previous-state FILE` and `--write-state FILE` run the state stage too
//! (`pipeline::route_report_with_state`, as the Lambda with `AUDIT_ROUTER_STATE`): the report is
//! compared with the state document FILE (gzip JSON lines, as the store keeps them) and its own
//! document is made and written to FILE — the memory of both counts in the peak RSS. Either
//! alone is fine: `--write-state` without `--previous-state` is a stream's first report.

use anyhow::{Context, Result, bail};
use audit_router::location::ReportLocation;
use audit_router::pipeline::{RouteOptions, route_report};
use audit_router::rules::{LoadOptions, Rules};
use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: route_file --rules RULES.toml [--read-only | --route-only] \
     [--previous-state FILE] [--write-state FILE] REPORT [REPORT...]";

fn main() -> Result<ExitCode> {
    let mut rules_path = None;
    let mut reports = Vec::new();
    let mut under_cargo_bench = false;
    let mut read_only = false;
    let mut route_only = false;
    let mut previous_state: Option<PathBuf> = None;
    let mut write_state: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rules" => rules_path = Some(PathBuf::from(args.next().context(USAGE)?)),
            // `cargo bench` passes `--bench` (and maybe a filter) to every bench target.
            "--bench" => under_cargo_bench = true,
            "--read-only" => read_only = true,
            "--route-only" => route_only = true,
            "--previous-state" => previous_state = Some(PathBuf::from(args.next().context(USAGE)?)),
            "--write-state" => write_state = Some(PathBuf::from(args.next().context(USAGE)?)),
            a if a.starts_with("--") => bail!("unknown option {a}\n{USAGE}"),
            a => reports.push(PathBuf::from(a)),
        }
    }
    let Some(rules_path) = rules_path else {
        eprintln!("{USAGE}");
        return Ok(if under_cargo_bench {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    };
    if reports.is_empty() {
        bail!("no report given\n{USAGE}");
    }
    let today = chrono::Utc::now().date_naive();
    let (rules, _warnings) =
        Rules::load(&rules_path, &LoadOptions::new(today)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = RouteOptions::default();
    for path in reports {
        let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let location = ReportLocation::Local(path);
        if read_only {
            let (mut items, mut flagged) = (0u64, 0u64);
            let name = location.to_string();
            let limits = audit_router::report::ReadLimits::default();
            audit_router::report::read_report_items(file, &name, None, &limits, &mut |item| {
                items += 1;
                flagged += u64::from(item.view.status == Some("NON_COMPLIANT"));
            })?;
            println!("{location}: {items} items read, {flagged} non-compliant");
            continue;
        }
        if route_only {
            let (mut items, mut deliveries) = (0u64, 0u64);
            let mut routing = audit_router::rules::Routing::default();
            let mut memo = audit_router::rules::RouteMemo::new();
            let name = location.to_string();
            let limits = audit_router::report::ReadLimits::default();
            audit_router::report::read_report_items(file, &name, None, &limits, &mut |item| {
                items += 1;
                let mut view = item.view;
                rules.route_view_memo(&mut view, &mut routing, &mut memo);
                deliveries += routing.deliveries.len() as u64;
            })?;
            println!("{location}: {items} items routed, {deliveries} deliveries");
            continue;
        }
        let run = if previous_state.is_some() || write_state.is_some() {
            let run = route_with_state(&rules, file, &location, &opts, previous_state.as_deref())?;
            if let (Some(out), Some(state)) = (&write_state, &run.state) {
                std::fs::write(out, &state.document)
                    .with_context(|| format!("writing {}", out.display()))?;
                println!(
                    "  state: {} bytes (gzip), {} quiet sinks",
                    state.document.len(),
                    state.quiet.len()
                );
            }
            run
        } else {
            route_report(&rules, file, &location, &opts)?
        };
        println!(
            "{location}: {} items, {:?} {}{}, {} silenced, {} unmatched",
            run.info.items,
            run.info.template.map(|t| t.name()),
            run.info.format,
            if run.info.gzip { " (gzip)" } else { "" },
            run.silenced,
            run.unmatched
        );
        for d in &run.digests {
            let kept: usize = d.groups.iter().map(|g| g.findings.len()).sum();
            println!(
                "  {}: {} findings in {} groups, {} kept, {} omitted{}",
                d.sink,
                d.total,
                d.groups.len(),
                kept,
                d.omitted,
                d.changes.as_ref().map_or_else(String::new, |c| format!(
                    "; {} new, {} ongoing, {} resolved ({} listed)",
                    c.new,
                    c.ongoing,
                    c.resolved,
                    c.resolved_findings.len()
                ))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The route path with the state stage: `previous` is a state document's file.
fn route_with_state(
    rules: &Rules,
    file: File,
    location: &ReportLocation,
    opts: &RouteOptions,
    previous: Option<&std::path::Path>,
) -> Result<audit_router::pipeline::ReportRun> {
    use audit_router::state::{document, stream};
    let time = stream::report_time(location, None)
        .map(|t| t.at)
        .unwrap_or_else(chrono::Utc::now);
    let previous = match previous {
        Some(p) => Some((
            p.display().to_string(),
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        )),
        None => None,
    };
    let header = document::Header {
        audit_router_state: document::STATE_VERSION,
        report: location.to_string(),
        report_etag: None,
        template: audit_router::ReportTemplate::ResourceCompliance,
        report_time: time.to_rfc3339(),
        date: time.date_naive(),
        stream: None,
        previous: None,
        created_at: chrono::Utc::now().to_rfc3339(),
    };
    let input = audit_router::pipeline::StateInput { header, previous };
    audit_router::pipeline::route_report_with_state(rules, file, location, opts, Some(input))
        .map_err(|e| anyhow::anyhow!("{e}"))
}
