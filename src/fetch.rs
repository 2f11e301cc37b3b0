//! Opens a report location as a synchronous byte stream (placeholder until the fetch stage lands).

use crate::location::ReportLocation;

pub struct Opened {
    pub reader: Box<dyn std::io::Read + Send>,
    pub size: Option<u64>,
    pub etag: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct FetchError {
    pub location: String,
    pub message: String,
}

pub async fn s3_client() -> aws_sdk_s3::Client {
    unimplemented!()
}

pub async fn open(
    loc: &ReportLocation,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<Opened, FetchError> {
    let _ = (loc, s3);
    unimplemented!()
}
