//! The JSON fast path: a structural scan of `{"reportItems": [...]}` over a large buffer.
//!
//! Routing needs eight fields of an item (its [`FindingView`]); serde built every field of
//! every item as it went. Here each item is scanned once: strings run to their closing quote
//! 16 bytes at a time ([`super::scan`]); an item shaped like an earlier one — the same keys in
//! the same order, the same whitespace — is read by comparing those bytes a chunk at a time
//! ([`Layout`]), any other by a key-by-key scan (one comparison against the key the previous
//! item had at the same position); the view's values are borrowed from the buffer and
//! everything else is validated as JSON and skipped. Within a layout, a string with escapes
//! that a field held lately (a control's parameters as escaped JSON) is recognised by one
//! comparison instead of a stop per escape, and a count by a digit loop. The buffer's UTF-8
//! is checked once per refill ([`scan::Utf8Prefix`]). An owned [`Finding`](crate::Finding) — only for the few
//! findings a digest keeps — is built from the item's bytes by [`raw_item`], field for field
//! as the serde reader's `fill_raw` builds it (escaped strings decoded by [`unescape`], counts
//! read as the `u64` serde makes of them).
//!
//! What the scan accepts it validates completely, so it accepts exactly what the reference
//! reader accepts: whitespace, strings (escapes, surrogate pairs, no raw control
//! characters), `true`/`false`/`null`, integers of up to 18 digits, objects and arrays up to
//! [`MAX_DEPTH`] levels inside an item. Anything else goes back to the reference reader:
//! - an item with an escaped key, another kind of number, or the first item (which picks the
//!   template) is read by [`json::item_from_slice`] from its bytes;
//! - anything else — any error, a report with other top-level keys, nesting deeper than
//!   [`MAX_DEPTH`] — hands the rest of the report to the streaming serde reader
//!   ([`json::read_from`]), at the start of the report or right after the last item handed on.
//!   Its input then starts with a made-up prefix that puts it in the same state (inside
//!   `reportItems`) at the same line and column, so its errors carry the positions the
//!   reference reader gives them on the whole report. (On a report written on one line that
//!   prefix is as many spaces as the column: a hand-over near the end of a large compact
//!   report costs one pass over them.)
//!
//! The report is read in requests of [`json::BUFFER`] bytes, each made when the buffered bytes
//! are used up, as the serde reader's `BufReader` does; for a source that fills each request
//! (a file, decoded gzip) the size limits ([`super::limit`]) trip at the same item
//! (`tests/fast_readers.rs` checks it).

use super::input::Prepared;
use super::json::{self, KeyOrder, Resume};
use super::limit::Region;
use super::scan;
use super::schema::Schema;
use super::{Ctx, ReportError};
use crate::{FindingView, RawItem, ReportTemplate};
use std::borrow::Cow;
use std::io::{self, Read};

/// Nesting allowed inside an item before the streaming reader takes over (its own limit, 128
/// levels from the report's top, is then the one that counts).
pub(super) const MAX_DEPTH: usize = 32;

/// How far the opening `{"reportItems": [` may be from the start before the streaming reader
/// takes over.
const OPENING_WITHIN: usize = 64 * 1024;

/// The least a refill adds (unless the report ends): an item is scanned again from its start
/// after each refill, so a source handing out a few bytes per read must not make that
/// quadratic. A file or a decoded buffer fills a whole request at once anyway.
const MIN_REFILL: usize = 4096;

/// Why a scan stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// The buffer ended first.
    More,
    /// Not JSON the scan accepts (an error, or a shape it leaves to the reference reader).
    Bad,
}

type Scanned<T> = Result<T, Stop>;

/// A value of one of the view's keys, as the scan found it. Offsets are into the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    Absent,
    Null,
    /// A string without escapes: its content.
    Text(usize, usize),
    /// A string with escapes: the whole token, quotes included.
    Escaped(usize, usize),
    /// A number, boolean, object or array (the reference reader names the type in its error).
    Other,
}

/// The report's bytes from the first one not yet handed on: `buf[pos..len]`.
struct Window {
    buf: Vec<u8>,
    len: usize,
    pos: usize,
    /// Report offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Line feeds before `pos` (only whitespace holds them in JSON the scan accepted).
    lines: u64,
    /// Report offset of the last of them.
    last_lf: Option<u64>,
    /// How much of `buf[..len]` is valid UTF-8.
    utf8: scan::Utf8Prefix,
}

