//! The broker's metrics registry: the counters and histograms the send,
//! pull and dispatch paths bump, read at scrape time by the `http` crate.
//!
//! A series is created on its first use under a short write lock; after
//! that a message costs one read lock and a few relaxed atomic adds. Gauges
//! (lag, connections, storage) are not kept here: they are computed from the
//! broker's tables when scraped. Names and labels follow Apache RocketMQ 5's
//! metrics; see docs/observability.md.
//!
//! It is also the one place per-topic puts and per-group gets are counted:
//! the rates of VIEW_BROKER_STATS_DATA (`rates.rs`) are sampled from these
//! counters (see [`BrokerMetrics::put_counts`]), not counted a second time.
//! Retry and dead-letter topics are counted (Java's stats count them) but
//! left out of the exported series, as in Apache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;
use protocol::message::sysflag::message as msgflag;
use protocol::message::{keys, topics, Properties};

/// `rocketmq_message_size` bucket bounds (bytes), as Apache sets them.
pub const MESSAGE_SIZE_BUCKETS: &[u64] = &[1024, 4096, 524_288, 1_048_576, 2_097_152, 4_194_304];
/// `rocketmq_rpc_latency_milliseconds` bucket bounds (ms).
pub const RPC_LATENCY_BUCKETS_MS: &[u64] = &[1, 3, 5, 7, 10, 100, 1000, 2000, 3000];

/// The `message_type` label of a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Normal,
    Fifo,
    Delay,
    Transaction,
}

impl MessageType {
    /// Every type, in label order.
    pub const ALL: [MessageType; 4] = [
        MessageType::Normal,
        MessageType::Fifo,
        MessageType::Delay,
        MessageType::Transaction,
    ];

    /// The label value (lower case, as Apache prints it).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Normal => "normal",
            MessageType::Fifo => "fifo",
            MessageType::Delay => "delay",
            MessageType::Transaction => "transaction",
        }
    }

    /// Apache's order: the transaction flag, then a sharding key (FIFO),
    /// then any delay or timer property.
    pub fn classify(sysflag: i32, props: &Properties) -> MessageType {
        let tx = sysflag & msgflag::TRANSACTION_MASK;
        if tx == msgflag::TRANSACTION_PREPARED_TYPE || props.contains_key(keys::TRAN_MSG) {
            return MessageType::Transaction;
        }
        if props.contains_key(keys::SHARDING_KEY) || props.contains_key(keys::ONS_SHARDING_KEY) {
            return MessageType::Fifo;
        }
        let delayed = [
            keys::DELAY,
            keys::TIMER_DELIVER_MS,
            keys::TIMER_DELAY_SEC,
            keys::TIMER_DELAY_MS,
        ]
        .iter()
        .any(|k| props.get(k).is_some_and(|v| v != "0"));
        if delayed {
            MessageType::Delay
        } else {
            MessageType::Normal
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A fixed-bucket histogram of integer observations; an observation lands
/// in the first bucket whose bound is at least its value.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A histogram read at one moment: `(upper bound, count)` pairs ending with
/// `+Inf`, each counting its own bucket only (encoders accumulate).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub sum: u64,
    pub count: u64,
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending upper bounds).
    pub fn new(bounds: &'static [u64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, value: u64) {
        let slot = self.bounds.partition_point(|b| *b < value);
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The counts now (an observation racing the scrape may show in its
    /// bucket before the sum; scrapes tolerate that).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut count = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            let n = c.load(Ordering::Relaxed);
            count += n;
            let le = self.bounds.get(i).map_or(f64::INFINITY, |b| *b as f64);
            buckets.push((le, n));
        }
        HistogramSnapshot {
            sum: self.sum.load(Ordering::Relaxed),
            count,
            buckets,
        }
    }
}

/// Messages and bytes stored for one topic and message type.
#[derive(Debug)]
pub struct InCounters {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub size: Histogram,
}

impl Default for InCounters {
    fn default() -> Self {
        InCounters {
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            size: Histogram::new(MESSAGE_SIZE_BUCKETS),
        }
    }
}

/// A topic's in-counters, one set per message type, and the send
/// requests that stored them (a batch is one).
#[derive(Debug, Default)]
pub struct TopicIn {
    by_type: [InCounters; 4],
    requests: AtomicU64,
}

