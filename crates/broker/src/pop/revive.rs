//! Revive: deliveries whose invisible time passed without an ack. An
//! ordinary message is copied to the group's pop retry topic with its
//! reconsume times raised by one (so its next delivery attempt is one
//! higher), or to the group's DLQ once that would pass the group's
//! maximum; orderly messages are redelivered in place by the next pop and
//! only the ones past the maximum come through here, to the DLQ.
//!
//! The copy is written before the delivery is settled in the journal: a
//! kill -9 between the two revives the message again after restart (a
//! duplicate), never loses it.

use std::sync::Arc;
use std::time::Duration;

use protocol::message::msgid::encode_offset_msg_id;
use protocol::message::sysflag::perm;
use protocol::message::{keys, topics, MessageRecord};
use tokio_util::sync::CancellationToken;

use super::error::PopResult;
use super::rules::pop_retry_topic;
use super::table::{InFlight, QueueKey, Record};
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// How often expired deliveries are looked for.
const REVIVE_PERIOD: Duration = Duration::from_millis(200);
/// Queues of a pop retry topic.
const RETRY_QUEUES: i32 = 1;

/// Starts the revive task (masters only).
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    let (s, c) = (state.clone(), cancel.clone());
    state.tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = c.cancelled() => break,
                _ = tokio::time::sleep(REVIVE_PERIOD) => {}
            }
            revive_expired(&s).await;
            if s.pop.journal.wants_compaction() {
                let s2 = s.clone();
                let done =
                    tokio::task::spawn_blocking(move || s2.pop.journal.compact(&s2.pop.tables))
                        .await;
                if let Ok(Err(e)) = done {
                    tracing::warn!("pop journal compaction failed: {e}");
                }
            }
        }
    });
}

/// Revives every delivery past its deadline once; returns how many.
pub async fn revive_expired(state: &Arc<BrokerState>) -> usize {
    let now = now_ms();
    let mut due: Vec<(QueueKey, InFlight)> = Vec::new();
    for (key, queue) in state.pop.tables.all() {
        let max_attempts = max_attempts(state, &key.group);
        let q = queue.lock();
        for e in q.expired(now) {
            if !e.order || e.attempt >= max_attempts {
                due.push((key.clone(), e.clone()));
            }
        }
    }
    let mut revived = 0;
    for (key, entry) in due {
        match revive_one(state, &key, &entry).await {
            Ok(()) => revived += 1,
            Err(e) => tracing::warn!(
                group = %key.group, topic = %key.topic, queue = key.queue_id,
                offset = entry.offset, "revive failed, will retry: {e}"
            ),
        }
    }
    revived
}

fn max_attempts(state: &BrokerState, group: &str) -> u32 {
    let retries = state
        .groups
        .get(group)
        .map_or(16, |g| g.retry_max_times.max(0));
    u32::try_from(retries).unwrap_or(0) + 1
}

async fn revive_one(state: &Arc<BrokerState>, key: &QueueKey, entry: &InFlight) -> PopResult<()> {
    if entry.order {
        move_to_dlq(state, key, entry.offset).await?;
    } else if let Some(mut rec) = load(state, key, entry.offset)? {
        let max_retries = max_attempts(state, &key.group) - 1;
        prepare_copy(state, key, &mut rec);
        let mut retried = None;
        if u32::try_from(rec.reconsume_times).unwrap_or(0) > max_retries {
            crate::rules::dlq::to_dlq(state, &mut rec, &key.group);
        } else {
            let original = original_topic(key);
            let retry = pop_retry_topic(&key.group, &original);
            state.topics.ensure(&retry, RETRY_QUEUES, perm::READ_WRITE);
            rec.topic = retry;
            rec.queue_id = 0;
            retried = Some(original);
        }
        crate::records::put(state, &rec, false).await?;
        if let Some(original) = retried {
            state.events.pop_revived.add(&original, &key.group, 1);
        }
    }
    settle(state, key, entry)
}

/// Copies the message at `offset` of `key` to the group's DLQ.
///
/// # Errors
/// Store failures while reading or writing.
pub(crate) async fn move_to_dlq(
    state: &Arc<BrokerState>,
    key: &QueueKey,
    offset: u64,
) -> PopResult<()> {
    let Some(mut rec) = load(state, key, offset)? else {
        return Ok(());
    };
    prepare_copy(state, key, &mut rec);
    crate::rules::dlq::to_dlq(state, &mut rec, &key.group);
    crate::records::put(state, &rec, false).await?;
    tracing::info!(group = %key.group, topic = %key.topic, offset, "pop message moved to the dead-letter queue");
    Ok(())
}

/// The stored message, or `None` when retention deleted it meanwhile.
fn load(state: &BrokerState, key: &QueueKey, offset: u64) -> PopResult<Option<MessageRecord>> {
    let Some(bytes) = state.store.message_at(&key.topic, key.queue_id, offset) else {
        return Ok(None);
    };
    let (rec, _) = MessageRecord::decode(&bytes)?;
    Ok(Some(rec))
}

/// The topic the group consumes `key` for.
fn original_topic(key: &QueueKey) -> String {
    let prefix = format!("{}{}_", topics::RETRY_GROUP_TOPIC_PREFIX, key.group);
    key.topic
        .strip_prefix(&prefix)
        .unwrap_or(&key.topic)
        .to_owned()
}

/// A redelivery: one more attempt, where it came from remembered.
fn prepare_copy(state: &BrokerState, key: &QueueKey, rec: &mut MessageRecord) {
    let original = original_topic(key);
    if !rec.properties.contains_key(keys::RETRY_TOPIC) {
        rec.properties.insert(keys::RETRY_TOPIC, original);
    }
    if !rec.properties.contains_key(keys::ORIGIN_MESSAGE_ID) {
        let origin = rec
            .properties
            .uniq_key()
            .map(str::to_owned)
            .unwrap_or_else(|| encode_offset_msg_id(rec.store_host, rec.physical_offset));
        rec.properties.insert(keys::ORIGIN_MESSAGE_ID, origin);
    }
    rec.properties.remove(keys::DELAY);
    rec.properties.insert(keys::WAIT, "false");
    rec.reconsume_times = rec.reconsume_times.saturating_add(1);
    rec.store_host = state.store_host;
    rec.queue_offset = 0;
    rec.physical_offset = 0;
    rec.store_timestamp = 0;
}

/// Settles a revived delivery (unless an ack or renewal got there first).
fn settle(state: &BrokerState, key: &QueueKey, entry: &InFlight) -> PopResult<()> {
    let Some(queue) = state.pop.tables.get(key) else {
        return Ok(());
    };
    let mut q = queue.lock();
    if q.inflight.get(&entry.offset) != Some(entry) {
        return Ok(());
    }
    let record = Record::Settle {
        key: key.clone(),
        offset: entry.offset,
    };
    state.pop.journal.append(&record)?;
    q.apply(&record);
    let low = q.low_water();
    drop(q);
    state
        .offsets
        .commit(&key.group, &key.topic, key.queue_id, low as i64);
    if entry.order {
        state.pop.waiters.wake(&key.topic);
    }
    Ok(())
}
