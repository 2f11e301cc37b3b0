//! The `sns` sink: publishes each digest to an SNS topic (email subscribers read it).
//!
//! ```toml
//! [sinks.ops-email]
//! type = "sns"
//! topic_arn = "arn:aws:sns:eu-west-1:111122223333:backup-audit"   # or "${ssm:/audit/topic}"
//! template = "email.hbs"        # optional body template (plain text), relative to rules.toml
//! subject = "{{report_title}}"  # optional subject template (made one ASCII line, < 100 chars)
//! overflow = "truncate"         # or "split": numbered messages instead of "…and N more"
//! message_group_id = "audit"    # FIFO topics only (default "audit-router")
//! ```
//!
//! Limits: subject fewer than 100 printable ASCII characters on one line; message, subject and
//! attributes together at most 262 144 bytes. Message attributes (for SNS filter policies):
//! `report` (String), `environment` and `account` (String.Array), `findings` and `controls`
//! (Number), `sink` (String), `part`/`parts` (Number), and `test` (String `true`) on test messages.

use audit_router_sink_api::aws_error::{self, Failure};
use audit_router_sink_api::text::{ascii_subject, fit_digest, truncate_bytes};
use audit_router_sink_api::{
    AttributeValue, BoxFuture, BuildContext, Digest, Escape, LazySecret, Limits, OVERFLOW,
    Overflow, Payload, RenderContext, SecretRef, Sent, SettingDoc, SettingValue, Settings, Sink,
    SinkConfig, SinkError, SinkFactory, TemplateData, TemplateEngine, render_data,
};
use aws_sdk_sns::error::SdkError;
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const KIND: &str = "sns";
pub const DEFAULT_BODY_TEMPLATE: &str = include_str!("../templates/body.hbs");
pub const DEFAULT_SUBJECT_TEMPLATE: &str = include_str!("../templates/subject.hbs");

/// SNS: subjects must be fewer than 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 99;
/// SNS: 256 KiB for the whole publish (message, subject and attributes).
pub const MAX_MESSAGE_BYTES: usize = 262_144;

pub fn factory() -> SnsFactory {
    SnsFactory
}

pub struct SnsFactory;

const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "topic_arn",
        required: true,
        secret: true,
        help: "the topic to publish to (may be a ${ssm:…} / ${secretsmanager:…} reference)",
        value: SettingValue::NonEmptyString,
    },
    SettingDoc {
        key: "template",
        required: false,
        secret: false,
        help: "Handlebars file for the message body (plain text), relative to rules.toml",
        value: SettingValue::String,
    },
    SettingDoc {
        key: "subject",
        required: false,
        secret: false,
        help: "Handlebars template of the subject (made one ASCII line under 100 characters)",
        value: SettingValue::String,
    },
    SettingDoc {
        key: "overflow",
        required: false,
        secret: false,
        help: "\"truncate\" (default: one message ending in \"…and N more\") or \"split\" (numbered messages)",
        value: SettingValue::OneOf { values: OVERFLOW },
    },
    SettingDoc {
        key: "message_group_id",
        required: false,
        secret: false,
        help: "FIFO topics: the message group (default \"audit-router\")",
        value: SettingValue::String,
    },
];

fn limits() -> Limits {
    Limits {
        max_subject_chars: Some(MAX_SUBJECT_CHARS),
        max_message_bytes: Some(MAX_MESSAGE_BYTES),
        ..Limits::default()
    }
}

impl SinkFactory for SnsFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn settings(&self) -> &'static [SettingDoc] {
        SETTINGS
    }

    fn example(&self) -> &'static str {
        r#"topic_arn = "arn:aws:sns:eu-west-1:111122223333:audit-alerts""#
    }

    fn build(
        &self,
        config: SinkConfig<'_>,
        ctx: &BuildContext,
    ) -> Result<Arc<dyn Sink>, SinkError> {
        let s = Settings::new(config);
        let topic = s.str("topic_arn")?;
        if SecretRef::needs_resolving(topic) {
            if SecretRef::parse(topic).is_none() {
                return Err(SinkError::config(
                    config.name,
                    Some("topic_arn"),
                    "a reference must be the whole value, like \"${ssm:/audit/topic-arn}\"",
                ));
            }
        } else {
            check_topic_arn(topic)
                .map_err(|m| SinkError::config(config.name, Some("topic_arn"), m))?;
        }
        let overflow = s.overflow()?;
        let group_id = s.opt_text("message_group_id")?.map(|v| v.into_owned());
        let mut engine = TemplateEngine::new(Escape::None);
        s.load_template(ctx, &mut engine, "body", DEFAULT_BODY_TEMPLATE)?;
        match s.opt_text("subject")? {
            Some(src) => {
                engine.register("subject", &src, &format!("sinks.{}.subject", config.name))
            }
            None => engine.register(
                "subject",
                DEFAULT_SUBJECT_TEMPLATE,
                "built-in subject template",
            ),
        }?;
        s.finish()?;
        Ok(Arc::new(SnsSink {
            name: config.name.to_string(),
            topic: LazySecret::new(topic, ctx.secrets.clone()),
            aws: ctx.aws.clone(),
            client: std::sync::OnceLock::new(),
            split: overflow == Overflow::Split,
            group_id,
            engine,
            limits: limits(),
        }))
    }
}

