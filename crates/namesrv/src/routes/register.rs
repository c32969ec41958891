//! REGISTER_BROKER and REGISTER_TOPIC_IN_NAMESRV on the route table
//! (remoting-protocol §9.1).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use protocol::body::route::{BrokerData, QueueData, MASTER_ID};
use protocol::body::topic::{TopicConfig, TopicConfigSerializeWrapper, PERM_WRITE};

use super::{data_version_changed, AddrKey, BrokerLive, RouteTable, Tables};
use crate::error::NamesrvError;

/// One REGISTER_BROKER, decoded.
#[derive(Debug, Clone, Default)]
pub struct BrokerRegistration {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addr: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    /// The broker's zone (extField `__ZONE_NAME`), shown in routes.
    pub zone_name: Option<String>,
    /// Expiry after the last registration; the table default when `None`.
    pub timeout: Option<Duration>,
    /// `None` for brokers older than 5.x (no acting-master support).
    pub enable_acting_master: Option<bool>,
    pub topics: TopicConfigSerializeWrapper,
    pub filter_servers: Vec<String>,
    /// The connection the registration came on.
    pub conn_id: Option<u64>,
}

/// What a registering slave learns about its master.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

/// Options of the NameServer that shape registration.
#[derive(Debug, Clone, Copy)]
pub struct RegisterOptions {
    /// Expiry for registrations that do not carry their own.
    pub default_timeout: Duration,
    /// Drop a broker's queues of topics missing from its registration.
    pub delete_topics_not_registered: bool,
}

impl RouteTable {
    /// Registers (or refreshes) a broker address.
    ///
    /// # Errors
    /// [`NamesrvError::RegisterRejected`] when a registration carries a
    /// single topic for an id that never registered in full, or when another
    /// address holds the id with a newer state version.
    pub fn register(
        &self,
        reg: BrokerRegistration,
        opts: RegisterOptions,
        now: Instant,
    ) -> Result<RegisterOutcome, NamesrvError> {
        let mut t = self.tables.write();
        let t = &mut *t;
        t.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let mut first = !t.brokers.contains_key(&reg.broker_name);
        let bd = t
            .brokers
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData::new(&reg.cluster, &reg.broker_name));
        bd.enable_acting_master = reg.enable_acting_master.unwrap_or(false);
        bd.zone_name.clone_from(&reg.zone_name);
        // One address has one id: a slave promoted to master re-registers
        // under id 0 and must lose its old id.
        bd.broker_addrs
            .retain(|id, addr| *addr != reg.broker_addr || *id == reg.broker_id);
        check_replacement(&t.live, bd, &reg)?;
        if !bd.broker_addrs.contains_key(&reg.broker_id) && reg.topics.topic_config_table.len() == 1
        {
            return Err(NamesrvError::RegisterRejected(format!(
                "broker {} id {} at {} sent a single-topic registration before a full one",
                reg.broker_name, reg.broker_id, reg.broker_addr
            )));
        }
        let old = bd
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());
        first |= old.as_deref().is_none_or(str::is_empty);
        let is_master = reg.broker_id == MASTER_ID;
        let min_id = bd
            .broker_addrs
            .keys()
            .next()
            .copied()
            .unwrap_or(reg.broker_id);
        let prime_slave =
            reg.enable_acting_master.is_some() && !is_master && reg.broker_id == min_id;
        let acting = prime_slave && bd.enable_acting_master;
        let key = AddrKey::new(&reg.cluster, &reg.broker_addr);
        if is_master || prime_slave {
            update_topics(
                t,
                &key,
                &reg,
                first,
                acting,
                opts.delete_topics_not_registered,
            );
        }
        let live = BrokerLive {
            last_update: now,
            timeout: reg.timeout.unwrap_or(opts.default_timeout),
            data_version: reg.topics.data_version,
            conn_id: reg.conn_id,
            ha_server_addr: reg.ha_server_addr.clone(),
        };
        if t.live.insert(key.clone(), live).is_none() {
            tracing::info!(cluster = %reg.cluster, broker = %reg.broker_name, id = reg.broker_id, addr = %reg.broker_addr, "broker registered");
        }
        if reg.filter_servers.is_empty() {
            t.filter_servers.remove(&key);
        } else {
            t.filter_servers.insert(key, reg.filter_servers.clone());
        }
        Ok(master_of(t, &reg))
    }

    /// Sets the queues of a topic on existing broker names
    /// (REGISTER_TOPIC_IN_NAMESRV).
    ///
    /// # Errors
    /// [`NamesrvError::UnknownBroker`] when a queue names a broker that is not
    /// registered; nothing is changed then.
    pub fn register_topic(&self, topic: &str, queues: &[QueueData]) -> Result<(), NamesrvError> {
        let mut t = self.tables.write();
        if let Some(q) = queues
            .iter()
            .find(|q| !t.brokers.contains_key(&q.broker_name))
        {
            return Err(NamesrvError::UnknownBroker(q.broker_name.clone()));
        }
        if queues.is_empty() {
            return Ok(());
        }
        let entry = t.topics.entry(topic.to_owned()).or_default();
        for q in queues {
            entry.insert(q.broker_name.clone(), q.clone());
        }
        Ok(())
    }
}

