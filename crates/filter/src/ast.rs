//! The compiled form of a selector, and its canonical SQL text.
//!
//! Two node kinds keep the evaluator total: a [`Node`] yields a value (or
//! NULL), a [`Cond`] yields TRUE, FALSE or NULL. The parser only builds the
//! shapes RocketMQ accepts, so the evaluator never meets an ill-typed tree.

use std::cmp::Ordering;
use std::fmt;

/// A literal value operand. `TRUE`, `FALSE` and `NULL` are [`Cond::Const`]
/// because RocketMQ treats them as boolean expressions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(Box<str>),
    /// Java `Integer`: integer literals that fit 32 bits (an `L` suffix does not matter).
    Int(i32),
    /// Java `Long`: integer literals beyond 32 bits.
    Long(i64),
    /// Java `Double`: literals with a fraction or an exponent.
    Double(f64),
}

impl Literal {
    /// The number with its sign flipped (None for strings).
    pub(crate) fn negated(&self) -> Option<Literal> {
        match self {
            Literal::Str(_) => None,
            Literal::Int(i) => Some(Literal::Int(i.wrapping_neg())),
            Literal::Long(l) => Some(Literal::Long(l.wrapping_neg())),
            Literal::Double(d) => Some(Literal::Double(-d)),
        }
    }

    fn is_negative(&self) -> bool {
        match self {
            Literal::Str(_) => false,
            Literal::Int(i) => *i < 0,
            Literal::Long(l) => *l < 0,
            Literal::Double(d) => d.is_sign_negative(),
        }
    }
}

/// A value-producing expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A literal as written (never negative).
    Literal(Literal),
    /// A numeric literal under one or more unary minus signs, folded at
    /// compile time. Kept apart from [`Node::Literal`] because RocketMQ's
    /// checks do not treat it as a literal: `TRUE = -1` compiles, `TRUE = 1`
    /// does not.
    Negated(Literal),
    Property(Box<str>),
    /// Unary minus over something that is not a numeric literal; yields NULL
    /// unless the operand evaluates to a number.
    Negate(Box<Node>),
    /// A boolean expression used as a value, e.g. the left of `(a > 1) = TRUE`.
    Cond(Box<Cond>),
}

/// The ordering operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub(crate) fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
        }
    }

    /// How an error message names the place after this operator.
    pub(crate) fn context(self) -> &'static str {
        match self {
            CmpOp::Gt => " after '>'",
            CmpOp::Ge => " after '>='",
            CmpOp::Lt => " after '<'",
            CmpOp::Le => " after '<='",
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

/// The string-matching operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    pub(crate) fn holds(self, haystack: &str, needle: &str) -> bool {
        match self {
            TextOp::Contains => haystack.contains(needle),
            TextOp::StartsWith => haystack.starts_with(needle),
            TextOp::EndsWith => haystack.ends_with(needle),
        }
    }

    pub(crate) fn keyword(self) -> &'static str {
        match self {
            TextOp::Contains => "CONTAINS",
            TextOp::StartsWith => "STARTSWITH",
            TextOp::EndsWith => "ENDSWITH",
        }
    }
}

/// A boolean expression (three-valued).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// `TRUE`, `FALSE`, `NULL`.
    Const(Option<bool>),
    /// A bare property in a boolean position: NULL when missing, else FALSE
    /// (property values are strings, never Java `Boolean`s).
    Cast(Box<str>),
    Not(Box<Cond>),
    /// Flattened left-to-right chains; evaluation stops at the first FALSE
    /// (AND) or TRUE (OR), exactly like Java's nested binary nodes.
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// `=`; `<>` is `Not(Equal)` as in RocketMQ.
    Equal(Node, Node),
    /// `IS NULL`; `IS NOT NULL` is `Not(IsNull)`.
    IsNull(Node),
    Compare(CmpOp, Node, Node),
    /// `[NOT] IN`: the values are sorted and deduplicated for binary search.
    In {
        property: Box<str>,
        values: Vec<Box<str>>,
        negated: bool,
    },
    /// `[NOT] CONTAINS|STARTSWITH|ENDSWITH 'pattern'`.
    Text {
        op: TextOp,
        negated: bool,
        operand: Node,
        pattern: Box<str>,
    },
}

impl Cond {
    /// Calls `f` with every property name, in source order.
    pub(crate) fn for_each_property<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Cond::Const(_) => {}
            Cond::Cast(name) => f(name),
            Cond::Not(inner) => inner.for_each_property(f),
            Cond::And(items) | Cond::Or(items) => {
                items.iter().for_each(|c| c.for_each_property(f));
            }
            Cond::Equal(l, r) | Cond::Compare(_, l, r) => {
                l.for_each_property(f);
                r.for_each_property(f);
            }
            Cond::IsNull(n) | Cond::Text { operand: n, .. } => n.for_each_property(f),
            Cond::In { property, .. } => f(property),
        }
    }
}

impl Node {
    fn for_each_property<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Node::Literal(_) | Node::Negated(_) => {}
            Node::Property(name) => f(name),
            Node::Negate(inner) => inner.for_each_property(f),
            Node::Cond(c) => c.for_each_property(f),
        }
    }
}

/// Writes a string literal with `''` for each quote.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            f.write_str("''")?;
        }
        f.write_str(part)?;
    }
    f.write_str("'")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write_quoted(f, s),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Long(l) => write!(f, "{l}"),
            // Debug keeps a '.' or an exponent, so the text lexes as a Double again.
            Literal::Double(d) => write!(f, "{d:?}"),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Literal(lit) => lit.fmt(f),
            // Printed so that it parses back as a negation, not as a literal.
            Node::Negated(lit) => match lit.negated() {
                Some(written) if !written.is_negative() => write!(f, "-{written}"),
                _ => write!(f, "- -{lit}"),
            },
            Node::Property(name) => f.write_str(name),
            // Unary minus binds tightest, so it needs no parentheses; the
            // space keeps two minus signs from reading as a `--` comment.
            Node::Negate(inner) => write!(f, "- {inner}"),
            Node::Cond(c) => c.fmt(f),
        }
    }
}

fn write_joined(f: &mut fmt::Formatter<'_>, items: &[Cond], sep: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        fmt::Display::fmt(item, f)?;
    }
    f.write_str(")")
}

/// Canonical text: every compound expression except NOT and unary minus in
/// parentheses, keywords in upper case. Compiling it gives back an equal
/// expression, and it nests no deeper than the tree (plus two levels for a
/// doubly negated number), so it stays within the parser's nesting limit.
impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match self {
            Cond::Const(Some(true)) => f.write_str("TRUE"),
            Cond::Const(Some(false)) => f.write_str("FALSE"),
            Cond::Const(None) => f.write_str("NULL"),
            Cond::Cast(name) => f.write_str(name),
            // NOT binds tightest, so it needs no parentheses of its own.
            Cond::Not(inner) => write!(f, "NOT {inner}"),
            Cond::And(items) => write_joined(f, items, " AND "),
            Cond::Or(items) => write_joined(f, items, " OR "),
            Cond::Equal(l, r) => write!(f, "({l} = {r})"),
            Cond::IsNull(n) => write!(f, "({n} IS NULL)"),
            Cond::Compare(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            Cond::In {
                property,
                values,
                negated,
            } => {
                write!(f, "({property} {}IN (", not(*negated))?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, v)?;
                }
                f.write_str("))")
            }
            Cond::Text {
                op,
                negated,
                operand,
                pattern,
            } => {
                write!(f, "({operand} {}{} ", not(*negated), op.keyword())?;
                write_quoted(f, pattern)?;
                f.write_str(")")
            }
        }
    }
}
