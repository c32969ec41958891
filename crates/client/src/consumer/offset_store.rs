//! Consume offsets: kept in memory, persisted to the broker
//! (UPDATE_CONSUMER_OFFSET) in clustering mode or to a local JSON file in
//! broadcasting mode, where each member keeps its own progress. Also the
//! broker offset queries consumers need (max, min, by timestamp).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use protocol::body::MessageQueue;
use protocol::header::offset::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use protocol::{RemotingCommand, RequestCode, ResponseCode};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::error::{ClientError, Result};
use crate::instance::Client;

/// Where offsets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backing {
    /// On the brokers (clustering).
    Broker,
    /// In a local file (broadcasting).
    File(PathBuf),
}

/// The offsets of one consumer group.
pub(crate) struct OffsetStore {
    client: Client,
    group: String,
    backing: Backing,
    table: Mutex<HashMap<MessageQueue, i64>>,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    topic: String,
    #[serde(rename = "brokerName")]
    broker_name: String,
    #[serde(rename = "queueId")]
    queue_id: i32,
    offset: i64,
}

#[derive(Serialize, Deserialize, Default)]
struct OffsetFile {
    #[serde(rename = "offsetTable")]
    offset_table: Vec<FileEntry>,
}

impl OffsetStore {
    /// A store; a file-backed one loads its file (a missing file is empty).
    ///
    /// # Errors
    /// [`ClientError::OffsetFile`] if the file exists but cannot be read or parsed.
    pub(crate) fn new(client: Client, group: &str, backing: Backing) -> Result<Self> {
        let table = match &backing {
            Backing::Broker => HashMap::new(),
            Backing::File(path) => load_file(path)?,
        };
        Ok(OffsetStore {
            client,
            group: group.to_string(),
            backing,
            table: Mutex::new(table),
        })
    }

    /// Sets the offset of `mq`; with `increase_only`, never moves it back.
    pub(crate) fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut t = self.table.lock();
        let e = t.entry(mq.clone()).or_insert(offset);
        if !increase_only || offset > *e {
            *e = offset;
        }
    }

    /// The in-memory offset of `mq`.
    pub(crate) fn get(&self, mq: &MessageQueue) -> Option<i64> {
        self.table.lock().get(mq).copied()
    }

    /// Forgets `mq` (after it was persisted on release).
    pub(crate) fn remove(&self, mq: &MessageQueue) {
        self.table.lock().remove(mq);
    }

    /// The stored offset of `mq`: from the broker (clustering; None when
    /// the group has none) or the file table (broadcasting).
    ///
    /// # Errors
    /// Transport errors and error codes other than QUERY_NOT_FOUND.
    pub(crate) async fn fetch(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        match self.backing {
            Backing::File(_) => Ok(self.get(mq)),
            Backing::Broker => {
                let off = query_consumer_offset(&self.client, &self.group, mq).await?;
                if let Some(o) = off {
                    self.update(mq, o, false);
                }
                Ok(off)
            }
        }
    }

    /// Persists the offsets of `mqs` (to the brokers, oneway or waiting for
    /// each answer; or the whole table to the file).
    pub(crate) async fn persist(&self, mqs: &[MessageQueue], oneway: bool) {
        match &self.backing {
            Backing::File(path) => {
                if let Err(e) = self.write_file(path).await {
                    warn!(error = %e, "cannot persist offsets");
                }
            }
            Backing::Broker => {
                for mq in mqs {
                    let Some(offset) = self.get(mq) else { continue };
                    if let Err(e) =
                        update_consumer_offset(&self.client, &self.group, mq, offset, oneway).await
                    {
                        debug!(%mq.topic, queue = mq.queue_id, error = %e, "offset persist failed");
                    }
                }
            }
        }
    }

    async fn write_file(&self, path: &Path) -> Result<()> {
        let file = OffsetFile {
            offset_table: self
                .table
                .lock()
                .iter()
                .map(|(mq, off)| FileEntry {
                    topic: mq.topic.clone(),
                    broker_name: mq.broker_name.clone(),
                    queue_id: mq.queue_id,
                    offset: *off,
                })
                .collect(),
        };
        let err = |source| ClientError::OffsetFile {
            path: path.display().to_string(),
            source,
        };
        let json = serde_json::to_vec(&file).map_err(|e| err(std::io::Error::other(e)))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(err)?;
        }
        // Write then rename, so a crash never leaves a half-written file.
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, json).await.map_err(err)?;
        tokio::fs::rename(&tmp, path).await.map_err(err)?;
        Ok(())
    }
}

