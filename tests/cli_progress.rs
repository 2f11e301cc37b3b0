//! The progress line of `dry-run` and `send` (`audit_router::progress`): on a terminal's stderr,
//! one line per source redrawn in place — `[i/n] source: X of Y read, N findings routed` — and
//! erased at the end; nothing with `--quiet` or when stderr is not a terminal, and stdout the
//! same either way. The terminal is a real pseudo-terminal (Python's `pty` module); the counts
//! are checked against `dry-run --format json` of the same sources.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The example rules need these.
const ENV: [(&str, &str); 2] = [
    (
        "ALARM_TOPIC_ARN",
        "arn:aws:sns:us-east-1:111111111111:backup-alarms",
    ),
    (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T000/B000/XXXX",
    ),
];

/// Runs `cmd` with stderr on a pseudo-terminal (stdout to a file): (exit code, stdout, the
/// bytes the terminal received).
const ON_A_PTY: &str = r#"
import json, os, pty, subprocess, sys
master, slave = pty.openpty()
with open(sys.argv[1], "wb") as out:
    p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
os.close(slave)
got = b""
while True:
    try:
        data = os.read(master, 65536)
    except OSError:
        break
    if not data:
        break
    got += data
code = p.wait()
print(json.dumps({"code": code, "tty": got.decode("utf-8", "replace")}))
"#;

fn rules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules.toml")
}

fn audit_router(args: &[&str]) -> Vec<String> {
    let mut v = vec![env!("CARGO_BIN_EXE_audit-router").to_owned()];
    v.extend(args.iter().map(|s| (*s).to_owned()));
    v
}

/// (exit code, stdout, what the terminal showed).
fn on_a_pty(argv: &[String], dir: &Path) -> (i32, String, String) {
    let out_file = dir.join("stdout");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg("-c")
        .arg(ON_A_PTY)
        .arg(&out_file)
        .args(argv)
        .envs(ENV)
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (for a pseudo-terminal): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the pty runner's answer");
    let stdout = std::fs::read_to_string(&out_file).expect("stdout file");
    (
        v["code"].as_i64().expect("code") as i32,
        stdout,
        v["tty"].as_str().expect("tty").to_owned(),
    )
}

/// The same, stderr a pipe: (exit code, stdout, stderr).
fn piped(argv: &[String]) -> (i32, String, String) {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .envs(ENV)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run audit-router");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Two sources: the sample report and a generated gzip CSV of 3 000 items.
fn sources(dir: &Path) -> Vec<PathBuf> {
    use audit_router_gen::{Amount, Format, GenOptions, ReportTemplate, generate};
    let big = dir.join("RESOURCE_COMPLIANCE_REPORT_big.csv.gz");
    let mut opts = GenOptions::new(
        ReportTemplate::ResourceCompliance,
        Format::Csv,
        Amount::Items(3000),
    );
    opts.gzip = true;
    let file = std::fs::File::create(&big).expect("create");
    generate(&opts, std::io::BufWriter::new(file)).expect("generate");
    vec![
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples/reports/RESOURCE_COMPLIANCE_REPORT.json"),
        big,
    ]
}

#[test]
fn dry_run_draws_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let srcs = sources(dir.path());
    let names: Vec<&str> = srcs.iter().map(|p| p.to_str().expect("utf-8")).collect();
    let rules = rules();
    let mut args = vec!["dry-run", "--format", "summary", "--rules"];
    args.push(rules.to_str().expect("utf-8"));
    args.extend(&names);

    // The counts to expect, from the JSON output of the same run.
    let mut json_args = args.clone();
    json_args[2] = "json";
    let (code, json, _) = piped(&audit_router(&json_args));
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&json).expect("dry-run JSON");
    let routed: Vec<u64> = doc["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            s["items"].as_u64().expect("items")
                - s["silenced"].as_u64().expect("silenced")
                - s["unmatched"].as_u64().expect("unmatched")
        })
        .collect();
    assert!(routed[1] > 100, "{routed:?}");

    let (code, stdout, tty) = on_a_pty(&audit_router(&args), dir.path());
    assert_eq!(code, 0, "{tty}");
    for (i, (path, routed)) in srcs.iter().zip(&routed).enumerate() {
        let size = std::fs::metadata(path).expect("size").len();
        let human = audit_router::progress::human_bytes(size);
        let name = path.display().to_string();
        let shown: String = name
            .chars()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // Each source's last drawing: all of it read, every routed finding counted.
        let line = format!("{human} of {human} read, {routed} findings routed");
        let at = tty
            .find(&format!("[{}/2] ", i + 1))
            .unwrap_or_else(|| panic!("source {} is announced: {tty:?}", i + 1));
        assert!(
            tty[at..].contains(&line) && tty[at..].contains(&shown),
            "{line:?} after [{}/2]: {tty:?}",
            i + 1
        );
    }
    // Drawn in place, erased at the end.
    assert!(tty.contains("\r\x1b[2K["), "{tty:?}");
    assert!(tty.ends_with("\r\x1b[2K"), "the line is erased: {tty:?}");

    // The same output without a terminal, and no progress on stderr.
    let (code, piped_out, stderr) = piped(&audit_router(&args));
    assert_eq!(code, 0);
    assert_eq!(piped_out, stdout, "stdout does not depend on the terminal");
    assert!(
        !stderr.contains("findings routed") && !stderr.contains('\r'),
        "{stderr:?}"
    );

    // --quiet: nothing on the terminal.
    let mut quiet = args.clone();
    quiet.insert(1, "--quiet");
    let (code, quiet_out, tty) = on_a_pty(&audit_router(&quiet), dir.path());
    assert_eq!(code, 0);
    assert_eq!(quiet_out, stdout);
    assert!(tty.is_empty(), "--quiet draws nothing: {tty:?}");
}

/// A source that fails is still announced and the others go on; `send` draws the same line.
#[test]
fn send_draws_progress_and_a_bad_source_does_not_stop_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.toml");
    // A log sink only: `send` delivers to stdout, nothing remote.
    std::fs::write(
        &rules,
        "[sinks.audit-log]\ntype = \"log\"\n\n[[rules]]\nname = \"all\"\nsinks = [\"audit-log\"]\n",
    )
    .expect("rules");
    let report = common::fixture("reports/aws/RESOURCE_COMPLIANCE_REPORT.json");
    let missing = dir.path().join("missing.json");
    let argv = audit_router(&[
        "send",
        "--rules",
        rules.to_str().expect("utf-8"),
        missing.to_str().expect("utf-8"),
        report.to_str().expect("utf-8"),
    ]);
    let (code, stdout, tty) = on_a_pty(&argv, dir.path());
    assert_eq!(code, 1, "a source failed: {stdout}\n{tty}");
    assert!(
        tty.contains("[1/2] ") && tty.contains("missing.json"),
        "{tty:?}"
    );
    let size = std::fs::metadata(&report).expect("size").len();
    let human = audit_router::progress::human_bytes(size);
    assert!(
        tty.contains("[2/2] ")
            && tty.contains(&format!("{human} of {human} read, 12 findings routed")),
        "{tty:?}"
    );
    assert!(stdout.contains("delivered: sink audit-log"), "{stdout}");
    assert!(
        tty.contains("missing.json: no such file"),
        "the error is still printed: {tty:?}"
    );
}
