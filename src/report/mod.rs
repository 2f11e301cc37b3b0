//! Report readers: one streaming pass over a report's bytes (JSON or CSV, optionally gzip),
//! one [`Finding`] per item.

use crate::{Finding, ReportTemplate};
use std::io::Read;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

/// What a reader learnt about a report once it has read it all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportInfo {
    /// `None` only for a report with no items and no usable name hint.
    pub template: Option<ReportTemplate>,
    pub format: Format,
    pub gzip: bool,
    pub items: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: read error: {error}")]
    Io {
        source_name: String,
        error: std::io::Error,
    },
}

/// The template named by a report object's file name
/// (`<TEMPLATE>_<plan>_<start>_<end>.csv`), if any.
pub fn template_from_file_name(name: &str) -> Option<ReportTemplate> {
    let _ = name;
    unimplemented!("template_from_file_name")
}

/// Reads a report, calling `each` for every item in order. `source_name` names the report in
/// errors; `hint` is the template from the object's file name, if any.
pub fn read_report<R: Read>(
    input: R,
    source_name: &str,
    hint: Option<ReportTemplate>,
    each: &mut dyn FnMut(Finding),
) -> Result<ReportInfo, ReportError> {
    let _ = (input, source_name, hint, each);
    unimplemented!("read_report")
}
