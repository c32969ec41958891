//! Messages delivered at an arbitrary time (TIMER_DELIVER_MS absolute,
//! TIMER_DELAY_SEC / TIMER_DELAY_MS relative, ali-ons' `__STARTDELIVERTIME`
//! absolute). They wait in `rmq_sys_wheel_timer` queue 0; an in-memory
//! min-heap of (deliver time, queue offset) says what is due next; a
//! checkpoint (the lowest queue offset not yet delivered) is persisted in
//! `config/timerCheckpoint.json`. See docs/timer.md for the guarantees.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::message::sysflag::perm;
use protocol::message::{keys, topics, MessageRecord};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{BrokerError, BrokerResult};
use crate::rules as divert;
use crate::services::delay::retryable;
use crate::state::{now_ms, BrokerState};

/// The checkpoint file under `config/`.
pub const CHECKPOINT_FILE: &str = "timerCheckpoint.json";
/// Longest sleep when nothing is due (bounds the effect of clock jumps).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Pause after a put the store refused.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How often the checkpoint is saved while it changes.
const PERSIST_INTERVAL: Duration = Duration::from_secs(1);
/// Delivered offsets above the checkpoint remembered across a restart
/// (beyond this, a restart may deliver some messages twice).
const MAX_REMEMBERED: usize = 100_000;

/// The persisted checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    /// Every queue offset below this is delivered.
    checkpoint: u64,
    /// Queue offsets at or above the checkpoint already delivered.
    #[serde(default)]
    delivered: Vec<u64>,
}

/// A timed message waiting: (deliver ms, queue offset, commit-log offset).
type Pending = Reverse<(i64, u64, i64)>;

#[derive(Default)]
struct Inner {
    heap: BinaryHeap<Pending>,
    /// Queue offsets loaded into the heap and not delivered yet.
    waiting: BTreeSet<u64>,
    /// Next queue offset to load.
    scanned: u64,
    /// Delivered queue offsets at or above the checkpoint.
    delivered: BTreeSet<u64>,
    dirty: bool,
}

impl Inner {
    fn checkpoint(&self) -> u64 {
        self.waiting.first().copied().unwrap_or(self.scanned)
    }
}

/// The timer's state.
#[derive(Default)]
pub struct TimerService {
    inner: Mutex<Inner>,
}

impl TimerService {
    /// Loads the checkpoint file if present.
    ///
    /// # Errors
    /// A file that cannot be read or parsed.
    pub fn load(&self, store: &store::MessageStore) -> BrokerResult<()> {
        let text = store
            .metadata_file(CHECKPOINT_FILE)
            .load()
            .map_err(|e| BrokerError::Store(e.to_string()))?;
        if let Some(text) = text {
            let cp: Checkpoint = serde_json::from_str(&text)
                .map_err(|e| BrokerError::Store(format!("{CHECKPOINT_FILE}: {e}")))?;
            let mut inner = self.inner.lock();
            inner.scanned = cp.checkpoint;
            inner.delivered = cp.delivered.into_iter().collect();
        }
        Ok(())
    }

    /// Saves the checkpoint (errors are logged).
    pub fn persist(&self, store: &store::MessageStore) {
        let cp = {
            let mut inner = self.inner.lock();
            let checkpoint = inner.checkpoint();
            inner.delivered = inner.delivered.split_off(&checkpoint);
            inner.dirty = false;
            Checkpoint {
                checkpoint,
                delivered: inner
                    .delivered
                    .iter()
                    .take(MAX_REMEMBERED)
                    .copied()
                    .collect(),
            }
        };
        match serde_json::to_string(&cp) {
            Ok(text) => {
                if let Err(e) = store.metadata_file(CHECKPOINT_FILE).save(&text) {
                    tracing::error!("cannot save {CHECKPOINT_FILE}: {e}");
                }
            }
            Err(e) => tracing::error!("cannot encode {CHECKPOINT_FILE}: {e}"),
        }
    }

    /// The lowest queue offset of `rmq_sys_wheel_timer` not yet delivered.
    pub fn checkpoint(&self) -> u64 {
        self.inner.lock().checkpoint()
    }

    /// Timed messages waiting in memory.
    pub fn waiting(&self) -> usize {
        self.inner.lock().waiting.len()
    }
}

