//! Where a message is really stored. A send (or a send-back, or a commit)
//! names a topic, but some messages first go elsewhere:
//! - a transactional half message → `RMQ_SYS_TRANS_HALF_TOPIC` (transaction.rs),
//! - a message with a delay level → `SCHEDULE_TOPIC_XXXX` (schedule.rs),
//! - a message with a delivery time → `rmq_sys_wheel_timer` (timer.rs),
//! - a client-side retry past its maximum → `%DLQ%{group}` (handlers/retry.rs).
//!
//! Each rule rewrites an owned [`MessageRecord`]; the caller encodes it with
//! `encode_for_append` and puts it. Messages the services deliver later are
//! put directly, never diverted again.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use protocol::header::send::SendMessageRequestHeader;
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, MessageRecord, Properties};
use store::PutResult;

use crate::error::{BrokerError, BrokerResult};
use crate::handlers::send::store_error;
use crate::state::BrokerState;

/// Property names whose presence may divert a message (a quick text check
/// before decoding the properties on the hot path).
const TRIGGERS: [&str; 4] = [
    keys::DELAY,
    keys::TRAN_MSG,
    "TIMER_",
    keys::START_DELIVER_TIME,
];

/// The send path's record, rewritten when a rule applies; `None` when the
/// message is stored where it was sent (the common case, left untouched).
///
/// # Errors
/// [`BrokerError::NoPermission`] for a transaction the broker rejects,
/// [`BrokerError::MessageIllegal`] for a bad delivery time.
#[allow(clippy::too_many_arguments)]
pub fn for_send(
    state: &BrokerState,
    header: &SendMessageRequestHeader,
    request_version: i32,
    queue_id: i32,
    sysflag: i32,
    born_host: SocketAddr,
    body: &Bytes,
    properties: &str,
) -> BrokerResult<Option<MessageRecord>> {
    let to_dlq = crate::handlers::retry::send_goes_to_dlq(state, header, request_version);
    if !to_dlq && !TRIGGERS.iter().any(|t| properties.contains(t)) {
        return Ok(None);
    }
    let mut rec = MessageRecord {
        topic: header.topic.clone(),
        queue_id,
        flag: header.flag,
        queue_offset: 0,
        physical_offset: 0,
        sysflag,
        born_timestamp: header.born_timestamp,
        born_host,
        store_timestamp: 0,
        store_host: state.store_host,
        reconsume_times: header.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
        body_crc: 0,
        body: body.clone(),
        properties: Properties::decode(properties),
    };
    if to_dlq {
        crate::handlers::retry::to_dlq(state, &mut rec, retry_group(&header.topic));
    }
    divert(state, &mut rec)?;
    Ok(Some(rec))
}

fn retry_group(topic: &str) -> &str {
    topic
        .strip_prefix(protocol::message::topics::RETRY_GROUP_TOPIC_PREFIX)
        .unwrap_or(topic)
}

/// Applies the half, delay-level and timer rules, in that order (a
/// prepared or rolled-back message is never delayed; a delay level wins
/// over a delivery time).
///
/// # Errors
/// As [`for_send`].
pub fn divert(state: &BrokerState, rec: &mut MessageRecord) -> BrokerResult<()> {
    if crate::services::transaction::divert_half(state, rec)? {
        return Ok(());
    }
    let tx = rec.sysflag & msgflag::TRANSACTION_MASK;
    if tx != msgflag::TRANSACTION_NOT_TYPE && tx != msgflag::TRANSACTION_COMMIT_TYPE {
        return Ok(());
    }
    if crate::services::delay::divert(state, rec) {
        return Ok(());
    }
    crate::services::timer::divert(state, rec)?;
    Ok(())
}

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
    state.store.put(&buf, wait).await.map_err(store_error)
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
