//! RegisterBrokerBody (REGISTER_BROKER, remoting-protocol §4.10), as JSON and
//! in the zlib-compressed binary form of `compressedRegister=true` brokers.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fastjson::{self, parse_object as from_json};
use super::topic::to_json;
use super::topic::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use crate::error::ProtocolError;

/// MQVersion ordinal of V3_0_11: older brokers send a bare
/// TopicConfigSerializeWrapper as the body.
pub const VERSION_3_0_11: i32 = 37;
/// MQVersion ordinal of V5_0_0: compressed bodies carry static-topic mappings
/// from this version on.
pub const VERSION_5_0_0: i32 = 413;

/// The most a compressed body may inflate to; a bigger stream is refused
/// rather than exhausting memory (a broker with 100k topics needs ~10 MiB).
pub const MAX_INFLATED: u64 = 256 << 20;

/// How many times its own size a compressed body may inflate to (on top of
/// [`INFLATE_FLOOR`]). Topic tables compress 10-30 times; a zlib bomb
/// reaches 1000, and this keeps what it can cost a small multiple of the
/// bytes the sender had to ship.
pub const INFLATE_RATIO: u64 = 64;

/// Every compressed body may inflate to at least this much.
pub const INFLATE_FLOOR: u64 = 1 << 20;

/// The inflated size a compressed body of `compressed` bytes may reach.
pub fn inflate_limit(compressed: usize) -> u64 {
    (compressed as u64)
        .saturating_mul(INFLATE_RATIO)
        .saturating_add(INFLATE_FLOOR)
        .min(MAX_INFLATED)
}

/// What a broker registers: its topic table and filter servers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl RegisterBrokerBody {
    /// Compact JSON (the uncompressed form).
    pub fn encode(&self) -> Vec<u8> {
        to_json(self)
    }

    /// The compressed form: a zlib stream of length-prefixed parts. Static
    /// topic mappings are written only when `version` ≥ [`VERSION_5_0_0`],
    /// matching what the receiver expects from a broker of that version.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] if the compressor fails (it writes to memory,
    /// so this does not happen in practice).
    pub fn encode_compressed(&self, version: i32) -> Result<Vec<u8>, ProtocolError> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        let wrapper = &self.topic_config_serialize_wrapper;
        let io = |e: std::io::Error| ProtocolError::BadBody(format!("compressing: {e}"));
        write_part(&mut z, &wrapper.data_version.encode()).map_err(io)?;
        write_len(&mut z, wrapper.topic_config_table.len()).map_err(io)?;
        for tc in wrapper.topic_config_table.values() {
            write_part(&mut z, tc.encode_text().as_bytes()).map_err(io)?;
        }
        write_part(&mut z, &to_json(&self.filter_server_list)).map_err(io)?;
        if version >= VERSION_5_0_0 {
            let empty = BTreeMap::new();
            let infos = wrapper
                .topic_queue_mapping_info_map
                .as_ref()
                .unwrap_or(&empty);
            write_len(&mut z, infos.len()).map_err(io)?;
            for info in infos.values() {
                write_part(&mut z, &to_json(info)).map_err(io)?;
            }
        }
        z.finish().map_err(io)
    }

    /// Parses a body as a broker of `version` sent it: JSON, the bare
    /// wrapper of pre-3.0.11 brokers, or the compressed form.
    ///
    /// # Errors
    /// [`ProtocolError::BadBody`] saying which part is malformed.
    pub fn decode(body: &[u8], compressed: bool, version: i32) -> Result<Self, ProtocolError> {
        if compressed {
            return Self::decode_compressed(body, version);
        }
        if version < VERSION_3_0_11 {
            return Ok(RegisterBrokerBody {
                filter_server_list: Vec::new(),
                topic_config_serialize_wrapper: TopicConfigSerializeWrapper::decode(body)?,
            });
        }
        from_json(body, "RegisterBrokerBody")
    }

    fn decode_compressed(body: &[u8], version: i32) -> Result<Self, ProtocolError> {
        let limit = inflate_limit(body.len());
        let mut raw = Vec::new();
        ZlibDecoder::new(body)
            .take(limit + 1)
            .read_to_end(&mut raw)
            .map_err(|e| ProtocolError::BadBody(format!("compressed register body: {e}")))?;
        if raw.len() as u64 > limit {
            return Err(ProtocolError::BadBody(format!(
                "compressed register body of {} bytes inflates beyond {limit} bytes \
                 ({INFLATE_RATIO} times its size plus {INFLATE_FLOOR})",
                body.len()
            )));
        }
        let mut cur = Cursor { buf: &raw, pos: 0 };
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version: DataVersion::decode(cur.part("dataVersion")?)?,
            ..TopicConfigSerializeWrapper::default()
        };
        let topics = cur.count("topic count")?;
        for _ in 0..topics {
            let text = std::str::from_utf8(cur.part("topic config")?)
                .map_err(|_| ProtocolError::BadBody("topic config text is not UTF-8".into()))?;
            let tc = TopicConfig::decode_text(text)?;
            wrapper.topic_config_table.insert(tc.topic_name.clone(), tc);
        }
        // Java logs and carries on with an empty list when this does not parse.
        let filter_server_list = fastjson::parse(cur.part("filterServerList")?)
            .and_then(|v| fastjson::from_value(v, "filterServerList"))
            .unwrap_or_default();
        if version >= VERSION_5_0_0 && !cur.is_empty() {
            let mut infos = BTreeMap::new();
            for _ in 0..cur.count("topic queue mapping count")? {
                let info: Value =
                    from_json(cur.part("topic queue mapping")?, "TopicQueueMappingInfo")?;
                let topic = info
                    .get("topic")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                infos.insert(topic.to_owned(), info);
            }
            wrapper.topic_queue_mapping_info_map = Some(infos);
        }
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: wrapper,
        })
    }
}

