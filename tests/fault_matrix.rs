//! The fault matrix (docs/reliability.md): the Lambda handler, in-process, driven through an
//! emulation of Lambda's asynchronous-invocation policy, against real programs — `moto_server` (S3
//! report and receipts, SNS topic with an SQS queue subscribed, the on-failure SQS queue), a
//! fault-injecting proxy in front of moto (`tests/common/fault_proxy.rs`), the strict Slack
//! stand-in (`tools/test-support/src/slack.rs`), wiremock as a webhook, a listener that never
//! answers, a port nobody listens on, and moto stopped mid-run.
//!
//! Every row asserts what the user gets across the whole retry sequence: each routed sink got the
//! digest naming every non-compliant resource exactly once (or at least once, where the doc says
//! so), or every invocation failed and the on-failure queue holds the event. No row may leak a
//! test secret (every one contains `TESTSECRET`): returned errors, receipts and dead-letter
//! records are checked here, the logs (debug level, printed to the test output) by
//! `scripts/test.sh`.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "handler_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_router::deliver::RetryPolicy;
use audit_router::lambda::{ANSWER_RESERVE, Handler, HandlerError, LambdaConfig};
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use common::moto::{ACCESS_KEY, Moto, REGION, SECRET_KEY};
use fault_proxy::{Blackhole, FaultProxy, Rule};
use serde_json::{Value, json};
use support::{
    Answer, RECEIPTS_PREFIX, REPORT_FIXTURE, REPORT_KEY, SlackStandIn, assert_names_all, s3_event,
};
use tokio::time::Instant;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const BUCKET: &str = "reports";
/// Every secret of the test suite contains this; `scripts/test.sh` greps the suite's output for it.
const MARKER: &str = "TESTSECRET";
const SLACK_PATH: &str = "/services/T0TESTSECRET/B0/xoxb-TESTSECRET-fault";
const HOOK_PATH: &str = "/ingest/TESTSECRET-path";
const HOOK_TOKEN: &str = "Bearer TESTSECRET-webhook-token";
/// The start of the report's S3 request target (path-style, the key percent-encoded).
const REPORT_TARGET: &str = "/reports/audit%20reports/";
/// The start of a receipt's S3 request target.
const RECEIPT_TARGET: &str = "/reports/audit-router-receipts/";
/// The state (what changed since the previous report): its own prefix, as the template has it.
const STATE_PREFIX: &str = "audit-router-state";
/// The start of a state document's S3 request target.
const STATE_TARGET: &str = "/reports/audit-router-state/";
/// The time an invocation gets for its deliveries (the Lambda deadline minus the margin).
const BUDGET: Duration = Duration::from_secs(4);
/// Lambda's function timeout in this emulation: past it the invocation is killed (an error).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(8);

fn init_logs() {
    // Debug level everywhere (our crates and the HTTP/AWS ones), printed through the test writer so
    // `cargo test -- --show-output` carries it into the log `scripts/test.sh` greps for secrets.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_sdk_s3=info,\
             aws_sdk_sns=info,aws_config=info,hyper_util=info,h2=info,rustls=info,handlebars=info",
        ))
        .with_test_writer()
        .try_init();
}

// ------------------------------------------------------------------------------------------------
// Lambda's asynchronous-invocation policy, emulated.
// ------------------------------------------------------------------------------------------------

/// `EventInvokeConfig.MaximumRetryAttempts` of template.yaml: the emulation follows the template.
fn maximum_retry_attempts() -> u32 {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    let re = regex::Regex::new(r"MaximumRetryAttempts:\s*(\d+)").expect("regex");
    re.captures(&text)
        .and_then(|c| c[1].parse().ok())
        .expect("template.yaml sets EventInvokeConfig.MaximumRetryAttempts")
}

/// What happened to one event across Lambda's attempts.
struct Async {
    /// One per invocation, in order.
    results: Vec<Result<Value, HandlerError>>,
    /// The destination record sent to the on-failure queue, if retries ran out.
    dead_letter: Option<Value>,
}

impl Async {
    fn errors(&self) -> Vec<&HandlerError> {
        self.results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .collect()
    }
    fn last_ok(&self) -> &Value {
        match self.results.last() {
            Some(Ok(v)) => v,
            other => panic!("the last invocation must succeed: {other:?}"),
        }
    }
}

/// Invokes `handler` with `event` as Lambda does an asynchronous invocation: up to
/// 1 + MaximumRetryAttempts times (same request id), `between(n)` running before retry `n` (the
/// fault may go away meanwhile; Lambda waits 1 and 2 minutes, scaled here to `wait`), and when
/// every attempt failed, the destination record (the original event as `requestPayload`) is sent
/// to the on-failure SQS queue at `on_failure` = (moto endpoint, queue URL).
async fn invoke_async(
    handler: &Handler,
    event: &Value,
    request_id: &str,
    wait: Duration,
    on_failure: impl Fn() -> (String, String),
    mut between: impl AsyncFnMut(u32),
) -> Async {
    let attempts = 1 + maximum_retry_attempts();
    let mut results = Vec::new();
    for n in 0..attempts {
        if n > 0 {
            tokio::time::sleep(wait).await;
            between(n).await;
        }
        let started = Instant::now();
        let deadline = started + BUDGET;
        let result = match tokio::time::timeout(
            FUNCTION_TIMEOUT,
            handler.handle_payload(
                event,
                request_id,
                Some(deadline),
                // Receipt writes may run into the margin, up to just before the kill.
                Some(started + FUNCTION_TIMEOUT - ANSWER_RESERVE),
            ),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(HandlerError {
                error_type: "Sandbox.Timedout",
                message: format!("Task timed out after {FUNCTION_TIMEOUT:?}"),
            }),
        };
        let ok = result.is_ok();
        results.push(result);
        if ok {
            return Async {
                results,
                dead_letter: None,
            };
        }
    }
    let last = match results.last() {
        Some(Err(e)) => e.clone(),
        _ => unreachable!("every attempt failed"),
    };
    let record = json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:audit-router-test:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": last.error_type, "errorMessage": last.message},
    });
    let (endpoint, queue) = on_failure();
    sqs(
        &endpoint,
        "SendMessage",
        json!({"QueueUrl": queue, "MessageBody": record.to_string()}),
    )
    .await;
    Async {
        results,
        dead_letter: Some(record),
    }
}