/// Refuses to let a stale broker take an id held by another address with a
/// newer state version (5.x controller mode switches).
fn check_replacement(
    live: &HashMap<AddrKey, BrokerLive>,
    bd: &BrokerData,
    reg: &BrokerRegistration,
) -> Result<(), NamesrvError> {
    let Some(old_addr) = bd.broker_addrs.get(&reg.broker_id) else {
        return Ok(());
    };
    if *old_addr == reg.broker_addr {
        return Ok(());
    }
    let old_state = live
        .get(&AddrKey::new(&reg.cluster, old_addr))
        .map(|l| l.data_version.state_version);
    match old_state {
        Some(old) if old > reg.topics.data_version.state_version => {
            Err(NamesrvError::RegisterRejected(format!(
            "broker {} id {} is held by {old_addr} with state version {old}, newer than {} of {}",
            reg.broker_name, reg.broker_id, reg.topics.data_version.state_version, reg.broker_addr
        )))
        }
        _ => Ok(()),
    }
}

/// Creates or updates the queues of the registered topics when this is the
/// broker's first registration, its DataVersion changed, or a topic lacks its
/// queues on this broker.
fn update_topics(
    t: &mut Tables,
    key: &AddrKey,
    reg: &BrokerRegistration,
    first: bool,
    acting: bool,
    delete_missing: bool,
) {
    let table = &reg.topics.topic_config_table;
    let mapped = reg
        .topics
        .topic_queue_mapping_info_map
        .as_ref()
        .is_some_and(|m| !m.is_empty());
    // Static topics are not supported, so their brokers keep their topics.
    if delete_missing && !mapped {
        let name = &reg.broker_name;
        t.topics.retain(|topic, queues| {
            if !table.contains_key(topic) {
                queues.remove(name);
            }
            !queues.is_empty()
        });
    }
    let version_changed = first || data_version_changed(t, key, &reg.topics.data_version);
    for tc in table.values() {
        let has_queue = t
            .topics
            .get(&tc.topic_name)
            .is_some_and(|q| q.contains_key(&reg.broker_name));
        if version_changed || !has_queue {
            let qd = queue_data(&reg.broker_name, tc, acting);
            t.topics
                .entry(tc.topic_name.clone())
                .or_default()
                .insert(reg.broker_name.clone(), qd);
        }
    }
}

fn queue_data(broker_name: &str, tc: &TopicConfig, acting: bool) -> QueueData {
    // A slave acting as master serves reads only.
    let perm = if acting {
        tc.perm & !PERM_WRITE
    } else {
        tc.perm
    };
    QueueData {
        broker_name: broker_name.to_owned(),
        perm,
        read_queue_nums: tc.read_queue_nums,
        topic_sys_flag: tc.topic_sys_flag,
        write_queue_nums: tc.write_queue_nums,
    }
}

fn master_of(t: &Tables, reg: &BrokerRegistration) -> RegisterOutcome {
    if reg.broker_id == MASTER_ID {
        return RegisterOutcome::default();
    }
    let master = t
        .brokers
        .get(&reg.broker_name)
        .and_then(|bd| bd.master_addr())
        .map(str::to_owned);
    match master.and_then(|m| t.live.get(&AddrKey::new(&reg.cluster, &m)).map(|l| (m, l))) {
        Some((m, live)) => RegisterOutcome {
            master_addr: Some(m),
            ha_server_addr: Some(live.ha_server_addr.clone()),
        },
        None => RegisterOutcome::default(),
    }
}
