//! The message properties string: `name U+0001 value U+0002`, repeated.
//!
//! Decoding follows Java's `string2messageProperties`: split on U+0002, take
//! the name up to the first U+0001 of the segment, drop pairs whose name or
//! value is empty (which also drops every segment shorter than three chars),
//! and let the last duplicate win. Insertion order is kept so re-encoding a
//! decoded string is stable.

use crate::error::ProtocolError;

/// Separates a name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Terminates each pair.
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Largest encoded properties string (the record stores a signed short).
pub const MAX_PROPERTIES_LEN: usize = 32_767;

/// Ordered message properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pairs: Vec<(String, String)>,
}

/// The pairs of a properties string, in order, with Java's skipping rules
/// applied (duplicates are still all yielded).
fn raw_pairs(s: &str) -> RawPairs<'_> {
    RawPairs { rest: s }
}

/// [`raw_pairs`]: one pass over the bytes, finding each segment's end and
/// its first name/value separator together (both separators are ASCII, so
/// every cut is a char boundary). Yields what
/// `s.split(PROPERTY_SEPARATOR)` then `split_once(NAME_VALUE_SEPARATOR)`
/// with the empty name or value dropped yields.
struct RawPairs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for RawPairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        const PAIR_END: u8 = PROPERTY_SEPARATOR as u8;
        const NAME_END: u8 = NAME_VALUE_SEPARATOR as u8;
        while !self.rest.is_empty() {
            let s = self.rest;
            let bytes = s.as_bytes();
            let mut name_end = None;
            let mut end = bytes.len();
            for (i, &b) in bytes.iter().enumerate() {
                if b == PAIR_END {
                    end = i;
                    break;
                }
                if b == NAME_END && name_end.is_none() {
                    name_end = Some(i);
                }
            }
            self.rest = s.get(end + 1..).unwrap_or("");
            let Some(at) = name_end else { continue };
            let (Some(name), Some(value)) = (s.get(..at), s.get(at + 1..end)) else {
                continue;
            };
            if !name.is_empty() && !value.is_empty() {
                return Some((name, value));
            }
        }
        None
    }
}

/// The pairs of an encoded string in order, borrowed, with Java's skipping
/// rules (a duplicate name yields every occurrence; the last one wins).
pub fn property_pairs(encoded: &str) -> impl Iterator<Item = (&str, &str)> {
    raw_pairs(encoded)
}

/// Looks one property up in an encoded string without decoding the rest;
/// the last occurrence wins, as in a full decode.
pub fn find_property<'a>(encoded: &'a str, name: &str) -> Option<&'a str> {
    raw_pairs(encoded)
        .filter(|(n, _)| *n == name)
        .last()
        .map(|(_, v)| v)
}

/// The properties the store's dispatcher needs for every record (tag code,
/// delivery level, index keys), found in one pass over the encoded string
/// with the same rules as [`find_property`] (the last occurrence wins).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchProperties<'a> {
    /// `TAGS`.
    pub tags: Option<&'a str>,
    /// `KEYS` (space-separated, as stored).
    pub keys: Option<&'a str>,
    /// `UNIQ_KEY`.
    pub uniq_key: Option<&'a str>,
    /// `DELAY`.
    pub delay: Option<&'a str>,
}

impl<'a> DispatchProperties<'a> {
    /// Scans `encoded` once for every property the dispatcher reads.
    pub fn scan(encoded: &'a str) -> Self {
        let mut out = Self::default();
        for (name, value) in raw_pairs(encoded) {
            let slot = match name {
                super::keys::TAGS => &mut out.tags,
                super::keys::KEYS => &mut out.keys,
                super::keys::UNIQ_KEY => &mut out.uniq_key,
                super::keys::DELAY => &mut out.delay,
                _ => continue,
            };
            *slot = Some(value);
        }
        out
    }
}

