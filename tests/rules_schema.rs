//! The JSON Schema of rules.toml (`audit-router schema`, committed as `rules.schema.json`),
//! checked with a real validator: Python's `jsonschema` (the reference implementation of the
//! JSON Schema drafts, pinned in scripts/install-test-tools.sh; cfn-lint depends on it already).
//!
//! - the committed file is what the binary prints, and the example rules.toml points at it;
//! - the example rules and every rules file of the tests validate (and pass `check`);
//! - what the schema rejects `check` rejects too: a valid file with one thing broken, for every
//!   key, every match field and every setting of every registered sink type (taken from the
//!   schema itself, so a new setting is covered without touching this test); and the values at
//!   the edges of what the schema allows (every choice, both integer bounds) pass both.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn audit_router() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_audit-router"));
    c.current_dir(root())
        .env_remove("AUDIT_ROUTER_RULES")
        .env_remove("AUDIT_ROUTER_ENV")
        .env("AUDIT_ROUTER_TODAY", "2026-11-27");
    c
}

fn schema_text() -> String {
    let out = audit_router().arg("schema").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn schema() -> Value {
    serde_json::from_str(&schema_text()).unwrap()
}

/// A TOML document as the JSON an editor validates: dates and times become their text.
fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn toml_file_to_json(text: &str) -> Value {
    toml_to_json(&toml::Value::Table(text.parse::<toml::Table>().unwrap()))
}

const VALIDATE: &str = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python jsonschema is not installed: run scripts/install-test-tools.sh")
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
out = []
for doc in json.load(sys.stdin):
    out.append(sorted(
        "/".join(str(p) for p in e.absolute_path) + ": " + e.message
        for e in validator.iter_errors(doc)
    ))
print(json.dumps({"validator": cls.__name__, "results": out}))
"#;

/// Validates every document against `schema` with Python's jsonschema; one list of error
/// messages per document (empty: valid).
fn validate(schema: &Value, docs: &[Value]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    std::fs::write(&path, serde_json::to_vec(schema).unwrap()).unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(VALIDATE)
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (needed for the JSON Schema validator): {e}")
        });
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&serde_json::to_vec(&Value::Array(docs.to_vec())).unwrap())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The schema says draft-07; the validator must be that draft's, not a fallback.
    assert_eq!(v["validator"], "Draft7Validator");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// `audit-router check --no-env` on `text`: whether it passes, and what it said.
fn check(dir: &Path, name: &str, text: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = audit_router()
        .args(["check", "--no-env", "--rules"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_committed_schema_is_what_audit_router_schema_prints() {
    let committed = std::fs::read_to_string(root().join("rules.schema.json")).unwrap();
    assert!(
        committed == schema_text(),
        "rules.schema.json is stale: regenerate it with `cargo run -- schema > rules.schema.json`"
    );
    // The example rules point editors at it (Taplo / Even Better TOML's directive).
    let example = std::fs::read_to_string(root().join("rules.toml")).unwrap();
    assert_eq!(example.lines().next(), Some("#:schema ./rules.schema.json"));
}

#[test]
fn the_schema_covers_every_sink_type_with_descriptions() {
    let s = schema();
    let kinds: Vec<&str> = s["definitions"]["sink"]["properties"]["type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(kinds, audit_router::sinks::registry().kinds());
    for kind in &kinds {
        let def = &s["definitions"][format!("sink-{kind}")];
        // The factory's example, with its type, is the definition's example and validates.
        let example = &def["examples"][0];
        assert_eq!(example["type"], *kind, "{kind}: {def}");
        let errors = validate(&s, &[json!({"sinks": {"x": example}})]);
        assert!(errors.iter().all(Vec::is_empty), "{kind}: {errors:?}");
        for (key, prop) in def["properties"].as_object().unwrap() {
            let d = prop["description"].as_str().unwrap_or("");
            assert!(d.len() > 10, "{kind}.{key} has no description");
        }
    }
    for field in s["properties"]["rules"]["items"]["properties"]["match"]["properties"]
        .as_object()
        .unwrap()
        .values()
    {
        assert!(field["description"].as_str().unwrap().len() > 20);
    }
}

/// Every rules file the repository's tests and examples use: TOML files with a rules.toml
/// table (not `audit-router test` files, which have `[[case]]`s, nor other TOML data).
fn rules_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&p).unwrap();
                let table: toml::Table = text.parse().unwrap();
                let rules_keys = ["settings", "environments", "sinks", "rules", "silences"];
                if !table.contains_key("case")
                    && table.keys().any(|k| rules_keys.contains(&k.as_str()))
                {
                    out.push(p);
                }
            }
        }
    }
    let mut files = vec![root().join("rules.toml")];
    walk(&root().join("tests"), &mut files);
    walk(&root().join("examples"), &mut files);
    walk(&root().join("plugins"), &mut files);
    files
}

