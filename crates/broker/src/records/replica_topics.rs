//! Topics a slave serves reads for. A slave copies the master's topic table
//! only every few seconds, but the commit log streams continuously: a topic
//! created shortly before the master died is on the slave's disk yet not in
//! its table. Consumers failing over to the slave must still read it, so a
//! slave answers for any topic it holds replicated queues of.

use protocol::body::topic::TopicConfig;
use protocol::message::sysflag::perm;

use crate::state::BrokerState;

/// The config reads of `topic` go by: the table's, or on a slave, one made
/// up for a topic the table lacks but the store has queues of. It opens
/// every queue id a client may ask for (queues without data just have
/// nothing to read) and is read-only, as a slave is.
pub fn readable_topic(state: &BrokerState, topic: &str) -> Option<TopicConfig> {
    if let Some(config) = state.topics.get(topic) {
        return Some(config);
    }
    if !state.is_slave() {
        return None;
    }
    let queues = state.store.topic_queue_offsets(topic);
    let highest = queues.iter().map(|(q, _)| *q).max()?;
    let nums = (highest + 1).max(state.config.default_topic_queue_nums);
    tracing::debug!(
        topic,
        nums,
        "serving a replicated topic missing from the table"
    );
    Some(TopicConfig {
        topic_name: topic.to_owned(),
        perm: perm::READ,
        read_queue_nums: nums,
        write_queue_nums: nums,
        ..TopicConfig::default()
    })
}
