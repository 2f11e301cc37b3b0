//! Compares one report with the previous state of its stream as the report streams by, and
//! writes the report's own state ([`super::document`]) at the same time.
//!
//! Per routed finding and sink: [`Tracker::observe`] says whether it is new or ongoing and
//! whether the digest lists it (the digest keeps the listed ones, new first). When the report
//! is read, [`Tracker::finish`] finds the resolved findings (routed to the sink by the previous
//! report, listed in a message then, and not routed now), decides per sink whether its digest is
//! sent (`notify`, `min_findings`), gives the digests their changes and finishes the document.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};

use super::StateError;
use super::document::{Header, Reader, SinkSummary, Trailer, Writer};
use super::identity::Identity;
use crate::rules::notify::{Notify, Policy};
use crate::rules::{Routing, Rules};
use crate::sink_api::host::DigestBuilder;
use crate::sink_api::{Change, Digest, Seen, SourceInfo};
use crate::{Finding, FindingView, ReportTemplate};

/// A day number (days from the common era).
fn day(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// No date (never listed).
const NEVER: i32 = i32::MIN;

/// One finding of the previous state, for one sink (24 bytes: the table of a sink with 300 000
/// findings is 7 MB).
#[derive(Clone, Copy, Debug)]
struct PrevEntry {
    fp: u64,
    first: i32,
    /// The last date a message listed it, or [`NEVER`].
    last: i32,
    /// Its line in the previous document (read again for a resolved finding's names).
    line: u32,
    /// The rule that routed it there, when that rule sets its own policy keys; else [`NO_RULE`].
    rule: u32,
}

/// [`PrevEntry::rule`] when the sink's own policy applies.
const NO_RULE: u32 = u32::MAX;

/// The previous state of one sink: its findings sorted by fingerprint.
#[derive(Debug, Default)]
struct PrevTable {
    entries: Vec<PrevEntry>,
}

impl PrevTable {
    fn get(&self, fp: u64) -> Option<&PrevEntry> {
        self.entries
            .binary_search_by_key(&fp, |e| e.fp)
            .ok()
            .map(|i| &self.entries[i])
    }
}

/// A set of fingerprints: they are hashes already, so the set does not hash them again.
#[derive(Clone, Copy, Debug, Default)]
struct NoHash(u64);

impl std::hash::Hasher for NoHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FpSet = HashSet<u64, std::hash::BuildHasherDefault<NoHash>>;

/// Per sink and policy (the sink's, or a rule's that sets its own): the counts that decide
/// whether the digest is sent.
#[derive(Clone, Copy, Debug)]
struct Tally {
    /// The rule whose policy this is; `None`: the sink's.
    rule: Option<usize>,
    policy: Policy,
    total: u64,
    /// New, or ongoing but never listed in a message yet.
    announce: u64,
    /// Ongoing and due to be listed again (`repeat_after`).
    due: u64,
}

#[derive(Debug)]
struct SinkTrack {
    name: String,
    /// In the previous state (its trailer names the sink): its findings are compared.
    known_before: bool,
    prev: PrevTable,
    seen: FpSet,
    tallies: Vec<Tally>,
    new: u64,
    ongoing: u64,
}

/// A sink whose digest is not sent, and why (`notify = "changes"`, `min_findings`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Quiet {
    pub sink: String,
    pub reason: String,
}

/// What [`Tracker::finish`] gives.
#[derive(Debug)]
pub struct Finished {
    /// The digests to send, with their changes; sinks told nothing are left out.
    pub digests: Vec<Digest>,
    pub quiet: Vec<Quiet>,
    /// The report's state document (gzip) and its trailer.
    pub document: Vec<u8>,
    pub trailer: Trailer,
    /// The previous report's date, if there was a previous state.
    pub since: Option<NaiveDate>,
}

/// See the module docs.
pub struct Tracker<'r> {
    rules: &'r Rules,
    date: NaiveDate,
    today: i32,
    writer: Writer,
    template: Option<ReportTemplate>,
    previous: Option<Reader>,
    sinks: Vec<SinkTrack>,
    /// Per delivery of the finding being observed.
    seen: Vec<Option<Seen>>,
}

