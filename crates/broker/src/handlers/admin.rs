//! Topic and subscription-group administration (mqadmin, dashboards):
//! UPDATE_AND_CREATE_TOPIC (17), UPDATE_AND_CREATE_TOPIC_LIST (18),
//! DELETE_TOPIC_IN_BROKER (215), GET_TOPIC_CONFIG (351), GET_TOPIC_NAME_LIST (23),
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), DELETE_SUBSCRIPTIONGROUP (207),
//! GET_SUBSCRIPTIONGROUP_CONFIG (352)
//! and GET_ALL_CONSUMER_OFFSET (43).

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::body::group::SubscriptionGroupConfig;
use protocol::body::topic::{TopicConfig, TopicFilterType, TopicList};
use protocol::header::admin::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
    GetSubscriptionGroupConfigRequestHeader, GetTopicConfigRequestHeader,
};
use protocol::message::topics;
use protocol::{RemotingCommand, ResponseCode};
use serde::Deserialize;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;
use crate::tables::groups::validate_group;
use crate::tables::topics::validate_topic;

/// The most queues a topic may have (Java's admin tools enforce the same).
const MAX_QUEUES: i32 = 1024;
/// Every permission bit that exists (INHERIT, WRITE, READ, PRIORITY).
const PERM_MASK: i32 = 0xF;

/// Topics the broker owns: created by itself, never by an admin, never
/// deleted (Java's `TopicValidator.isSystemTopic` plus this broker's
/// cluster and broker-name topics).
pub fn is_system_topic(state: &BrokerState, topic: &str) -> bool {
    matches!(
        topic,
        topics::AUTO_CREATE_TOPIC
            | topics::SCHEDULE_TOPIC
            | topics::BENCHMARK_TOPIC
            | topics::TRANS_HALF_TOPIC
            | topics::TRANS_OP_HALF_TOPIC
            | topics::TRANS_CHECK_MAX_TIME_TOPIC
            | topics::TRACE_TOPIC
            | topics::SELF_TEST_TOPIC
            | topics::OFFSET_MOVED_EVENT
    ) || topic.starts_with("rmq_sys_")
        || topic == state.config.broker_cluster_name
        || topic == state.config.broker_name
}

fn refuse_system_topic(state: &BrokerState, topic: &str) -> BrokerResult<()> {
    if is_system_topic(state, topic) {
        return Err(BrokerError::System(format!(
            "The topic[{topic}] is conflict with system topic."
        )));
    }
    Ok(())
}

/// UPDATE_AND_CREATE_TOPIC (17): creates or replaces one topic.
pub fn update_and_create_topic(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: CreateTopicRequestHeader = req.decode_header()?;
    let previous = state.topics.get(&h.topic);
    let config = topic_from_header(state, &h, previous.as_ref())?;
    tracing::info!(topic = %config.topic_name, read = config.read_queue_nums,
        write = config.write_queue_nums, perm = config.perm, "topic created or updated by admin");
    state.topics.put(config);
    Ok(RemotingCommand::success())
}

/// Validates a create-topic header and builds the config it asks for.
fn topic_from_header(
    state: &BrokerState,
    h: &CreateTopicRequestHeader,
    previous: Option<&TopicConfig>,
) -> BrokerResult<TopicConfig> {
    validate_topic(&h.topic)?;
    refuse_system_topic(state, &h.topic)?;
    check_queue_nums("readQueueNums", h.read_queue_nums)?;
    check_queue_nums("writeQueueNums", h.write_queue_nums)?;
    if h.perm & !PERM_MASK != 0 || h.perm < 0 {
        return Err(BrokerError::InvalidParameter(format!(
            "perm {} has bits other than INHERIT(1), WRITE(2), READ(4), PRIORITY(8)",
            h.perm
        )));
    }
    let filter = match h.topic_filter_type.as_deref().filter(|f| !f.is_empty()) {
        None => TopicFilterType::SINGLE_TAG,
        Some(name) => TopicFilterType::from_name(name).ok_or_else(|| {
            BrokerError::InvalidParameter(format!(
                "topicFilterType `{name}` is neither SINGLE_TAG nor MULTI_TAG"
            ))
        })?,
    };
    let mut attributes = previous.map(|p| p.attributes.clone()).unwrap_or_default();
    if let Some(text) = h.attributes.as_deref() {
        apply_attributes(&mut attributes, text)?;
    }
    Ok(TopicConfig {
        attributes,
        order: h.order.unwrap_or(false),
        perm: h.perm,
        read_queue_nums: h.read_queue_nums,
        topic_filter_type: filter,
        topic_name: h.topic.clone(),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        write_queue_nums: h.write_queue_nums,
    })
}

