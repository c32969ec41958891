//! Commit-log flushing. Async mode flushes on an interval when enough pages
//! are dirty (and thoroughly every so often); sync mode is a group commit:
//! appenders wake the flusher and wait on a watch of the flushed offset, and
//! one fsync covers everyone who was waiting.
//!
//! In sync mode appends go through the file (`pwrite`, see
//! `CommitLog::with_write_through`) and a round fdatasyncs: measured on the
//! 2-core VM, msync of pages that appenders dirty through the mapping cost
//! about 3.5 ms per round against about 1 ms for fdatasync after plain
//! writes (page-table write-protection and TLB shootdowns while the
//! appenders keep writing), which nearly tripled sync throughput. Running
//! several rounds at once on more threads measured slower here (two: 5–10%
//! fewer appends per second, four: 20% fewer), so one thread runs them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use crate::checkpoint::{Checkpoint, CheckpointData};
use crate::commitlog::CommitLog;
use crate::config::{FlushDiskType, StoreConfig};
use crate::consume_queue::ConsumeQueues;
use crate::dispatch::Dispatcher;
use crate::error::Result;
use crate::index::IndexService;
use crate::signal::StopSignal;

const PAGE: u64 = 4096;

/// The commit-log flusher.
pub struct Flusher {
    log: Arc<CommitLog>,
    mode: FlushDiskType,
    interval: Duration,
    least_bytes: u64,
    thorough: Duration,
    flushed: watch::Sender<u64>,
    flushed_ts: AtomicI64,
    rounds: AtomicU64,
    wake: Mutex<bool>,
    cond: Condvar,
    #[cfg(test)]
    fail_next: std::sync::atomic::AtomicBool,
}

