//! The pop itself: validation, queue choice (the group's retry queues mixed
//! in), reading from the store under the queue's lock, journaling what was
//! handed out, and long polling until one message is there.

use std::sync::Arc;

use bytes::Bytes;
use protocol::message::decode_record;
use protocol::message::record::DecodedRecord;
use protocol::message::sysflag::perm;
use store::GetStatus;

use super::api::{FilterKind, InitMode, PopOutcome, PopRequest, PoppedMessage};
use super::error::{PopError, PopResult};
use super::handle::{ReceiptHandle, NORMAL_REVIVE_QID, ORDER_REVIVE_QID};
use super::rules::{
    group_config, pop_retry_topic, queue_ids, MAX_BATCH, MAX_INVISIBLE_MS, MAX_POLL,
    MIN_INVISIBLE_MS, RECHECK,
};
use super::table::{InFlight, QueueKey, QueueState, Record};
use crate::state::BrokerState;
use crate::tables::subscription::Filter;
use protocol::clock::now_ms;

/// What every pop of one request shares.
pub(crate) struct Ctx {
    pub group: String,
    pub topic: String,
    pub filter: Filter,
    pub order: bool,
    pub invisible_ms: i64,
    pub max_attempts: u32,
    pub init_mode: InitMode,
}

/// Pops up to `req.max_messages` messages.
///
/// # Errors
/// Unknown topic or group, no permission, a bad batch size, invisible time
/// or filter, too many parked pops, or a journal write failure.
pub async fn pop(state: &Arc<BrokerState>, req: &PopRequest) -> PopResult<PopOutcome> {
    let ctx = check(state, req)?;
    let queues = queue_ids(state, &ctx.topic, req.queue_id)?;
    let retry_topic = pop_retry_topic(&ctx.group, &ctx.topic);
    let first = pop_once(state, &ctx, &queues, &retry_topic, req.max_messages)?;
    if !first.messages.is_empty() || req.poll_time.is_zero() {
        return Ok(first);
    }
    let _parked = state
        .pop
        .waiters
        .park(&ctx.topic, &ctx.group)
        .ok_or_else(|| PopError::PollingFull(ctx.topic.clone()))?;
    let deadline = tokio::time::Instant::now() + req.poll_time.min(MAX_POLL);
    let topic_waiter = state.pop.waiters.waiter(&ctx.topic);
    let retry_waiter = state.pop.waiters.waiter(&retry_topic);
    loop {
        let a = topic_waiter.notified();
        let b = retry_waiter.notified();
        tokio::pin!(a, b);
        a.as_mut().enable();
        b.as_mut().enable();
        // Look after arming: an arrival in between is seen now, not missed.
        let again = pop_once(state, &ctx, &queues, &retry_topic, req.max_messages)?;
        if !again.messages.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(again);
        }
        let wake_at = deadline.min(tokio::time::Instant::now() + RECHECK);
        tokio::select! {
            _ = &mut a => {}
            _ = &mut b => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
        if state.pop.waiters.is_shut_down() {
            return Ok(again);
        }
    }
}

fn check(state: &BrokerState, req: &PopRequest) -> PopResult<Ctx> {
    if state.is_slave() {
        return Err(PopError::NoPermission(format!(
            "the broker[{}] is a slave: pop is served by the master",
            state.config.broker_name
        )));
    }
    if state.live.broker().broker_permission & perm::READ == 0 {
        return Err(PopError::NoPermission(format!(
            "the broker[{}] pop message is forbidden",
            state.config.broker_name
        )));
    }
    if req.max_messages == 0 || req.max_messages > MAX_BATCH {
        return Err(PopError::InvalidParameter(format!(
            "maxMsgNums {} is out of range [1, {MAX_BATCH}]",
            req.max_messages
        )));
    }
    let invisible_ms = i64::try_from(req.invisible_time.as_millis()).unwrap_or(i64::MAX);
    if !(MIN_INVISIBLE_MS..=MAX_INVISIBLE_MS).contains(&invisible_ms) {
        return Err(PopError::InvalidInvisibleTime(
            invisible_ms,
            MIN_INVISIBLE_MS,
            MAX_INVISIBLE_MS,
        ));
    }
    let group = group_config(state, &req.group)?;
    let topic = state
        .topics
        .get(&req.topic)
        .ok_or_else(|| PopError::TopicNotExist(req.topic.clone()))?;
    if topic.perm & perm::READ == 0 {
        return Err(PopError::NoPermission(format!(
            "the topic[{}] pop message is forbidden",
            req.topic
        )));
    }
    let filter = compile_filter(state, &req.expression, req.filter_kind)?;
    Ok(Ctx {
        group: req.group.clone(),
        topic: req.topic.clone(),
        filter,
        order: req.order,
        invisible_ms,
        max_attempts: u32::try_from(group.retry_max_times.max(0)).unwrap_or(0) + 1,
        init_mode: req.init_mode,
    })
}

