//! template.yaml (SAM): `cfn-lint` passes with nothing to say, and the function's IAM grants stay
//! least-privilege (no `Resource: "*"` for S3, SNS, SSM or Secrets Manager actions).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Map, Value, json};

fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("template.yaml")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

#[test]
fn cfn_lint_reports_nothing() {
    let path = template_path();
    let out = match Command::new("cfn-lint").arg(&path).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                !in_ci(),
                "cfn-lint is not installed but CI=true: run scripts/install-test-tools.sh"
            );
            eprintln!(
                "SKIPPED: cfn-lint not found; run scripts/install-test-tools.sh to lint template.yaml"
            );
            return;
        }
        Err(e) => panic!("running cfn-lint: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "cfn-lint {} must pass silently; exit {:?}\n{stdout}{stderr}",
        path.display(),
        out.status.code()
    );
}

/// YAML with CloudFormation short tags (`!Ref x`, `!Sub s`, `!GetAtt a.b`, ...) as JSON in the
/// long form (`{"Ref": "x"}`, `{"Fn::Sub": "s"}`, `{"Fn::GetAtt": ["a", "b"]}`).
fn to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_norway::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(t.value);
            let (name, inner) = match tag {
                "Ref" | "Condition" => (tag.to_owned(), inner),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let parts: Vec<Value> = s
                            .splitn(2, '.')
                            .map(|p| Value::String(p.to_owned()))
                            .collect();
                        ("Fn::GetAtt".to_owned(), Value::Array(parts))
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                _ => (format!("Fn::{tag}"), inner),
            };
            let mut m = Map::new();
            m.insert(name, inner);
            Value::Object(m)
        }
    }
}

fn load_template() -> Value {
    let path = template_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let yaml: serde_norway::Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    to_json(yaml)
}

/// Services whose grants must name their resources.
const GUARDED: [&str; 4] = ["s3:", "sns:", "ssm:", "secretsmanager:"];

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// Both branches of an `Fn::If`, or the value itself.
fn branches(v: &Value) -> Vec<&Value> {
    match v.get("Fn::If").and_then(Value::as_array) {
        Some(args) if args.len() == 3 => args[1..].iter().flat_map(branches).collect(),
        _ => vec![v],
    }
}

