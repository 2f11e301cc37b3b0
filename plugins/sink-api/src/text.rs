//! Size and limit helpers shared by sinks: UTF-8-safe truncation, "…and N more", ASCII-safe
//! one-line subjects, and fitting a digest into a size budget.

use crate::digest::Digest;

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` characters, ending in `…` when cut (the `…` counts).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The closest of `candidates` to `word` when it is close enough to be a typo (edit distance at
/// most 2, or a quarter of the candidate's length), for "did you mean" hints.
pub fn suggest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `…and 12 more resources` (`noun` already in the right number).
pub fn and_more(n: u64, noun: &str) -> String {
    format!("…and {n} more {noun}")
}

/// A one-line, printable-ASCII subject of fewer than `max_chars` + 1 characters: line breaks and
/// control characters become spaces, runs of spaces collapse, common typography is transliterated
/// (`…` → `...`, dashes → `-`, quotes → `'`/`"`), other non-ASCII becomes `?`; cut with `...`.
pub fn ascii_subject(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars + 8));
    let mut last_space = true;
    for c in s.chars() {
        let rep: &str = match c {
            '…' => "...",
            '–' | '—' | '‒' | '−' => "-",
            '‘' | '’' | '‚' | '′' => "'",
            '“' | '”' | '„' | '″' => "\"",
            '→' => "->",
            '·' | '•' => "-",
            c if c.is_whitespace() || c.is_control() => " ",
            c if c.is_ascii() => {
                out.push(c);
                last_space = false;
                continue;
            }
            _ => "?",
        };
        if rep == " " {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push_str(rep);
            last_space = false;
        }
    }
    let trimmed = out.trim();
    if trimmed.len() <= max_chars {
        return trimmed.to_string();
    }
    let cut = max_chars.saturating_sub(3);
    format!("{}...", trimmed[..cut].trim_end())
}

impl Digest {
    /// How many findings the digest lists (kept), across groups, and then the resolved
    /// findings it lists (with state).
    pub fn kept(&self) -> usize {
        self.groups.iter().map(|g| g.findings.len()).sum::<usize>() + self.resolved_listed()
    }

    fn resolved_listed(&self) -> usize {
        self.changes
            .as_ref()
            .map_or(0, |c| c.resolved_findings.len())
    }

    /// A copy listing only the first `keep` kept findings (in group order, then the resolved
    /// ones); the rest are counted in `omitted` (per group and overall) or `resolved_omitted`,
    /// so templates say "…and N more". Groups stay, even with no finding listed: every control
    /// is still named.
    pub fn limited(&self, keep: usize) -> Digest {
        let mut d = self.clone();
        let mut left = keep;
        let mut dropped = 0u64;
        for g in &mut d.groups {
            if g.findings.len() > left {
                let cut = (g.findings.len() - left) as u64;
                g.findings.truncate(left);
                g.omitted += cut;
                dropped += cut;
            }
            left -= g.findings.len();
        }
        d.omitted += dropped;
        if let Some(c) = &mut d.changes
            && c.resolved_findings.len() > left
        {
            c.resolved_omitted += (c.resolved_findings.len() - left) as u64;
            c.resolved_findings.truncate(left);
        }
        d
    }

    /// A copy with every group and count but no finding listed (and none counted as omitted
    /// for it): data for a template that names counts only, without the findings' cost.
    pub fn without_listed(&self) -> Digest {
        let mut d = self.empty_like();
        d.groups = self.groups.iter().map(group_without_findings).collect();
        d
    }

    /// Splits the listed findings into digests of at most `per_part` findings each (groups
    /// follow their findings; a group whose findings span parts appears in each). Counts
    /// (`total`, group `count`) stay those of the whole digest; `omitted` stays on the last part.
    pub fn chunks(&self, per_part: usize) -> Vec<Digest> {
        let per_part = per_part.max(1);
        let mut parts: Vec<Digest> = Vec::new();
        let mut current = self.empty_like();
        let mut in_current = 0usize;
        for g in &self.groups {
            let mut rest: &[crate::Finding] = &g.findings;
            if rest.is_empty() {
                current.groups.push(group_without_findings(g));
                continue;
            }
            while !rest.is_empty() {
                if in_current == per_part {
                    parts.push(std::mem::replace(&mut current, self.empty_like()));
                    in_current = 0;
                }
                let n = (per_part - in_current).min(rest.len());
                let mut pg = group_without_findings(g);
                pg.findings = rest[..n].to_vec();
                pg.omitted = if n == rest.len() { g.omitted } else { 0 };
                current.groups.push(pg);
                in_current += n;
                rest = &rest[n..];
            }
        }
        if let Some(c) = &self.changes {
            for chunk in c.resolved_findings.chunks(per_part) {
                let mut rest: &[crate::Finding] = chunk;
                while !rest.is_empty() {
                    if in_current == per_part {
                        parts.push(std::mem::replace(&mut current, self.empty_like()));
                        in_current = 0;
                    }
                    let n = (per_part - in_current).min(rest.len());
                    if let Some(pc) = &mut current.changes {
                        pc.resolved_findings.extend_from_slice(&rest[..n]);
                    }
                    in_current += n;
                    rest = &rest[n..];
                }
            }
        }
        parts.push(current);
        let last = parts.len() - 1;
        for (i, p) in parts.iter_mut().enumerate() {
            p.omitted = if i == last { self.omitted } else { 0 };
            if let Some(pc) = &mut p.changes {
                pc.resolved_omitted = match &self.changes {
                    Some(c) if i == last => c.resolved_omitted,
                    _ => 0,
                };
            }
        }
        parts
    }

