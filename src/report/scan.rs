//! Byte scans for the report readers' fast paths: "the first byte of a class at or after `i`",
//! 16 bytes at a time with SSE2 on x86_64 (part of the architecture's baseline, so no runtime
//! detection) and 8 bytes at a time in plain integer arithmetic (SWAR) everywhere else (the
//! arm64 Lambda). Both answer exactly like the byte-at-a-time definitions; the tests compare
//! all three on generated input.

/// The bytes that end a run of ordinary JSON string content: `"`, `\` and the control
/// characters (`< 0x20`), which JSON strings may not hold raw.
#[inline]
pub(super) fn is_json_string_stop(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The first `i' >= i` with [`is_json_string_stop`]`(b[i'])`, or `None`.
#[inline]
pub(super) fn json_string_stop(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::json_string_stop(b, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        swar::json_string_stop(b, i)
    }
}

/// The first `i' >= i` with `b[i']` equal to `x` or `y`, or `None` (a CSV quoted field's scan
/// for its closing quote or a line feed, which counts a line). Inline SSE2 on x86_64 (no call
/// for a 20-byte field); `memchr2` elsewhere (NEON on arm64).
#[inline]
pub(super) fn find2(x: u8, y: u8, b: &[u8], i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::find2(x, y, b, i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        memchr::memchr2(x, y, b.get(i..)?).map(|k| i + k)
    }
}

/// How much of a buffer is known to be valid UTF-8: its first `upto` bytes. Checked once per
/// refill over the new bytes (simdutf8, at many GB/s), instead of once per item or record,
/// whose call overhead cost more than the check on ~200-byte records.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Utf8Prefix {
    upto: usize,
}

impl Utf8Prefix {
    /// Checks `buf` on from `upto`: the prefix grows to the first invalid byte, or to a
    /// character cut off by the end of `buf` (checked again once the rest is read).
    pub fn extend(&mut self, buf: &[u8]) {
        let Some(rest) = buf.get(self.upto..) else {
            return;
        };
        match simdutf8::compat::from_utf8(rest) {
            Ok(_) => self.upto = buf.len(),
            Err(e) => self.upto += e.valid_up_to(),
        }
    }

    /// The buffer lost its first `n` bytes (moved to the front).
    pub fn shift(&mut self, n: usize) {
        self.upto = self.upto.saturating_sub(n);
    }

    /// `buf[range]` as text, if it lies in the valid prefix and starts and ends at character
    /// boundaries (readers pass ranges that start and end at ASCII punctuation).
    #[inline]
    pub fn text<'b>(&self, buf: &'b [u8], range: std::ops::Range<usize>) -> Option<&'b str> {
        if range.end > self.upto {
            return None;
        }
        let bytes = buf.get(range.clone())?;
        let boundary = |i: usize| buf.get(i).is_none_or(|&c| (c as i8) >= -0x40);
        if !boundary(range.start) || !boundary(range.end) {
            return None;
        }
        // SAFETY: `buf[..upto]` is valid UTF-8 (checked by `extend`, piece by piece, each
        // piece ending at a character boundary), and `range` lies in it with both ends on
        // character boundaries (neither is a continuation byte), so it is a whole run of
        // characters.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }
}

/// `text[range]`, with no character-boundary check: `None` only if `range` is out of bounds.
///
/// # Safety
/// Each end of `range` must be `0`, `text.len()`, or next to an ASCII byte of `text` on the
/// range's side (right after one at the start, right before one at the end): in valid UTF-8
/// such a position is a character boundary, so the slice is a whole run of characters. The
/// readers' field spans are bounded by quotes, delimiters and line ends this way.
#[inline]
pub(super) unsafe fn ascii_bounded(text: &str, range: std::ops::Range<usize>) -> Option<&str> {
    let bytes = text.as_bytes().get(range.clone())?;
    debug_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
    // SAFETY: `bytes` is a run of `text`, which is valid UTF-8, and both its ends are
    // character boundaries (the caller's contract above).
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// A byte string to compare the input against, kept padded with zeros to whole 16-byte
/// chunks so the comparison loads both sides a chunk at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Pattern {
    padded: Vec<u8>,
    len: usize,
    /// The index of the last chunk, and which of its bytes belong to the pattern (bit `k`
    /// for byte `k`): worked out once here, not at each comparison (a gap is compared about
    /// ten times an item).
    last: usize,
    want: u32,
}

