//! A command's `extFields` as the handlers and codecs see them. A decoded
//! request keeps its fields as the wire bytes they arrived in (validated
//! when the frame was decoded) and typed headers read straight from those
//! bytes ([`crate::ext::CommandHeader::read_pairs`]): no map, no string per
//! key. The map is built only when something asks for it by key or changes
//! it (signature checks, ACL, re-encoding), through `Deref`/`DerefMut`, so
//! code that used the map before reads the same values.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use bytes::Bytes;

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

/// Fields kept as validated wire bytes.
#[derive(Debug, Clone)]
struct Raw {
    bytes: Bytes,
    /// The walker of the serialization the bytes are in.
    walk: Walk,
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
        CommandFields {
            map: ExtFields::new(),
            raw: Some(Box::new(Raw {
                bytes,
                walk,
                map: OnceLock::new(),
            })),
        }
    }

    /// Whether the fields are still only wire bytes (no map built yet).
    pub fn is_raw(&self) -> bool {
        self.raw.as_ref().is_some_and(|r| r.map.get().is_none())
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
            let Raw { bytes, walk, map } = *raw;
            self.map = map.into_inner().unwrap_or_else(|| {
                Raw {
                    bytes,
                    walk,
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
