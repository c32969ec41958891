//! The JSON header (serialize type 0). Reads what every client writes
//! (numbers and booleans inside `extFields`, `null`, `""`, trailing
//! newlines, unknown keys) and writes what fastjson writes: compact, keys in
//! alphabetical order, nulls left out, `extFields` always present.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::codes::LanguageCode;
use crate::command::{ExtFields, RemotingCommand, SerializeType, MAX_EXT_FIELDS};
use crate::error::ProtocolError;

#[derive(Deserialize)]
struct WireHeader {
    code: i32,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    version: Option<i32>,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(rename = "extFields", default, deserialize_with = "lenient_fields")]
    ext_fields: ExtFields,
}

/// Decodes a JSON header (the body is left empty).
///
/// # Errors
/// [`ProtocolError::BadJsonHeader`] with the parser's message.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    decode_shared(&bytes::Bytes::copy_from_slice(header))
}

/// [`decode`] of a header in a shared buffer: headers of the usual shape
/// keep their extFields as its bytes, read when a handler asks.
///
/// # Errors
/// As [`decode`].
pub fn decode_shared(header: &bytes::Bytes) -> Result<RemotingCommand, ProtocolError> {
    match crate::header_json_fast::decode(header) {
        Some(cmd) => Ok(cmd),
        None => decode_general(header),
    }
}

/// [`decode`] through serde, for every shape of header.
pub(crate) fn decode_general(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    let wire: WireHeader =
        serde_json::from_slice(header).map_err(|e| ProtocolError::BadJsonHeader(e.to_string()))?;
    Ok(RemotingCommand {
        code: wire.code,
        language: wire
            .language
            .as_deref()
            .map(LanguageCode::from_name)
            .unwrap_or(LanguageCode::OTHER),
        version: wire.version.unwrap_or(0),
        opaque: wire.opaque,
        flag: wire.flag,
        remark: wire.remark,
        ext_fields: wire.ext_fields.into(),
        body: bytes::Bytes::new(),
        body_parts: Box::default(),
        serialize_type: SerializeType::Json,
    })
}

/// Appends the JSON header of `cmd` to `dst`.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_slice(b"{\"code\":");
    put_int(dst, i64::from(cmd.code));
    dst.put_slice(b",\"extFields\":{");
    for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
        if i > 0 {
            dst.put_u8(b',');
        }
        put_str(dst, k);
        dst.put_u8(b':');
        put_str(dst, v);
    }
    dst.put_slice(b"},\"flag\":");
    put_int(dst, i64::from(cmd.flag));
    dst.put_slice(b",\"language\":");
    put_str(dst, cmd.language.name());
    dst.put_slice(b",\"opaque\":");
    put_int(dst, i64::from(cmd.opaque));
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        put_str(dst, remark);
    }
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(dst, i64::from(cmd.version));
    dst.put_u8(b'}');
}

/// Writes a decimal integer without allocating (every header has four).
pub fn put_int(dst: &mut BytesMut, n: i64) {
    let mut buf = [0u8; 20];
    dst.put_slice(format_int(&mut buf, n));
}

