//! ClusterInfo (GET_BROKER_CLUSTER_INFO) and the broker member group of
//! GET_BROKER_MEMBER_GROUP.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::fastjson::parse_object as from_json;
use super::route::BrokerData;
use super::topic::to_json;
use crate::error::ProtocolError;

/// Every broker name with its addresses, and every cluster with its broker
/// names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl ClusterInfo {
    /// Compact JSON with quoted broker-id keys.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON, including Java's bare broker-id keys.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "ClusterInfo")
    }
}

/// The members of one broker name (GET_BROKER_MEMBER_GROUP).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerMemberGroup {
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
}

/// The body of the GET_BROKER_MEMBER_GROUP response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetBrokerMemberGroupResponseBody {
    pub broker_member_group: BrokerMemberGroup,
}

impl GetBrokerMemberGroupResponseBody {
    /// Compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON, including bare broker-id keys.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "GetBrokerMemberGroupResponseBody")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_info_golden_json() {
        let mut bd = BrokerData::new("DefaultCluster", "broker-a");
        bd.broker_addrs.insert(0, "10.0.0.1:10911".into());
        let mut ci = ClusterInfo::default();
        ci.broker_addr_table.insert("broker-a".into(), bd);
        ci.cluster_addr_table
            .entry("DefaultCluster".into())
            .or_default()
            .insert("broker-a".into());
        let json = r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#;
        assert_eq!(String::from_utf8(ci.encode()).unwrap(), json);
        assert_eq!(ClusterInfo::decode(json.as_bytes()).unwrap(), ci);
        // What a Java NameServer sends: bare keys.
        let java = json.replace(r#"{"0":"#, "{0:");
        assert_eq!(ClusterInfo::decode(java.as_bytes()).unwrap(), ci);
    }

    #[test]
    fn member_group_golden_json() {
        let mut body = GetBrokerMemberGroupResponseBody::default();
        body.broker_member_group.cluster = "c".into();
        body.broker_member_group.broker_name = "b".into();
        body.broker_member_group
            .broker_addrs
            .insert(1, "h:2".into());
        let json =
            r#"{"brokerMemberGroup":{"brokerAddrs":{"1":"h:2"},"brokerName":"b","cluster":"c"}}"#;
        assert_eq!(String::from_utf8(body.encode()).unwrap(), json);
        assert_eq!(
            GetBrokerMemberGroupResponseBody::decode(json.as_bytes()).unwrap(),
            body
        );
    }
}
