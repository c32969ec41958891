#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests: random selectors are printed as SQL text, compiled, and
//! evaluated both by the crate and by a small independent model of the Java
//! semantics written here; the canonical text must also round-trip.

use std::collections::HashMap;

use filter::{compile, Tristate};
use proptest::prelude::*;

const NAMES: &[&str] = &["p0", "p1", "p2", "TAGS"];
const VALUES: &[&str] = &[
    "1",
    "2",
    "10",
    "-3",
    "x",
    "true",
    "FALSE",
    "2.5",
    "",
    "3000000000",
    "NaN",
    " 7",
    "it's",
    "1e1",
];
const INTS: &[i64] = &[0, 1, 2, 3, 7, 10, 3_000_000_000];
const DOUBLES: &[f64] = &[0.5, 1.0, 2.5, 10.0, 3e9, 1e-3];
const STRS: &[&str] = &["1", "2", "x", "true", "2.5", "", "it's", "10"];

#[derive(Debug, Clone)]
enum Val {
    Prop(&'static str),
    Int(i64),
    Dbl(f64),
    Str(&'static str),
    /// Only generated as the right operand of `=` / `<>`.
    BoolLit(bool),
    Neg(Box<Val>),
    /// A boolean expression used as a value (never a constant or a bare property).
    Cond(Box<B>),
}

#[derive(Debug, Clone, Copy)]
enum Ord4 {
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy)]
enum TextKind {
    Contains,
    Starts,
    Ends,
}

#[derive(Debug, Clone)]
enum B {
    Const(Option<bool>),
    Bare(&'static str),
    Not(Box<B>),
    And(Box<B>, Box<B>),
    Or(Box<B>, Box<B>),
    Eq(Val, Val, bool),
    Cmp(Ord4, Val, Val),
    Between(Val, Val, Val, bool),
    In(&'static str, Vec<&'static str>, bool),
    IsNull(Val, bool),
    Text(Val, TextKind, &'static str, bool),
}

// ---------------------------------------------------------------- the model

#[derive(Debug, Clone, PartialEq)]
enum Rv {
    Null,
    B(bool),
    I(i32),
    L(i64),
    D(f64),
    S(String),
}

/// Java failures (exceptions) are `Err(())`.
type R<T> = Result<T, ()>;

fn model_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    match t {
        "NaN" | "+NaN" | "-NaN" => return Some(f64::NAN),
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let plain = t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    let has_digit = t.chars().any(|c| c.is_ascii_digit());
    if plain && has_digit {
        t.parse().ok()
    } else {
        None
    }
}

fn dcmp(a: f64, b: f64) -> i32 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => -1,
        _ => {
            if a < b {
                -1
            } else if a > b {
                1
            } else {
                0
            }
        }
    }
}

fn sign<T: PartialOrd>(a: T, b: T) -> i32 {
    if a < b {
        -1
    } else if a > b {
        1
    } else {
        0
    }
}

fn as_f64(v: &Rv) -> Option<f64> {
    match v {
        Rv::I(i) => Some(f64::from(*i)),
        Rv::L(l) => Some(*l as f64),
        Rv::D(d) => Some(*d),
        _ => None,
    }
}

/// Converts a string to the numeric type of `like`.
fn convert(s: &str, like: &Rv) -> R<Rv> {
    match like {
        Rv::I(_) => s.parse().map(Rv::I).map_err(|_| ()),
        Rv::L(_) => s.parse().map(Rv::L).map_err(|_| ()),
        _ => model_double(s).map(Rv::D).ok_or(()),
    }
}

fn jcmp(l: &Rv, r: &Rv) -> R<i32> {
    let numeric = |v: &Rv| matches!(v, Rv::I(_) | Rv::L(_) | Rv::D(_));
    match (l, r) {
        (Rv::S(s), n) if numeric(n) => jcmp(&convert(s, n)?, n),
        (n, Rv::S(s)) if numeric(n) => jcmp(n, &convert(s, n)?),
        (Rv::I(a), Rv::I(b)) => Ok(sign(a, b)),
        (a, b) if numeric(a) && numeric(b) => {
            if matches!(a, Rv::D(_)) || matches!(b, Rv::D(_)) {
                Ok(dcmp(as_f64(a).unwrap(), as_f64(b).unwrap()))
            } else {
                let wide = |v: &Rv| match v {
                    Rv::I(i) => i64::from(*i),
                    Rv::L(l) => *l,
                    _ => unreachable!(),
                };
                Ok(sign(wide(a), wide(b)))
            }
        }
        (Rv::S(a), Rv::S(b)) => Ok(i32::from(a != b)),
        (Rv::B(a), Rv::B(b)) => Ok(sign(a, b)),
        (Rv::S(a), Rv::B(b)) => Ok(sign(&a.eq_ignore_ascii_case("true"), b)),
        (Rv::B(_), Rv::S(_)) => Err(()),
        _ => Ok(-1),
    }
}

struct Model<'a> {
    props: &'a HashMap<&'static str, &'static str>,
}