async fn no_change(_: u32) {}

// ------------------------------------------------------------------------------------------------
// The webhook as wiremock, with a script of answers (an in-house endpoint that takes any JSON:
// these rows are about the transport). Slack is the strict stand-in (tools/test-support/src/slack.rs).
// ------------------------------------------------------------------------------------------------

/// Answers 200 `ok` to everything; logs (time, status, body) of every request.
#[derive(Clone, Default)]
struct Script {
    log: Arc<Mutex<Vec<(Instant, u16, String)>>>,
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        lock(&self.log).push((
            Instant::now(),
            200,
            String::from_utf8_lossy(&request.body).into_owned(),
        ));
        ResponseTemplate::new(200).set_body_string("ok")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Script {
    /// Bodies of the requests answered 2xx: the deliveries.
    fn delivered(&self) -> Vec<String> {
        lock(&self.log)
            .iter()
            .filter(|(_, s, _)| (200..300).contains(s))
            .map(|(_, _, b)| b.clone())
            .collect()
    }
    fn requests(&self) -> usize {
        lock(&self.log).len()
    }
}

async fn scripted_server(listener: Option<std::net::TcpListener>) -> (MockServer, Script) {
    let server = match listener {
        Some(l) => MockServer::builder().listener(l).start().await,
        None => MockServer::start().await,
    };
    let script = Script::default();
    Mock::given(method("POST"))
        .respond_with(script.clone())
        .mount(&server)
        .await;
    (server, script)
}

// ------------------------------------------------------------------------------------------------
// The environment of one row.
// ------------------------------------------------------------------------------------------------

/// Where Slack is.
enum SlackAt {
    /// The strict Slack stand-in: it checks every body as Slack does; rows script its answers.
    StandIn,
    /// A listener that reads requests and never answers.
    Blackhole,
    /// A port nobody listens on (connection refused).
    Refused,
}

struct Env {
    /// `None` once stopped; replaced by a restarted one.
    moto: Arc<Mutex<Option<Moto>>>,
    proxy: FaultProxy,
    /// The strict Slack stand-in (unused when Slack is a black hole or refused).
    slack: SlackStandIn,
    hole: Option<Blackhole>,
    refused: Option<u16>,
    hook: Script,
    _hook_server: MockServer,
    topic: String,
    queue: String,
    failed_queue: String,
    _dir: tempfile::TempDir,
    rules: std::path::PathBuf,
    receipts: String,
}

struct Seeded {
    topic: String,
    queue: String,
    failed_queue: String,
}

/// The report, the SNS topic with its queue, and the on-failure queue, in `moto`.
async fn seed(moto: &Moto, name: &str) -> Seeded {
    moto.create_bucket(BUCKET).await;
    moto.put_object(BUCKET, REPORT_KEY, common::fixture_bytes(REPORT_FIXTURE))
        .await;
    let (topic, queue) = support::topic_with_queue(moto, name).await;
    let q = sqs(
        &moto.endpoint(),
        "CreateQueue",
        json!({"QueueName": format!("{name}-failed-events")}),
    )
    .await;
    let failed_queue = q["QueueUrl"].as_str().expect("QueueUrl").to_owned();
    Seeded {
        topic,
        queue,
        failed_queue,
    }
}

fn rules_toml(topic: &str, slack_url: &str, hook_url: &str) -> String {
    format!(
        r#"[settings]
default_environment = "prod"

[sinks.ops-sns]
type = "sns"
topic_arn = "{topic}"

[sinks.ops-slack]
type = "slack"
url = "{slack_url}"
allow_insecure_http = true
timeout_secs = 30

[sinks.ops-hook]
type = "webhook"
url = "{hook_url}"
allow_insecure_http = true
headers = {{ Authorization = "{HOOK_TOKEN}" }}

[[rules]]
name = "non-compliant"
sinks = ["ops-sns", "ops-slack", "ops-hook"]
[rules.match]
status = "NON_COMPLIANT"
"#
    )
}

/// Retries within one invocation: two attempts, short backoff; `Retry-After` honoured up to 2 s.
fn test_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
    }
}

/// The SDK configuration the handler gets: every AWS call through the proxy. Production defaults
/// except the timing: the SDK's standard retry (3 attempts) with a 20 ms initial backoff instead
/// of 1 s, and the stalled-download protection's grace period 1 s instead of 20 s.
async fn sdk_through(proxy: &FaultProxy) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(proxy.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(Duration::from_secs(1))
                .build(),
        )
        .load()
        .await
}

async fn setup(name: &str, slack_at: SlackAt) -> Env {
    init_logs();
    let moto = Moto::start();
    let seeded = seed(&moto, name).await;
    let proxy = FaultProxy::start(moto.port()).await;
    let slack = SlackStandIn::start().await;
    let (hole, refused, slack_base) = match slack_at {
        SlackAt::StandIn => (None, None, slack.uri()),
        SlackAt::Blackhole => {
            let hole = Blackhole::start(Duration::from_secs(20)).await;
            let uri = hole.uri();
            (Some(hole), None, uri)
        }
        SlackAt::Refused => {
            let port = common::moto::free_port();
            (None, Some(port), format!("http://127.0.0.1:{port}"))
        }
    };
    let (hook_server, hook) = scripted_server(None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        rules_toml(
            &seeded.topic,
            &format!("{slack_base}{SLACK_PATH}"),
            &format!("{}{HOOK_PATH}", hook_server.uri()),
        ),
    )
    .expect("write rules");
    Env {
        moto: Arc::new(Mutex::new(Some(moto))),
        proxy,
        slack,
        hole,
        refused,
        hook,
        _hook_server: hook_server,
        topic: seeded.topic,
        queue: seeded.queue,
        failed_queue: seeded.failed_queue,
        _dir: dir,
        rules,
        receipts: format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/"),
    }
}

