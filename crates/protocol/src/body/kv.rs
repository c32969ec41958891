//! KVTable: a flat string map (GET_KVLIST_BY_NAMESPACE, broker runtime info).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fastjson::parse_object as from_json;
use super::topic::to_json;
use crate::error::ProtocolError;

/// `{"table":{"k":"v"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    pub table: BTreeMap<String, String>,
}

impl KvTable {
    /// Compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "KVTable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_json() {
        let mut kv = KvTable::default();
        kv.table.insert("b".into(), "2".into());
        kv.table.insert("a".into(), "1 x".into());
        let json = r#"{"table":{"a":"1 x","b":"2"}}"#;
        assert_eq!(String::from_utf8(kv.encode()).unwrap(), json);
        assert_eq!(KvTable::decode(json.as_bytes()).unwrap(), kv);
        assert_eq!(KvTable::decode(b"{}").unwrap(), KvTable::default());
        assert!(KvTable::decode(br#"{"table":[1]}"#).is_err());
    }
}
