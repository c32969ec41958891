//! The free-space guard. Puts are refused (reads go on) while the store's
//! file system is used past `diskSpaceWarningLevelRatio`, or since an
//! allocation met `ENOSPC`; a thread re-measures on a short period so that
//! puts resume by themselves once space returns. Appenders also re-measure
//! when the last measurement is older than the period, so a burst of puts
//! cannot run far past the limit between two rounds of the thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{is_no_space, Result, StoreError};
use crate::mapped_file::now_ms;
use crate::mmap::disk_space;
use crate::signal::StopSignal;

/// How often free space is measured.
pub const CHECK_PERIOD: Duration = Duration::from_millis(200);

/// Appenders also re-measure after this many bytes, so a fast burst (a
/// 1 MiB record takes about a millisecond) cannot run past the limit.
pub const CHECK_BYTES: u64 = 1 << 20;

const LIMIT_KEY: &str = "diskSpaceWarningLevelRatio";

/// The guard's state.
pub struct DiskGuard {
    root: PathBuf,
    limit_pct: u32,
    full: AtomicBool,
    free: AtomicU64,
    checked_ms: AtomicI64,
    /// Bytes admitted since the last measurement.
    since_check: AtomicU64,
}

impl DiskGuard {
    /// A guard for the file system holding `root`, refusing past `limit_pct`.
    pub fn new(root: PathBuf, limit_pct: u32) -> Self {
        Self {
            root,
            limit_pct,
            full: AtomicBool::new(false),
            free: AtomicU64::new(u64::MAX),
            checked_ms: AtomicI64::new(0),
            since_check: AtomicU64::new(0),
        }
    }

    /// Measures now and updates the state; returns the used ratio (0–1).
    /// A file system that cannot be measured counts as not full (the
    /// allocation check still catches a real `ENOSPC`).
    pub fn check(&self) -> f64 {
        self.checked_ms.store(now_ms(), Ordering::Relaxed);
        self.since_check.store(0, Ordering::Relaxed);
        let Ok(space) = disk_space(&self.root) else {
            return 0.0;
        };
        self.free.store(space.available, Ordering::Relaxed);
        let full = space.used_ratio > f64::from(self.limit_pct) / 100.0 || space.available == 0;
        self.set_full(full, space.used_ratio);
        space.used_ratio
    }

    fn set_full(&self, full: bool, usage: f64) {
        if full == self.full.swap(full, Ordering::AcqRel) {
            return;
        }
        let free = self.free.load(Ordering::Relaxed);
        let path = self.root.display().to_string();
        if full {
            tracing::error!(free, %path, usage, limit = self.limit_pct,
                "disk full: puts are refused until space is freed (reads continue)");
        } else {
            tracing::warn!(free, %path, usage, "disk space is back: puts accepted again");
        }
    }

    /// Whether puts are refused now.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    /// `Ok` when a put of `bytes` may go ahead; re-measures first when the
    /// last measurement is older than [`CHECK_PERIOD`] or [`CHECK_BYTES`]
    /// were admitted since.
    ///
    /// # Errors
    /// `DiskFull` naming the free bytes, the path and the limit.
    pub fn admit(&self, bytes: u64) -> Result<()> {
        let age = now_ms() - self.checked_ms.load(Ordering::Relaxed);
        let written = self.since_check.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if written >= CHECK_BYTES || u128::try_from(age).unwrap_or(0) >= CHECK_PERIOD.as_millis() {
            self.check();
        }
        if self.is_full() {
            return Err(self.error());
        }
        Ok(())
    }

    /// The refusal answered while full.
    pub fn error(&self) -> StoreError {
        StoreError::DiskFull {
            free: self.free.load(Ordering::Relaxed),
            path: self.root.clone(),
            key: LIMIT_KEY,
            ratio: self.limit_pct,
        }
    }

    /// Turns an out-of-space I/O error into `DiskFull` (and refuses further
    /// puts until a measurement says otherwise); other errors pass through.
    pub fn classify(&self, e: StoreError) -> StoreError {
        if !is_no_space(&e) {
            return e;
        }
        if let Ok(space) = disk_space(&self.root) {
            self.free.store(space.available, Ordering::Relaxed);
        }
        self.checked_ms.store(now_ms(), Ordering::Relaxed);
        self.set_full(true, 1.0);
        tracing::error!(error = %e, "a store file could not get disk blocks");
        self.error()
    }

    /// Thread body: measures every [`CHECK_PERIOD`] until `stop`.
    pub fn run(&self, stop: &StopSignal) {
        while !stop.sleep(CHECK_PERIOD) {
            self.check();
        }
    }
}
