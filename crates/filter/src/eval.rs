//! Evaluation with RocketMQ's (ActiveMQ-derived) value semantics.
//!
//! Values are Java objects in the original: `String` (every property value),
//! `Integer`/`Long`/`Double` (literals), `Boolean` (TRUE/FALSE and boolean
//! sub-expressions) or null. Comparisons convert a string to the type of the
//! number it meets, the way `ComparisonExpression` does with its
//! "convert string expressions" mode, which RocketMQ always turns on. Where
//! Java throws (a string that does not parse, a boolean against a string),
//! evaluation stops with an [`EvalFailure`] and the message does not match:
//! a failure is not NULL, it aborts the whole expression, so
//! `a = 1 OR b = 'x'` does not match when `a` is `'abc'`.
//!
//! Nothing here allocates: strings are borrowed from the expression or the
//! property map and numbers are parsed from borrowed text.

use std::cmp::Ordering;

use crate::ast::{Cond, Literal, Node};
use crate::error::{EvalFailure, NumberKind};
use crate::lookup::PropertyLookup;

/// A non-null value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

impl<'a> Scalar<'a> {
    pub(crate) fn of(lit: &'a Literal) -> Self {
        match lit {
            Literal::Str(s) => Scalar::Str(s),
            Literal::Int(i) => Scalar::Int(*i),
            Literal::Long(l) => Scalar::Long(*l),
            Literal::Double(d) => Scalar::Double(*d),
        }
    }
}

/// Java `Double.compareTo`: NaN equals itself and is above +Infinity, and
/// -0.0 is below 0.0.
pub(crate) fn java_double_cmp(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        let bits = |x: f64| {
            if x.is_nan() {
                0x7ff8_0000_0000_0000_i64
            } else {
                x.to_bits() as i64
            }
        };
        bits(a).cmp(&bits(b))
    }
}

/// Java `Double.valueOf(String)` for decimal text: surrounding characters up
/// to U+0020 trimmed, optional sign, `NaN`, `Infinity`, or digits with an
/// optional fraction and exponent and an optional `f`/`F`/`d`/`D` suffix.
/// Hexadecimal floating-point text (`0x1p3`) is not supported.
pub(crate) fn parse_java_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    let value = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let digits = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
            if !is_decimal_text(digits) {
                return None;
            }
            digits.parse::<f64>().ok()?
        }
    };
    Some(if negative { -value } else { value })
}

/// `digits [. digits] [e [sign] digits]` with at least one mantissa digit.
fn is_decimal_text(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

fn to_int(s: &str) -> Result<i32, EvalFailure> {
    s.parse()
        .map_err(|_| EvalFailure::NotANumber(NumberKind::Integer))
}

fn to_long(s: &str) -> Result<i64, EvalFailure> {
    s.parse()
        .map_err(|_| EvalFailure::NotANumber(NumberKind::Long))
}

fn to_double(s: &str) -> Result<f64, EvalFailure> {
    parse_java_double(s).ok_or(EvalFailure::NotANumber(NumberKind::Double))
}

/// `ComparisonExpression.__compare` with string conversion on. Mismatched
/// types that Java cannot convert compare as "less" (Java returns -1).
pub(crate) fn java_compare(l: Scalar<'_>, r: Scalar<'_>) -> Result<Ordering, EvalFailure> {
    use Scalar::{Bool, Double, Int, Long, Str};
    Ok(match (l, r) {
        (Int(a), Int(b)) => a.cmp(&b),
        (Long(a), Long(b)) => a.cmp(&b),
        (Int(a), Long(b)) => i64::from(a).cmp(&b),
        (Long(a), Int(b)) => a.cmp(&i64::from(b)),
        (Double(a), Double(b)) => java_double_cmp(a, b),
        (Int(a), Double(b)) => java_double_cmp(f64::from(a), b),
        (Long(a), Double(b)) => java_double_cmp(a as f64, b),
        (Double(a), Int(b)) => java_double_cmp(a, f64::from(b)),
        (Double(a), Long(b)) => java_double_cmp(a, b as f64),
        // Only equality reaches here with two strings; byte order is enough.
        (Str(a), Str(b)) => a.cmp(b),
        (Bool(a), Bool(b)) => a.cmp(&b),
        (Str(a), Bool(b)) => a.eq_ignore_ascii_case("true").cmp(&b),
        // Java casts the Boolean to String here and throws ClassCastException.
        (Bool(_), Str(_)) => return Err(EvalFailure::BooleanVersusString),
        (Str(a), Int(b)) => to_int(a)?.cmp(&b),
        (Str(a), Long(b)) => to_long(a)?.cmp(&b),
        (Str(a), Double(b)) => java_double_cmp(to_double(a)?, b),
        (Int(a), Str(b)) => a.cmp(&to_int(b)?),
        (Long(a), Str(b)) => a.cmp(&to_long(b)?),
        (Double(a), Str(b)) => java_double_cmp(a, to_double(b)?),
        (Bool(_), Int(_) | Long(_) | Double(_)) | (Int(_) | Long(_) | Double(_), Bool(_)) => {
            Ordering::Less
        }
    })
}

/// Evaluates a compiled tree against one message's properties.
pub(crate) struct Eval<'a, P: ?Sized> {
    pub(crate) props: &'a P,
}

type Outcome<T> = Result<T, EvalFailure>;

