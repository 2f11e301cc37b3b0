//! Which reports follow one another: a report's *stream* and its time in it.
//!
//! Audit Manager writes a report plan's reports under keys like
//! `reports/Backup/111111111111/us-east-1/2026/11/26/daily_plan/RESOURCE_COMPLIANCE_REPORT_daily_plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.csv`:
//! the same key every day but for the date segments (`yyyy/mm/dd`) and the report period's
//! `<start>_<end>` timestamps. The stream is the bucket and the key with those removed; the
//! report's time in the stream is the period's end (the last timestamp of the file name), else
//! the date segments (midnight UTC), else the object's last-modified time. `docs/state.md` has
//! the rule with real key shapes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::location::ReportLocation;

/// A stream of reports: `s3://<bucket>/<key without dates and timestamps>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stream {
    pub bucket: String,
    /// The report key with its date segments and timestamps removed.
    pub key: String,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Where a report's time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSource {
    /// The report period's end in the file name.
    FileName,
    /// The `yyyy/mm/dd` segments of the key (midnight UTC).
    DateSegments,
    /// The object's (or file's) last-modified time.
    LastModified,
}

/// A report's place in its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportTime {
    pub at: DateTime<Utc>,
    pub source: TimeSource,
}

impl ReportTime {
    /// The report's date (UTC): what `first_seen`, `since` and `days_open` count in.
    pub fn date(&self) -> NaiveDate {
        self.at.date_naive()
    }

    /// `20261126T000000Z`: sorts as the times do (state object names).
    pub fn compact(&self) -> String {
        self.at.format("%Y%m%dT%H%M%SZ").to_string()
    }
}

/// The parts of a key: its stream key and the times found in it.
struct Parsed {
    stream_key: String,
    /// The last timestamp of the file name.
    name_time: Option<DateTime<Utc>>,
    /// The last `yyyy/mm/dd` run of segments.
    date: Option<NaiveDate>,
}

fn parse_key(key: &str) -> Parsed {
    let segments: Vec<&str> = key.split('/').collect();
    let (dirs, file) = segments.split_at(segments.len().saturating_sub(1));
    let mut kept: Vec<&str> = Vec::with_capacity(dirs.len() + 1);
    let mut date = None;
    let mut i = 0;
    while i < dirs.len() {
        if let Some(d) = date_segments(&dirs[i..]) {
            date = Some(d);
            i += 3;
        } else {
            kept.push(dirs[i]);
            i += 1;
        }
    }
    let (name, name_time) = match file.first() {
        Some(f) => strip_timestamps(f),
        None => (String::new(), None),
    };
    let mut stream_key = kept.join("/");
    if !kept.is_empty() {
        stream_key.push('/');
    }
    stream_key.push_str(&name);
    Parsed {
        stream_key,
        name_time,
        date,
    }
}

/// `yyyy`, `mm`, `dd` as the first three of `segs`, when they make a date.
fn date_segments(segs: &[&str]) -> Option<NaiveDate> {
    let [y, m, d, ..] = segs else { return None };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The file name without its `_<timestamp>` tokens, and the last timestamp. A token is a
/// timestamp when it parses as one whole (ISO 8601, extended or basic, date or date-time, `Z`
/// or an offset); the last token may carry the extension (`…Z.csv`).
fn strip_timestamps(name: &str) -> (String, Option<DateTime<Utc>>) {
    let mut out = String::with_capacity(name.len());
    let mut last = None;
    let tokens: Vec<&str> = name.split('_').collect();
    let count = tokens.len();
    for (i, token) in tokens.into_iter().enumerate() {
        let (stamp, rest) = if i + 1 == count {
            split_extension(token)
        } else {
            (token, "")
        };
        if i > 0
            && let Some(t) = timestamp(stamp)
        {
            last = Some(t);
            out.push_str(rest);
            continue;
        }
        if i > 0 {
            out.push('_');
        }
        out.push_str(token);
    }
    (out, last)
}

/// A last token `2026-11-26T00:00:00Z.csv.gz` as (`2026-11-26T00:00:00Z`, `.csv.gz`): the
/// extension starts at the first `.` followed by a letter.
fn split_extension(token: &str) -> (&str, &str) {
    let bytes = token.as_bytes();
    let at = (0..bytes.len())
        .find(|&i| bytes[i] == b'.' && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic()));
    match at {
        Some(i) => (&token[..i], &token[i..]),
        None => (token, ""),
    }
}