impl Window {
    fn new() -> Self {
        Window {
            buf: vec![0; 2 * json::BUFFER],
            len: 0,
            pos: 0,
            base: 0,
            eof: false,
            lines: 0,
            last_lf: None,
            utf8: scan::Utf8Prefix::default(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Everything up to `end` is handed on; `lines`/`last_lf` as the scan counted them.
    fn accept(&mut self, end: usize, lines: u64, last_lf: Option<usize>) {
        self.pos = end;
        self.lines += lines;
        if let Some(lf) = last_lf {
            self.last_lf = Some(self.base + lf as u64);
        }
    }

    /// Keeps `buf[pos..len]`, moved to the front, and reads once more: one request of
    /// [`json::BUFFER`] bytes (more if it brings fewer than [`MIN_REFILL`]), or — when what
    /// is kept is already that long (a large item) — requests until it has doubled, so a
    /// long item is scanned again at most once per doubling, not once per request.
    fn refill(&mut self, reader: &mut dyn Read) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.base += self.pos as u64;
            self.len -= self.pos;
            self.utf8.shift(self.pos);
            self.pos = 0;
        }
        let want = if self.len >= json::BUFFER {
            2 * self.len
        } else {
            self.len + MIN_REFILL
        };
        while self.len < want && !self.eof {
            if self.buf.len() < self.len + json::BUFFER {
                self.buf.resize(self.len + json::BUFFER, 0);
            }
            match reader.read(&mut self.buf[self.len..self.len + json::BUFFER]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.utf8.extend(&self.buf[..self.len]);
        Ok(())
    }

    /// The line and column (bytes since the last line feed) of `pos`, as serde counts them.
    fn position(&self) -> (u64, u64) {
        let at = self.base + self.pos as u64;
        let column = match self.last_lf {
            Some(lf) => at - lf - 1,
            None => at,
        };
        (self.lines + 1, column)
    }
}

/// A scan over the buffered bytes, counting the line feeds it skips.
struct Scan<'b> {
    b: &'b [u8],
    lines: u64,
    last_lf: Option<usize>,
    /// Something valid-looking the scan does not read itself (an escaped key, a number that is
    /// not a short integer): the item is read by the reference code from its bytes.
    slow: bool,
}

impl<'b> Scan<'b> {
    fn new(b: &'b [u8]) -> Self {
        Scan {
            b,
            lines: 0,
            last_lf: None,
            slow: false,
        }
    }

    #[inline]
    fn at(&self, i: usize) -> Scanned<u8> {
        self.b.get(i).copied().ok_or(Stop::More)
    }

    /// The first non-whitespace byte at or after `i` (may be `b.len()`).
    #[inline]
    fn ws(&mut self, mut i: usize) -> usize {
        loop {
            match self.b.get(i) {
                Some(b' ') => i = scan::skip_spaces(self.b, i + 1),
                Some(b'\n') => {
                    self.lines += 1;
                    self.last_lf = Some(i);
                    i += 1;
                }
                Some(b'\t' | b'\r') => i += 1,
                _ => return i,
            }
        }
    }

    /// A string whose opening quote is at `i - 1`: the index of its closing quote, and
    /// whether it has escapes.
    #[inline(always)]
    fn string(&self, i: usize) -> Scanned<(usize, bool)> {
        let k = scan::json_string_stop(self.b, i).ok_or(Stop::More)?;
        if self.b[k] == b'"' {
            return Ok((k, false));
        }
        self.string_rest(k)
    }

    /// The rest of a string from `k`, the first stop byte that is not its closing quote.
    #[inline(never)]
    fn string_rest(&self, mut k: usize) -> Scanned<(usize, bool)> {
        loop {
            match self.b[k] {
                b'"' => return Ok((k, true)),
                b'\\' => {
                    let i = self.escape(k + 1)?;
                    k = scan::json_string_stop(self.b, i).ok_or(Stop::More)?;
                }
                // A raw control character.
                _ => return Err(Stop::Bad),
            }
        }
    }

    /// An escape whose backslash is at `i - 1`, as serde validates it for a string: the index
    /// after it.
    fn escape(&self, i: usize) -> Scanned<usize> {
        match self.at(i)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(i + 1),
            b'u' => {
                let n = self.hex4(i + 1)?;
                if (0xDC00..=0xDFFF).contains(&n) {
                    return Err(Stop::Bad);
                }
                if !(0xD800..=0xDBFF).contains(&n) {
                    return Ok(i + 5);
                }
                // A leading surrogate: a trailing one must follow.
                if self.at(i + 5)? != b'\\' || self.at(i + 6)? != b'u' {
                    return Err(Stop::Bad);
                }
                let n2 = self.hex4(i + 7)?;
                if (0xDC00..=0xDFFF).contains(&n2) {
                    Ok(i + 11)
                } else {
                    Err(Stop::Bad)
                }
            }
            _ => Err(Stop::Bad),
        }
    }

    fn hex4(&self, i: usize) -> Scanned<u16> {
        let mut n = 0u16;
        for k in i..i + 4 {
            let d = match self.at(k)? {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(Stop::Bad),
            };
            n = (n << 4) | u16::from(d);
        }
        Ok(n)
    }

    /// `word` at `i`: the index after it.
    #[inline]
    fn literal(&self, i: usize, word: &[u8]) -> Scanned<usize> {
        let end = i + word.len();
        match self.b.get(i..end) {
            Some(w) if w == word => Ok(end),
            Some(_) => Err(Stop::Bad),
            // Too short to tell: a wrong prefix is wrong already.
            None if word.starts_with(&self.b[i.min(self.b.len())..]) => Err(Stop::More),
            None => Err(Stop::Bad),
        }
    }

    /// A number at `i`: the index after it. Integers of up to 18 digits are checked here;
    /// any other number only skipped, for the reference reader to judge (`slow`).
    fn number(&mut self, mut i: usize) -> Scanned<usize> {
        let start = i;
        if self.at(i)? == b'-' {
            i += 1;
        }
        match self.at(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                i += 1;
                while self.at(i)?.is_ascii_digit() {
                    i += 1;
                }
            }
            _ => return Err(Stop::Bad),
        }
        match self.at(i)? {
            // `0` then a digit.
            b'0'..=b'9' => Err(Stop::Bad),
            b'.' | b'e' | b'E' => {
                self.slow = true;
                while matches!(self.at(i)?, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                Ok(i)
            }
            _ => {
                if i - start > 19 || (i - start == 19 && self.b[start] != b'-') {
                    self.slow = true;
                }
                Ok(i)
            }
        }
    }

    /// Any value at `i`, `depth` containers deep in the item: the index after it, and what
    /// it is for a field of the view.
    fn value(&mut self, i: usize, depth: usize) -> Scanned<(usize, Val)> {
        match self.at(i)? {
            b'"' => {
                let (k, escaped) = self.string(i + 1)?;
                Ok((
                    k + 1,
                    if escaped {
                        Val::Escaped(i, k + 1)
                    } else {
                        Val::Text(i + 1, k)
                    },
                ))
            }
            b'{' => Ok((self.object(i, depth + 1)?, Val::Other)),
            b'[' => Ok((self.array(i, depth + 1)?, Val::Other)),
            b't' => Ok((self.literal(i, b"true")?, Val::Other)),
            b'f' => Ok((self.literal(i, b"false")?, Val::Other)),
            b'n' => Ok((self.literal(i, b"null")?, Val::Null)),
            b'-' | b'0'..=b'9' => Ok((self.number(i)?, Val::Other)),
            _ => Err(Stop::Bad),
        }
    }

    /// A nested object whose `{` is at `i`: the index after its `}`.
    fn object(&mut self, i: usize, depth: usize) -> Scanned<usize> {
        if depth > MAX_DEPTH {
            return Err(Stop::Bad);
        }
        let mut i = self.ws(i + 1);
        if self.at(i)? == b'}' {
            return Ok(i + 1);
        }
        loop {
            if self.at(i)? != b'"' {
                return Err(Stop::Bad);
            }
            let (k, _) = self.string(i + 1)?;
            i = self.ws(k + 1);
            if self.at(i)? != b':' {
                return Err(Stop::Bad);
            }
            i = self.ws(i + 1);
            i = self.value(i, depth)?.0;
            i = self.ws(i);
            match self.at(i)? {
                b',' => i = self.ws(i + 1),
                b'}' => return Ok(i + 1),
                _ => return Err(Stop::Bad),
            }
        }
    }

    /// A nested array whose `[` is at `i`: the index after its `]`.
    fn array(&mut self, i: usize, depth: usize) -> Scanned<usize> {
        if depth > MAX_DEPTH {
            return Err(Stop::Bad);
        }
        let mut i = self.ws(i + 1);
        if self.at(i)? == b']' {
            return Ok(i + 1);
        }
        loop {
            i = self.value(i, depth)?.0;
            i = self.ws(i);
            match self.at(i)? {
                b',' => i = self.ws(i + 1),
                b']' => return Ok(i + 1),
                _ => return Err(Stop::Bad),
            }
        }
    }
}

/// A key the previous item had at some position, and the view slot it fills.
struct KnownAt {
    key: Vec<u8>,
    slot: Option<usize>,
    /// The interned key ([`schema::known_key`](super::schema::known_key)), for
    /// [`raw_item`].
    name: Option<(&'static str, usize)>,
}

/// The keys of the previous item, for [`scan_item`]: updated by the main scan, only read by
/// [`raw_item`]'s scan of a kept item.
enum Known<'k> {
    Update(&'k mut Vec<KnownAt>),
    Read(&'k [KnownAt]),
}

impl Known<'_> {
    #[inline]
    fn get(&self, position: usize) -> Option<&KnownAt> {
        match self {
            Known::Update(k) => k.get(position),
            Known::Read(k) => k.get(position),
        }
    }
}

/// What the item scan needs to know about the template.
struct ViewKeys {
    keys: [Option<&'static str>; 8],
    /// The slots of the template's required keys.
    required: Vec<usize>,
}

impl ViewKeys {
    /// `None` if a required key is not one of the view's (then every item takes the slow
    /// path, which checks it).
    fn of(schema: &Schema) -> Option<Self> {
        let keys = schema.view_keys();
        let required = schema
            .required
            .iter()
            .map(|r| keys.iter().position(|k| k == &Some(*r)))
            .collect::<Option<Vec<_>>>()?;
        Some(ViewKeys { keys, required })
    }

