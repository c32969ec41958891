//! Consume queues: per topic and queue id, a dense array of 20-byte entries
//! (commit-log offset i64, size i32, tag hash i64); entry n is the message
//! with queue offset n. Only the dispatcher writes; readers stay below the
//! published end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::{Result, StoreError};
use crate::mapped_file::MappedFileQueue;

/// Size of one entry.
pub const CQ_UNIT: u64 = 20;
/// Size field of a filler entry (gaps before the first real entry).
pub const BLANK_SIZE: i32 = i32::MAX;

/// Whether `topic` can safely name a consume-queue directory (the broker
/// enforces the stricter RocketMQ character set; this guards the file system).
pub fn is_storable_topic(topic: &str) -> bool {
    !topic.is_empty() && topic != "." && topic != ".." && !topic.contains(['/', '\\', '\0'])
}

/// One consume-queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    /// Commit-log offset of the record.
    pub phys_offset: i64,
    /// Record size.
    pub size: i32,
    /// Tag hash (or delivery time in the schedule topic).
    pub tag_hash: i64,
}

impl CqEntry {
    fn encode(&self) -> [u8; CQ_UNIT as usize] {
        let mut b = [0u8; CQ_UNIT as usize];
        b[..8].copy_from_slice(&self.phys_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..].copy_from_slice(&self.tag_hash.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            phys_offset: i64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            size: i32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
            tag_hash: i64::from_be_bytes(b.get(12..20)?.try_into().ok()?),
        })
    }

    /// A written entry (zeros end the queue).
    pub fn is_valid(&self) -> bool {
        self.phys_offset >= 0 && self.size > 0
    }

    /// A filler entry that points at no message.
    pub fn is_blank(&self) -> bool {
        self.size == BLANK_SIZE
    }

    /// Commit-log end of the record.
    pub fn phys_end(&self) -> u64 {
        self.phys_offset as u64 + self.size as u64
    }
}

/// One topic/queue consume queue.
pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    files: MappedFileQueue,
    min_offset: AtomicU64,
}

impl ConsumeQueue {
    /// Opens (or creates the directory of) a queue; call `recover` before use.
    ///
    /// # Errors
    /// I/O failures.
    pub fn open(dir: &Path, topic: &str, queue_id: i32, file_size: u64) -> Result<Self> {
        let files = MappedFileQueue::load(dir, file_size)?;
        let min = files.min_offset() / CQ_UNIT;
        Ok(Self {
            topic: topic.to_owned(),
            queue_id,
            files,
            min_offset: AtomicU64::new(min),
        })
    }

    /// Topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queue id.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// Segments (for flushing and retention).
    pub fn files(&self) -> &MappedFileQueue {
        &self.files
    }

    /// Next queue offset to be written (number of entries).
    pub fn max_offset(&self) -> u64 {
        self.files.max_offset() / CQ_UNIT
    }

    /// First queue offset whose message is still stored.
    pub fn min_offset(&self) -> u64 {
        self.min_offset
            .load(Ordering::Acquire)
            .min(self.max_offset())
    }

    /// First queue offset of the segment after the one holding `offset`
    /// (where a reader skips to when `offset` has no entry).
    pub fn roll_next_file(&self, offset: u64) -> u64 {
        let per_file = self.files.file_size() / CQ_UNIT;
        (offset / per_file + 1) * per_file
    }

    /// Reads entry `offset`, if written.
    pub fn get(&self, offset: u64) -> Option<CqEntry> {
        let byte = offset.checked_mul(CQ_UNIT)?;
        let file = self.files.find(byte)?;
        CqEntry::decode(file.slice(byte - file.start(), CQ_UNIT as usize)?)
    }

    /// Up to `max` consecutive entries from `offset` (stops at a segment end).
    pub fn entries_from(&self, offset: u64, max: usize) -> Vec<CqEntry> {
        let Some(byte) = offset.checked_mul(CQ_UNIT) else {
            return Vec::new();
        };
        let Some(file) = self.files.find(byte) else {
            return Vec::new();
        };
        let pos = byte - file.start();
        let avail = (file.wrote().saturating_sub(pos) / CQ_UNIT) as usize;
        let n = avail.min(max);
        let Some(raw) = file.slice(pos, n * CQ_UNIT as usize) else {
            return Vec::new();
        };
        raw.chunks_exact(CQ_UNIT as usize)
            .filter_map(CqEntry::decode)
            .collect()
    }

