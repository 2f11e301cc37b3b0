//! The CSV record splitter: RFC 4180 records out of a byte stream, the same records the `csv`
//! crate reads with its defaults (`,` delimiter, `"` quote, doubled quotes, CR, LF or CRLF
//! terminators, blank lines skipped, a leading UTF-8 BOM stripped), but a field at a time
//! instead of a byte at a time.
//!
//! Why not `csv::Reader`: its parser (`csv_core`) steps a state machine per byte, and on a
//! resource compliance report that step was 42 % of the whole route path. Audit Manager quotes
//! every field, so here a quoted field is one `memchr2` for its closing quote (or a newline,
//! for line numbers) and one copy; an unquoted field is one `memchr3` for `,`/CR/LF.
//! `tests::same_records_as_the_csv_crate` checks the two agree on generated input (quotes,
//! delimiters, CR/LF in every position, split UTF-8, every buffer boundary).
//!
//! Differences from `csv::Reader`, on purpose:
//! - A record's position is its first byte and that byte's line. `csv` gives the position right
//!   after the previous record's terminator, which is a line too early for CRLF files (the LF
//!   is only consumed with the next record) and points at any blank lines before the record.
//! - A quoted field still open at the end of the input is reported
//!   ([`Records::unterminated`]): `csv` ends such a record silently, so a truncated report
//!   would lose its tail without an error.
//! - A record keeps the bounds of its first [`MAX_FIELDS`] fields and only counts the rest
//!   ([`Record::len`] stays exact), so a 16 MiB line of commas is not 16 M field ends.

use memchr::{memchr2, memchr3};
use std::io::{self, Read};
use std::ops::Range;

/// The starting buffer size; a record longer than the buffer doubles it (the caller bounds
/// how far with [`super::limit::Limited`]).
pub(super) const BUFFER: usize = 64 * 1024;

pub(super) use super::MAX_FIELDS;

/// One record: its fields end to end in one buffer, reused from record to record.
#[derive(Debug, Default)]
pub(super) struct Record {
    data: Vec<u8>,
    /// The ends of the first [`MAX_FIELDS`] fields.
    ends: Vec<usize>,
    /// All fields, kept or not.
    fields: usize,
    byte: u64,
    line: u64,
}

impl Record {
    /// The number of fields (also past [`MAX_FIELDS`], whose bounds are not kept).
    pub fn len(&self) -> usize {
        self.fields
    }

    /// Every field's bytes, end to end.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    /// The kept fields' byte ranges within [`Record::as_slice`] (all of them up to
    /// [`MAX_FIELDS`]).
    pub fn ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let r = start..end;
            start = end;
            r
        })
    }

    /// Field `i`'s range within [`Record::as_slice`].
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(start..end)
    }

    /// The fields' bytes.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ranges().map(|r| &self.data[r])
    }

    /// Offset of the record's first byte in the input (a stripped BOM counts).
    pub fn byte(&self) -> u64 {
        self.byte
    }

    /// The line (from 1) of the record's first byte.
    pub fn line(&self) -> u64 {
        self.line
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.fields = 0;
    }

    fn end_field(&mut self) {
        if self.ends.len() < MAX_FIELDS {
            self.ends.push(self.data.len());
        }
        self.fields += 1;
    }
}

/// Records from a reader, through one buffer.
pub(super) struct Records<R> {
    inner: R,
    buf: Vec<u8>,
    /// Parsed up to here (the next record starts at or after it).
    pos: usize,
    /// Bytes of `buf` read from `inner`.
    len: usize,
    /// `inner` has no more bytes.
    eof: bool,
    /// Input offset of `buf[0]`.
    offset: u64,
    /// Line of `buf[pos]`.
    line: u64,
    unterminated: bool,
}

enum Parsed {
    Record,
    End,
    More,
}

