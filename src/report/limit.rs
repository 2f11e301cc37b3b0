//! Size limits on what the readers hold or read, so a hostile or broken report ends in a clear
//! [`ReportError::TooLarge`](super::ReportError::TooLarge), never in an out-of-memory kill.
//!
//! The readers stream: memory is one item (a JSON array element, a CSV record), whatever the
//! report's size. What is left to bound is the size of that one item — a 100 MB CSV line or a
//! JSON string without end would otherwise be buffered whole — and, optionally, the total amount
//! of decoded text (a gzip bomb, a 10 GB "report" that would run past the Lambda timeout).
//!
//! [`Limited`] counts the decoded bytes pulled by the parser; the parser calls [`Meter::mark`]
//! where each item starts. Bytes are counted as the parser's buffer pulls them (64 KiB at a
//! time), so an item is cut at its limit give or take one buffer.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// The default largest item (JSON element, CSV record, or top-level JSON value): 16 MiB.
/// Real Audit Manager items are a few hundred bytes to a few KiB.
pub const MAX_ITEM_BYTES: u64 = 16 * 1024 * 1024;

/// The default cap on a whole report's decoded text: 10 GiB. Memory does not grow with the
/// report (it streams), so this bounds time, not memory: a report this big would run far past
/// a Lambda's 15 minutes, and it is far beyond any real Audit Manager report.
pub const MAX_TOTAL_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Size limits for one report read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// The largest single item, in decoded bytes (also bounds leading blank text and any
    /// top-level JSON value other than `reportItems`).
    pub max_item_bytes: u64,
    /// The largest report, in decoded bytes (after gunzip); `None` for no limit.
    pub max_total_bytes: Option<u64>,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_item_bytes: MAX_ITEM_BYTES,
            max_total_bytes: Some(MAX_TOTAL_BYTES),
        }
    }
}

/// Which limit was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exceeded {
    Item,
    Total,
}

/// What the parser is reading since the last mark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Region {
    /// JSON: a top-level key or value other than the items.
    #[default]
    TopLevel,
    /// CSV: the header record.
    Header,
    /// An item (its CSV line, when known).
    Item { line: Option<u64> },
}

#[derive(Default)]
struct State {
    total: Cell<u64>,
    mark: Cell<u64>,
    region: Cell<Region>,
    exceeded: Cell<Option<Exceeded>>,
}

/// Shared between [`Limited`] (which counts) and the parser (which marks item starts).
#[derive(Clone, Default)]
pub(super) struct Meter(Rc<State>);

impl Meter {
    /// `region` starts here: the item limit counts from now.
    pub fn mark(&self, region: Region) {
        self.0.mark.set(self.0.total.get());
        self.0.region.set(region);
    }

    /// What was being read when the last mark was set.
    pub fn region(&self) -> Region {
        self.0.region.get()
    }

    /// The limit that stopped the read, if one did.
    pub fn exceeded(&self) -> Option<Exceeded> {
        self.0.exceeded.get()
    }

    /// Decoded bytes pulled so far.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.0.total.get()
    }
}

/// A reader that fails once the bytes since the last [`Meter::mark`] exceed the item limit, or
/// all bytes exceed the total limit. The failure is an `io::Error`; the caller tells it apart
/// from a real I/O error through [`Meter::exceeded`].
pub(super) struct Limited<R> {
    pub inner: R,
    pub meter: Meter,
    pub limits: ReadLimits,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let state = &self.meter.0;
        if let Some(e) = state.exceeded.get() {
            return Err(limit_error(e));
        }
        let n = self.inner.read(buf)?;
        let total = state.total.get().saturating_add(n as u64);
        state.total.set(total);
        let exceeded = if total.saturating_sub(state.mark.get()) > self.limits.max_item_bytes {
            Some(Exceeded::Item)
        } else if self.limits.max_total_bytes.is_some_and(|max| total > max) {
            Some(Exceeded::Total)
        } else {
            None
        };
        match exceeded {
            Some(e) => {
                state.exceeded.set(Some(e));
                Err(limit_error(e))
            }
            None => Ok(n),
        }
    }
}

fn limit_error(e: Exceeded) -> io::Error {
    io::Error::other(match e {
        Exceeded::Item => "item size limit exceeded",
        Exceeded::Total => "report size limit exceeded",
    })
}

/// `16 MiB`, `10 GiB`, or bytes when not a whole number of either.
pub(super) fn human(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_limit_counts_from_the_mark() {
        let data = [b'a'; 100];
        let meter = Meter::default();
        let mut r = Limited {
            inner: &data[..],
            meter: meter.clone(),
            limits: ReadLimits {
                max_item_bytes: 30,
                max_total_bytes: None,
            },
        };
        let mut buf = [0u8; 20];
        assert_eq!(r.read(&mut buf).unwrap(), 20);
        meter.mark(Region::Item { line: None });
        assert_eq!(r.read(&mut buf).unwrap(), 20);
        assert!(r.read(&mut buf).is_err(), "40 bytes since the mark > 30");
        assert_eq!(meter.exceeded(), Some(Exceeded::Item));
        assert!(r.read(&mut buf).is_err(), "stays failed");
    }

    #[test]
    fn total_limit() {
        let data = [b'a'; 100];
        let meter = Meter::default();
        let mut r = Limited {
            inner: &data[..],
            meter: meter.clone(),
            limits: ReadLimits {
                max_item_bytes: 1000,
                max_total_bytes: Some(50),
            },
        };
        let mut sink = Vec::new();
        assert!(r.read_to_end(&mut sink).is_err());
        assert_eq!(meter.exceeded(), Some(Exceeded::Total));
        assert!(meter.total() > 50);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(MAX_ITEM_BYTES), "16 MiB");
        assert_eq!(human(MAX_TOTAL_BYTES), "10 GiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