fn check_queue_nums(field: &str, n: i32) -> BrokerResult<()> {
    if !(1..=MAX_QUEUES).contains(&n) {
        return Err(BrokerError::InvalidParameter(format!(
            "{field} {n} is out of range 1..={MAX_QUEUES}"
        )));
    }
    Ok(())
}

/// The values of the `message.type` topic attribute (5.x TopicMessageType).
const MESSAGE_TYPES: [&str; 5] = ["NORMAL", "FIFO", "DELAY", "TRANSACTION", "MIXED"];

/// Applies `+key=value,-key` attribute edits (5.x `attributes` header).
fn apply_attributes(attributes: &mut BTreeMap<String, String>, text: &str) -> BrokerResult<()> {
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || {
            BrokerError::InvalidParameter(format!(
                "attribute `{item}` is neither `+key=value` nor `-key`"
            ))
        };
        if let Some(kv) = item.strip_prefix('+') {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            if k.is_empty() {
                return Err(bad());
            }
            // Java's enum attribute: a typo would silently make a topic
            // accept every type, so refuse it here.
            if k == "message.type" && !MESSAGE_TYPES.contains(&v) {
                return Err(BrokerError::InvalidParameter(format!(
                    "attribute message.type=`{v}` is not one of {}",
                    MESSAGE_TYPES.join("|")
                )));
            }
            attributes.insert(k.to_owned(), v.to_owned());
        } else if let Some(k) = item.strip_prefix('-') {
            if k.is_empty() || k.contains('=') {
                return Err(bad());
            }
            attributes.remove(k);
        } else {
            return Err(bad());
        }
    }
    Ok(())
}

/// UPDATE_AND_CREATE_TOPIC_LIST (18) body: `{"topicConfigList":[TopicConfig…]}`.
#[derive(Deserialize)]
struct CreateTopicListBody {
    #[serde(rename = "topicConfigList", default)]
    topic_config_list: Vec<TopicConfig>,
}

/// UPDATE_AND_CREATE_TOPIC_LIST (18): every topic is validated before any
/// is stored, so a bad entry leaves the table unchanged.
pub fn update_and_create_topic_list(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let body: CreateTopicListBody = serde_json::from_slice(&req.body).map_err(|e| {
        BrokerError::InvalidParameter(format!("malformed topicConfigList body: {e}"))
    })?;
    if body.topic_config_list.is_empty() {
        return Err(BrokerError::InvalidParameter(
            "topicConfigList is empty".into(),
        ));
    }
    let mut checked = Vec::with_capacity(body.topic_config_list.len());
    for c in body.topic_config_list {
        let h = CreateTopicRequestHeader {
            topic: c.topic_name.clone(),
            read_queue_nums: c.read_queue_nums,
            write_queue_nums: c.write_queue_nums,
            perm: c.perm,
            topic_filter_type: Some(c.topic_filter_type.name().to_owned()),
            topic_sys_flag: Some(c.topic_sys_flag),
            order: Some(c.order),
            ..CreateTopicRequestHeader::default()
        };
        let mut config = topic_from_header(state, &h, None)?;
        config.attributes = c.attributes;
        checked.push(config);
    }
    for config in checked {
        state.topics.put(config);
    }
    Ok(RemotingCommand::success())
}

