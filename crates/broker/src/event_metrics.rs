//! Counters of the broker's less frequent events, named after Apache
//! RocketMQ 5's transaction, DLQ, POP and timer metrics: commits and
//! rollbacks of half messages, messages sent to a dead-letter queue, POP
//! acks and revives, timer enqueues and dequeues. Each event costs one
//! read lock and one or two relaxed atomic adds once its series exists;
//! none of them is on the path of an ordinary send or pull. Read by the
//! `http` crate at scrape time (docs/observability.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::metrics::{Histogram, HistogramSnapshot};

/// `rocketmq_finish_message_latency` bounds: seconds from a half message's
/// birth to its commit or rollback, as Apache sets them.
pub const FINISH_LATENCY_BUCKETS_S: &[u64] = &[5, 60, 600, 3600, 43_200, 86_400];
/// `rocketmq_delay_message_latency_seconds` bounds: the delay a timer
/// message asked for (deliver time − born time).
pub const DELAY_LATENCY_BUCKETS_S: &[u64] = &[60, 600, 3600, 43_200, 86_400, 259_200];

/// Counters keyed by two label values (`""` for the second when a family
/// has one label).
#[derive(Debug, Default)]
pub struct Keyed {
    map: RwLock<HashMap<String, HashMap<String, AtomicU64>>>,
}

impl Keyed {
    /// Adds `n` to the series `(a, b)`.
    pub fn add(&self, a: &str, b: &str, n: u64) {
        if let Some(c) = self.map.read().get(a).and_then(|m| m.get(b)) {
            c.fetch_add(n, Ordering::Relaxed);
            return;
        }
        self.map
            .write()
            .entry(a.to_owned())
            .or_default()
            .entry(b.to_owned())
            .or_default()
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Every series, sorted: `(a, b, count)`.
    pub fn rows(&self) -> Vec<(String, String, u64)> {
        let mut rows: Vec<_> = self
            .map
            .read()
            .iter()
            .flat_map(|(a, m)| {
                m.iter()
                    .map(move |(b, c)| (a.clone(), b.clone(), c.load(Ordering::Relaxed)))
            })
            .collect();
        rows.sort();
        rows
    }

    /// The count of one series (0 when it does not exist).
    pub fn get(&self, a: &str, b: &str) -> u64 {
        self.map
            .read()
            .get(a)
            .and_then(|m| m.get(b))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// One histogram per topic.
#[derive(Debug)]
pub struct TopicHistograms {
    bounds: &'static [u64],
    map: RwLock<HashMap<String, Histogram>>,
}

impl TopicHistograms {
    /// Histograms over `bounds`, created per topic on first use.
    pub fn new(bounds: &'static [u64]) -> Self {
        TopicHistograms {
            bounds,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// Counts one observation for `topic`.
    pub fn observe(&self, topic: &str, value: u64) {
        if let Some(h) = self.map.read().get(topic) {
            return h.observe(value);
        }
        self.map
            .write()
            .entry(topic.to_owned())
            .or_insert_with(|| Histogram::new(self.bounds))
            .observe(value);
    }

    /// Every topic's histogram, sorted by topic.
    pub fn rows(&self) -> Vec<(String, HistogramSnapshot)> {
        let mut rows: Vec<_> = self
            .map
            .read()
            .iter()
            .map(|(t, h)| (t.clone(), h.snapshot()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

/// The event counters; held by the broker state.
#[derive(Debug)]
pub struct EventMetrics {
    /// Half messages committed, by real topic (`rocketmq_commit_messages_total`).
    pub tx_commits: Keyed,
    /// Half messages rolled back, by real topic.
    pub tx_rollbacks: Keyed,
    /// Seconds from birth to commit or rollback, by real topic.
    pub tx_finish_latency: TopicHistograms,
    /// Messages moved to `%DLQ%group`: (original topic, group).
    pub dlq: Keyed,
    /// POP messages acknowledged: (topic, group).
    pub pop_acks: Keyed,
    /// POP messages revived to the group's retry topic: (original topic, group).
    pub pop_revived: Keyed,
    /// Messages parked on the timer, by real topic.
    pub timer_enqueue: Keyed,
    /// Messages the timer delivered to their real topic.
    pub timer_dequeue: Keyed,
    /// Delay asked for by timer messages (seconds), by real topic.
    pub delay_latency: TopicHistograms,
}

impl Default for EventMetrics {
    fn default() -> Self {
        EventMetrics {
            tx_commits: Keyed::default(),
            tx_rollbacks: Keyed::default(),
            tx_finish_latency: TopicHistograms::new(FINISH_LATENCY_BUCKETS_S),
            dlq: Keyed::default(),
            pop_acks: Keyed::default(),
            pop_revived: Keyed::default(),
            timer_enqueue: Keyed::default(),
            timer_dequeue: Keyed::default(),
            delay_latency: TopicHistograms::new(DELAY_LATENCY_BUCKETS_S),
        }
    }
}

impl EventMetrics {
    /// A half message of `topic`, born at `born_ms`, ended at `now_ms`.
    pub fn transaction_ended(&self, topic: &str, commit: bool, born_ms: i64, now_ms: i64) {
        if commit {
            self.tx_commits.add(topic, "", 1);
        } else {
            self.tx_rollbacks.add(topic, "", 1);
        }
        let secs = (now_ms - born_ms).max(0) / 1000;
        self.tx_finish_latency.observe(topic, secs as u64);
    }

    /// A timer message of `topic`, born at `born_ms`, due at `deliver_ms`.
    pub fn timer_enqueued(&self, topic: &str, born_ms: i64, deliver_ms: i64) {
        self.timer_enqueue.add(topic, "", 1);
        let secs = (deliver_ms - born_ms).max(0) / 1000;
        self.delay_latency.observe(topic, secs as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_counts_per_pair() {
        let k = Keyed::default();
        k.add("T", "g", 1);
        k.add("T", "g", 2);
        k.add("T", "h", 1);
        assert_eq!(k.get("T", "g"), 3);
        assert_eq!(k.get("U", "g"), 0);
        assert_eq!(
            k.rows(),
            vec![("T".into(), "g".into(), 3), ("T".into(), "h".into(), 1)]
        );
    }

    #[test]
    fn transactions_count_and_time_in_seconds() {
        let e = EventMetrics::default();
        e.transaction_ended("T", true, 0, 7_000);
        e.transaction_ended("T", false, 0, 100_000);
        assert_eq!(e.tx_commits.get("T", ""), 1);
        assert_eq!(e.tx_rollbacks.get("T", ""), 1);
        let rows = e.tx_finish_latency.rows();
        assert_eq!(rows[0].1.count, 2);
        assert_eq!(rows[0].1.sum, 107);
        // 7 s lands in the 60 s bucket, 100 s in the 600 s one.
        assert_eq!(rows[0].1.buckets[1], (60.0, 1));
        assert_eq!(rows[0].1.buckets[2], (600.0, 1));
    }
}
