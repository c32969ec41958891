//! Reading and writing the JSON dialect fastjson produces (remoting-protocol
//! §6.1). fastjson writes two things standard JSON parsers reject: unquoted
//! integer map keys (`{0:"a"}`) and object-valued map keys
//! (`{{"brokerName":"b","queueId":0,"topic":"T"}:11}`). The reader accepts
//! both and turns every key into a string: an integer key keeps its digits,
//! an object key becomes its compact JSON text (keys sorted), which callers
//! parse back into the key type. The writer helpers emit the same dialect,
//! compact and with keys in alphabetical order, so our bodies are
//! byte-comparable with a Java broker's.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::error::ProtocolError;

/// How deeply arrays and objects may nest before the reader gives up; real
/// bodies nest four or five levels, and a bound keeps hostile input from
/// exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// Parses fastjson output (or standard JSON) into a [`Value`].
///
/// Besides standard JSON it accepts unquoted integer and identifier object
/// keys, object- and array-valued keys (stored as their compact JSON text),
/// single-quoted strings and trailing commas inside objects and arrays.
///
/// # Errors
/// [`ProtocolError::BadBody`] naming the byte position of the first problem:
/// invalid UTF-8, a syntax error, nesting beyond [`MAX_DEPTH`], or trailing
/// bytes after the value.
pub fn parse(bytes: &[u8]) -> Result<Value, ProtocolError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| bad(e.valid_up_to(), "the body is not valid UTF-8"))?;
    let mut reader = Reader { text, pos: 0 };
    reader.skip_ws();
    let value = reader.value(0)?;
    reader.skip_ws();
    if reader.pos < bytes.len() {
        return Err(bad(reader.pos, "unexpected bytes after the JSON value"));
    }
    Ok(value)
}

