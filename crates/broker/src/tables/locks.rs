//! Queue locks of ordered consumption (remoting-protocol §4.6, §9.5): each
//! queue of a group is granted to one client id at a time, for a lease the
//! owner renews by locking again. A lease that runs out, or the connection
//! it was taken on closing, frees the queue.
//!
//! On a master the owners are saved to `config/queueLocks.json` whenever
//! they change (renewals change nothing), and a restarted broker gives each
//! saved owner a fresh lease. Without that, the first member to reach a
//! restarted broker could lock queues another member still consumes (its
//! client-side lease outlives the broker's restart) and both would consume
//! them at once, out of order. A graceful shutdown keeps the saved owners
//! too: the connections it closes do not release them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use protocol::body::MessageQueue;
use serde::{Deserialize, Serialize};

/// The owners file under `config/`.
pub const LOCKS_FILE: &str = "queueLocks.json";
/// The connection of a lock restored from disk: none until its owner renews.
const NO_CONNECTION: u64 = u64::MAX;

struct Lock {
    client_id: String,
    conn_id: u64,
    renewed: Instant,
}

/// One saved owner.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SavedLock {
    group: String,
    mq: MessageQueue,
    client_id: String,
}

/// Locks per group and queue.
pub struct LockTable {
    lease: Duration,
    groups: Mutex<HashMap<String, HashMap<MessageQueue, Lock>>>,
    /// Where owner changes are saved (set on a master once the store is open).
    save_to: OnceLock<Arc<store::MessageStore>>,
    /// Set at shutdown: what changes from then on is not saved.
    stopped: AtomicBool,
    /// One save at a time, each with the table as it is when it runs.
    save_lock: Mutex<()>,
}

impl LockTable {
    /// A table whose leases last `lease`.
    pub fn new(lease: Duration) -> Self {
        LockTable {
            lease,
            groups: Mutex::new(HashMap::new()),
            save_to: OnceLock::new(),
            stopped: AtomicBool::new(false),
            save_lock: Mutex::new(()),
        }
    }

