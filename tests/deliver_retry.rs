//! The delivery stage's retry, deadline and isolation rules. Real log sinks deliver beside a
//! scripted sink whose sends fail on cue (the only double here: it stands for a remote service
//! answering 429/5xx/4xx, which the HTTP sink tests cover against wiremock).

use audit_router::deliver::{DeliverOptions, DeliveryJob, RetryPolicy, Status, deliver, dry_run};
use audit_router::sink_api::samples::sample_digest;
use audit_router::sink_api::{
    BoxFuture, Digest, Limits, Payload, RenderContext, ReportTemplate, Sent, Sink, SinkError,
    StaticSecrets,
};
use audit_router::sink_api::{BuildContext, SinkConfig, SinkFactory};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Answers each send with the next scripted result (then success), recording when it was called.
struct Scripted {
    name: String,
    script: Mutex<VecDeque<Result<(), SinkError>>>,
    calls: Mutex<Vec<Instant>>,
    limits: Limits,
    panic_on_send: bool,
}

impl Scripted {
    fn new(name: &str, script: Vec<Result<(), SinkError>>) -> Arc<Self> {
        Arc::new(Scripted {
            name: name.into(),
            script: Mutex::new(script.into()),
            calls: Mutex::new(Vec::new()),
            limits: Limits::default(),
            panic_on_send: false,
        })
    }
    fn calls(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().clone()
    }
}

impl Sink for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn destination(&self) -> String {
        "https://example.invalid/…".into()
    }
    fn limits(&self) -> &Limits {
        &self.limits
    }
    fn render(&self, digest: &Digest, _: &RenderContext) -> Result<Vec<Payload>, SinkError> {
        Ok(vec![Payload::new(
            None,
            format!("{} findings", digest.total),
            "text/plain",
        )])
    }
    fn send<'a>(&'a self, _: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(Instant::now());
            if self.panic_on_send {
                panic!("scripted crash");
            }
            let next = self.script.lock().unwrap().pop_front();
            match next {
                Some(Err(e)) => Err(e),
                _ => Ok(Sent::with_id(Some(format!(
                    "m{}",
                    self.calls.lock().unwrap().len()
                )))),
            }
        })
    }
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);
impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_sink(buf: &Buf) -> Arc<dyn Sink> {
    let factory = audit_router_sink_log::LogFactory::with_writer(Arc::new(Mutex::new(buf.clone())));
    let settings = toml::Table::new();
    factory
        .build(
            SinkConfig {
                name: "audit-log",
                kind: "log",
                settings: &settings,
                docs: factory.settings(),
            },
            &BuildContext {
                base_dir: std::env::temp_dir(),
                aws: None,
                secrets: Arc::new(StaticSecrets::new()),
            },
        )
        .unwrap()
}

fn digest() -> Digest {
    sample_digest(ReportTemplate::ResourceCompliance, "x")
}

fn fast_opts(deadline: Duration) -> DeliverOptions {
    DeliverOptions {
        deadline: Some(Instant::now() + deadline),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(5),
        },
        render: RenderContext::now(),
    }
}

fn job(sink: Arc<dyn Sink>) -> DeliveryJob {
    DeliveryJob {
        sink,
        digest: digest(),
    }
}

#[tokio::test]
async fn retry_after_is_honoured_then_success() {
    let s = Scripted::new(
        "slack",
        vec![Err(SinkError::retryable(
            "429 Too Many Requests",
            Some(Duration::from_millis(700)),
        ))],
    );
    let report = deliver(vec![job(s.clone())], &fast_opts(Duration::from_secs(10))).await;
    let o = &report.outcomes[0];
    assert_eq!(o.status, Status::Delivered);
    assert_eq!(o.attempts, 2);
    assert_eq!(o.message_ids(), ["m2"]);
    let calls = s.calls();
    let waited = calls[1] - calls[0];
    // Retry-After, not the 40 ms backoff.
    assert!(waited >= Duration::from_millis(700), "{waited:?}");
}

