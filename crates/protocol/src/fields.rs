//! A command's `extFields` as the handlers and codecs see them. A decoded
//! request keeps its fields as the wire bytes they arrived in (validated
//! when the frame was decoded) and typed headers read straight from those
//! bytes ([`crate::ext::CommandHeader::read_pairs`]): no map, no string per
//! key. The map is built only when something asks for it by key or changes
//! it (signature checks, ACL, re-encoding), through `Deref`/`DerefMut`, so
//! code that used the map before reads the same values.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut, Range};
use std::sync::OnceLock;

use bytes::Bytes;
use smallvec::SmallVec;

/// The custom header fields of a command. Sorted, as fastjson writes them.
pub type ExtFields = std::collections::BTreeMap<String, String>;

/// Walks validated wire bytes of `extFields`, calling the visitor with
/// every present pair in wire order (each decoder supplies its own).
pub(crate) type Walk = for<'a> fn(&'a [u8], &mut dyn FnMut(Cow<'a, str>, Cow<'a, str>));

/// A source of `extFields` pairs: the key and value of every present field,
/// in wire order (a later pair of the same key replaces an earlier one, as
/// map inserts do).
pub trait FieldPairs {
    /// Calls `f` with every pair.
    fn visit<'a, F: FnMut(Cow<'a, str>, Cow<'a, str>)>(&'a self, f: F);
}

impl FieldPairs for ExtFields {
    fn visit<'a, F: FnMut(Cow<'a, str>, Cow<'a, str>)>(&'a self, mut f: F) {
        for (k, v) in self {
            f(Cow::Borrowed(k), Cow::Borrowed(v));
        }
    }
}

/// Where one string is in an object's bytes: its text between the quotes,
/// and whether that text has escapes (it is then read through the
/// decoder's [`Unescape`], else sliced as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextAt {
    start: u32,
    end: u32,
    escaped: bool,
}

impl TextAt {
    /// The text at `range` (between the quotes), or `None` when an end
    /// does not fit a `u32` (the walker then reads the object).
    pub fn new(range: Range<usize>, escaped: bool) -> Option<TextAt> {
        Some(TextAt {
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
            escaped,
        })
    }
}

/// Where one pair with a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairAt {
    pub key: TextAt,
    pub value: TextAt,
}

/// Unescapes a quoted string (`"` to `"`) the decoder validated.
pub(crate) type Unescape = fn(&str) -> Option<String>;

/// Every pair with a value of an object, in wire order, as the decoder
/// found them (a send has about 16, the ACL's two more: kept inline).
#[derive(Debug, Clone)]
pub(crate) struct PairIndex {
    pub pairs: SmallVec<[PairAt; 24]>,
    pub unescape: Unescape,
}

impl PairIndex {
    /// Reads `at` from `text`, the object's bytes.
    fn read<'a>(&self, text: &'a str, at: TextAt) -> Option<Cow<'a, str>> {
        let (start, end) = (at.start as usize, at.end as usize);
        if !at.escaped {
            return text.get(start..end).map(Cow::Borrowed);
        }
        let quoted = text.get(start.checked_sub(1)?..end.checked_add(1)?)?;
        (self.unescape)(quoted).map(Cow::Owned)
    }
}

/// Fields kept as validated wire bytes.
#[derive(Debug, Clone)]
struct Raw {
    bytes: Bytes,
    /// The walker of the serialization the bytes are in.
    walk: Walk,
    /// Where each pair is, when the decoder recorded it: visits slice the
    /// pairs out (unescaping only strings with escapes) instead of parsing
    /// the bytes again.
    index: Option<PairIndex>,
    /// The map, built on first use by key.
    map: OnceLock<ExtFields>,
}

impl Raw {
    fn build(&self) -> ExtFields {
        let mut map = ExtFields::new();
        self.visit(|k, v| {
            map.insert(k.into_owned(), v.into_owned());
        });
        map
    }

    fn visit<'a, F: FnMut(Cow<'a, str>, Cow<'a, str>)>(&'a self, mut f: F) {
        if let Some(index) = &self.index {
            // Validated when the frame was decoded: UTF-8, and every range
            // starts and ends next to an ASCII quote, so it slices.
            if let Ok(text) = std::str::from_utf8(&self.bytes) {
                for at in &index.pairs {
                    if let (Some(k), Some(v)) =
                        (index.read(text, at.key), index.read(text, at.value))
                    {
                        f(k, v);
                    }
                }
                return;
            }
        }
        (self.walk)(&self.bytes, &mut f);
    }
}

/// The `extFields` of a command: a map, or (decoded requests) the wire
/// bytes, read pair by pair or turned into the map on first use by key.
#[derive(Clone, Default)]
pub struct CommandFields {
    map: ExtFields,
    /// Boxed: it keeps `RemotingCommand` small (it is moved around and
    /// returned in `Result`s on every request path).
    raw: Option<Box<Raw>>,
}

impl CommandFields {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields kept as wire bytes the decoder has validated: every pair
    /// must read back (keys and values UTF-8, JSON strings well formed).
    pub(crate) fn from_raw(bytes: Bytes, walk: Walk) -> Self {
        Self::from_indexed(bytes, walk, None)
    }

    /// As [`CommandFields::from_raw`], with where every pair with a value
    /// is (`index`, in wire order), so reading the pairs needs no second
    /// parse.
    pub(crate) fn from_indexed(bytes: Bytes, walk: Walk, index: Option<PairIndex>) -> Self {
        CommandFields {
            map: ExtFields::new(),
            raw: Some(Box::new(Raw {
                bytes,
                walk,
                index,
                map: OnceLock::new(),
            })),
        }
    }