/// An ISO 8601 timestamp or date, as UTC.
fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    if !s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y%m%dT%H%M%SZ",
        "%Y%m%dT%H%M%S%.fZ",
        "%Y-%m-%dT%H%M%SZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    for fmt in ["%Y%m%dT%H%M%S%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%d", "%Y%m%d"] {
        if s.len() == if fmt == "%Y%m%d" { 8 } else { 10 }
            && let Ok(d) = NaiveDate::parse_from_str(s, fmt)
        {
            return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// The stream of an S3 report; `None` for a local file (a local run names its previous report
/// explicitly: `dry-run --previous`).
pub fn stream_of(location: &ReportLocation) -> Option<Stream> {
    match location {
        ReportLocation::S3 { bucket, key } => Some(Stream {
            bucket: bucket.clone(),
            key: parse_key(key).stream_key,
        }),
        ReportLocation::Local(_) => None,
    }
}

/// The report's time in its stream: the period end in its file name, else its date segments,
/// else `last_modified`.
pub fn report_time(
    location: &ReportLocation,
    last_modified: Option<DateTime<Utc>>,
) -> Option<ReportTime> {
    let key = match location {
        ReportLocation::S3 { key, .. } => key.clone(),
        ReportLocation::Local(path) => path.to_string_lossy().replace('\\', "/"),
    };
    let parsed = parse_key(&key);
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    if let Some(at) = parsed.name_time {
        return Some(ReportTime {
            at,
            source: TimeSource::FileName,
        });
    }
    if let Some(at) = parsed.date.and_then(midnight) {
        return Some(ReportTime {
            at,
            source: TimeSource::DateSegments,
        });
    }
    last_modified.map(|at| ReportTime {
        at,
        source: TimeSource::LastModified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(key: &str) -> ReportLocation {
        ReportLocation::S3 {
            bucket: "reports".into(),
            key: key.into(),
        }
    }

    #[test]
    fn daily_keys_of_one_plan_share_a_stream() {
        let day = |d: &str, start: &str, end: &str| {
            s3(&format!(
                "audit/Backup/111111111111/us-east-1/2026/11/{d}/daily_plan/RESOURCE_COMPLIANCE_REPORT_daily_plan_{start}_{end}.csv"
            ))
        };
        let a = day("26", "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z");
        let b = day("27", "2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z");
        let sa = stream_of(&a).unwrap();
        assert_eq!(sa, stream_of(&b).unwrap());
        assert_eq!(
            sa.to_string(),
            "s3://reports/audit/Backup/111111111111/us-east-1/daily_plan/RESOURCE_COMPLIANCE_REPORT_daily_plan.csv"
        );
        let t = report_time(&a, None).unwrap();
        assert_eq!(t.source, TimeSource::FileName);
        assert_eq!(t.compact(), "20261126T000000Z");
        assert_eq!(t.date(), NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
        assert!(report_time(&b, None).unwrap().at > t.at);
    }

    #[test]
    fn formats_templates_scopes_and_plans_are_streams_of_their_own() {
        let base = "Backup/111111111111/us-east-1/2026/11/26/p/RESOURCE_COMPLIANCE_REPORT_p_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z";
        let json = stream_of(&s3(&format!("{base}.json"))).unwrap();
        let csv = stream_of(&s3(&format!("{base}.csv"))).unwrap();
        assert_ne!(json, csv);
        let other_region = stream_of(&s3(&base.replace("us-east-1", "eu-west-1"))).unwrap();
        assert_ne!(stream_of(&s3(base)).unwrap(), other_region);
        // Organisation reports: `crossaccount` / `crossregion` stand for the account / region.
        let org = stream_of(&s3(
            "Backup/crossaccount/crossregion/2026/11/26/org_plan/BACKUP_JOB_REPORT_org_plan_2026-11-25T00:00:00Z_2026-11-26T00:00:00Z.csv",
        ))
        .unwrap();
        assert_eq!(
            org.key,
            "Backup/crossaccount/crossregion/org_plan/BACKUP_JOB_REPORT_org_plan.csv"
        );
    }

    #[test]
    fn other_timestamp_shapes_and_keys_without_dates() {
        // Basic ISO 8601 with fractional seconds, gzip extension.
        let k = "x/BACKUP_JOB_REPORT_plan_20261125T000000Z_20261126T013000.123Z.csv.gz";
        let p = parse_key(k);
        assert_eq!(p.stream_key, "x/BACKUP_JOB_REPORT_plan.csv.gz");
        assert_eq!(
            p.name_time.unwrap().to_rfc3339(),
            "2026-11-26T01:30:00.123+00:00"
        );
        let k = "x/BACKUP_JOB_REPORT_plan_20261125T000000Z_20261126T013000Z.csv.gz";
        let p = parse_key(k);
        assert_eq!(p.stream_key, "x/BACKUP_JOB_REPORT_plan.csv.gz");
        assert_eq!(
            p.name_time.unwrap().to_rfc3339(),
            "2026-11-26T01:30:00+00:00"
        );
        let k = "x/BACKUP_JOB_REPORT_plan_2026-11-25T00:00:00.000Z_2026-11-26T00:00:00.000Z.json";
        assert_eq!(parse_key(k).stream_key, "x/BACKUP_JOB_REPORT_plan.json");
        // Dates only in the path: the time is their midnight.
        let loc = s3("plain/2026/12/01/report.csv");
        assert_eq!(stream_of(&loc).unwrap().key, "plain/report.csv");
        let t = report_time(&loc, None).unwrap();
        assert_eq!(
            (t.source, t.compact().as_str()),
            (TimeSource::DateSegments, "20261201T000000Z")
        );
        // Nothing in the key: the object's last-modified time, if known.
        let loc = s3("flat/report.csv");
        assert_eq!(stream_of(&loc).unwrap().key, "flat/report.csv");
        assert!(report_time(&loc, None).is_none());
        let lm = Utc.with_ymd_and_hms(2026, 12, 2, 3, 4, 5).unwrap();
        assert_eq!(
            report_time(&loc, Some(lm)).unwrap().source,
            TimeSource::LastModified
        );
        // Digits that are not a date stay (a plan named 2026, an account id).
        let p = parse_key("Backup/2026/us-east-1/r_2026_x.csv");
        assert_eq!(p.stream_key, "Backup/2026/us-east-1/r_2026_x.csv");
        assert!(p.date.is_none() && p.name_time.is_none());
        // An invalid date (month 13) is not a date segment.
        assert!(parse_key("a/2026/13/01/r.csv").date.is_none());
        // The template's own first token never counts, even if it looked like a date.
        assert_eq!(parse_key("20261126_r.csv").stream_key, "20261126_r.csv");
    }

    #[test]
    fn local_files_have_no_stream_but_a_time_from_their_name() {
        let loc = ReportLocation::Local(
            "reports/BACKUP_JOB_REPORT_p_2026-11-29T00:00:00Z_2026-11-30T00:00:00Z.csv".into(),
        );
        assert!(stream_of(&loc).is_none());
        assert_eq!(
            report_time(&loc, None).unwrap().compact(),
            "20261130T000000Z"
        );
    }
}
