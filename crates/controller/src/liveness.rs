//! Broker liveness, local to each controller (brokers heartbeat every
//! controller, so a new leader is warm at once). Not replicated, as Java's
//! DLedger controller: liveness is a fact about now, not about history.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;

/// Java's default `controllerHeartBeatTimeoutMills`.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: i64 = 10_000;

/// What the last heartbeat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerLive {
    pub cluster: String,
    pub addr: String,
    pub last_ms: i64,
    pub timeout_ms: i64,
    pub epoch: i32,
    pub max_offset: i64,
    pub confirm_offset: i64,
    pub priority: i32,
    pub conn_id: u64,
}

/// One heartbeat.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub addr: String,
    pub epoch: i32,
    pub max_offset: i64,
    pub confirm_offset: i64,
    pub timeout_ms: i64,
    pub priority: i32,
    pub conn_id: u64,
}

/// (brokerName, brokerId) -> liveness.
#[derive(Debug, Default)]
pub struct Liveness {
    table: Mutex<BTreeMap<(String, i64), BrokerLive>>,
    /// Brokers whose heartbeat connection closed (not merely went quiet)
    /// and that have not heartbeated since: known dead, not just unheard.
    closed: Mutex<BTreeSet<(String, i64)>>,
}

impl Liveness {
    /// Records a heartbeat at `now_ms`. Epoch and offsets only move up
    /// (ordered by epoch, then max offset), as Java.
    pub fn beat(&self, hb: Heartbeat, now_ms: i64) {
        let key = (hb.broker_name, hb.broker_id);
        self.closed.lock().remove(&key);
        let mut table = self.table.lock();
        let entry = table.entry(key).or_insert_with(|| BrokerLive {
            cluster: hb.cluster.clone(),
            addr: hb.addr.clone(),
            last_ms: now_ms,
            timeout_ms: hb.timeout_ms,
            epoch: hb.epoch,
            max_offset: hb.max_offset,
            confirm_offset: hb.confirm_offset,
            priority: hb.priority,
            conn_id: hb.conn_id,
        });
        entry.cluster = hb.cluster;
        entry.addr = hb.addr;
        entry.last_ms = now_ms;
        entry.timeout_ms = hb.timeout_ms;
        entry.priority = hb.priority;
        entry.conn_id = hb.conn_id;
        if (hb.epoch, hb.max_offset) >= (entry.epoch, entry.max_offset) {
            entry.epoch = hb.epoch;
            entry.max_offset = hb.max_offset;
            entry.confirm_offset = hb.confirm_offset;
        }
    }

    /// The entry of a live broker.
    pub fn alive(&self, broker_name: &str, id: i64, now_ms: i64) -> Option<BrokerLive> {
        self.table
            .lock()
            .get(&(broker_name.to_owned(), id))
            .filter(|b| b.last_ms + b.timeout_ms >= now_ms)
            .cloned()
    }

    /// Drops expired entries; returns their keys.
    pub fn expire(&self, now_ms: i64) -> Vec<(String, i64)> {
        let mut table = self.table.lock();
        let gone: Vec<_> = table
            .iter()
            .filter(|(_, b)| b.last_ms + b.timeout_ms < now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            table.remove(k);
        }
        gone
    }

    /// Drops the entries that heartbeat over connection `conn_id`; they
    /// count as [`Liveness::closed`] until they heartbeat again.
    pub fn connection_closed(&self, conn_id: u64) -> Vec<(String, i64)> {
        let mut table = self.table.lock();
        let gone: Vec<_> = table
            .iter()
            .filter(|(_, b)| b.conn_id == conn_id)
            .map(|(k, _)| k.clone())
            .collect();
        let mut closed = self.closed.lock();
        for k in &gone {
            table.remove(k);
            closed.insert(k.clone());
        }
        gone
    }

    /// Whether the broker's connection closed since its last heartbeat.
    pub fn closed(&self, broker_name: &str, id: i64) -> bool {
        self.closed.lock().contains(&(broker_name.to_owned(), id))
    }

    /// The longest heartbeat timeout the live brokers asked for, and at
    /// least `fallback_ms`: how long a controller must have been hearing
    /// the brokers before silence alone proves a master gone.
    pub fn longest_timeout_ms(&self, fallback_ms: i64) -> i64 {
        self.table
            .lock()
            .values()
            .map(|b| b.timeout_ms)
            .max()
            .unwrap_or(fallback_ms)
            .max(fallback_ms)
    }

    /// Drops one broker (CLEAN_BROKER_DATA).
    pub fn remove(&self, broker_name: &str, id: i64) {
        self.table.lock().remove(&(broker_name.to_owned(), id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(id: i64, epoch: i32, max: i64, conn: u64) -> Heartbeat {
        Heartbeat {
            cluster: "c".into(),
            broker_name: "b".into(),
            broker_id: id,
            addr: format!("h:{id}"),
            epoch,
            max_offset: max,
            confirm_offset: 0,
            timeout_ms: 1000,
            priority: 0,
            conn_id: conn,
        }
    }

    #[test]
    fn beats_expire_and_offsets_never_go_back() {
        let l = Liveness::default();
        l.beat(hb(1, 2, 100, 7), 0);
        l.beat(hb(1, 1, 500, 7), 10);
        assert_eq!(
            l.alive("b", 1, 500).map(|b| (b.epoch, b.max_offset)),
            Some((2, 100))
        );
        assert!(l.alive("b", 1, 1011).is_none());
        assert_eq!(l.expire(1011), vec![("b".to_string(), 1)]);
        l.beat(hb(2, 1, 1, 9), 0);
        assert_eq!(l.connection_closed(9), vec![("b".to_string(), 2)]);
        assert!(l.alive("b", 2, 0).is_none());
    }

    #[test]
    fn a_closed_connection_is_known_dead_until_the_broker_beats_again() {
        let l = Liveness::default();
        assert_eq!(l.longest_timeout_ms(10_000), 10_000);
        l.beat(hb(1, 1, 1, 7), 0);
        assert!(!l.closed("b", 1));
        l.connection_closed(7);
        assert!(l.closed("b", 1));
        assert!(!l.closed("b", 2));
        l.beat(hb(1, 1, 1, 8), 5);
        assert!(!l.closed("b", 1));
        let mut long = hb(2, 1, 1, 8);
        long.timeout_ms = 30_000;
        l.beat(long, 5);
        assert_eq!(l.longest_timeout_ms(10_000), 30_000);
    }
}
