//! Helpers shared by the header tests.

use crate::command::ExtFields;
use crate::ext::CommandHeader;

/// extFields from literal pairs.
pub fn fields(pairs: &[(&str, &str)]) -> ExtFields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Asserts that `header` writes exactly `golden` and reads back equal.
pub fn assert_golden<H: CommandHeader + PartialEq + std::fmt::Debug>(
    header: &H,
    golden: &[(&str, &str)],
) {
    let mut out = ExtFields::new();
    header.write_fields(&mut out);
    assert_eq!(out, fields(golden));
    assert_eq!(&H::read_fields(&out).unwrap(), header);
}
