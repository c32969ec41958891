//! Delayed messages by level (remoting-protocol §9.8). A message with
//! DELAY = n > 0 is stored in `SCHEDULE_TOPIC_XXXX` queue n − 1 with its real
//! destination in REAL_TOPIC / REAL_QID; the store's dispatcher writes the
//! delivery time (store time + level delay) into the consume-queue tag slot.
//! One task per level walks its queue from the offset kept in
//! `config/delayOffset.json` and, when an entry is due, puts a copy on the
//! real topic and queue. The delivered copy keeps REAL_TOPIC / REAL_QID (as
//! Java's does) but has no DELAY property, so it is never delayed again.
//!
//! Progress is saved after the copy is stored (and at shutdown): a crash
//! can deliver a message twice, never early and never not at all.

use std::sync::Arc;
use std::time::Duration;

use protocol::message::{keys, topics};
use tokio_util::sync::CancellationToken;

use crate::records;
use crate::state::BrokerState;
use protocol::clock::now_ms;

/// Longest sleep of an idle level task (bounds the effect of clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Pause after a put the store refused (disk full, shutting down).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Starts one delivery task per level.
pub fn spawn(state: &Arc<BrokerState>, cancel: &CancellationToken) {
    for level in 1..=state.schedule.max_level() {
        state
            .tasks
            .spawn(run_level(state.clone(), level, cancel.clone()));
    }
}

async fn run_level(state: Arc<BrokerState>, level: i32, cancel: CancellationToken) {
    let waiter = state.waiters.waiter(topics::SCHEDULE_TOPIC, level - 1);
    while !cancel.is_cancelled() {
        let notified = waiter.notified();
        tokio::pin!(notified);
        // Armed before looking, so an arrival in between is not missed.
        notified.as_mut().enable();
        let sleep = deliver_due(&state, level).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = &mut notified => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
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
        match deliver_one(state, entry.phys_offset).await {
            Ok(()) => offset += 1,
            Err(Retry) => break RETRY_PAUSE,
        }
    };
    if offset != start {
        state.schedule.set_offset(level, offset);
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || s.schedule.persist(&s.store)).await;
    }
    sleep
}

/// The put failed for a reason that may pass (disk full, shutting down).
struct Retry;

/// Puts the real message for one schedule entry. Entries whose record is
/// gone or unusable are skipped with a log line (Ok), so one bad record
/// never blocks its level.
async fn deliver_one(state: &Arc<BrokerState>, phys_offset: i64) -> Result<(), Retry> {
    let mut rec = match records::load(state, phys_offset) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(offset = phys_offset, error = %e, "scheduled message skipped");
            return Ok(());
        }
    };
    if let Err(e) = records::restore_real(&mut rec) {
        tracing::warn!(offset = phys_offset, error = %e, "scheduled message skipped");
        return Ok(());
    }
    rec.properties.remove(keys::DELAY);
    rec.properties.insert(keys::WAIT, "false");
    match records::put(state, &rec, false).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => {
            tracing::warn!(offset = phys_offset, error = %e, "scheduled delivery will be retried");
            Err(Retry)
        }
        Err(e) => {
            tracing::error!(offset = phys_offset, error = %e, "scheduled message dropped");
            Ok(())
        }
    }
}
