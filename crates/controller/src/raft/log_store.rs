//! The Raft log and vote on disk: one append-only journal file of framed
//! records (`len u32 LE | crc32 u32 LE | JSON`), each fsynced before the
//! write is reported done. Start-up replays the journal into memory and cuts
//! a torn tail; a purge rewrites the journal without the purged entries
//! (write a temporary file, fsync, rename), so it never grows without bound.
//!
//! The controller's log is small (a few entries per broker event), so the
//! file I/O runs inline under a short lock rather than on a writer task.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, StorageError, StorageIOError, Vote};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::TypeConfig;
use crate::error::ControllerError;

/// One journal record.
#[derive(Debug, Serialize, Deserialize)]
enum Record {
    Append(Vec<Entry<TypeConfig>>),
    /// Drop entries with index >= this.
    Truncate(u64),
    Purge(LogId<u64>),
    Vote(Vote<u64>),
    Committed(Option<LogId<u64>>),
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    last_purged: Option<LogId<u64>>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
    file: Option<File>,
    path: PathBuf,
}

/// The log store; clones share one journal.
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

const JOURNAL: &str = "raft-log.journal";

fn frame(record: &Record) -> Result<Vec<u8>, std::io::Error> {
    let json = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    let len = u32::try_from(json.len()).map_err(std::io::Error::other)?;
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// The records of a journal and the length of its valid prefix.
fn read_records(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = bytes.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if crc32fast::hash(body) != crc {
            break;
        }
        let Ok(record) = serde_json::from_slice(body) else {
            break;
        };
        records.push(record);
        pos += 8 + len;
    }
    (records, pos)
}

impl Inner {
    fn replay(&mut self, record: Record) {
        match record {
            Record::Append(entries) => {
                for e in entries {
                    self.entries.insert(e.log_id.index, e);
                }
            }
            Record::Truncate(index) => {
                self.entries.split_off(&index);
            }
            Record::Purge(log_id) => {
                self.entries = self.entries.split_off(&(log_id.index + 1));
                self.last_purged = Some(log_id);
            }
            Record::Vote(v) => self.vote = Some(v),
            Record::Committed(c) => self.committed = c,
        }
    }

    fn write(&mut self, record: &Record) -> Result<(), std::io::Error> {
        let bytes = frame(record)?;
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the journal is closed"))?;
        file.write_all(&bytes)?;
        file.sync_data()
    }

    /// Rewrites the journal with only what is live now.
    fn compact(&mut self) -> Result<(), std::io::Error> {
        let tmp = self.path.with_extension("journal.tmp");
        let mut out = File::create(&tmp)?;
        if let Some(v) = self.vote {
            out.write_all(&frame(&Record::Vote(v))?)?;
        }
        if let Some(p) = self.last_purged {
            out.write_all(&frame(&Record::Purge(p))?)?;
        }
        out.write_all(&frame(&Record::Committed(self.committed))?)?;
        let entries: Vec<_> = self.entries.values().cloned().collect();
        if !entries.is_empty() {
            out.write_all(&frame(&Record::Append(entries))?)?;
        }
        out.sync_all()?;
        drop(out);
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        self.file = Some(OpenOptions::new().append(true).open(&self.path)?);
        Ok(())
    }
}

fn log_error(e: std::io::Error) -> StorageError<u64> {
    StorageIOError::write_logs(&e).into()
}

fn sync_dir(path: &Path) -> Result<(), std::io::Error> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

impl LogStore {
    /// Opens (or creates) the journal in `dir` and replays it.
    ///
    /// # Errors
    /// [`ControllerError::Io`] when the directory or journal cannot be used.
    pub fn open(dir: &Path) -> Result<LogStore, ControllerError> {
        std::fs::create_dir_all(dir).map_err(|e| ControllerError::io("creating", dir, e))?;
        let path = dir.join(JOURNAL);
        let mut bytes = Vec::new();
        if path.exists() {
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| ControllerError::io("reading", &path, e))?;
        }
        let (records, valid) = read_records(&bytes);
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), valid, len = bytes.len(), "cutting a torn tail off the raft journal");
        }
        let mut inner = Inner {
            path: path.clone(),
            ..Inner::default()
        };
        for r in records {
            inner.replay(r);
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ControllerError::io("opening", &path, e))?;
        file.set_len(valid as u64)
            .map_err(|e| ControllerError::io("truncating", &path, e))?;
        inner.file = Some(file);
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn write(&self, record: Record) -> Result<(), std::io::Error> {
        let mut inner = self.inner.lock();
        inner.write(&record)?;
        inner.replay(record);
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let inner = self.inner.lock();
        Ok(inner.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let inner = self.inner.lock();
        let last = inner
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(inner.last_purged);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.write(Record::Vote(*vote)).map_err(log_error)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.inner.lock().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        self.write(Record::Committed(committed)).map_err(log_error)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.inner.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let result = self.write(Record::Append(entries));
        callback.log_io_completed(match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        });
        result.map_err(log_error)
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.write(Record::Truncate(log_id.index))
            .map_err(log_error)
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.write(Record::Purge(log_id)).map_err(log_error)?;
        self.inner
            .lock()
            .compact()
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(term: u64, index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 0), index),
            payload: EntryPayload::Blank,
        }
    }

    #[tokio::test]
    async fn journal_survives_reopen_truncate_purge_and_a_torn_tail() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else { return };
        {
            let store = LogStore::open(dir.path()).ok();
            let Some(store) = store else { panic!("open") };
            for i in 1..=5 {
                assert!(store.write(Record::Append(vec![entry(1, i)])).is_ok());
            }
            assert!(store.write(Record::Vote(Vote::new(3, 1))).is_ok());
            assert!(store.write(Record::Truncate(5)).is_ok());
            let mut s = store.clone();
            assert!(s
                .purge(LogId::new(CommittedLeaderId::new(1, 0), 2))
                .await
                .is_ok());
        }
        // A torn record at the end is cut, not fatal.
        let path = dir.path().join(JOURNAL);
        let mut f = OpenOptions::new().append(true).open(&path).ok();
        if let Some(f) = f.as_mut() {
            let _ = f.write_all(&[9, 0, 0, 0, 1, 2]);
        }
        let reopened = LogStore::open(dir.path()).ok();
        let Some(mut s) = reopened else {
            panic!("reopen")
        };
        let state = s.get_log_state().await.ok();
        assert_eq!(
            state
                .as_ref()
                .and_then(|st| st.last_log_id)
                .map(|l| l.index),
            Some(4)
        );
        assert_eq!(
            state.and_then(|st| st.last_purged_log_id).map(|l| l.index),
            Some(2)
        );
        let entries = s.try_get_log_entries(0..10).await.ok().unwrap_or_default();
        assert_eq!(
            entries.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(s.read_vote().await.ok().flatten(), Some(Vote::new(3, 1)));
        // Writes after the cut tail replay cleanly.
        assert!(s.write(Record::Append(vec![entry(2, 5)])).is_ok());
        let again = LogStore::open(dir.path()).ok();
        let Some(mut again) = again else {
            panic!("reopen 2")
        };
        let last = again
            .get_log_state()
            .await
            .ok()
            .and_then(|st| st.last_log_id);
        assert_eq!(last.map(|l| (l.leader_id.term, l.index)), Some((2, 5)));
    }
}
