//! Controller-mode bodies: SyncStateSet, ElectMasterResponseBody,
//! BrokerReplicasInfo, EpochEntryCache (controller reference §2).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::fastjson::parse_object as from_json;
use super::topic::to_json;
use crate::error::ProtocolError;

/// `{"syncStateSet":[1,2],"syncStateSetEpoch":3}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncStateSet {
    pub sync_state_set: BTreeSet<i64>,
    pub sync_state_set_epoch: i32,
}

/// `{"cluster":..,"brokerName":..,"brokerAddrs":{"1":"ip:port"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerMemberGroup {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addrs: BTreeMap<i64, String>,
}

/// CONTROLLER_ELECT_MASTER (1002) response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ElectMasterResponseBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_member_group: Option<BrokerMemberGroup>,
    pub sync_state_set: BTreeSet<i64>,
}

/// One replica in [`ReplicasInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicaIdentity {
    pub broker_name: String,
    pub broker_id: i64,
    pub broker_address: String,
    pub alive: bool,
}

/// One broker set in [`BrokerReplicasInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicasInfo {
    pub master_broker_id: Option<i64>,
    pub master_address: Option<String>,
    pub master_epoch: i32,
    pub sync_state_set_epoch: i32,
    pub in_sync_replicas: Vec<ReplicaIdentity>,
    pub not_in_sync_replicas: Vec<ReplicaIdentity>,
}

/// CONTROLLER_GET_SYNC_STATE_DATA (1006) response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerReplicasInfo {
    pub replicas_info_table: BTreeMap<String, ReplicasInfo>,
}

/// One epoch of a broker's commit log: `[startOffset, endOffset)`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
    pub end_offset: i64,
}

/// GET_BROKER_EPOCH_CACHE (1007) response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EpochEntryCache {
    pub cluster_name: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub epoch_list: Vec<EpochEntry>,
    pub max_offset: i64,
}

macro_rules! json_body {
    ($($ty:ident = $what:literal,)*) => {$(
        impl $ty {
            /// Compact JSON.
            pub fn encode(&self) -> Vec<u8> {
                to_json(self)
            }

            /// Parses JSON (fastjson dialect accepted).
            ///
            /// # Errors
            /// [`ProtocolError::BadBody`] when the body does not parse.
            pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
                from_json(body, $what)
            }
        }
    )*};
}

json_body! {
    SyncStateSet = "SyncStateSet",
    ElectMasterResponseBody = "ElectMasterResponseBody",
    BrokerReplicasInfo = "BrokerReplicasInfo",
    EpochEntryCache = "EpochEntryCache",
}

/// The CONTROLLER_GET_SYNC_STATE_DATA request body: a JSON array of broker names.
///
/// # Errors
/// [`ProtocolError::BadBody`] when the body is not an array of strings.
pub fn decode_broker_names(body: &[u8]) -> Result<Vec<String>, ProtocolError> {
    serde_json::from_slice(body)
        .map_err(|e| ProtocolError::BadBody(format!("broker name list: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_state_set_golden_json() {
        let s = SyncStateSet {
            sync_state_set: [2, 1].into_iter().collect(),
            sync_state_set_epoch: 3,
        };
        assert_eq!(
            String::from_utf8_lossy(&s.encode()),
            r#"{"syncStateSet":[1,2],"syncStateSetEpoch":3}"#
        );
        assert_eq!(SyncStateSet::decode(&s.encode()).ok(), Some(s));
    }

    #[test]
    fn member_group_reads_fastjson_integer_keys() {
        let body = br#"{"brokerMemberGroup":{"cluster":"c","brokerName":"b","brokerAddrs":{1:"h:1"}},"syncStateSet":[1]}"#;
        let decoded = ElectMasterResponseBody::decode(body);
        let group = decoded.ok().and_then(|d| d.broker_member_group);
        assert_eq!(
            group.and_then(|g| g.broker_addrs.get(&1).cloned()),
            Some("h:1".to_string())
        );
    }

    #[test]
    fn broker_names_must_be_an_array() {
        assert_eq!(
            decode_broker_names(br#"["a","b"]"#).ok(),
            Some(vec!["a".into(), "b".into()])
        );
        assert!(decode_broker_names(b"{}").is_err());
    }
}
