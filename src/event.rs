//! Turns a Lambda event (S3 notification, EventBridge, SQS/SNS wrapped, direct) into report
//! locations.

use crate::location::ReportLocation;

/// What an event asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventLocations {
    /// Reports to process, in event order, duplicates removed.
    pub locations: Vec<ReportLocation>,
    /// Records acknowledged and skipped, each with why (`s3:TestEvent`, a non-create event, …).
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unrecognized event shape: {0}")]
    Shape(String),
}

/// Parses an event's JSON bytes.
pub fn locations_from_event(bytes: &[u8]) -> Result<EventLocations, EventError> {
    let _ = bytes;
    unimplemented!("event parsing")
}