impl Env {
    /// A handler as one Lambda execution environment has it after its cold start.
    async fn handler(&self) -> Handler {
        let map: HashMap<&str, String> = HashMap::from([
            ("AUDIT_ROUTER_RULES", self.rules.display().to_string()),
            ("AUDIT_ROUTER_RECEIPTS", self.receipts.clone()),
            (
                "AUDIT_ROUTER_STATE",
                format!("s3://{BUCKET}/{STATE_PREFIX}/"),
            ),
            ("AUDIT_ROUTER_REPORT_PREFIX", "audit reports/".to_owned()),
        ]);
        let cfg = LambdaConfig::from_vars(|n| map.get(n).cloned()).expect("config");
        let mut handler = Handler::init(&cfg, sdk_through(&self.proxy).await)
            .await
            .expect("init");
        handler.retry = test_retries();
        handler
    }

    fn endpoint(&self) -> String {
        lock(&self.moto)
            .as_ref()
            .map(Moto::endpoint)
            .expect("moto is running")
    }

    fn on_failure(&self) -> impl Fn() -> (String, String) + '_ {
        move || (self.endpoint(), self.failed_queue.clone())
    }

    /// The SNS messages published (removed from the queue).
    async fn sns(&self) -> Vec<String> {
        drain(&self.endpoint(), &self.queue).await
    }

    /// The records in the on-failure queue (removed).
    async fn dead_letters(&self) -> Vec<Value> {
        drain_raw(&self.endpoint(), &self.failed_queue)
            .await
            .into_iter()
            .map(|b| serde_json::from_str(&b).expect("destination record is JSON"))
            .collect()
    }

    async fn receipt(&self) -> Option<Value> {
        let s3 = s3_at(&self.endpoint()).await;
        let out = s3
            .get_object()
            .bucket(BUCKET)
            .key(format!("{RECEIPTS_PREFIX}/{BUCKET}/{REPORT_KEY}.json"))
            .send()
            .await
            .ok()?;
        let body = out.body.collect().await.expect("receipt body").into_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        assert_no_secret("the receipt in S3", &text);
        Some(serde_json::from_str(&text).expect("receipt is JSON"))
    }
}

fn event() -> Value {
    s3_event(BUCKET, REPORT_KEY)
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(MARKER),
        "{what} leaks a secret (contains {MARKER}); redacted text expected"
    );
}

/// No invocation result and no dead letter contains a secret.
fn assert_no_secret_in(run: &Async) {
    for r in &run.results {
        match r {
            Ok(v) => assert_no_secret("an invocation result", &v.to_string()),
            Err(e) => assert_no_secret("an invocation error", &e.message),
        }
    }
    if let Some(d) = &run.dead_letter {
        assert_no_secret("the destination record", &d.to_string());
    }
}

/// Exactly one delivery to each sink, naming every non-compliant control and resource.
fn assert_once(sink: &str, delivered: &[String]) {
    assert_eq!(
        delivered.len(),
        1,
        "{sink}: exactly one delivery expected, got {}",
        delivered.len()
    );
    assert_names_all(sink, &delivered[0]);
}

/// At least once and at most once per invocation to each sink (SNS, Slack, webhook), the
/// last delivery naming every non-compliant control and resource; returns how many each got.
async fn assert_at_least_once(env: &Env) -> [(&'static str, usize); 3] {
    let counts = [
        ("ops-sns", env.sns().await),
        ("ops-slack", env.slack.delivered()),
        ("ops-hook", env.hook.delivered()),
    ];
    for (sink, delivered) in &counts {
        assert!(
            (1..=2).contains(&delivered.len()),
            "{sink}: at least once, at most once per invocation: {}",
            delivered.len()
        );
        assert_names_all(sink, delivered.last().expect("one"));
    }
    counts.map(|(sink, delivered)| (sink, delivered.len()))
}

fn state(receipt: &Value, sink: &str) -> String {
    receipt["sinks"][sink]["state"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

/// The event reached the on-failure queue, unchanged, as the destination record's payload.
async fn assert_dead_lettered(env: &Env, run: &Async) {
    assert!(run.dead_letter.is_some(), "retries ran out: dead-lettered");
    let records = env.dead_letters().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["requestPayload"], event());
    assert_eq!(
        records[0]["requestContext"]["approximateInvokeCount"],
        1 + maximum_retry_attempts()
    );
    assert_eq!(run.results.len() as u32, 1 + maximum_retry_attempts());
}

// ------------------------------------------------------------------------------------------------
// moto access by endpoint (moto may be restarted mid-test).
// ------------------------------------------------------------------------------------------------

use common::moto::sqs_at as sqs;

async fn drain_raw(endpoint: &str, queue: &str) -> Vec<String> {
    common::moto::receive_at(endpoint, queue, true).await
}

async fn drain(endpoint: &str, queue: &str) -> Vec<String> {
    common::moto::drain_messages_at(endpoint, queue).await
}

async fn s3_at(endpoint: &str) -> aws_sdk_s3::Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
        .load()
        .await;
    audit_router::fetch::s3_client_from_config(&sdk)
}

// ================================================================================================
// S3 GetObject faults
// ================================================================================================

/// 503 SlowDown four times: the SDK's own three attempts absorb none of the first invocation's
/// answers, so it fails (transient) before claiming anything; Lambda's retry gets one more 503,
/// the SDK retries, and everything is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_get_503_slowdown_then_ok() {
    let env = setup("slowdown", SlackAt::StandIn).await;
    env.proxy
        .add(Rule::new("GET", REPORT_TARGET).times(4).respond(
            503,
            "SlowDown",
            "Please reduce your request rate.",
        ));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert!(
        err.message.contains("SlowDown")
            && err.message.contains(REPORT_KEY)
            && !err.message.contains("permanent"),
        "{err}"
    );
    assert_eq!(run.last_ok()["reports"][0]["status"], "delivered");
    assert_eq!(env.proxy.count("GET", REPORT_TARGET), 3 + 2, "SDK retries");
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
    assert!(run.dead_letter.is_none());
    assert_no_secret_in(&run);
    env.receipt().await.expect("receipt");
}