    /// Appends the entry for `queue_offset`; entries already present are
    /// skipped (re-dispatch), gaps are filled with blank entries.
    /// Returns true when written.
    ///
    /// # Errors
    /// I/O failures creating a segment.
    pub fn put(&self, queue_offset: u64, entry: CqEntry) -> Result<bool> {
        let max = self.max_offset();
        if queue_offset < max {
            let same = match self.get(queue_offset) {
                Some(e) => e == entry,
                None => true,
            };
            if same || queue_offset < self.min_offset() {
                return Ok(false);
            }
            // A stale or half-written entry (crash): rewrite from here.
            tracing::warn!(topic = %self.topic, queue_id = self.queue_id, queue_offset,
                "consume queue entry disagrees with the commit log; rewriting");
            self.files.truncate(queue_offset * CQ_UNIT)?;
        }
        let file_size = self.files.file_size();
        let start_if_empty = queue_offset * CQ_UNIT / file_size * file_size;
        let blank = CqEntry {
            phys_offset: 0,
            size: BLANK_SIZE,
            tag_hash: 0,
        };
        if self.files.is_empty() {
            self.min_offset.store(queue_offset, Ordering::Release);
        } else if queue_offset > max {
            tracing::warn!(topic = %self.topic, queue_id = self.queue_id, expected = max,
                got = queue_offset, "consume queue gap filled with blank entries");
        }
        loop {
            let file = self.files.last_or_create(start_if_empty)?;
            let next = (file.start() + file.wrote()) / CQ_UNIT;
            let e = if next == queue_offset { entry } else { blank };
            let pos = file.wrote();
            let bytes = e.encode();
            // SIZE last: an entry cut short by a kill reads as size 0, invalid.
            file.write_unpublished(pos + 12, &bytes[12..])?;
            file.write_unpublished(pos, &bytes[..8])?;
            file.write_unpublished(pos + 8, &bytes[8..12])?;
            file.publish(pos + CQ_UNIT);
            if next >= queue_offset {
                return Ok(true);
            }
        }
    }

    /// Finds the written end after a restart: the first invalid entry (from
    /// the third-from-last segment on) ends the queue; the rest is zeroed.
    ///
    /// # Errors
    /// I/O failures.
    pub fn recover(&self) -> Result<()> {
        let files = self.files.files();
        let from = files.len().saturating_sub(3);
        let mut end = files.get(from).map_or(0, |f| f.start());
        'files: for file in &files[from..] {
            let mut pos = 0;
            // Holes are not read through the mapping (see `mmap::data_end`).
            let mut readable = 0;
            while pos + CQ_UNIT <= file.size() {
                if pos + CQ_UNIT > readable {
                    readable = file.data_end(pos);
                }
                let valid = (pos + CQ_UNIT <= readable)
                    .then(|| file.slice_raw(pos, CQ_UNIT as usize))
                    .flatten()
                    .and_then(CqEntry::decode)
                    .is_some_and(|e| e.is_valid());
                if !valid {
                    break 'files;
                }
                pos += CQ_UNIT;
                end = file.start() + pos;
            }
        }
        self.files.set_recovered_end(end);
        self.files.truncate(end)
    }

    /// Drops entries whose record does not end at or before `log_end`.
    ///
    /// # Errors
    /// I/O failures.
    pub fn truncate_beyond(&self, log_end: u64) -> Result<()> {
        let mut keep = self.max_offset();
        let min = self.files.min_offset() / CQ_UNIT;
        while keep > min {
            match self.get(keep - 1) {
                Some(e) if !e.is_blank() && e.phys_end() > log_end => keep -= 1,
                _ => break,
            }
        }
        if keep < self.max_offset() {
            self.files.truncate(keep * CQ_UNIT)?;
        }
        Ok(())
    }

    /// Highest commit-log end referenced by this queue.
    pub fn max_phys_end(&self) -> u64 {
        let max = self.max_offset();
        let min = self.files.min_offset() / CQ_UNIT;
        (min..max)
            .rev()
            .take(64)
            .find_map(|o| self.get(o).filter(|e| !e.is_blank()))
            .map_or(0, |e| e.phys_end())
    }

    /// Moves the minimum offset to the first entry whose record is at or
    /// after `log_min` (binary search; entries are in commit-log order).
    pub fn correct_min_offset(&self, log_min: u64) {
        let (mut lo, mut hi) = (self.files.min_offset() / CQ_UNIT, self.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(e) if e.is_blank() || (e.phys_offset as u64) < log_min => lo = mid + 1,
                _ => hi = mid,
            }
        }
        self.min_offset.store(lo, Ordering::Release);
    }

    /// Deletes segments whose every record lies before `log_min`.
    ///
    /// # Errors
    /// Unlinking failed.
    pub fn delete_expired(&self, log_min: u64) -> Result<usize> {
        let n = self.files.delete_front_while(|f| {
            let last = f.wrote().checked_sub(CQ_UNIT);
            f.is_full()
                && last
                    .and_then(|p| f.slice(p, CQ_UNIT as usize))
                    .and_then(CqEntry::decode)
                    .is_some_and(|e| e.phys_end() <= log_min)
        })?;
        self.correct_min_offset(log_min);
        Ok(n)
    }
}

