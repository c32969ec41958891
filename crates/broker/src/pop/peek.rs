//! Looking without taking: PEEK_MESSAGE reads what a pop would hand out
//! next, and NOTIFICATION asks (with long polling) whether there is any.
//! Neither changes POP state.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::error::{PopError, PopResult};
use super::rules::{group_config, pop_retry_topic, queue_ids, MAX_BATCH, MAX_POLL, RECHECK};
use super::table::QueueKey;
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// Where the next pop of `key` reads (without creating its state).
fn next_offset(state: &BrokerState, key: &QueueKey) -> u64 {
    if let Some(q) = state.pop.tables.get(key) {
        return q.lock().cursor;
    }
    state
        .offsets
        .committed(&key.group, &key.topic, key.queue_id)
        .and_then(|c| u64::try_from(c).ok())
        .unwrap_or_else(|| state.store.min_offset(&key.topic, key.queue_id))
}

/// The queues of `topic` (all, or one) and of the group's retry topic.
fn keys(
    state: &BrokerState,
    group: &str,
    topic: &str,
    queue_id: Option<i32>,
) -> PopResult<Vec<QueueKey>> {
    group_config(state, group)?;
    let mut keys: Vec<QueueKey> = queue_ids(state, topic, queue_id)?
        .into_iter()
        .map(|q| QueueKey {
            group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id: q,
        })
        .collect();
    let retry = pop_retry_topic(group, topic);
    let retry_queues = state.topics.get(&retry).map_or(0, |c| c.read_queue_nums);
    keys.extend((0..retry_queues).map(|q| QueueKey {
        group: group.to_owned(),
        topic: retry.clone(),
        queue_id: q,
    }));
    Ok(keys)
}

/// Up to `max` messages a pop of `group` would read next (records as
/// stored), and how many wait in total.
///
/// # Errors
/// Unknown topic or group, a bad queue id or batch size.
pub fn peek(
    state: &BrokerState,
    group: &str,
    topic: &str,
    queue_id: Option<i32>,
    max: u32,
) -> PopResult<(Vec<Bytes>, u64)> {
    if max == 0 || max > MAX_BATCH {
        return Err(PopError::InvalidParameter(format!(
            "maxMsgNums {max} is out of range [1, {MAX_BATCH}]"
        )));
    }
    let mut out = Vec::new();
    let mut rest = 0;
    for key in keys(state, group, topic, queue_id)? {
        let from = next_offset(state, &key);
        let max_offset = state.store.max_offset(&key.topic, key.queue_id);
        rest += max_offset.saturating_sub(from);
        let need = max as usize - out.len();
        if need == 0 {
            continue;
        }
        let r = state.store.get_messages(
            &key.topic,
            key.queue_id,
            from,
            need,
            state.config.max_transfer_bytes_on_message_in_memory,
            |_| true,
        );
        out.extend(r.messages);
    }
    Ok((out, rest))
}

/// Whether a pop of `group` would find something, waiting up to `poll`
/// for an arrival. `order`: as an orderly pop sees it (queues with a
/// message in flight have nothing to give; expired ones do).
///
/// # Errors
/// As [`peek`].
pub async fn has_message(
    state: &Arc<BrokerState>,
    group: &str,
    topic: &str,
    queue_id: Option<i32>,
    order: bool,
    poll: Duration,
) -> PopResult<bool> {
    let mut keys = keys(state, group, topic, queue_id)?;
    if order {
        // Orderly pops never read the retry topic.
        keys.retain(|k| k.topic == topic);
    }
    let retries = group_config(state, group)?.retry_max_times.max(0);
    let max_attempts = u32::try_from(retries).unwrap_or(0) + 1;
    let available = |k: &QueueKey| {
        let end = state.store.max_offset(&k.topic, k.queue_id);
        match (order, state.pop.tables.get(k)) {
            (true, Some(q)) => {
                let q = q.lock();
                let now = now_ms();
                !q.order_blocked(now, max_attempts)
                    && (q.expired(now).next().is_some() || q.cursor < end)
            }
            _ => next_offset(state, k) < end,
        }
    };
    let deadline = tokio::time::Instant::now() + poll.min(MAX_POLL);
    let topic_waiter = state.pop.waiters.waiter(topic);
    let retry_waiter = state.pop.waiters.waiter(&pop_retry_topic(group, topic));
    loop {
        let a = topic_waiter.notified();
        let b = retry_waiter.notified();
        tokio::pin!(a, b);
        a.as_mut().enable();
        b.as_mut().enable();
        if keys.iter().any(available) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline || state.pop.waiters.is_shut_down() {
            return Ok(false);
        }
        // An orderly queue also frees up when an invisible time passes,
        // which nothing signals: look again now and then.
        let wake_at = deadline.min(tokio::time::Instant::now() + RECHECK);
        tokio::select! {
            _ = &mut a => {}
            _ = &mut b => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}
