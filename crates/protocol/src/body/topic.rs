//! Topic configuration bodies: TopicConfig (JSON and the space-separated
//! text form of compressed registrations), DataVersion,
//! TopicConfigSerializeWrapper and TopicList.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fastjson::parse_object as from_json;
use crate::error::ProtocolError;

/// Compact JSON of one of our body types. Their fields are declared in
/// alphabetical order, which is fastjson's order, so output is
/// byte-comparable with Java's.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our bodies are plain structs with string or integer map keys, for which
    // serde_json cannot fail; the empty fallback is never reached.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Permission bit: the topic inherits from a template (TBW102).
pub const PERM_INHERIT: i32 = 0x1;
/// Permission bit: producers may write.
pub const PERM_WRITE: i32 = 0x2;
/// Permission bit: consumers may read.
pub const PERM_READ: i32 = 0x4;
/// Permission bit: priority.
pub const PERM_PRIORITY: i32 = 0x8;

/// topicSysFlag bit: a unit topic.
pub const TOPIC_SYS_FLAG_UNIT: i32 = 0x1;
/// topicSysFlag bit: the topic has unit subscriptions.
pub const TOPIC_SYS_FLAG_UNIT_SUB: i32 = 0x2;

/// How tags are filtered (written by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum TopicFilterType {
    #[default]
    SINGLE_TAG,
    MULTI_TAG,
}

impl TopicFilterType {
    /// The Java enum name.
    pub fn name(self) -> &'static str {
        match self {
            TopicFilterType::SINGLE_TAG => "SINGLE_TAG",
            TopicFilterType::MULTI_TAG => "MULTI_TAG",
        }
    }

    /// Parses the Java enum name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SINGLE_TAG" => Some(TopicFilterType::SINGLE_TAG),
            "MULTI_TAG" => Some(TopicFilterType::MULTI_TAG),
            _ => None,
        }
    }
}

/// A broker's configuration of one topic. Fields in alphabetical order, as
/// fastjson writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    pub attributes: BTreeMap<String, String>,
    pub order: bool,
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_filter_type: TopicFilterType,
    pub topic_name: String,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            attributes: BTreeMap::new(),
            order: false,
            perm: PERM_READ | PERM_WRITE,
            read_queue_nums: 16,
            topic_filter_type: TopicFilterType::SINGLE_TAG,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl TopicConfig {
    /// A config with the given name and queue counts, perm 6.
    pub fn new(topic_name: impl Into<String>, read_queue_nums: i32, write_queue_nums: i32) -> Self {
        TopicConfig {
            topic_name: topic_name.into(),
            read_queue_nums,
            write_queue_nums,
            ..TopicConfig::default()
        }
    }

    /// The text form used in compressed registrations:
    /// `name readQueueNums writeQueueNums perm topicFilterType attributesJSON`.
    /// `topicSysFlag` and `order` are not carried (as in Java).
    pub fn encode_text(&self) -> String {
        let attributes = String::from_utf8(to_json(&self.attributes)).unwrap_or_default();
        format!(
            "{} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.name(),
            attributes
        )
    }

    /// Parses the text form. The attributes are everything after the fifth
    /// space, so attribute values may contain spaces; attributes that do not
    /// parse are dropped, as Java does.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when fewer than five fields are present or
    /// a number or the filter type is malformed.
    pub fn decode_text(text: &str) -> Result<Self, ProtocolError> {
        let bad =
            |what: &str| ProtocolError::BadBody(format!("topic config text `{text}`: {what}"));
        let mut parts = text.splitn(6, ' ');
        let mut next = |what: &str| parts.next().ok_or_else(|| bad(&format!("missing {what}")));
        let topic_name = next("topic name")?.to_owned();
        let int = |raw: &str, what: &str| raw.parse::<i32>().map_err(|_| bad(what));
        let read_queue_nums = int(next("readQueueNums")?, "bad readQueueNums")?;
        let write_queue_nums = int(next("writeQueueNums")?, "bad writeQueueNums")?;
        let perm = int(next("perm")?, "bad perm")?;
        let filter = next("topicFilterType")?;
        let topic_filter_type =
            TopicFilterType::from_name(filter).ok_or_else(|| bad("bad topicFilterType"))?;
        let attributes = parts
            .next()
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or_default();
        Ok(TopicConfig {
            attributes,
            order: false,
            perm,
            read_queue_nums,
            topic_filter_type,
            topic_name,
            topic_sys_flag: 0,
            write_queue_nums,
        })
    }

    /// Compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "TopicConfig")
    }
}

/// The version of a broker's topic table. The NameServer compares it to decide
/// whether a registration changes routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    pub counter: i64,
    /// 5.x only; 0 from older brokers.
    pub state_version: i64,
    pub timestamp: i64,
}

impl DataVersion {
    /// Compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "DataVersion")
    }
}

/// A broker's whole topic table (REGISTER_BROKER, GET_ALL_TOPIC_CONFIG). The
/// static-topic maps of 5.x are kept as opaque JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<BTreeMap<String, Value>>,
}

