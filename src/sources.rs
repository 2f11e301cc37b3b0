//! What a CLI run was asked to read: report files and `s3://` URIs, and the reports a Lambda
//! event file names ([`crate::event`]). A source that cannot be read as a location is an error of
//! its own (the others are still run); an event file that is not an event fails the run.

use std::path::Path;

use crate::event::{self, EventError, ParsedEvent};
use crate::location::ReportLocation;
use crate::run::{Batch, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error("nothing to read: give report files or s3:// URIs, or --event FILE")]
    Nothing,
    #[error("reading event file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("event file {path}: {source}")]
    Event {
        path: String,
        #[source]
        source: EventError,
    },
}

/// Whether any location is in S3 (the run then needs AWS clients).
pub fn any_s3(locations: &[ReportLocation]) -> bool {
    locations
        .iter()
        .any(|l| matches!(l, ReportLocation::S3 { .. }))
}

/// The locations to run, in order (a report named twice is run once); skipped event records and
/// unreadable sources go into `batch`.
pub fn collect(
    sources: &[String],
    event_file: Option<&Path>,
    batch: &mut Batch,
) -> Result<Vec<ReportLocation>, SourcesError> {
    if sources.is_empty() && event_file.is_none() {
        return Err(SourcesError::Nothing);
    }
    let mut locations = Vec::new();
    for s in sources {
        match ReportLocation::parse(s) {
            Ok(loc) => locations.push(loc),
            Err(e) => batch.errors.push(SourceError {
                source: s.clone(),
                error: e.to_string(),
            }),
        }
    }
    if let Some(path) = event_file {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| SourcesError::Read {
            path: name.clone(),
            source,
        })?;
        let event_err = |source| SourcesError::Event {
            path: name.clone(),
            source,
        };
        let value = event::event_value(&bytes).map_err(event_err)?;
        match event::parse_event_file(&value) {
            ParsedEvent::Single(found) => {
                let found = found.map_err(event_err)?;
                locations.extend(found.locations);
                batch.skipped.extend(found.skipped);
            }
            // An SQS batch, or `aws sqs receive-message` output (e.g. messages taken from the
            // on-failure queue): an unreadable message is an error of its own; the others are
            // still processed.
            ParsedEvent::SqsBatch(messages) => {
                for m in messages {
                    let source = format!(
                        "event file {name} {} (SQS message {})",
                        m.path, m.message_id
                    );
                    match m.result {
                        Ok(found) => {
                            batch.skipped.extend(found.skipped);
                            for loc in found.locations {
                                if locations.contains(&loc) {
                                    batch.skipped.push(format!(
                                        "{source}: {loc} is a duplicate of an earlier message"
                                    ));
                                } else {
                                    locations.push(loc);
                                }
                            }
                        }
                        Err(e) => batch.errors.push(SourceError {
                            error: format!("{source}: {e}"),
                            source,
                        }),
                    }
                }
            }
        }
    }
    Ok(locations)
}
