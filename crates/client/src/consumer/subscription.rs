//! Subscription expressions: tag lists (`TagA || TagB`, `*`) and SQL92,
//! turned into the `SubscriptionData` a heartbeat carries and into the
//! client-side tag re-check (the broker filters by 32-bit tag hash, which
//! can collide).

use protocol::body::heartbeat::{SubscriptionData, EXPRESSION_TYPE_TAG};
use protocol::message::java_string_hash;

use crate::message::MessageExt;

/// The expression type name of SQL92 subscriptions.
pub const EXPRESSION_TYPE_SQL92: &str = "SQL92";

/// The "everything" tag expression.
pub const SUB_ALL: &str = "*";

/// What a consumer subscribes to in one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// `*` / empty for all messages, else tags separated by `||`.
    Tag(String),
    /// A SQL92 expression over message properties (broker needs
    /// `enablePropertyFilter=true`).
    Sql92(String),
}

impl Expression {
    /// The expression text as sent to the broker.
    pub fn text(&self) -> &str {
        match self {
            Expression::Tag(t) => {
                if t.trim().is_empty() {
                    SUB_ALL
                } else {
                    t.trim()
                }
            }
            Expression::Sql92(s) => s,
        }
    }

    /// `TAG` or `SQL92`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Expression::Tag(_) => EXPRESSION_TYPE_TAG,
            Expression::Sql92(_) => EXPRESSION_TYPE_SQL92,
        }
    }
}

/// Splits a tag expression into its tags: `*` or empty gives none (all
/// messages); otherwise parts split on `||`, trimmed, empty ones dropped,
/// first occurrence order kept, duplicates removed.
pub fn parse_tags(expr: &str) -> Vec<String> {
    let expr = expr.trim();
    if expr.is_empty() || expr == SUB_ALL {
        return Vec::new();
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in expr.split("||").map(str::trim).filter(|t| !t.is_empty()) {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    tags
}

/// The broker-side filter codes of tags: Java `String.hashCode()` of each.
pub fn tag_codes(tags: &[String]) -> Vec<i32> {
    tags.iter().map(|t| java_string_hash(t)).collect()
}

pub(crate) use protocol::clock::now_ms;

/// Builds the heartbeat/pull subscription of `topic`.
pub fn subscription_data(topic: &str, expr: &Expression) -> SubscriptionData {
    let (tags_set, code_set) = match expr {
        Expression::Tag(t) => {
            let tags = parse_tags(t);
            let codes = tag_codes(&tags);
            (tags, codes)
        }
        Expression::Sql92(_) => (Vec::new(), Vec::new()),
    };
    SubscriptionData {
        class_filter_mode: false,
        code_set,
        expression_type: expr.type_name().to_string(),
        sub_string: expr.text().to_string(),
        sub_version: now_ms(),
        tags_set,
        topic: topic.to_string(),
    }
}

/// Whether `msg` passes the exact tag check of `sub` (SQL92 and `*`
/// subscriptions pass everything the broker sent).
pub fn tag_matches(sub: &SubscriptionData, msg: &MessageExt) -> bool {
    if sub.expression_type == EXPRESSION_TYPE_SQL92 || sub.tags_set.is_empty() {
        return true;
    }
    msg.tags()
        .is_some_and(|tag| sub.tags_set.iter().any(|t| t == tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tag_lists() {
        assert!(parse_tags("*").is_empty());
        assert!(parse_tags("  ").is_empty());
        assert_eq!(parse_tags("TagA || TagB"), vec!["TagA", "TagB"]);
        assert_eq!(parse_tags("a||b|| ||a"), vec!["a", "b"]);
        assert_eq!(parse_tags(" one "), vec!["one"]);
    }

    #[test]
    fn code_set_is_java_hash_code() {
        // Pinned from the HeartbeatData example of remoting-protocol §6.2.
        let sub = subscription_data("T1", &Expression::Tag("TagA || TagB".into()));
        assert_eq!(sub.code_set, vec![2598919, 2598920]);
        assert_eq!(sub.tags_set, vec!["TagA", "TagB"]);
        assert_eq!(sub.sub_string, "TagA || TagB");
        assert_eq!(sub.expression_type, "TAG");
        assert!(sub.sub_version > 0);
        let all = subscription_data("T1", &Expression::Tag(String::new()));
        assert_eq!(all.sub_string, "*");
        assert!(all.code_set.is_empty());
        let sql = subscription_data("T1", &Expression::Sql92("a > 1".into()));
        assert_eq!(sql.expression_type, "SQL92");
        assert_eq!(sql.sub_string, "a > 1");
        assert!(sql.tags_set.is_empty());
    }

    #[test]
    fn exact_tag_recheck() {
        use protocol::message::Properties;
        let mut msg = MessageExt {
            topic: "T".into(),
            body: bytes::Bytes::new(),
            flag: 0,
            properties: Properties::new(),
            broker_name: "b".into(),
            queue_id: 0,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_timestamp: 0,
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            msg_id: String::new(),
            offset_msg_id: String::new(),
            store_size: 0,
        };
        let sub = subscription_data("T", &Expression::Tag("A || B".into()));
        assert!(!tag_matches(&sub, &msg), "untagged message vs tag list");
        msg.properties.insert("TAGS", "B");
        assert!(tag_matches(&sub, &msg));
        msg.properties.insert("TAGS", "C");
        assert!(!tag_matches(&sub, &msg));
        let all = subscription_data("T", &Expression::Tag("*".into()));
        assert!(tag_matches(&all, &msg));
    }
}