    /// A copy of everything but the groups (cloning the groups only to drop them would make
    /// splitting quadratic in the findings).
    fn empty_like(&self) -> Digest {
        Digest {
            sink: self.sink.clone(),
            report: self.report,
            report_title: self.report_title,
            is_job_report: self.is_job_report,
            source: self.source.clone(),
            total: self.total,
            omitted: self.omitted,
            environments: self.environments.clone(),
            accounts: self.accounts.clone(),
            regions: self.regions.clone(),
            rules: self.rules.clone(),
            groups: Vec::new(),
            changes: self.changes.as_ref().map(crate::Changes::clone_counts),
        }
    }
}

/// A copy of a group's keys and counts, without its findings.
fn group_without_findings(g: &crate::Group) -> crate::Group {
    crate::Group {
        framework: g.framework.clone(),
        control: g.control.clone(),
        status: g.status.clone(),
        count: g.count,
        omitted: g.omitted,
        accounts: g.accounts.clone(),
        regions: g.regions.clone(),
        findings: Vec::new(),
        new: g.new,
        ongoing: g.ongoing,
        resolved: g.resolved,
    }
}

/// Renders `digest` listing as many findings as fit: tries the whole digest, then binary-searches
/// the largest `keep` for which `fits(render(digest.limited(keep)))`. Returns the rendering and
/// how many findings it lists; `Err(last rendering)` when even `keep = 0` does not fit.
pub fn fit_digest<T, E>(
    digest: &Digest,
    mut render: impl FnMut(&Digest) -> Result<T, E>,
    mut fits: impl FnMut(&T) -> bool,
) -> Result<Result<(T, usize), T>, E> {
    let all = digest.kept();
    let full = render(digest)?;
    if fits(&full) {
        return Ok(Ok((full, all)));
    }
    let first = render(&digest.limited(0))?;
    if !fits(&first) {
        return Ok(Err(first));
    }
    // Invariant: keep = lo fits, keep = hi does not.
    let (mut lo, mut hi) = (0usize, all);
    let mut best = first;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let r = render(&digest.limited(mid))?;
        if fits(&r) {
            lo = mid;
            best = r;
        } else {
            hi = mid;
        }
    }
    Ok(Ok((best, lo)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReportTemplate;
    use crate::samples::sample_digest;

    #[test]
    fn truncation_is_utf8_safe() {
        assert_eq!(truncate_bytes("aé", 2), "a");
        assert_eq!(truncate_bytes("abc", 5), "abc");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(and_more(3, "resources"), "…and 3 more resources");
    }

    #[test]
    fn subjects_are_one_ascii_line() {
        let s = ascii_subject("Résumé —\r\nline two…\t\u{7}end", 99);
        assert_eq!(s, "R?sum? - line two... end");
        let long = "x".repeat(150);
        let s = ascii_subject(&long, 99);
        assert_eq!(s.len(), 99);
        assert!(s.ends_with("..."));
    }

    #[test]
    fn limited_and_chunks_keep_counts() {
        let d = sample_digest(ReportTemplate::ResourceCompliance, "s");
        let kept = d.kept();
        assert!(kept >= 3);
        let l = d.limited(1);
        assert_eq!(l.kept(), 1);
        assert_eq!(l.omitted, d.omitted + (kept as u64 - 1));
        assert_eq!(l.groups.len(), d.groups.len());
        let per_group: u64 = l.groups.iter().map(|g| g.omitted).sum();
        assert_eq!(per_group, l.omitted);
        let parts = d.chunks(2);
        assert_eq!(parts.iter().map(Digest::kept).sum::<usize>(), kept);
        assert!(parts.iter().all(|p| p.kept() <= 2));
    }

    #[test]
    fn fit_digest_finds_the_largest_fit() {
        let d = sample_digest(ReportTemplate::ResourceCompliance, "s");
        let r = fit_digest(&d, |d| Ok::<_, ()>(d.kept()), |k| *k <= 2)
            .unwrap()
            .unwrap();
        assert_eq!(r, (2, 2));
    }
}
