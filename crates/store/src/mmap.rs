//! The store's only `unsafe` code: memory-mapped regions and the few OS calls
//! (`flock`, `statvfs`) that std does not offer on our minimum Rust version.
//!
//! Concurrency contract of [`MmapRegion`]: one writer at a time writes bytes
//! that no reader has been told about yet, then publishes them through an
//! atomic position with `Release` ordering; readers only read below a
//! position loaded with `Acquire`. Writes and reads therefore never touch the
//! same bytes at the same time. Owners that cannot keep this contract (the
//! index) put their own lock around both sides.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use memmap2::MmapMut;

/// A shared, writable memory mapping of a whole file.
pub struct MmapRegion {
    map: MmapMut,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the raw pointer points into `map`, which lives as long as the
// region; cross-thread access follows the publish contract in the module doc,
// so no two threads write, or write and read, the same bytes concurrently.
unsafe impl Send for MmapRegion {}
// SAFETY: see `Send` above; `&self` methods only copy into regions owned by
// the single writer or read published bytes.
unsafe impl Sync for MmapRegion {}

impl MmapRegion {
    /// Maps `file` (already sized to `len`) read-write and shared.
    ///
    /// # Errors
    /// The OS refused the mapping.
    pub fn map(file: &File, len: usize) -> io::Result<Self> {
        // SAFETY: the store owns its files (the store directory is guarded by
        // a `flock`, see `lock_exclusive`); no other process truncates them
        // while mapped, so the mapping never refers to vanished pages.
        let mut map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(file)? };
        let ptr = map.as_mut_ptr();
        Ok(Self { map, ptr, len })
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length mapping.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `data` to `pos`. Out-of-range writes are refused.
    ///
    /// Callers must be the single writer of this range and must not have
    /// published it to readers yet (module contract).
    pub fn write_at(&self, pos: usize, data: &[u8]) -> io::Result<()> {
        let end = pos.checked_add(data.len()).filter(|end| *end <= self.len);
        if end.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "write of {} bytes at {pos} beyond mapping of {}",
                    data.len(),
                    self.len
                ),
            ));
        }
        // SAFETY: bounds checked above; `data` cannot overlap the mapping
        // (it is a separate Rust borrow); exclusivity of the range is the
        // caller's contract described in the module doc.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(pos), data.len()) };
        Ok(())
    }

    /// Fills `len` bytes at `pos` with zeros (same contract as `write_at`).
    pub fn zero(&self, pos: usize, len: usize) -> io::Result<()> {
        let end = pos.checked_add(len).filter(|end| *end <= self.len);
        if end.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "zeroing {len} bytes at {pos} beyond mapping of {}",
                    self.len
                ),
            ));
        }
        // SAFETY: bounds checked above; range exclusivity is the caller's
        // contract (recovery and truncation run before readers exist).
        unsafe { std::ptr::write_bytes(self.ptr.add(pos), 0, len) };
        Ok(())
    }

    /// Borrows `len` bytes at `pos`, or `None` when out of range.
    ///
    /// Callers only read published bytes (module contract).
    pub fn slice(&self, pos: usize, len: usize) -> Option<&[u8]> {
        let end = pos.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: in bounds; the mapping outlives `&self`; published bytes
        // are not written concurrently (module contract).
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(pos), len) })
    }

    /// Synchronously writes back `[pos, pos+len)` (msync MS_SYNC).
    pub fn flush_range(&self, pos: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        self.map.flush_range(pos, len)
    }
}

/// Takes an exclusive, non-blocking `flock` on `file`.
///
/// # Errors
/// `WouldBlock` when another process holds the lock.
pub fn lock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: plain syscall on a valid, open descriptor borrowed from `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Fraction (0.0–1.0) of the file system holding `path` that is in use:
/// used / (used + available to us), as `df` and Java's
/// `getDiskPartitionSpaceUsedPercent` count it. Blocks reserved for root are
/// neither: counting them as used (total − available) read a 77%-full disk
/// as 91% and refused every send at the 90% warning level.
///
/// # Errors
/// The path has interior NULs or `statvfs` failed.
pub fn disk_used_ratio(path: &Path) -> io::Result<f64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `statvfs` is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and a valid out-pointer.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    let (blocks, free, avail) = (st.f_blocks as f64, st.f_bfree as f64, st.f_bavail as f64);
    Ok(used_ratio(blocks, free, avail))
}

/// used / (used + available) from statvfs block counts.
fn used_ratio(blocks: f64, free: f64, avail: f64) -> f64 {
    let used = (blocks - free).max(0.0);
    if used + avail <= 0.0 {
        return 0.0;
    }
    (used / (used + avail)).clamp(0.0, 1.0)
}

/// Local calendar time of `ms` since the epoch: (year, month 1-12, day,
/// hour, minute, second). Used for index file names and `deleteWhen`.
pub fn local_time(ms: i64) -> (i32, u32, u32, u32, u32, u32) {
    let secs = (ms.div_euclid(1000)) as libc::time_t;
    // SAFETY: `tm` is plain old data; all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a local `time_t` and `tm`; `localtime_r` is
    // the thread-safe variant and writes only into `tm`.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return (1970, 1, 1, 0, 0, 0);
    }
    let u = |v: libc::c_int| u32::try_from(v).unwrap_or(0);
    (
        tm.tm_year + 1900,
        u(tm.tm_mon + 1),
        u(tm.tm_mday),
        u(tm.tm_hour),
        u(tm.tm_min),
        u(tm.tm_sec),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_flush_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(4096).unwrap();
        let region = MmapRegion::map(&file, 4096).unwrap();
        region.write_at(10, b"hello").unwrap();
        assert_eq!(region.slice(10, 5).unwrap(), b"hello");
        assert!(region.write_at(4094, b"abc").is_err());
        assert!(region.slice(4095, 2).is_none());
        region.flush_range(0, 4096).unwrap();
        region.zero(10, 2).unwrap();
        assert_eq!(region.slice(10, 5).unwrap(), b"\0\0llo");
        drop(region);
        assert_eq!(&std::fs::read(&path).unwrap()[10..15], b"\0\0llo");
        let ratio = disk_used_ratio(dir.path()).unwrap();
        assert!((0.0..=1.0).contains(&ratio));
    }

    #[test]
    fn reserved_blocks_count_as_neither_used_nor_available() {
        // A disk `df` shows 77% full with many blocks reserved for root.
        let r = used_ratio(66_053_021.0, 47_850_676.0, 5_619_127.0);
        assert!((r - 0.764).abs() < 0.001, "{r}");
        assert_eq!(used_ratio(100.0, 100.0, 100.0), 0.0);
        assert_eq!(used_ratio(0.0, 0.0, 0.0), 0.0);
        assert_eq!(used_ratio(100.0, 0.0, 0.0), 1.0);
    }

    #[test]
    fn lock_is_exclusive_between_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let a = File::create(&path).unwrap();
        let b = File::open(&path).unwrap();
        lock_exclusive(&a).unwrap();
        assert!(lock_exclusive(&b).is_err());
    }
}
