//! Read-only views for admin tools: GET_BROKER_RUNTIME_INFO (28),
//! GET_BROKER_CONFIG (26), GET_TOPIC_STATS_INFO (202), GET_CONSUME_STATS
//! (208) and QUERY_TOPIC_CONSUME_BY_WHO (300).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use protocol::body::consumer::{ConsumeStats, OffsetWrapper};
use protocol::body::kv::KvTable;
use protocol::body::stats::{TopicOffset, TopicStatsTable};
use protocol::body::topic::DataVersion;
use protocol::body::MessageQueue;
use protocol::header::admin::{GetConsumeStatsRequestHeader, GetTopicStatsInfoRequestHeader};
use protocol::message::{decode_record, topics, DecodedRecord};
use protocol::{RemotingCommand, CURRENT_VERSION};
use serde_json::Value;

use crate::error::{BrokerError, BrokerResult};
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// The MQVersion name of [`CURRENT_VERSION`] (what `brokerVersionDesc` shows).
const VERSION_DESC: &str = "V5_3_3";

protocol::command_header! {
    /// GET_BROKER_CONFIG (26) response header: the config's data version.
    pub struct GetBrokerConfigResponseHeader {
        pub version: String = "version",
    }
}

/// GET_BROKER_RUNTIME_INFO (28): a KVTable with the keys mqadmin
/// (`brokerStatus`, `clusterList`) and dashboards read. Counters are since
/// the broker started; rates cover the last 10 s, 1 min and 10 min.
pub fn get_broker_runtime_info(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let info = state.store.runtime_info();
    let now = now_ms();
    let up_ms = (now - state.start_ms).max(1);
    let ratio =
        store::mmap::disk_used_ratio(&state.store.config().store_path_root_dir).unwrap_or(0.0);
    let earliest = state
        .store
        .read_message_at(info.commitlog_min_offset)
        .and_then(|r| match decode_record(&r) {
            Ok((DecodedRecord::Message(m), _)) => Some(m.store_timestamp()),
            _ => None,
        })
        .unwrap_or(-1);
    let role = match state.broker_role() {
        crate::config::BrokerRole::AsyncMaster => "ASYNC_MASTER",
        crate::config::BrokerRole::SyncMaster => "SYNC_MASTER",
        crate::config::BrokerRole::Slave => "SLAVE",
    };
    let mut t = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_owned(), v);
    };
    put("brokerVersionDesc", VERSION_DESC.into());
    put("brokerVersion", CURRENT_VERSION.to_string());
    put("brokerRole", role.into());
    put("brokerActive", "true".into());
    put("bootTimestamp", state.start_ms.to_string());
    put(
        "startAcceptSendRequestTimeStamp",
        state.start_ms.to_string(),
    );
    put("runtime", runtime_text(up_ms));
    put("msgPutTotalTodayNow", info.put_records.to_string());
    put("msgGetTotalTodayNow", info.get_found.to_string());
    // No daily snapshots are kept: the "morning" totals are the boot values.
    for k in [
        "msgPutTotalYesterdayMorning",
        "msgPutTotalTodayMorning",
        "msgGetTotalYesterdayMorning",
        "msgGetTotalTodayMorning",
    ] {
        put(k, "0".into());
    }
    // "10 s, 1 min, 10 min" windows of once-a-second samples, as Java.
    put("putTps", state.rates.store_tps(0));
    put("getFoundTps", state.rates.store_tps(1));
    put("getMissTps", state.rates.store_tps(2));
    put("getTransferedTps", state.rates.store_tps(3));
    put("getTotalTps", state.rates.store_tps(4));
    put("putMessageTimesTotal", info.put_records.to_string());
    put("putMessageSizeTotal", info.put_bytes.to_string());
    let avg = info.put_bytes.checked_div(info.put_records).unwrap_or(0);
    put("putMessageAverageSize", avg.to_string());
    put("putMessageFailedTimes", info.put_failures.to_string());
    put("commitLogMinOffset", info.commitlog_min_offset.to_string());
    put("commitLogMaxOffset", info.commitlog_max_offset.to_string());
    let behind = info
        .commitlog_max_offset
        .saturating_sub(info.dispatched_offset);
    put("dispatchBehindBytes", behind.to_string());
    let unflushed = info
        .commitlog_max_offset
        .saturating_sub(info.flushed_offset);
    put("remainHowManyDataToFlush", unflushed.to_string());
    put("earliestMessageTimeStamp", earliest.to_string());
    put("commitLogDiskRatio", ratio.to_string());
    put("consumeQueueDiskRatio", ratio.to_string());
    put("pageCacheLockTimeMills", "0".into());
    for k in [
        "timerReadBehind",
        "timerOffsetBehind",
        "timerCongestNum",
        "timerEnqueueTps",
        "timerDequeueTps",
    ] {
        put(k, "0".into());
    }
    for (k, v) in state.store.fault_status() {
        put(&k, v);
    }
    for (k, v) in state.ha_status().kv_pairs() {
        put(&k, v);
    }
    for (k, v) in super::controller::runtime_pairs(state) {
        put(k, v);
    }
    let body = KvTable { table: t }.encode();
    Ok(RemotingCommand::success().with_body(body))
}

