//! Lenient field conversions for bodies, matching what fastjson accepts when
//! it reads: numbers where strings are expected and vice versa, `null` for
//! any field, and booleans written as strings or 0/1. Use as
//! `#[serde(default, deserialize_with = "lenient::de")]`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A field type that converts leniently from any JSON value.
pub trait Lenient: Sized {
    /// Converts `value`; `Err` says what was expected.
    ///
    /// # Errors
    /// A short description of the expected type.
    fn from_json(value: Value) -> Result<Self, String>;
}

/// The `deserialize_with` function for any [`Lenient`] field.
///
/// # Errors
/// Deserializer errors naming the expected type.
pub fn de<'de, D: Deserializer<'de>, T: Lenient>(d: D) -> Result<T, D::Error> {
    T::from_json(Value::deserialize(d)?).map_err(D::Error::custom)
}

impl Lenient for String {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            Value::Null => Ok(String::new()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("expected a string, found {other}")),
        }
    }
}

impl Lenient for i64 {
    fn from_json(value: Value) -> Result<Self, String> {
        match &value {
            Value::Null => Ok(0),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| format!("expected a 64-bit integer, found {n}")),
            Value::String(s) if s.trim().is_empty() => Ok(0),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("expected a 64-bit integer, found {s:?}")),
            other => Err(format!("expected a 64-bit integer, found {other}")),
        }
    }
}

impl Lenient for i32 {
    fn from_json(value: Value) -> Result<Self, String> {
        let text = value.to_string();
        i64::from_json(value).and_then(|n| {
            i32::try_from(n).map_err(|_| format!("expected a 32-bit integer, found {text}"))
        })
    }
}

impl Lenient for f64 {
    fn from_json(value: Value) -> Result<Self, String> {
        match &value {
            Value::Null => Ok(0.0),
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| format!("expected a number, found {n}")),
            Value::String(s) if s.trim().is_empty() => Ok(0.0),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("expected a number, found {s:?}")),
            other => Err(format!("expected a number, found {other}")),
        }
    }
}

impl Lenient for bool {
    fn from_json(value: Value) -> Result<Self, String> {
        match &value {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(*b),
            Value::Number(n) => Ok(n.as_f64().is_some_and(|f| f != 0.0)),
            Value::String(s) => {
                let s = s.trim();
                Ok(s.eq_ignore_ascii_case("true") || s == "1")
            }
            other => Err(format!("expected a boolean, found {other}")),
        }
    }
}

impl<T: Lenient> Lenient for Option<T> {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_json(other).map(Some),
        }
    }
}

impl<T: Lenient> Lenient for Vec<T> {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items.into_iter().map(T::from_json).collect(),
            other => Err(format!("expected an array, found {other}")),
        }
    }
}

/// Declares an enum written by its Java name. Reading also accepts the
/// ordinal (fastjson does) and keeps an unknown name in `Other`, so a newer
/// client's value never fails a whole heartbeat.
macro_rules! name_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A name this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The Java name.
            pub fn name(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }

            /// The variant for a Java name (`Other` when unknown).
            pub fn from_name(name: &str) -> Self {
                match name {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }

            /// The variant for a Java ordinal.
            pub fn from_ordinal(ordinal: u64) -> Option<Self> {
                [$($name::$variant,)*].into_iter().nth(usize::try_from(ordinal).ok()?)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) => Ok($name::from_name(&s)),
                    serde_json::Value::Number(n) => n
                        .as_u64()
                        .and_then($name::from_ordinal)
                        .ok_or_else(|| D::Error::custom(format!(
                            "{} has no ordinal {n}", stringify!($name)))),
                    other => Err(D::Error::custom(format!(
                        "expected a {} name, found {other}", stringify!($name)))),
                }
            }
        }
    };
}
pub(crate) use name_enum;

/// Gives a serde body type `to_json_bytes` / `from_json_bytes`.
macro_rules! json_body {
    ($($t:ty => $what:literal),*) => {$(
        impl $t {
            /// Compact JSON, keys sorted, as Java writes it.
            ///
            /// # Errors
            /// `ProtocolError::BadBody` only if serialization fails.
            pub fn to_json_bytes(&self) -> Result<Vec<u8>, $crate::error::ProtocolError> {
                $crate::body::fastjson::to_bytes(self)
            }

            /// Parses fastjson or standard JSON.
            ///
            /// # Errors
            /// `ProtocolError::BadBody` naming the problem.
            pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, $crate::error::ProtocolError> {
                $crate::body::fastjson::parse_object(bytes, $what)
            }
        }
    )*};
}
pub(crate) use json_body;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_like_fastjson() {
        assert_eq!(String::from_json(json!(12)).unwrap(), "12");
        assert_eq!(String::from_json(json!(true)).unwrap(), "true");
        assert!(String::from_json(json!([1])).is_err());
        assert_eq!(i64::from_json(json!("  42 ")).unwrap(), 42);
        assert_eq!(i64::from_json(json!("")).unwrap(), 0);
        assert_eq!(i64::from_json(json!(3.0)).unwrap(), 3);
        assert!(i64::from_json(json!(3.5)).is_err());
        assert!(i64::from_json(json!("x")).unwrap_err().contains("\"x\""));
        assert!(i32::from_json(json!(4_000_000_000_i64)).is_err());
        assert_eq!(i32::from_json(json!("-1")).unwrap(), -1);
        assert_eq!(f64::from_json(json!("1.5")).unwrap(), 1.5);
        assert!(bool::from_json(json!("TRUE")).unwrap());
        assert!(bool::from_json(json!(1)).unwrap());
        assert!(!bool::from_json(json!("no")).unwrap());
        assert_eq!(Option::<i64>::from_json(json!(null)).unwrap(), None);
        assert_eq!(Option::<i64>::from_json(json!("7")).unwrap(), Some(7));
        assert_eq!(Vec::<i32>::from_json(json!([1, "2"])).unwrap(), [1, 2]);
        assert!(Vec::<i32>::from_json(json!(null)).unwrap().is_empty());
        assert!(Vec::<i32>::from_json(json!({})).is_err());
    }
}
