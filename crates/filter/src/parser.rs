//! Recursive-descent parser for RocketMQ's selector grammar.
//!
//! Precedence, loosest first, as in `SelectorParser.jj`: OR; AND; `=`, `<>`,
//! `IS [NOT] NULL`; `>`, `>=`, `<`, `<=`, `[NOT] BETWEEN`, `[NOT] IN`,
//! `[NOT] CONTAINS|STARTSWITH|ENDSWITH`; unary `+`, `-`, `NOT`; literals,
//! properties and parentheses. `NOT` is a unary operator and binds tighter
//! than comparisons: `NOT a = 'x'` means `(NOT a) = 'x'`.
//!
//! The checks Java's expression constructors make at parse time are made here
//! too, on the same syntactic facts ("is a literal", "is boolean"), so the
//! same texts are rejected. One deliberate difference: Java stops at the first
//! token that cannot continue the expression and ignores the rest (`a = 1 b`
//! compiles as `a = 1`); we reject such trailing text, except a final `--`
//! comment without a line break, which Java also ignores.

use std::cmp::Ordering;

use crate::ast::{CmpOp, Cond, Literal, Node, TextOp};
use crate::error::FilterError;
use crate::eval::{java_compare, Scalar};
use crate::lexer::{Keyword, Lexer, Tok, Token};

/// Deepest compiled tree accepted (an AND or OR chain counts once, however
/// long). Deeper input is rejected instead of risking the stack.
pub const MAX_DEPTH: u32 = 64;

/// Deepest nesting of parentheses and unary operators accepted. It leaves
/// room for the canonical text of every tree within [`MAX_DEPTH`], which
/// nests at most two levels more than the tree is deep.
pub const MAX_NESTING: u32 = 100;

/// A parsed operand with the facts the checks need.
#[derive(Clone)]
struct Parsed {
    node: Node,
    /// Byte offset where the operand starts, for error positions.
    start: usize,
    depth: u32,
    /// A literal as written (possibly in parentheses or after `+`); Java's
    /// `ConstantExpression`. A negated literal is not constant.
    constant: bool,
}

/// Compiles selector text into a boolean tree.
pub(crate) fn parse(src: &str) -> Result<Cond, FilterError> {
    let mut p = Parser {
        lx: Lexer::new(src),
        nesting: 0,
    };
    let top = p.expr("")?;
    let (tok, start) = p.peek()?;
    if tok != Tok::Eof && !(tok == Tok::Minus && p.lx.is_trailing_line_comment(start)) {
        return Err(p.lx.syntax_error(
            start,
            format!("unexpected {} after a complete expression", tok.describe()),
        ));
    }
    Ok(p.as_cond(top)?.0)
}

struct Parser<'s> {
    lx: Lexer<'s>,
    nesting: u32,
}

fn describe(node: &Node) -> String {
    match node {
        Node::Literal(Literal::Str(s)) => format!("string literal '{}'", s.replace('\'', "''")),
        Node::Literal(lit) => format!("number {lit}"),
        Node::Negated(_) => format!("number {node}"),
        Node::Property(name) => format!("property {name}"),
        Node::Negate(_) => "a negated value".to_owned(),
        Node::Cond(c) => match **c {
            Cond::Const(_) => c.to_string(),
            _ => "a boolean expression".to_owned(),
        },
    }
}

fn is_const(node: &Node, value: Option<bool>) -> bool {
    matches!(node, Node::Cond(c) if **c == Cond::Const(value))
}

fn is_bool_const(node: &Node) -> bool {
    is_const(node, Some(true)) || is_const(node, Some(false))
}

fn cond_node(c: Cond) -> Node {
    Node::Cond(Box::new(c))
}

impl<'s> Parser<'s> {
    fn peek(&mut self) -> Result<(Tok<'s>, usize), FilterError> {
        let token = self.lx.peek()?;
        Ok((token.tok.clone(), token.start))
    }

    /// "expected X, found Y". Error formatting is kept out of line so the
    /// frames of the recursive descent stay small.
    #[cold]
    #[inline(never)]
    fn expected(&self, start: usize, what: &str, found: &Tok<'_>) -> FilterError {
        self.lx.syntax_error(
            start,
            format!("expected {what}, found {}", found.describe()),
        )
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, start: usize, what: &str, limit: u32) -> FilterError {
        self.lx
            .syntax_error(start, format!("{what} nest more than {limit} levels deep"))
    }

