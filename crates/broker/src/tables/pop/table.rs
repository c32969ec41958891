//! POP progress held in memory: per group, topic and queue, the next
//! offset not yet handed out and the messages in flight. Every change
//! arrives as a journal [`Record`] (journal.rs writes it first), so replay
//! after a crash rebuilds exactly this state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One queue of one topic as seen by one group. `topic` is the topic the
/// message is stored in (the group's retry topic for redeliveries).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueueKey {
    #[serde(rename = "g")]
    pub group: String,
    #[serde(rename = "t")]
    pub topic: String,
    #[serde(rename = "q")]
    pub queue_id: i32,
}

/// A message handed out and not yet settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// Queue offset.
    #[serde(rename = "o")]
    pub offset: u64,
    /// First queue offset of the batch it was popped in (handle field).
    #[serde(rename = "c")]
    pub ck_offset: u64,
    /// When this delivery began (handles older than this are stale), ms.
    #[serde(rename = "f")]
    pub first_pop: i64,
    /// When the latest handle of this delivery was issued, ms.
    #[serde(rename = "p")]
    pub pop_time: i64,
    /// Invisible time of the latest handle, ms.
    #[serde(rename = "i")]
    pub invisible_ms: i64,
    /// Delivery attempt, 1 for the first delivery.
    #[serde(rename = "a")]
    pub attempt: u32,
    /// Orderly delivery: redelivered in place instead of revived.
    #[serde(rename = "r", default)]
    pub order: bool,
}

impl InFlight {
    /// When the message becomes visible again, ms.
    pub fn deadline(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_ms)
    }
}

/// One journal entry. Each is an assignment (not an increment), so
/// replaying an entry whose effect a snapshot already holds changes
/// nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Record {
    /// Messages handed out; the cursor moves to `next`.
    #[serde(rename = "pop")]
    Pop {
        #[serde(flatten)]
        key: QueueKey,
        next: u64,
        items: Vec<InFlight>,
    },
    /// A message settled: acked, or moved to the retry topic or the DLQ.
    #[serde(rename = "done")]
    Settle {
        #[serde(flatten)]
        key: QueueKey,
        offset: u64,
    },
    /// A new handle for a message still in flight (invisible time changed).
    #[serde(rename = "renew")]
    Renew {
        #[serde(flatten)]
        key: QueueKey,
        item: InFlight,
    },
    /// An admin reset: the cursor moves to `next`, back or forth. Messages
    /// in flight stay in flight (acked or revived as usual).
    #[serde(rename = "reset")]
    Reset {
        #[serde(flatten)]
        key: QueueKey,
        next: u64,
    },
}

/// The state of one queue for one group.
#[derive(Debug, Default, Clone)]
pub struct QueueState {
    /// Next offset never handed out.
    pub cursor: u64,
    /// Handed out, not settled, by offset.
    pub inflight: BTreeMap<u64, InFlight>,
}

impl QueueState {
    /// Applies a journal entry about this queue.
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Pop { next, items, .. } => {
                self.cursor = self.cursor.max(*next);
                for item in items {
                    self.inflight.insert(item.offset, item.clone());
                }
            }
            Record::Settle { offset, .. } => {
                self.inflight.remove(offset);
            }
            Record::Renew { item, .. } => {
                if let Some(e) = self.inflight.get_mut(&item.offset) {
                    *e = item.clone();
                }
            }
            Record::Reset { next, .. } => self.cursor = *next,
        }
    }

    /// Orderly: whether a delivery is still invisible, or an expired one
    /// waits to go to the DLQ (nothing later may be handed out meanwhile).
    pub fn order_blocked(&self, now: i64, max_attempts: u32) -> bool {
        self.inflight
            .values()
            .any(|e| e.deadline() > now || e.attempt >= max_attempts)
    }

    /// Expired entries, lowest offset first.
    pub fn expired(&self, now: i64) -> impl Iterator<Item = &InFlight> {
        self.inflight.values().filter(move |e| e.deadline() <= now)
    }

    /// The lowest offset not yet settled (what the group has consumed up to).
    pub fn low_water(&self) -> u64 {
        self.inflight
            .keys()
            .next()
            .copied()
            .map_or(self.cursor, |o| o.min(self.cursor))
    }
}

impl Record {
    /// The queue the entry is about.
    pub fn key(&self) -> &QueueKey {
        match self {
            Record::Pop { key, .. }
            | Record::Settle { key, .. }
            | Record::Renew { key, .. }
            | Record::Reset { key, .. } => key,
        }
    }
}

