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

/// A value-producing expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Literal(Literal),
    Property(Box<str>),
    /// Unary minus over something that is not a numeric literal (those are
    /// folded at compile time); yields NULL unless the operand is a number.
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
            Node::Literal(_) => {}
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
            Node::Property(name) => f.write_str(name),
            // The space keeps two minus signs from reading as a `--` comment.
            Node::Negate(inner) => write!(f, "(- {inner})"),
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

/// Canonical text: every compound expression in parentheses, keywords in
/// upper case. Compiling it gives back an equal expression.
impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match self {
            Cond::Const(Some(true)) => f.write_str("TRUE"),
            Cond::Const(Some(false)) => f.write_str("FALSE"),
            Cond::Const(None) => f.write_str("NULL"),
            Cond::Cast(name) => f.write_str(name),
            Cond::Not(inner) => write!(f, "(NOT {inner})"),
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
