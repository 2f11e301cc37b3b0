//! The JSON Schema of rules.toml (`audit-router schema`, committed as `rules.schema.json`), for
//! editors: Taplo / Even Better TOML read it through the `#:schema` directive at the top of a
//! rules file, complete keys and values and flag mistakes as you type.
//!
//! One source: the sink part is built from every registered factory's
//! [`SinkFactory::settings`](crate::sink_api::SinkFactory::settings) (its
//! [`SettingDoc`] list), the match fields from [`MATCH_FIELDS`], the report names from
//! [`ReportTemplate::ALL`]. The schema is draft-07 (what editors support) and rejects only what
//! `check` rejects too (`tests/rules_schema.rs` proves it with a real validator); `check` knows
//! more (sink references, duplicate names, regex syntax, shadowed rules), which no schema can say.

use crate::ReportTemplate;
use crate::sink_api::{MATCH_FIELDS, SettingDoc, SettingValue};
use serde_json::{Map, Value, json};

/// Where the committed schema lives, relative to the repository (and the example rules.toml).
pub const SCHEMA_FILE: &str = "rules.schema.json";

/// A `${env:NAME}` reference: resolved from the environment before validation, so any string
/// setting may be one.
const ENV_REFERENCE: &str = r"\$\{env:[^}]+\}";

/// What each match field is (the README's table of report fields).
fn match_field_help(field: &str) -> &'static str {
    match field {
        "report" => {
            "The report template: CONTROL_COMPLIANCE_REPORT, RESOURCE_COMPLIANCE_REPORT, \
             BACKUP_JOB_REPORT, COPY_JOB_REPORT, RESTORE_JOB_REPORT, SCAN_JOB_REPORT (or its other \
             name MALWARE_JOB_REPORT). A literal name must be one of these."
        }
        "framework" => "The Audit Manager framework (compliance reports; null in job reports).",
        "control" => "The control (compliance reports; null in job reports).",
        "status" => {
            "controlComplianceStatus / resourceComplianceStatus (compliance reports) or jobStatus \
             (job reports), e.g. NON_COMPLIANT, FAILED, EXPIRED."
        }
        "account" => "The 12-digit AWS account ID.",
        "region" => "The AWS Region, e.g. us-east-1.",
        "environment" => {
            "The environment the rules give the finding's account ([environments.NAME]), else \
             --env / AUDIT_ROUTER_ENV, else settings.default_environment, else \"default\"."
        }
        "resource_type" => {
            "The resource type, e.g. AWS::DynamoDB::Table (null in control reports)."
        }
        "resource" => "The resource ID or ARN (null in control reports).",
        "job_id" => "The backup, copy, restore or scan job ID (job reports only).",
        _ => "A finding field.",
    }
}

const PATTERN_HELP: &str = "A pattern: a literal value, a glob (`*` any run, `?` one character; \
    the whole value, case-sensitive), `re:` + a regex on the whole value, or any of these after \
    `!` to exclude. A null field fails every positive pattern and passes every negative one.";

/// One pattern string of `field`.
fn pattern_schema(field: &str) -> Value {
    if field == "report" {
        // A literal (no glob character, not `re:`) must name a template; globs and regexes may
        // be anything (`check` warns when one matches no template).
        let mut names: Vec<String> = ReportTemplate::ALL
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        names.push("MALWARE_JOB_REPORT".to_string());
        let negated: Vec<String> = names.iter().map(|n| format!("!{n}")).collect();
        let all: Vec<String> = names.into_iter().chain(negated).collect();
        return json!({
            "description": PATTERN_HELP,
            "anyOf": [
                {"type": "string", "enum": all},
                {"type": "string", "pattern": "[*?]"},
                {"type": "string", "pattern": "^!?re:."},
                {"type": "string", "pattern": ENV_REFERENCE},
            ],
        });
    }
    json!({
        "description": PATTERN_HELP,
        "type": "string",
        "minLength": 1,
        "not": {"enum": ["!", "re:", "!re:"]},
    })
}

/// A match field: one pattern or a non-empty list of them.
fn field_schema(field: &str) -> Value {
    let one = pattern_schema(field);
    json!({
        "description": format!("{} {}", match_field_help(field), "A pattern or a list of patterns: the field matches when it matches at least one positive pattern (or there are none) and no negative one."),
        "anyOf": [
            one,
            {"type": "array", "minItems": 1, "items": one},
        ],
    })
}

fn match_schema(description: &str) -> Value {
    let mut props = Map::new();
    for f in MATCH_FIELDS {
        props.insert(f.to_string(), field_schema(f));
    }
    json!({
        "description": description,
        "type": "object",
        "properties": props,
        "additionalProperties": false,
    })
}

