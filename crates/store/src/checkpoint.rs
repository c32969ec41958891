//! The 4 KiB `checkpoint` file (storage-format §5). Besides the Java
//! timestamps we keep two offsets of our own after the 5.x fields: the
//! commit-log offset known flushed and the offset up to which consume queues
//! and index were flushed. Recovery starts validating at the segment holding
//! the lower of the two.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Result, StoreError};

const SIZE: usize = 4096;
const MAGIC: &[u8; 8] = b"APOGEEC1";

/// Checkpoint values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointData {
    /// Store time of the last commit-log record flushed.
    pub physic_msg_timestamp: i64,
    /// Store time of the last record flushed into consume queues.
    pub logics_msg_timestamp: i64,
    /// Store time of the last record flushed into the index.
    pub index_msg_timestamp: i64,
    /// Commit-log offset known flushed (ours; `None` in a Java file).
    pub physic_offset: Option<u64>,
    /// Commit-log offset whose records are all in flushed queues/index.
    pub logics_offset: Option<u64>,
}

/// The open checkpoint file.
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    data: Mutex<CheckpointData>,
}

impl Checkpoint {
    /// Opens or creates `path`.
    ///
    /// # Errors
    /// I/O failures.
    pub fn open(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let mut buf = vec![0u8; SIZE];
        let n = file
            .read_at(&mut buf, 0)
            .map_err(|e| StoreError::io(path, e))?;
        let data = if n >= 64 {
            decode(&buf)
        } else {
            CheckpointData::default()
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
            data: Mutex::new(data),
        })
    }

    /// Current values.
    pub fn get(&self) -> CheckpointData {
        *self.data.lock()
    }

    /// Replaces the values and writes them durably.
    ///
    /// # Errors
    /// I/O failures.
    pub fn store(&self, data: CheckpointData) -> Result<()> {
        let mut guard = self.data.lock();
        *guard = data;
        let buf = encode(&data);
        self.file
            .write_all_at(&buf, 0)
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))
    }
}

fn encode(d: &CheckpointData) -> Vec<u8> {
    let mut b = vec![0u8; SIZE];
    b[0..8].copy_from_slice(&d.physic_msg_timestamp.to_be_bytes());
    b[8..16].copy_from_slice(&d.logics_msg_timestamp.to_be_bytes());
    b[16..24].copy_from_slice(&d.index_msg_timestamp.to_be_bytes());
    if let (Some(p), Some(l)) = (d.physic_offset, d.logics_offset) {
        b[40..48].copy_from_slice(&p.to_be_bytes());
        b[48..56].copy_from_slice(&l.to_be_bytes());
        b[56..64].copy_from_slice(MAGIC);
    }
    b
}

fn decode(b: &[u8]) -> CheckpointData {
    let i = |at: usize| {
        b.get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .map_or(0, i64::from_be_bytes)
    };
    let ours = b.get(56..64) == Some(MAGIC.as_slice());
    CheckpointData {
        physic_msg_timestamp: i(0),
        logics_msg_timestamp: i(8),
        index_msg_timestamp: i(16),
        physic_offset: ours.then(|| i(40) as u64),
        logics_offset: ours.then(|| i(48) as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_java_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint");
        let cp = Checkpoint::open(&path).unwrap();
        assert_eq!(cp.get(), CheckpointData::default());
        let d = CheckpointData {
            physic_msg_timestamp: 5,
            logics_msg_timestamp: 6,
            index_msg_timestamp: 7,
            physic_offset: Some(1000),
            logics_offset: Some(900),
        };
        cp.store(d).unwrap();
        drop(cp);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096);
        assert_eq!(Checkpoint::open(&path).unwrap().get(), d);
        // A Java checkpoint has only timestamps.
        let mut java = vec![0u8; 4096];
        java[0..8].copy_from_slice(&42i64.to_be_bytes());
        std::fs::write(&path, &java).unwrap();
        let got = Checkpoint::open(&path).unwrap().get();
        assert_eq!(got.physic_msg_timestamp, 42);
        assert_eq!(got.physic_offset, None);
    }
}
