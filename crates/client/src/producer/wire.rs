//! The send request written straight into bytes: the frame that
//! [`Prepared::request`] encoded by the header codecs (JSON or ROCKETMQ
//! binary) gives, byte for byte (tests pin that), without building an
//! extFields map of some thirty owned strings per send. Sends are the
//! client's hot path; every other request goes through `RemotingCommand`.

use bytes::{BufMut, BytesMut};
use protocol::body::MessageQueue;
use protocol::header_json::{format_int, put_int, put_str};
use protocol::message::topics;
use protocol::{LanguageCode, SerializeType, CURRENT_VERSION};
use remoting::EncodedFrame;

use super::request::Prepared;

/// Room for everything in the header but the properties and names.
const HEAD_FIXED: usize = 320;

/// What varies between two sends of one prepared message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendTo<'a> {
    pub group: &'a str,
    pub mq: &'a MessageQueue,
    pub default_queue_nums: i32,
    pub born_ms: i64,
    pub header: SerializeType,
}

impl Prepared {
    /// The SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE frame for `to.mq` from
    /// `to.group`, with request id `opaque`, in the `to.header` serialization.
    pub(crate) fn encode_frame(&self, to: &SendTo<'_>, opaque: i32) -> EncodedFrame {
        let head = match to.header {
            SerializeType::Json => {
                self.json_head(to.group, to.mq, to.default_queue_nums, opaque, to.born_ms)
            }
            SerializeType::RocketMq => self.binary_head(to, opaque),
        };
        EncodedFrame {
            head,
            body: self.body.clone(),
        }
    }

    fn json_head(
        &self,
        group: &str,
        mq: &MessageQueue,
        default_queue_nums: i32,
        opaque: i32,
        born_ms: i64,
    ) -> bytes::Bytes {
        let mut h = BytesMut::with_capacity(
            HEAD_FIXED
                + group.len()
                + self.topic.len()
                + mq.broker_name.len()
                // Separators are escaped as \u0001 (six bytes each).
                + self.properties.len() * 2,
        );
        h.put_u64(0); // length and header word, patched below
        h.put_slice(b"{\"code\":");
        put_int(&mut h, i64::from(self.code().code()));
        // extFields in the order the codec writes them (sorted by key).
        h.put_slice(b",\"extFields\":{\"a\":");
        put_str(&mut h, group);
        h.put_slice(b",\"b\":");
        put_str(&mut h, &self.topic);
        h.put_slice(b",\"c\":");
        put_str(&mut h, topics::AUTO_CREATE_TOPIC);
        put_field_int(&mut h, b"d", i64::from(default_queue_nums));
        put_field_int(&mut h, b"e", i64::from(mq.queue_id));
        put_field_int(&mut h, b"f", i64::from(self.sys_flag));
        put_field_int(&mut h, b"g", born_ms);
        put_field_int(&mut h, b"h", i64::from(self.flag));
        if !self.properties.is_empty() {
            h.put_slice(b",\"i\":");
            put_str(&mut h, &self.properties);
        }
        put_field_int(&mut h, b"j", i64::from(self.reconsume_times));
        h.put_slice(b",\"k\":\"false\"");
        if let Some(l) = self.max_reconsume_times {
            put_field_int(&mut h, b"l", i64::from(l));
        }
        h.put_slice(if self.batch {
            b",\"m\":\"true\""
        } else {
            b",\"m\":\"false\""
        });
        h.put_slice(b",\"n\":");
        put_str(&mut h, &mq.broker_name);
        // A plain request: flag 0, no remark.
        h.put_slice(b"},\"flag\":0,\"language\":");
        put_str(&mut h, LanguageCode::JAVA.name());
        h.put_slice(b",\"opaque\":");
        put_int(&mut h, i64::from(opaque));
        h.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
        put_int(&mut h, i64::from(CURRENT_VERSION));
        h.put_u8(b'}');
        self.finish(h, SerializeType::Json)
    }

    /// The ROCKETMQ binary header: fixed fields, no remark, then the
    /// extFields as (i16 key length, key, i32 value length, value) in key
    /// order, empty values left out as the codec does.
    fn binary_head(&self, to: &SendTo<'_>, opaque: i32) -> bytes::Bytes {
        let mut h = BytesMut::with_capacity(
            HEAD_FIXED
                + to.group.len()
                + self.topic.len()
                + to.mq.broker_name.len()
                + self.properties.len(),
        );
        h.put_u64(0); // length and header word, patched below
        h.put_i16(self.code().code() as i16);
        h.put_u8(LanguageCode::JAVA.code());
        h.put_i16(CURRENT_VERSION as i16);
        h.put_i32(opaque);
        h.put_i32(0); // flag: a plain request
        h.put_i32(0); // no remark
        let ext_at = h.len();
        h.put_i32(0); // extFields length, patched below
        bin_field(&mut h, b"a", to.group.as_bytes());
        bin_field(&mut h, b"b", self.topic.as_bytes());
        bin_field(&mut h, b"c", topics::AUTO_CREATE_TOPIC.as_bytes());
        bin_field_int(&mut h, b"d", i64::from(to.default_queue_nums));
        bin_field_int(&mut h, b"e", i64::from(to.mq.queue_id));
        bin_field_int(&mut h, b"f", i64::from(self.sys_flag));
        bin_field_int(&mut h, b"g", to.born_ms);
        bin_field_int(&mut h, b"h", i64::from(self.flag));
        bin_field(&mut h, b"i", self.properties.as_bytes());
        bin_field_int(&mut h, b"j", i64::from(self.reconsume_times));
        bin_field(&mut h, b"k", b"false");
        if let Some(l) = self.max_reconsume_times {
            bin_field_int(&mut h, b"l", i64::from(l));
        }
        bin_field(&mut h, b"m", if self.batch { b"true" } else { b"false" });
        bin_field(&mut h, b"n", to.mq.broker_name.as_bytes());
        let ext_len = (h.len() - ext_at - 4) as u32;
        h[ext_at..ext_at + 4].copy_from_slice(&ext_len.to_be_bytes());
        self.finish(h, SerializeType::RocketMq)
    }

