//! A Slack incoming webhook stand-in as strict as Slack: every body is checked the way Slack
//! checks it, and refused with Slack's status and error string.
//!
//! ```ignore
//! let slack = SlackStandIn::start().await;
//! let url = slack.url();                          // http://127.0.0.1:<port>/services/T0/B0/…
//! slack.push(Answer::status(500, "rollup_error")); // scripted answers first, then validation
//! slack.delivered();                              // bodies Slack would have posted
//! ```
//!
//! What it enforces (Block Kit reference, docs.slack.dev; the incoming-webhook error strings of
//! api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks; the undocumented
//! cumulative limit of slackapi/bolt-js #2509 and #2867):
//! - `POST` to `/services/<team>/<bot>/<token>`, else 404 `no_service`;
//! - a JSON object body, else 400 `invalid_payload`;
//! - a non-empty `text`, or `blocks`, else 400 `no_text`;
//! - `blocks`: an array of at most 50 objects of a known `type`, each with only the keys its type
//!   has, else 400 `invalid_blocks`: `section` (`text` ≤ 3 000 and/or 1–10 `fields` ≤ 2 000 each,
//!   optional `block_id` ≤ 255, `accessory`), `divider`, `context` (1–10 elements), `header`
//!   (`plain_text` ≤ 150); text objects are `{type: mrkdwn|plain_text, text: non-empty}` with
//!   `verbatim` (mrkdwn) or `emoji` (plain_text) as their only other key;
//! - the text of all blocks together at most [`MAX_BLOCK_CHARS`], else 400 `msg_blocks_too_long`;
//! - `text` at most 40 000 characters, else 400 `msg_too_long`;
//! - no top-level key Slack does not know, else 400 `invalid_payload`.
//!
//! It answers 200 `ok` (text/html) to what it accepts.

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The cumulative block-text limit this stand-in enforces: the lowest Slack was seen to refuse
/// (bolt-js #2867: refused at 11 341 characters as counted over every `text`) minus one.
pub const MAX_BLOCK_CHARS: usize = 11_340;

/// The path part of the stand-in's webhook URL (a secret in a real URL: it carries the test
/// secret marker, so the suite's leak check sees it if it ever reaches output).
pub const WEBHOOK_PATH: &str = "/services/T0STANDIN/B0STANDIN/TESTSECRETslacktoken";

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u64>,
}

impl Answer {
    pub fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.to_owned(),
            retry_after: None,
        }
    }

    /// 429 `rate_limited` with a `Retry-After` of `secs`.
    pub fn rate_limited(secs: u64) -> Answer {
        Answer {
            status: 429,
            body: "rate_limited".to_owned(),
            retry_after: Some(secs),
        }
    }

    fn template(&self) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status)
            .insert_header("content-type", "text/html")
            .set_body_string(self.body.clone());
        if let Some(s) = self.retry_after {
            t = t.insert_header("retry-after", s.to_string().as_str());
        }
        t
    }
}

/// A request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Logged {
    pub at: Instant,
    pub path: String,
    pub status: u16,
    /// Slack's error string, `ok` for an accepted message.
    pub answer: String,
    pub body: String,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Answer>,
    then: Option<Answer>,
    log: Vec<Logged>,
    /// Every answer waits this long (a slow Slack).
    delay: Option<std::time::Duration>,
}

/// The stand-in: a wiremock server whose one responder checks every request.
#[derive(Clone)]
pub struct SlackStandIn {
    state: Arc<Mutex<State>>,
    server: Arc<MockServer>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.0);
        let answer = state.queue.pop_front().or_else(|| state.then.clone());
        let answer = answer.unwrap_or_else(|| match check_request(request) {
            Ok(()) => Answer::status(200, "ok"),
            Err((status, code)) => Answer::status(status, code),
        });
        state.log.push(Logged {
            at: Instant::now(),
            path: request.url.path().to_owned(),
            status: answer.status,
            answer: answer.body.clone(),
            body: String::from_utf8_lossy(&request.body).into_owned(),
        });
        let t = answer.template();
        match state.delay {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}

impl SlackStandIn {
    pub async fn start() -> SlackStandIn {
        Self::on(MockServer::start().await).await
    }

    /// On a listener the test bound itself (a fixed port across restarts).
    pub async fn start_on(listener: std::net::TcpListener) -> SlackStandIn {
        Self::on(MockServer::builder().listener(listener).start().await).await
    }

