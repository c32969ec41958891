//! Rates as Java's broker computes them. Counters only grow; a sampler
//! snapshots them and a rate is the difference between the newest snapshot
//! and an older one over the time between them:
//! - the store counters every second, kept ten minutes, for the
//!   `putTps`/`getFoundTps`… triples of GET_BROKER_RUNTIME_INFO (10 s, 1 min
//!   and 10 min windows);
//! - per-topic puts and per-`topic@group` gets every 10 s (minute window),
//!   10 min (hour window) and hour (day window), for VIEW_BROKER_STATS_DATA
//!   (mqadmin `statsAll`).
//!
//! The keyed counters are not counted here: the send and pull paths count
//! once, in the metrics registry, and the sampler copies those totals in
//! when it snapshots (every 10 s), so a send or pull costs nothing here and
//! no `topic@group` key is built per pull.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use parking_lot::Mutex;
use protocol::body::ops::{BrokerStatsData, BrokerStatsItem};
use store::MessageStore;
use tokio_util::sync::CancellationToken;

/// `statsName`s VIEW_BROKER_STATS_DATA answers.
pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";

/// One snapshot: when, and the counters then.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sample {
    ms: i64,
    value: u64,
    times: u64,
}

/// A bounded list of snapshots, oldest first.
#[derive(Debug, Default)]
struct Ring {
    cap: usize,
    samples: VecDeque<Sample>,
}

impl Ring {
    fn with_cap(cap: usize) -> Self {
        Ring {
            cap,
            samples: VecDeque::with_capacity(cap),
        }
    }

    fn push(&mut self, s: Sample) {
        if self.samples.len() == self.cap {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    /// Sum, per-second rate and value per event between the oldest and
    /// newest snapshot (Java's `computeStatsData`).
    fn window(&self) -> BrokerStatsItem {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return BrokerStatsItem::default();
        };
        let sum = last.value.saturating_sub(first.value);
        let times = last.times.saturating_sub(first.times);
        let ms = (last.ms - first.ms).max(0);
        BrokerStatsItem {
            sum: sum as i64,
            tps: if ms > 0 {
                sum as f64 * 1000.0 / ms as f64
            } else {
                0.0
            },
            avgpt: if times > 0 {
                sum as f64 / times as f64
            } else {
                0.0
            },
        }
    }

    /// Per-second rate over the last `secs` seconds of one-second samples.
    fn rate_over(&self, secs: usize) -> f64 {
        let n = self.samples.len();
        let (Some(last), Some(first)) = (
            self.samples.back(),
            self.samples.get(n.saturating_sub(secs + 1)),
        ) else {
            return 0.0;
        };
        let ms = last.ms - first.ms;
        if ms <= 0 {
            return 0.0;
        }
        last.value.saturating_sub(first.value) as f64 * 1000.0 / ms as f64
    }
}

/// One keyed counter and its three windows.
#[derive(Debug)]
struct Item {
    value: u64,
    times: u64,
    minute: Ring,
    hour: Ring,
    day: Ring,
}

impl Item {
    fn new() -> Self {
        Item {
            value: 0,
            times: 0,
            minute: Ring::with_cap(7),
            hour: Ring::with_cap(7),
            day: Ring::with_cap(25),
        }
    }
}

/// Sampled store counters for the runtime-info triples.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreCounters {
    pub put: u64,
    pub get_found: u64,
    pub get_miss: u64,
    pub get_transferred: u64,
}

/// The running total of one keyed series (`name`/`key`): its value and
/// how many events (requests) made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedCount {
    pub name: &'static str,
    pub key: String,
    pub value: u64,
    pub times: u64,
}

impl KeyedCount {
    /// The two series of a put to `topic`: TOPIC_PUT_NUMS and _SIZE.
    pub fn topic_put(topic: &str, messages: u64, bytes: u64, requests: u64) -> [KeyedCount; 2] {
        let one = |name, value| KeyedCount {
            name,
            key: topic.to_owned(),
            value,
            times: requests,
        };
        [one(TOPIC_PUT_NUMS, messages), one(TOPIC_PUT_SIZE, bytes)]
    }

    /// The two series of `group`'s gets from `topic` (key `topic@group`).
    pub fn group_get(
        topic: &str,
        group: &str,
        messages: u64,
        bytes: u64,
        requests: u64,
    ) -> [KeyedCount; 2] {
        let key = format!("{topic}@{group}");
        [
            KeyedCount {
                name: GROUP_GET_NUMS,
                key: key.clone(),
                value: messages,
                times: requests,
            },
            KeyedCount {
                name: GROUP_GET_SIZE,
                key,
                value: bytes,
                times: requests,
            },
        ]
    }
}

/// Samples `store`'s counters into `rates` once a second (`now` gives the
/// wall-clock ms) until cancelled; `keyed` gives the keyed series' totals
/// when they are sampled (every tenth second).
pub async fn run(
    rates: &Rates,
    store: &MessageStore,
    now: fn() -> i64,
    keyed: impl Fn() -> Vec<KeyedCount>,
    cancel: CancellationToken,
) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {}
        }
        let info = store.runtime_info();
        rates.tick(
            now(),
            StoreCounters {
                put: info.put_records,
                get_found: info.get_found,
                get_miss: info.get_miss,
                get_transferred: info.get_found,
            },
            &keyed,
        );
    }
}

