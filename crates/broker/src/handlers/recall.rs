//! RECALL_MESSAGE (370): cancels a timed message before it is delivered,
//! by the recall handle its send answered (RocketMQ 5.3). The cancel is a
//! marker in the timer topic that the timer task applies when it reads it
//! (see `services/timer.rs`), so it is durable and replicated.

use std::sync::Arc;

use protocol::clock::now_ms;
use protocol::header::send::{RecallMessageRequestHeader, RecallMessageResponseHeader};
use protocol::message::recall::{self, RecallHandle};
use protocol::message::topics;
use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::records;
use crate::rules::timer;
use crate::state::BrokerState;
use crate::tables::topics::validate_topic;

/// RECALL_MESSAGE: answers the recalled message's id.
///
/// # Errors
/// As [`recall`].
pub async fn recall_message(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: RecallMessageRequestHeader = req.decode_header()?;
    let msg_id = recall(state, &h.topic, &h.recall_handle).await?;
    Ok(RemotingCommand::success().with_header(&RecallMessageResponseHeader { msg_id }))
}

/// Cancels the timed message `handle` names (sent to `topic`); returns its
/// message id.
///
/// # Errors
/// [`BrokerError::ServiceNotAvailable`] on a slave;
/// [`BrokerError::InvalidParameter`] for a malformed handle, one of another
/// topic or broker, or one whose message is no longer waiting (delivered,
/// recalled already, or due); store failures.
pub async fn recall(state: &Arc<BrokerState>, topic: &str, handle: &str) -> BrokerResult<String> {
    if state.is_slave() {
        return Err(BrokerError::ServiceNotAvailable(format!(
            "the broker[{}] is a slave and does not recall messages",
            state.config.broker_name
        )));
    }
    validate_topic(topic)?;
    if handle.trim().is_empty() {
        return Err(BrokerError::InvalidParameter(
            "recallHandle is blank".into(),
        ));
    }
    let h =
        RecallHandle::decode(handle).map_err(|e| BrokerError::InvalidParameter(e.to_string()))?;
    if h.topic != topic {
        return Err(BrokerError::InvalidParameter(format!(
            "recallHandle names topic `{}`, not `{topic}`",
            h.topic
        )));
    }
    if h.broker_name != state.config.broker_name {
        return Err(BrokerError::InvalidParameter(format!(
            "recallHandle names broker `{}`, this is `{}`",
            h.broker_name, state.config.broker_name
        )));
    }
    if h.deliver_ms <= now_ms() {
        return Err(BrokerError::InvalidParameter(format!(
            "recallHandle expired: message {} was due at {} and is delivered",
            h.message_id, h.deliver_ms
        )));
    }
    let key = recall::delete_key(&h.topic, &h.message_id);
    let scanned_to = state.store.max_offset(topics::TIMER_TOPIC, 0);
    if state.timer.waits(&key, scanned_to) == Some(false) {
        return Err(BrokerError::InvalidParameter(format!(
            "message {} of topic `{}` is not waiting for delivery (recalled already, or never timed here)",
            h.message_id, h.topic
        )));
    }
    let marker = timer::recall_marker(state, &h);
    records::put(state, &marker, true).await?;
    Ok(h.message_id)
}
