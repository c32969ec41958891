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

    /// Faults `[pos, pos+len)` in writable ahead of the writer
    /// (MADV_POPULATE_WRITE), so appends copy into resident pages instead of
    /// taking a page fault (and the kernel's zeroing of a fresh page) each
    /// 4 KiB. It never changes the bytes. `Unsupported` before Linux 5.14
    /// and on other systems.
    pub fn prefault(&self, pos: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // madvise itself would go on into whatever is mapped next.
        if pos.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "prefault of {len} bytes at {pos} beyond mapping of {}",
                    self.len
                ),
            ));
        }
        #[cfg(target_os = "linux")]
        {
            self.map
                .advise_range(memmap2::Advice::PopulateWrite, pos, len)
                .map_err(|e| {
                    if e.raw_os_error() == Some(libc::EINVAL) {
                        io::Error::new(io::ErrorKind::Unsupported, e)
                    } else {
                        e
                    }
                })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = pos;
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
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

/// Fraction (0.0–1.0) of the file system holding `path` that is in use,
/// as `df` and RocketMQ compute it: used / (used + available to us), where
/// used = total - free. Blocks reserved for root count as neither, so a
/// file system with a large reserve is not mistaken for a nearly full one
/// (total - available over total read 89% on a disk `df` shows at 71%, and
/// retention then force-deleted unexpired commit-log segments).
///
/// # Errors
/// The path has interior NULs or `statvfs` failed.
pub fn disk_used_ratio(path: &Path) -> io::Result<f64> {
    disk_space(path).map(|s| s.used_ratio)
}

/// What `statvfs` says about the file system holding a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskSpace {
    /// Used fraction as `df` computes it (see [`disk_used_ratio`]).
    pub used_ratio: f64,
    /// Bytes available to this process.
    pub available: u64,
}

/// Usage and available bytes of the file system holding `path`.
///
/// # Errors
/// The path has interior NULs or `statvfs` failed.
pub fn disk_space(path: &Path) -> io::Result<DiskSpace> {
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
    let (blocks, free, avail) = (st.f_blocks as u64, st.f_bfree as u64, st.f_bavail as u64);
    #[allow(clippy::unnecessary_cast)]
    let frsize = st.f_frsize as u64;
    Ok(DiskSpace {
        used_ratio: used_ratio(blocks, free, avail),
        available: avail.saturating_mul(frsize),
    })
}

/// End of the run of data (not a hole) starting at `from`: `from` itself
/// when `from` is in a hole or past the end. Reading a hole through a
/// shared mapping can allocate a page (tmpfs does), which on a full file
/// system is a SIGBUS; readers of possibly sparse files stay below this.
/// Where the OS cannot say, everything up to `len` counts as data.
pub fn data_end(file: &File, from: u64, len: u64) -> u64 {
    #[cfg(target_os = "linux")]
    {
        let Ok(off) = libc::off_t::try_from(from) else {
            return from;
        };
        let fd = file.as_raw_fd();
        // SAFETY: plain syscalls on a valid, open descriptor borrowed from
        // `file`; SEEK_DATA/SEEK_HOLE only report extents. The descriptor's
        // position is not used by anyone (all I/O is positional).
        let data = unsafe { libc::lseek(fd, off, libc::SEEK_DATA) };
        if data < 0 {
            let enxio = io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO);
            return if enxio { from } else { len };
        }
        if data != off {
            return from;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, off, libc::SEEK_HOLE) };
        u64::try_from(hole).map_or(len, |h| h.min(len))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, from);
        len
    }
}

/// Start of the next run of data at or after `from`, if any.
pub fn next_data(file: &File, from: u64) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let off = libc::off_t::try_from(from).ok()?;
        // SAFETY: see `data_end`.
        let data = unsafe { libc::lseek(file.as_raw_fd(), off, libc::SEEK_DATA) };
        u64::try_from(data).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Some(from)
    }
}

/// Gives `[offset, offset+len)` of `file` real blocks (`posix_fallocate`),
/// so that a later store through a shared mapping cannot meet a full disk:
/// the kernel reports that to a mapping write with SIGBUS, which kills the
/// process, while here it is an `ENOSPC` error the caller can answer with.
///
/// # Errors
/// `ENOSPC` (kind `StorageFull`) when the blocks are not there; other OS
/// failures.
pub fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let (Ok(off), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("allocation of {len} bytes at {offset} out of range"),
        ));
    };
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscall on a valid, open descriptor borrowed from
        // `file`; it only changes the file's block allocation, never its bytes.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), off, n) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, off, n);
        Ok(())
    }
}

/// `df`'s usage from block counts: total, free (including the root
/// reserve) and available to unprivileged users.
fn used_ratio(blocks: u64, free: u64, avail: u64) -> f64 {
    let used = blocks.saturating_sub(free);
    let entire = used.saturating_add(avail);
    if entire == 0 {
        return 0.0;
    }
    (used as f64 / entire as f64).clamp(0.0, 1.0)
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
    fn used_ratio_ignores_the_root_reserve() {
        // 252 blocks, 65 used, 187 free of which only 27 are available:
        // df shows 65 / (65 + 27) = 71%, not (252 - 27) / 252 = 89%.
        let r = used_ratio(252, 187, 27);
        assert!((r - 65.0 / 92.0).abs() < 1e-9, "{r}");
        assert!((used_ratio(100, 40, 40) - 0.6).abs() < 1e-9);
        assert_eq!(used_ratio(0, 0, 0), 0.0);
        assert_eq!(used_ratio(100, 0, 0), 1.0);
        let here = disk_used_ratio(Path::new(".")).unwrap();
        assert!((0.0..=1.0).contains(&here));
    }

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
    fn prefault_keeps_the_bytes_and_stays_in_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        file.set_len(3 * 4096).unwrap();
        let region = MmapRegion::map(&file, 3 * 4096).unwrap();
        region.write_at(5000, b"kept").unwrap();
        match region.prefault(100, 3 * 4096 - 100) {
            Ok(()) => {}
            // Older kernels lack MADV_POPULATE_WRITE; the store then skips it.
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::Unsupported),
        }
        assert_eq!(region.slice(5000, 4).unwrap(), b"kept");
        assert!(region.slice(0, 5000).unwrap().iter().all(|b| *b == 0));
        let beyond = region.prefault(4096, 3 * 4096).unwrap_err();
        assert_eq!(beyond.kind(), io::ErrorKind::InvalidInput);
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
