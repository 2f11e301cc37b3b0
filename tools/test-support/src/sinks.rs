//! Building one sink by hand for the plugin tests (no rules file, no AWS).

use audit_router_sink_api::{
    BuildContext, RenderContext, Sink, SinkConfig, SinkError, SinkFactory, StaticSecrets,
};
use std::path::Path;
use std::sync::Arc;

pub fn ctx(base: &Path, secrets: StaticSecrets) -> BuildContext {
    BuildContext {
        base_dir: base.to_path_buf(),
        aws: None,
        secrets: Arc::new(secrets),
    }
}

/// Builds sink `name` of `factory`'s type from `settings` (TOML table text).
pub fn build(
    factory: &dyn SinkFactory,
    name: &str,
    settings: &str,
    c: &BuildContext,
) -> Result<Arc<dyn Sink>, SinkError> {
    let table: toml::Table = settings.parse().expect("test settings are valid TOML");
    factory.build(
        SinkConfig {
            name,
            kind: factory.kind(),
            settings: &table,
            docs: factory.settings(),
        },
        c,
    )
}

/// The error `settings` must be rejected with.
pub fn build_err(
    factory: &dyn SinkFactory,
    name: &str,
    settings: &str,
    c: &BuildContext,
) -> SinkError {
    match build(factory, name, settings, c) {
        Ok(_) => panic!("expected settings to be rejected: {settings}"),
        Err(e) => e,
    }
}

/// A fixed "now" so rendered messages are stable in snapshots.
pub fn fixed_ctx() -> RenderContext {
    RenderContext {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
        test: false,
    }
}