/// 500 on every GetObject: every invocation fails, nothing is claimed or sent, and the event
/// lands in the on-failure queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_get_500_persistent_dead_letters_the_event() {
    let env = setup("s3-500", SlackAt::StandIn).await;
    env.proxy.add(Rule::new("GET", REPORT_TARGET).respond(
        500,
        "InternalError",
        "We encountered an internal error. Please try again.",
    ));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert!(
            e.message.contains("InternalError") && e.message.contains(REPORT_KEY),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert_eq!(
        env.proxy.count("GET", REPORT_TARGET),
        3 * (1 + maximum_retry_attempts()) as usize
    );
    assert!(env.sns().await.is_empty());
    assert_eq!(env.slack.requests() + env.hook.requests(), 0);
    assert!(env.receipt().await.is_none(), "nothing claimed");
    assert_no_secret_in(&run);
}

/// GetObject never answers: the invocation fails at its deadline (not at Lambda's timeout),
/// naming the report; the retry delivers once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_get_without_answer_fails_at_the_deadline_then_retry_delivers() {
    let env = setup("s3-hang", SlackAt::StandIn).await;
    env.proxy.add(
        Rule::new("GET", REPORT_TARGET)
            .times(1)
            .hang(Duration::from_secs(30)),
    );
    let handler = env.handler().await;
    let started = Instant::now();
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| {
            assert!(
                started.elapsed() < FUNCTION_TIMEOUT,
                "the first invocation returned before Lambda's timeout"
            );
        },
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert_eq!(err.error_type, "AuditRouter.Timeout", "{err}");
    assert!(
        err.message.contains(REPORT_KEY) && err.message.contains("deadline"),
        "{err}"
    );
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
    assert_no_secret_in(&run);
}

/// The body stalls after 200 bytes: the SDK's stalled-stream protection breaks the read; the
/// failure is transient, the claim is given back, and the retry delivers once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_body_stalls_midway_then_retry_delivers() {
    let env = setup("s3-stall", SlackAt::StandIn).await;
    env.proxy.add(
        Rule::new("GET", REPORT_TARGET)
            .times(1)
            .stall(200, Duration::from_secs(10)),
    );
    let handler = env.handler().await;
    let mut claim_after_failure = None;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| claim_after_failure = env.receipt().await.map(|r| r["claim"].clone()),
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert!(
        err.message.contains(REPORT_KEY) && !err.message.contains("permanent"),
        "{err}"
    );
    assert_eq!(
        claim_after_failure,
        Some(Value::Null),
        "the failed run gave its claim back"
    );
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
    assert_no_secret_in(&run);
}

/// The connection breaks after 200 bytes of body: a transient read error; the retry delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_body_cut_midway_then_retry_delivers() {
    let env = setup("s3-cut", SlackAt::StandIn).await;
    env.proxy.add(
        Rule::new("GET", REPORT_TARGET)
            .times(1)
            .stall(200, Duration::ZERO),
    );
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert!(
        err.message.contains(REPORT_KEY) && !err.message.contains("permanent"),
        "{err}"
    );
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
}

/// The report is deleted between the event and the read: a clear permanent error naming it;
/// nothing is sent; Lambda's two retries fail the same way (cheaply) and the event is
/// dead-lettered, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_deleted_before_read_is_permanent_and_dead_lettered() {
    let env = setup("s3-gone", SlackAt::StandIn).await;
    s3_at(&env.endpoint())
        .await
        .delete_object()
        .bucket(BUCKET)
        .key(REPORT_KEY)
        .send()
        .await
        .expect("delete the report");
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.BadReport");
        assert!(
            e.message.contains(REPORT_KEY)
                && e.message.contains("no such object")
                && e.message.contains("permanent"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert_eq!(
        env.proxy.count("GET", REPORT_TARGET),
        (1 + maximum_retry_attempts()) as usize,
        "a 404 is not retried by the SDK"
    );
    assert!(env.sns().await.is_empty());
    assert_eq!(env.slack.requests() + env.hook.requests(), 0);
}

/// The role may not read the report (403 AccessDenied: a missing s3:GetObject, a bucket policy or
/// a KMS key policy): permanent, not retried by the SDK, and the error says which permission on
/// which object; nothing claimed or sent; the event is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_get_access_denied_is_permanent_and_names_the_permission() {
    let env = setup("s3-get-403", SlackAt::StandIn).await;
    env.proxy.add(Rule::new("GET", REPORT_TARGET).respond(
        403,
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/audit-router/fn is not authorized",
    ));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.BadReport");
        assert!(
            e.message.contains("AccessDenied (HTTP 403)")
                && e.message.contains(&format!(
                    "s3:GetObject on arn:aws:s3:::{BUCKET}/{REPORT_KEY}"
                ))
                && e.message.contains("KMS key policy")
                && e.message.contains("permanent"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert_eq!(
        env.proxy.count("GET", REPORT_TARGET),
        (1 + maximum_retry_attempts()) as usize,
        "a 403 is not retried by the SDK"
    );
    assert!(env.sns().await.is_empty());
    assert_eq!(env.slack.requests() + env.hook.requests(), 0);
}

// ================================================================================================
// SNS faults
// ================================================================================================

/// The topic is gone (NotFound): SNS fails for good, Slack and the webhook get the digest once;
/// the invocation fails so the event reaches the on-failure queue (and its alarm), and the retries
/// only re-try SNS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_topic_deleted_is_permanent_others_once_and_dead_lettered() {
    let env = setup("sns-gone", SlackAt::StandIn).await;
    let sdk = lock(&env.moto)
        .as_ref()
        .map(|m| m.endpoint())
        .expect("moto");
    let sns = aws_sdk_sns::Client::new(
        &aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(sdk)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
            .load()
            .await,
    );
    sns.delete_topic()
        .topic_arn(&env.topic)
        .send()
        .await
        .expect("delete topic");
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.PermanentDelivery", "{e}");
        assert!(
            e.message.contains("ops-sns") && e.message.contains("NotFound"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
    assert_eq!(
        env.proxy.count("POST", "/"),
        1 + maximum_retry_attempts() as usize,
        "one publish per invocation: permanent errors are not retried within one"
    );
    let receipt = env.receipt().await.expect("receipt");
    assert_eq!(state(&receipt, "ops-sns"), "failed", "{receipt}");
    assert_eq!(receipt["sinks"]["ops-sns"]["retryable"], false);
    assert_eq!(receipt["sinks"]["ops-sns"]["attempts"], 3);
    assert_eq!(state(&receipt, "ops-slack"), "delivered");
    assert_no_secret_in(&run);
}

/// SNS answers 500 through the first invocation: the SDK and the delivery retries give up, the
/// invocation fails; the retry publishes once and sends nothing else again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_5xx_fails_the_invocation_then_retry_publishes_once() {
    let env = setup("sns-500", SlackAt::StandIn).await;
    env.proxy
        .add(Rule::new("POST", "/").body("Action=Publish").respond(
            500,
            "InternalError",
            "injected",
        ));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| env.proxy.clear(),
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert_eq!(err.error_type, "AuditRouter.RetryableDelivery");
    assert!(
        err.message.contains("ops-sns") && err.message.contains("retryable"),
        "{err}"
    );
    let mut already: Vec<String> =
        serde_json::from_value(run.last_ok()["reports"][0]["already_delivered"].clone())
            .expect("already_delivered");
    already.sort();
    assert_eq!(
        already,
        ["ops-hook", "ops-slack"],
        "the retry sent SNS only"
    );
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
    assert_no_secret_in(&run);
}

// ================================================================================================
// Slack faults
// ================================================================================================

/// 429 with `Retry-After: 1`: the send waits the second, then succeeds in the same invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_429_with_retry_after_is_honoured() {
    let env = setup("slack-429-ra", SlackAt::StandIn).await;
    env.slack.push(Answer::rate_limited(1));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    assert_eq!(run.results.len(), 1, "{:?}", run.results);
    let times = env.slack.times();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(950),
        "waited {:?}, Retry-After said 1 s",
        times[1] - times[0]
    );
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
}

