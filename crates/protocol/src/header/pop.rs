//! 5.x POP family headers: POP_MESSAGE (200050), ACK_MESSAGE (200051),
//! PEEK_MESSAGE (200052), CHANGE_MESSAGE_INVISIBLETIME (200053),
//! NOTIFICATION (200054), POLLING_INFO (200055). These codes do not fit
//! the ROCKETMQ binary header's 16-bit code, so they only travel in JSON.

crate::command_header! {
    /// POP_MESSAGE request.
    pub struct PopMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        /// -1: any queue of the topic on this broker.
        pub queue_id: i32 = "queueId",
        pub max_msg_nums: i32 = "maxMsgNums",
        /// ms.
        pub invisible_time: i64 = "invisibleTime",
        /// Long-poll time, ms (0: answer at once).
        pub poll_time: i64 = "pollTime",
        pub born_time: i64 = "bornTime",
        /// 0 MIN, 1 MAX (where a new group starts).
        pub init_mode: i32 = "initMode",
        /// `TAG` or `SQL92`.
        pub exp_type: Option<String> = "expType",
        pub exp: Option<String> = "exp",
        pub order: Option<bool> = "order",
        pub attempt_id: Option<String> = "attemptId",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// POP_MESSAGE response (also PEEK_MESSAGE's, with restNum only).
    pub struct PopMessageResponseHeader {
        pub pop_time: i64 = "popTime",
        pub invisible_time: i64 = "invisibleTime",
        pub revive_qid: i32 = "reviveQid",
        pub rest_num: i64 = "restNum",
        /// `retry queueId startOffset` per queue, `;`-separated.
        pub start_offset_info: Option<String> = "startOffsetInfo",
        /// `retry queueId o1,o2,…` per queue, `;`-separated.
        pub msg_offset_info: Option<String> = "msgOffsetInfo",
        /// `retry queueId count` per queue (orderly pops).
        pub order_count_info: Option<String> = "orderCountInfo",
    }
}

crate::command_header! {
    /// ACK_MESSAGE request.
    pub struct AckMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        /// The retry topic for a message popped from it (as Java sends).
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// The receipt handle (`POP_CK`).
        pub extra_info: String = "extraInfo",
        pub offset: i64 = "offset",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME request.
    pub struct ChangeInvisibleTimeRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub extra_info: String = "extraInfo",
        pub offset: i64 = "offset",
        /// ms, counted from now.
        pub invisible_time: i64 = "invisibleTime",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME response: the new handle's fields.
    pub struct ChangeInvisibleTimeResponseHeader {
        pub pop_time: i64 = "popTime",
        pub invisible_time: i64 = "invisibleTime",
        pub revive_qid: i32 = "reviveQid",
    }
}

crate::command_header! {
    /// PEEK_MESSAGE request.
    pub struct PeekMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub max_msg_nums: i32 = "maxMsgNums",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// NOTIFICATION request: is there anything to pop?
    pub struct NotificationRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub poll_time: i64 = "pollTime",
        pub born_time: i64 = "bornTime",
        pub order: Option<bool> = "order",
        pub attempt_id: Option<String> = "attemptId",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// NOTIFICATION response.
    pub struct NotificationResponseHeader {
        pub has_msg: bool = "hasMsg",
        pub polling_full: Option<bool> = "pollingFull",
    }
}

crate::command_header! {
    /// POLLING_INFO request.
    pub struct PollingInfoRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        pub broker_name: Option<String> = "bname",
    }
}

crate::command_header! {
    /// POLLING_INFO response: pops parked on the topic by the group.
    pub struct PollingInfoResponseHeader {
        pub polling_num: i32 = "pollingNum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn pop_request_golden() {
        let h = PopMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: -1,
            max_msg_nums: 32,
            invisible_time: 60_000,
            poll_time: 15_000,
            born_time: 1_700_000_000_000,
            init_mode: 1,
            exp_type: Some("TAG".into()),
            exp: Some("a || b".into()),
            order: Some(false),
            ..Default::default()
        };
        assert_golden(
            &h,
            &[
                ("consumerGroup", "G"),
                ("topic", "T"),
                ("queueId", "-1"),
                ("maxMsgNums", "32"),
                ("invisibleTime", "60000"),
                ("pollTime", "15000"),
                ("bornTime", "1700000000000"),
                ("initMode", "1"),
                ("expType", "TAG"),
                ("exp", "a || b"),
                ("order", "false"),
            ],
        );
    }

    #[test]
    fn pop_response_golden() {
        let h = PopMessageResponseHeader {
            pop_time: 5,
            invisible_time: 60_000,
            revive_qid: 0,
            rest_num: 3,
            start_offset_info: Some("0 1 7".into()),
            msg_offset_info: Some("0 1 7,8".into()),
            order_count_info: None,
        };
        assert_golden(
            &h,
            &[
                ("popTime", "5"),
                ("invisibleTime", "60000"),
                ("reviveQid", "0"),
                ("restNum", "3"),
                ("startOffsetInfo", "0 1 7"),
                ("msgOffsetInfo", "0 1 7,8"),
            ],
        );
    }

    #[test]
    fn ack_and_change_requests_need_their_handle() {
        let ok = fields(&[
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", "1"),
            ("extraInfo", "0 1 2 0 0 b 1 0"),
            ("offset", "0"),
            ("invisibleTime", "1000"),
        ]);
        let a = AckMessageRequestHeader::read_fields(&ok).unwrap();
        assert_eq!(a.extra_info, "0 1 2 0 0 b 1 0");
        let c = ChangeInvisibleTimeRequestHeader::read_fields(&ok).unwrap();
        assert_eq!(c.invisible_time, 1000);
        let mut missing = ok.clone();
        missing.remove("extraInfo");
        let err = AckMessageRequestHeader::read_fields(&missing).unwrap_err();
        assert!(err.to_string().contains("extraInfo"), "{err}");
    }

    #[test]
    fn notification_and_polling_info_golden() {
        assert_golden(
            &NotificationResponseHeader {
                has_msg: true,
                polling_full: Some(false),
            },
            &[("hasMsg", "true"), ("pollingFull", "false")],
        );
        assert_golden(
            &PollingInfoResponseHeader { polling_num: 2 },
            &[("pollingNum", "2")],
        );
    }
}
