//! Read API for pull, query and offset commands. Messages come back as
//! `Bytes` slices of the mapped segments: no per-message copy.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::consume_queue::CqEntry;
use crate::store::MessageStore;

/// Outcome of [`MessageStore::get_messages`] (Java `GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    /// Messages returned.
    Found,
    /// Entries existed but none passed the filter.
    NoMatchedMessage,
    /// The commit log no longer holds the entries' records.
    MessageWasRemoving,
    /// No entry at the offset although it is within range.
    OffsetFoundNull,
    /// Offset equals the max offset (nothing new yet).
    OffsetOverflowOne,
    /// Offset is past the max offset.
    OffsetOverflowBadly,
    /// Offset is below the min offset.
    OffsetTooSmall,
    /// The queue does not exist or is empty.
    NoMatchedLogicQueue,
    /// The queue exists but holds nothing.
    NoMessageInQueue,
}

/// Messages and positions returned by a pull read.
#[derive(Debug, Clone)]
pub struct GetResult {
    /// Outcome.
    pub status: GetStatus,
    /// Where the next pull should start.
    pub next_begin_offset: u64,
    /// Queue min offset.
    pub min_offset: u64,
    /// Queue max offset (next to be written).
    pub max_offset: u64,
    /// Stored records, each a slice of the mapped commit log.
    pub messages: Vec<Bytes>,
    /// Queue offsets of `messages`, in the same order.
    pub queue_offsets: Vec<u64>,
    /// Total bytes in `messages`.
    pub total_bytes: usize,
    /// The consumer lags far enough that a slave should serve it (§11).
    pub suggest_pull_from_slave: bool,
}

/// `SEARCH_OFFSET_BY_TIMESTAMP` boundary (remoting-protocol §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoundaryType {
    /// First offset whose store time ≥ the timestamp.
    #[default]
    Lower,
    /// Last offset whose store time ≤ the timestamp.
    Upper,
}

/// Entries scanned per pull at least, so that a selective filter still
/// makes progress (Java scans 16000 bytes of queue).
const MIN_SCAN_ENTRIES: usize = 800;

/// The two filters of a read: on the consume-queue tag hash, then on the
/// stored record.
struct Filters<'a> {
    tag: &'a dyn Fn(i64) -> bool,
    record: &'a dyn Fn(&[u8]) -> bool,
}

/// Entries a read always scans before its time budget
/// (`filterScanBudgetMillis`) can stop it, so that every read makes some
/// progress and small reads do not depend on the machine's speed.
const MIN_SCAN_BEFORE_DEADLINE: usize = 32;

/// When a read stops scanning: the record filter (SQL92 looks up
/// properties per message) may cost far more per entry than a tag check,
/// so its time is bounded, not just the count of entries.
struct ScanDeadline(Instant);

impl ScanDeadline {
    fn passed(&self, scanned: usize) -> bool {
        scanned >= MIN_SCAN_BEFORE_DEADLINE && Instant::now() >= self.0
    }
}

