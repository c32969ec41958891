//! The dispatcher ("reput"): tails the commit log and, for each record,
//! appends its consume-queue entry, indexes its keys and tells the
//! long-polling listener. It is the only writer of consume queues and
//! index, and recovery re-runs it over the commit log.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};
use tokio::sync::watch;

use crate::commitlog::CommitLog;
use crate::consume_queue::{ConsumeQueue, ConsumeQueues, CqEntry};
use crate::error::Result;
use crate::index::IndexService;
use crate::record::{peek_head, tag_hash, Head, RecordView};
use crate::signal::StopSignal;
use protocol::message::properties::DispatchProperties;

/// Called after each consume-queue append: (topic, queue id, new max
/// offset, tag hash). Must be quick; it runs on the dispatcher thread.
pub type ArrivalListener = Arc<dyn Fn(&str, i32, u64, i64) + Send + Sync>;

/// Topic whose consume-queue tag field holds the delivery time.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// Parses `messageDelayLevel` ("1s 5s 1m 2h 1d") into milliseconds, level
/// 1 first. Every token counts: a bad one is an error rather than skipped,
/// since skipping would renumber the levels after it.
///
/// # Errors
/// A text naming the bad token (or saying that there is none).
pub fn parse_delay_levels(spec: &str) -> std::result::Result<Vec<i64>, String> {
    let levels = spec
        .split_whitespace()
        .map(|token| {
            let bad = || format!("`{token}` is not a whole number followed by s, m, h or d");
            // Split before the last character, whatever its width.
            let (at, unit) = token.char_indices().last().ok_or_else(bad)?;
            let n: i64 = token[..at].parse().map_err(|_| bad())?;
            let unit_ms = match unit {
                's' => 1000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => return Err(bad()),
            };
            n.checked_mul(unit_ms)
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| format!("`{token}` is out of range"))
        })
        .collect::<std::result::Result<Vec<i64>, String>>()?;
    if levels.is_empty() {
        return Err("no delay level given".into());
    }
    Ok(levels)
}

/// The dispatcher and its progress.
pub struct Dispatcher {
    log: Arc<CommitLog>,
    cqs: Arc<ConsumeQueues>,
    index: Option<Arc<IndexService>>,
    delay_levels: Vec<i64>,
    listener: RwLock<Option<ArrivalListener>>,
    dispatched: AtomicU64,
    last_ts: AtomicI64,
    progress: watch::Sender<u64>,
    wake: Mutex<bool>,
    cond: Condvar,
    /// Set while the thread is in a long (condvar) sleep: only then do
    /// appenders pay for a wake-up; while busy it polls every millisecond.
    sleeping: AtomicBool,
    /// Held for each dispatch pass, so a live truncation (replication) can
    /// keep the thread out while it cuts queues and moves the start.
    pass: Mutex<()>,
}

/// Idle polls (1 ms apart) before the dispatcher sleeps until woken.
const IDLE_POLLS: u32 = 20;

impl Dispatcher {
    /// A dispatcher starting at commit-log offset `from`.
    pub fn new(
        log: Arc<CommitLog>,
        cqs: Arc<ConsumeQueues>,
        index: Option<Arc<IndexService>>,
        delay_levels: Vec<i64>,
        from: u64,
    ) -> Self {
        Self {
            log,
            cqs,
            index,
            delay_levels,
            listener: RwLock::new(None),
            dispatched: AtomicU64::new(from),
            last_ts: AtomicI64::new(0),
            progress: watch::channel(from).0,
            wake: Mutex::new(false),
            cond: Condvar::new(),
            sleeping: AtomicBool::new(false),
            pass: Mutex::new(()),
        }
    }

    /// Installs the arrival listener (replacing any previous one).
    pub fn set_listener(&self, listener: Option<ArrivalListener>) {
        *self.listener.write() = listener;
    }

    /// Commit-log offset up to which records are dispatched.
    pub fn dispatched(&self) -> u64 {
        self.dispatched.load(Ordering::Acquire)
    }

