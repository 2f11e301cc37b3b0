//! Stand-ins for the services the webhook sink's examples target (Teams, Discord, Google Chat):
//! each checks a body against the service's documented limits, and the ones seen enforced,
//! and answers a refusal as the service does. `serve` runs one as a wiremock responder.
//!
//! Sources: Discord's Message and Embed objects (discord.com/developers/docs; its 400 "Invalid
//! Form Body", code 50035, with the offending field, as kwatch #194 quotes it); Google Chat's
//! spaces.messages.create (32 000 bytes a message) and its 400 INVALID_ARGUMENT "Message is longer
//! than 4096 characters" (mr-karan/calert #17, cloudflare/GHC-Errbot #10); Teams' Create an
//! Incoming Webhook ("The message size limit is 28 KB") and msteams_hermes, which saw 21 000 bytes
//! refused with HTTP 413.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A refusal: the HTTP status and body the service answers.
pub type Refusal = (u16, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Discord,
    GoogleChat,
    Teams,
}

impl Service {
    pub fn check(self, body: &[u8]) -> Result<(), Refusal> {
        match self {
            Service::Discord => discord(body),
            Service::GoogleChat => google_chat(body),
            Service::Teams => teams(body),
        }
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn discord_invalid(field: &str, max: usize) -> Refusal {
    (
        400,
        json!({"code": 50035, "errors": {field: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
            "message": format!("Must be {max} or fewer in length.")}]}}, "message": "Invalid Form Body"})
        .to_string(),
    )
}

pub fn discord(body: &[u8]) -> Result<(), Refusal> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        (
            400,
            json!({"code": 50109, "message": "The request body contains invalid JSON."})
                .to_string(),
        )
    })?;
    let content = chars(&v["content"]);
    let embeds = v["embeds"].as_array().cloned().unwrap_or_default();
    if content == 0 && embeds.is_empty() {
        return Err((
            400,
            json!({"code": 50006, "message": "Cannot send an empty message"}).to_string(),
        ));
    }
    if content > 2000 {
        return Err(discord_invalid("content", 2000));
    }
    if embeds.len() > 10 {
        return Err(discord_invalid("embeds", 10));
    }
    let mut total = 0;
    for e in &embeds {
        for (field, max) in [("title", 256), ("description", 4096)] {
            let n = chars(&e[field]);
            if n > max {
                return Err(discord_invalid(field, max));
            }
            total += n;
        }
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return Err(discord_invalid("fields", 25));
        }
        for f in &fields {
            for (field, max) in [("name", 256), ("value", 1024)] {
                let n = chars(&f[field]);
                if n > max {
                    return Err(discord_invalid(field, max));
                }
                total += n;
            }
        }
        total += chars(&e["footer"]["text"]) + chars(&e["author"]["name"]);
    }
    if total > 6000 {
        return Err(discord_invalid("embeds", 6000));
    }
    Ok(())
}

pub fn google_chat(body: &[u8]) -> Result<(), Refusal> {
    let invalid = |m: &str| {
        (
            400,
            json!({"error": {"code": 400, "message": m, "status": "INVALID_ARGUMENT"}}).to_string(),
        )
    };
    if body.len() > 32_000 {
        return Err(invalid("Message is too large"));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|_| invalid("Invalid JSON payload received."))?;
    if chars(&v["text"]) > 4096 {
        return Err(invalid("Message is longer than 4096 characters"));
    }
    if chars(&v["text"]) == 0 && v.get("cardsV2").is_none() && v.get("cards").is_none() {
        return Err(invalid("Message cannot be empty."));
    }
    Ok(())
}

pub fn teams(body: &[u8]) -> Result<(), Refusal> {
    if body.len() > 21_000 {
        return Err((413, "Request Entity too large".into()));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        (
            400,
            "Bad payload received by generic incoming webhook.".into(),
        )
    })?;
    let card = &v["attachments"][0];
    if v["type"] != "message"
        || card["contentType"] != "application/vnd.microsoft.card.adaptive"
        || card["content"]["type"] != "AdaptiveCard"
        || !card["content"]["body"].is_array()
    {
        return Err((
            400,
            "Bad payload received by generic incoming webhook.".into(),
        ));
    }
    Ok(())
}

/// A running stand-in: what it received, and how it answered.
#[derive(Clone)]
pub struct Served {
    pub server: Arc<MockServer>,
    log: Arc<Mutex<Vec<(u16, String)>>>,
}

impl Served {
    pub fn url(&self) -> String {
        format!("{}/hook", self.server.uri())
    }
    /// (status, body) of each request, in order.
    pub fn log(&self) -> Vec<(u16, String)> {
        self.log.lock().unwrap().clone()
    }
    pub fn accepted(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(s, _)| *s < 300)
            .map(|(_, b)| b)
            .collect()
    }
}

struct Checker(Service, Arc<Mutex<Vec<(u16, String)>>>);

impl Respond for Checker {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let answer = match self.0.check(&req.body) {
            Ok(()) if self.0 == Service::Discord => (204, String::new()),
            Ok(()) => (200, "{}".to_owned()),
            Err(r) => r,
        };
        self.1
            .lock()
            .unwrap()
            .push((answer.0, String::from_utf8_lossy(&req.body).into_owned()));
        ResponseTemplate::new(answer.0).set_body_string(answer.1)
    }
}

pub async fn serve(service: Service) -> Served {
    let server = MockServer::start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Checker(service, log.clone()))
        .mount(&server)
        .await;
    Served {
        server: Arc::new(server),
        log,
    }
}
