//! The crate's one error type.

use std::fmt;

/// Why an expression did not compile, or why evaluating it failed.
///
/// Compile errors carry a 1-based character position into the expression
/// text. Evaluation failures carry no position: they mirror the exceptions the
/// Java broker catches per message, and they are reported without allocating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The text does not follow the grammar, or a literal is out of range.
    #[error("syntax error at position {position}: {message}")]
    Syntax { position: usize, message: String },
    /// The text parses but RocketMQ rejects it when building the expression,
    /// e.g. `a > 'x'`, `a = NULL`, `1 IN ('1')` or `a BETWEEN 5 AND 1`.
    #[error("invalid expression at position {position}: {message}")]
    Invalid { position: usize, message: String },
    /// The text or its parsed tree is bigger than a broker evaluates per
    /// message (evaluating it for every message scanned would take the CPU).
    #[error("the expression has {size} {what}; the limit is {limit}")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// Evaluating against one message's properties failed; the message does
    /// not match (the Java broker logs the exception and skips the message).
    #[error("evaluation failed: {0}")]
    Evaluation(EvalFailure),
}

impl FilterError {
    /// The 1-based character position of a compile error (None for evaluation failures).
    pub fn position(&self) -> Option<usize> {
        match self {
            FilterError::Syntax { position, .. } | FilterError::Invalid { position, .. } => {
                Some(*position)
            }
            FilterError::Evaluation(_) | FilterError::TooLarge { .. } => None,
        }
    }
}

/// The numeric type a property string had to be converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// Java `Integer` (literals that fit 32 bits, with or without `L`).
    Integer,
    /// Java `Long` (integer literals beyond 32 bits).
    Long,
    /// Java `Double` (literals with a fraction or an exponent).
    Double,
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberKind::Integer => "Integer",
            NumberKind::Long => "Long",
            NumberKind::Double => "Double",
        })
    }
}

/// Why evaluating an expression against one message failed (the cases where
/// the Java evaluator throws instead of returning NULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvalFailure {
    /// A string compared with a numeric operand does not parse as that type.
    NotANumber(NumberKind),
    /// `>`, `>=`, `<`, `<=` between two strings that are not both numbers.
    UnorderedStrings,
    /// A boolean on the left of `=` compared with a string on the right.
    BooleanVersusString,
}

impl fmt::Display for EvalFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalFailure::NotANumber(kind) => {
                write!(f, "a string compared with a number is not a valid {kind}")
            }
            EvalFailure::UnorderedStrings => {
                f.write_str("'>', '>=', '<', '<=' between two strings need both to parse as Double")
            }
            EvalFailure::BooleanVersusString => {
                f.write_str("a boolean on the left of '=' cannot be compared with a string")
            }
        }
    }
}
