//! Broker admin headers used by mqadmin, dashboards and clients that create
//! topics (remoting-protocol §3.4, §4.12).

crate::command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request. Java marks most fields
    /// required, but Go and ali-ons leave some out; those are optional here
    /// and the broker applies Java's defaults.
    pub struct CreateTopicRequestHeader {
        pub topic: String = "topic",
        pub default_topic: Option<String> = "defaultTopic",
        pub read_queue_nums: i32 = "readQueueNums",
        pub write_queue_nums: i32 = "writeQueueNums",
        pub perm: i32 = "perm",
        /// `SINGLE_TAG` (default) or `MULTI_TAG`.
        pub topic_filter_type: Option<String> = "topicFilterType",
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        pub order: Option<bool> = "order",
        /// `+key=value,…` (5.x).
        pub attributes: Option<String> = "attributes",
        pub force: Option<bool> = "force",
    }
}

crate::command_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request.
    pub struct DeleteTopicRequestHeader {
        pub topic: String = "topic",
    }
}

crate::command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) request; 5.x pages with these, older
    /// callers send none.
    pub struct GetAllTopicConfigRequestHeader {
        pub topic_seq: Option<i32> = "topicSeq",
        pub data_version: Option<String> = "dataVersion",
        pub max_topic_num: Option<i32> = "maxTopicNum",
    }
}

crate::command_header! {
    /// GET_TOPIC_CONFIG (351) request.
    pub struct GetTopicConfigRequestHeader {
        pub topic: String = "topic",
        /// 5.x static-topic flag ("logical queue").
        pub lo: Option<bool> = "lo",
    }
}

crate::command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request.
    pub struct DeleteSubscriptionGroupRequestHeader {
        pub group_name: String = "groupName",
        pub clean_offset: Option<bool> = "cleanOffset",
    }
}

crate::command_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352) request.
    pub struct GetSubscriptionGroupConfigRequestHeader {
        pub group: String = "group",
    }
}

crate::command_header! {
    /// GET_CONSUME_STATS (208) request.
    pub struct GetConsumeStatsRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: Option<String> = "topic",
        /// `;`-separated topics (5.x).
        pub topic_list: Option<String> = "topicList",
    }
}

crate::command_header! {
    /// GET_TOPIC_STATS_INFO (202) request.
    pub struct GetTopicStatsInfoRequestHeader {
        pub topic: String = "topic",
    }
}

impl GetConsumeStatsRequestHeader {
    /// The topics asked for: `topicList` split on `;` (empty parts dropped),
    /// else `topic`, else none (meaning every topic of the group).
    pub fn topics(&self) -> Vec<&str> {
        if let Some(list) = self.topic_list.as_deref().filter(|l| !l.trim().is_empty()) {
            return list
                .split(';')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
        }
        self.topic
            .as_deref()
            .filter(|t| !t.is_empty())
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::ext::CommandHeader;
    use crate::header::test_util::{assert_golden, fields};

    #[test]
    fn create_topic() {
        let h = CreateTopicRequestHeader {
            topic: "T".into(),
            default_topic: Some("TBW102".into()),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            topic_filter_type: Some("SINGLE_TAG".into()),
            topic_sys_flag: Some(0),
            order: Some(false),
            attributes: None,
            force: None,
        };
        assert_golden(
            &h,
            &[
                ("topic", "T"),
                ("defaultTopic", "TBW102"),
                ("readQueueNums", "8"),
                ("writeQueueNums", "8"),
                ("perm", "6"),
                ("topicFilterType", "SINGLE_TAG"),
                ("topicSysFlag", "0"),
                ("order", "false"),
            ],
        );
        // Go's createTopic: numbers from a JSON header, no filter type/order.
        let go = CreateTopicRequestHeader::read_fields(&fields(&[
            ("topic", "T"),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "4"),
            ("writeQueueNums", "4"),
            ("perm", "6"),
            ("topicSysFlag", ""),
            ("attributes", "+a=b"),
            ("unknown", "1"),
        ]))
        .unwrap();
        assert_eq!(
            (go.topic_filter_type, go.order, go.topic_sys_flag),
            (None, None, None)
        );
        assert_eq!(go.attributes.as_deref(), Some("+a=b"));
        assert_eq!(
            CreateTopicRequestHeader::read_fields(&fields(&[
                ("topic", "T"),
                ("readQueueNums", "4")
            ]))
            .unwrap_err(),
            ProtocolError::MissingField("writeQueueNums")
        );
    }

    #[test]
    fn topic_and_group_admin() {
        assert_golden(
            &DeleteTopicRequestHeader { topic: "T".into() },
            &[("topic", "T")],
        );
        assert_golden(&GetAllTopicConfigRequestHeader::default(), &[]);
        assert_golden(
            &GetAllTopicConfigRequestHeader {
                topic_seq: Some(0),
                data_version: Some("{\"counter\":1}".into()),
                max_topic_num: Some(1000),
            },
            &[
                ("topicSeq", "0"),
                ("dataVersion", "{\"counter\":1}"),
                ("maxTopicNum", "1000"),
            ],
        );
        assert_golden(
            &GetTopicConfigRequestHeader {
                topic: "T".into(),
                lo: None,
            },
            &[("topic", "T")],
        );
        assert_golden(
            &DeleteSubscriptionGroupRequestHeader {
                group_name: "G".into(),
                clean_offset: Some(true),
            },
            &[("groupName", "G"), ("cleanOffset", "true")],
        );
        assert_golden(
            &GetSubscriptionGroupConfigRequestHeader { group: "G".into() },
            &[("group", "G")],
        );
        assert_golden(
            &GetTopicStatsInfoRequestHeader { topic: "T".into() },
            &[("topic", "T")],
        );
        assert_eq!(
            GetSubscriptionGroupConfigRequestHeader::read_fields(&fields(&[("groupName", "G")]))
                .unwrap_err(),
            ProtocolError::MissingField("group")
        );
    }

    #[test]
    fn consume_stats_topics() {
        let h = GetConsumeStatsRequestHeader {
            consumer_group: "G".into(),
            topic: Some("T".into()),
            topic_list: None,
        };
        assert_golden(&h, &[("consumerGroup", "G"), ("topic", "T")]);
        assert_eq!(h.topics(), ["T"]);
        let h = GetConsumeStatsRequestHeader::read_fields(&fields(&[
            ("consumerGroup", "G"),
            ("topic", ""),
            ("topicList", "A; B;;"),
        ]))
        .unwrap();
        assert_eq!(h.topics(), ["A", "B"]);
        let h = GetConsumeStatsRequestHeader {
            consumer_group: "G".into(),
            topic: Some(String::new()),
            topic_list: None,
        };
        assert!(h.topics().is_empty());
    }
}
