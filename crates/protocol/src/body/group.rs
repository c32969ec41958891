//! Subscription-group configuration and the offset tables that mqadmin and
//! slaves fetch: SubscriptionGroupConfig (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
//! 200, GET_SUBSCRIPTIONGROUP_CONFIG 352), SubscriptionGroupWrapper
//! (GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201), ConsumerOffsetSerializeWrapper
//! (GET_ALL_CONSUMER_OFFSET 43, also consumerOffset.json) and the delay
//! offsets (GET_ALL_DELAY_OFFSET 45, also delayOffset.json).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::fastjson;
use crate::body::lenient::{self, json_body};
use crate::error::ProtocolError;

/// A 5.x simplified subscription kept in a group's config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SimpleSubscriptionData {
    #[serde(default, deserialize_with = "lenient::de")]
    pub expression: String,
    #[serde(rename = "expressionType", default, deserialize_with = "lenient::de")]
    pub expression_type: String,
    #[serde(default, deserialize_with = "lenient::de")]
    pub topic: String,
    #[serde(default, deserialize_with = "lenient::de")]
    pub version: i64,
}

/// A consumer group's broker-side configuration; a missing field takes the
/// Java default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscriptionGroupConfig {
    #[serde(deserialize_with = "lenient::de")]
    pub attributes: BTreeMap<String, String>,
    #[serde(rename = "brokerId", deserialize_with = "lenient::de")]
    pub broker_id: i64,
    #[serde(rename = "consumeBroadcastEnable", deserialize_with = "lenient::de")]
    pub consume_broadcast_enable: bool,
    #[serde(rename = "consumeEnable", deserialize_with = "lenient::de")]
    pub consume_enable: bool,
    #[serde(rename = "consumeFromMinEnable", deserialize_with = "lenient::de")]
    pub consume_from_min_enable: bool,
    #[serde(rename = "consumeMessageOrderly", deserialize_with = "lenient::de")]
    pub consume_message_orderly: bool,
    #[serde(rename = "consumeTimeoutMinute", deserialize_with = "lenient::de")]
    pub consume_timeout_minute: i32,
    #[serde(rename = "groupName", deserialize_with = "lenient::de")]
    pub group_name: String,
    /// 5.x retry policy, kept as sent (Java's default is
    /// `{"type":"CUSTOMIZED"}`); the broker only needs retryMaxTimes.
    #[serde(rename = "groupRetryPolicy", skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<Value>,
    #[serde(rename = "groupSysFlag", deserialize_with = "lenient::de")]
    pub group_sys_flag: i32,
    #[serde(
        rename = "notifyConsumerIdsChangedEnable",
        deserialize_with = "lenient::de"
    )]
    pub notify_consumer_ids_changed_enable: bool,
    #[serde(rename = "retryMaxTimes", deserialize_with = "lenient::de")]
    pub retry_max_times: i32,
    #[serde(rename = "retryQueueNums", deserialize_with = "lenient::de")]
    pub retry_queue_nums: i32,
    #[serde(
        rename = "subscriptionDataSet",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_list"
    )]
    pub subscription_data_set: Option<Vec<SimpleSubscriptionData>>,
    #[serde(
        rename = "whichBrokerWhenConsumeSlowly",
        deserialize_with = "lenient::de"
    )]
    pub which_broker_when_consume_slowly: i64,
}

fn opt_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<SimpleSubscriptionData>>, D::Error> {
    Option::<Vec<SimpleSubscriptionData>>::deserialize(d)
}

