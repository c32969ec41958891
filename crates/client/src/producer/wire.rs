//! The send request written straight into bytes: the frame that
//! [`Prepared::request`] encoded by the header codecs (JSON or ROCKETMQ
//! binary) gives, byte for byte (tests pin that), without building an
//! extFields map of some thirty owned strings per send. Sends are the
//! client's hot path; every other request goes through `RemotingCommand`.

use bytes::{BufMut, BytesMut};
use protocol::body::MessageQueue;
use protocol::header_json::{format_int, put_int, put_str};
use protocol::message::topics;
use protocol::signature::{Signer, Signing, ACCESS_KEY, SECURITY_TOKEN, SIGNATURE, SIGNATURE_LEN};
use protocol::{LanguageCode, SerializeType, CURRENT_VERSION};
use remoting::EncodedFrame;

use super::json_text;
use super::request::Prepared;

/// Room for everything in the header but the properties and names.
const HEAD_FIXED: usize = 320;
/// Room for the account's field names, the signature and their framing.
const SIGNED_FIXED: usize = 96;

/// What varies between two sends of one prepared message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendTo<'a> {
    pub group: &'a str,
    pub mq: &'a MessageQueue,
    pub default_queue_nums: i32,
    pub born_ms: i64,
    pub header: SerializeType,
    /// The ACL account the request is signed with, if any.
    pub signer: Option<&'a Signer>,
}

impl Prepared {
    /// The SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE frame for `to.mq` from
    /// `to.group`, with request id `opaque`, in the `to.header` serialization,
    /// signed when `to.signer` is set.
    pub(crate) fn encode_frame(&self, to: &SendTo<'_>, opaque: i32) -> EncodedFrame {
        let head = match to.header {
            SerializeType::Json => self.json_head(to, opaque),
            SerializeType::RocketMq => self.binary_head(to, opaque),
        };
        EncodedFrame {
            head,
            body: self.body.clone(),
        }
    }

    /// Room the head needs beyond [`HEAD_FIXED`]: names, properties and the
    /// account's fields (`escape`: bytes a property separator may take).
    fn head_capacity(&self, to: &SendTo<'_>, escape: usize) -> usize {
        let account = to.signer.map_or(0, |s| {
            SIGNED_FIXED
                + s.access_key().len() * escape
                + s.security_token().map_or(0, |t| t.len() * escape)
        });
        HEAD_FIXED
            + to.group.len()
            + self.topic.len()
            + to.mq.broker_name.len()
            + self.properties.len() * escape
            + account
    }

    fn json_head(&self, to: &SendTo<'_>, opaque: i32) -> bytes::Bytes {
        // Separators are escaped as \u0001 (six bytes each): twice the
        // properties' length is room enough in practice, and more is grown.
        let mut h = BytesMut::with_capacity(self.head_capacity(to, 2));
        h.put_u64(0); // length and header word, patched below
        h.put_slice(b"{\"code\":");
        put_int(&mut h, i64::from(self.code().code()));
        // extFields in the order the codec writes them (sorted by key):
        // the account's fields first (upper case sorts before lower).
        h.put_slice(b",\"extFields\":{");
        let mut f = Fields::start(&mut h, to.signer, Json);
        f.str(b"a", to.group);
        f.str(b"b", &self.topic);
        f.str(b"c", topics::AUTO_CREATE_TOPIC);
        self.common_fields(&mut f, to);
        let sig = f.finish(&self.body);
        h.put_slice(b"},\"flag\":0,\"language\":");
        put_str(&mut h, LanguageCode::JAVA.name());
        h.put_slice(b",\"opaque\":");
        put_int(&mut h, i64::from(opaque));
        h.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
        put_int(&mut h, i64::from(CURRENT_VERSION));
        h.put_u8(b'}');
        patch_signature(&mut h, sig);
        self.finish(h, SerializeType::Json)
    }

    /// The ROCKETMQ binary header: fixed fields, no remark, then the
    /// extFields as (i16 key length, key, i32 value length, value) in key
    /// order, empty values left out as the codec does.
    fn binary_head(&self, to: &SendTo<'_>, opaque: i32) -> bytes::Bytes {
        let mut h = BytesMut::with_capacity(self.head_capacity(to, 1));
        h.put_u64(0); // length and header word, patched below
        h.put_i16(self.code().code() as i16);
        h.put_u8(LanguageCode::JAVA.code());
        h.put_i16(CURRENT_VERSION as i16);
        h.put_i32(opaque);
        h.put_i32(0); // flag: a plain request
        h.put_i32(0); // no remark
        let ext_at = h.len();
        h.put_i32(0); // extFields length, patched below
        let mut f = Fields::start(&mut h, to.signer, Binary);
        f.str(b"a", to.group);
        f.str(b"b", &self.topic);
        f.str(b"c", topics::AUTO_CREATE_TOPIC);
        self.common_fields(&mut f, to);
        let sig = f.finish(&self.body);
        let ext_len = (h.len() - ext_at - 4) as u32;
        h[ext_at..ext_at + 4].copy_from_slice(&ext_len.to_be_bytes());
        patch_signature(&mut h, sig);
        self.finish(h, SerializeType::RocketMq)
    }

