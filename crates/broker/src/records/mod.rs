//! Records over the store: load a stored message, put one, park it under
//! a system topic and restore its real destination.

pub mod op_marker;
pub mod replica_topics;
pub mod slave_ack;

use std::sync::Arc;

use bytes::BytesMut;
use protocol::message::{keys, MessageRecord};
use store::PutResult;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;

/// The stored record at a commit-log offset, decoded.
///
/// # Errors
/// [`BrokerError::System`] when nothing (or garbage) is there.
pub fn load(state: &BrokerState, phys_offset: i64) -> BrokerResult<MessageRecord> {
    let bytes = u64::try_from(phys_offset)
        .ok()
        .and_then(|o| state.store.read_message_at(o))
        .ok_or_else(|| {
            BrokerError::System(format!("look message by offset failed, {phys_offset}"))
        })?;
    MessageRecord::decode(&bytes)
        .map(|(r, _)| r)
        .map_err(|e| BrokerError::System(format!("message at offset {phys_offset}: {e}")))
}

/// Encodes `rec` as a new message (our store host) and appends it.
///
/// # Errors
/// Encoding limits as [`BrokerError::MessageIllegal`]; store failures as
/// on the send path.
pub async fn put(
    state: &Arc<BrokerState>,
    rec: &MessageRecord,
    wait: bool,
) -> BrokerResult<PutResult> {
    let mut buf = BytesMut::with_capacity(rec.body.len() + 512);
    let mut owned;
    let rec = if rec.store_host == state.store_host {
        rec
    } else {
        owned = rec.clone();
        owned.store_host = state.store_host;
        &owned
    };
    rec.encode_for_append(&mut buf)
        .map_err(|e| BrokerError::MessageIllegal(e.to_string()))?;
    state.store.put(&buf, wait).await.map_err(BrokerError::from)
}

/// Restores the real destination saved in REAL_TOPIC / REAL_QID.
///
/// # Errors
/// [`BrokerError::System`] naming the missing or bad property.
pub fn restore_real(rec: &mut MessageRecord) -> BrokerResult<()> {
    let topic = rec
        .properties
        .get(keys::REAL_TOPIC)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| BrokerError::System("the message has no REAL_TOPIC property".into()))?
        .to_owned();
    let queue_id = rec
        .properties
        .get(keys::REAL_QID)
        .and_then(|q| q.parse::<i32>().ok())
        .filter(|q| *q >= 0)
        .ok_or_else(|| BrokerError::System("the message has no valid REAL_QID property".into()))?;
    rec.topic = topic;
    rec.queue_id = queue_id;
    Ok(())
}

/// Saves the current destination in REAL_TOPIC / REAL_QID and moves the
/// record to `topic`/`queue_id`.
pub fn park(rec: &mut MessageRecord, topic: &str, queue_id: i32) {
    rec.properties.insert(keys::REAL_TOPIC, rec.topic.clone());
    rec.properties
        .insert(keys::REAL_QID, rec.queue_id.to_string());
    rec.topic = topic.to_owned();
    rec.queue_id = queue_id;
}