/// 429 without `Retry-After`: exponential backoff, then success in the same invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_429_without_retry_after_backs_off() {
    let env = setup("slack-429", SlackAt::StandIn).await;
    env.slack.push(Answer::status(429, "rate_limited"));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    assert_eq!(run.results.len(), 1, "{:?}", run.results);
    assert_eq!(env.slack.requests(), 2);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
}

/// Slack answers 500 on every request: SNS and the webhook get it once; every invocation fails
/// and retries only Slack; the event is dead-lettered; the receipt counts the attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_500_persistent_others_once_and_dead_lettered() {
    let env = setup("slack-500", SlackAt::StandIn).await;
    env.slack.always(Some(Answer::status(500, "rollup_error")));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.RetryableDelivery");
        assert!(e.message.contains("ops-slack") && e.message.contains("HTTP 500"));
    }
    assert_dead_lettered(&env, &run).await;
    assert!(env.slack.delivered().is_empty());
    assert_eq!(
        env.slack.requests(),
        2 * (1 + maximum_retry_attempts()) as usize,
        "two attempts per invocation"
    );
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
    let receipt = env.receipt().await.expect("receipt");
    assert_eq!(state(&receipt, "ops-slack"), "failed");
    assert_eq!(receipt["sinks"]["ops-slack"]["retryable"], true);
    assert_eq!(receipt["sinks"]["ops-slack"]["attempts"], 3);
    assert_no_secret_in(&run);
}

/// Slack refuses the payload (400 invalid_blocks), and the minimal fallback message too:
/// permanent, not retried within an invocation; the invocation fails so the event is
/// dead-lettered; the others get it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_400_invalid_blocks_is_permanent_and_dead_lettered() {
    let env = setup("slack-400", SlackAt::StandIn).await;
    env.slack
        .always(Some(Answer::status(400, "invalid_blocks")));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.PermanentDelivery", "{e}");
        assert!(
            e.message.contains("invalid_blocks") && e.message.contains("permanent"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert_eq!(
        env.slack.requests(),
        2 * (1 + maximum_retry_attempts()) as usize,
        "per invocation one attempt and one fallback message, both refused"
    );
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
    let receipt = env.receipt().await.expect("receipt");
    assert_eq!(receipt["sinks"]["ops-slack"]["retryable"], false);
    assert_no_secret_in(&run);
}

/// Slack refuses the digest with `msg_blocks_too_long` (its undocumented cumulative limit, here
/// forced once): the sink sends the minimal fallback message instead, which Slack takes; the
/// invocation succeeds (nothing left to retry), the receipt records the delivery with the
/// fallback and why, the others get the digest once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_msg_blocks_too_long_sends_the_fallback_once() {
    let env = setup("slack-too-long", SlackAt::StandIn).await;
    env.slack.push(Answer::status(400, "msg_blocks_too_long"));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    assert_eq!(run.results.len(), 1, "{:?}", run.results);
    assert_eq!(run.last_ok()["reports"][0]["status"], "delivered");
    assert_eq!(
        env.slack.refused(),
        [(400, "msg_blocks_too_long".to_owned())]
    );
    let shown = env.slack.delivered();
    assert_eq!(shown.len(), 1, "the fallback, once");
    let fallback: Value = serde_json::from_str(&shown[0]).unwrap();
    let text = fallback["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.contains("The full digest did not fit in a Slack message")
            && text.contains("<https://s3.console.aws.amazon.com/s3/object/"),
        "{text}"
    );
    common::slack::assert_slack_accepts(&shown);
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
    let receipt = env.receipt().await.expect("receipt");
    assert_eq!(state(&receipt, "ops-slack"), "delivered", "{receipt}");
    let why = receipt["sinks"]["ops-slack"]["fallbacks"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains("Slack refused message 1/1 (msg_blocks_too_long)"),
        "{receipt}"
    );
    assert_no_secret_in(&run);
}