    async fn on(server: MockServer) -> SlackStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        SlackStandIn {
            state,
            server: Arc::new(server),
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The webhook URL to configure.
    pub fn url(&self) -> String {
        format!("{}{WEBHOOK_PATH}", self.server.uri())
    }

    /// Answers `a` to the next request (before any scripted earlier), whatever it is.
    pub fn push(&self, a: Answer) {
        lock(&self.state).queue.push_back(a);
    }

    /// Answers `a` to every request from now on (`None`: check them again).
    pub fn always(&self, a: Option<Answer>) {
        lock(&self.state).then = a;
    }

    /// Makes every answer wait `d` (`None`: answer at once).
    pub fn set_delay(&self, d: Option<std::time::Duration>) {
        lock(&self.state).delay = d;
    }

    /// Every request, in order.
    pub fn log(&self) -> Vec<Logged> {
        lock(&self.state).log.clone()
    }

    /// Bodies Slack accepted (answered 200): what the channel shows.
    pub fn delivered(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| l.status == 200)
            .map(|l| l.body)
            .collect()
    }

    /// (status, error string) of every refused request.
    pub fn refused(&self) -> Vec<(u16, String)> {
        self.log()
            .into_iter()
            .filter(|l| l.status != 200)
            .map(|l| (l.status, l.answer))
            .collect()
    }

    pub fn requests(&self) -> usize {
        lock(&self.state).log.len()
    }

    pub fn times(&self) -> Vec<Instant> {
        self.log().into_iter().map(|l| l.at).collect()
    }

    /// Forgets the log and the scripted answers.
    pub fn reset(&self) {
        *lock(&self.state) = State::default();
    }
}

/// Checks one request as Slack's incoming webhook does.
pub fn check_request(request: &Request) -> Result<(), (u16, &'static str)> {
    let segments: Vec<&str> = request.url.path().trim_matches('/').split('/').collect();
    if request.method.as_str() != "POST"
        || segments.len() != 4
        || segments[0] != "services"
        || segments[1..].iter().any(|s| s.is_empty())
    {
        return Err((404, "no_service"));
    }
    check_body(&request.body)
}

/// Checks one message body as Slack does: `Ok`, or Slack's (status, error string).
pub fn check_body(body: &[u8]) -> Result<(), (u16, &'static str)> {
    let v: Value = serde_json::from_slice(body).map_err(|_| (400, "invalid_payload"))?;
    let obj = v.as_object().ok_or((400, "invalid_payload"))?;
    const TOP: &[&str] = &[
        "text",
        "blocks",
        "attachments",
        "thread_ts",
        "mrkdwn",
        "unfurl_links",
        "unfurl_media",
        "username",
        "icon_emoji",
        "icon_url",
        "channel",
        "link_names",
        "parse",
        "metadata",
        "reply_broadcast",
    ];
    if obj.keys().any(|k| !TOP.contains(&k.as_str())) {
        return Err((400, "invalid_payload"));
    }
    let text = match obj.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err((400, "invalid_payload")),
    };
    if text.is_some_and(|t| t.chars().count() > 40_000) {
        return Err((400, "msg_too_long"));
    }
    let blocks = match obj.get("blocks") {
        None | Some(Value::Null) => None,
        Some(Value::Array(b)) => Some(b),
        Some(_) => return Err((400, "invalid_blocks")),
    };
    let has_text = text.is_some_and(|t| !t.trim().is_empty());
    match blocks {
        None if !has_text => return Err((400, "no_text")),
        None => return Ok(()),
        Some(b) if b.is_empty() && !has_text => return Err((400, "no_text")),
        Some(b) => {
            if b.len() > 50 {
                return Err((400, "invalid_blocks"));
            }
            let mut total = 0usize;
            for block in b {
                total += check_block(block).map_err(|_| (400, "invalid_blocks"))?;
            }
            if total > MAX_BLOCK_CHARS {
                return Err((400, "msg_blocks_too_long"));
            }
        }
    }
    Ok(())
}

