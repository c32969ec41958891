//! A compiled selector and its evaluation results.

use std::fmt;
use std::str::FromStr;

use crate::ast::Cond;
use crate::error::FilterError;
use crate::eval::Eval;
use crate::lookup::PropertyLookup;

/// SQL's three truth values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tristate {
    True,
    False,
    /// NULL: some property the answer depends on is missing.
    Unknown,
}

impl Tristate {
    /// Only TRUE selects a message.
    pub fn is_true(self) -> bool {
        self == Tristate::True
    }
}

impl From<Option<bool>> for Tristate {
    fn from(value: Option<bool>) -> Self {
        match value {
            Some(true) => Tristate::True,
            Some(false) => Tristate::False,
            None => Tristate::Unknown,
        }
    }
}

impl From<Tristate> for Option<bool> {
    fn from(value: Tristate) -> Self {
        match value {
            Tristate::True => Some(true),
            Tristate::False => Some(false),
            Tristate::Unknown => None,
        }
    }
}

/// A compiled SQL92 selector: compile once per subscription, evaluate per
/// message from any number of threads (it is `Send + Sync`, and cheap to clone).
///
/// `Display` prints a canonical, fully parenthesized form that compiles back
/// to an equal expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    pub(crate) root: Cond,
}

impl Expression {
    /// The truth value for one message. An evaluation failure (where the Java
    /// broker catches an exception) is reported as [`Tristate::Unknown`]; use
    /// [`Expression::try_evaluate`] to tell the two apart.
    pub fn evaluate(&self, props: &dyn PropertyLookup) -> Tristate {
        self.try_evaluate(props).unwrap_or(Tristate::Unknown)
    }

    /// The truth value for one message, or why evaluation failed.
    ///
    /// # Errors
    /// [`FilterError::Evaluation`] when a property string compared with a
    /// number does not parse as that number, when `>`/`<`-style operators
    /// meet two strings that are not both numbers, or when a boolean on the
    /// left of `=` meets a string. The whole expression fails, as in Java.
    pub fn try_evaluate<P: PropertyLookup + ?Sized>(
        &self,
        props: &P,
    ) -> Result<Tristate, FilterError> {
        Eval { props }
            .cond(&self.root)
            .map(Tristate::from)
            .map_err(FilterError::Evaluation)
    }

    /// Whether the message is selected: the expression is TRUE (not FALSE,
    /// not NULL, and evaluation did not fail).
    pub fn matches<P: PropertyLookup + ?Sized>(&self, props: &P) -> bool {
        matches!(self.try_evaluate(props), Ok(Tristate::True))
    }

    /// Every property name the expression reads, sorted and deduplicated.
    pub fn referenced_properties(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.root.for_each_property(&mut |name| names.push(name));
        names.sort_unstable();
        names.dedup();
        names
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl FromStr for Expression {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::compile(s)
    }
}
