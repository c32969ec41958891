//! HEART_BEAT (34) body: which producer and consumer groups a client runs
//! and what each consumer group subscribes to (remoting-protocol §6.2).

use serde::{Deserialize, Serialize};

use crate::body::fastjson;
use crate::body::lenient::{self, name_enum};
use crate::error::ProtocolError;

name_enum! {
    /// How a consumer gets messages (default: the push consumer's).
    #[derive(Default)]
    pub enum ConsumeType {
        /// Pull consumers.
        Actively = "CONSUME_ACTIVELY",
        /// Push consumers.
        #[default]
        Passively = "CONSUME_PASSIVELY",
        /// 5.x pop consumers.
        Pop = "CONSUME_POP",
    }
}

name_enum! {
    /// Whether a group shares queues (clustering) or each member reads all.
    #[derive(Default)]
    pub enum MessageModel {
        Broadcasting = "BROADCASTING",
        #[default]
        Clustering = "CLUSTERING",
    }
}

name_enum! {
    /// Where a group with no stored offset starts.
    #[derive(Default)]
    pub enum ConsumeFromWhere {
        #[default]
        LastOffset = "CONSUME_FROM_LAST_OFFSET",
        /// Deprecated in Java, still accepted.
        LastOffsetAndFromMinWhenBootFirst = "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        /// Deprecated in Java, still accepted.
        MinOffset = "CONSUME_FROM_MIN_OFFSET",
        /// Deprecated in Java, still accepted.
        MaxOffset = "CONSUME_FROM_MAX_OFFSET",
        FirstOffset = "CONSUME_FROM_FIRST_OFFSET",
        Timestamp = "CONSUME_FROM_TIMESTAMP",
    }
}

/// The expression type a subscription uses when it names none.
pub const EXPRESSION_TYPE_TAG: &str = "TAG";

fn tag() -> String {
    EXPRESSION_TYPE_TAG.to_owned()
}

/// One topic subscription of a consumer group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionData {
    #[serde(rename = "classFilterMode", default, deserialize_with = "lenient::de")]
    pub class_filter_mode: bool,
    /// Java `String.hashCode()` of each tag.
    #[serde(rename = "codeSet", default, deserialize_with = "lenient::de")]
    pub code_set: Vec<i32>,
    /// `TAG` or `SQL92`; empty means `TAG`.
    #[serde(
        rename = "expressionType",
        default = "tag",
        deserialize_with = "lenient::de"
    )]
    pub expression_type: String,
    /// The expression: `*`, `a || b`, or SQL92 text.
    #[serde(rename = "subString", default, deserialize_with = "lenient::de")]
    pub sub_string: String,
    /// A ms timestamp that only grows.
    #[serde(rename = "subVersion", default, deserialize_with = "lenient::de")]
    pub sub_version: i64,
    #[serde(rename = "tagsSet", default, deserialize_with = "lenient::de")]
    pub tags_set: Vec<String>,
    #[serde(default, deserialize_with = "lenient::de")]
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        SubscriptionData {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: tag(),
            sub_string: String::new(),
            sub_version: 0,
            tags_set: Vec::new(),
            topic: String::new(),
        }
    }
}

/// A consumer group as one client runs it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsumerData {
    #[serde(rename = "consumeFromWhere", default)]
    pub consume_from_where: ConsumeFromWhere,
    #[serde(rename = "consumeType", default)]
    pub consume_type: ConsumeType,
    #[serde(rename = "groupName", default, deserialize_with = "lenient::de")]
    pub group_name: String,
    #[serde(rename = "messageModel", default)]
    pub message_model: MessageModel,
    #[serde(
        rename = "subscriptionDataSet",
        default,
        deserialize_with = "nullable_list"
    )]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(rename = "unitMode", default, deserialize_with = "lenient::de")]
    pub unit_mode: bool,
}

/// A producer group as one client runs it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProducerData {
    #[serde(rename = "groupName", default, deserialize_with = "lenient::de")]
    pub group_name: String,
}

/// HEART_BEAT body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HeartbeatData {
    /// `ip@pid` (or `ip@instanceName`), the client's identity.
    #[serde(rename = "clientID", default, deserialize_with = "lenient::de")]
    pub client_id: String,
    #[serde(
        rename = "consumerDataSet",
        default,
        deserialize_with = "nullable_list"
    )]
    pub consumer_data_set: Vec<ConsumerData>,
    /// 5.x heartbeat-V2 fingerprint; 4.x clients leave it out (0).
    #[serde(
        rename = "heartbeatFingerprint",
        default,
        deserialize_with = "lenient::de"
    )]
    pub heartbeat_fingerprint: i32,
    #[serde(
        rename = "producerDataSet",
        default,
        deserialize_with = "nullable_list"
    )]
    pub producer_data_set: Vec<ProducerData>,
    /// 5.x: true when the subscriptions are left out because unchanged.
    #[serde(rename = "withoutSub", default, deserialize_with = "lenient::de")]
    pub without_sub: bool,
}

