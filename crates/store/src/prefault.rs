//! Faults commit-log pages in ahead of the writer, on its own thread.
//!
//! The first write to each page of a fresh (sparse) segment takes a page
//! fault in which the kernel allocates and zeroes a page: measured, that was
//! about 40% of an append's time. Doing it a few MiB ahead of the end, off
//! the append path, leaves appends a plain copy (RocketMQ warms whole files
//! for the same reason; here only a window ahead is touched, so there is no
//! up-front cost and no extra disk write).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::commitlog::CommitLog;
use crate::signal::StopSignal;

/// How far ahead of the commit-log end pages are faulted in.
const AHEAD: u64 = 8 << 20;
/// Faulted in per call, so a huge gap never holds the thread long.
const CHUNK: u64 = 1 << 20;

/// The pre-faulting service.
pub struct Prefaulter {
    log: Arc<CommitLog>,
    /// Global offset below which pages are known resident.
    warmed: AtomicU64,
    /// Off after the OS refused (older kernels).
    disabled: AtomicBool,
    wake: Mutex<bool>,
    cond: Condvar,
}

impl Prefaulter {
    /// A pre-faulter for `log`.
    pub fn new(log: Arc<CommitLog>) -> Self {
        Self {
            warmed: AtomicU64::new(log.max_offset()),
            log,
            disabled: AtomicBool::new(false),
            wake: Mutex::new(false),
            cond: Condvar::new(),
        }
    }

    /// Turns the service off (its thread then ends at once).
    pub fn disable(&self) {
        self.disabled.store(true, Ordering::Relaxed);
        self.stop();
    }

    /// Called after an append ending at `end`: wakes the thread once the
    /// writer is half-way through the warmed window.
    pub fn appended(&self, end: u64) {
        if end + AHEAD / 2 > self.warmed.load(Ordering::Relaxed)
            && !self.disabled.load(Ordering::Relaxed)
        {
            *self.wake.lock() = true;
            self.cond.notify_one();
        }
    }

    /// Thread body: runs until `stop`.
    pub fn run(&self, stop: &StopSignal) {
        while !stop.is_stopped() && !self.disabled.load(Ordering::Relaxed) {
            {
                let mut woken = self.wake.lock();
                if !*woken {
                    self.cond.wait_for(&mut woken, Duration::from_millis(100));
                }
                *woken = false;
            }
            self.warm_ahead(stop);
        }
    }

    /// Wakes the thread so it can observe `stop`.
    pub fn stop(&self) {
        *self.wake.lock() = true;
        self.cond.notify_one();
    }

    /// Faults in the pages from the end of what is warm (or the commit-log
    /// end) up to `AHEAD` past the end, within the current segment.
    fn warm_ahead(&self, stop: &StopSignal) {
        let end = self.log.max_offset();
        let Some(file) = self.log.files().find(end) else {
            return;
        };
        let target = (end + AHEAD).min(file.end());
        let mut from = self.warmed.load(Ordering::Relaxed).max(end);
        while from < target && !stop.is_stopped() {
            let to = (from + CHUNK).min(target);
            // Populating pages the file system has no blocks for would
            // fail (or, written later, SIGBUS); allocate first, and on a
            // full disk leave the append path to report it.
            if let Err(e) = file.ensure_allocated(to - file.start()) {
                tracing::debug!(error = %e, "no blocks to pre-fault into");
                return;
            }
            match file.prefault(from - file.start(), to - file.start()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                    tracing::debug!("pre-faulting commit-log pages is not supported here");
                    self.disabled.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pre-faulting commit-log pages failed");
                    return;
                }
            }
            self.warmed.store(to, Ordering::Relaxed);
            from = to;
        }
    }
}
