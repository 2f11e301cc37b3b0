//! The CSV record splitter: RFC 4180 records out of a byte stream, the same records the `csv`
//! crate reads with its defaults (`,` delimiter, `"` quote, doubled quotes, CR, LF or CRLF
//! terminators, blank lines skipped, a leading UTF-8 BOM stripped), but a field at a time
//! instead of a byte at a time.
//!
//! Why not `csv::Reader`: its parser (`csv_core`) steps a state machine per byte, and on a
//! resource compliance report that step was 42 % of the whole route path. Audit Manager quotes
//! every field, so here a quoted field is one scan for its closing quote or a newline (for line
//! numbers: `memchr2` when copying, then one copy; [`scan::find2`], inline, in place); an
//! unquoted field is one `memchr3` for `,`/CR/LF. `tests::same_records_as_the_csv_crate` and
//! `tests::long_records_read_in_place_like_the_csv_crate` check both ways of reading agree with
//! the crate on generated input (quotes, delimiters, CR/LF in every position, split UTF-8,
//! every buffer boundary).
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
//!
//! Two ways to read a record: [`Records::read`] copies its fields into a [`Record`] (every
//! CSV form; the reference parser), and [`Records::read_in_place`] gives each field as a
//! range of the reader's own buffer ([`Spans`]: nothing copied, the fast path), for every
//! record whose fields are plain or quoted with doubled quotes inside — all the records AWS
//! writes. A record of any other form (text after a closing quote, an unterminated quote) is
//! left where it is, for [`Records::read`]. The buffer's UTF-8 is checked once per refill
//! ([`Records::text`] hands out a record's bytes as text from it).

use super::scan;
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

/// One record read in place ([`Records::read_in_place`]): each field's content as a range of
/// the reader's buffer, valid until the next read ([`Records::text`] gives the record).
#[derive(Debug, Default)]
pub(super) struct Spans {
    /// The first [`MAX_FIELDS`] fields: content start, end, and whether the content holds
    /// doubled quotes (`""` for each `"`, see [`undouble`]).
    fields: Vec<(usize, usize, bool)>,
    /// All fields, kept or not.
    count: usize,
    /// The record's bytes in the buffer: from its first byte to its terminator (excluded).
    start: usize,
    end: usize,
    byte: u64,
    line: u64,
}

impl Spans {
    /// The number of fields (also past [`MAX_FIELDS`]).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Field `i`: its content's range in the buffer, and whether it holds doubled quotes.
    pub fn field(&self, i: usize) -> Option<(usize, usize, bool)> {
        self.fields.get(i).copied()
    }

