#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A table of selectors evaluated against one fixed message.

use filter::{compile, EvalFailure, FilterError, NumberKind, Tristate};

const PROPS: &[(&str, &str)] = &[
    ("a", "10"),
    ("b", "x"),
    ("s", "hello world"),
    ("TAGS", "TagA"),
    ("f", "2.5"),
    ("t", "TRUE"),
    ("big", "3000000000"),
    ("neg", "-7"),
    ("q", "it's"),
    ("nan", "NaN"),
    ("plus", "+5"),
    ("sp", " 5"),
    ("$x_1", "v"),
    ("_", "u"),
    ("uml", "ü"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Compiles; evaluates to TRUE (selected).
    T,
    /// Compiles; evaluates to FALSE.
    F,
    /// Compiles; evaluates to NULL.
    N,
    /// Compiles; evaluation fails as Java's throws (not selected).
    Fail,
    /// Syntax error at this 1-based position.
    Syntax(usize),
    /// Rejected by the expression-building checks at this position.
    Invalid(usize),
}
use Want::*;

const TABLE: &[(&str, Want)] = &[
    // Numbers against property strings.
    ("a = 10", T),
    ("a = 9", F),
    ("a > 9", T), // numerically, not '10' < '9' as strings
    ("a < 9", F),
    ("a >= 10", T),
    ("a <= 10.0", T),
    ("a <> 10", F),
    ("a <> 11", T),
    ("a = '10'", T),
    ("a = '010'", F),
    ("10 = a", T),
    ("9 < a", T),
    // Missing properties.
    ("missing = 1", N),
    ("missing > 1", N),
    ("missing <> 1", N),
    ("NOT (missing = 1)", N),
    ("missing IS NULL", T),
    ("a IS NULL", F),
    ("a IS NOT NULL", T),
    ("missing IS NOT NULL", F),
    ("'x' = missing", F), // Java: NULL only when the left side is null
    ("NOT ('x' = missing)", T),
    ("missing = other_missing", T), // two nulls are equal in Java
    // Conversion failures abort the whole expression (not NULL).
    ("b = 'x'", T),
    ("b = 1", Fail),
    ("b = 1 OR a = 10", Fail),
    ("a = 10 OR b = 1", T),
    ("a = 9 AND b = 1", F),
    ("b <> 1", Fail),
    // Three-valued logic.
    ("missing = 1 AND a = 9", F),
    ("missing = 1 AND a = 10", N),
    ("missing = 1 OR a = 10", T),
    ("missing = 1 OR a = 9", N),
    ("NULL", N),
    ("NOT NULL", N),
    ("TRUE", T),
    ("FALSE", F),
    ("NOT FALSE", T),
    // Precedence: NOT (unary) over comparisons over AND over OR.
    ("a = 10 OR a = 9 AND b = 'y'", T),
    ("(a = 10 OR a = 9) AND b = 'y'", F),
    ("NOT (a = 9) AND a = 9", F),
    ("NOT a = 9", F), // (NOT a) = 9: a boolean never equals a number
    ("NOT (a = 9)", T),
    ("NOT b = 'x'", Fail), // (NOT b) = 'x': Java throws comparing a Boolean with a String
    ("a = 9 OR NOT a = 9 OR b = 'x'", T),
    // BETWEEN is inclusive.
    ("a BETWEEN 10 AND 20", T),
    ("a BETWEEN 1 AND 10", T),
    ("a BETWEEN 11 AND 20", F),
    ("a NOT BETWEEN 11 AND 20", T),
    ("a NOT BETWEEN 10 AND 20", F),
    ("missing BETWEEN 1 AND 2", N),
    ("a BETWEEN 5 AND 1", Invalid(11)),
    ("a BETWEEN -1 AND -5", F), // negated bounds are not literals: Java skips the check
    ("a NOT BETWEEN 5 AND 1", T),
    ("f BETWEEN 2 AND 3", Fail), // '2.5' is not an Integer
    ("f BETWEEN 2.0 AND 3.0", T),
    ("a BETWEEN 'a' AND 'z'", Invalid(11)),
    ("a BETWEEN 1 OR 2", Syntax(13)),
    // IN (string lists only).
    ("b IN ('x', 'y')", T),
    ("b IN ('y', 'y', 'z')", F),
    ("b IN ('x', 'x')", T),
    ("b NOT IN ('x')", F),
    ("b NOT IN ('y', 'y')", T),
    ("missing IN ('x')", N),
    ("missing NOT IN ('x')", N),
    ("a IN ('10')", T),
    ("a IN (10)", Syntax(7)),
    ("'x' IN ('x')", Invalid(1)),
    ("b IN ()", Syntax(7)),
    ("b IN ('x' 'y')", Syntax(11)),
    // Quotes.
    ("q = 'it''s'", T),
    ("'it''s' = q", T),
    ("q = 'it's'", Syntax(9)),
    ("b = 'x", Syntax(5)),
    ("q = ''''", F),
    // Comments.
    ("a = 10 -- trailing note", T),
    ("/* lead */ a /* mid */ = 10", T),
    ("a = -- comment\n 10", T),
    ("a = 10 /* never closed", Syntax(8)),
    ("a > --5", T),           // no line break: two minus signs, a > 5
    ("a > --5\n", Syntax(9)), // a line comment swallows the 5
    // Case-insensitive keywords.
    ("b in ('x') aNd a BeTwEeN 1 aNd 10", T),
    ("a is not null", T),
    ("true", T),
    ("s contains 'world' and s startsWith 'hello'", T),
    // Integer literals: L suffix, Long range, overflow.
    ("a = 10L", T),
    ("a = 10l", T),
    ("big = 3000000000", T),
    ("big = 3000000000L", T),
    ("big > 1", Fail), // Integer literal: '3000000000' does not parse as Integer
    ("big > 1.0", T),
    ("big = 3.0E9", T),
    ("a = 9223372036854775807", F),
    ("a = 9223372036854775808", Syntax(5)),
    ("a = -9223372036854775808", Syntax(6)),
    ("a = 10L0", Syntax(8)),
    ("007 = a", Syntax(2)),
    // Decimals and exponents.
    ("f = 2.5", T),
    ("f > 2", Fail),
    ("f > 2.4", T),
    ("a = 10.0", T),
    ("f = .25E1", T),
    ("f < 25e-1", F),
    ("a = 1e1", T),
    ("a = 1E+1", T),
    ("a = 1.e1", T),
    ("a = 10.", T),
    ("a > 0.0", Syntax(5)), // Java rejects decimals below Double.MIN_VALUE, zero included
    ("a > 1e-400", Syntax(5)),
    ("a = 1e400", Syntax(5)),
    ("nan > 1.0", T), // Java's Double order puts NaN above everything
    ("sp = 5", Fail), // Integer.valueOf does not trim
    ("sp = 5.0", T),  // Double.valueOf does
    ("plus = 5", T),
    // Unary minus and plus.
    ("neg = -7", T),
    ("neg < -6", T),
    ("neg > -7.5", T),
    ("- -7 = 7", T),
    ("-a = -10", N), // negating a string yields NULL
    ("a = -(-10)", T),
    ("neg = - - -7", T),
    ("f = - - 2.5", T),
    ("big = - -3000000000", T),
    ("a > -2147483648", T), // 2147483648 is a Long literal; negated it stays a Long
    ("+a = 10", T),
    ("a = +10", T),
    ("a = -'x'", F), // compiles: a negation is no literal
    ("TRUE = -1", F),
    ("TRUE = --1", F), // two minus signs: still no literal, so no compile error
    ("TRUE = - -1", F),
    ("TRUE = 1", Invalid(8)),
    // The TAGS property.
    ("TAGS = 'TagA'", T),
    ("TAGS IN ('TagA', 'TagB')", T),
    ("TAGS IS NULL", F),
    ("TAGS <> 'TagA'", F),
    ("TAGS = 'taga'", F),
    // Empty input and trailing garbage.
    ("", Syntax(1)),
    ("   ", Syntax(4)),
    ("-- only a comment\n", Syntax(19)),
    ("/* */", Syntax(6)),
    ("a = 10 b", Syntax(8)),
    ("a = 10)", Syntax(7)),
    ("(a = 10", Syntax(8)),
    ("a = 10 AND", Syntax(11)),
    ("a = 10 10", Syntax(8)),
    ("a NOT b", Syntax(7)),
    ("a IS 5", Syntax(6)),
    ("a == 10", Syntax(4)),
    ("a != 10", Syntax(3)),
    ("1a = 1", Syntax(2)),
    ("a = 10 OR", Syntax(10)),
    ("ü = 1", Syntax(1)),
    // Operand checks made while building the expression.
    ("a > 'x'", Invalid(5)),
    ("'x' < a", Invalid(1)),
    ("a = NULL", Invalid(5)),
    ("NULL = a", Invalid(1)),
    ("NULL IS NULL", T),
    ("TRUE = 1", Invalid(8)),
    ("1 = TRUE", F),
    ("a > TRUE", Invalid(5)),
    ("(a = 1) > 1", Invalid(2)),
    ("5", Invalid(1)),
    ("'x'", Invalid(1)),
    ("a = 1 AND 5", Invalid(11)),
    ("NOT 5", Invalid(5)),
    ("s CONTAINS 1", Syntax(12)),
    // A bare property is a boolean cast: FALSE when present (it is a string).
    ("a", F),
    ("NOT a", T),
    ("missing", N),
    ("NOT missing", N),
    // Booleans against property strings (Java's Boolean.valueOf).
    ("t = TRUE", T),
    ("t = FALSE", F),
    ("b = FALSE", T),
    ("missing = TRUE", N),
    ("TRUE = t", Fail),
    ("(a = 10) = TRUE", T),
    ("(a = 10) <> FALSE", T),
    // Ordering two strings: both must parse as Double.
    ("a > f", T),
    ("b > a", Fail),
    ("a = a", T),
    // String matching.
    ("s CONTAINS 'lo w'", T),
    ("s NOT CONTAINS 'xyz'", T),
    ("s STARTSWITH 'hell'", T),
    ("s ENDSWITH 'world'", T),
    ("s NOT STARTSWITH 'hell'", F),
    ("s NOT ENDSWITH 'hello'", T),
    ("s CONTAINS ''", F),
    ("s NOT CONTAINS ''", F),
    ("missing CONTAINS 'x'", F),
    ("missing NOT CONTAINS 'x'", F),
    ("NOT (missing CONTAINS 'x')", T),
    ("'abc' CONTAINS 'b'", T),
    ("uml ENDSWITH 'ü'", T),
    // Identifiers and whitespace.
    ("$x_1 = 'v' AND _ = 'u'", T),
    ("a\t=\r\n10\u{c}", T),
];

fn classify(expr: &str) -> Want {
    match compile(expr) {
        Err(FilterError::Syntax { position, .. }) => Syntax(position),
        Err(FilterError::Invalid { position, .. }) => Invalid(position),
        Err(other) => panic!("compile returned {other:?}"),
        Ok(e) => match e.try_evaluate(PROPS) {
            Ok(Tristate::True) => T,
            Ok(Tristate::False) => F,
            Ok(Tristate::Unknown) => N,
            Err(_) => Fail,
        },
    }
}

#[test]
fn the_table() {
    assert!(TABLE.len() >= 60);
    let failures: Vec<String> = TABLE
        .iter()
        .filter_map(|&(expr, want)| {
            let got = classify(expr);
            (got != want).then(|| format!("{expr:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn matches_only_on_true() {
    for &(expr, want) in TABLE {
        if let Ok(e) = compile(expr) {
            assert_eq!(e.matches(PROPS), want == T, "{expr}");
            let dynamic: &dyn filter::PropertyLookup = &PROPS;
            assert_eq!(e.evaluate(dynamic).is_true(), want == T, "{expr}");
        }
    }
}

#[test]
fn canonical_text_recompiles_to_the_same_expression() {
    for &(expr, _) in TABLE {
        if let Ok(e) = compile(expr) {
            let text = e.to_string();
            let again = compile(&text).unwrap_or_else(|err| panic!("{expr} -> {text}: {err}"));
            assert_eq!(again, e, "{expr} -> {text}");
        }
    }
}

#[test]
fn error_messages_name_position_and_expectation() {
    let msg = |s: &str| compile(s).unwrap_err().to_string();
    assert_eq!(
        msg("a ="),
        "syntax error at position 4: expected an expression after '=', found end of input"
    );
    assert_eq!(
        msg(""),
        "syntax error at position 1: expected an expression, found end of input"
    );
    assert_eq!(
        msg("a = 1 b"),
        "syntax error at position 7: unexpected identifier 'b' after a complete expression"
    );
    assert_eq!(
        msg("a = 99999999999999999999"),
        "syntax error at position 5: integer literal 99999999999999999999 does not fit in a 64-bit Long (max 9223372036854775807)"
    );
    assert_eq!(
        msg("(a = 1"),
        "syntax error at position 7: expected ')' to close the '(' at position 1, found end of input"
    );
    assert_eq!(
        msg("a > 'x'"),
        "invalid expression at position 5: string literal 'x' cannot be compared with '>': only numbers and properties can"
    );
    assert_eq!(
        msg("a BETWEEN 5 AND 1"),
        "invalid expression at position 11: BETWEEN bounds are reversed: 5 is greater than 1"
    );
    assert_eq!(
        msg("s CONTAINS x"),
        "syntax error at position 12: expected a string literal after CONTAINS, found identifier 'x'"
    );
    // Positions count characters, not bytes.
    assert_eq!(compile("b = 'é' AND ?").unwrap_err().position(), Some(13));
}

#[test]
fn evaluation_failures_say_why() {
    let e = compile("b = 1").unwrap();
    assert_eq!(
        e.try_evaluate(PROPS),
        Err(FilterError::Evaluation(EvalFailure::NotANumber(
            NumberKind::Integer
        )))
    );
    assert_eq!(e.evaluate(&PROPS), Tristate::Unknown);
    let e = compile("b >= a").unwrap();
    assert_eq!(
        e.try_evaluate(PROPS),
        Err(FilterError::Evaluation(EvalFailure::UnorderedStrings))
    );
    let e = compile("TRUE = b").unwrap();
    assert_eq!(
        e.try_evaluate(PROPS),
        Err(FilterError::Evaluation(EvalFailure::BooleanVersusString))
    );
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    let limit = filter::MAX_NESTING as usize;
    // Each parenthesis and each unary operator is one level; the top is one more.
    assert!(compile(&nested(limit - 1)).unwrap().matches(&[("a", "1")]));
    assert!(compile(&nested(limit)).is_err());
    assert!(compile(&nested(100_000)).is_err());
    let nots = |n: usize| format!("{}TRUE", "NOT ".repeat(n));
    let depth = filter::MAX_DEPTH as usize;
    // NOT also deepens the tree, which allows MAX_DEPTH levels.
    assert_eq!(
        compile(&nots(depth - 1)).unwrap().evaluate(&PROPS),
        Tristate::False
    );
    assert!(compile(&nots(depth)).is_err());
    assert!(compile(&nots(100_000)).is_err());
    let minus = |n: usize| format!("a = {}'x'", "- ".repeat(n));
    // Each minus over a string is a tree level, and so is the '='.
    assert!(compile(&minus(depth - 2)).is_ok());
    assert!(compile(&minus(depth - 1)).is_err());
    assert!(compile(&minus(100_000)).is_err());
    // Negating a number folds, so only nesting limits it.
    let minus_number = |n: usize| format!("a = {}10", "- ".repeat(n));
    assert!(compile(&minus_number(limit - 1)).is_ok());
    assert!(compile(&minus_number(limit - 2)).unwrap().matches(PROPS)); // even count
    assert!(compile(&minus_number(limit)).is_err());
    // Long AND/OR chains are flat, so they are not limited by depth, only
    // by the number of terms.
    let chain = vec!["a = 10"; filter::MAX_TERMS].join(" AND ");
    assert!(compile(&chain).unwrap().matches(PROPS));
    let chain = vec!["a = 9"; filter::MAX_TERMS].join(" OR ");
    assert!(!compile(&chain).unwrap().matches(PROPS));
    let chain = vec!["a = 9"; 10_000].join(" OR ");
    assert!(matches!(
        compile(&chain),
        Err(filter::FilterError::TooLarge { .. })
    ));
    // Chains that do nest (IS NULL after IS NULL) hit the limit instead.
    let is_null = |n: usize| format!("a{}", " IS NULL".repeat(n));
    assert_eq!(
        compile(&is_null(depth - 1)).unwrap().evaluate(&PROPS),
        Tristate::False
    );
    assert!(compile(&is_null(depth)).is_err());
    assert!(compile(&is_null(10_000)).is_err());
}
