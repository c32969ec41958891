//! The send request written straight into bytes: the frame that
//! [`Prepared::request`] encoded by the JSON header codec gives, byte for
//! byte (a test pins that), without building an extFields map of some
//! thirty owned strings per send. Sends are the client's hot path; every
//! other request goes through `RemotingCommand`.

use bytes::{BufMut, BytesMut};
use protocol::body::MessageQueue;
use protocol::header_json::put_str;
use protocol::message::topics;
use protocol::{LanguageCode, CURRENT_VERSION};
use remoting::EncodedFrame;

use super::request::Prepared;

/// Room for everything in the header but the properties and names.
const HEAD_FIXED: usize = 320;

impl Prepared {
    /// The SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE frame for `mq` from
    /// `group`, with request id `opaque` and born timestamp `born_ms`.
    pub(crate) fn encode_frame(
        &self,
        group: &str,
        mq: &MessageQueue,
        default_queue_nums: i32,
        opaque: i32,
        born_ms: i64,
    ) -> EncodedFrame {
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
        // JSON header: type byte 0, so the header word is just its length.
        let header_len = h.len() - 8;
        let length = 4 + header_len + self.body.len();
        h[..4].copy_from_slice(&(length as u32).to_be_bytes());
        h[4..8].copy_from_slice(&((header_len as u32) & 0x00FF_FFFF).to_be_bytes());
        EncodedFrame {
            head: h.freeze(),
            body: self.body.clone(),
        }
    }
}

/// `,"key":"N"`: header fields are strings on the wire, numbers included.
fn put_field_int(dst: &mut BytesMut, key: &[u8], n: i64) {
    dst.put_slice(b",\"");
    dst.put_slice(key);
    dst.put_slice(b"\":\"");
    put_int(dst, n);
    dst.put_u8(b'"');
}

/// A decimal integer, without going through a `String`.
fn put_int(dst: &mut BytesMut, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        dst.put_u8(b'-');
    }
    dst.put_slice(&buf[i..]);
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
    fn generic(
        p: &Prepared,
        group: &str,
        mq: &MessageQueue,
        n: i32,
        opaque: i32,
        born: i64,
    ) -> Vec<u8> {
        let mut cmd = p.request_at(group, mq, n, born);
        cmd.opaque = opaque;
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        out.to_vec()
    }

    fn fast(
        p: &Prepared,
        group: &str,
        mq: &MessageQueue,
        n: i32,
        opaque: i32,
        born: i64,
    ) -> Vec<u8> {
        let f = p.encode_frame(group, mq, n, opaque, born);
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
        for (i, p) in cases.iter().enumerate() {
            for (opaque, born, n) in [(0, 0, 4), (-7, 1_700_000_000_123, 8), (i32::MAX, -1, -1)] {
                let want = generic(p, "PG", &mq, n, opaque, born);
                let got = fast(p, "PG", &mq, n, opaque, born);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want),
                    "case {i}"
                );
            }
            // And it decodes back to the same command.
            let f = p.encode_frame("PG", &mq, 4, 42, 5);
            let frame = Bytes::from([f.head.as_ref(), f.body.as_ref()].concat());
            let mut cmd = p.request_at("PG", &mq, 4, 5);
            cmd.opaque = 42;
            assert_eq!(decode_frame(frame).unwrap(), cmd);
        }
    }
}
