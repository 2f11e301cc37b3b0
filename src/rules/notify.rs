//! When a sink is told, next to the previous report of the stream: `notify`, `repeat_after`,
//! `resolved`, `min_findings` — set per sink (`[sinks.NAME]`) and, overriding the sink, per
//! rule (`[[rules]]`) for the findings that rule routes. The state stage (`crate::state`)
//! applies them; `docs/state.md` describes them.

/// The largest `min_findings` (a report has at most a few million items).
pub const MAX_MIN_FINDINGS: u64 = 1_000_000_000;

/// The keys, in `[sinks.NAME]` and `[[rules]]` alike.
pub const POLICY_KEYS: [&str; 4] = ["notify", "repeat_after", "resolved", "min_findings"];

/// `notify`: what makes a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Notify {
    /// Every report's digest, with what is new, ongoing and resolved marked (the default).
    #[default]
    Always,
    /// Only what changed since the previous report: new findings, resolved ones, and ongoing
    /// ones again when `repeat_after` says so; nothing new and nothing resolved sends nothing.
    Changes,
}

impl Notify {
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::Always => "always",
            Notify::Changes => "changes",
        }
    }

    pub fn parse(s: &str) -> Option<Notify> {
        match s {
            "always" => Some(Notify::Always),
            "changes" => Some(Notify::Changes),
            _ => None,
        }
    }
}

/// What a sink (or a rule, for the findings it routes) is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    pub notify: Notify,
    /// With `changes`: list an ongoing finding again once it was last listed this many days
    /// ago; `None`: never (it stays counted).
    pub repeat_after: Option<u32>,
    /// Say which findings were fixed since the previous report (default true).
    pub resolved: bool,
    /// Send only when the digest has at least this many new findings (`changes`) or findings
    /// (`always`); resolved findings and findings due again send regardless. Default 1.
    pub min_findings: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            notify: Notify::Always,
            repeat_after: None,
            resolved: true,
            min_findings: 1,
        }
    }
}

/// The keys a table sets; the others come from the sink (for a rule) or the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyOverride {
    pub notify: Option<Notify>,
    pub repeat_after: Option<u32>,
    pub resolved: Option<bool>,
    pub min_findings: Option<u64>,
}

impl PolicyOverride {
    pub fn is_empty(&self) -> bool {
        *self == PolicyOverride::default()
    }

    /// `base` with the keys this table sets.
    pub fn over(&self, base: Policy) -> Policy {
        Policy {
            notify: self.notify.unwrap_or(base.notify),
            repeat_after: self.repeat_after.or(base.repeat_after),
            resolved: self.resolved.unwrap_or(base.resolved),
            min_findings: self.min_findings.unwrap_or(base.min_findings),
        }
    }
}

/// `repeat_after`: a whole number of days or weeks, `"7d"`, `"2w"` (reports are daily; a
/// finding's dates are days). At least one day.
pub fn parse_days(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u32 = number.parse().map_err(|_| {
        format!("expected a number of days or weeks like \"7d\" or \"2w\", found {s:?}")
    })?;
    let days = match unit.trim() {
        "d" | "day" | "days" => Some(n),
        "w" | "week" | "weeks" => n.checked_mul(7),
        _ => {
            return Err(format!(
                "expected a number of days or weeks like \"7d\" or \"2w\", found {s:?} (reports come daily: hours are not a unit here)"
            ));
        }
    };
    match days {
        Some(0) => Err("must be at least one day (\"1d\")".into()),
        Some(d) if d <= 3650 => Ok(d),
        _ => Err(format!("{s:?} is more than ten years")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_weeks() {
        assert_eq!(parse_days("7d"), Ok(7));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("1 day"), Ok(1));
        assert!(parse_days("0d").unwrap_err().contains("at least one day"));
        assert!(parse_days("12h").unwrap_err().contains("hours"));
        assert!(parse_days("soon").unwrap_err().contains("\"7d\""));
        assert!(parse_days("99999w").is_err());
    }

    #[test]
    fn a_rule_overrides_only_what_it_sets() {
        let sink = PolicyOverride {
            notify: Some(Notify::Changes),
            repeat_after: Some(7),
            ..PolicyOverride::default()
        }
        .over(Policy::default());
        let rule = PolicyOverride {
            min_findings: Some(3),
            ..PolicyOverride::default()
        };
        let p = rule.over(sink);
        assert_eq!(
            p,
            Policy {
                notify: Notify::Changes,
                repeat_after: Some(7),
                resolved: true,
                min_findings: 3
            }
        );
        assert!(PolicyOverride::default().is_empty());
    }
}