/// The delivery time a message asks for, if any.
///
/// # Errors
/// [`BrokerError::MessageIllegal`] naming a property that is not a number.
fn deliver_ms(rec: &MessageRecord, now: i64) -> BrokerResult<Option<i64>> {
    let num = |key: &str| -> BrokerResult<Option<i64>> {
        match rec.properties.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                BrokerError::MessageIllegal(format!("property {key} `{v}` is not a number"))
            }),
        }
    };
    if let Some(at) = num(keys::TIMER_DELIVER_MS)? {
        return Ok(Some(at));
    }
    if let Some(ms) = num(keys::TIMER_DELAY_MS)? {
        return Ok(Some(now.saturating_add(ms)));
    }
    if let Some(s) = num(keys::TIMER_DELAY_SEC)? {
        return Ok(Some(now.saturating_add(s.saturating_mul(1000))));
    }
    num(keys::START_DELIVER_TIME)
}

/// Send-path rule: a message with a future delivery time goes to the timer
/// topic (one already due is stored where it was sent). Relative delays
/// are turned into an absolute TIMER_DELIVER_MS so that a later copy (a
/// retry) is not delayed again.
///
/// # Errors
/// [`BrokerError::MessageIllegal`] for a bad number or a time beyond
/// `timerMaxDelaySec`.
pub fn divert(state: &BrokerState, rec: &mut MessageRecord) -> BrokerResult<bool> {
    let now = now_ms();
    let Some(at) = deliver_ms(rec, now)? else {
        return Ok(false);
    };
    let max_ms = (state.config.timer_max_delay_sec as i64).saturating_mul(1000);
    if at.saturating_sub(now) > max_ms {
        return Err(BrokerError::MessageIllegal(format!(
            "timer message delivery time {at} is more than timerMaxDelaySec ({}) from now",
            state.config.timer_max_delay_sec
        )));
    }
    if at <= now {
        return Ok(false);
    }
    rec.properties.remove(keys::TIMER_DELAY_MS);
    rec.properties.remove(keys::TIMER_DELAY_SEC);
    rec.properties
        .insert(keys::TIMER_DELIVER_MS, at.to_string());
    rec.properties.insert(keys::TIMER_OUT_MS, at.to_string());
    divert::park(rec, topics::TIMER_TOPIC, 0);
    Ok(true)
}

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
            match divert::load(state, entry.phys_offset) {
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
    let mut rec = match divert::load(state, phys) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(offset = phys, error = %e, "timed message skipped");
            return Ok(());
        }
    };
    if let Err(e) = divert::restore_real(&mut rec) {
        tracing::warn!(offset = phys, error = %e, "timed message skipped");
        return Ok(());
    }
    rec.properties.insert(keys::WAIT, "false");
    match divert::put(state, &rec, false).await {
        Ok(_) => Ok(()),
        Err(e) if retryable(&e) => {
            tracing::warn!(offset = phys, error = %e, "timed delivery will be retried");
            Err(())
        }
        Err(e) => {
            tracing::error!(offset = phys, error = %e, "timed message dropped");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::Properties;

    fn record(props: &[(&str, &str)]) -> MessageRecord {
        let mut properties = Properties::new();
        for (k, v) in props {
            properties.insert(*k, *v);
        }
        let host = "127.0.0.1:1".parse().unwrap();
        MessageRecord {
            topic: "T".into(),
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            physical_offset: 0,
            sysflag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body_crc: 0,
            body: bytes::Bytes::new(),
            properties,
        }
    }

    #[test]
    fn delivery_time_precedence_and_units() {
        let now = 1_000_000;
        let at = |p: &[(&str, &str)]| deliver_ms(&record(p), now).unwrap();
        assert_eq!(at(&[]), None);
        assert_eq!(at(&[(keys::TIMER_DELAY_SEC, "2")]), Some(now + 2000));
        assert_eq!(at(&[(keys::TIMER_DELAY_MS, "250")]), Some(now + 250));
        assert_eq!(
            at(&[(keys::START_DELIVER_TIME, "1234567")]),
            Some(1_234_567)
        );
        assert_eq!(
            at(&[(keys::TIMER_DELIVER_MS, "5"), (keys::TIMER_DELAY_MS, "250")]),
            Some(5)
        );
        let err = deliver_ms(&record(&[(keys::TIMER_DELAY_SEC, "x")]), now).unwrap_err();
        assert!(err.to_string().contains("TIMER_DELAY_SEC"));
    }

    #[test]
    fn checkpoint_is_the_lowest_waiting_offset() {
        let mut inner = Inner {
            scanned: 10,
            ..Inner::default()
        };
        assert_eq!(inner.checkpoint(), 10);
        inner.waiting.extend([7, 9]);
        assert_eq!(inner.checkpoint(), 7);
        inner.waiting.remove(&7);
        assert_eq!(inner.checkpoint(), 9);
    }
}
