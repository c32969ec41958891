//! The store facade: opens (locks, recovers) a store directory, runs the
//! background threads (dispatch, flush, queue flush, retention) and offers
//! the put API. Reads live in `read.rs`.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use protocol::message::EncodedRecords;

use crate::checkpoint::Checkpoint;
use crate::commitlog::{Appended, CommitLog};
use crate::config::{FlushDiskType, StoreConfig};
use crate::consume_queue::ConsumeQueues;
use crate::dispatch::{ArrivalListener, Dispatcher};
use crate::error::{Result, StoreError};
use crate::flush::{Flusher, LogicsFlusher};
use crate::health::StoreHealth;
use crate::index::IndexService;
use crate::mapped_file::sync_dir;
use crate::metadata::MetadataFile;
use crate::prefault::Prefaulter;
use crate::recovery::{recover, RecoveryReport};
use crate::retention::{CleanReport, Retention};
use crate::signal::StopSignal;
use crate::space::DiskGuard;

/// Result of a single put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutResult {
    /// Commit-log offset of the record (offset msg id = store host + this).
    pub phys_offset: u64,
    /// Queue offset assigned.
    pub queue_offset: u64,
    /// Record size.
    pub size: u32,
    /// Store timestamp written (ms).
    pub store_timestamp: i64,
    /// Sync flush did not complete within `syncFlushTimeout`: the record is
    /// stored but maybe not durable (broker answers FLUSH_DISK_TIMEOUT).
    pub flush_timed_out: bool,
}

/// Result of a batch put (records consecutive, queue offsets consecutive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPutResult {
    /// Where each record landed, in order.
    pub records: Vec<Appended>,
    /// Sync flush timed out (see [`PutResult::flush_timed_out`]).
    pub flush_timed_out: bool,
}

/// Counters for the runtime-info command and metrics.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Records stored.
    pub put_records: AtomicU64,
    /// Bytes stored.
    pub put_bytes: AtomicU64,
    /// Puts refused or failed.
    pub put_failures: AtomicU64,
    /// Sync-flush timeouts.
    pub flush_timeouts: AtomicU64,
    /// Messages returned by `get_messages`.
    pub get_found: AtomicU64,
    /// `get_messages` calls that found nothing.
    pub get_miss: AtomicU64,
}

/// A snapshot of store state for RUNTIME_INFO-style reporting.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeInfo {
    /// Commit-log min/max offsets.
    pub commitlog_min_offset: u64,
    /// Commit-log end.
    pub commitlog_max_offset: u64,
    /// Durable commit-log end.
    pub flushed_offset: u64,
    /// Dispatched commit-log end.
    pub dispatched_offset: u64,
    /// Records stored since start.
    pub put_records: u64,
    /// Bytes stored since start.
    pub put_bytes: u64,
    /// Failed puts since start.
    pub put_failures: u64,
    /// Sync-flush timeouts since start.
    pub flush_timeouts: u64,
    /// Commit-log flush rounds since start.
    pub flush_rounds: u64,
    /// Messages served since start.
    pub get_found: u64,
    /// Empty reads since start.
    pub get_miss: u64,
    /// Puts currently refused for lack of disk.
    pub disk_full: bool,
    /// Commit-log segment count.
    pub commitlog_files: usize,
    /// Whether the last start followed a crash.
    pub recovered_abnormally: bool,
    /// A failed store thread ("thread: reason"): writes are refused.
    pub store_failure: Option<String>,
    /// Commit-log ranges recovery skipped as corrupt, `(offset, length)`.
    pub skipped_ranges: Vec<(u64, u64)>,
}

