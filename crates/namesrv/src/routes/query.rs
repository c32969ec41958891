//! Reads of the route table (routes, cluster info, topic lists) and the
//! admin edits of topics and permissions.

use protocol::body::cluster::{BrokerMemberGroup, ClusterInfo};
use protocol::body::route::TopicRouteData;
use protocol::body::topic::{
    TopicList, PERM_READ, PERM_WRITE, TOPIC_SYS_FLAG_UNIT, TOPIC_SYS_FLAG_UNIT_SUB,
};

use super::{AddrKey, RouteTable};

/// Which unit-topic list to build (GET_UNIT_TOPIC_LIST and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitTopicKind {
    /// Topics flagged as unit topics.
    Unit,
    /// Topics with unit subscriptions.
    HasUnitSub,
    /// Non-unit topics with unit subscriptions.
    HasUnitSubNotUnit,
}

impl UnitTopicKind {
    fn matches(self, flag: i32) -> bool {
        let unit = flag & TOPIC_SYS_FLAG_UNIT != 0;
        let sub = flag & TOPIC_SYS_FLAG_UNIT_SUB != 0;
        match self {
            UnitTopicKind::Unit => unit,
            UnitTopicKind::HasUnitSub => sub,
            UnitTopicKind::HasUnitSubNotUnit => sub && !unit,
        }
    }
}

impl RouteTable {
    /// The route of a topic, or `None` when no live broker holds it. Queue
    /// and broker datas come sorted by broker name.
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        let t = self.tables.read();
        let queues = t.topics.get(topic)?;
        let mut route = TopicRouteData {
            queue_datas: queues.values().cloned().collect(),
            ..TopicRouteData::default()
        };
        for name in queues.keys() {
            let Some(bd) = t.brokers.get(name) else {
                continue;
            };
            for addr in bd.broker_addrs.values() {
                let servers = t.filter_servers.get(&AddrKey::new(&bd.cluster, addr));
                if let Some(servers) = servers.filter(|s| !s.is_empty()) {
                    route
                        .filter_server_table
                        .insert(addr.clone(), servers.clone());
                }
            }
            route.broker_datas.push(bd.clone());
        }
        if route.broker_datas.is_empty() || route.queue_datas.is_empty() {
            return None;
        }
        Some(route)
    }

    /// Every broker name with its addresses, and every cluster's names.
    pub fn cluster_info(&self) -> ClusterInfo {
        let t = self.tables.read();
        ClusterInfo {
            broker_addr_table: t.brokers.clone(),
            cluster_addr_table: t.clusters.clone(),
        }
    }

    /// The members of a broker name (GET_BROKER_MEMBER_GROUP).
    pub fn broker_member_group(&self, cluster: &str, broker_name: &str) -> BrokerMemberGroup {
        let t = self.tables.read();
        BrokerMemberGroup {
            broker_addrs: t
                .brokers
                .get(broker_name)
                .map(|bd| bd.broker_addrs.clone())
                .unwrap_or_default(),
            broker_name: broker_name.to_owned(),
            cluster: cluster.to_owned(),
        }
    }

    /// Every topic with a route.
    pub fn all_topics(&self) -> TopicList {
        let t = self.tables.read();
        TopicList {
            broker_addr: None,
            topic_list: t.topics.keys().cloned().collect(),
        }
    }

    /// The topics with queues on some broker of `cluster`.
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let t = self.tables.read();
        let mut list = TopicList::default();
        if let Some(names) = t.clusters.get(cluster) {
            for (topic, queues) in &t.topics {
                if names.iter().any(|n| queues.contains_key(n)) {
                    list.topic_list.insert(topic.clone());
                }
            }
        }
        list
    }

    /// Cluster and broker names, which brokers create as topics, with the
    /// address of one broker (as Java answers GET_SYSTEM_TOPIC_LIST_FROM_NS).
    pub fn system_topics(&self) -> TopicList {
        let t = self.tables.read();
        let mut list = TopicList::default();
        for (cluster, names) in &t.clusters {
            list.topic_list.insert(cluster.clone());
            list.topic_list.extend(names.iter().cloned());
        }
        list.broker_addr = t
            .brokers
            .values()
            .find_map(|bd| bd.broker_addrs.values().next().cloned());
        list
    }

    /// Topics whose (first) queue data carries the unit flags of `kind`.
    pub fn unit_topics(&self, kind: UnitTopicKind) -> TopicList {
        let t = self.tables.read();
        let topic_list = t
            .topics
            .iter()
            .filter(|(_, queues)| {
                queues
                    .values()
                    .next()
                    .is_some_and(|q| kind.matches(q.topic_sys_flag))
            })
            .map(|(topic, _)| topic.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// Removes a topic's route, everywhere or only from the brokers of one
    /// cluster. Returns whether any queue was removed.
    pub fn delete_topic(&self, topic: &str, cluster: Option<&str>) -> bool {
        let mut t = self.tables.write();
        let Some(cluster) = cluster.filter(|c| !c.is_empty()) else {
            return t.topics.remove(topic).is_some();
        };
        let Some(names) = t.clusters.get(cluster).cloned() else {
            return false;
        };
        let Some(queues) = t.topics.get_mut(topic) else {
            return false;
        };
        let before = queues.len();
        queues.retain(|name, _| !names.contains(name));
        let changed = queues.len() != before;
        if queues.is_empty() {
            t.topics.remove(topic);
        }
        changed
    }

    /// Wipes (`wipe`) or restores write permission on every queue of a broker
    /// name. Restoring sets read+write, as Java does. Returns the number of
    /// topics touched.
    pub fn set_write_perm(&self, broker_name: &str, wipe: bool) -> i32 {
        let mut t = self.tables.write();
        let mut count = 0;
        for queues in t.topics.values_mut() {
            if let Some(q) = queues.get_mut(broker_name) {
                q.perm = if wipe {
                    q.perm & !PERM_WRITE
                } else {
                    PERM_READ | PERM_WRITE
                };
                count += 1;
            }
        }
        count
    }
}
