//! The Block Kit Builder link `dry-run` prints under each Slack message
//! ([`SinkFactory::preview`](audit_router_sink_api::SinkFactory::preview)).

use audit_router_sink_api::Payload;
use std::fmt::Write as _;

/// Slack's Block Kit Builder: the message JSON goes in the fragment (never sent to a server by
/// the browser, and never fetched by audit-router).
pub const BLOCK_KIT_BUILDER: &str = "https://app.slack.com/block-kit-builder/#";

/// Percent-encodes `s` as JavaScript's `encodeURIComponent` does (what the Builder decodes).
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The Block Kit Builder link that shows `payload` (a Slack message body: `blocks`, and
/// `attachments` if any) as Slack draws it; `None` when the body has no blocks.
pub fn block_kit_builder_url(payload: &Payload) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&payload.body).ok()?;
    let blocks = body.get("blocks")?.as_array()?;
    let mut message = serde_json::Map::new();
    message.insert("blocks".into(), serde_json::Value::Array(blocks.clone()));
    if let Some(a) = body.get("attachments") {
        message.insert("attachments".into(), a.clone());
    }
    let json = serde_json::to_string(&serde_json::Value::Object(message)).ok()?;
    Some(format!(
        "{BLOCK_KIT_BUILDER}{}",
        encode_uri_component(&json)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_encode_uri_component() {
        assert_eq!(
            encode_uri_component("{\"a\": \"b c/é\"}*!'()~"),
            "%7B%22a%22%3A%20%22b%20c%2F%C3%A9%22%7D*!'()~"
        );
    }

    #[test]
    fn a_slack_body_links_its_blocks_only() {
        let body = r#"{"text":"fallback","blocks":[{"type":"divider"}]}"#;
        let p = Payload::new(None, body.to_string(), "application/json");
        let url = block_kit_builder_url(&p).unwrap();
        assert_eq!(
            url,
            format!(
                "{BLOCK_KIT_BUILDER}%7B%22blocks%22%3A%5B%7B%22type%22%3A%22divider%22%7D%5D%7D"
            )
        );
        let plain = Payload::new(None, "no json".into(), "text/plain");
        assert_eq!(block_kit_builder_url(&plain), None);
    }
}
