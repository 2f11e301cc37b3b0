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
    // State: exactly its prefix, read and write; listing only under it.
    assert_eq!(
        by_sid("ReadWriteState")["Resource"]["Fn::Sub"],
        "arn:${AWS::Partition}:s3:::${ReportBucketName}/${StatePrefix}/*"
    );
    assert_eq!(
        by_sid("ReadWriteState")["Action"],
        json!(["s3:GetObject", "s3:PutObject"])
    );
    assert_eq!(by_sid("ListState")["Action"], "s3:ListBucket");
    assert_eq!(
        by_sid("ListState")["Condition"]["StringLike"]["s3:prefix"]["Fn::Sub"],
        "${StatePrefix}/*"
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
    assert_eq!(
        env["AUDIT_ROUTER_STATE"]["Fn::Sub"],
        "s3://${ReportBucketName}/${StatePrefix}/"
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
    let state_prefix = params["StatePrefix"]["Default"].as_str().unwrap();
    assert!(!format!("{state_prefix}/").starts_with(&format!("{report_prefix}/")));
}

/// `sam validate --lint` (SAM's own translation plus cfn-lint) accepts the template, offline.
#[test]
fn sam_validate_lint_passes() {
    let path = template_path();
    let out = match Command::new("sam")
        .args(["validate", "--lint", "--template-file"])
        .arg(&path)
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                !in_ci(),
                "sam is not installed but CI=true: run scripts/install-test-tools.sh"
            );
            eprintln!("SKIPPED: sam not found; run scripts/install-test-tools.sh");
            return;
        }
        Err(e) => panic!("running sam: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("is a valid SAM Template"),
        "sam validate --lint {}: exit {:?}\n{stdout}{stderr}",
        path.display(),
        out.status.code()
    );
}

/// The AuditRouter metrics an alarm or the dashboard reads must be published under those
/// dimensions by `audit_router::metrics` (the EMF lines the function writes).
fn assert_published(metric: &str, dimensions: &[&str]) {
    let mut dims: Vec<&str> = dimensions.to_vec();
    dims.sort_unstable();
    let found = audit_router::metrics::published()
        .iter()
        .any(|(name, _, sets)| {
            *name == metric
                && sets.iter().any(|set| {
                    let mut s = set.to_vec();
                    s.sort_unstable();
                    s == dims
                })
        });
    assert!(
        found,
        "{metric} by {dimensions:?} is not a published metric"
    );
}

/// The actions of an alarm: the ops topic when given, else the stack's topic.
fn ops_or_alarm_topic() -> Value {
    json!([{"Fn::If": ["HasOpsTopic", {"Ref": "OpsTopicArn"}, {"Ref": "AlarmTopic"}]}])
}

