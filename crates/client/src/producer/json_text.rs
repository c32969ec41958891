//! JSON string literals for the send head: byte for byte what
//! `protocol::header_json::put_str` writes, but runs of bytes that need no
//! escape (all of a group, topic, broker name or number; all of a
//! property but its separators) are found by a tight scan and copied in
//! one go instead of byte by byte.

use bytes::{BufMut, BytesMut};

/// Whether `b` is written escaped: quotes, backslashes, control bytes.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Writes the escape of one byte for which [`needs_escape`] holds.
fn put_escape(dst: &mut BytesMut, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => dst.put_slice(b"\\\""),
        b'\\' => dst.put_slice(b"\\\\"),
        b'\n' => dst.put_slice(b"\\n"),
        b'\r' => dst.put_slice(b"\\r"),
        b'\t' => dst.put_slice(b"\\t"),
        _ => {
            dst.put_slice(b"\\u00");
            dst.put_u8(HEX[usize::from(b >> 4)]);
            dst.put_u8(HEX[usize::from(b & 0xf)]);
        }
    }
}

/// Writes `s` as a JSON string literal, quotes included.
pub(crate) fn put_str(dst: &mut BytesMut, s: &str) {
    let mut rest = s.as_bytes();
    dst.reserve(rest.len() + 2);
    dst.put_u8(b'"');
    while let Some(i) = rest.iter().position(|&b| needs_escape(b)) {
        dst.put_slice(&rest[..i]);
        put_escape(dst, rest[i]);
        rest = &rest[i + 1..];
    }
    dst.put_slice(rest);
    dst.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_the_codec_writes() {
        let samples = [
            "",
            "plain_Topic-1",
            "UNIQ_KEY\u{1}7F0000011A2B\u{2}WAIT\u{1}true\u{2}",
            "quote\" back\\ nl\n cr\r tab\t bell\u{7} us\u{1f}",
            "\u{1}",
            "ünïcödé \u{2028} ok",
        ];
        for s in samples {
            let mut ours = BytesMut::new();
            put_str(&mut ours, s);
            let mut codec = BytesMut::new();
            protocol::header_json::put_str(&mut codec, s);
            assert_eq!(ours, codec, "{s:?}");
        }
    }
}
