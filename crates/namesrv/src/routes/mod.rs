//! The route table: which clusters hold which broker names, the addresses of
//! each broker name, the queues of each topic per broker name, and the
//! liveness of every registered broker address.
//!
//! One `RwLock` guards all tables so each operation sees and leaves them
//! consistent; it is never held across an `.await` (every method is sync).

mod query;
mod register;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use protocol::body::route::{BrokerData, QueueData};
use protocol::body::topic::DataVersion;

pub use query::UnitTopicKind;
pub use register::{BrokerRegistration, RegisterOptions, RegisterOutcome};

/// A broker address within a cluster: the key of the liveness table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AddrKey {
    pub cluster: String,
    pub addr: String,
}

impl AddrKey {
    fn new(cluster: &str, addr: &str) -> Self {
        AddrKey {
            cluster: cluster.to_owned(),
            addr: addr.to_owned(),
        }
    }
}

/// What we know about a live broker address.
#[derive(Debug, Clone)]
pub(crate) struct BrokerLive {
    pub last_update: Instant,
    pub timeout: Duration,
    pub data_version: DataVersion,
    /// The connection it registered on; closing it drops the broker.
    pub conn_id: Option<u64>,
    pub ha_server_addr: String,
}

#[derive(Debug, Default)]
pub(crate) struct Tables {
    /// cluster name → broker names.
    pub clusters: BTreeMap<String, BTreeSet<String>>,
    /// broker name → addresses by broker id.
    pub brokers: BTreeMap<String, BrokerData>,
    /// topic → broker name → queues.
    pub topics: BTreeMap<String, BTreeMap<String, QueueData>>,
    pub live: HashMap<AddrKey, BrokerLive>,
    pub filter_servers: HashMap<AddrKey, Vec<String>>,
}

/// The NameServer's routing state. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RouteTable {
    tables: RwLock<Tables>,
}

impl Default for RouteTable {
    fn default() -> Self {
        Self::new()
    }
}

/// A broker address that was dropped from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedBroker {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addr: String,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        RouteTable {
            tables: RwLock::new(Tables::default()),
        }
    }

    /// Removes a broker address (UNREGISTER_BROKER, expiry, connection
    /// close). Returns whether it was known. Removing the last address of a
    /// broker name removes the name from its cluster and its queues from
    /// every topic.
    pub fn unregister(&self, cluster: &str, broker_name: &str, broker_addr: &str) -> bool {
        let mut t = self.tables.write();
        unregister_locked(&mut t, cluster, broker_name, broker_addr)
    }

    /// Refreshes the liveness of a registered address (BROKER_HEARTBEAT,
    /// QUERY_DATA_VERSION). Returns false for an unknown address.
    pub fn touch(&self, cluster: &str, broker_addr: &str, now: Instant) -> bool {
        let mut t = self.tables.write();
        match t.live.get_mut(&AddrKey::new(cluster, broker_addr)) {
            Some(live) => {
                live.last_update = now;
                true
            }
            None => false,
        }
    }

    /// Whether `version` differs from the DataVersion last registered by
    /// this address (true for an unknown address).
    pub fn is_data_version_changed(
        &self,
        cluster: &str,
        broker_addr: &str,
        version: &DataVersion,
    ) -> bool {
        let t = self.tables.read();
        data_version_changed(&t, &AddrKey::new(cluster, broker_addr), version)
    }

    /// The DataVersion last registered by this address.
    pub fn data_version(&self, cluster: &str, broker_addr: &str) -> Option<DataVersion> {
        let t = self.tables.read();
        t.live
            .get(&AddrKey::new(cluster, broker_addr))
            .map(|l| l.data_version)
    }

    /// Drops every address whose last registration or heartbeat is older
    /// than its timeout at `now`.
    pub fn remove_expired(&self, now: Instant) -> Vec<RemovedBroker> {
        let mut t = self.tables.write();
        let expired: Vec<AddrKey> = t
            .live
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_update) > l.timeout)
            .map(|(k, _)| k.clone())
            .collect();
        remove_addrs(&mut t, expired)
    }

    /// Drops every address that registered on connection `conn_id`.
    pub fn connection_closed(&self, conn_id: u64) -> Vec<RemovedBroker> {
        let mut t = self.tables.write();
        let gone: Vec<AddrKey> = t
            .live
            .iter()
            .filter(|(_, l)| l.conn_id == Some(conn_id))
            .map(|(k, _)| k.clone())
            .collect();
        remove_addrs(&mut t, gone)
    }
}

pub(crate) fn data_version_changed(t: &Tables, key: &AddrKey, version: &DataVersion) -> bool {
    t.live.get(key).is_none_or(|l| l.data_version != *version)
}

/// Unregisters addresses known only by their liveness key, finding the
/// broker name that holds each address in its cluster.
fn remove_addrs(t: &mut Tables, keys: Vec<AddrKey>) -> Vec<RemovedBroker> {
    let mut removed = Vec::new();
    for key in keys {
        let name = t
            .clusters
            .get(&key.cluster)
            .into_iter()
            .flatten()
            .find(|name| {
                t.brokers
                    .get(*name)
                    .is_some_and(|bd| bd.broker_addrs.values().any(|a| *a == key.addr))
            })
            .cloned();
        let broker_name = name.unwrap_or_default();
        unregister_locked(t, &key.cluster, &broker_name, &key.addr);
        tracing::info!(cluster = %key.cluster, broker = %broker_name, addr = %key.addr, "broker removed from routes");
        removed.push(RemovedBroker {
            cluster: key.cluster,
            broker_name,
            broker_addr: key.addr,
        });
    }
    removed
}

fn unregister_locked(t: &mut Tables, cluster: &str, broker_name: &str, broker_addr: &str) -> bool {
    let key = AddrKey::new(cluster, broker_addr);
    let mut known = t.live.remove(&key).is_some();
    t.filter_servers.remove(&key);
    let Some(bd) = t.brokers.get_mut(broker_name) else {
        return known;
    };
    let before = bd.broker_addrs.len();
    bd.broker_addrs.retain(|_, addr| addr != broker_addr);
    known |= bd.broker_addrs.len() != before;
    if bd.broker_addrs.is_empty() {
        t.brokers.remove(broker_name);
        if let Some(names) = t.clusters.get_mut(cluster) {
            names.remove(broker_name);
            if names.is_empty() {
                t.clusters.remove(cluster);
            }
        }
        t.topics.retain(|_, queues| {
            queues.remove(broker_name);
            !queues.is_empty()
        });
    }
    known
}
