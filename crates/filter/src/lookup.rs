//! Where an expression reads message properties from.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

/// Read access to one message's properties (all of them, `TAGS` included).
///
/// Implemented for `HashMap` and `BTreeMap` with string-like keys and values,
/// for slices, arrays and vectors of pairs, for references to any of these,
/// and for closures through [`lookup_fn`].
pub trait PropertyLookup {
    /// The value of property `name`, or `None` when the message lacks it.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<T: PropertyLookup + ?Sized> PropertyLookup for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl<K, V, S> PropertyLookup for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: AsRef<str>,
    S: BuildHasher,
{
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(AsRef::as_ref)
    }
}

impl<K, V> PropertyLookup for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: AsRef<str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(AsRef::as_ref)
    }
}

/// Pairs are searched in order; the first pair with the name wins.
impl<K: AsRef<str>, V: AsRef<str>> PropertyLookup for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> PropertyLookup for [(K, V); N] {
    fn get(&self, name: &str) -> Option<&str> {
        PropertyLookup::get(self.as_slice(), name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> PropertyLookup for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        PropertyLookup::get(self.as_slice(), name)
    }
}

/// A closure as a [`PropertyLookup`]; see [`lookup_fn`].
pub struct FnLookup<'a, F> {
    f: F,
    // Ties the returned strings' lifetime to the borrow of the lookup.
    _values: PhantomData<&'a str>,
}

/// Wraps a closure that finds property values living at least as long as `'a`,
/// e.g. a zero-copy search in a stored record's encoded properties:
/// `lookup_fn(|name| find_property(encoded, name))`.
pub fn lookup_fn<'a, F>(f: F) -> FnLookup<'a, F>
where
    F: Fn(&str) -> Option<&'a str>,
{
    FnLookup {
        f,
        _values: PhantomData,
    }
}

impl<'a, F> PropertyLookup for FnLookup<'a, F>
where
    F: Fn(&str) -> Option<&'a str>,
{
    fn get(&self, name: &str) -> Option<&str> {
        (self.f)(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<P: PropertyLookup + ?Sized>(p: &P) -> (Option<&str>, Option<&str>) {
        (p.get("a"), p.get("zz"))
    }

    #[test]
    fn every_container_finds_values() {
        let hash: HashMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        let btree: BTreeMap<&str, &str> = [("a", "1")].into();
        let pairs = [("a", "1"), ("a", "2")];
        let vec = vec![("a".to_owned(), "1")];
        let text = "a=1";
        let closure = lookup_fn(|name: &str| (name == "a").then(|| &text[2..]));
        let want = (Some("1"), None);
        assert_eq!(read(&hash), want);
        assert_eq!(read(&btree), want);
        assert_eq!(read(&pairs), want);
        assert_eq!(read(&pairs[..]), want);
        assert_eq!(read(&vec), want);
        assert_eq!(read(&&vec), want);
        assert_eq!(read(&closure), want);
        let dynamic: &dyn PropertyLookup = &hash;
        assert_eq!(read(dynamic), want);
    }
}