#[test]
fn alarms_and_dashboard_watch_the_router() {
    let t = load_template();
    let r = &t["Resources"];
    let params = &t["Parameters"];
    let conds = &t["Conditions"];

    // Each new alarm and the dashboard: optional by a parameter that defaults to on.
    for (res, cond, param) in [
        ("ThrottlesAlarm", "ThrottlesAlarmOn", "CreateThrottlesAlarm"),
        ("NoReportAlarm", "NoReportAlarmOn", "CreateNoReportAlarm"),
        (
            "SinkFailureAlarm",
            "SinkFailureAlarmOn",
            "CreateSinkFailureAlarm",
        ),
        ("Dashboard", "DashboardOn", "CreateDashboard"),
    ] {
        assert_eq!(r[res]["Condition"], cond, "{res}");
        assert_eq!(
            conds[cond]["Fn::Equals"],
            json!([{"Ref": param}, "true"]),
            "{cond}"
        );
        assert_eq!(params[param]["Default"], "true", "{param} is on by default");
        assert_eq!(params[param]["AllowedValues"], json!(["true", "false"]));
    }
    assert_eq!(params["OpsTopicArn"]["Default"], "");
    assert_eq!(
        conds["HasOpsTopic"]["Fn::Not"][0]["Fn::Equals"],
        json!([{"Ref": "OpsTopicArn"}, ""])
    );
    // Every alarm, old and new, notifies the ops topic (or the stack's).
    for alarm in [
        "FailedEventsAlarm",
        "FunctionErrorsAlarm",
        "ThrottlesAlarm",
        "NoReportAlarm",
        "SinkFailureAlarm",
    ] {
        assert_eq!(r[alarm]["Type"], "AWS::CloudWatch::Alarm", "{alarm}");
        assert_eq!(
            r[alarm]["Properties"]["AlarmActions"],
            ops_or_alarm_topic(),
            "{alarm}"
        );
    }

    // Metrics are EMF log lines: the function is granted nothing of CloudWatch.
    let policies = r["RouterFunction"]["Properties"]["Policies"].to_string();
    assert!(!policies.contains("cloudwatch:"), "{policies}");

    let p = &r["ThrottlesAlarm"]["Properties"];
    assert_eq!(p["Namespace"], "AWS/Lambda");
    assert_eq!(p["MetricName"], "Throttles");
    assert_eq!(
        p["Dimensions"],
        json!([{"Name": "FunctionName", "Value": {"Ref": "RouterFunction"}}])
    );
    assert_eq!(p["Statistic"], "Sum");
    assert_eq!(p["Threshold"], 1);
    assert_eq!(p["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(p["TreatMissingData"], "notBreaching");

    // The dead man's switch: a sample of ReportItems per report read; an hour without one is
    // missing, missing is breaching, and NoReportHours (26) such hours in a row alarm.
    let p = &r["NoReportAlarm"]["Properties"];
    assert_eq!(p["Namespace"], audit_router::metrics::NAMESPACE);
    assert_eq!(p["MetricName"], "ReportItems");
    assert_eq!(
        p["Dimensions"],
        json!([{"Name": "Environment", "Value": {"Ref": "EnvironmentName"}}])
    );
    assert_published("ReportItems", &["Environment"]);
    assert_eq!(p["Statistic"], "SampleCount");
    assert_eq!(p["Period"], 3600);
    assert_eq!(p["EvaluationPeriods"], json!({"Ref": "NoReportHours"}));
    assert_eq!(p["DatapointsToAlarm"], json!({"Ref": "NoReportHours"}));
    assert_eq!(params["NoReportHours"]["Default"], 26);
    // CloudWatch evaluates at most 7 days (604 800 s) for an hourly period.
    assert_eq!(params["NoReportHours"]["MaxValue"], 168);
    assert_eq!(p["Threshold"], 1);
    assert_eq!(p["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(p["TreatMissingData"], "breaching");
    assert_eq!(
        p["OKActions"],
        ops_or_alarm_topic(),
        "it says when reports are back"
    );

    // A sink failing: Failed > 0, any sink.
    let p = &r["SinkFailureAlarm"]["Properties"];
    assert_eq!(p["Namespace"], audit_router::metrics::NAMESPACE);
    assert_eq!(p["MetricName"], "Failed");
    assert_eq!(
        p["Dimensions"],
        json!([{"Name": "Environment", "Value": {"Ref": "EnvironmentName"}}])
    );
    assert_published("Failed", &["Environment"]);
    assert_eq!(p["Statistic"], "Sum");
    assert_eq!(p["Threshold"], 0);
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(p["TreatMissingData"], "notBreaching");

    // The dashboard: its body (a Sub) is JSON once the references are filled in.
    let d = &r["Dashboard"];
    assert_eq!(d["Type"], "AWS::CloudWatch::Dashboard");
    let body = d["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("a Sub string");
    let refs = regex::Regex::new(r"\$\{([A-Za-z:.]+)\}").expect("regex");
    for c in refs.captures_iter(body) {
        let name = c[1].split('.').next().unwrap_or_default();
        assert!(
            name.starts_with("AWS::") || params.get(name).is_some() || r.get(name).is_some(),
            "the dashboard refers to {name}, which the template does not have"
        );
    }
    let filled = refs.replace_all(body, "X");
    let doc: Value = serde_json::from_str(&filled).expect("the dashboard body is JSON");
    let widgets = doc["widgets"].as_array().expect("widgets");
    let titled = |title: &str| {
        widgets
            .iter()
            .find(|w| w["properties"]["title"] == title)
            .unwrap_or_else(|| panic!("no widget {title:?}"))
    };
    let search = regex::Regex::new(
        r#"^SEARCH\('\{AuditRouter,([A-Za-z,]+)\}(?: Environment="X")? MetricName="([A-Za-z]+)"', '([A-Za-z]+)', (\d+)\)$"#,
    )
    .expect("regex");
    // (widget, metric, dimensions, statistic, period) of every SEARCH.
    let mut searches = Vec::new();
    for w in widgets {
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            if let Some(expr) = m[0]["expression"].as_str() {
                let c = search
                    .captures(expr)
                    .unwrap_or_else(|| panic!("an unexpected expression: {expr}"));
                let dims: Vec<&str> = c.get(1).map_or("", |d| d.as_str()).split(',').collect();
                assert_published(&c[2], &dims);
                searches.push((
                    w["properties"]["title"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    c[2].to_owned(),
                    dims.join(","),
                    c[3].to_owned(),
                    c[4].to_owned(),
                ));
            }
        }
    }
    let has = |title: &str, metric: &str, dims: &str, stat: &str| {
        assert!(
            searches.iter().any(|(t, m, d, s, p)| t == title
                && m == metric
                && d == dims
                && s == stat
                && p == "86400"),
            "{title}: {metric} by {dims}, {stat} per day: {searches:#?}"
        );
    };
    has(
        "Findings per day by status and environment",
        "Findings",
        "Environment,Status",
        "Sum",
    );
    has(
        "Deliveries per sink per day",
        "Delivered",
        "Environment,Sink",
        "Sum",
    );
    has(
        "Failures per sink per day",
        "Failed",
        "Environment,Sink",
        "Sum",
    );
    has(
        "Reports processed per day",
        "ReportItems",
        "Environment,Report",
        "SampleCount",
    );
    assert_eq!(
        titled("Findings per day by status and environment")["properties"]["period"],
        86400
    );
    // The last report summaries, from the function's log.
    let logs = titled("Last report summaries");
    assert_eq!(logs["type"], "log");
    let q = logs["properties"]["query"].as_str().expect("query");
    assert!(
        q.starts_with("SOURCE 'X' |") && q.contains(r#"filter message = "report summary""#),
        "{q}"
    );
    assert!(
        body.contains("SOURCE '${RouterLogGroup}'"),
        "the function's log group"
    );
}