impl<R: Read> Records<R> {
    pub fn new(inner: R) -> Self {
        Self::with_capacity(BUFFER, inner)
    }

    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        Records {
            inner,
            // At least a BOM's 3 bytes: the first fill holds all of one, if there is one.
            buf: vec![0; capacity.max(3)],
            pos: 0,
            len: 0,
            eof: false,
            offset: 0,
            line: 1,
            unterminated: false,
        }
    }

    /// The line the reader is at: where the next record (or blank lines before it) starts.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The last record read ended inside a quoted field at the end of the input: the input
    /// was cut off (every quote that opens a field must close it).
    pub fn unterminated(&self) -> bool {
        self.unterminated
    }

    /// Reads the next record into `record`; `false` at the end of the input.
    pub fn read(&mut self, record: &mut Record) -> io::Result<bool> {
        loop {
            match self.parse(record) {
                Parsed::Record => return Ok(true),
                Parsed::End => return Ok(false),
                Parsed::More => self.fill()?,
            }
        }
    }

    /// Moves what is left to the front, doubles the buffer if that is all of it, and reads
    /// until the buffer is full or the input ends. Reading until full means a record that
    /// needs a refill is parsed again at most once per doubling.
    fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.offset += self.pos as u64;
            self.len -= self.pos;
            self.pos = 0;
        }
        if self.len == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let first = self.offset == 0 && self.len == 0;
        while self.len < self.buf.len() {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if first && self.buf[..self.len].starts_with(b"\xef\xbb\xbf") {
            self.pos = 3;
        }
        Ok(())
    }

    /// Parses one record from `buf[pos..len]`. `More` when the buffer ends first and the
    /// input does not: the record is parsed again from its start after a refill (blank
    /// lines before it stay consumed).
    fn parse(&mut self, record: &mut Record) -> Parsed {
        if self.len == 0 && !self.eof {
            return Parsed::More;
        }
        let b = &self.buf[..self.len];
        let mut i = self.pos;
        // Blank lines (any run of CR and LF) before the record.
        loop {
            match b.get(i) {
                Some(b'\n') => {
                    self.line += 1;
                    i += 1;
                }
                Some(b'\r') => i += 1,
                Some(_) => break,
                None => {
                    self.pos = i;
                    return if self.eof { Parsed::End } else { Parsed::More };
                }
            }
        }
        self.pos = i;
        record.clear();
        record.byte = self.offset + i as u64;
        record.line = self.line;
        let mut line = self.line;
        let eof = self.eof;
        loop {
            // One field; `i` is at its first byte.
            let mut quoted = b.get(i) == Some(&b'"');
            if quoted {
                i += 1;
            }
            let terminator = loop {
                if quoted {
                    let Some(k) = memchr2(b'"', b'\n', &b[i..]) else {
                        if !eof {
                            return Parsed::More;
                        }
                        record.data.extend_from_slice(&b[i..]);
                        i = b.len();
                        self.unterminated = true;
                        break None;
                    };
                    record.data.extend_from_slice(&b[i..i + k]);
                    i += k;
                    if b[i] == b'\n' {
                        line += 1;
                        record.data.push(b'\n');
                        i += 1;
                        continue;
                    }
                    i += 1;
                    match b.get(i) {
                        Some(b'"') => {
                            record.data.push(b'"');
                            i += 1;
                        }
                        Some(&t @ (b',' | b'\n' | b'\r')) => {
                            i += 1;
                            break Some(t);
                        }
                        // Text after the closing quote belongs to the field, unquoted.
                        Some(_) => quoted = false,
                        None if eof => break None,
                        None => return Parsed::More,
                    }
                } else {
                    let Some(k) = memchr3(b',', b'\n', b'\r', &b[i..]) else {
                        if !eof {
                            return Parsed::More;
                        }
                        record.data.extend_from_slice(&b[i..]);
                        i = b.len();
                        break None;
                    };
                    record.data.extend_from_slice(&b[i..i + k]);
                    i += k + 1;
                    break Some(b[i - 1]);
                }
            };
            record.end_field();
            match terminator {
                Some(b',') => {}
                Some(b'\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        self.pos = i;
        self.line = line;
        Parsed::Record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each record's fields, first byte and line.
    type Got = Vec<(Vec<Vec<u8>>, u64, u64)>;

    /// What the `csv` crate reads: each record's fields and its position, moved past a BOM
    /// and blank lines to the record's first byte (see the module docs).
    fn csv_crate(input: &[u8]) -> Got {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut out = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let pos = record.position().unwrap();
            let (mut byte, mut line) = (pos.byte(), pos.line());
            if byte == 0 && input.starts_with(b"\xef\xbb\xbf") {
                byte = 3;
            }
            while let Some(&c @ (b'\r' | b'\n')) = input.get(byte as usize) {
                byte += 1;
                line += u64::from(c == b'\n');
            }
            out.push((record.iter().map(<[u8]>::to_vec).collect(), byte, line));
        }
        out
    }

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn ours(input: &[u8], capacity: usize, step: usize) -> (Got, bool) {
        let mut records = Records::with_capacity(capacity, Trickle { data: input, step });
        let mut out = Vec::new();
        let mut record = Record::default();
        while records.read(&mut record).unwrap() {
            assert_eq!(
                record.iter().map(<[u8]>::len).sum::<usize>(),
                record.as_slice().len()
            );
            out.push((
                record.iter().map(<[u8]>::to_vec).collect(),
                record.byte(),
                record.line(),
            ));
        }
        (out, records.unterminated())
    }

    /// Whether the input ends inside a quoted field: `csv_core`'s states, a byte at a time,
    /// for the options used here (the crate does not expose its state), after the BOM it strips.
    fn ends_in_quotes(input: &[u8]) -> bool {
        let input = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input);
        #[derive(PartialEq)]
        enum S {
            StartRecord,
            StartField,
            InField,
            InQuoted,
            QuoteInQuoted,
        }
        let mut s = S::StartRecord;
        for &c in input {
            let term = c == b'\r' || c == b'\n';
            s = match s {
                S::StartRecord if term => S::StartRecord,
                S::StartRecord | S::StartField => match c {
                    b'"' => S::InQuoted,
                    b',' => S::StartField,
                    _ if term => S::StartRecord,
                    _ => S::InField,
                },
                S::InField | S::QuoteInQuoted if c == b',' => S::StartField,
                S::InField | S::QuoteInQuoted if term => S::StartRecord,
                S::QuoteInQuoted if c == b'"' => S::InQuoted,
                S::InField | S::QuoteInQuoted => S::InField,
                S::InQuoted if c == b'"' => S::QuoteInQuoted,
                S::InQuoted => S::InQuoted,
            };
        }
        s == S::InQuoted
    }

    fn check(input: &[u8]) {
        let expected = csv_crate(input);
        for (capacity, step) in [(BUFFER, usize::MAX), (1, 1), (3, 2), (7, 64), (16, 5)] {
            let (got, unterminated) = ours(input, capacity, step);
            assert_eq!(
                got,
                expected,
                "input {:?}, capacity {capacity}, step {step}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(
                unterminated,
                ends_in_quotes(input),
                "unterminated, input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn examples() {
        for input in [
            &b""[..],
            b"\n\r\n",
            b"a",
            b"a,",
            b"a,\n",
            b",",
            b"\"\"",
            b"\"",
            b"\"a\"\"",
            b"\"a\"\"b\",c\r\nd,\"e\nf\"\n\n\"g\"h\"i\",\"\"\r",
            b"\xef\xbb\xbfa,b\n",
            // A quote right after the BOM opens a quoted field (here never closed).
            b"\xef\xbb\xbf\"\xc3\xbb\n\xc3\r",
            b"\xef\xbb",
            b"a\"b,\"c\"\"\"\n",
            b"\"a\"\r\n\"b\"",
            b"x\r\r\n\ny,\"\",\"\"\"\"\n",
        ] {
            check(input);
        }
    }

    #[test]
    fn fields_past_the_bound_are_counted_not_kept() {
        let line = ",".repeat(3 * MAX_FIELDS);
        let mut records = Records::new(line.as_bytes());
        let mut record = Record::default();
        assert!(records.read(&mut record).unwrap());
        assert_eq!(record.len(), 3 * MAX_FIELDS + 1);
        assert_eq!(record.ranges().count(), MAX_FIELDS);
        assert!(
            record.ends.capacity() < 2 * MAX_FIELDS,
            "{}",
            record.ends.capacity()
        );
    }

    #[test]
    fn unterminated_quotes() {
        assert!(ours(b"a,\"b\n", BUFFER, usize::MAX).1);
        assert!(ours(b"\"a\"\"", BUFFER, usize::MAX).1);
        assert!(!ours(b"a,b\"c\n", BUFFER, usize::MAX).1);
        assert!(!ours(b"\"a\"b\"c\n", BUFFER, usize::MAX).1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn same_records_as_the_csv_crate(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'a'), Just(b'"'), Just(b','), Just(b'\r'), Just(b'\n'),
                    Just(0xc3u8), Just(0xa9u8), Just(0xefu8), Just(0xbbu8), Just(0xbfu8),
                ],
                0..80,
            )
        ) {
            check(&input);
        }
    }
}