impl Model<'_> {
    fn val(&self, v: &Val) -> R<Rv> {
        Ok(match v {
            Val::Prop(p) => self
                .props
                .get(p)
                .map_or(Rv::Null, |s| Rv::S((*s).to_owned())),
            Val::Int(i) => i32::try_from(*i).map_or(Rv::L(*i), Rv::I),
            Val::Dbl(d) => Rv::D(*d),
            Val::Str(s) => Rv::S((*s).to_owned()),
            Val::BoolLit(b) => Rv::B(*b),
            Val::Neg(x) => match self.val(x)? {
                Rv::I(i) => Rv::I(-i),
                Rv::L(l) => Rv::L(-l),
                Rv::D(d) => Rv::D(-d),
                _ => Rv::Null,
            },
            Val::Cond(b) => self.b(b)?.map_or(Rv::Null, Rv::B),
        })
    }

    fn b(&self, e: &B) -> R<Option<bool>> {
        Ok(match e {
            B::Const(c) => *c,
            B::Bare(p) => self.props.get(p).map(|_| false),
            B::Not(x) => self.b(x)?.map(|v| !v),
            B::And(l, r) => {
                let lv = self.b(l)?;
                if lv == Some(false) {
                    return Ok(Some(false));
                }
                let rv = self.b(r)?;
                if rv == Some(false) {
                    return Ok(Some(false));
                }
                if lv.is_none() || rv.is_none() {
                    None
                } else {
                    Some(true)
                }
            }
            B::Or(l, r) => {
                let lv = self.b(l)?;
                if lv == Some(true) {
                    return Ok(Some(true));
                }
                let rv = self.b(r)?;
                if rv == Some(true) {
                    return Ok(Some(true));
                }
                if lv.is_none() || rv.is_none() {
                    None
                } else {
                    Some(false)
                }
            }
            B::Eq(l, r, ne) => {
                let (lv, rv) = (self.val(l)?, self.val(r)?);
                let eq = match (&lv, &rv) {
                    (Rv::Null, Rv::Null) => Some(true),
                    (Rv::Null, _) => None,
                    (_, Rv::Null) => Some(false),
                    _ => Some(jcmp(&lv, &rv)? == 0),
                };
                if *ne {
                    eq.map(|v| !v)
                } else {
                    eq
                }
            }
            B::Cmp(op, l, r) => self.order(*op, l, r)?,
            B::Between(v, lo, hi, not) => {
                let (a, b) = if *not {
                    (
                        B::Cmp(Ord4::Lt, v.clone(), lo.clone()),
                        B::Cmp(Ord4::Gt, v.clone(), hi.clone()),
                    )
                } else {
                    (
                        B::Cmp(Ord4::Ge, v.clone(), lo.clone()),
                        B::Cmp(Ord4::Le, v.clone(), hi.clone()),
                    )
                };
                let joined = if *not {
                    B::Or(Box::new(a), Box::new(b))
                } else {
                    B::And(Box::new(a), Box::new(b))
                };
                self.b(&joined)?
            }
            B::In(p, list, not) => self.props.get(p).map(|s| list.contains(s) != *not),
            B::IsNull(v, not) => Some((self.val(v)? == Rv::Null) != *not),
            B::Text(v, kind, pat, not) => {
                if pat.is_empty() {
                    return Ok(Some(false));
                }
                match self.val(v)? {
                    Rv::S(s) => Some(
                        match kind {
                            TextKind::Contains => s.contains(pat),
                            TextKind::Starts => s.starts_with(pat),
                            TextKind::Ends => s.ends_with(pat),
                        } != *not,
                    ),
                    _ => Some(false),
                }
            }
        })
    }

    fn order(&self, op: Ord4, l: &Val, r: &Val) -> R<Option<bool>> {
        let lv = self.val(l)?;
        if lv == Rv::Null {
            return Ok(None);
        }
        let rv = self.val(r)?;
        if rv == Rv::Null {
            return Ok(None);
        }
        let c = match (&lv, &rv) {
            (Rv::S(a), Rv::S(b)) => match (model_double(a), model_double(b)) {
                (Some(x), Some(y)) => dcmp(x, y),
                _ => return Err(()),
            },
            _ => jcmp(&lv, &rv)?,
        };
        Ok(Some(match op {
            Ord4::Gt => c > 0,
            Ord4::Ge => c >= 0,
            Ord4::Lt => c < 0,
            Ord4::Le => c <= 0,
        }))
    }
}

