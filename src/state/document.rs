//! The state document of one report (format version [`STATE_VERSION`]): gzip-compressed JSON
//! lines, written once per report and read by the next report of its stream.
//!
//! ```text
//! {"audit_router_state":1,"report":"s3://…","template":"RESOURCE_COMPLIANCE_REPORT","date":"2026-11-26",…}
//! ["backup-slack","2026-11-20","2026-11-25",true,"prod non-compliance","NON_COMPLIANT","fw","ctl","111111111111","us-east-1","AWS::EC2::Instance","i-0abc…"]
//! …one line per sink and finding identity…
//! {"end":true,"sinks":{"backup-slack":{"sent":true,"notify":"changes","findings":43,"new":3,"ongoing":40,"resolved":5}}}
//! ```
//!
//! An entry is `[sink, first_seen, last_listed, listed, rule, status, framework, control,
//! account, region, resource_type, resource]`: `last_listed` is the date a message last listed
//! the finding *before* this report, and `listed` says whether this report's digest lists it —
//! so the finding was listed on this report's date if `listed` and the trailer says the sink's
//! digest was `sent` (decided only after the whole report is read, which lets the entries be
//! written as the report streams by). The trailer ends a complete document; one without it was
//! cut short. Its JSON shape is an interface (operators read it; `docs/state.md`): fields are
//! added, never renamed.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::StateError;
use super::identity::Identity;
use crate::ReportTemplate;

/// The format this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub audit_router_state: u32,
    /// `s3://bucket/key` (or the path) of the report.
    pub report: String,
    #[serde(default)]
    pub report_etag: Option<String>,
    pub template: ReportTemplate,
    /// The report's time in its stream (RFC 3339) and date.
    pub report_time: String,
    pub date: NaiveDate,
    /// The stream (`docs/state.md`); `None` for a local report.
    #[serde(default)]
    pub stream: Option<String>,
    /// The state this report was compared with; `None`: the stream's first report (as far as
    /// the state shows).
    #[serde(default)]
    pub previous: Option<PreviousRef>,
    pub created_at: String,
}

/// Where the previous state came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousRef {
    pub report: String,
    pub date: NaiveDate,
    /// The previous state object (`s3://…`), or how it was made (`dry-run --previous`).
    pub state: String,
}

/// The last line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub end: bool,
    /// Every declared sink, whether it got findings or not (a sink missing here was declared
    /// after this report: its findings are new to it next time).
    pub sinks: BTreeMap<String, SinkSummary>,
}

/// One sink in the trailer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkSummary {
    /// Whether the sink's digest was sent (not skipped by `notify`/`min_findings`).
    pub sent: bool,
    pub notify: String,
    pub findings: u64,
    pub new: u64,
    pub ongoing: u64,
    pub resolved: u64,
}

/// One entry line, borrowed from the line it was read from.
#[derive(Debug, Deserialize)]
struct EntryLine<'a>(
    #[serde(borrow)] std::borrow::Cow<'a, str>,
    NaiveDate,
    Option<NaiveDate>,
    bool,
    #[serde(borrow)] std::borrow::Cow<'a, str>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)] Option<std::borrow::Cow<'a, str>>,
);

/// An entry as the reader hands it on.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Its line in the document (1-based): [`Reader::lines`] reads it again.
    pub line: u32,
    pub sink: &'a str,
    pub first_seen: NaiveDate,
    /// The last date a message listed it before that report.
    pub last_listed: Option<NaiveDate>,
    /// Whether that report's digest listed it (it then was listed on the report's date if the
    /// trailer says the sink's digest was sent: [`Trailer::listed_on`]).
    pub listed: bool,
    pub rule: &'a str,
    pub status: Option<&'a str>,
    pub identity: Identity<'a>,
}

impl Trailer {
    /// The date a message last listed an entry of `sink` read as (`last_listed`, `listed`) in
    /// the document of the report of `date`: that date if it listed it and the digest was sent.
    pub fn listed_on(
        &self,
        sink: &str,
        date: NaiveDate,
        last_listed: Option<NaiveDate>,
        listed: bool,
    ) -> Option<NaiveDate> {
        if listed && self.sinks.get(sink).is_some_and(|s| s.sent) {
            Some(date)
        } else {
            last_listed
        }
    }
}