impl Pattern {
    pub fn new(bytes: &[u8]) -> Self {
        let mut padded = bytes.to_vec();
        padded.resize(bytes.len().div_ceil(16) * 16, 0);
        let last = bytes.len().saturating_sub(1) / 16;
        let want = match bytes.len() {
            0 => 0,
            // 1 to 16 bytes in the last chunk.
            n => (1u32 << (n - 16 * last)) - 1,
        };
        Pattern {
            padded,
            len: bytes.len(),
            last,
            want,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn bytes(&self) -> &[u8] {
        &self.padded[..self.len]
    }

    /// Whether `b[i..]` starts with the pattern.
    #[inline]
    pub fn is_at(&self, b: &[u8], i: usize) -> bool {
        if self.len == 0 {
            return i <= b.len();
        }
        // Chunk-wise when the input has a whole number of chunks from `i` (it nearly always
        // has: the buffer holds 64 KiB), byte-wise near its end.
        match b.get(i..i + self.padded.len()) {
            Some(window) => {
                #[cfg(target_arch = "x86_64")]
                {
                    sse2::chunks_equal_masked(window, &self.padded, self.last, self.want)
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    swar::chunks_equal(window, &self.padded, self.len)
                }
            }
            None => b.get(i..i + self.len) == Some(self.bytes()),
        }
    }
}

/// The first `i' >= i` whose byte is not a space, or `b.len()`.
#[inline]
pub(super) fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let x = u64::from_le_bytes(*w) ^ swar::splat(b' ');
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// Word-at-a-time versions: every byte test is exact (no false positives in the bytes after a
/// hit), so the lowest set bit is the first matching byte.
pub(super) mod swar {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;

    #[inline]
    pub const fn splat(c: u8) -> u64 {
        (c as u64) * 0x0101_0101_0101_0101
    }

    /// The high bit of every zero byte of `v`.
    #[inline]
    fn zero_bytes(v: u64) -> u64 {
        // (v & 0x7f) + 0x7f never carries into the next byte.
        !(((v & LO7) + LO7) | v | LO7)
    }

    /// The high bit of every byte of `v` below `n` (`n <= 0x80`).
    #[inline]
    fn bytes_below(v: u64, n: u8) -> u64 {
        // (v & 0x7f) + (0x80 - n) stays below 0x100: no carry.
        !(((v & LO7) + splat(0x80 - n)) | v) & HI
    }

    #[inline]
    fn first(m: u64) -> usize {
        (m.trailing_zeros() / 8) as usize
    }

    #[inline]
    fn word(b: &[u8], i: usize) -> Option<u64> {
        b.get(i..)
            .and_then(|r| r.first_chunk::<8>())
            .map(|w| u64::from_le_bytes(*w))
    }

    #[inline]
    pub fn json_string_stop(b: &[u8], mut i: usize) -> Option<usize> {
        while let Some(v) = word(b, i) {
            let m =
                zero_bytes(v ^ splat(b'"')) | zero_bytes(v ^ splat(b'\\')) | bytes_below(v, 0x20);
            if m != 0 {
                return Some(i + first(m));
            }
            i += 8;
        }
        super::tail(b, i, super::is_json_string_stop)
    }

    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    #[inline]
    pub fn find2(x: u8, y: u8, b: &[u8], mut i: usize) -> Option<usize> {
        while let Some(v) = word(b, i) {
            let m = zero_bytes(v ^ splat(x)) | zero_bytes(v ^ splat(y));
            if m != 0 {
                return Some(i + first(m));
            }
            i += 8;
        }
        super::tail(b, i, |c| c == x || c == y)
    }

    // On x86_64 the SSE2 version is used; this one is still tested there.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    #[inline]
    pub fn chunks_equal(a: &[u8], b: &[u8], len: usize) -> bool {
        let mut k = 0;
        while k + 8 <= len {
            if word(a, k) != word(b, k) {
                return false;
            }
            k += 8;
        }
        let rest = len - k;
        if rest == 0 {
            return true;
        }
        let mask = (1u64 << (8 * rest)) - 1;
        match (word(a, k), word(b, k)) {
            (Some(x), Some(y)) => (x ^ y) & mask == 0,
            _ => a.get(k..len) == b.get(k..len),
        }
    }
}

#[inline]
fn tail(b: &[u8], i: usize, stop: impl Fn(u8) -> bool) -> Option<usize> {
    b.get(i..)?.iter().position(|&c| stop(c)).map(|k| i + k)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// The first byte at or after `i` whose lane `classify` marks (one bit per byte, as
    /// `_mm_movemask_epi8` gives them), 16 bytes at a time; the last few bytes through one
    /// load that overlaps the bytes already seen (their bits shifted out).
    #[inline(always)]
    fn first_marked(b: &[u8], mut i: usize, classify: impl Fn(__m128i) -> u32) -> Option<usize> {
        let len = b.len();
        while i + 16 <= len {
            // SAFETY: `i + 16 <= len`: 16 readable bytes; no alignment needed.
            let v = unsafe { _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>()) };
            let mask = classify(v);
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
        if i >= len {
            return None;
        }
        if len >= 16 {
            let start = len - 16;
            // SAFETY: `start + 16 == len`.
            let v = unsafe { _mm_loadu_si128(b.as_ptr().add(start).cast::<__m128i>()) };
            // `i - start < 16`: the lanes before `i` are shifted out.
            let mask = classify(v) >> (i - start);
            return (mask != 0).then(|| i + mask.trailing_zeros() as usize);
        }
        None
    }

    #[inline]
    pub fn json_string_stop(b: &[u8], i: usize) -> Option<usize> {
        // SAFETY (every intrinsic below): SSE2 is part of the x86_64 baseline; these are
        // register operations with no memory access.
        let (q, bs, ctl) = unsafe {
            (
                _mm_set1_epi8(b'"' as i8),
                _mm_set1_epi8(b'\\' as i8),
                _mm_set1_epi8(0x1f),
            )
        };
        if b.len() < 16 {
            return super::swar::json_string_stop(b, i);
        }
        first_marked(b, i, |x| unsafe {
            // min(x, 0x1f) == x exactly for the bytes <= 0x1f (unsigned).
            let m = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x),
            );
            _mm_movemask_epi8(m) as u32
        })
    }

