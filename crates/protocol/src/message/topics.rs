//! System topic and group names, and the default delay levels.

/// The auto-create template topic (perm 7).
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Delay-level staging topic; queue id = level - 1.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Half (prepared) transactional messages, queue 0.
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Commit/rollback markers of half messages.
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Tag of the op-half markers ("delete").
pub const TRANS_OP_REMOVE_TAG: &str = "d";
/// Half messages that exceeded the check count (5.x).
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Prefix of a consumer group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a consumer group's dead-letter topic.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Prefix of the 5.x pop revive topics (`rmq_sys_REVIVE_LOG_{cluster}`).
pub const REVIVE_LOG_TOPIC_PREFIX: &str = "rmq_sys_REVIVE_LOG_";
/// 5.x timer staging topic.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// Prefix of the 5.x acting-master topics.
pub const SYNC_BROKER_MEMBER_TOPIC_PREFIX: &str = "rmq_sys_SYNC_BROKER_MEMBER_";
/// Message trace topic.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// Suffix of the per-cluster reply topic (`{cluster}_REPLY_TOPIC`).
pub const REPLY_TOPIC_SUFFIX: &str = "_REPLY_TOPIC";
/// Broker-created system topic.
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
/// Broker-created system topic.
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
/// Broker-created system topic.
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
/// Broker-created system topic.
pub const CHECKPOINT_TOPIC: &str = "CHECKPOINT_TOPIC";

/// Transaction check producer group.
pub const TRANS_CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// Schedule service consumer group.
pub const SCHEDULE_CONSUMER_GROUP: &str = "SCHEDULE_CONSUMER";
/// mqadmin tools consumer group.
pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";
/// Client inner producer group.
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// Default producer group.
pub const DEFAULT_PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";
/// Default consumer group.
pub const DEFAULT_CONSUMER_GROUP: &str = "DEFAULT_CONSUMER";
/// Prefix of system consumer groups.
pub const SYS_GROUP_PREFIX: &str = "CID_RMQ_SYS_";

/// Default `messageDelayLevel`: levels 1..=18.
pub const DEFAULT_DELAY_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// Longest topic name a client may create (v1 record magic).
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest retry/DLQ topic name (v2 record magic).
pub const MAX_SYS_TOPIC_LEN: usize = 255;
/// Longest consumer/producer group name.
pub const MAX_GROUP_LEN: usize = 120;

/// `%RETRY%{group}`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%{group}`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// Whether `topic` is a retry topic.
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

/// Whether `topic` is a dead-letter topic.
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
}

/// Topics clients may not send to (answered with NO_PERMISSION).
pub fn is_send_forbidden_topic(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | SELF_TEST_TOPIC
            | OFFSET_MOVED_EVENT
    )
}

/// Topic name characters accepted by Java (`^[%|a-zA-Z0-9_-]+$`); the
/// length limit is checked separately because it depends on the topic kind.
pub fn is_valid_topic_chars(topic: &str) -> bool {
    !topic.is_empty()
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(retry_topic("g1"), "%RETRY%g1");
        assert_eq!(dlq_topic("g1"), "%DLQ%g1");
        assert!(is_retry_topic("%RETRY%g1"));
        assert!(!is_retry_topic("%DLQ%g1"));
        assert!(is_dlq_topic("%DLQ%g1"));
        assert!(is_send_forbidden_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(!is_send_forbidden_topic("TopicTest"));
        assert_eq!(DEFAULT_DELAY_LEVELS.split(' ').count(), 18);
    }

    #[test]
    fn topic_chars() {
        assert!(is_valid_topic_chars("%RETRY%g-1_x|y"));
        assert!(!is_valid_topic_chars(""));
        assert!(!is_valid_topic_chars("a b"));
        assert!(!is_valid_topic_chars("a.b"));
    }
}
