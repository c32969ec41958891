//! The remoting frame: `length | headerWord | header | body`, big-endian,
//! where `length` counts everything after itself and the header word's high
//! byte is the serialize type and its low 24 bits the header length.

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::{RemotingCommand, SerializeType};
use crate::error::ProtocolError;
use crate::{header_binary, header_json};

/// The Java decoder's default maximum frame (`length` field), 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// The largest header accepted. Real headers are a few hundred bytes; the
/// longest field clients send (message properties) is capped at 32 KiB by
/// Java's record format, so this leaves room while keeping a header's
/// decoded form (strings and map nodes, several times the wire size) small.
pub const MAX_HEADER_LEN: usize = 1024 * 1024;

/// Looks at the start of `buf` and says how long the whole frame is
/// (including the 4-byte length field), or `None` if fewer than 4 bytes are
/// there yet.
///
/// # Errors
/// [`ProtocolError::FrameTooShort`] or [`ProtocolError::FrameTooLarge`]: the
/// stream cannot be resynchronised and the connection should be closed.
pub fn frame_len(buf: &[u8], max_frame: usize) -> Result<Option<usize>, ProtocolError> {
    let Some(word) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    if len < 4 {
        return Err(ProtocolError::FrameTooShort(len));
    }
    let len = len as usize;
    if len > max_frame {
        return Err(ProtocolError::FrameTooLarge {
            len,
            max: max_frame,
        });
    }
    Ok(Some(len + 4))
}

/// Decodes one whole frame (as sized by [`frame_len`]). The body shares the
/// frame's buffer.
///
/// # Errors
/// Any header error; the caller should drop the connection.
pub fn decode_frame(frame: Bytes) -> Result<RemotingCommand, ProtocolError> {
    if frame.len() < 8 {
        return Err(ProtocolError::FrameTooShort(frame.len() as u32));
    }
    let length = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    if length + 4 != frame.len() {
        return Err(ProtocolError::HeaderLengthOutOfRange {
            header: length,
            frame: frame.len(),
        });
    }
    let word = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let type_byte = (word >> 24) as u8;
    let header_len = (word & 0x00FF_FFFF) as usize;
    if header_len > length - 4 {
        return Err(ProtocolError::HeaderLengthOutOfRange {
            header: header_len,
            frame: length,
        });
    }
    if header_len > MAX_HEADER_LEN {
        return Err(ProtocolError::TooLong {
            field: "header",
            len: header_len,
            max: MAX_HEADER_LEN,
        });
    }
    let header = frame.slice(8..8 + header_len);
    let mut cmd = match type_byte {
        0 => header_json::decode_shared(&header)?,
        1 => header_binary::decode_shared(&header)?,
        other => return Err(ProtocolError::UnknownSerializeType(other)),
    };
    cmd.body = frame.slice(8 + header_len..);
    Ok(cmd)
}

/// Decodes the first frame of `buf` if it is complete: the frame and the
/// number of bytes it took, or `None` when more bytes are needed.
///
/// # Errors
/// As [`frame_len`] and [`decode_frame`].
pub fn decode(
    buf: &[u8],
    max_frame: usize,
) -> Result<Option<(RemotingCommand, usize)>, ProtocolError> {
    match frame_len(buf, max_frame)? {
        Some(n) if buf.len() >= n => {
            let cmd = decode_frame(Bytes::copy_from_slice(&buf[..n]))?;
            Ok(Some((cmd, n)))
        }
        _ => Ok(None),
    }
}

