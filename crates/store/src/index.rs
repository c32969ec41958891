//! Key index files (storage-format §4): hash slots and chained items mapping
//! `topic#key` to commit-log offsets, written by the dispatcher, queried by
//! QUERY_MESSAGE. Each file guards its mapping with a lock because readers
//! walk chains that the writer is extending.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::{Result, StoreError};
use crate::mapped_file::{now_ms, sync_dir};
use crate::mmap::{local_time, MmapRegion};
use crate::record::index_key_hash;

const HEADER: usize = 40;
const ITEM: usize = 20;

#[derive(Debug, Clone, Copy, Default)]
struct Header {
    begin_ts: i64,
    end_ts: i64,
    begin_phy: i64,
    end_phy: i64,
    slot_count: i32,
    index_count: i32,
}

impl Header {
    fn encode(&self) -> [u8; HEADER] {
        let mut b = [0u8; HEADER];
        b[0..8].copy_from_slice(&self.begin_ts.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_ts.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy.to_be_bytes());
        b[32..36].copy_from_slice(&self.slot_count.to_be_bytes());
        b[36..40].copy_from_slice(&self.index_count.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Self {
        let l = |at: usize| {
            b.get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .map_or(0, i64::from_be_bytes)
        };
        let i = |at: usize| {
            b.get(at..at + 4)
                .and_then(|s| s.try_into().ok())
                .map_or(0, i32::from_be_bytes)
        };
        Self {
            begin_ts: l(0),
            end_ts: l(8),
            begin_phy: l(16),
            end_phy: l(24),
            slot_count: i(32),
            index_count: i(36).max(1),
        }
    }
}

fn read_i32(region: &MmapRegion, at: usize) -> i32 {
    region
        .slice(at, 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i32::from_be_bytes)
}

fn read_i64(region: &MmapRegion, at: usize) -> i64 {
    region
        .slice(at, 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i64::from_be_bytes)
}

/// One index file.
///
/// It is written and read through a mapping of a sparse file, which must
/// never touch a hole: a store into one on a full disk is a SIGBUS, and on
/// tmpfs even a read of one is. So the header and slots (written all over)
/// get their blocks before the file is used, and items (appended in order)
/// a run at a time ahead of the next one; until the blocks are there,
/// puts fail with `ENOSPC` and queries find nothing.
pub struct IndexFile {
    path: PathBuf,
    region: MmapRegion,
    file: std::fs::File,
    slots: u32,
    max_items: u32,
    header: RwLock<Header>,
    /// Bytes from the start known to have blocks (header, slots, items).
    allocated: AtomicU64,
}

/// Items are given blocks this many bytes at a time.
const ITEM_RUN: u64 = 1 << 20;

impl IndexFile {
    fn open(path: &Path, slots: u32, max_items: u32) -> Result<Self> {
        let size = HEADER + slots as usize * 4 + max_items as usize * ITEM;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len == 0 {
            file.set_len(size as u64)
                .map_err(|e| StoreError::io(path, e))?;
        } else if len != size as u64 {
            return Err(StoreError::BadRecord(format!(
                "index file {} has {len} bytes, expected {size} (maxHashSlotNum/maxIndexNum changed?)",
                path.display()
            )));
        }
        let region = MmapRegion::map(&file, size).map_err(|e| StoreError::io(path, e))?;
        let index = Self {
            path: path.to_path_buf(),
            region,
            file,
            slots,
            max_items,
            header: RwLock::new(Header::decode(&[])),
            allocated: AtomicU64::new(0),
        };
        if index.ensure_allocated(index.items_start()).is_ok() {
            *index.header.write() =
                Header::decode(index.region.slice(0, HEADER).unwrap_or_default());
        } else {
            tracing::error!(path = %path.display(), "index file has no disk blocks yet; keys are not indexed until space returns");
        }
        Ok(index)
    }

    fn items_start(&self) -> u64 {
        (HEADER + self.slots as usize * 4) as u64
    }

    /// Makes sure the first `end` bytes have blocks (see the type's doc).
    fn ensure_allocated(&self, end: u64) -> Result<()> {
        let done = self.allocated.load(Ordering::Acquire);
        if end <= done {
            return Ok(());
        }
        let to = end
            .max(done + ITEM_RUN)
            .min(self.region.len() as u64)
            .max(end);
        crate::mmap::allocate(&self.file, done, to - done).map_err(|e| self.io(e))?;
        self.allocated.fetch_max(to, Ordering::AcqRel);
        Ok(())
    }

    /// Whether the header and slots have their blocks (reads are safe).
    fn slots_ready(&self) -> bool {
        self.allocated.load(Ordering::Acquire) >= self.items_start()
    }

    fn io(&self, e: std::io::Error) -> StoreError {
        StoreError::io(&self.path, e)
    }

    /// Adds one key; `Ok(false)` when the file is full.
    fn put(&self, key_hash: u32, phys: u64, store_ts: i64) -> Result<bool> {
        if !self.slots_ready() {
            self.ensure_allocated(self.items_start())?;
            *self.header.write() = Header::decode(self.region.slice(0, HEADER).unwrap_or_default());
        }
        let mut h = self.header.write();
        if h.index_count as u32 >= self.max_items {
            return Ok(false);
        }
        let item_end = self.items_start() + (h.index_count as u64 + 1) * ITEM as u64;
        self.ensure_allocated(item_end)?;
        let slot_pos = HEADER + (key_hash % self.slots) as usize * 4;
        let mut prev = read_i32(&self.region, slot_pos);
        if prev <= 0 || prev >= h.index_count {
            prev = 0;
        }
        if h.index_count <= 1 {
            h.begin_ts = store_ts;
            h.begin_phy = phys as i64;
        }
        let diff = ((store_ts - h.begin_ts) / 1000).clamp(0, i64::from(i32::MAX)) as i32;
        let n = h.index_count;
        let item_pos = HEADER + self.slots as usize * 4 + n as usize * ITEM;
        let mut item = [0u8; ITEM];
        item[0..4].copy_from_slice(&(key_hash as i32).to_be_bytes());
        item[4..12].copy_from_slice(&(phys as i64).to_be_bytes());
        item[12..16].copy_from_slice(&diff.to_be_bytes());
        item[16..20].copy_from_slice(&prev.to_be_bytes());
        self.region
            .write_at(item_pos, &item)
            .map_err(|e| self.io(e))?;
        self.region
            .write_at(slot_pos, &n.to_be_bytes())
            .map_err(|e| self.io(e))?;
        if prev == 0 {
            h.slot_count += 1;
        }
        h.index_count += 1;
        h.end_phy = phys as i64;
        h.end_ts = store_ts;
        self.region
            .write_at(0, &h.encode())
            .map_err(|e| self.io(e))?;
        Ok(true)
    }

    fn query(&self, key_hash: u32, max: usize, begin: i64, end: i64, out: &mut Vec<u64>) {
        if !self.slots_ready() {
            return;
        }
        let h = self.header.read();
        let slot_pos = HEADER + (key_hash % self.slots) as usize * 4;
        let mut n = read_i32(&self.region, slot_pos);
        while n > 0 && n < h.index_count && out.len() < max {
            let at = HEADER + self.slots as usize * 4 + n as usize * ITEM;
            let hash = read_i32(&self.region, at) as u32;
            let phys = read_i64(&self.region, at + 4);
            let diff = read_i32(&self.region, at + 12);
            let prev = read_i32(&self.region, at + 16);
            let time = h.begin_ts + i64::from(diff) * 1000;
            if hash == key_hash && time >= begin && time <= end && phys >= 0 {
                out.push(phys as u64);
            }
            if prev <= 0 || prev >= n || time < begin {
                break;
            }
            n = prev;
        }
    }

    fn flush(&self) -> Result<()> {
        let _h = self.header.read();
        self.region
            .flush_range(0, self.region.len())
            .map_err(|e| self.io(e))
    }

    fn end_phy(&self) -> i64 {
        self.header.read().end_phy
    }

    fn has_items(&self) -> bool {
        self.header.read().index_count > 1
    }

    fn overlaps(&self, begin: i64, end: i64) -> bool {
        let h = self.header.read();
        h.index_count > 1 && h.begin_ts <= end && h.end_ts >= begin
    }
}

/// All index files, oldest first.
pub struct IndexService {
    dir: PathBuf,
    slots: u32,
    max_items: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
}

fn file_name(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = local_time(ms);
    format!(
        "{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{:03}",
        ms.rem_euclid(1000)
    )
}

impl IndexService {
    /// Opens the index files in `dir`.
    ///
    /// # Errors
    /// I/O failures or files of the wrong size.
    pub fn load(dir: &Path, slots: u32, max_items: u32) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let name = e.map_err(|e| StoreError::io(dir, e))?.file_name();
            let name = name.to_string_lossy().into_owned();
            if name.len() == 17 && name.bytes().all(|b| b.is_ascii_digit()) {
                names.push(name);
            }
        }
        names.sort();
        let files = names
            .iter()
            .map(|n| IndexFile::open(&dir.join(n), slots, max_items).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            slots,
            max_items,
            files: RwLock::new(files),
        })
    }

    fn new_file(&self) -> Result<Arc<IndexFile>> {
        let mut files = self.files.write();
        let mut ms = now_ms();
        let mut name = file_name(ms);
        while self.dir.join(&name).exists() || files.iter().any(|f| f.path.ends_with(&name)) {
            ms += 1;
            name = file_name(ms);
        }
        if let Some(last) = files.last() {
            last.flush()?;
        }
        let f = Arc::new(IndexFile::open(
            &self.dir.join(&name),
            self.slots,
            self.max_items,
        )?);
        sync_dir(&self.dir)?;
        files.push(Arc::clone(&f));
        Ok(f)
    }

    /// Indexes the keys of one record (UNIQ_KEY and each space-separated
    /// KEYS entry). Records at or before the newest file's end offset were
    /// already indexed and are skipped (re-dispatch after a crash).
    ///
    /// # Errors
    /// I/O failures creating a file.
    pub fn put_record(
        &self,
        topic: &str,
        uniq: Option<&str>,
        keys: Option<&str>,
        phys: u64,
        store_ts: i64,
    ) -> Result<()> {
        let last = self.files.read().last().cloned();
        if let Some(last) = &last {
            if last.has_items() && phys as i64 <= last.end_phy() {
                return Ok(());
            }
        }
        let keys = uniq
            .into_iter()
            .chain(keys.into_iter().flat_map(|k| k.split(' ')))
            .filter(|k| !k.is_empty());
        let mut file = match last {
            Some(f) => f,
            None => self.new_file()?,
        };
        for key in keys {
            let hash = index_key_hash(topic, key);
            if !file.put(hash, phys, store_ts)? {
                file = self.new_file()?;
                file.put(hash, phys, store_ts)?;
            }
        }
        Ok(())
    }

    /// Commit-log offsets of records indexed under `topic#key` stored
    /// within `[begin, end]` ms, newest first, at most `max`.
    pub fn query(&self, topic: &str, key: &str, max: usize, begin: i64, end: i64) -> Vec<u64> {
        let hash = index_key_hash(topic, key);
        let mut out = Vec::new();
        for f in self.files.read().iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.overlaps(begin, end) {
                f.query(hash, max, begin, end, &mut out);
            }
        }
        out
    }

    /// Flushes every file.
    ///
    /// # Errors
    /// msync failures.
    pub fn flush(&self) -> Result<()> {
        let files = self.files.read().clone();
        files.last().map_or(Ok(()), |f| f.flush())
    }

    /// After recovery cut the commit log at `log_end`, makes sure records
    /// re-appended from there are indexed again.
    ///
    /// # Errors
    /// I/O failures.
    pub fn clamp_end(&self, log_end: u64) -> Result<()> {
        for f in self.files.read().iter() {
            let mut h = f.header.write();
            if h.index_count > 1 && h.end_phy >= log_end as i64 {
                h.end_phy = log_end as i64 - 1;
                f.region.write_at(0, &h.encode()).map_err(|e| f.io(e))?;
            }
        }
        Ok(())
    }

    /// Deletes files whose entries all lie before `log_min` (never the newest).
    ///
    /// # Errors
    /// Unlinking failed.
    pub fn delete_expired(&self, log_min: u64) -> Result<usize> {
        let mut files = self.files.write();
        let mut n = 0;
        while files.len() > 1 && files[0].end_phy() < log_min as i64 {
            std::fs::remove_file(&files[0].path).map_err(|e| StoreError::io(&files[0].path, e))?;
            files.remove(0);
            n += 1;
        }
        Ok(n)
    }

    /// Number of index files.
    pub fn file_count(&self) -> usize {
        self.files.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_range_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let idx = IndexService::load(dir.path(), 16, 64).unwrap();
        idx.put_record("T", Some("U1"), Some("a b"), 100, 10_000)
            .unwrap();
        idx.put_record("T", None, Some("a"), 200, 20_000).unwrap();
        idx.put_record("T", None, Some("a"), 200, 20_000).unwrap(); // re-dispatch: skipped
        assert_eq!(idx.query("T", "a", 10, 0, i64::MAX), vec![200, 100]);
        assert_eq!(idx.query("T", "a", 1, 0, i64::MAX), vec![200]);
        assert_eq!(idx.query("T", "a", 10, 0, 15_000), vec![100]);
        assert_eq!(idx.query("T", "a", 10, 15_000, i64::MAX), vec![200]);
        assert_eq!(idx.query("T", "U1", 10, 0, i64::MAX), vec![100]);
        assert!(idx.query("X", "a", 10, 0, i64::MAX).is_empty());
        idx.flush().unwrap();
        drop(idx);
        let idx = IndexService::load(dir.path(), 16, 64).unwrap();
        assert_eq!(idx.query("T", "a", 10, 0, i64::MAX), vec![200, 100]);
        idx.clamp_end(150).unwrap();
        idx.put_record("T", None, Some("a"), 150, 30_000).unwrap();
        assert_eq!(idx.query("T", "a", 10, 0, i64::MAX), vec![150, 200, 100]);
        assert!(
            IndexService::load(dir.path(), 32, 64).is_err(),
            "size mismatch is reported"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Every key query returns exactly the records carrying a key with
        /// the same hash, newest first, across file roll-overs and with
        /// heavy slot collisions.
        #[test]
        fn model_check(keys in proptest::collection::vec(proptest::collection::vec(0u8..12, 1..4), 1..120)) {
            let dir = tempfile::tempdir().unwrap();
            let idx = IndexService::load(dir.path(), 7, 40).unwrap();
            let mut model: Vec<(u32, u64)> = Vec::new();
            for (i, ks) in keys.iter().enumerate() {
                let phys = (i as u64 + 1) * 64;
                let joined = ks.iter().map(|k| format!("k{k}")).collect::<Vec<_>>().join(" ");
                idx.put_record("T", None, Some(&joined), phys, 1_000 + i as i64).unwrap();
                for k in ks {
                    model.push((index_key_hash("T", &format!("k{k}")), phys));
                }
            }
            prop_assert!(idx.file_count() >= 1);
            for k in 0u8..12 {
                let key = format!("k{k}");
                let h = index_key_hash("T", &key);
                let want: Vec<u64> = model.iter().rev().filter(|(mh, _)| *mh == h).map(|(_, p)| *p).collect();
                prop_assert_eq!(idx.query("T", &key, 10_000, 0, i64::MAX), want);
            }
        }
    }
}
