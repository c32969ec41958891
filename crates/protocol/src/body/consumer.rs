//! Consumer-group bodies the broker answers with: the member list
//! (GET_CONSUMER_LIST_BY_GROUP 38), the connections of a group
//! (GET_CONSUMER_CONNECTION_LIST 203) and the group's lag per queue
//! (GET_CONSUME_STATS 208).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::body::heartbeat::{
    nullable_list, ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData,
};
use crate::body::lenient::{self, json_body};
use crate::body::{fastjson, mq_map, MessageQueue};
use crate::error::ProtocolError;

/// GET_CONSUMER_LIST_BY_GROUP response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerList {
    #[serde(rename = "consumerIdList", default, deserialize_with = "nullable_list")]
    pub consumer_id_list: Vec<String>,
}

/// One client channel of a group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connection {
    #[serde(rename = "clientAddr", default, deserialize_with = "lenient::de")]
    pub client_addr: String,
    #[serde(rename = "clientId", default, deserialize_with = "lenient::de")]
    pub client_id: String,
    /// The client's LanguageCode name (`JAVA`, `GO`, `CPP`, …).
    #[serde(default, deserialize_with = "lenient::de")]
    pub language: String,
    /// The client's MQVersion ordinal.
    #[serde(default, deserialize_with = "lenient::de")]
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsumerConnection {
    #[serde(rename = "connectionSet", default, deserialize_with = "nullable_list")]
    pub connection_set: Vec<Connection>,
    #[serde(rename = "consumeFromWhere", default)]
    pub consume_from_where: ConsumeFromWhere,
    #[serde(rename = "consumeType", default)]
    pub consume_type: ConsumeType,
    #[serde(rename = "messageModel", default)]
    pub message_model: MessageModel,
    /// topic → subscription.
    #[serde(rename = "subscriptionTable", default)]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

json_body!(ConsumerList => "ConsumerList", ConsumerConnection => "ConsumerConnection");

/// Offsets of one queue for one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OffsetWrapper {
    /// The queue's max offset on the broker.
    #[serde(rename = "brokerOffset", default, deserialize_with = "lenient::de")]
    pub broker_offset: i64,
    /// The group's committed offset.
    #[serde(rename = "consumerOffset", default, deserialize_with = "lenient::de")]
    pub consumer_offset: i64,
    /// Store time (ms) of the last consumed message, 0 if unknown.
    #[serde(rename = "lastTimestamp", default, deserialize_with = "lenient::de")]
    pub last_timestamp: i64,
    /// The offset of the group's latest pull.
    #[serde(rename = "pullOffset", default, deserialize_with = "lenient::de")]
    pub pull_offset: i64,
}

/// GET_CONSUME_STATS response body:
/// `{"consumeTps":0.0,"offsetTable":{{MQ}:OffsetWrapper,…}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsumeStats {
    #[serde(rename = "consumeTps", default, deserialize_with = "lenient::de")]
    pub consume_tps: f64,
    #[serde(skip)]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl ConsumeStats {
    /// fastjson's form, with queue objects as map keys.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        let table = mq_map::mq_map_json(&self.offset_table)?;
        fastjson::object_with_raw(self, &[("offsetTable", table)]).map(String::into_bytes)
    }

    /// Parses fastjson's form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let (mut stats, table): (Self, _) =
            mq_map::parse_with_mq_map(bytes, "ConsumeStats", "offsetTable")?;
        stats.offset_table = table;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Result<Vec<u8>, ProtocolError>) -> String {
        String::from_utf8(bytes.unwrap()).unwrap()
    }

    #[test]
    fn consumer_list() {
        let list = ConsumerList {
            consumer_id_list: vec!["10.0.0.9@12345".into(), "10.0.0.8@999".into()],
        };
        let json = r#"{"consumerIdList":["10.0.0.9@12345","10.0.0.8@999"]}"#;
        assert_eq!(text(list.to_json_bytes()), json);
        assert_eq!(
            ConsumerList::from_json_bytes(json.as_bytes()).unwrap(),
            list
        );
        assert!(ConsumerList::from_json_bytes(b"{}")
            .unwrap()
            .consumer_id_list
            .is_empty());
    }

    #[test]
    fn consumer_connection() {
        let mut conn = ConsumerConnection {
            connection_set: vec![Connection {
                client_addr: "10.0.0.9:50000".into(),
                client_id: "10.0.0.9@1".into(),
                language: "JAVA".into(),
                version: 479,
            }],
            ..ConsumerConnection::default()
        };
        conn.subscription_table.insert(
            "T".into(),
            SubscriptionData {
                sub_string: "*".into(),
                topic: "T".into(),
                ..SubscriptionData::default()
            },
        );
        let json = r#"{"connectionSet":[{"clientAddr":"10.0.0.9:50000","clientId":"10.0.0.9@1","language":"JAVA","version":479}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"T":{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":0,"tagsSet":[],"topic":"T"}}}"#;
        assert_eq!(text(conn.to_json_bytes()), json);
        assert_eq!(
            ConsumerConnection::from_json_bytes(json.as_bytes()).unwrap(),
            conn
        );
        let loose = ConsumerConnection::from_json_bytes(
            br#"{"connectionSet":[{"clientId":"c","version":"479","language":"GO"}]}"#,
        )
        .unwrap();
        assert_eq!(loose.connection_set[0].version, 479);
    }

    #[test]
    fn consume_stats_golden_and_fastjson_parse() {
        let mut stats = ConsumeStats::default();
        stats.offset_table.insert(
            MessageQueue::new("T", "b1", 1),
            OffsetWrapper {
                broker_offset: 5,
                consumer_offset: 5,
                last_timestamp: 0,
                pull_offset: 5,
            },
        );
        stats.offset_table.insert(
            MessageQueue::new("T", "b1", 0),
            OffsetWrapper {
                broker_offset: 100,
                consumer_offset: 90,
                last_timestamp: 7,
                pull_offset: 95,
            },
        );
        let json = r#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"b1","queueId":0,"topic":"T"}:{"brokerOffset":100,"consumerOffset":90,"lastTimestamp":7,"pullOffset":95},{"brokerName":"b1","queueId":1,"topic":"T"}:{"brokerOffset":5,"consumerOffset":5,"lastTimestamp":0,"pullOffset":5}}}"#;
        assert_eq!(text(stats.to_json_bytes()), json);
        assert_eq!(
            ConsumeStats::from_json_bytes(json.as_bytes()).unwrap(),
            stats
        );
        // Java's HashMap order, keys in Java's field order, tps as a string.
        let java = br#"{"offsetTable":{{"topic":"T","brokerName":"b1","queueId":1}:{"brokerOffset":5,"consumerOffset":5,"lastTimestamp":0,"pullOffset":5},{"brokerName":"b1","queueId":0,"topic":"T"}:{"brokerOffset":100,"consumerOffset":90,"lastTimestamp":7,"pullOffset":95}},"consumeTps":"0"}"#;
        assert_eq!(ConsumeStats::from_json_bytes(java).unwrap(), stats);
        let err =
            ConsumeStats::from_json_bytes(br#"{"offsetTable":{{"queueId":"x"}:{}}}"#).unwrap_err();
        assert!(
            err.to_string().contains("ConsumeStats.offsetTable"),
            "{err}"
        );
    }
}