/// DELETE_TOPIC_IN_BROKER (215): drops the config, the consume queues and
/// every group's offsets on the topic. Deleting an absent topic succeeds
/// (mqadmin deletes on every broker of a cluster).
pub fn delete_topic(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: DeleteTopicRequestHeader = req.decode_header()?;
    if h.topic.trim().is_empty() {
        return Err(BrokerError::InvalidParameter(
            "The specified topic is blank.".into(),
        ));
    }
    refuse_system_topic(state, &h.topic)?;
    let existed = state.topics.remove(&h.topic);
    state.offsets.remove_topic(&h.topic);
    state.metrics.remove_topic(&h.topic);
    state
        .store
        .delete_topic(&h.topic)
        .map_err(BrokerError::from)?;
    tracing::info!(topic = %h.topic, existed, "topic deleted by admin");
    Ok(RemotingCommand::success())
}

/// GET_TOPIC_CONFIG (351): one topic's config.
pub fn get_topic_config(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetTopicConfigRequestHeader = req.decode_header()?;
    match state.topics.get(&h.topic) {
        Some(c) => Ok(RemotingCommand::success().with_body(c.encode())),
        None => Ok(RemotingCommand::error(
            ResponseCode::TOPIC_NOT_EXIST,
            format!("No topic[{}] in this broker.", h.topic),
        )),
    }
}

/// GET_TOPIC_NAME_LIST (23): the names of every topic on this broker.
pub fn get_topic_name_list(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let list = TopicList {
        broker_addr: Some(state.advertised_addr.clone()),
        topic_list: state.topics.names().into_iter().collect(),
    };
    Ok(RemotingCommand::success().with_body(list.encode()))
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200): body SubscriptionGroupConfig.
pub fn update_and_create_group(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let config = SubscriptionGroupConfig::from_json_bytes(&req.body)?;
    validate_group(&config.group_name)?;
    if !(0..=MAX_QUEUES).contains(&config.retry_queue_nums) {
        return Err(BrokerError::InvalidParameter(format!(
            "retryQueueNums {} is out of range 0..={MAX_QUEUES}",
            config.retry_queue_nums
        )));
    }
    tracing::info!(group = %config.group_name, "subscription group created or updated by admin");
    state.groups.put(config);
    Ok(RemotingCommand::success())
}

/// DELETE_SUBSCRIPTIONGROUP (207); with cleanOffset the group's offsets go too.
pub fn delete_group(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: DeleteSubscriptionGroupRequestHeader = req.decode_header()?;
    let existed = state.groups.remove(&h.group_name);
    if h.clean_offset == Some(true) {
        state.offsets.remove_group(&h.group_name);
    }
    tracing::info!(group = %h.group_name, existed, clean_offset = ?h.clean_offset,
        "subscription group deleted by admin");
    Ok(RemotingCommand::success())
}

/// GET_SUBSCRIPTIONGROUP_CONFIG (352).
pub fn get_group_config(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetSubscriptionGroupConfigRequestHeader = req.decode_header()?;
    match state.groups.get(&h.group) {
        Some(g) => Ok(RemotingCommand::success().with_body(g.to_json_bytes()?)),
        None => Err(BrokerError::GroupNotExist(h.group)),
    }
}

/// GET_ALL_CONSUMER_OFFSET (43): the committed offsets of every group, in
/// the consumerOffset.json shape (slaves copy it from their master).
pub fn get_all_consumer_offset(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    Ok(RemotingCommand::success().with_body(state.offsets.wrapper().to_json_bytes()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_edits() {
        let mut a = BTreeMap::from([("x".to_owned(), "1".to_owned())]);
        apply_attributes(&mut a, "+message.type=FIFO, -x").unwrap();
        assert_eq!(a, BTreeMap::from([("message.type".into(), "FIFO".into())]));
        let e = apply_attributes(&mut a, "+message.type=FIFOO").unwrap_err();
        assert!(e.to_string().contains("FIFOO"), "{e}");
        for bad in ["x=1", "+=1", "+k", "-", "-k=v"] {
            let e = apply_attributes(&mut a, bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