fn write_len(w: &mut impl Write, len: usize) -> std::io::Result<()> {
    let len = i32::try_from(len)
        .map_err(|_| std::io::Error::other(format!("part of {len} bytes is too long")))?;
    w.write_all(&len.to_be_bytes())
}

fn write_part(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    write_len(w, bytes.len())?;
    w.write_all(bytes)
}

/// Reads the length-prefixed parts of an inflated body.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn count(&mut self, what: &str) -> Result<usize, ProtocolError> {
        let bytes = self.buf.get(self.pos..self.pos + 4).ok_or_else(|| {
            ProtocolError::BadBody(format!("register body ends before the {what}"))
        })?;
        self.pos += 4;
        let n = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        usize::try_from(n).map_err(|_| {
            ProtocolError::BadBody(format!("register body has a negative {what}: {n}"))
        })
    }

    fn part(&mut self, what: &str) -> Result<&'a [u8], ProtocolError> {
        let len = self.count(&format!("{what} length"))?;
        let part = self.buf.get(self.pos..self.pos + len).ok_or_else(|| {
            ProtocolError::BadBody(format!(
                "register body ends inside the {what} ({len} bytes)"
            ))
        })?;
        self.pos += len;
        Ok(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CURRENT_VERSION;

    fn sample() -> RegisterBrokerBody {
        let mut body = RegisterBrokerBody::default();
        let w = &mut body.topic_config_serialize_wrapper;
        w.data_version = DataVersion {
            counter: 2,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        };
        w.topic_config_table
            .insert("T1".into(), TopicConfig::new("T1", 4, 4));
        let mut t2 = TopicConfig::new("T2", 2, 2);
        t2.perm = 4;
        w.topic_config_table.insert("T2".into(), t2);
        body
    }

    #[test]
    fn golden_json() {
        let json = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"T1":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T1","topicSysFlag":0,"writeQueueNums":4},"T2":{"attributes":{},"order":false,"perm":4,"readQueueNums":2,"topicFilterType":"SINGLE_TAG","topicName":"T2","topicSysFlag":0,"writeQueueNums":2}}}}"#;
        assert_eq!(String::from_utf8(sample().encode()).unwrap(), json);
        let back = RegisterBrokerBody::decode(json.as_bytes(), false, CURRENT_VERSION).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn old_brokers_send_a_bare_wrapper() {
        let body = sample().topic_config_serialize_wrapper.encode();
        let back = RegisterBrokerBody::decode(&body, false, 10).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn compressed_round_trip_and_layout() {
        let body = sample();
        let bytes = body.encode_compressed(CURRENT_VERSION).unwrap();
        // Layout of the inflated stream, part by part.
        let mut raw = Vec::new();
        ZlibDecoder::new(&bytes[..]).read_to_end(&mut raw).unwrap();
        let dv = br#"{"counter":2,"stateVersion":0,"timestamp":1700000000000}"#;
        let mut want = Vec::new();
        want.extend_from_slice(&(dv.len() as i32).to_be_bytes());
        want.extend_from_slice(dv);
        want.extend_from_slice(&2i32.to_be_bytes());
        for t in ["T1 4 4 6 SINGLE_TAG {}", "T2 2 2 4 SINGLE_TAG {}"] {
            want.extend_from_slice(&(t.len() as i32).to_be_bytes());
            want.extend_from_slice(t.as_bytes());
        }
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(b"[]");
        want.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(raw, want);

        let mut back = RegisterBrokerBody::decode(&bytes, true, CURRENT_VERSION).unwrap();
        assert_eq!(
            back.topic_config_serialize_wrapper
                .topic_queue_mapping_info_map,
            Some(BTreeMap::new())
        );
        back.topic_config_serialize_wrapper
            .topic_queue_mapping_info_map = None;
        assert_eq!(back, body);
    }

    #[test]
    fn compressed_4x_has_no_mapping_part_and_keeps_filter_servers() {
        let mut body = sample();
        body.filter_server_list = vec!["10.0.0.1:30000".into()];
        let bytes = body.encode_compressed(317).unwrap();
        let back = RegisterBrokerBody::decode(&bytes, true, 317).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn compressed_mappings_are_keyed_by_topic() {
        let mut body = sample();
        let info: Value =
            serde_json::from_str(r#"{"bname":"b","currIdMap":{"0":1},"topic":"S"}"#).unwrap();
        body.topic_config_serialize_wrapper
            .topic_queue_mapping_info_map = Some(BTreeMap::from([("S".to_owned(), info)]));
        let bytes = body.encode_compressed(CURRENT_VERSION).unwrap();
        assert_eq!(
            RegisterBrokerBody::decode(&bytes, true, CURRENT_VERSION).unwrap(),
            body
        );
    }

    #[test]
    fn truncated_and_garbage_bodies_are_errors() {
        let bytes = sample().encode_compressed(CURRENT_VERSION).unwrap();
        let mut raw = Vec::new();
        ZlibDecoder::new(&bytes[..]).read_to_end(&mut raw).unwrap();
        let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
        z.write_all(&raw[..raw.len() - 10]).unwrap();
        let cut = z.finish().unwrap();
        let err = RegisterBrokerBody::decode(&cut, true, CURRENT_VERSION).unwrap_err();
        assert!(err.to_string().contains("ends"), "{err}");
        assert!(RegisterBrokerBody::decode(b"not zlib", true, CURRENT_VERSION).is_err());
        assert!(RegisterBrokerBody::decode(b"{", false, CURRENT_VERSION).is_err());
        let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
        z.write_all(&(-1i32).to_be_bytes()).unwrap();
        let neg = z.finish().unwrap();
        let err = RegisterBrokerBody::decode(&neg, true, CURRENT_VERSION).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn a_zlib_bomb_is_refused_at_a_multiple_of_its_size() {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        z.write_all(&vec![0u8; 16 << 20]).unwrap();
        let bomb = z.finish().unwrap();
        let limit = inflate_limit(bomb.len());
        assert!(limit < 16 << 20, "limit {limit}");
        let err = RegisterBrokerBody::decode(&bomb, true, CURRENT_VERSION).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("inflates beyond {limit} bytes")),
            "{err}"
        );
        // A real topic table still decodes after it.
        let ok = sample().encode_compressed(CURRENT_VERSION).unwrap();
        assert!(RegisterBrokerBody::decode(&ok, true, CURRENT_VERSION).is_ok());
    }
}