/// Writes a state document as the report streams by (see the module docs).
pub struct Writer {
    out: std::io::BufWriter<flate2::write::GzEncoder<Vec<u8>>>,
    header: Option<Header>,
    /// The first write error; the document is then lost and [`Writer::finish`] says so.
    error: Option<std::io::Error>,
    entries: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// A document whose header is written with the first entry (or at the end): its template
    /// is known only once the report reader has seen the report.
    pub fn new(header: Header) -> Writer {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        Writer {
            out: std::io::BufWriter::with_capacity(64 * 1024, gz),
            header: Some(header),
            error: None,
            entries: 0,
        }
    }

    fn line(&mut self, value: &impl Serialize) {
        if self.error.is_some() {
            return;
        }
        if let Some(h) = self.header.take()
            && let Err(e) = write_json_line(&mut self.out, &h)
        {
            self.error = Some(e);
            return;
        }
        if let Err(e) = write_json_line(&mut self.out, value) {
            self.error = Some(e);
        }
    }

    /// Sets the template (once the reader knows it); before the first entry.
    pub fn set_template(&mut self, template: ReportTemplate) {
        if let Some(h) = &mut self.header {
            h.template = template;
        }
    }

    /// One entry line (see the module docs).
    #[allow(clippy::too_many_arguments)]
    pub fn entry(
        &mut self,
        sink: &str,
        first_seen: NaiveDate,
        last_listed: Option<NaiveDate>,
        listed: bool,
        rule: &str,
        status: Option<&str>,
        id: &Identity<'_>,
    ) {
        self.entries += 1;
        self.line(&(
            sink,
            first_seen,
            last_listed,
            listed,
            rule,
            status,
            id.framework,
            id.control,
            id.account,
            id.region,
            id.resource_type,
            id.resource,
        ));
    }

    /// Writes the trailer and returns the compressed document.
    pub fn finish(mut self, trailer: &Trailer) -> Result<Vec<u8>, StateError> {
        self.line(trailer);
        if let Some(e) = self.error.take() {
            return Err(StateError::Encode(e.to_string()));
        }
        let gz = self
            .out
            .into_inner()
            .map_err(|e| StateError::Encode(e.error().to_string()))?;
        gz.finish().map_err(|e| StateError::Encode(e.to_string()))
    }
}

fn write_json_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// A state document: its header, read at once, and its entries and trailer, read by
/// [`Reader::entries`] (the compressed bytes are kept, not the entries; [`Reader::lines`] reads
/// chosen entries again).
#[derive(Debug)]
pub struct Reader {
    /// Where it came from, for errors (`s3://…`).
    pub name: String,
    pub header: Header,
    bytes: Vec<u8>,
}

impl Reader {
    /// Reads the header: a state document of this build's version.
    pub fn open(name: &str, bytes: Vec<u8>) -> Result<Reader, StateError> {
        let corrupt = |line: usize, why: String| StateError::Corrupt {
            name: name.to_owned(),
            line,
            why,
        };
        let mut lines = LineReader::new(&bytes);
        let first = lines
            .next()
            .map_err(|e| corrupt(1, e))?
            .ok_or_else(|| corrupt(1, "empty document".into()))?;
        #[derive(Deserialize)]
        struct Version {
            audit_router_state: Option<u64>,
        }
        let version: Version = serde_json::from_slice(first)
            .map_err(|e| corrupt(1, format!("not a state header: {e}")))?;
        match version.audit_router_state {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            Some(v) => {
                return Err(StateError::Version {
                    name: name.to_owned(),
                    found: v,
                });
            }
            None => return Err(corrupt(1, "no `audit_router_state` version".into())),
        }
        let header: Header =
            serde_json::from_slice(first).map_err(|e| corrupt(1, format!("header: {e}")))?;
        Ok(Reader {
            name: name.to_owned(),
            header,
            bytes,
        })
    }

    fn corrupt(&self, line: usize, why: String) -> StateError {
        StateError::Corrupt {
            name: self.name.clone(),
            line,
            why,
        }
    }

