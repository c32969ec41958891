#![no_main]
//! Arbitrary UTF-8 as a SQL92 selector: compiling must never panic, and what
//! compiles must evaluate without panicking and print canonical text that
//! compiles back to the same expression.
use libfuzzer_sys::fuzz_target;

const PROPS: &[(&str, &str)] = &[
    ("a", "10"),
    ("b", "x"),
    ("f", "2.5"),
    ("t", "true"),
    ("TAGS", "TagA"),
    ("big", "3000000000"),
    ("nan", "NaN"),
    ("empty", ""),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = filter::compile(text) {
        let _ = expr.try_evaluate(PROPS);
        let _ = expr.matches(&PROPS[..0]);
        let _ = expr.referenced_properties();
        let canonical = expr.to_string();
        let again = filter::compile(&canonical);
        assert_eq!(
            again.as_ref().ok(),
            Some(&expr),
            "canonical text {canonical:?} of {text:?}"
        );
    }
});
