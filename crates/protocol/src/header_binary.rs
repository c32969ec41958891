//! The ROCKETMQ binary header (serialize type 1): code (i16), language
//! (u8), version (i16), opaque (i32), flag (i32), remark (i32 length +
//! UTF-8), extFields (i32 total length, then key i16 length + key, value i32
//! length + value, repeated). A zero-length string is null in Java, so empty
//! remarks and empty values decode as absent.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codes::LanguageCode;
use crate::command::{ExtFields, RemotingCommand, SerializeType, MAX_EXT_FIELDS};
use crate::error::ProtocolError;
use crate::fields::CommandFields;

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(ProtocolError::BadBinaryHeader(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }
    fn i16(&mut self, what: &'static str) -> Result<i16, ProtocolError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self, len: usize, what: &'static str) -> Result<String, ProtocolError> {
        self.text(len, what).map(str::to_owned)
    }
    fn text(&mut self, len: usize, what: &'static str) -> Result<&'a str, ProtocolError> {
        let raw = self.take(len, what)?;
        std::str::from_utf8(raw).map_err(|_| ProtocolError::NotUtf8(what))
    }
    /// One extFields pair (`None` for an empty key or value: absent).
    fn pair(&mut self) -> Result<Option<(&'a str, &'a str)>, ProtocolError> {
        let klen = length(i32::from(self.i16("key length")?), "key length")?;
        let key = self.text(klen, "extFields key")?;
        let vlen = length(self.i32("value length")?, "value length")?;
        let value = self.text(vlen, "extFields value")?;
        Ok((!key.is_empty() && !value.is_empty()).then_some((key, value)))
    }
}

fn length(n: i32, what: &'static str) -> Result<usize, ProtocolError> {
    usize::try_from(n).map_err(|_| ProtocolError::BadBinaryHeader(what))
}

/// Decodes a binary header (the body is left empty).
///
/// # Errors
/// [`ProtocolError::BadBinaryHeader`] naming what was short or negative.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    decode_shared(&Bytes::copy_from_slice(header))
}

/// [`decode`] of a header in a shared buffer: the extFields stay its
/// bytes (validated here), read when a handler asks.
///
/// # Errors
/// As [`decode`].
pub fn decode_shared(header: &Bytes) -> Result<RemotingCommand, ProtocolError> {
    let mut r = Reader { buf: header };
    let code = i32::from(r.i16("code")?);
    let language = LanguageCode::from_code(r.u8("language")?);
    let version = i32::from(r.i16("version")?);
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = length(r.i32("remark length")?, "remark length")?;
    let remark = if remark_len > 0 {
        Some(r.string(remark_len, "remark")?)
    } else {
        None
    };
    let ext_len = length(r.i32("extFields length")?, "extFields length")?;
    let ext_at = header.len() - r.buf.len();
    let ext_bytes = r.take(ext_len, "extFields")?;
    // Checked here; the pairs are read when a handler asks.
    let mut ext = Reader { buf: ext_bytes };
    let mut present = 0usize;
    while !ext.buf.is_empty() && present <= MAX_EXT_FIELDS {
        if ext.pair()?.is_some() {
            present += 1;
        }
    }
    let ext_fields = if present > MAX_EXT_FIELDS {
        // Repeated keys may still fit: count the distinct ones, in order.
        CommandFields::from(read_map(ext_bytes)?)
    } else {
        CommandFields::from_raw(header.slice(ext_at..ext_at + ext_len), visit_fields)
    };
    if !r.buf.is_empty() {
        return Err(ProtocolError::BadBinaryHeader(
            "trailing bytes after extFields",
        ));
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        body: bytes::Bytes::new(),
        body_parts: Box::default(),
        serialize_type: SerializeType::RocketMq,
    })
}

/// The extFields pairs as a map, refusing more than [`MAX_EXT_FIELDS`]
/// distinct keys as soon as there are.
fn read_map(bytes: &[u8]) -> Result<ExtFields, ProtocolError> {
    let mut r = Reader { buf: bytes };
    let mut map = ExtFields::new();
    while !r.buf.is_empty() {
        if let Some((k, v)) = r.pair()? {
            map.insert(k.to_owned(), v.to_owned());
            if map.len() > MAX_EXT_FIELDS {
                return Err(ProtocolError::TooManyExtFields {
                    max: MAX_EXT_FIELDS,
                });
            }
        }
    }
    Ok(map)
}

/// Calls `f` with every present pair of extFields bytes [`decode`]
/// validated.
pub(crate) fn visit_fields<'a>(bytes: &'a [u8], f: &mut dyn FnMut(Cow<'a, str>, Cow<'a, str>)) {
    let mut r = Reader { buf: bytes };
    while !r.buf.is_empty() {
        match r.pair() {
            Ok(Some((k, v))) => f(Cow::Borrowed(k), Cow::Borrowed(v)),
            Ok(None) => {}
            // Validated when the frame was decoded.
            Err(_) => return,
        }
    }
}

/// Appends the binary header of `cmd` to `dst`. Codes beyond 16 bits are
/// truncated as Java does (such requests only work over JSON).
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_i16(cmd.code as i16);
    dst.put_u8(cmd.language.code());
    dst.put_i16(cmd.version as i16);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match cmd.remark.as_deref() {
        Some(r) if !r.is_empty() => {
            dst.put_i32(r.len() as i32);
            dst.put_slice(r.as_bytes());
        }
        _ => dst.put_i32(0),
    }
    let len_at = dst.len();
    dst.put_i32(0);
    for (k, v) in &cmd.ext_fields {
        if k.is_empty() || v.is_empty() || k.len() > i16::MAX as usize {
            continue;
        }
        dst.put_i16(k.len() as i16);
        dst.put_slice(k.as_bytes());
        dst.put_i32(v.len() as i32);
        dst.put_slice(v.as_bytes());
    }
    let ext_len = (dst.len() - len_at - 4) as i32;
    dst[len_at..len_at + 4].copy_from_slice(&ext_len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_binary_header() {
        let mut cmd = RemotingCommand::request_code(105);
        cmd.serialize_type = SerializeType::RocketMq;
        cmd.opaque = 9;
        cmd.remark = Some("hi".into());
        cmd.ext_fields.insert("topic".into(), "T".into());
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        let want: &[u8] = &[
            0, 105, // code
            0,   // JAVA
            1, 223, // version 479
            0, 0, 0, 9, // opaque
            0, 0, 0, 0, // flag
            0, 0, 0, 2, b'h', b'i', // remark
            0, 0, 0, 12, // ext length
            0, 5, b't', b'o', b'p', b'i', b'c', 0, 0, 0, 1, b'T',
        ];
        assert_eq!(&buf[..], want);
        assert_eq!(decode(&buf).unwrap(), cmd);
    }

    #[test]
    fn empty_strings_decode_as_absent() {
        let raw: &[u8] = &[
            0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, // no remark
            0, 0, 0, 7, 0, 1, b'k', 0, 0, 0, 0, // k = ""
        ];
        let cmd = decode(raw).unwrap();
        assert_eq!(cmd.remark, None);
        assert!(cmd.ext_fields.is_empty());
    }

    #[test]
    fn truncated_and_negative_lengths_are_errors() {
        let mut cmd = RemotingCommand::request_code(11);
        cmd.ext_fields.insert("a".into(), "b".into());
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let neg: &[u8] = &[
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(decode(neg).is_err());
    }
}
