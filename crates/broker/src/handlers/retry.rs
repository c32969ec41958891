//! CONSUMER_SEND_MSG_BACK (36): a consumer failed a message; the broker
//! puts a copy on the group's retry topic (delayed by level 3 + attempts,
//! so it waits in SCHEDULE_TOPIC_XXXX first) or, past the group's maximum,
//! on its dead-letter topic. The send path's DLQ rule for client-side
//! retries lives here too (remoting-protocol §4.4, §9.6).

use std::sync::Arc;

use protocol::header::consumer::ConsumerSendMsgBackRequestHeader;
use protocol::message::msgid::encode_offset_msg_id;
use protocol::message::sysflag::perm;
use protocol::message::{keys, topics, MessageRecord};
use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::records;
use crate::rules;
use crate::rules::dlq::{to_dlq, MAX_RECONSUME_HEADER_VERSION};
use crate::state::BrokerState;

/// CONSUMER_SEND_MSG_BACK.
///
/// # Errors
/// Slave, unknown group, a group without consume permission, or no
/// message at the offset.
pub async fn send_msg_back(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: ConsumerSendMsgBackRequestHeader = req.decode_header()?;
    if state.is_slave() {
        return Err(BrokerError::ServiceNotAvailable(format!(
            "the broker[{}] is a slave and does not accept sends",
            state.config.broker_name
        )));
    }
    crate::records::slave_ack::check_in_sync_replicas(state).map_err(BrokerError::System)?;
    let group = state
        .groups
        .get_or_create(&h.group, state.config.auto_create_subscription_group)?
        .ok_or_else(|| BrokerError::GroupNotExist(h.group.clone()))?;
    if state.live.broker().broker_permission & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] sending message is forbidden",
            state.config.broker_name
        )));
    }
    if group.retry_queue_nums <= 0 {
        // Java's rule: a group without retry queues drops failed messages.
        return Ok(RemotingCommand::success());
    }
    let original = records::load(state, h.offset)?;
    let mut max = group.retry_max_times;
    if req.version >= MAX_RECONSUME_HEADER_VERSION {
        if let Some(m) = h.max_reconsume_times {
            max = m;
        }
    }
    let mut rec = retry_copy(state, &original, &h);
    if original.reconsume_times >= max || h.delay_level < 0 {
        to_dlq(state, &mut rec, &h.group);
        tracing::info!(group = %h.group, offset = h.offset, times = original.reconsume_times, "message sent to the dead-letter queue");
    } else {
        let retry = topics::retry_topic(&h.group);
        let queues = group.retry_queue_nums.max(1);
        let config = state.topics.ensure(&retry, queues, perm::READ_WRITE);
        if config.perm & perm::WRITE == 0 {
            return Err(BrokerError::NoPermission(format!(
                "the topic[{retry}] sending message is forbidden"
            )));
        }
        rec.topic = retry;
        rec.queue_id = (state.next_random() % config.write_queue_nums.max(1) as u64) as i32;
        let level = if h.delay_level == 0 {
            3 + original.reconsume_times
        } else {
            h.delay_level
        };
        rec.properties.insert(keys::DELAY, level.to_string());
    }
    rules::divert(state, &mut rec)?;
    records::put(state, &rec, false).await?;
    Ok(RemotingCommand::success())
}

/// The retried copy: same body, flag, sysflag and born info; attempts + 1;
/// RETRY_TOPIC and ORIGIN_MESSAGE_ID remembered from the first failure.
fn retry_copy(
    state: &BrokerState,
    original: &MessageRecord,
    h: &ConsumerSendMsgBackRequestHeader,
) -> MessageRecord {
    let mut rec = original.clone();
    rec.store_host = state.store_host;
    rec.reconsume_times = original.reconsume_times.saturating_add(1);
    rec.queue_offset = 0;
    rec.physical_offset = 0;
    rec.store_timestamp = 0;
    let props = &mut rec.properties;
    if !props.contains_key(keys::RETRY_TOPIC) {
        props.insert(keys::RETRY_TOPIC, original.topic.clone());
    }
    let has_origin = props
        .get(keys::ORIGIN_MESSAGE_ID)
        .is_some_and(|o| !o.is_empty());
    if !has_origin {
        let origin = h
            .origin_msg_id
            .clone()
            .filter(|o| !o.trim().is_empty())
            .or_else(|| props.uniq_key().map(str::to_owned))
            .unwrap_or_else(|| encode_offset_msg_id(original.store_host, h.offset));
        props.insert(keys::ORIGIN_MESSAGE_ID, origin);
    }
    props.insert(keys::WAIT, "false");
    props.remove(keys::DELAY);
    rec
}
