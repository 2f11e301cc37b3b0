//! The sink registry as the host uses it (`src/sinks.rs`): every registered type builds from a
//! `[sinks.NAME]` table and its templates pass `check`'s sample render. Each plugin's own
//! behaviour is tested in its crate (`plugins/*/tests/`).

mod common;

use audit_router::rules::SinkDecl;
use audit_router::sink_api::StaticSecrets;
use audit_router::sinks::{check_sink, registry};
use common::sinks::ctx;
use std::path::Path;

#[test]
fn slack_is_registered_and_its_template_passes_check() {
    let decl = SinkDecl::new(
        "ops-slack",
        "slack",
        "url = \"${ssm:/x}\"\noverflow = \"split\""
            .parse()
            .expect("valid TOML"),
    );
    let s = registry()
        .build(&decl, &ctx(Path::new("."), StaticSecrets::new()))
        .expect("slack is registered and builds without resolving secrets");
    assert_eq!(s.kind(), "slack");
    assert!(check_sink(&*s).is_empty());
}

#[test]
fn webhook_is_registered_and_every_example_template_passes_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/sink-webhook/templates");
    for file in [
        "teams.json.hbs",
        "discord.json.hbs",
        "google-chat.json.hbs",
        "pagerduty.json.hbs",
    ] {
        let decl = SinkDecl::new(
            "hook",
            "webhook",
            format!(
                "url = \"https://example.test/x\"\ntemplate = \"{file}\"\nsecrets = {{ routing_key = \"${{ssm:/k}}\" }}"
            )
            .parse()
            .expect("valid TOML"),
        );
        let s = registry()
            .build(&decl, &ctx(&dir, StaticSecrets::new()))
            .expect("webhook is registered");
        assert_eq!(s.kind(), "webhook");
        let errors = check_sink(&*s);
        assert!(errors.is_empty(), "{file}: {errors:?}");
    }
}

/// Every registered type is known to `check` (there is no second list of types): a rules file
/// declaring it with its factory's example passes `check` — it builds, and its templates render
/// the sample digest of every report type — and its factory documents its settings (the schema,
/// "did you mean" and `plugins/README.md` are made from them).
#[test]
fn every_registered_type_is_known_to_check() {
    let registry = registry();
    let kinds = registry.kinds();
    assert!(kinds.len() >= 4, "{kinds:?}");
    for kind in kinds {
        let factory = registry.get(kind).unwrap();
        assert_eq!(factory.kind(), kind);
        assert!(
            !factory.settings().is_empty(),
            "{kind} documents its settings"
        );
        let text = format!(
            "[sinks.s]\ntype = \"{kind}\"\n{}\n\n[[rules]]\nname = \"r\"\nsinks = [\"s\"]\n",
            factory.example()
        );
        let opts = audit_router::rules::LoadOptions::new(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        );
        let checked = audit_router::validate::validate(
            &text,
            "rules.toml",
            ".".into(),
            &opts,
            None,
            audit_router::validate::Samples::Render,
        )
        .unwrap_or_else(|invalid| panic!("{kind}: its example does not pass check:\n{invalid}"));
        let summary = checked.summary();
        assert!(
            summary.starts_with("rules.toml: ok (1 rule, 1 sink)"),
            "{kind}: {summary}"
        );
        assert!(summary.contains(&format!("sink s ({kind}): ")), "{summary}");
        // A type the registry does not know is refused, naming the known ones.
        let unknown = text.replace(&format!("type = \"{kind}\""), "type = \"nope\"");
        let refused = audit_router::validate::validate(
            &unknown,
            "rules.toml",
            ".".into(),
            &opts,
            None,
            audit_router::validate::Samples::Render,
        )
        .expect_err("an unregistered type is an error");
        assert!(
            refused.to_string().contains("unknown sink type \"nope\""),
            "{refused}"
        );
    }
}

/// Message previews are the sink type's own (`SinkFactory::preview`): the registry asks the
/// factory, Slack links its Block Kit Builder, the others have none.
#[test]
fn previews_come_from_each_types_factory() {
    use audit_router::sink_api::Payload;
    let r = registry();
    let slack = Payload::new(
        None,
        r#"{"text":"t","blocks":[{"type":"divider"}]}"#.into(),
        "application/json",
    );
    let p = r
        .preview("slack", &slack)
        .expect("a Slack message has a preview");
    assert_eq!(p.label, "Slack Block Kit Builder");
    assert!(
        p.url
            .starts_with("https://app.slack.com/block-kit-builder/#%7B%22blocks%22"),
        "{}",
        p.url
    );
    for kind in ["webhook", "sns", "log", "not-registered"] {
        assert_eq!(r.preview(kind, &slack), None, "{kind}");
    }
}
