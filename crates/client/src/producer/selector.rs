//! Choosing the queue of the next send: round-robin over the writable
//! queues, avoiding the broker that just failed and brokers recently slow
//! or unreachable (a simple form of Java's latency fault tolerance).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use protocol::body::MessageQueue;
use protocol::message::java_string_hash;

/// How long a broker is avoided after a failed send.
pub(crate) const FAILURE_PENALTY: Duration = Duration::from_secs(30);

/// Latency steps (ms) and how long a broker that answered that slowly is avoided.
const LATENCY_PENALTIES: [(u128, Duration); 3] = [
    (15_000, Duration::from_secs(600)),
    (3_000, Duration::from_secs(60)),
    (550, Duration::from_secs(30)),
];

/// Brokers to avoid and until when.
#[derive(Debug, Default)]
pub(crate) struct FaultTracker {
    until: HashMap<String, Instant>,
}

impl FaultTracker {
    /// Records the outcome of a send to `broker`.
    pub(crate) fn record(&mut self, broker: &str, latency: Duration, failed: bool, now: Instant) {
        let slow = || {
            LATENCY_PENALTIES
                .iter()
                .any(|(ms, _)| latency.as_millis() >= *ms)
        };
        if !failed && self.until.is_empty() && !slow() {
            // The common case: a quick answer while no broker is penalised.
            return;
        }
        let penalty = if failed {
            Some(FAILURE_PENALTY)
        } else {
            LATENCY_PENALTIES
                .iter()
                .find(|(ms, _)| latency.as_millis() >= *ms)
                .map(|(_, p)| *p)
        };
        match penalty {
            Some(p) => {
                self.until.insert(broker.to_string(), now + p);
            }
            None => {
                self.until.remove(broker);
            }
        }
    }

    /// Whether `broker` may be used at `now`.
    pub(crate) fn is_available(&self, broker: &str, now: Instant) -> bool {
        self.until.get(broker).is_none_or(|t| *t <= now)
    }
}

/// Picks a queue starting at round-robin position `start`: the first one
/// on an available broker other than `avoid`; failing that, any queue not
/// on `avoid`; failing that, the queue at `start`.
pub(crate) fn choose_queue<'a>(
    queues: &'a [MessageQueue],
    start: usize,
    avoid: Option<&str>,
    faults: &FaultTracker,
    now: Instant,
) -> Option<&'a MessageQueue> {
    if queues.is_empty() {
        return None;
    }
    let n = queues.len();
    let rotated = || (0..n).map(move |i| &queues[(start + i) % n]);
    let not_avoided = |q: &&MessageQueue| avoid != Some(q.broker_name.as_str());
    rotated()
        .filter(not_avoided)
        .find(|q| faults.is_available(&q.broker_name, now))
        .or_else(|| rotated().find(not_avoided))
        .or_else(|| queues.get(start % n))
}

/// A selector for ordered sends: the queue at `hash(key) mod n`, where
/// `hash` is Java's `String.hashCode` made non-negative, so messages with
/// one key (an order id) always land in the same queue while the route
/// is stable.
pub fn select_by_key(queues: &[MessageQueue], key: &str) -> usize {
    if queues.is_empty() {
        return 0;
    }
    (java_string_hash(key).unsigned_abs() as usize) % queues.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs() -> Vec<MessageQueue> {
        vec![
            MessageQueue::new("T", "a", 0),
            MessageQueue::new("T", "a", 1),
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "b", 1),
        ]
    }

    #[test]
    fn round_robin_and_avoidance() {
        let q = qs();
        let now = Instant::now();
        let mut f = FaultTracker::default();
        assert_eq!(choose_queue(&q, 1, None, &f, now), Some(&q[1]));
        assert_eq!(choose_queue(&q, 5, None, &f, now), Some(&q[1]));
        // Retry after broker a failed: skip to b.
        assert_eq!(choose_queue(&q, 1, Some("a"), &f, now), Some(&q[2]));
        // b marked faulty, a avoided: fall back to a queue not on a.
        f.record("b", Duration::ZERO, true, now);
        assert_eq!(choose_queue(&q, 0, Some("a"), &f, now), Some(&q[2]));
        // b faulty, no avoid: prefer a.
        assert_eq!(choose_queue(&q, 2, None, &f, now), Some(&q[0]));
        // The penalty expires.
        assert_eq!(
            choose_queue(&q, 2, None, &f, now + FAILURE_PENALTY),
            Some(&q[2])
        );
        // A fast answer clears it.
        f.record("b", Duration::from_millis(5), false, now);
        assert!(f.is_available("b", now));
        // A slow one sets it.
        f.record("b", Duration::from_millis(600), false, now);
        assert!(!f.is_available("b", now));
        assert!(choose_queue(&[], 0, None, &f, now).is_none());
    }

    #[test]
    fn every_queue_on_the_avoided_broker() {
        let q = vec![
            MessageQueue::new("T", "a", 0),
            MessageQueue::new("T", "a", 1),
        ];
        let f = FaultTracker::default();
        assert_eq!(
            choose_queue(&q, 1, Some("a"), &f, Instant::now()),
            Some(&q[1])
        );
    }

    #[test]
    fn key_selector_is_stable() {
        let q = qs();
        let i = select_by_key(&q, "order-17");
        assert_eq!(i, select_by_key(&q, "order-17"));
        assert!(i < q.len());
        // Java: "a".hashCode() = 97 → 97 % 4 = 1.
        assert_eq!(select_by_key(&q, "a"), 1);
        assert_eq!(select_by_key(&[], "a"), 0);
    }
}