// ------------------------------------------------------------- the printer

/// Prints SQL with varying keyword case and token separators.
struct Printer {
    seed: u64,
    out: String,
}

impl Printer {
    fn roll(&mut self, n: u64) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.seed >> 33) % n
    }

    fn sep(&mut self) {
        let s = [" ", "  ", "\t", " /* c */ ", "\n", " -- note\n"][self.roll(6) as usize];
        self.out.push_str(s);
    }

    fn kw(&mut self, word: &str) {
        self.sep();
        let w = match self.roll(3) {
            0 => word.to_uppercase(),
            1 => word.to_lowercase(),
            _ => word
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect(),
        };
        self.out.push_str(&w);
        self.sep();
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn quoted(&mut self, s: &str) {
        self.out.push('\'');
        self.out.push_str(&s.replace('\'', "''"));
        self.out.push('\'');
    }

    fn val(&mut self, v: &Val) {
        match v {
            Val::Prop(p) => self.raw(p),
            Val::Int(i) => {
                // The grammar has no "0L": "0" is a token of its own.
                let suffix = if *i != 0 && self.roll(4) == 0 {
                    "L"
                } else {
                    ""
                };
                self.raw(&format!("{i}{suffix}"));
            }
            Val::Dbl(d) => self.raw(&format!("{d:e}")),
            Val::Str(s) => self.quoted(s),
            Val::BoolLit(b) => self.kw(if *b { "TRUE" } else { "FALSE" }),
            Val::Neg(x) => {
                self.raw("(- ");
                self.val(x);
                self.raw(")");
            }
            Val::Cond(b) => {
                self.raw("(");
                self.b(b);
                self.raw(")");
            }
        }
    }

    fn b(&mut self, e: &B) {
        self.raw("(");
        match e {
            B::Const(c) => self.kw(match c {
                Some(true) => "TRUE",
                Some(false) => "FALSE",
                None => "NULL",
            }),
            B::Bare(p) => self.raw(p),
            B::Not(x) => {
                self.kw("NOT");
                self.b(x);
            }
            B::And(l, r) | B::Or(l, r) => {
                self.b(l);
                self.kw(if matches!(e, B::And(..)) { "AND" } else { "OR" });
                self.b(r);
            }
            B::Eq(l, r, ne) => {
                self.val(l);
                self.sep();
                self.raw(if *ne { "<>" } else { "=" });
                self.sep();
                self.val(r);
            }
            B::Cmp(op, l, r) => {
                self.val(l);
                self.raw(match op {
                    Ord4::Gt => " > ",
                    Ord4::Ge => " >= ",
                    Ord4::Lt => " < ",
                    Ord4::Le => " <= ",
                });
                self.val(r);
            }
            B::Between(v, lo, hi, not) => {
                self.val(v);
                if *not {
                    self.kw("NOT");
                }
                self.kw("BETWEEN");
                self.val(lo);
                self.kw("AND");
                self.val(hi);
            }
            B::In(p, list, not) => {
                self.raw(p);
                if *not {
                    self.kw("NOT");
                }
                self.kw("IN");
                self.raw("(");
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        self.raw(",");
                        self.sep();
                    }
                    self.quoted(s);
                }
                self.raw(")");
            }
            B::IsNull(v, not) => {
                self.val(v);
                self.kw("IS");
                if *not {
                    self.kw("NOT");
                }
                self.kw("NULL");
            }
            B::Text(v, kind, pat, not) => {
                self.val(v);
                if *not {
                    self.kw("NOT");
                }
                self.kw(match kind {
                    TextKind::Contains => "CONTAINS",
                    TextKind::Starts => "STARTSWITH",
                    TextKind::Ends => "ENDSWITH",
                });
                self.quoted(pat);
            }
        }
        self.raw(")");
    }
}

