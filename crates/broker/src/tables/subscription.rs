//! What a pull is allowed to see: tag subscriptions (hash codes checked on
//! the consume-queue entry) and SQL92 expressions (checked on the stored
//! message's properties).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use protocol::message::hash::java_string_hash;
use protocol::message::record::DecodedRecord;
use protocol::message::{decode_record, find_property, property_pairs};

use crate::error::BrokerError;

/// A compiled subscription.
#[derive(Clone)]
pub enum Filter {
    /// `*` or empty: everything.
    All,
    /// `a || b`: entries whose tag hash is one of these.
    Tags(Vec<i32>),
    /// An SQL92 expression over the message properties (checked on the
    /// stored record, after the read).
    Sql(Arc<filter::Expression>),
}

impl Filter {
    /// Compiles a tag expression as clients send it (`*`, `a || b`).
    pub fn tags(expression: &str) -> Filter {
        let expr = expression.trim();
        if expr.is_empty() || expr == "*" {
            return Filter::All;
        }
        let mut codes: Vec<i32> = expr
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(java_string_hash)
            .collect();
        codes.sort_unstable();
        codes.dedup();
        if codes.is_empty() {
            Filter::All
        } else {
            Filter::Tags(codes)
        }
    }

    /// Whether a consume-queue entry with this tag hash may be returned.
    pub fn accepts_hash(&self, tag_hash: i64) -> bool {
        match self {
            Filter::All | Filter::Sql(_) => true,
            Filter::Tags(codes) => codes.binary_search(&(tag_hash as i32)).is_ok(),
        }
    }

    /// Whether a stored record passes (only SQL92 looks at the record; a
    /// record that does not decode is not delivered to an SQL subscriber).
    pub fn accepts_record(&self, record: &[u8]) -> bool {
        let Filter::Sql(expr) = self else {
            return true;
        };
        match decode_record(record) {
            Ok((DecodedRecord::Message(view), _)) => {
                let props = view.properties_str();
                if props.len() > INDEXED_PROPERTIES_LEN {
                    // Up to 256 references each scanning 32 KiB would cost
                    // milliseconds per message: index the pairs once.
                    let index: HashMap<&str, &str> = property_pairs(props).collect();
                    expr.matches(&index)
                } else {
                    expr.matches(&filter::lookup_fn(|name| find_property(props, name)))
                }
            }
            _ => false,
        }
    }
}

/// Properties strings longer than this are indexed before an SQL92
/// expression looks at them; shorter ones are scanned per reference.
const INDEXED_PROPERTIES_LEN: usize = 1024;

/// Compiled SQL92 expressions by text, shared by every pull (compiled once
/// per subscription, not per message or per pull).
#[derive(Default)]
pub struct SqlCache {
    compiled: Mutex<HashMap<String, Arc<filter::Expression>>>,
}

/// Distinct expressions kept; past this the cache starts over (a bound
/// against clients that send endless variations).
const SQL_CACHE_MAX: usize = 4096;

impl SqlCache {
    /// The compiled form of `expression`.
    ///
    /// # Errors
    /// [`BrokerError::SubscriptionParseFailed`] naming the position.
    pub fn get(&self, expression: &str) -> Result<Arc<filter::Expression>, BrokerError> {
        if let Some(e) = self.compiled.lock().get(expression) {
            return Ok(e.clone());
        }
        let compiled = Arc::new(compile_sql(expression)?);
        let mut map = self.compiled.lock();
        if map.len() >= SQL_CACHE_MAX {
            map.clear();
        }
        map.insert(expression.to_owned(), compiled.clone());
        Ok(compiled)
    }
}

/// Compiles an SQL92 expression, or names the position where it fails.
///
/// # Errors
/// [`BrokerError::SubscriptionParseFailed`] with the parser's message.
pub fn compile_sql(expression: &str) -> Result<filter::Expression, BrokerError> {
    filter::compile(expression).map_err(|e| {
        BrokerError::SubscriptionParseFailed(format!(
            "the SQL92 subscription `{}` does not parse: {e}",
            quote_start(expression)
        ))
    })
}

/// The start of an expression, for error remarks: an oversized one must
/// not be echoed back (or logged) whole.
fn quote_start(expression: &str) -> String {
    const SHOWN: usize = 120;
    match expression.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &expression[..cut]),
        None => expression.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::hash::tag_hash;

    #[test]
    fn an_oversized_expression_is_refused_without_being_echoed() {
        let huge = vec!["a = 1"; 50_000].join(" AND ");
        let err = compile_sql(&huge).unwrap_err().to_string();
        assert!(err.contains("the limit is"), "{err}");
        assert!(err.len() < 400, "{err}");
    }

    #[test]
    fn sql_sees_the_last_duplicate_in_short_and_long_properties() {
        let f = Filter::Sql(Arc::new(compile_sql("a = 'new' AND b = 'x'").unwrap()));
        let pad = "p".repeat(40);
        for filler in [0, 100] {
            let mut props: Vec<(String, String)> = (0..filler)
                .map(|i| (format!("k{i}"), pad.clone()))
                .collect();
            props.push(("a".into(), "old".into()));
            props.push(("b".into(), "x".into()));
            props.push(("a".into(), "new".into()));
            let pairs: Vec<(&str, &str)> = props
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let record = store::record::build_test_record("T", 0, b"m", &pairs);
            assert!(f.accepts_record(&record), "{filler} filler properties");
            let without_b: Vec<(&str, &str)> =
                pairs.iter().copied().filter(|(k, _)| *k != "b").collect();
            let record = store::record::build_test_record("T", 0, b"m", &without_b);
            assert!(!f.accepts_record(&record), "{filler} filler properties");
        }
    }

    #[test]
    fn tag_expressions_compile() {
        assert!(matches!(Filter::tags("*"), Filter::All));
        assert!(matches!(Filter::tags(" "), Filter::All));
        let f = Filter::tags("TagA || TagB");
        assert!(f.accepts_hash(tag_hash("TagA")));
        assert!(f.accepts_hash(tag_hash("TagB")));
        assert!(!f.accepts_hash(tag_hash("TagC")));
        assert!(
            !f.accepts_hash(0),
            "untagged messages reach only * subscribers"
        );
        assert!(Filter::All.accepts_hash(0));
    }
}