/// `arn:aws:sns:REGION:ACCOUNT:NAME` (any partition).
pub fn check_topic_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && !parts[5].is_empty()
    {
        Ok(())
    } else {
        Err(format!(
            "expected a topic ARN like \"arn:aws:sns:eu-west-1:111122223333:topic\", found {arn:?}"
        ))
    }
}

fn topic_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

pub struct SnsSink {
    name: String,
    topic: LazySecret,
    aws: Option<aws_types::SdkConfig>,
    client: std::sync::OnceLock<aws_sdk_sns::Client>,
    split: bool,
    group_id: Option<String>,
    engine: TemplateEngine,
    limits: Limits,
}

/// The bytes a publish counts: message, subject, attribute names, types and values.
pub fn publish_size(p: &Payload) -> usize {
    let attrs: usize = p
        .attributes
        .iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::String(s) => "String".len() + s.len(),
                    AttributeValue::Number(n) => "Number".len() + n.len(),
                    AttributeValue::StringArray(a) => {
                        "String.Array".len() + Value::from(a.clone()).to_string().len()
                    }
                }
        })
        .sum();
    p.body.len() + p.subject.as_ref().map_or(0, String::len) + attrs
}

impl SnsSink {
    fn render_one(
        &self,
        digest: &Digest,
        ctx: &RenderContext,
        part: usize,
        parts: usize,
    ) -> Result<Payload, SinkError> {
        let mut data = render_data(digest, ctx);
        if let Value::Object(m) = &mut data {
            m.insert("part".into(), part.into());
            m.insert("parts".into(), parts.into());
        }
        let data = TemplateData::new(data);
        let subject = ascii_subject(
            &self.engine.render_with("subject", &data)?,
            MAX_SUBJECT_CHARS,
        );
        let subject = if subject.is_empty() {
            ascii_subject(
                &format!("audit-router: {}", digest.report_title),
                MAX_SUBJECT_CHARS,
            )
        } else {
            subject
        };
        let body = self.engine.render_with("body", &data)?;
        let body = if body.trim().is_empty() {
            // SNS rejects an empty message; an empty rendering would be a silent drop.
            return Err(SinkError::Template(audit_router_sink_api::TemplateError {
                origin: self.engine.origin("body").unwrap_or("body").to_string(),
                line: None,
                column: None,
                message: "the body template rendered an empty message (SNS needs text)".into(),
            }));
        } else {
            body
        };
        let mut p = Payload::new(Some(subject), body, "text/plain; charset=utf-8");
        p.part = part;
        p.parts = parts;
        p.attributes = self.attributes(digest, ctx, part, parts);
        // The findings this message counts as "…and N more": a part of a split digest carries
        // the digest's count on its last part only (`Digest::chunks`), so the parts add up.
        p.omitted = Some(digest.omitted);
        Ok(p)
    }

    fn attributes(
        &self,
        d: &Digest,
        ctx: &RenderContext,
        part: usize,
        parts: usize,
    ) -> BTreeMap<String, AttributeValue> {
        let mut a = BTreeMap::new();
        a.insert(
            "report".into(),
            AttributeValue::String(d.report.name().into()),
        );
        a.insert(
            "environment".into(),
            AttributeValue::StringArray(d.environments.iter().cloned().collect()),
        );
        a.insert(
            "account".into(),
            AttributeValue::StringArray(d.accounts.iter().cloned().collect()),
        );
        a.insert(
            "findings".into(),
            AttributeValue::Number(d.total.to_string()),
        );
        a.insert(
            "controls".into(),
            AttributeValue::Number(d.groups.len().to_string()),
        );
        a.insert("sink".into(), AttributeValue::String(self.name.clone()));
        a.insert("part".into(), AttributeValue::Number(part.to_string()));
        a.insert("parts".into(), AttributeValue::Number(parts.to_string()));
        if ctx.test {
            a.insert("test".into(), AttributeValue::String("true".into()));
        }
        a
    }

