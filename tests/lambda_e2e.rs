//! End to end, on real programs: `moto_server` holds the report bucket, the SNS topic and an SQS
//! queue subscribed to it; the strict Slack stand-in (`tools/test-support/src/slack.rs`) is Slack; the function runs under the Lambda
//! Runtime API emulator of `cargo lambda watch` (which builds and starts the `audit-router`
//! binary with no subcommand, i.e. in Lambda mode) and is invoked with
//! `cargo lambda invoke --data-file` with an S3 event (a key with spaces and `:`) and an
//! EventBridge event.
//!
//! Needs `cargo-lambda` (pip `cargo-lambda==1.9.2`, see `scripts/install-test-tools.sh`). Without
//! it the test is skipped with a message, unless `CI=true` (then it fails).
//!
//! Run it alone with timings: `cargo test --test lambda_e2e -- --nocapture`.

mod common;
#[path = "handler_support/mod.rs"]
mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::moto::Moto;
use serde_json::Value;
use support::*;

const BUCKET: &str = "backup-audit-reports";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The Runtime API emulator of `cargo lambda watch --only-lambda-apis` (own process group) and
/// the function process attached to it; both stopped on drop.
///
/// `--only-lambda-apis` serves the Runtime and Invoke APIs and leaves starting the function to us,
/// so the function is the binary this test run built (`CARGO_BIN_EXE_audit-router`) rather than
/// one `cargo run` rebuilds: a plain `cargo build` of the binary resolves dependency features
/// without the dev-dependencies, which under `cargo test` meant a full second debug build.
struct Emulator {
    watch: Child,
    function: Option<Child>,
    port: u16,
    watch_log: PathBuf,
    function_log: PathBuf,
    /// When the function process was started.
    spawned: Option<Instant>,
}

impl Emulator {
    fn start(dir: &Path) -> Emulator {
        let watch_log = dir.join("watch.log");
        let mut failures = Vec::new();
        for _ in 0..3 {
            let port = common::moto::free_port();
            let out = std::fs::File::create(&watch_log).expect("watch log");
            let err = out.try_clone().expect("watch log");
            let mut cmd = Command::new("cargo");
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
                // How long an invoke may wait for the answer (the Slack outage retries take ~8 s).
                .args(["lambda", "watch", "--only-lambda-apis", "--timeout", "60"])
                .args(["-A", "127.0.0.1", "-P", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0);
            let watch = cmd.spawn().expect("spawn cargo lambda watch");
            let mut e = Emulator {
                watch,
                function: None,
                port,
                watch_log: watch_log.clone(),
                function_log: dir.join("function.log"),
                spawned: None,
            };
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return e;
                }
                if let Ok(Some(status)) = e.watch.try_wait() {
                    failures.push(format!("exited with {status}:\n{}", e.logs()));
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "cargo lambda watch did not listen on {port} within {READY_TIMEOUT:?}:\n{}",
                    e.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!(
            "cargo lambda watch did not start:\n{}",
            failures.join("\n---\n")
        );
    }

    /// Starts the function (Lambda mode: no subcommand, `AWS_LAMBDA_RUNTIME_API` set) with the
    /// variables the emulator asks for, plus `env`.
    fn start_function(&mut self, moto: &Moto, env: &[(String, String)]) {
        let out = std::fs::File::create(&self.function_log).expect("function log");
        let err = out.try_clone().expect("function log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_audit-router"));
        moto.configure(&mut cmd);
        cmd.env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{}/.rt", self.port),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
        self.spawned = Some(Instant::now());
        self.function = Some(cmd.spawn().expect("spawn the function"));
    }

    fn logs(&self) -> String {
        format!(
            "--- cargo lambda watch:\n{}\n--- function:\n{}",
            std::fs::read_to_string(&self.watch_log).unwrap_or_default(),
            std::fs::read_to_string(&self.function_log).unwrap_or_default()
        )
    }

    /// The function's JSON log lines.
    fn function_json(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.function_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// `cargo lambda invoke --data-file` with `event`; (output, wall time).
    async fn invoke(&self, dir: &Path, name: &str, event: &Value) -> (Output, Duration) {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(event).expect("event JSON"))
            .expect("write event");
        let mut cmd = Command::new("cargo");
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["lambda", "invoke", "-o", "json"])
            .args(["-A", "127.0.0.1", "-P", &self.port.to_string()])
            .arg("--data-file")
            .arg(&file);
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let out = cmd.output().expect("run cargo lambda invoke");
            (out, started.elapsed())
        })
        .await
        .expect("join")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut f) = self.function.take() {
            let _ = f.kill();
            let _ = f.wait();
        }
        let group = format!("-{}", self.watch.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.watch.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.watch.kill();
        let _ = self.watch.wait();
    }
}

fn describe(o: &Output, watcher: &Emulator) -> String {
    format!(
        "invoke status {}\nstdout:\n{}\nstderr:\n{}\nwatch log:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        watcher.logs()
    )
}

fn json_out(o: &Output, watcher: &Emulator) -> Value {
    assert!(o.status.success(), "{}", describe(o, watcher));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("invoke output is not JSON ({e}):\n{}", describe(o, watcher)))
}

