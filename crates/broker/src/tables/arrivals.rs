//! Long polling: pulls that found nothing park on their queue until a
//! message for it is dispatched or their hold time ends.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Wake-up points per topic and queue.
#[derive(Default)]
pub struct PullWaiters {
    queues: Mutex<HashMap<String, HashMap<i32, Arc<Notify>>>>,
}

impl PullWaiters {
    /// The wake-up point of one queue (created on first use).
    pub fn waiter(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
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

    /// Wakes every pull parked on a queue (called by the store's dispatcher).
    pub fn wake(&self, topic: &str, queue_id: i32) {
        let queues = self.queues.lock();
        if let Some(n) = queues.get(topic).and_then(|q| q.get(&queue_id)) {
            n.notify_waiters();
        }
    }

    /// Wakes every parked pull (shutdown).
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
        let w = Arc::new(PullWaiters::default());
        let n = w.waiter("T", 1);
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
