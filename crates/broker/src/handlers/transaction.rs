//! END_TRANSACTION (37): the producer commits or rolls back a half message
//! (remoting-protocol §4.7). Usually oneway; the answer matters only to
//! callers that wait for it.

use std::sync::Arc;

use protocol::header::transaction::{commit_or_rollback, EndTransactionRequestHeader};
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, topics};
use protocol::{RemotingCommand, ResponseCode};

use crate::error::{BrokerError, BrokerResult};
use crate::records;
use crate::records::op_marker::write_op;
use crate::rules;
use crate::state::BrokerState;

/// END_TRANSACTION.
///
/// # Errors
/// A half message that is missing or does not match the header (producer
/// group, queue offset, commit-log offset), or a store failure.
pub async fn end_transaction(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: EndTransactionRequestHeader = req.decode_header()?;
    if state.is_slave() {
        return Ok(RemotingCommand::error(
            ResponseCode::SLAVE_NOT_AVAILABLE,
            "the broker is a slave and does not end transactions",
        ));
    }
    crate::records::slave_ack::check_in_sync_replicas(state).map_err(BrokerError::System)?;
    let commit = match h.commit_or_rollback {
        commit_or_rollback::COMMIT => true,
        commit_or_rollback::ROLLBACK => false,
        // Unknown: the check service will ask again.
        _ => return Ok(RemotingCommand::success()),
    };
    let half_offset = u64::try_from(h.tran_state_table_offset).map_err(|_| {
        BrokerError::InvalidParameter(format!(
            "tranStateTableOffset {} is negative",
            h.tran_state_table_offset
        ))
    })?;
    if state.transactions.is_resolved(half_offset) {
        tracing::debug!(half_offset, "transaction already ended");
        return Ok(RemotingCommand::success());
    }
    let half = records::load(state, h.commit_log_offset)?;
    let pgroup = half.properties.get(keys::PGROUP).unwrap_or_default();
    if half.topic != topics::TRANS_HALF_TOPIC
        || half.queue_offset != h.tran_state_table_offset
        || pgroup != h.producer_group
    {
        return Err(BrokerError::System(format!(
            "the half message at commitLogOffset {} does not match (topic {}, queue offset {}, producer group {pgroup}; asked for group {} at {})",
            h.commit_log_offset, half.topic, half.queue_offset, h.producer_group, h.tran_state_table_offset
        )));
    }
    let born = half.born_timestamp;
    let real_topic = half
        .properties
        .get(keys::REAL_TOPIC)
        .unwrap_or_default()
        .to_owned();
    if commit {
        let mut rec = half;
        records::restore_real(&mut rec)?;
        rec.sysflag = (rec.sysflag & !msgflag::TRANSACTION_MASK) | msgflag::TRANSACTION_COMMIT_TYPE;
        rec.prepared_transaction_offset = h.commit_log_offset;
        rec.properties.insert(keys::WAIT, "false");
        rules::divert(state, &mut rec)?;
        records::put(state, &rec, false).await?;
    }
    write_op(state, half_offset).await?;
    state
        .events
        .transaction_ended(&real_topic, commit, born, protocol::clock::now_ms());
    tracing::debug!(
        half_offset,
        commit,
        from_check = h.from_transaction_check.unwrap_or(false),
        "transaction ended"
    );
    Ok(RemotingCommand::success())
}
