//! Turns a Lambda event (S3 notification, EventBridge, SQS/SNS wrapped, direct) into report
//! locations.
//!
//! Shapes understood, detected by distinctive keys. Only the fields routing needs are read (and
//! required); everything else in an event is ignored whatever its shape, so a fixture another
//! tool wrote (no `SigningCertURL`, a binary SQS message attribute that is not base64, an
//! `eventTime` in another format) is read as AWS would have it:
//!
//! | shape | detected by | fields read | report location |
//! |---|---|---|---|
//! | S3 notification | `Records[].s3` | `s3.bucket.name`, `s3.object.key`, `eventName` | bucket and key (form-URL-decoded) when `eventName` is `ObjectCreated:*`; other events skipped |
//! | SQS | `Records[].body` | `body` (and `messageId` for a partial batch response) | `body` is another event (JSON string), handled recursively |
//! | SNS | `Records[].Sns` | `Sns.Message`, `Sns.Type` when present | `Message` is another event (JSON string), recursively; a `Type` other than `Notification` is skipped |
//! | SNS envelope (an SQS body) | `Message` + `Type` or `TopicArn` | `Message`, `Type` when present | as for SNS |
//! | EventBridge | `detail-type` + `detail` | `detail-type`, `source` when present (must be `aws.s3`), `detail.bucket.name`, `detail.object.key` | `Object Created` names the object; other detail types skipped |
//! | S3 test event | `"Event": "s3:TestEvent"` | | none: skipped |
//! | Lambda on-failure destination record | `requestPayload` | `requestPayload` | the event that failed, handled recursively (replay from the on-failure queue) |
//! | `aws sqs receive-message` output | `Messages[].Body` | `Body` (and `MessageId`) | each `Body` is another event (JSON string), recursively |
//! | direct | `bucket` + `key` | `bucket`, `key` | taken as is, no decoding |
//!
//! Every error names the path inside the event (`Records[2].s3.object.key: missing`); for a
//! wrapped event the path goes through the wrapper (`Records[0].body -> Records[1].s3...`).
//!
//! An SQS event (every record an SQS message with a `messageId`) is also read message by message
//! ([`parse_event`]): the Lambda handler answers a partial batch response
//! (`batchItemFailures`) naming only the messages whose reports failed, and a message whose body
//! is unreadable fails alone. An event file of the CLI ([`parse_event_file`]) reads the output of
//! `aws sqs receive-message` message by message too.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::location::ReportLocation;