fn print(e: &B, seed: u64) -> String {
    let mut p = Printer {
        seed,
        out: String::new(),
    };
    p.b(e);
    p.out
}

// ----------------------------------------------------------- the strategies

fn leaf_val() -> BoxedStrategy<Val> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(Val::Prop),
        1 => prop::sample::select(INTS).prop_map(Val::Int),
        1 => prop::sample::select(DOUBLES).prop_map(Val::Dbl),
        1 => prop::sample::select(STRS).prop_map(Val::Str),
    ]
    .boxed()
}

/// Values that may be ordered: properties, numbers and negations.
fn ord_val(val: BoxedStrategy<Val>) -> BoxedStrategy<Val> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(Val::Prop),
        2 => prop::sample::select(INTS).prop_map(Val::Int),
        1 => prop::sample::select(DOUBLES).prop_map(Val::Dbl),
        1 => val.prop_map(|v| Val::Neg(Box::new(v))),
    ]
    .boxed()
}

fn literal_number(v: &Val) -> Option<f64> {
    match v {
        Val::Int(i) => Some(*i as f64),
        Val::Dbl(d) => Some(*d),
        _ => None,
    }
}

fn predicates(val: BoxedStrategy<Val>) -> BoxedStrategy<B> {
    let ord = ord_val(val.clone());
    let cmp_op = prop::sample::select(&[Ord4::Gt, Ord4::Ge, Ord4::Lt, Ord4::Le][..]);
    let text = prop::sample::select(&[TextKind::Contains, TextKind::Starts, TextKind::Ends][..]);
    let right = prop_oneof![
        4 => val.clone(),
        1 => any::<bool>().prop_map(Val::BoolLit),
    ];
    prop_oneof![
        (val.clone(), right, any::<bool>()).prop_map(|(l, r, ne)| B::Eq(l, r, ne)),
        (cmp_op, ord.clone(), ord.clone()).prop_map(|(op, l, r)| B::Cmp(op, l, r)),
        (ord.clone(), ord.clone(), ord, any::<bool>()).prop_map(|(v, lo, hi, not)| {
            // Keep literal bounds in order: Java rejects reversed literal bounds.
            match (literal_number(&lo), literal_number(&hi)) {
                (Some(a), Some(b)) if b < a => B::Between(v, hi, lo, not),
                _ => B::Between(v, lo, hi, not),
            }
        }),
        (
            prop::sample::select(NAMES),
            prop::collection::vec(prop::sample::select(STRS), 1..4),
            any::<bool>()
        )
            .prop_map(|(p, list, not)| B::In(p, list, not)),
        (val.clone(), any::<bool>()).prop_map(|(v, not)| B::IsNull(v, not)),
        (val, text, prop::sample::select(STRS), any::<bool>())
            .prop_map(|(v, k, pat, not)| B::Text(v, k, pat, not)),
    ]
    .boxed()
}

