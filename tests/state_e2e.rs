//! The state stage end to end, through the Lambda handler in-process: reports of consecutive
//! days in a real `moto_server` (S3 for the reports, receipts and state; SNS → SQS read back),
//! the strict Slack stand-in. Day 1 everything new; day 2 the exact new / ongoing / resolved
//! sets (after a Slack failure and its retry: Slack gets the same diff, SNS nothing again); a
//! duplicate sends nothing; day 3 unchanged sends nothing to `notify = "changes"` sinks and the
//! usual digest to an `always` sink; `repeat_after` lists ongoing findings again when due. Then
//! the edge cases `docs/state.md` describes: reports out of order, a missing day, a replay weeks
//! later, a rules change that routes findings to a new sink.

mod common;
#[path = "handler_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use audit_router::deliver::RetryPolicy;
use audit_router::lambda::{Handler, LambdaConfig};
use common::moto::Moto;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use support::*;

const BUCKET: &str = "reports";
const STATE_PREFIX: &str = "audit-router-state";

/// A resource of the generated reports: (control, resource id, account).
type Item = (&'static str, &'static str, &'static str);

const A: Item = (
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
    "AWS::DynamoDB::Table/orders",
    "111111111111",
);
const B: Item = (
    "BACKUP_RECOVERY_POINT_ENCRYPTED",
    "AWS::EC2::Volume/vol-0aaa",
    "111111111111",
);
const C: Item = (
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
    "AWS::S3::Bucket/payments",
    "222222222222",
);
const D: Item = (
    "BACKUP_LAST_RECOVERY_POINT_CREATED",
    "AWS::RDS::DBInstance/db-billing",
    "111111111111",
);
const E: Item = (
    "BACKUP_LAST_RECOVERY_POINT_CREATED",
    "AWS::EFS::FileSystem/fs-0eee",
    "222222222222",
);

/// The key Audit Manager writes day `day`'s report of the plan under (November 2026).
fn key(day: u32) -> String {
    format!(
        "audit reports/Backup/111111111111/us-east-1/2026/11/{day:02}/daily plan/\
         RESOURCE_COMPLIANCE_REPORT_daily plan_2026-11-{:02}T00:00:00Z_2026-11-{day:02}T00:00:00Z.json",
        day - 1
    )
}

/// A resource compliance report (the AWS sample's keys) with `bad` non-compliant and every
/// other item of the universe compliant.
fn report(day: u32, bad: &[Item]) -> Vec<u8> {
    let items: Vec<Value> = [A, B, C, D, E]
        .iter()
        .map(|it @ (control, resource, account)| {
            let status = if bad.contains(it) {
                "NON_COMPLIANT"
            } else {
                "COMPLIANT"
            };
            json!({
                "accountId": account,
                "region": "us-east-1",
                "frameworkName": "prod-baseline",
                "frameworkDescription": "",
                "controlName": control,
                "resourceId": resource,
                "resourceType": resource.split('/').next().unwrap(),
                "resourceComplianceStatus": status,
                "lastEvaluationTime": format!("2026-11-{:02}T06:02:05.444Z", day - 1),
            })
        })
        .collect();
    serde_json::to_vec_pretty(&json!({ "reportItems": items })).unwrap()
}

struct Env {
    moto: Moto,
    slack: SlackStandIn,
    /// The `notify = "changes"` SNS sink's queue and the `always` one's.
    changes_queue: String,
    always_queue: String,
    handler: Handler,
    _dir: tempfile::TempDir,
}

/// Rules: every non-compliant finding to an SNS sink that says only what changed, to Slack
/// (changes, ongoing findings again 3 days after they were last listed) and to an SNS sink
/// told every day.
fn rules(changes_topic: &str, always_topic: &str, slack: &str, extra: &str) -> String {
    format!(
        r#"[sinks.ops-sns]
type = "sns"
topic_arn = "{changes_topic}"
notify = "changes"

[sinks.ops-slack]
type = "slack"
url = "{slack}"
allow_insecure_http = true
notify = "changes"
repeat_after = "3d"

[sinks.daily-sns]
type = "sns"
topic_arn = "{always_topic}"
{extra}
[[rules]]
name = "non-compliant"
sinks = ["ops-sns", "ops-slack", "daily-sns"]
[rules.match]
status = "NON_COMPLIANT"
"#
    )
}

async fn setup(name: &str) -> Env {
    setup_with(name, "").await
}

async fn setup_with(name: &str, extra: &str) -> Env {
    let moto = Moto::start();
    moto.create_bucket(BUCKET).await;
    let sdk = moto.sdk_config().await;
    let (changes_topic, changes_queue) = moto.topic_with_queue(&sdk, &format!("{name}-c")).await;
    let (always_topic, always_queue) = moto.topic_with_queue(&sdk, &format!("{name}-a")).await;
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let url = format!("{}/services/T0/B0/TESTSECRET-x", slack.uri());
    std::fs::write(&path, rules(&changes_topic, &always_topic, &url, extra)).unwrap();
    let handler = handler(&moto, &path).await;
    Env {
        moto,
        slack,
        changes_queue,
        always_queue,
        handler,
        _dir: dir,
    }
}

async fn handler(moto: &Moto, rules: &std::path::Path) -> Handler {
    let vars: HashMap<&str, String> = HashMap::from([
        ("AUDIT_ROUTER_RULES", rules.to_str().unwrap().to_owned()),
        (
            "AUDIT_ROUTER_RECEIPTS",
            format!("s3://{BUCKET}/{RECEIPTS_PREFIX}/"),
        ),
        (
            "AUDIT_ROUTER_STATE",
            format!("s3://{BUCKET}/{STATE_PREFIX}/"),
        ),
        ("AUDIT_ROUTER_REPORT_PREFIX", "audit reports/".to_owned()),
    ]);
    let cfg = LambdaConfig::from_vars(|n| vars.get(n).cloned()).unwrap();
    let mut h = Handler::init(&cfg, moto.sdk_config().await).await.unwrap();
    h.retry = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_millis(10),
    };
    h
}

