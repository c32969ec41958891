//! The op marker that resolves a half message: a record on
//! `RMQ_SYS_TRANS_OP_HALF_TOPIC` queue 0, tag `d`, whose body is the half
//! queue offset and a comma (remoting-protocol §9.7). Written by
//! END_TRANSACTION and by the check service when it gives up.

use std::sync::Arc;

use bytes::Bytes;
use protocol::message::{keys, topics, MessageRecord, Properties};

use crate::error::BrokerResult;
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// Writes the op marker of a half message and records it as resolved.
///
/// # Errors
/// Store failures.
pub async fn write_op(state: &Arc<BrokerState>, half_offset: u64) -> BrokerResult<()> {
    let mut props = Properties::new();
    props.insert(keys::TAGS, topics::TRANS_OP_REMOVE_TAG);
    props.insert(keys::WAIT, "false");
    let rec = MessageRecord {
        topic: topics::TRANS_OP_HALF_TOPIC.to_owned(),
        queue_id: 0,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sysflag: 0,
        born_timestamp: now_ms(),
        born_host: state.store_host,
        store_timestamp: 0,
        store_host: state.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body_crc: 0,
        body: Bytes::from(format!("{half_offset},")),
        properties: props,
    };
    let put = super::put(state, &rec, false).await?;
    state
        .transactions
        .mark_resolved(half_offset, Some(put.queue_offset));
    Ok(())
}