/// Compiles a pop's filter.
///
/// # Errors
/// [`PopError::InvalidFilter`] for SQL92 that does not parse or is disabled.
pub(crate) fn compile_filter(
    state: &BrokerState,
    expression: &str,
    kind: FilterKind,
) -> PopResult<Filter> {
    match kind {
        FilterKind::Tag => Ok(Filter::tags(expression)),
        FilterKind::Sql92 => {
            if !state.config.enable_property_filter {
                return Err(PopError::InvalidFilter(
                    "The broker does not support consumer to filter message by SQL92".into(),
                ));
            }
            state
                .sql
                .get(expression)
                .map(Filter::Sql)
                .map_err(|e| PopError::InvalidFilter(e.to_string()))
        }
    }
}

fn pop_once(
    state: &BrokerState,
    ctx: &Ctx,
    queues: &[i32],
    retry_topic: &str,
    max: u32,
) -> PopResult<PopOutcome> {
    let now = now_ms();
    let mut out = PopOutcome {
        pop_time: now,
        invisible_ms: ctx.invisible_ms,
        revive_qid: if ctx.order {
            ORDER_REVIVE_QID
        } else {
            NORMAL_REVIVE_QID
        },
        ..PopOutcome::default()
    };
    let mut keys: Vec<QueueKey> = queues
        .iter()
        .map(|q| QueueKey {
            group: ctx.group.clone(),
            topic: ctx.topic.clone(),
            queue_id: *q,
        })
        .collect();
    if !ctx.order {
        let retry_queues = state
            .topics
            .get(retry_topic)
            .map_or(0, |c| c.read_queue_nums.max(0));
        let retry = (0..retry_queues).map(|q| QueueKey {
            group: ctx.group.clone(),
            topic: retry_topic.to_owned(),
            queue_id: q,
        });
        // Mostly fresh messages first; one pop in five starts with the
        // retry queues so that redeliveries are not starved (as Java).
        if state.next_random().is_multiple_of(5) {
            keys.splice(0..0, retry);
        } else {
            keys.extend(retry);
        }
    }
    for key in &keys {
        let need = max as usize - out.messages.len();
        if need == 0 {
            break;
        }
        let (got, rest) = pop_queue(state, ctx, key, need, now)?;
        out.messages.extend(got);
        out.rest += rest;
    }
    Ok(out)
}

/// Where a group that never consumed `key` starts.
fn init_cursor(state: &BrokerState, ctx: &Ctx, key: &QueueKey) -> u64 {
    if let Some(c) = state
        .offsets
        .committed(&key.group, &key.topic, key.queue_id)
    {
        return u64::try_from(c).unwrap_or(0);
    }
    let min = state.store.min_offset(&key.topic, key.queue_id);
    if key.topic != ctx.topic || ctx.init_mode == InitMode::Min || min == 0 {
        return min;
    }
    state
        .store
        .max_offset(&key.topic, key.queue_id)
        .saturating_sub(1)
        .max(min)
}

/// A message chosen for a pop: queue offset, stored record, attempt.
type Picked = (u64, Bytes, u32);

/// Pops from one queue; returns the messages and how many remain there.
fn pop_queue(
    state: &BrokerState,
    ctx: &Ctx,
    key: &QueueKey,
    need: usize,
    now: i64,
) -> PopResult<(Vec<PoppedMessage>, u64)> {
    let queue = state.pop.tables.queue(key, || init_cursor(state, ctx, key));
    let mut q = queue.lock();
    apply_admin_reset(state, key, &mut q)?;
    if ctx.order && q.order_blocked(now, ctx.max_attempts) {
        return Ok((Vec::new(), 0));
    }
    // Orderly: one message in flight per queue, so a message is never
    // handed out while an earlier one of its queue (and so of its message
    // group) may still fail and come back.
    let need = if ctx.order { need.min(1) } else { need };
    let (picked, next) = pick(state, ctx, key, &q, need, now);
    let rest = state
        .store
        .max_offset(&key.topic, key.queue_id)
        .saturating_sub(next);
    if picked.is_empty() && next == q.cursor {
        return Ok((Vec::new(), rest));
    }
    let ck_offset = picked.iter().map(|p| p.0).min().unwrap_or(next);
    let items: Vec<InFlight> = picked
        .iter()
        .map(|(offset, _, attempt)| InFlight {
            offset: *offset,
            ck_offset,
            first_pop: now,
            pop_time: now,
            invisible_ms: ctx.invisible_ms,
            attempt: *attempt,
            order: ctx.order,
        })
        .collect();
    let record = Record::Pop {
        key: key.clone(),
        next,
        items,
    };
    state.pop.journal.append(&record)?;
    q.apply(&record);
    let low = q.low_water();
    drop(q);
    state
        .offsets
        .commit(&key.group, &key.topic, key.queue_id, low as i64);
    Ok((handed_out(state, ctx, key, picked, ck_offset, now), rest))
}

