//! The rules every POP operation shares: limits, the pop retry topic's
//! name, and the checks of group and queue.

use std::time::Duration;

use protocol::body::group::SubscriptionGroupConfig;
use protocol::message::topics;

use super::error::{PopError, PopResult};
use crate::state::BrokerState;

/// Largest batch a pop may ask for (Java's limit).
pub const MAX_BATCH: u32 = 32;
/// Shortest and longest invisible time accepted, ms.
pub const MIN_INVISIBLE_MS: i64 = 1;
pub const MAX_INVISIBLE_MS: i64 = 12 * 3600 * 1000;
/// Longest a pop is held, whatever it asks.
pub const MAX_POLL: Duration = Duration::from_secs(60);
/// A parked pop looks again at least this often: orderly queues unlock
/// when an invisible time passes, which no arrival signals.
pub const RECHECK: Duration = Duration::from_millis(500);

/// `%RETRY%{group}_{topic}`: where a group's unacked messages are revived.
pub fn pop_retry_topic(group: &str, topic: &str) -> String {
    format!("{}{group}_{topic}", topics::RETRY_GROUP_TOPIC_PREFIX)
}

/// The group's configuration (created on demand when allowed).
///
/// # Errors
/// [`PopError::GroupNotExist`], or [`PopError::NoPermission`] when the
/// group may not consume.
pub(crate) fn group_config(state: &BrokerState, group: &str) -> PopResult<SubscriptionGroupConfig> {
    if group.is_empty() {
        return Err(PopError::InvalidParameter("consumerGroup is empty".into()));
    }
    let config = state
        .groups
        .get_or_create(group, state.config.auto_create_subscription_group)
        .map_err(|e| PopError::InvalidParameter(e.to_string()))?
        .ok_or_else(|| PopError::GroupNotExist(group.to_owned()))?;
    if !config.consume_enable {
        return Err(PopError::NoPermission(format!(
            "subscription group [{group}] has no permission to consume"
        )));
    }
    Ok(config)
}

/// The queues a pop reads, validated.
pub(crate) fn queue_ids(
    state: &BrokerState,
    topic: &str,
    queue_id: Option<i32>,
) -> PopResult<Vec<i32>> {
    let config = state
        .topics
        .get(topic)
        .ok_or_else(|| PopError::TopicNotExist(topic.to_owned()))?;
    let n = config.read_queue_nums.max(0);
    match queue_id {
        Some(q) if q < 0 || q >= n => Err(PopError::InvalidParameter(format!(
            "queueId[{q}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{n}]"
        ))),
        Some(q) => Ok(vec![q]),
        None => {
            // Start at a random queue so that concurrent pops spread out.
            let start = if n > 0 {
                (state.next_random() % n as u64) as i32
            } else {
                0
            };
            Ok((0..n).map(|i| (start + i) % n).collect())
        }
    }
}