impl TopicConfigSerializeWrapper {
    /// Compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON (fastjson's bare integer keys accepted).
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "TopicConfigSerializeWrapper")
    }
}

/// A list of topic names, optionally with the address of a broker.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    pub topic_list: BTreeSet<String>,
}

impl TopicList {
    /// Compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// Parses JSON.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] when the body does not parse.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        from_json(body, "TopicList")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t1() -> TopicConfig {
        TopicConfig::new("T1", 8, 8)
    }

    #[test]
    fn topic_config_golden_json() {
        let json = r#"{"attributes":{},"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"T1","topicSysFlag":0,"writeQueueNums":8}"#;
        assert_eq!(String::from_utf8(t1().encode()).unwrap(), json);
        assert_eq!(TopicConfig::decode(json.as_bytes()).unwrap(), t1());
    }

    #[test]
    fn topic_config_from_4x_lacks_attributes() {
        let json = r#"{"order":true,"perm":7,"readQueueNums":4,"topicFilterType":"MULTI_TAG","topicName":"TBW102","topicSysFlag":1,"writeQueueNums":2}"#;
        let tc = TopicConfig::decode(json.as_bytes()).unwrap();
        assert!(tc.order && tc.attributes.is_empty());
        assert_eq!(
            (tc.perm, tc.read_queue_nums, tc.write_queue_nums),
            (7, 4, 2)
        );
        assert_eq!(tc.topic_filter_type, TopicFilterType::MULTI_TAG);
    }

    #[test]
    fn topic_config_text_form() {
        let mut tc = t1();
        tc.attributes
            .insert("+message.type".into(), "NORMAL value".into());
        let text = tc.encode_text();
        assert_eq!(
            text,
            r#"T1 8 8 6 SINGLE_TAG {"+message.type":"NORMAL value"}"#
        );
        assert_eq!(TopicConfig::decode_text(&text).unwrap(), tc);
        let bare = TopicConfig::decode_text("T2 1 2 4 MULTI_TAG").unwrap();
        assert_eq!(
            (bare.read_queue_nums, bare.write_queue_nums, bare.perm),
            (1, 2, 4)
        );
        let junk = TopicConfig::decode_text("T2 1 2 4 SINGLE_TAG {not json").unwrap();
        assert!(junk.attributes.is_empty());
        assert!(TopicConfig::decode_text("T2 1 2").is_err());
        assert!(TopicConfig::decode_text("T2 x 2 4 SINGLE_TAG").is_err());
        assert!(TopicConfig::decode_text("T2 1 2 4 NO_TAG").is_err());
    }

    #[test]
    fn data_version_golden_json() {
        let dv = DataVersion {
            counter: 3,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        };
        let json = r#"{"counter":3,"stateVersion":0,"timestamp":1700000000000}"#;
        assert_eq!(String::from_utf8(dv.encode()).unwrap(), json);
        assert_eq!(DataVersion::decode(json.as_bytes()).unwrap(), dv);
        let old = DataVersion::decode(br#"{"counter":1,"timestamp":2}"#).unwrap();
        assert_eq!(old.state_version, 0);
    }

    #[test]
    fn wrapper_golden_json_and_5x_maps() {
        let mut w = TopicConfigSerializeWrapper::default();
        w.data_version.counter = 1;
        w.topic_config_table.insert("T1".into(), t1());
        let json = r#"{"dataVersion":{"counter":1,"stateVersion":0,"timestamp":0},"topicConfigTable":{"T1":{"attributes":{},"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"T1","topicSysFlag":0,"writeQueueNums":8}}}"#;
        assert_eq!(String::from_utf8(w.encode()).unwrap(), json);
        assert_eq!(
            TopicConfigSerializeWrapper::decode(json.as_bytes()).unwrap(),
            w
        );

        let java5 = r#"{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":5},"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":6},"topicConfigTable":{},"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{"S":{"bname":"b","currIdMap":{0:1},"topic":"S"}}}"#;
        let w5 = TopicConfigSerializeWrapper::decode(java5.as_bytes()).unwrap();
        assert_eq!(w5.mapping_data_version.unwrap().timestamp, 6);
        let info = &w5.topic_queue_mapping_info_map.as_ref().unwrap()["S"];
        assert_eq!(info["currIdMap"]["0"], 1);
        let again = TopicConfigSerializeWrapper::decode(&w5.encode()).unwrap();
        assert_eq!(again, w5);
    }

    #[test]
    fn topic_list_golden_json() {
        let mut tl = TopicList::default();
        tl.topic_list.insert("T2".into());
        tl.topic_list.insert("T1".into());
        assert_eq!(
            String::from_utf8(tl.encode()).unwrap(),
            r#"{"topicList":["T1","T2"]}"#
        );
        tl.broker_addr = Some("10.0.0.1:10911".into());
        let json = r#"{"brokerAddr":"10.0.0.1:10911","topicList":["T1","T2"]}"#;
        assert_eq!(String::from_utf8(tl.encode()).unwrap(), json);
        assert_eq!(TopicList::decode(json.as_bytes()).unwrap(), tl);
    }
}