impl Properties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a properties string (never fails: malformed pairs are skipped
    /// exactly as Java skips them).
    pub fn decode(encoded: &str) -> Self {
        let mut props = Self::new();
        for (name, value) in raw_pairs(encoded) {
            props.insert(name, value);
        }
        props
    }

    /// Decodes properties bytes as stored in a record.
    ///
    /// # Errors
    /// [`ProtocolError::BadMessage`] if the bytes are not UTF-8.
    pub fn decode_bytes(encoded: &[u8]) -> Result<Self, ProtocolError> {
        let s = std::str::from_utf8(encoded)
            .map_err(|e| ProtocolError::BadMessage(format!("properties are not UTF-8: {e}")))?;
        Ok(Self::decode(s))
    }

    /// Encodes as Java does: every pair followed by U+0002, so the string
    /// ends with a separator unless it is empty.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        for (name, value) in &self.pairs {
            out.push_str(name);
            out.push(NAME_VALUE_SEPARATOR);
            out.push_str(value);
            out.push(PROPERTY_SEPARATOR);
        }
        out
    }

    /// Length in bytes of [`Properties::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        self.pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum()
    }

    /// Checks that the properties survive a round trip and fit in a record:
    /// no separators inside names or values, no empty ones (Java drops
    /// them on decode), and at most [`MAX_PROPERTIES_LEN`] bytes encoded.
    ///
    /// # Errors
    /// [`ProtocolError::BadMessage`] naming the offending property, or
    /// [`ProtocolError::TooLong`].
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let has_sep = |s: &str| s.contains([NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR]);
        for (name, value) in &self.pairs {
            if name.is_empty() || has_sep(name) {
                return Err(ProtocolError::BadMessage(format!(
                    "property name {name:?} is empty or contains a separator"
                )));
            }
            if value.is_empty() || has_sep(value) {
                return Err(ProtocolError::BadMessage(format!(
                    "value of property {name} is empty or contains a separator"
                )));
            }
        }
        let len = self.encoded_len();
        if len > MAX_PROPERTIES_LEN {
            return Err(ProtocolError::TooLong {
                field: "properties",
                len,
                max: MAX_PROPERTIES_LEN,
            });
        }
        Ok(())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, keeping its position if it existed; returns
    /// the previous value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let name = name.into();
        let value = value.into();
        match self.pairs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.pairs.push((name, value));
                None
            }
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let pos = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(pos).1)
    }

    /// Keeps only the properties for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.pairs.retain(|(n, v)| keep(n, v));
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The properties in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.get(super::keys::TAGS)
    }

    /// The `UNIQ_KEY` property (client message id).
    pub fn uniq_key(&self) -> Option<&str> {
        self.get(super::keys::UNIQ_KEY)
    }

    /// The entries of `KEYS` (space-separated; empty entries skipped).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.get(super::keys::KEYS)
            .into_iter()
            .flat_map(|k| k.split(super::keys::KEY_SEPARATOR))
            .filter(|k| !k.is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut props = Self::new();
        for (k, v) in iter {
            props.insert(k, v);
        }
        props
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encode_matches_java_layout() {
        let p: Properties = [("TAGS", "TagA"), ("KEYS", "k1 k2")].into_iter().collect();
        assert_eq!(p.encode(), "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}");
        assert_eq!(p.encoded_len(), p.encode().len());
        assert_eq!(Properties::new().encode(), "");
    }

    #[test]
    fn decode_quirks() {
        // Empty value dropped, empty name dropped, segments without a
        // separator skipped, short segments skipped, last duplicate wins,
        // no trailing separator still accepted.
        let s = "A\u{1}\u{2}\u{1}v\u{2}junk\u{2}x\u{2}\u{2}K\u{1}1\u{2}B\u{1}b\u{2}K\u{1}2";
        let p = Properties::decode(s);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("K", "2"), ("B", "b")]);
        assert_eq!(find_property(s, "K"), Some("2"));
        assert_eq!(find_property(s, "A"), None);
        assert_eq!(find_property(s, "B"), Some("b"));
    }

    #[test]
    fn value_may_contain_name_separator() {
        // Java splits at the first U+0001 only.
        let p = Properties::decode("K\u{1}a\u{1}b\u{2}");
        assert_eq!(p.get("K"), Some("a\u{1}b"));
    }

    #[test]
    fn accessors() {
        let mut p = Properties::decode("KEYS\u{1}a  b\u{2}TAGS\u{1}t\u{2}UNIQ_KEY\u{1}U\u{2}");
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(p.tags(), Some("t"));
        assert_eq!(p.uniq_key(), Some("U"));
        assert_eq!(p.insert("TAGS", "u"), Some("t".to_string()));
        assert_eq!(p.iter().nth(1), Some(("TAGS", "u")));
        assert_eq!(p.remove("KEYS"), Some("a  b".to_string()));
        assert_eq!(p.len(), 2);
        p.retain(|n, _| n != "TAGS");
        assert_eq!(p.encode(), "UNIQ_KEY\u{1}U\u{2}");
    }

    #[test]
    fn validate_rejects() {
        let mut p = Properties::new();
        p.insert("A", "");
        assert!(p.validate().is_err());
        let mut p = Properties::new();
        p.insert("A\u{2}", "x");
        assert!(p.validate().is_err());
        let mut p = Properties::new();
        p.insert("A", "x".repeat(MAX_PROPERTIES_LEN));
        assert!(matches!(
            p.validate(),
            Err(ProtocolError::TooLong {
                field: "properties",
                ..
            })
        ));
        assert!(Properties::decode_bytes(&[0xff, 0xfe]).is_err());
    }

    fn text() -> impl Strategy<Value = String> {
        "[^\u{1}\u{2}]{1,12}"
    }

    proptest! {
        #[test]
        fn roundtrip(pairs in proptest::collection::vec((text(), text()), 0..8)) {
            let p: Properties = pairs.into_iter().collect();
            prop_assert!(p.validate().is_ok());
            let enc = p.encode();
            prop_assert_eq!(Properties::decode(&enc), p.clone());
            prop_assert_eq!(Properties::decode_bytes(enc.as_bytes())?, p);
        }

        #[test]
        fn dispatch_scan_matches_lookups(
            pairs in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("TAGS"), Just("KEYS"), Just("UNIQ_KEY"), Just("DELAY"),
                        Just("X"), Just(""), Just("TAGS\u{1}")
                    ],
                    "[a-b\u{1}]{0,3}",
                    prop_oneof![Just("\u{2}"), Just(""), Just("\u{1}\u{2}")],
                ),
                0..10,
            )
        ) {
            let s: String = pairs
                .iter()
                .map(|(n, v, end)| format!("{n}\u{1}{v}{end}"))
                .collect();
            let d = DispatchProperties::scan(&s);
            prop_assert_eq!(d.tags, find_property(&s, "TAGS"));
            prop_assert_eq!(d.keys, find_property(&s, "KEYS"));
            prop_assert_eq!(d.uniq_key, find_property(&s, "UNIQ_KEY"));
            prop_assert_eq!(d.delay, find_property(&s, "DELAY"));
        }

        #[test]
        fn pairs_match_split(s in "[a-c\u{1}\u{2}é😀]{0,40}") {
            // What the byte scan replaced: split, split_once, drop empties.
            let split: Vec<(&str, &str)> = s
                .split(PROPERTY_SEPARATOR)
                .filter_map(|segment| {
                    let (name, value) = segment.split_once(NAME_VALUE_SEPARATOR)?;
                    (!name.is_empty() && !value.is_empty()).then_some((name, value))
                })
                .collect();
            prop_assert_eq!(raw_pairs(&s).collect::<Vec<_>>(), split);
        }

        #[test]
        fn decode_never_panics(s in "[a-c\u{1}\u{2}é]{0,40}") {
            let p = Properties::decode(&s);
            for (n, v) in p.iter() {
                prop_assert!(!n.is_empty() && !v.is_empty());
                prop_assert_eq!(find_property(&s, n), Some(v));
            }
        }
    }
}
