//! Topic routes as the client uses them: the NameServer's `TopicRouteData`
//! turned into the queues a producer may write and a consumer may read.

use std::collections::BTreeMap;

use protocol::body::route::{BrokerData, TopicRouteData};
use protocol::body::MessageQueue;
use protocol::message::sysflag::perm;

/// The broker id of a master.
pub const MASTER_ID: i64 = 0;

/// A topic's route and the queues derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRoute {
    /// The topic.
    pub topic: String,
    /// The NameServer's answer.
    pub data: TopicRouteData,
    /// Writable queues whose broker has a master, by broker name then id.
    pub write_queues: Vec<MessageQueue>,
    /// Readable queues, by broker name then id.
    pub read_queues: Vec<MessageQueue>,
}

impl TopicRoute {
    /// Derives the queue lists of `topic` from its route.
    pub fn new(topic: &str, data: TopicRouteData) -> Self {
        let write_queues = match data.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
            Some(conf) => ordered_write_queues(topic, conf),
            None => write_queues(topic, &data),
        };
        let read_queues = read_queues(topic, &data);
        TopicRoute {
            topic: topic.to_string(),
            data,
            write_queues,
            read_queues,
        }
    }

    /// A route for a topic the NameServer does not know yet, built from the
    /// auto-create template's route: each broker that may create topics
    /// (inherit permission) offers `min(queue_nums, template queues)`.
    pub fn from_template(topic: &str, template: &TopicRouteData, queue_nums: i32) -> Self {
        let mut data = template.clone();
        data.queue_datas.retain(|q| perm::is_inherited(q.perm));
        for q in &mut data.queue_datas {
            let n = queue_nums.min(q.read_queue_nums).max(1);
            q.read_queue_nums = n;
            q.write_queue_nums = n;
            q.perm = perm::READ_WRITE;
        }
        TopicRoute::new(topic, data)
    }

    /// The broker entry of `broker_name`.
    pub fn broker(&self, broker_name: &str) -> Option<&BrokerData> {
        self.data
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
    }
}

fn has_master(data: &TopicRouteData, broker_name: &str) -> bool {
    data.broker_datas
        .iter()
        .any(|b| b.broker_name == broker_name && b.broker_addrs.contains_key(&MASTER_ID))
}

fn write_queues(topic: &str, data: &TopicRouteData) -> Vec<MessageQueue> {
    let mut qds: Vec<_> = data
        .queue_datas
        .iter()
        .filter(|q| perm::is_writeable(q.perm) && has_master(data, &q.broker_name))
        .collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    qds.iter()
        .flat_map(|q| {
            (0..q.write_queue_nums.max(0))
                .map(|i| MessageQueue::new(topic, q.broker_name.clone(), i))
        })
        .collect()
}

/// `"brokerA:4;brokerB:4"`, the NameServer's ordered-topic configuration.
fn ordered_write_queues(topic: &str, conf: &str) -> Vec<MessageQueue> {
    conf.split(';')
        .filter_map(|part| {
            let (broker, n) = part.split_once(':')?;
            Some((broker.trim().to_string(), n.trim().parse::<i32>().ok()?))
        })
        .flat_map(|(broker, n)| {
            (0..n.max(0)).map(move |i| MessageQueue::new(topic, broker.clone(), i))
        })
        .collect()
}

fn read_queues(topic: &str, data: &TopicRouteData) -> Vec<MessageQueue> {
    let mut out: Vec<MessageQueue> = data
        .queue_datas
        .iter()
        .filter(|q| perm::is_readable(q.perm))
        .flat_map(|q| {
            (0..q.read_queue_nums.max(0))
                .map(|i| MessageQueue::new(topic, q.broker_name.clone(), i))
        })
        .collect();
    out.sort();
    out
}

/// Broker name → (broker id → address), merged from every route seen.
pub(crate) type BrokerAddrTable = BTreeMap<String, BTreeMap<i64, String>>;

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::body::route::QueueData;

    fn route() -> TopicRouteData {
        let mut a = BrokerData::new("C", "broker-a");
        a.broker_addrs.insert(0, "10.0.0.1:10911".into());
        let mut b = BrokerData::new("C", "broker-b");
        b.broker_addrs.insert(1, "10.0.0.2:10911".into()); // slave only
        TopicRouteData {
            broker_datas: vec![a, b],
            queue_datas: vec![
                QueueData {
                    broker_name: "broker-b".into(),
                    perm: 6,
                    read_queue_nums: 2,
                    topic_sys_flag: 0,
                    write_queue_nums: 2,
                },
                QueueData {
                    broker_name: "broker-a".into(),
                    perm: 6,
                    read_queue_nums: 3,
                    topic_sys_flag: 0,
                    write_queue_nums: 2,
                },
            ],
            ..TopicRouteData::default()
        }
    }

    #[test]
    fn derives_queues() {
        let r = TopicRoute::new("T", route());
        let w: Vec<_> = r
            .write_queues
            .iter()
            .map(|q| (q.broker_name.as_str(), q.queue_id))
            .collect();
        assert_eq!(w, vec![("broker-a", 0), ("broker-a", 1)], "no master for b");
        assert_eq!(r.read_queues.len(), 5);
        assert_eq!(r.read_queues[0], MessageQueue::new("T", "broker-a", 0));
        assert_eq!(r.read_queues[4], MessageQueue::new("T", "broker-b", 1));
    }

    #[test]
    fn ordered_conf_wins() {
        let mut data = route();
        data.order_topic_conf = Some("broker-b:2;broker-a:1".into());
        let r = TopicRoute::new("T", data);
        assert_eq!(r.write_queues.len(), 3);
        assert_eq!(r.write_queues[0], MessageQueue::new("T", "broker-b", 0));
    }

    #[test]
    fn template_route_caps_queue_count() {
        let mut data = route();
        for q in &mut data.queue_datas {
            q.perm = 7;
            q.read_queue_nums = 8;
            q.write_queue_nums = 8;
        }
        data.queue_datas[0].perm = 6; // broker-b may not auto-create
        let r = TopicRoute::from_template("New", &data, 4);
        assert_eq!(r.write_queues.len(), 4);
        assert!(r
            .write_queues
            .iter()
            .all(|q| q.broker_name == "broker-a" && q.topic == "New"));
    }
}
