//! The Slack stand-in (`src/slack.rs`) is as strict as Slack: it refuses each thing
//! Slack refuses, with Slack's status and error string, and on every block-level case it agrees
//! with the official SDK's Block Kit models (`slack_sdk`). A stand-in that accepted anything
//! would make every Slack test meaningless; this file is what keeps it honest.

use audit_router_test_support::slack::{
    Answer, MAX_BLOCK_CHARS, SlackStandIn, check_body, slack_sdk_check,
};
use serde_json::{Value, json};

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn body(blocks: Vec<Value>) -> String {
    json!({"text": "preview", "blocks": blocks}).to_string()
}

#[test]
fn a_good_message_passes_both() {
    let good = body(vec![
        section("*Backup audit* · <https://example.test|report>"),
        json!({"type": "divider"}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "part 1 of 2"}]}),
        json!({"type": "header", "text": {"type": "plain_text", "text": "Backups", "emoji": true}}),
        json!({"type": "section", "fields": [{"type": "mrkdwn", "text": "*Job*\nJOB-1"}]}),
    ]);
    assert_eq!(check_body(good.as_bytes()), Ok(()));
    assert_eq!(slack_sdk_check(&[good]), [Ok(())]);
}

/// Each case: a body Slack refuses at the block level, the stand-in's answer, and whether the
/// SDK's models see the same problem (they check lengths and counts per block, not the
/// cumulative text of a message nor unknown keys).
#[test]
fn block_kit_limits_are_refused_as_slack_and_slack_sdk_refuse_them() {
    let fields = |n: usize, len: usize| {
        let f: Vec<Value> = (0..n)
            .map(|_| json!({"type": "mrkdwn", "text": "f".repeat(len)}))
            .collect();
        json!({"type": "section", "fields": f})
    };
    let context = |n: usize| {
        let e: Vec<Value> = (0..n)
            .map(|_| json!({"type": "mrkdwn", "text": "c"}))
            .collect();
        json!({"type": "context", "elements": e})
    };
    let header = |len: usize| json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(len)}});
    let cases: Vec<(&str, String, (u16, &str), bool)> = vec![
        (
            "section text of 3 001",
            body(vec![section(&"a".repeat(3001))]),
            (400, "invalid_blocks"),
            true,
        ),
        (
            "11 fields",
            body(vec![fields(11, 5)]),
            (400, "invalid_blocks"),
            true,
        ),
        (
            "a field of 2 001",
            body(vec![fields(1, 2001)]),
            (400, "invalid_blocks"),
            false,
        ),
        (
            "11 context elements",
            body(vec![context(11)]),
            (400, "invalid_blocks"),
            true,
        ),
        (
            "header of 151",
            body(vec![header(151)]),
            (400, "invalid_blocks"),
            true,
        ),
        // Block Kit: a header's text "must be plain_text"; the SDK's model does not check it.
        (
            "mrkdwn header",
            body(vec![
                json!({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}),
            ]),
            (400, "invalid_blocks"),
            false,
        ),
        (
            "unknown block type",
            body(vec![json!({"type": "sektion"})]),
            (400, "invalid_blocks"),
            true,
        ),
        (
            "section without text",
            body(vec![json!({"type": "section"})]),
            (400, "invalid_blocks"),
            true,
        ),
    ];
    let sdk = slack_sdk_check(&cases.iter().map(|c| c.1.clone()).collect::<Vec<_>>());
    for ((what, b, want, sdk_refuses), sdk) in cases.iter().zip(sdk) {
        assert_eq!(check_body(b.as_bytes()), Err(*want), "{what}");
        assert_eq!(sdk.is_err(), *sdk_refuses, "{what}: slack_sdk said {sdk:?}");
    }
}

#[test]
fn message_level_errors_have_slacks_strings() {
    let fifty_one: Vec<Value> = (0..51).map(|i| section(&format!("s{i}"))).collect();
    assert_eq!(
        check_body(body(fifty_one).as_bytes()),
        Err((400, "invalid_blocks"))
    );
    let fifty: Vec<Value> = (0..50).map(|i| section(&format!("s{i}"))).collect();
    assert_eq!(check_body(body(fifty).as_bytes()), Ok(()));
    // The cumulative limit: at MAX_BLOCK_CHARS it passes, one more and Slack refuses.
    let at = |n: usize| {
        let mut blocks: Vec<Value> = (0..n / 3000).map(|_| section(&"x".repeat(3000))).collect();
        blocks.push(section(&"y".repeat(n % 3000)));
        body(blocks)
    };
    assert_eq!(check_body(at(MAX_BLOCK_CHARS).as_bytes()), Ok(()));
    assert_eq!(
        check_body(at(MAX_BLOCK_CHARS + 1).as_bytes()),
        Err((400, "msg_blocks_too_long"))
    );
    // …which slack_sdk does not know about (each block is within its own limit).
    assert_eq!(slack_sdk_check(&[at(MAX_BLOCK_CHARS + 1)]), [Ok(())]);
    assert_eq!(check_body(b"not json"), Err((400, "invalid_payload")));
    assert_eq!(check_body(b"[1]"), Err((400, "invalid_payload")));
    assert_eq!(check_body(br#"{"text": ""}"#), Err((400, "no_text")));
    assert_eq!(check_body(br#"{"blocks": []}"#), Err((400, "no_text")));
    assert_eq!(
        check_body(br#"{"text": "x", "colour": "red"}"#),
        Err((400, "invalid_payload"))
    );
    let long = json!({"text": "t".repeat(40_001)}).to_string();
    assert_eq!(check_body(long.as_bytes()), Err((400, "msg_too_long")));
    assert_eq!(check_body(br#"{"text": "plain text only"}"#), Ok(()));
}

#[tokio::test]
async fn it_answers_over_http_as_slack_does() {
    let slack = SlackStandIn::start().await;
    let client = reqwest::Client::new();
    let post = |url: String, body: String| {
        let client = client.clone();
        async move {
            let r = client.post(url).body(body).send().await.unwrap();
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, r.text().await.unwrap(), retry_after)
        }
    };
    let ok = body(vec![section("hello")]);
    assert_eq!(
        post(slack.url(), ok.clone()).await,
        (200, "ok".into(), None)
    );
    let (status, text, _) = post(format!("{}/services/T0", slack.uri()), ok.clone()).await;
    assert_eq!((status, text.as_str()), (404, "no_service"));
    let (status, text, _) = post(slack.url(), "{".into()).await;
    assert_eq!((status, text.as_str()), (400, "invalid_payload"));
    slack.push(Answer::rate_limited(3));
    assert_eq!(
        post(slack.url(), ok.clone()).await,
        (429, "rate_limited".into(), Some("3".into()))
    );
    slack.push(Answer::status(403, "action_prohibited"));
    let (status, text, _) = post(slack.url(), ok.clone()).await;
    assert_eq!((status, text.as_str()), (403, "action_prohibited"));
    assert_eq!(slack.delivered(), std::slice::from_ref(&ok));
    assert_eq!(slack.requests(), 5);
}
