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
/// [`FilterError::Syntax`] for text outside the grammar (including an empty
/// expression, trailing tokens, unterminated strings or comments, integer
/// literals beyond 64 bits, decimal literals that are zero or infinite, and
/// nesting deeper than [`MAX_DEPTH`] or [`MAX_NESTING`]); [`FilterError::Invalid`] for texts
/// RocketMQ refuses to build, such as `a > 'x'`, `a = NULL`, `1 IN ('1')`,
/// `a BETWEEN 5 AND 1` or a non-boolean expression like `5`.
pub fn compile(expr: &str) -> Result<Expression, FilterError> {
    parser::parse(expr).map(|root| Expression { root })
}

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
}