    /// The record's bytes (quotes and delimiters included) as a range of the buffer.
    pub fn raw(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// The content of a quoted field whose `""` pairs stand for `"` (as [`Spans`] marks them).
pub(super) fn undouble(content: &str) -> String {
    content.replace("\"\"", "\"")
}

/// What [`Records::read_in_place`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum InPlace {
    Record,
    End,
    /// A record of another form: read it with [`Records::read`].
    Other,
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
    /// How much of `buf[..len]` is valid UTF-8.
    utf8: scan::Utf8Prefix,
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

enum Step {
    Done(InPlace),
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
            utf8: scan::Utf8Prefix::default(),
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

    /// Reads the next record in place into `spans` (see [`InPlace`]).
    pub fn read_in_place(&mut self, spans: &mut Spans) -> io::Result<InPlace> {
        loop {
            match self.parse_in_place(spans) {
                Step::Done(found) => return Ok(found),
                Step::More => self.fill()?,
            }
        }
    }

    /// The bytes of the record last read in place (quotes and delimiters included) as text,
    /// if they are valid UTF-8 — which they are exactly when every field's content is valid
    /// on its own (the rest is ASCII); `None` may also mean the check has not reached them
    /// (then [`read`](Self::read) checks the record).
    pub fn text(&self, spans: &Spans) -> Option<&str> {
        self.utf8.text(&self.buf[..self.len], spans.raw())
    }

    /// Goes back to the start of the record last read in place, to read it again with
    /// [`read`](Self::read).
    pub fn rewind(&mut self, spans: &Spans) {
        self.pos = spans.start;
        self.line = spans.line;
    }

    /// Moves what is left to the front, doubles the buffer if that is all of it, and reads
    /// until the buffer is full or the input ends. Reading until full means a record that
    /// needs a refill is parsed again at most once per doubling.
    fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.offset += self.pos as u64;
            self.len -= self.pos;
            self.utf8.shift(self.pos);
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
        self.utf8.extend(&self.buf[..self.len]);
        Ok(())
    }

    /// Skips the blank lines (any run of CR and LF) at `pos`: `false` if the buffer ends
    /// first (all of it was blank).
    fn skip_blank(&mut self) -> bool {
        let b = &self.buf[..self.len];
        let mut i = self.pos;
        let found = loop {
            match b.get(i) {
                Some(b'\n') => {
                    self.line += 1;
                    i += 1;
                }
                Some(b'\r') => i += 1,
                Some(_) => break true,
                None => break false,
            }
        };
        self.pos = i;
        found
    }

    /// [`parse`](Self::parse), without copying: `Other` (with `pos` at the record) for a
    /// record that needs the copy.
    fn parse_in_place(&mut self, spans: &mut Spans) -> Step {
        if self.len == 0 && !self.eof {
            return Step::More;
        }
        if !self.skip_blank() {
            return if self.eof {
                Step::Done(InPlace::End)
            } else {
                Step::More
            };
        }
        let b = &self.buf[..self.len];
        let mut i = self.pos;
        let eof = self.eof;
        spans.fields.clear();
        spans.count = 0;
        spans.start = i;
        spans.byte = self.offset + i as u64;
        spans.line = self.line;
        let mut line = self.line;
        loop {
            // One field; `i` is at its first byte.
            let (content, terminator, next) = if b.get(i) == Some(&b'"') {
                let start = i + 1;
                let mut j = start;
                let mut doubled = false;
                loop {
                    let Some(k) = scan::find2(b'"', b'\n', b, j) else {
                        // Unterminated at the end of the input: `read` reports it.
                        return if eof {
                            Step::Done(InPlace::Other)
                        } else {
                            Step::More
                        };
                    };
                    if b[k] == b'\n' {
                        line += 1;
                        j = k + 1;
                        continue;
                    }
                    match b.get(k + 1) {
                        Some(b'"') => {
                            doubled = true;
                            j = k + 2;
                        }
                        Some(&t @ (b',' | b'\n' | b'\r')) => {
                            break ((start, k, doubled), Some(t), k + 2);
                        }
                        // Text after the closing quote.
                        Some(_) => return Step::Done(InPlace::Other),
                        None if eof => break ((start, k, doubled), None, k + 1),
                        None => return Step::More,
                    }
                }
            } else {
                match memchr3(b',', b'\n', b'\r', &b[i..]) {
                    Some(k) => ((i, i + k, false), Some(b[i + k]), i + k + 1),
                    None if eof => ((i, b.len(), false), None, b.len()),
                    None => return Step::More,
                }
            };
            if spans.fields.len() < MAX_FIELDS {
                spans.fields.push(content);
            }
            spans.count += 1;
            i = next;
            match terminator {
                Some(b',') => {}
                Some(t) => {
                    line += u64::from(t == b'\n');
                    spans.end = i - 1;
                    break;
                }
                None => {
                    spans.end = i;
                    break;
                }
            }
        }
        self.pos = i;
        self.line = line;
        Step::Done(InPlace::Record)
    }

    /// Parses one record from `buf[pos..len]`. `More` when the buffer ends first and the
    /// input does not: the record is parsed again from its start after a refill (blank
    /// lines before it stay consumed).
    fn parse(&mut self, record: &mut Record) -> Parsed {
        if self.len == 0 && !self.eof {
            return Parsed::More;
        }
        if !self.skip_blank() {
            return if self.eof { Parsed::End } else { Parsed::More };
        }
        let b = &self.buf[..self.len];
        let mut i = self.pos;
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

    /// As [`ours`], reading in place where it can and with the copy where it cannot, as the
    /// CSV reader's fast path does; also counts the records read in place.
    fn ours_in_place(input: &[u8], capacity: usize, step: usize) -> (Got, bool, usize) {
        let mut records = Records::with_capacity(capacity, Trickle { data: input, step });
        let mut out = Vec::new();
        let mut spans = Spans::default();
        let mut record = Record::default();
        let mut in_place = 0;
        loop {
            match records.read_in_place(&mut spans).unwrap() {
                InPlace::End => break,
                InPlace::Record => {
                    in_place += 1;
                    let b = &records.buf[..records.len];
                    assert!(spans.raw().end <= b.len());
                    let fields = (0..spans.len())
                        .map(|i| {
                            let (s, e, doubled) = spans.field(i).unwrap();
                            let raw = &b[s..e];
                            if doubled {
                                let mut v = Vec::new();
                                let mut k = 0;
                                while k < raw.len() {
                                    v.push(raw[k]);
                                    k += if raw[k] == b'"' { 2 } else { 1 };
                                }
                                v
                            } else {
                                raw.to_vec()
                            }
                        })
                        .collect();
                    out.push((fields, spans.byte, spans.line));
                    // Reading a record again after a rewind gives the same record.
                    if in_place % 3 == 0 {
                        let (byte, line) = (spans.byte, spans.line);
                        records.rewind(&spans);
                        assert!(records.read(&mut record).unwrap());
                        assert_eq!((record.byte(), record.line()), (byte, line));
                        let again: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
                        assert_eq!(Some(&again), out.last().map(|r| &r.0));
                    }
                }
                InPlace::Other => {
                    assert!(records.read(&mut record).unwrap());
                    out.push((
                        record.iter().map(<[u8]>::to_vec).collect(),
                        record.byte(),
                        record.line(),
                    ));
                }
            }
        }
        (out, records.unterminated(), in_place)
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
            let (got, unterminated, _) = ours_in_place(input, capacity, step);
            assert_eq!(
                got,
                expected,
                "in place: input {:?}, capacity {capacity}, step {step}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(
                unterminated,
                ends_in_quotes(input),
                "in place, unterminated"
            );
        }
    }

    /// Fields of every form CSV has, for long records.
    fn field() -> impl Strategy<Value = Vec<u8>> {
        let text = proptest::collection::vec(
            prop_oneof![
                8 => Just(b'a'),
                1 => Just(b','),
                1 => Just(b'\n'),
                1 => Just(b'\r'),
                1 => Just(0xc3u8),
                1 => Just(0xa9u8),
            ],
            0..40,
        );
        prop_oneof![
            // Quoted, quotes doubled inside.
            6 => (text.clone(), proptest::collection::vec(0usize..40, 0..3)).prop_map(|(t, at)| {
                let mut v = t;
                for a in at {
                    let a = a.min(v.len());
                    v.splice(a..a, *b"\"\"");
                }
                [&b"\""[..], &v, b"\""].concat()
            }),
            // Plain, with no delimiter.
            3 => "[a-z0-9 ]{0,30}".prop_map(String::into_bytes),
            // Rare forms: a quote inside a plain value, text after a closing quote, a lone
            // quote.
            1 => prop_oneof![
                Just(b"a\"b".to_vec()),
                Just(b"\"a\"b".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"\"\"\"".to_vec()),
            ],
        ]
    }

    fn records() -> impl Strategy<Value = Vec<u8>> {
        let record = proptest::collection::vec(field(), 1..12).prop_map(|f| f.join(&b","[..]));
        let end = prop_oneof![
            Just(&b"\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"\r"[..]),
            Just(&b"\n\n"[..])
        ];
        proptest::collection::vec((record, end), 1..30).prop_map(|rs| {
            rs.into_iter()
                .flat_map(|(r, e)| [r, e.to_vec()])
                .flatten()
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]
        /// Long records of every form, across buffer refills: in place where they can be, by
        /// the copy where not, always the `csv` crate's records.
        #[test]
        fn long_records_read_in_place_like_the_csv_crate(input in records(), cut in any::<usize>()) {
            for input in [&input[..], &input[..cut % (input.len() + 1)]] {
                let expected = csv_crate(input);
                for (capacity, step) in [(BUFFER, usize::MAX), (BUFFER, 100), (200, 1000)] {
                    let (got, unterminated, _) = ours_in_place(input, capacity, step);
                    prop_assert_eq!(&got, &expected, "capacity {}, step {}", capacity, step);
                    prop_assert_eq!(unterminated, ends_in_quotes(input));
                }
            }
        }
    }

    #[test]
    fn audit_manager_records_are_read_in_place() {
        let input = b"\"A\",\"B\"\r\n\"x, \"\"y\"\"\",\"line\nbreak\"\r\n,plain\n";
        let (got, unterminated, in_place) = ours_in_place(input, BUFFER, usize::MAX);
        assert_eq!(got, csv_crate(input));
        assert!(!unterminated);
        assert_eq!(in_place, 3);
        // Long quoted fields with commas, line breaks and doubled quotes: all read in place.
        let mut long = Vec::new();
        for i in 0..200 {
            let pad = "x".repeat(i % 67);
            long.extend_from_slice(
                format!("\"{pad}\",\"a, \"\"b\"\"\nc{pad}, d\",\"{i}\",plain{i}\r\n").as_bytes(),
            );
        }
        let (got, unterminated, in_place) = ours_in_place(&long, BUFFER, usize::MAX);
        assert_eq!(got, csv_crate(&long));
        assert!(!unterminated);
        assert_eq!(in_place, 200);
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