/// Nothing listens on Slack's port: connection refused (retryable); Slack comes up before the
/// retry, which sends Slack only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_connection_refused_then_back() {
    let env = setup("slack-refused", SlackAt::Refused).await;
    let port = env.refused.expect("port");
    let handler = env.handler().await;
    let mut revived: Option<SlackStandIn> = None;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| {
            let listener =
                std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind Slack's port");
            revived = Some(SlackStandIn::start_on(listener).await);
        },
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert!(
        err.message.contains("ops-slack") && err.message.contains("connection"),
        "{err}"
    );
    let slack = revived.expect("Slack started");
    assert_once("ops-slack", &slack.delivered());
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
    assert_no_secret_in(&run);
}

/// Slack reads the request and never answers: the send is abandoned at the deadline (retryable),
/// the others are delivered; the retry posts again. Slack had the first request in full, so a
/// Slack that posted it and only failed to answer shows it twice: at-least-once for this sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_hang_past_the_deadline_is_retried_at_least_once() {
    let env = setup("slack-hang", SlackAt::Blackhole).await;
    let hole = env.hole.as_ref().expect("blackhole");
    let handler = env.handler().await;
    let started = Instant::now();
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| {
            assert!(started.elapsed() < BUDGET + Duration::from_secs(2));
            hole.answer(200);
        },
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert!(
        err.message.contains("ops-slack") && err.message.contains("deadline"),
        "{err}"
    );
    let bodies = hole.bodies();
    assert_eq!(bodies.len(), 2, "the hung request and the retry");
    assert_eq!(bodies[0], bodies[1], "the same digest");
    assert_names_all("ops-slack", &bodies[1]);
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
    assert_no_secret_in(&run);
}

// ================================================================================================
// Receipt faults
// ================================================================================================

/// The receipts bucket does not exist: the claim fails before anything is sent; every invocation
/// fails naming the receipt; the event is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_bucket_missing_sends_nothing_and_dead_letters() {
    let mut env = setup("receipts-missing", SlackAt::StandIn).await;
    env.receipts = "s3://no-such-receipts-bucket/audit-router-receipts/".into();
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.Receipts");
        assert!(
            e.message.contains("s3://no-such-receipts-bucket/")
                && e.message.contains("NoSuchBucket"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert!(env.sns().await.is_empty());
    assert_eq!(env.slack.requests() + env.hook.requests(), 0);
    assert_no_secret_in(&run);
}

/// The role may not write receipts (403 AccessDenied on the claim's PutObject): permanent, the
/// error names s3:PutObject on the receipt's key; nothing is sent; the event is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_access_denied_is_permanent_and_names_the_permission() {
    let env = setup("receipt-put-403", SlackAt::StandIn).await;
    env.proxy
        .add(Rule::new("PUT", RECEIPT_TARGET).respond(403, "AccessDenied", "Access Denied"));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.Receipts");
        assert!(
            e.message.contains("AccessDenied (HTTP 403)")
                && e.message.contains("s3:PutObject on arn:aws:s3:::")
                && e.message.contains("audit-router-receipts/")
                && e.message.contains("permanent"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert!(env.sns().await.is_empty());
    assert_eq!(env.slack.requests() + env.hook.requests(), 0);
    assert_no_secret_in(&run);
}

/// The state document's write answers 500 (S3's own retries too): it comes before any send, so
/// nothing is sent and the invocation fails (`AuditRouter.State`); S3 recovers, the retry
/// writes it and delivers each sink once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_write_failing_sends_nothing_then_the_retry_delivers_once() {
    let env = setup("state-put-500", SlackAt::StandIn).await;
    env.proxy
        .add(Rule::new("PUT", STATE_TARGET).respond(500, "InternalError", "injected"));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| env.proxy.clear(),
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert_eq!(err.error_type, "AuditRouter.State", "{err}");
    assert!(
        err.message.contains("S3 PutObject") && err.message.contains("audit-router-state/"),
        "{err}"
    );
    assert!(run.dead_letter.is_none());
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
    assert_no_secret_in(&run);
}

/// The role may not write the state (403): permanent, naming s3:PutObject on the state key;
/// nothing is sent; the event is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_access_denied_is_permanent_and_names_the_permission() {
    let env = setup("state-put-403", SlackAt::StandIn).await;
    env.proxy
        .add(Rule::new("PUT", STATE_TARGET).respond(403, "AccessDenied", "Access Denied"));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    for e in run.errors() {
        assert_eq!(e.error_type, "AuditRouter.State");
        assert!(
            e.message.contains("AccessDenied (HTTP 403)")
                && e.message
                    .contains("s3:PutObject on arn:aws:s3:::reports/audit-router-state/"),
            "{e}"
        );
    }
    assert_dead_lettered(&env, &run).await;
    assert!(env.sns().await.is_empty());
    assert_eq!(env.slack.requests() + env.hook.requests(), 0);
    assert_no_secret_in(&run);
}

/// Receipt writes answer 500 after the claim: the first sink's record fails, the run stops
/// (in-flight sends aborted) and fails; the retry re-sends what was not recorded. Sinks that
/// answered before the failed write get it twice: at-least-once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_write_failing_after_sends_is_at_least_once() {
    let env = setup("receipt-put-500", SlackAt::StandIn).await;
    env.proxy
        .add(
            Rule::new("PUT", RECEIPT_TARGET)
                .skip(1)
                .respond(500, "InternalError", "injected"),
        );
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| env.proxy.clear(),
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert_eq!(err.error_type, "AuditRouter.Receipts", "{err}");
    assert!(
        err.message.contains("writing receipt") && err.message.contains("already sent"),
        "{err}"
    );
    let mut twice = 0;
    for (sink, delivered) in assert_at_least_once(&env).await {
        if delivered == 2 {
            twice += 1;
        }
        // A sink named as already sent was sent again by the retry.
        if err
            .message
            .contains(&format!("already sent in this run: {sink}"))
        {
            assert_eq!(delivered, 2, "{sink}");
        }
    }
    assert!(twice >= 1, "the sink whose record failed was sent again");
    let receipt = env.receipt().await.expect("receipt");
    assert!(receipt["claim"].is_null());
    for sink in ["ops-sns", "ops-slack", "ops-hook"] {
        assert_eq!(state(&receipt, sink), "delivered", "{receipt}");
    }
    assert_no_secret_in(&run);
}

