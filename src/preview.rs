//! `dry-run --out DIR`: every rendered payload written to a file per sink and message, for
//! snapshot tests. (The preview links `dry-run` prints under messages come from each sink type's
//! factory, `SinkFactory::preview`: Slack's Block Kit Builder.)

use crate::deliver::Outcome;
use std::path::{Path, PathBuf};

/// Writing `--out DIR` failed.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("--out {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--out: sink name {sink:?} cannot be a directory name (it contains `/`, `\\`, a control \
         character, or is `.`/`..`); rename the sink to write its payloads"
    )]
    SinkName { sink: String },
}

/// The files one `--out` run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub files: Vec<PathBuf>,
}

/// Whether `name` can be a directory name as is.
fn safe_dir_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// A file name `--out` writes: `<n>.json`, `<n>.txt`, `<n>.subject.txt`.
fn is_payload_file(name: &str) -> bool {
    let stem = name
        .strip_suffix(".subject.txt")
        .or_else(|| name.strip_suffix(".json"))
        .or_else(|| name.strip_suffix(".txt"));
    stem.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The file extension for a payload's content type.
fn extension(content_type: &str) -> &'static str {
    if content_type.to_ascii_lowercase().contains("json") {
        "json"
    } else {
        "txt"
    }
}

/// [`write_payloads`] of every delivery of a dry run, for the sinks `rules` declares.
pub fn write_batch(
    dir: &Path,
    rules: &crate::rules::Rules,
    batch: &crate::run::Batch,
) -> Result<Written, PreviewError> {
    let sinks: Vec<String> = rules.sinks().iter().map(|s| s.name.clone()).collect();
    let outcomes: Vec<Outcome> = batch
        .results
        .iter()
        .flat_map(|p| p.outcomes.iter().cloned())
        .collect();
    write_payloads(dir, &sinks, &outcomes)
}

/// `dry-run --out DIR`: writes every rendered payload to `DIR/<sink>/<n>.json` (JSON bodies)
/// or `DIR/<sink>/<n>.txt` (anything else), `n` counting a sink's messages from 1 across the
/// sources in order; a subject (SNS) goes beside its body in `<n>.subject.txt`. Files are the
/// exact payload bytes. Before writing, the payload files of an earlier run (`<digits>.json`,
/// `.txt`, `.subject.txt`) are removed from the directory of every sink in `sinks`, so the
/// directory holds this run's messages only; other files are left alone.
pub fn write_payloads(
    dir: &Path,
    sinks: &[String],
    outcomes: &[Outcome],
) -> Result<Written, PreviewError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PreviewError::Io { path, source }
    };
    for s in sinks.iter().chain(outcomes.iter().map(|o| &o.sink)) {
        if !safe_dir_name(s) {
            return Err(PreviewError::SinkName { sink: s.clone() });
        }
    }
    for s in sinks {
        let sink_dir = dir.join(s);
        let entries = match std::fs::read_dir(&sink_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&sink_dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&sink_dir))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(is_payload_file)
                && entry.file_type().map_err(io(&entry.path()))?.is_file()
            {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
    }
    let mut written = Written::default();
    let mut counters: Vec<(String, usize)> = Vec::new();
    for o in outcomes {
        if o.messages.is_empty() {
            continue;
        }
        let sink_dir = dir.join(&o.sink);
        std::fs::create_dir_all(&sink_dir).map_err(io(&sink_dir))?;
        for m in &o.messages {
            let n = match counters.iter_mut().find(|(s, _)| *s == o.sink) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counters.push((o.sink.clone(), 1));
                    1
                }
            };
            let path = sink_dir.join(format!("{n}.{}", extension(&m.content_type)));
            std::fs::write(&path, &m.body).map_err(io(&path))?;
            written.files.push(path);
            if let Some(subject) = &m.subject {
                let path = sink_dir.join(format!("{n}.subject.txt"));
                std::fs::write(&path, subject).map_err(io(&path))?;
                written.files.push(path);
            }
        }
    }
    Ok(written)
}

/// `AUDIT_ROUTER_NOW`: the "now" templates render with (`generated_at`), for dry runs whose
/// payloads must not change from run to run (snapshots). RFC 3339 (`2026-12-01T06:00:00Z`) or
/// a date (midnight UTC); unset or empty: the real time.
pub fn render_time_from_env() -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    let Ok(s) = std::env::var("AUDIT_ROUTER_NOW") else {
        return Ok(None);
    };
    if s.is_empty() {
        return Ok(None);
    }
    parse_render_time(&s).map(Some).ok_or_else(|| {
        format!("AUDIT_ROUTER_NOW={s:?}: expected RFC 3339 (2026-12-01T06:00:00Z) or YYYY-MM-DD")
    })
}

fn parse_render_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_file_names() {
        for ok in ["1.json", "12.txt", "3.subject.txt"] {
            assert!(is_payload_file(ok), "{ok}");
        }
        for no in [
            "README.md",
            "a.json",
            ".json",
            "1.subject.json",
            "1.txt.bak",
        ] {
            assert!(!is_payload_file(no), "{no}");
        }
        assert!(!safe_dir_name("../x") && !safe_dir_name("..") && safe_dir_name("ops-email"));
    }

    #[test]
    fn render_times() {
        assert_eq!(
            parse_render_time("2026-12-01").unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_render_time("2026-12-01T06:30:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-12-01T04:30:00+00:00"
        );
        assert!(parse_render_time("tomorrow").is_none());
    }
}