fn bool_expr() -> impl Strategy<Value = B> {
    let leaf = prop_oneof![
        1 => prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)].prop_map(B::Const),
        1 => prop::sample::select(NAMES).prop_map(B::Bare),
        6 => predicates(leaf_val()),
    ];
    leaf.prop_recursive(4, 48, 2, |inner| {
        // A boolean used as a value must really be one: wrap constants and
        // bare properties in NOT (in parentheses they would be literals or
        // plain property values).
        let as_value = inner.clone().prop_map(|b| match b {
            B::Const(_) | B::Bare(_) => Val::Cond(Box::new(B::Not(Box::new(b)))),
            other => Val::Cond(Box::new(other)),
        });
        let val = prop_oneof![
            4 => leaf_val(),
            1 => as_value,
            1 => leaf_val().prop_map(|v| Val::Neg(Box::new(v))),
        ]
        .boxed();
        prop_oneof![
            1 => inner.clone().prop_map(|b| B::Not(Box::new(b))),
            2 => (inner.clone(), inner.clone()).prop_map(|(l, r)| B::And(Box::new(l), Box::new(r))),
            2 => (inner.clone(), inner).prop_map(|(l, r)| B::Or(Box::new(l), Box::new(r))),
            2 => predicates(val),
        ]
    })
}

fn props() -> impl Strategy<Value = HashMap<&'static str, &'static str>> {
    prop::collection::vec(prop::option::of(prop::sample::select(VALUES)), NAMES.len()).prop_map(
        |vals| {
            NAMES
                .iter()
                .zip(vals)
                .filter_map(|(n, v)| v.map(|v| (*n, v)))
                .collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn evaluator_agrees_with_the_model(
        e in bool_expr(),
        seed in any::<u64>(),
        maps in prop::collection::vec(props(), 4),
    ) {
        let text = print(&e, seed);
        let compiled = compile(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        for map in &maps {
            let want = Model { props: map }.b(&e);
            let got = compiled.try_evaluate(map);
            match (want, got) {
                (Err(()), Err(_)) => {}
                (Ok(w), Ok(g)) => prop_assert_eq!(Tristate::from(w), g, "{} on {:?}", text, map),
                (w, g) => prop_assert!(false, "{} on {:?}: model {:?}, crate {:?}", text, map, w, g),
            }
        }
    }

    #[test]
    fn canonical_text_round_trips(e in bool_expr(), seed in any::<u64>()) {
        let compiled = compile(&print(&e, seed)).unwrap();
        let canonical = compiled.to_string();
        let again = compile(&canonical).unwrap();
        prop_assert_eq!(&again, &compiled);
        prop_assert_eq!(again.to_string(), canonical);
    }

    #[test]
    fn compile_never_panics_on_token_soup(
        words in prop::collection::vec(prop::sample::select(&[
            "a", "b", "TAGS", "1", "10L", "2.5", "1e3", "0", "'x'", "''''", "TRUE", "FALSE", "NULL",
            "NOT", "AND", "OR", "BETWEEN", "IN", "IS", "CONTAINS", "STARTSWITH", "ENDSWITH",
            "=", "<>", ">", ">=", "<", "<=", "(", ")", ",", "+", "-", "--", "\n", "/*", "*/", "'",
            "9223372036854775808", "é",
        ][..]), 0..24),
        glue in prop::sample::select(&[" ", ""][..]),
    ) {
        let text = words.join(glue);
        if let Ok(e) = compile(&text) {
            let map: HashMap<&str, &str> = [("a", "1"), ("b", "x"), ("TAGS", "t")].into();
            let _ = e.try_evaluate(&map);
            prop_assert_eq!(compile(&e.to_string()).unwrap(), e);
        }
    }

    #[test]
    fn compile_never_panics_on_any_text(text in ".{0,64}") {
        if let Ok(e) = compile(&text) {
            let _ = e.evaluate(&[("a", "1")]);
        }
    }
}
