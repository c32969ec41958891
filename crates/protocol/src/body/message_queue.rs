//! MessageQueue: one queue of a topic on one broker. It appears in lock
//! bodies as an object and in stats/offset bodies as a fastjson map key.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::body::{fastjson, lenient};
use crate::error::ProtocolError;

/// `{"brokerName":…,"queueId":…,"topic":…}`. Ordered by topic, then broker
/// name, then queue id, as Java's `compareTo` orders them (rebalancing sorts
/// queues with it, so every client and the broker must agree).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct MessageQueue {
    #[serde(rename = "brokerName", default, deserialize_with = "lenient::de")]
    pub broker_name: String,
    #[serde(rename = "queueId", default, deserialize_with = "lenient::de")]
    pub queue_id: i32,
    #[serde(default, deserialize_with = "lenient::de")]
    pub topic: String,
}

impl MessageQueue {
    /// A queue of `topic` on `broker_name`.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            broker_name: broker_name.into(),
            queue_id,
            topic: topic.into(),
        }
    }

    /// Compact JSON with the fields in alphabetical order (also the form of
    /// a fastjson map key).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"brokerName\":");
        out.push_str(&serde_json::Value::String(self.broker_name.clone()).to_string());
        out.push_str(",\"queueId\":");
        out.push_str(&self.queue_id.to_string());
        out.push_str(",\"topic\":");
        out.push_str(&serde_json::Value::String(self.topic.clone()).to_string());
        out.push('}');
        out
    }

    /// The JSON bytes of [`MessageQueue::to_json`].
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }

    /// Parses a queue object; a JSON string holding the object's text (a
    /// quoted map key) is accepted too.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the bytes are not a queue object.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let value = match fastjson::parse(bytes)? {
            serde_json::Value::String(inner) => fastjson::parse(inner.as_bytes())?,
            value => value,
        };
        // serde would also take a JSON array for a struct; Java would not.
        if !value.is_object() {
            return Err(ProtocolError::BadBody(format!(
                "a MessageQueue must be a JSON object, found {value}"
            )));
        }
        fastjson::from_value(value, "MessageQueue")
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.topic
            .cmp(&other.topic)
            .then_with(|| self.broker_name.cmp(&other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_json() {
        let mq = MessageQueue::new("T\"1", "broker-a", 3);
        assert_eq!(
            mq.to_json(),
            r#"{"brokerName":"broker-a","queueId":3,"topic":"T\"1"}"#
        );
        assert_eq!(fastjson::to_sorted_json(&mq).unwrap(), mq.to_json());
        assert_eq!(
            MessageQueue::from_json_bytes(&mq.to_json_bytes()).unwrap(),
            mq
        );
    }

    #[test]
    fn parses_lenient_forms() {
        let mq =
            MessageQueue::from_json_bytes(br#"{"topic":"T","queueId":"2","brokerName":"b","x":1}"#)
                .unwrap();
        assert_eq!(mq, MessageQueue::new("T", "b", 2));
        let quoted = br#""{\"brokerName\":\"b\",\"queueId\":2,\"topic\":\"T\"}""#;
        assert_eq!(MessageQueue::from_json_bytes(quoted).unwrap(), mq);
        assert!(MessageQueue::from_json_bytes(b"[1]").is_err());
        assert!(MessageQueue::from_json_bytes(br#"{"queueId":"x"}"#).is_err());
    }

    #[test]
    fn orders_by_topic_then_broker_then_queue() {
        let mut v = [
            MessageQueue::new("B", "a", 0),
            MessageQueue::new("A", "b", 0),
            MessageQueue::new("A", "a", 10),
            MessageQueue::new("A", "a", 2),
        ];
        v.sort();
        let keys: Vec<_> = v
            .iter()
            .map(|m| (m.topic.as_str(), m.broker_name.as_str(), m.queue_id))
            .collect();
        assert_eq!(
            keys,
            [("A", "a", 2), ("A", "a", 10), ("A", "b", 0), ("B", "a", 0)]
        );
    }
}
