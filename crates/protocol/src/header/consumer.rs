//! Client-session headers: CONSUMER_SEND_MSG_BACK (36), UNREGISTER_CLIENT
//! (35), GET_CONSUMER_LIST_BY_GROUP (38), GET_CONSUMER_CONNECTION_LIST (203)
//! and the broker → client calls NOTIFY_CONSUMER_IDS_CHANGED (40) and
//! GET_CONSUMER_RUNNING_INFO (307). HEART_BEAT, LOCK_BATCH_MQ and
//! UNLOCK_BATCH_MQ have no header fields.

crate::command_header! {
    /// CONSUMER_SEND_MSG_BACK request: a failed message goes to retry or DLQ.
    pub struct ConsumerSendMsgBackRequestHeader {
        /// Commit-log (physical) offset of the failed message.
        pub offset: i64 = "offset",
        pub group: String = "group",
        /// 0: broker picks 3 + reconsumeTimes; negative: straight to DLQ.
        pub delay_level: i32 = "delayLevel",
        pub origin_msg_id: Option<String> = "originMsgId",
        pub origin_topic: Option<String> = "originTopic",
        pub unit_mode: Option<bool> = "unitMode",
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
    }
}

crate::command_header! {
    /// UNREGISTER_CLIENT request.
    pub struct UnregisterClientRequestHeader {
        pub client_id: String = "clientID",
        pub producer_group: Option<String> = "producerGroup",
        pub consumer_group: Option<String> = "consumerGroup",
    }
}

crate::command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP request.
    pub struct GetConsumerListByGroupRequestHeader {
        pub consumer_group: String = "consumerGroup",
    }
}

crate::command_header! {
    /// GET_CONSUMER_CONNECTION_LIST request.
    pub struct GetConsumerConnectionListRequestHeader {
        pub consumer_group: String = "consumerGroup",
    }
}

crate::command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (broker → client, oneway).
    pub struct NotifyConsumerIdsChangedRequestHeader {
        pub consumer_group: String = "consumerGroup",
    }
}

crate::command_header! {
    /// GET_CONSUMER_RUNNING_INFO (admin → broker, relayed broker → client).
    pub struct GetConsumerRunningInfoRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub client_id: String = "clientId",
        pub jstack_enable: Option<bool> = "jstackEnable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn send_back() {
        let h = ConsumerSendMsgBackRequestHeader {
            offset: 1234,
            group: "G".into(),
            delay_level: 0,
            origin_msg_id: Some("ID".into()),
            origin_topic: Some("T".into()),
            unit_mode: Some(false),
            max_reconsume_times: Some(16),
        };
        assert_golden(
            &h,
            &[
                ("offset", "1234"),
                ("group", "G"),
                ("delayLevel", "0"),
                ("originMsgId", "ID"),
                ("originTopic", "T"),
                ("unitMode", "false"),
                ("maxReconsumeTimes", "16"),
            ],
        );
        let go = ConsumerSendMsgBackRequestHeader::read_fields(&fields(&[
            ("offset", "1"),
            ("group", "G"),
            ("delayLevel", "-1"),
            ("maxReconsumeTimes", ""),
            ("bname", "b"),
        ]))
        .unwrap();
        assert_eq!(
            (go.delay_level, go.max_reconsume_times, go.unit_mode),
            (-1, None, None)
        );
        assert_eq!(
            ConsumerSendMsgBackRequestHeader::read_fields(&fields(&[
                ("group", "G"),
                ("delayLevel", "0")
            ]))
            .unwrap_err(),
            ProtocolError::MissingField("offset")
        );
    }

    #[test]
    fn session_headers() {
        assert_golden(
            &UnregisterClientRequestHeader {
                client_id: "c@1".into(),
                producer_group: None,
                consumer_group: Some("G".into()),
            },
            &[("clientID", "c@1"), ("consumerGroup", "G")],
        );
        // The key is `clientID`; `clientId` does not count.
        assert_eq!(
            UnregisterClientRequestHeader::read_fields(&fields(&[("clientId", "c")])).unwrap_err(),
            ProtocolError::MissingField("clientID")
        );
        assert_golden(
            &GetConsumerListByGroupRequestHeader {
                consumer_group: "G".into(),
            },
            &[("consumerGroup", "G")],
        );
        assert_golden(
            &GetConsumerConnectionListRequestHeader {
                consumer_group: "G".into(),
            },
            &[("consumerGroup", "G")],
        );
        assert_golden(
            &NotifyConsumerIdsChangedRequestHeader {
                consumer_group: "G".into(),
            },
            &[("consumerGroup", "G")],
        );
        assert_golden(
            &GetConsumerRunningInfoRequestHeader {
                consumer_group: "G".into(),
                client_id: "c@1".into(),
                jstack_enable: Some(false),
            },
            &[
                ("consumerGroup", "G"),
                ("clientId", "c@1"),
                ("jstackEnable", "false"),
            ],
        );
        let h = GetConsumerListByGroupRequestHeader::read_fields(&fields(&[
            ("consumerGroup", "G"),
            ("AccessKey", "k"),
        ]))
        .unwrap();
        assert_eq!(h.consumer_group, "G");
    }
}
