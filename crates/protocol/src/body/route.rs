//! Route bodies: TopicRouteData (GET_ROUTEINFO_BY_TOPIC, REGISTER_TOPIC_IN_NAMESRV),
//! QueueData and BrokerData.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fastjson::parse_object as from_json;
use super::topic::to_json;
use crate::error::ProtocolError;

/// The broker id of a master.
pub const MASTER_ID: i64 = 0;

/// One broker name's queues of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    pub broker_name: String,
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

/// The addresses of one broker name (a master and its slaves), keyed by
/// broker id. Written with quoted keys; bare integer keys are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
    pub enable_acting_master: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// An empty broker of a cluster.
    pub fn new(cluster: impl Into<String>, broker_name: impl Into<String>) -> Self {
        BrokerData {
            cluster: cluster.into(),
            broker_name: broker_name.into(),
            ..BrokerData::default()
        }
    }

    /// The master's address (id 0), if registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// The route of a topic: which brokers hold it and with how many queues.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    pub broker_datas: Vec<BrokerData>,
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `"brokerA:4;brokerB:4"`: present only for ordered topics configured
    /// on the NameServer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
    /// Static-topic mappings (5.x), kept opaque. We never emit it: a Java
    /// client that sees it non-empty switches to static-topic routing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<BTreeMap<String, Value>>,
}

impl TopicRouteData {
    /// Compact JSON with quoted broker-id keys (every client parses these).
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON, standard or fastjson's bare-key form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "TopicRouteData")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;

    fn sample() -> TopicRouteData {
        let mut bd = BrokerData::new("DefaultCluster", "broker-a");
        bd.broker_addrs.insert(0, "10.0.0.1:10911".into());
        bd.broker_addrs.insert(1, "10.0.0.2:10911".into());
        TopicRouteData {
            broker_datas: vec![bd],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm: 6,
                read_queue_nums: 4,
                topic_sys_flag: 0,
                write_queue_nums: 4,
            }],
            ..TopicRouteData::default()
        }
    }

    #[test]
    fn golden_json() {
        assert_eq!(String::from_utf8(sample().encode()).unwrap(), GOLDEN);
        assert_eq!(TopicRouteData::decode(GOLDEN.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn parses_fastjson_bare_keys_and_optional_fields() {
        let fastjson = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
        let route = TopicRouteData::decode(fastjson.as_bytes()).unwrap();
        assert_eq!(route, sample());
        assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    }

    #[test]
    fn optional_keys_round_trip() {
        let mut r = sample();
        r.order_topic_conf = Some("broker-a:4".into());
        r.broker_datas[0].zone_name = Some("z1".into());
        r.broker_datas[0].enable_acting_master = true;
        r.filter_server_table
            .insert("10.0.0.1:10911".into(), vec!["10.0.0.1:30000".into()]);
        let json = String::from_utf8(r.encode()).unwrap();
        assert!(
            json.contains(r#""enableActingMaster":true,"zoneName":"z1"}"#),
            "{json}"
        );
        assert!(
            json.contains(r#","orderTopicConf":"broker-a:4","queueDatas""#),
            "{json}"
        );
        assert_eq!(TopicRouteData::decode(json.as_bytes()).unwrap(), r);
    }
}