/// What an event asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventLocations {
    /// Reports to process, in event order, duplicates removed.
    pub locations: Vec<ReportLocation>,
    /// Records acknowledged and skipped, each with why (`s3:TestEvent`, a non-create event, …).
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unrecognized event shape: {0}")]
    Shape(String),
    /// A recognised shape with a bad or missing field; `path` locates it in the event.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    /// A wrapper's payload (SQS `body`, SNS `Message`) that is not JSON.
    #[error("{path}: expected an embedded JSON event, but it is not valid JSON: {source}")]
    EmbeddedJson {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// How deep wrappers may nest (SQS → SNS → S3 is 2).
const MAX_NESTING: usize = 4;

/// The longest S3 object key, in UTF-8 bytes (after URL-decoding), as S3 itself allows.
pub const MAX_KEY_BYTES: usize = 1024;

/// A key longer than S3 allows cannot name a real object: reject it here, with its path, rather
/// than carry a megabyte "key" into every log line and request.
fn check_key(key: &str, path: &Path) -> Result<(), EventError> {
    check_key_len(key, MAX_KEY_BYTES, path)
}

/// As [`check_key`] for a key still URL-encoded (each byte may take 3 characters).
fn check_raw_key(key: &str, path: &Path) -> Result<(), EventError> {
    check_key_len(key, 3 * MAX_KEY_BYTES, path)
}

fn check_key_len(key: &str, max: usize, path: &Path) -> Result<(), EventError> {
    if key.len() > max {
        let head: String = key.chars().take(60).collect();
        return Err(invalid(
            path,
            format!(
                "object key is {} bytes{}, longer than S3 allows ({MAX_KEY_BYTES} bytes once \
                 URL-decoded); it starts {head:?}",
                key.len(),
                if max > MAX_KEY_BYTES {
                    " URL-encoded"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

/// Parses an event's JSON bytes.
pub fn locations_from_event(bytes: &[u8]) -> Result<EventLocations, EventError> {
    locations_from_value(&event_value(bytes)?)
}

/// An event file's JSON, a leading UTF-8 byte order mark allowed (editors on Windows write one;
/// the aws-lambda-dotnet test events start with it).
pub fn event_value(bytes: &[u8]) -> Result<Value, EventError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(serde_json::from_slice(bytes)?)
}

/// Same as [`locations_from_event`] for an event already parsed (the Lambda runtime hands one
/// over as a `serde_json::Value`). An SQS batch fails as a whole at its first unreadable
/// message, and a report named twice is listed once; [`parse_event`] reads a batch message by
/// message.
pub fn locations_from_value(event: &Value) -> Result<EventLocations, EventError> {
    let mut collector = Collector::default();
    collector.event(event, &Path::root(), 0)?;
    Ok(collector.out)
}

/// An event read for the Lambda handler.
#[derive(Debug)]
pub enum ParsedEvent {
    /// Any event but an SQS batch: its locations, or why it cannot be read.
    Single(Result<EventLocations, EventError>),
    /// An SQS event: each message read on its own, in record order.
    SqsBatch(Vec<SqsMessage>),
}

/// One message of an SQS batch.
#[derive(Debug)]
pub struct SqsMessage {
    /// The record's `messageId`: the `itemIdentifier` of a partial batch response.
    pub message_id: String,
    /// `Records[i]`, for messages.
    pub path: String,
    pub result: Result<EventLocations, EventError>,
}

/// Reads an event; an SQS event (`Records` all SQS messages with a non-empty string `messageId`)
/// message by message, so one unreadable message does not hide the others.
pub fn parse_event(event: &Value) -> ParsedEvent {
    let root = Path::root();
    let records = event
        .as_object()
        .and_then(|o| o.get("Records"))
        .and_then(Value::as_array);
    let message_ids: Option<Vec<&str>> = records.filter(|r| !r.is_empty()).and_then(|records| {
        records
            .iter()
            .map(|r| {
                let obj = r.as_object()?;
                if !obj.contains_key("body") || obj.contains_key("s3") || obj.contains_key("Sns") {
                    return None;
                }
                obj.get("messageId")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
            })
            .collect()
    });
    let (Some(records), Some(ids)) = (records, message_ids) else {
        let mut collector = Collector::default();
        return ParsedEvent::Single(collector.event(event, &root, 0).map(|()| collector.out));
    };
    let rpath = root.field("Records");
    let messages = records
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (record, id))| {
            let p = rpath.index(i);
            let mut collector = Collector::default();
            let result = collector.sqs_record(record, &p, 0).map(|()| collector.out);
            SqsMessage {
                message_id: id.to_owned(),
                path: p.to_string(),
                result,
            }
        })
        .collect();
    ParsedEvent::SqsBatch(messages)
}

/// Reads an event file of the CLI (`--event FILE`): as [`parse_event`], and the output of
/// `aws sqs receive-message` (`{"Messages": [{"MessageId": …, "Body": …}]}`, e.g. taken from the
/// on-failure queue) message by message, so one unreadable message does not hide the others.
pub fn parse_event_file(event: &Value) -> ParsedEvent {
    let root = Path::root();
    let messages = event
        .as_object()
        .filter(|o| !o.contains_key("Records"))
        .and_then(|o| o.get("Messages"))
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty());
    let Some(messages) = messages else {
        return parse_event(event);
    };
    let mpath = root.field("Messages");
    let parsed = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let p = mpath.index(i);
            let message_id = m
                .get("MessageId")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("#{i}"), str::to_owned);
            let mut collector = Collector::default();
            let result = collector.received_message(m, &p, 0).map(|()| collector.out);
            SqsMessage {
                message_id,
                path: p.to_string(),
                result,
            }
        })
        .collect();
    ParsedEvent::SqsBatch(parsed)
}

/// Decodes an `application/x-www-form-urlencoded` value, as S3 encodes object keys in its
/// notifications: `+` is a space, `%XX` is a byte, and the bytes must be UTF-8.
///
/// Unlike `form_urlencoded::parse` (lenient: it keeps a stray `%` and replaces bad UTF-8) this is
/// strict, so a key that is not what S3 would send is an error rather than a wrong key; and it
/// does not split on `&`/`=`.
pub fn form_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                match hex {
                    Some(b) => out.push(b),
                    None => {
                        return Err(format!("'%' at byte {i} is not followed by two hex digits"));
                    }
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| format!("decoded bytes are not UTF-8 ({e})"))
}