    /// Fields `d` to `n`, in order.
    fn common_fields<W: Wire>(&self, f: &mut Fields<'_, W>, to: &SendTo<'_>) {
        f.int(b"d", i64::from(to.default_queue_nums));
        f.int(b"e", i64::from(to.mq.queue_id));
        f.int(b"f", i64::from(self.sys_flag));
        f.int(b"g", to.born_ms);
        f.int(b"h", i64::from(self.flag));
        if !self.properties.is_empty() {
            f.str(b"i", &self.properties);
        }
        f.int(b"j", i64::from(self.reconsume_times));
        f.str(b"k", "false");
        if let Some(l) = self.max_reconsume_times {
            f.int(b"l", i64::from(l));
        }
        f.str(b"m", if self.batch { "true" } else { "false" });
        f.str(b"n", &to.mq.broker_name);
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

/// Where the signature goes in a head and its value, once known.
type PendingSignature = Option<(usize, [u8; SIGNATURE_LEN])>;

fn patch_signature(h: &mut BytesMut, sig: PendingSignature) {
    if let Some((at, sig)) = sig {
        h[at..at + SIGNATURE_LEN].copy_from_slice(&sig);
    }
}

/// How one serialization writes an extFields entry.
trait Wire {
    /// Writes `key`: `value`; `first` for the map's first entry. An empty
    /// value is left out where the codec leaves it out.
    fn put(&self, dst: &mut BytesMut, first: bool, key: &[u8], value: &str);
    /// Writes `key` with a value of [`SIGNATURE_LEN`] placeholder bytes and
    /// returns where the value starts.
    fn put_placeholder(&self, dst: &mut BytesMut, first: bool, key: &[u8]) -> usize;
}

/// JSON: `"key":"value"`, separated by commas; empty values written too,
/// as the codec writes every field the header has.
struct Json;
/// ROCKETMQ binary: (i16 key length, key, i32 value length, value); empty
/// values left out, as Java reads them back as null.
struct Binary;

impl Wire for Json {
    fn put(&self, dst: &mut BytesMut, first: bool, key: &[u8], value: &str) {
        if !first {
            dst.put_u8(b',');
        }
        dst.put_u8(b'"');
        dst.put_slice(key);
        dst.put_slice(b"\":");
        json_text::put_str(dst, value);
    }

    fn put_placeholder(&self, dst: &mut BytesMut, first: bool, key: &[u8]) -> usize {
        if !first {
            dst.put_u8(b',');
        }
        dst.put_u8(b'"');
        dst.put_slice(key);
        dst.put_slice(b"\":\"");
        let at = dst.len();
        dst.put_bytes(0, SIGNATURE_LEN);
        dst.put_u8(b'"');
        at
    }
}

impl Wire for Binary {
    fn put(&self, dst: &mut BytesMut, _first: bool, key: &[u8], value: &str) {
        if value.is_empty() {
            return;
        }
        dst.put_i16(key.len() as i16);
        dst.put_slice(key);
        dst.put_i32(value.len() as i32);
        dst.put_slice(value.as_bytes());
    }

    fn put_placeholder(&self, dst: &mut BytesMut, _first: bool, key: &[u8]) -> usize {
        dst.put_i16(key.len() as i16);
        dst.put_slice(key);
        dst.put_i32(SIGNATURE_LEN as i32);
        let at = dst.len();
        dst.put_bytes(0, SIGNATURE_LEN);
        at
    }
}

/// The extFields of a send being written, in key order, and the signature
/// being computed over their values when the request is signed.
struct Fields<'a, W: Wire> {
    dst: &'a mut BytesMut,
    wire: W,
    first: bool,
    signing: Option<(usize, Signing)>,
}

impl<'a, W: Wire> Fields<'a, W> {
    /// Starts the map; with a signer, writes `AccessKey`, `SecurityToken`
    /// and a placeholder `Signature` (they sort before every send field,
    /// whose names are lowercase letters).
    fn start(dst: &'a mut BytesMut, signer: Option<&Signer>, wire: W) -> Self {
        let mut f = Fields {
            dst,
            wire,
            first: true,
            signing: None,
        };
        if let Some(s) = signer {
            f.wire
                .put(f.dst, f.first, ACCESS_KEY.as_bytes(), s.access_key());
            f.first = false;
            if let Some(t) = s.security_token() {
                f.wire.put(f.dst, false, SECURITY_TOKEN.as_bytes(), t);
            }
            let at = f.wire.put_placeholder(f.dst, false, SIGNATURE.as_bytes());
            f.signing = Some((at, s.start()));
        }
        f
    }

    /// A text field (signing an empty value adds nothing, as it adds
    /// nothing to the concatenation Java signs).
    fn str(&mut self, key: &[u8], value: &str) {
        self.wire.put(self.dst, self.first, key, value);
        self.first = false;
        if let Some((_, s)) = &mut self.signing {
            s.update(value.as_bytes());
        }
    }