/// One block: the characters of text it carries, or why Slack refuses it.
pub fn check_block(block: &Value) -> Result<usize, String> {
    let obj = block.as_object().ok_or("a block is not an object")?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("a block without a type")?;
    let allowed: &[&str] = match kind {
        "section" => &["type", "block_id", "text", "fields", "accessory", "expand"],
        "divider" => &["type", "block_id"],
        "context" => &["type", "block_id", "elements"],
        "header" => &["type", "block_id", "text"],
        other => {
            return Err(format!(
                "block type {other:?} is not one the stand-in knows"
            ));
        }
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("{kind} block: unknown key {k:?}"));
    }
    if let Some(id) = obj.get("block_id") {
        let id = id.as_str().ok_or("block_id is not a string")?;
        if id.is_empty() || id.chars().count() > 255 {
            return Err("block_id is empty or over 255 characters".into());
        }
    }
    match kind {
        "section" => {
            let mut n = 0;
            let text = obj.get("text");
            let fields = obj.get("fields");
            if text.is_none() && fields.is_none() {
                return Err("a section needs text or fields".into());
            }
            if let Some(t) = text {
                n += check_text(t, &["mrkdwn", "plain_text"], 3000)?;
            }
            if let Some(f) = fields {
                let f = f.as_array().ok_or("fields is not an array")?;
                if f.is_empty() || f.len() > 10 {
                    return Err(format!("{} fields (1 to 10)", f.len()));
                }
                for item in f {
                    n += check_text(item, &["mrkdwn", "plain_text"], 2000)?;
                }
            }
            Ok(n)
        }
        "divider" => Ok(0),
        "context" => {
            let e = obj
                .get("elements")
                .and_then(Value::as_array)
                .ok_or("context without elements")?;
            if e.is_empty() || e.len() > 10 {
                return Err(format!("{} context elements (1 to 10)", e.len()));
            }
            let mut n = 0;
            for el in e {
                n += check_text(el, &["mrkdwn", "plain_text"], 3000)?;
            }
            Ok(n)
        }
        "header" => check_text(
            obj.get("text").ok_or("header without text")?,
            &["plain_text"],
            150,
        ),
        _ => unreachable!(),
    }
}

/// A text object of one of `kinds` with at most `max` characters: its characters.
fn check_text(t: &Value, kinds: &[&str], max: usize) -> Result<usize, String> {
    let obj = t.as_object().ok_or("a text object is not an object")?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("text object without a type")?;
    if !kinds.contains(&kind) {
        return Err(format!("text type {kind:?} where {kinds:?} is allowed"));
    }
    let extra = if kind == "mrkdwn" {
        "verbatim"
    } else {
        "emoji"
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["type", "text", extra].contains(&k.as_str()))
    {
        return Err(format!("text object: unknown key {k:?}"));
    }
    let text = obj
        .get("text")
        .and_then(Value::as_str)
        .ok_or("text object without text")?;
    let n = text.chars().count();
    if n == 0 || n > max {
        return Err(format!("text of {n} characters (1 to {max})"));
    }
    Ok(n)
}

/// Runs every body through the official Slack SDK's Block Kit models (PyPI `slack_sdk`, via
/// `slack_blocks.py` beside it): `Ok` for each body the SDK parses and writes back unchanged, else
/// what it said.
pub fn slack_sdk_check(bodies: &[String]) -> Vec<Result<(), String>> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/slack_blocks.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3 slack_blocks.py");
    {
        let mut stdin = child.stdin.take().unwrap();
        for b in bodies {
            let one_line: Value = serde_json::from_str(b).expect("a Slack body is JSON");
            writeln!(stdin, "{one_line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tools/test-support/slack_blocks.py failed (is slack_sdk installed? scripts/install-test-tools.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Result<(), String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            match v["ok"].as_bool() {
                Some(true) => Ok(()),
                _ => Err(v["error"].as_str().unwrap_or("?").to_owned()),
            }
        })
        .collect();
    assert_eq!(results.len(), bodies.len(), "one answer per body");
    results
}

/// Both checks on every body: the stand-in's and the SDK's.
pub fn assert_slack_accepts(bodies: &[String]) {
    for (i, b) in bodies.iter().enumerate() {
        if let Err((status, code)) = check_body(b.as_bytes()) {
            panic!(
                "message {} refused by the stand-in: {status} {code}\n{b}",
                i + 1
            );
        }
    }
    for (i, r) in slack_sdk_check(bodies).into_iter().enumerate() {
        if let Err(e) = r {
            panic!("message {} refused by slack_sdk: {e}\n{}", i + 1, bodies[i]);
        }
    }
}