fn load_file(path: &Path) -> Result<HashMap<MessageQueue, i64>> {
    let err = |source| ClientError::OffsetFile {
        path: path.display().to_string(),
        source,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(err(e)),
    };
    let file: OffsetFile =
        serde_json::from_slice(&bytes).map_err(|e| err(std::io::Error::other(e)))?;
    Ok(file
        .offset_table
        .into_iter()
        .map(|e| {
            (
                MessageQueue::new(e.topic, e.broker_name, e.queue_id),
                e.offset,
            )
        })
        .collect())
}

const OFFSET_TIMEOUT: Duration = Duration::from_secs(3);

async fn master_for(client: &Client, mq: &MessageQueue) -> Result<String> {
    client.master_addr(&mq.broker_name, &mq.topic).await
}

/// QUERY_CONSUMER_OFFSET: the group's stored offset, None if it has none.
///
/// # Errors
/// Transport errors; codes other than SUCCESS / QUERY_NOT_FOUND.
pub(crate) async fn query_consumer_offset(
    client: &Client,
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>> {
    let addr = master_for(client, mq).await?;
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_string(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        set_zero_if_not_found: None,
    };
    let req = RemotingCommand::request_with_header(RequestCode::QUERY_CONSUMER_OFFSET, &header);
    let resp = client.remoting().invoke(&addr, req, OFFSET_TIMEOUT).await?;
    if resp.code == ResponseCode::QUERY_NOT_FOUND.code() {
        return Ok(None);
    }
    let resp = crate::instance::expect_success(&addr, resp)?;
    let off = resp.decode_header::<OffsetResponseHeader>()?.offset;
    Ok((off >= 0).then_some(off))
}

/// UPDATE_CONSUMER_OFFSET, oneway or waiting for the answer.
///
/// # Errors
/// Transport errors; an error code when waiting.
pub(crate) async fn update_consumer_offset(
    client: &Client,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
    oneway: bool,
) -> Result<()> {
    let addr = master_for(client, mq).await?;
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_string(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        commit_offset: offset,
    };
    let req = RemotingCommand::request_with_header(RequestCode::UPDATE_CONSUMER_OFFSET, &header);
    if oneway {
        client.remoting().invoke_oneway(&addr, req).await?;
    } else {
        client.invoke_ok(&addr, req, OFFSET_TIMEOUT).await?;
    }
    Ok(())
}

/// GET_MAX_OFFSET: the offset the next message of `mq` will get.
///
/// # Errors
/// Transport errors and error codes.
pub async fn max_offset(client: &Client, mq: &MessageQueue) -> Result<i64> {
    let header = GetMaxOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        committed: None,
    };
    offset_call(
        client,
        mq,
        RemotingCommand::request_with_header(RequestCode::GET_MAX_OFFSET, &header),
    )
    .await
}

/// GET_MIN_OFFSET: the oldest offset still stored in `mq`.
///
/// # Errors
/// Transport errors and error codes.
pub async fn min_offset(client: &Client, mq: &MessageQueue) -> Result<i64> {
    let header = GetMinOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
    };
    offset_call(
        client,
        mq,
        RemotingCommand::request_with_header(RequestCode::GET_MIN_OFFSET, &header),
    )
    .await
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the first offset of `mq` stored at or
/// after `timestamp_ms` (the max offset if all are older).
///
/// # Errors
/// Transport errors and error codes.
pub async fn search_offset(client: &Client, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
    let header = SearchOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        boundary_type: Some("LOWER".into()),
    };
    offset_call(
        client,
        mq,
        RemotingCommand::request_with_header(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP, &header),
    )
    .await
}

async fn offset_call(client: &Client, mq: &MessageQueue, req: RemotingCommand) -> Result<i64> {
    let addr = master_for(client, mq).await?;
    let resp = client.invoke_ok(&addr, req, OFFSET_TIMEOUT).await?;
    Ok(resp.decode_header::<OffsetResponseHeader>()?.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_store_round_trip_and_increase_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g").join("offsets.json");
        let client = Client::connect("127.0.0.1:1").unwrap();
        let store = OffsetStore::new(client.clone(), "g", Backing::File(path.clone())).unwrap();
        let mq = MessageQueue::new("T", "b", 1);
        store.update(&mq, 10, true);
        store.update(&mq, 5, true);
        assert_eq!(store.get(&mq), Some(10));
        store.update(&mq, 5, false);
        assert_eq!(store.get(&mq), Some(5));
        store.persist(&[], true).await;
        let again = OffsetStore::new(client.clone(), "g", Backing::File(path.clone())).unwrap();
        assert_eq!(again.fetch(&mq).await.unwrap(), Some(5));
        assert_eq!(again.get(&MessageQueue::new("T", "b", 2)), None);
        std::fs::write(&path, b"not json").unwrap();
        assert!(OffsetStore::new(client.clone(), "g", Backing::File(path)).is_err());
        client.shutdown().await;
    }
}