/// A receipt write after the sends never answers: the run stops at the receipt deadline (in
/// the margin, before Lambda's kill) with an error naming the receipt, instead of a bare
/// "Task timed out"; the retry takes over its own claim and re-sends what was not recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_write_without_answer_fails_before_the_kill_then_retry_delivers() {
    let env = setup("receipt-put-hang", SlackAt::StandIn).await;
    env.proxy.add(
        Rule::new("PUT", RECEIPT_TARGET)
            .skip(1)
            .times(1)
            .hang(Duration::from_secs(30)),
    );
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| {},
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert_eq!(err.error_type, "AuditRouter.Receipts", "{err}");
    assert!(
        err.message
            .contains("writing receipt s3://reports/audit-router-receipts/")
            && err
                .message
                .contains("did not finish before the invocation deadline")
            && !err.message.contains("permanent"),
        "{err}"
    );
    assert_at_least_once(&env).await;
    let receipt = env.receipt().await.expect("receipt");
    assert!(receipt["claim"].is_null());
    for sink in ["ops-sns", "ops-slack", "ops-hook"] {
        assert_eq!(state(&receipt, sink), "delivered", "{receipt}");
    }
    assert_no_secret_in(&run);
}

/// Every outcome is recorded but the final write (the release) fails: the invocation fails; the
/// retry finds every sink delivered and sends nothing. Exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_release_failing_sends_nothing_twice() {
    let env = setup("receipt-release-500", SlackAt::StandIn).await;
    // Claim + three records go through; the release answers 500.
    env.proxy
        .add(
            Rule::new("PUT", RECEIPT_TARGET)
                .skip(4)
                .respond(500, "InternalError", "injected"),
        );
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        env.on_failure(),
        async |_| env.proxy.clear(),
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    assert_eq!(run.errors()[0].error_type, "AuditRouter.Receipts");
    assert_eq!(run.last_ok()["reports"][0]["status"], "duplicate");
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
}

// ================================================================================================
// Duplicate and concurrent events
// ================================================================================================

/// S3 delivers the event twice (two invocations, two request ids): the second sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_event_sends_nothing_the_second_time() {
    let env = setup("dup", SlackAt::StandIn).await;
    let handler = env.handler().await;
    for (id, expect) in [("req-1", "delivered"), ("req-2", "duplicate")] {
        let run = invoke_async(
            &handler,
            &event(),
            id,
            Duration::ZERO,
            env.on_failure(),
            no_change,
        )
        .await;
        assert_eq!(run.results.len(), 1);
        assert_eq!(run.last_ok()["reports"][0]["status"], expect);
    }
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
}

/// Two execution environments get the same event at once: one claims and delivers, the other
/// finds the live claim and fails (Busy); Lambda retries it after the first finished and it finds
/// the report done. One delivery per sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_deliver_once() {
    let env = setup("concurrent", SlackAt::StandIn).await;
    // Slack takes 500 ms, so the first run is still delivering when the second claims.
    env.slack.set_delay(Some(Duration::from_millis(500)));
    let (a, b) = (env.handler().await, env.handler().await);
    let ev = event();
    // Lambda waits a minute before a retry; scaled to 1.5 s (longer than the first run).
    let wait = Duration::from_millis(1500);
    let (ra, rb) = tokio::join!(
        invoke_async(&a, &ev, "req-a", wait, env.on_failure(), no_change),
        invoke_async(&b, &ev, "req-b", wait, env.on_failure(), no_change),
    );
    let mut firsts: Vec<String> = [&ra, &rb]
        .iter()
        .map(|r| match &r.results[0] {
            Ok(v) => v["reports"][0]["status"].as_str().unwrap_or("?").to_owned(),
            Err(e) => e.error_type.to_owned(),
        })
        .collect();
    firsts.sort();
    assert_eq!(firsts, ["AuditRouter.Busy", "delivered"], "{firsts:?}");
    let busy = if ra.results[0].is_err() { &ra } else { &rb };
    assert_eq!(busy.results.len(), 2);
    assert_eq!(busy.last_ok()["reports"][0]["status"], "duplicate");
    assert!(ra.dead_letter.is_none() && rb.dead_letter.is_none());
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-slack", &env.slack.delivered());
    assert_once("ops-hook", &env.hook.delivered());
}

// ================================================================================================
// moto stopped mid-run
// ================================================================================================

/// moto (S3 and SNS) stops when the SNS publish arrives, after the claim and the read: Slack and
/// the webhook still deliver, SNS fails, the receipt cannot be written, the invocation fails.
/// A new, empty moto comes up (the report restored, the receipts lost with the old store) and the
/// retry delivers everything: SNS once, Slack and the webhook a second time — what a lost
/// receipt store means (at-least-once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_stopped_mid_run_then_restarted() {
    let mut env = setup("moto-stop", SlackAt::StandIn).await;
    let slot = env.moto.clone();
    env.proxy.add(
        Rule::new("POST", "/")
            .body("Action=Publish")
            .times(1)
            .before(move || drop(lock(&slot).take())),
    );
    let handler = env.handler().await;
    let moto = env.moto.clone();
    let proxy = &env.proxy;
    let mut seeded = None;
    let run = invoke_async(
        &handler,
        &event(),
        "req-1",
        Duration::ZERO,
        || (String::new(), String::new()),
        async |_| {
            assert!(lock(&moto).is_none(), "moto was stopped");
            let fresh = Moto::start();
            seeded = Some(seed(&fresh, "moto-stop").await);
            proxy.set_upstream(fresh.port());
            *lock(&moto) = Some(fresh);
        },
    )
    .await;
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let err = run.errors()[0];
    assert_eq!(err.error_type, "AuditRouter.Receipts", "{err}");
    assert_eq!(run.last_ok()["reports"][0]["status"], "delivered");
    let seeded = seeded.expect("restarted");
    env.queue = seeded.queue;
    env.failed_queue = seeded.failed_queue;
    assert_once("ops-sns", &env.sns().await);
    assert_eq!(
        env.slack.delivered().len(),
        2,
        "Slack again after the lost receipt"
    );
    assert_eq!(env.hook.delivered().len(), 2);
    let receipt = env.receipt().await.expect("receipt in the new moto");
    assert_eq!(state(&receipt, "ops-sns"), "delivered");
    assert_no_secret_in(&run);
}