fn event(request_id: &str, payload: Value) -> LambdaEvent<Value> {
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = request_id.to_owned();
    ctx.deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    LambdaEvent::new(payload, ctx)
}

impl Env {
    async fn put_day(&self, day: u32, bad: &[Item]) {
        self.moto
            .put_object(BUCKET, &key(day), report(day, bad))
            .await;
    }

    /// Runs the handler on day `day`'s report.
    async fn run(&self, request: &str, day: u32) -> Result<Value, String> {
        self.handler
            .handle(event(request, s3_event(BUCKET, &key(day))))
            .await
            .map_err(|e| e.to_string())
    }

    async fn changes_messages(&self) -> Vec<String> {
        drain(&self.moto, &self.changes_queue).await
    }

    async fn always_messages(&self) -> Vec<String> {
        drain(&self.moto, &self.always_queue).await
    }
}

/// The resources listed as new (`NEW …`) and resolved in an SNS body (the default template).
fn sns_sets(body: &str) -> (Vec<String>, Vec<String>) {
    let mut new = Vec::new();
    let mut resolved = Vec::new();
    let mut in_resolved = false;
    for line in body.lines() {
        if line.starts_with("== Resolved since") {
            in_resolved = true;
            continue;
        }
        if line.starts_with("== ") {
            in_resolved = false;
        }
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        let resource = |s: &str| {
            s.split_whitespace()
                .find(|w| w.contains('/'))
                .unwrap_or_default()
                .to_owned()
        };
        if in_resolved {
            resolved.push(resource(rest));
        } else if let Some(r) = rest.strip_prefix("NEW ") {
            new.push(resource(r));
        }
    }
    new.sort();
    resolved.sort();
    (new, resolved)
}

/// The resources marked `:new:` and those under "Resolved" in a Slack payload.
fn slack_sets(body: &str) -> (Vec<String>, Vec<String>) {
    let v: Value = serde_json::from_str(body).unwrap();
    let mut new = Vec::new();
    let mut resolved = Vec::new();
    for block in v["blocks"].as_array().unwrap() {
        let Some(text) = block["text"]["text"].as_str() else {
            continue;
        };
        let is_resolved = text.contains("*Resolved since");
        for line in text.lines().filter(|l| l.starts_with("• ")) {
            let id = [A, B, C, D, E]
                .iter()
                .map(|(_, r, _)| *r)
                .find(|r| line.contains(r))
                .unwrap_or("?")
                .to_owned();
            if is_resolved {
                resolved.push(id);
            } else if line.starts_with("• :new: ") {
                new.push(id);
            }
        }
    }
    new.sort();
    resolved.sort();
    (new, resolved)
}