    /// Calls `each` for every entry, in the document's order, and returns the trailer: a
    /// document without one was cut short (an error, as is any line that does not read).
    pub fn entries(&self, mut each: impl FnMut(Entry<'_>)) -> Result<Trailer, StateError> {
        let mut lines = LineReader::new(&self.bytes);
        let mut n = 0u32;
        let mut trailer = None;
        while let Some(line) = lines.next().map_err(|e| self.corrupt(n as usize + 1, e))? {
            n += 1;
            if n == 1 {
                continue;
            }
            if trailer.is_some() {
                return Err(self.corrupt(n as usize, "a line after the trailer".into()));
            }
            match line.first() {
                Some(b'[') => self.entry(n, line, &mut each)?,
                Some(b'{') => {
                    let t: Trailer = serde_json::from_slice(line)
                        .map_err(|e| self.corrupt(n as usize, format!("trailer: {e}")))?;
                    trailer = Some(t);
                }
                _ => {
                    return Err(self.corrupt(n as usize, "expected an entry or the trailer".into()));
                }
            }
        }
        trailer.filter(|t| t.end).ok_or_else(|| {
            self.corrupt(n as usize, "no trailer: the document was cut short".into())
        })
    }

    /// Calls `each` for the entries on `wanted` lines (ascending), reading only those.
    pub fn lines(&self, wanted: &[u32], mut each: impl FnMut(Entry<'_>)) -> Result<(), StateError> {
        let mut lines = LineReader::new(&self.bytes);
        let mut n = 0u32;
        let mut next = wanted.iter().peekable();
        while let Some(&&want) = next.peek() {
            let Some(line) = lines.next().map_err(|e| self.corrupt(n as usize + 1, e))? else {
                return Err(self.corrupt(n as usize, format!("no line {want}")));
            };
            n += 1;
            if n == want {
                self.entry(n, line, &mut each)?;
                next.next();
            }
        }
        Ok(())
    }

    /// Reads entry line `n` and hands it to `each`.
    fn entry(
        &self,
        n: u32,
        line: &[u8],
        each: &mut impl FnMut(Entry<'_>),
    ) -> Result<(), StateError> {
        let e: EntryLine<'_> = serde_json::from_slice(line)
            .map_err(|e| self.corrupt(n as usize, format!("entry: {e}")))?;
        fn d<'s>(c: &'s Option<std::borrow::Cow<'_, str>>) -> Option<&'s str> {
            c.as_deref()
        }
        each(Entry {
            line: n,
            sink: &e.0,
            first_seen: e.1,
            last_listed: e.2,
            listed: e.3,
            rule: &e.4,
            status: d(&e.5),
            identity: Identity {
                report: self.header.template,
                framework: d(&e.6),
                control: d(&e.7),
                account: d(&e.8),
                region: d(&e.9),
                resource_type: d(&e.10),
                resource: d(&e.11),
            },
        });
        Ok(())
    }

    /// The report's time, as written.
    pub fn report_time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.header.report_time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Lines of a gzip document, one buffer reused.
struct LineReader<'a> {
    inner: std::io::BufReader<flate2::read::MultiGzDecoder<&'a [u8]>>,
    buf: Vec<u8>,
}

impl<'a> LineReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineReader {
            inner: std::io::BufReader::with_capacity(
                64 * 1024,
                flate2::read::MultiGzDecoder::new(bytes),
            ),
            buf: Vec::with_capacity(256),
        }
    }

