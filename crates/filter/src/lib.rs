//! RocketMQ's broker-side SQL92 message filter: a parser for the selector
//! language of `MessageSelector.bySql(...)` and an evaluator over message
//! properties, with the Java broker's semantics (see
//! `reference/remoting-protocol.md` §9.10).
//!
//! ```
//! let expr = filter::compile("TAGS IN ('a', 'b') AND price > 10").unwrap();
//! assert!(expr.matches(&[("TAGS", "a"), ("price", "12")]));
//! assert!(!expr.matches(&[("TAGS", "a"), ("price", "9")]));
//! assert!(!expr.matches(&[("TAGS", "a")])); // price missing: NULL, not selected
//! ```
//!
//! Semantics worth knowing (all as in RocketMQ):
//! - Property values are strings. Against a numeric literal the string is
//!   parsed as that literal's Java type: `Integer` for integer literals that
//!   fit 32 bits (an `L` suffix does not change that), `Long` beyond, `Double`
//!   for decimals. If it does not parse, evaluation fails and the message is
//!   not selected, even inside an OR.
//! - `>`, `>=`, `<`, `<=` between two properties parse both as `Double`.
//!   String literals, booleans and NULL cannot be ordered (compile error).
//! - A missing property makes a comparison NULL. `=` is NULL only when its
//!   left side is missing: `'x' = a` is FALSE when `a` is missing, and two
//!   missing properties are equal.
//! - `a = TRUE` compares `a` as Java's `Boolean.valueOf(a)`: TRUE when `a`
//!   is "true" in any case, and `a = FALSE` is TRUE for every other present
//!   value. `TRUE = a` always fails evaluation (Java throws).
//! - `CONTAINS`, `STARTSWITH`, `ENDSWITH` and their NOT forms are FALSE (not
//!   NULL) when the operand is missing or the pattern is empty.
//! - `NOT` is a unary operator: `NOT a = 'x'` is `(NOT a) = 'x'`; write
//!   `NOT (a = 'x')` or `a <> 'x'`.
//! - Only TRUE selects a message.
//!
//! This crate is pure: no I/O, no async, no dependency on other crates here.

#![forbid(unsafe_code)]

mod ast;
mod error;
mod eval;
mod expression;
mod lexer;
mod lookup;
mod parser;

pub use error::{EvalFailure, FilterError, NumberKind};
pub use expression::{Expression, Tristate};
pub use lookup::{lookup_fn, FnLookup, PropertyLookup};
pub use parser::{MAX_DEPTH, MAX_NESTING};

/// Compiles selector text.
///
/// Parsing recurses once per parenthesis or unary operator, bounded by
/// [`MAX_NESTING`]: the deepest accepted input needs about 256 KiB of stack
/// in release builds (about 1 MiB unoptimized), well within a tokio worker's.
///
/// # Errors
/// [`FilterError::TooLarge`] for text longer than [`MAX_EXPRESSION_LEN`]
/// or referring to properties more than [`MAX_TERMS`] times;
/// [`FilterError::Syntax`] for text outside the grammar (including an empty
/// expression, trailing tokens, unterminated strings or comments, integer
/// literals beyond 64 bits, decimal literals that are zero or infinite, and
/// nesting deeper than [`MAX_DEPTH`] or [`MAX_NESTING`]); [`FilterError::Invalid`] for texts
/// RocketMQ refuses to build, such as `a > 'x'`, `a = NULL`, `1 IN ('1')`,
/// `a BETWEEN 5 AND 1` or a non-boolean expression like `5`.
pub fn compile(expr: &str) -> Result<Expression, FilterError> {
    if expr.len() > MAX_EXPRESSION_LEN {
        return Err(FilterError::TooLarge {
            what: "bytes of text",
            size: expr.len(),
            limit: MAX_EXPRESSION_LEN,
        });
    }
    let root = parser::parse(expr)?;
    let mut terms = 0usize;
    root.for_each_property(&mut |_| terms += 1);
    if terms > MAX_TERMS {
        return Err(FilterError::TooLarge {
            what: "property references",
            size: terms,
            limit: MAX_TERMS,
        });
    }
    Ok(Expression { root })
}

/// The longest selector text accepted. Long `IN` lists are the legitimate
/// reason for length; they cost one binary search per message.
pub const MAX_EXPRESSION_LEN: usize = 64 * 1024;

/// The most property references a selector may make. Each is evaluated
/// for every message a pull scans (hundreds per pull), so this bounds the
/// CPU one subscription can make a pull cost.
pub const MAX_TERMS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn expression_is_shareable() {
        assert_send_sync_clone::<Expression>();
    }

    #[test]
    fn referenced_properties_are_sorted_and_unique() {
        let e = compile("b = 1 OR a IN ('x') OR (b IS NULL AND c CONTAINS 'q') OR NOT d").unwrap();
        assert_eq!(e.referenced_properties(), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn display_is_canonical_and_recompiles() {
        let e = compile("a between -5 and 1.5E3 or not (b in ('y','x''s','y')) and c is not null")
            .unwrap();
        let text = e.to_string();
        assert_eq!(
            text,
            "(((a >= -5) AND (a <= 1500.0)) OR (NOT (b IN ('x''s', 'y')) AND NOT (c IS NULL)))"
        );
        assert_eq!(compile(&text).unwrap(), e);
    }

    #[test]
    fn oversized_selectors_name_the_limit() {
        let many = vec!["a = 1"; MAX_TERMS + 1].join(" AND ");
        let err = compile(&many).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the expression has {} property references; the limit is {MAX_TERMS}",
                MAX_TERMS + 1
            )
        );
        let at_limit = vec!["a = 1"; MAX_TERMS].join(" AND ");
        assert!(compile(&at_limit).is_ok());
        let long = format!("a IN ('{}')", "x".repeat(MAX_EXPRESSION_LEN));
        let err = compile(&long).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("the limit is {MAX_EXPRESSION_LEN}")),
            "{err}"
        );
    }
}
