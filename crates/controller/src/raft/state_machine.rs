//! The state machine: [`Replicas`] plus what Raft needs (last applied log
//! id, membership). Snapshots are the whole state as JSON, written to
//! `snapshot.json` (temporary file, fsync, rename) when built or installed;
//! at start the state is the last snapshot and Raft replays the log after it.

use std::fs::File;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::TypeConfig;
use crate::error::ControllerError;
use crate::replicas::{Outcome, Replicas};

/// What is applied, shared with the request handlers for reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    pub last_applied: Option<LogId<u64>>,
    pub membership: StoredMembership<u64, openraft::BasicNode>,
    pub replicas: Replicas,
}

#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<u64, openraft::BasicNode>,
    data: Vec<u8>,
}

/// The state machine; clones share the state.
#[derive(Debug, Clone)]
pub struct StateMachine {
    state: Arc<RwLock<Applied>>,
    path: PathBuf,
    current: Arc<RwLock<Option<SnapshotFile>>>,
}

const SNAPSHOT: &str = "snapshot.json";

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl StateMachine {
    /// Loads the last snapshot in `dir`, if any.
    ///
    /// # Errors
    /// [`ControllerError::Io`] when the snapshot exists but cannot be read.
    pub fn open(dir: &Path) -> Result<StateMachine, ControllerError> {
        std::fs::create_dir_all(dir).map_err(|e| ControllerError::io("creating", dir, e))?;
        let path = dir.join(SNAPSHOT);
        let mut state = Applied::default();
        let mut current = None;
        if path.exists() {
            let bytes =
                std::fs::read(&path).map_err(|e| ControllerError::io("reading", &path, e))?;
            let file: SnapshotFile = serde_json::from_slice(&bytes)
                .map_err(|e| ControllerError::io("parsing", &path, std::io::Error::other(e)))?;
            state = serde_json::from_slice(&file.data)
                .map_err(|e| ControllerError::io("parsing", &path, std::io::Error::other(e)))?;
            current = Some(file);
        }
        Ok(StateMachine {
            state: Arc::new(RwLock::new(state)),
            path,
            current: Arc::new(RwLock::new(current)),
        })
    }

    /// The applied state, for reads.
    pub fn state(&self) -> &Arc<RwLock<Applied>> {
        &self.state
    }

    fn snapshot_of(file: &SnapshotFile) -> Snapshot<TypeConfig> {
        Snapshot {
            meta: file.meta.clone(),
            snapshot: Box::new(Cursor::new(file.data.clone())),
        }
    }

    fn save(&self, file: SnapshotFile) -> Result<Snapshot<TypeConfig>, std::io::Error> {
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        write_atomically(&self.path, &bytes)?;
        let snapshot = Self::snapshot_of(&file);
        *self.current.write() = Some(file);
        Ok(snapshot)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let (data, last_applied, membership) = {
            let state = self.state.read();
            let data =
                serde_json::to_vec(&*state).map_err(|e| StorageIOError::read_state_machine(&e))?;
            (data, state.last_applied, state.membership.clone())
        };
        let snapshot_id = match last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, protocol::clock::now_ms()),
            None => format!("none-{}", protocol::clock::now_ms()),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let signature = meta.signature();
        self.save(SnapshotFile { meta, data })
            .map_err(|e| StorageIOError::write_snapshot(Some(signature), &e).into())
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<u64>>,
            StoredMembership<u64, openraft::BasicNode>,
        ),
        StorageError<u64>,
    > {
        let state = self.state.read();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError<u64>>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut state = self.state.write();
        let mut answers = Vec::new();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => answers.push(Ok(None)),
                EntryPayload::Normal(command) => {
                    let outcome = state.replicas.apply(&command);
                    tracing::debug!(?command, ok = outcome.is_ok(), "applied controller command");
                    answers.push(outcome);
                }
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                    answers.push(Ok(None));
                }
            }
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let data = snapshot.into_inner();
        let applied: Applied = serde_json::from_slice(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        self.save(SnapshotFile {
            meta: meta.clone(),
            data,
        })
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let mut state = self.state.write();
        *state = applied;
        state.last_applied = meta.last_log_id;
        state.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        Ok(self.current.read().as_ref().map(Self::snapshot_of))
    }
}