fn state(receipt: &Value, sink: &str) -> String {
    receipt["sinks"][sink]["state"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_under_the_cargo_lambda_emulator() {
    if find_on_path("cargo-lambda").is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "cargo-lambda is not installed and CI=true: run scripts/install-test-tools.sh"
        );
        eprintln!(
            "SKIPPED lambda_under_the_cargo_lambda_emulator: cargo-lambda is not on PATH \
             (pip install cargo-lambda==1.9.2, or scripts/install-test-tools.sh)"
        );
        return;
    }
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let report = common::fixture_bytes(REPORT_FIXTURE);
    moto.put_object(BUCKET, REPORT_KEY, report.clone()).await;
    let (topic, queue) = topic_with_queue(&moto, "audit-router-e2e").await;
    let slack = SlackStandIn::start().await;

    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        rules_toml(
            &topic,
            &format!("{}/services/T0/B0/TESTSECRET-e2e", slack.uri()),
        ),
    )
    .expect("write rules");
    let env: Vec<(String, String)> = vec![
        ("AUDIT_ROUTER_RULES".into(), rules.display().to_string()),
        (
            "AUDIT_ROUTER_RECEIPTS".into(),
            format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/"),
        ),
        ("AUDIT_ROUTER_RECEIPT_LEASE_SECS".into(), "90".into()),
        ("AUDIT_ROUTER_REPORT_PREFIX".into(), "audit reports/".into()),
        ("RUST_LOG".into(), "info".into()),
    ];
    let mut watcher = Emulator::start(dir.path());
    watcher.start_function(&moto, &env);

    // 1. The S3 notification (key form-URL-encoded: `+` for spaces, `%3A` for `:`).
    let s3 = s3_event(BUCKET, REPORT_KEY);
    assert!(
        s3["Records"][0]["s3"]["object"]["key"]
            .as_str()
            .is_some_and(|k| k.contains('+') && k.contains("%3A")),
        "{s3}"
    );
    let (out, first) = watcher.invoke(dir.path(), "s3", &s3).await;
    let first_answer = watcher.spawned.map(|t| t.elapsed()).unwrap_or_default();
    let doc = json_out(&out, &watcher);
    assert_eq!(doc["reports"][0]["status"], "delivered", "{doc}");
    assert_eq!(
        doc["reports"][0]["report"],
        format!("s3://{BUCKET}/{REPORT_KEY}")
    );
    let sns = drain(&moto, &queue).await;
    assert_eq!(sns.len(), 1, "{sns:?}");
    assert_names_all("SNS message", &sns[0]);
    let slack_posts = posts(&slack);
    assert_eq!(slack_posts.len(), 1);
    assert_names_all("Slack payload", &slack_posts[0]);
    let receipt = read_receipt(&moto, BUCKET, REPORT_KEY).await;
    assert_eq!(state(&receipt, "ops-sns"), "delivered", "{receipt}");
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");

    // 2. The identical event again, and the EventBridge event for the same object: nothing sent.
    for (name, event) in [
        ("s3-again", s3.clone()),
        ("eventbridge", eventbridge_event(BUCKET, REPORT_KEY)),
    ] {
        let (out, _) = watcher.invoke(dir.path(), name, &event).await;
        let doc = json_out(&out, &watcher);
        assert_eq!(doc["reports"][0]["status"], "duplicate", "{name}: {doc}");
    }
    assert!(
        drain(&moto, &queue).await.is_empty(),
        "no second SNS message"
    );
    assert_eq!(posts(&slack).len(), 1, "no second Slack post");

    // 3. A Slack outage on a new report (EventBridge this time): SNS delivered, the invocation
    //    fails so Lambda would retry; the retry sends Slack only.
    let key2 = REPORT_KEY.replace("2026/11/26", "2026/11/27").replace(
        "2026-11-25T00:00:00Z_2026-11-26T00:00:00Z",
        "2026-11-26T00:00:00Z_2026-11-27T00:00:00Z",
    );
    moto.put_object(BUCKET, &key2, report).await;
    slack_status(&slack, 500);
    let event2 = eventbridge_event(BUCKET, &key2);
    let (out, _) = watcher.invoke(dir.path(), "outage", &event2).await;
    assert!(!out.status.success(), "{}", describe(&out, &watcher));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AuditRouter.RetryableDelivery") && stderr.contains("ops-slack"),
        "{}",
        describe(&out, &watcher)
    );
    assert_eq!(drain(&moto, &queue).await.len(), 1, "SNS delivered once");
    assert!(!posts(&slack).is_empty(), "Slack was tried");
    let receipt = read_receipt(&moto, BUCKET, &key2).await;
    assert_eq!(state(&receipt, "ops-sns"), "delivered", "{receipt}");
    assert_eq!(state(&receipt, "ops-slack"), "failed", "{receipt}");

    slack_status(&slack, 200);
    let (out, _) = watcher.invoke(dir.path(), "retry", &event2).await;
    let doc = json_out(&out, &watcher);
    assert_eq!(doc["reports"][0]["status"], "delivered", "{doc}");
    assert!(drain(&moto, &queue).await.is_empty(), "SNS not sent again");
    let slack_posts = posts(&slack);
    assert_eq!(slack_posts.len(), 1, "Slack sent once on the retry");
    assert_names_all("Slack payload", &slack_posts[0]);
    let receipt = read_receipt(&moto, BUCKET, &key2).await;
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");

    // The function logs JSON lines; report what the cold start cost.
    let lines = watcher.function_json();
    let init_ms = lines
        .iter()
        .find(|v| v["message"] == "ready for invocations")
        .and_then(|v| v["init_ms"].as_u64());
    assert!(
        init_ms.is_some(),
        "no JSON 'ready' line:\n{}",
        watcher.logs()
    );
    assert!(
        lines
            .iter()
            .any(|v| v["level"] == "ERROR" && v["sink"] == "ops-slack"),
        "the Slack failure is logged as a JSON ERROR line:\n{}",
        watcher.logs()
    );
    eprintln!(
        "lambda_e2e: init {} ms (logged by the function: config, rules, sinks, templates); \
         process start to first answer {} ms; first invoke {} ms wall (cargo lambda invoke)",
        init_ms.unwrap_or_default(),
        first_answer.as_millis(),
        first.as_millis()
    );
}