#[test]
fn the_example_and_every_rules_file_of_the_tests_validate() {
    let files = rules_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for expected in [
        "rules.toml",
        "tests/fixtures/cli/rules.toml",
        "tests/fixtures/ruletest/rules.toml",
        "plugins/sink-webhook/examples/discord.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    let docs: Vec<Value> = files
        .iter()
        .map(|p| toml_file_to_json(&std::fs::read_to_string(p).unwrap()))
        .collect();
    let results = validate(&schema(), &docs);
    for (name, errors) in names.iter().zip(&results) {
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    for file in &files {
        let out = audit_router()
            .args(["check", "--no-env", "--rules"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The fuzz corpus's rules files are seeds, valid or not: where the schema rejects one, `check`
/// must reject it too.
#[test]
fn fuzz_corpus_rules_files_the_schema_rejects_check_rejects() {
    let dir = root().join("fuzz/corpus/rules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let docs: Vec<Value> = files
        .iter()
        .map(|p| toml_file_to_json(&std::fs::read_to_string(p).unwrap()))
        .collect();
    let results = validate(&schema(), &docs);
    let mut rejected = 0;
    for (file, errors) in files.iter().zip(&results) {
        if errors.is_empty() {
            continue;
        }
        rejected += 1;
        let out = audit_router()
            .args(["check", "--no-env", "--rules"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the schema rejects {} ({errors:?}) but check accepts it",
            file.display()
        );
    }
    assert!(rejected >= 1, "the corpus has a file the schema rejects");
}

/// A valid rules file using every sink type (the settings each needs to build), a rule and a
/// silence; each mutation below breaks one thing in it.
/// A valid rules file with one sink of every registered type, each built from its factory's
/// example (`SinkFactory::example`), so a new sink type is covered without touching this test.
fn base_document() -> toml::Table {
    let mut doc: toml::Table = r#"
[settings]
default_environment = "dev"

[environments.prod]
accounts = ["111111111111"]

[[rules]]
name = "everything"
sinks = []
continue = true
[rules.match]
report = "RESOURCE_COMPLIANCE_REPORT"
status = "NON_COMPLIANT"

[[silences]]
until = 2099-12-31
reason = "known"
[silences.match]
account = "111111111111"
"#
    .parse()
    .unwrap();
    let registry = audit_router::sinks::registry();
    let mut sinks = toml::Table::new();
    let mut names = Vec::new();
    for kind in registry.kinds() {
        let mut table: toml::Table = registry
            .get(kind)
            .unwrap()
            .example()
            .parse()
            .unwrap_or_else(|e| panic!("the {kind} factory's example is not TOML: {e}"));
        table.insert("type".into(), toml::Value::String(kind.into()));
        sinks.insert(format!("s-{kind}"), toml::Value::Table(table));
        names.push(toml::Value::String(format!("s-{kind}")));
    }
    doc.insert("sinks".into(), toml::Value::Table(sinks));
    doc["rules"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap()
        .insert("sinks".into(), toml::Value::Array(names));
    doc
}

type Mutation = (String, toml::Table);

fn at<'a>(t: &'a mut toml::Table, path: &[&str]) -> &'a mut toml::Table {
    let mut cur = t;
    for p in path {
        cur = match cur.get_mut(*p).unwrap() {
            toml::Value::Table(t) => t,
            toml::Value::Array(a) => a[0].as_table_mut().unwrap(),
            other => panic!("{p}: {other:?}"),
        };
    }
    cur
}

fn mutate(
    out: &mut Vec<Mutation>,
    label: impl Into<String>,
    path: &[&str],
    f: impl FnOnce(&mut toml::Table),
) {
    let mut doc = base_document();
    f(at(&mut doc, path));
    out.push((label.into(), doc));
}

fn v(toml_value: &str) -> toml::Value {
    let t: toml::Table = format!("x = {toml_value}").parse().unwrap();
    t["x"].clone()
}

/// Values of the wrong shape for a setting whose schema is `prop`.
fn wrong_values(prop: &Value) -> Vec<toml::Value> {
    let mut out = Vec::new();
    match prop["type"].as_str().unwrap() {
        "string" => {
            out.push(v("5"));
            out.push(v("true"));
            out.push(v("[\"a\"]"));
            if prop["pattern"] == "\\S" {
                out.push(v("\"\""));
                out.push(v("\"   \""));
            }
            if prop.get("anyOf").is_some() {
                out.push(v("\"not-one-of-the-choices\""));
            }
        }
        "boolean" => {
            out.push(v("\"true\""));
            out.push(v("1"));
        }
        "integer" => {
            out.push(v("\"5\""));
            out.push(v("1.5"));
            let max = prop["maximum"].as_i64().unwrap();
            let min = prop["minimum"].as_i64().unwrap();
            out.push(toml::Value::Integer(max + 1));
            out.push(toml::Value::Integer(min - 1));
        }
        "object" => {
            out.push(v("\"x\""));
            out.push(v("{ a = 1 }"));
        }
        "array" => {
            out.push(v("\"x\""));
            out.push(v("[1]"));
        }
        other => panic!("a setting type this test does not know: {other}"),
    }
    out
}

/// Values the schema allows at its edges: every choice, both integer bounds.
fn edge_values(prop: &Value) -> Vec<toml::Value> {
    let mut out = Vec::new();
    if let Some(choices) = prop["anyOf"][0]["enum"].as_array() {
        out.extend(
            choices
                .iter()
                .map(|c| toml::Value::String(c.as_str().unwrap().into())),
        );
    }
    if prop["type"] == "integer" {
        out.push(toml::Value::Integer(prop["minimum"].as_i64().unwrap()));
        out.push(toml::Value::Integer(prop["maximum"].as_i64().unwrap()));
    }
    if prop["type"] == "boolean" {
        out.push(toml::Value::Boolean(true));
        out.push(toml::Value::Boolean(false));
    }
    out
}

fn mutations(schema: &Value) -> (Vec<Mutation>, Vec<Mutation>) {
    let mut bad = Vec::new();
    let mut good = Vec::new();

    // Every setting of every sink type, from the schema.
    let kinds = schema["definitions"]["sink"]["properties"]["type"]["enum"]
        .as_array()
        .unwrap();
    for kind in kinds {
        let kind = kind.as_str().unwrap();
        let sink = format!("s-{kind}");
        assert!(
            base_document()["sinks"].get(&sink).is_some(),
            "base_document() has no sink of the registered type {kind:?}"
        );
        let def = &schema["definitions"][format!("sink-{kind}")];
        for (key, prop) in def["properties"].as_object().unwrap() {
            if key == "type" {
                continue;
            }
            for value in wrong_values(prop) {
                let label = format!("sinks.{sink}.{key} = {value}");
                mutate(&mut bad, label, &["sinks", &sink], |t| {
                    t.insert(key.clone(), value);
                });
            }
            for value in edge_values(prop) {
                let label = format!("sinks.{sink}.{key} = {value}");
                mutate(&mut good, label, &["sinks", &sink], |t| {
                    t.insert(key.clone(), value);
                });
            }
        }
        for required in def["required"].as_array().unwrap() {
            let required = required.as_str().unwrap().to_string();
            mutate(
                &mut bad,
                format!("sinks.{sink} without {required}"),
                &["sinks", &sink],
                |t| {
                    t.remove(&required);
                },
            );
        }
        mutate(
            &mut bad,
            format!("sinks.{sink}.bogus_setting"),
            &["sinks", &sink],
            |t| {
                t.insert("bogus_setting".into(), v("1"));
            },
        );
    }
    mutate(&mut bad, "unknown sink type", &["sinks", "s-log"], |t| {
        t.insert("type".into(), v("\"carrier-pigeon\""));
    });
    mutate(
        &mut bad,
        "sink type not a string",
        &["sinks", "s-log"],
        |t| {
            t.insert("type".into(), v("1"));
        },
    );

    // Top level, settings, environments.
    mutate(&mut bad, "unknown top-level key", &[], |t| {
        t.insert("rule".into(), v("[]"));
    });
    mutate(&mut bad, "unknown settings key", &["settings"], |t| {
        t.insert("default_env".into(), v("\"dev\""));
    });
    for value in ["\"\"", "1"] {
        mutate(
            &mut bad,
            format!("default_environment = {value}"),
            &["settings"],
            |t| {
                t.insert("default_environment".into(), v(value));
            },
        );
    }
    mutate(
        &mut bad,
        "environment without accounts",
        &["environments", "prod"],
        |t| {
            t.remove("accounts");
        },
    );
    for value in ["\"111111111111\"", "[1]"] {
        mutate(
            &mut bad,
            format!("accounts = {value}"),
            &["environments", "prod"],
            |t| {
                t.insert("accounts".into(), v(value));
            },
        );
    }
    mutate(
        &mut bad,
        "unknown environment key",
        &["environments", "prod"],
        |t| {
            t.insert("account".into(), v("[]"));
        },
    );
    mutate(&mut bad, "environments not tables", &[], |t| {
        t.insert("environments".into(), v("{ prod = 1 }"));
    });

    // Rules.
    for key in ["name", "sinks"] {
        mutate(&mut bad, format!("rule without {key}"), &["rules"], |t| {
            t.remove(key);
        });
    }
    for (key, value) in [
        ("name", "\"\""),
        ("name", "\"  \""),
        ("name", "1"),
        ("sinks", "\"s-log\""),
        ("sinks", "[1]"),
        ("continue", "\"yes\""),
        ("match", "\"everything\""),
        ("priority", "1"),
    ] {
        mutate(
            &mut bad,
            format!("rules[0].{key} = {value}"),
            &["rules"],
            |t| {
                t.insert(key.into(), v(value));
            },
        );
    }
    mutate(&mut bad, "rules not an array", &[], |t| {
        t.insert("rules".into(), v("{ name = \"x\" }"));
    });
    let fields = schema["properties"]["rules"]["items"]["properties"]["match"]["properties"]
        .as_object()
        .unwrap();
    for field in fields.keys() {
        for value in [
            "\"\"",
            "[]",
            "5",
            "[\"ok\", 5]",
            "\"!\"",
            "\"re:\"",
            "\"!re:\"",
            "true",
        ] {
            mutate(
                &mut bad,
                format!("rules[0].match.{field} = {value}"),
                &["rules", "match"],
                |t| {
                    t.insert(field.clone(), v(value));
                },
            );
        }
    }
    mutate(&mut bad, "unknown match field", &["rules", "match"], |t| {
        t.insert("severity".into(), v("\"high\""));
    });
    for value in [
        "\"NOT_A_REPORT\"",
        "\"!NOT_A_REPORT\"",
        "[\"BACKUP_JOB_REPORT\", \"JOBS\"]",
    ] {
        mutate(
            &mut bad,
            format!("match.report = {value}"),
            &["rules", "match"],
            |t| {
                t.insert("report".into(), v(value));
            },
        );
    }
    for value in [
        "\"MALWARE_JOB_REPORT\"",
        "\"!SCAN_JOB_REPORT\"",
        "\"*_JOB_REPORT\"",
        "\"re:^COPY_.*$\"",
        "[\"BACKUP_JOB_REPORT\", \"COPY_JOB_REPORT\"]",
    ] {
        mutate(
            &mut good,
            format!("match.report = {value}"),
            &["rules", "match"],
            |t| {
                t.insert("report".into(), v(value));
            },
        );
    }

    // Silences.
    for key in ["match", "until", "reason"] {
        mutate(
            &mut bad,
            format!("silence without {key}"),
            &["silences"],
            |t| {
                t.remove(key);
            },
        );
    }
    for (key, value) in [
        ("until", "\"tomorrow\""),
        ("until", "\"2026-13-45\""),
        ("until", "20261231"),
        ("until", "2026-12-31T10:00:00Z"),
        ("reason", "\"\""),
        ("reason", "\" \""),
        ("match", "\"all\""),
        ("expires", "2026-12-31"),
    ] {
        mutate(
            &mut bad,
            format!("silences[0].{key} = {value}"),
            &["silences"],
            |t| {
                t.insert(key.into(), v(value));
            },
        );
    }
    mutate(&mut good, "until as a string", &["silences"], |t| {
        t.insert("until".into(), v("\"2099-01-31\""));
    });
    (bad, good)
}

#[test]
fn what_the_schema_rejects_check_rejects_too() {
    let schema = schema();
    let (bad, good) = mutations(&schema);
    let base = base_document();
    let mut docs = vec![toml_to_json(&toml::Value::Table(base.clone()))];
    docs.extend(
        bad.iter()
            .map(|(_, t)| toml_to_json(&toml::Value::Table(t.clone()))),
    );
    docs.extend(
        good.iter()
            .map(|(_, t)| toml_to_json(&toml::Value::Table(t.clone()))),
    );
    let results = validate(&schema, &docs);
    let dir = tempfile::tempdir().unwrap();

    // The base passes both.
    assert!(results[0].is_empty(), "base: {:?}", results[0]);
    let (ok, err) = check(dir.path(), "base.toml", &toml::to_string(&base).unwrap());
    assert!(ok, "check rejects the base document: {err}");

    let mut failures = Vec::new();
    for (i, (label, doc)) in bad.iter().enumerate() {
        let errors = &results[1 + i];
        if errors.is_empty() {
            failures.push(format!("schema accepts {label}"));
            continue;
        }
        let (ok, _) = check(
            dir.path(),
            &format!("bad-{i}.toml"),
            &toml::to_string(doc).unwrap(),
        );
        if ok {
            failures.push(format!(
                "schema rejects {label} ({errors:?}) but check accepts it"
            ));
        }
    }
    for (i, (label, doc)) in good.iter().enumerate() {
        let errors = &results[1 + bad.len() + i];
        if !errors.is_empty() {
            failures.push(format!("schema rejects the allowed {label}: {errors:?}"));
            continue;
        }
        let (ok, err) = check(
            dir.path(),
            &format!("good-{i}.toml"),
            &toml::to_string(doc).unwrap(),
        );
        // The setting itself must be accepted; rendering the samples may still fail on a
        // limit the schema cannot know (the default webhook body does not fit the smallest
        // max_body_bytes), and says so.
        let only_render_limits = err
            .lines()
            .all(|l| l.contains("template fails on a sample") || l.contains(": invalid ("));
        if !ok && !only_render_limits {
            failures.push(format!(
                "schema accepts {label} but check rejects it: {err}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every sink setting was broken at least once, so the list above is not vacuous.
    assert!(bad.len() > 150, "{}", bad.len());
    assert!(good.len() > 20, "{}", good.len());
}
