//! Queue locks of ordered consumption (remoting-protocol §4.6, §9.5): each
//! queue of a group is granted to one client id at a time, for a lease the
//! owner renews by locking again. A lease that runs out, or the connection
//! it was taken on closing, frees the queue.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use protocol::body::MessageQueue;

struct Lock {
    client_id: String,
    conn_id: u64,
    renewed: Instant,
}

/// Locks per group and queue.
pub struct LockTable {
    lease: Duration,
    groups: Mutex<HashMap<String, HashMap<MessageQueue, Lock>>>,
}

impl LockTable {
    /// A table whose leases last `lease`.
    pub fn new(lease: Duration) -> Self {
        LockTable {
            lease,
            groups: Mutex::new(HashMap::new()),
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
        for mq in queues {
            let free = table.get(mq).is_none_or(|l| {
                l.client_id == client_id || now.duration_since(l.renewed) > self.lease
            });
            if free {
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
        owned
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock_batch(&self, group: &str, queues: &[MessageQueue], client_id: &str) {
        let mut groups = self.groups.lock();
        if let Some(table) = groups.get_mut(group) {
            for mq in queues {
                if table.get(mq).is_some_and(|l| l.client_id == client_id) {
                    table.remove(mq);
                }
            }
            if table.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// Releases every lock taken on a connection that closed.
    pub fn connection_closed(&self, conn_id: u64) {
        let mut groups = self.groups.lock();
        groups.retain(|_, table| {
            table.retain(|_, l| l.conn_id != conn_id);
            !table.is_empty()
        });
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
    fn expired_lease_is_taken_over() {
        let t = LockTable::new(Duration::from_millis(20));
        assert_eq!(t.lock_batch("G", &[mq(0)], "a", 1), [mq(0)]);
        assert!(t.lock_batch("G", &[mq(0)], "b", 2).is_empty());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!t.group_has_locks("G"));
        assert_eq!(t.lock_batch("G", &[mq(0)], "b", 2), [mq(0)]);
    }
}
