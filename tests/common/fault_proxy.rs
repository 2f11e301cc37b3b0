//! A fault-injecting HTTP/1.1 proxy for the fault-matrix tests: sits between an AWS SDK client and
//! `moto_server` and, by rule, answers a matching request with an error status, never answers,
//! sends part of the response body and then stalls, or runs a callback (e.g. stopping moto) before
//! forwarding. Everything else is forwarded to the upstream as is.
//!
//! ```ignore
//! let proxy = FaultProxy::start(moto.port()).await;
//! proxy.add(Rule::new("GET", "/reports/audit%20reports/").times(2).respond(503, "SlowDown", "slow down"));
//! // point the SDK config's endpoint at proxy.endpoint()
//! ```
//!
//! One request per client connection (`Connection: close` both ways): simple framing, and the SDK
//! opens a new connection when the old one closes. Request bodies are read by `Content-Length`
//! or chunked framing; responses are relayed until the upstream closes.
//!
//! Included with `#[path = "common/fault_proxy.rs"] mod fault_proxy;` by the tests that use it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a matching request gets.
#[derive(Clone)]
pub enum Action {
    /// An error answer in S3/SNS XML (`<Error><Code>` — both SDKs read it).
    Respond {
        status: u16,
        code: String,
        message: String,
    },
    /// Accept the request and never answer (the connection is closed after `for_`, so no test
    /// leaves a socket behind).
    Hang { for_: Duration },
    /// Forward, then send the response head and the first `after_bytes` of its body, hold the
    /// connection for `for_`, and close it (a body that stalls midway, then breaks).
    Stall { after_bytes: usize, for_: Duration },
    /// Run `f` (e.g. stop moto), then forward.
    Before(Arc<dyn Fn() + Send + Sync>),
}

/// A request matcher with a budget.
#[derive(Clone)]
pub struct Rule {
    method: String,
    /// The start of the raw request target (path and query, percent-encoded as sent).
    target_prefix: String,
    /// A substring of the request body (SNS is `POST /` with `Action=Publish&…`).
    body_contains: Option<String>,
    /// Let this many matching requests through before acting.
    skip: u32,
    /// Act on this many matching requests (then let them through); `None`: forever.
    times: Option<u32>,
    action: Action,
}

impl Rule {
    pub fn new(method: &str, target_prefix: &str) -> Rule {
        Rule {
            method: method.to_owned(),
            target_prefix: target_prefix.to_owned(),
            body_contains: None,
            skip: 0,
            times: None,
            action: Action::Respond {
                status: 500,
                code: "InternalError".into(),
                message: "injected".into(),
            },
        }
    }
    pub fn body(mut self, contains: &str) -> Rule {
        self.body_contains = Some(contains.to_owned());
        self
    }
    pub fn skip(mut self, n: u32) -> Rule {
        self.skip = n;
        self
    }
    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }
    pub fn respond(mut self, status: u16, code: &str, message: &str) -> Rule {
        self.action = Action::Respond {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        };
        self
    }
    pub fn hang(mut self, for_: Duration) -> Rule {
        self.action = Action::Hang { for_ };
        self
    }
    pub fn stall(mut self, after_bytes: usize, for_: Duration) -> Rule {
        self.action = Action::Stall { after_bytes, for_ };
        self
    }
    pub fn before(mut self, f: impl Fn() + Send + Sync + 'static) -> Rule {
        self.action = Action::Before(Arc::new(f));
        self
    }

    fn matches(&self, method: &str, target: &str, body: &[u8]) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && target.starts_with(&self.target_prefix)
            && self
                .body_contains
                .as_ref()
                .is_none_or(|needle| String::from_utf8_lossy(body).contains(needle.as_str()))
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    /// `forwarded`, `respond 503`, `hang`, `stall`, `upstream down`.
    pub outcome: String,
}

