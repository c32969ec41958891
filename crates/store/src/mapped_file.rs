//! Fixed-size memory-mapped segment files and ordered queues of them, shared
//! by the commit log and the consume queues.
//!
//! Every segment is named by the 20-digit global byte offset of its first
//! byte and pre-allocated to full size. A segment has one writer (the owner
//! of the append path) that publishes what it wrote through `wrote`;
//! readers stay below it (see the `mmap` module contract).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::{Result, StoreError};
use crate::mmap::MmapRegion;

pub use protocol::clock::now_ms;

/// Name of the segment starting at `offset`.
pub fn segment_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// Keeps a mapping alive for a `Bytes` that points into it.
struct MapSlice {
    region: Arc<MmapRegion>,
    pos: usize,
    len: usize,
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        self.region.slice(self.pos, self.len).unwrap_or_default()
    }
}

/// One pre-allocated, memory-mapped segment.
pub struct MappedFile {
    path: PathBuf,
    start: u64,
    size: u64,
    region: Arc<MmapRegion>,
    /// The open file, for write-through appends and fdatasync.
    file: std::fs::File,
    wrote: AtomicU64,
    flushed: AtomicU64,
    /// Position below which the file has real blocks (see `ensure_allocated`).
    allocated: AtomicU64,
    last_write_ms: AtomicI64,
}

/// Blocks are allocated up to this far ahead of a write, so the
/// `fallocate` call is paid once per few MiB of commit log rather than per
/// append; small files (consume queues, one per queue) take a 64th of their
/// size at a time, so a broker with thousands of queues does not reserve
/// megabytes for each.
fn allocate_ahead(size: u64) -> u64 {
    (size / 64).clamp(4 << 10, 4 << 20)
}

