//! PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) headers (remoting-protocol §4.2).

crate::command_header! {
    /// PULL_MESSAGE request.
    pub struct PullMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub queue_offset: i64 = "queueOffset",
        pub max_msg_nums: i32 = "maxMsgNums",
        /// Bits: 0 commitOffset, 1 suspend, 2 subscription, 3 classFilter, 4 litePull.
        pub sys_flag: i32 = "sysFlag",
        pub commit_offset: i64 = "commitOffset",
        /// Long-poll hold time in ms.
        pub suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        pub subscription: Option<String> = "subscription",
        pub sub_version: i64 = "subVersion",
        /// `TAG` (also absent or empty) or `SQL92`.
        pub expression_type: Option<String> = "expressionType",
        pub max_msg_bytes: Option<i32> = "maxMsgBytes",
        pub request_source: Option<i32> = "requestSource",
        /// Proxy only; the misspelling is the wire name.
        pub proxy_forward_client_id: Option<String> = "proxyFrowardClientId",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// PULL_MESSAGE response. The remark carries the store status name.
    pub struct PullMessageResponseHeader {
        /// Broker id (0 master) to pull from next.
        pub suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        pub next_begin_offset: i64 = "nextBeginOffset",
        pub min_offset: i64 = "minOffset",
        pub max_offset: i64 = "maxOffset",
        pub offset_delta: Option<i64> = "offsetDelta",
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        pub group_sys_flag: Option<i32> = "groupSysFlag",
        pub forbidden_type: Option<i32> = "forbiddenType",
    }
}

/// PULL_MESSAGE `sysFlag` bits.
pub mod pull_sys_flag {
    /// The request carries `commitOffset` to persist.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// The broker may hold the request (long polling).
    pub const SUSPEND: i32 = 0x2;
    /// The request carries `subscription`.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Obsolete class filter.
    pub const CLASS_FILTER: i32 = 0x8;
    /// Lite pull consumer.
    pub const LITE_PULL: i32 = 0x10;
}

impl PullMessageRequestHeader {
    /// Whether `bit` (a [`pull_sys_flag`] constant) is set.
    pub fn has_flag(&self, bit: i32) -> bool {
        self.sys_flag & bit != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn request_golden() {
        let h = PullMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 0,
            queue_offset: 10,
            max_msg_nums: 32,
            sys_flag: 0b110,
            commit_offset: 0,
            suspend_timeout_millis: 15000,
            subscription: Some("TagA || TagB".into()),
            sub_version: 1_700_000_000_000,
            expression_type: Some("TAG".into()),
            ..Default::default()
        };
        assert_golden(
            &h,
            &[
                ("consumerGroup", "G"),
                ("topic", "T"),
                ("queueId", "0"),
                ("queueOffset", "10"),
                ("maxMsgNums", "32"),
                ("sysFlag", "6"),
                ("commitOffset", "0"),
                ("suspendTimeoutMillis", "15000"),
                ("subscription", "TagA || TagB"),
                ("subVersion", "1700000000000"),
                ("expressionType", "TAG"),
            ],
        );
        assert!(h.has_flag(pull_sys_flag::SUSPEND) && h.has_flag(pull_sys_flag::SUBSCRIPTION));
        assert!(!h.has_flag(pull_sys_flag::COMMIT_OFFSET));
    }

    #[test]
    fn request_from_json_header_with_numbers_and_extras() {
        // ali-ons / C++ send numbers as JSON numbers and empty strings for
        // unset optionals; the JSON header decoder turns them into strings.
        let json = br#"{"code":11,"language":"CPP","version":0,"opaque":5,"flag":0,"extFields":{"consumerGroup":"G","topic":"T","queueId":3,"queueOffset":0,"maxMsgNums":32,"sysFlag":2,"commitOffset":0,"suspendTimeoutMillis":20000,"subscription":"*","subVersion":0,"expressionType":"","maxMsgBytes":"","OnsChannel":"ALIYUN","bname":"broker-a","lo":"true"}}"#;
        let cmd = crate::header_json::decode(json).unwrap();
        let h: PullMessageRequestHeader = cmd.decode_header().unwrap();
        assert_eq!((h.queue_id, h.suspend_timeout_millis), (3, 20000));
        assert_eq!(h.expression_type.as_deref(), Some(""));
        assert_eq!(h.max_msg_bytes, None);
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
        let err = PullMessageRequestHeader::read_fields(&fields(&[
            ("consumerGroup", "G"),
            ("topic", "T"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("queueId"));
    }

    #[test]
    fn response_golden() {
        let h = PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset: 42,
            min_offset: 0,
            max_offset: 42,
            ..Default::default()
        };
        assert_golden(
            &h,
            &[
                ("suggestWhichBrokerId", "0"),
                ("nextBeginOffset", "42"),
                ("minOffset", "0"),
                ("maxOffset", "42"),
            ],
        );
        let h = PullMessageResponseHeader::read_fields(&fields(&[
            ("suggestWhichBrokerId", "1"),
            ("nextBeginOffset", "2"),
            ("minOffset", "0"),
            ("maxOffset", "3"),
            ("offsetDelta", ""),
            ("topicSysFlag", "0"),
            ("forbiddenType", "1"),
            ("x", "y"),
        ]))
        .unwrap();
        assert_eq!(
            (h.offset_delta, h.topic_sys_flag, h.forbidden_type),
            (None, Some(0), Some(1))
        );
    }
}
