//! A fast path for decoding JSON headers of the usual shape (every client
//! and broker writes flat objects: integers, strings, `null`, and an
//! `extFields` object of strings). It allocates only the strings it keeps,
//! where the general decoder goes through serde. Anything unusual (numbers
//! or booleans inside `extFields`, nested values, floats, duplicate keys,
//! lone surrogates, bad UTF-8...) makes it give up, and the general decoder
//! then decides, so both always agree (a property test checks it).

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;

use crate::codes::LanguageCode;
use crate::command::{RemotingCommand, SerializeType, MAX_EXT_FIELDS};
use crate::fields::{CommandFields, PairAt, PairIndex, TextAt};

/// The header decoded, or `None` when the general decoder must decide. The
/// extFields stay the header's bytes (validated here: every key and value
/// a well-formed string, or a null value), read when a handler asks.
pub(crate) fn decode(header: &Bytes) -> Option<RemotingCommand> {
    // One UTF-8 check of the whole header (ASCII runs a word at a time);
    // strings are then sliced from it. Not UTF-8: the general decoder
    // decides (and names the error).
    let mut p = Parser {
        buf: header,
        pos: 0,
        text: std::str::from_utf8(header).ok()?,
    };
    let mut seen = Seen::default();
    let mut ext: Option<(Range<usize>, Option<PairIndex>)> = None;
    let mut cmd = RemotingCommand {
        code: 0,
        language: LanguageCode::OTHER,
        version: 0,
        opaque: 0,
        flag: 0,
        remark: None,
        ext_fields: CommandFields::new(),
        body: bytes::Bytes::new(),
        body_parts: Box::default(),
        serialize_type: SerializeType::Json,
    };
    p.expect(b'{')?;
    if !p.eat(b'}') {
        loop {
            let key = p.key()?;
            p.expect(b':')?;
            read_member(&mut p, key, &mut cmd, &mut seen, &mut ext)?;
            if p.eat(b',') {
                continue;
            }
            p.expect(b'}')?;
            break;
        }
    }
    p.ws();
    // `code` is required; the general decoder words the error.
    if p.pos != p.buf.len() || !seen.code {
        return None;
    }
    if let Some((range, index)) = ext {
        cmd.ext_fields = CommandFields::from_indexed(header.slice(range), visit_fields, index);
    }
    Some(cmd)
}

/// Which known members were read (a repeated one is an error there).
#[derive(Default)]
struct Seen {
    code: bool,
    language: bool,
    version: bool,
    opaque: bool,
    flag: bool,
    remark: bool,
    ext: bool,
}

fn once(flag: &mut bool) -> Option<()> {
    if *flag {
        return None;
    }
    *flag = true;
    Some(())
}

fn read_member(
    p: &mut Parser<'_>,
    key: &[u8],
    cmd: &mut RemotingCommand,
    seen: &mut Seen,
    ext: &mut Option<(Range<usize>, Option<PairIndex>)>,
) -> Option<()> {
    match key {
        b"code" => {
            once(&mut seen.code)?;
            cmd.code = p.int()?;
        }
        b"opaque" => {
            once(&mut seen.opaque)?;
            cmd.opaque = p.int()?;
        }
        b"flag" => {
            once(&mut seen.flag)?;
            cmd.flag = p.int()?;
        }
        b"version" => {
            once(&mut seen.version)?;
            cmd.version = if p.null() { 0 } else { p.int()? };
        }
        b"language" => {
            once(&mut seen.language)?;
            if !p.null() {
                cmd.language = LanguageCode::from_name(&p.text()?);
            }
        }
        b"remark" => {
            once(&mut seen.remark)?;
            cmd.remark = if p.null() { None } else { Some(p.string()?) };
        }
        b"extFields" => {
            once(&mut seen.ext)?;
            if !p.null() {
                *ext = Some(p.skip_fields()?);
            }
        }
        // Ignored, like any unknown member (serializeTypeCurrentRPC...).
        _ => {
            if !p.null() {
                p.text()?;
            }
        }
    }
    Some(())
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    /// `buf` as text (checked to be UTF-8 as a whole): strings are sliced
    /// from it instead of checked one by one.
    text: &'a str,
}

