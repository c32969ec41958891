//! Bodies of the broker's operations answers: producer connections (204,
//! 328), broker-wide consume stats (317), consume-queue entries (321) and
//! stats windows (315).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::consumer::{Connection, ConsumeStats};
use crate::body::fastjson;
use crate::body::heartbeat::{nullable_list, SubscriptionData};
use crate::body::lenient::{self, json_body};
use crate::error::ProtocolError;

/// GET_PRODUCER_CONNECTION_LIST (204) response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProducerConnection {
    #[serde(rename = "connectionSet", default, deserialize_with = "nullable_list")]
    pub connection_set: Vec<Connection>,
}

/// One producer in GET_ALL_PRODUCER_INFO (328).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProducerInfo {
    #[serde(rename = "clientId", default, deserialize_with = "lenient::de")]
    pub client_id: String,
    #[serde(rename = "remoteIP", default, deserialize_with = "lenient::de")]
    pub remote_ip: String,
    #[serde(default, deserialize_with = "lenient::de")]
    pub language: String,
    #[serde(default, deserialize_with = "lenient::de")]
    pub version: i32,
    #[serde(
        rename = "lastUpdateTimestamp",
        default,
        deserialize_with = "lenient::de"
    )]
    pub last_update_timestamp: i64,
}

/// GET_ALL_PRODUCER_INFO (328) response body: group → producers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProducerTableInfo {
    #[serde(default)]
    pub data: BTreeMap<String, Vec<ProducerInfo>>,
}

/// One consume-queue entry of QUERY_CONSUME_QUEUE (321).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumeQueueData {
    #[serde(rename = "physicOffset", default, deserialize_with = "lenient::de")]
    pub physic_offset: i64,
    #[serde(rename = "physicSize", default, deserialize_with = "lenient::de")]
    pub physic_size: i32,
    #[serde(rename = "tagsCode", default, deserialize_with = "lenient::de")]
    pub tags_code: i64,
    #[serde(
        rename = "extendDataJson",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub extend_data_json: Option<String>,
    #[serde(rename = "bitMap", skip_serializing_if = "Option::is_none", default)]
    pub bit_map: Option<String>,
    /// Whether the group's subscription matches the entry's tag hash.
    #[serde(default)]
    pub eval: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub msg: Option<String>,
}

/// QUERY_CONSUME_QUEUE (321) response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QueryConsumeQueueResponseBody {
    #[serde(
        rename = "subscriptionData",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub subscription_data: Option<SubscriptionData>,
    #[serde(
        rename = "filterData",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub filter_data: Option<String>,
    #[serde(rename = "queueData", default, deserialize_with = "nullable_list")]
    pub queue_data: Vec<ConsumeQueueData>,
    #[serde(rename = "maxQueueIndex", default, deserialize_with = "lenient::de")]
    pub max_queue_index: i64,
    #[serde(rename = "minQueueIndex", default, deserialize_with = "lenient::de")]
    pub min_queue_index: i64,
}

/// One window of VIEW_BROKER_STATS_DATA (315).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BrokerStatsItem {
    /// Count in the window.
    #[serde(default, deserialize_with = "lenient::de")]
    pub sum: i64,
    /// Per second over the window.
    #[serde(default, deserialize_with = "lenient::de")]
    pub tps: f64,
    /// Average value per event (bytes per message, for sizes).
    #[serde(default, deserialize_with = "lenient::de")]
    pub avgpt: f64,
}

/// VIEW_BROKER_STATS_DATA (315) response body: the last minute, hour, day.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BrokerStatsData {
    #[serde(rename = "statsMinute", default)]
    pub stats_minute: BrokerStatsItem,
    #[serde(rename = "statsHour", default)]
    pub stats_hour: BrokerStatsItem,
    #[serde(rename = "statsDay", default)]
    pub stats_day: BrokerStatsItem,
}

json_body!(
    ProducerConnection => "ProducerConnection",
    ProducerTableInfo => "ProducerTableInfo",
    QueryConsumeQueueResponseBody => "QueryConsumeQueueResponseBody",
    BrokerStatsData => "BrokerStatsData"
);

/// GET_BROKER_CONSUME_STATS (317) response body: per group, the
/// [`ConsumeStats`] of each topic it consumes, and the total lag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumeStatsList {
    pub broker_addr: String,
    pub total_diff: i64,
    /// `(group, stats per topic)`, in group order.
    pub groups: Vec<(String, Vec<ConsumeStats>)>,
}

