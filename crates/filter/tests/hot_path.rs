#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Exercises the per-message path: one compiled selector over many messages.
//! No timing is asserted; the counts check that the work was really done.

use std::collections::HashMap;
use std::sync::Arc;

use filter::compile;

fn message(i: usize) -> HashMap<String, String> {
    let mut props = HashMap::new();
    props.insert(
        "TAGS".to_owned(),
        ["TagA", "TagB", "TagC"][i % 3].to_owned(),
    );
    props.insert("price".to_owned(), (i % 100).to_string());
    props.insert(
        "region".to_owned(),
        if i.is_multiple_of(2) {
            "eu-west"
        } else {
            "us-east"
        }
        .to_owned(),
    );
    if !i.is_multiple_of(10) {
        props.insert("vip".to_owned(), (i % 4 == 1).to_string());
    }
    props.insert("UNIQ_KEY".to_owned(), format!("{i:016X}"));
    props
}

/// What the selector below should pick, computed directly.
fn expected(i: usize) -> bool {
    let tag_ok = i % 3 != 2;
    let price_ok = (10..=20).contains(&(i % 100));
    let region_ok = i % 2 == 1;
    let vip = !i.is_multiple_of(10) && i % 4 == 1;
    tag_ok && price_ok && region_ok && vip
}

const SELECTOR: &str = "TAGS IN ('TagA', 'TagB') AND price BETWEEN 10 AND 20 \
                        AND region ENDSWITH 'east' AND vip = TRUE";

#[test]
fn selective_expression_over_ten_thousand_messages() {
    let expr = compile(SELECTOR).unwrap();
    let messages: Vec<_> = (0..10_000).map(message).collect();
    let selected: Vec<usize> = (0..10_000)
        .filter(|&i| expr.matches(&messages[i]))
        .collect();
    let want: Vec<usize> = (0..10_000).filter(|&i| expected(i)).collect();
    assert!(
        !want.is_empty() && want.len() < 1_000,
        "selective: {}",
        want.len()
    );
    assert_eq!(selected, want);
}

#[test]
fn one_expression_shared_by_many_threads() {
    let expr = Arc::new(compile("price >= 50 AND TAGS <> 'TagC'").unwrap());
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let expr = Arc::clone(&expr);
                scope.spawn(move || {
                    (t * 2500..(t + 1) * 2500)
                        .filter(|&i| expr.matches(&message(i)))
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let want = (0..10_000).filter(|&i| i % 100 >= 50 && i % 3 != 2).count();
    assert_eq!(counts.iter().sum::<usize>(), want);
}