    fn fits(p: &Payload) -> bool {
        publish_size(p) <= MAX_MESSAGE_BYTES
    }

    /// Last resort when even the digest without any listed finding is too big (thousands of
    /// groups): cut the body at a character boundary and say where the rest is.
    fn hard_truncate(mut p: Payload, digest: &Digest) -> Payload {
        let note = format!(
            "\n\n…message cut to fit SNS's 256 KB limit: see the full report at {}\n",
            digest.source.uri
        );
        let budget = MAX_MESSAGE_BYTES.saturating_sub(publish_size(&p) - p.body.len() + note.len());
        let cut = truncate_bytes(&p.body, budget).to_string();
        p.body = cut + &note;
        p
    }

    fn client(&self, topic: &str) -> Result<&aws_sdk_sns::Client, SinkError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let sdk = self.aws.as_ref().ok_or_else(|| {
            SinkError::config(
                &self.name,
                None,
                "no AWS configuration in this process (cannot publish to SNS)",
            )
        })?;
        let mut b = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(region) = topic_region(topic) {
            // Publish in the topic's own region whatever the process's default region is.
            b = b.region(aws_sdk_sns::config::Region::new(region.to_string()));
        }
        Ok(self
            .client
            .get_or_init(|| aws_sdk_sns::Client::from_conf(b.build())))
    }
}

fn attr_value(v: &AttributeValue) -> Result<MessageAttributeValue, SinkError> {
    let (ty, text) = match v {
        AttributeValue::String(s) => ("String", s.clone()),
        AttributeValue::Number(n) => ("Number", n.clone()),
        AttributeValue::StringArray(a) => ("String.Array", Value::from(a.clone()).to_string()),
    };
    MessageAttributeValue::builder()
        .data_type(ty)
        .string_value(text)
        .build()
        .map_err(|e| SinkError::permanent(format!("SNS message attribute: {e}")))
}

/// FNV-1a, for FIFO deduplication ids (no crypto needed: equal content = duplicate).
fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Sink for SnsSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn destination(&self) -> String {
        // A topic ARN is not a secret; a reference is shown as written (never its value).
        self.topic.raw().to_string()
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn render(&self, digest: &Digest, ctx: &RenderContext) -> Result<Vec<Payload>, SinkError> {
        let whole = self.render_one(digest, ctx, 1, 1)?;
        if Self::fits(&whole) {
            return Ok(vec![whole]);
        }
        if self.split {
            // Largest chunk size for which every part fits (fewest messages); a chunk of one
            // finding that still does not fit falls back to truncation of that part.
            let all = digest.kept().max(1);
            let try_split = |per: usize| -> Result<Option<Vec<Payload>>, SinkError> {
                let chunks = digest.chunks(per);
                let n = chunks.len();
                let mut out = Vec::with_capacity(n);
                for (i, c) in chunks.iter().enumerate() {
                    let p = self.render_one(c, ctx, i + 1, n)?;
                    if !Self::fits(&p) {
                        return Ok(None);
                    }
                    out.push(p);
                }
                Ok(Some(out))
            };
            let (mut lo, mut hi) = (1usize, all);
            let mut best = try_split(1)?;
            if best.is_some() {
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    match try_split(mid)? {
                        Some(v) => {
                            best = Some(v);
                            lo = mid;
                        }
                        None => hi = mid - 1,
                    }
                }
                if let Some(v) = best {
                    return Ok(v);
                }
            }
        }
        match fit_digest(digest, |d| self.render_one(d, ctx, 1, 1), Self::fits)? {
            Ok((p, _listed)) => Ok(vec![p]),
            Err(p) => Ok(vec![Self::hard_truncate(p, digest)]),
        }
    }

    fn send<'a>(&'a self, payload: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(async move {
            let topic = self.topic.get().await?.expose();
            let client = self.client(topic)?;
            let mut req = client.publish().topic_arn(topic).message(&payload.body);
            if let Some(s) = &payload.subject {
                req = req.subject(s);
            }
            for (k, v) in &payload.attributes {
                req = req.message_attributes(k, attr_value(v)?);
            }
            if topic.ends_with(".fifo") {
                let group = self.group_id.as_deref().unwrap_or("audit-router");
                let subject = payload.subject.as_deref().unwrap_or("");
                let dedup = format!(
                    "{:016x}-{}",
                    fnv64(&[&self.name, subject, &payload.body]),
                    payload.part
                );
                req = req.message_group_id(group).message_deduplication_id(dedup);
            }
            match req.send().await {
                Ok(out) => Ok(Sent::with_id(out.message_id().map(str::to_string))),
                Err(e) => Err(classify(&self.name, topic, e)),
            }
        })
    }
}

