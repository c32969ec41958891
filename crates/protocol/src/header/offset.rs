//! Offset commands (remoting-protocol §4.3) and the reset-offset header
//! shared by RESET_CONSUMER_CLIENT_OFFSET (220) and
//! INVOKE_BROKER_TO_RESET_OFFSET (222).

crate::command_header! {
    /// QUERY_CONSUMER_OFFSET (14) request.
    pub struct QueryConsumerOffsetRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// Explicit false means "answer QUERY_NOT_FOUND, never 0".
        pub set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
    }
}

crate::command_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request (usually oneway).
    pub struct UpdateConsumerOffsetRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub commit_offset: i64 = "commitOffset",
    }
}

crate::command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request.
    pub struct SearchOffsetRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub timestamp: i64 = "timestamp",
        /// `LOWER` (default) or `UPPER`, case-insensitive.
        pub boundary_type: Option<String> = "boundaryType",
    }
}

crate::command_header! {
    /// GET_MAX_OFFSET (30) request.
    pub struct GetMaxOffsetRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// Absent means true.
        pub committed: Option<bool> = "committed",
    }
}

crate::command_header! {
    /// GET_MIN_OFFSET (31) request.
    pub struct GetMinOffsetRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
    }
}

crate::command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
    }
}

crate::command_header! {
    /// The `offset` answer of QUERY_CONSUMER_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP,
    /// GET_MAX_OFFSET and GET_MIN_OFFSET.
    pub struct OffsetResponseHeader {
        pub offset: i64 = "offset",
    }
}

crate::command_header! {
    /// The GET_EARLIEST_MSG_STORETIME answer.
    pub struct TimestampResponseHeader {
        pub timestamp: i64 = "timestamp",
    }
}

crate::command_header! {
    /// RESET_CONSUMER_CLIENT_OFFSET (220, broker → client) and
    /// INVOKE_BROKER_TO_RESET_OFFSET (222, admin → broker) request.
    pub struct ResetOffsetRequestHeader {
        pub topic: String = "topic",
        pub group: String = "group",
        /// -1 or absent: every queue.
        pub queue_id: Option<i32> = "queueId",
        /// An explicit offset instead of a timestamp (5.x).
        pub offset: Option<i64> = "offset",
        /// -1 means the max offset.
        pub timestamp: i64 = "timestamp",
        pub is_force: bool = "isForce",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn query_and_update() {
        let q = QueryConsumerOffsetRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 2,
            set_zero_if_not_found: Some(false),
        };
        assert_golden(
            &q,
            &[
                ("consumerGroup", "G"),
                ("topic", "T"),
                ("queueId", "2"),
                ("setZeroIfNotFound", "false"),
            ],
        );
        let q = QueryConsumerOffsetRequestHeader::read_fields(&fields(&[
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", " 2 "),
            ("setZeroIfNotFound", ""),
            ("ns", "x"),
        ]))
        .unwrap();
        assert_eq!((q.queue_id, q.set_zero_if_not_found), (2, None));
        let u = UpdateConsumerOffsetRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 0,
            commit_offset: 99,
        };
        assert_golden(
            &u,
            &[
                ("consumerGroup", "G"),
                ("topic", "T"),
                ("queueId", "0"),
                ("commitOffset", "99"),
            ],
        );
        assert_eq!(
            UpdateConsumerOffsetRequestHeader::read_fields(&fields(&[
                ("consumerGroup", "G"),
                ("topic", "T"),
                ("queueId", "0"),
                ("commitOffset", ""),
            ]))
            .unwrap_err(),
            ProtocolError::MissingField("commitOffset")
        );
    }

    #[test]
    fn search_max_min_earliest() {
        let s = SearchOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 1,
            timestamp: 1_700_000_000_000,
            boundary_type: Some("LOWER".into()),
        };
        assert_golden(
            &s,
            &[
                ("topic", "T"),
                ("queueId", "1"),
                ("timestamp", "1700000000000"),
                ("boundaryType", "LOWER"),
            ],
        );
        let m = GetMaxOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 1,
            committed: None,
        };
        assert_golden(&m, &[("topic", "T"), ("queueId", "1")]);
        let m = GetMaxOffsetRequestHeader::read_fields(&fields(&[
            ("topic", "T"),
            ("queueId", "1"),
            ("committed", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(m.committed, Some(true));
        assert_golden(
            &GetMinOffsetRequestHeader {
                topic: "T".into(),
                queue_id: 3,
            },
            &[("topic", "T"), ("queueId", "3")],
        );
        assert_golden(
            &GetEarliestMsgStoretimeRequestHeader {
                topic: "T".into(),
                queue_id: 3,
            },
            &[("topic", "T"), ("queueId", "3")],
        );
        assert!(matches!(
            GetMinOffsetRequestHeader::read_fields(&fields(&[("topic", "T"), ("queueId", "q")])),
            Err(ProtocolError::BadField {
                field: "queueId",
                ..
            })
        ));
    }

    #[test]
    fn responses() {
        assert_golden(&OffsetResponseHeader { offset: -1 }, &[("offset", "-1")]);
        assert_golden(
            &TimestampResponseHeader { timestamp: 5 },
            &[("timestamp", "5")],
        );
        assert_eq!(
            OffsetResponseHeader::read_fields(&fields(&[])).unwrap_err(),
            ProtocolError::MissingField("offset")
        );
    }

    #[test]
    fn reset_offset() {
        let h = ResetOffsetRequestHeader {
            topic: "T".into(),
            group: "G".into(),
            queue_id: None,
            offset: None,
            timestamp: 1_700_000_000_000,
            is_force: true,
        };
        assert_golden(
            &h,
            &[
                ("topic", "T"),
                ("group", "G"),
                ("timestamp", "1700000000000"),
                ("isForce", "true"),
            ],
        );
        let h = ResetOffsetRequestHeader::read_fields(&fields(&[
            ("topic", "T"),
            ("group", "G"),
            ("timestamp", "-1"),
            ("isForce", "false"),
            ("queueId", "-1"),
            ("offset", ""),
        ]))
        .unwrap();
        assert_eq!(
            (h.queue_id, h.offset, h.timestamp, h.is_force),
            (Some(-1), None, -1, false)
        );
    }
}