impl MappedFile {
    /// Opens (creating and pre-allocating if missing) the segment at `start`.
    ///
    /// # Errors
    /// I/O failures, or an existing file whose size is not `size`.
    pub fn open(dir: &Path, start: u64, size: u64) -> Result<Self> {
        let path = dir.join(segment_name(start));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let meta = file.metadata().map_err(|e| StoreError::io(&path, e))?;
        let fresh = meta.len() == 0;
        if fresh {
            file.set_len(size).map_err(|e| StoreError::io(&path, e))?;
        } else if meta.len() < size {
            // A crash between creating and sizing the file: the missing
            // part reads as zeros, which recovery treats as the end.
            tracing::warn!(path = %path.display(), len = meta.len(), "short segment extended");
            file.set_len(size).map_err(|e| StoreError::io(&path, e))?;
        } else if meta.len() != size {
            return Err(StoreError::BadRecord(format!(
                "segment {} has {} bytes, configured size is {size}",
                path.display(),
                meta.len()
            )));
        }
        let len = usize::try_from(size)
            .map_err(|_| StoreError::BadRecord(format!("segment size {size} too big")))?;
        let region = MmapRegion::map(&file, len).map_err(|e| StoreError::io(&path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or_else(now_ms, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if fresh {
            // The new name must survive a crash before its first flush.
            sync_dir(dir)?;
        }
        Ok(Self {
            path,
            start,
            size,
            region: Arc::new(region),
            file,
            wrote: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            last_write_ms: AtomicI64::new(if fresh { now_ms() } else { mtime }),
        })
    }

    /// Global offset of the first byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Segment size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Global offset one past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    /// Published write position within the segment.
    pub fn wrote(&self) -> u64 {
        self.wrote.load(Ordering::Acquire)
    }

    /// Flushed position within the segment.
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// True when nothing more can be written.
    pub fn is_full(&self) -> bool {
        self.wrote() >= self.size
    }

    /// Last write time (ms), from the file mtime at open.
    pub fn last_write_ms(&self) -> i64 {
        self.last_write_ms.load(Ordering::Relaxed)
    }

    /// Path on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes sure the blocks below `end` exist (allocating a few MiB
    /// ahead), so writes through the mapping cannot fault on a full disk.
    /// Segments are created sparse, and an existing one may have been too,
    /// so the first write of a run allocates from the start: `fallocate`
    /// over blocks that already exist costs next to nothing.
    ///
    /// # Errors
    /// `Io` with `ENOSPC` when the file system is full.
    pub fn ensure_allocated(&self, end: u64) -> Result<()> {
        let done = self.allocated.load(Ordering::Acquire);
        if end <= done {
            return Ok(());
        }
        let ahead = end
            .saturating_add(allocate_ahead(self.size))
            .min(self.size)
            .max(end);
        // Near a full disk the run-ahead may not fit where the write does.
        let to = match crate::mmap::allocate(&self.file, done, ahead - done) {
            Ok(()) => ahead,
            Err(_) if ahead > end => {
                crate::mmap::allocate(&self.file, done, end - done)
                    .map_err(|e| StoreError::io(&self.path, e))?;
                end
            }
            Err(e) => return Err(StoreError::io(&self.path, e)),
        };
        self.allocated.fetch_max(to, Ordering::AcqRel);
        Ok(())
    }

    /// Writes `data` at position `pos` without publishing it (single writer).
    ///
    /// # Errors
    /// Out of range; `Io` (`ENOSPC`) when its blocks cannot be allocated.
    pub fn write_unpublished(&self, pos: u64, data: &[u8]) -> Result<()> {
        let p = usize::try_from(pos).map_err(|_| StoreError::BadRecord("position".into()))?;
        self.ensure_allocated(pos.saturating_add(data.len() as u64).min(self.size))?;
        self.region
            .write_at(p, data)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Writes `data` at position `pos` through the file (`pwrite`) rather
    /// than the mapping, without publishing it (single writer). Readers
    /// still see it through the mapping: both share the page cache.
    ///
    /// # Errors
    /// Out of range, or the write failed.
    pub fn write_through_unpublished(&self, pos: u64, data: &[u8]) -> Result<()> {
        if pos + data.len() as u64 > self.size {
            return Err(StoreError::BadRecord(format!(
                "write of {} bytes at {pos} beyond segment of {}",
                data.len(),
                self.size
            )));
        }
        use std::os::unix::fs::FileExt;
        // Allocated first so that a full disk fails the whole record here
        // rather than part-way through the write.
        self.ensure_allocated(pos + data.len() as u64)?;
        self.file
            .write_all_at(data, pos)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Like [`MappedFile::flush`] for segments written through the file:
    /// an fdatasync instead of an msync.
    ///
    /// # Errors
    /// The sync failed.
    pub fn flush_through(&self) -> Result<u64> {
        let wrote = self.wrote();
        if wrote > self.flushed() {
            self.file
                .sync_data()
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.flushed.fetch_max(wrote, Ordering::AcqRel);
        }
        Ok(wrote)
    }

    /// Makes everything below `pos` visible to readers.
    pub fn publish(&self, pos: u64) {
        self.last_write_ms.store(now_ms(), Ordering::Relaxed);
        self.wrote.store(pos.min(self.size), Ordering::Release);
    }

    /// Borrows published bytes (`pos` relative to the segment).
    pub fn slice(&self, pos: u64, len: usize) -> Option<&[u8]> {
        let end = pos.checked_add(len as u64)?;
        if end > self.wrote() {
            return None;
        }
        self.region.slice(usize::try_from(pos).ok()?, len)
    }

    /// Borrows bytes regardless of the publish position (recovery only,
    /// before readers exist).
    pub fn slice_raw(&self, pos: u64, len: usize) -> Option<&[u8]> {
        self.region.slice(usize::try_from(pos).ok()?, len)
    }

    /// Position where the run of data holding `pos` ends (`pos` when it
    /// is in a hole): recovery reads unpublished bytes only below it, see
    /// [`crate::mmap::data_end`].
    pub fn data_end(&self, pos: u64) -> u64 {
        crate::mmap::data_end(&self.file, pos, self.size)
    }

    /// Runs of data `[from, to)` at or after `pos`.
    fn data_runs(&self, mut pos: u64) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        while pos < self.size {
            let Some(from) = crate::mmap::next_data(&self.file, pos).filter(|d| *d < self.size)
            else {
                break;
            };
            let to = self.data_end(from).max(from + 1).min(self.size);
            runs.push((from, to));
            pos = to;
        }
        runs
    }

    /// Published bytes as a `Bytes` sharing the mapping (no copy).
    pub fn bytes(&self, pos: u64, len: usize) -> Option<Bytes> {
        self.slice(pos, len)?;
        Some(Bytes::from_owner(MapSlice {
            region: Arc::clone(&self.region),
            pos: usize::try_from(pos).ok()?,
            len,
        }))
    }

    /// msyncs everything published but not yet flushed; returns the new
    /// flushed position.
    ///
    /// # Errors
    /// msync failure.
    pub fn flush(&self) -> Result<u64> {
        let wrote = self.wrote();
        let flushed = self.flushed();
        if wrote > flushed {
            let (from, len) = (flushed as usize, (wrote - flushed) as usize);
            self.region
                .flush_range(from, len)
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.flushed.store(wrote, Ordering::Release);
        }
        Ok(wrote)
    }

    /// Faults `[from, to)` (positions in this segment) in ahead of the
    /// writer; see [`MmapRegion::prefault`].
    ///
    /// # Errors
    /// `Unsupported` where the OS lacks it; other OS failures.
    pub fn prefault(&self, from: u64, to: u64) -> std::io::Result<()> {
        let to = to.min(self.size);
        if to <= from {
            return Ok(());
        }
        self.region.prefault(from as usize, (to - from) as usize)
    }

    /// Cuts the segment at `pos`: zeros the rest and resets both positions.
    /// Only for recovery/truncation while no reader looks past `pos`.
    ///
    /// # Errors
    /// Zeroing or msync failed.
    pub fn truncate(&self, pos: u64) -> Result<()> {
        let pos = pos.min(self.size);
        // Holes read as zeros already; touching them through the mapping
        // could allocate pages on a full disk (see `mmap::data_end`).
        for (from, to) in self.data_runs(pos) {
            let (p, n) = (from as usize, (to - from) as usize);
            let already_zero = self
                .slice_raw(from, n)
                .is_some_and(|s| s.iter().all(|b| *b == 0));
            if !already_zero {
                self.region
                    .zero(p, n)
                    .map_err(|e| StoreError::io(&self.path, e))?;
                self.region
                    .flush_range(p, n)
                    .map_err(|e| StoreError::io(&self.path, e))?;
            }
        }
        self.wrote.store(pos, Ordering::Release);
        self.flushed.store(pos, Ordering::Release);
        Ok(())
    }

    /// Sets positions after recovery found the valid end.
    pub fn set_recovered(&self, pos: u64) {
        self.wrote.store(pos.min(self.size), Ordering::Release);
        self.flushed.store(pos.min(self.size), Ordering::Release);
    }

    /// Removes the file (mappings held by readers stay valid).
    ///
    /// # Errors
    /// The unlink failed.
    pub fn destroy(&self) -> Result<()> {
        std::fs::remove_file(&self.path).map_err(|e| StoreError::io(&self.path, e))
    }
}

/// fsyncs a directory so that created/renamed/removed names are durable.
///
/// # Errors
/// Opening or syncing the directory failed.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// An ordered run of equally sized segments covering a contiguous range.
pub struct MappedFileQueue {
    dir: PathBuf,
    file_size: u64,
    files: RwLock<Vec<Arc<MappedFile>>>,
    flushed_where: AtomicU64,
}

impl MappedFileQueue {
    /// Opens every segment in `dir` (creating the directory).
    ///
    /// # Errors
    /// I/O failures, wrong sizes, or a gap between segments.
    pub fn load(dir: &Path, file_size: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut starts = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(start) = name.parse::<u64>() {
                    starts.push(start);
                }
            }
        }
        starts.sort_unstable();
        let mut files = Vec::with_capacity(starts.len());
        for (i, start) in starts.iter().enumerate() {
            if i > 0 && *start != starts[i - 1] + file_size {
                return Err(StoreError::BadRecord(format!(
                    "segment gap in {}: {} follows {}",
                    dir.display(),
                    segment_name(*start),
                    segment_name(starts[i - 1])
                )));
            }
            files.push(Arc::new(MappedFile::open(dir, *start, file_size)?));
        }
        let first = starts.first().copied().unwrap_or(0);
        Ok(Self {
            dir: dir.to_path_buf(),
            file_size,
            files: RwLock::new(files),
            flushed_where: AtomicU64::new(first),
        })
    }

    /// Directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Segment size.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Snapshot of all segments, oldest first.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.files.read().clone()
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.files.read().len()
    }

    /// True without segments.
    pub fn is_empty(&self) -> bool {
        self.files.read().is_empty()
    }

    /// Newest segment.
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.files.read().last().cloned()
    }

