//! Long polling for pops: parked pops wait on their topic (and their retry
//! topic), woken when a message for it is dispatched or an orderly queue
//! unlocks. The number parked per topic and group is bounded
//! (POLLING_FULL past it) and reported by POLLING_INFO.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Pops parked on one topic by one group at most (Java `popPollingSize`).
pub const MAX_PARKED: usize = 1024;

/// Wake-up points per topic and counts of parked pops.
#[derive(Default)]
pub struct PopWaiters {
    topics: Mutex<HashMap<String, Arc<Notify>>>,
    parked: Mutex<HashMap<(String, String), usize>>,
    shut_down: AtomicBool,
}

/// Holds a parking place; dropping it frees the place.
pub struct Parked<'a> {
    waiters: &'a PopWaiters,
    key: (String, String),
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        let mut parked = self.waiters.parked.lock();
        if let Some(n) = parked.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                parked.remove(&self.key);
            }
        }
    }
}

impl PopWaiters {
    /// The wake-up point of a topic (created on first use).
    pub fn waiter(&self, topic: &str) -> Arc<Notify> {
        self.topics
            .lock()
            .entry(topic.to_owned())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Wakes every pop parked on `topic`.
    pub fn wake(&self, topic: &str) {
        if let Some(n) = self.topics.lock().get(topic) {
            n.notify_waiters();
        }
    }

    /// Wakes everything and lets parked pops return (shutdown).
    pub fn shut_down(&self) {
        self.shut_down.store(true, Ordering::Release);
        for n in self.topics.lock().values() {
            n.notify_waiters();
        }
    }

    /// Whether the broker is stopping.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Takes a parking place, or `None` when [`MAX_PARKED`] are taken.
    pub fn park(&self, topic: &str, group: &str) -> Option<Parked<'_>> {
        let key = (topic.to_owned(), group.to_owned());
        let mut parked = self.parked.lock();
        let n = parked.entry(key.clone()).or_insert(0);
        if *n >= MAX_PARKED {
            return None;
        }
        *n += 1;
        Some(Parked { waiters: self, key })
    }

    /// Pops parked now by `group` on `topic`.
    pub fn parked(&self, topic: &str, group: &str) -> usize {
        self.parked
            .lock()
            .get(&(topic.to_owned(), group.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parking_places_are_counted_and_freed() {
        let w = PopWaiters::default();
        let a = w.park("T", "G").unwrap();
        let _b = w.park("T", "G").unwrap();
        assert_eq!(w.parked("T", "G"), 2);
        assert_eq!(w.parked("T", "H"), 0);
        drop(a);
        assert_eq!(w.parked("T", "G"), 1);
    }

    #[test]
    fn parking_is_bounded() {
        let w = PopWaiters::default();
        let held: Vec<_> = (0..MAX_PARKED).map(|_| w.park("T", "G").unwrap()).collect();
        assert!(w.park("T", "G").is_none());
        assert!(w.park("T", "H").is_some());
        drop(held);
        assert!(w.park("T", "G").is_some());
    }
}