    fn slot(&self, key: &[u8]) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.is_some_and(|k| k.as_bytes() == key))
    }
}

/// Where one field of a scanned item lies: the end of what came before it (the previous
/// value's closing quote or end, or the item's `{`), where its value starts (after the
/// opening quote, for a string), and what it is.
#[derive(Clone, Copy)]
struct FieldAt {
    sep_start: usize,
    /// The key's first byte and its closing quote.
    key: (usize, usize),
    value_start: usize,
    /// A string's closing quote, or the index after any other value.
    value_end: usize,
    string: bool,
    /// A string with escapes.
    escaped: bool,
    slot: Option<usize>,
}

/// The item whose `{` is at `i`: the index after its `}`, the view's values in `slots`, each
/// field's place in `fields` (for [`Layout::learn`]); or `slow` set.
fn scan_item(
    s: &mut Scan<'_>,
    i: usize,
    view: &ViewKeys,
    mut known: Known<'_>,
    slots: &mut [Val; 8],
    fields: &mut Vec<FieldAt>,
) -> Scanned<usize> {
    let b = s.b;
    *slots = [Val::Absent; 8];
    fields.clear();
    let mut sep_start = i;
    let mut i = s.ws(i + 1);
    if s.at(i)? == b'}' {
        return Ok(i + 1);
    }
    let mut position = 0;
    loop {
        if s.at(i)? != b'"' {
            return Err(Stop::Bad);
        }
        position += 1;
        if position > super::MAX_FIELDS {
            return Err(Stop::Bad);
        }
        // The key: usually the one the previous item had here (it has no quote, backslash or
        // control character, so the bytes and a closing quote are the whole check).
        let cached = known.get(position - 1).and_then(|k| {
            let end = i + 1 + k.key.len();
            (b.get(i + 1..end) == Some(&k.key[..]) && b.get(end) == Some(&b'"'))
                .then_some((end, k.slot))
        });
        let (key_end, slot) = match cached {
            Some(hit) => hit,
            None => {
                let (k, escaped) = s.string(i + 1)?;
                if escaped {
                    // It may be a view key in disguise: the reference code decodes it.
                    s.slow = true;
                    (k, None)
                } else {
                    let key = &b[i + 1..k];
                    let slot = view.slot(key);
                    if let Known::Update(known) = &mut known {
                        let entry = KnownAt {
                            key: key.to_vec(),
                            slot,
                            name: std::str::from_utf8(key)
                                .ok()
                                .and_then(super::schema::known_key),
                        };
                        match known.get_mut(position - 1) {
                            Some(e) => *e = entry,
                            None => known.push(entry),
                        }
                    }
                    (k, slot)
                }
            }
        };
        let key = (i + 1, key_end);
        i = s.ws(key_end + 1);
        if s.at(i)? != b':' {
            return Err(Stop::Bad);
        }
        i = s.ws(i + 1);
        let (end, value) = s.value(i, 0)?;
        let string = matches!(value, Val::Text(..) | Val::Escaped(..));
        // A string's closing quote starts what follows it.
        let value_end = if string { end - 1 } else { end };
        fields.push(FieldAt {
            sep_start,
            key,
            value_start: if string { i + 1 } else { i },
            value_end,
            string,
            escaped: matches!(value, Val::Escaped(..)),
            slot,
        });
        sep_start = value_end;
        if let Some(slot) = slot {
            // A later duplicate wins, as in the item.
            slots[slot] = value;
        }
        i = s.ws(end);
        match s.at(i)? {
            b',' => i = s.ws(i + 1),
            b'}' => return Ok(i + 1),
            _ => return Err(Stop::Bad),
        }
    }
}

/// Bytes between two values that repeat from item to item, with the line feeds in them.
struct Gap {
    bytes: scan::Pattern,
    lines: u64,
    last_lf: Option<usize>,
}

impl Gap {
    fn new(bytes: &[u8]) -> Self {
        Gap {
            bytes: scan::Pattern::new(bytes),
            lines: bytes.iter().filter(|&&c| c == b'\n').count() as u64,
            last_lf: bytes.iter().rposition(|&c| c == b'\n'),
        }
    }

