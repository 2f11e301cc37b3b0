//! Byte-level preparation of a report stream: gzip sniffing (magic bytes `1f 8b`, never the
//! name), UTF-8 BOM stripping, format sniffing (first non-blank byte), and attribution of I/O
//! errors to the raw input or to the gzip layer.

use super::Format;
use flate2::read::MultiGzDecoder;
use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// Where an I/O error seen by a parser came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// The report's own byte source (S3 body, file).
    Input,
    /// The gzip decoder: the compressed data is corrupt or truncated.
    Gzip,
}

/// Shared flag set by [`Tracked`] when the raw input fails, so an I/O error that reaches a
/// parser through the gzip decoder can be told apart from a gzip format error.
#[derive(Clone, Default)]
pub struct Origin(Rc<Cell<bool>>);

impl Origin {
    pub fn of_error(&self, gzip: bool) -> ErrorOrigin {
        if gzip && !self.0.get() {
            ErrorOrigin::Gzip
        } else {
            ErrorOrigin::Input
        }
    }
}

/// Marks the [`Origin`] when the wrapped raw input fails.
struct Tracked<R> {
    inner: R,
    origin: Origin,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if r.is_err() {
            self.origin.0.set(true);
        }
        r
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_up_to<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A report's decoded text stream, positioned at its first byte (BOM removed).
pub struct Prepared<'a> {
    pub reader: Box<dyn Read + 'a>,
    pub format: Format,
    pub gzip: bool,
    pub origin: Origin,
    /// The first non-blank byte (`[` means a top-level JSON array).
    pub first: u8,
}

/// Why [`prepare`] failed.
pub enum PrepareError {
    /// No content at all, or only whitespace.
    Empty { gzip: bool },
    /// More than `max_blank` bytes of whitespace before the first non-blank byte.
    TooMuchBlank { gzip: bool },
    Io {
        origin: ErrorOrigin,
        error: io::Error,
    },
}

/// Sniffs gzip and format; the returned reader yields the decoded report from its first byte
/// (leading whitespace kept, so parser line numbers match the file). Leading whitespace is
/// buffered to be replayed, so more than `max_blank` bytes of it is an error, not unbounded
/// memory.
pub fn prepare<'a, R: Read + 'a>(input: R, max_blank: u64) -> Result<Prepared<'a>, PrepareError> {
    let origin = Origin::default();
    let mut raw = Tracked {
        inner: input,
        origin: origin.clone(),
    };
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut raw, &mut magic).map_err(|error| PrepareError::Io {
        origin: ErrorOrigin::Input,
        error,
    })?;
    let gzip = n == 2 && magic == GZIP_MAGIC;
    let raw = Cursor::new(magic[..n].to_vec()).chain(raw);
    let mut decoded: Box<dyn Read + 'a> = if gzip {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };

    // Read until the first non-blank byte; keep what was read (minus a BOM) to replay it.
    let mut head = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    let mut bom_checked = false;
    // Bytes of `head` already known to be blank: each byte is scanned once, so a long blank
    // prefix costs linear time, not quadratic.
    let mut blank = 0;
    let first = loop {
        let k = read_up_to(&mut *decoded, &mut chunk).map_err(|error| PrepareError::Io {
            origin: origin.of_error(gzip),
            error,
        })?;
        head.extend_from_slice(&chunk[..k]);
        if !bom_checked && (head.len() >= BOM.len() || k == 0) {
            if head.starts_with(&BOM) {
                head.drain(..BOM.len());
            }
            bom_checked = true;
        }
        if bom_checked {
            if let Some(&b) = head[blank..].iter().find(|b| !b.is_ascii_whitespace()) {
                break b;
            }
            blank = head.len();
        }
        if k == 0 {
            return Err(PrepareError::Empty { gzip });
        }
        if head.len() as u64 > max_blank {
            return Err(PrepareError::TooMuchBlank { gzip });
        }
    };
    let format = if first == b'{' || first == b'[' {
        Format::Json
    } else {
        Format::Csv
    };
    Ok(Prepared {
        reader: Box::new(Cursor::new(head).chain(decoded)),
        format,
        gzip,
        origin,
        first,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn text(p: Prepared) -> String {
        let mut s = String::new();
        let mut r = p.reader;
        r.read_to_string(&mut s).unwrap();
        s
    }

    /// Hands out one byte per read, as a slow network body might.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn sniffs_gzip_by_magic_and_strips_bom() {
        let data = gz(b"\xef\xbb\xbf\"A\",\"B\"\n");
        let p = prepare(&data[..], u64::MAX).ok().unwrap();
        assert!(p.gzip);
        assert_eq!(p.format, Format::Csv);
        assert_eq!(text(p), "\"A\",\"B\"\n");
        let p = prepare(Trickle(b"\xef\xbb\xbf \n{\"reportItems\":[]}"), u64::MAX)
            .ok()
            .unwrap();
        assert!(!p.gzip);
        assert_eq!(p.format, Format::Json);
        assert_eq!(p.first, b'{');
        assert_eq!(text(p), " \n{\"reportItems\":[]}");
    }

    #[test]
    fn blank_input_is_empty() {
        for input in [&b""[..], b" \n\t ", b"\xef\xbb\xbf", b"\x1f"] {
            let r = prepare(input, u64::MAX);
            if input == b"\x1f" {
                // One byte that is not blank: a (bad) CSV, not empty.
                assert!(matches!(
                    r,
                    Ok(Prepared {
                        format: Format::Csv,
                        ..
                    })
                ));
            } else {
                assert!(matches!(r, Err(PrepareError::Empty { gzip: false })));
            }
        }
        assert!(matches!(
            prepare(&gz(b"  \n")[..], u64::MAX),
            Err(PrepareError::Empty { gzip: true })
        ));
    }
}