    /// A number: header fields are strings on the wire.
    fn int(&mut self, key: &[u8], n: i64) {
        let mut buf = [0u8; 20];
        let text = format_int(&mut buf, n);
        // Decimal digits and '-' are ASCII.
        let text = std::str::from_utf8(text).unwrap_or_default();
        self.str(key, text);
    }

    /// The signature over the fields written and `body`, and where it goes.
    fn finish(self, body: &[u8]) -> PendingSignature {
        self.signing.map(|(at, s)| (at, s.finish(body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::producer::batch::EncodedBatch;
    use bytes::Bytes;
    use protocol::frame::{decode_frame, encode};
    use protocol::message::keys;
    use protocol::signature;

    /// The frame the generic path writes for the same send (signed the
    /// plain way: fields into the map, then signed over the map).
    fn generic(p: &Prepared, to: &SendTo<'_>, opaque: i32) -> Vec<u8> {
        let mut cmd = p.request_at(to.group, to.mq, to.default_queue_nums, to.born_ms);
        cmd.opaque = opaque;
        cmd.serialize_type = to.header;
        if let Some(s) = to.signer {
            s.sign_request(&mut cmd);
        }
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        out.to_vec()
    }

    fn fast(p: &Prepared, to: &SendTo<'_>, opaque: i32) -> Vec<u8> {
        let f = p.encode_frame(to, opaque);
        [f.head.as_ref(), f.body.as_ref()].concat()
    }

    fn cases() -> Vec<Prepared> {
        vec![
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
            // No body, no properties.
            Prepared::batch(EncodedBatch {
                topic: "T".into(),
                body: Bytes::new(),
                uniq_keys: Vec::new(),
                wait: None,
            }),
        ]
    }

    fn signers() -> Vec<Option<Signer>> {
        vec![
            None,
            Some(Signer::new("RocketMQ", "12345678", None)),
            Some(Signer::new("ak\"quoted", "secret-key", Some("token-1"))),
            // An empty token is no token.
            Some(Signer::new("RocketMQ", "12345678", Some(""))),
        ]
    }

    #[test]
    fn matches_the_generic_encoding_byte_for_byte() {
        let mq = MessageQueue::new("T", "broker-a", 3);
        let runs = [(0, 0, 4), (-7, 1_700_000_000_123, 8), (i32::MAX, -1, -1)];
        for signer in signers() {
            for header in [SerializeType::Json, SerializeType::RocketMq] {
                for (i, p) in cases().iter().enumerate() {
                    for (opaque, born_ms, n) in runs {
                        let to = SendTo {
                            group: "PG",
                            mq: &mq,
                            default_queue_nums: n,
                            born_ms,
                            header,
                            signer: signer.as_ref(),
                        };
                        let want = generic(p, &to, opaque);
                        let got = fast(p, &to, opaque);
                        assert_eq!(
                            String::from_utf8_lossy(&got),
                            String::from_utf8_lossy(&want),
                            "case {i} {header:?} {signer:?}"
                        );
                    }
                    // And it decodes back to the same command.
                    let to = SendTo {
                        group: "PG",
                        mq: &mq,
                        default_queue_nums: 4,
                        born_ms: 5,
                        header,
                        signer: signer.as_ref(),
                    };
                    let f = p.encode_frame(&to, 42);
                    let frame = Bytes::from([f.head.as_ref(), f.body.as_ref()].concat());
                    let mut cmd = p.request_at("PG", &mq, 4, 5);
                    cmd.opaque = 42;
                    cmd.serialize_type = header;
                    if let Some(s) = &signer {
                        s.sign_request(&mut cmd);
                    }
                    assert_eq!(decode_frame(frame).unwrap(), cmd);
                }
            }
        }
    }

    #[test]
    fn fast_signatures_verify_as_the_broker_checks_them() {
        let mq = MessageQueue::new("T", "broker-a", 3);
        let signer = Signer::new("RocketMQ", "12345678", Some("tok"));
        for header in [SerializeType::Json, SerializeType::RocketMq] {
            for p in cases() {
                let to = SendTo {
                    group: "PG",
                    mq: &mq,
                    default_queue_nums: 4,
                    born_ms: 5,
                    header,
                    signer: Some(&signer),
                };
                let f = p.encode_frame(&to, 7);
                let frame = Bytes::from([f.head.as_ref(), f.body.as_ref()].concat());
                let cmd = decode_frame(frame).unwrap();
                assert_eq!(cmd.field(signature::ACCESS_KEY), Some("RocketMQ"));
                assert_eq!(cmd.field(signature::SECURITY_TOKEN), Some("tok"));
                assert!(signature::verify_request(&cmd, "12345678"));
                assert!(!signature::verify_request(&cmd, "1234567"));
                // Another body under the same header is refused.
                let mut replay = cmd.clone();
                replay.body = Bytes::from_static(b"another body");
                assert!(!signature::verify_request(&replay, "12345678"));
            }
        }
    }
}
