//! Offset commands: QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//! GET_EARLIEST_MSG_STORETIME, SEARCH_OFFSET_BY_TIMESTAMP.

use std::sync::Arc;

use protocol::header::offset::{
    GetEarliestMsgStoretimeRequestHeader, GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader,
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader,
    TimestampResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use protocol::{RemotingCommand, ResponseCode};
use store::BoundaryType;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;

fn offset_response(offset: i64) -> RemotingCommand {
    RemotingCommand::success().with_header(&OffsetResponseHeader { offset })
}

/// Checks that the topic exists and the queue id is one of its queues.
fn check_queue(state: &BrokerState, topic: &str, queue_id: i32) -> BrokerResult<()> {
    let config = crate::records::replica_topics::readable_topic(state, topic)
        .ok_or_else(|| BrokerError::TopicNotExist(topic.to_owned()))?;
    let queues = config.read_queue_nums.max(config.write_queue_nums);
    if queue_id < 0 || queue_id >= queues {
        return Err(BrokerError::InvalidParameter(format!(
            "queueId[{queue_id}] is illegal, topic[{topic}] has {queues} queues"
        )));
    }
    Ok(())
}

/// QUERY_CONSUMER_OFFSET (14): the group's committed offset; a group new to
/// a young queue (min offset 0) starts at 0, as Java answers.
pub fn query_consumer_offset(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
    if let Some(o) = state
        .offsets
        .committed(&h.consumer_group, &h.topic, h.queue_id)
    {
        return Ok(offset_response(o));
    }
    if h.set_zero_if_not_found != Some(false)
        && state.store.min_offset(&h.topic, h.queue_id) == 0
        && state.topics.contains(&h.topic)
    {
        return Ok(offset_response(0));
    }
    Ok(RemotingCommand::error(
        ResponseCode::QUERY_NOT_FOUND,
        "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
    ))
}

/// UPDATE_CONSUMER_OFFSET (15), usually oneway.
pub fn update_consumer_offset(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
    if h.commit_offset < 0 {
        return Err(BrokerError::InvalidParameter(format!(
            "commitOffset {} is negative",
            h.commit_offset
        )));
    }
    state
        .offsets
        .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    Ok(RemotingCommand::success())
}

/// GET_MAX_OFFSET (30): the next offset to be written.
pub fn get_max_offset(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetMaxOffsetRequestHeader = req.decode_header()?;
    check_queue(state, &h.topic, h.queue_id)?;
    Ok(offset_response(
        state.store.max_offset(&h.topic, h.queue_id) as i64,
    ))
}

/// GET_MIN_OFFSET (31).
pub fn get_min_offset(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetMinOffsetRequestHeader = req.decode_header()?;
    check_queue(state, &h.topic, h.queue_id)?;
    Ok(offset_response(
        state.store.min_offset(&h.topic, h.queue_id) as i64,
    ))
}

/// GET_EARLIEST_MSG_STORETIME (32): -1 when the queue is empty, as Java.
pub fn get_earliest_msg_store_time(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetEarliestMsgStoretimeRequestHeader = req.decode_header()?;
    check_queue(state, &h.topic, h.queue_id)?;
    let timestamp = state
        .store
        .earliest_time(&h.topic, h.queue_id)
        .unwrap_or(-1);
    Ok(RemotingCommand::success().with_header(&TimestampResponseHeader { timestamp }))
}

/// SEARCH_OFFSET_BY_TIMESTAMP (29): LOWER (default) = first offset stored
/// at or after the time, UPPER = last offset stored at or before it.
pub fn search_offset_by_timestamp(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: SearchOffsetRequestHeader = req.decode_header()?;
    check_queue(state, &h.topic, h.queue_id)?;
    let boundary = match h.boundary_type.as_deref().map(str::to_ascii_lowercase) {
        None => BoundaryType::Lower,
        Some(b) if b == "lower" => BoundaryType::Lower,
        Some(b) if b == "upper" => BoundaryType::Upper,
        Some(b) => {
            return Err(BrokerError::InvalidParameter(format!(
                "boundaryType `{b}` is neither LOWER nor UPPER"
            )))
        }
    };
    let offset = state
        .store
        .offset_by_time(&h.topic, h.queue_id, h.timestamp, boundary);
    Ok(offset_response(offset as i64))
}