impl<'a> Parser<'a> {
    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.buf.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    fn null(&mut self) -> bool {
        self.ws();
        if self.buf[self.pos..].starts_with(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }

    /// A key without escapes (every header key is plain ASCII).
    fn key(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        let len = special_at(&self.buf[start..])?;
        if self.buf[start + len] != b'"' {
            return None;
        }
        self.pos = start + len + 1;
        // UTF-8 (even an ignored key must be, or the general decoder
        // fails): the whole header was checked.
        Some(&self.buf[start..start + len])
    }

    /// An integer that fits an i32, in JSON's syntax (no leading zeros).
    fn int(&mut self) -> Option<i32> {
        self.ws();
        let neg = self.buf.get(self.pos) == Some(&b'-');
        if neg {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let mut v: i64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.buf.get(self.pos) {
            v = v * 10 + i64::from(d - b'0');
            self.pos += 1;
            if self.pos - digits_at > 10 {
                return None;
            }
        }
        let digits = self.pos - digits_at;
        let leading_zero = digits > 1 && self.buf[digits_at] == b'0';
        if digits == 0 || leading_zero {
            return None;
        }
        // A fraction or exponent is not an integer: let serde say so.
        if let Some(b'.' | b'e' | b'E') = self.buf.get(self.pos) {
            return None;
        }
        i32::try_from(if neg { -v } else { v }).ok()
    }

    /// A string, owned.
    fn string(&mut self) -> Option<String> {
        self.text().map(Cow::into_owned)
    }

    /// A string, borrowed from the header when it has no escapes (the
    /// usual case; values only looked at or skipped then cost no copy).
    fn text(&mut self) -> Option<Cow<'a, str>> {
        self.ws();
        let start = self.pos + 1;
        if self.buf.get(self.pos) == Some(&b'"') {
            let len = special_at(&self.buf[start..])?;
            if self.buf[start + len] == b'"' {
                // Both ends are at ASCII bytes: char boundaries.
                let s = self.text.get(start..start + len)?;
                self.pos = start + len + 1;
                return Some(Cow::Borrowed(s));
            }
        }
        self.escaped_string().map(Cow::Owned)
    }

    /// A string with escapes, unescaped.
    fn escaped_string(&mut self) -> Option<String> {
        // Room for a properties string at once (no growth by doubling);
        // never more than the rest of the header.
        let room = (self.buf.len() - self.pos).min(256);
        self.escaped_string_into(String::with_capacity(room))
    }

    /// A string with escapes, unescaped into `out`.
    fn escaped_string_into(&mut self, mut out: String) -> Option<String> {
        self.expect(b'"')?;
        loop {
            let start = self.pos;
            let len = special_at(&self.buf[start..])?;
            // Pieces of the checked text, cut at ASCII bytes: no re-check.
            out.push_str(self.text.get(start..start + len)?);
            self.pos = start + len;
            match self.buf[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => out.push(self.unescape()?),
                _ => return None, // a raw control character
            }
        }
    }

    /// One escape sequence (the backslash is at `pos`), decoded.
    fn unescape(&mut self) -> Option<char> {
        let c = *self.buf.get(self.pos + 1)?;
        self.pos += 2;
        let simple = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hex = self.buf.get(self.pos..self.pos + 4)?;
                let code = hex
                    .iter()
                    .try_fold(0u32, |acc, &h| Some(acc << 4 | char::from(h).to_digit(16)?))?;
                self.pos += 4;
                // Surrogates (pairs or lone) are left to serde.
                return char::from_u32(code);
            }
            _ => return None,
        };
        Some(simple)
    }

    /// Checks a string as [`Parser::text`] reads it, without keeping it,
    /// and says where its text is (between the quotes) and whether it has
    /// escapes. The pieces between escapes are UTF-8 (the whole buffer was
    /// checked, and they end at ASCII bytes), and escapes decode to whole
    /// characters, so the unescaped string is UTF-8 too.
    fn skip_text(&mut self) -> Option<(Range<usize>, bool)> {
        self.expect(b'"')?;
        let begin = self.pos;
        let mut escaped = false;
        loop {
            let start = self.pos;
            // The pieces between escapes are UTF-8: the whole buffer was
            // checked, and they start and end at ASCII bytes.
            let len = special_at(&self.buf[start..])?;
            self.pos = start + len;
            match self.buf[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some((begin..self.pos - 1, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.unescape()?;
                }
                _ => return None, // a raw control character
            }
        }
    }

    /// Checks an object of string values (null values allowed) and
    /// returns where it is, `{` to `}`, and where each pair with a value
    /// is in it (`None` only for an object past 4 GiB: [`visit_fields`]
    /// then reads it). Anything else gives up, and so do
    /// more than [`MAX_EXT_FIELDS`] values (the general decoder then counts
    /// the distinct keys and words the error).
    fn skip_fields(&mut self) -> Option<(Range<usize>, Option<PairIndex>)> {
        self.expect(b'{')?;
        let start = self.pos - 1;
        let mut index = Some(PairIndex {
            pairs: smallvec::SmallVec::new(),
            unescape: unescape_quoted,
        });
        if self.eat(b'}') {
            return Some((start..self.pos, index));
        }
        let mut values = 0usize;
        loop {
            let key = self.skip_text()?;
            self.expect(b':')?;
            if !self.null() {
                let value = self.skip_text()?;
                values += 1;
                if values > MAX_EXT_FIELDS {
                    return None;
                }
                if let Some(found) = &mut index {
                    let at = |(r, escaped): (Range<usize>, bool)| {
                        TextAt::new(r.start - start..r.end - start, escaped)
                    };
                    match at(key).zip(at(value)) {
                        Some((key, value)) => found.pairs.push(PairAt { key, value }),
                        None => index = None,
                    }
                }
            }
            if self.eat(b',') {
                continue;
            }
            self.expect(b'}')?;
            return Some((start..self.pos, index));
        }
    }

    /// Reads an object [`Parser::skip_fields`] accepted, pair by pair
    /// (null values are skipped: an earlier value of the key stays).
    fn pairs<F: FnMut(Cow<'a, str>, Cow<'a, str>)>(&mut self, mut f: F) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.text()?;
            self.expect(b':')?;
            if !self.null() {
                f(key, self.text()?);
            }
            if self.eat(b',') {
                continue;
            }
            return self.expect(b'}');
        }
    }
}

