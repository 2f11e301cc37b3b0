//! Feedback on long CLI work: while `send` or `dry-run` reads its sources, one line on a
//! terminal's stderr says which source (`[2/5]`), how many of its bytes are read (of how many,
//! when the store says) and how many findings are routed so far, redrawn in place a few times a
//! second. Nothing is drawn when stderr is not a terminal or with `--quiet`, so logs, pipes and
//! CI output stay clean.
//!
//! The counters ([`Progress`]) are fed by the run itself: [`crate::run::Batch::run`] names each
//! source, [`crate::run::run_report`] gives the object's size once opened, and the pipeline
//! counts bytes as the reader pulls them and findings as they are routed
//! ([`crate::pipeline::RouteOptions::progress`]). [`Display`] draws them.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(200);

/// The longest source name drawn (its end: a key's file name says most).
const MAX_NAME_CHARS: usize = 56;

/// "Unknown" for [`Progress::total`].
const UNKNOWN: u64 = u64::MAX;

/// The counters of the work in progress; shared by the run (writers) and [`Display`] (reader).
#[derive(Debug)]
pub struct Progress {
    index: AtomicUsize,
    count: AtomicUsize,
    name: Mutex<String>,
    bytes: AtomicU64,
    total: AtomicU64,
    routed: AtomicU64,
    /// Draws on stderr when set (a terminal, not `--quiet`); the counters run either way.
    draw: bool,
    /// Serialises drawing (the ticker and the end of a source).
    out: Mutex<()>,
}

impl Progress {
    /// Counters that draw on stderr when `draw` (see [`Display::start`]).
    pub fn new(draw: bool) -> Progress {
        Progress {
            index: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            name: Mutex::new(String::new()),
            bytes: AtomicU64::new(0),
            total: AtomicU64::new(UNKNOWN),
            routed: AtomicU64::new(0),
            draw,
            out: Mutex::new(()),
        }
    }

    /// Source `index` (1-based) of `count` starts: its counters restart.
    pub fn begin_source(&self, index: usize, count: usize, name: &str) {
        self.index.store(index, Ordering::Relaxed);
        self.count.store(count, Ordering::Relaxed);
        *lock(&self.name) = name.to_owned();
        self.bytes.store(0, Ordering::Relaxed);
        self.total.store(UNKNOWN, Ordering::Relaxed);
        self.routed.store(0, Ordering::Relaxed);
        self.draw_now();
    }

    /// The source's size in bytes, when the store tells it (S3 `Content-Length`).
    pub fn set_size(&self, size: Option<u64>) {
        self.total.store(size.unwrap_or(UNKNOWN), Ordering::Relaxed);
    }

    /// `n` more bytes of the source were read.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` more findings were routed to at least one sink.
    pub fn add_routed(&self, n: u64) {
        self.routed.fetch_add(n, Ordering::Relaxed);
    }

    /// The source is done: its final figures are drawn.
    pub fn end_source(&self) {
        self.draw_now();
    }

    /// The line as drawn: `[2/5] …/REPORT.json: 1.5 MiB of 3.0 MiB read, 1234 findings routed`.
    pub fn line(&self) -> String {
        let name = lock(&self.name).clone();
        let bytes = self.bytes.load(Ordering::Relaxed);
        let read = match self.total.load(Ordering::Relaxed) {
            UNKNOWN => format!("{} read", human_bytes(bytes)),
            total => format!("{} of {} read", human_bytes(bytes), human_bytes(total)),
        };
        let routed = self.routed.load(Ordering::Relaxed);
        format!(
            "[{}/{}] {}: {read}, {routed} finding{} routed",
            self.index.load(Ordering::Relaxed),
            self.count.load(Ordering::Relaxed),
            shorten(&name, MAX_NAME_CHARS),
            if routed == 1 { "" } else { "s" }
        )
    }

    fn draw_now(&self) {
        if !self.draw || self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let _held = lock(&self.out);
        let mut err = std::io::stderr().lock();
        // Carriage return, erase the line, draw: the line is replaced in place.
        let _ = write!(err, "\r\x1b[2K{}", self.line());
        let _ = err.flush();
    }

    fn clear(&self) {
        if !self.draw || self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let _held = lock(&self.out);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `n` bytes for people: `512 B`, `1.5 KiB`, `12.3 MiB`, `1.1 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The last `max` characters of `s`, after a `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let tail: String = s.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

/// The line on the terminal: redraws [`Progress`] every 200 ms from a thread of its own until
/// dropped, then erases it (what the command prints afterwards starts on a clean line).
pub struct Display {
    progress: Arc<Progress>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    /// Draws on stderr when it is a terminal and not `quiet`; otherwise the counters still run
    /// and nothing is drawn.
    pub fn start(quiet: bool) -> Display {
        use std::io::IsTerminal;
        Display::with(!quiet && std::io::stderr().is_terminal())
    }

    /// [`Display::start`] with the decision made: draw or not.
    pub fn with(draw: bool) -> Display {
        let progress = Arc::new(Progress::new(draw));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let ticker = draw.then(|| {
            let (progress, stop) = (progress.clone(), stop.clone());
            std::thread::spawn(move || {
                let (stopped, wake) = &*stop;
                let mut done = lock(stopped);
                while !*done {
                    let (guard, _timeout) = wake
                        .wait_timeout(done, TICK)
                        .unwrap_or_else(|p| p.into_inner());
                    done = guard;
                    if !*done {
                        progress.draw_now();
                    }
                }
            })
        });
        Display {
            progress,
            stop,
            ticker,
        }
    }

    /// The counters to hand to the run ([`crate::pipeline::RouteOptions::progress`]).
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *lock(stopped) = true;
        wake.notify_all();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.progress.clear();
    }
}

/// Counts the bytes a reader delivers, into [`Progress`] when there is one.
pub(crate) struct CountingReader<R> {
    inner: R,
    pub(crate) count: Arc<AtomicU64>,
    progress: Option<Arc<Progress>>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R, progress: Option<Arc<Progress>>) -> Self {
        CountingReader {
            inner,
            count: Arc::new(AtomicU64::new(0)),
            progress,
        }
    }
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.add_bytes(n as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_line_names_source_bytes_and_findings() {
        let p = Progress::new(false);
        p.begin_source(2, 5, "s3://bucket/audit/REPORT.json");
        p.set_size(Some(3 * 1024 * 1024));
        p.add_bytes(1024 * 1024 + 512 * 1024);
        p.add_routed(1234);
        assert_eq!(
            p.line(),
            "[2/5] s3://bucket/audit/REPORT.json: 1.5 MiB of 3.0 MiB read, 1234 findings routed"
        );
        p.begin_source(3, 5, "local.csv");
        p.add_bytes(10);
        p.add_routed(1);
        assert_eq!(p.line(), "[3/5] local.csv: 10 B read, 1 finding routed");
    }

    #[test]
    fn long_names_keep_their_end() {
        let long = format!("s3://bucket/{}/REPORT.json", "x".repeat(100));
        let s = shorten(&long, MAX_NAME_CHARS);
        assert_eq!(s.chars().count(), MAX_NAME_CHARS);
        assert!(s.starts_with('…') && s.ends_with("/REPORT.json"), "{s}");
    }

    #[test]
    fn counting_reader_counts_what_it_delivers() {
        let p = Arc::new(Progress::new(false));
        let mut r = CountingReader::new(&b"hello world"[..], Some(p.clone()));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(r.count.load(Ordering::Relaxed), 11);
        assert_eq!(p.bytes.load(Ordering::Relaxed), 11);
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
