//! The GET_CONSUMER_RUNNING_INFO answer (ConsumerRunningInfo, remoting-protocol
//! §6.2) that mqadmin `consumerStatus` and dashboards show: properties,
//! subscriptions and per-queue progress.

use std::collections::BTreeMap;

use protocol::body::MessageQueue;
use protocol::body::{fastjson, mq_map};
use serde::Serialize;
use serde_json::json;

use super::Shared;
use crate::error::Result;

/// One queue's progress, Java's ProcessQueueInfo (`droped` is Java's spelling).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcessQueueInfo {
    cached_msg_count: i64,
    cached_msg_max_offset: i64,
    cached_msg_min_offset: i64,
    cached_msg_size_in_mi_b: i32,
    commit_offset: i64,
    droped: bool,
    last_consume_timestamp: i64,
    last_lock_timestamp: i64,
    last_pull_timestamp: i64,
    locked: bool,
    transaction_msg_count: i64,
    transaction_msg_max_offset: i64,
    transaction_msg_min_offset: i64,
    try_unlock_times: i64,
}

impl Shared {
    /// ConsumerRunningInfo JSON, MessageQueue keys written fastjson's way.
    pub(super) fn running_info_json(&self, start_ms: i64) -> Result<Vec<u8>> {
        let handles: Vec<(MessageQueue, super::QueueHandle)> = self
            .queues
            .lock()
            .iter()
            .map(|(mq, h)| (mq.clone(), h.clone()))
            .collect();
        let mut table = BTreeMap::new();
        for (mq, h) in handles {
            let (count, min, max) = h.pq.snapshot();
            table.insert(
                mq.clone(),
                ProcessQueueInfo {
                    cached_msg_count: i64::try_from(count).unwrap_or(i64::MAX),
                    cached_msg_max_offset: max,
                    cached_msg_min_offset: min,
                    cached_msg_size_in_mi_b: 0,
                    commit_offset: self.offsets.get(&mq).unwrap_or(-1),
                    droped: h.pq.is_dropped(),
                    last_consume_timestamp: 0,
                    last_lock_timestamp: 0,
                    last_pull_timestamp: 0,
                    locked: self.is_locked(&mq),
                    transaction_msg_count: 0,
                    transaction_msg_max_offset: 0,
                    transaction_msg_min_offset: 0,
                    try_unlock_times: 0,
                },
            );
        }
        let base = json!({
            "properties": {
                "PROP_CLIENT_VERSION": "V5_3_3",
                "PROP_CONSUMEORDERLY": self.is_orderly().to_string(),
                "PROP_CONSUMER_START_TIMESTAMP": start_ms.to_string(),
                "PROP_CONSUME_TYPE": "CONSUME_PASSIVELY",
                "PROP_NAMESERVER_ADDR": self.client.options().namesrv.join(";"),
                "PROP_THREADPOOL_CORE_SIZE": self.options.consume_concurrency.to_string(),
            },
            "statusTable": {},
            "subscriptionSet": self.subs,
            "userConsumerInfo": {},
        });
        let text = fastjson::object_with_raw(
            &base,
            &[
                ("mqPopTable", "{}".to_string()),
                ("mqTable", mq_map::mq_map_json(&table)?),
            ],
        )?;
        Ok(text.into_bytes())
    }
}