impl std::fmt::Debug for Tracker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("date", &self.date)
            .field("previous", &self.previous.as_ref().map(|p| &p.name))
            .finish_non_exhaustive()
    }
}

impl<'r> Tracker<'r> {
    /// Reads `previous` (if any) into per-sink tables. `header` is this report's (its
    /// `previous` already set); its template is set from the first finding.
    pub fn new(
        rules: &'r Rules,
        header: Header,
        previous: Option<Reader>,
    ) -> Result<Tracker<'r>, StateError> {
        let mut t = Tracker::fresh(rules, header);
        if let Some(p) = previous {
            t.load(p)?;
        }
        Ok(t)
    }

    /// A tracker with no previous state: every finding is new.
    pub fn fresh(rules: &'r Rules, header: Header) -> Tracker<'r> {
        let date = header.date;
        let sinks: Vec<SinkTrack> = rules
            .sinks()
            .iter()
            .map(|s| SinkTrack {
                name: s.name.clone(),
                known_before: false,
                prev: PrevTable::default(),
                seen: FpSet::default(),
                tallies: Vec::new(),
                new: 0,
                ongoing: 0,
            })
            .collect();
        Tracker {
            rules,
            date,
            today: day(date),
            writer: Writer::new(header),
            template: None,
            previous: None,
            sinks,
            seen: Vec::new(),
        }
    }

    /// Reads the previous document into per-sink tables, in one pass: the trailer (which sinks
    /// were sent their digest, so which listings count) comes last, so an entry's listing is
    /// applied once it is read.
    fn load(&mut self, p: Reader) -> Result<(), StateError> {
        let by_name: HashMap<String, usize> = self
            .sinks
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let rules = self.rules;
        let rule_index: HashMap<&str, u32> = rules
            .rule_names()
            .iter()
            .enumerate()
            .filter(|(i, _)| rules.rule_sets_policy(*i))
            .filter_map(|(i, n)| Some((n.as_str(), u32::try_from(i).ok()?)))
            .collect();
        // Per sink, the entries its document listed (`listed`): dated once the trailer is read.
        let mut listed: Vec<Vec<usize>> = vec![Vec::new(); self.sinks.len()];
        let sinks = &mut self.sinks;
        let trailer = p.entries(|e| {
            let Some(&i) = by_name.get(e.sink) else {
                return;
            };
            if e.listed {
                listed[i].push(sinks[i].prev.entries.len());
            }
            sinks[i].prev.entries.push(PrevEntry {
                fp: e.identity.fingerprint(),
                first: day(e.first_seen),
                last: e.last_listed.map_or(NEVER, day),
                line: e.line,
                rule: rule_index.get(e.rule).copied().unwrap_or(NO_RULE),
            });
        })?;
        let date = p.header.date;
        for (s, listed) in sinks.iter_mut().zip(listed) {
            s.known_before = trailer.sinks.contains_key(&s.name);
            if trailer.listed_on(&s.name, date, None, true).is_some() {
                for i in listed {
                    s.prev.entries[i].last = day(date);
                }
            }
            s.prev.entries.sort_by_key(|e| e.fp);
            s.prev.entries.dedup_by_key(|e| e.fp);
            s.prev.entries.shrink_to_fit();
            // Most of them come back: size the set once.
            s.seen.reserve(s.prev.entries.len());
        }
        self.previous = Some(p);
        Ok(())
    }

    /// The date findings are dated by (the report's).
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// How `v` (routed as `routing` says) compares, per delivery (same order as
    /// `routing.deliveries`).
    pub fn observe(&mut self, v: &FindingView<'_>, routing: &Routing) -> &[Option<Seen>] {
        self.seen.clear();
        if routing.deliveries.is_empty() {
            return &self.seen;
        }
        if self.template.is_none() {
            self.template = Some(v.report);
            self.writer.set_template(v.report);
        }
        let id = Identity::of(v);
        let fp = id.fingerprint();
        for d in &routing.deliveries {
            let Some(sink) = self.sinks.get_mut(d.sink) else {
                self.seen.push(None);
                continue;
            };
            let own = self.rules.rule_sets_policy(d.rule).then_some(d.rule);
            let policy = self.rules.policy(d.sink, own);
            let prev = sink.prev.get(fp).copied();
            let (change, first, last) = match prev {
                Some(e) => (Change::Ongoing, e.first.min(self.today), e.last),
                None => (Change::New, self.today, NEVER),
            };
            let never_listed = last == NEVER;
            let due = change == Change::Ongoing
                && !never_listed
                && policy
                    .repeat_after
                    .is_some_and(|r| i64::from(self.today) - i64::from(last) >= i64::from(r));
            let listed =
                change == Change::New || never_listed || due || policy.notify == Notify::Always;
            let t = match sink.tallies.iter().position(|t| t.rule == own) {
                Some(t) => t,
                None => {
                    sink.tallies.push(Tally {
                        rule: own,
                        policy,
                        total: 0,
                        announce: 0,
                        due: 0,
                    });
                    sink.tallies.len() - 1
                }
            };
            let tally = &mut sink.tallies[t];
            tally.total += 1;
            tally.announce += u64::from(change == Change::New || never_listed);
            tally.due += u64::from(due);
            match change {
                Change::New => sink.new += 1,
                _ => sink.ongoing += 1,
            }
            let first_seen = NaiveDate::from_num_days_from_ce_opt(first).unwrap_or(self.date);
            if sink.seen.insert(fp) {
                let rule = self
                    .rules
                    .rule_names()
                    .get(d.rule)
                    .map_or("?", String::as_str);
                let last_listed = (!never_listed)
                    .then(|| NaiveDate::from_num_days_from_ce_opt(last))
                    .flatten();
                self.writer.entry(
                    &sink.name,
                    first_seen,
                    last_listed,
                    listed,
                    rule,
                    v.status,
                    &id,
                );
            }
            self.seen.push(Some(Seen {
                change,
                first_seen,
                days_open: u32::try_from(self.today - first).unwrap_or(0),
                listed,
            }));
        }
        &self.seen
    }

    /// See the module docs. `digests` are the report's, in sink order; `max_kept` bounds the
    /// resolved findings listed per digest; `template` and `source` make the digest of a sink
    /// that got no finding but has resolved ones.
    pub fn finish(
        mut self,
        digests: Vec<Digest>,
        template: Option<ReportTemplate>,
        source: &SourceInfo,
        max_kept: usize,
    ) -> Result<Finished, StateError> {
        // An empty report names no template: the previous report's stands in.
        let template = self
            .template
            .or(template)
            .or_else(|| self.previous.as_ref().map(|p| p.header.template))
            .unwrap_or(ReportTemplate::ResourceCompliance);
        self.writer.set_template(template);
        let resolved = self.resolved(template, max_kept)?;
        let since = self.previous.as_ref().map(|p| p.header.date);
        let mut by_sink: Vec<Option<Digest>> = self.sinks.iter().map(|_| None).collect();
        for d in digests {
            if let Some(i) = self.sinks.iter().position(|s| s.name == d.sink) {
                by_sink[i] = Some(d);
            }
        }
        let mut out = Vec::new();
        let mut quiet = Vec::new();
        let mut trailer = Trailer {
            end: true,
            ..Trailer::default()
        };
        for ((i, sink), (listed, resolved_total)) in self.sinks.iter().enumerate().zip(resolved) {
            let policy = self.rules.policy(i, None);
            let digest = by_sink[i].take();
            let total = digest.as_ref().map_or(0, |d| d.total);
            let triggered = sink.tallies.iter().any(|t| match t.policy.notify {
                Notify::Always => t.total >= t.policy.min_findings,
                Notify::Changes => t.announce >= t.policy.min_findings || t.due > 0,
            });
            let sent = (digest.is_some() && triggered) || resolved_total > 0;
            trailer.sinks.insert(
                sink.name.clone(),
                SinkSummary {
                    sent,
                    notify: policy.notify.as_str().to_owned(),
                    findings: total,
                    new: sink.new,
                    ongoing: sink.ongoing,
                    resolved: resolved_total,
                },
            );
            let since = since.filter(|_| sink.known_before);
            if !sent {
                if digest.is_some() {
                    quiet.push(Quiet {
                        sink: sink.name.clone(),
                        reason: quiet_reason(sink, since),
                    });
                }
                continue;
            }
            let mut d = digest.unwrap_or_else(|| {
                let mut d =
                    DigestBuilder::new(&sink.name, template, source.clone(), max_kept).finish();
                d.source = source.clone();
                d
            });
            d.set_previous(since, policy.notify.as_str(), listed, resolved_total);
            out.push(d);
        }
        let document = self.writer.finish(&trailer)?;
        Ok(Finished {
            digests: out,
            quiet,
            document,
            trailer,
            since,
        })
    }

    /// Per sink (in order): the resolved findings listed (at most `max_kept`) and how many
    /// there are — entries of the previous state a message listed, not routed to the sink
    /// now, whose rule (or sink) says `resolved = true`. Found in the tables; their names are
    /// read from the previous document's lines for those listed only.
    fn resolved(
        &self,
        template: ReportTemplate,
        max_kept: usize,
    ) -> Result<Vec<(Vec<Finding>, u64)>, StateError> {
        let mut out: Vec<(Vec<Finding>, u64)> =
            self.sinks.iter().map(|_| (Vec::new(), 0)).collect();
        let Some(prev) = &self.previous else {
            return Ok(out);
        };
        // (line, sink) of every resolved entry, in the document's order.
        let mut resolved: Vec<(u32, usize)> = Vec::new();
        for (i, s) in self.sinks.iter().enumerate() {
            for e in &s.prev.entries {
                let rule = (e.rule != NO_RULE).then_some(e.rule as usize);
                if e.last != NEVER && !s.seen.contains(&e.fp) && self.rules.policy(i, rule).resolved
                {
                    resolved.push((e.line, i));
                }
            }
        }
        resolved.sort_unstable();
        let mut wanted = Vec::new();
        for &(line, i) in &resolved {
            let (_, total) = &mut out[i];
            *total += 1;
            if *total <= max_kept as u64 {
                wanted.push(line);
            }
        }
        let by_name: HashMap<&str, usize> = self
            .sinks
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        prev.lines(&wanted, |e| {
            if let Some(&i) = by_name.get(e.sink) {
                out[i].0.push(self.resolved_finding(template, &e));
            }
        })?;
        Ok(out)
    }

    fn resolved_finding(
        &self,
        template: ReportTemplate,
        e: &super::document::Entry<'_>,
    ) -> Finding {
        let own = |s: Option<&str>| s.map(str::to_owned);
        let id = &e.identity;
        let mut f = Finding::new(template);
        f.framework = own(id.framework);
        f.control = own(id.control);
        f.status = own(e.status);
        f.account = own(id.account);
        f.region = own(id.region);
        f.environment = self.rules.environment_of(id.account).to_owned();
        f.resource_type = own(id.resource_type);
        f.resource = own(id.resource);
        f.change = Some(Change::Resolved);
        f.first_seen = Some(e.first_seen);
        f.days_open = u32::try_from(self.today - day(e.first_seen)).ok();
        f
    }
}

/// Why a sink's digest is not sent.
fn quiet_reason(sink: &SinkTrack, since: Option<NaiveDate>) -> String {
    let since = since.map_or_else(String::new, |d| format!(" since {d}"));
    let mut why = Vec::new();
    for t in &sink.tallies {
        let min = t.policy.min_findings;
        why.push(match t.policy.notify {
            Notify::Always => format!("{} (min_findings = {min})", plural(t.total, "finding")),
            Notify::Changes if t.announce == 0 => {
                format!("nothing new{since}: {} still open, none resolved", t.total)
            }
            Notify::Changes => format!("{} new (min_findings = {min}), none resolved", t.announce),
        });
    }
    why.sort();
    why.dedup();
    why.join("; ")
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