/// Throttling, 5xx, timeouts and connection failures are retryable; everything else (topic not
/// found, authorization, invalid parameter) is permanent.
fn classify(
    sink: &str,
    topic: &str,
    e: SdkError<PublishError, aws_sdk_sns::config::http::HttpResponse>,
) -> SinkError {
    let prefix = format!("sns sink {sink}: publish to {topic}");
    let parts = aws_error::parts(&e);
    let text = format!("{prefix}: {}", describe_parts(&parts));
    match parts.failure {
        Failure::Timeout | Failure::Dispatch | Failure::Response => {
            SinkError::retryable(text, None)
        }
        Failure::Service => {
            let transient = matches!(
                parts.code.as_deref().unwrap_or(""),
                "Throttled"
                    | "Throttling"
                    | "ThrottlingException"
                    | "ThrottledException"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "KMSThrottling"
            );
            let status = parts.status.unwrap_or(0);
            if transient || status >= 500 || status == 429 {
                SinkError::retryable(text, None)
            } else {
                SinkError::permanent(text)
            }
        }
        Failure::Construction => SinkError::permanent(text),
    }
}

/// `SNS Publish: NotFound: Topic does not exist` (the shared wording of every AWS error).
fn describe_parts(parts: &aws_error::Described) -> String {
    format!("SNS Publish: {}", parts.detail())
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_router_sink_api::host::DigestBuilder;
    use audit_router_sink_api::samples::sample_digest;
    use audit_router_sink_api::{Finding, ReportTemplate, StaticSecrets};

    fn build(extra: &str) -> Result<Arc<dyn Sink>, SinkError> {
        let text = format!("topic_arn = \"arn:aws:sns:eu-west-1:111122223333:audit\"\n{extra}");
        let settings: toml::Table = text
            .parse()
            .map_err(|e| SinkError::permanent(format!("{e}")))?;
        let ctx = BuildContext {
            base_dir: std::env::temp_dir(),
            aws: None,
            secrets: Arc::new(StaticSecrets::new()),
        };
        factory().build(
            SinkConfig {
                name: "ops-email",
                kind: KIND,
                settings: &settings,
                docs: SETTINGS,
            },
            &ctx,
        )
    }

    fn rc() -> RenderContext {
        RenderContext {
            now: chrono_fixed(),
            test: false,
        }
    }

    fn chrono_fixed() -> audit_router_sink_api::chrono::DateTime<audit_router_sink_api::chrono::Utc>
    {
        "2026-11-26T08:00:00Z".parse().unwrap()
    }

    /// A digest as big as a bad day: `n` non-compliant resources under a few controls.
    fn big_digest(n: usize) -> Digest {
        let mut b = DigestBuilder::new(
            "ops-email",
            ReportTemplate::ResourceCompliance,
            audit_router_sink_api::samples::sample_source(ReportTemplate::ResourceCompliance),
            n,
        );
        for i in 0..n {
            let mut f = Finding::new(ReportTemplate::ResourceCompliance);
            f.framework = Some("prod-backup-policy".into());
            f.control = Some(format!("CONTROL_{}", i % 7));
            f.status = Some("NON_COMPLIANT".into());
            f.account = Some("111122223333".into());
            f.region = Some("eu-west-1".into());
            f.environment = "prod".into();
            f.resource_type = Some("AWS::EC2::Instance".into());
            f.resource = Some(format!(
                "arn:aws:ec2:eu-west-1:111122223333:instance/i-{i:017x}-with-a-rather-long-name-{}",
                "x".repeat(40)
            ));
            b.push(&f, "r");
        }
        b.finish()
    }

    #[test]
    fn subject_is_one_ascii_line_under_100() {
        let s = build("").unwrap();
        let mut d = sample_digest(ReportTemplate::BackupJob, "ops-email");
        d.environments = [
            "prod\r\nBcc: x@example.com — ünïcode".to_string(),
            "z".repeat(200),
        ]
        .into_iter()
        .collect();
        let p = s.render(&d, &rc()).unwrap();
        let subject = p[0].subject.as_deref().unwrap();
        assert!(subject.len() < 100, "{subject}");
        assert!(
            subject.chars().all(|c| (' '..='~').contains(&c)),
            "{subject:?}"
        );
        assert!(
            subject.starts_with("[prod Bcc: x@example.com - ?n?code, zzz"),
            "{subject}"
        );
        assert!(subject.ends_with("..."));
    }

    #[test]
    fn attributes_for_filter_policies() {
        let s = build("").unwrap();
        let p = s
            .render(
                &sample_digest(ReportTemplate::ResourceCompliance, "ops-email"),
                &rc(),
            )
            .unwrap();
        let a = &p[0].attributes;
        assert_eq!(
            a["report"],
            AttributeValue::String("RESOURCE_COMPLIANCE_REPORT".into())
        );
        assert_eq!(
            a["environment"],
            AttributeValue::StringArray(vec!["sample".into()])
        );
        assert_eq!(a["findings"], AttributeValue::Number("4".into()));
        assert_eq!(a["controls"], AttributeValue::Number("3".into()));
        assert!(!a.contains_key("test"));
        assert!(a.len() <= 10, "SNS allows 10 message attributes");
    }

    #[test]
    fn three_thousand_resources_truncate_to_256kb_naming_every_control() {
        let s = build("").unwrap();
        let d = big_digest(3000);
        let p = s.render(&d, &rc()).unwrap();
        assert_eq!(p.len(), 1);
        assert!(publish_size(&p[0]) <= MAX_MESSAGE_BYTES);
        // Tight: one more listed finding would not have fitted.
        assert!(publish_size(&p[0]) > MAX_MESSAGE_BYTES - 2_000);
        for c in 0..7 {
            assert!(
                p[0].body.contains(&format!("== CONTROL_{c} ")),
                "control {c} missing"
            );
        }
        let listed = p[0].body.matches("   - AWS::EC2::Instance").count();
        assert!(listed > 100 && listed < 3000, "{listed}");
        let not_listed = 3000 - listed;
        assert!(
            p[0].body
                .contains(&format!("{not_listed} of 3000 not listed here")),
            "{}",
            &p[0].body[p[0].body.len() - 300..]
        );
        assert!(p[0].body.contains("…and "));
    }

    #[test]
    fn three_thousand_resources_split_into_numbered_messages() {
        let s = build("overflow = \"split\"").unwrap();
        let d = big_digest(3000);
        let p = s.render(&d, &rc()).unwrap();
        assert!(p.len() > 1);
        let n = p.len();
        let mut listed = 0;
        for (i, m) in p.iter().enumerate() {
            assert!(publish_size(m) <= MAX_MESSAGE_BYTES);
            assert_eq!((m.part, m.parts), (i + 1, n));
            let subject = m.subject.as_deref().unwrap();
            assert!(subject.ends_with(&format!("({}/{n})", i + 1)), "{subject}");
            assert_eq!(
                m.attributes["part"],
                AttributeValue::Number((i + 1).to_string())
            );
            listed += m.body.matches("   - AWS::EC2::Instance").count();
        }
        assert_eq!(listed, 3000, "split lists every resource exactly once");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = build("overflow = \"drop\"").err().unwrap().to_string();
        assert!(
            e.starts_with("sinks.ops-email.overflow: expected one of"),
            "{e}"
        );
        let settings: toml::Table = "topic_arn = \"arn:aws:sqs:x\"".parse().unwrap();
        let ctx = BuildContext {
            base_dir: std::env::temp_dir(),
            aws: None,
            secrets: Arc::new(StaticSecrets::new()),
        };
        let e = factory()
            .build(
                SinkConfig {
                    name: "t",
                    kind: KIND,
                    settings: &settings,
                    docs: SETTINGS,
                },
                &ctx,
            )
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("sinks.t.topic_arn: expected a topic ARN"),
            "{e}"
        );
        let e = build("subject = \"{{#if x}}\"").err().unwrap().to_string();
        assert!(e.starts_with("sinks.ops-email.subject:1:"), "{e}");
    }

    #[tokio::test]
    async fn send_without_aws_config_fails_clearly() {
        let s = build("").unwrap();
        let p = s
            .render(&sample_digest(ReportTemplate::ScanJob, "ops-email"), &rc())
            .unwrap();
        let e = s.send(&p[0]).await.err().unwrap();
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("no AWS configuration"), "{e}");
    }
}
