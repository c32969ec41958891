//! Messages delivered at an arbitrary time (TIMER_DELIVER_MS absolute,
//! TIMER_DELAY_SEC / TIMER_DELAY_MS relative, ali-ons' `__STARTDELIVERTIME`
//! absolute). They wait in `rmq_sys_wheel_timer` queue 0; an in-memory
//! min-heap of (deliver time, queue offset) says what is due next; a
//! checkpoint (the lowest queue offset not yet delivered) is persisted in
//! `config/timerCheckpoint.json`. See docs/timer.md for the guarantees.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

use protocol::message::sysflag::perm;
use protocol::message::{keys, topics};
use tokio_util::sync::CancellationToken;

use crate::records;
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// Longest sleep when nothing is due (bounds the effect of clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Pause after a put the store refused.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How often the checkpoint is saved while it changes.
const PERSIST_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the timer task.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    state
        .topics
        .ensure(topics::TIMER_TOPIC, 1, perm::READ_WRITE);
    state.tasks.spawn(run(state.clone(), cancel.clone()));
    state
        .tasks
        .spawn(persist_loop(state.clone(), cancel.clone()));
}

/// Saves the checkpoint every [`PERSIST_INTERVAL`] when it changed. Saving
/// is apart from delivering because a save (three fsyncs, and up to
/// [`MAX_REMEMBERED`] offsets of JSON) takes milliseconds to hundreds of
/// milliseconds on a busy disk: done after each round of deliveries, it
/// held back every message falling due meanwhile. The final save is the
/// broker's, at shutdown, once this task has stopped.
async fn persist_loop(state: Arc<BrokerState>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(PERSIST_INTERVAL) => {}
        }
        if state.timer.inner.lock().dirty {
            let s = state.clone();
            // Not cancelled midway: a save in flight finishes before the
            // broker's own final save can start.
            let _ = tokio::task::spawn_blocking(move || s.timer.persist(&s.store)).await;
        }
    }
}

async fn run(state: Arc<BrokerState>, cancel: CancellationToken) {
    let waiter = state.waiters.waiter(topics::TIMER_TOPIC, 0);
    while !cancel.is_cancelled() {
        let notified = waiter.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        scan(&state);
        let sleep = deliver_due(&state).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = &mut notified => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
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
                    loaded.push(Reverse((at, offset, entry.phys_offset)));
                }
                Err(e) => tracing::warn!(offset, error = %e, "timer entry skipped"),
            }
        }
        offset += 1;
    }
    let mut inner = state.timer.inner.lock();
    for p in loaded {
        let q = p.0 .1;
        if inner.delivered.contains(&q) {
            continue;
        }
        inner.waiting.insert(q);
        inner.heap.push(p);
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
        if deliver_one(state, phys).await.is_err() {
            state.timer.inner.lock().heap.push(next);
            return RETRY_PAUSE;
        }
        let mut inner = state.timer.inner.lock();
        inner.waiting.remove(&queue_offset);
        inner.delivered.insert(queue_offset);
        inner.dirty = true;
    }
}

/// Puts the real message; `Err` when worth retrying.
async fn deliver_one(state: &Arc<BrokerState>, phys: i64) -> Result<(), ()> {
    let mut rec = match records::load(state, phys) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(offset = phys, error = %e, "timed message skipped");
            return Ok(());
        }
    };
    if let Err(e) = records::restore_real(&mut rec) {
        tracing::warn!(offset = phys, error = %e, "timed message skipped");
        return Ok(());
    }
    rec.properties.insert(keys::WAIT, "false");
    match records::put(state, &rec, false).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => {
            tracing::warn!(offset = phys, error = %e, "timed delivery will be retried");
            Err(())
        }
        Err(e) => {
            tracing::error!(offset = phys, error = %e, "timed message dropped");
            Ok(())
        }
    }
}