    /// Whether the fields are still only wire bytes (no map built yet).
    pub fn is_raw(&self) -> bool {
        self.raw.as_ref().is_some_and(|r| r.map.get().is_none())
    }

    /// Whether the fields are wire bytes whose pairs the decoder indexed.
    #[cfg(test)]
    pub(crate) fn is_indexed(&self) -> bool {
        self.raw.as_ref().is_some_and(|r| r.index.is_some())
    }

    /// The fields as a map (built from the wire bytes on first use).
    pub fn map(&self) -> &ExtFields {
        match &self.raw {
            Some(raw) => raw.map.get_or_init(|| raw.build()),
            None => &self.map,
        }
    }

    /// The map, to change (the wire bytes are dropped).
    pub fn map_mut(&mut self) -> &mut ExtFields {
        if let Some(raw) = self.raw.take() {
            let Raw {
                bytes,
                walk,
                index,
                map,
            } = *raw;
            self.map = map.into_inner().unwrap_or_else(|| {
                Raw {
                    bytes,
                    walk,
                    index,
                    map: OnceLock::new(),
                }
                .build()
            });
        }
        &mut self.map
    }

    /// The map, taken out.
    pub fn into_map(mut self) -> ExtFields {
        std::mem::take(self.map_mut())
    }
}

impl FieldPairs for CommandFields {
    fn visit<'a, F: FnMut(Cow<'a, str>, Cow<'a, str>)>(&'a self, f: F) {
        match &self.raw {
            Some(raw) => match raw.map.get() {
                Some(map) => map.visit(f),
                None => raw.visit(f),
            },
            None => self.map.visit(f),
        }
    }
}

impl CommandFields {
    /// The fields collected once and sorted by key, borrowed from the wire
    /// bytes or the map: lookups and the signature's walk in key order
    /// without building the map (an ACL check of a decoded request).
    pub fn sorted(&self) -> SortedFields<'_> {
        SortedFields::of(self)
    }
}

/// Pairs kept on the stack: a send carries about 16 fields.
type PairBuf<'a> = SmallVec<[(Cow<'a, str>, Cow<'a, str>); 24]>;

/// A command's fields sorted by key, one value per key (the last pair of a
/// key wins, as map inserts do), borrowed where the source allows.
pub struct SortedFields<'a> {
    pairs: PairBuf<'a>,
}

impl<'a> SortedFields<'a> {
    /// Collects and sorts the pairs of `fields`.
    pub fn of<P: FieldPairs>(fields: &'a P) -> Self {
        let mut pairs = PairBuf::new();
        fields.visit(|k, v| pairs.push((k, v)));
        // Strictly increasing keys (a map's, or a client that writes them
        // sorted) need neither the sort nor the dedup.
        if pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            return SortedFields { pairs };
        }
        // Stable: pairs of one key stay in wire order, so the last is last.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        SortedFields { pairs }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.pairs[i].1.as_ref())
    }

    /// Every pair, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

impl Deref for CommandFields {
    type Target = ExtFields;
    fn deref(&self) -> &ExtFields {
        self.map()
    }
}

impl DerefMut for CommandFields {
    fn deref_mut(&mut self) -> &mut ExtFields {
        self.map_mut()
    }
}

impl PartialEq for CommandFields {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl Eq for CommandFields {}

impl std::fmt::Debug for CommandFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map().fmt(f)
    }
}

impl From<ExtFields> for CommandFields {
    fn from(map: ExtFields) -> Self {
        CommandFields { map, raw: None }
    }
}

impl FromIterator<(String, String)> for CommandFields {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        ExtFields::from_iter(iter).into()
    }
}

impl<'a> IntoIterator for &'a CommandFields {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.map().iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{frame, RemotingCommand, RequestCode};

    /// Pairs in a given order, repeats allowed (a hand-written frame can
    /// repeat a key).
    struct Pairs(Vec<(&'static str, &'static str)>);

    impl FieldPairs for Pairs {
        fn visit<'a, F: FnMut(Cow<'a, str>, Cow<'a, str>)>(&'a self, mut f: F) {
            for (k, v) in &self.0 {
                f(Cow::Borrowed(k), Cow::Borrowed(v));
            }
        }
    }

    #[test]
    fn sorted_fields_of_a_decoded_frame_match_its_map() {
        let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2);
        for (k, v) in [
            ("b", "Topic"),
            ("a", "Group"),
            ("Signature", "s="),
            ("i", "x\"y\u{1}"),
        ] {
            cmd.ext_fields.insert(k.into(), v.into());
        }
        let mut buf = bytes::BytesMut::new();
        frame::encode(&cmd, &mut buf);
        let decoded = frame::decode_frame(buf.freeze()).expect("decodes");
        assert!(decoded.ext_fields.is_raw());
        let sorted = decoded.ext_fields.sorted();
        assert!(decoded.ext_fields.is_raw(), "sorting built the map");
        let pairs: Vec<(&str, &str)> = sorted.iter().collect();
        let map: Vec<(&str, &str)> = cmd
            .ext_fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, map);
        assert_eq!(sorted.get("i"), Some("x\"y\u{1}"));
        assert_eq!(sorted.get("c"), None);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_the_map_does() {
        let fields = Pairs(vec![
            ("b", "1"),
            ("a", "x"),
            ("b", "2"),
            ("c", "z"),
            ("b", "3"),
        ]);
        let sorted = SortedFields::of(&fields);
        let pairs: Vec<(&str, &str)> = sorted.iter().collect();
        assert_eq!(pairs, [("a", "x"), ("b", "3"), ("c", "z")]);
        assert_eq!(sorted.get("b"), Some("3"));
    }
}