impl TopicIn {
    /// The counters of one message type.
    pub fn of(&self, t: MessageType) -> &InCounters {
        &self.by_type[t.index()]
    }
}

/// Messages and bytes a group pulled from one topic.
#[derive(Debug, Default)]
pub struct OutCounters {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    /// Pulls that returned messages.
    pub requests: AtomicU64,
}

/// One row of the in-series: topic, type and its counters.
pub type InRow = (String, MessageType, u64, u64, HistogramSnapshot);
/// One row of the out-series: topic, group, messages, bytes.
pub type OutRow = (String, String, u64, u64);
/// One row of the RPC series: request code, response code, latencies.
pub type RpcRow = (i32, i32, HistogramSnapshot);

/// Every counter the broker keeps; held by the broker state.
#[derive(Debug, Default)]
pub struct BrokerMetrics {
    topics_in: RwLock<HashMap<String, TopicIn>>,
    /// group → topic → counters (two string keys without building a pair).
    out: RwLock<HashMap<String, HashMap<String, OutCounters>>>,
    rpc: RwLock<HashMap<(i32, i32), Histogram>>,
    /// `metricsEnable=false`: no message-size or RPC-latency histograms.
    /// Message and byte counts are always kept: the broker's own stats
    /// (VIEW_BROKER_STATS_DATA, runtime rates) are sampled from them.
    off: AtomicBool,
}

impl BrokerMetrics {
    /// Counts one send request that stored one message of `size` bytes.
    pub fn record_in(&self, topic: &str, kind: MessageType, size: u64) {
        self.record_put(topic, kind, std::iter::once(size));
    }

    /// Counts one send request that stored messages of `sizes` bytes (a
    /// batch: one lookup for all of them).
    pub fn record_put(&self, topic: &str, kind: MessageType, sizes: impl Iterator<Item = u64>) {
        let observe = !self.off.load(Ordering::Relaxed);
        let bump = |t: &TopicIn| {
            let c = t.of(kind);
            let (mut n, mut bytes) = (0, 0);
            for size in sizes {
                if observe {
                    c.size.observe(size);
                }
                n += 1;
                bytes += size;
            }
            c.messages.fetch_add(n, Ordering::Relaxed);
            c.bytes.fetch_add(bytes, Ordering::Relaxed);
            t.requests.fetch_add(1, Ordering::Relaxed);
        };
        // Counting under the read lock leaves no per-series refcount for
        // every sender to bounce between cores.
        if let Some(t) = self.topics_in.read().get(topic) {
            return bump(t);
        }
        bump(self.topics_in.write().entry(topic.to_owned()).or_default());
    }

    /// Counts `messages` messages of `bytes` bytes returned to `group`.
    pub fn record_out(&self, group: &str, topic: &str, messages: u64, bytes: u64) {
        if messages == 0 {
            return;
        }
        let bump = |c: &OutCounters| {
            c.messages.fetch_add(messages, Ordering::Relaxed);
            c.bytes.fetch_add(bytes, Ordering::Relaxed);
            c.requests.fetch_add(1, Ordering::Relaxed);
        };
        if let Some(c) = self.out.read().get(group).and_then(|m| m.get(topic)) {
            return bump(c);
        }
        let mut map = self.out.write();
        bump(
            map.entry(group.to_owned())
                .or_default()
                .entry(topic.to_owned())
                .or_default(),
        );
    }

    /// Records how long a request took from decode to response.
    pub fn record_rpc(&self, request_code: i32, response_code: i32, millis: u64) {
        if self.off.load(Ordering::Relaxed) {
            return;
        }
        let key = (request_code, response_code);
        if let Some(h) = self.rpc.read().get(&key) {
            return h.observe(millis);
        }
        self.rpc
            .write()
            .entry(key)
            .or_insert_with(|| Histogram::new(RPC_LATENCY_BUCKETS_MS))
            .observe(millis);
    }

    /// Turns the size and RPC-latency histograms on or off (`metricsEnable`).
    pub fn set_enabled(&self, on: bool) {
        self.off.store(!on, Ordering::Relaxed);
    }

    /// Forgets a deleted topic's series.
    pub fn remove_topic(&self, topic: &str) {
        self.topics_in.write().remove(topic);
        for m in self.out.write().values_mut() {
            m.remove(topic);
        }
    }

