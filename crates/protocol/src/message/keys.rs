//! Message property keys (the names inside the properties string). The
//! constant names follow the wire strings; the doc lines say who sets them.

/// Business keys, several separated by [`KEY_SEPARATOR`]; indexed.
pub const KEYS: &str = "KEYS";
/// Separator between entries of [`KEYS`].
pub const KEY_SEPARATOR: &str = " ";
/// The single tag used by tag filtering.
pub const TAGS: &str = "TAGS";
/// `"true"`/`"false"`: answer only after flush/replication.
pub const WAIT: &str = "WAIT";
/// Delay level 1..=18.
pub const DELAY: &str = "DELAY";
/// Original topic of a message living in a `%RETRY%` topic.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Real destination topic of half / scheduled / timer messages.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Real destination queue id of half / scheduled / timer messages.
pub const REAL_QID: &str = "REAL_QID";
/// `"true"` on transactional (half) messages.
pub const TRAN_MSG: &str = "TRAN_MSG";
/// Producer group (transactions, checks).
pub const PGROUP: &str = "PGROUP";
/// Set client-side on pulled messages.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Set client-side on pulled messages.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Legacy.
pub const BUYER_ID: &str = "BUYER_ID";
/// First msgId of a retried message.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Used when a consumer re-sends to `%RETRY%` itself.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Used when a consumer re-sends to `%RETRY%` itself.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Region, added by the broker and echoed in the send response.
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch, added by the broker and echoed in the send response.
pub const TRACE_ON: &str = "TRACE_ON";
/// The client message id (the msgId users see).
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// Dedup extension.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// Dedup extension.
pub const DUP_INFO: &str = "DUP_INFO";
/// Client-side consume start time.
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
/// 5.x inner batch: number of messages.
pub const INNER_NUM: &str = "INNER_NUM";
/// 5.x inner batch: base offset.
pub const INNER_BASE: &str = "INNER_BASE";
/// Half message's queue offset (transaction internals).
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Broker copy of UNIQ_KEY on half messages.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// Check counter on half messages.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// First-check delay of a transactional message.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Request/reply.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request/reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request/reply: client id to push the reply to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request/reply time to live.
pub const TTL: &str = "TTL";
/// Request/reply arrival time.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request/reply push time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Broker cluster name, added by the broker on store.
pub const CLUSTER: &str = "CLUSTER";
/// `reply` for reply messages.
pub const MSG_TYPE: &str = "MSG_TYPE";
/// The [`MSG_TYPE`] value of reply messages.
pub const REPLY_MESSAGE_FLAG: &str = "reply";
/// 5.x pop checkpoint.
pub const POP_CK: &str = "POP_CK";
/// 5.x pop checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// 5.x first pop time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// 5.x FIFO sharding key.
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// The sharding key as ali-ons spells it.
pub const ONS_SHARDING_KEY: &str = "__SHARDING_KEY";
/// 5.x arbitrary delay: absolute delivery time in ms.
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// 5.x arbitrary delay: relative seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// 5.x arbitrary delay: relative ms.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// Timer internals.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// Timer internals.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// Timer internals.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// Timer internals.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// Timer internals.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// Timer internals.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Born host copy.
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp copy.
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// Trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// Redirect marker.
pub const REDIRECT: &str = "REDIRECT";
/// Forward queue id.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// LMQ multi-dispatch: comma-separated `%LMQ%` queues.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// LMQ multi-dispatch: comma-separated queue offsets.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// Separator inside the multi-dispatch properties.
pub const MULTI_DISPATCH_SEPARATOR: &str = ",";
/// Prefix of light message queues.
pub const LMQ_PREFIX: &str = "%LMQ%";
/// 5.x DLQ bookkeeping: original topic.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// 5.x DLQ bookkeeping: original message id.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// Optional stored CRC (`enabledAppendPropCRC`).
pub const CRC32: &str = "__CRC32#";
/// Aliyun ONS delay (absolute ms); ignored by Apache brokers.
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
/// Properties with this prefix are never stored.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// Transient topic sysflag.
pub const TRANSIENT_TOPIC_SYS_FLAG: &str = "__RMQ.TRANSIENT.TOPIC_SYS_FLAG";
/// Transient group sysflag.
pub const TRANSIENT_GROUP_SYS_FLAG: &str = "__RMQ.TRANSIENT.GROUP_SYS_FLAG";

/// Whether a property must be stripped before storing.
pub fn is_transient(name: &str) -> bool {
    name.starts_with(TRANSIENT_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_are_pinned() {
        assert_eq!(UNIQ_KEY, "UNIQ_KEY");
        assert_eq!(TRANSACTION_ID, "__transactionId__");
        assert_eq!(FIRST_POP_TIME, "1ST_POP_TIME");
        assert_eq!(CRC32, "__CRC32#");
        assert_eq!(WAIT, "WAIT");
        assert_eq!(REAL_QID, "REAL_QID");
        assert!(is_transient(TRANSIENT_TOPIC_SYS_FLAG));
        assert!(!is_transient(TAGS));
    }
}
