//! Java-compatible hashes: tags in consume-queue entries and index keys must
//! hash exactly as the Java broker does, because clients compare tag codes
//! and existing index files are looked up by them.

/// Java `String.hashCode()`: `h = 31 * h + c` over the UTF-16 code units,
/// wrapping at 32 bits.
pub fn java_string_hash(s: &str) -> i32 {
    java_hash_from(0, s)
}

/// One step of `hashCode`: `31 * h + unit`, wrapping.
fn step(h: i32, unit: u16) -> i32 {
    h.wrapping_mul(31).wrapping_add(i32::from(unit))
}

/// Continues a `hashCode` from `h` over `s`'s UTF-16 code units. An ASCII
/// byte is its own code unit, so the ASCII prefix (all of a topic, tag or
/// key in practice) is hashed byte by byte; the rest, from the first
/// non-ASCII character on, through `encode_utf16`.
fn java_hash_from(mut h: i32, s: &str) -> i32 {
    // Four ASCII bytes at a time: 31^4 h + 31^3 a + 31^2 b + 31 c + d
    // (wrapping, so equal to four steps), with a shorter dependency chain.
    let mut done = 0;
    for chunk in s.as_bytes().chunks_exact(4) {
        let &[a, b, c, d] = chunk else { break };
        if (a | b | c | d) >= 0x80 {
            break;
        }
        h = h
            .wrapping_mul(923_521)
            .wrapping_add(i32::from(a) * 29_791)
            .wrapping_add(i32::from(b) * 961)
            .wrapping_add(i32::from(c) * 31)
            .wrapping_add(i32::from(d));
        done += 4;
    }
    // Every byte before `done` is ASCII, so it is a char boundary.
    let s = s.get(done..).unwrap_or_default();
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if !b.is_ascii() {
            // Every byte before `i` is ASCII, so `i` is a char boundary.
            return s
                .get(i..)
                .map_or(h, |rest| rest.encode_utf16().fold(h, step));
        }
        h = step(h, u16::from(b));
    }
    h
}

/// The tag code stored in a consume-queue entry: `hashCode(TAGS)` widened to
/// 64 bits with sign extension (the Java broker stores the int as a long).
pub fn tag_hash(tags: &str) -> i64 {
    i64::from(java_string_hash(tags))
}

/// Hashes the concatenation of several parts without building it, so
/// `topic#key` costs no allocation.
fn java_hash_parts(parts: &[&str]) -> i32 {
    parts.iter().fold(0i32, |h, part| java_hash_from(h, part))
}

/// The index-file key hash of `topic#key`: `|hashCode|`, and 0 when the
/// absolute value overflows (hashCode == i32::MIN), as the Java index does.
pub fn index_key_hash(topic: &str, key: &str) -> u32 {
    let h = java_hash_parts(&[topic, "#", key]);
    // i32::MIN has no positive counterpart; Java's Math.abs returns it
    // negative and the index then clamps it to 0.
    h.checked_abs().map_or(0, i32::unsigned_abs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_golden_values() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        // U+00E9 is one code unit (233).
        assert_eq!(java_string_hash("é"), 233);
        // U+4E2D: one code unit, 20013.
        assert_eq!(java_string_hash("中"), 20_013);
        // U+1F600 is the surrogate pair D83D DE00: 55357 * 31 + 56832.
        assert_eq!(java_string_hash("😀"), 1_772_899);
        // The well-known Java string whose hashCode is Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // Wrapping: "hello world".hashCode() in Java.
        assert_eq!(java_string_hash("hello world"), 1_794_106_052);
        assert_eq!(java_string_hash("TopicTest"), -1_902_610_879);
    }

    #[test]
    fn tag_hash_sign_extends() {
        assert_eq!(tag_hash("TagA"), 2_598_919);
        assert_eq!(tag_hash("polygenelubricants"), -2_147_483_648i64);
        assert_eq!(tag_hash(""), 0);
    }

    #[test]
    fn index_key_hash_matches_concatenation() {
        let whole = java_string_hash("TopicTest#KEY1");
        assert_eq!(index_key_hash("TopicTest", "KEY1"), whole.unsigned_abs());
        assert!(index_key_hash("TopicTest", "KEY1") <= i32::MAX as u32);
    }

    #[test]
    fn index_key_hash_negative_becomes_positive() {
        // "TopicTest" alone hashes negative; with an empty key the
        // concatenation "TopicTest#" is 31 * h + 35.
        let h = java_string_hash("TopicTest#");
        assert_eq!(index_key_hash("TopicTest", ""), h.unsigned_abs());
    }

    #[test]
    fn index_key_hash_overflow_is_zero() {
        // "T#elprcubx" hashes to i32::MIN (found offline by solving the
        // last code units of the key).
        assert_eq!(java_string_hash("T#elprcubx"), i32::MIN);
        assert_eq!(index_key_hash("T", "elprcubx"), 0);
    }

    /// `hashCode` as Java defines it, over every UTF-16 unit.
    fn reference(s: &str) -> i32 {
        s.encode_utf16()
            .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_matches_utf16(
            s in "[ -~]{0,40}(\\PC{0,6}[ -~]{0,8}){0,3}",
            parts in proptest::collection::vec("\\PC{0,12}", 0..4),
        ) {
            proptest::prop_assert_eq!(java_string_hash(&s), reference(&s));
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(java_hash_parts(&refs), reference(&parts.concat()));
        }
    }
}