    /// Oldest segment.
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.files.read().first().cloned()
    }

    /// The segment holding global offset `offset`.
    pub fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.files.read();
        let first = files.first()?;
        if offset < first.start() {
            return None;
        }
        let idx = usize::try_from((offset - first.start()) / self.file_size).ok()?;
        files.get(idx).cloned()
    }

    /// The newest segment, or a new one at `start` when there is none or the
    /// newest is full (a new segment follows the newest directly).
    ///
    /// # Errors
    /// Creating the file failed.
    pub fn last_or_create(&self, start_if_empty: u64) -> Result<Arc<MappedFile>> {
        if let Some(last) = self.last() {
            if !last.is_full() {
                return Ok(last);
            }
        }
        let mut files = self.files.write();
        let start = match files.last() {
            Some(last) if !last.is_full() => return Ok(Arc::clone(last)),
            Some(last) => last.end(),
            None => {
                self.flushed_where.store(start_if_empty, Ordering::Release);
                start_if_empty
            }
        };
        let file = Arc::new(MappedFile::open(&self.dir, start, self.file_size)?);
        files.push(Arc::clone(&file));
        Ok(file)
    }

    /// Global offset of the first byte kept.
    pub fn min_offset(&self) -> u64 {
        self.first().map_or(0, |f| f.start())
    }

    /// Global offset one past the last published byte.
    pub fn max_offset(&self) -> u64 {
        self.last().map_or(0, |f| f.start() + f.wrote())
    }

    /// Global offset up to which everything is flushed.
    pub fn flushed_offset(&self) -> u64 {
        self.flushed_where.load(Ordering::Acquire)
    }

    /// Bytes published but not flushed.
    pub fn dirty_bytes(&self) -> u64 {
        self.max_offset().saturating_sub(self.flushed_offset())
    }

    /// Flushes all published data in order; returns the flushed offset.
    ///
    /// # Errors
    /// msync failure (the flushed offset stays where it was).
    pub fn flush(&self) -> Result<u64> {
        self.flush_each(MappedFile::flush)
    }

    /// [`MappedFileQueue::flush`] for segments written through the file
    /// (fdatasync per segment).
    ///
    /// # Errors
    /// Sync failure (the flushed offset stays where it was).
    pub fn flush_through(&self) -> Result<u64> {
        self.flush_each(MappedFile::flush_through)
    }

    fn flush_each(&self, flush: impl Fn(&MappedFile) -> Result<u64>) -> Result<u64> {
        let files = self.files();
        let from = self.flushed_offset();
        let mut flushed = from;
        for file in files.iter().filter(|f| f.end() > from) {
            let pos = flush(file)?;
            flushed = file.start() + pos;
            if pos < file.size() {
                break;
            }
        }
        self.flushed_where.fetch_max(flushed, Ordering::AcqRel);
        Ok(self.flushed_offset())
    }

    /// Cuts everything at and after global offset `offset`: zeros the tail of
    /// its segment and deletes later segments.
    ///
    /// # Errors
    /// I/O failures.
    pub fn truncate(&self, offset: u64) -> Result<()> {
        let mut files = self.files.write();
        let mut removed = false;
        while let Some(last) = files.last() {
            if last.start() >= offset && !(last.start() == offset && files.len() == 1) {
                last.destroy()?;
                files.pop();
                removed = true;
            } else {
                break;
            }
        }
        if let Some(last) = files.last() {
            if offset >= last.start() && offset <= last.end() {
                last.truncate(offset - last.start())?;
            }
        }
        drop(files);
        if removed {
            sync_dir(&self.dir)?;
        }
        let first = self.min_offset();
        self.flushed_where
            .store(offset.max(first), Ordering::Release);
        Ok(())
    }

    /// Sets positions after recovery: segments before the one holding `end`
    /// are full, that one ends at `end`.
    pub fn set_recovered_end(&self, end: u64) {
        for file in self.files.read().iter() {
            let pos = end.saturating_sub(file.start()).min(file.size());
            file.set_recovered(pos);
        }
        self.flushed_where.store(end, Ordering::Release);
    }

    /// Removes the oldest segments matching `pred` from the front, never the
    /// newest; returns how many were deleted.
    ///
    /// # Errors
    /// Unlinking failed (earlier deletions stand).
    pub fn delete_front_while(&self, mut pred: impl FnMut(&MappedFile) -> bool) -> Result<usize> {
        let mut files = self.files.write();
        let mut n = 0;
        while files.len() > 1 && pred(&files[0]) {
            files[0].destroy()?;
            files.remove(0);
            n += 1;
        }
        drop(files);
        if n > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(n)
    }

    /// Removes every segment (used when a queue is dropped entirely).
    ///
    /// # Errors
    /// Unlinking failed.
    pub fn destroy_all(&self) -> Result<()> {
        let mut files = self.files.write();
        for f in files.drain(..) {
            f.destroy()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_rolls_finds_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let q = MappedFileQueue::load(dir.path(), 4096).unwrap();
        let f = q.last_or_create(0).unwrap();
        f.write_unpublished(0, &[1u8; 4096]).unwrap();
        f.publish(4096);
        let g = q.last_or_create(0).unwrap();
        assert_eq!(g.start(), 4096);
        g.write_unpublished(0, b"abc").unwrap();
        assert!(g.slice(0, 3).is_none(), "unpublished bytes are invisible");
        g.publish(3);
        assert_eq!(q.max_offset(), 4099);
        assert_eq!(q.find(4097).unwrap().start(), 4096);
        assert!(q.find(9000).is_none());
        let b = g.bytes(0, 3).unwrap();
        assert_eq!(&b[..], b"abc");
        assert_eq!(q.flush().unwrap(), 4099);
        q.truncate(100).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q.max_offset(), 100);
        assert_eq!(&b[..], b"abc", "Bytes keep the unlinked mapping alive");
        drop(q);
        let q = MappedFileQueue::load(dir.path(), 4096).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q.first().unwrap().slice_raw(99, 2).unwrap(), &[1, 0]);
    }
}
