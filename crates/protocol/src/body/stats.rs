//! GET_TOPIC_STATS_INFO (202) body: min/max offset of every queue of a topic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::body::{fastjson, lenient, mq_map, MessageQueue};
use crate::error::ProtocolError;

/// Offsets of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TopicOffset {
    /// Store time (ms) of the newest message, 0 if the queue is empty.
    #[serde(
        rename = "lastUpdateTimestamp",
        default,
        deserialize_with = "lenient::de"
    )]
    pub last_update_timestamp: i64,
    #[serde(rename = "maxOffset", default, deserialize_with = "lenient::de")]
    pub max_offset: i64,
    #[serde(rename = "minOffset", default, deserialize_with = "lenient::de")]
    pub min_offset: i64,
}

/// `{"offsetTable":{{MQ}:TopicOffset,…},"topicPutTps":0.0}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TopicStatsTable {
    #[serde(skip)]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
    #[serde(rename = "topicPutTps", default, deserialize_with = "lenient::de")]
    pub topic_put_tps: f64,
}

impl TopicStatsTable {
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
            mq_map::parse_with_mq_map(bytes, "TopicStatsTable", "offsetTable")?;
        stats.offset_table = table;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_and_parse() {
        let mut t = TopicStatsTable::default();
        t.offset_table.insert(
            MessageQueue::new("T", "b", 0),
            TopicOffset {
                last_update_timestamp: 1_700_000_000_000,
                max_offset: 10,
                min_offset: 2,
            },
        );
        let json = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":10,"minOffset":2}},"topicPutTps":0.0}"#;
        assert_eq!(String::from_utf8(t.to_json_bytes().unwrap()).unwrap(), json);
        assert_eq!(
            TopicStatsTable::from_json_bytes(json.as_bytes()).unwrap(),
            t
        );
        // A 4.x broker has no topicPutTps; offsets may arrive as strings.
        let old = br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":"1700000000000","maxOffset":10,"minOffset":"2"}}}"#;
        assert_eq!(TopicStatsTable::from_json_bytes(old).unwrap(), t);
        let empty = TopicStatsTable::default();
        assert_eq!(
            String::from_utf8(empty.to_json_bytes().unwrap()).unwrap(),
            r#"{"offsetTable":{},"topicPutTps":0.0}"#
        );
        assert!(TopicStatsTable::from_json_bytes(br#"{"offsetTable":[1]}"#).is_err());
    }
}
