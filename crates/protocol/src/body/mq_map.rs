//! Maps keyed by [`MessageQueue`], as fastjson writes them in stats, offset
//! and reset bodies: the key is the queue's own JSON object.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::body::fastjson::{
    entries, from_value, map_value, parse_object_value, take, to_sorted_json,
};
use crate::body::message_queue::MessageQueue;
use crate::error::ProtocolError;

/// Writes a map keyed by [`MessageQueue`] the way fastjson does:
/// `{{"brokerName":"b1","queueId":0,"topic":"T"}:11,...}`, in queue order.
///
/// # Errors
/// [`ProtocolError::BadBody`] if a value does not serialize.
pub fn mq_map_json<T: Serialize>(map: &BTreeMap<MessageQueue, T>) -> Result<String, ProtocolError> {
    let mut out = String::from("{");
    for (i, (mq, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&mq.to_json());
        out.push(':');
        out.push_str(&to_sorted_json(value)?);
    }
    out.push('}');
    Ok(out)
}

/// Reads a map keyed by [`MessageQueue`]; each key is the JSON text the
/// reader made of fastjson's object key (a quoted JSON string holding the
/// same text is accepted too). Absent or `null` gives an empty map.
///
/// # Errors
/// [`ProtocolError::BadBody`] naming `what` when the map, a key or a value
/// is malformed.
pub fn mq_map_from_value<T: DeserializeOwned>(
    value: Option<Value>,
    what: &str,
) -> Result<BTreeMap<MessageQueue, T>, ProtocolError> {
    let mut out = BTreeMap::new();
    for (key, value) in entries(value, what)? {
        let mq = MessageQueue::from_json_bytes(key.as_bytes())
            .map_err(|e| ProtocolError::BadBody(format!("{what}: bad queue key {key:?}: {e}")))?;
        out.insert(mq, map_value(value, what)?);
    }
    Ok(out)
}

/// Parses a bean that holds one fastjson-only map under `field` (keyed by
/// [`MessageQueue`]): the rest converts with serde into `T` (whose map field
/// is `#[serde(skip)]`), the map is returned beside it.
///
/// # Errors
/// [`ProtocolError::BadBody`] naming `what` when anything is malformed.
pub fn parse_with_mq_map<T: DeserializeOwned, V: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    field: &str,
) -> Result<(T, BTreeMap<MessageQueue, V>), ProtocolError> {
    let mut value = parse_object_value(bytes, what)?;
    let map = mq_map_from_value(take(&mut value, field), &format!("{what}.{field}"))?;
    Ok((from_value(value, what)?, map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::fastjson::parse;
    use serde_json::json;

    #[test]
    fn writes_and_reads_mq_keyed_maps() {
        let mut map = BTreeMap::new();
        map.insert(MessageQueue::new("T", "b1", 1), 0_i64);
        map.insert(MessageQueue::new("T", "b1", 0), 11_i64);
        assert_eq!(
            mq_map_json(&map).unwrap(),
            r#"{{"brokerName":"b1","queueId":0,"topic":"T"}:11,{"brokerName":"b1","queueId":1,"topic":"T"}:0}"#
        );
        let back: BTreeMap<MessageQueue, i64> = mq_map_from_value(
            Some(parse(mq_map_json(&map).unwrap().as_bytes()).unwrap()),
            "t",
        )
        .unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn reports_bad_keys() {
        let v = parse(br#"{"x":1}"#).unwrap();
        assert!(mq_map_from_value::<i64>(Some(v), "offsetTable").is_err());
        assert!(mq_map_from_value::<i64>(Some(json!([])), "offsetTable").is_err());
        assert!(mq_map_from_value::<i64>(None, "offsetTable")
            .unwrap()
            .is_empty());
    }

    proptest::proptest! {
        #[test]
        fn mq_maps_round_trip(
            entries in proptest::collection::vec(
                ("[a-zA-Z0-9%@_\\-\"\\\\é]{0,8}", "[a-z0-9\\-]{0,6}", -1i32..64, proptest::prelude::any::<i64>()),
                0..12,
            )
        ) {
            let map: BTreeMap<MessageQueue, i64> = entries
                .into_iter()
                .map(|(t, b, q, o)| (MessageQueue::new(t, b, q), o))
                .collect();
            let text = mq_map_json(&map).unwrap();
            let back: BTreeMap<MessageQueue, i64> =
                mq_map_from_value(Some(parse(text.as_bytes()).unwrap()), "t").unwrap();
            proptest::prop_assert_eq!(back, map);
        }
    }
}