    /// Whether chunks `0..last` of `a` and `b` are equal and chunk `last` is equal in the
    /// bytes `want` marks (false if either is shorter than `last + 1` chunks).
    #[inline]
    pub fn chunks_equal_masked(a: &[u8], b: &[u8], last: usize, want: u32) -> bool {
        if a.len().min(b.len()) / 16 <= last {
            return false;
        }
        let eq = |c: usize| -> u32 {
            // SAFETY: `c <= last` and both slices hold `last + 1` chunks (checked above);
            // SSE2 is part of the x86_64 baseline.
            unsafe {
                let x = _mm_loadu_si128(a.as_ptr().add(16 * c).cast::<__m128i>());
                let y = _mm_loadu_si128(b.as_ptr().add(16 * c).cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) as u32
            }
        };
        for c in 0..last {
            if eq(c) != 0xffff {
                return false;
            }
        }
        eq(last) & want == want
    }

    #[inline]
    pub fn find2(x: u8, y: u8, b: &[u8], i: usize) -> Option<usize> {
        // SAFETY: as above.
        let (vx, vy) = unsafe { (_mm_set1_epi8(x as i8), _mm_set1_epi8(y as i8)) };
        if b.len() < 16 {
            return super::swar::find2(x, y, b, i);
        }
        first_marked(b, i, |v| unsafe {
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, vx), _mm_cmpeq_epi8(v, vy))) as u32
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(b: &[u8], i: usize, stop: impl Fn(u8) -> bool) -> Option<usize> {
        (i..b.len()).find(|&k| stop(b[k]))
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                4 => Just(b'a'),
                1 => Just(b'"'),
                1 => Just(b'\\'),
                1 => Just(b'\n'),
                1 => Just(b' '),
                1 => Just(0x1fu8),
                1 => Just(0x20u8),
                1 => Just(0x7fu8),
                1 => Just(0x80u8),
                1 => Just(0xffu8),
                1 => any::<u8>(),
            ],
            0..100,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn scans_agree_with_the_byte_definitions(b in bytes(), start in 0usize..110) {
            let expected = naive(&b, start, is_json_string_stop);
            prop_assert_eq!(json_string_stop(&b, start), expected);
            prop_assert_eq!(swar::json_string_stop(&b, start), expected);
            let expected = naive(&b, start, |c| c == b'"' || c == b'\n');
            prop_assert_eq!(find2(b'"', b'\n', &b, start), expected);
            prop_assert_eq!(swar::find2(b'"', b'\n', &b, start), expected);
            let spaces = naive(&b, start.min(b.len()), |c| c != b' ').unwrap_or(b.len());
            prop_assert_eq!(skip_spaces(&b, start.min(b.len())), spaces);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn patterns_match_like_starts_with(
            b in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..70),
            pat in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..40),
            at in 0usize..70,
        ) {
            let p = Pattern::new(&pat);
            let want = b.get(at..).is_some_and(|r| r.starts_with(&pat));
            prop_assert_eq!(p.is_at(&b, at), want);
            let padded = p.padded.clone();
            if let Some(window) = b.get(at..at + padded.len()) {
                prop_assert_eq!(swar::chunks_equal(window, &padded, pat.len()), want);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn the_valid_prefix_gives_text_exactly_where_std_does(
            b in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b','), Just(0xc3u8), Just(0xa9u8), Just(0xe2u8),
                    Just(0x82u8), Just(0xacu8), Just(0xffu8)],
                0..60,
            ),
            cuts in proptest::collection::vec(0usize..60, 0..4),
            start in 0usize..60,
            len in 0usize..60,
        ) {
            // Extended over growing prefixes, as refills do.
            let mut p = Utf8Prefix::default();
            let mut cuts = cuts;
            cuts.sort_unstable();
            for c in cuts.into_iter().chain([b.len()]) {
                p.extend(&b[..c.min(b.len())]);
            }
            let end = (start + len).min(b.len());
            let start = start.min(end);
            let got = p.text(&b, start..end);
            if let Some(t) = got {
                prop_assert_eq!(t.as_bytes(), &b[start..end]);
            }
            // Whenever the buffer up to `end` is valid, a range between characters is text.
            let boundary = |i: usize| b.get(i).is_none_or(|&c| !(0x80..0xc0).contains(&c));
            if std::str::from_utf8(&b[..end]).is_ok()
                && std::str::from_utf8(&b[..start]).is_ok()
                && boundary(start)
                && boundary(end)
            {
                prop_assert!(got.is_some());
            }
        }
    }

    #[test]
    fn every_byte_value_at_every_lane() {
        for c in 0..=255u8 {
            for lane in 0..20 {
                let mut b = vec![b'a'; 24];
                b[lane] = c;
                let want = is_json_string_stop(c).then_some(lane);
                assert_eq!(json_string_stop(&b, 0), want, "byte {c:#x} at {lane}");
                assert_eq!(swar::json_string_stop(&b, 0), want, "byte {c:#x} at {lane}");
                let want = (c == b'"' || c == b'\n').then_some(lane);
                assert_eq!(find2(b'"', b'\n', &b, 0), want, "byte {c:#x} at {lane}");
                assert_eq!(swar::find2(b'"', b'\n', &b, 0), want);
            }
        }
    }
}