/// The message store.
pub struct MessageStore {
    pub(crate) cfg: StoreConfig,
    pub(crate) log: Arc<CommitLog>,
    pub(crate) cqs: Arc<ConsumeQueues>,
    pub(crate) index: Option<Arc<IndexService>>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    flusher: Arc<Flusher>,
    prefault: Arc<Prefaulter>,
    logics: Arc<LogicsFlusher>,
    retention: Arc<Retention>,
    guard: Arc<DiskGuard>,
    health: Arc<StoreHealth>,
    pub(crate) stats: StoreStats,
    pub(crate) total_ram: u64,
    stop: Arc<StopSignal>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    abort_path: PathBuf,
    abnormal: bool,
    recovery: RecoveryReport,
    _lock: File,
}

fn total_ram() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb * 1024)
}

fn lock_root(cfg: &StoreConfig) -> Result<File> {
    let root = &cfg.store_path_root_dir;
    std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
    let path = root.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    crate::mmap::lock_exclusive(&file).map_err(|_| StoreError::Locked(root.clone()))?;
    Ok(file)
}

impl MessageStore {
    /// Opens the store: locks the directory, loads and recovers files, and
    /// starts the background threads.
    ///
    /// # Errors
    /// Invalid config, `Locked` when another process owns the directory,
    /// I/O failures during load or recovery.
    pub fn open(cfg: StoreConfig) -> Result<Self> {
        cfg.validate()?;
        let lock = lock_root(&cfg)?;
        let root = cfg.store_path_root_dir.clone();
        let abort_path = root.join("abort");
        let abnormal = abort_path.exists();
        let log = Arc::new(
            CommitLog::open(
                &cfg.commitlog_dir(),
                cfg.mapped_file_size_commit_log,
                cfg.max_message_size,
            )?
            .with_write_through(cfg.flush_disk_type == FlushDiskType::SyncFlush),
        );
        let cqs = Arc::new(ConsumeQueues::load(
            &cfg.consume_queue_dir(),
            cfg.cq_file_size(),
        )?);
        let index = if cfg.message_index_enable {
            Some(Arc::new(IndexService::load(
                &cfg.index_dir(),
                cfg.max_hash_slot_num,
                cfg.max_index_num,
            )?))
        } else {
            None
        };
        let checkpoint = Arc::new(Checkpoint::open(&root.join("checkpoint"))?);
        let dispatcher = Arc::new(Dispatcher::new(
            Arc::clone(&log),
            Arc::clone(&cqs),
            index.clone(),
            cfg.delay_levels()?,
            0,
        ));
        let guard = Arc::new(DiskGuard::new(
            root.clone(),
            cfg.disk_space_warning_level_ratio,
        ));
        guard.check();
        let cp = checkpoint.get();
        let recovery = recover(
            &log,
            &cqs,
            index.as_ref(),
            &dispatcher,
            &cp,
            abnormal,
            cfg.check_crc_on_recover,
        )?;
        File::create(&abort_path).map_err(|e| StoreError::io(&abort_path, e))?;
        sync_dir(&root)?;
        let flusher = Arc::new(Flusher::new(Arc::clone(&log), &cfg));
        let prefault = Arc::new(Prefaulter::new(Arc::clone(&log)));
        if log.writes_through() {
            // Appends do not touch the mapping; faulting it in writable
            // would only bring back the page-table work write-through avoids.
            prefault.disable();
        }
        let logics = Arc::new(LogicsFlusher {
            cqs: Arc::clone(&cqs),
            index: index.clone(),
            dispatcher: Arc::clone(&dispatcher),
            flusher: Arc::clone(&flusher),
            checkpoint,
        });
        let retention = Arc::new(Retention {
            cfg: cfg.clone(),
            log: Arc::clone(&log),
            cqs: Arc::clone(&cqs),
            index: index.clone(),
            dispatcher: Arc::clone(&dispatcher),
            guard: Arc::clone(&guard),
        });
        let store = Self {
            cfg,
            log,
            cqs,
            index,
            dispatcher,
            flusher,
            prefault,
            logics,
            retention,
            guard,
            health: Arc::new(StoreHealth::new()),
            stats: StoreStats::default(),
            total_ram: total_ram(),
            stop: Arc::new(StopSignal::new()),
            threads: Mutex::new(Vec::new()),
            abort_path,
            abnormal,
            recovery,
            _lock: lock,
        };
        store.start_threads()?;
        Ok(store)
    }