    /// The next non-empty line without its `\n`; `Err` for bytes that are not gzip.
    fn next(&mut self) -> Result<Option<&[u8]>, String> {
        loop {
            self.buf.clear();
            let n = self
                .inner
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| format!("not a gzip document: {e}"))?;
            if n == 0 {
                return Ok(None);
            }
            while self.buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                self.buf.pop();
            }
            if !self.buf.is_empty() {
                return Ok(Some(&self.buf));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            audit_router_state: STATE_VERSION,
            report: "s3://b/k.csv".into(),
            report_etag: None,
            template: ReportTemplate::ResourceCompliance,
            report_time: "2026-11-26T00:00:00Z".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            stream: Some("s3://b/k.csv".into()),
            previous: None,
            created_at: "2026-11-26T03:00:00Z".into(),
        }
    }

    fn id(resource: &str) -> Identity<'_> {
        Identity {
            report: ReportTemplate::ResourceCompliance,
            framework: Some("fw"),
            control: Some("ctl \"quoted\""),
            account: Some("111111111111"),
            region: Some("us-east-1"),
            resource_type: None,
            resource: Some(resource),
        }
    }

    #[test]
    fn a_document_reads_back_with_this_reports_listing_applied() {
        let mut w = Writer::new(header());
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        w.entry(
            "a",
            d(20),
            Some(d(25)),
            true,
            "r1",
            Some("NON_COMPLIANT"),
            &id("x"),
        );
        w.entry(
            "a",
            d(26),
            None,
            false,
            "r1",
            Some("NON_COMPLIANT"),
            &id("y"),
        );
        w.entry("b", d(21), Some(d(21)), true, "r2", None, &id("x"));
        let mut t = Trailer {
            end: true,
            ..Trailer::default()
        };
        t.sinks.insert(
            "a".into(),
            SinkSummary {
                sent: true,
                ..SinkSummary::default()
            },
        );
        t.sinks.insert("b".into(), SinkSummary::default());
        let bytes = w.finish(&t).unwrap();
        let r = Reader::open("s3://state/x.json.gz", bytes).unwrap();
        assert_eq!(r.header, header());
        let mut got = Vec::new();
        let trailer = r
            .entries(|e| {
                got.push((
                    e.line,
                    e.sink.to_owned(),
                    e.first_seen,
                    e.last_listed,
                    e.listed,
                    e.identity.resource.map(str::to_owned),
                    e.identity.control.map(str::to_owned),
                ))
            })
            .unwrap();
        assert_eq!(trailer, t);
        let ctl = Some("ctl \"quoted\"".to_owned());
        assert_eq!(
            got,
            vec![
                (
                    2,
                    "a".into(),
                    d(20),
                    Some(d(25)),
                    true,
                    Some("x".into()),
                    ctl.clone()
                ),
                (
                    3,
                    "a".into(),
                    d(26),
                    None,
                    false,
                    Some("y".into()),
                    ctl.clone()
                ),
                (
                    4,
                    "b".into(),
                    d(21),
                    Some(d(21)),
                    true,
                    Some("x".into()),
                    ctl.clone()
                ),
            ]
        );
        // Listed and sent: listed on the report's date; not listed: the old date; listed but the
        // digest was not sent: the old date too.
        let date = header().date;
        assert_eq!(trailer.listed_on("a", date, Some(d(25)), true), Some(d(26)));
        assert_eq!(trailer.listed_on("a", date, None, false), None);
        assert_eq!(trailer.listed_on("b", date, Some(d(21)), true), Some(d(21)));
        // Chosen lines only.
        let mut picked = Vec::new();
        r.lines(&[2, 4], |e| picked.push((e.line, e.sink.to_owned())))
            .unwrap();
        assert_eq!(picked, [(2, "a".to_owned()), (4, "b".to_owned())]);
    }

    #[test]
    fn cut_short_newer_and_foreign_documents_are_refused_by_name() {
        let mut w = Writer::new(header());
        w.entry("a", header().date, None, true, "r", None, &id("x"));
        let full = w
            .finish(&Trailer {
                end: true,
                ..Trailer::default()
            })
            .unwrap();
        // Cut short: decompress, drop the trailer, compress again.
        let text = {
            use std::io::Read;
            let mut s = String::new();
            flate2::read::GzDecoder::new(&full[..])
                .read_to_string(&mut s)
                .unwrap();
            s
        };
        let gz = |s: &str| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(s.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let lines: Vec<&str> = text.lines().collect();
        let cut = gz(&format!("{}\n{}\n", lines[0], lines[1]));
        let err = Reader::open("s3://st/k", cut)
            .unwrap()
            .entries(|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("s3://st/k") && err.contains("cut short"),
            "{err}"
        );
        let newer = gz(&lines[0].replace("\"audit_router_state\":1", "\"audit_router_state\":7"));
        let err = Reader::open("s3://st/k", newer).unwrap_err().to_string();
        assert!(err.contains("version 7"), "{err}");
        let err = Reader::open("s3://st/k", b"{\"not\":\"gzip\"}".to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("gzip"), "{err}");
        let err = Reader::open("s3://st/k", gz("{\"receipt\":1}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("audit_router_state"), "{err}");
    }
}