/// A path inside the event, for messages: `Records[0].body -> Records[1].s3.object.key`.
#[derive(Clone, Debug)]
struct Path(String);

impl Path {
    fn root() -> Self {
        Path(String::new())
    }
    fn field(&self, name: &str) -> Path {
        if self.0.is_empty() || self.0.ends_with(" -> ") {
            Path(format!("{}{name}", self.0))
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }
    fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
    /// Entering the JSON document embedded in this string field.
    fn embedded(&self) -> Path {
        Path(format!("{} -> ", self.0))
    }
    fn fields(&self, names: &[&str]) -> Path {
        names.iter().fold(self.clone(), |p, n| p.field(n))
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.strip_suffix(" -> ").unwrap_or(&self.0);
        if s.is_empty() {
            f.write_str("event")
        } else {
            f.write_str(s)
        }
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> EventError {
    EventError::Invalid {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn keys(obj: &Map<String, Value>) -> String {
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    format!("[{}]", keys.join(", "))
}

/// The non-empty string at `names` below `value`; the error names the first missing level.
fn str_at<'v>(value: &'v Value, base: &Path, names: &[&str]) -> Result<&'v str, EventError> {
    let mut cur = value;
    let mut path = base.clone();
    for name in names {
        path = path.field(name);
        cur = match cur.get(name) {
            Some(v) if !v.is_null() => v,
            _ => return Err(invalid(&path, "missing")),
        };
    }
    match cur {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::String(_) => Err(invalid(&path, "empty, expected a non-empty string")),
        other => Err(invalid(
            &path,
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

/// The string at `names` below `value` when present (null counts as absent); an error when it
/// is there but not a string.
fn opt_str_at<'v>(
    value: &'v Value,
    base: &Path,
    names: &[&str],
) -> Result<Option<&'v str>, EventError> {
    let mut cur = value;
    for name in names {
        cur = match cur.get(name) {
            Some(v) if !v.is_null() => v,
            _ => return Ok(None),
        };
    }
    match cur {
        Value::String(s) => Ok(Some(s)),
        other => Err(invalid(
            &base.fields(names),
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn embedded_json(s: &str, path: &Path) -> Result<Value, EventError> {
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    serde_json::from_str(s).map_err(|source| EventError::EmbeddedJson {
        path: path.to_string(),
        source,
    })
}

#[derive(Default)]
struct Collector {
    out: EventLocations,
    seen: HashSet<ReportLocation>,
}

impl Collector {
    fn push(&mut self, loc: ReportLocation, path: &Path) {
        if self.seen.contains(&loc) {
            self.out
                .skipped
                .push(format!("{path}: {loc} is a duplicate of an earlier record"));
        } else {
            self.seen.insert(loc.clone());
            self.out.locations.push(loc);
        }
    }

    fn event(&mut self, value: &Value, path: &Path, depth: usize) -> Result<(), EventError> {
        if depth > MAX_NESTING {
            return Err(invalid(
                path,
                format!("events nested more than {MAX_NESTING} levels deep"),
            ));
        }
        let Some(obj) = value.as_object() else {
            return Err(EventError::Shape(format!(
                "{path}: expected a JSON object, found {}",
                kind(value)
            )));
        };
        if obj.contains_key("Records") {
            self.records(obj, path, depth)
        } else if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            let bucket = obj.get("Bucket").and_then(Value::as_str).unwrap_or("?");
            self.out.skipped.push(format!(
                "{path}: s3:TestEvent for bucket {bucket} (sent when a notification is configured)"
            ));
            Ok(())
        } else if obj.contains_key("detail-type") && obj.contains_key("detail") {
            self.eventbridge(value, path)
        } else if obj.contains_key("Message")
            && (obj.contains_key("Type") || obj.contains_key("TopicArn"))
        {
            self.sns_message(value, path, depth)
        } else if obj.contains_key("requestPayload") {
            // A Lambda destination record (the on-failure queue): the event that failed.
            let payload = obj.get("requestPayload").unwrap_or(&Value::Null);
            self.event(payload, &path.field("requestPayload"), depth + 1)
        } else if let Some(messages) = obj.get("Messages") {
            let mpath = path.field("Messages");
            let Some(messages) = messages.as_array() else {
                return Err(invalid(
                    &mpath,
                    format!("expected an array, found {}", kind(messages)),
                ));
            };
            if messages.is_empty() {
                self.out
                    .skipped
                    .push(format!("{mpath}: empty, no messages to process"));
            }
            for (i, m) in messages.iter().enumerate() {
                self.received_message(m, &mpath.index(i), depth)?;
            }
            Ok(())
        } else if obj.contains_key("bucket") && obj.contains_key("key") {
            let bucket = str_at(value, path, &["bucket"])?;
            let key = str_at(value, path, &["key"])?;
            check_key(key, &path.field("key"))?;
            let loc = ReportLocation::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            };
            self.push(loc, path);
            Ok(())
        } else {
            Err(EventError::Shape(format!(
                "{path}: object with keys {}; expected an S3 notification (Records[].s3), SQS \
                 (Records[].body), SNS (Records[].Sns), an SNS envelope (Message with Type or TopicArn), \
                 EventBridge (detail-type/detail), an s3:TestEvent, a Lambda destination record \
                 (requestPayload), `aws sqs receive-message` output (Messages[].Body) or \
                 {{\"bucket\", \"key\"}}",
                keys(obj)
            )))
        }
    }

    fn records(
        &mut self,
        obj: &Map<String, Value>,
        path: &Path,
        depth: usize,
    ) -> Result<(), EventError> {
        let rpath = path.field("Records");
        let records = match obj.get("Records") {
            Some(Value::Array(records)) => records,
            Some(other) => {
                return Err(invalid(
                    &rpath,
                    format!("expected an array, found {}", kind(other)),
                ));
            }
            None => return Err(invalid(&rpath, "missing")),
        };
        if records.is_empty() {
            self.out
                .skipped
                .push(format!("{rpath}: empty, no records to process"));
        }
        for (i, record) in records.iter().enumerate() {
            let p = rpath.index(i);
            let Some(r) = record.as_object() else {
                return Err(invalid(
                    &p,
                    format!("expected an object, found {}", kind(record)),
                ));
            };
            if r.contains_key("s3") {
                self.s3_record(record, &p)?;
            } else if r.contains_key("Sns") {
                let sns = record.get("Sns").unwrap_or(&Value::Null);
                if !sns.is_object() {
                    return Err(invalid(
                        &p.field("Sns"),
                        format!("expected an object, found {}", kind(sns)),
                    ));
                }
                self.sns_message(sns, &p.field("Sns"), depth)?;
            } else if r.contains_key("body") {
                self.sqs_record(record, &p, depth)?;
            } else {
                return Err(invalid(
                    &p,
                    format!(
                        "record with keys {} has none of s3 (S3 notification), body (SQS) or Sns \
                         (SNS)",
                        keys(r)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A message of `aws sqs receive-message`'s output: its `Body` is another event.
    fn received_message(
        &mut self,
        message: &Value,
        p: &Path,
        depth: usize,
    ) -> Result<(), EventError> {
        if depth > MAX_NESTING {
            return Err(invalid(
                p,
                format!("events nested more than {MAX_NESTING} levels deep"),
            ));
        }
        if !message.is_object() {
            return Err(invalid(
                p,
                format!("expected an object, found {}", kind(message)),
            ));
        }
        let body = str_at(message, p, &["Body"])?;
        let bpath = p.field("Body");
        let inner = embedded_json(body, &bpath)?;
        self.event(&inner, &bpath.embedded(), depth + 1)
    }

    /// An SQS message: its `body` is another event.
    fn sqs_record(&mut self, record: &Value, p: &Path, depth: usize) -> Result<(), EventError> {
        let body = str_at(record, p, &["body"])?;
        let bpath = p.field("body");
        let inner = embedded_json(body, &bpath)?;
        self.event(&inner, &bpath.embedded(), depth + 1)
    }

    fn s3_record(&mut self, record: &Value, p: &Path) -> Result<(), EventError> {
        // Only what routing uses; the rest of the record (eventTime, userIdentity, …) is ignored.
        let bucket = str_at(record, p, &["s3", "bucket", "name"])?;
        let raw_key = str_at(record, p, &["s3", "object", "key"])?;
        let event_name = str_at(record, p, &["eventName"])?;
        check_raw_key(raw_key, &p.fields(&["s3", "object", "key"]))?;
        let key = form_decode(raw_key).map_err(|why| {
            invalid(
                &p.fields(&["s3", "object", "key"]),
                format!("cannot URL-decode {raw_key:?}: {why}"),
            )
        })?;
        check_key(&key, &p.fields(&["s3", "object", "key"]))?;
        let loc = ReportLocation::S3 {
            bucket: bucket.to_owned(),
            key,
        };
        if event_name.starts_with("ObjectCreated:") {
            self.push(loc, p);
        } else {
            self.out.skipped.push(format!(
                "{p}: {event_name} for {loc} is not an ObjectCreated:* event"
            ));
        }
        Ok(())
    }

    fn eventbridge(&mut self, value: &Value, path: &Path) -> Result<(), EventError> {
        if let Some(source) = opt_str_at(value, path, &["source"])?
            && source != "aws.s3"
        {
            return Err(invalid(
                &path.field("source"),
                format!("expected \"aws.s3\", found {source:?}"),
            ));
        }
        let detail_type = str_at(value, path, &["detail-type"])?;
        let detail = path.field("detail");
        let detail_value = value.get("detail").unwrap_or(&Value::Null);
        let bucket = str_at(detail_value, &detail, &["bucket", "name"])?;
        let raw_key = str_at(detail_value, &detail, &["object", "key"])?;
        check_raw_key(raw_key, &detail.fields(&["object", "key"]))?;
        // EventBridge's key encoding is undocumented. Backup report keys always contain ':',
        // so a key with "%3A" is form-encoded and one with a raw ':' (or neither) is raw.
        let key = if !raw_key.contains(':') && raw_key.to_ascii_lowercase().contains("%3a") {
            form_decode(raw_key).map_err(|why| {
                invalid(
                    &detail.fields(&["object", "key"]),
                    format!("cannot URL-decode {raw_key:?}: {why}"),
                )
            })?
        } else {
            raw_key.to_owned()
        };
        check_key(&key, &detail.fields(&["object", "key"]))?;
        let loc = ReportLocation::S3 {
            bucket: bucket.to_owned(),
            key,
        };
        if detail_type == "Object Created" {
            self.push(loc, path);
        } else {
            self.out.skipped.push(format!(
                "{path}: EventBridge {detail_type:?} for {loc} is not an \"Object Created\" event"
            ));
        }
        Ok(())
    }

    /// An SNS message (a record's `Sns`, or an envelope in an SQS body): `Message` is another
    /// event; a `Type` other than `Notification` (a subscription confirmation…) is skipped.
    fn sns_message(&mut self, value: &Value, path: &Path, depth: usize) -> Result<(), EventError> {
        if let Some(kind) = opt_str_at(value, path, &["Type"])?
            && kind != "Notification"
        {
            let topic = opt_str_at(value, path, &["TopicArn"])
                .ok()
                .flatten()
                .unwrap_or("an unnamed topic");
            self.out.skipped.push(format!(
                "{path}: SNS {kind} message from {topic}, not a Notification"
            ));
            return Ok(());
        }
        let message = str_at(value, path, &["Message"])?;
        let mpath = path.field("Message");
        let inner = embedded_json(message, &mpath)?;
        self.event(&inner, &mpath.embedded(), depth + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decode_plus_percent_and_literal_plus() {
        assert_eq!(form_decode("a+b%3Ac%2Bd").unwrap(), "a b:c+d");
        assert_eq!(form_decode("%3a%3A").unwrap(), "::");
        assert_eq!(form_decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(form_decode("a&b=c").unwrap(), "a&b=c");
        assert_eq!(form_decode("").unwrap(), "");
    }

    #[test]
    fn form_decode_rejects_bad_input() {
        assert!(form_decode("a%").unwrap_err().contains("byte 1"));
        assert!(form_decode("a%4").is_err());
        assert!(form_decode("a%zz").is_err());
        assert!(form_decode("%FF").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn path_display() {
        let p = Path::root();
        assert_eq!(p.to_string(), "event");
        let q = p.field("Records").index(2).fields(&["s3", "object", "key"]);
        assert_eq!(q.to_string(), "Records[2].s3.object.key");
        let r = p.field("Records").index(0).field("body").embedded();
        assert_eq!(r.to_string(), "Records[0].body");
        assert_eq!(r.field("Records").to_string(), "Records[0].body -> Records");
    }
}