impl lenient::Lenient for BTreeMap<String, String> {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(BTreeMap::new()),
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| String::from_json(v).map(|v| (k, v)))
                .collect(),
            other => Err(format!("expected an object of strings, found {other}")),
        }
    }
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_retry_policy: Some(serde_json::json!({"type": "CUSTOMIZED"})),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with every Java default.
    pub fn new(group_name: impl Into<String>) -> Self {
        SubscriptionGroupConfig {
            group_name: group_name.into(),
            ..SubscriptionGroupConfig::default()
        }
    }
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SubscriptionGroupWrapper {
    /// The DataVersion object `{"counter":…,"stateVersion":…,"timestamp":…}`,
    /// kept as JSON here (its type belongs to the topic-config bodies).
    #[serde(
        rename = "dataVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_version: Option<Value>,
    #[serde(rename = "subscriptionGroupTable", default)]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

json_body!(
    SubscriptionGroupConfig => "SubscriptionGroupConfig",
    SubscriptionGroupWrapper => "SubscriptionGroupWrapper"
);

/// `{"offsetTable":{"topic@group":{queueId:offset}}}`; consumerOffset.json
/// and GET_ALL_CONSUMER_OFFSET. Queue ids are unquoted, as fastjson writes
/// `Map<Integer,Long>`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsumerOffsetSerializeWrapper {
    /// 5.x adds a DataVersion (kept as JSON).
    #[serde(
        rename = "dataVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_version: Option<Value>,
    #[serde(skip)]
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl ConsumerOffsetSerializeWrapper {
    /// fastjson's form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut table = String::from("{");
        for (i, (key, queues)) in self.offset_table.iter().enumerate() {
            if i > 0 {
                table.push(',');
            }
            table.push_str(&Value::String(key.clone()).to_string());
            table.push(':');
            table.push_str(&fastjson::int_map_json(queues)?);
        }
        table.push('}');
        fastjson::object_with_raw(self, &[("offsetTable", table)]).map(String::into_bytes)
    }

    /// Parses fastjson's form (or standard JSON with quoted queue ids).
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let what = "ConsumerOffsetSerializeWrapper";
        let mut value = fastjson::parse_object_value(bytes, what)?;
        let table = match fastjson::take(&mut value, "offsetTable") {
            None => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(ProtocolError::BadBody(format!(
                    "{what}.offsetTable must be an object"
                )))
            }
        };
        let mut out: Self = fastjson::from_value(value, what)?;
        for (key, queues) in table {
            let queues =
                fastjson::int_map_from_value(Some(queues), &format!("{what}.offsetTable[{key}]"))?;
            out.offset_table.insert(key, queues);
        }
        Ok(out)
    }
}

/// `{"offsetTable":{level:offset}}`; delayOffset.json and GET_ALL_DELAY_OFFSET.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DelayOffsetSerializeWrapper {
    /// 5.x adds a DataVersion (kept as JSON).
    #[serde(
        rename = "dataVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_version: Option<Value>,
    #[serde(skip)]
    pub offset_table: BTreeMap<i32, i64>,
}

