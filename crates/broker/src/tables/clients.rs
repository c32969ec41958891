//! Live clients: consumer groups (members, subscriptions, connections) and
//! producer groups (connections, for transaction check-backs), fed by
//! heartbeats and expired by silence or closed connections.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use protocol::body::heartbeat::{ConsumerData, SubscriptionData};
use remoting::Connection;

/// One client's connection in a group.
#[derive(Clone)]
pub struct ClientChannel {
    pub client_id: String,
    pub conn: Connection,
    pub language: String,
    pub version: i32,
    pub last_update: Instant,
}

/// What a consumer group looks like now.
#[derive(Clone)]
pub struct ConsumerGroup {
    pub data: ConsumerData,
    pub subscriptions: HashMap<String, SubscriptionData>,
    pub channels: HashMap<String, ClientChannel>,
}

/// Consumer and producer groups. Every method takes the lock briefly; the
/// caller sends notifications after it returns.
#[derive(Default)]
pub struct Clients {
    consumers: Mutex<HashMap<String, ConsumerGroup>>,
    producers: Mutex<HashMap<String, HashMap<String, ClientChannel>>>,
}

impl Clients {
    /// Registers (or refreshes) a consumer from a heartbeat. Returns the
    /// connections to notify when the group's membership changed.
    pub fn register_consumer(
        &self,
        data: &ConsumerData,
        channel: ClientChannel,
    ) -> Option<Vec<Connection>> {
        let mut groups = self.consumers.lock();
        let group = groups
            .entry(data.group_name.clone())
            .or_insert_with(|| ConsumerGroup {
                data: data.clone(),
                subscriptions: HashMap::new(),
                channels: HashMap::new(),
            });
        group.data = data.clone();
        for sub in &data.subscription_data_set {
            let newer = group
                .subscriptions
                .get(&sub.topic)
                .is_none_or(|old| old.sub_version <= sub.sub_version);
            if newer {
                group.subscriptions.insert(sub.topic.clone(), sub.clone());
            }
        }
        let is_new = match group.channels.get_mut(&channel.client_id) {
            Some(existing) if existing.conn.id() == channel.conn.id() => {
                existing.last_update = channel.last_update;
                false
            }
            _ => {
                group.channels.insert(channel.client_id.clone(), channel);
                true
            }
        };
        is_new.then(|| group.channels.values().map(|c| c.conn.clone()).collect())
    }

    /// Registers (or refreshes) a producer of a group.
    pub fn register_producer(&self, group: &str, channel: ClientChannel) {
        let mut producers = self.producers.lock();
        producers
            .entry(group.to_owned())
            .or_default()
            .insert(channel.client_id.clone(), channel);
    }

    /// Removes a client from a consumer group. Returns the connections left
    /// to notify when it was a member.
    pub fn unregister_consumer(&self, group: &str, client_id: &str) -> Option<Vec<Connection>> {
        let mut groups = self.consumers.lock();
        let g = groups.get_mut(group)?;
        g.channels.remove(client_id)?;
        let rest: Vec<Connection> = g.channels.values().map(|c| c.conn.clone()).collect();
        if g.channels.is_empty() {
            groups.remove(group);
        }
        Some(rest)
    }

    /// Removes a client from a producer group.
    pub fn unregister_producer(&self, group: &str, client_id: &str) {
        let mut producers = self.producers.lock();
        if let Some(g) = producers.get_mut(group) {
            g.remove(client_id);
            if g.is_empty() {
                producers.remove(group);
            }
        }
    }

    /// Drops every channel on a closed connection; returns, per consumer
    /// group that lost a member, the connections left to notify.
    pub fn connection_closed(&self, conn_id: u64) -> Vec<(String, Vec<Connection>)> {
        self.remove_channels(|c| c.conn.id() == conn_id)
    }

    /// Drops channels silent for longer than `timeout` (same result shape).
    pub fn expire(&self, timeout: Duration) -> Vec<(String, Vec<Connection>)> {
        let now = Instant::now();
        self.remove_channels(|c| now.duration_since(c.last_update) > timeout || c.conn.is_closed())
    }

    fn remove_channels(
        &self,
        dead: impl Fn(&ClientChannel) -> bool,
    ) -> Vec<(String, Vec<Connection>)> {
        let mut changed = Vec::new();
        let mut groups = self.consumers.lock();
        groups.retain(|name, g| {
            let before = g.channels.len();
            g.channels.retain(|_, c| !dead(c));
            if g.channels.len() != before {
                changed.push((
                    name.clone(),
                    g.channels.values().map(|c| c.conn.clone()).collect(),
                ));
            }
            !g.channels.is_empty()
        });
        drop(groups);
        let mut producers = self.producers.lock();
        producers.retain(|_, g| {
            g.retain(|_, c| !dead(c));
            !g.is_empty()
        });
        changed
    }

    /// Client ids of a consumer group, sorted.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let groups = self.consumers.lock();
        let mut ids: Vec<String> = groups
            .get(group)
            .map(|g| g.channels.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// A snapshot of one consumer group.
    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroup> {
        self.consumers.lock().get(group).cloned()
    }

    /// The subscription a group registered for a topic.
    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.consumers
            .lock()
            .get(group)?
            .subscriptions
            .get(topic)
            .cloned()
    }

    /// Names of online consumer groups subscribed to a topic.
    pub fn groups_subscribing(&self, topic: &str) -> Vec<String> {
        let groups = self.consumers.lock();
        let mut names: Vec<String> = groups
            .iter()
            .filter(|(_, g)| g.subscriptions.contains_key(topic))
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    }

    /// Connections of a consumer group (for server-initiated requests).
    pub fn consumer_connections(&self, group: &str) -> Vec<ClientChannel> {
        self.consumers
            .lock()
            .get(group)
            .map(|g| g.channels.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A live connection of a producer group (for transaction check-backs).
    pub fn any_producer(&self, group: &str) -> Option<ClientChannel> {
        self.producers
            .lock()
            .get(group)?
            .values()
            .find(|c| !c.conn.is_closed())
            .cloned()
    }

    /// Names of the producer groups with connections (for `/metrics`).
    pub fn producer_group_names(&self) -> Vec<String> {
        self.producers.lock().keys().cloned().collect()
    }

    /// Every producer group and its channels (GET_ALL_PRODUCER_INFO).
    pub fn producer_groups(&self) -> Vec<(String, Vec<ClientChannel>)> {
        let mut all: Vec<(String, Vec<ClientChannel>)> = self
            .producers
            .lock()
            .iter()
            .map(|(g, m)| (g.clone(), m.values().cloned().collect()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The channel of one client in a consumer group.
    pub fn consumer_channel(&self, group: &str, client_id: &str) -> Option<ClientChannel> {
        self.consumers
            .lock()
            .get(group)?
            .channels
            .get(client_id)
            .cloned()
    }

    /// Connections of a producer group.
    pub fn producer_connections(&self, group: &str) -> Vec<ClientChannel> {
        self.producers
            .lock()
            .get(group)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default()
    }
}
