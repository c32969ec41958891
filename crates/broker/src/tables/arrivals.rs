//! Arrival signals, one per topic and queue, fired by the store's
//! dispatcher when a message for that queue is dispatched. Long polling
//! parks a pull that found nothing on its queue's signal until a message
//! arrives or its hold time ends; the delay and timer services wait on
//! their system queues' signals the same way.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Arrival signals per topic and queue.
#[derive(Default)]
pub struct QueueArrivals {
    queues: Mutex<HashMap<String, HashMap<i32, Arc<Notify>>>>,
}

impl QueueArrivals {
    /// The arrival signal of one queue (created on first use).
    pub fn signal(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
        let mut queues = self.queues.lock();
        if let Some(n) = queues.get(topic).and_then(|q| q.get(&queue_id)) {
            return n.clone();
        }
        queues
            .entry(topic.to_owned())
            .or_default()
            .entry(queue_id)
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Wakes everything waiting on a queue (the store's dispatcher calls it
    /// for every message; a reset of offsets calls it too).
    pub fn wake(&self, topic: &str, queue_id: i32) {
        let queues = self.queues.lock();
        if let Some(n) = queues.get(topic).and_then(|q| q.get(&queue_id)) {
            n.notify_waiters();
        }
    }

    /// Wakes everything waiting on any queue (shutdown).
    pub fn wake_all(&self) {
        for q in self.queues.lock().values() {
            for n in q.values() {
                n.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wake_reaches_a_parked_waiter() {
        let w = Arc::new(QueueArrivals::default());
        let n = w.signal("T", 1);
        let notified = n.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        w.wake("T", 0); // another queue: no effect
        w.wake("T", 1);
        tokio::time::timeout(Duration::from_secs(1), notified)
            .await
            .unwrap();
    }
}