// ================================================================================================
// Secrets in dry-run output and CLI logs
// ================================================================================================

/// `dry-run` (text and JSON) and `check`, at debug level, print the sinks' destinations redacted.
/// The output is printed so the suite's log carries it for the secret grep of `scripts/test.sh`.
#[test]
fn dry_run_and_check_output_holds_no_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        rules_toml(
            "arn:aws:sns:us-east-1:123456789012:dry",
            &format!("https://hooks.slack.example{SLACK_PATH}"),
            &format!("https://hooks.example{HOOK_PATH}"),
        ),
    )
    .expect("write rules");
    let report = common::fixture(REPORT_FIXTURE);
    for args in [
        vec!["dry-run", "--rules"],
        vec!["dry-run", "--format", "json", "--rules"],
        vec!["check", "--rules"],
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_audit-router"));
        cmd.args(&args).arg(&rules);
        if args[0] == "dry-run" {
            cmd.arg(&report);
        }
        let out = cmd
            .env("RUST_LOG", "debug")
            .env("AUDIT_ROUTER_TODAY", "2026-11-27")
            .output()
            .expect("run audit-router");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("$ audit-router {args:?}\n{stdout}\n{stderr}");
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert_no_secret(&format!("audit-router {args:?}"), &stdout);
        assert_no_secret(&format!("audit-router {args:?}"), &stderr);
        if args == ["dry-run", "--rules"] {
            assert!(stdout.contains("https://hooks.slack.example/…"), "{stdout}");
        }
    }
}

// ================================================================================================
// Replay from the on-failure queue
// ================================================================================================

/// `audit-router send --event FILE --receipts …` against moto (not through the fault proxy), as
/// an operator runs it; returns (success, stdout, stderr).
async fn send_event(env: &Env, file: &std::path::Path) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_audit-router"));
    lock(&env.moto)
        .as_ref()
        .expect("moto is running")
        .configure(&mut cmd);
    cmd.env_remove("AUDIT_ROUTER_RECEIPTS")
        .args(["send", "--timeout", "10", "--rules"])
        .arg(&env.rules)
        .args(["--receipts", &env.receipts, "--event"])
        .arg(file);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run audit-router"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_secret("send --event output", &stdout);
    assert_no_secret("send --event output", &stderr);
    (out.status.success(), stdout, stderr)
}

/// The replay docs/deploy.md gives: Slack refused the digest for good (404 channel_not_found),
/// so every invocation failed and the event reached the on-failure queue (SNS and the webhook
/// got it once). After the fix, the message taken from the queue with `ReceiveMessage` (what
/// `aws sqs receive-message` prints) is the event file of `send --event … --receipts …`: Slack
/// gets the digest once, the others nothing again. The record alone (its `Body`) replays too:
/// by then every sink is delivered, so nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_from_the_on_failure_queue_with_send_event() {
    let env = setup("replay", SlackAt::StandIn).await;
    env.slack
        .always(Some(Answer::status(404, "channel_not_found")));
    let handler = env.handler().await;
    let run = invoke_async(
        &handler,
        &event(),
        "req-replay",
        Duration::ZERO,
        env.on_failure(),
        no_change,
    )
    .await;
    assert!(run.dead_letter.is_some(), "retries ran out");
    assert_once("ops-sns", &env.sns().await);
    assert_once("ops-hook", &env.hook.delivered());
    assert!(env.slack.delivered().is_empty());

    // The fix, then the operator's replay.
    env.slack.reset();
    let received = sqs(
        &env.endpoint(),
        "ReceiveMessage",
        json!({"QueueUrl": env.failed_queue, "MaxNumberOfMessages": 10,
               "WaitTimeSeconds": 0, "VisibilityTimeout": 300}),
    )
    .await;
    let messages = received["Messages"].as_array().expect("Messages");
    assert_eq!(messages.len(), 1, "{received}");
    let record: Value =
        serde_json::from_str(messages[0]["Body"].as_str().expect("Body")).expect("a record");
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestPayload"], event());
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("failed.json");
    std::fs::write(&file, received.to_string()).expect("write the event file");
    let (ok, stdout, stderr) = send_event(&env, &file).await;
    assert!(ok, "the replay succeeds:\n{stdout}\n{stderr}");
    assert_once("ops-slack", &env.slack.delivered());
    common::slack::assert_slack_accepts(&env.slack.delivered());
    assert!(env.sns().await.is_empty(), "SNS not sent again");
    assert_eq!(env.hook.delivered().len(), 1, "the webhook not sent again");
    for sink in ["ops-sns", "ops-hook"] {
        assert!(
            stdout.contains(&format!("skipped: sink {sink}: already delivered")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("delivered: sink ops-slack (slack)"),
        "{stdout}"
    );
    let receipt = env.receipt().await.expect("receipt");
    for sink in ["ops-sns", "ops-slack", "ops-hook"] {
        assert_eq!(state(&receipt, sink), "delivered", "{receipt}");
    }

    // The record alone, as `--query 'Messages[0].Body' --output text` saves it.
    std::fs::write(&file, messages[0]["Body"].as_str().expect("Body")).expect("write");
    let (ok, stdout, stderr) = send_event(&env, &file).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("already delivered to every routed sink"),
        "{stdout}"
    );
    assert_eq!(env.slack.requests(), 1, "nothing sent again");
}