/// A list that a client may send as `null`.
pub(crate) fn nullable_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl HeartbeatData {
    /// Compact JSON, keys sorted, as a Java 5.x client writes it.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        fastjson::to_bytes(self)
    }

    /// Parses what any client sends.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        fastjson::parse_object(bytes, "HeartbeatData")
    }
}

impl SubscriptionData {
    /// Compact JSON, keys sorted.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        fastjson::to_bytes(self)
    }

    /// Parses one subscription object.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        fastjson::parse_object(bytes, "SubscriptionData")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAVA: &str = r#"{"clientID":"10.0.0.9@12345","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"G1","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"T1"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"PG1"},{"groupName":"CLIENT_INNER_PRODUCER"}],"withoutSub":false}"#;

    fn sample() -> HeartbeatData {
        HeartbeatData {
            client_id: "10.0.0.9@12345".into(),
            consumer_data_set: vec![ConsumerData {
                consume_from_where: ConsumeFromWhere::LastOffset,
                consume_type: ConsumeType::Passively,
                group_name: "G1".into(),
                message_model: MessageModel::Clustering,
                subscription_data_set: vec![SubscriptionData {
                    code_set: vec![2598919, 2598920],
                    sub_string: "TagA || TagB".into(),
                    sub_version: 1_700_000_000_000,
                    tags_set: vec!["TagA".into(), "TagB".into()],
                    topic: "T1".into(),
                    ..SubscriptionData::default()
                }],
                unit_mode: false,
            }],
            heartbeat_fingerprint: 0,
            producer_data_set: vec![
                ProducerData {
                    group_name: "PG1".into(),
                },
                ProducerData {
                    group_name: "CLIENT_INNER_PRODUCER".into(),
                },
            ],
            without_sub: false,
        }
    }

    #[test]
    fn golden_java_heartbeat() {
        assert_eq!(
            String::from_utf8(sample().to_json_bytes().unwrap()).unwrap(),
            JAVA
        );
        assert_eq!(
            HeartbeatData::from_json_bytes(JAVA.as_bytes()).unwrap(),
            sample()
        );
    }

    #[test]
    fn parses_go_style_heartbeat_with_gaps_and_extras() {
        // Go/ali-ons: no 5.x fields, null sets, subVersion as a string,
        // ordinal enum, unknown keys and an unknown enum name.
        let go = br#"{"clientID":"c@1","producerDataSet":null,"consumerDataSet":[
            {"groupName":"G","consumeType":"CONSUME_ACTIVELY","messageModel":0,
             "consumeFromWhere":"CONSUME_FROM_SOMEWHERE_NEW","unitMode":"false",
             "subscriptionDataSet":[{"topic":"T","subString":"*","subVersion":"17",
               "tagsSet":null,"codeSet":["5"],"expressionType":null,"extra":{1:2}}]}],
            "newField":[1,2]}"#;
        let hb = HeartbeatData::from_json_bytes(go).unwrap();
        assert_eq!(hb.client_id, "c@1");
        assert!(hb.producer_data_set.is_empty());
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_type, ConsumeType::Actively);
        assert_eq!(c.message_model, MessageModel::Broadcasting);
        assert_eq!(
            c.consume_from_where,
            ConsumeFromWhere::Other("CONSUME_FROM_SOMEWHERE_NEW".into())
        );
        let s = &c.subscription_data_set[0];
        assert_eq!((s.sub_version, s.code_set.as_slice()), (17, &[5][..]));
        assert!(s.tags_set.is_empty());
        assert_eq!(s.expression_type, "");
        let missing = SubscriptionData::from_json_bytes(br#"{"topic":"T"}"#).unwrap();
        assert_eq!(missing.expression_type, "TAG");
    }

    #[test]
    fn rejects_malformed_heartbeats() {
        assert!(HeartbeatData::from_json_bytes(b"[]").is_err());
        let err = HeartbeatData::from_json_bytes(br#"{"consumerDataSet":[{"messageModel":9}]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("MessageModel"), "{err}");
        assert!(
            HeartbeatData::from_json_bytes(br#"{"consumerDataSet":[{"messageModel":true}]}"#)
                .is_err()
        );
    }

    #[test]
    fn enum_names_and_ordinals() {
        assert_eq!(
            ConsumeFromWhere::from_ordinal(4),
            Some(ConsumeFromWhere::FirstOffset)
        );
        assert_eq!(ConsumeFromWhere::Timestamp.name(), "CONSUME_FROM_TIMESTAMP");
        assert_eq!(ConsumeType::from_name("CONSUME_POP"), ConsumeType::Pop);
        assert_eq!(ConsumeType::Other("X".into()).name(), "X");
        assert_eq!(MessageModel::from_ordinal(2), None);
    }
}