    /// Every in-series with at least one message.
    pub fn in_rows(&self) -> Vec<InRow> {
        let map = self.topics_in.read();
        let mut rows = Vec::new();
        for (topic, t) in map.iter().filter(|(t, _)| !is_retry_or_dlq(t)) {
            for kind in MessageType::ALL {
                let c = t.of(kind);
                let messages = c.messages.load(Ordering::Relaxed);
                if messages > 0 {
                    let bytes = c.bytes.load(Ordering::Relaxed);
                    rows.push((topic.clone(), kind, messages, bytes, c.size.snapshot()));
                }
            }
        }
        rows.sort_by(|a, b| (&a.0, a.1.index()).cmp(&(&b.0, b.1.index())));
        rows
    }

    /// Every out-series.
    pub fn out_rows(&self) -> Vec<OutRow> {
        let map = self.out.read();
        let mut rows: Vec<OutRow> = map
            .iter()
            .flat_map(|(group, m)| {
                m.iter()
                    .filter(|(t, _)| !is_retry_or_dlq(t))
                    .map(move |(topic, c)| {
                        (
                            topic.clone(),
                            group.clone(),
                            c.messages.load(Ordering::Relaxed),
                            c.bytes.load(Ordering::Relaxed),
                        )
                    })
            })
            .collect();
        rows.sort();
        rows
    }

    /// Every RPC latency series.
    pub fn rpc_rows(&self) -> Vec<RpcRow> {
        let map = self.rpc.read();
        let mut rows: Vec<RpcRow> = map
            .iter()
            .map(|((req, resp), h)| (*req, *resp, h.snapshot()))
            .collect();
        rows.sort_by_key(|r| (r.0, r.1));
        rows
    }

    /// Total messages stored and pulled (the console's TPS chart).
    pub fn totals(&self) -> (u64, u64) {
        let put = self
            .topics_in
            .read()
            .iter()
            .filter(|(t, _)| !is_retry_or_dlq(t))
            .flat_map(|(_, t)| t.by_type.iter())
            .map(|c| c.messages.load(Ordering::Relaxed))
            .sum();
        let got = self
            .out
            .read()
            .values()
            .flat_map(|m| m.iter())
            .filter(|(t, _)| !is_retry_or_dlq(t))
            .map(|(_, c)| c.messages.load(Ordering::Relaxed))
            .sum();
        (put, got)
    }

    /// Whether a send to `topic` was counted.
    pub fn counted_put(&self, topic: &str) -> bool {
        self.topics_in.read().contains_key(topic)
    }

    /// Whether `group` got messages from `topic`.
    pub fn counted_get(&self, topic: &str, group: &str) -> bool {
        self.out
            .read()
            .get(group)
            .is_some_and(|m| m.contains_key(topic))
    }

    /// Per topic, retry and dead-letter topics included: messages, bytes
    /// and send requests stored so far (the rates' TOPIC_PUT_* series).
    pub fn put_counts(&self) -> Vec<(String, Counts)> {
        let map = self.topics_in.read();
        map.iter()
            .map(|(topic, t)| {
                let mut c = Counts {
                    requests: t.requests.load(Ordering::Relaxed),
                    ..Counts::default()
                };
                for k in &t.by_type {
                    c.messages += k.messages.load(Ordering::Relaxed);
                    c.bytes += k.bytes.load(Ordering::Relaxed);
                }
                (topic.clone(), c)
            })
            .collect()
    }

    /// Per topic and group: messages, bytes and pulls that returned
    /// messages so far (the rates' GROUP_GET_* series).
    pub fn get_counts(&self) -> Vec<(String, String, Counts)> {
        let map = self.out.read();
        map.iter()
            .flat_map(|(group, m)| {
                m.iter().map(move |(topic, c)| {
                    let counts = Counts {
                        messages: c.messages.load(Ordering::Relaxed),
                        bytes: c.bytes.load(Ordering::Relaxed),
                        requests: c.requests.load(Ordering::Relaxed),
                    };
                    (topic.clone(), group.clone(), counts)
                })
            })
            .collect()
    }
}

/// Totals of one series: messages, their bytes, and the requests that
/// carried them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub messages: u64,
    pub bytes: u64,
    pub requests: u64,
}

