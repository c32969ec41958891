//! Retention and disk protection (storage-format §9): expired commit-log
//! segments go at `deleteWhen` hours or when the disk passes
//! `diskMaxUsedSpaceRatio`; past `diskSpaceCleanForciblyRatio` even
//! unexpired ones go, oldest first; past `diskSpaceWarningLevelRatio` puts
//! are refused. Consume-queue and index files below the new commit-log
//! minimum follow. The active segment and undispatched data are never
//! deleted.

use std::sync::Arc;
use std::time::Duration;

use crate::commitlog::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::ConsumeQueues;
use crate::dispatch::Dispatcher;
use crate::error::Result;
use crate::index::IndexService;
use crate::mapped_file::now_ms;
use crate::mmap::local_time;
use crate::signal::StopSignal;
use crate::space::DiskGuard;

/// The retention worker.
pub struct Retention {
    /// Settings.
    pub cfg: StoreConfig,
    /// The commit log.
    pub log: Arc<CommitLog>,
    /// Consume queues.
    pub cqs: Arc<ConsumeQueues>,
    /// Index (when enabled).
    pub index: Option<Arc<IndexService>>,
    /// Dispatch progress (undispatched data is kept).
    pub dispatcher: Arc<Dispatcher>,
    /// Refuses puts past `diskSpaceWarningLevelRatio`.
    pub guard: Arc<DiskGuard>,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CleanReport {
    /// Disk usage ratio seen (0–1).
    pub usage: f64,
    /// Commit-log segments deleted.
    pub commitlog_files: usize,
    /// Consume-queue segments deleted.
    pub cq_files: usize,
    /// Index files deleted.
    pub index_files: usize,
}

impl Retention {
    /// One round. `force_expired` deletes expired files regardless of the
    /// hour (manual trigger and tests).
    ///
    /// # Errors
    /// Unlink failures.
    pub fn run_once(&self, force_expired: bool) -> Result<CleanReport> {
        let usage = self.guard.check();
        let pct = |r: u32| f64::from(r) / 100.0;
        let hour = local_time(now_ms()).3;
        let in_window = self.cfg.delete_hours().contains(&hour);
        let over_max = usage > pct(self.cfg.disk_max_used_space_ratio);
        let forcibly = self.cfg.clean_file_forcibly_enable
            && usage > pct(self.cfg.disk_space_clean_forcibly_ratio);
        let mut report = CleanReport {
            usage,
            ..CleanReport::default()
        };
        if force_expired || in_window || over_max || forcibly {
            let reserved = i64::try_from(self.cfg.file_reserved().as_millis()).unwrap_or(i64::MAX);
            let now = now_ms();
            let dispatched = self.dispatcher.dispatched();
            let mut forced_one = false;
            report.commitlog_files = self.log.files().delete_front_while(|f| {
                if f.end() > dispatched {
                    return false;
                }
                let expired = now - f.last_write_ms() >= reserved;
                // Forcible cleaning removes one unexpired segment per round.
                let force = forcibly && !forced_one;
                forced_one |= force && !expired;
                expired || force
            })?;
            if forced_one {
                // Data loss by policy: say so loudly, with the usage seen.
                tracing::warn!(
                    usage,
                    "disk usage over diskSpaceCleanForciblyRatio: deleted an unexpired commit-log segment"
                );
            }
        }
        let min = self.log.min_offset();
        for cq in self.cqs.all() {
            report.cq_files += cq.delete_expired(min)?;
        }
        if let Some(index) = &self.index {
            report.index_files = index.delete_expired(min)?;
        }
        if report.commitlog_files > 0 {
            tracing::info!(?report, min, "retention deleted files");
            self.guard.check();
        }
        Ok(report)
    }

    /// Thread body: a round every `cleanResourceInterval` until `stop`.
    pub fn run(&self, stop: &StopSignal) {
        let interval = Duration::from_millis(self.cfg.clean_resource_interval.max(100));
        loop {
            if let Err(e) = self.run_once(false) {
                tracing::error!(error = %e, "retention round failed");
            }
            if stop.sleep(interval) {
                return;
            }
        }
    }
}