    /// Whether the gap is at `i`; if so, its line feeds are counted.
    #[inline]
    fn is_at(&self, s: &mut Scan<'_>, i: usize) -> bool {
        if !self.bytes.is_at(s.b, i) {
            return false;
        }
        s.lines += self.lines;
        if let Some(lf) = self.last_lf {
            s.last_lf = Some(i + lf);
        }
        true
    }
}

/// The shape of an item, learnt from one the scan read: every byte but the values' (keys,
/// whitespace, punctuation, and which values are strings). Items of one report are written by
/// one program and nearly all share a shape: an item that has it is read by comparing those
/// bytes a chunk at a time and scanning its string values, nothing else.
struct Layout {
    fields: Vec<LayoutField>,
    /// From the last value's end (a string's closing quote) to the item's `}`.
    tail: Gap,
}

/// One field of a [`Layout`].
struct LayoutField {
    /// The gap before its value (ending with the opening quote of a string).
    gap: Gap,
    /// Whether the value is a string.
    string: bool,
    slot: Option<usize>,
    /// The last escaped strings this field held (at most [`REPEATS`], each of at most
    /// [`REPEAT_BYTES`]), each with its closing quote: a value with escapes often repeats from
    /// item to item (a control's parameters as escaped JSON, a framework's description), and
    /// bytes equal to a string the scan accepted, up to and including its closing quote, are
    /// that string again — one compare instead of a stop per escape.
    repeats: Vec<scan::Pattern>,
}

/// Escaped values a [`LayoutField`] remembers, and the longest it remembers.
const REPEATS: usize = 2;
const REPEAT_BYTES: usize = 256;

/// Shapes kept: a report mixing a few (an optional key) keeps finding one.
const LAYOUTS: usize = 4;

/// A non-negative integer of at most 17 digits at `i` (the common number of a report: a
/// count), followed by something that is not part of a number: the index after it. `None`
/// for anything else, the buffer's end included (the general scan decides then).
#[inline]
fn short_integer(b: &[u8], i: usize) -> Option<usize> {
    let first = *b.get(i)?;
    let mut k = i + 1;
    if first != b'0' {
        if !first.is_ascii_digit() {
            return None;
        }
        while b.get(k)?.is_ascii_digit() {
            k += 1;
            if k - i > 17 {
                return None;
            }
        }
    }
    match *b.get(k)? {
        b'0'..=b'9' | b'.' | b'e' | b'E' => None,
        _ => Some(k),
    }
}

impl Layout {
    /// The shape of the item ending at `end` whose fields are at `fields` (`None` for an item
    /// without fields).
    fn learn(b: &[u8], end: usize, fields: &[FieldAt]) -> Option<Self> {
        let last = fields.last()?;
        let fields = fields
            .iter()
            .map(|f| {
                Some(LayoutField {
                    gap: Gap::new(b.get(f.sep_start..f.value_start)?),
                    string: f.string,
                    slot: f.slot,
                    repeats: Vec::new(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Layout {
            fields,
            tail: Gap::new(b.get(last.value_end..end)?),
        })
    }

    /// Reads the item at `start` if it has this shape: the index after its `}`, the view's
    /// values in `slots`. `Ok(None)` if it has another shape.
    #[inline]
    fn read(
        &mut self,
        s: &mut Scan<'_>,
        start: usize,
        slots: &mut [Val; 8],
    ) -> Scanned<Option<usize>> {
        *slots = [Val::Absent; 8];
        let saved = (s.lines, s.last_lf, s.slow);
        let mut i = start;
        for field in &mut self.fields {
            if !field.gap.is_at(s, i) {
                (s.lines, s.last_lf, s.slow) = saved;
                return Ok(None);
            }
            i += field.gap.bytes.len();
            let value = if field.string {
                // The first stop: a plain string ends there; an escaped one may be one the
                // field held before.
                let stop = scan::json_string_stop(s.b, i).ok_or(Stop::More)?;
                let (k, escaped) = if s.b[stop] == b'"' {
                    (stop, false)
                } else if let Some(len) = field
                    .repeats
                    .iter()
                    .find(|r| r.is_at(s.b, i))
                    .map(scan::Pattern::len)
                {
                    (i + len - 1, true)
                } else {
                    let (k, escaped) = s.string_rest(stop)?;
                    if escaped && k + 1 - i <= REPEAT_BYTES {
                        if field.repeats.len() == REPEATS {
                            field.repeats.remove(0);
                        }
                        field.repeats.push(scan::Pattern::new(&s.b[i..=k]));
                    }
                    (k, escaped)
                };
                let v = if escaped {
                    Val::Escaped(i - 1, k + 1)
                } else {
                    Val::Text(i, k)
                };
                i = k;
                v
            } else if let Some(end) = short_integer(s.b, i) {
                i = end;
                Val::Other
            } else {
                let (end, v) = s.value(i, 0)?;
                i = end;
                v
            };
            if let Some(slot) = field.slot {
                slots[slot] = value;
            }
        }
        if !self.tail.is_at(s, i) {
            (s.lines, s.last_lf, s.slow) = saved;
            return Ok(None);
        }
        Ok(Some(i + self.tail.bytes.len()))
    }
}

/// Where the streaming reader takes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handover {
    /// At the start of the report.
    Start,
    /// Right after the `[` of `reportItems` (no item handed on yet).
    AfterOpen,
    /// Right after the last item handed on.
    AfterItem,
}

/// Reads `p` (a JSON object report) into `ctx`, handing over to the streaming reader where
/// the scan stops.
pub(super) fn read(
    p: &mut Prepared<'_>,
    ctx: &mut Ctx<'_>,
) -> Result<Option<ReportTemplate>, ReportError> {
    let mut w = Window::new();
    let mut fast = Fast {
        schema: None,
        view: None,
        known: Vec::new(),
        layouts: Vec::new(),
        fields: Vec::new(),
        raw: RawItem::new(),
        key_order: Vec::new(),
        decoded: String::new(),
    };
    ctx.meter.mark(Region::TopLevel);

    // `{ "reportItems" : [` exactly (any whitespace), near the start.
    loop {
        let mut s = Scan::new(w.bytes());
        match opening(&mut s) {
            Ok(end) => {
                let (lines, last_lf) = (s.lines, s.last_lf);
                w.accept(end, lines, last_lf);
                break;
            }
            Err(Stop::More) if !w.eof && w.len < OPENING_WITHIN => {
                if let Err(e) = w.refill(&mut p.reader) {
                    return handover(w, Handover::Start, Some(e), p, ctx, &fast);
                }
            }
            Err(_) => return handover(w, Handover::Start, None, p, ctx, &fast),
        }
    }

    let mut after = Handover::AfterOpen;
    loop {
        ctx.meter.mark(Region::Item { line: None });
        // Scan the next item (or the array's end), refilling until it is whole.
        let step = loop {
            match next_item(&w, after, &mut fast, ctx) {
                Err(Stop::More) if !w.eof => {
                    if let Err(e) = w.refill(&mut p.reader) {
                        if ctx.meter.exceeded().is_some() {
                            // A size limit: the caller names it (the error is a stand-in).
                            return Err(super::io_error(
                                ctx.source_name,
                                p.origin.of_error(p.gzip),
                                e,
                            ));
                        }
                        return handover(w, after, Some(e), p, ctx, &fast);
                    }
                }
                other => break other,
            }
        };
        match step {
            Ok(Next::Item {
                end,
                lines,
                last_lf,
            }) => {
                w.accept(end, lines, last_lf);
                after = Handover::AfterItem;
            }
            Ok(Next::End) => break,
            Err(_) => return handover(w, after, None, p, ctx, &fast),
        }
    }

    // `] }` and nothing but whitespace to the end.
    ctx.meter.mark(Region::TopLevel);
    loop {
        let mut s = Scan::new(w.bytes());
        match trailer(&mut s, w.pos, w.eof) {
            Ok(()) => return Ok(fast.schema.map(|s| s.template).or(ctx.hint)),
            Err(Stop::More) if !w.eof => {
                if let Err(e) = w.refill(&mut p.reader) {
                    if ctx.meter.exceeded().is_some() {
                        return Err(super::io_error(
                            ctx.source_name,
                            p.origin.of_error(p.gzip),
                            e,
                        ));
                    }
                    return handover(w, after, Some(e), p, ctx, &fast);
                }
            }
            Err(_) => return handover(w, after, None, p, ctx, &fast),
        }
    }
}

/// The fast path's state across items.
struct Fast {
    schema: Option<&'static Schema>,
    view: Option<ViewKeys>,
    known: Vec<KnownAt>,
    /// Item shapes seen, most recently used first.
    layouts: Vec<Layout>,
    /// The last scanned item's fields.
    fields: Vec<FieldAt>,
    /// The slow path's item.
    raw: RawItem,
    key_order: KeyOrder,
    /// Decoded escaped values of the view.
    decoded: String,
}

/// What [`next_item`] did.
enum Next {
    /// An item was handed on; the window accepts up to `end`.
    Item {
        end: usize,
        lines: u64,
        last_lf: Option<usize>,
    },
    /// The `]` of `reportItems` is next (not accepted: the trailer is checked from `pos`).
    End,
}

/// `ws { ws "reportItems" ws : ws [` from the start: the index after the `[`.
fn opening(s: &mut Scan<'_>) -> Scanned<usize> {
    let mut i = s.ws(0);
    if s.at(i)? != b'{' {
        return Err(Stop::Bad);
    }
    i = s.ws(i + 1);
    i = s.literal(i, b"\"reportItems\"")?;
    i = s.ws(i);
    if s.at(i)? != b':' {
        return Err(Stop::Bad);
    }
    i = s.ws(i + 1);
    if s.at(i)? != b'[' {
        return Err(Stop::Bad);
    }
    Ok(i + 1)
}

/// `ws ] ws } ws` to the end of the report, from `i`.
fn trailer(s: &mut Scan<'_>, i: usize, eof: bool) -> Scanned<()> {
    let mut i = s.ws(i);
    if s.at(i)? != b']' {
        return Err(Stop::Bad);
    }
    i = s.ws(i + 1);
    if s.at(i)? != b'}' {
        return Err(Stop::Bad);
    }
    i = s.ws(i + 1);
    match s.b.get(i) {
        Some(_) => Err(Stop::Bad),
        None if eof => Ok(()),
        None => Err(Stop::More),
    }
}

/// From the window's `pos`: the separator, then an item (handed on) or the array's end.
fn next_item(w: &Window, after: Handover, fast: &mut Fast, ctx: &mut Ctx<'_>) -> Scanned<Next> {
    let b = w.bytes();
    let mut s = Scan::new(b);
    let mut i = s.ws(w.pos);
    match s.at(i)? {
        b']' => return Ok(Next::End),
        b',' if after == Handover::AfterItem => i = s.ws(i + 1),
        b'{' if after == Handover::AfterOpen => {}
        _ => return Err(Stop::Bad),
    }
    if s.at(i)? != b'{' {
        return Err(Stop::Bad);
    }
    let start = i;
    let mut slots = [Val::Absent; 8];
    // The item's end and its number of fields.
    let (end, field_count) = match &fast.view {
        Some(view) => {
            let mut found = None;
            for (n, layout) in fast.layouts.iter_mut().enumerate() {
                if let Some(end) = layout.read(&mut s, start, &mut slots)? {
                    found = Some((n, end, layout.fields.len()));
                    break;
                }
            }
            match found {
                Some((n, end, count)) => {
                    if n > 0 {
                        // Most recently used first.
                        fast.layouts[..=n].rotate_right(1);
                    }
                    (end, count)
                }
                None => {
                    let end = scan_item(
                        &mut s,
                        start,
                        view,
                        Known::Update(&mut fast.known),
                        &mut slots,
                        &mut fast.fields,
                    )?;
                    if !s.slow
                        && let Some(layout) = Layout::learn(b, end, &fast.fields)
                    {
                        fast.layouts.truncate(LAYOUTS - 1);
                        fast.layouts.insert(0, layout);
                    }
                    (end, fast.fields.len())
                }
            }
        }
        // The first item (or a template whose required keys the view misses): only its end
        // is needed here.
        None => {
            s.slow = true;
            (s.object(start, 0)?, 0)
        }
    };
    let (lines, last_lf) = (s.lines, s.last_lf);
    if s.slow {
        slow_item(&b[start..end], fast, ctx)?;
    } else {
        fast_item(b, &w.utf8, start, end, field_count, &slots, fast, ctx)?;
    }
    Ok(Next::Item {
        end,
        lines,
        last_lf,
    })
}

/// Hands on an item the scan read: its view from the buffer; its owned finding, if one is
/// asked for, read from its bytes by the reference code.
#[allow(clippy::too_many_arguments)]
fn fast_item(
    b: &[u8],
    utf8: &scan::Utf8Prefix,
    start: usize,
    end: usize,
    field_count: usize,
    slots: &[Val; 8],
    fast: &mut Fast,
    ctx: &mut Ctx<'_>,
) -> Scanned<()> {
    let (Some(schema), Some(view_keys)) = (fast.schema, &fast.view) else {
        return Err(Stop::Bad);
    };
    for &r in &view_keys.required {
        if slots[r] == Val::Absent {
            // The reference reader names the missing key.
            return Err(Stop::Bad);
        }
    }
    let bytes = &b[start..end];
    // Past the valid prefix: invalid UTF-8 in the item (the reference reader names it).
    let text = utf8.text(b, start..end).ok_or(Stop::Bad)?;
    // Escaped values decoded into one buffer, borrowed below.
    let decoded = &mut fast.decoded;
    decoded.clear();
    let mut ranges = [const { None }; 8];
    for (slot, value) in slots.iter().enumerate() {
        match *value {
            Val::Escaped(s, e) => {
                let v: String = serde_json::from_slice(&b[s..e]).map_err(|_| Stop::Bad)?;
                if !v.is_empty() {
                    ranges[slot] = Some(decoded.len()..decoded.len() + v.len());
                    decoded.push_str(&v);
                }
            }
            // A wrong type: the reference reader names it.
            Val::Other => return Err(Stop::Bad),
            Val::Absent | Val::Null | Val::Text(..) => {}
        }
    }
    let decoded = &fast.decoded;
    let mut fields: [Option<&str>; 8] = [None; 8];
    // A string value without escapes, as text: `None` never happens (the value lies in the
    // item).
    let unescaped = |s: usize, e: usize| -> Option<&str> {
        let range = s.checked_sub(start)?..e.checked_sub(start)?;
        // SAFETY: a string's content starts right after its opening `"` and ends right before
        // its closing `"` (the scan's `Val::Text`); `text` is the item.
        unsafe { scan::ascii_bounded(text, range) }
    };
    for ((field, value), range) in fields.iter_mut().zip(slots).zip(&ranges) {
        *field = match *value {
            Val::Text(s, e) if s < e => unescaped(s, e),
            Val::Escaped(..) => range.clone().and_then(|r| decoded.get(r)),
            _ => None,
        };
    }
    let make = |view: &FindingView<'_>| {
        let mut raw = RawItem::with_capacities(field_count + 2, bytes.len());
        if let Err(problem) = raw_item(text, view_keys, &fast.known, field_count, &mut raw) {
            // Not reached: the scan accepts only what the reference reader accepts (the
            // differential tests and the fuzz targets hold it to that).
            tracing::error!(
                problem,
                index = view.index,
                "the JSON fast path accepted an item it cannot read again"
            );
        }
        schema.finding_from(view, raw)
    };
    let item = super::Item {
        view: FindingView::from_fields(schema.template, fields, ctx.items),
        make: &make,
    };
    (ctx.each)(&item);
    ctx.items += 1;
    Ok(())
}

/// Reads the item `bytes` (one the scan accepted, and read without `slow`) into `raw`, field
/// for field as the reference reader's `fill_raw` does: known keys interned, a key's first
/// occurrence kept in place with its last value, strings as text (escaped ones decoded),
/// other values as serde makes them. Runs for the findings a digest keeps only.
fn raw_item(
    item: &str,
    view: &ViewKeys,
    known: &[KnownAt],
    field_count: usize,
    raw: &mut RawItem,
) -> Result<(), &'static str> {
    use super::schema::{self, Kind};
    use serde_json::Value;
    let bytes = item.as_bytes();
    let mut s = Scan::new(bytes);
    let (mut slots, mut fields) = ([Val::Absent; 8], Vec::with_capacity(field_count));
    let end = scan_item(&mut s, 0, view, Known::Read(known), &mut slots, &mut fields)
        .map_err(|_| "the item does not scan")?;
    if end != bytes.len() || s.slow {
        return Err("the item is not one the scan reads");
    }
    // Known keys seen so far, by known-key index (see `fill_raw`).
    let mut seen: u128 = 0;
    for (position, f) in fields.iter().enumerate() {
        let key = item.get(f.key.0..f.key.1).ok_or("a key is not text")?;
        // A string is kept as text (as `FieldSeed::put_text`), anything else as its value.
        let (text, value): (Option<Cow<str>>, Option<Value>) = if f.string {
            let text = if f.escaped {
                Cow::Owned(
                    unescape(&bytes[f.value_start..f.value_end])
                        .ok_or("a string does not decode")?,
                )
            } else {
                Cow::Borrowed(
                    item.get(f.value_start..f.value_end)
                        .ok_or("a string is not text")?,
                )
            };
            (Some(text), None)
        } else {
            let value = &bytes[f.value_start..f.value_end];
            // A count (most numbers of a report) as serde reads it: a `u64` (at most 17
            // digits: no overflow). What follows the value is in the item: its `}` at least.
            let v = if short_integer(bytes, f.value_start) == Some(f.value_end) {
                Value::from(
                    value
                        .iter()
                        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
                )
            } else {
                serde_json::from_slice::<Value>(value).map_err(|_| "a value does not parse")?
            };
            (None, Some(v))
        };
        // The interned key, as the scan's cache found it for this position.
        let name = match known.get(position) {
            Some(k) if k.key == key.as_bytes() => k.name,
            _ => schema::known_key(key),
        };
        match name {
            Some((k, i)) => {
                let distinct = i < 128 && seen & (1u128 << i) == 0;
                if i < 128 {
                    seen |= 1u128 << i;
                }
                match (text, value) {
                    (Some(t), _) if distinct => raw.push_text_static(k, &t, Kind::Text),
                    (Some(t), _) => raw.insert_text_static(k, &t),
                    (None, Some(v)) if distinct => raw.push_distinct_static(k, v),
                    (None, Some(v)) => raw.insert_static(k, v),
                    (None, None) => {}
                }
            }
            None => match (text, value) {
                (Some(t), _) => raw.insert_text(key, &t),
                (None, Some(v)) => raw.insert(key, v),
                (None, None) => {}
            },
        }
    }
    Ok(())
}

/// The text of a string's content (between its quotes) that the scan accepted, its escapes
/// decoded as serde decodes them (a surrogate pair into one character). A bad escape or a
/// lone surrogate gives `None`; a raw control character is not looked for (the scan rejects
/// it before).
fn unescape(content: &[u8]) -> Option<String> {
    // The scan's own hex check (exactly four hex digits).
    let hex4 = |i: usize| Scan::new(content).hex4(i).ok().map(u32::from);
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while let Some(k) = content[i..].iter().position(|&c| c == b'\\').map(|k| i + k) {
        out.extend_from_slice(&content[i..k]);
        let c = *content.get(k + 1)?;
        i = k + 2;
        let simple = match c {
            b'"' | b'\\' | b'/' => c,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut n = hex4(i)?;
                i += 4;
                if (0xD800..=0xDBFF).contains(&n) {
                    if content.get(i..i + 2) != Some(b"\\u") {
                        return None;
                    }
                    let low = hex4(i + 2)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    n = 0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
                let ch = char::from_u32(n)?;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(simple);
    }
    out.extend_from_slice(&content[i..]);
    String::from_utf8(out).ok()
}

/// Hands on an item read by the reference code from its bytes (`Bad` if it does not read:
/// the streaming reader then gives the error).
fn slow_item(bytes: &[u8], fast: &mut Fast, ctx: &mut Ctx<'_>) -> Scanned<()> {
    json::item_from_slice(bytes, &mut fast.raw, &mut fast.key_order).map_err(|_| Stop::Bad)?;
    json::emit_raw(ctx, &mut fast.schema, &fast.raw).map_err(|_| Stop::Bad)?;
    if fast.view.is_none()
        && let Some(schema) = fast.schema
    {
        fast.view = ViewKeys::of(schema);
    }
    Ok(())
}

/// A reader that fails once with `error` (the error the report's reader gave the fast path),
/// then ends.
struct FailOnce(Option<io::Error>);

impl Read for FailOnce {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Hands the rest of the report, from the window's `pos`, to the streaming reader: behind a
/// prefix that puts it inside `reportItems` (unless at the start) at `pos`'s line and column,
/// then the buffered bytes, `error` if reading failed, then the rest of the report.
fn handover(
    w: Window,
    at: Handover,
    error: Option<io::Error>,
    p: &mut Prepared<'_>,
    ctx: &mut Ctx<'_>,
    fast: &Fast,
) -> Result<Option<ReportTemplate>, ReportError> {
    let (line, column) = w.position();
    let state: &[u8] = match at {
        Handover::Start => b"",
        Handover::AfterOpen => b"{\"reportItems\":[",
        Handover::AfterItem => b"{\"reportItems\":[{}",
    };
    // On the first line the prefix itself takes up columns (`pos` is past at least as many
    // bytes of the report's own first line: the opening and an item's `{}`).
    let (newlines, spaces) = if line > 1 {
        (line - 1, column)
    } else {
        (0, column.saturating_sub(state.len() as u64))
    };
    debug_assert!(line > 1 || column >= state.len() as u64);
    let prefix = state
        .chain(io::repeat(b'\n').take(newlines))
        .chain(io::repeat(b' ').take(spaces));
    let rest = &w.buf[w.pos..w.len];
    let input = prefix
        .chain(rest)
        .chain(FailOnce(error))
        .chain(&mut p.reader);
    let origin = p.origin.clone();
    json::read_from(
        input,
        &origin,
        p.gzip,
        ctx,
        Resume {
            schema: fast.schema,
            skip_first: at == Handover::AfterItem,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_value(b: &[u8]) -> Scanned<(usize, Val, bool)> {
        let mut s = Scan::new(b);
        let (end, v) = s.value(0, 0)?;
        Ok((end, v, s.slow))
    }

    #[test]
    fn escaped_strings_decode_as_serde_decodes_them() {
        for token in [
            r#""a\"b""#,
            r#""{\"requiredFrequencyValue\": \"1\", \"requiredRetentionDays\": \"35\"}""#,
            r#""\\ \/ \b \f \n \r \t end""#,
            r#""\u00e9t\u00C9 \u6771\u4eac \ud83d\ude00 \u0000 x""#,
            r#""Zürich \"東京\" ✓""#,
            r#""\\""#,
        ] {
            let want: String = serde_json::from_str(token).expect(token);
            let content = &token.as_bytes()[1..token.len() - 1];
            // The scan accepts it, as an escaped string.
            let (end, value, _) = scan_value(token.as_bytes()).expect(token);
            assert_eq!((end, value), (token.len(), Val::Escaped(0, token.len())));
            assert_eq!(unescape(content).as_deref(), Some(want.as_str()), "{token}");
        }
        // What the scan rejects does not decode either.
        for content in [&br"\x"[..], br"\u12", br"\ud83d", br"\ud83d\u0041", br"a\"] {
            assert_eq!(unescape(content), None);
        }
    }

    #[test]
    fn short_integers_end_where_numbers_end_or_leave_it_to_the_scan() {
        for (input, want) in [
            (&b"216,"[..], Some(3)),
            (b"0}", Some(1)),
            (b"12345678901234567 ", Some(17)),
            (b"123456789012345678 ", None),
            (b"01,", None),
            (b"1.5,", None),
            (b"1e3,", None),
            (b"-1,", None),
            (b"12", None),
            (b"x", None),
        ] {
            assert_eq!(
                short_integer(input, 0),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn values_end_where_serde_says_or_stop() {
        for (input, want) in [
            (&b"\"ab\" "[..], Ok((4, Val::Text(1, 3), false))),
            (b"\"a\\\"b\",", Ok((6, Val::Escaped(0, 6), false))),
            (b"\"\\ud83d\\ude00\"]", Ok((14, Val::Escaped(0, 14), false))),
            (b"\"\\ud83d\"", Err(Stop::Bad)),
            (b"\"\\ude00\"", Err(Stop::Bad)),
            (b"\"\\x\"", Err(Stop::Bad)),
            (b"\"a\nb\"", Err(Stop::Bad)),
            (b"\"ab", Err(Stop::More)),
            (b"null,", Ok((4, Val::Null, false))),
            (b"nul", Err(Stop::More)),
            (b"nux", Err(Stop::Bad)),
            (b"-12}", Ok((3, Val::Other, false))),
            (b"012", Err(Stop::Bad)),
            (b"-", Err(Stop::More)),
            (b"-a", Err(Stop::Bad)),
            (b"1.5e3,", Ok((5, Val::Other, true))),
            (b"123456789012345678,", Ok((18, Val::Other, false))),
            (b"1234567890123456789,", Ok((19, Val::Other, true))),
            (b"-123456789012345678,", Ok((19, Val::Other, false))),
            (
                b"{\"a\": [1, {}], \"b\": null} ",
                Ok((25, Val::Other, false)),
            ),
            (b"[1,]", Err(Stop::Bad)),
            (b"{\"a\":1,}", Err(Stop::Bad)),
            (b"{\"a\" 1}", Err(Stop::Bad)),
            (b"[", Err(Stop::More)),
        ] {
            assert_eq!(
                scan_value(input),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(scan_value(deep.as_bytes()), Err(Stop::Bad));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(scan_value(ok.as_bytes()).is_ok());
    }
}
