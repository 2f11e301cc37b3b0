//! What the process sets up before any work, for the CLI and the Lambda function alike: the
//! allocator's arenas, the async runtime, the CLI's log.

/// glibc gives every thread that allocates its own malloc arena (up to 8 per core), and memory
/// freed in one stays there: with the runtime's worker threads reading, rendering and sending,
/// peak RSS counted the same transient memory several times over (measured: ~25 MB of a
/// 100 MB dry-run peak on a 25 MB report). Two arenas serve one report at a time. Call it first
/// thing in `main`, before any other thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; the caller runs it before any other
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Elsewhere there is nothing to tune.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_malloc_arenas() {}

/// The multi-threaded tokio runtime every command and the Lambda function run on.
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The CLI's log: human-readable lines on stderr, `RUST_LOG` as the filter (default `warn`), so
/// stdout carries only the command's output.
pub fn init_cli_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