/// A string that must not be blank.
fn text_schema(description: &str) -> Value {
    json!({"description": description, "type": "string", "pattern": r"\S"})
}

/// The schema of one setting's value.
pub fn setting_schema(doc: &SettingDoc) -> Value {
    let mut description = doc.help.to_string();
    if doc.required {
        description.push_str(" Required.");
    }
    if doc.secret {
        description.push_str(
            " May be a ${ssm:/path} or ${secretsmanager:name} reference, resolved on first send.",
        );
    }
    let mut s = match doc.value {
        SettingValue::String => json!({"type": "string"}),
        SettingValue::NonEmptyString => json!({"type": "string", "pattern": r"\S"}),
        SettingValue::Bool => json!({"type": "boolean"}),
        SettingValue::Integer { min, max } => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
        SettingValue::OneOf { values } => json!({
            "type": "string",
            "anyOf": [
                {"enum": values},
                {"pattern": ENV_REFERENCE},
            ],
        }),
        SettingValue::StringTable => {
            json!({"type": "object", "additionalProperties": {"type": "string"}})
        }
        SettingValue::StringList => json!({"type": "array", "items": {"type": "string"}}),
        SettingValue::TableList { keys } => json!({
            "type": "array",
            "items": {
                "type": "object",
                "properties": keys.iter().map(|k| ((*k).to_owned(), json!({}))).collect::<serde_json::Map<_, _>>(),
                "additionalProperties": false,
            },
        }),
    };
    if let Value::Object(m) = &mut s {
        m.insert("description".into(), Value::String(description));
    }
    s
}

/// `notify`, `repeat_after`, `resolved`, `min_findings`: keys of every sink and rule
/// (`crate::rules::notify`), `owner` saying whose.
fn policy_properties(owner: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "notify".into(),
        json!({
            "description": format!("What {owner} is told next to the previous report of the stream (docs/state.md): \"always\" (default) every report's digest, new findings marked; \"changes\" only what is new or resolved (and ongoing findings again after repeat_after)."),
            "type": "string",
            "anyOf": [{"enum": ["always", "changes"]}, {"pattern": ENV_REFERENCE}],
        }),
    );
    m.insert(
        "repeat_after".into(),
        json!({
            "description": format!("With notify = \"changes\": list {owner}'s ongoing findings again once they were last listed this long ago, in days or weeks (\"7d\", \"2w\"). Default: never."),
            "type": "string",
            "anyOf": [
                {"pattern": r"^\s*[0-9]+\s*(d|day|days|w|week|weeks)\s*$"},
                {"pattern": ENV_REFERENCE},
            ],
        }),
    );
    m.insert(
        "resolved".into(),
        json!({
            "description": format!("List the findings of {owner} fixed since the previous report (default true)."),
            "type": "boolean",
        }),
    );
    m.insert(
        "min_findings".into(),
        json!({
            "description": format!("Send {owner}'s digest only with at least this many new (notify = \"changes\") or any (\"always\") findings; resolved findings and findings due again send regardless. Default 1."),
            "type": "integer",
            "minimum": 0,
            "maximum": crate::rules::notify::MAX_MIN_FINDINGS,
        }),
    );
    m
}

/// The `[sinks.NAME]` table of one sink type, with the factory's example (`tests/sinks_registry.rs`
/// proves every example builds; one that is not TOML would be left out).
pub fn sink_schema(kind: &str, settings: &[SettingDoc], example: &str) -> Value {
    let mut props = Map::new();
    props.insert(
        "type".into(),
        json!({"const": kind, "description": format!("The sink type: {kind}.")}),
    );
    let mut required = vec![Value::String("type".into())];
    props.extend(policy_properties("this sink"));
    for doc in settings {
        props.insert(doc.key.to_string(), setting_schema(doc));
        if doc.required {
            required.push(Value::String(doc.key.to_string()));
        }
    }
    // The factory's example, as JSON with its `type` (an editor offers it as a snippet).
    let mut example = match example.parse::<toml::Table>() {
        Ok(t) => serde_json::to_value(t).unwrap_or_default(),
        Err(_) => Value::Null,
    };
    if let Some(obj) = example.as_object_mut() {
        obj.insert("type".into(), Value::String(kind.to_string()));
    }
    let mut schema = json!({
        "title": format!("{kind} sink"),
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    });
    if example.is_object() {
        schema["examples"] = json!([example]);
    }
    schema
}