/// All consume queues, by topic then queue id.
pub struct ConsumeQueues {
    root: PathBuf,
    file_size: u64,
    queues: RwLock<HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>>,
}

impl ConsumeQueues {
    /// Loads and recovers every queue under `root` (`{topic}/{queueId}/`).
    ///
    /// # Errors
    /// I/O failures.
    pub fn load(root: &Path, file_size: u64) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        let mut map: HashMap<String, HashMap<i32, Arc<ConsumeQueue>>> = HashMap::new();
        for topic_dir in std::fs::read_dir(root).map_err(|e| StoreError::io(root, e))? {
            let topic_dir = topic_dir.map_err(|e| StoreError::io(root, e))?;
            let Ok(topic) = topic_dir.file_name().into_string() else {
                continue;
            };
            let path = topic_dir.path();
            if !path.is_dir() {
                continue;
            }
            for q in std::fs::read_dir(&path).map_err(|e| StoreError::io(&path, e))? {
                let q = q.map_err(|e| StoreError::io(&path, e))?;
                let Some(qid) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                let cq = ConsumeQueue::open(&q.path(), &topic, qid, file_size)?;
                cq.recover()?;
                map.entry(topic.clone())
                    .or_default()
                    .insert(qid, Arc::new(cq));
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            file_size,
            queues: RwLock::new(map),
        })
    }

    /// The queue, if it exists.
    pub fn get(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues.read().get(topic)?.get(&queue_id).cloned()
    }

    /// The queue, created when missing.
    ///
    /// # Errors
    /// Creating its directory failed.
    pub fn get_or_create(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>> {
        if let Some(q) = self.get(topic, queue_id) {
            return Ok(q);
        }
        let mut map = self.queues.write();
        let queues = map.entry(topic.to_owned()).or_default();
        if let Some(q) = queues.get(&queue_id) {
            return Ok(Arc::clone(q));
        }
        if !is_storable_topic(topic) || queue_id < 0 {
            return Err(StoreError::BadRecord(format!(
                "no consume queue for {topic:?}/{queue_id}"
            )));
        }
        let dir = self.root.join(topic).join(queue_id.to_string());
        let q = Arc::new(ConsumeQueue::open(&dir, topic, queue_id, self.file_size)?);
        queues.insert(queue_id, Arc::clone(&q));
        Ok(q)
    }

    /// Snapshot of every queue.
    pub fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        self.queues
            .read()
            .values()
            .flat_map(|q| q.values().cloned())
            .collect()
    }

    /// Queue ids and max offsets of a topic.
    pub fn topic_queues(&self, topic: &str) -> Vec<(i32, u64)> {
        self.queues
            .read()
            .get(topic)
            .map(|q| q.iter().map(|(id, cq)| (*id, cq.max_offset())).collect())
            .unwrap_or_default()
    }

    /// Deletes a topic's queues from disk.
    ///
    /// # Errors
    /// Unlinking failed.
    pub fn remove_topic(&self, topic: &str) -> Result<()> {
        let removed = self.queues.write().remove(topic);
        if let Some(queues) = removed {
            for q in queues.values() {
                q.files().destroy_all()?;
            }
            let dir = self.root.join(topic);
            std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        Ok(())
    }

    /// Flushes every queue.
    ///
    /// # Errors
    /// msync failures.
    pub fn flush(&self) -> Result<()> {
        for q in self.all() {
            q.files().flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(i: u64) -> CqEntry {
        CqEntry {
            phys_offset: (i * 100) as i64,
            size: 100,
            tag_hash: i as i64 - 7,
        }
    }

    #[test]
    fn put_get_rolls_and_skips_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let q = ConsumeQueue::open(dir.path(), "T", 0, 20 * 8).unwrap();
        for i in 0..20 {
            assert!(q.put(i, entry(i)).unwrap());
        }
        assert!(!q.put(5, entry(5)).unwrap(), "re-dispatch is skipped");
        assert_eq!(q.max_offset(), 20);
        assert_eq!(q.files().len(), 3);
        assert_eq!(q.get(13), Some(entry(13)));
        assert_eq!(
            q.entries_from(6, 100),
            vec![entry(6), entry(7)],
            "stops at segment end"
        );
        q.truncate_beyond(1000).unwrap();
        assert_eq!(q.max_offset(), 10);
        q.correct_min_offset(350);
        assert_eq!(q.min_offset(), 4);
    }

    #[test]
    fn late_start_fills_blanks() {
        let dir = tempfile::tempdir().unwrap();
        let q = ConsumeQueue::open(dir.path(), "T", 0, 20 * 8).unwrap();
        q.put(19, entry(19)).unwrap();
        assert_eq!(q.files().min_offset(), 20 * 16);
        assert_eq!(q.min_offset(), 19);
        assert_eq!(q.max_offset(), 20);
        assert!(q.get(17).unwrap().is_blank());
        assert_eq!(q.get(19), Some(entry(19)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Against a model: appends (with occasional gaps), a cut at a
        /// commit-log end, and a reopen with recovery.
        #[test]
        fn model_check(gaps in proptest::collection::vec(0u64..3, 1..80), cut in 0u64..10_000) {
            let dir = tempfile::tempdir().unwrap();
            let mut model: Vec<Option<CqEntry>> = Vec::new();
            {
                let q = ConsumeQueue::open(dir.path(), "T", 1, 20 * 8).unwrap();
                let mut next = 0u64;
                for g in &gaps {
                    let g = if *g == 2 { 1 } else { 0 };
                    next += g;
                    let e = CqEntry { phys_offset: next as i64 * 100, size: 100, tag_hash: next as i64 };
                    prop_assert!(q.put(next, e).unwrap());
                    while model.len() < next as usize { model.push(None); }
                    model.push(Some(e));
                    next += 1;
                }
                q.truncate_beyond(cut).unwrap();
                while model.last().is_some_and(|e| e.is_some_and(|e| e.phys_end() > cut)) {
                    model.pop();
                }
                prop_assert_eq!(q.max_offset(), model.len() as u64);
            }
            let q = ConsumeQueue::open(dir.path(), "T", 1, 20 * 8).unwrap();
            q.recover().unwrap();
            prop_assert_eq!(q.max_offset(), model.len() as u64);
            for (i, m) in model.iter().enumerate() {
                let got = q.get(i as u64).unwrap();
                match m {
                    Some(e) => prop_assert_eq!(got, *e),
                    None => prop_assert!(got.is_blank()),
                }
            }
            prop_assert!(q.get(model.len() as u64).is_none());
        }
    }
}
