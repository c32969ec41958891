//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): ordered consumers take
//! exclusive ownership of queues (remoting-protocol §4.6, §9.5).

use std::sync::Arc;

use protocol::body::lock::{LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody};
use protocol::RemotingCommand;
use remoting::Connection;

use crate::error::BrokerResult;
use crate::state::BrokerState;

/// LOCK_BATCH_MQ: answers with the queues the caller owns now.
///
/// # Errors
/// A malformed body.
pub fn lock_batch(
    state: &Arc<BrokerState>,
    conn: &Connection,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let body = LockBatchRequestBody::from_json_bytes(&req.body)?;
    let owned = state.locks.lock_batch(
        &body.consumer_group,
        &body.mq_set,
        &body.client_id,
        conn.id(),
    );
    let response = LockBatchResponseBody {
        lock_ok_mq_set: owned,
    }
    .to_json_bytes()?;
    Ok(RemotingCommand::success().with_body(response))
}

/// UNLOCK_BATCH_MQ: releases the caller's queues among those named.
///
/// # Errors
/// A malformed body.
pub fn unlock_batch(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let body = UnlockBatchRequestBody::from_json_bytes(&req.body)?;
    state
        .locks
        .unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    Ok(RemotingCommand::success())
}
