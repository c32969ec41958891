//! The messages of one queue pulled but not yet consumed. Concurrent
//! consumption finishes out of order, so the offset that may be committed
//! is the smallest offset still in flight (or one past the largest seen
//! when none is), and pulling pauses while too many are cached.

use std::collections::BTreeSet;

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    in_flight: BTreeSet<i64>,
    max_seen: Option<i64>,
}

/// In-flight offsets of one queue.
#[derive(Default)]
pub(crate) struct ProcessQueue {
    state: Mutex<State>,
    /// Woken whenever messages leave, for a pull waiting on flow control.
    pub(crate) drained: Notify,
    /// Set when the queue was released: late consume results must not
    /// move an offset this client no longer owns.
    dropped: AtomicBool,
}

impl ProcessQueue {
    /// Adds pulled messages by queue offset.
    pub(crate) fn put(&self, offsets: impl IntoIterator<Item = i64>) {
        let mut s = self.state.lock();
        for o in offsets {
            s.in_flight.insert(o);
            s.max_seen = Some(s.max_seen.map_or(o, |m| m.max(o)));
        }
    }

    /// Removes consumed messages and returns the offset now safe to commit
    /// (None if nothing was ever added).
    pub(crate) fn remove(&self, offsets: impl IntoIterator<Item = i64>) -> Option<i64> {
        let next = {
            let mut s = self.state.lock();
            for o in offsets {
                s.in_flight.remove(&o);
            }
            match s.in_flight.first() {
                Some(first) => Some(*first),
                None => s.max_seen.map(|m| m + 1),
            }
        };
        self.drained.notify_waiters();
        next
    }

    /// Marks the queue released.
    pub(crate) fn set_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
        self.drained.notify_waiters();
    }

    /// Whether the queue was released.
    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// (in flight, oldest in flight, newest in flight) for running info.
    pub(crate) fn snapshot(&self) -> (usize, i64, i64) {
        let s = self.state.lock();
        let min = s.in_flight.first().copied().unwrap_or(0);
        let max = s.in_flight.last().copied().unwrap_or(0);
        (s.in_flight.len(), min, max)
    }

    /// How many messages are in flight.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_offset_is_the_oldest_in_flight() {
        let pq = ProcessQueue::default();
        assert_eq!(pq.remove([]), None);
        pq.put([10, 11, 12]);
        assert_eq!(pq.len(), 3);
        // 11 done first: 10 still in flight.
        assert_eq!(pq.remove([11]), Some(10));
        assert_eq!(pq.remove([10]), Some(12));
        assert_eq!(pq.remove([12]), Some(13));
        assert_eq!(pq.len(), 0);
        pq.put([13]);
        assert_eq!(pq.remove([13]), Some(14));
    }
}