/// Writes the length, header word and header of `cmd` into `dst`, but not
/// its body, and returns the body length the length field announced. Callers
/// that write the body separately (a mapped slice, say) use this; others use
/// [`encode`].
pub fn encode_head(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let start = dst.len();
    dst.put_u32(0); // length, patched below
    dst.put_u32(0); // header word, patched below
    match cmd.serialize_type {
        SerializeType::Json => header_json::encode(cmd, dst),
        SerializeType::RocketMq => header_binary::encode(cmd, dst),
    }
    let header_len = dst.len() - start - 8;
    let length = 4 + header_len + cmd.body_len();
    let word = (u32::from(cmd.serialize_type.byte()) << 24) | (header_len as u32 & 0x00FF_FFFF);
    dst[start..start + 4].copy_from_slice(&(length as u32).to_be_bytes());
    dst[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
}

/// Writes the whole frame of `cmd` into `dst`.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    encode_head(cmd, dst);
    dst.extend_from_slice(&cmd.body);
    for part in cmd.body_parts.iter() {
        dst.extend_from_slice(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::RequestCode;

    #[test]
    fn golden_json_request_frame() {
        let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
        cmd.opaque = 7;
        cmd.ext_fields.insert("topic".into(), "T1".into());
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        let header = br#"{"code":105,"extFields":{"topic":"T1"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#;
        let mut want = Vec::new();
        want.extend_from_slice(&((4 + header.len()) as u32).to_be_bytes());
        want.extend_from_slice(&(header.len() as u32).to_be_bytes());
        want.extend_from_slice(header);
        assert_eq!(&buf[..], &want[..]);
        let (back, used) = decode(&buf, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(back, cmd);
    }

    #[test]
    fn body_parts_go_out_after_the_body_as_one_body() {
        for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
            let mut cmd = RemotingCommand::success().with_body_parts(vec![
                Bytes::from_static(b"abc"),
                Bytes::new(),
                Bytes::from_static(b"defg"),
            ]);
            cmd.serialize_type = serialize_type;
            cmd.opaque = 9;
            assert_eq!(cmd.body_len(), 7);
            assert_eq!(&cmd.joined_body()[..], b"abcdefg");
            let mut one = BytesMut::new();
            encode(&cmd, &mut one);
            // The head announces the whole body; the parts follow it.
            let mut head = BytesMut::new();
            encode_head(&cmd, &mut head);
            assert_eq!(&one[..head.len()], &head[..]);
            assert_eq!(&one[head.len()..], b"abcdefg");
            let (back, used) = decode(&one, DEFAULT_MAX_FRAME).unwrap().unwrap();
            assert_eq!(used, one.len());
            assert_eq!(&back.body[..], b"abcdefg");
            assert!(back.body_parts.is_empty());
            assert_eq!(back.opaque, 9);
            // with_body replaces the parts.
            let cmd = cmd.with_body(Bytes::from_static(b"x"));
            assert_eq!(cmd.body_len(), 1);
        }
    }

    #[test]
    fn partial_frames_ask_for_more() {
        let mut cmd = RemotingCommand::request(RequestCode::HEART_BEAT);
        cmd.body = Bytes::from_static(b"{}");
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        for cut in 0..buf.len() {
            assert!(
                decode(&buf[..cut], DEFAULT_MAX_FRAME).unwrap().is_none(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(
            frame_len(&[0, 0, 0, 2], DEFAULT_MAX_FRAME),
            Err(ProtocolError::FrameTooShort(2))
        );
        assert!(matches!(
            frame_len(&[0x7f, 0, 0, 0], DEFAULT_MAX_FRAME),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        // Header length beyond the frame.
        let frame = Bytes::from_static(&[0, 0, 0, 6, 0, 0, 0, 9, b'{', b'}']);
        assert!(matches!(
            decode_frame(frame),
            Err(ProtocolError::HeaderLengthOutOfRange { .. })
        ));
        // Unknown serialize type.
        let frame = Bytes::from_static(&[0, 0, 0, 6, 7, 0, 0, 2, b'{', b'}']);
        assert_eq!(
            decode_frame(frame),
            Err(ProtocolError::UnknownSerializeType(7))
        );
    }

    fn frame_of(type_byte: u8, header: &[u8]) -> Bytes {
        let mut f = Vec::new();
        f.extend_from_slice(&((4 + header.len()) as u32).to_be_bytes());
        f.extend_from_slice(&((u32::from(type_byte) << 24) | header.len() as u32).to_be_bytes());
        f.extend_from_slice(header);
        Bytes::from(f)
    }

    #[test]
    fn oversized_headers_are_refused_before_parsing() {
        let header = vec![b' '; MAX_HEADER_LEN + 1];
        let err = decode_frame(frame_of(0, &header)).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::TooLong {
                field: "header",
                len: MAX_HEADER_LEN + 1,
                max: MAX_HEADER_LEN
            }
        );
    }

    #[test]
    fn too_many_ext_fields_are_refused_in_every_encoding() {
        use crate::command::MAX_EXT_FIELDS;
        let n = MAX_EXT_FIELDS + 1;
        let mut cmd = RemotingCommand::request(RequestCode::HEART_BEAT);
        for i in 0..n {
            cmd.ext_fields.insert(format!("k{i}"), "v".into());
        }
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            cmd.serialize_type = st;
            let mut buf = BytesMut::new();
            encode(&cmd, &mut buf);
            let err = decode_frame(buf.freeze()).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("more than {MAX_EXT_FIELDS} extFields")),
                "{st:?}: {err}"
            );
        }
        // JSON the fast path gives up on (a number value) reaches the
        // general decoder, which counts too.
        let mut json = String::from(r#"{"code":34,"extFields":{"n":1"#);
        for i in 0..n {
            json.push_str(&format!(r#","k{i}":"v""#));
        }
        json.push_str("}}");
        let err = decode_frame(frame_of(0, json.as_bytes())).unwrap_err();
        assert!(err.to_string().contains("extFields entries"), "{err}");
        // At the limit is fine.
        cmd.ext_fields.pop_first();
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        assert_eq!(
            decode_frame(buf.freeze()).unwrap().ext_fields.len(),
            MAX_EXT_FIELDS
        );
    }
}