/// Java's `[ 0 days, 1 hours, 2 minutes, 3 seconds ]`.
fn runtime_text(ms: i64) -> String {
    let s = ms / 1000;
    format!(
        "[ {} days, {} hours, {} minutes, {} seconds ]",
        s / 86_400,
        s % 86_400 / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// GET_BROKER_CONFIG (26): `key=value` lines of the broker and store
/// settings (the Java properties form mqadmin `getBrokerConfig` prints).
pub fn get_broker_config(
    state: &Arc<BrokerState>,
    _req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut lines = BTreeMap::new();
    for value in [
        serde_json::to_value(&*state.live.broker()),
        serde_json::to_value(&*state.live.store()),
    ] {
        let value = value.map_err(|e| BrokerError::System(format!("config to JSON: {e}")))?;
        if let Value::Object(map) = value {
            for (k, v) in map {
                if k == "secretKey" {
                    continue;
                }
                let text = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                lines.insert(k, text);
            }
        }
    }
    let mut body = String::new();
    for (k, v) in lines {
        body.push_str(&k);
        body.push('=');
        body.push_str(&v);
        body.push('\n');
    }
    // UPDATE_BROKER_CONFIG bumps the version.
    let (counter, timestamp) = state.live.version();
    let version = DataVersion {
        counter,
        state_version: 0,
        timestamp,
    };
    let header = GetBrokerConfigResponseHeader {
        version: String::from_utf8_lossy(&version.encode()).into_owned(),
    };
    Ok(RemotingCommand::success()
        .with_header(&header)
        .with_body(body.into_bytes()))
}

/// GET_TOPIC_STATS_INFO (202): per write queue min/max offset and the store
/// time of the last message.
pub fn get_topic_stats_info(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetTopicStatsInfoRequestHeader = req.decode_header()?;
    let config = state
        .topics
        .get(&h.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(h.topic.clone()))?;
    let mut stats = TopicStatsTable::default();
    for q in 0..config.write_queue_nums {
        let max = state.store.max_offset(&h.topic, q);
        let last = max
            .checked_sub(1)
            .and_then(|o| state.store.store_time_at(&h.topic, q, o))
            .unwrap_or(0);
        stats.offset_table.insert(
            MessageQueue::new(h.topic.clone(), state.config.broker_name.clone(), q),
            TopicOffset {
                last_update_timestamp: last,
                max_offset: max as i64,
                min_offset: state.store.min_offset(&h.topic, q) as i64,
            },
        );
    }
    Ok(RemotingCommand::success().with_body(stats.to_json_bytes()?))
}

/// The topics a group consumes: those it has offsets on or subscribes to,
/// plus its retry topic when that exists.
pub(crate) fn topics_of_group(state: &BrokerState, group: &str) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = state.offsets.topics_of_group(group).into_iter().collect();
    if let Some(g) = state.clients.consumer_group(group) {
        set.extend(g.subscriptions.into_keys());
    }
    let retry = topics::retry_topic(group);
    if state.topics.contains(&retry) {
        set.insert(retry);
    }
    set
}

/// GET_CONSUME_STATS (208): per queue the broker's max offset, the group's
/// committed and last pulled offsets and the store time of the last
/// consumed message, for the given topics or every topic of the group.
pub fn get_consume_stats(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: GetConsumeStatsRequestHeader = req.decode_header()?;
    let group = h.consumer_group.as_str();
    let topics: BTreeSet<String> = match h.topics() {
        given if given.is_empty() => topics_of_group(state, group),
        given => given.into_iter().map(str::to_owned).collect(),
    };
    let stats = consume_stats_of(state, group, &topics);
    Ok(RemotingCommand::success().with_body(stats.to_json_bytes()?))
}

/// Per queue of each of `topics`: the broker's max offset and the group's
/// committed and pulled offsets (GET_CONSUME_STATS, GET_BROKER_CONSUME_STATS).
pub(crate) fn consume_stats_of(
    state: &BrokerState,
    group: &str,
    topics: &BTreeSet<String>,
) -> ConsumeStats {
    let mut stats = ConsumeStats::default();
    for topic in topics {
        // A topic deleted since the group consumed it has nothing to show.
        let Some(config) = state.topics.get(topic) else {
            continue;
        };
        let committed = state.offsets.committed_all(group, topic);
        for q in 0..config.read_queue_nums {
            let consumer_offset = committed.get(&q).copied().unwrap_or(0).max(0);
            let last_timestamp = (consumer_offset > 0)
                .then(|| {
                    state
                        .store
                        .store_time_at(topic, q, consumer_offset as u64 - 1)
                })
                .flatten()
                .unwrap_or(0);
            stats.offset_table.insert(
                MessageQueue::new(topic.clone(), state.config.broker_name.clone(), q),
                OffsetWrapper {
                    broker_offset: state.store.max_offset(topic, q) as i64,
                    consumer_offset,
                    last_timestamp,
                    pull_offset: state.offsets.pulled(group, topic, q).unwrap_or(0),
                },
            );
        }
    }
    stats
}

protocol::command_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300) request.
    pub struct QueryTopicConsumeByWhoRequestHeader {
        pub topic: String = "topic",
    }
}

/// QUERY_TOPIC_CONSUME_BY_WHO (300): `{"groupList":[…]}`, the groups with
/// offsets on the topic and the online groups subscribed to it.
pub fn query_topic_consume_by_who(
    state: &Arc<BrokerState>,
    req: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let h: QueryTopicConsumeByWhoRequestHeader = req.decode_header()?;
    let mut groups: BTreeSet<String> = state
        .offsets
        .groups_of_topic(&h.topic)
        .into_iter()
        .collect();
    groups.extend(state.clients.groups_subscribing(&h.topic));
    let body = serde_json::to_vec(&serde_json::json!({ "groupList": groups }))
        .map_err(|e| BrokerError::System(format!("group list to JSON: {e}")))?;
    Ok(RemotingCommand::success().with_body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_text_matches_java() {
        assert_eq!(
            runtime_text(((86_400 + 3600 * 2 + 60 * 3 + 4) * 1000) + 999),
            "[ 1 days, 2 hours, 3 minutes, 4 seconds ]"
        );
    }
}
