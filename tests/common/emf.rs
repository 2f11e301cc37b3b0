//! Checks CloudWatch embedded metric format (EMF) documents against the specification: AWS's
//! published JSON Schema (`tests/fixtures/emf/schema.json`, provenance in its README) with a real
//! validator (Python `jsonschema`, draft-07), and the rules of the specification the schema does
//! not express ([`spec_violations`]).

use std::process::{Command, Stdio};

use serde_json::Value;

const VALIDATE: &str = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python jsonschema is not installed: run scripts/install-test-tools.sh")
schema = json.load(open(sys.argv[1]))
# The published schema has no "$schema"; its "$id"s are draft-07 style (README).
cls = jsonschema.Draft7Validator
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

/// Every document's schema errors (empty: valid), from Python's `jsonschema`.
pub fn schema_errors(docs: &[Value]) -> Vec<Vec<String>> {
    let schema = super::fixture("emf/schema.json");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(VALIDATE)
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} (the JSON Schema validator): {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(&serde_json::to_vec(&Value::Array(docs.to_vec())).expect("JSON"))
            .expect("write to the validator");
    }
    let out = child.wait_with_output().expect("the validator runs");
    assert!(
        out.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the validator's answer");
    assert_eq!(v["validator"], "Draft7Validator");
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("errors")
                .iter()
                .map(|m| m.as_str().expect("message").to_owned())
                .collect()
        })
        .collect()
}

/// The specification's rules beyond the schema: each referenced dimension is a root member with
/// a string value of at most 1024 characters, each referenced metric a root member with a number
/// or an array of at most 100 numbers, at most 100 metrics per directive and 30 keys per
/// dimension set, a document of at most 1 MB (one line).
pub fn spec_violations(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let line = doc.to_string();
    if line.len() > 1024 * 1024 {
        out.push(format!("{} bytes, over 1 MB", line.len()));
    }
    let directives = doc["_aws"]["CloudWatchMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, d) in directives.iter().enumerate() {
        for set in d["Dimensions"].as_array().into_iter().flatten() {
            let keys = set.as_array().cloned().unwrap_or_default();
            if keys.len() > 30 {
                out.push(format!(
                    "directive {i}: a dimension set of {} keys",
                    keys.len()
                ));
            }
            for k in keys {
                let k = k.as_str().unwrap_or_default();
                match doc.get(k) {
                    Some(Value::String(s)) if s.chars().count() <= 1024 && !s.is_empty() => {}
                    other => out.push(format!(
                        "directive {i}: dimension {k:?} is {other:?}, not a root string"
                    )),
                }
            }
        }
        let metrics = d["Metrics"].as_array().cloned().unwrap_or_default();
        if metrics.len() > 100 {
            out.push(format!("directive {i}: {} metrics", metrics.len()));
        }
        for m in metrics {
            let name = m["Name"].as_str().unwrap_or_default();
            match doc.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(a)) if a.len() <= 100 && a.iter().all(Value::is_number) => {}
                other => out.push(format!(
                    "directive {i}: metric {name:?} is {other:?}, not a root number"
                )),
            }
        }
    }
    out
}

/// Asserts every document is valid EMF (schema and specification), naming the bad ones.
pub fn assert_valid(docs: &[Value]) {
    assert!(!docs.is_empty(), "no EMF documents to check");
    let errors = schema_errors(docs);
    for (doc, errs) in docs.iter().zip(&errors) {
        assert!(errs.is_empty(), "EMF schema errors {errs:?} in {doc}");
        let spec = spec_violations(doc);
        assert!(
            spec.is_empty(),
            "EMF specification violated {spec:?} in {doc}"
        );
    }
}
