//! QUERY_MESSAGE (12) by key or unique key, and VIEW_MESSAGE_BY_ID (33) by
//! commit-log offset. Bodies are stored records, back to back.

use std::sync::Arc;

use bytes::BytesMut;
use protocol::header::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use protocol::{RemotingCommand, ResponseCode};

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;

/// The cap Java applies to unique-key queries (`defaultQueryMaxNum`).
const UNIQUE_KEY_QUERY_MAX: usize = 32;
/// The most messages one query returns.
const QUERY_MAX: usize = 64;

/// QUERY_MESSAGE: messages of `topic` whose KEYS (or UNIQ_KEY) hold `key`,
/// stored between the two timestamps; QUERY_NOT_FOUND when none.
pub fn query_message(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: QueryMessageRequestHeader = req.decode_header()?;
    if h.key.is_empty() {
        return Err(BrokerError::InvalidParameter(
            "the query key is empty".into(),
        ));
    }
    let max = if h.unique_key_query == Some(true) {
        UNIQUE_KEY_QUERY_MAX
    } else {
        (h.max_num.max(1) as usize).min(QUERY_MAX)
    };
    let end = if h.end_timestamp <= 0 {
        i64::MAX
    } else {
        h.end_timestamp
    };
    let found = state
        .store
        .query_by_key(&h.topic, &h.key, max, h.begin_timestamp, end);
    let info = state.store.runtime_info();
    let header = QueryMessageResponseHeader {
        index_last_update_timestamp: protocol::clock::now_ms(),
        index_last_update_phyoffset: info.dispatched_offset as i64,
    };
    if found.is_empty() {
        return Ok(RemotingCommand::error(
            ResponseCode::QUERY_NOT_FOUND,
            format!(
                "can not find message by the key [{}] in topic [{}]",
                h.key, h.topic
            ),
        )
        .with_header(&header));
    }
    let mut body = BytesMut::with_capacity(found.iter().map(|b| b.len()).sum());
    for m in &found {
        body.extend_from_slice(m);
    }
    Ok(RemotingCommand::success()
        .with_header(&header)
        .with_body(body.freeze()))
}

/// VIEW_MESSAGE_BY_ID: the record at a commit-log offset (decoded by
/// clients from the offset message id).
pub fn view_message_by_id(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: ViewMessageRequestHeader = req.decode_header()?;
    let offset = u64::try_from(h.offset)
        .map_err(|_| BrokerError::InvalidParameter(format!("offset {} is negative", h.offset)))?;
    match state.store.read_message_at(offset) {
        Some(record) => Ok(RemotingCommand::success().with_body(record)),
        None => Ok(RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("can not find message by the offset {offset}"),
        )),
    }
}
