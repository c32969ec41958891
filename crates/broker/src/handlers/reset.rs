//! INVOKE_BROKER_TO_RESET_OFFSET (222, remoting-protocol §9.9): moves a
//! group's offsets on a topic to a time (or an explicit offset). The broker
//! stores the new offsets and the next pull of each queue answers
//! PULL_OFFSET_MOVED (the 5.x server-side reset); for older clients it also
//! pushes RESET_CONSUMER_CLIENT_OFFSET (220) to every consumer of the group.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::body::reset_offset::ResetOffsetBody;
use protocol::body::MessageQueue;
use protocol::header::offset::ResetOffsetRequestHeader;
use protocol::{LanguageCode, RemotingCommand, RequestCode, ResponseCode};
use store::BoundaryType;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;

/// INVOKE_BROKER_TO_RESET_OFFSET (222).
pub fn invoke_broker_to_reset_offset(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: ResetOffsetRequestHeader = req.decode_header()?;
    let config = state
        .topics
        .get(&h.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(h.topic.clone()))?;
    let queues: Vec<i32> = match h.queue_id.filter(|q| *q >= 0) {
        Some(q) if q >= config.read_queue_nums.max(config.write_queue_nums) => {
            return Err(BrokerError::InvalidParameter(format!(
                "queueId[{q}] is illegal, topic[{}] has {} queues",
                h.topic,
                config.read_queue_nums.max(config.write_queue_nums)
            )))
        }
        Some(q) => vec![q],
        None => (0..config.write_queue_nums.max(config.read_queue_nums)).collect(),
    };
    let mut table = BTreeMap::new();
    for q in queues {
        table.insert(q, target_offset(state, &h, q));
    }
    // Queues that keep their offset get no pending reset: a consumer ahead
    // of its last commit must not be sent back by an OFFSET_MOVED.
    let moved: BTreeMap<i32, i64> = table
        .iter()
        .filter(|(q, o)| state.offsets.committed(&h.group, &h.topic, **q) != Some(**o))
        .map(|(q, o)| (*q, *o))
        .collect();
    state.offsets.reset(&h.group, &h.topic, &moved);
    // Saved before the answer: a reset must survive a crash right after
    // it (the periodic save may be seconds away).
    crate::batching::off_worker(|| state.offsets.persist(&state.store, false));
    // A pull parked on a moved queue answers the reset now rather than at
    // the end of its hold (up to 30 s): clients that ignore the pushed
    // RESET_CONSUMER_CLIENT_OFFSET (ali-ons) only learn it from a pull.
    for q in moved.keys() {
        state.arrivals.wake(&h.topic, *q);
    }
    tracing::info!(group = %h.group, topic = %h.topic, timestamp = h.timestamp,
        force = h.is_force, ?table, "consumer offsets reset by admin");
    let body = ResetOffsetBody {
        offset_table: table
            .iter()
            .map(|(q, o)| {
                let mq = MessageQueue::new(h.topic.clone(), state.config.broker_name.clone(), *q);
                (mq, *o)
            })
            .collect(),
    };
    let online = push_to_consumers(state, &h, &body)?;
    if !online {
        return Ok(RemotingCommand::error(
            ResponseCode::CONSUMER_NOT_ONLINE,
            format!(
                "Consumer not online, so can not reset offset, Group: {} Topic: {} Timestamp: {} \
                 (the new offsets are stored and apply when the group pulls)",
                h.group, h.topic, h.timestamp
            ),
        ));
    }
    let bytes = if req.language == LanguageCode::CPP {
        body.to_c_json_bytes()?
    } else {
        body.to_json_bytes()?
    };
    Ok(RemotingCommand::success().with_body(bytes))
}

/// The offset one queue moves to: the explicit offset (clamped to what is
/// stored), else the max offset for timestamp -1, else the first message
/// stored at or after the timestamp. Without isForce an offset is only
/// moved backwards, as Java does.
fn target_offset(state: &BrokerState, h: &ResetOffsetRequestHeader, q: i32) -> i64 {
    let (min, max) = (
        state.store.min_offset(&h.topic, q) as i64,
        state.store.max_offset(&h.topic, q) as i64,
    );
    let wanted = match h.offset.filter(|o| *o >= 0) {
        Some(o) => o.clamp(min, max),
        None if h.timestamp == -1 => max,
        None => state
            .store
            .offset_by_time(&h.topic, q, h.timestamp, BoundaryType::Lower) as i64,
    };
    match state.offsets.committed(&h.group, &h.topic, q) {
        Some(current) if !h.is_force && current <= wanted => current,
        _ => wanted,
    }
}

/// Sends RESET_CONSUMER_CLIENT_OFFSET (oneway) to each consumer of the
/// group, in the background; whether any was online.
fn push_to_consumers(
    state: &Arc<BrokerState>,
    h: &ResetOffsetRequestHeader,
    body: &ResetOffsetBody,
) -> BrokerResult<bool> {
    let channels = state.clients.consumer_connections(&h.group);
    if channels.is_empty() {
        return Ok(false);
    }
    let header = ResetOffsetRequestHeader {
        topic: h.topic.clone(),
        group: h.group.clone(),
        queue_id: None,
        offset: None,
        timestamp: h.timestamp,
        is_force: h.is_force,
    };
    let java = bytes::Bytes::from(body.to_json_bytes()?);
    let c = bytes::Bytes::from(body.to_c_json_bytes()?);
    for channel in channels {
        let payload = if channel.language == LanguageCode::CPP.name() {
            c.clone()
        } else {
            java.clone()
        };
        let mut request = RemotingCommand::request_with_header(
            RequestCode::RESET_CONSUMER_CLIENT_OFFSET,
            &header,
        )
        .with_body(payload);
        request.set_oneway();
        state.tasks.spawn(async move {
            if let Err(e) = channel.conn.invoke_oneway(request).await {
                tracing::debug!(client = %channel.client_id, error = %e,
                    "pushing RESET_CONSUMER_CLIENT_OFFSET failed");
            }
        });
    }
    Ok(true)
}
