//! Typed headers carried in `extFields`, and the conversions Java applies:
//! every value is a string on the wire; numbers parse as decimal, booleans
//! are true only for a case-insensitive `"true"`, and an empty string of a
//! numeric field counts as absent (Go and C++ send `""` for unset fields).

use crate::error::ProtocolError;

pub use crate::fields::ExtFields;

/// A request or response header that maps to and from `extFields`.
pub trait CommandHeader: Sized {
    /// Writes every present field into `fields` (absent optionals are skipped).
    fn write_fields(&self, fields: &mut ExtFields);

    /// Reads the header from `fields`, ignoring keys it does not know.
    ///
    /// # Errors
    /// [`ProtocolError::MissingField`] when a required field is absent,
    /// [`ProtocolError::BadField`] when a value does not convert.
    fn read_fields(fields: &ExtFields) -> Result<Self, ProtocolError> {
        Self::read_pairs(fields)
    }

    /// Reads the header from any source of pairs (a map, or a decoded
    /// request's wire bytes: [`crate::fields::CommandFields`]), as
    /// [`CommandHeader::read_fields`] does.
    ///
    /// # Errors
    /// As [`CommandHeader::read_fields`].
    fn read_pairs<P: crate::fields::FieldPairs + ?Sized>(fields: &P)
        -> Result<Self, ProtocolError>;
}

