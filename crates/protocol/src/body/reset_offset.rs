//! ResetOffsetBody: the per-queue offsets of a reset (body of
//! RESET_CONSUMER_CLIENT_OFFSET 220 and the answer of
//! INVOKE_BROKER_TO_RESET_OFFSET 222), in fastjson's map form or the list
//! form a Java broker uses for C++ admin clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::{fastjson, lenient, mq_map, MessageQueue};
use crate::error::ProtocolError;

/// `{"offsetTable":{{MQ}:123,…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetOffsetBody {
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

/// One entry of the C form: a queue with its offset inline.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageQueueForC {
    #[serde(rename = "brokerName", default, deserialize_with = "lenient::de")]
    pub broker_name: String,
    #[serde(default, deserialize_with = "lenient::de")]
    pub offset: i64,
    #[serde(rename = "queueId", default, deserialize_with = "lenient::de")]
    pub queue_id: i32,
    #[serde(default, deserialize_with = "lenient::de")]
    pub topic: String,
}

/// `{"offsetTable":[{"brokerName":…,"offset":123,"queueId":0,"topic":…},…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResetOffsetBodyForC {
    #[serde(
        rename = "offsetTable",
        default,
        deserialize_with = "crate::body::heartbeat::nullable_list"
    )]
    pub offset_table: Vec<MessageQueueForC>,
}

impl ResetOffsetBody {
    /// fastjson's map form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        let table = mq_map::mq_map_json(&self.offset_table)?;
        Ok(format!("{{\"offsetTable\":{table}}}").into_bytes())
    }

    /// The list form for C++ admin clients.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] only if serialization fails.
    pub fn to_c_json_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        fastjson::to_bytes(&ResetOffsetBodyForC::from(self))
    }

    /// Parses either form: an object `offsetTable` is the map form, an
    /// array is the C form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] naming the problem.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut value = fastjson::parse_object_value(bytes, "ResetOffsetBody")?;
        let table = fastjson::take(&mut value, "offsetTable");
        if let Some(Value::Array(_)) = table {
            let c: ResetOffsetBodyForC = fastjson::from_value(
                serde_json::json!({ "offsetTable": table }),
                "ResetOffsetBodyForC",
            )?;
            return Ok(ResetOffsetBody::from(&c));
        }
        Ok(ResetOffsetBody {
            offset_table: mq_map::mq_map_from_value(table, "ResetOffsetBody.offsetTable")?,
        })
    }
}

impl From<&ResetOffsetBody> for ResetOffsetBodyForC {
    fn from(body: &ResetOffsetBody) -> Self {
        ResetOffsetBodyForC {
            offset_table: body
                .offset_table
                .iter()
                .map(|(mq, offset)| MessageQueueForC {
                    broker_name: mq.broker_name.clone(),
                    offset: *offset,
                    queue_id: mq.queue_id,
                    topic: mq.topic.clone(),
                })
                .collect(),
        }
    }
}

impl From<&ResetOffsetBodyForC> for ResetOffsetBody {
    fn from(body: &ResetOffsetBodyForC) -> Self {
        ResetOffsetBody {
            offset_table: body
                .offset_table
                .iter()
                .map(|e| {
                    (
                        MessageQueue::new(e.topic.clone(), e.broker_name.clone(), e.queue_id),
                        e.offset,
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResetOffsetBody {
        let mut b = ResetOffsetBody::default();
        b.offset_table.insert(MessageQueue::new("T", "b", 1), 0);
        b.offset_table.insert(MessageQueue::new("T", "b", 0), 123);
        b
    }

    #[test]
    fn golden_map_form() {
        let json = r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:123,{"brokerName":"b","queueId":1,"topic":"T"}:0}}"#;
        assert_eq!(
            String::from_utf8(sample().to_json_bytes().unwrap()).unwrap(),
            json
        );
        assert_eq!(
            ResetOffsetBody::from_json_bytes(json.as_bytes()).unwrap(),
            sample()
        );
        let loose = br#"{"offsetTable":{{"queueId":1,"topic":"T","brokerName":"b"}:"0", {"brokerName":"b","queueId":"0","topic":"T"} : 123},"x":1}"#;
        assert_eq!(ResetOffsetBody::from_json_bytes(loose).unwrap(), sample());
        assert!(ResetOffsetBody::from_json_bytes(b"{}")
            .unwrap()
            .offset_table
            .is_empty());
    }

    #[test]
    fn golden_c_form() {
        let json = r#"{"offsetTable":[{"brokerName":"b","offset":123,"queueId":0,"topic":"T"},{"brokerName":"b","offset":0,"queueId":1,"topic":"T"}]}"#;
        assert_eq!(
            String::from_utf8(sample().to_c_json_bytes().unwrap()).unwrap(),
            json
        );
        assert_eq!(
            ResetOffsetBody::from_json_bytes(json.as_bytes()).unwrap(),
            sample()
        );
        assert!(ResetOffsetBody::from_json_bytes(br#"{"offsetTable":[1]}"#).is_err());
        assert!(ResetOffsetBody::from_json_bytes(br#"{"offsetTable":7}"#).is_err());
    }
}