fn bad(pos: usize, what: &str) -> ProtocolError {
    ProtocolError::BadBody(format!("JSON error at byte {pos}: {what}"))
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ProtocolError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(bad(self.pos, what))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => Err(bad(self.pos, "expected a JSON value")),
            None => Err(bad(self.pos, "unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, ProtocolError> {
        if self.text.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(bad(self.pos, "expected true, false or null"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(bad(self.pos, "nesting is too deep"));
        }
        self.pos += 1; // '{'
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key = self.key(depth)?;
            self.skip_ws();
            self.expect(b':', "expected ':' after an object key")?;
            self.skip_ws();
            let value = self.value(depth)?;
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(bad(self.pos, "expected ',' or '}' in an object")),
            }
        }
    }

    /// An object key: a string, a bare number or identifier, or (fastjson's
    /// map keys of bean type) an object or array written in key position.
    fn key(&mut self, depth: usize) -> Result<String, ProtocolError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(q),
            Some(b'{') => Ok(self.object(depth + 1)?.to_string()),
            Some(b'[') => Ok(self.array(depth + 1)?.to_string()),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.number()?;
                Ok(self
                    .text
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .to_owned())
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$' => {
                let start = self.pos;
                while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                {
                    self.pos += 1;
                }
                Ok(self
                    .text
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .to_owned())
            }
            Some(_) => Err(bad(self.pos, "expected an object key")),
            None => Err(bad(self.pos, "unexpected end of input in an object")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ProtocolError> {
        if depth > MAX_DEPTH {
            return Err(bad(self.pos, "nesting is too deep"));
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(bad(self.pos, "expected ',' or ']' in an array")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, ProtocolError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        self.digits();
        if self.pos == int_start {
            return Err(bad(self.pos, "expected digits"));
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            float = true;
            self.pos += 1;
            let frac = self.pos;
            self.digits();
            if self.pos == frac {
                return Err(bad(self.pos, "expected digits after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp = self.pos;
            self.digits();
            if self.pos == exp {
                return Err(bad(self.pos, "expected digits in the exponent"));
            }
        }
        let lexeme = self.text.get(start..self.pos).unwrap_or_default();
        if !float {
            if let Ok(n) = lexeme.parse::<i64>() {
                return Ok(Value::Number(n.into()));
            }
            if let Ok(n) = lexeme.parse::<u64>() {
                return Ok(Value::Number(n.into()));
            }
        }
        lexeme
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad(start, "number out of range"))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, ProtocolError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters in one go; it ends at a quote
            // or backslash, both ASCII, so the slice is on char boundaries.
            let run_start = self.pos;
            while matches!(self.peek(), Some(b) if b != quote && b != b'\\') {
                self.pos += 1;
            }
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                None => return Err(bad(open, "unterminated string")),
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => {
                    self.pos += 1;
                    return Ok(out);
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ProtocolError> {
        let at = self.pos;
        self.pos += 1; // '\\'
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\'') => '\'',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(at)?;
                out.push(self.unicode(unit, at)?);
                return Ok(());
            }
            _ => return Err(bad(at, "bad escape sequence")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// Combines a surrogate pair; a lone surrogate (Java strings may hold
    /// one) becomes U+FFFD rather than an error.
    fn unicode(&mut self, unit: u32, at: usize) -> Result<char, ProtocolError> {
        if (0xD800..0xDC00).contains(&unit) && self.text.get(self.pos..self.pos + 2) == Some("\\u")
        {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4(at)?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self, at: usize) -> Result<u32, ProtocolError> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad(at, "bad \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(hex, 16).map_err(|_| bad(at, "bad \\u escape"))
    }
}

// ---------------------------------------------------------------- writing

/// Serializes `value` as compact JSON with every object's keys in
/// alphabetical order and `None` fields left out (as the serde attributes of
/// our body types say), which is what fastjson writes for a bean.
///
/// # Errors
/// [`ProtocolError::BadBody`] if `value` cannot be represented as JSON
/// (only possible for maps whose keys are not strings).
pub fn to_sorted_json<T: Serialize>(value: &T) -> Result<String, ProtocolError> {
    Ok(to_value(value)?.to_string())
}

/// [`to_sorted_json`] as bytes: the usual way a body goes on the wire.
///
/// # Errors
/// As [`to_sorted_json`].
pub fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    to_sorted_json(value).map(String::into_bytes)
}

/// Parses a body that must be a JSON object and converts it with serde.
///
/// # Errors
/// [`ProtocolError::BadBody`] naming `what` when the bytes do not parse, are
/// not an object, or do not convert.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ProtocolError> {
    let value = parse_object_value(bytes, what)?;
    from_value(value, what)
}

/// Parses a body that must be a JSON object, leaving it as a [`Value`].
///
/// # Errors
/// [`ProtocolError::BadBody`] when the bytes do not parse or are not an object.
pub fn parse_object_value(bytes: &[u8], what: &str) -> Result<Value, ProtocolError> {
    let value = parse(bytes)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ProtocolError::BadBody(format!(
            "{what} must be a JSON object"
        )))
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, ProtocolError> {
    serde_json::to_value(value).map_err(|e| ProtocolError::BadBody(e.to_string()))
}

/// Writes a bean whose serde form is `base` plus fields whose JSON text the
/// caller already wrote (the fastjson-only maps): all keys sorted together.
///
/// # Errors
/// [`ProtocolError::BadBody`] if `base` does not serialize to a JSON object.
pub fn object_with_raw<T: Serialize>(
    base: &T,
    raw: &[(&str, String)],
) -> Result<String, ProtocolError> {
    let Value::Object(map) = to_value(base)? else {
        return Err(ProtocolError::BadBody(
            "a body must be a JSON object".into(),
        ));
    };
    let mut entries: Vec<(String, String)> =
        map.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    entries.extend(raw.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("{");
    for (i, (key, text)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        out.push_str(text);
    }
    out.push('}');
    Ok(out)
}

/// Writes a map with integer keys unquoted, as fastjson writes `Map<Integer,…>`
/// and `Map<Long,…>`: `{0:250,1:7}`.
///
/// # Errors
/// [`ProtocolError::BadBody`] if a value does not serialize.
pub fn int_map_json<K: Display, T: Serialize>(
    map: &BTreeMap<K, T>,
) -> Result<String, ProtocolError> {
    let mut out = String::from("{");
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&key.to_string());
        out.push(':');
        out.push_str(&to_sorted_json(value)?);
    }
    out.push('}');
    Ok(out)
}

// ------------------------------------------------- reading parsed values

/// Removes `key` from a parsed object; `None` if absent, `null` or if
/// `value` is not an object.
pub fn take(value: &mut Value, key: &str) -> Option<Value> {
    value
        .as_object_mut()
        .and_then(|m| m.remove(key))
        .filter(|v| !v.is_null())
}

/// Converts a parsed value with serde, naming `what` in the error.
///
/// # Errors
/// [`ProtocolError::BadBody`] with serde's message.
pub fn from_value<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ProtocolError> {
    serde_json::from_value(value).map_err(|e| ProtocolError::BadBody(format!("{what}: {e}")))
}

/// A map value; like fastjson, a number sent as a string is accepted where
/// a number is expected.
pub(crate) fn map_value<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ProtocolError> {
    match value {
        Value::String(s) => match serde_json::from_value(Value::String(s.clone())) {
            Ok(v) => Ok(v),
            Err(first) => match parse(s.trim().as_bytes()) {
                Ok(n @ Value::Number(_)) => from_value(n, what),
                _ => Err(ProtocolError::BadBody(format!("{what}: {first}"))),
            },
        },
        other => from_value(other, what),
    }
}

pub(crate) fn entries(
    value: Option<Value>,
    what: &str,
) -> Result<Map<String, Value>, ProtocolError> {
    match value {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(ProtocolError::BadBody(format!(
            "{what} must be a JSON object"
        ))),
    }
}

/// Reads a map whose keys are numbers (written unquoted by fastjson, quoted
/// by standard JSON writers). Absent or `null` gives an empty map.
///
/// # Errors
/// [`ProtocolError::BadBody`] naming `what` when a key is not a number or a
/// value is malformed.
pub fn int_map_from_value<K: FromStr + Ord, T: DeserializeOwned>(
    value: Option<Value>,
    what: &str,
) -> Result<BTreeMap<K, T>, ProtocolError> {
    let mut out = BTreeMap::new();
    for (key, value) in entries(value, what)? {
        let k = key
            .trim()
            .parse()
            .map_err(|_| ProtocolError::BadBody(format!("{what}: key {key:?} is not a number")))?;
        out.insert(k, map_value(value, what)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_standard_json() {
        let v = parse(br#" {"a":[1,-2,3.5,true,false,null],"b":{"c":"d\"\u00e9\n"}} "#).unwrap();
        assert_eq!(
            v,
            json!({"a":[1,-2,3.5,true,false,null],"b":{"c":"d\"é\n"}})
        );
    }

    #[test]
    fn reads_unquoted_integer_keys() {
        let v = parse(br#"{0:"10.0.0.1:10911",1:"10.0.0.2:10911",-3:4}"#).unwrap();
        assert_eq!(v, json!({"0":"10.0.0.1:10911","1":"10.0.0.2:10911","-3":4}));
    }

    #[test]
    fn reads_object_keys_as_compact_sorted_text() {
        let v =
            parse(br#"{"offsetTable":{{"topic":"T", "queueId":0,"brokerName":"b"}:11}}"#).unwrap();
        let table = v["offsetTable"].as_object().unwrap();
        let (key, value) = table.iter().next().unwrap();
        assert_eq!(key, r#"{"brokerName":"b","queueId":0,"topic":"T"}"#);
        assert_eq!(value, &json!(11));
    }

    #[test]
    fn reads_identifier_keys_single_quotes_and_trailing_commas() {
        let v = parse(b"{a:'x\\'y',b:[1,2,],}").unwrap();
        assert_eq!(v, json!({"a":"x'y","b":[1,2]}));
    }

    #[test]
    fn big_numbers_and_surrogates() {
        let v =
            parse(br#"[18446744073709551615,-9223372036854775808,1e400,"\ud83d\ude00","\ud800x"]"#);
        let err = v.unwrap_err().to_string();
        assert!(err.contains("byte 43"), "{err}");
        let v = parse(br#"[18446744073709551615,-9223372036854775808,"\ud83d\ude00","\ud800x"]"#)
            .unwrap();
        assert_eq!(v[0], json!(u64::MAX));
        assert_eq!(v[1], json!(i64::MIN));
        assert_eq!(v[2], json!("😀"));
        assert_eq!(v[3], json!("\u{FFFD}x"));
    }

    #[test]
    fn errors_name_the_position() {
        for (input, pos) in [
            (&b"{\"a\" 1}"[..], 5),
            (b"{\"a\":1", 6),
            (b"[1,2", 4),
            (b"\"abc", 0),
            (b"{\"a\":tru}", 5),
            (b"1 2", 2),
            (b"{\"a\":-}", 6),
            (b"\"\\x\"", 1),
            (b"\xff", 0),
            (b"", 0),
            (b"{:1}", 1),
        ] {
            let err = parse(input).unwrap_err().to_string();
            assert!(err.contains(&format!("byte {pos}:")), "{input:?} -> {err}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        let err = parse(deep.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("too deep"), "{err}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep_keys = "{".repeat(MAX_DEPTH * 4);
        assert!(parse(deep_keys.as_bytes()).is_err());
    }

    #[test]
    fn writes_int_keyed_maps() {
        let ints: BTreeMap<i32, i64> = [(1, 12), (0, 3)].into_iter().collect();
        assert_eq!(int_map_json(&ints).unwrap(), "{0:3,1:12}");
    }

    #[test]
    fn object_with_raw_sorts_all_keys() {
        let base = json!({"z":1,"a":"x"});
        let out = object_with_raw(&base, &[("m", "{0:1}".to_owned())]).unwrap();
        assert_eq!(out, r#"{"a":"x","m":{0:1},"z":1}"#);
        assert!(object_with_raw(&json!([1]), &[]).is_err());
    }

    #[test]
    fn map_readers_report_bad_keys() {
        let v = parse(br#"{"x":1}"#).unwrap();
        let err = int_map_from_value::<i32, i64>(Some(v.clone()), "offsetTable").unwrap_err();
        assert!(err.to_string().contains("offsetTable"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_jsonish(s in "[{}\\[\\]\":,0-9a-z\\\\ .eE+-]{0,48}") {
            let _ = parse(s.as_bytes());
        }
    }
}