/// Where the first byte that ends a plain run of a JSON string is: a quote,
/// a backslash or a control character (below 0x20); `None` when there is
/// none. Eight bytes at a time: in each little-endian word, the lowest
/// byte flagged by the zero-byte tricks is always a real match (a borrow
/// can only mark bytes above one), and bytes of 0x80 and up are never
/// flagged, so multi-byte UTF-8 passes through.
fn special_at(buf: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_ne_bytes([0x20; 8]);
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut chunks = buf.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hits =
            zero_in(v ^ QUOTES) | zero_in(v ^ BACKSLASHES) | (v.wrapping_sub(SPACES) & !v & HIGHS);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

/// A quoted string with escapes that [`decode`] validated, unescaped.
fn unescape_quoted(quoted: &str) -> Option<String> {
    // Unescaped, it is no longer than quoted.
    Parser {
        buf: quoted.as_bytes(),
        pos: 0,
        text: quoted,
    }
    .escaped_string_into(String::with_capacity(quoted.len()))
}

/// Calls `f` with every pair of an extFields object [`decode`] validated.
pub(crate) fn visit_fields<'a>(object: &'a [u8], f: &mut dyn FnMut(Cow<'a, str>, Cow<'a, str>)) {
    // Validated when the frame was decoded, so it is UTF-8.
    let Ok(text) = std::str::from_utf8(object) else {
        return;
    };
    let mut p = Parser {
        buf: object,
        pos: 0,
        text,
    };
    // Validated when the frame was decoded, so this reads to the end.
    let _ = p.pairs(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header_json::{decode_general, encode};
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn fast(raw: &[u8]) -> Option<RemotingCommand> {
        decode(&Bytes::copy_from_slice(raw))
    }

    /// The fast path, where it answers, agrees with the general decoder.
    fn agrees(raw: &[u8]) -> bool {
        match fast(raw) {
            Some(fast) => decode_general(raw).ok() == Some(fast),
            None => true,
        }
    }

    #[test]
    fn takes_the_usual_shapes() {
        let raws: [&[u8]; 4] = [
            br#"{"code":0,"extFields":{"MSG_REGION":"DefaultRegion","TRACE_ON":"true","msgId":"7F00000100002A9F0000000000000000","queueId":"1","queueOffset":"12"},"flag":1,"language":"JAVA","opaque":-5,"serializeTypeCurrentRPC":"JSON","version":479}"#,
            br#"{"code":17,"extFields":{"p":"a\u0001b\u0002\u00e9\/"},"flag":1,"language":"JAVA","opaque":42,"remark":"no \"T\"\n","serializeTypeCurrentRPC":"JSON","version":479}"#,
            b" {\"code\" : 1 , \"remark\":null, \"extFields\" : {} , \"version\":null, \"language\":null }\n",
            br#"{"code":2,"extFields":{"a":"x","a":null,"b":"1","b":"2"}}"#,
        ];
        for raw in raws {
            let fast =
                fast(raw).unwrap_or_else(|| panic!("fell back: {}", String::from_utf8_lossy(raw)));
            assert_eq!(Some(fast), decode_general(raw).ok());
        }
    }

    #[test]
    fn leaves_the_unusual_to_serde() {
        let raws: [&[u8]; 12] = [
            br#"{"code":1,"extFields":{"e":0,"m":false}}"#,
            br#"{"code":1,"code":2}"#,
            br#"{"opaque":1}"#,
            br#"{"code":1.0}"#,
            br#"{"code":01}"#,
            br#"{"code":99999999999}"#,
            br#"{"code":1,"extFields":{"a":"\ud83d\ude00"}}"#,
            br#"{"code":1,"x":[1]}"#,
            br#"{"co\u0064e":1}"#,
            br#"{"code":1,}"#,
            b"{\"code\":1,\"remark\":\"a\x01\"}",
            br#"{"code":1,"opaque":null}"#,
        ];
        for raw in raws {
            assert!(fast(raw).is_none(), "{}", String::from_utf8_lossy(raw));
        }
    }

    fn special_at_naive(buf: &[u8]) -> Option<usize> {
        buf.iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
    }

    #[test]
    fn special_at_finds_every_delimiter_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    // Plain bytes around it, high ones included (UTF-8 of
                    // 'é' and a byte of 0xA2, which is 0x22 with the top bit).
                    let mut buf: Vec<u8> = (0..len)
                        .map(|i| [b'a', 0xC3, 0xA9, 0xA2, 0xDC, 0x7F, b' '][i % 7])
                        .collect();
                    buf[at] = special;
                    assert_eq!(special_at(&buf), Some(at), "{buf:?}");
                    // A second one later never wins.
                    if at + 1 < len {
                        buf[len - 1] = b'"';
                        assert_eq!(special_at(&buf), Some(at), "{buf:?}");
                    }
                }
            }
            let plain: Vec<u8> = (0..len).map(|i| [b'x', 0xE2, 0x82, 0xAC][i % 4]).collect();
            assert_eq!(special_at(&plain), None);
        }
    }

    fn pairs_of(cmd: &RemotingCommand) -> Vec<(String, String)> {
        use crate::fields::FieldPairs;
        let mut pairs = Vec::new();
        cmd.ext_fields
            .visit(|k, v| pairs.push((k.into_owned(), v.into_owned())));
        pairs
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn indexed_pairs_read_back_slices_and_unescaped_strings() {
        let plain = fast(br#"{"code":1,"extFields":{"b":"T","a":"G","a":null,"c":"","b":"U"}}"#)
            .expect("fast path");
        assert!(plain.ext_fields.is_indexed());
        assert_eq!(
            pairs_of(&plain),
            owned(&[("b", "T"), ("a", "G"), ("c", ""), ("b", "U")])
        );
        let escaped =
            fast(br#"{"code":1,"extFields":{"b":"T\"x","a":"\u00e9","\u0041b":"x\\y","":""}}"#)
                .expect("fast path");
        assert!(escaped.ext_fields.is_indexed());
        assert_eq!(
            pairs_of(&escaped),
            owned(&[("b", "T\"x"), ("a", "\u{e9}"), ("Ab", "x\\y"), ("", "")])
        );
        let empty = fast(br#"{"code":1,"extFields":{}}"#).expect("fast path");
        assert!(empty.ext_fields.is_indexed());
        assert_eq!(pairs_of(&empty), owned(&[]));
    }

    proptest! {
        /// Indexed or walked, the pairs read back as written, in order.
        #[test]
        fn decoded_pairs_read_back_as_written(
            fields in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..20),
        ) {
            let mut cmd = RemotingCommand::request_code(7);
            cmd.ext_fields = fields.clone().into();
            let mut buf = BytesMut::new();
            encode(&cmd, &mut buf);
            let decoded = fast(&buf);
            prop_assert!(decoded.is_some());
            let written: Vec<(String, String)> = fields.into_iter().collect();
            prop_assert_eq!(decoded.map(|d| pairs_of(&d)), Some(written));
        }


        #[test]
        fn special_at_agrees_with_a_byte_scan(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(special_at(&buf), special_at_naive(&buf));
        }

        #[test]
        fn encoded_commands_decode_alike(
            code in any::<i32>(), opaque in any::<i32>(), flag in any::<i32>(),
            version in any::<i32>(), remark in proptest::option::of(any::<String>()),
            fields in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..6),
        ) {
            let mut cmd = RemotingCommand::request_code(code);
            cmd.opaque = opaque;
            cmd.flag = flag;
            cmd.version = version;
            cmd.remark = remark;
            cmd.ext_fields = fields.into();
            let mut buf = BytesMut::new();
            encode(&cmd, &mut buf);
            let fast = fast(&buf);
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, decode_general(&buf).ok());
        }

        #[test]
        fn mangled_headers_never_disagree(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let base: &[u8] = br#"{"code":0,"extFields":{"msgId":"7F0000","queueId":"1","queueOffset":"12","p":"a\u0001b"},"flag":1,"language":"JAVA","opaque":-5,"remark":"r\"x","serializeTypeCurrentRPC":"JSON","version":479}"#;
            let mut raw = base.to_vec();
            for (at, b) in &flips {
                let i = at.index(raw.len());
                raw[i] = *b;
            }
            prop_assert!(agrees(&raw));
            prop_assert!(agrees(&raw[..cut.index(raw.len())]));
        }
    }
}
