//! A real `moto_server` (S3, SNS, SQS, ... over HTTP) for integration tests.
//!
//! ```ignore
//! let moto = Moto::start();                 // own process, own free port
//! let s3 = moto.s3_client().await;          // path-style, static test credentials
//! moto.create_bucket("b").await;
//! moto.put_object("b", "k", b"bytes".to_vec()).await;
//! let mut cmd = std::process::Command::new(bin);
//! moto.configure(&mut cmd);                 // AWS_ENDPOINT_URL & co. for a child process
//! ```
//!
//! The server is stopped when the `Moto` is dropped. It is started through a small `sh`
//! wrapper that also stops it when this test process dies without unwinding (its stdin pipe
//! closes), so a killed test run does not leave `moto_server`s behind.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use serde_json::{Value, json};

pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

pub struct Moto {
    child: Child,
    /// Closing it (on drop) makes the wrapper stop moto.
    stdin: Option<ChildStdin>,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts `moto_server` on a free port and waits until it answers HTTP (up to 20 s).
    /// Panics with a clear message when `moto_server` is missing or never comes up.
    pub fn start() -> Moto {
        let program = find_on_path("moto_server").unwrap_or_else(|| {
            panic!(
                "moto_server is not on PATH: run `pip install 'moto[server]'` \
                 (the integration tests run a real moto_server)"
            )
        });
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Moto::try_start(&program) {
                Ok(moto) => return moto,
                // Most likely another test grabbed the port between our probe and moto's bind.
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "moto_server did not start after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    fn try_start(program: &PathBuf) -> Result<Moto, String> {
        let port = free_port();
        let log = tempfile::Builder::new()
            .prefix("moto-server-")
            .suffix(".log")
            .tempfile()
            .map_err(|e| format!("cannot create a log file for moto_server: {e}"))?;
        let log_out = log
            .reopen()
            .map_err(|e| format!("cannot open moto_server log: {e}"))?;
        let log_err = log
            .reopen()
            .map_err(|e| format!("cannot open moto_server log: {e}"))?;
        // sh waits for moto (so moto exiting early, e.g. port taken, ends sh and we see it);
        // a background `cat` waits for EOF on stdin, i.e. for us to drop it or to die, and
        // then stops moto.
        let mut child = Command::new("sh")
            .arg("-c")
            // (A background job's stdin is /dev/null in a non-interactive sh, hence fd 3.)
            .arg(
                r#"exec 3<&0; "$0" "$@" </dev/null 3<&- & m=$!; (cat <&3 >/dev/null; kill $m 2>/dev/null) & exec 3<&-; wait $m"#,
            )
            .arg(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log_out))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|e| format!("cannot run sh to start moto_server: {e}"))?;
        let stdin = child.stdin.take();
        let mut moto = Moto {
            child,
            stdin,
            port,
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if moto.answers_http() {
                return Ok(moto);
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!(
                    "moto_server on port {port} exited with {status}:\n{}",
                    moto.log_text()
                ));
            }
            if Instant::now() > deadline {
                let log = moto.log_text();
                drop(moto);
                panic!(
                    "moto_server on port {port} did not answer HTTP within {START_TIMEOUT:?}; \
                     its output:\n{log}"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn answers_http(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
    }

    /// What moto printed so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process (the CLI, the Lambda binary) to use this moto.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            // Keep the developer's ~/.aws out of the test.
            ("AWS_CONFIG_FILE", "/nonexistent/aws-config".to_owned()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials".to_owned(),
            ),
        ]
    }

