//! Delayed messages by level (remoting-protocol §9.8). A message with
//! DELAY = n > 0 is stored in `SCHEDULE_TOPIC_XXXX` queue n − 1 with its real
//! destination in REAL_TOPIC / REAL_QID; the store's dispatcher writes the
//! delivery time (store time + level delay) into the consume-queue tag slot.
//! One task per level walks its queue from the offset kept in
//! `config/delayOffset.json` and, when an entry is due, puts a copy on the
//! real topic and queue. The delivered copy keeps REAL_TOPIC / REAL_QID (as
//! Java's does) but has no DELAY property, so it is never delayed again.
//!
//! Progress is saved after the copy is stored (within a second, and at
//! shutdown): a crash can deliver a message twice, never early and never
//! not at all.

use std::sync::Arc;
use std::time::Duration;

use protocol::clock::now_ms;
use protocol::message::{keys, topics};
use tokio_util::sync::CancellationToken;

use crate::services::delivery::{self, Retry, MAX_SLEEP, RETRY_PAUSE};
use crate::state::BrokerState;

/// Starts one delivery task per level, and the task saving their progress.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    for level in 1..=state.schedule.max_level() {
        let s = state.clone();
        let c = cancel.clone();
        state.tasks.spawn(async move {
            let round = || deliver_due(&s, level);
            delivery::wake_loop(&s, topics::SCHEDULE_TOPIC, level - 1, c, round).await;
        });
    }
    state
        .tasks
        .spawn(delivery::persist_loop(state.clone(), cancel.clone(), |s| {
            &s.schedule
        }));
}

/// Delivers every due entry of a level; returns how long to sleep.
async fn deliver_due(state: &Arc<BrokerState>, level: i32) -> Duration {
    let queue_id = level - 1;
    let store = &state.store;
    let start = state.schedule.offset(level);
    let mut offset = start.max(store.min_offset(topics::SCHEDULE_TOPIC, queue_id) as i64);
    let sleep = loop {
        if offset >= store.max_offset(topics::SCHEDULE_TOPIC, queue_id) as i64 {
            break MAX_SLEEP;
        }
        let Some(entry) = store.cq_entry(topics::SCHEDULE_TOPIC, queue_id, offset as u64) else {
            break RETRY_PAUSE;
        };
        if !entry.is_valid() || entry.is_blank() {
            offset += 1;
            continue;
        }
        let now = now_ms();
        if entry.tag_hash > now {
            let wait = Duration::from_millis((entry.tag_hash - now) as u64);
            break wait.min(MAX_SLEEP);
        }
        match delivery::deliver(state, entry.phys_offset, "delay", &[keys::DELAY]).await {
            Ok(_) => offset += 1,
            Err(Retry) => break RETRY_PAUSE,
        }
    };
    if offset != start {
        state.schedule.set_offset(level, offset);
    }
    sleep
}
