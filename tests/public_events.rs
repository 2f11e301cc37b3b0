//! The event parser against Lambda events other people wrote: the `aws_lambda_events` crate's
//! test events, events rendered by the AWS SAM CLI (`sam local generate-event`), and events copied
//! from aws-lambda-go, Powertools for AWS Lambda (Python) and the S3 user guide into
//! `tests/fixtures/events/public/`, each with the outcome `tests/fixtures/events/public.toml`
//! gives it (where they come from, their commits and licences: that file).

use audit_router::event::{ParsedEvent, locations_from_event, locations_from_value, parse_event};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    #[serde(rename = "crate")]
    krate: Vec<Entry>,
    sam: Vec<Entry>,
    source: Vec<Source>,
    copied: Vec<Entry>,
}

/// Where the copied events of `public/<name>/` come from.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    name: String,
    repository: String,
    url: Option<String>,
    commit: String,
    license: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    file: Option<String>,
    args: Option<Vec<String>>,
    wrap: Option<Vec<String>>,
    /// A copied event's path in its source.
    upstream: Option<String>,
    /// A copied event this one is put inside (as its SQS body, SNS envelope's or SNS Message).
    inside: Option<String>,
    #[serde(default)]
    objects: Vec<String>,
    #[serde(default)]
    skipped: usize,
    error: Option<String>,
    note: String,
}

fn corpus() -> Corpus {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/public.toml"
    );
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `src/fixtures` of the `aws_lambda_events` crate this workspace locks, from `cargo metadata`.
fn crate_fixtures() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        // Without a platform filter cargo wants every target's crates (windows-sys, …).
        .args(["--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "aws_lambda_events")
        .expect("aws_lambda_events is a dev-dependency");
    let manifest = PathBuf::from(pkg["manifest_path"].as_str().unwrap());
    manifest.parent().unwrap().join("src/fixtures")
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host")
}

fn sam(args: &[String]) -> Vec<u8> {
    let out = Command::new("sam")
        .args(["local", "generate-event"])
        .args(args)
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `sam` ({e}): scripts/install-test-tools.sh installs aws-sam-cli")
        });
    assert!(
        out.status.success(),
        "sam local generate-event {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Checks one event against its entry; `what` names it in failures.
fn check(what: &str, bytes: &[u8], e: &Entry) {
    let got = locations_from_event(bytes);
    match (&e.error, got) {
        (Some(want), Err(err)) => {
            let msg = err.to_string();
            assert!(
                msg.contains(want.as_str()),
                "{what}: error {msg:?} lacks {want:?}"
            );
        }
        (Some(want), Ok(found)) => {
            panic!(
                "{what}: expected an error containing {want:?}, got {found:?} ({})",
                e.note
            )
        }
        (None, Err(err)) => panic!("{what}: unexpected error: {err} ({})", e.note),
        (None, Ok(found)) => {
            let objects: Vec<String> = found.locations.iter().map(|l| l.to_string()).collect();
            assert_eq!(objects, e.objects, "{what}: objects ({})", e.note);
            assert_eq!(
                found.skipped.len(),
                e.skipped,
                "{what}: skipped {:?}",
                found.skipped
            );
            for s in &found.skipped {
                assert!(!s.trim().is_empty(), "{what}: a skip says why");
            }
        }
    }
    // The Lambda handler's reading agrees: an SQS event message by message.
    let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    if let ParsedEvent::SqsBatch(messages) = parse_event(&value) {
        let failed = messages.iter().any(|m| m.result.is_err());
        assert_eq!(failed, e.error.is_some(), "{what}: per-message reading");
        let strict = locations_from_value(&value);
        assert_eq!(strict.is_err(), failed, "{what}");
    }
}

#[test]
fn every_test_event_of_the_aws_lambda_events_crate() {
    let dir = crate_fixtures();
    let corpus = corpus();
    let mut listed = BTreeSet::new();
    for e in &corpus.krate {
        let file = e.file.as_deref().expect("crate entries name a file");
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        check(file, &bytes, e);
        assert!(listed.insert(file.to_owned()), "{file} listed twice");
    }
    // Every other event of the crate is of a service that does not name reports: an error,
    // never a location, never a panic.
    let mut others = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || listed.contains(&name) {
            continue;
        }
        others += 1;
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(found) = locations_from_event(&bytes) {
            panic!("{name}: an unrelated event named reports or was acknowledged: {found:?}");
        }
    }
    assert!(
        others > 100,
        "only {others} other fixtures in {}",
        dir.display()
    );
}