/// Every queue's state, each behind its own lock so that pops of
/// different queues do not wait for each other.
#[derive(Default)]
pub struct Tables {
    queues: Mutex<HashMap<QueueKey, Arc<Mutex<QueueState>>>>,
}

impl Tables {
    /// The state of `key`, created with `init()` as its cursor when new.
    pub fn queue(&self, key: &QueueKey, init: impl FnOnce() -> u64) -> Arc<Mutex<QueueState>> {
        let mut queues = self.queues.lock();
        if let Some(q) = queues.get(key) {
            return q.clone();
        }
        let q = Arc::new(Mutex::new(QueueState {
            cursor: init(),
            inflight: BTreeMap::new(),
        }));
        queues.insert(key.clone(), q.clone());
        q
    }

    /// The state of `key` if it exists.
    pub fn get(&self, key: &QueueKey) -> Option<Arc<Mutex<QueueState>>> {
        self.queues.lock().get(key).cloned()
    }

    /// Every queue (a snapshot of the map, not of the states).
    pub fn all(&self) -> Vec<(QueueKey, Arc<Mutex<QueueState>>)> {
        self.queues
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Replays one journal entry.
    pub fn apply(&self, record: &Record) {
        let q = self.queue(record.key(), || 0);
        q.lock().apply(record);
    }

    /// Messages in flight across all queues.
    pub fn inflight_count(&self) -> usize {
        self.all()
            .iter()
            .map(|(_, q)| q.lock().inflight.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> QueueKey {
        QueueKey {
            group: "G".into(),
            topic: "T".into(),
            queue_id: 1,
        }
    }

    fn item(offset: u64, pop_time: i64, attempt: u32) -> InFlight {
        InFlight {
            offset,
            ck_offset: offset,
            first_pop: pop_time,
            pop_time,
            invisible_ms: 1000,
            attempt,
            order: false,
        }
    }

    #[test]
    fn replay_of_already_applied_entries_changes_nothing() {
        let records = [
            Record::Pop {
                key: key(),
                next: 3,
                items: vec![item(1, 10, 1), item(2, 10, 1)],
            },
            Record::Settle {
                key: key(),
                offset: 1,
            },
            Record::Renew {
                key: key(),
                item: item(2, 50, 1),
            },
        ];
        let mut once = QueueState::default();
        records.iter().for_each(|r| once.apply(r));
        let mut twice = once.clone();
        records.iter().for_each(|r| twice.apply(r));
        assert_eq!(twice.cursor, 3);
        assert_eq!(twice.inflight, once.inflight);
        assert_eq!(twice.inflight[&2].pop_time, 50);
        assert_eq!(twice.low_water(), 2);
    }

    #[test]
    fn a_reset_moves_the_cursor_back_and_later_pops_move_it_on() {
        let mut q = QueueState::default();
        let records = [
            Record::Pop {
                key: key(),
                next: 100,
                items: vec![],
            },
            Record::Reset {
                key: key(),
                next: 10,
            },
            Record::Pop {
                key: key(),
                next: 20,
                items: vec![],
            },
        ];
        records.iter().for_each(|r| q.apply(r));
        assert_eq!(q.cursor, 20);
        // Replayed over a snapshot that already holds all of it: the same.
        records.iter().for_each(|r| q.apply(r));
        assert_eq!(q.cursor, 20);
    }

    #[test]
    fn renew_of_a_settled_message_does_not_revive_it() {
        let mut q = QueueState::default();
        q.apply(&Record::Renew {
            key: key(),
            item: item(5, 1, 1),
        });
        assert!(q.inflight.is_empty());
    }

    #[test]
    fn order_queue_blocks_while_invisible_or_waiting_for_the_dlq() {
        let mut q = QueueState::default();
        assert!(!q.order_blocked(0, 3));
        q.apply(&Record::Pop {
            key: key(),
            next: 1,
            items: vec![item(0, 0, 1)],
        });
        assert!(q.order_blocked(999, 3));
        assert!(!q.order_blocked(1000, 3));
        assert_eq!(q.expired(1000).count(), 1);
        q.apply(&Record::Renew {
            key: key(),
            item: item(0, 0, 3),
        });
        assert!(
            q.order_blocked(5000, 3),
            "past max attempts: waits for the DLQ"
        );
    }

    #[test]
    fn records_round_trip_as_json() {
        let r = Record::Pop {
            key: key(),
            next: 7,
            items: vec![item(6, 10, 2)],
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }
}