/// Every rate the broker reports.
pub struct Rates {
    /// statsName → statsKey → counter.
    items: Mutex<HashMap<&'static str, HashMap<String, Item>>>,
    store: Mutex<[Ring; 5]>,
    ticks: Mutex<u64>,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            items: Mutex::new(HashMap::new()),
            store: Mutex::new(std::array::from_fn(|_| Ring::with_cap(601))),
            ticks: Mutex::new(0),
        }
    }
}

impl Rates {
    /// Takes the once-a-second snapshot; every tenth also samples the keyed
    /// counters, whose totals `keyed` gives then (every 600th and 3600th
    /// feed the hour and day windows).
    pub fn tick(&self, now_ms: i64, store: StoreCounters, keyed: &dyn Fn() -> Vec<KeyedCount>) {
        {
            let mut rings = self.store.lock();
            let values = [
                store.put,
                store.get_found,
                store.get_miss,
                store.get_transferred,
                store.get_found + store.get_miss,
            ];
            for (ring, value) in rings.iter_mut().zip(values) {
                ring.push(Sample {
                    ms: now_ms,
                    value,
                    times: 0,
                });
            }
        }
        let tick = {
            let mut t = self.ticks.lock();
            *t += 1;
            *t
        };
        if tick % 10 != 1 {
            return;
        }
        let totals = keyed();
        let mut items = self.items.lock();
        for c in totals {
            let item = items
                .entry(c.name)
                .or_default()
                .entry(c.key)
                .or_insert_with(Item::new);
            item.value = c.value;
            item.times = c.times;
        }
        for item in items.values_mut().flat_map(HashMap::values_mut) {
            let s = Sample {
                ms: now_ms,
                value: item.value,
                times: item.times,
            };
            item.minute.push(s);
            if tick % 600 == 1 {
                item.hour.push(s);
            }
            if tick % 3600 == 1 {
                item.day.push(s);
            }
        }
    }

    /// `"tps10s tps1min tps10min"` of the store counter `index` (0 put,
    /// 1 get found, 2 get miss, 3 get transferred, 4 get total), as Java
    /// formats it.
    pub fn store_tps(&self, index: usize) -> String {
        let rings = self.store.lock();
        let Some(ring) = rings.get(index) else {
            return "0.00 0.00 0.00".into();
        };
        format!(
            "{:.2} {:.2} {:.2}",
            ring.rate_over(10),
            ring.rate_over(60),
            ring.rate_over(600)
        )
    }

    /// VIEW_BROKER_STATS_DATA for `name`/`key`; None when never counted.
    pub fn stats_data(&self, name: &str, key: &str) -> Option<BrokerStatsData> {
        let items = self.items.lock();
        let item = items.get(name)?.get(key)?;
        Some(BrokerStatsData {
            stats_minute: item.minute.window(),
            stats_hour: item.hour.window(),
            stats_day: item.day.window(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(put: u64) -> StoreCounters {
        StoreCounters {
            put,
            ..StoreCounters::default()
        }
    }

    #[test]
    fn store_rates_use_the_windows_java_uses() {
        let r = Rates::default();
        // 100 puts a second for 60 s, then 700 a second for 10 s.
        let mut total = 0;
        for s in 0..=70 {
            r.tick(s * 1000, counters(total), &Vec::<KeyedCount>::new);
            total += if s < 60 { 100 } else { 700 };
        }
        assert_eq!(r.store_tps(0), "700.00 200.00 185.71");
        assert_eq!(r.store_tps(9), "0.00 0.00 0.00");
    }

    #[test]
    fn keyed_windows_sum_between_the_oldest_and_newest_samples() {
        let r = Rates::default();
        assert!(r.stats_data(TOPIC_PUT_NUMS, "T").is_none());
        // Totals as the metrics registry would give them: 2 messages of
        // 100 bytes in one request every second.
        let requests = std::cell::Cell::new(0u64);
        for s in 0..=60 {
            let n = requests.get();
            r.tick(s * 1000, StoreCounters::default(), &|| {
                KeyedCount::topic_put("T", 2 * n, 200 * n, n).to_vec()
            });
            requests.set(n + 1);
        }
        let d = r.stats_data(TOPIC_PUT_NUMS, "T").unwrap();
        // Samples at 0 s … 60 s: 120 messages in 60 s.
        assert_eq!(d.stats_minute.sum, 120);
        assert!((d.stats_minute.tps - 2.0).abs() < 1e-9);
        assert!((d.stats_minute.avgpt - 2.0).abs() < 1e-9);
        let size = r.stats_data(TOPIC_PUT_SIZE, "T").unwrap();
        assert_eq!(size.stats_minute.sum, 12_000);
        // Keyed series are sampled on every tenth tick only.
        for s in 61..=70 {
            r.tick(s * 1000, StoreCounters::default(), &|| {
                KeyedCount::group_get("T", "G", 3, 30, 1).to_vec()
            });
        }
        let get = r.stats_data(GROUP_GET_SIZE, "T@G").unwrap();
        assert_eq!(get.stats_minute.sum, 0, "one sample so far");
        assert!(r.stats_data(GROUP_GET_NUMS, "T@G").is_some());
    }
}
