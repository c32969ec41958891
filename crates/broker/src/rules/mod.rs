//! Where a message is really stored. A send (or a send-back, or a commit)
//! names a topic, but some messages first go elsewhere:
//! - a transactional half message → `RMQ_SYS_TRANS_HALF_TOPIC` (half.rs),
//! - a message with a delay level → `SCHEDULE_TOPIC_XXXX` (delay.rs),
//! - a message with a delivery time → `rmq_sys_wheel_timer` (timer.rs),
//! - a client-side retry past its maximum → `%DLQ%{group}` (dlq.rs).
//!
//! Each rule rewrites an owned [`MessageRecord`]; the caller encodes it with
//! `encode_for_append` and puts it. Messages the services deliver later are
//! put directly, never diverted again.

pub mod delay;
pub mod dlq;
pub mod half;
pub mod timer;

use std::net::SocketAddr;

use bytes::Bytes;
use protocol::header::send::SendMessageRequestHeader;
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, MessageRecord, Properties};

use crate::error::BrokerResult;
use crate::state::BrokerState;

/// The properties the rules read: a message with none of them (the common
/// case) skips the rules and is stored as it came.
const TRIGGERS: [&str; 6] = [
    keys::DELAY,
    keys::TRAN_MSG,
    keys::TIMER_DELIVER_MS,
    keys::TIMER_DELAY_MS,
    keys::TIMER_DELAY_SEC,
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
    properties: &Properties,
) -> BrokerResult<Option<MessageRecord>> {
    let to_dlq = dlq::send_goes_to_dlq(state, header, request_version);
    if !to_dlq && !TRIGGERS.iter().any(|t| properties.contains_key(t)) {
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
        properties: properties.clone(),
    };
    if to_dlq {
        dlq::to_dlq(state, &mut rec, retry_group(&header.topic));
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
    if half::divert_half(state, rec)? {
        return Ok(());
    }
    let tx = rec.sysflag & msgflag::TRANSACTION_MASK;
    if tx != msgflag::TRANSACTION_NOT_TYPE && tx != msgflag::TRANSACTION_COMMIT_TYPE {
        return Ok(());
    }
    if delay::divert(state, rec) {
        return Ok(());
    }
    timer::divert(state, rec)?;
    Ok(())
}