    /// Starts the background threads, each supervised: a panic or an
    /// error it returns is recorded in `health` (see the `health` module).
    fn start_threads(&self) -> Result<()> {
        let spawn = |name: &'static str, f: Box<dyn FnOnce() -> Result<()> + Send>| {
            let health = Arc::clone(&self.health);
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    health.supervise(name, || {
                        if let Err(e) = f() {
                            health.fail(name, &e.to_string());
                        }
                    });
                })
                .map_err(|e| StoreError::io(&self.cfg.store_path_root_dir, e))
        };
        let mut threads = self.threads.lock();
        let (d, stop) = (Arc::clone(&self.dispatcher), Arc::clone(&self.stop));
        threads.push(spawn("store-dispatch", Box::new(move || d.run(&stop)))?);
        let (f, stop) = (Arc::clone(&self.flusher), Arc::clone(&self.stop));
        threads.push(spawn("store-flush", Box::new(move || f.run(&stop)))?);
        let (p, stop) = (Arc::clone(&self.prefault), Arc::clone(&self.stop));
        threads.push(spawn(
            "store-prefault",
            Box::new(move || {
                p.run(&stop);
                Ok(())
            }),
        )?);
        let (l, stop) = (Arc::clone(&self.logics), Arc::clone(&self.stop));
        let every = std::time::Duration::from_millis(self.cfg.flush_interval_consume_queue);
        threads.push(spawn(
            "store-cq-flush",
            Box::new(move || {
                l.run(&stop, every);
                Ok(())
            }),
        )?);
        let (r, stop) = (Arc::clone(&self.retention), Arc::clone(&self.stop));
        threads.push(spawn(
            "store-retention",
            Box::new(move || {
                r.run(&stop);
                Ok(())
            }),
        )?);
        let (g, stop) = (Arc::clone(&self.guard), Arc::clone(&self.stop));
        threads.push(spawn(
            "store-disk-guard",
            Box::new(move || {
                g.run(&stop);
                Ok(())
            }),
        )?);
        Ok(())
    }

    /// The configuration in use.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Whether this start recovered from a crash (abort file was present).
    pub fn recovered_abnormally(&self) -> bool {
        self.abnormal
    }

    /// What recovery found at open.
    pub fn recovery_report(&self) -> RecoveryReport {
        self.recovery.clone()
    }

    /// Appends one encoded record (remoting-protocol §7.1, QUEUEOFFSET,
    /// PHYSICALOFFSET and STORETIMESTAMP are filled here). With SYNC_FLUSH
    /// and `wait`, returns once the record is durable or the timeout passed.
    ///
    /// # Errors
    /// `DiskFull`, `ShutDown`, `MessageTooLarge`, `BadRecord` (nothing was
    /// stored); `Io` when a segment could not be created.
    pub async fn put(&self, record: &[u8], wait: bool) -> Result<PutResult> {
        let batch = self.put_batch(&[record], wait).await?;
        let a = batch
            .records
            .first()
            .ok_or(StoreError::BadRecord("empty put".into()))?;
        Ok(PutResult {
            phys_offset: a.phys_offset,
            queue_offset: a.queue_offset,
            size: a.size,
            store_timestamp: a.store_timestamp,
            flush_timed_out: batch.flush_timed_out,
        })
    }

    /// Appends several records under one lock, with consecutive queue
    /// offsets per queue; one flush wait covers them all.
    ///
    /// # Errors
    /// As [`MessageStore::put`]; a bad record rejects the whole batch.
    pub async fn put_batch<T: AsRef<[u8]>>(
        &self,
        records: &[T],
        wait: bool,
    ) -> Result<BatchPutResult> {
        let bytes: usize = records.iter().map(|r| r.as_ref().len()).sum();
        let appended = self.append_now(bytes, || self.log.append(records));
        self.finish_put(appended, wait).await
    }

    /// [`MessageStore::put_batch`] for records encoded in this process
    /// (the broker's send path): the same checks and stored bytes, without
    /// computing each body's CRC a second time.
    ///
    /// # Errors
    /// As [`MessageStore::put_batch`].
    pub async fn put_encoded(
        &self,
        records: &EncodedRecords,
        wait: bool,
    ) -> Result<BatchPutResult> {
        let appended = self.append_now(records.total_bytes(), || self.log.append_encoded(records));
        self.finish_put(appended, wait).await
    }

    async fn finish_put(
        &self,
        appended: Result<(Vec<Appended>, u64)>,
        wait: bool,
    ) -> Result<BatchPutResult> {
        let (records, end) = match appended {
            Ok(r) => r,
            Err(e) => {
                self.stats.put_failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let mut flush_timed_out = false;
        if self.cfg.flush_disk_type == FlushDiskType::SyncFlush {
            if wait {
                let ok = self
                    .flusher
                    .wait_flushed(end, self.cfg.sync_flush_timeout())
                    .await;
                if !ok {
                    self.stats.flush_timeouts.fetch_add(1, Ordering::Relaxed);
                    flush_timed_out = true;
                }
            } else {
                self.flusher.request();
            }
        }
        Ok(BatchPutResult {
            records,
            flush_timed_out,
        })
    }

    /// The synchronous part of a put: checks, appends (`append`, `bytes`
    /// in all), wakes the dispatcher.
    fn append_now(
        &self,
        bytes: usize,
        append: impl FnOnce() -> Result<(Vec<Appended>, u64)>,
    ) -> Result<(Vec<Appended>, u64)> {
        if self.stop.is_stopped() {
            return Err(StoreError::ShutDown);
        }
        self.health.check()?;
        self.guard.admit(bytes as u64)?;
        let (appended, end) = append().map_err(|e| self.guard.classify(e))?;
        self.dispatcher.wake();
        self.prefault.appended(end);
        let bytes: u64 = appended.iter().map(|a| u64::from(a.size)).sum();
        self.stats
            .put_records
            .fetch_add(appended.len() as u64, Ordering::Relaxed);
        self.stats.put_bytes.fetch_add(bytes, Ordering::Relaxed);
        Ok((appended, end))
    }

    /// Slave side of replication: appends the master's commit-log bytes at
    /// exactly `offset` (our current end; an empty store starts there);
    /// consume queues and index are built by the dispatcher as usual.
    ///
    /// # Errors
    /// `BadRecord` when `offset` is not our end; `DiskFull`; I/O failures.
    pub fn append_replicated(&self, offset: u64, data: &[u8]) -> Result<u64> {
        if self.stop.is_stopped() {
            return Err(StoreError::ShutDown);
        }
        self.health.check()?;
        self.guard.admit(data.len() as u64)?;
        let end = self
            .log
            .append_raw(offset, data)
            .map_err(|e| self.guard.classify(e))?;
        self.dispatcher.wake();
        Ok(end)
    }

    /// Slave side of replication: cuts the commit log at `end` (a slave
    /// ahead of a new master drops what the master never had), with the
    /// consume-queue entries and index positions past it; appends resume at
    /// `end`. Does nothing when `end` is at or past the current end.
    ///
    /// # Errors
    /// `BadRecord` when `end` is before the first stored offset; I/O failures.
    pub fn truncate_commitlog(&self, end: u64) -> Result<()> {
        if end >= self.log.max_offset() {
            return Ok(());
        }
        if end < self.log.min_offset() {
            return Err(StoreError::BadRecord(format!(
                "cannot truncate at {end}: the commit log starts at {}",
                self.log.min_offset()
            )));
        }
        self.dispatcher.paused_truncate(end, || -> Result<()> {
            self.log.truncate_live(end)?;
            for cq in self.cqs.all() {
                cq.truncate_beyond(end)?;
                self.log
                    .set_next_queue_offset(cq.topic(), cq.queue_id(), cq.max_offset());
            }
            if let Some(index) = &self.index {
                index.clamp_end(end)?;
            }
            Ok(())
        })?;
        self.flusher.truncated(end);
        tracing::warn!(end, "commit log truncated to follow the master");
        Ok(())
    }

    /// A slave about to take writes (controller mode promotes at run
    /// time): waits until the consume queues cover the whole commit log,
    /// then sets every queue's next offset from its consume queue, so new
    /// messages continue the replicated queues instead of reusing offsets
    /// (reference controller.md §6 trap 5). Returns false when dispatch
    /// did not catch up within `timeout` (nothing is changed then).
    pub async fn adopt_replicated_queues(&self, timeout: std::time::Duration) -> bool {
        let end = self.log.max_offset();
        if !self.wait_dispatched(end, timeout).await {
            return false;
        }
        for cq in self.cqs.all() {
            self.log
                .set_next_queue_offset(cq.topic(), cq.queue_id(), cq.max_offset());
        }
        true
    }

    /// Master side of replication: up to `max` commit-log bytes from
    /// `offset` (never crossing a segment end), sharing the mapping.
    pub fn read_commitlog(&self, offset: u64, max: usize) -> Option<bytes::Bytes> {
        self.log.read_raw(offset, max)
    }

    /// Registers the long-polling hook called after each consume-queue
    /// append with (topic, queue id, new max offset, tag hash).
    pub fn set_arrival_listener(&self, listener: ArrivalListener) {
        self.dispatcher.set_listener(Some(listener));
    }

    /// Commit-log offset up to which consume queues are built.
    pub fn dispatched_offset(&self) -> u64 {
        self.dispatcher.dispatched()
    }

    /// Waits until consume queues cover the commit log up to `offset` (e.g.
    /// a put's `phys_offset + size`), at most `timeout`. Returns false on timeout.
    pub async fn wait_dispatched(&self, offset: u64, timeout: std::time::Duration) -> bool {
        let mut rx = self.dispatcher.subscribe();
        self.dispatcher.wake();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|d| *d >= offset)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Commit-log offset known durable.
    pub fn flushed_offset(&self) -> u64 {
        self.flusher.flushed()
    }

    /// Puts are refused for lack of disk space.
    pub fn is_disk_full(&self) -> bool {
        self.guard.is_full()
    }

    /// The failure of a store thread, if one failed ("thread: reason").
    pub fn store_failure(&self) -> Option<String> {
        self.health.failure()
    }

    /// Runs one retention round now; `force_expired` ignores `deleteWhen`
    /// (TRIGGER_DELETE_FILES).
    ///
    /// # Errors
    /// Unlink failures.
    pub fn clean_expired_files(&self, force_expired: bool) -> Result<CleanReport> {
        self.retention.run_once(force_expired)
    }

    /// Deletes a topic's consume queues and forgets its offsets (its
    /// commit-log records expire normally).
    ///
    /// # Errors
    /// Unlink failures.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        self.log.remove_topic(topic);
        self.cqs.remove_topic(topic)
    }

    /// Topics that have consume queues, sorted (CLEAN_UNUSED_TOPIC looks
    /// for those no topic config names).
    pub fn queue_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .cqs
            .all()
            .iter()
            .map(|cq| cq.topic().to_owned())
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// A metadata file under `config/` (topics.json, consumerOffset.json…).
    pub fn metadata_file(&self, name: &str) -> MetadataFile {
        MetadataFile::new(&self.cfg.config_dir(), name)
    }

    /// Counters and positions.
    pub fn runtime_info(&self) -> RuntimeInfo {
        let s = &self.stats;
        RuntimeInfo {
            commitlog_min_offset: self.log.min_offset(),
            commitlog_max_offset: self.log.max_offset(),
            flushed_offset: self.flusher.flushed(),
            dispatched_offset: self.dispatcher.dispatched(),
            put_records: s.put_records.load(Ordering::Relaxed),
            put_bytes: s.put_bytes.load(Ordering::Relaxed),
            put_failures: s.put_failures.load(Ordering::Relaxed),
            flush_timeouts: s.flush_timeouts.load(Ordering::Relaxed),
            flush_rounds: self.flusher.rounds(),
            get_found: s.get_found.load(Ordering::Relaxed),
            get_miss: s.get_miss.load(Ordering::Relaxed),
            disk_full: self.is_disk_full(),
            commitlog_files: self.log.files().len(),
            recovered_abnormally: self.abnormal,
            store_failure: self.health.failure(),
            skipped_ranges: self.recovery.skipped.clone(),
        }
    }

    /// Fault state for the broker's runtime info (`brokerStatus`):
    /// disk-full refusal, a failed store thread, corrupt ranges skipped.
    pub fn fault_status(&self) -> Vec<(String, String)> {
        let mut out = vec![("storeDiskFull".to_owned(), self.is_disk_full().to_string())];
        if self.is_disk_full() {
            out.push((
                "storeDiskFullReason".to_owned(),
                self.guard.error().to_string(),
            ));
        }
        if let Some(f) = self.health.failure() {
            out.push(("storeThreadFailure".to_owned(), f));
        }
        let ranges: Vec<String> = self
            .recovery
            .skipped
            .iter()
            .map(|(at, len)| format!("{at}+{len}"))
            .collect();
        out.push(("storeCorruptRangesSkipped".to_owned(), ranges.join(",")));
        out
    }

    /// Stops the threads, flushes everything, writes the checkpoint and
    /// removes the abort file. Idempotent; also run on drop.
    ///
    /// # Errors
    /// Final flush or checkpoint failures (the abort file then stays, so
    /// the next start recovers as after a crash).
    pub fn shutdown(&self) -> Result<()> {
        if self.stop.stop() {
            return Ok(());
        }
        self.dispatcher.stop();
        self.flusher.stop();
        self.prefault.stop();
        for t in self.threads.lock().drain(..) {
            if t.join().is_err() {
                tracing::error!("store thread panicked");
            }
        }
        self.flusher.flush_now()?;
        self.dispatcher.dispatch_available(false)?;
        self.logics.flush_once()?;
        std::fs::remove_file(&self.abort_path).map_err(|e| StoreError::io(&self.abort_path, e))?;
        sync_dir(&self.cfg.store_path_root_dir)
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "store shutdown failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::build_test_record;

    /// Failpoint: the flush thread meets an EIO. Writes are refused from
    /// then on with the thread's name, the failure is reported, and what
    /// was stored before stays readable.
    #[tokio::test]
    async fn a_failed_flush_thread_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            mapped_file_size_commit_log: 64 * 1024,
            max_message_size: 32 * 1024,
            max_hash_slot_num: 64,
            max_index_num: 256,
            // The host disk is shared and may be nearly full.
            disk_space_warning_level_ratio: 100,
            disk_max_used_space_ratio: 100,
            disk_space_clean_forcibly_ratio: 100,
            ..StoreConfig::with_root(dir.path())
        };
        let store = MessageStore::open(cfg).unwrap();
        let rec = build_test_record("S", 0, b"before", &[]);
        let put = store.put(&rec, true).await.unwrap();
        assert!(store.store_failure().is_none());
        store.flusher.fail_next_flush();
        let mut waited = 0;
        while store.store_failure().is_none() && waited < 2_000 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            waited += 1;
        }
        let failure = store.store_failure().expect("the failure is recorded");
        assert!(failure.starts_with("store-flush"), "{failure}");
        let err = store.put(&rec, true).await.unwrap_err();
        assert!(matches!(err, StoreError::ThreadFailed { .. }), "{err}");
        assert!(err.to_string().contains("store-flush"), "{err}");
        assert!(store.log.read_record(put.phys_offset).is_some());
        let status = store.fault_status();
        assert!(status
            .iter()
            .any(|(k, v)| k == "storeThreadFailure" && v == &failure));
    }
}
