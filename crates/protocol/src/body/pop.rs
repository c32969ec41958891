//! BATCH_ACK_MESSAGE (200151) body: acks grouped by pop batch, each with a
//! bitmap of offsets relative to the batch's first offset. fastjson2 writes
//! the short keys and the `java.util.BitSet` as its `toByteArray()` bytes,
//! either base64 text or an array of signed bytes; both are read.

use base64::Engine as _;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::body::heartbeat::nullable_list;
use crate::body::lenient::{self, json_body};

/// One pop batch's acks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchAck {
    #[serde(
        rename = "c",
        alias = "consumerGroup",
        default,
        deserialize_with = "lenient::de"
    )]
    pub consumer_group: String,
    #[serde(
        rename = "t",
        alias = "topic",
        default,
        deserialize_with = "lenient::de"
    )]
    pub topic: String,
    /// `"1"` when the batch came from the retry topic.
    #[serde(
        rename = "r",
        alias = "retry",
        default,
        deserialize_with = "lenient::de"
    )]
    pub retry: String,
    #[serde(
        rename = "so",
        alias = "startOffset",
        default,
        deserialize_with = "lenient::de"
    )]
    pub start_offset: i64,
    #[serde(
        rename = "q",
        alias = "queueId",
        default,
        deserialize_with = "lenient::de"
    )]
    pub queue_id: i32,
    #[serde(
        rename = "rq",
        alias = "reviveQueueId",
        default,
        deserialize_with = "lenient::de"
    )]
    pub revive_queue_id: i32,
    #[serde(
        rename = "pt",
        alias = "popTime",
        default,
        deserialize_with = "lenient::de"
    )]
    pub pop_time: i64,
    #[serde(
        rename = "it",
        alias = "invisibleTime",
        default,
        deserialize_with = "lenient::de"
    )]
    pub invisible_time: i64,
    /// The bitmap's bytes (bit `i` of byte `i / 8` is offset `start + i`).
    #[serde(
        rename = "b",
        alias = "bitSet",
        default,
        deserialize_with = "bitset_bytes",
        serialize_with = "bitset_base64"
    )]
    pub bit_set: Vec<u8>,
}

impl BatchAck {
    /// The acked queue offsets, ascending.
    pub fn offsets(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for (i, byte) in self.bit_set.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    out.push(self.start_offset + (i * 8 + bit) as i64);
                }
            }
        }
        out
    }

    /// Whether the batch came from the retry topic.
    pub fn is_retry(&self) -> bool {
        self.retry == "1"
    }
}

/// BATCH_ACK_MESSAGE request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchAckMessageRequestBody {
    #[serde(rename = "brokerName", default, deserialize_with = "lenient::de")]
    pub broker_name: String,
    #[serde(rename = "acks", default, deserialize_with = "nullable_list")]
    pub acks: Vec<BatchAck>,
}

json_body!(BatchAckMessageRequestBody => "BatchAckMessageRequestBody");

fn bitset_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| D::Error::custom(format!("bitSet is not base64: {e}"))),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_i64()
                    .filter(|n| (-128..=255).contains(n))
                    .map(|n| n as u8)
                    .ok_or_else(|| D::Error::custom(format!("bitSet byte {v} is not a byte")))
            })
            .collect(),
        other => Err(D::Error::custom(format!(
            "bitSet must be base64 text or a byte array, found {other}"
        ))),
    }
}

fn bitset_base64<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_keys_with_base64_bits() {
        // Bits 0 and 2 of the first byte and bit 1 of the second: 0x05 0x02.
        let json = br#"{"acks":[{"b":"BQI=","c":"G","it":60000,"pt":5,"q":1,"r":"0","rq":0,"so":10,"t":"T"}],"brokerName":"broker-a"}"#;
        let body = BatchAckMessageRequestBody::from_json_bytes(json).unwrap();
        assert_eq!(body.broker_name, "broker-a");
        let ack = &body.acks[0];
        assert_eq!((ack.consumer_group.as_str(), ack.queue_id), ("G", 1));
        assert_eq!(ack.offsets(), vec![10, 12, 19]);
        assert!(!ack.is_retry());
        let again = BatchAckMessageRequestBody::from_json_bytes(&body.to_json_bytes().unwrap());
        assert_eq!(again.unwrap(), body);
    }

    #[test]
    fn reads_long_keys_and_byte_arrays() {
        let json = br#"{"brokerName":"b","acks":[{"consumerGroup":"G","topic":"T","retry":"1","startOffset":0,"queueId":0,"popTime":1,"invisibleTime":2,"bitSet":[-128]}]}"#;
        let body = BatchAckMessageRequestBody::from_json_bytes(json).unwrap();
        assert_eq!(body.acks[0].offsets(), vec![7]);
        assert!(body.acks[0].is_retry());
    }

    #[test]
    fn a_bad_bitmap_is_an_error_naming_it() {
        let json = br#"{"brokerName":"b","acks":[{"c":"G","t":"T","b":"%%%"}]}"#;
        let err = BatchAckMessageRequestBody::from_json_bytes(json).unwrap_err();
        assert!(err.to_string().contains("bitSet"), "{err}");
    }
}