/// Moves the cursor where an admin reset (INVOKE_BROKER_TO_RESET_OFFSET)
/// asked, once.
fn apply_admin_reset(state: &BrokerState, key: &QueueKey, q: &mut QueueState) -> PopResult<()> {
    let Some(next) = state
        .offsets
        .take_reset(&key.group, &key.topic, key.queue_id)
    else {
        return Ok(());
    };
    let record = Record::Reset {
        key: key.clone(),
        next: u64::try_from(next).unwrap_or(0),
    };
    if let Err(e) = state.pop.journal.append(&record) {
        // Keep the reset pending for the next pop.
        let again = std::collections::BTreeMap::from([(key.queue_id, next)]);
        state.offsets.reset(&key.group, &key.topic, &again);
        return Err(e);
    }
    q.apply(&record);
    Ok(())
}

/// What a pop of `key` takes (orderly redeliveries first, then new
/// messages from the cursor that pass the filter) and where the cursor
/// moves.
fn pick(
    state: &BrokerState,
    ctx: &Ctx,
    key: &QueueKey,
    q: &QueueState,
    need: usize,
    now: i64,
) -> (Vec<Picked>, u64) {
    let mut picked: Vec<Picked> = Vec::new();
    if ctx.order {
        for e in q.expired(now).take(need) {
            // A message that retention removed meanwhile is skipped.
            if let Some(bytes) = state.store.message_at(&key.topic, key.queue_id, e.offset) {
                picked.push((e.offset, bytes, e.attempt + 1));
            }
        }
    }
    if picked.len() >= need {
        return (picked, q.cursor);
    }
    let r = state.store.get_messages_filtered(
        &key.topic,
        key.queue_id,
        q.cursor,
        need - picked.len(),
        state.config.max_transfer_bytes_on_message_in_memory,
        &|hash| ctx.filter.accepts_hash(hash),
        &|record| ctx.filter.accepts_record(record),
    );
    let next = match r.status {
        GetStatus::Found | GetStatus::NoMatchedMessage | GetStatus::MessageWasRemoving => {
            r.next_begin_offset
        }
        GetStatus::OffsetTooSmall => r.min_offset,
        GetStatus::OffsetOverflowBadly => r.max_offset,
        _ => q.cursor,
    };
    for (bytes, offset) in r.messages.into_iter().zip(r.queue_offsets) {
        let attempt = reconsume_times(&bytes) + 1;
        picked.push((offset, bytes, attempt));
    }
    (picked, next)
}

/// The picked messages with their receipt handles.
fn handed_out(
    state: &BrokerState,
    ctx: &Ctx,
    key: &QueueKey,
    picked: Vec<Picked>,
    ck_offset: u64,
    now: i64,
) -> Vec<PoppedMessage> {
    let retry = key.topic != ctx.topic;
    let revive_qid = if ctx.order {
        ORDER_REVIVE_QID
    } else {
        NORMAL_REVIVE_QID
    };
    picked
        .into_iter()
        .map(|(offset, record, attempt)| PoppedMessage {
            handle: ReceiptHandle {
                ck_offset,
                pop_time: now,
                invisible_ms: ctx.invisible_ms,
                revive_qid,
                retry,
                broker_name: state.config.broker_name.clone(),
                queue_id: key.queue_id,
                queue_offset: offset,
            }
            .to_string(),
            record,
            delivery_attempt: attempt,
            topic: ctx.topic.clone(),
            queue_id: key.queue_id,
            queue_offset: offset,
            retry,
        })
        .collect()
}

/// RECONSUMETIMES of a stored record (0 when it does not decode).
pub(crate) fn reconsume_times(record: &[u8]) -> u32 {
    match decode_record(record) {
        Ok((DecodedRecord::Message(view), _)) => u32::try_from(view.reconsume_times()).unwrap_or(0),
        _ => 0,
    }
}
