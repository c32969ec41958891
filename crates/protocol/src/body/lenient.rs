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
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
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
            Value::Number(n) => n.as_f64().ok_or_else(|| format!("expected a number, found {n}")),
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
    }
}