/// A value type of a header field.
pub trait FieldValue: Sized {
    /// Converts the wire string (`None` when the key is absent).
    ///
    /// # Errors
    /// Names the field when the value is missing or malformed.
    fn from_field(key: &'static str, raw: Option<&str>) -> Result<Self, ProtocolError>;

    /// The wire string, or `None` to leave the key out.
    fn to_field(&self) -> Option<String>;
}

/// A scalar that can be required (`T`) or optional (`Option<T>`).
pub trait Scalar: Sized {
    /// What the error message says was expected.
    const EXPECTED: &'static str;
    /// Parses a non-empty wire string.
    fn parse(raw: &str) -> Option<Self>;
    /// Formats for the wire.
    fn format(&self) -> String;
    /// Whether an empty string counts as absent (numbers yes, strings no).
    const EMPTY_IS_ABSENT: bool = true;
}

impl Scalar for String {
    const EXPECTED: &'static str = "a string";
    const EMPTY_IS_ABSENT: bool = false;
    fn parse(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
    fn format(&self) -> String {
        self.clone()
    }
}

impl Scalar for bool {
    const EXPECTED: &'static str = "a boolean";
    fn parse(raw: &str) -> Option<Self> {
        // Java's Boolean.parseBoolean: anything but "true" is false.
        Some(trimmed(raw).eq_ignore_ascii_case("true"))
    }
    fn format(&self) -> String {
        if *self { "true" } else { "false" }.to_owned()
    }
}

macro_rules! int_scalar {
    ($($t:ty => $what:expr),*) => {$(
        impl Scalar for $t {
            const EXPECTED: &'static str = $what;
            fn parse(raw: &str) -> Option<Self> {
                trimmed(raw).parse().ok()
            }
            fn format(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_scalar!(i32 => "a 32-bit integer", i64 => "a 64-bit integer", i16 => "a 16-bit integer");

impl Scalar for f64 {
    const EXPECTED: &'static str = "a number";
    fn parse(raw: &str) -> Option<Self> {
        trimmed(raw).parse().ok()
    }
    fn format(&self) -> String {
        self.to_string()
    }
}

fn present<T: Scalar>(raw: Option<&str>) -> Option<&str> {
    raw.filter(|v| !(T::EMPTY_IS_ABSENT && trimmed(v).is_empty()))
}

/// `raw.trim()`, without walking the characters when both ends are
/// visible ASCII (every value a client sends).
fn trimmed(raw: &str) -> &str {
    match (raw.as_bytes().first(), raw.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => raw,
        _ => raw.trim(),
    }
}

impl<T: Scalar> FieldValue for T {
    fn from_field(key: &'static str, raw: Option<&str>) -> Result<Self, ProtocolError> {
        let raw = present::<T>(raw).ok_or(ProtocolError::MissingField(key))?;
        T::parse(raw).ok_or_else(|| ProtocolError::BadField {
            field: key,
            value: raw.chars().take(64).collect(),
            expected: T::EXPECTED,
        })
    }
    fn to_field(&self) -> Option<String> {
        Some(self.format())
    }
}

impl<T: Scalar> FieldValue for Option<T> {
    fn from_field(key: &'static str, raw: Option<&str>) -> Result<Self, ProtocolError> {
        match present::<T>(raw) {
            None => Ok(None),
            Some(raw) => T::parse(raw)
                .map(Some)
                .ok_or_else(|| ProtocolError::BadField {
                    field: key,
                    value: raw.chars().take(64).collect(),
                    expected: T::EXPECTED,
                }),
        }
    }
    fn to_field(&self) -> Option<String> {
        self.as_ref().map(Scalar::format)
    }
}

/// Declares a header struct and its `extFields` mapping. A field of type
/// `Option<T>` is optional; any other type is required.
///
/// ```
/// protocol::command_header! {
///     /// GET_ROUTEINFO_BY_TOPIC request.
///     pub struct RouteRequest {
///         pub topic: String = "topic",
///         pub accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
///     }
/// }
/// ```
#[macro_export]
macro_rules! command_header {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* pub $field:ident : $ty:ty = $key:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::ext::CommandHeader for $name {
            fn write_fields(&self, fields: &mut $crate::command::ExtFields) {
                $(
                    if let Some(v) = $crate::ext::FieldValue::to_field(&self.$field) {
                        fields.insert($key.to_owned(), v);
                    }
                )*
                let _ = fields;
            }

            fn read_pairs<P: $crate::fields::FieldPairs + ?Sized>(
                fields: &P,
            ) -> Result<Self, $crate::error::ProtocolError> {
                // One pass over the fields (no lookup per key, no map when
                // they are still wire bytes); a later pair of a key wins, as
                // in the map. The values then convert in declaration order,
                // so the first bad or missing field named is the same as
                // key by key.
                $(let mut $field: Option<std::borrow::Cow<'_, str>> = None;)*
                fields.visit(|k, v| {
                    let _ = &v;
                    match &*k {
                        $($key => $field = Some(v),)*
                        _ => {}
                    }
                });
                Ok($name {
                    $($field: $crate::ext::FieldValue::from_field($key, $field.as_deref())?,)*
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    command_header! {
        pub struct Sample {
            pub topic: String = "topic",
            pub queue_id: i32 = "queueId",
            pub offset: Option<i64> = "offset",
            pub flag: Option<bool> = "flag",
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_required_and_optional_fields() {
        let h =
            Sample::read_fields(&fields(&[("topic", "T"), ("queueId", "3"), ("x", "y")])).unwrap();
        assert_eq!(h.topic, "T");
        assert_eq!(h.queue_id, 3);
        assert_eq!(h.offset, None);
        assert_eq!(h.flag, None);
    }

    #[test]
    fn empty_numbers_are_absent_and_bad_numbers_are_named() {
        let h = Sample::read_fields(&fields(&[("topic", ""), ("queueId", "1"), ("offset", "")]))
            .unwrap();
        assert_eq!(h.topic, "");
        assert_eq!(h.offset, None);
        let err = Sample::read_fields(&fields(&[("topic", "T"), ("queueId", "")])).unwrap_err();
        assert_eq!(err, ProtocolError::MissingField("queueId"));
        let err = Sample::read_fields(&fields(&[("topic", "T"), ("queueId", "x1")])).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::BadField {
                field: "queueId",
                ..
            }
        ));
        assert!(err.to_string().contains("queueId"));
    }

    #[test]
    fn booleans_follow_java() {
        for (raw, want) in [
            ("true", true),
            ("TRUE", true),
            ("false", false),
            ("yes", false),
        ] {
            let h =
                Sample::read_fields(&fields(&[("topic", "T"), ("queueId", "0"), ("flag", raw)]))
                    .unwrap();
            assert_eq!(h.flag, Some(want), "{raw}");
        }
    }

    /// The key-by-key reading the one-pass reader replaced.
    fn read_by_lookup(fields: &ExtFields) -> Result<Sample, ProtocolError> {
        let get = |k: &str| fields.get(k).map(String::as_str);
        Ok(Sample {
            topic: FieldValue::from_field("topic", get("topic"))?,
            queue_id: FieldValue::from_field("queueId", get("queueId"))?,
            offset: FieldValue::from_field("offset", get("offset"))?,
            flag: FieldValue::from_field("flag", get("flag"))?,
        })
    }

    proptest::proptest! {
        #[test]
        fn one_pass_reading_matches_lookups(
            pairs in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("topic"),
                        proptest::strategy::Just("queueId"),
                        proptest::strategy::Just("offset"),
                        proptest::strategy::Just("flag"),
                        proptest::strategy::Just("other"),
                        proptest::strategy::Just("Topic"),
                    ],
                    "(-?[0-9]{0,3}|true|x| )",
                ),
                0..8,
            )
        ) {
            let f: ExtFields = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            proptest::prop_assert_eq!(Sample::read_fields(&f), read_by_lookup(&f));
        }
    }

    #[test]
    fn writes_present_fields_only() {
        let h = Sample {
            topic: "T".into(),
            queue_id: 2,
            offset: Some(-5),
            flag: None,
        };
        let mut f = ExtFields::new();
        h.write_fields(&mut f);
        assert_eq!(
            f,
            fields(&[("topic", "T"), ("queueId", "2"), ("offset", "-5")])
        );
        assert_eq!(Sample::read_fields(&f).unwrap(), h);
    }
}