fn is_retry_or_dlq(topic: &str) -> bool {
    topics::is_retry_topic(topic) || topics::is_dlq_topic(topic)
}

/// Apache's `is_system` label: system topics and `CID_RMQ_SYS_` groups.
pub fn is_system_topic(topic: &str) -> bool {
    topic.starts_with("rmq_sys_")
        || topic.starts_with("RMQ_SYS_")
        || topic.starts_with(topics::SYNC_BROKER_MEMBER_TOPIC_PREFIX)
        || [
            topics::AUTO_CREATE_TOPIC,
            topics::SCHEDULE_TOPIC,
            topics::TRANS_CHECK_MAX_TIME_TOPIC,
            topics::SELF_TEST_TOPIC,
            topics::BENCHMARK_TOPIC,
            topics::OFFSET_MOVED_EVENT,
            topics::CHECKPOINT_TOPIC,
        ]
        .contains(&topic)
}

/// Whether a consumer group is a system group (`CID_RMQ_SYS_`, any case).
pub fn is_system_group(group: &str) -> bool {
    group
        .get(..topics::SYS_GROUP_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(topics::SYS_GROUP_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bounds_are_inclusive() {
        let h = Histogram::new(&[1, 10]);
        for v in [0, 1, 2, 10, 11, 500] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 6);
        assert_eq!(s.sum, 524);
        assert_eq!(s.buckets, vec![(1.0, 2), (10.0, 2), (f64::INFINITY, 2)]);
    }

    #[test]
    fn in_and_out_counters_add_up_and_skip_retry_topics() {
        let m = BrokerMetrics::default();
        m.record_in("T", MessageType::Normal, 100);
        m.record_in("T", MessageType::Normal, 2000);
        m.record_in("T", MessageType::Delay, 10);
        m.record_in("%RETRY%g", MessageType::Normal, 10);
        m.record_out("g", "T", 3, 2110);
        m.record_out("g", "%DLQ%g", 1, 10);
        let rows = m.in_rows();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].2, rows[0].3), (2, 2100));
        assert_eq!(rows[0].4.buckets[0], (1024.0, 1));
        assert_eq!(rows[1].1, MessageType::Delay);
        assert_eq!(m.out_rows(), vec![("T".into(), "g".into(), 3, 2110)]);
        assert_eq!(m.totals(), (3, 3));
        // The rates' view counts retry and dead-letter topics too, and one
        // request per record_in / record_put / record_out.
        let mut puts = m.put_counts();
        puts.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(puts[0].0, "%RETRY%g");
        assert_eq!(
            puts[1].1,
            Counts {
                messages: 3,
                bytes: 2110,
                requests: 3
            }
        );
        m.record_put("T", MessageType::Normal, [5, 6].into_iter());
        let t = m.put_counts().into_iter().find(|p| p.0 == "T").unwrap().1;
        assert_eq!((t.messages, t.bytes, t.requests), (5, 2121, 4));
        assert_eq!(m.get_counts().len(), 2);
        assert!(m.counted_put("T") && !m.counted_put("U"));
        assert!(m.counted_get("%DLQ%g", "g") && !m.counted_get("T", "h"));
        m.remove_topic("T");
        assert!(m.in_rows().is_empty());
        assert!(m.out_rows().is_empty());
    }

    #[test]
    fn message_type_follows_apache_order() {
        let mut p = Properties::default();
        assert_eq!(MessageType::classify(0, &p), MessageType::Normal);
        p.insert(keys::DELAY, "3");
        assert_eq!(MessageType::classify(0, &p), MessageType::Delay);
        p.insert(keys::SHARDING_KEY, "k");
        assert_eq!(MessageType::classify(0, &p), MessageType::Fifo);
        assert_eq!(
            MessageType::classify(msgflag::TRANSACTION_PREPARED_TYPE, &p),
            MessageType::Transaction
        );
    }

    #[test]
    fn system_names() {
        assert!(is_system_topic("RMQ_SYS_TRACE_TOPIC"));
        assert!(is_system_topic("TBW102"));
        assert!(!is_system_topic("orders"));
        assert!(is_system_group("cid_rmq_sys_x"));
        assert!(!is_system_group("CID"));
    }
}