    /// Variables a child must not inherit (they would override the static test credentials or
    /// the endpoint).
    pub const ENV_REMOVE: &'static [&'static str] = &[
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ];

    /// Points a child process at this moto: sets [`Moto::env_vars`], removes
    /// [`Moto::ENV_REMOVE`]. (`assert_cmd::Command` has `From<std::process::Command>`.)
    pub fn configure<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for name in Self::ENV_REMOVE {
            cmd.env_remove(name);
        }
        cmd.envs(self.env_vars())
    }

    /// An SDK config for this moto, to build any service client
    /// (`aws_sdk_sns::Client::new(&moto.sdk_config().await)`).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
            .load()
            .await
    }

    /// An S3 client for this moto, built the way the application builds its own
    /// (`fetch::s3_client_from_config`: path-style because an endpoint is set).
    pub async fn s3_client(&self) -> aws_sdk_s3::Client {
        // As the router builds its own (`fetch::s3_client_from_config`): path-style, since an
        // endpoint is set.
        let config = aws_sdk_s3::config::Builder::from(&self.sdk_config().await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        self.s3_client()
            .await
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto: create bucket {bucket}: {e:?}"));
    }

    pub async fn put_object(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.s3_client()
            .await
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto: put s3://{bucket}/{key}: {e:?}"));
    }

    pub async fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .s3_client()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto: get s3://{bucket}/{key}: {e:?}"));
        out.body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("moto: read s3://{bucket}/{key}: {e:?}"))
            .to_vec()
    }

    /// [`Moto::create_bucket`] for sync tests (e.g. `assert_cmd` ones). Not inside a runtime.
    pub fn create_bucket_blocking(&self, bucket: &str) {
        block_on(self.create_bucket(bucket))
    }

    /// [`Moto::put_object`] for sync tests. Not inside a runtime.
    pub fn put_object_blocking(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        block_on(self.put_object(bucket, key, body))
    }

    /// [`Moto::get_object`] for sync tests. Not inside a runtime.
    pub fn get_object_blocking(&self, bucket: &str, key: &str) -> Vec<u8> {
        block_on(self.get_object(bucket, key))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // EOF on the wrapper's stdin stops moto; give it a moment, then kill the wrapper.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime")
        .block_on(fut)
}

/// A port nobody listens on right now (the OS picks it; moto binds it a moment later, hence
/// the retries in [`Moto::start`]).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0 for a free port")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// One SQS JSON-protocol call against the moto at `endpoint` (by endpoint: a test may restart
/// moto mid-run).
pub async fn sqs_at(endpoint: &str, action: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", format!("AmazonSQS.{action}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/{REGION}/sqs/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("SQS {action}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "SQS {action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The bodies of every message waiting in the SQS queue at moto `endpoint` (moto may have been
/// restarted on another port), removed from it when `delete`.
pub async fn receive_at(endpoint: &str, queue_url: &str, delete: bool) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let r = sqs_at(
            endpoint,
            "ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10,
                   "WaitTimeSeconds": 0, "VisibilityTimeout": 300}),
        )
        .await;
        let msgs = r["Messages"].as_array().cloned().unwrap_or_default();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            out.push(m["Body"].as_str().expect("Body").to_owned());
            if delete {
                sqs_at(
                    endpoint,
                    "DeleteMessage",
                    json!({"QueueUrl": queue_url, "ReceiptHandle": m["ReceiptHandle"]}),
                )
                .await;
            }
        }
    }
}

/// The SNS messages (`Message` of each envelope) waiting in the queue at `endpoint`, removed.
pub async fn drain_messages_at(endpoint: &str, queue_url: &str) -> Vec<String> {
    receive_at(endpoint, queue_url, true)
        .await
        .iter()
        .map(|b| {
            let envelope: Value = serde_json::from_str(b).expect("an SNS envelope");
            envelope["Message"].as_str().expect("Message").to_owned()
        })
        .collect()
}

/// SNS and SQS helpers (SQS over its JSON protocol: the crate has no SQS SDK, moto speaks it).
impl Moto {
    /// One SQS JSON-protocol call (the root crate has no SQS SDK; moto speaks the protocol).
    pub async fn sqs(&self, action: &str, body: Value) -> Value {
        sqs_at(&self.endpoint(), action, body).await
    }

    /// A topic with an SQS queue subscribed (raw delivery off: the queue gets the SNS envelope
    /// with Subject and MessageAttributes). Returns (topic ARN, queue URL).
    pub async fn topic_with_queue(
        &self,
        sdk: &aws_config::SdkConfig,
        name: &str,
    ) -> (String, String) {
        let sns = aws_sdk_sns::Client::new(sdk);
        let topic = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string();
        let q = self.sqs("CreateQueue", json!({"QueueName": name})).await;
        let queue_url = q["QueueUrl"].as_str().unwrap().to_string();
        let attrs = self
            .sqs(
                "GetQueueAttributes",
                json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
            )
            .await;
        let queue_arn = attrs["Attributes"]["QueueArn"].as_str().unwrap();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        (topic, queue_url)
    }

    /// Every SNS envelope waiting in the queue, left in it (hidden for the visibility timeout).
    pub async fn receive(&self, queue_url: &str) -> Vec<Value> {
        receive_at(&self.endpoint(), queue_url, false)
            .await
            .iter()
            .map(|b| serde_json::from_str(b).expect("an SNS envelope"))
            .collect()
    }

    /// The SNS messages (`Message` of each envelope) waiting in the queue, removed from it.
    pub async fn drain(&self, queue_url: &str) -> Vec<String> {
        drain_messages_at(&self.endpoint(), queue_url).await
    }
}
