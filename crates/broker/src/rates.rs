//! Rates as Java's broker computes them. Counters only grow; a sampler
//! snapshots them and a rate is the difference between the newest snapshot
//! and an older one over the time between them:
//! - the store counters every second, kept ten minutes, for the
//!   `putTps`/`getFoundTps`… triples of GET_BROKER_RUNTIME_INFO (10 s, 1 min
//!   and 10 min windows);
//! - per-topic puts and per-`topic@group` gets every 10 s (minute window),
//!   10 min (hour window) and hour (day window), for VIEW_BROKER_STATS_DATA
//!   (mqadmin `statsAll`).

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

/// Samples `store`'s counters into `rates` once a second (`now` gives the
/// wall-clock ms) until cancelled.
pub async fn run(rates: &Rates, store: &MessageStore, now: fn() -> i64, cancel: CancellationToken) {
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
    /// Adds a count and a size under one key, taking the lock once (this
    /// runs on every send and pull).
    fn add(&self, names: [&'static str; 2], key: &str, values: [u64; 2]) {
        let mut items = self.items.lock();
        for (name, value) in names.into_iter().zip(values) {
            let by_key = items.entry(name).or_default();
            // Only a key's first event allocates its name.
            let item = match by_key.get_mut(key) {
                Some(i) => i,
                None => by_key.entry(key.to_owned()).or_insert_with(Item::new),
            };
            item.value += value;
            item.times += 1;
        }
    }

    /// `n` messages of `bytes` in all were stored to `topic`.
    pub fn topic_put(&self, topic: &str, n: u64, bytes: u64) {
        self.add([TOPIC_PUT_NUMS, TOPIC_PUT_SIZE], topic, [n, bytes]);
    }

    /// `n` messages of `bytes` in all were pulled by `group` from `topic`.
    pub fn group_get(&self, topic: &str, group: &str, n: u64, bytes: u64) {
        let key = format!("{topic}@{group}");
        self.add([GROUP_GET_NUMS, GROUP_GET_SIZE], &key, [n, bytes]);
    }

    /// Takes the once-a-second snapshot; every tenth also samples the keyed
    /// counters (every 600th and 3600th feed the hour and day windows).
    pub fn tick(&self, now_ms: i64, store: StoreCounters) {
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
        for item in self.items.lock().values_mut().flat_map(HashMap::values_mut) {
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
            r.tick(s * 1000, counters(total));
            total += if s < 60 { 100 } else { 700 };
        }
        assert_eq!(r.store_tps(0), "700.00 200.00 185.71");
        assert_eq!(r.store_tps(9), "0.00 0.00 0.00");
    }

    #[test]
    fn keyed_windows_sum_between_the_oldest_and_newest_samples() {
        let r = Rates::default();
        assert!(r.stats_data(TOPIC_PUT_NUMS, "T").is_none());
        r.topic_put("T", 0, 0);
        for s in 0..=60 {
            r.tick(s * 1000, StoreCounters::default());
            r.topic_put("T", 2, 200);
        }
        let d = r.stats_data(TOPIC_PUT_NUMS, "T").unwrap();
        // Samples at 0 s … 60 s: 120 messages in 60 s.
        assert_eq!(d.stats_minute.sum, 120);
        assert!((d.stats_minute.tps - 2.0).abs() < 1e-9);
        assert!((d.stats_minute.avgpt - 2.0).abs() < 1e-9);
        let size = r.stats_data(TOPIC_PUT_SIZE, "T").unwrap();
        assert_eq!(size.stats_minute.sum, 12_000);
        r.group_get("T", "G", 3, 30);
        assert!(r.stats_data(GROUP_GET_NUMS, "T@G").is_some());
    }
}
