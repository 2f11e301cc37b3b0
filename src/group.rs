//! The group stage: one [`Digest`] per sink for one report, built one routed finding at a time.

use crate::rules::Routing;
use crate::sink_api::host::{DigestBuilder, ValueIds};
use crate::sink_api::{Seen, SourceInfo};
use crate::{Digest, Finding, FindingView};

/// How many findings a digest keeps for rendering by default; counts stay exact beyond it.
///
/// 2 000 fills one SNS message (256 KB at ~100 bytes per listed resource) and is far more than
/// a Slack message can show (50 blocks); templates say "…and N more" past it. At 5 000 the
/// kept findings and their render data took a dry run of a 250 MB report to ~100 MB peak RSS
/// (BENCHMARKS.md), over the 64 MB budget of a 128 MB Lambda.
pub const DEFAULT_MAX_KEPT: usize = 2_000;

/// Builds the digests of one report: a builder per sink, created when the first finding for that
/// sink arrives (the template is known by then).
#[derive(Debug)]
pub struct Grouper {
    sink_names: Vec<String>,
    source: SourceInfo,
    max_kept: usize,
    builders: Vec<Option<DigestBuilder>>,
}

impl Grouper {
    /// `sink_names` are the declared sinks, indexed as in [`crate::rules::Delivery::sink`].
    pub fn new(sink_names: Vec<String>, source: SourceInfo, max_kept: usize) -> Self {
        let builders = sink_names.iter().map(|_| None).collect();
        Grouper {
            sink_names,
            source,
            max_kept,
            builders,
        }
    }

    /// Adds a routed finding to the digest of every sink it is delivered to.
    pub fn push(&mut self, finding: &Finding, routing: &Routing, rule_names: &[String]) {
        self.push_view(&finding.view(), &|| finding.clone(), routing, rule_names);
    }

    /// As [`push`](Self::push) for a borrowed finding (environment set); `make` builds the
    /// owned finding, called only for the digests that keep it.
    pub fn push_view(
        &mut self,
        finding: &FindingView<'_>,
        make: &dyn Fn() -> Finding,
        routing: &Routing,
        rule_names: &[String],
    ) {
        self.push_view_ids(finding, &ValueIds::default(), make, routing, rule_names);
    }

    /// As [`push_view`](Self::push_view), with the numbers the routing memo gave the
    /// finding's values ([`crate::rules::RouteMemo::value_ids`]) so each digest finds them
    /// without hashing their text; the digests are the same.
    pub fn push_view_ids(
        &mut self,
        finding: &FindingView<'_>,
        ids: &ValueIds,
        make: &dyn Fn() -> Finding,
        routing: &Routing,
        rule_names: &[String],
    ) {
        self.push_view_seen(finding, ids, make, routing, rule_names, &[]);
    }

    /// As [`push_view_ids`](Self::push_view_ids), with how the finding compares with the
    /// previous report per delivery (`seen[i]` for `routing.deliveries[i]`; empty without
    /// state): see [`DigestBuilder::push_seen`].
    pub fn push_view_seen(
        &mut self,
        finding: &FindingView<'_>,
        ids: &ValueIds,
        make: &dyn Fn() -> Finding,
        routing: &Routing,
        rule_names: &[String],
        seen: &[Option<Seen>],
    ) {
        for (i, delivery) in routing.deliveries.iter().enumerate() {
            let Some(slot) = self.builders.get_mut(delivery.sink) else {
                continue;
            };
            let builder = slot.get_or_insert_with(|| {
                DigestBuilder::new(
                    self.sink_names[delivery.sink].clone(),
                    finding.report,
                    self.source.clone(),
                    self.max_kept,
                )
            });
            let rule = rule_names
                .get(delivery.rule)
                .map(String::as_str)
                .unwrap_or("?");
            let seen = seen.get(i).and_then(Option::as_ref);
            builder.push_seen(finding, ids, rule, seen, make);
        }
    }

    /// The finished digests, in sink declaration order; sinks that got nothing have none.
    pub fn finish(self) -> Vec<Digest> {
        self.builders
            .into_iter()
            .flatten()
            .map(DigestBuilder::finish)
            .collect()
    }
}