impl ConsumeStatsList {
    /// fastjson's form: `consumeStatsList` is a list of one-key maps whose
    /// [`ConsumeStats`] carry queue objects as keys.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut list = String::from("[");
        for (i, (group, stats)) in self.groups.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push('{');
            list.push_str(&Value::String(group.clone()).to_string());
            list.push_str(":[");
            for (j, s) in stats.iter().enumerate() {
                if j > 0 {
                    list.push(',');
                }
                list.push_str(&String::from_utf8_lossy(&s.to_json_bytes()?));
            }
            list.push_str("]}");
        }
        list.push(']');
        let base = serde_json::json!({
            "brokerAddr": self.broker_addr,
            "totalDiff": self.total_diff,
            "totalInflightDiff": 0,
        });
        fastjson::object_with_raw(&base, &[("consumeStatsList", list)]).map(String::into_bytes)
    }

    /// Parses fastjson's form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut root = fastjson::parse_object_value(bytes, "ConsumeStatsList")?;
        let mut out = ConsumeStatsList {
            broker_addr: fastjson::take(&mut root, "brokerAddr")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            total_diff: fastjson::take(&mut root, "totalDiff")
                .and_then(|v| v.as_i64())
                .unwrap_or(0),
            groups: Vec::new(),
        };
        let list = match fastjson::take(&mut root, "consumeStatsList") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        for entry in list {
            let Value::Object(map) = entry else {
                return Err(ProtocolError::BadBody(
                    "ConsumeStatsList: an entry of consumeStatsList is not an object".into(),
                ));
            };
            for (group, stats) in map {
                let Value::Array(stats) = stats else {
                    return Err(ProtocolError::BadBody(format!(
                        "ConsumeStatsList: the stats of group {group} are not a list"
                    )));
                };
                let parsed = stats
                    .iter()
                    .map(fastjson_value_to_stats)
                    .collect::<Result<Vec<_>, _>>()?;
                out.groups.push((group, parsed));
            }
        }
        Ok(out)
    }
}

/// A [`ConsumeStats`] already parsed into a [`Value`] (its queue keys are
/// compact JSON text) written back in fastjson's form and parsed as usual.
fn fastjson_value_to_stats(v: &Value) -> Result<ConsumeStats, ProtocolError> {
    let mut text = String::from("{");
    let obj = v.as_object().ok_or_else(|| {
        ProtocolError::BadBody("ConsumeStatsList: a ConsumeStats is not an object".into())
    })?;
    if let Some(tps) = obj.get("consumeTps") {
        text.push_str(&format!("\"consumeTps\":{tps},"));
    }
    text.push_str("\"offsetTable\":{");
    if let Some(Value::Object(table)) = obj.get("offsetTable") {
        for (i, (k, w)) in table.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("{k}:{w}"));
        }
    }
    text.push_str("}}");
    ConsumeStats::from_json_bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::consumer::OffsetWrapper;
    use crate::body::MessageQueue;

    #[test]
    fn consume_stats_list_round_trips_in_fastjson_form() {
        let mut stats = ConsumeStats::default();
        stats.offset_table.insert(
            MessageQueue::new("T", "b", 1),
            OffsetWrapper {
                broker_offset: 9,
                consumer_offset: 4,
                last_timestamp: 7,
                pull_offset: 5,
            },
        );
        let list = ConsumeStatsList {
            broker_addr: "1.2.3.4:10911".into(),
            total_diff: 5,
            groups: vec![("G".into(), vec![stats])],
        };
        let bytes = list.to_json_bytes().unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(
            text.contains(r#"{"G":[{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:"#),
            "{text}"
        );
        assert_eq!(ConsumeStatsList::from_json_bytes(&bytes).unwrap(), list);
        assert!(ConsumeStatsList::from_json_bytes(br#"{"consumeStatsList":[1]}"#).is_err());
    }

    #[test]
    fn producer_table_uses_java_names() {
        let t = ProducerTableInfo {
            data: BTreeMap::from([(
                "PG".to_owned(),
                vec![ProducerInfo {
                    client_id: "c".into(),
                    remote_ip: "1.1.1.1:5".into(),
                    language: "JAVA".into(),
                    version: 1,
                    last_update_timestamp: 2,
                }],
            )]),
        };
        let text = String::from_utf8(t.to_json_bytes().unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"data":{"PG":[{"clientId":"c","language":"JAVA","lastUpdateTimestamp":2,"remoteIP":"1.1.1.1:5","version":1}]}}"#
        );
        assert_eq!(
            ProducerTableInfo::from_json_bytes(text.as_bytes()).unwrap(),
            t
        );
    }
}