    /// Patches the length field and header word of a head written after
    /// eight placeholder bytes.
    fn finish(&self, mut h: BytesMut, kind: SerializeType) -> bytes::Bytes {
        let header_len = h.len() - 8;
        let length = 4 + header_len + self.body.len();
        let word = (u32::from(kind.byte()) << 24) | ((header_len as u32) & 0x00FF_FFFF);
        h[..4].copy_from_slice(&(length as u32).to_be_bytes());
        h[4..8].copy_from_slice(&word.to_be_bytes());
        h.freeze()
    }
}

/// One binary extFields entry (an empty value is left out, as Java reads
/// it back as null).
fn bin_field(dst: &mut BytesMut, key: &[u8], value: &[u8]) {
    if value.is_empty() {
        return;
    }
    dst.put_i16(key.len() as i16);
    dst.put_slice(key);
    dst.put_i32(value.len() as i32);
    dst.put_slice(value);
}

fn bin_field_int(dst: &mut BytesMut, key: &[u8], n: i64) {
    let mut buf = [0u8; 20];
    bin_field(dst, key, format_int(&mut buf, n));
}

/// `,"key":"N"`: header fields are strings on the wire, numbers included.
fn put_field_int(dst: &mut BytesMut, key: &[u8], n: i64) {
    dst.put_slice(b",\"");
    dst.put_slice(key);
    dst.put_slice(b"\":\"");
    put_int(dst, n);
    dst.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::producer::batch::EncodedBatch;
    use bytes::Bytes;
    use protocol::frame::{decode_frame, encode};
    use protocol::message::keys;

    /// The frame the generic path writes for the same send.
    fn generic(p: &Prepared, to: &SendTo<'_>, opaque: i32) -> Vec<u8> {
        let mut cmd = p.request_at(to.group, to.mq, to.default_queue_nums, to.born_ms);
        cmd.opaque = opaque;
        cmd.serialize_type = to.header;
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        out.to_vec()
    }

    fn fast(p: &Prepared, to: &SendTo<'_>, opaque: i32) -> Vec<u8> {
        let f = p.encode_frame(to, opaque);
        [f.head.as_ref(), f.body.as_ref()].concat()
    }

    #[test]
    fn matches_the_generic_encoding_byte_for_byte() {
        let mq = MessageQueue::new("T", "broker-a", 3);
        let cases = [
            Prepared::single(Message::new("T", "hi"), 4096, || "ID1".into()).unwrap(),
            Prepared::single(
                Message::new("T", vec![b'x'; 10_000])
                    .with_tags("t\"a\\g")
                    .with_keys(["k1", "k2"]),
                4096,
                || "ID2".into(),
            )
            .unwrap(),
            Prepared::single(
                Message::new("%RETRY%G", "b")
                    .with_property(keys::RECONSUME_TIME, "2")
                    .with_property(keys::MAX_RECONSUME_TIMES, "16"),
                4096,
                || "ID3".into(),
            )
            .unwrap(),
            Prepared::batch(EncodedBatch {
                topic: "T".into(),
                body: Bytes::from_static(b"batch-body"),
                uniq_keys: vec!["A".into(), "B".into()],
                wait: None,
            }),
        ];
        let runs = [(0, 0, 4), (-7, 1_700_000_000_123, 8), (i32::MAX, -1, -1)];
        for header in [SerializeType::Json, SerializeType::RocketMq] {
            for (i, p) in cases.iter().enumerate() {
                for (opaque, born_ms, n) in runs {
                    let to = SendTo {
                        group: "PG",
                        mq: &mq,
                        default_queue_nums: n,
                        born_ms,
                        header,
                    };
                    let want = generic(p, &to, opaque);
                    let got = fast(p, &to, opaque);
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want),
                        "case {i} {header:?}"
                    );
                }
                // And it decodes back to the same command.
                let to = SendTo {
                    group: "PG",
                    mq: &mq,
                    default_queue_nums: 4,
                    born_ms: 5,
                    header,
                };
                let f = p.encode_frame(&to, 42);
                let frame = Bytes::from([f.head.as_ref(), f.body.as_ref()].concat());
                let mut cmd = p.request_at("PG", &mq, 4, 5);
                cmd.opaque = 42;
                cmd.serialize_type = header;
                assert_eq!(decode_frame(frame).unwrap(), cmd);
            }
        }
    }
}