    /// Restores the owners saved by a previous run, each with a fresh
    /// lease. A file that does not parse is logged and ignored (locks are
    /// soft state: the worst case is the race they are saved to avoid).
    pub fn load(&self, store: &store::MessageStore) {
        let text = match store.metadata_file(LOCKS_FILE).load() {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot read {LOCKS_FILE}: {e}");
                return;
            }
        };
        match serde_json::from_str::<Vec<SavedLock>>(&text) {
            Ok(saved) => self.restore(saved),
            Err(e) => tracing::warn!("ignoring {LOCKS_FILE}: {e}"),
        }
    }

    fn restore(&self, saved: Vec<SavedLock>) {
        let now = Instant::now();
        let mut groups = self.groups.lock();
        for s in saved {
            let lock = Lock {
                client_id: s.client_id,
                conn_id: NO_CONNECTION,
                renewed: now,
            };
            groups.entry(s.group).or_default().insert(s.mq, lock);
        }
    }

    /// From now on owner changes are saved to `store` before they are answered.
    pub fn save_changes_to(&self, store: Arc<store::MessageStore>) {
        let _ = self.save_to.set(store);
    }

    /// Stops saving (shutdown: closing connections must not release the
    /// saved owners).
    pub fn stop_saving(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// The unexpired owners, in a stable order.
    fn owners(&self) -> Vec<SavedLock> {
        let now = Instant::now();
        let groups = self.groups.lock();
        let mut out: Vec<SavedLock> = groups
            .iter()
            .flat_map(|(group, table)| {
                table
                    .iter()
                    .filter(|(_, l)| now.duration_since(l.renewed) <= self.lease)
                    .map(|(mq, l)| SavedLock {
                        group: group.clone(),
                        mq: mq.clone(),
                        client_id: l.client_id.clone(),
                    })
            })
            .collect();
        out.sort_by(|a, b| (&a.group, &a.mq).cmp(&(&b.group, &b.mq)));
        out
    }

    /// Saves the owners when saving is on (errors are logged).
    fn save(&self) {
        let Some(store) = self.save_to.get() else {
            return;
        };
        let _one_at_a_time = self.save_lock.lock();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        match serde_json::to_string(&self.owners()) {
            Ok(text) => {
                if let Err(e) = store.metadata_file(LOCKS_FILE).save(&text) {
                    tracing::error!("cannot save {LOCKS_FILE}: {e}");
                }
            }
            Err(e) => tracing::error!("cannot encode {LOCKS_FILE}: {e}"),
        }
    }

    /// Locks (or renews) each queue for `client_id`; returns the queues the
    /// client owns afterwards.
    pub fn lock_batch(
        &self,
        group: &str,
        queues: &[MessageQueue],
        client_id: &str,
        conn_id: u64,
    ) -> Vec<MessageQueue> {
        let now = Instant::now();
        let mut groups = self.groups.lock();
        let table = groups.entry(group.to_owned()).or_default();
        let mut owned = Vec::with_capacity(queues.len());
        let mut new_owner = false;
        for mq in queues {
            let current = table.get(mq);
            let renewal = current.is_some_and(|l| {
                l.client_id == client_id && now.duration_since(l.renewed) <= self.lease
            });
            let free = current.is_none_or(|l| {
                l.client_id == client_id || now.duration_since(l.renewed) > self.lease
            });
            if free {
                new_owner |= !renewal;
                table.insert(
                    mq.clone(),
                    Lock {
                        client_id: client_id.to_owned(),
                        conn_id,
                        renewed: now,
                    },
                );
                owned.push(mq.clone());
            }
        }
        drop(groups);
        if new_owner {
            self.save();
        }
        owned
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock_batch(&self, group: &str, queues: &[MessageQueue], client_id: &str) {
        let mut groups = self.groups.lock();
        let mut released = false;
        if let Some(table) = groups.get_mut(group) {
            for mq in queues {
                if table.get(mq).is_some_and(|l| l.client_id == client_id) {
                    table.remove(mq);
                    released = true;
                }
            }
            if table.is_empty() {
                groups.remove(group);
            }
        }
        drop(groups);
        if released {
            self.save();
        }
    }

    /// Releases every lock taken on a connection that closed.
    pub fn connection_closed(&self, conn_id: u64) {
        let mut groups = self.groups.lock();
        let mut released = false;
        groups.retain(|_, table| {
            let before = table.len();
            table.retain(|_, l| l.conn_id != conn_id);
            released |= table.len() != before;
            !table.is_empty()
        });
        drop(groups);
        if released {
            self.save();
        }
    }

    /// Whether a group holds any unexpired lock.
    pub fn group_has_locks(&self, group: &str) -> bool {
        let now = Instant::now();
        self.groups.lock().get(group).is_some_and(|t| {
            t.values()
                .any(|l| now.duration_since(l.renewed) <= self.lease)
        })
    }

    /// The current owner of a queue (unexpired), if any.
    pub fn owner(&self, group: &str, mq: &MessageQueue) -> Option<String> {
        let now = Instant::now();
        self.groups
            .lock()
            .get(group)?
            .get(mq)
            .filter(|l| now.duration_since(l.renewed) <= self.lease)
            .map(|l| l.client_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue::new("T", "b", q)
    }

    #[test]
    fn exclusive_renewable_and_released() {
        let t = LockTable::new(Duration::from_secs(60));
        assert_eq!(t.lock_batch("G", &[mq(0), mq(1)], "a", 1), [mq(0), mq(1)]);
        assert_eq!(t.lock_batch("G", &[mq(1), mq(2)], "b", 2), [mq(2)]);
        assert_eq!(t.lock_batch("G", &[mq(1)], "a", 1), [mq(1)]);
        // Another group is independent.
        assert_eq!(t.lock_batch("H", &[mq(1)], "b", 2), [mq(1)]);
        t.unlock_batch("G", &[mq(1), mq(2)], "a");
        assert_eq!(t.owner("G", &mq(2)).as_deref(), Some("b"));
        assert_eq!(t.lock_batch("G", &[mq(1)], "b", 2), [mq(1)]);
        t.connection_closed(2);
        assert_eq!(t.owner("G", &mq(1)), None);
        assert_eq!(t.owner("G", &mq(0)).as_deref(), Some("a"));
    }

    #[test]
    fn saved_owners_keep_their_queues_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            store::MessageStore::open(store::StoreConfig {
                mapped_file_size_commit_log: 8 << 20,
                mapped_file_size_consume_queue: 20 * 1000,
                ..store::StoreConfig::with_root(dir.path())
            })
            .unwrap(),
        );
        let t = LockTable::new(Duration::from_secs(60));
        t.save_changes_to(store.clone());
        assert_eq!(t.lock_batch("G", &[mq(0), mq(1)], "a", 1), [mq(0), mq(1)]);
        assert_eq!(t.lock_batch("G", &[mq(2)], "b", 2), [mq(2)]);
        t.unlock_batch("G", &[mq(1)], "a");
        // What a crash leaves: the owners as of the last change.
        let restarted = LockTable::new(Duration::from_secs(60));
        restarted.load(&store);
        assert_eq!(restarted.owner("G", &mq(0)).as_deref(), Some("a"));
        assert_eq!(restarted.owner("G", &mq(1)), None);
        // Another member cannot take a saved owner's queue; the owner renews.
        assert!(restarted.lock_batch("G", &[mq(0)], "b", 7).is_empty());
        assert_eq!(
            restarted.lock_batch("G", &[mq(0), mq(1)], "a", 8),
            [mq(0), mq(1)]
        );
        // A graceful shutdown closes connections without releasing owners.
        t.stop_saving();
        t.connection_closed(2);
        let again = LockTable::new(Duration::from_secs(60));
        again.load(&store);
        assert_eq!(again.owner("G", &mq(2)).as_deref(), Some("b"));
        store.shutdown().unwrap();
    }

    #[test]
    fn expired_lease_is_taken_over() {
        let t = LockTable::new(Duration::from_millis(20));
        assert_eq!(t.lock_batch("G", &[mq(0)], "a", 1), [mq(0)]);
        assert!(t.lock_batch("G", &[mq(0)], "b", 2).is_empty());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!t.group_has_locks("G"));
        assert_eq!(t.lock_batch("G", &[mq(0)], "b", 2), [mq(0)]);
    }
}