impl<'a, P: PropertyLookup + ?Sized> Eval<'a, P> {
    pub(crate) fn cond(&self, c: &'a Cond) -> Outcome<Option<bool>> {
        match c {
            Cond::Const(v) => Ok(*v),
            Cond::Cast(name) => Ok(self.props.get(name).map(|_| false)),
            Cond::Not(inner) => Ok(self.cond(inner)?.map(|b| !b)),
            Cond::And(items) => self.chain(items, false),
            Cond::Or(items) => self.chain(items, true),
            Cond::Equal(l, r) => self.equal(l, r),
            Cond::IsNull(n) => Ok(Some(self.value(n)?.is_none())),
            Cond::Compare(op, l, r) => {
                let Some(lv) = self.value(l)? else {
                    return Ok(None);
                };
                let Some(rv) = self.value(r)? else {
                    return Ok(None);
                };
                let ord = match (lv, rv) {
                    (Scalar::Str(a), Scalar::Str(b)) => {
                        match (parse_java_double(a), parse_java_double(b)) {
                            (Some(a), Some(b)) => java_double_cmp(a, b),
                            _ => return Err(EvalFailure::UnorderedStrings),
                        }
                    }
                    _ => java_compare(lv, rv)?,
                };
                Ok(Some(op.holds(ord)))
            }
            Cond::In {
                property,
                values,
                negated,
            } => Ok(self
                .props
                .get(property)
                .map(|v| values.binary_search_by(|x| (**x).cmp(v)).is_ok() != *negated)),
            Cond::Text {
                op,
                negated,
                operand,
                pattern,
            } => {
                // Java answers FALSE for an empty pattern before looking at the operand,
                // and FALSE (not NULL) for a missing or non-string operand.
                if pattern.is_empty() {
                    return Ok(Some(false));
                }
                Ok(Some(match self.value(operand)? {
                    Some(Scalar::Str(s)) => op.holds(s, pattern) != *negated,
                    _ => false,
                }))
            }
        }
    }

    /// AND (`stop_on` = false) or OR (`stop_on` = true) with Kleene logic.
    fn chain(&self, items: &'a [Cond], stop_on: bool) -> Outcome<Option<bool>> {
        let mut unknown = false;
        for item in items {
            match self.cond(item)? {
                Some(b) if b == stop_on => return Ok(Some(stop_on)),
                Some(_) => {}
                None => unknown = true,
            }
        }
        Ok(if unknown { None } else { Some(!stop_on) })
    }

    /// `=`: NULL only when the left side alone is null; two nulls are equal.
    fn equal(&self, l: &'a Node, r: &'a Node) -> Outcome<Option<bool>> {
        let lv = self.value(l)?;
        let rv = self.value(r)?;
        Ok(match (lv, rv) {
            (None, None) => Some(true),
            (None, Some(_)) => None,
            (Some(_), None) => Some(false),
            (Some(a), Some(b)) => Some(java_compare(a, b)? == Ordering::Equal),
        })
    }

    pub(crate) fn value(&self, n: &'a Node) -> Outcome<Option<Scalar<'a>>> {
        Ok(match n {
            Node::Literal(lit) | Node::Negated(lit) => Some(Scalar::of(lit)),
            Node::Property(name) => self.props.get(name).map(Scalar::Str),
            Node::Negate(inner) => match self.value(inner)? {
                Some(Scalar::Int(i)) => Some(Scalar::Int(i.wrapping_neg())),
                Some(Scalar::Long(l)) => Some(Scalar::Long(l.wrapping_neg())),
                Some(Scalar::Double(d)) => Some(Scalar::Double(-d)),
                _ => None,
            },
            Node::Cond(c) => self.cond(c)?.map(Scalar::Bool),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_parsing() {
        for (text, want) in [
            ("1", Some(1.0)),
            (" 2.5 ", Some(2.5)),
            ("+3e2", Some(300.0)),
            ("-.5", Some(-0.5)),
            ("5.", Some(5.0)),
            ("1.5f", Some(1.5)),
            ("7D", Some(7.0)),
            ("Infinity", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("1e400", Some(f64::INFINITY)),
            ("", None),
            (".", None),
            ("e5", None),
            ("1e", None),
            ("inf", None),
            ("nan", None),
            ("infinity", None),
            ("1,5", None),
            ("0x10", None),
            ("abc", None),
        ] {
            assert_eq!(parse_java_double(text), want, "{text:?}");
        }
        assert!(parse_java_double("NaN").is_some_and(f64::is_nan));
    }

    #[test]
    fn double_order_is_javas_total_order() {
        assert_eq!(java_double_cmp(f64::NAN, f64::NAN), Ordering::Equal);
        assert_eq!(java_double_cmp(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(java_double_cmp(-0.0, 0.0), Ordering::Less);
        assert_eq!(java_double_cmp(1.0, 2.0), Ordering::Less);
    }

    #[test]
    fn mixed_type_comparisons() {
        use Scalar::*;
        assert_eq!(java_compare(Str("10"), Int(9)), Ok(Ordering::Greater));
        assert_eq!(
            java_compare(Str("10.0"), Int(10)),
            Err(EvalFailure::NotANumber(NumberKind::Integer))
        );
        assert_eq!(
            java_compare(Str("3000000000"), Int(1)),
            Err(EvalFailure::NotANumber(NumberKind::Integer))
        );
        assert_eq!(
            java_compare(Str("3000000000"), Long(3_000_000_000)),
            Ok(Ordering::Equal)
        );
        assert_eq!(java_compare(Int(10), Double(10.0)), Ok(Ordering::Equal));
        assert_eq!(java_compare(Str("TrUe"), Bool(true)), Ok(Ordering::Equal));
        assert_eq!(java_compare(Str("yes"), Bool(false)), Ok(Ordering::Equal));
        assert_eq!(
            java_compare(Bool(true), Str("true")),
            Err(EvalFailure::BooleanVersusString)
        );
        assert_eq!(java_compare(Int(1), Bool(true)), Ok(Ordering::Less));
    }
}
