//! The dead-letter rule: a message retried as often as its group allows
//! goes to `%DLQ%{group}` (remoting-protocol §4.4, §9.6). Applies to a
//! consumer's send-back and to a client-side retry sent to `%RETRY%{group}`.

use protocol::header::send::SendMessageRequestHeader;
use protocol::message::sysflag::perm;
use protocol::message::{keys, topics, MessageRecord};

use crate::state::BrokerState;

/// Request version from which the header's maxReconsumeTimes is honoured
/// (Java's V3_4_9).
pub const MAX_RECONSUME_HEADER_VERSION: i32 = 121;
/// Queues of a dead-letter topic.
const DLQ_QUEUES: i32 = 1;

/// Moves a record to `%DLQ%{group}` (created on demand: one queue,
/// read + write so operators can read it; no consumer subscribes to it
/// automatically). The delay is dropped: dead letters are not delayed.
pub fn to_dlq(state: &BrokerState, rec: &mut MessageRecord, group: &str) {
    // Counted under the topic the message was first sent to, as Apache
    // labels `rocketmq_send_to_dlq_messages_total`.
    let original = rec.properties.get(keys::RETRY_TOPIC).unwrap_or(&rec.topic);
    state.events.dlq.add(original, group, 1);
    let dlq = topics::dlq_topic(group);
    state.topics.ensure(&dlq, DLQ_QUEUES, perm::READ_WRITE);
    rec.topic = dlq;
    rec.queue_id = 0;
    rec.properties.remove(keys::DELAY);
}

/// The send path's rule for a client-side retry (a send to `%RETRY%{group}`):
/// once its reconsumeTimes reaches the maximum it goes to the DLQ.
pub fn send_goes_to_dlq(
    state: &BrokerState,
    header: &SendMessageRequestHeader,
    request_version: i32,
) -> bool {
    let Some(group) = header.topic.strip_prefix(topics::RETRY_GROUP_TOPIC_PREFIX) else {
        return false;
    };
    let Ok(Some(config)) = state
        .groups
        .get_or_create(group, state.config.auto_create_subscription_group)
    else {
        return false;
    };
    let mut max = config.retry_max_times;
    if request_version >= MAX_RECONSUME_HEADER_VERSION {
        if let Some(m) = header.max_reconsume_times {
            max = m;
        }
    }
    header.reconsume_times.unwrap_or(0) >= max
}