#[test]
fn events_rendered_by_the_sam_cli() {
    for e in &corpus().sam {
        let args = e.args.as_deref().expect("sam entries give args");
        let mut bytes = sam(args);
        let mut what = format!("sam local generate-event {}", args.join(" "));
        if let Some(wrap) = &e.wrap {
            what = format!("{what} inside {}", wrap.join(" "));
            bytes = embed(&sam(wrap), String::from_utf8(bytes).unwrap(), &what);
        }
        check(&what, &bytes, e);
    }
}

/// `outer` (an SQS or SNS event of one record) carrying `inner`, an event's JSON text, where
/// AWS would put it: the SQS body — or, when that body is an SNS envelope (SNS → SQS), the
/// envelope's Message — or the SNS record's Message.
fn embed(outer: &[u8], inner: String, what: &str) -> Vec<u8> {
    let mut outer: Value = serde_json::from_slice(outer).unwrap();
    let records = outer["Records"].as_array_mut().unwrap();
    assert_eq!(records.len(), 1, "{what}: the wrapper has one record");
    let record = &mut records[0];
    if let Some(body) = record.get("body").and_then(Value::as_str) {
        match serde_json::from_str::<Value>(body) {
            Ok(mut envelope) if envelope.get("Message").is_some() => {
                envelope["Message"] = Value::String(inner);
                record["body"] = Value::String(envelope.to_string());
            }
            _ => record["body"] = Value::String(inner),
        }
    } else {
        assert!(record["Sns"].is_object(), "{what}: an SQS or SNS record");
        record["Sns"]["Message"] = Value::String(inner);
    }
    serde_json::to_vec(&outer).unwrap()
}

fn public_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/public"
    ))
}

#[test]
fn every_copied_public_event() {
    let corpus = corpus();
    let dir = public_dir();
    for s in &corpus.source {
        assert!(
            s.commit.len() == 40 && s.commit.chars().all(|c| c.is_ascii_hexdigit()),
            "source {}: commit {:?} is a full hash",
            s.name,
            s.commit
        );
        assert!(
            s.repository.starts_with("https://github.com/"),
            "{}",
            s.name
        );
        assert!(!s.license.trim().is_empty(), "source {}: licence", s.name);
        if let Some(url) = &s.url {
            assert!(url.starts_with("https://"), "source {}: url {url}", s.name);
        }
        assert!(s.note.as_ref().is_none_or(|n| !n.trim().is_empty()));
    }
    let mut copies = BTreeSet::new();
    for e in &corpus.copied {
        let file = e.file.as_deref().expect("copied entries name a file");
        let source = file.split('/').next().unwrap();
        assert!(
            corpus.source.iter().any(|s| s.name == source),
            "{file}: no [[source]] named {source:?}"
        );
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        match &e.inside {
            None => {
                assert!(e.upstream.is_some(), "{file}: where it was copied from");
                assert!(copies.insert(file.to_owned()), "{file} listed twice");
                check(file, &bytes, e);
            }
            Some(outer) => {
                assert!(e.upstream.is_none(), "{file} inside {outer}: not a copy");
                let what = format!("{file} inside {outer}");
                let wrapper =
                    std::fs::read(dir.join(outer)).unwrap_or_else(|err| panic!("{outer}: {err}"));
                let inner = String::from_utf8(bytes).unwrap();
                check(&what, &embed(&wrapper, inner, &what), e);
            }
        }
    }
    // Every copied file has its entry: nothing in the directory goes untested.
    let mut on_disk = BTreeSet::new();
    for s in std::fs::read_dir(&dir).unwrap() {
        let s = s.unwrap().path();
        if !s.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&s).unwrap() {
            let f = f.unwrap().path();
            on_disk.insert(f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned());
        }
    }
    assert_eq!(
        on_disk,
        copies,
        "files in {} vs [[copied]] entries",
        dir.display()
    );
}