fn ids(items: &[Item]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|(_, r, _)| (*r).to_owned()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_days_of_reports_say_what_is_new_ongoing_and_resolved() {
    let env = setup("days").await;

    // Day 1: the stream's first report: everything new, everywhere, and the message says so.
    env.put_day(26, &[A, B, C]).await;
    let out = env.run("d1", 26).await.expect("day 1 delivers");
    assert_eq!(out["reports"][0]["status"], "delivered", "{out}");
    let sns = env.changes_messages().await;
    assert_eq!(sns.len(), 1, "{sns:?}");
    assert!(sns[0].contains("First report of this stream"), "{}", sns[0]);
    assert_eq!(sns_sets(&sns[0]), (ids(&[A, B, C]), vec![]));
    let slack = env.slack.delivered();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack_sets(&slack[0]), (ids(&[A, B, C]), vec![]));
    assert_eq!(env.always_messages().await.len(), 1);
    // Its state is one document, in the stream's folder.
    let listed = env
        .moto
        .s3_client()
        .await
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(STATE_PREFIX)
        .send()
        .await
        .unwrap();
    let state_keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(state_keys.len(), 1, "{state_keys:?}");
    assert!(
        state_keys[0].starts_with(
            "audit-router-state/reports/audit reports/Backup/111111111111/us-east-1/daily plan/RESOURCE_COMPLIANCE_REPORT_daily plan.json/20261126T000000Z_"
        ),
        "{}",
        state_keys[0]
    );

    // Day 2: C fixed, E new, A and B still open. Slack is down: SNS gets the diff, the
    // invocation fails so Lambda retries it.
    env.put_day(27, &[A, B, E]).await;
    slack_status(&env.slack, 500);
    let err = env
        .run("d2", 27)
        .await
        .expect_err("Slack down: a retry is due");
    assert!(err.contains("ops-slack"), "{err}");
    let sns = env.changes_messages().await;
    assert_eq!(sns.len(), 1, "{sns:?}");
    let day2 = &sns[0];
    assert!(
        day2.contains("1 new · 2 still open (oldest 1 day) · 1 resolved since 26 Nov 2026"),
        "{day2}"
    );
    assert_eq!(sns_sets(day2), (ids(&[E]), ids(&[C])));
    // The `always` sink lists every open finding: E new, A and B ongoing since day 1.
    let daily = env.always_messages().await;
    assert_eq!(daily.len(), 1);
    assert_eq!(sns_sets(&daily[0]), (ids(&[E]), ids(&[C])));
    for (_, r, _) in [A, B] {
        let line = daily[0].lines().find(|l| l.contains(r)).unwrap();
        assert!(
            line.ends_with(", open 1 day") && !line.contains("NEW"),
            "{line}"
        );
    }

    // The retry: Slack gets the same day-2 diff; SNS (delivered) nothing.
    slack_status(&env.slack, 200);
    let out = env.run("d2-retry", 27).await.expect("the retry delivers");
    assert_eq!(out["reports"][0]["status"], "delivered", "{out}");
    let slack = env.slack.delivered();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(slack_sets(&slack[0]), (ids(&[E]), ids(&[C])));
    assert!(slack[0].contains("*1 new* · 2 still open"), "{}", slack[0]);
    assert!(env.changes_messages().await.is_empty());
    assert!(env.always_messages().await.is_empty());

    // A duplicate event of day 2: nothing, anywhere.
    env.slack.reset();
    let out = env.run("d2-dup", 27).await.expect("duplicate");
    assert_eq!(out["reports"][0]["status"], "duplicate", "{out}");
    assert!(env.changes_messages().await.is_empty());
    assert!(env.always_messages().await.is_empty());
    assert!(env.slack.log().is_empty());

    // Day 3: nothing changed. The `changes` sinks get nothing (and the answer says why); the
    // `always` sink its usual digest, with every finding ongoing.
    env.put_day(28, &[A, B, E]).await;
    let out = env.run("d3", 28).await.expect("day 3");
    assert_eq!(out["reports"][0]["status"], "delivered", "{out}");
    let not_sent: Vec<&str> = out["reports"][0]["not_sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["sink"].as_str().unwrap())
        .collect();
    assert_eq!(not_sent, ["ops-sns", "ops-slack"], "{out}");
    assert!(
        out["reports"][0]["not_sent"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("nothing new since 2026-11-27"),
        "{out}"
    );
    assert!(env.changes_messages().await.is_empty());
    assert!(env.slack.log().is_empty());
    let daily = env.always_messages().await;
    assert_eq!(daily.len(), 1);
    assert!(daily[0].contains("0 new · 3 still open"), "{}", daily[0]);
    for (_, r, _) in [A, B, E] {
        assert!(daily[0].contains(r), "{r}: {}", daily[0]);
    }

    // Day 4: still nothing new. In Slack, A and B were last listed on day 1 (day 2's message
    // listed only what was new), three days ago: listed again; E, listed on day 2, is counted.
    // The SNS `changes` sink (no repeat_after) stays quiet.
    env.put_day(29, &[A, B, E]).await;
    env.run("d4", 29).await.expect("day 4");
    let slack = env.slack.delivered();
    assert_eq!(slack.len(), 1, "{slack:?}");
    for (_, r, _) in [A, B] {
        assert!(slack[0].contains(r), "{r}: {}", slack[0]);
    }
    assert!(!slack[0].contains(E.1), "{}", slack[0]);
    assert!(
        slack[0].contains("1 finding listed before, not repeated"),
        "{}",
        slack[0]
    );
    assert_eq!(slack_sets(&slack[0]), (vec![], vec![]));
    assert!(slack[0].contains("*0 new*"), "{}", slack[0]);
    assert!(env.changes_messages().await.is_empty());
    assert_eq!(env.always_messages().await.len(), 1);
}

/// Reports arriving out of order are each compared with the latest report strictly before
/// them that was processed; a missing day compares with the last one there is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_and_missing_days_compare_with_the_latest_earlier_report() {
    let env = setup("order").await;
    env.put_day(26, &[A]).await;
    env.put_day(27, &[A, B]).await;
    env.put_day(28, &[A, B, C]).await;
    env.run("d1", 26).await.unwrap();
    env.changes_messages().await;
    // Day 3 before day 2: compared with day 1 (B and C new), since 26 Nov.
    env.run("d3", 28).await.unwrap();
    let m = env.changes_messages().await;
    assert!(m[0].contains("since 26 Nov 2026"), "{}", m[0]);
    assert_eq!(sns_sets(&m[0]), (ids(&[B, C]), vec![]));
    // Day 2, late: also compared with day 1 (the latest before it), B new.
    env.run("d2", 27).await.unwrap();
    let m = env.changes_messages().await;
    assert!(m[0].contains("since 26 Nov 2026"), "{}", m[0]);
    assert_eq!(sns_sets(&m[0]), (ids(&[B]), vec![]));
    // Day 5, day 4 missing: compared with day 3, the latest before it.
    env.put_day(30, &[A, C]).await;
    env.run("d5", 30).await.unwrap();
    let m = env.changes_messages().await;
    assert!(m[0].contains("1 resolved since 28 Nov 2026"), "{}", m[0]);
    assert_eq!(sns_sets(&m[0]), (vec![], ids(&[B])));
}

/// A report replayed weeks later (its receipt gone, later reports processed meanwhile) sends the
/// diff it sent the first time: its own state names what it was compared with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_weeks_later_sends_the_same_diff() {
    let env = setup("replay").await;
    env.put_day(26, &[A, B]).await;
    env.put_day(27, &[B, C]).await;
    env.run("d1", 26).await.unwrap();
    env.run("d2", 27).await.unwrap();
    let first = env.changes_messages().await.pop().unwrap();
    assert_eq!(sns_sets(&first), (ids(&[C]), ids(&[A])));
    for day in 28..=30 {
        env.put_day(day, &[D]).await;
        env.run(&format!("d{day}"), day).await.unwrap();
    }
    env.changes_messages().await;
    // The receipt of day 2 is deleted (expired, or removed by hand): the replay sends again.
    let s3 = env.moto.s3_client().await;
    s3.delete_object()
        .bucket(BUCKET)
        .key(format!("{RECEIPTS_PREFIX}/{BUCKET}/{}.json", key(27)))
        .send()
        .await
        .unwrap();
    env.run("replay", 27).await.unwrap();
    let again = env.changes_messages().await.pop().unwrap();
    assert_eq!(sns_sets(&again), sns_sets(&first));
    let counts = |m: &str| {
        m.lines()
            .find(|l| l.contains(" still open"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(counts(&again), counts(&first));
}

/// A sink the rules start routing to (a rules change) has no state yet: every finding is new to
/// it, and its message says so; the other sinks go on comparing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_new_to_the_stream_gets_everything_as_new() {
    let env = setup("newsink").await;
    env.put_day(26, &[A, B]).await;
    env.run("d1", 26).await.unwrap();
    env.changes_messages().await;
    env.always_messages().await;
    // The next day's rules add a sink (routed by the same rule).
    let moto = &env.moto;
    let sdk = moto.sdk_config().await;
    let (late_topic, late_queue) = moto.topic_with_queue(&sdk, "newsink-late").await;
    let (c_topic, _) = moto.topic_with_queue(&sdk, "newsink-c2").await;
    let (a_topic, _) = moto.topic_with_queue(&sdk, "newsink-a2").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let url = format!("{}/services/T0/B0/TESTSECRET-x", env.slack.uri());
    let text = rules(&c_topic, &a_topic, &url, "")
        .replace(
            "[[rules]]",
            &format!("[sinks.late]\ntype = \"sns\"\ntopic_arn = \"{late_topic}\"\nnotify = \"changes\"\n\n[[rules]]"),
        )
        .replace(r#""daily-sns"]"#, r#""daily-sns", "late"]"#);
    std::fs::write(&path, text).unwrap();
    let h = handler(moto, &path).await;
    env.put_day(27, &[A, B, C]).await;
    h.handle(event("d2", s3_event(BUCKET, &key(27))))
        .await
        .unwrap();
    let late = drain(moto, &late_queue).await;
    assert_eq!(late.len(), 1);
    assert!(
        late[0].contains("First report of this stream"),
        "{}",
        late[0]
    );
    assert_eq!(sns_sets(&late[0]), (ids(&[A, B, C]), vec![]));
}