impl Flusher {
    /// A flusher for `log` configured from `cfg`.
    pub fn new(log: Arc<CommitLog>, cfg: &StoreConfig) -> Self {
        let start = log.files().flushed_offset().max(log.max_offset());
        Self {
            log,
            mode: cfg.flush_disk_type,
            interval: Duration::from_millis(cfg.flush_interval_commit_log),
            least_bytes: cfg.flush_commit_log_least_pages * PAGE,
            thorough: Duration::from_millis(cfg.flush_commit_log_thorough_interval),
            flushed: watch::channel(start).0,
            flushed_ts: AtomicI64::new(0),
            rounds: AtomicU64::new(0),
            wake: Mutex::new(false),
            cond: Condvar::new(),
            #[cfg(test)]
            fail_next: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Commit-log offset known durable.
    pub fn flushed(&self) -> u64 {
        *self.flushed.borrow()
    }

    /// Store time of the newest record known durable.
    pub fn flushed_timestamp(&self) -> i64 {
        self.flushed_ts.load(Ordering::Acquire)
    }

    /// Flush rounds (msync calls over the commit log) since start: with
    /// sync flush, records per round shows how well group commit groups.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    /// Lowers the durable mark after a live truncation at `end`.
    pub fn truncated(&self, end: u64) {
        self.flushed.send_if_modified(|v| {
            let above = *v > end;
            if above {
                *v = end;
            }
            above
        });
    }

    /// Asks the flusher to run now (sync mode).
    pub fn request(&self) {
        *self.wake.lock() = true;
        self.cond.notify_one();
    }

    /// Waits until everything below `end` is durable, up to `timeout`.
    /// Returns false on timeout.
    pub async fn wait_flushed(&self, end: u64, timeout: Duration) -> bool {
        let mut rx = self.flushed.subscribe();
        self.request();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|f| *f >= end)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Flushes everything published now (an fdatasync when appends go
    /// through the file, else an msync).
    ///
    /// # Errors
    /// Sync failure.
    pub fn flush_now(&self) -> Result<u64> {
        let ts = self.log.last_store_timestamp();
        let files = self.log.files();
        let off = if self.log.writes_through() {
            files.flush_through()?
        } else {
            files.flush()?
        };
        self.rounds.fetch_add(1, Ordering::Relaxed);
        self.flushed_ts.fetch_max(ts, Ordering::AcqRel);
        self.flushed.send_if_modified(|v| {
            let grew = off > *v;
            if grew {
                *v = off;
            }
            grew
        });
        Ok(off)
    }

    /// A flusher thread body: runs until `stop`, then flushes once more.
    ///
    /// # Errors
    /// A failed sync other than `ENOSPC`: after a failed fsync the kernel
    /// may have dropped the dirty pages, so retrying could report data
    /// durable that is not; the store stops taking writes instead.
    pub fn run(&self, stop: &StopSignal) -> Result<()> {
        match self.mode {
            FlushDiskType::SyncFlush => self.run_sync(stop)?,
            FlushDiskType::AsyncFlush => self.run_async(stop)?,
        }
        self.flush_now().map(|_| ())
    }

    /// Waits for a request or `wait`, whichever comes first.
    fn wait_request(&self, wait: Duration) {
        let mut woken = self.wake.lock();
        if !*woken {
            self.cond.wait_for(&mut woken, wait);
        }
        *woken = false;
    }

    fn run_async(&self, stop: &StopSignal) -> Result<()> {
        let mut last_thorough = Instant::now();
        while !stop.is_stopped() {
            self.wait_request(self.interval);
            let dirty = self.log.files().dirty_bytes();
            let due = dirty >= self.least_bytes.max(1)
                || (dirty > 0 && last_thorough.elapsed() >= self.thorough);
            if due {
                last_thorough = Instant::now();
                self.flush_checked()?;
            }
        }
        Ok(())
    }

    fn run_sync(&self, stop: &StopSignal) -> Result<()> {
        while !stop.is_stopped() {
            self.wait_request(Duration::from_millis(10));
            if self.log.files().dirty_bytes() > 0 {
                self.flush_checked()?;
            }
        }
        Ok(())
    }

    /// One round; only an out-of-space failure is retried (see `run`).
    fn flush_checked(&self) -> Result<()> {
        #[cfg(test)]
        if self.fail_next.swap(false, Ordering::AcqRel) {
            return Err(crate::error::StoreError::io(
                self.log.files().dir(),
                std::io::Error::from_raw_os_error(libc::EIO),
            ));
        }
        match self.flush_now() {
            Ok(_) => Ok(()),
            Err(e) if crate::error::is_no_space(&e) => {
                tracing::error!(error = %e, "commit-log flush failed; retrying");
                std::thread::sleep(Duration::from_millis(50));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Test failpoint: the next flush round fails with EIO.
    #[cfg(test)]
    pub(crate) fn fail_next_flush(&self) {
        self.fail_next.store(true, Ordering::Release);
        self.request();
    }

    /// Wakes the thread so it can observe `stop`.
    pub fn stop(&self) {
        self.request();
    }
}

/// Flushes consume queues and index, then records progress in the checkpoint.
pub struct LogicsFlusher {
    /// Queues to flush.
    pub cqs: Arc<ConsumeQueues>,
    /// Index to flush (when enabled).
    pub index: Option<Arc<IndexService>>,
    /// Source of dispatch progress.
    pub dispatcher: Arc<Dispatcher>,
    /// Source of commit-log durability.
    pub flusher: Arc<Flusher>,
    /// The checkpoint file.
    pub checkpoint: Arc<Checkpoint>,
}

impl LogicsFlusher {
    /// One round: flush queues and index, then persist the checkpoint.
    ///
    /// # Errors
    /// msync or checkpoint write failures.
    pub fn flush_once(&self) -> Result<()> {
        let dispatched = self.dispatcher.dispatched();
        let logics_ts = self.dispatcher.last_timestamp();
        self.cqs.flush()?;
        if let Some(index) = &self.index {
            index.flush()?;
        }
        let physic = self.flusher.flushed();
        self.checkpoint.store(CheckpointData {
            physic_msg_timestamp: self.flusher.flushed_timestamp(),
            logics_msg_timestamp: logics_ts,
            index_msg_timestamp: logics_ts,
            physic_offset: Some(physic),
            logics_offset: Some(dispatched),
        })
    }

    /// Thread body: a round every `interval` until `stop`.
    pub fn run(&self, stop: &StopSignal, interval: Duration) {
        while !stop.sleep(interval) {
            if let Err(e) = self.flush_once() {
                tracing::error!(error = %e, "consume-queue flush failed");
            }
        }
    }
}
