//! Broker-wide consumption views for mqadmin: GET_BROKER_CONSUME_STATS
//! (317, `brokerConsumeStats`) and QUERY_CONSUME_QUEUE (321, `queryCq`).

use std::collections::BTreeSet;
use std::sync::Arc;

use protocol::body::ops::{ConsumeQueueData, ConsumeStatsList, QueryConsumeQueueResponseBody};
use protocol::header::ops::{GetConsumeStatsInBrokerHeader, QueryConsumeQueueRequestHeader};
use protocol::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::handlers::stats::{consume_stats_of, topics_of_group};
use crate::state::BrokerState;

/// The most entries one QUERY_CONSUME_QUEUE returns.
const MAX_CQ_ENTRIES: i32 = 1000;

/// GET_BROKER_CONSUME_STATS (317): every subscription group's stats per
/// topic it consumes, and the lag of them all (`isOrder`: orderly groups
/// only).
pub fn get_broker_consume_stats(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetConsumeStatsInBrokerHeader = req.decode_header()?;
    let only_orderly = h.is_order.unwrap_or(false);
    let mut list = ConsumeStatsList {
        broker_addr: state.advertised_addr.clone(),
        ..ConsumeStatsList::default()
    };
    for group in state.groups.names() {
        let orderly = state
            .groups
            .get(&group)
            .is_some_and(|g| g.consume_message_orderly);
        if only_orderly && !orderly {
            continue;
        }
        let mut per_topic = Vec::new();
        for topic in topics_of_group(state, &group) {
            let stats = consume_stats_of(state, &group, &BTreeSet::from([topic]));
            if stats.offset_table.is_empty() {
                continue;
            }
            list.total_diff += stats
                .offset_table
                .values()
                .map(|w| (w.broker_offset - w.consumer_offset).max(0))
                .sum::<i64>();
            per_topic.push(stats);
        }
        if !per_topic.is_empty() {
            list.groups.push((group, per_topic));
        }
    }
    Ok(RemotingCommand::success().with_body(list.to_json_bytes()?))
}

/// QUERY_CONSUME_QUEUE (321): `count` entries of a queue from `index`,
/// and, with a group, whether its subscription matches each entry's tag.
pub fn query_consume_queue(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: QueryConsumeQueueRequestHeader = req.decode_header()?;
    let config = state
        .topics
        .get(&h.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(h.topic.clone()))?;
    if h.queue_id < 0 || h.queue_id >= config.read_queue_nums.max(config.write_queue_nums) {
        return Err(BrokerError::InvalidParameter(format!(
            "queueId {} is out of range for topic {} ({} queues)",
            h.queue_id, h.topic, config.read_queue_nums
        )));
    }
    if h.index < 0 || !(1..=MAX_CQ_ENTRIES).contains(&h.count) {
        return Err(BrokerError::InvalidParameter(format!(
            "index {} must be >= 0 and count {} within 1..={MAX_CQ_ENTRIES}",
            h.index, h.count
        )));
    }
    let subscription = h
        .consumer_group
        .as_deref()
        .filter(|g| !g.is_empty())
        .and_then(|g| state.clients.subscription(g, &h.topic));
    let mut body = QueryConsumeQueueResponseBody {
        max_queue_index: state.store.max_offset(&h.topic, h.queue_id) as i64,
        min_queue_index: state.store.min_offset(&h.topic, h.queue_id) as i64,
        ..QueryConsumeQueueResponseBody::default()
    };
    for offset in h.index..h.index + i64::from(h.count) {
        let Some(e) = state.store.cq_entry(&h.topic, h.queue_id, offset as u64) else {
            break;
        };
        let eval = subscription.as_ref().is_none_or(|s| {
            !s.expression_type.eq_ignore_ascii_case("TAG")
                || s.sub_string == "*"
                || s.sub_string.is_empty()
                || s.code_set.contains(&(e.tag_hash as i32))
        });
        body.queue_data.push(ConsumeQueueData {
            physic_offset: e.phys_offset,
            physic_size: e.size,
            tags_code: e.tag_hash,
            eval,
            ..ConsumeQueueData::default()
        });
    }
    body.subscription_data = subscription;
    Ok(RemotingCommand::success().with_body(body.to_json_bytes()?))
}
