//! Settling deliveries: ack, a new invisible time, and moving a delivered
//! message to the dead-letter queue. A handle is honoured while its
//! delivery is in flight: from the pop that started the delivery through
//! every renewal, until the latest deadline passes.

use std::sync::Arc;
use std::time::Duration;

use super::api::Renewed;
use super::error::{PopError, PopResult};
use super::handle::ReceiptHandle;
use super::rules::{pop_retry_topic, MAX_INVISIBLE_MS, MIN_INVISIBLE_MS};
use super::table::{InFlight, QueueKey, Record};
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// The queue a handle names, for `topic` as the client gives it (the
/// original topic, or the retry topic as Java clients send it).
fn locate(
    state: &BrokerState,
    group: &str,
    topic: &str,
    handle: &ReceiptHandle,
) -> PopResult<QueueKey> {
    if handle.broker_name != state.config.broker_name {
        return Err(PopError::ForeignHandle(handle.broker_name.clone()));
    }
    let prefix = protocol::message::topics::RETRY_GROUP_TOPIC_PREFIX;
    let topic = if handle.retry && !topic.starts_with(prefix) {
        pop_retry_topic(group, topic)
    } else {
        topic.to_owned()
    };
    Ok(QueueKey {
        group: group.to_owned(),
        topic,
        queue_id: handle.queue_id,
    })
}

/// Checks that a handle names a delivery in flight; returns its queue and
/// entry as they are now.
///
/// # Errors
/// As [`ack`] (without the journal).
pub(crate) fn check_handle(
    state: &BrokerState,
    group: &str,
    topic: &str,
    text: &str,
) -> PopResult<(QueueKey, InFlight)> {
    with_entry(state, group, topic, text, |key, entry, _| {
        Ok((None, (key.clone(), entry.clone())))
    })
}

/// Finds the in-flight entry a handle names and runs `f` on it under the
/// queue's lock; `f` returns the journal entry to write and apply, if any.
fn with_entry<T>(
    state: &BrokerState,
    group: &str,
    topic: &str,
    text: &str,
    f: impl FnOnce(&QueueKey, &InFlight, i64) -> PopResult<(Option<Record>, T)>,
) -> PopResult<T> {
    if group.is_empty() {
        return Err(PopError::InvalidParameter("consumerGroup is empty".into()));
    }
    let handle = ReceiptHandle::parse(text)?;
    let key = locate(state, group, topic, &handle)?;
    let expired = || PopError::HandleExpired(text.to_owned(), group.to_owned());
    let queue = state.pop.tables.get(&key).ok_or_else(expired)?;
    let mut q = queue.lock();
    let now = now_ms();
    let entry = q.inflight.get(&handle.queue_offset).ok_or_else(expired)?;
    let same_delivery = handle.pop_time >= entry.first_pop && handle.pop_time <= entry.pop_time;
    if !same_delivery || entry.deadline() <= now {
        return Err(expired());
    }
    let (record, out) = f(&key, entry, now)?;
    let Some(record) = record else {
        return Ok(out);
    };
    state.pop.journal.append(&record)?;
    q.apply(&record);
    let low = q.low_water();
    drop(q);
    state
        .offsets
        .commit(&key.group, &key.topic, key.queue_id, low as i64);
    Ok(out)
}

/// Acknowledges a delivery: the message is consumed for the group.
///
/// # Errors
/// [`PopError::MalformedHandle`], [`PopError::ForeignHandle`],
/// [`PopError::HandleExpired`] (acked already, invisible time passed, or
/// another group's or delivery's handle), [`PopError::Journal`].
pub fn ack(state: &BrokerState, group: &str, topic: &str, handle: &str) -> PopResult<()> {
    let order_topic = with_entry(state, group, topic, handle, |key, entry, _| {
        let record = Record::Settle {
            key: key.clone(),
            offset: entry.offset,
        };
        Ok((Some(record), entry.order.then(|| key.topic.clone())))
    })?;
    state.events.pop_acks.add(topic, group, 1);
    if let Some(t) = order_topic {
        // An orderly queue may have unlocked: parked pops look again.
        state.pop.waiters.wake(&t);
    }
    Ok(())
}

/// Gives a delivery a new invisible time counted from now and returns the
/// new handle. Older handles of the same delivery still ack it.
///
/// # Errors
/// As [`ack`], and [`PopError::InvalidInvisibleTime`].
pub fn change_invisible(
    state: &BrokerState,
    group: &str,
    topic: &str,
    handle: &str,
    invisible: Duration,
) -> PopResult<Renewed> {
    let invisible_ms = i64::try_from(invisible.as_millis()).unwrap_or(i64::MAX);
    if !(0..=MAX_INVISIBLE_MS).contains(&invisible_ms) {
        return Err(PopError::InvalidInvisibleTime(
            invisible_ms,
            MIN_INVISIBLE_MS,
            MAX_INVISIBLE_MS,
        ));
    }
    let old = ReceiptHandle::parse(handle)?;
    with_entry(state, group, topic, handle, |key, entry, now| {
        let mut item = entry.clone();
        // Strictly later than every earlier handle, so the newest handle
        // always names the newest renewal.
        item.pop_time = now.max(entry.pop_time + 1);
        item.invisible_ms = invisible_ms;
        let renewed = Renewed {
            handle: ReceiptHandle {
                pop_time: item.pop_time,
                invisible_ms,
                ck_offset: entry.ck_offset,
                ..old
            }
            .to_string(),
            pop_time: item.pop_time,
            invisible_ms,
            revive_qid: old.revive_qid,
        };
        Ok((
            Some(Record::Renew {
                key: key.clone(),
                item,
            }),
            renewed,
        ))
    })
}

/// Moves a delivered message to the group's dead-letter queue and settles
/// the delivery (gRPC ForwardMessageToDeadLetterQueue).
///
/// # Errors
/// As [`ack`], and store failures while writing the dead letter.
pub async fn dead_letter(
    state: &Arc<BrokerState>,
    group: &str,
    topic: &str,
    handle: &str,
) -> PopResult<()> {
    // Validate first so a stale handle writes no dead letter.
    let (key, entry) = check_handle(state, group, topic, handle)?;
    super::revive::move_to_dlq(state, &key, entry.offset).await?;
    ack(state, group, topic, handle)
}
