//! The store's error type; the broker maps each variant to a response code.

use std::path::PathBuf;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system failure on a named path.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process holds the store lock.
    #[error("store directory {0} is locked by another process")]
    Locked(PathBuf),
    /// Disk usage passed the limit, or the file system had no blocks left
    /// for a segment; puts are refused, reads continue, and puts resume by
    /// themselves once space returns.
    #[error("disk full: {free} bytes free on {path}, limit {key}={ratio}")]
    DiskFull {
        /// Bytes available when last measured.
        free: u64,
        /// The store root.
        path: PathBuf,
        /// The config key holding the limit.
        key: &'static str,
        /// Its value (percent).
        ratio: u32,
    },
    /// A store thread died (panic or fatal I/O error): writes are refused
    /// because what follows them (flush, dispatch) no longer runs.
    #[error(
        "store thread {thread} failed: {reason}; writes are refused until the broker restarts"
    )]
    ThreadFailed {
        /// The thread's name.
        thread: String,
        /// The panic message or error.
        reason: String,
    },
    /// The record is larger than `maxMessageSize` or a segment.
    #[error("message too large: {size} bytes (limit {limit})")]
    MessageTooLarge {
        /// Record size.
        size: usize,
        /// Limit that was exceeded.
        limit: usize,
    },
    /// A record handed to `put` (or read from disk) is malformed.
    #[error("bad record: {0}")]
    BadRecord(String),
    /// A configuration value is invalid.
    #[error("bad store config: {key}: {reason}")]
    Config {
        /// The Java-style key.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A metadata file could not be parsed (neither it nor its `.bak`).
    #[error("corrupt metadata file {path}: {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// The store is shutting down or was shut down.
    #[error("store is shut down")]
    ShutDown,
}

impl StoreError {
    /// Wraps an `io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// True for an I/O error that means the file system is out of space.
pub(crate) fn is_no_space(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC)
        || source.raw_os_error() == Some(libc::EDQUOT))
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
