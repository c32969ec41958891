//! VIEW_BROKER_STATS_DATA (315, mqadmin `statsAll`) and CLONE_GROUP_OFFSET
//! (314, `cloneGroupOffset`).

use std::sync::Arc;

use protocol::header::ops::{CloneGroupOffsetRequestHeader, ViewBrokerStatsDataRequestHeader};
use protocol::{RemotingCommand, ResponseCode};

use crate::error::{BrokerError, BrokerResult};
use crate::rates;
use crate::state::BrokerState;

/// VIEW_BROKER_STATS_DATA (315): the minute, hour and day windows of one
/// counter; Java's "not exist" answer for a key never counted.
pub fn view_broker_stats_data(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: ViewBrokerStatsDataRequestHeader = req.decode_header()?;
    let known = [
        rates::TOPIC_PUT_NUMS,
        rates::TOPIC_PUT_SIZE,
        rates::GROUP_GET_NUMS,
        rates::GROUP_GET_SIZE,
    ];
    if !known.contains(&h.stats_name.as_str()) {
        return Err(BrokerError::InvalidParameter(format!(
            "statsName {} is not one of {}",
            h.stats_name,
            known.join(", ")
        )));
    }
    // A key counted since the sampler's last snapshot has no samples yet:
    // its windows are empty, but it exists.
    let data = state
        .rates
        .stats_data(&h.stats_name, &h.stats_key)
        .or_else(|| {
            let counted = if h.stats_name.starts_with("TOPIC_PUT") {
                state.metrics.counted_put(&h.stats_key)
            } else {
                // `topic@group`: a topic name never holds '@'.
                h.stats_key
                    .split_once('@')
                    .is_some_and(|(topic, group)| state.metrics.counted_get(topic, group))
            };
            counted.then(protocol::body::ops::BrokerStatsData::default)
        });
    match data {
        Some(data) => Ok(RemotingCommand::success().with_body(data.to_json_bytes()?)),
        None => Ok(RemotingCommand::error(
            ResponseCode::SYSTEM_ERROR,
            format!("The stats <{}> <{}> not exist", h.stats_name, h.stats_key),
        )),
    }
}

/// CLONE_GROUP_OFFSET (314): copies `srcGroup`'s committed offsets on
/// `topic` (or every topic it has offsets on) to `destGroup`. Unless
/// `offline`, a source group online without a subscription to a topic
/// skips that topic, as in Java.
pub fn clone_group_offset(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: CloneGroupOffsetRequestHeader = req.decode_header()?;
    if h.src_group.is_empty() || h.dest_group.is_empty() {
        return Err(BrokerError::InvalidParameter(
            "srcGroup and destGroup must both be given".into(),
        ));
    }
    let topics = match h.topic.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => vec![t.to_owned()],
        None => state.offsets.topics_of_group(&h.src_group),
    };
    let online = state.clients.consumer_group(&h.src_group);
    let mut cloned = 0;
    for topic in topics {
        if !state.topics.contains(&topic) {
            continue;
        }
        let unsubscribed = online
            .as_ref()
            .is_some_and(|g| !g.subscriptions.contains_key(&topic));
        if !h.offline.unwrap_or(false) && unsubscribed {
            continue;
        }
        for (queue, offset) in state.offsets.committed_all(&h.src_group, &topic) {
            state.offsets.commit(&h.dest_group, &topic, queue, offset);
            cloned += 1;
        }
    }
    tracing::info!(src = %h.src_group, dest = %h.dest_group, queues = cloned,
        "group offsets cloned by admin");
    let mut response = RemotingCommand::success();
    response.remark = Some(format!("cloned the offsets of {cloned} queues"));
    Ok(response)
}