    #[cold]
    #[inline(never)]
    fn invalid(&self, byte: usize, message: String) -> FilterError {
        FilterError::Invalid {
            position: self.lx.position(byte),
            message,
        }
    }

    fn finish(
        &self,
        node: Node,
        start: usize,
        depth: u32,
        constant: bool,
    ) -> Result<Parsed, FilterError> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(start, "expression trees", MAX_DEPTH));
        }
        Ok(Parsed {
            node,
            start,
            depth,
            constant,
        })
    }

    /// Consumes the next token, which must satisfy `want`.
    fn expect(&mut self, want: fn(&Tok<'_>) -> bool, what: &str) -> Result<(), FilterError> {
        let token = self.lx.next_token()?;
        if want(&token.tok) {
            return Ok(());
        }
        Err(self.expected(token.start, what, &token.tok))
    }

    fn string_literal(&mut self, what: &str) -> Result<Box<str>, FilterError> {
        let token = self.lx.next_token()?;
        match token.tok {
            Tok::Str(s) => Ok(s.into_boxed_str()),
            other => Err(self.expected(token.start, what, &other)),
        }
    }

    /// Java's `asBooleanExpression`: boolean expressions pass, a bare
    /// property becomes a boolean cast, anything else is rejected.
    fn as_cond(&self, p: Parsed) -> Result<(Cond, u32), FilterError> {
        match p.node {
            Node::Cond(c) => Ok((*c, p.depth)),
            Node::Property(name) => Ok((Cond::Cast(name), p.depth)),
            other => Err(self.invalid(
                p.start,
                format!("expected a boolean expression, found {}", describe(&other)),
            )),
        }
    }

    /// AND / OR of two operands, flattening chains of the same operator.
    #[inline(never)]
    fn logic(&self, left: Parsed, right: Parsed, or: bool) -> Result<Parsed, FilterError> {
        let start = left.start;
        let mut items = Vec::new();
        let mut child_depth = 0;
        for side in [left, right] {
            match self.as_cond(side)? {
                (Cond::Or(more), depth) if or => {
                    items.extend(more);
                    child_depth = child_depth.max(depth - 1);
                }
                (Cond::And(more), depth) if !or => {
                    items.extend(more);
                    child_depth = child_depth.max(depth - 1);
                }
                (c, depth) => {
                    items.push(c);
                    child_depth = child_depth.max(depth);
                }
            }
        }
        let c = if or {
            Cond::Or(items)
        } else {
            Cond::And(items)
        };
        self.finish(cond_node(c), start, child_depth + 1, false)
    }

    /// The OR, AND and equality levels, each left-associative, in one loop
    /// rather than one function per level, so that a parenthesis costs only
    /// three stack frames (this, [`Self::comparison`] and [`Self::unary`]).
    fn expr(&mut self, ctx: &'static str) -> Result<Parsed, FilterError> {
        let mut or_chain: Option<Parsed> = None;
        let mut and_chain: Option<Parsed> = None;
        let mut ctx = ctx;
        loop {
            let mut operand = self.comparison(ctx)?;
            loop {
                match self.peek()?.0 {
                    tok @ (Tok::Eq | Tok::Ne) => {
                        self.lx.next_token()?;
                        let negated = tok == Tok::Ne;
                        let right =
                            self.comparison(if negated { " after '<>'" } else { " after '='" })?;
                        operand = self.equal(operand, right, negated)?;
                    }
                    Tok::Kw(Keyword::Is) => operand = self.is_null(operand)?,
                    _ => break,
                }
            }
            let conjunction = match and_chain.take() {
                Some(left) => self.logic(left, operand, false)?,
                None => operand,
            };
            let next = self.peek()?.0;
            if next == Tok::Kw(Keyword::And) {
                self.lx.next_token()?;
                and_chain = Some(conjunction);
                ctx = " after AND";
                continue;
            }
            let disjunction = match or_chain.take() {
                Some(left) => self.logic(left, conjunction, true)?,
                None => conjunction,
            };
            if next != Tok::Kw(Keyword::Or) {
                return Ok(disjunction);
            }
            self.lx.next_token()?;
            or_chain = Some(disjunction);
            ctx = " after OR";
        }
    }

    /// `IS NULL` / `IS NOT NULL` after `left`.
    #[inline(never)]
    fn is_null(&mut self, left: Parsed) -> Result<Parsed, FilterError> {
        self.lx.next_token()?;
        let negated = self.peek()?.0 == Tok::Kw(Keyword::Not);
        if negated {
            self.lx.next_token()?;
        }
        let what = if negated {
            "NULL after IS NOT"
        } else {
            "NULL or NOT after IS"
        };
        self.expect(|t| *t == Tok::Kw(Keyword::Null), what)?;
        let mut c = Cond::IsNull(left.node);
        if negated {
            c = Cond::Not(Box::new(c));
        }
        let depth = left.depth + 1 + u32::from(negated);
        self.finish(cond_node(c), left.start, depth, false)
    }

    /// `=` / `<>` with Java's operand checks: no NULL literal on either side,
    /// and no TRUE/FALSE literal on the left of a non-boolean literal.
    #[inline(never)]
    fn equal(&self, left: Parsed, right: Parsed, negated: bool) -> Result<Parsed, FilterError> {
        for side in [&left, &right] {
            if side.constant && is_const(&side.node, None) {
                return Err(self.invalid(
                    side.start,
                    "NULL cannot be compared with '=' or '<>'; use IS [NOT] NULL".to_owned(),
                ));
            }
        }
        if left.constant
            && right.constant
            && is_bool_const(&left.node)
            && !is_bool_const(&right.node)
        {
            return Err(self.invalid(
                right.start,
                format!(
                    "{} cannot be compared with {}",
                    describe(&left.node),
                    describe(&right.node)
                ),
            ));
        }
        let depth = left.depth.max(right.depth) + 1 + u32::from(negated);
        let mut c = Cond::Equal(left.node, right.node);
        if negated {
            c = Cond::Not(Box::new(c));
        }
        self.finish(cond_node(c), left.start, depth, false)
    }

    fn comparison(&mut self, ctx: &'static str) -> Result<Parsed, FilterError> {
        let mut left = self.unary(ctx)?;
        loop {
            let (tok, _) = self.peek()?;
            if let Some(op) = cmp_op(&tok) {
                self.lx.next_token()?;
                let right = self.unary(op.context())?;
                left = self.compare(op, left, right)?;
            } else if let Some(suffix) = suffix(&tok) {
                self.lx.next_token()?;
                left = self.suffix(left, suffix, false)?;
            } else if tok == Tok::Kw(Keyword::Not) {
                self.lx.next_token()?;
                let token = self.lx.next_token()?;
                let Some(suffix) = suffix(&token.tok) else {
                    return Err(self.expected(
                        token.start,
                        "BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT",
                        &token.tok,
                    ));
                };
                left = self.suffix(left, suffix, true)?;
            } else {
                return Ok(left);
            }
        }
    }

    fn suffix(
        &mut self,
        left: Parsed,
        suffix: Suffix,
        negated: bool,
    ) -> Result<Parsed, FilterError> {
        match suffix {
            Suffix::Between => self.between(left, negated),
            Suffix::In => self.in_list(left, negated),
            Suffix::Text(op) => self.text(left, op, negated),
        }
    }

    /// Java's `checkLessThanOperand`: literals must be numbers, and boolean
    /// expressions cannot be ordered.
    #[inline(never)]
    fn check_orderable(&self, p: &Parsed, op: CmpOp) -> Result<(), FilterError> {
        let numeric = matches!(
            p.node,
            Node::Literal(Literal::Int(_) | Literal::Long(_) | Literal::Double(_))
        );
        if (p.constant && !numeric) || (!p.constant && matches!(p.node, Node::Cond(_))) {
            return Err(self.invalid(
                p.start,
                format!(
                    "{} cannot be compared with '{}': only numbers and properties can",
                    describe(&p.node),
                    op.symbol()
                ),
            ));
        }
        Ok(())
    }

    #[inline(never)]
    fn compare(&self, op: CmpOp, left: Parsed, right: Parsed) -> Result<Parsed, FilterError> {
        self.check_orderable(&left, op)?;
        self.check_orderable(&right, op)?;
        let depth = left.depth.max(right.depth) + 1;
        let c = Cond::Compare(op, left.node, right.node);
        self.finish(cond_node(c), left.start, depth, false)
    }

    /// `BETWEEN lo AND hi` is `>= lo AND <= hi`; `NOT BETWEEN` is `< lo OR > hi`.
    fn between(&mut self, value: Parsed, negated: bool) -> Result<Parsed, FilterError> {
        let low = self.unary(" after BETWEEN")?;
        self.expect(
            |t| *t == Tok::Kw(Keyword::And),
            "AND between the BETWEEN bounds",
        )?;
        let high = self.unary(" after AND in BETWEEN")?;
        if !negated && low.constant && high.constant {
            // Java checks the order only of two plain literals (a negated
            // bound is not a literal there), and only for BETWEEN.
            if let (Node::Literal(lo), Node::Literal(hi)) = (&low.node, &high.node) {
                let numbers = !matches!(lo, Literal::Str(_)) && !matches!(hi, Literal::Str(_));
                if numbers && java_compare(Scalar::of(hi), Scalar::of(lo)) == Ok(Ordering::Less) {
                    return Err(self.invalid(
                        low.start,
                        format!("BETWEEN bounds are reversed: {lo} is greater than {hi}"),
                    ));
                }
            }
        }
        let (low_op, high_op) = if negated {
            (CmpOp::Lt, CmpOp::Gt)
        } else {
            (CmpOp::Ge, CmpOp::Le)
        };
        let first = self.compare(low_op, value.clone(), low)?;
        let second = self.compare(high_op, value, high)?;
        self.logic(first, second, negated)
    }

    #[inline(never)]
    fn in_list(&mut self, left: Parsed, negated: bool) -> Result<Parsed, FilterError> {
        self.expect(|t| *t == Tok::LParen, "'(' after IN")?;
        let mut values = vec![self.string_literal("a string literal in the IN list")?];
        loop {
            let token = self.lx.next_token()?;
            match token.tok {
                Tok::Comma => values.push(self.string_literal("a string literal after ','")?),
                Tok::RParen => break,
                other => {
                    return Err(self.expected(token.start, "',' or ')' in the IN list", &other))
                }
            }
        }
        let Node::Property(property) = left.node else {
            return Err(self.invalid(
                left.start,
                format!(
                    "IN needs a property on its left, found {}",
                    describe(&left.node)
                ),
            ));
        };
        values.sort_unstable();
        values.dedup();
        let c = Cond::In {
            property,
            values,
            negated,
        };
        self.finish(cond_node(c), left.start, left.depth + 1, false)
    }

    #[inline(never)]
    fn text(&mut self, left: Parsed, op: TextOp, negated: bool) -> Result<Parsed, FilterError> {
        let pattern = self.string_literal(&format!("a string literal after {}", op.keyword()))?;
        let c = Cond::Text {
            op,
            negated,
            operand: left.node,
            pattern,
        };
        self.finish(cond_node(c), left.start, left.depth + 1, false)
    }

    /// Unary operators, parentheses and leaves. The nesting count is not
    /// restored on errors: any error ends the parse.
    fn unary(&mut self, ctx: &'static str) -> Result<Parsed, FilterError> {
        self.nesting += 1;
        let token = self.lx.next_token()?;
        let start = token.start;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(start, "parentheses and unary operators", MAX_NESTING));
        }
        let parsed = match token.tok {
            // Java's unary plus returns its operand itself, literal-ness included.
            Tok::Plus => self.unary(" after '+'")?,
            Tok::Minus => {
                let inner = self.unary(" after '-'")?;
                self.negate(inner, start)?
            }
            Tok::Kw(Keyword::Not) => {
                let inner = self.unary(" after NOT")?;
                self.not(inner, start)?
            }
            Tok::LParen => {
                let inner = self.expr(" after '('")?;
                self.close_paren(start)?;
                inner
            }
            _ => self.leaf(token, ctx)?,
        };
        self.nesting -= 1;
        Ok(parsed)
    }

    #[inline(never)]
    fn not(&self, inner: Parsed, start: usize) -> Result<Parsed, FilterError> {
        let (c, depth) = self.as_cond(inner)?;
        self.finish(cond_node(Cond::Not(Box::new(c))), start, depth + 1, false)
    }

    #[inline(never)]
    fn close_paren(&mut self, open: usize) -> Result<(), FilterError> {
        let close = self.lx.next_token()?;
        if close.tok == Tok::RParen {
            return Ok(());
        }
        let what = format!(
            "')' to close the '(' at position {}",
            self.lx.position(open)
        );
        Err(self.expected(close.start, &what, &close.tok))
    }

    /// Folds the sign into numeric literals (the result is no longer a
    /// literal for the checks, as in Java); anything else negates at run time.
    #[inline(never)]
    fn negate(&self, inner: Parsed, start: usize) -> Result<Parsed, FilterError> {
        let folded = match &inner.node {
            Node::Literal(lit) | Node::Negated(lit) => lit.negated(),
            _ => None,
        };
        let (node, depth) = match folded {
            Some(lit) => (Node::Negated(lit), inner.depth),
            None => (Node::Negate(Box::new(inner.node)), inner.depth + 1),
        };
        self.finish(node, start, depth, false)
    }

    /// A literal or a property.
    #[inline(never)]
    fn leaf(&self, token: Token<'s>, ctx: &'static str) -> Result<Parsed, FilterError> {
        let start = token.start;
        let leaf = |node, constant| Parsed {
            node,
            start,
            depth: 1,
            constant,
        };
        Ok(match token.tok {
            Tok::Str(s) => leaf(Node::Literal(Literal::Str(s.into_boxed_str())), true),
            Tok::Int(text) => leaf(Node::Literal(self.integer(text, start)?), true),
            Tok::Float(text) => leaf(Node::Literal(self.float(text, start)?), true),
            Tok::Kw(Keyword::True) => leaf(cond_node(Cond::Const(Some(true))), true),
            Tok::Kw(Keyword::False) => leaf(cond_node(Cond::Const(Some(false))), true),
            Tok::Kw(Keyword::Null) => leaf(cond_node(Cond::Const(None)), true),
            Tok::Ident(name) => leaf(Node::Property(name.into()), false),
            other => {
                let what = format!("an expression{ctx}");
                return Err(self.expected(start, &what, &other));
            }
        })
    }

    /// Java `Long` parsing, narrowed to `Integer` when it fits; an `L`
    /// suffix does not prevent the narrowing.
    fn integer(&self, text: &str, start: usize) -> Result<Literal, FilterError> {
        let digits = text.strip_suffix(['l', 'L']).unwrap_or(text);
        match digits.parse::<i64>() {
            Ok(v) => Ok(i32::try_from(v).map_or(Literal::Long(v), Literal::Int)),
            Err(_) => Err(self.lx.syntax_error(
                start,
                format!(
                    "integer literal {text} does not fit in a 64-bit Long (max {})",
                    i64::MAX
                ),
            )),
        }
    }

    /// Java's `createFloat`: the value must lie within
    /// [Double.MIN_VALUE, Double.MAX_VALUE], so `0.0` itself is rejected.
    fn float(&self, text: &str, start: usize) -> Result<Literal, FilterError> {
        let value: f64 = text.parse().map_err(|_| {
            self.lx
                .syntax_error(start, format!("malformed decimal literal {text}"))
        })?;
        if value.is_infinite() {
            return Err(self.lx.syntax_error(
                start,
                format!("decimal literal {text} is greater than the largest Double"),
            ));
        }
        if value == 0.0 {
            return Err(self.lx.syntax_error(
                start,
                format!(
                    "decimal literal {text} is less than Double.MIN_VALUE; RocketMQ rejects zero decimals (write 0)"
                ),
            ));
        }
        Ok(Literal::Double(value))
    }
}

/// What may follow an operand, optionally after NOT.
enum Suffix {
    Between,
    In,
    Text(TextOp),
}

fn suffix(tok: &Tok<'_>) -> Option<Suffix> {
    match tok {
        Tok::Kw(Keyword::Between) => Some(Suffix::Between),
        Tok::Kw(Keyword::In) => Some(Suffix::In),
        Tok::Kw(Keyword::Contains) => Some(Suffix::Text(TextOp::Contains)),
        Tok::Kw(Keyword::StartsWith) => Some(Suffix::Text(TextOp::StartsWith)),
        Tok::Kw(Keyword::EndsWith) => Some(Suffix::Text(TextOp::EndsWith)),
        _ => None,
    }
}

fn cmp_op(tok: &Tok<'_>) -> Option<CmpOp> {
    match tok {
        Tok::Gt => Some(CmpOp::Gt),
        Tok::Ge => Some(CmpOp::Ge),
        Tok::Lt => Some(CmpOp::Lt),
        Tok::Le => Some(CmpOp::Le),
        _ => None,
    }
}