    /// Store time of the last dispatched record.
    pub fn last_timestamp(&self) -> i64 {
        self.last_ts.load(Ordering::Acquire)
    }

    /// Moves the start (recovery).
    pub fn reset(&self, from: u64) {
        self.dispatched.store(from, Ordering::Release);
        self.progress.send_replace(from);
    }

    /// Runs `f` while no dispatch pass is in progress, then moves the start
    /// back to `end` if it was beyond (a live truncation at `end`).
    pub fn paused_truncate<R>(&self, end: u64, f: impl FnOnce() -> R) -> R {
        let _pass = self.pass.lock();
        let r = f();
        if self.dispatched() > end {
            self.reset(end);
        }
        r
    }

    /// A receiver of dispatch progress.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.progress.subscribe()
    }

    /// Wakes the dispatcher thread (after an append).
    pub fn wake(&self) {
        // Pairs with the fence in `run`: either the thread sees the new
        // commit-log end, or we see it sleeping and wake it.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            *self.wake.lock() = true;
            self.cond.notify_one();
        }
    }

    fn force_wake(&self) {
        *self.wake.lock() = true;
        self.cond.notify_one();
    }

    fn tag_code(&self, view: &RecordView<'_>, props: &DispatchProperties<'_>) -> i64 {
        if view.topic == SCHEDULE_TOPIC {
            let level = props
                .delay
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(1);
            let idx = level.clamp(1, self.delay_levels.len().max(1)) - 1;
            return view.store_timestamp + self.delay_levels.get(idx).copied().unwrap_or(1000);
        }
        props.tags.map_or(0, tag_hash)
    }

    /// Dispatches one record; `cq` is the consume queue of the record
    /// before (a batch's records share one, looked up once).
    fn dispatch_one(
        &self,
        view: &RecordView<'_>,
        phys: u64,
        notify: bool,
        cq: &mut Option<Arc<ConsumeQueue>>,
    ) -> Result<()> {
        // One pass over the properties for everything read below.
        let props = view.dispatch_properties();
        if view.is_dispatchable() {
            let tag = self.tag_code(view, &props);
            let same = cq
                .as_ref()
                .is_some_and(|q| q.queue_id() == view.queue_id && q.topic() == view.topic);
            let cq = match cq {
                Some(q) if same => q,
                slot => slot.insert(self.cqs.get_or_create(view.topic, view.queue_id)?),
            };
            let entry = CqEntry {
                phys_offset: phys as i64,
                size: view.size() as i32,
                tag_hash: tag,
            };
            let queue_offset = u64::try_from(view.queue_offset).unwrap_or(0);
            if cq.put(queue_offset, entry)? && notify {
                if let Some(l) = self.listener.read().as_ref() {
                    l(view.topic, view.queue_id, queue_offset + 1, tag);
                }
            }
        }
        if let Some(index) = &self.index {
            if !view.is_rollback() {
                let indexed = index.put_record(
                    view.topic,
                    props.uniq_key,
                    props.keys,
                    phys,
                    view.store_timestamp,
                );
                match indexed {
                    // The key index is a lookup aid: on a full disk the
                    // message goes unindexed rather than stalling every
                    // consume queue behind it until space returns.
                    Err(e) if crate::error::is_no_space(&e) => {
                        tracing::warn!(offset = phys, error = %e, "message not indexed: no disk space");
                    }
                    other => other?,
                }
            }
        }
        Ok(())
    }

    /// Dispatches everything published up to the commit-log end.
    ///
    /// # Errors
    /// I/O failures writing queues or index (progress stops before the
    /// failing record and is retried on the next call).
    pub fn dispatch_available(&self, notify: bool) -> Result<()> {
        let _pass = self.pass.lock();
        let mut from = self.dispatched();
        let end = self.log.max_offset();
        let result = self.dispatch_range(&mut from, end, notify);
        self.dispatched.store(from, Ordering::Release);
        self.progress.send_if_modified(|v| {
            let changed = *v != from;
            *v = from;
            changed
        });
        result
    }

    fn dispatch_range(&self, from: &mut u64, end: u64, notify: bool) -> Result<()> {
        if *from < self.log.min_offset() {
            *from = self.log.min_offset();
        }
        let mut cq = None;
        while *from < end {
            let Some(file) = self.log.files().find(*from) else {
                break;
            };
            if let Some(next) = self.log.skipped_range_end(*from) {
                *from = next;
                continue;
            }
            let pos = *from - file.start();
            let head = file.slice(pos, 8).map_or(Head::Invalid, peek_head);
            match head {
                Head::Blank => *from = file.end(),
                Head::Record(size) => {
                    let parsed = file.slice(pos, size).map(RecordView::parse);
                    match parsed {
                        Some(Ok(view)) => {
                            match self.dispatch_one(&view, *from, notify, &mut cq) {
                                Ok(()) => {}
                                // Never stall the whole store on one record
                                // that cannot be queued; I/O errors retry.
                                Err(crate::error::StoreError::BadRecord(e)) => {
                                    tracing::error!(offset = *from, error = %e, "record not dispatchable");
                                }
                                Err(e) => return Err(e),
                            }
                            self.last_ts.store(view.store_timestamp, Ordering::Release);
                            *from += size as u64;
                        }
                        Some(Err(e)) => {
                            tracing::error!(offset = *from, error = %e, "undecodable record; skipping segment");
                            *from = file.end();
                        }
                        None => break,
                    }
                }
                Head::Invalid if file.is_full() => {
                    tracing::error!(offset = *from, "invalid record header; skipping segment");
                    *from = file.end();
                }
                Head::Invalid => break,
            }
        }
        Ok(())
    }

    /// The dispatcher thread body: runs until `stop` is set.
    ///
    /// # Errors
    /// A queue or index write failed for a reason other than a full disk
    /// (which is retried until space returns): the store then stops taking
    /// writes rather than storing messages no consumer would see.
    pub fn run(&self, stop: &StopSignal) -> Result<()> {
        let mut idle = 0u32;
        while !stop.is_stopped() {
            if let Err(e) = self.dispatch_available(true) {
                if !crate::error::is_no_space(&e) {
                    return Err(e);
                }
                tracing::error!(error = %e, "dispatch failed for lack of disk; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            if self.dispatched() < self.log.max_offset() {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < IDLE_POLLS {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let mut woken = self.wake.lock();
            self.sleeping.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            if !*woken && self.dispatched() >= self.log.max_offset() && !stop.is_stopped() {
                self.cond.wait_for(&mut woken, Duration::from_millis(100));
            }
            self.sleeping.store(false, Ordering::SeqCst);
            *woken = false;
            idle = 0;
        }
        self.dispatch_available(true)
    }

    /// Wakes a thread blocked in `run` so it can observe `stop`.
    pub fn stop(&self) {
        self.force_wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_levels_parse() {
        let v = parse_delay_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h");
        let v = v.unwrap();
        assert_eq!(v.len(), 18);
        assert_eq!(v[0], 1000);
        assert_eq!(v[4], 60_000);
        assert_eq!(v[17], 7_200_000);
        assert_eq!(parse_delay_levels("2d").unwrap(), vec![172_800_000]);
    }

    #[test]
    fn bad_delay_levels_are_named_not_skipped() {
        // A multi-byte last character is a bad unit, not a panic.
        assert!(parse_delay_levels("1s 5é").unwrap_err().contains("5é"));
        assert!(parse_delay_levels("1s x 2s").unwrap_err().contains("`x`"));
        assert!(parse_delay_levels("1s -5s").is_err());
        assert!(parse_delay_levels("s").is_err());
        assert!(parse_delay_levels("").is_err());
        assert!(parse_delay_levels("99999999999999999d").is_err());
    }
}
