//! Timer state (docs/timer.md): the timed messages waiting in
//! `rmq_sys_wheel_timer` as an in-memory min-heap, and the checkpoint (the
//! lowest queue offset not yet delivered) persisted in
//! `config/timerCheckpoint.json`. The delivery task lives in
//! `services/timer.rs`; the send-path rule in `rules/timer.rs`.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use store::MessageStore;

use crate::error::BrokerResult;
use crate::tables::metadata::{self, SavedProgress};

/// The checkpoint file under `config/`.
pub const CHECKPOINT_FILE: &str = "timerCheckpoint.json";
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
    pub(crate) delivered: Vec<u64>,
}

/// A timed message waiting: (deliver ms, queue offset, commit-log offset).
pub(crate) type Pending = Reverse<(i64, u64, i64)>;

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) heap: BinaryHeap<Pending>,
    /// Queue offsets loaded into the heap and not delivered yet.
    pub(crate) waiting: BTreeSet<u64>,
    /// Next queue offset to load.
    pub(crate) scanned: u64,
    /// Delivered queue offsets at or above the checkpoint (recalled ones
    /// and recall markers included: neither is ever delivered).
    pub(crate) delivered: BTreeSet<u64>,
    /// The recall key (`topic+uniqKey`) of each waiting message.
    pub(crate) keys: HashMap<u64, String>,
    pub(crate) dirty: bool,
}

impl Inner {
    pub(crate) fn checkpoint(&self) -> u64 {
        self.waiting.first().copied().unwrap_or(self.scanned)
    }

    /// Cancels the waiting message whose recall key is `key`; false when
    /// none waits under it.
    pub(crate) fn cancel(&mut self, key: &str) -> bool {
        let Some(offset) = self.keys.iter().find_map(|(o, k)| (k == key).then_some(*o)) else {
            return false;
        };
        self.keys.remove(&offset);
        self.waiting.remove(&offset);
        self.delivered.insert(offset);
        self.dirty = true;
        true
    }
}

/// The timer's state.
#[derive(Default)]
pub struct TimerService {
    pub(crate) inner: Mutex<Inner>,
}

impl TimerService {
    /// Loads the checkpoint file if present.
    ///
    /// # Errors
    /// A file that cannot be read or parsed.
    pub fn load(&self, store: &MessageStore) -> BrokerResult<()> {
        let parse =
            |text: &str| serde_json::from_str::<Checkpoint>(text).map_err(|e| e.to_string());
        if let Some(cp) = metadata::load(store, CHECKPOINT_FILE, parse)? {
            let mut inner = self.inner.lock();
            inner.scanned = cp.checkpoint;
            inner.delivered = cp.delivered.into_iter().collect();
        }
        Ok(())
    }

    /// Saves the checkpoint (errors are logged).
    pub fn persist(&self, store: &MessageStore) {
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
        let text = serde_json::to_string(&cp).map_err(|e| e.to_string());
        metadata::save(store, CHECKPOINT_FILE, text);
    }

    /// The lowest queue offset of `rmq_sys_wheel_timer` not yet delivered.
    pub fn checkpoint(&self) -> u64 {
        self.inner.lock().checkpoint()
    }

    /// Whether a message with recall key `key` waits; None while the
    /// timer has not read its queue up to `max_offset` (it may be there).
    pub fn waits(&self, key: &str, max_offset: u64) -> Option<bool> {
        let inner = self.inner.lock();
        if inner.keys.values().any(|k| k == key) {
            return Some(true);
        }
        (inner.scanned >= max_offset).then_some(false)
    }

    /// Timed messages waiting in memory.
    pub fn waiting(&self) -> usize {
        self.inner.lock().waiting.len()
    }

    /// Next queue offset of `rmq_sys_wheel_timer` to load (offsets below
    /// it are in memory or delivered).
    pub fn scanned(&self) -> u64 {
        self.inner.lock().scanned
    }

    /// Delivery time (ms) of the earliest waiting message.
    pub fn next_due(&self) -> Option<i64> {
        self.inner.lock().heap.peek().map(|p| p.0 .0)
    }

    /// Waiting messages due at or before each of `bounds_ms` from `now`
    /// (`rocketmq_timer_message_snapshot`); one pass over the waiting set.
    pub fn due_within(&self, now: i64, bounds_ms: &[i64]) -> Vec<u64> {
        let inner = self.inner.lock();
        let mut counts = vec![0u64; bounds_ms.len()];
        for p in inner.heap.iter() {
            let left = p.0 .0 - now;
            for (c, b) in counts.iter_mut().zip(bounds_ms) {
                if left <= *b {
                    *c += 1;
                }
            }
        }
        counts
    }
}

impl SavedProgress for TimerService {
    fn changed(&self) -> bool {
        self.inner.lock().dirty
    }

    fn save(&self, store: &MessageStore) {
        self.persist(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn cancel_moves_a_waiting_message_to_delivered() {
        let mut inner = Inner::default();
        inner.waiting.extend([3, 4]);
        inner.keys.insert(3, "T+A".into());
        inner.keys.insert(4, "T+B".into());
        assert!(inner.cancel("T+B"));
        assert!(!inner.cancel("T+B"));
        assert!(!inner.cancel("T+C"));
        assert!(inner.delivered.contains(&4));
        assert_eq!(inner.waiting.iter().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(inner.keys.len(), 1);
    }
}
