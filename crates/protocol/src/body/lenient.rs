//! Reading fastjson's non-standard JSON and writing compact JSON.
//!
//! fastjson writes `Map<Long, _>` / `Map<Integer, _>` with bare integer keys
//! (`{0:"10.0.0.1:10911"}`), which no standard parser accepts. Old Java
//! NameServers send routes that way and Java brokers register bodies whose
//! static-topic maps (`currIdMap`) look like it. A small pre-pass quotes such
//! keys so serde_json can take over.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ProtocolError;

/// Quotes every bare integer used as an object key. Strings are left alone
/// (a `{1:` inside a string value is not a key). Returns the input unchanged
/// (borrowed) when there is nothing to quote.
pub fn quote_integer_keys(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    // The open containers, to know whether a `,` separates keys or items.
    let mut stack: Vec<u8> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = skip_string(bytes, i);
                expect_key = false;
                continue;
            }
            b'{' => {
                stack.push(b'{');
                expect_key = true;
            }
            b'[' => {
                stack.push(b'[');
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = stack.last() == Some(&b'{'),
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'-' | b'0'..=b'9' if expect_key => {
                let digits = bytes[i + 1..].iter().take_while(|c| c.is_ascii_digit());
                let end = i + 1 + digits.count();
                let o = out.get_or_insert_with(|| String::with_capacity(json.len() + 16));
                // Both ends sit on ASCII bytes, so the slices are char boundaries.
                o.push_str(&json[copied..i]);
                o.push('"');
                o.push_str(&json[i..end]);
                o.push('"');
                copied = end;
                i = end;
                expect_key = false;
                continue;
            }
            _ => expect_key = false,
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut o) => {
            o.push_str(&json[copied..]);
            Cow::Owned(o)
        }
    }
}

/// The index just past the string that opens at `start` (a `"`).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Parses a JSON body leniently (bare integer keys accepted).
///
/// # Errors
/// [`ProtocolError::BadBody`] naming `what` when the body is not UTF-8 or
/// does not match the expected shape.
pub fn from_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ProtocolError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ProtocolError::BadBody(format!("{what}: not UTF-8: {e}")))?;
    let text = quote_integer_keys(text);
    serde_json::from_str(&text).map_err(|e| ProtocolError::BadBody(format!("{what}: {e}")))
}

/// Compact JSON. Field order is the struct's declaration order, which our
/// bodies keep alphabetical to match fastjson byte for byte.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our bodies are plain structs with string or integer map keys, for which
    // serde_json cannot fail; an empty body is never reached in practice.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_bare_integer_keys_only() {
        let raw = r#"{"brokerAddrs":{0:"a:1",1:"b:2",-1:"c"},"x":[{5:"y"}],"s":"{7:\"q\"}"}"#;
        assert_eq!(
            quote_integer_keys(raw),
            r#"{"brokerAddrs":{"0":"a:1","1":"b:2","-1":"c"},"x":[{"5":"y"}],"s":"{7:\"q\"}"}"#
        );
    }

    #[test]
    fn leaves_standard_json_borrowed() {
        let raw = r#"{"a":[1,2,{"b":3}],"c":"d\\"}"#;
        assert!(matches!(quote_integer_keys(raw), Cow::Borrowed(_)));
    }

    #[test]
    fn handles_whitespace_and_values_that_are_numbers() {
        let raw = "{ 0 : 12 , 3:[4, 5], \"k\": -6}";
        assert_eq!(
            quote_integer_keys(raw),
            "{ \"0\" : 12 , \"3\":[4, 5], \"k\": -6}"
        );
    }

    #[test]
    fn bad_bodies_are_named() {
        let err = from_json::<std::collections::BTreeMap<String, i32>>(b"{\"a\":", "KVTable")
            .unwrap_err();
        assert!(err.to_string().contains("KVTable"), "{err}");
        let err = from_json::<std::collections::BTreeMap<String, i32>>(&[0xff], "X").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