#[tokio::test]
async fn retryable_errors_back_off_exponentially_then_give_up() {
    let err = || Err(SinkError::retryable("503 Service Unavailable", None));
    let s = Scripted::new("hook", vec![err(), err(), err(), err(), err()]);
    let report = deliver(vec![job(s.clone())], &fast_opts(Duration::from_secs(10))).await;
    let o = &report.outcomes[0];
    match &o.status {
        Status::Failed { error, retryable } => {
            assert!(error.contains("503 Service Unavailable"), "{error}");
            assert!(error.contains("gave up after 4 attempts"), "{error}");
            assert!(retryable);
        }
        s => panic!("{s:?}"),
    }
    let calls = s.calls();
    assert_eq!(calls.len(), 4);
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    // Equal jitter: retry n waits between base*2^(n-1)/2 and base*2^(n-1).
    assert!(gaps[0] >= Duration::from_millis(20), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(80), "{gaps:?}");
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let s = Scripted::new(
        "slack",
        vec![Err(SinkError::permanent(
            "slack rejected the message: invalid_blocks",
        ))],
    );
    let report = deliver(vec![job(s.clone())], &fast_opts(Duration::from_secs(10))).await;
    assert_eq!(s.calls().len(), 1);
    assert_eq!(
        report.outcomes[0].status,
        Status::Failed {
            error: "message 1/1: slack rejected the message: invalid_blocks".into(),
            retryable: false
        }
    );
}

#[tokio::test]
async fn stops_before_the_deadline() {
    let s = Scripted::new(
        "slack",
        vec![Err(SinkError::retryable(
            "429",
            Some(Duration::from_secs(3)),
        ))],
    );
    let started = Instant::now();
    let report = deliver(vec![job(s.clone())], &fast_opts(Duration::from_millis(800))).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "did not wait in vain"
    );
    match &report.outcomes[0].status {
        Status::Failed { error, retryable } => {
            assert!(error.contains("would pass the deadline"), "{error}");
            assert!(retryable);
        }
        s => panic!("{s:?}"),
    }
}

#[tokio::test]
async fn one_sink_down_never_stops_the_others() {
    let buf = Buf::default();
    let down = Scripted::new("down", vec![Err(SinkError::permanent("401 Unauthorized"))]);
    let mut crashing = Scripted::new("crash", vec![]);
    Arc::get_mut(&mut crashing).unwrap().panic_on_send = true;
    let jobs = vec![job(down), job(crashing), job(log_sink(&buf))];
    let report = deliver(jobs, &fast_opts(Duration::from_secs(10))).await;
    assert!(!report.all_delivered());
    let status: Vec<(&str, bool)> = report
        .outcomes
        .iter()
        .map(|o| (o.sink.as_str(), o.delivered()))
        .collect();
    assert_eq!(
        status,
        [("down", false), ("crash", false), ("audit-log", true)]
    );
    match &report.outcomes[1].status {
        Status::Failed { error, .. } => assert!(error.contains("crashed"), "{error}"),
        s => panic!("{s:?}"),
    }
    let written = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        written.lines().count(),
        1 + 4,
        "digest line + one per finding"
    );
}

#[tokio::test]
async fn dry_run_shows_exactly_what_send_writes() {
    let buf = Buf::default();
    let sink = log_sink(&buf);
    let opts = fast_opts(Duration::from_secs(10));
    let dry = dry_run(vec![job(sink.clone())], &opts).await;
    assert!(buf.0.lock().unwrap().is_empty(), "dry-run must not write");
    let real = deliver(vec![job(sink)], &opts).await;
    let written = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let shown: Vec<&str> = dry.outcomes[0]
        .messages
        .iter()
        .map(|p| p.body.as_str())
        .collect();
    assert_eq!(written.lines().collect::<Vec<_>>(), shown);
    assert_eq!(real.outcomes[0].messages, dry.outcomes[0].messages);
    let json = serde_json::to_value(&dry).unwrap();
    assert_eq!(json["outcomes"][0]["status"], "delivered");
    assert!(json["outcomes"][0]["messages"][0]["body"].is_string());
}
