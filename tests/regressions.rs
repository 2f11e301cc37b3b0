//! Regression tests: one per crash or wrong answer found by fuzzing, property testing or the
//! hostile-input tests (`fuzz/`, `tests/proptest_parsers.rs`, `tests/hostile_inputs.rs`). Each
//! says what found it and what used to happen.

use audit_router::sink_api::{Escape, TemplateEngine};
use serde_json::json;

/// Found while extending the template checks: two templates of one sink (SNS `subject` and
/// `body`) that include each other recursed until the stack overflowed — a process abort
/// (SIGABRT), in `check` as in the Lambda. Handlebars only refuses a template including itself.
/// Partials and decorators are now refused at registration, with their position.
#[test]
fn templates_including_each_other_are_refused_not_a_stack_overflow() {
    let mut e = TemplateEngine::new(Escape::None);
    e.register("body", "Hello\n  {{> subject}}", "body.hbs")
        .map(|()| panic!("a partial was accepted"))
        .unwrap_or_else(|err| {
            assert_eq!(
                err.to_string(),
                "body.hbs:2:3: a partial (`{{> name}}`) is not supported: each sink template \
                 stands alone (templates that include each other can recurse without end)"
            );
        });
    for src in [
        "{{> body}}",
        "{{#> body}}x{{/body}}",
        "{{#each l}}{{#if x}}{{else}}{{> body}}{{/if}}{{/each}}",
        "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}",
        "{{*inline \"p\"}}",
    ] {
        let err = e.register("subject", src, "subject.hbs").unwrap_err();
        assert!(err.message.contains("not supported"), "{src}: {err}");
        assert!(err.line.is_some(), "{src}: {err}");
    }
    assert!(!e.has("subject"));
    // Plain templates, blocks and helpers still register and render.
    e.register(
        "subject",
        "{{#each l}}{{#if x}}{{x}}{{else}}-{{/if}}{{/each}}",
        "s.hbs",
    )
    .unwrap();
    assert_eq!(
        e.render("subject", &json!({"l": [{"x": 1}, {}]})).unwrap(),
        "1-"
    );
}
