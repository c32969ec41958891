//! What a pull is allowed to see: tag subscriptions (hash codes checked on
//! the consume-queue entry) and SQL92 expressions (checked on the stored
//! message's properties).

use protocol::message::hash::java_string_hash;

use crate::error::BrokerError;

/// A compiled subscription.
#[derive(Clone)]
pub enum Filter {
    /// `*` or empty: everything.
    All,
    /// `a || b`: entries whose tag hash is one of these.
    Tags(Vec<i32>),
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
            Filter::All => true,
            Filter::Tags(codes) => codes.binary_search(&(tag_hash as i32)).is_ok(),
        }
    }
}

/// Compiles an SQL92 expression, or names the position where it fails.
///
/// # Errors
/// [`BrokerError::SubscriptionParseFailed`] with the parser's message.
pub fn compile_sql(expression: &str) -> Result<filter::Expression, BrokerError> {
    filter::compile(expression).map_err(|e| {
        BrokerError::SubscriptionParseFailed(format!(
            "the SQL92 subscription `{expression}` does not parse: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::message::hash::tag_hash;

    #[test]
    fn tag_expressions_compile() {
        assert!(matches!(Filter::tags("*"), Filter::All));
        assert!(matches!(Filter::tags(" "), Filter::All));
        let f = Filter::tags("TagA || TagB");
        assert!(f.accepts_hash(tag_hash("TagA")));
        assert!(f.accepts_hash(tag_hash("TagB")));
        assert!(!f.accepts_hash(tag_hash("TagC")));
        assert!(!f.accepts_hash(0), "untagged messages reach only * subscribers");
        assert!(Filter::All.accepts_hash(0));
    }
}
