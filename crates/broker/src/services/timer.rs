//! Messages delivered at an arbitrary time (TIMER_DELIVER_MS absolute,
//! TIMER_DELAY_SEC / TIMER_DELAY_MS relative, ali-ons' `__STARTDELIVERTIME`
//! absolute). They wait in `rmq_sys_wheel_timer` queue 0; an in-memory
//! min-heap of (deliver time, queue offset) says what is due next; a
//! checkpoint (the lowest queue offset not yet delivered) is persisted in
//! `config/timerCheckpoint.json`. See docs/timer.md for the guarantees.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

use protocol::clock::now_ms;
use protocol::message::sysflag::perm;
use protocol::message::{keys, topics};
use tokio_util::sync::CancellationToken;

use crate::records;
use crate::rules::timer;
use crate::services::delivery::{self, MAX_SLEEP, RETRY_PAUSE};
use crate::state::BrokerState;
use crate::tables::timer::Pending;

/// Starts the timer task, and the task saving its checkpoint.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    state
        .topics
        .ensure(topics::TIMER_TOPIC, 1, perm::READ_WRITE);
    let (s, c) = (state.clone(), cancel.clone());
    state.tasks.spawn(async move {
        let round = || async {
            scan(&s);
            deliver_due(&s).await
        };
        delivery::wake_loop(&s, topics::TIMER_TOPIC, 0, c, round).await;
    });
    state
        .tasks
        .spawn(delivery::persist_loop(state.clone(), cancel.clone(), |s| {
            &s.timer
        }));
}

/// A timer-queue entry as loaded.
enum Loaded {
    /// A timed message and its recall key.
    Timed(Pending, Option<String>),
    /// A recall marker, naming the recall key it cancels.
    Recall(String),
}

/// Loads new entries of the timer queue into the heap.
fn scan(state: &BrokerState) {
    let store = &state.store;
    let max = store.max_offset(topics::TIMER_TOPIC, 0);
    let mut offset = {
        let inner = state.timer.inner.lock();
        inner.scanned.max(store.min_offset(topics::TIMER_TOPIC, 0))
    };
    let mut loaded = Vec::new();
    while offset < max {
        let Some(entry) = store.cq_entry(topics::TIMER_TOPIC, 0, offset) else {
            break;
        };
        if entry.is_valid() && !entry.is_blank() {
            match records::load(state, entry.phys_offset) {
                Ok(rec) => {
                    let at = rec
                        .properties
                        .get(keys::TIMER_OUT_MS)
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(0);
                    let entry = match timer::cancels(&rec) {
                        Some(key) => Loaded::Recall(key.to_owned()),
                        None => Loaded::Timed(
                            Reverse((at, offset, entry.phys_offset)),
                            timer::delete_key_of(&rec),
                        ),
                    };
                    loaded.push((offset, entry));
                }
                Err(e) => tracing::warn!(offset, error = %e, "timer entry skipped"),
            }
        }
        offset += 1;
    }
    let mut inner = state.timer.inner.lock();
    // In queue order: a recall marker always follows the message it cancels.
    for (q, entry) in loaded {
        if inner.delivered.contains(&q) {
            continue;
        }
        match entry {
            Loaded::Timed(p, key) => {
                inner.waiting.insert(q);
                inner.heap.push(p);
                if let Some(key) = key {
                    inner.keys.insert(q, key);
                }
            }
            Loaded::Recall(key) => {
                if inner.cancel(&key) {
                    tracing::info!(%key, "timed message recalled");
                }
                inner.delivered.insert(q);
                inner.dirty = true;
            }
        }
    }
    if offset != inner.scanned {
        inner.scanned = offset;
        inner.dirty = true;
    }
}

/// Delivers every due message; returns how long to sleep.
async fn deliver_due(state: &Arc<BrokerState>) -> Duration {
    loop {
        let next = {
            let mut inner = state.timer.inner.lock();
            match inner.heap.peek().copied() {
                None => return MAX_SLEEP,
                Some(Reverse((at, _, _))) if at > now_ms() => {
                    let wait = Duration::from_millis((at - now_ms()).max(1) as u64);
                    return wait.min(MAX_SLEEP);
                }
                Some(p) => {
                    inner.heap.pop();
                    p
                }
            }
        };
        let Reverse((_, queue_offset, phys)) = next;
        if !state.timer.inner.lock().waiting.contains(&queue_offset) {
            // Recalled while it waited.
            continue;
        }
        match delivery::deliver(state, phys, "timer", &[]).await {
            Err(_) => {
                state.timer.inner.lock().heap.push(next);
                return RETRY_PAUSE;
            }
            Ok(Some(topic)) => state.events.timer_dequeue.add(&topic, "", 1),
            Ok(None) => {}
        }
        let mut inner = state.timer.inner.lock();
        inner.waiting.remove(&queue_offset);
        inner.keys.remove(&queue_offset);
        inner.delivered.insert(queue_offset);
        inner.dirty = true;
    }
}