impl DelayOffsetSerializeWrapper {
    /// fastjson's form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        let table = fastjson::int_map_json(&self.offset_table)?;
        fastjson::object_with_raw(self, &[("offsetTable", table)]).map(String::into_bytes)
    }

    /// Parses fastjson's form (or standard JSON with quoted levels).
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let what = "DelayOffsetSerializeWrapper";
        let mut value = fastjson::parse_object_value(bytes, what)?;
        let table = fastjson::take(&mut value, "offsetTable");
        let mut out: Self = fastjson::from_value(value, what)?;
        out.offset_table = fastjson::int_map_from_value(table, &format!("{what}.offsetTable"))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Result<Vec<u8>, ProtocolError>) -> String {
        String::from_utf8(bytes.unwrap()).unwrap()
    }

    const DEFAULT_G1: &str = r#"{"attributes":{},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"G1","groupRetryPolicy":{"type":"CUSTOMIZED"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#;

    #[test]
    fn subscription_group_defaults_golden() {
        assert_eq!(
            text(SubscriptionGroupConfig::new("G1").to_json_bytes()),
            DEFAULT_G1
        );
        assert_eq!(
            SubscriptionGroupConfig::from_json_bytes(DEFAULT_G1.as_bytes()).unwrap(),
            SubscriptionGroupConfig::new("G1")
        );
    }

    #[test]
    fn subscription_group_from_old_and_loose_senders() {
        // A 4.x admin: no 5.x fields, numbers as strings, extra keys.
        let g = SubscriptionGroupConfig::from_json_bytes(
            br#"{"groupName":"G2","retryMaxTimes":"3","consumeEnable":"false","brokerId":1,"whatever":[1]}"#,
        )
        .unwrap();
        assert_eq!(g.group_name, "G2");
        assert_eq!(g.retry_max_times, 3);
        assert!(!g.consume_enable);
        assert_eq!(g.broker_id, 1);
        assert_eq!(g.retry_queue_nums, 1);
        assert!(g.consume_broadcast_enable);
        let with_subs = SubscriptionGroupConfig::from_json_bytes(
            br#"{"groupName":"G","subscriptionDataSet":[{"topic":"T","expressionType":"TAG","expression":"*","version":1}],"attributes":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(
            with_subs.subscription_data_set.as_ref().unwrap()[0].topic,
            "T"
        );
        assert_eq!(with_subs.attributes["a"], "1");
        assert!(SubscriptionGroupConfig::from_json_bytes(br#"{"retryMaxTimes":"x"}"#).is_err());
    }

    #[test]
    fn subscription_group_wrapper() {
        let mut w = SubscriptionGroupWrapper {
            data_version: Some(serde_json::json!({"counter":2,"timestamp":5})),
            ..SubscriptionGroupWrapper::default()
        };
        w.subscription_group_table
            .insert("G1".into(), SubscriptionGroupConfig::new("G1"));
        let json = format!(
            r#"{{"dataVersion":{{"counter":2,"timestamp":5}},"subscriptionGroupTable":{{"G1":{DEFAULT_G1}}}}}"#
        );
        assert_eq!(text(w.to_json_bytes()), json);
        assert_eq!(
            SubscriptionGroupWrapper::from_json_bytes(json.as_bytes()).unwrap(),
            w
        );
    }

    #[test]
    fn consumer_offsets_with_unquoted_queue_ids() {
        let mut w = ConsumerOffsetSerializeWrapper::default();
        w.offset_table
            .insert("T@G".into(), [(0, 250), (1, 7)].into_iter().collect());
        w.offset_table
            .insert("%RETRY%G@G".into(), [(0, 0)].into_iter().collect());
        let json = r#"{"offsetTable":{"%RETRY%G@G":{0:0},"T@G":{0:250,1:7}}}"#;
        assert_eq!(text(w.to_json_bytes()), json);
        assert_eq!(
            ConsumerOffsetSerializeWrapper::from_json_bytes(json.as_bytes()).unwrap(),
            w
        );
        let quoted =
            br#"{"offsetTable":{"T@G":{"1":"7","0":250},"%RETRY%G@G":{"0":0}},"dataVersion":null}"#;
        assert_eq!(
            ConsumerOffsetSerializeWrapper::from_json_bytes(quoted).unwrap(),
            w
        );
        let err =
            ConsumerOffsetSerializeWrapper::from_json_bytes(br#"{"offsetTable":{"T@G":{a:1}}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("T@G"), "{err}");
    }

    #[test]
    fn delay_offsets() {
        let mut w = DelayOffsetSerializeWrapper::default();
        w.offset_table.insert(1, 12);
        w.offset_table.insert(18, 0);
        let json = r#"{"offsetTable":{1:12,18:0}}"#;
        assert_eq!(text(w.to_json_bytes()), json);
        assert_eq!(
            DelayOffsetSerializeWrapper::from_json_bytes(json.as_bytes()).unwrap(),
            w
        );
        w.data_version = Some(serde_json::json!({"counter":1}));
        let json = r#"{"dataVersion":{"counter":1},"offsetTable":{1:12,18:0}}"#;
        assert_eq!(text(w.to_json_bytes()), json);
        assert_eq!(
            DelayOffsetSerializeWrapper::from_json_bytes(json.as_bytes()).unwrap(),
            w
        );
        assert!(
            DelayOffsetSerializeWrapper::from_json_bytes(br#"{"offsetTable":{1:"x"}}"#).is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn offset_tables_round_trip(
            table in proptest::collection::btree_map(
                "[A-Za-z0-9%@_\\-\"]{0,12}",
                proptest::collection::btree_map(proptest::prelude::any::<i32>(), proptest::prelude::any::<i64>(), 0..4),
                0..5,
            )
        ) {
            let w = ConsumerOffsetSerializeWrapper { data_version: None, offset_table: table };
            let back = ConsumerOffsetSerializeWrapper::from_json_bytes(&w.to_json_bytes().unwrap()).unwrap();
            proptest::prop_assert_eq!(back, w);
        }
    }
}