impl MessageStore {
    /// Reads up to `max_msgs` messages / `max_bytes` bytes (the first
    /// message is always taken) of `topic`/`queue_id` from `offset`,
    /// keeping entries whose tag hash passes `filter`.
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: u64,
        max_msgs: usize,
        max_bytes: usize,
        filter: impl Fn(i64) -> bool,
    ) -> GetResult {
        self.get_messages_filtered(
            topic,
            queue_id,
            offset,
            max_msgs,
            max_bytes,
            &filter,
            &|_| true,
        )
    }

    /// As [`MessageStore::get_messages`], with a second filter that sees each
    /// stored record (SQL92 subscriptions look at properties). Records it
    /// rejects are scanned past without counting against `max_msgs`, so a
    /// selective filter still fills a pull.
    #[allow(clippy::too_many_arguments)]
    pub fn get_messages_filtered(
        &self,
        topic: &str,
        queue_id: i32,
        offset: u64,
        max_msgs: usize,
        max_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
        record_filter: &dyn Fn(&[u8]) -> bool,
    ) -> GetResult {
        let mut r = GetResult {
            status: GetStatus::NoMatchedLogicQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            total_bytes: 0,
            suggest_pull_from_slave: false,
        };
        let Some(cq) = self.cqs.get(topic, queue_id) else {
            self.stats.get_miss.fetch_add(1, Ordering::Relaxed);
            return r;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        let (status, next) = if max == 0 {
            (GetStatus::NoMessageInQueue, 0)
        } else if offset < min {
            (GetStatus::OffsetTooSmall, min)
        } else if offset == max {
            (GetStatus::OffsetOverflowOne, offset)
        } else if offset > max {
            (
                GetStatus::OffsetOverflowBadly,
                if min == 0 { min } else { max },
            )
        } else {
            (GetStatus::Found, offset)
        };
        r.status = status;
        r.next_begin_offset = next;
        if status == GetStatus::Found {
            let filters = Filters {
                tag: filter,
                record: record_filter,
            };
            self.read_entries(&mut r, &cq, offset, max_msgs.max(1), max_bytes, &filters);
        }
        let counter = if r.messages.is_empty() {
            &self.stats.get_miss
        } else {
            &self.stats.get_found
        };
        counter.fetch_add(r.messages.len().max(1) as u64, Ordering::Relaxed);
        r
    }

    fn read_entries(
        &self,
        r: &mut GetResult,
        cq: &crate::consume_queue::ConsumeQueue,
        offset: u64,
        max_msgs: usize,
        max_bytes: usize,
        filters: &Filters<'_>,
    ) {
        let log_min = self.log.min_offset();
        let mut status = GetStatus::NoMatchedMessage;
        let mut next = offset;
        let mut max_phys_pulled = 0u64;
        let mut scanned = 0usize;
        let budget = MIN_SCAN_ENTRIES.max(max_msgs);
        let deadline = ScanDeadline(
            Instant::now() + Duration::from_millis(self.cfg.filter_scan_budget_millis),
        );
        'outer: while scanned < budget {
            let entries = cq.entries_from(next, budget - scanned);
            if entries.is_empty() {
                break;
            }
            for e in entries {
                if r.messages.len() >= max_msgs
                    || (!r.messages.is_empty()
                        && r.total_bytes + e.size.max(0) as usize > max_bytes)
                {
                    break 'outer;
                }
                scanned += 1;
                next += 1;
                if e.is_blank() {
                    continue;
                }
                max_phys_pulled = max_phys_pulled.max(e.phys_offset as u64);
                if (e.phys_offset as u64) < log_min {
                    status = GetStatus::MessageWasRemoving;
                    continue;
                }
                if !(filters.tag)(e.tag_hash) {
                    continue;
                }
                match self.log.read(e.phys_offset as u64, e.size as u32) {
                    Some(b) if !(filters.record)(&b) => {
                        // Only turned-down records run on unbounded by the
                        // count: they alone are held to the time budget.
                        if deadline.passed(scanned) {
                            break 'outer;
                        }
                    }
                    Some(b) => {
                        r.total_bytes += b.len();
                        r.messages.push(b);
                        r.queue_offsets.push(next - 1);
                    }
                    None => status = GetStatus::MessageWasRemoving,
                }
            }
        }
        if scanned == 0 && r.messages.is_empty() {
            r.status = GetStatus::OffsetFoundNull;
            r.next_begin_offset = cq.roll_next_file(offset).min(r.max_offset);
            return;
        }
        r.status = if r.messages.is_empty() {
            status
        } else {
            GetStatus::Found
        };
        r.next_begin_offset = next;
        let lag = self.log.max_offset().saturating_sub(max_phys_pulled);
        let ratio = u64::from(self.cfg.access_message_in_memory_max_ratio);
        r.suggest_pull_from_slave = max_phys_pulled > 0 && lag > self.total_ram / 100 * ratio;
    }

    /// The record at a commit-log offset (offset msg ids, QUERY/VIEW).
    pub fn read_message_at(&self, phys_offset: u64) -> Option<Bytes> {
        if phys_offset < self.log.min_offset() {
            return None;
        }
        self.log.read_record(phys_offset)
    }

    /// The record with queue offset `offset` of a queue.
    pub fn message_at(&self, topic: &str, queue_id: i32, offset: u64) -> Option<Bytes> {
        let e = self.cq_entry(topic, queue_id, offset)?;
        if e.is_blank() {
            return None;
        }
        self.log.read(e.phys_offset as u64, e.size as u32)
    }

    /// The consume-queue entry at `offset` (the schedule topic keeps the
    /// delivery time in `tag_hash`).
    pub fn cq_entry(&self, topic: &str, queue_id: i32, offset: u64) -> Option<CqEntry> {
        let cq = self.cqs.get(topic, queue_id)?;
        if offset < cq.min_offset() {
            return None;
        }
        cq.get(offset)
    }

    /// Commit-log offsets indexed under `topic#key` stored in
    /// `[begin, end]` ms, newest first (unverified: hash collisions possible).
    pub fn query_offsets_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
    ) -> Vec<u64> {
        self.index
            .as_ref()
            .map_or_else(Vec::new, |i| i.query(topic, key, max, begin, end))
    }

    /// Records of `topic` whose UNIQ_KEY or one of whose KEYS equals `key`,
    /// stored in `[begin, end]` ms, newest first, at most `max`.
    pub fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
    ) -> Vec<Bytes> {
        let offsets =
            self.query_offsets_by_key(topic, key, max.saturating_mul(2).max(max), begin, end);
        offsets
            .into_iter()
            .filter(|o| *o >= self.log.min_offset())
            .filter(|o| {
                self.log
                    .with_record(*o, |v| {
                        v.topic == topic
                            && (v.property("UNIQ_KEY") == Some(key)
                                || v.property("KEYS")
                                    .is_some_and(|k| k.split(' ').any(|k| k == key)))
                    })
                    .unwrap_or(false)
            })
            .take(max)
            .filter_map(|o| self.log.read_record(o))
            .collect()
    }

    /// Next queue offset to be written (0 for an unknown queue).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> u64 {
        self.cqs.get(topic, queue_id).map_or(0, |q| q.max_offset())
    }

    /// First queue offset still readable (0 for an unknown queue).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> u64 {
        self.cqs.get(topic, queue_id).map_or(0, |q| q.min_offset())
    }

    /// Queue ids and max offsets of a topic's queues.
    pub fn topic_queue_offsets(&self, topic: &str) -> Vec<(i32, u64)> {
        self.cqs.topic_queues(topic)
    }

    /// Store time of the message at queue offset `offset`.
    pub fn store_time_at(&self, topic: &str, queue_id: i32, offset: u64) -> Option<i64> {
        let e = self.cq_entry(topic, queue_id, offset)?;
        if e.is_blank() {
            return None;
        }
        self.log.store_time_at(e.phys_offset as u64)
    }

    /// Store time of the queue's oldest message.
    pub fn earliest_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let cq = self.cqs.get(topic, queue_id)?;
        (cq.min_offset()..cq.max_offset()).find_map(|o| self.store_time_at(topic, queue_id, o))
    }

    /// Queue offset by store time (remoting-protocol §4.3): `Lower` = first
    /// offset stored at or after `ts` (max offset when all are older);
    /// `Upper` = last offset stored at or before `ts` (min offset when all
    /// are newer).
    pub fn offset_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        ts: i64,
        boundary: BoundaryType,
    ) -> u64 {
        let Some(cq) = self.cqs.get(topic, queue_id) else {
            return 0;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        let time = |o: u64| self.store_time_at(topic, queue_id, o).unwrap_or(i64::MIN);
        // First offset whose time is > ts (Upper) or >= ts (Lower).
        let (mut lo, mut hi) = (min, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = time(mid);
            let before = match boundary {
                BoundaryType::Lower => t < ts,
                BoundaryType::Upper => t <= ts,
            };
            if before {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match boundary {
            BoundaryType::Lower => lo,
            BoundaryType::Upper => lo.saturating_sub(1).max(min),
        }
    }

    /// Commit-log end offset.
    pub fn commitlog_max_offset(&self) -> u64 {
        self.log.max_offset()
    }

    /// Commit-log first offset still stored.
    pub fn commitlog_min_offset(&self) -> u64 {
        self.log.min_offset()
    }
}