/// The whole schema, from the binary's sink registry.
pub fn rules_schema() -> Value {
    let registry = crate::sinks::registry();
    let kinds = registry.kinds();
    let mut definitions = Map::new();
    let mut one_of = Vec::new();
    for kind in &kinds {
        let Some(factory) = registry.get(kind) else {
            continue;
        };
        let name = format!("sink-{kind}");
        definitions.insert(
            name.clone(),
            sink_schema(kind, factory.settings(), factory.example()),
        );
        one_of.push(json!({"$ref": format!("#/definitions/{name}")}));
    }
    definitions.insert(
        "sink".into(),
        json!({
            "description": "A sink: `type` says which, every other key belongs to that type.",
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {
                    "description": "The sink type.",
                    "enum": kinds,
                },
            },
            "oneOf": one_of,
        }),
    );
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "audit-router rules.toml",
        "description": "Where the findings of AWS Backup Audit Manager reports go: environments, sinks, rules and silences. Generated by `audit-router schema`; `audit-router check` validates more (sink references, duplicate names, regexes).",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "settings": {
                "description": "Settings for the whole file.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "default_environment": {
                        "description": "The environment of a finding whose account is listed under no [environments.*] (--env / AUDIT_ROUTER_ENV override it). Default \"default\".",
                        "type": "string",
                        "minLength": 1,
                    },
                },
            },
            "environments": {
                "description": "[environments.NAME]: the accounts that make up each environment. A finding's account decides its environment; an account belongs to one environment.",
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["accounts"],
                    "additionalProperties": false,
                    "properties": {
                        "accounts": {
                            "description": "12-digit AWS account IDs.",
                            "type": "array",
                            "items": {"type": "string"},
                        },
                    },
                },
            },
            "sinks": {
                "description": "[sinks.NAME]: where findings can go; rules name them.",
                "type": "object",
                "additionalProperties": {"$ref": "#/definitions/sink"},
            },
            "rules": {
                "description": "[[rules]], tried in file order for each finding: the first match routes it and stops, unless it says `continue = true`. A finding reaches each sink at most once per report.",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "sinks"],
                    "additionalProperties": false,
                    "properties": {
                        "name": text_schema("A unique name (dry-run, explanations and tests name the rule by it)."),
                        "sinks": {
                            "description": "The [sinks.NAME] a matching finding goes to.",
                            "type": "array",
                            "items": {"type": "string"},
                        },
                        "continue": {
                            "description": "Let later rules route the finding too (default false: the first matching rule wins).",
                            "type": "boolean",
                        },
                        "match": match_schema("Every field given must match; a field left out matches everything. No `match`: every finding."),
                        "notify": policy_properties("each of its sinks")["notify"],
                        "repeat_after": policy_properties("each of its sinks")["repeat_after"],
                        "resolved": policy_properties("each of its sinks")["resolved"],
                        "min_findings": policy_properties("each of its sinks")["min_findings"],
                    },
                },
            },
            "silences": {
                "description": "[[silences]]: findings they match go nowhere until the date. Checked before the rules; an expired silence no longer applies.",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["match", "until", "reason"],
                    "additionalProperties": false,
                    "properties": {
                        "match": match_schema("Which findings it silences (as a rule's match; an empty table silences every finding)."),
                        "until": json!({
                            "description": "The last day it applies: YYYY-MM-DD, a TOML date or a string.",
                            "type": "string",
                            "format": "date",
                            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                        }),
                        "reason": text_schema("Why the findings are silenced (a ticket, a migration)."),
                    },
                },
            },
        },
        "definitions": definitions,
    })
}

/// The schema as `audit-router schema` prints it and `rules.schema.json` holds it.
pub fn rules_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&rules_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_sink_type_and_setting_is_in_the_schema() {
        let schema = rules_schema();
        let registry = crate::sinks::registry();
        for kind in registry.kinds() {
            let def = &schema["definitions"][format!("sink-{kind}")];
            assert_eq!(def["properties"]["type"]["const"], kind);
            for doc in registry.get(kind).unwrap().settings() {
                let s = &def["properties"][doc.key];
                assert!(s.is_object(), "{kind}.{}", doc.key);
                assert!(
                    s["description"].as_str().unwrap().starts_with(doc.help),
                    "{kind}.{}",
                    doc.key
                );
                let required = def["required"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == doc.key);
                assert_eq!(required, doc.required, "{kind}.{}", doc.key);
            }
        }
        let fields = schema["properties"]["rules"]["items"]["properties"]["match"]["properties"]
            .as_object()
            .unwrap();
        assert_eq!(fields.len(), MATCH_FIELDS.len());
    }

    #[test]
    fn the_text_is_pretty_json_ending_in_a_newline() {
        let text = rules_schema_text();
        assert!(text.ends_with("}\n"));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rules_schema());
    }
}