struct State {
    upstream: u16,
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

/// The proxy; stops accepting when dropped.
pub struct FaultProxy {
    port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:<upstream>`.
    pub async fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fault proxy: bind 127.0.0.1:0");
        let port = listener.local_addr().expect("fault proxy: address").port();
        let state = Arc::new(Mutex::new(State {
            upstream,
            rules: Vec::new(),
            seen: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(conn, state).await;
                });
            }
        });
        FaultProxy { port, state, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn add(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Removes every rule: from now on everything is forwarded.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Forwards to another port from now on (a restarted moto).
    pub fn set_upstream(&self, port: u16) {
        self.lock().upstream = port;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// How many requests with `method` and a target starting with `prefix` the proxy saw.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.lock()
            .seen
            .iter()
            .filter(|s| s.method.eq_ignore_ascii_case(method) && s.target.starts_with(prefix))
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads one request, applies the first rule that matches (and has budget left), answers, closes.
async fn serve(mut conn: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some((method, target, head, body)) = read_request(&mut conn).await? else {
        return Ok(());
    };
    let (upstream, action) = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let mut action = None;
        for rule in st.rules.iter_mut() {
            if !rule.matches(&method, &target, &body) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                break;
            }
            match rule.times {
                Some(0) => continue,
                Some(n) => rule.times = Some(n - 1),
                None => {}
            }
            action = Some(rule.action.clone());
            break;
        }
        (st.upstream, action)
    };
    let record = |outcome: &str| {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.seen.push(Seen {
            method: method.clone(),
            target: target.clone(),
            outcome: outcome.to_owned(),
        });
    };
    match action {
        Some(Action::Respond {
            status,
            code,
            message,
        }) => {
            record(&format!("respond {status}"));
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Receiver</Type>\
                 <Code>{code}</Code><Message>{message}</Message></Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>fault-proxy</RequestId></ErrorResponse>"
            );
            // S3 reads `<Error>` at the root; SNS `<ErrorResponse><Error>`. Answer per API.
            let body = if target.starts_with("/?") || target == "/" {
                body
            } else {
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                     <Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
                )
            };
            let resp = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).await?;
            conn.shutdown().await
        }
        Some(Action::Hang { for_ }) => {
            record("hang");
            tokio::time::sleep(for_).await;
            Ok(())
        }
        Some(Action::Stall { after_bytes, for_ }) => {
            let Some(resp) = forward(upstream, &head, &body).await else {
                record("upstream down");
                return Ok(());
            };
            record("stall");
            let split = find(&resp, b"\r\n\r\n").map_or(resp.len(), |i| i + 4);
            let end = (split + after_bytes).min(resp.len());
            conn.write_all(&resp[..end]).await?;
            conn.flush().await?;
            tokio::time::sleep(for_).await;
            Ok(())
        }
        Some(Action::Before(f)) => {
            // The callback may block (stopping a process): keep it off the runtime's workers.
            let _ = tokio::task::spawn_blocking(move || f()).await;
            relay(&mut conn, upstream, &head, &body, record).await
        }
        None => relay(&mut conn, upstream, &head, &body, record).await,
    }
}

async fn relay(
    conn: &mut TcpStream,
    upstream: u16,
    head: &[u8],
    body: &[u8],
    record: impl Fn(&str),
) -> std::io::Result<()> {
    match forward(upstream, head, body).await {
        Some(resp) => {
            record("forwarded");
            conn.write_all(&resp).await?;
            conn.shutdown().await
        }
        // The upstream is down: close without an answer, as a dead endpoint does.
        None => {
            record("upstream down");
            Ok(())
        }
    }
}

/// Sends the request upstream with `Connection: close` and reads the whole response.
async fn forward(upstream: u16, head: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).await.ok()?;
    up.write_all(head).await.ok()?;
    up.write_all(body).await.ok()?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await.ok()?;
    (!resp.is_empty()).then_some(resp)
}

/// (method, target, head rewritten for the upstream, body with framing as sent).
async fn read_request(
    conn: &mut TcpStream,
) -> std::io::Result<Option<(String, String, Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head_text = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head_text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut chunked = false;
    let mut new_head = format!("{request_line}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name_lc = name.trim().to_ascii_lowercase();
        match name_lc.as_str() {
            "connection" | "keep-alive" => continue,
            "content-length" => content_length = value.trim().parse().unwrap_or(0),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("Connection: close\r\n\r\n");
    let mut body = buf[head_end..].to_vec();
    if chunked {
        // Read until the terminating zero-size chunk (and the blank line after any trailers).
        while !chunked_complete(&body) {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        while body.len() < content_length {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some((method, target, new_head.into_bytes(), body)))
}

fn chunked_complete(body: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let Some(eol) = find(&body[i..], b"\r\n") else {
            return false;
        };
        let size_text = String::from_utf8_lossy(&body[i..i + eol]).into_owned();
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            return false;
        };
        i += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            return find(&body[i..], b"\r\n\r\n").is_some() || body[i..].starts_with(b"\r\n");
        }
        if body.len() < i + size + 2 {
            return false;
        }
        i += size + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A listener that accepts, reads each request in full and, until told otherwise, never answers
/// (a peer that hangs past any deadline). [`Blackhole::answer`] makes it answer later requests
/// with a status, as a recovered service does.
pub struct Blackhole {
    port: u16,
    state: Arc<Mutex<HoleState>>,
    task: tokio::task::JoinHandle<()>,
}

struct HoleState {
    answer: Option<u16>,
    /// Every request received in full: (head, body).
    requests: Vec<(String, String)>,
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Blackhole {
    /// `hold`: how long an unanswered connection is kept open before it is dropped.
    pub async fn start(hold: Duration) -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("blackhole: bind 127.0.0.1:0");
        let port = listener.local_addr().expect("blackhole: address").port();
        let state = Arc::new(Mutex::new(HoleState {
            answer: None,
            requests: Vec::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let Ok(Some((_, _, head, body))) = read_request(&mut conn).await else {
                        return;
                    };
                    let answer = {
                        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                        st.requests.push((
                            String::from_utf8_lossy(&head).into_owned(),
                            String::from_utf8_lossy(&body).into_owned(),
                        ));
                        st.answer
                    };
                    match answer {
                        Some(status) => {
                            let resp = format!(
                                "HTTP/1.1 {status} Answered\r\nContent-Type: text/plain\r\n\
                                 Content-Length: 2\r\nConnection: close\r\n\r\nok"
                            );
                            let _ = conn.write_all(resp.as_bytes()).await;
                            let _ = conn.shutdown().await;
                        }
                        None => tokio::time::sleep(hold).await,
                    }
                });
            }
        });
        Blackhole { port, state, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on, answer requests with `status`.
    pub fn answer(&self, status: u16) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).answer = Some(status);
    }

    /// The bodies of every request received in full (answered or not).
    pub fn bodies(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}