/// `n` in decimal, written at the end of `buf` (20 bytes fit any i64).
pub fn format_int(buf: &mut [u8; 20], n: i64) -> &[u8] {
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
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Writes `s` as a JSON string literal, escaping quotes, backslashes and
/// control characters (property separators U+0001/U+0002 become `\u0001`).
pub fn put_str(dst: &mut BytesMut, s: &str) {
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        dst.put_slice(&bytes[start..i]);
        match esc {
            Some(e) => dst.put_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                dst.put_slice(b"\\u00");
                dst.put_u8(HEX[usize::from(b >> 4)]);
                dst.put_u8(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    dst.put_slice(&bytes[start..]);
    dst.put_u8(b'"');
}

/// One extFields value as text: strings as they are, numbers in decimal,
/// booleans as `true`/`false`, null as absent, nested values as JSON text.
struct Scalar(Option<String>);

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Scalar(Some(v.to_string())))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

/// Deserializes an `extFields` object whose values may be strings, numbers,
/// booleans or null (null and nested values are dropped: no header field is
/// an object).
fn lenient_fields<'de, D: Deserializer<'de>>(d: D) -> Result<ExtFields, D::Error> {
    struct FieldsVisitor;

    impl<'de> Visitor<'de> for FieldsVisitor {
        type Value = ExtFields;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of scalar values, or null")
        }

        fn visit_unit<E: de::Error>(self) -> Result<ExtFields, E> {
            Ok(ExtFields::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<ExtFields, E> {
            Ok(ExtFields::new())
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<ExtFields, D2::Error> {
            d.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
            let mut out = ExtFields::new();
            while let Some(key) = map.next_key::<String>()? {
                if let Scalar(Some(text)) = map.next_value::<Scalar>()? {
                    out.insert(key, text);
                    if out.len() > MAX_EXT_FIELDS {
                        let limit = ProtocolError::TooManyExtFields {
                            max: MAX_EXT_FIELDS,
                        };
                        return Err(de::Error::custom(limit));
                    }
                }
            }
            Ok(out)
        }
    }

    d.deserialize_option(FieldsVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::RequestCode;

    #[test]
    fn integers_of_every_sign_round_trip() {
        for n in [0, 7, -1, -5, 479, i32::MAX, i32::MIN] {
            let mut cmd = RemotingCommand::request_code(n);
            cmd.opaque = n;
            let mut buf = BytesMut::new();
            encode(&cmd, &mut buf);
            let back = decode(&buf).unwrap();
            assert_eq!((back.code, back.opaque), (n, n), "{n}");
        }
    }

    #[test]
    fn reads_java_pull_header() {
        let raw = br#"{"code":11,"extFields":{"bname":"broker-a","commitOffset":"15","consumerGroup":"G1","expressionType":"TAG","maxMsgNums":"32","queueId":"0","queueOffset":"15","subVersion":"1700000000000","suspendTimeoutMillis":"15000","sysFlag":"3","topic":"T1"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#;
        let cmd = decode(raw).unwrap();
        assert_eq!(cmd.code, 11);
        assert_eq!(cmd.opaque, 7);
        assert_eq!(cmd.version, 479);
        assert_eq!(cmd.language, LanguageCode::JAVA);
        assert_eq!(cmd.field("sysFlag"), Some("3"));
        assert_eq!(cmd.field("topic"), Some("T1"));
    }

    #[test]
    fn reads_ali_ons_and_cpp_quirks() {
        // Numbers and booleans as values, null, an empty remark, a newline.
        let raw = b"{\"code\":310,\"language\":\"CPP\",\"version\":333,\"opaque\":1,\"flag\":0,\"remark\":\"\",\"extFields\":{\"e\":0,\"m\":false,\"k\":null,\"i\":\"KEYS\\u0001a\\u0002\",\"Signature\":\"\"}}\n";
        let cmd = decode(raw).unwrap();
        assert_eq!(cmd.language, LanguageCode::CPP);
        assert_eq!(cmd.remark.as_deref(), Some(""));
        assert_eq!(cmd.field("e"), Some("0"));
        assert_eq!(cmd.field("m"), Some("false"));
        assert_eq!(cmd.field("k"), None);
        assert_eq!(cmd.field("i"), Some("KEYS\u{1}a\u{2}"));
        // Missing extFields and an unknown language are fine.
        let cmd = decode(br#"{"code":34,"language":"NODE","opaque":3,"flag":0}"#).unwrap();
        assert!(cmd.ext_fields.is_empty());
        assert_eq!(cmd.language, LanguageCode::OTHER);
    }

    #[test]
    fn rejects_wrong_types() {
        assert!(decode(br#"{"code":"x","opaque":1}"#).is_err());
        assert!(decode(br#"{"opaque":1}"#).is_err());
        assert!(decode(b"not json").is_err());
        assert!(decode(br#"{"code":1,"extFields":[1]}"#).is_err());
    }

    #[test]
    fn golden_response_with_remark_and_escapes() {
        let mut cmd = RemotingCommand::error(crate::ResponseCode::TOPIC_NOT_EXIST, "no \"T\"\n");
        cmd.opaque = 42;
        cmd.ext_fields.insert("p".into(), "a\u{1}b\u{2}".into());
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            r#"{"code":17,"extFields":{"p":"a\u0001b\u0002"},"flag":1,"language":"JAVA","opaque":42,"remark":"no \"T\"\n","serializeTypeCurrentRPC":"JSON","version":479}"#
        );
        let back = decode(&buf).unwrap();
        assert_eq!(back, cmd);
        let _ = RequestCode::HEART_BEAT;
    }
}