/// Every IAM statement anywhere in `doc` that grants a guarded action on `"*"` (or has no
/// `Resource` at all, e.g. `NotResource`), as "<path>: <why>".
fn wildcard_grants(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let here = format!("{path}/{k}");
                    if k == "Statement" {
                        for (i, st) in as_list(child).into_iter().enumerate() {
                            for st in branches(st) {
                                check_statement(st, &format!("{here}[{i}]"), out);
                            }
                        }
                    }
                    walk(child, &here, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    fn check_statement(st: &Value, path: &str, out: &mut Vec<String>) {
        if st.is_null() || st.get("Ref").is_some() {
            return; // AWS::NoValue
        }
        if st.get("Effect").and_then(Value::as_str) == Some("Deny") {
            return;
        }
        let actions: Vec<&str> = st
            .get("Action")
            .map(as_list)
            .unwrap_or_default()
            .into_iter()
            .filter_map(Value::as_str)
            .collect();
        let guarded: Vec<&str> = actions
            .iter()
            .copied()
            .filter(|a| {
                *a == "*"
                    || GUARDED
                        .iter()
                        .any(|p| a.to_ascii_lowercase().starts_with(p))
            })
            .collect();
        if guarded.is_empty() && st.get("NotAction").is_none() {
            return;
        }
        match st.get("Resource") {
            None => out.push(format!("{path}: {guarded:?} without a Resource")),
            Some(res) => {
                for r in as_list(res).into_iter().flat_map(branches) {
                    if r.as_str().is_some_and(|s| s == "*" || s.ends_with(":*")) {
                        out.push(format!("{path}: {guarded:?} on Resource {r}"));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out
}

#[test]
fn the_wildcard_check_catches_wildcards() {
    let doc = json!({"Resources": {"F": {"Properties": {"Policies": [
        {"Statement": [
            {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/p/*"},
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
            {"Fn::If": ["C", {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                              "Resource": ["*"]}, {"Ref": "AWS::NoValue"}]},
            {"Effect": "Allow", "Action": "SSM:GetParameter", "NotResource": "arn:x"}
        ]}
    ]}}}});
    let found = wildcard_grants(&doc);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("sns:Publish"), "{found:#?}");
    assert!(found[1].contains("secretsmanager"), "{found:#?}");
    assert!(found[2].contains("without a Resource"), "{found:#?}");
}

#[test]
fn no_wildcard_resources_for_s3_sns_ssm_or_secrets() {
    let t = load_template();
    let found = wildcard_grants(&t);
    assert!(
        found.is_empty(),
        "least privilege violated:\n{}",
        found.join("\n")
    );

    // Managed policies by name (other than basic logging) would grant more than the statements.
    let f = &t["Resources"]["RouterFunction"]["Properties"];
    for p in as_list(&f["Policies"]) {
        if let Some(name) = p.as_str() {
            assert_eq!(
                name, "AWSLambdaBasicExecutionRole",
                "broad managed policy {name}"
            );
        }
    }
    // The grants that exist are scoped as documented.
    let stmts = f["Policies"][0]["Statement"]
        .as_array()
        .expect("inline statements");
    let by_sid = |sid: &str| {
        stmts
            .iter()
            .flat_map(branches)
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("statement {sid} missing"))
    };
    assert_eq!(
        by_sid("ReadReports")["Resource"]["Fn::Sub"],
        "arn:${AWS::Partition}:s3:::${ReportBucketName}/${ReportPrefix}/*"
    );
    assert_eq!(by_sid("ReadReports")["Action"], "s3:GetObject");
    assert_eq!(
        by_sid("ReadWriteReceipts")["Resource"]["Fn::Sub"],
        "arn:${AWS::Partition}:s3:::${ReportBucketName}/${ReceiptsPrefix}/*"
    );
    assert_eq!(
        by_sid("PublishToTopic")["Resource"],
        json!({"Ref": "AlarmTopic"})
    );
    assert!(
        by_sid("ReadSlackSecret")["Resource"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .ends_with(":secret:${SlackWebhookSecretName}-??????")
    );
}

#[test]
fn function_shape_matches_the_issue() {
    let t = load_template();
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    let f = &t["Resources"]["RouterFunction"];
    assert_eq!(f["Type"], "AWS::Serverless::Function");
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    let p = &f["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Architectures"], json!(["arm64"]));
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(p["Timeout"], 60);
    assert_eq!(p["MemorySize"], 128);
    let env = &p["Environment"]["Variables"];
    for var in [
        "AUDIT_ROUTER_ENV",
        "AUDIT_ROUTER_RECEIPTS",
        "ALARM_TOPIC_ARN",
        "SLACK_WEBHOOK_URL",
    ] {
        assert!(!env[var].is_null(), "env var {var} missing");
    }
    // The webhook URL is a run-time reference, never the secret's value.
    assert_eq!(
        env["SLACK_WEBHOOK_URL"]["Fn::If"][1]["Fn::Join"][1],
        json!(["${secretsmanager:", {"Ref": "SlackWebhookSecretName"}, "}"])
    );
    assert_eq!(
        env["AUDIT_ROUTER_RECEIPTS"]["Fn::Sub"],
        "s3://${ReportBucketName}/${ReceiptsPrefix}/"
    );
    // Lambda's async retries, then the on-failure queue.
    let eic = &p["EventInvokeConfig"];
    assert_eq!(eic["MaximumRetryAttempts"], 2);
    assert_eq!(eic["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_eq!(
        eic["DestinationConfig"]["OnFailure"]["Destination"],
        json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]})
    );
}

#[test]
fn two_trigger_modes_are_exclusive_and_receipts_stay_outside_the_filter() {
    let t = load_template();
    let r = &t["Resources"];
    let params = &t["Parameters"];
    for name in [
        "EnvironmentName",
        "ReportBucketName",
        "ReportPrefix",
        "AlarmEmail",
        "SlackWebhookSecretName",
        "TriggerMode",
    ] {
        assert!(params[name].is_object(), "parameter {name} missing");
    }
    for (res, cond) in [
        ("ReportBucket", "CreateBucket"),
        ("S3InvokePermission", "CreateBucket"),
        ("ObjectCreatedRule", "ExistingBucket"),
        ("EventBridgeInvokePermission", "ExistingBucket"),
        ("ReportPlan", "CreatePlan"),
    ] {
        assert_eq!(
            r[res]["Condition"], cond,
            "{res} must be conditional on {cond}"
        );
    }
    assert_eq!(
        t["Conditions"]["CreateBucket"]["Fn::Equals"],
        json!([{"Ref": "TriggerMode"}, "CreateBucket"])
    );
    assert_eq!(
        t["Conditions"]["ExistingBucket"]["Fn::Equals"],
        json!([{"Ref": "TriggerMode"}, "ExistingBucket"])
    );
    // S3 notification: prefix <ReportPrefix>/ plus the format's suffix.
    let rules = &r["ReportBucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
        [0]["Filter"]["S3Key"]["Rules"];
    assert_eq!(rules[0]["Value"]["Fn::Sub"], "${ReportPrefix}/");
    assert_eq!(rules[1]["Name"], "suffix");
    // No circular dependency: the permission names the bucket by string, the bucket waits for it.
    assert!(
        r["S3InvokePermission"]["Properties"]["SourceArn"]["Fn::Sub"]
            .as_str()
            .unwrap()
            .contains("${ReportBucketName}")
    );
    assert_eq!(r["ReportBucket"]["DependsOn"], "S3InvokePermission");
    // EventBridge: bucket name and key prefix filter.
    let detail = &r["ObjectCreatedRule"]["Properties"]["EventPattern"]["detail"];
    assert_eq!(
        detail["bucket"]["name"],
        json!([{"Ref": "ReportBucketName"}])
    );
    assert_eq!(
        detail["object"]["key"][0]["wildcard"]["Fn::Sub"][0],
        "${ReportPrefix}/*${Suffix}"
    );
    // Defaults keep receipts out of the reports prefix.
    let report_prefix = params["ReportPrefix"]["Default"].as_str().unwrap();
    let receipts_prefix = params["ReceiptsPrefix"]["Default"].as_str().unwrap();
    assert_eq!(receipts_prefix, "audit-router-receipts");
    assert!(!format!("{receipts_prefix}/").starts_with(&format!("{report_prefix}/")));
}
